#!/bin/sh
# Compares nnc's training losses with PyTorch's on the same networks.
# Skips (exit 0) when PyTorch is not installed for /usr/bin/python3.
set -e
here=$(dirname "$0")
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    echo "tests/torch: skipped: python3-torch not installed"
    exit 0
fi
: "${NNC:=$here/../../build/nnc}"
export NNC
exec /usr/bin/python3 "$here/compare_xor.py" "$here/xor_fixed.nn"
