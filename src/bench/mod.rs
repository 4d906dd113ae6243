//! Benchmarks behind `eyeball bench`: each measures one pipeline on real files against a baseline
//! from the same run (decode-only, PyTorch, an answer key), and reports what it saw.

pub mod index;
pub mod inference;
pub mod near_duplicates;
pub mod planted;

pub use index::{BenchReport, bench_index, decode_only_seconds};
pub use near_duplicates::{NearDuplicateBench, bench_near_duplicates};
pub use planted::{
    KeyCounts, KeyPair, PlantedBench, bench_duplicates, key_table, pairs_table, read_key,
};
