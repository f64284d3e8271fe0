#!/bin/bash
# nnc fmt, end to end (docs/fmt.md):
#   - every example is already formatted (`nnc fmt --check examples/*.nn`);
#   - for every golden case, example and fuzz seed that parses:
#     fmt(fmt(x)) == fmt(x), and `nnc dump ast` of fmt(x) equals that of x
#     once the @line:col locations are set aside; one that does not parse
#     is refused with exactly `nnc check`'s diagnostics and exit 1;
#   - the command line: -w (atomic, only when the text changes, permissions
#     and symbolic links kept), --check, - for standard input, several files,
#     usage errors (exit 2).
# NNC names the binary.
set -u
nnc=${NNC:?set NNC to the nnc binary}
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# The AST dump without its first line (the file name) and locations.
ast_noloc() { "$nnc" dump ast "$1" 2>/dev/null | tail -n +2 | sed 's/ @[0-9]*:[0-9]*//g'; }

"$nnc" fmt --check examples/*.nn >"$tmp/check" 2>&1 && ok ||
    bad "examples are not formatted (run 'nnc fmt -w examples/*.nn'):" "$(cat "$tmp/check")"

# properties FILE: the two properties, or the refusal of a file that does not parse.
properties() {
    local f=$1 out=$tmp/once.nn
    if ! "$nnc" dump ast "$f" >/dev/null 2>&1; then
        "$nnc" fmt "$f" >"$tmp/out" 2>"$tmp/err"
        local rc=$?
        "$nnc" check "$f" >/dev/null 2>"$tmp/check-err"
        [ "$rc" -eq 1 ] && [ ! -s "$tmp/out" ] && cmp -s "$tmp/err" "$tmp/check-err" ||
            { bad "$f: fmt of a file that does not parse: exit $rc, not check's messages"; return; }
        ok
        return
    fi
    "$nnc" fmt "$f" >"$out" 2>"$tmp/err" || { bad "$f: fmt failed: $(cat "$tmp/err")"; return; }
    "$nnc" fmt "$out" >"$tmp/twice.nn" 2>&1 || { bad "$f: fmt of fmt failed"; return; }
    cmp -s "$out" "$tmp/twice.nn" || { bad "$f: fmt(fmt(x)) != fmt(x)"; diff "$out" "$tmp/twice.nn" | head -20; return; }
    [ "$(ast_noloc "$f")" = "$(ast_noloc "$out")" ] || { bad "$f: dump ast differs after fmt"; return; }
    ok
}

for f in examples/*.nn tests/golden/*.nn tests/fuzz/corpus/front/* tests/fuzz/corpus/fmt/*; do
    [ -f "$f" ] && properties "$f"
done

# -w rewrites a file that changes, atomically, keeping its mode; a symbolic
# link stays a link to the rewritten file; an unchanged file is not touched.
printf 'model m {\ninput 2\n  dense 1,   sigmoid  # out\n}\n' >"$tmp/messy.nn"
chmod 640 "$tmp/messy.nn"
ln -s messy.nn "$tmp/link.nn"
cp examples/xor.nn "$tmp/clean.nn"
touch -d '2001-01-01' "$tmp/clean.nn"
"$nnc" fmt -w "$tmp/link.nn" "$tmp/clean.nn" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ] || bad "fmt -w: $(cat "$tmp/out")"
expected='model m {
    input 2
    dense 1, sigmoid                # out
}'
[ "$(cat "$tmp/messy.nn")" = "$expected" ] && ok || bad "fmt -w wrote: $(cat "$tmp/messy.nn")"
[ -L "$tmp/link.nn" ] && [ "$(stat -c %a "$tmp/messy.nn")" = 640 ] && ok || bad "fmt -w: link or mode lost"
[ "$(stat -c %Y "$tmp/clean.nn")" = "$(date -d 2001-01-01 +%s)" ] && ok || bad "fmt -w touched a formatted file"
ls "$tmp" | grep -q '\.tmp\.' && bad "fmt -w left a temporary file" || ok

# --check names the files that would change (standard output), exit 1.
printf 'model m {\ninput 2\n}\n' >"$tmp/messy2.nn"
"$nnc" fmt --check "$tmp/clean.nn" "$tmp/messy2.nn" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ "$(cat "$tmp/out")" = "$tmp/messy2.nn" ] && [ ! -s "$tmp/err" ] && ok ||
    bad "fmt --check: exit $rc, '$(cat "$tmp/out")'"
"$nnc" fmt --check "$tmp/clean.nn" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ] && ok || bad "fmt --check of a formatted file"

# - reads standard input; several files print one after the other.
printf 'evaluate   m on d\n' | "$nnc" fmt - >"$tmp/out" 2>&1 &&
    [ "$(cat "$tmp/out")" = "evaluate m on d" ] && ok || bad "fmt -: $(cat "$tmp/out")"
"$nnc" fmt "$tmp/clean.nn" "$tmp/clean.nn" >"$tmp/out" && cat "$tmp/clean.nn" "$tmp/clean.nn" | cmp -s - "$tmp/out" && ok ||
    bad "fmt of two files"

# A file that does not parse: check's diagnostics, exit 1, nothing written,
# and the other files are still formatted.
printf 'model m {\n    input 2\n    dense 1,\n' >"$tmp/broken.nn"
cp "$tmp/broken.nn" "$tmp/broken.orig"
"$nnc" fmt -w "$tmp/broken.nn" "$tmp/messy2.nn" >"$tmp/out" 2>"$tmp/err"
rc=$?
"$nnc" check "$tmp/broken.nn" 2>"$tmp/check-err"
[ "$rc" -eq 1 ] && cmp -s "$tmp/err" "$tmp/check-err" && cmp -s "$tmp/broken.nn" "$tmp/broken.orig" &&
    "$nnc" fmt --check "$tmp/messy2.nn" >/dev/null && ok || bad "fmt -w of a broken file: exit $rc"
printf 'dataset d { x = [1,\n' | "$nnc" fmt - >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q '^<stdin>:1:20: error: syntax error' "$tmp/err" && ok || bad "fmt - of a broken input: $(cat "$tmp/err")"

# The command line.
for args in "fmt" "fmt -w --check x.nn" "fmt -w -" "fmt --bogus x.nn"; do
    "$nnc" $args >/dev/null 2>"$tmp/err" </dev/null
    rc=$?
    [ "$rc" -eq 2 ] && grep -q "^nnc: " "$tmp/err" && ok || bad "nnc $args: exit $rc, expected 2"
done
"$nnc" fmt "$tmp/missing.nn" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "cannot open" "$tmp/err" && ok || bad "fmt of a missing file"

echo "fmt: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
