//! The recipe checks: loss at init against ln(C), an input-independent baseline, batch
//! independence through backprop, and overfitting a few examples. Each gives a verdict, the
//! numbers behind it and what to do.

use serde::{Serialize, Serializer};
use tch::{Device, Kind, Tensor};

use super::checkpoints::CheckpointFile;
use super::overfit::{OVERFIT, OverfitSettings, overfit_examples, overfit_one_batch};
use super::predict::{BatchPredictions, ClassMap, FixedBatch};
use super::store::{Head, ModelStore};
use super::{LoadedModel, ModelError, Preprocess, torch_message};
use crate::dataset::Dataset;
use crate::jobs::Progress;

/// Loss at init passes within this fraction of ln(C) ...
pub const INIT_LOSS_PASS: f64 = 0.10;
/// ... and warns within this one; beyond, it fails.
pub const INIT_LOSS_WARN: f64 = 0.25;
/// The baseline passes when the loss on real inputs is at most this fraction of the loss on
/// all-zero inputs ("clearly better": at least 20% lower).
pub const BASELINE_RATIO: f64 = 0.8;
/// Batch independence passes when the gradient on the other examples is at most this fraction of
/// the gradient on the example itself. A model that keeps examples apart gives exactly 0.
pub const LEAK_TOLERANCE: f64 = 1e-4;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    /// Upper-case label for terminals: PASS, WARN, FAIL.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub verdict: Verdict,
    /// The numbers the verdict rests on, in display order; JSON: `[{"name": .., "value": ..}]`.
    #[serde(serialize_with = "named_numbers")]
    pub numbers: Vec<(String, f64)>,
    /// What the verdict means and, when it is not a pass, the usual causes.
    pub explanation: String,
    /// A loss per training step, for checks that train (overfit one batch); else empty.
    #[serde(rename = "loss_curve", skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<f64>,
}

fn named_numbers<S: Serializer>(
    numbers: &[(String, f64)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Named<'a> {
        name: &'a str,
        value: f64,
    }
    serializer.collect_seq(numbers.iter().map(|(name, value)| Named {
        name,
        value: *value,
    }))
}

impl CheckResult {
    fn failed(name: &str, error: &ModelError) -> CheckResult {
        CheckResult {
            name: name.into(),
            verdict: Verdict::Fail,
            numbers: Vec::new(),
            explanation: error.to_string(),
            curve: Vec::new(),
        }
    }
}

