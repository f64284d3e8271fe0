"""The packages of `nnc emit --target pytorch` against nnc itself.

1. XOR under torchrun (2 processes, gloo): 4/4, and its saved weights give
   nnc the same predictions and outputs (within 1e-5).
2. The same package in one process. Both start from nnc's initial weights
   (init.safetensors), so their loss lines must follow `nnc run`'s: epoch 1
   within 1e-6, every logged epoch within 1e-3 (fp32 Adam drifts with the
   summation order); --torch-init starts from torch's weights and still
   reaches 4/4.
3. digits: data.py builds exactly nnc's digits.test rows and train split;
   a 2-epoch run under torchrun (shuffled mini-batches split between the
   processes) saves weights nnc loads and agrees with.
4. nnc's trained XOR weights load into the module (strict) with nnc's outputs.
5. Fixed-weight models (parameter blocks, step) give nnc's outputs untrained.
6. Every generated file of every example compiles (py_compile).
7. data_cases.nn: CSV corner cases, scale, split, minmax and standard
   normalisation give exactly nnc's rows.
8. xor_rmsprop.nn: the package's torch.optim.RMSprop (momentum, centered)
   follows nnc run's loss per epoch.
9. tests/torch/losses_fixed.nn: the packages of the losses with arguments
   and of bce_logits build the torch loss with them, follow nnc run's loss
   per epoch and score as nnc does (a logit is class 1 when > 0).
10. preprocess(raw rows) in model.py equals nnc's rows (scale, normalize
    with the training statistics, the input shape) bit for bit.
11. Graph models (convolutions, pooling, batchnorm, add, concat, from =):
    nnc's trained weights load (strict, batchnorm buffers included) and give
    nnc's outputs; the package saves them bit for bit, and nnc reads the
    package's file back bit for bit.
12. Full-batch graph training in train.py follows nnc run's losses and ends
    with its weights, running statistics and batch counts.
13. tests/golden/pytorch_graph.nn under torchrun: batchnorm with per-process
    statistics, a frozen batchnorm, a layer nothing reads (left untrained).
14. examples/digits_cnn.nn under torchrun (2 processes): nnc run with its
    weights counts torch's accuracy, within CNN_ACCURACY_POINTS of nnc's own.

usage: check_package.py NNC REPO_ROOT WORK_DIR"""
import importlib
import json
import os
import py_compile
import re
import subprocess
import sys
import time

import numpy as np
import torch

