//! Finds the examples of a dataset folder: its layout, splits, classes and image files.
//! Knows nothing of pixels (see `index`) or of the UI.

mod coco;
mod imagefolder;
mod table;
#[cfg(test)]
mod testing;
mod yolo;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

pub(crate) use table::ragged_rows;

/// A relative path as text with `/` separators, the same on every platform (table and cache key).
pub fn relative_path_text(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// `path` (relative to `root`, or absolute) as a clean path relative to `root`, `.` and `..`
/// resolved by name; `None` when it leads out of `root` (`../../etc/passwd`, `/etc/hostname`).
/// Links inside the dataset are the user's to make and are not resolved.
pub(crate) fn within_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let relative = if path.is_absolute() {
        match path.strip_prefix(root) {
            Ok(rest) => rest.to_path_buf(),
            // ROOT given as a relative path or through a link.
            Err(_) => path
                .strip_prefix(std::fs::canonicalize(root).ok()?)
                .ok()?
                .to_path_buf(),
        }
    } else {
        path.to_path_buf()
    };
    let mut clean = PathBuf::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!clean.as_os_str().is_empty()).then_some(clean)
}

/// File extensions eyeball treats as images (lower case).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"];

/// Folder names recognised as splits, in display order.
pub const SPLIT_NAMES: &[&str] = &["train", "val", "valid", "validation", "test"];

/// Most warnings kept per dataset; the rest are summed up in one last line.
pub const MAX_WARNINGS: usize = 50;

/// How the examples are laid out on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// COCO detection JSON in ROOT, ROOT/annotations/ or ROOT/<split>/; one split per file.
    Coco,
    /// YOLO: `ROOT/images/**` with `ROOT/labels/**/*.txt` (`class cx cy w h` per line), or per split.
    Yolo,
    /// Flat images plus a CSV or Parquet table in ROOT: one row per image with its label.
    LabelsTable,
    /// `ROOT/<class>/*`
    ImageFolder,
    /// `ROOT/<split>/<class>/*`
    ImageFolderSplits,
}

impl Layout {
    /// Every layout eyeball looks for, in the order it tries them; listed when none matches.
    pub const ALL: &[Layout] = &[
        Layout::Coco,
        Layout::Yolo,
        Layout::LabelsTable,
        Layout::ImageFolderSplits,
        Layout::ImageFolder,
    ];

    /// A short name for the UI.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Coco => "COCO",
            Layout::Yolo => "YOLO",
            Layout::LabelsTable => "Labels table",
            Layout::ImageFolder => "ImageFolder",
            Layout::ImageFolderSplits => "ImageFolder with splits",
        }
    }

    /// The pattern of paths this layout expects.
    pub fn pattern(self) -> &'static str {
        match self {
            Layout::Coco => {
                "COCO: ROOT/[annotations/ or <split>/]<name>.json with images, annotations and categories; \
                 images in ROOT, ROOT/images/ or beside the file"
            }
            Layout::Yolo => {
                "YOLO: ROOT/images/[<split>/]<image> with ROOT/labels/[<split>/]<image>.txt, or \
                 ROOT/<split>/images/ with ROOT/<split>/labels/ (class cx cy w h per line; names from data.yaml or classes.txt)"
            }
            Layout::LabelsTable => {
                "Labels table: ROOT/<name>.csv or .parquet with an image column (file, filename, path, image, image_id) \
                 and a label column (label, class, category, target)"
            }
            Layout::ImageFolder => "ImageFolder: ROOT/<class>/<image>",
            Layout::ImageFolderSplits => {
                "ImageFolder with splits: ROOT/<split>/<class>/<image> (split: train, val, valid, validation, test)"
            }
        }
    }
}

/// One image with its given label and, for detection data, its boxes.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// Path relative to the dataset root.
    pub path: PathBuf,
    /// Index into `Dataset::splits`, if the layout has splits.
    pub split: Option<usize>,
    /// Index into `Dataset::classes`; `None` for detection data and unlabelled rows.
    pub label: Option<usize>,
    /// Boxes (detection layouts); empty for classification.
    pub annotations: Vec<BoxAnnotation>,
    /// Values of `Dataset::extra_columns` (numeric columns of a labels table); NaN when missing.
    pub extra: Vec<f64>,
}

/// One bounding box, in coordinates normalised to the image (0..1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxAnnotation {
    /// Index into `Dataset::classes`.
    pub class: usize,
    /// `[x_min, y_min, x_max, y_max]`, each in 0..1 of the image's width or height.
    pub bbox: [f32; 4],
}

