//! Named weights of a checkpoint: read from TorchScript or from weights-only files (safetensors,
//! `torch.save(dict(state_dict))`), first-layer filters, per-layer histograms, and applying a
//! weights-only file to a TorchScript module of the same architecture.

use std::path::Path;

use serde::Serialize;
use tch::{Device, Kind, Tensor};

use super::checkpoints::{CheckpointFile, CheckpointKind};
use super::store::{Head, ModelStore};
use super::{LoadedModel, ModelError, torch_message};
use crate::dataset::natural_cmp;

/// Bins of each histogram from `weight_histograms` by default.
pub const HISTOGRAM_BINS: usize = 40;

/// Histogram bins: `(low, high, count)`, low to high.
pub type Histogram = Vec<(f32, f32, usize)>;

/// The weights of the first convolution: `[out_channels, in_channels, kh, kw]`, row-major.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Filters {
    /// Parameter name, e.g. `conv1.weight`.
    pub layer: String,
    pub out_channels: usize,
    pub in_channels: usize,
    pub kh: usize,
    pub kw: usize,
    pub weights: Vec<f32>,
}

impl Filters {
    /// Filter `index` as a `kw`×`kh` RGBA image, scaled to 0..255 by its own min and max: RGB
    /// when the filter has 3 input channels, else the mean over input channels in grey.
    pub fn filter_rgba(&self, index: usize) -> (u32, u32, Vec<u8>) {
        let plane = self.kh * self.kw;
        let size = self.in_channels * plane;
        let values = &self.weights[index * size..(index + 1) * size];
        let min = values.iter().copied().fold(f32::INFINITY, f32::min);
        let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let scale = if max > min { 255.0 / (max - min) } else { 0.0 };
        let to_byte = |v: f32| ((v - min) * scale).round().clamp(0.0, 255.0) as u8;
        let mut rgba = Vec::with_capacity(plane * 4);
        for p in 0..plane {
            if self.in_channels == 3 {
                rgba.extend((0..3).map(|c| to_byte(values[c * plane + p])));
            } else {
                let mean = (0..self.in_channels)
                    .map(|c| values[c * plane + p])
                    .sum::<f32>()
                    / self.in_channels as f32;
                let grey = to_byte(mean);
                rgba.extend([grey, grey, grey]);
            }
            rgba.push(255);
        }
        (self.kw as u32, self.kh as u32, rgba)
    }
}

/// The named tensors of a checkpoint, on the CPU: a TorchScript module's parameters (buffers are
/// not visible through LibTorch), from the model in `models`, or every tensor of a weights-only file.
pub fn load_parameters(
    file: &CheckpointFile,
    models: &ModelStore,
) -> Result<Vec<(String, Tensor)>, ModelError> {
    match &file.kind {
        CheckpointKind::TorchScript => {
            let stored = models.model(file, None, Head::Logits)?;
            let params = stored
                .model
                .module
                .named_parameters()
                .map_err(|e| ModelError::Load {
                    path: file.path.clone(),
                    message: torch_message(&e.to_string()),
                })?;
            Ok(params
                .into_iter()
                .map(|(name, t)| (name, t.to_device(Device::Cpu)))
                .collect())
        }
        CheckpointKind::WeightsOnly => read_weights(&file.path),
        CheckpointKind::Unrunnable(message) => Err(ModelError::Unrunnable {
            path: file.path.clone(),
            message: message.clone(),
        }),
    }
}

/// Every tensor of a safetensors file or of a `torch.save(dict)` file, in natural order of names
/// (safetensors keeps no module order).
pub fn read_weights(path: &Path) -> Result<Vec<(String, Tensor)>, ModelError> {
    let is_safetensors = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
        || std::fs::read(path).is_ok_and(|b| b.len() > 8 && b[8] == b'{');
    let read = if is_safetensors {
        Tensor::read_safetensors(path)
    } else {
        Tensor::loadz_multi(path)
    };
    let mut tensors = read.map_err(|e| ModelError::Weights {
        path: path.to_path_buf(),
        message: format!("cannot read the weights: {}", torch_message(&e.to_string())),
    })?;
    tensors.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    Ok(tensors)
}

