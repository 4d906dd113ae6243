//! The command line: `eyeball [PATH]` opens the GUI; subcommands run headless for scripts.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::bench::bench_index;
use crate::dataset::{ClassCount, Dataset, Layout};
use crate::index::{IndexCache, build_index, write_table};
use crate::jobs::Progress;

mod map;
pub use map::run_map;

/// Look at your data and your checkpoints.
#[derive(Debug, Parser)]
#[command(
    name = "eyeball",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Dataset folder to open in the GUI (default: the bundled demo).
    pub path: Option<PathBuf>,
    /// Folder of checkpoints to load (default: the demo's, when opening the demo).
    #[arg(long, value_name = "DIR")]
    pub checkpoints: Option<PathBuf>,
    /// Read the index from this folder of `eyeball index --shard` files instead of the cache.
    #[arg(long, value_name = "DIR")]
    pub index_shards: Option<PathBuf>,
}

/// Headless subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the layout, splits, classes and per-class counts of a dataset folder.
    Info {
        /// Dataset folder.
        path: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Decode every image once and write a table of per-image stats (size, mode, brightness,
    /// sharpness, hashes, ...), one row per example. Unchanged files come from the cache.
    Index {
        /// Dataset folder.
        path: PathBuf,
        /// Table to write: .parquet or .csv; with --shard, the folder the shard file goes into.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Decode every file, and neither read nor write the cache.
        #[arg(long)]
        no_cache: bool,
        /// Index only shard I of N (the examples whose path hashes to it), for one job of a
        /// cluster, and write it as `index-vV-IIIII-of-NNNNN.parquet` into the --out folder.
        #[arg(long, value_name = "I/N", conflicts_with = "index_shards")]
        shard: Option<crate::index::shards::Shard>,
        /// Take the rows from this folder of shard files (decoding only what they lack).
        #[arg(long, value_name = "DIR")]
        index_shards: Option<PathBuf>,
        /// Also write each example's training dynamics over this folder of per-epoch checkpoints
        /// (confidence, variability, correctness, aum, forgetting, learned_from).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["predictions", "shard"])]
        checkpoints: Option<PathBuf>,
        /// The same from per-epoch prediction files of any framework (see `eyeball dynamics`).
        #[arg(long, value_name = "DIR", conflicts_with = "shard")]
        predictions: Option<PathBuf>,
    },
    /// Run every TorchScript checkpoint on a batch of examples and write one row per
    /// (checkpoint, example): checkpoint, order, path, label, predicted, p_label, loss, top5.
    Predict {
        /// Dataset folder.
        path: PathBuf,
        /// Folder of checkpoints (with preprocess.json), or one checkpoint file.
        #[arg(long, value_name = "DIR")]
        checkpoints: PathBuf,
        /// A fixed batch of N examples, stratified over classes (default: 64).
        #[arg(long, value_name = "N", conflicts_with = "all")]
        batch: Option<usize>,
        /// Every labelled example instead of a fixed batch.
        #[arg(long)]
        all: bool,
        /// Seed that picks the fixed batch.
        #[arg(long, default_value_t = crate::model::predict::DEFAULT_BATCH_SEED)]
        seed: u64,
        /// Table to write: .csv or .parquet.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Preprocessing sidecar (default: preprocess.json beside the checkpoints).
        #[arg(long, value_name = "FILE")]
        preprocess: Option<PathBuf>,
        /// Run every checkpoint, and neither read nor write cached predictions.
        #[arg(long)]
        no_cache: bool,
    },
    /// Run the recipe checks (loss at init, input-independent baseline, batch independence,
    /// overfit one batch) on the default fixed batch. Exits with status 1 when a check fails, so CI can use it.
    Check {
        /// Dataset folder.
        path: PathBuf,
        /// Folder of checkpoints (with preprocess.json), or checkpoint files.
        #[arg(long, value_name = "DIR")]
        checkpoints: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Preprocessing sidecar (default: preprocess.json beside the checkpoints).
        #[arg(long, value_name = "FILE")]
        preprocess: Option<PathBuf>,
        /// Examples of the fixed batch that the overfit check trains on (2 to 16).
        #[arg(long, value_name = "N", default_value_t = crate::model::overfit::DEFAULT_OVERFIT_EXAMPLES,
              value_parser = overfit_examples)]
        overfit_examples: usize,
        /// Checkpoint file name that the overfit check trains (default: the first TorchScript one).
        #[arg(long, value_name = "NAME")]
        overfit_checkpoint: Option<String>,
    },
    /// Look for exact and near duplicates (with label conflicts and train/test leakage), outliers
    /// and image-quality problems; write one row per (example, issue): path, issue, score, group,
    /// partner, detail. Exits with status 2 when an issue named by --fail-on is found.
    Scan(ScanOptions),
    /// Rank examples by how likely their label is wrong, from one checkpoint's probabilities,
    /// imported ones, or how every checkpoint of a folder learned them; write ranked rows: path,
    /// given, predicted, score, rank (1 = most suspect), and with --checkpoints the dynamics too.
    LabelIssues {
        /// Dataset folder.
        path: PathBuf,
        /// TorchScript checkpoint that scores every labelled example (preprocess.json beside it).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present_any = ["probs", "checkpoints", "predictions"],
            conflicts_with_all = ["probs", "checkpoints"]
        )]
        checkpoint: Option<PathBuf>,
        /// Probabilities made elsewhere: .csv/.parquet with `path` and one column per class, or an
        /// N×C .npy in the dataset's order.
        #[arg(long, value_name = "FILE", conflicts_with = "checkpoints")]
        probs: Option<PathBuf>,
        /// Folder of per-epoch checkpoints: rank by training dynamics (aum, confidence, forgetting).
        #[arg(long, value_name = "DIR", conflicts_with = "predictions")]
        checkpoints: Option<PathBuf>,
        /// Folder of per-epoch predictions from any framework (see `eyeball dynamics`), ranked like
        /// --checkpoints.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["probs", "checkpoint"])]
        predictions: Option<PathBuf>,
        /// With --checkpoints or --predictions: only the examples of this split (e.g. train).
        #[arg(long, value_name = "SPLIT")]
        split: Option<String>,
        /// loss, margin or cl (confident learning: only the flagged examples); with --checkpoints
        /// aum (default), confidence or forgetting.
        #[arg(long, value_name = "METHOD")]
        method: Option<String>,
        /// Table to write: .csv or .parquet.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Preprocessing sidecar (default: preprocess.json beside the checkpoint).
        #[arg(long, value_name = "FILE")]
        preprocess: Option<PathBuf>,
    },
    /// Run every checkpoint of a folder over a split and write how each example was learned:
    /// path, given, predicted (last checkpoint), confidence, variability, correctness, aum,
    /// forgetting, learned_from.
    Dynamics {
        /// Dataset folder.
        path: PathBuf,
        /// Folder of per-epoch checkpoints (with preprocess.json).
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "predictions",
            conflicts_with = "predictions"
        )]
        checkpoints: Option<PathBuf>,
        /// Folder of per-epoch predictions from any framework instead: .npy (N×C logits or
        /// probabilities in the dataset's order), or .csv/.parquet with `path` and one column per class.
        #[arg(long, value_name = "DIR")]
        predictions: Option<PathBuf>,
        /// Only the examples of this split (e.g. train).
        #[arg(long, value_name = "SPLIT")]
        split: Option<String>,
        /// Table to write: .csv or .parquet.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Preprocessing sidecar (default: preprocess.json beside the checkpoints).
        #[arg(long, value_name = "FILE")]
        preprocess: Option<PathBuf>,
    },
    /// Place every example in 2D (PCA, then t-SNE) from its thumbnail or a checkpoint's
    /// penultimate layer, and write path, x, y, neighbour_disagreement (the share of its 10
    /// nearest neighbours in the embedding with another label). Maps are cached.
    Map {
        /// Dataset folder.
        path: PathBuf,
        /// TorchScript checkpoint whose penultimate layer to map (default: the images' thumbnails).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Only the examples of this split (e.g. train).
        #[arg(long, value_name = "SPLIT")]
        split: Option<String>,
        /// Table to write: .csv or .parquet.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Preprocessing sidecar (default: preprocess.json beside the checkpoint).
        #[arg(long, value_name = "FILE")]
        preprocess: Option<PathBuf>,
        /// Make the map again, and neither read nor write the map cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Measure how fast things are.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// Arguments of `eyeball scan`.
#[derive(Debug, clap::Args)]
pub struct ScanOptions {
    /// Dataset folder.
    pub path: PathBuf,
    /// Table to write: .csv or .parquet.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Exit with status 2 if any of these issues is found (e.g. exact_duplicate,split_leakage).
    #[arg(long, value_name = "ISSUE[,ISSUE]", value_delimiter = ',')]
    pub fail_on: Vec<String>,
    /// Hamming radius (bits of 64) for near-duplicate candidates.
    #[arg(long, value_name = "N")]
    pub max_distance: Option<u32>,
    /// Count a mirrored copy as the same shot (off by default).
    #[arg(long)]
    pub mirror: bool,
    /// Memory the scan may use, e.g. 2G or 1500M (default 2G); the near-duplicate search
    /// tightens itself to stay within it and the report says so.
    #[arg(long, value_name = "SIZE", value_parser = byte_size)]
    pub memory_budget: Option<u64>,
    /// TorchScript checkpoint whose penultimate layer (the input of its last linear layer) is the
    /// embedding: its nearest neighbours are also compared (by the same same-shot rule), and
    /// outliers are measured in it.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Preprocessing sidecar for --checkpoint (default: preprocess.json beside it).
    #[arg(long, value_name = "FILE", requires = "checkpoint")]
    pub preprocess: Option<PathBuf>,
    /// With --checkpoint: how far below the dataset's typical nearest-neighbour ratio (in median
    /// absolute deviations of its log) two images' embeddings must be to be compared.
    #[arg(long, value_name = "N", requires = "checkpoint")]
    pub min_deviations: Option<f32>,
    /// Decode every file for the index, and neither read nor write the index cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Read the index from this folder of `eyeball index --shard` files instead of the cache.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub index_shards: Option<PathBuf>,
}

/// What `eyeball bench` measures.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The scan on a folder with planted near duplicates and look-alike negatives (see
    /// scripts/plant_duplicates.py): recall per transform, negatives flagged, time per stage.
    Duplicates {
        /// Dataset folder.
        path: PathBuf,
        /// Answer key: CSV with a, b, kind, strength (paths relative to the folder).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Count a mirrored copy as the same shot.
        #[arg(long)]
        mirror: bool,
        /// Write the verified pairs (a, b, confidence, detail), most certain first.
        #[arg(long, value_name = "FILE")]
        pairs_out: Option<PathBuf>,
        /// Write the key with every pair's comparison (tone, detail, regions, alignment).
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
        /// Hamming radius of the candidate search (bits of 64).
        #[arg(long, value_name = "N", default_value_t = crate::scan::ScanSettings::default().near_duplicate_max_distance)]
        max_distance: u32,
    },
    /// Decode-only time, index time without cache, their ratio, and warm-cache reopen time.
    Index {
        /// Dataset folder.
        path: PathBuf,
        /// Use only the first N examples.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Images/s of one TorchScript checkpoint over every image of a dataset, decoding and
    /// forward passes timed apart (compare with scripts/bench_inference.py).
    Inference {
        /// Dataset folder.
        path: PathBuf,
        /// TorchScript file (preprocess.json beside it).
        #[arg(long, value_name = "FILE")]
        checkpoint: PathBuf,
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// LibTorch intra-op threads and decoding threads (default: every core).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Preprocessing sidecar (default: preprocess.json beside the checkpoint).
        #[arg(long, value_name = "FILE")]
        preprocess: Option<PathBuf>,
    },
    /// Near-duplicate search on N synthetic 64-bit hashes (1 in 100 a planted near copy): time,
    /// pairs found, planted pairs recovered, peak memory.
    NearDuplicates {
        /// Number of hashes.
        #[arg(long, default_value_t = 1_000_000)]
        n: usize,
        /// Hamming radius (bits of 64).
        #[arg(long, value_name = "N", default_value_t = crate::scan::ScanSettings::default().near_duplicate_max_distance)]
        max_distance: u32,
    },
}

/// The bundled demo's dataset folder.
pub fn demo_dataset_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/data")
}

