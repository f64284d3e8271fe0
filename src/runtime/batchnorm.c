/* Batch normalisation kernels. Channel ch of sample r is the contiguous
 * run x[r][ch][0..spatial), so every loop here is per channel, over rows,
 * over that run. Statistics are two-pass (mean, then the sum of squared
 * deviations) and summed in double, as PyTorch's CPU kernel accumulates:
 * E[x^2] - E[x]^2 loses every digit when the mean is large next to the
 * spread. Per-value arithmetic is float. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "batchnorm.h"
#include "clones.h"

/* The values of one channel, sample by sample. */
static const float *bn_run(const RtBatchnorm *bn, const float *x, size_t r, size_t ch)
{
    return x + (r * bn->c + ch) * bn->spatial;
}

/* Double sums in eight interleaved lanes (value s of a run into lane
 * s % 8), added pairwise at the end: one double chain waited on every add
 * (4 cycles a value; batchnorm was 9% of a digits_cnn epoch), eight
 * vectorise. The lanes are written out, so the order is the same at every
 * vector width. */
typedef struct BnLanes {
    double v[8];
} BnLanes;

static double bn_lanes_sum(const BnLanes *l)
{
    const double *v = l->v;
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

RT_CLONES
static double bn_mean(const RtBatchnorm *bn, size_t rows, const float *x, size_t ch)
{
    BnLanes sum = {{0}};
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        size_t s = 0;
        for (; s + 8 <= bn->spatial; s += 8)
            for (size_t l = 0; l < 8; l++)
                sum.v[l] += xc[s + l];
        for (; s < bn->spatial; s++)
            sum.v[s % 8] += xc[s];
    }
    return bn_lanes_sum(&sum) / (double)(rows * bn->spatial);
}

/* Sum of squared deviations from mean. */
RT_CLONES
static double bn_sq_dev(const RtBatchnorm *bn, size_t rows, const float *x, size_t ch, double mean)
{
    BnLanes sq = {{0}};
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        size_t s = 0;
        for (; s + 8 <= bn->spatial; s += 8)
            for (size_t l = 0; l < 8; l++) {
                double d = xc[s + l] - mean;
                sq.v[l] += d * d;
            }
        for (; s < bn->spatial; s++) {
            double d = xc[s] - mean;
            sq.v[s % 8] += d * d;
        }
    }
    return bn_lanes_sum(&sq);
}

/* y = (x - mean) * (weight * invstd) + bias for one channel. Subtracting
 * first (rather than PyTorch's x * a + (bias - mean * a)) keeps the digits
 * of x when the mean is large; the two agree to float rounding. */
RT_CLONES
static void bn_normalise(const RtBatchnorm *bn, size_t rows, const float *x, float *y, size_t ch,
                         float mean, float invstd, const float *weight, const float *bias, bool relu)
{
    float a = (weight ? weight[ch] : 1.0f) * invstd;
    float b = bias ? bias[ch] : 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        float *yc = y + (xc - x);
        for (size_t s = 0; s < bn->spatial; s++) {
            float v = (xc[s] - mean) * a + b;
            yc[s] = !relu || v > 0.0f ? v : 0.0f; /* rt_act_relu's rule */
        }
    }
}

void rt_batchnorm_train_forward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                                const float *bias, float *running_mean, float *running_var,
                                float *y, float *saved, bool relu)
{
    double n = (double)(rows * bn->spatial), mom = bn->momentum;
    for (size_t ch = 0; ch < bn->c; ch++) {
        double mean = bn_mean(bn, rows, x, ch);
        double sq = bn_sq_dev(bn, rows, x, ch, mean);
        float invstd = (float)(1.0 / sqrt(sq / n + (double)bn->eps));
        saved[ch] = (float)mean;
        saved[bn->c + ch] = invstd;
        bn_normalise(bn, rows, x, y, ch, (float)mean, invstd, weight, bias, relu);
        /* The running variance estimates the population's: unbiased. */
        if (running_mean)
            running_mean[ch] = (float)((1.0 - mom) * running_mean[ch] + mom * mean);
        if (running_var)
            running_var[ch] = (float)((1.0 - mom) * running_var[ch] + mom * (sq / (n - 1.0)));
    }
}

void rt_batchnorm_eval_forward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                               const float *bias, const float *running_mean, const float *running_var, float *y,
                               bool relu)
{
    for (size_t ch = 0; ch < bn->c; ch++) {
        float invstd = (float)(1.0 / sqrt((double)running_var[ch] + (double)bn->eps));
        bn_normalise(bn, rows, x, y, ch, running_mean[ch], invstd, weight, bias, relu);
    }
}

