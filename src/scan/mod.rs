//! Finds what to look at before training: exact and near duplicates (with label conflicts and
//! train/test leakage), outliers, and image-quality problems. Reads an `Index`; knows nothing of the UI.

mod duplicates;
mod embedding;
pub mod hamming;
mod outliers;
mod quality;
pub mod signature;
pub mod signature_cache;
#[cfg(test)]
mod tests;
mod thumbnails;
pub mod verify;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::prelude::*;
use rayon::prelude::*;

use crate::dataset::relative_path_text;
use crate::dataset::{BoxAnnotation, Dataset, Example};
use crate::index::{ImageRecord, Index};
use crate::jobs::Progress;

pub use duplicates::{Measure, NearPair};
pub use embedding::Embedding;
use signature::Signature;
use signature_cache::ThumbnailFile;
use thumbnails::Thumbnails;

/// Thresholds of every check. The defaults were tuned on CIFAR-10 (60,000 photos at 32×32) so
/// that what is flagged is worth a look, not a fixed share of the dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanSettings {
    /// Hamming radius (of 64 bits) within which two images' hashes make them near-duplicate
    /// *candidates*. Two kinds of hash are searched: the index's DCT pHash, and random-hyperplane
    /// hashes of a gradient-orientation histogram. A larger radius finds more pairs (rescaled,
    /// cropped, recoloured) and costs more time. It changes only which pairs are compared, never
    /// the rule a pair must pass (`verify`).
    pub near_duplicate_max_distance: u32,
    /// Whether a mirrored copy counts as the same shot. Off by default: for a classifier trained
    /// with flips, a mirrored pair is one example twice; without, it may be two views.
    pub near_duplicate_mirror: bool,
    /// Largest near-duplicate group: pairs are joined most certain first, and a pair that would
    /// make a group larger stays a pair, so one chain of pictures cannot swallow thousands.
    pub near_duplicate_max_group: usize,
    /// Tukey fence factor for per-statistic outliers: a value beyond `Q1 − f·IQR` or `Q3 + f·IQR`
    /// is a `StatOutlier`. Also the fence for the kNN outlier score (above `Q3 + f·IQR`).
    pub outlier_iqr_factor: f64,
    /// Neighbours averaged for the kNN outlier score.
    pub knn_k: usize,
    /// At most this share of the dataset is reported as `Outlier` (the highest kNN scores beyond
    /// the fence).
    pub outlier_top_fraction: f64,
    /// Mean gray level (0..255) at or below which an image is `Dark`.
    pub dark_max_brightness: f32,
    /// Mean gray level at or above which an image is `Bright`.
    pub bright_min_brightness: f32,
    /// An image is `Blurry` when its detail (the standard deviation of its Laplacian over that of
    /// its gray levels, `sqrt(sharpness) / contrast` in the index's terms) is at most this fraction
    /// of the dataset's median detail. Dividing by contrast keeps dim, low-contrast photos from
    /// counting as blurry; comparing with the median adapts to the resolution (a sharp 1000-pixel
    /// photo has less detail per pixel than a sharp 32-pixel one).
    pub blurry_max_sharpness: f32,
    /// Gray-level entropy in bits (0..8) at or below which an image is `LowInformation`
    /// (constant, nearly constant, or a few flat colours).
    pub low_entropy_max: f32,
    /// An image's aspect ratio differing from the dataset's median aspect ratio by this factor or
    /// more (either way) is `OddAspect`.
    pub odd_aspect_max_ratio: f32,
    /// An image whose size (square root of its pixel count) differs from the dataset's median by
    /// this factor or more (either way) is `OddSize`.
    pub odd_size_factor: f32,
    /// With a model embedding (`scan_with`), two examples are also *compared* (by the same
    /// same-shot rule) when they are much closer to each other than to their other neighbours:
    /// the log of their distance over each one's distance to its 5th nearest neighbour lies at
    /// least this many median absolute deviations below that log-ratio's median over the dataset
    /// (see `embedding::candidate_pairs`). Adds what the hashes miss on recoloured images.
    pub embedding_min_deviations: f32,
    /// Memory the scan may use, in bytes (default 2 GiB). What the images' thumbnails and
    /// descriptors leave of it (estimated from their sizes, so the same folder always gets the
    /// same search) bounds the candidate pairs one hash table may propose; when that is fewer than
    /// usual, the report says so and the search is tightened instead of growing.
    pub memory_budget_bytes: u64,
}

