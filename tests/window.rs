//! The real app in a real window under Xvfb: the screenshot must show the demo, not a blank frame.

use std::path::Path;
use std::process::Command;

#[test]
fn the_demo_window_renders_under_xvfb() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("window.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/screenshot.sh");
    let out = Command::new(&script)
        .arg(env!("CARGO_BIN_EXE_eyeball"))
        .arg(&png)
        .env("SCREENSHOT_DELAY_S", "4")
        // Its index cache in the temp folder: a test must not evict the user's caches.
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .output()
        .expect("failed to run scripts/screenshot.sh");
    assert!(
        out.status.success(),
        "screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let shot = image::open(&png).unwrap().to_rgb8();
    assert!(
        shot.width() >= 640 && shot.height() >= 400,
        "window is {}x{}",
        shot.width(),
        shot.height()
    );
    let mut colours = std::collections::HashSet::new();
    let mut luma_sum = 0f64;
    let mut luma_sq = 0f64;
    for p in shot.pixels() {
        colours.insert(p.0);
        let l = 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
        luma_sum += l;
        luma_sq += l * l;
    }
    let n = (shot.width() * shot.height()) as f64;
    let std = (luma_sq / n - (luma_sum / n).powi(2)).sqrt();
    // Text, class colours and digit thumbnails give hundreds of colours and real contrast.
    assert!(
        colours.len() > 200,
        "only {} colours: blank window?",
        colours.len()
    );
    assert!(std > 10.0, "luma std {std:.1}: blank window?");
    if let Ok(dir) = std::env::var("EYEBALL_SCREENSHOT_DIR") {
        std::fs::copy(&png, Path::new(&dir).join("window.png")).unwrap();
    }
}
