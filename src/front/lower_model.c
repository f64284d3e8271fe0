/* Models: layer lines -> a graph of IrNodes with inferred shapes. Kinds,
 * activations and their arguments are looked up in the op table (ir_ops):
 * one generic binder matches a line's arguments, positional or by keyword,
 * to its kind's rows, and ir_infer_shape applies the kind's shape rule, so
 * a new op needs no change here. A line reads the line above, or `from =
 * NAME`, or (add, concat) the layers it names; names refer to lines above,
 * so the nodes come out in a topological order. Naming: `name:` lines keep
 * their name, unnamed lines become KIND1, KIND2... per kind (skipping names
 * the user took), and a trailing activation is the node LAYER.ACT of layer
 * LAYER. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "lower.h"

#define MODEL_MAX_INPUTS IR_MAX_INPUTS

typedef struct ModelBuild {
    Lower *c;
    const AstDecl *d;
    IrModel *m;
    const AstLayer **lines;
    const char **names;  /* per line: its layer name */
    long *line_node;     /* per line: its last node, or -1 when the line failed */
    size_t n_lines;
    bool ok;
} ModelBuild;

/* A line's arguments bound to its kind's rows, and the inputs it reads. */
typedef struct Binding {
    OpArgValue values[OP_MAX_ARGS];
    size_t inputs[MODEL_MAX_INPUTS];
    Loc input_locs[MODEL_MAX_INPUTS];
    size_t n_inputs;
    bool inputs_known;   /* false: an input line failed, skip shape checks */
    bool from_given;
} Binding;
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
        diag_error(b->c->diag, v->loc, "%s %s is too large (at most %zu%s%s)", what,
                   number_text(b->c, x), LOWER_MAX_UNITS, *unit ? " " : "", unit);
        return false;
    }
    *out = (size_t)x;
    return true;
}

/* ---- binding a call's arguments ---------------------------------------- */

static void bind_unknown_arg(ModelBuild *b, const OpInfo *op, const AstArg *a)
{
    const char *names[OP_MAX_ARGS + 1];
    size_t n = 0;
    for (size_t i = 0; i < op->n_args; i++)
        names[n++] = op->args[i].name;
    if (!op->named_inputs)
        names[n++] = "from";
    const char *near = suggest_nearest(a->name, names, n);
    if (near)
        diag_error(b->c->diag, a->loc, "'%s' has no argument '%s'; did you mean '%s'?", op->name,
                   a->name, near);
    else
        diag_error(b->c->diag, a->loc, "'%s' has no argument '%s'", op->name, a->name);
}

/* One number of an argument against its row's type. */
static bool bind_number(ModelBuild *b, const OpArgSpec *spec, const AstValue *v, double *out)
{
    static const Range ranges[] = {
        [ARG_SIZE] = {0, (double)LOWER_MAX_UNITS, false, false, true},
        [ARG_PROB] = {0, 1, false, true, false},
        [ARG_NUMBER] = {-INFINITY, INFINITY, false, false, false},
        [ARG_POSITIVE] = {0, INFINITY, true, false, false},
        [ARG_FRACTION] = {0, 1, false, false, false},
    };
    switch (spec->type) {
    case ARG_COUNT: {
        if (v->kind != AST_NUMBER) {
            value_type_error(b->c, v, spec->what, "a positive integer");
            return false;
        }
        size_t n;
        /* "dense units 1e11 is too large (at most 16777216 units)" */
        const char *unit = strcmp(spec->name, "units") == 0 ? "units" : "";
        if (!model_width(b, v, spec->what, unit, &n))
            return false;
        *out = (double)n;
        return true;
    }
    case ARG_BOOL:
        if (v->kind != AST_BOOL) {
            value_type_error(b->c, v, spec->what, "true or false");
            return false;
        }
        *out = v->boolean ? 1 : 0;
        return true;
    case ARG_SIZE:
    case ARG_PROB:
    case ARG_NUMBER:
    case ARG_POSITIVE:
    case ARG_FRACTION: return value_in_range(b->c, v, spec->what, ranges[spec->type], out);
    }
    return false;
}

