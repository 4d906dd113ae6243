//! The open dataset's session: the dataset, its index and stats, browsing, the detail view, pins,
//! the scan, the review store and the label review, with the jobs that feed them. Replaced whole
//! when a dataset opens, so nothing of the previous dataset survives by accident.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::embedmap::{MapState, map_source};
use super::{
    BrowseState, DatasetCommand, DatasetFacts, DetailImages, DetailState, Env, InputShown,
    LabelReviewState, ModelSession, ReviewRanking, ScanState,
};
use crate::browse::{StatColumns, find_matches};
use crate::dataset::{Dataset, relative_path_text};
use crate::index::{Index, IndexCache};
use crate::jobs::{Job, RunningJob};
use crate::map::{MapSettings, MapSource, build_map};
use crate::model::{ModelStore, input_view};
use crate::pipelines::{
    CacheReading, EmbeddingModel, embed_and_scan, first_index_with_stats, index_with_stats,
    score_with_checkpoint,
};
use crate::review::{Decision, ReviewEntry, ReviewStore};

/// Above this many examples, filtering and sorting run on a worker thread.
const BACKGROUND_QUERY_MIN_EXAMPLES: usize = 20_000;
/// Bins of each stat histogram.
const HISTOGRAM_BINS: usize = 40;
/// Longest side of the detail view's texture.
const DETAIL_MAX_SIDE_PX: u32 = 8192;

/// Where a session keeps what outlives it: the index cache and the review decisions.
#[derive(Clone, Debug)]
pub struct SessionPlaces {
    pub index_cache: IndexCache,
    pub review_dir: Option<PathBuf>,
    pub predictions_cache: Option<PathBuf>,
}

/// What another owner must do after a dataset command or a finished job.
#[derive(Debug, PartialEq)]
pub enum DatasetEvent {
    /// The pinned examples changed: the model session reruns a pinned batch.
    PinsChanged,
    /// The pinned examples were chosen as the fixed batch: the model session runs them.
    UsePins,
    /// Show the grid (after "show these in the grid").
    ShowGrid,
    /// This example is selected (the detail view opened on it).
    Selected(usize),
}

/// Everything about the open dataset; `Default` is the session before any dataset opens.
#[derive(Default)]
pub struct DatasetSession {
    pub dataset: Option<Arc<Dataset>>,
    pub facts: DatasetFacts,
    /// Per-example stats and metadata, once indexed.
    pub index: Option<Arc<Index>>,
    pub stats: Option<Arc<StatColumns>>,
    pub indexing: Option<Job<Result<(Index, StatColumns), String>>>,
    /// After an index taken from the cache alone: the files compared with it (size and time),
    /// changed ones decoded again. The scan waits for it.
    pub checking_files: Option<Job<Result<(Index, StatColumns), String>>>,
    pub browse: BrowseState,
    pub detail: Option<DetailState>,
    /// Examples the user pinned from the grid or the detail view, for the fixed batch.
    pub pinned: BTreeSet<usize>,
    pub scan: ScanState,
    /// The user's decisions, when the review file could be opened.
    pub review: Option<ReviewStore>,
    pub label_review: LabelReviewState,
    /// The embedding map and the job making the next one.
    pub map: MapState,
    places: Option<SessionPlaces>,
}

impl DatasetSession {
    /// A session for a newly opened `dataset`: shows its examples at once, opens its review file
    /// and starts indexing it (from its index cache, being read, when that covers it).
    pub fn open(
        dataset: Dataset,
        cached: CacheReading,
        places: SessionPlaces,
        env: &mut Env,
    ) -> DatasetSession {
        env.messages.extend(dataset.warnings.iter().cloned());
        let dataset = Arc::new(dataset);
        let mut session = DatasetSession {
            facts: DatasetFacts::new(&dataset, None),
            dataset: Some(Arc::clone(&dataset)),
            ..Default::default()
        };
        session.open_review(&dataset.root, places.review_dir.as_deref(), env);
        let cache = places.index_cache.clone();
        session.places = Some(places);
        session.run_query(env);
        let label = format!("Indexing {} images", dataset.examples.len());
        session.indexing = Some(Job::spawn(
            label,
            Arc::clone(env.repaint),
            move |progress| {
                first_index_with_stats(&dataset, cache, cached, progress).map_err(|e| e.to_string())
            },
        ));
        session
    }

