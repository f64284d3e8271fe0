/* The forward pass's statements, op by op. Every sum runs in the order
 * the runtime's evaluation runs it (dense and conv: the fixed-order
 * products of gemm.c, bias first for a conv, last for a dense; pooling:
 * kernel row, then column), so without FMA contraction the file computes
 * what `nnc run` computes, bit for bit, except where a batchnorm was folded
 * into the weights before it. Every loop bound is a constant; a padded
 * window skips the taps outside the input with a test. */
#include <math.h>
#include <string.h>

#include "c_emit.h"

typedef struct Names {
    char src[160], dst[160], id[256];
} Names;

/* Node i's own array (dst), its first input's (src), its identifier. */
static Names names_of(const Emitter *e, size_t i)
{
    Names nm = {{0}, {0}, {0}};
    const IrNode *n = &e->m->nodes[i];
    c_value_array(e, i, nm.dst, sizeof nm.dst);
    if (n->n_inputs)
        c_value_array(e, n->inputs[0], nm.src, sizeof nm.src);
    else
        nm.src[0] = '\0';
    c_node_ident(n, nm.id, sizeof nm.id);
    return nm;
}

/* [C, L] as [C, 1, L]; [C, H, W] as is; [N] as [N, 1, 1]. */
typedef struct Dims {
    size_t c, h, w;
} Dims;

static Dims dims_of(const IrShape *s)
{
    Dims d = {s->dim[0], s->rank == 3 ? s->dim[1] : 1,
              s->rank == 3 ? s->dim[2] : s->rank == 2 ? s->dim[1] : 1};
    return d;
}

/* "v * s + t" for an index, written the short way. */
static void index_term(char *buf, size_t size, const char *v, size_t stride, long off)
{
    char mul[40];
    if (stride == 1)
        snprintf(mul, sizeof mul, "%s", v);
    else
        snprintf(mul, sizeof mul, "%s * %zu", v, stride);
    if (off > 0)
        snprintf(buf, size, "%s + %ld", mul, off);
    else if (off < 0)
        snprintf(buf, size, "%s - %ld", mul, -off);
    else
        snprintf(buf, size, "%s", mul);
}

static void activation_expr(const IrNode *n, const char *d, const char *s, char *buf, size_t size);
static const char *indent(size_t k);

/* ---- dense --------------------------------------------------------------- */

static bool dense_unrolled(const IrNode *n)
{
    return n->units * n->in_units <= EMIT_UNROLL_MAX_WEIGHTS;
}

/* Inputs per pass over the outputs in a wide dense layer. */
enum { DENSE_STEP = 4 };

/* dst[j] += W_t[k][j] * src[k] for every k in order: DENSE_STEP inputs a
 * pass (dst[j] + t0 + t1 + t2 + t3 adds them left to right, the same sum
 * as one pass each, with a quarter of the loads and stores of dst; 1.8x
 * faster on the digits MLP), then the rest one at a time. */
static void emit_dense_sums(Emitter *e, const IrNode *n, const Names *nm)
{
    const char *p = e->o->prefix;
    size_t main_k = n->in_units / DENSE_STEP * DENSE_STEP;
    if (main_k) {
        c_put(e, "    for (int k = 0; k < %zu; k += %d) {\n        const float", main_k,
              DENSE_STEP);
        for (int t = 0; t < DENSE_STEP; t++)
            c_put(e, t ? ", x%d = %s[k + %d]" : " x%d = %s[k]", t, nm->src, t);
        c_put(e, ";\n        for (int j = 0; j < %zu; j++)\n            %s[j] = %s[j]", n->units,
             nm->dst, nm->dst);
        for (int t = 0; t < DENSE_STEP; t++)
            c_put(e, t ? " + %s_%s_weight_t[k + %d][j] * x%d" : " + %s_%s_weight_t[k][j] * x0", p,
                 nm->id, t, t);
        c_put(e, ";\n    }\n");
    }
    if (main_k == n->in_units)
        return;
    c_put(e, "    for (int k = %zu; k < %zu; k++) {\n        const float x = %s[k];\n", main_k,
         n->in_units, nm->src);
    c_put(e, "        for (int j = 0; j < %zu; j++)\n", n->units);
    c_put(e, "            %s[j] += %s_%s_weight_t[k][j] * x;\n    }\n", nm->dst, p, nm->id);
}

