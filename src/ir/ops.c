/* The op table: every layer kind nnc knows, defined once, with its
 * arguments, its shape rule and the parameter tensors it declares. The
 * checker binds layer calls against it and infers shapes with it; the
 * runtime and every emitter handle each kind in a table or a switch of
 * their own, and a kind one of them misses fails the build (OP_COUNT in
 * include/nnc/ir.h). Adding an op: its row here, its kernels in
 * src/runtime/ops.c, and whatever each emitter's switch asks for.
 * Output sizes follow PyTorch's formulas (torch.nn.Conv2d's "Shape"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nnc/ir.h"

/* ---- shape helpers ------------------------------------------------------ */

const char *ir_shape_text(const IrShape *s, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (size_t d = 0; d < s->rank && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%zu", d ? ", " : "", s->dim[d]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
    return buf;
}

static bool shape_fail(IrShapeError *err, int at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool shape_fail(IrShapeError *err, int at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->at = at;
    return false;
}

/* The names a tensor of rank r is described by, for "needs" messages. */
static const char *rank_form(size_t rank)
{
    return rank == 1 ? "a vector [N]" : rank == 2 ? "a sequence [C, L]" : "an image [C, H, W]";
}

static bool need_rank(const IrNode *n, const IrShape *in, const char *in_name, size_t rank,
                      IrShapeError *err)
{
    if (in->rank == rank)
        return true;
    char buf[96];
    const char *hint = rank == 1 ? "; add 'flatten' before it" : "";
    return shape_fail(err, IR_AT_KIND, "'%s' needs %s, but its input '%s' is %s%s",
                      ir_ops[n->op].name, rank_form(rank), in_name,
                      ir_shape_text(in, buf, sizeof buf), hint);
}

/* PyTorch's output size of a window along one axis:
 * floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1; false when the
 * dilated kernel does not fit the padded input. */
static bool window_out(size_t in, size_t k, size_t stride, size_t pad, size_t dil, size_t *out)
{
    size_t span = dil * (k - 1) + 1, padded = in + 2 * pad;
    if (span > padded)
        return false;
    *out = (padded - span) / stride + 1;
    return true;
}

/* The spatial output of a window op on in (rank 2: [C, L], rank 3:
 * [C, H, W]) into out's dims 1.. (dim 0 is the caller's). */
static bool window_shape(const IrNode *n, const IrWindow *w, const IrShape *in, const char *in_name,
                         IrShape *out, IrShapeError *err)
{
    size_t axes = in->rank - 1, first = 2 - axes; /* 1-D ops use [1] only */
    out->rank = in->rank;
    for (size_t a = 0; a < axes; a++) {
        size_t i = first + a;
        if (!window_out(in->dim[1 + a], w->kernel[i], w->stride[i], w->padding[i], w->dilation[i],
                        &out->dim[1 + a])) {
            char buf[96], dilated[48] = "";
            if (w->dilation[i] > 1)
                snprintf(dilated, sizeof dilated, " (dilated to %zu)",
                         w->dilation[i] * (w->kernel[i] - 1) + 1);
            return shape_fail(err, IR_AT_KIND,
                              "'%s' kernel %zu%s is larger than its padded input: %zu + 2*%zu = "
                              "%zu along %s of input '%s' %s",
                              ir_ops[n->op].name, w->kernel[i], dilated, in->dim[1 + a],
                              w->padding[i], in->dim[1 + a] + 2 * w->padding[i],
                              axes == 1 ? "the length" : a == 0 ? "the height" : "the width",
                              in_name, ir_shape_text(in, buf, sizeof buf));
        }
    }
    return true;
}

/* Pooling pads with -inf (max) or zeros counted in the average; PyTorch
 * allows at most half the kernel of padding, so no window is all padding. */
static bool pool_padding(const IrNode *n, const IrWindow *w, IrShapeError *err)
{
    for (size_t i = 0; i < 2; i++)
        if (w->padding[i] * 2 > w->kernel[i])
            return shape_fail(err, IR_AT_KIND,
                              "'%s' padding %zu is more than half its kernel %zu",
                              ir_ops[n->op].name, w->padding[i], w->kernel[i]);
    return true;
}

/* ---- arguments ------------------------------------------------------------ */

/* `kernel`, `stride` (defaults to the kernel in pooling), `padding`,
 * `dilation`: N or [h, w] in 2-D ops. */
#define ARG_KERNEL(pair) {"kernel", "kernel size", ARG_COUNT, pair, true, 0, -1}
#define ARG_STRIDE(pair) {"stride", "stride", ARG_COUNT, pair, false, 1, -1}
#define ARG_POOL_STRIDE(pair) {"stride", "stride", ARG_COUNT, pair, false, 0, 0}
#define ARG_PADDING(pair) {"padding", "padding", ARG_SIZE, pair, false, 0, -1}
#define ARG_DILATION(pair) {"dilation", "dilation", ARG_COUNT, pair, false, 1, -1}
#define ARGS_CONV(pair)                                                  \
    {"channels", "output channels", ARG_COUNT, false, true, 0, -1},      \
        ARG_KERNEL(pair), ARG_STRIDE(pair), ARG_PADDING(pair), ARG_DILATION(pair), \
        {"groups", "groups", ARG_COUNT, false, false, 1, -1},            \
        {"bias", "bias", ARG_BOOL, false, false, 1, -1}
#define ARGS_POOL(pair) ARG_KERNEL(pair), ARG_POOL_STRIDE(pair), ARG_PADDING(pair)

static const OpArgSpec args_units[] = {{"units", "dense units", ARG_COUNT, false, true, 0, -1}};
static const OpArgSpec args_dropout[] = {
    {"p", "dropout probability", ARG_PROB, false, true, 0, -1}};
static const OpArgSpec args_leaky_relu[] = {
    {"negative_slope", "slope", ARG_NUMBER, false, false, 0.01, -1}};
static const OpArgSpec args_elu[] = {{"alpha", "alpha", ARG_NUMBER, false, false, 1.0, -1}};
static const OpArgSpec args_conv1d[] = {ARGS_CONV(false)};
static const OpArgSpec args_conv2d[] = {ARGS_CONV(true)};
static const OpArgSpec args_pool1d[] = {ARGS_POOL(false)};
static const OpArgSpec args_pool2d[] = {ARGS_POOL(true)};
static const OpArgSpec args_batchnorm[] = {
    {"momentum", "momentum", ARG_FRACTION, false, false, 0.1, -1},
    {"eps", "eps", ARG_POSITIVE, false, false, 1e-5, -1},
};

/* A window from bound arguments: kernel, stride, padding, then dilation
 * when has_dilation. The binder puts a single number in both halves of
 * v; a 1-D op keeps [0] trivial. */
static IrWindow window_bind(const OpArgValue *a, bool two_d, bool has_dilation)
{
    IrWindow w = {{1, 1}, {1, 1}, {0, 0}, {1, 1}};
    for (size_t i = two_d ? 0 : 1; i < 2; i++) {
        w.kernel[i] = (size_t)a[0].v[i];
        w.stride[i] = (size_t)a[1].v[i];
        w.padding[i] = (size_t)a[2].v[i];
        w.dilation[i] = has_dilation ? (size_t)a[3].v[i] : 1;
    }
    return w;
}

static void configure_dense(IrNode *n, const OpArgValue *a)
{
    n->cfg.dense.units = (size_t)a[0].v[0];
}

static void configure_dropout(IrNode *n, const OpArgValue *a)
{
    n->cfg.dropout.p = a[0].v[0];
}

static void configure_leaky_relu(IrNode *n, const OpArgValue *a)
{
    n->cfg.leaky_relu.slope = a[0].v[0];
}

static void configure_elu(IrNode *n, const OpArgValue *a)
{
    n->cfg.elu.alpha = a[0].v[0];
}

static void configure_conv(IrNode *n, const OpArgValue *a)
{
    n->cfg.conv.channels = (size_t)a[0].v[0];
    n->cfg.conv.win = window_bind(a + 1, n->op == OP_CONV2D, true);
    n->cfg.conv.groups = (size_t)a[5].v[0];
    n->cfg.conv.bias = a[6].v[0] != 0;
}

static void configure_pool(IrNode *n, const OpArgValue *a)
{
    bool two_d = n->op == OP_MAXPOOL2D || n->op == OP_AVGPOOL2D;
    n->cfg.pool.win = window_bind(a, two_d, false);
}

static void configure_batchnorm(IrNode *n, const OpArgValue *a)
{
    n->cfg.batchnorm.momentum = a[0].v[0];
    n->cfg.batchnorm.eps = a[1].v[0];
}

/* ---- shape rules ---------------------------------------------------------- */

static bool infer_dense(IrNode *n, const IrShape *const *in, const char *const *names,
                        size_t n_in, IrShapeError *err)
{
    (void)n_in;
    if (!need_rank(n, in[0], names[0], 1, err))
        return false;
    n->shape = ir_shape_1d(n->cfg.dense.units);
    return true;
}

/* Softmax normalises over the features of a vector. */
static bool infer_vector(IrNode *n, const IrShape *const *in, const char *const *names,
                         size_t n_in, IrShapeError *err)
{
    (void)n_in;
    if (!need_rank(n, in[0], names[0], 1, err))
        return false;
    n->shape = *in[0];
    return true;
}

static bool infer_conv(IrNode *n, const IrShape *const *in, const char *const *names,
                       size_t n_in, IrShapeError *err)
{
    (void)n_in;
    size_t rank = n->op == OP_CONV2D ? 3 : 2;
    if (!need_rank(n, in[0], names[0], rank, err))
        return false;
    size_t groups = n->cfg.conv.groups, cin = in[0]->dim[0], cout = n->cfg.conv.channels;
    if (cin % groups || cout % groups)
        return shape_fail(err, IR_AT_KIND,
                          "groups = %zu must divide both the input channels (%zu, of '%s') and "
                          "the output channels (%zu)",
                          groups, cin, names[0], cout);
    if (!window_shape(n, &n->cfg.conv.win, in[0], names[0], &n->shape, err))
        return false;
    n->shape.dim[0] = cout;
    return true;
}

static bool infer_pool(IrNode *n, const IrShape *const *in, const char *const *names,
                       size_t n_in, IrShapeError *err)
{
    (void)n_in;
    size_t rank = n->op == OP_MAXPOOL2D || n->op == OP_AVGPOOL2D ? 3 : 2;
    if (!need_rank(n, in[0], names[0], rank, err) || !pool_padding(n, &n->cfg.pool.win, err) ||
        !window_shape(n, &n->cfg.pool.win, in[0], names[0], &n->shape, err))
        return false;
    n->shape.dim[0] = in[0]->dim[0];
    return true;
}

static bool infer_global_pool(IrNode *n, const IrShape *const *in, const char *const *names,
                              size_t n_in, IrShapeError *err)
{
    (void)n_in;
    if (in[0]->rank < 2) {
        char buf[96];
        return shape_fail(err, IR_AT_KIND,
                          "'%s' needs a sequence [C, L] or an image [C, H, W], but its input "
                          "'%s' is %s",
                          ir_ops[n->op].name, names[0], ir_shape_text(in[0], buf, sizeof buf));
    }
    n->shape = ir_shape_1d(in[0]->dim[0]);
    return true;
}

static bool infer_flatten(IrNode *n, const IrShape *const *in, const char *const *names,
                          size_t n_in, IrShapeError *err)
{
    (void)names, (void)n_in, (void)err;
    n->shape = ir_shape_1d(ir_shape_size(in[0]));
    return true;
}

/* add: every input the same shape; the first that differs is named. */
static bool infer_add(IrNode *n, const IrShape *const *in, const char *const *names,
                      size_t n_in, IrShapeError *err)
{
    for (size_t k = 1; k < n_in; k++) {
        bool same = in[k]->rank == in[0]->rank;
        for (size_t d = 0; same && d < in[0]->rank; d++)
            same = in[k]->dim[d] == in[0]->dim[d];
        if (!same) {
            char a[96], b[96];
            return shape_fail(err, IR_AT_INPUT + (int)k,
                              "'add' needs equal shapes, but '%s' is %s and '%s' is %s",
                              names[0], ir_shape_text(in[0], a, sizeof a), names[k],
                              ir_shape_text(in[k], b, sizeof b));
        }
    }
    n->shape = *in[0];
    return true;
}

/* concat along the channels (torch.cat(dim = 1)): the other sizes agree. */
static bool infer_concat(IrNode *n, const IrShape *const *in, const char *const *names,
                         size_t n_in, IrShapeError *err)
{
    n->shape = *in[0];
    for (size_t k = 1; k < n_in; k++) {
        bool same = in[k]->rank == in[0]->rank;
        for (size_t d = 1; same && d < in[0]->rank; d++)
            same = in[k]->dim[d] == in[0]->dim[d];
        if (!same) {
            char a[96], b[96];
            return shape_fail(err, IR_AT_INPUT + (int)k,
                              "'concat' joins channels, so all other sizes must be equal, but "
                              "'%s' is %s and '%s' is %s",
                              names[0], ir_shape_text(in[0], a, sizeof a), names[k],
                              ir_shape_text(in[k], b, sizeof b));
        }
        if (__builtin_add_overflow(n->shape.dim[0], in[k]->dim[0], &n->shape.dim[0]))
            return shape_fail(err, IR_AT_KIND, "'concat' has too many channels");
    }
    return true;
}

bool ir_infer_shape(IrNode *n, const IrShape *const *in, const char *const *in_names,
                    size_t n_in, IrShapeError *err)
{
    const OpInfo *op = &ir_ops[n->op];
    if (op->infer) {
        if (!op->infer(n, in, in_names, n_in, err))
            return false;
    } else {
        n->shape = *in[0];
    }
    size_t units = 1;
    for (size_t d = 0; d < n->shape.rank; d++) {
        if (__builtin_mul_overflow(units, n->shape.dim[d], &units)) {
            char buf[96];
            return shape_fail(err, IR_AT_KIND, "the output %s of '%s' has too many values",
                              ir_shape_text(&n->shape, buf, sizeof buf), n->name);
        }
    }
    n->units = units;
    return true;
}

/* ---- parameter tensors ---------------------------------------------------- */

/* dense: nn.Linear's weight [out][in] and bias [out], both with fan_in =
 * in, so both start in U(-1/sqrt(in), 1/sqrt(in)). */
static size_t dense_params(const IrNode *n, IrParam out[IR_MAX_PARAMS])
{
    size_t units = n->cfg.dense.units, in = n->in_units;
    out[0] = (IrParam){"weight", {2, {units, in}}, in, INIT_UNIFORM_FAN_IN, "out, in", PARAM_TRAINED};
    out[1] = (IrParam){"bias", {1, {units}}, in, INIT_UNIFORM_FAN_IN, NULL, PARAM_TRAINED};
    return 2;
}

/* nn.Conv1d/2d: weight [out][in/groups][k...], bias [out]; fan_in =
 * in/groups * kernel size for both (kaiming_uniform with a = sqrt(5), and
 * the bias bound 1/sqrt(fan_in)). */
static size_t conv_params(const IrNode *n, IrParam out[IR_MAX_PARAMS])
{
    const IrWindow *w = &n->cfg.conv.win;
    size_t cout = n->cfg.conv.channels, cin = n->in_shape.dim[0] / n->cfg.conv.groups;
    bool two_d = n->op == OP_CONV2D;
    size_t fan_in = cin * w->kernel[0] * w->kernel[1];
    out[0] = two_d ? (IrParam){"weight", {4, {cout, cin, w->kernel[0], w->kernel[1]}}, fan_in,
                               INIT_UNIFORM_FAN_IN, "out, in/groups, kh, kw", PARAM_TRAINED}
                   : (IrParam){"weight", {3, {cout, cin, w->kernel[1]}}, fan_in,
                               INIT_UNIFORM_FAN_IN, "out, in/groups, k", PARAM_TRAINED};
    if (!n->cfg.conv.bias)
        return 1;
    out[1] = (IrParam){"bias", {1, {cout}}, fan_in, INIT_UNIFORM_FAN_IN, NULL, PARAM_TRAINED};
    return 2;
}

/* nn.BatchNorm1d/2d's state_dict: weight 1 and bias 0 train; the running
 * statistics and the batch count are buffers. */
static size_t batchnorm_params(const IrNode *n, IrParam out[IR_MAX_PARAMS])
{
    IrShape c = ir_shape_1d(n->shape.dim[0]);
    out[0] = (IrParam){"weight", c, 0, INIT_ONES, NULL, PARAM_TRAINED};
    out[1] = (IrParam){"bias", c, 0, INIT_ZEROS, NULL, PARAM_TRAINED};
    out[2] = (IrParam){"running_mean", c, 0, INIT_ZEROS, NULL, PARAM_BUFFER};
    out[3] = (IrParam){"running_var", c, 0, INIT_ONES, NULL, PARAM_BUFFER};
    out[4] = (IrParam){"num_batches_tracked", {0, {0}}, 0, INIT_ZEROS, NULL, PARAM_BUFFER};
    return 5;
}

/* ---- the table ------------------------------------------------------------ */

#define ARGS(a) a, sizeof a / sizeof *a
#define NO_ARGS NULL, 0
/* An activation: no arguments, same shape, may follow ',' on a line. */
#define ACT(kind, name, torch) {kind, name, torch, name, NO_ARGS, true, true, false, NULL, NULL, NULL}

/* Rows in OpKind order; each names its kind so a unit test can prove it. */
const OpInfo ir_ops[] = {
    {OP_INPUT, "input", "Input", "input [1, 8, 8]", NO_ARGS, false, false, false, NULL, NULL, NULL},
    {OP_DENSE, "dense", "Linear", "dense 4", ARGS(args_units), false, false, false,
     configure_dense, infer_dense, dense_params},
    {OP_DROPOUT, "dropout", "Dropout", "dropout 0.5", ARGS(args_dropout), false, true, false,
     configure_dropout, NULL, NULL},
    ACT(OP_STEP, "step", "Step"),
    ACT(OP_SIGMOID, "sigmoid", "Sigmoid"),
    ACT(OP_TANH, "tanh", "Tanh"),
    ACT(OP_RELU, "relu", "ReLU"),
    {OP_LEAKY_RELU, "leaky_relu", "LeakyReLU", "leaky_relu 0.1", ARGS(args_leaky_relu), true,
     true, false, configure_leaky_relu, NULL, NULL},
    ACT(OP_GELU, "gelu", "GELU"),
    ACT(OP_SILU, "silu", "SiLU"),
    {OP_ELU, "elu", "ELU", "elu 1.0", ARGS(args_elu), true, true, false, configure_elu, NULL,
     NULL},
    ACT(OP_SOFTPLUS, "softplus", "Softplus"),
    ACT(OP_HARDSWISH, "hardswish", "Hardswish"),
    ACT(OP_HARDSIGMOID, "hardsigmoid", "Hardsigmoid"),
    {OP_SOFTMAX, "softmax", "Softmax", "softmax", NO_ARGS, true, true, false, NULL, infer_vector,
     NULL},
    ACT(OP_IDENTITY, "identity", "Identity"),
    {OP_CONV1D, "conv1d", "Conv1d", "conv1d(16, kernel = 3)", ARGS(args_conv1d), false, false,
     false, configure_conv, infer_conv, conv_params},
    {OP_CONV2D, "conv2d", "Conv2d", "conv2d(16, kernel = 3)", ARGS(args_conv2d), false, false,
     false, configure_conv, infer_conv, conv_params},
    {OP_MAXPOOL1D, "maxpool1d", "MaxPool1d", "maxpool1d(2)", ARGS(args_pool1d), false, false,
     false, configure_pool, infer_pool, NULL},
    {OP_MAXPOOL2D, "maxpool2d", "MaxPool2d", "maxpool2d(2)", ARGS(args_pool2d), false, false,
     false, configure_pool, infer_pool, NULL},
    {OP_AVGPOOL1D, "avgpool1d", "AvgPool1d", "avgpool1d(2)", ARGS(args_pool1d), false, false,
     false, configure_pool, infer_pool, NULL},
    {OP_AVGPOOL2D, "avgpool2d", "AvgPool2d", "avgpool2d(2)", ARGS(args_pool2d), false, false,
     false, configure_pool, infer_pool, NULL},
    {OP_GLOBAL_AVGPOOL, "global_avgpool", "AdaptiveAvgPool", "global_avgpool", NO_ARGS, false,
     false, false, NULL, infer_global_pool, NULL},
    {OP_GLOBAL_MAXPOOL, "global_maxpool", "AdaptiveMaxPool", "global_maxpool", NO_ARGS, false,
     false, false, NULL, infer_global_pool, NULL},
    {OP_FLATTEN, "flatten", "Flatten", "flatten", NO_ARGS, false, false, false, NULL,
     infer_flatten, NULL},
    {OP_BATCHNORM, "batchnorm", "BatchNorm", "batchnorm", ARGS(args_batchnorm), false, true,
     false, configure_batchnorm, NULL, batchnorm_params},
    {OP_ADD, "add", "Add", "add(a, b)", NO_ARGS, false, false, true, NULL, infer_add, NULL},
    {OP_CONCAT, "concat", "Concat", "concat(a, b)", NO_ARGS, false, false, true, NULL,
     infer_concat, NULL},
};
_Static_assert(sizeof ir_ops / sizeof *ir_ops == OP_COUNT, "ir_ops needs one row per OpKind");

bool ir_op_lookup(const char *name, OpKind *out)
{
    for (int k = 0; k < OP_COUNT; k++) {
        if (strcmp(ir_ops[k].name, name) == 0) {
            *out = (OpKind)k;
            return true;
        }
    }
    return false;
}
