//! The loaded checkpoints' session: the files, their weights and filters, predictions on the fixed
//! batch, the recipe checks, and the one model worker that owns the loaded models. Every LibTorch
//! job runs on that worker, one at a time. Replaced whole when a checkpoints folder opens.

use std::path::PathBuf;
use std::sync::Arc;

use super::{CheckpointWeights, DatasetSession, Env, ModelCommand};
use crate::jobs::{Job, JobOutput, Progress, RunningJob, Worker};
use crate::model::predict::{DEFAULT_BATCH_SEED, DEFAULT_BATCH_SIZE};
use crate::model::{
    CheckResult, CheckpointFile, CheckpointsSummary, Evolution, FixedBatch, LoadedCheckpoints,
    ModelStore, Preprocess, default_device, default_fixed_batch, init_torch, load_checkpoints,
    recipe_checks, run_evolution,
};

/// Seconds per checkpoint when the evolution plays.
const PLAY_STEP_S: f64 = 0.7;

/// Everything about the loaded checkpoints; `Default` is the session before any are opened.
#[derive(Default)]
pub struct ModelSession {
    pub summary: Option<CheckpointsSummary>,
    pub files: Vec<CheckpointFile>,
    pub weights: Vec<CheckpointWeights>,
    pub loading: Option<Job<Result<LoadedCheckpoints, String>>>,
    pub batch: FixedBatch,
    pub evolution: Option<Evolution>,
    pub predicting: Option<Job<Result<Evolution, String>>>,
    /// Position in `evolution.predictions` that the slider shows.
    pub current: usize,
    pub playing: bool,
    /// Positions in `evolution.predictions` of checkpoints A and B.
    pub compare: (usize, usize),
    pub checks: Option<Result<Vec<CheckResult>, String>>,
    pub checking: Option<Job<Result<Vec<CheckResult>, String>>>,
    /// What the overfit check trains on.
    pub overfit: crate::model::OverfitSettings,
    /// True when the fixed batch is the pinned examples rather than the default one.
    pub using_pinned: bool,
    /// True when the preprocessing was set in the UI rather than read from preprocess.json.
    pub preprocess_overridden: bool,
    /// The thread that owns the loaded models and runs every model job; started on open.
    worker: Option<Worker<ModelStore>>,
    predictions_cache: Option<PathBuf>,
    /// When the playing evolution last stepped, in egui's clock.
    last_play_step_s: Option<f64>,
}

impl ModelSession {
    /// A session for the checkpoints in `dir`: starts its model worker and loads them there.
    pub fn open(dir: PathBuf, predictions_cache: Option<PathBuf>, env: &Env) -> ModelSession {
        let worker = Worker::new("model worker", || {
            init_torch();
            ModelStore::new(default_device())
        });
        let mut session = ModelSession {
            worker: Some(worker),
            predictions_cache,
            ..Default::default()
        };
        let label = format!("Loading checkpoints from {}", dir.display());
        session.loading = Some(session.queue(label, env, move |progress, models| {
            load_checkpoints(&dir, models, progress).map_err(|e| e.to_string())
        }));
        session
    }

    /// Queues `work` on the model worker, with the loaded models.
    pub fn queue<T: JobOutput>(
        &self,
        label: String,
        env: &Env,
        work: impl FnOnce(&Progress, &ModelStore) -> T + Send + 'static,
    ) -> Job<T> {
        let notify = Arc::clone(env.repaint);
        match &self.worker {
            Some(worker) => Job::queue(worker, label, notify, move |progress, models| {
                work(progress, models)
            }),
            // No checkpoints were opened: nothing to run on.
            None => Job::spawn(label, notify, |_| {
                T::from_panic("no checkpoints are loaded".into())
            }),
        }
    }

    /// The preprocessing models get their input by, when known.
    pub fn preprocess(&self) -> Option<&Preprocess> {
        self.summary.as_ref()?.preprocess.as_ref()
    }

