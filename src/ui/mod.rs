//! Everything egui: the app shell, one file per panel, and the per-frame view context that
//! panels read from. Panels never mutate state; they send `Command`s that `app.rs` applies.

pub mod app;
mod checkpoints;
mod checks;
mod compare;
mod datamap;
mod dataset_session;
mod detail;
pub mod embedmap;
mod evolution;
mod filters;
mod filters_viz;
mod grid;
mod issues;
mod menu;
mod model_session;
mod overview;
mod review;
mod scatter;
mod stats;
mod status;
pub mod thumbnails;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use crate::browse::{Filter, Matches, Sort};
use crate::dataset::Dataset;
use crate::index::Index;
use crate::jobs::{Job, Notify, RunningJob};
use crate::model::InputView;
use crate::model::dynamics::Dynamics;
use crate::model::label_issues::Scores;
use crate::model::weights::Histogram;
use crate::pipelines::{ModelEmbedding, ScanOutcome};
pub use dataset_session::DatasetSession;
pub use model_session::ModelSession;
use thumbnails::ThumbnailCache;

/// A change a panel asks for, sent to the state that owns what it changes; applied between frames.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    App(AppCommand),
    Dataset(DatasetCommand),
    Model(ModelCommand),
    View(ViewCommand),
}

/// What the app shell does: open things, dialogs, messages, every job at once.
#[derive(Clone, Debug, PartialEq)]
pub enum AppCommand {
    OpenDataset(PathBuf),
    OpenCheckpoints(PathBuf),
    /// Show a native folder dialog, then open the dataset picked.
    PickDatasetFolder,
    /// Show a native folder dialog, then open the checkpoints picked.
    PickCheckpointsFolder,
    CancelJobs,
    DismissMessage(usize),
    /// Show a notice to the user (from a worker thread, such as a file dialog's).
    ShowMessage(String),
}

/// Changes to the open dataset's session: browsing, the detail view, pins, scan, review.
#[derive(Clone, Debug, PartialEq)]
pub enum DatasetCommand {
    SetFilter(Filter),
    SetSort(Sort),
    /// Show only these examples in the grid (e.g. the flips between two checkpoints).
    ShowOnlyInGrid(Vec<usize>),
    /// Open the detail view on an example (index into the dataset).
    OpenDetail(usize),
    /// Move the detail view by this many places in the current filtered, sorted order.
    StepDetail(i64),
    CloseDetail,
    /// Add an example to (or remove it from) the pinned fixed batch.
    TogglePin(usize),
    /// Make these examples the pinned fixed batch, and run the checkpoints on them.
    PinOnly(Vec<usize>),
    /// Scan the dataset for duplicates, outliers and quality problems with these settings.
    RunScan(crate::scan::ScanSettings),
    /// Also search near duplicates and outliers in this checkpoint's penultimate-layer embedding
    /// (its file name), or in image hashes and thumbnails only (`None`); then scan again.
    SetScanEmbedding(Option<String>),
    /// Record (or, with `None`, clear) the user's decision about an example.
    SetDecision(usize, Option<crate::review::Decision>),
    /// Score every labelled example with checkpoint `files[i]`, for the label review.
    ScoreDataset(usize),
    /// Run every checkpoint over the labelled examples of a split (`None`: every split), for the
    /// data map and the dynamics rankings.
    ScoreDynamics(Option<String>),
    SetRankMethod(ReviewRanking),
    /// Move the label review by this many places in the ranking.
    ReviewStep(i64),
    /// Jump the label review to this position in the ranking.
    ReviewGoTo(usize),
    /// Decide about the reviewed example (with a new label for `Relabel`), then move on.
    ReviewDecide(crate::review::Decision, Option<usize>),
    ReviewUndo,
    /// Ask for a file, then export the decisions (`false`) or the corrected labels (`true`).
    ExportReview(bool),
    /// Make the embedding map from this checkpoint's penultimate layer (its file name), or from
    /// the images' thumbnails (`None`).
    ComputeMap(Option<String>),
}

/// Changes to the loaded checkpoints' session: the slider, comparisons, checks, the batch.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelCommand {
    /// Move the checkpoint slider to this position in the evolution.
    SetCheckpoint(usize),
    TogglePlay,
    /// Pick the two checkpoints to compare (positions in the evolution).
    SetCompare(usize, usize),
    RunChecks,
    /// Choose what the overfit check trains on (takes effect on the next run).
    SetOverfit(crate::model::OverfitSettings),
    /// Run the checkpoints on the pinned examples (`true`) or on the default batch (`false`).
    UsePinnedBatch(bool),
    /// Replace the preprocessing read from preprocess.json, and rerun the predictions.
    SetPreprocess(crate::model::Preprocess),
}

