//! LibTorch through tch, on the demo's real TorchScript checkpoints and real images, and on the
//! small fixture models made by tests/fixtures/make_models.py (real PyTorch; files committed).

mod common;

use std::path::{Path, PathBuf};

use eyeball::dataset::Dataset;
use eyeball::jobs::Progress;
use eyeball::model::checks::{BASELINE, BATCH_INDEPENDENCE, LOSS_AT_INIT};
use eyeball::model::overfit::{OVERFIT, OVERFIT_LOSS, OverfitSettings};
use eyeball::model::predict::{DEFAULT_BATCH_SEED, DEFAULT_BATCH_SIZE, Evolution, FixedBatch};
use eyeball::model::weights::{apply_weights, load_parameters, read_weights};
use eyeball::model::{
    CheckResult, CheckpointFile, CheckpointKind, LoadedModel, ModelError, ModelStore, Preprocess,
    Verdict, classify_checkpoints, default_fixed_batch, discover_checkpoints, first_layer_filters,
    input_view, predict_batch, recipe_checks, run_evolution, summarize_checkpoints,
    weight_histograms,
};
use tch::Device;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn classify(names: &[&str]) -> Vec<CheckpointFile> {
    classify_checkpoints(&names.iter().map(|n| fixture(n)).collect::<Vec<_>>()).unwrap()
}

fn demo() -> (Dataset, Preprocess) {
    let dataset = Dataset::open(&common::demo_data()).unwrap();
    let preprocess = Preprocess::for_checkpoints(&common::demo_checkpoints(), None).unwrap();
    (dataset, preprocess)
}

/// Every checkpoint of `files` run on `batch` on the CPU (predictions cached in `cache`).
fn evolution_on_cpu(
    files: &[CheckpointFile],
    preprocess: &Preprocess,
    dataset: &Dataset,
    batch: &FixedBatch,
    cache: Option<&Path>,
) -> Evolution {
    run_evolution(
        &ModelStore::new(Device::Cpu),
        files,
        preprocess,
        dataset,
        batch,
        cache,
        &Progress::default(),
    )
    .unwrap()
}

fn checks_on_demo(files: &[CheckpointFile]) -> Vec<CheckResult> {
    overfit_on_demo(files, &OverfitSettings::default())
}

fn overfit_on_demo(files: &[CheckpointFile], overfit: &OverfitSettings) -> Vec<CheckResult> {
    let (dataset, preprocess) = demo();
    let batch = default_fixed_batch(&dataset, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SEED);
    recipe_checks(
        files,
        &preprocess,
        &dataset,
        &batch,
        overfit,
        &ModelStore::new(Device::Cpu),
        &Progress::default(),
    )
    .unwrap()
}

fn number(result: &CheckResult, name: &str) -> f64 {
    result
        .numbers
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {result:?}"))
        .1
}

fn check<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    results.iter().find(|r| r.name == name).unwrap()
}

fn demo_val_batch(limit: usize) -> (Vec<std::path::PathBuf>, Vec<i64>) {
    let dataset = Dataset::open(&common::demo_data()).unwrap();
    let val = dataset.splits.iter().position(|s| s == "val").unwrap();
    dataset
        .examples
        .iter()
        .filter(|e| e.split == Some(val))
        .take(limit)
        .map(|e| {
            (
                dataset.absolute_path(e),
                dataset.classes[e.label.unwrap()].parse::<i64>().unwrap(),
            )
        })
        .unzip()
}

#[test]
fn demo_checkpoints_are_in_epoch_order() {
    let names: Vec<String> = discover_checkpoints(&common::demo_checkpoints())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names[0], "epoch_00.pt");
}

#[test]
fn epoch_zero_outputs_n_by_10_and_its_loss_is_ln_10() {
    let dir = common::demo_checkpoints();
    let preprocess = Preprocess::load(&Preprocess::find_in(&dir).unwrap()).unwrap();
    assert_eq!(preprocess.class_names.len(), 10);
    let (paths, labels) = demo_val_batch(usize::MAX);
    let input = preprocess.batch(&paths).unwrap();
    assert_eq!(input.size(), vec![paths.len() as i64, 1, 28, 28]);

    let init = LoadedModel::load(&dir.join("epoch_00.pt"), Device::Cpu).unwrap();
    assert_eq!(
        init.logits(&input).unwrap().size(),
        vec![paths.len() as i64, 10]
    );
    let init_loss = init.mean_loss(&input, &labels).unwrap();
    assert!(
        (init_loss - 10f64.ln()).abs() < 0.1,
        "loss at init {init_loss}, ln(10) = {}",
        10f64.ln()
    );

    let files = discover_checkpoints(&dir).unwrap();
    let last = LoadedModel::load(files.last().unwrap(), Device::Cpu).unwrap();
    let trained_loss = last.mean_loss(&input, &labels).unwrap();
    assert!(
        trained_loss < 0.5,
        "the last checkpoint should have learned: loss {trained_loss}"
    );
}

