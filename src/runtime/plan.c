/* Buffer plans and the forward/backward passes over a model's graph. This
 * is the one place the runtime sizes and allocates per-graph memory: one
 * layout pass (plan_carve) both measures a plan (rt_plan_bytes, the memory
 * check) and, given the block, hands out its buffers (rt_plan_init). The
 * same rt_plan_forward serves training, evaluation and sweeps. */
#include <stdlib.h>
#include <string.h>

#include "nnc/arena.h"
#include "ops.h"
#include "plan.h"

size_t rt_size_mul(size_t a, size_t b, bool *ok)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        *ok = false;
        return 0;
    }
    return r;
}

/* Buffers start on cache lines: the elementwise loops vectorise cleanly. */
enum { PLAN_ALIGN = 64 };

/* A layout in progress: offsets into base, or only the size when base is
 * NULL. ok turns false on overflow. */
typedef struct PlanCarver {
    char *base;
    size_t used;
    bool ok;
} PlanCarver;

static void *plan_take(PlanCarver *c, size_t count, size_t elem)
{
    size_t bytes = rt_size_mul(count, elem, &c->ok);
    size_t start = c->used + (PLAN_ALIGN - c->used % PLAN_ALIGN) % PLAN_ALIGN;
    if (start < c->used || __builtin_add_overflow(start, bytes, &c->used))
        c->ok = false;
    return c->base && c->ok ? c->base + start : NULL;
}

static float *plan_floats(PlanCarver *c, size_t rows, size_t cols)
{
    return plan_take(c, rt_size_mul(rows, cols, &c->ok), sizeof(float));
}

/* Per node: its output, and for training its gradient and its op's
 * scratch. With c->base NULL only the sizes count (pl's arrays are NULL). */
static void plan_carve_nodes(RtPlan *pl, PlanCarver *c, const IrModel *ir, bool training)
{
    size_t n = ir->n_nodes;
    pl->y = plan_take(c, n, sizeof *pl->y);
    pl->dy = plan_take(c, n, sizeof *pl->dy);
    pl->scratch = plan_take(c, n, sizeof *pl->scratch);
    pl->has_grad = training ? plan_take(c, n, sizeof *pl->has_grad) : NULL;
    pl->args = plan_take(c, n, sizeof *pl->args);
    for (size_t i = 1; i < n; i++) {
        const IrNode *node = &ir->nodes[i];
        float *y = plan_floats(c, pl->max_rows, node->units);
        float *dy = training ? plan_floats(c, pl->max_rows, node->units) : NULL;
        size_t scratch = training ? rt_op_scratch(node) : 0;
        float *s = scratch ? plan_floats(c, pl->max_rows, scratch) : NULL;
        if (c->base && c->ok) {
            pl->y[i] = y;
            pl->dy[i] = dy;
            pl->scratch[i] = s;
        }
    }
}

/* Gradients and the optimizer's state buffers (as many as its rt_optims
 * row says) like the parameters; the gathered batch and the row order of ds. */
static void plan_carve_training(RtPlan *pl, PlanCarver *c, const IrDataset *ds,
                                const IrOptimizer *optim)
{
    size_t np = pl->model->n_params;
    pl->grads = plan_floats(c, np, 1);
    size_t n_state = rt_optims[optim->kind].n_state;
    for (size_t k = 0; k < n_state; k++) {
        float *s = plan_floats(c, np, 1);
        if (c->base && c->ok)
            pl->state[k] = s;
    }
    if (c->base && c->ok)
        pl->n_state = n_state;
    if (!ds)
        return;
    pl->bx = plan_floats(c, pl->max_rows, ds->x_cols);
    pl->by = plan_floats(c, pl->max_rows, ds->y_cols);
    pl->order = plan_take(c, ds->rows, sizeof *pl->order);
}

static void plan_carve(RtPlan *pl, PlanCarver *c, const IrDataset *ds, const IrOptimizer *optim)
{
    plan_carve_nodes(pl, c, pl->model->ir, optim != NULL);
    if (optim)
        plan_carve_training(pl, c, ds, optim);
}

bool rt_plan_bytes(const RtModel *m, size_t max_rows, const IrDataset *ds,
                   const IrOptimizer *optim, size_t *bytes)
{
    RtPlan pl = {0};
    pl.model = (RtModel *)m;
    pl.max_rows = max_rows;
    PlanCarver c = {NULL, 0, true};
    plan_carve(&pl, &c, ds, optim);
    *bytes = c.used;
    return c.ok;
}

/* What node i's arguments are in every call (its sizes, configuration,
 * buffers, parameters and, in a training plan, gradients): filled once by
 * rt_plan_init, copied per call, which then sets the batch's rows, x and
 * the direction's fields. */
