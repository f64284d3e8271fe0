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
    OP_GELU,
    OP_SILU,
    OP_ELU,
    OP_SOFTPLUS,
    OP_HARDSWISH,
    OP_HARDSIGMOID,
    OP_SOFTMAX,
    OP_IDENTITY,
    OP_CONV1D,
    OP_CONV2D,
    OP_MAXPOOL1D,
    OP_MAXPOOL2D,
    OP_AVGPOOL1D,
    OP_AVGPOOL2D,
    OP_GLOBAL_AVGPOOL,
    OP_GLOBAL_MAXPOOL,
    OP_FLATTEN,
    OP_BATCHNORM,
    OP_ADD,
    OP_CONCAT,
} OpKind;

/* One past the last kind, outside the enum so that a switch over OpKind
 * lists exactly the kinds: every table indexed by OpKind has OP_COUNT rows
 * (checked with _Static_assert), and every switch over it lists every kind
 * (-Wswitch-enum, an error in every build): a new op does not build until
 * every stage handles it. */
#define OP_COUNT ((int)OP_CONCAT + 1)

/* What one argument of a layer call accepts. The binder (lower_model.c)
 * checks every argument against its row and reports "WHAT must be ...". */
typedef enum OpArgType {
    ARG_COUNT,  /* a positive integer: units, channels, kernel, stride */
    ARG_SIZE,   /* a non-negative integer: padding */
    ARG_PROB,   /* 0 <= p < 1: dropout */
    ARG_NUMBER, /* any number: a slope */
    ARG_POSITIVE, /* a number > 0: eps */
    ARG_FRACTION, /* 0 <= x <= 1: batchnorm's momentum */
    ARG_BOOL,   /* true or false: bias */
} OpArgType;

/* One argument of a layer kind: `conv2d(16, kernel = 3)` binds 16 to the
 * first row by position and 3 to the row named "kernel". */
typedef struct OpArgSpec {
    const char *name;   /* the keyword: "kernel" */
    const char *what;   /* for messages: "kernel size" */
    OpArgType type;
    bool pair;          /* a 2-D op's window argument: N or [h, w] */
    bool required;
    double def;         /* when not given (and def_from < 0) */
    int def_from;       /* when not given: the value of this argument (stride = kernel); -1 */
} OpArgSpec;

/* A bound argument: v[0] = h, v[1] = w for a pair (both the same when one
 * number is written), v[0] for everything else. */
typedef struct OpArgValue {
    double v[2];
    bool given;
} OpArgValue;

enum { OP_MAX_ARGS = 7 };

/* Shapes are per sample (the batch is the runtime's business): rank 1 for
 * features ([N]), 2 for sequences ([C, L]), 3 for images ([C, H, W]).
 * Parameter tensors use up to IR_MAX_RANK dimensions. */
enum { IR_MAX_RANK = 4, IR_MAX_PARAMS = 5 };
/* Layers one node may read (add and concat name them). */
enum { IR_MAX_INPUTS = 64 };

typedef struct IrShape {
    size_t rank;
    size_t dim[IR_MAX_RANK];
} IrShape;

/* How a parameter tensor starts when no parameter block gives it. */
typedef enum IrInit {
    /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): nn.Linear's weight and bias
     * (kaiming_uniform with a = sqrt(5) reduces to that bound). */
    INIT_UNIFORM_FAN_IN,
    INIT_ZEROS,   /* nn.BatchNorm's bias, running_mean, num_batches_tracked */
    INIT_ONES,    /* nn.BatchNorm's weight, running_var */
} IrInit;

/* A trained tensor gets gradients and optimizer steps; a buffer (batchnorm's
 * running statistics) is saved and loaded with the weights but only the op
 * itself changes it, as register_buffer in PyTorch. A node's trained
 * tensors come first, then its buffers. */
typedef enum IrParamRole { PARAM_TRAINED, PARAM_BUFFER } IrParamRole;

/* One parameter tensor of a node, as its op declares it. The runtime lays
 * the tensors of a node out back to back in declaration order. */
