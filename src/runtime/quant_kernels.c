/* The int8 arithmetic (docs/quantization.md): the one implementation of
 * the integer kernels `nnc run --quantize int8` runs. The C emitter
 * (src/emit/emit_c_int8.c) writes these same operations as text; the
 * checks in tests/quant_check.py hold the two to identical outputs. The
 * rounding is TFLite's reference kernels' (gemmlowp's fixed-point
 * primitives), written here from their definitions. */
#include <limits.h>
#include <math.h>

#include "nnc/quant.h"

int32_t q8_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30);
    /* C division truncates toward zero, as gemmlowp's does. */
    return (int32_t)((ab + nudge) / (INT64_C(1) << 31));
}

/* floor(x / 2^e) without shifting a negative value (implementation-
 * defined in C99): for x < 0, ~x = -x - 1 >= 0 and ~(~x >> e) is the floor. */
static int32_t floor_shift(int32_t x, int e)
{
    return x >= 0 ? x >> e : ~(~x >> e);
}

int32_t q8_rounding_shift_right(int32_t x, int exponent)
{
    uint32_t mask = (uint32_t)((UINT64_C(1) << exponent) - 1);
    uint32_t remainder = (uint32_t)x & mask;
    uint32_t threshold = (mask >> 1) + (x < 0 ? 1u : 0u);
    return floor_shift(x, exponent) + (remainder > threshold ? 1 : 0);
}

int32_t q8_multiply(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    int64_t shifted = (int64_t)x * (INT64_C(1) << left);
    if (shifted > INT32_MAX)
        shifted = INT32_MAX;
    if (shifted < INT32_MIN)
        shifted = INT32_MIN;
    return q8_rounding_shift_right(q8_doubling_high_mul((int32_t)shifted, multiplier), right);
}

bool q8_quantize_multiplier(double real, int32_t *multiplier, int *shift)
{
    *multiplier = 0;
    *shift = 0;
    if (!(real >= 0.0) || !isfinite(real) || real >= 1073741824.0)
        return false;
    if (real == 0.0)
        return true;
    int e;
    double frac = frexp(real, &e); /* real = frac * 2^e, frac in [0.5, 1) */
    int64_t fixed = (int64_t)round(frac * 2147483648.0);
    if (fixed == INT64_C(1) << 31) {
        fixed /= 2;
        e++;
    }
    if (e < -31) /* below what a 31-bit right shift reaches: the product is 0 */
        return true;
    *multiplier = (int32_t)fixed;
    *shift = e;
    return true;
}

/* x rounded to the nearest integer, ties away from zero (std::round),
 * exactly in float: |x| <= 256 here, so x - trunc(x) is exact. */
static int32_t round_away(float x)
{
    int32_t r = (int32_t)x;
    float frac = x - (float)r;
    if (frac >= 0.5f)
        r++;
    else if (frac <= -0.5f)
        r--;
    return r;
}

/* x / scale limited to [-256, 256] (NaN to -256), so any float input
 * saturates instead of overflowing the conversion. */
static float scaled(float x, float scale)
{
    float v = x / scale;
    if (!(v > -256.0f))
        v = -256.0f;
    if (!(v < 256.0f))
        v = 256.0f;
    return v;
}

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int8_t q8_quantize(float x, float scale, int32_t zero)
{
    return (int8_t)clamp32(round_away(scaled(x, scale)) + zero, -128, 127);
}

int32_t q8_quantize_even(float x, float scale, int32_t zero, int32_t lo, int32_t hi)
{
    float v = scaled(x, scale);
    int32_t r = round_away(v);
    float frac = v - (float)(int32_t)v;
    if ((frac == 0.5f || frac == -0.5f) && r % 2 != 0)
        r += frac > 0 ? -1 : 1;
    return clamp32(r + zero, lo, hi);
}

float q8_dequantize(int32_t q, float scale, int32_t zero)
{
    return (float)(q - zero) * scale;
}

int32_t q8_dot(int32_t acc, const int8_t *w, const int8_t *x, size_t n)
{
    for (size_t j = 0; j < n; j++)
        acc += (int32_t)w[j] * (int32_t)x[j];
    return acc;
}

int8_t q8_requantize(int32_t acc, int32_t multiplier, int shift, int32_t zero, int32_t lo,
                     int32_t hi)
{
    return (int8_t)clamp32(q8_multiply(acc, multiplier, shift) + zero, lo, hi);
}

void q8_dense(const QDense *d, const int8_t *x, int8_t *y, int32_t out_zero)
{
    for (size_t c = 0; c < d->units; c++) {
        int32_t acc = q8_dot(d->acc_init[c], d->weight + c * d->in, x, d->in);
        y[c] = q8_requantize(acc, d->mult[c], d->shift[c], out_zero, d->act_min, d->act_max);
    }
}

void q8_lut(const int8_t lut[256], const int8_t *x, int8_t *y, size_t n)
{
    for (size_t j = 0; j < n; j++)
        y[j] = lut[x[j] + 128];
}