/* dst[j] = sum_k W[j][k] * src[k] + b[j], summed left to right from k = 0
 * like the runtime's matrix product, bias added last. */
static void emit_dense(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    const char *p = e->o->prefix;
    c_put(e, "    /* %s: dense %zu -> %zu%s */\n", n->name, n->in_units, n->units,
         e->plan.fold[i] ? ", its batchnorm folded in" : "");
    if (dense_unrolled(n)) {
        for (size_t j = 0; j < n->units; j++) {
            c_put(e, "    %s[%zu] = ", nm.dst, j);
            for (size_t k = 0; k < n->in_units; k++)
                c_put(e, "%s%s_%s_weight[%zu][%zu] * %s[%zu]", k ? " + " : "", p, nm.id, j, k,
                     nm.src, k);
            c_put(e, " + %s_%s_bias[%zu];\n", p, nm.id, j);
        }
        return;
    }
    char last[1024], d[192];
    snprintf(d, sizeof d, "%s[j]", nm.dst);
    if (c_fuses_next(e, i))
        activation_expr(&e->m->nodes[i + 1], d, "v", last, sizeof last);
    else
        snprintf(last, sizeof last, "%s = v;", d);
    /* Each output's sum runs k = 0, 1, ... in order, like the runtime, in
     * both forms. */
    c_put(e, "#ifdef __OPTIMIZE_SIZE__\n");
    c_put(e, "    for (int j = 0; j < %zu; j++) {\n        float s = 0.0f;\n", n->units);
    c_put(e, "        for (int k = 0; k < %zu; k++)\n", n->in_units);
    c_put(e, "            s += %s_%s_weight_t[k][j] * %s[k];\n", p, nm.id, nm.src);
    c_put(e, "        float v = s + %s_%s_bias[j];\n        %s\n    }\n#else\n", p, nm.id, last);
    c_put(e, "    for (int j = 0; j < %zu; j++)\n        %s[j] = 0.0f;\n", n->units, nm.dst);
    emit_dense_sums(e, n, &nm);
    c_put(e, "    for (int j = 0; j < %zu; j++) {\n", n->units);
    c_put(e, "        float v = %s[j] + %s_%s_bias[j];\n        %s\n    }\n#endif\n", nm.dst, p,
         nm.id, last);
}

/* An activation right after a wide dense layer, overwriting its output
 * (nothing else reads it), is applied in the dense layer's last loop. */
bool c_fuses_next(const Emitter *e, size_t i)
{
    const IrModel *m = e->m;
    if (i + 1 >= m->n_nodes || m->nodes[i].op != OP_DENSE || dense_unrolled(&m->nodes[i]))
        return false;
    const IrNode *next = &m->nodes[i + 1];
    return ir_ops[next->op].activation && next->op != OP_SOFTMAX && next->inputs[0] == i &&
           e->plan.kind[i + 1] == NODE_IN_PLACE;
}

/* ---- conv1d, conv2d -------------------------------------------------------- */

static bool conv_two_d(const IrNode *n)
{
    return n->op == OP_CONV2D;
}

/* The input row or column a kernel tap reads, and the test that skips the
 * padding ("ih = oh * 2 + ki - 1;"); nothing when it cannot fall outside. */
