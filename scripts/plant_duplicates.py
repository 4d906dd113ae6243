#!/usr/bin/env python3
"""Builds a near-duplicate benchmark folder from a CIFAR-like tree SOURCE/<split>/<class>/<file>.
Not committed data; deterministic for a seed:

    python scripts/plant_duplicates.py /work/shared/data/cifar10 /tmp/dupbench/test10k --splits test
    python scripts/plant_duplicates.py /work/shared/data/cifar10 /tmp/dupbench/all60k --splits train,test

OUT gets the tree of SOURCE restricted to --splits, each original an absolute symlink to its
source file. Into it go --copies planted near-duplicates of randomly chosen originals, written
beside their source as OUT/<split>/<class>/planted_<NNNN>_<kind>_<strength>.jpg (JPEG quality 95,
except the jpeg kind), spread round-robin over the (kind, strength) list in TRANSFORMS: shift
(translate, edge-replicated border), crop (random window resized back, bicubic), scale (bicubic,
saved at the new size), recolour (brightness, contrast, saturation, gamma, hue), jpeg (re-encode),
mirror (horizontal flip) and combo (shift 5% + brightness 1.2 + JPEG 60).

It also picks --negatives look-alike pairs of *different* originals of one class (a class spans
the splits, so a pair may be train/test): a random 4,000 originals not used as planted sources are
split alternately between two criteria, and each is paired with its nearest other original of the
same class by the correlation of 16x16 grayscale thumbnails (half the negatives, strength
gray_corr) or by the L2 distance of 8x8 RGB thumbnails (the other half, strength rgb_l2). Pairs that are byte- or
pixel-identical, or whose best 32x32 grayscale correlation over shifts of up to --dup-shift (3) px
and mirroring is above --max-corr (0.9; likely real duplicates in the data: CIFAR's own are often
shifted or cropped), are left out, as is any pair reusing an image already in a negative pair.
Rescaled CIFAR duplicates still get through that filter, so pairs judged the same shot by eye
(--same-shots, default scripts/cifar10_same_shots.csv: every negative of the seed-0 key that the
scan flagged or whose correlation over shifts and zooms exceeds 0.9 was looked at) are left out
too. Look at any flagged negative with pair_montage.py before counting it as a false pair.
(--dup-shift 0 --max-corr 0.97 --same-shots '' gives the older, looser key.)

The ground truth goes to OUT/../<basename(OUT)>_truth.csv (outside the scanned folder), columns
a,b,kind,strength with a and b relative to OUT: a the source original and b the planted copy, or
for kind=negative the two originals. OUT must not exist, or be empty, unless --overwrite.
"""

import argparse
import csv
import os
import shutil
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageEnhance

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
NEGATIVE_POOL = 4000  # originals whose nearest neighbour is a negative candidate
DUPLICATE_CORR = 0.9  # default --max-corr: best 32x32 gray correlation (shifts, mirror) above this is probably a real duplicate
DUPLICATE_SHIFT = 3  # default --dup-shift
SAME_SHOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cifar10_same_shots.csv")
PLANTED_QUALITY = 95

TRANSFORMS = (
    [("shift", f"{s}pct") for s in (5, 10, 15)]
    + [("crop", f"{s}pct") for s in (5, 10, 15)]
    + [("scale", f"{f}") for f in (0.5, 0.75, 1.5, 2.0)]
    + [("recolour", s) for s in ("brightness_0.7", "brightness_1.3", "contrast_0.6", "contrast_1.4",
                                 "saturation_0", "saturation_1.6", "gamma_0.7", "gamma_1.4", "hue_0.05")]
    + [("jpeg", f"q{q}") for q in (30, 50, 75)]
    + [("mirror", "h")]
    + [("combo", "shift5_brightness1.2_q60")]
)


def list_originals(source, splits):
    """Sorted (split, class, file) of every image under SOURCE/<split>/<class>/."""
    found = []
    for split in splits:
        split_dir = os.path.join(source, split)
        if not os.path.isdir(split_dir):
            raise SystemExit(f"no split folder {split_dir}")
        for cls in sorted(e.name for e in os.scandir(split_dir) if e.is_dir()):
            for name in sorted(os.listdir(os.path.join(split_dir, cls))):
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    found.append((split, cls, name))
    return found


# ---------------------------------------------------------------- planted copies

