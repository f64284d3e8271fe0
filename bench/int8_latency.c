#define _POSIX_C_SOURCE 200809L
/* Per-inference CPU time of an emitted network, float or int8 (-DINT8),
 * compiled together with the file `nnc emit NET.nn [--quantize int8]
 * --prefix net` wrote.  usage: int8-latency ITERATIONS  (bench/int8.sh) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef INT8
typedef int8_t value;
#else
typedef float value;
#endif
enum { IN_MAX = 4096 };
void net_forward(const value *in, value *out);

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 100000;
    static value x[IN_MAX], y[IN_MAX];
    for (int i = 0; i < IN_MAX; i++)
#ifdef INT8
        x[i] = (value)((i % 17) * 15 - 128);
#else
        x[i] = (value)(i % 17) / 16.0f;
#endif
    volatile double sink = 0;
    for (long i = 0; i < iters / 10 + 1; i++)
        net_forward(x, y), sink += (double)y[0];
    double t0 = cpu_ns();
    for (long i = 0; i < iters; i++) {
        x[0] = (value)(i & 7);
        net_forward(x, y);
        sink += (double)y[0];
    }
    printf("%.1f\n", (cpu_ns() - t0) / (double)iters);
    return 0;
}