    /// Applies a command of this session's; what other owners must do comes back.
    pub fn apply(
        &mut self,
        command: DatasetCommand,
        model: &ModelSession,
        env: &mut Env,
    ) -> Option<DatasetEvent> {
        match command {
            DatasetCommand::SetFilter(filter) => {
                self.browse.filter = filter;
                self.run_query(env);
            }
            DatasetCommand::SetSort(sort) => {
                self.browse.sort = sort;
                self.run_query(env);
            }
            DatasetCommand::ShowOnlyInGrid(examples) => {
                self.browse.filter.only = Some(examples.into_iter().collect());
                self.detail = None;
                self.run_query(env);
                return Some(DatasetEvent::ShowGrid);
            }
            DatasetCommand::OpenDetail(example) => return self.open_detail(example, model, env),
            DatasetCommand::StepDetail(step) => {
                let visible = &self.browse.matches.indices;
                let current = self
                    .detail
                    .as_ref()
                    .and_then(|d| visible.iter().position(|&i| i == d.example));
                if let Some(position) = current {
                    let next = (position as i64 + step).clamp(0, visible.len() as i64 - 1) as usize;
                    let example = visible[next];
                    if Some(example) != self.detail.as_ref().map(|d| d.example) {
                        return self.open_detail(example, model, env);
                    }
                }
            }
            DatasetCommand::CloseDetail => self.detail = None,
            DatasetCommand::TogglePin(example) => {
                if !self.pinned.remove(&example) {
                    self.pinned.insert(example);
                }
                return Some(DatasetEvent::PinsChanged);
            }
            DatasetCommand::PinOnly(examples) => {
                self.pinned = examples.into_iter().collect();
                return Some(DatasetEvent::UsePins);
            }
            DatasetCommand::RunScan(settings) => {
                self.scan.settings = settings;
                self.start_scan(model, env);
            }
            DatasetCommand::SetScanEmbedding(checkpoint) => {
                self.scan.embedding = checkpoint;
                self.start_scan(model, env);
            }
            DatasetCommand::SetDecision(example, decision) => {
                self.set_decision(example, decision, None, None, env)
            }
            DatasetCommand::ScoreDataset(file) => self.start_scoring(file, model, env),
            DatasetCommand::ScoreDynamics(split) => {
                self.label_review.dynamics_split = split;
                self.start_dynamics(model, env);
            }
            DatasetCommand::SetRankMethod(method) => {
                self.label_review.method = method;
                let needs_dynamics = matches!(method, ReviewRanking::Dynamics(_))
                    && self.label_review.dynamics.is_none();
                if needs_dynamics && self.label_review.dynamics_job.is_none() {
                    self.start_dynamics(model, env);
                }
                self.rerank();
            }
            DatasetCommand::ReviewStep(step) => {
                let last = self.label_review.ranked.len().saturating_sub(1) as i64;
                self.label_review.position =
                    (self.label_review.position as i64 + step).clamp(0, last) as usize;
            }
            DatasetCommand::ReviewGoTo(position) => {
                self.label_review.position =
                    position.min(self.label_review.ranked.len().saturating_sub(1));
            }
            DatasetCommand::ReviewDecide(decision, new_label) => {
                self.review_decide(decision, new_label, env)
            }
            DatasetCommand::ReviewUndo => self.review_undo(env),
            DatasetCommand::ExportReview(corrected) => self.export_review(corrected, env),
            DatasetCommand::ComputeMap(checkpoint) => self.start_map(checkpoint, model, env),
        }
        None
    }

