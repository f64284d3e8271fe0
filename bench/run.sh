#!/bin/sh
# `make bench`: nnc and PyTorch side by side on the same work, one thread
# each, runs alternating (nnc, torch, nnc, torch, ...), medians of REPS runs.
#   (a) XOR 2-4-1, BCE, Adam lr 0.1, 1000 full-batch epochs: training loop
#   (b) examples/digits.nn (64-128-10, cross_entropy, Adam, batch 32,
#       shuffled) on the same split: time per epoch, test accuracy
#   (c) 784-512-512-10 ReLU on 60000 synthetic rows, batch 128, one epoch:
#       samples/s and GFLOP/s (6 FLOP per multiply-accumulate per sample)
#   (d) single-sample inference latency: emitted C, interpreter, PyTorch
#   (e) peak resident memory of each process (/usr/bin/time -f %M)
#   (f) start-up: `nnc run examples/xor.nn --quiet` as a whole process
#       (hyperfine -N) against (a)'s PyTorch training loop alone, and beside
#       `nnc check` and a C hello-world built with the same CFLAGS
#   (g) examples/digits_cnn.nn (two 3x3 convolutions, pooling, batchnorm;
#       Adam, batch 32, shuffled) on the same split: time per epoch, test
#       accuracy
#   (h) PyTorch's MNIST example network (conv 1->32 3x3, conv 32->64 3x3,
#       maxpool 2, dense 9216-128-10; Adam, batch 64) on MNIST_ROWS synthetic
#       28x28 rows: samples/s, GFLOP/s next to the single-thread sgemm limit
#       (1024^3 products through the same OpenBLAS), peak memory
# Writes bench/RESULTS.md. A tool, not a test: nothing asserts a time.
# usage: bench/run.sh [REPS [WIDE_REPS]]   (BUILD= the build folder)
set -eu
cd "$(dirname "$0")/.."
reps=${1:-5}
wide_reps=${2:-2}
build=${BUILD:-build}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
py=/usr/bin/python3
tb="$build/train-bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=bench/RESULTS.md

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { sort -g | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = a / b; printf (r >= 100 ? "%.0fx" : "%.1fx"), r}'; }
# timed NAME CMD...: runs CMD with its peak RSS (KB) appended to $tmp/NAME.mem
# and the `key value` lines of its output appended to $tmp/NAME.KEY.
timed() {
    name=$1; shift
    /usr/bin/time -f %M -o "$tmp/mem" "$@" >"$tmp/run"
    cat "$tmp/mem" >>"$tmp/$name.mem"
    while read -r key value; do echo "$value" >>"$tmp/$name.$key"; done <"$tmp/run"
}
med() { median <"$tmp/$1"; }

