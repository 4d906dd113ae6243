//! Whether two images are the same shot. The second is aligned onto the first (a shift of up to
//! `MAX_SHIFT` of a side, a rescale within `MAX_SCALE`, optionally a mirror) and the two are then
//! compared pixel by pixel: tone, detail and every region must agree, by correlations that ignore
//! brightness, contrast and colour. The rule is fixed: it does not depend on the dataset.

use super::signature::{self, Signature, THUMB_SIDE, area_resize, box_blur3};

/// Largest shift between two shots of one picture, as a fraction of the side (crops and
/// translations).
pub const MAX_SHIFT: f32 = 0.16;
/// Largest rescale of the content between two shots (either way): a 15% crop resized back is
/// 1.18×.
pub const MAX_SCALE: f32 = 1.22;
/// Coarsest side compared: smaller images are compared upsampled to it.
const MIN_SIDE: usize = 16;
/// Least share of the first image's inner area that the aligned second must cover.
pub const MIN_OVERLAP: f32 = 0.5;
/// Correlation of the gray levels, after alignment, at or above which the tone agrees.
pub const MIN_TONE: f32 = 0.9;
/// Correlation of the fine detail (gray minus its 3×3 mean), or of the detail one band coarser,
/// at or above which the detail agrees.
pub const MIN_DETAIL: f32 = 0.7;
/// Correlation of the gray levels in every region with content (3×3 regions of the overlap) at or
/// above which each region agrees: two photos that share a frame or a sky agree only there.
pub const MIN_REGION: f32 = 0.6;
/// A region counts when its variance is at least this share of the overlap's mean region variance.
const REGION_MIN_VARIANCE_SHARE: f32 = 0.1;
/// Pairs whose best coarse alignment correlates less than this are rejected unrefined: the coarse
/// images are smoother and correlate more than the full ones, which must reach `MIN_TONE`.
const COARSE_GATE: f32 = 0.75;

/// How the second image maps onto the first: a pixel `p` of the first corresponds to
/// `scale · (p − centre) + centre + shift` of the second (then mirrored when `mirrored`). Shifts
/// are fractions of the side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alignment {
    pub mirrored: bool,
    pub scale: f32,
    pub shift_x: f32,
    pub shift_y: f32,
}

/// The comparison of an aligned pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub alignment: Alignment,
    /// Correlation of the gray levels over the overlap.
    pub tone: f32,
    /// Correlation of the fine detail over the overlap.
    pub detail: f32,
    /// Correlation of the detail one band coarser (the 3×3 mean minus its own 3×3 mean): what
    /// agrees when one image lacks the finest detail, upscaled from a smaller copy.
    pub coarser_detail: f32,
    /// Lowest gray-level correlation over the regions with content.
    pub weakest_region: f32,
    /// Share of the first image's inner area the second covers.
    pub overlap: f32,
}

impl Comparison {
    /// The fixed rule: enough overlap, and tone, detail and every region agree.
    pub fn is_same_shot(&self) -> bool {
        self.overlap >= MIN_OVERLAP
            && self.tone >= MIN_TONE
            && self.agreeing_detail() >= MIN_DETAIL
            && self.weakest_region >= MIN_REGION
    }

    /// One number to rank pairs by, 0..=1: the weakest of the three correlations.
    pub fn confidence(&self) -> f32 {
        self.tone
            .min(self.agreeing_detail())
            .min(self.weakest_region)
            .max(0.0)
    }

    /// The detail correlation of the band that agrees better: the fine one, or the coarser one
    /// when one image is an upscaled copy that never had the finest detail.
    pub fn agreeing_detail(&self) -> f32 {
        self.detail.max(self.coarser_detail)
    }

    /// What the comparison found, in words: "same shot after a 6% shift and 1.10× scale; tone
    /// correlation 0.98, detail 0.91, weakest region 0.93".
    pub fn describe(&self) -> String {
        let a = self.alignment;
        let mut changes = Vec::new();
        let shift = (a.shift_x.powi(2) + a.shift_y.powi(2)).sqrt();
        if shift >= 0.015 {
            changes.push(format!("a {:.0}% shift", shift * 100.0));
        }
        if (a.scale - 1.0).abs() >= 0.02 {
            changes.push(format!("{:.2}× scale", a.scale));
        }
        if a.mirrored {
            changes.push("a mirror".to_string());
        }
        let verdict = if self.is_same_shot() {
            "same shot"
        } else {
            "not the same shot"
        };
        let after = if changes.is_empty() {
            String::new()
        } else {
            format!(" after {}", changes.join(" and "))
        };
        let detail = if self.coarser_detail > self.detail {
            format!(
                "{:.2} (fine {:.2}, one band coarser {:.2})",
                self.agreeing_detail(),
                self.detail,
                self.coarser_detail
            )
        } else {
            format!("{:.2}", self.detail)
        };
        format!(
            "{verdict}{after}; tone correlation {:.2}, detail {detail}, weakest region {:.2}",
            self.tone, self.weakest_region
        )
    }
}

/// What may differ between two shots.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    pub mirror: bool,
}

impl Tolerance {
    /// What the scan's settings allow.
    pub fn of(settings: &super::ScanSettings) -> Tolerance {
        Tolerance {
            mirror: settings.near_duplicate_mirror,
        }
    }
}

/// A gray thumbnail prepared for comparison at `side`.
pub struct View {
    side: usize,
    gray: Vec<f32>,
    /// The 3×3 mean of `gray`, made when first needed: most pairs are rejected before.
    blurred: std::cell::OnceCell<Vec<f32>>,
    /// `gray` minus its 3×3 mean.
    detail: std::cell::OnceCell<Vec<f32>>,
    /// The 3×3 mean minus its own 3×3 mean, made when first measured.
    coarser_detail: std::cell::OnceCell<Vec<f32>>,
    /// `gray` at half the side, for the coarse alignment.
    half: Vec<f32>,
    /// `half` at each coarse scale, made when the view is first compared as the first image.
    scaled_halves: std::cell::OnceCell<ScaledHalves>,
}

/// The side two images are compared at: their smaller source side, within `MIN_SIDE..=THUMB_SIDE`
/// (a half-size copy has lost the finest detail; comparing at its size keeps it a copy).
pub fn comparison_side(source_side_a: u32, source_side_b: u32) -> usize {
    (source_side_a.min(source_side_b) as usize).clamp(MIN_SIDE, THUMB_SIDE)
}

