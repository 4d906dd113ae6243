//! Outliers: examples far from all others in a small colour-thumbnail embedding (kNN distance),
//! and examples whose statistics fall outside the dataset's Tukey fences (median and IQR).

use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use super::signature::{EMBED_LEN, block_lane_sums, dimension_major};
use super::thumbnails::Thumbnails;
use super::{Finding, IssueKind, ScanSettings};
use crate::index::{ImageRecord, Index};

/// Dimensions the 192-value colour thumbnail is randomly projected to before the kNN search;
/// distances keep their order well enough to rank outliers, at a sixth of the cost.
const PROJECTED_DIM: usize = 32;
/// Most reference images the kNN distance is measured against. Beyond it a fixed random sample
/// is used, which keeps the search linear in the dataset size (60,000 × 4,096 distances).
const MAX_REFERENCES: usize = 4096;
/// Below this many images, outlier statistics mean little and nothing is reported.
const MIN_IMAGES: usize = 8;
const PROJECTION_SEED: u64 = 0x0D15_7A0C_E5EE_D000;

/// `Outlier` findings in the small colour-thumbnail embedding; see `knn_outliers_in`. Nothing
/// once `cancelled`.
pub fn knn_outliers(
    thumbnails: &Thumbnails,
    settings: &ScanSettings,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Vec<Finding> {
    let ids: Vec<usize> = (0..thumbnails.signatures.len())
        .filter(|&i| thumbnails.signatures[i].is_some())
        .collect();
    if ids.len() < MIN_IMAGES.max(settings.knn_k.max(1) + 2) {
        return Vec::new();
    }
    let nearest = nearest_reference_distances(&embed(thumbnails, &ids), settings.knn_k, cancelled);
    if cancelled() {
        return Vec::new();
    }
    knn_outliers_in(&ids, &nearest, settings, "colour thumbnail")
}

/// `Outlier` findings: the mean distance to the `knn_k` nearest reference vectors (the first
/// `knn_k` of each `nearest`, from `nearest_reference_distances`), for examples above the fence
/// `Q3 + outlier_iqr_factor·IQR` of that score, at most `outlier_top_fraction` of them, highest
/// first. `ids[i]` is the example of `nearest[i]`; `space` names the embedding.
pub fn knn_outliers_in(
    ids: &[usize],
    nearest: &[Vec<f32>],
    settings: &ScanSettings,
    space: &str,
) -> Vec<Finding> {
    let m = ids.len();
    let k = settings.knn_k.max(1);
    if m < MIN_IMAGES.max(k + 2) {
        return Vec::new();
    }
    let scores: Vec<f64> = nearest
        .iter()
        .map(|d| d[..k].iter().map(|&d| f64::from(d)).sum::<f64>() / k as f64)
        .collect();
    let (q1, median, q3) = quartiles(&scores);
    let fence = q3 + settings.outlier_iqr_factor * (q3 - q1);
    let mut above: Vec<(usize, f64)> = (0..m)
        .filter(|&q| scores[q] > fence)
        .map(|q| (q, scores[q]))
        .collect();
    above.sort_by(|a, b| b.1.total_cmp(&a.1));
    above.truncate((settings.outlier_top_fraction * m as f64).ceil() as usize);
    above
        .into_iter()
        .map(|(q, score)| Finding {
            example: ids[q],
            kind: IssueKind::Outlier,
            score,
            group: None,
            partner: None,
            detail: format!("{space} distance to its {k} nearest images {score:.3} (median {median:.3}, fence {fence:.3})"),
        })
        .collect()
}

/// Reference vectors the nearest-neighbour distances are measured against: all of them up to
/// `MAX_REFERENCES`, else a fixed random sample, which keeps the search linear in the count.
pub fn reference_count(m: usize) -> usize {
    m.min(MAX_REFERENCES)
}

/// Each vector's Euclidean distances to its `k` nearest reference vectors (itself excluded),
/// ascending; see `reference_count`. Once `cancelled`, the rest are empty.
pub fn nearest_reference_distances(
    embedded: &[Vec<f32>],
    k: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Vec<Vec<f32>> {
    let m = embedded.len();
    let k = k.max(1);
    let Some(dim) = embedded.first().map(|v| v.len().max(1)) else {
        return Vec::new();
    };
    let references: Vec<usize> = if m <= MAX_REFERENCES {
        (0..m).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(PROJECTION_SEED ^ m as u64);
        index::sample(&mut rng, m, MAX_REFERENCES).into_vec()
    };
    let blocked = blocked(&references, embedded, dim);
    (0..m)
        .into_par_iter()
        .map(|q| {
            if cancelled() {
                return Vec::new();
            }
            nearest_to(q, &embedded[q], &references, &blocked, dim, k)
                .iter()
                .map(|d| d.sqrt())
                .collect()
        })
        .collect()
}

/// References per block of `blocked`: a query is measured against a block's vectors in vector
/// lanes.
const REFERENCE_BLOCK: usize = 16;

/// The `references`' vectors in blocks of `REFERENCE_BLOCK` (`signature::dimension_major`).
fn blocked(references: &[usize], embedded: &[Vec<f32>], dim: usize) -> Vec<f32> {
    references
        .chunks(REFERENCE_BLOCK)
        .flat_map(|block| {
            let vectors: Vec<&[f32]> = block.iter().map(|&r| embedded[r].as_slice()).collect();
            dimension_major(&vectors, dim, REFERENCE_BLOCK)
        })
        .collect()
}

/// The `k` smallest squared distances of `query` (vector `q`) to the reference vectors
/// (`references[j]` is the `j`-th vector of `blocked`), ascending. A block's distances are summed
/// side by side (`block_lane_sums`), each the number `squared_distance` gives.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn nearest_to(
    q: usize,
    query: &[f32],
    references: &[usize],
    blocked: &[f32],
    dim: usize,
    k: usize,
) -> Vec<f32> {
    const B: usize = REFERENCE_BLOCK;
    let mut nearest = vec![f32::INFINITY; k];
    for (block, values) in blocked.chunks_exact(B * dim).enumerate() {
        let distances: [f32; B] = block_lane_sums(query, values, |x, y| (x - y) * (x - y));
        let bar = nearest[k - 1];
        let mut closer = 0u32;
        for (r, &d) in distances.iter().enumerate() {
            closer |= u32::from(d < bar) << r;
        }
        // In order, each against the bar as it is when its turn comes.
        while closer != 0 {
            let r = closer.trailing_zeros() as usize;
            closer &= closer - 1;
            let j = block * B + r;
            if j >= references.len() || references[j] == q {
                continue;
            }
            let d = distances[r];
            if d < nearest[k - 1] {
                let mut slot = k - 1;
                while slot > 0 && nearest[slot - 1] > d {
                    nearest[slot] = nearest[slot - 1];
                    slot -= 1;
                }
                nearest[slot] = d;
            }
        }
    }
    nearest
}

/// Colour thumbnails as vectors in 0..1, centred on the dataset's mean, randomly projected to
/// `PROJECTED_DIM` dimensions (Johnson–Lindenstrauss: distances are kept up to a small factor).
fn embed(thumbnails: &Thumbnails, ids: &[usize]) -> Vec<Vec<f32>> {
    let raw = |i: usize| -> Vec<f32> {
        thumbnails
            .embed(i)
            .iter()
            .map(|&v| f32::from(v) / 255.0)
            .collect()
    };
    // Read a chunk at a time on all threads (from the signature cache at scale), summed in order.
    let mut mean = vec![0f32; EMBED_LEN];
    for chunk in ids.chunks(MEAN_CHUNK) {
        let read: Vec<Vec<f32>> = chunk.par_iter().map(|&i| raw(i)).collect();
        for values in read {
            for (m, v) in mean.iter_mut().zip(values) {
                *m += v;
            }
        }
    }
    for m in &mut mean {
        *m /= ids.len() as f32;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(PROJECTION_SEED);
    let scale = 1.0 / (PROJECTED_DIM as f32).sqrt();
    let projection: Vec<f32> = (0..PROJECTED_DIM * EMBED_LEN)
        .map(|_| rng.sample::<f32, _>(StandardNormal) * scale)
        .collect();
    // Value-major (every direction's first value, then every second one, …), so that the
    // directions' sums run side by side, each in the order of a plain sum.
    let by_value = value_major(&projection);
    ids.par_iter()
        .map(|&i| {
            let centred: Vec<f32> = raw(i).iter().zip(&mean).map(|(v, m)| v - m).collect();
            project(&by_value, &centred).to_vec()
        })
        .collect()
}

/// Images whose colour thumbnails `embed` reads at once for the mean.
const MEAN_CHUNK: usize = 16_384;

/// The `PROJECTED_DIM` directions of `projection` (each `EMBED_LEN` long, one after another),
/// value-major for `project`.
fn value_major(projection: &[f32]) -> Vec<f32> {
    let directions: Vec<&[f32]> = projection.chunks_exact(EMBED_LEN).collect();
    dimension_major(&directions, EMBED_LEN, PROJECTED_DIM)
}

/// `v` projected on each of the `PROJECTED_DIM` directions of `by_value` (value-major): each a
/// sum from −0.0 in the order of `v`, as `Iterator::sum` adds.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn project(by_value: &[f32], v: &[f32]) -> [f32; PROJECTED_DIM] {
    let mut sums = [-0.0f32; PROJECTED_DIM];
    for (row, &x) in by_value.chunks_exact(PROJECTED_DIM).zip(v) {
        for (sum, &d) in sums.iter_mut().zip(row) {
            *sum += d * x;
        }
    }
    sums
}

/// A per-image statistic checked for outliers: its name, how to read it, and the scale it is
/// compared on. Long-tailed statistics are compared on a log scale, where the plain IQR fence would
/// otherwise flag their whole tail (sharpness, bytes per pixel; and entropy, whose tail runs down
/// from its 8-bit maximum: many photos have a large flat sky).
struct Stat {
    name: &'static str,
    value: fn(&ImageRecord) -> f64,
    scale: Scale,
}

#[derive(Clone, Copy)]
enum Scale {
    Linear,
    /// `ln(1 + v)`
    Log,
    /// `ln(1 + 8 − v)`: log of the distance below 8 bits.
    LogBelowEight,
}

impl Scale {
    fn to(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log => v.max(0.0).ln_1p(),
            Scale::LogBelowEight => (8.0 - v).max(0.0).ln_1p(),
        }
    }

    fn from(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log => t.exp_m1(),
            Scale::LogBelowEight => 8.0 - t.exp_m1(),
        }
    }
}

