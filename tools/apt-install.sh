#!/bin/sh
# apt-get install PACKAGES, saying why (WHAT), as root or through sudo:
# the one way tools/ensure-deps.sh and tools/ensure-onnx-deps.sh install.
# usage: apt-install.sh WHAT PACKAGE...
set -e
what=$1
shift
echo "nnc: installing $what: $*" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "$@" >/dev/null
