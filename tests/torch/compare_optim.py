#!/usr/bin/python3
"""nnc's optimizers, schedules, clip_grad and validation agree with
torch.optim, torch.optim.lr_scheduler, clip_grad_norm_ and a model.eval()
validation pass.

The model is optim_mlp.nn (an 8-16-3 tanh MLP, cross-entropy, 100
full-batch epochs on the 36 rows of blobs.train, validation on the 18 of
blobs.valid: split = [0.5, 0.25, 0.25] of optim_blobs.csv, the rows of
each part taken from nnc's --json and checked to partition the file),
started in nnc (--weights) and in PyTorch from the same seeded weights. For each case the script writes a variant of its train
block and compares, with the real torch classes on the other side:
  - every epoch's training loss (--json loss_per_epoch), LOSS_RTOL relative;
  - the final weights (--save), numpy.allclose(rtol=W_RTOL, atol=W_ATOL);
  - with a schedule, every epoch's learning rate (lr_per_epoch) with the
    scheduler's param_groups[0]["lr"] for that epoch, LR_RTOL relative;
  - with validate, every epoch's validation loss (LOSS_RTOL) and accuracy
    with a model.eval() pass after the epoch's step.
The matrix: every optimizer nnc names in its "unknown optimizer" error, in
settings that move each of its arguments from the default at least once,
each without and with weight decay (adamw also with its default, 0.01);
every schedule nnc names, under sgd with momentum and under adam; clip_grad
under both (it must clip at least one step); validation; early_stop (the
epoch it stops at, the best epoch and its weights); sweeps (every run, and
the run the model keeps). A name or an argument of nnc's with no case
fails the run, as does weight decay that changes nothing, clip_grad that
never clips or early_stop that never stops: a case that cannot fail is no
check. So does a case where torch's float32 run is far from its float64
run (conditioning()): there rounding, not the formulas, decides.

usage: NNC=path/to/nnc /usr/bin/python3 compare_optim.py
Prints one line per case with its worst differences; exit status 0 when
every case agrees, 1 otherwise."""
import json
import math
import os
import re
import sys
import tempfile
import warnings

import numpy as np
import torch

from nnctorch import HERE, nnc, nnc_errors, read_safetensors, write_safetensors

LOSS_RTOL = float(os.environ.get("LOSS_RTOL", "1e-4"))
W_RTOL, W_ATOL = 1e-4, 1e-5
LR_RTOL = 1e-12
BASE = os.path.join(HERE, "optim_mlp.nn")
EPOCHS = 100
WEIGHT_DECAY = 0.05

# Settings per optimizer; each runs with weight_decay = 0 and WEIGHT_DECAY.
# Together they move every argument nnc's `dump ir` prints for the optimizer.
ADAM_SETTINGS = [{"lr": 0.01}, {"lr": 0.01, "amsgrad": True},
                 {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}]
OPTIMIZERS = {
    "sgd": [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1},
            {"lr": 0.05, "momentum": 0.9, "nesterov": True}],
    "adam": ADAM_SETTINGS,
    "adamw": ADAM_SETTINGS,
    "rmsprop": [{"lr": 0.01}, {"lr": 0.003, "momentum": 0.9, "centered": True},
                {"lr": 0.002, "alpha": 0.95, "eps": 1e-5, "momentum": 0.5}],
}
SCHEDULES = [("constant", {}), ("step", {"every": 30, "gamma": 0.5}), ("step", {"every": 7}),
             ("exponential", {"gamma": 0.97}), ("exponential", {"gamma": 0.9}),
             ("cosine", {"warmup": 5, "min_lr": 0.001}), ("cosine", {}),
             ("cosine", {"warmup": 1, "min_lr": 0.01})]
SCHEDULE_OPTIMIZERS = [("sgd", {"lr": 0.1, "momentum": 0.9}), ("adam", {"lr": 0.01})]
CLIP_GRAD = 0.1


