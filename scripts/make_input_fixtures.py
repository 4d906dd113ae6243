#!/usr/bin/env python3
"""Writes the image-input fixtures: small synthetic images and what PyTorch/torchvision make of
them, so eyeball's decoding and preprocessing can be compared with torchvision pixel for pixel.

    /root/.cache/eyeball/torch-venv/bin/python scripts/make_input_fixtures.py

Made with torch 2.13.0, torchvision 0.28.0 and Pillow 13.0.0 (its bundled libjpeg-turbo);
see manifest.json for the versions of the run that wrote the files. Fixed seeds: running it
again writes the same images and arrays. The 4:4:0 JPEG is written by libjpeg-turbo's `cjpeg`
(Debian's libjpeg-turbo-progs), since Pillow cannot write that subsampling; without `cjpeg`
the committed file is reused. Writes into tests/fixtures/input/:

  IMAGE.jpg / IMAGE.png       the images: JPEG 4:4:4, 4:2:2, 4:2:0, 4:4:0, progressive,
                              quality 30, grayscale, CMYK (Adobe marker), EXIF Orientation 6;
                              PNG palette, palette + tRNS, L, LA, 16-bit gray, 16-bit RGB, RGBA
  sidecars/SIDECAR.json       eyeball-preprocess/2 sidecars (see SIDECARS below)
  NAME.SIDECAR.u8.npy         uint8 HxWxC (C = 1 or 3) PIL image right before ToTensor()
  NAME.SIDECAR.f32.npy        float32 CxHxW tensor after Normalize(), the model's input
  manifest.json               each image: file, PIL mode and size as opened, JPEG details,
                              which sidecars have outputs; versions used

Loading is torchvision's pil_loader: Image.open(f).convert("RGB") ("L" for one channel),
with no EXIF transpose except for the exif_bilinear sidecar (ImageOps.exif_transpose first).
NAME is the image's file name without its extension.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, ImageDraw, ImageFilter, ImageOps, features
from PIL.JpegImagePlugin import get_sampling
from torchvision import transforms
from torchvision.transforms import InterpolationMode

SEED = 20261201
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures", "input")

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
SIDECARS = {
    "short_bilinear": {"resize": "shorter_side", "resize_size": 40, "interpolation": "bilinear", "crop": "center",
                       "input_size": [32, 32], "channels": 3, **IMAGENET},
    "short_bicubic": {"resize": "shorter_side", "resize_size": 36, "interpolation": "bicubic", "crop": "center",
                      "input_size": [28, 30], "channels": 3, **IMAGENET},
    "stretch_nearest": {"resize": "stretch", "interpolation": "nearest", "crop": "none",
                        "input_size": [20, 24], "channels": 3, **IMAGENET},
    "gray_lanczos": {"resize": "stretch", "interpolation": "lanczos", "crop": "none",
                     "input_size": [16, 16], "channels": 1, "mean": [0.5], "std": [0.25]},
    "exif_bilinear": {"resize": "shorter_side", "resize_size": 40, "interpolation": "bilinear", "crop": "center",
                      "input_size": [32, 32], "channels": 3, "exif_transpose": True, **IMAGENET},
}
# exif_bilinear only for these: the EXIF image and a JPEG without EXIF as a control.
EXIF_IMAGES = {"exif6_90x60", "rgb420_150x100"}
MODES = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC,
         "nearest": InterpolationMode.NEAREST, "lanczos": InterpolationMode.LANCZOS}


def sidecar_json(name):
    body = {"format": "eyeball-preprocess/2"}
    spec = SIDECARS[name]
    for key in ("resize", "resize_size", "interpolation", "crop", "input_size", "channels"):
        if key in spec:
            body[key] = spec[key]
    body["scale"] = 255.0
    body["mean"], body["std"] = spec["mean"], spec["std"]
    if spec.get("exif_transpose"):
        body["exif_transpose"] = True
    body["class_names"] = ["a", "b"]
    return body


def pipeline(spec):
    """The torchvision transforms of a sidecar, split where the PIL image becomes a tensor."""
    height, width = spec["input_size"]
    interpolation = MODES[spec["interpolation"]]
    steps = []
    if spec["resize"] == "shorter_side":
        steps.append(transforms.Resize(spec["resize_size"], interpolation=interpolation))
    else:
        steps.append(transforms.Resize((height, width), interpolation=interpolation))
    if spec["crop"] == "center":
        steps.append(transforms.CenterCrop((height, width)))
    return transforms.Compose(steps), transforms.Compose([transforms.ToTensor(),
                                                          transforms.Normalize(spec["mean"], spec["std"])])


# --- synthetic content -------------------------------------------------------------------------

def scene(width, height, seed):
    """A float RGB image in 0..1 that looks a bit like a photo: lit gradients, blurred and sharp
    shapes, thin lines, a texture and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    base = np.stack([0.2 + 0.6 * u, 0.3 + 0.5 * v, 0.8 - 0.5 * (u + v) / 2], axis=-1)
    base *= (0.75 + 0.25 * np.cos(3.0 * u + rng.uniform(0, 6)) * np.sin(2.0 * v + rng.uniform(0, 6)))[..., None]
    image = Image.fromarray(np.clip(base * 255, 0, 255).astype(np.uint8), "RGB")
    soft = Image.new("RGB", image.size)
    draw = ImageDraw.Draw(soft)
    for _ in range(5):
        x0, y0 = rng.uniform(-0.2, 0.9) * width, rng.uniform(-0.2, 0.9) * height
        size = rng.uniform(0.15, 0.5) * min(width, height)
        draw.ellipse([x0, y0, x0 + size * rng.uniform(0.7, 1.6), y0 + size], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    mask = soft.convert("L").point(lambda p: 255 if p > 0 else 0).filter(ImageFilter.GaussianBlur(1.5))
    image = Image.composite(soft.filter(ImageFilter.GaussianBlur(0.8)), image, mask)
    draw = ImageDraw.Draw(image)
    for _ in range(3):  # hard-edged rectangles
        x0, y0 = rng.uniform(0, 0.8) * width, rng.uniform(0, 0.8) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.4) * width, y0 + rng.uniform(0.1, 0.4) * height
        draw.rectangle([x0, y0, x1, y1], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    for _ in range(4):  # thin lines: the edges resampling filters disagree on
        draw.line([tuple(rng.uniform(0, 1, 2) * (width, height)), tuple(rng.uniform(0, 1, 2) * (width, height))],
                  fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=int(rng.integers(1, 3)))
    values = np.asarray(image, dtype=np.float64) / 255
    stripes = 0.04 * np.sin(x * rng.uniform(0.8, 1.6) + y * rng.uniform(0.2, 0.7))
    values = values + stripes[..., None] + rng.normal(0, 0.025, values.shape)
    return np.clip(values, 0, 1)


def to_u8(values):
    return np.round(values * 255).astype(np.uint8)


def luma(values):
    return values @ np.array([0.299, 0.587, 0.114])


# --- writers -------------------------------------------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16_rgb(path, values):
    """A 48-bit RGB PNG by hand (Pillow cannot write one): filter 0 on every row, zlib level 9."""
    height, width, _ = values.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in values)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9))
                + png_chunk(b"IEND", b""))


