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
CASES = [("xor.nn", None), ("logistic_xor.nn", None),
         ("handpicked_xor.nn", None), ("digits.nn", None), ("overfit.nn", "stopped"),
         ("../tests/golden/emit_softmax.nn", None), ("../tests/golden/emit_logits.nn", None)]
SOFTMAX_OUTPUT = {"../tests/golden/emit_softmax.nn"}
REFUSED = [("digits_cnn.nn", "conv2d"), ("and.nn", "step")]


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
    onnx.checker.check_model(onnx.load(out), full_check=True)
    rows = nnc_rows(nnc, path, model)
    ort = subprocess.run(["node", os.path.join(HERE, "run_ort.js"), out],
                         input=json.dumps([x for x, _ in rows]), capture_output=True, text=True)
    if ort.returncode != 0:
        return [f"{label}: onnxruntime: {ort.stderr.strip()}"]
    got = json.loads(ort.stdout)
    pairs = [(int(a), b) for g, (_, w) in zip(got, rows) for a, b in zip(g, w)]
    differ = sum(a != b for a, b in pairs)
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
