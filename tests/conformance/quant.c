/* The ONNX backend node tests of the quantization operators through nnc's
 * int8 arithmetic (src/runtime/quant_kernels.c, docs/quantization.md):
 *   QuantizeLinear, DequantizeLinear    q8_quantize_even, q8_dequantize
 *   MatMulInteger, ConvInteger          q8_dot (int32 accumulation)
 *   QLinearMatMul, QLinearConv          q8_dot, then q8_quantize_multiplier
 *                                       and q8_requantize (fixed point)
 * The tests' tensors are uint8; nnc's kernels take int8, so a uint8 value
 * v becomes v - 128 with its zero point z - 128 (every difference v - z,
 * all the arithmetic sees, is unchanged), and back. nnc folds the input's
 * zero point into the bias (acc_init); these tests also give the weights a
 * zero point, whose term -w_zero * sum(x - x_zero) is added here.
 * Integer results must be exact. The QLinear ops' reference rescales in
 * float and rounds half to even; nnc's fixed-point multiplier may land one
 * step away: at most one step is accepted and the count is reported.
 *   onnx-quant-conformance DATA_DIR   (DATA_DIR holds node/) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/arena.h"
#include "nnc/onnx.h"
#include "nnc/quant.h"

static const char *const cases[] = {
    "test_quantizelinear", "test_quantizelinear_axis", "test_dequantizelinear",
    "test_dequantizelinear_axis", "test_matmulinteger", "test_qlinearmatmul_2D",
    "test_qlinearmatmul_3D", "test_qlinearconv", "test_basic_convinteger",
    "test_convinteger_with_padding", "test_convinteger_without_padding",
};

enum { MAX_IN = 9 };

typedef struct Case {
    Arena *a;
    const char *name;
    OnnxModel m;
    const OnnxNode *node;
    const OnnxTensor *in[MAX_IN]; /* the node's inputs; NULL when omitted */
    OnnxTensor want;
    size_t exact, one_step, worse;
    char why[256];
} Case;

static double at(const OnnxTensor *t, size_t i)
{
    return t->f ? (double)t->f[i] : (double)t->i64[i];
}

/* A uint8 tensor's values and zero points as int8 (v - 128). */
static int32_t as_int8(const OnnxTensor *t, size_t i)
{
    return (int32_t)at(t, i) - (t->dtype == ONNX_UINT8 ? 128 : 0);
}

static int32_t zero_of(const OnnxTensor *z, size_t i, int dtype)
{
    if (!z)
        return dtype == ONNX_UINT8 ? -128 : 0; /* zero point 0 as int8 */
    return as_int8(z, z->count > 1 ? i : 0);
}

static bool read_tensor(Case *c, const char *path, OnnxTensor *t)
{
    void *buf;
    size_t len;
    if (!onnx_read_file(c->a, path, &buf, &len, c->why, sizeof c->why) ||
        !onnx_read_tensor(c->a, buf, len, t, c->why, sizeof c->why))
        return false;
    if (!t->f && !t->i64) {
        snprintf(c->why, sizeof c->why, "%s: a %s tensor", path, onnx_dtype_name(t->dtype));
        return false;
    }
    return true;
}

static bool load(Case *c, const char *dir)
{
    char path[1200];
    void *buf;
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (!onnx_read_file(c->a, path, &buf, &len, c->why, sizeof c->why) ||
        !onnx_read_model(c->a, buf, len, &c->m, c->why, sizeof c->why))
        return false;
    if (c->m.n_nodes != 1 || c->m.nodes[0].n_inputs > MAX_IN)
        return snprintf(c->why, sizeof c->why, "not a one-node model"), false;
    c->node = &c->m.nodes[0];
    size_t k = 0;
    for (size_t i = 0; i < c->node->n_inputs; i++) {
        const char *name = c->node->inputs[i];
        const OnnxTensor *init = *name ? onnx_initializer(&c->m, name) : NULL;
        if (!*name || init) {
            c->in[i] = init;
            continue;
        }
        OnnxTensor *t = arena_alloc(c->a, sizeof *t);
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%zu.pb", dir, k++);
        if (!t || !read_tensor(c, path, t))
            return false;
        c->in[i] = t;
    }
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    return read_tensor(c, path, &c->want);
}

