//! Loaded models kept for reuse: each checkpoint file (or weights-only file applied to a
//! TorchScript template) is loaded once, within a memory budget. The app's model worker owns one
//! store for the open checkpoints; each CLI command makes its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tch::Device;

use super::checkpoints::{CheckpointFile, CheckpointKind};
use super::{LoadedModel, ModelError};

/// Parameter bytes the store keeps loaded by default; past it, the least recently used models are
/// dropped (and loaded again when needed).
pub const DEFAULT_MODEL_BUDGET_BYTES: usize = 1 << 30;

/// Which form of a checkpoint is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The module as saved: `forward` gives the logits.
    Logits,
    /// With the penultimate-layer embedding added as a method (see `embedding.rs`).
    WithEmbedding,
}

/// A loaded model and what the user should know about how it was made (weights applied by name,
/// what could not be applied).
#[derive(Clone)]
pub struct StoredModel {
    pub model: Arc<LoadedModel>,
    pub notes: Vec<String>,
}

struct Entry {
    key: String,
    stored: StoredModel,
    bytes: usize,
}

/// Loaded models by checkpoint hash, least recently used first, within `budget_bytes`.
pub struct ModelStore {
    device: Device,
    budget_bytes: usize,
    entries: Mutex<Vec<Entry>>,
    loads: AtomicUsize,
}

impl ModelStore {
    /// An empty store for models on `device`, with the default budget.
    pub fn new(device: Device) -> ModelStore {
        ModelStore::with_budget(device, DEFAULT_MODEL_BUDGET_BYTES)
    }

    /// An empty store that keeps at most `budget_bytes` of parameters loaded (always at least the
    /// model last asked for).
    pub fn with_budget(device: Device, budget_bytes: usize) -> ModelStore {
        ModelStore {
            device,
            budget_bytes,
            entries: Mutex::new(Vec::new()),
            loads: AtomicUsize::new(0),
        }
    }

    /// The device models are loaded on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Files loaded from disk so far (a model asked for again within the budget is not).
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// Models held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no model is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The model of `file`: a TorchScript file as saved, or a weights-only file applied by name to
    /// `template` (a TorchScript file of the same architecture). Loaded on first use.
    pub fn model(
        &self,
        file: &CheckpointFile,
        template: Option<&CheckpointFile>,
        head: Head,
    ) -> Result<StoredModel, ModelError> {
        // Only weights-only files are applied to a template; an unrunnable file is tried as it is,
        // so its load error says how to save one that runs.
        let template = match (&file.kind, template) {
            (CheckpointKind::WeightsOnly, Some(template)) => Some(template),
            (CheckpointKind::WeightsOnly, None) => {
                return Err(ModelError::Unrunnable {
                    path: file.path.clone(),
                    message: "weights only, and no TorchScript file to apply them to".into(),
                });
            }
            _ => None,
        };
        let key = match (template, head) {
            (Some(t), Head::Logits) => format!("{}-{}", file.hash, t.hash),
            (Some(t), Head::WithEmbedding) => format!("{}-{}-embedding", file.hash, t.hash),
            (None, Head::Logits) => file.hash.clone(),
            (None, Head::WithEmbedding) => format!("{}-embedding", file.hash),
        };
        // Held while loading, so two jobs never load the same file twice.
        let mut entries = self.lock();
        if let Some(i) = entries.iter().position(|e| e.key == key) {
            let entry = entries.remove(i);
            let stored = entry.stored.clone();
            entries.push(entry);
            return Ok(stored);
        }
        let module_path = template.map_or(&file.path, |t| &t.path);
        let model = match head {
            Head::Logits => LoadedModel::load(module_path, self.device)?,
            Head::WithEmbedding => LoadedModel::load_with_embedding(module_path, self.device)?,
        };
        self.loads.fetch_add(1, Ordering::Relaxed);
        let mut notes = Vec::new();
        if let Some(template) = template {
            let weights = super::weights::read_weights(&file.path)?;
            let report = super::weights::apply_weights(&model, &weights, &file.path)?;
            notes.push(format!(
                "{}: {} weights applied to {}",
                file.name,
                report.applied.len(),
                template.name
            ));
            notes.extend(report.notes.iter().map(|n| format!("{}: {n}", file.name)));
        }
        let bytes = parameter_bytes(&model);
        let stored = StoredModel {
            model: Arc::new(model),
            notes,
        };
        entries.push(Entry {
            key,
            stored: stored.clone(),
            bytes,
        });
        let mut total: usize = entries.iter().map(|e| e.bytes).sum();
        while total > self.budget_bytes && entries.len() > 1 {
            total -= entries.remove(0).bytes;
        }
        Ok(stored)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Bytes of a model's parameters (buffers are not visible through LibTorch).
fn parameter_bytes(model: &LoadedModel) -> usize {
    model.module.named_parameters().map_or(0, |params| {
        params
            .iter()
            .map(|(_, t)| t.numel() * t.kind().elt_size_in_bytes())
            .sum()
    })
}
