//! Maps of generated images: where the points land, the disagreement, the cache, cancelling.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::jobs::Job;

/// An ImageFolder of two classes of 32×32 PNGs with noise, a random gain and a shift of at most
/// a pixel (stripes shifted by half their period would be each other's negative): "flat" holds
/// horizontal red/green stripes, "tall" vertical blue/yellow ones. The first `flipped` images
/// of flat stripes are filed under "tall". Returns the dataset.
fn stripes(root: &Path, per_class: usize, flipped: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for class in ["flat", "tall"] {
        for i in 0..per_class {
            let phase: u32 = rng.random_range(0..2);
            let gain: f32 = rng.random_range(0.6..1.0);
            let noise: Vec<f32> = (0..32 * 32 * 3)
                .map(|_| rng.random_range(-20.0..20.0))
                .collect();
            let image = image::RgbImage::from_fn(32, 32, |x, y| {
                let (along, colours) = match class {
                    "flat" => (y, [[220.0, 40.0, 40.0], [40.0, 200.0, 40.0]]),
                    _ => (x, [[40.0, 40.0, 220.0], [230.0, 220.0, 30.0]]),
                };
                let colour = colours[(((along + phase) / 4) % 2) as usize];
                let at = ((y * 32 + x) * 3) as usize;
                image::Rgb(std::array::from_fn(|c| {
                    (colour[c] * gain + noise[at + c]).clamp(0.0, 255.0) as u8
                }))
            });
            let folder = if class == "flat" && i < flipped {
                "tall"
            } else {
                class
            };
            let dir = root.join(folder);
            std::fs::create_dir_all(&dir).unwrap();
            image.save(dir.join(format!("{class}_{i:03}.png"))).unwrap();
        }
    }
    Dataset::open(root).unwrap()
}

fn all(dataset: &Dataset) -> Vec<usize> {
    (0..dataset.examples.len()).collect()
}

fn centroid(points: &[[f32; 2]]) -> [f32; 2] {
    let n = points.len() as f32;
    [
        points.iter().map(|p| p[0]).sum::<f32>() / n,
        points.iter().map(|p| p[1]).sum::<f32>() / n,
    ]
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[test]
fn two_kinds_of_generated_images_land_in_separate_regions_of_the_map() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = stripes(tmp.path(), 40, 0);
    let map = build_map(
        &dataset,
        &all(&dataset),
        &MapSource::Thumbnails,
        &MapSettings::default(),
        None,
        &crate::model::ModelStore::new(tch::Device::Cpu),
        &Progress::default(),
    )
    .unwrap();
    assert_eq!(map.len(), 80);
    assert_eq!(map.source, "thumbnails");
    let of_class = |class: usize| -> Vec<[f32; 2]> {
        (0..map.len())
            .filter(|&p| dataset.examples[map.examples[p]].label == Some(class))
            .map(|p| map.xy[p])
            .collect()
    };
    let (flat, tall) = (of_class(0), of_class(1));
    let (cf, ct) = (centroid(&flat), centroid(&tall));
    // Two regions: along the line through the two centres, every flat point comes before every
    // tall one (a straight line between them separates the kinds).
    let along = |p: [f32; 2]| (p[0] - cf[0]) * (ct[0] - cf[0]) + (p[1] - cf[1]) * (ct[1] - cf[1]);
    let last_flat = flat.iter().map(|&p| along(p)).fold(f32::MIN, f32::max);
    let first_tall = tall.iter().map(|&p| along(p)).fold(f32::MAX, f32::min);
    assert!(
        last_flat < first_tall,
        "the kinds overlap along the line between their centres: {last_flat} >= {first_tall}"
    );
    // And on the map itself, each point's nearest point is of its own kind.
    for (p, &a) in map.xy.iter().enumerate() {
        let nearest = (0..map.len())
            .filter(|&q| q != p)
            .min_by(|&q, &r| distance(a, map.xy[q]).total_cmp(&distance(a, map.xy[r])))
            .unwrap();
        let label = |q: usize| dataset.examples[map.examples[q]].label;
        assert_eq!(label(nearest), label(p), "point {p}");
    }
    // Every stored neighbour of a point is of its own kind.
    for p in 0..map.len() {
        let label = |q: usize| dataset.examples[map.examples[q]].label;
        assert!(
            map.neighbours_of(p)
                .iter()
                .all(|&q| label(q as usize) == label(p))
        );
    }
}

