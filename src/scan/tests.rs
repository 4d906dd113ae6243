//! The scan end to end on the planted-problem fixture (shared with `tests/scan_cli.rs`).

#[path = "../../tests/scan_fixture/mod.rs"]
pub(super) mod fixture;

use std::collections::BTreeSet;

use super::*;
use crate::index::{IndexCache, build_index};

fn scan_fixture(settings: &ScanSettings) -> (tempfile::TempDir, Dataset, ScanReport) {
    let dir = tempfile::tempdir().unwrap();
    fixture::write(dir.path());
    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let report = scan(&dataset, &index, settings, &Progress::default()).unwrap();
    (dir, dataset, report)
}

fn found(dataset: &Dataset, report: &ScanReport) -> BTreeSet<(String, &'static str)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                relative_path_text(&dataset.examples[f.example].path),
                f.kind.name(),
            )
        })
        .collect()
}

#[test]
fn every_planted_problem_is_found_and_clean_images_are_not_flagged() {
    let (_dir, dataset, report) = scan_fixture(&ScanSettings::default());
    let found = found(&dataset, &report);
    let missing: Vec<_> = fixture::EXPECTED
        .iter()
        .filter(|(p, k)| !found.contains(&(p.to_string(), *k)))
        .collect();
    assert!(
        missing.is_empty(),
        "not found: {missing:?}\nall findings: {found:#?}"
    );
    let clean: Vec<_> = found.iter().filter(|(p, _)| p.contains("clean_")).collect();
    assert!(clean.is_empty(), "clean images flagged: {clean:#?}");
    let unexpected: Vec<_> = found
        .iter()
        .filter(|(p, k)| !fixture::EXPECTED.contains(&(p.as_str(), *k)))
        // Planted extremes may also be outliers; anything else is a false alarm.
        .filter(|(_, k)| !matches!(*k, "outlier" | "stat_outlier"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected findings: {unexpected:#?}"
    );
}

#[test]
fn duplicate_groups_say_what_they_share() {
    let (_dir, dataset, report) = scan_fixture(&ScanSettings::default());
    let group_of = |name: &str| {
        let i = dataset
            .examples
            .iter()
            .position(|e| e.path.ends_with(name))
            .unwrap();
        report
            .groups
            .iter()
            .find(|g| g.members.contains(&i))
            .unwrap_or_else(|| panic!("{name} is in no group"))
    };
    let exact = group_of("exact_a.png");
    assert!(exact.exact && !exact.labels_differ && !exact.spans_splits);
    assert_eq!(exact.members.len(), 2);
    let recolored = group_of("recolor_b.png");
    assert!(!recolored.exact && recolored.labels_differ && !recolored.spans_splits);
    let shifted = group_of("shift_c.png");
    assert!(shifted.spans_splits && !shifted.labels_differ);
    assert_eq!(report.groups.len(), 4, "{:#?}", report.groups);
    for (id, group) in report.groups.iter().enumerate() {
        assert_eq!(group.id, id);
    }
}

#[test]
fn findings_are_ranked_counted_and_tabled() {
    let (_dir, dataset, report) = scan_fixture(&ScanSettings::default());
    let counts = report.counts();
    assert_eq!(counts.len(), IssueKind::ALL.len());
    assert_eq!(
        counts
            .iter()
            .find(|(k, _)| *k == IssueKind::Corrupt)
            .unwrap()
            .1,
        3
    );
    assert_eq!(report.examples_with(IssueKind::ExactDuplicate).len(), 2);
    for pair in report.findings.windows(2) {
        assert!(
            pair[0].kind < pair[1].kind
                || (pair[0].kind == pair[1].kind && pair[0].score >= pair[1].score)
        );
    }
    let df = report.to_dataframe(&dataset);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        ["path", "issue", "score", "group", "partner", "detail"]
    );
    assert_eq!(df.height(), report.findings.len());
    for kind in IssueKind::ALL {
        assert_eq!(IssueKind::from_name(kind.name()), Some(kind));
    }
}

#[test]
fn a_stricter_similarity_drops_the_weaker_near_duplicates() {
    let strict = ScanSettings {
        near_duplicate_min_similarity: 0.999,
        ..ScanSettings::default()
    };
    let (_dir, _dataset, report) = scan_fixture(&strict);
    assert_eq!(report.near_pairs, 0);
    assert!(report.examples_with(IssueKind::NearDuplicate).is_empty());
    assert_eq!(report.examples_with(IssueKind::ExactDuplicate).len(), 2);
}

#[test]
fn a_cancelled_scan_stops() {
    let dir = tempfile::tempdir().unwrap();
    fixture::write(dir.path());
    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let progress = Progress::default();
    progress.cancel();
    assert!(matches!(
        scan(&dataset, &index, &ScanSettings::default(), &progress),
        Err(ScanError::Cancelled)
    ));
    let short = Index {
        records: index.records[1..].to_vec(),
        ..index
    };
    assert!(matches!(
        scan(
            &dataset,
            &short,
            &ScanSettings::default(),
            &Progress::default()
        ),
        Err(ScanError::IndexMismatch { .. })
    ));
}
