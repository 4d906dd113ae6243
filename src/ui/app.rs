//! The app shell: owns the state, applies commands, polls background jobs, lays out the panels.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::thumbnails::ThumbnailCache;
use super::{
    BrowseState, CentralView, CheckpointState, CheckpointWeights, Command, DatasetState,
    DetailImages, DetailState, InputShown, LabelReviewState, LoadedCheckpoints, LoadedWeights,
    ReviewRanking, ScanState, ViewCtx, ViewSettings,
};
use crate::browse::{Filter, StatColumns, find_matches};
use crate::dataset::Dataset;
use crate::index::{IndexCache, build_index};
use crate::jobs::{Job, Notify};
use crate::model::predict::default_predictions_cache_dir;
use crate::model::weights::{HISTOGRAM_BINS as WEIGHT_BINS, load_parameters};
use crate::model::{
    CHECKPOINT_EXTENSIONS, classify_checkpoints, default_device, default_fixed_batch,
    first_layer_filters, init_torch, input_view, recipe_checks, run_evolution,
    summarize_checkpoints, weight_histograms,
};

/// Texture memory the thumbnail grid may use.
const THUMBNAIL_BUDGET_BYTES: usize = 256 * 1024 * 1024;
/// Above this many examples, filtering and sorting run on a worker thread.
const BACKGROUND_QUERY_MIN_EXAMPLES: usize = 20_000;
/// Bins of each stat histogram.
const HISTOGRAM_BINS: usize = 40;
/// Examples in the default fixed batch, and the seed choosing them.
const FIXED_BATCH_SIZE: usize = 64;
const FIXED_BATCH_SEED: u64 = 0;
/// Seconds per checkpoint when the evolution plays.
const PLAY_STEP_S: f64 = 0.7;
/// Longest side of the detail view's texture.
const DETAIL_MAX_SIDE_PX: u32 = 8192;

/// What to open at start.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub dataset: Option<PathBuf>,
    pub checkpoints: Option<PathBuf>,
    /// Where the index cache lives (`IndexCache::Default`: the user's cache folder).
    pub index_cache: IndexCache,
    /// Where predictions on the fixed batch are cached (default: the user's cache folder).
    pub predictions_cache: Option<PathBuf>,
    /// Where review decisions are saved (default: the user's data folder).
    pub review_dir: Option<PathBuf>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            dataset: None,
            checkpoints: None,
            index_cache: IndexCache::Default,
            predictions_cache: default_predictions_cache_dir(),
            review_dir: crate::review::default_review_dir(),
        }
    }
}

/// Opens the native window (glow renderer: fast on software GL too) and runs until it closes.
pub fn run_native(options: AppOptions) -> eframe::Result {
    let native_options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("eyeball")
            .with_app_id("eyeball")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "eyeball",
        native_options,
        Box::new(move |cc| Ok(Box::new(EyeballApp::new(cc, options)))),
    )
}

/// The eyeball application.
pub struct EyeballApp {
    dataset: DatasetState,
    browse: BrowseState,
    checkpoints: CheckpointState,
    detail: Option<DetailState>,
    thumbnails: ThumbnailCache,
    settings: ViewSettings,
    index_cache: IndexCache,
    predictions_cache: Option<PathBuf>,
    review_dir: Option<PathBuf>,
    review: Option<crate::review::ReviewStore>,
    scan: ScanState,
    label_review: LabelReviewState,
    messages: Vec<String>,
    commands: RefCell<Vec<Command>>,
    /// Commands from other threads (native file dialogs).
    async_commands: (Sender<Command>, Receiver<Command>),
    repaint: Notify,
    title: String,
    /// When the playing evolution last stepped, in egui's clock.
    last_play_step_s: Option<f64>,
}

/// Loads what the checkpoint views need: the files in order with their kinds, a summary (which
/// also proves each TorchScript file runs), and each file's first-layer filters and histograms.
fn load_checkpoints(
    dir: &Path,
    progress: &crate::jobs::Progress,
) -> Result<LoadedCheckpoints, String> {
    init_torch();
    let summary = summarize_checkpoints(dir, progress).map_err(|e| e.to_string())?;
    let files = classify_checkpoints(&[dir.to_path_buf()]).map_err(|e| e.to_string())?;
    let channels = summary.preprocess.as_ref().map(|p| p.channels as usize);
    let weights = files
        .iter()
        .map(|file| match load_parameters(file) {
            Ok(params) => LoadedWeights {
                filters: first_layer_filters(&params, channels),
                histograms: weight_histograms(&params, WEIGHT_BINS),
                error: None,
            },
            Err(e) => LoadedWeights {
                filters: None,
                histograms: Vec::new(),
                error: Some(e.to_string()),
            },
        })
        .collect();
    Ok(LoadedCheckpoints {
        summary,
        files,
        weights,
    })
}

