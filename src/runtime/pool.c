/* Pooling kernels. The windowed loops run tap by tap: for output row oh
 * and kernel tap (ki, kj), the outputs whose input is in bounds form one
 * range (rt_window_span), computed once and then applied to every plane of
 * the batch, so the inner loop carries no bounds test and the window
 * arithmetic is not repeated per plane. Each output still sees its taps in
 * PyTorch's scan order (kernel row, then column), so sums and the choice of
 * the maximum are the ones of its CPU kernels. Padding is never read: it
 * is -inf for max (never the maximum) and 0 for the average (only the
 * divisor counts it). */
#include <math.h>
#include <string.h>

#include "pool.h"

/* PyTorch's comparison: a larger value or a NaN takes over, so NaN
 * propagates and among equal values the first one scanned stays. */
static inline bool pool_takes(float v, float best)
{
    return (v > best) | (v != v); /* | and v != v: no branch (isnan) */
}

/* best, best_i = v, i where pool_takes(v, best), without a branch: which
 * value of a window is largest is a coin toss on real data, and a
 * mispredicted branch per tap cost more than the rest of the pooling. */
static inline void pool_take(float v, size_t i, float *best, size_t *best_i)
{
    bool takes = pool_takes(v, *best);
    uint32_t vb, bb, take = 0u - (uint32_t)takes;
    size_t take_i = (size_t)0 - (size_t)takes;
    memcpy(&vb, &v, sizeof vb);
    memcpy(&bb, best, sizeof bb);
    bb = (vb & take) | (bb & ~take);
    memcpy(best, &bb, sizeof bb);
    *best_i = (i & take_i) | (*best_i & ~take_i);
}

static size_t plane_in(const RtWindow *w)
{
    return w->in_h * w->in_w;
}

static size_t plane_out(const RtWindow *w)
{
    return w->out_h * w->out_w;
}

/* The input row *ih that tap ki of output row oh reads; false in the padding. */
static bool pool_row(const RtWindow *w, size_t oh, size_t ki, size_t *ih)
{
    size_t padded = oh * w->stride_h + ki * w->dil_h;
    if (padded < w->pad_h || padded >= w->in_h + w->pad_h)
        return false;
    *ih = padded - w->pad_h;
    return true;
}

/* One in-bounds tap of one output row: outputs [lo, lo + n) of row oh read
 * the plane's inputs from index `in` on, every stride_w. */
typedef struct PoolTap {
    size_t out, in, n;
} PoolTap;

typedef void PoolTapFn(const RtWindow *w, size_t planes, const PoolTap *t, void *ctx);

/* Calls fn for every in-bounds tap, output row by output row, in scan order. */
static void pool_taps(const RtWindow *w, size_t planes, PoolTapFn *fn, void *ctx)
{
    for (size_t oh = 0; oh < w->out_h; oh++)
        for (size_t ki = 0; ki < w->k_h; ki++) {
            size_t ih;
            if (!pool_row(w, oh, ki, &ih))
                continue;
            for (size_t kj = 0; kj < w->k_w; kj++) {
                size_t tw = kj * w->dil_w, lo, hi;
                rt_window_span(tw, w->pad_w, w->stride_w, w->in_w, w->out_w, &lo, &hi);
                if (lo == hi)
                    continue;
                PoolTap t = {oh * w->out_w + lo, ih * w->in_w + lo * w->stride_w + tw - w->pad_w,
                             hi - lo};
                fn(w, planes, &t, ctx);
            }
        }
}

typedef struct PoolPass {
    const float *x;  /* forward: the input; backward: dy */
    float *y;        /* forward: the output; backward: dx */
    uint32_t *arg;   /* max: each output's argmax in its plane, or NULL */
    float div;       /* average: the divisor */
} PoolPass;

static void max_tap(const RtWindow *w, size_t planes, const PoolTap *t, void *ctx)
{
    const PoolPass *pp = ctx;
    size_t in = plane_in(w), out = plane_out(w), sw = w->stride_w;
    for (size_t p = 0; p < planes; p++) {
        const float *src = pp->x + p * in + t->in;
        float *dst = pp->y + p * out + t->out;
        for (size_t o = 0; o < t->n; o++) {
            float v = src[o * sw];
            dst[o] = pool_takes(v, dst[o]) ? v : dst[o];
        }
    }
}

/* The same, also keeping where each maximum came from. A window of -infs
 * keeps its first in-bounds value, as PyTorch's does. */
