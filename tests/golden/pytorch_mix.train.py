"""Trains mixnet on blobs.train as the train block of pytorch_mix.nn says, then evaluates it.
Written by nnc (--target pytorch). One process:

    python3 pkg/train.py [--epochs N] [--seed N] [--save W.safetensors]

or several with DistributedDataParallel (README.md has multi-machine runs):

    torchrun --standalone --nproc_per_node=2 pkg/train.py
"""
import argparse
import copy
import inspect
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
SHOW_LR = False     # a schedule is given: loss lines show the epoch's lr
CLIP_GRAD = None    # max global L2 norm of the gradients (None: no clipping)
VALIDATE = None     # loss and score after every epoch (None: no validation)
EARLY_STOP = 0      # stop after N epochs without a lower validation loss (0: never)
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


def make_scheduler(optimizer, epochs):
    """The train block's schedule, stepped after every epoch; a sweep passes
    its value by name.

    constant: the optimizer's lr in every epoch, nothing to step.
    """
    return None


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


def make_loader(x, y, batch, seed, rank, world):
    """(sampler, loader): this process's share of every global batch. The
    DistributedSampler shuffles only for mini-batches, as nnc does."""
    rows = TensorDataset(x, targets(y))
    sampler = DistributedSampler(rows, num_replicas=world, rank=rank,
                                 shuffle=batch < len(rows), seed=seed)
    return sampler, DataLoader(rows, batch_size=max(batch // world, 1), sampler=sampler)


def train_epoch(model, net, loader, optimizer, loss_fn, world):
    """One pass over the data; returns the mean loss over the epoch's rows on
    all processes. DistributedDataParallel has averaged the gradients when
    backward returns, so every process clips (CLIP_GRAD) the same gradients."""
    total = torch.zeros(2, dtype=torch.float64)  # sum of loss * rows, rows
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        if CLIP_GRAD is not None:
            nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRAD)
        optimizer.step()
        total += torch.tensor([loss.item() * len(xb), len(xb)], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(total)
    return (total[0] / total[1]).item()


class Watch:
    """Validation's bookkeeping, as nnc keeps it: the best epoch (the lowest
    validation loss so far) and, with EARLY_STOP, a copy of its weights."""

    def __init__(self):
        self.best_epoch, self.best_loss, self.best_state = 0, math.inf, None

    def verdict(self, epoch, loss):
        """(better, stop) after epoch's validation loss: stop after EARLY_STOP
        epochs without a lower loss."""
        better = self.best_epoch == 0 or loss < self.best_loss
        return better, not better and 0 < EARLY_STOP <= epoch - self.best_epoch

    def keep(self, model, epoch, loss):
        self.best_epoch, self.best_loss = epoch, loss
        if EARLY_STOP > 0:
            self.best_state = copy.deepcopy(model.state_dict())


def validate(model, valid, loss_fn, watch, epoch, rank, world):
    """The epoch's validation: (loss, score, whether the score is an mse rather
    than an accuracy, stop). Rank 0 evaluates every row in eval mode (no
    dropout) without gradients, as nnc does, and decides; the broadcast gives
    every process its numbers and its decision, so all stop at the same epoch
    and keep the same weights."""
    v = torch.zeros(5, dtype=torch.float64)  # loss, score, mse, better, stop
    if rank == 0:
        x, y = valid
        model.eval()
        with torch.no_grad():
            out = model(x)
            loss = loss_fn(out, targets(y)).item()
        model.train()
        result = score(out, y)
        mse = isinstance(result, float)
        v = torch.tensor([loss, result if mse else result[0] / result[1], mse,
                          *watch.verdict(epoch, loss)], dtype=torch.float64)
    if world > 1:
        dist.broadcast(v, 0)
    loss, metric, mse, better, stop = v.tolist()
    if better:
        watch.keep(model, epoch, loss)
    return loss, metric, bool(mse), bool(stop)


def epoch_line(epoch, epochs, loss, lr, valid):
    """nnc's loss line:
    "epoch  3/40  loss 0.2345678  lr 0.003  valid loss 0.25  acc 91.2%"."""
    line = f"epoch {epoch:{len(str(epochs))}}/{epochs}  loss {loss:.7g}"
    if SHOW_LR:
        line += f"  lr {lr:.6g}"
    if valid is not None:
        vloss, metric, mse, _ = valid
        line += f"  valid loss {vloss:.7g}  "
        line += f"mse {metric:.6g}" if mse else f"acc {100 * metric:.1f}%"
    return line


def finish_validation(model, watch, epoch, epochs, stop, rank):
    """With EARLY_STOP, back to the weights of the best epoch; nnc's report of
    which epoch was best and why the run ended."""
    if watch.best_state is not None:
        model.load_state_dict(watch.best_state)
    if rank != 0:
        return
    name = type(model).__name__
    if stop and epoch < epochs:
        print(f"early stop at epoch {epoch}: no lower validation loss for "
              f"{EARLY_STOP} epochs")
    if EARLY_STOP > 0:
        print(f"best epoch {watch.best_epoch} (validation loss {watch.best_loss:.7g}): "
              f"{name} keeps its weights")
    else:
        print(f"lowest validation loss {watch.best_loss:.7g} at epoch {watch.best_epoch}; "
              f"{name} keeps the last epoch's weights (early_stop keeps the best)")


def train_run(model, x, y, valid, run, seed, rank, world):
    """One training from the model's current weights with a fresh optimizer
    and schedule (stepped once per epoch). Each process takes its share of
    every global batch; DistributedDataParallel averages the gradients, so a
    step sees the whole batch. Returns (the last epoch's loss, the lowest
    validation loss or None); the loss is nan when the run diverged."""
    _, epochs, batch, optim_args, schedule_args = run
    torch.manual_seed(seed + rank)  # dropout masks differ between processes
    sampler, loader = make_loader(x, y, batch, seed, rank, world)
    net = DistributedDataParallel(model) if world > 1 else model
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad],
                               **optim_args)
    scheduler = make_scheduler(optimizer, epochs, **schedule_args)
    loss_fn = make_loss()
    watch, every, v, stop = Watch(), log_interval(epochs), None, False
    model.train()
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        loss = train_epoch(model, net, loader, optimizer, loss_fn, world)
        if not math.isfinite(loss):
            if rank == 0:
                print(f"diverged at epoch {epoch}: the loss became {loss}")
            return math.nan, None
        if valid is not None:
            v = validate(model, valid, loss_fn, watch, epoch, rank, world)
            stop = v[-1]  # rank 0's decision, the same on every process
        if rank == 0 and (epoch == 1 or epoch == epochs or epoch % every == 0 or stop):
            print(epoch_line(epoch, epochs, loss, lr, v), flush=True)
        if scheduler is not None:
            scheduler.step()
        if stop:
            break
    if valid is None:
        return loss, None
    finish_validation(model, watch, epoch, epochs, stop, rank)
    return loss, watch.best_loss


