/* Convolution as im2col + one matrix product per chunk of samples and
 * group. For a chunk of nr samples, col is [nr][out_h*out_w][K_all],
 * K_all = in_c*k_h*k_w: row (r, q) holds every value output position q of
 * sample r sees, tap by tap (channel, kernel row, kernel column), 0 in the
 * padding. Group g's taps are the contiguous columns of its in_c/groups
 * channels, so
 *   Y^T[P][out_c/g] (group g's columns) = col_g[P][K] . W_g^T,  P = nr*oh*ow, K = K_all/groups
 * and Y^T ([nr][oh*ow][out_c]) is transposed out to the batch-first y.
 * One product for many samples keeps small images' products large enough
 * for BLAS to run at speed; the chunk is bounded (RT_CONV_COL_FLOATS) so
 * col stays in cache and the workspace small. im2col writes col in order
 * (a row per position), which is what makes it cheap: the other layout
 * ([K][P]) scatters every sample's writes over K rows. The backward is the
 * two transposed products plus col2im (the adjoint of im2col: each col
 * entry added back to the input value it was read from). Each output's
 * sum over K runs in the same order whatever the chunk, so the exact
 * (portable) forward gives the same values for any batch. */
#include <stdint.h>
#include <string.h>

#include "conv.h"
#include "gemm.h"

typedef void GemmFn(bool, bool, size_t, size_t, size_t, float, const float *,
                    size_t, const float *, size_t, float, float *, size_t);

static size_t conv_out_hw(const RtWindow *w)
{
    return w->out_h * w->out_w;
}

/* Columns of col: every (channel, tap) of the whole sample. */
static size_t conv_taps(const RtWindow *w)
{
    return w->in_c * w->k_h * w->k_w;
}

static size_t conv_in_size(const RtWindow *w)
{
    return w->in_c * w->in_h * w->in_w;
}

/* Samples per product: as many as keep col within RT_CONV_COL_FLOATS, at
 * least one, at most rows. */
static size_t conv_chunk(const RtWindow *w, size_t rows)
{
    size_t per_sample = conv_taps(w) * conv_out_hw(w);
    size_t chunk = per_sample ? RT_CONV_COL_FLOATS / per_sample : rows;
    chunk = chunk < rows ? chunk : rows;
    return chunk ? chunk : 1;
}

/* The row stride of dYt ([out_c][nr*ohw], the backward's gradient by
 * channel) for nr samples: 16 floats more than its values. Power-of-two
 * strides (a 32-sample batch of 8x8 planes is 2048 floats a row) put every
 * row in the same few cache sets, and the copy into it, one row after
 * another, then evicts its own lines; 64 bytes more moves each row on. */
static size_t conv_ld(const RtWindow *w, size_t nr)
{
    return nr * conv_out_hw(w) + 16;
}

/* col and dcol for one chunk, the product's output (Y^T in the forward,
 * dYt in the backward, which is the larger), then the gather table and the
 * scatter list (one int32 a float; pairs of them). */
size_t rt_conv_workspace(const RtWindow *w, size_t rows)
{
    size_t chunk = conv_chunk(w, rows), ohw = conv_out_hw(w), taps = conv_taps(w);
    return 2 * chunk * ohw * taps + w->out_c * conv_ld(w, chunk) + 3 * taps * ohw;
}

/* The gather table of one sample: for output position q and tap kk, the
 * index in the sample's x of the value it reads, or -1 in the padding.
 * Built once per call and shared by every sample, it turns im2col and
 * col2im into a gather and a scatter with no window arithmetic. Indices fit
 * 32 bits: a sample holds at most LOWER_MAX_UNITS values. */
