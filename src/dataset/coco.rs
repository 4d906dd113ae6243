//! COCO detection JSON (`images`, `annotations`, `categories`) in ROOT, ROOT/annotations/ or
//! ROOT/<split>/: pixel boxes `[x, y, w, h]` become normalised `[x0, y0, x1, y1]`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::imagefolder::{read_dir, subdirectories};
use super::{
    BoxAnnotation, Dataset, DatasetError, Example, Layout, SPLIT_NAMES, cap_warnings, natural_cmp,
    sort_examples, sort_splits,
};

/// A COCO file's three lists. Each entry is read on its own (`CocoImage`, `CocoAnnotation`,
/// `CocoCategory`), so that a box with a string or null coordinate, or an image whose id is a
/// list, is a warning naming it, and the rest of the file opens.
#[derive(Deserialize)]
struct RawCocoFile {
    images: Vec<serde_json::Value>,
    // Test-set files (image_info_test*.json) have no annotations; their images still open.
    #[serde(default)]
    annotations: Vec<serde_json::Value>,
    categories: Vec<serde_json::Value>,
}

/// A COCO file with its images and categories read, and its annotations still to read.
struct CocoFile {
    images: Vec<CocoImage>,
    annotations: Vec<serde_json::Value>,
    categories: Vec<CocoCategory>,
    /// Entries that could not be read, each naming the file, list and position.
    problems: Vec<String>,
}