/// The default `ScanSettings::memory_budget_bytes`: 2 GiB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: u64 = 2 << 30;

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            near_duplicate_max_distance: 10,
            near_duplicate_mirror: false,
            near_duplicate_max_group: 16,
            outlier_iqr_factor: 3.0,
            knn_k: 5,
            outlier_top_fraction: 0.002,
            dark_max_brightness: 20.0,
            bright_min_brightness: 240.0,
            blurry_max_sharpness: 0.33,
            low_entropy_max: 2.0,
            odd_aspect_max_ratio: 2.0,
            odd_size_factor: 3.0,
            embedding_min_deviations: 12.0,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
        }
    }
}

/// The kinds of problem a scan reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IssueKind {
    /// Same decoded pixels as another example (file bytes may differ).
    ExactDuplicate,
    /// The same picture as another example after a crop, rescale, recolour or re-encode.
    NearDuplicate,
    /// Identical to, or a close near duplicate of, an example with another label.
    LabelConflict,
    /// In a duplicate group that spans splits (e.g. train and test).
    SplitLeakage,
    /// Far from every other image (kNN distance of its small colour thumbnail).
    Outlier,
    /// A statistic (brightness, contrast, sharpness, entropy, bytes per pixel) far outside the
    /// dataset's range.
    StatOutlier,
    Dark,
    Bright,
    Blurry,
    /// Almost no information: constant or a few flat colours (low entropy).
    LowInformation,
    /// Aspect ratio far from the dataset's usual one.
    OddAspect,
    /// Size far from the dataset's usual one.
    OddSize,
    /// Equal channels in every pixel, stored as RGB.
    GrayscaleAsRgb,
    /// Unreadable: empty, truncated, not an image, or missing.
    Corrupt,
}

impl IssueKind {
    /// Every kind, in report order.
    pub const ALL: [IssueKind; 14] = [
        IssueKind::ExactDuplicate,
        IssueKind::NearDuplicate,
        IssueKind::LabelConflict,
        IssueKind::SplitLeakage,
        IssueKind::Outlier,
        IssueKind::StatOutlier,
        IssueKind::Dark,
        IssueKind::Bright,
        IssueKind::Blurry,
        IssueKind::LowInformation,
        IssueKind::OddAspect,
        IssueKind::OddSize,
        IssueKind::GrayscaleAsRgb,
        IssueKind::Corrupt,
    ];

    /// The snake_case name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            IssueKind::ExactDuplicate => "exact_duplicate",
            IssueKind::NearDuplicate => "near_duplicate",
            IssueKind::LabelConflict => "label_conflict",
            IssueKind::SplitLeakage => "split_leakage",
            IssueKind::Outlier => "outlier",
            IssueKind::StatOutlier => "stat_outlier",
            IssueKind::Dark => "dark",
            IssueKind::Bright => "bright",
            IssueKind::Blurry => "blurry",
            IssueKind::LowInformation => "low_information",
            IssueKind::OddAspect => "odd_aspect",
            IssueKind::OddSize => "odd_size",
            IssueKind::GrayscaleAsRgb => "grayscale_as_rgb",
            IssueKind::Corrupt => "corrupt",
        }
    }

    /// The kind called `name` (as written by `name`).
    pub fn from_name(name: &str) -> Option<IssueKind> {
        IssueKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One problem of one example. At most one finding per (example, kind).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Index into `Dataset::examples`.
    pub example: usize,
    pub kind: IssueKind,
    /// How strongly the example has this issue, comparable within one kind; higher is worse (or,
    /// for duplicates, more alike: 1.0 is identical). Ranked lists sort by it.
    pub score: f64,
    /// Index into `ScanReport::groups` (duplicates, label conflicts, leakage).
    pub group: Option<usize>,
    /// The other example of a pair: the closest duplicate, a member with another label or split.
    pub partner: Option<usize>,
    /// The measurement behind the finding, in words.
    pub detail: String,
}

/// Examples that are the same picture: exact copies and near duplicates, joined transitively.
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicateGroup {
    /// Position in `ScanReport::groups`.
    pub id: usize,
    /// Example indices, ascending.
    pub members: Vec<usize>,
    /// All members have identical pixels.
    pub exact: bool,
    /// Members carry different labels.
    pub labels_differ: bool,
    /// Members are in different splits.
    pub spans_splits: bool,
    /// Largest pHash Hamming distance over the pairs that joined the group (0 when exact).
    pub max_distance: u32,
    /// How certain the group is one picture, 0..=1: the weakest confidence over the pairs that
    /// joined it (1.0 when exact; see `verify::Comparison::confidence`).
    pub confidence: f32,
    /// Some pair of the group was proposed only by the model embedding.
    pub by_embedding: bool,
}

