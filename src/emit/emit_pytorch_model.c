/* model.py of the PyTorch package: the model as an nn.Module whose layer
 * attributes carry the .nn layer names, so that state_dict() keys are the
 * keys of nnc's weights files (c1.weight, bn.running_mean), a forward that
 * follows the graph (a line reads the line above, `from = NAME`, add and
 * concat), and preprocess(): the training data's scale and normalize, so
 * that raw feature rows can be fed to the model. */
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
    case OP_DROPOUT:
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_BATCHNORM: return true;
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
    case OP_ADD:
    case OP_CONCAT: return false;
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

/* "(1, 8, 8)", or "(64,)": a shape as a Python tuple. */
static void put_tuple(FILE *f, const IrShape *sh)
{
    fputc('(', f);
    for (size_t d = 0; d < sh->rank; d++)
        fprintf(f, "%s%zu", d ? ", " : "", sh->dim[d]);
    fputs(sh->rank == 1 ? ",)" : ")", f);
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
               "are those of nnc's weights files (%zu values in all; batchnorm's running\n"
               "statistics and batch count are buffers, as in nnc):\n", m->n_params);
    for (size_t i = 0; i < m->n_nodes; i++)
        put_param_keys(f, &m->nodes[i]);
    fprintf(f, "\nIts input: x of shape [N, %zu", m->nodes[0].shape.dim[0]);
    for (size_t d = 1; d < m->nodes[0].shape.rank; d++)
        fprintf(f, ", %zu", m->nodes[0].shape.dim[d]);
    fputs("], rows after the dataset's preprocessing as\n"
          "data.load returns them; preprocess(raw) makes it from raw feature rows (the\n"
          "dataset's values as written, before scale and normalize).\n\"\"\"\n", f);
    fputs("import torch\nfrom torch import nn\n\n\n", f);
    if (model_uses(m, OP_STEP))
        fputs(step_function, f);
}

/* ---- the modules ---------------------------------------------------------- */

/* ", name=v" for a window argument, h and w as a tuple when they differ;
 * nothing when it is PyTorch's default (def, or the kernel when use_kernel). */
static void put_window_arg(FILE *f, const char *name, const size_t *v, const size_t *kernel,
                           bool two_d, size_t def)
{
    bool is_default = kernel ? v[1] == kernel[1] && (!two_d || v[0] == kernel[0])
                             : v[1] == def && (!two_d || v[0] == def);
    if (is_default)
        return;
    if (name)
        fprintf(f, ", %s=", name);
    if (two_d && v[0] != v[1])
        fprintf(f, "(%zu, %zu)", v[0], v[1]);
    else
        fprintf(f, "%zu", v[1]);
}

static bool op_is_2d(OpKind k)
{
    return k == OP_CONV2D || k == OP_MAXPOOL2D || k == OP_AVGPOOL2D;
}

/* nn.Conv2d(16, 32, kernel_size=3, padding=1): PyTorch's defaults left out. */
static void put_conv(FILE *f, const IrNode *n)
{
    bool two_d = op_is_2d(n->op);
    const IrWindow *w = &n->cfg.conv.win;
    fprintf(f, "nn.Conv%dd(%zu, %zu, kernel_size=", two_d ? 2 : 1, n->in_shape.dim[0],
            n->cfg.conv.channels);
    if (two_d && w->kernel[0] != w->kernel[1])
        fprintf(f, "(%zu, %zu)", w->kernel[0], w->kernel[1]);
    else
        fprintf(f, "%zu", w->kernel[1]);
    put_window_arg(f, "stride", w->stride, NULL, two_d, 1);
    put_window_arg(f, "padding", w->padding, NULL, two_d, 0);
    put_window_arg(f, "dilation", w->dilation, NULL, two_d, 1);
    if (n->cfg.conv.groups != 1)
        fprintf(f, ", groups=%zu", n->cfg.conv.groups);
    if (!n->cfg.conv.bias)
        fputs(", bias=False", f);
    fputc(')', f);
}

/* nn.MaxPool2d(2); average pooling counts the padding in its divisor
 * (count_include_pad=True, PyTorch's default), as nnc's runtime does. */
