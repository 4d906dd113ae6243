//! PIL and torchvision reproduced value for value: `Image.open(f).convert("RGB" | "L")`,
//! `Image.resize`'s fixed-point resampling, `Resize(int)`'s output size and `CenterCrop`.

use std::path::Path;

use image::DynamicImage;
use image::metadata::Orientation;
use serde::{Deserialize, Serialize};

use crate::index::DecodeError;

/// An 8-bit image in PIL's "L" (1 channel) or "RGB" (3 channels) mode, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pixels8 {
    pub width: u32,
    pub height: u32,
    /// 1 or 3.
    pub channels: usize,
    /// `height × width × channels` bytes.
    pub data: Vec<u8>,
}

impl Pixels8 {
    /// A black image.
    pub fn black(width: u32, height: u32, channels: usize) -> Pixels8 {
        Pixels8 {
            width,
            height,
            channels,
            data: vec![0; width as usize * height as usize * channels],
        }
    }

    /// `[width, height]`.
    pub fn size(&self) -> [u32; 2] {
        [self.width, self.height]
    }

    /// As RGBA for display; gray is repeated into R, G and B.
    pub fn to_rgba(&self) -> Vec<u8> {
        let mut rgba = Vec::with_capacity(self.width as usize * self.height as usize * 4);
        for px in self.data.chunks_exact(self.channels) {
            match px {
                [g] => rgba.extend([*g, *g, *g, 255]),
                _ => rgba.extend([px[0], px[1], px[2], 255]),
            }
        }
        rgba
    }
}

/// A file opened the way `torchvision.datasets.folder.pil_loader` opens it.
pub struct Opened {
    pub pixels: Pixels8,
    /// The EXIF orientation the file carries (`NoTransforms` when none).
    pub orientation: Orientation,
    /// Whether `orientation` was applied (`ImageOps.exif_transpose`).
    pub transposed: bool,
}

/// Opens `path` as PIL would, then converts to "L" (`channels` 1) or "RGB" (3). JPEGs decode
/// through libjpeg-turbo with PIL's settings. The EXIF orientation is applied only when
/// `exif_transpose` is set, as `pil_loader` ignores it.
pub fn open(path: &Path, channels: usize, exif_transpose: bool) -> Result<Opened, DecodeError> {
    let bytes = crate::index::read_image_file(path)?;
    let (mut image, _, _, orientation) = crate::index::decode_stored(path, &bytes, None)?;
    if exif_transpose {
        image.apply_orientation(orientation);
    }
    Ok(Opened {
        pixels: convert(&image, channels),
        orientation,
        transposed: exif_transpose,
    })
}

/// PIL's `convert("L")` / `convert("RGB")` of the mode `image` was stored in. Alpha is dropped
/// (not composited); 16-bit gray ("I;16") is clipped at 255; 16-bit colour keeps its high byte,
/// as PIL's `RGB;16B` unpacking does; RGB → L is ITU-R 601 luma in PIL's fixed point.
pub fn convert(image: &DynamicImage, channels: usize) -> Pixels8 {
    let (width, height) = (image.width(), image.height());
    // First as PIL holds it after opening: gray or RGB bytes.
    let (stored_channels, data): (usize, Vec<u8>) = match image {
        DynamicImage::ImageLuma8(g) => (1, g.as_raw().clone()),
        DynamicImage::ImageLumaA8(g) => (1, g.as_raw().chunks_exact(2).map(|p| p[0]).collect()),
        DynamicImage::ImageRgb8(c) => (3, c.as_raw().clone()),
        DynamicImage::ImageRgba8(c) => (3, drop_alpha(c.as_raw(), 4, |v| v)),
        DynamicImage::ImageLuma16(g) => (1, g.as_raw().iter().map(|&v| v.min(255) as u8).collect()),
        DynamicImage::ImageLumaA16(g) => (
            1,
            g.as_raw()
                .chunks_exact(2)
                .map(|p| (p[0] >> 8) as u8)
                .collect(),
        ),
        DynamicImage::ImageRgb16(c) => (3, c.as_raw().iter().map(|&v| (v >> 8) as u8).collect()),
        DynamicImage::ImageRgba16(c) => (3, drop_alpha(c.as_raw(), 4, |v| (v >> 8) as u8)),
        DynamicImage::ImageRgb32F(c) => (3, c.as_raw().iter().map(|&v| float_byte(v)).collect()),
        DynamicImage::ImageRgba32F(c) => (3, drop_alpha(c.as_raw(), 4, float_byte)),
        other => (3, other.to_rgb8().into_raw()),
    };
    let data = match (stored_channels, channels) {
        (1, 3) => data.iter().flat_map(|&g| [g, g, g]).collect(),
        (3, 1) => data
            .chunks_exact(3)
            .map(|p| luma_601(p[0], p[1], p[2]))
            .collect(),
        _ => data,
    };
    Pixels8 {
        width,
        height,
        channels,
        data,
    }
}