    /// Takes the results of finished jobs, and starts the scan once the index is ready.
    pub fn poll(&mut self, ctx: &egui::Context, model: &ModelSession, env: &mut Env) {
        if let Some(result) = self.indexing.as_mut().and_then(|j| j.poll()) {
            self.indexing = None;
            match result {
                Ok((index, stats)) => {
                    let checked = index.files_checked;
                    self.set_index(index, stats, env);
                    if checked {
                        self.start_scan(model, env);
                    } else {
                        self.start_checking_files(env);
                    }
                }
                Err(message) => env.messages.push(format!("Indexing failed: {message}")),
            }
        }
        if let Some(result) = self.checking_files.as_mut().and_then(|j| j.poll()) {
            self.checking_files = None;
            match result {
                Ok((index, stats)) => {
                    // A row not reused from the cache as it was is a file that changed or went.
                    let changed = index.from_cache < index.records.len();
                    if changed || !index.warnings.is_empty() {
                        self.set_index(index, stats, env);
                    }
                    self.start_scan(model, env);
                }
                Err(message) => env.messages.push(format!(
                    "Checking the files against the index cache failed ({message}): the stats are as cached, and no scan runs"
                )),
            }
        }
        if let Some(result) = self.browse.querying.as_mut().and_then(|j| j.poll()) {
            self.browse.querying = None;
            match result {
                Ok(matches) => self.browse.matches = Arc::new(matches),
                Err(message) => env.messages.push(format!("Filtering failed: {message}")),
            }
        }
        let label_review = &mut self.label_review;
        if let Some(result) = label_review.dynamics_job.as_mut().and_then(|j| j.poll()) {
            label_review.dynamics_job = None;
            match result {
                Ok((dynamics, last)) => {
                    let over = label_review
                        .dynamics_split
                        .as_ref()
                        .map_or(String::new(), |s| format!(" over the {s} split"));
                    label_review.scored_with = format!(
                        "every checkpoint ({}{over}; probabilities of {})",
                        dynamics.checkpoints.len(),
                        dynamics.checkpoints.last().map_or("", String::as_str)
                    );
                    let classes = self.dataset.as_ref().map_or(0, |d| d.classes.len());
                    env.messages.extend(last.left_out_note());
                    label_review.curves = Some(Arc::new(dynamics.curves(classes)));
                    label_review.dynamics = Some(Arc::new(dynamics));
                    label_review.scores = Some(Arc::new(last));
                    self.rerank();
                    // The dynamics become stats the grid sorts and filters by.
                    // One copy of the columns per dynamics run; the index's own are moved in.
                    if let Some(stats) = self.stats.clone() {
                        self.stats = Some(Arc::new(self.with_dynamics((*stats).clone())));
                        self.run_query(env);
                    }
                }
                Err(message) => env.messages.push(format!("Dynamics: {message}")),
            }
        }
        if let Some(result) = self.label_review.scoring.as_mut().and_then(|j| j.poll()) {
            self.label_review.scoring = None;
            match result {
                Ok(scores) => {
                    env.messages.extend(scores.left_out_note());
                    self.label_review.scores = Some(Arc::new(scores));
                    self.rerank();
                }
                Err(message) => env.messages.push(format!("Scoring: {message}")),
            }
        }
        if let Some(result) = self.scan.running.as_mut().and_then(|j| j.poll()) {
            self.scan.running = None;
            match result {
                Ok((report, embedding)) => {
                    env.messages.extend(report.warnings.iter().cloned());
                    self.scan.report = Some(Arc::new(report));
                    if embedding.is_some() {
                        self.scan.model_embedding = embedding;
                    }
                }
                Err(message) => env.messages.push(format!("Scan: {message}")),
            }
        }
        if self.map.job.is_some() {
            let messages = self.map.poll(self.dataset.as_deref());
            env.messages.extend(messages);
            if self.map.job.is_none() && self.label_review.method == ReviewRanking::MapNeighbours {
                self.rerank();
            }
        }
        if let Some(detail) = &mut self.detail
            && let Some(result) = detail.loading.as_mut().and_then(|j| j.poll())
        {
            detail.loading = None;
            show_detail_images(ctx, detail, result);
        }
    }

    /// `stats` with the training dynamics' columns, once they are computed.
    fn with_dynamics(&self, stats: StatColumns) -> StatColumns {
        match (&self.label_review.dynamics, &self.dataset) {
            (Some(dynamics), Some(dataset)) => {
                stats.with_columns(dynamics.stat_columns(dataset.examples.len()))
            }
            _ => stats,
        }
    }