static void max_tap_arg(const RtWindow *w, size_t planes, const PoolTap *t, void *ctx)
{
    const PoolPass *pp = ctx;
    size_t in = plane_in(w), out = plane_out(w), sw = w->stride_w;
    for (size_t p = 0; p < planes; p++) {
        const float *src = pp->x + p * in + t->in;
        float *dst = pp->y + p * out + t->out;
        uint32_t *arg = pp->arg + p * out + t->out;
        for (size_t o = 0; o < t->n; o++) {
            float v = src[o * sw];
            if (pool_takes(v, dst[o]) || arg[o] == RT_POOL_NO_ARG) {
                dst[o] = v;
                arg[o] = (uint32_t)(t->in + o * sw);
            }
        }
    }
}

static void fill(float *y, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        y[i] = v;
}

/* Without padding every window lies in the input (PyTorch's output size
 * makes sure), and the common small pools (2x2 over a few values a row)
 * are fastest window by window: each output scans its taps in order. */
/* Evaluation's unpadded max pooling keeps each row's argmax here: rows
 * wider than this take the general path. */
#define POOL_ROW_SCRATCH 256

static bool pool_unpadded(const RtWindow *w)
{
    return w->pad_h == 0 && w->pad_w == 0;
}

/* Index in the plane of tap (ki, kj) of output (oh, ow), unpadded. */
static size_t pool_tap_index(const RtWindow *w, size_t oh, size_t ow, size_t ki, size_t kj)
{
    return (oh * w->stride_h + ki * w->dil_h) * w->in_w + ow * w->stride_w + kj * w->dil_w;
}

/* One output row of an unpadded window, tap by tap: the row's outputs are
 * independent, so the loop over them has no branch and no carried
 * dependency, and vectorises (selects on 32-bit lanes). The first tap
 * starts each window: it is always in bounds, and taking it is what the
 * scan from -inf does (a -inf keeps its index too). */
static void maxpool_row_unpadded(const RtWindow *w, const float *restrict xp, size_t oh,
                                 float *restrict yrow, uint32_t *restrict arow)
{
    size_t ow_n = w->out_w, sw = w->stride_w;
    for (size_t ki = 0; ki < w->k_h; ki++)
        for (size_t kj = 0; kj < w->k_w; kj++) {
            uint32_t at = (uint32_t)pool_tap_index(w, oh, 0, ki, kj);
            const float *src = xp + at;
            if (ki == 0 && kj == 0) {
                for (size_t ow = 0; ow < ow_n; ow++) {
                    yrow[ow] = src[ow * sw];
                    arow[ow] = at + (uint32_t)(ow * sw);
                }
                continue;
            }
            for (size_t ow = 0; ow < ow_n; ow++) {
                float v = src[ow * sw], best = yrow[ow];
                bool takes = (v > best) | (v != v);
                yrow[ow] = takes ? v : best;
                arow[ow] = takes ? at + (uint32_t)(ow * sw) : arow[ow];
            }
        }
}

/* Without the argmax (evaluation), arg points at a row of scratch that is
 * overwritten row after row. */
static void maxpool_unpadded(const RtWindow *w, size_t planes, const float *x, float *y,
                             uint32_t *arg, uint32_t *row_scratch)
{
    size_t in = plane_in(w), out = plane_out(w);
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++) {
            size_t o = p * out + oh * w->out_w;
            maxpool_row_unpadded(w, x + p * in, oh, y + o, arg ? arg + o : row_scratch);
        }
}

/* count_include_pad with ceil_mode false: every window lies within the
 * padded input, so PyTorch's divisor is the whole kernel. It divides the
 * sum (not multiplies by a reciprocal); so do we. */
static float avgpool_divisor(const RtWindow *w)
{
    return (float)(w->k_h * w->k_w);
}

/* ---- windows of 2 columns, stride 2, no padding --------------------------- */

/* The most common pooling (maxpool2d(2), avgpool1d(2), ...): disjoint
 * windows of k_h rows by one column pair. With the stride a constant,
 * max pooling's loop over a row's outputs vectorises (pairs deinterleaved,
 * selects on 32-bit lanes; a scalar select chain per window, value and
 * index, was slower still); the average, a plain sum, runs window by
 * window with the pairs unrolled. On the short rows of small images (2 to
 * 4 outputs) the general tap-by-tap loops were all loop overhead. The
 * same scan order as they have, so the same results. */
static bool pool_pairs(const RtWindow *w)
{
    return pool_unpadded(w) && w->k_w == 2 && w->stride_w == 2 && w->dil_w == 1 &&
           w->stride_h == w->k_h && w->dil_h == 1;
}

/* Output row oh of one plane: tap row ki's pair folded into (y, arg) in
 * scan order, the pair's first value starting each window. */