static void emit_tap_index(Emitter *e, const char *ind, const char *var, const char *o,
                           const char *k, size_t stride, size_t dilation, size_t pad, size_t in,
                           size_t out, size_t kernel)
{
    char base[96];
    index_term(base, sizeof base, o, stride, -(long)pad);
    if (dilation > 1)
        c_put(e, "%sint %s = %s + %s * %zu;\n", ind, var, base, k, dilation);
    else
        c_put(e, "%sint %s = %s + %s;\n", ind, var, base, k);
    size_t reach = (out - 1) * stride + (kernel - 1) * dilation; /* the last padded index */
    if (pad > 0 || reach >= in)
        c_put(e, "%sif (%s < 0 || %s >= %zu)\n%s    continue;\n", ind, var, var, in, ind);
}

/* Kernel rows of at most this many taps are added in one pass over the
 * output channels. */
enum { CONV_ROW_TAPS = 8 };

/* One kernel row's taps in one pass over the output channels: v_k is the
 * input the tap reads, 0 where it falls in the padding (what the runtime's
 * im2col holds there, so the sum is its sum: acc + w0 * v0 + w1 * v1 + ...
 * left to right, in the order of its product). */
static void emit_conv_row(Emitter *e, const IrNode *n, const char *row, const char *w,
                          const char *go, size_t cout_g, size_t lvl)
{
    const IrWindow *win = &n->cfg.conv.win;
    Dims in = dims_of(&n->in_shape), out = dims_of(&n->shape);
    char base[96];
    index_term(base, sizeof base, "ow", win->stride[1], -(long)win->padding[1]);
    c_put(e, "%sconst float *xr = %s;\n%sint iw = %s;\n", indent(lvl), row, indent(lvl), base);
    size_t last = (out.w - 1) * win->stride[1] + (win->kernel[1] - 1) * win->dilation[1];
    bool padded = win->padding[1] > 0 || last >= in.w;
    for (size_t k = 0; k < win->kernel[1]; k++) {
        char at[48] = "iw";
        if (k)
            snprintf(at, sizeof at, "iw + %zu", k * win->dilation[1]);
        if (padded)
            c_put(e, "%sfloat v%zu = %s >= 0 && %s < %zu ? xr[%s] : 0.0f;\n", indent(lvl), k, at,
                 at, in.w, at);
        else
            c_put(e, "%sfloat v%zu = xr[%s];\n", indent(lvl), k, at);
    }
    c_put(e, "%sfor (int o = 0; o < %zu; o++)\n%s    acc[%so] = acc[%so]", indent(lvl), cout_g,
         indent(lvl), go, go);
    for (size_t k = 0; k < win->kernel[1]; k++)
        c_put(e, " + %s[%zu][o] * v%zu", w, k, k);
    c_put(e, ";\n");
}

/* Position by position: every output channel's sum in acc (the loop over
 * channels innermost, on the transposed weights, so it vectorises), then
 * the taps of the window that fall inside the input, in the order
 * (input channel, kernel row, kernel column) the runtime's product sums
 * them. Groups: each sees its block of input channels. */
