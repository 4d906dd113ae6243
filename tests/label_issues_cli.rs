//! `eyeball label-issues` end to end: labels flipped on purpose in a subset of the demo rank at the
//! top under every method; imported probabilities (CSV, .npy) with rows that do not match.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use common::eyeball_with_cache as eyeball;

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    let column = df.column(name).unwrap().cast(&DataType::String).unwrap();
    let values = column.str().unwrap();
    (0..values.len())
        .map(|i| values.get(i).unwrap_or_default().to_string())
        .collect()
}

/// 30 training images per demo class in `<root>/<class>/`, the first of each class moved to the
/// next class's folder. Returns the flipped paths (relative) with their true class.
fn flipped_demo_subset(root: &Path) -> Vec<(String, String)> {
    let train = common::demo_data().join("train");
    let mut flipped = Vec::new();
    for class in 0..10 {
        std::fs::create_dir_all(root.join(class.to_string())).unwrap();
    }
    for class in 0..10 {
        let mut names: Vec<PathBuf> = std::fs::read_dir(train.join(class.to_string()))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for (k, source) in names.iter().take(30).enumerate() {
            let name = source.file_name().unwrap().to_string_lossy().into_owned();
            let (folder, name) = if k == 0 {
                let wrong = (class + 1) % 10;
                let name = format!("flipped_from_{class}_{name}");
                flipped.push((format!("{wrong}/{name}"), class.to_string()));
                (wrong, name)
            } else {
                (class, name)
            };
            std::fs::copy(source, root.join(folder.to_string()).join(name)).unwrap();
        }
    }
    flipped
}

#[test]
fn flipped_labels_rank_at_the_top_under_every_method() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let flipped = flipped_demo_subset(&data);
    let flipped_paths: HashSet<&str> = flipped.iter().map(|(p, _)| p.as_str()).collect();
    let checkpoint = common::demo_checkpoints().join("epoch_05.pt");
    for method in ["loss", "margin", "cl"] {
        let out_path = tmp.path().join(format!("{method}.csv"));
        let args = [
            "label-issues",
            text(&data),
            "--checkpoint",
            text(&checkpoint),
            "--method",
            method,
            "--out",
            text(&out_path),
        ];
        let out = eyeball(&args, tmp.path());
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let df = read_csv(&out_path);
        let columns: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
        assert_eq!(columns, ["path", "given", "predicted", "score", "rank"]);
        let paths = strings(&df, "path");
        let ranks = strings(&df, "rank");
        assert_eq!(ranks.first().map(String::as_str), Some("1"));
        let top: Vec<&str> = paths.iter().take(15).map(String::as_str).collect();
        let found = top.iter().filter(|p| flipped_paths.contains(*p)).count();
        if method == "cl" {
            // Only flagged examples are listed: most of the flipped, and little else.
            let flagged = paths
                .iter()
                .filter(|p| flipped_paths.contains(p.as_str()))
                .count();
            assert!(
                flagged >= 8,
                "cl flagged {flagged} of 10 flipped: {paths:?}"
            );
            assert!(
                df.height() <= 20,
                "cl flagged {} examples: {paths:?}",
                df.height()
            );
        } else {
            assert_eq!(df.height(), 300);
            assert_eq!(
                found, 10,
                "{method}: top 15 holds {found} of 10 flipped: {top:?}"
            );
        }
        // A flipped example's prediction is its true class; `given` is the folder it was put in.
        let (given, predicted) = (strings(&df, "given"), strings(&df, "predicted"));
        let row = paths
            .iter()
            .position(|p| p == &flipped[0].0)
            .expect("the first flipped example is listed");
        assert_eq!((given[row].as_str(), predicted[row].as_str()), ("1", "0"));
    }
    // The three runs scored once: the later ones came from the prediction cache.
    assert_eq!(
        tmp.path()
            .join("eyeball/predictions")
            .read_dir()
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn imported_csv_probabilities_rank_and_report_rows_that_do_not_match() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::image_folder(&data, &[("", "cat", 3), ("", "dog", 3)]);
    let csv = tmp.path().join("probs.csv");
    std::fs::write(
        &csv,
        "path,cat,dog,fold\n\
         cat/cat_0.png,0.9,0.1,0\n\
         cat/cat_1.png,0.05,0.95,1\n\
         ./cat/cat_2.png,0.8,0.2,2\n\
         dog/dog_0.png,0.2,0.8,0\n\
         dog/dog_1.png,0.3,0.7,1\n\
         dog/missing.png,0.5,0.5,1\n\
         dog/dog_2.png,0.7,0.7,2\n\
         dog/dog_2.png,0.1,0.9,2,extra\n",
    )
    .unwrap();
    let out_path = tmp.path().join("ranked.parquet");
    for method in ["loss", "margin", "cl"] {
        let args = [
            "label-issues",
            text(&data),
            "--probs",
            text(&csv),
            "--method",
            method,
            "--out",
            text(&out_path),
        ];
        let out = eyeball(&args, tmp.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("row 6: \"dog/missing.png\" is not an image of the dataset"),
            "{stderr}"
        );
        assert!(
            stderr.contains("row 7: \"dog/dog_2.png\": the probabilities sum to 1.4000"),
            "{stderr}"
        );
        assert!(
            stderr.contains("row 8: 5 fields where the header has 4"),
            "{stderr}"
        );
        assert!(
            stderr.contains("ignored column that names no class: \"fold\""),
            "{stderr}"
        );
        assert!(
            stderr.contains("1 labelled examples of the dataset have no usable row"),
            "{stderr}"
        );
        let df = ParquetReader::new(std::fs::File::open(&out_path).unwrap())
            .finish()
            .unwrap();
        let paths = strings(&df, "path");
        assert_eq!(
            paths.first().map(String::as_str),
            Some("cat/cat_1.png"),
            "{method}: {paths:?}"
        );
        assert_eq!(strings(&df, "predicted")[0], "dog");
        assert_eq!(
            df.height(),
            if method == "cl" { 1 } else { 5 },
            "{method}: {paths:?}"
        );
    }

    // A class column missing is an error that names it.
    std::fs::write(&csv, "path,cat\ncat/cat_0.png,1.0\n").unwrap();
    let args = [
        "label-issues",
        text(&data),
        "--probs",
        text(&csv),
        "--out",
        text(&out_path),
    ];
    let out = eyeball(&args, tmp.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column for class \"dog\""));
}

