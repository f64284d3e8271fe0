/* Forward and backward of every op, and the table that indexes them by
 * OpKind. Elementwise ops have in == out; dense maps in -> out. All
 * arithmetic is float32 so training agrees with PyTorch's float32 loops. */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "ops.h"
#include "ops_layers.h"

typedef struct RtOp {
    OpKind kind;
    void (*forward)(RtOpArgs *a);
    void (*backward)(RtOpArgs *a);
    /* floats kept for backward on rows rows; NULL = none */
    size_t (*scratch)(const IrNode *n, size_t rows);
    /* floats of temporary workspace per call on up to rows rows; NULL = none */
    size_t (*workspace)(const IrNode *n, size_t rows);
} RtOp;

static size_t op_count(const RtOpArgs *a)
{
    return a->rows * a->out;
}

/* The first gradient to reach a value writes its dx, later ones (a value
 * read by several nodes) add to it: no buffer needs zeroing first. The test
 * is the same for the whole loop, which the compiler unswitches. */
static inline void grad_put(float *dx, size_t i, float g, bool add)
{
    dx[i] = add ? dx[i] + g : g;
}

/* ---- input: its output is the gathered batch itself ------------------- */

static void op_input_forward(RtOpArgs *a)
{
    if (a->y != a->x)
        memcpy(a->y, a->x, op_count(a) * sizeof(float));
}

static void op_none_backward(RtOpArgs *a)
{
    (void)a;
}

/* ---- dense: Y = X W^T + b, like nn.Linear ----------------------------- */

/* The bias is written first and the product added onto it (beta = 1): one
 * pass over the output, and the summation order of the golden files.
 * Evaluation and prediction always use the portable loops: their order is
 * the emitted C's, so `nnc run` and the emitted code agree bit for bit
 * (tests/emit_check.py); training sends large products to BLAS. */
static void op_dense_forward(RtOpArgs *a)
{
    for (size_t r = 0; r < a->rows; r++)
        memcpy(a->y + r * a->out, a->param[1], a->out * sizeof(float));
    void (*gemm)(bool, bool, size_t, size_t, size_t, float, const float *,
                 size_t, const float *, size_t, float, float *, size_t) =
        a->training ? rt_gemm : rt_gemm_portable;
    gemm(false, true, a->rows, a->out, a->in, 1.0f, a->x, a->in, a->param[0], a->in,
         1.0f, a->y, a->out);
}

/* dW += dY^T X, db += column sums of dY, dX (+)= dY W. */
static void op_dense_backward(RtOpArgs *a)
{
    if (a->grad[0])
        rt_gemm(true, false, a->out, a->in, a->rows, 1.0f, a->dy, a->out,
                a->x, a->in, 1.0f, a->grad[0], a->in);
    if (a->grad[1]) {
        float *db = a->grad[1];
        const float *dy = a->dy;
        for (size_t r = 0; r < a->rows; r++)
            for (size_t j = 0; j < a->out; j++)
                db[j] += dy[r * a->out + j];
    }
    if (a->dx)
        rt_gemm(false, false, a->rows, a->in, a->out, 1.0f, a->dy, a->out,
                a->param[0], a->in, a->dx_add ? 1.0f : 0.0f, a->dx, a->in);
}

/* ---- dropout: inverted dropout, like nn.Dropout ------------------------ */

/* Training keeps each value with probability 1 - p and scales kept values
 * by 1/(1-p) so the expected output equals the input; evaluation is the
 * identity. The mask (0 or the scale) is kept for backward. */
static void op_dropout_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    if (!a->training) {
        memcpy(a->y, a->x, n * sizeof(float));
        return;
    }
    float p = (float)a->cfg->dropout.p;
    float scale = 1.0f / (1.0f - p);
    float *mask = a->scratch;
    for (size_t i = 0; i < n; i++) {
        mask[i] = rt_rng_uniform(a->rng) < p ? 0.0f : scale;
        a->y[i] = a->x[i] * mask[i];
    }
}

static size_t op_dropout_scratch(const IrNode *n, size_t rows)
{
    return n->units * rows;
}

static void op_dropout_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *dy = a->dy, *mask = a->scratch;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++)
        grad_put(dx, i, dy[i] * mask[i], add);
}

/* ---- step: the perceptron's threshold ---------------------------------- */

float rt_act_step(float z)
{
    return z > 0.0f ? 1.0f : 0.0f;
}

static void op_step_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    for (size_t i = 0; i < n; i++)
        a->y[i] = rt_act_step(a->x[i]);
}

