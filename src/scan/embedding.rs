//! The model's view of the images: one vector per example (a checkpoint's penultimate layer),
//! searched for near duplicates by cosine similarity and used as the kNN outlier embedding.

use rayon::prelude::*;

use super::duplicates::NearPair;
use super::hamming::{self, HashPair, SplitMix64};
use super::signature;
use super::{MAX_CANDIDATE_PAIRS, ScanSettings};
use crate::index::Index;

/// Random-hyperplane hash tables searched for candidate pairs. At a cosine of 0.9 two vectors
/// differ in about 9 of 64 bits, within the default radius of most tables.
const HASH_TABLES: usize = 8;
const HASH_SEED: u64 = 0xE3BE_DD1E_5EED_0001;
/// Dimensions a long embedding is randomly projected to for the kNN outlier search.
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

    /// `centred_unit_vectors`, randomly projected to `PROJECTED_DIM` when longer (distances keep
    /// their order well enough to rank outliers).
    pub fn outlier_vectors(&self) -> Vec<Vec<f32>> {
        let unit = self.centred_unit_vectors();
        if self.dim <= PROJECTED_DIM {
            return unit;
        }
        let mut rng = SplitMix64::new(HASH_SEED ^ 0x0D15);
        let scale = 1.0 / (PROJECTED_DIM as f32).sqrt();
        let projection: Vec<f32> = (0..PROJECTED_DIM * self.dim)
            .map(|_| rng.normal() * scale)
            .collect();
        unit.par_iter()
            .map(|v| {
                projection
                    .chunks_exact(self.dim)
                    .map(|row| signature::dot(row, v))
                    .collect()
            })
            .collect()
    }
}

/// Pairs whose centred embeddings have a cosine of `embedding_min_cosine` or more, strongest
/// first. Candidates come from random-hyperplane hashes within `near_duplicate_max_distance`
/// bits, never from all pairs. `skip(i)` leaves an example out (an exact copy of another).
pub fn near_pairs(
    embedding: &Embedding,
    index: &Index,
    settings: &ScanSettings,
    skip: impl Fn(usize) -> bool + Sync,
    warnings: &mut Vec<String>,
) -> Vec<NearPair> {
    let unit = embedding.centred_unit_vectors();
    let kept: Vec<usize> = (0..embedding.len())
        .filter(|&p| !skip(embedding.examples[p]))
        .collect();
    if kept.len() < 2 {
        return Vec::new();
    }
    let views: Vec<&[f32]> = kept.iter().map(|&p| unit[p].as_slice()).collect();
    let d = settings.near_duplicate_max_distance;
    let mut keys: Vec<u64> = Vec::new();
    for codes in signature::simhashes(&views, embedding.dim, HASH_TABLES, HASH_SEED) {
        let (found, truncated) = hamming::near_pairs(&codes, d, MAX_CANDIDATE_PAIRS);
        if truncated {
            warnings.push(format!(
                "model-embedding search stopped at {MAX_CANDIDATE_PAIRS} candidate pairs; lower the distance ({d}) to see them all"
            ));
        }
        keys.extend(
            found
                .iter()
                .map(|&HashPair { a, b, .. }| (u64::from(a) << 32) | u64::from(b)),
        );
        keys.sort_unstable();
        keys.dedup();
    }
    let min_cosine = settings.embedding_min_cosine;
    let mut pairs: Vec<NearPair> = keys
        .par_iter()
        .filter_map(|&key| {
            let (pa, pb) = ((key >> 32) as usize, (key & 0xFFFF_FFFF) as usize);
            let cosine = signature::dot(views[pa], views[pb]);
            (cosine >= min_cosine).then(|| {
                let (a, b) = (embedding.examples[kept[pa]], embedding.examples[kept[pb]]);
                NearPair {
                    a: a.min(b),
                    b: a.max(b),
                    similarity: cosine,
                    distance: (index.records[a].phash ^ index.records[b].phash).count_ones(),
                }
            })
        })
        .collect();
    pairs.sort_by(|x, y| {
        y.similarity
            .total_cmp(&x.similarity)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    pairs
}
