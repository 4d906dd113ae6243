//! The index cache: one Parquet file per dataset in the user's cache folder, holding every
//! `ImageRecord` with its relative path. Written atomically; anything unreadable is ignored.

use std::path::Path;

use polars::prelude::*;

use super::ImageRecord;

/// Bumped whenever the columns or the way a statistic is computed change; part of the file name,
/// so an old cache is never read by a new eyeball.
/// 2: JPEGs decode through libjpeg-turbo, large ones at reduced DCT scale.
pub const CACHE_VERSION: u32 = 2;

/// Reads a cache file into `(relative path, record)` rows, in the order saved (the dataset's, when
/// it has not changed). A missing file is an empty cache; anything else that is wrong with it is
/// an error message (the caller ignores the file).
pub fn read(path: &Path) -> Result<Vec<(String, ImageRecord)>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| e.to_string())?;
    let paths = strings(&df, "path")?;
    let width = numbers::<UInt32Type>(&df, "width")?;
    let height = numbers::<UInt32Type>(&df, "height")?;
    let channels = numbers::<UInt32Type>(&df, "channels")?;
    let mode = strings(&df, "mode")?;
    let file_bytes = numbers::<UInt64Type>(&df, "file_bytes")?;
    let format = strings(&df, "format")?;
    let mtime_ns = numbers::<Int64Type>(&df, "mtime_ns")?;
    let brightness = numbers::<Float32Type>(&df, "brightness")?;
    let contrast = numbers::<Float32Type>(&df, "contrast")?;
    let sharpness = numbers::<Float32Type>(&df, "sharpness")?;
    let entropy = numbers::<Float32Type>(&df, "entropy")?;
    let is_grayscale = series(&df, "is_grayscale")?
        .bool()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|v| v.ok_or_else(|| "null in column is_grayscale".to_string()))
        .collect::<Result<Vec<bool>, String>>()?;
    let phash = numbers::<UInt64Type>(&df, "phash")?;
    let hash_hi = numbers::<UInt64Type>(&df, "content_hash_hi")?;
    let hash_lo = numbers::<UInt64Type>(&df, "content_hash_lo")?;
    let decode_error = optional_strings(&df, "decode_error")?;

    let mut records = Vec::with_capacity(df.height());
    for (i, path) in paths.into_iter().enumerate() {
        let record = ImageRecord {
            width: width[i],
            height: height[i],
            channels: u8::try_from(channels[i])
                .map_err(|_| format!("row {i}: channels {}", channels[i]))?,
            mode: mode[i].clone(),
            file_bytes: file_bytes[i],
            format: format[i].clone(),
            mtime_ns: mtime_ns[i],
            brightness: brightness[i],
            contrast: contrast[i],
            sharpness: sharpness[i],
            entropy: entropy[i],
            is_grayscale: is_grayscale[i],
            phash: phash[i],
            content_hash: (u128::from(hash_hi[i]) << 64) | u128::from(hash_lo[i]),
            decode_error: decode_error[i].clone(),
        };
        records.push((path, record));
    }
    Ok(records)
}

/// Writes `(relative path, record)` rows to `path`: to a temporary file beside it, then renamed
/// over it, so a crash mid-write leaves the old cache or none, never half a file.
pub fn write<'a>(
    path: &Path,
    rows: impl Iterator<Item = (String, &'a ImageRecord)>,
) -> Result<(), String> {
    let (paths, records): (Vec<String>, Vec<&ImageRecord>) = rows.unzip();
    let column = |name: &str, values: Series| values.with_name(name.into()).into_column();
    let columns = vec![
        column("path", Series::new("".into(), paths)),
        column(
            "width",
            Series::new(
                "".into(),
                records.iter().map(|r| r.width).collect::<Vec<_>>(),
            ),
        ),
        column(
            "height",
            Series::new(
                "".into(),
                records.iter().map(|r| r.height).collect::<Vec<_>>(),
            ),
        ),
        column(
            "channels",
            Series::new(
                "".into(),
                records
                    .iter()
                    .map(|r| u32::from(r.channels))
                    .collect::<Vec<_>>(),
            ),
        ),
        column(
            "mode",
            Series::new(
                "".into(),
                records.iter().map(|r| r.mode.as_str()).collect::<Vec<_>>(),
            ),
        ),
        column(
            "file_bytes",
            Series::new(
                "".into(),
                records.iter().map(|r| r.file_bytes).collect::<Vec<_>>(),
            ),
        ),
        column(
            "format",
            Series::new(
                "".into(),
                records
                    .iter()
                    .map(|r| r.format.as_str())
                    .collect::<Vec<_>>(),
            ),
        ),
        column(
            "mtime_ns",
            Series::new(
                "".into(),
                records.iter().map(|r| r.mtime_ns).collect::<Vec<_>>(),
            ),
        ),
        column(
            "brightness",
            Series::new(
                "".into(),
                records.iter().map(|r| r.brightness).collect::<Vec<_>>(),
            ),
        ),
        column(
            "contrast",
            Series::new(
                "".into(),
                records.iter().map(|r| r.contrast).collect::<Vec<_>>(),
            ),
        ),
        column(
            "sharpness",
            Series::new(
                "".into(),
                records.iter().map(|r| r.sharpness).collect::<Vec<_>>(),
            ),
        ),
        column(
            "entropy",
            Series::new(
                "".into(),
                records.iter().map(|r| r.entropy).collect::<Vec<_>>(),
            ),
        ),
        column(
            "is_grayscale",
            Series::new(
                "".into(),
                records.iter().map(|r| r.is_grayscale).collect::<Vec<_>>(),
            ),
        ),
        column(
            "phash",
            Series::new(
                "".into(),
                records.iter().map(|r| r.phash).collect::<Vec<_>>(),
            ),
        ),
        column(
            "content_hash_hi",
            Series::new(
                "".into(),
                records
                    .iter()
                    .map(|r| (r.content_hash >> 64) as u64)
                    .collect::<Vec<_>>(),
            ),
        ),
        column(
            "content_hash_lo",
            Series::new(
                "".into(),
                records
                    .iter()
                    .map(|r| r.content_hash as u64)
                    .collect::<Vec<_>>(),
            ),
        ),
        column(
            "decode_error",
            Series::new(
                "".into(),
                records
                    .iter()
                    .map(|r| r.decode_error.as_deref())
                    .collect::<Vec<_>>(),
            ),
        ),
    ];
    let mut df = DataFrame::new(records.len(), columns).map_err(|e| e.to_string())?;
    let dir = path.parent().ok_or("no parent folder")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    crate::files::write_atomically(path, |file| {
        ParquetWriter::new(file)
            .finish(&mut df)
            .map(|_| ())
            .map_err(std::io::Error::other)
    })
    .map_err(|e| e.to_string())
}

fn series<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Series, String> {
    Ok(df
        .column(name)
        .map_err(|_| format!("no column {name}"))?
        .as_materialized_series())
}

fn numbers<T>(df: &DataFrame, name: &str) -> Result<Vec<T::Native>, String>
where
    T: PolarsNumericType,
{
    let s = series(df, name)?;
    let ca = s
        .unpack::<T>()
        .map_err(|_| format!("column {name} has type {}", s.dtype()))?;
    ca.iter()
        .map(|v| v.ok_or_else(|| format!("null in column {name}")))
        .collect()
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>, String> {
    optional_strings(df, name)?
        .into_iter()
        .map(|v| v.ok_or_else(|| format!("null in column {name}")))
        .collect()
}

fn optional_strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, String> {
    let s = series(df, name)?;
    let ca = s.str().map_err(|e| e.to_string())?;
    Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
}
