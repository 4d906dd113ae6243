//! ImageFolder discovery: `ROOT/<class>/*` or `ROOT/<split>/<class>/*`, as torchvision lays it out.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    Dataset, DatasetError, Example, Layout, NaturalKey, SPLIT_NAMES, is_image_path, natural_cmp,
};

/// Class folders with their images' paths (relative to the class folder).
type ClassFolders = Vec<(String, Vec<PathBuf>)>;

/// Folders already walked, by their real path, so that a symlink leading back (`dog/loop -> .`)
/// or to a folder listed elsewhere is walked once; the links skipped become warnings. Also the
/// entries with an image's name that are no file (a pipe, a device, a broken link).
#[derive(Default)]
pub(super) struct WalkedFolders {
    seen: HashSet<PathBuf>,
    skipped: Vec<PathBuf>,
    not_files: Vec<PathBuf>,
}

impl WalkedFolders {
    /// Records `dir`; false when it (or the folder a link in it points to) was walked already.
    pub(super) fn enter(&mut self, dir: &Path) -> bool {
        let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if self.seen.insert(real) {
            true
        } else {
            self.skipped.push(dir.to_path_buf());
            false
        }
    }

    /// One warning per skipped link or entry, naming it.
    pub(super) fn warnings(&self) -> Vec<String> {
        let links = self.skipped.iter().map(|dir| {
            format!(
                "{}: leads to a folder already listed (a symlink loop or a second link); its images are listed once",
                dir.display()
            )
        });
        let not_files = self.not_files.iter().map(|path| {
            format!(
                "{}: not a file (a pipe, socket, device or broken link); skipped",
                path.display()
            )
        });
        links.chain(not_files).collect()
    }
}

/// Returns the dataset if `root` is an ImageFolder (with or without splits), `None` if it is not.
pub(super) fn discover(root: &Path) -> Result<Option<Dataset>, DatasetError> {
    let top_dirs = subdirectories(root)?;
    let mut walked = WalkedFolders::default();
    walked.enter(root);

    let mut split_dirs: Vec<(String, ClassFolders)> = Vec::new();
    for split in SPLIT_NAMES {
        let Some(dir) = top_dirs.iter().find(|d| d.eq_ignore_ascii_case(split)) else {
            continue;
        };
        let classes = class_folders(&root.join(dir), &mut walked)?;
        if !classes.is_empty() {
            split_dirs.push((dir.clone(), classes));
        }
    }
    if !split_dirs.is_empty() {
        let mut dataset = build(root, Layout::ImageFolderSplits, split_dirs);
        dataset.warnings = walked.warnings();
        return Ok(Some(dataset));
    }

    let mut walked = WalkedFolders::default();
    walked.enter(root);
    let classes = class_folders(root, &mut walked)?;
    if classes.is_empty() {
        return Ok(None);
    }
    let mut dataset = build(root, Layout::ImageFolder, vec![(String::new(), classes)]);
    dataset.warnings = walked.warnings();
    Ok(Some(dataset))
}