typedef struct IrParam {
    const char *suffix;  /* "weight": the key is NODE.suffix, as in state_dict() */
    IrShape shape;
    size_t fan_in;
    IrInit init;
    const char *layout;  /* names of the dimensions for messages: "out, in" */
    IrParamRole role;
} IrParam;

/* A sliding window, [0] along the height and [1] along the width; a 1-D op
 * uses [1] only ([0] is kernel 1, stride 1, padding 0, dilation 1), so one
 * kernel serves both. */
typedef struct IrWindow {
    size_t kernel[2], stride[2], padding[2], dilation[2];
} IrWindow;

/* The configuration of one node, by op kind: what RtOpArgs points to. */
typedef union IrOpConfig {
    struct { size_t units; } dense;
    struct { double p; } dropout;
    struct { double slope; } leaky_relu;
    struct { double alpha; } elu;
    struct { size_t channels, groups; IrWindow win; bool bias; } conv;
    struct { IrWindow win; } pool;
    struct { double momentum, eps; } batchnorm;
} IrOpConfig;

/* Why a node's shape cannot be inferred: the message, and what it is about
 * (the line's kind, or one of its inputs) so the caret lands there. */
enum { IR_AT_KIND = -1, IR_AT_INPUT = 0 };
typedef struct IrShapeError {
    int at;             /* IR_AT_KIND, or IR_AT_INPUT + k for input k */
    char msg[256];
} IrShapeError;

struct IrNode;

typedef struct OpInfo {
    OpKind kind;            /* the row's own kind (a unit test checks the order) */
    const char *name;       /* keyword in .nn files: "dense", "relu" */
    const char *torch_name; /* for the summary: "Linear", "ReLU" */
    const char *example;    /* how a call looks, for "needs ..." messages */
    const OpArgSpec *args;  /* in positional order */
    size_t n_args;
    bool activation;        /* may follow ", " on a layer line */
    bool elementwise;       /* output shape == input shape */
    /* Its positional arguments name the layers it reads (add, concat);
     * other kinds read the line above, or `from = NAME`. */
    bool named_inputs;
    /* Stores the bound arguments (ir_ops[k].args' order) in n->cfg. NULL:
     * nothing to store. */
    void (*configure)(struct IrNode *n, const OpArgValue *args);
    /* n->shape from the input shapes (n->cfg set); false with *err when the
     * inputs do not fit. NULL: the shape of input 0 (elementwise). */
    bool (*infer)(struct IrNode *n, const IrShape *const *in, const char *const *in_names,
                  size_t n_in, IrShapeError *err);
    /* The node's parameter tensors, in layout order, into out; returns how
     * many (at most IR_MAX_PARAMS). NULL for ops without parameters. */
    size_t (*params)(const struct IrNode *n, IrParam out[IR_MAX_PARAMS]);
} OpInfo;

extern const OpInfo ir_ops[OP_COUNT];
/* Looks an op up by its .nn name; returns false when there is none. */
bool ir_op_lookup(const char *name, OpKind *out);
/* Sets n->shape and n->units from the input shapes by n's op; false with
 * *err when they do not fit or a size overflows. */
bool ir_infer_shape(struct IrNode *n, const IrShape *const *in, const char *const *in_names,
                    size_t n_in, IrShapeError *err);
/* "[16, 8, 8]" into buf. */
const char *ir_shape_text(const IrShape *s, char *buf, size_t size);

/* ---- Models ------------------------------------------------------------ */

/* One node of a model's graph. Nodes are in topological order: every input
 * of node i is a node before i, so passes over a model are plain loops.
 * A line `hidden: dense 2, relu` lowers to two nodes, "hidden" (dense) and
 * "hidden.relu" (relu) reading it, both with layer == "hidden"; `show =
 * hidden` shows the last node of the layer. */
