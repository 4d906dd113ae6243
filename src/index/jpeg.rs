//! JPEG through libjpeg-turbo with PIL's settings (accurate integer DCT, fancy upsampling), so
//! every view and the model see the pixels PyTorch pipelines see; large photos decode at a
//! reduced DCT scale when only a smaller picture is needed.

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, RgbImage};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

/// True when `bytes` start with a JPEG start-of-image marker.
pub fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// The EXIF orientation in a JPEG's APP1 segment, if it has one: a walk over the markers before
/// the first scan, so no pixels (and no second decoder) are involved.
pub fn exif_orientation(bytes: &[u8]) -> Option<Orientation> {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        // Fill bytes, and markers without a length.
        if marker == 0xFF {
            at += 1;
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        // Start of scan or end of image: no EXIF before the pixels.
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let segment = bytes.get(at + 4..at + 2 + length)?;
        if marker == 0xE1
            && let Some(tiff) = segment.strip_prefix(b"Exif\0\0")
        {
            return Orientation::from_exif_chunk(tiff);
        }
        at += 2 + length;
    }
    None
}

/// A decoded JPEG, before any EXIF orientation.
pub struct JpegPixels {
    /// Gray (`Luma8`) for one-component files, else RGB (`Rgb8`); CMYK is converted as PIL does.
    pub image: DynamicImage,
    /// Size stored in the file; larger than `image` when decoded at a reduced scale.
    pub full_size: [u32; 2],
}

/// Decodes `bytes` at full size, or, when `min_long_side_px` is given, at the smallest DCT scale
/// (1/2, 1/4 or 1/8) whose longer side is still at least that. Refuses pixel buffers over
/// `max_bytes`. Errors are libjpeg's words; a truncated file is an error, as in PIL.
pub fn decode_jpeg(
    bytes: &[u8],
    min_long_side_px: Option<u32>,
    max_bytes: u64,
) -> Result<JpegPixels, String> {
    let mut decompressor = Decompressor::new().map_err(|e| e.to_string())?;
    let header = decompressor.read_header(bytes).map_err(|e| e.to_string())?;
    let full_size = [header.width as u32, header.height as u32];
    let long_side = header.width.max(header.height);
    let scale = min_long_side_px
        .filter(|_| !header.is_lossless)
        .map_or(ScalingFactor::ONE, |min| {
            reduced_scale(long_side, min as usize)
        });
    decompressor
        .set_scaling_factor(scale)
        .map_err(|e| e.to_string())?;
    let scaled = header.scaled(scale);
    let format = match header.colorspace {
        Colorspace::Gray => PixelFormat::GRAY,
        Colorspace::CMYK | Colorspace::YCCK => PixelFormat::CMYK,
        _ => PixelFormat::RGB,
    };
    let (width, height) = (scaled.width, scaled.height);
    let needed = (width as u64) * (height as u64) * format.size() as u64;
    if needed > max_bytes {
        return Err(format!(
            "{}×{} pixels would need {} MiB, more than the {} MiB limit",
            header.width,
            header.height,
            needed / (1024 * 1024),
            max_bytes / (1024 * 1024)
        ));
    }
    let mut pixels = vec![0u8; needed as usize];
    let output = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width,
        pitch: width * format.size(),
        height,
        format,
    };
    decompressor
        .decompress(bytes, output)
        .map_err(|e| e.to_string())?;
    let (w, h) = (width as u32, height as u32);
    let image = match format {
        PixelFormat::GRAY => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, pixels).ok_or("bad gray buffer")?)
        }
        PixelFormat::CMYK => DynamicImage::ImageRgb8(
            RgbImage::from_raw(w, h, cmyk_to_rgb(&pixels)).ok_or("bad CMYK buffer")?,
        ),
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).ok_or("bad RGB buffer")?),
    };
    Ok(JpegPixels { image, full_size })
}

/// The smallest of libjpeg's 1, 1/2, 1/4, 1/8 scales keeping `long_side` at least `min`.
fn reduced_scale(long_side: usize, min: usize) -> ScalingFactor {
    [
        ScalingFactor::ONE_EIGHTH,
        ScalingFactor::ONE_QUARTER,
        ScalingFactor::ONE_HALF,
    ]
    .into_iter()
    .find(|s| s.scale(long_side) >= min.max(1))
    .unwrap_or(ScalingFactor::ONE)
}

/// PIL's CMYK JPEG to RGB: it reads libjpeg's CMYK as Adobe-inverted (`CMYK;I`), then
/// `convert("RGB")` computes `(255 - k) - c·(255 - k)/255` per channel, rounded its way.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let muldiv255 = |a: i32, b: i32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let nk = i32::from(px[3]);
        for &raw in &px[..3] {
            let c = 255 - i32::from(raw);
            rgb.push((nk - muldiv255(c, nk)).clamp(0, 255) as u8);
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
        });
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&image)
            .unwrap();
        bytes
    }

    #[test]
    fn large_photos_decode_at_the_smallest_scale_that_keeps_the_asked_side() {
        let bytes = jpeg(800, 600);
        let full = decode_jpeg(&bytes, None, u64::MAX).unwrap();
        assert_eq!((full.image.width(), full.image.height()), (800, 600));
        let quarter = decode_jpeg(&bytes, Some(200), u64::MAX).unwrap();
        assert_eq!((quarter.image.width(), quarter.image.height()), (200, 150));
        assert_eq!(quarter.full_size, [800, 600]);
        let half = decode_jpeg(&bytes, Some(201), u64::MAX).unwrap();
        assert_eq!(half.image.width(), 400);
        // A small image is never scaled up or down.
        let small = decode_jpeg(&jpeg(32, 32), Some(64), u64::MAX).unwrap();
        assert_eq!(small.image.width(), 32);
    }

    #[test]
    fn the_pixel_budget_is_checked_before_decoding() {
        let err = decode_jpeg(&jpeg(64, 64), None, 1000)
            .err()
            .expect("over budget");
        assert!(err.contains("64×64") && err.contains("limit"), "{err}");
    }

    #[test]
    fn a_truncated_jpeg_is_an_error() {
        let bytes = jpeg(64, 64);
        assert!(decode_jpeg(&bytes[..bytes.len() / 2], None, u64::MAX).is_err());
    }

    #[test]
    fn cmyk_converts_like_pil() {
        // Inverted storage: raw 255 is no ink. No ink, no black: white.
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 255]), vec![255, 255, 255]);
        // Full black ink (raw k = 0): black whatever the colours.
        assert_eq!(cmyk_to_rgb(&[10, 200, 30, 0]), vec![0, 0, 0]);
        // Full cyan (raw c = 0), no black: no red.
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 255]), vec![0, 255, 255]);
    }
}