/* dy[s] of one run, or with a relu folded in (yc, the run of relu's
 * output; unread without, where callers pass dc) 0 where relu was, as
 * relu's backward has it. Called with masked a constant, so each caller's
 * loop has one form; the mask is a bitwise
 * and (the same value as a select, 0 or dy itself), which vectorises where
 * the select, followed by the conversion to double, did not. */
static inline float bn_dy(const float *dc, const float *yc, size_t s, bool masked)
{
    if (!masked)
        return dc[s];
    uint32_t bits, keep = 0u - (uint32_t)(yc[s] > 0.0f);
    memcpy(&bits, &dc[s], sizeof bits);
    bits &= keep;
    float g;
    memcpy(&g, &bits, sizeof g);
    return g;
}

/* One run's terms of sum(dy) and sum(dy * xhat), into the lanes. */
static inline void bn_grad_run(const float *restrict xc, const float *restrict dc,
                               const float *restrict yc, bool masked, size_t spatial, float mean,
                               float invstd, BnLanes *sd, BnLanes *sdx)
{
    size_t s = 0;
    for (; s + 8 <= spatial; s += 8)
        for (size_t l = 0; l < 8; l++) {
            float g = bn_dy(dc, yc, s + l, masked);
            sd->v[l] += g;
            sdx->v[l] += (double)g * ((double)(xc[s + l] - mean) * invstd);
        }
    for (; s < spatial; s++) {
        float g = bn_dy(dc, yc, s, masked);
        sd->v[s % 8] += g;
        sdx->v[s % 8] += (double)g * ((double)(xc[s] - mean) * invstd);
    }
}

/* sum(dy) and sum(dy * xhat) of one channel, xhat = (x - mean) * invstd. */
RT_CLONES
static void bn_grad_sums(const RtBatchnorm *bn, size_t rows, const float *x, const float *dy,
                         const float *relu_y, size_t ch, float mean, float invstd, double *sum_dy,
                         double *sum_dy_xhat)
{
    BnLanes sd = {{0}}, sdx = {{0}};
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        size_t at = (size_t)(xc - x);
        if (relu_y)
            bn_grad_run(xc, dy + at, relu_y + at, true, bn->spatial, mean, invstd, &sd, &sdx);
        else
            bn_grad_run(xc, dy + at, dy + at, false, bn->spatial, mean, invstd, &sd, &sdx);
    }
    *sum_dy = bn_lanes_sum(&sd);
    *sum_dy_xhat = bn_lanes_sum(&sdx);
}

/* dx = weight*invstd/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)) for one
 * channel: the batch statistics' own gradient included (the mean moves with
 * every x, and so does the variance). */
/* One run of dx. */
static inline void bn_input_run(const float *restrict xc, const float *restrict dc,
                                const float *restrict yc, bool masked, float *restrict dxc,
                                bool dx_add, size_t spatial, float mean, float invstd, float scale,
                                float nf, float sum_dy, float sum_dy_xhat)
{
    for (size_t s = 0; s < spatial; s++) {
        float xhat = (xc[s] - mean) * invstd;
        float g = scale * (nf * bn_dy(dc, yc, s, masked) - sum_dy - xhat * sum_dy_xhat);
        dxc[s] = dx_add ? dxc[s] + g : g;
    }
}

RT_CLONES
static void bn_input_grad(const RtBatchnorm *bn, size_t rows, const float *x, const float *dy,
                          const float *relu_y, float *dx, bool dx_add, size_t ch, float mean,
                          float invstd, float w, float sum_dy, float sum_dy_xhat)
{
    float nf = (float)(rows * bn->spatial);
    float scale = w * invstd / nf;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        size_t at = (size_t)(xc - x);
        if (relu_y)
            bn_input_run(xc, dy + at, relu_y + at, true, dx + at, dx_add, bn->spatial, mean,
                         invstd, scale, nf, sum_dy, sum_dy_xhat);
        else
            bn_input_run(xc, dy + at, dy + at, false, dx + at, dx_add, bn->spatial, mean,
                         invstd, scale, nf, sum_dy, sum_dy_xhat);
    }
}

void rt_batchnorm_backward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                           const float *saved, const float *dy, const float *relu_y,
                           float *dweight, float *dbias, float *dx, bool dx_add)
{
    for (size_t ch = 0; ch < bn->c; ch++) {
        float mean = saved[ch], invstd = saved[bn->c + ch];
        double sum_dy, sum_dy_xhat;
        bn_grad_sums(bn, rows, x, dy, relu_y, ch, mean, invstd, &sum_dy, &sum_dy_xhat);
        if (dbias)
            dbias[ch] += (float)sum_dy;
        if (dweight)
            dweight[ch] += (float)sum_dy_xhat;
        if (dx)
            bn_input_grad(bn, rows, x, dy, relu_y, dx, dx_add, ch, mean, invstd,
                          weight ? weight[ch] : 1.0f, (float)sum_dy, (float)sum_dy_xhat);
    }
}
