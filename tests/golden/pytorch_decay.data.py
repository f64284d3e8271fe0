"""The datasets pytorch_decay.nn trains and evaluates fit on, built as nnc builds
them (written by nnc, --target pytorch). load("NAME") returns float32 tensors
(x, y); a split dataset also has NAME.train and NAME.test.
"""
import functools
import os

import numpy as np
import torch

# The folder of the .nn file when the package was written: csv paths are
# relative to it. Elsewhere, pass --data-root to train.py.

# One row of x as the model reads it: its features in row-major order.
INPUT_SHAPE = (1,)


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
def load_line(data_root):
    """dataset line: 6 inline rows."""
    x = [[0], [1], [2], [3], [4], [5]]
    y = [0.1, 1.1, 1.9, 3.2, 3.9, 5.1]
    return prepare("line", x, y)


@functools.lru_cache(maxsize=None)
def load_check(data_root):
    """dataset check: 3 inline rows."""
    x = [[0.5], [2.5], [4.5]]
    y = [0.5, 2.5, 4.5]
    return prepare("check", x, y)


LOADERS = {"line": load_line, "check": load_check}


def load(name, data_root=DATA_ROOT):
    """The dataset name ("digits.train" for a split part) as float32 tensors
    (x, y): x is [rows, *INPUT_SHAPE], each row's features in row-major order
    (what x.view(-1, *INPUT_SHAPE) gives), y is [rows, targets] or None."""
    x, y = LOADERS[name.split(".")[0]](data_root)[name]
    x = torch.from_numpy(x.copy()).reshape(len(x), *INPUT_SHAPE)
    return x, None if y is None else torch.from_numpy(y.copy())
