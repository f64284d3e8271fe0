"""`nnc emit --target onnx --quantize int8` against `nnc run --quantize int8`.
For each case: onnx.checker accepts the QDQ model (full_check), and
onnxruntime (tests/onnx/run_ort.js) run on the rows `nnc run --quantize int8
--json` evaluated gives int8 outputs at most one quantization step from
nnc's; the number of values that are not identical and the largest
difference are printed per case.

What is compared: onnxruntime computes each layer between its DQ and Q nodes
in float (or with its own integer kernels) and rounds ties to even; nnc
computes in fixed point (TFLite's MultiplyByQuantizedMultiplier) and rounds
ties away from zero. Two differences are therefore not the layers':
  - the input. A float exactly halfway between two int8 steps quantizes one
    step apart (x = 1 at scale 2/85 is 42.5 steps). The rows are given to
    onnxruntime as nnc quantized them, (q - zero) * scale, which both
    quantize to q; how many raw values were such ties is printed.
  - a difference carried forward. A one-step difference in a layer's input
    can move its output by more than a step when its output scale is finer
    (softmax's fixed 1/256 after a dense of scale ~0.02; a dense after a
    global average pool; a sigmoid's table). Where it does, the end-to-end
    difference is printed and bounded by CARRIED.
So every layer is also checked alone: `nnc run --trace-int8` gives each
layer's int8 values; for each layer, the part of the QDQ graph from the int8
tensors it reads to its own int8 tensor is cut out (onnx.utils.extract_model)
and run in onnxruntime on nnc's values of those tensors, and its output must
be within one step of nnc's value of the layer, on every row. The number of
values that are not identical is printed per layer.
A model with a layer that cannot be quantized is refused (exit 1, nothing
written) naming the layer.
usage: check_int8.py NNC EXAMPLES_DIR"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import onnx.shape_inference
import onnx.utils

HERE = os.path.dirname(os.path.abspath(__file__))
G, T = "../tests/golden/", "../tests/onnx/"
# (file under EXAMPLES_DIR, --model): every QKind reaches onnxruntime:
# dense and its folded relu (xor, digits), every table activation
# (quant_every_activation, activations, all_ops, emit_gelu), softmax
# (emit_softmax, all_ops every_op), conv2d with a folded relu, a depthwise
# dilated conv with its batchnorm folded, max/avg/global pools (quant_convs
# img, digits_cnn), conv1d and the 1-D pools (quant_convs seq, waves),
# flatten (digits_cnn), add (digits_res, quant_mix), concat (two_towers,
# quant_mix, and of twelve inputs: wide_mix), a [1, 2, 2] input
# (preprocess on_minmax), and graph shapes (int8_graphs: a dropout, a
# concat or a softmax as the output, residual adds).
CASES = [("xor.nn", None), ("logistic_xor.nn", None),
         ("handpicked_xor.nn", None), ("digits.nn", None), ("overfit.nn", "stopped"),
         (G + "emit_softmax.nn", None), (G + "emit_logits.nn", None),
         ("activations.nn", "step_curve"), ("activations.nn", "relu_curve"),
         (G + "quant_every_activation.nn", None), (G + "emit_gelu.nn", None),
         (T + "all_ops.nn", "every_op"), (T + "all_ops.nn", "steps"),
         (T + "all_ops.nn", "smooth"), (T + "all_ops.nn", "gated"),
         ("digits_cnn.nn", None), ("digits_res.nn", None), ("two_towers.nn", None),
         ("waves.nn", None), (G + "quant_convs.nn", "img"), (G + "quant_convs.nn", "seq"),
         (G + "quant_mix.nn", None), (T + "wide_mix.nn", None),
         (T + "preprocess.nn", "on_minmax"), (T + "int8_graphs.nn", "ends_dropout"),
         (T + "int8_graphs.nn", "ends_concat"), (T + "int8_graphs.nn", "ends_softmax"),
         (T + "int8_graphs.nn", "res_chain")]
# The case's end-to-end bound where a one-step difference of a layer is
# carried forward into more than a step (each layer alone is within one).
# Keyed by the case's label (FILE, or FILE --model NAME).
CARRIED = {G + "emit_softmax.nn": 2, "digits_res.nn": 3, "waves.nn": 2, T + "wide_mix.nn": 2,
           T + "int8_graphs.nn --model ends_concat": 3}
# Refused by the int8 path itself (a batchnorm with no conv or dense to
# fold into), so by --target onnx --quantize int8 too, naming the layer.
REFUSED = [(G + "quant_batchnorm_alone.nn", "batchnorm"), (T + "graph_ops.nn", "batchnorm")]


def nnc_rows(nnc, path, model):
    """nnc's evaluated rows: (float inputs, int8 outputs, every layer's int8
    values), and the names of the layers in that order."""
    doc = json.loads(subprocess.run([nnc, "run", path, "--quantize", "int8", "--json",
                                     "--trace-int8"],
                                    check=True, capture_output=True, text=True).stdout)
    rows, names = [], []
    for step in doc["steps"]:
        if step["step"] == "quantize" and (model is None or step["model"] == model):
            names = [v["node"] for v in step["values"]]
            rows += [(r["inputs"], r["int8"], r["layers"]) for r in step["rows"]]
    return rows, names


def ort(path, stdin, mode):
    """run_ort.js on MODEL path: mode is the per-sample SHAPE list of the
    float rows in stdin, or "--feeds" for named int8 tensors."""
    arg = mode if mode == "--feeds" else ",".join(map(str, mode))
    r = subprocess.run(["node", os.path.join(HERE, "run_ort.js"), path, arg],
                       input=json.dumps(stdin), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"onnxruntime: {r.stderr.strip()}")
    return [[int(v) for v in row] for row in json.loads(r.stdout)]


# ---- nnc's integer arithmetic (include/nnc/quant.h), to recompute a layer

def round_away(v):
    r = math.trunc(v)
    return r + 1 if v - r >= 0.5 else r - 1 if v - r <= -0.5 else r


def nnc_quantize(x, scale, zero):
    """q8_quantize: x / scale in float32, limited to [-256, 256], ties away."""
    v = float(np.float32(x) / np.float32(scale))
    return min(max(round_away(min(max(v, -256.0), 256.0)) + zero, -128), 127)


def onnx_quantize(x, scale, zero):
    """QuantizeLinear: x / scale in float32, ties to even."""
    return min(max(round(float(np.float32(x) / np.float32(scale))) + zero, -128), 127)


# ---- the cases

def steps(got, want):
    pairs = [(a, b) for g, w in zip(got, want) for a, b in zip(g, w)]
    return sum(a != b for a, b in pairs), max(abs(a - b) for a, b in pairs), len(pairs)


def sample_shapes(proto):
    """{tensor: its per-sample shape}, from shape inference."""
    g = onnx.shape_inference.infer_shapes(proto).graph
    return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim[1:]]
            for v in list(g.value_info) + list(g.output)}


def layer_inputs(proto):
    """{int8 tensor of a layer: the layers' int8 tensors its computation
    reads}. A layer's int8 tensor is NAME.q (the last one's: output), what
    its QuantizeLinear (or a flatten's Flatten of the int8 tensor) writes;
    between them the graph is DequantizeLinear, the op in float, and the
    QuantizeLinear."""
    producer = {o: n for n in proto.graph.node for o in n.output}
    layers = [n.output[0] for n in proto.graph.node  # in graph order, for the report
              if n.output[0] == "output" or n.output[0].endswith(".q")]
    is_layer = set(layers)
    reads = {}
    for t in layers:
        found, seen, stack = [], set(), list(producer[t].input)
        while stack:
            v = stack.pop()
            if v in seen or v not in producer:  # an initializer or the float input
                continue
            seen.add(v)
            if v in is_layer:
                found.append(v)
            else:
                stack += producer[v].input
        if found:  # not input.q, which reads the float input
            reads[t] = sorted(found)
    return reads


def per_layer(label, path, proto, rows, names, tmp):
    """Every layer alone: onnxruntime's part of the graph from the int8
    tensors the layer reads to its own, fed nnc's int8 values of those
    (--trace-int8), against nnc's int8 value of the layer."""
    def trace(tensor):  # NAME.q is layer NAME's value; output the last one's
        k = len(names) - 1 if tensor == "output" else names.index(tensor[:-len(".q")])
        return [layers[k] for _, _, layers in rows]
    problems, total, differ, detail = [], 0, 0, []
    shapes = sample_shapes(proto)
    for k, (t, reads) in enumerate(layer_inputs(proto).items()):
        cut = os.path.join(tmp, f"layer{k}.onnx")
        onnx.utils.extract_model(path, cut, reads, [t])
        feeds = {x: {"shape": shapes[x], "rows": trace(x)} for x in reads}
        got, want = ort(cut, feeds, "--feeds"), trace(t)
        d, worst, n = steps(got, want)
        total, differ = total + n, differ + d
        if d:
            detail.append(f"{t} {d}" + (f" ({worst} steps)" if worst > 1 else ""))
        if worst > 1 or len(got) != len(want):
            problems.append(f"{label}: layer {t} alone is {worst} steps from nnc")
    print(f"    each layer alone on nnc's int8 inputs: {total} int8 values, {differ} not "
          f"identical ({', '.join(detail) or 'none'})")
    return problems


def check_case(nnc, examples, name, model, tmp):
    path = os.path.join(examples, name)
    label = name + (f" --model {model}" if model else "")
    out = os.path.join(tmp, "q.onnx")
    subprocess.run([nnc, "emit", path, "--target", "onnx", "--quantize", "int8", "-o", out] +
                   (["--model", model] if model else []), check=True, capture_output=True)
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    shape = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:]]
    init = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    s, z = init["input.scale"], int(init["input.zero"])
    rows, names = nnc_rows(nnc, path, model)
    if not rows:
        return [f"{label}: nnc run --quantize int8 --json gave no rows"]
    rows_q = [[nnc_quantize(v, s, z) for v in x] for x, _, _ in rows]
    if [layers[0] for _, _, layers in rows] != rows_q or names[0] != "input" or \
            [layers[-1] for _, _, layers in rows] != [w for _, w, _ in rows]:
        return [f"{label}: --trace-int8's first and last layers are not the int8 input "
                f"and output"]
    ties = sum(nnc_quantize(v, s, z) != onnx_quantize(v, s, z) for x, _, _ in rows for v in x)
    fed = [[float(np.float32(q - z) * s) for q in r] for r in rows_q]
    try:
        got = ort(out, fed, shape)
    except RuntimeError as e:
        return [f"{label}: {e}"]
    want = [w for _, w, _ in rows]
    differ, worst, n = steps(got, want)
    print(f"  {label}: {len(rows)} rows, {n} int8 outputs, {differ} not identical "
          f"(at most {worst} step{'s' if worst != 1 else ''} away); {ties} input values on a "
          f"rounding tie")
    problems = []
    if len(got) != len(rows) or worst > CARRIED.get(label, 1):
        problems.append(f"{label}: {worst} steps from nnc")
    try:
        return problems + per_layer(label, out, proto, rows, names, tmp)
    except RuntimeError as e:
        return problems + [f"{label}: {e}"]


def check_refused(nnc, examples, name, op, tmp):
    out = os.path.join(tmp, "r.onnx")
    r = subprocess.run([nnc, "emit", os.path.join(examples, name), "--target", "onnx",
                        "--quantize", "int8", "-o", out], capture_output=True, text=True)
    if r.returncode != 1 or os.path.exists(out) or f"({op})" not in r.stderr:
        return [f"{name}: not refused by name (exit {r.returncode}): {r.stderr.strip()}"]
    print(f"  {name}: refused, naming its {op} layer")
    return []


def main():
    nnc, examples = sys.argv[1], sys.argv[2]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in CASES:
            problems += check_case(nnc, examples, name, model, tmp)
        for name, op in REFUSED:
            problems += check_refused(nnc, examples, name, op, tmp)
    for p in problems:
        print("FAIL", p)
    print(f"onnx int8: {len(CASES)} cases, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
