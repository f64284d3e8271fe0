/* Models: layer lines -> a chain of IrNodes with inferred widths. Kinds and
 * activations are looked up in the op table (ir_ops), so a new op needs no
 * change here. Naming: `name:` lines keep their name, unnamed lines become
 * KIND1, KIND2... per kind (skipping names the user took), and a trailing
 * activation is the node LAYER.ACT of layer LAYER. */
#include <math.h>
#include <string.h>

#include "lower.h"

typedef struct ModelBuild {
    Lower *c;
    const AstDecl *d;
    IrModel *m;
    size_t units;   /* width of the last node */
    bool shapes;    /* units is known: shape checks make sense */
    bool ok;
} ModelBuild;

static bool model_name_taken(const AstLayer *layers, const char *name)
{
    for (const AstLayer *l = layers; l; l = l->next)
        if (l->name && strcmp(l->name, name) == 0)
            return true;
    return false;
}

/* Reports explicit names used twice; returns the line's name for every
 * line (generated for unnamed ones), indexed like the lines. */
static const char **model_names(ModelBuild *b, size_t n_lines)
{
    const char **names = arena_array(b->c->arena, n_lines ? n_lines : 1, sizeof *names);
    if (!names)
        return NULL;
    size_t counters[OP_COUNT] = {0};
    size_t i = 0;
    for (const AstLayer *l = b->d->layers; l; l = l->next, i++) {
        if (l->is_input) {
            names[i] = "input";
            continue;
        }
        if (l->name) {
            names[i] = l->name;
            for (const AstLayer *prev = b->d->layers; prev != l; prev = prev->next) {
                if (prev->name && strcmp(prev->name, l->name) == 0) {
                    diag_error(b->c->diag, l->name_loc, "duplicate layer '%s' in model '%s'",
                               l->name, b->d->name);
                    diag_note(b->c->diag, prev->name_loc, "previous declaration is here");
                    b->ok = false;
                    break;
                }
            }
            continue;
        }
        OpKind k;
        if (!ir_op_lookup(l->kind, &k)) {
            names[i] = l->kind;
            continue;
        }
        const char *name;
        do
            name = arena_printf(b->c->arena, "%s%zu", l->kind, ++counters[k]);
        while (name && model_name_taken(b->d->layers, name));
        names[i] = name ? name : l->kind;
    }
    return names;
}

static void model_unknown_op(ModelBuild *b, const char *name, Loc loc, bool activation)
{
    const char *cands[OP_COUNT];
    size_t n = 0;
    for (int k = 1; k < OP_COUNT; k++) /* never suggest input */
        if (!activation || ir_ops[k].activation)
            cands[n++] = ir_ops[k].name;
    const char *what = activation ? "activation" : "layer kind";
    const char *near = suggest_nearest(name, cands, n);
    if (near)
        diag_error(b->c->diag, loc, "unknown %s '%s'; did you mean '%s'?", what, name, near);
    else
        diag_error(b->c->diag, loc, "unknown %s '%s'", what, name);
    b->ok = false;
}

/* A width (dense units, input size): a positive integer under the cap. */
static bool model_width(ModelBuild *b, const AstValue *v, const char *what, const char *unit,
                        size_t *out)
{
    double x = v->number;
    if (!(x > 0) || floor(x) != x) {
        diag_error(b->c->diag, v->loc, "%s must be a positive integer, got %s", what,
                   number_text(b->c, x));
        return false;
    }
    if (x > (double)LOWER_MAX_UNITS) {
        diag_error(b->c->diag, v->loc, "%s %s is too large (at most %zu %s)", what,
                   number_text(b->c, x), LOWER_MAX_UNITS, unit);
        return false;
    }
    *out = (size_t)x;
    return true;
}

