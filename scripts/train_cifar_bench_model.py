#!/usr/bin/env python3
"""Trains a small CIFAR-10 CNN and saves it as TorchScript, with its preprocess.json, for
`eyeball bench inference`, scripts/bench_inference.py and the training-dynamics label-error
rankings. Not committed. By default it trains for `--seconds` (120) and writes OUT/cifar_cnn.pt:

    python scripts/train_cifar_bench_model.py ../shared/data/cifar10/train --out /tmp/cifar_bench

Options for training-dynamics runs:
  --epochs N            train exactly N epochs instead of the --seconds budget.
  --save-every-epoch    after each epoch also save the model (eval mode, torch.jit.trace) as
                        OUT/epoch_NN.pt (01..N), then go on training.
  --flip-fraction F     before training, flip round(F * n) of the loaded labels, each to a uniformly
  --seed S              random other class, chosen with numpy.random.default_rng(S) (S defaults to 0);
                        train on the flipped labels and write OUT/flipped.csv (path,original,given;
                        path relative to the train root, e.g. cat/0012.jpg).
  --dataset-out DIR     write an ImageFolder of exactly the training examples used (the --per-class
                        subset) with the labels trained on: DIR/<given class>/<original class>__<file>
                        is a symlink to the real file (absolute target). DIR must be absent, empty or
                        a folder this option wrote before (it is then rewritten).

    python scripts/train_cifar_bench_model.py ../shared/data/cifar10/train --out /tmp/dyn_ckpt \\
        --per-class 1000 --epochs 12 --save-every-epoch --flip-fraction 0.08 --seed 0 \\
        --dataset-out /tmp/dyn_train --flip
"""

import argparse
import csv
import json
import os
import shutil
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def load(root, per_class):
    """Returns (normalised images, labels, class names, paths relative to root with '/')."""
    classes = sorted(os.listdir(root))
    xs, ys, paths = [], [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(root, name)))[:per_class]:
            xs.append(np.asarray(Image.open(os.path.join(root, name, file)).convert("RGB"), dtype=np.float32) / 255.0)
            ys.append(label)
            paths.append(f"{name}/{file}")
    x = (torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2) - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x.contiguous(), torch.tensor(ys), classes, paths


def flip_labels(y, num_classes, fraction, seed):
    """Flips exactly round(fraction * n) labels, each to a uniformly random other class.
    Returns (new labels, sorted indices flipped)."""
    rng = np.random.default_rng(seed)
    n = len(y)
    count = int(round(fraction * n))
    indices = np.sort(rng.choice(n, size=count, replace=False))
    given = y.clone()
    # An offset in 1..num_classes-1 lands uniformly on each of the other classes.
    offsets = rng.integers(1, num_classes, size=count)
    for i, offset in zip(indices, offsets):
        given[i] = (int(y[i]) + int(offset)) % num_classes
    return given, indices


def write_dataset(out, root, paths, classes, given):
    """ImageFolder of symlinks, DIR/<given class>/<original class>__<file> -> absolute real file."""
    if os.path.exists(out):
        for dirpath, dirnames, filenames in os.walk(out):
            for file in filenames:
                if not os.path.islink(os.path.join(dirpath, file)):
                    raise SystemExit(f"--dataset-out {out} holds a file that is not a symlink ({file}); not touching it")
        shutil.rmtree(out)
    root = os.path.abspath(root)
    for name in classes:
        os.makedirs(os.path.join(out, name))
    for path, label in zip(paths, given.tolist()):
        original, file = path.split("/")
        os.symlink(os.path.join(root, original, file), os.path.join(out, classes[label], f"{original}__{file}"))


def save(model, path):
    model.eval()
    torch.jit.trace(model, torch.zeros(1, 3, 32, 32)).save(path)
    model.train()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("--out", default="/tmp/cifar_bench")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--epochs", type=int, help="train exactly this many epochs (overrides --seconds)")
    parser.add_argument("--flip", action="store_true", help="random horizontal flips")
    parser.add_argument("--save-every-epoch", action="store_true", help="also save OUT/epoch_NN.pt after each epoch")
    parser.add_argument("--flip-fraction", type=float, default=0.0, help="fraction of labels to flip to another class")
    parser.add_argument("--seed", type=int, default=0, help="seed of the label flips")
    parser.add_argument("--dataset-out", help="write an ImageFolder of symlinks with the labels trained on")
    args = parser.parse_args()
    if not 0.0 <= args.flip_fraction <= 1.0:
        parser.error("--flip-fraction must be in [0, 1]")
    torch.manual_seed(0)
    x, y, classes, paths = load(args.train, args.per_class)
    os.makedirs(args.out, exist_ok=True)
    sidecar = {"input_size": [32, 32], "channels": 3, "scale": 255.0, "mean": MEAN, "std": STD, "class_names": classes}
    with open(os.path.join(args.out, "preprocess.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
    if args.flip_fraction > 0:
        original = y
        y, flipped = flip_labels(original, len(classes), args.flip_fraction, args.seed)
        with open(os.path.join(args.out, "flipped.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", "original", "given"])
            for i in flipped:
                writer.writerow([paths[i], classes[int(original[i])], classes[int(y[i])]])
        print(f"flipped {len(flipped)} of {len(y)} labels (seed {args.seed})")
    if args.dataset_out:
        write_dataset(args.dataset_out, args.train, paths, classes, y)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started, epoch = time.time(), 0
    while (epoch < args.epochs) if args.epochs is not None else (time.time() - started < args.seconds):
        model.train()
        epoch_started = time.time()
        for batch in torch.randperm(len(y)).split(128):
            optimizer.zero_grad()
            xb = x[batch]
            if args.flip:
                # Random horizontal flips: cheap augmentation that helps a long run generalise.
                flip = torch.rand(len(batch)) < 0.5
                xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
            F.cross_entropy(model(xb), y[batch]).backward()
            optimizer.step()
        epoch += 1
        took = time.time() - epoch_started
        if args.save_every_epoch:
            save(model, os.path.join(args.out, f"epoch_{epoch:02d}.pt"))
        print(f"epoch {epoch}: {time.time() - started:.0f} s ({took:.1f} s this epoch)", flush=True)
    model.eval()
    torch.jit.trace(model, torch.zeros(1, 3, 32, 32)).save(os.path.join(args.out, "cifar_cnn.pt"))


if __name__ == "__main__":
    main()
