/* Convolution as im2col + one matrix product per chunk of samples and
 * group. For a chunk of nr samples, col is [in_c][k_h][k_w][nr][out_h *
 * out_w] (rows of ld floats, conv_ld): row (c, i, j) holds, sample after
 * sample, the input value each output position sees through kernel tap
 * (i, j) of channel c (0 in the padding). Group g's rows are the
 * contiguous block of its in_c/groups channels, so
 *   Yt_g[out_c/g][nr*oh*ow] = W_g[out_c/g][K] . col_g[K][nr*oh*ow],  K = (in_c/g)*k_h*k_w
 * needs no copy per group, and Yt ([out_c][nr][oh*ow]) is copied out to
 * the batch-first y. One product for many samples keeps small images'
 * products large enough for BLAS to run at speed; the chunk is bounded
 * (RT_CONV_COL_FLOATS) so col stays in cache and the workspace small. The
 * backward is the two transposed products plus col2im (the adjoint of
 * im2col: each col entry added back to the input value it was read from).
 * Each output's sum over K runs in the same order whatever the chunk, so
 * the exact (portable) forward gives the same values for any batch.
 *
 * im2col reads a padded copy of the chunk (zero borders, made once per
 * chunk; x itself without padding), so every output row of every tap is
 * one run of out_w values with no bounds to test: a short vector copy, not
 * a call (rows of an 8x8 image are a few values, and memcpy's call cost
 * more than the copy). col2im adds the runs back into a padded gradient
 * the same way and then takes its interior. The runs cost the same at any
 * image size; before, short rows went through a gather table (an index
 * test per value) and long rows through clipped runs. */
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

static size_t conv_in_size(const RtWindow *w)
{
    return w->in_c * w->in_h * w->in_w;
}

/* The padded input plane: in_h + 2 pad_h rows of in_w + 2 pad_w. */
static size_t conv_pad_h(const RtWindow *w)
{
    return w->in_h + 2 * w->pad_h;
}

static size_t conv_pad_w(const RtWindow *w)
{
    return w->in_w + 2 * w->pad_w;
}

static bool conv_padded(const RtWindow *w)
{
    return w->pad_h || w->pad_w;
}

/* Samples per product: as many as keep col within RT_CONV_COL_FLOATS, at
 * least one, at most rows. */
static size_t conv_chunk(const RtWindow *w, size_t rows)
{
    size_t per_sample = conv_col_rows(w) * conv_out_hw(w);
    size_t chunk = per_sample ? RT_CONV_COL_FLOATS / per_sample : rows;
    chunk = chunk < rows ? chunk : rows;
    return chunk ? chunk : 1;
}

/* The row stride of col, dcol and Yt for chunks of `chunk` samples: their
 * chunk*ohw values and 16 floats more (a smaller last chunk uses a part of
 * each row). Power-of-two strides (a 32-sample batch of 8x8 planes is 2048
 * floats a row) put every row's start in the same few cache sets, and
 * im2col's writes, row after row, then evict each other; 64 bytes more
 * moves each row to the next set. */
static size_t conv_ld(const RtWindow *w, size_t chunk)
{
    return chunk * conv_out_hw(w) + 16;
}

/* The padded copy of a chunk (input, or in the backward its gradient). */
static size_t conv_pad_floats(const RtWindow *w, size_t chunk)
{
    return conv_padded(w) ? chunk * w->in_c * conv_pad_h(w) * conv_pad_w(w) : 0;
}

/* col, dcol and Yt for one chunk, then the padded copy. */
size_t rt_conv_workspace(const RtWindow *w, size_t rows)
{
    size_t chunk = conv_chunk(w, rows);
    return conv_ld(w, chunk) * (2 * conv_col_rows(w) + w->out_c) + conv_pad_floats(w, chunk);
}

size_t rt_conv_keep_floats(const RtWindow *w, size_t rows)
{
    size_t chunk = conv_chunk(w, rows), n = conv_col_rows(w) * conv_ld(w, chunk);
    /* the kept col is the whole batch's: one chunk per call */
    return chunk == rows && n <= RT_CONV_KEEP_FLOATS ? n : 0;
}

/* ---- runs ---------------------------------------------------------------- */