static void conv_gather_table(const RtWindow *w, int32_t *restrict tab)
{
    size_t in_hw = w->in_h * w->in_w;
    for (size_t oh = 0; oh < w->out_h; oh++)
        for (size_t ow = 0; ow < w->out_w; ow++)
            for (size_t c = 0; c < w->in_c; c++)
                for (size_t ki = 0; ki < w->k_h; ki++) {
                    /* coordinates in the padded input */
                    size_t ph = oh * w->stride_h + ki * w->dil_h;
                    bool row_in = ph >= w->pad_h && ph - w->pad_h < w->in_h;
                    for (size_t kj = 0; kj < w->k_w; kj++, tab++) {
                        size_t pw = ow * w->stride_w + kj * w->dil_w;
                        bool in = row_in && pw >= w->pad_w && pw - w->pad_w < w->in_w;
                        *tab = in ? (int32_t)(c * in_hw + (ph - w->pad_h) * w->in_w + pw - w->pad_w)
                                  : -1;
                    }
                }
}

/* Where the padding falls changes from tap to tap in a pattern too long
 * to predict, and a mispredicted branch per value cost more than the copy
 * itself (GCC turns a select of pointers back into a branch). So the
 * padding is masked: keep is all ones for a real index and 0 for the
 * padding, whose index becomes 0 (a valid read) and whose value 0. */
static inline uint32_t conv_keep(int32_t t)
{
    return 0u - (uint32_t)(t >= 0);
}

/* The gather vectorises with AVX2's and AVX-512's gather instructions:
 * gcc on x86-64 also compiles those clones, chosen when the program loads
 * by the CPU it runs on (a copy: the same values in every clone). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CONV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CONV_CLONES
#endif

/* One sample x into its ohw rows of col. */
CONV_CLONES
static void im2col(const RtWindow *w, const int32_t *restrict tab, const float *restrict x,
                   float *restrict col)
{
    size_t n = conv_out_hw(w) * conv_taps(w);
    for (size_t i = 0; i < n; i++) {
        uint32_t keep = conv_keep(tab[i]), bits;
        memcpy(&bits, x + ((uint32_t)tab[i] & keep), sizeof bits);
        bits &= keep;
        memcpy(col + i, &bits, sizeof bits);
    }
}

/* The backward's scatter list: the (col index, x index) pair of every
 * entry of the gather table that reads x, padding left out. col2im adds
 * through it with no mask: masked padding entries all added into one dx
 * value, and each waited for the one before. Returns the pairs' count. */
static size_t conv_scatter_pairs(const RtWindow *w, const int32_t *restrict tab,
                                 int32_t *restrict pairs)
{
    size_t n = conv_out_hw(w) * conv_taps(w), count = 0;
    for (size_t i = 0; i < n; i++)
        if (tab[i] >= 0) {
            pairs[2 * count] = (int32_t)i;
            pairs[2 * count + 1] = tab[i];
            count++;
        }
    return count;
}

/* The adjoint of im2col: dx[t] += dcol at every position that read x[t]. */
static void col2im(const int32_t *restrict pairs, size_t n_pairs, const float *restrict dcol,
                   float *restrict dx)
{
    for (size_t p = 0; p < n_pairs; p++)
        dx[pairs[2 * p + 1]] += dcol[pairs[2 * p]];
}

/* The workspace's parts, in rt_conv_workspace's order. */
typedef struct ConvWork {
    float *col, *dcol, *out;
    int32_t *tab, *pairs; /* the gather table; the scatter list, filled by the backward */
} ConvWork;

static ConvWork conv_work(const RtWindow *w, size_t rows, float *work)
{
    _Static_assert(sizeof(int32_t) == sizeof(float), "a table entry takes one float");
    size_t chunk = conv_chunk(w, rows), col = chunk * conv_out_hw(w) * conv_taps(w);
    ConvWork cw = {work, work + col, work + 2 * col, NULL, NULL};
    cw.tab = (int32_t *)(void *)(cw.out + w->out_c * conv_ld(w, chunk));
    cw.pairs = cw.tab + conv_out_hw(w) * conv_taps(w);
    conv_gather_table(w, cw.tab);
    return cw;
}

