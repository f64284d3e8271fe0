#!/bin/sh
# `nnc emit --target pytorch` refusals (no PyTorch needed): the command line
# (exit 2), names Python cannot take and unwritable folders (exit 1), and in
# every case nothing written.
set -u
nnc=${NNC:?set NNC to the nnc binary}
here=$(cd "$(dirname "$0")" && pwd)
examples=$here/../../examples
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect RC PATTERN ARGS...: nnc ARGS exits RC and its stderr matches PATTERN
expect() {
    want=$1 pattern=$2
    shift 2
    "$nnc" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" "$tmp/err" && [ ! -s "$tmp/out" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL nnc $*: exit $rc (expected $want), stderr:"
        cat "$tmp/err"
    fi
}

expect 2 "needs -o DIR" emit "$examples/xor.nn" --target pytorch
expect 2 "weights is not for --target pytorch" emit "$examples/xor.nn" --target pytorch \
    -o "$tmp/w" --weights "$tmp/none.safetensors"
[ ! -e "$tmp/w" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL --weights: wrote $tmp/w"; }
expect 2 "--epochs 0 is not for --target pytorch" emit "$examples/xor.nn" --target pytorch \
    -o "$tmp/e0" --epochs 0

printf 'model m {\n    input 2\n    class: dense 1, sigmoid\n}\n' >"$tmp/keyword.nn"
expect 1 "keyword.nn:3:5: error: layer 'class' cannot be an attribute of a PyTorch module: the name is a Python keyword" \
    emit "$tmp/keyword.nn" --target pytorch -o "$tmp/k"
printf 'model m {\n    input 2\n    eval: dense 1, sigmoid\n}\n' >"$tmp/attr.nn"
expect 1 "layer 'eval' cannot be an attribute of a PyTorch module: the name is already an attribute of nn.Module" \
    emit "$tmp/attr.nn" --target pytorch -o "$tmp/k"
printf 'model torch {\n    input 2\n    out: dense 1\n}\n' >"$tmp/class.nn"
expect 1 "model 'torch' cannot be a Python class" emit "$tmp/class.nn" --target pytorch -o "$tmp/k"
# pools, flatten and batchnorm are module attributes too (add and concat
# are not: their values are local variables, renamed when Python needs it)
printf 'model m {\n    input [1, 4, 4]\n    apply: maxpool2d(2)\n    flatten\n    out: dense 1\n}\n' >"$tmp/pool.nn"
expect 1 "pool.nn:3:5: error: layer 'apply' cannot be an attribute of a PyTorch module: the name is already an attribute of nn.Module; rename the layer for --target pytorch" \
    emit "$tmp/pool.nn" --target pytorch -o "$tmp/k"
printf 'model m {\n    input [2, 4]\n    c: conv1d(2, kernel = 1)\n    _stats: batchnorm\n    both: add(c, _stats)\n    flatten\n    out: dense 1\n}\n' >"$tmp/bn.nn"
expect 1 "bn.nn:4:5: error: layer '_stats' cannot be an attribute of a PyTorch module: the name starts with '_'" \
    emit "$tmp/bn.nn" --target pytorch -o "$tmp/k"
[ ! -e "$tmp/k" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL bad names: wrote $tmp/k"; }

# a file where the folder should be, and a folder where a file should be
touch "$tmp/file"
expect 1 "cannot create folder" emit "$examples/xor.nn" --target pytorch -o "$tmp/file/pkg"
mkdir -p "$tmp/pkg/train.py"
expect 1 "it is a folder" emit "$examples/xor.nn" --target pytorch -o "$tmp/pkg"
[ "$(ls -A "$tmp/pkg")" = train.py ] && pass=$((pass + 1)) || {
    fail=$((fail + 1)); echo "FAIL folder in the way: wrote $(ls -A "$tmp/pkg")"; }

echo "pytorch errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
