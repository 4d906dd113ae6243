//! The pipelines the app and the CLI share, composed from the data modules: index with stats,
//! embed then scan, score with one checkpoint. Each runs on the caller's thread with progress and
//! cancellation; the app runs them as jobs, the CLI with a progress line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::browse::StatColumns;
use crate::dataset::Dataset;
use crate::index::{
    CachedRows, Index, IndexCache, IndexError, build_index, cached_index, read_cached_rows,
};
use crate::jobs::{Progress, thread_in_background};
use crate::model::label_issues::Scores;
use crate::model::predict::{ClassMap, FixedBatch};
use crate::model::{CheckpointFile, ModelError, ModelStore, Preprocess, run_evolution};
use crate::scan::{Embedding, ScanError, ScanReport, ScanSettings, scan_with};

/// Why a pipeline stopped: the error of the stage that failed, which names its file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The index cache file of a dataset being read on a thread of its own, started before the
/// folder is listed: at a million images each takes about a second, so the grid shows once the
/// listing is done and the stats right after.
pub struct CacheReading {
    root: PathBuf,
    rows: std::thread::JoinHandle<Option<CachedRows>>,
}

impl CacheReading {
    /// Starts reading the cache file of the dataset at `root`.
    pub fn start(root: &Path, cache: &IndexCache) -> CacheReading {
        let (reading_root, cache) = (root.to_path_buf(), cache.clone());
        CacheReading {
            root: root.to_path_buf(),
            // The listing comes first: the grid shows once it is done.
            rows: thread_in_background("reading the index cache", move || {
                read_cached_rows(&reading_root, &cache)
            }),
        }
    }

    /// The rows, once read, when they are of `dataset` (a layout could root it elsewhere).
    pub fn rows_of(self, dataset: &Dataset) -> Option<CachedRows> {
        let rows = self.rows.join().ok().flatten();
        rows.filter(|_| dataset.root == self.root)
    }
}

/// The index and its stats as soon as they can be had: from the cache rows (`cached`) alone
/// when they cover every example (`cached_index`; `Index::files_checked` is then false, and
/// `index_with_stats` should follow to catch changed files), else built.
pub fn first_index_with_stats(
    dataset: &Dataset,
    cache: IndexCache,
    cached: CacheReading,
    progress: &Progress,
) -> Result<(Index, StatColumns), IndexError> {
    let index = match cached
        .rows_of(dataset)
        .and_then(|rows| cached_index(dataset, rows))
    {
        Some(index) => index,
        None => build_index(dataset, cache, progress)?,
    };
    let stats = StatColumns::new(index.numeric_columns(dataset));
    Ok((index, stats))
}

/// Builds the index of `dataset` (decoding only what the cache lacks) and its stat columns.
pub fn index_with_stats(
    dataset: &Dataset,
    cache: IndexCache,
    progress: &Progress,
) -> Result<(Index, StatColumns), IndexError> {
    let index = build_index(dataset, cache, progress)?;
    let stats = StatColumns::new(index.numeric_columns(dataset));
    Ok((index, stats))
}

/// A checkpoint whose penultimate layer embeds the dataset for a scan.
#[derive(Clone, Debug)]
pub struct EmbeddingModel {
    pub file: CheckpointFile,
    /// The TorchScript file a weights-only `file` is applied to.
    pub template: Option<CheckpointFile>,
    pub preprocess: Preprocess,
}

impl EmbeddingModel {
    /// What an embedding depends on: the checkpoint's bytes, its template's, and the
    /// preprocessing (the same weights under another preprocessing embed differently).
    pub fn key(&self) -> String {
        let preprocessing = serde_json::to_string(&self.preprocess).unwrap_or_default();
        let preprocessing = xxhash_rust::xxh3::xxh3_64(preprocessing.as_bytes());
        match (&self.template, self.file.is_runnable()) {
            (Some(template), false) => {
                format!("{}-{}-{preprocessing:016x}", self.file.hash, template.hash)
            }
            _ => format!("{}-{preprocessing:016x}", self.file.hash),
        }
    }
}

/// A model embedding of a dataset's readable examples, under the key of what made it.
#[derive(Clone)]
pub struct ModelEmbedding {
    pub key: String,
    pub embedding: Arc<Embedding>,
}

/// A scan's report, and the model embedding it made or reused.
pub type ScanOutcome = (ScanReport, Option<ModelEmbedding>);

/// Scans `dataset` for duplicates, outliers and quality problems; with `model` (and the store that
/// loads it), first embeds its readable examples (or reuses `cached` when its key matches) and
/// scans in that embedding too.
pub fn embed_and_scan(
    dataset: &Dataset,
    index: &Index,
    settings: &ScanSettings,
    model: Option<(&EmbeddingModel, &ModelStore)>,
    cached: Option<ModelEmbedding>,
    progress: &Progress,
) -> Result<ScanOutcome, PipelineError> {
    let embedding = match model {
        None => None,
        Some((model, models)) => {
            let key = model.key();
            match cached.filter(|c| c.key == key) {
                Some(cached) => Some(cached),
                None => {
                    progress.set_stage_name(&format!("embedding with {}", model.file.name));
                    let embedding = crate::model::embedding::embed_examples(
                        models,
                        &model.file,
                        model.template.as_ref(),
                        &model.preprocess,
                        dataset,
                        &index.readable_examples(),
                        progress,
                    )?;
                    Some(ModelEmbedding {
                        key,
                        embedding: Arc::new(embedding),
                    })
                }
            }
        }
    };
    let report = scan_with(
        dataset,
        index,
        settings,
        embedding.as_ref().map(|e| e.embedding.as_ref()),
        progress,
    )?;
    Ok((report, embedding))
}

/// Scores every labelled example of `dataset` with one checkpoint: its probabilities, loss and
/// margin per example. Predictions are cached in `cache_dir` per file hash, examples and
/// preprocessing.
pub fn score_with_checkpoint(
    dataset: &Dataset,
    file: &CheckpointFile,
    preprocess: &Preprocess,
    cache_dir: Option<&Path>,
    models: &ModelStore,
    progress: &Progress,
) -> Result<Scores, ModelError> {
    let batch = FixedBatch::all(dataset);
    if batch.is_empty() {
        return Err(ModelError::Dataset {
            root: dataset.root.clone(),
            message: "no labelled examples to score".into(),
        });
    }
    let evolution = run_evolution(
        models,
        std::slice::from_ref(file),
        preprocess,
        dataset,
        &batch,
        cache_dir,
        progress,
    )?;
    if let Some((_, _, message)) = evolution.failures.first() {
        return Err(ModelError::Failed(message.clone()));
    }
    let predictions = evolution
        .predictions
        .first()
        .ok_or_else(|| ModelError::Output {
            path: file.path.clone(),
            message: "the checkpoint did not run".into(),
        })?;
    Ok(Scores::from_predictions(
        dataset,
        predictions,
        &ClassMap::new(dataset, preprocess),
    ))
}
