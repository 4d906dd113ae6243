#!/usr/bin/env python3
"""cleanvision baseline for near-duplicate detection on a planted benchmark (plant_duplicates.py).

Runs cleanvision's Imagelab on FOLDER with issue types near_duplicates and exact_duplicates at
default settings (near: identical 8x8 perceptual hash; exact: identical decoded pixels, md5), turns
each reported set into all its pairs, and scores against the truth CSV (a,b,kind,strength, paths
relative to FOLDER): for each (kind, strength) the share of key pairs whose two images lie in one
cleanvision set (near or exact), with totals for planted copies and for negatives. Prints the total
number of flagged pairs and sets and the wall-clock time of the cleanvision run.

--pairs-out gets every flagged pair (columns a,b, relative paths), sets in cleanvision's display
order (near sets by size, largest first, then exact sets), pairs within a set in file order.
--sets-out (optional) gets one row per set, its first two members, with a detail column
("near set 3 of 2 images"), for pair_montage.py. Needs cleanvision (pip install cleanvision).

    python scripts/cleanvision_baseline.py /tmp/dupbench/test10k /tmp/dupbench/test10k_truth.csv \\
        --pairs-out /tmp/cv_test10k_pairs.csv [--sets-out /tmp/cv_test10k_sets.csv] [--jobs 2]
"""

import argparse
import csv
import itertools
import os
import time
from collections import OrderedDict

from cleanvision import Imagelab

NEAR, EXACT = "near_duplicates", "exact_duplicates"


def rel(root, path):
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("key")
    parser.add_argument("--pairs-out", required=True, help="CSV of all flagged pairs (a,b)")
    parser.add_argument("--sets-out", help="CSV with one row per set (a,b,detail)")
    parser.add_argument("--jobs", type=int, default=2, help="cleanvision n_jobs (default 2)")
    args = parser.parse_args()
    root = os.path.abspath(args.folder)

    start = time.perf_counter()
    lab = Imagelab(data_path=root)
    lab.find_issues(issue_types={NEAR: {}, EXACT: {}}, n_jobs=args.jobs)
    seconds = time.perf_counter() - start
    n_images = len(lab.issues)

    # cleanvision drops a near set when it equals an exact set, so the two lists are complementary.
    groups = []  # (issue type, sorted relative paths)
    for issue in (NEAR, EXACT):
        sets = sorted(lab.info[issue]["sets"], key=len, reverse=True)  # as Imagelab.visualize shows them
        groups += [(issue, sorted(rel(root, p) for p in s)) for s in sets]

    set_of = {}  # image -> group numbers it belongs to
    pairs = OrderedDict()
    for number, (_, members) in enumerate(groups):
        for m in members:
            set_of.setdefault(m, set()).add(number)
        for a, b in itertools.combinations(members, 2):
            pairs.setdefault((a, b), None)

    with open(args.pairs_out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b"])
        w.writerows(pairs)
    if args.sets_out:
        counters = {NEAR: 0, EXACT: 0}
        with open(args.sets_out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["a", "b", "detail"])
            for issue, members in groups:
                counters[issue] += 1
                w.writerow([members[0], members[1], f"{issue.split('_')[0]} set {counters[issue]} of {len(members)} images"])

    with open(args.key, newline="") as f:
        key = list(csv.DictReader(f))
    listed = set(rel(root, p) for p in lab.issues.index)
    missing = sorted({p for r in key for p in (r["a"], r["b"]) if p not in listed})
    if missing:
        print(f"warning: {len(missing)} key images not seen by cleanvision, e.g. {missing[:3]}")

    rows = OrderedDict()  # (kind, strength) -> [pairs, found]
    for r in key:
        hit = bool(set_of.get(r["a"], set()) & set_of.get(r["b"], set()))
        cell = rows.setdefault((r["kind"], r["strength"]), [0, 0])
        cell[0] += 1
        cell[1] += hit

    print()
    print(f"cleanvision {__import__('cleanvision').__version__} on {root}: {n_images} images")
    width = max(len(s) for _, s in rows) if rows else 8
    print(f"{'kind':<9} {'strength':<{width}} {'pairs':>5} {'found':>5} {'pct':>6}")
    for (kind, strength), (n, found) in sorted(rows.items(), key=lambda kv: (kv[0][0] == "negative", kv[0])):
        print(f"{kind:<9} {strength:<{width}} {n:>5} {found:>5} {100 * found / n:>5.1f}%")
    planted = [v for (k, _), v in rows.items() if k != "negative"]
    negative = [v for (k, _), v in rows.items() if k == "negative"]
    for label, cells in (("planted copies found", planted), ("negatives flagged", negative)):
        n, found = sum(c[0] for c in cells), sum(c[1] for c in cells)
        print(f"{label}: {found}/{n} ({100 * found / n if n else 0:.1f}%)")
    n_near = sum(1 for g in groups if g[0] == NEAR)
    print(f"flagged sets: {len(groups)} ({n_near} near, {len(groups) - n_near} exact), "
          f"images in them: {sum(len(g[1]) for g in groups)}, flagged pairs: {len(pairs)}")
    kinds = {frozenset((r["a"], r["b"])): r["kind"] for r in key}
    in_key = [kinds.get(frozenset(pr)) for pr in pairs]
    n_planted = sum(1 for k in in_key if k not in (None, "negative"))
    n_neg = sum(1 for k in in_key if k == "negative")
    print(f"flagged pairs that are planted key pairs: {n_planted}, key negatives: {n_neg}, "
          f"not in the key: {len(pairs) - n_planted - n_neg}")
    print(f"cleanvision time: {seconds:.1f} s (n_jobs={args.jobs})")


if __name__ == "__main__":
    main()
