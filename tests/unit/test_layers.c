/* Every layer kind inside a small model, through the plan, against finite
 * differences: the op's forward and backward with real shapes, gradient
 * routing to several inputs (add, concat) and the batch statistics of
 * batchnorm. The loop runs over every OpKind, so a new op cannot skip it.
 * Each model is `pre` (a trainable layer, so the gradient must pass back
 * through the op under test), the op, then flatten and dense; the
 * objective L = sum(r * out) is differentiated with respect to every
 * trained parameter. */
#include <math.h>
#include <stdlib.h>

#include "../../src/runtime/plan.h"
#include "../../src/runtime/session.h"
#include "support.h"

enum { ROWS = 3 };

/* The layer a model of input rank `rank` starts with: trainable, shape-keeping. */
static const char *pre_layer(size_t rank)
{
    return rank == 1 ? "pre: dense 6" : rank == 2 ? "pre: conv1d(2, kernel = 1)"
                                                  : "pre: conv2d(2, kernel = 1)";
}

/* "l: EXAMPLE" reading `pre` (add and concat: pre and a second branch). */
static void op_lines(OpKind k, char *buf, size_t size)
{
    const OpInfo *op = &ir_ops[k];
    if (op->named_inputs)
        snprintf(buf, size, "  b: tanh\n  l: %s(pre, b)\n", op->name);
    else
        snprintf(buf, size, "  l: %s\n", op->example);
}

static IrProgram *layer_model(Run *r, OpKind k)
{
    static const char *const inputs[] = {"6", "[2, 7]", "[2, 5, 5]"};
    char line[256];
    op_lines(k, line, sizeof line);
    for (size_t rank = 1; rank <= 3; rank++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "model M {\n  input %s\n  %s\n%s  flatten\n  out: dense 2\n}\n",
                 inputs[rank - 1], pre_layer(rank), line);
        IrProgram *p = run_compile(r, text);
        if (p)
            return p;
        run_end(r);
    }
    return NULL;
}

typedef struct Probe {
    RtPlan plan;
    RtModel *m;
    float x[ROWS * 64], r[ROWS * 8];
} Probe;

/* L = sum(r * out) for the current parameters (training forward, with a
 * freshly seeded generator so dropout draws the same mask). */
static double probe_loss(Probe *p)
{
    RtRng rng;
    rt_rng_seed(&rng, 5, 5);
    const float *out = rt_plan_forward(&p->plan, p->x, ROWS, true, &rng);
    double sum = 0.0;
    for (size_t i = 0; i < ROWS * p->m->ir->out_units; i++)
        sum += (double)p->r[i] * out[i];
    return sum;
}

static void check_program(Run *r, IrProgram *prog, OpKind k);


/* dL/dv by a central difference with step eps; *kink when the one-sided
 * differences disagree: the step moved a max (pooling) across a near tie,
 * and measures the jump, not the slope. */
static double central_difference(struct Probe *p, float *v, float eps, bool *kink)
{
    float keep = *v;
    double mid = probe_loss(p);
    *v = keep + eps;
    double up = probe_loss(p);
    *v = keep - eps;
    double down = probe_loss(p);
    *v = keep;
    double right = (up - mid) / (double)eps, left = (mid - down) / (double)eps;
    *kink = fabs(right - left) > 1e-2 * fmax(1.0, fabs(right));
    return (up - down) / (2.0 * (double)eps);
}

static void check_program(Run *r, IrProgram *prog, OpKind k)
{
    RtOptions opt = {.quiet = true};
    RtSession *s = rt_session_new(prog, &opt, &r->diag);
    cr_assert_not_null(s);
    static Probe p;
    p.m = &s->models[0];
    IrOptimizer sgd = {.kind = OPTIM_SGD};
    cr_assert(rt_plan_init(&p.plan, p.m, ROWS, NULL, &sgd, -1, &r->diag));
    RtRng rng;
    rt_rng_seed(&rng, 11, 0);
    for (size_t i = 0; i < ROWS * p.m->ir->in_units; i++)
        p.x[i] = rt_rng_uniform(&rng) * 2.0f - 1.0f;
    for (size_t i = 0; i < ROWS * p.m->ir->out_units; i++)
        p.r[i] = rt_rng_uniform(&rng) * 2.0f - 1.0f;
    probe_loss(&p);
    size_t last = p.m->ir->n_nodes - 1;
    memcpy(p.plan.dy[last], p.r, ROWS * p.m->ir->out_units * sizeof(float));
    memset(p.plan.grads, 0, p.m->n_params * sizeof(float));
    rt_plan_backward(&p.plan, ROWS);
    float *params = p.m->params;
    size_t checked = 0, kinks = 0;
    for (size_t t = 0; t < p.m->n_tensors; t++) {
        const RtParamTensor *pt = &p.m->tensors[t];
        if (pt->decl.role != PARAM_TRAINED)
            continue;
        for (size_t i = 0; i < pt->size; i++) {
            float *v = &params[pt->offset + i];
            bool kink;
            double num = central_difference(&p, v, 1e-3f, &kink);
            if (kink) {
                kinks++;
                continue;
            }
            double ana = p.plan.grads[pt->offset + i];
            double err = fabs(num - ana) / fmax(1.0, fmax(fabs(num), fabs(ana)));
            cr_assert(err <= 1e-2, "%s: %s.%s[%zu]: finite difference %g, backward %g",
                      ir_ops[k].name, p.m->ir->nodes[pt->node].name, pt->decl.suffix, i, num,
                      ana);
            checked++;
        }
    }
    cr_assert(checked > 3 * kinks, "%s: %zu values checked, %zu at kinks", ir_ops[k].name,
              checked, kinks);
    rt_plan_free(&p.plan);
    rt_session_free(s);
    run_end(r);
}

