//! The fixed batch and its evolution: which examples to watch, every checkpoint's predictions on
//! them (cached on disk by checkpoint hash), and what changed between two checkpoints.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Tensor;
use xxhash_rust::xxh3::Xxh3;

use super::checkpoints::{CheckpointFile, hash_file_stamp, hash_str};
use super::store::{Head, ModelStore};
use super::{LoadedModel, ModelError, Preprocess, file_name};
use crate::dataset::Dataset;
use crate::files::{DiskCache, cache_budget_bytes, write_atomically};
use crate::jobs::Progress;

/// Examples in the default fixed batch.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Seed of the default fixed batch, so every run watches the same examples.
pub const DEFAULT_BATCH_SEED: u64 = 0;
/// Examples per forward pass when a batch is large (`eyeball predict --all`).
pub const FORWARD_CHUNK: usize = 256;
/// Split names preferred for the fixed batch, in order: held-out data shows generalisation.
const HELD_OUT_SPLITS: &[&str] = &["val", "valid", "validation", "test"];

/// The examples whose predictions are watched across checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedBatch {
    /// Indices into `Dataset::examples`.
    pub examples: Vec<usize>,
    /// Each example's label: an index into `Dataset::classes`.
    pub labels: Vec<i64>,
}

impl FixedBatch {
    /// A batch of the given examples (pinned by the user); unlabelled ones are left out.
    pub fn from_examples(
        dataset: &Dataset,
        examples: impl IntoIterator<Item = usize>,
    ) -> FixedBatch {
        let mut batch = FixedBatch::default();
        for index in examples {
            if let Some(label) = dataset.examples.get(index).and_then(|e| e.label) {
                batch.examples.push(index);
                batch.labels.push(label as i64);
            }
        }
        batch
    }

    /// Every labelled example of the dataset.
    pub fn all(dataset: &Dataset) -> FixedBatch {
        FixedBatch::from_examples(dataset, 0..dataset.examples.len())
    }

    /// Absolute paths of the batch's image files.
    pub fn paths(&self, dataset: &Dataset) -> Vec<PathBuf> {
        self.examples
            .iter()
            .map(|&i| dataset.absolute_path(&dataset.examples[i]))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
}

/// `size` labelled examples, stratified over classes (round-robin, so every class gets
/// `size / classes` or one more while it has examples) and chosen with `seed`. Taken from the
/// first held-out split (val, valid, validation, test) when there is one, else from all examples.
/// In dataset order.
pub fn default_fixed_batch(dataset: &Dataset, size: usize, seed: u64) -> FixedBatch {
    let held_out = HELD_OUT_SPLITS.iter().find_map(|name| {
        let split = dataset
            .splits
            .iter()
            .position(|s| s.eq_ignore_ascii_case(name))?;
        dataset
            .examples
            .iter()
            .any(|e| e.split == Some(split) && e.label.is_some())
            .then_some(split)
    });
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); dataset.classes.len()];
    for (index, example) in dataset.examples.iter().enumerate() {
        if let Some(label) = example.label
            && (held_out.is_none() || example.split == held_out)
            && label < by_class.len()
        {
            by_class[label].push(index);
        }
    }
    for (class, members) in by_class.iter_mut().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ class as u64);
        members.shuffle(&mut rng);
    }
    let mut chosen = Vec::with_capacity(size);
    let rounds = by_class.iter().map(Vec::len).max().unwrap_or(0);
    'rounds: for round in 0..rounds {
        for members in &by_class {
            if chosen.len() == size {
                break 'rounds;
            }
            if let Some(&index) = members.get(round) {
                chosen.push(index);
            }
        }
    }
    chosen.sort_unstable();
    FixedBatch::from_examples(dataset, chosen)
}

/// Which model output each dataset class is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassMap {
    /// Model output index of each dataset class.
    pub to_model: Vec<i64>,
    /// Number of outputs the model must have.
    pub outputs: usize,
    /// The model's output names (from preprocess.json, else the dataset's classes).
    pub names: Vec<String>,
}

