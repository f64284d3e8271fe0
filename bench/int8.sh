#!/bin/sh
# Float C vs int8 C for the digits MLP and CNN (examples/digits.nn,
# digits_cnn.nn), each pair from the same trained weights: accuracy (nnc run --quantize int8), ns per inference
# (minimum CPU time of REPS runs, gcc -O2, one thread), the weights'
# bytes (symbol sizes in the object), text/data/bss on this machine and
# for a Cortex-M4 (arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -c).
# usage: bench/int8.sh [REPS]   (make bench-int8)
set -eu
cd "$(dirname "$0")/.."
reps=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nnc=build/nnc
for ex in examples/digits.nn examples/digits_cnn.nn; do
echo "$ex"
$nnc run $ex --save "$tmp/w.safetensors" --quantize int8 -q >"$tmp/run.txt" 2>&1
grep -A3 '^int8' "$tmp/run.txt" | sed 's/^/    /'
$nnc emit $ex --weights "$tmp/w.safetensors" --prefix net -o "$tmp/f.c" 2>/dev/null
$nnc emit $ex --weights "$tmp/w.safetensors" --quantize int8 --prefix net -o "$tmp/q.c" 2>/dev/null
min() { sort -g | head -1; }
# the constant arrays' bytes: read-only data symbols of the object
weights() { nm -S -t d "$1" | awk '$3 ~ /^[rR]$/ {s += $2} END {print s + 0}'; }
sizes() { size "$1" | awk 'NR == 2 {print $1 " " $2 " " $3}'; }
printf '%-6s %10s %10s %14s %22s %26s\n' file "ns -O2" "ns -O3 nat" "weights bytes" "text data bss (-O2)" \
    "M4 -Os text data bss"
for kind in f q; do
    def=""; [ $kind = q ] && def=-DINT8
    for opt in O2 O3; do
        flags=-O2; [ $opt = O3 ] && flags="-O3 -march=native"
        # shellcheck disable=SC2086
        gcc -std=c99 $flags -ffp-contract=off $def -o "$tmp/lat" bench/int8_latency.c "$tmp/$kind.c" -lm
        : >"$tmp/t-$opt"
        for r in $(seq "$reps"); do "$tmp/lat" 50000 >>"$tmp/t-$opt"; done
    done
    gcc -std=c99 -O2 -c -o "$tmp/$kind.o" "$tmp/$kind.c"
    m4="n/a"
    if command -v arm-none-eabi-gcc >/dev/null; then
        arm-none-eabi-gcc -std=c99 -mcpu=cortex-m4 -mthumb -Os -c -o "$tmp/$kind.m4.o" "$tmp/$kind.c"
        m4=$(sizes "$tmp/$kind.m4.o")
    fi
    name=float; [ $kind = q ] && name=int8
    printf '%-6s %10s %10s %14s %22s %26s\n' $name "$(min <"$tmp/t-O2")" "$(min <"$tmp/t-O3")" \
        "$(weights "$tmp/$kind.o")" \
        "$(sizes "$tmp/$kind.o")" "$m4"
done
done