impl View {
    pub fn side(&self) -> usize {
        self.side
    }

    /// `gray` is a `THUMB_SIDE²` thumbnail.
    pub fn of(gray: &[u8], side: usize) -> View {
        let full: Vec<f32> = gray.iter().map(|&v| f32::from(v)).collect();
        let gray = if side == THUMB_SIDE {
            full
        } else {
            area_resize(&full, 1, THUMB_SIDE, THUMB_SIDE, side, side)
        };
        let half = area_resize(&gray, 1, side, side, side / 2, side / 2);
        View {
            side,
            gray,
            blurred: std::cell::OnceCell::new(),
            detail: std::cell::OnceCell::new(),
            coarser_detail: std::cell::OnceCell::new(),
            half,
            scaled_halves: std::cell::OnceCell::new(),
        }
    }

    fn blurred(&self) -> &[f32] {
        self.blurred
            .get_or_init(|| box_blur3(&self.gray, self.side))
    }

    fn detail(&self) -> &[f32] {
        self.detail
            .get_or_init(|| band_pass(&self.gray, self.blurred()))
    }

    fn coarser_detail(&self) -> &[f32] {
        self.coarser_detail.get_or_init(|| {
            let blurred = self.blurred();
            band_pass(blurred, &box_blur3(blurred, self.side))
        })
    }
}

/// `image` minus `blurred`, pixel by pixel.
fn band_pass(image: &[f32], blurred: &[f32]) -> Vec<f32> {
    image.iter().zip(blurred).map(|(g, b)| g - b).collect()
}

/// Pixels at the border of a side-`side` image left out of every comparison (frames).
fn margin(side: usize) -> usize {
    (side * 3).div_ceil(THUMB_SIDE)
}

/// Running sums of a correlation.
#[derive(Default, Clone, Copy)]
struct Sums {
    n: f32,
    a: f32,
    b: f32,
    aa: f32,
    bb: f32,
    ab: f32,
}

impl Sums {
    fn add(&mut self, a: f32, b: f32) {
        self.n += 1.0;
        self.a += a;
        self.b += b;
        self.aa += a * a;
        self.bb += b * b;
        self.ab += a * b;
    }

    fn variance_a(&self) -> f32 {
        if self.n < 1.0 {
            return 0.0;
        }
        (self.aa - self.a * self.a / self.n) / self.n
    }

    fn correlation(&self) -> f32 {
        let wide = f64::from;
        correlation_of(
            wide(self.n),
            (wide(self.a), wide(self.aa)),
            (wide(self.b), wide(self.bb)),
            wide(self.ab),
        )
    }
}

/// Where one coordinate of the first image falls in the second: the two neighbouring pixels and
/// the weight of the second.
#[derive(Clone, Copy, Default)]
struct Tap {
    at: usize,
    low: usize,
    high: usize,
    weight: f32,
}

impl Tap {
    /// Coordinate `at` of the first image falling at `q` (inside) of a `side`-wide second.
    fn new(at: usize, q: f32, side: usize) -> Tap {
        // Truncation is the floor for the non-negative coordinates inside.
        let low = q as usize;
        Tap {
            at,
            low,
            high: (low + 1).min(side - 1),
            weight: q - low as f32,
        }
    }

    /// Bilinear sample of a `side²` image at the taps of a column `x` and a row `y`.
    #[inline]
    fn sample(image: &[f32], side: usize, x: Tap, y: Tap) -> f32 {
        Tap::sample_rows((&image[y.low * side..], &image[y.high * side..]), x, y)
    }

    /// `sample`, given the image's rows at `y.low` and `y.high`.
    #[inline]
    fn sample_rows((top, bottom): (&[f32], &[f32]), x: Tap, y: Tap) -> f32 {
        let top = top[x.low] + (top[x.high] - top[x.low]) * x.weight;
        let bottom = bottom[x.low] + (bottom[x.high] - bottom[x.low]) * x.weight;
        top + (bottom - top) * y.weight
    }
}

/// The taps of one axis (every `step`-th inner coordinate) that map inside the second image's
/// inner area: `q = scale · (p − centre) + centre + shift`, reversed when `mirrored`. An
/// alignment maps the axes separately, so the pixels it compares are the rows' taps times the
/// columns'.
fn axis_taps(side: usize, scale: f32, shift: f32, mirrored: bool, step: usize) -> Taps {
    let m = margin(side);
    let (lo, hi) = (m as f32, (side - 1 - m) as f32);
    let centre = (side - 1) as f32 / 2.0;
    let mut taps = Taps {
        taps: [Tap::default(); THUMB_SIDE],
        len: 0,
    };
    for p in (m..side - m).step_by(step) {
        let mut q = scale * (p as f32 - centre) + centre + shift * side as f32;
        if mirrored {
            q = (side - 1) as f32 - q;
        }
        if (lo..=hi).contains(&q) {
            taps.taps[taps.len] = Tap::new(p, q, side);
            taps.len += 1;
        }
    }
    taps
}

/// The taps of one axis, at most `THUMB_SIDE` (sides compared are at most that).
struct Taps {
    taps: [Tap; THUMB_SIDE],
    len: usize,
}

impl Taps {
    fn as_slice(&self) -> &[Tap] {
        &self.taps[..self.len]
    }
}

/// Visits every inner pixel of the first image (every `step`-th) whose aligned position lies
/// inside the second's inner area: `visit(column tap, row tap)`.
fn for_each_aligned(
    side: usize,
    alignment: &Alignment,
    step: usize,
    mut visit: impl FnMut(Tap, Tap),
) {
    let (rows, columns) = alignment_taps(side, alignment, step);
    for &y in rows.as_slice() {
        for &x in columns.as_slice() {
            visit(x, y);
        }
    }
}

/// The taps of an alignment at every `step`-th inner pixel: rows, then columns.
fn alignment_taps(side: usize, alignment: &Alignment, step: usize) -> (Taps, Taps) {
    (
        axis_taps(side, alignment.scale, alignment.shift_y, false, step),
        axis_taps(
            side,
            alignment.scale,
            alignment.shift_x,
            alignment.mirrored,
            step,
        ),
    )
}

