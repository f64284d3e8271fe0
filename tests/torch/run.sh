#!/bin/sh
# The PyTorch checks: training losses agree step by step (compare_xor.py, for
# the optimizers -- SGD and Adam in xor_fixed.nn, RMSprop in xor_rmsprop.nn --
# for every activation, and for every loss and its arguments in
# losses_fixed.nn), for the graph models (compare_graph.py: convolutions,
# pooling, batchnorm, add, concat, from = over graph_*.nn), every optimizer
# with and without weight decay, every schedule, clip_grad and validation
# against torch.optim and lr_scheduler (compare_optim.py on optim_mlp.nn),
# and nnc's safetensors load into the lecture's XORNet (safetensors_xornet.py).
# Skips (exit 0) when PyTorch is not installed for /usr/bin/python3.
set -e
here=$(dirname "$0")
if ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    echo "tests/torch: skipped: python3-torch not installed"
    exit 0
fi
: "${NNC:=$here/../../build/nnc}"
export NNC
/usr/bin/python3 "$here/safetensors_xornet.py" "$NNC" "$here/../../examples"
/usr/bin/python3 "$here/compare_xor.py" "$here/xor_fixed.nn"
/usr/bin/python3 "$here/compare_xor.py" "$here/xor_rmsprop.nn"
/usr/bin/python3 "$here/compare_xor.py" "$here/activations_fixed.nn"
/usr/bin/python3 "$here/compare_xor.py" "$here/losses_fixed.nn"
/usr/bin/python3 "$here/compare_graph.py"
/usr/bin/python3 "$here/compare_optim.py"
