/* bce, mse and cross_entropy over a batch, with their gradients. */
#include <math.h>

#include "loss.h"

float rt_target_at(RtTargets t, size_t cols, size_t r, size_t c)
{
    if (t.labels)
        return (size_t)t.y[r] == c ? 1.0f : 0.0f;
    return t.y[r * cols + c];
}

/* PyTorch clamps each log at -100 so that BCE stays finite at 0 and 1. */
static double bce_log(float p)
{
    double l = log((double)p);
    return l < -100.0 ? -100.0 : l;
}

/* Mean over all elements. The gradient is PyTorch's:
 * (p - t) / max(p (1 - p), 1e-12), divided by the element count. */
static double loss_bce(size_t rows, size_t cols, const float *out,
                       RtTargets t, float *grad)
{
    size_t n = rows * cols;
    float inv_n = 1.0f / (float)n;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float p = out[i], y = rt_target_at(t, cols, r, c);
            sum -= y * bce_log(p) + (1.0 - y) * bce_log(1.0f - p);
            float d = (1.0f - p) * p;
            grad[i] = inv_n * (p - y) / (d > 1e-12f ? d : 1e-12f);
        }
    }
    return sum / (double)n;
}

/* Mean of squared differences over all elements. */
static double loss_mse(size_t rows, size_t cols, const float *out,
                       RtTargets t, float *grad)
{
    size_t n = rows * cols;
    float scale = 2.0f / (float)n;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float diff = out[i] - rt_target_at(t, cols, r, c);
            sum += (double)diff * diff;
            grad[i] = scale * diff;
        }
    }
    return sum / (double)n;
}

/* One row of cross entropy on logits z, fused with log-softmax:
 * loss = -sum_c t_c (z_c - lse), dL/dz_j = softmax_j * sum_c t_c - t_j,
 * computed with the row maximum subtracted so exp cannot overflow. */
static double ce_row(size_t cols, const float *z, RtTargets t, size_t r,
                     float scale, float *grad)
{
    float max = z[0];
    for (size_t c = 1; c < cols; c++)
        max = z[c] > max ? z[c] : max;
    double sum_exp = 0.0;
    for (size_t c = 0; c < cols; c++)
        sum_exp += exp((double)(z[c] - max));
    double lse = (double)max + log(sum_exp);
    double loss = 0.0, t_sum = 0.0;
    for (size_t c = 0; c < cols; c++) {
        double tc = rt_target_at(t, cols, r, c);
        loss -= tc * ((double)z[c] - lse);
        t_sum += tc;
    }
    for (size_t c = 0; c < cols; c++) {
        double soft = exp((double)z[c] - lse);
        double tc = rt_target_at(t, cols, r, c);
        grad[c] = (float)((soft * t_sum - tc) * scale);
    }
    return loss;
}

/* Mean over the batch (not over elements), as nn.CrossEntropyLoss. */
static double loss_cross_entropy(size_t rows, size_t cols, const float *out,
                                 RtTargets t, float *grad)
{
    float scale = 1.0f / (float)rows;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++)
        sum += ce_row(cols, out + r * cols, t, r, scale, grad + r * cols);
    return sum / (double)rows;
}

typedef double LossFn(size_t rows, size_t cols, const float *out, RtTargets t, float *grad);

static LossFn *const rt_losses[LOSS_COUNT] = {
    [LOSS_BCE] = loss_bce,
    [LOSS_MSE] = loss_mse,
    [LOSS_CROSS_ENTROPY] = loss_cross_entropy,
};
_Static_assert(sizeof rt_losses / sizeof *rt_losses == LOSS_COUNT, "one function per LossKind");

double rt_loss(LossKind k, size_t rows, size_t cols, const float *out,
               RtTargets t, float *grad)
{
    return rt_losses[k](rows, cols, out, t, grad);
}
