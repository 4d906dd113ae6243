//! Flat images plus a labels table: a CSV or Parquet file in ROOT with one row per image, read
//! with polars. Finds the image, label and split columns by their usual names.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use polars::prelude::{
    Column, CsvReadOptions, DataFrame, DataType, ParquetReader, PolarsError, SerReader,
};

use super::imagefolder::read_dir;
use super::{
    Dataset, DatasetError, Example, IMAGE_EXTENSIONS, Layout, cap_warnings, is_image_path,
    natural_cmp, sort_examples, sort_splits,
};

/// Names (any case) of a column holding image paths, most specific first.
const IMAGE_COLUMNS: &[&str] = &[
    "file",
    "filename",
    "file_name",
    "filepath",
    "file_path",
    "path",
    "image",
    "image_path",
    "img",
    "image_id",
];

/// Names (any case) of a column holding the label, most specific first.
const LABEL_COLUMNS: &[&str] = &[
    "label",
    "class",
    "category",
    "target",
    "class_name",
    "label_name",
];

const SPLIT_COLUMNS: &[&str] = &["split"];

/// Returns the dataset if ROOT holds a table with an image column, `None` if it holds no usable
/// table. Fails only when the folder's single table cannot be used, so the error can say why.
pub(super) fn discover(root: &Path) -> Result<Option<Dataset>, DatasetError> {
    let candidates = candidates(root)?;
    let mut first_problem = None;
    for path in &candidates {
        match column_names(path) {
            Ok(columns) => match find_column(&columns, IMAGE_COLUMNS) {
                Some(image_column) => return read(root, path, &image_column).map(Some),
                None => {
                    first_problem.get_or_insert(DatasetError::NoImageColumn {
                        path: path.clone(),
                        columns,
                        looked_for: IMAGE_COLUMNS.to_vec(),
                    });
                }
            },
            Err(err) => {
                first_problem.get_or_insert(err);
            }
        }
    }
    match (candidates.len(), first_problem) {
        (1, Some(err)) => Err(err),
        _ => Ok(None),
    }
}

/// CSV and Parquet files in ROOT: names like `labels.*` first, then natural order.
fn candidates(root: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let mut files: Vec<(u8, String)> = read_dir(root)?
        .into_iter()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .filter_map(|name| {
            let path = Path::new(&name);
            let ext = path.extension()?.to_str()?.to_ascii_lowercase();
            if ext != "csv" && ext != "parquet" {
                return None;
            }
            let stem = path.file_stem()?.to_string_lossy().to_ascii_lowercase();
            let rank = if stem == "labels" || stem == "label" {
                0
            } else if stem.contains("label") {
                1
            } else {
                2
            };
            Some((rank, name))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| natural_cmp(&a.1, &b.1)));
    Ok(files.into_iter().map(|(_, name)| root.join(name)).collect())
}

fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

fn table_error(path: &Path) -> impl Fn(PolarsError) -> DatasetError + '_ {
    move |err| DatasetError::Table {
        path: path.to_path_buf(),
        message: err.to_string(),
    }
}

/// The table's column names, read without loading its rows.
fn column_names(path: &Path) -> Result<Vec<String>, DatasetError> {
    if is_parquet(path) {
        let file = File::open(path).map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let schema = ParquetReader::new(file)
            .schema()
            .map_err(table_error(path))?;
        return Ok(schema.iter_names().map(|n| n.to_string()).collect());
    }
    let frame = read_frame(path, Some(1))?;
    Ok(frame
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect())
}

/// Reads the table (its first `n_rows` rows, or all of them).
fn read_frame(path: &Path, n_rows: Option<usize>) -> Result<DataFrame, DatasetError> {
    if is_parquet(path) {
        let file = File::open(path).map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        return ParquetReader::new(file).finish().map_err(table_error(path));
    }
    let separator = sniff_separator(path)?;
    CsvReadOptions::default()
        .with_has_header(true)
        // Read every row before choosing types, so a text value on row 5000 does not fail the read.
        .with_infer_schema_length(None)
        .with_n_rows(n_rows)
        // A row with more fields than the header must not fail the table: `ragged_rows` finds
        // such rows, and `read` skips them with a warning.
        .map_parse_options(|options| {
            options
                .with_separator(separator)
                .with_truncate_ragged_lines(true)
        })
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
        .map_err(table_error(path))
}

