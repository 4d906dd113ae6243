//! Label issues: per-example class probabilities (from a checkpoint or imported), rankings of the
//! examples most likely mislabelled (loss, normalized margin, confident learning), the confusion matrix.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::ModelError;
use super::predict::{BatchPredictions, ClassMap, LeftOut};
use crate::dataset::Dataset;
use crate::dataset::{ragged_rows, relative_path_text};

/// How far a row of probabilities may sum from 1 before it is reported.
pub const SUM_TOLERANCE: f64 = 0.01;

/// Class probabilities of labelled examples, in dataset class order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// Indices into `Dataset::examples`.
    pub examples: Vec<usize>,
    /// Given label of each example: an index into `Dataset::classes`.
    pub labels: Vec<usize>,
    /// Probabilities `[N][C]`, C = `Dataset::classes.len()`.
    pub probs: Vec<Vec<f32>>,
    /// Examples whose files could not be read, so the model never saw them: not in `examples`.
    pub left_out: Vec<LeftOut>,
}

impl Scores {
    /// One checkpoint's predictions (usually on `FixedBatch::all`), model outputs put back in
    /// dataset class order through `classes`; labels come from the dataset.
    pub fn from_predictions(
        dataset: &Dataset,
        predictions: &BatchPredictions,
        classes: &ClassMap,
    ) -> Scores {
        let mut scores = Scores {
            left_out: predictions.left_out.clone(),
            ..Scores::default()
        };
        for (&example, probs) in predictions.examples.iter().zip(&predictions.probs) {
            let Some(label) = dataset.examples.get(example).and_then(|e| e.label) else {
                continue;
            };
            scores.examples.push(example);
            scores.labels.push(label);
            scores.probs.push(
                classes
                    .to_model
                    .iter()
                    .map(|&m| probs.get(m as usize).copied().unwrap_or(0.0))
                    .collect(),
            );
        }
        scores
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// What to tell the user of the examples left out (`predict::left_out_note`).
    pub fn left_out_note(&self) -> Option<String> {
        super::predict::left_out_note(&self.left_out, self.len() + self.left_out.len())
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Arg-max class of position `i` (the lowest class on ties).
    pub fn predicted(&self, i: usize) -> usize {
        argmax(&self.probs[i])
    }

    /// Probability of the given label at position `i`.
    pub fn p_given(&self, i: usize) -> f32 {
        self.probs[i].get(self.labels[i]).copied().unwrap_or(0.0)
    }

    /// Normalized margin of position `i`: p(given) minus the largest other probability.
    pub fn margin(&self, i: usize) -> f64 {
        let given = self.labels[i];
        let other = self.probs[i]
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != given)
            .map(|(_, &p)| p as f64)
            .fold(f64::NEG_INFINITY, f64::max);
        let other = if other.is_finite() { other } else { 0.0 };
        self.p_given(i) as f64 - other
    }

    /// Entropy of the prediction at position `i`, in nats: high when the model is unsure.
    pub fn entropy(&self, i: usize) -> f64 {
        self.probs[i]
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|&p| -(p as f64) * (p as f64).ln())
            .sum()
    }

    /// Cross-entropy of position `i`: -ln p(given), finite even where p(given) is 0.
    pub fn loss(&self, i: usize) -> f64 {
        -(self.p_given(i) as f64).max(1e-30).ln()
    }
}

/// How to rank examples by how likely their label is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankMethod {
    /// -ln p(given), largest first: the same order as self-confidence, smallest first.
    Loss,
    /// p(given) - max other p, most negative first.
    Margin,
    /// Confident learning: only examples whose confident class differs from the label, by margin.
    ConfidentLearning,
}

impl RankMethod {
    /// Every method, in the order the CLI lists them.
    pub const ALL: [RankMethod; 3] = [
        RankMethod::Loss,
        RankMethod::Margin,
        RankMethod::ConfidentLearning,
    ];

    /// `loss`, `margin` or `cl`.
    pub fn from_name(name: &str) -> Option<RankMethod> {
        match name.trim().to_ascii_lowercase().as_str() {
            "loss" => Some(RankMethod::Loss),
            "margin" => Some(RankMethod::Margin),
            "cl" => Some(RankMethod::ConfidentLearning),
            _ => None,
        }
    }

    /// The name `from_name` reads.
    pub fn name(self) -> &'static str {
        match self {
            RankMethod::Loss => "loss",
            RankMethod::Margin => "margin",
            RankMethod::ConfidentLearning => "cl",
        }
    }
}