/// The bundled demo's checkpoints folder.
pub fn demo_checkpoints_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/checkpoints")
}

/// What `eyeball info --json` prints.
#[derive(Debug, Serialize)]
pub struct InfoReport {
    pub root: String,
    pub layout: Layout,
    pub layout_pattern: &'static str,
    pub examples: usize,
    pub splits: Vec<SplitCount>,
    pub classes: Vec<ClassCount>,
    pub imbalance_ratio: Option<f64>,
}

/// Examples in one split.
#[derive(Debug, Serialize)]
pub struct SplitCount {
    pub name: String,
    pub count: usize,
}

impl InfoReport {
    /// Summarises a discovered dataset.
    pub fn new(dataset: &Dataset) -> InfoReport {
        InfoReport {
            root: dataset.root.display().to_string(),
            layout: dataset.layout,
            layout_pattern: dataset.layout.pattern(),
            examples: dataset.examples.len(),
            splits: dataset
                .split_counts()
                .into_iter()
                .map(|(name, count)| SplitCount { name, count })
                .collect(),
            classes: dataset.class_counts(),
            imbalance_ratio: dataset.imbalance_ratio(),
        }
    }

    /// A plain-text table for terminals.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "dataset:  {}\nlayout:   {}\nexamples: {}\n",
            self.root, self.layout_pattern, self.examples
        );
        if !self.splits.is_empty() {
            let splits: Vec<String> = self
                .splits
                .iter()
                .map(|s| format!("{} {}", s.name, s.count))
                .collect();
            out += &format!("splits:   {}\n", splits.join(", "));
        }
        if let Some(ratio) = self.imbalance_ratio {
            out += &format!("imbalance (largest/smallest class): {ratio:.2}\n");
        }
        out += &format!("classes:  {}\n", self.classes.len());
        // Long names (a label table may hold anything) are cut, so the table stays a table.
        let name_width = self
            .classes
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(5)
            .clamp(5, MAX_CLASS_NAME_WIDTH);
        let mut header = format!("  {:<name_width$}", "class");
        for split in &self.splits {
            header += &format!(" {:>8}", split.name);
        }
        header += &format!(" {:>8}\n", "total");
        out += &header;
        for class in &self.classes {
            let mut row = format!("  {:<name_width$}", fit_width(&class.name, name_width));
            for count in &class.by_split {
                row += &format!(" {count:>8}");
            }
            row += &format!(" {:>8}\n", class.count);
            out += &row;
        }
        out
    }
}

