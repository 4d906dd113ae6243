//! `eyeball index`, end to end: a generated ImageFolder with broken files, written as CSV and
//! Parquet, read back with polars.

mod common;

use std::path::Path;

use polars::prelude::*;

use common::eyeball;

const COLUMNS: &[&str] = &[
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
    "decode_error",
    "phash",
    "content_hash",
    "mtime_ns",
];

const BROKEN: &[&str] = &[
    "train/dog/truncated.png",
    "train/dog/empty.jpg",
    "val/cat/readme.png",
];

/// 5 good PNGs in train/{cat,dog} and val/cat, plus a truncated PNG, a zero-byte .jpg and a text
/// file named .png.
fn fixture(root: &Path) {
    common::image_folder(
        root,
        &[("train", "cat", 2), ("train", "dog", 2), ("val", "cat", 1)],
    );
    let good = std::fs::read(root.join("train/dog/dog_0.png")).unwrap();
    std::fs::write(
        root.join("train/dog/truncated.png"),
        &good[..good.len() / 2],
    )
    .unwrap();
    std::fs::write(root.join("train/dog/empty.jpg"), b"").unwrap();
    std::fs::write(
        root.join("val/cat/readme.png"),
        b"label notes: all cats here are orange\n",
    )
    .unwrap();
}

fn check(df: &DataFrame) {
    assert_eq!(df.height(), 8);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, COLUMNS);
    let paths = df.column("path").unwrap().str().unwrap().clone();
    let errors = df.column("decode_error").unwrap().str().unwrap().clone();
    let widths = df
        .column("width")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap();
    let widths = widths.f64().unwrap();
    for i in 0..df.height() {
        let path = paths.get(i).unwrap();
        if BROKEN.contains(&path) {
            assert!(
                errors.get(i).is_some_and(|e| !e.is_empty()),
                "{path} should have a decode error"
            );
            assert_eq!(widths.get(i), None, "{path}");
        } else {
            assert_eq!(errors.get(i), None, "{path}: {:?}", errors.get(i));
            assert_eq!(widths.get(i), Some(24.0), "{path}");
        }
    }
    let splits = df.column("split").unwrap().str().unwrap().clone();
    assert_eq!(splits.iter().filter(|s| *s == Some("val")).count(), 2);
}

