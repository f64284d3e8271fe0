"""mixnet from pytorch_mix.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (39 values in all; batchnorm's running
statistics and batch count are buffers, as in nnc):
    hidden.weight [4, 2], hidden.bias [4]
    gate.weight [3, 4], gate.bias [3]
    out.weight [3, 3], out.bias [3]

Its input: x of shape [N, 2], rows after the dataset's preprocessing as
data.load returns them; preprocess(raw) makes it from raw feature rows (the
dataset's values as written, before scale and normalize).
"""
import torch
from torch import nn


# The input preprocessing of dataset blobs (the train block's):
# nnc applies it to every row before the model sees it, and so does data.load.
FEATURES = 2  # numbers per raw row (a CSV row without its target)
INPUT_SHAPE = (2,)  # one row as the model reads it (channels first)
SCALE = 0.5  # scale
# normalize = standard (mean, standard deviation),
# with the statistics of the training rows:
NORM_SHIFT = [0.25, 0.08333333333333333]
NORM_DIV = [0.2041241452319315, 0.11785113019775792]


def preprocess(raw):
    """The model's input [N, *INPUT_SHAPE] from raw feature rows, [N, FEATURES]
    or one row [FEATURES] (the dataset's values as written: a CSV row without
    its target, as float32), built as nnc builds its rows, bit for bit:
      x * SCALE in float64, rounded to float32;
      (x - NORM_SHIFT) / NORM_DIV per column in float64, rounded to float32
      (0 where NORM_DIV is 0: a constant column);
      the row reshaped to INPUT_SHAPE (row-major, channels first)."""
    x = torch.as_tensor(raw, dtype=torch.float32).reshape(-1, FEATURES)
    x = (x.double() * SCALE).float()
    shift = torch.tensor(NORM_SHIFT, dtype=torch.float64)
    div = torch.tensor(NORM_DIV, dtype=torch.float64)
    z = (x.double() - shift) / torch.where(div > 0, div, torch.ones_like(div))
    x = torch.where(div > 0, z, torch.zeros_like(z)).float()
    return x.reshape(-1, *INPUT_SHAPE)


class mixnet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 4)
        self.drop = nn.Dropout(0.25)
        self.gate = nn.Linear(4, 3)
        self.out = nn.Linear(3, 3)
        # The parameter blocks of the .nn file: starting values.
        with torch.no_grad():
            self.hidden.bias.copy_(torch.tensor([0.1, 0, 0, -0.1]))
            self.out.weight.copy_(torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]))
            self.out.bias.copy_(torch.tensor([0, 0, 0]))
        self.out.requires_grad_(False)  # frozen = true

    def forward(self, x):
        x = nn.functional.leaky_relu(self.hidden(x), 0.2)
        x = self.drop(x)
        x = torch.tanh(self.gate(x))
        x = self.out(x)
        return x