static void put_pool(FILE *f, const IrNode *n, const char *kind)
{
    bool two_d = op_is_2d(n->op);
    const IrWindow *w = &n->cfg.pool.win;
    fprintf(f, "nn.%s%dd(", kind, two_d ? 2 : 1);
    put_window_arg(f, NULL, w->kernel, NULL, two_d, 0);
    put_window_arg(f, "stride", w->stride, w->kernel, two_d, 0);
    put_window_arg(f, "padding", w->padding, NULL, two_d, 0);
    fputc(')', f);
}

/* Pooling to one value per channel, then [N, C]: nnc's global pools. The
 * adaptive max pool, not amax(), because nnc passes a tie's gradient to
 * one position (the first maximum), as the pool does, where amax splits it. */
static void put_global_pool(FILE *f, const IrNode *n, const char *kind)
{
    fprintf(f, "nn.Sequential(nn.Adaptive%sPool%zud(1), nn.Flatten())", kind,
            n->in_shape.rank - 1);
}

/* nn.BatchNorm1d over features [N, C] or sequences [N, C, L], 2d over
 * images; eps and momentum only when they are not PyTorch's 1e-5 and 0.1. */
static void put_batchnorm(FILE *f, const IrNode *n)
{
    fprintf(f, "nn.BatchNorm%dd(%zu", n->shape.rank == 3 ? 2 : 1, n->shape.dim[0]);
    if (n->cfg.batchnorm.eps != 1e-5) {
        fputs(", eps=", f);
        py_put_double(f, n->cfg.batchnorm.eps);
    }
    if (n->cfg.batchnorm.momentum != 0.1) {
        fputs(", momentum=", f);
        py_put_double(f, n->cfg.batchnorm.momentum);
    }
    fputc(')', f);
}

/* `self.NAME = nn.Module(...)` for a node that is a module. */
static void put_module(FILE *f, const IrNode *n)
{
    if (!py_op_is_module(n->op))
        return; /* functions or operators in forward */
    fprintf(f, "        self.%s = ", n->name);
    switch (n->op) {
    case OP_DENSE: fprintf(f, "nn.Linear(%zu, %zu)", n->in_units, n->units); break;
    case OP_DROPOUT:
        fputs("nn.Dropout(", f);
        py_put_double(f, n->cfg.dropout.p);
        fputc(')', f);
        break;
    case OP_CONV1D:
    case OP_CONV2D: put_conv(f, n); break;
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D: put_pool(f, n, "MaxPool"); break;
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D: put_pool(f, n, "AvgPool"); break;
    case OP_GLOBAL_AVGPOOL: put_global_pool(f, n, "Avg"); break;
    case OP_GLOBAL_MAXPOOL: put_global_pool(f, n, "Max"); break;
    case OP_FLATTEN: fputs("nn.Flatten()", f); break;
    case OP_BATCHNORM: put_batchnorm(f, n); break;
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
    case OP_ADD:
    case OP_CONCAT: break; /* not modules (py_op_is_module) */
    }
    fputc('\n', f);
}

static void model_layers(FILE *f, const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++)
        put_module(f, &m->nodes[i]);
}

/* ---- parameter blocks ----------------------------------------------------- */

static bool has_blocks(const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++)
        for (size_t k = 0; k < IR_MAX_PARAMS; k++)
            if (m->nodes[i].param_init[k])
                return true;
    return false;
}

/* copy_ of the block's values: a scalar, a list, a matrix, or for a conv
 * weight the rows of its first dimension viewed as the tensor's shape. */
static void put_param(FILE *f, const IrNode *n, const IrParam *p, const float *v)
{
    const IrShape *sh = &p->shape;
    size_t size = ir_shape_size(sh);
    fprintf(f, "            self.%s.%s.copy_(torch.tensor(", n->name, p->suffix);
    if (sh->rank == 0) {
        py_put_float32(f, v[0]);
        fputs("))\n", f);
        return;
    }
    size_t rows = sh->rank >= 2 ? sh->dim[0] : 1;
    py_put_matrix(f, v, rows, size / rows, sh->rank == 1,
                  "                                                  ");
    fputc(')', f);
    if (sh->rank > 2) {
        fputs(".view", f);
        put_tuple(f, sh);
    }
    fputs(")\n", f);
}

