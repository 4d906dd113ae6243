//! Exact duplicates (equal pixel hashes), near duplicates (hash candidates verified the same shot,
//! see `verify`), and the groups they form, with label conflicts and split leakage.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use super::embedding::Neighbourhood;
use super::hamming;
use super::signature::{self, Hyperplanes};
use super::thumbnails::Thumbnails;
use super::verify::{self, Comparison, Screened, Tolerance, View};
use super::{COMPARED_PER_IMAGE, DuplicateGroup, Embedding, Finding, IssueKind, ScanSettings};
use crate::dataset::Dataset;
use crate::dataset::relative_path_text;
use crate::index::Index;
use crate::jobs::{Progress, Steps};

/// Random-hyperplane hash tables of the gradient histogram. Each table finds a different share
/// of the recoloured, shifted and rescaled pairs: on CIFAR-10's test set, against a brute-force
/// search, one table found about half of the pairs the earlier structure check verified, twelve
/// found 97%.
const HOG_HASH_TABLES: usize = 12;
/// Seed of the hyperplanes, fixed so scans are reproducible.
const HOG_HASH_SEED: u64 = 0x5EED_0FE7_EBA1_1000;
/// Random-hyperplane hash tables of the low-frequency spectrum (`signature::spectrum`), which
/// find the shifted and cropped pairs the gradient histogram misses.
const SPECTRUM_HASH_TABLES: usize = 8;
const SPECTRUM_HASH_SEED: u64 = 0x5EED_0FE7_EBA1_2000;
/// Cosine of the (mean-centred) gradient histograms or spectra below which a candidate is
/// dropped before the costlier same-shot comparison. On the 60,000 CIFAR-10 images, 0.6 instead
/// of 0.5 compared 48% fewer pairs; of the 2,694 that verified, 1 had a cosine below 0.6.
const DESCRIPTOR_COSINE_GATE: f32 = 0.6;

/// What the duplicate checks found.
pub struct Duplicates {
    pub findings: Vec<Finding>,
    pub groups: Vec<DuplicateGroup>,
    /// Verified near-duplicate pairs, most certain first.
    pub near_pairs: Vec<NearPair>,
    /// Of those, the pairs only the model embedding proposed.
    pub embedding_pairs: usize,
}

/// A near-duplicate pair of examples, verified the same shot.
#[derive(Clone, Copy, Debug)]
pub struct NearPair {
    pub a: usize,
    pub b: usize,
    /// pHash Hamming distance.
    pub distance: u32,
    pub comparison: Comparison,
    /// Who proposed the pair for comparison.
    pub found_by: Measure,
}

impl NearPair {
    /// How certain the pair is the same shot, 0..=1 (`Comparison::confidence`).
    pub fn confidence(&self) -> f32 {
        self.comparison.confidence()
    }
}

/// What proposed a near-duplicate pair for the same-shot comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// The image hashes (pHash, gradient histograms).
    Structure,
    /// The model embedding's nearest neighbours.
    Embedding,
}

