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
 *   train-bench wide ROWS EPOCHS
 *       784-512-512-10 ReLU, cross_entropy, Adam lr 1e-3, batch 128, on
 *       ROWS synthetic rows (uniform pixels, labels from a fixed rule);
 *       prints `train_s S` and `blas PATH`.
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

/* The wide network's program; its one-row dataset only fixes the shapes
 * and is replaced by the synthetic rows before training. */
static char *wide_source(long epochs)
{
    size_t cap = 784 * 3 + 1024;
    char *text = malloc(cap), *w = text;
    w += sprintf(w, "dataset synth {\n    x = [[");
    for (int i = 0; i < 784; i++)
        w += sprintf(w, i ? ",0" : "0");
    w += sprintf(w, "]]\n    y = [0]\n    classes = 10\n}\n"
                    "model wide {\n    input 784\n    h1: dense 512, relu\n"
                    "    h2: dense 512, relu\n    out: dense 10\n}\n"
                    "train wide on synth {\n    loss = cross_entropy\n"
                    "    optimizer = adam(lr = 0.001)\n    epochs = %ld\n"
                    "    batch = 1\n    seed = 0\n}\n", epochs);
    return text;
}

/* Pixels uniform in [0, 1) from a fixed LCG; the label is the brightest of
 * ten pixel blocks, so the task is learnable (not that it matters here). */
static void wide_data(size_t rows, float *x, float *y)
{
    uint32_t state = 12345u;
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * 784;
        for (size_t j = 0; j < 784; j++) {
            state = state * 1664525u + 1013904223u;
            xr[j] = (float)(state >> 8) * (1.0f / 16777216.0f);
        }
        size_t best = 0;
        for (size_t c = 1; c < 10; c++)
            if (xr[c * 78] > xr[best * 78])
                best = c;
        y[r] = (float)best;
    }
}

static int run(const Source *src, const char *eval_name, const char *dump,
               size_t wide_rows)
{
    Diag d;
    diag_init(&d, stderr);
    Arena a;
    arena_init(&a);
    IrProgram *p = front_compile(&a, &d, src);
    if (!p)
        return 1;
    float *wx = NULL, *wy = NULL;
    if (wide_rows) {
        wx = malloc(wide_rows * 784 * sizeof *wx);
        wy = malloc(wide_rows * sizeof *wy);
        if (!wx || !wy)
            return 1;
        wide_data(wide_rows, wx, wy);
        p->datasets[0].rows = wide_rows;
        p->datasets[0].x = wx;
        p->datasets[0].y = wy;
        p->trains[0].batch = 128; /* the checker clamped it to the one row */
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

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "wide") == 0) {
        char *text = wide_source(atol(argv[3]));
        Source src = {"wide.nn", text, strlen(text)};
        int rc = run(&src, NULL, NULL, (size_t)atol(argv[2]));
        free(text);
        return rc;
    }
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s FILE.nn [EVAL_DATASET [DUMP_PREFIX]] | wide ROWS EPOCHS\n", argv[0]);
        return 2;
    }
    Diag d;
    diag_init(&d, stderr);
    Source src;
    if (!source_read(&d, argv[1], &src))
        return 1;
    int rc = run(&src, argc > 2 ? argv[2] : NULL, argc > 3 ? argv[3] : NULL, 0);
    source_free(&src);
    return rc;
}
