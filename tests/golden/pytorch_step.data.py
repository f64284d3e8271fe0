"""The datasets pytorch_step.nn trains and evaluates stepnet on, built as nnc builds
them (written by nnc, --target pytorch). load("NAME") returns float32 tensors
(x, y); a split dataset also has NAME.train and NAME.test.
"""
from fractions import Fraction
import functools
import os
import re

import numpy as np
import torch

# The folder of the .nn file when the package was written: csv paths are
# relative to it. Elsewhere, pass --data-root to train.py.


# The decimal syntax nnc's CSV reader accepts: no nan, inf, hex or '_'.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def to_float32(texts):
    """Each decimal text correctly rounded to float32, as nnc reads it. Python
    rounds to float64 first; that differs only when the float64 lands exactly
    halfway between two float32s, and those few are decided exactly."""
    d = np.array([[float(s) for s in row] for row in texts], dtype=np.float64)
    with np.errstate(over="ignore"):
        f = d.astype(np.float32)
    back = f.astype(np.float64)
    toward = np.where(d > back, np.inf, -np.inf).astype(np.float32)
    other = np.nextafter(f, toward)
    for r, c in zip(*np.nonzero((back != d) & ((back + other) / 2 == d))):
        exact, half = Fraction(texts[r][c]), Fraction(d[r, c])
        if exact != half:
            f[r, c] = max(f[r, c], other[r, c]) if exact > half else min(f[r, c], other[r, c])
    return f


def read_rows(path, header):
    """The rows of a CSV file as lists of field texts, by nnc's rules: fields
    separated by ',', spaces and tabs around them ignored, \n or \r\n line ends,
    blank lines only at the end, every row as long as the first. The first row
    is a header when header is True or, with header None, when one of its
    fields is not a number."""
    with open(path, "rb") as f:
        lines = f.read().decode("latin-1").split("\n")
    if lines[0].startswith("\xef\xbb\xbf"):  # a UTF-8 byte-order mark
        lines[0] = lines[0][3:]
    rows, width, blank = [], None, None
    for number, line in enumerate(lines, 1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip(" \t"):
            blank = blank or number
            continue
        if blank:
            raise ValueError(f"{path}:{blank}: blank line; blank lines are allowed only at the end")
        fields = [field.strip(" \t") for field in line.split(",")]
        if width is None:
            width = len(fields)
            if header or (header is None and any(s and not NUMBER.fullmatch(s) for s in fields)):
                continue
        if len(fields) != width:
            raise ValueError(f"{path}:{number}: {len(fields)} fields, expected {width}")
        for s in fields:
            if not NUMBER.fullmatch(s):
                raise ValueError(f"{path}:{number}: '{s}' is not a number")
        rows.append(fields)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return rows


def read_csv(path, header=None, target=-1, classes=None):
    """(x, y) from a CSV file: y is the target column (-1: the last), x the
    other columns, both float32."""
    table = to_float32(read_rows(path, header))
    if np.isinf(table).any():
        raise ValueError(f"{path}: a value is out of the range of a 32-bit float")
    cols = table.shape[1]
    col = cols - 1 if target == -1 else target
    if cols < 2 or not 0 <= col < cols:
        raise ValueError(f"{path}: target column {target} does not fit {cols} columns")
    y = table[:, col:col + 1]
    if classes and ((y != np.floor(y)) | (y < 0) | (y >= classes)).any():
        raise ValueError(f"{path}: a label is not an integer in 0..{classes - 1}")
    return np.delete(table, col, axis=1), y


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
def load_gates(data_root):
    """dataset gates: csv "data/pytorch_gates.csv", target 0."""
    x, y = read_csv(os.path.join(data_root, "data/pytorch_gates.csv"), header=None, target=0)
    return prepare("gates", x, y)


LOADERS = {"gates": load_gates}


def load(name, data_root=DATA_ROOT):
    """The dataset name ("digits.train" for a split part) as float32 tensors
    (x, y): x is [rows, inputs], y is [rows, targets] or None."""
    x, y = LOADERS[name.split(".")[0]](data_root)[name]
    return torch.from_numpy(x.copy()), None if y is None else torch.from_numpy(y.copy())