/// Column taps `correlate` takes at most, each summed in a lane of its own: sums that wait on no
/// other addition. Refining samples every `REFINE_STEP`-th inner pixel of at most `THUMB_SIDE`.
const CORRELATE_LANES: usize = 16;

/// Correlation of each image pair `(a, b)` (all `side²`), `b` sampled at the taps of an alignment
/// (`alignment_taps`) onto `a`, in one pass, and the share of the first image's inner area
/// covered.
fn correlate<const K: usize>(
    pairs: [(&[f32], &[f32]); K],
    side: usize,
    (rows, columns): (&Taps, &Taps),
    step: usize,
) -> ([f32; K], f32) {
    assert!(
        columns.len <= CORRELATE_LANES && side <= 2 * CORRELATE_LANES,
        "{} column taps of a {side}-pixel side",
        columns.len
    );
    let n = (rows.len * columns.len) as f64;
    let correlations = pairs.map(|pair| {
        let [a, b, aa, bb, ab] = lane_sums(pair, side, (rows, columns));
        correlation_of(n, (a, aa), (b, bb), ab)
    });
    let inner = (side - 2 * margin(side)).div_ceil(step).pow(2) as f64;
    (correlations, (n / inner) as f32)
}

/// Sums of a correlation: a, b, aa, bb, ab.
type CorrelationSums = [f64; 5];

/// The sums over `a` and `b` sampled onto it at the taps. Each column tap sums down the rows in
/// a lane of its own, and the lanes are added last, in order: where the CPU has AVX-512, all
/// lanes at once (`lane_sums_avx512`), with the same sums.
fn lane_sums(pair: (&[f32], &[f32]), side: usize, taps: (&Taps, &Taps)) -> CorrelationSums {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { lane_sums_avx512(pair, side, taps) };
    }
    lane_sums_portable(pair, side, taps)
}

/// `lane_sums`, row by row, the lanes in memory: each lane's additions wait only on its own.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn lane_sums_portable(
    (a, b): (&[f32], &[f32]),
    side: usize,
    (rows, columns): (&Taps, &Taps),
) -> CorrelationSums {
    let taps = columns.as_slice();
    let mut lanes = [[0f32; CORRELATE_LANES]; 5];
    for &y in rows.as_slice() {
        let a_row = &a[y.at * side..][..side];
        // The rows looked up once.
        let rows = (&b[y.low * side..][..side], &b[y.high * side..][..side]);
        for (j, &x) in taps.iter().enumerate() {
            let (va, vb) = (a_row[x.at], Tap::sample_rows(rows, x, y));
            lanes[0][j] += va;
            lanes[1][j] += vb;
            lanes[2][j] += va * va;
            lanes[3][j] += vb * vb;
            lanes[4][j] += va * vb;
        }
    }
    totals_of(&lanes, taps.len())
}

/// The sums of the first `used` lanes, added in lane order.
fn totals_of(lanes: &[[f32; CORRELATE_LANES]; 5], used: usize) -> CorrelationSums {
    lanes.map(|lane| lane[..used].iter().fold(0.0, |t, &v| t + f64::from(v)))
}

/// `lane_sums` with every lane in one register: a row of at most `2 * CORRELATE_LANES` pixels
/// fits two, and its taps are picked from them by permutes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn lane_sums_avx512(
    (a, b): (&[f32], &[f32]),
    side: usize,
    (rows, columns): (&Taps, &Taps),
) -> CorrelationSums {
    use std::arch::x86_64::*;
    let (mut at, mut low, mut high, mut weight) = ([0i32; 16], [0i32; 16], [0i32; 16], [0f32; 16]);
    for (j, x) in columns.as_slice().iter().enumerate() {
        (at[j], low[j], high[j], weight[j]) = (x.at as i32, x.low as i32, x.high as i32, x.weight);
    }
    // SAFETY (each load and store of a 16-lane array here): it reads or writes the array's own
    // 64 bytes.
    let indices = |v: &[i32; 16]| unsafe { _mm512_loadu_epi32(v.as_ptr()) };
    let (at, low, high) = (indices(&at), indices(&low), indices(&high));
    let weight = unsafe { _mm512_loadu_ps(weight.as_ptr()) };
    let row_half = |half: usize| {
        let k = side
            .saturating_sub(half * CORRELATE_LANES)
            .min(CORRELATE_LANES);
        ((1u32 << k) - 1) as __mmask16
    };
    let (first_half, second_half) = (row_half(0), row_half(1));
    let row = |image: &[f32], r: usize| {
        let row = image[r * side..][..side].as_ptr();
        // SAFETY: the masks load only the row's own `side` values.
        unsafe {
            (
                _mm512_maskz_loadu_ps(first_half, row),
                _mm512_maskz_loadu_ps(second_half, row.wrapping_add(CORRELATE_LANES)),
            )
        }
    };
    let pick = |(first, second): (__m512, __m512), taps: __m512i| {
        _mm512_permutex2var_ps(first, taps, second)
    };
    // `Tap::sample`'s operations, in its order.
    let lerp = |from: __m512, to: __m512, weight: __m512| {
        _mm512_add_ps(from, _mm512_mul_ps(_mm512_sub_ps(to, from), weight))
    };
    let zero = _mm512_setzero_ps();
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (zero, zero, zero, zero, zero);
    for &y in rows.as_slice() {
        let (top, bottom) = (row(b, y.low), row(b, y.high));
        let top = lerp(pick(top, low), pick(top, high), weight);
        let bottom = lerp(pick(bottom, low), pick(bottom, high), weight);
        let vb = lerp(top, bottom, _mm512_set1_ps(y.weight));
        let va = pick(row(a, y.at), at);
        sa = _mm512_add_ps(sa, va);
        sb = _mm512_add_ps(sb, vb);
        saa = _mm512_add_ps(saa, _mm512_mul_ps(va, va));
        sbb = _mm512_add_ps(sbb, _mm512_mul_ps(vb, vb));
        sab = _mm512_add_ps(sab, _mm512_mul_ps(va, vb));
    }
    // Lanes past the taps summed whatever they picked: they are left out.
    let mut lanes = [[0f32; CORRELATE_LANES]; 5];
    for (lane, sum) in lanes.iter_mut().zip([sa, sb, saa, sbb, sab]) {
        // SAFETY: writes the lane array's own 64 bytes.
        unsafe { _mm512_storeu_ps(lane.as_mut_ptr(), sum) };
    }
    totals_of(&lanes, columns.len)
}

