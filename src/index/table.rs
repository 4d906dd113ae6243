//! The index as a table: a polars DataFrame with one row per example (for export and queries),
//! the numeric columns the UI sorts and filters by, and writing tables to Parquet or CSV.

use std::path::Path;

use polars::prelude::*;

use super::{ImageRecord, Index, IndexError};
use crate::dataset::relative_path_text;
use crate::dataset::{Dataset, Example};
use crate::files::write_atomically;

/// Columns of `Index::to_dataframe` before the dataset's extra columns (`decode_error`, `phash`,
/// `content_hash` and `mtime_ns` follow them). An extra column with one of these names, or any
/// later one, is renamed `extra_<name>`.
pub const LEADING_COLUMNS: &[&str] = &[
    "path",
    "split",
    "label",
    "width",
    "height",
    "channels",
    "mode",
    "file_bytes",
    "format",
    "brightness",
    "contrast",
    "sharpness",
    "entropy",
    "is_grayscale",
    "annotations",
    "box_area_min",
    "box_area_mean",
    "box_area_max",
];

/// Columns after the dataset's extra columns.
pub const TRAILING_COLUMNS: &[&str] = &["decode_error", "phash", "content_hash", "mtime_ns"];

impl Index {
    /// One row per example, in dataset order. Image columns are null where the file could not be
    /// decoded; see README "Index columns" for what each one means.
    pub fn to_dataframe(&self, dataset: &Dataset) -> DataFrame {
        let rows: Vec<(&Example, Option<&ImageRecord>)> = dataset
            .examples
            .iter()
            .enumerate()
            .map(|(i, e)| (e, self.records.get(i).filter(|r| r.is_readable())))
            .collect();
        let all_records: Vec<Option<&ImageRecord>> =
            (0..rows.len()).map(|i| self.records.get(i)).collect();
        let image = |f: &dyn Fn(&ImageRecord) -> f32| -> Vec<Option<f32>> {
            rows.iter()
                .map(|(_, r)| r.map(f).filter(|v| !v.is_nan()))
                .collect()
        };
        let boxes: Vec<Option<[f32; 3]>> = rows.iter().map(|(e, _)| box_area_stats(e)).collect();

        let mut columns: Vec<Column> = vec![
            col(
                "path",
                rows.iter()
                    .map(|(e, _)| relative_path_text(&e.path))
                    .collect::<Vec<_>>(),
            ),
            col(
                "split",
                rows.iter()
                    .map(|(e, _)| {
                        e.split
                            .and_then(|s| dataset.splits.get(s))
                            .map(String::as_str)
                    })
                    .collect::<Vec<_>>(),
            ),
            col(
                "label",
                rows.iter()
                    .map(|(e, _)| label_text(dataset, e))
                    .collect::<Vec<_>>(),
            ),
            col(
                "width",
                rows.iter()
                    .map(|(_, r)| r.map(|r| r.width))
                    .collect::<Vec<_>>(),
            ),
            col(
                "height",
                rows.iter()
                    .map(|(_, r)| r.map(|r| r.height))
                    .collect::<Vec<_>>(),
            ),
            col(
                "channels",
                rows.iter()
                    .map(|(_, r)| r.map(|r| u32::from(r.channels)))
                    .collect::<Vec<_>>(),
            ),
            col(
                "mode",
                rows.iter()
                    .map(|(_, r)| r.map(|r| r.mode.as_str()))
                    .collect::<Vec<_>>(),
            ),
            col(
                "file_bytes",
                all_records
                    .iter()
                    .map(|r| r.map(|r| r.file_bytes))
                    .collect::<Vec<_>>(),
            ),
            col(
                "format",
                all_records
                    .iter()
                    .map(|r| r.map(|r| r.format.as_str()).filter(|f| !f.is_empty()))
                    .collect::<Vec<_>>(),
            ),
            col("brightness", image(&|r| r.brightness)),
            col("contrast", image(&|r| r.contrast)),
            col("sharpness", image(&|r| r.sharpness)),
            col("entropy", image(&|r| r.entropy)),
            col(
                "is_grayscale",
                rows.iter()
                    .map(|(_, r)| r.map(|r| r.is_grayscale))
                    .collect::<Vec<_>>(),
            ),
            col(
                "annotations",
                rows.iter()
                    .map(|(e, _)| e.annotations.len() as u32)
                    .collect::<Vec<_>>(),
            ),
            col(
                "box_area_min",
                boxes.iter().map(|b| b.map(|b| b[0])).collect::<Vec<_>>(),
            ),
            col(
                "box_area_mean",
                boxes.iter().map(|b| b.map(|b| b[1])).collect::<Vec<_>>(),
            ),
            col(
                "box_area_max",
                boxes.iter().map(|b| b.map(|b| b[2])).collect::<Vec<_>>(),
            ),
        ];
        for (k, name) in extra_column_names(dataset).into_iter().enumerate() {
            let values: Vec<Option<f64>> = rows
                .iter()
                .map(|(e, _)| e.extra.get(k).copied().filter(|v| !v.is_nan()))
                .collect();
            columns.push(col(&name, values));
        }
        columns.extend([
            col(
                "decode_error",
                all_records
                    .iter()
                    .map(|r| match r {
                        Some(r) => r.decode_error.as_deref(),
                        None => Some("not indexed"),
                    })
                    .collect::<Vec<_>>(),
            ),
            col(
                "phash",
                rows.iter()
                    .map(|(_, r)| r.map(|r| format!("{:016x}", r.phash)))
                    .collect::<Vec<_>>(),
            ),
            col(
                "content_hash",
                rows.iter()
                    .map(|(_, r)| r.map(|r| format!("{:032x}", r.content_hash)))
                    .collect::<Vec<_>>(),
            ),
            col(
                "mtime_ns",
                all_records
                    .iter()
                    .map(|r| r.map(|r| r.mtime_ns))
                    .collect::<Vec<_>>(),
            ),
        ]);
        // Names are unique by construction and every column has one value per example.
        DataFrame::new(rows.len(), columns)
            .expect("index columns have equal lengths and unique names")
    }