/// Runs the four checks on the batch: loss at init on the first TorchScript checkpoint, the
/// baseline and batch independence on the last, overfitting a few examples on the one `overfit`
/// names (else the first). A checkpoint that fails to load or gives bad outputs fails the checks
/// that use it, with the error as the explanation. Errors only when there is nothing to check:
/// no TorchScript file, an empty batch, an image that cannot be read.
pub fn recipe_checks(
    files: &[CheckpointFile],
    preprocess: &Preprocess,
    dataset: &Dataset,
    batch: &FixedBatch,
    overfit: &OverfitSettings,
    models: &ModelStore,
    progress: &Progress,
) -> Result<Vec<CheckResult>, ModelError> {
    let device = models.device();
    progress.set_stage_name("loss, baseline and batch independence");
    progress.start_stage(3);
    let cancelled = || {
        if progress.is_cancelled() {
            Err(ModelError::Cancelled)
        } else {
            Ok(())
        }
    };
    let runnable: Vec<&CheckpointFile> = files.iter().filter(|f| f.is_runnable()).collect();
    let (Some(first), Some(last)) = (runnable.first(), runnable.last()) else {
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        return Err(ModelError::Dataset {
            root: files
                .first()
                .and_then(|f| f.path.parent())
                .map(|p| p.to_path_buf())
                .unwrap_or_default(),
            message: format!(
                "no TorchScript checkpoint to check among [{}]",
                names.join(", ")
            ),
        });
    };
    if batch.is_empty() {
        return Err(ModelError::Dataset {
            root: dataset.root.clone(),
            message: "no labelled examples to check on".into(),
        });
    }
    // Examples whose files cannot be read are left out of every check.
    let decoded = super::predict::decode_batch(preprocess, dataset, batch)?;
    let (batch, input) = (&decoded.batch, decoded.input.to_device(device));
    let classes = ClassMap::new(dataset, preprocess);
    let targets = classes.targets(&batch.labels);
    let load = |file: &CheckpointFile| models.model(file, None, Head::Logits).map(|s| s.model);
    let first_model = load(first);
    let last_model = if last.path == first.path {
        None
    } else {
        Some(load(last))
    };
    let last_model = last_model.as_ref().unwrap_or(&first_model);

    cancelled()?;
    let init = match &first_model {
        Ok(model) => loss_at_init(model, &input, &classes, batch)
            .unwrap_or_else(|e| CheckResult::failed(LOSS_AT_INIT, &e)),
        Err(e) => CheckResult::failed(LOSS_AT_INIT, e),
    };
    progress.advance(1);
    cancelled()?;
    let baseline = match last_model {
        Ok(model) => input_independent_baseline(model, &input, &classes, batch)
            .unwrap_or_else(|e| CheckResult::failed(BASELINE, &e)),
        Err(e) => CheckResult::failed(BASELINE, e),
    };
    progress.advance(1);
    cancelled()?;
    let independence = match last_model {
        Ok(model) => batch_independence(model, &input, &targets, classes.outputs)
            .unwrap_or_else(|e| CheckResult::failed(BATCH_INDEPENDENCE, &e)),
        Err(e) => CheckResult::failed(BATCH_INDEPENDENCE, e),
    };
    progress.advance(1);
    cancelled()?;
    let fitted = match overfit.checkpoint.as_deref() {
        None => Some(*first),
        Some(name) => runnable.iter().copied().find(|f| f.name == name),
    };
    let fitted = match fitted {
        Some(file) => {
            progress.set_stage_name("overfit one batch");
            let chosen = overfit_examples(&batch.labels, overfit.examples);
            let rows = Tensor::from_slice(&chosen.iter().map(|&i| i as i64).collect::<Vec<_>>())
                .to_device(input.device());
            let chosen_targets: Vec<i64> = chosen.iter().map(|&i| targets[i]).collect();
            let names: Vec<String> = chosen
                .iter()
                .map(|&i| {
                    crate::dataset::relative_path_text(&dataset.examples[batch.examples[i]].path)
                })
                .collect();
            let result = overfit_one_batch(
                &file.path,
                &input.index_select(0, &rows),
                &chosen_targets,
                &names,
                classes.outputs,
                device,
                progress,
            );
            match result {
                Err(ModelError::Cancelled) => return Err(ModelError::Cancelled),
                Err(e) => CheckResult::failed(OVERFIT, &e),
                Ok(result) => result,
            }
        }
        None => CheckResult::failed(
            OVERFIT,
            &ModelError::Dataset {
                root: dataset.root.clone(),
                message: format!(
                    "no TorchScript checkpoint named {} to overfit",
                    overfit.checkpoint.as_deref().unwrap_or_default()
                ),
            },
        ),
    };
    Ok(vec![init, baseline, independence, fitted])
}

/// Name of the loss-at-init check.
pub const LOSS_AT_INIT: &str = "Loss at init";
/// Name of the input-independent baseline check.
pub const BASELINE: &str = "Input-independent baseline";
/// Name of the batch independence check.
pub const BATCH_INDEPENDENCE: &str = "Batch independence";

fn predictions(
    model: &LoadedModel,
    input: &Tensor,
    classes: &ClassMap,
    batch: &FixedBatch,
) -> Result<BatchPredictions, ModelError> {
    let name = super::file_name(&model.path);
    super::predict::predict_input(model, input, classes, batch, name, 0)
}

