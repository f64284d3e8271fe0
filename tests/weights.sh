#!/usr/bin/env bash
# Weights files through the command line: --save then --weights reproduces
# the same outputs in run and emit; a file that does not fit the model is
# refused with an error naming the file and the tensor, exit 1.
set -u
nnc=${NNC:?set NNC to the nnc binary}
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# expect_error DESCRIPTION PATTERN -- COMMAND...: exit 1, stderr has PATTERN.
expect_error() {
    what=$1 pattern=$2
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 1 ]; then bad "$what: exit $rc, expected 1"; cat "$tmp/err"; return; fi
    if ! grep -qF -- "$pattern" "$tmp/err"; then bad "$what: stderr lacks '$pattern'"; cat "$tmp/err"; return; fi
    ok
}

"$nnc" run examples/xor.nn --quiet --save "$tmp/xor.safetensors" >"$tmp/trained" || bad "run --save"
# Evaluating the untrained-file variant with the saved weights gives the same table.
sed -e '/^train/,/^}/d' examples/xor.nn >"$tmp/eval_only.nn"
"$nnc" run "$tmp/eval_only.nn" --quiet --weights "$tmp/xor.safetensors" >"$tmp/loaded" || bad "run --weights"
diff <(grep '✓\|✗' "$tmp/trained") <(grep '✓\|✗' "$tmp/loaded") >/dev/null &&
    ok || bad "loaded weights give other outputs than the run that saved them"
# --epochs 0 skips the file's training: the saved weights, evaluated as they are.
"$nnc" run examples/xor.nn --weights "$tmp/xor.safetensors" --epochs 0 >"$tmp/as_is" || bad "run --epochs 0"
diff <(grep '✓\|✗' "$tmp/trained") <(grep '✓\|✗' "$tmp/as_is") >/dev/null &&
    grep -qxF "train XORNet on xor: skipped (--epochs 0)" "$tmp/as_is" &&
    ok || bad "--weights W --epochs 0 does not evaluate W as it is"
"$nnc" emit examples/xor.nn -o "$tmp/a.c" 2>/dev/null || bad "emit (trains)"
"$nnc" emit "$tmp/eval_only.nn" --weights "$tmp/xor.safetensors" -o "$tmp/b.c" || bad "emit --weights"
# Same weights, same code: only the comment header (the weights' origin,
# the training data preprocess describes) differs.
if diff <(sed '1,/\*\//d' "$tmp/a.c") <(sed '1,/\*\//d' "$tmp/b.c") >/dev/null; then
    ok
else
    bad "emit --weights differs from emit after training"
fi

cat >"$tmp/wider.nn" <<'NN'
dataset xor { x = [[0, 0], [0, 1], [1, 0], [1, 1]]  y = [0, 1, 1, 0] }
model XORNet { input 2  layer1: dense 8, relu  layer2: dense 1, sigmoid }
evaluate XORNet on xor
NN
expect_error "wrong shape" "tensor 'layer1.weight' has shape [4, 2], expected [8, 2]" -- \
    "$nnc" run "$tmp/wider.nn" --weights "$tmp/xor.safetensors"
cat >"$tmp/renamed.nn" <<'NN'
dataset xor { x = [[0, 0], [0, 1], [1, 0], [1, 1]]  y = [0, 1, 1, 0] }
model XORNet { input 2  hidden: dense 4, relu  layer2: dense 1, sigmoid }
evaluate XORNet on xor
NN
expect_error "missing tensor" "missing tensor 'hidden.weight'" -- \
    "$nnc" run "$tmp/renamed.nn" --weights "$tmp/xor.safetensors"
expect_error "unexpected tensor" "unexpected tensor 'layer1.weight'" -- \
    "$nnc" emit "$tmp/renamed.nn" --weights "$tmp/xor.safetensors"
printf 'garbage' >"$tmp/bad.safetensors"
expect_error "truncated file" "bad.safetensors: truncated" -- \
    "$nnc" emit examples/xor.nn --weights "$tmp/bad.safetensors" -o "$tmp/never.c"
[ -e "$tmp/never.c" ] && bad "a failed emit left a file" || ok
expect_error "unwritable output" "cannot write '/nonexistent/x.c'" -- \
    "$nnc" emit examples/xor.nn -o /nonexistent/x.c
echo "weights: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
