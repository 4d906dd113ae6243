//! What the scan keeps of each image: a 32×32 gray thumbnail (near-duplicate verification), a
//! gradient-orientation histogram and its 64-bit random-hyperplane hashes (near-duplicate
//! candidates), and an 8×8 colour thumbnail (the embedding for kNN outliers).

use image::DynamicImage;

use super::hamming::SplitMix64;

/// Side of the gray thumbnail the structure similarity is computed on.
pub const THUMB_SIDE: usize = 32;
/// Side of the colour thumbnail used as the outlier embedding.
pub const EMBED_SIDE: usize = 8;
/// Larger images are shrunk to this longer side (integer box filter) before their signature.
const SIGNATURE_MAX_SIDE_PX: u32 = 1024;
/// Length of the outlier embedding: `EMBED_SIDE²` RGB pixels.
pub const EMBED_LEN: usize = EMBED_SIDE * EMBED_SIDE * 3;
/// Pixels at the border of the thumbnail that similarity and HOG ignore: many datasets frame their
/// images, and a frame's strong edges would make unrelated framed images look alike.
const MARGIN: usize = 3;
/// Largest shift, in thumbnail pixels (of 32), tried when aligning two images: finds crops and
/// translations of a few percent of the image.
const MAX_SHIFT: i32 = 2;
/// HOG layout: 4×4 cells of 8×8 pixels, 8 signed orientations.
const HOG_CELLS: usize = 4;
const HOG_BINS: usize = 8;
/// Length of the HOG descriptor.
pub const HOG_LEN: usize = HOG_CELLS * HOG_CELLS * HOG_BINS;
/// Mean gradient magnitude (gray levels per pixel) below which an image has too little structure
/// for its near duplicates to mean anything (a flat or nearly flat picture).
const MIN_STRUCTURE: f32 = 0.5;

/// The scan's view of one decoded image.
#[derive(Clone, Debug)]
pub struct Signature {
    /// Area-averaged gray, `THUMB_SIDE²`, row-major (aspect ratio not kept).
    pub gray: Vec<u8>,
    /// Square-rooted, L2-normalised gradient-orientation histogram; all zero without structure.
    pub hog: Vec<f32>,
    /// Area-averaged RGB, `EMBED_SIDE²·3`, values 0..=255.
    pub embed: Vec<u8>,
    /// False for flat images, which are left out of near-duplicate search.
    pub has_structure: bool,
}

impl Signature {
    /// Computes the signature of a decoded image.
    pub fn of(image: &DynamicImage) -> Signature {
        // Bounded memory: the float copies below are of at most 1024×1024 pixels.
        let shrunk;
        let image = if image.width().max(image.height()) > SIGNATURE_MAX_SIDE_PX {
            shrunk = image.thumbnail(SIGNATURE_MAX_SIDE_PX, SIGNATURE_MAX_SIDE_PX);
            &shrunk
        } else {
            image
        };
        let rgb = image.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let raw = rgb.as_raw();
        let gray_full: Vec<f32> = raw
            .chunks_exact(3)
            .map(|p| 0.2126 * f32::from(p[0]) + 0.7152 * f32::from(p[1]) + 0.0722 * f32::from(p[2]))
            .collect();
        let gray_f = area_resize(&gray_full, 1, w, h, THUMB_SIDE, THUMB_SIDE);
        let rgb_f: Vec<f32> = raw.iter().map(|&v| f32::from(v)).collect();
        let embed_f = area_resize(&rgb_f, 3, w, h, EMBED_SIDE, EMBED_SIDE);
        let gray: Vec<u8> = gray_f
            .iter()
            .map(|&v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        let (hog, structure) = hog(&gray);
        Signature {
            gray,
            hog,
            embed: embed_f
                .iter()
                .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
            has_structure: structure >= MIN_STRUCTURE,
        }
    }
}

/// Resizes `src` (`w×h`, `channels` interleaved) to `nw×nh` by averaging the source area under each
/// output pixel (fractional coverage at the edges); upscaling repeats pixels smoothly.
pub fn area_resize(
    src: &[f32],
    channels: usize,
    w: usize,
    h: usize,
    nw: usize,
    nh: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; nw * nh * channels];
    if w == 0 || h == 0 {
        return out;
    }
    let weights_x = axis_weights(w, nw);
    let weights_y = axis_weights(h, nh);
    // Rows first into an intermediate `nw × h`, then columns.
    let mut rows = vec![0f32; nw * h * channels];
    for y in 0..h {
        for (ox, taps) in weights_x.iter().enumerate() {
            for &(x, weight) in taps {
                for c in 0..channels {
                    rows[(y * nw + ox) * channels + c] += weight * src[(y * w + x) * channels + c];
                }
            }
        }
    }
    for (oy, taps) in weights_y.iter().enumerate() {
        for &(y, weight) in taps {
            for ox in 0..nw {
                for c in 0..channels {
                    out[(oy * nw + ox) * channels + c] +=
                        weight * rows[(y * nw + ox) * channels + c];
                }
            }
        }
    }
    out
}

