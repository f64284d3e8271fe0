#!/bin/sh
# The language server's protocol tests: the recorded JSON-RPC sessions
# (tests/lsp/*.jsonrpc, replayed by replay.py; --bless rewrites their
# expected answers), for every tests/golden/*.err case the agreement of the
# server's diagnostics with `nnc check` (same_diagnostics.py), and for every
# .nn file of the tree its formatting with `nnc fmt` (same_format.py). NNC
# names the binary; WRAP may prefix it (valgrind). The editor test is
# nvim.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${NNC:?set NNC to the nnc binary}"
cd "$here" || exit 2
rc=0
python3 replay.py "$@" ./*.jsonrpc || rc=1
[ "${1:-}" = "--bless" ] || python3 same_diagnostics.py || rc=1
[ "${1:-}" = "--bless" ] || python3 same_format.py || rc=1
exit $rc
