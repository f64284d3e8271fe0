/* A model as PyTorch's print(model) shows it, with its parameter count:
 * printed by `nnc run` before a model's first step and shown by the
 * language server on hover, so both say the same. */
#include <math.h>
#include <stdlib.h>

#include "nnc/ir.h"

/* A double as Python's repr writes a float: the shortest digits that read
 * back the same, with ".0" on integers (1.0, 0.5, 0.001). */
static void put_py_float(FILE *out, double v)
{
    if (v == floor(v) && fabs(v) < 1e16) {
        fprintf(out, "%.1f", v);
        return;
    }
    char buf[32];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

/* The arguments inside torch's repr of the node's module. */
static void summarize_args(FILE *out, const IrNode *n)
{
    switch (n->op) {
    case OP_DENSE:
        fprintf(out, "in_features=%zu, out_features=%zu, bias=True", n->in_units, n->units);
        break;
    case OP_DROPOUT: fprintf(out, "p=%g, inplace=False", n->cfg.dropout.p); break;
    case OP_LEAKY_RELU: fprintf(out, "negative_slope=%g", n->cfg.leaky_relu.slope); break;
    case OP_SOFTMAX: fputs("dim=1", out); break;
    case OP_GELU: fputs("approximate='none'", out); break;
    case OP_ELU:
        fputs("alpha=", out);
        put_py_float(out, n->cfg.elu.alpha);
        break;
    case OP_SOFTPLUS: fputs("beta=1, threshold=20", out); break;
    case OP_SILU:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_INPUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_IDENTITY: break;
    }
}

static void summarize_node(FILE *out, const IrNode *n)
{
    fprintf(out, "  (%s): %s(", n->name, ir_ops[n->op].torch_name);
    summarize_args(out, n);
    fputs(ir_ops[n->op].params && n->frozen ? ")  # frozen\n" : ")\n", out);
}

/* The parameters that train: those of every node not frozen. */
static size_t trainable_params(const IrModel *m)
{
    size_t total = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        size_t count;
        if (!m->nodes[i].frozen && ir_node_param_count(&m->nodes[i], &count))
            total += count;
    }
    return total;
}

void ir_model_summary(FILE *out, const IrModel *m)
{
    fprintf(out, "%s(\n", m->name);
    for (size_t i = 1; i < m->n_nodes; i++)
        summarize_node(out, &m->nodes[i]);
    fprintf(out, ")\nTotal params: %zu (%zu trainable)\n", m->n_params, trainable_params(m));
}
