//! The preprocessing sidecar (`preprocess.json` next to the checkpoints) and the exact
//! tensor it produces from an image file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::ModelError;
use super::pil::{self, Interpolation, Pixels8};
use crate::index::DecodeError;

/// File name eyeball looks for next to the checkpoints.
pub const SIDECAR_FILE_NAME: &str = "preprocess.json";

/// Largest input or resize side a sidecar may ask for.
pub const MAX_SIDE_PX: u32 = 8192;

/// How an image becomes the model's input, as a torchvision pipeline would make it:
/// `pil_loader`, then `Resize`, `CenterCrop`, `ToTensor` and `Normalize`. Documented in the README.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// Format tag: `eyeball-preprocess/2`, or `/1` for files written before resizing had options.
    #[serde(default = "default_format")]
    pub format: String,
    /// `[height, width]` of the input tensor.
    pub input_size: [u32; 2],
    /// 1 (`convert("L")`) or 3 (`convert("RGB")`).
    pub channels: u32,
    /// How the image is resized before the crop.
    #[serde(default)]
    pub resize: ResizeMode,
    /// The shorter side's length for `resize: shorter_side` (`Resize(int)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_size: Option<u32>,
    /// The resampling filter, PIL's (`InterpolationMode`).
    #[serde(default)]
    pub interpolation: Interpolation,
    /// `center` crops to `input_size` after resizing (`CenterCrop`).
    #[serde(default)]
    pub crop: CropMode,
    /// Pixels are divided by this before normalising (255 maps 8-bit images to 0..1, as `ToTensor`).
    #[serde(default = "default_scale")]
    pub scale: f32,
    /// Per-channel mean, subtracted after scaling.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation, divided by after subtracting the mean.
    pub std: Vec<f32>,
    /// Class names in the order of the model's outputs.
    pub class_names: Vec<String>,
    /// Apply the EXIF orientation first (`ImageOps.exif_transpose`); `pil_loader` does not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exif_transpose: bool,
}

/// The `resize` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// To `input_size`, ignoring the aspect ratio: `Resize((h, w))`.
    #[default]
    Stretch,
    /// The shorter side to `resize_size`, keeping the aspect ratio: `Resize(int)`.
    ShorterSide,
    /// No resize.
    #[serde(rename = "none")]
    Keep,
}

/// The `crop` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropMode {
    /// No crop.
    #[default]
    #[serde(rename = "none")]
    Keep,
    /// `CenterCrop(input_size)`.
    Center,
}

/// The intermediate images of one file's trip into the net, for "what goes into the net".
pub struct InputSteps {
    /// As `pil_loader` opened and converted it.
    pub opened: pil::Opened,
    /// After `resize`, when it changed the size.
    pub resized: Option<Pixels8>,
    /// After `crop`, when it changed the size.
    pub cropped: Option<Pixels8>,
}

impl InputSteps {
    /// The pixels that become the tensor.
    pub fn last(&self) -> &Pixels8 {
        self.cropped
            .as_ref()
            .or(self.resized.as_ref())
            .unwrap_or(&self.opened.pixels)
    }
}

fn default_format() -> String {
    "eyeball-preprocess/1".into()
}
fn default_scale() -> f32 {
    255.0
}

/// The sidecar's settings whose values are names, with the names allowed; checked before serde
/// so that the message names the field.
const NAMED_VALUES: &[(&str, &[&str])] = &[
    ("resize", &["stretch", "shorter_side", "none"]),
    (
        "interpolation",
        &["nearest", "bilinear", "bicubic", "lanczos"],
    ),
    ("crop", &["none", "center"]),
    ("format", &["eyeball-preprocess/1", "eyeball-preprocess/2"]),
];

