//! Training dynamics: how each example was learned across a folder of per-epoch checkpoints.
//! Confidence and variability of p(given) (dataset cartography, Swayamdipta et al. 2020), area
//! under the margin (Pleiss et al. 2020), forgetting events (Toneva et al. 2019).

use std::path::Path;

use polars::prelude::*;

use super::checkpoints::{CheckpointFile, CheckpointKind};
use super::label_issues::{Ranked, Scores};
use super::predict::{ClassMap, FixedBatch};
use super::{ModelError, ModelStore, Preprocess, classify_checkpoints, run_evolution};
use crate::dataset::Dataset;
use crate::dataset::relative_path_text;
use crate::jobs::Progress;

/// Smallest probability taken into a log, so a margin stays finite when a float32 softmax
/// rounded a class to 0.
const MIN_PROB: f64 = 1e-30;

/// How one example was learned.
#[derive(Clone, Debug, PartialEq)]
pub struct ExampleDynamics {
    /// Index into `Dataset::examples`.
    pub example: usize,
    /// Given label, an index into `Dataset::classes`.
    pub given: usize,
    /// Mean p(given) over checkpoints.
    pub confidence: f64,
    /// Standard deviation of p(given) over checkpoints (population, as in the paper).
    pub variability: f64,
    /// Fraction of checkpoints whose arg-max is the given label.
    pub correctness: f64,
    /// Area under the margin: mean over checkpoints of logit[given] − largest other logit,
    /// computed as the same difference of log-probabilities.
    pub aum: f64,
    /// Checkpoints at which the example was right while the next one got it wrong.
    pub forgetting: usize,
    /// First checkpoint (0-based, in order) from which it stays right to the end; `None` when the
    /// last checkpoint gets it wrong.
    pub learned_from: Option<usize>,
    /// p(given) at each checkpoint, in order.
    pub p_given: Vec<f32>,
    /// Each checkpoint's arg-max class, in order (never empty).
    pub predicted: Vec<usize>,
}

impl ExampleDynamics {
    /// Arg-max class at the last checkpoint.
    pub fn predicted_last(&self) -> usize {
        self.predicted.last().copied().unwrap_or(self.given)
    }
}

/// Every example's dynamics over the same checkpoints.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dynamics {
    /// Checkpoint file names, in order.
    pub checkpoints: Vec<String>,
    pub examples: Vec<ExampleDynamics>,
}

impl Dynamics {
    /// Each example's confidence, variability, correctness, AUM, forgetting events and first
    /// checkpoint from which it stays learned, as numeric columns over the dataset's `examples`
    /// (NaN where an example was not run, or never learned), to sort and filter by like any stat.
    pub fn stat_columns(&self, examples: usize) -> Vec<(String, Vec<f64>)> {
        let column = |get: &dyn Fn(&ExampleDynamics) -> f64| {
            let mut values = vec![f64::NAN; examples];
            for d in &self.examples {
                if let Some(v) = values.get_mut(d.example) {
                    *v = get(d);
                }
            }
            values
        };
        vec![
            ("confidence".into(), column(&|d| d.confidence)),
            ("variability".into(), column(&|d| d.variability)),
            ("correctness".into(), column(&|d| d.correctness)),
            ("aum".into(), column(&|d| d.aum)),
            ("forgetting".into(), column(&|d| d.forgetting as f64)),
            (
                "learned_from".into(),
                column(&|d| d.learned_from.map_or(f64::NAN, |k| k as f64)),
            ),
        ]
    }
}

