//! `eyeball bench index`: how much indexing costs over decoding alone, and how fast a warm cache
//! reopens. Same files, same rayon pool for every measurement.

use std::time::Instant;

use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::index::{IndexCache, IndexError, build_index, decode};
use crate::jobs::Progress;

/// Timings of one benchmark run.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub images: usize,
    pub threads: usize,
    /// Reading every file once first, so the page cache is warm for all measurements.
    pub read_s: f64,
    /// Decoding every image (with orientation), results dropped.
    pub decode_s: f64,
    /// `build_index` without a cache.
    pub index_s: f64,
    /// `build_index` into an empty cache (decodes everything and writes the Parquet file).
    pub cold_cache_s: f64,
    /// `build_index` again with that cache: reads it and checks every file's size and time.
    pub warm_cache_s: f64,
    /// Files the warm build decoded (should be 0).
    pub warm_decoded: usize,
}

impl BenchReport {
    /// Index time over decode time; the target is at most 1.5.
    pub fn ratio(&self) -> f64 {
        self.index_s / self.decode_s
    }

    /// Lines for the terminal.
    pub fn to_text(&self) -> String {
        let rate = |s: f64| self.images as f64 / s;
        format!(
            "images:                 {}\n\
             threads:                {}\n\
             read files (warm-up):   {:.2} s\n\
             decode only:            {:.2} s ({:.0} images/s)\n\
             index, no cache:        {:.2} s ({:.0} images/s)\n\
             index / decode:         {:.2} (target ≤ 1.5)\n\
             index into empty cache: {:.2} s\n\
             reopen, warm cache:     {:.3} s ({} decoded; target < 1 s at 60k images)\n",
            self.images,
            self.threads,
            self.read_s,
            self.decode_s,
            rate(self.decode_s),
            self.index_s,
            rate(self.index_s),
            self.ratio(),
            self.cold_cache_s,
            self.warm_cache_s,
            self.warm_decoded,
        )
    }
}

/// Seconds to read and decode every file of `paths` on the rayon pool, and nothing else: the
/// baseline a pipeline over the same files is compared with.
pub fn decode_only_seconds(paths: &[std::path::PathBuf]) -> f64 {
    let started = Instant::now();
    paths.par_iter().for_each(|p| {
        let _ = decode(p);
    });
    started.elapsed().as_secs_f64()
}

/// Benchmarks indexing the first `limit` examples of `dataset` (all when `None`). The cache goes to
/// a temporary folder that is removed afterwards.
pub fn bench_index(dataset: &Dataset, limit: Option<usize>) -> Result<BenchReport, IndexError> {
    let mut dataset = dataset.clone();
    if let Some(limit) = limit {
        dataset.examples.truncate(limit);
    }
    let paths: Vec<_> = dataset
        .examples
        .iter()
        .map(|e| dataset.absolute_path(e))
        .collect();

    let started = Instant::now();
    paths.par_iter().for_each(|p| {
        let _ = std::fs::read(p);
    });
    let read_s = started.elapsed().as_secs_f64();

    let decode_s = decode_only_seconds(&paths);

    let started = Instant::now();
    build_index(&dataset, IndexCache::None, &Progress::default())?;
    let index_s = started.elapsed().as_secs_f64();

    let cache_dir = std::env::temp_dir().join(format!("eyeball-bench-{}", std::process::id()));
    let cached = (|| {
        let cache = IndexCache::At(cache_dir.clone());
        let started = Instant::now();
        build_index(&dataset, cache.clone(), &Progress::default())?;
        let cold_cache_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let warm = build_index(&dataset, cache, &Progress::default())?;
        Ok::<_, IndexError>((cold_cache_s, started.elapsed().as_secs_f64(), warm.decoded))
    })();
    let _ = std::fs::remove_dir_all(&cache_dir);
    let (cold_cache_s, warm_cache_s, warm_decoded) = cached?;

    Ok(BenchReport {
        images: paths.len(),
        threads: rayon::current_num_threads(),
        read_s,
        decode_s,
        index_s,
        cold_cache_s,
        warm_cache_s,
        warm_decoded,
    })
}
