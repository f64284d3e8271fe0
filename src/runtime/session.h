/* Internal state of a runtime session: parameters per model, and the
 * buffer plan that forward/backward passes run in. Shared by session.c
 * (parameters, summary), plan.c (passes), train.c and eval.c. */
#ifndef NNC_RT_SESSION_H
#define NNC_RT_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "loss.h"
#include "nnc/runtime.h"
#include "rng.h"

/* The parameters of one model: every dense node's weight [units][in] then
 * bias [units], node after node, in one array. */
typedef struct RtModel {
    const IrModel *ir;
    float *params;
    size_t *offset;       /* per node: index of its weight in params */
    size_t n_params;
    size_t n_trainable;
    size_t first_trainable; /* first non-frozen dense node; n_nodes if none */
    bool summarized;      /* the summary is printed once, before first use */
} RtModel;

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

/* Every buffer one model needs to run batches of up to max_rows rows,
 * allocated once before a training or evaluation loop: nothing inside the
 * loop allocates. */
typedef struct RtPlan {
    RtModel *model;
    size_t max_rows;
    const float *x;       /* the current batch's input (node 0's output) */
    float **y;            /* per node [max_rows][units]; y[0] unused */
    float **dy;           /* per node, gradients (training plans only) */
    float **mask;         /* per dropout node (training plans only) */
    float *grads;         /* like RtModel.params */
    float *state1, *state2; /* optimizer state, like params */
    size_t *order;        /* row order of the dataset, shuffled per epoch */
    float *bx, *by;       /* gathered mini-batch inputs and targets */
} RtPlan;

/* Size of a matrix, or 0 with *ok = false on overflow. */
size_t rt_size_mul(size_t a, size_t b, bool *ok);

/* Checks, before rt_plan_init, that a plan of max_rows rows for m (and the
 * parameters) fits in mem_limit_bytes(), so a too-large batch or layer gets a
 * diagnostic at loc instead of the kernel's OOM killer mid-run. */
bool rt_plan_fits(const RtModel *m, size_t max_rows, const IrDataset *ds, bool training,
                  Loc loc, Diag *d);

/* Allocates a plan; ds (may be NULL) sizes the gather buffers and the row
 * order for training. Reports out of memory through d. */
bool rt_plan_init(RtPlan *pl, RtModel *m, size_t max_rows,
                  const IrDataset *ds, bool training, Diag *d);
void rt_plan_free(RtPlan *pl);
/* Runs every node on rows rows of x; returns the last node's output. */
const float *rt_plan_forward(RtPlan *pl, const float *x, size_t rows,
                             bool training, RtRng *rng);
/* Back-propagates from dy of the last node (which the loss wrote), adding
 * into pl->grads (the caller zeroes them). Stops below the first trainable
 * node: nothing there needs a gradient. */
void rt_plan_backward(RtPlan *pl, size_t rows);
/* Output of node i for the last forward pass. */
const float *rt_plan_node_out(const RtPlan *pl, size_t i);

/* Targets of a dataset for a model: labels when the dataset declares
 * classes, or has one target column but the model several outputs. */
bool rt_targets_are_labels(const IrDataset *ds, const IrModel *m);

/* Prints the model like PyTorch's print(model), plus its parameter count,
 * unless it was printed already or the session is quiet. */
void rt_model_summarize(RtSession *s, RtModel *m);

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

/* --json: a new object {"step": kind} appended to the steps, or NULL
 * when not --json (or out of memory; the document then reports ok false). */
struct cJSON *rt_json_step(RtSession *s, const char *kind);

/* After a plot was written: "wrote PATH" unless --quiet (on stderr with
 * --json), and the path in the step's "plots" array when json_step. */
void rt_plot_written(RtSession *s, struct cJSON *json_step, const char *path);

bool rt_train_run(RtSession *s, const IrTrain *t, Diag *d);
bool rt_eval_run(RtSession *s, const IrEval *e, Diag *d);

#endif