def case(optim, args, schedule=None, clip=None, validate=False, sweep=None, early_stop=0):
    """One train block; sweep = (argument, [values]) makes it one run per value."""
    return {"optim": optim, "args": args, "schedule": schedule, "clip": clip,
            "validate": validate or early_stop > 0, "sweep": sweep, "early_stop": early_stop}


def sweep_runs(c, resolved):
    """The case of each run: the swept argument set in the schedule's
    arguments when the schedule has it (as `dump ir` shows them), else in
    the optimizer's."""
    if not c["sweep"]:
        return [c]
    name, values = c["sweep"]
    out = []
    for v in values:
        r = dict(c, sweep=None)
        if name in resolved.get("schedule", ("", {}))[1]:
            r["schedule"] = (c["schedule"][0], dict(c["schedule"][1], **{name: v}))
        else:
            r["args"] = dict(c["args"], **{name: v})
        out.append(r)
    return out


def all_cases():
    out = []
    for optim, settings in OPTIMIZERS.items():
        for s in settings:
            out += [case(optim, dict(s, weight_decay=wd)) for wd in (0, WEIGHT_DECAY)]
    out.append(case("adamw", {"lr": 0.01}))  # its default weight_decay, 0.01 as torch's
    for sched in SCHEDULES:
        out += [case(o, a, schedule=sched) for o, a in SCHEDULE_OPTIMIZERS]
    out += [case(o, a, clip=CLIP_GRAD) for o, a in SCHEDULE_OPTIMIZERS]
    out.append(case("sgd", {"lr": 0.1, "momentum": 0.9}, validate=True))
    out.append(case("adamw", {"lr": 0.01, "weight_decay": WEIGHT_DECAY},
                    schedule=("cosine", {"warmup": 5, "min_lr": 0.001}), clip=CLIP_GRAD,
                    validate=True))
    out.append(case("sgd", {"lr": 0.1, "momentum": 0.9}, early_stop=5))
    # sweeps: every run from the same weights, the model keeps the best run
    out.append(case("adamw", {"lr": 0.01}, sweep=("weight_decay", [0, 0.01, WEIGHT_DECAY])))
    out.append(case("sgd", {"lr": 0.1, "momentum": 0.9}, schedule=("cosine", {"warmup": 5, "min_lr": 0.001}),
                    sweep=("lr", [0.03, 0.1])))
    out.append(case("adam", {"lr": 0.01}, schedule=("exponential", {"gamma": 0.97}), validate=True,
                    sweep=("gamma", [0.9, 0.97])))
    return out


# ---------------------------------------------------------------- nnc side

def nn_value(v):
    return ("true" if v else "false") if isinstance(v, bool) else repr(v)


def nn_call(name, args):
    """'adam(lr = 0.01, amsgrad = true)'; a schedule without arguments is its name."""
    inner = ", ".join("%s = %s" % (k, nn_value(v)) for k, v in args.items())
    return "%s(%s)" % (name, inner) if inner or name != "constant" else name


def describe(c):
    text = nn_call(c["optim"], c["args"])
    if c["schedule"]:
        text += " " + nn_call(*c["schedule"])
    if c["clip"]:
        text += " clip_grad %g" % c["clip"]
    if c["validate"]:
        text += " validate"
    if c["early_stop"]:
        text += " early_stop %d" % c["early_stop"]
    if c["sweep"]:
        text += " sweep %s = %s" % c["sweep"]
    return text


