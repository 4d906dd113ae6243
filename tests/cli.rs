//! The headless CLI, end to end, on generated fixture folders.

mod common;

use common::eyeball;

#[test]
fn info_prints_layout_splits_and_class_counts() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(
        tmp.path(),
        &[
            ("train", "cat", 3),
            ("train", "dog", 2),
            ("val", "cat", 1),
            ("val", "dog", 1),
        ],
    );
    let out = eyeball(&["info", tmp.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("examples: 7"), "{text}");
    assert!(text.contains("ROOT/<split>/<class>/<image>"), "{text}");
    assert!(text.contains("splits:   train 5, val 2"), "{text}");
    let cat_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("cat"))
        .unwrap();
    assert_eq!(
        cat_row.split_whitespace().collect::<Vec<_>>(),
        vec!["cat", "3", "1", "4"]
    );
    let dog_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("dog"))
        .unwrap();
    assert_eq!(
        dog_row.split_whitespace().collect::<Vec<_>>(),
        vec!["dog", "2", "1", "3"]
    );
}

#[test]
fn info_json_has_the_same_counts() {
    let tmp = tempfile::tempdir().unwrap();
    common::image_folder(tmp.path(), &[("", "a", 4), ("", "b", 1)]);
    let out = eyeball(&["info", "--json", tmp.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["layout"], "image_folder");
    assert_eq!(json["examples"], 5);
    assert_eq!(json["splits"].as_array().unwrap().len(), 0);
    assert_eq!(json["classes"][0]["name"], "a");
    assert_eq!(json["classes"][0]["count"], 4);
    assert_eq!(json["classes"][1]["name"], "b");
    assert_eq!(json["classes"][1]["count"], 1);
    assert_eq!(json["imbalance_ratio"], 4.0);
}

#[test]
fn info_on_a_folder_without_a_layout_fails_with_the_layouts_looked_for() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "no images here").unwrap();
    let out = eyeball(&["info", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(tmp.path().to_str().unwrap()), "{err}");
    assert!(err.contains("ROOT/<class>/<image>"), "{err}");
    let missing = eyeball(&["info", "/definitely/not/here"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/definitely/not/here: no such folder")
    );
}

#[test]
fn version_prints_the_crate_version() {
    let out = eyeball(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("eyeball {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn info_on_the_bundled_demo_counts_its_digits() {
    let out = eyeball(&["info", "--json", common::demo_data().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["examples"].as_u64().unwrap() >= 2000);
    assert_eq!(json["classes"].as_array().unwrap().len(), 10);
    let splits: Vec<&str> = json["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(splits, vec!["train", "val"]);
}

#[test]
fn info_on_a_table_with_a_two_megabyte_label_prints_a_cut_name() {
    let tmp = tempfile::tempdir().unwrap();
    image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]))
        .save(tmp.path().join("a.png"))
        .unwrap();
    image::RgbImage::from_pixel(4, 4, image::Rgb([200, 9, 9]))
        .save(tmp.path().join("b.png"))
        .unwrap();
    let long = "x".repeat(2 * 1024 * 1024);
    std::fs::write(
        tmp.path().join("labels.csv"),
        format!("file,label\na.png,{long}\nb.png,short\n"),
    )
    .unwrap();
    let out = eyeball(&["info", tmp.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("examples: 2"), "{text}");
    let row = text.lines().find(|l| l.contains('…')).expect("a cut name");
    assert!(row.chars().count() < 100, "{row}");
}
