//! The scan end to end on the planted-problem fixture (shared with `tests/scan_cli.rs`).

#[path = "../../tests/scan_fixture/mod.rs"]
pub(super) mod fixture;

use std::collections::BTreeSet;

use super::*;
use crate::index::{IndexCache, build_index};

/// The planted-problem fixture in a temporary folder, opened and indexed (into `cache`).
fn indexed_fixture(cache: IndexCache) -> (tempfile::TempDir, Dataset, Index) {
    let dir = tempfile::tempdir().unwrap();
    fixture::write(dir.path());
    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, cache, &Progress::default()).unwrap();
    (dir, dataset, index)
}

fn scan_fixture(settings: &ScanSettings) -> (tempfile::TempDir, Dataset, ScanReport) {
    let (dir, dataset, index) = indexed_fixture(IndexCache::None);
    let report = scan(&dataset, &index, settings, &Progress::default()).unwrap();
    (dir, dataset, report)
}

/// The scan of `index` with the default settings.
fn default_scan(dataset: &Dataset, index: &Index) -> ScanReport {
    scan(
        dataset,
        index,
        &ScanSettings::default(),
        &Progress::default(),
    )
    .unwrap()
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

/// Scans the folder `root` with `settings`; the paths flagged as near duplicates.
fn near_duplicates_in(root: &std::path::Path, settings: &ScanSettings) -> BTreeSet<String> {
    let dataset = Dataset::open(root).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let report = scan(&dataset, &index, settings, &Progress::default()).unwrap();
    report
        .examples_with(IssueKind::NearDuplicate)
        .into_iter()
        .map(|i| relative_path_text(&dataset.examples[i].path))
        .collect()
}

/// Writes `count` unrelated 64×64 pictures (seeds from `first_seed`) into `folder` as `00.png`,
/// `01.png`, ...
fn write_textures(folder: &std::path::Path, first_seed: u64, count: u64) {
    std::fs::create_dir_all(folder).unwrap();
    for k in 0..count {
        fixture::texture(first_seed + k, 64, 64)
            .save(folder.join(format!("{k:02}.png")))
            .unwrap();
    }
}

/// Copies of one picture by every kind of transform the same-shot rule allows, named after it.
fn transformed_copies(original: &image::RgbImage) -> Vec<(&'static str, image::DynamicImage)> {
    use image::imageops::FilterType;
    let photo = image::DynamicImage::ImageRgb8(original.clone());
    let (w, h) = (original.width(), original.height());
    let shifted = {
        // 8% of the side to the right, the uncovered strip repeating the edge column.
        let dx = w * 8 / 100;
        image::RgbImage::from_fn(w, h, |x, y| *original.get_pixel(x.saturating_sub(dx), y))
    };
    let mut jpeg = Vec::new();
    photo
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut jpeg, 30,
        ))
        .unwrap();
    vec![
        ("shift_8", image::DynamicImage::ImageRgb8(shifted)),
        (
            "crop_10",
            photo
                .crop_imm(w * 7 / 100, h * 3 / 100, w * 90 / 100, h * 90 / 100)
                .resize_exact(w, h, FilterType::CatmullRom),
        ),
        (
            "half_size",
            photo.resize_exact(w / 2, h / 2, FilterType::CatmullRom),
        ),
        (
            "double_size",
            photo.resize_exact(w * 2, h * 2, FilterType::CatmullRom),
        ),
        ("darker_flatter", photo.brighten(-30).adjust_contrast(-30.0)),
        (
            "gray",
            image::DynamicImage::ImageRgb8(photo.grayscale().to_rgb8()),
        ),
        ("jpeg_30", image::load_from_memory(&jpeg).unwrap()),
    ]
}

#[test]
fn planted_copies_of_every_transform_kind_are_found() {
    // Each kind of copy made from its own picture, among unrelated ones.
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    write_textures(&photos, 300, 40);
    let kinds: Vec<&str> = transformed_copies(&fixture::texture(300, 64, 64))
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for (k, name) in kinds.iter().enumerate() {
        // The k-th kind of copy, of the k-th picture.
        let (_, copy) =
            transformed_copies(&fixture::texture(300 + k as u64, 64, 64)).swap_remove(k);
        copy.to_rgb8()
            .save(photos.join(format!("copy_{name}_of_{k:02}.png")))
            .unwrap();
    }
    let flagged = near_duplicates_in(dir.path(), &ScanSettings::default());
    for (k, name) in kinds.iter().enumerate() {
        for file in [
            format!("photos/copy_{name}_of_{k:02}.png"),
            format!("photos/{k:02}.png"),
        ] {
            assert!(
                flagged.contains(&file),
                "{file} not found; flagged: {flagged:?}"
            );
        }
    }
    // Only the originals and their copies.
    assert_eq!(flagged.len(), 2 * kinds.len(), "{flagged:?}");
}

