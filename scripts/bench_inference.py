#!/usr/bin/env python3
"""PyTorch's side of `eyeball bench inference`: the same TorchScript file, batch size, thread
count and images, decoding timed apart from the forward passes. Compare the two outputs:

    eyeball bench inference DATA --checkpoint model.pt --batch-size 256 --threads 2
    python scripts/bench_inference.py DATA --checkpoint model.pt --batch-size 256 --threads 2

Decoding is the usual single-process loop (PIL, then numpy); preprocessing follows the
preprocess.json beside the checkpoint (or --preprocess), as eyeball does. The batch is a
contiguous NCHW tensor, what torch.stack of ToTensor() images gives; --channels-last feeds the
channels-last layout that eyeball uses (same values, faster oneDNN convolutions on CPU).
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
WARMUP_BATCHES = 2  # as eyeball: lets TorchScript's profiling executor optimise first


def image_paths(root):
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                yield os.path.join(folder, name)


def preprocess(path, sidecar):
    height, width = sidecar["input_size"]
    image = Image.open(path).convert("RGB" if sidecar["channels"] == 3 else "L")
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    values = np.asarray(image, dtype=np.float32).reshape(height, width, -1) / sidecar.get("scale", 255.0)
    values = (values - np.array(sidecar["mean"], dtype=np.float32)) / np.array(sidecar["std"], dtype=np.float32)
    return values.transpose(2, 0, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--preprocess")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    sidecar_path = args.preprocess or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "preprocess.json")
    with open(sidecar_path) as f:
        sidecar = json.load(f)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = torch.jit.load(args.checkpoint, map_location=device).eval()

    started = time.perf_counter()
    x = torch.from_numpy(np.stack([preprocess(p, sidecar) for p in image_paths(args.path)]))
    # np.stack keeps the transposed (channels-last) strides of the HWC images: choose explicitly.
    x = x.contiguous(memory_format=torch.channels_last if args.channels_last else torch.contiguous_format)
    decode_s = time.perf_counter() - started

    batches = list(x.split(args.batch_size))
    with torch.no_grad():
        for _ in range(WARMUP_BATCHES):
            model(batches[0].to(device)).argmax(1).cpu()
        started = time.perf_counter()
        for batch in batches:
            model(batch.to(device)).argmax(1).cpu()
        forward_s = time.perf_counter() - started

    n = len(x)
    print(f"checkpoint: {args.checkpoint}\ndevice:     {device} ({torch.get_num_threads()} threads), PyTorch {torch.__version__}")
    layout = "channels-last" if args.channels_last else "contiguous NCHW"
    print(f"images:     {n}\nbatch size: {args.batch_size}, threads: {args.threads}, input {layout}")
    print(f"decode+preprocess: {decode_s:.2f} s  {n / decode_s:.0f} images/s")
    print(f"forward:           {forward_s:.2f} s  {n / forward_s:.0f} images/s")
    print(f"total:             {decode_s + forward_s:.2f} s  {n / (decode_s + forward_s):.0f} images/s")


if __name__ == "__main__":
    main()