impl Preprocess {
    /// Reads and validates a sidecar file.
    pub fn load(path: &Path) -> Result<Preprocess, ModelError> {
        let bad = |message: String| ModelError::Sidecar {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        Preprocess::parse(&text).map_err(bad)
    }

    /// Parses and validates a sidecar's text; the error names the field.
    pub fn parse(text: &str) -> Result<Preprocess, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        for (field, allowed) in NAMED_VALUES {
            match value.get(field) {
                None => {}
                Some(serde_json::Value::String(name)) if allowed.contains(&name.as_str()) => {}
                Some(other) => {
                    return Err(format!(
                        "{field}: {other} is not one of {}",
                        allowed.join(", ")
                    ));
                }
            }
        }
        let preprocess: Preprocess =
            serde_json::from_value(value).map_err(|e| format!("invalid sidecar: {e}"))?;
        preprocess.validate()?;
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
            return Err(format!("channels: must be 1 or 3, not {}", self.channels));
        }
        let channels = self.channels as usize;
        for (field, values) in [("mean", &self.mean), ("std", &self.std)] {
            if values.len() != channels {
                return Err(format!(
                    "{field}: has {} values, but channels is {}",
                    values.len(),
                    self.channels
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(format!("{field}: every value must be a finite number"));
            }
        }
        if self.std.iter().any(|s| *s <= 0.0) {
            return Err("std: every value must be positive".into());
        }
        if self.input_size.contains(&0) || self.input_size.iter().any(|&s| s > MAX_SIDE_PX) {
            return Err(format!(
                "input_size: must be [height, width], each 1 to {MAX_SIDE_PX}, not {:?}",
                self.input_size
            ));
        }
        match (self.resize, self.resize_size) {
            (ResizeMode::ShorterSide, None) => {
                return Err("resize_size: needed by resize \"shorter_side\" (Resize(int))".into());
            }
            (ResizeMode::ShorterSide, Some(size)) if size == 0 || size > MAX_SIDE_PX => {
                return Err(format!(
                    "resize_size: must be 1 to {MAX_SIDE_PX}, not {size}"
                ));
            }
            (ResizeMode::Stretch | ResizeMode::Keep, Some(_)) => {
                return Err(
                    "resize_size: only used by resize \"shorter_side\"; stretch resizes to input_size".into(),
                );
            }
            _ => {}
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err("scale: must be positive".into());
        }
        Ok(())
    }

    /// Opens `path` as `pil_loader` does and takes it through resize and crop, keeping each step.
    pub fn steps(&self, path: &Path) -> Result<InputSteps, ModelError> {
        let opened = pil::open(path, self.channels as usize, self.exif_transpose)
            .map_err(ModelError::Decode)?;
        let [height, width] = self.input_size;
        let target = match self.resize {
            ResizeMode::Stretch => Some([width, height]),
            ResizeMode::ShorterSide => Some(pil::shorter_side_size(
                opened.pixels.size(),
                self.resize_size.unwrap_or(height.min(width)),
            )),
            ResizeMode::Keep => None,
        };
        let resized = target
            .filter(|&size| size != opened.pixels.size())
            .map(|[w, h]| pil::resize(&opened.pixels, w, h, self.interpolation));
        let before_crop = resized.as_ref().unwrap_or(&opened.pixels);
        let cropped = (self.crop == CropMode::Center && before_crop.size() != [width, height])
            .then(|| pil::center_crop(before_crop, height, width));
        let steps = InputSteps {
            opened,
            resized,
            cropped,
        };
        let last = steps.last();
        if last.size() != [width, height] {
            return Err(ModelError::Decode(DecodeError {
                path: path.to_path_buf(),
                message: format!(
                    "is {}×{} after resize \"{}\" and crop \"{}\", but preprocess.json's input_size is \
                     [{height}, {width}] (height, width); use crop \"center\" or resize \"stretch\"",
                    last.width,
                    last.height,
                    self.resize_name(),
                    if self.crop == CropMode::Center {
                        "center"
                    } else {
                        "none"
                    },
                ),
            }));
        }
        Ok(steps)
    }

    /// The sidecar's name of `resize`.
    pub fn resize_name(&self) -> &'static str {
        match self.resize {
            ResizeMode::Stretch => "stretch",
            ResizeMode::ShorterSide => "shorter_side",
            ResizeMode::Keep => "none",
        }
    }

