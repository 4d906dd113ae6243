//! Decodes each dataset image once into one row of statistics (size, mode, brightness, sharpness,
//! hashes), and keeps those rows in a Parquet cache so a reopen decodes only new or changed files.

mod cache;
pub mod jpeg;
pub mod shards;
mod stats;
mod table;

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat};
use rayon::prelude::*;

use crate::dataset::{Dataset, relative_path_text};
use crate::files::{DiskCache, cache_budget_bytes, mark_used};
use crate::jobs::Progress;
use crate::scan::{Signed, signature_cache};

pub use stats::phash_distance;
pub use table::{TableFormat, write_table};

/// Largest allocation one decode may make; refuses decompression bombs.
pub const DECODE_MEMORY_LIMIT_BYTES: u64 = 512 * 1024 * 1024;

/// A decoded image that cannot be read, with the file named.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DecodeError {
    pub path: PathBuf,
    pub message: String,
}

/// A small RGBA image, ready to upload as a texture.
#[derive(Clone, Debug)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    /// Size of the original image, after EXIF orientation.
    pub source_size: [u32; 2],
    /// `width * height * 4` bytes, unpremultiplied RGBA.
    pub rgba: Vec<u8>,
}

impl Thumbnail {
    /// Bytes the pixels take, for cache budgets.
    pub fn bytes(&self) -> usize {
        self.rgba.len()
    }
}

/// An image as decoded from its file, turned upright, with the format it was stored in.
pub struct Decoded {
    pub image: DynamicImage,
    pub format: ImageFormat,
    /// Upright size of the stored image; larger than `image` when a JPEG decoded at reduced scale.
    pub full_size: [u32; 2],
}

/// Decodes `path` (format guessed from its content), within `DECODE_MEMORY_LIMIT_BYTES`, and applies
/// its EXIF orientation so the pixels are the way a viewer shows them.
pub fn decode(path: &Path) -> Result<DynamicImage, DecodeError> {
    decode_with_format(path).map(|decoded| decoded.image)
}

/// Like `decode`, also telling which format the file was in.
pub fn decode_with_format(path: &Path) -> Result<Decoded, DecodeError> {
    decode_bytes(path, &read_image_file(path)?)
}

/// The whole file, read at once: dataset images are small, and decoding from memory is faster
/// than a buffered reader's many small reads.
pub(crate) fn read_image_file(path: &Path) -> Result<Vec<u8>, DecodeError> {
    crate::files::read_input_file(path)
        .map(|(bytes, _)| bytes)
        .map_err(|e| DecodeError {
            path: path.to_path_buf(),
            message: format!("cannot open: {e}"),
        })
}

/// Decodes the content `bytes` of the file `path` (named in errors only); see `decode`.
pub fn decode_bytes(path: &Path, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_bytes_at_least(path, bytes, None)
}

/// Like `decode_bytes`, but a large JPEG may decode at 1/2, 1/4 or 1/8 scale (libjpeg-turbo's
/// DCT scaling, much faster) as long as its longer side stays at least `min_long_side_px`.
pub fn decode_bytes_at_least(
    path: &Path,
    bytes: &[u8],
    min_long_side_px: Option<u32>,
) -> Result<Decoded, DecodeError> {
    let (mut image, format, full_size, orientation) = decode_stored(path, bytes, min_long_side_px)?;
    image.apply_orientation(orientation);
    let full_size = upright_size(full_size, orientation);
    Ok(Decoded {
        image,
        format,
        full_size,
    })
}

