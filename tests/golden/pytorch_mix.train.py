"""Trains mixnet on blobs.train as the train block of pytorch_mix.nn says, then evaluates it.
Written by nnc (--target pytorch). One process:

    python3 pkg/train.py [--epochs N] [--seed N] [--save W.safetensors]

or several with DistributedDataParallel (README.md has multi-machine runs):

    torchrun --standalone --nproc_per_node=2 pkg/train.py
"""
import argparse
import copy
import math
import os
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import data
from model import mixnet
from safetensors_io import load_file, save_file

# The train block of pytorch_mix.nn (line 23).
TRAIN_DATA = "blobs.train"
EPOCHS = 5
BATCH = 2           # the global batch: rows per step over all processes
SEED = 1            # torch.manual_seed: shuffling, dropout
LOG_EVERY = 1       # epochs between loss lines (0: epochs / 10)
SWEEP = ("lr", [0.1, 0.01])  # one run per value from the same initial weights
# nnc's initial weights for this seed, where `nnc run` starts (--torch-init:
# torch's own initialisation instead).
INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.safetensors")
# The evaluate blocks of mixnet, in file order.
EVALUATE = ["blobs.test"]


def make_loss():
    return nn.CrossEntropyLoss()  # on logits: it applies softmax itself


def make_optimizer(params, lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0):
    """The train block's optimizer; a sweep passes its value by name."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay)


def targets(y):
    """y holds class labels; CrossEntropyLoss wants them as class indices."""
    return y[:, 0].long()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=EPOCHS, help="0: only evaluate")
    p.add_argument("--seed", type=int, default=SEED,
                   help="torch.manual_seed: shuffling, dropout (and the initialisation "
                   "with --torch-init)")
    p.add_argument("--save", default="weights.safetensors",
                   help="where rank 0 writes the trained weights (safetensors)")
    p.add_argument("--init", default=INIT if os.path.exists(INIT) else None,
                   help="start from these weights (safetensors); default: nnc's initial "
                   "weights, init.safetensors, where `nnc run` starts")
    p.add_argument("--torch-init", action="store_true",
                   help="start from torch's nn.Linear initialisation (seeded by --seed)")
    p.add_argument("--data-root", default=data.DATA_ROOT,
                   help="the folder csv paths are relative to (default: %(default)s)")
    return p.parse_args()


def setup():
    """(rank, world size). torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and
    MASTER_PORT; a plain run is one process of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    dist.init_process_group("gloo")  # gloo: collectives between CPU processes
    return dist.get_rank(), world


