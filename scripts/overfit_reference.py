#!/usr/bin/env python3
"""The overfit-one-batch check in PyTorch, to compare with eyeball's (README, "Recipe checks").

    python scripts/overfit_reference.py CHECKPOINT.pt DATA IMG [IMG ...] [--preprocess preprocess.json]

IMG are paths relative to DATA, labelled by their class folder (as `eyeball check` names them in
the overfit explanation). Like eyeball: eval mode, Adam (betas 0.9/0.999, eps 1e-8), at most 300
steps at 1e-3 and then 1e-2, stop once the mean loss is below 0.01 with every example right.
Supports the stretch resize and per-channel mean/std of preprocess.json. Needs torch, numpy, Pillow.
"""

import argparse
import json
import os

import numpy as np
import torch
from PIL import Image


def load(data, rel, pre):
    h, w = pre["input_size"]
    image = Image.open(os.path.join(data, rel)).convert("L" if pre["channels"] == 1 else "RGB")
    x = np.asarray(image.resize((w, h), Image.BILINEAR), dtype=np.float32) / pre.get("scale", 255.0)
    x = torch.from_numpy(x).reshape(h, w, -1).permute(2, 0, 1)
    mean = torch.tensor(pre["mean"]).view(-1, 1, 1)
    std = torch.tensor(pre["std"]).view(-1, 1, 1)
    return (x - mean) / std


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("data")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--preprocess")
    args = parser.parse_args()
    sidecar = args.preprocess or os.path.join(os.path.dirname(args.checkpoint), "preprocess.json")
    pre = json.load(open(sidecar))
    names = pre.get("class_names")
    x = torch.stack([load(args.data, rel, pre) for rel in args.images])
    folders = [os.path.basename(os.path.dirname(rel)) for rel in args.images]
    y = torch.tensor([names.index(f) if names else int(f) for f in folders])
    for lr in (1e-3, 1e-2):
        model = torch.jit.load(args.checkpoint).eval()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            print("no trainable parameters")
            return
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
        for step in range(301):
            out = model(x)
            loss = torch.nn.functional.cross_entropy(out, y)
            right = int((out.argmax(1) == y).sum())
            if (loss.item() < 0.01 and right == len(y)) or step == 300:
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
        verdict = "PASS" if loss.item() < 0.01 and right == len(y) else "FAIL"
        print(f"{verdict} lr {lr:g}: {step} steps, loss {loss.item():.4f}, {right}/{len(y)} right")
        if verdict == "PASS":
            return


if __name__ == "__main__":
    main()
