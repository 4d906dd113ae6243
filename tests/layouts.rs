//! Layout detection end to end: one folder holding several layouts' files opens as the first
//! layout in detection order, and a folder matching none lists them all.

use std::path::Path;

use eyeball::dataset::{Dataset, DatasetError, Layout};

fn png(root: &Path, rel: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(8, 6, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 30) as u8, 60])
    })
    .save(path)
    .unwrap();
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn open(root: &Path) -> Dataset {
    Dataset::open(root).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn detection_order_is_coco_yolo_table_then_image_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    png(root, "images/a.png");
    png(root, "images/b.png");
    png(root, "cat/c.png");
    write(root, "labels/a.txt", "0 0.5 0.5 0.5 0.5\n");
    write(
        root,
        "labels.csv",
        "file,label\nimages/a.png,x\ncat/c.png,y\n",
    );
    write(
        root,
        "annotations/instances.json",
        r#"{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 0, 4, 3]}],
            "categories": [{"id": 1, "name": "thing"}]}"#,
    );

    let coco = open(root);
    assert_eq!(coco.layout, Layout::Coco);
    assert_eq!(coco.classes, vec!["thing"]);
    assert_eq!(coco.examples[0].annotations[0].bbox, [0.25, 0.0, 0.75, 0.5]);

    std::fs::remove_dir_all(root.join("annotations")).unwrap();
    let yolo = open(root);
    assert_eq!(yolo.layout, Layout::Yolo);
    assert_eq!(yolo.examples.len(), 2);
    assert_eq!(
        yolo.examples[0].annotations[0].bbox,
        [0.25, 0.25, 0.75, 0.75]
    );

    std::fs::remove_dir_all(root.join("labels")).unwrap();
    let table = open(root);
    assert_eq!(table.layout, Layout::LabelsTable);
    assert_eq!(table.classes, vec!["x", "y"]);
    assert_eq!(table.label_text(&table.examples[0]), "y");

    std::fs::remove_file(root.join("labels.csv")).unwrap();
    let folders = open(root);
    assert_eq!(folders.layout, Layout::ImageFolder);
    assert_eq!(folders.classes, vec!["cat", "images"]);
}

#[test]
fn a_folder_matching_no_layout_lists_every_layout() {
    let tmp = tempfile::tempdir().unwrap();
    png(tmp.path(), "loose.png");
    let err = Dataset::open(tmp.path()).unwrap_err();
    assert!(matches!(err, DatasetError::NoLayout { .. }));
    let msg = err.to_string();
    for layout in Layout::ALL {
        assert!(
            msg.contains(layout.pattern()),
            "{msg}\nmissing: {}",
            layout.pattern()
        );
    }
    assert_eq!(Layout::ALL.len(), 5);
}

#[test]
fn problems_in_labels_are_warnings_and_the_dataset_still_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    png(root, "a.png");
    write(
        root,
        "labels.csv",
        "path,class,weight\na.png,1,0.5\nimages/x.png,2,1\n",
    );
    let ds = open(root);
    assert_eq!(ds.examples.len(), 1);
    assert_eq!(ds.extra_columns, vec!["weight"]);
    assert_eq!(ds.examples[0].extra, vec![0.5]);
    assert_eq!(
        ds.warnings,
        vec!["labels.csv row 2: file images/x.png does not exist"]
    );
}

#[test]
fn layouts_serialise_by_short_name() {
    let names: Vec<String> = Layout::ALL
        .iter()
        .map(|l| serde_json::to_string(l).unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "\"coco\"",
            "\"yolo\"",
            "\"labels_table\"",
            "\"image_folder_splits\"",
            "\"image_folder\""
        ]
    );
}
