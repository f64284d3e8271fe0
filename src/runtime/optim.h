/* The runtime's optimizer table, indexed by OptimKind like ir_optims: how
 * many state buffers each keeps and its step function, each with PyTorch's
 * exact update formula (torch.optim.SGD, Adam, AdamW and RMSprop with
 * every argument but maximize, foreach and capturable). */
#ifndef NNC_RT_OPTIM_H
#define NNC_RT_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/ir.h"

enum { RT_OPTIM_MAX_STATE = 3 }; /* the most state buffers of any optimizer */

/* Updates one contiguous run of n parameters p from their gradients g;
 * state[0 .. n_state) are the optimizer's buffers for the same run (n
 * floats each, zero before step 1); step counts updates from 1. */
typedef void RtOptimStep(const IrOptimizer *o, long step, size_t n, float *p, const float *g,
                         float *const *state);

typedef struct RtOptim {
    size_t n_state;     /* the most it keeps (rt_optim_n_state: for o's flags) */
    RtOptimStep *step;
} RtOptim;

extern const RtOptim rt_optims[OPTIM_COUNT];

/* The state buffers o keeps with its flags (amsgrad's maximum or not). */
size_t rt_optim_n_state(const IrOptimizer *o);

/* One step of o on the run of n parameters starting at offset off of the
 * arrays the state buffers (rt_optims[o->kind].n_state, like all the
 * parameters; the plan holds them) cover. */
void rt_optim_step(const IrOptimizer *o, long step, float *const *state, size_t off, size_t n,
                   float *p, const float *g);

#endif
