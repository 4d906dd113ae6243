//! Checkpoints through tch: finding and ordering them, loading TorchScript, running batches,
//! the recipe checks. Knows nothing of the UI; the app runs it on a worker thread that owns the modules.

pub mod checkpoints;
pub mod checks;
pub mod dynamics;
pub mod embedding;
pub mod input_view;
pub mod label_issues;
pub mod npy;
pub mod overfit;
pub mod pil;
pub mod predict;
pub mod preprocess;
pub mod store;
pub mod weights;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tch::{CModule, Device, IValue, Tensor};

pub use checkpoints::{CheckpointFile, CheckpointKind, EXPORT_HINT, classify_checkpoints};
pub use checks::{CheckResult, Verdict, recipe_checks};
pub use input_view::{InputView, input_view};
pub use overfit::OverfitSettings;
pub use predict::{
    BatchPredictions, Evolution, FixedBatch, Flip, compare, default_fixed_batch, predict_batch,
    run_evolution,
};
pub use preprocess::Preprocess;
pub use store::{Head, ModelStore};
pub use weights::{Filters, first_layer_filters, weight_histograms};

use crate::dataset::natural_cmp;
use crate::index::DecodeError;

/// Extensions of files that may hold a checkpoint.
pub const CHECKPOINT_EXTENSIONS: &[&str] =
    &["pt", "pth", "ts", "torchscript", "pt2", "safetensors"];

/// What went wrong with a checkpoint, a sidecar or the model's input, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: cannot load as TorchScript: {message}")]
    Load { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Sidecar { path: PathBuf, message: String },
    #[error("{0}")]
    Decode(DecodeError),
    /// The forward pass threw; the message names the input shape that preprocess.json made.
    #[error(
        "{path}: the model failed on an input of shape {input_shape:?} ({} channels, {}x{} per preprocess.json): \
         {message}. If the model expects other channels or another size, fix channels and input_size in preprocess.json",
        input_shape.get(1).copied().unwrap_or_default(), input_shape.get(2).copied().unwrap_or_default(),
        input_shape.get(3).copied().unwrap_or_default()
    )]
    Forward {
        path: PathBuf,
        input_shape: Vec<i64>,
        message: String,
    },
    /// The model ran but its output is not usable logits: wrong shape, wrong class count, NaN/Inf.
    #[error("{path}: {message}")]
    Output { path: PathBuf, message: String },
    /// A file eyeball can tell it cannot run (.pt2, plain state_dict, truncated, weights only).
    #[error("{path}: {message}")]
    Unrunnable { path: PathBuf, message: String },
    /// A weights-only file that cannot be read or applied.
    #[error("{path}: {message}")]
    Weights { path: PathBuf, message: String },
    /// The dataset cannot give what was asked (no labelled examples, unknown class names).
    #[error("{root}: {message}")]
    Dataset { root: PathBuf, message: String },
    /// Writing a table of results failed.
    #[error("{path}: cannot write: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A checkpoint that failed in a batch run, with the message that names it.
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

/// The device eyeball runs models on: the first CUDA GPU when there is one, else the CPU.
/// Also sets LibTorch's thread counts, once per process.
pub fn default_device() -> Device {
    init_torch();
    Device::cuda_if_available()
}

/// Sets LibTorch's thread counts once: intra-op threads to the number of cores, one inter-op
/// thread (eyeball runs one model at a time on its worker). Safe to call from anywhere, any number
/// of times; `set_num_interop_threads` itself panics on a second call or once parallel work began.
/// Also keeps freed memory in the process (see `keep_freed_memory`).
pub fn init_torch() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        keep_freed_memory();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as i32;
        tch::set_num_threads(cores);
        // Too late when something already ran in parallel: then LibTorch's default stays, which works.
        let _ = std::panic::catch_unwind(|| tch::set_num_interop_threads(1));
    });
}

