//! Builders of broken files for tests/corpus.rs: images, tables, COCO, YOLO, sidecars,
//! checkpoints and `.npy` arrays, each small and written from scratch.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `root/rel`, creating folders.
pub fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A 24×20 RGB image whose pixels depend on `seed`, so no two are alike.
pub fn rgb(seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(24, 20, |x, y| {
        let s = seed.wrapping_mul(37);
        image::Rgb([
            (s.wrapping_add(x * 9)) as u8,
            (s.wrapping_mul(3).wrapping_add(y * 11)) as u8,
            ((x * y + s) % 251) as u8,
        ])
    })
}

/// The bytes of `rgb(seed)` encoded as `format`.
pub fn encoded(seed: u32, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(rgb(seed))
        .write_to(&mut bytes, format)
        .unwrap();
    bytes.into_inner()
}

pub fn png(seed: u32) -> Vec<u8> {
    encoded(seed, image::ImageFormat::Png)
}

pub fn jpeg(seed: u32) -> Vec<u8> {
    encoded(seed, image::ImageFormat::Jpeg)
}

/// CRC-32 (IEEE) as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
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

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A gray PNG whose header declares `width`×`height` but whose data is a few bytes: a
/// decompression bomb, or a large image cut off after its header.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib: one empty stored block.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A real JPEG whose frame header is patched to claim `width`×`height`.
pub fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(7);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG");
    // FF C0, length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// A BMP header claiming `width`×`height` 24-bit pixels, with no pixels after it.
pub fn bmp_declaring(width: i32, height: i32) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&54u32.to_le_bytes()); // file size (a lie)
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 24]);
    out
}

/// Deterministic noise.
pub fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A `.npy` file (version 1) with the header fields as given and `data` after it.
pub fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `rows`×`cols` little-endian float32 probabilities, each row one-hot-ish and summing to 1.
pub fn probs_f32(rows: usize, cols: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let p = if c == r % cols {
                0.8
            } else {
                0.2 / (cols - 1) as f32
            };
            out.extend_from_slice(&p.to_le_bytes());
        }
    }
    out
}

/// A zip archive holding one text file: a zip, but not a PyTorch archive.
pub fn zip_of_text() -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        zip.start_file(
            "hello.txt",
            zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        zip.write_all(b"not a model").unwrap();
        zip.finish().unwrap();
    }
    cursor.into_inner()
}

/// A valid Parquet file of `frame`.
pub fn parquet(frame: &mut polars::prelude::DataFrame) -> Vec<u8> {
    use polars::prelude::ParquetWriter;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(frame).unwrap();
    bytes
}

/// The demo's preprocess.json (1×28×28 inputs, classes "0".."9"), which the fixture models take.
pub fn sidecar() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/checkpoints/preprocess.json"),
    )
    .unwrap()
}

/// A fixture model file of tests/fixtures/models.
pub fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}
