"""tilenet from pytorch_graph.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (77 values in all; batchnorm's running
statistics and batch count are buffers, as in nnc):
    stem.weight [2, 1, 3, 1], stem.bias [2]
    dw.weight [2, 1, 3, 3]
    bn.weight [2], bn.bias [2], bn.running_mean [2], bn.running_var [2], bn.num_batches_tracked []
    norm.weight [4], norm.bias [4], norm.running_mean [4], norm.running_var [4], norm.num_batches_tracked []
    probe.weight [3, 4], probe.bias [3]
    out.weight [2, 4], out.bias [2]

Its input: x of shape [N, 1, 4, 4], rows after the dataset's preprocessing as
data.load returns them; preprocess(raw) makes it from raw feature rows (the
dataset's values as written, before scale and normalize).
"""
import torch
from torch import nn


# The input preprocessing of dataset tiles (the train block's):
# nnc applies it to every row before the model sees it, and so does data.load.
FEATURES = 16  # numbers per raw row (a CSV row without its target)
INPUT_SHAPE = (1, 4, 4)  # one row as the model reads it (channels first)
SCALE = 0.25  # scale
# normalize = standard (mean, standard deviation),
# with the statistics of the dataset's rows:
NORM_SHIFT = [1.125, 1.25, 1.125, 1.25,
    1.0, 1.125, 1.0, 1.125,
    1.125, 1.25, 1.125, 1.25,
    1.0, 1.125, 1.0, 1.125]
NORM_DIV = [1.5461646096066226, 1.3110110602126894, 1.2562344526401112, 1.015504800579495,
    1.0752906583803283, 0.875, 0.9185586535436918, 0.7603453162872774,
    0.8003905296791061, 0.6846531968814576, 0.9100137361600648, 0.8838834764831844,
    1.1858541225631423, 1.231107225224513, 1.4469796128487782, 1.5258194519667128]


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


class tilenet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, kernel_size=(3, 1), padding=(1, 0))
        self.dw = nn.Conv2d(2, 2, kernel_size=3, padding=2, dilation=2, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(2, eps=0.001, momentum=0.2)
        self.x = nn.MaxPool2d(2, padding=1)
        self.side = nn.AvgPool2d(2, padding=1)
        self.gmax = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.norm = nn.BatchNorm1d(4)
        self.probe = nn.Linear(4, 3)
        self.out = nn.Linear(4, 2)
        # The parameter blocks of the .nn file: starting values.
        with torch.no_grad():
            self.stem.weight.copy_(torch.tensor([[0.5, -0.25, 1], [0.125, 2, -1]]).view(2, 1, 3, 1))
            self.stem.bias.copy_(torch.tensor([0, 0.5]))
            self.bn.running_mean.copy_(torch.tensor([0.5, -0.5]))
        self.bn.requires_grad_(False)  # frozen = true
        # The output does not depend on probe: its gradient is 0 in nnc, and
        # DistributedDataParallel wants every trained parameter used.
        self.probe.requires_grad_(False)

    def forward(self, x):
        stem = torch.relu(self.stem(x))
        x = self.dw(stem)
        x = torch.relu(self.bn(x))
        lambda_ = stem + x
        x_ = self.x(lambda_)
        x = self.side(lambda_)
        x = torch.tanh(torch.cat([x_, x], dim=1))
        gmax = self.gmax(x)
        norm = self.norm(gmax)
        x = self.probe(gmax)
        x = self.out(norm)
        return x
