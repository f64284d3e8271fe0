"""The int8 C file agrees with `nnc run --quantize int8`. For each example
(and model) the int8 path supports: `nnc run --quantize int8 --json` gives
the runtime's int8 outputs for every evaluated row; `nnc emit --quantize int8
--main` gives a program that quantizes the same float rows with its
NAME_quantize_input and runs NAME_forward; built by gcc and clang under
-std=c99 -Wall -Wextra -pedantic -Werror -Wdouble-promotion -Wfloat-conversion,
its int8 outputs must be identical on every row. The plain file includes only
<stdint.h>, no heap, is the same when emitted twice, says no `float` or
`double` before its float helpers, and that inference part compiles with
gcc -mgeneral-regs-only (any floating-point use is then an error). Models
the int8 path cannot run must be refused, naming the layer.
usage: quant_check.py NNC EXAMPLES_DIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CASES = [
    ("xor.nn", None), ("logistic_xor.nn", None), ("and.nn", None), ("or.nn", None),
    ("perceptron_xor.nn", "or_gate"), ("perceptron_xor.nn", "and_gate"),
    ("handpicked_xor.nn", None), ("lr_sweep.nn", None), ("overfit.nn", "stopped"),
    ("activations.nn", "sigmoid_curve"), ("activations.nn", "tanh_curve"),
    ("activations.nn", "relu_curve"), ("digits.nn", None), ("digits_cnn.nn", None),
    ("waves.nn", None), ("digits_res.nn", None), ("two_towers.nn", None),
    ("../tests/golden/quant_mix.nn", None), ("../tests/golden/quant_convs.nn", "img"),
    ("../tests/golden/quant_convs.nn", "seq"),
    ("../tests/golden/emit_gelu.nn", None), ("../tests/golden/emit_activations.nn", None),
    ("../tests/golden/emit_preprocess.nn", None), ("../tests/golden/emit_softmax.nn", None),
    ("../tests/golden/emit_wide.nn", None), ("../tests/golden/emit_logits.nn", None),
    ("../tests/golden/quant_every_activation.nn", None),
    ("../tests/onnx/int8_graphs.nn", "ends_dropout"), ("../tests/onnx/int8_graphs.nn", "ends_concat"),
    ("../tests/onnx/int8_graphs.nn", "ends_softmax"), ("../tests/onnx/int8_graphs.nn", "res_chain"),
]
REFUSED = [("../tests/golden/emit_layers.nn", "batchnorm"),
           ("../tests/golden/emit_seq.nn", "batchnorm")]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-Wdouble-promotion",
          "-Wfloat-conversion", "-O2"]
HELPERS = "/* ---- Float helpers"


def runtime_rows(nnc, path, model):
    doc = json.loads(subprocess.run([nnc, "run", path, "--quantize", "int8", "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    rows = []
    for step in doc["steps"]:
        if step["step"] == "quantize" and (model is None or step["model"] == model):
            rows += [(r["inputs"], r["int8"]) for r in step["rows"]]
    return rows


def emit(nnc, path, model, out, extra=()):
    args = [nnc, "emit", path, "--quantize", "int8", "-o", out] + list(extra)
    subprocess.run(args + (["--model", model] if model else []), check=True, capture_output=True)
    return open(out).read()


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def check_plain_file(nnc, path, model, tmp):
    out = os.path.join(tmp, "plain.c")
    text = emit(nnc, path, model, out)
    problems = []
    if emit(nnc, path, model, out) != text:
        problems.append("emitting twice gave different files")
    includes = sorted({l.strip() for l in text.splitlines() if l.startswith("#include")})
    if includes != ["#include <stdint.h>"]:
        problems.append(f"includes {includes}")
    for word in ("malloc", "calloc", "realloc", "free(", "math.h"):
        if word in text:
            problems.append(f"uses {word}")
    if HELPERS not in text:
        return problems + ["no float helpers section"]
    inference = text[:text.index(HELPERS)]
    # the helpers' prototypes come first, declarations only
    code = re.sub(r"^void \w+_(preprocess|quantize_input|dequantize_output)\(.*\);$", "",
                  strip_comments(inference), flags=re.M)
    found = sorted(set(re.findall(r"\b(float|double)\b|\d\.\d*f\b", code)))
    if found:
        problems.append(f"the inference path mentions {found}")
    # the integer part alone (declarations of the helpers stay prototypes)
    part = os.path.join(tmp, "inference.c")
    with open(part, "w") as f:
        f.write(inference)
    build = subprocess.run(["gcc"] + STRICT + ["-Wno-unused-function", "-mgeneral-regs-only",
                                               "-c", "-o",
                                               os.path.join(tmp, "inference.o"), part],
                           capture_output=True, text=True)
    if build.returncode != 0:
        problems.append(f"the inference part needs floating point:\n{build.stderr}")
    return problems


def check_program(rows, src, label, tmp):
    problems = []
    stdin = "".join(",".join(repr(v) for v in x) + "\n" for x, _ in rows)
    for cc, opt in (("gcc", "-O2"), ("clang", "-O2"), ("gcc", "-Os")):
        if not shutil.which(cc):
            problems.append(f"{label}: {cc} not installed")
            continue
        exe = os.path.join(tmp, "net-" + cc)
        flags = [opt if f == "-O2" else f for f in STRICT]
        build = subprocess.run([cc] + flags + ["-o", exe, src], capture_output=True, text=True)
        name = cc if opt == "-O2" else f"{cc} {opt}"
        if build.returncode != 0:
            problems.append(f"{label}: {name} failed:\n{build.stderr}")
            continue
        out = subprocess.run([exe], input=stdin, capture_output=True, text=True, check=True)
        got = [[int(v) for v in l.split(",")] for l in out.stdout.splitlines()]
        same = sum(g == w for g, (_, w) in zip(got, rows))
        print(f"  {label} [{name}]: {same}/{len(rows)} rows of int8 outputs identical")
        if len(got) != len(rows) or same != len(rows):
            problems.append(f"{label}: {name}: {len(rows) - same} rows differ from nnc run")
    return problems


def check_case(nnc, examples, name, model, tmp):
    path = os.path.join(examples, name)
    label = name + (f" --model {model}" if model else "")
    rows = runtime_rows(nnc, path, model)
    if not rows:
        return [f"{label}: no int8 rows from nnc run --quantize int8"]
    problems = [f"{label}: {p}" for p in check_plain_file(nnc, path, model, tmp)]
    src = os.path.join(tmp, "net.c")
    emit(nnc, path, model, src, ["--main"])
    return problems + check_program(rows, src, label, tmp)


def check_refused(nnc, examples, name, op):
    path = os.path.join(examples, name)
    for cmd in (["emit", path, "--quantize", "int8", "-o", "/dev/null"],
                ["run", path, "--quantize", "int8", "--epochs", "0"]):
        r = subprocess.run([nnc] + cmd, capture_output=True, text=True)
        if r.returncode != 1 or f"({op})" not in r.stderr or "cannot be quantized" not in r.stderr:
            return [f"{name}: {cmd[0]} --quantize int8 should refuse its {op} layer "
                    f"(exit {r.returncode}): {r.stderr.strip()}"]
    print(f"  {name}: refused, naming its {op} layer")
    return []


def main():
    nnc, examples = sys.argv[1], sys.argv[2]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in CASES:
            problems += check_case(nnc, examples, name, model, tmp)
        for name, op in REFUSED:
            problems += check_refused(nnc, examples, name, op)
    for p in problems:
        print("FAIL", p)
    print(f"quant_check: {len(CASES)} int8 cases, {len(REFUSED)} refusals, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
