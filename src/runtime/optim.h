/* Optimizers with PyTorch's exact update formulas (torch.optim.SGD and
 * torch.optim.Adam, default flags: no weight decay, no nesterov, no
 * dampening, no amsgrad). Each call updates one contiguous run of
 * parameters; the caller skips frozen ones. */
#ifndef NNC_RT_OPTIM_H
#define NNC_RT_OPTIM_H

#include <stddef.h>

#include "nnc/ir.h"

/* buf is the momentum buffer (n floats); step is 1 for the first update,
 * where PyTorch sets buf = g instead of decaying a zero buffer. */
void rt_sgd_step(const IrOptimizer *o, long step, size_t n, float *p,
                 const float *g, float *buf);

/* m and v are Adam's moment estimates (n floats each, zero before step 1);
 * step counts updates from 1. */
void rt_adam_step(const IrOptimizer *o, long step, size_t n, float *p,
                  const float *g, float *m, float *v);

#endif
