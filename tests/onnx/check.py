"""`nnc emit --target onnx` against `nnc run`. For each example (and model),
and the models of tests/onnx/all_ops.nn (every op the writer knows):
  - onnx.checker.check_model(full_check=True) accepts the file;
  - its structure is what the IR says: IR version 7, opset 13, input "input"
    [N, per-sample shape] ([N, F], [N, C, L] or [N, C, H, W]) and output
    "output" [N, out], the ONNX ops of each IR node in order (ONNX_OPS),
    node names = IR node names, and the parameter initializers are exactly
    the keys and float32 values of `nnc run --save` (safetensors), less
    batchnorm's num_batches_tracked, which inference does not read;
  - onnxruntime (onnxruntime-node, tests/onnx/run_ort.js) run on the rows
    `nnc run --json` evaluated gives the same outputs: |a - b| <= 1e-5 *
    max(1, |b|) for each, b the interpreter's. The max abs difference is
    printed per case.
usage: check.py NNC EXAMPLES_DIR"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from emit_check import CASES, f32, interpreter_rows  # noqa: E402  (same examples as the C emitter)

HERE = os.path.dirname(os.path.abspath(__file__))
ALL_OPS = os.path.relpath(os.path.join(HERE, "all_ops.nn"))
# Beyond the C emitter's cases: the other activation curves, and all_ops.nn.
EXTRA = [("activations.nn", "relu_curve"), ("activations.nn", "step_curve")]
# Examples also checked with --raw-input on their raw pixels (check_raw_example).
RAW_EXAMPLES = ["digits_cnn.nn", "digits_res.nn", "two_towers.nn"]
# The preprocessing in the model (metadata, --raw-input), on a CSV of raw rows.
PREPROCESS = os.path.relpath(os.path.join(HERE, "preprocess.nn"))
PREPROCESS_CSV = os.path.join(HERE, "preprocess.csv")
PREPROCESS_MODELS = ["on_standard", "on_minmax"]
GRAPH_OPS = os.path.relpath(os.path.join(HERE, "graph_ops.nn"))
OWN = [(ALL_OPS, "every_op"), (ALL_OPS, "steps"), (ALL_OPS, "smooth"), (ALL_OPS, "gated"),
       (GRAPH_OPS, "seq_ops"), (GRAPH_OPS, "image_ops"),
       (PREPROCESS, "on_standard"), (PREPROCESS, "on_minmax")]
# The convolutional and graph examples (issue 13), beyond the C emitter's.
GRAPHS = [("digits_cnn.nn", None), ("digits_res.nn", None), ("two_towers.nn", None),
          ("waves.nn", None)]
# The initializers that are the node's parameter tensors (others are constants
# of a node's formula: NAME.zero, NAME.ratio, NAME.half...).
PARAM_SUFFIXES = (".weight", ".bias", ".running_mean", ".running_var")
TOL = 1e-5
# IR kind (as `nnc dump ir` prints it) -> the ONNX ops written for it.
ONNX_OPS = {
    "dense": ["Gemm"], "relu": ["Relu"], "sigmoid": ["Sigmoid"], "tanh": ["Tanh"],
    "softmax": ["Softmax"], "leaky_relu": ["LeakyRelu"], "identity": ["Identity"],
    "dropout": ["Dropout"], "step": ["Greater", "Cast"],
    "gelu": ["Mul", "Erf", "Add", "Mul", "Mul"], "silu": ["Sigmoid", "Mul"],
    "elu": ["Elu"], "softplus": ["Softplus"], "hardswish": ["HardSigmoid", "Mul"],
    "hardsigmoid": ["HardSigmoid"],
    "conv1d": ["Conv"], "conv2d": ["Conv"], "maxpool1d": ["MaxPool"], "maxpool2d": ["MaxPool"],
    "avgpool1d": ["AveragePool"], "avgpool2d": ["AveragePool"],
    "global_avgpool": ["GlobalAveragePool", "Flatten"],
    "global_maxpool": ["GlobalMaxPool", "Flatten"], "flatten": ["Flatten"],
    "batchnorm": ["BatchNormalization"], "concat": ["Concat"],
    # "add": one Add per input after the first (onnx_ops)
}


def onnx_ops(kind, n_inputs):
    return ["Add"] * (n_inputs - 1) if kind == "add" else ONNX_OPS[kind]


def shape_after(line, marker):
    """[1, 8, 8] of the shape that follows marker in a `dump ir` line."""
    text = line.split(marker, 1)[1].strip()
    return [int(d) for d in text[1:text.index("]")].split(",")]


def ir_nodes(nnc, path, model):
    """([(kind, name, inputs)] of the model's nodes after the input, input shape,
    output shape) from `nnc dump ir`."""
    out = subprocess.run([nnc, "dump", "ir", path], check=True, capture_output=True,
                         text=True).stdout
    nodes, current, first, shape = [], None, None, None
    for line in out.splitlines():
        words = line.split()
        if line.startswith("model "):
            current = words[2]
            first = first or current
        elif line.startswith("  node ") and current == (model or first):
            if words[2] == "input":
                shape = shape_after(line, "->")
                continue
            nodes.append((words[2], words[3], line.split("<-")[1].split("->")[0].count("[")))
            out_shape = shape_after(line, "->")
    return nodes, shape, out_shape


def safetensors(path):
    """{key: (shape, float32 values)} of a safetensors file."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for key, t in header.items():
        if key == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        tensors[key] = (t["shape"], list(struct.unpack(f"<{(hi - lo) // 4}f", body[lo:hi])))
    return tensors