$py -c 'import torch' 2>/dev/null || { echo "bench: PyTorch (python3-torch) is needed" >&2; exit 1; }
command -v hyperfine >/dev/null 2>&1 || { echo "bench: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
echo "bench: $reps repetitions ($wide_reps for the wide network), one thread each" >&2

# startup: whole processes, hyperfine -N (no shell), median of its runs
# appended to $tmp/start_hello, start_check, start_run.
startup() {
    hyperfine -N --warmup 5 --runs 50 --export-csv "$tmp/h.csv" "$build/hello" \
        "$build/nnc check examples/xor.nn" "$build/nnc run examples/xor.nn --quiet" >/dev/null 2>&1
    awk -F, -v d="$tmp" 'NR == 2 {print $4 >>(d "/start_hello")}
                         NR == 3 {print $4 >>(d "/start_check")}
                         NR == 4 {print $4 >>(d "/start_run")}' "$tmp/h.csv"
}

# (a) XOR, and (f) start-up alternating with it
for r in $(seq "$reps"); do
    timed xor_nnc "$tb" examples/xor.nn
    timed xor_torch $py bench/train_torch.py xor
    startup
done
echo "bench: (a) xor and (f) start-up done" >&2

# (b) digits: nnc dumps its split once, PyTorch trains and tests on it.
"$tb" examples/digits.nn digits.test "$tmp/digits" >/dev/null
epochs=$(awk '/^train digitnet/ {t=1} t && $1 == "epochs" {print $3; exit}' examples/digits.nn)
lr=$(awk '/^train digitnet/ {t=1} t && $1 == "optimizer" {gsub(/[^0-9.e-]/, "", $5); print $5; exit}' examples/digits.nn)
batch=$(awk '/^train digitnet/ {t=1} t && $1 == "batch" {print $3; exit}' examples/digits.nn)
for r in $(seq "$reps"); do
    timed dig_nnc "$tb" examples/digits.nn digits.test
    timed dig_torch $py bench/train_torch.py digits "$tmp/digits" "$epochs" "$lr" "$batch"
done
echo "bench: (b) digits done ($epochs epochs, lr $lr, batch $batch)" >&2

# (c) wide network
rows=60000
for r in $(seq "$wide_reps"); do
    timed wide_nnc "$tb" wide $rows 1
    timed wide_torch $py bench/train_torch.py wide $rows 1
done
echo "bench: (c) wide done" >&2
grep -q '^portable' "$tmp/wide_nnc.blas" &&
    echo "bench: (c) ran on the portable loops, not OpenBLAS: $(head -n 1 "$tmp/wide_nnc.blas")" >&2

# (g) digits_cnn: nnc dumps its split once, PyTorch trains and tests on it.
"$tb" examples/digits_cnn.nn digits.test "$tmp/dcnn" >/dev/null
cnn_epochs=$(awk '/^train digits_cnn/ {t=1} t && $1 == "epochs" {print $3; exit}' examples/digits_cnn.nn)
cnn_lr=$(awk '/^train digits_cnn/ {t=1} t && $1 == "optimizer" {gsub(/[^0-9.e-]/, "", $5); print $5; exit}' examples/digits_cnn.nn)
cnn_batch=$(awk '/^train digits_cnn/ {t=1} t && $1 == "batch" {print $3; exit}' examples/digits_cnn.nn)
for r in $(seq "$reps"); do
    timed cnn_nnc "$tb" examples/digits_cnn.nn digits.test
    timed cnn_torch $py bench/train_torch.py digits_cnn "$tmp/dcnn" "$cnn_epochs" "$cnn_lr" "$cnn_batch"
done
echo "bench: (g) digits_cnn done ($cnn_epochs epochs, lr $cnn_lr, batch $cnn_batch)" >&2

# (h) the MNIST example network, and the sgemm limit beside it
mnist_rows=${MNIST_ROWS:-6400}
for r in $(seq "$wide_reps"); do
    timed mnist_nnc "$tb" mnist "$mnist_rows" 1
    timed mnist_torch $py bench/train_torch.py mnist "$mnist_rows" 1
    timed sgemm "$tb" sgemm 1024 20
done
echo "bench: (h) mnist done ($mnist_rows rows)" >&2

# (d) latency, with bench/latency.sh's pieces
for net in xornet mlp64; do
    "$build/nnc" emit "bench/nets/$net.nn" --prefix net -o "$tmp/net.c" 2>/dev/null
    cc -std=c99 -O3 -march=native -ffp-contract=off -o "$tmp/emit" bench/latency_emit.c "$tmp/net.c" -lm
    for r in $(seq "$reps"); do
        /usr/bin/time -f %M -o "$tmp/mem" "$tmp/emit" 2000000 >>"$tmp/lat_${net}_emit.ns"
        cat "$tmp/mem" >>"$tmp/lat_${net}_emit.mem"
        /usr/bin/time -f %M -o "$tmp/mem" "$build/latency-interp" "bench/nets/$net.nn" 1000000 >>"$tmp/lat_${net}_interp.ns"
        cat "$tmp/mem" >>"$tmp/lat_${net}_interp.mem"
        /usr/bin/time -f %M -o "$tmp/mem" $py bench/latency_torch.py "$net" 50000 >>"$tmp/lat_${net}_torch.ns"
        cat "$tmp/mem" >>"$tmp/lat_${net}_torch.mem"
    done
done
echo "bench: (d) latency done" >&2

# ---- the report ----------------------------------------------------------
macs=$((784 * 512 + 512 * 512 + 512 * 10))
xa=$(med xor_nnc.train_s); xt=$(med xor_torch.train_s)
da=$(med dig_nnc.train_s); dt=$(med dig_torch.train_s)
dae=$(awk -v s="$da" -v e="$epochs" 'BEGIN {printf "%.2f", s / e * 1000}')
dte=$(awk -v s="$dt" -v e="$epochs" 'BEGIN {printf "%.2f", s / e * 1000}')
acc_a=$(med dig_nnc.accuracy); acc_t=$(med dig_torch.accuracy)
wa=$(med wide_nnc.train_s); wt=$(med wide_torch.train_s)
sps() { awk -v s="$1" -v n="$rows" 'BEGIN {printf "%.0f", n / s}'; }
gfl() { awk -v s="$1" -v n="$rows" -v m="$macs" 'BEGIN {printf "%.1f", 6 * m * n / s / 1e9}'; }
us() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1e6}'; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1e3}'; }
ms2() { awk -v s="$1" 'BEGIN {printf "%.2f", s * 1e3}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
kb() { maxof <"$tmp/$1.mem"; }
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
flags=$(awk -F': ' '/^flags/ {print $2; exit}' /proc/cpuinfo)
blas=$(head -n 1 "$tmp/wide_nnc.blas")
t_hello=$(med start_hello); t_check=$(med start_check); t_run=$(med start_run)
ca=$(med cnn_nnc.train_s); ct=$(med cnn_torch.train_s)
cae=$(awk -v s="$ca" -v e="$cnn_epochs" 'BEGIN {printf "%.2f", s / e * 1000}')
cte=$(awk -v s="$ct" -v e="$cnn_epochs" 'BEGIN {printf "%.2f", s / e * 1000}')
cacc_a=$(med cnn_nnc.accuracy); cacc_t=$(med cnn_torch.accuracy)
# multiply-accumulates of one MNIST-net sample's forward pass
mnist_macs=$((26 * 26 * 32 * 9 + 24 * 24 * 64 * 288 + 9216 * 128 + 128 * 10))
ma=$(med mnist_nnc.train_s); mt=$(med mnist_torch.train_s)
msps() { awk -v s="$1" -v n="$mnist_rows" 'BEGIN {printf "%.0f", n / s}'; }
mgfl() { awk -v s="$1" -v n="$mnist_rows" -v m="$mnist_macs" 'BEGIN {printf "%.1f", 6 * m * n / s / 1e9}'; }
peak=$(median <"$tmp/sgemm.gflops")
{
    echo "# nnc vs PyTorch: benchmark results"
    echo
    echo "Written by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'). One thread each"
    echo "(\`OPENBLAS_NUM_THREADS=1\`, \`torch.set_num_threads(1)\`), runs alternating nnc / PyTorch,"
    echo "medians of $reps runs ($wide_reps for the wide network). Times are training loops only"
    echo "(no start-up, no data loading; OpenBLAS is loaded before the clock starts), except (f):"
    echo "whole processes. Ratios are PyTorch / nnc: above 1x nnc is faster or smaller."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $cpu, $(getconf _NPROCESSORS_ONLN) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- flags: $flags"
    echo "- nnc: $(cc --version | head -n 1), CFLAGS as in the Makefile (-O3 -ffp-contract=off -fno-math-errno), BLAS=${BLAS:-?}; (c) ran on ${blas:-?}"
    echo "- PyTorch $($py -c 'import torch; print(torch.__version__)') (Debian python3-torch), Python $($py -c 'import platform; print(platform.python_version())')"
    echo
    echo "## Results"
    echo
    echo "| workload | nnc | PyTorch | ratio | target |"
    echo "|---|---|---|---|---|"
    echo "| (a) XOR 2-4-1, Adam, 1000 epochs: training loop | $(us "$xa") µs | $(us "$xt") µs | $(ratio "$xt" "$xa") | >= 500x |"
    echo "| (b) digits 64-128-10, batch 32: time per epoch | $dae ms | $dte ms | $(ratio "$dt" "$da") | >= 10x |"
    echo "| (b) digits: test accuracy ($epochs epochs, lr $lr) | $acc_a | $acc_t | | nnc >= PyTorch |"
    echo "| (c) 784-512-512-10, 60000 rows, batch 128: one epoch | $(awk -v s="$wa" 'BEGIN {printf "%.2f", s}') s | $(awk -v s="$wt" 'BEGIN {printf "%.2f", s}') s | $(ratio "$wt" "$wa") | >= 1x |"
    echo "| (c) samples/s | $(sps "$wa") | $(sps "$wt") | | |"
    echo "| (c) GFLOP/s (6 x $macs MAC x rows / time) | $(gfl "$wa") | $(gfl "$wt") | | |"
    for net in xornet mlp64; do
        e=$(med "lat_${net}_emit.ns"); i=$(med "lat_${net}_interp.ns"); t=$(med "lat_${net}_torch.ns")
        echo "| (d) $net latency per sample: emitted C (-O3 -march=native) | $e ns | $t ns | $(ratio "$t" "$e") | >= 50x |"
        echo "| (d) $net latency per sample: interpreter | $i ns | $t ns | $(ratio "$t" "$i") | |"
    done
    echo "| (e) peak RSS, (a) XOR | $(mb "$(kb xor_nnc)") MB | $(mb "$(kb xor_torch)") MB | $(ratio "$(kb xor_torch)" "$(kb xor_nnc)") | >= 20x |"
    echo "| (e) peak RSS, (b) digits | $(mb "$(kb dig_nnc)") MB | $(mb "$(kb dig_torch)") MB | $(ratio "$(kb dig_torch)" "$(kb dig_nnc)") | >= 20x |"
    echo "| (e) peak RSS, (c) wide (data: $(awk -v n=$rows 'BEGIN {printf "%.0f", n * 785 * 4 / 1048576}') MB) | $(mb "$(kb wide_nnc)") MB | $(mb "$(kb wide_torch)") MB | $(ratio "$(kb wide_torch)" "$(kb wide_nnc)") | >= 20x |"
    echo "| (e) peak RSS, (d) mlp64 latency: emitted C | $(mb "$(kb lat_mlp64_emit)") MB | $(mb "$(kb lat_mlp64_torch)") MB | $(ratio "$(kb lat_mlp64_torch)" "$(kb lat_mlp64_emit)") | >= 20x |"
    echo "| (e) peak RSS, (d) mlp64 latency: interpreter | $(mb "$(kb lat_mlp64_interp)") MB | $(mb "$(kb lat_mlp64_torch)") MB | $(ratio "$(kb lat_mlp64_torch)" "$(kb lat_mlp64_interp)") | |"
    echo "| (f) whole process \`nnc run examples/xor.nn --quiet\` vs (a)'s PyTorch training loop alone | $(ms2 "$t_run") ms | $(ms2 "$xt") ms | $(ratio "$xt" "$t_run") | >= 100x |"
    echo "| (f) whole process: C hello-world (same CFLAGS) / \`nnc check examples/xor.nn\` | $(ms2 "$t_hello") ms / $(ms2 "$t_check") ms | | | |"
    echo "| (g) digits_cnn (conv, pool, batchnorm), batch $cnn_batch: time per epoch | $cae ms | $cte ms | $(ratio "$ct" "$ca") | >= 3x |"
    echo "| (g) digits_cnn: test accuracy ($cnn_epochs epochs, lr $cnn_lr) | $cacc_a | $cacc_t | | nnc >= PyTorch |"
    echo "| (h) MNIST example net, batch 64, $mnist_rows rows: training samples/s | $(msps "$ma") | $(msps "$mt") | $(ratio "$mt" "$ma") | >= 1x |"
    echo "| (h) GFLOP/s (6 x $mnist_macs MAC x rows / time); single-thread sgemm limit $(printf '%.1f' "$peak") | $(mgfl "$ma") | $(mgfl "$mt") | | |"
    echo "| (e) peak RSS, (h) MNIST net | $(mb "$(kb mnist_nnc)") MB | $(mb "$(kb mnist_torch)") MB | $(ratio "$(kb mnist_torch)" "$(kb mnist_nnc)") | |"
    echo "| (f) \`nnc run\` over hello-world + (a)'s nnc loop ($(ms2 "$t_hello") + $(ms2 "$xa") ms) | $(awk -v r="$t_run" -v h="$t_hello" -v l="$xa" 'BEGIN {printf "%.2fx", r / (h + l)}') | | | <= 1.5x |"
    echo
    echo "Raw runs (seconds; accuracy): XOR nnc $(tr '\n' ' ' <"$tmp/xor_nnc.train_s")/ torch $(tr '\n' ' ' <"$tmp/xor_torch.train_s");"
    echo "digits nnc $(tr '\n' ' ' <"$tmp/dig_nnc.train_s")/ torch $(tr '\n' ' ' <"$tmp/dig_torch.train_s");"
    echo "wide nnc $(tr '\n' ' ' <"$tmp/wide_nnc.train_s")/ torch $(tr '\n' ' ' <"$tmp/wide_torch.train_s");"
    echo "digits_cnn nnc $(tr '\n' ' ' <"$tmp/cnn_nnc.train_s")/ torch $(tr '\n' ' ' <"$tmp/cnn_torch.train_s");"
    echo "digits_cnn accuracy nnc $(tr '\n' ' ' <"$tmp/cnn_nnc.accuracy")/ torch $(tr '\n' ' ' <"$tmp/cnn_torch.accuracy");"
    echo "mnist nnc $(tr '\n' ' ' <"$tmp/mnist_nnc.train_s")/ torch $(tr '\n' ' ' <"$tmp/mnist_torch.train_s"); sgemm GFLOP/s $(tr '\n' ' ' <"$tmp/sgemm.gflops")."
    echo "start-up medians hello $(tr '\n' ' ' <"$tmp/start_hello")/ check $(tr '\n' ' ' <"$tmp/start_check")/ run $(tr '\n' ' ' <"$tmp/start_run")."
    echo
    echo "See docs/performance.md for the profile and what the numbers mean."
} >"$out"
cat "$out"
