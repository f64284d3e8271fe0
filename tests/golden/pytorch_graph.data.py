"""The datasets pytorch_graph.nn trains and evaluates tilenet on, built as nnc builds
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
INPUT_SHAPE = (1, 4, 4)


def norm_stats(x, how):
    """Per column (shift, div): the minimum and max - min (minmax), or the mean
    and the standard deviation (standard), summed row by row in float64 as nnc
    does (cumsum keeps that order; sum would not)."""
    v = x.astype(np.float64)
    if how == "minmax":
        return v.min(axis=0), v.max(axis=0) - v.min(axis=0)
    mean = np.cumsum(v, axis=0)[-1] / len(v)
    return mean, np.sqrt(np.cumsum((v - mean) ** 2, axis=0)[-1] / len(v))


def norm_apply(x, shift, div):
    """(x - shift) / div per column; a constant column (div 0) becomes 0."""
    out = np.zeros(x.shape)
    np.divide(x.astype(np.float64) - shift, div, out=out, where=div > 0)
    return out.astype(np.float32)


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
def load_tiles(data_root):
    """dataset tiles: 4 inline rows, classes 2, scale, normalize standard."""
    x = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1e+01, 11, 12, 13, 14, 15],
        [15, 14, 13, 12, 11, 1e+01, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
        [0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2],
        [3, 3, 3, 3, 1, 1, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1]]
    y = [0, 1, 1, 0]
    return prepare("tiles", x, y, scale=0.25, normalize="standard")


LOADERS = {"tiles": load_tiles}


def load(name, data_root=DATA_ROOT):
    """The dataset name ("digits.train" for a split part) as float32 tensors
    (x, y): x is [rows, *INPUT_SHAPE], each row's features in row-major order
    (what x.view(-1, *INPUT_SHAPE) gives), y is [rows, targets] or None."""
    x, y = LOADERS[name.split(".")[0]](data_root)[name]
    x = torch.from_numpy(x.copy()).reshape(len(x), *INPUT_SHAPE)
    return x, None if y is None else torch.from_numpy(y.copy())