fn drop_alpha<T: Copy>(samples: &[T], stride: usize, byte: impl Fn(T) -> u8) -> Vec<u8> {
    samples
        .chunks_exact(stride)
        .flat_map(|p| [byte(p[0]), byte(p[1]), byte(p[2])])
        .collect()
}

fn float_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// PIL's `L24`: `(r·19595 + g·38470 + b·7471 + 0x8000) >> 16`.
pub fn luma_601(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// The resampling filter of `Image.resize` (`torchvision.transforms.InterpolationMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    Nearest,
    #[default]
    Bilinear,
    Bicubic,
    Lanczos,
}

impl Interpolation {
    /// The sidecar's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
            Interpolation::Lanczos => "lanczos",
        }
    }

    /// Every value, in the order the README lists them.
    pub const ALL: [Interpolation; 4] = [
        Interpolation::Nearest,
        Interpolation::Bilinear,
        Interpolation::Bicubic,
        Interpolation::Lanczos,
    ];

    /// Filter support in source pixels at scale 1, and the filter.
    fn kernel(self) -> (f64, fn(f64) -> f64) {
        match self {
            Interpolation::Nearest | Interpolation::Bilinear => (1.0, bilinear),
            Interpolation::Bicubic => (2.0, bicubic),
            Interpolation::Lanczos => (3.0, lanczos),
        }
    }
}

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// `Image.resize((width, height), filter)` of an 8-bit image, antialiased when shrinking, in
/// PIL's fixed point (22 fraction bits, rounded to 8 bits after each pass), in Pillow 13's pass
/// order: vertical first when the height shrinks by more than twice as many pixels as the width.
pub fn resize(src: &Pixels8, width: u32, height: u32, filter: Interpolation) -> Pixels8 {
    if src.size() == [width, height] {
        return src.clone();
    }
    if filter == Interpolation::Nearest {
        return resize_nearest(src, width, height);
    }
    let horizontal = Coefficients::new(src.width, width, filter);
    let vertical = Coefficients::new(src.height, height, filter);
    let (need_horizontal, need_vertical) = (width != src.width, height != src.height);
    let height_shrink = i64::from(src.height) - i64::from(height);
    let width_shrink = i64::from(src.width) - i64::from(width);
    let horizontal_first = !(height_shrink > 0 && height_shrink > width_shrink * 2);
    if !horizontal_first {
        let shrunk = if need_vertical {
            vertical_pass(src, &vertical, 0)
        } else {
            src.clone()
        };
        return if need_horizontal {
            horizontal_pass(&shrunk, &horizontal, 0, shrunk.height as usize)
        } else {
            shrunk
        };
    }
    if !need_horizontal {
        return vertical_pass(src, &vertical, 0);
    }
    // The horizontal pass runs only over the rows the vertical pass reads.
    let first_row = vertical.bounds[0].0;
    let last_row = vertical
        .bounds
        .last()
        .map_or(0, |&(start, len)| start + len);
    let narrowed = horizontal_pass(src, &horizontal, first_row, last_row - first_row);
    if need_vertical {
        vertical_pass(&narrowed, &vertical, first_row)
    } else {
        narrowed
    }
}

/// Resamples rows `first_row..first_row + rows` of `src` to `weights.bounds.len()` columns.
fn horizontal_pass(
    src: &Pixels8,
    weights: &Coefficients,
    first_row: usize,
    rows: usize,
) -> Pixels8 {
    let channels = src.channels;
    let width = weights.bounds.len();
    let mut out = Pixels8::black(width as u32, rows as u32, channels);
    let (sw, ow) = (src.width as usize * channels, width * channels);
    for y in 0..rows {
        let line = &src.data[(y + first_row) * sw..(y + first_row + 1) * sw];
        let dst = &mut out.data[y * ow..(y + 1) * ow];
        for (x, &(start, len)) in weights.bounds.iter().enumerate() {
            let k = weights.row(x);
            for c in 0..channels {
                let mut sum = ROUNDING;
                for (i, &w) in k[..len].iter().enumerate() {
                    sum = sum
                        .wrapping_add(i32::from(line[(start + i) * channels + c]).wrapping_mul(w));
                }
                dst[x * channels + c] = clip8(sum);
            }
        }
    }
    out
}