/* rows runs of n values: d[i * d_step + o] = s[i * s_step + o * stride].
 * Output rows of small images are a few values, and a copy loop over n
 * values cost more in its tests than in the copy; so rows of up to 8
 * values at stride 1 take a version with n a constant, compiled to a move
 * or two per row. Other lengths copy four values at a time and write the
 * tail out: as a plain loop gcc makes a copy a memcpy call, whose cost is
 * the call's on runs of 16 to 64 values. */
static inline void runs_copy_n(float *restrict d, size_t d_step, const float *restrict s,
                               size_t s_step, size_t rows, size_t n, size_t stride)
{
    for (size_t i = 0; i < rows; i++, d += d_step, s += s_step)
        for (size_t o = 0; o < n; o++)
            d[o] = s[o * stride];
}

static void runs_copy_any(float *restrict d, size_t d_step, const float *restrict s,
                          size_t s_step, size_t rows, size_t n, size_t stride)
{
    if (stride != 1) {
        runs_copy_n(d, d_step, s, s_step, rows, n, stride);
        return;
    }
    for (size_t i = 0; i < rows; i++, d += d_step, s += s_step) {
        size_t o = 0;
        for (; o + 4 <= n; o += 4) {
            float a = s[o], b = s[o + 1], c = s[o + 2], e = s[o + 3];
            d[o] = a, d[o + 1] = b, d[o + 2] = c, d[o + 3] = e;
        }
        if (o < n)
            d[o] = s[o];
        if (o + 1 < n)
            d[o + 1] = s[o + 1];
        if (o + 2 < n)
            d[o + 2] = s[o + 2];
    }
}

static inline void runs_add_n(float *restrict d, size_t d_step, const float *restrict s,
                              size_t s_step, size_t rows, size_t n, size_t stride)
{
    for (size_t i = 0; i < rows; i++, d += d_step, s += s_step)
        for (size_t o = 0; o < n; o++)
            d[o * stride] += s[o];
}

/* The dispatch: n and stride 1 constants where that pays. */
#define RUNS_DISPATCH(fn, any, d, d_step, s, s_step, rows, n, stride)   \
    do {                                                                \
        switch ((stride) == 1 ? (n) : 0) {                              \
        case 1: fn(d, d_step, s, s_step, rows, 1, 1); break;            \
        case 2: fn(d, d_step, s, s_step, rows, 2, 1); break;            \
        case 3: fn(d, d_step, s, s_step, rows, 3, 1); break;            \
        case 4: fn(d, d_step, s, s_step, rows, 4, 1); break;            \
        case 5: fn(d, d_step, s, s_step, rows, 5, 1); break;            \
        case 6: fn(d, d_step, s, s_step, rows, 6, 1); break;            \
        case 7: fn(d, d_step, s, s_step, rows, 7, 1); break;            \
        case 8: fn(d, d_step, s, s_step, rows, 8, 1); break;            \
        default: any(d, d_step, s, s_step, rows, n, stride); break;     \
        }                                                               \
    } while (0)

static void runs_copy(float *restrict d, size_t d_step, const float *restrict s, size_t s_step,
                      size_t rows, size_t n, size_t stride)
{
    RUNS_DISPATCH(runs_copy_n, runs_copy_any, d, d_step, s, s_step, rows, n, stride);
}

static void runs_add(float *restrict d, size_t d_step, const float *restrict s, size_t s_step,
                     size_t rows, size_t n, size_t stride)
{
    RUNS_DISPATCH(runs_add_n, runs_add_n, d, d_step, s, s_step, rows, n, stride);
}

/* ---- padding -------------------------------------------------------------- */

/* nr samples of x with zero borders ([nr][in_c][pad_h][pad_w]) in buf;
 * without padding x itself. */
static const float *conv_pad_input(const RtWindow *w, size_t nr, const float *x, float *buf)
{
    if (!conv_padded(w))
        return x;
    size_t planes = nr * w->in_c, pw = conv_pad_w(w), plane = conv_pad_h(w) * pw;
    memset(buf, 0, planes * plane * sizeof *buf);
    for (size_t p = 0; p < planes; p++)
        runs_copy(buf + p * plane + w->pad_h * pw + w->pad_w, pw, x + p * w->in_h * w->in_w,
                  w->in_w, w->in_h, w->in_w, 1);
    return buf;
}

