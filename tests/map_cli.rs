//! `eyeball map` end to end: the table it writes, from thumbnails and from a checkpoint, and its
//! errors.

mod common;

use std::path::Path;

use common::eyeball_with_cache;

/// The rows of a map CSV as (path, x, y, neighbour_disagreement).
fn read_map(path: &Path) -> Vec<(String, f64, f64, f64)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        vec!["path", "x", "y", "neighbour_disagreement"]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let number = |i: usize| r[i].parse::<f64>().unwrap_or(f64::NAN);
            (r[0].to_string(), number(1), number(2), number(3))
        })
        .collect()
}

#[test]
fn map_writes_a_row_per_example_of_the_split_with_finite_coordinates() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::image_folder(
        data.path(),
        &[
            ("train", "cat", 6),
            ("train", "dog", 6),
            ("val", "cat", 4),
            ("val", "dog", 4),
        ],
    );
    let out = data.path().join("map.csv");
    let run = |extra: &[&str]| {
        let mut args = vec!["map", data.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
        eyeball_with_cache(&args, cache.path())
    };
    let all = run(&[]);
    let stderr = String::from_utf8_lossy(&all.stderr);
    assert!(all.status.success(), "{stderr}");
    assert!(
        stderr.contains("mapped 20 examples from thumbnails"),
        "{stderr}"
    );
    let rows = read_map(&out);
    assert_eq!(rows.len(), 20);
    for (path, x, y, disagreement) in &rows {
        assert!(x.is_finite() && y.is_finite(), "{path}: {x}, {y}");
        assert!((0.0..=1.0).contains(disagreement), "{path}: {disagreement}");
    }
    // The same map again comes from the cache, with the same coordinates.
    let again = run(&[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("(from the cache)"));
    assert_eq!(read_map(&out), rows);
    let val = run(&["--split", "val"]);
    assert!(
        val.status.success(),
        "{}",
        String::from_utf8_lossy(&val.stderr)
    );
    let rows = read_map(&out);
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.0.starts_with("val/")), "{rows:?}");
}

#[test]
fn a_trained_checkpoints_map_keeps_most_neighbours_in_their_class() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // 30 digits of each class from the demo's val split.
    for digit in 0..10 {
        let from = common::demo_data().join("val").join(digit.to_string());
        let to = data.path().join(digit.to_string());
        std::fs::create_dir_all(&to).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&from)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files.iter().take(30) {
            std::fs::copy(file, to.join(file.file_name().unwrap())).unwrap();
        }
    }
    let checkpoint = common::demo_checkpoints().join("epoch_05.pt");
    let out = data.path().join("map.parquet");
    let run = eyeball_with_cache(
        &[
            "map",
            data.path().to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        cache.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("mapped 300 examples from epoch_05.pt"),
        "{stderr}"
    );
    // The same map (now cached) written as CSV, to read its numbers.
    let csv = data.path().join("map.csv");
    let as_csv = eyeball_with_cache(
        &[
            "map",
            data.path().to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--out",
            csv.to_str().unwrap(),
        ],
        cache.path(),
    );
    assert!(as_csv.status.success());
    assert!(out.metadata().unwrap().len() > 0);
    let rows = read_map(&csv);
    let mean = rows.iter().map(|r| r.3).sum::<f64>() / rows.len() as f64;
    // A net trained on digits puts each digit among its own kind: most neighbours agree.
    assert!(mean < 0.5, "mean disagreement {mean}");
}

#[test]
fn bad_input_is_refused_with_the_file_named() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::image_folder(data.path(), &[("", "a", 4), ("", "b", 4)]);
    let dir = data.path().to_str().unwrap();
    let fails = |args: &[&str], says: &[&str]| {
        let out = eyeball_with_cache(args, cache.path());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{args:?} succeeded");
        for text in says {
            assert!(stderr.contains(text), "{args:?}: {stderr}");
        }
    };
    fails(&["map", dir, "--out", "map.txt"], &["map.txt", "txt"]);
    fails(
        &["map", "/no/such/folder", "--out", "map.csv"],
        &["/no/such/folder"],
    );
    fails(
        &["map", dir, "--split", "train", "--out", "m.csv"],
        &["no split named \"train\"", "splits: none"],
    );
    fails(
        &["map", dir, "--checkpoint", "/no/model.pt", "--out", "m.csv"],
        &["/no/model.pt"],
    );
    // A picture given as the checkpoint, with the demo's preprocessing.
    let not_a_model = data.path().join("a").join("a_0.png");
    let preprocess = common::demo_checkpoints().join("preprocess.json");
    fails(
        &[
            "map",
            dir,
            "--checkpoint",
            not_a_model.to_str().unwrap(),
            "--preprocess",
            preprocess.to_str().unwrap(),
            "--out",
            "m.csv",
        ],
        &["a_0.png"],
    );
}
