/* The convolution, pooling and batchnorm kernels (src/runtime/conv.c,
 * pool.c, batchnorm.c) against straightforward references written here in
 * double: direct convolution loops, window scans, two-pass statistics. The
 * references' own gradients are checked by central differences (exact for
 * the convolution, which is linear in x and in the weights), and every
 * kernel gradient against them, with the accumulation contracts: dw and db
 * are added into, dx is written (its NaN garbage never read) or added. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/runtime/batchnorm.h"
#include "../../src/runtime/conv.h"
#include "../../src/runtime/gemm.h"
#include "../../src/runtime/pool.h"
#include "../../src/runtime/rng.h"
#include "nnc/runtime.h"

/* ---- buffers and comparison ------------------------------------------- */

static float *frand(RtRng *r, size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = rt_rng_uniform(r) * 2.0f - 1.0f;
    return p;
}

static float *ffill(size_t n, float v)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = v;
    return p;
}

static double *dzeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static double *dcopy(const float *f, size_t n)
{
    double *d = dzeros(n);
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    return d;
}

/* got ~ base + want, normwise: every |error| <= rel * max |base + want|
 * (float sums of many terms err relative to the terms' scale, not to a
 * result that happens to cancel to near 0). base may be NULL (= 0). */
static void expect_close(const char *what, const char *cfg, const float *got, const float *base,
                         const double *want, size_t n, double rel)
{
    double scale = 1e-3;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((base ? base[i] : 0.0) + want[i]));
    for (size_t i = 0; i < n; i++) {
        double w = (base ? base[i] : 0.0) + want[i];
        cr_assert(fabs(got[i] - w) <= rel * scale, "%s [%s]: [%zu] = %.9g, want %.9g (scale %g)",
                  what, cfg, i, (double)got[i], w, scale);
    }
}

/* ---- convolution reference --------------------------------------------- */

typedef struct ConvCase {
    const char *name;
    size_t in_c, in_h, in_w, out_c, k_h, k_w, sh, sw, ph, pw, dh, dw, groups;
    bool bias;
} ConvCase;

static RtWindow conv_window(const ConvCase *c)
{
    RtWindow w = {
        .in_c = c->in_c, .in_h = c->in_h, .in_w = c->in_w, .out_c = c->out_c,
        .k_h = c->k_h, .k_w = c->k_w, .stride_h = c->sh, .stride_w = c->sw,
        .pad_h = c->ph, .pad_w = c->pw, .dil_h = c->dh, .dil_w = c->dw, .groups = c->groups,
    };
    /* torch's output size: floor((in + 2p - d(k-1) - 1) / s) + 1 */
    w.out_h = (c->in_h + 2 * c->ph - c->dh * (c->k_h - 1) - 1) / c->sh + 1;
    w.out_w = (c->in_w + 2 * c->pw - c->dw * (c->k_w - 1) - 1) / c->sw + 1;
    return w;
}

static size_t win_in(const RtWindow *w, size_t rows)
{
    return rows * w->in_c * w->in_h * w->in_w;
}

static size_t win_out(const RtWindow *w, size_t rows)
{
    return rows * w->out_c * w->out_h * w->out_w;
}

static size_t conv_wsize(const RtWindow *w)
{
    return w->out_c * (w->in_c / w->groups) * w->k_h * w->k_w;
}

/* The input position tap (ki, kj) of output (oh, ow) reads, or false in
 * the padding: signed arithmetic, nothing clever. */
static bool tap_at(const RtWindow *w, size_t oh, size_t ow, size_t ki, size_t kj, size_t *ih, size_t *iw)
{
    long h = (long)(oh * w->stride_h + ki * w->dil_h) - (long)w->pad_h;
    long v = (long)(ow * w->stride_w + kj * w->dil_w) - (long)w->pad_w;
    if (h < 0 || v < 0 || h >= (long)w->in_h || v >= (long)w->in_w)
        return false;
    *ih = (size_t)h;
    *iw = (size_t)v;
    return true;
}

/* Visits every (sample, output, weight, input) product of the direct
 * convolution: forward sums them, backward spreads dy through them. */
typedef struct ConvTerm {
    size_t yi, wi, xi;
} ConvTerm;

typedef void ConvVisit(const ConvTerm *t, void *ctx);

static void conv_visit(const RtWindow *w, size_t rows, ConvVisit *visit, void *ctx)
{
    size_t cin_g = w->in_c / w->groups, cout_g = w->out_c / w->groups;
    for (size_t r = 0; r < rows; r++)
        for (size_t oc = 0; oc < w->out_c; oc++) {
            size_t g = oc / cout_g;
            for (size_t oh = 0; oh < w->out_h; oh++)
                for (size_t ow = 0; ow < w->out_w; ow++)
                    for (size_t ic = 0; ic < cin_g; ic++)
                        for (size_t ki = 0; ki < w->k_h; ki++)
                            for (size_t kj = 0; kj < w->k_w; kj++) {
                                size_t ih, iw, c = g * cin_g + ic;
                                if (!tap_at(w, oh, ow, ki, kj, &ih, &iw))
                                    continue;
                                ConvTerm t = {
                                    ((r * w->out_c + oc) * w->out_h + oh) * w->out_w + ow,
                                    ((oc * cin_g + ic) * w->k_h + ki) * w->k_w + kj,
                                    ((r * w->in_c + c) * w->in_h + ih) * w->in_w + iw,
                                };
                                visit(&t, ctx);
                            }
        }
}

typedef struct ConvRef {
    const double *x, *wt, *dy;
    double *y, *dw, *dx;
} ConvRef;

static void ref_fwd_term(const ConvTerm *t, void *ctx)
{
    ConvRef *c = ctx;
    c->y[t->yi] += c->wt[t->wi] * c->x[t->xi];
}

static void ref_bwd_term(const ConvTerm *t, void *ctx)
{
    ConvRef *c = ctx;
    c->dw[t->wi] += c->dy[t->yi] * c->x[t->xi];
    c->dx[t->xi] += c->dy[t->yi] * c->wt[t->wi];
}

