#!/usr/bin/python3
"""nnc's optimizers, schedules, clip_grad and validation agree with
torch.optim, torch.optim.lr_scheduler, clip_grad_norm_ and a model.eval()
validation pass.

The model is optim_mlp.nn (an 8-16-3 tanh MLP, cross-entropy, 48 rows full
batch, 100 epochs), started in nnc (--weights) and in PyTorch from the same
seeded weights. For each case the script writes a variant of its train
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
under both (it must clip at least one step); validation. A name or an
argument of nnc's with no case fails the run, as does weight decay that
changes nothing or clip_grad that never clips: a case that cannot fail is
no check.

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


def case(optim, args, schedule=None, clip=None, validate=False):
    return {"optim": optim, "args": args, "schedule": schedule, "clip": clip,
            "validate": validate}


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
        lines.append("    validate  = blobs_valid")
    text, n = re.subn(r"    optimizer\s*=\s*\w+\s*\([^)]*\)", "\n".join(lines), text)
    assert n == 1, "optim_mlp.nn has no single optimizer line"
    open(path, "w").write(text)


def parse_value(text):
    return {"true": True, "false": False}.get(text, None) if text in ("true", "false") else float(text)


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


def load_csv(name):
    rows = np.loadtxt(os.path.join(HERE, name), delimiter=",", dtype=np.float64, ndmin=2)
    return (torch.from_numpy(rows[:, :-1].astype(np.float32)),
            torch.from_numpy(rows[:, -1].astype(np.int64)))


def torch_optimizer(params, optim, args):
    """The torch.optim class with the case's arguments by torch's names;
    whatever the case leaves out takes torch's default."""
    kw = {k: v for k, v in args.items() if k not in ("beta1", "beta2")}
    if "beta1" in args or "beta2" in args:
        kw["betas"] = (args.get("beta1", 0.9), args.get("beta2", 0.999))
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop}[optim]
    return cls(params, **kw)


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


def train_torch(c, init, data, valid, dtype=torch.float32):
    """The case's run in torch: its records per epoch and final weights."""
    model = MLP().to(dtype)
    model.load_state_dict({k: torch.from_numpy(v.copy()).to(dtype) for k, v in init.items()})
    data, valid = (data[0].to(dtype), data[1]), (valid[0].to(dtype), valid[1])
    opt = torch_optimizer(model.parameters(), c["optim"], c["args"])
    sched = torch_scheduler(opt, c["schedule"]) if c["schedule"] else None
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data
    rec = {"loss": [], "lr": [], "valid_loss": [], "valid_acc": [], "norm": []}
    for _ in range(EPOCHS):
        rec["lr"].append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if c["clip"]:
            rec["norm"].append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"])))
        opt.step()
        rec["loss"].append(loss.item())
        if c["validate"]:
            model.eval()
            with torch.no_grad():
                out = model(valid[0])
                rec["valid_loss"].append(loss_fn(out, valid[1]).item())
                rec["valid_acc"].append((out.argmax(1) == valid[1]).double().mean().item())
            model.train()
        if sched:
            sched.step()
    rec["final"] = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return rec


# ------------------------------------------------------------------- cases

def rel_diff(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return np.inf
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30)))