/// Widest class name column `eyeball info` prints; longer names end in "…".
const MAX_CLASS_NAME_WIDTH: usize = 60;

/// `text` cut to `width` characters, the last one "…" when cut.
fn fit_width(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Opens the dataset at `path` and prints the problems found in its labels (bad rows, bad
/// annotations, files that are no images), each naming its file, on stderr.
fn open_dataset(path: &Path) -> anyhow::Result<Dataset> {
    let dataset = Dataset::open(path)?;
    for warning in &dataset.warnings {
        eprintln!("eyeball: warning: {warning}");
    }
    Ok(dataset)
}

/// Runs `eyeball info`.
pub fn run_info(path: &Path, json: bool) -> anyhow::Result<()> {
    let dataset = open_dataset(path)?;
    let report = InfoReport::new(&dataset);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Runs `eyeball index`: builds the index with progress on stderr, then writes the table.
pub fn run_index(
    path: &Path,
    out: &Path,
    cache: IndexCache,
    shard: Option<crate::index::shards::Shard>,
    dynamics: Option<DynamicsSource<'_>>,
) -> anyhow::Result<()> {
    if let Some(shard) = shard {
        return run_index_shard(path, out, shard);
    }
    // Refuse a bad output name before spending minutes decoding.
    crate::index::TableFormat::for_path(out)?;
    let dataset = open_dataset(path)?;
    let started = Instant::now();
    let index = with_progress("indexing", |progress| {
        build_index(&dataset, cache, progress)
    })??;
    for warning in &index.warnings {
        eprintln!("eyeball: warning: {warning}");
    }
    let mut df = index.to_dataframe(&dataset);
    if let Some(source) = dynamics {
        // The rows are the dataset's examples in order, as the dynamics columns are.
        let dynamics = dynamics_of(&dataset, source, None, None)?;
        for (name, values) in dynamics.stat_columns(dataset.examples.len()) {
            let values: Vec<Option<f64>> = values
                .into_iter()
                .map(|v| v.is_finite().then_some(v))
                .collect();
            df.with_column(polars::prelude::Column::new(name.into(), values))?;
        }
    }
    write_table(&mut df, out)?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let unreadable = index.records.iter().filter(|r| !r.is_readable()).count();
    eprintln!(
        "indexed {} images in {elapsed_s:.1} s ({:.0} images/s): {} decoded, {} from cache, {unreadable} unreadable; wrote {}",
        index.records.len(),
        index.records.len() as f64 / elapsed_s.max(1e-9),
        index.decoded,
        index.from_cache,
        out.display()
    );
    Ok(())
}

/// `eyeball index --shard`: decodes only the shard's examples (no cache: the cache holds whole
/// datasets) and writes them as one shard file into the folder `out`.
fn run_index_shard(
    path: &Path,
    out: &Path,
    shard: crate::index::shards::Shard,
) -> anyhow::Result<()> {
    use crate::dataset::relative_path_text;
    let mut dataset = open_dataset(path)?;
    let total = dataset.examples.len();
    dataset
        .examples
        .retain(|e| shard.holds(&relative_path_text(&e.path)));
    let started = Instant::now();
    let index = with_progress("indexing", |progress| {
        build_index(&dataset, IndexCache::None, progress)
    })??;
    let rows = dataset
        .examples
        .iter()
        .map(|e| relative_path_text(&e.path))
        .zip(&index.records);
    let file = crate::index::shards::write_shard(out, shard, rows)?;
    eprintln!(
        "indexed shard {}/{} ({} of {total} images) in {:.1} s; wrote {}",
        shard.index,
        shard.count,
        index.records.len(),
        started.elapsed().as_secs_f64(),
        file.display()
    );
    Ok(())
}

/// `--memory-budget`: bytes, or a number with K, M or G (binary units), e.g. `2G`, `1500M`.
fn byte_size(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?}: give a size such as 2G, 1500M or 800000000");
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => (&t[..at], t[at..].to_ascii_uppercase()),
        None => (t, String::new()),
    };
    let shift = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(bad()),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    Ok((value * (1u64 << shift) as f64) as u64)
}

/// `--overfit-examples`: a count within `OVERFIT_EXAMPLES`.
fn overfit_examples(text: &str) -> Result<usize, String> {
    let range = crate::model::overfit::OVERFIT_EXAMPLES;
    text.parse::<usize>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{text:?}: give a number of examples from {} to {}",
                range.start(),
                range.end()
            )
        })
}

