//! The whole app through egui_kittest: open a generated dataset, find what a user would read.

mod common;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eyeball::ui::app::{AppOptions, EyeballApp};

/// Steps the harness until the app's background jobs finish.
fn run_until_idle(harness: &mut Harness<'_, EyeballApp>) {
    for _ in 0..500 {
        harness.run_steps(1);
        if !harness.state().is_busy() {
            harness.run_steps(3);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the app stayed busy");
}

#[test]
fn opening_a_dataset_shows_class_names_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("train", "airplane", 5), ("train", "truck", 3), ("test", "airplane", 2), ("test", "truck", 1)]);
    let options = AppOptions { dataset: Some(tmp.path().to_path_buf()), checkpoints: None };
    let mut harness = Harness::builder().with_size([1200.0, 800.0]).build_eframe(|cc| EyeballApp::new(cc, options));
    run_until_idle(&mut harness);

    assert!(harness.state().messages().is_empty(), "{:?}", harness.state().messages());
    assert_eq!(harness.state().dataset().unwrap().examples.len(), 11);
    harness.get_by_label("airplane");
    harness.get_by_label("truck");
    harness.get_by_label("11 examples");
    // airplane: train 5, test 2, total 7; truck: 3, 1, 4.
    for count in ["5", "2", "7", "3", "4"] {
        assert!(harness.query_all_by_label(count).next().is_some(), "count {count} not on screen");
    }
    harness.get_by_label("train 8, test 3");
}

#[test]
fn a_folder_without_a_layout_shows_an_error_and_the_app_keeps_running() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("readme.txt"), "nothing").unwrap();
    let options = AppOptions { dataset: Some(tmp.path().to_path_buf()), checkpoints: None };
    let mut harness = Harness::builder().with_size([1200.0, 800.0]).build_eframe(|cc| EyeballApp::new(cc, options));
    run_until_idle(&mut harness);
    assert!(harness.state().dataset().is_none());
    let messages = harness.state().messages().to_vec();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("no dataset layout found"), "{messages:?}");
    assert!(harness.query_by_label_contains("no dataset layout found").is_some());
    harness.get_by_label("No dataset open.");
}

#[test]
fn the_demo_opens_with_its_checkpoints_loaded_through_libtorch() {
    let options = AppOptions { dataset: Some(common::demo_data()), checkpoints: Some(common::demo_checkpoints()) };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| EyeballApp::new(cc, options));
    run_until_idle(&mut harness);
    assert!(harness.state().messages().is_empty(), "{:?}", harness.state().messages());
    let summary = harness.state().checkpoints().unwrap();
    assert!(summary.files.len() >= 5);
    harness.get_by_label("55,594");
    let file_count = summary.files.len().to_string();
    assert!(harness.query_all_by_label(&file_count).next().is_some(), "checkpoint count not on screen");
    for digit in 0..10 {
        assert!(harness.query_all_by_label(&digit.to_string()).next().is_some(), "class {digit} missing");
    }
}
