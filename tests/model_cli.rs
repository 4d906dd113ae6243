//! `eyeball predict` and `eyeball check`, end to end on the bundled demo and the fixture models
//! of tests/fixtures/make_models.py.

mod common;

use std::path::{Path, PathBuf};

use polars::prelude::*;

use common::eyeball_with_cache as eyeball;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn predict_writes_one_row_per_checkpoint_and_example() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, checkpoints) = (common::demo_data(), common::demo_checkpoints());
    let csv = tmp.path().join("predictions.csv");
    let out = eyeball(
        &[
            "predict",
            text(&data),
            "--checkpoints",
            text(&checkpoints),
            "--out",
            text(&csv),
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let columns: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
    for name in [
        "checkpoint",
        "order",
        "path",
        "label",
        "predicted",
        "p_label",
        "loss",
        "top5",
    ] {
        assert!(columns.contains(&name), "{name} missing from {columns:?}");
    }
    assert_eq!(df.height(), 6 * 64);
    let first = df
        .column("checkpoint")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(first, "epoch_00.pt");
    let last_order = df
        .column("order")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .max();
    assert_eq!(last_order, Some(5));
    let path = df
        .column("path")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert!(
        path.starts_with("val/") && data.join(&path).is_file(),
        "{path}"
    );
    let top5 = df
        .column("top5")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(top5.split(';').count(), 5, "{top5}");
    assert!(top5.split(';').all(|pair| {
        pair.split_once(':')
            .is_some_and(|(c, p)| c.parse::<usize>().is_ok() && p.parse::<f32>().is_ok())
    }));

    // --batch N and Parquet; the second run reads the default batch back from the cache.
    let parquet = tmp.path().join("p.parquet");
    let args = [
        "predict",
        text(&data),
        "--checkpoints",
        text(&checkpoints),
        "--batch",
        "20",
        "--out",
        text(&parquet),
    ];
    let out = eyeball(&args, tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::File::open(&parquet).unwrap();
    assert_eq!(ParquetReader::new(file).finish().unwrap().height(), 6 * 20);
    assert!(
        tmp.path()
            .join("eyeball/predictions")
            .read_dir()
            .unwrap()
            .count()
            >= 12
    );
}

#[test]
fn predict_skips_files_that_cannot_run_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("ckpts");
    std::fs::create_dir(&folder).unwrap();
    for name in ["tiny.pt", "model.pt2", "state_dict.pt", "nan.pt"] {
        std::fs::copy(fixture(name), folder.join(name)).unwrap();
    }
    std::fs::copy(
        common::demo_checkpoints().join("preprocess.json"),
        folder.join("preprocess.json"),
    )
    .unwrap();
    let csv = tmp.path().join("p.csv");
    let out = eyeball(
        &[
            "predict",
            text(&common::demo_data()),
            "--checkpoints",
            text(&folder),
            "--batch",
            "10",
            "--out",
            text(&csv),
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("model.pt2: this is a torch.export"),
        "{stderr}"
    );
    assert!(
        stderr.contains("state_dict.pt: this is a plain torch.save(model.state_dict())"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nan.pt") && stderr.contains("NaN"),
        "{stderr}"
    );
    let df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(csv))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(df.height(), 10);

    let out = eyeball(
        &[
            "predict",
            text(&common::demo_data()),
            "--checkpoints",
            text(&folder),
            "--out",
            "x.txt",
        ],
        tmp.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".csv or .parquet"));
}

#[test]
fn check_prints_verdicts_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, checkpoints) = (common::demo_data(), common::demo_checkpoints());
    let out = eyeball(
        &["check", text(&data), "--checkpoints", text(&checkpoints)],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "PASS  Loss at init",
        "PASS  Input-independent baseline",
        "PASS  Batch independence",
        "PASS  Overfit one batch",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert!(stdout.contains("ln(C) 2.3026"), "{stdout}");

    let out = eyeball(
        &[
            "check",
            text(&data),
            "--checkpoints",
            text(&checkpoints),
            "--json",
            "--overfit-examples",
            "2",
            "--overfit-checkpoint",
            "epoch_02.pt",
        ],
        tmp.path(),
    );
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = json.as_array().unwrap();
    assert_eq!(checks.len(), 4);
    let overfit = &checks[3];
    assert_eq!(overfit["name"], "Overfit one batch");
    assert_eq!(overfit["verdict"], "pass");
    assert_eq!(overfit["numbers"][0]["name"], "examples");
    assert_eq!(overfit["numbers"][0]["value"], 2.0);
    assert!(
        overfit["explanation"]
            .as_str()
            .unwrap()
            .contains("epoch_02.pt")
    );
    let curve = overfit["loss_curve"].as_array().unwrap();
    assert!(curve.len() >= 2 && curve.last().unwrap().as_f64().unwrap() < 0.01);
    assert!(
        checks[0].get("loss_curve").is_none(),
        "only training checks have a curve"
    );
    assert_eq!(checks[0]["name"], "Loss at init");
    assert_eq!(checks[0]["verdict"], "pass");
    assert_eq!(checks[0]["numbers"][1]["name"], "ln(C)");
    assert!((checks[0]["numbers"][1]["value"].as_f64().unwrap() - 10f64.ln()).abs() < 1e-9);
}

