//! The app shell: holds one session per dataset and one per set of checkpoints, routes each
//! command to its owner, takes job results once per frame, and lays out the panels.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::dataset_session::{DatasetEvent, SessionPlaces};
use super::thumbnails::ThumbnailCache;
use super::{
    AppCommand, CentralView, Command, DatasetSession, Env, LabelReviewState, ModelSession, ViewCtx,
    ViewSettings,
};
use crate::browse::{Filter, StatColumns};
use crate::dataset::Dataset;
use crate::index::IndexCache;
use crate::jobs::{Job, Notify, RunningJob};
use crate::model::checkpoints::{has_checkpoint_extension, holds_checkpoints};
use crate::model::predict::default_predictions_cache_dir;
use crate::pipelines::CacheReading;

/// Texture memory the thumbnail grid may use.
const THUMBNAIL_BUDGET_BYTES: usize = 256 * 1024 * 1024;

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
    data: DatasetSession,
    model: ModelSession,
    /// The dataset being opened; it replaces `data` when ready.
    opening: Option<Job<Result<(Dataset, CacheReading), String>>>,
    places: SessionPlaces,
    thumbnails: ThumbnailCache,
    settings: ViewSettings,
    messages: Vec<String>,
    commands: RefCell<Vec<Command>>,
    /// Commands from other threads (native file dialogs, exports).
    async_commands: (Sender<Command>, Receiver<Command>),
    repaint: Notify,
    title: String,
}

