#!/usr/bin/env python3
"""Compares `eyeball predict --all` with scripts/pytorch_reference.py on the same files, number
for number (the input-parity measurement in the README). Standard library only:

    python3 scripts/compare_predictions.py EYEBALL.csv PYTORCH.csv

Prints, per checkpoint in EYEBALL.csv, the examples compared, max |Δ p(label)| and how many
arg-max predictions differ; exits 1 when any example is missing from either side.
"""

import csv
import sys
from collections import defaultdict


def main():
    eyeball_csv, torch_csv = sys.argv[1:3]
    with open(torch_csv, newline="") as f:
        reference = {row["path"]: row for row in csv.DictReader(f)}
    per_checkpoint = defaultdict(dict)
    with open(eyeball_csv, newline="") as f:
        for row in csv.DictReader(f):
            per_checkpoint[row["checkpoint"]][row["path"]] = row
    missing = False
    for checkpoint, rows in per_checkpoint.items():
        only_eyeball = rows.keys() - reference.keys()
        only_torch = reference.keys() - rows.keys()
        max_dp, worst, argmax_diff = 0.0, None, 0
        for path in rows.keys() & reference.keys():
            ours, theirs = rows[path], reference[path]
            dp = abs(float(ours["p_label"]) - float(theirs["p_label"]))
            if dp > max_dp:
                max_dp, worst = dp, path
            argmax_diff += ours.get("predicted_name", ours["predicted"]) != theirs["predicted"]
        print(
            f"{checkpoint}: {len(rows.keys() & reference.keys())} examples, "
            f"max |dp(label)| {max_dp:.3g} ({worst}), arg-max differences {argmax_diff}, "
            f"only in eyeball {len(only_eyeball)}, only in PyTorch {len(only_torch)}"
        )
        missing |= bool(only_eyeball or only_torch)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