/// For each output index, the source indices it covers and their weights (summing to 1).
fn axis_weights(len: usize, new_len: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = len as f64 / new_len as f64;
    (0..new_len)
        .map(|o| {
            let (start, end) = (o as f64 * scale, (o + 1) as f64 * scale);
            let mut taps = Vec::new();
            let mut x = start.floor() as usize;
            while (x as f64) < end && x < len {
                let cover = (end.min(x as f64 + 1.0) - start.max(x as f64)).max(0.0);
                if cover > 0.0 {
                    taps.push((x, (cover / (end - start)) as f32));
                }
                x += 1;
            }
            taps
        })
        .collect()
}

/// Central-difference gradients of the 3×3 box-blurred thumbnail (edge pixels repeated); the blur
/// keeps JPEG noise from dominating. Zero on the outermost row and column.
#[derive(Clone, Debug)]
pub struct Gradients {
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Gradients {
    pub fn of(gray: &[u8]) -> Gradients {
        let n = THUMB_SIDE;
        // Separable box blur: sums of 3 along rows, then of 3 rows.
        let mut rows = vec![0f32; n * n];
        for y in 0..n {
            let line = &gray[y * n..(y + 1) * n];
            for x in 0..n {
                let (l, r) = (x.saturating_sub(1), (x + 1).min(n - 1));
                rows[y * n + x] = f32::from(line[l]) + f32::from(line[x]) + f32::from(line[r]);
            }
        }
        let mut blurred = vec![0f32; n * n];
        for y in 0..n {
            let (up, down) = (y.saturating_sub(1), (y + 1).min(n - 1));
            for x in 0..n {
                blurred[y * n + x] =
                    (rows[up * n + x] + rows[y * n + x] + rows[down * n + x]) / 9.0;
            }
        }
        let (mut gx, mut gy) = (vec![0f32; n * n], vec![0f32; n * n]);
        for y in 1..n - 1 {
            for x in 1..n - 1 {
                gx[y * n + x] = blurred[y * n + x + 1] - blurred[y * n + x - 1];
                gy[y * n + x] = blurred[(y + 1) * n + x] - blurred[(y - 1) * n + x];
            }
        }
        Gradients { x: gx, y: gy }
    }
}

/// HOG of the thumbnail inside the margin: per 8×8 cell, gradient magnitude summed into 8 signed
/// orientation bins (linear between neighbouring bins), square-rooted and L2-normalised. Also
/// returns the mean gradient magnitude, the image's amount of structure.
fn hog(gray: &[u8]) -> (Vec<f32>, f32) {
    let n = THUMB_SIDE;
    let cell = n / HOG_CELLS;
    let Gradients { x: gx, y: gy } = Gradients::of(gray);
    let mut hist = vec![0f32; HOG_LEN];
    let mut total = 0f32;
    let mut count = 0usize;
    for y in MARGIN..n - MARGIN {
        for x in MARGIN..n - MARGIN {
            let (dx, dy) = (gx[y * n + x], gy[y * n + x]);
            let magnitude = (dx * dx + dy * dy).sqrt();
            total += magnitude;
            count += 1;
            if magnitude == 0.0 {
                continue;
            }
            let angle = dy.atan2(dx).rem_euclid(std::f32::consts::TAU);
            let position = angle / std::f32::consts::TAU * HOG_BINS as f32;
            let bin = (position.floor() as usize) % HOG_BINS;
            let frac = position - position.floor();
            let base = ((y / cell) * HOG_CELLS + x / cell) * HOG_BINS;
            hist[base + bin] += magnitude * (1.0 - frac);
            hist[base + (bin + 1) % HOG_BINS] += magnitude * frac;
        }
    }
    for v in &mut hist {
        *v = v.sqrt();
    }
    normalise(&mut hist);
    (hist, total / count.max(1) as f32)
}

/// Scales `v` to unit length; leaves a zero vector alone.
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        for x in v {
            *x /= norm;
        }
    }
}

