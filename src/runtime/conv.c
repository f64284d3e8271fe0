/* Convolution as im2col + one matrix product per sample and group, the
 * layout PyTorch's CPU path (slow_conv2d) also uses. For one sample, col
 * is [in_c][k_h][k_w][out_h * out_w]: row (c, i, j) holds the input value
 * each output position sees through kernel tap (i, j) of channel c (0 in
 * the padding). Group g's rows are then the contiguous block of its
 * in_c/groups channels, so
 *   Y_g[out_c/g][oh*ow] = W_g[out_c/g][K] . col_g[K][oh*ow],  K = (in_c/g)*k_h*k_w
 * needs no copy per group, and the backward is the two transposed
 * products plus col2im (the adjoint of im2col: each col entry added back
 * to the input value it was read from). */
#include <string.h>

#include "conv.h"
#include "gemm.h"

typedef void GemmFn(bool, bool, size_t, size_t, size_t, float, const float *,
                    size_t, const float *, size_t, float, float *, size_t);

static size_t conv_out_hw(const RtWindow *w)
{
    return w->out_h * w->out_w;
}

/* Rows of col: every (channel, tap) of the whole sample. */
static size_t conv_col_rows(const RtWindow *w)
{
    return w->in_c * w->k_h * w->k_w;
}

/* A 1x1 kernel with stride 1 and no padding reads x[c][p] at output p:
 * x is already its own col, and dx is dcol. */
static bool conv_is_pointwise(const RtWindow *w)
{
    return w->k_h == 1 && w->k_w == 1 && w->stride_h == 1 && w->stride_w == 1 &&
           w->pad_h == 0 && w->pad_w == 0;
}

size_t rt_conv_workspace(const RtWindow *w)
{
    if (conv_is_pointwise(w))
        return 0;
    return 2 * conv_col_rows(w) * conv_out_hw(w);
}

/* One output row of one col row: zeros where tap (kj) reads padding, the
 * strided input row in between (a memcpy at stride 1). */
static void im2col_row(const float *restrict xrow, float *restrict dst, size_t lo,
                       size_t hi, size_t first, size_t stride, size_t out_w)
{
    for (size_t o = 0; o < lo; o++)
        dst[o] = 0.0f;
    const float *src = xrow + first;
    if (stride == 1) {
        memcpy(dst + lo, src, (hi - lo) * sizeof(float));
    } else {
        for (size_t o = lo; o < hi; o++)
            dst[o] = src[(o - lo) * stride];
    }
    for (size_t o = hi; o < out_w; o++)
        dst[o] = 0.0f;
}

/* col [in_c*k_h*k_w][out_h*out_w] of one sample x [in_c][in_h][in_w]. The
 * valid output ranges are computed once per tap, so the inner loops carry
 * no bounds test. */
static void im2col(const RtWindow *w, const float *restrict x, float *restrict col)
{
    size_t ohw = conv_out_hw(w), in_hw = w->in_h * w->in_w;
    float *dst = col;
    for (size_t c = 0; c < w->in_c; c++) {
        const float *xc = x + c * in_hw;
        for (size_t ki = 0; ki < w->k_h; ki++) {
            size_t th = ki * w->dil_h, hlo, hhi;
            rt_window_span(th, w->pad_h, w->stride_h, w->in_h, w->out_h, &hlo, &hhi);
            for (size_t kj = 0; kj < w->k_w; kj++, dst += ohw) {
                size_t tw = kj * w->dil_w, wlo, whi;
                rt_window_span(tw, w->pad_w, w->stride_w, w->in_w, w->out_w, &wlo, &whi);
                memset(dst, 0, hlo * w->out_w * sizeof(float));
                memset(dst + hhi * w->out_w, 0, (w->out_h - hhi) * w->out_w * sizeof(float));
                /* the input column of output wlo; no pointer is formed when none is valid */
                size_t first = wlo < whi ? wlo * w->stride_w + tw - w->pad_w : 0;
                for (size_t oh = hlo; oh < hhi; oh++) {
                    const float *xrow = xc + (oh * w->stride_h + th - w->pad_h) * w->in_w;
                    im2col_row(xrow, dst + oh * w->out_w, wlo, whi, first, w->stride_w, w->out_w);
                }
            }
        }
    }
}

/* The adjoint of im2col: dx[c][ih][iw] += dcol at every position that read
 * it (padding reads go nowhere). Same traversal, so the same ranges. */
