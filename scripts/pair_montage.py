#!/usr/bin/env python3
"""Draws image pairs from a CSV side by side in one PNG, for looking at duplicate candidates:

    python scripts/pair_montage.py ROOT PAIRS.csv OUT.png [--first 50 | --random 100 --seed 0] [--cols 5] [--scale 3]

PAIRS.csv needs columns a and b (image paths relative to ROOT); score and detail are shown when
present (without detail, kind and strength are, as in plant_duplicates.py's truth CSV). Each image
fits a (32*scale)-pixel square keeping its aspect, enlarged with nearest-neighbour or reduced with
Lanczos; its size is printed when the two sizes differ. Under each pair: the CSV row number
(1 = first data row), then the two names shortened to class/file. --first N takes the first N
rows (default 50), --random N a seeded random sample of N rows, kept in file order.
"""

import argparse
import csv
import os
import random

from PIL import Image, ImageDraw, ImageFont

GAP = 2  # separator between the two images of a pair
MARGIN = 6  # around each pair
LINE = 12  # caption line height
BACKGROUND, SEPARATOR, TEXT, MISSING = (255, 255, 255), (160, 160, 160), (0, 0, 0), (255, 200, 200)


def fit(path, box):
    """The image fitted into a box x box square (nearest when enlarging), or None if unreadable."""
    try:
        with Image.open(path) as src:
            img = src.convert("RGB")
    except (OSError, ValueError):
        return None, None
    size = img.size
    factor = min(box / img.width, box / img.height)
    new = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(new, Image.NEAREST if factor >= 1 else Image.LANCZOS), size


def short(path):
    return "/".join(path.replace("\\", "/").split("/")[-2:])


def clip(text, font, width):
    """Text shortened in the middle with '...' to fit width pixels."""
    if font.getlength(text) <= width:
        return text
    keep = len(text)
    while keep > 1 and font.getlength(text[: (keep + 1) // 2] + "..." + text[len(text) - keep // 2:]) > width:
        keep -= 1
    return text[: (keep + 1) // 2] + "..." + text[len(text) - keep // 2:]


def captions(number, row, sizes):
    head = f"#{number}"
    if row.get("score", "") != "":
        head += f"  score {row['score']}"
    lines = [head]
    detail = row.get("detail") or " ".join(row[k] for k in ("kind", "strength") if row.get(k))
    if detail:
        lines.append(detail)
    sa, sb = sizes
    lines.append("a " + short(row["a"]) + (f" {sa[0]}x{sa[1]}" if sa and sb and sa != sb else ""))
    lines.append("b " + short(row["b"]) + (f" {sb[0]}x{sb[1]}" if sa and sb and sa != sb else ""))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root")
    parser.add_argument("pairs")
    parser.add_argument("out")
    pick = parser.add_mutually_exclusive_group()
    pick.add_argument("--first", type=int, help="the first N rows (default 50)")
    pick.add_argument("--random", type=int, help="a random sample of N rows")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    parser.add_argument("--cols", type=int, default=5, help="pairs per row (default 5)")
    parser.add_argument("--scale", type=int, default=3, help="box side = 32 * scale (default 3)")
    args = parser.parse_args()

    with open(args.pairs, newline="") as f:
        reader = csv.DictReader(f)
        if not {"a", "b"} <= set(reader.fieldnames or []):
            raise SystemExit(f"{args.pairs} needs columns a and b, has {reader.fieldnames}")
        rows = list(enumerate(reader, start=1))
    if args.random is not None:
        rows = sorted(random.Random(args.seed).sample(rows, min(args.random, len(rows))), key=lambda r: r[0])
    else:
        rows = rows[: 50 if args.first is None else args.first]
    if not rows:
        raise SystemExit("no pairs to draw")

    font = ImageFont.load_default()
    box = 32 * args.scale
    pair_w = 2 * box + GAP
    cell_w = pair_w + 2 * MARGIN
    cells = []
    for number, row in rows:
        (img_a, size_a), (img_b, size_b) = (fit(os.path.join(args.root, row[k]), box) for k in ("a", "b"))
        cells.append((img_a, img_b, captions(number, row, (size_a, size_b))))
    cell_h = MARGIN + box + 4 + LINE * max(len(c[2]) for c in cells) + MARGIN
    cols = max(1, min(args.cols, len(cells)))
    grid_rows = -(-len(cells) // cols)
    sheet = Image.new("RGB", (cols * cell_w, grid_rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (img_a, img_b, lines) in enumerate(cells):
        x0, y0 = (i % cols) * cell_w + MARGIN, (i // cols) * cell_h + MARGIN
        draw.rectangle([x0 + box, y0, x0 + box + GAP - 1, y0 + box - 1], fill=SEPARATOR)
        for img, left in ((img_a, x0), (img_b, x0 + box + GAP)):
            if img is None:
                draw.rectangle([left, y0, left + box - 1, y0 + box - 1], fill=MISSING)
                draw.text((left + 4, y0 + box // 2 - 6), "unreadable", fill=TEXT, font=font)
            else:  # centred in its box
                sheet.paste(img, (left + (box - img.width) // 2, y0 + (box - img.height) // 2))
        for k, text in enumerate(lines):
            draw.text((x0, y0 + box + 4 + k * LINE), clip(text, font, pair_w), fill=TEXT, font=font)
        if i % cols:  # thin line between cells
            draw.line([(x0 - MARGIN, y0 - MARGIN), (x0 - MARGIN, y0 - MARGIN + cell_h - 1)], fill=(225, 225, 225))
        if i >= cols:
            draw.line([(x0 - MARGIN, y0 - MARGIN), (x0 - MARGIN + cell_w - 1, y0 - MARGIN)], fill=(225, 225, 225))
    sheet.save(args.out)
    print(f"{len(cells)} pairs -> {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
