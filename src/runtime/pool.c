/* Pooling kernels. The forward loops run over one output row at a time:
 * for each kernel tap, the outputs whose input is in bounds form one range
 * (rt_window_span), and the inner loop updates that range with no bounds
 * test, so it vectorises at stride 1. Each output still sees its taps in
 * PyTorch's scan order (kernel row, then column), so sums and the choice of
 * the maximum are the ones of its CPU kernels. Padding is never read: it
 * is -inf for max (never the maximum) and 0 for the average (only the
 * divisor counts it). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pool.h"

/* PyTorch's comparison: a larger value or a NaN takes over, so NaN
 * propagates and among equal values the first one scanned stays. */
static inline bool pool_takes(float v, float best)
{
    return v > best || isnan(v);
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

/* Output row oh of one plane: max (is_max) or sum of its windows. */
static void pool_row_forward(const RtWindow *w, const float *restrict x, float *restrict yrow,
                             size_t oh, bool is_max)
{
    size_t sw = w->stride_w;
    for (size_t o = 0; o < w->out_w; o++)
        yrow[o] = is_max ? -INFINITY : 0.0f;
    for (size_t ki = 0; ki < w->k_h; ki++) {
        size_t ih;
        if (!pool_row(w, oh, ki, &ih))
            continue;
        const float *xrow = x + ih * w->in_w;
        for (size_t kj = 0; kj < w->k_w; kj++) {
            size_t tw = kj * w->dil_w, lo, hi;
            rt_window_span(tw, w->pad_w, sw, w->in_w, w->out_w, &lo, &hi);
            if (lo == hi)
                continue;
            const float *src = xrow + lo * sw + tw - w->pad_w;
            float *dst = yrow + lo;
            size_t n = hi - lo;
            if (is_max) {
                for (size_t o = 0; o < n; o++) {
                    float v = src[o * sw], m = dst[o];
                    dst[o] = pool_takes(v, m) ? v : m;
                }
            } else {
                for (size_t o = 0; o < n; o++)
                    dst[o] += src[o * sw];
            }
        }
    }
}

void rt_maxpool_forward(const RtWindow *w, size_t rows, const float *x, float *y)
{
    size_t planes = rows * w->in_c, in = plane_in(w), out = plane_out(w);
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++)
            pool_row_forward(w, x + p * in, y + p * out + oh * w->out_w, oh, true);
}

/* The index in the plane of window (oh, ow)'s maximum, scanned as the
 * forward does, or SIZE_MAX for a window entirely in the padding. A window
 * of -infs picks its first in-bounds value, as PyTorch's does. */
static size_t maxpool_argmax(const RtWindow *w, const float *x, size_t oh, size_t ow)
{
    size_t best_i = SIZE_MAX;
    float best = -INFINITY;
    for (size_t ki = 0; ki < w->k_h; ki++) {
        size_t ih;
        if (!pool_row(w, oh, ki, &ih))
            continue;
        for (size_t kj = 0; kj < w->k_w; kj++) {
            size_t iw = ow * w->stride_w + kj * w->dil_w;
            if (iw < w->pad_w || iw >= w->in_w + w->pad_w)
                continue;
            size_t i = ih * w->in_w + iw - w->pad_w;
            if (best_i == SIZE_MAX)
                best_i = i;
            if (pool_takes(x[i], best)) {
                best = x[i];
                best_i = i;
            }
        }
    }
    return best_i;
}

void rt_maxpool_backward(const RtWindow *w, size_t rows, const float *x, const float *dy, float *dx, bool dx_add)
{
    size_t planes = rows * w->in_c, in = plane_in(w), out = plane_out(w);
    if (!dx_add)
        memset(dx, 0, planes * in * sizeof(float));
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * in, *dyp = dy + p * out;
        float *dxp = dx + p * in;
        for (size_t oh = 0; oh < w->out_h; oh++)
            for (size_t ow = 0; ow < w->out_w; ow++) {
                size_t i = maxpool_argmax(w, xp, oh, ow);
                if (i != SIZE_MAX)
                    dxp[i] += dyp[oh * w->out_w + ow];
            }
    }
}

/* count_include_pad with ceil_mode false: every window lies within the
 * padded input, so PyTorch's divisor is the whole kernel. It divides the
 * sum (not multiplies by a reciprocal); so do we. */
static float avgpool_divisor(const RtWindow *w)
{
    return (float)(w->k_h * w->k_w);
}

void rt_avgpool_forward(const RtWindow *w, size_t rows, const float *x, float *y)
{
    size_t planes = rows * w->in_c, in = plane_in(w), out = plane_out(w);
    float div = avgpool_divisor(w);
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++) {
            float *yrow = y + p * out + oh * w->out_w;
            pool_row_forward(w, x + p * in, yrow, oh, false);
            for (size_t o = 0; o < w->out_w; o++)
                yrow[o] /= div;
        }
}

/* Each output's dy / divisor goes to every in-bounds value of its window:
 * the forward's traversal with the roles of x and y swapped. */
static void avgpool_row_backward(const RtWindow *w, const float *restrict dyrow,
                                 float *restrict dx, size_t oh, float div)
{
    size_t sw = w->stride_w;
    for (size_t ki = 0; ki < w->k_h; ki++) {
        size_t ih;
        if (!pool_row(w, oh, ki, &ih))
            continue;
        float *dxrow = dx + ih * w->in_w;
        for (size_t kj = 0; kj < w->k_w; kj++) {
            size_t tw = kj * w->dil_w, lo, hi;
            rt_window_span(tw, w->pad_w, sw, w->in_w, w->out_w, &lo, &hi);
            if (lo == hi)
                continue;
            float *dst = dxrow + lo * sw + tw - w->pad_w;
            const float *src = dyrow + lo;
            size_t n = hi - lo;
            for (size_t o = 0; o < n; o++)
                dst[o * sw] += src[o] / div;
        }
    }
}

void rt_avgpool_backward(const RtWindow *w, size_t rows, const float *dy, float *dx, bool dx_add)
{
    size_t planes = rows * w->in_c, in = plane_in(w), out = plane_out(w);
    float div = avgpool_divisor(w);
    if (!dx_add)
        memset(dx, 0, planes * in * sizeof(float));
    for (size_t p = 0; p < planes; p++)
        for (size_t oh = 0; oh < w->out_h; oh++)
            avgpool_row_backward(w, dy + p * out + oh * w->out_w, dx + p * in, oh, div);
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
