/* The op table: forward values on hand-computed inputs, and every op's
 * backward against central finite differences. The objective is
 * L = sum(dy * y) for a fixed random dy, so dL/dx is exactly what backward
 * computes; differences are taken in float32 with eps = 1e-3 and compared
 * with rel err <= 1e-2 (field notes). Inputs avoid relu's kink at 0. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../../src/runtime/ops.h"

enum { ROWS = 3, IN = 4, OUT = 5, MAXN = 64 };

typedef struct Case {
    OpKind op;
    IrNode node;          /* shapes and configuration, as the lowering makes them */
    IrParam decl[IR_MAX_PARAMS];
    size_t n_params;
    size_t in, out;
    float x[MAXN], dy[MAXN], y[MAXN], dx[MAXN], scratch[MAXN];
    float param[IR_MAX_PARAMS][MAXN], grad[IR_MAX_PARAMS][MAXN];
} Case;

/* A configuration for every kind the check runs on (a new kind must pick
 * one here: the switch lists them all). Returns false for OP_INPUT, which
 * has no gradient to check. */
static bool case_config(IrNode *n, OpKind op)
{
    n->op = op;
    n->in_units = op == OP_DENSE ? IN : OUT;
    n->units = OUT;
    switch (op) {
    case OP_INPUT: return false;
    /* Tensor and graph ops need shapes: test_layers.c checks each inside a
     * model, through the plan, against finite differences. */
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_BATCHNORM:
    case OP_ADD:
    case OP_CONCAT: return false;
    case OP_DENSE: n->cfg.dense.units = OUT; break;
    case OP_DROPOUT: n->cfg.dropout.p = 0.5; break; /* a fixed mask: see objective */
    case OP_LEAKY_RELU: n->cfg.leaky_relu.slope = 0.3; break;
    case OP_ELU: n->cfg.elu.alpha = 1.5; break;
    case OP_STEP: /* FD away from the kink is 0, as its backward */
    case OP_SIGMOID:
    case OP_TANH:
    case OP_GELU:
    case OP_SILU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_RELU:
    case OP_SOFTMAX:
    case OP_IDENTITY: break;
    }
    n->shape = ir_shape_1d(n->units);
    return true;
}

static bool case_fill(Case *c, OpKind op)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    if (!case_config(&c->node, op))
        return false;
    c->in = c->node.in_units;
    c->out = c->node.units;
    c->n_params = ir_node_params(&c->node, c->decl);
    RtRng r;
    rt_rng_seed(&r, 99, 0);
    for (size_t i = 0; i < MAXN; i++) {
        float u = rt_rng_uniform(&r) * 4.0f - 2.0f;
        /* keep |x| >= 0.1: finite differences across a kink are wrong */
        c->x[i] = fabsf(u) < 0.1f ? u + (u < 0 ? -0.2f : 0.2f) : u;
        for (size_t k = 0; k < IR_MAX_PARAMS; k++)
            c->param[k][i] = rt_rng_uniform(&r) - 0.5f;
        c->dy[i] = rt_rng_uniform(&r) * 2.0f - 1.0f;
    }
    return true;
}

static RtOpArgs case_args(Case *c, RtRng *rng)
{
    RtOpArgs a = {0};
    a.rows = ROWS, a.in = c->in, a.out = c->out, a.cfg = &c->node.cfg, a.node = &c->node;
    a.training = true;
    a.x = c->x, a.y = c->y, a.dy = c->dy, a.dx = c->dx;
    for (size_t k = 0; k < c->n_params; k++) {
        a.param[k] = c->param[k];
        a.grad[k] = c->grad[k];
    }
    a.scratch = c->scratch, a.rng = rng;
    return a;
}

/* Forward with the same dropout mask every time (a freshly seeded RNG). */
static double objective(Case *c)
{
    RtRng rng;
    rt_rng_seed(&rng, 1, 1);
    RtOpArgs a = case_args(c, &rng);
    rt_op_forward(c->op, &a);
    double sum = 0.0;
    for (size_t i = 0; i < ROWS * c->out; i++)
        sum += (double)c->dy[i] * c->y[i];
    return sum;
}

