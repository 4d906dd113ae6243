//! `eyeball bench duplicates`: the scan on a folder with planted near duplicates and look-alike
//! negatives (made by `scripts/plant_duplicates.py`), against its answer key: recall per
//! transform, the share of negatives flagged, and the time of each stage.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

use polars::prelude::*;
use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::dataset::relative_path_text;
use crate::index::{IndexCache, build_index};
use crate::jobs::Progress;
use crate::scan::verify::{self, Comparison, Tolerance};
use crate::scan::{ScanReport, ScanSettings, scan};

/// One pair of the answer key.
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub a: String,
    pub b: String,
    /// The transform that made `b` from `a`, or `negative` for two different photos.
    pub kind: String,
    pub strength: String,
}

/// Counts for one (kind, strength) of the key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyCounts {
    pub pairs: usize,
    /// Pairs the same-shot rule accepts when compared directly.
    pub verified: usize,
    /// Pairs the scan put in one duplicate group.
    pub grouped: usize,
}

/// What `bench_duplicates` measured.
#[derive(Clone, Debug)]
pub struct PlantedBench {
    pub images: usize,
    pub threads: usize,
    /// Whether mirrored copies counted as the same shot.
    pub mirror: bool,
    /// Reading and decoding every file, nothing else.
    pub decode_only_s: f64,
    pub index_s: f64,
    pub scan_s: f64,
    /// The scan's stages with their seconds, in order.
    pub scan_stages: Vec<(String, f64)>,
    pub near_pairs: usize,
    pub groups: usize,
    /// Per (kind, strength), in key order.
    pub counts: BTreeMap<(String, String), KeyCounts>,
    /// Key rows whose paths are not in the dataset.
    pub missing: usize,
    /// Every key pair's comparison (accepted or not), in key order; `None` when a path is missing
    /// or no coarse alignment came close.
    pub comparisons: Vec<Option<Comparison>>,
}

impl PlantedBench {
    /// Totals over the planted copies (every kind but `negative`) and over the negatives.
    pub fn totals(&self) -> (KeyCounts, KeyCounts) {
        let (mut copies, mut negatives) = (KeyCounts::default(), KeyCounts::default());
        for ((kind, _), c) in &self.counts {
            let total = if kind == "negative" {
                &mut negatives
            } else {
                &mut copies
            };
            total.pairs += c.pairs;
            total.verified += c.verified;
            total.grouped += c.grouped;
        }
        (copies, negatives)
    }

    pub fn to_text(&self) -> String {
        let pct = |k: usize, n: usize| 100.0 * k as f64 / n.max(1) as f64;
        let mut out = format!(
            "images:            {}\nthreads:           {}\ndecode only:       {:.2} s\n\
             index (cold):      {:.2} s\nscan:              {:.2} s\n\
             index + scan:      {:.2} s\nverified pairs:    {}\ngroups:            {}\n",
            self.images,
            self.threads,
            self.decode_only_s,
            self.index_s,
            self.scan_s,
            self.index_s + self.scan_s,
            self.near_pairs,
            self.groups
        );
        for (stage, seconds) in &self.scan_stages {
            out += &format!("  {stage:<30} {seconds:>6.2} s\n");
        }
        out += "\n";
        out += &format!(
            "{:<10} {:<16} {:>6} {:>18} {:>18}\n",
            "kind", "strength", "pairs", "same shot (direct)", "found by the scan"
        );
        for ((kind, strength), c) in &self.counts {
            out += &format!(
                "{kind:<10} {strength:<16} {:>6} {:>11} {:>5.1}% {:>11} {:>5.1}%\n",
                c.pairs,
                c.verified,
                pct(c.verified, c.pairs),
                c.grouped,
                pct(c.grouped, c.pairs)
            );
        }
        let (copies, negatives) = self.totals();
        out += &format!(
            "\nplanted copies found:  {}/{} ({:.1}%; the rule alone accepts {:.1}%)\n\
             negatives flagged:     {}/{} ({:.1}%; the rule alone accepts {:.1}%)\n",
            copies.grouped,
            copies.pairs,
            pct(copies.grouped, copies.pairs),
            pct(copies.verified, copies.pairs),
            negatives.grouped,
            negatives.pairs,
            pct(negatives.grouped, negatives.pairs),
            pct(negatives.verified, negatives.pairs),
        );
        if !self.mirror {
            // Mirrors are not the same shot unless the settings allow them (`--mirror`).
            let (found, pairs) = self
                .counts
                .iter()
                .filter(|((kind, _), _)| kind != "negative" && kind != "mirror")
                .fold((0, 0), |(f, p), (_, c)| (f + c.grouped, p + c.pairs));
            out += &format!(
                "planted copies found, mirrors left out (not the same shot without --mirror): \
                 {found}/{pairs} ({:.1}%)\n",
                pct(found, pairs)
            );
        }
        if self.missing > 0 {
            out += &format!("key rows not in the dataset: {}\n", self.missing);
        }
        out
    }
}

