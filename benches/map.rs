//! The embedding map's cost beside the bhtsne crate's own example, on the same images:
//!     cargo bench --profile dev --bench map -- DATASET [--crate-example]
//! Without the flag: eyeball's pipeline (thumbnails, PCA to 50, exact kNN, FIt-SNE 750
//! iterations), each stage timed. With it: the crate's MNIST example settings on the same
//! thumbnails (PCA to 20, its vantage-point tree, Barnes-Hut at theta 0.5, perplexity 30, 1000
//! iterations). Run under `/usr/bin/time -v` for the peak RSS of each.

use std::time::Instant;

use eyeball::dataset::Dataset;
use eyeball::jobs::Progress;
use eyeball::map::{MapSettings, principal_components, project, thumbnail_features};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .expect("usage: map DATASET [--crate-example]");
    let crate_example = args.iter().any(|a| a == "--crate-example");
    let started = Instant::now();
    let dataset = Dataset::open(std::path::Path::new(data)).expect("a dataset folder");
    let examples: Vec<usize> = (0..dataset.examples.len()).collect();
    let progress = Progress::default();
    let features = thumbnail_features(&dataset, &examples, &progress).expect("thumbnails");
    let read_s = started.elapsed().as_secs_f64();
    println!("{} thumbnails read in {read_s:.1} s", features.examples.len());
    if crate_example {
        let t = Instant::now();
        let reduced = principal_components(&features, 20).expect("PCA");
        drop(features);
        println!("PCA to 20 in {:.1} s", t.elapsed().as_secs_f64());
        let rows: Vec<&[f32]> = reduced.values.chunks(reduced.dim).collect();
        let t = Instant::now();
        let mut first_epoch_s = None;
        let mut tsne: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&rows);
        tsne.perplexity(30.0)
            .epochs(1000)
            .epoch_callback(|epoch, _| {
                if epoch == 0 {
                    first_epoch_s = Some(t.elapsed().as_secs_f64());
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
        let first_epoch_s = first_epoch_s.unwrap_or(total_s);
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
