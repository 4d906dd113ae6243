//! Embedding map frame time with every example of a real dataset on it, through the real app in
//! egui_kittest (CPU: app logic, layout and tessellation; no GPU raster):
//!     cargo bench --profile dev --bench embedmap -- DATASET
//! Makes the thumbnail map (cached in a temp folder), then moves the pointer over it for 150
//! frames (the nearest-point search for the hover) and zooms for 150 more.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eyeball::index::IndexCache;
use eyeball::ui::app::{AppOptions, EyeballApp};

fn main() {
    let data = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(std::path::PathBuf::from)
        .expect("usage: embedmap DATASET");
    let cache = tempfile::tempdir().unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| {
            EyeballApp::new(
                cc,
                AppOptions {
                    dataset: Some(data),
                    checkpoints: None,
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
    harness.get_by_label("Embedding map").click();
    wait(&mut harness);
    let started = Instant::now();
    harness.get_by_label("Make the map").click();
    wait(&mut harness);
    let points = harness
        .state()
        .map_state()
        .map
        .as_ref()
        .map_or(0, |m| m.len());
    eprintln!(
        "{points} points mapped in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut frame_ms = Vec::new();
    for frame in 0..300 {
        let t = (frame % 150) as f32 / 150.0;
        let at = egui::pos2(400.0 + 700.0 * t, 200.0 + 400.0 * (1.0 - t));
        harness.event(egui::Event::PointerMoved(at));
        if frame >= 150 {
            // Zoom in for 75 frames, then back out.
            let factor = if frame < 225 { 1.03 } else { 1.0 / 1.03 };
            harness.event(egui::Event::Zoom(factor));
        }
        let started = Instant::now();
        harness.step();
        frame_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    frame_ms.sort_by(f64::total_cmp);
    let mean = frame_ms.iter().sum::<f64>() / frame_ms.len() as f64;
    let p = |q: f64| frame_ms[((frame_ms.len() - 1) as f64 * q) as usize];
    println!(
        "embedding map frame time over {} frames (hover, then zoom) with {points} points: mean \
         {mean:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        frame_ms.len(),
        p(0.5),
        p(0.95),
        p(1.0)
    );
}
