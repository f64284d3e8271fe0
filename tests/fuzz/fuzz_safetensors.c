/* libFuzzer harness for the safetensors reader, through st_read_buffer (the
 * in-memory half of st_read). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nnc/diag.h"
#include "nnc/safetensors.h"

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sink = fopen("/dev/null", "w");
    if (!sink)
        exit(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    diag_init(&d, sink);
    StFile f;
    if (st_read_buffer(&d, "fuzz.safetensors", data, size, &f)) {
        for (size_t i = 0; i < f.n; i++)
            if (st_find(&f, f.tensors[i].name) == NULL)
                abort();
        st_free(&f);
    }
    return 0;
}