static void emit_conv(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    const IrWindow *win = &n->cfg.conv.win;
    Names nm = names_of(e, i);
    Dims in = dims_of(&n->in_shape), out = dims_of(&n->shape);
    size_t groups = n->cfg.conv.groups, cin_g = in.c / groups, cout_g = out.c / groups;
    bool bias = n->cfg.conv.bias || e->plan.fold[i], two_d = conv_two_d(n);
    const char *p = e->o->prefix;
    char shape_in[64], shape_out[64], g[64] = "", gx[64] = "", go[64] = "";
    if (groups > 1) {
        snprintf(g, sizeof g, "[g]");
        snprintf(gx, sizeof gx, "(g * %zu + c)", cin_g);
        snprintf(go, sizeof go, "g * %zu + ", cout_g);
    } else {
        snprintf(gx, sizeof gx, "c");
    }
    c_put(e, "    /* %s: %s %s -> %s, kernel %zux%zu, stride %zux%zu, padding %zux%zu, "
         "dilation %zux%zu, groups %zu%s */\n", n->name, ir_ops[n->op].name,
         ir_shape_text(&n->in_shape, shape_in, sizeof shape_in),
         ir_shape_text(&n->shape, shape_out, sizeof shape_out), win->kernel[0], win->kernel[1],
         win->stride[0], win->stride[1], win->padding[0], win->padding[1], win->dilation[0],
         win->dilation[1], groups, e->plan.fold[i] ? ", its batchnorm folded in" : "");
    size_t lvl = 1;
    if (two_d)
        c_put(e, "%sfor (int oh = 0; oh < %zu; oh++)\n", indent(lvl++), out.h);
    c_put(e, "%sfor (int ow = 0; ow < %zu; ow++) {\n", indent(lvl++), out.w);
    c_put(e, "%sfloat acc[%zu];\n", indent(lvl), out.c);
    c_put(e, "%sfor (int o = 0; o < %zu; o++)\n", indent(lvl), out.c);
    if (bias)
        c_put(e, "%s    acc[o] = %s_%s_bias[o];\n", indent(lvl), p, nm.id);
    else
        c_put(e, "%s    acc[o] = 0.0f;\n", indent(lvl));
    size_t body = lvl;
    if (groups > 1)
        c_put(e, "%sfor (int g = 0; g < %zu; g++)\n", indent(body++), groups);
    c_put(e, "%sfor (int c = 0; c < %zu; c++)%s\n", indent(body++), cin_g, two_d ? "" : " {");
    if (two_d) {
        c_put(e, "%sfor (int ki = 0; ki < %zu; ki++) {\n", indent(body++), win->kernel[0]);
        emit_tap_index(e, indent(body), "ih", "oh", "ki", win->stride[0], win->dilation[0],
                       win->padding[0], in.h, out.h, win->kernel[0]);
    }
    char row[320], w[640];
    if (two_d)
        snprintf(row, sizeof row, "%s + %s * %zu + ih * %zu", nm.src, gx, in.h * in.w, in.w);
    else
        snprintf(row, sizeof row, "%s + %s * %zu", nm.src, gx, in.w);
    snprintf(w, sizeof w, "%s_%s_weight_t%s[c]%s", p, nm.id, g, two_d ? "[ki]" : "");
    if (win->kernel[1] <= CONV_ROW_TAPS) {
        emit_conv_row(e, n, row, w, go, cout_g, body);
    } else {
        c_put(e, "%sfor (int kj = 0; kj < %zu; kj++) {\n", indent(body++), win->kernel[1]);
        emit_tap_index(e, indent(body), "iw", "ow", "kj", win->stride[1], win->dilation[1],
                       win->padding[1], in.w, out.w, win->kernel[1]);
        c_put(e, "%sfloat v = (%s)[iw];\n", indent(body), row);
        c_put(e, "%sfor (int o = 0; o < %zu; o++)\n", indent(body), cout_g);
        c_put(e, "%s    acc[%so] += %s[kj][o] * v;\n", indent(body), go, w);
        c_put(e, "%s}\n", indent(--body));
    }
    c_put(e, "%s}\n", indent(--body)); /* the kernel rows' loop, or the channels' (1-D) */
    c_put(e, "%sfor (int o = 0; o < %zu; o++)\n", indent(lvl), out.c);
    if (two_d)
        c_put(e, "%s    %s[o * %zu + oh * %zu + ow] = acc[o];\n", indent(lvl), nm.dst,
             out.h * out.w, out.w);
    else
        c_put(e, "%s    %s[o * %zu + ow] = acc[o];\n", indent(lvl), nm.dst, out.w);
    c_put(e, "%s}\n", indent(lvl - 1));
}

/* ---- pooling ---------------------------------------------------------------- */

static bool pool_is_max(OpKind k)
{
    return k == OP_MAXPOOL1D || k == OP_MAXPOOL2D;
}

static bool pool_two_d(OpKind k)
{
    return k == OP_MAXPOOL2D || k == OP_AVGPOOL2D;
}