/* Checks a kind's arguments against ir_ops[k].arg; *arg gets the value. */
static bool model_op_args(ModelBuild *b, OpKind k, Loc kind_loc, const AstValue *args,
                          size_t n_args, double *arg)
{
    const OpInfo *op = &ir_ops[k];
    *arg = op->arg_default;
    if (op->arg == OPARG_NONE && n_args > 0) {
        diag_error(b->c->diag, args->loc, "'%s' takes no argument", op->name);
        return false;
    }
    if (n_args > 1) {
        diag_error(b->c->diag, args->next->loc, "'%s' takes one argument, got %zu", op->name,
                   n_args);
        return false;
    }
    if (n_args == 0 && op->arg != OPARG_NONE && !op->arg_optional) {
        diag_error(b->c->diag, kind_loc, "'%s' needs %s", op->name,
                   op->arg == OPARG_UNITS ? "a number of units, e.g. 'dense 4'"
                                          : "a probability, e.g. 'dropout 0.5'");
        return false;
    }
    if (n_args == 0)
        return true;
    if (op->arg == OPARG_UNITS) {
        size_t units;
        if (!model_width(b, args, "dense units", "units", &units))
            return false;
        *arg = (double)units;
        return true;
    }
    if (op->arg == OPARG_PROB)
        return value_in_range(b->c, args, "dropout probability", (Range){0, 1, false, true, false},
                              arg);
    *arg = args->number; /* OPARG_NUMBER: any number */
    return true;
}

/* Appends a node of kind k reading the last node (the model is a chain of
 * lines; the graph IR allows more), shaped like its input until the line
 * says otherwise. */
static IrNode *model_push(ModelBuild *b, OpKind k, const char *name, const char *layer, Loc loc)
{
    IrNode *n = &b->m->nodes[b->m->n_nodes];
    n->op = k;
    n->name = name;
    n->layer = layer;
    n->loc = loc;
    if (b->m->n_nodes > 0) {
        size_t *in = arena_array(b->c->arena, 1, sizeof *in);
        if (!in) {
            diag_error(b->c->diag, loc, "out of memory");
            b->ok = b->shapes = false;
            return n;
        }
        *in = b->m->n_nodes - 1;
        n->inputs = in;
        n->n_inputs = 1;
        n->in_units = b->units;
    }
    n->shape = ir_shape_1d(b->units);
    n->units = b->units;
    b->m->n_nodes++;
    return n;
}

/* What a kind's one argument means, stored in its own configuration. */
static void model_config(IrNode *n, double arg)
{
    switch (n->op) {
    case OP_DENSE:
        n->cfg.dense.units = (size_t)arg;
        n->shape = ir_shape_1d(n->cfg.dense.units);
        n->units = n->cfg.dense.units;
        break;
    case OP_DROPOUT: n->cfg.dropout.p = arg; break;
    case OP_LEAKY_RELU: n->cfg.leaky_relu.slope = arg; break;
    case OP_ELU: n->cfg.elu.alpha = arg; break;
    case OP_INPUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_GELU:
    case OP_SILU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_RELU:
    case OP_SOFTMAX:
    case OP_IDENTITY: break;
    }
}