/// A CPU forward pass allocates and frees activations of tens of MB. By default glibc maps each
/// with mmap and unmaps it on free, so the next batch page-faults it in and zeroes it again: on a
/// small CIFAR CNN that was a third of the forward time. Serving them from the heap and keeping up
/// to 512 MiB of freed heap made forward passes 1.3-1.6x faster. Unless the user set glibc's own
/// variables (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        let user_set = |name: &str| std::env::var_os(name).is_some();
        if !user_set("MALLOC_MMAP_THRESHOLD_") && !user_set("MALLOC_TRIM_THRESHOLD_") {
            // SAFETY: mallopt only changes allocator tunables; it returns 0 for values it refuses,
            // which leaves glibc's defaults in place.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 256 << 20);
                mallopt(M_TRIM_THRESHOLD, 512 << 20);
            }
        }
    }
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
    let io_err = |source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| CHECKPOINT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(files)
}

/// The file name of `path` as text.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A TorchScript module loaded on a device, in eval mode.
pub struct LoadedModel {
    pub path: PathBuf,
    pub module: CModule,
    pub device: Device,
    /// Set once the model failed on a channels-last input and ran on a contiguous one (a
    /// `.view()` on activations needs contiguous memory); later batches go contiguous at once.
    contiguous_only: AtomicBool,
}

impl LoadedModel {
    /// Loads a TorchScript file; other formats get a message saying how to export one.
    pub fn load(path: &Path, device: Device) -> Result<LoadedModel, ModelError> {
        init_torch();
        let module = CModule::load_on_device(path, device).map_err(|e| ModelError::Load {
            path: path.to_path_buf(),
            message: explain_load_failure(path, &e.to_string()),
        })?;
        Ok(LoadedModel::of(path, module, device))
    }

    /// `module` from `path`, in eval mode.
    fn of(path: &Path, mut module: CModule, device: Device) -> LoadedModel {
        module.set_eval();
        LoadedModel {
            path: path.to_path_buf(),
            module,
            device,
            contiguous_only: AtomicBool::new(false),
        }
    }

    /// Number of trainable scalars (buffers such as BatchNorm statistics excluded).
    pub fn parameter_count(&self) -> Result<i64, ModelError> {
        let params = self
            .module
            .named_parameters()
            .map_err(|e| self.load_error(e))?;
        Ok(params.iter().map(|(_, t)| t.numel() as i64).sum())
    }

    /// Logits for a `[N, C, H, W]` batch, without autograd. A channels-last input (from
    /// `Preprocess::batch`) is tried as it is, then made contiguous if the model needs that.
    pub fn logits(&self, input: &Tensor) -> Result<Tensor, ModelError> {
        self.run(None, input)
    }

    /// Runs `forward`, or the named method, on a batch without autograd; channels-last first, as
    /// `logits` says.
    fn run(&self, method: Option<&str>, input: &Tensor) -> Result<Tensor, ModelError> {
        let _no_grad = tch::no_grad_guard();
        let input = input.to_device(self.device);
        let call = |input: &Tensor| {
            let args = [IValue::Tensor(input.shallow_clone())];
            match method {
                None => self.module.forward_is(&args),
                Some(name) => self.module.method_is(name, &args),
            }
        };
        let output = if !input.is_contiguous() && !self.contiguous_only.load(Ordering::Relaxed) {
            match call(&input) {
                Ok(output) => Some(output),
                Err(_) => {
                    self.contiguous_only.store(true, Ordering::Relaxed);
                    None
                }
            }
        } else {
            None
        };
        let output = match output {
            Some(output) => output,
            None => call(&input.contiguous()).map_err(|e| self.forward_error(&input, &e))?,
        };
        output_tensor(&self.path, output)
    }

    /// Logits for a `[N, C, H, W]` batch, checked: `[N, classes]`, float, every value finite.
    /// Returned on the CPU as float32.
    pub fn checked_logits(&self, input: &Tensor, classes: usize) -> Result<Tensor, ModelError> {
        let logits = self.logits(input)?;
        check_logits(&self.path, &logits, input.size()[0], classes)?;
        Ok(logits.to_device(Device::Cpu).to_kind(tch::Kind::Float))
    }