def sweep_runs(epochs, rows):
    """(label, epochs, batch, optimizer arguments, schedule arguments) of each
    run; a swept value goes to make_optimizer or make_scheduler by its name."""
    if SWEEP is None:
        return [("", epochs, BATCH, {}, {})]
    param, values = SWEEP
    runs = []
    for v in values:
        run_epochs, batch, optim_args, schedule_args = epochs, BATCH, {}, {}
        if param == "epochs":
            run_epochs = int(v)
        elif param == "batch":
            batch = int(v) if 1 <= v <= rows else rows
        elif param in inspect.signature(make_scheduler).parameters:
            schedule_args[param] = v
        else:
            optim_args[param] = v
        runs.append((f"{param}={v:g}", run_epochs, batch, optim_args, schedule_args))
    return runs


def save(model, path):
    save_file(model.state_dict(), path, metadata={"format": "pt", "producer": "nnc pytorch"})
    print(f"wrote {path}")


def run_path(path, label):
    root, ext = os.path.splitext(path)
    return f"{root}-{label}{ext or '.safetensors'}"


def train(model, args, rank, world):
    """Every run of the train block; the model keeps the weights of the best run
    (the lowest validation loss with VALIDATE, else the lowest final loss, as
    nnc keeps it for a sweep). False when all diverged."""
    x, y = data.load(TRAIN_DATA, args.data_root)
    valid = None if VALIDATE is None else data.load(VALIDATE, args.data_root)
    if not any(p.requires_grad for p in model.parameters()):
        if rank == 0:
            print("nothing to train: every layer is frozen")
        return True
    if rank == 0:
        print(f"train {type(model).__name__} on {TRAIN_DATA}: {len(x)} rows, batch {BATCH} "
              f"({max(BATCH // world, 1)} per process), {world} process(es), seed {args.seed}"
              + (f", validate on {VALIDATE} ({len(valid[0])} rows)" if valid else "")
              + (f", early_stop {EARLY_STOP}" if valid and EARLY_STOP > 0 else ""))
        if BATCH % world:
            print(f"note: batch {BATCH} is not a multiple of {world} processes")
    initial, best, start = copy.deepcopy(model.state_dict()), None, time.time()
    for run in sweep_runs(args.epochs, len(x)):
        label = run[0]
        model.load_state_dict(initial)
        if rank == 0 and label:
            print(f"run {label}")
        loss, valid_loss = train_run(model, x, y, valid, run, args.seed, rank, world)
        if not math.isfinite(loss):
            continue
        if rank == 0 and label:
            save(model, run_path(args.save, label))
        rank_by = loss if valid_loss is None else valid_loss
        if best is None or rank_by < best[0]:
            best = (rank_by, loss, label, copy.deepcopy(model.state_dict()))
    if best is None:
        model.load_state_dict(initial)
        return False
    model.load_state_dict(best[3])
    if rank == 0:
        by = "validation" if valid else "final"
        kept = f", kept the run {best[2]} (the lowest {by} loss)" if best[2] else ""
        print(f"trained in {time.time() - start:.2f} s: final loss {best[1]:.7g}{kept}")
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
