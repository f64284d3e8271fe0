/* Training-loop time of the nnc runtime, for `make bench` (bench/run.sh).
 * Links the runtime objects like latency_interp.c; the CLI stays clean.
 *
 *   train-bench FILE.nn [EVAL_DATASET [DUMP_PREFIX]]
 *       runs the file's train steps and prints `train_s S`: the wall time of
 *       rt_session_train (the training loops; compiling the file and loading
 *       its data are not counted). With EVAL_DATASET (e.g. digits.test) also
 *       `accuracy A` of the trained model on it (argmax over the outputs).
 *       With DUMP_PREFIX, writes every dataset as PREFIX.NAME.f32 (three
 *       uint64 rows, x_cols, y_cols, then x and y as float32) so that the
 *       PyTorch side trains and tests on exactly the same split.
 *       Also `blas PATH`: which path large products took (rt_blas_describe).
 *   train-bench wide|mnist ROWS EPOCHS
 *       wide: 784-512-512-10 ReLU, batch 128; mnist: PyTorch's MNIST
 *       example network (two 3x3 convolutions, maxpool, 9216-128-10),
 *       batch 64; both cross_entropy, Adam lr 1e-3, on ROWS synthetic rows
 *       (uniform pixels, labels from a fixed rule); prints `train_s S` and
 *       `blas PATH`.
 *   train-bench sgemm N REPS
 *       the single-thread limit next to (h): REPS N x N x N products through
 *       rt_gemm (cblas_sgemm at that size); prints `gflops G` and `blas PATH`.
 * OpenBLAS is loaded before the clock starts (nnc loads it at the first
 * large product): loading a library is start-up, not training, as when it
 * was linked; so peak RSS counts it for every workload, XOR too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnc/front.h"
#include "nnc/runtime.h"
#include "../src/runtime/gemm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

/* Share of rows of ds whose argmax (or > 0.5 for one output) is the label. */
static double accuracy(RtSession *s, const IrProgram *p, size_t model,
                       const IrDataset *ds, Diag *d)
{
    size_t out = p->models[model].out_units, chunk = 256, correct = 0;
    RtPredictor *pr = rt_predictor_new(s, model, chunk, d);
    if (!pr)
        return -1.0;
    for (size_t r0 = 0; r0 < ds->rows; r0 += chunk) {
        size_t n = ds->rows - r0 < chunk ? ds->rows - r0 : chunk;
        const float *y = rt_predictor_run(pr, ds->x + r0 * ds->x_cols, n);
        for (size_t i = 0; i < n; i++) {
            const float *t = ds->y + (r0 + i) * ds->y_cols;
            size_t want = ds->y_cols == 1 ? (size_t)t[0] : argmax(t, ds->y_cols);
            size_t got = out == 1 ? (size_t)(y[i] > 0.5f) : argmax(y + i * out, out);
            correct += got == want;
        }
    }
    rt_predictor_free(pr);
    return (double)correct / (double)ds->rows;
}

static bool dump_dataset(const IrDataset *ds, const char *prefix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%s.f32", prefix, ds->name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    uint64_t head[3] = {ds->rows, ds->x_cols, ds->y_cols};
    bool ok = fwrite(head, sizeof head, 1, f) == 1 &&
              fwrite(ds->x, sizeof(float), ds->rows * ds->x_cols, f) == ds->rows * ds->x_cols &&
              fwrite(ds->y, sizeof(float), ds->rows * ds->y_cols, f) == ds->rows * ds->y_cols;
    return fclose(f) == 0 && ok;
}

/* A synthetic workload: the model's lines, the features per row and the
 * batch; its program's one-row dataset only fixes the shapes and is
 * replaced by synthetic rows before training. */
typedef struct {
    const char *name, *model;
    size_t features, batch;
} Synthetic;

static const Synthetic SYNTHETIC[] = {
    {"wide", "    input 784\n    h1: dense 512, relu\n    h2: dense 512, relu\n"
             "    out: dense 10\n", 784, 128},
    /* PyTorch's MNIST example (examples/mnist/main.py) without its dropout. */
    {"mnist", "    input [1, 28, 28]\n    c1: conv2d(32, kernel = 3), relu\n"
              "    c2: conv2d(64, kernel = 3), relu\n    p: maxpool2d(2)\n    flatten\n"
              "    h: dense 128, relu\n    out: dense 10\n", 784, 64},
};

static const Synthetic *synthetic(const char *name)
{
    for (size_t i = 0; i < sizeof SYNTHETIC / sizeof *SYNTHETIC; i++)
        if (strcmp(SYNTHETIC[i].name, name) == 0)
            return &SYNTHETIC[i];
    return NULL;
}

