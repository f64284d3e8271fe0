"""The datasets pytorch_step.nn trains and evaluates stepnet on, built as nnc builds
them (written by nnc, --target pytorch). load("NAME") returns float32 tensors
(x, y); a split dataset also has NAME.train and NAME.test.
"""
from fractions import Fraction
import functools
import os
import re
import warnings

import numpy as np
import torch

# The folder of the .nn file when the package was written: csv paths are
# relative to it. Elsewhere, pass --data-root to train.py.

# One row of x as the model reads it: its features in row-major order.
INPUT_SHAPE = (2,)


# The decimal syntax nnc's CSV reader accepts: no nan, inf, hex or '_'.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A character no number, separator or blank of that syntax has.
UNUSUAL = re.compile(r"[^0-9eE+\-., \t]")


def to_float32(d, text_at):
    """d, each decimal text correctly rounded to float64, as float32 correctly
    rounded from the texts, as nnc reads them. The two roundings differ only
    when the float64 lands exactly halfway between two float32s; those few are
    decided exactly from text_at(row, col)."""
    with np.errstate(over="ignore"):
        f = d.astype(np.float32)
    back = f.astype(np.float64)
    toward = np.where(d > back, np.inf, -np.inf).astype(np.float32)
    other = np.nextafter(f, toward)
    for r, c in zip(*np.nonzero((back != d) & ((back + other) / 2 == d))):
        exact, half = Fraction(text_at(r, c)), Fraction(d[r, c])
        if exact != half:
            f[r, c] = max(f[r, c], other[r, c]) if exact > half else min(f[r, c], other[r, c])
    return f


def read_lines(path):
    """The file's lines without their ends (\n or \r\n) or a UTF-8 byte-order mark."""
    with open(path, "rb") as f:
        text = f.read().decode("latin-1")
    if text.startswith("\xef\xbb\xbf"):
        text = text[3:]
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def fields_of(line):
    return [field.strip(" \t") for field in line.split(",")]


def header_lines(lines, header):
    """1 when the first line is a header (header True, or header None and one
    of its fields is not a number), else 0."""
    first = fields_of(lines[0])
    return int(bool(header or (header is None and any(s and not NUMBER.fullmatch(s)
                                                      for s in first))))


def parse_exact(path, lines, skip, width):
    """The rows field by field, by nnc's rules: spaces and tabs around fields
    ignored, blank lines only at the end, every row as long as the first.
    Raises ValueError naming the line of the first problem."""
    rows, blank = [], None
    for number, line in enumerate(lines[skip:], skip + 1):
        if not line.strip(" \t"):
            blank = blank or number
            continue
        if blank:
            raise ValueError(f"{path}:{blank}: blank line; blank lines are allowed only at the end")
        fields = fields_of(line)
        if len(fields) != width:
            raise ValueError(f"{path}:{number}: {len(fields)} fields, expected {width}")
        for s in fields:
            if not NUMBER.fullmatch(s):
                raise ValueError(f"{path}:{number}: '{s}' is not a number")
        rows.append(fields)
    d = np.array([[float(s) for s in row] for row in rows], dtype=np.float64)
    return to_float32(d.reshape(len(rows), width), lambda r, c: rows[r][c])


def parse_fast(lines, skip, width):
    """All rows at once with NumPy's C parser (strtod: correctly rounded), or
    None when any line looks unusual; parse_exact then finds the problem."""
    body = lines[skip:]
    while body and not body[-1].strip(" \t"):
        body.pop()
    if not body or any(line.count(",") != width - 1 for line in body):
        return None
    text = ",".join(body)
    if UNUSUAL.search(text):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a field it cannot read ends the array early
        d = np.fromstring(text, dtype=np.float64, sep=",")
    if d.size != len(body) * width:
        return None
    return to_float32(d.reshape(len(body), width),
                      lambda r, c: fields_of(body[r])[c])


def read_table(path, header):
    """The data rows of a CSV file as a float32 array, read as nnc reads it:
    the fast path when every line is plain, else field by field."""
    lines = read_lines(path)
    skip = header_lines(lines, header) if lines[0].strip(" \t") else 0
    width = len(fields_of(lines[0]))
    table = parse_fast(lines, skip, width)
    if table is None:
        table = parse_exact(path, lines, skip, width)
    if len(table) == 0:
        raise ValueError(f"{path}: no data rows")
    return table

def read_csv(path, header=None, target=-1, classes=None):
    """(x, y) from a CSV file: y is the target column (-1: the last), x the
    other columns, both float32."""
    table = read_table(path, header)
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
    (x, y): x is [rows, *INPUT_SHAPE], each row's features in row-major order
    (what x.view(-1, *INPUT_SHAPE) gives), y is [rows, targets] or None."""
    x, y = LOADERS[name.split(".")[0]](data_root)[name]
    x = torch.from_numpy(x.copy()).reshape(len(x), *INPUT_SHAPE)
    return x, None if y is None else torch.from_numpy(y.copy())