/// The first convolution's weights: the first 4-D tensor, preferring one whose input channels
/// equal `input_channels` (the image's channels, from preprocess.json). `None` without a 4-D tensor.
pub fn first_layer_filters(
    params: &[(String, Tensor)],
    input_channels: Option<usize>,
) -> Option<Filters> {
    let convs: Vec<&(String, Tensor)> = params
        .iter()
        .filter(|(_, t)| t.dim() == 4 && t.is_floating_point())
        .collect();
    let (name, tensor) = convs
        .iter()
        .find(|(_, t)| input_channels.is_some_and(|c| t.size()[1] == c as i64))
        .or(convs.first())?;
    let size: Vec<usize> = tensor.size().iter().map(|&s| s as usize).collect();
    Some(Filters {
        layer: name.clone(),
        out_channels: size[0],
        in_channels: size[1],
        kh: size[2],
        kw: size[3],
        weights: tensor_values(tensor),
    })
}

/// A histogram of each floating-point tensor's values, in the order given: `(name, bins)` where
/// each bin is `(low, high, count)`. A tensor whose values are all equal gets one bin.
pub fn weight_histograms(params: &[(String, Tensor)], bins: usize) -> Vec<(String, Histogram)> {
    params
        .iter()
        .filter(|(_, t)| t.is_floating_point() && t.numel() > 0)
        .map(|(name, t)| (name.clone(), histogram(&tensor_values(t), bins.max(1))))
        .collect()
}

fn histogram(values: &[f32], bins: usize) -> Histogram {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (min, max) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if min > max {
        return Vec::new();
    }
    if min == max {
        return vec![(min, max, values.iter().filter(|v| v.is_finite()).count())];
    }
    let width = (max - min) / bins as f32;
    let mut counts = vec![0usize; bins];
    for &v in values.iter().filter(|v| v.is_finite()) {
        counts[(((v - min) / width) as usize).min(bins - 1)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (min + i as f32 * width, min + (i + 1) as f32 * width, c))
        .collect()
}

fn tensor_values(tensor: &Tensor) -> Vec<f32> {
    let flat = tensor
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .flatten(0, -1);
    Vec::<f32>::try_from(flat).unwrap_or_default()
}

/// What applying a weights-only file to a TorchScript module did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ApplyReport {
    /// Parameters copied from the file.
    pub applied: Vec<String>,
    /// Parameters of the module that the file lacks: they keep the TorchScript file's values.
    pub missing: Vec<String>,
    /// Tensors of the file that are not parameters of the module (buffers, other layers).
    pub ignored: Vec<String>,
    /// Plain sentences for the user: buffers left out, parameters kept.
    pub notes: Vec<String>,
}