#[test]
fn a_mirrored_copy_counts_only_when_mirrors_are_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    write_textures(&photos, 500, 20);
    image::imageops::flip_horizontal(&fixture::texture(500, 64, 64))
        .save(photos.join("mirrored_00.png"))
        .unwrap();
    assert!(near_duplicates_in(dir.path(), &ScanSettings::default()).is_empty());
    let mirrors = ScanSettings {
        near_duplicate_mirror: true,
        ..ScanSettings::default()
    };
    assert_eq!(
        near_duplicates_in(dir.path(), &mirrors),
        BTreeSet::from([
            "photos/00.png".to_string(),
            "photos/mirrored_00.png".to_string()
        ])
    );
}

#[test]
fn the_same_pairs_are_found_in_a_ten_times_larger_dataset() {
    let write_fixture = |root: &std::path::Path, extra: u64| {
        let photos = root.join("photos");
        write_textures(&photos, 700, 30);
        for (name, copy) in transformed_copies(&fixture::texture(701, 64, 64)) {
            copy.to_rgb8()
                .save(photos.join(format!("copy_{name}.png")))
                .unwrap();
        }
        write_textures(&root.join("more"), 5000, extra);
    };
    let (small, large) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_fixture(small.path(), 0);
    write_fixture(large.path(), 330);
    let settings = ScanSettings::default();
    let in_small = near_duplicates_in(small.path(), &settings);
    assert!(in_small.contains("photos/01.png"), "{in_small:?}");
    let in_large: BTreeSet<String> = near_duplicates_in(large.path(), &settings)
        .into_iter()
        .filter(|p| p.starts_with("photos/"))
        .collect();
    assert_eq!(in_small, in_large);
}