/* An argument's value: one number, or [h, w] where the row allows a pair. */
static bool bind_value(ModelBuild *b, const OpInfo *op, const OpArgSpec *spec, const AstValue *v,
                       OpArgValue *out)
{
    out->given = true;
    if (v->kind == AST_LIST && spec->pair) {
        if (v->n != 2) {
            diag_error(b->c->diag, v->loc, "%s of '%s' is a number or [height, width], got %zu "
                       "values", spec->what, op->name, v->n);
            return false;
        }
        return bind_number(b, spec, v->items, &out->v[0]) &&
               bind_number(b, spec, v->items->next, &out->v[1]);
    }
    if (v->kind == AST_LIST) {
        diag_error(b->c->diag, v->loc, "%s of '%s' is one number, not a list", spec->what, op->name);
        return false;
    }
    if (!bind_number(b, spec, v, &out->v[0]))
        return false;
    out->v[1] = out->v[0];
    return true;
}

/* Index of the line named name, or -1. */
static long line_named(const ModelBuild *b, const char *name)
{
    for (size_t i = 0; i < b->n_lines; i++)
        if (strcmp(b->names[i], name) == 0)
            return (long)i;
    return -1;
}

/* A layer a line reads, by name: an earlier line, never this one or a
 * later one (that keeps every model acyclic). Adds its node to bd. */
static bool bind_input(ModelBuild *b, size_t line, const AstValue *v, Binding *bd)
{
    if (v->kind != AST_IDENT) {
        value_type_error(b->c, v, "a layer to read", "the name of a layer above");
        return false;
    }
    long at = line_named(b, v->text);
    if (at == (long)line) {
        diag_error(b->c->diag, v->loc, "layer '%s' cannot read itself", v->text);
        return false;
    }
    if (at > (long)line) {
        diag_error(b->c->diag, v->loc,
                   "'%s' is a later layer; a layer can read only the layers above it", v->text);
        diag_note(b->c->diag, b->lines[at]->loc, "'%s' is declared here", v->text);
        return false;
    }
    if (at < 0) {
        const char *near = suggest_nearest(v->text, b->names, line);
        if (near)
            diag_error(b->c->diag, v->loc, "unknown layer '%s' in model '%s'; did you mean '%s'?",
                       v->text, b->d->name, near);
        else
            diag_error(b->c->diag, v->loc, "unknown layer '%s' in model '%s'", v->text,
                       b->d->name);
        return false;
    }
    if (bd->n_inputs == MODEL_MAX_INPUTS) {
        diag_error(b->c->diag, v->loc, "a layer may read at most %d layers", MODEL_MAX_INPUTS);
        return false;
    }
    if (b->line_node[at] < 0)
        bd->inputs_known = false;
    else
        bd->inputs[bd->n_inputs] = (size_t)b->line_node[at];
    bd->input_locs[bd->n_inputs++] = v->loc;
    return true;
}

/* Matches args to op's rows: positional ones in order (or, for add and
 * concat, as the layers read), then by keyword; `from = NAME` for any
 * other kind. Reports every bad argument; false if there was one. */
