//! The embedding map's cost beside the bhtsne crate's own example, on the same images:
//!     cargo bench --profile dev --bench map -- DATASET [--crate-example | --recall]
//! Without a flag: eyeball's pipeline (thumbnails, PCA to 50, neighbours, FIt-SNE 750
//! iterations), each stage timed. `--crate-example`: the crate's MNIST example settings on the
//! same thumbnails (PCA to 20, its vantage-point tree, Barnes-Hut at theta 0.5, perplexity 30,
//! 1000 iterations). `--recall`: the share of the exact 90 and 10 nearest neighbours that the
//! neighbour search finds, on 1,000 evenly spaced rows. Run under `/usr/bin/time -v` for the
//! peak RSS.

use std::time::Instant;

use eyeball::dataset::Dataset;
use eyeball::jobs::Progress;
use eyeball::map::{
    MapSettings, nearest_neighbours, principal_components, project, thumbnail_features,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: map DATASET [--crate-example]");
    let crate_example = args.iter().any(|a| a == "--crate-example");
    let recall = args.iter().any(|a| a == "--recall");
    let started = Instant::now();
    let dataset = Dataset::open(std::path::Path::new(data)).expect("a dataset folder");
    let examples: Vec<usize> = (0..dataset.examples.len()).collect();
    let progress = Progress::default();
    let features = thumbnail_features(&dataset, &examples, &progress).expect("thumbnails");
    let read_s = started.elapsed().as_secs_f64();
    println!(
        "{} thumbnails read in {read_s:.1} s",
        features.examples.len()
    );
    if recall {
        eyeball::model::init_torch();
        let reduced = principal_components(&features, 50).expect("PCA");
        let (n, dim, k) = (features.examples.len(), reduced.dim, 90);
        let t = Instant::now();
        let found = nearest_neighbours(&reduced.values, dim, k, &progress).expect("neighbours");
        println!(
            "neighbours of {n} rows in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let row = |i: usize| &reduced.values[i * dim..(i + 1) * dim];
        let (mut hits_90, mut hits_10, queries) = (0, 0, 1000.min(n));
        for q in (0..queries).map(|j| j * n / queries) {
            let mut all: Vec<(f32, u32)> = (0..n)
                .filter(|&j| j != q)
                .map(|j| {
                    let d: f32 = row(q)
                        .iter()
                        .zip(row(j))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    (d, j as u32)
                })
                .collect();
            all.select_nth_unstable_by(k, |a, b| a.0.total_cmp(&b.0));
            all[..k].sort_by(|a, b| a.0.total_cmp(&b.0));
            let mine = &found.indices[q * k..(q + 1) * k];
            hits_90 += all[..k].iter().filter(|(_, j)| mine.contains(j)).count();
            hits_10 += all[..10]
                .iter()
                .filter(|(_, j)| mine[..10].contains(j))
                .count();
        }
        println!(
            "recall of the 90 nearest: {:.3}; of the 10 nearest (label disagreement): {:.3}",
            hits_90 as f64 / (queries * k) as f64,
            hits_10 as f64 / (queries * 10) as f64
        );
    } else if crate_example {
        let t = Instant::now();
        let reduced = principal_components(&features, 20).expect("PCA");
        drop(features);
        println!("PCA to 20 in {:.1} s", t.elapsed().as_secs_f64());
        let rows: Vec<&[f32]> = reduced.values.chunks(reduced.dim).collect();
        let t = Instant::now();
        let first_epoch_s = std::cell::Cell::new(None);
        let mut tsne: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&rows);
        tsne.perplexity(30.0)
            .epochs(1000)
            .epoch_callback(|epoch, _| {
                if epoch == 0 {
                    first_epoch_s.set(Some(t.elapsed().as_secs_f64()));
                }
            })
            .barnes_hut(0.5, |a, b| {
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum::<f32>()
                    .sqrt()
            });
        let total_s = t.elapsed().as_secs_f64();
        let first_epoch_s = first_epoch_s.get().unwrap_or(total_s);
        println!(
            "crate example (Barnes-Hut, theta 0.5, 1000 iterations): {total_s:.1} s, of which \
             neighbours and affinities {first_epoch_s:.1} s"
        );
    } else {
        let map = project(features, &MapSettings::default(), &progress).expect("a map");
        for (stage, s) in progress.stage_seconds() {
            println!("  {stage}: {s:.1} s");
        }
        println!(
            "{} points mapped in {:.1} s in all",
            map.len(),
            started.elapsed().as_secs_f64()
        );
    }
}