/// Spreadsheets in many locales save "CSV" with semicolons, and some tools write tabs: pick
/// whichever the header line uses most.
fn sniff_separator(path: &Path) -> Result<u8, DatasetError> {
    let file = File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut header = Vec::new();
    BufReader::new(file)
        .read_until(b'\n', &mut header)
        .map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    let (commas, semicolons, tabs) = (count(b','), count(b';'), count(b'\t'));
    Ok(if tabs > commas && tabs > semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    })
}

/// Records (1-based, header excluded) of the CSV file `path` whose field count differs from the
/// header's, as `(fields, header fields)`. Quoted separators and newlines belong to their field.
pub(crate) fn ragged_rows(
    path: &Path,
    separator: u8,
) -> Result<HashMap<usize, (usize, usize)>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .flexible(true)
        .has_headers(true)
        .from_path(path)?;
    let fields = reader.byte_headers()?.len();
    let mut ragged = HashMap::new();
    for (row, record) in reader.byte_records().enumerate() {
        let count = record?.len();
        if count != fields {
            ragged.insert(row + 1, (count, fields));
        }
    }
    Ok(ragged)
}

/// The first of `wanted` found among `columns`, ignoring case, surrounding spaces and the byte
/// order mark that Excel puts before the first header.
fn find_column(columns: &[String], wanted: &[&str]) -> Option<String> {
    let plain = |c: &str| c.trim_start_matches('\u{feff}').trim().to_string();
    wanted.iter().find_map(|w| {
        columns
            .iter()
            .find(|c| plain(c).eq_ignore_ascii_case(w))
            .cloned()
    })
}

/// Row-index columns written by pandas and pyarrow carry no information about the images.
fn is_index_column(name: &str) -> bool {
    name.is_empty() || name.starts_with("Unnamed:") || name == "__index_level_0__"
}