/// The entries of `list` that read as `T`; the others become problems naming `name`, `what`
/// and their position (from 1).
fn entries<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &str,
    list: Vec<serde_json::Value>,
    problems: &mut Vec<String>,
) -> Vec<T> {
    list.into_iter()
        .enumerate()
        .filter_map(|(k, value)| match T::deserialize(value) {
            Ok(entry) => Some(entry),
            Err(e) => {
                problems.push(format!("{name} {what} {}: {e}; skipped", k + 1));
                None
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct CocoImage {
    id: Id,
    file_name: String,
    width: Option<f64>,
    height: Option<f64>,
}

/// Fields are optional so that one broken annotation becomes a warning, not a failed open.
#[derive(Deserialize)]
struct CocoAnnotation {
    id: Option<Id>,
    image_id: Option<Id>,
    category_id: Option<Id>,
    bbox: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct CocoCategory {
    id: Id,
    name: String,
}

/// COCO ids are numbers, but some exporters write strings.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(untagged)]
enum Id {
    Number(i64),
    Text(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(s) => write!(f, "{s:?}"),
        }
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        match (self, other) {
            (Id::Number(a), Id::Number(b)) => a.cmp(b),
            (Id::Text(a), Id::Text(b)) => natural_cmp(a, b),
            (Id::Number(_), Id::Text(_)) => std::cmp::Ordering::Less,
            (Id::Text(_), Id::Number(_)) => std::cmp::Ordering::Greater,
        }
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One COCO file found in the folder.
struct Source {
    /// Relative to ROOT, for messages.
    name: String,
    /// The folder it was found in, relative to ROOT.
    dir: PathBuf,
    split: Option<String>,
    coco: CocoFile,
}

/// Returns the dataset if a COCO file is found, `None` if there is none. A `.json` file that
/// does not parse is an error: it may be the annotations, and guessing another layout would hide that.
pub(super) fn discover(root: &Path) -> Result<Option<Dataset>, DatasetError> {
    let mut sources = Vec::new();
    for (dir, dir_split) in json_folders(root)? {
        for path in json_files(&root.join(&dir))? {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let Some(coco) = load(&path, &name)? else {
                continue;
            };
            let split = dir_split.clone().or_else(|| split_in_name(&path));
            sources.push(Source {
                name,
                dir: dir.clone(),
                split,
                coco,
            });
        }
    }
    if sources.is_empty() {
        return Ok(None);
    }
    let mut warnings = Vec::new();
    let sources = choose(sources, &mut warnings);
    for source in &sources {
        warnings.extend(source.coco.problems.iter().cloned());
    }
    Ok(Some(build(root, sources, warnings)?))
}

/// Where COCO files are looked for: ROOT, ROOT/annotations/, and split folders (as Roboflow
/// exports them, `ROOT/train/_annotations.coco.json` beside the images).
fn json_folders(root: &Path) -> Result<Vec<(PathBuf, Option<String>)>, DatasetError> {
    let mut folders = vec![(PathBuf::new(), None)];
    for name in subdirectories(root)? {
        if name == "annotations" {
            folders.push((PathBuf::from(&name), None));
        } else if SPLIT_NAMES.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
            folders.push((PathBuf::from(&name), Some(name.clone())));
        }
    }
    Ok(folders)
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let mut files: Vec<PathBuf> = read_dir(dir)?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        })
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(files)
}

/// The split a file name names, as in `instances_val2017.json`: a word of the name, digits dropped.
fn split_in_name(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy().to_ascii_lowercase();
    stem.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|word| word.trim_end_matches(|c: char| c.is_ascii_digit()))
        .find_map(|word| SPLIT_NAMES.iter().find(|s| **s == word))
        .map(|s| s.to_string())
}

/// Parses `path` (called `name` in messages) if it is a COCO file; `None` for JSON of another
/// shape.
fn load(path: &Path, name: &str) -> Result<Option<CocoFile>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The top-level keys tell whether it is COCO; the values are skipped, not built. (A struct
    // would also accept a JSON list, by position.)
    match serde_json::from_str::<BTreeMap<String, IgnoredAny>>(&text) {
        Ok(keys) if keys.contains_key("images") && keys.contains_key("categories") => {}
        Ok(_) => return Ok(None),
        // Well-formed JSON that is not an object (a list, a number) is simply not COCO.
        Err(err) if err.is_data() => return Ok(None),
        Err(err) => return Err(DatasetError::json(path, &err)),
    }
    let raw =
        serde_json::from_str::<RawCocoFile>(&text).map_err(|err| DatasetError::json(path, &err))?;
    let mut problems = Vec::new();
    Ok(Some(CocoFile {
        images: entries(name, "image", raw.images, &mut problems),
        categories: entries(name, "category", raw.categories, &mut problems),
        annotations: raw.annotations,
        problems,
    }))
}

/// Keeps one file per split (or one file when no name says a split), preferring `instances*`
/// over other COCO files of the same images (keypoints), so that boxes are not counted twice.
fn choose(mut sources: Vec<Source>, warnings: &mut Vec<String>) -> Vec<Source> {
    let rank = |s: &Source| {
        if s.name.to_ascii_lowercase().contains("instances") {
            0
        } else {
            1
        }
    };
    sources.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| natural_cmp(&a.name, &b.name))
    });
    let any_split = sources.iter().any(|s| s.split.is_some());
    let mut kept: Vec<Source> = Vec::new();
    for source in sources {
        let clash = if any_split && source.split.is_none() {
            Some("its name names no split, unlike the others".to_string())
        } else {
            kept.iter()
                .find(|k| k.split == source.split)
                .map(|k| match &source.split {
                    Some(split) => format!("{} already gives the {split} split", k.name),
                    None => format!("{} is used", k.name),
                })
        };
        match clash {
            Some(why) => warnings.push(format!("{}: ignored, {why}", source.name)),
            None => kept.push(source),
        }
    }
    kept
}