/// How things are shown: which view, thumbnail size, selection, panels.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewCommand {
    /// Switch the central area to another view.
    ShowView(CentralView),
    SetThumbSize(f32),
    Select(Option<usize>),
    ToggleStatsPanel,
}

impl From<AppCommand> for Command {
    fn from(c: AppCommand) -> Command {
        Command::App(c)
    }
}
impl From<DatasetCommand> for Command {
    fn from(c: DatasetCommand) -> Command {
        Command::Dataset(c)
    }
}
impl From<ModelCommand> for Command {
    fn from(c: ModelCommand) -> Command {
        Command::Model(c)
    }
}
impl From<ViewCommand> for Command {
    fn from(c: ViewCommand) -> Command {
        Command::View(c)
    }
}

/// What the sessions need from the app shell while they apply commands and take job results:
/// the repaint call for their jobs, the user's messages, and a way to run a blocking step (a file
/// dialog, a write) off the UI thread.
pub struct Env<'a> {
    pub repaint: &'a Notify,
    pub messages: &'a mut Vec<String>,
    async_commands: &'a Sender<Command>,
}

impl<'a> Env<'a> {
    pub fn new(
        repaint: &'a Notify,
        messages: &'a mut Vec<String>,
        async_commands: &'a Sender<Command>,
    ) -> Env<'a> {
        Env {
            repaint,
            messages,
            async_commands,
        }
    }

    /// Runs `work` on a thread of its own; the message it returns is shown when it is done.
    pub fn in_background(&self, work: impl FnOnce() -> String + Send + 'static) {
        let (sender, repaint) = (self.async_commands.clone(), Arc::clone(self.repaint));
        std::thread::spawn(move || {
            let message = work();
            let _ = sender.send(AppCommand::ShowMessage(message).into());
            repaint();
        });
    }
}

/// Whole-dataset facts the panels show every frame, computed once per dataset or index so
/// frame time does not grow with the number of examples.
#[derive(Clone, Debug, Default)]
pub struct DatasetFacts {
    pub class_counts: Vec<crate::dataset::ClassCount>,
    /// `"train 4000, val 1000"`; empty without splits.
    pub splits_text: String,
    pub imbalance_ratio: Option<f64>,
    pub has_boxes: bool,
    /// Files that failed to decode (known once indexed).
    pub unreadable: usize,
}

impl DatasetFacts {
    /// Computes the facts of `dataset`, and of its index when there is one.
    pub fn new(dataset: &Dataset, index: Option<&Index>) -> DatasetFacts {
        let splits: Vec<String> = dataset
            .split_counts()
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        DatasetFacts {
            class_counts: dataset.class_counts(),
            splits_text: splits.join(", "),
            imbalance_ratio: dataset.imbalance_ratio(),
            has_boxes: dataset.examples.iter().any(|e| !e.annotations.is_empty()),
            unreadable: index.map_or(0, |i| {
                i.records
                    .iter()
                    .filter(|r| r.decode_error.is_some())
                    .count()
            }),
        }
    }
}

/// The grid's filter and sort, and the examples they select.
#[derive(Default)]
pub struct BrowseState {
    pub filter: Filter,
    pub sort: Sort,
    /// Examples passing the filter, in sort order, with their histograms. Kept on screen
    /// while a new query runs.
    pub matches: Arc<Matches>,
    pub querying: Option<Job<Result<Matches, String>>>,
}

/// What the central area shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CentralView {
    #[default]
    Examples,
    Predictions,
    Compare,
    Filters,
    Checks,
    Issues,
    Review,
    DataMap,
    EmbeddingMap,
}

/// Ranking the dataset by how likely each label is wrong, and reviewing it with the keyboard.
pub struct LabelReviewState {
    pub scores: Option<Arc<crate::model::label_issues::Scores>>,
    pub scoring: Option<Job<Result<crate::model::label_issues::Scores, String>>>,
    /// Name of the checkpoint that produced `scores`.
    pub scored_with: String,
    /// How every checkpoint learned each example, once computed.
    pub dynamics: Option<Arc<crate::model::dynamics::Dynamics>>,
    /// Loss and accuracy of every checkpoint over `dynamics`, computed once when it arrives.
    pub curves: Option<Arc<crate::model::dynamics::SplitCurves>>,
    pub dynamics_job: Option<Job<Result<(Dynamics, Scores), String>>>,
    /// The split the dynamics run over (`None`: every split); the rankings' default too.
    pub dynamics_split: Option<String>,
    pub method: ReviewRanking,
    pub ranked: Vec<crate::model::label_issues::Ranked>,
    /// Position in `ranked` under review.
    pub position: usize,
}

