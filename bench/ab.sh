#!/bin/sh
# A/B: the training benchmarks of `make bench` ((a) XOR, (b) digits, (c) the
# wide network) and the interpreter's latency, for two commits of nnc in one
# run, alternating A, B, A, B... so both see the same machine load. For
# checking that a refactor costs nothing. A tool, not a test.
# usage: bench/ab.sh REV_A [REV_B [REPS]]   (REV_B defaults to the work tree)
set -eu
cd "$(dirname "$0")/.."
rev_a=${1:?usage: bench/ab.sh REV_A [REV_B [REPS]]}
rev_b=${2:-}
reps=${3:-5}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/a" 2>/dev/null; [ -n "$rev_b" ] && git worktree remove --force "$tmp/b" 2>/dev/null; rm -rf "$tmp"' EXIT

# build NAME REV: train-bench and latency-interp of REV in $tmp/NAME
build() {
    git worktree add -q --detach "$tmp/$1" "$2"
    make -s -C "$tmp/$1" build/train-bench build/latency-interp >/dev/null
}
build a "$rev_a"
if [ -n "$rev_b" ]; then build b "$rev_b"; else
    make -s build/train-bench build/latency-interp >/dev/null
    ln -s "$(pwd)" "$tmp/b"
fi

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# run NAME SIDE CMD...: appends CMD's `train_s` (or its only number) to $tmp/NAME.SIDE
run() {
    name=$1 side=$2; shift 2
    "$@" | awk '$1 == "train_s" {print $2; next} NF == 1 {print $1}' >>"$tmp/$name.$side"
}
for r in $(seq "$reps"); do
    for side in a b; do
        d=$tmp/$side
        run xor $side "$d/build/train-bench" examples/xor.nn
        run digits $side "$d/build/train-bench" examples/digits.nn
        run wide $side "$d/build/train-bench" wide 6000 1
        run latency $side "$d/build/latency-interp" bench/nets/mlp64.nn 200000
    done
done
printf '%-28s %14s %14s %8s\n' "median of $reps" "A $(git rev-parse --short "$rev_a")" "B ${rev_b:-worktree}" "B/A"
for name in xor digits wide latency; do
    a=$(median <"$tmp/$name.a"); b=$(median <"$tmp/$name.b")
    unit=s; [ "$name" = latency ] && unit=ns
    printf '%-28s %13s%s %13s%s %8s\n' "$name" "$a" "$unit" "$b" "$unit" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}')"
done
