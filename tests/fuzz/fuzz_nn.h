/* What the .nn harnesses (fuzz_front.c, fuzz_run.c) share: the source is
 * named as a file in an empty temporary folder (relative csv paths resolve
 * there), inputs with a '/' are skipped, so a `csv = "..."` path can only
 * name a file that does not exist and the fuzzer never reads (or hangs on)
 * the machine's files; all output goes to /dev/null. Comments are '#', so
 * '/' only matters inside strings. No chdir: libFuzzer's -jobs mode starts
 * its workers by a relative path. */
#ifndef NNC_FUZZ_NN_H
#define NNC_FUZZ_NN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/diag.h"

static FILE *sink;
static char nn_path[64];

/* Makes the folder from template ("/tmp/nnc-fuzz-NAME-XXXXXX") and opens
 * the sink; exits when it cannot (the harness cannot run at all then). */
static void fuzz_nn_init(char *template)
{
    if (!mkdtemp(template)) {
        perror("nnc fuzz: temporary folder");
        exit(1);
    }
    snprintf(nn_path, sizeof nn_path, "%s/fuzz.nn", template);
    sink = fopen("/dev/null", "w");
    if (!sink)
        exit(1);
}

/* The input as a Source named nn_path; returns its text for the caller to
 * free, or NULL for an input with a '/' (the harness returns -1 to keep it
 * out of the corpus) or when out of memory. */
static char *fuzz_nn_source(const uint8_t *data, size_t size, Source *src)
{
    char *text = memchr(data, '/', size) ? NULL : malloc(size + 1);
    if (!text)
        return NULL;
    memcpy(text, data, size);
    text[size] = '\0';
    *src = (Source){nn_path, text, size};
    return text;
}

#endif