/* y = conv(x) + bias, bias NULL = none. */
static void ref_conv_forward(const RtWindow *w, size_t rows, const double *x, const double *wt,
                             const double *bias, double *y)
{
    size_t ohw = w->out_h * w->out_w, n = win_out(w, rows);
    for (size_t i = 0; i < n; i++)
        y[i] = bias ? bias[(i / ohw) % w->out_c] : 0.0;
    ConvRef c = {.x = x, .wt = wt, .y = y};
    conv_visit(w, rows, ref_fwd_term, &c);
}

/* Plain gradients (zeroed here) of L = sum(dy * y). */
static void ref_conv_backward(const RtWindow *w, size_t rows, const double *x, const double *wt,
                              const double *dy, double *dw, double *db, double *dx)
{
    size_t ohw = w->out_h * w->out_w, n = win_out(w, rows);
    memset(dw, 0, conv_wsize(w) * sizeof *dw);
    memset(dx, 0, win_in(w, rows) * sizeof *dx);
    memset(db, 0, w->out_c * sizeof *db);
    for (size_t i = 0; i < n; i++)
        db[(i / ohw) % w->out_c] += dy[i];
    ConvRef c = {.x = x, .wt = wt, .dy = dy, .dw = dw, .dx = dx};
    conv_visit(w, rows, ref_bwd_term, &c);
}

static const ConvCase conv_cases[] = {
    {"2d 3x2 stride (2,1) pad (1,2)", 4, 7, 6, 6, 3, 2, 2, 1, 1, 2, 1, 1, 1, true},
    {"2d 3x3 stride 2 pad 2 dil 2 groups 2", 4, 8, 9, 6, 3, 3, 2, 2, 2, 2, 2, 2, 2, true},
    {"2d depthwise x2 3x3 pad 1", 5, 6, 7, 10, 3, 3, 1, 1, 1, 1, 1, 1, 5, true},
    {"2d depthwise 2x3 stride (1,2) pad (0,1) no bias", 3, 5, 8, 3, 2, 3, 1, 2, 0, 1, 1, 1, 3, false},
    {"2d 5x5 on 2x3, pad 2: taps wholly in padding", 2, 2, 3, 3, 5, 5, 1, 1, 2, 2, 1, 1, 1, true},
    {"2d 1x4 dil (1,3) stride (2,3)", 3, 5, 14, 4, 1, 4, 2, 3, 1, 2, 1, 3, 1, true},
    {"2d 1x1 pointwise groups 2", 6, 5, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, true},
    {"2d 1x1 pointwise no bias", 3, 4, 4, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, false},
    {"2d 1x1 stride 2", 3, 5, 6, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1, true},
    {"1d k3 stride 2 pad 1", 3, 1, 11, 4, 1, 3, 1, 2, 0, 1, 1, 1, 1, true},
    {"1d k4 pad 2 dil 2 groups 2 no bias", 4, 1, 13, 6, 1, 4, 1, 1, 0, 2, 1, 2, 2, false},
    {"1d depthwise k5 pad 2", 4, 1, 9, 4, 1, 5, 1, 1, 0, 2, 1, 1, 4, true},
    /* output rows of 16 and more: im2col by runs, not by the gather table */
    {"2d 3x3 stride 2 pad 1 dil 2, rows of 19", 3, 9, 40, 4, 3, 3, 2, 2, 1, 1, 2, 2, 1, true},
    {"1d k5 pad 2 dil 2 groups 2, rows of 36", 4, 1, 40, 6, 1, 5, 1, 1, 0, 2, 1, 2, 2, true},
    {"2d depthwise 3x3 pad 1, rows of 20", 3, 6, 20, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, false},
};
#define CONV_CASES (sizeof conv_cases / sizeof conv_cases[0])
enum { CONV_ROWS = 3 };

/* The reference backward is the gradient of the reference forward: central
 * differences of L = sum(r * y), exact here since L is linear in each of x,
 * the weights and the bias (h = 0.25 is exact in binary too). */
Test(kernels, conv_reference_gradient_is_finite_differences)
{
    RtRng rng;
    rt_rng_seed(&rng, 1, 0);
    for (size_t ci = 0; ci < CONV_CASES; ci++) {
        RtWindow w = conv_window(&conv_cases[ci]);
        size_t nx = win_in(&w, CONV_ROWS), ny = win_out(&w, CONV_ROWS), nw = conv_wsize(&w);
        float *fx = frand(&rng, nx), *fw = frand(&rng, nw), *fb = frand(&rng, w.out_c), *fr = frand(&rng, ny);
        double *x = dcopy(fx, nx), *wt = dcopy(fw, nw), *b = dcopy(fb, w.out_c), *r = dcopy(fr, ny);
        double *y = dzeros(ny), *dw = dzeros(nw), *db = dzeros(w.out_c), *dx = dzeros(nx);
        ref_conv_backward(&w, CONV_ROWS, x, wt, r, dw, db, dx);
        double *params[3] = {x, wt, b}, *grads[3] = {dx, dw, db};
        size_t counts[3] = {nx, nw, w.out_c};
        for (size_t p = 0; p < 3; p++)
            for (size_t i = 0; i < counts[p]; i++) {
                double v = params[p][i], l[2];
                for (int s = 0; s < 2; s++) {
                    params[p][i] = v + (s ? -0.25 : 0.25);
                    ref_conv_forward(&w, CONV_ROWS, x, wt, b, y);
                    l[s] = 0.0;
                    for (size_t j = 0; j < ny; j++)
                        l[s] += r[j] * y[j];
                }
                params[p][i] = v;
                double fd = (l[0] - l[1]) / 0.5;
                cr_assert(fabs(fd - grads[p][i]) <= 1e-9 * (1.0 + fabs(fd)),
                          "[%s] param %zu[%zu]: backward %.12g, differences %.12g",
                          conv_cases[ci].name, p, i, grads[p][i], fd);
            }
        free(fx), free(fw), free(fb), free(fr), free(x), free(wt), free(b), free(r);
        free(y), free(dw), free(db), free(dx);
    }
}

