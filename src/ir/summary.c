/* A model as PyTorch's print(model) shows it, with its parameter count:
 * printed by `nnc run` before a model's first step and shown by the
 * language server on hover, so both say the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A window field as torch's repr writes it: 2 or (2, 3) in 2-D ops
 * (tuple when the halves differ, or always, with as_tuple), (2,) in 1-D. */
static void put_window(FILE *out, const char *name, const size_t v[2], bool two_d, bool as_tuple)
{
    if (!two_d)
        fprintf(out, as_tuple ? "%s=(%zu,)" : "%s=%zu", name, v[1]);
    else if (v[0] == v[1] && !as_tuple)
        fprintf(out, "%s=%zu", name, v[0]);
    else
        fprintf(out, "%s=(%zu, %zu)", name, v[0], v[1]);
}

/* nn.Conv1d/2d's repr: padding, dilation, groups and bias only when not
 * their defaults. */
static void summarize_conv(FILE *out, const IrNode *n)
{
    const IrWindow *w = &n->cfg.conv.win;
    bool two_d = n->op == OP_CONV2D;
    fprintf(out, "%zu, %zu, ", n->in_shape.dim[0], n->cfg.conv.channels);
    put_window(out, "kernel_size", w->kernel, two_d, true);
    fputs(", ", out);
    put_window(out, "stride", w->stride, two_d, true);
    if (w->padding[0] || w->padding[1]) {
        fputs(", ", out);
        put_window(out, "padding", w->padding, two_d, true);
    }
    if (w->dilation[0] != 1 || w->dilation[1] != 1) {
        fputs(", ", out);
        put_window(out, "dilation", w->dilation, two_d, true);
    }
    if (n->cfg.conv.groups != 1)
        fprintf(out, ", groups=%zu", n->cfg.conv.groups);
    if (!n->cfg.conv.bias)
        fputs(", bias=False", out);
}

static void summarize_pool(FILE *out, const IrNode *n)
{
    const IrWindow *w = &n->cfg.pool.win;
    bool two_d = n->op == OP_MAXPOOL2D || n->op == OP_AVGPOOL2D;
    bool tuple = n->op == OP_AVGPOOL1D; /* torch's AvgPool1d keeps its tuples */
    put_window(out, "kernel_size", w->kernel, two_d, tuple);
    fputs(", ", out);
    put_window(out, "stride", w->stride, two_d, tuple);
    fputs(", ", out);
    put_window(out, "padding", w->padding, two_d, tuple);
    if (n->op == OP_MAXPOOL1D || n->op == OP_MAXPOOL2D)
        fputs(", dilation=1, ceil_mode=False", out);
}

/* The arguments inside torch's repr of the node's module. */
static void summarize_args(FILE *out, const IrModel *m, const IrNode *n)
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
    case OP_CONV1D:
    case OP_CONV2D: summarize_conv(out, n); break;
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D: summarize_pool(out, n); break;
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL: fputs("output_size=1", out); break;
    case OP_FLATTEN: fputs("start_dim=1, end_dim=-1", out); break;
    case OP_BATCHNORM:
        fprintf(out, "%zu, eps=", n->shape.dim[0]);
        put_py_float(out, n->cfg.batchnorm.eps);
        fputs(", momentum=", out);
        put_py_float(out, n->cfg.batchnorm.momentum);
        fputs(", affine=True, track_running_stats=True", out);
        break;
    case OP_ADD:
    case OP_CONCAT:
        for (size_t k = 0; k < n->n_inputs; k++)
            fprintf(out, "%s%s", k ? ", " : "", m->nodes[n->inputs[k]].layer);
        if (n->op == OP_CONCAT)
            fputs(", dim=1", out);
        break;
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

/* torch's module name: BatchNorm and the adaptive pools by their rank. */
static void summarize_module(FILE *out, const IrNode *n)
{
    const char *name = ir_ops[n->op].torch_name;
    if (n->op == OP_BATCHNORM)
        fprintf(out, "%s%dd", name, n->shape.rank == 3 ? 2 : 1);
    else if (n->op == OP_GLOBAL_AVGPOOL || n->op == OP_GLOBAL_MAXPOOL)
        fprintf(out, "%s%dd", name, n->in_shape.rank == 3 ? 2 : 1);
    else
        fputs(name, out);
}

/* "  (name): Module(args)" of node i, malloc'ed (NULL when out of memory). */
static char *node_repr(const IrModel *m, size_t i)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "  (%s): ", m->nodes[i].name);
    summarize_module(f, &m->nodes[i]);
    fputc('(', f);
    summarize_args(f, m, &m->nodes[i]);
    fputc(')', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* A node read from somewhere other than the node before it says so. */
static bool reads_elsewhere(const IrModel *m, size_t i)
{
    const IrNode *n = &m->nodes[i];
    return !ir_ops[n->op].named_inputs && n->n_inputs == 1 && n->inputs[0] != i - 1 &&
           strcmp(m->nodes[n->inputs[0]].layer, n->layer) != 0;
}

/* The repr, then "# shape, N params" in a column at width. */
static void summarize_node(FILE *out, const IrModel *m, size_t i, int width)
{
    const IrNode *n = &m->nodes[i];
    char *repr = node_repr(m, i);
    fprintf(out, "%-*s  # ", width, repr ? repr : n->name);
    free(repr);
    char shape[96];
    fputs(ir_shape_text(&n->shape, shape, sizeof shape), out);
    size_t count = ir_node_trained_count(n);
    if (count)
        fprintf(out, ", %zu params", count);
    if (ir_ops[n->op].params && n->frozen)
        fputs(", frozen", out);
    if (reads_elsewhere(m, i))
        fprintf(out, ", from %s", m->nodes[n->inputs[0]].layer);
    fputc('\n', out);
}

/* The parameters (not buffers) of every node, and of those not frozen:
 * PyTorch's sum(p.numel() for p in model.parameters()). */
static void count_params(const IrModel *m, size_t *total, size_t *trainable)
{
    *total = *trainable = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        size_t count = ir_node_trained_count(&m->nodes[i]);
        *total += count;
        if (!m->nodes[i].frozen)
            *trainable += count;
    }
}

void ir_model_summary(FILE *out, const IrModel *m)
{
    char shape[96];
    size_t width = 0, total, trainable;
    for (size_t i = 1; i < m->n_nodes; i++) {
        char *repr = node_repr(m, i);
        size_t len = repr ? strlen(repr) : 0;
        width = len > width ? len : width;
        free(repr);
    }
    fprintf(out, "%s(  # input %s\n", m->name, ir_shape_text(&m->nodes[0].shape, shape, sizeof shape));
    for (size_t i = 1; i < m->n_nodes; i++)
        summarize_node(out, m, i, (int)width);
    count_params(m, &total, &trainable);
    fprintf(out, ")\nTotal params: %zu (%zu trainable)\n", total, trainable);
}