/// Where the index comes from: the shard folder when given, else the cache unless `no_cache`.
pub fn index_cache(no_cache: bool, index_shards: Option<&Path>) -> IndexCache {
    match index_shards {
        Some(dir) => IndexCache::Shards(dir.to_path_buf()),
        None if no_cache => IndexCache::None,
        None => IndexCache::Default,
    }
}

/// "12000/60000 (20%)  3410/s  ETA 14 s"
fn progress_line(done: usize, total: usize, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let eta = if done > 0 && total >= done {
        format!("{:.0} s", (total - done) as f64 / rate)
    } else {
        "?".into()
    };
    let percent = if total > 0 {
        format!(" ({:.0}%)", 100.0 * done as f64 / total as f64)
    } else {
        String::new()
    };
    format!("{done}/{total}{percent}  {rate:.0}/s  ETA {eta}")
}

/// Runs `eyeball bench index`.
pub fn run_bench_index(path: &Path, limit: Option<usize>) -> anyhow::Result<()> {
    let dataset = open_dataset(path)?;
    let report = bench_index(&dataset, limit)?;
    print!("{}", report.to_text());
    Ok(())
}

/// Runs `eyeball predict`: every TorchScript checkpoint on the batch, progress on stderr, then
/// the table. Files that cannot run are named on stderr and skipped.
pub fn run_predict(args: PredictArgs<'_>) -> anyhow::Result<()> {
    use crate::model::predict::{DEFAULT_BATCH_SIZE, FixedBatch, predictions_table, write_table};
    use crate::model::{
        CheckpointKind, Preprocess, classify_checkpoints, default_fixed_batch, run_evolution,
    };

    let extension = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    anyhow::ensure!(
        extension == "csv" || extension == "parquet",
        "{}: unknown table format '.{extension}': use .csv or .parquet",
        args.out.display()
    );
    let dataset = open_dataset(args.path)?;
    let preprocess = Preprocess::for_checkpoints(args.checkpoints, args.preprocess)?;
    let files = classify_checkpoints(&[args.checkpoints.to_path_buf()])?;
    for file in &files {
        match &file.kind {
            CheckpointKind::Unrunnable(why) => {
                eprintln!("eyeball: skipped {}: {why}", file.path.display())
            }
            CheckpointKind::WeightsOnly => eprintln!(
                "eyeball: skipped {}: weights only, nothing to run",
                file.path.display()
            ),
            CheckpointKind::TorchScript => {}
        }
    }
    let runnable = files.iter().filter(|f| f.is_runnable()).count();
    anyhow::ensure!(
        runnable > 0,
        "{}: no TorchScript checkpoint to run",
        args.checkpoints.display()
    );
    let batch = if args.all {
        FixedBatch::all(&dataset)
    } else {
        default_fixed_batch(
            &dataset,
            args.batch.unwrap_or(DEFAULT_BATCH_SIZE),
            args.seed,
        )
    };
    anyhow::ensure!(
        !batch.is_empty(),
        "{}: no labelled examples to predict",
        dataset.root.display()
    );
    let cache_dir = if args.no_cache {
        None
    } else {
        crate::model::predict::default_predictions_cache_dir()
    };
    let started = Instant::now();
    let models = crate::model::ModelStore::new(crate::model::default_device());
    let evolution = with_progress("predicting", |progress| {
        run_evolution(
            &models,
            &files,
            &preprocess,
            &dataset,
            &batch,
            cache_dir.as_deref(),
            progress,
        )
    })??;
    for (_, _, message) in &evolution.failures {
        eprintln!("eyeball: skipped {message}");
    }
    for note in &evolution.notes {
        eprintln!("eyeball: {note}");
    }
    let predictions = evolution.predictions;
    anyhow::ensure!(
        !predictions.is_empty(),
        "{}: no checkpoint ran",
        args.checkpoints.display()
    );
    let class_names = crate::model::predict::ClassMap::new(&dataset, &preprocess).names;
    let mut table = predictions_table(&predictions, &dataset, &class_names);
    write_table(&mut table, args.out)?;
    eprintln!(
        "predicted {} examples with {} checkpoints in {:.1} s; wrote {} rows to {}",
        batch.len(),
        predictions.len(),
        started.elapsed().as_secs_f64(),
        table.height(),
        args.out.display()
    );
    Ok(())
}