/* PyTorch's and the runtime's comparison: a larger value or a NaN takes
 * over, so NaN propagates and the first of equal values stays. */
static const char *const MAX_TAKE = "m = (v > m || v != v) ? v : m;";

/* Indentation for nesting level k (4 spaces each). */
static const char *indent(size_t k)
{
    static const char spaces[] = "                                ";
    size_t n = 4 * k < sizeof spaces - 1 ? 4 * k : sizeof spaces - 1;
    return spaces + (sizeof spaces - 1 - n);
}

/* The input index a pooling tap reads along one axis: "oh * 2 + ki". */
static void pool_axis(char *buf, size_t size, const char *o, const char *k, size_t stride,
                      size_t dilation)
{
    char base[48];
    index_term(base, sizeof base, o, stride, 0);
    if (dilation > 1)
        snprintf(buf, size, "%s + %s * %zu", base, k, dilation);
    else
        snprintf(buf, size, "%s + %s", base, k);
}

/* The statement that reads tap v: padded windows skip what lies outside. */
static void emit_pool_read(Emitter *e, const IrNode *n, bool two_d, size_t lvl)
{
    const IrWindow *win = &n->cfg.pool.win;
    Dims in = dims_of(&n->in_shape);
    char row[96] = "0", col[96];
    if (two_d)
        pool_axis(row, sizeof row, "oh", "ki", win->stride[0], win->dilation[0]);
    pool_axis(col, sizeof col, "ow", "kj", win->stride[1], win->dilation[1]);
    if (!win->padding[0] && !win->padding[1]) {
        if (two_d)
            c_put(e, "%sfloat v = x[(%s) * %zu + %s];\n", indent(lvl), row, in.w, col);
        else
            c_put(e, "%sfloat v = x[%s];\n", indent(lvl), col);
        return;
    }
    c_put(e, "%sint ih = %s - %zu, iw = %s - %zu;\n", indent(lvl), row, win->padding[0], col,
         win->padding[1]);
    c_put(e, "%sif (ih < 0 || ih >= %zu || iw < 0 || iw >= %zu)\n%scontinue;\n", indent(lvl),
         in.h, in.w, indent(lvl + 1));
    c_put(e, "%sfloat v = x[ih * %zu + iw];\n", indent(lvl), in.w);
}

/* Max: from -inf, each tap in scan order; average: the sum of the taps
 * inside the input from 0, divided by the whole kernel (count_include_pad). */
static void emit_pool(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    const IrWindow *win = &n->cfg.pool.win;
    Names nm = names_of(e, i);
    Dims in = dims_of(&n->in_shape), out = dims_of(&n->shape);
    bool max = pool_is_max(n->op), two_d = pool_two_d(n->op);
    char s_in[64], s_out[64];
    c_put(e, "    /* %s: %s %s -> %s, kernel %zux%zu, stride %zux%zu, padding %zux%zu, "
         "dilation %zux%zu */\n", n->name, ir_ops[n->op].name,
         ir_shape_text(&n->in_shape, s_in, sizeof s_in),
         ir_shape_text(&n->shape, s_out, sizeof s_out),
         win->kernel[0], win->kernel[1], win->stride[0], win->stride[1], win->padding[0],
         win->padding[1], win->dilation[0], win->dilation[1]);
    c_put(e, "    for (int c = 0; c < %zu; c++) {\n", in.c);
    c_put(e, "        const float *x = %s + c * %zu;\n", nm.src, in.h * in.w);
    c_put(e, "        float *y = %s + c * %zu;\n", nm.dst, out.h * out.w);
    size_t lvl = 2;
    if (two_d)
        c_put(e, "%sfor (int oh = 0; oh < %zu; oh++)\n", indent(lvl++), out.h);
    c_put(e, "%sfor (int ow = 0; ow < %zu; ow++) {\n", indent(lvl++), out.w);
    c_put(e, "%sfloat %s;\n", indent(lvl), max ? "m = -INFINITY" : "s = 0.0f");
    size_t body = lvl;
    if (two_d)
        c_put(e, "%sfor (int ki = 0; ki < %zu; ki++)\n", indent(body++), win->kernel[0]);
    c_put(e, "%sfor (int kj = 0; kj < %zu; kj++) {\n", indent(body++), win->kernel[1]);
    emit_pool_read(e, n, two_d, body);
    c_put(e, "%s%s\n", indent(body), max ? MAX_TAKE : "s += v;");
    c_put(e, "%s}\n", indent(body - 1));
    if (two_d)
        c_put(e, "%sy[oh * %zu + ow] = ", indent(lvl), out.w);
    else
        c_put(e, "%sy[ow] = ", indent(lvl));
    if (max) {
        c_put(e, "m;\n");
    } else {
        c_put(e, "s / ");
        c_put_float(e, (float)(win->kernel[0] * win->kernel[1]));
        c_put(e, ";\n");
    }
    c_put(e, "%s}\n    }\n", indent(lvl - 1));
}

