"""`nnc emit --target onnx --quantize int8` against `nnc run --quantize int8`.
For each MLP example the int8 ONNX writer supports: onnx.checker accepts the
QDQ model (full_check), and onnxruntime (tests/onnx/run_ort.js) run on the
rows `nnc run --quantize int8 --json` evaluated gives int8 outputs at most
one quantization step from nnc's (onnxruntime computes between its Q and DQ
nodes in float or with its own integer kernels, nnc in fixed point); the
number of values that are not identical is printed per case. Where the
model ends in softmax, a one-step difference in its input (scale ~0.02)
moves a probability by more than one step of softmax's fixed 1/256: there
two steps are allowed. A model with a
layer it cannot write is refused (exit 1, nothing written).
usage: check_int8.py NNC EXAMPLES_DIR"""
import json
import os
import subprocess
import sys
import tempfile

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
G, T = "../tests/golden/", "../tests/onnx/"
# (file under EXAMPLES_DIR, --model): every QKind reaches onnxruntime:
# dense and its folded relu (xor, digits), every table activation
# (quant_every_activation, activations, all_ops), softmax (emit_softmax,
# all_ops every_op), conv2d with a folded relu, a depthwise dilated conv
# with its batchnorm folded, max/avg/global pools (quant_convs img,
# digits_cnn), conv1d and the 1-D pools (quant_convs seq, waves), flatten
# (digits_cnn), add (digits_res, quant_mix), concat (two_towers, quant_mix).
CASES = [("xor.nn", None), ("logistic_xor.nn", None),
         ("handpicked_xor.nn", None), ("digits.nn", None), ("overfit.nn", "stopped"),
         (G + "emit_softmax.nn", None), (G + "emit_logits.nn", None),
         ("activations.nn", "step_curve"), ("activations.nn", "relu_curve"),
         (G + "quant_every_activation.nn", None), (G + "emit_gelu.nn", None),
         (T + "all_ops.nn", "every_op"), (T + "all_ops.nn", "steps"),
         (T + "all_ops.nn", "smooth"), (T + "all_ops.nn", "gated"),
         ("digits_cnn.nn", None), ("digits_res.nn", None), ("two_towers.nn", None),
         ("waves.nn", None), (G + "quant_convs.nn", "img"), (G + "quant_convs.nn", "seq"),
         (G + "quant_mix.nn", None), (T + "preprocess.nn", "on_minmax")]
SOFTMAX_OUTPUT = {G + "emit_softmax.nn"}
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


def check_case(nnc, examples, name, model, tmp):
    path = os.path.join(examples, name)
    label = name + (f" --model {model}" if model else "")
    out = os.path.join(tmp, "q.onnx")
    subprocess.run([nnc, "emit", path, "--target", "onnx", "--quantize", "int8", "-o", out] +
                   (["--model", model] if model else []), check=True, capture_output=True)
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    shape = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:]]
    rows = nnc_rows(nnc, path, model)
    if not rows:
        return [f"{label}: nnc run --quantize int8 --json gave no rows"]
    ort = subprocess.run(["node", os.path.join(HERE, "run_ort.js"), out,
                          ",".join(map(str, shape))],
                         input=json.dumps([x for x, _ in rows]), capture_output=True, text=True)
    if ort.returncode != 0:
        return [f"{label}: onnxruntime: {ort.stderr.strip()}"]
    got = json.loads(ort.stdout)
    pairs = [(int(a), b) for g, (_, w) in zip(got, rows) for a, b in zip(g, w)]
    differ = sum(a != b for a, b in pairs)
    hist = {}
    for a, b in pairs:
        hist[abs(a - b)] = hist.get(abs(a - b), 0) + 1
    print("    hist", sorted(hist.items()))
    worst = max(abs(a - b) for a, b in pairs)
    print(f"  {label}: {len(rows)} rows, {len(pairs)} int8 outputs, {differ} not identical "
          f"(at most {worst} step{'s' if worst != 1 else ''} away)")
    allowed = 2 if name in SOFTMAX_OUTPUT else 1
    return [f"{label}: {worst} steps from nnc"] if worst > allowed or len(got) != len(rows) else []


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