impl ClassMap {
    /// By name when preprocess.json's `class_names` contain every dataset class; else the
    /// dataset's class order, and the model must have one output per dataset class.
    pub fn new(dataset: &Dataset, preprocess: &Preprocess) -> ClassMap {
        let names = &preprocess.class_names;
        let by_name: Option<Vec<i64>> = dataset
            .classes
            .iter()
            .map(|c| names.iter().position(|n| n == c).map(|i| i as i64))
            .collect();
        match by_name {
            Some(to_model) if !names.is_empty() => ClassMap {
                to_model,
                outputs: names.len(),
                names: names.clone(),
            },
            _ => ClassMap {
                to_model: (0..dataset.classes.len() as i64).collect(),
                outputs: dataset.classes.len(),
                names: dataset.classes.clone(),
            },
        }
    }

    /// Model output indices for dataset labels.
    pub fn targets(&self, labels: &[i64]) -> Vec<i64> {
        labels
            .iter()
            .map(|&l| self.to_model.get(l as usize).copied().unwrap_or(l))
            .collect()
    }
}

/// One checkpoint's predictions on a fixed batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchPredictions {
    /// File name of the checkpoint.
    pub checkpoint: String,
    /// Position of the checkpoint in checkpoint order.
    pub order: usize,
    /// Indices into `Dataset::examples`, as in the batch.
    pub examples: Vec<usize>,
    /// True class of each example, as a model output index.
    pub labels: Vec<i64>,
    /// Softmax probabilities, `[N][C]`.
    pub probs: Vec<Vec<f32>>,
    /// Arg-max class of each example.
    pub predicted: Vec<usize>,
    /// Cross-entropy loss of each example.
    pub loss: Vec<f32>,
    pub mean_loss: f32,
    /// Fraction of examples whose prediction is the label.
    pub accuracy: f32,
    /// Examples of the batch whose files could not be read: not in `examples`.
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
}

impl BatchPredictions {
    /// Turns `[N * C]` row-major logits into probabilities, predictions and losses.
    pub fn from_logits(
        checkpoint: String,
        order: usize,
        examples: Vec<usize>,
        labels: Vec<i64>,
        logits: &[f32],
        classes: usize,
    ) -> BatchPredictions {
        let mut probs = Vec::with_capacity(labels.len());
        let mut predicted = Vec::with_capacity(labels.len());
        let mut loss = Vec::with_capacity(labels.len());
        for (row, &label) in logits.chunks_exact(classes.max(1)).zip(&labels) {
            // log-sum-exp with the max subtracted: exact for large logits, where softmax underflows.
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row.iter().map(|&x| ((x - max) as f64).exp()).sum();
            let log_z = max as f64 + sum.ln();
            probs.push(
                row.iter()
                    .map(|&x| (x as f64 - log_z).exp() as f32)
                    .collect::<Vec<f32>>(),
            );
            predicted.push(argmax(row));
            loss.push((log_z - row.get(label as usize).copied().unwrap_or(f32::NAN) as f64) as f32);
        }
        let n = labels.len().max(1) as f32;
        let mean_loss = loss.iter().sum::<f32>() / n;
        let correct = predicted
            .iter()
            .zip(&labels)
            .filter(|(p, l)| **p as i64 == **l)
            .count();
        BatchPredictions {
            checkpoint,
            order,
            examples,
            labels,
            probs,
            predicted,
            loss,
            mean_loss,
            accuracy: correct as f32 / n,
            left_out: Vec::new(),
        }
    }

    /// Whether these are the predictions of every example of `batch`, each run or left out, in
    /// the batch's order.
    fn covers(&self, batch: &FixedBatch) -> bool {
        let mut run = self.examples.iter().peekable();
        let mut left_out = self.left_out.iter().map(|l| &l.example).peekable();
        batch.examples.iter().all(|example| {
            if run.peek() == Some(&example) {
                run.next();
                true
            } else {
                left_out.next_if_eq(&example).is_some()
            }
        }) && run.next().is_none()
            && left_out.next().is_none()
    }

    /// Probability the model gives the true class of batch position `i`.
    pub fn p_label(&self, i: usize) -> f32 {
        self.probs[i]
            .get(self.labels[i] as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// True when batch position `i` is predicted right.
    pub fn is_correct(&self, i: usize) -> bool {
        self.predicted[i] as i64 == self.labels[i]
    }

    /// The `k` most probable classes of batch position `i`, most probable first.
    pub fn top_k(&self, i: usize, k: usize) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self.probs[i].iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 { (i, x) } else { best }
        })
        .0
}

