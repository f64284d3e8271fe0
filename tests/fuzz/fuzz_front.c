/* libFuzzer harness for the whole front end: lex, parse, check, lower to IR,
 * then both dumps to /dev/null. The source is named as a file in an empty
 * temporary folder (relative csv paths resolve there), and inputs with a '/'
 * are skipped, so a `csv = "..."` path can only name a file that does not
 * exist: the fuzzer never reads (or hangs on) the machine's files. Comments
 * are '#', so '/' only matters inside strings. No chdir: libFuzzer's -jobs
 * mode starts its workers by a relative path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/front.h"
#include "nnc/ir.h"

static FILE *sink;
static char dir[] = "/tmp/nnc-fuzz-front-XXXXXX";
static char nn_path[sizeof dir + 16];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (!mkdtemp(dir)) {
        perror("nnc fuzz: temporary folder");
        exit(1);
    }
    snprintf(nn_path, sizeof nn_path, "%s/fuzz.nn", dir);
    sink = fopen("/dev/null", "w");
    if (!sink)
        exit(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '/', size))
        return -1; /* keep out of the corpus: it could name a real file */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    Source src = {nn_path, text, size};
    Diag d;
    diag_init(&d, sink);
    Arena a;
    arena_init(&a);
    AstFile *ast = front_parse(&a, &d, &src);
    if (ast) {
        ast_dump(sink, ast);
        IrProgram *p = front_lower(&a, &d, ast);
        if (p)
            ir_dump(sink, p);
    }
    arena_free(&a);
    free(text);
    return 0;
}
