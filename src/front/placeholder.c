/* PLACEHOLDER until the front end lands: every entry point reports that the
 * front end is missing. Delete this file when src/front/ is real. */
#include "nnc/front.h"

AstFile *front_parse(Arena *a, Diag *d, const Source *src)
{
    (void)a;
    diag_error(d, (Loc){src, 0, 0, 0}, "front end not built yet");
    return NULL;
}
IrProgram *front_lower(Arena *a, Diag *d, const AstFile *file)
{
    (void)a, (void)file;
    diag_error(d, loc_none(), "front end not built yet");
    return NULL;
}
IrProgram *front_compile(Arena *a, Diag *d, const Source *src) { return front_parse(a, d, src) ? NULL : NULL; }
void ast_dump(FILE *out, const AstFile *file) { (void)out, (void)file; }
void ir_dump(FILE *out, const IrProgram *p) { (void)out, (void)p; }
const char *ir_loss_name(LossKind k) { (void)k; return "?"; }
const char *ir_optim_name(OptimKind k) { (void)k; return "?"; }
const char *ir_sweep_name(SweepParam s) { (void)s; return "?"; }
