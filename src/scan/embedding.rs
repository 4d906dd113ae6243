//! The model's view of the images: one vector per example (a checkpoint's penultimate layer),
//! searched for near duplicates (pairs much closer than their neighbours) and used as the kNN
//! outlier embedding.

use rayon::prelude::*;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::hamming;
use super::signature;
use super::{COMPARED_PER_IMAGE, ScanSettings, outliers};

/// Random-hyperplane hash tables searched for candidate pairs. At a cosine of 0.9 two vectors
/// differ in about 9 of 64 bits, within the default radius of most tables.
const HASH_TABLES: usize = 8;
const HASH_SEED: u64 = 0xE3BE_DD1E_5EED_0001;
/// The neighbour a near-duplicate pair's distance is compared with (see `near_pairs`).
const NEIGHBOURS: usize = 5;
/// Dimensions a long embedding is randomly projected to for the neighbour searches.
pub const PROJECTED_DIM: usize = 64;

/// One vector per example, from a model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embedding {
    /// What made it, e.g. the checkpoint's file name.
    pub source: String,
    /// Indices into `Dataset::examples`, ascending; examples that could not be read are missing.
    pub examples: Vec<usize>,
    /// Length of each vector.
    pub dim: usize,
    /// `examples.len() × dim` values, row-major.
    pub vectors: Vec<f32>,
}

impl Embedding {
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Unit vectors centred on the dataset's mean. Penultimate activations follow a ReLU, so raw
    /// vectors all point into one orthant and unrelated images would look alike.
    pub fn centred_unit_vectors(&self) -> Vec<Vec<f32>> {
        let dim = self.dim.max(1);
        let mut mean = vec![0f32; dim];
        for row in self.vectors.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        let n = self.len().max(1) as f32;
        mean.iter_mut().for_each(|m| *m /= n);
        self.vectors
            .par_chunks_exact(dim)
            .map(|row| {
                let mut v: Vec<f32> = row.iter().zip(&mean).map(|(x, m)| x - m).collect();
                signature::normalise(&mut v);
                v
            })
            .collect()
    }