/* One case through the kernels, forward (exact or not) and every backward
 * variant, against the reference. Buffers are exactly sized (valgrind and
 * ASan see any overrun) and the workspace starts as NaN. */
static void check_conv_case_keep(const ConvCase *cc, size_t rows, bool exact, bool kept,
                                 double rel, RtRng *rng)
{
    RtWindow w = conv_window(cc);
    size_t nx = win_in(&w, rows), ny = win_out(&w, rows), nw = conv_wsize(&w), nc = w.out_c;
    size_t nwork = rt_conv_workspace(&w, rows);
    float *x = frand(rng, nx), *wt = frand(rng, nw), *b = cc->bias ? frand(rng, nc) : NULL;
    float *dy = frand(rng, ny), *work = ffill(nwork, NAN), *y = ffill(ny, NAN);
    double *dxd = dcopy(x, nx), *dwd = dcopy(wt, nw), *dbd = b ? dcopy(b, nc) : NULL;
    double *dyd = dcopy(dy, ny), *yref = dzeros(ny);
    double *gw = dzeros(nw), *gb = dzeros(nc), *gx = dzeros(nx);
    char name[160];
    snprintf(name, sizeof name, "%s, rows %zu, exact %d, im2col kept %d", cc->name, rows, exact, kept);
    /* the kept im2col starts as NaN too: the backward must read what the forward left */
    size_t nkeep = rt_conv_keep_floats(&w, rows);
    float *keep = kept ? ffill(nkeep, NAN) : NULL;
    cr_assert(!kept || nkeep > 0, "[%s] a test case too large to keep", name);

    ref_conv_forward(&w, rows, dxd, dwd, dbd, yref);
    rt_conv_forward(&w, rows, x, wt, b, y, work, keep, exact, false);
    expect_close("conv y", name, y, NULL, yref, ny, rel);

    ref_conv_backward(&w, rows, dxd, dwd, dyd, gw, gb, gx);
    /* everything at once: dw, db added into random values, dx added */
    float *dw0 = frand(rng, nw), *db0 = frand(rng, nc), *dx0 = frand(rng, nx);
    float *dw = malloc(nw * sizeof *dw), *db = malloc(nc * sizeof *db), *dx = malloc(nx * sizeof *dx);
    memcpy(dw, dw0, nw * sizeof *dw), memcpy(db, db0, nc * sizeof *db), memcpy(dx, dx0, nx * sizeof *dx);
    rt_conv_backward(&w, rows, x, wt, dy, NULL, dw, db, dx, true, work, keep);
    expect_close("conv dw (added)", name, dw, dw0, gw, nw, rel);
    expect_close("conv db (added)", name, db, db0, gb, nc, rel);
    expect_close("conv dx (added)", name, dx, dx0, gx, nx, rel);
    /* dx written over NaN, no parameter gradients (frozen) */
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN;
    rt_conv_backward(&w, rows, x, wt, dy, NULL, NULL, NULL, dx, false, work, keep);
    expect_close("conv dx (written)", name, dx, NULL, gx, nx, rel);
    /* parameters only: dx NULL */
    memset(dw, 0, nw * sizeof *dw), memset(db, 0, nc * sizeof *db);
    rt_conv_backward(&w, rows, x, wt, dy, NULL, dw, db, NULL, false, work, keep);
    expect_close("conv dw (no dx)", name, dw, NULL, gw, nw, rel);
    expect_close("conv db (no dx)", name, db, NULL, gb, nc, rel);

    free(x), free(wt), free(b), free(dy), free(work), free(y), free(dxd), free(dwd), free(dbd);
    free(dyd), free(yref), free(gw), free(gb), free(gx), free(dw0), free(db0), free(dx0);
    free(dw), free(db), free(dx), free(keep);
}

static void check_conv_case(const ConvCase *cc, size_t rows, bool exact, double rel, RtRng *rng)
{
    RtWindow w = conv_window(cc);
    check_conv_case_keep(cc, rows, exact, false, rel, rng);
    if (rt_conv_keep_floats(&w, rows))
        check_conv_case_keep(cc, rows, exact, true, rel, rng);
}

Test(kernels, conv_forward_backward_small)
{
    RtRng rng;
    rt_rng_seed(&rng, 2, 0);
    for (size_t ci = 0; ci < CONV_CASES; ci++)
        for (int exact = 1; exact >= 0; exact--)
            check_conv_case(&conv_cases[ci], CONV_ROWS, exact, 1e-6, &rng);
}

/* Products large enough for rt_gemm's BLAS branch (forward 64 x 144 x 288
 * per sample, dW 64 x 288 x 144), and the same through the portable loops. */
