//! `eyeball scan`, end to end: the planted-problem fixture written as CSV and Parquet and read back,
//! and `--fail-on` exit codes for CI.

mod scan_fixture;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use polars::prelude::*;

fn eyeball(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eyeball"))
        .args(args)
        .output()
        .expect("failed to run eyeball")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Scans `root` into `out` without touching the user's index cache.
fn scan(root: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "scan",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-cache",
    ];
    args.extend_from_slice(extra);
    eyeball(&args)
}

fn rows(df: &DataFrame) -> BTreeSet<(String, String)> {
    let paths = df.column("path").unwrap().str().unwrap();
    let issues = df.column("issue").unwrap().str().unwrap();
    paths
        .iter()
        .zip(issues.iter())
        .map(|(p, i)| (p.unwrap().to_string(), i.unwrap().to_string()))
        .collect()
}

fn check(df: &DataFrame) {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        ["path", "issue", "score", "group", "partner", "detail"]
    );
    let found = rows(df);
    for (path, issue) in scan_fixture::EXPECTED {
        assert!(
            found.contains(&(path.to_string(), issue.to_string())),
            "{path} {issue} missing from {found:#?}"
        );
    }
    assert!(
        found.iter().all(|(p, _)| !p.contains("clean_")),
        "clean images flagged: {found:#?}"
    );
    // Pairs name the other file, relative to the root.
    let issues = df.column("issue").unwrap().str().unwrap();
    let partners = df.column("partner").unwrap().str().unwrap();
    let groups = df.column("group").unwrap();
    for i in 0..df.height() {
        if issues.get(i) == Some("near_duplicate") {
            let partner = partners.get(i).expect("a near duplicate names its partner");
            assert!(
                found.iter().any(|(p, _)| p == partner),
                "{partner} is not a flagged path"
            );
            assert!(!groups.get(i).unwrap().is_null());
        }
    }
}

#[test]
fn scan_writes_csv_and_parquet_with_every_planted_problem() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir(&root).unwrap();
    scan_fixture::write(&root);

    let csv = dir.path().join("issues.csv");
    let output = scan(&root, &csv, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("exact_duplicate"),
        "no summary table: {}",
        stderr(&output)
    );
    let df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    check(&df);

    let parquet = dir.path().join("issues.parquet");
    let output = scan(&root, &parquet, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let df = ParquetReader::new(std::fs::File::open(&parquet).unwrap())
        .finish()
        .unwrap();
    check(&df);
    assert_eq!(df.column("group").unwrap().dtype(), &DataType::UInt32);
}

#[test]
fn fail_on_exits_2_only_when_a_named_issue_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir(&root).unwrap();
    scan_fixture::write(&root);
    let out = dir.path().join("issues.csv");

    let output = scan(&root, &out, &["--fail-on", "exact_duplicate"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--fail-on: exact_duplicate"),
        "{}",
        stderr(&output)
    );
    assert!(out.exists(), "the table is written before failing");

    let output = scan(&root, &out, &["--fail-on", "dark,split_leakage"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("dark, split_leakage"),
        "{}",
        stderr(&output)
    );

    let output = scan(&root, &out, &["--fail-on", "duplicate"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("unknown issue \"duplicate\"")
            && message.contains("near_duplicate, label_conflict"),
        "{message}"
    );

    // A folder of distinct, clean pictures passes.
    let clean = dir.path().join("clean");
    for (k, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(clean.join(class)).unwrap();
        for i in 0..6 {
            scan_fixture::texture(500 + (k * 10 + i) as u64, 64, 64)
                .save(clean.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let output = scan(
        &clean,
        &out,
        &["--fail-on", "exact_duplicate,near_duplicate,corrupt"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn the_bundled_digits_are_not_flooded_with_look_alikes() {
    // Handwritten digits of one class are alike, and many align closely with one another; the
    // same-shot rule holds them to a stricter bar where they crowd, and never lowers its own.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("issues.csv");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/data");
    let output = scan(&demo, &out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(out))
        .unwrap()
        .finish()
        .unwrap();
    let near = rows(&df)
        .iter()
        .filter(|(_, issue)| issue == "near_duplicate")
        .count();
    // At most 1% of the 5,000 digits, the false-pair rate the scan is held to on photos.
    assert!(near * 100 <= 5000, "{near} near duplicates");
}

#[test]
fn bad_arguments_are_refused_before_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let output = scan(dir.path(), &dir.path().join("issues.txt"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(".parquet or .csv"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bench_near_duplicates_recovers_its_planted_pairs() {
    let output = eyeball(&["bench", "near-duplicates", "--n", "20000"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("planted recovered: 200/200"), "{text}");
}

#[test]
fn among_dark_digits_only_a_blank_frame_is_flagged_dark() {
    // Every MNIST digit is dark and low in entropy; a black frame (a pipeline bug) is not a digit.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("digits");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/data/train");
    for class in ["0", "1", "2"] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(demo.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files.iter().take(60) {
            std::fs::copy(file, data.join(class).join(file.file_name().unwrap())).unwrap();
        }
    }
    image::GrayImage::new(28, 28)
        .save(data.join("1").join("blank.png"))
        .unwrap();
    let out = dir.path().join("issues.csv");
    let output = scan(&data, &out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("so that is how this dataset looks"),
        "{}",
        stderr(&output)
    );
    let df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(out))
        .unwrap()
        .finish()
        .unwrap();
    let flagged: BTreeSet<(String, String)> = rows(&df)
        .into_iter()
        .filter(|(_, issue)| issue == "dark" || issue == "low_information")
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("1/blank.png".to_string(), "dark".to_string()),
        ("1/blank.png".to_string(), "low_information".to_string()),
    ]
    .into();
    assert_eq!(flagged, expected);
}

#[test]
fn a_memory_budget_too_small_is_said_and_the_planted_problems_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir(&root).unwrap();
    scan_fixture::write(&root);
    let csv = dir.path().join("issues.csv");
    let output = scan(&root, &csv, &["--memory-budget", "1M"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("of its 0.00 GiB memory budget") && text.contains("may exceed the budget"),
        "{text}"
    );
    let df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(csv))
        .unwrap()
        .finish()
        .unwrap();
    check(&df);

    // The default budget leaves this small folder untouched, and a size must be a size.
    let output = scan(&root, &dir.path().join("again.csv"), &[]);
    assert!(
        !stderr(&output).contains("memory budget"),
        "{}",
        stderr(&output)
    );
    let output = scan(
        &root,
        &dir.path().join("bad.csv"),
        &["--memory-budget", "lots"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("give a size such as 2G"),
        "{}",
        stderr(&output)
    );
}