static void tally(Case *c, double got, double want)
{
    double d = got > want ? got - want : want - got;
    if (d == 0)
        c->exact++;
    else if (d <= 1 && c->node->op_type[0] == 'Q' && c->node->op_type[1] == 'L')
        c->one_step++;
    else
        c->worse++;
}

static int64_t attr_int(const OnnxNode *n, const char *name, int64_t def)
{
    const OnnxAttr *a = onnx_attr(n, name);
    return a && a->kind == ONNX_ATTR_INT ? a->i : def;
}

/* The channel of element i along axis (default 1) for per-axis scales. */
static size_t channel(const OnnxTensor *x, size_t i, const OnnxTensor *scale, int64_t axis)
{
    if (scale->count <= 1)
        return 0;
    if (axis < 0)
        axis += (int64_t)x->ndim;
    size_t inner = 1;
    for (size_t d = (size_t)axis + 1; d < x->ndim; d++)
        inner *= (size_t)x->dims[d];
    return (i / inner) % (size_t)x->dims[axis];
}

static void quantize_linear(Case *c)
{
    const OnnxTensor *x = c->in[0], *s = c->in[1], *z = c->in[2];
    int64_t axis = attr_int(c->node, "axis", 1);
    bool u8 = !z || z->dtype == ONNX_UINT8;
    for (size_t i = 0; i < x->count; i++) {
        size_t ch = channel(x, i, s, axis);
        int32_t zero = z ? (int32_t)at(z, z->count > 1 ? ch : 0) : 0;
        int32_t q = q8_quantize_even(x->f[i], s->f[ch], zero, u8 ? 0 : -128, u8 ? 255 : 127);
        tally(c, q, at(&c->want, i));
    }
}

static void dequantize_linear(Case *c)
{
    const OnnxTensor *x = c->in[0], *s = c->in[1], *z = c->in[2];
    int64_t axis = attr_int(c->node, "axis", 1);
    for (size_t i = 0; i < x->count; i++) {
        size_t ch = channel(x, i, s, axis);
        int32_t zero = z ? (int32_t)at(z, z->count > 1 ? ch : 0) : 0;
        tally(c, q8_dequantize((int32_t)at(x, i), s->f[ch], zero), at(&c->want, i));
    }
}

/* sum_j (x_j - xz)(w_j - wz) with nnc's accumulation: q8_dot from
 * acc_init = -xz * sum w (the input's zero point, as nnc folds it into its
 * bias) gives sum (x - xz) w; the weights' zero point (0 in nnc's scheme)
 * adds -wz * sum (x - xz). */
static int32_t int8_dot(const int8_t *x, int32_t xz, const int8_t *w, int32_t wz, size_t n)
{
    int32_t sum_w = 0, sum_x = 0;
    for (size_t j = 0; j < n; j++) {
        sum_w += w[j];
        sum_x += x[j];
    }
    int32_t acc_init = -xz * sum_w;
    int32_t acc = q8_dot(acc_init, w, x, n);
    return acc - wz * (sum_x - (int32_t)n * xz);
}

typedef struct Requant {
    bool on;
    int32_t mult[256];
    int shift[256];
    int32_t zero; /* as int8 */
    bool u8;
} Requant;

static bool requant_init(Case *c, Requant *r, const OnnxTensor *xs, const OnnxTensor *ws,
                         const OnnxTensor *ys, const OnnxTensor *yz, size_t channels)
{
    r->on = true;
    r->u8 = !yz || yz->dtype == ONNX_UINT8;
    r->zero = zero_of(yz, 0, r->u8 ? ONNX_UINT8 : ONNX_INT8);
    for (size_t k = 0; k < channels && k < 256; k++) {
        double real = (double)xs->f[0] * (double)ws->f[ws->count > 1 ? k : 0] / (double)ys->f[0];
        if (!q8_quantize_multiplier(real, &r->mult[k], &r->shift[k]))
            return snprintf(c->why, sizeof c->why, "multiplier %g", real), false;
    }
    return true;
}

