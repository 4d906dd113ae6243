//! Background work: every long task runs here, reports progress, can be cancelled,
//! and hands its result back over a channel. The UI polls jobs once per frame. Every job ends:
//! with its result, cancelled (its result says so), or failed, a worker panic included.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Called by a worker when it has news (a result, progress); the UI passes `request_repaint`.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Shared progress and cancellation flag of one job.
#[derive(Default)]
pub struct Progress {
    done: AtomicUsize,
    total: AtomicUsize,
    cancelled: AtomicBool,
    stage: Mutex<Stage>,
}

/// What a job is doing now, since when, and since when its step count started from zero.
#[derive(Default)]
struct Stage {
    name: String,
    named_since: Option<Instant>,
    counting_since: Option<Instant>,
    /// The stages named before this one, with their seconds.
    earlier: Vec<(String, f64)>,
}

impl Progress {
    /// Sets the number of steps the job will take.
    pub fn set_total(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
    }
    /// Starts the next stage of a job of several: `total` steps, none of them done yet.
    pub fn start_stage(&self, total: usize) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        lock(&self.stage).counting_since = Some(Instant::now());
    }
    /// Names what the job does now ("comparing candidate pairs"), for progress displays; the
    /// step count goes on.
    pub fn set_stage_name(&self, name: &str) {
        let mut stage = lock(&self.stage);
        if stage.name != name {
            let now = Instant::now();
            if let Some(since) = stage.named_since {
                let done = (std::mem::take(&mut stage.name), (now - since).as_secs_f64());
                stage.earlier.push(done);
            }
            stage.name = name.to_string();
            stage.named_since = Some(now);
        }
    }
    /// Every stage named so far with its seconds, the current one until now.
    pub fn stage_seconds(&self) -> Vec<(String, f64)> {
        let stage = lock(&self.stage);
        let mut all = stage.earlier.clone();
        if let Some(since) = stage.named_since {
            all.push((stage.name.clone(), since.elapsed().as_secs_f64()));
        }
        all
    }
    /// `what` with the stage named after it: "scanning (comparing candidate pairs)", or `what`
    /// alone while no stage is named.
    pub fn titled(&self, what: &str) -> String {
        let stage = lock(&self.stage);
        if stage.name.is_empty() {
            what.to_string()
        } else {
            format!("{what} ({})", stage.name)
        }
    }
    /// Seconds since the step count last started from zero (`start_stage`); `None` when it never
    /// did, so the job's own age is the one to use.
    pub fn counting_s(&self) -> Option<f64> {
        lock(&self.stage)
            .counting_since
            .map(|t| t.elapsed().as_secs_f64())
    }
    /// Marks `steps` more steps as done.
    pub fn advance(&self, steps: usize) {
        self.done.fetch_add(steps, Ordering::Relaxed);
    }
    /// `(done, total)`; total is 0 while unknown.
    pub fn fraction_parts(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
    /// Workers check this between steps.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// A share of a job's `Progress` (`total` steps), advanced by parts that each count their own
/// units: a stage whose work is not one step per item.
pub struct Steps<'a> {
    progress: &'a Progress,
    total: usize,
    advanced: AtomicUsize,
}

impl<'a> Steps<'a> {
    pub fn new(progress: &'a Progress, total: usize) -> Steps<'a> {
        Steps {
            progress,
            total,
            advanced: AtomicUsize::new(0),
        }
    }

    /// Names what the job does now (see `Progress::set_stage_name`).
    pub fn set_stage_name(&self, name: &str) {
        self.progress.set_stage_name(name);
    }

    /// `numerator / denominator` of the steps, to be done in `units` equal units.
    pub fn part(&self, units: usize, numerator: usize, denominator: usize) -> Part<'_, 'a> {
        Part {
            steps: self,
            units,
            share: self.total * numerator / denominator,
            done: AtomicUsize::new(0),
        }
    }

    fn add(&self, count: usize) {
        let before = self.advanced.fetch_add(count, Ordering::Relaxed);
        self.progress
            .advance(count.min(self.total.saturating_sub(before)));
    }

    pub fn is_cancelled(&self) -> bool {
        self.progress.is_cancelled()
    }

    /// Advances what is left of the steps.
    pub fn finish(&self) {
        let before = self.advanced.swap(self.total, Ordering::Relaxed);
        self.progress.advance(self.total.saturating_sub(before));
    }
}

/// A part of `Steps`.
pub struct Part<'s, 'a> {
    steps: &'s Steps<'a>,
    units: usize,
    share: usize,
    done: AtomicUsize,
}

impl Part<'_, '_> {
    /// One unit done.
    pub fn advance(&self) {
        let k = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if k <= self.units {
            self.steps
                .add(k * self.share / self.units - (k - 1) * self.share / self.units);
        }
    }
}

/// A job's result type: how a worker that panicked reports it, so the job ends as failed with
/// the panic's message instead of running forever.
pub trait JobOutput: Send + 'static {
    /// The value of a job whose worker panicked with `message`.
    fn from_panic(message: String) -> Self;
}

