/* Tensor layers and graph ops: the op-table side of conv.c, pool.c and
 * batchnorm.c. A 1-D op's [C, L] is the 2-D kernels' [C, 1, L] with a
 * trivial height (kernel 1, stride 1, no padding), so one kernel serves
 * conv1d and conv2d, and each pooling pair. */
#include <string.h>

#include "batchnorm.h"
#include "conv.h"
#include "ops_layers.h"
#include "pool.h"

/* [C, L] as [C, 1, L]; [C, H, W] as is. */
static void tensor_chw(const IrShape *s, size_t *c, size_t *h, size_t *w)
{
    *c = s->dim[0];
    *h = s->rank == 3 ? s->dim[1] : 1;
    *w = s->rank == 3 ? s->dim[2] : s->rank == 2 ? s->dim[1] : 1;
}

static RtWindow node_window(const IrNode *n, const IrWindow *win, size_t groups)
{
    RtWindow w = {0};
    tensor_chw(&n->in_shape, &w.in_c, &w.in_h, &w.in_w);
    tensor_chw(&n->shape, &w.out_c, &w.out_h, &w.out_w);
    w.k_h = win->kernel[0], w.k_w = win->kernel[1];
    w.stride_h = win->stride[0], w.stride_w = win->stride[1];
    w.pad_h = win->padding[0], w.pad_w = win->padding[1];
    w.dil_h = win->dilation[0], w.dil_w = win->dilation[1];
    w.groups = groups;
    return w;
}

static RtWindow conv_window(const IrNode *n)
{
    return node_window(n, &n->cfg.conv.win, n->cfg.conv.groups);
}

/* ---- conv1d, conv2d ------------------------------------------------------ */

/* Evaluation uses the fixed-order products (like dense), training BLAS. */
void rt_conv_op_forward(RtOpArgs *a)
{
    RtWindow w = conv_window(a->node);
    rt_conv_forward(&w, a->rows, a->x, a->param[0], a->node->cfg.conv.bias ? a->param[1] : NULL,
                    a->y, a->work, a->training ? a->scratch : NULL, !a->training, a->relu_out);
}

void rt_conv_op_backward(RtOpArgs *a)
{
    RtWindow w = conv_window(a->node);
    rt_conv_backward(&w, a->rows, a->x, a->param[0], a->dy, a->relu_out ? a->y : NULL, a->grad[0],
                     a->node->cfg.conv.bias ? a->grad[1] : NULL, a->dx, a->dx_add, a->work,
                     a->scratch);
}

/* Training keeps the forward's im2col (when small enough) in the scratch. */
size_t rt_conv_op_scratch(const IrNode *n, size_t rows)
{
    RtWindow w = conv_window(n);
    return rt_conv_keep_floats(&w, rows);
}

size_t rt_conv_op_workspace(const IrNode *n, size_t rows)
{
    RtWindow w = conv_window(n);
    return rt_conv_workspace(&w, rows);
}

/* ---- pooling ----------------------------------------------------------- */

static RtWindow pool_window(const IrNode *n)
{
    return node_window(n, &n->cfg.pool.win, 1);
}

/* Training keeps each output's argmax in the scratch, for the backward. */
static uint32_t *maxpool_args(const RtOpArgs *a)
{
    _Static_assert(sizeof(uint32_t) == sizeof(float), "an argmax takes one scratch float");
    return (uint32_t *)(void *)a->scratch;
}

void rt_maxpool_op_forward(RtOpArgs *a)
{
    RtWindow w = pool_window(a->node);
    rt_maxpool_forward(&w, a->rows, a->x, a->y, a->training ? maxpool_args(a) : NULL);
}

void rt_maxpool_op_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    RtWindow w = pool_window(a->node);
    rt_maxpool_backward(&w, a->rows, maxpool_args(a), a->dy, a->dx, a->dx_add);
}

size_t rt_maxpool_op_scratch(const IrNode *n, size_t rows)
{
    return rows * n->units;
}

void rt_avgpool_op_forward(RtOpArgs *a)
{
    RtWindow w = pool_window(a->node);
    rt_avgpool_forward(&w, a->rows, a->x, a->y);
}

void rt_avgpool_op_backward(RtOpArgs *a)
{
    if (!a->dx)
        return;
    RtWindow w = pool_window(a->node);
    rt_avgpool_backward(&w, a->rows, a->dy, a->dx, a->dx_add);
}

/* Global pools see [C, spatial]: the input's units over its channels. */
static size_t spatial_of(const IrNode *n)
{
    return n->in_units / n->in_shape.dim[0];
}

void rt_global_avgpool_op_forward(RtOpArgs *a)
{
    rt_global_avgpool_forward(a->rows, a->out, spatial_of(a->node), a->x, a->y);
}

