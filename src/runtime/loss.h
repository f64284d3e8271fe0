/* Loss functions: each returns the mean loss of a batch and writes the
 * gradient of that mean w.r.t. the network's output (what backward starts
 * from). Formulas follow PyTorch's BCELoss, MSELoss, CrossEntropyLoss
 * (with its label_smoothing), BCEWithLogitsLoss, L1Loss and HuberLoss with
 * reduction='mean'. */
#ifndef NNC_RT_LOSS_H
#define NNC_RT_LOSS_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/ir.h"

/* A batch of targets. With labels, y is [rows][1] holding class indices
 * 0..cols-1 (read as one-hot rows); otherwise y is [rows][cols] like out. */
typedef struct RtTargets {
    const float *y;
    bool labels;
} RtTargets;

/* l's loss (with its arguments) on out; out and grad are [rows][cols].
 * Returns the mean loss as a double (the sum is accumulated in double; the
 * value PyTorch prints is float32, equal to ours to about 1e-7 relative). */
double rt_loss(const IrLoss *l, size_t rows, size_t cols, const float *out,
               RtTargets t, float *grad);

/* Target value of row r, column c (one-hot expansion for labels). */
float rt_target_at(RtTargets t, size_t cols, size_t r, size_t c);

#endif
