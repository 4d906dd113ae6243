//! What each checkpoint file is (TorchScript, weights only, or something LibTorch cannot run),
//! told from its bytes without loading it, and a content hash that keys cached results.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use super::{CHECKPOINT_EXTENSIONS, ModelError, file_name};
use crate::dataset::natural_cmp;

/// How to save a file eyeball can run; part of every "cannot run" message.
pub const EXPORT_HINT: &str = "save a runnable file with torch.jit.trace(model.eval(), example_input).save(\"model.pt\") \
                               or torch.jit.script(model).save(\"model.pt\")";

/// What a checkpoint file holds, as far as eyeball is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "message")]
pub enum CheckpointKind {
    /// A TorchScript archive: runs on its own.
    TorchScript,
    /// Named tensors (safetensors, or `torch.save(dict(state_dict))`): filters and histograms, and
    /// its parameters can be applied to a TorchScript file of the same architecture.
    WeightsOnly,
    /// Cannot be used; the message says why and how to save a file that can.
    Unrunnable(String),
}

/// One checkpoint file, classified and hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointFile {
    pub path: PathBuf,
    /// File name, shown in the UI and written to the `checkpoint` column of `eyeball predict`.
    pub name: String,
    /// 0-based position in natural order of the names (epoch_2 before epoch_10).
    pub order: usize,
    pub kind: CheckpointKind,
    /// Hash of the file's bytes (16 hex digits); cached predictions are keyed by it.
    pub hash: String,
}

impl CheckpointFile {
    /// True for files eyeball can run.
    pub fn is_runnable(&self) -> bool {
        self.kind == CheckpointKind::TorchScript
    }
}

/// Classifies checkpoint files. Each path is a folder (its files with a checkpoint extension are
/// taken) or a file (taken whatever its extension). The result is in natural order of file names.
pub fn classify_checkpoints(paths: &[PathBuf]) -> Result<Vec<CheckpointFile>, ModelError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(super::discover_checkpoints(path)?);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(ModelError::Io {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    files.dedup();
    files
        .into_iter()
        .enumerate()
        .map(|(order, path)| {
            let io_err = |source| ModelError::Io {
                path: path.clone(),
                source,
            };
            let hash = format!("{:016x}", hash_file(&path).map_err(io_err)?);
            let kind = classify_file(&path).map_err(io_err)?;
            Ok(CheckpointFile {
                name: file_name(&path),
                order,
                kind,
                hash,
                path,
            })
        })
        .collect()
}

/// True when `path` has one of `CHECKPOINT_EXTENSIONS`.
pub fn has_checkpoint_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| CHECKPOINT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// True when `dir` holds a file with one of `CHECKPOINT_EXTENSIONS` (a dropped folder of them
/// opens as checkpoints).
pub fn holds_checkpoints(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| has_checkpoint_extension(&e.path()))
    })
}