/// Scales of the coarse search; the refinement reaches `MAX_SCALE` from them.
const COARSE_SCALES: [f32; 3] = [1.0 / 1.15, 1.0, 1.15];

/// Most tone the detail refinement adds to an alignment refined for tone (`screen`): on CIFAR-10's
/// 60,000 photos and on 100,000 blocky images, no pair more than 0.05 below `MIN_TONE` after the
/// tone refinement reached it after the detail refinement.
pub const DETAIL_REFINEMENT_REACH: f32 = 0.05;

/// Coarse alignments refined at full resolution.
const REFINED: usize = 2;

/// The first image's half-resolution gray resampled for each of `COARSE_SCALES`: at (integer)
/// r, the level at `(r − c) / s + c`. Where that lies inside its inner area is a rectangle of r,
/// so correlating a scale with the second image at an integer shift is a sum over the
/// intersection of two rectangles: every coarse alignment is tried without resampling.
struct ScaledHalves {
    scales: Vec<ScaledHalf>,
}

/// One scale of `ScaledHalves`.
struct ScaledHalf {
    /// `level` with `coarse_max_shift` zeros before each row and enough after for `SHIFT_LANES`
    /// (`shifted_products`).
    padded: Vec<f32>,
    /// The range of r (on either axis, end exclusive) inside the first image's inner area.
    inside: (usize, usize),
    sums: Integral,
}

/// Summed-area tables of an image and of its square, `(side + 1)²`.
struct Integral {
    side: usize,
    sum: Vec<f64>,
    squares: Vec<f64>,
}

impl Integral {
    fn of(image: &[f32], side: usize) -> Integral {
        let w = side + 1;
        let (mut sum, mut squares) = (vec![0f64; w * w], vec![0f64; w * w]);
        for y in 0..side {
            let (mut row, mut row_squares) = (0f64, 0f64);
            for x in 0..side {
                let v = f64::from(image[y * side + x]);
                row += v;
                row_squares += v * v;
                sum[(y + 1) * w + x + 1] = sum[y * w + x + 1] + row;
                squares[(y + 1) * w + x + 1] = squares[y * w + x + 1] + row_squares;
            }
        }
        Integral { side, sum, squares }
    }

    /// Sum and sum of squares over `[x0, x1) × [y0, y1)`.
    fn over(&self, (x0, x1): (usize, usize), (y0, y1): (usize, usize)) -> (f64, f64) {
        let w = self.side + 1;
        let rect = |t: &[f64]| t[y1 * w + x1] - t[y0 * w + x1] - t[y1 * w + x0] + t[y0 * w + x0];
        (rect(&self.sum), rect(&self.squares))
    }
}

impl ScaledHalves {
    fn of(view: &View) -> ScaledHalves {
        let hs = view.side / 2;
        let m = margin(hs) as f32;
        let (lo, hi) = (m, (hs - 1) as f32 - m);
        let centre = (hs - 1) as f32 / 2.0;
        let scales = COARSE_SCALES
            .iter()
            .map(|&scale| {
                let source = |r: usize| (r as f32 - centre) / scale + centre;
                let inside: Vec<usize> = (0..hs)
                    .filter(|&r| (lo..=hi).contains(&source(r)))
                    .collect();
                let range = (inside[0], inside[inside.len() - 1] + 1);
                let taps: Vec<Tap> = (range.0..range.1)
                    .map(|r| Tap::new(r, source(r), hs))
                    .collect();
                let mut level = vec![0f32; hs * hs];
                for &y in &taps {
                    for &x in &taps {
                        level[y.at * hs + x.at] = Tap::sample(&view.half, hs, x, y);
                    }
                }
                let (shift, width) = (coarse_max_shift(hs), hs + SHIFT_LANES);
                let mut padded = vec![0f32; hs * width];
                for (row, padded) in level.chunks_exact(hs).zip(padded.chunks_exact_mut(width)) {
                    padded[shift..shift + hs].copy_from_slice(row);
                }
                ScaledHalf {
                    sums: Integral::of(&level, hs),
                    padded,
                    inside: range,
                }
            })
            .collect();
        ScaledHalves { scales }
    }
}

/// Correlation from sums over `n` pixels.
fn correlation_of(n: f64, (a, aa): (f64, f64), (b, bb): (f64, f64), ab: f64) -> f32 {
    if n < 2.0 {
        return 0.0;
    }
    let cov = ab - a * b / n;
    let var = (aa - a * a / n) * (bb - b * b / n);
    if var <= 1e-6 {
        0.0
    } else {
        (cov / var.sqrt()) as f32
    }
}

/// Largest coarse shift, in pixels of a `hs`-wide half-resolution image.
fn coarse_max_shift(hs: usize) -> usize {
    (MAX_SHIFT * hs as f32).ceil() as usize
}

/// Lanes `shifted_products` sums side by side: one per horizontal shift, so at most this many
/// shifts per axis.
const SHIFT_LANES: usize = 8;

/// For each vertical shift `ty` (index `ty + shift`) and horizontal shift `tx` (lane
/// `shift − tx`), both within `shift`: the sum over `half`'s inner area (`margin` from each side)
/// of its values times the scaled level at that position less the shift. Outside its range the
/// level is zero, so each sum covers exactly where the two overlap.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn shifted_products(
    half: &[f32],
    hs: usize,
    margin: usize,
    padded: &[f32],
    shift: usize,
) -> [[f32; SHIFT_LANES]; SHIFT_LANES] {
    assert!(
        2 * shift < SHIFT_LANES,
        "{shift} pixels of shift need more lanes"
    );
    let width = hs + SHIFT_LANES;
    let mut out = [[0f32; SHIFT_LANES]; SHIFT_LANES];
    for (t, out) in out.iter_mut().enumerate().take(2 * shift + 1) {
        // Summed in registers, stored once.
        let mut sums = [0f32; SHIFT_LANES];
        for y in margin..hs - margin {
            // The level's row at y − ty, where ty = t − shift.
            let Some(level_row) = (y + shift).checked_sub(t).filter(|&r| r < hs) else {
                continue;
            };
            let level_row = &padded[level_row * width..][..width];
            let row = &half[y * hs..][..hs];
            for x in margin..hs - margin {
                let (value, levels) = (row[x], &level_row[x..x + SHIFT_LANES]);
                for lane in 0..SHIFT_LANES {
                    sums[lane] += value * levels[lane];
                }
            }
        }
        *out = sums;
    }
    out
}