#[test]
fn summary_counts_checkpoints_and_parameters() {
    let summary = summarize_checkpoints(
        &common::demo_checkpoints(),
        &ModelStore::new(Device::Cpu),
        &Progress::default(),
    )
    .unwrap();
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert!(summary.files.len() >= 5);
    // conv1 16x1x5x5+16, conv2 32x16x3x3+32, fc1 1568x32+32, fc2 32x10+10
    assert_eq!(summary.parameter_count, Some(416 + 4640 + 50208 + 330));
    assert!(summary.preprocess.is_some());
}

#[test]
fn a_file_that_is_not_torchscript_gets_a_message_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("epoch_01.pt");
    std::fs::write(&bogus, b"definitely not a zip").unwrap();
    let err = LoadedModel::load(&bogus, Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&bogus.display().to_string()), "{err}");
    assert!(err.contains("torch.jit.trace"), "{err}");
    let pt2 = tmp.path().join("model.pt2");
    std::fs::write(&pt2, b"PK\x03\x04model/archive_format").unwrap();
    let err = LoadedModel::load(&pt2, Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(".pt2") && err.contains("torch.export"),
        "{err}"
    );
}

#[test]
fn default_fixed_batch_is_stratified_seeded_and_held_out() {
    let dataset = Dataset::open(&common::demo_data()).unwrap();
    let batch = default_fixed_batch(&dataset, 64, 7);
    assert_eq!(batch.len(), 64);
    let val = dataset.splits.iter().position(|s| s == "val").unwrap();
    assert!(
        batch
            .examples
            .iter()
            .all(|&i| dataset.examples[i].split == Some(val))
    );
    let mut per_class = [0usize; 10];
    for (&i, &label) in batch.examples.iter().zip(&batch.labels) {
        assert_eq!(dataset.examples[i].label, Some(label as usize));
        per_class[label as usize] += 1;
    }
    assert!(per_class.iter().all(|&c| c == 6 || c == 7), "{per_class:?}");
    assert_eq!(batch, default_fixed_batch(&dataset, 64, 7));
    assert_ne!(
        batch.examples,
        default_fixed_batch(&dataset, 64, 8).examples
    );
    assert!(batch.examples.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn evolution_loss_falls_from_first_to_last_checkpoint_and_comes_back_from_the_cache() {
    let (dataset, preprocess) = demo();
    let files = classify_checkpoints(&[common::demo_checkpoints()]).unwrap();
    assert!(files.iter().all(CheckpointFile::is_runnable), "{files:?}");
    let batch = default_fixed_batch(&dataset, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SEED);
    let cache = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let cold = evolution_on_cpu(&files, &preprocess, &dataset, &batch, Some(cache.path()));
    assert!(cold.failures.is_empty(), "{:?}", cold.failures);
    let cold = cold.predictions;
    eprintln!(
        "evolution over {} checkpoints, cold cache: {:.2} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(cold.len(), files.len());
    assert_eq!(
        cold.iter().map(|p| p.order).collect::<Vec<_>>(),
        (0..files.len()).collect::<Vec<_>>()
    );
    let (first, last) = (&cold[0], cold.last().unwrap());
    assert!(
        last.mean_loss < first.mean_loss / 4.0,
        "loss {} -> {}",
        first.mean_loss,
        last.mean_loss
    );
    assert!(
        last.accuracy > 0.85 && first.accuracy < 0.3,
        "accuracy {} -> {}",
        first.accuracy,
        last.accuracy
    );
    assert_eq!(first.probs.len(), 64);
    assert!(
        first
            .probs
            .iter()
            .all(|p| p.len() == 10 && (p.iter().sum::<f32>() - 1.0).abs() < 1e-4)
    );

    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        files.len()
    );
    let warm = evolution_on_cpu(&files, &preprocess, &dataset, &batch, Some(cache.path()));
    assert_eq!(warm.predictions, cold);

    // predict_batch on one loaded model gives the same numbers.
    let model = LoadedModel::load(&files[5].path, Device::Cpu).unwrap();
    let single = predict_batch(&model, &preprocess, &dataset, &batch).unwrap();
    assert_eq!(single.predicted, last.predicted);
    assert!((single.mean_loss - last.mean_loss).abs() < 1e-5);
}

#[test]
fn a_checkpoint_that_fails_is_listed_and_the_others_still_run() {
    let (dataset, preprocess) = demo();
    let mut files = classify_checkpoints(&[
        common::demo_checkpoints().join("epoch_00.pt"),
        fixture("nan.pt"),
    ])
    .unwrap();
    files.extend(classify(&["truncated.pt"]));
    let batch = default_fixed_batch(&dataset, 8, 0);
    let evolution = evolution_on_cpu(&files, &preprocess, &dataset, &batch, None);
    assert_eq!(evolution.predictions.len(), 1);
    assert_eq!(evolution.predictions[0].checkpoint, "epoch_00.pt");
    assert_eq!(
        evolution.failures.len(),
        1,
        "truncated.pt is not run at all: {:?}",
        evolution.failures
    );
    let (order, name, message) = &evolution.failures[0];
    assert_eq!((*order, name.as_str()), (1, "nan.pt"));
    assert!(message.contains("NaN"), "{message}");
}

#[test]
fn a_cancelled_evolution_stops() {
    let (dataset, preprocess) = demo();
    let files = classify_checkpoints(&[common::demo_checkpoints()]).unwrap();
    let batch = default_fixed_batch(&dataset, 8, 0);
    let progress = Progress::default();
    progress.cancel();
    let result = run_evolution(
        &ModelStore::new(Device::Cpu),
        &files,
        &preprocess,
        &dataset,
        &batch,
        None,
        &progress,
    );
    assert!(matches!(result, Err(ModelError::Cancelled)));
}

#[test]
fn recipe_checks_pass_for_the_demo() {
    let results = checks_on_demo(&classify_checkpoints(&[common::demo_checkpoints()]).unwrap());
    assert_eq!(results.len(), 4);
    for result in &results {
        assert_eq!(result.verdict, Verdict::Pass, "{result:?}");
        assert!(!result.numbers.is_empty() && !result.explanation.is_empty());
    }
    let leak = check(&results, BATCH_INDEPENDENCE);
    assert_eq!(
        leak.numbers.iter().find(|(n, _)| n == "ratio").unwrap().1,
        0.0
    );
}

#[test]
fn the_demos_first_checkpoint_overfits_two_examples_and_stays_unchanged() {
    let files = classify_checkpoints(&[common::demo_checkpoints()]).unwrap();
    let first = &files[0].path;
    let before = std::fs::read(first).unwrap();
    let settings = OverfitSettings {
        examples: 2,
        checkpoint: None,
    };
    let results = overfit_on_demo(&files, &settings);
    let fit = check(&results, OVERFIT);
    assert_eq!(fit.verdict, Verdict::Pass, "{fit:?}");
    assert_eq!(number(fit, "examples"), 2.0);
    assert_eq!(number(fit, "distinct labels"), 2.0);
    assert_eq!(number(fit, "predicted right"), 2.0);
    assert!(number(fit, "final loss") < OVERFIT_LOSS, "{fit:?}");
    // The curve starts at the untrained loss, about ln(10), and ends at the final loss.
    assert!(fit.curve[0] > 1.0, "{:?}", fit.curve);
    assert_eq!(*fit.curve.last().unwrap(), number(fit, "final loss"));
    assert!(
        fit.explanation.contains(&files[0].name),
        "{}",
        fit.explanation
    );
    assert_eq!(
        std::fs::read(first).unwrap(),
        before,
        "the checkpoint file changed"
    );
}

#[test]
fn a_model_whose_output_ignores_its_input_cannot_overfit() {
    let settings = OverfitSettings {
        examples: 2,
        checkpoint: None,
    };
    let results = overfit_on_demo(&classify(&["ignores_input.pt"]), &settings);
    let fit = check(&results, OVERFIT);
    assert_eq!(fit.verdict, Verdict::Fail, "{fit:?}");
    // With two labels, an output that ignores the input cannot go below ln(2).
    assert!(number(fit, "final loss") > 0.5, "{fit:?}");
    assert!(number(fit, "predicted right") < 2.0, "{fit:?}");
    // Both learning rates were tried, and the layers before the head got no gradient.
    assert_eq!(number(fit, "learning rate"), 1e-2);
    assert!(
        number(fit, "parameter tensors with gradient") < number(fit, "trainable parameter tensors")
    );
    assert!(
        fit.explanation.contains("no gradient"),
        "{}",
        fit.explanation
    );
}

#[test]
fn a_frozen_model_has_nothing_to_overfit() {
    let results = checks_on_demo(&classify(&["frozen.pt"]));
    let fit = check(&results, OVERFIT);
    assert_eq!(fit.verdict, Verdict::Fail, "{fit:?}");
    assert_eq!(number(fit, "trainable parameter tensors"), 0.0);
    assert!(
        fit.explanation.contains("no trainable parameters"),
        "{}",
        fit.explanation
    );
}

#[test]
fn loss_at_init_fails_for_a_badly_initialised_last_layer() {
    let results = checks_on_demo(&classify(&["bad_init.pt"]));
    let init = check(&results, LOSS_AT_INIT);
    assert_eq!(init.verdict, Verdict::Fail, "{init:?}");
    let loss = init.numbers[0].1;
    assert!(loss > 3.0 * 10f64.ln(), "{init:?}");
    assert!(
        init.explanation.contains("last layer"),
        "{}",
        init.explanation
    );
    // The same architecture with a small last layer starts at ln(10).
    assert_eq!(
        check(&checks_on_demo(&classify(&["tiny.pt"])), LOSS_AT_INIT).verdict,
        Verdict::Pass
    );
}

#[test]
fn batch_independence_fails_for_a_model_that_mixes_examples() {
    let results = checks_on_demo(&classify(&["mixing.pt"]));
    let leak = check(&results, BATCH_INDEPENDENCE);
    assert_eq!(leak.verdict, Verdict::Fail, "{leak:?}");
    assert!(
        leak.explanation.contains("view/reshape/permute") && leak.explanation.contains("BatchNorm")
    );
    let others = leak
        .numbers
        .iter()
        .find(|(n, _)| n == "other examples with gradient")
        .unwrap()
        .1;
    assert_eq!(others, 63.0, "{leak:?}");
    // An untrained model does no better on real inputs than on zeros.
    assert_eq!(
        check(&checks_on_demo(&classify(&["tiny.pt"])), BASELINE).verdict,
        Verdict::Warn
    );
}

#[test]
fn files_that_cannot_run_each_get_their_own_message() {
    let files = classify(&[
        "truncated.pt",
        "model.pt2",
        "state_dict.pt",
        "tiny.pt",
        "tiny_params.pth",
        "tiny_weights.safetensors",
    ]);
    let kind = |name: &str| files.iter().find(|f| f.name == name).unwrap().kind.clone();
    let message = |name: &str| match kind(name) {
        CheckpointKind::Unrunnable(m) => m,
        other => panic!("{name}: {other:?}"),
    };
    assert!(
        message("truncated.pt").contains("truncated"),
        "{}",
        message("truncated.pt")
    );
    assert!(
        message("model.pt2").contains(".pt2") && message("model.pt2").contains("torch.jit.trace")
    );
    assert!(
        message("state_dict.pt").contains("OrderedDict")
            && message("state_dict.pt").contains("dict(model.state_dict())")
    );
    assert_eq!(kind("tiny.pt"), CheckpointKind::TorchScript);
    assert_eq!(kind("tiny_params.pth"), CheckpointKind::WeightsOnly);
    assert_eq!(
        kind("tiny_weights.safetensors"),
        CheckpointKind::WeightsOnly
    );
    // Natural order by name, and each file hashed.
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "model.pt2",
            "state_dict.pt",
            "tiny.pt",
            "tiny_params.pth",
            "tiny_weights.safetensors",
            "truncated.pt"
        ]
    );
    assert!(files.iter().all(|f| f.hash.len() == 16));

    // Loading gives the same message, naming the file.
    for name in ["truncated.pt", "model.pt2", "state_dict.pt"] {
        let path = fixture(name);
        let err = LoadedModel::load(&path, Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(&message(name)),
            "{err}"
        );
    }
}