/* The derivative of a step is 0 everywhere except at 0, where it does not
 * exist; we pass 0 back, so layers below a step do not learn by gradient
 * descent (the perceptron learning rule is a different algorithm). */
static void op_step_backward(RtOpArgs *a)
{
    if (a->dx && !a->dx_add)
        memset(a->dx, 0, op_count(a) * sizeof(float));
}

/* ---- sigmoid ----------------------------------------------------------- */

/* Two branches so exp never overflows: for z < 0, e^z/(1+e^z). */
float rt_act_sigmoid(float z)
{
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

static void op_sigmoid_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    for (size_t i = 0; i < n; i++)
        a->y[i] = rt_act_sigmoid(a->x[i]);
}

static void op_sigmoid_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *y = a->y, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++)
        grad_put(dx, i, dy[i] * y[i] * (1.0f - y[i]), add);
}

/* ---- tanh -------------------------------------------------------------- */

float rt_act_tanh(float z)
{
    return tanhf(z);
}

static void op_tanh_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    for (size_t i = 0; i < n; i++)
        a->y[i] = rt_act_tanh(a->x[i]);
}

static void op_tanh_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *y = a->y, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++)
        grad_put(dx, i, dy[i] * (1.0f - y[i] * y[i]), add);
}

/* ---- relu and leaky_relu ----------------------------------------------- */

float rt_act_relu(float z)
{
    return z > 0.0f ? z : 0.0f;
}

/* The product is computed either way, so the select needs no branch. */
float rt_act_leaky_relu(float z, float slope)
{
    float scaled = z * slope;
    return z > 0.0f ? z : scaled;
}

/* The elementwise loops read the pointers into locals first: through a->
 * gcc reloads them every iteration (a store might change them) and gives up
 * on vectorising; with locals the loop becomes a compare and a blend, with
 * no data-dependent branch to mispredict. */
static void op_relu_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_relu(x[i]);
}

/* At exactly 0 the gradient is 0, as in PyTorch. */
static void op_relu_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded on both paths: the loop if-converts */
        grad_put(dx, i, x[i] > 0.0f ? g : 0.0f, add);
    }
}

static void op_leaky_relu_forward(RtOpArgs *a)
{
    float slope = (float)a->cfg->leaky_relu.slope;
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_leaky_relu(x[i], slope);
}

/* Decides on x, not y: with a negative slope y > 0 does not mean x > 0. */
static void op_leaky_relu_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    float slope = (float)a->cfg->leaky_relu.slope;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++) {
        float g = dy[i], scaled = g * slope;
        grad_put(dx, i, x[i] > 0.0f ? g : scaled, add);
    }
}

/* ---- gelu: z * Phi(z), Phi the standard normal CDF ------------------- */

/* nn.GELU() (approximate='none'), in torch's CPU order:
 * (z * 0.5) * (1 + erf(z * (1/sqrt 2))). */
/* 1/sqrt(2) and 1/sqrt(2 pi): <math.h>'s M_SQRT1_2 is not in C11. */
#define GELU_INV_SQRT2 0.70710678118654752440
#define GELU_INV_SQRT_2PI 0.39894228040143267794

float rt_act_gelu(float z)
{
    return z * 0.5f * (1.0f + erff(z * (float)GELU_INV_SQRT2));
}

static void op_gelu_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_gelu(x[i]);
}

/* d/dz z Phi(z) = Phi(z) + z phi(z), phi(z) = exp(-z^2 / 2) / sqrt(2 pi),
 * as torch's GeluBackward: cdf + z * pdf. */
static void op_gelu_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    const float inv_sqrt_2pi = (float)GELU_INV_SQRT_2PI;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++) {
        float z = x[i];
        float cdf = 0.5f * (1.0f + erff(z * (float)GELU_INV_SQRT2));
        float pdf = inv_sqrt_2pi * expf(z * z * -0.5f);
        grad_put(dx, i, dy[i] * (cdf + z * pdf), add);
    }
}

/* ---- silu, elu, softplus, hardswish, hardsigmoid ------------------------ */

/* nn.SiLU: z * sigmoid(z), computed as torch's CPU kernel does, z / (1 + e^-z). */
float rt_act_silu(float z)
{
    return z / (1.0f + expf(-z));
}

static void op_silu_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_silu(x[i]);
}

/* torch: dy * s * (1 + z (1 - s)), s = sigmoid(z). */
static void op_silu_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-x[i]));
        grad_put(dx, i, dy[i] * s * (1.0f + x[i] * (1.0f - s)), add);
    }
}

/* nn.ELU(alpha): z for z > 0, alpha (e^z - 1) otherwise (expm1, as torch). */
float rt_act_elu(float z, float alpha)
{
    return z > 0.0f ? z : alpha * expm1f(z);
}

