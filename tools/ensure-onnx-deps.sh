#!/bin/sh
# Installs what `make conformance` and `make fuzz-onnx` need, when missing:
# the ONNX backend node tests, protobuf-c and python3-onnx's onnx.proto.
# build/nnc itself needs none of these.
set -e
need=""
[ -d /usr/share/libonnx-testdata/data/node ] || need="$need libonnx-testdata"
[ -f /usr/include/protobuf-c/protobuf-c.h ] || need="$need libprotobuf-c-dev"
command -v protoc-c >/dev/null 2>&1 || need="$need protobuf-c-compiler"
[ -f /usr/lib/python3/dist-packages/onnx/onnx.proto ] || need="$need python3-onnx"
[ -z "$need" ] && exit 0
echo "nnc: installing ONNX conformance dependencies:$need" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $need >/dev/null
