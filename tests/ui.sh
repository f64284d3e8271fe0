#!/bin/sh
# The friendly side of `nnc run`: --plot files, `nnc plot activations`,
# --verbose, --json, and a terminal-only progress bar that never leaks into
# pipes.
set -u
nnc=${NNC:?set NNC to the nnc binary}
cd "$(dirname "$0")/../examples" || exit 2
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cr=$(printf '\r')
esc=$(printf '\033')

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# svg_has FILE LABEL...: FILE is well-formed XML and contains every label.
svg_has() {
    f=$1
    shift
    [ -f "$f" ] || { bad "missing $f"; return; }
    xmllint --noout "$f" 2>"$tmp/xml" || { bad "$f is not well-formed: $(head -3 "$tmp/xml")"; return; }
    for label in "$@"; do
        grep -qF -- "$label" "$f" || { bad "$f: no '$label'"; return; }
    done
    ok
}

# --plot: the loss curve and the decision regions of xor.nn
"$nnc" run xor.nn --plot "$tmp/xor/plots" >"$tmp/out" 2>&1 || bad "xor.nn --plot failed"
grep -qxF "wrote $tmp/xor/plots/loss-XORNet.svg" "$tmp/out" && ok || bad "no 'wrote' line for the loss plot"
svg_has "$tmp/xor/plots/loss-XORNet.svg" "lr = 0.1" "epoch"
svg_has "$tmp/xor/plots/regions-XORNet-xor.svg" "class 0" "class 1" "4/4"
svg_has "$tmp/xor/plots/loss-XORNet.svg"
# a sweep: every run on one chart, labelled with its value
"$nnc" run lr_sweep.nn --plot "$tmp/sweep" -q >"$tmp/out" 2>&1 || bad "lr_sweep.nn --plot failed"
svg_has "$tmp/sweep/loss-XORNet.svg" "lr = 0.01" "lr = 0.1" "lr = 1"
grep -q "wrote" "$tmp/out" && bad "--quiet printed 'wrote' lines" || ok
# a folder that cannot be made fails before any training
: >"$tmp/file"
"$nnc" run xor.nn --plot "$tmp/file/plots" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && ok || bad "unwritable --plot dir: exit $rc, expected 1"
[ -s "$tmp/out" ] && bad "unwritable --plot dir: trained anyway: $(head -2 "$tmp/out")" || ok
grep -qF "$tmp/file" "$tmp/err" && ok || bad "unwritable --plot dir: error does not name it"

# nnc plot activations
"$nnc" plot activations -o "$tmp/act.svg" || bad "plot activations failed"
svg_has "$tmp/act.svg" sigmoid tanh relu leaky_relu step identity gelu silu elu softplus hardswish hardsigmoid
"$nnc" plot activations >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "plot without -o must be a usage error (2)"

# --verbose: one last stderr line naming the path of the large products.
# XOR's products are all small, so OpenBLAS is never loaded; NNC_BLAS=off
# keeps digits' large ones on the portable loops. (BLAS=none builds say so.)
verbose_says() { # WANT NNC_BLAS FILE FLAGS...
    want=$1 blas=$2
    shift 2
    got=$(NNC_BLAS=$blas "$nnc" run "$@" --quiet --verbose 2>&1 >/dev/null | tail -n 1)
    case "$got" in
    "nnc: large products (m*n*k >= 32768): portable loops ($want)" |\
    "nnc: large products (m*n*k >= 32768): portable loops (built with BLAS=none)") ok ;;
    *) bad "--verbose on $*: '$got', expected '$want'" ;;
    esac
}
verbose_says "no product reached the BLAS threshold; libopenblas.so.0 not loaded" "" xor.nn
verbose_says "NNC_BLAS=off" off digits.nn --epochs 1
verbose_says "/nonexistent/libcblas.so: cannot open shared object file: No such file or directory" \
    /nonexistent/libcblas.so digits.nn --epochs 1
