"""The datasets pytorch_validate.nn trains and evaluates net on, built as nnc builds
them (written by nnc, --target pytorch). load("NAME") returns float32 tensors
(x, y); a split dataset also has NAME.train and NAME.test.
"""
import functools
import math
import os

import numpy as np
import torch

# The folder of the .nn file when the package was written: csv paths are
# relative to it. Elsewhere, pass --data-root to train.py.

# One row of x as the model reads it: its features in row-major order.
INPUT_SHAPE = (2,)


MASK64 = (1 << 64) - 1


def splitmix64(state):
    """One step of splitmix64: (the next state, the output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) & MASK64) | (x >> (64 - k))


class Xoroshiro128Plus:
    """The generator of nnc's split shuffle (src/front/lower_data.c), bit for
    bit, so that every machine puts the same rows in NAME.train."""

    def __init__(self, seed):
        seed, self.s0 = splitmix64(seed)
        seed, self.s1 = splitmix64(seed)

    def next(self):
        s0, s1 = self.s0, self.s1
        result = (s0 + s1) & MASK64
        s1 ^= s0
        self.s0 = rotl(s0, 24) ^ s1 ^ ((s1 << 16) & MASK64)
        self.s1 = rotl(s1, 37)
        return result

    def below(self, bound):
        """Uniform in [0, bound) without modulo bias."""
        threshold = ((1 << 64) - bound) % bound
        while True:
            x = self.next()
            if x >= threshold:
                return x % bound


def split_rows(name, x, y, split, seed):
    """NAME.train and NAME.test, and NAME.valid when split is the pair (train,
    valid) of split = [train, valid, test]: the rows shuffled (Fisher-Yates
    from the last row down), then the first round(rows * train) to train, the
    next round(rows * valid) to valid, the rest to test."""
    rows = len(x)
    fractions = split if isinstance(split, tuple) else (split,)
    names = ("train", "valid", "test") if len(fractions) == 2 else ("train", "test")
    sizes = [math.floor(rows * f + 0.5) for f in fractions]
    sizes.append(rows - sum(sizes))
    for part, n in zip(names, sizes):
        if n <= 0:
            raise ValueError(f"dataset {name}: split {split} of {rows} rows leaves the "
                             f"{part} part empty")
    rng = Xoroshiro128Plus(seed)
    order = list(range(rows))
    for i in range(rows - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    x = x[order]
    y = None if y is None else y[order]
    parts, start = {}, 0
    for part, n in zip(names, sizes):
        rows_of = slice(start, start + n)
        parts[f"{name}.{part}"] = (x[rows_of], None if y is None else y[rows_of])
        start += n
    return parts


def prepare(name, x, y, scale=None, split=None, seed=0, normalize=None):
    """scale, split and normalize in nnc's order. Returns {name: (x, y)} and,
    with a split, NAME.train and NAME.test; normalize uses the statistics of
    the training rows only, so nothing about the test rows leaks into training."""
    x = np.array(x, dtype=np.float32).reshape(len(x), -1)
    y = None if y is None else np.array(y, dtype=np.float32).reshape(len(x), -1)
    if scale is not None:
        x = (x.astype(np.float64) * scale).astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"dataset {name}: scale makes x overflow a float")
    parts = {name: (x, y)}
    if split is not None:
        parts.update(split_rows(name, x, y, split, seed))
    if normalize is not None:
        rows = parts[name + ".train"][0] if split is not None else x
        shift, div = norm_stats(rows, normalize)
        parts = {k: (norm_apply(px, shift, div), py) for k, (px, py) in parts.items()}
    return parts


@functools.lru_cache(maxsize=None)
def load_pts(data_root):
    """dataset pts: 10 inline rows, split (seed 5)."""
    x = [[0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
        [0.5, 0.5],
        [0.25, 0.75],
        [0.75, 0.25],
        [0.1, 0.9],
        [0.9, 0.1],
        [0.3, 0.3]]
    y = [0, 1, 1, 0, 0, 1, 1, 1, 1, 0]
    return prepare("pts", x, y, split=(0.6, 0.2), seed=5)


LOADERS = {"pts": load_pts}


def load(name, data_root=DATA_ROOT):
    """The dataset name ("digits.train" for a split part) as float32 tensors
    (x, y): x is [rows, *INPUT_SHAPE], each row's features in row-major order
    (what x.view(-1, *INPUT_SHAPE) gives), y is [rows, targets] or None."""
    x, y = LOADERS[name.split(".")[0]](data_root)[name]
    x = torch.from_numpy(x.copy()).reshape(len(x), *INPUT_SHAPE)
    return x, None if y is None else torch.from_numpy(y.copy())