fn build(
    root: &Path,
    sources: Vec<Source>,
    mut warnings: Vec<String>,
) -> Result<Dataset, DatasetError> {
    // Classes: the union of categories, ordered by id, the first file winning a disagreement.
    let mut categories: BTreeMap<Id, (String, String)> = BTreeMap::new();
    for source in &sources {
        for category in &source.coco.categories {
            match categories.get(&category.id) {
                None => {
                    categories.insert(
                        category.id.clone(),
                        (category.name.clone(), source.name.clone()),
                    );
                }
                Some((name, first)) if *name != category.name => warnings.push(format!(
                    "{}: category {} is {:?} here but {:?} in {first}; using {:?}",
                    source.name, category.id, category.name, name, name
                )),
                Some(_) => {}
            }
        }
    }
    let class_of: HashMap<&Id, usize> = categories
        .keys()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let classes: Vec<String> = categories.values().map(|(name, _)| name.clone()).collect();

    let mut splits: Vec<String> = sources.iter().filter_map(|s| s.split.clone()).collect();
    sort_splits(&mut splits);
    splits.dedup();

    let mut examples = Vec::new();
    for source in &sources {
        let split = source
            .split
            .as_ref()
            .and_then(|s| splits.iter().position(|x| x == s));
        let bases = image_folders(root, source)?;
        add_source(
            root,
            source,
            &bases,
            split,
            &class_of,
            &mut examples,
            &mut warnings,
        );
    }
    sort_examples(&mut examples);

    Ok(Dataset {
        root: root.to_path_buf(),
        layout: Layout::Coco,
        classes,
        splits,
        examples,
        extra_columns: Vec::new(),
        warnings: cap_warnings(warnings),
    })
}

/// Folders (relative to ROOT) an image's `file_name` may be relative to, most likely first:
/// the file's own split folder, ROOT, ROOT/images/, and for a split file the folders named
/// after its split (`train2017/`, `images/val/`).
fn image_folders(root: &Path, source: &Source) -> Result<Vec<PathBuf>, DatasetError> {
    let mut bases = Vec::new();
    if !source.dir.as_os_str().is_empty() && source.dir != Path::new("annotations") {
        bases.push(source.dir.clone());
        bases.push(source.dir.join("images"));
    }
    bases.push(PathBuf::new());
    bases.push(PathBuf::from("images"));
    if let Some(split) = &source.split {
        let split = split.to_ascii_lowercase();
        for parent in ["", "images"] {
            let dir = root.join(parent);
            if !dir.is_dir() {
                continue;
            }
            for name in subdirectories(&dir)? {
                if name.to_ascii_lowercase().starts_with(&split) {
                    bases.push(Path::new(parent).join(name));
                }
            }
        }
    }
    Ok(bases)
}

/// An image that became an example: its index, and its size in pixels when known.
#[derive(Clone, Copy)]
struct Placed {
    index: usize,
    size: Option<(f64, f64)>,
}

