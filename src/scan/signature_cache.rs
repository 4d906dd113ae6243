//! The signature cache: each image's scan signature (`Signature`), kept beside the index cache so
//! that a scan does not decode every image a second time. A cold index writes it from the decode
//! it makes anyway; a scan reads it and decodes only the files it lacks.
//!
//! The file is a header and fixed-size rows, one per signed file, each with the hash of the
//! file's relative path and the file's size and modification time: a row is used only while all
//! three match the index.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Signed;
use super::signature::{EMBED_LEN, Signature, THUMB_SIDE};
use crate::dataset::{Dataset, relative_path_text};
use crate::files::{DiskCache, cache_budget_bytes};
use crate::index::ImageRecord;
use crate::jobs::Progress;

/// File format, with the version of how signatures are made: bump it when `Signature::of` or
/// the decode it reads change, so an old file is never read.
const MAGIC: &[u8; 8] = b"EYESIG01";
const GRAY_LEN: usize = THUMB_SIDE * THUMB_SIDE;
/// A row: path hash, file size, modification time (8 bytes each), source side (4), flags (1),
/// gray thumbnail, colour thumbnail; where each field starts.
const SIZE_AT: usize = 8;
const TIME_AT: usize = 16;
const SIDE_AT: usize = 24;
const FLAGS_AT: usize = 28;
const GRAY_AT: usize = 29;
const EMBED_AT: usize = GRAY_AT + GRAY_LEN;
const ROW_BYTES: usize = EMBED_AT + EMBED_LEN;
const HEADER_BYTES: u64 = 8 + 8;

const SIGNED: u8 = 1;
const STRUCTURE: u8 = 2;
const TRUNCATED: u8 = 4;

/// The signature cache file that goes with the index cache file `index_file`.
pub fn file_beside(index_file: &Path) -> PathBuf {
    index_file.with_extension("signatures")
}

/// Whether the signatures of `images` images fit the cache budget: at most 7/8 of it, leaving the
/// rest to the index cache beside them (a million images take 1.2 GB of the default 2 GiB).
pub fn fits_budget(images: usize) -> bool {
    HEADER_BYTES + images as u64 * ROW_BYTES as u64 <= cache_budget_bytes() / 8 * 7
}

/// Trims the cache folder of `file` to its budget, keeping `file` and the index cache it goes with.
pub fn trim_beside(file: &Path) -> io::Result<()> {
    if let Some(dir) = file.parent() {
        let index_file = file.with_extension("parquet");
        DiskCache::new(dir, cache_budget_bytes()).trim(&[file, &index_file])?;
    }
    Ok(())
}

/// The key of a file's row: its relative path, as the index cache keys it.
pub fn path_hash(relative_path: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(relative_path.as_bytes())
}

/// Writes a signature cache row by row (to a temporary file, moved into place by `finish`, and
/// removed when dropped unfinished), so a million images need no more memory than one row.
pub struct Writer {
    out: BufWriter<tempfile::NamedTempFile>,
    path: PathBuf,
    rows: u64,
}

impl Writer {
    pub fn create(path: &Path) -> io::Result<Writer> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let temporary = tempfile::Builder::new()
            .prefix(".eyeball-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        let mut out = BufWriter::with_capacity(1 << 20, temporary);
        out.write_all(MAGIC)?;
        out.write_all(&0u64.to_le_bytes())?;
        Ok(Writer {
            out,
            path: path.to_path_buf(),
            rows: 0,
        })
    }

