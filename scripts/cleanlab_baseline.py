#!/usr/bin/env python3
"""cleanlab baseline for the training-dynamics label-error rankings. Not committed.

Computes one checkpoint's softmax probabilities over every image of an ImageFolder (labels = the
folder class, as indices into the sidecar's class_names), runs
cleanlab.filter.find_label_issues(..., return_indices_ranked_by="self_confidence") and reports the
precision of the known flipped labels among cleanlab's top K ranked issues (K = number flipped),
and the same for ranking by lowest p(given class). Flipped examples are matched by file: the
dataset file <given>/<original>__<file> (as written by train_cifar_bench_model.py --dataset-out)
is the flipped.csv path <original>/<file>. Also writes the probabilities to --probs-out
(path relative to --root, then p_0..p_{C-1}). Needs cleanlab (pip install cleanlab).

    python scripts/cleanlab_baseline.py --model /tmp/dyn_ckpt/epoch_12.pt \\
        --sidecar /tmp/dyn_ckpt/preprocess.json --root /tmp/dyn_train --flipped /tmp/dyn_ckpt/flipped.csv
"""

import argparse
import csv
import json
import os
import time

import numpy as np
import torch
from PIL import Image


def load_folder(root, class_names, mean, std):
    index = {name: i for i, name in enumerate(class_names)}
    paths, labels, images = [], [], []
    for name in sorted(os.listdir(root)):
        if not os.path.isdir(os.path.join(root, name)):
            continue
        if name not in index:
            raise SystemExit(f"class folder {name!r} is not in the sidecar's class_names")
        for file in sorted(os.listdir(os.path.join(root, name))):
            images.append(np.asarray(Image.open(os.path.join(root, name, file)).convert("RGB"), dtype=np.float32) / 255.0)
            paths.append(f"{name}/{file}")
            labels.append(index[name])
    x = (np.stack(images) - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), np.asarray(labels), paths


def precision(ranked, is_flipped, k):
    top = ranked[:k]
    hits = int(is_flipped[top].sum())
    return hits, len(top), hits / len(top) if len(top) else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--sidecar", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--flipped", required=True)
    parser.add_argument("--probs-out", default="/tmp/dyn_ckpt/last_probs.csv")
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()

    with open(args.sidecar) as f:
        sidecar = json.load(f)
    class_names = sidecar["class_names"]
    x, labels, paths = load_folder(args.root, class_names, sidecar["mean"], sidecar["std"])

    started = time.time()
    model = torch.jit.load(args.model).eval()
    with torch.no_grad():
        pred_probs = torch.cat([torch.softmax(model(b), dim=1) for b in x.split(args.batch)]).double().numpy()
    print(f"{len(labels)} images, {len(class_names)} classes; inference {time.time() - started:.1f} s")
    accuracy = float((pred_probs.argmax(1) == labels).mean())
    print(f"accuracy on given labels: {accuracy:.4f}")

    os.makedirs(os.path.dirname(os.path.abspath(args.probs_out)), exist_ok=True)
    with open(args.probs_out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path"] + [f"p_{i}" for i in range(len(class_names))])
        for path, row in zip(paths, pred_probs):
            writer.writerow([path] + [f"{p:.6g}" for p in row])

    with open(args.flipped, newline="") as f:
        flipped_rows = list(csv.DictReader(f))
    flipped_paths = {row["path"] for row in flipped_rows}
    # <given>/<original>__<file>  <->  <original>/<file>
    source = [p.split("/", 1)[1].replace("__", "/", 1) for p in paths]
    is_flipped = np.array([s in flipped_paths for s in source])
    k = len(flipped_rows)
    if int(is_flipped.sum()) != k:
        print(f"warning: {k} rows in {args.flipped} but {int(is_flipped.sum())} matched files under {args.root}")
    original = {row["path"]: class_names.index(row["original"]) for row in flipped_rows}
    predicted = pred_probs.argmax(1)
    back = sum(predicted[i] == original[source[i]] for i in np.flatnonzero(is_flipped))
    print(f"K = {k} flipped; the model predicts the original class for {back} of them, "
          f"the given (flipped) class for {int((predicted[is_flipped] == labels[is_flipped]).sum())}")

    from cleanlab.filter import find_label_issues

    started = time.time()
    ranked = np.asarray(find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence"))
    cleanlab_seconds = time.time() - started
    print(f"cleanlab find_label_issues: {cleanlab_seconds:.2f} s wall")
    flagged = len(ranked)
    hits_all = int(is_flipped[ranked].sum())
    print(f"cleanlab flags {flagged} issues; {hits_all} of them flipped "
          f"(precision {hits_all / max(flagged, 1):.4f}, recall {hits_all / max(k, 1):.4f})")
    hits, n, p = precision(ranked, is_flipped, k)
    label = f"top {k}" if flagged >= k else f"all {flagged} flagged (fewer than K={k})"
    print(f"cleanlab precision@K: {hits}/{n} = {p:.4f} ({label})")

    p_given = pred_probs[np.arange(len(labels)), labels]
    lowest = np.argsort(p_given, kind="stable")
    hits, n, p = precision(lowest, is_flipped, k)
    print(f"lowest p(given) precision@K: {hits}/{n} = {p:.4f}")
    if flagged < k:
        hits, n, p = precision(lowest, is_flipped, flagged)
        print(f"lowest p(given) precision@{flagged} (cleanlab's flagged count): {hits}/{n} = {p:.4f}")
    print(f"probabilities written to {args.probs_out}")


if __name__ == "__main__":
    main()