/// The pixels as stored, before EXIF orientation: `(image, format, stored size, orientation)`.
/// JPEGs go through libjpeg-turbo (`jpeg::decode_jpeg`), everything else through `image`.
pub(crate) fn decode_stored(
    path: &Path,
    bytes: &[u8],
    min_long_side_px: Option<u32>,
) -> Result<(DynamicImage, ImageFormat, [u32; 2], Orientation), DecodeError> {
    let err = |message: String| DecodeError {
        path: path.to_path_buf(),
        message,
    };
    if bytes.is_empty() {
        return Err(err("empty file (0 bytes)".into()));
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let Some(format) = reader.format() else {
        return Err(err("not a recognised image format".into()));
    };
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_MEMORY_LIMIT_BYTES);
    reader.limits(limits);
    if format == ImageFormat::Jpeg && jpeg::is_jpeg(bytes) {
        let decoded = jpeg::decode_jpeg(bytes, min_long_side_px, DECODE_MEMORY_LIMIT_BYTES)
            .map_err(|e| err(format!("cannot decode: {e}")))?;
        let orientation = jpeg::exif_orientation(bytes).unwrap_or(Orientation::NoTransforms);
        return Ok((decoded.image, format, decoded.full_size, orientation));
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| err(format!("cannot decode: {e}")))?;
    // `into_decoder` hands the limits to the decoder, but only `ImageReader::decode` checks the size
    // of the pixel buffer itself; a header may claim billions of pixels in a few bytes.
    if decoder.total_bytes() > DECODE_MEMORY_LIMIT_BYTES {
        let (width, height) = decoder.dimensions();
        return Err(err(format!(
            "cannot decode: {width}×{height} pixels would need {} MiB, more than the {} MiB limit",
            decoder.total_bytes() / (1024 * 1024),
            DECODE_MEMORY_LIMIT_BYTES / (1024 * 1024)
        )));
    }
    // A broken EXIF block should not make otherwise good pixels unreadable.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image =
        DynamicImage::from_decoder(decoder).map_err(|e| err(format!("cannot decode: {e}")))?;
    let size = [image.width(), image.height()];
    Ok((image, format, size, orientation))
}

/// `[width, height]` after `orientation`: the sides swap for the four that turn by 90°.
pub fn upright_size([width, height]: [u32; 2], orientation: Orientation) -> [u32; 2] {
    use Orientation::*;
    match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => [height, width],
        _ => [width, height],
    }
}

/// Decodes `path` and shrinks it so its longer side is at most `max_side_px`.
pub fn thumbnail(path: &Path, max_side_px: u32) -> Result<Thumbnail, DecodeError> {
    let Decoded {
        image, full_size, ..
    } = decode_bytes_at_least(path, &read_image_file(path)?, Some(max_side_px))?;
    let source_size = full_size;
    let small = if image.width() > max_side_px || image.height() > max_side_px {
        image.thumbnail(max_side_px, max_side_px)
    } else {
        image
    };
    let rgba = small.to_rgba8();
    Ok(Thumbnail {
        width: rgba.width(),
        height: rgba.height(),
        source_size,
        rgba: rgba.into_raw(),
    })
}

/// What one decode of one file tells: its size, pixel format, simple statistics and hashes.
///
/// Statistics are computed on the gray (Rec. 709 luma) image; images whose longer side is over
/// `STATS_MAX_SIDE_PX` are first shrunk to that by area averaging, which keeps brightness and
/// roughly keeps contrast and entropy, but lowers sharpness (it measures detail per pixel). Large
/// JPEGs decode at the libjpeg DCT scale (1/2, 1/4, 1/8) that keeps at least half that side.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    /// Size in pixels, after EXIF orientation; 0 when unreadable.
    pub width: u32,
    pub height: u32,
    /// Channels of the stored pixels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA); 0 when unreadable.
    pub channels: u8,
    /// Pixel mode: "L", "LA", "RGB", "RGBA", "L16", "LA16", "RGB16", "RGBA16", "RGB32F", "RGBA32F";
    /// empty when unreadable.
    pub mode: String,
    /// Size of the file.
    pub file_bytes: u64,
    /// Format found from the file's content ("png", "jpeg", "webp", ...), whatever its extension;
    /// empty when not recognised.
    pub format: String,
    /// Modification time, nanoseconds since the Unix epoch; with `file_bytes`, decides whether a
    /// cached row is still valid.
    pub mtime_ns: i64,
    /// Mean gray level, 0..255. NaN when unreadable.
    pub brightness: f32,
    /// Standard deviation of the gray level. NaN when unreadable.
    pub contrast: f32,
    /// Variance of the 3×3 Laplacian of the gray image: low means blurry. NaN when unreadable.
    pub sharpness: f32,
    /// Shannon entropy of the 256-bin gray histogram, in bits (0..8). NaN when unreadable.
    pub entropy: f32,
    /// Gray or gray+alpha mode, or colour with equal channels in every pixel.
    pub is_grayscale: bool,
    /// 64-bit DCT perceptual hash (pHash: 8×8 low frequencies against their median); near-duplicates
    /// differ in few bits. 0 when unreadable.
    pub phash: u64,
    /// xxh3-128 of the decoded pixels, their size and mode: equal for equal pixels however they are
    /// encoded (JPEGs over `STATS_MAX_SIDE_PX`: of the reduced-scale decode). 0 when unreadable.
    pub content_hash: u128,
    /// Why the file could not be read (missing, empty, not an image, truncated, too large).
    pub decode_error: Option<String>,
}

