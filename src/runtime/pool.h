/* Max and average pooling over a batch, batch first: x [rows][c][in_h][in_w]
 * to y [rows][c][out_h][out_w] (RtWindow of conv.h with out_c == in_c), and
 * global pooling of [rows][c][spatial] to [rows][c]. 1-D pooling is the 2-D
 * one with in_h = out_h = k_h = 1. Max pooling's backward reads where each
 * maximum came from, saved by the forward (as PyTorch's indices). */
#ifndef NNC_RT_POOL_H
#define NNC_RT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conv.h"

/* An output whose window lies wholly in the padding has no argmax. (A
 * plane holds at most LOWER_MAX_UNITS values, so indices fit 32 bits.) */
#define RT_POOL_NO_ARG UINT32_MAX

/* max pooling like nn.MaxPool2d(kernel, stride, padding) (dilation via dil_h/dil_w, padding is -inf,
 * ceil_mode false); arg (NULL: not needed) gets each output's argmax, its index in the input plane
 * (the first maximum in scan order, as PyTorch) */
void rt_maxpool_forward(const RtWindow *w, size_t rows, const float *x, float *y, uint32_t *arg);
/* routes dy to the argmax of each window (arg from the forward); writes or (dx_add) adds dx */
void rt_maxpool_backward(const RtWindow *w, size_t rows, const uint32_t *arg, const float *dy,
                         float *dx, bool dx_add);
/* nn.AvgPool2d(kernel, stride, padding, count_include_pad = True): divisor is k_h*k_w (padding counts) */
void rt_avgpool_forward(const RtWindow *w, size_t rows, const float *x, float *y);
void rt_avgpool_backward(const RtWindow *w, size_t rows, const float *dy, float *dx, bool dx_add);
/* global pooling over `spatial` values per channel: x [rows][c][spatial] -> y [rows][c] */
void rt_global_avgpool_forward(size_t rows, size_t c, size_t spatial, const float *x, float *y);
void rt_global_avgpool_backward(size_t rows, size_t c, size_t spatial, const float *dy, float *dx, bool dx_add);
void rt_global_maxpool_forward(size_t rows, size_t c, size_t spatial, const float *x, float *y);
void rt_global_maxpool_backward(size_t rows, size_t c, size_t spatial, const float *x, const float *dy, float *dx, bool dx_add);

#endif