/* col of nr samples from x (batch first). */
static void conv_im2col_chunk(const RtWindow *w, const int32_t *tab, size_t nr, const float *x,
                              float *col)
{
    size_t per_sample = conv_out_hw(w) * conv_taps(w);
    for (size_t r = 0; r < nr; r++)
        im2col(w, tab, x + r * conv_in_size(w), col + r * per_sample);
}

/* Y^T [P][out_c] starts as the bias (a copy per row), and the product is
 * added onto it (beta = 1). */
static void conv_put_bias(const RtWindow *w, const float *bias, size_t positions, float *yt)
{
    for (size_t p = 0; p < positions; p++)
        memcpy(yt + p * w->out_c, bias, w->out_c * sizeof(float));
}

/* Y^T [nr][ohw][out_c] to the batch's y [nr][out_c][ohw]. */
static void conv_positions_to_batch(const RtWindow *w, size_t nr, const float *yt, float *y)
{
    size_t ohw = conv_out_hw(w), oc_n = w->out_c;
    for (size_t r = 0; r < nr; r++) {
        const float *src = yt + r * ohw * oc_n;
        float *dst = y + r * oc_n * ohw;
        for (size_t oc = 0; oc < oc_n; oc++)
            for (size_t q = 0; q < ohw; q++)
                dst[oc * ohw + q] = src[q * oc_n + oc];
    }
}

size_t rt_conv_keep_floats(const RtWindow *w, size_t rows)
{
    size_t n = rows * conv_out_hw(w) * conv_taps(w);
    return n <= RT_CONV_KEEP_FLOATS ? n : 0;
}

void rt_conv_forward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                     const float *bias, float *y, float *work, float *keep, bool exact)
{
    GemmFn *gemm = exact ? rt_gemm_portable : rt_gemm;
    size_t ohw = conv_out_hw(w), taps = conv_taps(w);
    size_t cout_g = w->out_c / w->groups, k = taps / w->groups;
    size_t chunk = conv_chunk(w, rows);
    ConvWork cw = conv_work(w, rows, work);
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t nr = rows - r0 < chunk ? rows - r0 : chunk, positions = nr * ohw;
        float *col = keep ? keep + r0 * ohw * taps : cw.col;
        conv_im2col_chunk(w, cw.tab, nr, x + r0 * conv_in_size(w), col);
        if (bias)
            conv_put_bias(w, bias, positions, cw.out);
        for (size_t g = 0; g < w->groups; g++)
            gemm(false, true, positions, cout_g, k, 1.0f, col + g * k, taps,
                 weight + g * cout_g * k, k, bias ? 1.0f : 0.0f, cw.out + g * cout_g, w->out_c);
        conv_positions_to_batch(w, nr, cw.out, y + r0 * w->out_c * ohw);
    }
}

/* dYt [out_c][nr*ohw] (rows of conv_ld) from the batch's dy: plane copies. */
static void conv_batch_to_channels(const RtWindow *w, size_t nr, const float *dy, float *dyt)
{
    size_t ohw = conv_out_hw(w), ld = conv_ld(w, nr);
    for (size_t r = 0; r < nr; r++)
        for (size_t oc = 0; oc < w->out_c; oc++)
            memcpy(dyt + oc * ld + r * ohw, dy + (r * w->out_c + oc) * ohw, ohw * sizeof(float));
}

/* Samples whose positions one term of the parameter gradients sums
 * before adding it in: about RT_CONV_SUM_TERMS positions (at least one
 * sample). The gradients are sums over the whole batch's positions, and one
 * long float sum loses accuracy with its length (the portable product sums
 * in order): short partial sums added up keep them as accurate as
 * PyTorch's, which matters where Adam normalises a small gradient. */
static size_t conv_sum_samples(const RtWindow *w)
{
    size_t s = RT_CONV_SUM_TERMS / conv_out_hw(w);
    return s ? s : 1;
}

