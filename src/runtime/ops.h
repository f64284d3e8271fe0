/* The runtime half of the op table (the metadata half is src/ir/ops.c).
 * KANN-style: every OpKind has one forward and one backward function over a
 * whole batch, and one static table indexed by OpKind maps kinds to them.
 * Adding an activation = one row in src/ir/ops.c, two functions and one row
 * in src/runtime/ops.c; the unit tests loop over every kind. */
#ifndef NNC_RT_OPS_H
#define NNC_RT_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/ir.h"
#include "rng.h"

/* Everything an op reads or writes for one batch. Matrices are row-major
 * [rows][in] (x, dx) and [rows][out] (y, dy); a sample's tensor is laid out
 * channels first ([C][H][W], as PyTorch's NCHW). Buffers belong to the
 * caller and are planned once per graph (src/runtime/plan.c); ops never
 * allocate. Backward adds into the parameter gradients (zeroed once per
 * step) and writes dx, or adds to it when dx_add: a value read by two nodes
 * gets both gradients. An op with several inputs (add, concat) reads xs[k]
 * and writes dxs[k] (adds when dxs_add[k]) in the order k = 0, 1, ..., so
 * `add(a, a)` first writes a's gradient and then adds to it. */
typedef struct RtOpArgs {
    size_t rows, in, out;
    const IrNode *node;  /* shapes (in_shape, shape) and inputs of the node */
    const IrOpConfig *cfg; /* the node's own configuration (p, slope, units) */
    bool training;       /* dropout draws a mask only when training */
    const float *x;      /* input batch */
    float *y;            /* output batch */
    /* The node's parameter tensors in the order its op declares them
     * (ir_node_params), and their gradients (NULL = frozen). */
    const float *param[IR_MAX_PARAMS];
    float *grad[IR_MAX_PARAMS];
    const float *dy;     /* gradient of the loss w.r.t. y */
    float *dx;           /* gradient w.r.t. x; NULL = not needed */
    bool dx_add;         /* add to dx (another node's gradient is there already) */
    const float *const *xs; /* every input, n_in of them (xs[0] == x) */
    float *const *dxs;   /* their gradients (dxs[0] == dx), NULL entries not needed */
    const bool *dxs_add;
    const size_t *in_sizes; /* units of each input */
    size_t n_in;
    /* Writable views of the node's buffers (batchnorm's running statistics),
     * indexed like param; NULL for tensors that train. */
    float *buffer[IR_MAX_PARAMS];
    float *scratch;      /* training only: rt_op_scratch floats kept for backward */
    /* A relu node folded into this one (plan.c, where rt_op_fuses_relu):
     * the op writes relu's output as its y, and its dy is relu's, which the
     * op masks by y > 0 (y > 0 exactly where relu's input was). */
    bool relu_out;
    float *work;         /* rt_op_workspace floats, shared by every node, free after each call */
    RtRng *rng;          /* dropout: the session's generator */
} RtOpArgs;

/* The elementwise activations on one value. The op loops are made of these,
 * and `nnc plot activations` draws them, so the picture shows exactly what
 * the runtime computes. */
float rt_act_step(float z);
float rt_act_sigmoid(float z);
float rt_act_tanh(float z);
float rt_act_relu(float z);
float rt_act_leaky_relu(float z, float slope);
float rt_act_gelu(float z);
float rt_act_silu(float z);
float rt_act_elu(float z, float alpha);
float rt_act_softplus(float z);
float rt_act_hardswish(float z);
float rt_act_hardsigmoid(float z);
float rt_act_identity(float z);

/* Computes a->y from a->x (and params). */
void rt_op_forward(OpKind k, RtOpArgs *a);
/* Adds the gradients of a->dy into a->grad[] and writes (or, with dx_add,
 * adds) a->dx; needs the x, y (and scratch) of the forward pass before. */
void rt_op_backward(OpKind k, RtOpArgs *a);
/* Floats the op keeps between a training forward and its backward on a
 * batch of rows rows (dropout's mask, batchnorm's statistics); 0 for most
 * ops. plan.c allocates them. */
size_t rt_op_scratch(const IrNode *n, size_t rows);
/* True for the ops that can end in relu themselves (RtOpArgs.relu_out):
 * applying it where they write y and masking dy where they read it saves
 * relu's two passes over the tensor. */
bool rt_op_fuses_relu(OpKind k);
/* Floats of temporary workspace one forward or backward call of the node
 * on up to rows rows needs (im2col's columns); 0 for most ops. One buffer,
 * the largest, is shared by every node of a plan. */
size_t rt_op_workspace(const IrNode *n, size_t rows);
/* True when every row of the kernel table is its own kind's and has both
 * functions (checked by a unit test: the build checks only the count). */
bool rt_op_table_complete(void);

#endif
