//! The recipe's "overfit one batch" check: a copy of a checkpoint, loaded afresh, is trained in
//! memory on a few examples; a net that cannot drive their loss to zero has a bug. The file is
//! never written.

use std::path::Path;

use tch::{COptimizer, Device, Kind, Tensor};

use super::checks::{CheckResult, Verdict};
use super::{LoadedModel, ModelError, file_name, torch_message};
use crate::jobs::Progress;

/// Name of the check.
pub const OVERFIT: &str = "Overfit one batch";
/// The check passes once the mean loss is below this and every example is predicted right.
pub const OVERFIT_LOSS: f64 = 0.01;
/// Adam steps per learning rate.
pub const OVERFIT_STEPS: usize = 300;
/// Learning rates tried in turn, each on a fresh copy, until one passes.
pub const OVERFIT_LEARNING_RATES: [f64; 2] = [1e-3, 1e-2];
/// Examples trained on by default, and the range the user may choose from.
pub const DEFAULT_OVERFIT_EXAMPLES: usize = 4;
pub const OVERFIT_EXAMPLES: std::ops::RangeInclusive<usize> = 2..=16;
/// A loss curve whose lowest point is within this fraction of its start "did not move".
const FLAT_CURVE: f64 = 0.01;

/// What to overfit: how many examples of the fixed batch, and which checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct OverfitSettings {
    pub examples: usize,
    /// File name of the checkpoint; `None` takes the first TorchScript one.
    pub checkpoint: Option<String>,
}

impl Default for OverfitSettings {
    fn default() -> Self {
        OverfitSettings {
            examples: DEFAULT_OVERFIT_EXAMPLES,
            checkpoint: None,
        }
    }
}

/// The first `count` positions in a batch with these labels, with at least two labels among them
/// when the batch has two: a constant output fits examples that all share one label.
pub fn overfit_examples(labels: &[i64], count: usize) -> Vec<usize> {
    let count = count.max(1).min(labels.len());
    let mut chosen: Vec<usize> = (0..count).collect();
    let one_label = chosen.iter().all(|&i| labels[i] == labels[0]);
    if one_label
        && count >= 2
        && let Some(other) = (count..labels.len()).find(|&i| labels[i] != labels[0])
    {
        chosen[count - 1] = other;
    }
    chosen
}

/// One training run at one learning rate.
struct Attempt {
    learning_rate: f64,
    /// Mean loss before each step, and after the last one.
    curve: Vec<f64>,
    correct: usize,
    /// Trainable parameter tensors, and how many of them received a gradient.
    trainable: usize,
    with_gradient: usize,
    looks_like_probabilities: bool,
}

impl Attempt {
    fn final_loss(&self) -> f64 {
        self.curve.last().copied().unwrap_or(f64::NAN)
    }

    fn passed(&self, examples: usize) -> bool {
        self.final_loss() < OVERFIT_LOSS && self.correct == examples
    }
}