def log_interval(epochs):
    """Epochs between loss lines, as nnc chooses them."""
    every = LOG_EVERY if LOG_EVERY <= epochs else epochs // 10
    return every if every > 0 else max(epochs // 10, 1)


def train_run(model, x, y, epochs, batch, optim_args, seed, rank, world):
    """One training from the model's current weights. Each process takes its
    share of every global batch (DistributedSampler); DistributedDataParallel
    averages the gradients, so a step sees the whole batch. Returns the last
    epoch's loss (the mean over the epoch's rows on all processes), or nan
    when it diverged."""
    torch.manual_seed(seed + rank)  # dropout masks differ between processes
    rows = TensorDataset(x, targets(y))
    sampler = DistributedSampler(rows, num_replicas=world, rank=rank,
                                 shuffle=batch < len(rows), seed=seed)
    loader = DataLoader(rows, batch_size=max(batch // world, 1), sampler=sampler)
    net = DistributedDataParallel(model) if world > 1 else model
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad],
                               **optim_args)
    loss_fn = make_loss()
    every, width = log_interval(epochs), len(str(epochs))
    model.train()
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        total = torch.zeros(2, dtype=torch.float64)  # sum of loss * rows, rows
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(total)
        epoch_loss = (total[0] / total[1]).item()
        if not math.isfinite(epoch_loss):
            if rank == 0:
                print(f"diverged at epoch {epoch}: the loss became {epoch_loss}")
            return math.nan
        if rank == 0 and (epoch == 1 or epoch == epochs or epoch % every == 0):
            print(f"epoch {epoch:{width}}/{epochs}  loss {epoch_loss:.7g}", flush=True)
    return epoch_loss


def sweep_runs(epochs, rows):
    """(label, epochs, batch, optimizer arguments) of each run."""
    if SWEEP is None:
        return [("", epochs, BATCH, {})]
    param, values = SWEEP
    runs = []
    for v in values:
        run = (f"{param}={v:g}", epochs, BATCH, {})
        if param == "epochs":
            run = (run[0], int(v), BATCH, {})
        elif param == "batch":
            run = (run[0], epochs, int(v) if 1 <= v <= rows else rows, {})
        else:
            run[3][param] = v
        runs.append(run)
    return runs


def save(model, path):
    save_file(model.state_dict(), path, metadata={"format": "pt", "producer": "nnc pytorch"})
    print(f"wrote {path}")


def run_path(path, label):
    root, ext = os.path.splitext(path)
    return f"{root}-{label}{ext or '.safetensors'}"


def train(model, args, rank, world):
    """Every run of the train block; the model keeps the weights of the run with
    the lowest final loss (as nnc does for a sweep). False when all diverged."""
    x, y = data.load(TRAIN_DATA, args.data_root)
    if not any(p.requires_grad for p in model.parameters()):
        if rank == 0:
            print("nothing to train: every layer is frozen")
        return True
    if rank == 0:
        print(f"train {type(model).__name__} on {TRAIN_DATA}: {len(x)} rows, batch {BATCH} "
              f"({max(BATCH // world, 1)} per process), {world} process(es), seed {args.seed}")
        if BATCH % world:
            print(f"note: batch {BATCH} is not a multiple of {world} processes")
    initial, best, start = copy.deepcopy(model.state_dict()), None, time.time()
    for label, epochs, batch, optim_args in sweep_runs(args.epochs, len(x)):
        model.load_state_dict(initial)
        if rank == 0 and label:
            print(f"run {label}")
        loss = train_run(model, x, y, epochs, batch, optim_args, args.seed, rank, world)
        if not math.isfinite(loss):
            continue
        if rank == 0 and label:
            save(model, run_path(args.save, label))
        if best is None or loss < best[0]:
            best = (loss, label, copy.deepcopy(model.state_dict()))
    if best is None:
        model.load_state_dict(initial)
        return False
    model.load_state_dict(best[2])
    if rank == 0:
        kept = f", kept the run {best[1]}" if best[1] else ""
        print(f"trained in {time.time() - start:.2f} s: final loss {best[0]:.7g}{kept}")
        save(model, args.save)
    return True


def score(out, y):
    """nnc's verdict: (correct, rows) for a classifier, else the mean squared
    error. One column of labels on several outputs: the argmax; 0/1 targets:
    one-hot rows by argmax, otherwise each output > 0.5."""
    if y.shape[1] == 1 and out.shape[1] > 1:
        return int((out.argmax(1) == y[:, 0].long()).sum()), len(y)
    if not ((y == 0) | (y == 1)).all():
        return float(((out.double() - y.double()) ** 2).mean())
    if out.shape[1] > 1 and (y.sum(1) == 1).all():
        return int((out.argmax(1) == y.argmax(1)).sum()), len(y)
    return int(((out > 0.5) == (y == 1)).all(1).sum()), len(y)


def evaluate(model, name, data_root):
    x, y = data.load(name, data_root)
    model.eval()
    with torch.no_grad():
        out = model(x)
    what = f"evaluate {type(model).__name__} on {name}:"
    result = None if y is None else score(out, y)
    if result is None:
        print(what, f"{len(x)} rows, no targets")
    elif isinstance(result, float):
        print(what, f"mse {result:.7g}")
    else:
        print(what, f"accuracy {result[0]}/{result[1]} ({100 * result[0] / result[1]:.1f}%)")


def main():
    args = parse_args()
    rank, world = setup()
    torch.manual_seed(args.seed)  # the same initial weights on every process
    model = mixnet()
    if args.init and not args.torch_init:
        model.load_state_dict(load_file(args.init))
    if rank == 0:
        print(model)
    ok = TRAIN_DATA is None or args.epochs <= 0 or train(model, args, rank, world)
    if rank == 0 and not ok:
        print("training diverged: try a smaller learning rate", file=sys.stderr)
    if rank == 0 and ok:
        for name in EVALUATE:
            evaluate(model, name, args.data_root)
    if world > 1:
        dist.destroy_process_group()
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