def compare(c, doc, nnc_final, want):
    """(problems, the summary's measurements) of one case."""
    run = [s for s in doc["steps"] if s["step"] == "train"][0]["runs"][0]
    problems, cols = [], []
    if run["loss_stride"] != 1:
        problems.append("loss_stride %d, not every epoch" % run["loss_stride"])
    d = rel_diff(run["loss_per_epoch"], want["loss"])
    cols.append("loss %.4f -> %.4f  rel %.1e" % (want["loss"][0], want["loss"][-1], d))
    if d > LOSS_RTOL:
        problems.append("training loss: max relative difference %.3g > %g" % (d, LOSS_RTOL))
    wmax, wkey = 0.0, ""
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
    cols.append("weights %.1e (%s)" % (wmax, wkey))
    if c["schedule"]:
        d = rel_diff(run.get("lr_per_epoch", []), want["lr"])
        cols.append("lr rel %.1e" % d)
        if d > LR_RTOL:
            problems.append("lr_per_epoch: max relative difference %.3g > %g" % (d, LR_RTOL))
    if c["validate"]:
        d = rel_diff(run.get("valid_loss_per_epoch", []), want["valid_loss"])
        acc = np.array(run.get("valid_accuracy_per_epoch", []))
        off = int(np.sum(np.abs(acc - want["valid_acc"]) > 1e-12)) if acc.shape == (EPOCHS,) else EPOCHS
        cols.append("valid loss rel %.1e, acc %d off" % (d, off))
        if d > LOSS_RTOL:
            problems.append("valid_loss_per_epoch: max relative difference %.3g > %g" % (d, LOSS_RTOL))
        if off:
            problems.append("valid_accuracy_per_epoch differs in %d epochs" % off)
    if c["clip"]:
        clipped = sum(n > c["clip"] for n in want["norm"])
        cols.append("clipped %d/%d" % (clipped, EPOCHS))
        if clipped == 0:
            problems.append("clip_grad %g never clips: the case checks nothing" % c["clip"])
    return problems, cols


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
    """Each case with weight decay ends away from its twin without it."""
    problems = []
    plain = {}
    for c, r in zip(cases, results):
        if c["args"].get("weight_decay", None) == 0 and not (c["schedule"] or c["clip"] or c["validate"]):
            plain[(c["optim"], tuple(sorted((k, v) for k, v in c["args"].items() if k != "weight_decay")))] = r
    for c, r in zip(cases, results):
        if c["args"].get("weight_decay", None) == 0 or c["schedule"] or c["clip"] or c["validate"]:
            continue
        key = (c["optim"], tuple(sorted((k, v) for k, v in c["args"].items() if k != "weight_decay")))
        twin = plain.get(key)
        if twin is None:
            problems.append("%s: no case without weight decay to compare with" % describe(c))
        elif all(np.allclose(r["final"][k], twin["final"][k], rtol=W_RTOL, atol=W_ATOL) for k in r["final"]):
            problems.append("%s: weight decay changes nothing the check can see" % describe(c))
    return problems


def main():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.optim.lr_scheduler")
    cases = all_cases()
    data, valid = load_csv("optim_blobs.csv"), load_csv("optim_blobs_valid.csv")
    init = initial_weights()
    failed, results, resolved = 0, [], []
    with tempfile.TemporaryDirectory() as tmp:
        init_path, final_path = os.path.join(tmp, "init.safetensors"), os.path.join(tmp, "final.safetensors")
        src = os.path.join(tmp, "case.nn")
        write_safetensors(init_path, init)
        for c in cases:
            variant(c, src)
            r = dumped_train(src)
            resolved.append(r)
            doc = json.loads(nnc("run", src, "--weights", init_path, "--save", final_path, "--json"))
            want = train_torch(c, init, data, valid)
            results.append(want)
            problems, cols = compare(c, doc, read_safetensors(final_path), want)
            floor, col = conditioning(want, train_torch(c, init, data, valid, torch.float64))
            problems += floor
            cols.insert(2, col)
            problems += check_resolved(c, r)
            print("%-64s %s  %s" % (describe(c), "  ".join(cols), "FAIL" if problems else "ok"))
            for p in problems:
                print("    " + p)
            failed += bool(problems)
    general = coverage(cases, resolved) + decay_matters(cases, results)
    for p in general:
        print("FAIL " + p)
    print("optim: %d cases, %d passed, %d failed%s" % (len(cases), len(cases) - failed, failed,
          ", %d matrix problems" % len(general) if general else ""))
    return 1 if failed or general else 0


if __name__ == "__main__":
    sys.exit(main())