#[test]
fn index_writes_csv_and_parquet_with_a_row_per_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fixture(&data);
    let data_arg = data.to_str().unwrap();

    let csv = tmp.path().join("index.csv");
    let out = eyeball(&[
        "index",
        data_arg,
        "--out",
        csv.to_str().unwrap(),
        "--no-cache",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("indexed 8 images") && stderr.contains("3 unreadable"),
        "{stderr}"
    );
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    check(&df);

    let parquet = tmp.path().join("index.parquet");
    let out = eyeball(&[
        "index",
        data_arg,
        "--out",
        parquet.to_str().unwrap(),
        "--no-cache",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let df = ParquetReader::new(std::fs::File::open(&parquet).unwrap())
        .finish()
        .unwrap();
    check(&df);
    let hashes = df.column("content_hash").unwrap().str().unwrap().clone();
    assert!(hashes.iter().flatten().all(|h| h.len() == 32));

    // Nothing but the images was written into the dataset folder.
    let mut entries: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["train", "val"]);
}

#[test]
fn index_refuses_an_unknown_table_format_and_a_missing_folder() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "a", 1)]);
    let out = eyeball(&[
        "index",
        tmp.path().to_str().unwrap(),
        "--out",
        "stats.xlsx",
        "--no-cache",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("xlsx") && stderr.contains(".parquet or .csv"),
        "{stderr}"
    );

    let missing = tmp.path().join("nope");
    let out = eyeball(&[
        "index",
        missing.to_str().unwrap(),
        "--out",
        "x.csv",
        "--no-cache",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such folder"));
}

#[test]
fn progress_is_printed_as_plain_lines_when_stderr_is_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fixture(&data);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eyeball"))
        .args(["index", data.to_str().unwrap(), "--no-cache", "--out"])
        .arg(tmp.path().join("index.csv"))
        .env("EYEBALL_PROGRESS_EVERY_S", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Plain lines, never a terminal's carriage returns or escape codes.
    let line = stderr
        .lines()
        .find(|l| l.starts_with("indexing"))
        .unwrap_or_else(|| panic!("no progress line: {stderr}"));
    assert!(line.contains('/') && line.contains("ETA"), "{line}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
}

#[test]
fn the_index_cache_stays_within_its_disk_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let old = cache.join("eyeball").join("index");
    std::fs::create_dir_all(&old).unwrap();
    // Another dataset's cache, larger than the whole budget and not used for a day.
    let stale = old.join("0123456789abcdef.parquet");
    std::fs::write(&stale, vec![0u8; 2 << 20]).unwrap();
    std::fs::File::options()
        .append(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(86_400))
        .unwrap();
    let data = tmp.path().join("data");
    fixture(&data);
    index_with_cache(&data, &cache, "1");
    let mut left: Vec<_> = std::fs::read_dir(&old)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    assert!(!stale.exists(), "the stale cache was kept: {left:?}");
    // This dataset's index, and the signatures its decode made for the scan.
    let extensions: Vec<_> = left.iter().map(|p| p.extension().unwrap()).collect();
    assert_eq!(
        extensions,
        ["parquet", "signatures"],
        "this dataset's cache is kept: {left:?}"
    );
    assert_eq!(left[0].file_stem(), left[1].file_stem());
}

/// `eyeball index` of `data` with the user cache folder `cache` and a cache budget in MB.
fn index_with_cache(data: &Path, cache: &Path, budget_mb: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eyeball"))
        .args(["index", data.to_str().unwrap(), "--out"])
        .arg(data.with_extension("csv"))
        .env("XDG_CACHE_HOME", cache)
        .env("EYEBALL_CACHE_MB", budget_mb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

#[test]
fn index_shards_split_the_examples_and_open_as_one_index() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fixture(&data);
    let (data_arg, shards) = (data.to_str().unwrap(), tmp.path().join("shards"));
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = eyeball(&[
            "index",
            data_arg,
            "--shard",
            &shard,
            "--out",
            shards.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Three files, each path in exactly one of them.
    let mut paths: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..3 {
        let file = shards.join(format!("index-v2-{i:05}-of-00003.parquet"));
        let df = read_parquet(&file);
        sizes.push(df.height());
        paths.extend(
            df.column("path")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .flatten()
                .map(String::from),
        );
    }
    paths.sort();
    let before = paths.len();
    paths.dedup();
    assert_eq!((before, paths.len()), (8, 8), "{paths:?}");

    // Read back as one index: nothing decoded, the same table as a fresh index.
    let index_from = |dir: &Path, out: &Path| {
        eyeball(&[
            "index",
            data_arg,
            "--index-shards",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let merged = tmp.path().join("merged.parquet");
    let out = index_from(&shards, &merged);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 decoded, 8 from cache"), "{stderr}");
    let fresh = tmp.path().join("fresh.parquet");
    let out = eyeball(&[
        "index",
        data_arg,
        "--no-cache",
        "--out",
        fresh.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(read_parquet(&merged).equals_missing(&read_parquet(&fresh)));

    // A missing shard is named, and its images are decoded.
    std::fs::remove_file(shards.join("index-v2-00002-of-00003.parquet")).unwrap();
    let out = index_from(&shards, &merged);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("shards 2 of 3 are missing"), "{stderr}");
    let counts = format!("{} decoded, {} from cache", sizes[2], 8 - sizes[2]);
    assert!(stderr.contains(&counts), "{stderr}");

    // A folder without shards is refused, naming it.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = index_from(&empty, &merged);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("empty") && stderr.contains("no readable index shard"),
        "{stderr}"
    );
}

#[test]
fn signatures_too_large_for_the_cache_budget_are_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fixture(&data);
    let index_dir = |budget_mb: &str| {
        let cache = tmp.path().join(format!("cache-{budget_mb}"));
        index_with_cache(&data, &cache, budget_mb);
        let mut extensions: Vec<String> = std::fs::read_dir(cache.join("eyeball").join("index"))
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .extension()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        extensions.sort();
        extensions
    };
    assert_eq!(index_dir("1"), ["parquet", "signatures"]);
    // No room at all: the index is still cached, the signatures are not.
    assert_eq!(index_dir("0"), ["parquet"]);
}
