#!/usr/bin/env python3
"""Makes the large folders the scale benchmarks (issue 15) run on. Not committed data; the same
arguments give the same files.

    python scripts/make_million.py --kind blocky --out /tmp/million_blocky --count 1000000
    python scripts/make_million.py --kind cifar-mosaic --out /tmp/million_mosaic --count 1000000

--kind blocky: 32x32 BMPs of random coloured blocks (4 or 8 pixels a side), the kind of images
that share a block structure (documents, renders, tiles) and crowd the near-duplicate hash
tables.

--kind cifar-mosaic: 32x32 JPEGs (quality 90), each four 16x16 quadrants taken from four random
CIFAR-10 training images (--cifar, default ../shared/data/cifar10/train), each downscaled whole
or as a random crop. Real photo statistics, with many partial look-alikes (a source appears in
about count/15,000 quadrants) and almost no true duplicates.

Images go into 100 class folders c00..c99, image i into folder i % 100, named NNNNNNN.<ext>.
Needs numpy and Pillow.
"""

import argparse
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CIFAR = os.path.join(os.path.dirname(HERE), "shared", "data", "cifar10", "train")
CLASSES = 100
SIDE = 32


def blocky(rng):
    block = int(rng.choice([4, 8]))
    cells = SIDE // block
    colours = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
    return colours.repeat(block, axis=0).repeat(block, axis=1)


def load_sources(cifar, limit):
    paths = []
    for root, _, files in os.walk(cifar):
        paths.extend(os.path.join(root, f) for f in files if f.endswith(".jpg"))
    paths.sort()
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths[:limit]])


def mosaic(rng, sources):
    out = np.empty((SIDE, SIDE, 3), dtype=np.uint8)
    half = SIDE // 2
    for qy in range(2):
        for qx in range(2):
            src = sources[rng.integers(len(sources))]
            crop = int(rng.integers(16, SIDE + 1))
            y, x = rng.integers(0, SIDE - crop + 1, size=2)
            tile = Image.fromarray(src[y : y + crop, x : x + crop]).resize(
                (half, half), Image.BILINEAR
            )
            out[qy * half : (qy + 1) * half, qx * half : (qx + 1) * half] = np.asarray(tile)
    return out


SOURCES = None


def load_worker(kind, cifar):
    global SOURCES
    if kind == "cifar-mosaic":
        SOURCES = load_sources(cifar, 60_000)


def write_range(job):
    kind, out, start, end = job
    sources = SOURCES
    for i in range(start, end):
        rng = np.random.default_rng([0xE7EBA11, i])
        folder = os.path.join(out, f"c{i % CLASSES:02d}")
        if kind == "blocky":
            Image.fromarray(blocky(rng)).save(os.path.join(folder, f"{i:07d}.bmp"))
        else:
            Image.fromarray(mosaic(rng, sources)).save(
                os.path.join(folder, f"{i:07d}.jpg"), quality=90
            )
    return end - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=["blocky", "cifar-mosaic"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--cifar", default=DEFAULT_CIFAR)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for c in range(CLASSES):
        os.makedirs(os.path.join(args.out, f"c{c:02d}"), exist_ok=True)
    chunk = 20_000
    jobs = [
        (args.kind, args.out, s, min(s + chunk, args.count))
        for s in range(0, args.count, chunk)
    ]
    done = 0
    with Pool(args.jobs, load_worker, (args.kind, args.cifar)) as pool:
        for n in pool.imap_unordered(write_range, jobs):
            done += n
            print(f"{done}/{args.count}", flush=True)


if __name__ == "__main__":
    main()