/// One ranked example.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// Index into `Dataset::examples`.
    pub example: usize,
    /// Given and arg-max classes: indices into `Dataset::classes`.
    pub given: usize,
    pub predicted: usize,
    /// Loss for `Loss`, normalized margin for `Margin` and `ConfidentLearning`.
    pub score: f64,
    /// 1 = most suspect.
    pub rank: usize,
}

/// The examples of `scores`, most suspect first; for confident learning only the flagged ones.
/// Ties keep dataset order.
pub fn rank(scores: &Scores, method: RankMethod) -> Vec<Ranked> {
    let positions: Vec<usize> = match method {
        RankMethod::ConfidentLearning => confident_learning_flags(scores),
        _ => (0..scores.len()).collect(),
    };
    let mut rows: Vec<Ranked> = positions
        .into_iter()
        .map(|i| Ranked {
            example: scores.examples[i],
            given: scores.labels[i],
            predicted: scores.predicted(i),
            score: match method {
                RankMethod::Loss => scores.loss(i),
                _ => scores.margin(i),
            },
            rank: 0,
        })
        .collect();
    match method {
        RankMethod::Loss => {
            rows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.example.cmp(&b.example)))
        }
        _ => rows.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.example.cmp(&b.example))),
    }
    for (k, row) in rows.iter_mut().enumerate() {
        row.rank = k + 1;
    }
    rows
}

/// Per-class thresholds of confident learning: t_j is the mean of p_j over the examples labelled
/// j; `None` for a class no example carries.
pub fn class_thresholds(scores: &Scores) -> Vec<Option<f64>> {
    let classes = scores.probs.iter().map(Vec::len).max().unwrap_or(0);
    let mut sums = vec![0.0f64; classes];
    let mut counts = vec![0usize; classes];
    for (probs, &label) in scores.probs.iter().zip(&scores.labels) {
        if let Some(&p) = probs.get(label) {
            sums[label] += p as f64;
            counts[label] += 1;
        }
    }
    sums.iter()
        .zip(&counts)
        .map(|(&s, &n)| (n > 0).then(|| s / n as f64))
        .collect()
}

/// The confident class of each position: among classes with p_j >= t_j, the most probable.
pub fn confident_classes(scores: &Scores) -> Vec<Option<usize>> {
    let thresholds = class_thresholds(scores);
    scores
        .probs
        .iter()
        .map(|probs| {
            probs
                .iter()
                .enumerate()
                .filter(|&(j, &p)| {
                    thresholds
                        .get(j)
                        .copied()
                        .flatten()
                        .is_some_and(|t| p as f64 >= t)
                })
                .fold(None, |best: Option<(usize, f32)>, (j, &p)| match best {
                    Some((_, q)) if q >= p => best,
                    _ => Some((j, p)),
                })
                .map(|(j, _)| j)
        })
        .collect()
}

/// Positions whose confident class exists and differs from the given label.
fn confident_learning_flags(scores: &Scores) -> Vec<usize> {
    confident_classes(scores)
        .into_iter()
        .enumerate()
        .filter(|&(i, confident)| confident.is_some_and(|c| c != scores.labels[i]))
        .map(|(i, _)| i)
        .collect()
}

/// Counts of given label (rows) against arg-max prediction (columns).
pub fn confusion_matrix(scores: &Scores) -> Vec<Vec<usize>> {
    let classes = scores
        .probs
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .max(scores.labels.iter().map(|&l| l + 1).max().unwrap_or(0));
    let mut matrix = vec![vec![0; classes]; classes];
    for i in 0..scores.len() {
        matrix[scores.labels[i]][scores.predicted(i)] += 1;
    }
    matrix
}

/// The name of class `class` of `dataset`, or its number when the dataset has no such class.
pub(crate) fn class_name(dataset: &Dataset, class: usize) -> String {
    dataset
        .classes
        .get(class)
        .cloned()
        .unwrap_or_else(|| class.to_string())
}