/// Every coarse alignment (scale, integer half-resolution shift, mirror when allowed) with the
/// correlation it reaches, for those that cover `MIN_OVERLAP` of the second image.
fn coarse_alignments(a: &ScaledHalves, b: &View, tolerance: Tolerance) -> Vec<(f32, Alignment)> {
    let hs = b.side / 2;
    let m = margin(hs);
    let shift = coarse_max_shift(hs);
    let max_shift = shift as i32;
    let inner = ((hs - 2 * m) * (hs - 2 * m)) as f64;
    let mirrored_half: Vec<f32>;
    let mut halves: Vec<(bool, &[f32])> = vec![(false, &b.half)];
    if tolerance.mirror {
        mirrored_half = signature::mirrored(&b.half, hs);
        halves.push((true, &mirrored_half));
    }
    // The part of an axis of b (q) inside its inner area and, at shift t, inside a's range of r.
    let overlap = |t: i32, (r0, r1): (usize, usize)| {
        let lo = (m as i32).max(r0 as i32 + t);
        let hi = ((hs - m) as i32).min(r1 as i32 + t);
        (lo < hi).then_some((lo as usize, hi as usize))
    };
    let mut found = Vec::new();
    for &(mirrored, half) in &halves {
        let half_sums = Integral::of(half, hs);
        for (scaled, &scale) in a.scales.iter().zip(&COARSE_SCALES) {
            let products = shifted_products(half, hs, m, &scaled.padded, shift);
            for ty in -max_shift..=max_shift {
                let Some(ys) = overlap(ty, scaled.inside) else {
                    continue;
                };
                for tx in -max_shift..=max_shift {
                    let Some(xs) = overlap(tx, scaled.inside) else {
                        continue;
                    };
                    let n = ((xs.1 - xs.0) * (ys.1 - ys.0)) as f64;
                    if n < f64::from(MIN_OVERLAP) * inner {
                        continue;
                    }
                    let shifted = |(q0, q1): (usize, usize), t: i32| {
                        ((q0 as i32 - t) as usize, (q1 as i32 - t) as usize)
                    };
                    let (rx, ry) = (shifted(xs, tx), shifted(ys, ty));
                    let ab =
                        f64::from(products[(ty + max_shift) as usize][(max_shift - tx) as usize]);
                    found.push((
                        correlation_of(n, scaled.sums.over(rx, ry), half_sums.over(xs, ys), ab),
                        Alignment {
                            mirrored,
                            scale,
                            shift_x: tx as f32 / hs as f32,
                            shift_y: ty as f32 / hs as f32,
                        },
                    ));
                }
            }
        }
    }
    found
}

/// `compare` of two images' signatures, at the side `comparison_side` picks for them.
pub fn compare_signatures(
    a: &Signature,
    b: &Signature,
    tolerance: Tolerance,
) -> Option<Comparison> {
    compare_grays(
        (&a.gray, a.source_side),
        (&b.gray, b.source_side),
        tolerance,
    )
}

/// `compare` of two gray thumbnails, each with the side of the image it came from.
pub fn compare_grays(
    (a, source_side_a): (&[u8], u32),
    (b, source_side_b): (&[u8], u32),
    tolerance: Tolerance,
) -> Option<Comparison> {
    let side = comparison_side(source_side_a, source_side_b);
    compare(&View::of(a, side), &View::of(b, side), tolerance)
}

/// Aligns `b` onto `a` and compares them, or `None` when no coarse alignment comes close.
pub fn compare(a: &View, b: &View, tolerance: Tolerance) -> Option<Comparison> {
    let (_, toned) = tone_aligned(a, b, tolerance)?;
    Some(detail_aligned(a, b, toned))
}

/// How `screen` left a pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Screened {
    /// Compared in full, as `compare` does.
    Compared(Comparison),
    /// Its tone, once aligned, is more than `DETAIL_REFINEMENT_REACH` below `MIN_TONE`: not the
    /// same shot, and neither refined for detail nor measured.
    FarBelow,
}

/// `compare`, without the detail refinement and the measurement for pairs that cannot be the same
/// shot (`Screened::FarBelow`); `None` when no coarse alignment comes close.
pub fn screen(a: &View, b: &View, tolerance: Tolerance) -> Option<Screened> {
    let (tone, toned) = tone_aligned(a, b, tolerance)?;
    Some(
        if tone < MIN_TONE - DETAIL_REFINEMENT_REACH && screening() {
            Screened::FarBelow
        } else {
            Screened::Compared(detail_aligned(a, b, toned))
        },
    )
}

/// Tests that compare every pair in full turn screening off (`SCREENING`): by design, that changes
/// no result, so tests running beside them are unaffected.
#[cfg(test)]
pub static SCREENING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

fn screening() -> bool {
    #[cfg(test)]
    return SCREENING.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(test))]
    true
}

/// The best coarse alignments of `b` onto `a` refined for tone, the best of them and its tone
/// correlation (on every other pixel); `None` when no coarse alignment comes close.
fn tone_aligned(a: &View, b: &View, tolerance: Tolerance) -> Option<(f32, Alignment)> {
    debug_assert_eq!(a.side, b.side);
    let scaled = a.scaled_halves.get_or_init(|| ScaledHalves::of(a));
    let mut coarse = coarse_alignments(scaled, b, tolerance);
    // The best `REFINED` first; the order of the rest does not matter.
    if coarse.len() > REFINED {
        coarse.select_nth_unstable_by(REFINED - 1, |x, y| y.0.total_cmp(&x.0));
        coarse[..REFINED].sort_by(|x, y| y.0.total_cmp(&x.0));
    } else {
        coarse.sort_by(|x, y| y.0.total_cmp(&x.0));
    }
    if coarse.first().is_none_or(|c| c.0 < COARSE_GATE) {
        return None;
    }
    // The runner-up too when it is nearly as good (two alignments that explain the pair alike).
    let mut scored = Scored::default();
    coarse
        .iter()
        .take(REFINED)
        .take_while(|c| c.0 >= coarse[0].0 - 0.05)
        .map(|&(_, start)| refine(a, b, start, Objective::Tone, &mut scored))
        .max_by(|x, y| x.0.total_cmp(&y.0))
}