typedef struct IrNode {
    OpKind op;
    const char *name;   /* unique within the model; keys of saved weights */
    const char *layer;  /* user-visible layer name of the line */
    const size_t *inputs; /* indices of the nodes read, all < this node's */
    size_t n_inputs;    /* 0 for OP_INPUT */
    IrShape shape;      /* of one sample's output */
    IrShape in_shape;   /* of inputs[0]'s output (rank 0 for OP_INPUT) */
    size_t units;       /* the output's size: the product of shape */
    size_t in_units;    /* the size of inputs[0]'s output (0 for OP_INPUT) */
    IrOpConfig cfg;
    /* Starting values of the parameter tensors (ir_node_params' order) from
     * a parameter block; NULL to initialise by the tensor's IrInit. */
    const float *param_init[IR_MAX_PARAMS];
    bool frozen;        /* its parameters never train */
    Loc loc;
} IrNode;

typedef struct IrModel {
    const char *name;
    IrNode *nodes;      /* nodes[0] is OP_INPUT */
    size_t n_nodes;
    size_t in_units;
    size_t out_units;
    size_t n_params;    /* total size of every node's parameter tensors */
    /* A train block trains it with a loss on logits of class 1 (bce_logits):
     * its output is a logit, not a probability (ir_binary_threshold). */
    bool logit_output;
    Loc loc;
} IrModel;

/* Where a binary output becomes class 1 (output > threshold): 0.5 for a
 * probability, as in the lecture; 0 for a logit (m->logit_output), where
 * sigmoid(z) > 0.5 exactly when z > 0. Evaluation, the decision regions,
 * the emitted C's predict() and train.py's score all use it. */
float ir_binary_threshold(const IrModel *m);

/* The product of the dimensions (the lowering checked it fits a size_t). */
size_t ir_shape_size(const IrShape *s);
/* A rank-1 shape [n]. */
IrShape ir_shape_1d(size_t n);
/* The parameter tensors of n (ir_ops[n->op].params), 0 without any. */
size_t ir_node_params(const IrNode *n, IrParam out[IR_MAX_PARAMS]);
/* The total size of n's parameter tensors into *count; false when it
 * overflows a size_t. The one place a parameter count is computed. */
bool ir_node_param_count(const IrNode *n, size_t *count);
/* The model summary's count (PyTorch's sum(p.numel() for p in
 * parameters())): trained tensors only, not buffers. */
size_t ir_node_trained_count(const IrNode *n);
/* How many of n's tensors have the role (trained ones first, then buffers). */
size_t ir_node_role_count(const IrNode *n, IrParamRole role);

/* The model as PyTorch's print(model) shows it, one line per node after
 * the input, then "Total params: N (M trainable)" (frozen nodes do not
 * train). `nnc run` prints it; the language server shows it on hover. */
void ir_model_summary(FILE *out, const IrModel *m);

/* ---- Datasets ---------------------------------------------------------- */

/* How a declared dataset is built, for emitters that rebuild it elsewhere
 * (--target pytorch): the raw values or the CSV file, then scale, split and
 * normalize in lower_data.c's order. Shared by NAME and its parts. */
typedef enum DataPart { DATA_WHOLE, DATA_TRAIN, DATA_VALID, DATA_TEST } DataPart;
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
    /* normalize's statistics per x column, from the training rows: x' =
     * (x - norm_shift[j]) / norm_div[j] in double (0 when norm_div[j] is 0);
     * NULL without normalize. */
    const double *norm_shift, *norm_div;
    bool has_split;
    double split;         /* fraction of rows for NAME.train */
    double split_valid;   /* ... for NAME.valid (split = [train, valid, test]); 0: none */
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

/* How the targets of ds are read for model m: true for integer labels (one
 * target column, several outputs: cross-entropy over the outputs, argmax to
 * score), false for one value per output (0/1 or real numbers). The
 * runtime and the PyTorch emitter both follow this rule. */
bool ir_targets_are_labels(const IrDataset *ds, const IrModel *m);

/* ---- Training and evaluation ------------------------------------------- */

/* The train block's tables (src/ir/optim.c), each defined once: the
 * checker, `dump ir`, the training log, --json and the PyTorch emitter read
 * them; the runtime indexes its own tables by the same kinds. */