/* db[oc] += the sum of dYt's row oc (every sample and position), in
 * partial sums of conv_sum_samples samples. */
static void conv_bias_grad(const RtWindow *w, size_t nr, const float *dyt, float *db)
{
    size_t ohw = conv_out_hw(w), n = nr * ohw, ld = conv_ld(w, nr);
    size_t part = conv_sum_samples(w) * ohw;
    for (size_t oc = 0; oc < w->out_c; oc++) {
        const float *d = dyt + oc * ld;
        for (size_t p0 = 0; p0 < n; p0 += part) {
            size_t end = n - p0 < part ? n : p0 + part;
            float sum = 0.0f;
            for (size_t p = p0; p < end; p++)
                sum += d[p];
            db[oc] += sum;
        }
    }
}

/* dW_g += dYt_g col_g, a sum over the chunk's samples and positions, in
 * products of conv_sum_samples samples each. */
static void conv_weight_grad(const RtWindow *w, size_t nr, const float *dyt, const float *col,
                             float *dw)
{
    size_t ohw = conv_out_hw(w), ld = conv_ld(w, nr), taps = conv_taps(w);
    size_t cout_g = w->out_c / w->groups, k = taps / w->groups, step = conv_sum_samples(w);
    for (size_t r = 0; r < nr; r += step) {
        size_t len = (nr - r < step ? nr - r : step) * ohw;
        for (size_t g = 0; g < w->groups; g++)
            rt_gemm(false, false, cout_g, k, len, 1.0f, dyt + g * cout_g * ld + r * ohw, ld,
                    col + r * ohw * taps + g * k, taps, 1.0f, dw + g * cout_g * k, k);
    }
}

/* dx of nr samples: dcol_g = dYt_g^T W_g, then col2im per sample. */
static void conv_input_grad(const RtWindow *w, const int32_t *pairs, size_t n_pairs, size_t nr,
                            const float *weight, const float *dyt, float *dx, bool dx_add,
                            float *dcol)
{
    size_t ohw = conv_out_hw(w), ld = conv_ld(w, nr), taps = conv_taps(w);
    size_t cout_g = w->out_c / w->groups, k = taps / w->groups, in_size = conv_in_size(w);
    for (size_t g = 0; g < w->groups; g++)
        rt_gemm(true, false, nr * ohw, k, cout_g, 1.0f, dyt + g * cout_g * ld, ld,
                weight + g * cout_g * k, k, 0.0f, dcol + g * k, taps);
    if (!dx_add)
        memset(dx, 0, nr * in_size * sizeof(float));
    for (size_t r = 0; r < nr; r++)
        col2im(pairs, n_pairs, dcol + r * ohw * taps, dx + r * in_size);
}

void rt_conv_backward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                      const float *dy, float *dw, float *db, float *dx, bool dx_add, float *work,
                      const float *keep)
{
    size_t ohw = conv_out_hw(w), in_size = conv_in_size(w);
    size_t chunk = conv_chunk(w, rows);
    ConvWork cw = conv_work(w, rows, work);
    size_t n_pairs = dx ? conv_scatter_pairs(w, cw.tab, cw.pairs) : 0;
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {
        size_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        conv_batch_to_channels(w, nr, dy + r0 * w->out_c * ohw, cw.out);
        if (db)
            conv_bias_grad(w, nr, cw.out, db);
        if (dw) {
            const float *col = keep ? keep + r0 * ohw * conv_taps(w) : cw.col;
            if (!keep)
                conv_im2col_chunk(w, cw.tab, nr, x + r0 * in_size, cw.col);
            conv_weight_grad(w, nr, cw.out, col, dw);
        }
        if (dx)
            conv_input_grad(w, cw.pairs, n_pairs, nr, weight, cw.out, dx + r0 * in_size, dx_add,
                            cw.dcol);
    }
}
