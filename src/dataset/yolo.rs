//! YOLO txt labels: `ROOT/images/[<split>/]**` beside `ROOT/labels/[<split>/]**/*.txt`, one
//! `class cx cy w h` line per box (normalised); class names from data.yaml or classes.txt.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::imagefolder::{collect_images, read_dir, subdirectories};
use super::{
    BoxAnnotation, Dataset, DatasetError, Example, Layout, SPLIT_NAMES, cap_warnings, natural_cmp,
    sort_examples,
};

/// Class ids above this are typos, not classes: naming every id up to them would make millions.
const MAX_CLASS_ID: usize = 65_535;

/// Values may stray this far outside 0..1 (rounding by exporters) before a line counts as bad.
const TOLERANCE: f64 = 0.01;

/// One folder of images with the folder of their label files (both relative to ROOT).
struct Group {
    split: Option<String>,
    images: PathBuf,
    labels: PathBuf,
}

/// Returns the dataset if ROOT is laid out for YOLO, `None` if it is not.
pub(super) fn discover(root: &Path) -> Result<Option<Dataset>, DatasetError> {
    let Some(groups) = find_groups(root)? else {
        return Ok(None);
    };
    let mut warnings = Vec::new();
    let names = class_names(root, &mut warnings)?;
    let splits: Vec<String> = groups.iter().filter_map(|g| g.split.clone()).collect();

    let mut examples = Vec::new();
    let mut used_classes = BTreeSet::new();
    for (index, group) in groups.iter().enumerate() {
        let mut files = Vec::new();
        let mut walked = super::imagefolder::WalkedFolders::default();
        collect_images(
            &root.join(&group.images),
            Path::new(""),
            &mut files,
            &mut walked,
        )?;
        warnings.extend(walked.warnings());
        if !files.is_empty() && !root.join(&group.labels).is_dir() {
            let (labels, images) = (group.labels.display(), group.images.display());
            warnings.push(format!(
                "{labels}/ not found: the images in {images}/ have no boxes"
            ));
        }
        for file in files {
            let label_file = group.labels.join(&file).with_extension("txt");
            let annotations = read_label_file(root, &label_file, &mut warnings);
            used_classes.extend(annotations.iter().map(|a| a.class));
            examples.push(Example {
                path: group.images.join(&file),
                split: group.split.is_some().then_some(index),
                label: None,
                annotations,
                extra: Vec::new(),
            });
        }
    }
    if examples.is_empty() {
        return Ok(None);
    }
    sort_examples(&mut examples);

    // Ids beyond the names keep their boxes under their number, so nothing silently disappears.
    let (mut classes, source) = names.unwrap_or_default();
    for &class in used_classes.range(classes.len()..) {
        if !source.is_empty() {
            warnings.push(format!(
                "class {class} is used in the labels but {source} names {} classes",
                classes.len()
            ));
        }
    }
    if let Some(&max) = used_classes.last() {
        while classes.len() <= max {
            classes.push(classes.len().to_string());
        }
    }

    Ok(Some(Dataset {
        root: root.to_path_buf(),
        layout: Layout::Yolo,
        classes,
        splits,
        examples,
        extra_columns: Vec::new(),
        warnings: cap_warnings(warnings),
    }))
}

/// `ROOT/images` + `ROOT/labels` (split subfolders if any), or Roboflow's export,
/// `ROOT/<split>/images` + `ROOT/<split>/labels`.
fn find_groups(root: &Path) -> Result<Option<Vec<Group>>, DatasetError> {
    let top = subdirectories(root)?;
    let find = |names: &[String], wanted: &str| {
        names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(wanted))
            .cloned()
    };

    if top.iter().any(|d| d == "images") && top.iter().any(|d| d == "labels") {
        let image_dirs = subdirectories(&root.join("images"))?;
        let mut groups: Vec<Group> = SPLIT_NAMES
            .iter()
            .filter_map(|split| find(&image_dirs, split))
            .map(|dir| Group {
                images: Path::new("images").join(&dir),
                labels: Path::new("labels").join(&dir),
                split: Some(dir),
            })
            .collect();
        if groups.is_empty() {
            groups.push(Group {
                split: None,
                images: PathBuf::from("images"),
                labels: PathBuf::from("labels"),
            });
        }
        return Ok(Some(groups));
    }

    let mut groups = Vec::new();
    for split in SPLIT_NAMES {
        let Some(dir) = find(&top, split) else {
            continue;
        };
        let inside = subdirectories(&root.join(&dir))?;
        if inside.iter().any(|d| d == "images") && inside.iter().any(|d| d == "labels") {
            groups.push(Group {
                images: Path::new(&dir).join("images"),
                labels: Path::new(&dir).join("labels"),
                split: Some(dir),
            });
        }
    }
    Ok((!groups.is_empty()).then_some(groups))
}

