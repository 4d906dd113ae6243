//! Everything egui: the app shell, one file per panel, and the per-frame view context that
//! panels read from. Panels never mutate state; they send `Command`s that `app.rs` applies.

pub mod app;
mod checkpoints;
mod grid;
mod menu;
mod overview;
mod status;
pub mod thumbnails;

use std::cell::RefCell;
use std::path::PathBuf;

use crate::dataset::Dataset;
use crate::jobs::Job;
use crate::model::CheckpointsSummary;
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
    DismissMessage(usize),
}

/// The open dataset, and the job loading the next one.
#[derive(Default)]
pub struct DatasetState {
    pub dataset: Option<Dataset>,
    pub loading: Option<Job<Result<Dataset, String>>>,
}

/// The loaded checkpoints, and the job loading the next ones.
#[derive(Default)]
pub struct CheckpointState {
    pub summary: Option<CheckpointsSummary>,
    pub loading: Option<Job<Result<CheckpointsSummary, String>>>,
}

/// View settings the user changes with widgets.
pub struct ViewSettings {
    pub thumb_px: f32,
    pub selected: Option<usize>,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings { thumb_px: 96.0, selected: None }
    }
}

/// What every panel reads from during one frame, and where it sends its commands.
pub struct ViewCtx<'a> {
    pub dataset: &'a DatasetState,
    pub checkpoints: &'a CheckpointState,
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
}

/// A distinct, readable colour for class `index` (golden-angle hues).
pub fn class_color(index: usize) -> egui::Color32 {
    let hue = (index as f32 * 0.618_034).fract();
    egui::ecolor::Hsva::new(hue, 0.65, 0.95, 1.0).into()
}