#[test]
fn weights_only_files_give_filters_histograms_and_apply_to_torchscript() {
    let files = classify(&["tiny.pt", "tiny_params.pth", "tiny_weights.safetensors"]);
    let ts_params = load_parameters(&files[0], &ModelStore::new(Device::Cpu)).unwrap();
    let filters = first_layer_filters(&ts_params, Some(1)).unwrap();
    assert_eq!(
        (
            filters.layer.as_str(),
            filters.out_channels,
            filters.in_channels,
            filters.kh,
            filters.kw
        ),
        ("conv1.weight", 4, 1, 5, 5)
    );
    assert_eq!(filters.weights.len(), 100);
    let histograms = weight_histograms(&ts_params, 20);
    assert_eq!(
        histograms.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        [
            "conv1.weight",
            "conv1.bias",
            "bn1.weight",
            "bn1.bias",
            "fc.weight",
            "fc.bias"
        ]
    );
    assert_eq!(histograms[0].1.iter().map(|b| b.2).sum::<usize>(), 100);

    let (dataset, preprocess) = demo();
    let batch = default_fixed_batch(&dataset, 16, 0);
    for (file, note) in [
        (&files[1], "no BatchNorm running statistics"),
        (&files[2], "BatchNorm buffers"),
    ] {
        let weights = load_parameters(file, &ModelStore::new(Device::Cpu)).unwrap();
        assert_eq!(
            first_layer_filters(&weights, Some(1)).unwrap().layer,
            "conv1.weight"
        );
        let model = LoadedModel::load(&files[0].path, Device::Cpu).unwrap();
        let before = predict_batch(&model, &preprocess, &dataset, &batch).unwrap();
        let report = apply_weights(&model, &weights, &file.path).unwrap();
        assert_eq!(report.applied.len(), 6, "{report:?}");
        assert!(report.missing.is_empty());
        assert!(
            report.notes.iter().any(|n| n.contains(note)),
            "{}: {:?}",
            file.name,
            report.notes
        );
        let after = predict_batch(&model, &preprocess, &dataset, &batch).unwrap();
        assert_ne!(
            before.probs, after.probs,
            "{}: the weights did not change the predictions",
            file.name
        );
    }

    // Weights of another architecture: refused, naming both shapes.
    let demo_model =
        LoadedModel::load(&common::demo_checkpoints().join("epoch_00.pt"), Device::Cpu).unwrap();
    let tiny_weights = read_weights(&files[2].path).unwrap();
    let err = apply_weights(&demo_model, &tiny_weights, &files[2].path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("conv1.weight")
            && err.contains("[4, 1, 5, 5]")
            && err.contains("[16, 1, 5, 5]"),
        "{err}"
    );
}