    /// The running jobs of this session.
    pub fn jobs(&self) -> Vec<&dyn RunningJob> {
        let detail = self.detail.as_ref().and_then(|d| d.loading.as_ref());
        let jobs: [Option<&dyn RunningJob>; 8] = [
            self.indexing.as_ref().map(|j| j as &dyn RunningJob),
            self.checking_files.as_ref().map(|j| j as &dyn RunningJob),
            self.browse.querying.as_ref().map(|j| j as &dyn RunningJob),
            self.scan.running.as_ref().map(|j| j as &dyn RunningJob),
            self.label_review
                .scoring
                .as_ref()
                .map(|j| j as &dyn RunningJob),
            self.label_review
                .dynamics_job
                .as_ref()
                .map(|j| j as &dyn RunningJob),
            detail.map(|j| j as &dyn RunningJob),
            self.map.job.as_ref().map(|j| j as &dyn RunningJob),
        ];
        jobs.into_iter().flatten().collect()
    }

    /// Cancels every job; their late results are dropped with them.
    pub fn cancel_jobs(&mut self, env: &mut Env) {
        if self.indexing.take().is_some() {
            env.messages.push(
                "Indexing cancelled: stats, histograms and stat filters are unavailable.".into(),
            );
        }
        if self.checking_files.take().is_some() {
            env.messages.push(
                "Checking the files cancelled: the stats are from the index cache, and no scan runs.".into(),
            );
        }
        self.browse.querying = None;
        self.scan.running = None;
        self.label_review.scoring = None;
        self.label_review.dynamics_job = None;
        self.map.job = None;
        if let Some(detail) = &mut self.detail {
            detail.loading = None;
        }
    }

    fn open_review(&mut self, root: &Path, review_dir: Option<&Path>, env: &mut Env) {
        let Some(dir) = review_dir else { return };
        match ReviewStore::open(dir, root) {
            Ok((store, problem)) => {
                if let Some(problem) = problem {
                    env.messages.push(problem.to_string());
                }
                self.review = Some(store);
            }
            Err(e) => env.messages.push(e.to_string()),
        }
    }

    /// Shows `index` and its `stats`: the dataset facts, the stat columns, the grid's query.
    fn set_index(&mut self, index: Index, stats: StatColumns, env: &Env) {
        if let Some(dataset) = &self.dataset {
            self.facts = DatasetFacts::new(dataset, Some(&index));
        }
        self.index = Some(Arc::new(index));
        self.stats = Some(Arc::new(self.with_dynamics(stats)));
        self.run_query(env);
    }

    /// Compares the files with an index taken from the cache alone, at background priority:
    /// the user already sees its stats.
    fn start_checking_files(&mut self, env: &Env) {
        let Some(dataset) = self.dataset.clone() else {
            return;
        };
        let Some(cache) = self.places.as_ref().map(|p| p.index_cache.clone()) else {
            return;
        };
        let label = format!("Checking {} files for changes", dataset.examples.len());
        self.checking_files = Some(Job::spawn_in_background(
            label,
            Arc::clone(env.repaint),
            move |progress| index_with_stats(&dataset, cache, progress).map_err(|e| e.to_string()),
        ));
    }

    /// Filters and sorts: inline for small datasets, on a worker for large ones.
    fn run_query(&mut self, env: &Env) {
        let Some(dataset) = self.dataset.clone() else {
            return;
        };
        let stats = self.stats.clone();
        let (filter, sort) = (self.browse.filter.clone(), self.browse.sort.clone());
        if dataset.examples.len() < BACKGROUND_QUERY_MIN_EXAMPLES {
            let matches = find_matches(&dataset, stats.as_deref(), &filter, &sort, HISTOGRAM_BINS);
            self.browse.matches = Arc::new(matches);
            self.browse.querying = None;
        } else {
            self.browse.querying = Some(Job::spawn(
                "Filtering",
                Arc::clone(env.repaint),
                move |_| {
                    Ok(find_matches(
                        &dataset,
                        stats.as_deref(),
                        &filter,
                        &sort,
                        HISTOGRAM_BINS,
                    ))
                },
            ));
        }
    }