static void store(Case *c, const Requant *r, size_t i, int32_t acc, size_t ch)
{
    if (!r->on) {
        tally(c, acc, at(&c->want, i));
        return;
    }
    int32_t q = q8_requantize(acc, r->mult[ch], r->shift[ch], r->zero, -128, 127);
    tally(c, q + (r->u8 ? 128 : 0), at(&c->want, i));
}

/* A [..., M, K] x B [..., K, N]: nnc's layout, weights [N][K] per batch. */
static bool matmul(Case *c, const OnnxTensor *a, const OnnxTensor *az, const OnnxTensor *b,
                   const OnnxTensor *bz, const Requant *r)
{
    size_t M = (size_t)a->dims[a->ndim - 2], K = (size_t)a->dims[a->ndim - 1];
    size_t N = (size_t)b->dims[b->ndim - 1], batches = a->count / (M * K);
    int8_t *x = arena_array(c->a, K, 1), *w = arena_array(c->a, N * K, 1);
    if (!x || !w || (b->count != batches * K * N && b->count != K * N))
        return snprintf(c->why, sizeof c->why, "shapes"), false;
    int32_t xz = zero_of(az, 0, a->dtype), wz = zero_of(bz, 0, b->dtype);
    for (size_t bt = 0; bt < batches; bt++) {
        size_t boff = b->count == K * N ? 0 : bt * K * N;
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++)
                w[n * K + k] = (int8_t)as_int8(b, boff + k * N + n);
        for (size_t m = 0; m < M; m++) {
            for (size_t k = 0; k < K; k++)
                x[k] = (int8_t)as_int8(a, (bt * M + m) * K + k);
            for (size_t n = 0; n < N; n++)
                store(c, r, (bt * M + m) * N + n, int8_dot(x, xz, w + n * K, wz, K), 0);
        }
    }
    return true;
}

typedef struct ConvShape {
    size_t cin, h, w, cout, kh, kw, oh, ow;
    int64_t pad[4], stride[2], dil[2];
} ConvShape;

static void conv_attrs(const OnnxNode *n, ConvShape *s)
{
    const OnnxAttr *p = onnx_attr(n, "pads"), *st = onnx_attr(n, "strides"),
                   *dl = onnx_attr(n, "dilations");
    for (int k = 0; k < 4; k++)
        s->pad[k] = p && p->n_ints == 4 ? p->ints[k] : 0;
    for (int k = 0; k < 2; k++) {
        s->stride[k] = st && st->n_ints == 2 ? st->ints[k] : 1;
        s->dil[k] = dl && dl->n_ints == 2 ? dl->ints[k] : 1;
    }
    s->oh = (size_t)(((int64_t)s->h + s->pad[0] + s->pad[2] - s->dil[0] * ((int64_t)s->kh - 1) - 1)
                     / s->stride[0] + 1);
    s->ow = (size_t)(((int64_t)s->w + s->pad[1] + s->pad[3] - s->dil[1] * ((int64_t)s->kw - 1) - 1)
                     / s->stride[1] + 1);
}

/* One output position's patch, im2col style: padding reads the input's
 * zero point (real 0). */
static void patch(const OnnxTensor *x, const ConvShape *s, size_t n, size_t oy, size_t ox,
                  int32_t xz, int8_t *col)
{
    size_t k = 0;
    for (size_t ci = 0; ci < s->cin; ci++)
        for (size_t ky = 0; ky < s->kh; ky++)
            for (size_t kx = 0; kx < s->kw; kx++) {
                int64_t iy = (int64_t)oy * s->stride[0] - s->pad[0] + (int64_t)ky * s->dil[0];
                int64_t ix = (int64_t)ox * s->stride[1] - s->pad[1] + (int64_t)kx * s->dil[1];
                bool in = iy >= 0 && ix >= 0 && iy < (int64_t)s->h && ix < (int64_t)s->w;
                col[k++] = (int8_t)(in ? as_int8(x, ((n * s->cin + ci) * s->h + (size_t)iy) * s->w
                                                 + (size_t)ix) : xz);
            }
}