/// Trains fresh copies of the TorchScript file at `path` on `input` (`[N, C, H, W]`, N small)
/// against `targets` (model output indices), one learning rate after another until one passes.
/// `examples` names the images, for the explanation.
pub fn overfit_one_batch(
    path: &Path,
    input: &Tensor,
    targets: &[i64],
    examples: &[String],
    classes: usize,
    device: Device,
    progress: &Progress,
) -> Result<CheckResult, ModelError> {
    let n = targets.len();
    let name = file_name(path);
    let mut attempts: Vec<Attempt> = Vec::new();
    for &learning_rate in &OVERFIT_LEARNING_RATES {
        let attempt = train(
            path,
            input,
            targets,
            classes,
            device,
            learning_rate,
            progress,
        )?;
        let done = attempt.passed(n) || attempt.trainable == 0;
        attempts.push(attempt);
        if done {
            break;
        }
    }
    let labels = {
        let mut distinct = targets.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    };
    let last = attempts.last().expect("at least one learning rate");
    let mut numbers = vec![
        ("examples".into(), n as f64),
        ("distinct labels".into(), labels as f64),
        ("trainable parameter tensors".into(), last.trainable as f64),
    ];
    if last.trainable == 0 {
        return Ok(CheckResult {
            name: OVERFIT.into(),
            verdict: Verdict::Fail,
            numbers,
            explanation: format!(
                "{name} has no trainable parameters: every parameter has requires_grad=False, or the module was \
                 frozen (torch.jit.freeze turns parameters into constants). Nothing can be fitted, so this \
                 check cannot tell a bug from a frozen export; script or trace the model unfrozen, with its \
                 parameters requiring gradients, to run it."
            ),
            curve: Vec::new(),
        });
    }
    let initial = last.curve.first().copied().unwrap_or(f64::NAN);
    let lowest = last.curve.iter().copied().fold(f64::INFINITY, f64::min);
    let steps = last.curve.len() - 1;
    numbers.extend([
        ("learning rate".into(), last.learning_rate),
        ("Adam steps".into(), steps as f64),
        ("initial loss".into(), initial),
        ("final loss".into(), last.final_loss()),
        ("predicted right".into(), last.correct as f64),
        (
            "parameter tensors with gradient".into(),
            last.with_gradient as f64,
        ),
    ]);
    let trained_on = format!("Trained on {}.", examples.join(", "));
    let tried: Vec<String> = attempts
        .iter()
        .map(|a| format!("{:e}", a.learning_rate))
        .collect();
    let (verdict, explanation) = if last.passed(n) {
        (
            Verdict::Pass,
            format!(
                "A copy of {name} trained on {n} examples of the fixed batch reached loss {:.4} (below {OVERFIT_LOSS}) \
                 with all {n} predicted right after {steps} Adam steps at learning rate {:e}: the net can fit \
                 a batch, as the recipe expects. The copy lived in memory; {name} was not changed. {trained_on}",
                last.final_loss(),
                last.learning_rate
            ),
        )
    } else {
        let mut causes = Vec::new();
        if last.with_gradient < last.trainable {
            causes.push(format!(
                "{} of {} parameter tensors received no gradient: part of the net is detached from the output \
                 (a .detach(), .data or torch.no_grad in forward, or a branch that is never used)",
                last.trainable - last.with_gradient,
                last.trainable
            ));
        }
        if last.looks_like_probabilities {
            causes.push(
                "the outputs are all between 0 and 1 and sum to 1: the model returns probabilities \
                 (a softmax at the end), not logits, so cross-entropy cannot reach zero; return the \
                 logits and apply the softmax outside"
                    .to_string(),
            );
        }
        if lowest >= initial * (1.0 - FLAT_CURVE) {
            causes.push(
                "the loss did not move: the parameters that got gradients do not change the output, or the output \
                 ignores the input"
                    .to_string(),
            );
        } else if labels > 1 {
            causes.push(
                "the loss fell but stopped above zero: an output that does not depend on the input can \
                 only learn the label frequencies"
                    .to_string(),
            );
        }
        causes.extend([
            "a learning rate far off (both rates tried failed)".to_string(),
            "frozen parameters or a model exported in an eval-only form".to_string(),
            "labels mapped to the wrong outputs (check the class order in preprocess.json)"
                .to_string(),
        ]);
        (
            Verdict::Fail,
            format!(
                "A copy of {name} trained on {n} examples of the fixed batch for {steps} Adam steps at learning \
                 rate{} {} stopped at loss {:.4} (lowest {lowest:.4}, started at {initial:.4}) with {} of {n} \
                 predicted right; a working net drives the loss of a few examples to zero. Likely causes: {}. \
                 {name} was not changed. {trained_on}",
                if tried.len() > 1 { "s" } else { "" },
                tried.join(" and "),
                last.final_loss(),
                last.correct,
                causes.join("; ")
            ),
        )
    };
    Ok(CheckResult {
        name: OVERFIT.into(),
        verdict,
        numbers,
        explanation,
        curve: last.curve.clone(),
    })
}

