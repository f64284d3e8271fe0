/* libFuzzer harness for the whole front end: lex, parse, check, lower to IR,
 * then both dumps to /dev/null. Inputs and files as fuzz_nn.h says. */
#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/front.h"
#include "nnc/ir.h"
#include "fuzz_nn.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char dir[] = "/tmp/nnc-fuzz-front-XXXXXX";
    fuzz_nn_init(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Source src;
    char *text = fuzz_nn_source(data, size, &src);
    if (!text)
        return -1; /* keep out of the corpus: it could name a real file */
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
