"""XORLogits from pytorch_logits.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (17 parameters in all):
    layer1.weight [4, 2], layer1.bias [4]
    layer2.weight [1, 4], layer2.bias [1]
"""
import torch
from torch import nn


class XORLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(2, 4)
        self.layer2 = nn.Linear(4, 1)

    def forward(self, x):
        x = torch.relu(self.layer1(x))
        x = self.layer2(x)
        return x
