#!/bin/sh
# The check that would have caught "cannot find -lopenblas" on a fresh
# machine: build nnc where <cblas.h> is found but no BLAS library links (a
# private include folder holding only a cblas.h, on CPATH, and a compiler
# wrapper whose linker, like that machine's, finds no -l...blas...), then
# check that the build linked no BLAS, that `make run`'s command works, and
# that a large product says which path it took: OpenBLAS when this machine
# has libopenblas.so.0 (the run-time loading works), else the portable loops.
# CI runs it (.ci/run); it takes one build (about a minute on 2 cores).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
real_cc=$(command -v "${CC:-cc}")

mkdir -p "$tmp/include" "$tmp/bin"
cat >"$tmp/include/cblas.h" <<'EOF'
/* A header without its library: what libblas-dev alone looked like. */
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
EOF
cat >"$tmp/bin/cc" <<EOF
#!/bin/sh
for arg in "\$@"; do
    case "\$arg" in
    -l*blas*) echo "ld: cannot find \$arg (check-blas-detect: no BLAS links here)" >&2; exit 1 ;;
    esac
done
exec "$real_cc" "\$@"
EOF
chmod +x "$tmp/bin/cc"

fail() { echo "check-blas-detect: FAIL: $*" >&2; exit 1; }

printf '#include <cblas.h>\n' | CPATH="$tmp/include" "$tmp/bin/cc" -E -x c - >/dev/null ||
    fail "the decoy <cblas.h> is not found: the check would prove nothing"
CPATH="$tmp/include" make -s BUILD="$tmp/build" CC="$tmp/bin/cc" all >"$tmp/make.log" 2>&1 ||
    { cat "$tmp/make.log" >&2; fail "the build failed with a <cblas.h> and no BLAS library"; }
nnc="$tmp/build/nnc"
if readelf -d "$nnc" | grep -i 'NEEDED.*blas'; then
    fail "nnc links a BLAS library"
fi
"$nnc" run examples/xor.nn --quiet >/dev/null || fail "nnc run examples/xor.nn failed"

# digits' products (batch 32 x 64 x 128) reach the BLAS threshold.
large() { "$nnc" run examples/digits.nn --epochs 1 --quiet --verbose 2>&1 >/dev/null | tail -n 1; }
said=$(large)
echo "check-blas-detect: large products: $said"
if ldconfig -p | grep -q 'libopenblas\.so\.0 '; then
    case "$said" in *"(libopenblas.so.0)") ;; *) fail "libopenblas.so.0 is installed but was not used" ;; esac
else
    case "$said" in *"portable loops (libopenblas.so.0: "*) ;; *) fail "no libopenblas.so.0, yet: $said" ;; esac
fi
said=$(NNC_BLAS=off large)
case "$said" in *"portable loops (NNC_BLAS=off)") ;; *) fail "NNC_BLAS=off gave: $said" ;; esac
echo "check-blas-detect: ok (a <cblas.h> without a library: the build links no BLAS and runs)"