/// An example a run left out because its file could not be read or preprocessed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Index into `Dataset::examples`.
    pub example: usize,
    /// The problem, naming the file.
    pub message: String,
}

/// A batch decoded for the model: the examples that could be read, their input, and the rest.
pub struct DecodedBatch {
    pub batch: FixedBatch,
    /// `[N, C, H, W]`, channels-last in memory (`Preprocess::tensor_from_hwc`).
    pub input: Tensor,
    pub left_out: Vec<LeftOut>,
}

/// Decodes the batch's files (in parallel) into one input tensor, leaving out the examples whose
/// files cannot be read or preprocessed (each named with its problem): one bad file does not stop
/// a run. Errors with the first problem when none of them can be read.
pub fn decode_batch(
    preprocess: &Preprocess,
    dataset: &Dataset,
    batch: &FixedBatch,
) -> Result<DecodedBatch, ModelError> {
    use rayon::prelude::*;
    let per_image = preprocess.values_per_image();
    let paths = batch.paths(dataset);
    let mut values = vec![0f32; paths.len() * per_image];
    let results: Vec<Result<(), ModelError>> = values
        .par_chunks_mut(per_image)
        .zip(paths.par_iter())
        .map(|(out, path)| preprocess.write_file_values_hwc(path, out))
        .collect();
    let mut kept = FixedBatch::default();
    let mut left_out = Vec::new();
    let mut first_problem = None;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(()) => {
                // Readable examples move up over the ones left out, in order.
                let at = kept.examples.len();
                if at != i {
                    values.copy_within(i * per_image..(i + 1) * per_image, at * per_image);
                }
                kept.examples.push(batch.examples[i]);
                kept.labels.push(batch.labels[i]);
            }
            Err(e) => {
                left_out.push(LeftOut {
                    example: batch.examples[i],
                    message: e.to_string(),
                });
                first_problem.get_or_insert(e);
            }
        }
    }
    if let Some(problem) = first_problem.filter(|_| kept.is_empty()) {
        return Err(problem);
    }
    values.truncate(kept.examples.len() * per_image);
    Ok(DecodedBatch {
        input: preprocess.tensor_from_hwc(&values),
        batch: kept,
        left_out,
    })
}

/// What to tell the user of the examples a run left out: how many, and the first problem.
pub fn left_out_note(left_out: &[LeftOut], examples: usize) -> Option<String> {
    let first = left_out.first()?;
    Some(format!(
        "{} of {examples} examples could not be read and were left out; the first: {}",
        left_out.len(),
        first.message
    ))
}

/// Runs `model` on the batch's images. The checkpoint's order is 0; `run_evolution` sets it.
pub fn predict_batch(
    model: &LoadedModel,
    preprocess: &Preprocess,
    dataset: &Dataset,
    batch: &FixedBatch,
) -> Result<BatchPredictions, ModelError> {
    let decoded = decode_batch(preprocess, dataset, batch)?;
    Ok(BatchPredictions {
        left_out: decoded.left_out,
        ..predict_input(
            model,
            &decoded.input,
            &ClassMap::new(dataset, preprocess),
            &decoded.batch,
            file_name(&model.path),
            0,
        )?
    })
}

/// Runs `model` on an already preprocessed batch, `FORWARD_CHUNK` examples at a time.
pub fn predict_input(
    model: &LoadedModel,
    input: &Tensor,
    classes: &ClassMap,
    batch: &FixedBatch,
    checkpoint: String,
    order: usize,
) -> Result<BatchPredictions, ModelError> {
    let n = input.size()[0];
    let mut logits: Vec<f32> = Vec::with_capacity(n as usize * classes.outputs);
    let mut start = 0;
    while start < n {
        let len = (FORWARD_CHUNK as i64).min(n - start);
        let chunk = model.checked_logits(&input.narrow(0, start, len), classes.outputs)?;
        logits.extend(Vec::<f32>::try_from(chunk.flatten(0, -1)).map_err(|e| {
            ModelError::Output {
                path: model.path.clone(),
                message: format!("cannot read the logits: {e}"),
            }
        })?);
        start += len;
    }
    let targets = classes.targets(&batch.labels);
    Ok(BatchPredictions::from_logits(
        checkpoint,
        order,
        batch.examples.clone(),
        targets,
        &logits,
        classes.outputs,
    ))
}

