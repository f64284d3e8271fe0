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
static void check_conv_case(const ConvCase *cc, size_t rows, bool exact, double rel, RtRng *rng)
{
    RtWindow w = conv_window(cc);
    size_t nx = win_in(&w, rows), ny = win_out(&w, rows), nw = conv_wsize(&w), nc = w.out_c;
    size_t nwork = rt_conv_workspace(&w);
    float *x = frand(rng, nx), *wt = frand(rng, nw), *b = cc->bias ? frand(rng, nc) : NULL;
    float *dy = frand(rng, ny), *work = ffill(nwork, NAN), *y = ffill(ny, NAN);
    double *dxd = dcopy(x, nx), *dwd = dcopy(wt, nw), *dbd = b ? dcopy(b, nc) : NULL;
    double *dyd = dcopy(dy, ny), *yref = dzeros(ny);
    double *gw = dzeros(nw), *gb = dzeros(nc), *gx = dzeros(nx);
    char name[160];
    snprintf(name, sizeof name, "%s, rows %zu, exact %d", cc->name, rows, exact);

    ref_conv_forward(&w, rows, dxd, dwd, dbd, yref);
    rt_conv_forward(&w, rows, x, wt, b, y, work, exact);
    expect_close("conv y", name, y, NULL, yref, ny, rel);

    ref_conv_backward(&w, rows, dxd, dwd, dyd, gw, gb, gx);
    /* everything at once: dw, db added into random values, dx added */
    float *dw0 = frand(rng, nw), *db0 = frand(rng, nc), *dx0 = frand(rng, nx);
    float *dw = malloc(nw * sizeof *dw), *db = malloc(nc * sizeof *db), *dx = malloc(nx * sizeof *dx);
    memcpy(dw, dw0, nw * sizeof *dw), memcpy(db, db0, nc * sizeof *db), memcpy(dx, dx0, nx * sizeof *dx);
    rt_conv_backward(&w, rows, x, wt, dy, dw, db, dx, true, work);
    expect_close("conv dw (added)", name, dw, dw0, gw, nw, rel);
    expect_close("conv db (added)", name, db, db0, gb, nc, rel);
    expect_close("conv dx (added)", name, dx, dx0, gx, nx, rel);
    /* dx written over NaN, no parameter gradients (frozen) */
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN;
    rt_conv_backward(&w, rows, x, wt, dy, NULL, NULL, dx, false, work);
    expect_close("conv dx (written)", name, dx, NULL, gx, nx, rel);
    /* parameters only: dx NULL */
    memset(dw, 0, nw * sizeof *dw), memset(db, 0, nc * sizeof *db);
    rt_conv_backward(&w, rows, x, wt, dy, dw, db, NULL, false, work);
    expect_close("conv dw (no dx)", name, dw, NULL, gw, nw, rel);
    expect_close("conv db (no dx)", name, db, NULL, gb, nc, rel);

    free(x), free(wt), free(b), free(dy), free(work), free(y), free(dxd), free(dwd), free(dbd);
    free(dyd), free(yref), free(gw), free(gb), free(gx), free(dw0), free(db0), free(dx0);
    free(dw), free(db), free(dx);
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
    float *work = malloc(rt_conv_workspace(&w) * sizeof *work);
    float *y1 = malloc(ny * sizeof *y1), *y2 = malloc(ny * sizeof *y2);
    rt_conv_forward(&w, 2, x, wt, b, y1, work, true);
    rt_conv_forward(&w, 2, x, wt, b, y2, work, true);
    cr_assert_eq(memcmp(y1, y2, ny * sizeof *y1), 0);
    rt_conv_forward(&w, 2, x, wt, b, y2, work, false);
    cr_assert_eq(memcmp(y1, y2, ny * sizeof *y1), 0);
    free(x), free(wt), free(b), free(work), free(y1), free(y2);
}

Test(kernels, conv_workspace_size)
{
    RtWindow w = conv_window(&conv_cases[0]);
    cr_assert_eq(rt_conv_workspace(&w), 2 * 4 * 3 * 2 * w.out_h * w.out_w);
    RtWindow p = conv_window(&conv_cases[6]);
    cr_assert_eq(rt_conv_workspace(&p), 0);
}
