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
    difference is printed and bounded by CARRIED, and layers are checked
    alone, within one step, on the same int8 input: ISOLATED, input ->
    dense -> softmax, where nnc's dense is recomputed here from the ONNX
    model's int8 weights with TFLite's integer arithmetic (asserted to give,
    through nnc's softmax, nnc's outputs exactly on every row), compared
    with onnxruntime's dense, and onnxruntime's softmax run on nnc's own
    dense values (the graph cut there); ALONE, a dense or a global average
    pool recomputed with nnc's arithmetic on onnxruntime's own int8 value
    of the layer before it, against onnxruntime's value of the layer.
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
# (preprocess on_minmax).
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
         (T + "preprocess.nn", "on_minmax")]
# The case's end-to-end bound where a difference is carried forward, and
# the layer whose two ends are checked in isolation (input -> dense ->
# softmax models).
CARRIED = {G + "emit_softmax.nn": 2, "digits_res.nn": 3, "waves.nn": 2, T + "wide_mix.nn": 2}
ISOLATED = {G + "emit_softmax.nn": "scores"}
# ... and the models whose last dense reads a global average pool or
# feeds a sigmoid's table (whose slope turns a step of a coarse input into
# several): the dense, and the pool, each on onnxruntime's own int8 input.
ALONE = {"digits_res.nn": ["gap", "out"], "waves.nn": ["gap", "out"],
         T + "wide_mix.nn": ["out"]}
# Refused by the int8 path itself (a batchnorm with no conv or dense to
# fold into), so by --target onnx --quantize int8 too, naming the layer.
REFUSED = [(G + "quant_batchnorm_alone.nn", "batchnorm"), (T + "graph_ops.nn", "batchnorm")]