#[test]
fn check_exits_with_status_1_when_a_check_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, mixing) = (common::demo_data(), fixture("mixing.pt"));
    let sidecar = common::demo_checkpoints().join("preprocess.json");
    let args = [
        "check",
        text(&data),
        "--checkpoints",
        text(&mixing),
        "--preprocess",
        text(&sidecar),
        "--json",
    ];
    let out = eyeball(&args, tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[2]["name"], "Batch independence");
    assert_eq!(json[2]["verdict"], "fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 4 recipe checks failed"));

    // Without a sidecar beside the checkpoint, the error says what is missing.
    let out = eyeball(
        &["check", text(&data), "--checkpoints", text(&mixing)],
        tmp.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("preprocess.json: not found"), "{stderr}");
}

#[test]
fn bench_inference_reports_images_per_second() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, checkpoint) = (
        common::demo_data(),
        common::demo_checkpoints().join("epoch_05.pt"),
    );
    let args = [
        "bench",
        "inference",
        text(&data),
        "--checkpoint",
        text(&checkpoint),
        "--batch-size",
        "512",
        "--threads",
        "1",
    ];
    let out = eyeball(&args, tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("images:     5000")
            && stdout.contains("forward:")
            && stdout.contains("images/s"),
        "{stdout}"
    );
}

#[test]
fn scan_with_a_checkpoint_uses_its_embedding_and_finds_a_planted_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("digits");
    // 150 demo digits of three classes, and a dimmed copy of one of them under another name.
    let demo = common::demo_data().join("train");
    for class in ["1", "4", "7"] {
        let folder = data.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(demo.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for path in names.iter().take(50) {
            std::fs::copy(path, folder.join(path.file_name().unwrap())).unwrap();
        }
    }
    let source = std::fs::read_dir(data.join("4"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let mut dimmed = image::open(&source).unwrap().to_luma8();
    dimmed
        .pixels_mut()
        .for_each(|p| p.0[0] = (p.0[0] as f32 * 0.6) as u8);
    dimmed.save(data.join("4").join("zz_copy.png")).unwrap();

    let csv = tmp.path().join("scan.csv");
    let checkpoint = common::demo_checkpoints().join("epoch_05.pt");
    let out = eyeball(
        &[
            "scan",
            text(&data),
            "--out",
            text(&csv),
            "--checkpoint",
            text(&checkpoint),
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("epoch_05.pt's penultimate-layer embedding"),
        "{stderr}"
    );
    let source_name = format!("4/{}", source.file_name().unwrap().to_string_lossy());
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert!(
        rows.lines().any(|row| {
            let fields: Vec<&str> = row.split(',').collect();
            fields[..2] == ["4/zz_copy.png", "near_duplicate"] && fields[4] == source_name
        }),
        "{rows}"
    );
}

#[test]
fn scan_with_a_checkpoint_without_a_linear_layer_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = fixture("conv_head.pt");
    std::fs::copy(
        common::demo_checkpoints().join("preprocess.json"),
        tmp.path().join("preprocess.json"),
    )
    .unwrap();
    let out = eyeball(
        &[
            "scan",
            text(&common::demo_data()),
            "--out",
            text(&tmp.path().join("scan.csv")),
            "--checkpoint",
            text(&checkpoint),
            "--preprocess",
            text(&tmp.path().join("preprocess.json")),
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("conv_head.pt"), "{stderr}");
    assert!(stderr.contains("penultimate layer"), "{stderr}");
    assert!(!tmp.path().join("scan.csv").exists());
}

#[test]
fn the_demo_digits_scanned_with_their_checkpoint_gain_no_look_alike_pairs() {
    // A clear "1" lies close to every other "1" in the model's embedding; the embedding only
    // proposes pairs, and the same-shot rule, the same as without a model, decides.
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = common::demo_checkpoints().join("epoch_05.pt");
    let out = eyeball(
        &[
            "scan",
            text(&common::demo_data()),
            "--out",
            text(&tmp.path().join("scan.csv")),
            "--checkpoint",
            text(&checkpoint),
        ],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("(0 of the pairs proposed only by epoch_05.pt's penultimate-layer embedding"),
        "{stderr}"
    );
    // A looser setting proposes many more look-alikes; none of them is the same shot.
    let loose = eyeball(
        &[
            "scan",
            text(&common::demo_data()),
            "--out",
            text(&tmp.path().join("loose.csv")),
            "--checkpoint",
            text(&checkpoint),
            "--min-deviations",
            "4",
        ],
        tmp.path(),
    );
    let loose_err = String::from_utf8_lossy(&loose.stderr);
    assert!(loose.status.success(), "{loose_err}");
    assert!(
        loose_err.contains("(0 of the pairs proposed only by"),
        "{loose_err}"
    );
}
