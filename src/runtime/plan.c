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

/* Which output buffer each node writes (slot[i]; slot[0] unused, node 0
 * is the batch itself). Training keeps every output: one buffer per node.
 * Evaluation reuses a buffer once the last reader of its value has run,
 * except for the last node's and keep's, which the caller reads after the
 * pass. A node never writes the buffer of one of its own inputs: buffers
 * are released only after the node that last reads them has its own. */
static size_t plan_assign(const IrModel *ir, bool training, long keep, size_t *slot)
{
    size_t n = ir->n_nodes, n_slots = 0;
    if (training) {
        for (size_t i = 1; i < n; i++)
            slot[i] = n_slots++;
        return n_slots;
    }
    /* last[i]: the last node reading i's output; n: read after the pass. */
    size_t *last = slot + n, *free_slots = slot + 2 * n, n_free = 0;
    for (size_t i = 0; i < n; i++)
        last[i] = i == n - 1 || (long)i == keep ? n : i;
    for (size_t i = 1; i < n; i++)
        for (size_t k = 0; k < ir->nodes[i].n_inputs; k++) {
            size_t in = ir->nodes[i].inputs[k];
            last[in] = last[in] == n ? n : i;
        }
    for (size_t i = 1; i < n; i++) {
        slot[i] = n_free ? free_slots[--n_free] : n_slots++;
        for (size_t k = 0; k < ir->nodes[i].n_inputs; k++) {
            size_t in = ir->nodes[i].inputs[k];
            bool first_mention = true;
            for (size_t j = 0; j < k; j++)
                first_mention &= ir->nodes[i].inputs[j] != in;
            if (in > 0 && last[in] == i && first_mention)
                free_slots[n_free++] = slot[in];
        }
        if (last[i] == i) /* read by nobody: dead at once */
            free_slots[n_free++] = slot[i];
    }
    return n_slots;
}

/* The widest output of any node but the input: every shared buffer's size. */
static size_t plan_max_units(const IrModel *ir)
{
    size_t max = 0;
    for (size_t i = 1; i < ir->n_nodes; i++)
        max = ir->nodes[i].units > max ? ir->nodes[i].units : max;
    return max;
}

/* Per node: its output, and for training its gradient and its op's
 * scratch; the shared workspace; the inputs' sizes. With c->base NULL only
 * the sizes count (pl's arrays are NULL). slot: plan_assign's. */
static void plan_carve_nodes(RtPlan *pl, PlanCarver *c, const IrModel *ir, bool training,
                             const size_t *slot, size_t n_slots)
{
    size_t n = ir->n_nodes, n_in = 0, work = 0;
    pl->y = plan_take(c, n, sizeof *pl->y);
    pl->dy = plan_take(c, n, sizeof *pl->dy);
    pl->scratch = plan_take(c, n, sizeof *pl->scratch);
    pl->has_grad = training ? plan_take(c, n, sizeof *pl->has_grad) : NULL;
    pl->args = plan_take(c, n, sizeof *pl->args);
    for (size_t i = 0; i < n; i++) {
        n_in += ir->nodes[i].n_inputs;
        size_t w = rt_op_workspace(&ir->nodes[i], pl->max_rows);
        work = w > work ? w : work;
    }
    size_t *in_sizes = plan_take(c, n_in ? n_in : 1, sizeof *in_sizes);
    float *work_buf = work ? plan_floats(c, work, 1) : NULL;
    size_t width = plan_max_units(ir);
    float **slots = plan_take(c, n_slots ? n_slots : 1, sizeof *slots);
    for (size_t s = 0; s < n_slots; s++) {
        /* Training buffers are sized per node, shared ones for the widest. */
        size_t units = training ? ir->nodes[s + 1].units : width;
        float *y = plan_floats(c, pl->max_rows, units);
        if (c->base && c->ok)
            slots[s] = y;
    }
    for (size_t i = 1; i < n; i++) {
        const IrNode *node = &ir->nodes[i];
        float *dy = training ? plan_floats(c, pl->max_rows, node->units) : NULL;
        size_t scratch = training ? rt_op_scratch(node, pl->max_rows) : 0;
        float *s = scratch ? plan_floats(c, scratch, 1) : NULL;
        if (c->base && c->ok) {
            pl->y[i] = slots[slot[i]];
            pl->dy[i] = dy;
            pl->scratch[i] = s;
        }
    }
    if (c->base && c->ok) {
        pl->work = work_buf;
        pl->in_sizes = in_sizes;
        pl->n_slots = n_slots;
    }
}

/* Gradients and the optimizer's state buffers (as many as its rt_optims
 * row says) like the parameters; the gathered batch and the row order of ds. */