/// The boxes of one label file; a missing file means an image without objects, as in YOLO.
fn read_label_file(root: &Path, rel: &Path, warnings: &mut Vec<String>) -> Vec<BoxAnnotation> {
    let text = match std::fs::read_to_string(root.join(rel)) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            warnings.push(format!("{}: cannot read: {err}", rel.display()));
            return Vec::new();
        }
    };
    let mut boxes = Vec::new();
    for (index, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(annotation)) => boxes.push(annotation),
            Ok(None) => {}
            Err(why) => warnings.push(format!("{} line {}: {why}", rel.display(), index + 1)),
        }
    }
    boxes
}

/// `class cx cy w h` → a box; `class x1 y1 x2 y2 ...` (a segmentation polygon) → its bounding
/// box. `None` for blank lines.
fn parse_line(line: &str) -> Result<Option<BoxAnnotation>, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let Some((first, rest)) = fields.split_first() else {
        return Ok(None);
    };
    let class = parse_class(first).ok_or_else(|| format!("{first:?} is not a class id"))?;
    let values: Vec<f64> = rest
        .iter()
        .map(|f| f.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("expected numbers after the class id, got {:?}", line.trim()))?;
    if values
        .iter()
        .any(|&v| !(-TOLERANCE..=1.0 + TOLERANCE).contains(&v))
    {
        return Err(
            "values outside 0..1 (YOLO coordinates are fractions of the image size)".to_string(),
        );
    }
    let bbox = match values.as_slice() {
        &[cx, cy, w, h] => [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
        points if points.len() >= 6 && points.len() % 2 == 0 => {
            let xs = points.iter().step_by(2);
            let ys = points.iter().skip(1).step_by(2);
            let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            [x0, y0, x1, y1]
        }
        _ => {
            return Err(format!(
                "expected `class cx cy w h`, got {} values",
                fields.len()
            ));
        }
    };
    Ok(Some(BoxAnnotation {
        class,
        bbox: bbox.map(|v| v.clamp(0.0, 1.0) as f32),
    }))
}

/// A class id: a non-negative integer, also written as a float ("3.0") by some exporters.
fn parse_class(field: &str) -> Option<usize> {
    let id = match field.parse::<usize>() {
        Ok(id) => id,
        Err(_) => {
            let value = field.parse::<f64>().ok()?;
            if value.fract() != 0.0 || !(0.0..=MAX_CLASS_ID as f64).contains(&value) {
                return None;
            }
            value as usize
        }
    };
    (id <= MAX_CLASS_ID).then_some(id)
}