#[test]
fn wrong_channels_or_input_size_name_the_shapes() {
    let (dataset, preprocess) = demo();
    let batch = default_fixed_batch(&dataset, 4, 0);
    let model =
        LoadedModel::load(&common::demo_checkpoints().join("epoch_05.pt"), Device::Cpu).unwrap();
    let rgb = Preprocess {
        channels: 3,
        mean: vec![0.1; 3],
        std: vec![0.3; 3],
        ..preprocess.clone()
    };
    let err = predict_batch(&model, &rgb, &dataset, &batch)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("epoch_05.pt") && err.contains("[4, 3, 28, 28]") && err.contains("3 channels"),
        "{err}"
    );
    assert!(
        err.contains("to have 1 channels") && !err.contains("Traceback"),
        "{err}"
    );
    let big = Preprocess {
        input_size: [32, 32],
        ..preprocess
    };
    let err = predict_batch(&model, &big, &dataset, &batch)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[4, 1, 32, 32]") && err.contains("32x32") && err.contains("input_size"),
        "{err}"
    );
}

#[test]
fn outputs_that_are_not_clean_logits_are_reported() {
    let (dataset, preprocess) = demo();
    let batch = default_fixed_batch(&dataset, 4, 0);
    let run = |name: &str| {
        let model = LoadedModel::load(&fixture(name), Device::Cpu).unwrap();
        predict_batch(&model, &preprocess, &dataset, &batch)
            .unwrap_err()
            .to_string()
    };
    let err = run("not_logits.pt");
    assert!(
        err.contains("not_logits.pt") && err.contains("[4, 4, 2, 2]") && err.contains("[N, C]"),
        "{err}"
    );
    let err = run("nan.pt");
    assert!(
        err.contains("nan.pt") && err.contains("NaN or Inf") && err.contains("40 of 40"),
        "{err}"
    );

    // A dataset with 2 classes for a 10-class model.
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "cat", 2), ("", "dog", 2)]);
    let two = Dataset::open(tmp.path()).unwrap();
    let model =
        LoadedModel::load(&common::demo_checkpoints().join("epoch_05.pt"), Device::Cpu).unwrap();
    let batch = default_fixed_batch(&two, 4, 0);
    let err = predict_batch(&model, &preprocess, &two, &batch)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("10 outputs") && err.contains("2 classes"),
        "{err}"
    );
}