const STATS: &[Stat] = &[
    Stat {
        name: "brightness",
        value: |r| f64::from(r.brightness),
        scale: Scale::Linear,
    },
    Stat {
        name: "contrast",
        value: |r| f64::from(r.contrast),
        scale: Scale::Linear,
    },
    Stat {
        name: "sharpness",
        value: |r| f64::from(r.sharpness),
        scale: Scale::Log,
    },
    Stat {
        name: "entropy",
        value: |r| f64::from(r.entropy),
        scale: Scale::LogBelowEight,
    },
    Stat {
        name: "bytes per pixel",
        value: bytes_per_pixel,
        scale: Scale::Log,
    },
];

fn bytes_per_pixel(record: &ImageRecord) -> f64 {
    record.file_bytes as f64 / (f64::from(record.width) * f64::from(record.height)).max(1.0)
}

/// `StatOutlier` findings: values beyond `Q1 − f·IQR` or `Q3 + f·IQR` for each statistic in
/// `STATS`, one finding per example naming every statistic out of range; the score is the largest
/// distance from the median in IQRs. Only `usable` examples (decoded in full) count.
pub fn stat_outliers(index: &Index, usable: &[bool], settings: &ScanSettings) -> Vec<Finding> {
    let readable: Vec<usize> = (0..index.records.len()).filter(|&i| usable[i]).collect();
    if readable.len() < MIN_IMAGES {
        return Vec::new();
    }
    let factor = settings.outlier_iqr_factor;
    let mut per_example: Vec<(f64, Vec<String>)> = vec![(0.0, Vec::new()); index.records.len()];
    for stat in STATS {
        let values: Vec<f64> = readable
            .iter()
            .map(|&i| stat.scale.to((stat.value)(&index.records[i])))
            .collect();
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.len() < MIN_IMAGES {
            continue;
        }
        let (q1, median, q3) = quartiles(&finite);
        let iqr = q3 - q1;
        if iqr <= 1e-9 {
            continue;
        }
        let (low, high) = (q1 - factor * iqr, q3 + factor * iqr);
        for (&i, &v) in readable.iter().zip(&values) {
            if !v.is_finite() || (low..=high).contains(&v) {
                continue;
            }
            let raw = (stat.value)(&index.records[i]);
            // On the entropy scale, larger means lower entropy.
            let bound = if v < low {
                stat.scale.from(low)
            } else {
                stat.scale.from(high)
            };
            let side = if raw < bound { "below" } else { "above" };
            let entry = &mut per_example[i];
            entry.0 = entry.0.max((v - median).abs() / iqr);
            entry.1.push(format!(
                "{} {} {side} {}",
                stat.name,
                short(raw),
                short(bound)
            ));
        }
    }
    per_example
        .into_iter()
        .enumerate()
        .filter(|(_, (_, details))| !details.is_empty())
        .map(|(example, (score, details))| Finding {
            example,
            kind: IssueKind::StatOutlier,
            score,
            group: None,
            partner: None,
            detail: details.join("; "),
        })
        .collect()
}

