//! The whole app through egui_kittest: open a generated dataset, find what a user would read.

mod common;

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use eyeball::index::IndexCache;
use eyeball::ui::app::{AppOptions, EyeballApp};

/// Options that keep the index cache inside the test's temp folder.
fn options(dataset: PathBuf, checkpoints: Option<PathBuf>, cache: &Path) -> AppOptions {
    AppOptions { dataset: Some(dataset), checkpoints, index_cache: IndexCache::At(cache.to_path_buf()) }
}

fn open(options: AppOptions) -> Harness<'static, EyeballApp> {
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| EyeballApp::new(cc, options));
    run_until_idle(&mut harness);
    harness
}

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
    let cache = tempfile::tempdir().unwrap();
    let harness = open(options(tmp.path().to_path_buf(), None, cache.path()));

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
    let cache = tempfile::tempdir().unwrap();
    let harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    assert!(harness.state().dataset().is_none());
    let messages = harness.state().messages().to_vec();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("no dataset layout found"), "{messages:?}");
    assert!(harness.query_by_label_contains("no dataset layout found").is_some());
    harness.get_by_label("No dataset open.");
}

#[test]
fn the_demo_opens_with_its_checkpoints_loaded_through_libtorch() {
    let cache = tempfile::tempdir().unwrap();
    let harness = open(options(common::demo_data(), Some(common::demo_checkpoints()), cache.path()));
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

/// Accessible names of the grid cells on screen: "example PATH: LABEL".
fn grid_cells(harness: &Harness<'_, EyeballApp>) -> Vec<String> {
    harness.query_all_by_label_contains("example ").filter_map(|node| node.accesskit_node().label()).collect()
}

#[test]
fn filtering_by_one_label_shows_its_count_and_only_its_examples() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "cat", 6), ("", "dog", 4), ("", "emu", 2)]);
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    assert!(harness.state().stats().is_some(), "indexing should have finished");
    harness.get_by_label("12 of 12 match");
    assert_eq!(grid_cells(&harness).len(), 12);

    harness.get_by_label("dog").click();
    run_until_idle(&mut harness);
    harness.get_by_label("4 of 12 match");
    let cells = grid_cells(&harness);
    assert_eq!(cells.len(), 4, "{cells:?}");
    assert!(cells.iter().all(|c| c.ends_with(": dog")), "{cells:?}");

    harness.get_by_label("emu").click();
    run_until_idle(&mut harness);
    harness.get_by_label("6 of 12 match");
    assert!(grid_cells(&harness).iter().all(|c| c.ends_with(": dog") || c.ends_with(": emu")));
}

#[test]
fn sorting_by_a_stat_orders_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, level) in [("mid", 120u8), ("dark", 10), ("bright", 240)] {
        let dir = tmp.path().join("things");
        std::fs::create_dir_all(&dir).unwrap();
        image::GrayImage::from_pixel(16, 16, image::Luma([level])).save(dir.join(format!("{name}.png"))).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    let order = |h: &Harness<'_, EyeballApp>| -> Vec<String> {
        let ds = h.state().dataset().unwrap();
        h.state().visible().iter().map(|&i| ds.examples[i].path.file_stem().unwrap().to_string_lossy().into_owned()).collect()
    };
    harness.get_by_label("sort by").click();
    harness.run_steps(2);
    // The open sort menu's entry, not the stats panel's histogram title.
    harness.get_by_role_and_label(egui::Role::Button, "brightness").click();
    run_until_idle(&mut harness);
    assert_eq!(order(&harness), vec!["dark", "mid", "bright"]);
    harness.get_by_label("descending").click();
    run_until_idle(&mut harness);
    assert_eq!(order(&harness), vec!["bright", "mid", "dark"]);
    let cells = grid_cells(&harness);
    assert!(cells[0].contains("bright.png") && cells[2].contains("dark.png"), "{cells:?}");
}

#[test]
fn keyboard_opens_steps_through_and_closes_the_detail_view() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "a", 3)]);
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    harness.key_press(egui::Key::ArrowRight); // selects the first example
    run_until_idle(&mut harness);
    harness.key_press(egui::Key::Enter);
    run_until_idle(&mut harness);
    assert_eq!(harness.state().detail_example(), Some(0));
    harness.get_by_label("Back to grid (Esc)");
    harness.get_by_label("1 / 3");
    harness.key_press(egui::Key::ArrowRight);
    run_until_idle(&mut harness);
    assert_eq!(harness.state().detail_example(), Some(1));
    harness.get_by_label("2 / 3");
    harness.get_by_label("perceptual hash");
    harness.key_press(egui::Key::Escape);
    run_until_idle(&mut harness);
    assert_eq!(harness.state().detail_example(), None);
    assert_eq!(grid_cells(&harness).len(), 3);
}