static void maxpool_pairs_row(const RtWindow *w, const float *restrict xp, size_t oh,
                              float *restrict y, uint32_t *restrict arg)
{
    for (size_t ki = 0; ki < w->k_h; ki++) {
        uint32_t at = (uint32_t)((oh * w->k_h + ki) * w->in_w);
        const float *restrict row = xp + at;
        for (size_t ow = 0; ow < w->out_w; ow++) {
            float a = row[2 * ow], b = row[2 * ow + 1];
            bool b_takes = (b > a) | (b != b);
            float v = b_takes ? b : a;
            uint32_t iv = at + 2 * (uint32_t)ow + (uint32_t)b_takes;
            if (ki == 0) { /* starts the windows (gcc unswitches the loop on it) */
                y[ow] = v;
                arg[ow] = iv;
                continue;
            }
            bool takes = (v > y[ow]) | (v != v);
            y[ow] = takes ? v : y[ow];
            arg[ow] = takes ? iv : arg[ow];
        }
    }
}

static void maxpool_pairs(const RtWindow *w, size_t planes, const float *x, float *y,
                          uint32_t *arg, uint32_t *row_scratch)
{
    size_t in = plane_in(w), out = plane_out(w);
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++) {
            size_t o = p * out + oh * w->out_w;
            maxpool_pairs_row(w, x + p * in, oh, y + o, arg ? arg + o : row_scratch);
        }
}

/* Each window's sum in scan order from 0, then the division. */
static void avgpool_pairs(const RtWindow *w, size_t planes, const float *restrict x,
                          float *restrict y)
{
    size_t in = plane_in(w), in_w = w->in_w;
    float div = avgpool_divisor(w);
    for (size_t p = 0, o = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++)
            for (size_t ow = 0; ow < w->out_w; ow++, o++) {
                const float *restrict src = x + p * in + oh * w->k_h * in_w + 2 * ow;
                float sum = 0.0f;
                for (size_t ki = 0; ki < w->k_h; ki++, src += in_w)
                    sum = sum + src[0] + src[1];
                y[o] = sum / div;
            }
}

/* Disjoint windows: each input value gets one output's dy / divisor. */
static void avgpool_pairs_backward(const RtWindow *w, size_t planes, const float *restrict dy,
                                   float *restrict dx)
{
    size_t in = plane_in(w), in_w = w->in_w;
    float div = avgpool_divisor(w);
    for (size_t p = 0, o = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++)
            for (size_t ow = 0; ow < w->out_w; ow++, o++) {
                float *restrict dst = dx + p * in + oh * w->k_h * in_w + 2 * ow, g = dy[o] / div;
                for (size_t ki = 0; ki < w->k_h; ki++, dst += in_w) {
                    dst[0] += g;
                    dst[1] += g;
                }
            }
}

void rt_maxpool_forward(const RtWindow *w, size_t rows, const float *x, float *y, uint32_t *arg)
{
    size_t planes = rows * w->in_c, n = planes * plane_out(w);
    if (pool_unpadded(w) && (arg || w->out_w <= POOL_ROW_SCRATCH)) {
        uint32_t row_scratch[POOL_ROW_SCRATCH];
        if (pool_pairs(w))
            maxpool_pairs(w, planes, x, y, arg, row_scratch);
        else
            maxpool_unpadded(w, planes, x, y, arg, row_scratch);
        return;
    }
    fill(y, n, -INFINITY);
    PoolPass pp = {x, y, arg, 0.0f};
    if (arg)
        for (size_t i = 0; i < n; i++)
            arg[i] = RT_POOL_NO_ARG;
    pool_taps(w, planes, arg ? max_tap_arg : max_tap, &pp);
}

void rt_maxpool_backward(const RtWindow *w, size_t rows, const uint32_t *arg, const float *dy,
                         float *dx, bool dx_add)
{
    size_t planes = rows * w->in_c, in = plane_in(w), out = plane_out(w);
    if (!dx_add)
        memset(dx, 0, planes * in * sizeof(float));
    for (size_t p = 0; p < planes; p++) {
        const uint32_t *ap = arg + p * out;
        const float *dyp = dy + p * out;
        float *dxp = dx + p * in;
        for (size_t o = 0; o < out; o++)
            if (ap[o] != RT_POOL_NO_ARG)
                dxp[ap[o]] += dyp[o];
    }
}

static void sum_tap(const RtWindow *w, size_t planes, const PoolTap *t, void *ctx)
{
    const PoolPass *pp = ctx;
    size_t in = plane_in(w), out = plane_out(w), sw = w->stride_w;
    for (size_t p = 0; p < planes; p++) {
        const float *src = pp->x + p * in + t->in;
        float *dst = pp->y + p * out + t->out;
        for (size_t o = 0; o < t->n; o++)
            dst[o] += src[o * sw];
    }
}