/// Arguments of `eyeball predict`.
pub struct PredictArgs<'a> {
    pub path: &'a Path,
    pub checkpoints: &'a Path,
    pub batch: Option<usize>,
    pub all: bool,
    pub seed: u64,
    pub out: &'a Path,
    pub preprocess: Option<&'a Path>,
    pub no_cache: bool,
}

/// Runs `eyeball check`; an error (exit status 1) when any check fails.
pub fn run_check(
    path: &Path,
    checkpoints: &Path,
    json: bool,
    preprocess: Option<&Path>,
    overfit: &crate::model::OverfitSettings,
) -> anyhow::Result<()> {
    use crate::model::predict::{DEFAULT_BATCH_SEED, DEFAULT_BATCH_SIZE};
    use crate::model::{
        Preprocess, Verdict, classify_checkpoints, default_device, default_fixed_batch,
        recipe_checks,
    };

    let dataset = open_dataset(path)?;
    let preprocess = Preprocess::for_checkpoints(checkpoints, preprocess)?;
    let files = classify_checkpoints(&[checkpoints.to_path_buf()])?;
    anyhow::ensure!(
        !files.is_empty(),
        "{}: no checkpoint files (.{})",
        checkpoints.display(),
        crate::model::CHECKPOINT_EXTENSIONS.join(", .")
    );
    let batch = default_fixed_batch(&dataset, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SEED);
    let device = default_device();
    let models = crate::model::ModelStore::new(device);
    let results = with_progress("recipe checks", |progress| {
        recipe_checks(
            &files,
            &preprocess,
            &dataset,
            &batch,
            overfit,
            &models,
            progress,
        )
    })??;
    let text = if json {
        serde_json::to_string_pretty(&results)? + "\n"
    } else {
        let runnable = files.iter().filter(|f| f.is_runnable()).count();
        format!(
            "checkpoints: {} ({} files, {runnable} TorchScript), device {}\nbatch: {} examples, seed {DEFAULT_BATCH_SEED}\n\n{}",
            checkpoints.display(),
            files.len(),
            crate::model::device_name(device),
            batch.len(),
            crate::model::checks::results_text(&results)
        )
    };
    // A closed pipe (`eyeball check ... | head`) is not an error worth a panic.
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    let failed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .count();
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} recipe checks failed",
        results.len()
    );
    Ok(())
}