#[test]
fn a_cancelled_scan_stops() {
    let (_dir, dataset, index) = indexed_fixture(IndexCache::None);
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
fn a_dataset_of_look_alikes_flags_only_its_copies() {
    // 150 strokes, alike as one digit written by different hands, and three planted copies.
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

    // The strokes are look-alikes: many pairs correlate highly, pixel for pixel.
    let gray: Vec<Vec<f32>> = look_alikes
        .iter()
        .map(|s| {
            Signature::of(&image::DynamicImage::ImageRgb8(s.clone()))
                .gray
                .iter()
                .map(|&v| f32::from(v))
                .collect()
        })
        .collect();
    let correlation = |a: &[f32], b: &[f32]| {
        let n = a.len() as f32;
        let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
        let cov: f32 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f32 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f32 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    };
    let alike_pairs = (0..gray.len())
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .filter(|&(i, j)| correlation(&gray[i], &gray[j]) >= 0.8)
        .count();
    assert!(alike_pairs >= 150, "only {alike_pairs} look-alike pairs");

    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let report = default_scan(&dataset, &index);
    let path = |i: usize| relative_path_text(&dataset.examples[i].path);
    let planted = [
        ("strokes/00.png", "strokes/copy_of_00.png"),
        ("strokes/01.png", "strokes/copy_of_01.png"),
        ("photos/photo.png", "photos/photo_brighter.png"),
    ];
    let is_planted = |p: &NearPair| {
        let pair = (path(p.a.min(p.b)), path(p.a.max(p.b)));
        planted
            .iter()
            .any(|&(a, b)| pair == (a.to_string(), b.to_string()))
    };
    // Every copy is found, and ranks above every pair of look-alikes: the top of the list is right.
    let found = report.near_pairs.iter().filter(|p| is_planted(p)).count();
    assert_eq!(found, planted.len(), "{:?}", report.near_pairs);
    let first_look_alike = report.near_pairs.iter().position(|p| !is_planted(p));
    assert!(
        first_look_alike.is_none_or(|k| k >= planted.len()),
        "{:?}",
        report.near_pairs
    );
    // And look-alikes that crowd one another are held to a stricter bar: far fewer pairs than
    // the same-shot rule alone accepts among the strokes.
    let views: Vec<verify::View> = gray_u8(&look_alikes)
        .iter()
        .map(|g| verify::View::of(g, 28))
        .collect();
    let tolerance = verify::Tolerance { mirror: false };
    let accepted_alone = (0..views.len())
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .filter(|&(i, j)| {
            verify::compare(&views[i], &views[j], tolerance).is_some_and(|c| c.is_same_shot())
        })
        .count();
    let flagged_look_alikes = report.near_pairs.len() - planted.len();
    assert!(
        flagged_look_alikes * 10 <= accepted_alone,
        "{flagged_look_alikes} look-alike pairs flagged, {accepted_alone} accepted by the rule alone"
    );
}

#[test]
fn pairs_set_aside_unmeasured_still_count_in_a_crowd_of_look_alikes() {
    // Crowds of blocky look-alikes, some close to each other, most far below the tone bar.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("blocks");
    std::fs::create_dir_all(&folder).unwrap();
    for (k, image) in fixture::blocky_look_alikes(77, 12, 40).iter().enumerate() {
        image.save(folder.join(format!("b{k:03}.png"))).unwrap();
    }
    let dataset = Dataset::open(dir.path()).unwrap();
    let index = build_index(&dataset, IndexCache::None, &Progress::default()).unwrap();
    let pairs = |report: &ScanReport| -> Vec<(usize, usize)> {
        report.near_pairs.iter().map(|p| (p.a, p.b)).collect()
    };
    let screened = pairs(&default_scan(&dataset, &index));
    verify::SCREENING.store(false, std::sync::atomic::Ordering::Relaxed);
    let in_full = pairs(&default_scan(&dataset, &index));
    verify::SCREENING.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(screened, in_full);
}

fn gray_u8(images: &[image::RgbImage]) -> Vec<Vec<u8>> {
    images
        .iter()
        .map(|s| Signature::of(&image::DynamicImage::ImageRgb8(s.clone())).gray)
        .collect()
}

#[test]
fn leakage_is_reported_per_pair_of_splits() {
    let (_dir, dataset, report) = scan_fixture(&ScanSettings::default());
    let leakage = &report.leakage;
    assert!(!leakage.is_empty());
    for leak in leakage {
        assert_ne!(leak.split, leak.other);
        for &(example, partner, _) in &leak.examples {
            assert_eq!(dataset.examples[example].split, Some(leak.split));
            assert_eq!(dataset.examples[partner].split, Some(leak.other));
        }
        assert!(leak.examples.windows(2).all(|w| w[0].2 >= w[1].2));
    }
    // The shifted copy across train and test leaks both ways.
    let names = |l: &Leakage| {
        (
            dataset.splits[l.split].clone(),
            dataset.splits[l.other].clone(),
        )
    };
    let pairs: BTreeSet<(String, String)> = leakage.iter().map(names).collect();
    assert!(
        pairs.contains(&("train".into(), "test".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("test".into(), "train".into())),
        "{pairs:?}"
    );
    let text = leakage_text(&report, &dataset);
    assert!(text.contains("have the same shot in"), "{text}");
}

/// Whether two signings of one file agree in every field.
fn same_signed(a: &Signed, b: &Signed) -> bool {
    let same_signature = match (&a.0, &b.0) {
        (Some(x), Some(y)) => {
            (&x.gray, &x.embed, x.has_structure, x.source_side)
                == (&y.gray, &y.embed, y.has_structure, y.source_side)
        }
        (x, y) => x.is_none() && y.is_none(),
    };
    same_signature && a.1 == b.1
}

#[test]
fn a_cold_index_saves_every_images_signature_as_the_scan_would_make_it() {
    let cache = tempfile::tempdir().unwrap();
    let (_dir, dataset, index) = indexed_fixture(IndexCache::At(cache.path().to_path_buf()));
    let file = index.signature_cache.clone().expect("a cache folder");
    let saved = signature_cache::read(&file, &dataset, &index.records, &Progress::default(), true)
        .unwrap()
        .signed;
    for (i, example) in dataset.examples.iter().enumerate() {
        match &saved[i] {
            Some(saved) => assert!(
                same_signed(saved, &sign(&dataset.absolute_path(example))),
                "{:?}",
                example.path
            ),
            // Only files that cannot be decoded have no row.
            None => assert!(!index.records[i].is_readable(), "{:?}", example.path),
        }
    }
    assert!(saved.iter().filter(|s| s.is_some()).count() > dataset.examples.len() / 2);
}

#[test]
fn a_scan_with_saved_signatures_finds_what_a_scan_without_them_finds() {
    let (_dir, dataset, uncached) = scan_fixture(&ScanSettings::default());
    let cache = tempfile::tempdir().unwrap();
    let cache = IndexCache::At(cache.path().to_path_buf());
    let index = build_index(&dataset, cache, &Progress::default()).unwrap();
    let cached = default_scan(&dataset, &index);
    assert_eq!(found(&dataset, &cached), found(&dataset, &uncached));
    let pairs = |r: &ScanReport| -> Vec<(usize, usize)> {
        r.near_pairs.iter().map(|p| (p.a, p.b)).collect()
    };
    assert_eq!(pairs(&cached), pairs(&uncached));
    assert!(cached.warnings.is_empty(), "{:?}", cached.warnings);
    let cancelled = Progress::default();
    cancelled.cancel();
    assert!(matches!(
        scan(&dataset, &index, &ScanSettings::default(), &cancelled),
        Err(ScanError::Cancelled)
    ));
    // The scan reads the signatures instead of decoding again: with every file gone, it still
    // finds the same near duplicates.
    for example in &dataset.examples {
        std::fs::remove_file(dataset.absolute_path(example)).unwrap();
    }
    let again = default_scan(&dataset, &index);
    assert!(!again.near_pairs.is_empty());
    assert_eq!(pairs(&again), pairs(&uncached));
}

#[test]
fn a_changed_file_or_a_damaged_cache_is_signed_again_and_saved() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fixture::write(dir.path());
    let cache = IndexCache::At(cache.path().to_path_buf());
    let dataset = Dataset::open(dir.path()).unwrap();
    build_index(&dataset, cache.clone(), &Progress::default()).unwrap();
    // One image changes: the warm index decodes it again, and its saved signature no longer counts.
    let changed = dataset
        .examples
        .iter()
        .position(|e| e.path.ends_with("shift_c.png"))
        .unwrap();
    let changed_path = dataset.absolute_path(&dataset.examples[changed]);
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])
    })
    .save(&changed_path)
    .unwrap();
    let index = build_index(&dataset, cache, &Progress::default()).unwrap();
    let file = index.signature_cache.clone().unwrap();
    let read = |index: &Index| {
        signature_cache::read(&file, &dataset, &index.records, &Progress::default(), true)
            .map(|cached| cached.signed)
    };
    let readable = index.readable_examples().len();
    let before = read(&index).unwrap();
    assert!(before[changed].is_none());
    assert_eq!(before.iter().filter(|s| s.is_some()).count(), readable - 1);
    default_scan(&dataset, &index);
    let after = read(&index).unwrap();
    assert!(same_signed(
        after[changed].as_ref().unwrap(),
        &sign(&changed_path)
    ));
    // A damaged file is named, ignored and written again.
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 7]).unwrap();
    assert!(read(&index).is_err());
    let report = default_scan(&dataset, &index);
    let warning = report.warnings.join("\n");
    assert!(
        warning.contains(&file.display().to_string()) && warning.contains("ignored"),
        "{warning}"
    );
    let again = read(&index).unwrap();
    assert_eq!(again.iter().filter(|s| s.is_some()).count(), readable);
}