/// Where predictions are cached by default: `<cache dir>/eyeball/predictions`.
pub fn default_predictions_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("eyeball").join("predictions"))
}

/// Most bytes of decoded input held at once; larger batches (`eyeball predict --all` on a big
/// dataset) run in parts, each part's models loaded again.
pub const INPUT_BUDGET_BYTES: usize = 1 << 30;

/// Every runnable checkpoint's predictions on a batch, and the checkpoints that failed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evolution {
    /// In checkpoint order.
    pub predictions: Vec<BatchPredictions>,
    /// Examples of the batch whose files could not be read, left out of every checkpoint's run.
    pub left_out: Vec<LeftOut>,
    /// TorchScript files that failed to load or gave bad outputs (NaN after divergence, wrong
    /// shape): `(order, file name, message naming the file and shapes)`.
    pub failures: Vec<(usize, String, String)>,
    /// What the user should know about checkpoints that did run: weights-only files applied to a
    /// TorchScript module, and what could not be applied (BatchNorm buffers, missing names).
    pub notes: Vec<String>,
}

/// Every TorchScript checkpoint of `files` on the batch, in checkpoint order, and every
/// weights-only file applied by name to the first TorchScript file (same architecture); other
/// files are skipped. A checkpoint that fails is listed in `failures` and the others still run. Images are
/// decoded once. With `cache_dir`, results are read from and written to
/// `<cache_dir>/<checkpoint hash>-<key>.json`, the key covering the batch (paths, sizes,
/// modification times, labels) and the preprocessing, so a changed file misses the cache; the
/// folder is kept within [`cache_budget_bytes`], least recently used files removed first.
/// Examples whose files cannot be read are left out (`Evolution::left_out`, and a note). Errors
/// when cancelled or when no image of a part of the batch can be read.
pub fn run_evolution(
    models: &ModelStore,
    files: &[CheckpointFile],
    preprocess: &Preprocess,
    dataset: &Dataset,
    batch: &FixedBatch,
    cache_dir: Option<&Path>,
    progress: &Progress,
) -> Result<Evolution, ModelError> {
    let cache = cache_dir.map(|dir| DiskCache::new(dir, cache_budget_bytes()));
    let template = files.iter().find(|f| f.is_runnable());
    let runnable: Vec<&CheckpointFile> = files
        .iter()
        .filter(|f| {
            f.is_runnable() || (template.is_some() && f.kind == super::CheckpointKind::WeightsOnly)
        })
        .collect();
    let mut notes = Vec::new();
    let [height, width] = preprocess.input_size;
    let example_bytes =
        (preprocess.channels * height * width) as usize * std::mem::size_of::<f32>();
    let part_len = (INPUT_BUDGET_BYTES / example_bytes.max(1)).max(1);
    let parts: Vec<FixedBatch> = batch
        .examples
        .chunks(part_len)
        .zip(batch.labels.chunks(part_len))
        .map(|(examples, labels)| FixedBatch {
            examples: examples.to_vec(),
            labels: labels.to_vec(),
        })
        .collect();
    progress.set_total(runnable.len() * parts.len());
    let classes = ClassMap::new(dataset, preprocess);
    let device = models.device();
    let mut results: Vec<Vec<BatchPredictions>> =
        vec![Vec::with_capacity(parts.len()); runnable.len()];
    let mut failed: Vec<Option<String>> = vec![None; runnable.len()];
    for part in &parts {
        let batch_key = batch_key(preprocess, dataset, part);
        let mut input: Option<DecodedBatch> = None;
        for ((file, file_results), failure) in runnable.iter().zip(&mut results).zip(&mut failed) {
            if progress.is_cancelled() {
                return Err(ModelError::Cancelled);
            }
            if failure.is_some() {
                progress.advance(1);
                continue;
            }
            // A weights-only file's predictions also depend on the module it is applied to.
            let file_key = match (file.is_runnable(), template) {
                (false, Some(template)) => format!("{}-{}", file.hash, template.hash),
                _ => file.hash.clone(),
            };
            let cache_name = format!("{file_key}-{batch_key:016x}.json");
            let cached = cache
                .as_ref()
                .and_then(|cache| read_cached(cache, &cache_name))
                .filter(|p| p.covers(part));
            let predictions = match cached {
                Some(predictions) => BatchPredictions {
                    checkpoint: file.name.clone(),
                    order: file.order,
                    ..predictions
                },
                None => {
                    let decoded = match &mut input {
                        Some(decoded) => decoded,
                        None => {
                            let mut decoded = decode_batch(preprocess, dataset, part)?;
                            decoded.input = decoded.input.to_device(device);
                            input.insert(decoded)
                        }
                    };
                    let model = models.model(file, template, Head::Logits);
                    let run = model.and_then(|stored| {
                        for note in stored.notes {
                            if !notes.contains(&note) {
                                notes.push(note);
                            }
                        }
                        predict_input(
                            &stored.model,
                            &decoded.input,
                            &classes,
                            &decoded.batch,
                            file.name.clone(),
                            file.order,
                        )
                        .map(|predictions| BatchPredictions {
                            left_out: decoded.left_out.clone(),
                            ..predictions
                        })
                    });
                    match run {
                        Ok(predictions) => {
                            if let Some(cache) = &cache {
                                // A cache that cannot be written only costs time on the next run.
                                let _ = write_cached(cache, &cache_name, &predictions);
                            }
                            predictions
                        }
                        Err(e) => {
                            *failure = Some(e.to_string());
                            progress.advance(1);
                            continue;
                        }
                    }
                }
            };
            file_results.push(predictions);
            progress.advance(1);
        }
    }
    let mut evolution = Evolution {
        notes,
        ..Evolution::default()
    };
    for ((file, parts), failure) in runnable.iter().zip(results).zip(failed) {
        match failure {
            Some(message) => evolution
                .failures
                .push((file.order, file.name.clone(), message)),
            None => evolution
                .predictions
                .extend(BatchPredictions::concat(parts)),
        }
    }
    // Every checkpoint left out the same examples.
    if let Some(first) = evolution.predictions.first() {
        evolution.left_out = first.left_out.clone();
        evolution
            .notes
            .extend(left_out_note(&first.left_out, batch.len()));
    }
    Ok(evolution)
}

