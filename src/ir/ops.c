/* The op table: every layer kind nnc knows, defined once, with the
 * parameter tensors each declares. The checker reads it to validate layer
 * lines; the runtime and every emitter handle each kind in a table or a
 * switch of their own, and a kind one of them misses fails the build
 * (OP_COUNT in include/nnc/ir.h). Adding an op: its row here, its kernels
 * in src/runtime/ops.c, and whatever each emitter's switch asks for. */
#include <string.h>

#include "nnc/ir.h"

/* dense: nn.Linear's weight [out][in] and bias [out], both with fan_in =
 * in, so both start in U(-1/sqrt(in), 1/sqrt(in)). */
static size_t dense_params(const IrNode *n, IrParam out[IR_MAX_PARAMS])
{
    size_t units = n->cfg.dense.units, in = n->in_units;
    out[0] = (IrParam){"weight", {2, {units, in}}, in, INIT_UNIFORM_FAN_IN, "out, in"};
    out[1] = (IrParam){"bias", {1, {units}}, in, INIT_UNIFORM_FAN_IN, NULL};
    return 2;
}

/* Rows in OpKind order; each names its kind so a unit test can prove it. */
const OpInfo ir_ops[] = {
    {OP_INPUT, "input", "Input", OPARG_UNITS, false, 0, false, false, NULL},
    {OP_DENSE, "dense", "Linear", OPARG_UNITS, false, 0, false, false, dense_params},
    {OP_DROPOUT, "dropout", "Dropout", OPARG_PROB, false, 0, false, true, NULL},
    {OP_STEP, "step", "Step", OPARG_NONE, false, 0, true, true, NULL},
    {OP_SIGMOID, "sigmoid", "Sigmoid", OPARG_NONE, false, 0, true, true, NULL},
    {OP_TANH, "tanh", "Tanh", OPARG_NONE, false, 0, true, true, NULL},
    {OP_RELU, "relu", "ReLU", OPARG_NONE, false, 0, true, true, NULL},
    {OP_LEAKY_RELU, "leaky_relu", "LeakyReLU", OPARG_NUMBER, true, 0.01, true, true, NULL},
    {OP_GELU, "gelu", "GELU", OPARG_NONE, false, 0, true, true, NULL},
    {OP_SILU, "silu", "SiLU", OPARG_NONE, false, 0, true, true, NULL},
    {OP_ELU, "elu", "ELU", OPARG_NUMBER, true, 1.0, true, true, NULL},
    {OP_SOFTPLUS, "softplus", "Softplus", OPARG_NONE, false, 0, true, true, NULL},
    {OP_HARDSWISH, "hardswish", "Hardswish", OPARG_NONE, false, 0, true, true, NULL},
    {OP_HARDSIGMOID, "hardsigmoid", "Hardsigmoid", OPARG_NONE, false, 0, true, true, NULL},
    {OP_SOFTMAX, "softmax", "Softmax", OPARG_NONE, false, 0, true, true, NULL},
    {OP_IDENTITY, "identity", "Identity", OPARG_NONE, false, 0, true, true, NULL},
};
_Static_assert(sizeof ir_ops / sizeof *ir_ops == OP_COUNT, "ir_ops needs one row per OpKind");

bool ir_op_lookup(const char *name, OpKind *out)
{
    for (int k = 0; k < OP_COUNT; k++) {
        if (strcmp(ir_ops[k].name, name) == 0) {
            *out = (OpKind)k;
            return true;
        }
    }
    return false;
}
