/* Convolution over a batch, batch first: x [rows][in_c][in_h][in_w] to
 * y [rows][out_c][out_h][out_w], like torch.nn.functional.conv1d/conv2d
 * (zero padding, stride, dilation, groups). A 1-D op is the 2-D one with
 * in_h = out_h = k_h = 1. Products go through rt_gemm (im2col per chunk of samples),
 * and the kernels never allocate: the caller gives rt_conv_workspace
 * floats. RtWindow also describes pooling windows (pool.h). */
#ifndef NNC_RT_CONV_H
#define NNC_RT_CONV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct RtWindow {
    size_t in_c, in_h, in_w;    /* input per sample [in_c][in_h][in_w]; a 1-D op has in_h = 1 */
    size_t out_c, out_h, out_w; /* output per sample */
    size_t k_h, k_w;            /* kernel; 1-D: k_h = 1 */
    size_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w; /* 1-D: 1, 0, 1 in h */
    size_t groups;              /* conv only; pooling has out_c == in_c, groups ignored */
} RtWindow;

/* Floats of col per product at most (a chunk holds at least one sample):
 * 1 MB, so that col stays in a core's L2 cache. */
#define RT_CONV_COL_FLOATS 262144
/* Output positions one partial sum of the parameter gradients covers
 * (conv.c, conv_sum_samples). */
#define RT_CONV_SUM_TERMS 256

/* Floats of workspace rt_conv_forward/backward need for batches of up to
 * rows samples: im2col and its gradient for a chunk of samples, the
 * product's output, and the gather table of one sample. */
size_t rt_conv_workspace(const RtWindow *w, size_t rows);

/* Training keeps the forward's im2col for the backward when it is at most
 * this many floats (16 MB); larger ones are recomputed chunk by chunk. */
#define RT_CONV_KEEP_FLOATS 4194304

/* Floats of a batch of rows's im2col (rows*out_h*out_w*in_c*k_h*k_w), or 0
 * when that is more than RT_CONV_KEEP_FLOATS. */
size_t rt_conv_keep_floats(const RtWindow *w, size_t rows);

/* y[rows][out_c][out_h][out_w] = conv(x) + bias (bias may be NULL), weight [out_c][in_c/groups][k_h][k_w]
 * exactly like torch.nn.functional.conv2d (zero padding, dilation, groups).
 * exact = true: every product through rt_gemm_portable (fixed order; used by evaluation so results are
 * reproducible and match generated C later); false: rt_gemm (BLAS for large products).
 * keep: NULL, or rt_conv_keep_floats floats where the im2col is left for rt_conv_backward.
 * relu: y = relu(conv(x) + bias) instead (a relu folded into the conv). */
void rt_conv_forward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                     const float *bias, float *y, float *work, float *keep, bool exact, bool relu);

/* Adds dL/dweight into dw and dL/dbias into db (either may be NULL = frozen), and writes dx
 * (dx_add false) or adds to it (dx_add true); dx may be NULL (not needed). dy is [rows][out_c][out_h][out_w].
 * Products through rt_gemm (training). keep: the forward's, or NULL (x's im2col is recomputed).
 * relu_y: with a relu folded in, the forward's y, and dy is the gradient of that relu's output
 * (masked here by relu_y > 0); NULL otherwise. */
void rt_conv_backward(const RtWindow *w, size_t rows, const float *x, const float *weight,
                      const float *dy, const float *relu_y, float *dw, float *db, float *dx,
                      bool dx_add, float *work, const float *keep);

/* Shared by conv.c and pool.c: the outputs o in [*lo, *hi) of one axis
 * whose input index o*stride + tap - pad lies in [0, n) (tap = kernel
 * index * dilation). Everything else reads padding. Unsigned throughout:
 * the index is only formed for o >= lo, where it is >= 0. */
static inline void rt_window_span(size_t tap, size_t pad, size_t stride, size_t n,
                                  size_t out, size_t *lo, size_t *hi)
{
    size_t l = tap >= pad ? 0 : (pad - tap + stride - 1) / stride;
    size_t h = n + pad > tap ? (n + pad - tap + stride - 1) / stride : 0;
    h = h < out ? h : out;
    *lo = l < h ? l : h;
    *hi = h;
}

#endif
