/* Post-training quantization (docs/quantization.md): calibrates a trained
 * model's activation ranges on a dataset with the float forward pass,
 * then turns its float weights into the QModel the integer kernels
 * (quant_kernels.c) and the C emitter run. Everything float happens here,
 * once; what it produces is integers and tables. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/quant.h"
#include "ops.h"
#include "session.h"

/* The largest dense fan-in: with |x - zero| <= 255, |w| <= 127 and a bias
 * saturated to 2^29, every partial sum stays below 2^31 (quantization.md). */
#define Q8_MAX_FAN_IN ((size_t)(1 << 30) / (256 * 127))
#define Q8_MAX_BIAS ((double)(1 << 29))

static bool op_quantizable(OpKind k, const char **why)
{
    switch (k) {
    case OP_INPUT:
    case OP_DENSE:
    case OP_DROPOUT:
    case OP_IDENTITY:
    case OP_FLATTEN:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_SOFTMAX: return true;
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_BATCHNORM:
    case OP_ADD:
    case OP_CONCAT:
        *why = "the int8 path has no integer kernel for it yet (it quantizes dense layers, "
               "their activations and softmax: docs/quantization.md)";
        return false;
    }
    *why = "unknown op";
    return false;
}

const IrNode *q8_refusal(const IrModel *m, char *why, size_t size)
{
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        const char *reason = NULL;
        if (!op_quantizable(n->op, &reason)) {
            snprintf(why, size, "%s", reason);
            return n;
        }
        if (n->op == OP_DENSE && n->in_units > Q8_MAX_FAN_IN) {
            snprintf(why, size, "its %zu inputs are more than the int32 accumulator of an "
                     "int8 dense layer sums without overflow (%zu)", n->in_units, Q8_MAX_FAN_IN);
            return n;
        }
    }
    if (m->n_nodes < 2) {
        snprintf(why, size, "the model has no layers to quantize");
        return &m->nodes[0];
    }
    return NULL;
}

/* ---- calibration ------------------------------------------------------- */

typedef struct Range {
    float lo, hi;
} Range;

/* The dataset to calibrate on: --calibrate NAME, else the rows the model
 * trains on (its last train block), else its first evaluate step's. */
static const IrDataset *calibration_set(const IrProgram *p, size_t model, const char *name,
                                        Diag *d)
{
    if (name) {
        for (size_t i = 0; i < p->n_datasets; i++)
            if (strcmp(p->datasets[i].name, name) == 0)
                return &p->datasets[i];
        diag_error(d, loc_none(), "--calibrate: the file has no dataset '%s'", name);
        return NULL;
    }
    for (size_t i = p->n_trains; i-- > 0;)
        if (p->trains[i].model == model)
            return &p->datasets[p->trains[i].dataset];
    for (size_t i = 0; i < p->n_evals; i++)
        if (p->evals[i].model == model)
            return &p->datasets[p->evals[i].dataset];
    diag_error(d, loc_none(), "--quantize int8: model '%s' is neither trained nor evaluated "
               "on any dataset; give --calibrate DATASET", p->models[model].name);
    return NULL;
}

static bool calibration_fits(const IrDataset *ds, const IrModel *m, Diag *d)
{
    if (ds->x_cols != m->in_units) {
        diag_error(d, loc_none(), "--quantize int8: calibration dataset '%s' has %zu features "
                   "per row but model '%s' takes %zu", ds->name, ds->x_cols, m->name,
                   m->in_units);
        return false;
    }
    if (ds->rows == 0) {
        diag_error(d, loc_none(), "--quantize int8: calibration dataset '%s' has no rows",
                   ds->name);
        return false;
    }
    return true;
}

/* Widens r by n values; false at the first value that is not finite. */
static bool range_add(Range *r, const float *v, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(v[j]))
            return false;
        r->lo = v[j] < r->lo ? v[j] : r->lo;
        r->hi = v[j] > r->hi ? v[j] : r->hi;
    }
    return true;
}

enum { CALIB_CHUNK = 256 };

/* The range of node i's float output over every row of ds (0 included):
 * an evaluation plan that keeps node i, run in chunks. */
