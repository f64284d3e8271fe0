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

echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