def variant(c, path):
    """optim_mlp.nn with the case's train block, csv paths made absolute."""
    text = open(BASE).read()
    text = re.sub(r'csv(\s*)=(\s*)"([^"]+)"',
                  lambda m: 'csv%s=%s"%s"' % (m.group(1), m.group(2), os.path.join(HERE, m.group(3))),
                  text)
    lines = ["    optimizer = " + nn_call(c["optim"], c["args"])]
    if c["schedule"]:
        lines.append("    schedule  = " + nn_call(*c["schedule"]))
    if c["clip"]:
        lines.append("    clip_grad = %r" % c["clip"])
    if c["validate"]:
        lines.append("    validate  = blobs.valid")
    if c["early_stop"]:
        lines.append("    early_stop = %d" % c["early_stop"])
    if c["sweep"]:
        lines.append("    sweep %s = [%s]" % (c["sweep"][0], ", ".join(nn_value(v) for v in c["sweep"][1])))
    text, n = re.subn(r"    optimizer\s*=\s*\w+\s*\([^)]*\)", "\n".join(lines), text)
    assert n == 1, "optim_mlp.nn has no single optimizer line"
    open(path, "w").write(text)


def parse_value(text):
    """An argument as `dump ir` prints it: true, false or a number."""
    return {"true": True, "false": False}[text] if text in ("true", "false") else float(text)


def dumped_train(path):
    """The resolved optimizer and schedule of `nnc dump ir`: (kind, {arg: value})."""
    text = nnc("dump", "ir", path)
    out = {}
    for what in ("optimizer", "schedule"):
        m = re.search(r"^  %s (\w+)((?: \w+ \S+)*)\s*$" % what, text, re.M)
        if m:
            pairs = m.group(2).split()
            out[what] = (m.group(1), {k: parse_value(v) for k, v in zip(pairs[::2], pairs[1::2])})
    return out


def known_names(kind):
    """The optimizer or schedule names nnc lists in its error for an unknown one."""
    probe = 'model m {\n    input 1\n    out: dense 1\n}\n' \
            'dataset d {\n    x = [[0], [1]]\n    y = [0, 1]\n}\n' \
            'train m on d {\n    loss = mse\n    optimizer = %s\n    schedule = %s\n    epochs = 1\n}\n'
    with tempfile.NamedTemporaryFile("w", suffix=".nn", delete=False) as f:
        f.write(probe % ("no_such_optimizer(lr = 1)" if kind == "optimizer" else "sgd(lr = 1)",
                         "no_such_schedule" if kind == "schedule" else "constant"))
    try:
        err = nnc_errors("check", f.name)
    finally:
        os.unlink(f.name)
    m = re.search(r"unknown %s '\w+' \(expected ([^)]*)\)" % kind, err)
    if not m:
        sys.exit("compare_optim.py: no list of %ss in nnc's error:\n%s" % (kind, err))
    return re.split(r", | or ", m.group(1))


# -------------------------------------------------------------- torch side

class MLP(torch.nn.Module):
    """optim_mlp.nn's model; its state_dict keys are nnc's."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(8, 16)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def initial_weights():
    """nn.Linear's init (uniform in +-1/sqrt(fan_in)) from a fixed numpy seed."""
    rs = np.random.RandomState(2024)
    out = {}
    for name, (o, i) in (("hidden", (16, 8)), ("out", (3, 16))):
        bound = 1.0 / math.sqrt(i)
        out[name + ".weight"] = rs.uniform(-bound, bound, (o, i)).astype(np.float32)
        out[name + ".bias"] = rs.uniform(-bound, bound, o).astype(np.float32)
    return out


SPLIT = {"train": 0.5, "valid": 0.25, "test": 0.25}  # optim_mlp.nn's split