static void check_against_fd(Case *c, float *param, const float *analytic, size_t n, const char *what)
{
    const float eps = 1e-3f;
    for (size_t i = 0; i < n; i++) {
        float keep = param[i];
        param[i] = keep + eps;
        double up = objective(c);
        param[i] = keep - eps;
        double down = objective(c);
        param[i] = keep;
        double num = (up - down) / (2.0 * eps), ana = analytic[i];
        double err = fabs(num - ana) / fmax(1.0, fmax(fabs(num), fabs(ana)));
        cr_assert(err <= 1e-2, "%s %s[%zu]: finite difference %g, backward %g",
                  ir_ops[c->op].name, what, i, num, ana);
    }
}

/* Backward of op against finite differences, for x and every parameter
 * tensor the op declares. */
static void check_op(OpKind op)
{
    static Case c; /* static: large, and Criterion runs tests in processes */
    if (!case_fill(&c, op))
        return;
    RtRng rng;
    rt_rng_seed(&rng, 1, 1);
    RtOpArgs a = case_args(&c, &rng);
    rt_op_forward(op, &a);
    rt_op_backward(op, &a);
    static float dx[MAXN], grad[IR_MAX_PARAMS][MAXN];
    memcpy(dx, c.dx, sizeof dx);
    memcpy(grad, c.grad, sizeof grad);
    check_against_fd(&c, c.x, dx, ROWS * c.in, "dx");
    for (size_t k = 0; k < c.n_params; k++) {
        size_t size = ir_shape_size(&c.decl[k].shape);
        cr_assert(size <= MAXN);
        check_against_fd(&c, c.param[k], grad[k], size, c.decl[k].suffix);
    }
}

/* With dx_add, backward adds into dx: twice is twice the gradient (a value
 * read by two nodes gets both). */
static void check_accumulates(OpKind op)
{
    static Case c;
    if (!case_fill(&c, op))
        return;
    RtRng rng;
    rt_rng_seed(&rng, 1, 1);
    RtOpArgs a = case_args(&c, &rng);
    rt_op_forward(op, &a);
    rt_op_backward(op, &a);
    static float once[MAXN];
    memcpy(once, c.dx, sizeof once);
    a.dx_add = true; /* a second reader's gradient arrives */
    rt_op_backward(op, &a);
    for (size_t i = 0; i < ROWS * c.in; i++)
        cr_assert_float_eq(c.dx[i], 2.0f * once[i], 1e-5f * fmaxf(1.0f, fabsf(once[i])),
                           "%s dx[%zu]: %g after two passes, %g after one", ir_ops[op].name, i,
                           c.dx[i], once[i]);
}

Test(ops, tables_have_every_op_in_order)
{
    cr_assert(rt_op_table_complete());
    for (int k = 0; k < OP_COUNT; k++) {
        OpKind found;
        cr_expect_eq((int)ir_ops[k].kind, k, "ir_ops row %d is %s", k, ir_ops[k].name);
        cr_expect(ir_op_lookup(ir_ops[k].name, &found) && (int)found == k, "%s", ir_ops[k].name);
    }
}

Test(ops, gradcheck_every_op)
{
    for (int k = 0; k < OP_COUNT; k++)
        check_op((OpKind)k);
}

Test(ops, backward_accumulates_for_every_op)
{
    for (int k = 0; k < OP_COUNT; k++)
        check_accumulates((OpKind)k);
}

Test(ops, gradcheck_leaky_relu_default_slope)
{
    static Case c;
    case_fill(&c, OP_LEAKY_RELU);
    c.node.cfg.leaky_relu.slope = 0.01;
    RtRng rng;
    rt_rng_seed(&rng, 1, 1);
    RtOpArgs a = case_args(&c, &rng);
    rt_op_forward(OP_LEAKY_RELU, &a);
    rt_op_backward(OP_LEAKY_RELU, &a);
    static float dx[MAXN];
    memcpy(dx, c.dx, sizeof dx);
    check_against_fd(&c, c.x, dx, ROWS * c.in, "dx");
}

/* ---- forward on hand-computed values ------------------------------------ */

