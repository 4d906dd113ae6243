//! Per-image numbers computed from decoded pixels: gray-level statistics, sharpness, grayscale
//! detection and the two hashes. Pure functions, no files.

use std::borrow::Cow;
use std::sync::OnceLock;

use image::imageops::FilterType;
use image::{ColorType, DynamicImage, GrayImage};
use image_hasher::{HashAlg, Hasher, HasherConfig};

use super::{Decoded, ImageRecord, format_name};

/// Longer side above which statistics are computed on an area-averaged smaller copy.
pub const STATS_MAX_SIDE_PX: u32 = 1024;

/// The hasher's DCT works on a 16×16 gray image. It would resize to that with `image`'s generic
/// float filter, the slowest step of indexing a small image; area averaging here is much faster,
/// and a 16×16 input is passed through unchanged.
const PHASH_DCT_SIDE_PX: u32 = 16;

/// Everything `ImageRecord` holds about a decoded image.
pub fn describe(decoded: &Decoded, file_bytes: u64, mtime_ns: i64) -> ImageRecord {
    let image = &decoded.image;
    let gray = gray_of(image);
    let stats_gray = shrink_to(&gray, STATS_MAX_SIDE_PX);
    let small = stats_gray.as_ref().unwrap_or(&gray);
    let stats = GrayStats::of(small);
    ImageRecord {
        width: decoded.full_size[0],
        height: decoded.full_size[1],
        channels: image.color().channel_count(),
        mode: mode_name(image.color()).to_string(),
        file_bytes,
        format: format_name(decoded.format),
        mtime_ns,
        brightness: stats.brightness,
        contrast: stats.contrast,
        sharpness: stats.sharpness,
        entropy: stats.entropy,
        is_grayscale: is_grayscale(image),
        phash: perceptual_hash(small),
        content_hash: content_hash(image),
        decode_error: None,
    }
}

/// The Rec. 709 luma of `image` (rounded), the same values as `DynamicImage::to_luma8`, without a copy for
/// gray images and with a fast path for 8-bit colour.
pub(crate) fn gray_of(image: &DynamicImage) -> Cow<'_, GrayImage> {
    fn luma(samples: &[u8], channels: usize, width: u32, height: u32) -> GrayImage {
        let gray = samples
            .chunks_exact(channels)
            .map(|p| {
                ((2126 * u32::from(p[0]) + 7152 * u32::from(p[1]) + 722 * u32::from(p[2]) + 5_000)
                    / 10_000) as u8
            })
            .collect();
        GrayImage::from_raw(width, height, gray).expect("one gray sample per pixel")
    }
    match image {
        DynamicImage::ImageLuma8(gray) => Cow::Borrowed(gray),
        DynamicImage::ImageRgb8(rgb) => {
            Cow::Owned(luma(rgb.as_raw(), 3, rgb.width(), rgb.height()))
        }
        DynamicImage::ImageRgba8(rgba) => {
            Cow::Owned(luma(rgba.as_raw(), 4, rgba.width(), rgba.height()))
        }
        _ => Cow::Owned(image.to_luma8()),
    }
}

/// Gray-level statistics of one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrayStats {
    pub brightness: f32,
    pub contrast: f32,
    pub sharpness: f32,
    pub entropy: f32,
}

impl GrayStats {
    /// Mean, standard deviation and entropy from one histogram pass; Laplacian variance from a
    /// second pass over the interior pixels (0 for images under 3×3).
    pub fn of(gray: &GrayImage) -> GrayStats {
        let mut histogram = [0u64; 256];
        for &v in gray.as_raw() {
            histogram[v as usize] += 1;
        }
        let n = gray.as_raw().len() as f64;
        if n == 0.0 {
            return GrayStats {
                brightness: f32::NAN,
                contrast: f32::NAN,
                sharpness: f32::NAN,
                entropy: f32::NAN,
            };
        }
        let mean = histogram
            .iter()
            .enumerate()
            .map(|(v, &c)| v as f64 * c as f64)
            .sum::<f64>()
            / n;
        let variance = histogram
            .iter()
            .enumerate()
            .map(|(v, &c)| (v as f64 - mean).powi(2) * c as f64)
            .sum::<f64>()
            / n;
        let entropy = histogram
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum::<f64>();
        GrayStats {
            brightness: mean as f32,
            contrast: variance.sqrt() as f32,
            sharpness: laplacian_variance(gray) as f32,
            // -0.0 for a constant image reads oddly in a table.
            entropy: entropy.max(0.0) as f32,
        }
    }
}

/// Variance of the 4-neighbour Laplacian `up + down + left + right - 4·centre`: the usual
/// blur measure (low = blurry).
fn laplacian_variance(gray: &GrayImage) -> f64 {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let px = gray.as_raw();
    let (mut sum, mut sum_sq) = (0i64, 0i64);
    for y in 1..h - 1 {
        let up = &px[(y - 1) * w..y * w];
        let row = &px[y * w..(y + 1) * w];
        let down = &px[(y + 1) * w..(y + 2) * w];
        // |l| ≤ 1020, so l² fits an i32; the sums go to i64.
        let mut row_sum = 0i64;
        let mut row_sq = 0i64;
        for x in 1..w - 1 {
            let l = up[x] as i32 + down[x] as i32 + row[x - 1] as i32 + row[x + 1] as i32
                - 4 * row[x] as i32;
            row_sum += l as i64;
            row_sq += (l * l) as i64;
        }
        sum += row_sum;
        sum_sq += row_sq;
    }
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = sum as f64 / n;
    (sum_sq as f64 / n - mean * mean).max(0.0)
}

