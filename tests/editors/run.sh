#!/bin/bash
# The editor files (editors/, docs in editors/*/README.md):
#   - the VS Code TextMate grammar tokenizes every example and the fixtures
#     with the expected scopes (tokenize.js, vscode-textmate as locked in
#     package-lock.json: `npm ci --prefix tests/editors`, as .ci/run does);
#   - the VS Code extension's manifest names files that exist, and its
#     client parses;
#   - the Vim syntax file gives each kind of token its group (vim_check.vim,
#     when vim is installed) and knows every op of src/ir/ops.c; the
#     ftplugin's :NncFmt formats a buffer with $NNC (when NNC is set).
# Under CI (CI=true) a missing node_modules or vim fails instead of skipping.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
missing() {
    if [ "${CI:-}" = true ]; then bad "$1"; else echo "skip: $1"; skip=$((skip + 1)); fi
}

if [ -d "$here/node_modules/vscode-textmate" ]; then
    if (cd "$here" && node tokenize.js "$root"/examples/*.nn fixture.nn \
            "$root"/tests/golden/fmt_comments.nn "$root"/tests/golden/fmt_layout.nn); then
        ok
    else
        bad "the TextMate grammar (see above)"
    fi
else
    missing "tests/editors/node_modules: run 'npm ci --prefix tests/editors'"
fi

# The extension: every path its package.json names exists; JSON parses.
if (cd "$root/editors/vscode" && node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
    JSON.parse(fs.readFileSync("language-configuration.json", "utf8"));
    const files = [p.main, ...p.contributes.languages.map((l) => l.configuration),
                   ...p.contributes.grammars.map((g) => g.path)];
    for (const f of files) if (!fs.existsSync(f)) throw new Error("missing " + f);
    const g = JSON.parse(fs.readFileSync(p.contributes.grammars[0].path, "utf8"));
    if (g.scopeName !== p.contributes.grammars[0].scopeName) throw new Error("scopeName");
    if (!p.contributes.languages[0].extensions.includes(".nn")) throw new Error(".nn");
' && node --check extension.js); then ok; else bad "editors/vscode: manifest or client"; fi

# Vim: every op of the table is highlighted, and the groups are right.
ops=$(grep -o '{OP_[A-Z0-9_]*, "[a-z0-9_]*"' "$root/src/ir/ops.c" | sed 's/.*"\(.*\)"/\1/' | grep -v '^input$')
absent=$(for op in $ops; do grep -q "^syn keyword nn[A-Za-z]* .*\<$op\>" "$root/editors/vim/syntax/nn.vim" || echo "$op"; done)
[ -z "$absent" ] && ok || bad "editors/vim/syntax/nn.vim lacks: $absent"
# ... and every optimizer of src/ir/optim.c, in both grammars.
optims=$(grep -o '\[OPTIM_[A-Z0-9_]*\] *= *{"[a-z0-9_]*"' "$root/src/ir/optim.c" | sed 's/.*"\(.*\)"/\1/')
absent=$(for o in $optims; do
    grep -q "^syn keyword nnOptimizer .*\<$o\>" "$root/editors/vim/syntax/nn.vim" || echo "vim:$o"
    grep -q "optimizer.nn" "$root/editors/vscode/syntaxes/nn.tmLanguage.json" &&
        grep "optimizer.nn" "$root/editors/vscode/syntaxes/nn.tmLanguage.json" | grep -q "$o" || echo "vscode:$o"
done)
[ -n "$optims" ] && [ -z "$absent" ] && ok || bad "editors lack optimizers: ${absent:-(none found in src/ir/optim.c)}"
# ... and every schedule (step is highlighted as the activation it also is).
scheds=$(grep -o '\[SCHED_[A-Z0-9_]*\] *= *{"[a-z0-9_]*"' "$root/src/ir/optim.c" | sed 's/.*"\(.*\)"/\1/')
absent=$(for o in $scheds; do
    grep -q "^syn keyword nn\(Schedule\|Activation\) .*\<$o\>" "$root/editors/vim/syntax/nn.vim" || echo "vim:$o"
    grep -A1 '"match"' "$root/editors/vscode/syntaxes/nn.tmLanguage.json" | tr -d '\n' |
        grep -oE '"match": "[^"]*\b'"$o"'\b[^"]*",? *"name": "support\.function\.(schedule|activation)\.nn"' \
        >/dev/null || echo "vscode:$o"
done)
[ -n "$scheds" ] && [ -z "$absent" ] && ok || bad "editors lack schedules: ${absent:-(none found in src/ir/optim.c)}"
if command -v vim >/dev/null 2>&1; then
    out=$(mktemp)
    NN_VIM_OUT=$out vim -Nu NONE -i NONE -es -S "$here/vim_check.vim" </dev/null >/dev/null 2>&1
    if [ "$(cat "$out" 2>/dev/null)" = ok ]; then ok; else bad "vim syntax: $(cat "$out" 2>/dev/null)"; fi
    rm -f "$out"
else
    missing "vim is not installed: the Vim syntax check did not run"
fi

echo "editors: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