#[test]
fn input_view_is_the_normalised_tensor_and_denormalises_to_the_image() {
    let (dataset, preprocess) = demo();
    let path = dataset.absolute_path(&dataset.examples[0]);
    let view = input_view(&preprocess, &path).unwrap();
    assert_eq!(view.shape, vec![1, 1, 28, 28]);
    assert_eq!(view.dtype, "float32");
    let (min, max, mean) = view.per_channel[0];
    let black = (0.0 - 0.1307) / 0.3081;
    assert!(
        (min - black).abs() < 1e-5 && max > 2.0 && mean > min && mean < max,
        "{:?}",
        view.per_channel
    );
    let original = image::open(&path).unwrap().to_luma8();
    let (w, h, rgba) = &view.denormalised_rgba;
    assert_eq!((*w, *h), (28, 28));
    let grey: Vec<u8> = rgba.chunks_exact(4).map(|p| p[0]).collect();
    assert_eq!(grey, original.into_raw());
}

#[test]
fn first_layer_filters_change_with_training() {
    let files = classify_checkpoints(&[common::demo_checkpoints()]).unwrap();
    let first = first_layer_filters(
        &load_parameters(&files[0], &ModelStore::new(Device::Cpu)).unwrap(),
        Some(1),
    )
    .unwrap();
    let last = first_layer_filters(
        &load_parameters(&files[5], &ModelStore::new(Device::Cpu)).unwrap(),
        Some(1),
    )
    .unwrap();
    assert_eq!(
        (first.out_channels, first.in_channels, first.kh, first.kw),
        (16, 1, 5, 5)
    );
    assert_ne!(first.weights, last.weights);
    assert_eq!(first.filter_rgba(3).2.len(), 5 * 5 * 4);
}

