/* libFuzzer harness for the CSV reader. csv_read streams from a path and
 * reads the file again when a diagnostic quotes it, so each input is written
 * to one temporary file. Every header mode, then target, labels and the
 * split run on what was read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nnc/csv.h"
#include "nnc/diag.h"

static FILE *sink;
static char path[] = "/tmp/nnc-fuzz-csv-XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    int fd = mkstemp(path);
    sink = fopen("/dev/null", "w");
    if (fd < 0 || !sink)
        exit(1);
    close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Diag d;
    diag_init(&d, sink);
    static const CsvHeader modes[] = {CSV_HEADER_AUTO, CSV_HEADER_YES, CSV_HEADER_NO};
    for (size_t m = 0; m < 3; m++) {
        CsvTable t;
        if (!csv_read(&d, path, modes[m], &t))
            continue;
        size_t col;
        long target = size ? (long)(data[0] % 4) - 1 : -1;
        if (t.cols >= 2 && csv_target_col(&d, &t, target, &col) &&
            csv_check_labels(&d, &t, col, 1 + (long)(size % 7))) {
            float *x = NULL, *y = NULL;
            size_t x_cols;
            if (csv_split_target(&d, &t, col, &x, &y, &x_cols)) {
                free(x);
                free(y);
            }
        }
        if (t.rows > 0)
            diag_error(&d, csv_loc(&t, t.rows - 1, t.cols - 1), "fuzz");
        csv_free(&t);
    }
    return 0;
}
