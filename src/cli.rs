//! The command line: `eyeball [PATH]` opens the GUI; subcommands run headless for scripts.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::dataset::{ClassCount, Dataset, Layout};

/// Look at your data and your checkpoints.
#[derive(Debug, Parser)]
#[command(name = "eyeball", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Dataset folder to open in the GUI (default: the bundled demo).
    pub path: Option<PathBuf>,
    /// Folder of checkpoints to load (default: the demo's, when opening the demo).
    #[arg(long, value_name = "DIR")]
    pub checkpoints: Option<PathBuf>,
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
            splits: dataset.split_counts().into_iter().map(|(name, count)| SplitCount { name, count }).collect(),
            classes: dataset.class_counts(),
            imbalance_ratio: dataset.imbalance_ratio(),
        }
    }

    /// A plain-text table for terminals.
    pub fn to_text(&self) -> String {
        let mut out = format!("dataset:  {}\nlayout:   {}\nexamples: {}\n", self.root, self.layout_pattern, self.examples);
        if !self.splits.is_empty() {
            let splits: Vec<String> = self.splits.iter().map(|s| format!("{} {}", s.name, s.count)).collect();
            out += &format!("splits:   {}\n", splits.join(", "));
        }
        if let Some(ratio) = self.imbalance_ratio {
            out += &format!("imbalance (largest/smallest class): {ratio:.2}\n");
        }
        out += &format!("classes:  {}\n", self.classes.len());
        let name_width = self.classes.iter().map(|c| c.name.len()).max().unwrap_or(5).max(5);
        let mut header = format!("  {:<name_width$}", "class");
        for split in &self.splits {
            header += &format!(" {:>8}", split.name);
        }
        header += &format!(" {:>8}\n", "total");
        out += &header;
        for class in &self.classes {
            let mut row = format!("  {:<name_width$}", class.name);
            for count in &class.by_split {
                row += &format!(" {count:>8}");
            }
            row += &format!(" {:>8}\n", class.count);
            out += &row;
        }
        out
    }
}

/// Runs `eyeball info`.
pub fn run_info(path: &Path, json: bool) -> anyhow::Result<()> {
    let dataset = Dataset::open(path)?;
    let report = InfoReport::new(&dataset);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
