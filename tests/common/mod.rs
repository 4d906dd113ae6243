//! Fixtures shared by the integration tests: small real image folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the eyeball binary with `args`.
pub fn eyeball(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eyeball"))
        .args(args)
        .output()
        .expect("failed to run eyeball")
}

/// Runs eyeball with its caches in `cache` (predictions are cached under XDG_CACHE_HOME).
pub fn eyeball_with_cache(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eyeball"))
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("failed to run eyeball")
}

/// Writes `count` real PNGs for each `(split, class, count)`; split "" means no split folder.
pub fn image_folder(root: &Path, spec: &[(&str, &str, usize)]) {
    for (k, (split, class, count)) in spec.iter().enumerate() {
        let dir = if split.is_empty() {
            root.join(class)
        } else {
            root.join(split).join(class)
        };
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..*count {
            let shade = (40 * k + 7 * i) as u8;
            let img = image::RgbImage::from_fn(24, 20, |x, y| {
                image::Rgb([shade, (x * 10) as u8, (y * 12) as u8])
            });
            img.save(dir.join(format!("{class}_{i}.png"))).unwrap();
        }
    }
}

/// Saves `image` over `path` with a modification time 5 s ahead: an edit after indexing.
pub fn save_later(image: &image::RgbImage, path: &Path) {
    image.save(path).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

/// The bundled demo's folders, inside the repo.
pub fn demo_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/data")
}

pub fn demo_checkpoints() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/checkpoints")
}