/// Runs `eyeball bench inference`.
pub fn run_bench_inference(
    path: &Path,
    checkpoint: &Path,
    batch_size: usize,
    threads: Option<usize>,
    preprocess: Option<&Path>,
) -> anyhow::Result<()> {
    let dataset = open_dataset(path)?;
    let preprocess = crate::model::Preprocess::for_checkpoints(checkpoint, preprocess)?;
    let report = crate::bench::inference::bench_inference(
        &dataset,
        checkpoint,
        &preprocess,
        batch_size,
        threads,
    )?;
    print!("{}", report.to_text());
    Ok(())
}

/// Runs `eyeball scan`: builds or loads the index, scans, writes the table and prints the counts
/// on stderr. True when an issue named in `fail_on` was found (the caller exits with status 2).
pub fn run_scan(options: &ScanOptions) -> anyhow::Result<bool> {
    use crate::scan::{IssueKind, ScanSettings, counts_text, write_report};

    let ScanOptions {
        path,
        out,
        fail_on,
        no_cache,
        ..
    } = options;
    // Refuse bad arguments before minutes of decoding.
    crate::index::TableFormat::for_path(out)?;
    let fail_kinds = fail_on
        .iter()
        .map(|name| {
            IssueKind::from_name(name.trim()).ok_or_else(|| {
                let valid: Vec<&str> = IssueKind::ALL.iter().map(|k| k.name()).collect();
                anyhow::anyhow!(
                    "unknown issue {name:?} in --fail-on; valid issues: {}",
                    valid.join(", ")
                )
            })
        })
        .collect::<anyhow::Result<Vec<IssueKind>>>()?;
    let mut settings = ScanSettings::default();
    if let Some(d) = options.max_distance {
        settings.near_duplicate_max_distance = checked_max_distance(d)?;
    }
    settings.near_duplicate_mirror = options.mirror;
    if let Some(bytes) = options.memory_budget {
        settings.memory_budget_bytes = bytes;
    }
    if let Some(n) = options.min_deviations {
        settings.embedding_min_deviations = n;
    }
    let model = match &options.checkpoint {
        Some(checkpoint) => {
            let (file, preprocess) =
                runnable_checkpoint(checkpoint, options.preprocess.as_deref())?;
            Some(crate::pipelines::EmbeddingModel {
                file,
                template: None,
                preprocess,
            })
        }
        None => None,
    };

    let dataset = open_dataset(path)?;
    let started = Instant::now();
    let cache = index_cache(*no_cache, options.index_shards.as_deref());
    let index = with_progress("indexing", |progress| {
        build_index(&dataset, cache, progress)
    })??;
    for warning in &index.warnings {
        eprintln!("eyeball: warning: {warning}");
    }
    let index_s = started.elapsed().as_secs_f64();
    let models = crate::model::ModelStore::new(crate::model::default_device());
    let (report, _) = with_progress("scanning", |progress| {
        crate::pipelines::embed_and_scan(
            &dataset,
            &index,
            &settings,
            model.as_ref().map(|m| (m, &models)),
            None,
            progress,
        )
    })??;
    let scan_s = started.elapsed().as_secs_f64() - index_s;
    for warning in &report.warnings {
        eprintln!("eyeball: warning: {warning}");
    }
    for note in &report.notes {
        eprintln!("eyeball: note: {note}");
    }
    write_report(&report, &dataset, out)?;
    eprint!("{}", counts_text(&report));
    eprint!("{}", crate::scan::leakage_text(&report, &dataset));
    eprintln!(
        "scanned {} images (index {index_s:.1} s, scan {scan_s:.1} s); wrote {} rows to {}",
        dataset.examples.len(),
        report.findings.len(),
        out.display()
    );
    let failing: Vec<&str> = fail_kinds
        .iter()
        .filter(|&&kind| report.findings.iter().any(|f| f.kind == kind))
        .map(|kind| kind.name())
        .collect();
    if !failing.is_empty() {
        eprintln!(
            "eyeball: found issues named in --fail-on: {}",
            failing.join(", ")
        );
    }
    Ok(!failing.is_empty())
}

/// One TorchScript checkpoint file and its preprocessing (`preprocess`, else the sidecar beside it).
fn runnable_checkpoint(
    checkpoint: &Path,
    preprocess: Option<&Path>,
) -> anyhow::Result<(crate::model::CheckpointFile, crate::model::Preprocess)> {
    anyhow::ensure!(
        checkpoint.is_file(),
        "{}: not a checkpoint file",
        checkpoint.display()
    );
    let preprocess = crate::model::Preprocess::for_checkpoints(checkpoint, preprocess)?;
    let file = crate::model::classify_checkpoints(&[checkpoint.to_path_buf()])?
        .into_iter()
        .find(|f| f.is_runnable())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: not a TorchScript checkpoint eyeball can run",
                checkpoint.display()
            )
        })?;
    Ok((file, preprocess))
}

