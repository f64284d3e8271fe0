#!/bin/sh
# The PyTorch packages of `nnc emit --target pytorch`: its refusals
# (errors.sh, no PyTorch needed), then check_package.py:
# XOR under torchrun with 2 processes, weights back and forth with nnc,
# digits' data and a short run, fixed-weight models, py_compile of all,
# graph models' weights both ways, preprocess(), the digits CNN under torchrun,
# every schedule, and validation with early stopping in one process and
# under torchrun against nnc run.
# Skips (exit 0) when PyTorch is not installed for /usr/bin/python3, except
# under CI=true, where a missing PyTorch is a failure.
set -e
here=$(cd "$(dirname "$0")" && pwd)
: "${NNC:=$here/../../build/nnc}"
export NNC
"$here/errors.sh"
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
        echo "tests/pytorch: FAIL: python3-torch is not installed (CI=true)"
        exit 1
    fi
    echo "tests/pytorch: skipped: python3-torch not installed"
    exit 0
fi
if ! command -v torchrun >/dev/null 2>&1; then
    echo "tests/pytorch: FAIL: torchrun not found (it comes with python3-torch)"
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/check_package.py" "$NNC" "$here/../.." "$work"
