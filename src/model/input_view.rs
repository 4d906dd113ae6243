//! "What goes into the net": the exact tensor preprocess.json makes from one image, its numbers,
//! and the tensor turned back into an image.

use std::path::Path;

use serde::Serialize;

use super::{ModelError, Preprocess};

/// The model's input for one example.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputView {
    /// `[1, channels, height, width]`.
    pub shape: Vec<i64>,
    /// Element type of the tensor, as PyTorch names it (`float32`).
    pub dtype: String,
    /// `(min, max, mean)` of each channel, after normalisation.
    pub per_channel: Vec<(f32, f32, f32)>,
    /// The tensor de-normalised (`value * std + mean`, times `scale`) back to 8-bit RGBA:
    /// `(width, height, pixels)`. Grey channels are repeated into R, G and B.
    pub denormalised_rgba: (u32, u32, Vec<u8>),
}

/// Decodes `path` and builds the view of what the model receives for it.
pub fn input_view(preprocess: &Preprocess, path: &Path) -> Result<InputView, ModelError> {
    let image = crate::index::decode(path).map_err(ModelError::Decode)?;
    Ok(view_of_values(preprocess, &preprocess.image_values(&image)))
}

/// The view of `[channels, height, width]` values made by `Preprocess::image_values`.
pub fn view_of_values(preprocess: &Preprocess, values: &[f32]) -> InputView {
    let [height, width] = preprocess.input_size;
    let channels = preprocess.channels as usize;
    let plane = (height * width) as usize;
    let per_channel = (0..channels)
        .map(|c| {
            let channel = &values[c * plane..(c + 1) * plane];
            let min = channel.iter().copied().fold(f32::INFINITY, f32::min);
            let max = channel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (min, max, channel.iter().sum::<f32>() / plane.max(1) as f32)
        })
        .collect();
    let byte = |c: usize, i: usize| {
        let value =
            (values[c * plane + i] * preprocess.std[c] + preprocess.mean[c]) * preprocess.scale;
        value.round().clamp(0.0, 255.0) as u8
    };
    let mut rgba = Vec::with_capacity(plane * 4);
    for i in 0..plane {
        if channels == 3 {
            rgba.extend([byte(0, i), byte(1, i), byte(2, i), 255]);
        } else {
            let grey = byte(0, i);
            rgba.extend([grey, grey, grey, 255]);
        }
    }
    InputView {
        shape: vec![1, channels as i64, height as i64, width as i64],
        dtype: "float32".into(),
        per_channel,
        denormalised_rgba: (width, height, rgba),
    }
}