/// Everything a scan found.
#[derive(Clone, Debug)]
pub struct ScanReport {
    /// Sorted by kind (`IssueKind::ALL` order), then score (highest first), then example.
    pub findings: Vec<Finding>,
    pub groups: Vec<DuplicateGroup>,
    /// Train/test leakage per ordered pair of splits (see `Leakage`).
    pub leakage: Vec<Leakage>,
    /// Verified near-duplicate pairs (before grouping), most certain first.
    pub near_pairs: Vec<NearPair>,
    /// How the scan adapted to this dataset (quality thresholds that most of it passes), to be
    /// shown beside the results.
    pub notes: Vec<String>,
    pub settings: ScanSettings,
    /// Things the user should know about the scan itself (a search that hit its pair limit).
    pub warnings: Vec<String>,
    /// What made the model embedding used for near duplicates and outliers (a checkpoint's file
    /// name); `None` when the scan used image hashes and thumbnails only.
    pub embedding_source: Option<String>,
    /// Verified near-duplicate pairs that only the model embedding proposed (in `near_pairs`).
    pub embedding_pairs: usize,
}

/// The images of one split that have the same shot in another.
#[derive(Clone, Debug, PartialEq)]
pub struct Leakage {
    pub split: usize,
    pub other: usize,
    /// Most certain first.
    pub examples: Vec<LeakedExample>,
}

/// (example in the split, its same shot in the other, confidence).
pub type LeakedExample = (usize, usize, f64);

/// Train/test leakage per ordered pair of splits, from the `SplitLeakage` findings: the images of
/// one split with the same shot in another, most certain first. Pairs of splits without any are
/// left out.
fn leakage_of(findings: &[Finding], dataset: &Dataset) -> Vec<Leakage> {
    let mut by_splits: std::collections::BTreeMap<(usize, usize), Vec<LeakedExample>> =
        Default::default();
    for f in findings
        .iter()
        .filter(|f| f.kind == IssueKind::SplitLeakage)
    {
        let Some(partner) = f.partner else { continue };
        if let (Some(split), Some(other)) = (
            dataset.examples[f.example].split,
            dataset.examples[partner].split,
        ) {
            by_splits
                .entry((split, other))
                .or_default()
                .push((f.example, partner, f.score));
        }
    }
    by_splits
        .into_iter()
        .map(|((split, other), mut examples)| {
            examples.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)));
            Leakage {
                split,
                other,
                examples,
            }
        })
        .collect()
}

/// Lines for the terminal: per pair of splits, how many images leak, and the most certain few.
pub fn leakage_text(report: &ScanReport, dataset: &Dataset) -> String {
    let mut out = String::new();
    for leak in &report.leakage {
        out += &format!(
            "  leakage: {} images of {} have the same shot in {}\n",
            leak.examples.len(),
            dataset.splits[leak.split],
            dataset.splits[leak.other],
        );
        for &(example, partner, confidence) in leak.examples.iter().take(3) {
            out += &format!(
                "    {} = {} (confidence {confidence:.2})\n",
                relative_path_text(&dataset.examples[example].path),
                relative_path_text(&dataset.examples[partner].path)
            );
        }
    }
    out
}

/// Why a scan did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the scan was cancelled")]
    Cancelled,
    #[error(
        "the index has {records} records but the dataset has {examples} examples; rebuild the index"
    )]
    IndexMismatch { records: usize, examples: usize },
}

impl ScanReport {
    /// Number of findings of each kind, for every kind (zeros included), in `IssueKind::ALL` order.
    pub fn counts(&self) -> Vec<(IssueKind, usize)> {
        IssueKind::ALL
            .iter()
            .map(|&kind| {
                (
                    kind,
                    self.findings.iter().filter(|f| f.kind == kind).count(),
                )
            })
            .collect()
    }

