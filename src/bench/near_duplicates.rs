//! `eyeball bench near-duplicates`: the Hamming search on synthetic 64-bit hashes, with planted
//! near pairs that must all be found.

use std::time::Instant;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scan::hamming::near_pairs;

/// Figures of one near-duplicate search benchmark.
#[derive(Clone, Debug)]
pub struct NearDuplicateBench {
    pub hashes: usize,
    pub max_distance: u32,
    pub threads: usize,
    /// Pairs planted within `max_distance` (each at a uniformly drawn distance 0..=max_distance).
    pub planted: usize,
    /// Planted pairs the search found.
    pub recovered: usize,
    /// All pairs found (planted ones, and random hashes that happen to be close).
    pub pairs: usize,
    pub search_s: f64,
    /// Resident memory before the search (the hashes are generated) and the process's peak,
    /// from /proc/self/status; `None` where that file does not exist.
    pub rss_before_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
}

impl NearDuplicateBench {
    /// Lines for the terminal.
    pub fn to_text(&self) -> String {
        let mib = |b: Option<u64>| {
            b.map_or("n/a".to_string(), |b| {
                format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
            })
        };
        format!(
            "hashes:            {}\n\
             max distance:      {} bits of 64\n\
             threads:           {}\n\
             search:            {:.2} s (target < 10 s at 1,000,000)\n\
             pairs found:       {}\n\
             planted recovered: {}/{}\n\
             RSS before search: {}\n\
             peak RSS:          {}\n",
            self.hashes,
            self.max_distance,
            self.threads,
            self.search_s,
            self.pairs,
            self.recovered,
            self.planted,
            mib(self.rss_before_bytes),
            mib(self.peak_rss_bytes),
        )
    }
}

/// Generates `hashes` random 64-bit hashes, one in every 100 of them a planted near copy of its
/// neighbour, and times the search for all pairs within `max_distance`.
pub fn bench_near_duplicates(hashes: usize, max_distance: u32) -> NearDuplicateBench {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut codes: Vec<u64> = (0..hashes).map(|_| rng.next_u64()).collect();
    let mut planted = Vec::new();
    for a in (0..hashes.saturating_sub(1)).step_by(100) {
        let flips = rng.random_range(0..=max_distance.min(64) as usize);
        let mut mask = 0u64;
        while mask.count_ones() < flips as u32 {
            mask |= 1 << rng.random_range(0..64);
        }
        codes[a + 1] = codes[a] ^ mask;
        planted.push((a as u32, a as u32 + 1));
    }
    let rss_before_bytes = crate::memory::resident_bytes();
    let started = Instant::now();
    let (pairs, _) = near_pairs(&codes, max_distance, usize::MAX);
    let search_s = started.elapsed().as_secs_f64();
    let recovered = planted
        .iter()
        .filter(|&&(a, b)| pairs.binary_search_by(|p| (p.a, p.b).cmp(&(a, b))).is_ok())
        .count();
    NearDuplicateBench {
        hashes,
        max_distance,
        threads: rayon::current_num_threads(),
        planted: planted.len(),
        recovered,
        pairs: pairs.len(),
        search_s,
        rss_before_bytes,
        peak_rss_bytes: crate::memory::peak_resident_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_bench_recovers_every_planted_pair() {
        let bench = bench_near_duplicates(20_000, 10);
        assert_eq!(bench.planted, 200);
        assert_eq!(bench.recovered, bench.planted);
        assert!(bench.pairs >= bench.planted);
    }
}
