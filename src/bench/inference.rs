//! Inference speed over a whole dataset: decoding and preprocessing timed apart from the forward
//! passes, to compare with PyTorch running the same TorchScript file (scripts/bench_inference.py).

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use tch::{Device, Tensor};

use crate::dataset::Dataset;
use crate::model::{LoadedModel, ModelError, Preprocess, default_device, device_name};

/// Forward passes run before timing, so that TorchScript's profiling executor has optimised the
/// graph (PyTorch's side does the same).
pub const WARMUP_BATCHES: usize = 2;

/// What `eyeball bench inference` measured.
#[derive(Clone, Debug, Serialize)]
pub struct InferenceBench {
    pub checkpoint: String,
    pub device: String,
    pub images: usize,
    /// Images that could not be decoded (skipped).
    pub unreadable: usize,
    pub batch_size: usize,
    /// LibTorch intra-op threads, and the decoding threads.
    pub threads: usize,
    /// Decoding, resizing and normalising every image into one tensor.
    pub decode_s: f64,
    /// The timed forward passes over every image, results copied back to the CPU.
    pub forward_s: f64,
}

impl InferenceBench {
    /// Lines for terminals, with images/s for each phase and both together.
    pub fn to_text(&self) -> String {
        let rate = |s: f64| self.images as f64 / s.max(1e-9);
        format!(
            "checkpoint: {}\ndevice:     {}\nimages:     {} ({} unreadable, skipped)\nbatch size: {}, threads: {}\n\
             decode+preprocess: {:.2} s  {:.0} images/s\nforward:           {:.2} s  {:.0} images/s\n\
             total:             {:.2} s  {:.0} images/s\n",
            self.checkpoint,
            self.device,
            self.images,
            self.unreadable,
            self.batch_size,
            self.threads,
            self.decode_s,
            rate(self.decode_s),
            self.forward_s,
            rate(self.forward_s),
            self.decode_s + self.forward_s,
            rate(self.decode_s + self.forward_s)
        )
    }
}

/// Times inference of `checkpoint` over every image of `dataset`. `threads` sets LibTorch's
/// intra-op threads and the decoding pool (default: every core).
pub fn bench_inference(
    dataset: &Dataset,
    checkpoint: &Path,
    preprocess: &Preprocess,
    batch_size: usize,
    threads: Option<usize>,
) -> Result<InferenceBench, ModelError> {
    let device = default_device();
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    tch::set_num_threads(threads as i32);
    let batch_size = batch_size.max(1);
    let model = LoadedModel::load(checkpoint, device)?;

    let started = Instant::now();
    let per_image = preprocess.values_per_image();
    let paths: Vec<_> = dataset
        .examples
        .iter()
        .map(|e| dataset.absolute_path(e))
        .collect();
    let mut values = vec![0f32; paths.len() * per_image];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ModelError::Dataset {
            root: dataset.root.clone(),
            message: format!("cannot start {threads} decoding threads: {e}"),
        })?;
    let readable: Vec<bool> = pool.install(|| {
        values
            .par_chunks_mut(per_image)
            .zip(paths.par_iter())
            .map(|(out, path)| preprocess.write_file_values_hwc(path, out).is_ok())
            .collect()
    });
    // Unreadable images are dropped, so both sides time the same number of forward passes.
    let kept: Vec<f32> = if readable.iter().all(|&r| r) {
        values
    } else {
        values
            .chunks_exact(per_image)
            .zip(&readable)
            .filter(|(_, r)| **r)
            .flat_map(|(v, _)| v.iter().copied())
            .collect()
    };
    let images = kept.len() / per_image.max(1);
    let input = preprocess.tensor_from_hwc(&kept);
    let decode_s = started.elapsed().as_secs_f64();

    let batches: Vec<(i64, i64)> = (0..images)
        .step_by(batch_size)
        .map(|s| (s as i64, batch_size.min(images - s) as i64))
        .collect();
    // The predictions are copied back to the CPU, as an application would.
    let run = |&(start, len): &(i64, i64)| -> Result<Tensor, ModelError> {
        Ok(model
            .logits(&input.narrow(0, start, len))?
            .argmax(1, false)
            .to_device(Device::Cpu))
    };
    if let Some(first) = batches.first() {
        for _ in 0..WARMUP_BATCHES {
            let _ = run(first)?;
        }
    }
    let started = Instant::now();
    for batch in &batches {
        let _ = run(batch)?;
    }
    let forward_s = started.elapsed().as_secs_f64();
    Ok(InferenceBench {
        checkpoint: checkpoint.display().to_string(),
        device: device_name(device),
        images,
        unreadable: readable.iter().filter(|r| !**r).count(),
        batch_size,
        threads,
        decode_s,
        forward_s,
    })
}