    /// Index into `files` (and `weights`) of the checkpoint the slider shows.
    pub fn current_file(&self) -> Option<usize> {
        let order = self
            .evolution
            .as_ref()?
            .predictions
            .get(self.current)?
            .order;
        self.files.iter().position(|f| f.order == order)
    }

    fn checkpoint_count(&self) -> usize {
        self.evolution.as_ref().map_or(0, |e| e.predictions.len())
    }

    /// Applies a command of this session's.
    pub fn apply(&mut self, command: ModelCommand, data: &DatasetSession, env: &mut Env) {
        match command {
            ModelCommand::SetCheckpoint(position) => {
                self.current = position.min(self.checkpoint_count().saturating_sub(1));
            }
            ModelCommand::TogglePlay => {
                let count = self.checkpoint_count();
                self.playing = !self.playing && count > 1;
                if self.playing && self.current + 1 >= count {
                    self.current = 0;
                }
                self.last_play_step_s = None;
            }
            ModelCommand::SetCompare(a, b) => self.compare = (a, b),
            ModelCommand::RunChecks => self.start_checks(data, env),
            ModelCommand::SetOverfit(settings) => self.overfit = settings,
            ModelCommand::UsePinnedBatch(use_pinned) => {
                self.using_pinned = use_pinned && !data.pinned.is_empty();
                self.start_predictions(data, env);
            }
            ModelCommand::SetPreprocess(preprocess) => {
                if let Some(summary) = &mut self.summary {
                    summary.preprocess = Some(preprocess);
                    self.preprocess_overridden = true;
                    self.start_predictions(data, env);
                }
            }
        }
    }

    /// The pinned examples changed: a pinned batch runs again.
    pub fn pins_changed(&mut self, data: &DatasetSession, env: &mut Env) {
        if self.using_pinned {
            self.start_predictions(data, env);
        }
    }

    /// A new dataset opened: predictions on its default batch.
    pub fn dataset_opened(&mut self, data: &DatasetSession, env: &mut Env) {
        self.using_pinned = false;
        self.start_predictions(data, env);
    }

    /// Takes the results of finished jobs; loaded checkpoints start the predictions, which start
    /// the checks.
    pub fn poll(&mut self, ctx: &egui::Context, data: &DatasetSession, env: &mut Env) {
        if let Some(result) = self.loading.as_mut().and_then(|j| j.poll()) {
            self.loading = None;
            match result {
                Ok(loaded) => {
                    self.show_loaded(ctx, loaded, env);
                    self.start_predictions(data, env);
                }
                Err(message) => env.messages.push(message),
            }
        }
        if let Some(result) = self.predicting.as_mut().and_then(|j| j.poll()) {
            self.predicting = None;
            match result {
                Ok(evolution) => {
                    for (_, _, message) in &evolution.failures {
                        env.messages.push(message.clone());
                    }
                    env.messages.extend(evolution.notes.iter().cloned());
                    let last = evolution.predictions.len().saturating_sub(1);
                    self.current = 0;
                    self.compare = (0, last);
                    self.evolution = Some(evolution);
                    self.start_checks(data, env);
                }
                Err(message) => env.messages.push(message),
            }
        }
        if let Some(result) = self.checking.as_mut().and_then(|j| j.poll()) {
            self.checking = None;
            self.checks = Some(result);
        }
        self.advance_playback(ctx);
    }

    /// The running jobs of this session.
    pub fn jobs(&self) -> Vec<&dyn RunningJob> {
        let jobs: [Option<&dyn RunningJob>; 3] = [
            self.loading.as_ref().map(|j| j as &dyn RunningJob),
            self.predicting.as_ref().map(|j| j as &dyn RunningJob),
            self.checking.as_ref().map(|j| j as &dyn RunningJob),
        ];
        jobs.into_iter().flatten().collect()
    }

    /// Cancels every job; their late results are dropped with them.
    pub fn cancel_jobs(&mut self) {
        self.loading = None;
        self.predicting = None;
        self.checking = None;
    }

