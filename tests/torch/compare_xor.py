#!/usr/bin/python3
"""Trains the networks of xor_fixed.nn (or another file like it:
xor_rmsprop.nn, activations_fixed.nn) in PyTorch from the same starting
weights and compares every epoch's loss with the numbers `nnc run` prints.

usage: NNC=path/to/nnc /usr/bin/python3 compare_xor.py [FILE.nn]
       /usr/bin/python3 compare_xor.py --torch-only [FILE.nn]   (print torch's losses)

Exit status 0 when every loss agrees to REL_TOL relative, 1 otherwise.
Float32 throughout, full batch, so the two loops do the same arithmetic up to
summation order (field notes: <= 100 fp32 steps agree to ~1e-5)."""
import ast
import os
import re
import subprocess
import sys

import torch

REL_TOL = float(os.environ.get("REL_TOL", "1e-4"))
HERE = os.path.dirname(os.path.abspath(__file__))


def block_body(text, start):
    """The text between the '{' at or after start and its matching '}'."""
    open_at = text.index("{", start)
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1:i]
    raise ValueError("unbalanced braces")


def arg_value(text):
    """An optimizer argument: a number, true or false."""
    text = text.strip()
    return {"true": True, "false": False}[text] if text in ("true", "false") else float(text)


def parse_nn(path):
    """Just enough of the .nn language for this test: data, models, trains."""
    text = re.sub(r"#[^\n]*", "", open(path).read())
    data = {}
    for m in re.finditer(r"\bdataset\s+(\w+)", text):
        body = block_body(text, m.end())
        x = ast.literal_eval(re.search(r"\bx\s*=\s*(\[\[.*?\]\])", body, re.S).group(1))
        y = ast.literal_eval(re.search(r"\by\s*=\s*(\[[^\n]*\])", body).group(1))
        data[m.group(1)] = (x, y)
    models = {}
    for m in re.finditer(r"\bmodel\s+(\w+)", text):
        body = block_body(text, m.end())
        layers = []
        for lm in re.finditer(r"(\w+)\s*:\s*dense\s+(\d+)\s*,\s*(\w+)", body):
            params = block_body(body, lm.end())
            w = ast.literal_eval(re.search(r"weight\s*=\s*(\[\[.*?\]\])", params, re.S).group(1))
            b = ast.literal_eval(re.search(r"bias\s*=\s*(\[.*?\])", params, re.S).group(1))
            layers.append((lm.group(1), int(lm.group(2)), lm.group(3), w, b))
        models[m.group(1)] = layers
    trains = []
    for m in re.finditer(r"\btrain\s+(\w+)\s+on\s+(\w+)", text):
        body = block_body(text, m.end())
        opt = re.search(r"optimizer\s*=\s*(\w+)\s*\(([^)]*)\)", body)
        kwargs = {k.strip(): arg_value(v) for k, v in
                  (kv.split("=") for kv in opt.group(2).split(",") if kv.strip())}
        epochs = int(re.search(r"epochs\s*=\s*(\d+)", body).group(1))
        trains.append((m.group(1), m.group(2), opt.group(1), kwargs, epochs))
    return data, models, trains


ACTIVATIONS = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid,
               "tanh": torch.nn.Tanh, "identity": torch.nn.Identity, "gelu": torch.nn.GELU,
               "silu": torch.nn.SiLU, "elu": torch.nn.ELU, "softplus": torch.nn.Softplus,
               "hardswish": torch.nn.Hardswish, "hardsigmoid": torch.nn.Hardsigmoid}


def torch_losses(layers, x, y, optim, kwargs, epochs):
    mods = []
    in_units = len(x[0])
    for _name, units, act, w, b in layers:
        lin = torch.nn.Linear(in_units, units)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w, dtype=torch.float32))
            lin.bias.copy_(torch.tensor(b, dtype=torch.float32))
        mods += [lin, ACTIVATIONS[act]()]
        in_units = units
    model = torch.nn.Sequential(*mods)
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32).reshape(len(y), -1)
    if optim == "adam":
        betas = (kwargs.get("beta1", 0.9), kwargs.get("beta2", 0.999))
        opt = torch.optim.Adam(model.parameters(), lr=kwargs["lr"], betas=betas,
                               eps=kwargs.get("eps", 1e-8))
    elif optim == "rmsprop":  # every argument by its torch name, torch's defaults
        opt = torch.optim.RMSprop(model.parameters(), **kwargs)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=kwargs["lr"],
                              momentum=kwargs.get("momentum", 0.0))
    loss_fn = torch.nn.BCELoss()
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def nnc_losses(nnc, path):
    """{model name: {epoch: loss}} from the report of `nnc run`."""
    out = subprocess.run([nnc, "run", path], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("nnc run %s failed (exit %d):\n%s%s" % (path, out.returncode, out.stdout, out.stderr))
    result, current = {}, None
    for line in out.stdout.splitlines():
        head = re.match(r"train (\w+) on \w+:", line)
        if head:
            current = result.setdefault(head.group(1), {})
        ep = re.match(r"epoch\s+(\d+)/\d+\s+loss\s+(\S+)", line)
        if ep and current is not None:
            current[int(ep.group(1))] = float(ep.group(2))
    return result


def main(argv):
    torch_only = "--torch-only" in argv
    args = [a for a in argv[1:] if a != "--torch-only"]
    path = args[0] if args else os.path.join(HERE, "xor_fixed.nn")
    data, models, trains = parse_nn(path)
    ours = {} if torch_only else nnc_losses(os.environ.get("NNC", "nnc"), path)
    passed = failed = 0
    for model, dataset, optim, kwargs, epochs in trains:
        x, y = data[dataset]
        want = torch_losses(models[model], x, y, optim, kwargs, epochs)
        if torch_only:
            for e, l in enumerate(want, 1):
                print("%s epoch %d loss %.9g" % (model, e, l))
            continue
        got = ours.get(model, {})
        for epoch, w in enumerate(want, 1):
            g = got.get(epoch)
            rel = abs(g - w) / max(abs(w), 1e-12) if g is not None else float("inf")
            if rel <= REL_TOL:
                passed += 1
                continue
            failed += 1
            print("FAIL %s (%s %s) epoch %d: nnc %s, torch %.9g, relative difference %.3g > %g"
                  % (model, optim, kwargs, epoch, "missing" if g is None else "%.9g" % g,
                     w, rel, REL_TOL))
    if not torch_only:
        print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
