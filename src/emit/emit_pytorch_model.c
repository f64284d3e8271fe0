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

/* The step's derivative is 0 (nnc's step passes nothing back), where
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

bool py_op_is_module(OpKind k)
{
    switch (k) {
    case OP_DENSE:
    case OP_DROPOUT: return true;
    case OP_INPUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_SOFTMAX:
    case OP_IDENTITY:
    EMIT_NOT_YET_CASES: return false;
    }
    return false;
}

static void put_shape(FILE *f, const IrShape *sh)
{
    fputc('[', f);
    for (size_t d = 0; d < sh->rank; d++)
        fprintf(f, "%s%zu", d ? ", " : "", sh->dim[d]);
    fputc(']', f);
}

/* "    layer1.weight [4, 2], layer1.bias [4]": the node's state_dict keys. */
static void put_param_keys(FILE *f, const IrNode *n)
{
    IrParam ps[IR_MAX_PARAMS];
    size_t np = ir_node_params(n, ps);
    for (size_t k = 0; k < np; k++) {
        fprintf(f, "%s%s.%s ", k ? ", " : "    ", n->name, ps[k].suffix);
        put_shape(f, &ps[k].shape);
    }
    if (np)
        fputc('\n', f);
}

static void model_header(FILE *f, const PyPackage *k)
{
    const IrModel *m = k->m;
    fprintf(f, "\"\"\"%s from %s as a PyTorch module, written by nnc (--target pytorch).\n\n",
            m->name, k->source_base);
    fprintf(f, "The layers are attributes named like the .nn layers, so state_dict() keys\n"
               "are those of nnc's weights files (%zu parameters in all):\n", m->n_params);
    for (size_t i = 0; i < m->n_nodes; i++)
        put_param_keys(f, &m->nodes[i]);
    fputs("\"\"\"\n", f);
    fputs("import torch\nfrom torch import nn\n\n\n", f);
    if (model_uses(m, OP_STEP))
        fputs(step_function, f);
}

/* `self.NAME = nn.Module(...)` for a node that is a module. */
static void put_module(FILE *f, const IrNode *n)
{
    switch (n->op) {
    case OP_DENSE:
        fprintf(f, "        self.%s = nn.Linear(%zu, %zu)\n", n->name, n->in_units, n->units);
        break;
    case OP_DROPOUT:
        fprintf(f, "        self.%s = nn.Dropout(", n->name);
        py_put_double(f, n->cfg.dropout.p);
        fputs(")\n", f);
        break;
    case OP_INPUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_SOFTMAX:
    case OP_IDENTITY: break; /* functions in forward, not modules */
    EMIT_NOT_YET_CASES: break; /* refused before (emit_first_unsupported) */
    }
}

static void model_layers(FILE *f, const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++)
        put_module(f, &m->nodes[i]);
}

static bool has_blocks(const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++)
        for (size_t k = 0; k < IR_MAX_PARAMS; k++)
            if (m->nodes[i].param_init[k])
                return true;
    return false;
}

static void put_param(FILE *f, const IrNode *n, const IrParam *p, const float *v)
{
    bool matrix = p->shape.rank == 2;
    fprintf(f, "            self.%s.%s.copy_(torch.tensor(", n->name, p->suffix);
    py_put_matrix(f, v, matrix ? p->shape.dim[0] : 1,
                  matrix ? p->shape.dim[1] : ir_shape_size(&p->shape), !matrix,
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
            IrParam ps[IR_MAX_PARAMS];
            size_t np = ir_node_params(n, ps);
            for (size_t k = 0; k < np; k++)
                if (n->param_init[k])
                    put_param(f, n, &ps[k], n->param_init[k]);
        }
    }
    for (size_t i = 1; i < m->n_nodes; i++)
        if (ir_ops[m->nodes[i].op].params && m->nodes[i].frozen)
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

/* fn(ARG, extra) for a function of torch. */
static void put_call(FILE *f, const char *fn, const IrNode *inner, const char *extra)
{
    fprintf(f, "%s(", fn);
    put_arg(f, inner);
    fprintf(f, "%s)", extra);
}

/* The Python expression applying node n to x, or to inner(x). */
static void put_apply(FILE *f, const IrNode *n, const IrNode *inner)
{
    switch (n->op) {
    case OP_DENSE:
    case OP_DROPOUT:
        fprintf(f, "self.%s(", n->name);
        put_arg(f, inner);
        fputc(')', f);
        break;
    case OP_STEP: put_call(f, "StepFunction.apply", inner, ""); break;
    case OP_SIGMOID: put_call(f, "torch.sigmoid", inner, ""); break;
    case OP_TANH: put_call(f, "torch.tanh", inner, ""); break;
    case OP_GELU: put_call(f, "nn.functional.gelu", inner, ""); break;
    case OP_SILU: put_call(f, "nn.functional.silu", inner, ""); break;
    case OP_SOFTPLUS: put_call(f, "nn.functional.softplus", inner, ""); break;
    case OP_HARDSWISH: put_call(f, "nn.functional.hardswish", inner, ""); break;
    case OP_HARDSIGMOID: put_call(f, "nn.functional.hardsigmoid", inner, ""); break;
    case OP_ELU:
        fputs("nn.functional.elu(", f);
        put_arg(f, inner);
        fputs(", ", f);
        py_put_double(f, n->cfg.elu.alpha);
        fputc(')', f);
        break;
    case OP_RELU: put_call(f, "torch.relu", inner, ""); break;
    case OP_SOFTMAX: put_call(f, "torch.softmax", inner, ", dim=1"); break;
    case OP_LEAKY_RELU:
        fputs("nn.functional.leaky_relu(", f);
        put_arg(f, inner);
        fputs(", ", f);
        py_put_double(f, n->cfg.leaky_relu.slope);
        fputc(')', f);
        break;
    case OP_INPUT:
    case OP_IDENTITY: put_arg(f, inner); break;
    EMIT_NOT_YET_CASES: break; /* refused before (emit_first_unsupported) */
    }
}

/* One line per .nn line: `x = torch.relu(self.layer1(x))` for a dense
 * layer with its activation; identity lines write nothing. */
static void model_forward(FILE *f, const IrModel *m)
{
    fputs("\n    def forward(self, x):\n", f);
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        const IrNode *next = i + 1 < m->n_nodes ? &m->nodes[i + 1] : NULL;
        bool fused = n->op == OP_DENSE && next && !py_op_is_module(next->op) &&
                     strcmp(next->layer, n->layer) == 0;
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