/// The ranked rows as a table: `path` (relative to the dataset root), `given`, `predicted` (class
/// names), `score`, `rank`.
pub fn ranked_table(ranked: &[Ranked], dataset: &Dataset) -> DataFrame {
    let name = |class: usize| class_name(dataset, class);
    let columns: Vec<Column> = vec![
        column(
            "path",
            ranked
                .iter()
                .map(|r| relative_path_text(&dataset.examples[r.example].path))
                .collect::<Vec<_>>(),
        ),
        column(
            "given",
            ranked.iter().map(|r| name(r.given)).collect::<Vec<_>>(),
        ),
        column(
            "predicted",
            ranked.iter().map(|r| name(r.predicted)).collect::<Vec<_>>(),
        ),
        column("score", ranked.iter().map(|r| r.score).collect::<Vec<_>>()),
        column(
            "rank",
            ranked.iter().map(|r| r.rank as u64).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(ranked.len(), columns)
        .expect("ranked columns have equal lengths and unique names")
}

fn column<T, V>(name: &str, values: V) -> Column
where
    Series: NamedFrom<V, T>,
    T: ?Sized,
{
    Series::new(name.into(), values).into_column()
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 { (i, x) } else { best }
        })
        .0
}

/// Probabilities made elsewhere (e.g. cleanlab's cross-validated pred_probs), and one message per
/// row or column that did not match the dataset; such rows are left out of the scores, never
/// silently. Accepts a `.csv`/`.parquet` table with a `path` column (relative to the dataset root)
/// and one column per class named exactly as the class, or a `.npy` N×C float array in
/// `Dataset::examples` order. Errors when nothing can be matched (unreadable file, a class column
/// missing, an array of the wrong shape).
pub fn import_probs(dataset: &Dataset, path: &Path) -> Result<(Scores, Vec<String>), ModelError> {
    import_scores(dataset, path, Values::Probabilities)
}

/// What the numbers of an imported file are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    Probabilities,
    /// Probabilities when every row is one (in 0..1, summing to 1), else logits, softmaxed.
    ProbabilitiesOrLogits,
}

/// `import_probs`, with the file's numbers read as `values` say.
pub fn import_scores(
    dataset: &Dataset,
    path: &Path,
    values: Values,
) -> Result<(Scores, Vec<String>), ModelError> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "npy" => import_npy(dataset, path, values),
        "csv" | "parquet" => import_table(dataset, path, extension == "parquet", values),
        other => Err(ModelError::Sidecar {
            path: path.to_path_buf(),
            message: format!("unknown probabilities format '.{other}': use .csv, .parquet or .npy"),
        }),
    }
}

/// Checks one row of probabilities; the problem, if any, without the row number.
fn check_row(
    dataset: &Dataset,
    example: usize,
    probs: &[f64],
) -> Result<(usize, Vec<f32>), String> {
    if let Some(j) = probs.iter().position(|p| !p.is_finite()) {
        return Err(format!(
            "the probability of class {:?} is {}",
            dataset.classes[j], probs[j]
        ));
    }
    if let Some(j) = probs
        .iter()
        .position(|&p| !(0.0..=1.0 + SUM_TOLERANCE).contains(&p))
    {
        return Err(format!(
            "the probability of class {:?} is {}, outside 0..1",
            dataset.classes[j], probs[j]
        ));
    }
    let sum: f64 = probs.iter().sum();
    if (sum - 1.0).abs() > SUM_TOLERANCE {
        return Err(format!("the probabilities sum to {sum:.4}, not 1"));
    }
    let Some(label) = dataset.examples[example].label else {
        return Err(format!(
            "{} has no label in the dataset",
            relative_path_text(&dataset.examples[example].path)
        ));
    };
    Ok((label, probs.iter().map(|&p| p as f32).collect()))
}

/// True when `rows` (each `c` values, missing ones as `None`) are all probability vectors.
fn are_probabilities<'a>(rows: impl Iterator<Item = &'a [f64]>) -> bool {
    rows.into_iter().all(|row| {
        row.iter().all(|p| (0.0..=1.0 + SUM_TOLERANCE).contains(p))
            && (row.iter().sum::<f64>() - 1.0).abs() <= SUM_TOLERANCE
    })
}

/// The softmax of a row of logits, in place.
fn softmax(row: &mut [f64]) {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        total += *v;
    }
    for v in row.iter_mut() {
        *v /= total;
    }
}