/// The comparison at the alignment refined for tone and detail from `toned`: tone is smooth, so
/// its optimum is broad, and detail then pins the alignment down.
fn detail_aligned(a: &View, b: &View, toned: Alignment) -> Comparison {
    let (_, fine) = refine(
        a,
        b,
        toned,
        Objective::ToneAndDetail,
        &mut Scored::default(),
    );
    measure(a, b, fine)
}

/// What `refine` maximises.
#[derive(Clone, Copy, PartialEq)]
enum Objective {
    /// The gray correlation, from a coarse start: steps of 0.04 in scale and a pixel in shift.
    Tone,
    /// The sum of the gray and detail correlations, from a refined start: half those steps.
    ToneAndDetail,
}

/// `refine` samples every other pixel of the first image.
const REFINE_STEP: usize = 2;

impl Objective {
    /// The objective of `b` sampled onto `a` at the taps of an alignment (`alignment_taps`, every
    /// `REFINE_STEP`-th pixel); −1 where they overlap less than `MIN_OVERLAP`.
    fn score(self, a: &View, b: &View, taps: (&Taps, &Taps)) -> f32 {
        let gray = (a.gray.as_slice(), b.gray.as_slice());
        let (r, overlap) = match self {
            Objective::Tone => {
                let ([tone], overlap) = correlate([gray], a.side, taps, REFINE_STEP);
                (tone, overlap)
            }
            Objective::ToneAndDetail => {
                let detail = (a.detail(), b.detail());
                let ([tone, detail], overlap) =
                    correlate([gray, detail], a.side, taps, REFINE_STEP);
                (tone + detail, overlap)
            }
        };
        if overlap < MIN_OVERLAP { -1.0 } else { r }
    }
}

/// Scores `refine` has computed for one pair and objective, by alignment: the climbs from two
/// coarse starts often pass the same alignments.
struct Scored(rustc_hash::FxHashMap<(bool, u32, u32, u32), f32>);

impl Default for Scored {
    /// Room for the alignments a pair's climbs usually score (about 40), so the map rarely grows.
    fn default() -> Scored {
        Scored(rustc_hash::FxHashMap::with_capacity_and_hasher(
            64,
            Default::default(),
        ))
    }
}

impl Scored {
    fn key(alignment: &Alignment) -> (bool, u32, u32, u32) {
        (
            alignment.mirrored,
            alignment.scale.to_bits(),
            alignment.shift_x.to_bits(),
            alignment.shift_y.to_bits(),
        )
    }
}

/// Local search from `start` over scale and shift, maximising `objective` at full resolution;
/// returns it and the alignment. `scored` holds the scores of alignments already visited for this
/// pair and objective, and gains this climb's.
fn refine(
    a: &View,
    b: &View,
    start: Alignment,
    objective: Objective,
    scored: &mut Scored,
) -> (f32, Alignment) {
    let side = a.side as f32;
    let score = |taps: (&Taps, &Taps)| objective.score(a, b, taps);
    let mut best = start;
    let mut best_taps = alignment_taps(a.side, &best, REFINE_STEP);
    let mut best_score = *scored
        .0
        .entry(Scored::key(&best))
        .or_insert_with(|| score((&best_taps.0, &best_taps.1)));
    // The alignment `best` came from scores lower, and a move clamped to `best` itself scores
    // the same: neither is ever an improvement, so neither is scored.
    let mut previous: Option<Alignment> = None;
    let (mut step_scale, mut step_shift) = match objective {
        Objective::Tone => (0.04f32, 1.0 / side),
        Objective::ToneAndDetail => (0.02, 0.5 / side),
    };
    let max_shift = MAX_SHIFT + 1.0 / side;
    while step_shift >= 0.2 / side {
        let moves = [
            (step_scale, 0.0, 0.0),
            (-step_scale, 0.0, 0.0),
            (0.0, step_shift, 0.0),
            (0.0, -step_shift, 0.0),
            (0.0, 0.0, step_shift),
            (0.0, 0.0, -step_shift),
        ];
        let mut improved: Option<(f32, Alignment)> = None;
        for &(ds, dx, dy) in &moves {
            let candidate = Alignment {
                scale: (best.scale + ds).clamp(1.0 / MAX_SCALE, MAX_SCALE),
                shift_x: (best.shift_x + dx).clamp(-max_shift, max_shift),
                shift_y: (best.shift_y + dy).clamp(-max_shift, max_shift),
                ..best
            };
            if candidate == best || previous == Some(candidate) {
                continue;
            }
            let s = *scored.0.entry(Scored::key(&candidate)).or_insert_with(|| {
                // A move along one axis keeps the other axis' taps.
                let same_scale = candidate.scale == best.scale;
                let rows = (!(same_scale && candidate.shift_y == best.shift_y)).then(|| {
                    axis_taps(
                        a.side,
                        candidate.scale,
                        candidate.shift_y,
                        false,
                        REFINE_STEP,
                    )
                });
                let columns = (!(same_scale && candidate.shift_x == best.shift_x)).then(|| {
                    axis_taps(
                        a.side,
                        candidate.scale,
                        candidate.shift_x,
                        candidate.mirrored,
                        REFINE_STEP,
                    )
                });
                score((
                    rows.as_ref().unwrap_or(&best_taps.0),
                    columns.as_ref().unwrap_or(&best_taps.1),
                ))
            });
            // The last of equal best scores, as `Iterator::max_by` picks.
            if s > best_score && improved.is_none_or(|(top, _)| s >= top) {
                improved = Some((s, candidate));
            }
        }
        match improved {
            Some((s, candidate)) => {
                previous = Some(best);
                (best_score, best) = (s, candidate);
                best_taps = alignment_taps(a.side, &best, REFINE_STEP);
            }
            None => {
                step_scale /= 2.0;
                step_shift /= 2.0;
            }
        }
    }
    (best_score, best)
}