static void op_elu_forward(RtOpArgs *a)
{
    float alpha = (float)a->cfg->elu.alpha;
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_elu(x[i], alpha);
}

/* d/dz alpha (e^z - 1) = alpha e^z for z <= 0, as torch's elu_backward. */
static void op_elu_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    float alpha = (float)a->cfg->elu.alpha;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++)
        grad_put(dx, i, x[i] > 0.0f ? dy[i] : dy[i] * alpha * expf(x[i]), add);
}

/* nn.Softplus() (beta 1, threshold 20): log(1 + e^z), and z itself above
 * the threshold, where the two agree in float and e^z would overflow. */
enum { SOFTPLUS_THRESHOLD = 20 };

float rt_act_softplus(float z)
{
    return z > (float)SOFTPLUS_THRESHOLD ? z : log1pf(expf(z));
}

static void op_softplus_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_softplus(x[i]);
}

/* torch: z > threshold ? dy : dy * e^z / (e^z + 1). */
static void op_softplus_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++) {
        float e = expf(x[i]);
        grad_put(dx, i, x[i] > (float)SOFTPLUS_THRESHOLD ? dy[i] : dy[i] * e / (e + 1.0f), add);
    }
}

/* nn.Hardswish: z * relu6(z + 3) / 6. */
float rt_act_hardswish(float z)
{
    float r = z + 3.0f;
    r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r;
    return z * r / 6.0f;
}

static void op_hardswish_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_hardswish(x[i]);
}

/* torch: 0 below -3, dy (z / 3 + 0.5) up to 3, dy above. */
static void op_hardswish_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++) {
        float z = x[i];
        float g = z < -3.0f ? 0.0f : z <= 3.0f ? dy[i] * (z / 3.0f + 0.5f) : dy[i];
        grad_put(dx, i, g, add);
    }
}

/* nn.Hardsigmoid: relu6(z + 3) / 6. */
float rt_act_hardsigmoid(float z)
{
    float r = z + 3.0f;
    r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r;
    return r / 6.0f;
}

static void op_hardsigmoid_forward(RtOpArgs *a)
{
    size_t n = op_count(a);
    const float *x = a->x;
    float *y = a->y;
    for (size_t i = 0; i < n; i++)
        y[i] = rt_act_hardsigmoid(x[i]);
}

/* torch: dy / 6 strictly inside (-3, 3), 0 outside. */
static void op_hardsigmoid_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *x = a->x, *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++)
        grad_put(dx, i, x[i] > -3.0f && x[i] < 3.0f ? dy[i] / 6.0f : 0.0f, add);
}

/* ---- softmax over each row --------------------------------------------- */

/* Subtracting the row's maximum keeps exp from overflowing; the result is
 * the same mathematically. */
static void op_softmax_forward(RtOpArgs *a)
{
    for (size_t r = 0; r < a->rows; r++) {
        const float *x = a->x + r * a->out;
        float *y = a->y + r * a->out;
        float max = x[0];
        for (size_t j = 1; j < a->out; j++)
            max = x[j] > max ? x[j] : max;
        float sum = 0.0f;
        for (size_t j = 0; j < a->out; j++) {
            y[j] = expf(x[j] - max);
            sum += y[j];
        }
        for (size_t j = 0; j < a->out; j++)
            y[j] /= sum;
    }
}

/* Jacobian-vector product of softmax: dx_i = y_i (dy_i - sum_j dy_j y_j). */
static void op_softmax_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    for (size_t r = 0; r < a->rows; r++) {
        const float *y = a->y + r * a->out;
        const float *dy = a->dy + r * a->out;
        float *dx = a->dx + r * a->out;
        bool add = a->dx_add;
        float dot = 0.0f;
        for (size_t j = 0; j < a->out; j++)
            dot += dy[j] * y[j];
        for (size_t j = 0; j < a->out; j++)
            grad_put(dx, j, y[j] * (dy[j] - dot), add);
    }
}

/* ---- identity ---------------------------------------------------------- */

float rt_act_identity(float z)
{
    return z;
}

/* memcpy is rt_act_identity on every value, without the loop. */
static void op_identity_forward(RtOpArgs *a)
{
    memcpy(a->y, a->x, op_count(a) * sizeof(float));
}

static void op_identity_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    size_t n = op_count(a);
    const float *dy = a->dy;
    float *dx = a->dx;
    bool add = a->dx_add;
    for (size_t i = 0; i < n; i++)
        grad_put(dx, i, dy[i], add);
}

/* ---- the table --------------------------------------------------------- */

