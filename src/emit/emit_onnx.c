/* PLACEHOLDER: replaced by the ONNX writer (issue 7). */
#include "nnc/emit.h"

bool emit_onnx(FILE *out, const IrModel *m, const EmitWeights *w, const EmitOptions *o)
{
    (void)out, (void)m, (void)w, (void)o;
    fprintf(stderr, "nnc: --target onnx is not built yet\n");
    return false;
}
