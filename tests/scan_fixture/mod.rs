//! A small ImageFolder (train/test × cat/dog) with planted problems for the scan: real image files
//! made from procedural textures, so that each planted problem is the only thing wrong with its file.
//! Used by `tests/scan_cli.rs` and by the scan's unit tests (through `#[path]`).
#![allow(dead_code)]

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, Rgb, RgbImage};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the scan must report: (path relative to the root, issue name).
pub const EXPECTED: &[(&str, &str)] = &[
    ("train/cat/exact_a.png", "exact_duplicate"),
    ("train/cat/exact_a_copy.bmp", "exact_duplicate"),
    ("train/cat/recolor_b.png", "near_duplicate"),
    ("train/dog/recolor_b2.png", "near_duplicate"),
    ("train/cat/recolor_b.png", "label_conflict"),
    ("train/dog/recolor_b2.png", "label_conflict"),
    ("train/cat/shift_c.png", "near_duplicate"),
    ("test/cat/shift_c2.png", "near_duplicate"),
    ("train/cat/shift_c.png", "split_leakage"),
    ("test/cat/shift_c2.png", "split_leakage"),
    ("train/dog/rescale_d.png", "near_duplicate"),
    ("train/dog/rescale_d2.png", "near_duplicate"),
    ("train/dog/dark.png", "dark"),
    ("train/dog/bright.png", "bright"),
    ("train/dog/blurry.png", "blurry"),
    ("test/dog/constant.png", "low_information"),
    ("test/dog/gray_rgb.png", "grayscale_as_rgb"),
    ("test/cat/wide.png", "odd_aspect"),
    ("train/cat/huge.png", "odd_size"),
    ("test/cat/truncated.jpg", "corrupt"),
    ("test/dog/empty.jpg", "corrupt"),
    ("test/dog/notes.png", "corrupt"),
];

/// Number of clean images; their names start with `clean_`.
pub const CLEAN: usize = 24;

/// Writes the fixture into `root` (which must exist).
pub fn write(root: &Path) {
    for dir in ["train/cat", "train/dog", "test/cat", "test/dog"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let save = |image: &RgbImage, path: &str| image.save(root.join(path)).unwrap();

    let a = texture(1, 64, 64);
    save(&a, "train/cat/exact_a.png");
    DynamicImage::ImageRgb8(a)
        .save_with_format(
            root.join("train/cat/exact_a_copy.bmp"),
            image::ImageFormat::Bmp,
        )
        .unwrap();

    let b = texture(2, 64, 64);
    save(&b, "train/cat/recolor_b.png");
    save(
        &map_pixels(&b, |p| {
            Rgb([
                sat(p[0] as f32 * 0.8 + 30.0),
                sat(p[1] as f32 * 1.1),
                sat(p[2] as f32 * 0.7 + 50.0),
            ])
        }),
        "train/dog/recolor_b2.png",
    );

    let c = texture(3, 64, 64);
    save(&c, "train/cat/shift_c.png");
    let cropped = image::imageops::crop_imm(&c, 3, 2, 61, 62).to_image();
    save(
        &image::imageops::resize(&cropped, 64, 64, FilterType::Triangle),
        "test/cat/shift_c2.png",
    );

    let d = texture(4, 64, 64);
    save(&d, "train/dog/rescale_d.png");
    save(
        &image::imageops::resize(&d, 44, 44, FilterType::Triangle),
        "train/dog/rescale_d2.png",
    );

    save(
        &map_pixels(&texture(5, 64, 64), |p| {
            Rgb(p.0.map(|v| (v as f32 * 0.07) as u8))
        }),
        "train/dog/dark.png",
    );
    save(
        &map_pixels(&texture(10, 64, 64), |p| Rgb(p.0.map(|v| 244 + v / 24))),
        "train/dog/bright.png",
    );
    save(
        &image::imageops::blur(&texture(6, 64, 64), 3.0),
        "train/dog/blurry.png",
    );
    save(
        &RgbImage::from_pixel(64, 64, Rgb([120, 90, 200])),
        "test/dog/constant.png",
    );
    let gray = DynamicImage::ImageRgb8(texture(7, 64, 64)).to_luma8();
    save(
        &DynamicImage::ImageLuma8(gray).to_rgb8(),
        "test/dog/gray_rgb.png",
    );
    save(&texture(9, 160, 40), "test/cat/wide.png");
    save(&texture(11, 256, 256), "train/cat/huge.png");

    let mut jpeg = Vec::new();
    DynamicImage::ImageRgb8(texture(8, 64, 64))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    std::fs::write(root.join("test/cat/truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(root.join("test/dog/empty.jpg"), b"").unwrap();
    std::fs::write(root.join("test/dog/notes.png"), b"these are not pixels\n").unwrap();

    for k in 0..CLEAN {
        let dir = ["train/cat", "train/dog", "test/cat", "test/dog"][k % 4];
        save(
            &texture(100 + k as u64, 64, 64),
            &format!("{dir}/clean_{k:02}.png"),
        );
    }
}

fn sat(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

fn map_pixels(image: &RgbImage, f: impl Fn(&Rgb<u8>) -> Rgb<u8>) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        f(image.get_pixel(x, y))
    })
}

/// A seeded generator of uniform values in `0..1`.
struct Rng(ChaCha8Rng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }
    fn unit(&mut self) -> f32 {
        self.0.random()
    }
}