impl Default for LabelReviewState {
    fn default() -> Self {
        LabelReviewState {
            scores: None,
            scoring: None,
            scored_with: String::new(),
            dynamics: None,
            curves: None,
            dynamics_job: None,
            dynamics_split: None,
            method: ReviewRanking::OneCheckpoint(crate::model::label_issues::RankMethod::Loss),
            ranked: Vec::new(),
            position: 0,
        }
    }
}

/// How the label review ranks: by one checkpoint's probabilities, or by how every checkpoint
/// learned the example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewRanking {
    OneCheckpoint(crate::model::label_issues::RankMethod),
    Dynamics(crate::model::dynamics::DynamicsRank),
    /// The share of each example's nearest neighbours on the embedding map that carry another
    /// label, highest first (needs a map; no checkpoint).
    MapNeighbours,
}

/// The data-quality scan: its last report, and the job computing the next one.
pub struct ScanState {
    pub report: Option<Arc<crate::scan::ScanReport>>,
    pub running: Option<Job<Result<ScanOutcome, String>>>,
    /// The last model embedding, reused by rescans with other thresholds.
    pub model_embedding: Option<ModelEmbedding>,
    /// The settings of the last scan started; the panel edits a copy.
    pub settings: crate::scan::ScanSettings,
    /// File name of the checkpoint whose embedding the scan uses; `None`: hashes and thumbnails.
    pub embedding: Option<String>,
}

impl Default for ScanState {
    fn default() -> Self {
        ScanState {
            report: None,
            running: None,
            model_embedding: None,
            settings: app_scan_settings(),
            embedding: None,
        }
    }
}

/// The app's scan defaults: the CLI's, with mirrored copies counted as the same shot (a user
/// looking at pictures sees a mirror as the same photo; the CLI keeps the stricter rule).
pub fn app_scan_settings() -> crate::scan::ScanSettings {
    crate::scan::ScanSettings {
        near_duplicate_mirror: true,
        ..Default::default()
    }
}

/// One checkpoint's weights as the filters view shows them.
pub struct CheckpointWeights {
    pub filters: Option<crate::model::Filters>,
    /// One texture per first-layer filter, made when the weights arrive.
    pub filter_textures: Vec<egui::TextureHandle>,
    pub histograms: Vec<(String, Histogram)>,
    pub error: Option<String>,
}

/// The full-size view of one example.
pub struct DetailState {
    /// Dataset index of the example shown.
    pub example: usize,
    pub image: Option<egui::TextureHandle>,
    pub error: Option<String>,
    /// "What goes into the net", when checkpoints with a preprocessing sidecar are loaded.
    pub input: Option<Result<InputShown, String>>,
    pub loading: Option<Job<DetailImages>>,
}

/// "What goes into the net" with its images uploaded.
pub struct InputShown {
    pub view: InputView,
    /// One texture per `view.steps`.
    pub steps: Vec<egui::TextureHandle>,
    /// The tensor, de-normalised.
    pub tensor: egui::TextureHandle,
}

/// What the detail view's worker decodes: the image, and the model's input for it.
pub struct DetailImages {
    pub image: Result<egui::ColorImage, String>,
    pub input: Option<Result<InputView, String>>,
}

impl crate::jobs::JobOutput for DetailImages {
    fn from_panic(message: String) -> Self {
        DetailImages {
            image: Err(message),
            input: None,
        }
    }
}

/// View settings the user changes with widgets.
pub struct ViewSettings {
    pub thumb_px: f32,
    pub selected: Option<usize>,
    pub show_stats_panel: bool,
    pub view: CentralView,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            thumb_px: 96.0,
            selected: None,
            show_stats_panel: true,
            view: CentralView::Examples,
        }
    }
}

impl ViewSettings {
    /// Applies a view command.
    pub fn apply(&mut self, command: ViewCommand) {
        match command {
            ViewCommand::ShowView(view) => self.view = view,
            ViewCommand::SetThumbSize(px) => self.thumb_px = px.clamp(32.0, 256.0),
            ViewCommand::Select(index) => self.selected = index,
            ViewCommand::ToggleStatsPanel => self.show_stats_panel = !self.show_stats_panel,
        }
    }
}