def split_rows(tmp):
    """{part: (x, y)}: blobs.train, .valid and .test as nnc splits
    optim_blobs.csv, read from the rows of an `evaluate` step of each; they
    must partition the csv's rows in the sizes of language.md's rule
    (round(rows * fraction), the test part the rest)."""
    src = os.path.join(tmp, "split.nn")
    variant(case("sgd", {"lr": 0.1}), src)
    with open(src, "a") as f:
        f.write("".join("\nevaluate mlp on blobs.%s\n" % part for part in SPLIT))
    doc = json.loads(nnc("run", src, "--epochs", "0", "--json"))
    parts = {}
    for step in doc["steps"]:
        if step["step"] == "evaluate":
            parts[step["dataset"].split(".")[-1]] = (
                np.array([r["inputs"] for r in step["rows"]], dtype=np.float32),
                np.array([r["target"] for r in step["rows"]], dtype=np.int64))
    rows = np.loadtxt(os.path.join(HERE, "optim_blobs.csv"), delimiter=",", ndmin=2).astype(np.float32)
    n_train, n_valid = round(len(rows) * SPLIT["train"]), round(len(rows) * SPLIT["valid"])
    sizes = {"train": n_train, "valid": n_valid, "test": len(rows) - n_train - n_valid}
    got = {k: len(parts[k][0]) if k in parts else None for k in SPLIT}
    if got != sizes:
        sys.exit("compare_optim.py: nnc's split has %s rows, not %s" % (got, sizes))
    joined = np.concatenate([np.column_stack([parts[k][0], parts[k][1]]) for k in SPLIT])
    if not np.array_equal(np.unique(joined, axis=0), np.unique(rows, axis=0)) or len(joined) != len(rows):
        sys.exit("compare_optim.py: nnc's split parts are not the csv's rows")
    print("split = [0.5, 0.25, 0.25] of %d rows: blobs.train %d, .valid %d, .test %d rows, a partition"
          % (len(rows), sizes["train"], sizes["valid"], sizes["test"]))
    return {k: (torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in parts.items()}


def torch_optimizer(params, optim, args):
    """The torch.optim class with the case's arguments by torch's names;
    whatever the case leaves out takes torch's default."""
    kw = {k: v for k, v in args.items() if k not in ("beta1", "beta2")}
    if "beta1" in args or "beta2" in args:
        kw["betas"] = (args.get("beta1", 0.9), args.get("beta2", 0.999))
    classes = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "rmsprop": torch.optim.RMSprop}
    if optim not in classes:
        raise SystemExit("compare_optim.py: no torch.optim class for optimizer %r" % optim)
    return classes[optim](params, **kw)


def torch_scheduler(opt, schedule):
    """language.md's schedules as lr_scheduler classes. cosine(warmup = W,
    min_lr = M): lr (e + 1) / W for e < W is LinearLR from 1/W to 1 over
    W - 1 steps, then CosineAnnealingLR(T_max = E - W, eta_min = M) from
    epoch W (SequentialLR restarts it there)."""
    S = torch.optim.lr_scheduler
    name, args = schedule
    if name == "constant":
        return S.ConstantLR(opt, factor=1.0, total_iters=EPOCHS)
    if name == "step":
        return S.StepLR(opt, step_size=args["every"], gamma=args.get("gamma", 0.1))
    if name == "exponential":
        return S.ExponentialLR(opt, gamma=args["gamma"])
    if name == "cosine":
        w, m = args.get("warmup", 0), args.get("min_lr", 0.0)
        cosine = S.CosineAnnealingLR(opt, T_max=EPOCHS - w, eta_min=m)
        if w == 0:
            return cosine
        warm = S.LinearLR(opt, start_factor=1.0 / w, end_factor=1.0, total_iters=w - 1)
        return S.SequentialLR(opt, [warm, cosine], milestones=[w])
    raise SystemExit("compare_optim.py: no torch scheduler for schedule %r" % name)


def state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def validate(model, loss_fn, valid):
    """A model.eval() pass: (loss, accuracy)."""
    model.eval()
    with torch.no_grad():
        out = model(valid[0])
        result = loss_fn(out, valid[1]).item(), (out.argmax(1) == valid[1]).double().mean().item()
    model.train()
    return result


