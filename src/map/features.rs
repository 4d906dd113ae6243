//! The thumbnail features of a map: each image's small colour thumbnail, standardised.

use rayon::prelude::*;

use super::{Features, MapError};
use crate::dataset::Dataset;
use crate::jobs::Progress;
use crate::scan::signature::area_resize;

/// Side of the colour thumbnail a map of thumbnails is made of (16×16×3 = 768 values).
pub const THUMB_SIDE: usize = 16;
/// Large JPEGs decode at the DCT scale that keeps at least this long a side: plenty for 16×16.
const DECODE_AT_LEAST_PX: u32 = 64;
/// Below this standard deviation (gray levels) an image is flat, and its vector stays all zeros.
const FLAT_STD: f32 = 0.5;

/// The standardised thumbnail of every readable example of `examples` (see
/// `MapSource::Thumbnails`), decoded on the rayon pool; unreadable ones are left out. Advances
/// `progress` once per example under the stage "reading thumbnails"; cancellable between images.
pub fn thumbnail_features(
    dataset: &Dataset,
    examples: &[usize],
    progress: &Progress,
) -> Result<Features, MapError> {
    progress.start_stage(examples.len());
    progress.set_stage_name("reading thumbnails");
    let rows: Vec<Option<Vec<f32>>> = examples
        .par_iter()
        .map(|&i| {
            if progress.is_cancelled() {
                return None;
            }
            let row = dataset
                .examples
                .get(i)
                .and_then(|example| thumbnail_vector(&dataset.absolute_path(example)));
            progress.advance(1);
            row
        })
        .collect();
    if progress.is_cancelled() {
        return Err(MapError::Cancelled);
    }
    let dim = THUMB_SIDE * THUMB_SIDE * 3;
    let mut features = Features {
        examples: Vec::with_capacity(examples.len()),
        dim,
        values: Vec::with_capacity(examples.len() * dim),
    };
    for (&i, row) in examples.iter().zip(rows) {
        if let Some(row) = row {
            features.examples.push(i);
            features.values.extend(row);
        }
    }
    Ok(features)
}

/// The file's area-averaged RGB thumbnail with its own mean removed and divided by its own
/// standard deviation; `None` when the file cannot be read or decoded.
pub fn thumbnail_vector(path: &std::path::Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    let decoded =
        crate::index::decode_bytes_at_least(path, &bytes, Some(DECODE_AT_LEAST_PX)).ok()?;
    let rgb = decoded.image.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let pixels: Vec<f32> = rgb.as_raw().iter().map(|&v| f32::from(v)).collect();
    let mut thumb = area_resize(&pixels, 3, w, h, THUMB_SIDE, THUMB_SIDE);
    standardise(&mut thumb);
    Some(thumb)
}

/// Zero mean and unit standard deviation; a flat vector becomes all zeros.
fn standardise(values: &mut [f32]) {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt();
    for v in values.iter_mut() {
        *v = if std < FLAT_STD {
            0.0
        } else {
            (*v - mean) / std
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brighter_copy_has_the_same_vector_and_a_flat_image_is_all_zeros() {
        let mut a: Vec<f32> = (0..48).map(|i| (i * 5 % 97) as f32).collect();
        let mut brighter: Vec<f32> = a.iter().map(|v| 2.0 * v + 30.0).collect();
        standardise(&mut a);
        standardise(&mut brighter);
        for (x, y) in a.iter().zip(&brighter) {
            assert!((x - y).abs() < 1e-4, "{x} {y}");
        }
        let norm: f32 = a.iter().map(|v| v * v).sum::<f32>() / a.len() as f32;
        assert!((norm - 1.0).abs() < 1e-4);
        let mut flat = vec![120.0f32; 48];
        standardise(&mut flat);
        assert!(flat.iter().all(|&v| v == 0.0));
    }
}