    /// Examples with a finding of `kind`, most severe first.
    pub fn examples_with(&self, kind: IssueKind) -> Vec<usize> {
        self.findings
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.example)
            .collect()
    }

    /// One row per finding: `path` (relative to the dataset root), `issue` (snake_case), `score`,
    /// `group`, `partner` (the other example's path), `detail`.
    pub fn to_dataframe(&self, dataset: &Dataset) -> DataFrame {
        let path_of = |i: usize| relative_path_text(&dataset.examples[i].path);
        let paths: Vec<String> = self.findings.iter().map(|f| path_of(f.example)).collect();
        let issues: Vec<&str> = self.findings.iter().map(|f| f.kind.name()).collect();
        let scores: Vec<f64> = self.findings.iter().map(|f| f.score).collect();
        let groups: Vec<Option<u32>> = self
            .findings
            .iter()
            .map(|f| f.group.map(|g| g as u32))
            .collect();
        let partners: Vec<Option<String>> = self
            .findings
            .iter()
            .map(|f| f.partner.map(path_of))
            .collect();
        let details: Vec<&str> = self.findings.iter().map(|f| f.detail.as_str()).collect();
        DataFrame::new(
            self.findings.len(),
            vec![
                Column::new("path".into(), paths),
                Column::new("issue".into(), issues),
                Column::new("score".into(), scores),
                Column::new("group".into(), groups),
                Column::new("partner".into(), partners),
                Column::new("detail".into(), details),
            ],
        )
        .expect("columns of equal length")
    }
}

/// Candidates compared per image, the most alike first: enough for a copy among look-alikes and
/// for `Crowd` to see the look-alikes. With `hamming::CHECKS_PER_CODE` and
/// `hamming::PAIRS_PER_CODE`, it bounds the near-duplicate search per image.
const COMPARED_PER_IMAGE: usize = 8;

/// Scans `dataset`, whose `index` was built by `build_index`. Decodes every readable image once
/// more (into small thumbnails) on the rayon pool; advances `progress` once per example for that,
/// and once per example for the rest. Cancellable between images.
pub fn scan(
    dataset: &Dataset,
    index: &Index,
    settings: &ScanSettings,
    progress: &Progress,
) -> Result<ScanReport, ScanError> {
    scan_with(dataset, index, settings, None, progress)
}

/// `scan`, and with a model `embedding`: near duplicates are also searched by its cosine
/// similarity, and kNN outliers are measured in it instead of in colour thumbnails.
pub fn scan_with(
    dataset: &Dataset,
    index: &Index,
    settings: &ScanSettings,
    embedding: Option<&Embedding>,
    progress: &Progress,
) -> Result<ScanReport, ScanError> {
    let n = dataset.examples.len();
    if index.records.len() != n {
        return Err(ScanError::IndexMismatch {
            records: index.records.len(),
            examples: n,
        });
    }
    // A stage of its own: a model embedding may have advanced the same progress before. Steps:
    // n signatures, then the duplicate search's, then n for the rest.
    progress.start_stage((2 + duplicates::STEPS_PER_IMAGE) * n);
    progress.set_stage_name("reading thumbnails");
    let mut warnings = Vec::new();
    let (decoded, thumbnail_file) =
        signatures_of(dataset, index, settings, progress, &mut warnings);
    if progress.is_cancelled() {
        return Err(ScanError::Cancelled);
    }
    let (signatures, truncated): (Vec<Option<Signature>>, Vec<Option<String>>) =
        decoded.into_iter().unzip();
    let thumbnails = Thumbnails::new(&signatures, thumbnail_file.as_ref());
    crate::memory::return_freed();
    // Usable for statistics: decoded in full.
    let usable: Vec<bool> = index
        .records
        .iter()
        .zip(&truncated)
        .map(|(r, t)| r.is_readable() && t.is_none())
        .collect();

    let model = embedding.map(|e| (e, embedding::Neighbourhood::of(e, settings.knn_k)));
    let duplicates = duplicates::find(
        dataset,
        index,
        &thumbnails,
        model.as_ref().map(|(e, n)| (*e, n)),
        settings,
        progress,
        &mut warnings,
    );
    if progress.is_cancelled() {
        return Err(ScanError::Cancelled);
    }
    if let (Some(file), unreadable @ 1..) = (&index.signature_cache, thumbnails.unreadable()) {
        warnings.push(format!(
            "{}: {unreadable} thumbnail(s) could not be read back; their images were searched as \
             black pictures, for near duplicates and outliers alike",
            file.display()
        ));
    }
    crate::memory::return_freed();
    progress.set_stage_name("outliers and quality");
    let mut findings = duplicates.findings;
    findings.extend(match &model {
        Some((embedding, neighbourhood)) => outliers::knn_outliers_in(
            &embedding.examples,
            &neighbourhood.nearest,
            settings,
            &format!("{} embedding", embedding.source),
        ),
        None => outliers::knn_outliers(&thumbnails, settings, &|| progress.is_cancelled()),
    });
    if progress.is_cancelled() {
        return Err(ScanError::Cancelled);
    }
    findings.extend(outliers::stat_outliers(index, &usable, settings));
    let mut notes = Vec::new();
    findings.extend(quality::flags(index, &truncated, settings, &mut notes));
    progress.advance(n);

    findings.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(b.score.total_cmp(&a.score))
            .then(a.example.cmp(&b.example))
    });
    Ok(ScanReport {
        leakage: leakage_of(&findings, dataset),
        findings,
        groups: duplicates.groups,
        near_pairs: duplicates.near_pairs,
        notes,
        settings: settings.clone(),
        warnings,
        embedding_source: embedding.map(|e| e.source.clone()),
        embedding_pairs: duplicates.embedding_pairs,
    })
}

