#define _POSIX_C_SOURCE 200809L
/* The emitted C side of bench/peers.sh, linked with the file `nnc emit
 * --prefix net` wrote. Reads comma-separated preprocessed rows on stdin;
 * writes every row's outputs to OUT (for the agreement check), then prints
 *   latency_ns  per call, one sample after another (each a new row)
 *   batch_ns    per sample over the whole set of rows, once through
 * as the minimum over REPS repetitions of this thread's CPU time, so other
 * processes on a shared machine cost as little as they can.
 * usage: peer-c OUT UNITS ITERATIONS REPS < rows.csv   (UNITS: outputs per row) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_IN 4096
#define MAX_OUT 256
#define MAX_ROWS 4096

void net_forward(const float *in, float *out);

static float rows[MAX_ROWS][MAX_IN], outs[MAX_ROWS][MAX_OUT];

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int read_rows(int *cols)
{
    static char line[1 << 16];
    int n = 0;
    while (n < MAX_ROWS && fgets(line, sizeof line, stdin)) {
        char *p = line, *end;
        int c = 0;
        for (; c < MAX_IN; c++) {
            rows[n][c] = strtof(p, &end);
            if (end == p)
                break;
            p = end + (*end == ',');
        }
        if (c) {
            *cols = c;
            n++;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return fprintf(stderr, "usage: peer-c OUT UNITS ITERATIONS REPS < rows.csv\n"), 2;
    int units = atoi(argv[2]), cols = 0, n = read_rows(&cols);
    long iters = atol(argv[3]), reps = atol(argv[4]);
    if (n == 0 || units < 1 || units > MAX_OUT)
        return fprintf(stderr, "peer-c: no rows, or UNITS not in 1..%d\n", MAX_OUT), 1;
    for (int r = 0; r < n; r++)
        net_forward(rows[r], outs[r]);
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return perror(argv[1]), 1;
    volatile float sink = 0;
    double best = 1e30, best_batch = 1e30;
    for (long rep = 0; rep < reps; rep++) {
        double t0 = cpu_ns();
        for (long i = 0; i < iters; i++) {
            net_forward(rows[i % n], outs[i % n]);
            sink += outs[i % n][0];
        }
        double t = (cpu_ns() - t0) / (double)iters;
        best = t < best ? t : best;
        t0 = cpu_ns();
        for (int r = 0; r < n; r++)
            net_forward(rows[r], outs[r]);
        t = (cpu_ns() - t0) / n;
        best_batch = t < best_batch ? t : best_batch;
    }
    for (int r = 0; r < n; r++) {
        for (int j = 0; j < units; j++)
            fprintf(f, j ? ",%.9g" : "%.9g", (double)outs[r][j]);
        fputc('\n', f);
    }
    fclose(f);
    printf("latency_ns %.1f\nbatch_ns %.1f\n", best, best_batch);
    return 0;
}