def train_torch(c, init, data, valid, dtype=torch.float32):
    """The case's run in torch: its records per epoch and final weights
    (with early_stop, those of the epoch with the lowest validation loss,
    stopping after early_stop epochs without a lower one)."""
    model = MLP().to(dtype)
    model.load_state_dict({k: torch.from_numpy(v.copy()).to(dtype) for k, v in init.items()})
    data, valid = (data[0].to(dtype), data[1]), (valid[0].to(dtype), valid[1])
    opt = torch_optimizer(model.parameters(), c["optim"], c["args"])
    sched = torch_scheduler(opt, c["schedule"]) if c["schedule"] else None
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data
    rec = {"loss": [], "lr": [], "valid_loss": [], "valid_acc": [], "norm": [], "best_epoch": 0}
    for epoch in range(1, EPOCHS + 1):
        rec["lr"].append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if c["clip"]:
            rec["norm"].append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"])))
        opt.step()
        rec["loss"].append(loss.item())
        if sched:
            sched.step()
        if not c["validate"]:
            continue
        vloss, vacc = validate(model, loss_fn, valid)
        rec["valid_loss"].append(vloss)
        rec["valid_acc"].append(vacc)
        if rec["best_epoch"] == 0 or vloss < rec["valid_loss"][rec["best_epoch"] - 1]:
            rec["best_epoch"], best = epoch, state(model)
        elif c["early_stop"] and epoch - rec["best_epoch"] >= c["early_stop"]:
            break
    rec["final"] = best if c["early_stop"] else state(model)
    return rec


# ------------------------------------------------------------------- cases

def rel_diff(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return np.inf
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30)))


def compare_run(c, run, want):
    """(problems, columns) of one run: its losses, learning rates,
    validation losses and accuracies, and whether clipping happened."""
    problems, cols = [], []
    if run["loss_stride"] != 1:
        problems.append("loss_stride %d, not every epoch" % run["loss_stride"])
    d = rel_diff(run["loss_per_epoch"], want["loss"])
    cols.append("loss %.4f -> %.4f  rel %.1e" % (want["loss"][0], want["loss"][-1], d))
    if d > LOSS_RTOL:
        problems.append("training loss: max relative difference %.3g > %g" % (d, LOSS_RTOL))
    if c["schedule"]:
        d = rel_diff(run.get("lr_per_epoch", []), want["lr"])
        cols.append("lr rel %.1e" % d)
        if d > LR_RTOL:
            problems.append("lr_per_epoch: max relative difference %.3g > %g" % (d, LR_RTOL))
    if c["validate"]:
        d = rel_diff(run.get("valid_loss_per_epoch", []), want["valid_loss"])
        acc = np.array(run.get("valid_accuracy_per_epoch", []))
        n = len(want["valid_acc"])
        off = int(np.sum(np.abs(acc - want["valid_acc"]) > 1e-12)) if acc.shape == (n,) else n
        cols.append("valid loss rel %.1e, acc %d off" % (d, off))
        if d > LOSS_RTOL:
            problems.append("valid_loss_per_epoch: max relative difference %.3g > %g" % (d, LOSS_RTOL))
        if off:
            problems.append("valid_accuracy_per_epoch differs in %d epochs" % off)
    if c["early_stop"]:
        ran, best = len(want["loss"]), want["best_epoch"]
        cols.append("stopped %d best %d" % (ran, best))
        if (run["epochs_run"], run["best_epoch"]) != (ran, best):
            problems.append("nnc ran %d epochs and kept epoch %d, torch %d and %d"
                            % (run["epochs_run"], run["best_epoch"], ran, best))
        if ran == EPOCHS:
            problems.append("early_stop %d never stops: the case checks nothing" % c["early_stop"])
    if c["clip"]:
        clipped = sum(n > c["clip"] for n in want["norm"])
        cols.append("clipped %d/%d" % (clipped, EPOCHS))
        if clipped == 0:
            problems.append("clip_grad %g never clips: the case checks nothing" % c["clip"])
    return problems, cols