#[test]
fn a_model_that_needs_contiguous_input_still_runs_on_a_channels_last_batch() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "cat", 3), ("", "dog", 3)]);
    let dataset = Dataset::open(tmp.path()).unwrap();
    let preprocess = Preprocess {
        input_size: [8, 8],
        channels: 3,
        mean: vec![0.5; 3],
        std: vec![0.25; 3],
        class_names: vec!["cat".into(), "dog".into()],
        ..Preprocess::for_checkpoints(&common::demo_checkpoints(), None).unwrap()
    };
    let batch = default_fixed_batch(&dataset, 6, 0);
    let input = preprocess.batch(&batch.paths(&dataset)).unwrap();
    assert!(!input.is_contiguous());
    let model = LoadedModel::load(&fixture("rgb_view.pt"), Device::Cpu).unwrap();
    // The premise: this model's .view() fails on channels-last activations.
    assert!(tch::no_grad(|| model.module.forward_ts(&[&input])).is_err());
    let predictions = predict_batch(&model, &preprocess, &dataset, &batch).unwrap();
    let expected = model.logits(&input.contiguous()).unwrap();
    let expected: Vec<f32> =
        Vec::try_from(expected.softmax(1, tch::Kind::Float).flatten(0, -1)).unwrap();
    let got: Vec<f32> = predictions.probs.concat();
    assert!(
        got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6),
        "{got:?} vs {expected:?}"
    );
}

#[test]
fn weights_only_files_run_in_the_evolution_through_the_torchscript_file() {
    let files = classify(&[
        "tiny.pt",
        "tiny_params.pth",
        "tiny_weights.safetensors",
        "model.pt2",
    ]);
    let (dataset, preprocess) = demo();
    let batch = default_fixed_batch(&dataset, 16, 0);
    let evolution = evolution_on_cpu(&files, &preprocess, &dataset, &batch, None);
    let names: Vec<&str> = evolution
        .predictions
        .iter()
        .map(|p| p.checkpoint.as_str())
        .collect();
    assert_eq!(
        names,
        ["tiny.pt", "tiny_params.pth", "tiny_weights.safetensors"],
        "{:?}",
        evolution.failures
    );
    assert_ne!(
        evolution.predictions[0].probs, evolution.predictions[2].probs,
        "the weights were not applied"
    );
    assert!(
        evolution
            .notes
            .iter()
            .any(|n| n.contains("tiny_params.pth") && n.contains("applied to tiny.pt")),
        "{:?}",
        evolution.notes
    );
    assert!(
        evolution.notes.iter().any(|n| n.contains("BatchNorm")),
        "{:?}",
        evolution.notes
    );
}

/// The last 2-D parameter (the last linear layer's weight) and the bias after it.
fn last_linear(model: &LoadedModel) -> (tch::Tensor, tch::Tensor) {
    let params = model.module.named_parameters().unwrap();
    let w = params.iter().rposition(|(_, t)| t.dim() == 2).unwrap();
    (params[w].1.shallow_clone(), params[w + 1].1.shallow_clone())
}

#[test]
fn the_embedding_is_what_the_last_linear_layer_reads_in_traced_and_scripted_models() {
    let (paths, _) = demo_val_batch(16);
    let (_, preprocess) = demo();
    let input = preprocess.batch(&paths).unwrap();
    for path in [
        common::demo_checkpoints().join("epoch_05.pt"),
        fixture("scripted_head.pt"),
        fixture("tiny.pt"),
    ] {
        let model = LoadedModel::load_with_embedding(&path, Device::Cpu).unwrap();
        let embedding = model.embedding(&input).unwrap();
        let logits = model.logits(&input).unwrap();
        let (weight, bias) = last_linear(&model);
        assert_eq!(embedding.size(), vec![16, weight.size()[1]], "{path:?}");
        // Applying the last layer to the embedding gives the model's own logits.
        let relinked = embedding.matmul(&weight.tr()) + bias;
        let gap = (relinked - &logits).abs().max().double_value(&[]);
        assert!(gap < 1e-4, "{path:?}: logits differ by {gap}");
        // And it is not just the logits or the input again.
        assert_ne!(embedding.size(), logits.size(), "{path:?}");
    }
}

