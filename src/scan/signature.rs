//! What the scan keeps of each image: a 32×32 gray thumbnail (near-duplicate verification), a
//! gradient-orientation histogram and its 64-bit random-hyperplane hashes (near-duplicate
//! candidates), and an 8×8 colour thumbnail (the embedding for kNN outliers).

use image::DynamicImage;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

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
    /// Area-averaged RGB, `EMBED_SIDE²·3`, values 0..=255.
    pub embed: Vec<u8>,
    /// False for flat images, which are left out of near-duplicate search.
    pub has_structure: bool,
    /// The shorter side of the decoded image, in pixels: how much detail the thumbnail holds.
    pub source_side: u32,
}

impl Signature {
    /// Computes the signature of a decoded image.
    pub fn of(image: &DynamicImage) -> Signature {
        let source_side = image.width().min(image.height());
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
        let structure = structure(&gray);
        Signature {
            gray,
            embed: embed_f
                .iter()
                .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
            has_structure: structure >= MIN_STRUCTURE,
            source_side,
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
    if (w, h) == (nw, nh) {
        return src.to_vec();
    }
    let mut out = vec![0f32; nw * nh * channels];
    if w == 0 || h == 0 || nw == 0 || nh == 0 {
        return out;
    }
    let k = w / nw;
    if k >= 2 && (w, h) == (k * nw, k * nh) {
        // Each output pixel is the mean of a k×k block, summed row by row and left to right;
        // a whole output row at a time.
        let weight = 1.0 / (k * k) as f32;
        for (oy, sums) in out.chunks_exact_mut(nw * channels).enumerate() {
            for row in src[k * oy * w * channels..]
                .chunks_exact(w * channels)
                .take(k)
            {
                for dx in 0..k {
                    let column = row[dx * channels..].chunks(k * channels);
                    for (sum, pixel) in sums.chunks_exact_mut(channels).zip(column) {
                        sum.iter_mut().zip(pixel).for_each(|(s, &v)| *s += v);
                    }
                }
            }
            sums.iter_mut().for_each(|s| *s *= weight);
        }
        return out;
    }
    AreaWeights::new(w, h, nw, nh).resize(src, channels)
}

/// The source pixels each output column and row of an area resize covers, with their weights:
/// made once for sizes that recur.
pub struct AreaWeights {
    w: usize,
    h: usize,
    x: Vec<Vec<(usize, f32)>>,
    y: Vec<Vec<(usize, f32)>>,
}

impl AreaWeights {
    /// The weights of resizing `w×h` to `nw×nh` (all non-zero).
    pub fn new(w: usize, h: usize, nw: usize, nh: usize) -> AreaWeights {
        AreaWeights {
            w,
            h,
            x: axis_weights(w, nw),
            y: axis_weights(h, nh),
        }
    }

    /// `area_resize` of `src` (`w×h`, `channels` interleaved).
    pub fn resize(&self, src: &[f32], channels: usize) -> Vec<f32> {
        // The common channel counts compiled apart, so their index arithmetic folds.
        match channels {
            1 => self.resize_channels(src, 1),
            3 => self.resize_channels(src, 3),
            _ => self.resize_channels(src, channels),
        }
    }

    #[inline(always)]
    fn resize_channels(&self, src: &[f32], channels: usize) -> Vec<f32> {
        let (w, h, nw, nh) = (self.w, self.h, self.x.len(), self.y.len());
        let mut out = vec![0f32; nw * nh * channels];
        // Rows first into an intermediate `nw × h`, then columns.
        let mut rows = vec![0f32; nw * h * channels];
        for y in 0..h {
            for (ox, taps) in self.x.iter().enumerate() {
                for &(x, weight) in taps {
                    for c in 0..channels {
                        rows[(y * nw + ox) * channels + c] +=
                            weight * src[(y * w + x) * channels + c];
                    }
                }
            }
        }
        for (oy, taps) in self.y.iter().enumerate() {
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

/// 3×3 mean of a `side²` image, edge pixels repeated (separable: sums of 3 along rows, then of
/// 3 rows).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub fn box_blur3(image: &[f32], side: usize) -> Vec<f32> {
    let mut rows = vec![0f32; side * side];
    for (row, out) in image.chunks_exact(side).zip(rows.chunks_exact_mut(side)) {
        if side < 2 {
            out.iter_mut().zip(row).for_each(|(o, &v)| *o = v + v + v);
            continue;
        }
        // The ends repeat themselves; the inside sums its neighbours, in the same order.
        out[0] = row[0] + row[0] + row[1];
        out[side - 1] = row[side - 2] + row[side - 1] + row[side - 1];
        let inside = out[1..side - 1].iter_mut();
        for (((o, &l), &c), &r) in inside.zip(row).zip(&row[1..]).zip(&row[2..]) {
            *o = l + c + r;
        }
    }
    let mut out = vec![0f32; side * side];
    for (y, out) in out.chunks_exact_mut(side).enumerate() {
        let (u, d) = (y.saturating_sub(1), (y + 1).min(side - 1));
        let (up, here, down) = (
            &rows[u * side..][..side],
            &rows[y * side..][..side],
            &rows[d * side..][..side],
        );
        for x in 0..side {
            out[x] = (up[x] + here[x] + down[x]) / 9.0;
        }
    }
    out
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
        let gray: Vec<f32> = gray.iter().map(|&v| f32::from(v)).collect();
        let blurred = box_blur3(&gray, n);
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
/// orientation bins (linear between neighbouring bins), square-rooted and L2-normalised.
pub fn hog(gray: &[u8]) -> Vec<f32> {
    let mut hist = cell_histograms(gray);
    for v in &mut hist {
        *v = v.sqrt();
    }
    normalise(&mut hist);
    hist
}

/// The mean gradient magnitude inside the margin (where `hog` looks): the image's amount of
/// structure.
pub fn structure(gray: &[u8]) -> f32 {
    let n = THUMB_SIDE;
    let Gradients { x: gx, y: gy } = Gradients::of(gray);
    let inner = (MARGIN..n - MARGIN).flat_map(|y| (MARGIN..n - MARGIN).map(move |x| y * n + x));
    let (total, count) = inner.fold((0f32, 0usize), |(total, count), p| {
        (total + (gx[p] * gx[p] + gy[p] * gy[p]).sqrt(), count + 1)
    });
    total / count.max(1) as f32
}

/// `atan2(y, x)` in `0..TAU`, within about 1e-5 radians (a minimax polynomial of atan on 0..1
/// folded into the octants); a histogram bin needs no more.
fn fast_angle(y: f32, x: f32) -> f32 {
    use std::f32::consts::{FRAC_PI_2, PI, TAU};
    let (ax, ay) = (x.abs(), y.abs());
    let (small, large) = if ax >= ay { (ay, ax) } else { (ax, ay) };
    if large == 0.0 {
        return 0.0;
    }
    let t = small / large;
    let t2 = t * t;
    let mut angle = t
        * (0.999_866
            + t2 * (-0.330_299_5 + t2 * (0.180_141 + t2 * (-0.085_133 + t2 * 0.020_835_1))));
    if ay > ax {
        angle = FRAC_PI_2 - angle;
    }
    if x < 0.0 {
        angle = PI - angle;
    }
    if y < 0.0 {
        angle = TAU - angle;
    }
    if angle >= TAU { 0.0 } else { angle }
}

/// Frequencies per axis the spectrum keeps: horizontal 0..SPECTRUM_FREQUENCIES, vertical
/// −(SPECTRUM_FREQUENCIES − 1)..SPECTRUM_FREQUENCIES.
const SPECTRUM_FREQUENCIES: usize = 8;
/// Values in a `spectrum`.
pub const SPECTRUM_LEN: usize = (2 * SPECTRUM_FREQUENCIES - 1) * SPECTRUM_FREQUENCIES;
// `spectrum` sums a row's cos and sin dots in one block of 16, and a column's with the vertical
// frequencies' cos and sin in two.
const _: () = assert!(2 * SPECTRUM_FREQUENCIES == 16 && 2 * (2 * SPECTRUM_FREQUENCIES - 1) <= 32);

/// Log magnitudes of the thumbnail's low spatial frequencies (mean removed, Hann-windowed), the
/// constant term left out. A translation changes only the phases, so a shifted or cropped copy
/// keeps its spectrum where its gradient histogram changes: on CIFAR-10 with planted copies, a
/// copy shifted by 15% of a side was its original's nearest neighbour by this far more often
/// than by the histogram.
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
pub fn spectrum(gray: &[u8]) -> Vec<f32> {
    let n = THUMB_SIDE;
    let k = SPECTRUM_FREQUENCIES;
    let fourier = Fourier::get();
    let windowed = windowed(gray);
    let product = |x: f32, b: f32| x * b;
    // Each row's horizontal frequencies 0..k (cos, then sin), then each of those columns'
    // vertical ones: every dot product as `dot` sums it, 16 side by side.
    let (mut rows_re, mut rows_im) = (vec![0f32; k * n], vec![0f32; k * n]);
    for (y, row) in windowed.chunks_exact(n).enumerate() {
        let dots: [f32; 16] = block_lane_sums(row, &fourier.row_basis, product);
        for u in 0..k {
            rows_re[u * n + y] = dots[u];
            rows_im[u * n + y] = dots[k + u];
        }
    }
    // Per horizontal frequency, the dots of its real and imaginary columns with each vertical
    // frequency's cos and sin (`Fourier::column_basis`).
    let half = n * 16;
    let column_dots = |column: &[f32]| -> [f32; 32] {
        let low: [f32; 16] = block_lane_sums(column, &fourier.column_basis[..half], product);
        let high: [f32; 16] = block_lane_sums(column, &fourier.column_basis[half..], product);
        std::array::from_fn(|j| if j < 16 { low[j] } else { high[j - 16] })
    };
    let dots: Vec<([f32; 32], [f32; 32])> = (0..k)
        .map(|u| {
            (
                column_dots(&rows_re[u * n..(u + 1) * n]),
                column_dots(&rows_im[u * n..(u + 1) * n]),
            )
        })
        .collect();
    let mut out = Vec::with_capacity((2 * k - 1) * k);
    for (t, v) in vertical_frequencies().enumerate() {
        let (c, s) = (2 * t, 2 * t + 1);
        for (u, (a, b)) in dots.iter().enumerate() {
            let re = a[c] - b[s];
            let im = a[s] + b[c];
            out.push(if (u, v) == (0, 0) {
                0.0
            } else {
                (re * re + im * im).sqrt().ln_1p()
            });
        }
    }
    out
}

/// The thumbnail with its mean removed, times the Hann window on both axes.
fn windowed(gray: &[u8]) -> Vec<f32> {
    let n = THUMB_SIDE;
    let window = &Fourier::get().window;
    let mean = gray.iter().map(|&v| f32::from(v)).sum::<f32>() / (n * n) as f32;
    gray.iter()
        .enumerate()
        .map(|(p, &v)| (f32::from(v) - mean) * window[p % n] * window[p / n])
        .collect()
}

/// The vertical frequencies `spectrum` keeps: 0..k, then −(k − 1)..0 as their indices n − k + 1..n.
fn vertical_frequencies() -> impl Iterator<Item = usize> {
    (0..SPECTRUM_FREQUENCIES).chain(THUMB_SIDE - SPECTRUM_FREQUENCIES + 1..THUMB_SIDE)
}

/// The Hann window and the DFT's bases (`dft_tables`) at `THUMB_SIDE`, made once.
struct Fourier {
    window: Vec<f32>,
    /// The cos then sin rows of horizontal frequencies 0..k, dimension-major
    /// (`block_lane_sums`).
    row_basis: Vec<f32>,
    /// The cos and sin rows of each of `vertical_frequencies`, interleaved, padded to 32
    /// vectors: two blocks of 16, dimension-major.
    column_basis: Vec<f32>,
}

impl Fourier {
    fn get() -> &'static Fourier {
        use std::f32::consts::TAU;
        static TABLES: std::sync::OnceLock<Fourier> = std::sync::OnceLock::new();
        TABLES.get_or_init(|| {
            let n = THUMB_SIDE;
            let (cos, sin) = dft_tables();
            let k = SPECTRUM_FREQUENCIES;
            let rows: Vec<&[f32]> = (0..k)
                .map(|u| &cos[u * n..][..n])
                .chain((0..k).map(|u| &sin[u * n..][..n]))
                .collect();
            let columns: Vec<&[f32]> = vertical_frequencies()
                .flat_map(|v| [&cos[v * n..][..n], &sin[v * n..][..n]])
                .collect();
            let row_basis = dimension_major(&rows, n, 16);
            let column_basis = [
                dimension_major(&columns[..16], n, 16),
                dimension_major(&columns[16..], n, 16),
            ]
            .concat();
            Fourier {
                window: (0..n)
                    .map(|i| 0.5 - 0.5 * (TAU * (i + 1) as f32 / (n + 1) as f32).cos())
                    .collect(),
                row_basis,
                column_basis,
            }
        })
    }
}

/// The DFT's cos and sin tables at `THUMB_SIDE`: `[f · n + x]` for frequency f at x.
fn dft_tables() -> (Vec<f32>, Vec<f32>) {
    use std::f32::consts::TAU;
    let n = THUMB_SIDE;
    let angle = |p: usize| -TAU * (((p / n) * (p % n)) % n) as f32 / n as f32;
    (
        (0..n * n).map(|p| angle(p).cos()).collect(),
        (0..n * n).map(|p| angle(p).sin()).collect(),
    )
}

/// Largest translation `recentred` applies, in thumbnail pixels.
const MAX_RECENTRING_PX: f32 = 8.0;

/// The thumbnail translated (edge pixels repeated) so that the centroid of its gradient magnitude
/// lies at the centre. A shifted or cropped copy moves its content and that centroid alike, so
/// the two recentred thumbnails are aligned to within a pixel or two, and their windowed
/// `spectrum` weighs the same content alike.
pub fn recentred(gray: &[u8]) -> Vec<u8> {
    let n = THUMB_SIDE;
    let Gradients { x: gx, y: gy } = Gradients::of(gray);
    let (mut total, mut sx, mut sy) = (0f32, 0f32, 0f32);
    for y in MARGIN..n - MARGIN {
        for x in MARGIN..n - MARGIN {
            let magnitude = (gx[y * n + x].powi(2) + gy[y * n + x].powi(2)).sqrt();
            total += magnitude;
            sx += magnitude * x as f32;
            sy += magnitude * y as f32;
        }
    }
    if total <= 0.0 {
        return gray.to_vec();
    }
    let centre = (n - 1) as f32 / 2.0;
    let offset = |c: f32| {
        (c / total - centre)
            .round()
            .clamp(-MAX_RECENTRING_PX, MAX_RECENTRING_PX) as i32
    };
    let (dx, dy) = (offset(sx), offset(sy));
    let clamp = |v: i32| v.clamp(0, n as i32 - 1) as usize;
    (0..n * n)
        .map(|p| {
            let (x, y) = ((p % n) as i32, (p / n) as i32);
            gray[clamp(y + dy) * n + clamp(x + dx)]
        })
        .collect()
}

/// A `side`-wide image mirrored left to right.
pub fn mirrored<T: Copy>(image: &[T], side: usize) -> Vec<T> {
    image
        .chunks_exact(side)
        .flat_map(|row| row.iter().rev().copied())
        .collect()
}

/// Per-cell orientation histograms (raw sums).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn cell_histograms(gray: &[u8]) -> Vec<f32> {
    let n = THUMB_SIDE;
    let cell = n / HOG_CELLS;
    let Gradients { x: gx, y: gy } = Gradients::of(gray);
    let mut hist = vec![0f32; HOG_LEN];
    for y in MARGIN..n - MARGIN {
        for x in MARGIN..n - MARGIN {
            let (dx, dy) = (gx[y * n + x], gy[y * n + x]);
            let magnitude = (dx * dx + dy * dy).sqrt();
            if magnitude == 0.0 {
                continue;
            }
            let angle = fast_angle(dy, dx);
            let position = angle / std::f32::consts::TAU * HOG_BINS as f32;
            let bin = (position.floor() as usize) % HOG_BINS;
            let frac = position - position.floor();
            let base = ((y / cell) * HOG_CELLS + x / cell) * HOG_BINS;
            hist[base + bin] += magnitude * (1.0 - frac);
            hist[base + (bin + 1) % HOG_BINS] += magnitude * frac;
        }
    }
    hist
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

/// Dot product, summed in 8 lanes so that it vectorises.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum_in_lanes(a, b, |x, y| x * y)
}

/// Squared Euclidean distance, summed in 8 lanes: the reference `block_lane_sums` is held to.
#[cfg(test)]
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    sum_in_lanes(a, b, |x, y| (x - y) * (x - y))
}

/// The sum of `term(a[i], b[i])`, in 8 lanes: the additions of different lanes do not wait on
/// one another, so the compiler may use vector instructions.
#[inline(always)]
fn sum_in_lanes(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(&x, &y)| term(x, y))
        .sum();
    let mut lanes = [0f32; 8];
    for (x, y) in chunks_a.zip(chunks_b) {
        for k in 0..8 {
            lanes[k] += term(x[k], y[k]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `sum_in_lanes(query, v, term)` for each of the `B` vectors `v` of `block` (dimension-major:
/// every vector's first value, then every second one, …), side by side in vector lanes: the
/// same numbers, bit for bit, several times faster.
#[inline(always)]
pub fn block_lane_sums<const B: usize>(
    query: &[f32],
    block: &[f32],
    term: impl Fn(f32, f32) -> f32,
) -> [f32; B] {
    let in_lanes = query.len() / 8 * 8;
    let mut lanes = [[0f32; B]; 8];
    // Whole groups of 8, so that each lane stays in a register.
    for (c, group) in query[..in_lanes].chunks_exact(8).enumerate() {
        for (l, (&x, lane)) in group.iter().zip(&mut lanes).enumerate() {
            let column = &block[(c * 8 + l) * B..][..B];
            for r in 0..B {
                lane[r] += term(x, column[r]);
            }
        }
    }
    // As `Sum` for floats adds up: from −0.0, in order.
    let (mut summed, mut tail) = ([-0.0f32; B], [-0.0f32; B]);
    for lane in &lanes {
        for r in 0..B {
            summed[r] += lane[r];
        }
    }
    for (d, &x) in query.iter().enumerate().skip(in_lanes) {
        let column = &block[d * B..][..B];
        for r in 0..B {
            tail[r] += term(x, column[r]);
        }
    }
    for r in 0..B {
        summed[r] += tail[r];
    }
    summed
}

/// `vectors` (each `dim` long, at most `block`) as one block for `block_lane_sums`, padded
/// with zero vectors.
pub fn dimension_major(vectors: &[&[f32]], dim: usize, block: usize) -> Vec<f32> {
    let mut values = vec![0f32; dim * block];
    for (r, vector) in vectors.iter().enumerate() {
        for (d, &x) in vector.iter().enumerate() {
            values[d * block + r] = x;
        }
    }
    values
}

/// The Gaussian directions of `count` 64-bit random-hyperplane hashes (SimHash) of
/// `dim`-dimensional vectors: bit k of a table's code is the sign of the projection on its k-th
/// direction. Two vectors at angle θ differ in about 64·θ/π bits, so the Hamming index finds
/// vectors with a high cosine. The directions come from a fixed seed, so codes are reproducible.
pub struct Hyperplanes {
    dim: usize,
    /// Per table, 64 directions of `dim` values, value-major (`dim` rows of 64).
    tables: Vec<Vec<f32>>,
}

impl Hyperplanes {
    pub fn new(dim: usize, count: usize, seed: u64) -> Hyperplanes {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tables = (0..count)
            .map(|_| {
                let directions: Vec<f32> = (0..64 * dim)
                    .map(|_| rng.sample::<f32, _>(StandardNormal))
                    .collect();
                // Stored transposed, value-major: a code is then 64 running sums side by side.
                (0..dim * 64)
                    .map(|p| directions[(p % 64) * dim + p / 64])
                    .collect()
            })
            .collect();
        Hyperplanes { dim, tables }
    }

    pub fn count(&self) -> usize {
        self.tables.len()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The code of `v` in `table`.
    pub fn code(&self, table: usize, v: &[f32]) -> u64 {
        hyperplane_code(&self.tables[table], self.dim, v)
    }
}

/// Bit k set when `v` projects positively on the k-th direction of `planes` (`dim` rows of 64,
/// one value of every direction per row).
#[multiversion::multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma"))]
fn hyperplane_code(planes: &[f32], dim: usize, v: &[f32]) -> u64 {
    let mut projections = [0f32; 64];
    for (row, &x) in planes.chunks_exact(64).zip(v).take(dim) {
        for (p, &d) in projections.iter_mut().zip(row) {
            *p += x * d;
        }
    }
    projections
        .iter()
        .enumerate()
        .fold(0u64, |code, (bit, &p)| code | (u64::from(p > 0.0) << bit))
}

/// `count` SimHash codes (`Hyperplanes`) of each vector: one code set per table.
pub fn simhashes(vectors: &[&[f32]], dim: usize, count: usize, seed: u64) -> Vec<Vec<u64>> {
    let planes = Hyperplanes::new(dim, count, seed);
    (0..count)
        .map(|table| vectors.par_iter().map(|v| planes.code(table, v)).collect())
        .collect()
}

/// A unit vector as `i8` values and the scale that turns them back: a quarter of the memory of
/// `f32`, and cosines within a few thousandths of the float ones (about 0.002 for Gaussian
/// 128-value vectors), against candidate gates of 0.5 and up.
pub fn quantised(v: &[f32], out: &mut [i8]) -> f32 {
    let largest = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 {
        out.fill(0);
        return 0.0;
    }
    let scale = largest / 127.0;
    for (q, x) in out.iter_mut().zip(v) {
        *q = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// Dot product of two `i8` vectors (exact, in `i32`).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx2+fma", "x86_64+avx2+fma"))]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `spectrum` as it was written first: one `dot` at a time.
    fn spectrum_by_dots(gray: &[u8]) -> Vec<f32> {
        let n = THUMB_SIDE;
        let k = SPECTRUM_FREQUENCIES;
        let (cos, sin) = dft_tables();
        let windowed = windowed(gray);
        // Each row's horizontal frequencies 0..k, then each of those columns' vertical ones.
        let (mut rows_re, mut rows_im) = (vec![0f32; k * n], vec![0f32; k * n]);
        for (y, row) in windowed.chunks_exact(n).enumerate() {
            for u in 0..k {
                rows_re[u * n + y] = dot(row, &cos[u * n..(u + 1) * n]);
                rows_im[u * n + y] = dot(row, &sin[u * n..(u + 1) * n]);
            }
        }
        let vertical = (0..k).chain(n - k + 1..n);
        let mut out = Vec::with_capacity((2 * k - 1) * k);
        for v in vertical {
            let (c, s) = (&cos[v * n..(v + 1) * n], &sin[v * n..(v + 1) * n]);
            for u in 0..k {
                let (a, b) = (&rows_re[u * n..(u + 1) * n], &rows_im[u * n..(u + 1) * n]);
                let re = dot(a, c) - dot(b, s);
                let im = dot(a, s) + dot(b, c);
                out.push(if (u, v) == (0, 0) {
                    0.0
                } else {
                    (re * re + im * im).sqrt().ln_1p()
                });
            }
        }
        out
    }

    #[test]
    fn the_box_blur_is_the_mean_of_each_pixels_clamped_neighbours_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for side in [1, 2, 3, 16, 23, 32] {
            let image: Vec<f32> = (0..side * side)
                .map(|_| rng.random::<f32>() * 255.0)
                .collect();
            let at = |x: usize, y: usize| image[y * side + x];
            let clamped =
                |v: usize, d: isize| (v as isize + d).clamp(0, side as isize - 1) as usize;
            // Each row's three, left to right, then the three rows', top to bottom.
            let row_sum =
                |x: usize, y: usize| at(clamped(x, -1), y) + at(x, y) + at(clamped(x, 1), y);
            let expected: Vec<u32> = (0..side * side)
                .map(|p| {
                    let (x, y) = (p % side, p / side);
                    let sum =
                        row_sum(x, clamped(y, -1)) + row_sum(x, y) + row_sum(x, clamped(y, 1));
                    (sum / 9.0).to_bits()
                })
                .collect();
            let blurred: Vec<u32> = box_blur3(&image, side)
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(blurred, expected, "side {side}");
        }
    }

    #[test]
    fn the_spectrum_in_lanes_is_the_spectrum_by_dots_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let gray: Vec<u8> = (0..THUMB_SIDE * THUMB_SIDE).map(|_| rng.random()).collect();
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            assert_eq!(bits(spectrum(&gray)), bits(spectrum_by_dots(&gray)));
        }
    }

    #[test]
    fn quantised_cosines_stay_within_a_few_thousandths() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let mut a: Vec<f32> = (0..128)
                .map(|_| rng.sample::<f32, _>(StandardNormal))
                .collect();
            let mut b: Vec<f32> = a
                .iter()
                .map(|x| x + 0.7 * rng.sample::<f32, _>(StandardNormal))
                .collect();
            normalise(&mut a);
            normalise(&mut b);
            let (mut qa, mut qb) = (vec![0i8; 128], vec![0i8; 128]);
            let (sa, sb) = (quantised(&a, &mut qa), quantised(&b, &mut qb));
            let cosine = dot_i8(&qa, &qb) as f32 * sa * sb;
            assert!(
                (cosine - dot(&a, &b)).abs() < 5e-3,
                "{cosine} vs {}",
                dot(&a, &b)
            );
        }
    }

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
    fn whole_factor_resizes_are_block_means_summed_in_reading_order() {
        for (channels, k) in [(1, 2), (1, 4), (3, 2), (3, 4)] {
            let (nw, nh) = (5, 3);
            let (w, h) = (k * nw, k * nh);
            let src: Vec<f32> = (0..w * h * channels)
                .map(|v| ((v * 7919) % 251) as f32 / 3.0)
                .collect();
            let out = area_resize(&src, channels, w, h, nw, nh);
            for (oy, ox, c) in (0..nh)
                .flat_map(|y| (0..nw).flat_map(move |x| (0..channels).map(move |c| (y, x, c))))
            {
                let mut sum = 0f32;
                for y in k * oy..k * (oy + 1) {
                    for x in k * ox..k * (ox + 1) {
                        sum += src[(y * w + x) * channels + c];
                    }
                }
                let expected = sum * (1.0 / (k * k) as f32);
                assert_eq!(
                    out[(oy * nw + ox) * channels + c].to_bits(),
                    expected.to_bits()
                );
            }
        }
    }

    #[test]
    fn resizing_to_nothing_gives_nothing() {
        let src = vec![1.0f32; 12];
        assert!(area_resize(&src, 1, 4, 3, 0, 1).is_empty());
        assert!(area_resize(&src, 1, 4, 3, 2, 0).is_empty());
    }

    #[test]
    fn a_shifted_copy_finds_its_original_by_spectrum_more_often_than_by_gradients() {
        // A 15% shift, the uncovered border repeating the edge.
        let shifted = |image: &DynamicImage| {
            let rgb = image.to_rgb8();
            let (w, h) = rgb.dimensions();
            let (dx, dy) = (w * 15 / 100, h * 15 / 100);
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
                *rgb.get_pixel(x.saturating_sub(dx), y.saturating_sub(dy))
            }))
        };
        let pictures = 24u64;
        let by_spectrum = |gray: &[u8]| spectrum(&recentred(gray));
        let by_gradients = |gray: &[u8]| hog(gray);
        // How many shifted copies have their own original as the nearest picture.
        let found = |describe: &dyn Fn(&[u8]) -> Vec<f32>| {
            let originals: Vec<Vec<f32>> = (0..pictures)
                .map(|seed| describe(&Signature::of(&pattern(64, 64, seed)).gray))
                .collect();
            let mean: Vec<f32> = (0..originals[0].len())
                .map(|d| originals.iter().map(|s| s[d]).sum::<f32>() / pictures as f32)
                .collect();
            let unit = |s: &[f32]| {
                let mut v: Vec<f32> = s.iter().zip(&mean).map(|(x, m)| x - m).collect();
                normalise(&mut v);
                v
            };
            (0..pictures)
                .filter(|&seed| {
                    let copy = shifted(&pattern(64, 64, seed));
                    let copy = unit(&describe(&Signature::of(&copy).gray));
                    let nearest = (0..pictures as usize)
                        .max_by(|&x, &y| {
                            dot(&copy, &unit(&originals[x]))
                                .total_cmp(&dot(&copy, &unit(&originals[y])))
                        })
                        .expect("pictures");
                    nearest as u64 == seed
                })
                .count()
        };
        let (spectrum_found, gradients_found) = (found(&by_spectrum), found(&by_gradients));
        assert!(
            spectrum_found > gradients_found && 2 * spectrum_found > pictures as usize,
            "spectrum {spectrum_found}, gradients {gradients_found} of {pictures}"
        );
    }