/// Assembles the dataset from `(split folder, [(class, relative image paths)])`.
fn build(root: &Path, layout: Layout, groups: Vec<(String, ClassFolders)>) -> Dataset {
    let mut classes: Vec<String> = groups
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(name, _)| name.clone()))
        .collect();
    classes.sort_by(|a, b| natural_cmp(a, b));
    classes.dedup();

    let has_splits = layout == Layout::ImageFolderSplits;
    let splits: Vec<String> = if has_splits {
        groups.iter().map(|(s, _)| s.clone()).collect()
    } else {
        Vec::new()
    };

    let mut examples = Vec::new();
    for (split_index, (split_dir, class_dirs)) in groups.into_iter().enumerate() {
        let mut class_dirs = class_dirs;
        class_dirs.sort_by(|a, b| natural_cmp(&a.0, &b.0));
        for (class, files) in class_dirs {
            let label = classes.iter().position(|c| *c == class).unwrap_or_default();
            for file in files {
                let path = if has_splits {
                    Path::new(&split_dir).join(&class).join(file)
                } else {
                    Path::new(&class).join(file)
                };
                examples.push(Example::labelled(
                    path,
                    has_splits.then_some(split_index),
                    label,
                ));
            }
        }
    }
    Dataset {
        root: root.to_path_buf(),
        layout,
        classes,
        splits,
        examples,
        extra_columns: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Subfolders of `dir` that hold at least one image (at any depth), with their images'
/// paths relative to the subfolder, in natural order.
fn class_folders(dir: &Path, walked: &mut WalkedFolders) -> Result<ClassFolders, DatasetError> {
    let names = subdirectories(dir)?;
    // The folders' entries are read side by side (a million files take about a second to list);
    // they are walked in order, so links resolve as in a serial walk.
    let listed: Vec<Result<Vec<std::fs::DirEntry>, DatasetError>> = names
        .par_iter()
        .map(|name| read_dir(&dir.join(name)))
        .collect();
    let mut classes = Vec::new();
    for (name, entries) in names.into_iter().zip(listed) {
        let mut files = Vec::new();
        let class_dir = dir.join(&name);
        if walked.enter(&class_dir) {
            collect_entries(entries?, Path::new(""), &mut files, walked)?;
        }
        if !files.is_empty() {
            files.par_sort_by_cached_key(|path| NaturalKey::of_path(path));
            classes.push((name, files));
        }
    }
    Ok(classes)
}

/// Appends the images under `dir` (any depth, hidden entries skipped, each folder once) to
/// `out`, as paths relative to `dir` joined onto `relative`.
pub(super) fn collect_images(
    dir: &Path,
    relative: &Path,
    out: &mut Vec<PathBuf>,
    walked: &mut WalkedFolders,
) -> Result<(), DatasetError> {
    if !walked.enter(dir) {
        return Ok(());
    }
    collect_entries(read_dir(dir)?, relative, out, walked)
}

/// `collect_images` of a folder already entered, from its `entries`.
fn collect_entries(
    entries: Vec<std::fs::DirEntry>,
    relative: &Path,
    out: &mut Vec<PathBuf>,
    walked: &mut WalkedFolders,
) -> Result<(), DatasetError> {
    for entry in entries {
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        // The entry's type needs no stat of its own on most file systems; a link is followed
        // (none for a broken one).
        let kind = match entry.file_type() {
            Ok(kind) if !kind.is_symlink() => Some(kind),
            _ => std::fs::metadata(entry.path()).ok().map(|m| m.file_type()),
        };
        let is_image = is_image_path(Path::new(&name));
        match kind {
            Some(kind) if kind.is_dir() => {
                collect_images(&entry.path(), &relative.join(&name), out, walked)?
            }
            Some(kind) if kind.is_file() && is_image => out.push(relative.join(&name)),
            Some(kind) if kind.is_file() => {}
            // Reading a pipe would wait forever and a device would never end.
            _ if is_image => walked.not_files.push(entry.path()),
            _ => {}
        }
    }
    Ok(())
}

/// Names of the non-hidden subfolders of `dir`.
pub(super) fn subdirectories(dir: &Path) -> Result<Vec<String>, DatasetError> {
    let mut names: Vec<String> = read_dir(dir)?
        .into_iter()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    Ok(names)
}

/// The entries of `dir`, with the folder named in the error.
pub(super) fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, DatasetError> {
    let io_err = |source| DatasetError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(io_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use std::fs;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"not decoded during discovery").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_followed_once_and_named_in_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..3 {
            touch(tmp.path(), &format!("dog/{i}.png"));
            touch(tmp.path(), &format!("cat/{i}.png"));
        }
        std::os::unix::fs::symlink(".", tmp.path().join("dog/loop")).unwrap();
        std::os::unix::fs::symlink("..", tmp.path().join("cat/up")).unwrap();
        let dataset = Dataset::open(tmp.path()).unwrap();
        assert_eq!(dataset.examples.len(), 6, "{:?}", dataset.examples);
        assert_eq!(dataset.warnings.len(), 2, "{:?}", dataset.warnings);
        assert!(
            dataset
                .warnings
                .iter()
                .any(|w| w.contains("loop") && w.contains("symlink")),
            "{:?}",
            dataset.warnings
        );
    }

    #[cfg(unix)]
    #[test]
    fn entries_named_like_images_that_are_no_files_are_skipped_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..2 {
            touch(tmp.path(), &format!("dog/{i}.png"));
        }
        let dog = tmp.path().join("dog");
        let fifo = std::process::Command::new("mkfifo")
            .arg(dog.join("pipe.png"))
            .status()
            .unwrap();
        assert!(fifo.success());
        std::os::unix::fs::symlink("/dev/zero", dog.join("zero.png")).unwrap();
        std::os::unix::fs::symlink(dog.join("gone.png"), dog.join("broken.png")).unwrap();
        std::os::unix::fs::symlink(dog.join("0.png"), dog.join("link.png")).unwrap();
        let dataset = Dataset::open(tmp.path()).unwrap();
        let paths: Vec<String> = dataset
            .examples
            .iter()
            .map(|e| e.path.to_string_lossy().into_owned())
            .collect();
        assert_eq!(paths, vec!["dog/0.png", "dog/1.png", "dog/link.png"]);
        for name in ["pipe.png", "zero.png", "broken.png"] {
            assert!(
                dataset
                    .warnings
                    .iter()
                    .any(|w| w.contains(name) && w.contains("not a file")),
                "{name}: {:?}",
                dataset.warnings
            );
        }
    }

    #[test]
    fn finds_classes_without_splits() {
        let tmp = tempfile::tempdir().unwrap();
        for rel in [
            "cat/1.jpg",
            "cat/10.jpg",
            "cat/2.png",
            "dog/a.JPEG",
            "dog/notes.txt",
            "empty/readme.md",
        ] {
            touch(tmp.path(), rel);
        }
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.layout, Layout::ImageFolder);
        assert_eq!(ds.classes, vec!["cat", "dog"]);
        assert!(ds.splits.is_empty());
        let paths: Vec<_> = ds
            .examples
            .iter()
            .map(|e| e.path.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            paths,
            vec!["cat/1.jpg", "cat/2.png", "cat/10.jpg", "dog/a.JPEG"]
        );
        let counts: Vec<_> = ds
            .class_counts()
            .into_iter()
            .map(|c| (c.name, c.count))
            .collect();
        assert_eq!(counts, vec![("cat".to_string(), 3), ("dog".to_string(), 1)]);
        assert_eq!(ds.imbalance_ratio(), Some(3.0));
    }

    #[test]
    fn finds_splits_and_the_union_of_their_classes() {
        let tmp = tempfile::tempdir().unwrap();
        for rel in [
            "train/0/a.png",
            "train/0/b.png",
            "train/1/c.png",
            "val/1/d.png",
            "val/2/e.png",
            "test/10/f.png",
        ] {
            touch(tmp.path(), rel);
        }
        touch(tmp.path(), ".hidden/0/x.png");
        touch(tmp.path(), "checkpoints/epoch_00.pt");
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.layout, Layout::ImageFolderSplits);
        assert_eq!(ds.splits, vec!["train", "val", "test"]);
        assert_eq!(ds.classes, vec!["0", "1", "2", "10"]);
        assert_eq!(ds.examples.len(), 6);
        let split_counts = ds.split_counts();
        assert_eq!(
            split_counts,
            vec![("train".into(), 3), ("val".into(), 2), ("test".into(), 1)]
        );
        let one = &ds.class_counts()[1];
        assert_eq!((one.count, one.by_split.clone()), (2, vec![1, 1, 0]));
        let e = ds
            .examples
            .iter()
            .find(|e| e.path.ends_with("e.png"))
            .unwrap();
        assert_eq!(
            (
                ds.splits[e.split.unwrap()].as_str(),
                ds.classes[e.label.unwrap()].as_str()
            ),
            ("val", "2")
        );
    }

    #[test]
    fn nested_images_belong_to_their_top_class_folder() {
        let tmp = tempfile::tempdir().unwrap();
        touch(tmp.path(), "bird/batch1/x.png");
        touch(tmp.path(), "bird/y.png");
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.classes, vec!["bird"]);
        assert_eq!(ds.examples.len(), 2);
    }

    #[test]
    fn a_folder_without_a_layout_names_what_was_looked_for() {
        let tmp = tempfile::tempdir().unwrap();
        touch(tmp.path(), "loose.png");
        touch(tmp.path(), "docs/readme.txt");
        let err = Dataset::open(tmp.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DatasetError::NoLayout { .. }));
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
        assert!(
            msg.contains("ROOT/<class>/<image>") && msg.contains("ROOT/<split>/<class>/<image>"),
            "{msg}"
        );
    }

    #[test]
    fn missing_and_non_folder_paths_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        assert!(matches!(
            Dataset::open(&missing),
            Err(DatasetError::NotFound { .. })
        ));
        touch(tmp.path(), "file.png");
        let err = Dataset::open(&tmp.path().join("file.png")).unwrap_err();
        assert!(err.to_string().contains("file.png") && err.to_string().contains("not a folder"));
    }
}