/// Resamples the columns of `src`, whose first row is source row `row_offset`, to
/// `weights.bounds.len()` rows.
fn vertical_pass(src: &Pixels8, weights: &Coefficients, row_offset: usize) -> Pixels8 {
    let stride = src.width as usize * src.channels;
    let mut out = Pixels8::black(src.width, weights.bounds.len() as u32, src.channels);
    for (y, &(start, len)) in weights.bounds.iter().enumerate() {
        let k = weights.row(y);
        let start = start - row_offset;
        let dst = &mut out.data[y * stride..(y + 1) * stride];
        for (i, value) in dst.iter_mut().enumerate() {
            let mut sum = ROUNDING;
            for (j, &w) in k[..len].iter().enumerate() {
                sum =
                    sum.wrapping_add(i32::from(src.data[(start + j) * stride + i]).wrapping_mul(w));
            }
            *value = clip8(sum);
        }
    }
    out
}

const PRECISION_BITS: u32 = 32 - 8 - 2;
const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

fn clip8(sum: i32) -> u8 {
    if sum >= (1 << PRECISION_BITS << 8) {
        255
    } else if sum <= 0 {
        0
    } else {
        (sum >> PRECISION_BITS) as u8
    }
}

/// One pass's filter weights: for each output pixel, the first source pixel and how many it
/// reads, and `ksize` fixed-point weights (PIL's `precompute_coeffs` + `normalize_coeffs_8bpc`).
struct Coefficients {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

impl Coefficients {
    fn new(in_size: u32, out_size: u32, filter: Interpolation) -> Coefficients {
        let (filter_support, kernel) = filter.kernel();
        let scale = f64::from(in_size) / f64::from(out_size);
        let filter_scale = scale.max(1.0);
        let support = filter_support * filter_scale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size as usize);
        let mut weights = vec![0i32; out_size as usize * ksize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size as usize {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filter_scale;
            // C's (int) casts truncate toward zero, as `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) - xmin;
            let len = xmax.max(0) as usize;
            let mut total = 0.0;
            for (x, w) in k[..len].iter_mut().enumerate() {
                *w = kernel(((x as i64 + xmin) as f64 - center + 0.5) * ss);
                total += *w;
            }
            let row = &mut weights[xx * ksize..(xx + 1) * ksize];
            for (x, w) in k[..len].iter().enumerate() {
                let w = if total != 0.0 { w / total } else { *w };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                row[x] = if w < 0.0 {
                    (-0.5 + fixed) as i32
                } else {
                    (0.5 + fixed) as i32
                };
            }
            bounds.push((xmin as usize, len));
        }
        Coefficients {
            bounds,
            ksize,
            weights,
        }
    }

    fn row(&self, out: usize) -> &[i32] {
        &self.weights[out * self.ksize..(out + 1) * self.ksize]
    }
}

/// PIL's nearest-neighbour resize: an affine scale that samples at pixel centres, stepping by
/// `in/out` in double precision (`ImagingScaleAffine`), so its rounding is PIL's.
fn resize_nearest(src: &Pixels8, width: u32, height: u32) -> Pixels8 {
    let positions = |in_size: u32, out_size: u32| -> Vec<Option<usize>> {
        let step = f64::from(in_size) / f64::from(out_size);
        let mut at = step * 0.5;
        (0..out_size)
            .map(|_| {
                let i = if at < 0.0 { -1 } else { at as i64 };
                at += step;
                (0..i64::from(in_size)).contains(&i).then_some(i as usize)
            })
            .collect()
    };
    let (xs, ys) = (positions(src.width, width), positions(src.height, height));
    let channels = src.channels;
    let mut out = Pixels8::black(width, height, channels);
    let (sw, ow) = (src.width as usize * channels, width as usize * channels);
    for (y, sy) in ys.iter().enumerate() {
        let Some(sy) = sy else { continue };
        for (x, sx) in xs.iter().enumerate() {
            let Some(sx) = sx else { continue };
            let from = sy * sw + sx * channels;
            out.data[y * ow + x * channels..y * ow + (x + 1) * channels]
                .copy_from_slice(&src.data[from..from + channels]);
        }
    }
    out
}

/// `torchvision.transforms.Resize(size)` with an int: the shorter side becomes `size`, the longer
/// `int(size * long / short)`. Returns `[width, height]`.
pub fn shorter_side_size([width, height]: [u32; 2], size: u32) -> [u32; 2] {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short.max(1))) as u32;
    if width <= height {
        [size, new_long.max(1)]
    } else {
        [new_long.max(1), size]
    }
}