/// Adds one file's images as examples, with their boxes; problems become warnings.
fn add_source(
    root: &Path,
    source: &Source,
    bases: &[PathBuf],
    split: Option<usize>,
    class_of: &HashMap<&Id, usize>,
    examples: &mut Vec<Example>,
    warnings: &mut Vec<String>,
) {
    let file = &source.name;
    // Image id → where its example went; `None` for images that could not be used.
    let mut images: HashMap<&Id, Option<Placed>> = HashMap::new();
    for image in &source.coco.images {
        if images.contains_key(&image.id) {
            warnings.push(format!(
                "{file}: image id {} is listed twice; keeping the first",
                image.id
            ));
            continue;
        }
        let found = bases
            .iter()
            .map(|base| base.join(&image.file_name))
            .find(|p| root.join(p).is_file());
        let Some(found) = found else {
            warnings.push(format!(
                "{file}: image {}: file {} does not exist",
                image.id, image.file_name
            ));
            images.insert(&image.id, None);
            continue;
        };
        let Some(path) = super::within_root(root, &found) else {
            warnings.push(format!(
                "{file}: image {}: {} is outside the dataset folder; skipped",
                image.id, image.file_name
            ));
            images.insert(&image.id, None);
            continue;
        };
        let size = match (image.width, image.height) {
            (Some(w), Some(h)) if w > 0.0 && h > 0.0 => Some((w, h)),
            // Some exporters leave the size out; the file's header has it.
            _ => match image::image_dimensions(root.join(&path)) {
                Ok((w, h)) if w > 0 && h > 0 => Some((f64::from(w), f64::from(h))),
                _ => {
                    warnings.push(format!(
                        "{file}: image {}: no width/height, and {} cannot be read; its boxes are skipped",
                        image.id, image.file_name
                    ));
                    None
                }
            },
        };
        images.insert(
            &image.id,
            Some(Placed {
                index: examples.len(),
                size,
            }),
        );
        examples.push(Example {
            path,
            split,
            label: None,
            annotations: Vec::new(),
            extra: Vec::new(),
        });
    }

    for (k, value) in source.coco.annotations.iter().enumerate() {
        let annotation = match CocoAnnotation::deserialize(value) {
            Ok(annotation) => annotation,
            Err(e) => {
                warnings.push(format!("{file} annotation {}: {e}", k + 1));
                continue;
            }
        };
        let what = match &annotation.id {
            Some(id) => format!("{file} annotation {} (id {id})", k + 1),
            None => format!("{file} annotation {}", k + 1),
        };
        let Some(image_id) = &annotation.image_id else {
            warnings.push(format!("{what}: no image_id"));
            continue;
        };
        let Placed { index, size } = match images.get(image_id) {
            Some(Some(placed)) => *placed,
            // The image's own warning already covers its boxes.
            Some(None) => continue,
            None => {
                warnings.push(format!("{what}: image_id {image_id} is not in images"));
                continue;
            }
        };
        let class = match &annotation.category_id {
            Some(id) => match class_of.get(id) {
                Some(class) => *class,
                None => {
                    warnings.push(format!("{what}: category_id {id} is not in categories"));
                    continue;
                }
            },
            None => {
                warnings.push(format!("{what}: no category_id"));
                continue;
            }
        };
        let bbox = match annotation.bbox.as_deref() {
            Some(&[x, y, w, h]) if [x, y, w, h].iter().all(|v| v.is_finite()) => [x, y, w, h],
            _ => {
                warnings.push(format!("{what}: bbox is not [x, y, width, height]"));
                continue;
            }
        };
        let Some((width, height)) = size else {
            continue;
        };
        examples[index].annotations.push(BoxAnnotation {
            class,
            bbox: normalise(bbox, width, height),
        });
    }
}

