//! The model input is what torchvision makes: for every image in tests/fixtures/input/ and every
//! sidecar in its sidecars/ folder, eyeball's pixels after resize and crop equal PIL's byte for
//! byte, and its normalised tensor equals torchvision's within 1e-6. The expected arrays were
//! written by real Pillow + torchvision (scripts/make_input_fixtures.py); no Python runs here.

use std::path::{Path, PathBuf};

use eyeball::model::Preprocess;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/input")
}

/// `(image file, sidecar name, sidecar)` for every expected pair of arrays that exists.
fn cases() -> Vec<(PathBuf, String, Preprocess)> {
    let dir = fixtures();
    let mut sidecars: Vec<(String, Preprocess)> = std::fs::read_dir(dir.join("sidecars"))
        .expect("tests/fixtures/input/sidecars")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, Preprocess::load(&p).unwrap())
        })
        .collect();
    sidecars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut images: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "jpg" || e == "jpeg" || e == "png")
        })
        .collect();
    images.sort();
    let mut cases = Vec::new();
    for image in &images {
        for (name, sidecar) in &sidecars {
            if expected_path(image, name, "u8").is_file() {
                cases.push((image.clone(), name.clone(), sidecar.clone()));
            }
        }
    }
    cases
}

fn expected_path(image: &Path, sidecar: &str, kind: &str) -> PathBuf {
    let stem = image.file_stem().unwrap().to_string_lossy();
    image.with_file_name(format!("{stem}.{sidecar}.{kind}.npy"))
}

fn read_npy(path: &Path) -> tch::Tensor {
    tch::Tensor::read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_image_and_sidecar_is_covered() {
    let cases = cases();
    let images: std::collections::BTreeSet<_> = cases.iter().map(|c| c.0.clone()).collect();
    let sidecars: std::collections::BTreeSet<_> = cases.iter().map(|c| c.1.clone()).collect();
    assert!(images.len() >= 12, "only {} fixture images", images.len());
    assert!(sidecars.len() >= 3, "only sidecars {sidecars:?}");
}

#[test]
fn pixels_after_resize_and_crop_equal_pil_byte_for_byte() {
    let mut failures = Vec::new();
    for (image, name, sidecar) in cases() {
        let expected = read_npy(&expected_path(&image, &name, "u8"));
        let shape = expected.size();
        let expected: Vec<u8> = Vec::try_from(expected.flatten(0, -1)).unwrap();
        let steps = sidecar.steps(&image).unwrap();
        let got = steps.last();
        let got_shape = vec![got.height as i64, got.width as i64, got.channels as i64];
        if got_shape != shape {
            failures.push(format!(
                "{} with {name}: shape {got_shape:?}, PIL {shape:?}",
                image.display()
            ));
            continue;
        }
        let differing = got
            .data
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a != b)
            .count();
        if differing > 0 {
            let max = got
                .data
                .iter()
                .zip(&expected)
                .map(|(a, b)| (i16::from(*a) - i16::from(*b)).abs())
                .max()
                .unwrap_or(0);
            failures.push(format!(
                "{} with {name}: {differing} of {} values differ, by up to {max}",
                image.file_name().unwrap().to_string_lossy(),
                expected.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_normalised_tensor_equals_torchvision_within_1e_6() {
    let mut failures = Vec::new();
    for (image, name, sidecar) in cases() {
        let expected = read_npy(&expected_path(&image, &name, "f32"));
        let expected: Vec<f32> = Vec::try_from(expected.flatten(0, -1)).unwrap();
        let got = sidecar.file_values(&image).unwrap();
        assert_eq!(got.len(), expected.len(), "{} {name}", image.display());
        let max = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if max > 1e-6 {
            failures.push(format!(
                "{} with {name}: differs by up to {max}",
                image.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_input_view_says_when_the_net_sees_another_orientation() {
    let dir = fixtures();
    let Some((image, _, sidecar)) = cases()
        .into_iter()
        .find(|(image, name, _)| name == "short_bilinear" && has_exif_rotation(image))
    else {
        panic!("no EXIF-rotated fixture in {}", dir.display());
    };
    let view = eyeball::model::input_view(&sidecar, &image).unwrap();
    assert!(
        view.orientation_note
            .as_deref()
            .is_some_and(|n| n.contains("exif_transpose")),
        "{:?}",
        view.orientation_note
    );
    let transposed = Preprocess {
        exif_transpose: true,
        ..sidecar
    };
    let view = eyeball::model::input_view(&transposed, &image).unwrap();
    assert_eq!(view.orientation_note, None);
    assert!(
        view.steps[0].name.contains("EXIF"),
        "{:?}",
        view.steps[0].name
    );
}

fn has_exif_rotation(path: &Path) -> bool {
    use image::ImageDecoder;
    let Ok(reader) = image::ImageReader::open(path).and_then(|r| r.with_guessed_format()) else {
        return false;
    };
    reader
        .into_decoder()
        .ok()
        .and_then(|mut d| d.orientation().ok())
        .is_some_and(|o| o != image::metadata::Orientation::NoTransforms)
}
