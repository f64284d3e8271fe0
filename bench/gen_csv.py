#!/usr/bin/env python3
"""Writes a large numeric CSV for timing nnc's CSV reader (not committed).

    bench/gen_csv.py OUT.csv [ROWS] [COLS] [--digits N | --g9]

Default: 200000 rows x 65 columns, 64 features with 5 decimals in [0, 1)
and an integer label 0..9 last: about 107 MB. --g9 writes every feature as
'%.9g' of a random float instead (the exact, slower parsing path).
"""
import random
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    g9 = "--g9" in sys.argv
    out = args[0]
    rows = int(args[1]) if len(args) > 1 else 200000
    cols = int(args[2]) if len(args) > 2 else 65
    rng = random.Random(0)
    with open(out, "w") as f:
        for _ in range(rows):
            if g9:
                feats = ["%.9g" % rng.uniform(-100, 100) for _ in range(cols - 1)]
            else:
                feats = ["%.5f" % rng.random() for _ in range(cols - 1)]
            f.write(",".join(feats) + ",%d\n" % rng.randrange(10))


if __name__ == "__main__":
    main()