    fn open_detail(
        &mut self,
        example: usize,
        model: &ModelSession,
        env: &Env,
    ) -> Option<DatasetEvent> {
        let dataset = self.dataset.as_ref()?;
        let path = dataset.absolute_path(dataset.examples.get(example)?);
        let preprocess = model.preprocess().cloned();
        let loading = Job::spawn("Decoding full image", Arc::clone(env.repaint), move |_| {
            let image = crate::index::decode(&path)
                .map_err(|e| e.to_string())
                .map(|image| {
                    let image = if image.width().max(image.height()) > DETAIL_MAX_SIDE_PX {
                        image.thumbnail(DETAIL_MAX_SIDE_PX, DETAIL_MAX_SIDE_PX)
                    } else {
                        image
                    };
                    let rgba = image.to_rgba8();
                    egui::ColorImage::from_rgba_unmultiplied(
                        [rgba.width() as usize, rgba.height() as usize],
                        rgba.as_raw(),
                    )
                });
            let input = preprocess.map(|p| input_view(&p, &path).map_err(|e| e.to_string()));
            DetailImages { image, input }
        });
        // Keep the previous image on screen until the next one is decoded, so stepping doesn't flicker.
        let previous = self.detail.take();
        let image = previous.as_ref().and_then(|d| d.image.clone());
        let input = previous.and_then(|d| d.input);
        self.detail = Some(DetailState {
            example,
            image,
            error: None,
            input,
            loading: Some(loading),
        });
        Some(DatasetEvent::Selected(example))
    }

    /// Scans for duplicates, outliers and quality problems once the index is ready; with a
    /// chosen checkpoint, on the model worker (it embeds first), else on a thread of its own.
    fn start_scan(&mut self, model: &ModelSession, env: &mut Env) {
        let (Some(dataset), Some(index)) = (self.dataset.clone(), self.index.clone()) else {
            return;
        };
        let settings = self.scan.settings.clone();
        let chosen = self.scan.embedding.as_ref().and_then(|name| {
            let file = model.files.iter().find(|f| &f.name == name)?.clone();
            Some(EmbeddingModel {
                template: model.files.iter().find(|f| f.is_runnable()).cloned(),
                preprocess: model.preprocess()?.clone(),
                file,
            })
        });
        if self.scan.embedding.is_some() && chosen.is_none() {
            env.messages.push(
                "Scan: the chosen checkpoint or its preprocessing is not loaded; scanning without a model embedding".into(),
            );
            self.scan.embedding = None;
        }
        let cached = self.scan.model_embedding.clone();
        self.scan.running = Some(match chosen {
            Some(chosen) => {
                let label = format!(
                    "Embedding {} images with {}, then scanning",
                    dataset.examples.len(),
                    chosen.file.name
                );
                model.queue(label, env, move |progress, models| {
                    embed_and_scan(
                        &dataset,
                        &index,
                        &settings,
                        Some((&chosen, models)),
                        cached,
                        progress,
                    )
                    .map_err(|e| e.to_string())
                })
            }
            None => {
                let label = format!("Scanning {} images for data issues", dataset.examples.len());
                Job::spawn_in_background(label, Arc::clone(env.repaint), move |progress| {
                    embed_and_scan(&dataset, &index, &settings, None, None, progress)
                        .map_err(|e| e.to_string())
                })
            }
        });
    }

    /// Scores every labelled example with one checkpoint, on the model worker.
    fn start_scoring(&mut self, file: usize, model: &ModelSession, env: &Env) {
        let (Some(dataset), Some(preprocess), Some(file)) = (
            self.dataset.clone(),
            model.preprocess().cloned(),
            model.files.get(file).cloned(),
        ) else {
            return;
        };
        let cache = self
            .places
            .as_ref()
            .and_then(|p| p.predictions_cache.clone());
        self.label_review.scored_with = file.name.clone();
        let label = format!(
            "Scoring {} examples with {}",
            dataset.examples.len(),
            file.name
        );
        self.label_review.scoring = Some(model.queue(label, env, move |progress, models| {
            score_with_checkpoint(
                &dataset,
                &file,
                &preprocess,
                cache.as_deref(),
                models,
                progress,
            )
            .map_err(|e| e.to_string())
        }));
    }