/* arg: leaky_relu's slope (the one elementwise op with a configuration). */
static void forward1(OpKind op, double arg, const float *x, float *y, size_t n)
{
    IrOpConfig cfg = {0};
    cfg.leaky_relu.slope = arg;
    RtOpArgs a = {0};
    a.rows = 1, a.in = n, a.out = n, a.cfg = &cfg, a.x = x, a.y = y;
    rt_op_forward(op, &a);
}

#define ASSERT_NEAR(got, want) \
    cr_assert(fabs((double)(got) - (want)) <= 1e-6 * fmax(1.0, fabs(want)), \
              "%s = %.9g, want %.9g", #got, (double)(got), (double)(want))

Test(ops, forward_activations)
{
    const float x[4] = {-2.0f, -0.5f, 0.0f, 1.5f};
    float y[4];
    forward1(OP_STEP, 0, x, y, 4);
    cr_assert(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 1);
    forward1(OP_RELU, 0, x, y, 4);
    cr_assert(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 1.5f);
    forward1(OP_LEAKY_RELU, 0.1, x, y, 4);
    ASSERT_NEAR(y[0], -0.2); ASSERT_NEAR(y[1], -0.05); ASSERT_NEAR(y[3], 1.5);
    forward1(OP_SIGMOID, 0, x, y, 4);
    ASSERT_NEAR(y[0], 0.11920292202211755); ASSERT_NEAR(y[2], 0.5);
    ASSERT_NEAR(y[3], 0.8175744761936437);
    forward1(OP_TANH, 0, x, y, 4);
    ASSERT_NEAR(y[0], -0.9640275800758169); ASSERT_NEAR(y[3], 0.9051482536448664);
    forward1(OP_GELU, 0, x, y, 4); /* x Phi(x), computed in double */
    ASSERT_NEAR(y[0], -0.04550026389635842); ASSERT_NEAR(y[1], -0.15426876936299344);
    ASSERT_NEAR(y[2], 0.0); ASSERT_NEAR(y[3], 1.399789198096713);
    /* The rest computed in double from PyTorch's definitions. */
    static const struct { OpKind op; double arg, want[4]; } more[] = {
        {OP_SILU, 0, {-0.2384058440442351, -0.1887703343990727, 0.0, 1.2263617142904655}},
        {OP_ELU, 1.0, {-0.8646647167633873, -0.3934693402873666, 0.0, 1.5}},
        {OP_SOFTPLUS, 0, {0.1269280110429725, 0.4740769841801067, 0.6931471805599453,
                          1.7014132779827524}},
        {OP_HARDSWISH, 0, {-0.3333333333333333, -0.20833333333333334, 0.0, 1.125}},
        {OP_HARDSIGMOID, 0, {0.16666666666666666, 0.4166666666666667, 0.5, 0.75}},
    };
    for (size_t k = 0; k < sizeof more / sizeof *more; k++) {
        IrOpConfig cfg = {.elu = {more[k].arg}};
        RtOpArgs a = {.rows = 1, .in = 4, .out = 4, .cfg = &cfg, .x = x, .y = y};
        rt_op_forward(more[k].op, &a);
        for (int i = 0; i < 4; i++)
            cr_assert(fabs((double)y[i] - more[k].want[i]) <= 1e-6 * fmax(1.0, fabs(more[k].want[i])),
                      "%s(%g) = %.9g, want %.9g", ir_ops[more[k].op].name, (double)x[i],
                      (double)y[i], more[k].want[i]);
    }
    forward1(OP_IDENTITY, 0, x, y, 4);
    cr_assert(memcmp(x, y, sizeof y) == 0);
    forward1(OP_SOFTMAX, 0, x, y, 4);
    /* softmax([-2, -0.5, 0, 1.5]) */
    ASSERT_NEAR(y[0], 0.021745655489); ASSERT_NEAR(y[1], 0.097457266533);
    ASSERT_NEAR(y[2], 0.160679868317); ASSERT_NEAR(y[3], 0.720117209661);
}

/* Softplus above its threshold is z itself (torch's threshold 20), and
 * never overflows; elu's and silu's exponentials neither. */
Test(ops, softplus_elu_silu_stay_finite_at_extremes)
{
    const float x[3] = {-1000.0f, 25.0f, 1000.0f};
    float y[3];
    forward1(OP_SOFTPLUS, 0, x, y, 3);
    cr_assert(y[0] == 0.0f && y[1] == 25.0f && y[2] == 1000.0f);
    IrOpConfig cfg = {.elu = {1.0}};
    RtOpArgs a = {.rows = 1, .in = 3, .out = 3, .cfg = &cfg, .x = x, .y = y};
    rt_op_forward(OP_ELU, &a);
    cr_assert(y[0] == -1.0f && y[2] == 1000.0f);
    rt_op_forward(OP_SILU, &a);
    cr_assert(y[0] == -0.0f && y[2] == 1000.0f);
}

Test(ops, sigmoid_and_softmax_stay_finite_at_extremes)
{
    const float x[3] = {-1000.0f, 0.0f, 1000.0f};
    float y[3];
    forward1(OP_SIGMOID, 0, x, y, 3);
    cr_assert(y[0] == 0.0f && y[2] == 1.0f);
    forward1(OP_SOFTMAX, 0, x, y, 3);
    cr_assert(y[0] == 0.0f && y[2] == 1.0f && isfinite(y[1]));
}

Test(ops, forward_dense_like_nn_linear)
{
    /* W = [[1, 2], [3, 4], [5, 6]], b = [0.5, -1, 0]; X = [[1, -1], [2, 0.5]] */
    const float w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0.5f, -1, 0}, x[4] = {1, -1, 2, 0.5f};
    float y[6];
    RtOpArgs a = {0};
    a.rows = 2, a.in = 2, a.out = 3, a.x = x, a.y = y, a.param[0] = w, a.param[1] = b;
    rt_op_forward(OP_DENSE, &a);
    const float want[6] = {-0.5f, -2, -1, 3.5f, 7, 13};
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(y[i], want[i], 1e-6, "y[%d] = %g", i, y[i]);
}