/// The dynamics of the examples `per_checkpoint` scored, in checkpoint order. Every `Scores`
/// must cover the same examples in the same order (as `run_evolution` on one batch gives).
pub fn dynamics(checkpoints: Vec<String>, per_checkpoint: &[Scores]) -> Result<Dynamics, String> {
    let Some(first) = per_checkpoint.first() else {
        return Err("no checkpoint ran, so there are no dynamics".into());
    };
    if let Some(other) = per_checkpoint.iter().find(|s| s.examples != first.examples) {
        return Err(format!(
            "checkpoints scored different examples ({} and {})",
            first.len(),
            other.len()
        ));
    }
    let t = per_checkpoint.len() as f64;
    let examples = (0..first.len())
        .map(|i| {
            let given = first.labels[i];
            let p_given: Vec<f32> = per_checkpoint.iter().map(|s| s.p_given(i)).collect();
            let predicted: Vec<usize> = per_checkpoint.iter().map(|s| s.predicted(i)).collect();
            let correct: Vec<bool> = predicted.iter().map(|&p| p == given).collect();
            let margins = per_checkpoint.iter().map(|s| {
                let log_p = |p: f32| (p as f64).max(MIN_PROB).ln();
                let other = s.probs[i]
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != given)
                    .map(|(_, &p)| p)
                    .fold(0f32, f32::max);
                log_p(s.p_given(i)) - log_p(other)
            });
            let confidence = p_given.iter().map(|&p| p as f64).sum::<f64>() / t;
            let variance = p_given
                .iter()
                .map(|&p| (p as f64 - confidence).powi(2))
                .sum::<f64>()
                / t;
            let last_wrong = correct.iter().rposition(|&c| !c);
            ExampleDynamics {
                example: first.examples[i],
                given,
                confidence,
                variability: variance.sqrt(),
                correctness: correct.iter().filter(|&&c| c).count() as f64 / t,
                aum: margins.sum::<f64>() / t,
                forgetting: correct.windows(2).filter(|w| w[0] && !w[1]).count(),
                learned_from: match last_wrong {
                    None => Some(0),
                    Some(k) if k + 1 < correct.len() => Some(k + 1),
                    Some(_) => None,
                },
                p_given,
                predicted,
            }
        })
        .collect();
    Ok(Dynamics {
        checkpoints,
        examples,
    })
}

/// Loss and accuracy of every checkpoint over the examples, overall and per class.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitCurves {
    /// Mean cross-entropy (-ln p(given)) per checkpoint.
    pub loss: Vec<f64>,
    /// Accuracy per checkpoint.
    pub accuracy: Vec<f64>,
    /// `[class][checkpoint]` accuracy; empty for a class without examples.
    pub class_accuracy: Vec<Vec<f64>>,
}

impl Dynamics {
    /// `[given][predicted]` counts at checkpoint `k` (0-based), over `classes` classes.
    pub fn confusion(&self, k: usize, classes: usize) -> Vec<Vec<usize>> {
        let mut matrix = vec![vec![0; classes]; classes];
        for d in &self.examples {
            if let Some(cell) = d
                .predicted
                .get(k)
                .and_then(|&p| matrix.get_mut(d.given).and_then(|row| row.get_mut(p)))
            {
                *cell += 1;
            }
        }
        matrix
    }

    /// Dataset indices of the examples given `given` and predicted `predicted` at checkpoint `k`.
    pub fn cell_examples(&self, k: usize, given: usize, predicted: usize) -> Vec<usize> {
        self.examples
            .iter()
            .filter(|d| d.given == given && d.predicted.get(k) == Some(&predicted))
            .map(|d| d.example)
            .collect()
    }

    /// Loss and accuracy per checkpoint over every example, and accuracy per class (of
    /// `classes` classes).
    pub fn curves(&self, classes: usize) -> SplitCurves {
        let t = self.checkpoints.len();
        let n = self.examples.len().max(1) as f64;
        let mut loss = vec![0.0; t];
        let mut right = vec![0.0; t];
        let mut class_right = vec![vec![0.0; t]; classes];
        let mut class_count = vec![0.0; classes];
        for d in &self.examples {
            if let Some(count) = class_count.get_mut(d.given) {
                *count += 1.0;
            }
            for k in 0..t {
                loss[k] -= (d.p_given[k] as f64).max(MIN_PROB).ln();
                if d.predicted[k] == d.given {
                    right[k] += 1.0;
                    if let Some(row) = class_right.get_mut(d.given) {
                        row[k] += 1.0;
                    }
                }
            }
        }
        SplitCurves {
            loss: loss.iter().map(|l| l / n).collect(),
            accuracy: right.iter().map(|r| r / n).collect(),
            class_accuracy: class_right
                .into_iter()
                .zip(class_count)
                .map(|(row, count)| {
                    if count == 0.0 {
                        Vec::new()
                    } else {
                        row.iter().map(|r| r / count).collect()
                    }
                })
                .collect(),
        }
    }
}

