/* The train block's tables: every loss, optimizer and hyperparameter nnc
 * knows, defined once. The checker validates train blocks against them,
 * `dump ir`, the training log, --json and the PyTorch emitter print from
 * them; src/runtime/loss.c and optim.c index their own by the same kinds. */
#include <math.h>
#include <string.h>

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

/* ---- hyperparameters --------------------------------------------------- */

#define POSITIVE {0, INFINITY, true, false, false} /* > 0 */
#define UNIT {0, 1, false, true, false}            /* [0, 1) */
#define COUNT {1, IR_MAX_COUNT, false, false, true}

const HyperInfo ir_hypers[HP_COUNT] = {
    [HP_LR]       = {"lr", POSITIVE, true, "lr"},
    [HP_MOMENTUM] = {"momentum", UNIT, true, "momentum"},
    [HP_BETA1]    = {"beta1", UNIT, true, "betas"},
    [HP_BETA2]    = {"beta2", UNIT, true, "betas"},
    [HP_EPS]      = {"eps", POSITIVE, true, "eps"},
    [HP_ALPHA]    = {"alpha", UNIT, true, "alpha"},
    [HP_CENTERED] = {"centered", {0}, false, "centered", HYPER_BOOL},
    [HP_EPOCHS]   = {"epochs", COUNT, true, NULL},
    [HP_BATCH]    = {"batch", COUNT, true, NULL},
};
_Static_assert(sizeof ir_hypers / sizeof *ir_hypers == HP_COUNT, "one row per HyperParam");

const char *ir_hyper_name(HyperParam h)
{
    return (unsigned)h < HP_COUNT ? ir_hypers[h].name : "?";
}

/* ---- optimizers -------------------------------------------------------- */

/* n_args and args from one list. */
#define ARGS(...) sizeof((OptimArg[]){__VA_ARGS__}) / sizeof(OptimArg), {__VA_ARGS__}

/* Arguments in torch.optim's order and with its defaults, except that sgd
 * and adam require lr (torch.optim.Adam would take 1e-3). */
const OptimInfo ir_optims[OPTIM_COUNT] = {
    [OPTIM_SGD]  = {"sgd", "SGD", ARGS({HP_LR, NAN}, {HP_MOMENTUM, 0})},
    [OPTIM_ADAM] = {"adam", "Adam",
                    ARGS({HP_LR, NAN}, {HP_BETA1, 0.9}, {HP_BETA2, 0.999}, {HP_EPS, 1e-8})},
    [OPTIM_RMSPROP] = {"rmsprop", "RMSprop",
                       ARGS({HP_LR, 0.01}, {HP_ALPHA, 0.99}, {HP_EPS, 1e-8}, {HP_MOMENTUM, 0},
                            {HP_CENTERED, 0})},
};
_Static_assert(sizeof ir_optims / sizeof *ir_optims == OPTIM_COUNT, "one row per OptimKind");

const char *ir_optim_name(OptimKind k)
{
    return (unsigned)k < OPTIM_COUNT ? ir_optims[k].name : "?";
}

int ir_optim_arg(OptimKind k, HyperParam hp)
{
    for (size_t i = 0; i < ir_optims[k].n_args; i++)
        if (ir_optims[k].args[i].hp == hp)
            return (int)i;
    return -1;
}

static bool same_keyword(const OptimInfo *info, size_t i, size_t j)
{
    return strcmp(ir_hypers[info->args[i].hp].torch, ir_hypers[info->args[j].hp].torch) == 0;
}

void ir_optim_torch_group(const OptimInfo *info, size_t i, bool *opens, bool *closes)
{
    *opens = i == 0 || !same_keyword(info, i - 1, i);
    *closes = i + 1 == info->n_args || !same_keyword(info, i, i + 1);
}
