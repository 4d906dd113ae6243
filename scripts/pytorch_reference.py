#!/usr/bin/env python3
"""Reference predictions from real PyTorch: runs a TorchScript model over every image of an
ImageFolder tree, preprocessing with torchvision exactly as the sidecar says, and writes one CSV
row per image, so eyeball's predictions can be compared with PyTorch's image by image.

    /root/.cache/eyeball/torch-venv/bin/python scripts/pytorch_reference.py \\
        --model MODEL.pt --sidecar preprocess.json --root DATASET_DIR --out OUT.csv

Images: `<root>/<class>/<file>` in torchvision ImageFolder's order (sorted folders, then sorted
files, searched recursively) with its extensions. Loading is torchvision's pil_loader:
Image.open(f).convert("RGB"), or "L" when the sidecar's channels is 1.

Sidecar eyeball-preprocess/1 (or no format): Resize((h, w)) bilinear stretch when the image size
differs, ToTensor (x / 255 when scale is 255), Normalize(mean, std).
Sidecar eyeball-preprocess/2 adds:
  resize        "stretch" -> Resize((h, w));  "shorter_side" -> Resize(resize_size)
  interpolation "nearest" | "bilinear" | "bicubic" | "lanczos"  (default bilinear)
  crop          "center" -> CenterCrop((h, w));  "none"  (default none)
  exif_transpose  true -> ImageOps.exif_transpose before the conversion (default false)

CSV columns: path (relative to root, with /), label (folder name), predicted (class name),
p_label (softmax probability of the folder's class, by its position in class_names; empty when
the folder is not a class), p_0 .. p_{C-1}; floats with %.9g (exact for float32).
Batches of 256, torch.no_grad(), model.eval(), 2 threads, on the CPU.
"""

import argparse
import csv
import json
import os
import time

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms import InterpolationMode

INTERPOLATIONS = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR,
                  "bicubic": InterpolationMode.BICUBIC, "lanczos": InterpolationMode.LANCZOS}


def image_folder(root):
    """(relative path, class folder) in ImageFolder's order."""
    for label in sorted(e.name for e in os.scandir(root) if e.is_dir()):
        for folder, _, files in sorted(os.walk(os.path.join(root, label), followlinks=True)):
            for name in sorted(files):
                if name.lower().endswith(IMG_EXTENSIONS):
                    yield os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"), label


def build(sidecar):
    """(load(path) -> CHW float tensor, description) for a sidecar."""
    version = sidecar.get("format", "eyeball-preprocess/1")
    height, width = sidecar["input_size"]
    channels = sidecar["channels"]
    scale = float(sidecar.get("scale", 255.0))
    if version == "eyeball-preprocess/1":
        if sidecar.get("resize", "stretch") != "stretch":
            raise SystemExit(f"v1 sidecar with resize {sidecar['resize']!r}: only stretch")
        resize = [transforms.Resize((height, width), interpolation=InterpolationMode.BILINEAR)]
        exif = False

        def sized(image):
            return resize[0](image) if image.size != (width, height) else image
    elif version == "eyeball-preprocess/2":
        interpolation = INTERPOLATIONS[sidecar.get("interpolation", "bilinear")]
        mode = sidecar.get("resize", "stretch")
        if mode == "stretch":
            steps = [transforms.Resize((height, width), interpolation=interpolation)]
        elif mode == "shorter_side":
            steps = [transforms.Resize(sidecar["resize_size"], interpolation=interpolation)]
        else:
            raise SystemExit(f"unknown resize {mode!r}")
        crop = sidecar.get("crop", "none")
        if crop == "center":
            steps.append(transforms.CenterCrop((height, width)))
        elif crop != "none":
            raise SystemExit(f"unknown crop {crop!r}")
        sized = transforms.Compose(steps)
        exif = bool(sidecar.get("exif_transpose", False))
    else:
        raise SystemExit(f"unknown sidecar format {version!r}")
    normalize = transforms.Normalize(sidecar["mean"], sidecar["std"])
    to_tensor = transforms.ToTensor()

    def load(path):
        with open(path, "rb") as f:
            image = Image.open(f)
            if exif:
                image = ImageOps.exif_transpose(image)
            image = image.convert("RGB" if channels == 3 else "L")
        image = sized(image)
        if scale == 255.0:
            tensor = to_tensor(image)
        else:  # what ToTensor does, with another divisor
            values = torch.from_numpy(np.array(image, dtype=np.uint8, copy=True))
            tensor = values.view(image.size[1], image.size[0], -1).permute(2, 0, 1).float().div(scale)
        return normalize(tensor)

    return load, version


def logits_of(output):
    """The logits of a model that returns a tensor, a tuple/list (first) or a dict."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return output[0]
    if isinstance(output, dict):
        if "logits" in output:
            return output["logits"]
        if len(output) == 1:
            return next(iter(output.values()))
        raise SystemExit(f"model returns a dict with {sorted(output)} and none is named logits")
    raise SystemExit(f"model returns {type(output).__name__}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--sidecar", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with open(args.sidecar) as f:
        sidecar = json.load(f)
    torch.set_num_threads(args.threads)
    load, version = build(sidecar)
    classes = sidecar["class_names"]
    model = torch.jit.load(args.model, map_location="cpu").eval()
    items = list(image_folder(args.root))
    print(f"{len(items)} images, {version}, {len(classes)} classes")

    started = time.perf_counter()
    decoding = forward = 0.0
    with open(args.out, "w", newline="") as f, torch.no_grad():
        out = csv.writer(f)
        out.writerow(["path", "label", "predicted", "p_label"] + [f"p_{i}" for i in range(len(classes))])
        for start in range(0, len(items), args.batch_size):
            batch = items[start:start + args.batch_size]
            t0 = time.perf_counter()
            x = torch.stack([load(os.path.join(args.root, path)) for path, _ in batch])
            t1 = time.perf_counter()
            probs = torch.softmax(logits_of(model(x)).float(), dim=1)
            t2 = time.perf_counter()
            decoding += t1 - t0
            forward += t2 - t1
            if probs.shape[1] != len(classes):
                raise SystemExit(f"model has {probs.shape[1]} outputs, sidecar {len(classes)} class names")
            for (path, label), row in zip(batch, probs.tolist()):
                index = classes.index(label) if label in classes else None
                best = max(range(len(row)), key=row.__getitem__)  # first of ties, as torch.argmax
                out.writerow([path, label, classes[best], "" if index is None else "%.9g" % row[index]]
                             + ["%.9g" % p for p in row])
    elapsed = time.perf_counter() - started
    n = len(items)
    print(f"{n} images in {elapsed:.1f} s: {n / elapsed:.1f} images/s "
          f"(decode+preprocess {decoding:.1f} s, {n / max(decoding, 1e-9):.1f}/s; "
          f"forward {forward:.1f} s, {n / max(forward, 1e-9):.1f}/s) -> {args.out}")


if __name__ == "__main__":
    main()