/// What every panel reads from during one frame, and where it sends its commands.
pub struct ViewCtx<'a> {
    /// The open dataset's session (an empty one before a dataset opens).
    pub dataset: &'a DatasetSession,
    pub scan: &'a ScanState,
    pub label_review: &'a LabelReviewState,
    /// The embedding map and the job making the next one.
    pub map: &'a embedmap::MapState,
    /// The user's decisions (keep/exclude, relabels), when the review file could be opened.
    pub review: Option<&'a crate::review::ReviewStore>,
    pub browse: &'a BrowseState,
    /// The loaded checkpoints' session.
    pub checkpoints: &'a ModelSession,
    pub detail: Option<&'a DetailState>,
    /// The dataset being opened, until it replaces the session.
    pub opening: Option<&'a dyn RunningJob>,
    pub thumbnails: &'a ThumbnailCache,
    pub settings: &'a ViewSettings,
    /// Errors and notices for the user, oldest first.
    pub messages: &'a [String],
    commands: &'a RefCell<Vec<Command>>,
}

impl<'a> ViewCtx<'a> {
    /// The view of the app's state for one frame.
    pub fn new(
        dataset: &'a DatasetSession,
        checkpoints: &'a ModelSession,
        opening: Option<&'a dyn RunningJob>,
        thumbnails: &'a ThumbnailCache,
        settings: &'a ViewSettings,
        messages: &'a [String],
        commands: &'a RefCell<Vec<Command>>,
    ) -> ViewCtx<'a> {
        ViewCtx {
            dataset,
            scan: &dataset.scan,
            label_review: &dataset.label_review,
            map: &dataset.map,
            review: dataset.review.as_ref(),
            browse: &dataset.browse,
            checkpoints,
            detail: dataset.detail.as_ref(),
            opening,
            thumbnails,
            settings,
            messages,
            commands,
        }
    }

    /// Queues a command for its owner to apply after this frame.
    pub fn send(&self, command: impl Into<Command>) {
        self.commands.borrow_mut().push(command.into());
    }

    /// Every running job, for the status bar.
    pub fn running_jobs(&self) -> Vec<&dyn RunningJob> {
        self.opening
            .into_iter()
            .chain(self.dataset.jobs())
            .chain(self.checkpoints.jobs())
            .collect()
    }

    /// Name of the model's output `class` (preprocess.json's class_names), else its number.
    pub fn model_class_name(&self, class: usize) -> String {
        self.checkpoints
            .summary
            .as_ref()
            .and_then(|s| s.preprocess.as_ref())
            .and_then(|p| p.class_names.get(class).cloned())
            .unwrap_or_else(|| class.to_string())
    }

    /// The open dataset, if any.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.dataset.dataset.as_deref()
    }

    /// The thumbnail of dataset example `index`, queuing its decode when needed.
    pub fn thumbnail(&self, index: usize) -> thumbnails::ThumbState {
        match self
            .dataset()
            .and_then(|d| d.examples.get(index).map(|e| (d, e)))
        {
            Some((dataset, example)) => self
                .thumbnails
                .get(index, || dataset.absolute_path(example)),
            None => thumbnails::ThumbState::Failed("no such example".into()),
        }
    }

    /// Position of dataset example `index` in the visible order.
    pub fn visible_position(&self, index: usize) -> Option<usize> {
        self.browse.matches.indices.iter().position(|&i| i == index)
    }
}

/// A running job's title and count with a Cancel button, in the panel that started it (the
/// cancel flag is the job's own, shared with its worker).
pub fn job_progress_ui(ui: &mut egui::Ui, job: &dyn RunningJob) {
    let (done, total) = job.progress();
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(format!("{}... {done}/{total}", job.title()));
        if ui.button("Cancel").clicked() {
            job.cancel();
        }
    });
}

/// A distinct, readable colour for class `index` (golden-angle hues).
pub fn class_color(index: usize) -> egui::Color32 {
    let hue = (index as f32 * 0.618_034).fract();
    egui::ecolor::Hsva::new(hue, 0.65, 0.95, 1.0).into()
}

/// Formats a stat value compactly: integers without decimals, others with 3 significant digits.
pub fn format_stat(value: f64) -> String {
    if value.is_nan() {
        "-".to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e9 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}
