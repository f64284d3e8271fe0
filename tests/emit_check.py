"""The emitted C agrees with the interpreter. For each example (and model):
`nnc run --json` gives the interpreter's outputs for every evaluated row;
`nnc emit --main` gives a program; it is compiled with gcc and clang under
-std=c99 -Wall -Wextra -pedantic -Werror, fed the same rows, and its outputs
must match bit for bit (the emitted sums run in the interpreter's order);
-Wvla proves there is no variable-length array.
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
    ("../tests/golden/emit_preprocess.nn", None),
]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Wvla", "-Werror", "-O2", "-ffp-contract=off"]
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
    problems += [f"{label}: {p}" for p in check_preprocess(path, rows, tmp)]
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


PREPROCESS_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "plain.c"
int main(void)
{
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        float raw[%(P)s_IN], in[%(P)s_IN];
        char *p = line;
        for (int j = 0; j < %(P)s_IN; j++) {
            raw[j] = strtof(p, &p);
            p += *p == ',';
        }
        %(p)s_preprocess(raw, in);
        for (int j = 0; j < %(P)s_IN; j++)
            printf(j ? ",%%a" : "%%a", (double)in[j]);
        putchar('\n');
    }
    return 0;
}
"""


def check_preprocess(path, rows, tmp):
    """For a CSV dataset with a target column last: every raw row through the
    emitted NAME_preprocess; each row nnc run evaluated must be one of them,
    bit for bit (plain.c is the file check_plain_file emitted)."""
    text = open(path).read()
    csv = re.search(r'csv\s*=\s*"([^"]+)"', text)
    if not csv or "scale" not in text and "normalize" not in text:
        return []
    prefix = re.search(r"#define (\w+)_IN ", open(os.path.join(tmp, "plain.c")).read()).group(1)
    with open(os.path.join(tmp, "pre.c"), "w") as f:
        f.write(PREPROCESS_DRIVER % {"P": prefix, "p": prefix.lower()})
    exe = os.path.join(tmp, "pre")
    subprocess.run(["gcc"] + STRICT + ["-o", exe, os.path.join(tmp, "pre.c"), "-lm"], check=True)
    lines = open(os.path.join(os.path.dirname(path), csv.group(1))).read().splitlines()
    if lines and not lines[0].replace(",", "").replace(".", "").replace("-", "").isdigit():
        lines = lines[1:]  # the header
    feed = "".join(l.rsplit(",", 1)[0] + "\n" for l in lines if l.strip())
    out = subprocess.run([exe], input=feed, capture_output=True, text=True, check=True).stdout
    made = {tuple(float.fromhex(v) for v in l.split(",")) for l in out.splitlines()}
    missing = sum(tuple(f32(v) for v in x) not in made for x, _ in rows)
    print(f"  preprocess: {len(made)} raw rows, {len(rows) - missing}/{len(rows)} evaluated rows"
          " found bit for bit")
    return [f"preprocess: {missing} evaluated rows are not a preprocessed raw row"] if missing else []


def check_program(rows, src, label, folded, tmp):
    """src built by gcc and clang, fed the rows: exact, or within FOLD_TOL."""
    problems = []
    stdin = "".join(",".join(repr(v) for v in x) + "\n" for x, _ in rows)
    # gcc -Os too: built for size, wide dense layers take their dot-product form
    for cc, opt in (("gcc", "-O2"), ("clang", "-O2"), ("gcc", "-Os")):
        if not shutil.which(cc):
            problems.append(f"{label}: {cc} not installed")
            continue
        exe = os.path.join(tmp, "net-" + cc)
        flags = [opt if f == "-O2" else f for f in STRICT]
        build = subprocess.run([cc] + flags + ["-o", exe, src, "-lm"], capture_output=True, text=True)
        cc = cc if opt == "-O2" else f"{cc} {opt}"
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