/// Rankings from dynamics, most suspect label first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicsRank {
    /// Lowest area under the margin first: examples the net kept voting against their label.
    Aum,
    /// Lowest mean p(given) first: hard to learn.
    Confidence,
    /// Most forgetting events first; never-learned examples count as forgotten at every step,
    /// as in Toneva et al.; ties go to the lower confidence.
    Forgetting,
}

impl DynamicsRank {
    /// `aum`, `confidence` or `forgetting`.
    pub fn from_name(name: &str) -> Option<DynamicsRank> {
        match name.trim().to_ascii_lowercase().as_str() {
            "aum" => Some(DynamicsRank::Aum),
            "confidence" => Some(DynamicsRank::Confidence),
            "forgetting" => Some(DynamicsRank::Forgetting),
            _ => None,
        }
    }

    /// The name `from_name` reads.
    pub fn name(self) -> &'static str {
        match self {
            DynamicsRank::Aum => "aum",
            DynamicsRank::Confidence => "confidence",
            DynamicsRank::Forgetting => "forgetting",
        }
    }

    /// The ranking's score of `d`: lower means more suspect.
    pub fn score(self, d: &ExampleDynamics, checkpoints: usize) -> f64 {
        match self {
            DynamicsRank::Aum => d.aum,
            DynamicsRank::Confidence => d.confidence,
            DynamicsRank::Forgetting => {
                let never_learned = d.correctness == 0.0;
                let events = if never_learned {
                    checkpoints
                } else {
                    d.forgetting
                };
                -(events as f64)
            }
        }
    }
}

/// Positions into `dynamics.examples`, most suspect first (ties: lower confidence, then dataset
/// order).
pub fn rank_dynamics(dynamics: &Dynamics, method: DynamicsRank) -> Vec<usize> {
    let t = dynamics.checkpoints.len();
    let mut order: Vec<usize> = (0..dynamics.examples.len()).collect();
    order.sort_by(|&a, &b| {
        let (da, db) = (&dynamics.examples[a], &dynamics.examples[b]);
        method
            .score(da, t)
            .total_cmp(&method.score(db, t))
            .then(da.confidence.total_cmp(&db.confidence))
            .then(da.example.cmp(&db.example))
    });
    order
}

/// The examples ranked by `method` as `Ranked` rows (score: the method's, lower = more suspect;
/// predicted: at the last checkpoint), for the label review and tables alike.
pub fn ranked_by_dynamics(dynamics: &Dynamics, method: DynamicsRank) -> Vec<Ranked> {
    let t = dynamics.checkpoints.len();
    rank_dynamics(dynamics, method)
        .into_iter()
        .enumerate()
        .map(|(k, i)| {
            let d = &dynamics.examples[i];
            Ranked {
                example: d.example,
                given: d.given,
                predicted: d.predicted_last(),
                score: method.score(d, t),
                rank: k + 1,
            }
        })
        .collect()
}

/// Runs every checkpoint in `checkpoints` (a folder, or files) over the labelled examples of
/// `split` (all when `None`) and computes their dynamics. A checkpoint that fails is an error:
/// dynamics with a checkpoint missing would read as learned or forgotten.
pub fn dynamics_of_checkpoints(
    dataset: &Dataset,
    checkpoints: &Path,
    preprocess: &Preprocess,
    split: Option<&str>,
    cache_dir: Option<&Path>,
    models: &ModelStore,
    progress: &Progress,
) -> Result<Dynamics, ModelError> {
    let files = classify_checkpoints(&[checkpoints.to_path_buf()])?;
    if files.is_empty() {
        return Err(ModelError::Unrunnable {
            path: checkpoints.to_path_buf(),
            message: format!(
                "no checkpoint files (.{}) in this folder",
                super::CHECKPOINT_EXTENSIONS.join(", .")
            ),
        });
    }
    dynamics_of_files(
        &files, dataset, preprocess, split, cache_dir, models, progress,
    )
    .map(|(d, _)| d)
}

