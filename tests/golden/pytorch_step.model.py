"""stepnet from pytorch_step.nn as a PyTorch module, written by nnc (--target pytorch).

The layers are attributes named like the .nn layers, so state_dict() keys
are those of nnc's weights files (9 parameters in all):
    thresholds.weight [2, 2], thresholds.bias [2]
    out.weight [1, 2], out.bias [1]
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