/// Dot product.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `count` 64-bit random-hyperplane hashes (SimHash) of each vector: bit k is the sign of the
/// projection on the k-th of 64 Gaussian directions. Two vectors at angle θ differ in about
/// 64·θ/π bits, so the Hamming index finds vectors with a high cosine. The hyperplanes come
/// from a fixed seed, so hashes are reproducible.
pub fn simhashes(vectors: &[&[f32]], dim: usize, count: usize, seed: u64) -> Vec<Vec<u64>> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            let planes: Vec<f32> = (0..64 * dim).map(|_| rng.normal()).collect();
            vectors
                .iter()
                .map(|v| {
                    let mut code = 0u64;
                    for (bit, plane) in planes.chunks_exact(dim).enumerate() {
                        if dot(v, plane) > 0.0 {
                            code |= 1 << bit;
                        }
                    }
                    code
                })
                .collect()
        })
        .collect()
}

/// Structure similarity of two thumbnails, -1..=1: the correlation of their gradient fields,
/// taken separately for horizontal and vertical gradients and the smaller of the two kept (a
/// shared horizon alone does not make two photos alike), at the best alignment within
/// ±`MAX_SHIFT` pixels (crops and translations). Brightness, contrast and colour changes leave it
/// unchanged; a rescale changes it little.
pub fn similarity(a: &[u8], b: &[u8]) -> f32 {
    similarity_of(&Gradients::of(a), &Gradients::of(b), -1.0).unwrap_or(-1.0)
}

/// Shifts whose coarse estimate is measured in full.
const REFINED_SHIFTS: usize = 3;
/// How far a coarse estimate may fall below the true value; estimates lower than `floor` minus
/// this are rejected without the full measurement.
const COARSE_SLACK: f32 = 0.2;

/// `similarity` of precomputed gradients, or `None` when it is clearly below `floor`. Every shift is
/// first estimated on every other pixel in both directions (the gradients are blurred, so
/// neighbours are alike and the estimate is close); the best few are then measured in full.
pub fn similarity_of(a: &Gradients, b: &Gradients, floor: f32) -> Option<f32> {
    similarity_or_estimate(a, b, floor).ok()
}

/// `similarity_of`, with the coarse estimate as the error when it is clearly below `floor`: enough
/// to tell how alike unrelated images are without measuring them in full.
pub fn similarity_or_estimate(a: &Gradients, b: &Gradients, floor: f32) -> Result<f32, f32> {
    let mut estimates: Vec<(f32, i32, i32)> =
        Vec::with_capacity(((2 * MAX_SHIFT + 1) * (2 * MAX_SHIFT + 1)) as usize);
    for dy in -MAX_SHIFT..=MAX_SHIFT {
        for dx in -MAX_SHIFT..=MAX_SHIFT {
            let cx = shifted_correlation(&a.x, &b.x, dx, dy, 2);
            let cy = shifted_correlation(&a.y, &b.y, dx, dy, 2);
            estimates.push((cx.min(cy), dx, dy));
        }
    }
    estimates.sort_by(|p, q| q.0.total_cmp(&p.0));
    if estimates[0].0 < floor - COARSE_SLACK {
        return Err(estimates[0].0);
    }
    let best = estimates
        .iter()
        .take(REFINED_SHIFTS)
        .map(|&(_, dx, dy)| {
            shifted_correlation(&a.x, &b.x, dx, dy, 1)
                .min(shifted_correlation(&a.y, &b.y, dx, dy, 1))
        })
        .fold(-1f32, f32::max);
    Ok(best)
}

