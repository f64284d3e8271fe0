/* Max and average pooling over a batch, batch first: x [rows][c][in_h][in_w]
 * to y [rows][c][out_h][out_w] (RtWindow of conv.h with out_c == in_c), and
 * global pooling of [rows][c][spatial] to [rows][c]. 1-D pooling is the 2-D
 * one with in_h = out_h = k_h = 1. Backward recomputes what it needs from x:
 * nothing is saved between the passes. */
#ifndef NNC_RT_POOL_H
#define NNC_RT_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "conv.h"

/* max pooling like nn.MaxPool2d(kernel, stride, padding) (dilation via dil_h/dil_w, padding is -inf, ceil_mode false) */
void rt_maxpool_forward(const RtWindow *w, size_t rows, const float *x, float *y);
/* routes dy to the argmax of each window, recomputed from x (first maximum in scan order wins, as PyTorch);
 * writes or (dx_add) adds dx */
void rt_maxpool_backward(const RtWindow *w, size_t rows, const float *x, const float *dy, float *dx, bool dx_add);
/* nn.AvgPool2d(kernel, stride, padding, count_include_pad = True): divisor is k_h*k_w (padding counts) */
void rt_avgpool_forward(const RtWindow *w, size_t rows, const float *x, float *y);
void rt_avgpool_backward(const RtWindow *w, size_t rows, const float *dy, float *dx, bool dx_add);
/* global pooling over `spatial` values per channel: x [rows][c][spatial] -> y [rows][c] */
void rt_global_avgpool_forward(size_t rows, size_t c, size_t spatial, const float *x, float *y);
void rt_global_avgpool_backward(size_t rows, size_t c, size_t spatial, const float *dy, float *dx, bool dx_add);
void rt_global_maxpool_forward(size_t rows, size_t c, size_t spatial, const float *x, float *y);
void rt_global_maxpool_backward(size_t rows, size_t c, size_t spatial, const float *x, const float *dy, float *dx, bool dx_add);

#endif