/// Area-averaged copy whose longer side is `max_side_px`, keeping the aspect ratio; `None` when
/// the image is small enough already.
fn shrink_to(gray: &GrayImage, max_side_px: u32) -> Option<GrayImage> {
    let (w, h) = gray.dimensions();
    if w.max(h) <= max_side_px {
        return None;
    }
    let scale = max_side_px as f64 / w.max(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    );
    Some(box_shrink(gray, nw, nh))
}

/// Shrinks `gray` to `nw × nh` (each at most the input's) by area averaging: every input pixel
/// lands in exactly one output pixel, which is the rounded mean of its inputs. One pass of integer
/// adds, several times faster than `imageops::thumbnail` on small images.
pub(crate) fn box_shrink(gray: &GrayImage, nw: u32, nh: u32) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let (nw, nh) = (
        (nw as usize).clamp(1, w.max(1)),
        (nh as usize).clamp(1, h.max(1)),
    );
    let column_of: Vec<usize> = (0..w).map(|x| x * nw / w).collect();
    let mut count_x = vec![0u64; nw];
    for &ox in &column_of {
        count_x[ox] += 1;
    }
    let mut count_y = vec![0u64; nh];
    let mut sums = vec![0u64; nw * nh];
    for (y, row) in gray.as_raw().chunks_exact(w.max(1)).enumerate() {
        let oy = y * nh / h;
        count_y[oy] += 1;
        let out = &mut sums[oy * nw..(oy + 1) * nw];
        for (&v, &ox) in row.iter().zip(&column_of) {
            out[ox] += u64::from(v);
        }
    }
    let pixels = sums
        .iter()
        .enumerate()
        .map(|(i, &sum)| {
            let n = count_x[i % nw] * count_y[i / nw];
            ((sum + n / 2) / n.max(1)) as u8
        })
        .collect();
    GrayImage::from_raw(nw as u32, nh as u32, pixels).expect("one sample per output pixel")
}

/// Gray modes, and colour modes whose channels are equal in every pixel.
pub fn is_grayscale(image: &DynamicImage) -> bool {
    fn equal_channels<T: PartialEq>(samples: &[T], channels: usize) -> bool {
        samples
            .chunks_exact(channels)
            .all(|p| p[0] == p[1] && p[1] == p[2])
    }
    match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_) => true,
        DynamicImage::ImageRgb8(b) => equal_channels(b.as_raw(), 3),
        DynamicImage::ImageRgba8(b) => equal_channels(b.as_raw(), 4),
        DynamicImage::ImageRgb16(b) => equal_channels(b.as_raw(), 3),
        DynamicImage::ImageRgba16(b) => equal_channels(b.as_raw(), 4),
        DynamicImage::ImageRgb32F(b) => equal_channels(b.as_raw(), 3),
        DynamicImage::ImageRgba32F(b) => equal_channels(b.as_raw(), 4),
        _ => equal_channels(image.to_rgb8().as_raw(), 3),
    }
}

/// Short PIL-style name of a pixel mode.
pub fn mode_name(color: ColorType) -> &'static str {
    match color {
        ColorType::L8 => "L",
        ColorType::La8 => "LA",
        ColorType::Rgb8 => "RGB",
        ColorType::Rgba8 => "RGBA",
        ColorType::L16 => "L16",
        ColorType::La16 => "LA16",
        ColorType::Rgb16 => "RGB16",
        ColorType::Rgba16 => "RGBA16",
        ColorType::Rgb32F => "RGB32F",
        ColorType::Rgba32F => "RGBA32F",
        _ => "other",
    }
}

/// xxh3-128 of size, mode and decoded samples: the same for the same pixels in any encoding.
pub fn content_hash(image: &DynamicImage) -> u128 {
    let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
    hasher.update(&image.width().to_le_bytes());
    hasher.update(&image.height().to_le_bytes());
    hasher.update(mode_name(image.color()).as_bytes());
    hasher.update(image.as_bytes());
    hasher.digest128()
}

/// 64-bit pHash: DCT of the image at 16×16, the 8×8 lowest frequencies compared with their median.
pub fn perceptual_hash(gray: &GrayImage) -> u64 {
    static HASHER: OnceLock<Hasher<[u8; 8]>> = OnceLock::new();
    let hasher = HASHER.get_or_init(|| {
        HasherConfig::with_bytes_type::<[u8; 8]>()
            .hash_size(8, 8)
            .hash_alg(HashAlg::Median)
            .preproc_dct()
            .resize_filter(FilterType::Triangle)
            .to_hasher()
    });
    let (w, h) = gray.dimensions();
    let hash = if w >= PHASH_DCT_SIDE_PX
        && h >= PHASH_DCT_SIDE_PX
        && (w, h) != (PHASH_DCT_SIDE_PX, PHASH_DCT_SIDE_PX)
    {
        hasher.hash_image(&box_shrink(gray, PHASH_DCT_SIDE_PX, PHASH_DCT_SIDE_PX))
    } else {
        // Tiny images are scaled up by the hasher itself.
        hasher.hash_image(gray)
    };
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(hash.as_bytes());
    u64::from_be_bytes(bytes)
}

/// Hamming distance between two perceptual hashes: 0 identical, under ~10 near-duplicates.
pub fn phash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}
