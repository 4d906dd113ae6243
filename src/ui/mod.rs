//! Everything egui: the app shell, one file per panel, and the per-frame view context that
//! panels read from. Panels never mutate state; they send `Command`s that `app.rs` applies.

pub mod app;
mod checkpoints;
mod checks;
mod compare;
mod datamap;
mod detail;
mod evolution;
mod filters;
mod filters_viz;
mod grid;
mod issues;
mod menu;
mod overview;
mod review;
mod scatter;
mod stats;
mod status;
pub mod thumbnails;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use crate::browse::{Filter, Matches, Sort, StatColumns};
use crate::dataset::Dataset;
use crate::index::Index;
use crate::jobs::Job;
use crate::model::weights::Histogram;
use crate::model::{
    CheckResult, CheckpointFile, CheckpointsSummary, Evolution, FixedBatch, InputView,
};
use thumbnails::ThumbnailCache;

/// A change a panel asks for; applied by the app between frames.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    OpenDataset(PathBuf),
    OpenCheckpoints(PathBuf),
    /// Show a native folder dialog, then open the dataset picked.
    PickDatasetFolder,
    /// Show a native folder dialog, then open the checkpoints picked.
    PickCheckpointsFolder,
    CancelJobs,
    SetThumbSize(f32),
    Select(Option<usize>),
    SetFilter(Filter),
    SetSort(Sort),
    /// Open the detail view on an example (index into the dataset).
    OpenDetail(usize),
    /// Switch the central area to another view.
    ShowView(CentralView),
    /// Move the checkpoint slider to this position in the evolution.
    SetCheckpoint(usize),
    TogglePlay,
    /// Pick the two checkpoints to compare (positions in the evolution).
    SetCompare(usize, usize),
    /// Show only these examples in the grid (e.g. the flips between two checkpoints).
    ShowOnlyInGrid(Vec<usize>),
    RunChecks,
    /// Choose what the overfit check trains on (takes effect on the next run).
    SetOverfit(crate::model::OverfitSettings),
    /// Add an example to (or remove it from) the pinned fixed batch.
    TogglePin(usize),
    /// Run the checkpoints on the pinned examples (`true`) or on the default batch (`false`).
    UsePinnedBatch(bool),
    /// Score every labelled example with checkpoint `files[i]`, for the label review.
    ScoreDataset(usize),
    /// Run every checkpoint over the labelled examples, for the dynamics rankings.
    ScoreDynamics,
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
    /// Replace the preprocessing read from preprocess.json, and rerun the predictions.
    SetPreprocess(crate::model::Preprocess),
    /// Scan the dataset for duplicates, outliers and quality problems with these settings.
    RunScan(crate::scan::ScanSettings),
    /// Also search near duplicates and outliers in this checkpoint's penultimate-layer embedding
    /// (its file name), or in image hashes and thumbnails only (`None`); then scan again.
    SetScanEmbedding(Option<String>),
    /// Record (or, with `None`, clear) the user's decision about an example.
    SetDecision(usize, Option<crate::review::Decision>),
    /// Move the detail view by this many places in the current filtered, sorted order.
    StepDetail(i64),
    CloseDetail,
    ToggleStatsPanel,
    DismissMessage(usize),
    /// Show a notice to the user (from a worker thread, such as a file dialog's).
    ShowMessage(String),
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

/// The open dataset, its index, and the jobs producing the next ones.
#[derive(Default)]
pub struct DatasetState {
    pub dataset: Option<Arc<Dataset>>,
    pub facts: DatasetFacts,
    pub loading: Option<Job<Result<Dataset, String>>>,
    /// Per-example stats and metadata, once indexed.
    pub index: Option<Arc<Index>>,
    pub stats: Option<Arc<StatColumns>>,
    pub indexing: Option<Job<Result<(Index, StatColumns), String>>>,
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
    pub dynamics_job: Option<Job<Result<DynamicsResult, String>>>,
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
            method: ReviewRanking::OneCheckpoint(crate::model::label_issues::RankMethod::Loss),
            ranked: Vec::new(),
            position: 0,
        }
    }
}

/// The dynamics of every labelled example, and the last checkpoint's scores.
pub type DynamicsResult = (
    crate::model::dynamics::Dynamics,
    crate::model::label_issues::Scores,
);

/// How the label review ranks: by one checkpoint's probabilities, or by how every checkpoint
/// learned the example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewRanking {
    OneCheckpoint(crate::model::label_issues::RankMethod),
    Dynamics(crate::model::dynamics::DynamicsRank),
}

/// A model embedding of the open dataset, and which checkpoint made it.
#[derive(Clone)]
pub struct ModelEmbedding {
    /// The checkpoint file's hash, and the TorchScript file's it was applied to (weights-only).
    pub key: String,
    pub embedding: Arc<crate::scan::Embedding>,
}

/// A scan's report, and the model embedding it computed (or reused).
pub type ScanResult = (crate::scan::ScanReport, Option<ModelEmbedding>);

/// The data-quality scan: its last report, and the job computing the next one.
pub struct ScanState {
    pub report: Option<Arc<crate::scan::ScanReport>>,
    pub running: Option<Job<Result<ScanResult, String>>>,
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

/// Everything the checkpoints job loads: files in order, their kinds, summary and weights.
pub struct LoadedCheckpoints {
    pub summary: CheckpointsSummary,
    pub files: Vec<CheckpointFile>,
    /// Per file, in `files` order; raw filters until the app makes textures.
    pub weights: Vec<LoadedWeights>,
}

/// One checkpoint's weights as loaded on the worker, before textures are made.
pub struct LoadedWeights {
    pub filters: Option<crate::model::Filters>,
    pub histograms: Vec<(String, Histogram)>,
    pub error: Option<String>,
}

/// The loaded checkpoints, their predictions on the fixed batch, and the jobs computing them.
#[derive(Default)]
pub struct CheckpointState {
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
    /// Examples the user pinned from the grid or the detail view.
    pub pinned: std::collections::BTreeSet<usize>,
    /// True when the fixed batch is the pinned examples rather than the default one.
    pub using_pinned: bool,
    /// True when the preprocessing was set in the UI rather than read from preprocess.json.
    pub preprocess_overridden: bool,
}

impl CheckpointState {
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

/// What every panel reads from during one frame, and where it sends its commands.
pub struct ViewCtx<'a> {
    pub dataset: &'a DatasetState,
    pub scan: &'a ScanState,
    pub label_review: &'a LabelReviewState,
    /// The user's decisions (keep/exclude, relabels), when the review file could be opened.
    pub review: Option<&'a crate::review::ReviewStore>,
    pub browse: &'a BrowseState,
    pub checkpoints: &'a CheckpointState,
    pub detail: Option<&'a DetailState>,
    pub thumbnails: &'a ThumbnailCache,
    pub settings: &'a ViewSettings,
    /// Errors and notices for the user, oldest first.
    pub messages: &'a [String],
    commands: &'a RefCell<Vec<Command>>,
}

impl ViewCtx<'_> {
    /// Queues a command for the app to apply after this frame.
    pub fn send(&self, command: Command) {
        self.commands.borrow_mut().push(command);
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
