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
    case OP_SOFTMAX:
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
    case OP_CONCAT: return true;
    }
    *why = "unknown op";
    return false;
}

static bool has_weights(OpKind k)
{
    return k == OP_DENSE || k == OP_CONV1D || k == OP_CONV2D;
}

/* How many inputs of later nodes read node j. */
static size_t readers(const IrModel *m, size_t j)
{
    size_t n = 0;
    for (size_t k = j + 1; k < m->n_nodes; k++)
        for (size_t i = 0; i < m->nodes[k].n_inputs; i++)
            n += m->nodes[k].inputs[i] == j;
    return n;
}

/* A batchnorm goes into the weights of the dense or conv it reads when
 * nothing else reads that layer. */
static bool batchnorm_folds(const IrModel *m, size_t i)
{
    size_t src = m->nodes[i].inputs[0];
    return has_weights(m->nodes[src].op) && readers(m, src) == 1;
}

/* Weights per output channel of a dense or conv node. */
static size_t channel_fan_in(const IrNode *n)
{
    IrParam ps[IR_MAX_PARAMS];
    ir_node_params(n, ps);
    return ir_shape_size(&ps[0].shape) / n->shape.dim[0];
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
        if (n->op == OP_BATCHNORM && !batchnorm_folds(m, i)) {
            snprintf(why, size, "a batchnorm is quantized folded into the weights of the dense "
                     "or conv layer it reads, and this one reads '%s', which %s",
                     m->nodes[n->inputs[0]].name, has_weights(m->nodes[n->inputs[0]].op)
                     ? "another layer reads too" : "has no weights");
            return n;
        }
        if (has_weights(n->op) && channel_fan_in(n) > Q8_MAX_FAN_IN) {
            snprintf(why, size, "its %zu weights per output are more than the int32 accumulator "
                     "of an int8 layer sums without overflow (%zu)", channel_fan_in(n),
                     Q8_MAX_FAN_IN);
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

/* Whether node i (a relu) can be the clamp of the layer before it: it
 * reads a dense or conv (or a batchnorm folded into one), and nothing else
 * reads that. */
static bool relu_folds(const IrModel *m, size_t i)
{
    const IrNode *n = &m->nodes[i];
    if (n->op != OP_RELU)
        return false;
    size_t src = n->inputs[0];
    bool weighted = has_weights(m->nodes[src].op) || m->nodes[src].op == OP_ADD ||
                    (m->nodes[src].op == OP_BATCHNORM && batchnorm_folds(m, src));
    return weighted && readers(m, src) == 1;
}

static QKind node_kind(const IrModel *m, size_t i)
{
    switch (m->nodes[i].op) {
    case OP_INPUT: return Q_INPUT;
    case OP_DENSE: return Q_DENSE;
    case OP_CONV1D:
    case OP_CONV2D: return Q_CONV;
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_GLOBAL_MAXPOOL: return Q_MAXPOOL;
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL: return Q_AVGPOOL;
    case OP_SOFTMAX: return Q_SOFTMAX;
    case OP_DROPOUT:
    case OP_IDENTITY:
    case OP_FLATTEN:
    case OP_BATCHNORM: return Q_ALIAS; /* q8_refusal: only where it folds */
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
    case OP_ADD: return Q_ADD;
    case OP_CONCAT: return Q_CONCAT;
    }
    return Q_ALIAS;
}

/* The node reading weighted node i that matches op and folds, or 0. */
static size_t folded_reader(const IrModel *m, size_t i, OpKind op)
{
    for (size_t r = i + 1; r < m->n_nodes; r++) {
        if (m->nodes[r].op != op || m->nodes[r].inputs[0] != i)
            continue;
        if (op == OP_BATCHNORM ? batchnorm_folds(m, r) : relu_folds(m, r))
            return r;
    }
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

/* The float weights and bias node i computes with: its own, or with the
 * batchnorm bn folded in (w * a, (b - mean) a + beta, a = gamma /
 * sqrt(var + eps) as the runtime rounds it), into w and bias. */
static void effective_weights(Builder *b, size_t i, size_t bn, const QDense *qd, float *w,
                              float *bias)
{
    const float *p = b->rm->params + b->rm->node_params[i].offset;
    bool has_bias = b->rm->node_params[i].count > 1;
    for (size_t c = 0; c < qd->units; c++) {
        float a = 1.0f, shift = 0.0f, mean = 0.0f;
        if (bn) {
            const float *q = b->rm->params + b->rm->node_params[bn].offset;
            double eps = b->q->ir->nodes[bn].cfg.batchnorm.eps;
            a = q[c] * (float)(1.0 / sqrt((double)q[3 * qd->units + c] + eps));
            shift = q[qd->units + c];
            mean = q[2 * qd->units + c];
        }
        for (size_t j = 0; j < qd->in; j++)
            w[c * qd->in + j] = p[c * qd->in + j] * a;
        float own = has_bias ? p[qd->units * qd->in + c] : 0.0f;
        bias[c] = bn ? (own - mean) * a + shift : own;
    }
}

static bool build_dense(Builder *b, size_t i, QNode *qn)
{
    const IrNode *n = &b->q->ir->nodes[i];
    QDense *qd = &qn->dense;
    qd->units = n->shape.dim[0];
    qd->in = channel_fan_in(n);
    int8_t *wq = arena_array(b->a, qd->units * qd->in, 1);
    float *ws = arena_array(b->a, qd->units, sizeof *ws);
    int32_t *ints = arena_array(b->a, qd->units * 4, sizeof *ints);
    float *w = arena_array(b->a, qd->units * qd->in, sizeof *w);
    float *bias = arena_array(b->a, qd->units, sizeof *bias);
    if (!wq || !ws || !ints || !w || !bias) {
        diag_error(b->d, loc_none(), "out of memory");
        return false;
    }
    size_t bn = folded_reader(b->q->ir, i, OP_BATCHNORM);
    effective_weights(b, i, bn, qd, w, bias);
    quantize_weights(qd, w, ws, wq);
    qd->weight = wq;
    qd->w_scale = ws;
    int32_t *bq = ints, *acc = ints + qd->units, *mult = acc + qd->units, *shift = mult + qd->units;
    qd->bias = bq, qd->acc_init = acc, qd->mult = mult, qd->shift = shift;
    qd->act_min = qn->folded ? qn->out.zero : -128;
    qd->act_max = 127;
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
    size_t measured = i;
    if (qn->kind == Q_ADD) {
        size_t relu = folded_reader(m, i, OP_RELU);
        qn->folded = relu ? m->nodes[relu].name : NULL;
        measured = relu ? relu : i;
    }
    if (qn->kind == Q_DENSE || qn->kind == Q_CONV) {
        size_t bn = folded_reader(m, i, OP_BATCHNORM);
        size_t relu = folded_reader(m, bn ? bn : i, OP_RELU);
        qn->folded_bn = bn ? m->nodes[bn].name : NULL;
        qn->folded = relu ? m->nodes[relu].name : NULL;
        measured = relu ? relu : bn ? bn : i;
    }
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

static bool mix_multiplier(Builder *b, size_t i, double real, int32_t *mult, int32_t *shift)
{
    int sh;
    if (!q8_quantize_multiplier(real, mult, &sh)) {
        diag_error(b->d, loc_none(), "--quantize int8: layer '%s' needs a rescaling factor %g "
                   "that a 32-bit multiplier cannot hold", b->q->ir->nodes[i].name, real);
        return false;
    }
    *shift = sh;
    return true;
}

/* add: every input to the common scale n max s_k (TFLite's "twice the
 * larger input scale" for two inputs); concat: every input to s_out. */
static bool build_mix(Builder *b, size_t i, QNode *qn)
{
    const IrNode *n = &b->q->ir->nodes[i];
    QMix *mx = &qn->mix;
    size_t *src = arena_array(b->a, n->n_inputs, sizeof *src);
    int32_t *ints = arena_array(b->a, 2 * n->n_inputs, sizeof *ints);
    if (!src || !ints) {
        diag_error(b->d, loc_none(), "out of memory");
        return false;
    }
    double max = 0;
    for (size_t k = 0; k < n->n_inputs; k++) {
        size_t s = n->inputs[k];
        src[k] = b->q->nodes[s].kind == Q_ALIAS ? b->q->nodes[s].src : s;
        double sk = b->q->nodes[src[k]].out.scale;
        max = sk > max ? sk : max;
    }
    *mx = (QMix){n->n_inputs, src, ints, ints + n->n_inputs, 0, 0, -128};
    double common = (double)n->n_inputs * max, out = qn->out.scale;
    bool add = qn->kind == Q_ADD;
    for (size_t k = 0; k < n->n_inputs; k++) {
        double sk = b->q->nodes[src[k]].out.scale;
        if (!mix_multiplier(b, i, add ? sk / common : sk / out, &ints[k], &ints[n->n_inputs + k]))
            return false;
    }
    mx->act_min = add && qn->folded ? qn->out.zero : -128;
    return !add || mix_multiplier(b, i, common / ((double)(1 << Q8_ADD_SHIFT) * out),
                                  &mx->out_mult, &mx->out_shift);
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
    case Q_DENSE:
    case Q_CONV: return calibrate_node(b, i, qn) && build_dense(b, i, qn);
    case Q_ADD:
    case Q_CONCAT: return calibrate_node(b, i, qn) && build_mix(b, i, qn);
    case Q_MAXPOOL:
    case Q_AVGPOOL: /* TFLite's pooling keeps its input's scale and zero point */
        qn->out = b->q->nodes[qn->src].out;
        qn->lo = b->q->nodes[qn->src].lo;
        qn->hi = b->q->nodes[qn->src].hi;
        return true;
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