/// The first checkpoint's mean loss against ln(C), the loss of a uniform prediction.
fn loss_at_init(
    model: &LoadedModel,
    input: &Tensor,
    classes: &ClassMap,
    batch: &FixedBatch,
) -> Result<CheckResult, ModelError> {
    let p = predictions(model, input, classes, batch)?;
    let c = classes.outputs as f64;
    let ln_c = c.ln();
    let loss = p.mean_loss as f64;
    let relative = (loss - ln_c).abs() / ln_c;
    let verdict = if relative <= INIT_LOSS_PASS {
        Verdict::Pass
    } else if relative <= INIT_LOSS_WARN {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let name = &p.checkpoint;
    let explanation = match verdict {
        Verdict::Pass => format!(
            "{name}'s loss on the fixed batch, {loss:.3}, is within {:.0}% of ln(C) = ln({c}) = {ln_c:.3}: the model \
             starts out predicting about uniformly, as a well-initialised classifier should.",
            INIT_LOSS_PASS * 100.0
        ),
        _ if loss > ln_c => format!(
            "{name}'s loss on the fixed batch, {loss:.3}, is {:.1}x ln(C) = {ln_c:.3}: the first predictions are \
             confident, and mostly wrong. Usually the last layer's weights are too large or its bias is not zero; \
             initialise it small (e.g. nn.init.normal_(last.weight, std=1e-3), zero bias) so that the loss starts \
             at ln(C). If {name} is not the model at initialisation, save a checkpoint before the first step.",
            loss / ln_c
        ),
        _ => format!(
            "{name}'s loss on the fixed batch, {loss:.3}, is well below ln(C) = {ln_c:.3}: this checkpoint has already \
             learned something, so it is not the model at initialisation (save one before the first step), or the \
             labels leak into the inputs."
        ),
    };
    Ok(CheckResult {
        name: LOSS_AT_INIT.into(),
        verdict,
        numbers: vec![
            ("loss".into(), loss),
            ("ln(C)".into(), ln_c),
            ("C".into(), c),
            ("relative difference".into(), relative),
            ("accuracy".into(), p.accuracy as f64),
        ],
        explanation,
        curve: Vec::new(),
    })
}

/// The last checkpoint's loss on real inputs against its loss with every input set to zero.
fn input_independent_baseline(
    model: &LoadedModel,
    input: &Tensor,
    classes: &ClassMap,
    batch: &FixedBatch,
) -> Result<CheckResult, ModelError> {
    let real = predictions(model, input, classes, batch)?;
    let zero = predictions(model, &input.zeros_like(), classes, batch)?;
    let (r, z) = (real.mean_loss as f64, zero.mean_loss as f64);
    let name = &real.checkpoint;
    let (verdict, explanation) = if r <= BASELINE_RATIO * z {
        (
            Verdict::Pass,
            format!(
                "{name} does clearly better on real inputs (loss {r:.3}) than with every input set to zero \
                 (loss {z:.3}): it uses its inputs."
            ),
        )
    } else {
        (
            Verdict::Warn,
            format!(
                "{name} does no better on real inputs (loss {r:.3}) than with every input set to zero (loss {z:.3}; \
                 it passes when the real loss is at most {:.0}% of that): it has not learned to use its inputs. \
                 Expected at initialisation; for a trained checkpoint, check that the inputs reach the model \
                 (preprocessing, normalisation, an input overwritten or detached in forward) and the learning rate.",
                BASELINE_RATIO * 100.0
            ),
        )
    };
    Ok(CheckResult {
        name: BASELINE.into(),
        verdict,
        numbers: vec![
            ("loss on real inputs".into(), r),
            ("loss on zero inputs".into(), z),
            ("accuracy on real inputs".into(), real.accuracy as f64),
            ("accuracy on zero inputs".into(), zero.accuracy as f64),
        ],
        explanation,
        curve: Vec::new(),
    })
}

/// In eval mode, backpropagates the loss of single examples to the whole input batch and measures
/// the gradient that lands on the other examples.
fn batch_independence(
    model: &LoadedModel,
    input: &Tensor,
    targets: &[i64],
    classes: usize,
) -> Result<CheckResult, ModelError> {
    let n = input.size()[0] as usize;
    let name = super::file_name(&model.path);
    if n < 2 {
        return Ok(CheckResult {
            name: BATCH_INDEPENDENCE.into(),
            verdict: Verdict::Warn,
            numbers: vec![("examples".into(), n as f64)],
            explanation: "needs a batch of at least 2 examples".into(),
            curve: Vec::new(),
        });
    }
    // Probe the example with the largest loss (a confident, right prediction can have a gradient
    // too small to measure), then the first and the middle one.
    let logits = model.checked_logits(input, classes)?;
    let logits = Vec::<f32>::try_from(logits.flatten(0, -1)).unwrap_or_default();
    let losses = BatchPredictions::from_logits(
        name.clone(),
        0,
        (0..n).collect(),
        targets.to_vec(),
        &logits,
        classes,
    )
    .loss;
    let hardest = (0..n)
        .max_by(|&a, &b| losses[a].total_cmp(&losses[b]))
        .unwrap_or(0);
    let mut probes = vec![hardest];
    for i in [0, n / 2] {
        if !probes.contains(&i) {
            probes.push(i);
        }
    }
    let mut worst: Option<Probe> = None;
    for &i in &probes {
        let probe = gradient_probe(model, input, targets, classes, i)?;
        if worst.as_ref().is_none_or(|w| probe.ratio() > w.ratio()) {
            worst = Some(probe);
        }
    }
    let w = worst.unwrap_or_default();
    let ratio = w.ratio();
    let (verdict, explanation) = if w.own == 0.0 && w.others == 0.0 {
        (
            Verdict::Warn,
            format!(
                "No gradient reached the input of {name} (dead ReLUs, or an output that does not depend on the \
                 input), so leaks cannot be measured."
            ),
        )
    } else if ratio <= LEAK_TOLERANCE {
        (
            Verdict::Pass,
            format!(
                "In eval mode, the loss of one example of {name} sends no gradient to the other {} examples \
                 (ratio {}, worst of examples {probes:?}): examples do not leak into each other.",
                n - 1,
                format_number(ratio)
            ),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "In eval mode, the loss of example {} alone sends gradient to {} of the other {} examples of the \
                 batch (norm {:.3e}, {ratio:.3} times the gradient on the example itself): {name} mixes examples \
                 across the batch dimension, so a prediction depends on what else is in the batch. Usual causes: \
                 a view/reshape/permute that crosses the batch dimension (x.view(-1, features) on the wrong \
                 shape, or swapping batch and channel dimensions before a reshape); BatchNorm in train mode (a \
                 traced model keeps the mode it was traced in: call model.eval() before torch.jit.trace); \
                 statistics taken over the batch (x - x.mean(0)).",
                w.example,
                w.leaking,
                n - 1,
                w.others
            ),
        )
    };
    Ok(CheckResult {
        name: BATCH_INDEPENDENCE.into(),
        verdict,
        numbers: vec![
            ("examples".into(), n as f64),
            ("probe example".into(), w.example as f64),
            ("gradient norm on the example".into(), w.own),
            ("gradient norm on the other examples".into(), w.others),
            ("ratio".into(), ratio),
            ("other examples with gradient".into(), w.leaking as f64),
        ],
        explanation,
        curve: Vec::new(),
    })
}