/// Memory the program takes before it holds any data: `eyeball scan` of a dozen images peaks at
/// about 140 MB, its libraries included.
const PROGRAM_BYTES: u64 = 160 << 20;

/// Bytes a heap block of `len` bytes takes (glibc's malloc: an 8-byte header, 16-byte granules,
/// 32 at least); nothing when empty.
fn allocation_bytes(len: usize) -> u64 {
    if len == 0 {
        0
    } else {
        (len + 8).next_multiple_of(16).max(32) as u64
    }
}

/// What a scan holds before its duplicate search (the program, the dataset's examples, the index
/// and the signatures), estimated from their sizes rather than measured: the same folder then
/// always gets the same search (`hamming::pairs_per_code_within`) and the same findings, whatever
/// else the process holds at that moment.
fn held_by_data(dataset: &Dataset, index: &Index, signatures: &[Option<Signature>]) -> u64 {
    let rows = |len: usize, size: usize| (len * size) as u64;
    let examples: u64 = dataset
        .examples
        .iter()
        .map(|e| {
            allocation_bytes(e.path.capacity())
                + allocation_bytes(e.annotations.capacity() * size_of::<BoxAnnotation>())
                + allocation_bytes(e.extra.capacity() * size_of::<f64>())
        })
        .sum();
    let records: u64 = index
        .records
        .iter()
        .map(|r| {
            allocation_bytes(r.mode.capacity())
                + allocation_bytes(r.format.capacity())
                + r.decode_error
                    .as_ref()
                    .map_or(0, |e| allocation_bytes(e.capacity()))
        })
        .sum();
    let thumbnails: u64 = signatures
        .iter()
        .flatten()
        .map(|s| allocation_bytes(s.gray.capacity()) + allocation_bytes(s.embed.capacity()))
        .sum();
    PROGRAM_BYTES
        + rows(dataset.examples.len(), size_of::<Example>())
        + examples
        + rows(index.records.len(), size_of::<ImageRecord>())
        + records
        + rows(signatures.len(), size_of::<Option<Signature>>())
        + thumbnails
}

/// Share of the scan's memory budget the gray thumbnails may take in memory; beyond it, the
/// thumbnails in the signature cache are read back from it when needed (1 KB each: past about
/// 520,000 images at the default budget).
const THUMBNAILS_SHARE_OF_BUDGET: u64 = 4;

/// Every example's signature (aligned with the examples), from the signature cache where it has
/// them and by decoding the rest, which are then saved to it. Advances `progress` once per example;
/// cancelled, it returns early (with the rest `(None, None)`). When the gray thumbnails would take
/// more than their share of the memory budget, the thumbnails the cache holds are left there
/// (empty in the signature) and the cache file comes back open for reading them.
fn signatures_of(
    dataset: &Dataset,
    index: &Index,
    settings: &ScanSettings,
    progress: &Progress,
    warnings: &mut Vec<String>,
) -> (Vec<Signed>, Option<ThumbnailFile>) {
    let cache = index.signature_cache.as_deref();
    let thumbnails_bytes = (index.records.len() * signature::THUMB_SIDE.pow(2)) as u64;
    let on_disk = thumbnails_bytes > settings.memory_budget_bytes / THUMBNAILS_SHARE_OF_BUDGET;
    let (mut found, mut rows) = cache
        .and_then(|file| {
            signature_cache::read(file, dataset, &index.records, progress, !on_disk)
                .map_err(|message| {
                    warnings.push(format!(
                        "{}: ignored the signature cache: {message}",
                        file.display()
                    ))
                })
                .ok()
        })
        .map_or_else(
            || (vec![None; index.records.len()], None),
            |cached| (cached.signed, cached.rows),
        );
    let missing = AtomicUsize::new(0);
    found
        .par_iter_mut()
        .zip(&dataset.examples)
        .zip(&index.records)
        .filter(|((slot, _), _)| slot.is_none())
        .for_each(|((slot, example), record)| {
            if !progress.is_cancelled() && record.is_readable() {
                missing.fetch_add(1, Ordering::Relaxed);
                *slot = Some(sign(&dataset.absolute_path(example)));
            }
            progress.advance(1);
        });
    let mut signed: Vec<Signed> = found
        .into_iter()
        .map(|slot| slot.unwrap_or((None, None)))
        .collect();
    if let Some(file) = cache
        && missing.into_inner() > 0
        && signature_cache::fits_budget(signed.len())
        && !progress.is_cancelled()
    {
        let written = signature_cache::write(file, dataset, &index.records, &signed, rows.as_ref());
        match written.and_then(|written| signature_cache::trim_beside(file).map(|()| written)) {
            Ok(written) => {
                if on_disk {
                    signed
                        .par_iter_mut()
                        .filter_map(|(signature, _)| signature.as_mut())
                        .for_each(|signature| {
                            signature.gray = Vec::new();
                            signature.embed = Vec::new();
                        });
                }
                rows = Some(written);
            }
            Err(e) => warnings.push(format!(
                "{}: could not save the signature cache: {e}",
                file.display()
            )),
        }
    }
    (signed, rows)
}

