#!/bin/sh
# The language server in a real editor: Neovim, headless, with the minimal
# configuration tests/lsp/init.lua, opens a .nn file and nvim_check.lua
# checks the diagnostics (line and column, also after non-ASCII text),
# hover, go to definition and formatting as the editor sees them. Skips when nvim is
# missing, unless CI is set. NNC names the binary.
set -u
here=$(cd "$(dirname "$0")" && pwd)
nnc=${NNC:?set NNC to the nnc binary}
if ! command -v nvim >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
        echo "FAIL nvim: Neovim is not installed (CI needs it: apt-get install neovim)"
        exit 1
    fi
    echo "nvim: skipped (Neovim is not installed; apt-get install neovim)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/xor.nn" <<'NN'
# Le réseau XOR 😀
dataset xor {
    x = [[0, 0], [0, 1], [1, 0], [1, 1]]
    y = [0, 1, 1, 0]
}
dataset notes { csv = "é😀.csv"  target = lats }
model XORNet {
    input 2
    hidden: dense 4, relu
    output: dense 1, sigmiod
}
train XORNet on xor {
    loss = bce
    optimizer = adam(lr = 0.1)
  epochs=10     # not in the canonical layout: formatting fixes it
}
NN
mkdir -p "$tmp/state" "$tmp/cache" "$tmp/data"
cd "$tmp" || exit 2
# Only our configuration: no user files, no plugins, no shada, no swap. A
# Lua error in the checks quits with status 2 rather than leaving Neovim
# waiting (timeout is the last resort).
XDG_CONFIG_HOME="$tmp/none" XDG_DATA_HOME="$tmp/data" XDG_STATE_HOME="$tmp/state" \
XDG_CACHE_HOME="$tmp/cache" NNC="$nnc" \
    timeout 120 nvim --headless --clean -n -i NONE -u "$here/init.lua" xor.nn \
    -c "lua local ok, e = pcall(dofile, '$here/nvim_check.lua')
        if not ok then io.stderr:write('FAIL ' .. tostring(e) .. '\\n'); vim.cmd('cquit 2') end" \
    2>"$tmp/log" </dev/null >/dev/null
rc=$?
if [ "$rc" -ne 0 ]; then
    cat "$tmp/log"
    for f in "$tmp"/cache/nvim/lsp.log "$tmp"/state/nvim/lsp.log; do
        [ -f "$f" ] && tail -20 "$f"
    done
    echo "nvim: FAILED (exit $rc)"
    exit 1
fi
grep -c '^ok ' "$tmp/log" | sed 's/^/nvim: /; s/$/ checks passed/'