def shift(img, pct, rng):
    """Translate by pct% of each side in a random direction; the uncovered border repeats the edge."""
    w, h = img.size
    dx = dy = 0
    while dx == 0 and dy == 0:
        angle = rng.uniform(0, 2 * np.pi)
        dx = int(round(pct / 100 * w * np.cos(angle)))
        dy = int(round(pct / 100 * h * np.sin(angle)))
    pad = max(abs(dx), abs(dy))
    padded = np.pad(np.asarray(img), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return Image.fromarray(padded[pad - dy:pad - dy + h, pad - dx:pad - dx + w])


def crop(img, pct, rng):
    """Keep a random (1-pct%) x (1-pct%) window, resized back to the original size (bicubic)."""
    w, h = img.size
    cw, ch = max(1, int(round(w * (1 - pct / 100)))), max(1, int(round(h * (1 - pct / 100))))
    left, top = int(rng.integers(w - cw + 1)), int(rng.integers(h - ch + 1))
    return img.crop((left, top, left + cw, top + ch)).resize((w, h), Image.BICUBIC)


def recolour(img, strength):
    what, amount = strength.rsplit("_", 1)
    amount = float(amount)
    if what == "brightness":
        return ImageEnhance.Brightness(img).enhance(amount)
    if what == "contrast":
        return ImageEnhance.Contrast(img).enhance(amount)
    if what == "saturation":
        return ImageEnhance.Color(img).enhance(amount).convert("RGB")
    if what == "gamma":
        values = 255.0 * (np.asarray(img, dtype=np.float64) / 255.0) ** amount
        return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8))
    if what == "hue":
        hsv = np.asarray(img.convert("HSV")).copy()
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(round(amount * 256))) % 256
        return Image.fromarray(hsv, "HSV").convert("RGB")
    raise ValueError(strength)


def plant(img, kind, strength, rng):
    """The transformed image and the JPEG quality to save it at."""
    if kind == "shift":
        return shift(img, int(strength[:-3]), rng), PLANTED_QUALITY
    if kind == "crop":
        return crop(img, int(strength[:-3]), rng), PLANTED_QUALITY
    if kind == "scale":
        f = float(strength)
        size = (max(1, int(round(img.width * f))), max(1, int(round(img.height * f))))
        return img.resize(size, Image.BICUBIC), PLANTED_QUALITY
    if kind == "recolour":
        return recolour(img, strength), PLANTED_QUALITY
    if kind == "jpeg":
        return img, int(strength[1:])
    if kind == "mirror":
        return img.transpose(Image.FLIP_LEFT_RIGHT), PLANTED_QUALITY
    if kind == "combo":
        return ImageEnhance.Brightness(shift(img, 5, rng)).enhance(1.2), 60
    raise ValueError(kind)


def write_planted(source, out, originals, sources, seed):
    rows = []
    for i, index in enumerate(sources):
        split, cls, name = originals[index]
        kind, strength = TRANSFORMS[i % len(TRANSFORMS)]
        rng = np.random.default_rng([seed, 1, i])
        with Image.open(os.path.join(source, split, cls, name)) as src:
            img = src.convert("RGB")
        copy, quality = plant(img, kind, strength, rng)
        planted = f"planted_{i:04d}_{kind}_{strength}.jpg"
        copy.save(os.path.join(out, split, cls, planted), quality=quality)
        rows.append((f"{split}/{cls}/{name}", f"{split}/{cls}/{planted}", kind, strength))
    return rows


# ---------------------------------------------------------------- negatives

def _normalise(x):
    x = x - x.mean(axis=1, keepdims=True)
    return x / (x.std(axis=1, keepdims=True) + 1e-6)


def thumbnails(path):
    """(16x16 gray, 8x8 RGB, 32x32 gray) thumbnails of one image, as float32 vectors."""
    with Image.open(path) as src:
        img = src.convert("RGB")
    gray = img.convert("L")
    g16 = np.asarray(gray.resize((16, 16), Image.BOX), dtype=np.float32).ravel()
    c8 = np.asarray(img.resize((8, 8), Image.BOX), dtype=np.float32).ravel()
    g32 = np.asarray(gray.resize((32, 32), Image.BOX) if gray.size != (32, 32) else gray, dtype=np.float32)
    return g16, c8, g32