impl EyeballApp {
    /// Builds the app and starts opening what `options` names.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let ctx = cc.egui_ctx.clone();
        let repaint: Notify = Arc::new(move || ctx.request_repaint());
        let mut app = EyeballApp {
            data: DatasetSession::default(),
            model: ModelSession::default(),
            opening: None,
            places: SessionPlaces {
                index_cache: options.index_cache,
                review_dir: options.review_dir,
                predictions_cache: options.predictions_cache,
            },
            thumbnails: ThumbnailCache::new(THUMBNAIL_BUDGET_BYTES, Arc::clone(&repaint)),
            settings: ViewSettings::default(),
            messages: Vec::new(),
            commands: RefCell::new(Vec::new()),
            async_commands: channel(),
            repaint,
            title: String::new(),
        };
        if let Some(path) = options.dataset {
            app.apply(AppCommand::OpenDataset(path).into());
        }
        if let Some(path) = options.checkpoints {
            app.apply(AppCommand::OpenCheckpoints(path).into());
        }
        app
    }

    /// The open dataset, if any.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.data.dataset.as_deref()
    }

    /// The index stats, once indexing finished.
    pub fn stats(&self) -> Option<&StatColumns> {
        self.data.stats.as_deref()
    }

    /// Dataset indices shown in the grid, in order.
    pub fn visible(&self) -> &[usize] {
        &self.data.browse.matches.indices
    }

    /// The grid's current filter.
    pub fn filter(&self) -> &Filter {
        &self.data.browse.filter
    }

    /// The model embedding the last scans used, if any.
    pub fn scan_model_embedding(&self) -> Option<&crate::pipelines::ModelEmbedding> {
        self.data.scan.model_embedding.as_ref()
    }

    /// The last scan report.
    pub fn scan_report(&self) -> Option<&crate::scan::ScanReport> {
        self.data.scan.report.as_deref()
    }

    /// The label review's scores and ranking.
    pub fn label_review(&self) -> &LabelReviewState {
        &self.data.label_review
    }

    /// The embedding map and its job.
    pub fn map_state(&self) -> &super::embedmap::MapState {
        &self.data.map
    }

    /// The review store of the open dataset.
    pub fn review(&self) -> Option<&crate::review::ReviewStore> {
        self.data.review.as_ref()
    }

    /// The example open in the detail view.
    pub fn detail_example(&self) -> Option<usize> {
        self.data.detail.as_ref().map(|d| d.example)
    }

    /// The loaded checkpoints' summary, if any.
    pub fn checkpoints(&self) -> Option<&crate::model::CheckpointsSummary> {
        self.model.summary.as_ref()
    }

    /// Checkpoints, predictions on the fixed batch, and the slider position.
    pub fn checkpoint_state(&self) -> &ModelSession {
        &self.model
    }

    /// The examples pinned for the fixed batch.
    pub fn pinned(&self) -> &std::collections::BTreeSet<usize> {
        &self.data.pinned
    }

    /// The view the central area shows.
    pub fn central_view(&self) -> CentralView {
        self.settings.view
    }

    /// True while a background job runs or a command waits to be applied.
    pub fn is_busy(&self) -> bool {
        !self.commands.borrow().is_empty()
            || self.opening.is_some()
            || !self.data.jobs().is_empty()
            || !self.model.jobs().is_empty()
    }

    /// Errors and notices shown to the user.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// Sends `command` to its owner.
    fn apply(&mut self, command: Command) {
        let mut env = Env::new(&self.repaint, &mut self.messages, &self.async_commands.0);
        match command {
            Command::Dataset(command) => match self.data.apply(command, &self.model, &mut env) {
                Some(DatasetEvent::PinsChanged) => self.model.pins_changed(&self.data, &mut env),
                Some(DatasetEvent::UsePins) => self.model.apply(
                    super::ModelCommand::UsePinnedBatch(true),
                    &self.data,
                    &mut env,
                ),
                Some(DatasetEvent::ShowGrid) => self.settings.view = CentralView::Examples,
                Some(DatasetEvent::Selected(example)) => self.settings.selected = Some(example),
                None => {}
            },
            Command::Model(command) => self.model.apply(command, &self.data, &mut env),
            Command::View(command) => self.settings.apply(command),
            Command::App(command) => self.apply_app(command),
        }
    }

    fn apply_app(&mut self, command: AppCommand) {
        match command {
            AppCommand::OpenDataset(path) => {
                let label = format!("Opening {}", path.display());
                let cache = self.places.index_cache.clone();
                self.opening = Some(Job::spawn(label, Arc::clone(&self.repaint), move |_| {
                    let reading = CacheReading::start(&path, &cache);
                    Dataset::open(&path)
                        .map(|dataset| (dataset, reading))
                        .map_err(|e| e.to_string())
                }));
            }
            AppCommand::OpenCheckpoints(dir) => {
                let env = Env::new(&self.repaint, &mut self.messages, &self.async_commands.0);
                let predictions_cache = self.places.predictions_cache.clone();
                // The old session's worker finishes its current job and ends with it.
                self.model = ModelSession::open(dir, predictions_cache, &env);
            }
            AppCommand::PickDatasetFolder => {
                self.pick_folder("Open dataset folder", AppCommand::OpenDataset)
            }
            AppCommand::PickCheckpointsFolder => {
                self.pick_folder("Open checkpoints folder", AppCommand::OpenCheckpoints)
            }
            AppCommand::CancelJobs => {
                self.opening = None;
                let mut env = Env::new(&self.repaint, &mut self.messages, &self.async_commands.0);
                self.data.cancel_jobs(&mut env);
                self.model.cancel_jobs();
            }
            AppCommand::ShowMessage(message) => self.messages.push(message),
            AppCommand::DismissMessage(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
        }
    }

    /// Takes finished jobs' results: a dataset that opened replaces the dataset session.
    fn poll_jobs(&mut self, ctx: &egui::Context) {
        let mut env = Env::new(&self.repaint, &mut self.messages, &self.async_commands.0);
        if let Some(result) = self.opening.as_mut().and_then(|j| j.poll()) {
            self.opening = None;
            match result {
                Ok((dataset, reading)) => {
                    self.thumbnails.reset();
                    self.settings.selected = None;
                    self.data =
                        DatasetSession::open(dataset, reading, self.places.clone(), &mut env);
                    self.model.dataset_opened(&self.data, &mut env);
                }
                Err(message) => env.messages.push(message),
            }
        }
        self.data.poll(ctx, &self.model, &mut env);
        self.model.poll(ctx, &self.data, &mut env);
    }

    /// Shows a native folder dialog on its own thread, so the UI keeps drawing.
    fn pick_folder(&self, title: &'static str, then: fn(PathBuf) -> AppCommand) {
        let sender = self.async_commands.0.clone();
        let repaint = Arc::clone(&self.repaint);
        std::thread::spawn(move || {
            let command = match rfd::FileDialog::new().set_title(title).pick_folder() {
                Some(folder) => then(folder),
                // A cancel and a desktop without a file-dialog portal look the same from here.
                None => AppCommand::ShowMessage(
                    "No folder was chosen. If no dialog appeared, this desktop has no \
                     xdg-desktop-portal: drop the folder on the window, or pass it on the command \
                     line (eyeball DATASET --checkpoints DIR)"
                        .into(),
                ),
            };
            let _ = sender.send(command.into());
            repaint();
        });
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
                    .map(|p| AppCommand::OpenCheckpoints(p.to_path_buf()))
            } else if path.is_dir() && holds_checkpoints(&path) {
                Some(AppCommand::OpenCheckpoints(path))
            } else {
                Some(AppCommand::OpenDataset(path))
            };
            if let Some(command) = command {
                self.apply(command.into());
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
        self.update_title(ctx);
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.thumbnails.begin_frame(ui.ctx());
        let view = ViewCtx::new(
            &self.data,
            &self.model,
            self.opening.as_ref().map(|j| j as &dyn RunningJob),
            &self.thumbnails,
            &self.settings,
            &self.messages,
            &self.commands,
        );
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
            && view.dataset().is_some()
            && view.detail.is_none()
            && self.settings.view == CentralView::Examples
        {
            egui::Panel::right("stats")
                .resizable(true)
                .default_size(300.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| super::stats::stats_ui(&view, ui));
                });
        }
        egui::CentralPanel::default().show(ui, |ui| central_ui(&view, ui));
        self.thumbnails.end_frame();
        if !self.commands.borrow().is_empty() {
            ui.ctx().request_repaint();
        }
    }
}

/// The tabs above the central area, and the view the settings pick.
fn central_ui(view: &ViewCtx, ui: &mut egui::Ui) {
    super::evolution::view_tabs_ui(view, ui);
    match (view.settings.view, view.detail) {
        (CentralView::Examples, Some(detail)) => super::detail::detail_ui(view, detail, ui),
        (CentralView::Examples, None) => super::grid::grid_ui(view, ui),
        (CentralView::Predictions, _) => super::evolution::evolution_ui(view, ui),
        (CentralView::Compare, _) => super::compare::compare_ui(view, ui),
        (CentralView::Filters, _) => super::filters_viz::filters_viz_ui(view, ui),
        (CentralView::Checks, _) => super::checks::checks_ui(view, ui),
        (CentralView::Issues, _) => super::issues::issues_ui(view, ui),
        (CentralView::Review, _) => super::review::review_ui(view, ui),
        (CentralView::DataMap, _) => super::datamap::datamap_ui(view, ui),
        (CentralView::EmbeddingMap, _) => super::embedmap::embedmap_ui(view, ui),
    }
}