Test(ops, dropout_training_and_evaluation)
{
    float x[1000], y[1000], mask[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = 1.0f;
    RtRng rng;
    rt_rng_seed(&rng, 3, 1);
    IrOpConfig cfg = {.dropout = {0.25}};
    RtOpArgs a = {0};
    a.rows = 10, a.in = 100, a.out = 100, a.cfg = &cfg, a.x = x, a.y = y;
    a.scratch = mask, a.rng = &rng, a.training = true;
    rt_op_forward(OP_DROPOUT, &a);
    int kept = 0;
    for (int i = 0; i < 1000; i++) {
        cr_assert(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f);
        kept += y[i] != 0.0f;
    }
    cr_assert(kept > 700 && kept < 800, "kept %d of 1000 at p = 0.25", kept);
    a.training = false;
    rt_op_forward(OP_DROPOUT, &a);
    cr_assert(memcmp(x, y, sizeof y) == 0);
}

Test(ops, step_backward_is_zero_and_frozen_dense_skips_params)
{
    float x[2] = {0.5f, -0.5f}, y[2], dy[2] = {1, 1}, dx[2] = {9, 9};
    RtOpArgs a = {0};
    a.rows = 1, a.in = 2, a.out = 2, a.x = x, a.y = y, a.dy = dy, a.dx = dx;
    rt_op_forward(OP_STEP, &a);
    rt_op_backward(OP_STEP, &a);
    cr_assert(dx[0] == 0 && dx[1] == 0); /* written: the first gradient to reach x */
    dx[0] = dx[1] = 9;
    a.dx_add = true;
    rt_op_backward(OP_STEP, &a);
    cr_assert(dx[0] == 9 && dx[1] == 9); /* added: nothing */
    /* dense with no gradients and dx = NULL must not touch anything */
    float w[2] = {1, 1}, b[1] = {0}, out[1], dout[1] = {1};
    RtOpArgs d = {0};
    d.rows = 1, d.in = 2, d.out = 1, d.x = x, d.y = out, d.dy = dout;
    d.param[0] = w, d.param[1] = b;
    rt_op_forward(OP_DENSE, &d);
    rt_op_backward(OP_DENSE, &d);
    cr_assert_float_eq(out[0], 0.0f, 1e-7);
}