/* Global pools: one value per channel over all its positions. */
static void emit_global_pool(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    size_t c = n->in_shape.dim[0], spatial = n->in_units / c;
    bool max = n->op == OP_GLOBAL_MAXPOOL;
    c_put(e, "    /* %s: %s over %zu channels of %zu */\n", n->name, ir_ops[n->op].name, c,
         spatial);
    c_put(e, "    for (int c = 0; c < %zu; c++) {\n", c);
    c_put(e, "        float %s;\n", max ? "m = -INFINITY" : "s = 0.0f");
    c_put(e, "        for (int p = 0; p < %zu; p++) {\n", spatial);
    c_put(e, "            float v = %s[c * %zu + p];\n            %s\n        }\n", nm.src, spatial,
         max ? MAX_TAKE : "s += v;");
    if (max) {
        c_put(e, "        %s[c] = m;\n    }\n", nm.dst);
        return;
    }
    c_put(e, "        %s[c] = s / ", nm.dst);
    c_put_float(e, (float)spatial);
    c_put(e, ";\n    }\n");
}

/* ---- batchnorm (not folded), add, concat ------------------------------------ */

/* y = (x - running_mean) * scale + bias per channel, scale = weight /
 * sqrt(running_var + eps): the runtime's evaluation formula. */
static void emit_batchnorm(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    const char *p = e->o->prefix;
    size_t c = n->shape.dim[0], spatial = n->units / c;
    c_put(e, "    /* %s: batchnorm over %zu channels of %zu (running statistics) */\n", n->name,
         c, spatial);
    c_put(e, "    for (int c = 0; c < %zu; c++)\n", c);
    c_put(e, "        for (int p = c * %zu; p < c * %zu + %zu; p++)\n", spatial, spatial, spatial);
    c_put(e, "            %s[p] = (%s[p] - %s_%s_mean[c]) * %s_%s_scale[c] + %s_%s_shift[c];\n",
         nm.dst, nm.src, p, nm.id, p, nm.id, p, nm.id);
}

/* y = x0 + x1 + ... left to right, as the runtime adds them. */
static void emit_add(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    c_put(e, "    /* %s: add of %zu */\n", n->name, n->n_inputs);
    c_put(e, "    for (int j = 0; j < %zu; j++)\n        %s[j] = ", n->units, nm.dst);
    for (size_t k = 0; k < n->n_inputs; k++) {
        char x[160];
        c_value_array(e, n->inputs[k], x, sizeof x);
        c_put(e, "%s%s[j]", k ? " + " : "", x);
    }
    c_put(e, ";\n");
}

/* The inputs' values one after another (channels first: joining along the
 * channels is joining the blocks). */
