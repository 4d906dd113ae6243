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
        let bad = |message: String| ModelError::Sidecar {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let preprocess: Preprocess =
            serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        preprocess.validate().map_err(bad)?;
        Ok(preprocess)
    }

    /// The sidecar for a checkpoints folder or file: `explicit` when given, else `preprocess.json`
    /// in the folder (or beside the file). Missing: an error saying what the file is for.
    pub fn for_checkpoints(
        checkpoints: &Path,
        explicit: Option<&Path>,
    ) -> Result<Preprocess, ModelError> {
        if let Some(path) = explicit {
            return Preprocess::load(path);
        }
        let dir = if checkpoints.is_dir() {
            checkpoints
        } else {
            checkpoints.parent().unwrap_or(Path::new("."))
        };
        match Preprocess::find_in(dir) {
            Some(path) => Preprocess::load(&path),
            None => Err(ModelError::Sidecar {
                path: dir.join(SIDECAR_FILE_NAME),
                message: "not found; eyeball needs it for the input size, channels, mean/std and class names \
                          (format in the README), or pass --preprocess FILE"
                    .into(),
            }),
        }
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
            return Err(format!(
                "resize '{}' is not supported (use \"stretch\")",
                self.resize
            ));
        }
        if self.scale <= 0.0 {
            return Err("scale must be positive".into());
        }
        Ok(())
    }

    /// The `[channels, height, width]` float values fed to the net for one image.
    pub fn image_values(&self, image: &image::DynamicImage) -> Vec<f32> {
        let channels = self.channels as usize;
        let mut hwc = vec![0f32; self.values_per_image()];
        self.write_values_hwc(image, &mut hwc);
        let plane = hwc.len() / channels;
        let mut chw = vec![0f32; hwc.len()];
        for (i, px) in hwc.chunks_exact(channels).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                chw[c * plane + i] = v;
            }
        }
        chw
    }

    /// Number of floats in one image's input: channels × height × width.
    pub fn values_per_image(&self) -> usize {
        (self.channels * self.input_size[0] * self.input_size[1]) as usize
    }

    /// Writes one image's values to `out` in `[height, width, channels]` order, the order of
    /// the pixels in memory, so that no scatter is needed.
    pub fn write_values_hwc(&self, image: &image::DynamicImage, out: &mut [f32]) {
        let [height, width] = self.input_size;
        // Images already at the input size (CIFAR, MNIST) skip the resampling pass.
        let resized = if image.width() == width && image.height() == height {
            std::borrow::Cow::Borrowed(image)
        } else {
            std::borrow::Cow::Owned(image.resize_exact(
                width,
                height,
                image::imageops::FilterType::Triangle,
            ))
        };
        let channels = self.channels as usize;
        let raw: Vec<u8> = if channels == 1 {
            resized.to_luma8().into_raw()
        } else {
            resized.to_rgb8().into_raw()
        };
        // (p / scale - mean) / std as one multiply-add per value.
        let factor: Vec<f32> = self.std.iter().map(|s| 1.0 / (self.scale * s)).collect();
        let offset: Vec<f32> = self
            .mean
            .iter()
            .zip(&self.std)
            .map(|(m, s)| -m / s)
            .collect();
        for (px, dst) in raw
            .chunks_exact(channels)
            .zip(out.chunks_exact_mut(channels))
        {
            for c in 0..channels {
                dst[c] = px[c] as f32 * factor[c] + offset[c];
            }
        }
    }

    /// `[N, H, W, C]` values (from `write_values_hwc`) as the `[N, C, H, W]` tensor the model takes,
    /// in channels-last memory layout: the same values, but oneDNN's CPU convolutions run about
    /// twice as fast on it (`LoadedModel::logits` falls back to contiguous for models that need it).
    pub fn tensor_from_hwc(&self, values: &[f32]) -> Tensor {
        let [height, width] = self.input_size;
        let n = (values.len() / self.values_per_image().max(1)) as i64;
        Tensor::from_slice(values)
            .view([n, height as i64, width as i64, self.channels as i64])
            .permute([0, 3, 1, 2])
    }

    /// Decodes `paths` (in parallel) into one `[N, C, H, W]` float tensor, channels-last in memory.
    pub fn batch(&self, paths: &[PathBuf]) -> Result<Tensor, ModelError> {
        use rayon::prelude::*;
        let per_image = self.values_per_image();
        let mut values = vec![0f32; paths.len() * per_image];
        values
            .par_chunks_mut(per_image)
            .zip(paths.par_iter())
            .try_for_each(|(out, path)| {
                let image = crate::index::decode(path).map_err(ModelError::Decode)?;
                self.write_values_hwc(&image, out);
                Ok::<(), ModelError>(())
            })?;
        Ok(self.tensor_from_hwc(&values))
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
        let image = image::DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(2, 2, vec![0, 255, 255, 0]).unwrap(),
        );
        assert_eq!(
            mnist_like().image_values(&image),
            vec![-1.0, 1.0, 1.0, -1.0]
        );
        let rgb = Preprocess {
            channels: 3,
            mean: vec![0.0; 3],
            std: vec![1.0; 3],
            ..mnist_like()
        };
        let red = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            2,
            2,
            image::Rgb([255, 0, 0]),
        ));
        assert_eq!(
            rgb.image_values(&red),
            vec![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn a_batch_is_nchw_with_channels_last_strides() {
        let rgb = Preprocess {
            channels: 3,
            mean: vec![0.0; 3],
            std: vec![1.0; 3],
            ..mnist_like()
        };
        let hwc: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let t = rgb.tensor_from_hwc(&hwc);
        assert_eq!(t.size(), vec![2, 3, 2, 2]);
        assert_eq!(t.stride(), vec![12, 1, 6, 3]);
        // Image 1, channel 2, pixel (0, 1): hwc index 12 + (0 * 2 + 1) * 3 + 2.
        assert_eq!(t.double_value(&[1, 2, 0, 1]), 17.0);
    }

    #[test]
    fn rejects_a_sidecar_whose_mean_does_not_match_its_channels() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(SIDECAR_FILE_NAME);
        std::fs::write(
            &path,
            r#"{"input_size":[28,28],"channels":3,"mean":[0.1],"std":[0.3],"class_names":["a"]}"#,
        )
        .unwrap();
        let msg = Preprocess::load(&path).unwrap_err().to_string();
        assert!(
            msg.contains("preprocess.json") && msg.contains("channels is 3"),
            "{msg}"
        );
    }
}
