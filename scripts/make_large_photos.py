#!/usr/bin/env python3
"""Makes an ImageFolder of large camera-sized JPEGs (4000x3000, quality 90, 4:2:0), for timing
eyeball's decoding and resizing of big photos against PIL/torchvision. Not committed data;
deterministic (photo i depends only on the seed and i):

    nice /root/.cache/eyeball/torch-venv/bin/python scripts/make_large_photos.py --out /tmp/large_photos --count 2000

Each photo is a mosaic of CIFAR-10 training images (from --cifar, default
../shared/data/cifar10/train beside the repository; the first --pool of each class), a random
one per 32x32 cell, with a light falloff and a little noise, upscaled x4 with bicubic
(so 128-pixel tiles) and cropped to the size at a random offset. Photo i goes to
OUT/<class i % 10>/NNNN.jpg. Photos already there are kept, so a stopped run can go on.
"""

import argparse
import os
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CIFAR = os.path.join(os.path.dirname(HERE), "shared", "data", "cifar10", "train")
SEED = 20261203
WIDTH, HEIGHT, FACTOR = 4000, 3000, 4


def load_pool(root, per_class):
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    images = []
    for name in classes:
        for file in sorted(os.listdir(os.path.join(root, name)))[:per_class]:
            with Image.open(os.path.join(root, name, file)) as image:
                images.append(np.asarray(image.convert("RGB")))
    return classes, np.stack(images)


def make_photo(pool, index):
    rng = np.random.default_rng([SEED, index])
    cols, rows = -(-WIDTH // (32 * FACTOR)) + 1, -(-HEIGHT // (32 * FACTOR)) + 1
    picks = pool[rng.integers(len(pool), size=rows * cols)]
    mosaic = picks.reshape(rows, cols, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(rows * 32, cols * 32, 3)
    height, width = mosaic.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    light = 1.1 - 0.4 * (((x - cx) / width) ** 2 + ((y - cy) / height) ** 2)
    values = mosaic * light[..., None] + rng.normal(0, 2.0, mosaic.shape).astype(np.float32)
    small = Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "RGB")
    big = small.resize((width * FACTOR, height * FACTOR), Image.BICUBIC)
    left = int(rng.integers(big.width - WIDTH + 1))
    top = int(rng.integers(big.height - HEIGHT + 1))
    return big.crop((left, top, left + WIDTH, top + HEIGHT))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--cifar", default=DEFAULT_CIFAR)
    parser.add_argument("--pool", type=int, default=1000, help="CIFAR images per class to draw from")
    args = parser.parse_args()
    started = time.time()
    classes, pool = load_pool(args.cifar, args.pool)
    print(f"{len(pool)} CIFAR images loaded in {time.time() - started:.0f} s", flush=True)
    for name in classes:
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
    written = total = 0
    for i in range(args.count):
        path = os.path.join(args.out, classes[i % len(classes)], f"{i:04d}.jpg")
        if not os.path.exists(path):
            partial = path + ".part"
            make_photo(pool, i).save(partial, "JPEG", quality=90, subsampling=2)
            os.replace(partial, path)
            written += 1
        total += os.path.getsize(path)
        if (i + 1) % 100 == 0 or i + 1 == args.count:
            print(f"{i + 1}/{args.count} ({written} written), {total / 1e9:.2f} GB, {time.time() - started:.0f} s",
                  flush=True)


if __name__ == "__main__":
    main()