/// Pearson correlation of `a` and `b` shifted by `(dx, dy)` (a's pixel (x, y) against b's
/// (x − dx, y − dy)), over the overlap inside the margin, on every `step`-th row and column.
fn shifted_correlation(a: &[f32], b: &[f32], dx: i32, dy: i32, step: usize) -> f32 {
    let n = THUMB_SIDE as i32;
    let m = MARGIN as i32;
    let (x0, x1) = ((m + dx).max(m) as usize, (n - m + dx).min(n - m) as usize);
    let (y0, y1) = ((m + dy).max(m) as usize, (n - m + dy).min(n - m) as usize);
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0f32, 0f32, 0f32, 0f32, 0f32);
    let mut count = 0usize;
    let n = n as usize;
    for y in (y0..y1).step_by(step) {
        let row_a = &a[y * n + x0..y * n + x1];
        let start_b = (y as i32 - dy) as usize * n + (x0 as i32 - dx) as usize;
        let row_b = &b[start_b..start_b + (x1 - x0)];
        for (&va, &vb) in row_a.iter().step_by(step).zip(row_b.iter().step_by(step)) {
            sa += va;
            sb += vb;
            saa += va * va;
            sbb += vb * vb;
            sab += va * vb;
            count += 1;
        }
    }
    if count == 0 {
        return 0.0;
    }
    let count = count as f32;
    let cov = sab - sa * sb / count;
    let var = (saa - sa * sa / count) * (sbb - sb * sb / count);
    if var <= 1e-6 { 0.0 } else { cov / var.sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32, seed: u64) -> DynamicImage {
        DynamicImage::ImageRgb8(crate::scan::tests::fixture::texture(seed, w, h))
    }

    #[test]
    fn area_resize_keeps_the_mean_and_handles_upscaling() {
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let out = area_resize(&src, 1, 4, 3, 2, 1);
        assert_eq!(out.len(), 2);
        let mean_in = src.iter().sum::<f32>() / 12.0;
        assert!(((out[0] + out[1]) / 2.0 - mean_in).abs() < 1e-4);
        let up = area_resize(&[1.0, 3.0], 1, 2, 1, 4, 2);
        assert_eq!(up, vec![1.0, 1.0, 3.0, 3.0, 1.0, 1.0, 3.0, 3.0]);
    }

    #[test]
    fn similarity_ignores_brightness_and_finds_shifts() {
        let a = Signature::of(&pattern(64, 64, 1));
        assert!((similarity(&a.gray, &a.gray) - 1.0).abs() < 1e-4);
        let brighter = pattern(64, 64, 1).brighten(30);
        assert!(similarity(&a.gray, &Signature::of(&brighter).gray) > 0.95);
        let shifted = pattern(64, 64, 1).crop_imm(2, 2, 62, 62).resize_exact(
            64,
            64,
            image::imageops::FilterType::Triangle,
        );
        assert!(similarity(&a.gray, &Signature::of(&shifted).gray) > 0.8);
        let other = Signature::of(&pattern(64, 64, 9));
        assert!(similarity(&a.gray, &other.gray) < 0.5);
        // Below the floor, only the coarse estimate, close to the full measurement.
        let (ga, go) = (Gradients::of(&a.gray), Gradients::of(&other.gray));
        let estimate = similarity_or_estimate(&ga, &go, 0.9).unwrap_err();
        assert!((estimate - similarity(&a.gray, &other.gray)).abs() < 0.1);
        assert_eq!(
            similarity_or_estimate(&ga, &go, -1.0),
            Ok(similarity(&a.gray, &other.gray))
        );
    }

    #[test]
    fn flat_images_have_no_structure() {
        let flat = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            40,
            30,
            image::Rgb([90, 20, 200]),
        ));
        let signature = Signature::of(&flat);
        assert!(!signature.has_structure);
        assert!(signature.hog.iter().all(|&v| v == 0.0));
        assert!(Signature::of(&pattern(40, 30, 2)).has_structure);
    }
}
