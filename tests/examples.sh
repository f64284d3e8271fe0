#!/bin/sh
# Every example in examples/ runs and tells the truth: each check below runs
# one example and asserts the outcome the lecture predicts.
set -u
nnc=${NNC:?set NNC to the nnc binary}
cd "$(dirname "$0")/../examples" || exit 2
pass=0 fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

ok()   { pass=$((pass + 1)); }
bad()  { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' "$out" | tail -25; }

# expect FILE DESCRIPTION GREP-PATTERN...: nnc run FILE exits 0 and its output
# contains every pattern (fixed strings), in any order.
expect() {
    file=$1 what=$2
    shift 2
    if ! ${WRAP:-} "$nnc" run "$file" >"$out" 2>&1; then
        bad "$file: nnc run failed ($what)"
        return
    fi
    for pattern in "$@"; do
        if ! grep -qF -- "$pattern" "$out"; then
            bad "$file: expected '$pattern' ($what)"
            return
        fi
    done
    ok
}

# expect_not FILE DESCRIPTION PATTERN: the output must not contain PATTERN.
expect_not() {
    ${WRAP:-} "$nnc" run "$1" >"$out" 2>&1 || { bad "$1: nnc run failed"; return; }
    if grep -qF -- "$3" "$out"; then bad "$1: must not print '$3' ($2)"; else ok; fi
}

expect xor.nn "XORNet learns XOR" "Total params: 17" "accuracy: 4/4"
expect_not logistic_xor.nn "one line cannot separate XOR" "accuracy: 4/4"
expect and.nn "perceptron computes AND" "accuracy: 4/4"
expect or.nn "perceptron computes OR" "accuracy: 4/4"
expect perceptron_xor.nn "perceptrons fail on XOR" "accuracy: 3/4" "accuracy: 1/4"
expect handpicked_xor.nn "hand-picked weights, as the arithmetic gives" \
    "accuracy: 2/4" "0.5"
expect lr_sweep.nn "three learning rates compared" "sweep lr: 3 runs" "0.01" "keeps the weights"
expect activations.nn "activations evaluated" "0.5000" "0.9526" "0.9951"

# expect_accuracy FILE DATASET MIN DESCRIPTION: nnc run FILE exits 0 and the
# evaluation on DATASET reports an accuracy of at least MIN percent.
expect_accuracy() {
    if ! ${WRAP:-} "$nnc" run "$1" >"$out" 2>&1; then
        bad "$1: nnc run failed ($4)"
        return
    fi
    pct=$(awk -v ds="$2" '
        $1 == "evaluate" && $NF == ds { on = 1; next }
        on && $1 == "accuracy:" { split($2, k, "/"); printf "%.2f", 100 * k[1] / k[2]; exit }
    ' "$out")
    if [ -z "$pct" ]; then
        bad "$1: no accuracy line for $2 ($4)"
    elif awk -v p="$pct" -v min="$3" 'BEGIN { exit !(p >= min) }'; then
        ok
    else
        bad "$1: accuracy on $2 is $pct%, expected at least $3% ($4)"
    fi
}

expect_accuracy digits.nn digits.test 97 "an MLP reads handwritten digits from a CSV file"
expect digits.nn "per-class precision and recall" "precision" "recall"
expect_accuracy digits_cnn.nn digits.test 98.5 "the spec's CNN: conv2d, pooling, batchnorm"
expect digits_cnn.nn "the summary shows shapes and parameter counts" "# [16, 8, 8], 160 params" "Total params: 6154"
# digits_res ends at 95.8% with the portable loops and higher with
# OpenBLAS (a different summation order trains a slightly different net):
# the bar holds for both, as make test runs with or without OpenBLAS.
expect_accuracy digits_res.nn digits.test 95 "a skip connection: add(stem, b)"
expect_accuracy two_towers.nn digits.test 95 "two branches: from = stem, concat"
expect_accuracy waves.nn waves.test 95 "a conv1d network over sequences"
expect overfit.nn "overfitting shows in the validation loss, and its cures" \
    "lowest validation loss" "memorizer keeps the last epoch's weights" \
    "decayed keeps the weights of the run with weight_decay" \
    "early stop at epoch" "stopped keeps its weights"
# The memorizer's validation loss at its last epoch is above its best one.
awk '/^lowest validation loss/ && !seen { best = $4; seen = 1 }
     /^epoch 200\/200/ && !last { last = $7 }
     END { exit !(seen && last > best * 1.1) }' "$out" && ok ||
    bad "overfit.nn: the memorizer's validation loss does not rise above its minimum"
# The sequence dataset is generated: the committed script still writes it.
waves_tmp=$(mktemp)
python3 data/gen_waves.py "$waves_tmp"
if cmp -s "$waves_tmp" data/waves.csv; then ok; else bad "data/gen_waves.py no longer writes data/waves.csv"; fi
rm -f "$waves_tmp"

echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