"$nnc" run xor.nn --quiet >/dev/null 2>"$tmp/err"
[ -s "$tmp/err" ] && bad "without --verbose, run printed on stderr: $(head -2 "$tmp/err")" || ok

# --json: one parseable document on stdout, nothing else
json_check() { # FILE PYTHON-ASSERTIONS (d is the document)
    if "$nnc" run "$1" --json --plot "$tmp/json" >"$tmp/json.out" 2>"$tmp/err" &&
        /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); $2" <"$tmp/json.out"; then
        ok
    else
        bad "$1 --json: $2"
    fi
}
json_check xor.nn "t=d['steps'][0]; e=d['steps'][1];
assert d['ok'] and t['step']=='train' and e['step']=='evaluate'
assert len(t['runs'][0]['loss_per_epoch'])==1000 and not t['runs'][0]['diverged']
assert e['accuracy']==1.0 and len(e['rows'])==4 and e['rows'][1]['prediction']==1"
json_check lr_sweep.nn "t=d['steps'][0];
assert [r['sweep_value'] for r in t['runs']]==[0.01,0.1,1.0]
assert all(len(r['loss_per_epoch'])==1000 for r in t['runs']) and t['kept_run']==1"
json_check logistic_xor.nn "assert d['steps'][1]['accuracy']<1.0"
# a loss's arguments, defaults included, in loss_args; a logit scored > 0
json_check ../tests/golden/ok_losses.nn "t=[s for s in d['steps'] if s['step']=='train']
assert t[0]['loss']=='cross_entropy' and t[0]['loss_args']=={'label_smoothing': 0.1}
assert t[1]['loss_args']=={'label_smoothing': 0} and t[2]['loss_args']=={}
assert t[3]['loss']=='huber' and t[3]['loss_args']=={'delta': 0.5}"
json_check ../tests/golden/ok_logits_threshold.nn "e=d['steps'][2]
assert e['model']=='and_logits' and e['accuracy']==1.0 and e['rows'][3]['prediction']==1"
# show = LAYER: the layer's values in every row, as the table prints them
json_check handpicked_xor.nn "e=d['steps'][0]; assert e['show']=='hidden'
assert [r['activations'] for r in e['rows']]==[[0,0],[0.5,0],[0.5,0],[1.5,0.5]]"
json_check xor.nn "e=d['steps'][1]; assert 'show' not in e and 'activations' not in e['rows'][0]"
# ... every unit of it, also beyond the table's 6 columns
cat >"$tmp/wide_show.nn" <<'EOF'
dataset one { x = [[1], [2]]  y = [1, 1] }
model m {
    input 1
    wide: dense 8, relu { weight = [[1], [2], [3], [4], [5], [6], [7], [-1]]  bias = [0, 0, 0, 0, 0, 0, 0, 0] }
    dense 1, sigmoid
}
evaluate m on one { show = wide }
EOF
json_check "$tmp/wide_show.nn" "r=d['steps'][0]['rows']
assert r[0]['activations']==[1,2,3,4,5,6,7,0] and r[1]['activations']==[2,4,6,8,10,12,14,0]"

# piped output: plain lines only
"$nnc" run xor.nn >"$tmp/out" 2>&1
if grep -q "[$cr$esc]" "$tmp/out"; then bad "piped output has \\r or ANSI escapes"; else ok; fi
grep -q '^loss .* 0.7248 -> 0.0001623$' "$tmp/out" && ok || bad "no loss sparkline in the plain output"

# a terminal (a pseudo-TTY from script(1)) gets the progress bar on a long run
# (about 2.5 s: the bar appears after 0.5 s, so the run must clearly outlast that)
if command -v script >/dev/null 2>&1; then
    sed -e 's/epochs    = 1000/epochs    = 2000000/' -e 's/log_every = 200/log_every = 2000000/' \
        xor.nn >"$tmp/long.nn"
    script -qc "'$nnc' run '$tmp/long.nn'" /dev/null >"$tmp/tty" 2>&1 </dev/null
    grep -q "epochs/s" "$tmp/tty" && grep -q "$cr" "$tmp/tty" && ok || bad "no progress bar on a terminal"
    NO_COLOR=1 script -qc "'$nnc' run '$tmp/long.nn'" /dev/null >"$tmp/tty" 2>&1 </dev/null
    grep -q "${esc}\[3" "$tmp/tty" && bad "NO_COLOR: the bar is coloured" || ok