/* Each window's sum in scan order from 0, as the tap-by-tap loop adds. */
static void avgpool_unpadded(const RtWindow *w, size_t planes, const float *x, float *y)
{
    size_t in = plane_in(w), out = plane_out(w);
    float div = avgpool_divisor(w);
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0, o = p * out; oh < w->out_h; oh++)
            for (size_t ow = 0; ow < w->out_w; ow++, o++) {
                const float *xp = x + p * in;
                float sum = 0.0f;
                for (size_t ki = 0; ki < w->k_h; ki++)
                    for (size_t kj = 0; kj < w->k_w; kj++)
                        sum += xp[pool_tap_index(w, oh, ow, ki, kj)];
                y[o] = sum / div;
            }
}

void rt_avgpool_forward(const RtWindow *w, size_t rows, const float *x, float *y)
{
    size_t planes = rows * w->in_c, n = planes * plane_out(w);
    float div = avgpool_divisor(w);
    if (pool_pairs(w)) {
        avgpool_pairs(w, planes, x, y);
        return;
    }
    if (pool_unpadded(w)) {
        avgpool_unpadded(w, planes, x, y);
        return;
    }
    fill(y, n, 0.0f);
    PoolPass pp = {x, y, NULL, div};
    pool_taps(w, planes, sum_tap, &pp);
    for (size_t i = 0; i < n; i++)
        y[i] /= div;
}

/* Each output's dy / divisor goes to every in-bounds value of its window:
 * the forward's traversal with the roles of x and y swapped. */
static void spread_tap(const RtWindow *w, size_t planes, const PoolTap *t, void *ctx)
{
    const PoolPass *pp = ctx;
    size_t in = plane_in(w), out = plane_out(w), sw = w->stride_w;
    for (size_t p = 0; p < planes; p++) {
        const float *src = pp->x + p * out + t->out;
        float *dst = pp->y + p * in + t->in;
        for (size_t o = 0; o < t->n; o++)
            dst[o * sw] += src[o] / pp->div;
    }
}

static void avgpool_unpadded_backward(const RtWindow *w, size_t planes, const float *dy, float *dx)
{
    size_t in = plane_in(w), out = plane_out(w);
    float div = avgpool_divisor(w);
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0, o = p * out; oh < w->out_h; oh++)
            for (size_t ow = 0; ow < w->out_w; ow++, o++) {
                float *dxp = dx + p * in, g = dy[o] / div;
                for (size_t ki = 0; ki < w->k_h; ki++)
                    for (size_t kj = 0; kj < w->k_w; kj++)
                        dxp[pool_tap_index(w, oh, ow, ki, kj)] += g;
            }
}

void rt_avgpool_backward(const RtWindow *w, size_t rows, const float *dy, float *dx, bool dx_add)
{
    size_t planes = rows * w->in_c;
    if (!dx_add)
        memset(dx, 0, planes * plane_in(w) * sizeof(float));
    if (pool_pairs(w)) {
        avgpool_pairs_backward(w, planes, dy, dx);
        return;
    }
    if (pool_unpadded(w)) {
        avgpool_unpadded_backward(w, planes, dy, dx);
        return;
    }
    PoolPass pp = {dy, dx, NULL, avgpool_divisor(w)};
    pool_taps(w, planes, spread_tap, &pp);
}

void rt_global_avgpool_forward(size_t rows, size_t c, size_t spatial, const float *x, float *y)
{
    size_t planes = rows * c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * spatial;
        float sum = 0.0f;
        for (size_t i = 0; i < spatial; i++)
            sum += xp[i];
        y[p] = sum / (float)spatial;
    }
}

void rt_global_avgpool_backward(size_t rows, size_t c, size_t spatial, const float *dy, float *dx, bool dx_add)
{
    size_t planes = rows * c;
    for (size_t p = 0; p < planes; p++) {
        float g = dy[p] / (float)spatial;
        float *dxp = dx + p * spatial;
        for (size_t i = 0; i < spatial; i++)
            dxp[i] = dx_add ? dxp[i] + g : g;
    }
}

/* The first maximum of one plane (NaN wins, as above). */
static size_t global_argmax(const float *x, size_t spatial)
{
    size_t best_i = 0;
    float best = -INFINITY;
    for (size_t i = 0; i < spatial; i++)
        if (pool_takes(x[i], best)) {
            best = x[i];
            best_i = i;
        }
    return best_i;
}

void rt_global_maxpool_forward(size_t rows, size_t c, size_t spatial, const float *x, float *y)
{
    size_t planes = rows * c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * spatial;
        float best = -INFINITY;
        for (size_t i = 0; i < spatial; i++)
            best = pool_takes(xp[i], best) ? xp[i] : best;
        y[p] = best;
    }
}

void rt_global_maxpool_backward(size_t rows, size_t c, size_t spatial, const float *x, const float *dy, float *dx, bool dx_add)
{
    size_t planes = rows * c;
    if (!dx_add)
        memset(dx, 0, planes * spatial * sizeof(float));
    for (size_t p = 0; p < planes; p++)
        dx[p * spatial + global_argmax(x + p * spatial, spatial)] += dy[p];
}