/// Runs `work` on a scoped thread, showing its progress on stderr: a bar on a terminal, else a
/// plain line every few seconds (logs, CI) with stage, done/total, rate and ETA.
fn with_progress<T: Send>(
    what: &str,
    work: impl FnOnce(&Progress) -> T + Send,
) -> anyhow::Result<T> {
    let progress = Progress::default();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| work(&progress));
        let live = std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg}: {wide_bar} {pos}/{len}  {per_sec}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let every = non_tty_progress_every();
        // Checked before the first sleep, so `EYEBALL_PROGRESS_EVERY_S=0` prints a line at once.
        let mut shown = Instant::now();
        while !worker.is_finished() {
            let (done, total) = progress.fraction_parts();
            if let Some(bar) = &bar {
                // A new stage counts from zero: restart the bar's rate estimate.
                if (done as u64) < bar.position() {
                    bar.reset();
                }
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(progress.titled(what));
            } else if shown.elapsed() >= every {
                let counting = progress
                    .counting_s()
                    .unwrap_or_else(|| started.elapsed().as_secs_f64());
                eprintln!(
                    "{}: {}",
                    progress.titled(what),
                    progress_line(done, total, Duration::from_secs_f64(counting))
                );
                shown = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let stages = progress.stage_seconds();
        if stages.len() > 1 {
            let times: Vec<String> = stages
                .iter()
                .map(|(name, s)| format!("{name} {s:.1} s"))
                .collect();
            eprintln!("{what}: {}", times.join(", "));
        }
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("the {what} thread panicked"))
    })
}

/// How often progress is printed when stderr is not a terminal: `EYEBALL_PROGRESS_EVERY_S`
/// seconds when set, else 5.
fn non_tty_progress_every() -> Duration {
    std::env::var("EYEBALL_PROGRESS_EVERY_S")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64)
}

/// Runs `eyeball bench duplicates`.
pub fn run_bench_duplicates(
    path: &Path,
    key: &Path,
    mirror: bool,
    pairs_out: Option<&Path>,
    key_out: Option<&Path>,
    max_distance: u32,
) -> anyhow::Result<()> {
    let max_distance = checked_max_distance(max_distance)?;
    for out in pairs_out.iter().chain(&key_out) {
        crate::index::TableFormat::for_path(out)?;
    }
    let dataset = open_dataset(path)?;
    let key = crate::bench::read_key(key)?;
    let settings = crate::scan::ScanSettings {
        near_duplicate_mirror: mirror,
        near_duplicate_max_distance: max_distance,
        ..Default::default()
    };
    let (bench, report) = crate::bench::bench_duplicates(&dataset, &key, &settings)?;
    print!("{}", bench.to_text());
    if let Some(out) = pairs_out {
        write_table(&mut crate::bench::pairs_table(&report, &dataset), out)?;
        println!(
            "wrote {} pairs to {}",
            report.near_pairs.len(),
            out.display()
        );
    }
    if let Some(out) = key_out {
        write_table(&mut crate::bench::key_table(&key, &bench), out)?;
        println!("wrote the key's comparisons to {}", out.display());
    }
    Ok(())
}

/// A `--max-distance` (Hamming radius) that a 64-bit hash allows.
fn checked_max_distance(d: u32) -> anyhow::Result<u32> {
    anyhow::ensure!(
        d < 64,
        "--max-distance must be below 64 (bits of a 64-bit hash)"
    );
    Ok(d)
}

/// Runs `eyeball bench near-duplicates`.
pub fn run_bench_near_duplicates(n: usize, max_distance: u32) -> anyhow::Result<()> {
    let max_distance = checked_max_distance(max_distance)?;
    print!(
        "{}",
        crate::bench::bench_near_duplicates(n, max_distance).to_text()
    );
    Ok(())
}

