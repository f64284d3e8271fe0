"""The PyTorch side of `make bench` (bench/run.sh), one thread, the same work
as bench/train_bench.c; prints `train_s S` (the training loop only) and, for
digits, `accuracy A` on the held-out split.
usage: train_torch.py xor
       train_torch.py digits PREFIX EPOCHS LR BATCH  (PREFIX from train-bench's dump)
       train_torch.py digits_cnn PREFIX EPOCHS LR BATCH  (examples/digits_cnn.nn)
       train_torch.py wide|mnist ROWS EPOCHS"""
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
torch.manual_seed(0)


def bench_xor():
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32)
    y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    loss_fn = nn.BCELoss()
    t0 = time.perf_counter()
    for _ in range(1000):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    print(f"train_s {time.perf_counter() - t0:.9f}")


def load(path):
    """A dataset dumped by train-bench: rows, x_cols, y_cols, x, y."""
    raw = open(path, "rb").read()
    rows, xc, yc = np.frombuffer(raw[:24], dtype="<u8")
    data = np.frombuffer(raw[24:], dtype="<f4")
    x = torch.from_numpy(data[: rows * xc].reshape(rows, xc).copy())
    y = torch.from_numpy(data[rows * xc:].reshape(rows, yc).copy())
    return x, y[:, 0].long()


def train_epochs(model, x, y, epochs, lr, batch):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()


def digits_mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def digits_cnn():
    """examples/digits_cnn.nn, layer by layer."""
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)),
                         nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(128, 10))


def mnist():
    """PyTorch's examples/mnist/main.py network without its dropout."""
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                         nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def wide():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                         nn.ReLU(), nn.Linear(512, 10))


def bench_digits(make, prefix, epochs, lr, batch):
    x, y = load(f"{prefix}.digits.train.f32")
    tx, ty = load(f"{prefix}.digits.test.f32")
    model = make()
    t0 = time.perf_counter()
    train_epochs(model, x, y, epochs, lr, batch)
    print(f"train_s {time.perf_counter() - t0:.9f}")
    model.eval()
    with torch.no_grad():
        acc = (model(tx).argmax(1) == ty).float().mean().item()
    print(f"accuracy {acc:.6f}")


def bench_synthetic(make, batch, rows, epochs):
    # Same distribution as train_bench.c's synthetic rows (not the same draws).
    x = torch.rand(rows, 784)
    y = x[:, ::78][:, :10].argmax(1)
    model = make()
    t0 = time.perf_counter()
    train_epochs(model, x, y, epochs, 1e-3, batch)
    print(f"train_s {time.perf_counter() - t0:.9f}")


def main():
    mode = sys.argv[1]
    if mode == "xor":
        bench_xor()
    elif mode in ("digits", "digits_cnn"):
        make = digits_mlp if mode == "digits" else digits_cnn
        bench_digits(make, sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    else:
        make, batch = {"wide": (wide, 128), "mnist": (mnist, 64)}[mode]
        bench_synthetic(make, batch, int(sys.argv[2]), int(sys.argv[3]))


if __name__ == "__main__":
    main()