#[test]
fn a_duplicate_search_cancelled_while_describing_never_searches() {
    let (_dir, dataset, index) = indexed_fixture(IndexCache::None);
    let signatures: Vec<Option<Signature>> = dataset
        .examples
        .iter()
        .zip(&index.records)
        .map(|(example, record)| {
            record
                .is_readable()
                .then(|| sign(&dataset.absolute_path(example)).0)
                .flatten()
        })
        .collect();
    let progress = Progress::default();
    progress.cancel();
    let found = duplicates::find(
        &dataset,
        &index,
        &Thumbnails::new(&signatures, None),
        None,
        &ScanSettings::default(),
        &progress,
        &mut Vec::new(),
    );
    assert!(found.near_pairs.is_empty());
    let stages: Vec<String> = progress
        .stage_seconds()
        .into_iter()
        .map(|(stage, _)| stage)
        .collect();
    assert!(
        stages.contains(&"describing images".to_string()),
        "{stages:?}"
    );
    assert!(
        !stages
            .iter()
            .any(|s| s.contains("searching") || s.contains("comparing")),
        "{stages:?}"
    );
}

#[test]
fn thumbnails_over_their_memory_share_are_read_back_from_the_cache_with_the_same_findings() {
    let (_dir, dataset, in_memory) = scan_fixture(&ScanSettings::default());
    let cache = tempfile::tempdir().unwrap();
    let index = build_index(
        &dataset,
        IndexCache::At(cache.path().to_path_buf()),
        &Progress::default(),
    )
    .unwrap();
    // A budget whose share cannot hold this fixture's thumbnails.
    let thumbnails_bytes = (dataset.examples.len() * signature::THUMB_SIDE.pow(2)) as u64;
    let tight = ScanSettings {
        memory_budget_bytes: THUMBNAILS_SHARE_OF_BUDGET * thumbnails_bytes - 1,
        ..ScanSettings::default()
    };
    let check_read_back = |index: &Index| {
        let (signed, rows) = signatures_of(
            &dataset,
            index,
            &tight,
            &Progress::default(),
            &mut Vec::new(),
        );
        let signatures: Vec<Option<Signature>> = signed.into_iter().map(|s| s.0).collect();
        let thumbnails = Thumbnails::new(&signatures, rows.as_ref());
        let held = thumbnails.hold(&vec![true; signatures.len()]);
        for (i, signature) in signatures.iter().enumerate() {
            let Some(signature) = signature else { continue };
            assert!(
                signature.gray.is_empty() && signature.embed.is_empty(),
                "in memory: {i}"
            );
            let own = sign(&dataset.absolute_path(&dataset.examples[i]))
                .0
                .unwrap();
            assert_eq!(*thumbnails.gray(i), own.gray, "{i}");
            assert_eq!(*thumbnails.embed(i), own.embed, "{i}");
            assert_eq!(held.gray(i), own.gray, "{i}");
        }
        assert_eq!(thumbnails.unreadable(), 0);
    };
    check_read_back(&index);
    let pairs = |r: &ScanReport| -> Vec<(usize, usize)> {
        r.near_pairs.iter().map(|p| (p.a, p.b)).collect()
    };
    let read_back = scan(&dataset, &index, &tight, &Progress::default()).unwrap();
    assert_eq!(found(&dataset, &read_back), found(&dataset, &in_memory));
    assert_eq!(pairs(&read_back), pairs(&in_memory));
    // A changed file is decoded again, and the rewritten cache holds every thumbnail, old and new.
    let changed = dataset
        .examples
        .iter()
        .find(|e| e.path.ends_with("shift_c.png"))
        .map(|e| dataset.absolute_path(e))
        .unwrap();
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])
    })
    .save_with_format(&changed, image::ImageFormat::Png)
    .unwrap();
    let index = build_index(
        &dataset,
        IndexCache::At(cache.path().to_path_buf()),
        &Progress::default(),
    )
    .unwrap();
    check_read_back(&index);
}

#[test]
fn the_search_room_does_not_depend_on_what_else_the_process_holds() {
    let (_dir, dataset, index) = indexed_fixture(IndexCache::None);
    // Room for this small fixture's search, but not for 300 MB more.
    let settings = ScanSettings {
        memory_budget_bytes: PROGRAM_BYTES + (150 << 20),
        ..ScanSettings::default()
    };
    let findings = |report: &ScanReport| {
        let pairs: Vec<(usize, usize)> = report.near_pairs.iter().map(|p| (p.a, p.b)).collect();
        (pairs, report.warnings.clone())
    };
    let alone = findings(&scan(&dataset, &index, &settings, &Progress::default()).unwrap());
    let ballast = vec![1u8; 300 << 20];
    let beside = findings(&scan(&dataset, &index, &settings, &Progress::default()).unwrap());
    assert_eq!(
        ballast.iter().map(|&b| usize::from(b)).sum::<usize>(),
        300 << 20
    );
    assert_eq!(alone, beside);
    assert!(!alone.0.is_empty());
}