def load_thumbnails(paths, workers):
    if workers > 1:
        with Pool(workers) as pool:
            results = pool.map(thumbnails, paths, chunksize=500)
    else:
        results = [thumbnails(p) for p in paths]
    g16, c8, g32 = (np.stack(parts) for parts in zip(*results))
    return _normalise(g16), c8, g32


def nearest_candidates(classes, chosen, g16, c8):
    """For each chosen index, its nearest same-class neighbour by gray correlation and by RGB L2."""
    by_corr, by_l2 = {}, {}
    for cls in np.unique(classes):
        members = np.flatnonzero(classes == cls)
        rows = chosen[classes[chosen] == cls]
        if len(rows) == 0 or len(members) < 2:
            continue
        position = np.searchsorted(members, rows)  # where each chosen row sits among the members
        corr = g16[rows] @ g16[members].T / g16.shape[1]
        corr[np.arange(len(rows)), position] = -np.inf
        sq = (c8[rows] ** 2).sum(1)[:, None] + (c8[members] ** 2).sum(1)[None, :] - 2 * c8[rows] @ c8[members].T
        sq[np.arange(len(rows)), position] = np.inf
        for i, (j, k) in enumerate(zip(corr.argmax(1), sq.argmin(1))):
            by_corr[rows[i]], by_l2[rows[i]] = members[j], members[k]
    return by_corr, by_l2


def duplicate_corr(a, b, shift):
    """Correlation of two 32x32 gray images; with shift > 0 the highest over translations of up to
    shift pixels (on the overlap) of b and of b mirrored."""
    def corr(x, y):
        x, y = _normalise(x.reshape(1, -1))[0], _normalise(y.reshape(1, -1))[0]
        return float(x @ y) / x.size

    if shift == 0:
        return corr(a, b)
    n, best = a.shape[0], -1.0
    for other in (b, b[:, ::-1]):
        for dy in range(-shift, shift + 1):
            for dx in range(-shift, shift + 1):
                best = max(best, corr(a[max(dy, 0):n + min(dy, 0), max(dx, 0):n + min(dx, 0)],
                                      other[max(-dy, 0):n + min(-dy, 0), max(-dx, 0):n + min(-dx, 0)]))
    return best


def identical(path_a, path_b):
    """'bytes' or 'pixels' if the two files are byte- or pixel-identical, else None."""
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        if fa.read() == fb.read():
            return "bytes"
    with Image.open(path_a) as a, Image.open(path_b) as b:
        if a.size == b.size and np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))):
            return "pixels"
    return None


def read_same_shots(path):
    """Pairs (a, b) of SOURCE-relative paths judged the same shot by eye, as frozensets."""
    if not path:
        return set()
    with open(path, newline="") as f:
        return {frozenset((row["a"], row["b"])) for row in csv.DictReader(f)}


