//! The preprocessing sidecar (`preprocess.json` next to the checkpoints) and the exact
//! tensor it produces from an image file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::ModelError;

/// File name eyeball looks for next to the checkpoints.
pub const SIDECAR_FILE_NAME: &str = "preprocess.json";

/// How an image becomes the model's input. Documented in the README.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// Format tag, `eyeball-preprocess/1`.
    #[serde(default = "default_format")]
    pub format: String,
    /// `[height, width]` of the input tensor.
    pub input_size: [u32; 2],
    /// 1 (grayscale) or 3 (RGB).
    pub channels: u32,
    /// `stretch` (ignore aspect ratio) is the only mode so far.
    #[serde(default = "default_resize")]
    pub resize: String,
    /// Pixels are divided by this before normalising (255 maps 8-bit images to 0..1).
    #[serde(default = "default_scale")]
    pub scale: f32,
    /// Per-channel mean, subtracted after scaling.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation, divided by after subtracting the mean.
    pub std: Vec<f32>,
    /// Class names in the order of the model's outputs.
    pub class_names: Vec<String>,
}

fn default_format() -> String {
    "eyeball-preprocess/1".into()
}
fn default_resize() -> String {
    "stretch".into()
}
fn default_scale() -> f32 {
    255.0
}

impl Preprocess {
    /// Reads and validates a sidecar file.
    pub fn load(path: &Path) -> Result<Preprocess, ModelError> {
        let bad = |message: String| ModelError::Sidecar { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let preprocess: Preprocess = serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        preprocess.validate().map_err(bad)?;
        Ok(preprocess)
    }

    /// Looks for `preprocess.json` in `dir`.
    pub fn find_in(dir: &Path) -> Option<PathBuf> {
        let path = dir.join(SIDECAR_FILE_NAME);
        path.is_file().then_some(path)
    }

    fn validate(&self) -> Result<(), String> {
        if self.channels != 1 && self.channels != 3 {
            return Err(format!("channels must be 1 or 3, not {}", self.channels));
        }
        let channels = self.channels as usize;
        if self.mean.len() != channels || self.std.len() != channels {
            return Err(format!(
                "mean has {} values and std {}, but channels is {}",
                self.mean.len(),
                self.std.len(),
                self.channels
            ));
        }
        if self.std.iter().any(|s| *s <= 0.0) {
            return Err("every std value must be positive".into());
        }
        if self.input_size.contains(&0) {
            return Err("input_size must be [height, width], both positive".into());
        }
        if self.resize != "stretch" {
            return Err(format!("resize '{}' is not supported (use \"stretch\")", self.resize));
        }
        if self.scale <= 0.0 {
            return Err("scale must be positive".into());
        }
        Ok(())
    }

    /// The `[channels, height, width]` float values fed to the net for one image.
    pub fn image_values(&self, image: &image::DynamicImage) -> Vec<f32> {
        let [height, width] = self.input_size;
        let resized = image.resize_exact(width, height, image::imageops::FilterType::Triangle);
        let channels = self.channels as usize;
        let plane = (width * height) as usize;
        let mut values = vec![0f32; channels * plane];
        let raw: Vec<u8> = if channels == 1 { resized.to_luma8().into_raw() } else { resized.to_rgb8().into_raw() };
        for (i, px) in raw.chunks_exact(channels).enumerate() {
            for c in 0..channels {
                values[c * plane + i] = (px[c] as f32 / self.scale - self.mean[c]) / self.std[c];
            }
        }
        values
    }

    /// Decodes `paths` and stacks them into one `[N, C, H, W]` float tensor.
    pub fn batch(&self, paths: &[PathBuf]) -> Result<Tensor, ModelError> {
        let [height, width] = self.input_size;
        let mut values = Vec::with_capacity(paths.len() * (self.channels * height * width) as usize);
        for path in paths {
            let image = crate::index::decode(path).map_err(ModelError::Decode)?;
            values.extend(self.image_values(&image));
        }
        Ok(Tensor::from_slice(&values).view([paths.len() as i64, self.channels as i64, height as i64, width as i64]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mnist_like() -> Preprocess {
        Preprocess {
            format: default_format(),
            input_size: [2, 2],
            channels: 1,
            resize: default_resize(),
            scale: 255.0,
            mean: vec![0.5],
            std: vec![0.5],
            class_names: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn normalises_pixels_channel_first() {
        let image = image::DynamicImage::ImageLuma8(image::GrayImage::from_raw(2, 2, vec![0, 255, 255, 0]).unwrap());
        assert_eq!(mnist_like().image_values(&image), vec![-1.0, 1.0, 1.0, -1.0]);
        let rgb = Preprocess { channels: 3, mean: vec![0.0; 3], std: vec![1.0; 3], ..mnist_like() };
        let red = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(2, 2, image::Rgb([255, 0, 0])));
        assert_eq!(rgb.image_values(&red), vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn rejects_a_sidecar_whose_mean_does_not_match_its_channels() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SIDECAR_FILE_NAME);
        std::fs::write(&path, r#"{"input_size":[28,28],"channels":3,"mean":[0.1],"std":[0.3],"class_names":["a"]}"#)
            .unwrap();
        let msg = Preprocess::load(&path).unwrap_err().to_string();
        assert!(msg.contains("preprocess.json") && msg.contains("channels is 3"), "{msg}");
    }
}