impl<T: Send + 'static> JobOutput for Result<T, String> {
    fn from_panic(message: String) -> Self {
        Err(message)
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("the worker crashed: {detail}")
}

/// A running background task producing one `T`. Dropping it (a new job replacing it, the app
/// closing) cancels it.
pub struct Job<T> {
    /// What the job does, for the status bar ("Loading checkpoints").
    pub label: String,
    progress: Arc<Progress>,
    started: Instant,
    result: Receiver<T>,
}

impl<T: JobOutput> Job<T> {
    /// Runs `work` on a new thread; `notify` is called once the result is ready. A panic in
    /// `work` becomes `T::from_panic` with its message.
    pub fn spawn(
        label: impl Into<String>,
        notify: Notify,
        work: impl FnOnce(&Progress) -> T + Send + 'static,
    ) -> Self {
        let label = label.into();
        let progress = Arc::new(Progress::default());
        let (sender, result) = sync_channel(1);
        let worker_progress = Arc::clone(&progress);
        std::thread::Builder::new()
            .name(format!("job: {label}"))
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| work(&worker_progress));
                let value = std::panic::catch_unwind(run)
                    .unwrap_or_else(|payload| T::from_panic(panic_text(payload.as_ref())));
                // The receiver may be gone if the job was replaced; nothing to do then.
                let _ = sender.send(value);
                notify();
            })
            .expect("failed to spawn a worker thread");
        Job {
            label,
            progress,
            started: Instant::now(),
            result,
        }
    }

    /// Like `spawn`, but at background priority (`in_background`): for work nobody waits on, such
    /// as the scan that follows opening a dataset, so it never slows scrolling, sorting or a
    /// decode the user asked for.
    pub fn spawn_in_background(
        label: impl Into<String>,
        notify: Notify,
        work: impl FnOnce(&Progress) -> T + Send + 'static,
    ) -> Self
    where
        T: Send,
    {
        Job::spawn(label, notify, move |progress| {
            in_background(|| work(progress))
        })
    }

    /// The result, once the job has finished. `None` while it runs.
    pub fn poll(&mut self) -> Option<T> {
        self.result.try_recv().ok()
    }

    /// Blocks until the job finishes (for the CLI and tests).
    pub fn wait(self) -> Option<T> {
        self.result.recv().ok()
    }
}

/// OS priority (nice) of the background pool's threads: under contention the UI thread and the
/// interactive jobs get about nine tenths of a core against them.
const BACKGROUND_NICENESS: i32 = 10;

/// Runs `work` on the background pool: as many threads as the global rayon pool, at a lower OS
/// priority (`BACKGROUND_NICENESS`). Parallel iterators inside `work` stay on that pool, so an
/// interactive job's parallel sort on the global pool does not queue behind them either.
pub fn in_background<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("background {i}"))
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        // No threads to be had: run as before, at normal priority.
        None => work(),
    }
}

/// Runs `work` on a thread of its own at background priority (`BACKGROUND_NICENESS`): for a
/// helper that should take only the CPU that the work the user waits for leaves.
pub fn thread_in_background<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_this_threads_priority();
            work()
        })
        .expect("failed to spawn a thread")
}

/// Lowers the calling thread's OS priority by `BACKGROUND_NICENESS` (Linux: per thread; a no-op
/// elsewhere, where it would lower the whole process).
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with who = 0 changes only the calling thread on Linux; a failure
    // (not permitted) leaves its priority as it was.
    unsafe {
        let now = libc::getpriority(libc::PRIO_PROCESS, 0);
        libc::setpriority(libc::PRIO_PROCESS, 0, now + BACKGROUND_NICENESS);
    }
}

