/* Property tables and value readers shared by every block: each block kind
 * is one PropSpec table, and unknown / repeated / mistyped properties are
 * reported here the same way for all of them. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "lower.h"

const char *choices_text(Lower *c, const char *const *choices)
{
    const char *text = "";
    for (size_t i = 0; choices[i]; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
        text = arena_printf(c->arena, "%s%s%s", text, sep, choices[i]);
        if (!text)
            return "?";
    }
    return text;
}

const char *number_text(Lower *c, double v)
{
    const char *s = floor(v) == v && fabs(v) < 1e18 ? arena_printf(c->arena, "%.0f", v)
                                                    : arena_printf(c->arena, "%.9g", v);
    return s ? s : "?";
}

const AstProp *props_find(const AstProp *props, const char *name)
{
    for (const AstProp *p = props; p; p = p->next)
        if (!p->sweep && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

/* "got string", or the number itself when only its value is wrong. */
static const char *value_got(Lower *c, const AstValue *v)
{
    switch (v->kind) {
    case AST_NUMBER:
        return number_text(c, v->number);
    case AST_IDENT: {
        const char *s = arena_printf(c->arena, "identifier '%s'", v->text);
        return s ? s : "a name";
    }
    case AST_STRING:
    case AST_BOOL:
    case AST_CALL:
    case AST_LIST: break;
    }
    return ast_value_kind_name(v->kind);
}

void value_type_error(Lower *c, const AstValue *v, const char *what, const char *expected)
{
    diag_error(c->diag, v->loc, "%s must be %s, got %s", what, expected, value_got(c, v));
}

static bool is_integral(double v)
{
    return floor(v) == v;
}

/* Checks one prop's value against its declared type and range. */
static bool prop_check_type(Lower *c, const AstProp *p, const PropSpec *s)
{
    const AstValue *v = p->value;
    double unused;
    switch (s->type) {
    case PT_SPLIT:
        if (v->kind == AST_LIST)
            return true; /* its fractions are checked where the split is made */
        /* fall through - one fraction */
    case PT_NUMBER:
    case PT_INT:
        if (s->range)
            return value_in_range(c, v, s->name, *s->range, &unused);
        if (v->kind == AST_NUMBER && (s->type == PT_NUMBER || is_integral(v->number)))
            return true;
        value_type_error(c, v, s->name, s->type == PT_INT ? "an integer" : "a number");
        return false;
    case PT_BOOL:
        if (v->kind == AST_BOOL)
            return true;
        value_type_error(c, v, s->name, "true or false");
        return false;
    case PT_STRING:
        if (v->kind == AST_STRING)
            return true;
        value_type_error(c, v, s->name, "a string");
        return false;
    case PT_LIST:
        if (v->kind == AST_LIST)
            return true;
        value_type_error(c, v, s->name, "a list");
        return false;
    case PT_NAME:
        if (v->kind == AST_IDENT)
            return true;
        value_type_error(c, v, s->name, "a layer name");
        return false;
    case PT_DATASET:
        if (v->kind == AST_IDENT)
            return true;
        value_type_error(c, v, s->name, "a dataset, e.g. digits.valid");
        return false;
    case PT_CALL:
        if (s->choices)
            break; /* the callee must be one of them */
        if (v->kind == AST_CALL || v->kind == AST_IDENT)
            return true;
        value_type_error(c, v, s->name, "a call like adam(lr = 0.01)");
        return false;
    case PT_COLUMN:
        if (v->kind == AST_NUMBER && is_integral(v->number))
            return true;
        /* fall through: otherwise it must be one of the names */
    case PT_IDENT:
        break;
    }
    const char *expected = arena_printf(c->arena, "%s%s", choices_text(c, s->choices),
                                        s->type == PT_COLUMN ? " or a column index" : "");
    if (v->kind != AST_IDENT && !(s->type == PT_CALL && v->kind == AST_CALL)) {
        const char *one_of = expected ? arena_printf(c->arena, "one of %s", expected) : NULL;
        value_type_error(c, v, s->name, one_of ? one_of : "a name");
        return false;
    }
    size_t n = 0;
    while (s->choices[n])
        n++;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->choices[i], v->text) == 0)
            return true;
    const char *near = suggest_nearest(v->text, s->choices, n);
    if (near)
        diag_error(c->diag, v->loc, "unknown %s '%s'; did you mean '%s'?", s->name, v->text, near);
    else
        diag_error(c->diag, v->loc, "unknown %s '%s' (expected %s)", s->name, v->text,
                   expected ? expected : choices_text(c, s->choices));
    return false;
}

static void prop_unknown(Lower *c, const AstProp *p, const PropSpec *spec, size_t n,
                         const char *block)
{
    const char *names[PROPS_MAX];
    size_t m = n < PROPS_MAX ? n : PROPS_MAX;
    for (size_t i = 0; i < m; i++)
        names[i] = spec[i].name;
    const char *near = suggest_nearest(p->name, names, m);
    if (near)
        diag_error(c->diag, p->loc, "unknown property '%s' in %s; did you mean '%s'?",
                   p->name, block, near);
    else
        diag_error(c->diag, p->loc, "unknown property '%s' in %s", p->name, block);
}

int props_take(Lower *c, const AstProp *p, const PropSpec *spec, size_t n, const char *block,
               const AstProp **slots, const AstProp **seen)
{
    size_t i = 0;
    while (i < n && strcmp(spec[i].name, p->name) != 0)
        i++;
    if (i == n) {
        prop_unknown(c, p, spec, n, block);
        return -1;
    }
    if (seen[i]) {
        diag_error(c->diag, p->loc, "property '%s' is given twice", p->name);
        diag_note(c->diag, seen[i]->loc, "first given here");
        return -1;
    }
    seen[i] = p;
    if (!prop_check_type(c, p, &spec[i]))
        return -1;
    slots[i] = p;
    return (int)i;
}