    #[test]
    fn the_fast_angle_stays_within_a_ten_thousandth_of_a_radian_of_atan2() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..100_000 {
            let (y, x): (f32, f32) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            let exact = y.atan2(x).rem_euclid(std::f32::consts::TAU);
            let fast = fast_angle(y, x);
            let error = (fast - exact).abs();
            let error = error.min(std::f32::consts::TAU - error);
            assert!(error < 1e-4, "atan2({y}, {x}): {fast} against {exact}");
        }
        assert_eq!(fast_angle(0.0, 0.0), 0.0);
        assert!((fast_angle(0.0, -1.0) - std::f32::consts::PI).abs() < 1e-6);
    }

    #[test]
    fn hash_codes_differ_in_about_64_theta_over_pi_bits_and_flip_with_the_vector() {
        let dim = 120;
        let planes = Hyperplanes::new(dim, 12, 11);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut random_unit = || {
            let mut v: Vec<f32> = (0..dim).map(|_| rng.sample(StandardNormal)).collect();
            normalise(&mut v);
            v
        };
        for theta in [0.2f32, 0.8, 1.6] {
            let (mut differing, mut codes) = (0u32, 0u32);
            for _ in 0..40 {
                let a = random_unit();
                // b at angle theta from a, in the plane of a and a random direction.
                let r = random_unit();
                let along = dot(&r, &a);
                let mut ortho: Vec<f32> = r.iter().zip(&a).map(|(r, a)| r - along * a).collect();
                normalise(&mut ortho);
                let b: Vec<f32> = a
                    .iter()
                    .zip(&ortho)
                    .map(|(a, o)| theta.cos() * a + theta.sin() * o)
                    .collect();
                let minus_a: Vec<f32> = a.iter().map(|x| -x).collect();
                for table in 0..planes.count() {
                    differing += (planes.code(table, &a) ^ planes.code(table, &b)).count_ones();
                    codes += 1;
                    assert_eq!(planes.code(table, &minus_a), !planes.code(table, &a));
                }
            }
            let mean = differing as f32 / codes as f32;
            let expected = 64.0 * theta / std::f32::consts::PI;
            assert!(
                (mean - expected).abs() < 0.15 * expected + 0.5,
                "angle {theta}: {mean} bits differ, expected about {expected}"
            );
        }
    }

    #[test]
    fn resizing_by_a_whole_factor_averages_blocks_as_the_area_weights_do() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (k, channels) in [(2usize, 1usize), (4, 3), (3, 1)] {
            let (nw, nh) = (5, 4);
            let src: Vec<f32> = (0..k * nw * k * nh * channels)
                .map(|_| rng.random_range(0.0..255.0))
                .collect();
            let fast = area_resize(&src, channels, k * nw, k * nh, nw, nh);
            let general = AreaWeights::new(k * nw, k * nh, nw, nh).resize(&src, channels);
            assert_eq!(fast.len(), general.len());
            for (a, b) in fast.iter().zip(&general) {
                assert!((a - b).abs() < 1e-3, "factor {k}: {a} against {b}");
            }
        }
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
        assert!(hog(&signature.gray).iter().all(|&v| v == 0.0));
        assert!(Signature::of(&pattern(40, 30, 2)).has_structure);
    }
}
