#!/bin/sh
# Single-sample inference latency, side by side: the emitted C, the nnc
# interpreter and PyTorch (one thread each), for XORNet and a 64-128-10
# network. Runs alternate, REPS times; prints medians and ratios.
# usage: bench/latency.sh [REPS]   (make bench-latency builds and runs it)
set -eu
cd "$(dirname "$0")/.."
reps=${1:-5}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
have_torch=1
/usr/bin/python3 -c 'import torch' 2>/dev/null || have_torch=0
printf '%-8s %12s %12s %12s %10s %10s\n' net "emitted ns" "interp ns" "torch ns" "torch/emit" "torch/interp"
for net in xornet mlp64; do
    build/nnc emit "bench/nets/$net.nn" --prefix net -o "$tmp/net.c" 2>/dev/null
    # Compiled as a deployment would be, for the machine it runs on.
    cc -std=c99 -O3 -march=native -ffp-contract=off -o "$tmp/emit" bench/latency_emit.c "$tmp/net.c" -lm
    : >"$tmp/e"; : >"$tmp/i"; : >"$tmp/t"
    for r in $(seq "$reps"); do
        "$tmp/emit" 2000000 >>"$tmp/e"
        build/latency-interp "bench/nets/$net.nn" 1000000 >>"$tmp/i"
        [ "$have_torch" = 1 ] && /usr/bin/python3 bench/latency_torch.py "$net" 50000 >>"$tmp/t"
    done
    e=$(median <"$tmp/e"); i=$(median <"$tmp/i")
    t=n/a; te=n/a; ti=n/a
    if [ "$have_torch" = 1 ]; then
        t=$(median <"$tmp/t")
        te=$(awk -v a="$t" -v b="$e" 'BEGIN {printf "%.0fx", a / b}')
        ti=$(awk -v a="$t" -v b="$i" 'BEGIN {printf "%.0fx", a / b}')
    fi
    printf '%-8s %12s %12s %12s %10s %10s\n' "$net" "$e" "$i" "$t" "$te" "$ti"
done