/// A number with about three significant digits.
fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// First quartile, median and third quartile (linear interpolation), of a non-empty slice.
pub fn quartiles(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let position = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo as f64)
    };
    (at(0.25), at(0.5), at(0.75))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::signature::squared_distance;

    #[test]
    fn quartiles_interpolate() {
        assert_eq!(quartiles(&[4.0, 1.0, 3.0, 2.0, 5.0]), (2.0, 3.0, 4.0));
        assert_eq!(quartiles(&[1.0, 2.0]), (1.25, 1.5, 1.75));
    }

    #[test]
    fn blocked_distances_are_the_lane_sums_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        // Dimensions with and without a tail past the 8 lanes; counts off the block size.
        for (m, dim) in [(37, 32), (50, 37), (20, 5)] {
            let vectors: Vec<Vec<f32>> = (0..m)
                .map(|_| (0..dim).map(|_| rng.random::<f32>()).collect())
                .collect();
            let k = 4;
            let blocked = nearest_reference_distances(&vectors, k, &|| false);
            for (q, found) in blocked.iter().enumerate() {
                let mut all: Vec<f32> = (0..m)
                    .filter(|&r| r != q)
                    .map(|r| squared_distance(&vectors[q], &vectors[r]).sqrt())
                    .collect();
                all.sort_by(f32::total_cmp);
                let bits = |v: &[f32]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(found), bits(&all[..k]), "m={m} dim={dim} q={q}");
            }
        }
    }

    #[test]
    fn projections_side_by_side_are_the_plain_sums_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let projection: Vec<f32> = (0..PROJECTED_DIM * EMBED_LEN)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect();
        let by_value = value_major(&projection);
        for _ in 0..20 {
            let v: Vec<f32> = (0..EMBED_LEN).map(|_| rng.random::<f32>() - 0.5).collect();
            let plain: Vec<u32> = projection
                .chunks_exact(EMBED_LEN)
                .map(|row| {
                    row.iter()
                        .zip(&v)
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                        .to_bits()
                })
                .collect();
            let side_by_side: Vec<u32> = project(&by_value, &v).map(f32::to_bits).to_vec();
            assert_eq!(side_by_side, plain);
        }
    }

    #[test]
    fn a_cancelled_nearest_neighbour_search_stops_measuring() {
        let vectors: Vec<Vec<f32>> = (0..2000)
            .map(|i| (0..8).map(|d| ((i * 7 + d * 13) % 101) as f32).collect())
            .collect();
        let whole = nearest_reference_distances(&vectors, 3, &|| false);
        assert!(whole.iter().all(|d| d.len() == 3));
        // Cancelled after 50 queries: the rest are never measured.
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let cancelled = || asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 50;
        let stopped = nearest_reference_distances(&vectors, 3, &cancelled);
        let measured = stopped.iter().filter(|d| !d.is_empty()).count();
        assert_eq!(measured, 50, "{measured} measured");
    }
}
