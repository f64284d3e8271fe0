/* Internal state of a runtime session, and the steps it runs. The layers,
 * each calling only the ones before it: kernels (ops.c, gemm.c, loss.c,
 * optim.c) <- plan.c (parameters' layout, buffers, passes) <- eval.c <-
 * train.c <- session.c (the program's steps); report.c draws and prints for
 * all of them. */
#ifndef NNC_RT_SESSION_H
#define NNC_RT_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "loss.h"
#include "nnc/runtime.h"
#include "plan.h"
#include "rng.h"

struct RtSession {
    const IrProgram *prog;
    RtOptions opt;        /* with --json, opt.out is /dev/null: the report is dropped */
    RtModel *models;
    FILE *json_out;       /* --json: where the document goes (the caller's out) */
    struct cJSON *json;   /* --json: the document being built, else NULL */
    struct cJSON *json_steps;
    bool progress;        /* a progress bar may be drawn on stderr */
    bool color;           /* ... in colour */
    bool diverged;        /* a training stopped on a NaN or infinite loss or parameter */
};

/* How an evaluation judges a row (see eval.c). */
typedef enum RtEvalKind {
    RT_EVAL_BINARY,     /* 0/1 targets: output > 0.5 is class 1 */
    RT_EVAL_ARGMAX,     /* labels or one-hot targets: argmax of the outputs */
    RT_EVAL_REGRESSION, /* real-valued targets: no classes, report MSE */
    RT_EVAL_OUTPUTS,    /* no targets at all: print the outputs only */
} RtEvalKind;

typedef struct RtScore {
    RtEvalKind kind;
    size_t rows, correct;
    double mse;
} RtScore;

/* Scores the model on ds in evaluation mode (dropout off), in chunks of
 * pl->max_rows, without printing. */
void rt_eval_score(RtPlan *pl, const IrDataset *ds, RtScore *out);

/* Scores given outputs [ds->rows][m->out_units] of model m on ds as
 * rt_eval_score scores the float network's (the int8 evaluation). */
void rt_eval_score_outputs(const IrDataset *ds, const IrModel *m, const float *outputs,
                           RtScore *out);
/* --quantize int8: after evaluate step e, the same rows through the
 * quantized network, float and int8 scores side by side (quant_eval.c). */
bool rt_quant_eval_run(RtSession *s, const IrEval *e, Diag *d);

/* How evaluation scores model m on ds: argmax, per-output bits, mse, ... */
RtEvalKind rt_eval_kind(const IrDataset *ds, const IrModel *m);

/* Scores the model on ds like rt_eval_score and returns its mean loss
 * under `loss` (the row-weighted mean over chunks); scratch takes the
 * loss's gradient, pl->max_rows x the model's outputs floats. */
double rt_eval_loss(RtPlan *pl, const IrDataset *ds, const IrLoss *loss, float *scratch,
                    RtScore *out);

/* "NODE.suffix", the tensor's key in weights files, malloc'd (NULL when
 * out of memory). */
char *rt_weights_key(const RtModel *m, const RtParamTensor *pt);

bool rt_train_run(RtSession *s, const IrTrain *t, Diag *d);
bool rt_eval_run(RtSession *s, const IrEval *e, Diag *d);

#endif