/* Rows in OpKind order, each naming its kind (rt_op_table_complete checks
 * the order; the build checks the count). */
static const RtOp rt_op_table[] = {
    {OP_INPUT, op_input_forward, op_none_backward, NULL, NULL},
    {OP_DENSE, op_dense_forward, op_dense_backward, NULL, NULL},
    {OP_DROPOUT, op_dropout_forward, op_dropout_backward, op_dropout_scratch, NULL},
    {OP_STEP, op_step_forward, op_step_backward, NULL, NULL},
    {OP_SIGMOID, op_sigmoid_forward, op_sigmoid_backward, NULL, NULL},
    {OP_TANH, op_tanh_forward, op_tanh_backward, NULL, NULL},
    {OP_RELU, op_relu_forward, op_relu_backward, NULL, NULL},
    {OP_LEAKY_RELU, op_leaky_relu_forward, op_leaky_relu_backward, NULL, NULL},
    {OP_GELU, op_gelu_forward, op_gelu_backward, NULL, NULL},
    {OP_SILU, op_silu_forward, op_silu_backward, NULL, NULL},
    {OP_ELU, op_elu_forward, op_elu_backward, NULL, NULL},
    {OP_SOFTPLUS, op_softplus_forward, op_softplus_backward, NULL, NULL},
    {OP_HARDSWISH, op_hardswish_forward, op_hardswish_backward, NULL, NULL},
    {OP_HARDSIGMOID, op_hardsigmoid_forward, op_hardsigmoid_backward, NULL, NULL},
    {OP_SOFTMAX, op_softmax_forward, op_softmax_backward, NULL, NULL},
    {OP_IDENTITY, op_identity_forward, op_identity_backward, NULL, NULL},
    {OP_CONV1D, rt_conv_op_forward, rt_conv_op_backward, rt_conv_op_scratch, rt_conv_op_workspace},
    {OP_CONV2D, rt_conv_op_forward, rt_conv_op_backward, rt_conv_op_scratch, rt_conv_op_workspace},
    {OP_MAXPOOL1D, rt_maxpool_op_forward, rt_maxpool_op_backward, rt_maxpool_op_scratch, NULL},
    {OP_MAXPOOL2D, rt_maxpool_op_forward, rt_maxpool_op_backward, rt_maxpool_op_scratch, NULL},
    {OP_AVGPOOL1D, rt_avgpool_op_forward, rt_avgpool_op_backward, NULL, NULL},
    {OP_AVGPOOL2D, rt_avgpool_op_forward, rt_avgpool_op_backward, NULL, NULL},
    {OP_GLOBAL_AVGPOOL, rt_global_avgpool_op_forward, rt_global_avgpool_op_backward, NULL, NULL},
    {OP_GLOBAL_MAXPOOL, rt_global_maxpool_op_forward, rt_global_maxpool_op_backward, NULL, NULL},
    {OP_FLATTEN, op_identity_forward, op_identity_backward, NULL, NULL}, /* same layout */
    {OP_BATCHNORM, rt_batchnorm_op_forward, rt_batchnorm_op_backward, rt_batchnorm_op_scratch,
     NULL},
    {OP_ADD, rt_add_op_forward, rt_add_op_backward, NULL, NULL},
    {OP_CONCAT, rt_concat_op_forward, rt_concat_op_backward, NULL, NULL},
};
_Static_assert(sizeof rt_op_table / sizeof rt_op_table[0] == OP_COUNT,
               "rt_op_table must have one row per OpKind");

void rt_op_forward(OpKind k, RtOpArgs *a)
{
    rt_op_table[k].forward(a);
}

void rt_op_backward(OpKind k, RtOpArgs *a)
{
    rt_op_table[k].backward(a);
}

size_t rt_op_scratch(const IrNode *n, size_t rows)
{
    const RtOp *op = &rt_op_table[n->op];
    return op->scratch ? op->scratch(n, rows) : 0;
}

/* Which ops apply relu_out; the others are never given it. */
static const bool rt_op_relu_out[OP_COUNT] = {
    [OP_CONV1D] = true, [OP_CONV2D] = true, [OP_BATCHNORM] = true,
};

bool rt_op_fuses_relu(OpKind k)
{
    return rt_op_relu_out[k];
}

size_t rt_op_workspace(const IrNode *n, size_t rows)
{
    const RtOp *op = &rt_op_table[n->op];
    return op->workspace ? op->workspace(n, rows) : 0;
}

bool rt_op_table_complete(void)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const RtOp *op = &rt_op_table[k];
        if ((int)op->kind != k || !op->forward || !op->backward)
            return false;
    }
    return true;
}