/// Reads an answer key: a CSV with `a`, `b`, `kind` and `strength` columns, paths relative to the
/// dataset root.
pub fn read_key(path: &Path) -> anyhow::Result<Vec<KeyPair>> {
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let column = |name: &str| -> anyhow::Result<Vec<String>> {
        let column = df.column(name).map_err(|_| {
            anyhow::anyhow!(
                "{}: no column {name:?} (need a, b, kind, strength)",
                path.display()
            )
        })?;
        Ok(column
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let (a, b, kind, strength) = (
        column("a")?,
        column("b")?,
        column("kind")?,
        column("strength")?,
    );
    Ok((0..a.len())
        .map(|i| KeyPair {
            a: a[i].clone(),
            b: b[i].clone(),
            kind: kind[i].clone(),
            strength: strength[i].clone(),
        })
        .collect())
}

/// Indexes (without a cache) and scans `dataset`, then checks every pair of `key`: compared
/// directly by the same-shot rule, and whether the scan grouped it.
pub fn bench_duplicates(
    dataset: &Dataset,
    key: &[KeyPair],
    settings: &ScanSettings,
) -> anyhow::Result<(PlantedBench, ScanReport)> {
    let paths: Vec<_> = dataset
        .examples
        .iter()
        .map(|e| dataset.absolute_path(e))
        .collect();
    let decode_only_s = super::index::decode_only_seconds(&paths);

    // As a first `eyeball scan` runs: the index decodes every file into an empty cache (and signs
    // each for the scan from the same decode).
    let cache = tempfile::tempdir()?;
    let started = Instant::now();
    let index = build_index(
        dataset,
        IndexCache::At(cache.path().to_path_buf()),
        &Progress::default(),
    )?;
    let index_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let progress = Progress::default();
    let report = scan(dataset, &index, settings, &progress)?;
    let scan_s = started.elapsed().as_secs_f64();

    let position: HashMap<String, usize> = dataset
        .examples
        .iter()
        .enumerate()
        .map(|(i, e)| (relative_path_text(&e.path), i))
        .collect();
    let mut group_of = vec![usize::MAX; dataset.examples.len()];
    for group in &report.groups {
        for &m in &group.members {
            group_of[m] = group.id;
        }
    }
    let tolerance = Tolerance::of(settings);
    let checked: Vec<Option<(Option<Comparison>, bool)>> = key
        .par_iter()
        .map(|pair| {
            let (&a, &b) = (position.get(&pair.a)?, position.get(&pair.b)?);
            let (sa, sb) = (
                crate::scan::sign(&paths[a]).0?,
                crate::scan::sign(&paths[b]).0?,
            );
            let comparison = verify::compare_signatures(&sa, &sb, tolerance);
            let grouped = group_of[a] != usize::MAX && group_of[a] == group_of[b];
            Some((comparison, grouped))
        })
        .collect();
    let mut counts: BTreeMap<(String, String), KeyCounts> = BTreeMap::new();
    let mut missing = 0;
    for (pair, result) in key.iter().zip(&checked) {
        let Some((comparison, grouped)) = *result else {
            missing += 1;
            continue;
        };
        let c = counts
            .entry((pair.kind.clone(), pair.strength.clone()))
            .or_default();
        c.pairs += 1;
        c.verified += usize::from(comparison.is_some_and(|c| c.is_same_shot()));
        c.grouped += usize::from(grouped);
    }
    Ok((
        PlantedBench {
            images: dataset.examples.len(),
            threads: rayon::current_num_threads(),
            mirror: settings.near_duplicate_mirror,
            decode_only_s,
            index_s,
            scan_s,
            scan_stages: progress.stage_seconds(),
            near_pairs: report.near_pairs.len(),
            groups: report.groups.len(),
            counts,
            missing,
            comparisons: checked.iter().map(|c| c.and_then(|c| c.0)).collect(),
        },
        report,
    ))
}

/// The key with each pair's comparison: `a`, `b`, `kind`, `strength`, `same_shot`, `tone`,
/// `detail`, `coarser_detail`, `weakest_region`, `overlap`, `scale`, `shift_x`, `shift_y`,
/// `mirrored` (nulls where no alignment came close).
pub fn key_table(key: &[KeyPair], bench: &PlantedBench) -> DataFrame {
    let c = &bench.comparisons;
    let field = |f: fn(&Comparison) -> f32| -> Vec<Option<f32>> {
        c.iter().map(|c| c.as_ref().map(f)).collect()
    };
    DataFrame::new(
        key.len(),
        vec![
            Column::new(
                "a".into(),
                key.iter().map(|k| k.a.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "b".into(),
                key.iter().map(|k| k.b.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "kind".into(),
                key.iter().map(|k| k.kind.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "strength".into(),
                key.iter().map(|k| k.strength.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "same_shot".into(),
                c.iter()
                    .map(|c| c.is_some_and(|c| c.is_same_shot()))
                    .collect::<Vec<_>>(),
            ),
            Column::new("tone".into(), field(|c| c.tone)),
            Column::new("detail".into(), field(|c| c.detail)),
            Column::new("coarser_detail".into(), field(|c| c.coarser_detail)),
            Column::new("weakest_region".into(), field(|c| c.weakest_region)),
            Column::new("overlap".into(), field(|c| c.overlap)),
            Column::new("scale".into(), field(|c| c.alignment.scale)),
            Column::new("shift_x".into(), field(|c| c.alignment.shift_x)),
            Column::new("shift_y".into(), field(|c| c.alignment.shift_y)),
        ],
    )
    .expect("columns of equal length")
}

/// The scan's verified pairs as a table: `a`, `b` (paths), `confidence`, `detail`, most certain
/// first; for montages and by-eye checks.
pub fn pairs_table(report: &ScanReport, dataset: &Dataset) -> DataFrame {
    let path = |i: usize| relative_path_text(&dataset.examples[i].path);
    let pairs = &report.near_pairs;
    DataFrame::new(
        pairs.len(),
        vec![
            Column::new(
                "a".into(),
                pairs.iter().map(|p| path(p.a)).collect::<Vec<_>>(),
            ),
            Column::new(
                "b".into(),
                pairs.iter().map(|p| path(p.b)).collect::<Vec<_>>(),
            ),
            Column::new(
                "confidence".into(),
                pairs.iter().map(|p| p.confidence()).collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                pairs
                    .iter()
                    .map(|p| p.comparison.describe())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
    .expect("columns of equal length")
}
