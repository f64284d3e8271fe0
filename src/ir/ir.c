/* Facts derived from the IR that more than one later stage needs: sizes of
 * shapes and parameter tensors, and how a dataset's targets are read. Each
 * is computed here once, so the runtime and the emitters cannot disagree. */
#include "nnc/ir.h"

size_t ir_shape_size(const IrShape *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->rank; i++)
        n *= s->dim[i];
    return n;
}

IrShape ir_shape_1d(size_t n)
{
    return (IrShape){1, {n}};
}

size_t ir_node_params(const IrNode *n, IrParam out[IR_MAX_PARAMS])
{
    const OpInfo *op = &ir_ops[n->op];
    return op->params ? op->params(n, out) : 0;
}

bool ir_node_param_count(const IrNode *n, size_t *count)
{
    IrParam ps[IR_MAX_PARAMS];
    size_t np = ir_node_params(n, ps);
    *count = 0;
    for (size_t k = 0; k < np; k++) {
        size_t size = 1;
        for (size_t d = 0; d < ps[k].shape.rank; d++)
            if (__builtin_mul_overflow(size, ps[k].shape.dim[d], &size))
                return false;
        if (__builtin_add_overflow(*count, size, count))
            return false;
    }
    return true;
}

bool ir_targets_are_labels(const IrDataset *ds, const IrModel *m)
{
    /* classes on a one-output model means 0/1 targets, not labels to argmax. */
    return ds->y_cols == 1 && m->out_units > 1;
}

float ir_binary_threshold(const IrModel *m)
{
    return m->logit_output ? 0.0f : 0.5f;
}

size_t ir_node_role_count(const IrNode *n, IrParamRole role)
{
    IrParam ps[IR_MAX_PARAMS];
    size_t np = ir_node_params(n, ps), count = 0;
    for (size_t k = 0; k < np; k++)
        count += ps[k].role == role;
    return count;
}

size_t ir_node_trained_count(const IrNode *n)
{
    IrParam ps[IR_MAX_PARAMS];
    size_t np = ir_node_params(n, ps), count = 0;
    for (size_t k = 0; k < np && ps[k].role == PARAM_TRAINED; k++)
        count += ir_shape_size(&ps[k].shape);
    return count;
}
