/* The kernels of the layers that see a sample as a tensor (convolutions,
 * pooling, batchnorm) and of the graph ops (add, concat), wired to the op
 * table of src/runtime/ops.c: each function reads its shapes from the node
 * (a->node) and calls the batch kernels of conv.c, pool.c and batchnorm.c. */
#ifndef NNC_RT_OPS_LAYERS_H
#define NNC_RT_OPS_LAYERS_H

#include "ops.h"

void rt_conv_op_forward(RtOpArgs *a);
void rt_conv_op_backward(RtOpArgs *a);
size_t rt_conv_op_workspace(const IrNode *n, size_t rows);
size_t rt_conv_op_scratch(const IrNode *n, size_t rows);
size_t rt_maxpool_op_scratch(const IrNode *n, size_t rows);
void rt_maxpool_op_forward(RtOpArgs *a);
void rt_maxpool_op_backward(RtOpArgs *a);
void rt_avgpool_op_forward(RtOpArgs *a);
void rt_avgpool_op_backward(RtOpArgs *a);
void rt_global_avgpool_op_forward(RtOpArgs *a);
void rt_global_avgpool_op_backward(RtOpArgs *a);
void rt_global_maxpool_op_forward(RtOpArgs *a);
void rt_global_maxpool_op_backward(RtOpArgs *a);
void rt_batchnorm_op_forward(RtOpArgs *a);
void rt_batchnorm_op_backward(RtOpArgs *a);
size_t rt_batchnorm_op_scratch(const IrNode *n, size_t rows);
void rt_add_op_forward(RtOpArgs *a);
void rt_add_op_backward(RtOpArgs *a);
void rt_concat_op_forward(RtOpArgs *a);
void rt_concat_op_backward(RtOpArgs *a);

#endif