impl BoxAnnotation {
    /// Area as a fraction of the image area.
    pub fn relative_area(&self) -> f32 {
        ((self.bbox[2] - self.bbox[0]).max(0.0)) * ((self.bbox[3] - self.bbox[1]).max(0.0))
    }
}

impl Example {
    /// A classification example.
    pub fn labelled(path: PathBuf, split: Option<usize>, label: usize) -> Example {
        Example {
            path,
            split,
            label: Some(label),
            annotations: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// The classes this example carries: its label, or the distinct classes of its boxes.
    pub fn classes(&self) -> Vec<usize> {
        let mut classes: Vec<usize> = self
            .label
            .into_iter()
            .chain(self.annotations.iter().map(|a| a.class))
            .collect();
        classes.sort_unstable();
        classes.dedup();
        classes
    }
}

/// A discovered dataset: where it is, how it is laid out, and its examples in a stable order.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    pub layout: Layout,
    /// Class names. ImageFolder and labels tables: sorted naturally ("2" before "10");
    /// COCO: by category id; YOLO: by class id.
    pub classes: Vec<String>,
    /// Split names in `SPLIT_NAMES` order; empty when the layout has none.
    pub splits: Vec<String>,
    /// Examples ordered by split, then (ImageFolder) class, then path (natural order).
    pub examples: Vec<Example>,
    /// Names of extra numeric columns (from a labels table), aligned with `Example::extra`.
    pub extra_columns: Vec<String>,
    /// Problems found while reading labels (bad rows, missing files), each naming file and row.
    /// The dataset still opens; these are shown to the user.
    pub warnings: Vec<String>,
}

/// Why a folder could not be opened as a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: no such folder")]
    NotFound { path: PathBuf },
    #[error("{path}: not a folder (open the folder that holds the images)")]
    NotADirectory { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no dataset layout found. Looked for:\n{}", looked_for.iter().map(|l| format!("  - {}", l.pattern())).collect::<Vec<_>>().join("\n"))]
    NoLayout {
        path: PathBuf,
        looked_for: Vec<Layout>,
    },
    /// A labels table that polars could not read.
    #[error("{path}: cannot read table: {message}")]
    Table { path: PathBuf, message: String },
    /// The only table in the folder has no column eyeball recognises as the image path.
    #[error("{path}: no image column. Columns: {}. Looked for (any case): {}", columns.join(", "), looked_for.join(", "))]
    NoImageColumn {
        path: PathBuf,
        columns: Vec<String>,
        looked_for: Vec<&'static str>,
    },
    /// A JSON file that does not parse, or a COCO file whose fields have the wrong types.
    #[error("{path}, line {line}, column {column}: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl DatasetError {
    fn json(path: &Path, err: &serde_json::Error) -> DatasetError {
        // serde's message ends with the position, which the variant already shows.
        let full = err.to_string();
        let position = format!(" at line {} column {}", err.line(), err.column());
        let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
        DatasetError::Json {
            path: path.to_path_buf(),
            line: err.line(),
            column: err.column(),
            message,
        }
    }
}

/// Per-class example counts, overall and per split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassCount {
    pub name: String,
    pub count: usize,
    /// Count in each split, in `Dataset::splits` order; empty without splits.
    pub by_split: Vec<usize>,
}

