"""fit from pytorch_decay.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (2 values in all; batchnorm's running
statistics and batch count are buffers, as in nnc):
    out.weight [1, 1], out.bias [1]

Its input: x of shape [N, 1], rows after the dataset's preprocessing as
data.load returns them; preprocess(raw) makes it from raw feature rows (the
dataset's values as written, before scale and normalize).
"""
import torch
from torch import nn


# The input preprocessing of dataset line (the train block's):
# nnc applies it to every row before the model sees it, and so does data.load.
FEATURES = 1  # numbers per raw row (a CSV row without its target)
INPUT_SHAPE = (1,)  # one row as the model reads it (channels first)


def preprocess(raw):
    """The model's input [N, *INPUT_SHAPE] from raw feature rows, [N, FEATURES]
    or one row [FEATURES] (the dataset's values as written: a CSV row without
    its target, as float32), built as nnc builds its rows, bit for bit:
      the row reshaped to INPUT_SHAPE (row-major, channels first)."""
    x = torch.as_tensor(raw, dtype=torch.float32).reshape(-1, FEATURES)
    return x.reshape(-1, *INPUT_SHAPE)


class fit(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(1, 1)

    def forward(self, x):
        x = self.out(x)
        return x