/* dx (+)= the interior of the padded gradient buf. */
static void conv_unpad_grad(const RtWindow *w, size_t nr, const float *buf, float *dx, bool dx_add)
{
    size_t planes = nr * w->in_c, pw = conv_pad_w(w), plane = conv_pad_h(w) * pw;
    for (size_t p = 0; p < planes; p++) {
        const float *s = buf + p * plane + w->pad_h * pw + w->pad_w;
        float *d = dx + p * w->in_h * w->in_w;
        if (dx_add)
            runs_add(d, w->in_w, s, pw, w->in_h, w->in_w, 1);
        else
            runs_copy(d, w->in_w, s, pw, w->in_h, w->in_w, 1);
    }
}

/* ---- im2col and col2im ----------------------------------------------------- */

/* Row kk = (c, ki, kj) of col, and sample r of the chunk. */
typedef struct ConvTap {
    size_t kk, r, c, ki, kj;
} ConvTap;

/* The first value tap t reads in the padded input, output (0, 0). */
static size_t conv_tap_start(const RtWindow *w, const ConvTap *t)
{
    size_t pw = conv_pad_w(w);
    return (t->r * w->in_c + t->c) * conv_pad_h(w) * pw + t->ki * w->dil_h * pw + t->kj * w->dil_w;
}

/* col of nr samples from the padded input xp: tap by tap, sample by
 * sample, one run per output row. */
static void im2col_padded(const RtWindow *w, size_t nr, const float *restrict xp,
                          float *restrict col, size_t ld)
{
    size_t ohw = conv_out_hw(w), row_step = w->stride_h * conv_pad_w(w);
    ConvTap t = {0};
    for (t.c = 0; t.c < w->in_c; t.c++)
        for (t.ki = 0; t.ki < w->k_h; t.ki++)
            for (t.kj = 0; t.kj < w->k_w; t.kj++, t.kk++)
                for (t.r = 0; t.r < nr; t.r++) {
                    runs_copy(col + t.kk * ld + t.r * ohw, w->out_w, xp + conv_tap_start(w, &t),
                              row_step, w->out_h, w->out_w, w->stride_w);
                }
}

/* The adjoint: every dcol run added back into the padded gradient gp
 * (zero at first). Tap by tap over all samples, so that the runs of
 * neighbouring taps, which overlap shifted by one value, are a whole
 * chunk's runs apart: a vector add reading what the one before has just
 * stored, shifted, waits for that store. */
static void col2im_padded(const RtWindow *w, size_t nr, const float *restrict dcol, size_t ld,
                          float *restrict gp)
{
    size_t ohw = conv_out_hw(w), row_step = w->stride_h * conv_pad_w(w);
    ConvTap t = {0};
    for (t.c = 0; t.c < w->in_c; t.c++)
        for (t.ki = 0; t.ki < w->k_h; t.ki++)
            for (t.kj = 0; t.kj < w->k_w; t.kj++, t.kk++)
                for (t.r = 0; t.r < nr; t.r++) {
                    runs_add(gp + conv_tap_start(w, &t), row_step, dcol + t.kk * ld + t.r * ohw,
                             w->out_w, w->out_h, w->out_w, w->stride_w);
                }
}

/* ---- the chunked products ------------------------------------------------- */

/* One call's view of the workspace (rt_conv_workspace's order). */
typedef struct ConvWork {
    size_t chunk, ld;
    float *col, *dcol, *yt, *pad;
} ConvWork;

static ConvWork conv_work(const RtWindow *w, size_t rows, float *work)
{
    ConvWork cw = {0};
    cw.chunk = conv_chunk(w, rows);
    cw.ld = conv_ld(w, cw.chunk);
    cw.col = work;
    cw.dcol = work + cw.ld * conv_col_rows(w);
    cw.yt = cw.dcol + cw.ld * conv_col_rows(w);
    cw.pad = cw.yt + cw.ld * w->out_c;
    return cw;
}

/* col of nr samples from x (batch first). */
static void conv_im2col(const RtWindow *w, const ConvWork *cw, size_t nr, const float *x, float *col)
{
    im2col_padded(w, nr, conv_pad_input(w, nr, x, cw->pad), col, cw->ld);
}

/* Yt [out_c][nr][ohw] starts as the bias, and the product is added onto
 * it (beta = 1), as the dense op does: one summation order for both. */