/// One thread that owns a state `S` (the loaded models) and runs the jobs queued on it, one at
/// a time in order. A job cancelled before its turn is skipped. Dropping the worker lets the
/// thread finish its current job and end.
pub struct Worker<S> {
    tasks: std::sync::mpsc::Sender<Task<S>>,
}

/// A job as the worker's thread runs it: with the worker's state.
type Task<S> = Box<dyn FnOnce(&mut S) + Send>;

impl<S: 'static> Worker<S> {
    /// Starts the thread; `init` makes its state on the thread itself (thread-local set-up such
    /// as LibTorch's grad mode belongs there).
    pub fn new(name: &str, init: impl FnOnce() -> S + Send + 'static) -> Worker<S> {
        let (tasks, queue) = std::sync::mpsc::channel::<Task<S>>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut state = init();
                while let Ok(task) = queue.recv() {
                    task(&mut state);
                }
            })
            .expect("failed to spawn a worker thread");
        Worker { tasks }
    }
}

impl<T: JobOutput> Job<T> {
    /// Queues `work` on `worker`; like `spawn`, but it runs after the jobs queued before it,
    /// with the worker's state.
    pub fn queue<S: 'static>(
        worker: &Worker<S>,
        label: impl Into<String>,
        notify: Notify,
        work: impl FnOnce(&Progress, &mut S) -> T + Send + 'static,
    ) -> Self {
        let label = label.into();
        let progress = Arc::new(Progress::default());
        let (sender, result) = sync_channel(1);
        let worker_progress = Arc::clone(&progress);
        let task = Box::new(move |state: &mut S| {
            if worker_progress.is_cancelled() {
                // Replaced or dropped while queued: nobody waits for the result.
                return;
            }
            let run = std::panic::AssertUnwindSafe(|| work(&worker_progress, state));
            let value = std::panic::catch_unwind(run)
                .unwrap_or_else(|payload| T::from_panic(panic_text(payload.as_ref())));
            let _ = sender.send(value);
            notify();
        });
        if worker.tasks.send(task).is_err() {
            // The worker's thread is gone (it cannot panic out of a task): say so as a failure.
            let (sender, failed) = sync_channel(1);
            let _ = sender.send(T::from_panic("the model worker has stopped".into()));
            return Job {
                label,
                progress,
                started: Instant::now(),
                result: failed,
            };
        }
        Job {
            label,
            progress,
            started: Instant::now(),
            result,
        }
    }
}

/// A running job of any result type, as progress displays and "cancel all" see it.
pub trait RunningJob {
    /// Label and stage (`Job::title`).
    fn title(&self) -> String;
    /// `(done, total)`.
    fn progress(&self) -> (usize, usize);
    /// Seconds over which the current count was made.
    fn counting_s(&self) -> f64;
    /// Asks the worker to stop.
    fn cancel(&self);
}

impl<T> RunningJob for Job<T> {
    fn title(&self) -> String {
        Job::title(self)
    }
    fn progress(&self) -> (usize, usize) {
        Job::progress(self)
    }
    fn counting_s(&self) -> f64 {
        Job::counting_s(self)
    }
    fn cancel(&self) {
        Job::cancel(self)
    }
}

impl<T> Job<T> {
    /// Progress as `(done, total)`.
    pub fn progress(&self) -> (usize, usize) {
        self.progress.fraction_parts()
    }

    /// Seconds since the job started.
    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The job's label with its current stage (`Progress::titled`).
    pub fn title(&self) -> String {
        self.progress.titled(&self.label)
    }

    /// Seconds over which the current step count was made, for its rate and ETA.
    pub fn counting_s(&self) -> f64 {
        self.progress
            .counting_s()
            .unwrap_or_else(|| self.elapsed_s())
    }

    /// Asks the worker to stop early.
    pub fn cancel(&self) {
        self.progress.cancel();
    }

    /// True once `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.progress.is_cancelled()
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.progress.cancel();
    }
}

/// A fixed pool of worker threads that serves requests newest first, so what the user looks at
/// now is done before what scrolled away. Stale requests can be dropped with `retain`.
pub struct WorkerPool<K, V> {
    shared: Arc<PoolShared<K>>,
    results: Receiver<(K, V)>,
}

