//! The user's decisions about examples (relabels, flags, keep/exclude of duplicates): each change
//! appended to a journal and synced at once, folded into an atomically written snapshot now and
//! then, reloaded when the dataset is reopened, never lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::files::write_atomically;
use crate::index::{IndexError, write_table};

/// Format tag of the review file.
const REVIEW_FORMAT: &str = "eyeball-review/1";

/// What the user decided about one example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The given label is wrong; `new_label` holds the right one.
    Relabel,
    /// The given label is wrong, right label unknown.
    FlagWrong,
    /// Reviewed: the label is fine.
    NotAnError,
    /// Keep this member of a duplicate group.
    Keep,
    /// Exclude this member of a duplicate group.
    Exclude,
}

impl Decision {
    /// Snake-case name used in files and exports.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Relabel => "relabel",
            Decision::FlagWrong => "flag_wrong",
            Decision::NotAnError => "not_an_error",
            Decision::Keep => "keep",
            Decision::Exclude => "exclude",
        }
    }
}

/// One decision, keyed by the example's path relative to the dataset root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewEntry {
    pub path: String,
    /// The label the dataset gives.
    pub given: Option<String>,
    pub decision: Decision,
    /// The corrected label, for `Relabel`.
    pub new_label: Option<String>,
    /// The ranking score when the decision was made (loss, margin...), if any.
    pub score: Option<f64>,
    /// Milliseconds since 1970.
    pub timestamp_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct ReviewFile {
    format: String,
    dataset_root: String,
    entries: Vec<ReviewEntry>,
}

/// Why the review file could not be read or written, naming it.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{path}: cannot save review decisions: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the review file is unreadable ({message}); it was left untouched and a new file will be used"
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("no data folder for review files (set XDG_DATA_HOME)")]
    NoDataDir,
    #[error("{0}")]
    Export(#[from] IndexError),
}

/// Journal lines after which the journal is folded into the snapshot.
const COMPACT_AFTER_LINES: usize = 1000;

/// One change, as a journal line.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Change {
    Set(ReviewEntry),
    Clear(String),
}

/// All decisions for one dataset, backed by a snapshot file in the user's data folder and a
/// journal of the changes since (`<snapshot>.journal`, one JSON line per change).
pub struct ReviewStore {
    file: PathBuf,
    dataset_root: String,
    entries: BTreeMap<String, ReviewEntry>,
    /// For undo: the path changed and its previous entry.
    history: Vec<(String, Option<ReviewEntry>)>,
    /// Lines in the journal now.
    journal_lines: usize,
    /// A change could not be journaled (disk full): the next save writes a whole snapshot.
    unsaved: bool,
}

/// Where review files live: `$XDG_DATA_HOME/eyeball/reviews` (`~/.local/share/eyeball/reviews`).
pub fn default_review_dir() -> Option<PathBuf> {
    Some(dirs::data_dir()?.join("eyeball").join("reviews"))
}

/// The review file of the dataset at `root`, inside `dir`.
pub fn review_file_for(dir: &Path, root: &Path) -> PathBuf {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let key = xxhash_rust::xxh3::xxh3_64(root.to_string_lossy().as_bytes());
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{key:016x}.json"))
}