#[test]
fn a_model_without_a_linear_layer_says_it_has_no_penultimate_layer() {
    let path = fixture("conv_head.pt");
    let err = LoadedModel::load_with_embedding(&path, Device::Cpu)
        .err()
        .expect("no linear layer");
    let text = err.to_string();
    assert!(text.contains("conv_head.pt"), "{text}");
    assert!(text.contains("penultimate"), "{text}");
    // The plain model still loads and runs.
    assert!(LoadedModel::load(&path, Device::Cpu).is_ok());
}

#[test]
fn embedding_a_dataset_skips_unreadable_images_and_follows_the_checkpoint() {
    let (paths, _) = demo_val_batch(6);
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("7");
    std::fs::create_dir(&folder).unwrap();
    for (i, path) in paths.iter().enumerate() {
        std::fs::copy(path, folder.join(format!("{i}.png"))).unwrap();
    }
    std::fs::write(folder.join("3.png"), b"not a png").unwrap();
    let dataset = Dataset::open(root.path()).unwrap();
    let broken = dataset
        .examples
        .iter()
        .position(|e| e.path.ends_with("3.png"))
        .unwrap();
    let (_, preprocess) = demo();
    let files =
        classify_checkpoints(&discover_checkpoints(&common::demo_checkpoints()).unwrap()).unwrap();
    let all: Vec<usize> = (0..dataset.examples.len()).collect();
    let progress = Progress::default();
    let embed = |file, progress: &Progress| {
        eyeball::model::embedding::embed_examples(
            &ModelStore::new(Device::Cpu),
            file,
            None,
            &preprocess,
            &dataset,
            &all,
            progress,
        )
        .unwrap()
    };
    let (first, last) = (
        embed(&files[0], &progress),
        embed(&files[5], &Progress::default()),
    );
    let readable: Vec<usize> = all.iter().copied().filter(|&i| i != broken).collect();
    assert_eq!(first.examples, readable);
    assert_eq!(first.dim, 32);
    assert_eq!(first.vectors.len(), 5 * 32);
    assert_eq!(progress.fraction_parts(), (6, 6));
    assert_ne!(
        first.vectors, last.vectors,
        "training changes the embedding"
    );
    assert_eq!(last.source, "epoch_05.pt");
}

