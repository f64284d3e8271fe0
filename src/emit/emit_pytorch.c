/* PLACEHOLDER: replaced by the PyTorch package writer (issue 7). */
#include "nnc/emit.h"

bool emit_pytorch(const IrProgram *p, size_t model, const EmitPytorchOptions *o, Diag *d)
{
    (void)p, (void)model, (void)o;
    diag_error(d, loc_none(), "--target pytorch is not built yet");
    return false;
}