/* p_j = e_j / sum e, e_j = exp_q16[max - x_j], rounded to the nearest
 * 1/256 (half up) and stored with zero point -128: 1.0 saturates at 127. */
void q8_softmax(const int32_t exp_q16[256], const int8_t *x, int8_t *y, size_t n)
{
    int32_t max = -128;
    for (size_t j = 0; j < n; j++)
        max = x[j] > max ? x[j] : max;
    int64_t sum = 0;
    for (size_t j = 0; j < n; j++)
        sum += exp_q16[max - x[j]];
    for (size_t j = 0; j < n; j++) {
        int64_t num = (int64_t)exp_q16[max - x[j]] * 256;
        int32_t q = (int32_t)((2 * num + sum) / (2 * sum));
        y[j] = (int8_t)clamp32(q - 128, -128, 127);
    }
}

QGeom q8_geometry(const IrNode *n)
{
    QGeom g = {0};
    const IrShape *in = &n->in_shape, *out = &n->shape;
    g.c = in->dim[0];
    g.h = in->rank == 3 ? in->dim[1] : 1;
    g.w = in->rank >= 2 ? in->dim[in->rank - 1] : 1;
    g.oc = out->dim[0];
    g.oh = out->rank == 3 ? out->dim[1] : 1;
    g.ow = out->rank >= 2 ? out->dim[out->rank - 1] : 1;
    bool global = n->op == OP_GLOBAL_AVGPOOL || n->op == OP_GLOBAL_MAXPOOL;
    bool conv = n->op == OP_CONV1D || n->op == OP_CONV2D;
    if (global)
        g.win = (IrWindow){{g.h, g.w}, {1, 1}, {0, 0}, {1, 1}};
    else
        g.win = conv ? n->cfg.conv.win : n->cfg.pool.win;
    return g;
}

/* The input row (or column) tap k of output position o reads, or -1 in
 * the padding. */
static long tap(const IrWindow *w, int axis, size_t o, size_t k, size_t size)
{
    long v = (long)(o * w->stride[axis] + k * w->dilation[axis]) - (long)w->padding[axis];
    return v >= 0 && v < (long)size ? v : -1;
}

void q8_conv(const QDense *d, const IrNode *n, const int8_t *x, int8_t *y, int32_t out_zero,
             int32_t in_zero)
{
    QGeom g = q8_geometry(n);
    size_t groups = n->cfg.conv.groups, cin_g = g.c / groups, cout_g = g.oc / groups;
    size_t kh = g.win.kernel[0], kw = g.win.kernel[1];
    for (size_t oc = 0; oc < g.oc; oc++) {
        const int8_t *w = d->weight + oc * d->in;
        size_t c0 = oc / cout_g * cin_g;
        for (size_t oy = 0; oy < g.oh; oy++)
            for (size_t ox = 0; ox < g.ow; ox++) {
                int32_t acc = d->acc_init[oc];
                for (size_t ci = 0; ci < cin_g; ci++)
                    for (size_t ky = 0; ky < kh; ky++) {
                        long iy = tap(&g.win, 0, oy, ky, g.h);
                        for (size_t kx = 0; kx < kw; kx++) {
                            long ix = tap(&g.win, 1, ox, kx, g.w);
                            int32_t v = iy >= 0 && ix >= 0
                                ? x[((c0 + ci) * g.h + (size_t)iy) * g.w + (size_t)ix] : in_zero;
                            acc += (int32_t)w[(ci * kh + ky) * kw + kx] * v;
                        }
                    }
                y[(oc * g.oh + oy) * g.ow + ox] =
                    q8_requantize(acc, d->mult[oc], d->shift[oc], out_zero, d->act_min, d->act_max);
            }
    }
}

/* sum / n rounded to nearest, ties away from zero (n > 0). */
static int32_t rounded_div(int32_t sum, int32_t n)
{
    return sum >= 0 ? (sum + n / 2) / n : -((-sum + n / 2) / n);
}

void q8_pool(const IrNode *n, bool max, const int8_t *x, int8_t *y, int32_t zero)
{
    QGeom g = q8_geometry(n);
    int32_t div = (int32_t)(g.win.kernel[0] * g.win.kernel[1]);
    for (size_t c = 0; c < g.c; c++)
        for (size_t oy = 0; oy < g.oh; oy++)
            for (size_t ox = 0; ox < g.ow; ox++) {
                int32_t acc = max ? -128 : 0;
                for (size_t ky = 0; ky < g.win.kernel[0]; ky++) {
                    long iy = tap(&g.win, 0, oy, ky, g.h);
                    for (size_t kx = 0; kx < g.win.kernel[1]; kx++) {
                        long ix = tap(&g.win, 1, ox, kx, g.w);
                        if (iy < 0 || ix < 0)
                            continue; /* max: -inf; average: the real 0 */
                        int32_t v = x[(c * g.h + (size_t)iy) * g.w + (size_t)ix];
                        acc = max ? (v > acc ? v : acc) : acc + v - zero;
                    }
                }
                y[(c * g.oh + oy) * g.ow + ox] =
                    (int8_t)(max ? acc : clamp32(rounded_div(acc, div) + zero, -128, 127));
            }
}

