#!/usr/bin/env python3
"""Trains a small CIFAR-10 CNN for a few minutes and saves it as TorchScript, with its
preprocess.json, for `eyeball bench inference` and scripts/bench_inference.py. Not committed:

    python scripts/train_cifar_bench_model.py ../shared/data/cifar10/train --out /tmp/cifar_bench
"""

import argparse
import json
import os
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
    classes = sorted(os.listdir(root))
    xs, ys = [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(root, name)))[:per_class]:
            xs.append(np.asarray(Image.open(os.path.join(root, name, file)).convert("RGB"), dtype=np.float32) / 255.0)
            ys.append(label)
    x = (torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2) - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x.contiguous(), torch.tensor(ys), classes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("--out", default="/tmp/cifar_bench")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--flip", action="store_true", help="random horizontal flips")
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y, classes = load(args.train, args.per_class)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started, epoch = time.time(), 0
    while time.time() - started < args.seconds:
        model.train()
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
        print(f"epoch {epoch}: {time.time() - started:.0f} s")
    os.makedirs(args.out, exist_ok=True)
    model.eval()
    torch.jit.trace(model, torch.zeros(1, 3, 32, 32)).save(os.path.join(args.out, "cifar_cnn.pt"))
    sidecar = {"input_size": [32, 32], "channels": 3, "scale": 255.0, "mean": MEAN, "std": STD, "class_names": classes}
    with open(os.path.join(args.out, "preprocess.json"), "w") as f:
        json.dump(sidecar, f, indent=2)


if __name__ == "__main__":
    main()
