#!/bin/sh
# `nnc emit --target onnx` checked by ONNX's own tools (check.py): the
# checker (python3-onnx for /usr/bin/python3) and onnxruntime (the npm
# package onnxruntime-node, installed by `npm ci` here; .ci/run does it).
# Skips (exit 0) when either is missing, except under CI=true, where a
# missing peer fails: CI must really run these checks.
set -u
here=$(cd "$(dirname "$0")" && pwd)
nnc=${NNC:-$here/../../build/nnc}

missing=""
/usr/bin/python3 -c 'import onnx.checker' >/dev/null 2>&1 || missing="$missing python3-onnx"
if ! command -v node >/dev/null 2>&1; then
    missing="$missing node"
elif ! (cd "$here" && node -e 'require("onnxruntime-node")') >/dev/null 2>&1; then
    missing="$missing onnxruntime-node (npm ci --prefix tests/onnx)"
fi
if [ -n "$missing" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL tests/onnx: missing:$missing (CI must not skip)"
        exit 1
    fi
    echo "tests/onnx: skipped: missing:$missing"
    exit 0
fi
# From the top folder, so the models' doc_strings (and sizes) name
# examples/NAME.nn wherever the tree is.
cd "$here/../.." || exit 2
/usr/bin/python3 tests/onnx/check.py "$nnc" examples || exit 1
exec /usr/bin/python3 tests/onnx/check_int8.py "$nnc" examples