static void col2im(const RtWindow *w, const float *restrict dcol, float *restrict dx)
{
    size_t ohw = conv_out_hw(w), in_hw = w->in_h * w->in_w, sw = w->stride_w;
    const float *src = dcol;
    for (size_t c = 0; c < w->in_c; c++) {
        float *dxc = dx + c * in_hw;
        for (size_t ki = 0; ki < w->k_h; ki++) {
            size_t th = ki * w->dil_h, hlo, hhi;
            rt_window_span(th, w->pad_h, w->stride_h, w->in_h, w->out_h, &hlo, &hhi);
            for (size_t kj = 0; kj < w->k_w; kj++, src += ohw) {
                size_t tw = kj * w->dil_w, wlo, whi;
                rt_window_span(tw, w->pad_w, sw, w->in_w, w->out_w, &wlo, &whi);
                if (wlo == whi)
                    continue;
                size_t first = wlo * sw + tw - w->pad_w;
                for (size_t oh = hlo; oh < hhi; oh++) {
                    float *dxrow = dxc + (oh * w->stride_h + th - w->pad_h) * w->in_w + first;
                    const float *s = src + oh * w->out_w + wlo;
                    size_t n = whi - wlo;
                    for (size_t o = 0; o < n; o++)
                        dxrow[o * sw] += s[o];
                }
            }
        }
    }
}

/* The bias is written first and the product added onto it (beta = 1), as
 * the dense op does: one pass over y, and one summation order for both. */
static void conv_put_bias(const RtWindow *w, const float *bias, float *y)
{
    size_t ohw = conv_out_hw(w);
    for (size_t oc = 0; oc < w->out_c; oc++) {
        float b = bias[oc];
        float *yc = y + oc * ohw;
        for (size_t p = 0; p < ohw; p++)
            yc[p] = b;
    }
}

void rt_conv_forward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                     const float *bias, float *y, float *work, bool exact)
{
    GemmFn *gemm = exact ? rt_gemm_portable : rt_gemm;
    size_t ohw = conv_out_hw(w), in_size = w->in_c * w->in_h * w->in_w;
    size_t cout_g = w->out_c / w->groups, k = conv_col_rows(w) / w->groups;
    bool pointwise = conv_is_pointwise(w);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * in_size;
        float *yr = y + r * w->out_c * ohw;
        const float *col = xr;
        if (!pointwise) {
            im2col(w, xr, work);
            col = work;
        }
        if (bias)
            conv_put_bias(w, bias, yr);
        for (size_t g = 0; g < w->groups; g++)
            gemm(false, false, cout_g, ohw, k, 1.0f, weight + g * cout_g * k, k,
                 col + g * k * ohw, ohw, bias ? 1.0f : 0.0f, yr + g * cout_g * ohw, ohw);
    }
}

/* db[oc] += the sum of one sample's dy over the output plane. */
static void conv_bias_grad(const RtWindow *w, const float *dy, float *db)
{
    size_t ohw = conv_out_hw(w);
    for (size_t oc = 0; oc < w->out_c; oc++) {
        const float *d = dy + oc * ohw;
        float sum = 0.0f;
        for (size_t p = 0; p < ohw; p++)
            sum += d[p];
        db[oc] += sum;
    }
}

/* dx of one sample: dcol_g = W_g^T dY_g, then col2im. Pointwise, dcol is
 * dx itself, so the product writes or adds it directly. */
static void conv_input_grad(const RtWindow *w, const float *weight, const float *dy,
                            float *dx, bool dx_add, float *dcol)
{
    size_t ohw = conv_out_hw(w), cout_g = w->out_c / w->groups;
    size_t k = conv_col_rows(w) / w->groups;
    bool pointwise = conv_is_pointwise(w);
    float *dst = pointwise ? dx : dcol;
    float beta = pointwise && dx_add ? 1.0f : 0.0f;
    for (size_t g = 0; g < w->groups; g++)
        rt_gemm(true, false, k, ohw, cout_g, 1.0f, weight + g * cout_g * k, k,
                dy + g * cout_g * ohw, ohw, beta, dst + g * k * ohw, ohw);
    if (pointwise)
        return;
    if (!dx_add)
        memset(dx, 0, w->in_c * w->in_h * w->in_w * sizeof(float));
    col2im(w, dcol, dx);
}

void rt_conv_backward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                      const float *dy, float *dw, float *db, float *dx, bool dx_add, float *work)
{
    size_t ohw = conv_out_hw(w), in_size = w->in_c * w->in_h * w->in_w;
    size_t cout_g = w->out_c / w->groups, k = conv_col_rows(w) / w->groups;
    bool pointwise = conv_is_pointwise(w);
    float *dcol = pointwise ? NULL : work + conv_col_rows(w) * ohw;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * in_size, *dyr = dy + r * w->out_c * ohw;
        if (db)
            conv_bias_grad(w, dyr, db);
        if (dw) {
            /* dW_g += dY_g col_g^T: a sum over output positions, per sample. */
            const float *col = xr;
            if (!pointwise) {
                im2col(w, xr, work);
                col = work;
            }
            for (size_t g = 0; g < w->groups; g++)
                rt_gemm(false, true, cout_g, k, ohw, 1.0f, dyr + g * cout_g * ohw, ohw,
                        col + g * k * ohw, ohw, 1.0f, dw + g * cout_g * k, k);
        }
        if (dx)
            conv_input_grad(w, weight, dyr, dx + r * in_size, dx_add, dcol);
    }
}