fn train(
    path: &Path,
    input: &Tensor,
    targets: &[i64],
    classes: usize,
    device: Device,
    learning_rate: f64,
    progress: &Progress,
) -> Result<Attempt, ModelError> {
    let model = LoadedModel::load(path, device)?;
    let torch_err = |e: tch::TchError| ModelError::Forward {
        path: path.to_path_buf(),
        input_shape: input.size(),
        message: torch_message(&e.to_string()),
    };
    let trainable: Vec<Tensor> = model
        .module
        .named_parameters()
        .map_err(torch_err)?
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.requires_grad())
        .collect();
    let mut attempt = Attempt {
        learning_rate,
        curve: Vec::new(),
        correct: 0,
        trainable: trainable.len(),
        with_gradient: 0,
        looks_like_probabilities: false,
    };
    if trainable.is_empty() {
        return Ok(attempt);
    }
    let mut optimizer =
        COptimizer::adam(learning_rate, 0.9, 0.999, 0.0, 1e-8, false).map_err(torch_err)?;
    for t in &trainable {
        optimizer.add_parameters(t, 0).map_err(torch_err)?;
    }
    let input = input.to_device(device).contiguous();
    let target = Tensor::from_slice(targets).to_device(device);
    progress.start_stage(OVERFIT_STEPS + 1);
    // Grad mode is per thread, and the worker running this may hold a no-grad guard.
    tch::with_grad(|| {
        for step in 0..=OVERFIT_STEPS {
            if progress.is_cancelled() {
                return Err(ModelError::Cancelled);
            }
            let logits = model
                .logits_with_grad(&input, classes)?
                .to_kind(Kind::Float);
            let loss = logits.cross_entropy_for_logits(&target);
            let value = loss.double_value(&[]);
            attempt.curve.push(value);
            attempt.correct = logits
                .argmax(-1, false)
                .eq_tensor(&target)
                .sum(Kind::Int64)
                .int64_value(&[]) as usize;
            if step == 0 {
                attempt.looks_like_probabilities = looks_like_probabilities(&logits);
            }
            progress.advance(1);
            if (value < OVERFIT_LOSS && attempt.correct == targets.len())
                || step == OVERFIT_STEPS
                || !value.is_finite()
            {
                break;
            }
            optimizer.zero_grad().map_err(torch_err)?;
            loss.backward();
            if step == 0 {
                attempt.with_gradient = trainable
                    .iter()
                    .filter(|t| {
                        let g = t.grad();
                        g.defined() && g.abs().sum(Kind::Double).double_value(&[]) > 0.0
                    })
                    .count();
            }
            optimizer.step().map_err(torch_err)?;
        }
        Ok(())
    })?;
    Ok(attempt)
}

/// Rows all in [0, 1] and summing to 1, as a softmax's are.
fn looks_like_probabilities(logits: &Tensor) -> bool {
    let _no_grad = tch::no_grad_guard();
    let in_unit = logits.ge(0.0).logical_and(&logits.le(1.0)).all();
    let sums = logits.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let sum_one = (sums - 1.0).abs().le(1e-3).all();
    in_unit.int64_value(&[]) == 1 && sum_one.int64_value(&[]) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_hold_two_labels_when_the_batch_has_two() {
        assert_eq!(overfit_examples(&[3, 3, 3, 5, 3], 2), vec![0, 3]);
        assert_eq!(overfit_examples(&[3, 4, 3, 5], 2), vec![0, 1]);
        assert_eq!(overfit_examples(&[3, 3, 3], 2), vec![0, 1]);
        assert_eq!(overfit_examples(&[1, 2], 16), vec![0, 1]);
    }
}