bool props_collect(Lower *c, const AstProp *props, const PropSpec *spec, size_t n,
                   const char *block, const AstProp **slots)
{
    bool ok = true;
    const AstProp *seen[PROPS_MAX] = {0}; /* first occurrence, even when mistyped */
    for (size_t i = 0; i < n; i++)
        slots[i] = NULL;
    for (const AstProp *p = props; p; p = p->next)
        if (!p->sweep)
            ok &= props_take(c, p, spec, n, block, slots, seen) >= 0;
    return ok;
}

bool value_in_range(Lower *c, const AstValue *v, const char *what, Range r, double *out)
{
    if (v->kind != AST_NUMBER || (r.integer && !is_integral(v->number))) {
        value_type_error(c, v, what, r.integer ? "an integer" : "a number");
        return false;
    }
    double x = v->number;
    bool lo_bad = r.lo_open ? !(x > r.lo) : !(x >= r.lo);
    bool hi_bad = r.hi_open ? !(x < r.hi) : !(x <= r.hi);
    if (!lo_bad && !hi_bad) {
        *out = x;
        return true;
    }
    const char *got = number_text(c, x);
    /* Integers and half-open-ended ranges name the bound that was crossed;
     * a real interval such as [0, 1) is named whole. */
    if (r.integer || isinf(r.hi) || isinf(r.lo)) {
        if (lo_bad)
            diag_error(c->diag, v->loc, "%s must be %s %s, got %s", what,
                       r.lo_open ? ">" : ">=", number_text(c, r.lo), got);
        else
            diag_error(c->diag, v->loc, "%s must be %s %s, got %s", what,
                       r.hi_open ? "<" : "<=", number_text(c, r.hi), got);
        return false;
    }
    diag_error(c->diag, v->loc, "%s must be in %c%s, %s%c, got %s", what, r.lo_open ? '(' : '[',
               number_text(c, r.lo), number_text(c, r.hi), r.hi_open ? ')' : ']', got);
    return false;
}

/* ---- matrices ----------------------------------------------------------- */

static bool value_float(Lower *c, const AstValue *v, const char *what, float *out)
{
    if (v->kind != AST_NUMBER) {
        diag_error(c->diag, v->loc, "%s values must be numbers, got %s", what,
                   ast_value_kind_name(v->kind));
        return false;
    }
    if (fabs(v->number) > FLT_MAX) {
        diag_error(c->diag, v->loc, "%s value %.9g does not fit in a float", what, v->number);
        return false;
    }
    *out = (float)v->number;
    return true;
}

/* Rows of a matrix: every item a list of the first row's length. */
static bool matrix_check_rows(Lower *c, const AstValue *v, const char *what, size_t cols)
{
    bool ok = true;
    size_t r = 1;
    for (const AstValue *row = v->items; row; row = row->next, r++) {
        if (row->kind != AST_LIST) {
            diag_error(c->diag, row->loc, "row %zu of %s must be a list like the first row, got %s",
                       r, what, ast_value_kind_name(row->kind));
            ok = false;
        } else if (row->n != cols) {
            diag_error(c->diag, row->loc, "row %zu has %zu value%s, expected %zu", r, row->n,
                       row->n == 1 ? "" : "s", cols);
            ok = false;
        }
    }
    if (ok && cols == 0) {
        diag_error(c->diag, v->items->loc, "rows of %s must not be empty", what);
        ok = false;
    }
    return ok;
}

bool value_matrix(Lower *c, const AstValue *v, const char *what, Matrix *out)
{
    memset(out, 0, sizeof *out);
    if (v->kind != AST_LIST) {
        value_type_error(c, v, what, "a list");
        return false;
    }
    bool nested = v->items && v->items->kind == AST_LIST;
    size_t cols = nested ? v->items->n : 1;
    if (nested && !matrix_check_rows(c, v, what, cols))
        return false;
    out->rows = v->n;
    out->cols = cols;
    out->flat = !nested;
    /* Every cell was written in the source, so rows * cols cannot overflow. */
    size_t cells = out->rows * cols;
    out->data = arena_array(c->arena, cells > 0 ? cells : 1, sizeof(float));
    if (!out->data) {
        diag_error(c->diag, v->loc, "out of memory reading %s", what);
        return false;
    }
    bool ok = true;
    size_t k = 0;
    for (const AstValue *row = v->items; row; row = row->next) {
        if (!nested) {
            ok &= value_float(c, row, what, &out->data[k++]);
            continue;
        }
        for (const AstValue *e = row->items; e; e = e->next)
            ok &= value_float(c, e, what, &out->data[k++]);
    }
    return ok;
}

const char *matrix_shape(Lower *c, const Matrix *m)
{
    const char *s = m->flat ? arena_printf(c->arena, "[%zu]", m->rows)
                            : arena_printf(c->arena, "[%zu, %zu]", m->rows, m->cols);
    return s ? s : "?";
}

Loc matrix_elem_loc(const AstValue *v, size_t row, size_t col)
{
    const AstValue *r = v->items;
    for (size_t i = 0; r && i < row; i++)
        r = r->next;
    if (!r)
        return v->loc;
    if (r->kind != AST_LIST)
        return r->loc;
    const AstValue *e = r->items;
    for (size_t j = 0; e && j < col; j++)
        e = e->next;
    return e ? e->loc : r->loc;
}
