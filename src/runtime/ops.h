/* The runtime half of the op table (the metadata half is src/ir/ops.c).
 * KANN-style: every OpKind has one forward and one backward function over a
 * whole batch, and one static table indexed by OpKind maps kinds to them.
 * Adding an activation = one row in src/ir/ops.c, two functions and one row
 * in src/runtime/ops.c, and a gradient-check test. */
#ifndef NNC_RT_OPS_H
#define NNC_RT_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/ir.h"
#include "rng.h"

/* Everything an op reads or writes for one batch. Matrices are row-major
 * [rows][in] (x, dx) and [rows][out] (y, dy, mask). Buffers belong to the
 * caller and are planned once per graph; ops never allocate. */
typedef struct RtOpArgs {
    size_t rows, in, out;
    double arg;          /* dropout p, leaky_relu slope */
    bool training;       /* dropout draws a mask only when training */
    const float *x;      /* input batch */
    float *y;            /* output batch */
    const float *w, *b;  /* dense: weight [out][in], bias [out] */
    float *dw, *db;      /* dense: gradients, accumulated (+=); NULL = frozen */
    const float *dy;     /* gradient of the loss w.r.t. y */
    float *dx;           /* gradient w.r.t. x, overwritten; NULL = not needed */
    float *mask;         /* dropout: [rows][out], written by forward */
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
float rt_act_identity(float z);

/* Computes a->y from a->x (and params). */
void rt_op_forward(OpKind k, RtOpArgs *a);
/* Accumulates a->dw/db and writes a->dx from a->dy; needs the x, y (and mask)
 * of the forward pass that preceded it. */
void rt_op_backward(OpKind k, RtOpArgs *a);
/* True when every OpKind has both functions (checked by a unit test). */
bool rt_op_table_complete(void);

#endif