    /// Logits for a `[N, C, H, W]` batch with autograd, for checks that backpropagate (call it
    /// inside `tch::with_grad`); checked like `checked_logits`, left on the model's device.
    pub fn logits_with_grad(&self, input: &Tensor, classes: usize) -> Result<Tensor, ModelError> {
        let output = self
            .module
            .forward_is(&[IValue::Tensor(input.shallow_clone())])
            .map_err(|e| self.forward_error(input, &e))?;
        let logits = output_tensor(&self.path, output)?;
        check_logits(&self.path, &logits, input.size()[0], classes)?;
        Ok(logits)
    }

    fn forward_error(&self, input: &Tensor, e: &tch::TchError) -> ModelError {
        ModelError::Forward {
            path: self.path.clone(),
            input_shape: input.size(),
            message: torch_message(&e.to_string()),
        }
    }

    /// Mean cross-entropy loss of the batch against `labels`.
    pub fn mean_loss(&self, input: &Tensor, labels: &[i64]) -> Result<f64, ModelError> {
        let logits = self.logits(input)?;
        let targets = Tensor::from_slice(labels).to_device(self.device);
        Ok(logits.cross_entropy_for_logits(&targets).double_value(&[]))
    }

    fn load_error(&self, e: tch::TchError) -> ModelError {
        ModelError::Load {
            path: self.path.clone(),
            message: torch_message(&e.to_string()),
        }
    }
}

/// The logits in what a model returned: a tensor; else the first tensor of a tuple or list; else
/// the `logits` entry of a dict, or its only tensor. Anything else is an error naming the file.
pub fn output_tensor(path: &Path, output: IValue) -> Result<Tensor, ModelError> {
    let bad = |message: String| ModelError::Output {
        path: path.to_path_buf(),
        message,
    };
    match output {
        IValue::Tensor(t) => Ok(t),
        IValue::TensorList(list) => list
            .into_iter()
            .next()
            .ok_or_else(|| bad("the model returned an empty list of tensors".into())),
        IValue::Tuple(items) | IValue::GenericList(items) => {
            let described = describe_values(&items);
            items
                .into_iter()
                .find_map(|item| match item {
                    IValue::Tensor(t) => Some(t),
                    _ => None,
                })
                .ok_or_else(|| {
                    bad(format!(
                        "the model returned a tuple or list with no tensor in it ({described}); \
                         return the logits as a tensor, or first in a tuple"
                    ))
                })
        }
        IValue::GenericDict(entries) => {
            let keys: Vec<String> = entries.iter().map(|(k, _)| describe_key(k)).collect();
            let mut tensors: Vec<(String, Tensor)> = entries
                .into_iter()
                .filter_map(|(k, v)| match v {
                    IValue::Tensor(t) => Some((describe_key(&k), t)),
                    _ => None,
                })
                .collect();
            if let Some(i) = tensors.iter().position(|(k, _)| k == "logits") {
                return Ok(tensors.swap_remove(i).1);
            }
            if tensors.len() == 1 {
                return Ok(tensors.remove(0).1);
            }
            Err(bad(format!(
                "the model returned a dict with keys [{}] and none is named \"logits\"; \
                 name the logits entry \"logits\" or return them as a tensor",
                keys.join(", ")
            )))
        }
        other => Err(bad(format!(
            "the model returned {}, not a tensor of logits",
            describe_values(std::slice::from_ref(&other))
        ))),
    }
}

fn describe_key(key: &IValue) -> String {
    match key {
        IValue::String(s) => s.clone(),
        IValue::Int(i) => i.to_string(),
        other => describe_values(std::slice::from_ref(other)),
    }
}