impl BatchPredictions {
    /// Joins one checkpoint's predictions on consecutive parts of a batch; `None` when empty.
    pub fn concat(parts: Vec<BatchPredictions>) -> Option<BatchPredictions> {
        let mut parts = parts.into_iter();
        let mut whole = parts.next()?;
        let mut loss_sum = whole.mean_loss as f64 * whole.examples.len() as f64;
        let mut correct = (whole.accuracy as f64 * whole.examples.len() as f64).round();
        for part in parts {
            loss_sum += part.mean_loss as f64 * part.examples.len() as f64;
            correct += (part.accuracy as f64 * part.examples.len() as f64).round();
            whole.examples.extend(part.examples);
            whole.labels.extend(part.labels);
            whole.probs.extend(part.probs);
            whole.predicted.extend(part.predicted);
            whole.loss.extend(part.loss);
            whole.left_out.extend(part.left_out);
        }
        let n = whole.examples.len().max(1) as f64;
        whole.mean_loss = (loss_sum / n) as f32;
        whole.accuracy = (correct / n) as f32;
        Some(whole)
    }
}

/// What the cached predictions of a checkpoint depend on, besides the checkpoint itself.
fn batch_key(preprocess: &Preprocess, dataset: &Dataset, batch: &FixedBatch) -> u64 {
    let mut hasher = Xxh3::new();
    hash_str(&mut hasher, "eyeball-predictions/2");
    hash_str(
        &mut hasher,
        &serde_json::to_string(preprocess).unwrap_or_default(),
    );
    hash_str(&mut hasher, &dataset.classes.join("\u{1f}"));
    for (&index, &label) in batch.examples.iter().zip(&batch.labels) {
        hash_file_stamp(
            &mut hasher,
            &dataset.absolute_path(&dataset.examples[index]),
        );
        hasher.update(&label.to_le_bytes());
    }
    hasher.digest()
}

fn read_cached(cache: &DiskCache, name: &str) -> Option<BatchPredictions> {
    serde_json::from_slice(&cache.read(name)?).ok()
}