/* "[4, 2]" for a shape. */
static const char *param_shape_text(Lower *c, const IrShape *sh)
{
    char buf[128];
    size_t len = 0;
    buf[len++] = '[';
    for (size_t d = 0; d < sh->rank && len < sizeof buf - 24; d++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%zu", d ? ", " : "", sh->dim[d]);
    snprintf(buf + len, sizeof buf - len, "]");
    return arena_strdup(c->arena, buf);
}

/* true when the values as written have the tensor's shape: a flat list for
 * rank 1, a list of rows for rank 2, a flat list of every value above. */
static bool param_shape_matches(const Matrix *v, const IrShape *sh)
{
    if (sh->rank == 1)
        return v->flat && v->rows == sh->dim[0];
    if (sh->rank == 2)
        return !v->flat && v->rows == sh->dim[0] && v->cols == sh->dim[1];
    return v->flat && v->rows == ir_shape_size(sh);
}

/* One tensor's values from its property of the block. */
static void model_param_value(ModelBuild *b, IrNode *n, const AstProp *prop, const IrParam *p,
                              size_t k)
{
    Matrix v;
    if (!value_matrix(b->c, prop->value, p->suffix, &v)) {
        b->ok = false;
        return;
    }
    if (b->shapes && !param_shape_matches(&v, &p->shape)) {
        const char *expected = param_shape_text(b->c, &p->shape);
        if (p->layout)
            diag_error(b->c->diag, prop->value->loc, "%s of '%s' has shape %s, expected %s (%s)",
                       p->suffix, n->name, matrix_shape(b->c, &v), expected, p->layout);
        else
            diag_error(b->c->diag, prop->value->loc, "%s of '%s' has shape %s, expected %s",
                       p->suffix, n->name, matrix_shape(b->c, &v), expected);
        b->ok = false;
    }
    n->param_init[k] = v.data;
}

/* A line's `{ ... }`: a value for any of the tensors its op declares
 * (dense: weight [units][in], bias [units]) and `frozen`. */
size_t lower_param_spec(const IrNode *n, IrParam ps[IR_MAX_PARAMS],
                        PropSpec spec[IR_MAX_PARAMS + 1])
{
    size_t np = ir_node_params(n, ps);
    for (size_t k = 0; k < np; k++)
        spec[k] = (PropSpec){ps[k].suffix, PT_LIST, NULL, NULL};
    spec[np] = (PropSpec){"frozen", PT_BOOL, NULL, NULL};
    return np;
}

static void model_params(ModelBuild *b, const AstLayer *l, IrNode *n)
{
    IrParam ps[IR_MAX_PARAMS];
    PropSpec spec[IR_MAX_PARAMS + 1];
    size_t np = lower_param_spec(n, ps, spec);
    const AstProp *slots[IR_MAX_PARAMS + 1];
    if (!props_collect(b->c, l->params, spec, np + 1, "parameter block", slots))
        b->ok = false;
    if (slots[np])
        n->frozen = slots[np]->value->boolean;
    for (size_t k = 0; k < np; k++)
        if (slots[k])
            model_param_value(b, n, slots[k], &ps[k], k);
}

/* Adds the node's parameter tensors to the model's count. */
static void model_count_params(ModelBuild *b, const AstLayer *l, const IrNode *n)
{
    size_t count, total;
    if (!ir_node_param_count(n, &count) ||
        __builtin_add_overflow(b->m->n_params, count, &total) || total > LOWER_MAX_PARAMS) {
        diag_error(b->c->diag, l->args->loc,
                   "model '%s' would have more than %zu parameters", b->d->name,
                   LOWER_MAX_PARAMS);
        b->ok = false;
        b->shapes = false;
        return;
    }
    b->m->n_params = total;
}

/* The optional `, act args` of a line: its own node LAYER.ACT. */
static void model_activation(ModelBuild *b, const AstLayer *l, const char *layer)
{
    OpKind k;
    if (!ir_op_lookup(l->act, &k) || k == OP_INPUT) {
        model_unknown_op(b, l->act, l->act_loc, true);
        return;
    }
    if (!ir_ops[k].activation) {
        diag_error(b->c->diag, l->act_loc,
                   "'%s' is not an activation; only an activation can follow ','", l->act);
        b->ok = false;
        return;
    }
    double arg;
    if (!model_op_args(b, k, l->act_loc, l->act_args, l->n_act_args, &arg)) {
        b->ok = false;
        return;
    }
    const char *name = arena_printf(b->c->arena, "%s.%s", layer, l->act);
    IrNode *n = model_push(b, k, name ? name : l->act, layer, l->act_loc);
    model_config(n, arg);
}

static void model_line(ModelBuild *b, const AstLayer *l, const char *name)
{
    OpKind k;
    if (!ir_op_lookup(l->kind, &k)) {
        model_unknown_op(b, l->kind, l->kind_loc, false);
        b->shapes = false;
        return;
    }
    double arg;
    if (!model_op_args(b, k, l->kind_loc, l->args, l->n_args, &arg)) {
        b->ok = false;
        if (k == OP_DENSE)
            b->shapes = false; /* the width after this line is unknown */
    }
    IrNode *n = model_push(b, k, name, name, l->loc);
    if (k != OP_DENSE || b->shapes)
        model_config(n, arg);
    if (ir_ops[k].params && b->shapes)
        model_count_params(b, l, n);
    b->units = n->units;
    if (l->has_block && !ir_ops[k].params) {
        diag_error(b->c->diag, l->block_loc, "only dense layers take a parameter block; '%s' has no parameters",
                   l->kind);
        b->ok = false;
    } else if (l->has_block) {
        model_params(b, l, n);
    }
    if (l->act)
        model_activation(b, l, name);
}

/* The first line must be `input N`, and no other line may be. */
static bool model_input(ModelBuild *b, size_t n_lines)
{
    const AstLayer *first = b->d->layers;
    if (!first) {
        diag_error(b->c->diag, b->d->name_loc, "model '%s' is empty; it needs 'input N' and layers",
                   b->d->name);
        return false;
    }
    for (const AstLayer *l = first->next; l; l = l->next) {
        if (l->is_input) {
            diag_error(b->c->diag, l->loc, "'input' may appear only once, as the first line");
            b->ok = false;
        }
    }
    if (!first->is_input) {
        diag_error(b->c->diag, first->loc, "model '%s' must start with 'input N'", b->d->name);
        return false;
    }
    if (n_lines == 1) {
        diag_error(b->c->diag, b->d->name_loc, "model '%s' has no layers after 'input'", b->d->name);
        b->ok = false;
    }
    return model_width(b, first->args, "input size", "features", &b->units);
}

void lower_model(Lower *c, const AstDecl *d, ModelSym *sym)
{
    /* A duplicate model is lowered into the next free slot and not kept:
     * start clean, or the next model inherits its node and parameter
     * counts (writing nodes past its array, and a bogus size error). */
    IrModel *m = &c->prog->models[sym->index];
    *m = (IrModel){0};
    m->name = d->name;
    m->loc = d->name_loc;
    size_t n_lines = 0;
    for (const AstLayer *l = d->layers; l; l = l->next)
        n_lines++;
    m->nodes = arena_array(c->arena, 2 * n_lines + 1, sizeof *m->nodes);
    ModelBuild b = {c, d, m, 0, true, true};
    const char **names = model_names(&b, n_lines);
    if (!m->nodes || !names) {
        diag_error(c->diag, d->name_loc, "out of memory");
        return;
    }
    if (!model_input(&b, n_lines)) {
        b.ok = false;
        b.shapes = false;
    }
    if (b.shapes)
        model_push(&b, OP_INPUT, "input", "input", d->layers->loc);
    m->in_units = b.units;
    size_t i = 1;
    for (const AstLayer *l = d->layers ? d->layers->next : NULL; l; l = l->next, i++)
        if (!l->is_input)
            model_line(&b, l, names[i]);
    m->out_units = b.units;
    sym->ok = b.ok && b.shapes;
}

long lower_find_layer(Lower *c, const IrModel *m, const AstValue *v)
{
    for (size_t i = m->n_nodes; i-- > 1;)
        if (strcmp(m->nodes[i].layer, v->text) == 0)
            return (long)i;
    const char **cands = arena_array(c->arena, m->n_nodes + 1, sizeof *cands);
    size_t n = 0;
    for (size_t i = 1; cands && i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].layer, m->nodes[i].name) == 0)
            cands[n++] = m->nodes[i].name;
    const char *near = cands ? suggest_nearest(v->text, cands, n) : NULL;
    if (near)
        diag_error(c->diag, v->loc, "unknown layer '%s' in model '%s'; did you mean '%s'?", v->text,
                   m->name, near);
    else
        diag_error(c->diag, v->loc, "unknown layer '%s' in model '%s'", v->text, m->name);
    return -1;
}