impl EyeballApp {
    /// Builds the app and starts opening what `options` names.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let ctx = cc.egui_ctx.clone();
        let repaint: Notify = Arc::new(move || ctx.request_repaint());
        let mut app = EyeballApp {
            dataset: DatasetState::default(),
            browse: BrowseState::default(),
            checkpoints: CheckpointState::default(),
            detail: None,
            thumbnails: ThumbnailCache::new(THUMBNAIL_BUDGET_BYTES, Arc::clone(&repaint)),
            settings: ViewSettings::default(),
            index_cache: options.index_cache,
            predictions_cache: options.predictions_cache,
            review_dir: options.review_dir,
            review: None,
            scan: ScanState::default(),
            label_review: LabelReviewState::default(),
            messages: Vec::new(),
            commands: RefCell::new(Vec::new()),
            async_commands: channel(),
            repaint,
            title: String::new(),
            last_play_step_s: None,
        };
        if let Some(path) = options.dataset {
            app.apply(Command::OpenDataset(path));
        }
        if let Some(path) = options.checkpoints {
            app.apply(Command::OpenCheckpoints(path));
        }
        app
    }

    /// The open dataset, if any.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.dataset.dataset.as_deref()
    }

    /// The index stats, once indexing finished.
    pub fn stats(&self) -> Option<&StatColumns> {
        self.dataset.stats.as_deref()
    }

    /// Dataset indices shown in the grid, in order.
    pub fn visible(&self) -> &[usize] {
        &self.browse.matches.indices
    }

    /// The grid's current filter.
    pub fn filter(&self) -> &Filter {
        &self.browse.filter
    }

    /// The model embedding the last scans used, if any.
    pub fn scan_model_embedding(&self) -> Option<&super::ModelEmbedding> {
        self.scan.model_embedding.as_ref()
    }

    /// The last scan report.
    pub fn scan_report(&self) -> Option<&crate::scan::ScanReport> {
        self.scan.report.as_deref()
    }

    /// The label review's scores and ranking.
    pub fn label_review(&self) -> &LabelReviewState {
        &self.label_review
    }

    /// The review store of the open dataset.
    pub fn review(&self) -> Option<&crate::review::ReviewStore> {
        self.review.as_ref()
    }

    /// The example open in the detail view.
    pub fn detail_example(&self) -> Option<usize> {
        self.detail.as_ref().map(|d| d.example)
    }

    /// The loaded checkpoints' summary, if any.
    pub fn checkpoints(&self) -> Option<&crate::model::CheckpointsSummary> {
        self.checkpoints.summary.as_ref()
    }

    /// Checkpoints, predictions on the fixed batch, and the slider position.
    pub fn checkpoint_state(&self) -> &CheckpointState {
        &self.checkpoints
    }

    /// The view the central area shows.
    pub fn central_view(&self) -> CentralView {
        self.settings.view
    }

    /// True while a background job runs or a command waits to be applied.
    pub fn is_busy(&self) -> bool {
        !self.commands.borrow().is_empty()
            || self.dataset.loading.is_some()
            || self.dataset.indexing.is_some()
            || self.browse.querying.is_some()
            || self.checkpoints.loading.is_some()
            || self.checkpoints.predicting.is_some()
            || self.checkpoints.checking.is_some()
            || self.scan.running.is_some()
            || self.label_review.scoring.is_some()
            || self.label_review.dynamics_job.is_some()
            || self.detail.as_ref().is_some_and(|d| d.loading.is_some())
    }

    /// Errors and notices shown to the user.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::OpenDataset(path) => {
                let label = format!("Opening {}", path.display());
                self.dataset.loading =
                    Some(Job::spawn(label, Arc::clone(&self.repaint), move |_| {
                        Dataset::open(&path).map_err(|e| e.to_string())
                    }));
            }
            Command::OpenCheckpoints(dir) => {
                let label = format!("Loading checkpoints from {}", dir.display());
                self.checkpoints.loading = Some(Job::spawn(
                    label,
                    Arc::clone(&self.repaint),
                    move |progress| load_checkpoints(&dir, progress),
                ));
            }
            Command::ShowView(view) => self.settings.view = view,
            Command::SetCheckpoint(position) => {
                let count = self
                    .checkpoints
                    .evolution
                    .as_ref()
                    .map_or(0, |e| e.predictions.len());
                self.checkpoints.current = position.min(count.saturating_sub(1));
            }
            Command::TogglePlay => {
                let count = self
                    .checkpoints
                    .evolution
                    .as_ref()
                    .map_or(0, |e| e.predictions.len());
                self.checkpoints.playing = !self.checkpoints.playing && count > 1;
                if self.checkpoints.playing && self.checkpoints.current + 1 >= count {
                    self.checkpoints.current = 0;
                }
                self.last_play_step_s = None;
            }
            Command::SetCompare(a, b) => self.checkpoints.compare = (a, b),
            Command::ShowOnlyInGrid(examples) => {
                self.browse.filter.only = Some(examples.into_iter().collect());
                self.settings.view = CentralView::Examples;
                self.detail = None;
                self.run_query();
            }
            Command::RunChecks => self.start_checks(),
            Command::SetOverfit(settings) => self.checkpoints.overfit = settings,
            Command::TogglePin(example) => {
                let pinned = &mut self.checkpoints.pinned;
                if !pinned.remove(&example) {
                    pinned.insert(example);
                }
                if self.checkpoints.using_pinned {
                    self.start_predictions();
                }
            }
            Command::UsePinnedBatch(use_pinned) => {
                self.checkpoints.using_pinned = use_pinned && !self.checkpoints.pinned.is_empty();
                self.start_predictions();
            }
            Command::SetPreprocess(preprocess) => {
                if let Some(summary) = &mut self.checkpoints.summary {
                    summary.preprocess = Some(preprocess);
                    self.checkpoints.preprocess_overridden = true;
                    self.start_predictions();
                }
            }
            Command::RunScan(settings) => {
                self.scan.settings = settings;
                self.start_scan();
            }
            Command::SetScanEmbedding(checkpoint) => {
                self.scan.embedding = checkpoint;
                if let Some(job) = &self.scan.running {
                    job.cancel();
                }
                self.scan.running = None;
                self.start_scan();
            }
            Command::SetDecision(example, decision) => {
                self.set_decision(example, decision, None, None)
            }
            Command::ScoreDataset(file) => self.start_scoring(file),
            Command::ScoreDynamics => self.start_dynamics(),
            Command::SetRankMethod(method) => {
                self.label_review.method = method;
                let needs_dynamics = matches!(method, ReviewRanking::Dynamics(_))
                    && self.label_review.dynamics.is_none();
                if needs_dynamics && self.label_review.dynamics_job.is_none() {
                    self.start_dynamics();
                }
                self.rerank();
            }
            Command::ReviewStep(step) => {
                let last = self.label_review.ranked.len().saturating_sub(1) as i64;
                self.label_review.position =
                    (self.label_review.position as i64 + step).clamp(0, last) as usize;
            }
            Command::ReviewGoTo(position) => {
                self.label_review.position =
                    position.min(self.label_review.ranked.len().saturating_sub(1));
            }
            Command::ReviewDecide(decision, new_label) => {
                if let Some(ranked) = self
                    .label_review
                    .ranked
                    .get(self.label_review.position)
                    .cloned()
                {
                    let new_label = new_label.and_then(|c| {
                        self.dataset
                            .dataset
                            .as_ref()
                            .and_then(|d| d.classes.get(c).cloned())
                    });
                    self.set_decision(
                        ranked.example,
                        Some(decision),
                        new_label,
                        Some(ranked.score),
                    );
                    let last = self.label_review.ranked.len().saturating_sub(1);
                    self.label_review.position = (self.label_review.position + 1).min(last);
                }
            }
            Command::ReviewUndo => match self.review.as_mut().map(|r| r.undo()) {
                Some(Ok(Some(path))) => {
                    let dataset = self.dataset.dataset.clone();
                    let position = self.label_review.ranked.iter().position(|r| {
                        dataset.as_ref().is_some_and(|d| {
                            crate::dataset::relative_path_text(&d.examples[r.example].path) == path
                        })
                    });
                    if let Some(position) = position {
                        self.label_review.position = position;
                    }
                }
                Some(Err(e)) => self.messages.push(e.to_string()),
                _ => {}
            },
            Command::ExportReview(corrected) => self.export_review(corrected),
            Command::PickDatasetFolder => {
                self.pick_folder("Open dataset folder", Command::OpenDataset)
            }
            Command::PickCheckpointsFolder => {
                self.pick_folder("Open checkpoints folder", Command::OpenCheckpoints)
            }
            Command::CancelJobs => {
                // Workers see the flag and stop; their late results are dropped with the job.
                if let Some(job) = self.dataset.loading.take() {
                    job.cancel();
                }
                if let Some(job) = self.dataset.indexing.take() {
                    job.cancel();
                    self.messages.push(
                        "Indexing cancelled: stats, histograms and stat filters are unavailable."
                            .into(),
                    );
                }
                if let Some(job) = self.checkpoints.loading.take() {
                    job.cancel();
                }
                if let Some(job) = self.checkpoints.predicting.take() {
                    job.cancel();
                }
                if let Some(job) = self.scan.running.take() {
                    job.cancel();
                }
                if let Some(job) = self.label_review.scoring.take() {
                    job.cancel();
                }
            }
            Command::SetThumbSize(px) => self.settings.thumb_px = px.clamp(32.0, 256.0),
            Command::Select(index) => self.settings.selected = index,
            Command::SetFilter(filter) => {
                self.browse.filter = filter;
                self.run_query();
            }
            Command::SetSort(sort) => {
                self.browse.sort = sort;
                self.run_query();
            }
            Command::OpenDetail(example) => self.open_detail(example),
            Command::StepDetail(step) => {
                let visible = &self.browse.matches.indices;
                let current = self
                    .detail
                    .as_ref()
                    .and_then(|d| visible.iter().position(|&i| i == d.example));
                if let Some(position) = current {
                    let next = (position as i64 + step).clamp(0, visible.len() as i64 - 1) as usize;
                    let example = visible[next];
                    if Some(example) != self.detail_example() {
                        self.open_detail(example);
                    }
                }
            }
            Command::CloseDetail => self.detail = None,
            Command::ToggleStatsPanel => {
                self.settings.show_stats_panel = !self.settings.show_stats_panel
            }
            Command::ShowMessage(message) => self.messages.push(message),
            Command::DismissMessage(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
        }
    }

    fn open_detail(&mut self, example: usize) {
        let Some(dataset) = self.dataset.dataset.clone() else {
            return;
        };
        let Some(entry) = dataset.examples.get(example) else {
            return;
        };
        let path = dataset.absolute_path(entry);
        self.settings.selected = Some(example);
        let preprocess = self
            .checkpoints
            .summary
            .as_ref()
            .and_then(|s| s.preprocess.clone());
        let loading = Job::spawn(
            "Decoding full image",
            Arc::clone(&self.repaint),
            move |_| {
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
            },
        );
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
    }

    /// Filters and sorts: inline for small datasets, on a worker for large ones.
    fn run_query(&mut self) {
        let Some(dataset) = self.dataset.dataset.clone() else {
            return;
        };
        let stats = self.dataset.stats.clone();
        let (filter, sort) = (self.browse.filter.clone(), self.browse.sort.clone());
        if dataset.examples.len() < BACKGROUND_QUERY_MIN_EXAMPLES {
            self.browse.matches = Arc::new(find_matches(
                &dataset,
                stats.as_deref(),
                &filter,
                &sort,
                HISTOGRAM_BINS,
            ));
            self.browse.querying = None;
        } else {
            self.browse.querying = Some(Job::spawn(
                "Filtering",
                Arc::clone(&self.repaint),
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

    /// Runs every checkpoint on the fixed batch, once both a dataset and checkpoints are open.
    fn start_predictions(&mut self) {
        let (Some(dataset), Some(summary)) = (
            self.dataset.dataset.clone(),
            self.checkpoints.summary.as_ref(),
        ) else {
            return;
        };
        let Some(preprocess) = summary.preprocess.clone() else {
            self.messages.push(format!(
                "{}: no preprocess.json next to the checkpoints, so predictions cannot be made (see the README for its format)",
                summary.dir.display()
            ));
            return;
        };
        let batch = if self.checkpoints.using_pinned && !self.checkpoints.pinned.is_empty() {
            crate::model::FixedBatch::from_examples(
                &dataset,
                self.checkpoints.pinned.iter().copied(),
            )
        } else {
            default_fixed_batch(&dataset, FIXED_BATCH_SIZE, FIXED_BATCH_SEED)
        };
        self.checkpoints.batch = batch.clone();
        self.checkpoints.evolution = None;
        self.checkpoints.checks = None;
        let files = self.checkpoints.files.clone();
        let cache = self.predictions_cache.clone();
        let label = format!(
            "Predicting {} examples with {} checkpoints",
            batch.len(),
            files.len()
        );
        self.checkpoints.predicting = Some(Job::spawn(
            label,
            Arc::clone(&self.repaint),
            move |progress| {
                init_torch();
                run_evolution(
                    &files,
                    &preprocess,
                    &dataset,
                    &batch,
                    cache.as_deref(),
                    progress,
                )
                .map_err(|e| e.to_string())
            },
        ));
    }

    /// The open dataset and the loaded checkpoints' preprocessing, when both are there.
    fn dataset_with_preprocess(&self) -> Option<(Arc<Dataset>, crate::model::Preprocess)> {
        let dataset = self.dataset.dataset.clone()?;
        let preprocess = self.checkpoints.summary.as_ref()?.preprocess.clone()?;
        Some((dataset, preprocess))
    }

    /// Runs the recipe's sanity checks on the fixed batch.
    fn start_checks(&mut self) {
        let Some((dataset, preprocess)) = self.dataset_with_preprocess() else {
            return;
        };
        let (files, batch, overfit) = (
            self.checkpoints.files.clone(),
            self.checkpoints.batch.clone(),
            self.checkpoints.overfit.clone(),
        );
        self.checkpoints.checking = Some(Job::spawn(
            "Running recipe checks",
            Arc::clone(&self.repaint),
            move |progress| {
                init_torch();
                recipe_checks(
                    &files,
                    &preprocess,
                    &dataset,
                    &batch,
                    &overfit,
                    default_device(),
                    progress,
                )
                .map_err(|e| e.to_string())
            },
        ));
    }

    /// Scans for duplicates, outliers and quality problems, once the index is ready.
    fn start_scan(&mut self) {
        let (Some(dataset), Some(index)) =
            (self.dataset.dataset.clone(), self.dataset.index.clone())
        else {
            return;
        };
        let settings = self.scan.settings.clone();
        // The checkpoint whose embedding is used, with the TorchScript file a weights-only one
        // is applied to, and the preprocessing.
        let model = self.scan.embedding.as_ref().and_then(|name| {
            let files = &self.checkpoints.files;
            let file = files.iter().find(|f| &f.name == name)?.clone();
            let template = files.iter().find(|f| f.is_runnable()).cloned();
            let preprocess = self.checkpoints.summary.as_ref()?.preprocess.clone()?;
            // The same weights under other preprocessing embed differently.
            let preprocessing = serde_json::to_string(&preprocess).unwrap_or_default();
            let preprocessing = xxhash_rust::xxh3::xxh3_64(preprocessing.as_bytes());
            let key = match (&template, file.is_runnable()) {
                (Some(template), false) => {
                    format!("{}-{}-{preprocessing:016x}", file.hash, template.hash)
                }
                _ => format!("{}-{preprocessing:016x}", file.hash),
            };
            let cached = self
                .scan
                .model_embedding
                .clone()
                .filter(|cached| cached.key == key);
            Some((file, template, preprocess, key, cached))
        });
        if self.scan.embedding.is_some() && model.is_none() {
            self.messages.push(
                "Scan: the chosen checkpoint or its preprocessing is not loaded; scanning without a model embedding".into(),
            );
            self.scan.embedding = None;
        }
        let label = match &model {
            Some((file, .., None)) => format!(
                "Embedding {} images with {}, then scanning",
                dataset.examples.len(),
                file.name
            ),
            _ => format!("Scanning {} images for data issues", dataset.examples.len()),
        };
        self.scan.running = Some(Job::spawn(
            label,
            Arc::clone(&self.repaint),
            move |progress| {
                let embedding = match model {
                    Some((.., Some(cached))) => Some(cached),
                    Some((file, template, preprocess, key, None)) => {
                        init_torch();
                        let readable = index.readable_examples();
                        let embedding = crate::model::embedding::embed_examples(
                            &file,
                            template.as_ref(),
                            &preprocess,
                            &dataset,
                            &readable,
                            progress,
                        )
                        .map_err(|e| e.to_string())?;
                        Some(super::ModelEmbedding {
                            key,
                            embedding: Arc::new(embedding),
                        })
                    }
                    None => None,
                };
                let model_embedding = embedding.as_ref().map(|e| e.embedding.as_ref());
                crate::scan::scan_with(&dataset, &index, &settings, model_embedding, progress)
                    .map(|report| (report, embedding))
                    .map_err(|e| e.to_string())
            },
        ));
    }

    /// Saves the user's decision about an example at once; a failed save is shown, and the
    /// decision stays in memory.
    fn set_decision(
        &mut self,
        example: usize,
        decision: Option<crate::review::Decision>,
        new_label: Option<String>,
        score: Option<f64>,
    ) {
        let (Some(store), Some(dataset)) = (self.review.as_mut(), self.dataset.dataset.as_ref())
        else {
            self.messages
                .push("No review file is open, so the decision cannot be saved.".into());
            return;
        };
        let Some(entry) = dataset.examples.get(example) else {
            return;
        };
        let path = crate::dataset::relative_path_text(&entry.path);
        let result = match decision {
            Some(decision) => store.record(crate::review::ReviewEntry {
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
            self.messages.push(e.to_string());
        }
    }

    /// Scores every labelled example with one checkpoint, on a worker, with progress and cancel.
    fn start_scoring(&mut self, file: usize) {
        let (Some((dataset, preprocess)), Some(file)) = (
            self.dataset_with_preprocess(),
            self.checkpoints.files.get(file).cloned(),
        ) else {
            return;
        };
        let cache = self.predictions_cache.clone();
        self.label_review.scored_with = file.name.clone();
        let label = format!(
            "Scoring {} examples with {}",
            dataset.examples.len(),
            file.name
        );
        self.label_review.scoring = Some(Job::spawn(
            label,
            Arc::clone(&self.repaint),
            move |progress| {
                init_torch();
                let batch = crate::model::FixedBatch::all(&dataset);
                let evolution = run_evolution(
                    std::slice::from_ref(&file),
                    &preprocess,
                    &dataset,
                    &batch,
                    cache.as_deref(),
                    progress,
                )
                .map_err(|e| e.to_string())?;
                if let Some((_, _, message)) = evolution.failures.first() {
                    return Err(message.clone());
                }
                let predictions = crate::model::BatchPredictions::concat(evolution.predictions)
                    .ok_or("no predictions")?;
                let classes = crate::model::predict::ClassMap::new(&dataset, &preprocess);
                Ok(crate::model::label_issues::Scores::from_predictions(
                    &dataset,
                    &predictions,
                    &classes,
                ))
            },
        ));
    }

    /// Runs every checkpoint over the labelled examples, for the dynamics rankings.
    fn start_dynamics(&mut self) {
        let Some((dataset, preprocess)) = self.dataset_with_preprocess() else {
            return;
        };
        let (files, cache) = (
            self.checkpoints.files.clone(),
            self.predictions_cache.clone(),
        );
        let label = format!(
            "Running {} checkpoints over {} examples",
            files.iter().filter(|f| f.is_runnable()).count(),
            dataset.examples.len()
        );
        self.label_review.dynamics_job = Some(Job::spawn(
            label,
            Arc::clone(&self.repaint),
            move |progress| {
                init_torch();
                crate::model::dynamics::dynamics_of_files(
                    &files,
                    &dataset,
                    &preprocess,
                    None,
                    cache.as_deref(),
                    progress,
                )
                .map_err(|e| e.to_string())
            },
        ));
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
            _ => return,
        };
        state.ranked = ranked;
        state.position = 0;
    }

    /// Asks where to save, then writes the decisions or the corrected labels (.csv or .parquet).
    fn export_review(&mut self, corrected: bool) {
        let (Some(store), Some(dataset)) = (self.review.as_ref(), self.dataset.dataset.as_ref())
        else {
            return;
        };
        let name = if corrected {
            "corrected_labels.csv"
        } else {
            "review_decisions.csv"
        };
        let Some(path) = rfd::FileDialog::new()
            .set_file_name(name)
            .add_filter("table", &["csv", "parquet"])
            .save_file()
        else {
            // A cancel and a desktop without a file-dialog portal look the same from here.
            self.messages.push(format!(
                "Nothing exported: no file was chosen. If no dialog appeared, this desktop has no \
                 xdg-desktop-portal; every decision is saved in {}",
                store.file().display()
            ));
            return;
        };
        let result = if corrected {
            crate::index::write_table(&mut store.corrected_labels(dataset), &path)
                .map_err(|e| e.to_string())
        } else {
            store.export(&path).map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => self
                .messages
                .push(format!("Exported to {}", path.display())),
            Err(e) => self.messages.push(e),
        }
    }

    fn open_review(&mut self, root: &Path) {
        self.review = None;
        let Some(dir) = &self.review_dir else { return };
        match crate::review::ReviewStore::open(dir, root) {
            Ok((store, problem)) => {
                if let Some(problem) = problem {
                    self.messages.push(problem.to_string());
                }
                self.review = Some(store);
            }
            Err(e) => self.messages.push(e.to_string()),
        }
    }

    fn start_indexing(&mut self, dataset: Arc<Dataset>) {
        let cache = self.index_cache.clone();
        let label = format!("Indexing {} images", dataset.examples.len());
        self.dataset.indexing = Some(Job::spawn(
            label,
            Arc::clone(&self.repaint),
            move |progress| {
                build_index(&dataset, cache, progress)
                    .map_err(|e| e.to_string())
                    .map(|index| {
                        let stats = StatColumns::new(index.numeric_columns(&dataset));
                        (index, stats)
                    })
            },
        ));
    }

    /// Shows a native folder dialog on its own thread, so the UI keeps drawing.
    fn pick_folder(&self, title: &'static str, then: fn(PathBuf) -> Command) {
        let sender = self.async_commands.0.clone();
        let repaint = Arc::clone(&self.repaint);
        std::thread::spawn(move || {
            let command = match rfd::FileDialog::new().set_title(title).pick_folder() {
                Some(folder) => then(folder),
                // A cancel and a desktop without a file-dialog portal look the same from here.
                None => Command::ShowMessage(
                    "No folder was chosen. If no dialog appeared, this desktop has no \
                     xdg-desktop-portal: drop the folder on the window, or pass it on the command \
                     line (eyeball DATASET --checkpoints DIR)"
                        .into(),
                ),
            };
            let _ = sender.send(command);
            repaint();
        });
    }

    fn poll_jobs(&mut self, ctx: &egui::Context) {
        if let Some(result) = self.dataset.loading.as_mut().and_then(|j| j.poll()) {
            self.dataset.loading = None;
            match result {
                Ok(dataset) => {
                    self.messages.extend(dataset.warnings.iter().cloned());
                    let dataset = Arc::new(dataset);
                    self.thumbnails.reset();
                    self.settings.selected = None;
                    self.detail = None;
                    self.dataset.index = None;
                    self.dataset.stats = None;
                    self.browse = BrowseState::default();
                    self.dataset.facts = super::DatasetFacts::new(&dataset, None);
                    self.dataset.dataset = Some(Arc::clone(&dataset));
                    self.scan.report = None;
                    self.scan.running = None;
                    self.scan.model_embedding = None;
                    self.checkpoints.pinned.clear();
                    self.label_review = LabelReviewState::default();
                    self.checkpoints.using_pinned = false;
                    self.open_review(&dataset.root);
                    self.run_query();
                    self.start_indexing(dataset);
                    self.start_predictions();
                }
                Err(message) => self.messages.push(message),
            }
        }
        if let Some(result) = self.dataset.indexing.as_mut().and_then(|j| j.poll()) {
            self.dataset.indexing = None;
            match result {
                Ok((index, stats)) => {
                    if let Some(dataset) = &self.dataset.dataset {
                        self.dataset.facts = super::DatasetFacts::new(dataset, Some(&index));
                    }
                    self.dataset.index = Some(Arc::new(index));
                    self.dataset.stats = Some(Arc::new(stats));
                    self.run_query();
                    self.start_scan();
                }
                Err(message) => self.messages.push(format!("Indexing failed: {message}")),
            }
        }
        if let Some(result) = self.browse.querying.as_mut().and_then(|j| j.poll()) {
            self.browse.querying = None;
            match result {
                Ok(matches) => self.browse.matches = Arc::new(matches),
                Err(message) => self.messages.push(format!("Filtering failed: {message}")),
            }
        }
        if let Some(result) = self.checkpoints.loading.as_mut().and_then(|j| j.poll()) {
            self.checkpoints.loading = None;
            match result {
                Ok(LoadedCheckpoints {
                    summary,
                    files,
                    weights,
                }) => {
                    self.messages.extend(summary.errors.iter().cloned());
                    if summary.files.is_empty() {
                        self.messages.push(format!(
                            "{}: no checkpoint files (.pt, .pth, .ts, .torchscript)",
                            summary.dir.display()
                        ));
                    }
                    self.checkpoints.weights = weights
                        .into_iter()
                        .zip(&files)
                        .map(
                            |(
                                LoadedWeights {
                                    filters,
                                    histograms,
                                    error,
                                },
                                file,
                            )| {
                                let filter_textures = filters
                                    .as_ref()
                                    .map(|f| {
                                        (0..f.out_channels)
                                            .map(|i| {
                                                let (w, h, rgba) = f.filter_rgba(i);
                                                let image =
                                                    egui::ColorImage::from_rgba_unmultiplied(
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
                                    filters,
                                    filter_textures,
                                    histograms,
                                    error,
                                }
                            },
                        )
                        .collect();
                    self.checkpoints.files = files;
                    self.checkpoints.summary = Some(summary);
                    self.start_predictions();
                }
                Err(message) => self.messages.push(message),
            }
        }
        if let Some(result) = self.checkpoints.predicting.as_mut().and_then(|j| j.poll()) {
            self.checkpoints.predicting = None;
            match result {
                Ok(evolution) => {
                    for (_, _, message) in &evolution.failures {
                        self.messages.push(message.clone());
                    }
                    self.messages.extend(evolution.notes.iter().cloned());
                    let last = evolution.predictions.len().saturating_sub(1);
                    self.checkpoints.current = 0;
                    self.checkpoints.compare = (0, last);
                    self.checkpoints.evolution = Some(evolution);
                    self.start_checks();
                }
                Err(message) => self.messages.push(message),
            }
        }
        if let Some(result) = self
            .label_review
            .dynamics_job
            .as_mut()
            .and_then(|j| j.poll())
        {
            self.label_review.dynamics_job = None;
            match result {
                Ok((dynamics, last)) => {
                    self.label_review.scored_with = format!(
                        "every checkpoint ({}; probabilities of {})",
                        dynamics.checkpoints.len(),
                        dynamics.checkpoints.last().map_or("", String::as_str)
                    );
                    let classes = self.dataset.dataset.as_ref().map_or(0, |d| d.classes.len());
                    self.label_review.curves = Some(Arc::new(dynamics.curves(classes)));
                    self.label_review.dynamics = Some(Arc::new(dynamics));
                    self.label_review.scores = Some(Arc::new(last));
                    self.rerank();
                }
                Err(message) => self.messages.push(format!("Dynamics: {message}")),
            }
        }
        if let Some(result) = self.label_review.scoring.as_mut().and_then(|j| j.poll()) {
            self.label_review.scoring = None;
            match result {
                Ok(scores) => {
                    self.label_review.scores = Some(Arc::new(scores));
                    self.rerank();
                }
                Err(message) => self.messages.push(format!("Scoring: {message}")),
            }
        }
        if let Some(result) = self.scan.running.as_mut().and_then(|j| j.poll()) {
            self.scan.running = None;
            match result {
                Ok((report, embedding)) => {
                    self.messages.extend(report.warnings.iter().cloned());
                    self.scan.report = Some(Arc::new(report));
                    if embedding.is_some() {
                        self.scan.model_embedding = embedding;
                    }
                }
                Err(message) => self.messages.push(format!("Scan: {message}")),
            }
        }
        if let Some(result) = self.checkpoints.checking.as_mut().and_then(|j| j.poll()) {
            self.checkpoints.checking = None;
            self.checkpoints.checks = Some(result);
        }
        if let Some(detail) = &mut self.detail
            && let Some(result) = detail.loading.as_mut().and_then(|j| j.poll())
        {
            detail.loading = None;
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
                        let image = egui::ColorImage::from_rgba_unmultiplied(
                            [*w as usize, *h as usize],
                            rgba,
                        );
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
    }

    /// Steps the playing evolution every `PLAY_STEP_S`, stopping at the last checkpoint.
    fn advance_playback(&mut self, ctx: &egui::Context) {
        if !self.checkpoints.playing {
            return;
        }
        let now = ctx.input(|i| i.time);
        let last = *self.last_play_step_s.get_or_insert(now);
        if now - last >= PLAY_STEP_S {
            self.last_play_step_s = Some(now);
            let count = self
                .checkpoints
                .evolution
                .as_ref()
                .map_or(0, |e| e.predictions.len());
            if self.checkpoints.current + 1 < count {
                self.checkpoints.current += 1;
            }
            if self.checkpoints.current + 1 >= count {
                self.checkpoints.playing = false;
            }
        }
        ctx.request_repaint_after(std::time::Duration::from_secs_f64(PLAY_STEP_S / 4.0));
    }

    /// A dropped folder opens as checkpoints if it holds checkpoint files, else as a dataset.
    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            let command = if path.is_file() && has_checkpoint_extension(&path) {
                path.parent()
                    .map(|p| Command::OpenCheckpoints(p.to_path_buf()))
            } else if path.is_dir() && holds_checkpoints(&path) {
                Some(Command::OpenCheckpoints(path))
            } else {
                Some(Command::OpenDataset(path))
            };
            if let Some(command) = command {
                self.apply(command);
            }
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match self.dataset() {
            Some(ds) => format!("eyeball - {}", ds.display_name()),
            None => "eyeball".to_string(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }
}

fn has_checkpoint_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| CHECKPOINT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn holds_checkpoints(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| has_checkpoint_extension(&e.path()))
    })
}

impl eframe::App for EyeballApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.handle_dropped_files(ctx);
        while let Ok(command) = self.async_commands.1.try_recv() {
            self.apply(command);
        }
        let queued: Vec<Command> = self.commands.borrow_mut().drain(..).collect();
        for command in queued {
            self.apply(command);
        }
        self.poll_jobs(ctx);
        self.advance_playback(ctx);
        self.update_title(ctx);
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.thumbnails.begin_frame(ui.ctx());
        let view = ViewCtx {
            dataset: &self.dataset,
            scan: &self.scan,
            label_review: &self.label_review,
            review: self.review.as_ref(),
            browse: &self.browse,
            checkpoints: &self.checkpoints,
            detail: self.detail.as_ref(),
            thumbnails: &self.thumbnails,
            settings: &self.settings,
            messages: &self.messages,
            commands: &self.commands,
        };
        egui::Panel::top("menu").show(ui, |ui| super::menu::menu_ui(&view, ui));
        egui::Panel::bottom("status").show(ui, |ui| super::status::status_ui(&view, ui));
        egui::Panel::left("sidebar")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    super::overview::overview_ui(&view, ui);
                    ui.separator();
                    super::filters::filters_ui(&view, ui);
                    ui.separator();
                    super::checkpoints::checkpoints_ui(&view, ui);
                });
            });
        if self.settings.show_stats_panel
            && self.dataset.dataset.is_some()
            && self.detail.is_none()
            && self.settings.view == CentralView::Examples
        {
            egui::Panel::right("stats")
                .resizable(true)
                .default_size(300.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| super::stats::stats_ui(&view, ui));
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            super::evolution::view_tabs_ui(&view, ui);
            match (view.settings.view, view.detail) {
                (CentralView::Examples, Some(detail)) => {
                    super::detail::detail_ui(&view, detail, ui)
                }
                (CentralView::Examples, None) => super::grid::grid_ui(&view, ui),
                (CentralView::Predictions, _) => super::evolution::evolution_ui(&view, ui),
                (CentralView::Compare, _) => super::compare::compare_ui(&view, ui),
                (CentralView::Filters, _) => super::filters_viz::filters_viz_ui(&view, ui),
                (CentralView::Checks, _) => super::checks::checks_ui(&view, ui),
                (CentralView::Issues, _) => super::issues::issues_ui(&view, ui),
                (CentralView::Review, _) => super::review::review_ui(&view, ui),
                (CentralView::DataMap, _) => super::datamap::datamap_ui(&view, ui),
            }
        });
        self.thumbnails.end_frame();
        if !self.commands.borrow().is_empty() {
            ui.ctx().request_repaint();
        }
    }
}