/// Tone, detail and region correlations of `b` aligned onto `a`.
fn measure(a: &View, b: &View, alignment: Alignment) -> Comparison {
    let side = a.side;
    let m = margin(side);
    let inner = side - 2 * m;
    let mut tone = Sums::default();
    let mut detail = Sums::default();
    let mut coarser_detail = Sums::default();
    let mut regions = [Sums::default(); 9];
    let (detail_a, detail_b) = (a.detail(), b.detail());
    let (coarser_a, coarser_b) = (a.coarser_detail(), b.coarser_detail());
    for_each_aligned(side, &alignment, 1, |xt, yt| {
        let (x, y) = (xt.at, yt.at);
        let (ga, gb) = (a.gray[y * side + x], Tap::sample(&b.gray, side, xt, yt));
        tone.add(ga, gb);
        detail.add(detail_a[y * side + x], Tap::sample(detail_b, side, xt, yt));
        coarser_detail.add(
            coarser_a[y * side + x],
            Tap::sample(coarser_b, side, xt, yt),
        );
        let region = ((y - m) * 3 / inner) * 3 + (x - m) * 3 / inner;
        regions[region].add(ga, gb);
    });
    let region_pixels = (inner * inner) as f32 / 9.0;
    let counted: Vec<&Sums> = regions
        .iter()
        .filter(|r| r.n >= region_pixels / 2.0)
        .collect();
    let mean_variance =
        counted.iter().map(|r| r.variance_a()).sum::<f32>() / counted.len().max(1) as f32;
    let weakest_region = counted
        .iter()
        .filter(|r| r.variance_a() >= REGION_MIN_VARIANCE_SHARE * mean_variance)
        .map(|r| r.correlation())
        .fold(1.0f32, f32::min);
    Comparison {
        alignment,
        tone: tone.correlation(),
        detail: detail.correlation(),
        coarser_detail: coarser_detail.correlation(),
        weakest_region,
        overlap: tone.n / (inner * inner) as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::signature::Signature;
    use image::DynamicImage;

    fn photo(seed: u64) -> image::RgbImage {
        crate::scan::tests::fixture::texture(seed, 64, 64)
    }

    fn view(image: &image::RgbImage) -> View {
        View::of(
            &Signature::of(&DynamicImage::ImageRgb8(image.clone())).gray,
            THUMB_SIDE,
        )
    }

    const STRICT: Tolerance = Tolerance { mirror: false };

    /// `image` cropped to `size` at `at`, resized back to its own size.
    fn crop_resized_back(
        image: &image::RgbImage,
        at: (u32, u32),
        size: (u32, u32),
    ) -> DynamicImage {
        DynamicImage::ImageRgb8(image.clone())
            .crop_imm(at.0, at.1, size.0, size.1)
            .resize_exact(
                image.width(),
                image.height(),
                image::imageops::FilterType::CatmullRom,
            )
    }

    #[test]
    fn a_shifted_rescaled_recoloured_copy_is_the_same_shot_and_says_how() {
        let original = photo(3);
        // 12% crop from the top left, resized back (a 1.14× zoom and a shift), darker.
        let copy = crop_resized_back(&original, (8, 8), (56, 56))
            .brighten(-25)
            .adjust_contrast(-20.0)
            .to_rgb8();
        let comparison = compare(&view(&original), &view(&copy), STRICT).expect("aligned");
        assert!(comparison.is_same_shot(), "{comparison:?}");
        assert!(
            (comparison.alignment.scale - 64.0 / 56.0).abs() < 0.05,
            "{comparison:?}"
        );
        let text = comparison.describe();
        assert!(text.starts_with("same shot after a"), "{text}");
        assert!(text.contains("1.1") && text.contains("× scale"), "{text}");
    }

    #[test]
    fn an_upscaled_copy_lacking_the_finest_detail_is_the_same_shot() {
        let original = photo(3);
        // Kept at a quarter of the size somewhere, and upscaled back: the finest detail is gone.
        let upscaled = DynamicImage::ImageRgb8(original.clone())
            .resize_exact(20, 20, image::imageops::FilterType::Triangle)
            .resize_exact(64, 64, image::imageops::FilterType::Triangle)
            .to_rgb8();
        let comparison = compare(&view(&original), &view(&upscaled), STRICT).expect("aligned");
        assert!(comparison.detail < MIN_DETAIL, "{comparison:?}");
        assert!(comparison.is_same_shot(), "{comparison:?}");
        assert!(
            comparison.describe().contains("one band coarser"),
            "{}",
            comparison.describe()
        );
    }

    #[test]
    fn different_photos_are_not_the_same_shot_even_when_framed_alike() {
        let framed = |seed| {
            let mut image = photo(seed);
            for (x, y, p) in image.enumerate_pixels_mut() {
                if !(6..58).contains(&x) || !(6..58).contains(&y) {
                    *p = image::Rgb([255, 255, 255]);
                }
            }
            image
        };
        let (a, b) = (view(&framed(1)), view(&framed(2)));
        assert!(compare(&a, &b, STRICT).is_none_or(|c| !c.is_same_shot()));
    }

    #[test]
    fn coarse_products_are_the_sums_over_each_overlap() {
        let (a, b) = (view(&photo(11)), view(&photo(12)));
        let hs = THUMB_SIDE / 2;
        let (m, shift) = (margin(hs), coarse_max_shift(hs));
        let width = hs + SHIFT_LANES;
        for scaled in &ScaledHalves::of(&a).scales {
            let level = |x: i32, y: i32| {
                let inside = |v: i32| (0..hs as i32).contains(&v);
                if inside(x) && inside(y) {
                    scaled.padded[y as usize * width + x as usize + shift]
                } else {
                    0.0
                }
            };
            let products = shifted_products(&b.half, hs, m, &scaled.padded, shift);
            let s = shift as i32;
            for ty in -s..=s {
                for tx in -s..=s {
                    let mut direct = 0f64;
                    for y in m..hs - m {
                        for x in m..hs - m {
                            let value = b.half[y * hs + x];
                            direct += f64::from(value * level(x as i32 - tx, y as i32 - ty));
                        }
                    }
                    let product = f64::from(products[(ty + s) as usize][(s - tx) as usize]);
                    assert!(
                        (product - direct).abs() <= 1e-5 * direct.abs().max(1.0),
                        "shift {tx},{ty}: {product} vs {direct}"
                    );
                }
            }
        }
    }

    #[test]
    fn refining_correlations_sum_every_aligned_pixel_and_alike_on_every_cpu() {
        let alignments = [
            (false, 1.0, 0.0, 0.0),
            (false, 1.13, 0.07, -0.11),
            (false, 1.0 / 1.2, -0.16, 0.05),
            (true, 0.95, 0.03, 0.12),
        ];
        for (seed, side) in [(21, 32), (22, 23), (23, 16)] {
            let (a, b) = (view(&photo(seed)), view(&photo(seed + 100)));
            let (a, b) = (
                View::of(&to_bytes(&a.gray), side),
                View::of(&to_bytes(&b.gray), side),
            );
            for (mirrored, scale, shift_x, shift_y) in alignments {
                let alignment = Alignment {
                    mirrored,
                    scale,
                    shift_x,
                    shift_y,
                };
                let (rows, columns) = alignment_taps(side, &alignment, REFINE_STEP);
                // Directly: every aligned pixel, summed in f64 in reading order.
                let mut direct = [0f64; 5];
                let mut pixels = 0;
                for_each_aligned(side, &alignment, REFINE_STEP, |x, y| {
                    let va = f64::from(a.gray[y.at * side + x.at]);
                    let vb = f64::from(Tap::sample(&b.gray, side, x, y));
                    for (sum, v) in direct.iter_mut().zip([va, vb, va * va, vb * vb, va * vb]) {
                        *sum += v;
                    }
                    pixels += 1;
                });
                assert!(pixels > 0 && columns.len <= CORRELATE_LANES);
                let pair = (a.gray.as_slice(), b.gray.as_slice());
                let portable = lane_sums_portable(pair, side, (&rows, &columns));
                for (lanes, direct) in portable.iter().zip(direct) {
                    assert!(
                        (lanes - direct).abs() <= 1e-5 * direct.abs().max(1.0),
                        "side {side}, {alignment:?}: {portable:?} vs {direct}"
                    );
                }
                let ([tone], overlap) = correlate([pair], side, (&rows, &columns), REFINE_STEP);
                let expected = correlation_of(
                    f64::from(pixels),
                    (direct[0], direct[2]),
                    (direct[1], direct[3]),
                    direct[4],
                );
                assert!((tone - expected).abs() < 1e-4, "{tone} vs {expected}");
                let inner = (side - 2 * margin(side)).div_ceil(REFINE_STEP).pow(2);
                assert!((f64::from(overlap) - f64::from(pixels) / inner as f64).abs() < 1e-6);
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512.
                    let vector = unsafe { lane_sums_avx512(pair, side, (&rows, &columns)) };
                    assert_eq!(
                        vector.map(f64::to_bits),
                        portable.map(f64::to_bits),
                        "side {side}, {alignment:?}"
                    );
                }
            }
        }
    }

    fn to_bytes(gray: &[f32]) -> Vec<u8> {
        gray.iter().map(|&v| v.round() as u8).collect()
    }

    #[test]
    fn a_climb_scores_alignments_as_from_scratch_and_shared_scores_change_no_climb() {
        let original = photo(7);
        let copy = crop_resized_back(&original, (5, 3), (56, 58)).to_rgb8();
        let mut views = vec![view(&original), view(&copy)];
        let variants = crate::scan::tests::fixture::blocky_look_alikes(9, 1, 6);
        views.extend(variants.iter().map(view));
        let mut climbs = 0;
        for (i, a) in views.iter().enumerate() {
            for b in &views[i + 1..] {
                let scaled = a.scaled_halves.get_or_init(|| ScaledHalves::of(a));
                let mut coarse = coarse_alignments(scaled, b, STRICT);
                coarse.sort_by(|x, y| y.0.total_cmp(&x.0));
                let mut shared = Scored::default();
                for &(_, start) in coarse.iter().take(3) {
                    for objective in [Objective::Tone, Objective::ToneAndDetail] {
                        let alone = refine(a, b, start, objective, &mut Scored::default());
                        let mut shared_for = |o| refine(a, b, start, o, &mut shared);
                        if objective == Objective::Tone {
                            assert_eq!(shared_for(objective), alone);
                        }
                        // The score of the alignment reached, with its taps computed afresh.
                        let taps = alignment_taps(a.side, &alone.1, REFINE_STEP);
                        assert_eq!(alone.0, objective.score(a, b, (&taps.0, &taps.1)));
                        climbs += 1;
                    }
                }
            }
        }
        assert!(climbs > 50, "{climbs}");
    }

    #[test]
    fn screening_sets_aside_only_pairs_that_are_not_the_same_shot() {
        // One blocky picture and variants of it with cells redrawn.
        let variants = crate::scan::tests::fixture::blocky_look_alikes(5, 1, 40);
        let views: Vec<View> = variants.iter().map(view).collect();
        let (mut set_aside, mut same_shot) = (0, 0);
        for (i, a) in views.iter().enumerate() {
            for b in &views[i + 1..] {
                let in_full = compare(a, b, STRICT);
                match screen(a, b, STRICT) {
                    Some(Screened::FarBelow) => {
                        set_aside += 1;
                        assert!(in_full.is_some_and(|c| !c.is_same_shot()), "{in_full:?}");
                    }
                    screened => assert_eq!(screened, in_full.map(Screened::Compared)),
                }
                same_shot += usize::from(in_full.is_some_and(|c| c.is_same_shot()));
            }
        }
        assert!(
            set_aside > 0 && same_shot > 0,
            "{set_aside} set aside, {same_shot} same shot"
        );
    }

    #[test]
    fn a_mirror_is_the_same_shot_only_when_allowed() {
        let original = photo(5);
        let mirrored = image::imageops::flip_horizontal(&original);
        let (a, b) = (view(&original), view(&mirrored));
        assert!(compare(&a, &b, STRICT).is_none_or(|c| !c.is_same_shot()));
        let allowed = compare(&a, &b, Tolerance { mirror: true }).expect("aligned");
        assert!(allowed.is_same_shot() && allowed.alignment.mirrored);
    }
}