def write_jpeg_440(path, image):
    """4:4:0: chroma halved vertically only (luma sampled 1x2, chroma 1x1). Pillow cannot write it, libjpeg-turbo's cjpeg can."""
    cjpeg = shutil.which("cjpeg")
    if cjpeg is None:
        if os.path.exists(path):
            print(f"cjpeg not found: keeping the existing {os.path.basename(path)}")
            return True
        print(f"cjpeg not found (apt-get install libjpeg-turbo-progs): skipping {os.path.basename(path)}")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        ppm = os.path.join(tmp, "in.ppm")
        image.save(ppm)
        subprocess.run([cjpeg, "-quality", "88", "-sample", "1x2,1x1,1x1", "-outfile", path, ppm], check=True)
    return True


def write_images():
    """Writes every image; returns {name: file}. Each image has its own seed."""
    files = {}

    def jpeg(name, width, height, seed, **options):
        file = name + ".jpg"
        Image.fromarray(to_u8(scene(width, height, seed)), "RGB").save(os.path.join(OUT, file), "JPEG", **options)
        files[name] = file

    jpeg("rgb444_97x61", 97, 61, 1, quality=90, subsampling=0)
    jpeg("rgb422_300x200", 300, 200, 2, quality=85, subsampling=1)
    jpeg("rgb420_150x100", 150, 100, 3, quality=90, subsampling=2)
    jpeg("progressive_64x64", 64, 64, 4, quality=85, subsampling=2, progressive=True)
    jpeg("lowq30_41x77", 41, 77, 5, quality=30, subsampling=2)
    jpeg("small_27x19", 27, 19, 6, quality=92, subsampling=2)  # upscaled by every sidecar

    if write_jpeg_440(os.path.join(OUT, "rgb440_88x66.jpg"), Image.fromarray(to_u8(scene(88, 66, 7)), "RGB")):
        files["rgb440_88x66"] = "rgb440_88x66.jpg"

    Image.fromarray(to_u8(luma(scene(120, 90, 8))), "L").save(os.path.join(OUT, "gray_120x90.jpg"), quality=90)
    files["gray_120x90"] = "gray_120x90.jpg"

    # CMYK: ink from the RGB scene (naive black generation), written with an Adobe APP14 marker.
    rgb = scene(80, 60, 9)
    k = 1 - rgb.max(axis=-1)
    cmy = (1 - rgb - k[..., None]) / np.maximum(1 - k[..., None], 1e-6)
    cmyk = np.concatenate([cmy, k[..., None]], axis=-1)
    Image.fromarray(to_u8(cmyk), "CMYK").save(os.path.join(OUT, "cmyk_80x60.jpg"), quality=90)
    files["cmyk_80x60"] = "cmyk_80x60.jpg"

    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    Image.fromarray(to_u8(scene(90, 60, 10)), "RGB").save(os.path.join(OUT, "exif6_90x60.jpg"), quality=90,
                                                          subsampling=2, exif=exif)
    files["exif6_90x60"] = "exif6_90x60.jpg"

    def png(name, image, **options):
        file = name + ".png"
        image.save(os.path.join(OUT, file), "PNG", **options)
        files[name] = file

    colours = Image.fromarray(to_u8(scene(70, 50, 11)), "RGB")
    png("palette_70x50", colours.quantize(colors=48, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    paletted = Image.fromarray(to_u8(scene(64, 48, 12)), "RGB").quantize(colors=16, method=Image.Quantize.MEDIANCUT,
                                                                        dither=Image.Dither.NONE)
    alpha = bytes([0, 64, 128, 192] + [255] * 12)  # tRNS: the first four entries (partly) transparent
    png("palette_trns_64x48", paletted, transparency=alpha)
    png("gray_55x33", Image.fromarray(to_u8(luma(scene(55, 33, 13))), "L"))
    la = scene(60, 40, 14)
    png("gray_alpha_60x40", Image.merge("LA", [Image.fromarray(to_u8(luma(la)), "L"),
                                               Image.fromarray(to_u8(np.linspace(0, 1, 60)[None, :].repeat(40, 0)), "L")]))
    # Left half within 0..400, so some detail survives Pillow's clamp to 255 when it converts
    # I;16 to L or RGB; right half over the whole 0..65535.
    gray16 = luma(scene(50, 70, 15))
    gray16 = np.round(gray16 * np.where(np.arange(50) < 25, 400, 65535)[None, :]).astype(np.uint16)
    gray16[0, :8] = [0, 1, 255, 256, 4095, 32768, 65280, 65535]  # exact values at the corner
    png("gray16_50x70", Image.fromarray(gray16))  # Pillow writes mode I;16 as a 16-bit gray PNG
    rgb16 = np.round(scene(45, 30, 16) * 65535).astype(np.uint16)
    rgb16[0, :4] = [[0, 255, 256], [65535, 65280, 65279], [128, 32768, 33023], [1, 2, 3]]
    write_png16_rgb(os.path.join(OUT, "rgb16_45x30.png"), rgb16)
    files["rgb16_45x30"] = "rgb16_45x30.png"
    rgba = scene(100, 75, 17)
    rgba_alpha = np.clip(0.2 + np.linspace(0, 1, 100)[None, :] * np.linspace(1, 0.3, 75)[:, None], 0, 1)
    png("rgba_100x75", Image.fromarray(to_u8(np.concatenate([rgba, rgba_alpha[..., None]], axis=-1)), "RGBA"))
    return files


# --- reference outputs ---------------------------------------------------------------------------

def describe(path):
    with Image.open(path) as image:
        entry = {"file": os.path.basename(path), "format": image.format, "mode": image.mode,
                 "size": list(image.size)}
        if image.format == "JPEG":
            entry["sampling_factors"] = [list(layer[1:3]) for layer in image.layer]  # [h, v] per component
            if len(image.layer) == 3:
                entry["subsampling"] = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(get_sampling(image), "other")
                if entry["sampling_factors"] == [[1, 2], [1, 1], [1, 1]]:  # get_sampling knows no 4:4:0
                    entry["subsampling"] = "4:4:0"
            entry["progressive"] = bool(image.info.get("progressive") or image.info.get("progression"))
            if "adobe" in image.info:
                entry["adobe_transform"] = image.info.get("adobe_transform")
        if image.format == "PNG":
            entry["transparency"] = "transparency" in image.info
        orientation = image.getexif().get(0x0112)
        if orientation is not None:
            entry["exif_orientation"] = orientation
    return entry


def main():
    # convert("RGB") of the tRNS palette image: Pillow warns that it drops the transparency, as meant.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    os.makedirs(os.path.join(OUT, "sidecars"), exist_ok=True)
    for name in os.listdir(OUT):  # stale outputs of an older run
        if name.endswith(".npy"):
            os.remove(os.path.join(OUT, name))
    for name in SIDECARS:
        with open(os.path.join(OUT, "sidecars", name + ".json"), "w") as f:
            json.dump(sidecar_json(name), f, indent=2)
            f.write("\n")

    files = write_images()
    manifest = {"versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                             "torchvision": torchvision.__version__, "pillow": PIL.__version__,
                             "numpy": np.__version__, "libjpeg_turbo": features.version("libjpeg_turbo")},
                "loader": "Image.open(f).convert('RGB' or 'L'); ImageOps.exif_transpose first only for exif_bilinear",
                "images": []}
    for name, file in sorted(files.items()):
        path = os.path.join(OUT, file)
        entry = describe(path)
        entry["name"] = name
        entry["outputs"] = []
        for sidecar, spec in SIDECARS.items():
            if spec.get("exif_transpose") and name not in EXIF_IMAGES:
                continue
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened) if spec.get("exif_transpose") else opened
                image = image.convert("RGB" if spec["channels"] == 3 else "L")
            before, after = pipeline(spec)
            resized = before(image)
            pixels = np.asarray(resized)
            if pixels.ndim == 2:
                pixels = pixels[:, :, None]
            tensor = after(resized)
            height, width = spec["input_size"]
            assert pixels.shape == (height, width, spec["channels"]) and pixels.dtype == np.uint8, pixels.shape
            assert tensor.shape == (spec["channels"], height, width) and tensor.dtype == torch.float32
            np.save(os.path.join(OUT, f"{name}.{sidecar}.u8.npy"), np.ascontiguousarray(pixels))
            np.save(os.path.join(OUT, f"{name}.{sidecar}.f32.npy"), tensor.numpy())
            entry["outputs"].append(sidecar)
        manifest["images"].append(entry)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    total = 0
    for root, _, names in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(root, n)) for n in names)
    for entry in manifest["images"]:
        print(f"{entry['file']:<26} {entry['mode']:<5} {entry['size'][0]:>4}x{entry['size'][1]:<4} "
              f"{entry.get('subsampling', ''):<6} {' '.join(entry['outputs'])}")
    print(f"{total / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