#[derive(Debug, Default)]
struct Probe {
    example: usize,
    own: f64,
    others: f64,
    leaking: usize,
}

impl Probe {
    fn ratio(&self) -> f64 {
        if self.own > 0.0 {
            self.others / self.own
        } else if self.others > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    }
}

fn gradient_probe(
    model: &LoadedModel,
    input: &Tensor,
    targets: &[i64],
    classes: usize,
    i: usize,
) -> Result<Probe, ModelError> {
    let torch_err = |e: tch::TchError| ModelError::Forward {
        path: model.path.clone(),
        input_shape: input.size(),
        message: torch_message(&e.to_string()),
    };
    // Grad mode is per thread, and the worker running this may hold a no-grad guard.
    tch::with_grad(|| {
        let x = input.contiguous().detach().set_requires_grad(true);
        let logits = model.logits_with_grad(&x, classes)?;
        let target = Tensor::from_slice(&targets[i..=i]).to_device(logits.device());
        let loss = logits
            .narrow(0, i as i64, 1)
            .to_kind(Kind::Float)
            .cross_entropy_for_logits(&target);
        let grads = Tensor::f_run_backward(&[&loss], &[&x], false, false).map_err(torch_err)?;
        let grad = grads
            .first()
            .map(|g| g.to_device(Device::Cpu).to_kind(Kind::Double))
            .ok_or_else(|| ModelError::Output {
                path: model.path.clone(),
                message: "backprop returned no gradient".into(),
            })?;
        let squares: Vec<f64> = Vec::try_from(grad.flatten(1, -1).square().sum_dim_intlist(
            [1i64].as_slice(),
            false,
            Kind::Double,
        ))
        .map_err(torch_err)?;
        let others: f64 = squares
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| s)
            .sum();
        let leaking = squares
            .iter()
            .enumerate()
            .filter(|(j, s)| *j != i && **s > 0.0)
            .count();
        Ok(Probe {
            example: i,
            own: squares[i].sqrt(),
            others: others.sqrt(),
            leaking,
        })
    })
}

/// The results as text for terminals: verdict and name, the numbers, the explanation wrapped.
pub fn results_text(results: &[CheckResult]) -> String {
    let mut out = String::new();
    for result in results {
        out += &format!("{}  {}\n", result.verdict.label(), result.name);
        if !result.numbers.is_empty() {
            let numbers: Vec<String> = result
                .numbers
                .iter()
                .map(|(n, v)| format!("{n} {}", format_number(*v)))
                .collect();
            out += &wrap(&numbers.join(", "), 6, 100);
        }
        out += &wrap(&result.explanation, 6, 100);
        out += "\n";
    }
    out
}

/// Four significant figures, integers as integers, very small or large numbers in exponent form.
pub fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e6 {
        format!("{value:.0}")
    } else if value != 0.0 && (value.abs() < 1e-3 || value.abs() >= 1e6) {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}

fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out += &format!("{}{line}\n", " ".repeat(indent));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    if !line.is_empty() {
        out += &format!("{}{line}\n", " ".repeat(indent));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_with_four_figures() {
        assert_eq!(format_number(10.0), "10");
        assert_eq!(format_number(1.234567), "1.2346");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(1.5e-7), "1.500e-7");
    }

    #[test]
    fn the_text_shows_verdict_numbers_and_wrapped_explanation() {
        let result = CheckResult {
            name: "Loss at init".into(),
            verdict: Verdict::Fail,
            numbers: vec![("loss".into(), 9.5), ("ln(C)".into(), 10f64.ln())],
            explanation: "word ".repeat(40),
            curve: Vec::new(),
        };
        let text = results_text(&[result]);
        assert!(
            text.starts_with("FAIL  Loss at init\n      loss 9.5000, ln(C) 2.3026\n      word"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.len() <= 100), "{text}");
    }
}