fn write_cached(
    cache: &DiskCache,
    name: &str,
    predictions: &BatchPredictions,
) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(predictions).map_err(std::io::Error::other)?;
    cache.write(name, &bytes)
}

/// An example whose prediction is right under one checkpoint and wrong under the other.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flip {
    /// Index into `Dataset::examples`.
    pub example: usize,
    /// True class (model output index).
    pub label: i64,
    pub a_pred: usize,
    pub b_pred: usize,
    /// Probability of the true class under A and under B.
    pub a_p_label: f32,
    pub b_p_label: f32,
}

impl Flip {
    /// True for wrong under A, right under B.
    pub fn is_fix(&self) -> bool {
        self.b_pred as i64 == self.label
    }
}

/// The flips from A to B (right→wrong and wrong→right, in batch order) and every example's change
/// in the probability of its true class, `(example, p_B - p_A)`, largest change first. Examples
/// are matched by dataset index, so two different batches compare on what they share.
pub fn compare(a: &BatchPredictions, b: &BatchPredictions) -> (Vec<Flip>, Vec<(usize, f32)>) {
    let b_position: HashMap<usize, usize> = b
        .examples
        .iter()
        .enumerate()
        .map(|(i, &e)| (e, i))
        .collect();
    let mut flips = Vec::new();
    let mut changes = Vec::new();
    for (i, &example) in a.examples.iter().enumerate() {
        let Some(&j) = b_position.get(&example) else {
            continue;
        };
        let (a_p, b_p) = (a.p_label(i), b.p_label(j));
        if a.is_correct(i) != b.is_correct(j) {
            flips.push(Flip {
                example,
                label: a.labels[i],
                a_pred: a.predicted[i],
                b_pred: b.predicted[j],
                a_p_label: a_p,
                b_p_label: b_p,
            });
        }
        changes.push((example, b_p - a_p));
    }
    changes.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()).then(x.0.cmp(&y.0)));
    (flips, changes)
}