void q8_add(const QMix *m, const int8_t *const *xs, const int32_t *zeros, int8_t *y, size_t n,
            int32_t out_zero)
{
    for (size_t j = 0; j < n; j++) {
        int32_t sum = 0;
        for (size_t k = 0; k < m->n; k++)
            sum += q8_multiply((xs[k][j] - zeros[k]) * (1 << Q8_ADD_SHIFT), m->mult[k],
                               m->shift[k]);
        y[j] = q8_requantize(sum, m->out_mult, m->out_shift, out_zero, m->act_min, 127);
    }
}

void q8_concat(const QMix *m, const int8_t *const *xs, const int32_t *zeros, const size_t *sizes,
               int8_t *y, int32_t out_zero)
{
    for (size_t k = 0; k < m->n; k++) {
        for (size_t j = 0; j < sizes[k]; j++)
            y[j] = q8_requantize(xs[k][j] - zeros[k], m->mult[k], m->shift[k], out_zero, -128, 127);
        y += sizes[k];
    }
}

/* Node i's inputs for add and concat: values, zero points, sizes. */
static void mix_inputs(const QModel *q, size_t i, int8_t *work, const int8_t **xs, int32_t *zeros,
                       size_t *sizes);

/* Where node i's value lives in work (aliases have none of their own). */
static size_t node_offset(const QModel *q, size_t i)
{
    size_t off = 0;
    for (size_t k = 0; k < i; k++)
        if (q->nodes[k].kind != Q_ALIAS)
            off += q->ir->nodes[k].units;
    return off;
}

size_t q8_work_size(const QModel *q)
{
    return node_offset(q, q->ir->n_nodes);
}

const int8_t *q8_node_value(const QModel *q, const int8_t *work, size_t i)
{
    return work + node_offset(q, q->nodes[i].kind == Q_ALIAS ? q->nodes[i].src : i);
}

const QNode *q8_output(const QModel *q)
{
    const QNode *last = &q->nodes[q->ir->n_nodes - 1];
    return last->kind == Q_ALIAS ? &q->nodes[last->src] : last;
}

static void node_forward(const QModel *q, size_t i, int8_t *work)
{
    const QNode *n = &q->nodes[i];
    int8_t *y = work + node_offset(q, i);
    const int8_t *x = work + node_offset(q, n->src);
    size_t units = q->ir->nodes[i].units;
    switch (n->kind) {
    case Q_DENSE: q8_dense(&n->dense, x, y, n->out.zero); break;
    case Q_LUT: q8_lut(n->lut, x, y, units); break;
    case Q_SOFTMAX: q8_softmax(n->exp_q16, x, y, units); break;
    case Q_CONV:
        q8_conv(&n->dense, &q->ir->nodes[i], x, y, n->out.zero, q->nodes[n->src].out.zero);
        break;
    case Q_MAXPOOL: q8_pool(&q->ir->nodes[i], true, x, y, n->out.zero); break;
    case Q_AVGPOOL: q8_pool(&q->ir->nodes[i], false, x, y, n->out.zero); break;
    case Q_ADD:
    case Q_CONCAT: {
        const int8_t *xs[IR_MAX_INPUTS];
        int32_t zeros[IR_MAX_INPUTS];
        size_t sizes[IR_MAX_INPUTS];
        mix_inputs(q, i, work, xs, zeros, sizes);
        if (n->kind == Q_ADD)
            q8_add(&n->mix, xs, zeros, y, units, n->out.zero);
        else
            q8_concat(&n->mix, xs, zeros, sizes, y, n->out.zero);
        break;
    }
    case Q_INPUT:
    case Q_ALIAS: break;
    }
}

static void mix_inputs(const QModel *q, size_t i, int8_t *work, const int8_t **xs, int32_t *zeros,
                       size_t *sizes)
{
    const QMix *m = &q->nodes[i].mix;
    for (size_t k = 0; k < m->n; k++) {
        xs[k] = work + node_offset(q, m->src[k]);
        zeros[k] = q->nodes[m->src[k]].out.zero;
        sizes[k] = q->ir->nodes[m->src[k]].units;
    }
}

void q8_forward(const QModel *q, const int8_t *in, int8_t *out, int8_t *work)
{
    const IrModel *m = q->ir;
    for (size_t j = 0; j < m->in_units; j++)
        work[j] = in[j];
    for (size_t i = 1; i < m->n_nodes; i++)
        node_forward(q, i, work);
    const int8_t *y = work + node_offset(q, (size_t)(q8_output(q) - q->nodes));
    for (size_t j = 0; j < m->out_units; j++)
        out[j] = y[j];
}