def compare_weights(nnc_final, want):
    """(problems, column): nnc's --save against torch's final state_dict."""
    problems, wmax, wkey = [], 0.0, ""
    if sorted(nnc_final) != sorted(want["final"]):
        problems.append("--save has %s, torch's state_dict %s" % (sorted(nnc_final), sorted(want["final"])))
    for k in sorted(want["final"]):
        a, b = nnc_final.get(k), want["final"][k]
        if a is None or a.shape != b.shape:
            problems.append("final %s missing or of another shape in nnc's --save" % k)
            continue
        diff = float(np.max(np.abs(a.astype(np.float64) - b)))
        if diff >= wmax:
            wmax, wkey = diff, k
        if not np.allclose(a, b, rtol=W_RTOL, atol=W_ATOL):
            i = np.unravel_index(np.argmax(np.abs(a - b) - W_RTOL * np.abs(b)), a.shape)
            problems.append("final %s%s: nnc %.9g, torch %.9g" % (k, list(i), a[i], b[i]))
    return problems, "weights %.1e (%s)" % (wmax, wkey)


def kept_run(c, wants):
    """The run a sweep keeps: with validation, the lowest validation loss of
    the weights each run ends with (its best epoch's with early_stop, else
    its last epoch's); else the lowest final training loss."""
    def score(w):
        if not c["validate"]:
            return w["loss"][-1]
        return w["valid_loss"][w["best_epoch"] - 1] if c["early_stop"] else w["valid_loss"][-1]
    return int(np.argmin([score(w) for w in wants]))


FLOOR = 3  # torch float32 against float64 within 1/FLOOR of the tolerances


def conditioning(want, want64):
    """(problems, column): how far torch's own float32 run is from its
    float64 run. Where a small-gradient parameter meets Adam's or RMSprop's
    normalisation, float32 rounding decides the trajectory and no float32
    implementation can agree with another to 1e-4 (torch float32 against
    float64 has been seen 3e-3 apart): such a case tests nothing but
    rounding, so the matrix must not hold one."""
    d = rel_diff(want["loss"], want64["loss"])
    close = all(np.allclose(want["final"][k], want64["final"][k], rtol=W_RTOL / FLOOR,
                            atol=W_ATOL / FLOOR) for k in want["final"])
    wmax = max(float(np.max(np.abs(want["final"][k] - want64["final"][k]))) for k in want["final"])
    problems = []
    if d > LOSS_RTOL / FLOOR or not close:
        problems.append("ill-conditioned case: torch float32 and float64 are %.2g (loss) and %.2g"
                        " (weights) apart; choose other settings" % (d, wmax))
    return problems, "[f32-f64 %.0e %.0e]" % (d, wmax)


def check_resolved(c, resolved):
    """nnc read the case as written: each argument it was given has its value."""
    problems = []
    for what, asked in (("optimizer", (c["optim"], c["args"])), ("schedule", c["schedule"])):
        if asked is None:
            continue
        kind, args = resolved.get(what, (None, {}))
        if kind != asked[0] or any(args.get(k) != v for k, v in asked[1].items()):
            problems.append("nnc dump ir shows %s %s %s for %s" % (what, kind, args, nn_call(*asked)))
    return problems


def coverage(cases, resolved):
    """Problems when an optimizer or schedule nnc knows has no case, or one
    of its arguments keeps one value in every case."""
    problems = []
    for what, names in (("optimizer", known_names("optimizer")), ("schedule", known_names("schedule"))):
        seen = {}
        for r in resolved:
            if what in r:
                kind, args = r[what]
                kind_seen = seen.setdefault(kind, {})
                for k, v in args.items():
                    kind_seen.setdefault(k, set()).add(v)
        for name in names:
            if name not in seen:
                problems.append("%s %s: no case in compare_optim.py" % (what, name))
                continue
            for arg, values in sorted(seen[name].items()):
                if len(values) < 2:
                    problems.append("%s %s: argument %s is %s in every case"
                                    % (what, name, arg, values.pop()))
    return problems