static void plan_node_args(RtPlan *pl, size_t i, float *grads, RtOpArgs *a)
{
    const RtModel *m = pl->model;
    const IrNode *n = &m->ir->nodes[i];
    *a = (RtOpArgs){.in = n->in_units, .out = n->units, .cfg = &n->cfg, .y = pl->y[i],
                    .scratch = pl->scratch[i]};
    const RtNodeParams *np = &m->node_params[i];
    const RtParamTensor *t = m->tensors + np->first;
    for (size_t k = 0; k < np->count; k++, t++) {
        a->param[k] = m->params + t->offset;
        a->grad[k] = grads && !n->frozen ? grads + t->offset : NULL;
    }
}

bool rt_plan_init(RtPlan *pl, RtModel *m, size_t max_rows,
                  const IrDataset *ds, const IrOptimizer *optim, Diag *d)
{
    memset(pl, 0, sizeof *pl);
    pl->model = m;
    pl->max_rows = max_rows;
    size_t bytes;
    bool ok = rt_plan_bytes(m, max_rows, ds, optim, &bytes);
    /* calloc: buffers start zeroed (gradients, optimizer state). */
    PlanCarver c = {ok ? calloc(1, bytes ? bytes : 1) : NULL, 0, true};
    if (!c.base) {
        diag_error(d, m->ir->loc, "out of memory planning buffers for model '%s' "
                   "(batch of %zu rows)", m->ir->name, max_rows);
        memset(pl, 0, sizeof *pl);
        return false;
    }
    pl->block = c.base;
    plan_carve(pl, &c, ds, optim);
    for (size_t i = 1; i < m->ir->n_nodes; i++)
        plan_node_args(pl, i, pl->grads, &pl->args[i]);
    return true;
}

void rt_plan_free(RtPlan *pl)
{
    free(pl->block);
    memset(pl, 0, sizeof *pl);
}

bool rt_plan_fits(const RtModel *m, size_t max_rows, const IrDataset *ds,
                  const IrOptimizer *optim, Loc loc, Diag *d)
{
    /* Exactly what rt_plan_init allocates, plus the parameters themselves. */
    size_t plan_bytes, bytes = 0;
    bool ok = rt_plan_bytes(m, max_rows, ds, optim, &plan_bytes);
    ok = ok && !__builtin_add_overflow(plan_bytes, rt_size_mul(m->n_params, sizeof(float), &ok),
                                       &bytes);
    size_t have = mem_limit_bytes();
    if (ok && bytes <= have)
        return true;
    char need_text[32], have_text[32];
    if (ok)
        diag_error(d, loc, "%s model '%s' on batches of %zu rows needs about %s of memory, "
                   "more than the %s available; use a smaller batch or smaller layers",
                   optim ? "training" : "running", m->ir->name, max_rows,
                   mem_format(need_text, bytes), mem_format(have_text, have));
    else
        diag_error(d, loc, "%s model '%s' on batches of %zu rows needs more memory than "
                   "can be addressed; use a smaller batch or smaller layers",
                   optim ? "training" : "running", m->ir->name, max_rows);
    return false;
}

const float *rt_plan_node_out(const RtPlan *pl, size_t i)
{
    return i == 0 ? pl->x : pl->y[i];
}

/* Node i's arguments for a batch of rows rows. */
static RtOpArgs *plan_args(RtPlan *pl, size_t i, size_t rows, RtOpArgs *a)
{
    *a = pl->args[i];
    a->rows = rows;
    a->x = rt_plan_node_out(pl, pl->model->ir->nodes[i].inputs[0]);
    return a;
}

const float *rt_plan_forward(RtPlan *pl, const float *x, size_t rows,
                             bool training, RtRng *rng)
{
    const IrModel *ir = pl->model->ir;
    pl->x = x;
    for (size_t i = 1; i < ir->n_nodes; i++) {
        RtOpArgs a;
        plan_args(pl, i, rows, &a);
        a.training = training;
        a.rng = rng;
        rt_op_forward(ir->nodes[i].op, &a);
    }
    return rt_plan_node_out(pl, ir->n_nodes - 1);
}

/* Gradients flow only into nodes at or after the first trainable one:
 * nodes are in topological order, so nothing before it depends on a
 * parameter that trains. The first gradient to reach a node writes its dy,
 * later ones add (has_grad says which); a node no gradient reached has a
 * zero gradient, and its backward is skipped. */
void rt_plan_backward(RtPlan *pl, size_t rows)
{
    const RtModel *m = pl->model;
    size_t last = m->ir->n_nodes - 1;
    memset(pl->has_grad, 0, m->ir->n_nodes * sizeof *pl->has_grad);
    pl->has_grad[last] = true; /* the loss wrote it */
    for (size_t i = last; i >= m->first_trainable && i > 0; i--) {
        if (!pl->has_grad[i])
            continue;
        const IrNode *n = &m->ir->nodes[i];
        RtOpArgs a;
        plan_args(pl, i, rows, &a);
        a.dy = pl->dy[i];
        /* One input per op so far; ops with several will get a dx each. */
        size_t in = n->inputs[0];
        if (in >= m->first_trainable && in > 0) {
            a.dx = pl->dy[in];
            a.dx_add = pl->has_grad[in];
            pl->has_grad[in] = true;
        }
        rt_op_backward(n->op, &a);
    }
}