static void conv_put_bias(const RtWindow *w, const ConvWork *cw, const float *bias, size_t nr)
{
    size_t n = nr * conv_out_hw(w);
    for (size_t oc = 0; oc < w->out_c; oc++) {
        float b = bias[oc];
        float *row = cw->yt + oc * cw->ld;
        for (size_t p = 0; p < n; p++)
            row[p] = b;
    }
}

/* Between the product's layout [out_c][nr][ohw] and the batch's
 * [nr][out_c][ohw]: plane copies, sample by sample so that the batch side
 * runs in order (channel by channel its planes are a power-of-two stride
 * apart, 4 KB for 16 planes of 8x8, all in one cache set). A relu folded
 * into the conv is applied on the way out (rt_act_relu's z > 0 ? z : 0). */
static void conv_planes_to_batch(const RtWindow *w, const ConvWork *cw, size_t nr, float *y,
                                 bool relu)
{
    size_t ohw = conv_out_hw(w);
    for (size_t r = 0; r < nr; r++) {
        float *yr = y + r * w->out_c * ohw;
        const float *yt = cw->yt + r * ohw;
        if (!relu) {
            runs_copy(yr, ohw, yt, cw->ld, w->out_c, ohw, 1);
            continue;
        }
        for (size_t oc = 0; oc < w->out_c; oc++)
            for (size_t q = 0; q < ohw; q++) {
                float z = yt[oc * cw->ld + q];
                yr[oc * ohw + q] = z > 0.0f ? z : 0.0f;
            }
    }
}

/* dy into the product's layout; with a relu folded in, 0 where it was
 * (relu_y <= 0), as its backward has it. */
static void conv_batch_to_planes(const RtWindow *w, const ConvWork *cw, size_t nr, const float *dy,
                                 const float *relu_y)
{
    size_t ohw = conv_out_hw(w);
    for (size_t r = 0; r < nr; r++) {
        const float *dr = dy + r * w->out_c * ohw;
        float *yt = cw->yt + r * ohw;
        if (!relu_y) {
            runs_copy(yt, cw->ld, dr, ohw, w->out_c, ohw, 1);
            continue;
        }
        const float *yr = relu_y + r * w->out_c * ohw;
        for (size_t oc = 0; oc < w->out_c; oc++)
            for (size_t q = 0; q < ohw; q++) {
                float g = dr[oc * ohw + q]; /* loaded on both paths: the loop if-converts */
                yt[oc * cw->ld + q] = yr[oc * ohw + q] > 0.0f ? g : 0.0f;
            }
    }
}

void rt_conv_forward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                     const float *bias, float *y, float *work, float *keep, bool exact, bool relu)
{
    GemmFn *gemm = exact ? rt_gemm_portable : rt_gemm;
    size_t ohw = conv_out_hw(w), cout_g = w->out_c / w->groups;
    size_t k = conv_col_rows(w) / w->groups;
    ConvWork cw = conv_work(w, rows, work);
    float *col = keep ? keep : cw.col;
    for (size_t r0 = 0; r0 < rows; r0 += cw.chunk) {
        size_t nr = rows - r0 < cw.chunk ? rows - r0 : cw.chunk, n = nr * ohw, ld = cw.ld;
        conv_im2col(w, &cw, nr, x + r0 * conv_in_size(w), col);
        if (bias)
            conv_put_bias(w, &cw, bias, nr);
        for (size_t g = 0; g < w->groups; g++)
            gemm(false, false, cout_g, n, k, 1.0f, weight + g * cout_g * k, k,
                 col + g * k * ld, ld, bias ? 1.0f : 0.0f, cw.yt + g * cout_g * ld, ld);
        conv_planes_to_batch(w, &cw, nr, y + r0 * w->out_c * ohw, relu);
    }
}

/* Samples whose positions one term of the parameter gradients sums
 * before adding it in: about RT_CONV_SUM_TERMS positions (at least one
 * sample). The gradients are sums over the whole batch's positions, and one
 * long float sum loses accuracy with its length (the portable product sums
 * a row in order): short partial sums added up keep them as accurate as
 * PyTorch's, which matters where Adam normalises a small gradient. */
static size_t conv_sum_samples(const RtWindow *w)
{
    size_t s = RT_CONV_SUM_TERMS / conv_out_hw(w);
    return s ? s : 1;
}

