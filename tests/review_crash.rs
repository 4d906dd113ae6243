//! Crash safety of review decisions: a process killed with SIGKILL while saving decisions loses
//! none that it had saved, and leaves a review file that still opens.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use eyeball::review::{Decision, ReviewEntry, ReviewStore};

const CHILD_ENV: &str = "EYEBALL_REVIEW_CRASH_CHILD";

/// In the child: records decisions as fast as it can, printing each one once it is saved.
fn run_child(dir: &str, root: &str) -> ! {
    let (mut store, _) =
        ReviewStore::open(std::path::Path::new(dir), std::path::Path::new(root)).unwrap();
    for i in 0.. {
        let entry = ReviewEntry {
            path: format!("class/{i:06}.png"),
            given: Some("cat".into()),
            decision: if i % 2 == 0 {
                Decision::FlagWrong
            } else {
                Decision::Relabel
            },
            new_label: (i % 2 == 1).then(|| "dog".to_string()),
            score: Some(i as f64),
            timestamp_ms: 0,
        };
        store.record(entry).unwrap();
        println!("saved {i}");
    }
    unreachable!()
}

#[test]
fn kill_9_during_a_review_loses_no_saved_decision() {
    if let (Ok(dir), Ok(root)) = (
        std::env::var(CHILD_ENV),
        std::env::var("EYEBALL_REVIEW_CRASH_ROOT"),
    ) {
        run_child(&dir, &root);
    }
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "kill_9_during_a_review_loses_no_saved_decision",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .env("EYEBALL_REVIEW_CRASH_ROOT", root.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut last_saved = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("saved ") {
            last_saved = Some(n.parse::<usize>().unwrap());
            if last_saved >= Some(300) {
                // SIGKILL: no destructors, no flushing; the child may be mid-write.
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    let last_saved = last_saved.expect("the child saved decisions");

    let (store, problem) = ReviewStore::open(dir.path(), root.path()).unwrap();
    assert!(problem.is_none(), "the review file is corrupt: {problem:?}");
    assert!(
        store.len() > last_saved,
        "{} decisions on disk, {} were acknowledged",
        store.len(),
        last_saved + 1
    );
    for i in 0..=last_saved {
        let entry = store
            .get(&format!("class/{i:06}.png"))
            .unwrap_or_else(|| panic!("decision {i} lost"));
        assert_eq!(entry.score, Some(i as f64));
    }
}