static bool conv(Case *c, const OnnxTensor *x, const OnnxTensor *xz_t, const OnnxTensor *w,
                 const OnnxTensor *wz_t, const OnnxTensor *bias, const Requant *r)
{
    if (x->ndim != 4 || w->ndim != 4 || attr_int(c->node, "group", 1) != 1)
        return snprintf(c->why, sizeof c->why, "only 2-D convolutions of one group"), false;
    ConvShape s = {(size_t)x->dims[1], (size_t)x->dims[2], (size_t)x->dims[3], (size_t)w->dims[0],
                   (size_t)w->dims[2], (size_t)w->dims[3], 0, 0, {0}, {0}, {0}};
    conv_attrs(c->node, &s);
    size_t kn = s.cin * s.kh * s.kw;
    int8_t *col = arena_array(c->a, kn, 1), *wq = arena_array(c->a, s.cout * kn, 1);
    if (!col || !wq || c->want.count != (size_t)x->dims[0] * s.cout * s.oh * s.ow)
        return snprintf(c->why, sizeof c->why, "output shape"), false;
    for (size_t i = 0; i < s.cout * kn; i++)
        wq[i] = (int8_t)as_int8(w, i);
    int32_t xz = zero_of(xz_t, 0, x->dtype);
    for (size_t n = 0; n < (size_t)x->dims[0]; n++)
        for (size_t oy = 0; oy < s.oh; oy++)
            for (size_t ox = 0; ox < s.ow; ox++) {
                patch(x, &s, n, oy, ox, xz, col);
                for (size_t oc = 0; oc < s.cout; oc++) {
                    int32_t acc = int8_dot(col, xz, wq + oc * kn, zero_of(wz_t, oc, w->dtype), kn);
                    acc += bias ? (int32_t)at(bias, oc) : 0;
                    store(c, r, ((n * s.cout + oc) * s.oh + oy) * s.ow + ox, acc, oc);
                }
            }
    return true;
}

static bool run(Case *c)
{
    const char *op = c->node->op_type;
    const OnnxTensor *const *in = c->in;
    Requant plain = {0}, r = {0};
    if (strcmp(op, "QuantizeLinear") == 0)
        return quantize_linear(c), true;
    if (strcmp(op, "DequantizeLinear") == 0)
        return dequantize_linear(c), true;
    if (strcmp(op, "MatMulInteger") == 0)
        return matmul(c, in[0], in[2], in[1], in[3], &plain);
    if (strcmp(op, "ConvInteger") == 0)
        return conv(c, in[0], in[2], in[1], in[3], NULL, &plain);
    if (strcmp(op, "QLinearMatMul") == 0)
        return requant_init(c, &r, in[1], in[4], in[6], in[7], 1) &&
               matmul(c, in[0], in[2], in[3], in[5], &r);
    if (strcmp(op, "QLinearConv") == 0)
        return requant_init(c, &r, in[1], in[4], in[6], in[7], (size_t)in[3]->dims[0]) &&
               conv(c, in[0], in[2], in[3], in[5], c->node->n_inputs > 8 ? in[8] : NULL, &r);
    snprintf(c->why, sizeof c->why, "operator %s", op);
    return false;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: onnx-quant-conformance DATA_DIR\n");
        return 2;
    }
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Arena a;
        arena_init(&a);
        Case c = {.a = &a, .name = cases[i]};
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/node/%s", argv[1], cases[i]);
        bool ok = load(&c, dir) && run(&c);
        ok = ok && c.worse == 0 && c.exact + c.one_step == c.want.count;
        if (ok)
            printf("PASS %-34s %3zu values: %zu exact, %zu one step away\n", c.name, c.want.count,
                   c.exact, c.one_step);
        else if (c.why[0])
            printf("FAIL %-34s %s\n", c.name, c.why);
        else
            printf("FAIL %-34s %zu of %zu values more than one step away\n", c.name, c.worse,
                   c.want.count);
        passed += ok;
        failed += !ok;
        arena_free(&a);
    }
    printf("quantization conformance: %zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
