/* TEMPORARY: lowering lands in the next commit. */
#include "nnc/front.h"
IrProgram *front_lower(Arena *a, Diag *d, const AstFile *file)
{
    (void)a, (void)file;
    diag_error(d, loc_none(), "lowering not built yet");
    return NULL;
}
