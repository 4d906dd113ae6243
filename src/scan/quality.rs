//! Image-quality flags from the index's statistics: dark, bright, blurry, low information, odd
//! aspect ratio or size, grayscale stored as RGB, and unreadable files.

use super::outliers::quartiles;
use super::{Finding, IssueKind, ScanSettings};
use crate::index::Index;

/// Largest share of a dataset that the absolute thresholds of dark, bright and low information
/// may flag on their own. Past it, the threshold describes the dataset rather than a few bad
/// images (MNIST digits are dark, with 1-2 bits of entropy), and only images that are also extreme
/// for this dataset stay flagged (see `keep_dataset_extremes`).
const TAIL_SHARE: f64 = 0.02;

/// The statistic behind an absolute-threshold kind, on a log scale that opens up its bad end:
/// ln(1 + v) for brightness (gray levels), ln(1 + 255 - v) for its distance from white, and
/// ln(0.1 + v) for entropy (bits: a constant image has 0, a binary digit about 1). Low values are
/// extreme.
fn extremeness(kind: IssueKind, record: &crate::index::ImageRecord) -> Option<f64> {
    let brightness = f64::from(record.brightness).clamp(0.0, 255.0);
    match kind {
        IssueKind::Dark => Some(brightness.ln_1p()),
        IssueKind::Bright => Some((255.0 - brightness).ln_1p()),
        IssueKind::LowInformation => Some((0.1 + f64::from(record.entropy).max(0.0)).ln()),
        _ => None,
    }
}

/// For each absolute-threshold kind that flags more than `TAIL_SHARE` of the readable images,
/// keeps only the images below the dataset's low Tukey fence (`Q1 - outlier_iqr_factor·IQR`) on
/// the `extremeness` scale: a blank frame among dark digits stays, the digits go. Says so in `notes`.
fn keep_dataset_extremes(
    findings: &mut Vec<Finding>,
    index: &Index,
    readable: &[usize],
    settings: &ScanSettings,
    notes: &mut Vec<String>,
) {
    let cap = (readable.len() as f64 * TAIL_SHARE).ceil() as usize;
    for kind in [
        IssueKind::Dark,
        IssueKind::Bright,
        IssueKind::LowInformation,
    ] {
        let flagged = findings.iter().filter(|f| f.kind == kind).count();
        if flagged <= cap {
            continue;
        }
        let values: Vec<f64> = readable
            .iter()
            .filter_map(|&i| extremeness(kind, &index.records[i]))
            .collect();
        let (q1, _, q3) = quartiles(&values);
        let fence = q1 - settings.outlier_iqr_factor * (q3 - q1);
        findings.retain(|f| {
            f.kind != kind
                || extremeness(kind, &index.records[f.example]).is_some_and(|v| v < fence)
        });
        let kept = findings.iter().filter(|f| f.kind == kind).count();
        notes.push(format!(
            "{}: {flagged} of {} images ({:.0}%) are past the threshold, so that is how this dataset looks; \
             {kept} that are extreme even for it stay flagged",
            kind.name(),
            readable.len(),
            100.0 * flagged as f64 / readable.len().max(1) as f64
        ));
    }
}