fi

# exit 3: a valid program whose training diverged (run and emit alike);
# unwritable outputs are refused before any training, and files get 0644
golden=../tests/golden
"$nnc" run -q "$golden/run_diverged.nn" >/dev/null 2>&1
rc=$?; [ "$rc" -eq 3 ] && ok || bad "run_diverged.nn: run exit $rc, expected 3"
"$nnc" emit "$golden/run_diverged.nn" -o "$tmp/div.c" >/dev/null 2>&1
rc=$?; [ "$rc" -eq 3 ] && [ ! -e "$tmp/div.c" ] && ok || bad "run_diverged.nn: emit exit $rc, expected 3 and no file"
# Every layer kind is written by every target; the CNN emits as C, exit 0
"$nnc" emit digits_cnn.nn --epochs 1 -o "$tmp/cnn.c" >"$tmp/out" 2>"$tmp/err" &&
    grep -q "^void digits_cnn_forward" "$tmp/cnn.c" && ok || bad "emit of a CNN failed: $(cat "$tmp/err")"
"$nnc" run -q "$golden/run_sweep_some_diverged.nn" >/dev/null 2>&1
rc=$?; [ "$rc" -eq 0 ] && ok || bad "run_sweep_some_diverged.nn: exit $rc, expected 0"
"$nnc" emit xor.nn -o "$tmp/x.c" --header "$tmp" >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 1 ] && ! grep -q "final loss" "$tmp/err" && ok || bad "--header DIR: exit $rc or trained first"
(umask 022 && "$nnc" run -q and.nn --save "$tmp/and.safetensors" >/dev/null 2>&1)
[ "$(stat -c %a "$tmp/and.safetensors")" = 644 ] && ok || bad "--save file mode is not 0644"

# --target onnx: usage errors (2) before anything runs; an unwritable -o is
# refused before training (1, nothing written); a diverged training writes
# nothing (3); --weights is named in the model's doc_string
"$nnc" emit --target onnx xor.nn >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && grep -qF -- "--target onnx needs -o MODEL.onnx" "$tmp/err" && ok || bad "onnx without -o: exit $rc"
"$nnc" emit --target onnx --prefix net xor.nn -o "$tmp/p.onnx" >/dev/null 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && [ ! -e "$tmp/p.onnx" ] && ok || bad "onnx with --prefix: exit $rc, expected 2"
"$nnc" emit --target onnx xor.nn -o "$tmp/no/such/dir/x.onnx" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ ! -e "$tmp/no" ] && ok || bad "onnx to a missing folder: exit $rc, expected 1"
grep -qF "cannot write '$tmp/no/such/dir/x.onnx'" "$tmp/err" && ! grep -q "final loss" "$tmp/err" && ok ||
    bad "onnx to a missing folder: $(head -2 "$tmp/err")"
"$nnc" emit --target onnx "$golden/run_diverged.nn" -o "$tmp/div.onnx" >/dev/null 2>&1
rc=$?; [ "$rc" -eq 3 ] && [ ! -e "$tmp/div.onnx" ] && ok || bad "onnx of a diverged run: exit $rc, expected 3 and no file"
"$nnc" run -q and.nn --save "$tmp/and.st" >/dev/null 2>&1 &&
    "$nnc" emit --target onnx and.nn --weights "$tmp/and.st" -o "$tmp/and.onnx" 2>"$tmp/err" &&
    grep -qF "loaded from $tmp/and.st" "$tmp/and.onnx" && ok || bad "onnx --weights: $(head -2 "$tmp/err")"
