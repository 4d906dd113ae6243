//! The whole app through egui_kittest: open a generated dataset, find what a user would read.

mod common;

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use eyeball::index::IndexCache;
use eyeball::ui::app::{AppOptions, EyeballApp};

/// Options that keep the index cache inside the test's temp folder.
fn options(dataset: PathBuf, checkpoints: Option<PathBuf>, cache: &Path) -> AppOptions {
    AppOptions {
        dataset: Some(dataset),
        checkpoints,
        index_cache: IndexCache::At(cache.join("index")),
        predictions_cache: Some(cache.join("predictions")),
        review_dir: Some(cache.join("reviews")),
    }
}

fn open(options: AppOptions) -> Harness<'static, EyeballApp> {
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| EyeballApp::new(cc, options));
    run_until_idle(&mut harness);
    harness
}

/// Steps the harness until the app's background jobs finish.
fn run_until_idle(harness: &mut Harness<'_, EyeballApp>) {
    // Generous: indexing and scanning the 5,000-image demo shares 2 cores with other tests.
    for _ in 0..12_000 {
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
    common::image_folder(
        tmp.path(),
        &[
            ("train", "airplane", 5),
            ("train", "truck", 3),
            ("test", "airplane", 2),
            ("test", "truck", 1),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let harness = open(options(tmp.path().to_path_buf(), None, cache.path()));

    assert!(
        harness.state().messages().is_empty(),
        "{:?}",
        harness.state().messages()
    );
    assert_eq!(harness.state().dataset().unwrap().examples.len(), 11);
    harness.get_by_label("airplane");
    harness.get_by_label("truck");
    harness.get_by_label("11 examples");
    // airplane: train 5, test 2, total 7; truck: 3, 1, 4.
    for count in ["5", "2", "7", "3", "4"] {
        assert!(
            harness.query_all_by_label(count).next().is_some(),
            "count {count} not on screen"
        );
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
    assert!(
        messages[0].contains("no dataset layout found"),
        "{messages:?}"
    );
    assert!(
        harness
            .query_by_label_contains("no dataset layout found")
            .is_some()
    );
    harness.get_by_label("No dataset open.");
}

#[test]
fn the_demo_opens_with_its_checkpoints_loaded_through_libtorch() {
    let cache = tempfile::tempdir().unwrap();
    let harness = open(options(
        common::demo_data(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    assert!(
        harness.state().messages().is_empty(),
        "{:?}",
        harness.state().messages()
    );
    let summary = harness.state().checkpoints().unwrap();
    assert!(summary.files.len() >= 5);
    harness.get_by_label("55,594");
    let file_count = summary.files.len().to_string();
    assert!(
        harness.query_all_by_label(&file_count).next().is_some(),
        "checkpoint count not on screen"
    );
    for digit in 0..10 {
        assert!(
            harness
                .query_all_by_label(&digit.to_string())
                .next()
                .is_some(),
            "class {digit} missing"
        );
    }
}

/// Accessible names of the grid cells on screen: "example PATH: LABEL".
fn grid_cells(harness: &Harness<'_, EyeballApp>) -> Vec<String> {
    harness
        .query_all_by_label_contains("example ")
        .filter_map(|node| node.accesskit_node().label())
        .collect()
}

#[test]
fn filtering_by_one_label_shows_its_count_and_only_its_examples() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(
        tmp.path(),
        &[("", "cat", 6), ("", "dog", 4), ("", "emu", 2)],
    );
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    assert!(
        harness.state().stats().is_some(),
        "indexing should have finished"
    );
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
    assert!(
        grid_cells(&harness)
            .iter()
            .all(|c| c.ends_with(": dog") || c.ends_with(": emu"))
    );
}

#[test]
fn sorting_by_a_stat_orders_the_grid() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, level) in [("mid", 120u8), ("dark", 10), ("bright", 240)] {
        let dir = tmp.path().join("things");
        std::fs::create_dir_all(&dir).unwrap();
        image::GrayImage::from_pixel(16, 16, image::Luma([level]))
            .save(dir.join(format!("{name}.png")))
            .unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    let order = |h: &Harness<'_, EyeballApp>| -> Vec<String> {
        let ds = h.state().dataset().unwrap();
        h.state()
            .visible()
            .iter()
            .map(|&i| {
                ds.examples[i]
                    .path
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    harness.get_by_label("sort by").click();
    harness.run_steps(2);
    // The open sort menu's entry, not the stats panel's histogram title.
    harness
        .get_by_role_and_label(egui::Role::Button, "brightness")
        .click();
    run_until_idle(&mut harness);
    assert_eq!(order(&harness), vec!["dark", "mid", "bright"]);
    harness.get_by_label("descending").click();
    run_until_idle(&mut harness);
    assert_eq!(order(&harness), vec!["bright", "mid", "dark"]);
    let cells = grid_cells(&harness);
    assert!(
        cells[0].contains("bright.png") && cells[2].contains("dark.png"),
        "{cells:?}"
    );
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

/// Predicted labels of the fixed batch on screen, from the cells' accessible names.
fn prediction_cells(harness: &Harness<'_, EyeballApp>) -> Vec<String> {
    harness
        .query_all_by_label_contains("prediction ")
        .filter_map(|node| node.accesskit_node().label())
        .collect()
}

#[test]
fn moving_the_checkpoint_slider_changes_the_predictions_on_screen() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(
        common::demo_data(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    assert!(
        harness.state().messages().is_empty(),
        "{:?}",
        harness.state().messages()
    );
    let evolution = harness
        .state()
        .checkpoint_state()
        .evolution
        .as_ref()
        .expect("predictions on the fixed batch");
    assert!(evolution.predictions.len() >= 5);
    let first_loss = evolution.predictions[0].mean_loss;
    let last_loss = evolution.predictions.last().unwrap().mean_loss;
    let last = evolution.predictions.len() - 1;
    assert!(
        last_loss < first_loss,
        "loss should fall: {first_loss} -> {last_loss}"
    );

    harness.get_by_label("Predictions").click();
    run_until_idle(&mut harness);
    let at_init = prediction_cells(&harness);
    assert!(!at_init.is_empty());
    harness.get_by_label("epoch_00.pt");

    harness
        .get_by_role_and_label(egui::Role::Slider, "checkpoint")
        .set_value_accesskit(last as f64);
    run_until_idle(&mut harness);
    assert_eq!(harness.state().checkpoint_state().current, last);
    harness.get_by_label("epoch_05.pt");
    let trained = prediction_cells(&harness);
    assert_eq!(at_init.len(), trained.len());
    let changed = at_init.iter().zip(&trained).filter(|(a, b)| a != b).count();
    assert!(
        changed > at_init.len() / 2,
        "only {changed} of {} predictions changed",
        at_init.len()
    );
}

#[test]
fn the_recipe_checks_pass_for_the_demo_and_the_filters_show() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(
        common::demo_data(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    let checks = harness
        .state()
        .checkpoint_state()
        .checks
        .clone()
        .expect("checks ran")
        .expect("checks succeeded");
    assert_eq!(checks.len(), 4);
    harness.get_by_label("Recipe checks").click();
    run_until_idle(&mut harness);
    for check in &checks {
        harness.get_by_label(&check.name);
    }
    assert!(harness.query_all_by_label("PASS").count() >= 2);
    // The overfit check trained a copy, and its loss curve is drawn.
    let overfit = checks
        .iter()
        .find(|c| c.name == "Overfit one batch")
        .unwrap();
    assert!(!overfit.curve.is_empty(), "{overfit:?}");
    harness.get_by_label("pass below 0.01");

    harness.get_by_label("First-layer filters").click();
    run_until_idle(&mut harness);
    harness.get_by_label_contains("16 filters of 1 x 5 x 5");
    let weights = &harness.state().checkpoint_state().weights;
    assert!(weights.iter().all(|w| w.filter_textures.len() == 16));

    harness.get_by_label("Compare A/B").click();
    run_until_idle(&mut harness);
    harness.get_by_label_contains("right -> wrong");
    harness.get_by_label("Show the flips in the grid").click();
    run_until_idle(&mut harness);
    let flips = harness
        .state()
        .filter()
        .only
        .clone()
        .expect("the grid shows only the flips");
    assert_eq!(harness.state().visible().len(), flips.len());
}

/// Presses the primary button at `from`, moves to `to` in ten steps, releases, and waits.
/// Presses at the first point, moves through the others in small steps, releases at the last.
fn drag_along(harness: &mut Harness<'_, EyeballApp>, points: &[egui::Pos2]) {
    let press = |pos: egui::Pos2, pressed: bool| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness.event(egui::Event::PointerMoved(points[0]));
    harness.run_steps(1);
    harness.event(press(points[0], true));
    harness.run_steps(1);
    for pair in points.windows(2) {
        for step in 1..=6 {
            harness.event(egui::Event::PointerMoved(
                pair[0] + (pair[1] - pair[0]) * (step as f32 / 6.0),
            ));
            harness.run_steps(1);
        }
    }
    harness.event(press(points[points.len() - 1], false));
    run_until_idle(harness);
}

fn drag(harness: &mut Harness<'_, EyeballApp>, from: egui::Pos2, to: egui::Pos2) {
    let press = |pos: egui::Pos2, pressed: bool| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness.event(egui::Event::PointerMoved(from));
    harness.run_steps(1);
    harness.event(press(from, true));
    harness.run_steps(1);
    for step in 1..=10 {
        harness.event(egui::Event::PointerMoved(
            from + (to - from) * (step as f32 / 10.0),
        ));
        harness.run_steps(1);
    }
    harness.event(press(to, false));
    run_until_idle(harness);
}

#[test]
fn dragging_across_a_histogram_filters_to_that_range() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("things");
    std::fs::create_dir_all(&dir).unwrap();
    for level in (0..=250u8).step_by(10) {
        image::GrayImage::from_pixel(8, 8, image::Luma([level]))
            .save(dir.join(format!("level_{level:03}.png")))
            .unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    harness.get_by_label("26 of 26 match");
    let title = harness
        .get_by_role_and_label(egui::Role::Label, "brightness")
        .rect();
    // The histogram's plot sits just under its title and spans the stats panel.
    let y = title.bottom() + 35.0;
    let (x0, x1) = (title.left() + 60.0, title.left() + 150.0);
    drag(&mut harness, egui::pos2(x0, y), egui::pos2(x1, y));

    let (lo, hi) = *harness
        .state()
        .filter()
        .ranges
        .get("brightness")
        .expect("a brightness range was set");
    assert!(lo > 0.0 && hi < 250.0 && hi > lo, "range {lo}..{hi}");
    let shown = harness.state().visible().len();
    assert!(shown > 0 && shown < 26, "{shown} shown");
    let stats = harness.state().stats().unwrap();
    let brightness = stats.column("brightness").unwrap();
    assert!(
        harness
            .state()
            .visible()
            .iter()
            .all(|&i| brightness[i] >= lo && brightness[i] <= hi)
    );
    harness.get_by_label(&format!("{shown} of 26 match"));
}

#[test]
fn duplicates_show_in_the_issues_view_and_keep_exclude_marks_are_saved_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    // Distinct random-noise images, so that only the planted copy is a duplicate.
    let mut seed = 12345u64;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 56) as u8
    };
    for (split, class) in [("train", "cat"), ("test", "dog")] {
        std::fs::create_dir_all(tmp.path().join(split).join(class)).unwrap();
        for i in 0..6 {
            let img =
                image::RgbImage::from_fn(32, 32, |_, _| image::Rgb([noise(), noise(), noise()]));
            img.save(tmp.path().join(format!("{split}/{class}/{class}_{i}.png")))
                .unwrap();
        }
    }
    // The same pixels in train and in test, as PNG and as BMP: an exact duplicate that leaks.
    let copy = image::open(tmp.path().join("train/cat/cat_3.png")).unwrap();
    copy.save(tmp.path().join("test/dog/copy_of_cat_3.bmp"))
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(tmp.path().to_path_buf(), None, cache.path()));
    let report = harness
        .state()
        .scan_report()
        .expect("the scan ran after indexing");
    let exact = report.examples_with(eyeball::scan::IssueKind::ExactDuplicate);
    assert_eq!(exact.len(), 2, "{:?}", report.findings);

    harness.get_by_label("Data issues").click();
    run_until_idle(&mut harness);
    harness.get_by_label_contains("Group 1: 2 images, identical pixels");
    harness.get_by_label_contains("label_conflict: different labels");
    harness.get_by_label_contains("split_leakage: spans splits");
    harness.get_all_by_label("Exclude").next().unwrap().click();
    run_until_idle(&mut harness);

    // Saved at once: a fresh store reading the file sees the decision.
    let (store, problem) =
        eyeball::review::ReviewStore::open(&cache.path().join("reviews"), tmp.path()).unwrap();
    assert!(problem.is_none());
    let decisions: Vec<_> = store
        .entries()
        .map(|e| (e.path.clone(), e.decision.clone()))
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0].1, eyeball::review::Decision::Exclude);

    harness.get_by_label("exact_duplicate (2)").click();
    run_until_idle(&mut harness);
    assert_eq!(
        harness.state().central_view(),
        eyeball::ui::CentralView::Examples
    );
    let mut shown = harness.state().visible().to_vec();
    shown.sort();
    let mut expected = exact.clone();
    expected.sort();
    assert_eq!(shown, expected);
    assert_eq!(grid_cells(&harness).len(), 2);
}

#[test]
fn pinned_examples_become_the_fixed_batch() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(
        common::demo_data(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    // Select the first example, pin it, move right, pin that one too.
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    harness.key_press(egui::Key::P);
    harness.run_steps(2);
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    harness.key_press(egui::Key::P);
    run_until_idle(&mut harness);
    let pinned: Vec<usize> = harness.state().pinned().iter().copied().collect();
    assert_eq!(pinned.len(), 2);

    harness.get_by_label("Predictions").click();
    run_until_idle(&mut harness);
    harness.get_by_label("pinned (2)").click();
    run_until_idle(&mut harness);
    let state = harness.state().checkpoint_state();
    assert!(state.using_pinned);
    let evolution = state
        .evolution
        .as_ref()
        .unwrap_or_else(|| panic!("no predictions: {:?}", harness.state().messages()));
    assert!(evolution.predictions.iter().all(|p| p.examples == pinned));
    assert_eq!(prediction_cells(&harness).len(), 2);
}

/// A copy of part of the demo's val split, with `flips` images moved into the wrong class.
/// `demo_subset_with_flipped_labels` (15 per class, 4 flipped) in `data`, opened with the demo's
/// checkpoints; the harness and the flipped files.
fn open_flipped_demo(data: &Path, cache: &Path) -> (Harness<'static, EyeballApp>, Vec<String>) {
    let flipped = demo_subset_with_flipped_labels(data, 15, 4);
    let harness = open(options(
        data.to_path_buf(),
        Some(common::demo_checkpoints()),
        cache,
    ));
    (harness, flipped)
}

fn demo_subset_with_flipped_labels(root: &Path, per_class: usize, flips: usize) -> Vec<String> {
    let val = common::demo_data().join("val");
    let mut flipped = Vec::new();
    for digit in 0..10 {
        let mut files: Vec<PathBuf> = std::fs::read_dir(val.join(digit.to_string()))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for (i, file) in files.iter().take(per_class).enumerate() {
            let wrong = i == 0 && flipped.len() < flips;
            let class = if wrong { (digit + 5) % 10 } else { digit };
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            std::fs::create_dir_all(root.join(class.to_string())).unwrap();
            std::fs::copy(file, root.join(class.to_string()).join(&name)).unwrap();
            if wrong {
                flipped.push(format!("{class}/{name}"));
            }
        }
    }
    flipped
}

#[test]
fn keyboard_label_review_writes_the_expected_review_file() {
    let data = tempfile::tempdir().unwrap();
    let flipped = demo_subset_with_flipped_labels(data.path(), 15, 4);
    let before = snapshot(data.path());
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(
        data.path().to_path_buf(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    harness.get_by_label("Label review").click();
    run_until_idle(&mut harness);
    harness.get_by_label("Score the dataset").click();
    run_until_idle(&mut harness);
    harness.get_by_label_contains("reviewed 0 / 150");

    // The flipped labels float to the top of the loss ranking.
    let dataset = harness.state().dataset().unwrap().clone();
    let path_of =
        |example: usize| eyeball::dataset::relative_path_text(&dataset.examples[example].path);
    let top: Vec<String> = harness
        .state()
        .label_review()
        .ranked
        .iter()
        .take(4)
        .map(|r| path_of(r.example))
        .collect();
    let mut sorted_top = top.clone();
    sorted_top.sort();
    let mut expected = flipped.clone();
    expected.sort();
    assert_eq!(sorted_top, expected);

    // #1: flag; #2: relabel with a digit key; #3: not an error; then undo #3 and mark #3 flagged.
    harness.key_press(egui::Key::F);
    run_until_idle(&mut harness);
    harness.key_press(egui::Key::Num7);
    run_until_idle(&mut harness);
    harness.key_press(egui::Key::X);
    run_until_idle(&mut harness);
    harness.key_press(egui::Key::U);
    run_until_idle(&mut harness);
    harness.key_press(egui::Key::F);
    run_until_idle(&mut harness);
    harness.get_by_label_contains("reviewed 3 / 150");

    let (store, _) =
        eyeball::review::ReviewStore::open(&cache.path().join("reviews"), data.path()).unwrap();
    let mut saved: Vec<(String, String, Option<String>)> = store
        .entries()
        .map(|e| {
            (
                e.path.clone(),
                e.decision.name().to_string(),
                e.new_label.clone(),
            )
        })
        .collect();
    saved.sort();
    let mut wanted = vec![
        (top[0].clone(), "flag_wrong".to_string(), None),
        (top[1].clone(), "relabel".to_string(), Some("7".to_string())),
        (top[2].clone(), "flag_wrong".to_string(), None),
    ];
    wanted.sort();
    assert_eq!(saved, wanted);
    drop(harness);
    assert_eq!(
        snapshot(data.path()),
        before,
        "the dataset folder was written to"
    );
}

/// Every file under `root` with its size and modification time.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.push((entry.path(), meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_issues_view_scans_again_in_a_chosen_checkpoints_embedding() {
    let data = tempfile::tempdir().unwrap();
    demo_subset_with_flipped_labels(data.path(), 12, 0);
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(
        data.path().to_path_buf(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    assert_eq!(
        harness.state().scan_report().unwrap().embedding_source,
        None
    );
    harness.get_by_label("Data issues").click();
    run_until_idle(&mut harness);
    harness
        .get_by_role_and_label(
            egui::accesskit::Role::ComboBox,
            "Near duplicates and outliers in:",
        )
        .click();
    run_until_idle(&mut harness);
    harness
        .get_by_label("image hashes + epoch_05.pt penultimate layer")
        .click();
    run_until_idle(&mut harness);
    let report = harness.state().scan_report().unwrap();
    assert_eq!(report.embedding_source.as_deref(), Some("epoch_05.pt"));
    assert!(
        harness.state().messages().is_empty(),
        "{:?}",
        harness.state().messages()
    );
    harness.get_by_label_contains("This report also used epoch_05.pt's embedding");

    // Scanning again with other thresholds reuses the embedding instead of running the model.
    let first = harness
        .state()
        .scan_model_embedding()
        .unwrap()
        .embedding
        .clone();
    let first_report = harness.state().scan_report().unwrap() as *const _;
    harness.get_by_label("Scan thresholds").click();
    run_until_idle(&mut harness);
    harness
        .get_by_label("Scan again with these thresholds")
        .click();
    run_until_idle(&mut harness);
    let again = harness
        .state()
        .scan_model_embedding()
        .unwrap()
        .embedding
        .clone();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    assert!(
        !std::ptr::eq(first_report, harness.state().scan_report().unwrap()),
        "the scan ran again"
    );
    assert_eq!(
        harness
            .state()
            .scan_report()
            .unwrap()
            .embedding_source
            .as_deref(),
        Some("epoch_05.pt")
    );
}

#[test]
fn the_detail_view_shows_each_step_into_the_net_and_its_torchvision_pipeline() {
    let cache = tempfile::tempdir().unwrap();
    let mut harness = open(options(
        common::demo_data(),
        Some(common::demo_checkpoints()),
        cache.path(),
    ));
    harness.key_press(egui::Key::ArrowRight);
    run_until_idle(&mut harness);
    harness.key_press(egui::Key::Enter);
    run_until_idle(&mut harness);
    assert_eq!(harness.state().detail_example(), Some(0));
    harness.get_by_label("What goes into the net");
    // The demo's digits are 28×28 PNGs and its sidecar asks for 28×28: opened, then the tensor.
    harness.get_by_label("opened");
    assert!(harness.query_all_by_label("28×28").next().is_some());
    harness.get_by_label("tensor, de-normalised");
    assert!(harness.query_by_label_contains("resized").is_none());
    harness.get_by_label("Copy as torchvision").click();
    harness.run_steps(2);
}

#[test]
fn the_label_review_ranks_by_every_checkpoint_and_draws_p_given_over_them() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, flipped) = open_flipped_demo(data.path(), cache.path());
    harness.get_by_label("Label review").click();
    run_until_idle(&mut harness);
    harness.get_by_label("Score with every checkpoint").click();
    run_until_idle(&mut harness);
    let state = harness.state().label_review();
    let dynamics = state.dynamics.as_ref().expect("dynamics computed");
    assert_eq!(dynamics.checkpoints.len(), 6);
    assert_eq!(dynamics.examples.len(), 150);
    // Choose the AUM ranking from the menu.
    harness.get_by_label("rank by").click();
    run_until_idle(&mut harness);
    harness
        .get_by_label("area under the margin (every checkpoint)")
        .click();
    run_until_idle(&mut harness);
    assert_eq!(
        harness.state().label_review().method,
        eyeball::ui::ReviewRanking::Dynamics(eyeball::model::dynamics::DynamicsRank::Aum)
    );
    let dataset = harness.state().dataset().unwrap().clone();
    let mut top: Vec<String> = harness
        .state()
        .label_review()
        .ranked
        .iter()
        .take(4)
        .map(|r| eyeball::dataset::relative_path_text(&dataset.examples[r.example].path))
        .collect();
    top.sort();
    let mut expected = flipped.clone();
    expected.sort();
    assert_eq!(top, expected);
    harness.get_by_label_contains("p(given) over 6 checkpoints");
    harness.get_by_label_contains("memorised the labels");
}

/// Opens the data map of every checkpoint with the curves folded away, and returns where its
/// points lie: between the folded header (plus `top_margin`) and the hover line.
fn open_data_map(harness: &mut Harness<'_, EyeballApp>, top_margin: f32) -> egui::Rect {
    harness.get_by_label("Hide stats").click();
    run_until_idle(harness);
    harness.get_by_label("Data map").click();
    run_until_idle(harness);
    harness.get_by_label("Score with every checkpoint").click();
    run_until_idle(harness);
    harness
        .get_by_label("Loss and accuracy per checkpoint (whole split)")
        .click();
    run_until_idle(harness);
    let folded = harness
        .get_by_label("Loss and accuracy per checkpoint (whole split)")
        .rect();
    let header = harness
        .get_by_label_contains("150 examples over 6 checkpoints")
        .rect();
    let below = harness
        .get_by_label("Hover a point to see its example.")
        .rect();
    egui::Rect::from_min_max(
        egui::pos2(header.left() + 70.0, folded.bottom() + top_margin),
        egui::pos2(header.right() - 10.0, below.top() - 40.0),
    )
}

#[test]
fn a_box_dragged_on_the_data_map_shows_its_examples_in_the_grid() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, flipped) = open_flipped_demo(data.path(), cache.path());
    let map = open_data_map(&mut harness, 10.0);
    let (left, right, top, bottom) = (map.left(), map.right(), map.top(), map.bottom());
    // A box over the low-confidence corner, where examples the net never learned sit.
    let start = egui::pos2(left, bottom);
    let end = egui::pos2(left + (right - left) * 0.5, bottom - (bottom - top) * 0.45);
    drag(&mut harness, start, end);

    let only = harness
        .state()
        .filter()
        .only
        .clone()
        .expect("the box became the grid's filter");
    let dataset = harness.state().dataset().unwrap().clone();
    let shown: Vec<String> = only
        .iter()
        .map(|&i| eyeball::dataset::relative_path_text(&dataset.examples[i].path))
        .collect();
    assert!(
        flipped.iter().all(|f| shown.contains(f)),
        "flipped {flipped:?} not all in {shown:?}"
    );
    assert!(only.len() < 150, "{} selected", only.len());
    let dynamics = harness.state().label_review().dynamics.clone().unwrap();
    let low = dynamics
        .examples
        .iter()
        .filter(|d| only.contains(&d.example))
        .all(|d| d.confidence < 0.6);
    assert!(low, "a selected example has high confidence");
    assert_eq!(harness.state().visible().len(), only.len());
}

#[test]
fn a_lasso_drawn_on_the_data_map_selects_only_the_examples_inside_it() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, _) = open_flipped_demo(data.path(), cache.path());
    let map = open_data_map(&mut harness, 40.0);
    harness.get_by_label("Lasso").click();
    run_until_idle(&mut harness);
    let (left, right, top, bottom) = (map.left(), map.right(), map.top(), map.bottom());
    // A triangle over the whole map: its corner at the top right is left out.
    let corners = [
        egui::pos2(left, bottom),
        egui::pos2(right, bottom),
        egui::pos2(left, top),
        egui::pos2(left, bottom),
    ];
    drag_along(&mut harness, &corners);
    let only = harness
        .state()
        .filter()
        .only
        .clone()
        .expect("the lasso became the grid's filter");
    assert!(
        !only.is_empty() && only.len() < 150,
        "{} selected",
        only.len()
    );
    assert_eq!(harness.state().visible().len(), only.len());
    // The triangle's long side runs from bottom right to top left: the least confident example
    // (at the bottom, where the triangle is widest) is in it; the most confident are not all.
    let dynamics = harness.state().label_review().dynamics.clone().unwrap();
    let (selected, left_out): (Vec<_>, Vec<_>) = dynamics
        .examples
        .iter()
        .partition(|d| only.contains(&d.example));
    assert!(!left_out.is_empty(), "everything was selected");
    let lowest_selected = selected
        .iter()
        .map(|d| d.confidence)
        .fold(f64::INFINITY, f64::min);
    let lowest_left_out = left_out
        .iter()
        .map(|d| d.confidence)
        .fold(f64::INFINITY, f64::min);
    assert!(
        lowest_selected <= lowest_left_out,
        "the lasso left out an example ({lowest_left_out}) below every selected one ({lowest_selected})"
    );
}

#[test]
fn every_checkpoints_dynamics_become_stats_the_grid_sorts_and_filters_by() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, _) = open_flipped_demo(data.path(), cache.path());
    open_data_map(&mut harness, 40.0);
    let dynamics = harness.state().label_review().dynamics.clone().unwrap();
    let stats = harness.state().stats().expect("indexed");
    assert!(stats.column("brightness").is_some(), "the image stats stay");
    let aum = stats.column("aum").expect("an aum column");
    let forgetting = stats.column("forgetting").expect("a forgetting column");
    for d in &dynamics.examples {
        assert_eq!(aum[d.example], d.aum);
        assert_eq!(forgetting[d.example], d.forgetting as f64);
    }
}