impl Dataset {
    /// Opens `root`, detecting its layout.
    pub fn open(root: &Path) -> Result<Dataset, DatasetError> {
        if !root.exists() {
            return Err(DatasetError::NotFound {
                path: root.to_path_buf(),
            });
        }
        if !root.is_dir() {
            return Err(DatasetError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        if let Some(dataset) = coco::discover(root)? {
            return Ok(dataset);
        }
        if let Some(dataset) = yolo::discover(root)? {
            return Ok(dataset);
        }
        // A table wins over ImageFolder only when it labels the images: a stray table
        // (metadata without labels, an unreadable file) must not hide class folders.
        let table = match table::discover(root) {
            Ok(Some(dataset)) if !dataset.classes.is_empty() => return Ok(dataset),
            other => other,
        };
        if let Some(mut dataset) = imagefolder::discover(root)? {
            if let Err(err) = table {
                dataset
                    .warnings
                    .push(format!("labels table ignored: {err}"));
            }
            return Ok(dataset);
        }
        match table {
            Ok(Some(dataset)) => Ok(dataset),
            Ok(None) => Err(DatasetError::NoLayout {
                path: root.to_path_buf(),
                looked_for: Layout::ALL.to_vec(),
            }),
            Err(err) => Err(err),
        }
    }

    /// Absolute path of an example's file.
    pub fn absolute_path(&self, example: &Example) -> PathBuf {
        self.root.join(&example.path)
    }

    /// Per-class counts in class order: examples that carry each class (see `Example::classes`).
    pub fn class_counts(&self) -> Vec<ClassCount> {
        let mut counts: Vec<ClassCount> = self
            .classes
            .iter()
            .map(|name| ClassCount {
                name: name.clone(),
                count: 0,
                by_split: vec![0; self.splits.len()],
            })
            .collect();
        for example in &self.examples {
            for class in example.classes() {
                let entry = &mut counts[class];
                entry.count += 1;
                if let Some(split) = example.split {
                    entry.by_split[split] += 1;
                }
            }
        }
        counts
    }

    /// Number of examples in each split, in split order.
    pub fn split_counts(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for example in &self.examples {
            if let Some(split) = example.split {
                *counts.entry(split).or_default() += 1;
            }
        }
        self.splits
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), counts.get(&i).copied().unwrap_or(0)))
            .collect()
    }

    /// Largest class count over the smallest non-empty one; 1.0 when balanced.
    pub fn imbalance_ratio(&self) -> Option<f64> {
        let counts: Vec<usize> = self
            .class_counts()
            .iter()
            .map(|c| c.count)
            .filter(|&c| c > 0)
            .collect();
        let max = *counts.iter().max()?;
        let min = *counts.iter().min()?;
        Some(max as f64 / min as f64)
    }

    /// Text for an example's label(s): the class name, or the classes of its boxes joined.
    pub fn label_text(&self, example: &Example) -> String {
        let names: Vec<&str> = example
            .classes()
            .into_iter()
            .map(|c| self.classes[c].as_str())
            .collect();
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    }

    /// A short name for window titles: the root folder's name.
    pub fn display_name(&self) -> String {
        self.root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.root.display().to_string())
    }
}

/// Keeps the first `MAX_WARNINGS` warnings and says how many more there were, so that a
/// broken table of a million rows does not flood the UI.
fn cap_warnings(mut warnings: Vec<String>) -> Vec<String> {
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - MAX_WARNINGS;
        warnings.truncate(MAX_WARNINGS);
        warnings.push(format!("... and {more} more"));
    }
    warnings
}

/// Where a split name goes in display order: `SPLIT_NAMES` order, unknown names after.
fn split_rank(name: &str) -> usize {
    SPLIT_NAMES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(name))
        .unwrap_or(SPLIT_NAMES.len())
}

/// Sorts split names into display order (known names first, the rest naturally).
fn sort_splits(splits: &mut [String]) {
    splits.sort_by(|a, b| {
        split_rank(a)
            .cmp(&split_rank(b))
            .then_with(|| natural_cmp(a, b))
    });
}

/// Stable order for layouts without class folders: by split (none last), then path naturally.
fn sort_examples(examples: &mut [Example]) {
    examples.sort_by_cached_key(|e| (e.split.unwrap_or(usize::MAX), NaturalKey::of_path(&e.path)));
}

/// True when `path` has an image extension.
pub fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Natural ordering: digit runs compare by value, so "img2" < "img10" and "epoch_9" < "epoch_10".
/// Case is ignored except to break ties.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    natord::compare_ignore_case(a, b).then_with(|| a.cmp(b))
}

/// A text in `natural_cmp` order, lower-cased once: sorting a million paths compares each about
/// twenty times, and decoding and lower-casing them at every comparison was most of the sort.
#[derive(PartialEq, Eq)]
pub struct NaturalKey {
    folded: String,
    text: String,
    /// `folded` is ASCII without whitespace (which `natord` skips).
    plain: bool,
}

impl NaturalKey {
    pub fn of(text: String) -> NaturalKey {
        // As `natord::compare_ignore_case` folds, character by character.
        let folded: String = text.chars().flat_map(char::to_lowercase).collect();
        let plain = folded
            .bytes()
            .all(|b| b.is_ascii() && !char::from(b).is_whitespace());
        NaturalKey {
            folded,
            text,
            plain,
        }
    }

    /// Whether the natural order of the two is their byte order: plain texts of one length with
    /// digits at the same places (file names numbered alike). Digit runs then line up and are as
    /// long, so `natord` decides at their first differing byte, as byte order does.
    fn in_byte_order(&self, other: &NaturalKey) -> bool {
        self.plain
            && other.plain
            && self.folded.len() == other.folded.len()
            && self
                .folded
                .bytes()
                .zip(other.folded.bytes())
                .all(|(a, b)| a.is_ascii_digit() == b.is_ascii_digit())
    }

    pub fn of_path(path: &Path) -> NaturalKey {
        NaturalKey::of(path.to_string_lossy().into_owned())
    }
}

