/* The op table: every layer kind nnc knows, defined once. The checker reads
 * it to validate layer lines, the runtime and emitters index their own
 * tables by the same OpKind. Adding an activation = one row here plus its
 * forward/backward in src/runtime/ops.c. */
#include <string.h>

#include "nnc/ir.h"

const OpInfo ir_ops[OP_COUNT] = {
    [OP_INPUT]      = {"input", "Input", OPARG_UNITS, false, 0, false, false, false},
    [OP_DENSE]      = {"dense", "Linear", OPARG_UNITS, false, 0, false, true, false},
    [OP_DROPOUT]    = {"dropout", "Dropout", OPARG_PROB, false, 0, false, false, true},
    [OP_STEP]       = {"step", "Step", OPARG_NONE, false, 0, true, false, true},
    [OP_SIGMOID]    = {"sigmoid", "Sigmoid", OPARG_NONE, false, 0, true, false, true},
    [OP_TANH]       = {"tanh", "Tanh", OPARG_NONE, false, 0, true, false, true},
    [OP_RELU]       = {"relu", "ReLU", OPARG_NONE, false, 0, true, false, true},
    [OP_LEAKY_RELU] = {"leaky_relu", "LeakyReLU", OPARG_SLOPE, true, 0.01, true, false, true},
    [OP_SOFTMAX]    = {"softmax", "Softmax", OPARG_NONE, false, 0, true, false, true},
    [OP_IDENTITY]   = {"identity", "Identity", OPARG_NONE, false, 0, true, false, true},
};

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
