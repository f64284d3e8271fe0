/* Batch normalisation over a batch, batch first, like nn.BatchNorm1d/2d:
 * x [rows][c][spatial], one mean and variance per channel over its
 * rows * spatial values. */
#ifndef NNC_RT_BATCHNORM_H
#define NNC_RT_BATCHNORM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct RtBatchnorm {
    size_t c, spatial;  /* x is [rows][c][spatial]; spatial = 1 for a [C] feature vector (BatchNorm1d on [N,C]) */
    float momentum, eps;
} RtBatchnorm;

/* Training (like nn.BatchNorm1d/2d in train()): per-channel batch mean and biased variance over rows*spatial values;
 * y = (x - mean) / sqrt(var + eps) * weight + bias; saves mean[c] then invstd[c] into saved[2c] for backward;
 * updates running_mean = (1-momentum)*running_mean + momentum*mean and running_var likewise with the UNBIASED
 * variance (n/(n-1), n = rows*spatial; n must be > 1: the caller guarantees it).
 * weight/bias NULL mean 1 and 0 (affine=False); running_mean/running_var NULL are not updated
 * (track_running_stats=False). relu: y = relu(...) instead (a relu folded into the batchnorm). */
void rt_batchnorm_train_forward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                                const float *bias, float *running_mean, float *running_var,
                                float *y, float *saved, bool relu);
/* eval(): uses running_mean/running_var (weight/bias NULL as above). */
void rt_batchnorm_eval_forward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                               const float *bias, const float *running_mean, const float *running_var, float *y,
                               bool relu);
/* Backward of the training forward (batch statistics): adds into dweight/dbias (may be NULL), writes/adds dx
 * (may be NULL). Use PyTorch's formula: dx = weight*invstd/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)).
 * weight NULL means 1. relu_y: with a relu folded in, the forward's y, and dy is the gradient of
 * that relu's output (masked here by relu_y > 0); NULL otherwise. */
void rt_batchnorm_backward(const RtBatchnorm *bn, size_t rows, const float *x, const float *weight,
                           const float *saved, const float *dy, const float *relu_y,
                           float *dweight, float *dbias, float *dx, bool dx_add);

#endif