#[test]
fn an_image_filed_under_the_other_kind_disagrees_with_all_its_neighbours_and_ranks_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = stripes(tmp.path(), 30, 1);
    let map = build_map(
        &dataset,
        &all(&dataset),
        &MapSource::Thumbnails,
        &MapSettings::default(),
        None,
        &crate::model::ModelStore::new(tch::Device::Cpu),
        &Progress::default(),
    )
    .unwrap();
    let labels = dataset_labels(&dataset);
    let flipped = dataset
        .examples
        .iter()
        .position(|e| e.path.to_string_lossy() == "tall/flat_000.png")
        .unwrap();
    let tall = dataset.classes.iter().position(|c| c == "tall").unwrap();
    let flat = dataset.classes.iter().position(|c| c == "flat").unwrap();
    assert_eq!(labels[flipped], Some(tall));
    let disagreement = neighbour_disagreement(&map, &labels);
    for (p, d) in disagreement.iter().enumerate() {
        let (share, majority) = d.unwrap();
        if map.examples[p] == flipped {
            assert_eq!((share, majority), (1.0, flat));
        } else {
            assert!(share < DISAGREEMENT_MARK, "{p}: {share}");
        }
    }
    let ranked = ranked_by_disagreement(&map, &labels, DISAGREEMENT_MARK);
    assert_eq!(ranked.len(), 1);
    assert_eq!(
        (
            ranked[0].example,
            ranked[0].given,
            ranked[0].predicted,
            ranked[0].rank
        ),
        (flipped, tall, flat, 1)
    );
    // All points, most disagreeing first; unlabelled points have no disagreement.
    let everyone = ranked_by_disagreement(&map, &labels, 0.0);
    assert_eq!(everyone.len(), map.len());
    assert!(everyone.windows(2).all(|w| w[0].score >= w[1].score));
    let mut unlabelled = labels.clone();
    unlabelled[flipped] = None;
    assert!(
        neighbour_disagreement(&map, &unlabelled)
            .iter()
            .zip(&map.examples)
            .all(|(d, &e)| d.is_none() == (e == flipped))
    );
}

#[test]
fn a_cached_map_comes_back_identical_and_an_edited_image_misses_the_cache() {
    let (tmp, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dataset = stripes(tmp.path(), 12, 0);
    let build = || {
        build_map(
            &dataset,
            &all(&dataset),
            &MapSource::Thumbnails,
            &MapSettings::default(),
            Some(cache.path()),
            &crate::model::ModelStore::new(tch::Device::Cpu),
            &Progress::default(),
        )
        .unwrap()
    };
    let first = build();
    assert!(!first.from_cache && first.warnings.is_empty());
    let again = build();
    assert!(again.from_cache);
    assert_eq!(
        EmbeddingMap {
            from_cache: false,
            ..again
        },
        first
    );
    // Another image in place of one: size and contents change, so the map is made again.
    let edited = dataset.absolute_path(&dataset.examples[0]);
    image::RgbImage::from_pixel(40, 40, image::Rgb([9, 9, 9]))
        .save(&edited)
        .unwrap();
    assert!(!build().from_cache);
    // Other settings are another map.
    let fewer = MapSettings {
        epochs: 300,
        ..MapSettings::default()
    };
    let other = build_map(
        &dataset,
        &all(&dataset),
        &MapSource::Thumbnails,
        &fewer,
        Some(cache.path()),
        &crate::model::ModelStore::new(tch::Device::Cpu),
        &Progress::default(),
    )
    .unwrap();
    assert!(!other.from_cache);
}

#[test]
fn cancelling_stops_the_layout_mid_run() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (n, dim) = (300, 8);
    let features = Features {
        examples: (0..n).collect(),
        dim,
        values: (0..n * dim).map(|_| rng.random::<f32>()).collect(),
    };
    // Far more iterations than the test could wait for.
    let settings = MapSettings {
        epochs: 10_000_000,
        ..MapSettings::default()
    };
    let mut job = Job::spawn("map", Arc::new(|| {}), move |progress| {
        project(features, &settings, progress).map_err(|e| e.to_string())
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(job.title().contains("t-SNE") && job.progress().0 > 10) {
        assert!(Instant::now() < deadline, "the layout never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    job.cancel();
    let deadline = Instant::now() + Duration::from_secs(30);
    let result = loop {
        if let Some(result) = job.poll() {
            break result;
        }
        assert!(Instant::now() < deadline, "the layout went on after cancel");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(result, Err(MapError::Cancelled.to_string()));
}

#[test]
fn too_few_readable_images_is_an_error_that_says_how_many() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = stripes(tmp.path(), 2, 0);
    let err = build_map(
        &dataset,
        &all(&dataset),
        &MapSource::Thumbnails,
        &MapSettings::default(),
        None,
        &crate::model::ModelStore::new(tch::Device::Cpu),
        &Progress::default(),
    )
    .unwrap_err();
    assert!(matches!(err, MapError::TooFew { count: 4 }), "{err}");
}
