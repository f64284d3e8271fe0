"""net from pytorch_validate.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (17 parameters in all):
    hidden.weight [4, 2], hidden.bias [4]
    out.weight [1, 4], out.bias [1]
"""
import torch
from torch import nn


class net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 4)
        self.out = nn.Linear(4, 1)

    def forward(self, x):
        x = torch.tanh(self.hidden(x))
        x = torch.sigmoid(self.out(x))
        return x