struct PoolShared<K> {
    queue: Mutex<Vec<K>>,
    wake: Condvar,
    shutdown: AtomicBool,
}

impl<K: Clone + Send + 'static, V: JobOutput> WorkerPool<K, V> {
    /// Starts `threads` workers running `work` on each request; `notify` after each result. A
    /// request whose work panics gets `V::from_panic`, and its worker goes on serving.
    pub fn new(
        name: &str,
        threads: usize,
        notify: Notify,
        work: impl Fn(&K) -> V + Send + Sync + 'static,
    ) -> Self {
        let shared = Arc::new(PoolShared {
            queue: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let (sender, results) = sync_channel(256);
        let work = Arc::new(work);
        for i in 0..threads.max(1) {
            let (shared, sender, work, notify) = (
                Arc::clone(&shared),
                sender.clone(),
                Arc::clone(&work),
                Arc::clone(&notify),
            );
            std::thread::Builder::new()
                .name(format!("{name} {i}"))
                .spawn(move || {
                    while let Some(key) = next_request(&shared) {
                        let run = std::panic::AssertUnwindSafe(|| work(&key));
                        let value = std::panic::catch_unwind(run)
                            .unwrap_or_else(|payload| V::from_panic(panic_text(payload.as_ref())));
                        if sender.send((key, value)).is_err() {
                            return;
                        }
                        notify();
                    }
                })
                .expect("failed to spawn a worker thread");
        }
        WorkerPool { shared, results }
    }

    /// Queues `key`; it is served before everything queued earlier.
    pub fn request(&self, key: K) {
        lock(&self.shared.queue).push(key);
        self.shared.wake.notify_one();
    }

    /// Drops queued requests for which `keep` is false.
    pub fn retain(&self, keep: impl Fn(&K) -> bool) {
        lock(&self.shared.queue).retain(|k| keep(k));
    }

    /// Number of requests waiting for a worker.
    pub fn queued(&self) -> usize {
        lock(&self.shared.queue).len()
    }

    /// The next finished result, if any.
    pub fn try_recv(&self) -> Option<(K, V)> {
        self.results.try_recv().ok()
    }
}

impl<K, V> Drop for WorkerPool<K, V> {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
    }
}

