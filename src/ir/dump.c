/* TEMPORARY: the IR dump lands with lowering. */
#include "nnc/ir.h"
void ir_dump(FILE *out, const IrProgram *p) { (void)out, (void)p; }
const char *ir_loss_name(LossKind k) { (void)k; return "?"; }
const char *ir_optim_name(OptimKind k) { (void)k; return "?"; }
const char *ir_sweep_name(SweepParam s) { (void)s; return "?"; }