/// Images larger than this on their longer side are shrunk before their statistics are computed.
pub const STATS_MAX_SIDE_PX: u32 = stats::STATS_MAX_SIDE_PX;

impl ImageRecord {
    /// A row for a file that could not be decoded: NaN statistics, zero size and hashes.
    fn unreadable(file: FileKey, format: String, message: String) -> ImageRecord {
        ImageRecord {
            width: 0,
            height: 0,
            channels: 0,
            mode: String::new(),
            file_bytes: file.bytes,
            format,
            mtime_ns: file.mtime_ns,
            brightness: f32::NAN,
            contrast: f32::NAN,
            sharpness: f32::NAN,
            entropy: f32::NAN,
            is_grayscale: false,
            phash: 0,
            content_hash: 0,
            decode_error: Some(message),
        }
    }

    fn file_key(&self) -> FileKey {
        FileKey {
            bytes: self.file_bytes,
            mtime_ns: self.mtime_ns,
        }
    }

    /// True when the file was decoded.
    pub fn is_readable(&self) -> bool {
        self.decode_error.is_none()
    }
}

/// One record per example of a dataset.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Aligned with `Dataset::examples`.
    pub records: Vec<ImageRecord>,
    /// How many files this build decoded.
    pub decoded: usize,
    /// How many rows came from the cache (the rest are files that could not be found).
    pub from_cache: usize,
    /// Cache problems (unreadable cache ignored, cache not written). The index itself is complete.
    pub warnings: Vec<String>,
    /// False when the rows were taken from the cache without looking at the files
    /// (`cached_index`): a file changed since may still hold its old row.
    pub files_checked: bool,
    /// Where scans of this dataset keep its images' signatures (`scan::signature_cache`): beside
    /// the index cache file, when there is one.
    pub signature_cache: Option<PathBuf>,
}

impl Index {
    /// Positions of the records that decoded, ascending (aligned with `Dataset::examples`).
    pub fn readable_examples(&self) -> Vec<usize> {
        (0..self.records.len())
            .filter(|&i| self.records[i].is_readable())
            .collect()
    }
}

/// Where `build_index` keeps its cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexCache {
    /// Decode everything, keep nothing.
    None,
    /// `<user cache dir>/eyeball/index/` (e.g. `~/.cache/eyeball/index/` on Linux).
    Default,
    /// A folder of your choice (tests, benchmarks).
    At(PathBuf),
    /// A folder of shards from `eyeball index --shard` jobs, read as one index and never
    /// written; rows of files that changed or are missing from every shard are decoded.
    Shards(PathBuf),
}

impl IndexCache {
    /// The cache file for the dataset at `root`: one file per dataset, named by a hash of its
    /// canonical path (and the cache format version, so a new format never reads an old file).
    pub fn file_for(&self, root: &Path) -> Option<PathBuf> {
        let dir = match self {
            IndexCache::None | IndexCache::Shards(_) => return None,
            IndexCache::Default => dirs::cache_dir()?.join("eyeball").join("index"),
            IndexCache::At(dir) => dir.clone(),
        };
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let key = format!("v{}\0{}", cache::CACHE_VERSION, root.to_string_lossy());
        Some(dir.join(format!(
            "{:016x}.parquet",
            xxhash_rust::xxh3::xxh3_64(key.as_bytes())
        )))
    }
}

/// Why an index could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("indexing was cancelled")]
    Cancelled,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write the table: {source}")]
    Table {
        path: PathBuf,
        source: polars::error::PolarsError,
    },
    #[error("{path}: cannot write a table with extension {extension:?}; use .parquet or .csv")]
    UnsupportedExtension { path: PathBuf, extension: String },
    #[error("{path}: {message}")]
    Shards { path: PathBuf, message: String },
}

/// Size and modification time of a file: what decides whether a cached row is still valid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FileKey {
    bytes: u64,
    mtime_ns: i64,
}

impl FileKey {
    /// `None` when the file cannot be looked at (missing, no permission).
    fn of(path: &Path) -> Option<FileKey> {
        std::fs::metadata(path)
            .ok()
            .map(|meta| FileKey::from_metadata(&meta))
    }

    fn from_metadata(meta: &std::fs::Metadata) -> FileKey {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        FileKey {
            bytes: meta.len(),
            mtime_ns,
        }
    }
}

/// Examples decoded between writes of their signatures: bounds the signatures held at once.
const SIGNED_CHUNK: usize = 8192;