static bool bind_args(ModelBuild *b, const OpInfo *op, const AstArg *args, size_t line,
                      bool activation, Binding *bd)
{
    bool ok = true;
    size_t pos = 0, n_positional = 0;
    for (const AstArg *a = args; a; a = a->next)
        n_positional += !a->name;
    for (const AstArg *a = args; a; a = a->next) {
        if (!a->name && op->named_inputs) {
            ok = bind_input(b, line, a->value, bd) && ok;
            continue;
        }
        if (a->name && strcmp(a->name, "from") == 0 && !op->named_inputs && !activation) {
            if (bd->from_given) {
                diag_error(b->c->diag, a->loc, "'from' is given twice");
                ok = false;
                continue;
            }
            bd->from_given = true;
            ok = bind_input(b, line, a->value, bd) && ok;
            continue;
        }
        long slot = -1;
        if (!a->name) {
            if (pos >= op->n_args) {
                if (op->n_args == 0)
                    diag_error(b->c->diag, a->loc, "'%s' takes no argument", op->name);
                else if (op->n_args == 1)
                    diag_error(b->c->diag, a->loc, "'%s' takes one argument, got %zu", op->name,
                               n_positional);
                else
                    diag_error(b->c->diag, a->loc, "'%s' takes at most %zu arguments by "
                               "position, got %zu", op->name, op->n_args, n_positional);
                ok = false;
                continue;
            }
            slot = (long)pos++;
        } else {
            for (size_t i = 0; i < op->n_args && slot < 0; i++)
                if (strcmp(op->args[i].name, a->name) == 0)
                    slot = (long)i;
            if (slot < 0) {
                bind_unknown_arg(b, op, a);
                ok = false;
                continue;
            }
        }
        if (bd->values[slot].given) {
            diag_error(b->c->diag, a->loc, "'%s' of '%s' is given twice", op->args[slot].name,
                       op->name);
            ok = false;
            continue;
        }
        ok = bind_value(b, op, &op->args[slot], a->value, &bd->values[slot]) && ok;
    }
    return ok;
}

/* Required arguments present, defaults for the rest (stride = kernel). */
static bool bind_defaults(ModelBuild *b, const OpInfo *op, Loc loc, Binding *bd)
{
    bool ok = true;
    for (size_t i = 0; i < op->n_args; i++) {
        const OpArgSpec *spec = &op->args[i];
        OpArgValue *v = &bd->values[i];
        if (v->given)
            continue;
        if (spec->required) {
            diag_error(b->c->diag, loc, "'%s' needs its '%s' argument (%s), e.g. '%s'", op->name,
                       spec->name, spec->what, op->example);
            ok = false;
        } else if (spec->def_from >= 0) {
            *v = bd->values[spec->def_from];
            v->given = false;
        } else {
            v->v[0] = v->v[1] = spec->def;
        }
    }
    if (op->named_inputs && bd->n_inputs < 2 && ok) {
        diag_error(b->c->diag, loc, "'%s' needs at least two layers, e.g. '%s'", op->name,
                   op->example);
        ok = false;
    }
    return ok;
}

/* ---- nodes ---------------------------------------------------------------- */

/* Appends a node of kind k reading bd's inputs, its shape inferred from
 * theirs; -1 (reported) when they do not fit. */
