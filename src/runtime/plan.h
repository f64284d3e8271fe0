/* A model's parameters, laid out from the tensors its ops declare, and the
 * buffer plan forward and backward passes run in (src/runtime/plan.c):
 * the one place per-graph memory is sized and allocated. */
#ifndef NNC_RT_PLAN_H
#define NNC_RT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/diag.h"
#include "nnc/ir.h"
#include "optim.h"
#include "rng.h"

/* One parameter tensor of a model, as its node's op declares it. */
typedef struct RtParamTensor {
    size_t node;        /* index into the model's nodes */
    IrParam decl;       /* suffix, shape, fan_in, init */
    size_t offset;      /* into RtModel.params */
    size_t size;        /* floats */
} RtParamTensor;

/* The tensors of one node: tensors[first .. first + count), back to back
 * from params + offset, size floats in all; the first `trained` floats are
 * the tensors that train (the op declares them first), the rest buffers
 * (batchnorm's running statistics) that only the op itself updates. */
typedef struct RtNodeParams {
    size_t first, count;
    size_t offset, size;
    size_t trained;
} RtNodeParams;

/* The parameters of one model: every node's declared tensors, node after
 * node, in one array. */
typedef struct RtModel {
    const IrModel *ir;
    float *params;
    RtParamTensor *tensors;
    size_t n_tensors;
    RtNodeParams *node_params; /* per node */
    size_t n_params;
    size_t n_trainable;
    size_t first_trainable; /* first node with parameters that train; n_nodes if none */
    bool summarized;      /* the summary is printed once, before first use */
} RtModel;

/* Every buffer one model needs to run batches of up to max_rows rows,
 * allocated once before a training or evaluation loop: nothing inside the
 * loop allocates. */
typedef struct RtPlan {
    RtModel *model;
    size_t max_rows;
    const float *x;       /* the current batch's input (node 0's output) */
    /* per node [max_rows][units]; y[0] unused. A training plan keeps every
     * output for backward (as autograd does); an evaluation plan shares
     * buffers between nodes whose values are not live at the same time. */
    float **y;
    float **dy;           /* per node, gradients (training plans only) */
    float **scratch;      /* per node, its op's scratch (training plans only) */
    float *work;          /* the largest rt_op_workspace of any node */
    size_t *in_sizes;     /* per node's inputs, their units (RtOpArgs.in_sizes) */
    size_t n_slots;       /* output buffers allocated (== nodes - 1 when training) */
    bool *has_grad;       /* per node: a gradient reached dy[i] in this backward */
    /* per node (training plans): for a relu folded into the op of its
     * input (rt_op_fuses_relu), that input's index, else 0. The input's op
     * then writes relu's output and masks relu's gradient itself: y[relu]
     * is y[input], dy[input] is dy[relu], and the relu node does not run. */
    size_t *folded;
    struct RtOpArgs *args; /* per node: its op's arguments but the batch's (plan.c) */
    float *grads;         /* like RtModel.params */
    float *state[RT_OPTIM_MAX_STATE]; /* the optimizer's n_state buffers, like params */
    size_t n_state;
    size_t *order;        /* row order of the dataset, shuffled per epoch */
    float *bx, *by;       /* gathered mini-batch inputs and targets */
    void *block;          /* the one allocation every buffer above lives in */
} RtPlan;

/* Size of a matrix, or 0 with *ok = false on overflow. */
size_t rt_size_mul(size_t a, size_t b, bool *ok);

/* optim below: a training plan's optimizer (the plan holds gradients and
 * its state buffers); NULL for an evaluation plan.
 * The bytes rt_plan_init allocates for these arguments (computed by the
 * same layout pass); false when the size overflows. */
bool rt_plan_bytes(const RtModel *m, size_t max_rows, const IrDataset *ds,
                   const IrOptimizer *optim, long keep, size_t *bytes);

/* Checks, before rt_plan_init, that a plan of max_rows rows for m (and the
 * parameters) fits in mem_limit_bytes(), so a too-large batch or layer gets a
 * diagnostic at loc instead of the kernel's OOM killer mid-run. */
bool rt_plan_fits(const RtModel *m, size_t max_rows, const IrDataset *ds,
                  const IrOptimizer *optim, long keep, Loc loc, Diag *d);

/* Allocates a plan; ds (may be NULL) sizes the gather buffers and the row
 * order for training. keep: a node whose output an evaluation plan must
 * keep after the pass (`show`), or -1; the last node's always stays.
 * Reports out of memory through d. */
bool rt_plan_init(RtPlan *pl, RtModel *m, size_t max_rows,
                  const IrDataset *ds, const IrOptimizer *optim, long keep, Diag *d);
void rt_plan_free(RtPlan *pl);
/* Runs every node on rows rows of x; returns the last node's output. */
const float *rt_plan_forward(RtPlan *pl, const float *x, size_t rows,
                             bool training, RtRng *rng);
/* Back-propagates from dy of the last node (which the loss wrote), adding
 * into pl->grads (the caller zeroes them). Stops below the first trainable
 * node: nothing there needs a gradient. */
void rt_plan_backward(RtPlan *pl, size_t rows);
/* Output of node i for the last forward pass: valid for the last node,
 * the kept one, and in a training plan every node. */
const float *rt_plan_node_out(const RtPlan *pl, size_t i);

#endif
