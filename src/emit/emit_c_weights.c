/* The weights as static const arrays, in PyTorch's layouts (nn.Linear's
 * [out][in], transposed for wide layers; nn.Conv's [out][in/groups][k...]).
 * A batchnorm folded into the dense or conv before it changes that layer's
 * arrays: W'[o] = W[o] * a[o] and b'[o] = (b[o] - mean[o]) * a[o] + beta[o]
 * with a = gamma / sqrt(running_var + eps), in float as the runtime rounds
 * the batchnorm it replaces; the result differs from the two steps by the
 * rounding of those products (measured in docs/deploy.md). */
#include <math.h>

#include "c_emit.h"

/* batchnorm's tensors, as ir_ops declares them */
enum { BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR };

float c_batchnorm_scale(const IrModel *m, const EmitWeights *w, size_t bn, size_t ch)
{
    const float *gamma = emit_param(w, m, bn, BN_WEIGHT), *var = emit_param(w, m, bn, BN_VAR);
    float eps = (float)m->nodes[bn].cfg.batchnorm.eps;
    float invstd = (float)(1.0 / sqrt((double)var[ch] + (double)eps));
    return gamma[ch] * invstd;
}

/* Output channel ch's weights, scaled when a batchnorm is folded in. */
static float folded_weight(const Emitter *e, size_t i, size_t ch, float v)
{
    size_t bn = e->plan.fold[i];
    return bn ? v * c_batchnorm_scale(e->m, e->w, bn, ch) : v;
}

static float folded_bias(const Emitter *e, size_t i, size_t ch, float b)
{
    size_t bn = e->plan.fold[i];
    if (!bn)
        return b;
    const float *mean = emit_param(e->w, e->m, bn, BN_MEAN);
    const float *beta = emit_param(e->w, e->m, bn, BN_BIAS);
    return (b - mean[ch]) * c_batchnorm_scale(e->m, e->w, bn, ch) + beta[ch];
}

/* A vector computed per channel (folded biases, batchnorm constants). */
typedef float ChannelFn(const Emitter *e, size_t i, size_t ch);

static void put_channels(Emitter *e, size_t i, const char *suffix, size_t n, ChannelFn *fn)
{
    char id[256];
    c_node_ident(&e->m->nodes[i], id, sizeof id);
    c_put(e, "static const float %s_%s_%s[%zu] = {\n    ", e->o->prefix, id, suffix, n);
    for (size_t c = 0; c < n; c++) {
        c_put(e, c ? (c % 6 ? ", " : ",\n    ") : "");
        c_put_float(e, fn(e, i, c));
    }
    c_put(e, "\n};\n");
}

static float dense_bias(const Emitter *e, size_t i, size_t ch)
{
    return folded_bias(e, i, ch, emit_param(e->w, e->m, i, 1)[ch]);
}

/* Small layers keep nn.Linear's [out][in] layout. Wide layers are stored
 * transposed, [in][out], so the loop over outputs is innermost and
 * contiguous: the compiler vectorises it without reordering any sum. */
static void emit_dense_arrays(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    const float *w = emit_param(e->w, e->m, i, 0);
    char id[256];
    c_node_ident(n, id, sizeof id);
    bool transposed = n->units * n->in_units > EMIT_UNROLL_MAX_WEIGHTS;
    size_t rows = transposed ? n->in_units : n->units;
    size_t cols = transposed ? n->units : n->in_units;
    c_put(e, "\n/* %s: weight [%zu][%zu] (%s), bias [%zu] */\n", n->name, rows, cols,
         transposed ? "in, out: nn.Linear's weight transposed" : "out, in: as nn.Linear", n->units);
    if (e->plan.fold[i])
        c_put(e, "/* %s is folded in: weight * gamma / sqrt(var + eps) per output */\n",
             e->m->nodes[e->plan.fold[i]].name);
    c_put(e, "static const float %s_%s_weight%s[%zu][%zu] = {\n", e->o->prefix, id,
         transposed ? "_t" : "", rows, cols);
    for (size_t r = 0; r < rows; r++) {
        c_put(e, "    {");
        for (size_t c = 0; c < cols; c++) {
            size_t out = transposed ? c : r, in = transposed ? r : c;
            c_put(e, c ? (c % 6 ? ", " : ",\n     ") : "");
            c_put_float(e, folded_weight(e, i, out, w[out * n->in_units + in]));
        }
        c_put(e, "},\n");
    }
    c_put(e, "};\n");
    put_channels(e, i, "bias", n->units, dense_bias);
}

static float conv_bias(const Emitter *e, size_t i, size_t ch)
{
    const IrNode *n = &e->m->nodes[i];
    return folded_bias(e, i, ch, n->cfg.conv.bias ? emit_param(e->w, e->m, i, 1)[ch] : 0.0f);
}

/* The transposed conv weights, one brace level per dimension: level 0
 * groups, 1 input channels, 2 kernel rows, 3 kernel columns, 4 output
 * channels (the values, six a line). */
typedef struct ConvLayout {
    size_t node, groups, cin, kh, kw, cout_g;
    const float *w;  /* PyTorch's [out][in/groups][kh][kw] */
    size_t at[4];    /* the indices of the levels above */
} ConvLayout;

