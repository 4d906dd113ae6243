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
    let entries = match zip_entries(&mut file, len)? {
        Some(entries) => entries,
        None => {
            return unrunnable(format!(
                "the file is truncated or damaged: it starts like a PyTorch archive (zip) but has no zip \
                 directory at its end ({len} bytes); copy or save it again"
            ));
        }
    };
    let has = |suffix: &str| entries.iter().any(|e| e.name.ends_with(suffix));
    if has("/archive_format") || has("/models/model.json") {
        return unrunnable(pt2_message);
    }
    if entries.iter().any(|e| e.name.contains("/code/")) && has("/data.pkl") {
        return Ok(CheckpointKind::TorchScript);
    }
    let Some(pickle) = entries
        .iter()
        .find(|e| e.name.ends_with("/data.pkl") || e.name == "data.pkl")
    else {
        return unrunnable(format!(
            "a zip archive without data.pkl: not a PyTorch file; {EXPORT_HINT}"
        ));
    };
    let prefix = read_stored_prefix(&mut file, pickle, 4096)?;
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
    let parsed: Result<serde_json::Map<String, serde_json::Value>, _> =
        serde_json::from_slice(&header);
    Ok(Some(match parsed {
        Ok(map) => {
            let end = map
                .values()
                .filter_map(|v| v.get("data_offsets")?.get(1)?.as_u64())
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
        Err(e) => {
            CheckpointKind::Unrunnable(format!("the safetensors header is not valid JSON: {e}"))
        }
    }))
}

/// An entry of a zip's central directory.
struct ZipEntry {
    name: String,
    /// 0 = stored, 8 = deflated.
    method: u16,
    compressed_size: u64,
    local_header_offset: u64,
}

/// The entries of a zip archive, or `None` when it has no readable central directory (truncated).
fn zip_entries(file: &mut File, len: u64) -> std::io::Result<Option<Vec<ZipEntry>>> {
    // The end-of-central-directory record is in the last 22 + 65535 bytes.
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))?;
    file.read_exact(&mut tail)?;
    let Some(eocd) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
    else {
        return Ok(None);
    };
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u64_at =
        |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
    let mut cd_size = u32_at(&tail, eocd + 12) as u64;
    let mut cd_offset = u32_at(&tail, eocd + 16) as u64;
    if cd_offset == 0xFFFF_FFFF || cd_size == 0xFFFF_FFFF {
        // Zip64: a locator right before the record points at the zip64 end record.
        let Some(locator) = eocd
            .checked_sub(20)
            .filter(|&l| tail[l..].starts_with(b"PK\x06\x07"))
        else {
            return Ok(None);
        };
        let record_offset = u64_at(&tail, locator + 8);
        let mut record = [0u8; 56];
        file.seek(SeekFrom::Start(record_offset))?;
        if read_up_to(file, &mut record)? < 56 || !record.starts_with(b"PK\x06\x06") {
            return Ok(None);
        }
        cd_size = u64_at(&record, 40);
        cd_offset = u64_at(&record, 48);
    }
    if cd_offset.saturating_add(cd_size) > len {
        return Ok(None);
    }
    let mut cd = vec![0u8; cd_size as usize];
    file.seek(SeekFrom::Start(cd_offset))?;
    file.read_exact(&mut cd)?;
    let mut entries = Vec::new();
    let mut i = 0;
    while i + 46 <= cd.len() && cd[i..].starts_with(b"PK\x01\x02") {
        let method = u16_at(&cd, i + 10);
        let mut compressed_size = u32_at(&cd, i + 20) as u64;
        let uncompressed_size = u32_at(&cd, i + 24) as u64;
        let name_len = u16_at(&cd, i + 28) as usize;
        let extra_len = u16_at(&cd, i + 30) as usize;
        let comment_len = u16_at(&cd, i + 32) as usize;
        let mut local_header_offset = u32_at(&cd, i + 42) as u64;
        let end = i + 46 + name_len + extra_len + comment_len;
        if end > cd.len() {
            return Ok(None);
        }
        let name = String::from_utf8_lossy(&cd[i + 46..i + 46 + name_len]).into_owned();
        // Zip64 extended information: the 0xFFFFFFFF fields, in order, as u64s.
        let mut extra = &cd[i + 46 + name_len..i + 46 + name_len + extra_len];
        while extra.len() >= 4 {
            let (id, size) = (u16_at(extra, 0), u16_at(extra, 2) as usize);
            let body = &extra[4..(4 + size).min(extra.len())];
            if id == 1 {
                let mut at = 0;
                if uncompressed_size == 0xFFFF_FFFF && body.len() >= at + 8 {
                    at += 8;
                }
                if compressed_size == 0xFFFF_FFFF && body.len() >= at + 8 {
                    compressed_size = u64_at(body, at);
                    at += 8;
                }
                if local_header_offset == 0xFFFF_FFFF && body.len() >= at + 8 {
                    local_header_offset = u64_at(body, at);
                }
            }
            extra = &extra[(4 + size).min(extra.len())..];
        }
        entries.push(ZipEntry {
            name,
            method,
            compressed_size,
            local_header_offset,
        });
        i = end;
    }
    Ok(Some(entries))
}

/// Up to `limit` bytes of a stored (uncompressed) entry; empty for compressed entries.
fn read_stored_prefix(file: &mut File, entry: &ZipEntry, limit: usize) -> std::io::Result<Vec<u8>> {
    if entry.method != 0 {
        return Ok(Vec::new());
    }
    let mut local = [0u8; 30];
    file.seek(SeekFrom::Start(entry.local_header_offset))?;
    if read_up_to(file, &mut local)? < 30 || !local.starts_with(b"PK\x03\x04") {
        return Ok(Vec::new());
    }
    let name_len = u16::from_le_bytes([local[26], local[27]]) as u64;
    let extra_len = u16::from_le_bytes([local[28], local[29]]) as u64;
    file.seek(SeekFrom::Start(
        entry.local_header_offset + 30 + name_len + extra_len,
    ))?;
    let mut data = vec![0u8; (entry.compressed_size as usize).min(limit)];
    let n = read_up_to(file, &mut data)?;
    data.truncate(n);
    Ok(data)
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