static long model_push(ModelBuild *b, OpKind k, const char *name, const char *layer, Loc loc,
                       const Binding *bd)
{
    IrModel *m = b->m;
    IrNode *n = &m->nodes[m->n_nodes];
    *n = (IrNode){.op = k, .name = name, .layer = layer, .loc = loc};
    size_t *in = arena_array(b->c->arena, bd->n_inputs, sizeof *in);
    if (!in) {
        diag_error(b->c->diag, loc, "out of memory");
        return -1;
    }
    memcpy(in, bd->inputs, bd->n_inputs * sizeof *in);
    n->inputs = in;
    n->n_inputs = bd->n_inputs;
    n->in_shape = m->nodes[in[0]].shape;
    n->in_units = m->nodes[in[0]].units;
    if (ir_ops[k].configure)
        ir_ops[k].configure(n, bd->values);
    const IrShape *shapes[MODEL_MAX_INPUTS];
    const char *names[MODEL_MAX_INPUTS];
    for (size_t i = 0; i < bd->n_inputs; i++) {
        shapes[i] = &m->nodes[in[i]].shape;
        names[i] = m->nodes[in[i]].layer;
    }
    IrShapeError err;
    if (!ir_infer_shape(n, shapes, names, bd->n_inputs, &err)) {
        Loc at = err.at >= IR_AT_INPUT && (size_t)err.at < bd->n_inputs &&
                         bd->input_locs[err.at].line ? bd->input_locs[err.at] : loc;
        diag_error(b->c->diag, at, "%s", err.msg);
        return -1;
    }
    if (n->units > LOWER_MAX_UNITS) {
        char buf[96];
        diag_error(b->c->diag, loc, "the output %s of '%s' has %zu values, more than the %zu a "
                   "layer may have", ir_shape_text(&n->shape, buf, sizeof buf), name, n->units,
                   LOWER_MAX_UNITS);
        return -1;
    }
    return (long)m->n_nodes++;
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
 * rank 1, a list of rows for rank 2, a flat list of every value above
 * (nested lists above rank 2 are read by param_nested). */
static bool param_shape_matches(const Matrix *v, const IrShape *sh)
{
    if (sh->rank == 1)
        return v->flat && v->rows == sh->dim[0];
    if (sh->rank == 2)
        return !v->flat && v->rows == sh->dim[0] && v->cols == sh->dim[1];
    return v->flat && v->rows == ir_shape_size(sh);
}

/* The shape a nested list shows along its first items: [2, 1, 3, 3] for
 * a conv weight written like PyTorch prints it. Returns its rank. */
static size_t nested_written_shape(const AstValue *v, IrShape *out)
{
    out->rank = 0;
    while (v && v->kind == AST_LIST && out->rank < IR_MAX_RANK) {
        out->dim[out->rank++] = v->n;
        v = v->items;
    }
    return out->rank;
}

/* Depth d of a nested tensor written with sh's shape into data from *at:
 * every list of the right length, numbers at the bottom. */
static bool nested_read(ModelBuild *b, const AstValue *v, const IrShape *sh, size_t d,
                        const char *what, float *data, size_t *at)
{
    if (d == sh->rank) {
        if (v->kind != AST_NUMBER) {
            diag_error(b->c->diag, v->loc, "%s: values must be numbers, got %s", what,
                       ast_value_kind_name(v->kind));
            return false;
        }
        if (fabs(v->number) > FLT_MAX) {
            diag_error(b->c->diag, v->loc, "%s: value %.9g does not fit in a float", what, v->number);
            return false;
        }
        data[(*at)++] = (float)v->number;
        return true;
    }
    if (v->kind != AST_LIST || v->n != sh->dim[d]) {
        const char *got = v->kind == AST_LIST
                              ? arena_printf(b->c->arena, "%zu value%s", v->n, v->n == 1 ? "" : "s")
                              : ast_value_kind_name(v->kind);
        diag_error(b->c->diag, v->loc, "%s: expected a list of %zu at depth %zu of shape %s, got %s",
                   what, sh->dim[d], d + 1, param_shape_text(b->c, sh), got ? got : "?");
        return false;
    }
    bool ok = true;
    for (const AstValue *e = v->items; e && ok; e = e->next)
        ok = nested_read(b, e, sh, d + 1, what, data, at);
    return ok;
}

/* A tensor of rank 3 or 4 written nested (`weight = [[[[...]]]]`, as
 * PyTorch prints it). false when the value is not nested that deep; *ok
 * says whether it was read. */
static bool param_nested(ModelBuild *b, IrNode *n, const AstProp *prop, const IrParam *p,
                         size_t k, bool *ok)
{
    IrShape written;
    if (p->shape.rank < 3 || nested_written_shape(prop->value, &written) < 3)
        return false;
    const char *what = arena_printf(b->c->arena, "%s of '%s'", p->suffix, n->name);
    bool same = written.rank == p->shape.rank;
    for (size_t d = 0; same && d < written.rank; d++)
        same = written.dim[d] == p->shape.dim[d];
    if (!same) {
        diag_error(b->c->diag, prop->value->loc, "%s has shape %s, expected %s (%s)", what,
                   param_shape_text(b->c, &written), param_shape_text(b->c, &p->shape),
                   p->layout ? p->layout : "");
        *ok = false;
        return true;
    }
    float *data = arena_array(b->c->arena, ir_shape_size(&p->shape), sizeof *data);
    size_t at = 0;
    *ok = data && nested_read(b, prop->value, &p->shape, 0, what, data, &at);
    n->param_init[k] = data;
    return true;
}

/* One tensor's values from its property of the block. */
static void model_param_value(ModelBuild *b, IrNode *n, const AstProp *prop, const IrParam *p,
                              size_t k)
{
    bool nested_ok;
    if (param_nested(b, n, prop, p, k, &nested_ok)) {
        b->ok &= nested_ok;
        return;
    }
    Matrix v;
    if (!value_matrix(b->c, prop->value, p->suffix, &v)) {
        b->ok = false;
        return;
    }
    if (!param_shape_matches(&v, &p->shape)) {
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
static bool model_count_params(ModelBuild *b, Loc loc, const IrNode *n)
{
    size_t count, total;
    if (!ir_node_param_count(n, &count) ||
        __builtin_add_overflow(b->m->n_params, count, &total) || total > LOWER_MAX_PARAMS) {
        diag_error(b->c->diag, loc, "model '%s' would have more than %zu parameters",
                   b->d->name, LOWER_MAX_PARAMS);
        return false;
    }
    b->m->n_params = total;
    return true;
}

static bool model_lookup(ModelBuild *b, const char *kind, Loc loc, bool activation, OpKind *k)
{
    if (!ir_op_lookup(kind, k) || *k == OP_INPUT) {
        model_unknown_op(b, kind, loc, activation);
        return false;
    }
    if (activation && !ir_ops[*k].activation) {
        diag_error(b->c->diag, loc, "'%s' is not an activation; only an activation can follow ','",
                   kind);
        b->ok = false;
        return false;
    }
    return true;
}

/* The optional `, act args` of a line: its own node LAYER.ACT reading the
 * line's node; the line's last node is then the activation. */
static void model_activation(ModelBuild *b, const AstLayer *l, size_t line)
{
    OpKind k;
    if (!model_lookup(b, l->act, l->act_loc, true, &k))
        return;
    Binding bd = {.inputs_known = true};
    if (!bind_args(b, &ir_ops[k], l->act_args, line, true, &bd) ||
        !bind_defaults(b, &ir_ops[k], l->act_loc, &bd)) {
        b->ok = false;
        b->line_node[line] = -1;
        return;
    }
    if (b->line_node[line] < 0)
        return;
    bd.inputs[0] = (size_t)b->line_node[line];
    bd.n_inputs = 1;
    const char *layer = b->names[line];
    const char *name = arena_printf(b->c->arena, "%s.%s", layer, l->act);
    b->line_node[line] = model_push(b, k, name ? name : l->act, layer, l->act_loc, &bd);
    if (b->line_node[line] < 0)
        b->ok = false;
}

static void model_line(ModelBuild *b, const AstLayer *l, size_t line)
{
    b->line_node[line] = -1;
    OpKind k;
    if (!model_lookup(b, l->kind, l->kind_loc, false, &k))
        return;
    const OpInfo *op = &ir_ops[k];
    Binding bd = {.inputs_known = true};
    bool ok = bind_args(b, op, l->args, line, false, &bd) && bind_defaults(b, op, l->kind_loc, &bd);
    if (!bd.from_given && !op->named_inputs) { /* the line above */
        bd.inputs_known = b->line_node[line - 1] >= 0;
        bd.inputs[0] = bd.inputs_known ? (size_t)b->line_node[line - 1] : 0;
        bd.input_locs[0] = (Loc){0};
        bd.n_inputs = 1;
    }
    if (l->has_block && !op->params) { /* the line's shape still counts */
        diag_error(b->c->diag, l->block_loc,
                   "only layers with parameters take a parameter block; '%s' has none", l->kind);
        b->ok = false;
    }
    if (ok && bd.inputs_known) {
        long at = model_push(b, k, b->names[line], b->names[line], l->loc, &bd);
        IrNode *n = at >= 0 ? &b->m->nodes[at] : NULL;
        Loc count_at = l->args ? l->args->value->loc : l->kind_loc;
        if (n && op->params && !model_count_params(b, count_at, n))
            at = -1;
        else if (n && l->has_block && op->params)
            model_params(b, l, n);
        b->line_node[line] = at;
        ok = at >= 0;
    }
    if (!ok)
        b->ok = false;
    if (l->act)
        model_activation(b, l, line);
}

/* `input N` or `input [C, L]` / `input [C, H, W]`: the shape of a sample. */
static bool model_input_shape(ModelBuild *b, const AstValue *v, IrShape *out)
{
    size_t dims = 0;
    if (v->kind == AST_NUMBER)
        return model_width(b, v, "input size", "features", &out->dim[0]) && (out->rank = 1);
    if (v->n < 1 || v->n > 3) {
        diag_error(b->c->diag, v->loc, "an input shape has 1 to 3 sizes ([N], [C, L] or "
                   "[C, H, W]), got %zu", v->n);
        return false;
    }
    size_t total = 1;
    for (const AstValue *it = v->items; it; it = it->next, dims++) {
        if (it->kind != AST_NUMBER) {
            value_type_error(b->c, it, "input size", "a positive integer");
            return false;
        }
        if (!model_width(b, it, "input size", "features", &out->dim[dims]))
            return false;
        if (__builtin_mul_overflow(total, out->dim[dims], &total) || total > LOWER_MAX_UNITS) {
            diag_error(b->c->diag, v->loc, "input shape has more than %zu values per sample",
                       LOWER_MAX_UNITS);
            return false;
        }
    }
    out->rank = dims;
    return true;
}

/* The first line must be `input ...`, and no other line may be. */
static bool model_input(ModelBuild *b)
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
    if (b->n_lines == 1) {
        diag_error(b->c->diag, b->d->name_loc, "model '%s' has no layers after 'input'", b->d->name);
        b->ok = false;
    }
    IrShape shape = {0};
    if (!model_input_shape(b, first->args->value, &shape))
        return false;
    IrNode *n = &b->m->nodes[b->m->n_nodes++];
    *n = (IrNode){.op = OP_INPUT, .name = "input", .layer = "input", .shape = shape,
                  .units = ir_shape_size(&shape), .loc = first->loc};
    b->line_node[0] = 0;
    return true;
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
    ModelBuild b = {c, d, m, NULL, NULL, NULL, n_lines, true};
    m->nodes = arena_array(c->arena, 2 * n_lines + 1, sizeof *m->nodes);
    b.lines = arena_array(c->arena, n_lines + 1, sizeof *b.lines);
    b.line_node = arena_array(c->arena, n_lines + 1, sizeof *b.line_node);
    b.names = model_names(&b, n_lines);
    if (!m->nodes || !b.lines || !b.line_node || !b.names) {
        diag_error(c->diag, d->name_loc, "out of memory");
        return;
    }
    size_t i = 0;
    for (const AstLayer *l = d->layers; l; l = l->next, i++) {
        b.lines[i] = l;
        b.line_node[i] = -1;
    }
    bool input_ok = model_input(&b);
    b.ok = b.ok && input_ok;
    for (i = 1; i < n_lines; i++)
        if (!b.lines[i]->is_input)
            model_line(&b, b.lines[i], i);
    if (input_ok) {
        m->in_units = m->nodes[0].units;
        m->out_units = m->nodes[m->n_nodes - 1].units;
    }
    sym->ok = b.ok && input_ok && n_lines > 1 && b.line_node[n_lines - 1] >= 0;
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
