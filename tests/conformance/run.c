/* ONNX backend node tests run through nnc: each case's model.onnx is mapped
 * node by node onto the runtime's own ops and losses (rt_op_forward, rt_gemm,
 * rt_loss), run on test_data_set_*, and compared with the expected outputs.
 * Cases that are whole models (chains of Gemm, Conv, pools, BatchNormalization,
 * Flatten and activations) are also emitted as C with emit_c, compiled with
 * cc and run. Prints one line per case and a
 * closing count; exits 1 when any case failed.
 *   onnx-conformance DATA_DIR [--all]   (DATA_DIR holds node/, pytorch-converted/) */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc/emit.h"
#include "nnc/onnx.h"
#include "runtime/gemm.h"
#include "runtime/loss.h"
#include "runtime/ops.h"

/* Our tolerance; ONNX's own runner uses the looser one. */
#define RTOL 1e-5
#define ATOL 1e-6
#define LOOSE_RTOL 1e-3
#define LOOSE_ATOL 1e-7

typedef enum Status { ST_OK, ST_SKIP, ST_FAIL } Status;

typedef struct Value {
    const char *name;
    const OnnxTensor *t;
} Value;

enum { MAX_VALUES = 256 };

typedef struct Case {
    Arena *a;
    const char *dir;
    OnnxModel m;
    Value vals[MAX_VALUES];
    size_t n_vals;
    char msg[512];     /* why a case was skipped or failed */
    bool loose;        /* passed only at ONNX's rtol 1e-3 */
} Case;