/// The logits `tests/fixtures/make_models.py` recorded for `name` on its reference input.
fn reference_logits(name: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(fixture("outputs_reference.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["models"][name]["logits"]
        .as_array()
        .unwrap_or_else(|| panic!("no reference for {name}"))
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn reference_input() -> tch::Tensor {
    tch::Tensor::linspace(0.0, 1.0, 2 * 28 * 28, (tch::Kind::Float, Device::Cpu))
        .view([2, 1, 28, 28])
}

#[test]
fn models_returning_a_tuple_a_list_or_a_dict_give_their_logits() {
    for name in [
        "tuple_out.pt",
        "list_out.pt",
        "dict_out.pt",
        "dict_single.pt",
    ] {
        let model = LoadedModel::load(&fixture(name), Device::Cpu).unwrap();
        let logits = model
            .checked_logits(&reference_input(), 10)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<f32> = Vec::try_from(logits.flatten(0, -1)).unwrap();
        let expected = reference_logits(name);
        assert_eq!(got.len(), expected.len(), "{name}");
        let max = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-5, "{name}: logits differ from PyTorch's by {max}");
    }
}

#[test]
fn a_dict_without_logits_is_refused_with_its_keys_named() {
    let model = LoadedModel::load(&fixture("bad_out.pt"), Device::Cpu).unwrap();
    let err = model.logits(&reference_input()).unwrap_err().to_string();
    assert!(
        err.contains("bad_out.pt") && err.contains("logits") && err.contains("a, b"),
        "{err}"
    );
    assert!(!err.to_lowercase().contains("internal"), "{err}");
}

#[test]
fn cancelled_recipe_checks_stop_with_cancelled() {
    let (dataset, preprocess) = demo();
    let batch = default_fixed_batch(&dataset, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SEED);
    let files = classify_checkpoints(&[common::demo_checkpoints()]).unwrap();
    let progress = Progress::default();
    progress.cancel();
    let result = recipe_checks(
        &files,
        &preprocess,
        &dataset,
        &batch,
        &OverfitSettings::default(),
        &ModelStore::new(Device::Cpu),
        &progress,
    );
    assert!(matches!(result, Err(ModelError::Cancelled)), "{result:?}");
}

#[test]
fn a_model_store_loads_each_checkpoint_once_across_jobs() {
    let (dataset, preprocess) = demo();
    let dir = common::demo_checkpoints();
    let files = classify_checkpoints(std::slice::from_ref(&dir)).unwrap();
    let batch = default_fixed_batch(&dataset, 16, 0);
    let models = ModelStore::new(Device::Cpu);
    summarize_checkpoints(&dir, &models, &Progress::default()).unwrap();
    assert_eq!(models.loads(), files.len());
    // Predictions and checks reuse what the summary loaded (the overfit check trains a copy of
    // its own, outside the store).
    let evolution = run_evolution(
        &models,
        &files,
        &preprocess,
        &dataset,
        &batch,
        None,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(evolution.predictions.len(), files.len());
    recipe_checks(
        &files,
        &preprocess,
        &dataset,
        &batch,
        &OverfitSettings::default(),
        &models,
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(models.loads(), files.len());
    assert_eq!(models.len(), files.len());
}

#[test]
fn a_model_store_over_its_budget_keeps_only_the_last_model() {
    let (dataset, preprocess) = demo();
    let files = classify_checkpoints(&[common::demo_checkpoints()]).unwrap();
    let batch = default_fixed_batch(&dataset, 16, 0);
    let models = ModelStore::with_budget(Device::Cpu, 1);
    let run = || {
        run_evolution(
            &models,
            &files,
            &preprocess,
            &dataset,
            &batch,
            None,
            &Progress::default(),
        )
        .unwrap()
    };
    let first = run();
    assert_eq!((models.loads(), models.len()), (files.len(), 1));
    let second = run();
    assert_eq!(
        models.loads(),
        2 * files.len(),
        "evicted models are loaded again"
    );
    assert_eq!(first.predictions[0].probs, second.predictions[0].probs);
}

#[test]
fn an_unreadable_image_is_left_out_and_named_and_the_rest_still_run() {
    // Ten demo digits of each class, and one file that is not an image.
    let tmp = tempfile::tempdir().unwrap();
    for class in 0..10 {
        let (from, to) = (
            common::demo_data().join("val").join(class.to_string()),
            tmp.path().join(class.to_string()),
        );
        std::fs::create_dir_all(&to).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&from)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in &names[..10] {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
    std::fs::write(tmp.path().join("3/broken.png"), b"not an image").unwrap();
    let dataset = Dataset::open(tmp.path()).unwrap();
    let preprocess = Preprocess::for_checkpoints(&common::demo_checkpoints(), None).unwrap();
    let broken = dataset
        .examples
        .iter()
        .position(|e| e.path.ends_with("broken.png"))
        .unwrap();
    let files = classify_checkpoints(&[common::demo_checkpoints().join("epoch_05.pt")]).unwrap();
    let batch = FixedBatch::all(&dataset);
    assert_eq!(batch.len(), 101);
    let cache = tempfile::tempdir().unwrap();
    let run = || evolution_on_cpu(&files, &preprocess, &dataset, &batch, Some(cache.path()));
    let cold = run();
    assert_eq!(cold.left_out.len(), 1);
    assert_eq!(cold.left_out[0].example, broken);
    assert!(
        cold.left_out[0].message.contains("broken.png"),
        "{:?}",
        cold.left_out
    );
    assert!(
        cold.notes
            .iter()
            .any(|n| n.contains("1 of 101") && n.contains("broken.png")),
        "{:?}",
        cold.notes
    );
    let predictions = &cold.predictions[0];
    assert_eq!(predictions.examples.len(), 100);
    assert!(!predictions.examples.contains(&broken));
    assert!(predictions.accuracy > 0.85, "{}", predictions.accuracy);
    // The cached run knows the left-out example too.
    let warm = run();
    assert_eq!(warm.predictions, cold.predictions);
    assert_eq!(warm.left_out, cold.left_out);

    // Scoring every example for label review, and predicting one batch, leave it out alike.
    let scores = eyeball::pipelines::score_with_checkpoint(
        &dataset,
        &files[0],
        &preprocess,
        None,
        &ModelStore::new(Device::Cpu),
        &Progress::default(),
    )
    .unwrap();
    assert_eq!((scores.len(), scores.left_out.len()), (100, 1));
    let model = LoadedModel::load(&files[0].path, Device::Cpu).unwrap();
    let single = predict_batch(&model, &preprocess, &dataset, &batch).unwrap();
    assert_eq!(single.predicted, predictions.predicted);

    // A batch of nothing but the broken file still fails, naming it.
    let only = FixedBatch::from_examples(&dataset, [broken]);
    let err = predict_batch(&model, &preprocess, &dataset, &only)
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.png"), "{err}");
}
