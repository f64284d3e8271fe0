/* Per-sample inference latency of the nnc interpreter: loads a .nn file,
 * initialises (or trains, when the file says so) its model, and times
 * single-row forward passes.  usage: latency-interp FILE.nn ITERATIONS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nnc/front.h"
#include "nnc/runtime.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE.nn ITERATIONS\n", argv[0]);
        return 2;
    }
    long iters = atol(argv[2]);
    Diag d;
    diag_init(&d, stderr);
    Source src;
    if (!source_read(&d, argv[1], &src))
        return 1;
    Arena a;
    arena_init(&a);
    IrProgram *p = front_compile(&a, &d, &src);
    FILE *devnull = fopen("/dev/null", "w");
    RtOptions opt = {.out = devnull, .quiet = true};
    RtSession *s = p ? rt_session_new(p, &opt, &d) : NULL;
    if (!s || !rt_session_train(s, &d))
        return 1;
    size_t model = p->n_models - 1;
    RtPredictor *pr = rt_predictor_new(s, model, 1, &d);
    float *x = calloc(p->models[model].in_units, sizeof *x);
    for (size_t i = 0; i < p->models[model].in_units; i++)
        x[i] = (float)(i % 7) * 0.25f;
    volatile float sink = 0;
    for (long i = 0; i < iters / 10 + 1; i++) /* warm up */
        sink += rt_predictor_run(pr, x, 1)[0];
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        x[0] = (float)(i & 1);
        sink += rt_predictor_run(pr, x, 1)[0];
    }
    double ns = (now_ns() - t0) / (double)iters;
    printf("%.1f\n", ns);
    free(x);
    rt_predictor_free(pr);
    rt_session_free(s);
    fclose(devnull);
    arena_free(&a);
    source_free(&src);
    return 0;
}
