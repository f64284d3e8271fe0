/* Buffer plans and the forward/backward passes over a model's chain of
 * nodes. The same rt_plan_forward serves training, evaluation and sweeps. */
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "session.h"

/* calloc of rows x cols floats with overflow checking. */
static float *plan_matrix(size_t rows, size_t cols, bool *ok)
{
    size_t n = rt_size_mul(rows, cols, ok);
    float *p = *ok ? calloc(n ? n : 1, sizeof(float)) : NULL;
    if (!p)
        *ok = false;
    return p;
}

static bool plan_nodes(RtPlan *pl, bool training)
{
    const IrModel *ir = pl->model->ir;
    bool ok = true;
    for (size_t i = 1; i < ir->n_nodes && ok; i++) {
        size_t units = ir->nodes[i].units;
        pl->y[i] = plan_matrix(pl->max_rows, units, &ok);
        if (training && ok)
            pl->dy[i] = plan_matrix(pl->max_rows, units, &ok);
        if (training && ok && ir->nodes[i].op == OP_DROPOUT)
            pl->mask[i] = plan_matrix(pl->max_rows, units, &ok);
    }
    return ok;
}

static bool plan_training(RtPlan *pl, const IrDataset *ds)
{
    bool ok = true;
    size_t np = pl->model->n_params;
    pl->grads = plan_matrix(np, 1, &ok);
    pl->state1 = ok ? plan_matrix(np, 1, &ok) : NULL;
    pl->state2 = ok ? plan_matrix(np, 1, &ok) : NULL;
    if (!ok || !ds)
        return ok;
    pl->bx = plan_matrix(pl->max_rows, ds->x_cols, &ok);
    pl->by = ok ? plan_matrix(pl->max_rows, ds->y_cols, &ok) : NULL;
    pl->order = ok ? calloc(ds->rows, sizeof *pl->order) : NULL;
    return pl->order != NULL;
}

bool rt_plan_init(RtPlan *pl, RtModel *m, size_t max_rows,
                  const IrDataset *ds, bool training, Diag *d)
{
    memset(pl, 0, sizeof *pl);
    pl->model = m;
    pl->max_rows = max_rows;
    size_t n = m->ir->n_nodes;
    pl->y = calloc(n, sizeof *pl->y);
    pl->dy = calloc(n, sizeof *pl->dy);
    pl->mask = calloc(n, sizeof *pl->mask);
    bool ok = pl->y && pl->dy && pl->mask && plan_nodes(pl, training);
    if (ok && training)
        ok = plan_training(pl, ds);
    if (!ok) {
        diag_error(d, m->ir->loc, "out of memory planning buffers for model '%s' "
                   "(batch of %zu rows)", m->ir->name, max_rows);
        rt_plan_free(pl);
    }
    return ok;
}

void rt_plan_free(RtPlan *pl)
{
    size_t n = pl->model ? pl->model->ir->n_nodes : 0;
    for (size_t i = 0; i < n; i++) {
        if (pl->y)
            free(pl->y[i]);
        if (pl->dy)
            free(pl->dy[i]);
        if (pl->mask)
            free(pl->mask[i]);
    }
    free(pl->y);
    free(pl->dy);
    free(pl->mask);
    free(pl->grads);
    free(pl->state1);
    free(pl->state2);
    free(pl->order);
    free(pl->bx);
    free(pl->by);
    memset(pl, 0, sizeof *pl);
}

const float *rt_plan_node_out(const RtPlan *pl, size_t i)
{
    return i == 0 ? pl->x : pl->y[i];
}

/* The arguments of node i for a batch of rows rows. */
static RtOpArgs plan_args(RtPlan *pl, size_t i, size_t rows)
{
    const IrNode *n = &pl->model->ir->nodes[i];
    RtOpArgs a = {0};
    a.rows = rows;
    a.in = n->in_units;
    a.out = n->units;
    a.arg = n->arg;
    a.x = rt_plan_node_out(pl, i - 1);
    a.y = pl->y[i];
    a.mask = pl->mask[i];
    if (n->op == OP_DENSE) {
        a.w = pl->model->params + pl->model->offset[i];
        a.b = a.w + n->units * n->in_units;
    }
    return a;
}

const float *rt_plan_forward(RtPlan *pl, const float *x, size_t rows,
                             bool training, RtRng *rng)
{
    const IrModel *ir = pl->model->ir;
    pl->x = x;
    for (size_t i = 1; i < ir->n_nodes; i++) {
        RtOpArgs a = plan_args(pl, i, rows);
        a.training = training;
        a.rng = rng;
        rt_op_forward(ir->nodes[i].op, &a);
    }
    return rt_plan_node_out(pl, ir->n_nodes - 1);
}

void rt_plan_backward(RtPlan *pl, size_t rows)
{
    const RtModel *m = pl->model;
    for (size_t i = m->ir->n_nodes - 1; i >= m->first_trainable && i > 0; i--) {
        const IrNode *n = &m->ir->nodes[i];
        RtOpArgs a = plan_args(pl, i, rows);
        a.dy = pl->dy[i];
        a.dx = i - 1 >= m->first_trainable ? pl->dy[i - 1] : NULL;
        if (n->op == OP_DENSE && !n->frozen) {
            a.dw = pl->grads + m->offset[i];
            a.db = a.dw + n->units * n->in_units;
        }
        rt_op_backward(n->op, &a);
    }
}