/// `dynamics_of_checkpoints` over classified files, also returning the last checkpoint's scores.
pub fn dynamics_of_files(
    files: &[CheckpointFile],
    dataset: &Dataset,
    preprocess: &Preprocess,
    split: Option<&str>,
    cache_dir: Option<&Path>,
    models: &ModelStore,
    progress: &Progress,
) -> Result<(Dynamics, Scores), ModelError> {
    let batch = match split_index(dataset, split)? {
        None => FixedBatch::all(dataset),
        Some(split) => FixedBatch::from_examples(
            dataset,
            (0..dataset.examples.len()).filter(|&i| dataset.examples[i].split == Some(split)),
        ),
    };
    if batch.is_empty() {
        return Err(ModelError::Dataset {
            root: dataset.root.clone(),
            message: "no labelled examples to run the checkpoints on".into(),
        });
    }
    // Every checkpoint is an epoch that forgetting and learned_from count: one that cannot run
    // is an error naming it, never a silent gap.
    let template = files.iter().any(CheckpointFile::is_runnable);
    for file in files {
        let why = match &file.kind {
            CheckpointKind::TorchScript => continue,
            CheckpointKind::WeightsOnly if template => continue,
            CheckpointKind::WeightsOnly => {
                "weights only, and no TorchScript checkpoint in the folder to apply them to".into()
            }
            CheckpointKind::Unrunnable(why) => why.clone(),
        };
        return Err(ModelError::Unrunnable {
            path: file.path.clone(),
            message: format!(
                "{why}; training dynamics need every checkpoint of the folder to run (move this one out)"
            ),
        });
    }
    let evolution = run_evolution(
        models, files, preprocess, dataset, &batch, cache_dir, progress,
    )?;
    if let Some((order, _, message)) = evolution.failures.first() {
        let path = files
            .get(*order)
            .map(|f| f.path.clone())
            .unwrap_or_default();
        // The message names the file already.
        let prefix = format!("{}: ", path.display());
        let message = message.strip_prefix(&prefix).unwrap_or(message).to_string();
        return Err(ModelError::Output { path, message });
    }
    let classes = ClassMap::new(dataset, preprocess);
    let scores: Vec<Scores> = evolution
        .predictions
        .iter()
        .map(|p| Scores::from_predictions(dataset, p, &classes))
        .collect();
    let names = evolution
        .predictions
        .iter()
        .map(|p| p.checkpoint.clone())
        .collect();
    let dynamics = dynamics(names, &scores).map_err(|message| ModelError::Dataset {
        root: dataset.root.clone(),
        message,
    })?;
    let last = scores.into_iter().next_back().unwrap_or_default();
    Ok((dynamics, last))
}

/// Dynamics from per-epoch predictions made by any framework: every `.npy` (N×C logits or
/// probabilities, one row per example in the dataset's order), `.csv` or `.parquet` (`path` plus
/// one column per class) in `dir`, in the order of the number in their names. Rows that do not
/// match the dataset come back as problems; a file that leaves out examples another has is an error.
pub fn dynamics_of_predictions(
    dataset: &Dataset,
    dir: &Path,
    split: Option<&str>,
) -> Result<(Dynamics, Vec<String>), ModelError> {
    use super::label_issues::{Values, import_scores};
    let io = |source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    matches!(
                        e.to_string_lossy().to_ascii_lowercase().as_str(),
                        "npy" | "csv" | "parquet"
                    )
                })
        })
        .collect();
    files.sort_by(|a, b| crate::dataset::natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    if files.is_empty() {
        return Err(ModelError::Dataset {
            root: dir.to_path_buf(),
            message: "no .npy, .csv or .parquet predictions in this folder".into(),
        });
    }
    let split = split_index(dataset, split)?;
    let mut problems = Vec::new();
    let mut per_file = Vec::with_capacity(files.len());
    for file in &files {
        let (scores, found) = import_scores(dataset, file, Values::ProbabilitiesOrLogits)?;
        problems.extend(found);
        let mut rows: Vec<usize> = (0..scores.len())
            .filter(|&i| split.is_none() || dataset.examples[scores.examples[i]].split == split)
            .collect();
        rows.sort_by_key(|&i| scores.examples[i]);
        per_file.push(Scores {
            examples: rows.iter().map(|&i| scores.examples[i]).collect(),
            labels: rows.iter().map(|&i| scores.labels[i]).collect(),
            probs: rows.iter().map(|&i| scores.probs[i].clone()).collect(),
            left_out: Vec::new(),
        });
    }
    if let Some(k) = per_file
        .iter()
        .position(|s| s.examples != per_file[0].examples)
    {
        return Err(ModelError::Sidecar {
            path: files[k].clone(),
            message: format!(
                "scores {} examples where {} scores {}; every epoch's file must cover the same examples",
                per_file[k].len(),
                super::file_name(&files[0]),
                per_file[0].len()
            ),
        });
    }
    let names = files.iter().map(|f| super::file_name(f)).collect();
    let dynamics = dynamics(names, &per_file).map_err(|message| ModelError::Dataset {
        root: dir.to_path_buf(),
        message,
    })?;
    Ok((dynamics, problems))
}