/// Runs `eyeball label-issues`: scores the dataset with the checkpoint (cached by checkpoint hash)
/// or imports probabilities, ranks, writes the table. Rows that did not match go to stderr.
/// Where `eyeball label-issues` gets its scores from.
pub enum LabelIssuesSource<'a> {
    Checkpoint(&'a Path),
    Probs(&'a Path),
    /// Per-epoch checkpoints or predictions, and the split to rank.
    Dynamics(DynamicsSource<'a>, Option<&'a str>),
}

/// Where training dynamics come from.
#[derive(Clone, Copy)]
pub enum DynamicsSource<'a> {
    /// A folder (or files) of TorchScript checkpoints, run by eyeball.
    Checkpoints(&'a Path),
    /// A folder of per-epoch prediction files made by any framework.
    Predictions(&'a Path),
}

/// Runs `eyeball dynamics`.
pub fn run_dynamics(
    path: &Path,
    source: DynamicsSource<'_>,
    split: Option<&str>,
    out: &Path,
    preprocess: Option<&Path>,
) -> anyhow::Result<()> {
    use crate::model::dynamics::dynamics_table;
    crate::index::TableFormat::for_path(out)?;
    let started = Instant::now();
    let (dataset, dynamics) = load_dynamics(path, source, split, preprocess)?;
    let order: Vec<usize> = (0..dynamics.examples.len()).collect();
    let mut table = dynamics_table(&dynamics, &order, &dataset);
    write_table(&mut table, out)?;
    eprintln!(
        "{} examples over {} checkpoints in {:.1} s; wrote {}",
        dynamics.examples.len(),
        dynamics.checkpoints.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// Opens the dataset and gets its dynamics: every checkpoint run over it (with progress), or
/// the prediction files read (their problems on stderr).
fn load_dynamics(
    path: &Path,
    source: DynamicsSource<'_>,
    split: Option<&str>,
    preprocess: Option<&Path>,
) -> anyhow::Result<(Dataset, crate::model::dynamics::Dynamics)> {
    let dataset = open_dataset(path)?;
    let dynamics = dynamics_of(&dataset, source, split, preprocess)?;
    Ok((dataset, dynamics))
}

/// The dynamics of an open dataset: every checkpoint run over it (with progress), or the
/// prediction files read (their problems on stderr).
fn dynamics_of(
    dataset: &Dataset,
    source: DynamicsSource<'_>,
    split: Option<&str>,
    preprocess: Option<&Path>,
) -> anyhow::Result<crate::model::dynamics::Dynamics> {
    let checkpoints = match source {
        DynamicsSource::Checkpoints(dir) => dir,
        DynamicsSource::Predictions(dir) => {
            let (dynamics, problems) =
                crate::model::dynamics::dynamics_of_predictions(dataset, dir, split)?;
            for problem in &problems {
                eprintln!("eyeball: {problem}");
            }
            return Ok(dynamics);
        }
    };
    let preprocess = crate::model::Preprocess::for_checkpoints(checkpoints, preprocess)?;
    let cache_dir = crate::model::predict::default_predictions_cache_dir();
    let models = crate::model::ModelStore::new(crate::model::default_device());
    let dynamics = with_progress("running checkpoints", |progress| {
        crate::model::dynamics::dynamics_of_checkpoints(
            dataset,
            checkpoints,
            &preprocess,
            split,
            cache_dir.as_deref(),
            &models,
            progress,
        )
    })??;
    Ok(dynamics)
}

/// Runs `eyeball label-issues`.
pub fn run_label_issues(
    path: &Path,
    source: LabelIssuesSource<'_>,
    method: Option<&str>,
    out: &Path,
    preprocess: Option<&Path>,
) -> anyhow::Result<()> {
    use crate::model::label_issues::{RankMethod, import_probs, rank, ranked_table};
    use crate::model::predict::default_predictions_cache_dir;

    crate::index::TableFormat::for_path(out)?;
    if let LabelIssuesSource::Dynamics(dynamics, split) = source {
        return run_dynamics_label_issues(path, dynamics, split, method, out, preprocess);
    }
    let (checkpoint, probs) = match source {
        LabelIssuesSource::Checkpoint(file) => (Some(file), None),
        LabelIssuesSource::Probs(file) => (None, Some(file)),
        LabelIssuesSource::Dynamics(..) => (None, None),
    };
    let method = method.unwrap_or("loss");
    let method = RankMethod::from_name(method).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown method {method:?}; use loss, margin or cl (aum, confidence and forgetting need --checkpoints DIR)"
        )
    })?;
    let dataset = open_dataset(path)?;
    let started = Instant::now();
    let scores = match (checkpoint, probs) {
        (_, Some(probs)) => {
            let (scores, problems) = import_probs(&dataset, probs)?;
            for problem in &problems {
                eprintln!("eyeball: {problem}");
            }
            scores
        }
        (Some(checkpoint), None) => {
            let (file, preprocess) = runnable_checkpoint(checkpoint, preprocess)?;
            let cache_dir = default_predictions_cache_dir();
            let models = crate::model::ModelStore::new(crate::model::default_device());
            with_progress("scoring", |progress| {
                crate::pipelines::score_with_checkpoint(
                    &dataset,
                    &file,
                    &preprocess,
                    cache_dir.as_deref(),
                    &models,
                    progress,
                )
            })??
        }
        (None, None) => anyhow::bail!("give --checkpoint FILE, --checkpoints DIR or --probs FILE"),
    };
    if let Some(note) = scores.left_out_note() {
        eprintln!("eyeball: {note}");
    }
    anyhow::ensure!(!scores.is_empty(), "no example could be scored");
    let ranked = rank(&scores, method);
    let mut table = ranked_table(&ranked, &dataset);
    write_table(&mut table, out)?;
    eprintln!(
        "ranked {} of {} scored examples by {} in {:.1} s; wrote {}",
        ranked.len(),
        scores.len(),
        method.name(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// `eyeball label-issues --checkpoints DIR | --predictions DIR`: ranked by training dynamics,
/// every dynamics column beside the usual ones.
fn run_dynamics_label_issues(
    path: &Path,
    source: DynamicsSource<'_>,
    split: Option<&str>,
    method: Option<&str>,
    out: &Path,
    preprocess: Option<&Path>,
) -> anyhow::Result<()> {
    use crate::model::dynamics::{DynamicsRank, ranked_dynamics_table};
    let method = method.unwrap_or("aum");
    let method = DynamicsRank::from_name(method).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown method {method:?} with --checkpoints or --predictions; use aum, confidence or forgetting"
        )
    })?;
    let started = Instant::now();
    let (dataset, dynamics) = load_dynamics(path, source, split, preprocess)?;
    let mut table = ranked_dynamics_table(&dynamics, method, &dataset)?;
    write_table(&mut table, out)?;
    eprintln!(
        "ranked {} examples by {} over {} checkpoints in {:.1} s; wrote {}",
        dynamics.examples.len(),
        method.name(),
        dynamics.checkpoints.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}
