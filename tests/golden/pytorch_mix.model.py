"""mixnet from pytorch_mix.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (39 parameters in all):
    hidden.weight [4, 2], hidden.bias [4]
    gate.weight [3, 4], gate.bias [3]
    out.weight [3, 3], out.bias [3]
"""
import torch
from torch import nn


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