static bool node_range(RtModel *rm, size_t i, const IrDataset *ds, Range *r, Diag *d)
{
    size_t chunk = ds->rows < CALIB_CHUNK ? ds->rows : CALIB_CHUNK;
    size_t units = rm->ir->nodes[i].units;
    RtPlan pl;
    if (!rt_plan_init(&pl, rm, chunk, NULL, NULL, (long)i, d))
        return false;
    bool ok = true;
    for (size_t start = 0; ok && start < ds->rows; start += chunk) {
        size_t n = ds->rows - start < chunk ? ds->rows - start : chunk;
        rt_plan_forward(&pl, ds->x + start * ds->x_cols, n, false, NULL);
        ok = range_add(r, rt_plan_node_out(&pl, i), n * units);
    }
    rt_plan_free(&pl);
    if (!ok)
        diag_error(d, loc_none(), "--quantize int8: layer '%s' computes a value that is not "
                   "finite (NaN or infinite) on calibration dataset '%s': no int8 range "
                   "holds it", rm->ir->nodes[i].name, ds->name);
    return ok;
}

/* ---- choosing scales --------------------------------------------------- */

/* TFLite's asymmetric int8 parameters for [lo, hi] widened to hold 0: scale
 * = (hi - lo) / 255, zero = -128 - lo / scale rounded and clamped. A range
 * of width 0 (or too narrow for a normal float scale) is a value that is
 * always 0: it gets [0, 1] instead, so no scale is ever 0. */
static QParams choose_params(QNode *n, Range r)
{
    double lo = r.lo < 0 ? r.lo : 0, hi = r.hi > 0 ? r.hi : 0;
    double scale = (hi - lo) / 255.0;
    if (!(scale >= (double)FLT_MIN * 256.0)) {
        n->degenerate = true;
        lo = 0.0;
        hi = 1.0;
        scale = 1.0 / 255.0;
    }
    n->lo = (float)lo;
    n->hi = (float)hi;
    double zero = round(-128.0 - lo / scale);
    zero = zero < -128 ? -128 : zero > 127 ? 127 : zero;
    return (QParams){(float)scale, (int32_t)zero};
}

/* Whether node i (a relu) can be the clamp of the dense before it: it
 * reads that dense, and nothing else reads the dense. */
static bool relu_folds(const IrModel *m, size_t i)
{
    const IrNode *n = &m->nodes[i];
    if (n->op != OP_RELU || m->nodes[n->inputs[0]].op != OP_DENSE)
        return false;
    for (size_t k = 0; k < m->n_nodes; k++)
        for (size_t j = 0; j < m->nodes[k].n_inputs; j++)
            if (k != i && m->nodes[k].inputs[j] == n->inputs[0])
                return false;
    return true;
}

static QKind node_kind(const IrModel *m, size_t i)
{
    switch (m->nodes[i].op) {
    case OP_INPUT: return Q_INPUT;
    case OP_DENSE: return Q_DENSE;
    case OP_SOFTMAX: return Q_SOFTMAX;
    case OP_DROPOUT:
    case OP_IDENTITY:
    case OP_FLATTEN: return Q_ALIAS;
    case OP_RELU: return relu_folds(m, i) ? Q_ALIAS : Q_LUT;
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_LEAKY_RELU:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID: return Q_LUT;
    case OP_CONV1D: /* refused by q8_refusal before any node is built */
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_BATCHNORM:
    case OP_ADD:
    case OP_CONCAT: break;
    }
    return Q_ALIAS;
}

/* The relu folded into dense node i as its clamp, or 0 when none is. */
static size_t folded_relu(const IrModel *m, size_t i)
{
    for (size_t r = i + 1; r < m->n_nodes; r++)
        if (m->nodes[r].inputs[0] == i && relu_folds(m, r))
            return r;
    return 0;
}

/* ---- building the nodes ------------------------------------------------ */

typedef struct Builder {
    RtModel *rm;
    Arena *a;
    QModel *q;
    const IrDataset *ds;
    Diag *d;
} Builder;

static double round_half_away(double v)
{
    return v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
}

/* Weights per output channel: scale = max |w| / 127 (1 for a channel of
 * zeros), q = round(w / scale) in [-127, 127]. */
