use std::path::Path;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{GrayImage, ImageEncoder, Luma, Rgb, RgbImage};

use super::stats::{GrayStats, perceptual_hash};
use super::*;
use crate::dataset::BoxAnnotation;

#[test]
fn thumbnails_keep_aspect_and_report_source_size() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("wide.png");
    image::RgbImage::from_pixel(200, 100, image::Rgb([10, 200, 30]))
        .save(&path)
        .unwrap();
    let thumb = thumbnail(&path, 64).unwrap();
    assert_eq!(
        (thumb.width, thumb.height, thumb.source_size),
        (64, 32, [200, 100])
    );
    assert_eq!(&thumb.rgba[..4], &[10, 200, 30, 255]);
}

#[test]
fn broken_files_name_the_file_and_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let text = tmp.path().join("text.jpg");
    std::fs::write(&text, b"hello, not a jpeg").unwrap();
    for path in [empty, text, tmp.path().join("missing.png")] {
        let msg = thumbnail(&path, 32).unwrap_err().to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
}

/// A minimal EXIF block (big-endian TIFF, one IFD entry) holding only an orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    exif.extend_from_slice(&value.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    exif
}

#[test]
fn exif_orientation_is_applied_to_decodes_and_thumbnails() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rotated.png");
    // Left half black, right half white, stored 20×10; orientation 6 means "rotate 90° clockwise".
    let img = GrayImage::from_fn(20, 10, |x, _| Luma([if x < 10 { 0 } else { 255 }]));
    let mut encoder = PngEncoder::new(std::fs::File::create(&path).unwrap());
    encoder.set_exif_metadata(exif_orientation(6)).unwrap();
    encoder
        .write_image(img.as_raw(), 20, 10, image::ExtendedColorType::L8)
        .unwrap();

    let upright = decode(&path).unwrap().to_luma8();
    assert_eq!(upright.dimensions(), (10, 20));
    // After a clockwise turn the old left (black) half is on top.
    assert_eq!(upright.get_pixel(5, 2).0, [0]);
    assert_eq!(upright.get_pixel(5, 17).0, [255]);
    assert_eq!(thumbnail(&path, 64).unwrap().source_size, [10, 20]);
}

#[test]
fn a_large_rotated_jpeg_thumbnails_at_reduced_scale_and_upright() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rotated.jpg");
    // Stored 800×400, left half black; orientation 6 turns it to 400×800 with black on top.
    let img = RgbImage::from_fn(800, 400, |x, _| Rgb([if x < 400 { 0 } else { 255 }; 3]));
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
    encoder.set_exif_metadata(exif_orientation(6)).unwrap();
    encoder
        .write_image(img.as_raw(), 800, 400, image::ExtendedColorType::Rgb8)
        .unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let thumb = thumbnail(&path, 64).unwrap();
    assert_eq!(thumb.source_size, [400, 800]);
    assert_eq!((thumb.width, thumb.height), (32, 64));
    let top = thumb.rgba[(4 * 32 + 16) * 4];
    let bottom = thumb.rgba[(60 * 32 + 16) * 4];
    assert!(top < 20 && bottom > 235, "top {top}, bottom {bottom}");
    let (record, _, _) = index_file(&path, false);
    assert_eq!((record.width, record.height), (400, 800));
}

#[test]
fn a_constant_image_has_no_contrast_entropy_or_sharpness() {
    let stats = GrayStats::of(&GrayImage::from_pixel(40, 30, Luma([77])));
    assert_eq!(stats.brightness, 77.0);
    assert_eq!(stats.contrast, 0.0);
    assert_eq!(stats.entropy, 0.0);
    assert_eq!(stats.sharpness, 0.0);
}

#[test]
fn half_black_half_white_has_mid_brightness_and_one_bit_of_entropy() {
    let img = GrayImage::from_fn(40, 30, |x, _| Luma([if x < 20 { 0 } else { 255 }]));
    let stats = GrayStats::of(&img);
    assert_eq!(stats.brightness, 127.5);
    assert_eq!(stats.contrast, 127.5);
    assert!((stats.entropy - 1.0).abs() < 1e-6, "{}", stats.entropy);
    assert!(stats.sharpness > 0.0);
}

