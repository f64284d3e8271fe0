"""stepnet from pytorch_step.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (9 values in all; batchnorm's running
statistics and batch count are buffers, as in nnc):
    thresholds.weight [2, 2], thresholds.bias [2]
    out.weight [1, 2], out.bias [1]

Its input: x of shape [N, 2], rows after the dataset's preprocessing as
data.load returns them; preprocess(raw) makes it from raw feature rows (the
dataset's values as written, before scale and normalize).
"""
import torch
from torch import nn


class StepFunction(torch.autograd.Function):
    """The perceptron's step: 1 if z > 0 else 0. Its gradient is 0, as in nnc,
    so the layers below a step do not learn by gradient descent."""

    @staticmethod
    def forward(ctx, z):
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        return torch.zeros_like(grad)


# The input preprocessing of dataset gates (the train block's):
# nnc applies it to every row before the model sees it, and so does data.load.
FEATURES = 2  # numbers per raw row (a CSV row without its target)
INPUT_SHAPE = (2,)  # one row as the model reads it (channels first)


def preprocess(raw):
    """The model's input [N, *INPUT_SHAPE] from raw feature rows, [N, FEATURES]
    or one row [FEATURES] (the dataset's values as written: a CSV row without
    its target, as float32), built as nnc builds its rows, bit for bit:
      the row reshaped to INPUT_SHAPE (row-major, channels first)."""
    x = torch.as_tensor(raw, dtype=torch.float32).reshape(-1, FEATURES)
    return x.reshape(-1, *INPUT_SHAPE)


class stepnet(nn.Module):
    def __init__(self):
        super().__init__()
        self.thresholds = nn.Linear(2, 2)
        self.out = nn.Linear(2, 1)
        # The parameter blocks of the .nn file: starting values.
        with torch.no_grad():
            self.thresholds.weight.copy_(torch.tensor([[1, 1], [1, 1]]))
            self.thresholds.bias.copy_(torch.tensor([-0.5, -1.5]))

    def forward(self, x):
        x = StepFunction.apply(self.thresholds(x))
        x = self.out(x)
        return x
