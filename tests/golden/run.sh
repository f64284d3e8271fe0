#!/bin/sh
# Golden-file tests for the compiler. For every tests/golden/NAME.nn:
#   `nnc check` fails  -> its stderr must equal NAME.err
#   `nnc check` passes -> `nnc dump ast` = NAME.ast, `nnc dump ir` = NAME.ir,
#                         and, when NAME.out exists or on --bless, `nnc run` = NAME.out
#                         (stdout, stderr, then "[exit N]" when N is not 0;
#                         run may exit 0, 1 or 3 = training diverged);
#                         for emit_* cases also `nnc emit` = NAME.c;
#                         for pytorch_* cases `nnc emit --target pytorch`'s
#                         model.py, train.py and data.py = NAME.model.py,
#                         NAME.train.py, NAME.data.py (data.py's DATA_ROOT
#                         line, an absolute path, is left out)
#   for quant_* cases also `nnc run NAME.nn --quantize int8 ARGS` = NAME.q8
#                         (stdout, stderr, "[exit N]"; ARGS from a line
#                         "# quantize-args: ARGS" in NAME.nn, if any)
#   for fmt_* cases, whatever check says: `nnc fmt NAME.nn` = NAME.fmt
#                         (stdout, stderr, then "[exit N]" when N is not 0)
# Files are compared byte for byte. `--bless` rewrites the expected files
# (review the diff before committing). Runs from tests/golden so paths in
# diagnostics are stable. NNC names the binary; WRAP may prefix it (valgrind).
set -u
here=$(cd "$(dirname "$0")" && pwd)
nnc=${NNC:?set NNC to the nnc binary}
bless=0
[ "${1:-}" = "--bless" ] && bless=1
cd "$here" || exit 2
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# compare NAME EXT ACTUAL-FILE: checks (or blesses) NAME.EXT
compare() {
    if [ "$bless" = 1 ]; then
        cp "$3" "$1.$2"
        return 0
    fi
    if [ ! -f "$1.$2" ]; then
        echo "FAIL $1: missing $1.$2 (run 'make bless')"
        return 1
    fi
    if ! cmp -s "$3" "$1.$2"; then
        echo "FAIL $1.$2 differs:"
        diff -u "$1.$2" "$3" | head -40
        return 1
    fi
    return 0
}

# check_fmt NAME: `nnc fmt NAME.nn` against NAME.fmt (fmt_* cases)
check_fmt() {
    ${WRAP:-} "$nnc" fmt "$1.nn" >"$tmp/fmt" 2>"$tmp/err"
    rc=$?
    cat "$tmp/err" >>"$tmp/fmt"
    [ "$rc" -eq 0 ] || echo "[exit $rc]" >>"$tmp/fmt"
    compare "$1" fmt "$tmp/fmt"
}

# check_case NAME: runs every applicable comparison for NAME.nn
check_case() {
    name=$1
    case $name in fmt_*) check_fmt "$name" || return 1;; esac
    ${WRAP:-} "$nnc" check "$name.nn" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -ne 1 ]; then
            echo "FAIL $name: nnc check exited $rc (expected 0 or 1)"
            return 1
        fi
        if [ -s "$tmp/out" ]; then
            echo "FAIL $name: an error run wrote to stdout"
            return 1
        fi
        [ -f "$name.ast" ] && [ "$bless" = 0 ] && { echo "FAIL $name: has $name.ast but check failed:"; cat "$tmp/err"; return 1; }
        compare "$name" err "$tmp/err"
        return
    fi
    [ -f "$name.err" ] && [ "$bless" = 0 ] && { echo "FAIL $name: expected errors ($name.err) but check passed"; return 1; }
    ok=0
    ${WRAP:-} "$nnc" dump ast "$name.nn" >"$tmp/ast" 2>"$tmp/err" || { echo "FAIL $name: dump ast failed"; cat "$tmp/err"; return 1; }
    compare "$name" ast "$tmp/ast" || ok=1
    ${WRAP:-} "$nnc" dump ir "$name.nn" >"$tmp/ir" 2>"$tmp/err" || { echo "FAIL $name: dump ir failed"; cat "$tmp/err"; return 1; }
    compare "$name" ir "$tmp/ir" || ok=1
    if [ -f "$name.out" ] || [ "$bless" = 1 ]; then
        ${WRAP:-} "$nnc" run "$name.nn" >"$tmp/run" 2>"$tmp/err"
        rc=$?
        case $rc in 0|1|3) ;; *) echo "FAIL $name: nnc run exited $rc"; cat "$tmp/err"; return 1;; esac
        cat "$tmp/err" >>"$tmp/run"
        [ "$rc" -eq 0 ] || echo "[exit $rc]" >>"$tmp/run"
        compare "$name" out "$tmp/run" || ok=1
    fi
    case $name in emit_*)
        ${WRAP:-} "$nnc" emit "$name.nn" -o "$tmp/emit.c" 2>"$tmp/err" || { echo "FAIL $name: nnc emit failed"; cat "$tmp/err"; return 1; }
        compare "$name" c "$tmp/emit.c" || ok=1
    esac
    case $name in quant_*)
        # `nnc run --quantize int8` (and the flags of a "# quantize-args:" line) = NAME.q8
        args=$(sed -n 's/^# quantize-args: //p' "$name.nn")
        # shellcheck disable=SC2086
        ${WRAP:-} "$nnc" run "$name.nn" --quantize int8 $args >"$tmp/q8" 2>"$tmp/err"
        rc=$?
        cat "$tmp/err" >>"$tmp/q8"
        [ "$rc" -eq 0 ] || echo "[exit $rc]" >>"$tmp/q8"
        compare "$name" q8 "$tmp/q8" || ok=1
    esac
    case $name in pytorch_*)
        rm -rf "$tmp/pkg"
        ${WRAP:-} "$nnc" emit "$name.nn" --target pytorch -o "$tmp/pkg" 2>"$tmp/err" || { echo "FAIL $name: nnc emit --target pytorch failed"; cat "$tmp/err"; return 1; }
        grep -v '^DATA_ROOT = ' "$tmp/pkg/data.py" >"$tmp/pkg/data.golden"
        compare "$name" model.py "$tmp/pkg/model.py" || ok=1
        compare "$name" train.py "$tmp/pkg/train.py" || ok=1
        compare "$name" data.py "$tmp/pkg/data.golden" || ok=1
    esac
    return $ok
}

for f in *.nn; do
    name=${f%.nn}
    if check_case "$name"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
    fi
done
[ "$bless" = 1 ] && echo "blessed $pass cases: review with 'git diff tests/golden'"
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