static void quantize_weights(QDense *qd, const float *w, float *w_scale, int8_t *wq)
{
    for (size_t c = 0; c < qd->units; c++) {
        float amax = 0;
        for (size_t j = 0; j < qd->in; j++)
            amax = fabsf(w[c * qd->in + j]) > amax ? fabsf(w[c * qd->in + j]) : amax;
        w_scale[c] = amax > 0 ? amax / 127.0f : 1.0f;
        for (size_t j = 0; j < qd->in; j++) {
            double v = round_half_away((double)w[c * qd->in + j] / (double)w_scale[c]);
            wq[c * qd->in + j] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        }
    }
}

/* Bias in scale in * w_scale[c] (saturated at 2^29), the input's zero
 * point folded in, and the requantization multiplier in * w / out. */
static bool quantize_channels(Builder *b, QDense *qd, const float *bias, QParams in, QParams out,
                              int32_t *bq, int32_t *acc, int32_t *mult, int32_t *shift,
                              const char *name)
{
    for (size_t c = 0; c < qd->units; c++) {
        double s = (double)in.scale * (double)qd->w_scale[c];
        double v = round_half_away((double)bias[c] / s);
        bq[c] = (int32_t)(v < -Q8_MAX_BIAS ? -Q8_MAX_BIAS : v > Q8_MAX_BIAS ? Q8_MAX_BIAS : v);
        int32_t wsum = 0;
        for (size_t j = 0; j < qd->in; j++)
            wsum += qd->weight[c * qd->in + j];
        acc[c] = bq[c] - in.zero * wsum;
        int sh;
        if (!q8_quantize_multiplier(s / (double)out.scale, &mult[c], &sh)) {
            diag_error(b->d, loc_none(), "--quantize int8: layer '%s' channel %zu needs a "
                       "requantization factor %g that a 32-bit multiplier cannot hold", name, c,
                       s / (double)out.scale);
            return false;
        }
        shift[c] = sh;
    }
    return true;
}

static bool build_dense(Builder *b, size_t i, QNode *qn)
{
    const IrNode *n = &b->q->ir->nodes[i];
    const float *w = b->rm->params + b->rm->node_params[i].offset;
    bool has_bias = b->rm->node_params[i].count > 1;
    QDense *qd = &qn->dense;
    qd->in = n->in_units;
    qd->units = n->units;
    int8_t *wq = arena_array(b->a, qd->units * qd->in, 1);
    float *ws = arena_array(b->a, qd->units, sizeof *ws);
    int32_t *ints = arena_array(b->a, qd->units * 4, sizeof *ints);
    float *zeros = has_bias ? NULL : arena_array(b->a, qd->units, sizeof *zeros);
    if (!wq || !ws || !ints || (!has_bias && !zeros)) {
        diag_error(b->d, loc_none(), "out of memory");
        return false;
    }
    quantize_weights(qd, w, ws, wq);
    qd->weight = wq;
    qd->w_scale = ws;
    int32_t *bq = ints, *acc = ints + qd->units, *mult = acc + qd->units, *shift = mult + qd->units;
    qd->bias = bq, qd->acc_init = acc, qd->mult = mult, qd->shift = shift;
    qd->act_min = qn->folded ? qn->out.zero : -128;
    qd->act_max = 127;
    const float *bias = has_bias ? w + qd->units * qd->in : zeros;
    return quantize_channels(b, qd, bias, b->q->nodes[qn->src].out, qn->out, bq, acc, mult, shift,
                             n->name);
}

/* lut[q + 128] = quantize(f(dequantize(q))), f the runtime's own op. */
static void build_lut(Builder *b, size_t i, QNode *qn)
{
    const IrNode *n = &b->q->ir->nodes[i];
    QParams in = b->q->nodes[qn->src].out;
    float x[256], y[256];
    for (int v = -128; v < 128; v++)
        x[v + 128] = q8_dequantize(v, in.scale, in.zero);
    RtOpArgs args = {.rows = 1, .in = 256, .out = 256, .node = n, .cfg = &n->cfg,
                     .x = x, .y = y};
    rt_op_forward(n->op, &args);
    for (int v = 0; v < 256; v++)
        qn->lut[v] = q8_quantize(y[v], qn->out.scale, qn->out.zero);
}