def nnc_rows(nnc, path, model):
    doc = json.loads(subprocess.run([nnc, "run", path, "--quantize", "int8", "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    rows = []
    for step in doc["steps"]:
        if step["step"] == "quantize" and (model is None or step["model"] == model):
            rows += [(r["inputs"], r["int8"]) for r in step["rows"]]
    return rows


def ort(path, rows, shape, int8=False):
    r = subprocess.run(["node", os.path.join(HERE, "run_ort.js"), path,
                        ",".join(map(str, shape))] + (["int8"] if int8 else []),
                       input=json.dumps(rows), capture_output=True, text=True)
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


def multiply(x, mult, shift):
    """MultiplyByQuantizedMultiplier (q8_multiply)."""
    x = min(max(x << max(shift, 0), -2**31), 2**31 - 1)
    if x == mult == -2**31:
        high = 2**31 - 1
    else:
        ab = x * mult
        s = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
        high = abs(s) >> 31 if s >= 0 else -(abs(s) >> 31)
    e = max(-shift, 0)
    mask = (1 << e) - 1
    return (high >> e) + ((high & mask) > (mask >> 1) + (1 if high < 0 else 0))


def quantize_multiplier(real):
    frac, e = math.frexp(real)
    fixed = round_away(frac * 2**31)
    if fixed == 2**31:
        fixed, e = fixed // 2, e + 1
    return (0, 0) if e < -31 else (fixed, e)


def nnc_dense(x, zx, sx, w, w_scale, bias, out_scale, out_zero):
    y = []
    for c in range(len(w)):
        acc = int(bias[c]) + sum(int(wj) * (xj - zx) for wj, xj in zip(w[c], x))
        m, sh = quantize_multiplier(float(sx) * float(w_scale[c]) / float(out_scale))
        y.append(min(max(multiply(acc, m, sh) + out_zero, -128), 127))
    return y


def nnc_softmax(x, scale):
    exp_q16 = [math.floor(math.exp(-d * float(scale)) * 65536 + 0.5) for d in range(256)]
    top = max(x)
    total = sum(exp_q16[top - v] for v in x)
    return [min(max((2 * exp_q16[top - v] * 256 + total) // (2 * total) - 128, -128), 127)
            for v in x]


# ---- the cases

def steps(got, want):
    pairs = [(a, b) for g, w in zip(got, want) for a, b in zip(g, w)]
    return sum(a != b for a, b in pairs), max(abs(a - b) for a, b in pairs), len(pairs)


def part(proto_path, inp, out, tmp, tag):
    """The graph from tensor inp to tensor out, renamed input -> output."""
    path = os.path.join(tmp, f"{tag}.onnx")
    onnx.utils.extract_model(proto_path, path, [inp], [out])
    m = onnx.load(path)
    for node in m.graph.node:
        node.input[:] = ["input" if v == inp else v for v in node.input]
        node.output[:] = ["output" if v == out else v for v in node.output]
    m.graph.input[0].name, m.graph.output[0].name = "input", "output"
    onnx.save(m, path)
    return path


def sample_shape(proto, tensor):
    """The per-sample shape of a tensor of the graph, from shape inference."""
    g = onnx.shape_inference.infer_shapes(proto).graph
    vi = next(v for v in list(g.value_info) + list(g.output) if v.name == tensor)
    return [d.dim_value for d in vi.type.tensor_type.shape.dim[1:]]


def isolate(label, path, proto, layer, rows_q, fed, want, tmp):
    """input -> dense `layer` -> softmax: each op on the same int8 input."""
    init = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    pre = f"{layer}.q"
    sx, zx = init["input.scale"], int(init["input.zero"])
    out_s, out_z = init[f"{layer}.out.scale"], int(init[f"{layer}.out.zero"])
    w, ws, b = (init[f"{layer}.weight.q"], init[f"{layer}.weight.scale"],
                init[f"{layer}.bias.q"])
    nnc_pre = [nnc_dense(q, zx, sx, w, ws, b, out_s, out_z) for q in rows_q]
    if [nnc_softmax(p, out_s) for p in nnc_pre] != want:
        return [f"{label}: nnc's dense and softmax recomputed do not give nnc's outputs"]
    units = [len(nnc_pre[0])]
    to_pre = ort(part(path, "input", pre, tmp, "to_pre"), fed, [len(fed[0])])
    after = ort(part(path, pre, "output", tmp, "after"), nnc_pre, units, int8=True)
    problems = []
    for what, got, ref in ((f"{layer} (dense)", to_pre, nnc_pre), ("softmax", after, want)):
        differ, worst, n = steps(got, ref)
        print(f"    in isolation, {what}: {n} int8 values, {differ} not identical "
              f"(at most {worst} step{'s' if worst != 1 else ''} away)")
        if worst > 1:
            problems.append(f"{label}: {what} alone is {worst} steps from nnc")
    return problems


def nnc_global_avgpool(x, zero, channels):
    """q8_pool over the whole [C][positions]: the mean of q - zero, rounded
    half away from zero, plus zero."""
    per = len(x) // channels
    out = []
    for c in range(channels):
        acc = sum(v - zero for v in x[c * per:(c + 1) * per])
        mean = (acc + per // 2) // per if acc >= 0 else -((-acc + per // 2) // per)
        out.append(min(max(mean + zero, -128), 127))
    return out


def alone(label, path, proto, layer, fed, shape, tmp):
    """Layer `layer` (a dense or a global average pool) on onnxruntime's own
    int8 value of the layer before it: nnc's arithmetic recomputed against
    onnxruntime's int8 value of it."""
    init = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    op = next(n for n in proto.graph.node if n.name in (layer, f"{layer}.pooled"))
    x, sx, zx = next(n for n in proto.graph.node if n.output[0] == op.input[0]).input
    y = next(n for n in proto.graph.node if n.name == f"{layer}.quantize").output[0]
    xs = ort(part(path, "input", x, tmp, "to_x"), fed, shape)
    got = ort(part(path, x, y, tmp, "after"), xs, sample_shape(proto, x), int8=True)
    if op.op_type == "Gemm":
        ys = [nnc_dense(v, int(init[zx]), init[sx], init[f"{layer}.weight.q"],
                        init[f"{layer}.weight.scale"], init[f"{layer}.bias.q"],
                        init[f"{layer}.out.scale"], int(init[f"{layer}.out.zero"])) for v in xs]
    else:
        ys = [nnc_global_avgpool(v, int(init[zx]), len(g)) for v, g in zip(xs, got)]
    differ, worst, n = steps(got, ys)
    print(f"    in isolation, {layer} ({op.op_type}) on onnxruntime's {x}: {n} int8 values, "
          f"{differ} not identical (at most {worst} step{'s' if worst != 1 else ''} away)")
    return [f"{label}: {layer} alone is {worst} steps from nnc"] if worst > 1 else []


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
    rows = nnc_rows(nnc, path, model)
    if not rows:
        return [f"{label}: nnc run --quantize int8 --json gave no rows"]
    rows_q = [[nnc_quantize(v, s, z) for v in x] for x, _ in rows]
    ties = sum(nnc_quantize(v, s, z) != onnx_quantize(v, s, z) for x, _ in rows for v in x)
    fed = [[float(np.float32(q - z) * s) for q in r] for r in rows_q]
    try:
        got = ort(out, fed, shape)
    except RuntimeError as e:
        return [f"{label}: {e}"]
    want = [w for _, w in rows]
    differ, worst, n = steps(got, want)
    print(f"  {label}: {len(rows)} rows, {n} int8 outputs, {differ} not identical "
          f"(at most {worst} step{'s' if worst != 1 else ''} away); {ties} input values on a "
          f"rounding tie")
    problems = []
    if len(got) != len(rows) or worst > CARRIED.get(name, 1):
        problems.append(f"{label}: {worst} steps from nnc")
    if name in ISOLATED:
        problems += isolate(label, out, proto, ISOLATED[name], rows_q, fed, want, tmp)
    for layer in ALONE.get(name, []):
        problems += alone(label, out, proto, layer, fed, shape, tmp)
    return problems


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
