//! Checkpoints through tch: finding and ordering them, loading TorchScript, running batches.
//! Knows nothing of the UI; the app runs it on a worker thread that owns the modules.

pub mod preprocess;

use std::path::{Path, PathBuf};

use tch::{CModule, Device, Tensor};

pub use preprocess::Preprocess;

use crate::dataset::natural_cmp;
use crate::index::DecodeError;

/// Extensions of files that may hold a checkpoint.
pub const CHECKPOINT_EXTENSIONS: &[&str] = &["pt", "pth", "ts", "torchscript", "pt2", "safetensors"];

/// What went wrong with a checkpoint, a sidecar or the model's input, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: cannot load as TorchScript: {message}")]
    Load { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Sidecar { path: PathBuf, message: String },
    #[error("{0}")]
    Decode(DecodeError),
    #[error("{path}: the model failed on an input of shape {input_shape:?}: {message}")]
    Forward { path: PathBuf, input_shape: Vec<i64>, message: String },
    #[error("{path}: cannot list checkpoints: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The device eyeball runs models on: the first CUDA GPU when there is one, else the CPU.
pub fn default_device() -> Device {
    Device::cuda_if_available()
}

/// Human-readable device name for the UI.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => format!("CPU ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => format!("CUDA:{i}"),
        other => format!("{other:?}"),
    }
}

/// Checkpoint files in `dir`, ordered by the number in their names (natural order).
pub fn discover_checkpoints(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let io_err = |source| ModelError::Io { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| CHECKPOINT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(files)
}

/// The file name of `path` as text.
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A TorchScript module loaded on a device, in eval mode.
pub struct LoadedModel {
    pub path: PathBuf,
    pub module: CModule,
    pub device: Device,
}

impl LoadedModel {
    /// Loads a TorchScript file; other formats get a message saying how to export one.
    pub fn load(path: &Path, device: Device) -> Result<LoadedModel, ModelError> {
        let mut module = CModule::load_on_device(path, device)
            .map_err(|e| ModelError::Load { path: path.to_path_buf(), message: explain_load_failure(path, &e.to_string()) })?;
        module.set_eval();
        Ok(LoadedModel { path: path.to_path_buf(), module, device })
    }

    /// Number of trainable scalars (buffers such as BatchNorm statistics excluded).
    pub fn parameter_count(&self) -> Result<i64, ModelError> {
        let params = self.module.named_parameters().map_err(|e| self.load_error(e))?;
        Ok(params.iter().map(|(_, t)| t.numel() as i64).sum())
    }

    /// Logits for a `[N, C, H, W]` batch, without autograd.
    pub fn logits(&self, input: &Tensor) -> Result<Tensor, ModelError> {
        let _no_grad = tch::no_grad_guard();
        self.module.forward_ts(&[input.to_device(self.device)]).map_err(|e| ModelError::Forward {
            path: self.path.clone(),
            input_shape: input.size(),
            message: first_line(&e.to_string()),
        })
    }

    /// Mean cross-entropy loss of the batch against `labels`.
    pub fn mean_loss(&self, input: &Tensor, labels: &[i64]) -> Result<f64, ModelError> {
        let logits = self.logits(input)?;
        let targets = Tensor::from_slice(labels).to_device(self.device);
        Ok(logits.cross_entropy_for_logits(&targets).double_value(&[]))
    }

    fn load_error(&self, e: tch::TchError) -> ModelError {
        ModelError::Load { path: self.path.clone(), message: first_line(&e.to_string()) }
    }
}

/// Turns LibTorch's long error into one line that says what to do.
fn explain_load_failure(path: &Path, error: &str) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let export_hint = "save a runnable file with torch.jit.trace(model.eval(), example_input).save(\"model.pt\") \
                       or torch.jit.script(model).save(\"model.pt\")";
    if ext == "pt2" || zip_contains(path, "archive_format") {
        format!("this is a torch.export/AOTInductor .pt2 archive, which LibTorch cannot run; {export_hint}")
    } else if ext == "safetensors" {
        format!("safetensors holds weights only, not a runnable model; {export_hint}")
    } else if zip_contains(path, "data.pkl") && !zip_contains(path, "code/") {
        format!("this looks like a torch.save()d state_dict or pickled object, not TorchScript; {export_hint}")
    } else {
        format!("{} ({export_hint})", first_line(error))
    }
}

/// True when `path` is a zip archive with an entry whose name contains `needle`.
fn zip_contains(path: &Path, needle: &str) -> bool {
    // TorchScript, state_dict and .pt2 files are all zips; their central directory lists entry
    // names in plain bytes, so a byte search is enough to tell them apart.
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"PK") && bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

fn first_line(text: &str) -> String {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

/// What the app shows about a checkpoints folder once it is loaded.
#[derive(Clone, Debug, Default)]
pub struct CheckpointsSummary {
    pub dir: PathBuf,
    /// File names in checkpoint order.
    pub files: Vec<String>,
    /// Parameter count of the first checkpoint that loaded.
    pub parameter_count: Option<i64>,
    pub device: String,
    pub preprocess: Option<Preprocess>,
    /// One message per file or sidecar that failed, naming it.
    pub errors: Vec<String>,
}

/// Loads every checkpoint in `dir` once, to check they run and count parameters.
pub fn summarize_checkpoints(dir: &Path, progress: &crate::jobs::Progress) -> Result<CheckpointsSummary, ModelError> {
    let files = discover_checkpoints(dir)?;
    let device = default_device();
    let mut summary = CheckpointsSummary {
        dir: dir.to_path_buf(),
        files: files.iter().map(|p| file_name(p)).collect(),
        device: device_name(device),
        ..Default::default()
    };
    match Preprocess::find_in(dir).map(|p| Preprocess::load(&p)) {
        Some(Ok(preprocess)) => summary.preprocess = Some(preprocess),
        Some(Err(e)) => summary.errors.push(e.to_string()),
        None => {}
    }
    progress.set_total(files.len());
    for path in &files {
        if progress.is_cancelled() {
            break;
        }
        match LoadedModel::load(path, device).and_then(|m| m.parameter_count()) {
            Ok(count) => {
                summary.parameter_count.get_or_insert(count);
            }
            Err(e) => summary.errors.push(e.to_string()),
        }
        progress.advance(1);
    }
    Ok(summary)
}