static void emit_concat(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    c_put(e, "    /* %s: concat of %zu */\n", n->name, n->n_inputs);
    size_t at = 0;
    for (size_t k = 0; k < n->n_inputs; k++) {
        char x[160];
        size_t units = e->m->nodes[n->inputs[k]].units;
        c_value_array(e, n->inputs[k], x, sizeof x);
        c_put(e, "    for (int j = 0; j < %zu; j++)\n        %s[%zu + j] = %s[j];\n", units, nm.dst,
             at, x);
        at += units;
    }
}

/* ---- elementwise ------------------------------------------------------------ */

/* d = f(s) for an elementwise op: the runtime's formulas, written out. */
static void activation_expr(const IrNode *n, const char *d, const char *s, char *buf, size_t size)
{
    switch (n->op) {
    case OP_STEP: snprintf(buf, size, "%s = %s > 0.0f ? 1.0f : 0.0f;", d, s); break;
    case OP_RELU: snprintf(buf, size, "%s = %s > 0.0f ? %s : 0.0f;", d, s, s); break;
    case OP_LEAKY_RELU:
        snprintf(buf, size, "%s = %s > 0.0f ? %s : %s * (float)%.9g;", d, s, s, s,
                 (double)(float)n->cfg.leaky_relu.slope);
        break;
    case OP_SIGMOID: snprintf(buf, size, "%s = nnc_sigmoid(%s);", d, s); break;
    case OP_TANH: snprintf(buf, size, "%s = tanhf(%s);", d, s); break;
    case OP_GELU: /* the runtime's rt_act_gelu, same order */
        snprintf(buf, size, "%s = %s * 0.5f * (1.0f + erff(%s * (float)0.70710678118654752440));",
                 d, s, s);
        break;
    case OP_SILU: snprintf(buf, size, "%s = %s / (1.0f + expf(-%s));", d, s, s); break;
    case OP_ELU:
        snprintf(buf, size, "%s = %s > 0.0f ? %s : (float)%.9g * expm1f(%s);", d, s, s,
                 (double)(float)n->cfg.elu.alpha, s);
        break;
    case OP_SOFTPLUS:
        snprintf(buf, size, "%s = %s > 20.0f ? %s : log1pf(expf(%s));", d, s, s, s);
        break;
    case OP_HARDSWISH: snprintf(buf, size, "%s = nnc_hardswish(%s);", d, s); break;
    case OP_HARDSIGMOID: snprintf(buf, size, "%s = nnc_hardsigmoid(%s);", d, s); break;
    case OP_INPUT:
    case OP_DENSE:
    case OP_DROPOUT:
    case OP_SOFTMAX:
    case OP_IDENTITY:
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_BATCHNORM:
    case OP_ADD:
    case OP_CONCAT: /* not per-element formulas: c_emit_node_code writes them */
        buf[0] = '\0';
        break;
    }
}

enum { UNROLL_MAX_ACTIVATIONS = 16 };

static void emit_elementwise(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    char expr[1024], d[192], s[192];
    if (c_fuses_next(e, i - 1)) {
        c_put(e, "    /* %s: %s, applied in %s's last loop */\n", n->name, ir_ops[n->op].name,
             e->m->nodes[i - 1].name);
        return;
    }
    c_put(e, "    /* %s: %s */\n", n->name, ir_ops[n->op].name);
    if (n->units > UNROLL_MAX_ACTIVATIONS) {
        snprintf(d, sizeof d, "%s[j]", nm.dst);
        snprintf(s, sizeof s, "%s[j]", nm.src);
        activation_expr(n, d, s, expr, sizeof expr);
        c_put(e, "    for (int j = 0; j < %zu; j++)\n        %s\n", n->units, expr);
        return;
    }
    for (size_t j = 0; j < n->units; j++) {
        snprintf(d, sizeof d, "%s[%zu]", nm.dst, j);
        snprintf(s, sizeof s, "%s[%zu]", nm.src, j);
        activation_expr(n, d, s, expr, sizeof expr);
        c_put(e, "    %s\n", expr);
    }
}