/// Tells what `path` holds from its bytes: the zip directory of PyTorch archives, the header of
/// safetensors. Only IO errors are errors; a damaged file is `Unrunnable` with the reason.
pub fn classify_file(path: &Path) -> std::io::Result<CheckpointKind> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = [0u8; 16];
    let head_len = read_up_to(&mut file, &mut head)?;
    let head = &head[..head_len];
    let unrunnable = |why: String| Ok(CheckpointKind::Unrunnable(why));
    if len == 0 {
        return unrunnable("the file is empty (0 bytes)".into());
    }
    if let Some(kind) = safetensors_kind(&mut file, head, len)? {
        return Ok(kind);
    }
    let pt2_message = format!(
        "this is a torch.export / AOTInductor .pt2 archive, which LibTorch cannot run; {EXPORT_HINT}"
    );
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pt2"))
    {
        return unrunnable(pt2_message);
    }
    if !head.starts_with(b"PK") {
        let what = if head.first() == Some(&0x80) {
            "a pickle in PyTorch's legacy (pre-1.6) format, or a pickled object"
        } else {
            "neither a PyTorch archive (zip) nor safetensors"
        };
        return unrunnable(format!("this file is {what}; {EXPORT_HINT}"));
    }
    file.seek(SeekFrom::Start(0))?;
    let mut archive = match zip::ZipArchive::new(&mut file) {
        Ok(archive) => archive,
        Err(zip::result::ZipError::Io(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => {
            return Err(e);
        }
        Err(_) => {
            return unrunnable(format!(
                "the file is truncated or damaged: it starts like a PyTorch archive (zip) but has no zip \
                 directory at its end ({len} bytes); copy or save it again"
            ));
        }
    };
    let names = zip_names(&archive);
    let has = |suffix: &str| names.iter().any(|n| n.ends_with(suffix));
    if has("/archive_format") || has("/models/model.json") {
        return unrunnable(pt2_message);
    }
    if names.iter().any(|n| n.contains("/code/")) && has("/data.pkl") {
        return Ok(CheckpointKind::TorchScript);
    }
    let Some(pickle) = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
    else {
        return unrunnable(format!(
            "a zip archive without data.pkl: not a PyTorch file; {EXPORT_HINT}"
        ));
    };
    let prefix = read_entry_prefix(&mut archive, pickle, 4096);
    let mentions = |needle: &[u8]| prefix.windows(needle.len()).any(|w| w == needle);
    // The top-level object is built first: skip the PROTO opcode and, from protocol 4, a FRAME.
    let mut top = prefix.as_slice();
    if top.first() == Some(&0x80) {
        top = top.get(2..).unwrap_or_default();
    }
    if top.first() == Some(&0x95) {
        top = top.get(9..).unwrap_or_default();
    }
    // Every tensor pickles an empty OrderedDict of hooks, so only the top object tells.
    let opening = &top[..top.len().min(40)];
    let top_is_ordered_dict = opening.windows(11).any(|w| w == b"OrderedDict")
        && opening.windows(11).any(|w| w == b"collections");
    if top_is_ordered_dict {
        return unrunnable(format!(
            "this is a plain torch.save(model.state_dict()) (an OrderedDict), which LibTorch cannot read; \
             for weights only, save torch.save(dict(model.state_dict()), \"weights.pth\") or a safetensors file; \
             for a runnable model, {EXPORT_HINT}"
        ));
    }
    // A dict of tensors starts with EMPTY_DICT (`}`) right after the protocol header; anything else
    // (a pickled nn.Module, a training-state dict holding an optimizer) references classes.
    let is_dict = top.first() == Some(&b'}');
    if is_dict && !mentions(b"torch.nn.modules") && !mentions(b"__main__") {
        return Ok(CheckpointKind::WeightsOnly);
    }
    unrunnable(format!(
        "this is a torch.save()d Python object (a whole nn.Module or a pickled class), not TorchScript; {EXPORT_HINT}"
    ))
}

/// `Some` when the file is (or claims to be) safetensors: an 8-byte header length, then JSON.
fn safetensors_kind(
    file: &mut File,
    head: &[u8],
    len: u64,
) -> std::io::Result<Option<CheckpointKind>> {
    let looks_like = head.len() >= 9 && head[8] == b'{';
    if !looks_like {
        return Ok(None);
    }
    let header_len = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    if header_len.saturating_add(8) > len {
        return Ok(Some(CheckpointKind::Unrunnable(format!(
            "the safetensors file is truncated: its header says {header_len} bytes but the file has {len}"
        ))));
    }
    let mut header = vec![0u8; header_len as usize];
    file.seek(SeekFrom::Start(8))?;
    file.read_exact(&mut header)?;
    let parsed: Result<safetensors::tensor::Metadata, _> = serde_json::from_slice(&header);
    Ok(Some(match parsed {
        Ok(metadata) => {
            let end = metadata
                .tensors()
                .values()
                .map(|info| info.data_offsets.1 as u64)
                .max()
                .unwrap_or(0);
            if 8 + header_len + end > len {
                CheckpointKind::Unrunnable(format!(
                    "the safetensors file is truncated: its tensors end at byte {} but the file has {len}",
                    8 + header_len + end
                ))
            } else {
                CheckpointKind::WeightsOnly
            }
        }
        Err(e) => CheckpointKind::Unrunnable(format!("the safetensors header is not valid: {e}")),
    }))
}

/// The entry names of a zip archive.
fn zip_names(archive: &zip::ZipArchive<&mut File>) -> Vec<String> {
    archive.file_names().map(str::to_string).collect()
}

/// Up to `limit` bytes of an entry; empty when it cannot be read.
fn read_entry_prefix(archive: &mut zip::ZipArchive<&mut File>, name: &str, limit: u64) -> Vec<u8> {
    let mut data = Vec::new();
    if let Ok(entry) = archive.by_name(name) {
        let _ = entry.take(limit).read_to_end(&mut data);
    }
    data
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A fast 64-bit hash of a file's bytes (xxh3): a cache key, not a security check. Stable across
/// runs, platforms and Rust versions, which on-disk cache keys need.
pub fn hash_file(path: &Path) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = read_up_to(&mut file, &mut buf)?;
        hasher.update(&buf[..n]);
        if n < buf.len() {
            break;
        }
    }
    Ok(hasher.digest())
}

/// Feeds a string and its length, so that ("ab", "c") and ("a", "bc") hash differently.
pub fn hash_str(hasher: &mut Xxh3, text: &str) {
    hasher.update(&(text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
}

/// Feeds a file's path, size and modification time: what a cache keyed by it needs, so that a
/// changed file misses. A file that cannot be read feeds its path only.
pub fn hash_file_stamp(hasher: &mut Xxh3, path: &Path) {
    hash_str(hasher, &path.to_string_lossy());
    if let Ok(meta) = std::fs::metadata(path) {
        hasher.update(&meta.len().to_le_bytes());
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        hasher.update(&mtime_ns.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_archives_are_unrunnable_with_a_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty.pt");
        std::fs::write(&empty, b"").unwrap();
        assert!(
            matches!(classify_file(&empty).unwrap(), CheckpointKind::Unrunnable(m) if m.contains("empty"))
        );
        let text = tmp.path().join("notes.pt");
        std::fs::write(&text, b"hello world, not a model").unwrap();
        assert!(
            matches!(classify_file(&text).unwrap(), CheckpointKind::Unrunnable(m) if m.contains("torch.jit.trace"))
        );
        let zip_start = tmp.path().join("cut.pt");
        std::fs::write(&zip_start, b"PK\x03\x04 and then nothing").unwrap();
        assert!(
            matches!(classify_file(&zip_start).unwrap(), CheckpointKind::Unrunnable(m) if m.contains("truncated"))
        );
    }
}
