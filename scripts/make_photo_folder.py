#!/usr/bin/env python3
"""Makes an ImageFolder of photo-like JPEGs of many sizes, for comparing eyeball's resizing and
cropping with torchvision's on realistic inputs. Not committed data; deterministic:

    /root/.cache/eyeball/torch-venv/bin/python scripts/make_photo_folder.py --out /tmp/photos --count 300
    /root/.cache/eyeball/torch-venv/bin/python scripts/make_photo_folder.py --model-out /tmp/photos_model

Each photo is a grid of CIFAR-10 training images (from --cifar, default
../shared/data/cifar10/train beside the repository), each upscaled with a random filter to a tile
of random size, with a soft light falloff and a little noise, then cropped to a random size:
widths and heights 180..1600, a third each landscape, portrait and near-square. JPEG subsampling
4:4:4, 4:2:2 or 4:2:0 and quality 70..95 vary per photo. Photos go into 10 class folders
(the CIFAR class names), photo i into folder i % 10, named NNNN.jpg.

--model-out DIR also writes DIR/resnet18.pt, a seeded random torchvision resnet18(num_classes=10)
in eval mode with its last layer scaled x20 (so the softmax is not flat), traced at 1x3x224x224,
and DIR/preprocess.json, an eyeball-preprocess/2 sidecar: shorter side to 256 bilinear, center
crop 224, ImageNet mean/std.
"""

import argparse
import json
import os
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CIFAR = os.path.join(os.path.dirname(HERE), "shared", "data", "cifar10", "train")
SEED = 20261202
FILTERS = [Image.NEAREST, Image.BILINEAR, Image.BICUBIC, Image.LANCZOS]


def cifar_files(root):
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    files = [os.path.join(root, c, f) for c in classes for f in sorted(os.listdir(os.path.join(root, c)))]
    return classes, files


def photo_size(rng):
    shape = rng.integers(3)
    long_side = int(rng.integers(240, 1601))
    if shape == 2:  # near-square
        return long_side, int(np.clip(long_side * rng.uniform(0.9, 1.1), 180, 1600))
    short_side = int(np.clip(long_side * rng.uniform(0.45, 0.85), 180, 1600))
    return (long_side, short_side) if shape == 0 else (short_side, long_side)


def make_photo(rng, files, width, height):
    tile = int(rng.integers(64, 321))
    cols, rows = -(-width // tile), -(-height // tile)
    canvas = Image.new("RGB", (cols * tile, rows * tile))
    for r in range(rows):
        for c in range(cols):
            with Image.open(files[int(rng.integers(len(files)))]) as small:
                canvas.paste(small.convert("RGB").resize((tile, tile), FILTERS[int(rng.integers(len(FILTERS)))]),
                             (c * tile, r * tile))
    left = int(rng.integers(cols * tile - width + 1))
    top = int(rng.integers(rows * tile - height + 1))
    values = np.asarray(canvas.crop((left, top, left + width, top + height)), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    light = 1.1 - 0.4 * (((x - cx) / width) ** 2 + ((y - cy) / height) ** 2)
    values = values * light[..., None] + rng.normal(0, 2.0, values.shape).astype(np.float32)
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "RGB")


def write_photos(out, count, cifar):
    classes, files = cifar_files(cifar)
    rng = np.random.default_rng(SEED)
    for name in classes:
        os.makedirs(os.path.join(out, name), exist_ok=True)
    started, total = time.time(), 0
    for i in range(count):
        width, height = photo_size(rng)
        photo = make_photo(rng, files, width, height)
        subsampling = int(rng.choice([0, 1, 2]))
        quality = int(rng.integers(70, 96))
        path = os.path.join(out, classes[i % len(classes)], f"{i:04d}.jpg")
        photo.save(path, "JPEG", quality=quality, subsampling=subsampling)
        total += os.path.getsize(path)
    print(f"{count} photos, {total / 1e6:.1f} MB in {time.time() - started:.0f} s -> {out}")
    return classes


def write_model(out, classes):
    import torch
    import torchvision

    torch.manual_seed(SEED)
    model = torchvision.models.resnet18(num_classes=len(classes)).eval()
    with torch.no_grad():
        model.fc.weight.mul_(20)
    os.makedirs(out, exist_ok=True)
    torch.jit.trace(model, torch.zeros(1, 3, 224, 224)).save(os.path.join(out, "resnet18.pt"))
    sidecar = {"format": "eyeball-preprocess/2", "resize": "shorter_side", "resize_size": 256,
               "interpolation": "bilinear", "crop": "center", "input_size": [224, 224], "channels": 3,
               "scale": 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "class_names": classes}
    with open(os.path.join(out, "preprocess.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    print(f"resnet18.pt and preprocess.json -> {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="ImageFolder to write the photos into")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--cifar", default=DEFAULT_CIFAR)
    parser.add_argument("--model-out", help="folder for resnet18.pt and its preprocess.json")
    args = parser.parse_args()
    if not args.out and not args.model_out:
        parser.error("give --out, --model-out or both")
    classes = write_photos(args.out, args.count, args.cifar) if args.out else cifar_files(args.cifar)[0]
    if args.model_out:
        write_model(args.model_out, classes)


if __name__ == "__main__":
    main()
