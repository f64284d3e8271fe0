"""Per-sample inference latency of PyTorch (one thread, no_grad) for the
benchmark networks, built as the lecture builds them.
usage: latency_torch.py xornet|mlp64 ITERATIONS"""
import sys
import time

import torch
from torch import nn

torch.set_num_threads(1)


class XORNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(2, 4)
        self.layer2 = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.layer2(torch.relu(self.layer1(x))))


def build(name):
    if name == "xornet":
        return XORNet(), 2
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)), 64


def main():
    model, n_in = build(sys.argv[1])
    iters = int(sys.argv[2])
    x = torch.arange(n_in, dtype=torch.float32).remainder(7).mul(0.25).reshape(1, n_in)
    model.eval()
    with torch.no_grad():
        for _ in range(iters // 10 + 1):
            model(x)
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            model(x)
        elapsed = time.perf_counter_ns() - t0
    print(f"{elapsed / iters:.1f}")


if __name__ == "__main__":
    main()