    /// Writes the values of the image at `path` into `out` (`[height, width, channels]`).
    pub fn write_file_values_hwc(&self, path: &Path, out: &mut [f32]) -> Result<(), ModelError> {
        let steps = self.steps(path)?;
        self.write_values_hwc(steps.last(), out);
        Ok(())
    }

    /// The `[channels, height, width]` values fed to the net for the file at `path`.
    pub fn file_values(&self, path: &Path) -> Result<Vec<f32>, ModelError> {
        let steps = self.steps(path)?;
        Ok(self.image_values(steps.last()))
    }

    /// The `[channels, height, width]` float values of pixels already at `input_size`.
    pub fn image_values(&self, pixels: &Pixels8) -> Vec<f32> {
        let channels = self.channels as usize;
        let mut hwc = vec![0f32; self.values_per_image()];
        self.write_values_hwc(pixels, &mut hwc);
        let plane = hwc.len() / channels;
        let mut chw = vec![0f32; hwc.len()];
        for (i, px) in hwc.chunks_exact(channels).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                chw[c * plane + i] = v;
            }
        }
        chw
    }

    /// The equivalent torchvision pipeline, as Python to paste into a training script.
    pub fn torchvision_compose(&self) -> String {
        let [height, width] = self.input_size;
        let mode = match self.interpolation {
            Interpolation::Nearest => "NEAREST",
            Interpolation::Bilinear => "BILINEAR",
            Interpolation::Bicubic => "BICUBIC",
            Interpolation::Lanczos => "LANCZOS",
        };
        let convert = if self.channels == 1 { "L" } else { "RGB" };
        let open = if self.exif_transpose {
            format!("ImageOps.exif_transpose(Image.open(f)).convert(\"{convert}\")")
        } else {
            format!("Image.open(f).convert(\"{convert}\")")
        };
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut steps = Vec::new();
        match self.resize {
            ResizeMode::Stretch => steps.push(format!(
                "transforms.Resize(({height}, {width}), interpolation=InterpolationMode.{mode})"
            )),
            ResizeMode::ShorterSide => steps.push(format!(
                "transforms.Resize({}, interpolation=InterpolationMode.{mode})",
                self.resize_size.unwrap_or(height)
            )),
            ResizeMode::Keep => {}
        }
        if self.crop == CropMode::Center {
            steps.push(format!("transforms.CenterCrop(({height}, {width}))"));
        }
        steps.push("transforms.ToTensor()".into());
        if self.scale != 255.0 {
            steps.push(format!(
                "transforms.Lambda(lambda x: x * {})",
                255.0 / self.scale
            ));
        }
        steps.push(format!(
            "transforms.Normalize(mean=[{}], std=[{}])",
            list(&self.mean),
            list(&self.std)
        ));
        format!(
            "# images opened as: {open}\n\
             from torchvision import transforms\n\
             from torchvision.transforms import InterpolationMode\n\n\
             transform = transforms.Compose([\n{}])\n",
            steps
                .iter()
                .map(|s| format!("    {s},\n"))
                .collect::<String>()
        )
    }

    /// Number of floats in one image's input: channels × height × width.
    pub fn values_per_image(&self) -> usize {
        (self.channels * self.input_size[0] * self.input_size[1]) as usize
    }

    /// Writes the values of pixels already at `input_size` to `out` in `[height, width, channels]`
    /// order, the order of the pixels in memory, so that no scatter is needed. Each value is
    /// `(p / scale - mean) / std` in float32, as `ToTensor` then `Normalize` compute it.
    pub fn write_values_hwc(&self, pixels: &Pixels8, out: &mut [f32]) {
        let channels = self.channels as usize;
        debug_assert_eq!(pixels.channels, channels);
        let lut: Vec<[f32; 256]> = (0..channels)
            .map(|c| std::array::from_fn(|v| (v as f32 / self.scale - self.mean[c]) / self.std[c]))
            .collect();
        for (px, dst) in pixels
            .data
            .chunks_exact(channels)
            .zip(out.chunks_exact_mut(channels))
        {
            for c in 0..channels {
                dst[c] = lut[c][px[c] as usize];
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
            .try_for_each(|(out, path)| self.write_file_values_hwc(path, out))?;
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
            resize: ResizeMode::Stretch,
            resize_size: None,
            interpolation: Interpolation::Bilinear,
            crop: CropMode::Keep,
            scale: 255.0,
            mean: vec![0.5],
            std: vec![0.5],
            class_names: vec!["a".into(), "b".into()],
            exif_transpose: false,
        }
    }

    #[test]
    fn normalises_pixels_channel_first() {
        let image = Pixels8 {
            width: 2,
            height: 2,
            channels: 1,
            data: vec![0, 255, 255, 0],
        };
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
        let red = Pixels8 {
            width: 2,
            height: 2,
            channels: 3,
            data: [255, 0, 0].repeat(4),
        };
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
            msg.contains("preprocess.json")
                && msg.contains("mean:")
                && msg.contains("channels is 3"),
            "{msg}"
        );
    }

    const V2: &str = r#"{"format": "eyeball-preprocess/2", "resize": "shorter_side", "resize_size": 256,
        "interpolation": "bilinear", "crop": "center", "input_size": [224, 224], "channels": 3,
        "scale": 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        "class_names": ["cat", "dog"]}"#;

    #[test]
    fn a_version_2_sidecar_describes_resize_then_center_crop() {
        let p = Preprocess::parse(V2).unwrap();
        assert_eq!(
            (p.resize, p.resize_size, p.interpolation, p.crop),
            (
                ResizeMode::ShorterSide,
                Some(256),
                Interpolation::Bilinear,
                CropMode::Center
            )
        );
        let compose = p.torchvision_compose();
        assert!(
            compose.contains("transforms.Resize(256, interpolation=InterpolationMode.BILINEAR)")
                && compose.contains("transforms.CenterCrop((224, 224))")
                && compose.contains("Normalize(mean=[0.485, 0.456, 0.406]"),
            "{compose}"
        );
    }

    #[test]
    fn a_version_1_sidecar_reads_as_stretch_with_bilinear() {
        let p = Preprocess::parse(
            r#"{"input_size":[28,28],"channels":1,"mean":[0.1],"std":[0.3],"class_names":["a"]}"#,
        )
        .unwrap();
        assert_eq!(
            (p.format.as_str(), p.resize, p.interpolation, p.crop),
            (
                "eyeball-preprocess/1",
                ResizeMode::Stretch,
                Interpolation::Bilinear,
                CropMode::Keep
            )
        );
    }

    #[test]
    fn impossible_values_get_a_message_naming_the_field() {
        let with = |from: &str, to: &str| {
            assert!(V2.contains(from), "{from}");
            Preprocess::parse(&V2.replace(from, to)).unwrap_err()
        };
        let cases = [
            (
                r#""std": [0.229, 0.224, 0.225]"#,
                r#""std": [0.229, 0.0, 0.225]"#,
                "std:",
            ),
            (
                r#""input_size": [224, 224]"#,
                r#""input_size": [100000, 224]"#,
                "input_size:",
            ),
            (
                r#""mean": [0.485, 0.456, 0.406]"#,
                r#""mean": [0.485]"#,
                "mean:",
            ),
            (
                r#""resize": "shorter_side""#,
                r#""resize": "longer_side""#,
                "resize:",
            ),
            (
                r#""interpolation": "bilinear""#,
                r#""interpolation": "area""#,
                "interpolation:",
            ),
            (r#""crop": "center""#, r#""crop": "random""#, "crop:"),
            (
                r#""resize_size": 256"#,
                r#""resize_size": 0"#,
                "resize_size:",
            ),
            (
                r#""scale": 255.0"#,
                r#""scale": 255.0, "hflip": true"#,
                "hflip",
            ),
            (
                r#""format": "eyeball-preprocess/2""#,
                r#""format": "eyeball-preprocess/3""#,
                "format:",
            ),
        ];
        for (from, to, field) in cases {
            let message = with(from, to);
            assert!(message.contains(field), "{to}: {message}");
        }
    }
}