    /// Every statistic to sort or filter by, as `(column name, one value per example)`: image
    /// stats (NaN where the file could not be decoded), `is_grayscale` as 0/1, annotation count and
    /// box areas (NaN without boxes), and the dataset's extra columns. Names match `to_dataframe`.
    pub fn numeric_columns(&self, dataset: &Dataset) -> Vec<(String, Vec<f64>)> {
        let readable: Vec<Option<&ImageRecord>> = (0..dataset.examples.len())
            .map(|i| self.records.get(i).filter(|r| r.is_readable()))
            .collect();
        let image = |f: fn(&ImageRecord) -> f64| -> Vec<f64> {
            readable.iter().map(|r| r.map_or(f64::NAN, f)).collect()
        };
        let boxes: Vec<Option<[f32; 3]>> = dataset.examples.iter().map(box_area_stats).collect();
        let box_column = |k: usize| -> Vec<f64> {
            boxes
                .iter()
                .map(|b| b.map_or(f64::NAN, |b| f64::from(b[k])))
                .collect()
        };
        let mut columns = vec![
            ("width".to_string(), image(|r| f64::from(r.width))),
            ("height".to_string(), image(|r| f64::from(r.height))),
            ("channels".to_string(), image(|r| f64::from(r.channels))),
            (
                "file_bytes".to_string(),
                (0..dataset.examples.len())
                    .map(|i| {
                        self.records
                            .get(i)
                            .map_or(f64::NAN, |r| r.file_bytes as f64)
                    })
                    .collect(),
            ),
            ("brightness".to_string(), image(|r| f64::from(r.brightness))),
            ("contrast".to_string(), image(|r| f64::from(r.contrast))),
            ("sharpness".to_string(), image(|r| f64::from(r.sharpness))),
            ("entropy".to_string(), image(|r| f64::from(r.entropy))),
            (
                "is_grayscale".to_string(),
                image(|r| if r.is_grayscale { 1.0 } else { 0.0 }),
            ),
            (
                "annotations".to_string(),
                dataset
                    .examples
                    .iter()
                    .map(|e| e.annotations.len() as f64)
                    .collect(),
            ),
            ("box_area_min".to_string(), box_column(0)),
            ("box_area_mean".to_string(), box_column(1)),
            ("box_area_max".to_string(), box_column(2)),
        ];
        for (k, name) in extra_column_names(dataset).into_iter().enumerate() {
            columns.push((
                name,
                dataset
                    .examples
                    .iter()
                    .map(|e| e.extra.get(k).copied().unwrap_or(f64::NAN))
                    .collect(),
            ));
        }
        columns
    }
}