fn import_npy(
    dataset: &Dataset,
    path: &Path,
    kind: Values,
) -> Result<(Scores, Vec<String>), ModelError> {
    let bad = |message: String| ModelError::Sidecar {
        path: path.to_path_buf(),
        message,
    };
    let tensor = super::npy::read(path).map_err(|e| bad(format!("cannot read as .npy: {e}")))?;
    let (n, c) = (dataset.examples.len(), dataset.classes.len());
    let shape = tensor.size();
    if shape.len() != 2 || shape[0] != n as i64 || shape[1] != c as i64 {
        return Err(bad(format!(
            "the array has shape {shape:?}, but the dataset needs [{n}, {c}]: one row per example in the dataset's \
             order, one column per class ({})",
            dataset.classes.join(", ")
        )));
    }
    if !tensor.is_floating_point() {
        return Err(bad(format!(
            "the array holds {:?} values; probabilities must be floating point",
            tensor.kind()
        )));
    }
    let mut values = Vec::<f64>::try_from(tensor.to_kind(tch::Kind::Double).flatten(0, -1))
        .map_err(|e| bad(format!("cannot read the values: {e}")))?;
    if kind == Values::ProbabilitiesOrLogits
        && !are_probabilities(values.chunks_exact(c.max(1)))
        && values.iter().all(|v| v.is_finite())
    {
        values.chunks_exact_mut(c.max(1)).for_each(softmax);
    }
    let mut scores = Scores::default();
    let mut problems = Vec::new();
    for (example, row) in values.chunks_exact(c.max(1)).enumerate() {
        match check_row(dataset, example, row) {
            Ok((label, probs)) => {
                scores.examples.push(example);
                scores.labels.push(label);
                scores.probs.push(probs);
            }
            Err(problem) => problems.push(format!(
                "{}: array row {example} ({}): {problem}",
                path.display(),
                relative_path_text(&dataset.examples[example].path)
            )),
        }
    }
    Ok((scores, problems))
}