/* Parameter blocks: starting values, and frozen layers that never train. */
static void model_blocks(FILE *f, const IrModel *m, const bool *live)
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
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        if (!ir_ops[n->op].params || ir_node_role_count(n, PARAM_TRAINED) == 0)
            continue;
        if (n->frozen)
            fprintf(f, "        self.%s.requires_grad_(False)  # frozen = true\n", n->name);
        else if (!live[i])
            fprintf(f, "        # The output does not depend on %s: its gradient is 0 in nnc, and\n"
                       "        # DistributedDataParallel wants every trained parameter used.\n"
                       "        self.%s.requires_grad_(False)\n", n->name, n->name);
    }
}

/* ---- forward: one statement per .nn line ---------------------------------- */

/* How many inputs of later nodes are node j. */
static size_t readers(const IrModel *m, size_t j)
{
    size_t count = 0;
    for (size_t i = j + 1; i < m->n_nodes; i++)
        for (size_t k = 0; k < m->nodes[i].n_inputs; k++)
            count += m->nodes[i].inputs[k] == j;
    return count;
}

/* Node i is part of the statement of node i - 1: the activation of the
 * same line, reading only that node, which nothing else reads. Such a node
 * is written around the expression of the one before. */
static bool continues(const IrModel *m, size_t i)
{
    const IrNode *n = &m->nodes[i];
    return i > 1 && n->n_inputs == 1 && n->inputs[0] == i - 1 &&
           strcmp(n->layer, m->nodes[i - 1].layer) == 0 && readers(m, i - 1) == 1;
}

/* The first node of the statement that ends at node j. */
static size_t statement_start(const IrModel *m, size_t j)
{
    while (continues(m, j))
        j--;
    return j;
}

/* The value of node j (the last of its statement) lives in x when only the
 * next statement reads it, which it does before x changes; otherwise it
 * gets a variable named like its layer (a skip connection, a branch). */
static bool needs_name(const IrModel *m, size_t j)
{
    for (size_t i = j + 1; i < m->n_nodes; i++)
        for (size_t k = 0; k < m->nodes[i].n_inputs; k++)
            if (m->nodes[i].inputs[k] == j && statement_start(m, i) != j + 1)
                return true;
    return false;
}

/* Names forward cannot give a local variable: keywords, and what it uses. */
static bool reserved_local(const char *name)
{
    static const char *const used[] = {"self", "x", "torch", "nn", "StepFunction", "input",
                                       NULL};
    for (const char *const *u = used; *u; u++)
        if (strcmp(name, *u) == 0)
            return true;
    return py_is_keyword(name);
}

/* s is layer followed by exactly n underscores. */
static bool is_with_underscores(const char *s, const char *layer, size_t n)
{
    size_t len = strlen(layer);
    if (strncmp(s, layer, len) != 0 || strlen(s) != len + n)
        return false;
    return strspn(s + len, "_") == n;
}

/* layer + n underscores is free: not reserved (every reserved word is
 * short), and not another layer's name. */
static bool local_is_free(const IrModel *m, const char *layer, size_t n)
{
    char word[16];
    if (strlen(layer) + n < sizeof word) {
        snprintf(word, sizeof word, "%s%.*s", layer, (int)n, "_______________");
        if (reserved_local(word))
            return false;
    }
    for (size_t i = 0; n && i < m->n_nodes; i++)
        if (is_with_underscores(m->nodes[i].layer, layer, n))
            return false;
    return true;
}

/* The layer's name as a local variable: with '_' appended (PEP 8's way
 * around a keyword: class_) until it is neither reserved nor another
 * layer's name. */
static void put_local(FILE *f, const IrModel *m, const char *layer)
{
    size_t n = 0;
    while (!local_is_free(m, layer, n))
        n++;
    fputs(layer, f);
    for (size_t k = 0; k < n; k++)
        fputc('_', f);
}

static void put_value(FILE *f, const IrModel *m, size_t j)
{
    if (needs_name(m, j))
        put_local(f, m, m->nodes[j].layer);
    else
        fputc('x', f);
}

static void put_expr(FILE *f, const IrModel *m, size_t i);

/* Input k of node i: the expression before it in the statement, or the
 * variable holding it. */
static void put_input(FILE *f, const IrModel *m, size_t i, size_t k)
{
    if (k == 0 && continues(m, i))
        put_expr(f, m, i - 1);
    else
        put_value(f, m, m->nodes[i].inputs[k]);
}