    /// Keeps the summary and files, and uploads each file's first-layer filters as textures.
    fn show_loaded(&mut self, ctx: &egui::Context, loaded: LoadedCheckpoints, env: &mut Env) {
        let LoadedCheckpoints {
            summary,
            files,
            weights,
        } = loaded;
        env.messages.extend(summary.errors.iter().cloned());
        if summary.files.is_empty() {
            env.messages.push(format!(
                "{}: no checkpoint files (.pt, .pth, .ts, .torchscript)",
                summary.dir.display()
            ));
        }
        self.weights = weights
            .into_iter()
            .zip(&files)
            .map(|(weights, file)| {
                let filter_textures = weights
                    .filters
                    .as_ref()
                    .map(|f| {
                        (0..f.out_channels)
                            .map(|i| {
                                let (w, h, rgba) = f.filter_rgba(i);
                                let image = egui::ColorImage::from_rgba_unmultiplied(
                                    [w as usize, h as usize],
                                    &rgba,
                                );
                                ctx.load_texture(
                                    format!("filter-{}-{i}", file.hash),
                                    image,
                                    egui::TextureOptions::NEAREST,
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                CheckpointWeights {
                    filters: weights.filters,
                    filter_textures,
                    histograms: weights.histograms,
                    error: weights.error,
                }
            })
            .collect();
        self.files = files;
        self.summary = Some(summary);
    }

    /// Runs every checkpoint on the fixed batch (the pinned examples when chosen), once both a
    /// dataset and checkpoints are open.
    fn start_predictions(&mut self, data: &DatasetSession, env: &mut Env) {
        let (Some(dataset), Some(summary)) = (data.dataset.clone(), self.summary.as_ref()) else {
            return;
        };
        let Some(preprocess) = summary.preprocess.clone() else {
            env.messages.push(format!(
                "{}: no preprocess.json next to the checkpoints, so predictions cannot be made (see the README for its format)",
                summary.dir.display()
            ));
            return;
        };
        let batch = if self.using_pinned && !data.pinned.is_empty() {
            FixedBatch::from_examples(&dataset, data.pinned.iter().copied())
        } else {
            default_fixed_batch(&dataset, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SEED)
        };
        self.batch = batch.clone();
        self.evolution = None;
        self.checks = None;
        self.checking = None;
        let (files, cache) = (self.files.clone(), self.predictions_cache.clone());
        let label = format!(
            "Predicting {} examples with {} checkpoints",
            batch.len(),
            files.len()
        );
        // Replacing the job drops (cancels) a run still going for an earlier batch.
        self.predicting = Some(self.queue(label, env, move |progress, models| {
            run_evolution(
                models,
                &files,
                &preprocess,
                &dataset,
                &batch,
                cache.as_deref(),
                progress,
            )
            .map_err(|e| e.to_string())
        }));
    }

    /// Runs the recipe's sanity checks on the fixed batch.
    fn start_checks(&mut self, data: &DatasetSession, env: &Env) {
        let (Some(dataset), Some(preprocess)) = (data.dataset.clone(), self.preprocess().cloned())
        else {
            return;
        };
        let (files, batch, overfit) =
            (self.files.clone(), self.batch.clone(), self.overfit.clone());
        self.checking = Some(self.queue(
            "Running recipe checks".into(),
            env,
            move |progress, models| {
                recipe_checks(
                    &files,
                    &preprocess,
                    &dataset,
                    &batch,
                    &overfit,
                    models,
                    progress,
                )
                .map_err(|e| e.to_string())
            },
        ));
    }

    /// Steps the playing evolution every `PLAY_STEP_S`, stopping at the last checkpoint.
    fn advance_playback(&mut self, ctx: &egui::Context) {
        if !self.playing {
            return;
        }
        let now = ctx.input(|i| i.time);
        let last = *self.last_play_step_s.get_or_insert(now);
        if now - last >= PLAY_STEP_S {
            self.last_play_step_s = Some(now);
            let count = self.checkpoint_count();
            if self.current + 1 < count {
                self.current += 1;
            }
            if self.current + 1 >= count {
                self.playing = false;
            }
        }
        ctx.request_repaint_after(std::time::Duration::from_secs_f64(PLAY_STEP_S / 4.0));
    }
}
