#!/usr/bin/env bash
# Checkpoints: a training killed with SIGKILL in the middle and resumed with
# --resume prints the same losses, bit for bit, as one never interrupted,
# and ends with the same weights; a checkpoint that is truncated, tampered
# with, or written for another model or optimizer is refused (exit 1, an
# error naming the file and what differs) and nothing is overwritten.
set -u
nnc=${NNC:?set NNC to the nnc binary}
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
src=tests/checkpoint/long.nn

# The epoch a checkpoint file records (its header is JSON at the start).
ckpt_epoch() {
    head -c 65536 "$1" 2>/dev/null | tr -d '\0' | grep -ao '"nnc.epoch":"[0-9]*"' | grep -o '[0-9]*' || echo 0
}

"$nnc" run "$src" --save "$tmp/full.safetensors" >"$tmp/full.txt" 2>&1 || bad "uninterrupted run"

# Kill the run once a checkpoint after epoch 2 exists.
"$nnc" run "$src" --checkpoint "$tmp/ck" >"$tmp/killed.txt" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
    [ "$(ckpt_epoch "$tmp/ck/train-1.safetensors")" -ge 2 ] && break
    sleep 0.01
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
done_epochs=$(ckpt_epoch "$tmp/ck/train-1.safetensors")
if [ "$done_epochs" -lt 2 ] || [ "$done_epochs" -ge 120 ]; then
    bad "the run was not killed in the middle (checkpoint at epoch $done_epochs)"
else
    ok
fi
cp -r "$tmp/ck" "$tmp/ck_copy"

"$nnc" run "$src" --resume "$tmp/ck" --save "$tmp/resumed.safetensors" >"$tmp/resumed.txt" 2>&1 ||
    bad "resume"
grep -q "resumed from $tmp/ck: $done_epochs of 120 epochs done" "$tmp/resumed.txt" && ok ||
    bad "the resumed run does not say where it resumed"
# Every epoch after the checkpoint's prints the same line; the rest agrees too.
diff <(grep '^epoch' "$tmp/full.txt" | sed -n "$((done_epochs + 1)),\$p") \
     <(grep '^epoch' "$tmp/resumed.txt") >"$tmp/diff" && ok ||
    { bad "resumed losses differ from the uninterrupted run's"; head "$tmp/diff"; }
diff <(sed -n '/^loss /,$p' "$tmp/full.txt") <(sed -n '/^loss /,$p' "$tmp/resumed.txt") >/dev/null &&
    ok || bad "the sparkline, early-stopping report or evaluation differ after resuming"
cmp -s "$tmp/full.safetensors" "$tmp/resumed.safetensors" && ok ||
    bad "resumed weights differ from the uninterrupted run's"
# Resuming a finished training trains nothing and keeps its weights.
"$nnc" run "$src" --resume "$tmp/ck" --save "$tmp/again.safetensors" >"$tmp/again.txt" 2>&1 &&
    grep -q "120 of 120 epochs done, training finished" "$tmp/again.txt" &&
    ! grep -q '^epoch' "$tmp/again.txt" && cmp -s "$tmp/full.safetensors" "$tmp/again.safetensors" &&
    ok || bad "resuming a finished training"

# expect_refused DESCRIPTION PATTERN FILE.nn: --resume of ck_bad exits 1,
# stderr has PATTERN, and the checkpoint is left as it was.
expect_refused() {
    what=$1 pattern=$2 file=$3
    cp "$tmp/ck_bad/train-1.safetensors" "$tmp/before"
    "$nnc" run "$file" --resume "$tmp/ck_bad" --save "$tmp/never.safetensors" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 1 ]; then bad "$what: exit $rc, expected 1"; cat "$tmp/err"; return; fi
    if ! grep -qF -- "$pattern" "$tmp/err"; then bad "$what: stderr lacks '$pattern'"; cat "$tmp/err"; return; fi
    if ! cmp -s "$tmp/before" "$tmp/ck_bad/train-1.safetensors" || [ -e "$tmp/never.safetensors" ]; then
        bad "$what: a file was written"; return
    fi
    ok
}
ckpt=$tmp/ck_copy/train-1.safetensors
size=$(wc -c <"$ckpt")
rm -rf "$tmp/ck_bad" && mkdir "$tmp/ck_bad"
head -c $((size - 1000)) "$ckpt" >"$tmp/ck_bad/train-1.safetensors"
expect_refused "truncated" "are outside the" "$src"
cp "$ckpt" "$tmp/ck_bad/train-1.safetensors"
printf '\x01' | dd of="$tmp/ck_bad/train-1.safetensors" bs=1 seek=$((size - 64)) conv=notrunc 2>/dev/null
expect_refused "tampered data" "is damaged: its checksum does not match" "$src"
cp "$ckpt" "$tmp/ck_bad/train-1.safetensors"
sed -e 's/dense 256/dense 128/' -e 's|\.\./\.\./examples|'"$PWD"'/examples|' "$src" >"$tmp/narrow.nn"
expect_refused "another model" "has tensor 'hidden.weight' of shape [256, 64], but this model's is [128, 64]" "$tmp/narrow.nn"
sed -e 's/adamw(lr = 0.002, weight_decay = 0.01)/sgd(lr = 0.1, momentum = 0.9)/' \
    -e 's|\.\./\.\./examples|'"$PWD"'/examples|' "$src" >"$tmp/sgd.nn"
expect_refused "another optimizer" "was written for optimizer adamw; this train block uses sgd" "$tmp/sgd.nn"
"$nnc" run "$src" --resume "$tmp/none" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "no such folder of checkpoints" "$tmp/err" && ok || bad "--resume of a missing folder"
"$nnc" run examples/lr_sweep.nn --checkpoint "$tmp/sw" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "remove the sweep to checkpoint it" "$tmp/err" && ok || bad "--checkpoint of a sweep"

# A model of many tensors (82) checkpoints and resumes like a small one.
{
    printf 'dataset d {\n    x = [[0, 0], [0, 1], [1, 0], [1, 1]]\n    y = [0, 1, 1, 0]\n}\n'
    printf 'model deep {\n    input 2\n'
    for i in $(seq 1 40); do printf '    l%d: dense 3, tanh\n' "$i"; done
    printf '    out: dense 1, sigmoid\n}\n'
    printf 'train deep on d { loss = bce optimizer = adam(lr = 0.01) epochs = 3 }\n'
} >"$tmp/deep.nn"
"$nnc" run "$tmp/deep.nn" -q --checkpoint "$tmp/deep" --save "$tmp/deep1.safetensors" >/dev/null 2>"$tmp/err" &&
    "$nnc" run "$tmp/deep.nn" -q --resume "$tmp/deep" --save "$tmp/deep2.safetensors" >/dev/null 2>>"$tmp/err" &&
    cmp -s "$tmp/deep1.safetensors" "$tmp/deep2.safetensors" && ok ||
    bad "a model of 82 tensors: $(cat "$tmp/err")"

echo "checkpoint: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