/* fn(INPUT extra) for a function of torch. */
static void put_call(FILE *f, const IrModel *m, size_t i, const char *fn, const char *extra)
{
    fprintf(f, "%s(", fn);
    put_input(f, m, i, 0);
    fprintf(f, "%s)", extra);
}

/* fn(INPUT, number): leaky_relu's slope, elu's alpha. */
static void put_call_number(FILE *f, const IrModel *m, size_t i, const char *fn, double v)
{
    fprintf(f, "%s(", fn);
    put_input(f, m, i, 0);
    fputs(", ", f);
    py_put_double(f, v);
    fputc(')', f);
}

/* a + b + c; torch.cat([a, b], dim=1): channels (or features) follow the batch. */
static void put_inputs(FILE *f, const IrModel *m, size_t i, const char *sep)
{
    for (size_t k = 0; k < m->nodes[i].n_inputs; k++) {
        if (k)
            fputs(sep, f);
        put_input(f, m, i, k);
    }
}

/* The Python expression computing node i from its inputs. */
static void put_expr(FILE *f, const IrModel *m, size_t i)
{
    const IrNode *n = &m->nodes[i];
    switch (n->op) {
    case OP_DENSE:
    case OP_DROPOUT:
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_BATCHNORM:
        fprintf(f, "self.%s(", n->name);
        put_input(f, m, i, 0);
        fputc(')', f);
        break;
    case OP_STEP: put_call(f, m, i, "StepFunction.apply", ""); break;
    case OP_SIGMOID: put_call(f, m, i, "torch.sigmoid", ""); break;
    case OP_TANH: put_call(f, m, i, "torch.tanh", ""); break;
    case OP_RELU: put_call(f, m, i, "torch.relu", ""); break;
    case OP_GELU: put_call(f, m, i, "nn.functional.gelu", ""); break;
    case OP_SILU: put_call(f, m, i, "nn.functional.silu", ""); break;
    case OP_SOFTPLUS: put_call(f, m, i, "nn.functional.softplus", ""); break;
    case OP_HARDSWISH: put_call(f, m, i, "nn.functional.hardswish", ""); break;
    case OP_HARDSIGMOID: put_call(f, m, i, "nn.functional.hardsigmoid", ""); break;
    case OP_SOFTMAX: put_call(f, m, i, "torch.softmax", ", dim=1"); break;
    case OP_ELU: put_call_number(f, m, i, "nn.functional.elu", n->cfg.elu.alpha); break;
    case OP_LEAKY_RELU:
        put_call_number(f, m, i, "nn.functional.leaky_relu", n->cfg.leaky_relu.slope);
        break;
    case OP_ADD: put_inputs(f, m, i, " + "); break;
    case OP_CONCAT:
        fputs("torch.cat([", f);
        put_inputs(f, m, i, ", ");
        fputs("], dim=1)", f);
        break;
    case OP_INPUT: fputc('x', f); break;
    case OP_IDENTITY: put_input(f, m, i, 0); break;
    }
}

/* Only identity nodes: the statement would copy a value to itself. */
static bool only_identity(const IrModel *m, size_t start, size_t end)
{
    for (size_t i = start; i <= end; i++)
        if (m->nodes[i].op != OP_IDENTITY)
            return false;
    return true;
}

/* One statement per .nn line, `x = torch.relu(self.c1(x))`, in the
 * graph's order; values read later than the next line get their layer's
 * name (`stem = ...`, then `x = stem + x`). */
static void model_forward(FILE *f, const IrModel *m)
{
    fputs("\n    def forward(self, x):\n", f);
    if (needs_name(m, 0)) {
        fputs("        ", f);
        put_local(f, m, m->nodes[0].layer);
        fputs(" = x\n", f);
    }
    for (size_t start = 1; start < m->n_nodes;) {
        size_t end = start;
        while (end + 1 < m->n_nodes && continues(m, end + 1))
            end++;
        bool copy_to_itself = only_identity(m, start, end) && !needs_name(m, end) &&
                              !needs_name(m, m->nodes[start].inputs[0]);
        if (!copy_to_itself) {
            fputs("        ", f);
            put_value(f, m, end);
            fputs(" = ", f);
            put_expr(f, m, end);
            fputc('\n', f);
        }
        start = end + 1;
    }
    fputs("        return x\n", f);
}

/* ---- preprocess ------------------------------------------------------------ */