static void check_kind(OpKind k)
{
    Run run;
    IrProgram *prog = layer_model(&run, k);
    cr_assert_not_null(prog, "%s: no model compiles", ir_ops[k].name);
    check_program(&run, prog, k);
}

Test(layers, every_kind_backward_matches_finite_differences)
{
    for (int k = 1; k < OP_COUNT; k++) /* every kind but the input */
        if (k != OP_STEP) /* its gradient is 0 by definition (test_ops.c) */
            check_kind((OpKind)k);
}

/* Evaluation plans share buffers: a buffer is reused once the last reader
 * of its value has run, and no node writes the buffer it reads. */
Test(layers, evaluation_plans_reuse_buffers_by_liveness)
{
    Run run;
    IrProgram *prog = run_compile(&run, "model M {\n  input 4\n  a: dense 8, relu\n"
                                        "  b: dense 8, tanh\n  c: dense 8, relu\n"
                                        "  d: dense(8, from = a)\n  e: add(c, d)\n  out: dense 2\n}\n");
    cr_assert_not_null(prog, "%s", run_output(&run));
    RtOptions opt = {.quiet = true};
    RtSession *s = rt_session_new(prog, &opt, &run.diag);
    RtPlan pl;
    cr_assert(rt_plan_init(&pl, &s->models[0], 4, NULL, NULL, -1, &run.diag));
    size_t n = prog->models[0].n_nodes - 1;
    cr_expect_lt(pl.n_slots, n, "%zu buffers for %zu nodes", pl.n_slots, n);
    /* a.relu lives until d reads it, c.relu until e: three at most */
    cr_expect_eq(pl.n_slots, 3);
    for (size_t i = 1; i <= n; i++)
        for (size_t k = 0; k < prog->models[0].nodes[i].n_inputs; k++)
            cr_expect_neq(pl.y[i], rt_plan_node_out(&pl, prog->models[0].nodes[i].inputs[k]),
                          "node %zu writes its own input", i);
    rt_plan_free(&pl);
    rt_session_free(s);
    run_end(&run);
}

/* A training plan folds a relu into the conv or batchnorm before it only
 * where that op has no other reader (RtPlan.folded); either way the
 * gradients are the finite differences'. */
Test(layers, relu_folds_into_a_conv_or_batchnorm_it_alone_reads)
{
    Run run;
    IrProgram *prog = run_compile(&run, "model M {\n  input [2, 5, 5]\n"
                                        "  a: conv2d(2, kernel = 1)\n  r: relu\n"
                                        "  b: conv2d(2, kernel = 1, from = a), relu\n"
                                        "  s: add(r, b)\n  n: batchnorm, relu\n"
                                        "  flatten\n  out: dense 2\n}\n");
    cr_assert_not_null(prog, "%s", run_output(&run));
    const IrModel *ir = &prog->models[0];
    RtOptions opt = {.quiet = true};
    RtSession *s = rt_session_new(prog, &opt, &run.diag);
    IrOptimizer sgd = {.kind = OPTIM_SGD};
    RtPlan pl;
    cr_assert(rt_plan_init(&pl, &s->models[0], 4, NULL, &sgd, -1, &run.diag));
    size_t folds = 0;
    for (size_t i = 1; i < ir->n_nodes; i++) {
        const IrNode *n = &ir->nodes[i];
        bool want = n->op == OP_RELU && ir->nodes[n->inputs[0]].op != OP_ADD &&
                    strcmp(ir->nodes[n->inputs[0]].name, "a") != 0; /* a has two readers */
        cr_expect_eq(pl.folded[i] != 0, want, "node %zu (%s)", i, n->name);
        if (pl.folded[i]) {
            cr_expect_eq(pl.folded[i], n->inputs[0]);
            cr_expect_eq(pl.y[i], pl.y[n->inputs[0]]);
            folds++;
        }
    }
    cr_expect_eq(folds, 2, "b's relu and n's relu fold");
    rt_plan_free(&pl);
    /* an evaluation plan runs every node */
    cr_assert(rt_plan_init(&pl, &s->models[0], 4, NULL, NULL, -1, &run.diag));
    cr_expect_null(pl.folded);
    rt_plan_free(&pl);
    rt_session_free(s);
    check_program(&run, prog, OP_RELU);
}
