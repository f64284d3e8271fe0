/* The train block's tables: every loss, optimizer and hyperparameter nnc
 * knows, defined once. The checker validates train blocks against them,
 * `dump ir`, the training log, --json and the PyTorch emitter print from
 * them; src/runtime/loss.c and optim.c index their own by the same kinds. */
#include <math.h>
#include <string.h>

#include "nnc/ir.h"

/* n_args and args from one list. */
#define ARGS(...) sizeof((OptimArg[]){__VA_ARGS__}) / sizeof(OptimArg), {__VA_ARGS__}

/* ---- losses ------------------------------------------------------------ */

/* Arguments with the torch.nn module's defaults. */
const LossInfo ir_losses[LOSS_COUNT] = {
    [LOSS_BCE] = {"bce", "BCELoss", NULL},
    [LOSS_MSE] = {"mse", "MSELoss", NULL},
    [LOSS_CROSS_ENTROPY] = {"cross_entropy", "CrossEntropyLoss",
                            "on logits: it applies softmax itself",
                            ARGS({HP_LABEL_SMOOTHING, 0})},
    [LOSS_BCE_LOGITS] = {"bce_logits", "BCEWithLogitsLoss",
                         "on logits: it applies sigmoid itself", .binary_logits = true},
    [LOSS_L1] = {"l1", "L1Loss", NULL},
    [LOSS_HUBER] = {"huber", "HuberLoss", NULL, ARGS({HP_DELTA, 1.0})},
};
_Static_assert(sizeof ir_losses / sizeof *ir_losses == LOSS_COUNT, "one row per LossKind");

const char *ir_loss_name(LossKind k)
{
    return (unsigned)k < LOSS_COUNT ? ir_losses[k].name : "?";
}

bool ir_loss_arg_differs(const IrLoss *l, size_t i)
{
    const OptimArg *a = &ir_losses[l->kind].args[i];
    return l->hyper[a->hp] != a->def;
}

/* ---- hyperparameters --------------------------------------------------- */

#define POSITIVE {0, INFINITY, true, false, false} /* > 0 */
#define UNIT {0, 1, false, true, false}            /* [0, 1) */
#define COUNT {1, IR_MAX_COUNT, false, false, true}
#define FRACTION {0, 1, false, false, false}       /* [0, 1] */
#define NONNEG {0, INFINITY, false, false, false}  /* >= 0 */
#define NONNEG_COUNT {0, IR_MAX_COUNT, false, false, true}
#define BOOL {0}

const HyperInfo ir_hypers[HP_COUNT] = {
    [HP_LR]       = {"lr", POSITIVE, true, "lr"},
    [HP_MOMENTUM] = {"momentum", UNIT, true, "momentum"},
    [HP_BETA1]    = {"beta1", UNIT, true, "betas"},
    [HP_BETA2]    = {"beta2", UNIT, true, "betas"},
    [HP_EPS]      = {"eps", POSITIVE, true, "eps"},
    [HP_ALPHA]    = {"alpha", UNIT, true, "alpha"},
    [HP_CENTERED] = {"centered", BOOL, false, "centered", HYPER_BOOL},
    [HP_DAMPENING] = {"dampening", FRACTION, true, "dampening"},
    [HP_NESTEROV] = {"nesterov", BOOL, false, "nesterov", HYPER_BOOL},
    [HP_WEIGHT_DECAY] = {"weight_decay", NONNEG, true, "weight_decay"},
    [HP_AMSGRAD]  = {"amsgrad", BOOL, false, "amsgrad", HYPER_BOOL},
    [HP_EPOCHS]   = {"epochs", COUNT, true, NULL},
    [HP_BATCH]    = {"batch", COUNT, true, NULL},
    [HP_LABEL_SMOOTHING] = {"label_smoothing", FRACTION, false, "label_smoothing"},
    [HP_DELTA]    = {"delta", POSITIVE, false, "delta"},
    [HP_EVERY]    = {"every", COUNT, true, "step_size"},
    [HP_GAMMA]    = {"gamma", POSITIVE, true, "gamma"},
    [HP_WARMUP]   = {"warmup", NONNEG_COUNT, true, "warmup"},
    [HP_MIN_LR]   = {"min_lr", NONNEG, true, "eta_min"},
};
_Static_assert(sizeof ir_hypers / sizeof *ir_hypers == HP_COUNT, "one row per HyperParam");

