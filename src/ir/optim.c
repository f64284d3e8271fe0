/* The train block's tables: every loss, optimizer and hyperparameter nnc
 * knows, defined once. The checker validates train blocks against them,
 * `dump ir`, the training log, --json and the PyTorch emitter print from
 * them; src/runtime/loss.c and optim.c index their own by the same kinds. */
#include "nnc/ir.h"

/* ---- losses ------------------------------------------------------------ */

const LossInfo ir_losses[LOSS_COUNT] = {
    [LOSS_BCE] = {"bce", "BCELoss", NULL},
    [LOSS_MSE] = {"mse", "MSELoss", NULL},
    [LOSS_CROSS_ENTROPY] = {"cross_entropy", "CrossEntropyLoss",
                            "on logits: it applies softmax itself"},
};
_Static_assert(sizeof ir_losses / sizeof *ir_losses == LOSS_COUNT, "one row per LossKind");

const char *ir_loss_name(LossKind k)
{
    return (unsigned)k < LOSS_COUNT ? ir_losses[k].name : "?";
}
