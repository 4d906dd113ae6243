//! "What goes into the net": each step from file to tensor (opened, resized, cropped), the exact
//! tensor preprocess.json makes, its numbers, and the tensor turned back into an image.

use std::path::Path;

use serde::Serialize;

use super::pil::Pixels8;
use super::{ModelError, Preprocess};

/// Step images are shrunk to this longer side for display (their sizes are the real ones).
const STEP_DISPLAY_MAX_PX: u32 = 512;

/// One intermediate image on the way into the net.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputStep {
    /// "opened", "resized (shorter side 256, bilinear)", "center crop".
    pub name: String,
    /// The image's real `[width, height]` at this step.
    pub size: [u32; 2],
    /// `(width, height, rgba)` for display, at most `STEP_DISPLAY_MAX_PX` on the longer side.
    #[serde(skip)]
    pub display_rgba: (u32, u32, Vec<u8>),
}

/// The model's input for one example.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputView {
    /// File to tensor, in order.
    pub steps: Vec<InputStep>,
    /// Set when the file's EXIF orientation turns it and the net sees it otherwise than the
    /// (upright) grid and detail view show it.
    pub orientation_note: Option<String>,
    /// The equivalent torchvision pipeline.
    pub torchvision: String,
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
    use image::metadata::Orientation;
    let steps = preprocess.steps(path)?;
    let mut view = view_of_values(preprocess, &preprocess.image_values(steps.last()));
    let interpolation = preprocess.interpolation.name();
    let resize_name = match preprocess.resize {
        super::preprocess::ResizeMode::ShorterSide => format!(
            "resized (shorter side {}, {interpolation})",
            preprocess.resize_size.unwrap_or_default()
        ),
        _ => format!("resized ({interpolation})"),
    };
    let opened = if steps.opened.transposed {
        "opened (EXIF orientation applied)"
    } else {
        "opened"
    };
    view.steps = [
        Some((opened.to_string(), &steps.opened.pixels)),
        steps.resized.as_ref().map(|p| (resize_name, p)),
        steps
            .cropped
            .as_ref()
            .map(|p| ("center crop".to_string(), p)),
    ]
    .into_iter()
    .flatten()
    .map(|(name, pixels)| InputStep {
        name,
        size: pixels.size(),
        display_rgba: display_rgba(pixels),
    })
    .collect();
    view.orientation_note = (steps.opened.orientation != Orientation::NoTransforms
        && !steps.opened.transposed)
        .then(|| {
            format!(
                "the file's EXIF orientation ({:?}) turns it for viewing, but the net sees it as stored, \
                 as torchvision's pil_loader does; set \"exif_transpose\": true in preprocess.json if \
                 training called ImageOps.exif_transpose",
                steps.opened.orientation
            )
        });
    Ok(view)
}

fn display_rgba(pixels: &Pixels8) -> (u32, u32, Vec<u8>) {
    let rgba = image::RgbaImage::from_raw(pixels.width, pixels.height, pixels.to_rgba())
        .expect("4 bytes per pixel");
    let rgba = if pixels.width.max(pixels.height) > STEP_DISPLAY_MAX_PX {
        image::DynamicImage::ImageRgba8(rgba)
            .thumbnail(STEP_DISPLAY_MAX_PX, STEP_DISPLAY_MAX_PX)
            .to_rgba8()
    } else {
        rgba
    };
    (rgba.width(), rgba.height(), rgba.into_raw())
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
        steps: Vec::new(),
        orientation_note: None,
        torchvision: preprocess.torchvision_compose(),
        shape: vec![1, channels as i64, height as i64, width as i64],
        dtype: "float32".into(),
        per_channel,
        denormalised_rgba: (width, height, rgba),
    }
}