/* In place (copied first when the input is still read elsewhere). */
static void emit_softmax(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    Names nm = names_of(e, i);
    const char *buf = nm.dst;
    c_put(e, "    /* %s: softmax over %zu */\n", n->name, n->units);
    if (e->plan.kind[i] != NODE_IN_PLACE)
        c_put(e, "    for (int j = 0; j < %zu; j++)\n        %s[j] = %s[j];\n", n->units, buf,
             nm.src);
    c_put(e, "    {\n        float max = %s[0], sum = 0.0f;\n", buf);
    c_put(e, "        for (int j = 1; j < %zu; j++)\n", n->units);
    c_put(e, "            if (%s[j] > max)\n                max = %s[j];\n", buf, buf);
    c_put(e, "        for (int j = 0; j < %zu; j++) {\n", n->units);
    c_put(e, "            %s[j] = expf(%s[j] - max);\n            sum += %s[j];\n        }\n", buf,
         buf, buf);
    c_put(e, "        for (int j = 0; j < %zu; j++)\n", n->units);
    c_put(e, "            %s[j] /= sum;\n    }\n", buf);
}

static void emit_alias(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    if (n->op == OP_BATCHNORM)
        c_put(e, "    /* %s: batchnorm, folded into %s's weights */\n", n->name,
             e->m->nodes[n->inputs[0]].name);
    else
        c_put(e, "    /* %s: %s, the same values (no code at inference) */\n", n->name,
             ir_ops[n->op].name);
}

void c_emit_node_code(Emitter *e, size_t i)
{
    const IrNode *n = &e->m->nodes[i];
    if (e->plan.kind[i] == NODE_ALIAS) {
        emit_alias(e, i);
        return;
    }
    switch (n->op) {
    case OP_DENSE: emit_dense(e, i); break;
    case OP_CONV1D:
    case OP_CONV2D: emit_conv(e, i); break;
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D: emit_pool(e, i); break;
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL: emit_global_pool(e, i); break;
    case OP_BATCHNORM: emit_batchnorm(e, i); break;
    case OP_ADD: emit_add(e, i); break;
    case OP_CONCAT: emit_concat(e, i); break;
    case OP_SOFTMAX: emit_softmax(e, i); break;
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
    case OP_HARDSIGMOID: emit_elementwise(e, i); break;
    case OP_DROPOUT:
    case OP_IDENTITY:
    case OP_FLATTEN: emit_alias(e, i); break; /* planned as aliases */
    case OP_INPUT: break;                      /* the caller's in */
    }
}

static bool uses_op(const IrModel *m, OpKind op)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].op == op)
            return true;
    return false;
}

void c_emit_helpers(Emitter *e)
{
    if (uses_op(e->m, OP_SIGMOID)) {
        c_put(e, "\n/* Split at 0 so expf never overflows (the runtime's formula). */\n");
        c_put(e, "static float nnc_sigmoid(float z)\n{\n");
        c_put(e, "    if (z >= 0.0f)\n        return 1.0f / (1.0f + expf(-z));\n");
        c_put(e, "    float t = expf(z);\n    return t / (1.0f + t);\n}\n");
    }
    if (uses_op(e->m, OP_HARDSWISH) || uses_op(e->m, OP_HARDSIGMOID)) {
        c_put(e, "\n/* relu6(z + 3): hardswish and hardsigmoid (the runtime's formulas). */\n");
        c_put(e, "static float nnc_relu6_shift(float z)\n{\n    float r = z + 3.0f;\n");
        c_put(e, "    return r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r;\n}\n");
    }
    if (uses_op(e->m, OP_HARDSWISH))
        c_put(e, "\nstatic float nnc_hardswish(float z)\n{\n"
                "    return z * nnc_relu6_shift(z) / 6.0f;\n}\n");
    if (uses_op(e->m, OP_HARDSIGMOID))
        c_put(e, "\nstatic float nnc_hardsigmoid(float z)\n{\n"
                "    return nnc_relu6_shift(z) / 6.0f;\n}\n");
}