/// Every quality finding; `truncated` holds problems found while decoding for the scan (a JPEG
/// cut short decodes with gray rows and is reported as corrupt). Scores are 0..=1 (how far past the threshold, relative to it) except
/// `Corrupt` and `GrayscaleAsRgb`, which are 1.
pub fn flags(
    index: &Index,
    truncated: &[Option<String>],
    settings: &ScanSettings,
    notes: &mut Vec<String>,
) -> Vec<Finding> {
    let readable = index.readable_examples();
    let sizes: Vec<f64> = readable
        .iter()
        .map(|&i| size_of(index, i))
        .filter(|s| *s > 0.0)
        .collect();
    let aspects: Vec<f64> = readable
        .iter()
        .filter_map(|&i| aspect_of(index, i))
        .collect();
    let median_size = (!sizes.is_empty()).then(|| quartiles(&sizes).1);
    let median_aspect = (!aspects.is_empty()).then(|| quartiles(&aspects).1);
    let details: Vec<f64> = readable
        .iter()
        .filter(|&&i| truncated[i].is_none())
        .map(|&i| {
            f64::from(blur_measure(
                index.records[i].sharpness,
                index.records[i].contrast,
            ))
        })
        .filter(|d| *d > 0.0)
        .collect();
    let median_detail = if details.is_empty() {
        0.0
    } else {
        quartiles(&details).1 as f32
    };

    let mut findings = Vec::new();
    let mut push = |example: usize, kind: IssueKind, score: f64, detail: String| {
        findings.push(Finding {
            example,
            kind,
            score: score.clamp(0.0, 1.0),
            group: None,
            partner: None,
            detail,
        });
    };
    for (i, record) in index.records.iter().enumerate() {
        if let Some(error) = &record.decode_error {
            push(i, IssueKind::Corrupt, 1.0, error.clone());
            continue;
        }
        if let Some(problem) = &truncated[i] {
            push(i, IssueKind::Corrupt, 1.0, problem.clone());
            continue;
        }
        let (brightness, entropy) = (record.brightness, record.entropy);
        if brightness <= settings.dark_max_brightness {
            let score =
                1.0 - f64::from(brightness) / f64::from(settings.dark_max_brightness).max(1e-6);
            push(
                i,
                IssueKind::Dark,
                score,
                format!(
                    "brightness {brightness:.1} ≤ {}",
                    settings.dark_max_brightness
                ),
            );
        }
        if brightness >= settings.bright_min_brightness {
            let room = (255.0 - f64::from(settings.bright_min_brightness)).max(1e-6);
            let score = (f64::from(brightness - settings.bright_min_brightness)) / room;
            push(
                i,
                IssueKind::Bright,
                score,
                format!(
                    "brightness {brightness:.1} ≥ {}",
                    settings.bright_min_brightness
                ),
            );
        }
        let low_information = entropy <= settings.low_entropy_max;
        if low_information {
            let score = 1.0 - f64::from(entropy) / f64::from(settings.low_entropy_max).max(1e-6);
            push(
                i,
                IssueKind::LowInformation,
                score,
                format!("entropy {entropy:.2} bits ≤ {}", settings.low_entropy_max),
            );
        }
        // A flat image has no edges to be sharp or blurred: it is low information, not blurry.
        let detail = blur_measure(record.sharpness, record.contrast);
        let limit = settings.blurry_max_sharpness * median_detail;
        if !low_information && detail <= limit && limit > 0.0 {
            push(
                i,
                IssueKind::Blurry,
                f64::from(1.0 - detail / limit),
                format!(
                    "detail {detail:.3} ≤ {} × the usual {median_detail:.3} (Laplacian std {:.1}, contrast {:.1})",
                    settings.blurry_max_sharpness,
                    record.sharpness.sqrt(),
                    record.contrast
                ),
            );
        }
        if record.is_grayscale && record.channels >= 3 {
            push(
                i,
                IssueKind::GrayscaleAsRgb,
                1.0,
                format!(
                    "{} image whose channels are equal in every pixel",
                    record.mode
                ),
            );
        }
        if let (Some(aspect), Some(median)) = (aspect_of(index, i), median_aspect) {
            let ratio = (aspect / median).max(median / aspect);
            let limit = f64::from(settings.odd_aspect_max_ratio);
            if ratio >= limit {
                push(
                    i,
                    IssueKind::OddAspect,
                    1.0 - limit / ratio,
                    format!(
                        "aspect ratio {aspect:.2} (w/h) vs the usual {median:.2}: {ratio:.1}× off"
                    ),
                );
            }
        }
        if let Some(median) = median_size {
            let size = size_of(index, i);
            let ratio = (size / median).max(median / size.max(1e-9));
            let limit = f64::from(settings.odd_size_factor);
            if size > 0.0 && ratio >= limit {
                push(
                    i,
                    IssueKind::OddSize,
                    1.0 - limit / ratio,
                    format!(
                        "{}×{} vs the usual {:.0}² pixels: {ratio:.1}× off",
                        record.width, record.height, median
                    ),
                );
            }
        }
    }
    keep_dataset_extremes(&mut findings, index, &readable, settings, notes);
    findings
}

/// Standard deviation of the Laplacian over that of the gray levels: how much of an image's
/// contrast is in fine detail, whatever its exposure. 0 for a constant image. Its typical value
/// depends on resolution (fine detail is a smaller share of a large photo's contrast), which is why
/// `Blurry` compares it with the dataset's median.
pub fn blur_measure(sharpness: f32, contrast: f32) -> f32 {
    if contrast <= 1e-3 {
        0.0
    } else {
        sharpness.max(0.0).sqrt() / contrast
    }
}

/// Square root of the pixel count.
fn size_of(index: &Index, i: usize) -> f64 {
    let r = &index.records[i];
    (f64::from(r.width) * f64::from(r.height)).sqrt()
}

/// Width over height, when both are known.
fn aspect_of(index: &Index, i: usize) -> Option<f64> {
    let r = &index.records[i];
    (r.width > 0 && r.height > 0).then(|| f64::from(r.width) / f64::from(r.height))
}