    /// The file this writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds the row of one file (`relative_path`, as of `record`'s size and time). Files without a
    /// signature or a truncation (unreadable now) have no row: they are decoded again next time.
    pub fn push(
        &mut self,
        relative_path: &str,
        record: &ImageRecord,
        signed: &Signed,
    ) -> io::Result<()> {
        let (flags, signature) = match signed {
            (Some(signature), _) => (
                SIGNED
                    | if signature.has_structure {
                        STRUCTURE
                    } else {
                        0
                    },
                Some(signature),
            ),
            (None, Some(_)) => (TRUNCATED, None),
            (None, None) => return Ok(()),
        };
        let mut row = [0u8; ROW_BYTES];
        row[..SIZE_AT].copy_from_slice(&path_hash(relative_path).to_le_bytes());
        row[SIZE_AT..TIME_AT].copy_from_slice(&record.file_bytes.to_le_bytes());
        row[TIME_AT..SIDE_AT].copy_from_slice(&record.mtime_ns.to_le_bytes());
        if let Some(signature) = signature {
            row[SIDE_AT..FLAGS_AT].copy_from_slice(&signature.source_side.to_le_bytes());
            row[GRAY_AT..EMBED_AT].copy_from_slice(&signature.gray);
            row[EMBED_AT..].copy_from_slice(&signature.embed);
        }
        row[FLAGS_AT] = flags;
        self.out.write_all(&row)?;
        self.rows += 1;
        Ok(())
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.seek(SeekFrom::Start(MAGIC.len() as u64))?;
        self.out.write_all(&self.rows.to_le_bytes())?;
        let temporary = self.out.into_inner().map_err(|e| e.into_error())?;
        temporary.as_file().sync_all()?;
        temporary.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Writes the signatures of `dataset`'s readable examples (`signed`, aligned with its examples),
/// taking the thumbnails that are not in memory from `previous`, and opens the file for reading
/// them back.
pub fn write(
    path: &Path,
    dataset: &Dataset,
    records: &[ImageRecord],
    signed: &[Signed],
    previous: Option<&ThumbnailFile>,
) -> io::Result<ThumbnailFile> {
    let mut writer = Writer::create(path)?;
    let mut row_of = vec![NO_ROW; records.len()];
    for (i, ((example, record), signed)) in
        dataset.examples.iter().zip(records).zip(signed).enumerate()
    {
        if !record.is_readable() {
            continue;
        }
        let rows = writer.rows;
        match signed {
            (Some(signature), truncated)
                if signature.gray.is_empty() || signature.embed.is_empty() =>
            {
                let previous =
                    previous.ok_or_else(|| io::Error::other("thumbnails left no file"))?;
                let whole = (
                    Some(Signature {
                        gray: previous.gray(i)?.ok_or_else(no_row)?,
                        embed: previous.embed(i)?.ok_or_else(no_row)?,
                        ..signature.clone()
                    }),
                    truncated.clone(),
                );
                writer.push(&relative_path_text(&example.path), record, &whole)?;
            }
            _ => writer.push(&relative_path_text(&example.path), record, signed)?,
        }
        if signed.0.is_some() {
            row_of[i] = rows as u32;
        }
    }
    writer.finish()?;
    Ok(ThumbnailFile {
        file: File::open(path)?,
        row_of,
    })
}

/// `ThumbnailFile::row_of` of an example the file has no row for.
const NO_ROW: u32 = u32::MAX;

fn no_row() -> io::Error {
    io::Error::other("a signature whose thumbnails are in no row")
}

/// A signature cache file held open to read thumbnails back by example: a scan of many images
/// keeps them there instead of in memory. The open file stays readable when another scan replaces
/// it.
pub struct ThumbnailFile {
    file: File,
    /// Per example, its row in the file.
    row_of: Vec<u32>,
}

impl ThumbnailFile {
    /// The gray thumbnail of `example`; `None` where the file has no row for it, or the row is of
    /// a file without a signature.
    pub fn gray(&self, example: usize) -> io::Result<Option<Vec<u8>>> {
        self.field(example, GRAY_AT, GRAY_LEN)
    }

    /// The colour thumbnail of `example`, as `gray`.
    pub fn embed(&self, example: usize) -> io::Result<Option<Vec<u8>>> {
        self.field(example, EMBED_AT, EMBED_LEN)
    }

    fn field(&self, example: usize, at: usize, len: usize) -> io::Result<Option<Vec<u8>>> {
        use std::os::unix::fs::FileExt;
        let row = match self.row_of.get(example) {
            Some(&row) if row != NO_ROW => u64::from(row),
            _ => return Ok(None),
        };
        let mut value = vec![0u8; len];
        self.file.read_exact_at(
            &mut value,
            HEADER_BYTES + row * ROW_BYTES as u64 + at as u64,
        )?;
        Ok(Some(value))
    }
}

/// What `read` found in a signature cache file.
pub struct Cached {
    /// Per example, its signature from the file (see `read`).
    pub signed: Vec<Option<Signed>>,
    /// The file, for reading back the thumbnails `read` left out; `None` when there was no file.
    pub rows: Option<ThumbnailFile>,
}

/// The cached signatures of `dataset`'s examples (aligned with them; `None` where the file has no
/// valid row: a new or changed file, or an unreadable one), with their thumbnails only
/// `with_thumbnails` (else empty, to be read back from `Cached::rows`). Advances `progress` once per row
/// used; cancelled, it stops early with what it has read. A missing file is an empty cache; a
/// damaged one is an error, and then nothing is used.
pub fn read(
    path: &Path,
    dataset: &Dataset,
    records: &[ImageRecord],
    progress: &Progress,
    with_thumbnails: bool,
) -> Result<Cached, String> {
    let mut found: Vec<Option<Signed>> = vec![None; records.len()];
    let mut row_of = vec![NO_ROW; records.len()];
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Cached {
                signed: found,
                rows: None,
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    let length = file.metadata().map_err(|e| e.to_string())?.len();
    let mut input = BufReader::with_capacity(1 << 20, file.try_clone().map_err(|e| e.to_string())?);
    let mut header = [0u8; HEADER_BYTES as usize];
    input
        .read_exact(&mut header)
        .map_err(|_| "shorter than its header".to_string())?;
    if &header[..8] != MAGIC {
        return Err("not a signature cache of this version".into());
    }
    let rows = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
    if HEADER_BYTES + rows * ROW_BYTES as u64 != length {
        return Err(format!("{length} bytes, but its header says {rows} rows"));
    }
    // Rows follow the dataset's order unless files came or went: then they are found by path.
    let hashes: Vec<u64> = dataset
        .examples
        .iter()
        .map(|e| path_hash(&relative_path_text(&e.path)))
        .collect();
    let mut by_hash: Option<std::collections::HashMap<u64, usize>> = None;
    let mut next = 0usize;
    let mut row = vec![0u8; ROW_BYTES];
    for r in 0..rows {
        if r % 4096 == 0 && progress.is_cancelled() {
            break;
        }
        input.read_exact(&mut row).map_err(|e| e.to_string())?;
        let word = |at: usize| u64::from_le_bytes(row[at..at + 8].try_into().expect("8 bytes"));
        let hash = word(0);
        let example = if hashes.get(next) == Some(&hash) {
            Some(next)
        } else {
            by_hash
                .get_or_insert_with(|| hashes.iter().enumerate().map(|(i, &h)| (h, i)).collect())
                .get(&hash)
                .copied()
        };
        let Some(example) = example else { continue };
        next = example + 1;
        let record = &records[example];
        if !record.is_readable()
            || record.file_bytes != word(SIZE_AT)
            || record.mtime_ns != word(TIME_AT) as i64
        {
            continue;
        }
        let flags = row[FLAGS_AT];
        let thumbnail = |at: std::ops::Range<usize>| {
            if with_thumbnails {
                row[at].to_vec()
            } else {
                Vec::new()
            }
        };
        found[example] = Some(if flags & SIGNED != 0 {
            row_of[example] = r as u32;
            let side = row[SIDE_AT..FLAGS_AT].try_into().expect("4 bytes");
            (
                Some(Signature {
                    gray: thumbnail(GRAY_AT..EMBED_AT),
                    embed: thumbnail(EMBED_AT..ROW_BYTES),
                    has_structure: flags & STRUCTURE != 0,
                    source_side: u32::from_le_bytes(side),
                }),
                None,
            )
        } else {
            (None, Some(super::truncation_message(record.file_bytes)))
        });
        progress.advance(1);
    }
    crate::files::mark_used(path);
    Ok(Cached {
        signed: found,
        rows: Some(ThumbnailFile { file, row_of }),
    })
}