fn import_table(
    dataset: &Dataset,
    path: &Path,
    parquet: bool,
    kind: Values,
) -> Result<(Scores, Vec<String>), ModelError> {
    let bad = |message: String| ModelError::Sidecar {
        path: path.to_path_buf(),
        message,
    };
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut problems = Vec::new();
    // With the rows (1-based, header excluded) whose field count differs from the header's.
    let (df, ragged) = if parquet {
        let df = ParquetReader::new(File::open(path).map_err(io)?)
            .finish()
            .map_err(|e| bad(e.to_string()))?;
        (df, HashMap::new())
    } else {
        let ragged = ragged_rows(path, b',').map_err(|e| bad(e.to_string()))?;
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .map_parse_options(|o| o.with_truncate_ragged_lines(true))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|reader| reader.finish())
            .map_err(|e| bad(e.to_string()))?;
        (df, ragged)
    };
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let path_column = names
        .iter()
        .find(|n| n.trim_start_matches('\u{feff}').trim() == "path")
        .ok_or_else(|| {
            bad(format!(
                "no `path` column; the columns are {}",
                names.join(", ")
            ))
        })?;
    let missing: Vec<&String> = dataset
        .classes
        .iter()
        .filter(|c| !names.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "no column for class{} {}: the table needs a `path` column and one probability column per class, named \
             exactly as the class ({})",
            if missing.len() == 1 { "" } else { "es" },
            missing
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            dataset.classes.join(", ")
        )));
    }
    let extra: Vec<&String> = names
        .iter()
        .filter(|n| *n != path_column && !dataset.classes.contains(n))
        .collect();
    if !extra.is_empty() {
        problems.push(format!(
            "{}: ignored {} that name{} no class: {}",
            path.display(),
            if extra.len() == 1 {
                "column"
            } else {
                "columns"
            },
            if extra.len() == 1 { "s" } else { "" },
            extra
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let table_err = |e: PolarsError| bad(e.to_string());
    let paths = df
        .column(path_column)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(table_err)?;
    let paths = paths.str().map_err(table_err)?;
    let class_columns = dataset
        .classes
        .iter()
        .map(|c| {
            df.column(c)
                .and_then(|col| col.cast(&DataType::Float64))
                .map_err(table_err)
        })
        .collect::<Result<Vec<Column>, ModelError>>()?;
    let class_values = class_columns
        .iter()
        .map(|c| c.f64().cloned().map_err(table_err))
        .collect::<Result<Vec<_>, ModelError>>()?;
    let by_path: HashMap<String, usize> = dataset
        .examples
        .iter()
        .enumerate()
        .map(|(i, e)| (relative_path_text(&e.path), i))
        .collect();
    let row_values =
        |i: usize| -> Option<Vec<f64>> { class_values.iter().map(|c| c.get(i)).collect() };
    let logits = kind == Values::ProbabilitiesOrLogits && {
        let rows: Vec<Vec<f64>> = (0..df.height()).filter_map(row_values).collect();
        !are_probabilities(rows.iter().map(Vec::as_slice))
    };
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut scores = Scores::default();
    for i in 0..df.height() {
        let row = i + 1;
        let mut report =
            |problem: String| problems.push(format!("{}: row {row}: {problem}", path.display()));
        if let Some((count, fields)) = ragged.get(&row) {
            report(format!("{count} fields where the header has {fields}"));
            continue;
        }
        let Some(text) = paths.get(i) else {
            report("no path".into());
            continue;
        };
        let key = text.trim().replace('\\', "/");
        let key = key.trim_start_matches("./");
        let Some(&example) = by_path.get(key) else {
            report(format!("{text:?} is not an image of the dataset"));
            continue;
        };
        if let Some(first) = seen.get(&example) {
            report(format!("{text:?} repeats row {first}"));
            continue;
        }
        let Some(mut values) = row_values(i) else {
            let empty: Vec<&str> = dataset
                .classes
                .iter()
                .zip(&class_values)
                .filter(|(_, c)| c.get(i).is_none())
                .map(|(name, _)| name.as_str())
                .collect();
            report(format!(
                "{text:?}: no number for class{} {}",
                if empty.len() == 1 { "" } else { "es" },
                empty.join(", ")
            ));
            continue;
        };
        if logits && values.iter().all(|v| v.is_finite()) {
            softmax(&mut values);
        }
        match check_row(dataset, example, &values) {
            Ok((label, probs)) => {
                seen.insert(example, row);
                scores.examples.push(example);
                scores.labels.push(label);
                scores.probs.push(probs);
            }
            Err(problem) => report(format!("{text:?}: {problem}")),
        }
    }
    let unscored = dataset
        .examples
        .iter()
        .enumerate()
        .filter(|(i, e)| e.label.is_some() && !seen.contains_key(i))
        .count();
    if unscored > 0 {
        problems.push(format!(
            "{}: {unscored} labelled examples of the dataset have no usable row",
            path.display()
        ));
    }
    Ok((scores, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(labels: &[usize], probs: &[&[f32]]) -> Scores {
        Scores {
            examples: (0..labels.len()).map(|i| 100 + i).collect(),
            labels: labels.to_vec(),
            probs: probs.iter().map(|p| p.to_vec()).collect(),
            left_out: Vec::new(),
        }
    }

    #[test]
    fn loss_ranks_by_negative_log_probability_of_the_label() {
        let s = scores(
            &[0, 1, 0, 1],
            &[&[0.9, 0.1], &[0.6, 0.4], &[0.2, 0.8], &[0.05, 0.95]],
        );
        let ranked = rank(&s, RankMethod::Loss);
        assert_eq!(
            ranked.iter().map(|r| r.example).collect::<Vec<_>>(),
            vec![102, 101, 100, 103]
        );
        assert_eq!(
            ranked.iter().map(|r| r.rank).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert!((ranked[0].score - -(0.2f64).ln()).abs() < 1e-6);
        assert_eq!((ranked[0].given, ranked[0].predicted), (0, 1));
        // Same order as self-confidence p(given), ascending.
        let mut by_confidence: Vec<usize> = (0..s.len()).collect();
        by_confidence.sort_by(|&a, &b| s.p_given(a).total_cmp(&s.p_given(b)));
        assert_eq!(
            ranked.iter().map(|r| r.example - 100).collect::<Vec<_>>(),
            by_confidence
        );
    }

    #[test]
    fn margin_is_given_minus_best_other_most_negative_first() {
        let s = scores(
            &[0, 0, 2, 1],
            &[
                &[0.5, 0.3, 0.2],
                &[0.3, 0.35, 0.35],
                &[0.1, 0.8, 0.1],
                &[0.3, 0.6, 0.1],
            ],
        );
        let ranked = rank(&s, RankMethod::Margin);
        assert_eq!(
            ranked.iter().map(|r| r.example).collect::<Vec<_>>(),
            vec![102, 101, 100, 103]
        );
        let margins: Vec<f64> = ranked.iter().map(|r| r.score).collect();
        for (m, want) in margins.iter().zip([-0.7, -0.05, 0.2, 0.3]) {
            assert!((m - want).abs() < 1e-6, "{margins:?}");
        }
    }

    #[test]
    fn confident_learning_thresholds_and_flags_as_defined() {
        // Class 0 examples: p0 = 0.9, 0.7, 0.2 → t0 = 0.6. Class 1: p1 = 0.8, 0.55, 0.35 → t1 = 0.5667.
        let s = scores(
            &[0, 0, 0, 1, 1, 1],
            &[
                &[0.9, 0.1],   // confident 0 = label
                &[0.7, 0.3],   // confident 0 = label
                &[0.2, 0.8],   // p1 0.8 >= t1 → confident 1 ≠ 0: flagged, margin -0.6
                &[0.2, 0.8],   // confident 1 = label
                &[0.45, 0.55], // nothing clears its threshold → not flagged
                &[0.65, 0.35], // p0 0.65 >= t0 0.6 → confident 0 ≠ 1: flagged, margin -0.3
            ],
        );
        let t = class_thresholds(&s);
        assert!(
            (t[0].unwrap() - 0.6).abs() < 1e-6 && (t[1].unwrap() - 1.7 / 3.0).abs() < 1e-6,
            "{t:?}"
        );
        let confident = confident_classes(&s);
        assert_eq!(
            confident,
            vec![Some(0), Some(0), Some(1), Some(1), None, Some(0)]
        );
        let ranked = rank(&s, RankMethod::ConfidentLearning);
        assert_eq!(
            ranked
                .iter()
                .map(|r| (r.example, r.rank))
                .collect::<Vec<_>>(),
            vec![(102, 1), (105, 2)]
        );
        assert!((ranked[0].score + 0.6).abs() < 1e-6 && (ranked[1].score + 0.3).abs() < 1e-6);
    }

    #[test]
    fn confident_class_is_the_most_probable_of_those_clearing_their_thresholds() {
        // t0 = 0.5, t1 = 0.3, t2 = 0.2 from the first three rows.
        let s = scores(
            &[0, 1, 2, 0],
            &[
                &[0.5, 0.3, 0.2],
                &[0.4, 0.3, 0.3],
                &[0.4, 0.4, 0.2],
                &[0.1, 0.35, 0.55],
            ],
        );
        let t: Vec<f64> = class_thresholds(&s)
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert!(
            (t[0] - 0.3).abs() < 1e-6 && (t[1] - 0.3).abs() < 1e-6 && (t[2] - 0.2).abs() < 1e-6,
            "{t:?}"
        );
        // Row 3: classes 1 (0.35 >= 0.3) and 2 (0.55 >= 0.2) clear; 2 is the more probable.
        assert_eq!(confident_classes(&s)[3], Some(2));
        // A class no example carries has no threshold and is never confident.
        let s = scores(&[0, 0], &[&[0.9, 0.1, 0.0], &[0.2, 0.1, 0.7]]);
        assert_eq!(class_thresholds(&s)[2], None);
        assert_eq!(confident_classes(&s), vec![Some(0), None]);
        assert!(rank(&s, RankMethod::ConfidentLearning).is_empty());
    }

    #[test]
    fn confusion_matrix_counts_given_against_predicted() {
        let s = scores(
            &[0, 0, 1, 1, 1],
            &[
                &[0.9, 0.1],
                &[0.4, 0.6],
                &[0.3, 0.7],
                &[0.2, 0.8],
                &[0.6, 0.4],
            ],
        );
        assert_eq!(confusion_matrix(&s), vec![vec![1, 1], vec![1, 2]]);
    }

    #[test]
    fn entropy_is_zero_when_sure_and_ln_c_when_uniform() {
        let scores = Scores {
            examples: vec![0, 1],
            labels: vec![0, 0],
            probs: vec![vec![1.0, 0.0], vec![0.5, 0.5]],
            left_out: Vec::new(),
        };
        assert_eq!(scores.entropy(0), 0.0);
        assert!((scores.entropy(1) - 2f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn method_names_round_trip() {
        for method in RankMethod::ALL {
            assert_eq!(RankMethod::from_name(method.name()), Some(method));
        }
        assert_eq!(
            RankMethod::from_name("CL"),
            Some(RankMethod::ConfidentLearning)
        );
        assert_eq!(RankMethod::from_name("entropy"), None);
    }

    #[test]
    fn ragged_rows_count_quoted_commas_and_newlines_as_part_of_their_field() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("probs.csv");
        std::fs::write(
            &path,
            "path,0,1\n\"a,\nb.png\",0.5,0.5\r\nc.png,0.5\nd.png,0.1,0.9\n",
        )
        .unwrap();
        let ragged = ragged_rows(&path, b',').unwrap();
        assert_eq!(ragged, HashMap::from([(2, (2, 3))]));
    }
}