static void build_softmax(Builder *b, QNode *qn)
{
    QParams in = b->q->nodes[qn->src].out;
    for (int d = 0; d < 256; d++)
        qn->exp_q16[d] = (int32_t)round(exp(-(double)d * (double)in.scale) * Q8_EXP_ONE);
    qn->out = (QParams){1.0f / 256.0f, -128};
    qn->lo = 0.0f;
    qn->hi = 1.0f;
}

/* Node i's value's range: its own, or for a dense whose relu is folded
 * in, the relu's (the clamp is part of the dense). */
static bool calibrate_node(Builder *b, size_t i, QNode *qn)
{
    const IrModel *m = b->q->ir;
    size_t measured = qn->kind == Q_DENSE ? folded_relu(m, i) : 0;
    if (measured)
        qn->folded = m->nodes[measured].name;
    else
        measured = i;
    Range r = {0.0f, 0.0f};
    bool ok = i == 0 ? range_add(&r, b->ds->x, b->ds->rows * b->ds->x_cols)
                     : node_range(b->rm, measured, b->ds, &r, b->d);
    if (!ok && i == 0)
        diag_error(b->d, loc_none(), "--quantize int8: calibration dataset '%s' has a value "
                   "that is not finite", b->ds->name);
    if (ok)
        qn->out = choose_params(qn, r);
    return ok;
}

static bool build_node(Builder *b, size_t i)
{
    const IrModel *m = b->q->ir;
    QNode *qn = &b->q->nodes[i];
    qn->kind = node_kind(m, i);
    qn->src = i == 0 ? 0 : m->nodes[i].inputs[0];
    if (i > 0 && b->q->nodes[qn->src].kind == Q_ALIAS)
        qn->src = b->q->nodes[qn->src].src;
    switch (qn->kind) {
    case Q_ALIAS:
        qn->out = b->q->nodes[qn->src].out;
        return true;
    case Q_SOFTMAX:
        build_softmax(b, qn);
        return true;
    case Q_LUT:
        if (!calibrate_node(b, i, qn))
            return false;
        build_lut(b, i, qn);
        return true;
    case Q_DENSE: return calibrate_node(b, i, qn) && build_dense(b, i, qn);
    case Q_INPUT: return calibrate_node(b, i, qn);
    }
    return false;
}

/* The calibration rows of model, or NULL (reported) when the model cannot
 * be quantized or the rows do not fit. */
static const IrDataset *quant_check(const IrProgram *p, size_t model, const char *calibrate,
                                    Diag *d)
{
    const IrModel *m = &p->models[model];
    char why[256];
    const IrNode *bad = q8_refusal(m, why, sizeof why);
    if (bad) {
        diag_error(d, loc_none(), "--quantize int8: layer '%s' (%s) of model '%s' cannot be "
                   "quantized: %s", bad->layer, ir_ops[bad->op].name, m->name, why);
        return NULL;
    }
    const IrDataset *ds = calibration_set(p, model, calibrate, d);
    return ds && calibration_fits(ds, m, d) ? ds : NULL;
}

bool rt_quant_check(const IrProgram *p, size_t model, const char *calibrate, Diag *d)
{
    return quant_check(p, model, calibrate, d) != NULL;
}

bool rt_quantize(RtSession *s, size_t model, const char *calibrate, Arena *a, QModel *out,
                 Diag *d)
{
    const IrProgram *p = s->prog;
    const IrModel *m = &p->models[model];
    const IrDataset *ds = quant_check(p, model, calibrate, d);
    if (!ds)
        return false;
    *out = (QModel){m, arena_array(a, m->n_nodes, sizeof(QNode)), ds->name, ds->rows};
    if (!out->nodes) {
        diag_error(d, loc_none(), "out of memory");
        return false;
    }
    memset(out->nodes, 0, m->n_nodes * sizeof(QNode));
    Builder b = {&s->models[model], a, out, ds, d};
    for (size_t i = 0; i < m->n_nodes; i++)
        if (!build_node(&b, i))
            return false;
    return true;
}