impl ReviewStore {
    /// Opens (or starts) the review file for `dataset_root` in `dir`. A corrupt file is moved
    /// aside (`.corrupt-<time>`) rather than overwritten, and reported.
    pub fn open(
        dir: &Path,
        dataset_root: &Path,
    ) -> Result<(ReviewStore, Option<ReviewError>), ReviewError> {
        let file = review_file_for(dir, dataset_root);
        let mut store = ReviewStore {
            file: file.clone(),
            dataset_root: dataset_root.display().to_string(),
            entries: BTreeMap::new(),
            history: Vec::new(),
            journal_lines: 0,
            unsaved: false,
        };
        let mut problem = None;
        match std::fs::read_to_string(&file) {
            Ok(text) => match serde_json::from_str::<ReviewFile>(&text) {
                Ok(saved) => {
                    store.entries = saved
                        .entries
                        .into_iter()
                        .map(|e| (e.path.clone(), e))
                        .collect();
                }
                Err(e) => {
                    let aside = file.with_extension(format!("corrupt-{}", now_ms()));
                    let _ = std::fs::rename(&file, &aside);
                    problem = Some(ReviewError::Corrupt {
                        path: file.clone(),
                        message: format!("{e}; moved to {}", aside.display()),
                    });
                }
            },
            Err(e) if never_saved(&e) => {}
            Err(e) => {
                return Err(ReviewError::Write {
                    path: file,
                    source: e,
                });
            }
        }
        let journal = store.journal();
        match std::fs::read_to_string(&journal) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                let mut unreadable = 0;
                for (k, line) in lines.iter().enumerate() {
                    match serde_json::from_str::<Change>(line) {
                        Ok(change) => store.apply(change),
                        // A kill during the last append leaves half a line: that change was
                        // never confirmed. Anything else unreadable is reported.
                        Err(_) if k + 1 == lines.len() => {}
                        Err(_) => unreadable += 1,
                    }
                }
                store.journal_lines = lines.len();
                if unreadable > 0 && problem.is_none() {
                    problem = Some(ReviewError::Corrupt {
                        path: journal,
                        message: format!("{unreadable} unreadable lines were skipped"),
                    });
                }
            }
            Err(e) if never_saved(&e) => {}
            Err(e) => {
                return Err(ReviewError::Write {
                    path: journal,
                    source: e,
                });
            }
        }
        Ok((store, problem))
    }

    /// The journal of changes since the snapshot.
    fn journal(&self) -> PathBuf {
        let mut name = self.file.clone().into_os_string();
        name.push(".journal");
        PathBuf::from(name)
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::Set(entry) => {
                self.entries.insert(entry.path.clone(), entry);
            }
            Change::Clear(path) => {
                self.entries.remove(&path);
            }
        }
    }

    /// Opens the store in the default data folder.
    pub fn open_default(
        dataset_root: &Path,
    ) -> Result<(ReviewStore, Option<ReviewError>), ReviewError> {
        ReviewStore::open(
            &default_review_dir().ok_or(ReviewError::NoDataDir)?,
            dataset_root,
        )
    }

    /// The file decisions are saved to.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The decision about `path`, if any.
    pub fn get(&self, path: &str) -> Option<&ReviewEntry> {
        self.entries.get(path)
    }

    /// All decisions, by path.
    pub fn entries(&self) -> impl Iterator<Item = &ReviewEntry> {
        self.entries.values()
    }

    /// Number of examples with a decision.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing was decided yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a decision and saves at once. On a failed save the decision stays in memory
    /// (and in the undo history) and the error is returned for the UI to show.
    pub fn record(&mut self, mut entry: ReviewEntry) -> Result<(), ReviewError> {
        if entry.timestamp_ms == 0 {
            entry.timestamp_ms = now_ms();
        }
        let previous = self.entries.insert(entry.path.clone(), entry.clone());
        self.history.push((entry.path.clone(), previous));
        self.save(Change::Set(entry))
    }

    /// Removes the decision about `path` and saves.
    pub fn clear(&mut self, path: &str) -> Result<(), ReviewError> {
        if let Some(previous) = self.entries.remove(path) {
            self.history.push((path.to_string(), Some(previous)));
        }
        self.save(Change::Clear(path.to_string()))
    }

    /// Undoes the last `record` or `clear`; returns the path it touched.
    pub fn undo(&mut self) -> Result<Option<String>, ReviewError> {
        let Some((path, previous)) = self.history.pop() else {
            return Ok(None);
        };
        let change = match previous {
            Some(entry) => Change::Set(entry),
            None => Change::Clear(path.clone()),
        };
        self.apply(change.clone());
        self.save(change)?;
        Ok(Some(path))
    }

    /// Makes `change` durable: one line appended to the journal and synced, so a keypress costs
    /// the same however many decisions there are. Every `COMPACT_AFTER_LINES` lines, or after a
    /// failed append, the whole state is written as the snapshot and the journal starts anew.
    fn save(&mut self, change: Change) -> Result<(), ReviewError> {
        if self.unsaved || self.journal_lines >= COMPACT_AFTER_LINES {
            return self.compact();
        }
        let journal = self.journal();
        let err = |source| ReviewError::Write {
            path: journal.clone(),
            source,
        };
        let append = || -> std::io::Result<()> {
            use std::io::Write;
            if let Some(dir) = journal.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut line = serde_json::to_vec(&change).map_err(std::io::Error::other)?;
            line.push(b'\n');
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&journal)?;
            file.write_all(&line)?;
            file.sync_data()
        };
        match append() {
            Ok(()) => {
                self.journal_lines += 1;
                Ok(())
            }
            Err(e) => {
                self.unsaved = true;
                Err(err(e))
            }
        }
    }

    /// Writes every decision as the snapshot (temporary file, fsync, rename), then empties the
    /// journal. A crash between the two only replays changes the snapshot already holds.
    fn compact(&mut self) -> Result<(), ReviewError> {
        self.write_snapshot()?;
        let journal = self.journal();
        match std::fs::remove_file(&journal) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(ReviewError::Write {
                    path: journal,
                    source,
                });
            }
        }
        self.journal_lines = 0;
        self.unsaved = false;
        Ok(())
    }

    /// Writes every decision: temporary file in the same folder, fsync, rename.
    fn write_snapshot(&self) -> Result<(), ReviewError> {
        let err = |source| ReviewError::Write {
            path: self.file.clone(),
            source,
        };
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let saved = ReviewFile {
            format: REVIEW_FORMAT.to_string(),
            dataset_root: self.dataset_root.clone(),
            entries: self.entries.values().cloned().collect(),
        };
        let json = serde_json::to_vec_pretty(&saved).map_err(|e| err(std::io::Error::other(e)))?;
        write_atomically(&self.file, |file| std::io::Write::write_all(file, &json)).map_err(err)
    }

    /// Decisions as a table: `path`, `given`, `new_label`, `decision`, `score`, `timestamp`.
    pub fn to_dataframe(&self) -> DataFrame {
        let entries: Vec<&ReviewEntry> = self.entries.values().collect();
        let column = |name: &str, values: Vec<Option<String>>| Column::new(name.into(), values);
        DataFrame::new(
            entries.len(),
            vec![
                column(
                    "path",
                    entries.iter().map(|e| Some(e.path.clone())).collect(),
                ),
                column("given", entries.iter().map(|e| e.given.clone()).collect()),
                column(
                    "new_label",
                    entries.iter().map(|e| e.new_label.clone()).collect(),
                ),
                column(
                    "decision",
                    entries
                        .iter()
                        .map(|e| Some(e.decision.name().to_string()))
                        .collect(),
                ),
                Column::new(
                    "score".into(),
                    entries
                        .iter()
                        .map(|e| e.score)
                        .collect::<Vec<Option<f64>>>(),
                ),
                Column::new(
                    "timestamp".into(),
                    entries.iter().map(|e| e.timestamp_ms).collect::<Vec<i64>>(),
                ),
            ],
        )
        .expect("review columns have equal lengths")
    }

    /// Writes the decisions to `.csv` or `.parquet`.
    pub fn export(&self, path: &Path) -> Result<(), ReviewError> {
        write_table(&mut self.to_dataframe(), path)?;
        Ok(())
    }

    /// The dataset's labels with decisions applied, for training code: `path`, `label`
    /// (relabels applied), `excluded` (flagged wrong without a label, or excluded duplicates).
    pub fn corrected_labels(&self, dataset: &Dataset) -> DataFrame {
        let mut paths = Vec::with_capacity(dataset.examples.len());
        let mut labels = Vec::with_capacity(dataset.examples.len());
        let mut excluded = Vec::with_capacity(dataset.examples.len());
        for example in &dataset.examples {
            let path = crate::dataset::relative_path_text(&example.path);
            let given = example.label.map(|l| dataset.classes[l].clone());
            let entry = self.entries.get(&path);
            labels.push(match entry {
                Some(ReviewEntry {
                    decision: Decision::Relabel,
                    new_label,
                    ..
                }) => new_label.clone(),
                _ => given,
            });
            excluded.push(matches!(
                entry.map(|e| &e.decision),
                Some(Decision::FlagWrong | Decision::Exclude)
            ));
            paths.push(path);
        }
        DataFrame::new(
            paths.len(),
            vec![
                Column::new("path".into(), paths),
                Column::new("label".into(), labels),
                Column::new("excluded".into(), excluded),
            ],
        )
        .expect("label columns have equal lengths")
    }
}