/// Runs both duplicate checks (candidates also from `embedding` when given) and groups the
/// results.
pub fn find(
    dataset: &Dataset,
    index: &Index,
    thumbnails: &Thumbnails,
    embedding: Option<(&Embedding, &Neighbourhood)>,
    settings: &ScanSettings,
    progress: &Progress,
    warnings: &mut Vec<String>,
) -> Duplicates {
    let exact = exact_sets(index);
    // One representative per set of identical images: copies add nothing to the search but pairs.
    let mut is_copy = vec![false; index.records.len()];
    for set in &exact {
        for &i in &set[1..] {
            is_copy[i] = true;
        }
    }
    let searched = |i: usize| {
        !is_copy[i]
            && thumbnails.signatures[i]
                .as_ref()
                .is_some_and(|s| s.has_structure)
    };
    let candidates: Vec<usize> = (0..index.records.len()).filter(|&i| searched(i)).collect();
    let tolerance = Tolerance::of(settings);
    let crowd = Crowd::new(index.records.len());
    let steps = Steps::new(progress, STEPS_PER_IMAGE * index.records.len());
    let held = super::held_by_data(dataset, index, thumbnails.signatures)
        + (is_copy.capacity() * size_of::<bool>()) as u64
        + (candidates.capacity() * size_of::<usize>()) as u64
        + crowd.bytes();
    let (mut pairs, far_below) = near_pairs(
        index,
        thumbnails,
        &candidates,
        held,
        settings,
        &crowd,
        &steps,
        warnings,
    );
    steps.finish();
    if let Some((embedding, neighbourhood)) = embedding {
        let known: std::collections::HashSet<(usize, usize)> =
            pairs.iter().map(|p| (p.a, p.b)).collect();
        let proposed: Vec<(usize, usize)> = super::embedding::candidate_pairs(
            embedding,
            neighbourhood,
            held,
            settings,
            |i| !searched(i),
            warnings,
        )
        .into_iter()
        .filter(|pair| !known.contains(pair))
        .collect();
        pairs.extend(
            proposed
                .par_iter()
                .filter_map(|&(a, b)| {
                    thumbnails.signatures[a].as_ref()?;
                    thumbnails.signatures[b].as_ref()?;
                    let pair = Proposed {
                        a,
                        b,
                        found_by: Measure::Embedding,
                    };
                    pair.judge(compared(thumbnails, a, b, tolerance)?, &crowd, index)
                })
                .collect::<Vec<_>>(),
        );
    }
    let settled = settle_far_below(far_below, &pairs, thumbnails, tolerance, &crowd, index);
    pairs.extend(settled);
    pairs.retain(|pair| crowd.stands_out(pair));
    // Most certain first: groups form from the strongest pairs, and lists show them first.
    pairs.sort_by(|x, y| {
        y.confidence()
            .total_cmp(&x.confidence())
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let (groups, findings) = group(dataset, index, &exact, &pairs, settings);
    Duplicates {
        findings,
        groups,
        embedding_pairs: pairs
            .iter()
            .filter(|p| p.found_by == Measure::Embedding)
            .count(),
        near_pairs: pairs,
    }
}

/// A candidate pair, before the same-shot comparison.
struct Proposed {
    a: usize,
    b: usize,
    found_by: Measure,
}

impl Proposed {
    /// Records the pair's comparison in `crowd`; the pair when it is the same shot.
    fn judge(self, comparison: Comparison, crowd: &Crowd, index: &Index) -> Option<NearPair> {
        crowd.record(self.a, self.b, comparison.confidence());
        comparison.is_same_shot().then(|| NearPair {
            a: self.a,
            b: self.b,
            distance: (index.records[self.a].phash ^ index.records[self.b].phash).count_ones(),
            comparison,
            found_by: self.found_by,
        })
    }
}

/// Close candidates an image may have (copies of one picture) before its pairs must also stand
/// out from the rest (see `Crowd`).
const DISTINCT_RANK: usize = 4;
/// How much closer than an image's `DISTINCT_RANK`-th other candidate a pair must be (in
/// residual, 1 − confidence) to stand out.
const DISTINCT_FACTOR: f32 = 0.25;

/// Each image's highest confidences against the candidates it was compared with (same shot or
/// not), to tell a copy from one look-alike among many.
///
/// Where pictures are simple (digits, icons, strokes), many different ones come close to one
/// another once aligned; a copy is then the one much closer than the rest. A pair stands out when
/// its residual (1 − confidence) is at most `DISTINCT_FACTOR` of each image's residual to its
/// `DISTINCT_RANK + 1`-th closest candidate, or when an image has fewer candidates that close.
/// Photos rarely have that many close candidates, so this only makes the rule stricter where
/// look-alikes crowd; it never accepts a pair the same-shot rule rejects.
pub struct Crowd {
    /// Per image, (confidence, partner), highest first, one entry per partner; empty slots are
    /// `EMPTY` at the end.
    top: Vec<std::sync::Mutex<[(f32, u32); DISTINCT_RANK + 1]>>,
}

/// An unused slot of `Crowd::top`.
const EMPTY: (f32, u32) = (f32::NEG_INFINITY, u32::MAX);

impl Crowd {
    pub fn new(images: usize) -> Crowd {
        Crowd {
            top: (0..images)
                .map(|_| std::sync::Mutex::new([EMPTY; DISTINCT_RANK + 1]))
                .collect(),
        }
    }

    fn bytes(&self) -> u64 {
        (self.top.capacity() * size_of::<std::sync::Mutex<[(f32, u32); DISTINCT_RANK + 1]>>())
            as u64
    }

    /// Adds the comparison of `a` and `b`; a pair compared again (proposed by both the hashes
    /// and the model) counts once.
    pub fn record(&self, a: usize, b: usize, confidence: f32) {
        for (i, partner) in [(a, b as u32), (b, a as u32)] {
            let mut top = self.top[i].lock().expect("no panic while held");
            if top.iter().any(|&(_, p)| p == partner) {
                continue;
            }
            // After the entries at least as confident, as a stable sort of the entries would.
            let at = top.partition_point(|&(c, _)| c.total_cmp(&confidence).is_ge());
            if at <= DISTINCT_RANK {
                top.copy_within(at..DISTINCT_RANK, at + 1);
                top[at] = (confidence, partner);
            }
        }
    }

    /// Whether `pair` is much closer than each image's crowd of look-alikes.
    pub fn stands_out(&self, pair: &NearPair) -> bool {
        let residual = 1.0 - pair.confidence();
        [pair.a, pair.b].iter().all(|&i| {
            let top = self.top[i].lock().expect("no panic while held");
            let crowd = top[DISTINCT_RANK];
            crowd == EMPTY || residual <= DISTINCT_FACTOR * (1.0 - crowd.0)
        })
    }
}

/// Sets (of two or more, ascending) of readable examples with equal pixel hashes.
pub fn exact_sets(index: &Index) -> Vec<Vec<usize>> {
    let mut by_hash: HashMap<u128, Vec<usize>> = HashMap::new();
    for (i, record) in index.records.iter().enumerate() {
        if record.is_readable() {
            by_hash.entry(record.content_hash).or_default().push(i);
        }
    }
    let mut sets: Vec<Vec<usize>> = by_hash.into_values().filter(|v| v.len() > 1).collect();
    sets.sort();
    sets
}

/// Candidate pairs from the Hamming index (pHash, and each HOG hash table), gated by gradient
/// histogram cosine, then verified the same shot; and the pairs set aside unmeasured
/// (`Screened::FarBelow`). `held`: what the scan holds besides (`scan::held_by_data`).
#[allow(clippy::too_many_arguments)]
fn near_pairs(
    index: &Index,
    thumbnails: &Thumbnails,
    candidates: &[usize],
    held: u64,
    settings: &ScanSettings,
    crowd: &Crowd,
    steps: &Steps,
    warnings: &mut Vec<String>,
) -> (Vec<NearPair>, Vec<(u32, u32)>) {
    if candidates.len() < 2 {
        return (Vec::new(), Vec::new());
    }
    let tolerance = Tolerance::of(settings);
    // A quarter of the steps for describing the images, a quarter for the search, the rest for
    // comparing the candidates.
    steps.set_stage_name("describing images");
    // Per image, its views (itself, and its mirror image when mirrors count) described twice: by
    // the HOG, and by the spectrum of the view recentred and of its centre zoomed in (steady
    // under shifts, and under crops: a crop resized back is a zoom).
    let mirror_views = if tolerance.mirror { 2 } else { 1 };
    let views_of = [mirror_views, 2 * mirror_views];
    let n = candidates.len();
    // Two descriptors of every image.
    let describing = steps.part(2 * n, 1, 4);
    // The views of image `i`: itself, then its mirror image when mirrors count.
    let views = |i: usize| {
        let gray = thumbnails.gray(i);
        let mirror = tolerance
            .mirror
            .then(|| Cow::Owned(signature::mirrored(&gray, signature::THUMB_SIDE)));
        std::iter::once(gray).chain(mirror)
    };
    let hog_planes = Hyperplanes::new(signature::HOG_LEN, HOG_HASH_TABLES, HOG_HASH_SEED);
    // Cancelled: the rest of the images are described as nothing, and the search never runs.
    let (hogs, hog_codes) = Descriptors::build(views_of[0], n, &hog_planes, |p| {
        describing.advance();
        if steps.is_cancelled() {
            return vec![vec![0.0; signature::HOG_LEN]; views_of[0]];
        }
        views(candidates[p])
            .map(|view| signature::hog(&view))
            .collect()
    });
    let spectrum_planes = Hyperplanes::new(
        signature::SPECTRUM_LEN,
        SPECTRUM_HASH_TABLES,
        SPECTRUM_HASH_SEED,
    );
    let (spectra, spectrum_codes) = Descriptors::build(views_of[1], n, &spectrum_planes, |p| {
        describing.advance();
        if steps.is_cancelled() {
            return vec![vec![0.0; signature::SPECTRUM_LEN]; views_of[1]];
        }
        views(candidates[p])
            .flat_map(|view| {
                let centred = signature::recentred(&view);
                [
                    signature::spectrum(&centred),
                    signature::spectrum(&zoomed(&centred)),
                ]
            })
            .collect()
    });
    if steps.is_cancelled() {
        return (Vec::new(), Vec::new());
    }
    let centred = [hogs, spectra];
    crate::memory::return_freed();
    let d = settings.near_duplicate_max_distance;
    let mut code_sets: Vec<Vec<u64>> =
        vec![candidates.iter().map(|&i| index.records[i].phash).collect()];
    code_sets.extend(hog_codes);
    code_sets.extend(spectrum_codes);
    // Per descriptor, the best cosine of any view of one image with the other as it is.
    let closeness = |pa: usize, pb: usize| {
        let mut best = [0f32; 2];
        for ((descriptor, views), best) in centred.iter().zip(views_of).zip(&mut best) {
            for view in 0..views {
                let forward = descriptor.cosine(pa, view, pb);
                // View 0 is the image itself, the same both ways.
                let backward = if view == 0 {
                    forward
                } else {
                    descriptor.cosine(pb, view, pa)
                };
                *best = best.max(forward).max(backward);
            }
        }
        best
    };
    steps.set_stage_name("searching for candidate pairs");
    let searching = steps.part(code_sets.len(), 1, 4);
    // Besides the data: the descriptors, their codes, and the candidates the search keeps.
    let searching_held = held
        + centred.iter().map(Descriptors::bytes).sum::<u64>()
        + code_sets
            .iter()
            .map(|c| c.capacity() * size_of::<u64>())
            .sum::<usize>() as u64
        + hamming::kept_bytes(n, COMPARED_PER_IMAGE);
    let pairs_per_code = hamming::pairs_per_code_within(
        settings.memory_budget_bytes,
        searching_held,
        code_sets.iter().map(Vec::len).max().unwrap_or(n),
        "near-duplicate search",
        warnings,
    );
    let keys = hamming::candidate_keys(
        &code_sets,
        n,
        d,
        |pa, pb| {
            let best = closeness(pa, pb);
            (best[0].max(best[1]) >= DESCRIPTOR_COSINE_GATE).then(|| (best[0] + best[1]) / 2.0)
        },
        |pb| {
            centred
                .iter()
                .for_each(|descriptor| descriptor.prefetch(pb))
        },
        COMPARED_PER_IMAGE,
        pairs_per_code,
        "near-duplicate search",
        warnings,
        || {
            searching.advance();
            !steps.is_cancelled()
        },
    );
    if steps.is_cancelled() {
        return (Vec::new(), Vec::new());
    }
    // The search is done: its descriptors and codes make room for the comparisons.
    drop(code_sets);
    drop(centred);
    crate::memory::return_freed();
    // Keys are sorted, so pairs sharing their first image come together: its view is prepared
    // once per run.
    let runs: Vec<&[u64]> = keys
        .chunk_by(|&x, &y| hamming::key_images(x).0 == hamming::key_images(y).0)
        .collect();
    steps.set_stage_name("comparing candidate pairs");
    let comparing = steps.part(runs.len(), 2, 4);
    let mut compared = vec![false; index.records.len()];
    for &key in &keys {
        let (a, b) = hamming::key_images(key);
        compared[candidates[a]] = true;
        compared[candidates[b]] = true;
    }
    let held = thumbnails.hold(&compared);
    drop(compared);
    let sig = |i: usize| thumbnails.signature(i);
    let judged: Vec<Judged> = runs
        .par_iter()
        .flat_map_iter(|run| {
            // Cancelled: the scan stops after this stage, so the rest is skipped.
            if steps.is_cancelled() {
                comparing.advance();
                return Vec::new();
            }
            let a = candidates[hamming::key_images(run[0]).0];
            let mut view_a: Option<View> = None;
            let judged = run
                .iter()
                .filter_map(|&key| {
                    let b = candidates[hamming::key_images(key).1];
                    let side = verify::comparison_side(sig(a).source_side, sig(b).source_side);
                    if view_a.as_ref().is_none_or(|v| v.side() != side) {
                        view_a = Some(View::of(held.gray(a), side));
                    }
                    let view_a = view_a.as_ref().expect("just prepared");
                    let pair = Proposed {
                        a,
                        b,
                        found_by: Measure::Structure,
                    };
                    match verify::screen(view_a, &View::of(held.gray(b), side), tolerance)? {
                        Screened::Compared(comparison) => {
                            pair.judge(comparison, crowd, index).map(Judged::Same)
                        }
                        Screened::FarBelow => Some(Judged::FarBelow(a as u32, b as u32)),
                    }
                })
                .collect::<Vec<_>>();
            comparing.advance();
            judged
        })
        .collect();
    let mut pairs = Vec::new();
    let mut far_below = Vec::new();
    for judged in judged {
        match judged {
            Judged::Same(pair) => pairs.push(pair),
            Judged::FarBelow(a, b) => far_below.push((a, b)),
        }
    }
    (pairs, far_below)
}

/// `verify::compare_grays` of examples `a` and `b` (both with signatures) in full.
fn compared(
    thumbnails: &Thumbnails,
    a: usize,
    b: usize,
    tolerance: Tolerance,
) -> Option<Comparison> {
    let (sa, sb) = (thumbnails.signature(a), thumbnails.signature(b));
    verify::compare_grays(
        (&thumbnails.gray(a), sa.source_side),
        (&thumbnails.gray(b), sb.source_side),
        tolerance,
    )
}

/// What comparing a proposed pair came to, past the coarse alignment.
enum Judged {
    /// The same shot (before the crowd rule).
    Same(NearPair),
    /// Not the same shot, and set aside unmeasured (`Screened::FarBelow`).
    FarBelow(u32, u32),
}

/// Compares in full the pairs set aside as far below the tone bar (`Screened::FarBelow`) that
/// touch an image of a same-shot pair in `found` (or of one this finds), and judges them: only
/// there can their confidence change which pairs stand out of a crowd (`Crowd`). So the scan finds
/// what comparing every pair in full finds, as long as no pair set aside is the same shot (see
/// `verify::DETAIL_REFINEMENT_REACH`). Returns the same-shot pairs among them.
fn settle_far_below(
    far_below: Vec<(u32, u32)>,
    found: &[NearPair],
    thumbnails: &Thumbnails,
    tolerance: Tolerance,
    crowd: &Crowd,
    index: &Index,
) -> Vec<NearPair> {
    let known: std::collections::HashSet<(usize, usize)> =
        found.iter().map(|p| (p.a, p.b)).collect();
    let mut in_pair = vec![false; index.records.len()];
    let mark = |in_pair: &mut Vec<bool>, pairs: &[NearPair]| {
        for pair in pairs {
            in_pair[pair.a] = true;
            in_pair[pair.b] = true;
        }
    };
    mark(&mut in_pair, found);
    let mut rest = far_below;
    let mut settled = Vec::new();
    loop {
        let touching: Vec<(u32, u32)>;
        (touching, rest) = rest
            .into_iter()
            .partition(|&(a, b)| in_pair[a as usize] || in_pair[b as usize]);
        if touching.is_empty() {
            return settled;
        }
        let same: Vec<NearPair> = touching
            .par_iter()
            .map(|&(a, b)| (a as usize, b as usize))
            .filter(|pair| !known.contains(pair))
            .filter_map(|(a, b)| {
                let pair = Proposed {
                    a,
                    b,
                    found_by: Measure::Structure,
                };
                pair.judge(compared(thumbnails, a, b, tolerance)?, crowd, index)
            })
            .collect();
        mark(&mut in_pair, &same);
        settled.extend(same);
    }
}

/// Progress steps per image the duplicate search takes in a scan: about four times as long as
/// decoding the images' signatures.
pub const STEPS_PER_IMAGE: usize = 4;

/// Images whose first view's mean centres every descriptor: evenly spaced over the candidates.
const MEAN_SAMPLE: usize = 16_384;

/// One descriptor of every image's views, image-major (each image's views together), centred on
/// the mean first view of a sample of images and normalised, stored as `i8`
/// (`signature::quantised`): 1M images' descriptors fit in a quarter of the memory of floats.
/// Raw histograms are all positive, so uncentred every pair would look somewhat alike and random
/// hyperplanes would split them poorly.
struct Descriptors {
    dim: usize,
    views: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

impl Descriptors {
    /// `describe(image)`, the `views` views of each of `images` images (each `planes`' dimension
    /// long), with their codes in each table of `planes` (computed before quantisation): one code
    /// set per table, view-major (all images' first view, then all their second), so that code
    /// `p` is of image `p % images`.
    fn build(
        views: usize,
        images: usize,
        planes: &Hyperplanes,
        describe: impl Fn(usize) -> Vec<Vec<f32>> + Sync,
    ) -> (Descriptors, Vec<Vec<u64>>) {
        let dim = planes.dim();
        let sample = images.min(MEAN_SAMPLE);
        let sampled_images: Vec<usize> = (0..sample).map(|k| k * images / sample).collect();
        // Kept whole, so the sampled images are not described twice.
        let sampled: Vec<Vec<Vec<f32>>> = sampled_images.par_iter().map(|&i| describe(i)).collect();
        let mut mean = vec![0f32; dim];
        for views in &sampled {
            mean.iter_mut().zip(&views[0]).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= sample.max(1) as f32);
        let tables = planes.count();
        let mut values = crate::memory::vec_on_huge_pages(images * views * dim, 0i8);
        let mut scales = vec![0f32; images * views];
        // Per image, per view, per table.
        let mut codes = vec![0u64; images * views * tables];
        values
            .par_chunks_mut(views * dim)
            .zip(scales.par_chunks_mut(views))
            .zip(codes.par_chunks_mut((views * tables).max(1)))
            .enumerate()
            .for_each(|(image, ((out, scales), image_codes))| {
                let described = match sampled_images.binary_search(&image) {
                    Ok(k) => sampled[k].clone(),
                    Err(_) => describe(image),
                };
                debug_assert_eq!(described.len(), views);
                for (view, mut v) in described.into_iter().enumerate() {
                    v.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
                    signature::normalise(&mut v);
                    for table in 0..tables {
                        image_codes[view * tables + table] = planes.code(table, &v);
                    }
                    scales[view] = signature::quantised(&v, &mut out[view * dim..][..dim]);
                }
            });
        let code_sets = (0..tables)
            .map(|table| {
                (0..views * images)
                    .map(|p| {
                        let (view, image) = (p / images, p % images);
                        codes[(image * views + view) * tables + table]
                    })
                    .collect()
            })
            .collect();
        (
            Descriptors {
                dim,
                views,
                values,
                scales,
            },
            code_sets,
        )
    }

    fn bytes(&self) -> u64 {
        (self.values.capacity() + self.scales.capacity() * size_of::<f32>()) as u64
    }

    /// Asks the CPU to fetch `image`'s rows (all its views) and scales ahead of a `cosine`
    /// with it: candidate pairs reach their second image in no order the caches can follow.
    fn prefetch(&self, image: usize) {
        let rows = &self.values[image * self.views * self.dim..][..self.views * self.dim];
        let lines = rows.iter().step_by(64).chain(rows.last());
        lines.for_each(crate::memory::prefetch);
        // An image's scales (at most 4) share a line or two; the first is fetched.
        crate::memory::prefetch(&self.scales[image * self.views]);
    }

    /// Cosine of `view` of image `a` with the first view of image `b`.
    fn cosine(&self, a: usize, view: usize, b: usize) -> f32 {
        let (x, y) = (a * self.views + view, b * self.views);
        let row = |r: usize| &self.values[r * self.dim..(r + 1) * self.dim];
        signature::dot_i8(row(x), row(y)) as f32 * self.scales[x] * self.scales[y]
    }
}

/// Share of the side kept by `zoomed`: a 15% crop resized back.
const ZOOM_KEEP: f32 = 0.85;

/// The centre `ZOOM_KEEP` of a thumbnail, resized back to the full side.
fn zoomed(gray: &[u8]) -> Vec<u8> {
    let n = signature::THUMB_SIDE;
    let kept = (n as f32 * ZOOM_KEEP).round() as usize;
    let offset = (n - kept) / 2;
    let centre: Vec<f32> = (offset..offset + kept)
        .flat_map(|y| (offset..offset + kept).map(move |x| f32::from(gray[y * n + x])))
        .collect();
    static WEIGHTS: std::sync::OnceLock<signature::AreaWeights> = std::sync::OnceLock::new();
    WEIGHTS
        .get_or_init(|| signature::AreaWeights::new(kept, kept, n, n))
        .resize(&centre, 1)
        .iter()
        .map(|&v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Union-find with sizes.
struct Components {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl Components {
    fn new(n: usize) -> Components {
        Components {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins the components of `a` and `b` unless the result would exceed `max_size`; true when
    /// they are (now) one component.
    fn join(&mut self, a: usize, b: usize, max_size: usize) -> bool {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return true;
        }
        if self.size[ra] + self.size[rb] > max_size {
            return false;
        }
        let (big, small) = if self.size[ra] >= self.size[rb] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small] = big;
        self.size[big] += self.size[small];
        true
    }
}

/// Groups exact sets and near pairs into connected components (near pairs most certain first,
/// within the size cap), and writes the findings of every duplicate kind.
fn group(
    dataset: &Dataset,
    index: &Index,
    exact: &[Vec<usize>],
    pairs: &[NearPair],
    settings: &ScanSettings,
) -> (Vec<DuplicateGroup>, Vec<Finding>) {
    let n = index.records.len();
    let mut components = Components::new(n);
    for set in exact {
        for &i in &set[1..] {
            components.join(set[0], i, usize::MAX);
        }
    }
    // The pairs that joined (or already shared) a group, per example, with the partner.
    let mut links: Vec<Vec<(usize, &NearPair)>> = vec![Vec::new(); n];
    for pair in pairs {
        if components.join(pair.a, pair.b, settings.near_duplicate_max_group.max(2)) {
            links[pair.a].push((pair.b, pair));
            links[pair.b].push((pair.a, pair));
        }
    }
    let mut members_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let root = components.root(i);
        if components.size[root] > 1 {
            members_of.entry(root).or_default().push(i);
        }
    }
    let mut member_lists: Vec<Vec<usize>> = members_of.into_values().collect();
    member_lists.sort();

    let path = |i: usize| relative_path_text(&dataset.examples[i].path);
    let mut groups = Vec::with_capacity(member_lists.len());
    let mut findings = Vec::new();
    for (id, members) in member_lists.into_iter().enumerate() {
        let hash = index.records[members[0]].content_hash;
        let exact_group = members
            .iter()
            .all(|&i| index.records[i].content_hash == hash);
        let group_links = members.iter().flat_map(|&i| links[i].iter().map(|l| l.1));
        let confidence = group_links
            .clone()
            .map(NearPair::confidence)
            .fold(1.0f32, f32::min);
        let max_distance = group_links.clone().map(|p| p.distance).max().unwrap_or(0);
        let by_embedding = group_links
            .clone()
            .any(|p| p.found_by == Measure::Embedding);
        let splits: Vec<Option<usize>> =
            members.iter().map(|&i| dataset.examples[i].split).collect();
        let labels: Vec<Option<usize>> =
            members.iter().map(|&i| dataset.examples[i].label).collect();
        let labels_differ = distinct(&labels) > 1;
        let spans_splits = distinct(&splits) > 1;

        for &i in &members {
            let copies: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&j| {
                    j != i && index.records[j].content_hash == index.records[i].content_hash
                })
                .collect();
            if let Some(&first) = copies.first() {
                findings.push(Finding {
                    example: i,
                    kind: IssueKind::ExactDuplicate,
                    score: 1.0,
                    group: Some(id),
                    partner: Some(first),
                    detail: format!(
                        "identical pixels to {} other file(s), e.g. {}",
                        copies.len(),
                        path(first)
                    ),
                });
            }
            let strongest = links[i]
                .iter()
                .max_by(|x, y| x.1.confidence().total_cmp(&y.1.confidence()));
            if let Some(&(partner, pair)) = strongest {
                let proposed = match pair.found_by {
                    Measure::Structure => "",
                    Measure::Embedding => " (proposed by the model embedding)",
                };
                findings.push(Finding {
                    example: i,
                    kind: IssueKind::NearDuplicate,
                    score: f64::from(pair.confidence()),
                    group: Some(id),
                    partner: Some(partner),
                    detail: format!(
                        "{} to {}{proposed}",
                        pair.comparison.describe(),
                        path(partner)
                    ),
                });
            }
            // A label conflict is a claim about one picture: it needs an identical copy or a
            // direct same-shot link, not a chain through the group.
            if labels_differ && let Some(label) = dataset.examples[i].label {
                let differs = |j: usize| dataset.examples[j].label.is_some_and(|l| l != label);
                let identical = copies
                    .iter()
                    .copied()
                    .filter(|&j| differs(j))
                    .map(|j| (j, 1.0f32));
                let linked = links[i]
                    .iter()
                    .filter(|l| differs(l.0))
                    .map(|l| (l.0, l.1.confidence()));
                if let Some((other, confidence)) =
                    identical.chain(linked).max_by(|x, y| x.1.total_cmp(&y.1))
                {
                    let other_label = dataset.examples[other]
                        .label
                        .map_or("?", |l| dataset.classes[l].as_str());
                    findings.push(Finding {
                        example: i,
                        kind: IssueKind::LabelConflict,
                        score: f64::from(confidence),
                        group: Some(id),
                        partner: Some(other),
                        detail: format!(
                            "labelled {}; the same shot {} (confidence {confidence:.2}) is labelled {other_label}",
                            dataset.classes[label],
                            path(other)
                        ),
                    });
                }
            }
            if spans_splits && let Some(split) = dataset.examples[i].split {
                // The most certain direct link into another split, else any member there.
                let in_other_split =
                    |j: usize| dataset.examples[j].split.is_some_and(|s| s != split);
                let direct = links[i]
                    .iter()
                    .filter(|l| in_other_split(l.0))
                    .max_by(|x, y| x.1.confidence().total_cmp(&y.1.confidence()))
                    .map(|l| (l.0, l.1.confidence()));
                let identical = copies
                    .iter()
                    .copied()
                    .find(|&j| in_other_split(j))
                    .map(|j| (j, 1.0));
                let (other, score) = identical
                    .or(direct)
                    .or_else(|| {
                        members
                            .iter()
                            .copied()
                            .find(|&j| in_other_split(j))
                            .map(|j| (j, confidence))
                    })
                    .expect("the group spans splits");
                findings.push(Finding {
                    example: i,
                    kind: IssueKind::SplitLeakage,
                    score: f64::from(score),
                    group: Some(id),
                    partner: Some(other),
                    detail: format!(
                        "in {}; the same shot is in {}: {}",
                        dataset.splits[split],
                        dataset.examples[other]
                            .split
                            .map_or("?", |s| dataset.splits[s].as_str()),
                        path(other)
                    ),
                });
            }
        }
        groups.push(DuplicateGroup {
            id,
            members,
            exact: exact_group,
            labels_differ,
            spans_splits,
            max_distance,
            confidence,
            by_embedding,
        });
    }
    (groups, findings)
}

/// Distinct known values (None ignored), ascending.
fn distinct_values(values: &[Option<usize>]) -> Vec<usize> {
    let mut known: Vec<usize> = values.iter().flatten().copied().collect();
    known.sort_unstable();
    known.dedup();
    known
}

fn distinct(values: &[Option<usize>]) -> usize {
    distinct_values(values).len()
}
