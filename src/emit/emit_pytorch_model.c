/* model.py of the PyTorch package: the model as an nn.Module whose layer
 * attributes carry the .nn layer names, so that state_dict() keys are the
 * keys of nnc's weights files (layer1.weight, layer1.bias). */
#include <string.h>

#include "pytorch.h"

static bool model_uses(const IrModel *m, OpKind op)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].op == op)
            return true;
    return false;
}

/* The step's derivative is 0 (nnc's op_step_backward passes 0 back), where
 * (z > 0).float() would have no gradient at all and backward() would fail
 * on a model whose only path runs through a step. */
static const char step_function[] =
    "class StepFunction(torch.autograd.Function):\n"
    "    \"\"\"The perceptron's step: 1 if z > 0 else 0. Its gradient is 0, as in nnc,\n"
    "    so the layers below a step do not learn by gradient descent.\"\"\"\n"
    "\n"
    "    @staticmethod\n"
    "    def forward(ctx, z):\n"
    "        return (z > 0).to(z.dtype)\n"
    "\n"
    "    @staticmethod\n"
    "    def backward(ctx, grad):\n"
    "        return torch.zeros_like(grad)\n"
    "\n"
    "\n";

static void model_header(FILE *f, const PyPackage *k)
{
    const IrModel *m = k->m;
    fprintf(f, "\"\"\"%s from %s as a PyTorch module, written by nnc (--target pytorch).\n\n",
            m->name, k->source_base);
    fprintf(f, "The layers are attributes named like the .nn layers, so state_dict() keys\n"
               "are those of nnc's weights files (%zu parameters in all):\n", m->n_params);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        if (n->op == OP_DENSE)
            fprintf(f, "    %s.weight [%zu, %zu], %s.bias [%zu]\n", n->name, n->units,
                    n->in_units, n->name, n->units);
    }
    fputs("\"\"\"\n", f);
    fputs("import torch\nfrom torch import nn\n\n\n", f);
    if (model_uses(m, OP_STEP))
        fputs(step_function, f);
}

static void model_layers(FILE *f, const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        if (n->op == OP_DENSE)
            fprintf(f, "        self.%s = nn.Linear(%zu, %zu)\n", n->name, n->in_units, n->units);
        else if (n->op == OP_DROPOUT) {
            fprintf(f, "        self.%s = nn.Dropout(", n->name);
            py_put_double(f, n->arg);
            fputs(")\n", f);
        }
    }
}

static bool has_blocks(const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].weight_init || m->nodes[i].bias_init)
            return true;
    return false;
}

static void put_param(FILE *f, const IrNode *n, const char *what, const float *v, bool matrix)
{
    fprintf(f, "            self.%s.%s.copy_(torch.tensor(", n->name, what);
    py_put_matrix(f, v, matrix ? n->units : 1, matrix ? n->in_units : n->units, !matrix,
                  "                                                  ");
    fputs("))\n", f);
}

/* Parameter blocks: starting values, and frozen layers that never train. */
static void model_blocks(FILE *f, const IrModel *m)
{
    if (has_blocks(m)) {
        fputs("        # The parameter blocks of the .nn file: starting values.\n", f);
        fputs("        with torch.no_grad():\n", f);
        for (size_t i = 1; i < m->n_nodes; i++) {
            const IrNode *n = &m->nodes[i];
            if (n->weight_init)
                put_param(f, n, "weight", n->weight_init, true);
            if (n->bias_init)
                put_param(f, n, "bias", n->bias_init, false);
        }
    }
    for (size_t i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].op == OP_DENSE && m->nodes[i].frozen)
            fprintf(f, "        self.%s.requires_grad_(False)  # frozen = true\n",
                    m->nodes[i].name);
}

/* The argument of an activation: x, or the dense layer it follows. */
static void put_arg(FILE *f, const IrNode *inner)
{
    if (inner)
        fprintf(f, "self.%s(x)", inner->name);
    else
        fputc('x', f);
}

/* The Python expression applying node n to x, or to inner(x). */
static void put_apply(FILE *f, const IrNode *n, const IrNode *inner)
{
    static const char *const calls[OP_COUNT] = {
        [OP_STEP] = "StepFunction.apply(", [OP_SIGMOID] = "torch.sigmoid(",
        [OP_TANH] = "torch.tanh(", [OP_RELU] = "torch.relu(",
        [OP_LEAKY_RELU] = "nn.functional.leaky_relu(", [OP_SOFTMAX] = "torch.softmax(",
    };
    if (n->op == OP_DENSE || n->op == OP_DROPOUT) {
        fprintf(f, "self.%s(", n->name);
        put_arg(f, inner);
        fputc(')', f);
        return;
    }
    if (!calls[n->op]) { /* identity */
        put_arg(f, inner);
        return;
    }
    fputs(calls[n->op], f);
    put_arg(f, inner);
    if (n->op == OP_LEAKY_RELU) {
        fputs(", ", f);
        py_put_double(f, n->arg);
    }
    fputs(n->op == OP_SOFTMAX ? ", dim=1)" : ")", f);
}

/* One line per .nn line: `x = torch.relu(self.layer1(x))` for a dense
 * layer with its activation; identity lines write nothing. */
static void model_forward(FILE *f, const IrModel *m)
{
    fputs("\n    def forward(self, x):\n", f);
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        const IrNode *next = i + 1 < m->n_nodes ? &m->nodes[i + 1] : NULL;
        bool fused = n->op == OP_DENSE && next && next->op != OP_DENSE &&
                     next->op != OP_DROPOUT && strcmp(next->layer, n->layer) == 0;
        if (n->op == OP_IDENTITY)
            continue;
        fputs("        x = ", f);
        if (fused)
            put_apply(f, next, n), i++;
        else
            put_apply(f, n, NULL);
        fputc('\n', f);
    }
    fputs("        return x\n", f);
}

void py_write_model(FILE *f, const PyPackage *k)
{
    model_header(f, k);
    fprintf(f, "class %s(nn.Module):\n", k->class_name);
    fputs("    def __init__(self):\n        super().__init__()\n", f);
    model_layers(f, k->m);
    model_blocks(f, k->m);
    model_forward(f, k->m);
}
