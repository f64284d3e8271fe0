/* bce, mse, cross_entropy (with label smoothing), bce_logits, l1 and huber
 * over a batch, with their gradients. */
#include <math.h>

#include "loss.h"
#include "ops.h"

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
static double loss_bce(const IrLoss *l, size_t rows, size_t cols, const float *out,
                       RtTargets t, float *grad)
{
    (void)l; /* no arguments */
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
static double loss_mse(const IrLoss *l, size_t rows, size_t cols, const float *out,
                       RtTargets t, float *grad)
{
    (void)l; /* no arguments */
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

/* nn.BCEWithLogitsLoss on logits z, mean over all elements:
 * max(z, 0) - z y + log1p(e^-|z|), finite for every z. torch 1.13's CPU
 * form, (1 - y) z + m + log(e^-m + e^(-z-m)) with m = max(-z, 0), is the
 * same function. The gradient is torch's, (sigmoid(z) - y) / n, with the
 * sigmoid of the sigmoid op. */
static double loss_bce_logits(const IrLoss *l, size_t rows, size_t cols, const float *out,
                              RtTargets t, float *grad)
{
    (void)l; /* no arguments */
    size_t n = rows * cols;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float y = rt_target_at(t, cols, r, c);
            double z = out[i];
            sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
            grad[i] = (rt_act_sigmoid(out[i]) - y) / (float)n;
        }
    }
    return sum / (double)n;
}

/* Mean of |out - y| over all elements, as nn.L1Loss. The gradient is
 * sign(out - y) / n with sign(0) = 0 (torch's sgn), not a subgradient
 * picked at random. */
static double loss_l1(const IrLoss *l, size_t rows, size_t cols, const float *out,
                      RtTargets t, float *grad)
{
    (void)l; /* no arguments */
    size_t n = rows * cols;
    float norm = 1.0f / (float)n;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float diff = out[i] - rt_target_at(t, cols, r, c);
            sum += fabs((double)diff);
            float sign = diff > 0.0f ? 1.0f : diff < 0.0f ? -1.0f : 0.0f;
            grad[i] = sign * norm;
        }
    }
    return sum / (double)n;
}

/* nn.HuberLoss(delta): with z = |out - y|, z^2 / 2 below delta, else
 * delta (z - delta / 2); mean over all elements. torch compares in float
 * (delta rounded to float) and scales the gradient, the difference clamped
 * to [-delta, delta], by 1/n computed in double. */
static double loss_huber(const IrLoss *l, size_t rows, size_t cols, const float *out,
                         RtTargets t, float *grad)
{
    float delta = (float)l->hyper[HP_DELTA];
    size_t n = rows * cols;
    float norm = (float)(1.0 / (double)n);
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            float diff = out[i] - rt_target_at(t, cols, r, c);
            float z = fabsf(diff);
            sum += z < delta ? 0.5f * z * z : delta * (z - 0.5f * delta);
            float clamped = diff <= -delta ? -delta : diff >= delta ? delta : diff;
            grad[i] = norm * clamped;
        }
    }
    return sum / (double)n;
}

/* Target c of row r as nn.CrossEntropyLoss(label_smoothing = s) sees it:
 * (1 - s) t + s / C, for class indices and probabilities alike (s = 0
 * gives t itself, bit for bit). */
static double ce_target(RtTargets t, size_t cols, size_t r, size_t c, double smooth)
{
    return (1.0 - smooth) * rt_target_at(t, cols, r, c) + smooth / (double)cols;
}

/* One row of cross entropy on logits z, fused with log-softmax:
 * loss = -sum_c t_c (z_c - lse), dL/dz_j = softmax_j * sum_c t_c - t_j,
 * computed with the row maximum subtracted so exp cannot overflow. */
static double ce_row(size_t cols, const float *z, RtTargets t, size_t r, double smooth,
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
        double tc = ce_target(t, cols, r, c, smooth);
        loss -= tc * ((double)z[c] - lse);
        t_sum += tc;
    }
    for (size_t c = 0; c < cols; c++) {
        double soft = exp((double)z[c] - lse);
        double tc = ce_target(t, cols, r, c, smooth);
        grad[c] = (float)((soft * t_sum - tc) * scale);
    }
    return loss;
}

/* Mean over the batch (not over elements), as nn.CrossEntropyLoss. */
static double loss_cross_entropy(const IrLoss *l, size_t rows, size_t cols,
                                 const float *out, RtTargets t, float *grad)
{
    double smooth = l->hyper[HP_LABEL_SMOOTHING];
    float scale = 1.0f / (float)rows;
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++)
        sum += ce_row(cols, out + r * cols, t, r, smooth, scale, grad + r * cols);
    return sum / (double)rows;
}

typedef double LossFn(const IrLoss *l, size_t rows, size_t cols, const float *out, RtTargets t,
                      float *grad);

static LossFn *const rt_losses[LOSS_COUNT] = {
    [LOSS_BCE] = loss_bce,
    [LOSS_MSE] = loss_mse,
    [LOSS_CROSS_ENTROPY] = loss_cross_entropy,
    [LOSS_BCE_LOGITS] = loss_bce_logits,
    [LOSS_L1] = loss_l1,
    [LOSS_HUBER] = loss_huber,
};
_Static_assert(sizeof rt_losses / sizeof *rt_losses == LOSS_COUNT, "one function per LossKind");

double rt_loss(const IrLoss *l, size_t rows, size_t cols, const float *out,
               RtTargets t, float *grad)
{
    return rt_losses[l->kind](l, rows, cols, out, t, grad);
}