/// Short names of TorchScript values for messages: "Tensor, int, str".
fn describe_values(values: &[IValue]) -> String {
    values
        .iter()
        .map(|v| match v {
            IValue::None => "None",
            IValue::Tensor(_) => "Tensor",
            IValue::Double(_) => "float",
            IValue::Int(_) => "int",
            IValue::Bool(_) => "bool",
            IValue::Tuple(_) => "tuple",
            IValue::IntList(_) | IValue::DoubleList(_) | IValue::BoolList(_) => "list of numbers",
            IValue::String(_) => "str",
            IValue::StringList(_) => "list of str",
            IValue::TensorList(_) => "list of Tensor",
            IValue::GenericList(_) => "list",
            IValue::GenericDict(_) => "dict",
            IValue::Object(_) => "object",
            IValue::Device(_) => "device",
            _ => "value",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that `logits` are `[n, classes]` and finite, with a message naming the file and shapes.
pub fn check_logits(
    path: &Path,
    logits: &Tensor,
    n: i64,
    classes: usize,
) -> Result<(), ModelError> {
    let bad = |message: String| ModelError::Output {
        path: path.to_path_buf(),
        message,
    };
    let shape = logits.size();
    if shape.len() != 2 || shape[0] != n {
        return Err(bad(format!(
            "the model returned shape {shape:?}, but eyeball needs [N, C] logits, here [{n}, {classes}]; \
             end the model with a Linear layer (or flatten its output) and return a single tensor"
        )));
    }
    if shape[1] != classes as i64 {
        return Err(bad(format!(
            "the model has {} outputs per example (shape {shape:?}) but the dataset has {classes} classes; \
             open the dataset the model was trained on, or check class_names in preprocess.json",
            shape[1]
        )));
    }
    if !logits.is_floating_point() {
        return Err(bad(format!(
            "the model returned {:?} values; logits must be floating point",
            logits.kind()
        )));
    }
    let finite = logits.isfinite();
    let bad_count = finite.logical_not().sum(tch::Kind::Int64).int64_value(&[]);
    if bad_count > 0 {
        let first = finite
            .all_dim(1, false)
            .logical_not()
            .nonzero()
            .int64_value(&[0, 0]);
        return Err(bad(format!(
            "{bad_count} of {} outputs are NaN or Inf (shape {shape:?}), the first in example {first} of the batch; \
             the weights may have diverged",
            logits.numel()
        )));
    }
    Ok(())
}

/// Turns LibTorch's long error into one line that says what to do.
fn explain_load_failure(path: &Path, error: &str) -> String {
    match checkpoints::classify_file(path) {
        Ok(CheckpointKind::Unrunnable(message)) => message,
        Ok(CheckpointKind::WeightsOnly) => format!(
            "this file holds weights only, not a runnable model; eyeball shows its filters and can apply it to a \
             TorchScript file of the same architecture; {EXPORT_HINT}"
        ),
        _ => format!("{} ({EXPORT_HINT})", torch_message(error)),
    }
}

/// The line of a LibTorch error that says what went wrong: TorchScript errors start with a
/// traceback and end with `RuntimeError: ...`; C++ errors carry an "Exception raised from" trailer.
pub fn torch_message(text: &str) -> String {
    let error_line = text.lines().map(str::trim).rfind(|l| {
        let head = l.split(':').next().unwrap_or_default();
        l.contains(": ") && head.ends_with("Error") && !head.contains(' ')
    });
    let line = match error_line {
        Some(line) => line.split_once(": ").map_or(line, |(_, rest)| rest),
        None => first_line(text),
    };
    let line = line.split(" Exception raised from ").next().unwrap_or(line);
    // tch's own wording for any LibTorch error reads as a bug in eyeball.
    let line = line.trim_start_matches("Internal torch error: ");
    line.trim_start_matches("Torch(\"")
        .trim_end_matches("\")")
        .trim()
        .to_string()
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(text)
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

/// Loads every checkpoint in `dir` into `models`, to check they run and count parameters.
pub fn summarize_checkpoints(
    dir: &Path,
    models: &ModelStore,
    progress: &crate::jobs::Progress,
) -> Result<CheckpointsSummary, ModelError> {
    let files = classify_checkpoints(&[dir.to_path_buf()])?;
    Ok(summarize_files(dir, &files, models, progress))
}

/// `summarize_checkpoints` over files already classified.
fn summarize_files(
    dir: &Path,
    files: &[CheckpointFile],
    models: &ModelStore,
    progress: &crate::jobs::Progress,
) -> CheckpointsSummary {
    let mut summary = CheckpointsSummary {
        dir: dir.to_path_buf(),
        files: files.iter().map(|f| f.name.clone()).collect(),
        device: device_name(models.device()),
        ..Default::default()
    };
    match Preprocess::find_in(dir).map(|p| Preprocess::load(&p)) {
        Some(Ok(preprocess)) => summary.preprocess = Some(preprocess),
        Some(Err(e)) => summary.errors.push(e.to_string()),
        None => {}
    }
    progress.set_total(files.len());
    for file in files {
        if progress.is_cancelled() {
            break;
        }
        // Weights-only files do not load as modules; they are shown and applied elsewhere.
        if file.kind == CheckpointKind::WeightsOnly {
            progress.advance(1);
            continue;
        }
        match models
            .model(file, None, Head::Logits)
            .and_then(|stored| stored.model.parameter_count())
        {
            Ok(count) => {
                summary.parameter_count.get_or_insert(count);
            }
            Err(e) => summary.errors.push(e.to_string()),
        }
        progress.advance(1);
    }
    summary
}

/// Everything the checkpoint views need from a folder: the files in order with their kinds, a
/// summary (which also proves each TorchScript file runs), and each file's weights.
pub struct LoadedCheckpoints {
    pub summary: CheckpointsSummary,
    pub files: Vec<CheckpointFile>,
    /// Per file, in `files` order.
    pub weights: Vec<LoadedWeights>,
}

/// One checkpoint's first-layer filters and per-layer weight histograms, or why they are missing.
pub struct LoadedWeights {
    pub filters: Option<Filters>,
    pub histograms: Vec<(String, weights::Histogram)>,
    pub error: Option<String>,
}

/// Loads the checkpoints in `dir` into `models`, with their summary and weights.
pub fn load_checkpoints(
    dir: &Path,
    models: &ModelStore,
    progress: &crate::jobs::Progress,
) -> Result<LoadedCheckpoints, ModelError> {
    let files = classify_checkpoints(&[dir.to_path_buf()])?;
    let summary = summarize_files(dir, &files, models, progress);
    let channels = summary.preprocess.as_ref().map(|p| p.channels as usize);
    let weights = files
        .iter()
        .map(|file| match weights::load_parameters(file, models) {
            Ok(params) => LoadedWeights {
                filters: first_layer_filters(&params, channels),
                histograms: weight_histograms(&params, weights::HISTOGRAM_BINS),
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

#[cfg(test)]
mod tests {
    use super::torch_message;

    #[test]
    fn torch_messages_keep_the_reason_not_the_internal_wording() {
        let load = "Internal torch error: PytorchStreamReader failed reading zip archive: failed finding central directory\n\
                    Exception raised from valid at ../caffe2/serialize/inline_container.cc:241 (most recent call first):\n\
                    frame #0: c10::Error::Error(...)";
        assert_eq!(
            torch_message(load),
            "PytorchStreamReader failed reading zip archive: failed finding central directory"
        );
        let script = "Internal torch error: The following operation failed in the TorchScript interpreter.\n\
                      Traceback of TorchScript (most recent call last):\n  ...\n\
                      RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x16 and 4x10)";
        assert_eq!(
            torch_message(script),
            "mat1 and mat2 shapes cannot be multiplied (2x16 and 4x10)"
        );
    }
}