Test(kernels, conv_blas_sized)
{
    static const ConvCase big = {"2d 32->64 3x3 pad 1 on 12x12", 32, 12, 12, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
    cr_assert_geq(64.0 * 144 * 288, RT_GEMM_BLAS_MIN);
    RtRng rng;
    rt_rng_seed(&rng, 3, 0);
    check_conv_case(&big, 4, true, 1e-6, &rng);
    check_conv_case(&big, 4, false, 1e-6, &rng);
    cr_log_info("large products: %s", rt_blas_describe());
}

/* exact = true is the portable loops' fixed order: the same bits from run
 * to run, and the same as rt_gemm for products under the BLAS threshold. */
Test(kernels, conv_exact_is_reproducible)
{
    RtRng rng;
    rt_rng_seed(&rng, 4, 0);
    RtWindow w = conv_window(&conv_cases[1]);
    size_t nx = win_in(&w, 2), ny = win_out(&w, 2);
    float *x = frand(&rng, nx), *wt = frand(&rng, conv_wsize(&w)), *b = frand(&rng, w.out_c);
    float *work = malloc(rt_conv_workspace(&w, 2) * sizeof *work);
    float *y1 = malloc(ny * sizeof *y1), *y2 = malloc(ny * sizeof *y2);
    rt_conv_forward(&w, 2, x, wt, b, y1, work, NULL, true, false);
    rt_conv_forward(&w, 2, x, wt, b, y2, work, NULL, true, false);
    cr_assert_eq(memcmp(y1, y2, ny * sizeof *y1), 0);
    rt_conv_forward(&w, 2, x, wt, b, y2, work, NULL, false, false);
    cr_assert_eq(memcmp(y1, y2, ny * sizeof *y1), 0);
    free(x), free(wt), free(b), free(work), free(y1), free(y2);
}

/* A batch larger than one product's chunk (RT_CONV_COL_FLOATS): 10*3*3
 * col rows of 32*32 positions are 92160 floats a sample, so chunks of two
 * and a last one of one sample; all of it against the reference, and the
 * exact forward gives each sample the bits it gets alone. */
Test(kernels, conv_chunks)
{
    static const ConvCase wide = {"2d 10->6 3x3 pad 1 on 32x32", 10, 32, 32, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
    RtWindow w = conv_window(&wide);
    size_t per_sample = 10 * 3 * 3 * w.out_h * w.out_w;
    cr_assert(2 * per_sample <= RT_CONV_COL_FLOATS && 3 * per_sample > RT_CONV_COL_FLOATS);
    RtRng rng;
    rt_rng_seed(&rng, 5, 0);
    check_conv_case(&wide, 5, true, 1e-6, &rng);
    check_conv_case(&wide, 5, false, 1e-6, &rng);

    size_t nx = win_in(&w, 5), ny = win_out(&w, 5), ny1 = win_out(&w, 1);
    float *x = frand(&rng, nx), *wt = frand(&rng, conv_wsize(&w)), *b = frand(&rng, w.out_c);
    float *work = malloc(rt_conv_workspace(&w, 5) * sizeof *work);
    float *y = malloc(ny * sizeof *y), *y1 = malloc(ny1 * sizeof *y1);
    rt_conv_forward(&w, 5, x, wt, b, y, work, NULL, true, false);
    for (size_t r = 0; r < 5; r++) {
        rt_conv_forward(&w, 1, x + r * win_in(&w, 1), wt, b, y1, work, NULL, true, false);
        cr_assert_eq(memcmp(y + r * ny1, y1, ny1 * sizeof *y1), 0, "sample %zu", r);
    }
    free(x), free(wt), free(b), free(work), free(y), free(y1);
}

Test(kernels, conv_workspace_size)
{
    RtWindow w = conv_window(&conv_cases[0]);
    size_t ohw = w.out_h * w.out_w, k = 4 * 3 * 2;
    /* col, dcol and the product's output for the whole batch of 7 (rows
     * padded by 16 floats), and the batch's input with its padding (1, 2) */
    cr_assert_eq(rt_conv_workspace(&w, 7),
                 (7 * ohw + 16) * (2 * k + w.out_c) + 7 * 4 * (7 + 2) * (6 + 4));
    /* without padding no copy */
    RtWindow pw = conv_window(&conv_cases[7]);
    cr_assert_eq(pw.pad_h + pw.pad_w, 0);
    size_t pohw = pw.out_h * pw.out_w, pk = 3;
    cr_assert_eq(rt_conv_workspace(&pw, 7), (7 * pohw + 16) * (2 * pk + pw.out_c));
}

/* ---- pooling ------------------------------------------------------------ */

typedef struct PoolCase {
    const char *name;
    size_t c, in_h, in_w, k_h, k_w, sh, sw, ph, pw, dh, dw;
} PoolCase;

static RtWindow pool_window(const PoolCase *p)
{
    ConvCase c = {p->name, p->c, p->in_h, p->in_w, p->c, p->k_h, p->k_w, p->sh, p->sw,
                  p->ph, p->pw, p->dh, p->dw, 1, false};
    return conv_window(&c);
}

static const PoolCase pool_cases[] = {
    {"3x3 stride 2 pad 1", 3, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1},
    {"2x3 stride (1,2) pad (1,1)", 2, 5, 9, 2, 3, 1, 2, 1, 1, 1, 1},
    {"2x2 stride 2", 2, 6, 7, 2, 2, 2, 2, 0, 0, 1, 1},
    /* column pairs at stride 2 (rt_*pool_* take a vectorised path) */
    {"2x2 stride 2 on 8x8", 3, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1},
    {"3x2 stride (3,2) on 7x9", 2, 7, 9, 3, 2, 3, 2, 0, 0, 1, 1},
    {"1d k2 stride 2 on 9", 2, 1, 9, 1, 2, 1, 2, 0, 0, 1, 1},
    {"3x3 stride 1 pad 1 dil 2", 2, 5, 6, 3, 3, 1, 1, 1, 1, 2, 2},
    {"3x2 stride (3,1) pad (1,1) dil (1,2)", 2, 8, 6, 3, 2, 3, 1, 1, 1, 1, 2},
    {"1d k3 stride 2 pad 1", 4, 1, 10, 1, 3, 1, 2, 0, 1, 1, 1},
    {"1d k4 stride 3 pad 2", 3, 1, 11, 1, 4, 1, 3, 0, 2, 1, 1},
};
#define POOL_CASES (sizeof pool_cases / sizeof pool_cases[0])
enum { POOL_ROWS = 3 };

/* Values on a grid of 1/4 between -1 and 1 (so windows have ties), or all
 * negative (so a padding read as 0 would win). */
static float *pool_input(RtRng *r, size_t n, bool negative)
{
    float *x = frand(r, n);
    for (size_t i = 0; i < n; i++)
        x[i] = negative ? -1.0f - fabsf(x[i]) : roundf(x[i] * 4.0f) / 4.0f;
    return x;
}

/* The in-plane indices of window (oh, ow)'s in-bounds values, in scan
 * order (kernel row, then column); returns their count. */
static size_t ref_window(const RtWindow *w, size_t oh, size_t ow, size_t *idx)
{
    size_t n = 0;
    for (size_t ki = 0; ki < w->k_h; ki++)
        for (size_t kj = 0; kj < w->k_w; kj++) {
            size_t ih, iw;
            if (tap_at(w, oh, ow, ki, kj, &ih, &iw))
                idx[n++] = ih * w->in_w + iw;
        }
    return n;
}

/* First maximum in scan order; a NaN takes over; -inf windows pick their
 * first value. */
static size_t ref_argmax(const float *plane, const size_t *idx, size_t n)
{
    size_t best = idx[0];
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (plane[idx[i]] > m || isnan(plane[idx[i]])) {
            m = plane[idx[i]];
            best = idx[i];
        }
    return best;
}

/* y and dx (gradient of sum(dy * y)) of max (is_max) or average pooling. */
static void ref_pool(const RtWindow *w, size_t rows, const float *x, const float *dy, bool is_max,
                     double *y, double *dx)
{
    size_t in = w->in_h * w->in_w, out = w->out_h * w->out_w, idx[64];
    memset(dx, 0, win_in(w, rows) * sizeof *dx);
    cr_assert_leq(w->k_h * w->k_w, 64);
    for (size_t p = 0; p < rows * w->in_c; p++)
        for (size_t oh = 0; oh < w->out_h; oh++)
            for (size_t ow = 0; ow < w->out_w; ow++) {
                const float *plane = x + p * in;
                size_t n = ref_window(w, oh, ow, idx), o = p * out + oh * w->out_w + ow;
                cr_assert_gt(n, 0);
                if (is_max) {
                    size_t a = ref_argmax(plane, idx, n);
                    y[o] = plane[a];
                    dx[p * in + a] += dy[o];
                    continue;
                }
                double sum = 0.0, div = (double)(w->k_h * w->k_w);
                for (size_t i = 0; i < n; i++) {
                    sum += plane[idx[i]];
                    dx[p * in + idx[i]] += dy[o] / div;
                }
                y[o] = sum / div;
            }
}

static void check_pool_case(const PoolCase *pc, bool is_max, bool negative, RtRng *rng)
{
    RtWindow w = pool_window(pc);
    size_t nx = win_in(&w, POOL_ROWS), ny = win_out(&w, POOL_ROWS);
    float *x = pool_input(rng, nx, negative), *dy = frand(rng, ny), *y = ffill(ny, NAN);
    float *dx0 = frand(rng, nx), *dx = malloc(nx * sizeof *dx);
    double *yref = dzeros(ny), *dxref = dzeros(nx);
    char name[160];
    snprintf(name, sizeof name, "%s %s%s", is_max ? "max" : "avg", pc->name, negative ? " negative" : "");
    uint32_t *arg = malloc(ny * sizeof *arg);
    ref_pool(&w, POOL_ROWS, x, dy, is_max, yref, dxref);
    if (is_max) {
        /* without the argmax (evaluation) first, then with it over the same y */
        rt_maxpool_forward(&w, POOL_ROWS, x, y, NULL);
        expect_close("pool y (no argmax)", name, y, NULL, yref, ny, 0.0);
        rt_maxpool_forward(&w, POOL_ROWS, x, y, arg);
    } else {
        rt_avgpool_forward(&w, POOL_ROWS, x, y);
    }
    /* max is a choice, exact; the average is a short sum and one division */
    expect_close("pool y", name, y, NULL, yref, ny, is_max ? 0.0 : 1e-6);
    for (int add = 0; add < 2; add++) {
        for (size_t i = 0; i < nx; i++)
            dx[i] = add ? dx0[i] : NAN;
        if (is_max)
            rt_maxpool_backward(&w, POOL_ROWS, arg, dy, dx, add);
        else
            rt_avgpool_backward(&w, POOL_ROWS, dy, dx, add);
        expect_close(add ? "pool dx (added)" : "pool dx (written)", name, dx, add ? dx0 : NULL,
                     dxref, nx, 1e-6); /* overlapping windows sum several dy */
    }
    free(x), free(dy), free(y), free(dx0), free(dx), free(yref), free(dxref), free(arg);
}

Test(kernels, maxpool_forward_backward)
{
    RtRng rng;
    rt_rng_seed(&rng, 5, 0);
    for (size_t i = 0; i < POOL_CASES; i++) {
        check_pool_case(&pool_cases[i], true, false, &rng);
        check_pool_case(&pool_cases[i], true, true, &rng);
    }
}

Test(kernels, avgpool_forward_backward)
{
    RtRng rng;
    rt_rng_seed(&rng, 6, 0);
    for (size_t i = 0; i < POOL_CASES; i++) {
        check_pool_case(&pool_cases[i], false, false, &rng);
        check_pool_case(&pool_cases[i], false, true, &rng);
    }
}

/* Ties go to the first in scan order; a NaN wins its window; a window of
 * -inf routes its gradient to its first in-bounds value (PyTorch's rules). */
Test(kernels, maxpool_ties_nan_and_minus_inf)
{
    PoolCase pc = {"2x2 stride 2", 1, 2, 4, 2, 2, 2, 2, 0, 0, 1, 1};
    RtWindow w = pool_window(&pc);
    float x[8] = {1, 3, -INFINITY, -INFINITY, 3, 2, -INFINITY, -INFINITY}, y[2], dx[8];
    float dy[2] = {1, 1};
    uint32_t arg[2];
    rt_maxpool_forward(&w, 1, x, y, arg);
    cr_assert_float_eq(y[0], 3.0f, 0);
    cr_assert(isinf(y[1]) && y[1] < 0);
    rt_maxpool_backward(&w, 1, arg, dy, dx, false);
    float want[8] = {0, 1, 1, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(dx, want, sizeof want);
    x[5] = NAN;
    rt_maxpool_forward(&w, 1, x, y, arg);
    cr_assert(isnan(y[0]));
    rt_maxpool_backward(&w, 1, arg, dy, dx, false);
    cr_assert_float_eq(dx[5], 1.0f, 0);
    cr_assert_float_eq(dx[1], 0.0f, 0);
}

Test(kernels, global_pools)
{
    RtRng rng;
    rt_rng_seed(&rng, 7, 0);
    static const size_t shapes[][3] = {{3, 4, 10}, {2, 3, 1}, {1, 5, 37}};
    for (size_t s = 0; s < 3; s++) {
        size_t rows = shapes[s][0], c = shapes[s][1], sp = shapes[s][2], nx = rows * c * sp, ny = rows * c;
        float *x = pool_input(&rng, nx, false), *dy = frand(&rng, ny), *y = ffill(ny, NAN);
        float *dx0 = frand(&rng, nx), *dx = malloc(nx * sizeof *dx);
        double *ymax = dzeros(ny), *yavg = dzeros(ny), *gmax = dzeros(nx), *gavg = dzeros(nx);
        for (size_t p = 0; p < ny; p++) {
            size_t a = p * sp;
            double sum = 0.0;
            for (size_t i = 0; i < sp; i++) {
                sum += x[p * sp + i];
                a = x[p * sp + i] > x[a] ? p * sp + i : a;
                gavg[p * sp + i] = dy[p] / (double)sp;
            }
            ymax[p] = x[a];
            gmax[a] = dy[p];
            yavg[p] = sum / (double)sp;
        }
        rt_global_maxpool_forward(rows, c, sp, x, y);
        expect_close("global max y", "", y, NULL, ymax, ny, 0.0);
        rt_global_avgpool_forward(rows, c, sp, x, y);
        expect_close("global avg y", "", y, NULL, yavg, ny, 1e-6);
        for (int add = 0; add < 2; add++) {
            for (size_t i = 0; i < nx; i++)
                dx[i] = add ? dx0[i] : NAN;
            rt_global_maxpool_backward(rows, c, sp, x, dy, dx, add);
            expect_close("global max dx", add ? "added" : "written", dx, add ? dx0 : NULL, gmax, nx, 1e-7);
            for (size_t i = 0; i < nx; i++)
                dx[i] = add ? dx0[i] : NAN;
            rt_global_avgpool_backward(rows, c, sp, dy, dx, add);
            expect_close("global avg dx", add ? "added" : "written", dx, add ? dx0 : NULL, gavg, nx, 1e-6);
        }
        free(x), free(dy), free(y), free(dx0), free(dx), free(ymax), free(yavg), free(gmax), free(gavg);
    }
}

/* ---- batchnorm ---------------------------------------------------------- */

typedef struct BnCase {
    const char *name;
    size_t rows, c, spatial;
    float offset; /* added to x: a large mean next to a unit spread */
} BnCase;

static const BnCase bn_cases[] = {
    {"2d 4x3x5", 4, 3, 5, 0.0f},
    {"1d on [N,C] 6x4", 6, 4, 1, 0.0f},
    {"2d 2x2x9, mean 10", 2, 2, 9, 10.0f},
    {"1d 2x3 (n = 2)", 2, 3, 1, 0.0f},
};
#define BN_CASES (sizeof bn_cases / sizeof bn_cases[0])

/* Training forward in double: y, mean/invstd, the running statistics. */
static void ref_bn_train(const RtBatchnorm *bn, size_t rows, const double *x, const double *wt,
                         const double *b, double *y, double *saved, double *rm, double *rv)
{
    size_t c = bn->c, sp = bn->spatial;
    double n = (double)(rows * sp);
    for (size_t ch = 0; ch < c; ch++) {
        double sum = 0.0, sq = 0.0;
        for (size_t r = 0; r < rows; r++)
            for (size_t s = 0; s < sp; s++)
                sum += x[(r * c + ch) * sp + s];
        double mean = sum / n;
        for (size_t r = 0; r < rows; r++)
            for (size_t s = 0; s < sp; s++)
                sq += pow(x[(r * c + ch) * sp + s] - mean, 2);
        double invstd = 1.0 / sqrt(sq / n + bn->eps);
        for (size_t r = 0; r < rows; r++)
            for (size_t s = 0; s < sp; s++) {
                size_t i = (r * c + ch) * sp + s;
                y[i] = (x[i] - mean) * invstd * wt[ch] + b[ch];
            }
        if (saved)
            saved[ch] = mean, saved[c + ch] = invstd;
        if (rm)
            rm[ch] = (1.0 - bn->momentum) * rm[ch] + bn->momentum * mean;
        if (rv)
            rv[ch] = (1.0 - bn->momentum) * rv[ch] + bn->momentum * sq / (n - 1.0);
    }
}

Test(kernels, batchnorm_train_forward)
{
    RtRng rng;
    rt_rng_seed(&rng, 8, 0);
    for (size_t k = 0; k < BN_CASES; k++) {
        const BnCase *bc = &bn_cases[k];
        RtBatchnorm bn = {bc->c, bc->spatial, 0.1f, 1e-5f};
        size_t n = bc->rows * bc->c * bc->spatial, c = bc->c;
        float *x = frand(&rng, n), *wt = frand(&rng, c), *b = frand(&rng, c);
        float *rm = frand(&rng, c), *rv = frand(&rng, c), *y = ffill(n, NAN), *saved = ffill(2 * c, NAN);
        for (size_t i = 0; i < n; i++)
            x[i] += bc->offset;
        for (size_t i = 0; i < c; i++)
            rv[i] = fabsf(rv[i]) + 0.5f;
        double *xd = dcopy(x, n), *wd = dcopy(wt, c), *bd = dcopy(b, c), *rmd = dcopy(rm, c), *rvd = dcopy(rv, c);
        double *yref = dzeros(n), *sref = dzeros(2 * c);
        ref_bn_train(&bn, bc->rows, xd, wd, bd, yref, sref, rmd, rvd);
        rt_batchnorm_train_forward(&bn, bc->rows, x, wt, b, rm, rv, y, saved, false);
        expect_close("bn y", bc->name, y, NULL, yref, n, 1e-6);
        expect_close("bn mean", bc->name, saved, NULL, sref, c, 1e-6);
        expect_close("bn invstd", bc->name, saved + c, NULL, sref + c, c, 1e-6);
        expect_close("bn running mean", bc->name, rm, NULL, rmd, c, 1e-6);
        expect_close("bn running var (unbiased)", bc->name, rv, NULL, rvd, c, 1e-6);
        /* without affine parameters or running statistics */
        double *ones = dzeros(c), *zeros = dzeros(c);
        for (size_t i = 0; i < c; i++)
            ones[i] = 1.0;
        ref_bn_train(&bn, bc->rows, xd, ones, zeros, yref, NULL, NULL, NULL);
        rt_batchnorm_train_forward(&bn, bc->rows, x, NULL, NULL, NULL, NULL, y, saved, false);
        expect_close("bn y (no affine)", bc->name, y, NULL, yref, n, 1e-6);
        free(x), free(wt), free(b), free(rm), free(rv), free(y), free(saved), free(xd), free(wd);
        free(bd), free(rmd), free(rvd), free(yref), free(sref), free(ones), free(zeros);
    }
}

Test(kernels, batchnorm_eval_forward)
{
    RtRng rng;
    rt_rng_seed(&rng, 9, 0);
    RtBatchnorm bn = {3, 4, 0.1f, 1e-3f};
    size_t rows = 2, n = rows * 3 * 4;
    float *x = frand(&rng, n), *wt = frand(&rng, 3), *b = frand(&rng, 3), *rm = frand(&rng, 3);
    float *rv = frand(&rng, 3), *y = ffill(n, NAN);
    for (size_t i = 0; i < 3; i++)
        rv[i] = fabsf(rv[i]) + 0.1f;
    double *yref = dzeros(n);
    for (size_t i = 0; i < n; i++) {
        size_t ch = (i / 4) % 3;
        yref[i] = ((double)x[i] - rm[ch]) / sqrt((double)rv[ch] + (double)bn.eps) * wt[ch] + b[ch];
    }
    rt_batchnorm_eval_forward(&bn, rows, x, wt, b, rm, rv, y, false);
    expect_close("bn eval y", "", y, NULL, yref, n, 1e-6);
    free(x), free(wt), free(b), free(rm), free(rv), free(y), free(yref);
}

/* L = sum(r * y) of the double training forward. */
static double bn_loss(const RtBatchnorm *bn, size_t rows, const double *x, const double *wt,
                      const double *b, const double *r, double *y)
{
    size_t n = rows * bn->c * bn->spatial;
    ref_bn_train(bn, rows, x, wt, b, y, NULL, NULL, NULL);
    double l = 0.0;
    for (size_t i = 0; i < n; i++)
        l += r[i] * y[i];
    return l;
}

/* The kernel's gradients against central differences of the double
 * training forward (h = 1e-4: truncation ~1e-9, far under the tolerance). */
Test(kernels, batchnorm_backward_is_finite_differences)
{
    RtRng rng;
    rt_rng_seed(&rng, 10, 0);
    for (size_t k = 0; k < BN_CASES; k++) {
        const BnCase *bc = &bn_cases[k];
        RtBatchnorm bn = {bc->c, bc->spatial, 0.1f, 1e-5f};
        size_t n = bc->rows * bc->c * bc->spatial, c = bc->c;
        float *x = frand(&rng, n), *wt = frand(&rng, c), *b = frand(&rng, c), *dy = frand(&rng, n);
        float *y = malloc(n * sizeof *y), *saved = malloc(2 * c * sizeof *saved);
        for (size_t i = 0; i < n; i++)
            x[i] += bc->offset;
        double *xd = dcopy(x, n), *wd = dcopy(wt, c), *bd = dcopy(b, c), *rd = dcopy(dy, n), *yd = dzeros(n);
        double *gx = dzeros(n), *gw = dzeros(c), *gb = dzeros(c);
        double *params[3] = {xd, wd, bd}, *grads[3] = {gx, gw, gb};
        size_t counts[3] = {n, c, c};
        const double h = 1e-4;
        for (size_t p = 0; p < 3; p++)
            for (size_t i = 0; i < counts[p]; i++) {
                double v = params[p][i];
                params[p][i] = v + h;
                double lp = bn_loss(&bn, bc->rows, xd, wd, bd, rd, yd);
                params[p][i] = v - h;
                double lm = bn_loss(&bn, bc->rows, xd, wd, bd, rd, yd);
                params[p][i] = v;
                grads[p][i] = (lp - lm) / (2 * h);
            }
        rt_batchnorm_train_forward(&bn, bc->rows, x, wt, b, NULL, NULL, y, saved, false);
        float *dw0 = frand(&rng, c), *db0 = frand(&rng, c), *dx0 = frand(&rng, n);
        float *dw = malloc(c * sizeof *dw), *db = malloc(c * sizeof *db), *dx = malloc(n * sizeof *dx);
        memcpy(dw, dw0, c * sizeof *dw), memcpy(db, db0, c * sizeof *db), memcpy(dx, dx0, n * sizeof *dx);
        rt_batchnorm_backward(&bn, bc->rows, x, wt, saved, dy, NULL, dw, db, dx, true);
        expect_close("bn dweight (added)", bc->name, dw, dw0, gw, c, 1e-5);
        expect_close("bn dbias (added)", bc->name, db, db0, gb, c, 1e-5);
        expect_close("bn dx (added)", bc->name, dx, dx0, gx, n, 1e-5);
        for (size_t i = 0; i < n; i++)
            dx[i] = NAN;
        rt_batchnorm_backward(&bn, bc->rows, x, wt, saved, dy, NULL, NULL, NULL, dx, false);
        expect_close("bn dx (written)", bc->name, dx, NULL, gx, n, 1e-5);
        memset(dw, 0, c * sizeof *dw);
        rt_batchnorm_backward(&bn, bc->rows, x, wt, saved, dy, NULL, dw, NULL, NULL, false);
        expect_close("bn dweight (no dx)", bc->name, dw, NULL, gw, c, 1e-5);
        free(x), free(wt), free(b), free(dy), free(y), free(saved), free(xd), free(wd), free(bd);
        free(rd), free(yd), free(gx), free(gw), free(gb), free(dw0), free(db0), free(dx0);
        free(dw), free(db), free(dx);
    }
}

/* ---- a relu folded into conv and batchnorm (RtOpArgs.relu_out) ----------- */

/* relu's forward and backward as the relu op has them (y > 0 where x > 0). */
static float *relu_of(const float *y, size_t n)
{
    float *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++)
        r[i] = y[i] > 0.0f ? y[i] : 0.0f;
    return r;
}

static float *relu_masked(const float *dy, const float *relu_y, size_t n)
{
    float *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++)
        g[i] = relu_y[i] > 0.0f ? dy[i] : 0.0f;
    return g;
}

static void expect_same(const char *what, const char *name, const float *got, const float *want,
                        size_t n)
{
    cr_assert_eq(memcmp(got, want, n * sizeof *got), 0, "%s [%s]: not the same bits", what, name);
}

/* The folded kernel gives exactly the bits of the kernel and then the relu
 * op: forward relu(y); backward the gradients of the masked dy. */
static void check_conv_relu(const ConvCase *cc, size_t rows, RtRng *rng)
{
    RtWindow w = conv_window(cc);
    size_t nx = win_in(&w, rows), ny = win_out(&w, rows), nw = conv_wsize(&w), nc = w.out_c;
    float *x = frand(rng, nx), *wt = frand(rng, nw), *b = cc->bias ? frand(rng, nc) : NULL;
    float *dy = frand(rng, ny), *work = ffill(rt_conv_workspace(&w, rows), NAN);
    float *y = ffill(ny, NAN), *yr = ffill(ny, NAN);
    for (int exact = 0; exact < 2; exact++) {
        rt_conv_forward(&w, rows, x, wt, b, y, work, NULL, exact, false);
        rt_conv_forward(&w, rows, x, wt, b, yr, work, NULL, exact, true);
        float *want = relu_of(y, ny);
        expect_same("conv relu y", cc->name, yr, want, ny);
        free(want);
    }
    float *g = relu_masked(dy, yr, ny);
    float *dw[2], *db[2], *dx[2];
    for (int k = 0; k < 2; k++) {
        dw[k] = ffill(nw, 0.5f), db[k] = ffill(nc, 0.5f), dx[k] = ffill(nx, 0.5f);
        rt_conv_backward(&w, rows, x, wt, k ? dy : g, k ? yr : NULL, dw[k], b ? db[k] : NULL, dx[k],
                         true, work, NULL);
    }
    expect_same("conv relu dw", cc->name, dw[1], dw[0], nw);
    expect_same("conv relu db", cc->name, db[1], db[0], nc);
    expect_same("conv relu dx", cc->name, dx[1], dx[0], nx);
    for (int k = 0; k < 2; k++)
        free(dw[k]), free(db[k]), free(dx[k]);
    free(x), free(wt), free(b), free(dy), free(work), free(y), free(yr), free(g);
}

Test(kernels, conv_with_relu_folded)
{
    RtRng rng;
    rt_rng_seed(&rng, 11, 0);
    for (size_t ci = 0; ci < CONV_CASES; ci++)
        check_conv_relu(&conv_cases[ci], CONV_ROWS, &rng);
}

Test(kernels, batchnorm_with_relu_folded)
{
    RtRng rng;
    rt_rng_seed(&rng, 12, 0);
    for (size_t k = 0; k < BN_CASES; k++) {
        const BnCase *bc = &bn_cases[k];
        RtBatchnorm bn = {bc->c, bc->spatial, 0.1f, 1e-5f};
        size_t n = bc->rows * bc->c * bc->spatial, c = bc->c;
        float *x = frand(&rng, n), *wt = frand(&rng, c), *b = frand(&rng, c), *dy = frand(&rng, n);
        float *rm = frand(&rng, c), *rv = frand(&rng, c), *saved = ffill(2 * c, NAN);
        float *y = ffill(n, NAN), *yr = ffill(n, NAN);
        rt_batchnorm_eval_forward(&bn, bc->rows, x, wt, b, rm, rv, y, false);
        rt_batchnorm_eval_forward(&bn, bc->rows, x, wt, b, rm, rv, yr, true);
        float *want = relu_of(y, n);
        expect_same("bn eval relu y", bc->name, yr, want, n);
        free(want);
        rt_batchnorm_train_forward(&bn, bc->rows, x, wt, b, NULL, NULL, y, saved, false);
        rt_batchnorm_train_forward(&bn, bc->rows, x, wt, b, NULL, NULL, yr, saved, true);
        want = relu_of(y, n);
        expect_same("bn train relu y", bc->name, yr, want, n);
        free(want);
        float *g = relu_masked(dy, yr, n), *dw[2], *db[2], *dx[2];
        for (int i = 0; i < 2; i++) {
            dw[i] = ffill(c, 0.5f), db[i] = ffill(c, 0.5f), dx[i] = ffill(n, 0.5f);
            rt_batchnorm_backward(&bn, bc->rows, x, wt, saved, i ? dy : g, i ? yr : NULL, dw[i],
                                  db[i], dx[i], true);
        }
        expect_same("bn relu dweight", bc->name, dw[1], dw[0], c);
        expect_same("bn relu dbias", bc->name, db[1], db[0], c);
        expect_same("bn relu dx", bc->name, dx[1], dx[0], n);
        for (int i = 0; i < 2; i++)
            free(dw[i]), free(db[i]), free(dx[i]);
        free(x), free(wt), free(b), free(dy), free(rm), free(rv), free(saved), free(y), free(yr), free(g);
    }
}