void rt_global_avgpool_op_backward(RtOpArgs *a)
{
    if (a->dx)
        rt_global_avgpool_backward(a->rows, a->out, spatial_of(a->node), a->dy, a->dx, a->dx_add);
}

void rt_global_maxpool_op_forward(RtOpArgs *a)
{
    rt_global_maxpool_forward(a->rows, a->out, spatial_of(a->node), a->x, a->y);
}

void rt_global_maxpool_op_backward(RtOpArgs *a)
{
    if (a->dx)
        rt_global_maxpool_backward(a->rows, a->out, spatial_of(a->node), a->x, a->dy, a->dx,
                                   a->dx_add);
}

/* ---- batchnorm --------------------------------------------------------- */

/* Tensors: weight, bias (train), running_mean, running_var,
 * num_batches_tracked (buffers), as batchnorm_params declares them. */
enum { BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR, BN_TRACKED };

static RtBatchnorm node_batchnorm(const IrNode *n)
{
    size_t c = n->shape.dim[0];
    return (RtBatchnorm){c, n->units / c, (float)n->cfg.batchnorm.momentum,
                         (float)n->cfg.batchnorm.eps};
}

/* Training: batch statistics, and the running ones updated (model.train());
 * evaluation: the running statistics (model.eval()). */
void rt_batchnorm_op_forward(RtOpArgs *a)
{
    RtBatchnorm bn = node_batchnorm(a->node);
    if (!a->training) {
        rt_batchnorm_eval_forward(&bn, a->rows, a->x, a->param[BN_WEIGHT], a->param[BN_BIAS],
                                  a->param[BN_MEAN], a->param[BN_VAR], a->y, a->relu_out);
        return;
    }
    rt_batchnorm_train_forward(&bn, a->rows, a->x, a->param[BN_WEIGHT], a->param[BN_BIAS],
                               a->buffer[BN_MEAN], a->buffer[BN_VAR], a->y, a->scratch, a->relu_out);
    a->buffer[BN_TRACKED][0] += 1.0f;
}

void rt_batchnorm_op_backward(RtOpArgs *a)
{
    RtBatchnorm bn = node_batchnorm(a->node);
    rt_batchnorm_backward(&bn, a->rows, a->x, a->param[BN_WEIGHT], a->scratch, a->dy,
                          a->relu_out ? a->y : NULL, a->grad[BN_WEIGHT], a->grad[BN_BIAS], a->dx,
                          a->dx_add);
}

/* The batch mean and 1/sqrt(var + eps) of every channel. */
size_t rt_batchnorm_op_scratch(const IrNode *n, size_t rows)
{
    (void)rows;
    return 2 * n->shape.dim[0];
}

/* ---- add, concat ------------------------------------------------------- */

void rt_add_op_forward(RtOpArgs *a)
{
    size_t n = a->rows * a->out;
    float *y = a->y;
    memcpy(y, a->xs[0], n * sizeof *y);
    for (size_t k = 1; k < a->n_in; k++) {
        const float *x = a->xs[k];
        for (size_t i = 0; i < n; i++)
            y[i] += x[i];
    }
}

/* Every input gets dy itself. */
void rt_add_op_backward(RtOpArgs *a)
{
    size_t n = a->rows * a->out;
    const float *dy = a->dy;
    for (size_t k = 0; k < a->n_in; k++) {
        float *dx = a->dxs[k];
        if (!dx)
            continue;
        if (!a->dxs_add[k]) {
            memcpy(dx, dy, n * sizeof *dx);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            dx[i] += dy[i];
    }
}

/* Per sample, the inputs' tensors one after another: channels first, so
 * joining along the channels is joining the samples' blocks. */
void rt_concat_op_forward(RtOpArgs *a)
{
    for (size_t r = 0; r < a->rows; r++) {
        float *y = a->y + r * a->out;
        for (size_t k = 0; k < a->n_in; k++) {
            size_t in = a->in_sizes[k];
            memcpy(y, a->xs[k] + r * in, in * sizeof *y);
            y += in;
        }
    }
}

/* Each input gets its block of dy back. */
void rt_concat_op_backward(RtOpArgs *a)
{
    for (size_t r = 0; r < a->rows; r++) {
        const float *dy = a->dy + r * a->out;
        for (size_t k = 0; k < a->n_in; k++) {
            size_t in = a->in_sizes[k];
            float *dx = a->dxs[k] ? a->dxs[k] + r * in : NULL;
            if (dx && a->dxs_add[k]) {
                for (size_t i = 0; i < in; i++)
                    dx[i] += dy[i];
            } else if (dx) {
                memcpy(dx, dy, in * sizeof *dx);
            }
            dy += in;
        }
    }
}