/// What a scan takes from one image file: its signature, or (second) why it has none when the
/// file is a truncated JPEG. Both `None`: the file could not be read or decoded.
pub(crate) type Signed = (Option<Signature>, Option<String>);

/// Reads and decodes one file into its signature, decoding as the index does
/// (`index::decode_for_stats`), so that a signature is the same whether the index or the scan made
/// it.
pub(crate) fn sign(path: &Path) -> Signed {
    let Ok((bytes, _)) = crate::files::read_input_file(path) else {
        return (None, None);
    };
    if let Some(problem) = jpeg_truncation(&bytes) {
        return (None, Some(problem));
    }
    let signature = crate::index::decode_for_stats(path, &bytes)
        .ok()
        .map(|decoded| Signature::of(&decoded.image));
    (signature, None)
}

/// `sign` of a file the caller has already read (`bytes`) and decoded (`image`).
pub(crate) fn sign_decoded(bytes: &[u8], image: &image::DynamicImage) -> Signed {
    match jpeg_truncation(bytes) {
        Some(problem) => (None, Some(problem)),
        None => (Some(Signature::of(image)), None),
    }
}

/// A JPEG without its end-of-image marker decodes (the missing rows come out gray) but is
/// truncated: then no signature, and the problem in words. Inside coded data every FF byte is
/// followed by 00, so both markers (FF D9 after the last start-of-scan FF DA) are unambiguous;
/// data appended after the end marker is allowed.
fn jpeg_truncation(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA])?;
    let ended = bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9]);
    (!ended).then(|| truncation_message(bytes.len() as u64))
}

/// The problem of a truncated JPEG of `file_bytes` bytes, in words.
fn truncation_message(file_bytes: u64) -> String {
    format!("truncated JPEG: no end-of-image marker after the last scan ({file_bytes} bytes)")
}

/// A fixed-width table of counts for the terminal: one line per kind with findings, then a total.
pub fn counts_text(report: &ScanReport) -> String {
    let mut out = String::new();
    let mut total = 0;
    for (kind, count) in report.counts() {
        if count > 0 {
            out += &format!("  {:<18} {count:>8}\n", kind.name());
            total += count;
        }
    }
    let examples: std::collections::BTreeSet<usize> =
        report.findings.iter().map(|f| f.example).collect();
    out += &format!(
        "  {:<18} {total:>8} findings on {} examples\n",
        "total",
        examples.len()
    );
    out += &format!(
        "  ({} duplicate groups, {} verified near-duplicate pairs)\n",
        report.groups.len(),
        report.near_pairs.len()
    );
    if let Some(source) = &report.embedding_source {
        out += &format!(
            "  ({} of the pairs proposed only by {source}'s penultimate-layer embedding; outliers measured in it)\n",
            report.embedding_pairs
        );
    }
    out
}

/// Writes `report` as `.csv` or `.parquet` (by extension), atomically.
pub fn write_report(
    report: &ScanReport,
    dataset: &Dataset,
    path: &Path,
) -> Result<(), crate::index::IndexError> {
    let mut df = report.to_dataframe(dataset);
    crate::index::write_table(&mut df, path)
}
