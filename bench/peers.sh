#!/bin/sh
# `make bench-peers`: the same trained networks through nnc's emitted C and
# through onnxruntime (onnxruntime-node, tests/onnx's npm install; one
# intra-op thread), side by side in one run:
#   examples/digits.nn      the 64-128-10 MLP
#   examples/digits_cnn.nn  two 3x3 convolutions, pooling, batchnorm
# Each network is trained once by nnc (--save); the C file and the ONNX
# model are both emitted from those weights, both are fed the same
# preprocessed test rows, and their outputs must agree (1e-5 of each row's
# largest output; the C must also equal `nnc run`'s bit for bit, or within
# that bound where a batchnorm is folded). Per inference: one sample per
# call, row after row; per sample in a batch: all rows in one call (ORT) or
# one loop over them (C). Times are the minimum of REPS repetitions of CPU
# time (thread CPU time for C, process CPU time for node), so a loaded
# machine disturbs them least. Sizes: `size` text (code + rodata +
# eh_frame) of the C object at -O2 and -Os, and at -Os of what a program
# that calls only net_forward links (-ffunction-sections -fdata-sections,
# ld --gc-sections from the entry net_forward, no libc: forward, the
# weights and their unwind entry, without preprocess and predict; onnx2c's
# file has only its entry function), RAM the static buffers (.bss,
# NAME_RAM_BYTES), stack from -fstack-usage (forward; predict adds its
# out[] array); the same file cross-compiled for a Cortex-M4 with
# arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os (no FPU flag: soft float)
# when installed. onnxruntime's are its library's text and the process's
# peak RSS. Writes bench/PEERS.md. A tool, not a test: nothing asserts a
# time.
# usage: bench/peers.sh [REPS [ITERATIONS]]   (BUILD= the build folder)
set -eu
cd "$(dirname "$0")/.."
reps=${1:-25}
iters=${2:-5000}
build=${BUILD:-build}
nnc="$build/nnc"
py=/usr/bin/python3
out=bench/PEERS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags="-std=c99 -Wall -Wextra -pedantic -Werror -ffp-contract=off"
have_ort=1
(cd tests/onnx && node -e 'require("onnxruntime-node")') >/dev/null 2>&1 || have_ort=0
[ "$have_ort" = 1 ] || echo "bench: onnxruntime-node missing (npm ci --prefix tests/onnx): C only" >&2
have_arm=1
command -v arm-none-eabi-gcc >/dev/null 2>&1 || have_arm=0

# field FILE KEY: the value of a `key value` line
field() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
# text OBJ: size's text column
text() { size "$1" | awk 'NR == 2 {print $1}'; }
# forward_text C OBJ: text of the -Os object's net_forward and what it
# reads, linked alone (gc-sections drops preprocess, predict, their unwind
# entries and constants)
forward_text() {
    gcc $cflags -Os -ffunction-sections -fdata-sections -c "$1" -o "$2.o"
    gcc -nostdlib -static -Wl,--gc-sections -Wl,-e,net_forward -Wl,--build-id=none -o "$2" "$2.o"
    text "$2"
}
# stack SU FUNCTION: -fstack-usage's bytes for the function
stack() { awk -v f="$2" -F'\t' '$1 ~ (":" f "$") {print $2}' "$1"; }

rows_md=""
arm_md=""
for net in digits digits_cnn; do
    src="examples/$net.nn"
    w="$tmp/$net.safetensors"
    echo "bench: $net: training once with nnc" >&2
    "$nnc" run "$src" --quiet --save "$w" >/dev/null
    "$nnc" run "$src" --weights "$w" --epochs 0 --json >"$tmp/$net.json"
    $py - "$tmp/$net.json" "$tmp/$net" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = [r for s in doc["steps"] if s["step"] == "evaluate" for r in s["rows"]]
with open(sys.argv[2] + ".rows", "w") as f:
    f.writelines(",".join(repr(v) for v in r["inputs"]) + "\n" for r in rows)
with open(sys.argv[2] + ".nnc", "w") as f:
    f.writelines(",".join(repr(v) for v in r["outputs"]) + "\n" for r in rows)