const char *ir_hyper_name(HyperParam h)
{
    return (unsigned)h < HP_COUNT ? ir_hypers[h].name : "?";
}

/* ---- optimizers -------------------------------------------------------- */

/* Arguments in language.md's order (torch.optim's, except that sgd's
 * nesterov comes before weight_decay and rmsprop's weight_decay last, so
 * that older positional calls keep their meaning) with torch.optim's
 * defaults, except that sgd, adam and adamw require lr (torch.optim.Adam
 * would take 1e-3). */
const OptimInfo ir_optims[OPTIM_COUNT] = {
    [OPTIM_SGD]  = {"sgd", "SGD", ARGS({HP_LR, NAN}, {HP_MOMENTUM, 0}, {HP_DAMPENING, 0},
                                       {HP_NESTEROV, 0}, {HP_WEIGHT_DECAY, 0})},
    [OPTIM_ADAM] = {"adam", "Adam",
                    ARGS({HP_LR, NAN}, {HP_BETA1, 0.9}, {HP_BETA2, 0.999}, {HP_EPS, 1e-8},
                         {HP_WEIGHT_DECAY, 0}, {HP_AMSGRAD, 0})},
    [OPTIM_ADAMW] = {"adamw", "AdamW",
                     ARGS({HP_LR, NAN}, {HP_BETA1, 0.9}, {HP_BETA2, 0.999}, {HP_EPS, 1e-8},
                          {HP_WEIGHT_DECAY, 0.01}, {HP_AMSGRAD, 0})},
    [OPTIM_RMSPROP] = {"rmsprop", "RMSprop",
                       ARGS({HP_LR, 0.01}, {HP_ALPHA, 0.99}, {HP_EPS, 1e-8}, {HP_MOMENTUM, 0},
                            {HP_CENTERED, 0}, {HP_WEIGHT_DECAY, 0})},
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

/* ---- schedules --------------------------------------------------------- */

/* torch.optim.lr_scheduler's defaults where it has one (StepLR's gamma
 * 0.1); step needs every and exponential its gamma, as their classes do.
 * torch names the classes train.py builds; cosine's warm-up is a LinearLR
 * before CosineAnnealingLR there. */
const ScheduleInfo ir_schedules[SCHED_COUNT] = {
    [SCHED_CONSTANT] = {"constant", "ConstantLR", 0, {{0}}},
    [SCHED_STEP] = {"step", "StepLR", ARGS({HP_EVERY, NAN}, {HP_GAMMA, 0.1})},
    [SCHED_EXPONENTIAL] = {"exponential", "ExponentialLR", ARGS({HP_GAMMA, NAN})},
    [SCHED_COSINE] = {"cosine", "CosineAnnealingLR", ARGS({HP_WARMUP, 0}, {HP_MIN_LR, 0})},
};
_Static_assert(sizeof ir_schedules / sizeof *ir_schedules == SCHED_COUNT, "one row per ScheduleKind");

const char *ir_schedule_name(ScheduleKind k)
{
    return (unsigned)k < SCHED_COUNT ? ir_schedules[k].name : "?";
}

/* math.pi: M_PI is not in C11. */
#define PI 3.14159265358979323846

double ir_schedule_lr(const IrSchedule *s, double lr, long epoch, long epochs)
{
    double e = (double)epoch;
    switch (s->kind) {
    case SCHED_CONSTANT: return lr;
    case SCHED_STEP: return lr * pow(s->hyper[HP_GAMMA], floor(e / s->hyper[HP_EVERY]));
    case SCHED_EXPONENTIAL: return lr * pow(s->hyper[HP_GAMMA], e);
    case SCHED_COSINE: {
        double w = s->hyper[HP_WARMUP], min = s->hyper[HP_MIN_LR];
        if (e < w)
            return lr * (e + 1.0) / w;
        /* --epochs may cut a run to its warm-up: the last epoch anneals fully. */
        double span = (double)epochs - w > 0 ? (double)epochs - w : 1.0;
        return min + (lr - min) * (1.0 + cos(PI * (e - w) / span)) / 2.0;
    }
    }
    return lr;
}
