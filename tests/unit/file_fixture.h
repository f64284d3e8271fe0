/* Shared by the file-reader unit tests (CSV, safetensors): each test gets a
 * fresh temporary file and a Diag whose output is captured in memory, so it
 * can assert on exact messages. */
#ifndef NNC_TEST_FILE_FIXTURE_H
#define NNC_TEST_FILE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnc/diag.h"

static char tmp_path[64];
static char *diag_text;
static size_t diag_len;
static FILE *diag_out;
static Diag diag;

/* pattern: a mkstemp template such as "/tmp/nnc-csv-XXXXXX". */
static inline void file_fixture_setup(const char *pattern)
{
    snprintf(tmp_path, sizeof tmp_path, "%s", pattern);
    int fd = mkstemp(tmp_path);
    cr_assert(fd >= 0);
    close(fd);
    diag_out = open_memstream(&diag_text, &diag_len);
    diag_init(&diag, diag_out);
}

static inline void file_fixture_teardown(void)
{
    fclose(diag_out);
    free(diag_text);
    unlink(tmp_path);
}

#endif
