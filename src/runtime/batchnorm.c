/* Batch normalisation kernels. Channel ch of sample r is the contiguous
 * run x[r][ch][0..spatial), so every loop here is per channel, over rows,
 * over that run. Statistics are two-pass (mean, then the sum of squared
 * deviations) and summed in double, as PyTorch's CPU kernel accumulates:
 * E[x^2] - E[x]^2 loses every digit when the mean is large next to the
 * spread. Per-value arithmetic is float. */
#include <math.h>

#include "batchnorm.h"

/* The values of one channel, sample by sample. */
static const float *bn_run(const RtBatchnorm *bn, const float *x, size_t r, size_t ch)
{
    return x + (r * bn->c + ch) * bn->spatial;
}

static double bn_mean(const RtBatchnorm *bn, size_t rows, const float *x, size_t ch)
{
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        for (size_t s = 0; s < bn->spatial; s++)
            sum += xc[s];
    }
    return sum / (double)(rows * bn->spatial);
}

/* Sum of squared deviations from mean. */
static double bn_sq_dev(const RtBatchnorm *bn, size_t rows, const float *x, size_t ch, double mean)
{
    double sq = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        for (size_t s = 0; s < bn->spatial; s++) {
            double d = xc[s] - mean;
            sq += d * d;
        }
    }
    return sq;
}

/* y = (x - mean) * (weight * invstd) + bias for one channel. Subtracting
 * first (rather than PyTorch's x * a + (bias - mean * a)) keeps the digits
 * of x when the mean is large; the two agree to float rounding. */
static void bn_normalise(const RtBatchnorm *bn, size_t rows, const float *x, float *y, size_t ch,
                         float mean, float invstd, const float *weight, const float *bias)
{
    float a = (weight ? weight[ch] : 1.0f) * invstd;
    float b = bias ? bias[ch] : 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch);
        float *yc = y + (xc - x);
        for (size_t s = 0; s < bn->spatial; s++)
            yc[s] = (xc[s] - mean) * a + b;
    }
}

void rt_batchnorm_train_forward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                                const float *bias, float *running_mean, float *running_var,
                                float *y, float *saved)
{
    double n = (double)(rows * bn->spatial), mom = bn->momentum;
    for (size_t ch = 0; ch < bn->c; ch++) {
        double mean = bn_mean(bn, rows, x, ch);
        double sq = bn_sq_dev(bn, rows, x, ch, mean);
        float invstd = (float)(1.0 / sqrt(sq / n + (double)bn->eps));
        saved[ch] = (float)mean;
        saved[bn->c + ch] = invstd;
        bn_normalise(bn, rows, x, y, ch, (float)mean, invstd, weight, bias);
        /* The running variance estimates the population's: unbiased. */
        if (running_mean)
            running_mean[ch] = (float)((1.0 - mom) * running_mean[ch] + mom * mean);
        if (running_var)
            running_var[ch] = (float)((1.0 - mom) * running_var[ch] + mom * (sq / (n - 1.0)));
    }
}

void rt_batchnorm_eval_forward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                               const float *bias, const float *running_mean, const float *running_var, float *y)
{
    for (size_t ch = 0; ch < bn->c; ch++) {
        float invstd = (float)(1.0 / sqrt((double)running_var[ch] + (double)bn->eps));
        bn_normalise(bn, rows, x, y, ch, running_mean[ch], invstd, weight, bias);
    }
}

/* sum(dy) and sum(dy * xhat) of one channel, xhat = (x - mean) * invstd. */
static void bn_grad_sums(const RtBatchnorm *bn, size_t rows, const float *x, const float *dy,
                         size_t ch, float mean, float invstd, double *sum_dy, double *sum_dy_xhat)
{
    double sd = 0.0, sdx = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch), *dc = dy + (xc - x);
        for (size_t s = 0; s < bn->spatial; s++) {
            sd += dc[s];
            sdx += (double)dc[s] * ((double)(xc[s] - mean) * invstd);
        }
    }
    *sum_dy = sd;
    *sum_dy_xhat = sdx;
}

/* dx = weight*invstd/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)) for one
 * channel: the batch statistics' own gradient included (the mean moves with
 * every x, and so does the variance). */
static void bn_input_grad(const RtBatchnorm *bn, size_t rows, const float *x, const float *dy,
                          float *dx, bool dx_add, size_t ch, float mean, float invstd, float w,
                          float sum_dy, float sum_dy_xhat)
{
    float nf = (float)(rows * bn->spatial);
    float scale = w * invstd / nf;
    for (size_t r = 0; r < rows; r++) {
        const float *xc = bn_run(bn, x, r, ch), *dc = dy + (xc - x);
        float *dxc = dx + (xc - x);
        for (size_t s = 0; s < bn->spatial; s++) {
            float xhat = (xc[s] - mean) * invstd;
            float g = scale * (nf * dc[s] - sum_dy - xhat * sum_dy_xhat);
            dxc[s] = dx_add ? dxc[s] + g : g;
        }
    }
}

void rt_batchnorm_backward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                           const float *saved, const float *dy, float *dweight, float *dbias,
                           float *dx, bool dx_add)
{
    for (size_t ch = 0; ch < bn->c; ch++) {
        float mean = saved[ch], invstd = saved[bn->c + ch];
        double sum_dy, sum_dy_xhat;
        bn_grad_sums(bn, rows, x, dy, ch, mean, invstd, &sum_dy, &sum_dy_xhat);
        if (dbias)
            dbias[ch] += (float)sum_dy;
        if (dweight)
            dweight[ch] += (float)sum_dy_xhat;
        if (dx)
            bn_input_grad(bn, rows, x, dy, dx, dx_add, ch, mean, invstd,
                          weight ? weight[ch] : 1.0f, (float)sum_dy, (float)sum_dy_xhat);
    }
}