#[test]
fn a_lasso_drawn_on_the_embedding_map_shows_the_examples_inside_it_in_the_grid() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, _) = open_flipped_demo(data.path(), cache.path());
    harness.get_by_label("Embedding map").click();
    run_until_idle(&mut harness);
    harness.get_by_label("Make the map").click();
    run_until_idle(&mut harness);
    let header = harness
        .get_by_label_contains("150 examples placed by t-SNE from thumbnails")
        .rect();
    harness.get_by_label_contains("are not metric");
    let lasso = harness.get_by_label("Lasso").rect();
    let below = harness
        .get_by_label("Hover a point to see its example.")
        .rect();
    harness.get_by_label("Lasso").click();
    run_until_idle(&mut harness);
    // The drag starts inside the plot, clear of its tick labels, then runs round everything
    // left of the plot's middle, far past its edges (a drag goes on outside the widget).
    let middle = (header.left() + header.right()) / 2.0;
    let centre_y = (lasso.bottom() + below.top()) / 2.0;
    let start = egui::pos2(header.left() + 80.0, centre_y);
    let (far_left, far_top, far_bottom) = (header.left() - 100.0, 0.0, 800.0);
    let corners = [
        start,
        egui::pos2(far_left, centre_y),
        egui::pos2(far_left, far_top),
        egui::pos2(middle, far_top),
        egui::pos2(middle, far_bottom),
        egui::pos2(far_left, far_bottom),
        egui::pos2(far_left, centre_y),
        start,
    ];
    drag_along(&mut harness, &corners);
    let only = harness
        .state()
        .filter()
        .only
        .clone()
        .expect("the lasso became the grid's filter");
    assert!(
        !only.is_empty() && only.len() < 150,
        "{} selected",
        only.len()
    );
    assert_eq!(harness.state().visible().len(), only.len());
    // The lasso holds the whole plot left of its middle: the selected points are exactly those
    // left of some vertical line on the map.
    let map = harness.state().map_state().map.clone().unwrap();
    let (selected, left_out): (Vec<_>, Vec<_>) = (0..map.len())
        .map(|p| (map.examples[p], map.xy[p][0]))
        .partition(|(example, _)| only.contains(example));
    let rightmost_selected = selected.iter().map(|s| s.1).fold(f32::MIN, f32::max);
    let leftmost_left_out = left_out.iter().map(|s| s.1).fold(f32::MAX, f32::min);
    assert!(
        rightmost_selected < leftmost_left_out,
        "selected up to x = {rightmost_selected}, left out from x = {leftmost_left_out}"
    );
}