    /// Runs every checkpoint over the labelled examples, for the dynamics rankings.
    fn start_dynamics(&mut self, model: &ModelSession, env: &Env) {
        let (Some(dataset), Some(preprocess)) = (self.dataset.clone(), model.preprocess().cloned())
        else {
            return;
        };
        let files = model.files.clone();
        let cache = self
            .places
            .as_ref()
            .and_then(|p| p.predictions_cache.clone());
        let split = self.label_review.dynamics_split.clone();
        let label = format!(
            "Running {} checkpoints over {}",
            files.iter().filter(|f| f.is_runnable()).count(),
            match &split {
                Some(split) => format!("the {split} split"),
                None => format!("{} examples", dataset.examples.len()),
            }
        );
        self.label_review.dynamics_job = Some(model.queue(label, env, move |progress, models| {
            crate::model::dynamics::dynamics_of_files(
                &files,
                &dataset,
                &preprocess,
                split.as_deref(),
                cache.as_deref(),
                models,
                progress,
            )
            .map_err(|e| e.to_string())
        }));
    }

    /// Maps every example from its thumbnail (on a thread of its own) or from a checkpoint's
    /// penultimate layer (on the model worker); the previous map stays on screen meanwhile.
    fn start_map(&mut self, checkpoint: Option<String>, model: &ModelSession, env: &mut Env) {
        let Some(dataset) = self.dataset.clone() else {
            return;
        };
        let source = match map_source(model, checkpoint.as_deref()) {
            Ok(source) => source,
            Err(message) => return env.messages.push(message),
        };
        // Beside the predictions cache: the user's cache folder, or a test's own.
        let cache = self
            .places
            .as_ref()
            .and_then(|p| p.predictions_cache.as_deref())
            .and_then(Path::parent)
            .map(|dir| dir.join("maps"));
        let label = format!(
            "Mapping {} examples from {}",
            dataset.examples.len(),
            source.name()
        );
        let on_worker = matches!(source, MapSource::Checkpoint { .. });
        let build = move |progress: &crate::jobs::Progress, models: &ModelStore| {
            let examples: Vec<usize> = (0..dataset.examples.len()).collect();
            build_map(
                &dataset,
                &examples,
                &source,
                &MapSettings::default(),
                cache.as_deref(),
                models,
                progress,
            )
            .map_err(|e| e.to_string())
        };
        self.map.job = Some(if on_worker {
            model.queue(label, env, build)
        } else {
            // Thumbnails need no model: an empty store, and no wait behind model jobs.
            Job::spawn(label, Arc::clone(env.repaint), move |progress| {
                build(progress, &ModelStore::new(tch::Device::Cpu))
            })
        });
    }

    fn rerank(&mut self) {
        let state = &mut self.label_review;
        let ranked = match (state.method, &state.scores, &state.dynamics) {
            (ReviewRanking::OneCheckpoint(method), Some(scores), _) => {
                crate::model::label_issues::rank(scores, method)
            }
            (ReviewRanking::Dynamics(method), _, Some(dynamics)) => {
                crate::model::dynamics::ranked_by_dynamics(dynamics, method)
            }
            (ReviewRanking::MapNeighbours, ..) => {
                let (Some(map), Some(dataset)) = (&self.map.map, &self.dataset) else {
                    return;
                };
                crate::map::ranked_by_disagreement(map, &crate::map::dataset_labels(dataset), 0.0)
            }
            _ => return,
        };
        state.ranked = ranked;
        state.position = 0;
    }

    /// Decides about the example under review, then moves to the next.
    fn review_decide(&mut self, decision: Decision, new_label: Option<usize>, env: &mut Env) {
        let review = &self.label_review;
        let Some(ranked) = review.ranked.get(review.position).cloned() else {
            return;
        };
        let new_label = new_label.and_then(|c| {
            self.dataset
                .as_ref()
                .and_then(|d| d.classes.get(c).cloned())
        });
        self.set_decision(
            ranked.example,
            Some(decision),
            new_label,
            Some(ranked.score),
            env,
        );
        let last = self.label_review.ranked.len().saturating_sub(1);
        self.label_review.position = (self.label_review.position + 1).min(last);
    }