/* The sum of d[0..n) in eight interleaved partial sums (d[l], d[l + 8],
 * ...) added pairwise, then the tail: one float chain waited on each add
 * (the bias gradient of a conv over an 8x8 image was 3% of a digits_cnn
 * epoch), eight chains vectorise. The lanes are written out, so the order
 * is the same at every vector width. */
static float conv_sum(const float *restrict d, size_t n)
{
    float lane[8] = {0};
    size_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (size_t l = 0; l < 8; l++)
            lane[l] += d[p + l];
    float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; p < n; p++)
        sum += d[p];
    return sum;
}

/* db[oc] += the sum of dYt's row oc (every sample and position), in
 * partial sums of conv_sum_samples samples. */
static void conv_bias_grad(const RtWindow *w, const ConvWork *cw, size_t nr, float *db)
{
    size_t ohw = conv_out_hw(w), n = nr * ohw, part = conv_sum_samples(w) * ohw;
    for (size_t oc = 0; oc < w->out_c; oc++) {
        const float *d = cw->yt + oc * cw->ld;
        for (size_t p0 = 0; p0 < n; p0 += part)
            db[oc] += conv_sum(d + p0, n - p0 < part ? n - p0 : part);
    }
}

/* dW_g += dYt_g col_g^T, a sum over the chunk's samples and positions, in
 * products of conv_sum_samples samples each. */
static void conv_weight_grad(const RtWindow *w, const ConvWork *cw, size_t nr, const float *col,
                             float *dw)
{
    size_t ohw = conv_out_hw(w), ld = cw->ld, cout_g = w->out_c / w->groups;
    size_t k = conv_col_rows(w) / w->groups, step = conv_sum_samples(w);
    for (size_t r = 0; r < nr; r += step) {
        size_t len = (nr - r < step ? nr - r : step) * ohw;
        for (size_t g = 0; g < w->groups; g++)
            rt_gemm(false, true, cout_g, k, len, 1.0f, cw->yt + g * cout_g * ld + r * ohw, ld,
                    col + g * k * ld + r * ohw, ld, 1.0f, dw + g * cout_g * k, k);
    }
}

/* dx of nr samples: dcol_g = W_g^T dYt_g, then col2im per sample. */
static void conv_input_grad(const RtWindow *w, const ConvWork *cw, size_t nr, const float *weight,
                            float *dx, bool dx_add)
{
    size_t ohw = conv_out_hw(w), ld = cw->ld, cout_g = w->out_c / w->groups;
    size_t k = conv_col_rows(w) / w->groups, in_size = conv_in_size(w);
    for (size_t g = 0; g < w->groups; g++)
        rt_gemm(true, false, k, nr * ohw, cout_g, 1.0f, weight + g * cout_g * k, k,
                cw->yt + g * cout_g * ld, ld, 0.0f, cw->dcol + g * k * ld, ld);
    if (conv_padded(w)) {
        memset(cw->pad, 0, conv_pad_floats(w, nr) * sizeof(float));
        col2im_padded(w, nr, cw->dcol, ld, cw->pad);
        conv_unpad_grad(w, nr, cw->pad, dx, dx_add);
        return;
    }
    if (!dx_add)
        memset(dx, 0, nr * in_size * sizeof(float));
    col2im_padded(w, nr, cw->dcol, ld, dx);
}

void rt_conv_backward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                      const float *dy, const float *relu_y, float *dw, float *db, float *dx,
                      bool dx_add, float *work, const float *keep)
{
    size_t ohw = conv_out_hw(w), in_size = conv_in_size(w);
    ConvWork cw = conv_work(w, rows, work);
    for (size_t r0 = 0; r0 < rows; r0 += cw.chunk) {
        size_t nr = rows - r0 < cw.chunk ? rows - r0 : cw.chunk;
        size_t at = r0 * w->out_c * ohw;
        conv_batch_to_planes(w, &cw, nr, dy + at, relu_y ? relu_y + at : NULL);
        if (db)
            conv_bias_grad(w, &cw, nr, db);
        if (dw) {
            if (!keep)
                conv_im2col(w, &cw, nr, x + r0 * in_size, cw.col);
            conv_weight_grad(w, &cw, nr, keep ? keep : cw.col, dw);
        }
        if (dx)
            conv_input_grad(w, &cw, nr, weight, dx + r0 * in_size, dx_add);
    }
}