def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check_structure(m, ir, saved, rows):
    """Problems with the graph's shape, ops, names and weights."""
    nodes, in_shape, out_shape = ir
    g = m.graph
    problems = []
    if m.ir_version != 7 or [(o.domain, o.version) for o in m.opset_import] != [("", 13)]:
        problems.append(f"ir_version {m.ir_version}, opsets {m.opset_import}")
    n_in, n_out = len(rows[0][0]), len(rows[0][1])
    if math.prod(in_shape) != n_in or math.prod(out_shape) != n_out:
        problems.append(f"dump ir's shapes {in_shape} -> {out_shape} for rows of {n_in} -> {n_out}")
    got_io = ([(v.name, dims(v)) for v in g.input], [(v.name, dims(v)) for v in g.output])
    if got_io != ([("input", ["N"] + in_shape)], [("output", ["N"] + out_shape)]):
        problems.append(f"inputs/outputs {got_io}")
    want_ops = [op for kind, _, n_inputs in nodes for op in onnx_ops(kind, n_inputs)]
    if [n.op_type for n in g.node] != want_ops:
        problems.append(f"ops {[n.op_type for n in g.node]}, expected {want_ops}")
    names = {n.name for n in g.node}
    missing = [name for _, name, _ in nodes if name not in names]
    if missing:
        problems.append(f"no ONNX node named {missing}")
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    params = {k: v for k, v in inits.items() if k.endswith(PARAM_SUFFIXES)}
    saved = {k: v for k, v in saved.items() if not k.endswith(".num_batches_tracked")}
    if sorted(params) != sorted(saved):
        problems.append(f"initializers {sorted(params)}, safetensors keys {sorted(saved)}")
    for key, (shape, values) in saved.items():
        if key in params and (list(params[key].shape) != shape or
                              params[key].astype("float32").ravel().tolist() != values):
            problems.append(f"initializer {key} differs from the saved tensor")
    return problems


def run_ort(model_path, rows, in_shape):
    shape = ",".join(str(d) for d in in_shape)
    out = subprocess.run(["node", os.path.join(HERE, "run_ort.js"), model_path, shape],
                         input=json.dumps([x for x, _ in rows]), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return json.loads(out.stdout)


def compare(rows, produced):
    """(max abs diff, values out of tolerance)."""
    worst, bad = 0.0, 0
    for (_, want), got in zip(rows, produced):
        for b, a in zip(want, got):
            worst = max(worst, abs(a - b))
            bad += abs(a - b) > TOL * max(1.0, abs(b))
    return worst, bad


def check_case(nnc, path, model, tmp):
    label = os.path.basename(path) + (f" --model {model}" if model else "")
    pick = ["--model", model] if model else []
    rows = interpreter_rows(nnc, path, model)
    if not rows:
        return [f"{label}: no evaluated rows"]
    onnx_path, st_path = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "w.safetensors")
    subprocess.run([nnc, "emit", "--target", "onnx", path, "-o", onnx_path] + pick,
                   check=True, capture_output=True)
    subprocess.run([nnc, "run", "-q", path, "--save", st_path] + pick, check=True,
                   capture_output=True)
    m = onnx.load(onnx_path)
    try:
        onnx.checker.check_model(m, full_check=True)
    except onnx.checker.ValidationError as e:
        return [f"{label}: onnx.checker: {e}"]
    ir = ir_nodes(nnc, path, model)
    problems = check_structure(m, ir, safetensors(st_path), rows)
    produced = run_ort(onnx_path, rows, ir[1])
    worst, bad = compare(rows, produced)
    total = sum(len(w) for _, w in rows)
    print(f"  {label}: {os.path.getsize(onnx_path)} bytes, {len(m.graph.node)} nodes, "
          f"{len(rows)} rows, {total} outputs, max abs diff {worst:.2e}")
    if len(produced) != len(rows) or bad:
        problems.append(f"{bad} of {total} outputs differ by more than {TOL} (relative to "
                        f"max(1, |nnc|)); max abs diff {worst:.2e}")
    return [f"{label}: {p}" for p in problems]


def raw_rows(path):
    """The feature columns of a CSV with a header and the label last."""
    lines = open(path).read().split("\n")[1:]
    return [[float(v) for v in line.split(",")[:-1]] for line in lines if line]


def preprocessed(meta, raw):
    """raw features through nnc.preprocess.*: x * scale, then (x - shift) / divisor
    per feature (0 where the divisor is 0)."""
    scale = float(meta["nnc.preprocess.scale"])
    if meta["nnc.preprocess.normalize"] == "none":
        return [[f32(v * scale) for v in row] for row in raw]
    shift = json.loads(meta["nnc.preprocess.shift"])
    div = json.loads(meta["nnc.preprocess.divisor"])
    return [[(f32(v * scale) - s) / d if d > 0 else 0.0 for v, s, d in zip(row, shift, div)]
            for row in raw]