/// `torchvision.transforms.CenterCrop((height, width))`: pads with black when the image is
/// smaller, then crops at `round((in - out) / 2)` (half to even, as Python's `round`).
pub fn center_crop(src: &Pixels8, height: u32, width: u32) -> Pixels8 {
    let mut image = std::borrow::Cow::Borrowed(src);
    if width > src.width || height > src.height {
        let pad_left = width.saturating_sub(src.width) / 2;
        let pad_top = height.saturating_sub(src.height) / 2;
        let (pw, ph) = (src.width.max(width), src.height.max(height));
        let mut padded = Pixels8::black(pw, ph, src.channels);
        let c = src.channels;
        let row = src.width as usize * c;
        for y in 0..src.height as usize {
            let at = ((y + pad_top as usize) * pw as usize + pad_left as usize) * c;
            padded.data[at..at + row].copy_from_slice(&src.data[y * row..(y + 1) * row]);
        }
        image = std::borrow::Cow::Owned(padded);
    }
    if image.size() == [width, height] {
        return image.into_owned();
    }
    let offset = |have: u32, want: u32| (f64::from(have - want) / 2.0).round_ties_even() as usize;
    let (top, left) = (offset(image.height, height), offset(image.width, width));
    let c = image.channels;
    let mut out = Pixels8::black(width, height, c);
    let (row_in, row_out) = (image.width as usize * c, width as usize * c);
    for y in 0..height as usize {
        let at = (y + top) * row_in + left * c;
        out.data[y * row_out..(y + 1) * row_out].copy_from_slice(&image.data[at..at + row_out]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(width: u32, height: u32, data: Vec<u8>) -> Pixels8 {
        Pixels8 {
            width,
            height,
            channels: 1,
            data,
        }
    }

    #[test]
    fn shorter_side_keeps_the_aspect_ratio_rounding_down() {
        assert_eq!(shorter_side_size([500, 375], 256), [341, 256]);
        assert_eq!(shorter_side_size([375, 500], 256), [256, 341]);
        assert_eq!(shorter_side_size([32, 32], 40), [40, 40]);
    }

    #[test]
    fn center_crop_rounds_half_to_even_and_pads_small_images() {
        // 5 wide to 2: offset round(1.5) = 2; 7 wide to 2: round(2.5) = 2.
        let row: Vec<u8> = (0..5).collect();
        assert_eq!(center_crop(&gray(5, 1, row), 1, 2).data, vec![2, 3]);
        let row: Vec<u8> = (0..7).collect();
        assert_eq!(center_crop(&gray(7, 1, row), 1, 2).data, vec![2, 3]);
        // 1 wide to 4: one black column left, two right.
        assert_eq!(
            center_crop(&gray(1, 1, vec![9]), 1, 4).data,
            vec![0, 9, 0, 0]
        );
    }

    #[test]
    fn a_flat_image_stays_flat_through_every_filter() {
        let flat = gray(13, 7, vec![200; 91]);
        for filter in Interpolation::ALL {
            for (w, h) in [(5, 3), (40, 21), (13, 2)] {
                let out = resize(&flat, w, h, filter);
                assert_eq!(out.size(), [w, h]);
                assert!(out.data.iter().all(|&v| v == 200), "{filter:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn shrinking_by_two_with_bilinear_averages_the_area() {
        // Scale 2 widens the triangle to ±2 source pixels; PIL's window for output 0 starts at
        // pixel 0, whose weight 3/4 is kept with 3/4 and 1/4: (0·¾ + 0·¾ + 100·¼) / 1¾ = 14.3.
        let row = gray(4, 1, vec![0, 0, 100, 100]);
        let out = resize(&row, 2, 1, Interpolation::Bilinear);
        assert_eq!(out.data, vec![14, 86]);
    }

    #[test]
    fn nearest_samples_pixel_centres() {
        let row = gray(4, 1, vec![10, 20, 30, 40]);
        assert_eq!(
            resize(&row, 2, 1, Interpolation::Nearest).data,
            vec![20, 40]
        );
        assert_eq!(
            resize(&row, 8, 1, Interpolation::Nearest).data,
            vec![10, 10, 20, 20, 30, 30, 40, 40]
        );
    }

    #[test]
    fn rgb_to_gray_is_pil_l24() {
        assert_eq!(luma_601(255, 255, 255), 255);
        assert_eq!(luma_601(255, 0, 0), 76);
        assert_eq!(luma_601(0, 255, 0), 150);
        assert_eq!(luma_601(0, 0, 255), 29);
    }
}