/// Builds the index of `dataset`: rows from the cache where file size and modification time still
/// match, a decode for every other file, in parallel on the rayon pool. Unreadable files become
/// rows with `decode_error` set. Advances `progress` once per example.
///
/// When cancelled, saves what was done to the cache (so the next build resumes) and returns
/// `IndexError::Cancelled`. Cache problems never fail the build; they end up in `Index::warnings`.
pub fn build_index(
    dataset: &Dataset,
    cache: IndexCache,
    progress: &Progress,
) -> Result<Index, IndexError> {
    progress.set_total(dataset.examples.len());
    let cache_file = cache.file_for(&dataset.root);
    let mut warnings = Vec::new();
    let cached: HashMap<String, ImageRecord> = match (&cache, &cache_file) {
        (IndexCache::Shards(dir), _) => {
            let (rows, shard_warnings) = shards::read_shards(dir)?;
            warnings.extend(shard_warnings);
            rows
        }
        (_, Some(file)) => cache::read(file)
            .map(|rows| rows.into_iter().collect())
            .inspect(|_| mark_used(file))
            .unwrap_or_else(|message| {
                warnings.push(format!(
                    "{}: ignored the index cache: {message}",
                    file.display()
                ));
                HashMap::new()
            }),
        (_, None) => HashMap::new(),
    };
    let signature_cache = cache_file.as_deref().map(signature_cache::file_beside);
    // A build that decodes every file also signs each one from the same decode, so the scan that
    // follows need not decode them again.
    let mut signatures = match &signature_cache {
        Some(file) if cached.is_empty() && signature_cache::fits_budget(dataset.examples.len()) => {
            signature_cache::Writer::create(file)
                .map_err(|e| {
                    warnings.push(format!(
                        "{}: could not save the signature cache: {e}",
                        file.display()
                    ))
                })
                .ok()
        }
        _ => None,
    };
    let (decoded, reused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut slots: Vec<Option<ImageRecord>> = Vec::with_capacity(dataset.examples.len());
    // In chunks, so that signatures are written as they are made.
    for chunk in dataset.examples.chunks(SIGNED_CHUNK) {
        let rows: Vec<(Option<ImageRecord>, Option<Signed>)> = chunk
            .par_iter()
            .map(|example| {
                let path = dataset.absolute_path(example);
                // Only a cached row needs a separate look at the file; a decode gets size and time
                // from the open file.
                if let Some(record) = cached.get(&relative_path_text(&example.path))
                    && FileKey::of(&path) == Some(record.file_key())
                {
                    reused.fetch_add(1, Ordering::Relaxed);
                    progress.advance(1);
                    return (Some(record.clone()), None);
                }
                if progress.is_cancelled() {
                    return (None, None);
                }
                let (record, signed, found) = index_file(&path, signatures.is_some());
                if found {
                    decoded.fetch_add(1, Ordering::Relaxed);
                }
                progress.advance(1);
                (Some(record), signed)
            })
            .collect();
        for (example, (record, signed)) in chunk.iter().zip(rows) {
            if let (Some(writer), Some(record), Some(signed)) = (&mut signatures, &record, &signed)
                && let Err(e) = writer.push(&relative_path_text(&example.path), record, signed)
            {
                warnings.push(format!(
                    "{}: could not save the signature cache: {e}",
                    writer.path().display()
                ));
                signatures = None;
            }
            slots.push(record);
        }
    }
    let (decoded, reused) = (decoded.into_inner(), reused.into_inner());
    let cancelled = slots.iter().any(Option::is_none);
    // Rewrite the cache only when it would change (new rows, rows gone, unreadable file): a warm
    // reopen stays read-only and fast.
    let stale = decoded > 0 || reused != cached.len() || !warnings.is_empty();
    if let Some(file) = &cache_file
        && stale
    {
        let rows = dataset
            .examples
            .iter()
            .zip(&slots)
            .filter_map(|(example, slot)| {
                let record = slot.as_ref()?;
                // A file that could not be opened may be readable later with the same mtime: don't keep it.
                let unopened = record.file_key() == FileKey::default() && !record.is_readable();
                (!unopened).then(|| (relative_path_text(&example.path), record))
            });
        match cache::write(file, rows) {
            Ok(()) => {
                if let Some(writer) = signatures.take()
                    && !cancelled
                {
                    let path = writer.path().to_path_buf();
                    if let Err(e) = writer.finish() {
                        warnings.push(format!(
                            "{}: could not save the signature cache: {e}",
                            path.display()
                        ));
                    }
                }
                // Other datasets' caches make room, least recently opened first.
                if let Some(dir) = file.parent() {
                    let _ = DiskCache::new(dir, cache_budget_bytes())
                        .trim(&[file, &signature_cache::file_beside(file)]);
                }
            }
            Err(message) => warnings.push(format!(
                "{}: could not save the index cache: {message}",
                file.display()
            )),
        }
    }
    if cancelled {
        return Err(IndexError::Cancelled);
    }
    let records = slots.into_iter().flatten().collect();
    Ok(Index {
        records,
        decoded,
        from_cache: reused,
        warnings,
        files_checked: true,
        signature_cache,
    })
}

/// The rows of a dataset's index cache file, read before (or while) the folder is listed.
pub struct CachedRows(Vec<(String, ImageRecord)>, PathBuf);

/// Reads the index cache file of the dataset at `root`; `None` when there is none (or shards,
/// or it cannot be read: the full build then says why).
pub fn read_cached_rows(root: &Path, cache: &IndexCache) -> Option<CachedRows> {
    if matches!(cache, IndexCache::Shards(_)) {
        return None;
    }
    let file = cache.file_for(root)?;
    let rows = cache::read(&file).ok().filter(|rows| !rows.is_empty())?;
    mark_used(&file);
    Some(CachedRows(rows, file))
}

/// The index of `dataset` from its cache rows alone, when they hold a row for every example: no
/// file is opened or looked at, so a warm reopen of a million images has its stats in about a
/// second. The rows are as they were saved; `build_index` then tells whether files changed.
pub fn cached_index(dataset: &Dataset, CachedRows(rows, file): CachedRows) -> Option<Index> {
    let path_of = |i: usize| relative_path_text(&dataset.examples[i].path);
    // Saved in the dataset's order unless files came or went: then matched by path.
    let in_order = rows.len() == dataset.examples.len()
        && rows
            .par_iter()
            .enumerate()
            .all(|(i, (path, _))| *path == path_of(i));
    let records: Vec<ImageRecord> = if in_order {
        rows.into_iter().map(|(_, record)| record).collect()
    } else {
        let mut by_path: HashMap<String, ImageRecord> = rows.into_iter().collect();
        (0..dataset.examples.len())
            .map(|i| by_path.remove(&path_of(i)))
            .collect::<Option<_>>()?
    };
    Some(Index {
        from_cache: records.len(),
        records,
        decoded: 0,
        warnings: Vec::new(),
        files_checked: false,
        signature_cache: Some(signature_cache::file_beside(&file)),
    })
}

/// Reads, decodes and describes one file, and signs it for the scan from the same decode when
/// `sign` (`None` when unreadable); never fails, a problem becomes `decode_error`. The flag is
/// false when the file could not even be opened (missing, no permission).
fn index_file(path: &Path, sign: bool) -> (ImageRecord, Option<Signed>, bool) {
    let (bytes, key) = match read_file(path) {
        Ok(read) => read,
        // Zero size and time: such rows are never cached, the file may be readable next time.
        Err(e) => {
            return (
                ImageRecord::unreadable(
                    FileKey::default(),
                    String::new(),
                    format!("cannot open: {e}"),
                ),
                None,
                false,
            );
        }
    };
    match decode_for_stats(path, &bytes) {
        Ok(decoded) => {
            let signed = sign.then(|| crate::scan::sign_decoded(&bytes, &decoded.image));
            (
                stats::describe(&decoded, key.bytes, key.mtime_ns),
                signed,
                true,
            )
        }
        // Keep the format when the header was recognised (a truncated PNG is still a PNG).
        Err(e) => (
            ImageRecord::unreadable(
                key,
                image::guess_format(&bytes)
                    .map(format_name)
                    .unwrap_or_default(),
                e.message,
            ),
            None,
            true,
        ),
    }
}

/// Decodes a file's `bytes` for its statistics. Statistics are taken at most `STATS_MAX_SIDE_PX`
/// on the longer side anyway, so a large JPEG decodes at the DCT scale that keeps at least half of
/// that (4000 px: 1/4, 1000 px).
pub fn decode_for_stats(path: &Path, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_bytes_at_least(path, bytes, Some(STATS_MAX_SIDE_PX / 2))
}

/// The file's content with its size and modification time, from one open.
fn read_file(path: &Path) -> std::io::Result<(Vec<u8>, FileKey)> {
    let (bytes, metadata) = crate::files::read_input_file(path)?;
    Ok((bytes, FileKey::from_metadata(&metadata)))
}

/// Lower-case format name: "png", "jpeg", "webp", "tiff", ...
pub fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
