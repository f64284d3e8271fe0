"""The emitted C agrees with the interpreter. For each example (and model):
`nnc run --json` gives the interpreter's outputs for every evaluated row;
`nnc emit --main` gives a program; it is compiled with gcc and clang under
-std=c99 -Wall -Wextra -pedantic -Werror, fed the same rows, and its outputs
must match bit for bit (the emitted sums run in the interpreter's order).
Where a batchnorm is folded into the weights before it, the folded file is
held to FOLD_TOL of each row's largest output and the same predictions, and
the same model emitted with --keep-batchnorm must match bit for bit again.
The plain file (no --main) includes only <math.h>, uses no heap, is byte-
identical when emitted twice, and its static buffers (at -O0) are exactly
the NAME_RAM_BYTES it states.
usage: emit_check.py NNC EXAMPLES_DIR"""
import re
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
    ("digits_cnn.nn", None), ("digits_res.nn", None), ("two_towers.nn", None), ("waves.nn", None),
    ("../tests/golden/emit_gelu.nn", None), ("../tests/golden/emit_activations.nn", None),
    ("../tests/golden/emit_layers.nn", None), ("../tests/golden/emit_seq.nn", None),
]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2", "-ffp-contract=off"]
FOLD_TOL = 1e-5


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


def bss_bytes(obj):
    """The sizes of an object file's zero-initialised symbols (nm -S: the
    static buffers; the section itself also counts alignment padding)."""
    out = subprocess.run(["nm", "-S", obj], check=True, capture_output=True, text=True).stdout
    return sum(int(f[1], 16) for f in (l.split() for l in out.splitlines())
               if len(f) == 4 and f[2] in "bB")


def check_plain_file(nnc, path, model, tmp):
    """Without --main the file includes <math.h> and nothing else, no heap;
    the same twice; its .bss is the RAM it states."""
    out = os.path.join(tmp, "plain.c")
    args = [nnc, "emit", path, "-o", out] + (["--model", model] if model else [])
    subprocess.run(args, check=True, capture_output=True)
    text = open(out).read()
    subprocess.run(args, check=True, capture_output=True)
    if open(out).read() != text:
        return ["emitting twice gave different files"]
    includes = sorted({l.strip() for l in text.splitlines() if l.startswith("#include")})
    problems = []
    if includes != ["#include <math.h>"]:
        problems.append(f"includes {includes}")
    for word in ("malloc", "calloc", "realloc", "free("):
        if word in text:
            problems.append(f"uses {word}")
    stated = re.search(r"#define \w+_RAM_BYTES (\d+)", text)
    obj = os.path.join(tmp, "plain.o")
    # -O0: every buffer stays (-O2 may keep a small network's in registers)
    subprocess.run(["gcc"] + STRICT[:-2] + ["-O0", "-c", "-o", obj, out], check=True)
    if not stated or int(stated.group(1)) != bss_bytes(obj):
        problems.append(f"states RAM {stated and stated.group(1)} bytes, .bss is {bss_bytes(obj)}")
    return problems


def argmax(v):
    return max(range(len(v)), key=lambda j: v[j])


def compare(rows, produced):
    """Bit-identical outputs, the largest difference relative to its row's
    largest |output|, and rows whose predicted class differs."""
    worst, identical, flips = 0.0, 0, 0
    for (inputs, want), line in zip(rows, produced):
        got = [float(v) for v in line.split(",")]
        scale = max(max(abs(w) for w in want), 1e-30)
        for w, g in zip(want, got):
            if f32(w) == f32(g):
                identical += 1
            worst = max(worst, abs(w - g) / scale)
        flips += len(want) > 1 and argmax(want) != argmax(got)
    return worst, identical, flips


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
    folded = "batchnorm, folded into" in open(src).read()
    problems += check_program(rows, src, label + (" (batchnorm folded)" if folded else ""), folded,
                              tmp)
    if folded:
        subprocess.run([nnc, "emit", path, "--main", "--keep-batchnorm", "-o", src] +
                       (["--model", model] if model else []), check=True, capture_output=True)
        problems += check_program(rows, src, label + " --keep-batchnorm", False, tmp)
    return problems


def check_program(rows, src, label, folded, tmp):
    """src built by gcc and clang, fed the rows: exact, or within FOLD_TOL."""
    problems = []
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
        worst, identical, flips = compare(rows, lines)
        total = sum(len(o) for _, o in rows)
        print(f"  {label} [{cc}]: {len(rows)} rows, {identical}/{total} outputs bit-identical,"
              f" max diff {worst:.2e} of the row's largest output, {flips} predictions differ")
        if not folded and identical != total:
            problems.append(f"{label}: {cc}: {total - identical} outputs differ from nnc run's")
        if folded and (worst > FOLD_TOL or flips):
            problems.append(f"{label}: {cc}: folded difference {worst:.2e} > {FOLD_TOL} "
                            f"or {flips} predictions differ")
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