/// The position of the split named `name` in `Dataset::splits`; an unknown name is an error
/// that lists the splits.
fn split_index(dataset: &Dataset, name: Option<&str>) -> Result<Option<usize>, ModelError> {
    let Some(name) = name else { return Ok(None) };
    match dataset.splits.iter().position(|s| s == name) {
        Some(split) => Ok(Some(split)),
        None => Err(ModelError::Dataset {
            root: dataset.root.clone(),
            message: format!(
                "no split named {name:?}; the splits are [{}]",
                dataset.splits.join(", ")
            ),
        }),
    }
}

/// One row per example in `order` (positions into `dynamics.examples`): `path`, `given`,
/// `predicted` (at the last checkpoint), then `confidence`, `variability`, `correctness`, `aum`,
/// `forgetting`, `learned_from` (empty when not learned by the end).
pub fn dynamics_table(dynamics: &Dynamics, order: &[usize], dataset: &Dataset) -> DataFrame {
    let name = |class: usize| super::label_issues::class_name(dataset, class);
    let rows: Vec<&ExampleDynamics> = order.iter().map(|&i| &dynamics.examples[i]).collect();
    let f = |get: fn(&ExampleDynamics) -> f64| rows.iter().map(|d| get(d)).collect::<Vec<f64>>();
    let columns: Vec<Column> = vec![
        Series::new(
            "path".into(),
            rows.iter()
                .map(|d| relative_path_text(&dataset.examples[d.example].path))
                .collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(
            "given".into(),
            rows.iter().map(|d| name(d.given)).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(
            "predicted".into(),
            rows.iter()
                .map(|d| name(d.predicted_last()))
                .collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new("confidence".into(), f(|d| d.confidence)).into_column(),
        Series::new("variability".into(), f(|d| d.variability)).into_column(),
        Series::new("correctness".into(), f(|d| d.correctness)).into_column(),
        Series::new("aum".into(), f(|d| d.aum)).into_column(),
        Series::new(
            "forgetting".into(),
            rows.iter().map(|d| d.forgetting as u64).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(
            "learned_from".into(),
            rows.iter()
                .map(|d| d.learned_from.map(|k| k as u64))
                .collect::<Vec<_>>(),
        )
        .into_column(),
    ];
    DataFrame::new(rows.len(), columns).expect("dynamics columns have equal lengths")
}

/// The examples ranked by `method`, most suspect first: `path`, `given`, `predicted`, `score`
/// (the method's, lower = more suspect), `rank` (1 = most suspect), then the columns of
/// `dynamics_table` from `aum` on.
pub fn ranked_dynamics_table(
    dynamics: &Dynamics,
    method: DynamicsRank,
    dataset: &Dataset,
) -> PolarsResult<DataFrame> {
    let order = rank_dynamics(dynamics, method);
    let t = dynamics.checkpoints.len();
    let scores: Vec<f64> = order
        .iter()
        .map(|&i| method.score(&dynamics.examples[i], t))
        .collect();
    let ranks: Vec<u64> = (1..=order.len() as u64).collect();
    let mut table = dynamics_table(dynamics, &order, dataset);
    table.with_column(Column::new("score".into(), scores))?;
    table.with_column(Column::new("rank".into(), ranks))?;
    table.select([
        "path",
        "given",
        "predicted",
        "score",
        "rank",
        "aum",
        "confidence",
        "variability",
        "correctness",
        "forgetting",
        "learned_from",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three examples of two classes over four checkpoints.
    fn scores(p_class0: [[f32; 3]; 4]) -> Vec<Scores> {
        p_class0
            .iter()
            .map(|row| Scores {
                examples: vec![0, 1, 2],
                labels: vec![0, 0, 1],
                probs: row.iter().map(|&p| vec![p, 1.0 - p]).collect(),
                left_out: Vec::new(),
            })
            .collect()
    }

    /// Example 0 (label 0) is learned at checkpoint 1 and kept; example 1 (label 0) is learned,
    /// forgotten and learned again; example 2 (label 1) is always voted against (p0 high).
    fn four_checkpoints() -> Dynamics {
        dynamics(
            vec!["a".into(), "b".into(), "c".into(), "d".into()],
            &scores([
                [0.4, 0.6, 0.9],
                [0.7, 0.3, 0.8],
                [0.8, 0.7, 0.9],
                [0.9, 0.8, 0.7],
            ]),
        )
        .unwrap()
    }

    #[test]
    fn dynamics_follow_their_definitions() {
        let d = four_checkpoints();
        let [e0, e1, e2] = [&d.examples[0], &d.examples[1], &d.examples[2]];
        assert!((e0.confidence - 0.7).abs() < 1e-6, "{}", e0.confidence);
        assert_eq!(e0.learned_from, Some(1));
        assert_eq!(e0.forgetting, 0);
        assert_eq!(e0.correctness, 0.75);
        assert_eq!(e1.forgetting, 1);
        assert_eq!(e1.learned_from, Some(2));
        assert_eq!(e2.correctness, 0.0);
        assert_eq!(e2.learned_from, None);
        // AUM of example 2: mean of ln(p1 / p0).
        let expected = [0.9f64, 0.8, 0.9, 0.7]
            .iter()
            .map(|&p0| ((1.0 - p0) / p0).ln())
            .sum::<f64>()
            / 4.0;
        assert!((e2.aum - expected).abs() < 1e-5, "{} vs {expected}", e2.aum);
        let variance = [0.1f64, 0.2, 0.1, 0.3]
            .iter()
            .map(|p| (p - e2.confidence).powi(2))
            .sum::<f64>()
            / 4.0;
        assert!((e2.variability - variance.sqrt()).abs() < 1e-6);
        for method in [
            DynamicsRank::Aum,
            DynamicsRank::Confidence,
            DynamicsRank::Forgetting,
        ] {
            assert_eq!(rank_dynamics(&d, method)[0], 2, "{method:?}");
        }
    }

    #[test]
    fn curves_average_loss_and_accuracy_per_checkpoint_and_class() {
        let d = four_checkpoints();
        let curves = d.curves(2);
        // Checkpoint 0: example 0 (label 0) predicted 1, example 1 right, example 2 (label 1) wrong.
        assert_eq!(d.confusion(0, 2), vec![vec![1, 1], vec![1, 0]]);
        assert_eq!(d.cell_examples(0, 1, 0), vec![2]);
        // Checkpoint 0: example 1 right only; checkpoint 3: examples 0 and 1.
        assert_eq!(
            curves.accuracy,
            vec![1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]
        );
        assert_eq!(curves.class_accuracy[0], vec![0.5, 0.5, 1.0, 1.0]);
        assert_eq!(curves.class_accuracy[1], vec![0.0; 4]);
        let loss0 = -((0.4f64).ln() + (0.6f64).ln() + (0.1f64).ln()) / 3.0;
        assert!((curves.loss[0] - loss0).abs() < 1e-6);
    }

    #[test]
    fn checkpoints_that_scored_other_examples_are_refused() {
        let mut s = scores([[0.5; 3]; 4]);
        s[2].examples = vec![0, 1, 5];
        assert!(dynamics(vec!["x".into(); 4], &s).is_err());
    }
}