#[test]
fn a_map_selection_pinned_from_the_grid_becomes_the_fixed_batch() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, _) = open_flipped_demo(data.path(), cache.path());
    harness.get_by_label("Embedding map").click();
    run_until_idle(&mut harness);
    harness.get_by_label("Make the map").click();
    run_until_idle(&mut harness);
    // The ringed points (most neighbours carry another label) go to the grid as a selection.
    harness.get_by_label_contains("in the grid").click();
    run_until_idle(&mut harness);
    let shown: Vec<usize> = harness.state().visible().to_vec();
    assert!(!shown.is_empty() && shown.len() < 150, "{}", shown.len());
    harness
        .get_by_label(&format!("Pin these {} as the fixed batch", shown.len()))
        .click();
    run_until_idle(&mut harness);
    let pinned: Vec<usize> = harness.state().pinned().iter().copied().collect();
    let mut expected = shown.clone();
    expected.sort_unstable();
    assert_eq!(pinned, expected);
    let state = harness.state().checkpoint_state();
    assert!(state.using_pinned);
    let mut batch = state.batch.examples.clone();
    batch.sort_unstable();
    assert_eq!(
        batch, expected,
        "the checkpoints ran on the pinned selection"
    );
    let evolution = state
        .evolution
        .as_ref()
        .expect("predictions on the pinned batch");
    assert_eq!(evolution.predictions[0].examples.len(), expected.len());
}