def decay_matters(cases, results):
    """Each optimizer case with weight decay ends away from its twin
    without it (the matrix's plain optimizer cases, first run each)."""
    def twin_key(c):
        return c["optim"], tuple(sorted((k, v) for k, v in c["args"].items() if k != "weight_decay"))
    plain = [(c, r) for c, r in zip(cases, results)
             if not (c["schedule"] or c["clip"] or c["validate"] or c["sweep"])]
    without = {twin_key(c): r for c, r in plain if c["args"].get("weight_decay") == 0}
    problems = []
    for c, r in plain:
        if c["args"].get("weight_decay") == 0:
            continue
        twin = without.get(twin_key(c))
        if twin is None:
            problems.append("%s: no case without weight decay to compare with" % describe(c))
        elif all(np.allclose(r["final"][k], twin["final"][k], rtol=W_RTOL, atol=W_ATOL) for k in r["final"]):
            problems.append("%s: weight decay changes nothing the check can see" % describe(c))
    return problems


def run_case(c, src, init_path, final_path, init, data, valid):
    """(problems, the resolved train block, torch's records of each run);
    prints one line per run."""
    variant(c, src)
    resolved = dumped_train(src)
    doc = json.loads(nnc("run", src, "--weights", init_path, "--save", final_path, "--json"))
    step = [s for s in doc["steps"] if s["step"] == "train"][0]
    runs, cases = step["runs"], sweep_runs(c, resolved)
    wants = [train_torch(r, init, data, valid) for r in cases]
    problems = check_resolved(c, resolved)
    if len(runs) != len(cases):
        return problems + ["%d runs in nnc's --json, %d expected" % (len(runs), len(cases))], resolved, wants
    kept = kept_run(c, wants)
    if c["sweep"] and step.get("kept_run") != kept:
        problems.append("nnc keeps run %s, torch's best is run %d" % (step.get("kept_run"), kept))
    weight_problems, weight_col = compare_weights(read_safetensors(final_path), wants[kept])
    for k, (r, run, want) in enumerate(zip(cases, runs, wants)):
        run_problems, cols = compare_run(r, run, want)
        floor, col = conditioning(want, train_torch(r, init, data, valid, torch.float64))
        run_problems += floor
        cols.insert(1, col)
        if k == kept:
            cols.insert(1, weight_col)
            run_problems += weight_problems
        tag = describe(c) if not c["sweep"] else "%s  [run %s = %s%s]" % (
            describe(c), c["sweep"][0], nn_value(c["sweep"][1][k]), ", kept" if k == kept else "")
        print("%-64s %s  %s" % (tag, "  ".join(cols), "FAIL" if run_problems else "ok"))
        for p in run_problems:
            print("    " + p)
        problems += run_problems
    return problems, resolved, wants


def main():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.optim.lr_scheduler")
    cases = all_cases()
    init = initial_weights()
    failed, results, resolved = 0, [], []
    with tempfile.TemporaryDirectory() as tmp:
        parts = split_rows(tmp)
        data, valid = parts["train"], parts["valid"]
        paths = [os.path.join(tmp, f) for f in ("case.nn", "init.safetensors", "final.safetensors")]
        write_safetensors(paths[1], init)
        for c in cases:
            problems, r, wants = run_case(c, *paths, init, data, valid)
            resolved.append(r)
            results.append(wants[0])
            failed += bool(problems)
    general = coverage(cases, resolved) + decay_matters(cases, results)
    for p in general:
        print("FAIL " + p)
    print("optim: %d cases, %d passed, %d failed%s" % (len(cases), len(cases) - failed, failed,
          ", %d matrix problems" % len(general) if general else ""))
    return 1 if failed or general else 0


if __name__ == "__main__":
    sys.exit(main())