def check_preprocess(nnc, model, tmp):
    """The model's metadata maps the dataset's raw CSV rows onto the inputs `nnc
    run` evaluates (the dataset is evaluated whole, in file order); the
    --raw-input model passes onnx.checker, starts with Mul/Sub/Div, and on the
    raw rows in onnxruntime gives nnc's outputs."""
    label = f"{os.path.basename(PREPROCESS)} --model {model}"
    rows = interpreter_rows(nnc, PREPROCESS, model)
    raw = raw_rows(PREPROCESS_CSV)
    problems = []
    plain, with_raw = os.path.join(tmp, "plain.onnx"), os.path.join(tmp, "raw.onnx")
    for path, extra in ((plain, []), (with_raw, ["--raw-input"])):
        subprocess.run([nnc, "emit", "--target", "onnx", PREPROCESS, "--model", model, "-o", path]
                       + extra, check=True, capture_output=True)
    meta = {p.key: p.value for p in onnx.load(plain).metadata_props}
    if len(raw) != len(rows) or not meta.get("nnc.input", "").count("preprocessed"):
        return [f"{label}: {len(raw)} raw rows, {len(rows)} evaluated; metadata {meta}"]
    worst = max(abs(a - b) for row, (x, _) in zip(preprocessed(meta, raw), rows)
                for a, b in zip(row, x))
    if worst > 1e-6:
        problems.append(f"metadata's preprocessing is off by {worst:.2e} from nnc's inputs")
    m = onnx.load(with_raw)
    try:
        onnx.checker.check_model(m, full_check=True)
    except onnx.checker.ValidationError as e:
        return [f"{label} --raw-input: onnx.checker: {e}"]
    lead = [n.op_type for n in m.graph.node][:3]
    want = (["Mul"] if meta["nnc.preprocess.scale"] != "1" else []) + ["Sub", "Div"]
    if lead[:len(want)] != want or "raw" not in dict((p.key, p.value) for p in
                                                     m.metadata_props)["nnc.input"]:
        problems.append(f"--raw-input graph starts {lead}, expected {want}")
    _, in_shape, _ = ir_nodes(nnc, PREPROCESS, model)
    produced = run_ort(with_raw, [(r, None) for r in raw], in_shape)
    worst_out, bad = compare(rows, produced)
    print(f"  {label}: metadata maps raw rows to nnc's inputs within {worst:.2e}; --raw-input "
          f"model on raw rows: max abs diff {worst_out:.2e}")
    if bad:
        problems.append(f"--raw-input: {bad} outputs differ by more than {TOL}")
    return [f"{label}: {p}" for p in problems]


def check_raw_example(nnc, path, tmp):
    """An example whose dataset only scales by a power of two (the digits'
    0.0625), so that the raw pixels are exactly nnc's inputs / scale: its
    --raw-input model on those pixels gives nnc's outputs."""
    label = os.path.basename(path) + " --raw-input"
    rows = interpreter_rows(nnc, path, None)
    out = os.path.join(tmp, "raw.onnx")
    subprocess.run([nnc, "emit", "--target", "onnx", "--raw-input", path, "-o", out], check=True,
                   capture_output=True)
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    meta = {p.key: p.value for p in m.metadata_props}
    scale = float(meta["nnc.preprocess.scale"])
    if meta["nnc.preprocess.normalize"] != "none" or math.frexp(scale)[0] != 0.5:
        return [f"{label}: not a power-of-two scale alone: {meta}"]
    raw = [[v / scale for v in x] for x, _ in rows]
    _, in_shape, _ = ir_nodes(nnc, path, None)
    worst, bad = compare(rows, run_ort(out, [(r, None) for r in raw], in_shape))
    print(f"  {label}: raw pixels in, max abs diff {worst:.2e}")
    return [f"{label}: {bad} outputs differ by more than {TOL}"] if bad else []


def main():
    nnc, examples = sys.argv[1], sys.argv[2]
    cases = [(os.path.join(examples, f), mdl) for f, mdl in CASES + EXTRA + GRAPHS] + OWN
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path, model in cases:
            if not os.path.exists(path):
                print(f"FAIL {path}: missing")
                failed += 1
                continue
            problems = check_case(nnc, path, model, tmp)
            for p in problems:
                print("FAIL " + p)
            failed += bool(problems)
            passed += not problems
    for name in RAW_EXAMPLES:
        with tempfile.TemporaryDirectory() as tmp:
            problems = check_raw_example(nnc, os.path.join(examples, name), tmp)
        for p in problems:
            print("FAIL " + p)
        failed += bool(problems)
        passed += not problems
    for model in PREPROCESS_MODELS:
        with tempfile.TemporaryDirectory() as tmp:
            problems = check_preprocess(nnc, model, tmp)
        for p in problems:
            print("FAIL " + p)
        failed += bool(problems)
        passed += not problems
    print(f"onnx: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