#[test]
fn gray_pixels_stored_as_rgb_are_flagged_grayscale() {
    let gray = DynamicImage::ImageRgb8(RgbImage::from_fn(16, 16, |x, y| {
        let v = (x * 16 + y) as u8;
        Rgb([v, v, v])
    }));
    assert!(stats::is_grayscale(&gray));
    let mut colour = gray.to_rgb8();
    colour.put_pixel(3, 3, Rgb([10, 11, 10]));
    assert!(!stats::is_grayscale(&DynamicImage::ImageRgb8(colour)));
    assert!(stats::is_grayscale(&DynamicImage::ImageLuma8(
        GrayImage::new(4, 4)
    )));
}

fn checkerboard(side: u32, cell: u32) -> GrayImage {
    GrayImage::from_fn(side, side, |x, y| {
        Luma([if (x / cell + y / cell).is_multiple_of(2) {
            30
        } else {
            220
        }])
    })
}

#[test]
fn a_blurred_image_is_less_sharp() {
    let sharp = checkerboard(64, 8);
    let blurred = image::imageops::blur(&sharp, 2.0);
    let (s, b) = (
        GrayStats::of(&sharp).sharpness,
        GrayStats::of(&blurred).sharpness,
    );
    assert!(b < s / 4.0, "blurred {b} vs sharp {s}");
}

fn save_png(path: &Path, img: &RgbImage, compression: CompressionType, filter: PngFilter) {
    let file = std::fs::File::create(path).unwrap();
    PngEncoder::new_with_quality(file, compression, filter)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
}

fn describe_file(path: &Path) -> ImageRecord {
    index_file(path, false).0
}

#[test]
fn the_content_hash_is_of_pixels_not_file_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let img = RgbImage::from_fn(48, 40, |x, y| {
        Rgb([(x * 5) as u8, (y * 6) as u8, ((x * y) % 256) as u8])
    });
    let (a, b) = (tmp.path().join("a.png"), tmp.path().join("b.png"));
    save_png(&a, &img, CompressionType::Fast, PngFilter::NoFilter);
    save_png(&b, &img, CompressionType::Best, PngFilter::Paeth);
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let (ra, rb) = (describe_file(&a), describe_file(&b));
    assert_eq!(ra.content_hash, rb.content_hash);
    assert_ne!(ra.file_bytes, rb.file_bytes);
    assert_eq!(ra.phash, rb.phash);

    let mut changed = img.clone();
    changed.put_pixel(0, 0, Rgb([1, 2, 3]));
    let c = tmp.path().join("c.png");
    save_png(&c, &changed, CompressionType::Fast, PngFilter::NoFilter);
    assert_ne!(describe_file(&c).content_hash, ra.content_hash);
}

#[test]
fn a_record_describes_size_mode_format_and_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("photo.JPG");
    RgbImage::from_fn(30, 20, |x, _| Rgb([200, (x * 8) as u8, 0]))
        .save_with_format(&path, image::ImageFormat::Jpeg)
        .unwrap();
    let r = describe_file(&path);
    assert_eq!(
        (
            r.width,
            r.height,
            r.channels,
            r.mode.as_str(),
            r.format.as_str()
        ),
        (30, 20, 3, "RGB", "jpeg")
    );
    assert_eq!(r.file_bytes, std::fs::metadata(&path).unwrap().len());
    assert!(r.mtime_ns > 0);
    assert!(!r.is_grayscale);
    assert!(r.brightness > 0.0 && r.contrast > 0.0 && r.entropy > 0.0);
    assert!(r.decode_error.is_none());
}

#[test]
fn near_duplicates_have_close_perceptual_hashes() {
    let img = GrayImage::from_fn(128, 128, |x, y| Luma([((x * 2 + y) % 256) as u8]));
    let brighter = GrayImage::from_fn(128, 128, |x, y| {
        Luma([(((x * 2 + y) % 256) as u8).saturating_add(8)])
    });
    let other = checkerboard(128, 16);
    let h = perceptual_hash(&img);
    assert!(phash_distance(h, perceptual_hash(&brighter)) <= 6);
    assert!(phash_distance(h, perceptual_hash(&other)) > 16);
}

