//! Penultimate-layer embeddings: the input of a checkpoint's last linear layer, for any traced or
//! scripted TorchScript model. The layer is found in the module's graph (see embedding.cpp).

use std::ffi::{CString, c_char, c_int};
use std::path::Path;

use rayon::prelude::*;
use tch::{CModule, Device, Tensor};

use super::checkpoints::CheckpointFile;
use super::store::{Head, ModelStore};
use super::{LoadedModel, ModelError, Preprocess, init_torch, torch_message};
use crate::dataset::Dataset;
use crate::jobs::Progress;
use crate::scan::Embedding;

/// Name of the method `embedding.cpp` adds to a module.
pub const EMBEDDING_METHOD: &str = "eyeball_embedding";
/// Images per forward pass.
const CHUNK: usize = 256;

unsafe extern "C" {
    fn eyeball_add_embedding_method(
        data: *const c_char,
        len: usize,
        method_name: *const c_char,
        out: *mut *mut c_char,
        out_len: *mut usize,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn eyeball_free_buffer(buffer: *mut c_char);
}

/// The TorchScript archive `bytes` with `EMBEDDING_METHOD` added, or why it cannot be.
fn with_embedding_method(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let method = CString::new(EMBEDDING_METHOD).expect("no NUL in the name");
    let mut out: *mut c_char = std::ptr::null_mut();
    let mut out_len = 0usize;
    let mut err = vec![0 as c_char; 1024];
    // SAFETY: every pointer is valid for the lengths passed; on success `out` is a malloc'd buffer
    // of `out_len` bytes, copied here and freed by the library's own free.
    let status = unsafe {
        eyeball_add_embedding_method(
            bytes.as_ptr().cast(),
            bytes.len(),
            method.as_ptr(),
            &mut out,
            &mut out_len,
            err.as_mut_ptr(),
            err.len(),
        )
    };
    if status != 0 {
        // SAFETY: the library NUL-terminates the message within `err`.
        let message = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) };
        return Err(torch_message(&message.to_string_lossy()));
    }
    // SAFETY: see above.
    let archive = unsafe { std::slice::from_raw_parts(out.cast::<u8>(), out_len).to_vec() };
    unsafe { eyeball_free_buffer(out) };
    Ok(archive)
}

impl LoadedModel {
    /// Loads a TorchScript file with its penultimate-layer embedding as an extra method.
    pub fn load_with_embedding(path: &Path, device: Device) -> Result<LoadedModel, ModelError> {
        init_torch();
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let archive = with_embedding_method(&bytes).map_err(|message| ModelError::Load {
            path: path.to_path_buf(),
            message: format!("cannot find the penultimate layer: {message}"),
        })?;
        let module =
            CModule::load_data_on_device(&mut archive.as_slice(), device).map_err(|e| {
                ModelError::Load {
                    path: path.to_path_buf(),
                    message: torch_message(&e.to_string()),
                }
            })?;
        Ok(LoadedModel::of(path, module, device))
    }

    /// Penultimate-layer embedding of a `[N, C, H, W]` batch as `[N, D]` float32 on the CPU.
    /// Needs a model from `load_with_embedding`.
    pub fn embedding(&self, input: &Tensor) -> Result<Tensor, ModelError> {
        let features = self.run(Some(EMBEDDING_METHOD), input)?;
        let n = input.size()[0];
        if features.size().first() != Some(&n) || !features.is_floating_point() {
            return Err(ModelError::Output {
                path: self.path.clone(),
                message: format!(
                    "the input of the last linear layer has shape {:?} ({:?}) for a batch of {n}; \
                     eyeball needs one float vector per example",
                    features.size(),
                    features.kind()
                ),
            });
        }
        Ok(features
            .flatten(1, -1)
            .to_device(Device::Cpu)
            .to_kind(tch::Kind::Float))
    }
}

/// Embeds `examples` with the checkpoint `file` (a weights-only file is applied to `template`),
/// `CHUNK` images at a time. Images that cannot be decoded are left out; the returned embedding
/// lists the examples it has. Advances `progress` once per example; cancellable between chunks.
pub fn embed_examples(
    models: &ModelStore,
    file: &CheckpointFile,
    template: Option<&CheckpointFile>,
    preprocess: &Preprocess,
    dataset: &Dataset,
    examples: &[usize],
    progress: &Progress,
) -> Result<Embedding, ModelError> {
    let model = models.model(file, template, Head::WithEmbedding)?.model;
    progress.set_total(examples.len());
    let per_image = preprocess.values_per_image();
    let mut embedding = Embedding {
        source: file.name.clone(),
        examples: Vec::with_capacity(examples.len()),
        dim: 0,
        vectors: Vec::new(),
    };
    for chunk in examples.chunks(CHUNK) {
        if progress.is_cancelled() {
            return Err(ModelError::Cancelled);
        }
        let decoded: Vec<Option<Vec<f32>>> = chunk
            .par_iter()
            .map(|&i| {
                let mut values = vec![0f32; per_image];
                preprocess
                    .write_file_values_hwc(
                        &dataset.absolute_path(&dataset.examples[i]),
                        &mut values,
                    )
                    .ok()
                    .map(|()| values)
            })
            .collect();
        let mut values = Vec::with_capacity(chunk.len() * per_image);
        for (&i, v) in chunk.iter().zip(&decoded) {
            if let Some(v) = v {
                embedding.examples.push(i);
                values.extend_from_slice(v);
            }
        }
        if !values.is_empty() {
            let features = model.embedding(&preprocess.tensor_from_hwc(&values))?;
            embedding.dim = features.size()[1] as usize;
            embedding
                .vectors
                .extend(Vec::<f32>::try_from(features.flatten(0, -1)).map_err(|e| {
                    ModelError::Output {
                        path: file.path.clone(),
                        message: format!("cannot read the embedding: {e}"),
                    }
                })?);
        }
        progress.advance(chunk.len());
    }
    Ok(embedding)
}
