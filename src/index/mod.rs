//! Decodes dataset images: safe decoding with memory limits, and small thumbnails for the grid.
//! (Per-image statistics and the Parquet cache build on this.)

use std::path::{Path, PathBuf};

/// Largest allocation one decode may make; refuses decompression bombs.
pub const DECODE_MEMORY_LIMIT_BYTES: u64 = 512 * 1024 * 1024;

/// A decoded image that cannot be read, with the file named.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DecodeError {
    pub path: PathBuf,
    pub message: String,
}

/// A small RGBA image, ready to upload as a texture.
#[derive(Clone, Debug)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    /// Size of the original image.
    pub source_size: [u32; 2],
    /// `width * height * 4` bytes, unpremultiplied RGBA.
    pub rgba: Vec<u8>,
}

impl Thumbnail {
    /// Bytes the pixels take, for cache budgets.
    pub fn bytes(&self) -> usize {
        self.rgba.len()
    }
}

/// Decodes `path` (format guessed from its content), within `DECODE_MEMORY_LIMIT_BYTES`.
pub fn decode(path: &Path) -> Result<image::DynamicImage, DecodeError> {
    let err = |message: String| DecodeError { path: path.to_path_buf(), message };
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| err(format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_MEMORY_LIMIT_BYTES);
    reader.limits(limits);
    if reader.format().is_none() {
        return Err(err("not a recognised image format".into()));
    }
    reader.decode().map_err(|e| err(format!("cannot decode: {e}")))
}

/// Decodes `path` and shrinks it so its longer side is at most `max_side_px`.
pub fn thumbnail(path: &Path, max_side_px: u32) -> Result<Thumbnail, DecodeError> {
    let image = decode(path)?;
    let source_size = [image.width(), image.height()];
    let small = if image.width() > max_side_px || image.height() > max_side_px {
        image.thumbnail(max_side_px, max_side_px)
    } else {
        image
    };
    let rgba = small.to_rgba8();
    Ok(Thumbnail { width: rgba.width(), height: rgba.height(), source_size, rgba: rgba.into_raw() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_aspect_and_report_source_size() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("wide.png");
        image::RgbImage::from_pixel(200, 100, image::Rgb([10, 200, 30])).save(&path).unwrap();
        let thumb = thumbnail(&path, 64).unwrap();
        assert_eq!((thumb.width, thumb.height, thumb.source_size), (64, 32, [200, 100]));
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
}