def pick_negatives(source, originals, planted_sources, count, seed, workers, max_corr, dup_shift, same_shots):
    rng = np.random.default_rng([seed, 2])
    paths = [os.path.join(source, *o) for o in originals]
    classes = np.array([cls for _, cls, _ in originals])  # a class spans all the splits
    started = time.time()
    g16, c8, g32 = load_thumbnails(paths, workers)
    print(f"thumbnails of {len(paths)} originals: {time.time() - started:.1f}s")

    eligible = np.setdiff1d(np.arange(len(originals)), planted_sources)
    chosen = rng.permutation(eligible)[:NEGATIVE_POOL]  # random order = priority order
    by_corr, by_l2 = nearest_candidates(classes, np.sort(chosen), g16, c8)

    quotas = {"gray_corr": count // 2, "rgb_l2": count - count // 2}
    # half the chosen images (alternately) go to each criterion, in the random order
    queues = {"gray_corr": [(r, by_corr[r]) for r in chosen[0::2] if r in by_corr],
              "rgb_l2": [(r, by_l2[r]) for r in chosen[1::2] if r in by_l2]}
    too_close = f"corr>{max_corr}" + (f" (shift<={dup_shift}, mirror)" if dup_shift else "")
    excluded = {name: {"bytes": 0, "pixels": 0, too_close: 0, "same shot by eye": 0, "image reused": 0}
                for name in quotas}
    used, rows = set(), []
    kept = {name: 0 for name in quotas}
    cursor = {name: 0 for name in quotas}
    while any(kept[n] < quotas[n] and cursor[n] < len(queues[n]) for n in quotas):
        for name in quotas:  # alternate between the two criteria so neither starves the other
            while kept[name] < quotas[name] and cursor[name] < len(queues[name]):
                a, b = queues[name][cursor[name]]
                cursor[name] += 1
                if a in used or b in used:
                    excluded[name]["image reused"] += 1
                    continue
                same = identical(paths[a], paths[b])
                if same:
                    excluded[name][same] += 1
                    continue
                if duplicate_corr(g32[a], g32[b], dup_shift) > max_corr:
                    excluded[name][too_close] += 1
                    continue
                if frozenset(("/".join(originals[a]), "/".join(originals[b]))) in same_shots:
                    excluded[name]["same shot by eye"] += 1
                    continue
                used.update((a, b))
                kept[name] += 1
                rows.append(("/".join(originals[a]), "/".join(originals[b]), "negative", name))
                break
    for name in quotas:
        if kept[name] < quotas[name]:
            print(f"warning: only {kept[name]} of {quotas[name]} {name} negatives found")
    for name in quotas:
        print(f"{name}: {cursor[name]} candidates examined, {kept[name]} kept, excluded {excluded[name]}")
    return sorted(rows, key=lambda row: row[3] != "gray_corr")  # gray_corr first, else in order kept


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--splits", default="train,test", help="comma-separated split folders (default train,test)")
    parser.add_argument("--copies", type=int, default=500, help="planted near-duplicates (default 500)")
    parser.add_argument("--negatives", type=int, default=500, help="look-alike negative pairs (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-corr", type=float, default=DUPLICATE_CORR,
                        help=f"drop negatives whose 32x32 gray correlation is above this (default {DUPLICATE_CORR})")
    parser.add_argument("--dup-shift", type=int, default=DUPLICATE_SHIFT,
                        help="for --max-corr, the best correlation over shifts of up to this many pixels and "
                             f"mirroring (default {DUPLICATE_SHIFT}; 0: no shift, no mirror)")
    parser.add_argument("--same-shots", default=SAME_SHOTS,
                        help="CSV (a,b) of pairs judged the same shot by eye, never used as negatives "
                             "(default scripts/cifar10_same_shots.csv; '' for none)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the thumbnails (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="delete OUT first if it exists")
    args = parser.parse_args()

    source, out = os.path.abspath(args.source), os.path.abspath(args.out)
    if os.path.exists(out) and os.listdir(out):
        if not args.overwrite:
            raise SystemExit(f"{out} exists and is not empty (use --overwrite)")
        shutil.rmtree(out)
    started = time.time()
    originals = list_originals(source, [s for s in args.splits.split(",") if s])
    if args.copies > len(originals):
        raise SystemExit(f"--copies {args.copies} > {len(originals)} originals")
    for split, cls in sorted({(s, c) for s, c, _ in originals}):
        os.makedirs(os.path.join(out, split, cls), exist_ok=True)
    for split, cls, name in originals:
        os.symlink(os.path.join(source, split, cls, name), os.path.join(out, split, cls, name))
    print(f"{len(originals)} originals linked into {out}: {time.time() - started:.1f}s")

    rng = np.random.default_rng([args.seed, 0])
    planted_sources = rng.choice(len(originals), size=args.copies, replace=False)
    t = time.time()
    rows = write_planted(source, out, originals, planted_sources, args.seed)
    print(f"{len(rows)} planted copies: {time.time() - t:.1f}s")
    t = time.time()
    rows += pick_negatives(source, originals, planted_sources, args.negatives, args.seed, args.workers,
                           args.max_corr, args.dup_shift, read_same_shots(args.same_shots))
    print(f"negatives: {time.time() - t:.1f}s")

    truth = os.path.join(os.path.dirname(out), os.path.basename(out) + "_truth.csv")
    with open(truth, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "kind", "strength"])
        writer.writerows(rows)
    counts = {}
    for _, _, kind, strength in rows:
        counts.setdefault(kind, {}).setdefault(strength, 0)
        counts[kind][strength] += 1
    print(f"wrote {truth} ({len(rows)} pairs)")
    for kind, per in counts.items():
        print(f"  {kind:9s} {sum(per.values()):4d}  " + ", ".join(f"{s}: {n}" for s, n in per.items()))
    print(f"total {time.time() - started:.1f}s")


if __name__ == "__main__":
    main()
