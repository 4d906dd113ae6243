//! The app shell: owns the state, applies commands, polls background jobs, lays out the panels.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::thumbnails::ThumbnailCache;
use super::{BrowseState, CheckpointState, Command, DatasetState, DetailState, ViewCtx, ViewSettings};
use crate::browse::{Filter, StatColumns, find_matches};
use crate::dataset::Dataset;
use crate::index::{IndexCache, build_index};
use crate::jobs::{Job, Notify};
use crate::model::{CHECKPOINT_EXTENSIONS, summarize_checkpoints};

/// Texture memory the thumbnail grid may use.
const THUMBNAIL_BUDGET_BYTES: usize = 256 * 1024 * 1024;
/// Above this many examples, filtering and sorting run on a worker thread.
const BACKGROUND_QUERY_MIN_EXAMPLES: usize = 20_000;
/// Bins of each stat histogram.
const HISTOGRAM_BINS: usize = 40;
/// Longest side of the detail view's texture.
const DETAIL_MAX_SIDE_PX: u32 = 8192;

/// What to open at start.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub dataset: Option<PathBuf>,
    pub checkpoints: Option<PathBuf>,
    /// Where the index cache lives (`IndexCache::Default`: the user's cache folder).
    pub index_cache: IndexCache,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions { dataset: None, checkpoints: None, index_cache: IndexCache::Default }
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
    eframe::run_native("eyeball", native_options, Box::new(move |cc| Ok(Box::new(EyeballApp::new(cc, options)))))
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
            browse: BrowseState::default(),
            checkpoints: CheckpointState::default(),
            detail: None,
            thumbnails: ThumbnailCache::new(THUMBNAIL_BUDGET_BYTES, Arc::clone(&repaint)),
            settings: ViewSettings::default(),
            index_cache: options.index_cache,
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

    /// The example open in the detail view.
    pub fn detail_example(&self) -> Option<usize> {
        self.detail.as_ref().map(|d| d.example)
    }

    /// The loaded checkpoints' summary, if any.
    pub fn checkpoints(&self) -> Option<&crate::model::CheckpointsSummary> {
        self.checkpoints.summary.as_ref()
    }

    /// True while a background job runs.
    pub fn is_busy(&self) -> bool {
        self.dataset.loading.is_some()
            || self.dataset.indexing.is_some()
            || self.browse.querying.is_some()
            || self.checkpoints.loading.is_some()
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
                if let Some(job) = self.dataset.indexing.take() {
                    job.cancel();
                    self.messages.push("Indexing cancelled: stats, histograms and stat filters are unavailable.".into());
                }
                if let Some(job) = self.checkpoints.loading.take() {
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
                let current = self.detail.as_ref().and_then(|d| visible.iter().position(|&i| i == d.example));
                if let Some(position) = current {
                    let next = (position as i64 + step).clamp(0, visible.len() as i64 - 1) as usize;
                    let example = visible[next];
                    if Some(example) != self.detail_example() {
                        self.open_detail(example);
                    }
                }
            }
            Command::CloseDetail => self.detail = None,
            Command::ToggleStatsPanel => self.settings.show_stats_panel = !self.settings.show_stats_panel,
            Command::DismissMessage(i) => {
                if i < self.messages.len() {
                    self.messages.remove(i);
                }
            }
        }
    }

    fn open_detail(&mut self, example: usize) {
        let Some(dataset) = self.dataset.dataset.clone() else { return };
        let Some(entry) = dataset.examples.get(example) else { return };
        let path = dataset.absolute_path(entry);
        self.settings.selected = Some(example);
        let loading = Job::spawn("Decoding full image", Arc::clone(&self.repaint), move |_| {
            let image = crate::index::decode(&path).map_err(|e| e.to_string())?;
            let image = if image.width().max(image.height()) > DETAIL_MAX_SIDE_PX {
                image.thumbnail(DETAIL_MAX_SIDE_PX, DETAIL_MAX_SIDE_PX)
            } else {
                image
            };
            let rgba = image.to_rgba8();
            Ok(egui::ColorImage::from_rgba_unmultiplied([rgba.width() as usize, rgba.height() as usize], rgba.as_raw()))
        });
        // Keep the previous image on screen until the next one is decoded, so stepping doesn't flicker.
        let image = self.detail.take().and_then(|d| d.image);
        self.detail = Some(DetailState { example, image, error: None, loading: Some(loading) });
    }

    /// Filters and sorts: inline for small datasets, on a worker for large ones.
    fn run_query(&mut self) {
        let Some(dataset) = self.dataset.dataset.clone() else { return };
        let stats = self.dataset.stats.clone();
        let (filter, sort) = (self.browse.filter.clone(), self.browse.sort.clone());
        if dataset.examples.len() < BACKGROUND_QUERY_MIN_EXAMPLES {
            self.browse.matches = Arc::new(find_matches(&dataset, stats.as_deref(), &filter, &sort, HISTOGRAM_BINS));
            self.browse.querying = None;
        } else {
            self.browse.querying = Some(Job::spawn("Filtering", Arc::clone(&self.repaint), move |_| {
                find_matches(&dataset, stats.as_deref(), &filter, &sort, HISTOGRAM_BINS)
            }));
        }
    }

    fn start_indexing(&mut self, dataset: Arc<Dataset>) {
        let cache = self.index_cache.clone();
        let label = format!("Indexing {} images", dataset.examples.len());
        self.dataset.indexing = Some(Job::spawn(label, Arc::clone(&self.repaint), move |progress| {
            build_index(&dataset, cache, progress).map_err(|e| e.to_string()).map(|index| {
                let stats = StatColumns::new(index.numeric_columns(&dataset));
                (index, stats)
            })
        }));
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
                    self.run_query();
                    self.start_indexing(dataset);
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
                }
                Err(message) => self.messages.push(format!("Indexing failed: {message}")),
            }
        }
        if let Some(matches) = self.browse.querying.as_mut().and_then(|j| j.poll()) {
            self.browse.querying = None;
            self.browse.matches = Arc::new(matches);
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
        if let Some(detail) = &mut self.detail
            && let Some(result) = detail.loading.as_mut().and_then(|j| j.poll())
        {
            detail.loading = None;
            match result {
                Ok(image) => {
                    detail.image = Some(ctx.load_texture(format!("detail-{}", detail.example), image, egui::TextureOptions::NEAREST));
                    detail.error = None;
                }
                Err(message) => {
                    detail.image = None;
                    detail.error = Some(message);
                }
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
        self.poll_jobs(ctx);
        self.update_title(ctx);
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.thumbnails.begin_frame(ui.ctx());
        let view = ViewCtx {
            dataset: &self.dataset,
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
        egui::Panel::left("sidebar").resizable(true).default_size(300.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                super::overview::overview_ui(&view, ui);
                ui.separator();
                super::filters::filters_ui(&view, ui);
                ui.separator();
                super::checkpoints::checkpoints_ui(&view, ui);
            });
        });
        if self.settings.show_stats_panel && self.dataset.dataset.is_some() && self.detail.is_none() {
            egui::Panel::right("stats").resizable(true).default_size(300.0).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| super::stats::stats_ui(&view, ui));
            });
        }
        egui::CentralPanel::default().show(ui, |ui| match view.detail {
            Some(detail) => super::detail::detail_ui(&view, detail, ui),
            None => super::grid::grid_ui(&view, ui),
        });
        self.thumbnails.end_frame();
        if !self.commands.borrow().is_empty() {
            ui.ctx().request_repaint();
        }
    }
}