#[test]
fn the_label_review_ranks_by_map_neighbours_without_a_checkpoint_score() {
    let (data, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut harness, _) = open_flipped_demo(data.path(), cache.path());
    harness.get_by_label("Embedding map").click();
    run_until_idle(&mut harness);
    harness.get_by_label("Make the map").click();
    run_until_idle(&mut harness);
    harness.get_by_label("Label review").click();
    run_until_idle(&mut harness);
    harness.get_by_label("rank by").click();
    run_until_idle(&mut harness);
    harness
        .get_by_label("neighbours with another label (embedding map)")
        .click();
    run_until_idle(&mut harness);
    let review = harness.state().label_review();
    assert!(review.scores.is_none(), "no checkpoint scored the dataset");
    let ranked = &review.ranked;
    assert!(ranked.len() > 100, "{} ranked", ranked.len());
    assert!(
        ranked.windows(2).all(|w| w[0].score >= w[1].score),
        "most disagreeing first"
    );
    // The review shows the top example with its neighbours' label as the suggestion.
    harness.get_by_label_contains(&format!("#1 of {}", ranked.len()));
}

#[test]
fn a_warm_reopen_catches_a_file_changed_since_the_index_cache() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "cat", 4), ("", "dog", 4)]);
    let cache = tempfile::tempdir().unwrap();
    let first = open(options(tmp.path().to_path_buf(), None, cache.path()));
    let dataset = first.state().dataset().unwrap();
    let changed = dataset.absolute_path(&dataset.examples[0]);
    let brightness =
        |h: &Harness<'_, EyeballApp>| h.state().stats().unwrap().column("brightness").unwrap()[0];
    assert!(brightness(&first) < 200.0);
    drop(first);

    // The file gets new pixels and a later modification time; the cache still has its old row.
    common::save_later(
        &image::RgbImage::from_pixel(24, 20, image::Rgb([255, 255, 255])),
        &changed,
    );
    let second = open(options(tmp.path().to_path_buf(), None, cache.path()));
    assert_eq!(brightness(&second), 255.0);
    // The scan ran after the check, over the new pixels.
    assert!(second.state().scan_report().is_some());
    assert!(
        second.state().messages().is_empty(),
        "{:?}",
        second.state().messages()
    );
}