impl Ord for NaturalKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let folded = if self.in_byte_order(other) {
            self.folded.as_bytes().cmp(other.folded.as_bytes())
        } else {
            natord::compare(&self.folded, &other.folded)
        };
        folded.then_with(|| self.text.cmp(&other.text))
    }
}

impl PartialOrd for NaturalKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut names = vec![
            "epoch_10.pt",
            "epoch_2.pt",
            "epoch_01.pt",
            "Epoch_3.pt",
            "a",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "a",
                "epoch_01.pt",
                "epoch_2.pt",
                "Epoch_3.pt",
                "epoch_10.pt"
            ]
        );
    }

    #[test]
    fn natural_keys_order_exactly_like_natural_cmp() {
        let names = [
            "img10.png",
            "img2.png",
            "IMG2.png",
            "img02.png",
            "Ärger 3",
            "ärger 10",
            "a b",
            "ab",
            "x_9/7.jpg",
            "x_10/1.jpg",
            "Σ1",
            "σ1",
            "",
            "0",
            "00",
            "c00/0000100.jpg",
            "c00/0000099.jpg",
            "C00/0001000.jpg",
            "c01/0000000.jpg",
            "c00/1000000.jpg",
            "c00/0900000.jpg",
            "c00/9000000.jpg",
            "c00/12a.jpg",
            "c00/21a.jpg",
            "c00/012.jpg",
            "c00/ab1.jpg",
            "c00/a 1.jpg",
            "c00/a\u{b}1.jpg",
            "c00/a\t1.jpg",
            "x10y",
            "x09y",
            "x9y0",
        ];
        for a in names {
            for b in names {
                assert_eq!(
                    NaturalKey::of(a.to_string()).cmp(&NaturalKey::of(b.to_string())),
                    natural_cmp(a, b),
                    "{a:?} vs {b:?}"
                );
            }
        }
        // Random texts of few letters, most pairs of one length and shape.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let alphabet: Vec<char> = "0019aB/. \u{e9}".chars().collect();
        let shapes = ["dddd", "adda", "d/dd", "aaaa", "dd.d"];
        let random = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
            if rng.random_bool(0.8) {
                // A shape shared by many: digits where it says d.
                let shape = shapes[rng.random_range(0..shapes.len())];
                shape
                    .chars()
                    .map(|c| match c {
                        'd' => char::from(b'0' + rng.random_range(0..10u8)),
                        'a' => ['a', 'B', 'x'][rng.random_range(0..3)],
                        other => other,
                    })
                    .collect()
            } else {
                let len = rng.random_range(0..6);
                (0..len)
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect()
            }
        };
        for _ in 0..20_000 {
            let (a, b) = (random(&mut rng), random(&mut rng));
            assert_eq!(
                NaturalKey::of(a.clone()).cmp(&NaturalKey::of(b.clone())),
                natural_cmp(&a, &b),
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn warnings_are_capped_with_a_count_of_the_rest() {
        let warnings: Vec<String> = (0..MAX_WARNINGS + 7).map(|i| i.to_string()).collect();
        let capped = cap_warnings(warnings);
        assert_eq!(capped.len(), MAX_WARNINGS + 1);
        assert_eq!(capped.last().map(String::as_str), Some("... and 7 more"));
        assert_eq!(cap_warnings(vec!["a".into()]), vec!["a".to_string()]);
    }

    #[test]
    fn splits_sort_known_names_first() {
        let mut splits = vec![
            "holdout".to_string(),
            "test".into(),
            "train".into(),
            "extra2".into(),
            "val".into(),
        ];
        sort_splits(&mut splits);
        assert_eq!(splits, vec!["train", "val", "test", "extra2", "holdout"]);
    }

    #[test]
    fn paths_leading_out_of_the_root_are_not_within_it() {
        let root = Path::new("/data/set");
        let within = |p: &str| within_root(root, Path::new(p)).map(|p| relative_path_text(&p));
        assert_eq!(within("a/./b/../c.png").as_deref(), Some("a/c.png"));
        assert_eq!(within("/data/set/img/x.png").as_deref(), Some("img/x.png"));
        assert_eq!(within("../../etc/passwd"), None);
        assert_eq!(within("a/../../set/x.png"), None);
        assert_eq!(within("/etc/hostname"), None);
        assert_eq!(within("/data/settings/x.png"), None);
        assert_eq!(within("."), None);
    }

    #[test]
    fn image_extensions_are_case_insensitive() {
        assert!(is_image_path(Path::new("a/b.JPG")));
        assert!(is_image_path(Path::new("x.tiff")));
        assert!(!is_image_path(Path::new("labels.csv")));
        assert!(!is_image_path(Path::new("noext")));
    }
}
