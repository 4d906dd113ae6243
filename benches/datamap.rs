//! Data map frame time with every example of a real dataset on it, through the real app in
//! egui_kittest (CPU: app logic, layout and tessellation; no GPU raster):
//!     cargo bench --profile dev --bench datamap -- DATASET CHECKPOINTS_DIR
//! Runs every checkpoint over the dataset first (cached in a temp folder), then moves the pointer
//! over the map for 300 frames, which also runs the nearest-point search for the hover.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eyeball::index::IndexCache;
use eyeball::ui::app::{AppOptions, EyeballApp};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [data, checkpoints] = [&args[0], &args[1]].map(std::path::PathBuf::from);
    let cache = tempfile::tempdir().unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| {
            EyeballApp::new(
                cc,
                AppOptions {
                    dataset: Some(data),
                    checkpoints: Some(checkpoints),
                    index_cache: IndexCache::At(cache.path().join("index")),
                    predictions_cache: Some(cache.path().join("predictions")),
                    review_dir: Some(cache.path().join("reviews")),
                },
            )
        });
    let wait = |harness: &mut Harness<'_, EyeballApp>| {
        harness.step();
        while harness.state().is_busy() {
            harness.step();
            std::thread::sleep(Duration::from_millis(20));
        }
        harness.step();
    };
    wait(&mut harness);
    harness.get_by_label("Hide stats").click();
    wait(&mut harness);
    harness.get_by_label("Data map").click();
    wait(&mut harness);
    let started = Instant::now();
    harness.get_by_label("Score with every checkpoint").click();
    wait(&mut harness);
    let dynamics = harness.state().label_review().dynamics.clone().unwrap();
    eprintln!(
        "{} examples over {} checkpoints in {:.1} s",
        dynamics.examples.len(),
        dynamics.checkpoints.len(),
        started.elapsed().as_secs_f64()
    );
    let mut frame_ms = Vec::new();
    for frame in 0..300 {
        let t = frame as f32 / 300.0;
        harness.event(egui::Event::PointerMoved(egui::pos2(
            400.0 + 700.0 * t,
            150.0 + 450.0 * (1.0 - t),
        )));
        let started = Instant::now();
        harness.step();
        frame_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    frame_ms.sort_by(f64::total_cmp);
    let mean = frame_ms.iter().sum::<f64>() / frame_ms.len() as f64;
    let p = |q: f64| frame_ms[((frame_ms.len() - 1) as f64 * q) as usize];
    println!(
        "data map frame time over {} frames with {} points: mean {mean:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        frame_ms.len(),
        dynamics.examples.len(),
        p(0.5),
        p(0.95),
        p(1.0)
    );
}