/// `[x, y, w, h]` in pixels → `[x0, y0, x1, y1]` in 0..1; boxes spilling over the edge are clamped.
fn normalise([x, y, w, h]: [f64; 4], width: f64, height: f64) -> [f32; 4] {
    let unit = |v: f64| v.clamp(0.0, 1.0) as f32;
    [
        unit(x / width),
        unit(y / height),
        unit((x + w) / width),
        unit((y + h) / height),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::{paths, png, png_sized, write};
    use super::super::*;
    use super::{normalise, split_in_name};

    const CATEGORIES: &str = r#"[{"id": 3, "name": "dog"}, {"id": 1, "name": "cat"}]"#;

    fn close(a: [f32; 4], b: [f32; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
    }

    #[test]
    fn boxes_are_normalised_and_classes_follow_category_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png_sized(root, "images/b.png", 20, 10);
        png(root, "images/a10.png");
        png(root, "a2.png");
        let json = format!(
            r#"{{"info": {{}}, "images": [
                {{"id": 1, "file_name": "b.png", "width": 200, "height": 100}},
                {{"id": 2, "file_name": "a10.png", "width": 40, "height": 30}},
                {{"id": 7, "file_name": "a2.png"}}],
              "annotations": [
                {{"id": 10, "image_id": 1, "category_id": 3, "bbox": [20, 10, 100, 50], "iscrowd": 0}},
                {{"id": 11, "image_id": 1, "category_id": 1, "bbox": [150, 80, 100, 40]}},
                {{"id": 12, "image_id": 7, "category_id": 1, "bbox": [1, 0, 2, 3]}}],
              "categories": {CATEGORIES}}}"#
        );
        write(root, "annotations.json", &json);
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::Coco);
        assert_eq!(ds.classes, vec!["cat", "dog"]);
        assert!(ds.splits.is_empty());
        assert_eq!(paths(&ds), vec!["a2.png", "images/a10.png", "images/b.png"]);
        assert!(ds.examples.iter().all(|e| e.label.is_none()));
        assert!(
            ds.examples[1].annotations.is_empty(),
            "images without boxes are still examples"
        );
        let b = &ds.examples[2].annotations;
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].class, 1);
        assert!(close(b[0].bbox, [0.1, 0.1, 0.6, 0.6]), "{:?}", b[0].bbox);
        assert_eq!(b[1].class, 0);
        assert!(
            close(b[1].bbox, [0.75, 0.8, 1.0, 1.0]),
            "clamped: {:?}",
            b[1].bbox
        );
        // Without width/height in the JSON, the size comes from the file (4×3).
        assert!(
            close(ds.examples[0].annotations[0].bbox, [0.25, 0.0, 0.75, 1.0]),
            "{:?}",
            ds.examples[0].annotations
        );
        assert_eq!(ds.label_text(&ds.examples[2]), "cat, dog");
        assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
    }

    #[test]
    fn unknown_ids_and_missing_files_are_warnings() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "images/a.png");
        let json = format!(
            r#"{{"images": [{{"id": 1, "file_name": "a.png", "width": 4, "height": 3}},
                            {{"id": 2, "file_name": "gone.png", "width": 4, "height": 3}}],
              "annotations": [
                {{"id": 5, "image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]}},
                {{"id": 6, "image_id": 1, "category_id": 42, "bbox": [0, 0, 1, 1]}},
                {{"id": 7, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}},
                {{"image_id": 1, "category_id": 1, "bbox": [0, 0]}},
                {{"id": 9, "image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 3]}},
                {{"id": 10, "image_id": 1, "category_id": 3, "bbox": [0, "3", 2, null]}}],
              "categories": {CATEGORIES}}}"#
        );
        write(root, "annotations/instances.json", &json);
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::Coco);
        assert_eq!(paths(&ds), vec!["images/a.png"]);
        assert_eq!(ds.examples[0].annotations.len(), 1);
        assert_eq!(
            ds.warnings,
            vec![
                "annotations/instances.json: image 2: file gone.png does not exist",
                "annotations/instances.json annotation 1 (id 5): image_id 9 is not in images",
                "annotations/instances.json annotation 2 (id 6): category_id 42 is not in categories",
                "annotations/instances.json annotation 4: bbox is not [x, y, width, height]",
                "annotations/instances.json annotation 6: invalid type: string \"3\", expected f64",
            ]
        );
    }

    #[test]
    fn malformed_json_names_file_line_and_column() {
        let tmp = tempfile::tempdir().unwrap();
        png(tmp.path(), "cat/a.png");
        write(
            tmp.path(),
            "coco.json",
            "{\"images\": [\n  {\"id\": 1,,}\n]}",
        );
        let err = Dataset::open(tmp.path()).unwrap_err();
        match &err {
            DatasetError::Json {
                path, line, column, ..
            } => {
                assert!(path.ends_with("coco.json"));
                assert_eq!((*line, *column), (2, 12));
            }
            other => panic!("expected a JSON error, got {other}"),
        }
        assert!(
            err.to_string().contains("coco.json, line 2, column 12: "),
            "{err}"
        );

        // Lists of the wrong type in a COCO file are reported the same way.
        write(
            tmp.path(),
            "coco.json",
            r#"{"images": {"id": 1}, "categories": []}"#,
        );
        let err = Dataset::open(tmp.path()).unwrap_err();
        assert!(matches!(err, DatasetError::Json { line: 1, .. }), "{err}");
    }

    #[test]
    fn entries_of_wrong_types_or_outside_the_folder_are_skipped_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        png(&root, "a.png");
        png(&root, "b.png");
        png(tmp.path(), "outside.png");
        let json = format!(
            r#"{{"images": [
                {{"id": 1, "file_name": "a.png", "width": 4, "height": 3}},
                {{"id": [2], "file_name": 5, "width": "wide"}},
                {{"id": 3, "file_name": "../outside.png", "width": 4, "height": 3}},
                {{"id": 4, "file_name": "{}", "width": 4, "height": 3}},
                {{"id": 5, "file_name": "b.png", "width": 4, "height": 3}}],
              "annotations": [{{"id": 9, "image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 3]}}],
              "categories": [{{"id": 3, "name": "dog"}}, {{"id": "x", "name": null}}]}}"#,
            tmp.path().join("outside.png").display()
        );
        write(&root, "coco.json", &json);
        let ds = Dataset::open(&root).unwrap();
        assert_eq!(paths(&ds), vec!["a.png", "b.png"]);
        assert_eq!(ds.classes, vec!["dog"]);
        assert_eq!(ds.examples[0].annotations.len(), 1);
        let expected = [
            "coco.json image 2: ",
            "coco.json category 2: ",
            "image 3: ../outside.png is outside the dataset folder",
            "image 4: ",
        ];
        assert_eq!(ds.warnings.len(), expected.len(), "{:?}", ds.warnings);
        for text in expected {
            assert!(
                ds.warnings.iter().any(|w| w.contains(text)),
                "{text}: {:?}",
                ds.warnings
            );
        }
    }

    #[test]
    fn other_json_is_not_coco() {
        let tmp = tempfile::tempdir().unwrap();
        png(tmp.path(), "cat/a.png");
        write(tmp.path(), "config.json", r#"{"lr": 0.1, "images": 3}"#);
        write(tmp.path(), "list.json", "[1, 2]");
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.layout, Layout::ImageFolder);
    }

    #[test]
    fn a_coco_folder_with_an_images_folder_is_not_an_image_folder() {
        let tmp = tempfile::tempdir().unwrap();
        png(tmp.path(), "images/a.png");
        let json = format!(r#"{{"images": [], "annotations": [], "categories": {CATEGORIES}}}"#);
        write(tmp.path(), "annotations/instances_default.json", &json);
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.layout, Layout::Coco);
        assert!(ds.examples.is_empty());
    }

    #[test]
    fn split_files_become_splits() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        png(root, "train2017/t.png");
        png(root, "images/val2017/v.png");
        png(root, "valid/r.png");
        let one = |name: &str| {
            format!(
                r#"{{"images": [{{"id": "x", "file_name": "{name}", "width": 4, "height": 3}}],
                  "annotations": [{{"id": 1, "image_id": "x", "category_id": 1, "bbox": [0, 0, 4, 3]}}],
                  "categories": {CATEGORIES}}}"#
            )
        };
        write(root, "annotations/instances_train2017.json", &one("t.png"));
        write(root, "annotations/instances_val2017.json", &one("v.png"));
        write(
            root,
            "annotations/person_keypoints_val2017.json",
            &one("v.png"),
        );
        // Roboflow's export: the file sits in the split folder beside its images.
        write(root, "valid/_annotations.coco.json", &one("r.png"));
        let ds = Dataset::open(root).unwrap();
        assert_eq!(ds.layout, Layout::Coco);
        assert_eq!(ds.splits, vec!["train", "val", "valid"]);
        assert_eq!(
            paths(&ds),
            vec!["train2017/t.png", "images/val2017/v.png", "valid/r.png"]
        );
        assert_eq!(
            ds.split_counts().iter().map(|s| s.1).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        assert_eq!(
            ds.examples[1].annotations,
            vec![BoxAnnotation {
                class: 0,
                bbox: [0.0, 0.0, 1.0, 1.0]
            }]
        );
        assert_eq!(
            ds.warnings,
            vec![
                "annotations/person_keypoints_val2017.json: ignored, annotations/instances_val2017.json already gives the val split"
            ]
        );
    }

    #[test]
    fn split_names_are_words_of_the_file_name() {
        let split = |name: &str| split_in_name(Path::new(name));
        assert_eq!(split("instances_val2017.json").as_deref(), Some("val"));
        assert_eq!(split("coco-test.json").as_deref(), Some("test"));
        assert_eq!(split("contrast.json"), None);
        assert_eq!(split("annotations.json"), None);
    }

    #[test]
    fn box_conversion_clamps_to_the_image() {
        assert_eq!(
            normalise([-10.0, 5.0, 20.0, 200.0], 100.0, 50.0),
            [0.0, 0.1, 0.1, 1.0]
        );
    }
}