/// A PNG whose header claims 50,000 × 50,000 RGB pixels (7.5 GB) followed by almost no data.
fn decompression_bomb() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, adaptive filter, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn a_decompression_bomb_is_refused_without_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bomb.png");
    std::fs::write(&path, decompression_bomb()).unwrap();
    let err = decode(&path).unwrap_err();
    assert!(err.message.contains("limit"), "{err}");
    let record = describe_file(&path);
    assert!(
        record
            .decode_error
            .as_deref()
            .unwrap()
            .contains("50000×50000"),
        "{record:?}"
    );
    assert_eq!(record.format, "png");
    assert!(record.brightness.is_nan());
}

/// `ROOT/a/*.png` (3 good images), `ROOT/b/` with one good PNG, a truncated PNG, a zero-byte JPEG
/// and a text file named .png.
fn fixture(root: &Path) {
    for class in ["a", "b"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
    }
    for i in 0..3u8 {
        RgbImage::from_pixel(16, 12, Rgb([40 * i, 100, 200]))
            .save(root.join(format!("a/{i}.png")))
            .unwrap();
    }
    let good = root.join("b/good.png");
    RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 9]))
        .save(&good)
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(root.join("b/truncated.png"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(root.join("b/empty.jpg"), b"").unwrap();
    std::fs::write(root.join("b/notes.png"), b"these are my notes, not pixels").unwrap();
}

fn build(root: &Path, cache: &IndexCache) -> (Dataset, Index) {
    let dataset = Dataset::open(root).unwrap();
    let progress = Progress::default();
    let index = build_index(&dataset, cache.clone(), &progress).unwrap();
    assert_eq!(
        progress.fraction_parts(),
        (dataset.examples.len(), dataset.examples.len())
    );
    (dataset, index)
}

/// Saves `image` over `path` with a modification time 5 s ahead: an edit after indexing.
fn save_later(image: &RgbImage, path: &Path) {
    image.save(path).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

fn record<'a>(dataset: &Dataset, index: &'a Index, path: &str) -> &'a ImageRecord {
    let i = dataset
        .examples
        .iter()
        .position(|e| relative_path_text(&e.path) == path)
        .unwrap();
    &index.records[i]
}

#[test]
fn broken_files_become_rows_with_a_decode_error() {
    let data = tempfile::tempdir().unwrap();
    fixture(data.path());
    let (dataset, index) = build(data.path(), &IndexCache::None);
    assert_eq!(index.records.len(), 7);
    assert_eq!(index.decoded, 7);
    for path in ["a/0.png", "a/1.png", "a/2.png", "b/good.png"] {
        assert!(record(&dataset, &index, path).is_readable(), "{path}");
    }
    let truncated = record(&dataset, &index, "b/truncated.png");
    assert_eq!(truncated.format, "png");
    assert!(truncated.sharpness.is_nan() && truncated.width == 0);
    assert!(
        record(&dataset, &index, "b/empty.jpg")
            .decode_error
            .as_deref()
            .unwrap()
            .contains("empty")
    );
    assert!(
        record(&dataset, &index, "b/notes.png")
            .decode_error
            .as_deref()
            .unwrap()
            .contains("not a recognised")
    );
}

#[test]
fn a_second_build_reuses_the_cache_and_a_changed_file_is_decoded_again() {
    let (data, cache_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fixture(data.path());
    let cache = IndexCache::At(cache_dir.path().to_path_buf());
    let (_, first) = build(data.path(), &cache);
    assert_eq!(first.decoded, 7);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    assert!(cache.file_for(data.path()).unwrap().exists());
    // Nothing is written into the dataset folder.
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 2);

    let (_, second) = build(data.path(), &cache);
    assert_eq!(second.decoded, 0);
    // Debug text, because NaN (unreadable files) is not equal to itself.
    assert_eq!(
        format!("{:?}", second.records),
        format!("{:?}", first.records)
    );

    // Same size, new pixels and a new modification time: decoded again, the rest reused.
    save_later(
        &RgbImage::from_pixel(16, 12, Rgb([0, 0, 0])),
        &data.path().join("a/1.png"),
    );
    let (dataset, third) = build(data.path(), &cache);
    assert_eq!(third.decoded, 1);
    assert_eq!(record(&dataset, &third, "a/1.png").brightness, 0.0);
    assert_ne!(
        record(&dataset, &third, "a/1.png").content_hash,
        record(&dataset, &first, "a/1.png").content_hash
    );

    // A new file is decoded, a removed one dropped.
    std::fs::remove_file(data.path().join("a/0.png")).unwrap();
    RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]))
        .save(data.path().join("a/9.png"))
        .unwrap();
    let (_, fourth) = build(data.path(), &cache);
    assert_eq!((fourth.records.len(), fourth.decoded), (7, 1));
}