/// One row per (checkpoint, example): the table `eyeball predict` writes. Columns: `checkpoint`,
/// `order`, `path` (relative to the dataset root), `label`, `label_name`, `predicted`,
/// `predicted_name`, `p_label`, `loss`, `top5` (`class:probability` pairs joined by `;`).
pub fn predictions_table(
    predictions: &[BatchPredictions],
    dataset: &Dataset,
    class_names: &[String],
) -> DataFrame {
    let rows: Vec<(&BatchPredictions, usize)> = predictions
        .iter()
        .flat_map(|p| (0..p.examples.len()).map(move |i| (p, i)))
        .collect();
    let name = |class: i64| {
        class_names
            .get(class as usize)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    };
    let columns = vec![
        column(
            "checkpoint",
            rows.iter()
                .map(|(p, _)| p.checkpoint.as_str())
                .collect::<Vec<_>>(),
        ),
        column(
            "order",
            rows.iter().map(|(p, _)| p.order as u32).collect::<Vec<_>>(),
        ),
        column(
            "path",
            rows.iter()
                .map(|(p, i)| {
                    dataset.examples[p.examples[*i]]
                        .path
                        .to_string_lossy()
                        .into_owned()
                })
                .collect::<Vec<_>>(),
        ),
        column(
            "label",
            rows.iter().map(|(p, i)| p.labels[*i]).collect::<Vec<_>>(),
        ),
        column(
            "label_name",
            rows.iter()
                .map(|(p, i)| name(p.labels[*i]))
                .collect::<Vec<_>>(),
        ),
        column(
            "predicted",
            rows.iter()
                .map(|(p, i)| p.predicted[*i] as i64)
                .collect::<Vec<_>>(),
        ),
        column(
            "predicted_name",
            rows.iter()
                .map(|(p, i)| name(p.predicted[*i] as i64))
                .collect::<Vec<_>>(),
        ),
        column(
            "p_label",
            rows.iter().map(|(p, i)| p.p_label(*i)).collect::<Vec<_>>(),
        ),
        column(
            "loss",
            rows.iter().map(|(p, i)| p.loss[*i]).collect::<Vec<_>>(),
        ),
        column(
            "top5",
            rows.iter()
                .map(|(p, i)| {
                    p.top_k(*i, 5)
                        .iter()
                        .map(|(c, prob)| format!("{c}:{prob:.4}"))
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .collect::<Vec<_>>(),
        ),
    ];
    // Every column has one value per row and the names are distinct.
    DataFrame::new(rows.len(), columns)
        .expect("prediction columns have equal lengths and unique names")
}

fn column<T, V>(name: &str, values: V) -> Column
where
    Series: NamedFrom<V, T>,
    T: ?Sized,
{
    Series::new(name.into(), values).into_column()
}

/// Writes `df` as CSV or Parquet, chosen by `path`'s extension, atomically.
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<(), ModelError> {
    let bad = |message: String| ModelError::Write {
        path: path.to_path_buf(),
        message,
    };
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut bytes = Vec::new();
    match extension.as_str() {
        "csv" => CsvWriter::new(&mut bytes)
            .include_header(true)
            .finish(df)
            .map_err(|e| bad(e.to_string()))?,
        "parquet" => {
            ParquetWriter::new(&mut bytes)
                .finish(df)
                .map_err(|e| bad(e.to_string()))?;
        }
        other => {
            return Err(bad(format!(
                "unknown table format '.{other}': use .csv or .parquet"
            )));
        }
    }
    write_atomically(path, |file| std::io::Write::write_all(file, &bytes))
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn predictions(predicted_probs: &[[f32; 3]], labels: &[i64]) -> BatchPredictions {
        let logits: Vec<f32> = predicted_probs
            .iter()
            .flat_map(|row| row.iter().map(|p| p.ln()))
            .collect();
        let examples = (10..10 + labels.len()).collect();
        BatchPredictions::from_logits("x.pt".into(), 0, examples, labels.to_vec(), &logits, 3)
    }

    #[test]
    fn logits_become_probabilities_losses_and_accuracy() {
        let p = predictions(&[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], &[0, 1]);
        assert_eq!(p.predicted, vec![0, 2]);
        assert!((p.probs[0][0] - 0.7).abs() < 1e-6);
        assert!((p.loss[1] - -(0.1f32.ln())).abs() < 1e-5);
        assert_eq!(p.accuracy, 0.5);
        assert!((p.p_label(1) - 0.1).abs() < 1e-6);
        assert_eq!(
            p.top_k(0, 2).iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![0, 1]
        );
        // Huge logits: no overflow, the loss stays finite and exact.
        let big = BatchPredictions::from_logits(
            "b".into(),
            0,
            vec![0],
            vec![1],
            &[1000.0, 0.0, -1000.0],
            3,
        );
        assert!((big.loss[0] - 1000.0).abs() < 1e-3 && big.probs[0][0] == 1.0);
    }

    #[test]
    fn compare_lists_both_kinds_of_flip_and_the_largest_changes_first() {
        let labels = [0, 1, 2, 0];
        let a = predictions(
            &[
                [0.9, 0.05, 0.05],
                [0.6, 0.3, 0.1],
                [0.1, 0.1, 0.8],
                [0.4, 0.5, 0.1],
            ],
            &labels,
        );
        let b = predictions(
            &[
                [0.85, 0.1, 0.05],
                [0.2, 0.7, 0.1],
                [0.1, 0.6, 0.3],
                [0.42, 0.5, 0.08],
            ],
            &labels,
        );
        let (flips, changes) = compare(&a, &b);
        assert_eq!(flips.len(), 2, "{flips:?}");
        assert_eq!(
            (
                flips[0].example,
                flips[0].a_pred,
                flips[0].b_pred,
                flips[0].is_fix()
            ),
            (11, 0, 1, true)
        );
        assert_eq!(
            (
                flips[1].example,
                flips[1].a_pred,
                flips[1].b_pred,
                flips[1].is_fix()
            ),
            (12, 2, 1, false)
        );
        assert!((flips[1].a_p_label - 0.8).abs() < 1e-6 && (flips[1].b_p_label - 0.3).abs() < 1e-6);
        assert_eq!(
            changes.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![12, 11, 10, 13]
        );
        assert!((changes[0].1 + 0.5).abs() < 1e-5 && (changes[1].1 - 0.4).abs() < 1e-5);
        assert_eq!(compare(&a, &a).0, vec![]);
    }
}
