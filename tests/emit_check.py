"""The emitted C agrees with the interpreter. For each example (and model):
`nnc run --json` gives the interpreter's outputs for every evaluated row;
`nnc emit --main` gives a program; it is compiled with gcc and clang under
-std=c99 -Wall -Wextra -pedantic -Werror, fed the same rows, and its outputs
must match: at most 1e-5 relative difference, and we report how many are
bit-identical (all of them, when the summation order is the same).
usage: emit_check.py NNC EXAMPLES_DIR"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

CASES = [
    ("xor.nn", None), ("logistic_xor.nn", None), ("and.nn", None), ("or.nn", None),
    ("perceptron_xor.nn", "or_gate"), ("perceptron_xor.nn", "and_gate"),
    ("handpicked_xor.nn", None), ("lr_sweep.nn", None),
    ("activations.nn", "sigmoid_curve"), ("activations.nn", "tanh_curve"),
    ("digits.nn", None),
    ("../tests/golden/emit_gelu.nn", None), ("../tests/golden/emit_activations.nn", None),
]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2", "-ffp-contract=off"]
REL_TOL = 1e-5


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def interpreter_rows(nnc, path, model):
    doc = json.loads(subprocess.run([nnc, "run", path, "--json"], check=True,
                                    capture_output=True, text=True).stdout)
    rows = []
    for step in doc["steps"]:
        if step["step"] == "evaluate" and (model is None or step["model"] == model):
            rows += [(r["inputs"], r["outputs"]) for r in step["rows"]]
    return rows


def check_plain_file(nnc, path, model, tmp):
    """Without --main the file includes <math.h> and nothing else, no heap."""
    out = os.path.join(tmp, "plain.c")
    subprocess.run([nnc, "emit", path, "-o", out] + (["--model", model] if model else []),
                   check=True, capture_output=True)
    text = open(out).read()
    includes = sorted({l.strip() for l in text.splitlines() if l.startswith("#include")})
    problems = []
    if includes != ["#include <math.h>"]:
        problems.append(f"includes {includes}")
    for word in ("malloc", "calloc", "realloc", "free("):
        if word in text:
            problems.append(f"uses {word}")
    return problems


def compare(rows, produced):
    worst, identical = 0.0, 0
    for (inputs, want), line in zip(rows, produced):
        got = [float(v) for v in line.split(",")]
        for w, g in zip(want, got):
            if f32(w) == f32(g):
                identical += 1
            worst = max(worst, abs(w - g) / max(abs(w), 1e-30))
    return worst, identical


def check_case(nnc, examples, name, model, tmp):
    path = os.path.join(examples, name)
    label = name + (f" --model {model}" if model else "")
    rows = interpreter_rows(nnc, path, model)
    if not rows:
        return [f"{label}: no evaluated rows"]
    problems = [f"{label}: {p}" for p in check_plain_file(nnc, path, model, tmp)]
    src = os.path.join(tmp, "net.c")
    subprocess.run([nnc, "emit", path, "--main", "-o", src] + (["--model", model] if model else []),
                   check=True, capture_output=True)
    stdin = "".join(",".join(repr(v) for v in x) + "\n" for x, _ in rows)
    for cc in ("gcc", "clang"):
        if not shutil.which(cc):
            problems.append(f"{label}: {cc} not installed")
            continue
        exe = os.path.join(tmp, "net-" + cc)
        build = subprocess.run([cc] + STRICT + ["-o", exe, src, "-lm"], capture_output=True, text=True)
        if build.returncode != 0:
            problems.append(f"{label}: {cc} failed:\n{build.stderr}")
            continue
        out = subprocess.run([exe], input=stdin, capture_output=True, text=True, check=True)
        lines = out.stdout.splitlines()
        if len(lines) != len(rows):
            problems.append(f"{label}: {cc} program printed {len(lines)} rows, expected {len(rows)}")
            continue
        worst, identical = compare(rows, lines)
        total = sum(len(o) for _, o in rows)
        print(f"  {label} [{cc}]: {len(rows)} rows, {identical}/{total} outputs bit-identical,"
              f" max rel diff {worst:.2e}")
        if worst > REL_TOL:
            problems.append(f"{label}: {cc}: max relative difference {worst:.2e} > {REL_TOL}")
    return problems


def main():
    nnc, examples = sys.argv[1], sys.argv[2]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in CASES:
            if not os.path.exists(os.path.join(examples, name)):
                print(f"FAIL {name}: missing example")
                failed += 1
                continue
            problems = check_case(nnc, examples, name, model, tmp)
            for p in problems:
                print("FAIL " + p)
            failed += bool(problems)
            passed += not problems
    print(f"emit: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
