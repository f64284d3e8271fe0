#!/bin/sh
# The nnc binary exports no bare yy*/YY* symbol: the bison parser and the
# flex scanner carry the nnc_yy prefix (grammar/nn.y api.prefix, grammar/nn.l
# %option prefix), so nnc's objects can be linked beside another parser
# without a clash on yyparse or yylex.
set -u
nnc=${NNC:?set NNC to the nnc binary}
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

syms=$(nm -g --defined-only "$nnc") || { echo "FAIL nm $nnc"; exit 1; }
bare=$(printf '%s\n' "$syms" | grep -E ' [A-Za-z] _?(yy|YY)')
[ -z "$bare" ] && ok || bad "bare yy symbols in $nnc: $(printf '%s\n' "$bare" | awk '{print $3}' | head -5 | tr '\n' ' ')"
# the prefixed names are there, so the check above did look at the parser
for s in nnc_yyparse nnc_yylex nnc_yylex_init_extra; do
    printf '%s\n' "$syms" | grep -qE " T $s\$" && ok || bad "no $s in $nnc"
done
echo "symbols: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