/// Class names and the file they came from: `names` in data.yaml (or another YAML file in
/// ROOT), else the lines of classes.txt. An unreadable file is a warning, not a failed open.
fn class_names(
    root: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<(Vec<String>, String)>, DatasetError> {
    let mut yaml_files: Vec<String> = read_dir(root)?
        .into_iter()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let lower = n.to_ascii_lowercase();
            lower.ends_with(".yaml") || lower.ends_with(".yml")
        })
        .collect();
    let rank = |n: &str| {
        if n.to_ascii_lowercase().starts_with("data.") {
            0
        } else {
            1
        }
    };
    yaml_files.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| natural_cmp(a, b)));

    for name in yaml_files {
        let text = match std::fs::read_to_string(root.join(&name)) {
            Ok(text) => text,
            Err(err) => {
                warnings.push(format!("{name}: cannot read: {err}"));
                continue;
            }
        };
        let value: Value = match serde_yaml_ng::from_str(&text) {
            Ok(value) => value,
            Err(err) => {
                warnings.push(format!("{name}: cannot read class names: {err}"));
                continue;
            }
        };
        let Some(names) = value.get("names") else {
            continue;
        };
        match names_from_yaml(names) {
            Some(names) => return Ok(Some((names, name))),
            None => warnings.push(format!(
                "{name}: names is neither a list of names nor a map of id: name"
            )),
        }
    }

    let classes_txt = root.join("classes.txt");
    if classes_txt.is_file() {
        match std::fs::read_to_string(&classes_txt) {
            Ok(text) => {
                let mut names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
                while names.last().is_some_and(|n| n.is_empty()) {
                    names.pop();
                }
                if !names.is_empty() {
                    return Ok(Some((names, "classes.txt".to_string())));
                }
            }
            Err(err) => warnings.push(format!("classes.txt: cannot read: {err}")),
        }
    }
    Ok(None)
}