print(len(rows[0]["outputs"]))
EOF
    units=$($py -c "import sys; print(len(open('$tmp/$net.nnc').readline().split(',')))")
    n=$(wc -l <"$tmp/$net.rows")
    "$nnc" emit "$src" --weights "$w" --prefix net -o "$tmp/$net.c" 2>/dev/null
    for o in O2 Os; do
        (cd "$tmp" && gcc $cflags -$o -fstack-usage -c "$net.c" -o "$net.$o.o")
    done
    gcc -O2 -o "$tmp/peer-c" bench/peer_c.c "$tmp/$net.O2.o" -lm
    "$tmp/peer-c" "$tmp/$net.c.out" "$units" "$iters" "$reps" <"$tmp/$net.rows" >"$tmp/$net.c.time"
    ram=$(sed -n 's/^#define NET_RAM_BYTES //p' "$tmp/$net.c")
    stk=$(stack "$tmp/$net.O2.su" net_forward)
    stk_s=$(stack "$tmp/$net.Os.su" net_forward)
    agree_nnc=$($py bench/agree.py "$tmp/$net.nnc" "$tmp/$net.c.out")
    rows_md="$rows_md| $net | nnc C (gcc -O2) | $(field "$tmp/$net.c.time" latency_ns) | $(field "$tmp/$net.c.time" batch_ns) | $(text "$tmp/$net.O2.o") (-Os: $(text "$tmp/$net.Os.o"); forward alone: $(forward_text "$tmp/$net.c" "$tmp/$net.fwd")) | $ram | $stk (-Os: $stk_s) | vs nnc run: $agree_nnc |
"
    if [ "$have_ort" = 1 ] && "$nnc" emit --target onnx "$src" --weights "$w" -o "$tmp/$net.onnx" 2>"$tmp/onnx.err"; then
        shape=$($py -c 'import onnx, sys
d = onnx.load(sys.argv[1]).graph.input[0].type.tensor_type.shape.dim[1:]
print(",".join(str(x.dim_value) for x in d))' "$tmp/$net.onnx")
        /usr/bin/time -f %M -o "$tmp/ort.mem" node bench/peer_ort.js "$tmp/$net.onnx" \
            "$tmp/$net.ort.out" "$iters" "$reps" "$shape" <"$tmp/$net.rows" >"$tmp/$net.ort.time"
        lib=$(ls tests/onnx/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.* | head -n 1)
        agree=$($py bench/agree.py "$tmp/$net.c.out" "$tmp/$net.ort.out")
        rows_md="$rows_md| $net | onnxruntime-node (1 thread) | $(field "$tmp/$net.ort.time" latency_ns) | $(field "$tmp/$net.ort.time" batch_ns) | $(text "$lib") + $(wc -c <"$tmp/$net.onnx") model | peak RSS $(($(cat "$tmp/ort.mem") / 1024)) MB | n/a | vs nnc C: $agree |
"
    else
        why=$([ "$have_ort" = 1 ] && head -n 1 "$tmp/onnx.err" || echo "onnxruntime-node not installed")
        rows_md="$rows_md| $net | onnxruntime-node | n/a: $why | | | | | |
"
    fi
    if [ "$have_arm" = 1 ]; then
        (cd "$tmp" && arm-none-eabi-gcc $cflags -mcpu=cortex-m4 -mthumb -Os -fstack-usage -c "$net.c" -o "$net.m4.o")
        set -- $(arm-none-eabi-size "$tmp/$net.m4.o" | awk 'NR == 2 {print $1, $2, $3}')
        arm_md="$arm_md| $net | $1 | $2 | $(($1 + $2)) | $3 | $(stack "$tmp/$net.m4.su" net_forward) | $(stack "$tmp/$net.m4.su" net_predict) |
"
    fi
done

{
    echo "# nnc's emitted C beside onnxruntime"
    echo
    echo "Written by \`bench/peers.sh\` ($(date -u +%Y-%m-%d), $(uname -m), $(gcc --version | head -n 1),"
    echo "onnxruntime-node $(node -p 'require("./tests/onnx/node_modules/onnxruntime-node/package.json").version' 2>/dev/null || echo n/a);"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)). Minimum of $reps repetitions of CPU time;"
    echo "one sample per call: $iters calls, row after row; batch: all test rows at once."
    echo
    echo "| model | runtime | ns/inference | ns/sample in a batch | text B | RAM (static) B | stack B | outputs |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$rows_md"
    echo "| digits | onnx2c ea045cc (measured outside the project, not run here) | 2518 (-O2) | | 38717 | 1024 | 8 (912 with intermediates on the stack) | |"
    if [ -n "$arm_md" ]; then
        echo
        echo "Cross-compiled: \`arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -c\` ($(arm-none-eabi-gcc --version | head -n 1); no FPU flag, so soft float):"
        echo
        echo "| model | text B | data B | flash (text + data) B | RAM: bss B | stack: forward B | stack: predict B (calls forward) |"
        echo "|---|---|---|---|---|---|---|"
        printf '%s' "$arm_md"
    fi
} >"$out"
cat "$out"