/// Names for the dataset's extra columns that clash with none of the index's own.
fn extra_column_names(dataset: &Dataset) -> Vec<String> {
    let mut taken: Vec<String> = LEADING_COLUMNS
        .iter()
        .chain(TRAILING_COLUMNS)
        .map(|s| s.to_string())
        .collect();
    let mut names = Vec::with_capacity(dataset.extra_columns.len());
    for name in &dataset.extra_columns {
        let mut name = name.clone();
        while taken.contains(&name) {
            name = format!("extra_{name}");
        }
        taken.push(name.clone());
        names.push(name);
    }
    names
}

/// The class name, or for detection the distinct classes of its boxes joined by ";".
fn label_text(dataset: &Dataset, example: &Example) -> Option<String> {
    let names: Vec<&str> = example
        .classes()
        .into_iter()
        .map(|c| dataset.classes.get(c).map_or("?", String::as_str))
        .collect();
    (!names.is_empty()).then(|| names.join(";"))
}

/// `[min, mean, max]` of the boxes' areas relative to the image; `None` without boxes.
fn box_area_stats(example: &Example) -> Option<[f32; 3]> {
    let areas: Vec<f32> = example
        .annotations
        .iter()
        .map(|a| a.relative_area())
        .collect();
    if areas.is_empty() {
        return None;
    }
    let min = areas.iter().copied().fold(f32::INFINITY, f32::min);
    let max = areas.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Some([min, areas.iter().sum::<f32>() / areas.len() as f32, max])
}

fn col<T, V>(name: &str, values: V) -> Column
where
    Series: NamedFrom<V, T>,
    T: ?Sized,
{
    Series::new(name.into(), values).into_column()
}

/// Table formats `write_table` knows, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Csv,
}

impl TableFormat {
    /// The format for `path`'s extension (case-insensitive), or an error naming the extension.
    pub fn for_path(path: &Path) -> Result<TableFormat, IndexError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "parquet" => Ok(TableFormat::Parquet),
            "csv" => Ok(TableFormat::Csv),
            _ => Err(IndexError::UnsupportedExtension {
                path: path.to_path_buf(),
                extension,
            }),
        }
    }
}

/// Writes `df` to `path` as Parquet or CSV, chosen by the extension, atomically (temporary file in
/// the same folder, then rename).
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<(), IndexError> {
    let format = TableFormat::for_path(path)?;
    let table_err = |source: PolarsError| IndexError::Table {
        path: path.to_path_buf(),
        source,
    };
    let result = write_atomically(path, |file| {
        match format {
            TableFormat::Parquet => ParquetWriter::new(file).finish(df).map(|_| ()),
            TableFormat::Csv => CsvWriter::new(file).include_header(true).finish(df),
        }
        .map_err(std::io::Error::other)
    });
    result.map_err(|e| match e.downcast::<PolarsError>() {
        Ok(polars) => table_err(polars),
        Err(io) => IndexError::Io {
            path: path.to_path_buf(),
            source: io,
        },
    })
}