/* The dataset whose preprocessing the model's input has: the train block's,
 * else the first evaluate step's; NULL without either. */
static const IrDataSource *input_source(const PyPackage *k)
{
    if (k->train)
        return k->prog->datasets[k->train->dataset].source;
    if (k->n_evals)
        return k->prog->datasets[k->evals[0]->dataset].source;
    return NULL;
}

/* NAME = [v, v, ...] as float64 literals, four to a line. */
static void put_doubles(FILE *f, const char *name, const double *v, size_t n)
{
    fprintf(f, "%s = [", name);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(i % 4 ? ", " : ",\n    ", f);
        py_put_double(f, v[i]);
    }
    fputs("]\n", f);
}

static void preprocess_constants(FILE *f, const PyPackage *k, const IrDataSource *s)
{
    if (s)
        fprintf(f, "# The input preprocessing of dataset %s (the %s's):\n"
                   "# nnc applies it to every row before the model sees it, and so does "
                   "data.load.\n", s->name, k->train ? "train block" : "first evaluate block");
    else
        fputs("# The input preprocessing: the file gives the model no dataset, so there is\n"
              "# none but the reshape to the model's input.\n", f);
    fprintf(f, "FEATURES = %zu  # numbers per raw row (a CSV row without its target)\n",
            k->m->in_units);
    fputs("INPUT_SHAPE = ", f);
    put_tuple(f, &k->m->nodes[0].shape);
    fputs("  # one row as the model reads it (channels first)\n", f);
    if (s && s->has_scale) {
        fputs("SCALE = ", f);
        py_put_double(f, s->scale);
        fputs("  # scale\n", f);
    }
    if (s && s->normalize != NORM_NONE && s->norm_shift) {
        fprintf(f, "# normalize = %s,\n# with the statistics of the %s rows:\n",
                s->normalize == NORM_STANDARD ? "standard (mean, standard deviation)"
                                              : "minmax (minimum, max - min)",
                s->has_split ? "training" : "dataset's");
        put_doubles(f, "NORM_SHIFT", s->norm_shift, s->x_cols);
        put_doubles(f, "NORM_DIV", s->norm_div, s->x_cols);
    }
    fputs("\n\n", f);
}

static void preprocess_function(FILE *f, const IrDataSource *s)
{
    bool scale = s && s->has_scale, norm = s && s->normalize != NORM_NONE && s->norm_shift;
    fputs("def preprocess(raw):\n"
          "    \"\"\"The model's input [N, *INPUT_SHAPE] from raw feature rows, [N, FEATURES]\n"
          "    or one row [FEATURES] (the dataset's values as written: a CSV row without\n"
          "    its target, as float32), built as nnc builds its rows, bit for bit:\n", f);
    if (scale)
        fputs("      x * SCALE in float64, rounded to float32;\n", f);
    if (norm)
        fputs("      (x - NORM_SHIFT) / NORM_DIV per column in float64, rounded to float32\n"
              "      (0 where NORM_DIV is 0: a constant column);\n", f);
    fputs("      the row reshaped to INPUT_SHAPE (row-major, channels first).\"\"\"\n", f);
    fputs("    x = torch.as_tensor(raw, dtype=torch.float32).reshape(-1, FEATURES)\n", f);
    if (scale)
        fputs("    x = (x.double() * SCALE).float()\n", f);
    if (norm)
        fputs("    shift = torch.tensor(NORM_SHIFT, dtype=torch.float64)\n"
              "    div = torch.tensor(NORM_DIV, dtype=torch.float64)\n"
              "    z = (x.double() - shift) / torch.where(div > 0, div, torch.ones_like(div))\n"
              "    x = torch.where(div > 0, z, torch.zeros_like(z)).float()\n", f);
    fputs("    return x.reshape(-1, *INPUT_SHAPE)\n\n\n", f);
}

void py_write_model(FILE *f, const PyPackage *k)
{
    const IrDataSource *s = input_source(k);
    model_header(f, k);
    preprocess_constants(f, k, s);
    preprocess_function(f, s);
    fprintf(f, "class %s(nn.Module):\n", k->class_name);
    fputs("    def __init__(self):\n        super().__init__()\n", f);
    model_layers(f, k->m);
    model_blocks(f, k->m, k->live);
    model_forward(f, k->m);
}
