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
 * im2col and col2im move each output row's run of values with one copy or
 * one vector loop; where rows are short (8x8 images and smaller: runs of
 * a few values) they go through a per-sample gather table instead, built
 * once per call, with no window arithmetic per value; col2im through its
 * inverse, each dx value summed from the entries that read it. */
#include <stdint.h>
#include <string.h>

#include "conv.h"
#include "gemm.h"

typedef void GemmFn(bool, bool, size_t, size_t, size_t, float, const float *,
                    size_t, const float *, size_t, float, float *, size_t);

/* Output rows narrower than this take the gather table. */
#define CONV_SHORT_ROW 16

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

static bool conv_short_rows(const RtWindow *w)
{
    return w->out_w < CONV_SHORT_ROW;
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

/* Floats of the gather table and of its inverse, the gather list (one
 * int32 each). */
static size_t conv_gather_ints(const RtWindow *w);

static size_t conv_table_floats(const RtWindow *w)
{
    return conv_short_rows(w) ? conv_col_rows(w) * conv_out_hw(w) + conv_gather_ints(w) : 0;
}

/* col, dcol and Yt for one chunk, then the gather table and list. */
size_t rt_conv_workspace(const RtWindow *w, size_t rows)
{
    size_t ld = conv_ld(w, conv_chunk(w, rows));
    return ld * (2 * conv_col_rows(w) + w->out_c) + conv_table_floats(w);
}

size_t rt_conv_keep_floats(const RtWindow *w, size_t rows)
{
    size_t chunk = conv_chunk(w, rows), n = conv_col_rows(w) * conv_ld(w, chunk);
    /* the kept col is the whole batch's: one chunk per call */
    return chunk == rows && n <= RT_CONV_KEEP_FLOATS ? n : 0;
}

/* ---- long rows: a run per output row ------------------------------------- */

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

/* One sample x [in_c][in_h][in_w] into col's rows (ld floats apart) at its
 * out_h*out_w columns from col. The valid output ranges are computed once
 * per tap, so the inner loops carry no bounds test. */
static void im2col_runs(const RtWindow *w, const float *restrict x, float *restrict col, size_t ld)
{
    size_t in_hw = w->in_h * w->in_w;
    float *dst = col;
    for (size_t c = 0; c < w->in_c; c++) {
        const float *xc = x + c * in_hw;
        for (size_t ki = 0; ki < w->k_h; ki++) {
            size_t th = ki * w->dil_h, hlo, hhi;
            rt_window_span(th, w->pad_h, w->stride_h, w->in_h, w->out_h, &hlo, &hhi);
            for (size_t kj = 0; kj < w->k_w; kj++, dst += ld) {
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

/* The adjoint of im2col_runs: dx[c][ih][iw] += dcol at every position that
 * read it (padding reads go nowhere). Same traversal, so the same ranges. */
static void col2im_runs(const RtWindow *w, const float *restrict dcol, size_t ld, float *restrict dx)
{
    size_t in_hw = w->in_h * w->in_w, sw = w->stride_w;
    const float *src = dcol;
    for (size_t c = 0; c < w->in_c; c++) {
        float *dxc = dx + c * in_hw;
        for (size_t ki = 0; ki < w->k_h; ki++) {
            size_t th = ki * w->dil_h, hlo, hhi;
            rt_window_span(th, w->pad_h, w->stride_h, w->in_h, w->out_h, &hlo, &hhi);
            for (size_t kj = 0; kj < w->k_w; kj++, src += ld) {
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

/* ---- short rows: a gather table ------------------------------------------ */

/* The gather table of one sample: for col row kk = (c, i, j) and output
 * position q, the index in the sample's x of the value that tap reads, or
 * -1 where it reads padding. Indices fit 32 bits: a sample holds at most
 * LOWER_MAX_UNITS values. */
static void conv_gather_table(const RtWindow *w, int32_t *restrict tab)
{
    size_t in_hw = w->in_h * w->in_w;
    for (size_t c = 0; c < w->in_c; c++)
        for (size_t ki = 0; ki < w->k_h; ki++)
            for (size_t kj = 0; kj < w->k_w; kj++)
                for (size_t oh = 0; oh < w->out_h; oh++) {
                    /* coordinates in the padded input */
                    size_t ph = oh * w->stride_h + ki * w->dil_h;
                    bool row_in = ph >= w->pad_h && ph - w->pad_h < w->in_h;
                    for (size_t ow = 0; ow < w->out_w; ow++, tab++) {
                        size_t pw = ow * w->stride_w + kj * w->dil_w;
                        bool in = row_in && pw >= w->pad_w && pw - w->pad_w < w->in_w;
                        *tab = in ? (int32_t)(c * in_hw + (ph - w->pad_h) * w->in_w + pw - w->pad_w)
                                  : -1;
                    }
                }
}

/* col of nr samples through the table, entry by entry and, for each, all
 * samples: the entry's index (or padding) is read once for the chunk and
 * its test is taken once per nr values. Sample by sample the test came at
 * every value, and where the padding falls changes from tap to tap in a
 * pattern too long to predict (masking it instead cost two more operations
 * a value). */
static void im2col_table(const RtWindow *w, const int32_t *restrict tab, size_t nr,
                         const float *restrict x, float *restrict col, size_t ld)
{
    size_t ohw = conv_out_hw(w), rows = conv_col_rows(w), in_size = conv_in_size(w);
    for (size_t kk = 0; kk < rows; kk++)
        for (size_t q = 0; q < ohw; q++) {
            int32_t t = tab[kk * ohw + q];
            float *restrict dst = col + kk * ld + q;
            if (t < 0) {
                for (size_t r = 0; r < nr; r++)
                    dst[r * ohw] = 0.0f;
                continue;
            }
            const float *restrict src = x + t;
            for (size_t r = 0; r < nr; r++)
                dst[r * ohw] = src[r * in_size];
        }
}

/* The gather list, the table's inverse: for each x index, the col
 * offsets (rows of ld floats) of the entries that read it, padding left
 * out, in order of position q. col2im then sums each dx value's entries in
 * a register and stores it once: adding every entry into dx in table order
 * (a scatter) made each add wait for the store of the one before into the
 * same value. The order by position is the order those adds had, so the
 * sums are the same. The x indices are listed by their entry count (a
 * corner of the image has fewer than its middle), so that the inner loop's
 * trip count changes a few times per sample, not at every value: varying
 * counts mispredicted its exit on most values. order[j] is the j-th index,
 * from[j] .. from[j + 1] its entries; count is scratch. */
typedef struct ConvGather {
    int32_t *order, *from, *list, *count;
} ConvGather;

/* Int32s of a ConvGather (after the gather table's entries). */
static size_t conv_gather_ints(const RtWindow *w)
{
    return conv_col_rows(w) * conv_out_hw(w) + 3 * conv_in_size(w) + 1;
}

static ConvGather conv_gather_at(const RtWindow *w, int32_t *at)
{
    size_t in_size = conv_in_size(w);
    ConvGather g = {at, at + in_size, at + 2 * in_size + 1, NULL};
    g.count = g.list + conv_col_rows(w) * conv_out_hw(w);
    return g;
}

static void conv_gather_list(const RtWindow *w, const int32_t *restrict tab, size_t ld,
                             const ConvGather *g)
{
    size_t ohw = conv_out_hw(w), rows = conv_col_rows(w), in_size = conv_in_size(w);
    int32_t *count = g->count, taps = (int32_t)(w->k_h * w->k_w);
    memset(count, 0, in_size * sizeof *count);
    for (size_t e = 0; e < rows * ohw; e++)
        if (tab[e] >= 0)
            count[tab[e]]++;
    size_t j = 0; /* the indices by count (at most taps: one per tap of a channel) */
    for (int32_t m = 0; m <= taps; m++)
        for (size_t i = 0; i < in_size; i++)
            if (count[i] == m)
                g->order[j++] = (int32_t)i;
    g->from[0] = 0;
    for (j = 0; j < in_size; j++) {
        int32_t i = g->order[j];
        g->from[j + 1] = g->from[j] + count[i];
        count[i] = g->from[j]; /* now i's next free slot */
    }
    for (size_t q = 0; q < ohw; q++)
        for (size_t kk = 0; kk < rows; kk++) {
            int32_t i = tab[kk * ohw + q];
            if (i >= 0)
                g->list[count[i]++] = (int32_t)(kk * ld + q);
        }
}

/* dx[i] (or 0 when written) plus its entries of one sample's dcol. */
static void col2im_gather(const ConvGather *g, size_t in_size, const float *restrict dcol,
                          float *restrict dx, bool dx_add)
{
    const int32_t *restrict order = g->order, *restrict from = g->from, *restrict list = g->list;
    for (size_t j = 0; j < in_size; j++) {
        size_t i = (size_t)order[j];
        float sum = dx_add ? dx[i] : 0.0f;
        for (int32_t e = from[j]; e < from[j + 1]; e++)
            sum += dcol[list[e]];
        dx[i] = sum;
    }
}

/* ---- the chunked products ------------------------------------------------- */

/* One call's view of the workspace (rt_conv_workspace's order). */
typedef struct ConvWork {
    size_t chunk, ld;
    float *col, *dcol, *yt;
    int32_t *tab;        /* short rows only */
    ConvGather gather;   /* short rows, filled by a backward with dx; else list NULL */
} ConvWork;

static ConvWork conv_work(const RtWindow *w, size_t rows, float *work)
{
    _Static_assert(sizeof(int32_t) == sizeof(float), "a table entry takes one float");
    ConvWork cw = {0};
    cw.chunk = conv_chunk(w, rows);
    cw.ld = conv_ld(w, cw.chunk);
    cw.col = work;
    cw.dcol = work + cw.ld * conv_col_rows(w);
    cw.yt = cw.dcol + cw.ld * conv_col_rows(w);
    if (conv_short_rows(w)) {
        cw.tab = (int32_t *)(void *)(cw.yt + cw.ld * w->out_c);
        cw.gather = conv_gather_at(w, cw.tab + conv_col_rows(w) * conv_out_hw(w));
        conv_gather_table(w, cw.tab);
    }
    return cw;
}

/* col of nr samples from x (batch first). */
static void conv_im2col(const RtWindow *w, const ConvWork *cw, size_t nr, const float *x, float *col)
{
    size_t ohw = conv_out_hw(w), in_size = conv_in_size(w);
    if (cw->tab) {
        im2col_table(w, cw->tab, nr, x, col, cw->ld);
        return;
    }
    for (size_t r = 0; r < nr; r++)
        im2col_runs(w, x + r * in_size, col + r * ohw, cw->ld);
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
 * [nr][out_c][ohw]: plane copies. */
static void conv_planes_to_batch(const RtWindow *w, const ConvWork *cw, size_t nr, float *y)
{
    size_t ohw = conv_out_hw(w);
    for (size_t r = 0; r < nr; r++)
        for (size_t oc = 0; oc < w->out_c; oc++)
            memcpy(y + (r * w->out_c + oc) * ohw, cw->yt + oc * cw->ld + r * ohw,
                   ohw * sizeof(float));
}

static void conv_batch_to_planes(const RtWindow *w, const ConvWork *cw, size_t nr, const float *y)
{
    size_t ohw = conv_out_hw(w);
    for (size_t r = 0; r < nr; r++)
        for (size_t oc = 0; oc < w->out_c; oc++)
            memcpy(cw->yt + oc * cw->ld + r * ohw, y + (r * w->out_c + oc) * ohw,
                   ohw * sizeof(float));
}

void rt_conv_forward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                     const float *bias, float *y, float *work, float *keep, bool exact)
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
        conv_planes_to_batch(w, &cw, nr, y + r0 * w->out_c * ohw);
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
    if (cw->gather.list) {
        for (size_t r = 0; r < nr; r++)
            col2im_gather(&cw->gather, in_size, cw->dcol + r * ohw, dx + r * in_size, dx_add);
        return;
    }
    if (!dx_add)
        memset(dx, 0, nr * in_size * sizeof(float));
    for (size_t r = 0; r < nr; r++)
        col2im_runs(w, cw->dcol + r * ohw, ld, dx + r * in_size);
}

void rt_conv_backward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                      const float *dy, float *dw, float *db, float *dx, bool dx_add, float *work,
                      const float *keep)
{
    size_t ohw = conv_out_hw(w), in_size = conv_in_size(w);
    ConvWork cw = conv_work(w, rows, work);
    if (cw.tab && dx)
        conv_gather_list(w, cw.tab, cw.ld, &cw.gather);
    else
        cw.gather.list = NULL;
    for (size_t r0 = 0; r0 < rows; r0 += cw.chunk) {
        size_t nr = rows - r0 < cw.chunk ? rows - r0 : cw.chunk;
        conv_batch_to_planes(w, &cw, nr, dy + r0 * w->out_c * ohw);
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