#[test]
fn imported_npy_probabilities_follow_dataset_order() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::image_folder(&data, &[("", "cat", 3), ("", "dog", 3)]);
    let dataset = eyeball::dataset::Dataset::open(&data).unwrap();
    let mut values: Vec<f32> = Vec::new();
    for (i, example) in dataset.examples.iter().enumerate() {
        let row = match (i, example.label) {
            (1, _) => [f32::NAN, 0.5],
            (4, Some(1)) => [0.97, 0.03],
            (_, Some(0)) => [0.9, 0.1],
            _ => [0.15, 0.85],
        };
        values.extend(row);
    }
    let npy = tmp.path().join("probs.npy");
    tch::Tensor::from_slice(&values)
        .reshape([6, 2])
        .write_npy(&npy)
        .unwrap();
    let out_path = tmp.path().join("ranked.csv");
    let args = [
        "label-issues",
        text(&data),
        "--probs",
        text(&npy),
        "--method",
        "margin",
        "--out",
        text(&out_path),
    ];
    let out = eyeball(&args, tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let second = dataset.examples[1].path.to_string_lossy().into_owned();
    assert!(
        stderr.contains(&format!(
            "row 1 ({second}): the probability of class \"cat\" is NaN"
        )),
        "{stderr}"
    );
    let df = read_csv(&out_path);
    assert_eq!(df.height(), 5);
    let fifth = dataset.examples[4].path.to_string_lossy().into_owned();
    assert_eq!(strings(&df, "path")[0], fifth);

    // An array whose rows are not the dataset's examples is refused.
    tch::Tensor::from_slice(&values[..8])
        .reshape([4, 2])
        .write_npy(&npy)
        .unwrap();
    let out = eyeball(&args, tmp.path());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shape [4, 2], but the dataset needs [6, 2]")
    );
}

#[test]
fn flipped_labels_rank_first_by_every_dynamics_method_over_all_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let flipped = flipped_demo_subset(&data);
    let flipped_paths: HashSet<&str> = flipped.iter().map(|(p, _)| p.as_str()).collect();
    let checkpoints = common::demo_checkpoints();
    for method in ["aum", "confidence", "forgetting"] {
        let out_path = tmp.path().join(format!("{method}.csv"));
        let args = [
            "label-issues",
            text(&data),
            "--checkpoints",
            text(&checkpoints),
            "--method",
            method,
            "--out",
            text(&out_path),
        ];
        let out = eyeball(&args, tmp.path());
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let df = read_csv(&out_path);
        let columns: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            columns,
            [
                "path",
                "given",
                "predicted",
                "score",
                "rank",
                "aum",
                "confidence",
                "variability",
                "correctness",
                "forgetting",
                "learned_from"
            ]
        );
        assert_eq!(df.height(), 300);
        let paths = strings(&df, "path");
        let top: Vec<&str> = paths.iter().take(12).map(String::as_str).collect();
        let found = top.iter().filter(|p| flipped_paths.contains(*p)).count();
        // The demo's checkpoints learned the true labels, so every one votes against a flip;
        // forgetting ranks never-learned examples first, and a flip is never learned.
        assert!(
            found >= 9,
            "{method}: top 12 holds {found} of 10 flipped: {top:?}"
        );
    }

    // `eyeball dynamics` writes the same per-example numbers, in dataset order.
    let table = tmp.path().join("dynamics.csv");
    let out = eyeball(
        &[
            "dynamics",
            text(&data),
            "--checkpoints",
            text(&checkpoints),
            "--out",
            text(&table),
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let df = read_csv(&table);
    assert_eq!(df.height(), 300);
    let paths = strings(&df, "path");
    let correctness = strings(&df, "correctness");
    let row = paths.iter().position(|p| p == &flipped[0].0).unwrap();
    assert_eq!(
        correctness[row], "0.0",
        "a flip is never predicted as its folder"
    );
}

#[test]
fn dynamics_of_a_split_that_does_not_exist_names_the_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let out_path = tmp.path().join("x.csv");
    let out = eyeball(
        &[
            "dynamics",
            text(&common::demo_data()),
            "--checkpoints",
            text(&common::demo_checkpoints()),
            "--split",
            "tarin",
            "--out",
            text(&out_path),
        ],
        tmp.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tarin") && stderr.contains("train, val"),
        "{stderr}"
    );
}

