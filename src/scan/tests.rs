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

#[test]
fn a_dataset_of_look_alikes_raises_the_bar_and_keeps_its_copies() {
    // 150 strokes, alike as one digit written by different hands (of which 475 pairs reach the
    // setting), and three planted copies.
    let dir = tempfile::tempdir().unwrap();
    let (strokes, photos) = (dir.path().join("strokes"), dir.path().join("photos"));
    std::fs::create_dir_all(&strokes).unwrap();
    std::fs::create_dir_all(&photos).unwrap();
    let look_alikes: Vec<image::RgbImage> =
        (0..150).map(|k| fixture::stroke(1000 + k, 28)).collect();
    for (k, stroke) in look_alikes.iter().enumerate() {
        stroke.save(strokes.join(format!("{k:02}.png"))).unwrap();
    }
    let recoloured = image::DynamicImage::ImageRgb8(look_alikes[0].clone())
        .adjust_contrast(-40.0)
        .brighten(30);
    recoloured.save(strokes.join("copy_of_00.png")).unwrap();
    image::imageops::resize(
        &look_alikes[1],
        40,
        40,
        image::imageops::FilterType::Triangle,
    )
    .save(strokes.join("copy_of_01.png"))
    .unwrap();
    let photo = fixture::texture(1, 64, 64);
    photo.save(photos.join("photo.png")).unwrap();
    image::DynamicImage::ImageRgb8(photo)
        .brighten(40)
        .save(photos.join("photo_brighter.png"))
        .unwrap();

    // At the setting alone, the strokes would come out as a flood of near duplicates.
    let signatures: Vec<Signature> = look_alikes
        .iter()
        .map(|s| Signature::of(&image::DynamicImage::ImageRgb8(s.clone())))
        .collect();
    let settings = ScanSettings::default();
    let alike_pairs = (0..signatures.len())
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .filter(|&(i, j)| {
            signature::similarity(&signatures[i].gray, &signatures[j].gray)
                >= settings.near_duplicate_min_similarity
        })
        .count();
    assert!(alike_pairs >= 150, "only {alike_pairs} look-alike pairs");

    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let report = scan(&dataset, &index, &settings, &Progress::default()).unwrap();
    // Twice the look-alike level (about 0.85) on Fisher's z scale: above every pair of strokes
    // (the closest is at 0.981), below the copies (the rescaled one is at 0.997).
    assert!(
        report.near_duplicate_threshold > 0.95,
        "threshold {}",
        report.near_duplicate_threshold
    );
    assert!(
        report.notes.iter().any(|w| w.contains("look-alike")),
        "{:?}",
        report.notes
    );
    let flagged: BTreeSet<String> = report
        .examples_with(IssueKind::NearDuplicate)
        .into_iter()
        .map(|i| relative_path_text(&dataset.examples[i].path))
        .collect();
    let planted: BTreeSet<String> = [
        "strokes/00.png",
        "strokes/copy_of_00.png",
        "strokes/01.png",
        "strokes/copy_of_01.png",
        "photos/photo.png",
        "photos/photo_brighter.png",
    ]
    .map(String::from)
    .into();
    assert_eq!(flagged, planted);
}

#[test]
fn varied_pictures_keep_the_setting() {
    // Sixty unrelated pictures and a cropped copy of one (similarity 0.93).
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for k in 0..60 {
        fixture::texture(200 + k, 64, 64)
            .save(photos.join(format!("{k:02}.png")))
            .unwrap();
    }
    let cropped =
        image::imageops::crop_imm(&fixture::texture(200, 64, 64), 3, 2, 61, 62).to_image();
    image::imageops::resize(&cropped, 64, 64, image::imageops::FilterType::Triangle)
        .save(photos.join("copy_of_00.png"))
        .unwrap();
    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let settings = ScanSettings::default();
    let report = scan(&dataset, &index, &settings, &Progress::default()).unwrap();
    assert_eq!(
        report.near_duplicate_threshold,
        settings.near_duplicate_min_similarity
    );
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let flagged: Vec<String> = report
        .examples_with(IssueKind::NearDuplicate)
        .into_iter()
        .map(|i| relative_path_text(&dataset.examples[i].path))
        .collect();
    assert_eq!(flagged.len(), 2, "{flagged:?}");
    assert!(flagged.contains(&"photos/copy_of_00.png".to_string()));
}

#[test]
fn the_bar_rises_only_where_unrelated_images_are_alike() {
    use duplicates::min_similarity_for;
    // Photos: unrelated images are far apart, and the setting stands.
    assert_eq!(min_similarity_for(0.8, -1.0), 0.8);
    assert_eq!(min_similarity_for(0.8, 0.35), 0.8);
    assert_eq!(min_similarity_for(0.8, 0.5), 0.8);
    // Digits: twice the level on Fisher's z scale.
    let digits = min_similarity_for(0.8, 0.82);
    assert!((digits - (2.0 * 0.82f32.atanh()).tanh()).abs() < 1e-6);
    assert!(digits > 0.979 && digits < 0.982, "{digits}");
    assert!(min_similarity_for(0.8, 0.9) > digits);
    // A stricter setting than the dataset's bar still counts.
    assert_eq!(min_similarity_for(0.99, 0.82), 0.99);
    // Where every image has a twin, the bar is all but identity, and still a number.
    let twins = min_similarity_for(0.8, 1.0);
    assert!(twins > 0.999 && twins <= 1.0, "{twins}");
}