#[test]
fn a_corrupt_cache_is_ignored_and_overwritten() {
    let (data, cache_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fixture(data.path());
    let cache = IndexCache::At(cache_dir.path().to_path_buf());
    let file = cache.file_for(data.path()).unwrap();
    std::fs::write(&file, b"PAR1 this is not a parquet file").unwrap();
    let (_, first) = build(data.path(), &cache);
    assert_eq!(first.decoded, 7);
    assert_eq!(first.warnings.len(), 1, "{:?}", first.warnings);
    let (_, second) = build(data.path(), &cache);
    assert_eq!(second.decoded, 0);
    assert!(second.warnings.is_empty(), "{:?}", second.warnings);
    // No temporary files are left behind: only the index and the signatures it saved.
    let mut left: Vec<_> = std::fs::read_dir(cache_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    let mut expected = vec![
        file.clone(),
        crate::scan::signature_cache::file_beside(&file),
    ];
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn a_cancelled_build_stops_and_says_so() {
    let (data, cache_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fixture(data.path());
    let dataset = Dataset::open(data.path()).unwrap();
    let progress = Progress::default();
    progress.cancel();
    let cache = IndexCache::At(cache_dir.path().to_path_buf());
    assert!(matches!(
        build_index(&dataset, cache, &progress),
        Err(IndexError::Cancelled)
    ));
    assert_eq!(progress.fraction_parts().0, 0);
}

#[test]
fn the_table_has_one_row_per_example_and_the_documented_columns() {
    let data = tempfile::tempdir().unwrap();
    fixture(data.path());
    let (mut dataset, index) = build(data.path(), &IndexCache::None);
    // Pretend a labels table added boxes and two numeric columns, one clashing with ours.
    dataset.extra_columns = vec!["difficulty".into(), "width".into()];
    for (i, e) in dataset.examples.iter_mut().enumerate() {
        e.extra = vec![i as f64, f64::NAN];
    }
    dataset.examples[0].label = None;
    dataset.examples[0].annotations = vec![
        BoxAnnotation {
            class: 1,
            bbox: [0.0, 0.0, 0.5, 0.5],
        },
        BoxAnnotation {
            class: 0,
            bbox: [0.0, 0.0, 1.0, 0.5],
        },
    ];

    let df = index.to_dataframe(&dataset);
    assert_eq!(df.height(), 7);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut expected: Vec<&str> = table::LEADING_COLUMNS.to_vec();
    expected.extend(["difficulty", "extra_width"]);
    expected.extend(table::TRAILING_COLUMNS);
    assert_eq!(names, expected);
    assert_eq!(
        df.column("label").unwrap().str().unwrap().get(0),
        Some("a;b")
    );
    assert_eq!(df.column("label").unwrap().str().unwrap().get(1), Some("a"));
    assert_eq!(
        df.column("box_area_mean").unwrap().f32().unwrap().get(0),
        Some(0.375)
    );
    assert_eq!(
        df.column("box_area_max").unwrap().f32().unwrap().get(1),
        None
    );
    assert_eq!(
        df.column("phash")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .len(),
        16
    );
    assert_eq!(
        df.column("content_hash")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .len(),
        32
    );
    assert_eq!(df.column("decode_error").unwrap().null_count(), 4);
    assert_eq!(df.column("brightness").unwrap().null_count(), 3);

    let numeric = index.numeric_columns(&dataset);
    assert!(numeric.iter().all(|(_, values)| values.len() == 7));
    let names: Vec<&str> = numeric.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "width",
        "sharpness",
        "is_grayscale",
        "annotations",
        "box_area_min",
        "difficulty",
        "extra_width",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let broken = dataset
        .examples
        .iter()
        .position(|e| e.path.ends_with("notes.png"))
        .unwrap();
    let sharpness = &numeric.iter().find(|(n, _)| n == "sharpness").unwrap().1;
    assert!(sharpness[broken].is_nan() && !sharpness[0].is_nan());
}

#[test]
fn tables_are_written_by_extension() {
    let data = tempfile::tempdir().unwrap();
    fixture(data.path());
    let (dataset, index) = build(data.path(), &IndexCache::None);
    let mut df = index.to_dataframe(&dataset);
    let out = tempfile::tempdir().unwrap();
    write_table(&mut df, &out.path().join("t.parquet")).unwrap();
    write_table(&mut df, &out.path().join("t.CSV")).unwrap();
    let err = write_table(&mut df, &out.path().join("t.xlsx"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("xlsx") && err.contains(".parquet"), "{err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 2);
}

#[test]
fn the_fast_gray_conversion_matches_image_to_luma8() {
    let rgb = RgbImage::from_fn(37, 11, |x, y| {
        Rgb([(x * 7) as u8, (y * 23) as u8, ((x * y) % 256) as u8])
    });
    let rgba = DynamicImage::ImageRgb8(rgb.clone()).to_rgba8();
    for image in [DynamicImage::ImageRgb8(rgb), DynamicImage::ImageRgba8(rgba)] {
        assert_eq!(stats::gray_of(&image).as_raw(), image.to_luma8().as_raw());
    }
}

#[test]
fn box_shrinking_averages_every_input_pixel_once() {
    // 4×2 → 2×1: each output is the mean of a 2×2 block.
    let img = GrayImage::from_raw(4, 2, vec![0, 10, 100, 101, 20, 30, 200, 201]).unwrap();
    assert_eq!(stats::box_shrink(&img, 2, 1).as_raw(), &vec![15, 151]);
    // Uneven sizes keep the mean of a constant image and never divide by zero.
    let flat = GrayImage::from_pixel(37, 5, Luma([90]));
    let small = stats::box_shrink(&flat, 16, 16);
    assert_eq!(small.dimensions(), (16, 5));
    assert!(small.pixels().all(|p| p.0 == [90]));
}

#[test]
fn the_cache_alone_gives_the_saved_rows_until_the_files_are_checked() {
    let (data, cache_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fixture(data.path());
    let cache = IndexCache::At(cache_dir.path().to_path_buf());
    let dataset = Dataset::open(data.path()).unwrap();
    let from_cache =
        |dataset: &Dataset| cached_index(dataset, read_cached_rows(data.path(), &cache)?);
    assert!(from_cache(&dataset).is_none(), "nothing cached yet");
    let (_, first) = build(data.path(), &cache);
    assert!(first.files_checked);
    let quick = from_cache(&dataset).unwrap();
    assert!(!quick.files_checked);
    assert_eq!((quick.decoded, quick.from_cache), (0, 7));
    // Debug text, because NaN (unreadable files) is not equal to itself.
    assert_eq!(
        format!("{:?}", quick.records),
        format!("{:?}", first.records)
    );

    // A changed file keeps its saved row from the cache alone; the checked build decodes it.
    save_later(
        &RgbImage::from_pixel(16, 12, Rgb([0, 0, 0])),
        &data.path().join("a/1.png"),
    );
    let stale = from_cache(&dataset).unwrap();
    let (_, checked) = build(data.path(), &cache);
    let hash = |index: &Index| record(&dataset, index, "a/1.png").content_hash;
    assert_eq!(hash(&stale), hash(&first));
    assert_ne!(hash(&checked), hash(&first));

    // A file the cache has no row for: no index from the cache alone.
    RgbImage::from_pixel(8, 8, Rgb([1, 2, 3]))
        .save(data.path().join("a/9.png"))
        .unwrap();
    let grown = Dataset::open(data.path()).unwrap();
    assert!(from_cache(&grown).is_none());
    // Files in another order than saved (one gone) are matched by path.
    std::fs::remove_file(data.path().join("a/9.png")).unwrap();
    std::fs::remove_file(data.path().join("a/0.png")).unwrap();
    let shrunk = Dataset::open(data.path()).unwrap();
    let matched = from_cache(&shrunk).unwrap();
    assert_eq!(matched.records.len(), 6);
    assert_eq!(
        record(&shrunk, &matched, "a/1.png").content_hash,
        hash(&checked)
    );
}