#[test]
fn per_epoch_logits_dumped_as_npy_give_the_same_dynamics_as_the_checkpoints() {
    use eyeball::model::{LoadedModel, Preprocess};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    flipped_demo_subset(&data);
    // What a training loop would dump: each epoch's logits over the dataset, in its order.
    let dataset = eyeball::dataset::Dataset::open(&data).unwrap();
    let paths: Vec<PathBuf> = dataset
        .examples
        .iter()
        .map(|e| dataset.absolute_path(e))
        .collect();
    let preprocess = Preprocess::for_checkpoints(&common::demo_checkpoints(), None).unwrap();
    let input = preprocess.batch(&paths).unwrap();
    let dumps = tmp.path().join("logits");
    std::fs::create_dir_all(&dumps).unwrap();
    for epoch in 0..6 {
        let file = common::demo_checkpoints().join(format!("epoch_{epoch:02}.pt"));
        let model = LoadedModel::load(&file, tch::Device::Cpu).unwrap();
        let logits = model.checked_logits(&input, 10).unwrap();
        // Unpadded numbers, so the files sort by the number in their names, not as text.
        logits
            .write_npy(dumps.join(format!("epoch{epoch}.npy")))
            .unwrap();
    }
    let run = |flag: &str, dir: &Path, out: &str| {
        let out_path = tmp.path().join(out);
        let output = eyeball(
            &[
                "dynamics",
                text(&data),
                flag,
                text(dir),
                "--out",
                text(&out_path),
            ],
            tmp.path(),
        );
        assert!(
            output.status.success(),
            "{flag}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        read_csv(&out_path)
    };
    let from_checkpoints = run("--checkpoints", &common::demo_checkpoints(), "a.csv");
    let from_npy = run("--predictions", &dumps, "b.csv");
    assert_eq!(from_checkpoints.height(), 300);
    for name in ["path", "given", "predicted", "forgetting", "learned_from"] {
        assert_eq!(
            strings(&from_checkpoints, name),
            strings(&from_npy, name),
            "{name}"
        );
    }
    for name in ["aum", "confidence", "variability", "correctness"] {
        let (a, b) = (
            from_checkpoints
                .column(name)
                .unwrap()
                .f64()
                .unwrap()
                .clone(),
            from_npy.column(name).unwrap().f64().unwrap().clone(),
        );
        let max = a
            .into_no_null_iter()
            .zip(b.into_no_null_iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0f64, f64::max);
        assert!(max < 1e-4, "{name} differs by {max}");
    }
}

#[test]
fn the_index_table_carries_each_examples_dynamics_beside_its_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let flipped = flipped_demo_subset(&data);
    let checkpoints = common::demo_checkpoints();
    let run = |args: &[&str]| {
        let out = eyeball(args, tmp.path());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (index, dynamics) = (tmp.path().join("index.csv"), tmp.path().join("dyn.csv"));
    run(&[
        "index",
        text(&data),
        "--out",
        text(&index),
        "--checkpoints",
        text(&checkpoints),
    ]);
    run(&[
        "dynamics",
        text(&data),
        "--checkpoints",
        text(&checkpoints),
        "--out",
        text(&dynamics),
    ]);
    let (index, dynamics) = (read_csv(&index), read_csv(&dynamics));
    assert_eq!(index.height(), 300);
    assert!(index.column("brightness").is_ok(), "the image stats stay");
    let aum_by_path = |df: &DataFrame| -> HashMap<String, f64> {
        strings(df, "path")
            .into_iter()
            .zip(df.column("aum").unwrap().f64().unwrap().into_no_null_iter())
            .collect()
    };
    let (in_index, in_dynamics) = (aum_by_path(&index), aum_by_path(&dynamics));
    assert_eq!(in_index.len(), 300);
    for (path, aum) in &in_dynamics {
        assert!((in_index[path] - aum).abs() < 1e-9, "{path}");
    }
    // A flipped label's margin stays negative: the checkpoints learned the true class.
    assert!(in_index[&flipped[0].0] < 0.0);
}
