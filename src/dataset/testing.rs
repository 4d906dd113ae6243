//! Fixtures for the layout tests: tiny real PNGs and text files written into a temporary folder.

use std::path::Path;

/// Writes a real `width`×`height` PNG at `root/rel`, creating folders on the way.
pub fn png_sized(root: &Path, rel: &str, width: u32, height: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("fixture paths have a parent"))
        .expect("create fixture folder");
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 90])
    })
    .save(&path)
    .expect("write fixture PNG");
}

/// Writes a small real PNG at `root/rel`.
pub fn png(root: &Path, rel: &str) {
    png_sized(root, rel, 4, 3);
}

/// Writes `text` to `root/rel`, creating folders on the way.
pub fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("fixture paths have a parent"))
        .expect("create fixture folder");
    std::fs::write(path, text).expect("write fixture file");
}

/// Example paths as strings, in dataset order.
pub fn paths(dataset: &super::Dataset) -> Vec<String> {
    dataset
        .examples
        .iter()
        .map(|e| e.path.to_string_lossy().into_owned())
        .collect()
}