static Status say(Case *c, Status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static Status say(Case *c, Status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- values ------------------------------------------------------------ */

static const OnnxTensor *value_get(const Case *c, const char *name)
{
    for (size_t i = c->n_vals; i-- > 0;)
        if (!strcmp(c->vals[i].name, name))
            return c->vals[i].t;
    return onnx_initializer(&c->m, name);
}

static bool value_set(Case *c, const char *name, const OnnxTensor *t)
{
    if (c->n_vals == MAX_VALUES)
        return false;
    c->vals[c->n_vals++] = (Value){name, t};
    return true;
}

/* A new float tensor of the given shape, zeroed, in the case's arena. */
static OnnxTensor *tensor_new(Case *c, size_t ndim, const int64_t *dims)
{
    OnnxTensor *t = arena_alloc(c->a, sizeof *t);
    if (!t)
        return NULL;
    t->name = "";
    t->dtype = ONNX_FLOAT;
    t->ndim = ndim;
    t->count = 1;
    for (size_t d = 0; d < ndim; d++) {
        t->dims[d] = dims[d];
        t->count *= (size_t)dims[d];
    }
    t->f = arena_array(c->a, t->count ? t->count : 1, sizeof(float));
    return t->f ? t : NULL;
}

static const char *shape_str(Case *c, const OnnxTensor *t)
{
    char buf[128] = "[";
    for (size_t d = 0; d < t->ndim; d++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%lld", d ? "," : "",
                 (long long)t->dims[d]);
    strcat(buf, "]");
    return arena_strdup(c->a, buf);
}

static float attr_float(const OnnxNode *n, const char *name, float dflt)
{
    const OnnxAttr *at = onnx_attr(n, name);
    return at && at->kind == ONNX_ATTR_FLOAT ? at->f : dflt;
}

static int64_t attr_int(const OnnxNode *n, const char *name, int64_t dflt)
{
    const OnnxAttr *at = onnx_attr(n, name);
    return at && at->kind == ONNX_ATTR_INT ? at->i : dflt;
}

static bool has_input(const OnnxNode *n, size_t i)
{
    return i < n->n_inputs && n->inputs[i][0];
}

/* ---- nodes on the runtime's ops ---------------------------------------- */

/* Elementwise ops see any tensor as one row; arg is LeakyRelu's slope or
 * Elu's alpha, the only configurations of elementwise ops. Dropout is the
 * identity here (training = false: ONNX's inference). */
static Status run_elementwise(Case *c, const OnnxNode *n, const OnnxTensor *x, OpKind k,
                              double arg)
{
    OnnxTensor *y = tensor_new(c, x->ndim, x->dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    IrOpConfig cfg = {0};
    if (k == OP_LEAKY_RELU)
        cfg.leaky_relu.slope = arg;
    else if (k == OP_ELU)
        cfg.elu.alpha = arg;
    RtOpArgs a = {.rows = 1, .in = x->count, .out = x->count, .cfg = &cfg, .x = x->f, .y = y->f};
    rt_op_forward(k, &a);
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* Y = alpha op(A) op(B) + beta C, C broadcast to [M][N]: rt_gemm with the
 * broadcast C as its accumulator. */
static Status run_gemm(Case *c, const OnnxNode *n, const OnnxTensor *A, const OnnxTensor *B,
                       const OnnxTensor *C)
{
    bool ta = attr_int(n, "transA", 0), tb = attr_int(n, "transB", 0);
    float alpha = attr_float(n, "alpha", 1.0f), beta = attr_float(n, "beta", 1.0f);
    if (A->ndim != 2 || B->ndim != 2)
        return say(c, ST_SKIP, "Gemm on %s x %s (not matrices)", shape_str(c, A), shape_str(c, B));
    size_t m = (size_t)A->dims[ta], k = (size_t)A->dims[!ta];
    size_t kb = (size_t)B->dims[tb], nn = (size_t)B->dims[!tb];
    if (k != kb)
        return say(c, ST_FAIL, "Gemm: inner dimensions %zu and %zu differ", k, kb);
    int64_t dims[2] = {(int64_t)m, (int64_t)nn};
    OnnxTensor *y = tensor_new(c, 2, dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    if (C) {
        /* Unidirectional broadcast: C's dims, right-aligned, are 1 or equal. */
        size_t cm = C->ndim == 2 ? (size_t)C->dims[0] : 1;
        size_t cn = C->ndim >= 1 ? (size_t)C->dims[C->ndim - 1] : 1;
        if (C->ndim > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != nn))
            return say(c, ST_FAIL, "Gemm: C %s does not broadcast to [%zu,%zu]", shape_str(c, C),
                       m, nn);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < nn; j++)
                y->f[i * nn + j] = beta * C->f[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
    }
    rt_gemm(ta, tb, m, nn, k, alpha, A->f, ta ? m : k, B->f, tb ? k : nn, C ? 1.0f : 0.0f,
            y->f, nn);
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* nnc adds only in the dense layer's bias: Y = X W^T + b. With W the
 * identity that is X + b (adding the zero products is exact), so Add maps
 * when B is a bias row: B's shape equals A's trailing dimensions. */
static Status run_add(Case *c, const OnnxNode *n, const OnnxTensor *A, const OnnxTensor *B)
{
    bool fits = B->ndim <= A->ndim;
    for (size_t d = 0; fits && d < B->ndim; d++)
        fits = B->dims[d] == A->dims[A->ndim - B->ndim + d];
    if (!fits)
        return say(c, ST_SKIP, "Add with A %s, B %s (nnc adds a bias row: B must be A's trailing dims)",
                   shape_str(c, A), shape_str(c, B));
    size_t units = B->count, rows = units ? A->count / units : 0;
    float *eye = arena_array(c->a, units * units + 1, sizeof(float));
    OnnxTensor *y = tensor_new(c, A->ndim, A->dims);
    if (!eye || !y)
        return say(c, ST_FAIL, "out of memory");
    for (size_t j = 0; j < units; j++)
        eye[j * units + j] = 1.0f;
    RtOpArgs a = {.rows = rows, .in = units, .out = units, .x = A->f, .y = y->f,
                  .param = {eye, B->f}};
    rt_op_forward(OP_DENSE, &a);
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

static const IrLoss cross_entropy = {LOSS_CROSS_ENTROPY, {0}};

/* nnc's only log-softmax is inside the cross_entropy loss: with rows = 1 and
 * label j, rt_loss returns -(z_j - logsumexp(z)). One call per class. */
static void log_softmax_rows(size_t rows, size_t cols, const float *x, float *y, float *grad)
{
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < cols; j++) {
            float label = (float)j;
            RtTargets t = {.y = &label, .labels = true};
            y[r * cols + j] = (float)-rt_loss(&cross_entropy, 1, cols, x + r * cols, t, grad);
        }
    }
}

/* The [rows][cols] view a Softmax/LogSoftmax works on, or a skip. Opset 13
 * normalises along one axis; older opsets flatten to 2-D at the axis. */
static Status softmax_view(Case *c, const OnnxNode *n, const OnnxTensor *x, size_t *rows,
                           size_t *cols)
{
    int64_t nd = (int64_t)x->ndim;
    int64_t axis = attr_int(n, "axis", c->m.opset >= 13 ? -1 : 1);
    if (axis < 0)
        axis += nd;
    if (axis < 0 || axis >= nd)
        return say(c, ST_FAIL, "%s axis %lld out of range", n->op_type, (long long)axis);
    if (c->m.opset >= 13 && axis != nd - 1)
        return say(c, ST_SKIP, "%s axis=%lld on a %lld-D tensor (nnc's softmax is over the last axis)",
                   n->op_type, (long long)axis, (long long)nd);
    *cols = 1;
    for (int64_t d = axis; d < nd; d++)
        *cols *= (size_t)x->dims[d];
    *rows = *cols ? x->count / *cols : 0;
    return ST_OK;
}

static Status run_softmax(Case *c, const OnnxNode *n, const OnnxTensor *x, bool log)
{
    size_t rows, cols;
    Status s = softmax_view(c, n, x, &rows, &cols);
    if (s != ST_OK)
        return s;
    OnnxTensor *y = tensor_new(c, x->ndim, x->dims);
    float *grad = arena_array(c->a, cols + 1, sizeof(float));
    if (!y || !grad)
        return say(c, ST_FAIL, "out of memory");
    if (log) {
        log_softmax_rows(rows, cols, x->f, y->f, grad);
    } else {
        RtOpArgs a = {.rows = rows, .in = cols, .out = cols, .x = x->f, .y = y->f};
        rt_op_forward(OP_SOFTMAX, &a);
    }
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* SoftmaxCrossEntropyLoss through nnc's cross_entropy. Scores [N][C][d...]
 * are gathered into rows of C logits, one row per (n, d...), the layout
 * rt_loss takes; labels become its class-index targets. */
static Status run_sce(Case *c, const OnnxNode *n, const OnnxTensor *x, const OnnxTensor *lab)
{
    if (has_input(n, 2))
        return say(c, ST_SKIP, "SoftmaxCrossEntropyLoss weights input (nnc's cross_entropy has no class weights)");
    if (onnx_attr(n, "ignore_index"))
        return say(c, ST_SKIP, "SoftmaxCrossEntropyLoss ignore_index attribute (nnc's cross_entropy has none)");
    const OnnxAttr *red = onnx_attr(n, "reduction");
    const char *reduction = red && red->kind == ONNX_ATTR_STRING ? red->s : "mean";
    if (strcmp(reduction, "mean") && strcmp(reduction, "sum") && strcmp(reduction, "none"))
        return say(c, ST_FAIL, "unknown reduction '%s'", reduction);
    if (x->ndim < 2 || !lab->i64 || lab->count * (size_t)x->dims[1] != x->count)
        return say(c, ST_FAIL, "SoftmaxCrossEntropyLoss: scores %s and labels %s do not match",
                   shape_str(c, x), shape_str(c, lab));
    size_t classes = (size_t)x->dims[1], rows = lab->count, spatial = rows / (size_t)x->dims[0];
    float *z = arena_array(c->a, x->count + 1, sizeof(float));
    float *labels = arena_array(c->a, rows + 1, sizeof(float));
    float *grad = arena_array(c->a, x->count + 1, sizeof(float));
    if (!z || !labels || !grad)
        return say(c, ST_FAIL, "out of memory");
    for (size_t r = 0; r < rows; r++) {
        size_t b = r / spatial, d = r % spatial;
        for (size_t k = 0; k < classes; k++)
            z[r * classes + k] = x->f[(b * classes + k) * spatial + d];
        if (lab->i64[r] < 0 || (size_t)lab->i64[r] >= classes)
            return say(c, ST_FAIL, "label %lld out of range", (long long)lab->i64[r]);
        labels[r] = (float)lab->i64[r];
    }
    OnnxTensor *loss;
    if (!strcmp(reduction, "none")) {
        loss = tensor_new(c, lab->ndim, lab->dims);
        for (size_t r = 0; loss && r < rows; r++) {
            RtTargets t = {.y = labels + r, .labels = true};
            loss->f[r] = (float)rt_loss(&cross_entropy, 1, classes, z + r * classes, t, grad);
        }
    } else {
        loss = tensor_new(c, 0, NULL);
        RtTargets t = {.y = labels, .labels = true};
        double mean = rt_loss(&cross_entropy, rows, classes, z, t, grad);
        if (loss)
            loss->f[0] = (float)(strcmp(reduction, "sum") ? mean : mean * (double)rows);
    }
    if (!loss || !value_set(c, n->outputs[0], loss))
        return say(c, ST_FAIL, "out of memory");
    if (n->n_outputs < 2 || !n->outputs[1][0])
        return ST_OK;
    OnnxTensor *lp = tensor_new(c, x->ndim, x->dims);
    float *rowwise = arena_array(c->a, x->count + 1, sizeof(float));
    if (!lp || !rowwise)
        return say(c, ST_FAIL, "out of memory");
    log_softmax_rows(rows, classes, z, rowwise, grad);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < classes; k++)
            lp->f[((r / spatial) * classes + k) * spatial + r % spatial] = rowwise[r * classes + k];
    return value_set(c, n->outputs[1], lp) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* ---- tensor layers on the runtime's op table ---------------------------- */

/* A node over a batch [N, ...] is an IrNode over samples of shape [...],
 * run by rt_op_forward like any node of a model (ops_layers.c, conv.c,
 * pool.c, batchnorm.c): these build the node from the ONNX attributes. */

/* The shape of one sample of x: its dims after the batch. */
static IrShape sample_shape(const OnnxTensor *x)
{
    IrShape s = {.rank = x->ndim - 1};
    for (size_t d = 1; d < x->ndim && d <= IR_MAX_RANK; d++)
        s.dim[d - 1] = (size_t)x->dims[d];
    return s;
}

/* in_shape, shape and the sizes of node from its input x and output shape. */
static void node_shapes(IrNode *node, const OnnxTensor *x, IrShape out)
{
    node->in_shape = sample_shape(x);
    node->in_units = ir_shape_size(&node->in_shape);
    node->shape = out;
    node->units = ir_shape_size(&out);
    node->name = node->layer = "onnx";
}

/* A tensor [N, shape...]. */
static OnnxTensor *batch_tensor(Case *c, size_t rows, const IrShape *shape)
{
    int64_t dims[ONNX_MAX_DIMS] = {(int64_t)rows};
    for (size_t d = 0; d < shape->rank; d++)
        dims[d + 1] = (int64_t)shape->dim[d];
    return tensor_new(c, shape->rank + 1, dims);
}

/* Runs node (one input, x) over rows samples into y with the parameter
 * tensors params[0..), the evaluation path (training = false) unless args
 * is given: then max pooling also keeps each output's argmax there, as it
 * does for its backward in training (the forward is otherwise the same). */
static Status forward_node(Case *c, const IrNode *node, size_t rows, const float *x,
                           const float *const *params, size_t n_params, float *y,
                           uint32_t *args)
{
    size_t work = rt_op_workspace(node, rows);
    RtOpArgs a = {.rows = rows, .in = node->in_units, .out = node->units, .node = node,
                  .cfg = &node->cfg, .x = x, .y = y, .xs = &x, .n_in = 1,
                  .in_sizes = &node->in_units};
    for (size_t k = 0; k < n_params; k++)
        a.param[k] = params[k];
    if (work && !(a.work = arena_array(c->a, work, sizeof(float))))
        return say(c, ST_FAIL, "out of memory");
    if (args) {
        _Static_assert(sizeof(uint32_t) == sizeof(float), "an argmax takes one scratch float");
        a.training = true;
        a.scratch = (float *)(void *)args;
    }
    rt_op_forward(node->op, &a);
    return ST_OK;
}

/* Explicit pads of one axis from auto_pad (SAME_UPPER puts the odd one at
 * the end, SAME_LOWER at the start), or from the pads attribute. */
static void axis_pads(const char *auto_pad, const OnnxAttr *pads, size_t axes, size_t i,
                      size_t in, size_t k, size_t stride, size_t dil, int64_t *begin,
                      int64_t *end)
{
    if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
        int64_t out = (int64_t)((in + stride - 1) / stride);
        int64_t total = (out - 1) * (int64_t)stride + (int64_t)((k - 1) * dil + 1) - (int64_t)in;
        total = total > 0 ? total : 0;
        *begin = !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
        *end = total - *begin;
        return;
    }
    bool given = pads && pads->kind == ONNX_ATTR_INTS && pads->n_ints == 2 * axes;
    *begin = given ? pads->ints[i] : 0;
    *end = given ? pads->ints[axes + i] : 0;
}

/* An ints attribute's entry i, or dflt when it is absent. */
static int64_t attr_ints_at(const OnnxNode *n, const char *name, size_t i, size_t count,
                            int64_t dflt)
{
    const OnnxAttr *at = onnx_attr(n, name);
    return at && at->kind == ONNX_ATTR_INTS && at->n_ints == count ? at->ints[i] : dflt;
}

/* The window of a Conv, MaxPool or AveragePool over x [N, C, spatial...]
 * with the kernel's sizes k[0..axes): into w (a 1-D window in [1], as
 * IrWindow keeps it) and the output's spatial sizes into out. What nnc's
 * windows lack is a skip that names it. */
static Status onnx_window(Case *c, const OnnxNode *n, const OnnxTensor *x, const int64_t *k,
                          bool pool, IrWindow *w, size_t out[2])
{
    size_t axes = x->ndim - 2;
    const OnnxAttr *ap = onnx_attr(n, "auto_pad");
    const char *auto_pad = ap && ap->kind == ONNX_ATTR_STRING ? ap->s : "NOTSET";
    *w = (IrWindow){{1, 1}, {1, 1}, {0, 0}, {1, 1}};
    for (size_t a = 0, i = 2 - axes; a < axes; a++, i++) {
        size_t in = (size_t)x->dims[2 + a];
        int64_t stride = attr_ints_at(n, "strides", a, axes, 1);
        int64_t dil = attr_ints_at(n, "dilations", a, axes, 1);
        if (k[a] < 1 || stride < 1 || dil < 1)
            return say(c, ST_FAIL, "%s: kernel, strides and dilations must be positive",
                       n->op_type);
        int64_t begin, end;
        axis_pads(auto_pad, onnx_attr(n, "pads"), axes, a, in, (size_t)k[a], (size_t)stride,
                  (size_t)dil, &begin, &end);
        if (begin != end)
            return say(c, ST_SKIP, "%s with asymmetric padding (%lld before, %lld after%s%s; nnc "
                       "pads both sides alike)", n->op_type, (long long)begin, (long long)end,
                       strcmp(auto_pad, "NOTSET") ? ", from auto_pad " : "",
                       strcmp(auto_pad, "NOTSET") ? auto_pad : "");
        if (pool && 2 * begin > k[a])
            return say(c, ST_SKIP, "%s padding %lld is more than half its kernel %lld (nnc and "
                       "PyTorch allow at most half)", n->op_type, (long long)begin,
                       (long long)k[a]);
        size_t span = (size_t)dil * ((size_t)k[a] - 1) + 1, padded = in + 2 * (size_t)begin;
        if (span > padded)
            return say(c, ST_FAIL, "%s: the kernel is larger than the padded input", n->op_type);
        out[a] = (padded - span) / (size_t)stride + 1;
        size_t ceil_out = (padded - span + (size_t)stride - 1) / (size_t)stride + 1;
        if (pool && attr_int(n, "ceil_mode", 0) && ceil_out != out[a])
            return say(c, ST_SKIP, "%s ceil_mode = 1 (nnc pools in floor mode)", n->op_type);
        w->kernel[i] = (size_t)k[a], w->stride[i] = (size_t)stride;
        w->padding[i] = (size_t)begin, w->dilation[i] = (size_t)dil;
    }
    return ST_OK;
}

/* 1-D and 2-D windows only: [N, C, L] or [N, C, H, W]. */
static Status window_rank(Case *c, const OnnxNode *n, const OnnxTensor *x)
{
    if (x->ndim == 3 || x->ndim == 4)
        return ST_OK;
    if (x->ndim == 5)
        return say(c, ST_SKIP, "3-D %s (nnc has 1-D and 2-D windows)", n->op_type);
    return say(c, ST_FAIL, "%s on %s", n->op_type, shape_str(c, x));
}

/* The window op's output [C_out, out...] for x. */
static IrShape window_out_shape(const OnnxTensor *x, size_t channels, const size_t out[2])
{
    IrShape s = {.rank = x->ndim - 1, .dim = {channels}};
    for (size_t a = 0; a + 2 < x->ndim; a++)
        s.dim[1 + a] = out[a];
    return s;
}

/* Conv(X, W[, B]) as conv1d/conv2d: W [M, C/group, k...], as nnc's. */
static Status run_conv(Case *c, const OnnxNode *n, const OnnxTensor *x, const OnnxTensor *W,
                       const OnnxTensor *B)
{
    Status s = window_rank(c, n, x);
    if (s != ST_OK)
        return s;
    int64_t group = attr_int(n, "group", 1);
    size_t axes = x->ndim - 2;
    if (W->ndim != x->ndim || group < 1 || W->dims[1] * group != x->dims[1] ||
        W->dims[0] % group || (B && (B->ndim != 1 || B->dims[0] != W->dims[0])))
        return say(c, ST_FAIL, "Conv: X %s, W %s and group %lld do not fit", shape_str(c, x),
                   shape_str(c, W), (long long)group);
    for (size_t a = 0; a < axes; a++)
        if (attr_ints_at(n, "kernel_shape", a, axes, W->dims[2 + a]) != W->dims[2 + a])
            return say(c, ST_FAIL, "Conv: kernel_shape differs from W %s", shape_str(c, W));
    IrNode node = {.op = axes == 1 ? OP_CONV1D : OP_CONV2D};
    size_t out[2];
    if ((s = onnx_window(c, n, x, W->dims + 2, false, &node.cfg.conv.win, out)) != ST_OK)
        return s;
    node.cfg.conv.channels = (size_t)W->dims[0];
    node.cfg.conv.groups = (size_t)group;
    node.cfg.conv.bias = B != NULL;
    node_shapes(&node, x, window_out_shape(x, (size_t)W->dims[0], out));
    size_t rows = (size_t)x->dims[0];
    OnnxTensor *y = batch_tensor(c, rows, &node.shape);
    const float *params[] = {W->f, B ? B->f : NULL};
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    if ((s = forward_node(c, &node, rows, x->f, params, B ? 2 : 1, y->f, NULL)) != ST_OK)
        return s;
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* MaxPool's Indices: each output's argmax as a flat index into X, from the
 * runtime's index in the input plane (row-major, or column-major for
 * storage_order = 1). */
static OnnxTensor *pool_indices(Case *c, const OnnxNode *n, const OnnxTensor *x,
                                const OnnxTensor *y, const uint32_t *args)
{
    OnnxTensor *t = arena_alloc(c->a, sizeof *t);
    if (!t || !(t->i64 = arena_array(c->a, y->count + 1, sizeof *t->i64)))
        return NULL;
    *t = (OnnxTensor){.name = "", .dtype = ONNX_INT64, .ndim = y->ndim, .count = y->count,
                      .i64 = t->i64};
    memcpy(t->dims, y->dims, sizeof t->dims);
    size_t w = (size_t)x->dims[x->ndim - 1], h = x->ndim == 4 ? (size_t)x->dims[2] : 1;
    size_t plane = h * w, per_plane = y->count / ((size_t)y->dims[0] * (size_t)y->dims[1]);
    bool column_major = attr_int(n, "storage_order", 0) == 1;
    for (size_t i = 0; i < y->count; i++) {
        size_t p = args[i], base = i / per_plane * plane;
        t->i64[i] = (int64_t)(base + (column_major ? p % w * h + p / w : p));
    }
    return t;
}

/* MaxPool / AveragePool as maxpool/avgpool 1d/2d (floor mode). */
static Status run_pool(Case *c, const OnnxNode *n, const OnnxTensor *x, bool average)
{
    Status s = window_rank(c, n, x);
    if (s != ST_OK)
        return s;
    size_t axes = x->ndim - 2;
    const OnnxAttr *ks = onnx_attr(n, "kernel_shape");
    if (!ks || ks->kind != ONNX_ATTR_INTS || ks->n_ints != axes)
        return say(c, ST_FAIL, "%s without a kernel_shape of %zu sizes", n->op_type, axes);
    IrNode node = {.op = average ? (axes == 1 ? OP_AVGPOOL1D : OP_AVGPOOL2D)
                                 : (axes == 1 ? OP_MAXPOOL1D : OP_MAXPOOL2D)};
    size_t out[2];
    if ((s = onnx_window(c, n, x, ks->ints, true, &node.cfg.pool.win, out)) != ST_OK)
        return s;
    const IrWindow *w = &node.cfg.pool.win;
    bool padded = w->padding[0] || w->padding[1];
    if (average && padded && !attr_int(n, "count_include_pad", 0))
        return say(c, ST_SKIP, "AveragePool count_include_pad = 0 with padding (nnc's average "
                   "counts the padding, as PyTorch's default count_include_pad = True)");
    if (average && (w->dilation[0] > 1 || w->dilation[1] > 1))
        return say(c, ST_SKIP, "dilated AveragePool (nnc's average pooling has no dilation)");
    node_shapes(&node, x, window_out_shape(x, (size_t)x->dims[1], out));
    size_t rows = (size_t)x->dims[0];
    OnnxTensor *y = batch_tensor(c, rows, &node.shape);
    bool indices = !average && n->n_outputs > 1 && n->outputs[1][0];
    uint32_t *args = indices ? arena_array(c->a, rows * node.units + 1, sizeof *args) : NULL;
    if (!y || (indices && !args))
        return say(c, ST_FAIL, "out of memory");
    if ((s = forward_node(c, &node, rows, x->f, NULL, 0, y->f, args)) != ST_OK)
        return s;
    if (!value_set(c, n->outputs[0], y))
        return say(c, ST_FAIL, "too many values");
    if (!indices)
        return ST_OK;
    OnnxTensor *t = pool_indices(c, n, x, y, args);
    return t && value_set(c, n->outputs[1], t) ? ST_OK : say(c, ST_FAIL, "out of memory");
}

/* GlobalAveragePool / GlobalMaxPool over every spatial axis (any count of
 * them: the runtime's global pools see [C, spatial]); ONNX keeps the axes
 * as 1s, nnc's output is [C]. */
static Status run_global_pool(Case *c, const OnnxNode *n, const OnnxTensor *x, OpKind k)
{
    if (x->ndim < 3 || x->ndim - 1 > IR_MAX_RANK)
        return say(c, ST_FAIL, "%s on %s", n->op_type, shape_str(c, x));
    IrNode node = {.op = k};
    node_shapes(&node, x, ir_shape_1d((size_t)x->dims[1]));
    int64_t dims[ONNX_MAX_DIMS];
    for (size_t d = 0; d < x->ndim; d++)
        dims[d] = d < 2 ? x->dims[d] : 1;
    OnnxTensor *y = tensor_new(c, x->ndim, dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    Status s = forward_node(c, &node, (size_t)x->dims[0], x->f, NULL, 0, y->f, NULL);
    if (s != ST_OK)
        return s;
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* BatchNormalization in inference (the running statistics): batchnorm's
 * evaluation forward. Training forms (training_mode = 1, is_test = 0 in
 * opset 6, more than one output) update statistics nnc updates the
 * PyTorch way. */
static Status run_batchnorm(Case *c, const OnnxNode *n, const OnnxTensor *x)
{
    const OnnxTensor *p[4];
    for (size_t k = 0; k < 4; k++)
        if (!has_input(n, k + 1) || !(p[k] = value_get(c, n->inputs[k + 1])) || !p[k]->f ||
            p[k]->count != (x->ndim > 1 ? (size_t)x->dims[1] : 0))
            return say(c, ST_FAIL, "BatchNormalization: input %zu is not [C]", k + 1);
    bool training = attr_int(n, "training_mode", 0) || n->n_outputs > 1 ||
                    (c->m.opset < 7 && !attr_int(n, "is_test", 0));
    if (training)
        return say(c, ST_SKIP, "BatchNormalization in training mode (outputs the updated "
                   "statistics; nnc runs batchnorm's training inside `nnc run` only)");
    if (!attr_int(n, "spatial", 1))
        return say(c, ST_SKIP, "BatchNormalization spatial = 0 (statistics per value; nnc's "
                   "are per channel)");
    if (x->ndim - 1 > IR_MAX_RANK)
        return say(c, ST_FAIL, "BatchNormalization on %s", shape_str(c, x));
    IrNode node = {.op = OP_BATCHNORM};
    node.cfg.batchnorm.eps = attr_float(n, "epsilon", 1e-5f);
    node.cfg.batchnorm.momentum = 1.0 - attr_float(n, "momentum", 0.9f);
    node_shapes(&node, x, sample_shape(x));
    OnnxTensor *y = tensor_new(c, x->ndim, x->dims);
    const float *params[] = {p[0]->f, p[1]->f, p[2]->f, p[3]->f};
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    Status s = forward_node(c, &node, (size_t)x->dims[0], x->f, params, 4, y->f, NULL);
    if (s != ST_OK)
        return s;
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* An axis attribute in [0, rank) (negative counts from the end). */
static Status axis_of(Case *c, const OnnxNode *n, int64_t dflt, int64_t rank, bool inclusive,
                      size_t *axis)
{
    int64_t a = attr_int(n, "axis", dflt);
    a += a < 0 ? rank : 0;
    if (a < 0 || a > rank - (inclusive ? 0 : 1))
        return say(c, ST_FAIL, "%s axis out of range", n->op_type);
    *axis = (size_t)a;
    return ST_OK;
}

/* Flatten(axis) to [prod(dims before), prod(dims from)]: nnc's flatten,
 * which keeps the values' order (row-major, channels first). */
static Status run_flatten(Case *c, const OnnxNode *n, const OnnxTensor *x)
{
    size_t axis = 0;
    Status s = axis_of(c, n, 1, (int64_t)x->ndim, true, &axis);
    if (s != ST_OK)
        return s;
    int64_t dims[2] = {1, 1};
    for (size_t d = 0; d < x->ndim; d++)
        dims[d >= axis] *= x->dims[d];
    OnnxTensor *y = tensor_new(c, 2, dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    IrNode node = {.op = OP_FLATTEN};
    node_shapes(&node, y, ir_shape_1d((size_t)dims[1]));
    RtOpArgs a = {.rows = (size_t)dims[0], .in = (size_t)dims[1], .out = (size_t)dims[1],
                  .node = &node, .x = x->f, .y = y->f};
    rt_op_forward(OP_FLATTEN, &a);
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* Every input of a multi-input node (Concat, Sum), float, or a status. */
static Status all_inputs(Case *c, const OnnxNode *n, const OnnxTensor **in, const float **xs)
{
    if (n->n_inputs < 1 || n->n_inputs > IR_MAX_INPUTS)
        return say(c, ST_FAIL, "%s with %zu inputs", n->op_type, n->n_inputs);
    for (size_t k = 0; k < n->n_inputs; k++) {
        if (!(in[k] = value_get(c, n->inputs[k])))
            return say(c, ST_FAIL, "%s: input '%s' has no value", n->op_type, n->inputs[k]);
        if (in[k]->dtype != ONNX_FLOAT)
            return say(c, ST_SKIP, "%s on %s tensors (nnc computes in float32)", n->op_type,
                       onnx_dtype_name(in[k]->dtype));
        xs[k] = in[k]->f;
    }
    return ST_OK;
}

/* Concat(axis) as nnc's concat: per index of the axes before `axis` (the
 * runtime's rows), the inputs' blocks one after another; the blocks are
 * the inputs' sizes from `axis` on. */
static Status run_concat(Case *c, const OnnxNode *n)
{
    const OnnxTensor *in[IR_MAX_INPUTS];
    const float *xs[IR_MAX_INPUTS];
    size_t sizes[IR_MAX_INPUTS], axis = 0;
    Status s = all_inputs(c, n, in, xs);
    if (s != ST_OK || (s = axis_of(c, n, 0, (int64_t)in[0]->ndim, false, &axis)) != ST_OK)
        return s;
    int64_t dims[ONNX_MAX_DIMS];
    memcpy(dims, in[0]->dims, sizeof dims);
    dims[axis] = 0;
    size_t rows = 1, out = 0;
    for (size_t d = 0; d < axis; d++)
        rows *= (size_t)dims[d];
    for (size_t k = 0; k < n->n_inputs; k++) {
        bool fits = in[k]->ndim == in[0]->ndim;
        for (size_t d = 0; fits && d < in[0]->ndim; d++)
            fits = d == axis || in[k]->dims[d] == in[0]->dims[d];
        if (!fits)
            return say(c, ST_FAIL, "Concat: %s and %s differ off the axis", shape_str(c, in[0]),
                       shape_str(c, in[k]));
        dims[axis] += in[k]->dims[axis];
        sizes[k] = rows ? in[k]->count / rows : 0;
        out += sizes[k];
    }
    OnnxTensor *y = tensor_new(c, in[0]->ndim, dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    RtOpArgs a = {.rows = rows, .out = out, .x = xs[0], .y = y->f, .xs = xs,
                  .in_sizes = sizes, .n_in = n->n_inputs};
    rt_op_forward(OP_CONCAT, &a);
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* Sum, and Add of equal shapes: nnc's add (inputs summed left to right). */
static Status run_sum(Case *c, const OnnxNode *n)
{
    const OnnxTensor *in[IR_MAX_INPUTS];
    const float *xs[IR_MAX_INPUTS];
    Status s = all_inputs(c, n, in, xs);
    if (s != ST_OK)
        return s;
    for (size_t k = 1; k < n->n_inputs; k++) {
        bool same = in[k]->ndim == in[0]->ndim;
        for (size_t d = 0; same && d < in[0]->ndim; d++)
            same = in[k]->dims[d] == in[0]->dims[d];
        if (!same)
            return say(c, ST_SKIP, "%s with broadcasting (%s and %s; nnc's add needs equal "
                       "shapes)", n->op_type, shape_str(c, in[0]), shape_str(c, in[k]));
    }
    OnnxTensor *y = tensor_new(c, in[0]->ndim, in[0]->dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    RtOpArgs a = {.rows = 1, .in = in[0]->count, .out = in[0]->count, .x = xs[0], .y = y->f,
                  .xs = xs, .n_in = n->n_inputs};
    rt_op_forward(OP_ADD, &a);
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* Unsqueeze / Squeeze (PyTorch's exports wrap 1-D pooling in them): shape
 * only, the values are shared; axes are an attribute before opset 13, an
 * input from it. */
static Status run_reshape_axes(Case *c, const OnnxNode *n, const OnnxTensor *x, bool unsqueeze)
{
    const OnnxAttr *at = onnx_attr(n, "axes");
    const OnnxTensor *t = has_input(n, 1) ? value_get(c, n->inputs[1]) : NULL;
    const int64_t *axes = at && at->kind == ONNX_ATTR_INTS ? at->ints : t ? t->i64 : NULL;
    size_t n_axes = at && at->kind == ONNX_ATTR_INTS ? at->n_ints : t ? t->count : 0;
    size_t rank = unsqueeze ? x->ndim + n_axes : x->ndim;
    if (!axes || rank > ONNX_MAX_DIMS)
        return say(c, ST_SKIP, "%s without explicit axes", n->op_type);
    bool marked[ONNX_MAX_DIMS] = {false};
    for (size_t k = 0; k < n_axes; k++) {
        int64_t a = axes[k] + (axes[k] < 0 ? (int64_t)rank : 0);
        if (a < 0 || a >= (int64_t)rank || (!unsqueeze && x->dims[a] != 1))
            return say(c, ST_FAIL, "%s: axis %lld does not fit %s", n->op_type,
                       (long long)axes[k], shape_str(c, x));
        marked[a] = true;
    }
    OnnxTensor *y = arena_alloc(c->a, sizeof *y);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    *y = *x;
    y->ndim = 0;
    for (size_t d = 0, src = 0; d < rank; d++) {
        if (unsqueeze)
            y->dims[y->ndim++] = marked[d] ? 1 : x->dims[src++];
        else if (!marked[d])
            y->dims[y->ndim++] = x->dims[d];
    }
    return value_set(c, n->outputs[0], y) ? ST_OK : say(c, ST_FAIL, "too many values");
}

/* Dropout is the identity unless training_mode (opset 12's third input)
 * is true; its mask output is not nnc's. */
static Status run_dropout(Case *c, const OnnxNode *n, const OnnxTensor *x)
{
    const OnnxTensor *mode = has_input(n, 2) ? value_get(c, n->inputs[2]) : NULL;
    if (mode && !mode->f && !mode->i64)
        return say(c, ST_SKIP, "Dropout with a %s training_mode (nnc reads float and integer "
                   "tensors)", onnx_dtype_name(mode->dtype));
    bool training = mode && mode->count && (mode->f ? mode->f[0] != 0.0f : mode->i64[0] != 0);
    if (training || (c->m.opset < 7 && !attr_int(n, "is_test", 0)))
        return say(c, ST_SKIP, "Dropout in training mode (a random mask)");
    if (n->n_outputs > 1 && n->outputs[1][0])
        return say(c, ST_SKIP, "Dropout's mask output (nnc's dropout has none at inference)");
    return run_elementwise(c, n, x, OP_DROPOUT, 0);
}

/* HardSigmoid: nnc's is PyTorch's, alpha 1/6 and beta 0.5. */
static Status run_hardsigmoid(Case *c, const OnnxNode *n, const OnnxTensor *x)
{
    float alpha = attr_float(n, "alpha", 0.2f), beta = attr_float(n, "beta", 0.5f);
    if (fabsf(alpha - 1.0f / 6.0f) > 1e-7f || beta != 0.5f)
        return say(c, ST_SKIP, "HardSigmoid alpha = %g, beta = %g (nnc's hardsigmoid is "
                   "PyTorch's: alpha 1/6, beta 0.5)", (double)alpha, (double)beta);
    return run_elementwise(c, n, x, OP_HARDSIGMOID, 0);
}

static const char *const supported_ops[] = {
    "Gemm", "MatMul", "Add", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Softmax", "LogSoftmax",
    "SoftmaxCrossEntropyLoss",
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
    "BatchNormalization", "Concat", "Sum", "Elu", "Softplus", "HardSwish", "HardSigmoid",
    "Identity", "Dropout", "Unsqueeze", "Squeeze",
};

static bool op_supported(const char *op)
{
    for (size_t i = 0; i < sizeof supported_ops / sizeof supported_ops[0]; i++)
        if (!strcmp(op, supported_ops[i]))
            return true;
    return false;
}

/* Before running anything: the distinct ops nnc lacks, named for the skip. */
static Status check_ops(Case *c)
{
    char list[400] = "";
    size_t missing = 0;
    for (size_t i = 0; i < c->m.n_nodes; i++) {
        const char *op = c->m.nodes[i].op_type;
        if (op_supported(op) && !c->m.nodes[i].domain[0])
            continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= !strcmp(c->m.nodes[j].op_type, op);
        if (seen)
            continue;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", missing++ ? ", " : "", op);
    }
    if (missing)
        return say(c, ST_SKIP, "op%s %s not in nnc", missing > 1 ? "s" : "", list);
    return ST_OK;
}

/* The nodes with any number of inputs, or inputs that are not float. */
static Status run_special_node(Case *c, const OnnxNode *n, bool *done)
{
    *done = true;
    if (!strcmp(n->op_type, "Concat"))
        return run_concat(c, n);
    if (!strcmp(n->op_type, "Sum"))
        return run_sum(c, n);
    const OnnxTensor *x = has_input(n, 0) ? value_get(c, n->inputs[0]) : NULL;
    bool squeeze = !strcmp(n->op_type, "Squeeze");
    if (x && (squeeze || !strcmp(n->op_type, "Unsqueeze")) && n->n_outputs == 1)
        return run_reshape_axes(c, n, x, !squeeze);
    if (x && x->dtype == ONNX_FLOAT && !strcmp(n->op_type, "Dropout") && n->n_outputs >= 1)
        return run_dropout(c, n, x);
    *done = false;
    return ST_OK;
}

static Status run_node(Case *c, const OnnxNode *n)
{
    bool done;
    Status special = run_special_node(c, n, &done);
    if (done)
        return special;
    const OnnxTensor *in[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < n->n_inputs && i < 3; i++) {
        if (!n->inputs[i][0])
            continue;
        if (!(in[i] = value_get(c, n->inputs[i])))
            return say(c, ST_FAIL, "%s: input '%s' has no value", n->op_type, n->inputs[i]);
        /* SCE labels are integers; everything else nnc computes is float32. */
        bool want_int = !strcmp(n->op_type, "SoftmaxCrossEntropyLoss") && i == 1;
        if (!want_int && in[i]->dtype != ONNX_FLOAT)
            return say(c, ST_SKIP, "%s on %s tensors (nnc computes in float32)", n->op_type,
                       onnx_dtype_name(in[i]->dtype));
    }
    if (!in[0] || n->n_outputs < 1)
        return say(c, ST_FAIL, "%s without input or output", n->op_type);
    const char *op = n->op_type;
    if (!strcmp(op, "Relu"))
        return run_elementwise(c, n, in[0], OP_RELU, 0);
    if (!strcmp(op, "Sigmoid"))
        return run_elementwise(c, n, in[0], OP_SIGMOID, 0);
    if (!strcmp(op, "Tanh"))
        return run_elementwise(c, n, in[0], OP_TANH, 0);
    if (!strcmp(op, "LeakyRelu"))
        return run_elementwise(c, n, in[0], OP_LEAKY_RELU, attr_float(n, "alpha", 0.01f));
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax"))
        return run_softmax(c, n, in[0], !strcmp(op, "LogSoftmax"));
    if (!strcmp(op, "Elu"))
        return run_elementwise(c, n, in[0], OP_ELU, attr_float(n, "alpha", 1.0f));
    if (!strcmp(op, "Softplus"))
        return run_elementwise(c, n, in[0], OP_SOFTPLUS, 0);
    if (!strcmp(op, "HardSwish"))
        return run_elementwise(c, n, in[0], OP_HARDSWISH, 0);
    if (!strcmp(op, "HardSigmoid"))
        return run_hardsigmoid(c, n, in[0]);
    if (!strcmp(op, "Identity"))
        return run_elementwise(c, n, in[0], OP_IDENTITY, 0);
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))
        return run_pool(c, n, in[0], !strcmp(op, "AveragePool"));
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool"))
        return run_global_pool(c, n, in[0],
                               !strcmp(op, "GlobalMaxPool") ? OP_GLOBAL_MAXPOOL : OP_GLOBAL_AVGPOOL);
    if (!strcmp(op, "Flatten"))
        return run_flatten(c, n, in[0]);
    if (!strcmp(op, "BatchNormalization"))
        return run_batchnorm(c, n, in[0]);
    if (!in[1])
        return say(c, ST_FAIL, "%s needs two inputs", op);
    if (!strcmp(op, "Gemm"))
        return run_gemm(c, n, in[0], in[1], in[2]);
    if (!strcmp(op, "MatMul")) {
        if (in[0]->ndim != 2 || in[1]->ndim != 2)
            return say(c, ST_SKIP, "MatMul on %s x %s (nnc multiplies matrices, no batches)",
                       shape_str(c, in[0]), shape_str(c, in[1]));
        return run_gemm(c, n, in[0], in[1], NULL);
    }
    if (!strcmp(op, "Conv"))
        return run_conv(c, n, in[0], in[1], in[2]);
    if (!strcmp(op, "Add") && in[0]->ndim == in[1]->ndim &&
        !memcmp(in[0]->dims, in[1]->dims, in[0]->ndim * sizeof *in[0]->dims))
        return run_sum(c, n);
    if (!strcmp(op, "Add"))
        return run_add(c, n, in[0], in[1]);
    return run_sce(c, n, in[0], in[1]);
}

/* ---- comparing --------------------------------------------------------- */

/* Compares got with want; on mismatch says so in c->msg. Sets c->loose when
 * the values agree only within ONNX's own tolerance. */
/* Integer outputs (MaxPool's Indices) must be equal. */
static Status compare_ints(Case *c, const char *what, const OnnxTensor *got,
                           const OnnxTensor *want)
{
    bool same = got->ndim == want->ndim && got->count == want->count;
    for (size_t d = 0; same && d < got->ndim; d++)
        same = got->dims[d] == want->dims[d];
    if (!same)
        return say(c, ST_FAIL, "%s: shape %s, expected %s", what, shape_str(c, got),
                   shape_str(c, want));
    for (size_t i = 0; i < want->count; i++)
        if (got->i64[i] != want->i64[i])
            return say(c, ST_FAIL, "%s: index %zu is %lld, expected %lld", what, i,
                       (long long)got->i64[i], (long long)want->i64[i]);
    return ST_OK;
}

static Status compare(Case *c, const char *what, const OnnxTensor *got, const OnnxTensor *want)
{
    if (want->dtype == ONNX_INT64 && got->i64 && want->i64)
        return compare_ints(c, what, got, want);
    if (want->dtype != ONNX_FLOAT)
        return say(c, ST_SKIP, "expected %s output (nnc computes in float32)",
                   onnx_dtype_name(want->dtype));
    bool same_shape = got->ndim == want->ndim;
    for (size_t d = 0; same_shape && d < got->ndim; d++)
        same_shape = got->dims[d] == want->dims[d];
    if (!same_shape)
        return say(c, ST_FAIL, "%s: shape %s, expected %s", what, shape_str(c, got),
                   shape_str(c, want));
    double max_abs = 0, max_rel = 0;
    bool strict = true, loose = true;
    for (size_t i = 0; i < want->count; i++) {
        double g = got->f[i], w = want->f[i];
        if (isnan(w) && isnan(g))
            continue;
        if (isinf(w) && g == w)
            continue;
        double err = fabs(g - w), rel = w != 0 ? err / fabs(w) : err;
        if (!(err <= ATOL + RTOL * fabs(w)))
            strict = false;
        if (!(err <= LOOSE_ATOL + LOOSE_RTOL * fabs(w)))
            loose = false;
        max_abs = err > max_abs || isnan(err) ? err : max_abs;
        max_rel = rel > max_rel || isnan(rel) ? rel : max_rel;
    }
    if (strict)
        return ST_OK;
    if (loose) {
        c->loose = true;
        return ST_OK;
    }
    return say(c, ST_FAIL, "%s: max abs err %.3g, max rel err %.3g", what, max_abs, max_rel);
}

/* ---- the emitted C path ------------------------------------------------ */

/* A chain nnc can write as a model: one data input flowing through Gemm /
 * 2-D MatMul (their other inputs become weights), Conv, MaxPool,
 * AveragePool, the global pools, inference BatchNormalization, Flatten and
 * activations, ending in the one graph output. rows x in is the data
 * input's matrix view (a tensor input [N, C, ...]: N samples of C x ...). */
typedef struct Chain {
    IrModel model;
    const float **params; /* per node: weight then bias, as EmitWeights wants */
    const float *x;    /* [rows][in] (op(A) for a leading transA Gemm) */
    size_t rows;
} Chain;

static bool emittable_activation(const char *op, OpKind *k)
{
    static const struct { const char *name; OpKind kind; } acts[] = {
        {"Relu", OP_RELU}, {"Sigmoid", OP_SIGMOID}, {"Tanh", OP_TANH},
        {"LeakyRelu", OP_LEAKY_RELU}, {"Softmax", OP_SOFTMAX},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (!strcmp(op, acts[i].name)) {
            *k = acts[i].kind;
            return true;
        }
    return false;
}

/* Gemm as a dense layer: W[j][k] = alpha op(B)[k][j], b[j] = beta C[j].
 * Only when C is one bias row (the same for every output row). */
static bool chain_dense(Case *c, const OnnxNode *n, IrNode *node, const float **params,
                        size_t in)
{
    const OnnxTensor *B = value_get(c, n->inputs[1]);
    const OnnxTensor *C = has_input(n, 2) ? value_get(c, n->inputs[2]) : NULL;
    bool gemm = !strcmp(n->op_type, "Gemm");
    bool tb = gemm && attr_int(n, "transB", 0);
    float alpha = gemm ? attr_float(n, "alpha", 1.0f) : 1.0f;
    float beta = gemm ? attr_float(n, "beta", 1.0f) : 1.0f;
    if (!B || !B->f || B->ndim != 2 || (size_t)B->dims[tb] != in)
        return false;
    size_t units = (size_t)B->dims[!tb];
    if (C && (!C->f || C->ndim > 2 || (C->ndim == 2 && C->dims[0] != 1) ||
              (C->count != 1 && C->count != units)))
        return false;
    float *wt = arena_array(c->a, units * in + units + 1, sizeof(float));
    if (!wt)
        return false;
    float *bias = wt + units * in;
    for (size_t j = 0; j < units; j++) {
        for (size_t k = 0; k < in; k++)
            wt[j * in + k] = alpha * (tb ? B->f[j * in + k] : B->f[k * units + j]);
        bias[j] = C ? beta * C->f[C->count == 1 ? 0 : j] : 0.0f;
    }
    *node = (IrNode){.op = OP_DENSE, .in_units = in, .units = units, .cfg.dense = {units}};
    *params = wt;
    return true;
}

/* ---- the chain's tensor layers (Conv, pools, BatchNormalization,
 * Flatten): the emitted C's convolutions, pooling and batchnorm ---------- */

static bool chain_tensor_op(const char *op)
{
    static const char *const ops[] = {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool",
                                      "GlobalMaxPool", "BatchNormalization", "Flatten"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(op, ops[i]))
            return true;
    return false;
}

/* An ints attribute of `rank` values (pads: 2 * rank, begin then end,
 * which must match) into a window's [h, w]; a 1-D op's value goes to [1]
 * and [0] keeps dflt (nnc's trivial height). Absent: dflt. */
static bool chain_ints(const OnnxNode *n, const char *name, size_t rank, size_t dflt,
                       size_t out[2])
{
    const OnnxAttr *at = onnx_attr(n, name);
    out[0] = out[1] = dflt;
    if (!at)
        return true;
    bool pads = !strcmp(name, "pads");
    if (at->kind != ONNX_ATTR_INTS || at->n_ints != (pads ? 2 : 1) * rank)
        return false;
    for (size_t d = 0; d < rank; d++) {
        if (at->ints[d] < 0 || (pads && at->ints[d] != at->ints[d + rank]))
            return false;
        out[2 - rank + d] = (size_t)at->ints[d];
    }
    return true;
}

/* kernel_shape (or the weight's), strides, pads, dilations; NOTSET padding
 * and floor rounding only, as nnc's layers have. */
static bool chain_window(const OnnxNode *n, size_t rank, const int64_t *w_kernel, IrWindow *win)
{
    const OnnxAttr *pad = onnx_attr(n, "auto_pad");
    if ((pad && strcmp(pad->s ? pad->s : "", "NOTSET")) || attr_int(n, "ceil_mode", 0))
        return false;
    if (!chain_ints(n, "kernel_shape", rank, 1, win->kernel) ||
        !chain_ints(n, "strides", rank, 1, win->stride) ||
        !chain_ints(n, "pads", rank, 0, win->padding) ||
        !chain_ints(n, "dilations", rank, 1, win->dilation))
        return false;
    for (size_t d = 0; w_kernel && d < rank; d++) {
        size_t *k = &win->kernel[2 - rank + d];
        if (onnx_attr(n, "kernel_shape") && (int64_t)*k != w_kernel[d])
            return false;
        *k = (size_t)w_kernel[d];
    }
    return true;
}

/* Tensors back to back in one array, as EmitWeights wants a node's. */
static const float *chain_pack(Case *c, const OnnxTensor *const *t, size_t n, size_t pad)
{
    size_t count = pad;
    for (size_t i = 0; i < n; i++)
        count += t[i]->count;
    float *p = arena_array(c->a, count + 1, sizeof(float)), *at = p;
    for (size_t i = 0; p && i < n; i++) {
        memcpy(at, t[i]->f, t[i]->count * sizeof(float));
        at += t[i]->count;
    }
    for (size_t i = 0; p && i < pad; i++)
        *at++ = 0.0f;
    return p;
}

static bool chain_conv(Case *c, const OnnxNode *n, const IrShape *in, IrNode *node,
                       const float **params)
{
    size_t rank = in->rank - 1;
    const OnnxTensor *W = value_get(c, n->inputs[1]);
    const OnnxTensor *B = has_input(n, 2) ? value_get(c, n->inputs[2]) : NULL;
    int64_t groups = attr_int(n, "group", 1);
    if (!W || !W->f || W->ndim != rank + 2 || groups < 1 || (has_input(n, 2) && (!B || !B->f)) ||
        (size_t)W->dims[1] * (size_t)groups != in->dim[0] || W->dims[0] % groups)
        return false;
    node->op = rank == 2 ? OP_CONV2D : OP_CONV1D;
    node->cfg.conv.channels = (size_t)W->dims[0];
    node->cfg.conv.groups = (size_t)groups;
    node->cfg.conv.bias = B != NULL;
    if (!chain_window(n, rank, W->dims + 2, &node->cfg.conv.win))
        return false;
    const OnnxTensor *t[2] = {W, B};
    *params = chain_pack(c, t, B ? 2 : 1, 0);
    return *params != NULL;
}

static bool chain_pool(const OnnxNode *n, const IrShape *in, IrNode *node)
{
    size_t rank = in->rank - 1;
    bool max = !strcmp(n->op_type, "MaxPool");
    node->op = max ? (rank == 2 ? OP_MAXPOOL2D : OP_MAXPOOL1D)
                   : (rank == 2 ? OP_AVGPOOL2D : OP_AVGPOOL1D);
    IrWindow *win = &node->cfg.pool.win;
    if (!chain_window(n, rank, NULL, win) || win->dilation[0] != 1 || win->dilation[1] != 1 ||
        attr_int(n, "storage_order", 0))
        return false;
    /* nnc's average divides by the whole kernel: ONNX's count_include_pad */
    return max || !(win->padding[0] || win->padding[1]) || attr_int(n, "count_include_pad", 0);
}

/* Inference BatchNormalization: X, scale, B, mean, var (nnc's weight, bias,
 * running_mean, running_var; num_batches_tracked is one unused float). */
static bool chain_batchnorm(Case *c, const OnnxNode *n, const IrShape *in, IrNode *node,
                            const float **params)
{
    const OnnxTensor *t[4];
    if (n->n_inputs != 5 || attr_int(n, "training_mode", 0))
        return false;
    for (size_t i = 0; i < 4; i++) {
        t[i] = value_get(c, n->inputs[i + 1]);
        if (!t[i] || !t[i]->f || t[i]->count != in->dim[0])
            return false;
    }
    node->op = OP_BATCHNORM;
    node->cfg.batchnorm.eps = attr_float(n, "epsilon", 1e-5f);
    node->cfg.batchnorm.momentum = 0.1;
    *params = chain_pack(c, t, 4, 1);
    return *params != NULL;
}

/* Flatten's axis counted from the batch dimension (negative: from the end). */
static int64_t chain_flatten_axis(const OnnxNode *n, const IrShape *in)
{
    int64_t axis = attr_int(n, "axis", 1), rank = (int64_t)in->rank + 1;
    return axis < 0 ? axis + rank : axis;
}

/* One tensor layer of the chain reading a value of shape in: node's op,
 * configuration and parameters; its shape by the IR's own rule. */
static bool chain_tensor(Case *c, const OnnxNode *n, const IrShape *in, IrNode *node,
                         const float **params)
{
    const char *op = n->op_type;
    bool ok;
    if (in->rank < 2 || in->rank > 3)
        return false;
    if (!strcmp(op, "Conv"))
        ok = chain_conv(c, n, in, node, params);
    else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))
        ok = chain_pool(n, in, node);
    else if (!strcmp(op, "BatchNormalization"))
        ok = chain_batchnorm(c, n, in, node, params);
    else if (!strcmp(op, "Flatten"))
        ok = chain_flatten_axis(n, in) == 1 && (node->op = OP_FLATTEN, true);
    else
        ok = (node->op = strcmp(op, "GlobalMaxPool") ? OP_GLOBAL_AVGPOOL : OP_GLOBAL_MAXPOOL, true);
    node->in_shape = *in;
    node->in_units = ir_shape_size(in);
    const IrShape *ins[1] = {in};
    const char *names[1] = {"x"};
    IrShapeError err;
    return ok && ir_infer_shape(node, ins, names, 1, &err);
}

static bool chain_build(Case *c, const OnnxTensor *x0, const char *data_name, Chain *ch)
{
    const OnnxModel *m = &c->m;
    if (m->n_outputs != 1 || m->n_nodes == 0 || !x0->f || x0->ndim < 1)
        return false;
    size_t n_nodes = m->n_nodes + 1;
    IrNode *nodes = arena_array(c->a, n_nodes, sizeof(IrNode));
    ch->params = arena_array(c->a, n_nodes, sizeof(float *));
    size_t *order = arena_array(c->a, n_nodes, sizeof(size_t));
    if (!nodes || !ch->params || !order)
        return false;
    size_t width = (size_t)x0->dims[x0->ndim - 1];
    ch->rows = width ? x0->count / width : 0;
    ch->x = x0->f;
    const OnnxNode *first = &m->nodes[0];
    if (!strcmp(first->op_type, "Gemm") && attr_int(first, "transA", 0)) {
        if (x0->ndim != 2)
            return false;
        float *xt = arena_array(c->a, x0->count + 1, sizeof(float));
        if (!xt)
            return false;
        size_t k = (size_t)x0->dims[0], rows = (size_t)x0->dims[1];
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < k; j++)
                xt[r * k + j] = x0->f[j * rows + r];
        ch->x = xt;
        ch->rows = rows;
        width = k;
    }
    IrShape shape = ir_shape_1d(width);
    if (chain_tensor_op(first->op_type)) { /* [N, C, L] or [N, C, H, W]: N samples */
        if (x0->ndim < 3 || x0->ndim > 4 || x0->dims[0] < 1)
            return false;
        shape.rank = x0->ndim - 1;
        for (size_t d = 0; d < shape.rank; d++)
            shape.dim[d] = (size_t)x0->dims[d + 1];
        ch->rows = (size_t)x0->dims[0];
        width = ir_shape_size(&shape);
    }
    nodes[0] = (IrNode){.op = OP_INPUT, .name = "input", .layer = "input", .units = width,
                        .shape = shape};
    const char *prev = data_name;
    size_t params = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const OnnxNode *n = &m->nodes[i];
        IrNode *node = &nodes[i + 1];
        OpKind k;
        if (n->n_inputs < 1 || strcmp(n->inputs[0], prev) || n->n_outputs != 1)
            return false;
        node->name = arena_printf(c->a, "n%zu", i);
        if (chain_tensor_op(n->op_type)) {
            size_t count;
            if (!chain_tensor(c, n, &shape, node, &ch->params[i + 1]) ||
                !ir_node_param_count(node, &count))
                return false;
            params += count;
        } else if (shape.rank != 1 && strcmp(n->op_type, "Relu") &&
                   strcmp(n->op_type, "Sigmoid") && strcmp(n->op_type, "Tanh") &&
                   strcmp(n->op_type, "LeakyRelu")) {
            return false; /* Gemm, MatMul and Softmax see vectors */
        } else if (!strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul")) {
            if (i > 0 && attr_int(n, "transA", 0))
                return false;
            if ((i > 0 || !attr_int(n, "transA", 0)) && x0->ndim != 2 && i == 0)
                return false;
            size_t count;
            if (!chain_dense(c, n, node, &ch->params[i + 1], width) ||
                !ir_node_param_count(node, &count))
                return false;
            params += count;
        } else if (emittable_activation(n->op_type, &k)) {
            if (k == OP_SOFTMAX) {
                size_t rows, cols;
                if (softmax_view(c, n, x0, &rows, &cols) != ST_OK || cols != width ||
                    (i == 0 && x0->ndim != 2 && c->m.opset < 13 && cols != width))
                    return false;
            }
            *node = (IrNode){.op = k, .in_units = width, .units = width, .shape = shape,
                             .in_shape = shape};
            if (k == OP_LEAKY_RELU)
                node->cfg.leaky_relu.slope = attr_float(n, "alpha", 0.01f);
        } else {
            return false;
        }
        node->name = arena_printf(c->a, "n%zu", i);
        node->layer = node->name;
        /* A chain: node i + 1 reads node i. */
        order[i] = i;
        node->inputs = &order[i];
        node->n_inputs = 1;
        if (node->op == OP_DENSE)
            node->shape = ir_shape_1d(node->units), node->in_shape = ir_shape_1d(node->in_units);
        shape = node->shape;
        width = node->units;
        prev = n->outputs[0];
    }
    if (strcmp(prev, m->outputs[0]))
        return false;
    ch->model = (IrModel){.name = "onnx", .nodes = nodes, .n_nodes = n_nodes,
                          .in_units = nodes[0].units, .out_units = width, .n_params = params};
    return true;
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"model.c", "model", "in.csv", "out.csv", "cc.log"};
    char path[600];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Emits, compiles and runs the chain; y receives rows x out_units floats. */
static Status chain_run(Case *c, const Chain *ch, float *y)
{
    char dir[] = "/tmp/nnc-onnx-XXXXXX", path[600], cmd[2000];
    if (!mkdtemp(dir))
        return say(c, ST_FAIL, "emitted C: cannot make a temporary folder");
    Status s = ST_OK;
    snprintf(path, sizeof path, "%s/model.c", dir);
    FILE *f = fopen(path, "w");
    EmitWeights w = {.params = ch->params};
    EmitOptions o = {.prefix = "conf", .source_name = c->dir, .with_main = true};
    bool ok = f && emit_c(f, &ch->model, &w, &o);
    if (f)
        ok = fclose(f) == 0 && ok;
    snprintf(path, sizeof path, "%s/in.csv", dir);
    f = ok ? fopen(path, "w") : NULL;
    size_t in = ch->model.in_units, out = ch->model.out_units;
    for (size_t r = 0; f && r < ch->rows; r++)
        for (size_t j = 0; j < in; j++)
            fprintf(f, j + 1 < in ? "%.9g," : "%.9g\n", (double)ch->x[r * in + j]);
    if (!f || fclose(f) != 0) {
        remove_dir(dir);
        return say(c, ST_FAIL, "emitted C: cannot write the model or its input");
    }
    snprintf(cmd, sizeof cmd, "cc -std=c99 -O2 -o %s/model %s/model.c -lm 2> %s/cc.log", dir, dir, dir);
    if (system(cmd) != 0) {
        remove_dir(dir);
        return say(c, ST_FAIL, "emitted C does not compile (cc -std=c99 -O2)");
    }
    snprintf(cmd, sizeof cmd, "%s/model < %s/in.csv > %s/out.csv", dir, dir, dir);
    if (system(cmd) != 0) {
        remove_dir(dir);
        return say(c, ST_FAIL, "emitted C program failed");
    }
    snprintf(path, sizeof path, "%s/out.csv", dir);
    f = fopen(path, "r");
    size_t got = 0; /* number by number: a row can be longer than any line buffer */
    while (f && got < ch->rows * out && fscanf(f, " %f", &y[got]) == 1) {
        got++;
        int sep = fgetc(f);
        if (sep != ',' && sep != '\n' && sep != EOF)
            break;
    }
    if (f)
        fclose(f);
    if (got != ch->rows * out)
        s = say(c, ST_FAIL, "emitted C printed %zu values, expected %zu", got, ch->rows * out);
    remove_dir(dir);
    return s;
}

/* ---- one case ---------------------------------------------------------- */

static bool is_initializer(const OnnxModel *m, const char *name)
{
    return onnx_initializer(m, name) != NULL;
}

static bool read_tensor_file(Case *c, const char *path, OnnxTensor *t)
{
    void *buf;
    size_t len;
    char err[256];
    if (!onnx_read_file(c->a, path, &buf, &len, err, sizeof err) ||
        !onnx_read_tensor(c->a, buf, len, t, err, sizeof err)) {
        say(c, ST_FAIL, "%s: %s", path, err);
        return false;
    }
    return true;
}

/* Runs one test_data_set folder: runtime, then (when it is a chain) the
 * emitted C. *emitted tells whether the C path ran. */
static Status run_data_set(Case *c, const char *set, bool *emitted)
{
    char path[1200];
    c->n_vals = 0;
    const char *data_name = NULL;
    const OnnxTensor *x0 = NULL;
    for (size_t i = 0, k = 0; i < c->m.n_inputs; i++) {
        if (is_initializer(&c->m, c->m.inputs[i]))
            continue;
        snprintf(path, sizeof path, "%s/input_%zu.pb", set, k++);
        OnnxTensor *t = arena_alloc(c->a, sizeof *t);
        if (!t || !read_tensor_file(c, path, t))
            return ST_FAIL;
        value_set(c, c->m.inputs[i], t);
        if (!x0) {
            x0 = t;
            data_name = c->m.inputs[i];
        }
    }
    for (size_t i = 0; i < c->m.n_nodes; i++) {
        Status s = run_node(c, &c->m.nodes[i]);
        if (s != ST_OK)
            return s;
    }
    const OnnxTensor **want = arena_array(c->a, c->m.n_outputs + 1, sizeof *want);
    if (!want)
        return say(c, ST_FAIL, "out of memory");
    for (size_t i = 0; i < c->m.n_outputs; i++) {
        OnnxTensor *t = arena_alloc(c->a, sizeof *t);
        snprintf(path, sizeof path, "%s/output_%zu.pb", set, i);
        if (!t || !read_tensor_file(c, path, t))
            return ST_FAIL;
        want[i] = t;
        const OnnxTensor *got = value_get(c, c->m.outputs[i]);
        if (!got)
            return say(c, ST_FAIL, "output '%s' was not computed", c->m.outputs[i]);
        Status s = compare(c, "runtime", got, want[i]);
        if (s != ST_OK)
            return s;
    }
    Chain ch;
    if (!x0 || !chain_build(c, x0, data_name, &ch))
        return ST_OK;
    const OnnxTensor *w = want[0];
    OnnxTensor *y = tensor_new(c, w->ndim, w->dims);
    if (!y || y->count != ch.rows * ch.model.out_units)
        return say(c, ST_FAIL, "emitted C: output shape %s does not match the chain",
                   shape_str(c, w));
    Status s = chain_run(c, &ch, y->f);
    if (s != ST_OK)
        return s;
    *emitted = true;
    return compare(c, "emitted C", y, w);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The test_data_set_* folders of a case, sorted. */
static size_t list_sets(Arena *a, const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 16;
    char **names = arena_array(a, cap, sizeof(char *));
    struct dirent *e;
    while (d && names && (e = readdir(d))) {
        if (strncmp(e->d_name, "test_data_set_", 14) || n == cap)
            continue;
        names[n++] = arena_printf(a, "%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    if (names)
        qsort(names, n, sizeof *names, by_name);
    *out = names;
    return n;
}

static Status run_case(Case *c, bool *emitted)
{
    char path[1100], err[256];
    void *buf;
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", c->dir);
    if (!onnx_read_file(c->a, path, &buf, &len, err, sizeof err) ||
        !onnx_read_model(c->a, buf, len, &c->m, err, sizeof err))
        return say(c, ST_FAIL, "%s: %s", path, err);
    Status s = check_ops(c);
    if (s != ST_OK)
        return s;
    char **sets;
    size_t n_sets = list_sets(c->a, c->dir, &sets);
    if (n_sets == 0)
        return say(c, ST_FAIL, "no test_data_set_* folder");
    bool all_emitted = true;
    for (size_t i = 0; i < n_sets; i++) {
        bool e = false;
        if ((s = run_data_set(c, sets[i], &e)) != ST_OK)
            return s;
        all_emitted &= e;
    }
    *emitted = all_emitted;
    return ST_OK;
}

/* ---- the suite --------------------------------------------------------- */

/* The cases run: every case of a folder whose name starts with one of its
 * prefixes (NULL ends a list), or is the name before a final '$'. */
static const char *const node_families[] = {
    "test_gemm_", "test_relu", "test_sigmoid", "test_tanh", "test_softmax_",
    "test_logsoftmax_", "test_leakyrelu", "test_matmul", "test_add", "test_sce_",
    /* the tensor layers and graph ops (issue 15), and the other activations */
    "test_conv_", "test_basic_conv_", "test_maxpool_", "test_averagepool_",
    "test_globalaveragepool", "test_globalmaxpool", "test_batchnorm_", "test_flatten_",
    "test_concat_", "test_sum_", "test_elu", "test_softplus", "test_hardsigmoid",
    "test_hardswish", "test_dropout_",
    "test_identity$", /* not test_identity_opt, _sequence: optional and sequence values */
    NULL,
};
static const char *const pytorch_families[] = {
    "test_Linear", "test_Conv1d", "test_Conv2d", "test_MaxPool", "test_AvgPool",
    "test_BatchNorm", "test_ReLU", "test_Sigmoid", "test_Tanh", "test_ELU", "test_LeakyReLU",
    "test_Softplus", "test_Softmax", "test_LogSoftmax", "test_softmax_lastdim",
    "test_log_softmax_lastdim", NULL,
};
static const char *const operator_families[] = {
    "test_operator_conv", "test_operator_maxpool", "test_operator_flatten", "test_operator_concat",
    "test_operator_addmm", "test_operator_view", NULL,
};
static const char *const simple_families[] = {"test_single_relu_model", NULL};
static const struct {
    const char *dir;
    const char *const *families;
} suites[] = {{"node", node_families}, {"pytorch-converted", pytorch_families},
              {"pytorch-operator", operator_families}, {"simple", simple_families}};

static bool wanted(const char *name, const char *const *families, bool all)
{
    if (strncmp(name, "test_", 5))
        return false;
    if (all)
        return true;
    for (size_t i = 0; families[i]; i++) {
        size_t len = strlen(families[i]);
        bool exact = len && families[i][len - 1] == '$';
        if (!strncmp(name, families[i], len - exact) && (!exact || name[len - 1] == '\0'))
            return true;
    }
    return false;
}

/* Appends the wanted cases of DATA_DIR/dir, sorted, to dirs; false when
 * the folder cannot be read. */
static bool list_cases(Arena *a, const char *data, size_t suite, bool all, char **dirs,
                       size_t cap, size_t *n_dirs)
{
    char *dir = arena_printf(a, "%s/%s", data, suites[suite].dir);
    struct dirent **ents;
    int n_ents = dir ? scandir(dir, &ents, NULL, alphasort) : -1;
    if (n_ents < 0)
        return false;
    for (int i = 0; i < n_ents; i++) {
        if (*n_dirs < cap && wanted(ents[i]->d_name, suites[suite].families, all))
            dirs[(*n_dirs)++] = arena_printf(a, "%s/%s", dir, ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR [--all]\n", argv[0]);
        return 2;
    }
    bool all = argc > 2 && !strcmp(argv[2], "--all");
    Arena names;
    arena_init(&names);
    enum { MAX_CASES = 4096 };
    size_t n_dirs = 0;
    char **dirs = arena_array(&names, MAX_CASES, sizeof(char *));
    for (size_t k = 0; dirs && k < sizeof suites / sizeof suites[0]; k++) {
        if (!list_cases(&names, argv[1], k, all, dirs, MAX_CASES, &n_dirs)) {
            fprintf(stderr, "conformance: cannot read %s/%s (is libonnx-testdata installed?)\n",
                    argv[1], suites[k].dir);
            arena_free(&names);
            return 2;
        }
    }
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; dirs && i < n_dirs; i++) {
        Arena a;
        arena_init(&a);
        Case *c = calloc(1, sizeof *c);
        if (!c) {
            arena_free(&a);
            break;
        }
        c->a = &a;
        c->dir = dirs[i];
        bool emitted = false;
        Status s = run_case(c, &emitted);
        const char *name = strrchr(dirs[i], '/') + 1;
        if (s == ST_OK) {
            passed++;
            printf("PASS %s (runtime%s)%s\n", name, emitted ? ", emitted C" : "",
                   c->loose ? " [needs ONNX's rtol 1e-3]" : "");
        } else if (s == ST_SKIP) {
            skipped++;
            printf("SKIP %s: %s\n", name, c->msg);
        } else {
            failed++;
            printf("FAIL %s: %s\n", name, c->msg);
        }
        fflush(stdout);
        free(c);
        arena_free(&a);
    }
    printf("conformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    arena_free(&names);
    return failed ? 1 : 0;
}