fn next_request<K>(shared: &PoolShared<K>) -> Option<K> {
    let mut queue = lock(&shared.queue);
    loop {
        if shared.shutdown.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(key) = queue.pop() {
            return Some(key);
        }
        queue = shared
            .wake
            .wait(queue)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

/// Locks a mutex, recovering the data if a worker panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn background_work_runs_on_its_own_threads_at_a_lower_priority() {
        use rayon::prelude::*;
        // SAFETY: getpriority only reads the calling thread's niceness.
        let niceness = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let caller = niceness();
        let seen: Vec<(String, i32)> = in_background(|| {
            (0..64)
                .into_par_iter()
                .map(|_| {
                    let thread = std::thread::current();
                    (thread.name().unwrap_or("").to_string(), niceness())
                })
                .collect()
        });
        for (name, priority) in seen {
            assert!(name.starts_with("background"), "ran on {name:?}");
            // 19 is the lowest priority there is.
            assert!(priority > caller || caller == 19, "{priority} vs {caller}");
        }
        // The caller's own priority is untouched.
        assert_eq!(niceness(), caller);
        let helper = thread_in_background("helper", niceness).join().unwrap();
        assert!(helper > caller || caller == 19, "{helper} vs {caller}");
    }

    #[test]
    fn a_job_reports_progress_and_its_result() {
        let notified = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&notified);
        let job = Job::spawn(
            "sum",
            Arc::new(move || flag.store(true, Ordering::SeqCst)),
            |p| {
                p.set_total(10);
                Ok::<i32, String>((0..10).inspect(|_| p.advance(1)).sum::<i32>())
            },
        );
        assert_eq!(job.wait(), Some(Ok(45)));
        // `notify` runs just after the result is sent, so give the worker a moment.
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while !notified.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(notified.load(Ordering::SeqCst));
    }

    #[test]
    fn a_cancelled_job_stops_early() {
        let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
        let job = Job::spawn("count", Arc::new(|| {}), move |p| {
            wait_for_go.recv().unwrap();
            let mut steps = 0;
            while !p.is_cancelled() && steps < 1_000_000 {
                steps += 1;
            }
            Ok::<i32, String>(steps)
        });
        job.cancel();
        go.send(()).unwrap();
        assert_eq!(job.wait(), Some(Ok(0)));
    }

    #[test]
    fn a_worker_that_panics_ends_its_job_as_failed_with_the_message() {
        let rows: Vec<u32> = Vec::new();
        let job: Job<Result<u32, String>> = Job::spawn("crash", Arc::new(|| {}), move |_| {
            Ok(*rows.first().expect("the index had no rows"))
        });
        let result = job.wait().expect("a result, not a hang");
        let message = result.unwrap_err();
        assert!(
            message.contains("crashed") && message.contains("the index had no rows"),
            "{message}"
        );
    }

    #[test]
    fn dropping_a_job_cancels_it_while_it_runs() {
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (stopped_tx, stopped) = std::sync::mpsc::channel::<usize>();
        let job: Job<Result<(), String>> = Job::spawn("loop", Arc::new(|| {}), move |p| {
            let mut steps = 0;
            while !p.is_cancelled() {
                steps += 1;
                if steps == 1000 {
                    started_tx.send(()).unwrap();
                }
                std::thread::yield_now();
            }
            stopped_tx.send(steps).unwrap();
            Ok(())
        });
        started.recv().unwrap();
        // Mid-run: the worker has done 1,000 steps and is looping when the job is replaced.
        drop(job);
        let steps = stopped
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the worker stopped");
        assert!(steps >= 1000);
    }

    #[test]
    fn a_worker_runs_queued_jobs_in_order_on_its_own_state_and_skips_cancelled_ones() {
        let worker = Worker::new("counter", Vec::<u32>::new);
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let first = Job::queue(
            &worker,
            "first",
            Arc::new(|| {}),
            move |_, seen: &mut Vec<u32>| {
                gate_rx.recv().unwrap();
                seen.push(1);
                Ok::<Vec<u32>, String>(seen.clone())
            },
        );
        let skipped = Job::queue(
            &worker,
            "skipped",
            Arc::new(|| {}),
            |_, seen: &mut Vec<u32>| {
                seen.push(2);
                Ok::<Vec<u32>, String>(seen.clone())
            },
        );
        let third = Job::queue(
            &worker,
            "third",
            Arc::new(|| {}),
            |_, seen: &mut Vec<u32>| {
                seen.push(3);
                Ok::<Vec<u32>, String>(seen.clone())
            },
        );
        drop(skipped); // cancelled while queued behind `first`
        gate_tx.send(()).unwrap();
        assert_eq!(first.wait(), Some(Ok(vec![1])));
        // The state persists between jobs, and the dropped job never ran.
        assert_eq!(third.wait(), Some(Ok(vec![1, 3])));
    }

    #[test]
    fn a_worker_job_that_panics_fails_and_the_worker_serves_the_next() {
        let worker = Worker::new("crashy", || 0u32);
        let crash: Job<Result<u32, String>> =
            Job::queue(&worker, "crash", Arc::new(|| {}), |_, _| {
                panic!("bad tensor")
            });
        let next: Job<Result<u32, String>> =
            Job::queue(&worker, "next", Arc::new(|| {}), |_, n| {
                *n += 1;
                Ok(*n)
            });
        let message = crash.wait().expect("a result").unwrap_err();
        assert!(message.contains("bad tensor"), "{message}");
        assert_eq!(next.wait(), Some(Ok(1)));
    }

    #[test]
    fn a_pool_serves_the_newest_request_first_and_drops_stale_ones() {
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let pool = WorkerPool::new("square", 1, Arc::new(|| {}), move |k: &u32| {
            if *k == 0 {
                lock(&gate).recv().unwrap();
            }
            Ok::<u32, String>(k * k)
        });
        pool.request(0); // occupies the only worker until the gate opens
        while pool.queued() > 0 {
            std::thread::yield_now();
        }
        for k in 1..=4 {
            pool.request(k);
        }
        pool.retain(|k| *k != 2);
        gate_tx.send(()).unwrap();
        let mut order = Vec::new();
        while order.len() < 4 {
            if let Some((k, v)) = pool.try_recv() {
                assert_eq!(v, Ok(k * k));
                order.push(k);
            }
        }
        assert_eq!(order, vec![0, 4, 3, 1]);
    }
}