    /// Takes back the last decision and shows its example in the review.
    fn review_undo(&mut self, env: &mut Env) {
        match self.review.as_mut().map(|r| r.undo()) {
            Some(Ok(Some(path))) => {
                let dataset = self.dataset.clone();
                let position = self.label_review.ranked.iter().position(|r| {
                    dataset
                        .as_ref()
                        .is_some_and(|d| relative_path_text(&d.examples[r.example].path) == path)
                });
                if let Some(position) = position {
                    self.label_review.position = position;
                }
            }
            Some(Err(e)) => env.messages.push(e.to_string()),
            _ => {}
        }
    }

    /// Saves the user's decision about an example at once; a failed save is shown, and the
    /// decision stays in memory.
    fn set_decision(
        &mut self,
        example: usize,
        decision: Option<Decision>,
        new_label: Option<String>,
        score: Option<f64>,
        env: &mut Env,
    ) {
        let (Some(store), Some(dataset)) = (self.review.as_mut(), self.dataset.as_ref()) else {
            env.messages
                .push("No review file is open, so the decision cannot be saved.".into());
            return;
        };
        let Some(entry) = dataset.examples.get(example) else {
            return;
        };
        let path = relative_path_text(&entry.path);
        let result = match decision {
            Some(decision) => store.record(ReviewEntry {
                path,
                given: Some(dataset.label_text(entry)),
                decision,
                new_label,
                score,
                timestamp_ms: 0,
            }),
            None => store.clear(&path),
        };
        if let Err(e) = result {
            env.messages.push(e.to_string());
        }
    }

    /// Asks where to save and writes the decisions or the corrected labels (.csv or .parquet),
    /// on a thread of its own; the outcome comes back as a message.
    fn export_review(&mut self, corrected: bool, env: &mut Env) {
        let (Some(store), Some(dataset)) = (self.review.as_ref(), self.dataset.as_ref()) else {
            return;
        };
        let (name, mut table) = if corrected {
            ("corrected_labels.csv", store.corrected_labels(dataset))
        } else {
            ("review_decisions.csv", store.to_dataframe())
        };
        let saved_in = store.file().display().to_string();
        env.in_background(move || {
            let Some(path) = rfd::FileDialog::new()
                .set_file_name(name)
                .add_filter("table", &["csv", "parquet"])
                .save_file()
            else {
                // A cancel and a desktop without a file-dialog portal look the same from here.
                return format!(
                    "Nothing exported: no file was chosen. If no dialog appeared, this desktop has \
                     no xdg-desktop-portal; every decision is saved in {saved_in}"
                );
            };
            match crate::index::write_table(&mut table, &path) {
                Ok(()) => format!("Exported to {}", path.display()),
                Err(e) => e.to_string(),
            }
        });
    }
}

/// Uploads the decoded detail image and "what goes into the net" as textures.
fn show_detail_images(ctx: &egui::Context, detail: &mut DetailState, result: DetailImages) {
    match result.image {
        Ok(image) => {
            detail.image = Some(ctx.load_texture(
                format!("detail-{}", detail.example),
                image,
                egui::TextureOptions::NEAREST,
            ));
            detail.error = None;
        }
        Err(message) => {
            detail.image = None;
            detail.error = Some(message);
        }
    }
    let example = detail.example;
    detail.input = result.input.map(|input| {
        input.map(|view| {
            let upload = |name: String, (w, h, rgba): &(u32, u32, Vec<u8>)| {
                let image =
                    egui::ColorImage::from_rgba_unmultiplied([*w as usize, *h as usize], rgba);
                ctx.load_texture(name, image, egui::TextureOptions::NEAREST)
            };
            let steps = view
                .steps
                .iter()
                .enumerate()
                .map(|(i, step)| upload(format!("input-{example}-{i}"), &step.display_rgba))
                .collect();
            let tensor = upload(format!("input-{example}"), &view.denormalised_rgba);
            InputShown {
                view,
                steps,
                tensor,
            }
        })
    });
}
