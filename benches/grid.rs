//! Grid frame time and memory with 100,000 examples open, through the real app in egui_kittest.
//!     cargo bench --profile dev --bench grid [-- N]
//! Writes N tiny PNGs (default 100,000) to a temp folder, opens it, waits for the index and its
//! stats (not for the background scan), then scrolls the grid and reports the time of each frame
//! (app logic, layout, tessellation; no GPU) and the process's peak RSS; then reopens with the
//! warm index cache and reports the first grid frame and the stats. Also times filter and sort
//! over every row, the query the app runs off the UI thread.
//!     cargo bench --profile dev --bench grid -- --open FOLDER
//! Opens FOLDER with the default index cache (warm after an earlier open or `eyeball index`) in this
//! fresh process, as a user reopening it would, and reports the first grid frame and the stats.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use eyeball::browse::{Filter, Sort, SortKey, find_matches};
use eyeball::index::IndexCache;
use eyeball::ui::app::{AppOptions, EyeballApp};

fn peak_rss_mb() -> f64 {
    eyeball::memory::peak_resident_bytes().unwrap_or(0) as f64 / f64::from(1u32 << 20)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--open") {
        let folder = args.get(at + 1).expect("--open FOLDER");
        reopen(
            AppOptions {
                dataset: Some(folder.into()),
                checkpoints: None,
                index_cache: IndexCache::Default,
                predictions_cache: None,
                review_dir: None,
            },
            &format!("open {folder} in a fresh process"),
        );
        return;
    }
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let classes = 10;
    for class in 0..classes {
        std::fs::create_dir_all(tmp.path().join(format!("class_{class}"))).unwrap();
    }
    for i in 0..count {
        let shade = (i % 251) as u8;
        let img = image::GrayImage::from_fn(16, 16, |x, y| {
            image::Luma([shade.wrapping_add((x * y) as u8)])
        });
        img.save(tmp.path().join(format!("class_{}/{i:06}.png", i % classes)))
            .unwrap();
    }
    eprintln!(
        "wrote {count} images in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let cache = tempfile::tempdir().unwrap();
    let options = || AppOptions {
        dataset: Some(tmp.path().to_path_buf()),
        checkpoints: None,
        index_cache: IndexCache::At(cache.path().to_path_buf()),
        predictions_cache: None,
        review_dir: None,
    };
    let opened = Instant::now();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| EyeballApp::new(cc, options()));
    // Up to the stats: the background scan that follows may still run while the grid scrolls,
    // as it does for a user (at 1M images it takes minutes).
    while harness.state().stats().is_none() {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "opened and indexed in {:.1} s",
        opened.elapsed().as_secs_f64()
    );
    let scanning = |harness: &Harness<'_, EyeballApp>| {
        if harness.state().scan_report().is_none() {
            " (the background scan was running)"
        } else {
            ""
        }
    };
    assert_eq!(harness.state().visible().len(), count);

    let grid_point = egui::pos2(640.0, 400.0);
    harness.event(egui::Event::PointerMoved(grid_point));
    harness.step();
    let mut frame_ms = Vec::new();
    for frame in 0..600 {
        // A steady scroll, plus a big jump every 100 frames (dragging the scroll bar).
        let delta = if frame % 100 == 99 { -20_000.0 } else { -120.0 };
        harness.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, delta),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::NONE,
        });
        let t = Instant::now();
        harness.step();
        frame_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let slow: Vec<String> = (0..frame_ms.len())
        .filter(|&f| frame_ms[f] > 4.0)
        .map(|f| format!("{f}{}", if f % 100 == 99 { " (jump)" } else { "" }))
        .collect();
    frame_ms.sort_by(f64::total_cmp);
    let mean = frame_ms.iter().sum::<f64>() / frame_ms.len() as f64;
    let p = |q: f64| frame_ms[((frame_ms.len() - 1) as f64 * q) as usize];
    println!(
        "grid frame time over {} scrolling frames with {count} examples: mean {mean:.2} ms, median {:.2} ms, p95 {:.2} ms, max {:.2} ms, over 4 ms: {} of them{} (target <= 4 ms){}",
        frame_ms.len(),
        p(0.5),
        p(0.95),
        p(1.0),
        slow.len(),
        if slow.is_empty() {
            String::new()
        } else {
            format!(" (frames {})", slow.join(", "))
        },
        scanning(&harness)
    );
    println!(
        "peak RSS with {count} examples open: {:.0} MB (targets: < 1 GB at 100k, <= 2 GB at 1M)",
        peak_rss_mb()
    );
    // Filter and sort over every row, as the app runs them on a worker for large datasets: sort
    // by a stat, keep a stat range, keep half the classes and a path substring.
    if let (Some(dataset), Some(stats)) = (harness.state().dataset(), harness.state().stats()) {
        let (lo, hi) = stats.bounds("brightness").unwrap_or((0.0, 255.0));
        let queries = [
            (
                "sort by brightness, descending",
                Filter::default(),
                Sort {
                    key: SortKey::Stat("brightness".into()),
                    descending: true,
                },
            ),
            (
                "half the classes, a brightness range, a path substring, sorted by path",
                Filter {
                    labels: (0..classes / 2).collect(),
                    ranges: [("brightness".to_string(), (lo, (lo + hi) / 2.0))].into(),
                    path_contains: "1".into(),
                    ..Filter::default()
                },
                Sort {
                    key: SortKey::Path,
                    descending: false,
                },
            ),
        ];
        for (what, filter, sort) in queries {
            let t = Instant::now();
            let matches = find_matches(dataset, Some(stats), &filter, &sort, 40);
            println!(
                "filter and sort over {count} rows ({what}): {:.0} ms, {} match (target <= 300 ms, off the UI thread)",
                t.elapsed().as_secs_f64() * 1000.0,
                matches.indices.len()
            );
        }
    }
    drop(harness);

    // Reopen with the warm index cache.
    reopen(options(), "reopen with a warm cache");
}

/// Opens the app with `options` and reports the time to the first frame showing the grid, and
/// until the stats are ready.
fn reopen(options: AppOptions, what: &str) {
    let reopened = Instant::now();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| EyeballApp::new(cc, options));
    let mut first_grid_frame_s = None;
    while harness.state().stats().is_none() || first_grid_frame_s.is_none() {
        harness.step();
        if first_grid_frame_s.is_none() && !harness.state().visible().is_empty() {
            first_grid_frame_s = Some(reopened.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "{what}: {} examples, first grid frame after {:.2} s, stats ready after {:.2} s (targets at 1M: < 2 s and < 3 s); peak RSS {:.0} MB",
        harness.state().visible().len(),
        first_grid_frame_s.unwrap_or(f64::NAN),
        reopened.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
}