NNC, ROOT, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
EXAMPLES = os.path.join(ROOT, "examples")
HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
ENV = dict(os.environ, OMP_NUM_THREADS="1")
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, **kw)
    if r.returncode != 0:
        print(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
        raise SystemExit(1)
    return r


def emit(example, name, *extra):
    out = os.path.join(WORK, name)
    run([NNC, "emit", os.path.join(EXAMPLES, example), "--target", "pytorch", "-o", out, *extra])
    return out


def package(folder):
    """The generated modules of folder, imported fresh (every package has a
    model.py and a data.py)."""
    for mod in ("model", "data", "safetensors_io"):
        sys.modules.pop(mod, None)
    sys.path.insert(0, folder)
    try:
        return (importlib.import_module("model"), importlib.import_module("data"),
                importlib.import_module("safetensors_io"))
    finally:
        sys.path.remove(folder)


def nnc_json(nn_file, *args):
    return json.loads(run([NNC, "run", nn_file, "--json", *args]).stdout)


def evaluations(doc):
    return [s for s in doc["steps"] if s["step"] == "evaluate"]


def outputs(module, x):
    module.eval()
    with torch.no_grad():
        return module(x).numpy()


def compare_rows(rows, out, what):
    """nnc's JSON rows against the package's outputs: same predictions, outputs
    within 1e-5."""
    want = np.array([r["outputs"] for r in rows], dtype=np.float64)
    diff = float(np.max(np.abs(want - out)))
    if out.shape[1] == 1:
        preds = (out[:, 0] > 0.5).astype(int)
    else:
        preds = out.argmax(1)
    same = all(int(p) == r["prediction"] for p, r in zip(preds, rows))
    check(same and diff <= 1e-5, f"{what}: same predictions, max output diff {diff:.3g}")
    return diff


def logged_losses(text):
    """{epoch: loss} from the package's `epoch N/M  loss L` lines (torchrun may
    prefix them with `[default0]:`)."""
    return {int(m.group(1)): float(m.group(2))
            for m in re.finditer(r"epoch +(\d+)/\d+  loss (\S+)", text)}


def nnc_losses(nn_file):
    doc = nnc_json(nn_file)
    train = [s for s in doc["steps"] if s["step"] == "train"][0]
    return train["runs"][0]["loss_per_epoch"]


def same_curve(text, want, what):
    """The package's logged losses against nnc's loss per epoch."""
    got = logged_losses(text)
    worst = max((abs(l - want[e - 1]) / abs(want[e - 1]) for e, l in got.items()), default=1.0)
    first = abs(got.get(1, 0.0) - want[0]) / abs(want[0])
    check(len(got) >= 2 and first <= 1e-6 and worst <= 1e-3,
          f"{what}: {len(got)} logged losses follow nnc run's (epoch 1 rel diff {first:.2g}, "
          f"worst {worst:.2g})")


def torchrun(pkg, *args):
    """The command that runs pkg's train.py in 2 processes."""
    # --redirects/--tee with explicit values: torchrun 1.13 on Python 3.11
    # fails on its own defaults (IntFlag iteration changed); these work on all.
    return ["torchrun", "--standalone", "--nproc_per_node=2", "--monitor_interval=0.2",
            "--redirects=0:1", "--tee=0:1", os.path.join(pkg, "train.py"), *args]


def torchrun_xor(pkg):
    weights = os.path.join(WORK, "xor-ddp.safetensors")
    cmd = torchrun(pkg, "--save", weights)
    start = time.time()
    r = run(cmd, cwd=WORK)
    wall = time.time() - start
    text = r.stdout + r.stderr
    loss = re.search(r"final loss (\S+)", text)
    check("2 process(es)" in text, "torchrun: the script saw 2 processes")
    check("accuracy 4/4 (100.0%)" in text, "torchrun XOR: accuracy 4/4")
    print(f"     torchrun 2 processes: final loss {loss.group(1) if loss else '?'}, "
          f"wall {wall:.1f} s")
    same_curve(text, nnc_losses(os.path.join(EXAMPLES, "xor.nn")), "torchrun")
    return weights, float(loss.group(1)) if loss else None


def xor_weights_in_nnc(pkg, weights):
    model, data, st = package(pkg)
    net = model.XORNet()
    net.load_state_dict(st.load_file(weights), strict=True)
    x, _ = data.load("xor")
    doc = nnc_json(os.path.join(HERE, "xor_eval.nn"), "--weights", weights)
    compare_rows(evaluations(doc)[-1]["rows"], outputs(net, x), "DDP weights in nnc run")
    run([NNC, "run", os.path.join(EXAMPLES, "xor.nn"), "--weights", weights, "--quiet"])
    run([NNC, "emit", os.path.join(EXAMPLES, "xor.nn"), "--weights", weights,
         "-o", os.path.join(WORK, "net.c")])
    check(True, "nnc run/emit examples/xor.nn --weights accept the package's weights")


def single_process(pkg, ddp_loss):
    weights = os.path.join(WORK, "xor-one.safetensors")
    r = run([PY, os.path.join(pkg, "train.py"), "--save", weights], cwd=WORK)
    loss = float(re.search(r"final loss (\S+)", r.stdout).group(1))
    check("accuracy 4/4" in r.stdout and loss < 0.01,
          f"one process: accuracy 4/4, final loss {loss:.7g}")
    if ddp_loss is not None:
        check(abs(loss - ddp_loss) <= 1e-3 * max(loss, 1e-6) + 1e-7,
              f"one process and torchrun reach the same loss ({loss:.7g} vs {ddp_loss:.7g})")
    same_curve(r.stdout, nnc_losses(os.path.join(EXAMPLES, "xor.nn")), "one process")
    r = run([PY, os.path.join(pkg, "train.py"), "--torch-init", "--save", weights], cwd=WORK)
    other = float(re.search(r"final loss (\S+)", r.stdout).group(1))
    check("accuracy 4/4" in r.stdout and other != loss,
          f"--torch-init: other starting weights (final loss {other:.7g}), accuracy 4/4")


def digits():
    pkg = emit("digits.nn", "digitnet")
    model, data, st = package(pkg)
    doc = nnc_json(os.path.join(EXAMPLES, "digits.nn"), "--epochs", "1")
    rows = evaluations(doc)[-1]["rows"]
    x, y = data.load("digits.test")
    want_x = np.array([r["inputs"] for r in rows], dtype=np.float32)
    want_y = np.array([r["target"] for r in rows], dtype=np.float32)
    same = x.shape == want_x.shape and np.array_equal(x.numpy(), want_x) \
        and np.array_equal(y.numpy()[:, 0], want_y)
    check(same, f"digits.test: the same {len(rows)} rows and values as nnc, in order")
    ir = run([NNC, "dump", "ir", os.path.join(EXAMPLES, "digits.nn")]).stdout
    train_rows = int(re.search(r"dataset \d+ digits\.train.*\n\s+rows (\d+)", ir).group(1))
    check(len(data.load("digits.train")[0]) == train_rows,
          f"digits.train: {train_rows} rows as in nnc")
    weights = os.path.join(WORK, "digits.safetensors")
    # Two processes: mini-batches of 32 as 16 per process from a shuffling
    # DistributedSampler (XOR's full batch never shuffles).
    r = run(torchrun(pkg, "--epochs", "2", "--save", weights), cwd=WORK)
    text = r.stdout + r.stderr
    check("batch 32 (16 per process), 2 process(es)" in text,
          "digits under torchrun: 16 rows per process and step")
    acc = re.search(r"accuracy (\d+)/(\d+)", text)
    correct = int(acc.group(1)) if acc else 0
    print(f"     digits, 2 epochs in PyTorch (2 processes): accuracy {correct}/"
          f"{acc.group(2) if acc else '?'}")
    check(correct > 0.8 * len(rows), "digits: 2 epochs reach > 80% on digits.test")
    net = model.digitnet()
    net.load_state_dict(st.load_file(weights), strict=True)
    doc = nnc_json(os.path.join(HERE, "digits_eval.nn"), "--weights", weights)
    ev = evaluations(doc)[-1]
    compare_rows(ev["rows"], outputs(net, x), "digits weights in nnc run")
    check(ev["correct"] == correct, "digits: nnc counts the same accuracy")


def nnc_weights_in_module():
    pkg = os.path.join(WORK, "xornet")
    model, data, st = package(pkg)
    weights = os.path.join(WORK, "nnc-xor.safetensors")
    doc = nnc_json(os.path.join(EXAMPLES, "xor.nn"), "--save", weights)
    net = model.XORNet()
    net.load_state_dict(st.load_file(weights), strict=True)
    x, _ = data.load("xor")
    compare_rows(evaluations(doc)[-1]["rows"], outputs(net, x), "nnc's weights in the module")


def fixed_weights():
    for example, models in (("handpicked_xor.nn", ["handpicked"]),
                            ("perceptron_xor.nn", ["or_gate", "and_gate"])):
        doc = nnc_json(os.path.join(EXAMPLES, example))
        for k, name in enumerate(models):
            pkg = emit(example, f"fixed_{name}", "--model", name)
            model, data, _ = package(pkg)
            x, _ = data.load("xor")
            compare_rows(evaluations(doc)[k]["rows"], outputs(getattr(model, name)(), x),
                         f"{example} {name}: parameter blocks")


def readers_agree(data, csv, what, fast_expected):
    """data.py's two CSV paths, NumPy's parser for plain files and the
    field-by-field reader (which also names the line of a problem), must give
    the same float32 bits."""
    lines = data.read_lines(csv)
    skip, width = data.header_lines(lines, None), len(data.fields_of(lines[0]))
    fast = data.parse_fast(lines, skip, width)
    exact = data.parse_exact(csv, lines, skip, width)
    same = fast is None or np.array_equal(fast.view(np.uint32), exact.view(np.uint32))
    check(same and (fast is not None) == fast_expected,
          f"{what}: the {'fast' if fast is not None else 'exact'} CSV path, "
          f"{exact.shape[0]} rows equal to the exact reader's")


def data_cases():
    out = os.path.join(WORK, "cases")
    nn_file = os.path.join(HERE, "data_cases.nn")
    run([NNC, "emit", nn_file, "--target", "pytorch", "-o", out])
    _, data, _ = package(out)
    for ev in evaluations(nnc_json(nn_file)):
        x, y = data.load(ev["dataset"])
        want_x = np.array([r["inputs"] for r in ev["rows"]], dtype=np.float32)
        want_y = np.array([r["target"] for r in ev["rows"]], dtype=np.float32)
        same = x.shape == want_x.shape and np.array_equal(x.numpy(), want_x) \
            and np.array_equal(y.numpy()[:, 0], want_y)
        check(same, f"data_cases.nn {ev['dataset']}: the same {len(want_x)} rows as nnc")
    bad = os.path.join(WORK, "bad.csv")
    for text, where in (("1,2\n3,x\n", ":2: 'x' is not a number"), ("1,2\n3\n", ":2: 1 fields"),
                        ("1,2\n\n3,4\n", ":2: blank line"), ("1,2\n3,0x1\n", ":2: '0x1'")):
        with open(bad, "w") as f:
            f.write(text)
        try:
            data.read_csv(bad)
            message = "accepted"
        except ValueError as e:
            message = str(e)
        check(where in message, f"data.py refuses {text!r} at its line: {message}")
    readers_agree(data, os.path.join(HERE, "data", "cases.csv"), "cases.csv", True)
    readers_agree(data, os.path.join(EXAMPLES, "data", "digits.csv"), "digits.csv", True)


def rmsprop():
    nn_file = os.path.join(HERE, "xor_rmsprop.nn")
    out = os.path.join(WORK, "rmsprop")
    run([NNC, "emit", nn_file, "--target", "pytorch", "-o", out])
    r = run([PY, os.path.join(out, "train.py"), "--save", os.path.join(WORK, "rmsprop.safetensors")],
            cwd=WORK)
    check("torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, "
          "centered=centered)" in open(os.path.join(out, "train.py")).read(),
          "xor_rmsprop.nn: train.py builds torch.optim.RMSprop with every argument")
    same_curve(r.stdout, nnc_losses(nn_file), "xor_rmsprop.nn: RMSprop in PyTorch")


LOSS_PACKAGES = {"logits_net": "nn.BCEWithLogitsLoss()",
                 "huber_net": "nn.HuberLoss(delta=0.5)",
                 "smooth_net": "nn.CrossEntropyLoss(label_smoothing=0.1)"}


def losses():
    nn_file = os.path.join(ROOT, "tests", "torch", "losses_fixed.nn")
    doc = nnc_json(nn_file)
    for model, made in LOSS_PACKAGES.items():
        train = [s for s in doc["steps"] if s["step"] == "train" and s["model"] == model][0]
        score = [s for s in evaluations(doc) if s["model"] == model][0]
        out = os.path.join(WORK, model)
        run([NNC, "emit", nn_file, "--target", "pytorch", "--model", model, "-o", out])
        r = run([PY, os.path.join(out, "train.py"), "--save", os.path.join(WORK, model + ".safetensors")],
                cwd=WORK)
        check(f"return {made}" in open(os.path.join(out, "train.py")).read(),
              f"losses_fixed.nn {model}: train.py builds {made}")
        same_curve(r.stdout, train["runs"][0]["loss_per_epoch"], f"losses_fixed.nn {model}")
        if "correct" in score:
            verdict = f"accuracy {score['correct']}/{score['total']} "
            same = verdict in r.stdout
        else:
            verdict = f"mse {score['mse']:.7g}"
            got = re.search(r": mse (\S+)", r.stdout)
            same = got is not None and abs(float(got.group(1)) - score["mse"]) <= 1e-5 * score["mse"]
        check(same, f"losses_fixed.nn {model}: train.py scores {verdict.strip()} as nnc")


def compile_all():
    count = models = 0
    for example in sorted(os.listdir(EXAMPLES)):
        if not example.endswith(".nn"):
            continue
        base = example[:-3]
        doc = run([NNC, "dump", "ir", os.path.join(EXAMPLES, example)]).stdout
        for name in re.findall(r"^model \d+ (\w+)", doc, re.M) or [None]:
            extra = ["--model", name] if name else []
            pkg = emit(example, f"compile_{base}_{name}", *extra)
            models += 1
            for f in os.listdir(pkg):
                if f.endswith(".py"):
                    py_compile.compile(os.path.join(pkg, f), doraise=True)
                    count += 1
    check(count > 0, f"py_compile: {count} generated files of every model of every example "
                     f"({models} models)")


# Graph models (convolutions, pooling, batchnorm, add, concat, from =) whose
# package must take nnc's weights and give them back exactly. nnc trains
# each for GRAPH_EPOCHS epochs (batchnorm's running statistics and batch
# count move away from their starting values).
GRAPH_MODELS = [os.path.join(EXAMPLES, f) for f in
                ("digits_cnn.nn", "digits_res.nn", "two_towers.nn", "waves.nn")] + \
               [os.path.join(ROOT, "tests", "golden", "pytorch_graph.nn"),
                os.path.join(HERE, "graph_input.nn")] + \
               [os.path.join(ROOT, "tests", "torch", f) for f in
                ("graph_separable.nn", "graph_strided.nn", "graph_waves.nn")]
GRAPH_EPOCHS = "2"
# Outputs of the same weights in nnc and PyTorch differ by the summation
# order of the convolutions and products (float32): relative to the output.
OUTPUT_RTOL = 1e-5


def same_bits(a, b):
    """Two {name: tensor} dicts with the same keys, shapes and float32 bits."""
    return set(a) == set(b) and all(
        tuple(a[k].shape) == tuple(b[k].shape) and
        a[k].to(torch.float32).numpy().tobytes() == b[k].to(torch.float32).numpy().tobytes()
        for k in a)


def close_outputs(rows, out):
    """The largest |nnc - torch| / max(1, |nnc|) over nnc's evaluation rows."""
    want = np.array([r["outputs"] for r in rows], dtype=np.float64)
    return float(np.max(np.abs(want - out) / np.maximum(1.0, np.abs(want))))


def graph_weights(nn_file):
    """nnc's trained weights load into the package's module (strict), which
    then gives nnc's outputs on every evaluated dataset; the module's
    state_dict saved by the package is nnc's file bit for bit, and nnc reads
    it back (--weights, then --save) bit for bit."""
    base = os.path.basename(nn_file)[:-3]
    pkg = os.path.join(WORK, "graph_" + base)
    run([NNC, "emit", nn_file, "--target", "pytorch", "-o", pkg])
    model, data, st = package(pkg)
    nnc_w = os.path.join(WORK, base + "-nnc.safetensors")
    doc = nnc_json(nn_file, "--epochs", GRAPH_EPOCHS, "--save", nnc_w)
    want = st.load_file(nnc_w)
    cls = [v for k, v in vars(model).items()
           if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == "model"
           and k != "StepFunction"][0]
    net = cls()
    missing = net.load_state_dict(want, strict=True)
    buffers = sorted(k for k in want if k.endswith(("running_mean", "running_var",
                                                    "num_batches_tracked")))
    worst = 0.0
    for ev in evaluations(doc):
        x, _ = data.load(ev["dataset"])
        worst = max(worst, close_outputs(ev["rows"], outputs(net, x)))
    check(not missing.missing_keys and worst <= OUTPUT_RTOL,
          f"{base}: nnc's weights load (strict, {len(want)} tensors, {len(buffers)} batchnorm "
          f"buffers), outputs within {worst:.2g} of nnc's")
    pkg_w = os.path.join(WORK, base + "-pkg.safetensors")
    st.save_file(net.state_dict(), pkg_w)
    check(same_bits(st.load_file(pkg_w), want),
          f"{base}: the package saves nnc's weights bit for bit")
    again = os.path.join(WORK, base + "-again.safetensors")
    run([NNC, "run", nn_file, "--weights", pkg_w, "--epochs", "0", "--save", again, "--quiet"])
    check(same_bits(st.load_file(again), want),
          f"{base}: nnc run --weights reads the package's weights bit for bit")


def raw_rows(data, source):
    """The rows of dataset source as written (before scale and normalize):
    its loader with prepare() replaced by one that keeps x as it is."""
    real = data.prepare
    data.prepare = lambda name, x, y, **kw: {
        name: (np.array(x, dtype=np.float32).reshape(len(x), -1), y)}
    try:
        return data.LOADERS[source].__wrapped__(data.DATA_ROOT)[source][0]
    finally:
        data.prepare = real


def preprocessing():
    """model.preprocess(raw rows) is the input nnc builds from them (scale,
    normalize with the training rows' statistics, the input shape): equal to
    data.load's rows bit for bit."""
    cases = ((os.path.join(EXAMPLES, "digits_cnn.nn"), "digits"),
             (os.path.join(HERE, "data_cases.nn"), "cases"),
             (os.path.join(ROOT, "tests", "golden", "pytorch_mix.nn"), "blobs"),
             (os.path.join(ROOT, "tests", "golden", "pytorch_graph.nn"), "tiles"))
    for nn_file, source in cases:
        base = os.path.basename(nn_file)[:-3]
        pkg = os.path.join(WORK, "pre_" + base)
        run([NNC, "emit", nn_file, "--target", "pytorch", "-o", pkg])
        model, data, _ = package(pkg)
        raw = raw_rows(data, source)
        x, _ = data.load(source)
        got = model.preprocess(raw)
        steps = [s for s in ("SCALE", "NORM_SHIFT") if hasattr(model, s)]
        check(tuple(got.shape) == tuple(x.shape) and got.numpy().tobytes() == x.numpy().tobytes(),
              f"{base}: preprocess({len(raw)} raw rows of {source}) = nnc's rows {tuple(x.shape)} "
              f"bit for bit ({', '.join(steps) or 'no steps'})")


# The digits CNN trained under torchrun comes back into nnc with the
# accuracy torch measured, and near nnc's own training: the two trainings
# differ in the shuffles (torch's sampler) and in batchnorm's statistics
# (per process: 16 rows of the global 32, docs/interop.md), so the test
# accuracy may differ by a few rows. CNN_ACCURACY_POINTS is that bound.
CNN_ACCURACY_POINTS = 2.0


def digits_cnn_ddp():
    nn_file = os.path.join(EXAMPLES, "digits_cnn.nn")
    pkg = emit("digits_cnn.nn", "digits_cnn_pkg")
    weights = os.path.join(WORK, "digits_cnn-ddp.safetensors")
    start = time.time()
    r = run(torchrun(pkg, "--save", weights), cwd=WORK)
    wall = time.time() - start
    text = r.stdout + r.stderr
    acc = re.search(r"accuracy (\d+)/(\d+)", text)
    torch_correct, total = (int(acc.group(1)), int(acc.group(2))) if acc else (0, 1)
    check("batch 32 (16 per process), 2 process(es)" in text,
          "digits_cnn under torchrun: 2 processes, 16 rows each per step")
    ev = evaluations(nnc_json(nn_file, "--weights", weights, "--epochs", "0"))[-1]
    own = evaluations(nnc_json(nn_file))[-1]
    model, data, st = package(pkg)
    net = model.digits_cnn()
    net.load_state_dict(st.load_file(weights), strict=True)
    x, _ = data.load("digits.test")
    diff = close_outputs(ev["rows"], outputs(net, x))
    points = 100 * abs(ev["correct"] - own["correct"]) / total
    print(f"     digits_cnn, 20 epochs under torchrun (2 processes): {torch_correct}/{total}; "
          f"nnc run with those weights {ev['correct']}/{total}; nnc's own training "
          f"{own['correct']}/{total}; wall {wall:.1f} s")
    check(ev["correct"] == torch_correct and diff <= OUTPUT_RTOL,
          f"digits_cnn: the torchrun weights in nnc run count {ev['correct']}/{total} as torch "
          f"did, outputs within {diff:.2g}")
    check(points <= CNN_ACCURACY_POINTS,
          f"digits_cnn: torchrun's accuracy within {CNN_ACCURACY_POINTS} points of nnc run's "
          f"own ({points:.2f})")


def graph_training():
    """Full-batch graph models trained by the package's train.py (one
    process) follow nnc run's loss per epoch, and end with nnc's weights and
    batchnorm buffers (running statistics updated in training, also under a
    frozen layer; the batch count exactly)."""
    for nn_file in (os.path.join(ROOT, "tests", "golden", "pytorch_graph.nn"),
                    os.path.join(HERE, "graph_input.nn"),
                    os.path.join(ROOT, "tests", "torch", "graph_separable.nn")):
        base = os.path.basename(nn_file)[:-3]
        pkg = os.path.join(WORK, "train_" + base)
        run([NNC, "emit", nn_file, "--target", "pytorch", "-o", pkg])
        _, _, st = package(pkg)
        mine, theirs = (os.path.join(WORK, f"{base}-{who}.safetensors") for who in ("pt", "nnc"))
        r = run([PY, os.path.join(pkg, "train.py"), "--save", mine], cwd=WORK)
        doc = nnc_json(nn_file, "--save", theirs)
        train = [s for s in doc["steps"] if s["step"] == "train"][0]
        same_curve(r.stdout, train["runs"][0]["loss_per_epoch"], f"{base}: train.py")
        got, want = st.load_file(mine), st.load_file(theirs)
        worst = max(float(((got[k].double() - want[k].double()).abs() /
                           (1.0 + want[k].double().abs())).max()) for k in want)
        counts = [k for k in want if k.endswith("num_batches_tracked")]
        check(set(got) == set(want) and worst <= 1e-4 and
              all(float(got[k]) == float(want[k]) for k in counts),
              f"{base}: train.py ends with nnc run's weights and buffers (worst "
              f"{worst:.2g}), batch counts {[int(want[k]) for k in counts]} equal")


def graph_ddp():
    """tests/golden/pytorch_graph.nn under torchrun (2 processes, 2 rows each):
    batchnorm over images and over features with per-process statistics, a
    frozen batchnorm, and a layer nothing reads, which DistributedDataParallel
    accepts only untrained (it keeps its initial weights, as in nnc, where its
    gradient is 0). nnc runs the result with the module's outputs."""
    nn_file = os.path.join(ROOT, "tests", "golden", "pytorch_graph.nn")
    pkg = os.path.join(WORK, "ddp_pytorch_graph")
    run([NNC, "emit", nn_file, "--target", "pytorch", "-o", pkg])
    model, data, st = package(pkg)
    weights = os.path.join(WORK, "pytorch_graph-ddp.safetensors")
    r = run(torchrun(pkg, "--save", weights), cwd=WORK)
    text = r.stdout + r.stderr
    got, init = st.load_file(weights), st.load_file(os.path.join(pkg, "init.safetensors"))
    probe = {k: v for k, v in got.items() if k.startswith("probe.")}
    check("2 process(es)" in text and probe and
          same_bits(probe, {k: init[k] for k in probe}),
          "pytorch_graph under torchrun: trained in 2 processes, the unread layer untouched")
    net = model.tilenet()
    net.load_state_dict(got, strict=True)
    ev = evaluations(nnc_json(nn_file, "--weights", weights, "--epochs", "0"))[-1]
    x, _ = data.load(ev["dataset"])
    diff = close_outputs(ev["rows"], outputs(net, x))
    check(diff <= OUTPUT_RTOL, f"pytorch_graph: the torchrun weights in nnc run, outputs within "
                               f"{diff:.2g}")


def main():
    os.makedirs(WORK, exist_ok=True)
    compile_all()
    data_cases()
    pkg = emit("xor.nn", "xornet")
    weights, ddp_loss = torchrun_xor(pkg)
    xor_weights_in_nnc(pkg, weights)
    single_process(pkg, ddp_loss)
    nnc_weights_in_module()
    fixed_weights()
    digits()
    rmsprop()
    losses()
    preprocessing()
    for nn_file in GRAPH_MODELS:
        graph_weights(nn_file)
    graph_training()
    graph_ddp()
    digits_cnn_ddp()
    if failures:
        print(f"tests/pytorch: {len(failures)} failed")
        return 1
    print("tests/pytorch: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