/// A column's values as trimmed text; whole floats print without ".0" so that a label column
/// that pandas turned into floats still names classes "1" and "2".
fn column_text(column: &Column) -> Result<Vec<Option<String>>, PolarsError> {
    if column.dtype().is_float() {
        let values = column.cast(&DataType::Float64)?;
        return Ok(values.f64()?.iter().map(|v| v.map(format_number)).collect());
    }
    let values = column.cast(&DataType::String)?;
    Ok(values
        .str()?
        .iter()
        .map(|v| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        .collect())
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// Where the file a table names was found.
enum Resolved {
    /// The path relative to ROOT.
    Inside(PathBuf),
    /// A file outside ROOT (`../..`, an absolute path elsewhere): not part of the dataset.
    Outside,
    Missing,
}

/// Finds the file a table names: relative to ROOT, then to ROOT/images/; ids without an
/// extension try each image extension.
fn resolve(root: &Path, raw: &str) -> Resolved {
    match find(root, raw) {
        Some(found) => match super::within_root(root, &found) {
            Some(inside) => Resolved::Inside(inside),
            None => Resolved::Outside,
        },
        None => Resolved::Missing,
    }
}

/// The file `raw` names, as found: relative to ROOT, or absolute.
fn find(root: &Path, raw: &str) -> Option<PathBuf> {
    let mut spellings = vec![raw.to_string()];
    // Tables written on Windows use backslashes.
    if raw.contains('\\') {
        spellings.push(raw.replace('\\', "/"));
    }
    for spelling in &spellings {
        let relative = Path::new(spelling.strip_prefix("./").unwrap_or(spelling));
        if relative.is_absolute() {
            if relative.is_file() {
                return Some(relative.to_path_buf());
            }
            continue;
        }
        let mut tries = vec![relative.to_path_buf()];
        // Tables keyed by id ("image_id": 1234) leave the extension to the files.
        if !is_image_path(relative) {
            for ext in IMAGE_EXTENSIONS {
                let mut name = relative.as_os_str().to_owned();
                name.push(".");
                name.push(ext);
                tries.push(PathBuf::from(name));
            }
        }
        for base in ["", "images"] {
            for attempt in &tries {
                let candidate = Path::new(base).join(attempt);
                if root.join(&candidate).is_file() {
                    return Some(candidate);
                }
            }
        }
    }
    None
}

/// One usable row of the table.
struct Row {
    path: PathBuf,
    label: Option<String>,
    split: Option<String>,
    /// Index into the table's rows, for the extra columns.
    index: usize,
}

/// Reads the whole table and builds the dataset; rows that cannot be used become warnings.
fn read(root: &Path, table_path: &Path, image_column: &str) -> Result<Dataset, DatasetError> {
    let frame = read_frame(table_path, None)?;
    let table = table_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let names: Vec<String> = frame
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let label_column = find_column(&names, LABEL_COLUMNS);
    let split_column = find_column(&names, SPLIT_COLUMNS);
    let to_err = table_error(table_path);

    let image = frame.column(image_column).map_err(&to_err)?;
    let dtype = image.dtype();
    if !(dtype.is_string() || dtype.is_integer() || dtype.is_categorical() || dtype.is_enum()) {
        return Err(DatasetError::Table {
            path: table_path.to_path_buf(),
            message: format!(
                "column {image_column} holds {dtype}, not file paths (images inside a table are not supported)"
            ),
        });
    }
    let paths = column_text(image).map_err(&to_err)?;
    let text_of = |name: &Option<String>| -> Result<Option<Vec<Option<String>>>, DatasetError> {
        let Some(name) = name else { return Ok(None) };
        let column = frame.column(name).map_err(&to_err)?;
        column_text(column).map(Some).map_err(&to_err)
    };
    let labels = text_of(&label_column)?;
    let split_values = text_of(&split_column)?;

    let used = [
        Some(image_column.to_string()),
        label_column.clone(),
        split_column,
    ];
    let mut extra_columns = Vec::new();
    let mut extra_values: Vec<Vec<f64>> = Vec::new();
    for column in frame.columns() {
        let name = column.name().as_str();
        if used.iter().flatten().any(|u| u == name)
            || is_index_column(name)
            || !column.dtype().is_primitive_numeric()
        {
            continue;
        }
        let values = column.cast(&DataType::Float64).map_err(&to_err)?;
        extra_values.push(
            values
                .f64()
                .map_err(&to_err)?
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect(),
        );
        extra_columns.push(name.to_string());
    }

    let mut warnings = Vec::new();
    if label_column.is_none() {
        warnings.push(format!(
            "{table}: no label column (looked for {}, any case); the images are unlabelled",
            LABEL_COLUMNS.join(", ")
        ));
    }
    let ragged = if is_parquet(table_path) {
        HashMap::new()
    } else {
        ragged_rows(table_path, sniff_separator(table_path)?).map_err(|e| DatasetError::Table {
            path: table_path.to_path_buf(),
            message: e.to_string(),
        })?
    };
    let mut rows = Vec::new();
    let mut first_row_of: HashMap<PathBuf, usize> = HashMap::new();
    for (index, raw) in paths.iter().enumerate() {
        // Row numbers count data rows from 1, the header excluded, the same for CSV and Parquet.
        let row = index + 1;
        if let Some((count, fields)) = ragged.get(&row) {
            warnings.push(format!(
                "{table} row {row}: {count} fields where the header has {fields}; skipped"
            ));
            continue;
        }
        let Some(raw) = raw else {
            warnings.push(format!("{table} row {row}: empty {image_column}"));
            continue;
        };
        let label = match (&labels, &label_column) {
            (Some(labels), Some(column)) => match &labels[index] {
                Some(label) => Some(label.clone()),
                None => {
                    warnings.push(format!("{table} row {row}: no {column} for {raw}"));
                    continue;
                }
            },
            _ => None,
        };
        let path = match resolve(root, raw) {
            Resolved::Inside(path) => path,
            Resolved::Outside => {
                warnings.push(format!(
                    "{table} row {row}: {raw} is outside the dataset folder; skipped"
                ));
                continue;
            }
            Resolved::Missing => {
                warnings.push(format!("{table} row {row}: file {raw} does not exist"));
                continue;
            }
        };
        if !is_image_path(&path) {
            warnings.push(format!("{table} row {row}: {raw} is not an image file"));
            continue;
        }
        if let Some(first) = first_row_of.get(&path) {
            warnings.push(format!(
                "{table} row {row}: file {raw} already listed in row {first}"
            ));
            continue;
        }
        first_row_of.insert(path.clone(), row);
        let split = split_values.as_ref().and_then(|s| s[index].clone());
        rows.push(Row {
            path,
            label,
            split,
            index,
        });
    }

    let mut classes: Vec<String> = rows.iter().filter_map(|r| r.label.clone()).collect();
    classes.sort_by(|a, b| natural_cmp(a, b));
    classes.dedup();
    let mut splits: Vec<String> = rows.iter().filter_map(|r| r.split.clone()).collect();
    sort_splits(&mut splits);
    splits.dedup();
    let class_index: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let split_index: HashMap<&str, usize> = splits
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();

    let mut examples: Vec<Example> = rows
        .into_iter()
        .map(|row| Example {
            split: row
                .split
                .as_deref()
                .and_then(|s| split_index.get(s).copied()),
            label: row
                .label
                .as_deref()
                .and_then(|l| class_index.get(l).copied()),
            annotations: Vec::new(),
            extra: extra_values
                .iter()
                .map(|values| values[row.index])
                .collect(),
            path: row.path,
        })
        .collect();
    sort_examples(&mut examples);

    Ok(Dataset {
        root: root.to_path_buf(),
        layout: Layout::LabelsTable,
        classes,
        splits,
        examples,
        extra_columns,
        warnings: cap_warnings(warnings),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{paths, png, write};
    use super::super::*;
    use polars::prelude::{DataFrame, ParquetWriter, df};

    fn write_parquet(path: &Path, frame: &mut DataFrame) {
        let file = std::fs::File::create(path).unwrap();
        ParquetWriter::new(file).finish(frame).unwrap();
    }

    #[test]
    fn ragged_rows_are_skipped_and_named_and_the_rest_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for name in ["a.png", "b.png", "c.png", "d.png"] {
            png(root, name);
        }
        write(
            root,
            "labels.csv",
            "file;label\na.png;cat\nb.png;dog;extra;fields\nc.png\n\"d.png\";\"two;\nlines\"\n",
        );
        let ds = Dataset::open(root).unwrap();
        assert_eq!(paths(&ds), vec!["a.png", "d.png"]);
        assert_eq!(ds.classes, vec!["cat", "two;\nlines"]);
        assert_eq!(
            ds.warnings,
            vec![
                "labels.csv row 2: 4 fields where the header has 2; skipped",
                "labels.csv row 3: 1 fields where the header has 2; skipped"
            ]
        );
    }

    #[test]
    fn a_table_without_a_label_column_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        png(tmp.path(), "a.png");
        write(tmp.path(), "labels.csv", "file,score\na.png,1\n");
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(paths(&ds), vec!["a.png"]);
        assert!(ds.classes.is_empty());
        assert!(
            ds.warnings[0].starts_with("labels.csv: no label column"),
            "{:?}",
            ds.warnings
        );
    }

    #[test]
    fn rows_naming_files_outside_the_folder_are_skipped_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        png(&root, "a.png");
        png(&root, "b.png");
        png(tmp.path(), "outside.png");
        let inside_absolute = root.join("b.png");
        let outside_absolute = tmp.path().join("outside.png");
        write(
            &root,
            "labels.csv",
            &format!(
                "file,label\na.png,cat\n{},dog\n../outside.png,cat\n{},dog\n../../../../../../etc/passwd,cat\n",
                inside_absolute.display(),
                outside_absolute.display()
            ),
        );
        let ds = Dataset::open(&root).unwrap();
        assert_eq!(paths(&ds), vec!["a.png", "b.png"]);
        assert_eq!(ds.warnings.len(), 3, "{:?}", ds.warnings);
        for (row, name) in [(3, "../outside.png"), (4, "outside.png"), (5, "etc/passwd")] {
            assert!(
                ds.warnings
                    .iter()
                    .any(|w| w.contains(&format!("row {row}: "))
                        && w.contains(name)
                        && w.contains("outside the dataset folder")),
                "row {row}: {:?}",
                ds.warnings
            );
        }
    }

    #[test]
    fn csv_with_string_labels_splits_and_extra_columns() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in ["images/a.png", "images/b10.png", "images/b2.png", "c.png"] {
            png(root, rel);
        }
        write(
            root,
            "labels.csv",
            "Filename,Label,split,score,width,note\n\
             a.png,dog,val,0.5,4,x\n\
             b10.png,cat,train,,4,y\n\
             images/b2.png,cat,train,1.25,,z\n\
             c.png,Bird,train,2,3,w\n",
        );
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::LabelsTable);
        assert_eq!(ds.classes, vec!["Bird", "cat", "dog"]);
        assert_eq!(ds.splits, vec!["train", "val"]);
        assert_eq!(ds.extra_columns, vec!["score", "width"]);
        assert_eq!(
            paths(&ds),
            vec!["c.png", "images/b2.png", "images/b10.png", "images/a.png"]
        );
        let b10 = &ds.examples[2];
        assert_eq!((b10.label, b10.split), (Some(1), Some(0)));
        assert!(b10.extra[0].is_nan());
        assert_eq!(b10.extra[1], 4.0);
        assert_eq!(ds.examples[1].extra[0], 1.25);
        assert!(ds.examples[1].extra[1].is_nan());
        assert_eq!(ds.examples[3].split, Some(1));
        assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
        assert_eq!(
            ds.class_counts()
                .iter()
                .map(|c| c.count)
                .collect::<Vec<_>>(),
            vec![1, 2, 1]
        );
    }

    #[test]
    fn parquet_with_integer_labels_orders_classes_naturally() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in ["x/1.png", "x/2.png", "x/3.png"] {
            png(root, rel);
        }
        let mut frame = df!(
            "image" => ["x/3.png", "x/1.png", "x/2.png"],
            "target" => [10i64, 2, 10],
            "confidence" => [Some(0.9f64), None, Some(0.1)],
        )
        .unwrap();
        write_parquet(&root.join("train_labels.parquet"), &mut frame);
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::LabelsTable);
        assert_eq!(ds.classes, vec!["2", "10"]);
        assert!(ds.splits.is_empty());
        assert_eq!(paths(&ds), vec!["x/1.png", "x/2.png", "x/3.png"]);
        assert_eq!(
            ds.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
            vec![Some(0), Some(1), Some(1)]
        );
        assert_eq!(ds.extra_columns, vec!["confidence"]);
        assert!(ds.examples[0].extra[0].is_nan());
        assert_eq!(ds.examples[2].extra, vec![0.9]);
    }

    #[test]
    fn float_labels_and_ids_without_extension() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "images/17.png");
        png(root, "18.png");
        let mut frame = df!("image_id" => [17i64, 18, 19], "class" => [1.0f64, 0.0, 1.0]).unwrap();
        write_parquet(&root.join("meta.parquet"), &mut frame);
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.classes, vec!["0", "1"]);
        assert_eq!(paths(&ds), vec!["18.png", "images/17.png"]);
        assert_eq!(
            ds.warnings,
            vec!["meta.parquet row 3: file 19 does not exist"]
        );
    }

    #[test]
    fn missing_files_and_bad_rows_are_reported_with_row_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "ok.png");
        png(root, "ok2.png");
        write(root, "notes.txt", "not an image");
        write(
            root,
            "labels.csv",
            "path,category\nok.png,a\nimages/x.png,a\n,b\nok2.png,\nok.png,b\nnotes.txt,a\n./ok2.png,b\n",
        );
        let ds = Dataset::open(root).unwrap();
        assert_eq!(paths(&ds), vec!["ok.png", "ok2.png"]);
        assert_eq!(ds.classes, vec!["a", "b"]);
        assert_eq!(
            ds.warnings,
            vec![
                "labels.csv row 2: file images/x.png does not exist",
                "labels.csv row 3: empty path",
                "labels.csv row 4: no category for ok2.png",
                "labels.csv row 5: file ok.png already listed in row 1",
                "labels.csv row 6: notes.txt is not an image file",
            ]
        );
    }

    #[test]
    fn warnings_are_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "ok.png");
        let mut csv = String::from("file,label\nok.png,a\n");
        for i in 0..(MAX_WARNINGS + 10) {
            csv.push_str(&format!("missing{i}.png,a\n"));
        }
        write(root, "labels.csv", &csv);
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.examples.len(), 1);
        assert_eq!(ds.warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(
            ds.warnings[0],
            "labels.csv row 2: file missing0.png does not exist"
        );
        assert_eq!(ds.warnings[MAX_WARNINGS], "... and 10 more");
    }

    #[test]
    fn semicolon_csv_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        png(tmp.path(), "a.png");
        // As Excel saves it in many locales: a byte order mark, semicolons, decimal commas.
        write(
            tmp.path(),
            "labels.csv",
            "\u{feff}file;label;weight\na.png;yes;0,5\n",
        );
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.classes, vec!["yes"]);
        assert!(ds.extra_columns.is_empty(), "decimal commas stay text");
    }

    #[test]
    fn a_lone_table_without_an_image_column_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        png(tmp.path(), "a.png");
        write(tmp.path(), "data.csv", "name,Label\na.png,cat\n");
        let err = Dataset::open(tmp.path()).unwrap_err();
        assert!(matches!(err, DatasetError::NoImageColumn { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("data.csv") && msg.contains("Columns: name, Label"),
            "{msg}"
        );
        assert!(
            msg.contains("file, filename") && msg.contains("image_id"),
            "{msg}"
        );
    }

    #[test]
    fn prefers_labels_tables_and_skips_tables_without_image_column() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "a.png");
        write(root, "a_stats.csv", "file,label\na.png,wrong\n");
        write(root, "labels.csv", "x,y\n1,2\n");
        write(root, "my_labels.csv", "file,label\na.png,right\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.classes, vec!["right"]);
    }

    #[test]
    fn class_folders_win_over_unlabelled_or_broken_tables() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "cat/a.png");
        write(root, "meta.csv", "file,width\ncat/a.png,4\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::ImageFolder);

        write(root, "meta.csv", "only,columns\n1,2\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::ImageFolder);
        assert!(
            ds.warnings[0].starts_with("labels table ignored:")
                && ds.warnings[0].contains("meta.csv"),
            "{:?}",
            ds.warnings
        );

        // Without class folders, an unlabelled table still opens the images it lists.
        let flat = tempfile::tempdir().unwrap();
        png(flat.path(), "a.png");
        write(flat.path(), "meta.csv", "file,width\na.png,4\n");
        let ds = Dataset::open(flat.path()).unwrap();
        assert_eq!(
            (ds.layout, ds.examples.len(), ds.examples[0].label),
            (Layout::LabelsTable, 1, None)
        );
        assert_eq!(ds.extra_columns, vec!["width"]);
    }
}