static void plan_carve_training(RtPlan *pl, PlanCarver *c, const IrDataset *ds,
                                const IrOptimizer *optim)
{
    size_t np = pl->model->n_params;
    pl->grads = plan_floats(c, np, 1);
    size_t n_state = rt_optim_n_state(optim);
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

static void plan_carve(RtPlan *pl, PlanCarver *c, const IrDataset *ds, const IrOptimizer *optim,
                       const size_t *slot, size_t n_slots)
{
    plan_carve_nodes(pl, c, pl->model->ir, optim != NULL, slot, n_slots);
    if (optim)
        plan_carve_training(pl, c, ds, optim);
}

/* plan_assign's slots (3 arrays of n_nodes: slot, last reader, free
 * list), malloc'ed; NULL when out of memory. */
static size_t *plan_slots(const IrModel *ir, bool training, long keep, size_t *n_slots)
{
    size_t *slot = calloc(3 * ir->n_nodes, sizeof *slot);
    if (slot)
        *n_slots = plan_assign(ir, training, keep, slot);
    return slot;
}

bool rt_plan_bytes(const RtModel *m, size_t max_rows, const IrDataset *ds,
                   const IrOptimizer *optim, long keep, size_t *bytes)
{
    RtPlan pl = {0};
    pl.model = (RtModel *)m;
    pl.max_rows = max_rows;
    size_t n_slots = 0;
    size_t *slot = plan_slots(m->ir, optim != NULL, keep, &n_slots);
    PlanCarver c = {NULL, 0, slot != NULL};
    if (slot)
        plan_carve(&pl, &c, ds, optim, slot, n_slots);
    free(slot);
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
    *a = (RtOpArgs){.in = n->in_units, .out = n->units, .node = n, .cfg = &n->cfg,
                    .y = pl->y[i], .scratch = pl->scratch[i], .work = pl->work,
                    .n_in = n->n_inputs};
    const RtNodeParams *np = &m->node_params[i];
    const RtParamTensor *t = m->tensors + np->first;
    for (size_t k = 0; k < np->count; k++, t++) {
        bool trained = t->decl.role == PARAM_TRAINED;
        a->param[k] = m->params + t->offset;
        a->buffer[k] = trained ? NULL : m->params + t->offset;
        a->grad[k] = grads && trained && !n->frozen ? grads + t->offset : NULL;
    }
}

bool rt_plan_init(RtPlan *pl, RtModel *m, size_t max_rows,
                  const IrDataset *ds, const IrOptimizer *optim, long keep, Diag *d)
{
    memset(pl, 0, sizeof *pl);
    pl->model = m;
    pl->max_rows = max_rows;
    size_t bytes, n_slots = 0;
    bool ok = rt_plan_bytes(m, max_rows, ds, optim, keep, &bytes);
    size_t *slot = ok ? plan_slots(m->ir, optim != NULL, keep, &n_slots) : NULL;
    /* calloc: buffers start zeroed (gradients, optimizer state). */
    PlanCarver c = {slot ? calloc(1, bytes ? bytes : 1) : NULL, 0, true};
    if (!c.base) {
        free(slot);
        diag_error(d, m->ir->loc, "out of memory planning buffers for model '%s' "
                   "(batch of %zu rows)", m->ir->name, max_rows);
        memset(pl, 0, sizeof *pl);
        return false;
    }
    pl->block = c.base;
    plan_carve(pl, &c, ds, optim, slot, n_slots);
    free(slot);
    size_t in_at = 0;
    for (size_t i = 1; i < m->ir->n_nodes; i++) {
        const IrNode *n = &m->ir->nodes[i];
        plan_node_args(pl, i, pl->grads, &pl->args[i]);
        pl->args[i].in_sizes = pl->in_sizes + in_at;
        for (size_t k = 0; k < n->n_inputs; k++)
            pl->in_sizes[in_at++] = m->ir->nodes[n->inputs[k]].units;
    }
    return true;
}

void rt_plan_free(RtPlan *pl)
{
    free(pl->block);
    memset(pl, 0, sizeof *pl);
}

bool rt_plan_fits(const RtModel *m, size_t max_rows, const IrDataset *ds,
                  const IrOptimizer *optim, long keep, Loc loc, Diag *d)
{
    /* Exactly what rt_plan_init allocates, plus the parameters themselves. */
    size_t plan_bytes, bytes = 0;
    bool ok = rt_plan_bytes(m, max_rows, ds, optim, keep, &plan_bytes);
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

/* Node i's arguments for a batch of rows rows; xs gets its inputs. */
static RtOpArgs *plan_args(RtPlan *pl, size_t i, size_t rows, RtOpArgs *a,
                           const float *xs[IR_MAX_INPUTS])
{
    const IrNode *n = &pl->model->ir->nodes[i];
    *a = pl->args[i];
    a->rows = rows;
    for (size_t k = 0; k < n->n_inputs; k++)
        xs[k] = rt_plan_node_out(pl, n->inputs[k]);
    a->x = xs[0];
    a->xs = xs;
    return a;
}

const float *rt_plan_forward(RtPlan *pl, const float *x, size_t rows,
                             bool training, RtRng *rng)
{
    const IrModel *ir = pl->model->ir;
    pl->x = x;
    for (size_t i = 1; i < ir->n_nodes; i++) {
        RtOpArgs a;
        const float *xs[IR_MAX_INPUTS] = {0};
        plan_args(pl, i, rows, &a, xs);
        a.training = training;
        a.rng = rng;
        rt_op_forward(ir->nodes[i].op, &a);
    }
    return rt_plan_node_out(pl, ir->n_nodes - 1);
}

/* Gradients flow only into nodes at or after the first trainable one:
 * nodes are in topological order, so nothing before it depends on a
 * parameter that trains. The first gradient to reach a node writes its dy,
 * later ones add (has_grad says which: a value read by several nodes, or
 * twice by one, sums their gradients); a node no gradient reached has a
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
        const float *xs[IR_MAX_INPUTS] = {0};
        float *dxs[IR_MAX_INPUTS] = {0};
        bool dxs_add[IR_MAX_INPUTS] = {0};
        plan_args(pl, i, rows, &a, xs);
        a.dy = pl->dy[i];
        for (size_t k = 0; k < n->n_inputs; k++) {
            size_t in = n->inputs[k];
            bool needed = in >= m->first_trainable && in > 0;
            dxs[k] = needed ? pl->dy[in] : NULL;
            dxs_add[k] = needed && pl->has_grad[in];
            pl->has_grad[in] |= needed;
        }
        a.dx = dxs[0];
        a.dx_add = dxs_add[0];
        a.dxs = dxs;
        a.dxs_add = dxs_add;
        rt_op_backward(n->op, &a);
    }
}