/* Epochs, batch rows and log intervals: at most this many. */
#define IR_MAX_COUNT 1e9

/* A closed, open or half-open interval; integer: whole numbers only. */
typedef struct IrRange {
    double lo, hi;
    bool lo_open, hi_open;
    bool integer;
} IrRange;

/* Every hyperparameter a train block names, as an optimizer, loss or
 * schedule argument or in a sweep: the optimizers' (IrOptimizer.hyper),
 * then epochs and batch, the train block's own, then the losses'
 * (IrLoss.hyper), then the schedules' (IrSchedule.hyper). */
typedef enum HyperParam {
    HP_LR,
    HP_MOMENTUM,
    HP_BETA1,
    HP_BETA2,
    HP_EPS,
    HP_ALPHA,
    HP_CENTERED,
    HP_DAMPENING,
    HP_NESTEROV,
    HP_WEIGHT_DECAY,
    HP_AMSGRAD,
    HP_EPOCHS,
    HP_BATCH,
    HP_LABEL_SMOOTHING,
    HP_DELTA,
    HP_EVERY,
    HP_GAMMA,
    HP_WARMUP,
    HP_MIN_LR,
} HyperParam;

/* One past the last kind, outside the enum like OP_COUNT: tables indexed by
 * the kind have _COUNT rows (_Static_assert), switches list every kind. */
#define HP_COUNT ((int)HP_MIN_LR + 1)

typedef enum HyperType { HYPER_NUMBER, HYPER_BOOL } HyperType;

typedef struct HyperInfo {
    const char *name;   /* the argument and sweep name: "beta1" */
    IrRange range;      /* for the argument, the property and every sweep value */
    bool sweepable;
    /* The torch.optim keyword (or the torch.nn loss's), or NULL (epochs,
     * batch). An optimizer's arguments in a row that share one form a
     * tuple: betas=(beta1, beta2). */
    const char *torch;
    HyperType type;     /* HYPER_BOOL: true or false, stored as 1 or 0 */
} HyperInfo;

extern const HyperInfo ir_hypers[HP_COUNT];
const char *ir_hyper_name(HyperParam h);

typedef enum OptimKind { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP } OptimKind;
#define OPTIM_COUNT ((int)OPTIM_RMSPROP + 1)

enum { OPTIM_MAX_ARGS = 6 };

typedef struct OptimArg {
    HyperParam hp;
    double def;         /* the default (torch.optim's); NAN: required */
} OptimArg;

typedef struct OptimInfo {
    const char *name;   /* in .nn files, dump ir, the log and --json: "adam" */
    const char *torch;  /* the torch.optim class: "Adam" */
    size_t n_args;
    OptimArg args[OPTIM_MAX_ARGS]; /* in positional order */
} OptimInfo;

extern const OptimInfo ir_optims[OPTIM_COUNT];
const char *ir_optim_name(OptimKind k);
/* The position of hp among k's arguments, or -1 when k has none such. */
int ir_optim_arg(OptimKind k, HyperParam hp);
/* Whether argument i of info starts its torch keyword (opens) and whether
 * it ends it (closes); an argument that does not do both is in a tuple. */
void ir_optim_torch_group(const OptimInfo *info, size_t i, bool *opens, bool *closes);

/* An optimizer and its arguments, indexed by HyperParam: the arguments of
 * ir_optims[kind] are set (given or default), every other entry is 0. */
typedef struct IrOptimizer {
    OptimKind kind;
    double hyper[HP_COUNT];
} IrOptimizer;

/* ---- losses: loss = NAME or NAME(args), arguments bound like an
 * optimizer's (rows of ir_hypers with a default). */

typedef enum LossKind {
    LOSS_BCE,
    LOSS_MSE,
    LOSS_CROSS_ENTROPY,
    LOSS_BCE_LOGITS,
    LOSS_L1,
    LOSS_HUBER,
} LossKind;
/* One past the last kind, outside the enum like OP_COUNT: tables indexed by
 * the kind have _COUNT rows (_Static_assert), switches list every kind. */
