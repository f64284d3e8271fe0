#!/bin/sh
# Installs what `make conformance` and `make fuzz-onnx` need, when missing:
# the ONNX backend node tests, and protobuf-c (a build dependency as well,
# see tools/ensure-deps.sh; fuzz-onnx builds without `make all`). The
# onnx.proto is vendored in third_party/onnx: python3-onnx is not needed.
set -e
need=""
[ -d /usr/share/libonnx-testdata/data/node ] || need="$need libonnx-testdata"
[ -f /usr/include/protobuf-c/protobuf-c.h ] || need="$need libprotobuf-c-dev"
command -v protoc-c >/dev/null 2>&1 || need="$need protobuf-c-compiler"
# $need unquoted: one word per package.
[ -z "$need" ] || "$(dirname "$0")/apt-install.sh" "ONNX conformance dependencies" $need
