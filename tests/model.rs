//! LibTorch through tch, on the demo's real TorchScript checkpoints and real images.

mod common;

use eyeball::dataset::Dataset;
use eyeball::jobs::Progress;
use eyeball::model::{LoadedModel, Preprocess, discover_checkpoints, summarize_checkpoints};
use tch::Device;

fn demo_val_batch(limit: usize) -> (Vec<std::path::PathBuf>, Vec<i64>) {
    let dataset = Dataset::open(&common::demo_data()).unwrap();
    let val = dataset.splits.iter().position(|s| s == "val").unwrap();
    dataset
        .examples
        .iter()
        .filter(|e| e.split == Some(val))
        .take(limit)
        .map(|e| (dataset.absolute_path(e), dataset.classes[e.label.unwrap()].parse::<i64>().unwrap()))
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
    assert_eq!(init.logits(&input).unwrap().size(), vec![paths.len() as i64, 10]);
    let init_loss = init.mean_loss(&input, &labels).unwrap();
    assert!((init_loss - 10f64.ln()).abs() < 0.1, "loss at init {init_loss}, ln(10) = {}", 10f64.ln());

    let files = discover_checkpoints(&dir).unwrap();
    let last = LoadedModel::load(files.last().unwrap(), Device::Cpu).unwrap();
    let trained_loss = last.mean_loss(&input, &labels).unwrap();
    assert!(trained_loss < 0.5, "the last checkpoint should have learned: loss {trained_loss}");
}

#[test]
fn summary_counts_checkpoints_and_parameters() {
    let summary = summarize_checkpoints(&common::demo_checkpoints(), &Progress::default()).unwrap();
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
    let err = LoadedModel::load(&bogus, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains(&bogus.display().to_string()), "{err}");
    assert!(err.contains("torch.jit.trace"), "{err}");
    let pt2 = tmp.path().join("model.pt2");
    std::fs::write(&pt2, b"PK\x03\x04model/archive_format").unwrap();
    let err = LoadedModel::load(&pt2, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains(".pt2") && err.contains("torch.export"), "{err}");
}