    /// `centred_unit_vectors`, randomly projected to `PROJECTED_DIM` when longer and normalised
    /// again (angles keep their order well enough to rank neighbours).
    pub fn projected_unit_vectors(&self) -> Vec<Vec<f32>> {
        let unit = self.centred_unit_vectors();
        if self.dim <= PROJECTED_DIM {
            return unit;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(HASH_SEED ^ 0x0D15);
        let scale = 1.0 / (PROJECTED_DIM as f32).sqrt();
        let projection: Vec<f32> = (0..PROJECTED_DIM * self.dim)
            .map(|_| rng.sample::<f32, _>(StandardNormal) * scale)
            .collect();
        unit.par_iter()
            .map(|v| {
                let mut projected: Vec<f32> = projection
                    .chunks_exact(self.dim)
                    .map(|row| signature::dot(row, v))
                    .collect();
                signature::normalise(&mut projected);
                projected
            })
            .collect()
    }
}

/// The median of `values` (reordered).
fn median_of(values: &mut [f32]) -> f32 {
    let mid = values.len() / 2;
    *values.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// An embedding as the scan uses it: projected unit vectors and each one's nearest reference
/// distances, shared by the near-duplicate ratio test and the kNN outlier score.
pub struct Neighbourhood {
    pub vectors: Vec<Vec<f32>>,
    /// Ascending distances to the nearest reference vectors; see `outliers::nearest_reference_distances`.
    pub nearest: Vec<Vec<f32>>,
    /// Which of `nearest` (1-based) a near-duplicate pair is compared with: about the
    /// `NEIGHBOURS`-th nearest of all vectors.
    reach_rank: usize,
}

impl Neighbourhood {
    /// Measures `embedding`, with at least `knn_k` neighbours per vector for the outlier score.
    pub fn of(embedding: &Embedding, knn_k: usize) -> Neighbourhood {
        let vectors = embedding.projected_unit_vectors();
        // With a sample of references, the k-th nearest of the sample is about the
        // (k·m/references)-th nearest of all: scale k down to keep the same neighbourhood.
        let m = vectors.len().max(1);
        let reach_rank = (NEIGHBOURS * outliers::reference_count(m))
            .div_ceil(m)
            .max(2);
        let nearest =
            outliers::nearest_reference_distances(&vectors, reach_rank.max(knn_k), &|| false);
        Neighbourhood {
            vectors,
            nearest,
            reach_rank,
        }
    }

    /// Distance of vector `p` to about its `NEIGHBOURS`-th nearest neighbour.
    fn reach(&self, p: usize) -> f32 {
        self.nearest[p][self.reach_rank - 1]
    }
}

/// Pairs that stand out from their neighbourhood in the model's embedding, as (a, b) example
/// indices with a < b: candidates for the same-shot comparison.
///
/// A classifier's embedding puts every clear "7" close to every other, so a fixed cosine threshold
/// flags look-alikes by the thousand. Instead a pair's distance is compared with how far each of its
/// two images is from its `NEIGHBOURS`-th nearest neighbour: the same picture twice is much closer
/// than anything else. The log of that ratio is compared with its spread over the dataset (each
/// image's nearest against its `NEIGHBOURS`-th neighbour): a pair is kept when it lies at least
/// `embedding_min_deviations` median absolute deviations below the median. So the rule adapts to
/// the model: a compact 32-value digit embedding, where ratios vary widely, needs a much smaller
/// ratio than a photo model's. Candidates come from random-hyperplane hashes within
/// `near_duplicate_max_distance` bits, never from all pairs, and each image keeps its
/// `COMPARED_PER_IMAGE` closest. `skip(i)` leaves an example out (an
/// exact copy of another, or one without structure). `held`: what the scan holds besides
/// (`hamming::pairs_per_code_within`).
pub fn candidate_pairs(
    embedding: &Embedding,
    neighbourhood: &Neighbourhood,
    held: u64,
    settings: &ScanSettings,
    skip: impl Fn(usize) -> bool + Sync,
    warnings: &mut Vec<String>,
) -> Vec<(usize, usize)> {
    let kept: Vec<usize> = (0..embedding.len())
        .filter(|&p| !skip(embedding.examples[p]))
        .collect();
    if kept.len() < NEIGHBOURS + 2 {
        return Vec::new();
    }
    let mut typical: Vec<f32> = (0..embedding.len())
        .filter(|&p| neighbourhood.nearest[p][0] > 0.0)
        .map(|p| (neighbourhood.nearest[p][0] / neighbourhood.reach(p)).ln())
        .collect();
    if typical.len() < NEIGHBOURS + 2 {
        return Vec::new();
    }
    let median = median_of(&mut typical);
    let mut deviations: Vec<f32> = typical.iter().map(|x| (x - median).abs()).collect();
    let spread = median_of(&mut deviations);
    let max_ln_ratio = median - settings.embedding_min_deviations * spread;
    let vectors: Vec<&[f32]> = kept
        .iter()
        .map(|&p| neighbourhood.vectors[p].as_slice())
        .collect();
    let reach: Vec<f32> = kept.iter().map(|&p| neighbourhood.reach(p)).collect();
    let dim = vectors[0].len();
    let views = vectors;
    let d = settings.near_duplicate_max_distance;
    // Besides the data (`held`): the embedding, its unit vectors and their distances.
    let floats = |rows: &[Vec<f32>]| rows.iter().map(Vec::capacity).sum::<usize>();
    let embedding_bytes = ((embedding.vectors.capacity()
        + floats(&neighbourhood.vectors)
        + floats(&neighbourhood.nearest))
        * size_of::<f32>()) as u64;
    let keys = hamming::candidate_keys(
        &signature::simhashes(&views, dim, HASH_TABLES, HASH_SEED),
        views.len(),
        d,
        |pa, pb| {
            let cosine = signature::dot(views[pa], views[pb]);
            let distance = (2.0 - 2.0 * cosine).max(0.0).sqrt();
            let ln_ratio = (distance / reach[pa].min(reach[pb])).ln();
            (ln_ratio <= max_ln_ratio).then_some(-ln_ratio)
        },
        |_| {},
        COMPARED_PER_IMAGE,
        hamming::pairs_per_code_within(
            settings.memory_budget_bytes,
            held + embedding_bytes,
            views.len(),
            "model-embedding search",
            warnings,
        ),
        "model-embedding search",
        warnings,
        || true,
    );
    let mut pairs: Vec<(usize, usize)> = keys
        .iter()
        .map(|&key| {
            let (pa, pb) = hamming::key_images(key);
            let (a, b) = (embedding.examples[kept[pa]], embedding.examples[kept[pb]]);
            (a.min(b), a.max(b))
        })
        .collect();
    pairs.sort_unstable();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `classes` tight clusters of `per_class` look-alikes (like a classifier's embedding of clear
    /// digits), each vector a class centre plus noise of size `spread`; `planted` pairs are one
    /// vector and a copy moved by a tenth of `spread`.
    fn clustered(classes: usize, per_class: usize, spread: f32, planted: &[usize]) -> Embedding {
        let dim = 16;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut normal = move || rng.sample::<f32, _>(StandardNormal);
        let centres: Vec<Vec<f32>> = (0..classes)
            .map(|_| (0..dim).map(|_| normal()).collect())
            .collect();
        let mut vectors = Vec::new();
        for i in 0..classes * per_class {
            let centre = &centres[i % classes];
            vectors.extend(centre.iter().map(|c| (c + spread * normal()).max(0.0)));
        }
        for &source in planted {
            let copy: Vec<f32> = vectors[source * dim..(source + 1) * dim]
                .iter()
                .map(|v| (v + 0.1 * spread * normal()).max(0.0))
                .collect();
            vectors.extend(copy);
        }
        let n = classes * per_class + planted.len();
        Embedding {
            source: "model.pt".into(),
            examples: (0..n).collect(),
            dim,
            vectors,
        }
    }

    #[test]
    fn planted_copies_stand_out_among_tight_clusters_of_look_alikes() {
        let planted = [3, 50, 222];
        let embedding = clustered(10, 60, 0.15, &planted);
        let found = candidate_pairs(
            &embedding,
            &Neighbourhood::of(&embedding, 5),
            0,
            &ScanSettings::default(),
            |_| false,
            &mut Vec::new(),
        );
        for (k, &source) in planted.iter().enumerate() {
            assert!(found.contains(&(source, 600 + k)), "{found:?}");
        }
        // Every look-alike in a cluster has a neighbour at a high cosine, yet only a few pairs
        // (by chance) stand out like the copies do.
        let unit = embedding.centred_unit_vectors();
        let close = (0..600)
            .filter(|&i| (0..600).any(|j| j != i && signature::dot(&unit[i], &unit[j]) > 0.9))
            .count();
        assert!(close > 300, "{close}");
        assert!(found.len() <= 10, "{found:?}");
    }

    #[test]
    fn skipped_examples_and_a_stricter_threshold_leave_pairs_out() {
        let embedding = clustered(5, 40, 0.15, &[7]);
        let neighbourhood = Neighbourhood::of(&embedding, 5);
        let find = |settings: &ScanSettings, skipped: Option<usize>| {
            candidate_pairs(
                &embedding,
                &neighbourhood,
                0,
                settings,
                |i| Some(i) == skipped,
                &mut Vec::new(),
            )
            .contains(&(7, 200))
        };
        assert!(find(&ScanSettings::default(), None));
        assert!(!find(&ScanSettings::default(), Some(200)));
        let strict = ScanSettings {
            embedding_min_deviations: 1000.0,
            ..ScanSettings::default()
        };
        assert!(!find(&strict, None));
    }
}