/// `names: [a, b]` or `names: {0: a, 1: b}`; ids missing from a map are named by number.
fn names_from_yaml(names: &Value) -> Option<Vec<String>> {
    match names {
        Value::Sequence(items) => items.iter().map(scalar_text).collect(),
        Value::Mapping(map) => {
            let mut entries = Vec::new();
            for (key, value) in map {
                let id = match key {
                    Value::Number(n) => usize::try_from(n.as_u64()?).ok()?,
                    Value::String(s) => s.trim().parse().ok()?,
                    _ => return None,
                };
                if id > MAX_CLASS_ID {
                    return None;
                }
                entries.push((id, scalar_text(value)?));
            }
            let len = entries.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
            let mut out: Vec<String> = (0..len).map(|i| i.to_string()).collect();
            for (id, name) in entries {
                out[id] = name;
            }
            Some(out)
        }
        _ => None,
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{paths, png, write};
    use super::super::*;
    use super::parse_line;

    fn close(a: [f32; 4], b: [f32; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn flat_layout_with_names_list() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in ["images/a10.png", "images/a2.png", "images/sub/c.png"] {
            png(root, rel);
        }
        write(
            root,
            "labels/a2.txt",
            "1 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.2 0.2\n\n",
        );
        write(root, "labels/sub/c.txt", "0 0.9 0.5 0.4 0.2\n");
        write(
            root,
            "data.yaml",
            "path: .\ntrain: images\nnames: [person, 'traffic light']\nnc: 2\n",
        );
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::Yolo);
        assert_eq!(ds.classes, vec!["person", "traffic light"]);
        assert!(ds.splits.is_empty());
        assert_eq!(
            paths(&ds),
            vec!["images/a2.png", "images/a10.png", "images/sub/c.png"]
        );
        let a2 = &ds.examples[0].annotations;
        assert_eq!(a2.len(), 2);
        assert_eq!(a2[0].class, 1);
        assert!(close(a2[0].bbox, [0.4, 0.3, 0.6, 0.7]), "{:?}", a2[0].bbox);
        assert!(close(a2[1].bbox, [0.0, 0.0, 0.2, 0.2]), "{:?}", a2[1].bbox);
        assert!(
            ds.examples[1].annotations.is_empty(),
            "a missing label file means no objects"
        );
        assert!(
            close(ds.examples[2].annotations[0].bbox, [0.7, 0.4, 1.0, 0.6]),
            "clamped at the edge"
        );
        assert!(ds.examples.iter().all(|e| e.label.is_none()));
        assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
    }

    #[test]
    fn splits_with_a_names_map() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in [
            "images/val/v.png",
            "images/train/t1.png",
            "images/train/t2.png",
        ] {
            png(root, rel);
        }
        write(root, "labels/train/t1.txt", "2 0.5 0.5 1 1\n");
        write(root, "labels/val/v.txt", "0 0.5 0.5 0.5 0.5\n");
        write(root, "data.yaml", "names:\n  0: cat\n  2: dog\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::Yolo);
        assert_eq!(ds.splits, vec!["train", "val"]);
        assert_eq!(ds.classes, vec!["cat", "1", "dog"]);
        assert_eq!(
            paths(&ds),
            vec![
                "images/train/t1.png",
                "images/train/t2.png",
                "images/val/v.png"
            ]
        );
        assert_eq!(ds.examples[0].annotations[0].class, 2);
        assert_eq!(
            ds.split_counts(),
            vec![("train".to_string(), 2), ("val".to_string(), 1)]
        );
        assert_eq!(ds.label_text(&ds.examples[1]), "(none)");
    }

    #[test]
    fn a_split_without_its_labels_folder_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "images/train/a.png");
        png(root, "images/test/b.png");
        write(root, "labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.splits, vec!["train", "test"]);
        assert_eq!(ds.examples.len(), 2);
        assert_eq!(
            ds.warnings,
            vec!["labels/test/ not found: the images in images/test/ have no boxes"]
        );
    }

    #[test]
    fn roboflow_layout_with_classes_txt() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "train/images/a.png");
        png(root, "valid/images/b.png");
        write(root, "train/labels/a.txt", "1 0.5 0.5 0.1 0.1\n");
        write(root, "valid/labels/b.txt", "");
        write(root, "classes.txt", "ant\nbee\n\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(
            ds.layout,
            Layout::Yolo,
            "not an ImageFolder with a class called images"
        );
        assert_eq!(ds.splits, vec!["train", "valid"]);
        assert_eq!(ds.classes, vec!["ant", "bee"]);
        assert_eq!(paths(&ds), vec!["train/images/a.png", "valid/images/b.png"]);
    }

    #[test]
    fn bad_lines_are_reported_with_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "images/a.png");
        write(
            root,
            "labels/a.txt",
            "0 0.5 0.5 0.2 0.2\ncat 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n0 120 80 40 40\n2 0.5 x 0.1 0.1\n-1 0.5 0.5 0.1 0.1\n3 0.1 0.1 0.3 0.1 0.2 0.4\n",
        );
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.examples[0].annotations.len(), 2);
        assert_eq!(
            ds.classes,
            vec!["0", "1", "2", "3"],
            "no names file: ids up to the largest seen"
        );
        assert!(
            close(ds.examples[0].annotations[1].bbox, [0.1, 0.1, 0.3, 0.4]),
            "polygon → its bounding box"
        );
        assert_eq!(
            ds.warnings,
            vec![
                "labels/a.txt line 2: \"cat\" is not a class id",
                "labels/a.txt line 3: expected `class cx cy w h`, got 4 values",
                "labels/a.txt line 4: values outside 0..1 (YOLO coordinates are fractions of the image size)",
                "labels/a.txt line 5: expected numbers after the class id, got \"2 0.5 x 0.1 0.1\"",
                "labels/a.txt line 6: \"-1\" is not a class id",
            ]
        );
    }

    #[test]
    fn ids_beyond_the_names_are_kept_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "images/a.png");
        write(root, "labels/a.txt", "4 0.5 0.5 0.2 0.2\n");
        write(root, "data.yaml", "names: [a, b]\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.classes, vec!["a", "b", "2", "3", "4"]);
        assert_eq!(
            ds.warnings,
            vec!["class 4 is used in the labels but data.yaml names 2 classes"]
        );
    }

    #[test]
    fn a_broken_data_yaml_is_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "images/a.png");
        write(root, "labels/a.txt", "0 0.5 0.5 0.2 0.2\n");
        write(root, "data.yaml", "names: [a, b\n");
        write(root, "classes.txt", "zebra\n");
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.classes, vec!["zebra"]);
        assert!(
            ds.warnings[0].starts_with("data.yaml: cannot read class names:"),
            "{:?}",
            ds.warnings
        );
    }

    #[test]
    fn class_ids_may_be_written_as_floats() {
        let parsed = parse_line("  2.0 0.5 0.5 0.5 0.5 ").unwrap().unwrap();
        assert_eq!((parsed.class, parsed.bbox), (2, [0.25, 0.25, 0.75, 0.75]));
        assert!(parse_line("2.5 0.5 0.5 0.5 0.5").is_err());
        assert!(parse_line("999999999 0.5 0.5 0.5 0.5").is_err());
        assert_eq!(parse_line("   "), Ok(None));
    }
}