static char *synthetic_source(const Synthetic *w, long epochs)
{
    size_t cap = w->features * 2 + strlen(w->model) + 1024;
    char *text = malloc(cap), *at = text;
    at += sprintf(at, "dataset synth {\n    x = [[");
    for (size_t i = 0; i < w->features; i++)
        at += sprintf(at, i ? ",0" : "0");
    sprintf(at, "]]\n    y = [0]\n    classes = 10\n}\nmodel net {\n%s}\n"
                "train net on synth {\n    loss = cross_entropy\n"
                "    optimizer = adam(lr = 0.001)\n    epochs = %ld\n"
                "    batch = 1\n    seed = 0\n}\n", w->model, epochs);
    return text;
}

/* Pixels uniform in [0, 1) from a fixed LCG; the label is the brightest of
 * ten pixel blocks, so the task is learnable (not that it matters here). */
static void synthetic_data(size_t rows, size_t features, float *x, float *y)
{
    uint32_t state = 12345u;
    size_t block = features / 10;
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * features;
        for (size_t j = 0; j < features; j++) {
            state = state * 1664525u + 1013904223u;
            xr[j] = (float)(state >> 8) * (1.0f / 16777216.0f);
        }
        size_t best = 0;
        for (size_t c = 1; c < 10; c++)
            if (xr[c * block] > xr[best * block])
                best = c;
        y[r] = (float)best;
    }
}

static int run(const Source *src, const char *eval_name, const char *dump,
               const Synthetic *synth, size_t synth_rows)
{
    Diag d;
    diag_init(&d, stderr);
    Arena a;
    arena_init(&a);
    IrProgram *p = front_compile(&a, &d, src);
    if (!p)
        return 1;
    float *wx = NULL, *wy = NULL;
    if (synth) {
        wx = malloc(synth_rows * synth->features * sizeof *wx);
        wy = malloc(synth_rows * sizeof *wy);
        if (!wx || !wy)
            return 1;
        synthetic_data(synth_rows, synth->features, wx, wy);
        p->datasets[0].rows = synth_rows;
        p->datasets[0].x = wx;
        p->datasets[0].y = wy;
        p->trains[0].batch = synth->batch; /* the checker clamped it to the one row */
    }
    for (size_t i = 0; dump && i < p->n_datasets; i++)
        if (!dump_dataset(&p->datasets[i], dump))
            return 1;
    FILE *devnull = fopen("/dev/null", "w");
    RtOptions opt = {.out = devnull, .quiet = true};
    RtSession *s = rt_session_new(p, &opt, &d);
    if (!s)
        return 1;
    rt_blas_load();
    double t0 = now_s();
    if (!rt_session_train(s, &d))
        return 1;
    printf("train_s %.9f\nblas %s\n", now_s() - t0, rt_blas_describe());
    for (size_t i = 0; eval_name && i < p->n_datasets; i++)
        if (strcmp(p->datasets[i].name, eval_name) == 0)
            printf("accuracy %.6f\n", accuracy(s, p, p->n_models - 1, &p->datasets[i], &d));
    rt_session_free(s);
    fclose(devnull);
    arena_free(&a);
    free(wx);
    free(wy);
    return 0;
}

/* GFLOP/s of reps n x n x n products (2 n^3 FLOP each), after one unclocked. */
static int sgemm_limit(size_t n, long reps)
{
    float *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b), *c = malloc(n * n * sizeof *c);
    if (!a || !b || !c)
        return 1;
    for (size_t i = 0; i < n * n; i++) {
        a[i] = (float)(i % 7) * 0.25f;
        b[i] = (float)(i % 5) * 0.5f;
    }
    rt_blas_load();
    rt_gemm(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t0 = now_s();
    for (long r = 0; r < reps; r++)
        rt_gemm(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = now_s() - t0;
    printf("gflops %.3f\nblas %s\n", 2.0 * (double)n * (double)n * (double)n * (double)reps / t / 1e9,
           rt_blas_describe());
    free(a), free(b), free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "sgemm") == 0)
        return sgemm_limit((size_t)atol(argv[2]), atol(argv[3]));
    const Synthetic *synth = argc == 4 ? synthetic(argv[1]) : NULL;
    if (synth) {
        char *text = synthetic_source(synth, atol(argv[3]));
        Source src = {synth->name, text, strlen(text)};
        int rc = run(&src, NULL, NULL, synth, (size_t)atol(argv[2]));
        free(text);
        return rc;
    }
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s FILE.nn [EVAL_DATASET [DUMP_PREFIX]] | wide|mnist ROWS EPOCHS | sgemm N REPS\n", argv[0]);
        return 2;
    }
    Diag d;
    diag_init(&d, stderr);
    Source src;
    if (!source_read(&d, argv[1], &src))
        return 1;
    int rc = run(&src, argc > 2 ? argv[2] : NULL, argc > 3 ? argv[3] : NULL, NULL, 0);
    source_free(&src);
    return rc;
}
