/* Times csv_read on one file: bench/gen_csv.py makes a big one.
 *   make build/unit-tests   # builds build/obj/support/{csv,diag}.o
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/csv_load.c \
 *      build/obj/support/csv.o build/obj/support/diag.o -lm -o build/csv-load
 *   /usr/bin/time -v build/csv-load /tmp/big.csv */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nnc/csv.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: csv-load FILE.csv\n");
        return 2;
    }
    Diag d;
    diag_init(&d, stderr);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CsvTable t;
    if (!csv_read(&d, argv[1], CSV_HEADER_AUTO, &t))
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    double sum = 0;
    for (size_t i = 0; i < t.rows * t.cols; i++)
        sum += t.data[i];
    printf("%zu rows x %zu cols in %.3f s (%.1f MB of floats, checksum %.6g)\n", t.rows, t.cols,
           s, (double)(t.rows * t.cols * sizeof(float)) / 1e6, sum);
    csv_free(&t);
    return 0;
}
