//! The app shell: owns the state, applies commands, polls background jobs, lays out the panels.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::thumbnails::ThumbnailCache;
use super::{CheckpointState, Command, DatasetState, ViewCtx, ViewSettings};
use crate::dataset::Dataset;
use crate::jobs::{Job, Notify};
use crate::model::{CHECKPOINT_EXTENSIONS, summarize_checkpoints};

/// Texture memory the thumbnail grid may use.
const THUMBNAIL_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// What to open at start.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    pub dataset: Option<PathBuf>,
    pub checkpoints: Option<PathBuf>,
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
    eframe::run_native("eyeball", native_options, Box::new(move |cc| Ok(Box::new(EyeballApp::new(cc, options)))))
}

/// The eyeball application.
pub struct EyeballApp {
    dataset: DatasetState,
    checkpoints: CheckpointState,
    thumbnails: ThumbnailCache,
    settings: ViewSettings,
    messages: Vec<String>,
    commands: RefCell<Vec<Command>>,
    /// Commands from other threads (native file dialogs).
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
            dataset: DatasetState::default(),
            checkpoints: CheckpointState::default(),
            thumbnails: ThumbnailCache::new(THUMBNAIL_BUDGET_BYTES, Arc::clone(&repaint)),
            settings: ViewSettings::default(),
            messages: Vec::new(),
            commands: RefCell::new(Vec::new()),
            async_commands: channel(),
            repaint,
            title: String::new(),
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
        self.dataset.dataset.as_ref()
    }

    /// The loaded checkpoints' summary, if any.
    pub fn checkpoints(&self) -> Option<&crate::model::CheckpointsSummary> {
        self.checkpoints.summary.as_ref()
    }

    /// True while a background job runs.
    pub fn is_busy(&self) -> bool {
        self.dataset.loading.is_some() || self.checkpoints.loading.is_some()
    }

    /// Errors and notices shown to the user.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::OpenDataset(path) => {
                let label = format!("Opening {}", path.display());
                self.dataset.loading = Some(Job::spawn(label, Arc::clone(&self.repaint), move |_| {
                    Dataset::open(&path).map_err(|e| e.to_string())
                }));
            }
            Command::OpenCheckpoints(dir) => {
                let label = format!("Loading checkpoints from {}", dir.display());
                self.checkpoints.loading = Some(Job::spawn(label, Arc::clone(&self.repaint), move |progress| {
                    summarize_checkpoints(&dir, progress).map_err(|e| e.to_string())
                }));
            }
            Command::PickDatasetFolder => self.pick_folder("Open dataset folder", Command::OpenDataset),
            Command::PickCheckpointsFolder => self.pick_folder("Open checkpoints folder", Command::OpenCheckpoints),
            Command::CancelJobs => {
                // Workers see the flag and stop; their late results are dropped with the job.
                if let Some(job) = self.dataset.loading.take() {
                    job.cancel();
                }
                if let Some(job) = self.checkpoints.loading.take() {
                    job.cancel();
                }
            }
            Command::SetThumbSize(px) => self.settings.thumb_px = px.clamp(32.0, 256.0),
            Command::Select(index) => self.settings.selected = index,
            Command::DismissMessage(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
        }
    }

    /// Shows a native folder dialog on its own thread, so the UI keeps drawing.
    fn pick_folder(&self, title: &'static str, then: fn(PathBuf) -> Command) {
        let sender = self.async_commands.0.clone();
        let repaint = Arc::clone(&self.repaint);
        std::thread::spawn(move || {
            if let Some(folder) = rfd::FileDialog::new().set_title(title).pick_folder() {
                let _ = sender.send(then(folder));
                repaint();
            }
        });
    }

    fn poll_jobs(&mut self) {
        if let Some(result) = self.dataset.loading.as_mut().and_then(|j| j.poll()) {
            self.dataset.loading = None;
            match result {
                Ok(dataset) => {
                    self.thumbnails.reset();
                    self.settings.selected = None;
                    self.dataset.dataset = Some(dataset);
                }
                Err(message) => self.messages.push(message),
            }
        }
        if let Some(result) = self.checkpoints.loading.as_mut().and_then(|j| j.poll()) {
            self.checkpoints.loading = None;
            match result {
                Ok(summary) => {
                    self.messages.extend(summary.errors.iter().cloned());
                    if summary.files.is_empty() {
                        self.messages.push(format!("{}: no checkpoint files (.pt, .pth, .ts, .torchscript)", summary.dir.display()));
                    }
                    self.checkpoints.summary = Some(summary);
                }
                Err(message) => self.messages.push(message),
            }
        }
    }

    /// A dropped folder opens as checkpoints if it holds checkpoint files, else as a dataset.
    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        for path in dropped {
            let command = if path.is_file() && has_checkpoint_extension(&path) {
                path.parent().map(|p| Command::OpenCheckpoints(p.to_path_buf()))
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
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| CHECKPOINT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn holds_checkpoints(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| entries.flatten().any(|e| has_checkpoint_extension(&e.path())))
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
        self.poll_jobs();
        self.update_title(ctx);
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.thumbnails.begin_frame(ui.ctx());
        let view = ViewCtx {
            dataset: &self.dataset,
            checkpoints: &self.checkpoints,
            thumbnails: &self.thumbnails,
            settings: &self.settings,
            messages: &self.messages,
            commands: &self.commands,
        };
        egui::Panel::top("menu").show(ui, |ui| super::menu::menu_ui(&view, ui));
        egui::Panel::bottom("status").show(ui, |ui| super::status::status_ui(&view, ui));
        egui::Panel::left("overview").resizable(true).default_size(320.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                super::overview::overview_ui(&view, ui);
                ui.separator();
                super::checkpoints::checkpoints_ui(&view, ui);
            });
        });
        egui::CentralPanel::default().show(ui, |ui| super::grid::grid_ui(&view, ui));
        self.thumbnails.end_frame();
        if !self.commands.borrow().is_empty() {
            ui.ctx().request_repaint();
        }
    }
}
