#define _POSIX_C_SOURCE 200809L
/* Per-sample latency of an emitted network: compiled together with the file
 * `nnc emit NET.nn --prefix net` wrote.  usage: latency-emit ITERATIONS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NET_IN_MAX 4096
void net_forward(const float *in, float *out);

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 1000000;
    static float x[NET_IN_MAX], y[NET_IN_MAX];
    for (int i = 0; i < NET_IN_MAX; i++)
        x[i] = (float)(i % 7) * 0.25f;
    volatile float sink = 0;
    for (long i = 0; i < iters / 10 + 1; i++)
        net_forward(x, y), sink += y[0];
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        x[0] = (float)(i & 1);
        net_forward(x, y);
        sink += y[0];
    }
    printf("%.1f\n", (now_ns() - t0) / (double)iters);
    return 0;
}
