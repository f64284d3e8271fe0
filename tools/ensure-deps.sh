#!/bin/sh
# Installs nnc's build dependencies with apt-get when they are missing, so
# `make run` and `make test` work on a fresh Debian machine. With --test, also
# what the test suite runs, so that `make test` runs every check rather than
# skipping one: clang (the emitted C is compiled with gcc and clang), python3
# (test scripts), xmllint (plots), script (the TTY check), mandoc (the man
# page's lint in tests/install.sh), PyTorch, numpy and onnx for
# /usr/bin/python3 (the PyTorch agreement, the --target pytorch package and
# the ONNX checker: about 200 MB with libtorch), Neovim and Vim (the editor
# tests), and, with npm, the locked node packages of tests/onnx
# (onnxruntime-node) and tests/editors (the TextMate grammar's tokenizer).
set -e
need=""
if [ "${1:-}" = "--test" ]; then
    command -v clang   >/dev/null 2>&1 || need="$need clang"
    command -v python3 >/dev/null 2>&1 || need="$need python3"
    command -v xmllint >/dev/null 2>&1 || need="$need libxml2-utils"
    command -v script  >/dev/null 2>&1 || need="$need bsdutils"
    command -v mandoc  >/dev/null 2>&1 || need="$need mandoc"
    /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need="$need python3-torch"
    /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || need="$need python3-numpy"
    # onnx.checker, not onnx: libonnx-testdata's onnx/backend folder alone
    # makes a bare `import onnx` succeed (as an empty namespace package).
    /usr/bin/python3 -c 'import onnx.checker' >/dev/null 2>&1 || need="$need python3-onnx"
    command -v nvim    >/dev/null 2>&1 || need="$need neovim"
    command -v vim     >/dev/null 2>&1 || need="$need vim"
    # A Node.js from elsewhere brings its own npm (Debian's conflicts with it).
    command -v npm     >/dev/null 2>&1 || need="$need nodejs npm"
fi
command -v flex  >/dev/null 2>&1 || need="$need flex"
command -v bison >/dev/null 2>&1 || need="$need bison"
[ -f /usr/include/criterion/criterion.h ] || need="$need libcriterion-dev"
[ -f /usr/include/cjson/cJSON.h ] || need="$need libcjson-dev"
# protobuf-c: --target onnx and the ONNX reader; protoc-c compiles the
# vendored third_party/onnx/onnx.proto at build time.
command -v protoc-c >/dev/null 2>&1 || need="$need protobuf-c-compiler"
[ -f /usr/include/protobuf-c/protobuf-c.h ] || need="$need libprotobuf-c-dev"
# No BLAS: the build links none (nnc loads OpenBLAS at run time when a large
# product comes, from Debian's libopenblas0, and runs the portable loops
# without it), so nothing here can install a library the build does not
# link. OpenBLAS is speed for wide networks, not a dependency: it is not
# installed here (docs/setup.md).
# $need unquoted: one word per package.
[ -z "$need" ] || "$(dirname "$0")/apt-install.sh" "build dependencies" $need
[ "${1:-}" = "--test" ] || exit 0
# The node packages, as locked in each package-lock.json. onnxruntime-node's
# install script would also fetch CUDA binaries from NuGet: not needed.
for dir in tests/onnx tests/editors; do
    [ -d "$dir/node_modules" ] && continue
    echo "nnc: installing the node packages of $dir (npm ci)" >&2
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix "$dir" --no-audit --no-fund --silent
done