/// A picture-like texture: a colour gradient, three octaves of smooth noise, and a few hard-edged
/// shapes (disks and boxes) in random colours. Everything is placed in coordinates relative to the
/// image, so one seed at two sizes is the same picture rescaled.
pub fn texture(seed: u64, w: u32, h: u32) -> RgbImage {
    let mut rng = Rng::new(seed);
    let colour = |rng: &mut Rng| [rng.unit() * 255.0, rng.unit() * 255.0, rng.unit() * 255.0];
    let (from, to) = (colour(&mut rng), colour(&mut rng));
    let angle = rng.unit() * std::f32::consts::TAU;
    let octaves: Vec<(usize, f32, Vec<f32>)> = [(3usize, 60.0f32), (6, 30.0), (12, 14.0)]
        .iter()
        .map(|&(cells, amplitude)| {
            (
                cells,
                amplitude,
                (0..(cells + 1) * (cells + 1) * 3)
                    .map(|_| rng.unit() - 0.5)
                    .collect(),
            )
        })
        .collect();
    let shapes: Vec<(bool, [f32; 4], [f32; 3])> = (0..7)
        .map(|_| {
            let disk = rng.unit() < 0.5;
            let geometry = [
                rng.unit(),
                rng.unit(),
                0.06 + rng.unit() * 0.18,
                0.06 + rng.unit() * 0.18,
            ];
            (disk, geometry, colour(&mut rng))
        })
        .collect();
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = ((x as f32 + 0.5) / w as f32, (y as f32 + 0.5) / h as f32);
        let t = ((u - 0.5) * angle.cos() + (v - 0.5) * angle.sin() + 0.5).clamp(0.0, 1.0);
        let mut pixel = [0f32; 3];
        for c in 0..3 {
            pixel[c] = from[c] * (1.0 - t) + to[c] * t;
            for (cells, amplitude, grid) in &octaves {
                pixel[c] += amplitude * smooth_noise(grid, *cells, u, v, c);
            }
        }
        for (disk, [cx, cy, rx, ry], colour) in &shapes {
            let inside = if *disk {
                ((u - cx) / rx).powi(2) + ((v - cy) / rx).powi(2) <= 1.0
            } else {
                (u - cx).abs() <= *rx && (v - cy).abs() <= *ry
            };
            if inside {
                for c in 0..3 {
                    pixel[c] = pixel[c] * 0.25 + colour[c] * 0.75;
                }
            }
        }
        Rgb(pixel.map(sat))
    })
}

/// A handwritten-looking stroke: a bright, slightly bent bar on black, its slant, length, width,
/// bend and place drawn from `seed` within narrow ranges, so that any two look alike (as one
/// digit written by different hands does) without being the same picture.
pub fn stroke(seed: u64, side: u32) -> RgbImage {
    let mut rng = Rng::new(seed);
    let mut between = |lo: f32, hi: f32| lo + (hi - lo) * rng.unit();
    let angle = between(50.0, 85.0).to_radians();
    let half_length = between(0.22, 0.38);
    let half_width = between(0.035, 0.075);
    let bend = between(-0.15, 0.15);
    let (cx, cy) = (0.5 + between(-0.1, 0.1), 0.5 + between(-0.1, 0.1));
    // Points along the bar, bent sideways by a parabola.
    let (dx, dy) = (angle.cos(), -angle.sin());
    let points: Vec<(f32, f32)> = (0..=48)
        .map(|k| {
            let t = k as f32 / 24.0 - 1.0;
            let side_shift = bend * (1.0 - t * t);
            (
                cx + t * half_length * dx - side_shift * dy,
                cy + t * half_length * dy + side_shift * dx,
            )
        })
        .collect();
    RgbImage::from_fn(side, side, |x, y| {
        let (u, v) = (
            (x as f32 + 0.5) / side as f32,
            (y as f32 + 0.5) / side as f32,
        );
        let distance = points
            .iter()
            .map(|&(px, py)| ((u - px).powi(2) + (v - py).powi(2)).sqrt())
            .fold(f32::MAX, f32::min);
        // One pixel of anti-aliasing at the edge.
        let cover = ((half_width - distance) * side as f32 + 0.5).clamp(0.0, 1.0);
        Rgb([sat(255.0 * cover); 3])
    })
}

/// Bilinear, smoothstepped interpolation of a `(cells+1)²` grid of 3-channel values at (u, v) in 0..1.
fn smooth_noise(grid: &[f32], cells: usize, u: f32, v: f32, channel: usize) -> f32 {
    let (gx, gy) = (u * cells as f32, v * cells as f32);
    let (x0, y0) = (
        (gx.floor() as usize).min(cells - 1),
        (gy.floor() as usize).min(cells - 1),
    );
    let (fx, fy) = (gx - x0 as f32, gy - y0 as f32);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let at = |x: usize, y: usize| grid[(y * (cells + 1) + x) * 3 + channel];
    let top = at(x0, y0) * (1.0 - sx) + at(x0 + 1, y0) * sx;
    let bottom = at(x0, y0 + 1) * (1.0 - sx) + at(x0 + 1, y0 + 1) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// Blocky look-alikes (32×32, 4×4 cells of three gray levels): `bases` random pictures, each in
/// `variants` variants, variant v with `1 + v % 6` cells redrawn at random. Base by base.
pub fn blocky_look_alikes(seed: u64, bases: usize, variants: usize) -> Vec<RgbImage> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let levels = [40u8, 128, 215];
    let mut images = Vec::with_capacity(bases * variants);
    for _ in 0..bases {
        let cells: Vec<u8> = (0..16).map(|_| levels[rng.random_range(0..3)]).collect();
        for v in 0..variants {
            let mut cells = cells.clone();
            for _ in 0..1 + v % 6 {
                cells[rng.random_range(0..16)] = levels[rng.random_range(0..3)];
            }
            images.push(RgbImage::from_fn(32, 32, |x, y| {
                Rgb([cells[(y / 8 * 4 + x / 8) as usize]; 3])
            }));
        }
    }
    images
}