# --raw-input: only for --target onnx (2); a model run on no dataset has no
# preprocessing to put in front (1, before training, nothing written)
"$nnc" emit --raw-input xor.nn -o "$tmp/raw.c" >/dev/null 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && [ ! -e "$tmp/raw.c" ] && grep -qF -- "--raw-input is for --target onnx, not 'c'" "$tmp/err" &&
    ok || bad "--raw-input for C: exit $rc: $(cat "$tmp/err")"
printf 'model Alone {\n    input 2\n    dense 1\n}\n' >"$tmp/alone.nn"
"$nnc" emit --target onnx --raw-input "$tmp/alone.nn" -o "$tmp/alone.onnx" >/dev/null 2>"$tmp/err"
rc=$?; [ "$rc" -eq 1 ] && [ ! -e "$tmp/alone.onnx" ] &&
    grep -qF "emit: --raw-input: model 'Alone' is trained and evaluated on no dataset" "$tmp/err" &&
    ok || bad "--raw-input without a dataset: exit $rc: $(cat "$tmp/err")"

# --quantize int8: usage errors (2); a model it cannot quantize is refused
# (as C and as int8 ONNX) before training, nothing written (1); --header for the int8 file; --json
"$nnc" run xor.nn --quantize int4 >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && grep -qF -- "--quantize needs int8, not 'int4'" "$tmp/err" && ok || bad "--quantize int4: exit $rc"
"$nnc" run xor.nn --calibrate xor >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && ok || bad "--calibrate without --quantize: exit $rc, expected 2"
"$nnc" run xor.nn --quantize int8 --trace-int8 >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && [ ! -s "$tmp/out" ] && grep -qF -- "--trace-int8 adds the int8 layers" "$tmp/err" &&
    ok || bad "--trace-int8 without --json: exit $rc, expected 2"
"$nnc" emit xor.nn --quantize int8 --trace-int8 >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && [ ! -s "$tmp/out" ] && ok || bad "emit --trace-int8 (a run flag): exit $rc, expected 2"
"$nnc" emit --target pytorch --quantize int8 xor.nn -o "$tmp/q.pkg" >"$tmp/out" 2>"$tmp/err"
rc=$?; [ "$rc" -eq 2 ] && [ ! -e "$tmp/q.pkg" ] && ok || bad "--target pytorch --quantize int8: exit $rc"
"$nnc" emit --target onnx --quantize int8 "$golden/emit_layers.nn" -o "$tmp/q.onnx" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ ! -e "$tmp/q.onnx" ] && ! grep -q "final loss" "$tmp/err" &&
    grep -qF "layer 'bn2' (batchnorm) of model 'layers' cannot be quantized" "$tmp/err" && ok ||
    bad "--target onnx --quantize int8 of a lone batchnorm: exit $rc, expected 1 before training"
"$nnc" emit "$golden/emit_layers.nn" --quantize int8 -o "$tmp/layers8.c" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && [ ! -e "$tmp/layers8.c" ] && ! grep -q "final loss" "$tmp/err" &&
    grep -qF "layer 'bn2' (batchnorm) of model 'layers' cannot be quantized" "$tmp/err" && ok ||
    bad "int8 emit of a lone batchnorm: exit $rc: $(cat "$tmp/err")"
"$nnc" emit xor.nn --quantize int8 -o "$tmp/xor8.c" --header "$tmp/xor8.h" 2>/dev/null &&
    grep -qF '#include "xor8.h"' "$tmp/xor8.c" && grep -q "^void xornet_forward(const int8_t" "$tmp/xor8.h" &&
    cc -std=c99 -Wall -Wextra -pedantic -Werror -c -o "$tmp/xor8.o" "$tmp/xor8.c" && ok ||
    bad "int8 emit with --header"
"$nnc" run xor.nn --quantize int8 --json >"$tmp/q.json" 2>"$tmp/err" &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); q=[s for s in d["steps"] if s["step"]=="quantize"]; sys.exit(not q or q[0]["int8"]["rows"] != 4 or len(q[0]["rows"]) != 4)' "$tmp/q.json" &&
    ok || bad "run --quantize int8 --json: no quantize step with 4 rows"
echo "ui: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