#define LOSS_COUNT ((int)LOSS_HUBER + 1)

enum { LOSS_MAX_ARGS = 2 };

typedef struct LossInfo {
    const char *name;       /* in .nn files, dump ir, the log and --json */
    const char *torch;      /* the torch.nn module: "BCELoss" */
    const char *torch_note; /* a comment after it in train.py, or NULL */
    size_t n_args;
    /* In positional order, rows like an optimizer's: each argument is a
     * hyperparameter (its ir_hypers row has torch.nn's keyword) and the
     * default is the torch.nn module's. */
    OptimArg args[LOSS_MAX_ARGS];
    /* Its one output is a logit of class 1 (bce_logits): a model trained
     * with it predicts 1 where the output is > 0, not > 0.5. */
    bool binary_logits;
} LossInfo;

extern const LossInfo ir_losses[LOSS_COUNT];
const char *ir_loss_name(LossKind k);

/* A loss and its arguments, indexed by HyperParam like IrOptimizer: the
 * arguments of ir_losses[kind] are set (given or default), others are 0. */
typedef struct IrLoss {
    LossKind kind;
    double hyper[HP_COUNT];
} IrLoss;

/* Whether argument i of l's loss differs from its default. Only those are
 * written (dump ir, the log, train.py), so that `loss = cross_entropy`
 * stays nn.CrossEntropyLoss() as torch users write it. */
bool ir_loss_arg_differs(const IrLoss *l, size_t i);

/* ---- schedules: schedule = NAME or NAME(args), stepped once per epoch
 * like torch.optim.lr_scheduler; arguments bound like an optimizer's. */

typedef enum ScheduleKind { SCHED_CONSTANT, SCHED_STEP, SCHED_EXPONENTIAL, SCHED_COSINE } ScheduleKind;
#define SCHED_COUNT ((int)SCHED_COSINE + 1)

enum { SCHED_MAX_ARGS = 2 };

typedef struct ScheduleInfo {
    const char *name;       /* in .nn files, dump ir, the log and --json */
    const char *torch;      /* what train.py builds: "StepLR" */
    size_t n_args;
    OptimArg args[SCHED_MAX_ARGS]; /* in positional order; NAN: required */
} ScheduleInfo;

extern const ScheduleInfo ir_schedules[SCHED_COUNT];
const char *ir_schedule_name(ScheduleKind k);

/* A schedule and its arguments, indexed by HyperParam like IrOptimizer. */
typedef struct IrSchedule {
    ScheduleKind kind;
    double hyper[HP_COUNT];
} IrSchedule;

/* The learning rate of epoch `epoch` (0-based) of `epochs` from the
 * optimizer's lr, by the closed forms of language.md: step lr*G^floor(e/S),
 * exponential lr*G^e, cosine a linear warm-up over W epochs, lr*(e+1)/W,
 * then M + (lr - M)(1 + cos(pi (e - W)/(E - W)))/2. */
double ir_schedule_lr(const IrSchedule *s, double lr, long epoch, long epochs);

typedef struct IrTrain {
    size_t model;       /* index into IrProgram.models */
    size_t dataset;     /* index into IrProgram.datasets */
    IrLoss loss;
    IrOptimizer optimizer;
    IrSchedule schedule; /* SCHED_CONSTANT when not given */
    bool has_schedule;  /* given: the log shows the lr column */
    double clip_grad;   /* max global L2 norm of the gradients; 0: no clipping */
    bool has_validate;
    size_t validate;    /* index into IrProgram.datasets, when has_validate */
    long early_stop;    /* epochs without a better validation loss; 0: never stop */
    long epochs;
    size_t batch;       /* rows per step; == dataset rows when not given */
    uint64_t seed;      /* 0 when not given */
    long log_every;     /* epochs between loss lines; default epochs/10 */
    HyperParam sweep;   /* the swept hyperparameter, when n_sweep > 0 */
    const double *sweep_values;
    size_t n_sweep;     /* 0: no sweep */
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

#endif