/// Copies `weights` into `model`'s parameters by name, under no_grad. Every parameter with the
/// same name must have the same shape, else nothing is applied and the error names both shapes.
/// Buffers (BatchNorm running statistics) cannot be applied: LibTorch exposes parameters only.
pub fn apply_weights(
    model: &LoadedModel,
    weights: &[(String, Tensor)],
    weights_path: &Path,
) -> Result<ApplyReport, ModelError> {
    let _no_grad = tch::no_grad_guard();
    let params = model
        .module
        .named_parameters()
        .map_err(|e| ModelError::Load {
            path: model.path.clone(),
            message: torch_message(&e.to_string()),
        })?;
    let mut report = ApplyReport::default();
    let mut pairs = Vec::new();
    for (name, param) in &params {
        match weights.iter().find(|(n, _)| n == name) {
            Some((_, value)) if value.size() != param.size() => {
                return Err(ModelError::Weights {
                    path: weights_path.to_path_buf(),
                    message: format!(
                        "{name} has shape {:?} here but {:?} in {}: not the same architecture; nothing was applied",
                        value.size(),
                        param.size(),
                        model.path.display()
                    ),
                });
            }
            Some((_, value)) => pairs.push((name.clone(), param, value)),
            None => report.missing.push(name.clone()),
        }
    }
    for (name, param, value) in pairs {
        let mut target = param.shallow_clone();
        target.copy_(&value.to_device(param.device()).to_kind(param.kind()));
        report.applied.push(name);
    }
    report.ignored = weights
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !params.iter().any(|(p, _)| p == n))
        .collect();
    let is_buffer = |n: &str| {
        n.ends_with("running_mean")
            || n.ends_with("running_var")
            || n.ends_with("num_batches_tracked")
    };
    let buffers: Vec<&String> = report.ignored.iter().filter(|n| is_buffer(n)).collect();
    let has_norm = params
        .iter()
        .any(|(n, _)| n.contains("bn") || n.contains("norm"));
    let ts_name = model
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !buffers.is_empty() {
        let shown: Vec<&str> = buffers.iter().take(4).map(|s| s.as_str()).collect();
        report.notes.push(format!(
            "The file's {} BatchNorm buffers ({}{}) were not applied: LibTorch gives access to a TorchScript \
             module's parameters only, so the running statistics of {ts_name} are used, and predictions can \
             differ from PyTorch's.",
            buffers.len(),
            shown.join(", "),
            if buffers.len() > shown.len() { ", ..." } else { "" }
        ));
    } else if has_norm {
        report.notes.push(format!(
            "The file has no BatchNorm running statistics (running_mean, running_var): the statistics of \
             {ts_name} are used with the file's weights, so predictions can be off. Save the whole \
             state_dict (dict(model.state_dict())) to include them."
        ));
    }
    if !report.missing.is_empty() {
        report.notes.push(format!(
            "{} parameters of {ts_name} are not in the file and keep their values: {}.",
            report.missing.len(),
            report.missing.join(", ")
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_cover_the_range_and_count_every_value() {
        let h = histogram(&[0.0, 0.1, 0.5, 1.0, f32::NAN], 4);
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2, 0, 1, 1]);
        assert_eq!((h[0].0, h[3].1), (0.0, 1.0));
        assert_eq!(histogram(&[2.0, 2.0], 10), vec![(2.0, 2.0, 2)]);
    }

    #[test]
    fn each_filter_is_normalised_on_its_own() {
        let filters = Filters {
            layer: "conv.weight".into(),
            out_channels: 2,
            in_channels: 1,
            kh: 1,
            kw: 2,
            weights: vec![-1.0, 1.0, 10.0, 30.0],
        };
        assert_eq!(
            filters.filter_rgba(0),
            (2, 1, vec![0, 0, 0, 255, 255, 255, 255, 255])
        );
        assert_eq!(
            filters.filter_rgba(1).2,
            vec![0, 0, 0, 255, 255, 255, 255, 255]
        );
        let rgb = Filters {
            in_channels: 3,
            out_channels: 1,
            kw: 1,
            weights: vec![0.0, 1.0, 0.5],
            ..filters
        };
        assert_eq!(rgb.filter_rgba(0).2, vec![0, 255, 128, 255]);
    }

    #[test]
    fn the_first_layer_is_the_conv_that_takes_the_image_channels() {
        let params = vec![
            (
                "a.weight".to_string(),
                Tensor::zeros([8, 4, 3, 3], (Kind::Float, Device::Cpu)),
            ),
            (
                "b.weight".to_string(),
                Tensor::zeros([4, 3, 5, 5], (Kind::Float, Device::Cpu)),
            ),
        ];
        assert_eq!(
            first_layer_filters(&params, Some(3)).unwrap().layer,
            "b.weight"
        );
        assert_eq!(
            first_layer_filters(&params, None).unwrap().layer,
            "a.weight"
        );
        assert!(first_layer_filters(&params[..0], Some(3)).is_none());
    }
}