static void put_conv_level(Emitter *e, ConvLayout *l, int level, bool two_d)
{
    size_t n = level == 0 ? l->groups : level == 1 ? l->cin : level == 2 ? l->kh : l->kw;
    if (level == 2 && !two_d) {
        l->at[2] = 0;
        put_conv_level(e, l, 3, two_d);
        return;
    }
    if (level == 4) {
        c_put(e, "{");
        for (size_t o = 0; o < l->cout_g; o++) {
            size_t oc = l->at[0] * l->cout_g + o;
            float v = l->w[((oc * l->cin + l->at[1]) * l->kh + l->at[2]) * l->kw + l->at[3]];
            c_put(e, o ? (o % 6 ? ", " : ",\n     ") : "");
            c_put_float(e, folded_weight(e, l->node, oc, v));
        }
        c_put(e, "}");
        return;
    }
    c_put(e, "{");
    for (size_t k = 0; k < n; k++) {
        l->at[level] = k;
        c_put(e, k ? (level == 3 ? ",\n    " : ",\n    ") : (level == 3 ? "\n    " : ""));
        put_conv_level(e, l, level + 1, two_d);
    }
    c_put(e, "}");
}

/* Transposed for the emitted loops, output channels last:
 * [in][kh][kw][out] (conv1d: [in][k][out]); with groups,
 * [groups][in/groups][kh][kw][out/groups]. One line per kernel position. */
static void emit_conv_arrays(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    const IrWindow *win = &n->cfg.conv.win;
    const float *w = emit_param(e->w, e->m, i, 0);
    bool two_d = n->op == OP_CONV2D;
    size_t groups = n->cfg.conv.groups, cout = n->shape.dim[0], cin = n->in_shape.dim[0] / groups;
    size_t cout_g = cout / groups, kh = win->kernel[0], kw = win->kernel[1];
    char id[256], dims[160] = "", torch[96];
    c_node_ident(n, id, sizeof id);
    size_t len = 0;
    if (groups > 1)
        len += (size_t)snprintf(dims + len, sizeof dims - len, "[%zu]", groups);
    len += (size_t)snprintf(dims + len, sizeof dims - len, "[%zu]", cin);
    if (two_d)
        len += (size_t)snprintf(dims + len, sizeof dims - len, "[%zu]", kh);
    snprintf(dims + len, sizeof dims - len, "[%zu][%zu]", kw, cout_g);
    snprintf(torch, sizeof torch, two_d ? "[%zu][%zu][%zu][%zu]" : "[%zu][%zu][%zu]", cout, cin,
             two_d ? kh : kw, kw);
    c_put(e, "\n/* %s: weight %s: nn.Conv%s's %s with the output channels last%s; %s */\n",
         n->name, dims, two_d ? "2d" : "1d", torch, groups > 1 ? ", by group" : "",
         n->cfg.conv.bias || e->plan.fold[i] ? "bias" : "no bias");
    if (e->plan.fold[i])
        c_put(e, "/* %s is folded in: weight * gamma / sqrt(var + eps) per output channel, "
                "bias (b - mean) * that + beta */\n", e->m->nodes[e->plan.fold[i]].name);
    c_put(e, "static const float %s_%s_weight_t%s = ", e->o->prefix, id, dims);
    ConvLayout l = {i, groups, cin, two_d ? kh : 1, kw, cout_g, w, {0}};
    put_conv_level(e, &l, groups > 1 ? 0 : 1, two_d);
    c_put(e, ";\n");
    if (n->cfg.conv.bias || e->plan.fold[i])
        put_channels(e, i, "bias", cout, conv_bias);
}

static float bn_mean(const Emitter *e, size_t i, size_t ch)
{
    return emit_param(e->w, e->m, i, BN_MEAN)[ch];
}

static float bn_scale(const Emitter *e, size_t i, size_t ch)
{
    return c_batchnorm_scale(e->m, e->w, i, ch);
}

static float bn_shift(const Emitter *e, size_t i, size_t ch)
{
    return emit_param(e->w, e->m, i, BN_BIAS)[ch];
}

/* A batchnorm of its own: running_mean, gamma / sqrt(running_var + eps)
 * and beta per channel. */
static void emit_batchnorm_arrays(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    size_t c = n->shape.dim[0];
    c_put(e, "\n/* %s: batchnorm at inference, per channel: mean = running_mean, scale = "
            "weight / sqrt(running_var + %.9g), shift = bias */\n", n->name,
         (double)(float)n->cfg.batchnorm.eps);
    put_channels(e, i, "mean", c, bn_mean);
    put_channels(e, i, "scale", c, bn_scale);
    put_channels(e, i, "shift", c, bn_shift);
}

void c_emit_node_arrays(Emitter *e, size_t i)
{
    switch (e->m->nodes[i].op) {
    case OP_DENSE: emit_dense_arrays(e, i); break;
    case OP_CONV1D:
    case OP_CONV2D: emit_conv_arrays(e, i); break;
    case OP_BATCHNORM:
        if (e->plan.kind[i] != NODE_ALIAS)
            emit_batchnorm_arrays(e, i);
        break;
    case OP_INPUT:
    case OP_DROPOUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_SOFTMAX:
    case OP_IDENTITY:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_ADD:
    case OP_CONCAT: break; /* no parameters */
    }
}