/// True when a read failed because the file cannot exist: it is missing, or a folder on its
/// path is a file. Nothing was saved then, and starting empty loses nothing; any other failure
/// (permissions, I/O) may hide saved decisions, which a later snapshot must not overwrite.
fn never_saved(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, decision: Decision, new_label: Option<&str>) -> ReviewEntry {
        ReviewEntry {
            path: path.into(),
            given: Some("cat".into()),
            decision,
            new_label: new_label.map(Into::into),
            score: Some(2.5),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn decisions_survive_a_reopen_and_undo_restores_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let (mut store, problem) = ReviewStore::open(dir.path(), root.path()).unwrap();
        assert!(problem.is_none() && store.is_empty());
        store
            .record(entry("a.png", Decision::FlagWrong, None))
            .unwrap();
        store
            .record(entry("a.png", Decision::Relabel, Some("dog")))
            .unwrap();
        store
            .record(entry("b.png", Decision::NotAnError, None))
            .unwrap();
        assert_eq!(store.undo().unwrap(), Some("b.png".to_string()));

        let (reopened, _) = ReviewStore::open(dir.path(), root.path()).unwrap();
        assert_eq!(reopened.len(), 1);
        let a = reopened.get("a.png").unwrap();
        assert_eq!(
            (a.decision.clone(), a.new_label.as_deref()),
            (Decision::Relabel, Some("dog"))
        );
        assert!(a.timestamp_ms > 0);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
    }

    #[test]
    fn a_torn_last_journal_line_is_dropped_and_every_confirmed_change_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let (mut store, _) = ReviewStore::open(dir.path(), &root).unwrap();
        store
            .record(entry("a.png", Decision::FlagWrong, None))
            .unwrap();
        store
            .record(entry("b.png", Decision::Relabel, Some("dog")))
            .unwrap();
        store.clear("a.png").unwrap();
        let journal = store.journal();
        // A kill -9 in the middle of the next append.
        let mut text = std::fs::read(&journal).unwrap();
        text.extend_from_slice(br#"{"set":{"path":"c.png","giv"#);
        std::fs::write(&journal, text).unwrap();
        let (store, problem) = ReviewStore::open(dir.path(), &root).unwrap();
        assert!(problem.is_none(), "{problem:?}");
        let paths: Vec<&str> = store.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["b.png"]);
        assert_eq!(
            store.get("b.png").unwrap().new_label.as_deref(),
            Some("dog")
        );
    }

    #[test]
    fn the_journal_is_folded_into_the_snapshot_and_stays_short() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let (mut store, _) = ReviewStore::open(dir.path(), &root).unwrap();
        let n = COMPACT_AFTER_LINES + 5;
        for i in 0..n {
            store
                .record(entry(&format!("{i:05}.png"), Decision::NotAnError, None))
                .unwrap();
        }
        assert!(store.file().is_file(), "a snapshot was written");
        let lines = std::fs::read_to_string(store.journal())
            .unwrap_or_default()
            .lines()
            .count();
        assert!(lines < COMPACT_AFTER_LINES, "{lines} journal lines");
        let (reopened, _) = ReviewStore::open(dir.path(), &root).unwrap();
        assert_eq!(reopened.len(), n);
    }

    #[test]
    fn a_failed_save_keeps_the_decision_and_the_next_save_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let (mut store, _) = ReviewStore::open(dir.path(), &root).unwrap();
        // The journal cannot be appended to: its name is taken by a folder.
        std::fs::create_dir_all(store.journal()).unwrap();
        let err = store
            .record(entry("a.png", Decision::FlagWrong, None))
            .unwrap_err();
        assert!(err.to_string().contains("cannot save"), "{err}");
        let journal_name = store
            .journal()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            err.to_string().contains(&journal_name),
            "names the file: {err}"
        );
        assert!(store.get("a.png").is_some(), "kept in memory");
        std::fs::remove_dir(store.journal()).unwrap();
        store
            .record(entry("b.png", Decision::FlagWrong, None))
            .unwrap();
        let (reopened, _) = ReviewStore::open(dir.path(), &root).unwrap();
        assert_eq!(reopened.len(), 2);
    }

    #[test]
    fn decisions_made_while_the_review_folder_cannot_be_made_are_all_saved_later() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        // The review folder's parent is a file, as when a data folder is misconfigured.
        let blocker = tmp.path().join("blocker");
        std::fs::write(&blocker, b"a file").unwrap();
        let dir = blocker.join("reviews");
        let (mut store, _) = ReviewStore::open(&dir, &root).unwrap();
        for (i, path) in ["a.png", "b.png", "c.png"].into_iter().enumerate() {
            let err = store
                .record(entry(path, Decision::FlagWrong, None))
                .unwrap_err();
            assert!(err.to_string().contains("blocker"), "names the file: {err}");
            assert_eq!(store.len(), i + 1, "kept in memory");
        }
        store.undo().unwrap_err();
        assert_eq!(store.len(), 2, "the undo is kept in memory too");
        std::fs::remove_file(&blocker).unwrap();
        store
            .record(entry("d.png", Decision::Relabel, Some("dog")))
            .unwrap();
        let (reopened, problem) = ReviewStore::open(&dir, &root).unwrap();
        assert!(problem.is_none(), "{problem:?}");
        let paths: Vec<&str> = reopened.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["a.png", "b.png", "d.png"]);
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let file = review_file_for(dir.path(), root.path());
        std::fs::write(&file, b"{ half a file").unwrap();
        let (mut store, problem) = ReviewStore::open(dir.path(), root.path()).unwrap();
        assert!(matches!(problem, Some(ReviewError::Corrupt { .. })));
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(std::fs::read(aside[0].path()).unwrap(), b"{ half a file");
        store.record(entry("x.png", Decision::Keep, None)).unwrap();
        assert_eq!(
            ReviewStore::open(dir.path(), root.path()).unwrap().0.len(),
            1
        );
    }

    #[test]
    fn exports_and_corrected_labels_apply_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        for (class, name) in [("cat", "1.png"), ("cat", "2.png"), ("dog", "3.png")] {
            std::fs::create_dir_all(root.path().join(class)).unwrap();
            image::GrayImage::new(2, 2)
                .save(root.path().join(class).join(name))
                .unwrap();
        }
        let dataset = Dataset::open(root.path()).unwrap();
        let (mut store, _) = ReviewStore::open(dir.path(), root.path()).unwrap();
        store
            .record(entry("cat/1.png", Decision::Relabel, Some("dog")))
            .unwrap();
        store
            .record(entry("cat/2.png", Decision::FlagWrong, None))
            .unwrap();
        let labels = store.corrected_labels(&dataset);
        let label: Vec<Option<&str>> = labels
            .column("label")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(label, vec![Some("dog"), Some("cat"), Some("dog")]);
        let excluded: Vec<Option<bool>> = labels
            .column("excluded")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(excluded, vec![Some(false), Some(true), Some(false)]);
        let out = dir.path().join("decisions.csv");
        store.export(&out).unwrap();
        let text = std::fs::read_to_string(out).unwrap();
        assert!(
            text.starts_with("path,given,new_label,decision,score,timestamp"),
            "{text}"
        );
        assert!(text.contains("cat/1.png,cat,dog,relabel,2.5,"), "{text}");
    }
}
