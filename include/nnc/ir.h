/* The checked IR: what the front end hands to the runtime and the emitters.
 * Everything here is already validated: shapes agree, values are in range,
 * names resolve. Later stages never look at the AST. All memory belongs to
 * the Arena the program was lowered into. */
#ifndef NNC_IR_H
#define NNC_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nnc/diag.h"

/* ---- The op table: one row per layer kind. ----------------------------- */

typedef enum OpKind {
    OP_INPUT,
    OP_DENSE,
    OP_DROPOUT,
    OP_STEP,
    OP_SIGMOID,
    OP_TANH,
    OP_RELU,
    OP_LEAKY_RELU,
    OP_SOFTMAX,
    OP_IDENTITY,
    OP_COUNT
} OpKind;

typedef enum OpArg {
    OPARG_NONE,  /* relu */
    OPARG_UNITS, /* dense N: a positive integer */
    OPARG_PROB,  /* dropout P: 0 <= P < 1 */
    OPARG_SLOPE, /* leaky_relu A: a number, default 0.01 */
} OpArg;

typedef struct OpInfo {
    const char *name;       /* keyword in .nn files: "dense", "relu" */
    const char *torch_name; /* for the summary: "Linear", "ReLU" */
    OpArg arg;
    bool arg_optional;      /* leaky_relu's slope may be omitted */
    double arg_default;
    bool activation;        /* may follow ", " on a dense line */
    bool has_params;        /* weight and bias */
    bool elementwise;       /* output shape == input shape */
} OpInfo;

extern const OpInfo ir_ops[OP_COUNT];
/* Looks an op up by its .nn name; returns false when there is none. */
bool ir_op_lookup(const char *name, OpKind *out);

/* ---- Models ------------------------------------------------------------ */

/* One node of a model's graph. A model is a chain: node i reads node i-1.
 * A line `hidden: dense 2, relu` lowers to two nodes, "hidden" (dense) and
 * "hidden.relu" (relu), both with layer == "hidden"; `show = hidden` shows the
 * last node of the layer. */
typedef struct IrNode {
    OpKind op;
    const char *name;   /* unique within the model; keys of saved weights */
    const char *layer;  /* user-visible layer name of the line */
    size_t in_units;
    size_t units;       /* output width */
    double arg;         /* dropout p, leaky_relu slope; unused otherwise */
    /* For OP_DENSE: starting values from a parameter block, or NULL to
     * initialise like nn.Linear from the run's seed. weight is [units][in]. */
    const float *weight_init;
    const float *bias_init;
    bool frozen;
    Loc loc;
} IrNode;

typedef struct IrModel {
    const char *name;
    IrNode *nodes;      /* nodes[0] is OP_INPUT */
    size_t n_nodes;
    size_t in_units;
    size_t out_units;
    size_t n_params;    /* total weights + biases */
    Loc loc;
} IrModel;

/* ---- Datasets ---------------------------------------------------------- */

/* How a declared dataset is built, for emitters that rebuild it elsewhere
 * (--target pytorch): the raw values or the CSV file, then scale, split and
 * normalize in lower_data.c's order. Shared by NAME, NAME.train, NAME.test. */
typedef enum DataPart { DATA_WHOLE, DATA_TRAIN, DATA_TEST } DataPart;
typedef enum DataNorm { NORM_NONE, NORM_MINMAX, NORM_STANDARD } DataNorm;

typedef struct IrDataSource {
    const char *name;     /* as declared: "digits" */
    const char *csv;      /* the path as written (relative to the .nn file), or NULL */
    int header;           /* csv: -1 auto, 0 no, 1 yes */
    long target;          /* csv: the label's column, -1 = last */
    const float *raw_x;   /* inline: x as written, before scale [rows][x_cols] */
    const float *raw_y;   /* inline: y as written [rows][y_cols], NULL without y */
    size_t rows, x_cols, y_cols;
    int classes;          /* as the dataset's */
    bool has_scale;
    double scale;
    DataNorm normalize;
    bool has_split;
    double split;         /* fraction of rows for NAME.train */
    uint64_t seed;        /* of the split's shuffle */
} IrDataSource;

typedef struct IrDataset {
    const char *name;   /* "xor", or "digits.train" for a split */
    size_t rows;
    size_t x_cols;
    size_t y_cols;      /* 1 for labels or a single target */
    const float *x;     /* [rows][x_cols] */
    const float *y;     /* [rows][y_cols] */
    int classes;        /* > 0: y holds integer labels 0..classes-1 */
    const IrDataSource *source; /* how it was built */
    DataPart part;
    Loc loc;
} IrDataset;

/* ---- Training and evaluation ------------------------------------------- */

typedef enum LossKind { LOSS_BCE, LOSS_MSE, LOSS_CROSS_ENTROPY } LossKind;
typedef enum OptimKind { OPTIM_SGD, OPTIM_ADAM } OptimKind;

typedef struct IrOptimizer {
    OptimKind kind;
    double lr;
    double momentum;    /* sgd; default 0 */
    double beta1;       /* adam; defaults as torch.optim.Adam */
    double beta2;
    double eps;
} IrOptimizer;

/* A sweep runs one training per value, all from the same initial weights. */
typedef enum SweepParam {
    SWEEP_NONE,
    SWEEP_LR,
    SWEEP_MOMENTUM,
    SWEEP_BETA1,
    SWEEP_BETA2,
    SWEEP_EPS,
    SWEEP_EPOCHS,
    SWEEP_BATCH,
} SweepParam;

typedef struct IrTrain {
    size_t model;       /* index into IrProgram.models */
    size_t dataset;     /* index into IrProgram.datasets */
    LossKind loss;
    IrOptimizer optimizer;
    long epochs;
    size_t batch;       /* rows per step; == dataset rows when not given */
    uint64_t seed;      /* 0 when not given */
    long log_every;     /* epochs between loss lines; default epochs/10 */
    SweepParam sweep;
    const double *sweep_values;
    size_t n_sweep;
    Loc loc;
} IrTrain;

typedef struct IrEval {
    size_t model;
    size_t dataset;
    long show_node;     /* index into the model's nodes, or -1 */
    bool implicit;      /* added because the model was trained, never evaluated */
    Loc loc;
} IrEval;

typedef enum StepKind { STEP_TRAIN, STEP_EVAL } StepKind;

typedef struct IrStep {
    StepKind kind;
    size_t index;       /* into trains or evals */
} IrStep;

typedef struct IrProgram {
    const Source *src;
    IrDataset *datasets;
    size_t n_datasets;
    IrModel *models;
    size_t n_models;
    IrTrain *trains;
    size_t n_trains;
    IrEval *evals;
    size_t n_evals;
    IrStep *steps;      /* what `nnc run` executes, in file order */
    size_t n_steps;
} IrProgram;

/* Stable text form for golden tests (`nnc dump ir`). */
void ir_dump(FILE *out, const IrProgram *p);
const char *ir_loss_name(LossKind k);
const char *ir_optim_name(OptimKind k);
const char *ir_sweep_name(SweepParam s);

#endif
