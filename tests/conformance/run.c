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

/* Elementwise ops see any tensor as one row. */
static Status run_elementwise(Case *c, const OnnxNode *n, const OnnxTensor *x, OpKind k,
                              double arg)
{
    OnnxTensor *y = tensor_new(c, x->ndim, x->dims);
    if (!y)
        return say(c, ST_FAIL, "out of memory");
    IrOpConfig cfg = {.leaky_relu = {arg}}; /* the one elementwise op with a configuration */
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

static const char *const supported_ops[] = {
    "Gemm", "MatMul", "Add", "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Softmax", "LogSoftmax",
    "SoftmaxCrossEntropyLoss",
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

static Status run_node(Case *c, const OnnxNode *n)
{
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
    if (!strcmp(op, "Add"))
        return run_add(c, n, in[0], in[1]);
    return run_sce(c, n, in[0], in[1]);
}

/* ---- comparing --------------------------------------------------------- */

/* Compares got with want; on mismatch says so in c->msg. Sets c->loose when
 * the values agree only within ONNX's own tolerance. */
static Status compare(Case *c, const char *what, const OnnxTensor *got, const OnnxTensor *want)
{
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
    size_t got = 0;
    char line[65536];
    while (f && got < ch->rows * out && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        for (size_t j = 0; j < out && got < ch->rows * out; j++, got++) {
            y[got] = strtof(p, &end);
            if (end == p)
                break;
            p = *end == ',' ? end + 1 : end;
        }
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

static const char *const families[] = {
    "test_gemm_", "test_relu", "test_sigmoid", "test_tanh", "test_softmax_",
    "test_logsoftmax_", "test_leakyrelu", "test_matmul", "test_add", "test_sce_",
};

static bool wanted(const char *name, bool all)
{
    if (strncmp(name, "test_", 5))
        return false;
    if (all)
        return true;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (!strncmp(name, families[i], strlen(families[i])))
            return true;
    return false;
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
    char *node_dir = arena_printf(&names, "%s/node", argv[1]);
    struct dirent **ents;
    int n_ents = scandir(node_dir, &ents, NULL, alphasort);
    if (n_ents < 0) {
        fprintf(stderr, "conformance: cannot read %s (is libonnx-testdata installed?)\n", node_dir);
        arena_free(&names);
        return 2;
    }
    size_t n_dirs = 0;
    char **dirs = arena_array(&names, (size_t)n_ents + 2, sizeof(char *));
    for (int i = 0; i < n_ents; i++) {
        if (dirs && wanted(ents[i]->d_name, all))
            dirs[n_dirs++] = arena_printf(&names, "%s/%s", node_dir, ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    if (dirs)
        dirs[n_dirs++] = arena_printf(&names, "%s/pytorch-converted/test_Linear", argv[1]);
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
