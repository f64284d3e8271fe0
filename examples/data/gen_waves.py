#!/usr/bin/env python3
"""Writes waves.csv: a small sequence dataset for examples/waves.nn.

Three classes of noisy waveforms, 1 channel x 64 samples per row, then the
label: 0 sine, 1 square, 2 sawtooth, each with a random frequency (1.5 to 4
periods per row), phase and amplitude (0.6 to 1.2) plus Gaussian noise
(sigma 0.25). 300 rows per class, shuffled. Seeded and standard library
only, so `python3 gen_waves.py` always writes the same bytes.
"""
import math
import random
import sys

ROWS_PER_CLASS = 300
LENGTH = 64
SEED = 13


def wave(kind, t):
    """One period's shape at phase t in [0, 1)."""
    if kind == 0:
        return math.sin(2 * math.pi * t)
    if kind == 1:
        return 1.0 if t < 0.5 else -1.0
    return 2.0 * t - 1.0


def row(rng, kind):
    periods = rng.uniform(1.5, 4.0)
    phase = rng.random()
    amp = rng.uniform(0.6, 1.2)
    values = []
    for i in range(LENGTH):
        t = (phase + periods * i / LENGTH) % 1.0
        values.append(amp * wave(kind, t) + rng.gauss(0.0, 0.25))
    return ["%.4f" % v for v in values] + [str(kind)]


def main(path):
    rng = random.Random(SEED)
    rows = [row(rng, k) for k in range(3) for _ in range(ROWS_PER_CLASS)]
    rng.shuffle(rows)
    with open(path, "w", newline="\n") as f:
        for r in rows:
            f.write(",".join(r) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "waves.csv")
