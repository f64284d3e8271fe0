/* AST constructors for the grammar actions, and `nnc dump ast`: one node per
 * line, two spaces of indent per level, `@line:col` of each node's token.
 * The form is stable byte for byte (numbers with %.9g) for golden tests. */
#include <string.h>

#include "nnc/front.h"
#include "nnc/parse.h"

AstValue *ast_new_value(ParseState *ps, AstValueKind kind, Loc loc)
{
    AstValue *v = arena_alloc(ps->arena, sizeof *v);
    if (v) {
        v->kind = kind;
        v->loc = loc;
    }
    return v;
}

AstValue *ast_new_ref_value(ParseState *ps, AstRef r)
{
    AstValue *v = ast_new_value(ps, AST_IDENT, r.loc);
    size_t n = strlen(r.name), m = strlen(r.part);
    char *text = v ? arena_alloc(ps->arena, n + m + 2) : NULL;
    if (!text)
        return NULL;
    memcpy(text, r.name, n);
    text[n] = '.';
    memcpy(text + n + 1, r.part, m + 1);
    v->text = text;
    v->ref = r;
    return v;
}

AstArg *ast_new_arg(ParseState *ps, const char *name, Loc loc, AstValue *value)
{
    AstArg *a = arena_alloc(ps->arena, sizeof *a);
    if (a) {
        a->name = name;
        a->loc = loc;
        a->value = value;
    }
    return a;
}

AstProp *ast_new_prop(ParseState *ps, const char *name, Loc loc, AstValue *value, bool sweep)
{
    AstProp *p = arena_alloc(ps->arena, sizeof *p);
    if (p) {
        p->name = name;
        p->loc = loc;
        p->value = value;
        p->sweep = sweep;
    }
    return p;
}

AstLayer *ast_new_layer(ParseState *ps)
{
    return arena_alloc(ps->arena, sizeof(AstLayer));
}

AstDecl *ast_new_decl(ParseState *ps, AstDeclKind kind, Loc loc, const char *name, Loc name_loc)
{
    AstDecl *d = arena_alloc(ps->arena, sizeof *d);
    if (d) {
        d->kind = kind;
        d->loc = loc;
        d->name = name;
        d->name_loc = name_loc;
    }
    return d;
}

const char *ast_value_kind_name(AstValueKind k)
{
    switch (k) {
    case AST_NUMBER: return "number";
    case AST_STRING: return "string";
    case AST_BOOL: return "boolean";
    case AST_IDENT: return "identifier";
    case AST_CALL: return "call";
    case AST_LIST: return "list";
    }
    return "?";
}

/* ---- dump ---------------------------------------------------------------- */

static void dump_indent(FILE *out, int level)
{
    for (int i = 0; i < level; i++)
        fputs("  ", out);
}

static void dump_at(FILE *out, Loc loc)
{
    fprintf(out, " @%d:%d", loc.line, loc.col);
}

static void dump_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\x%02X", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static bool list_is_flat(const AstValue *v)
{
    for (const AstValue *it = v->items; it; it = it->next)
        if (it->kind != AST_NUMBER)
            return false;
    return true;
}

static void dump_value(FILE *out, const AstValue *v, int level);

/* Prints the head of v on the current line; children, if any, below it. */
static void dump_value_rest(FILE *out, const AstValue *v, int level)
{
    switch (v->kind) {
    case AST_NUMBER:
        fprintf(out, "%s %.9g", v->is_integer ? "int" : "number", v->number);
        dump_at(out, v->loc);
        fputc('\n', out);
        return;
    case AST_STRING:
        fputs("string ", out);
        dump_string(out, v->text);
        dump_at(out, v->loc);
        fputc('\n', out);
        return;
    case AST_BOOL:
        fprintf(out, "bool %s", v->boolean ? "true" : "false");
        dump_at(out, v->loc);
        fputc('\n', out);
        return;
    case AST_IDENT:
        fprintf(out, "ident %s", v->text);
        dump_at(out, v->loc);
        fputc('\n', out);
        return;
    case AST_CALL:
        fprintf(out, "call %s(%zu)", v->text, v->n);
        dump_at(out, v->loc);
        fputc('\n', out);
        for (const AstArg *a = v->args; a; a = a->next) {
            dump_indent(out, level + 1);
            if (a->name) {
                fprintf(out, "arg %s", a->name);
                dump_at(out, a->loc);
                fputs(" = ", out);
            } else {
                fputs("arg = ", out);
            }
            dump_value_rest(out, a->value, level + 1);
        }
        return;
    case AST_LIST:
        fprintf(out, "list[%zu]", v->n);
        dump_at(out, v->loc);
        /* A row of numbers stays on one line: matrices read as matrices. */
        if (list_is_flat(v)) {
            fputs(" = [", out);
            for (const AstValue *it = v->items; it; it = it->next)
                fprintf(out, "%s%.9g", it == v->items ? "" : ", ", it->number);
            fputs("]\n", out);
            return;
        }
        fputc('\n', out);
        for (const AstValue *it = v->items; it; it = it->next)
            dump_value(out, it, level + 1);
        return;
    }
}

static void dump_value(FILE *out, const AstValue *v, int level)
{
    dump_indent(out, level);
    dump_value_rest(out, v, level);
}

static void dump_props(FILE *out, const AstProp *p, int level)
{
    for (; p; p = p->next) {
        dump_indent(out, level);
        fprintf(out, "%s %s", p->sweep ? "sweep" : "prop", p->name);
        dump_at(out, p->loc);
        fputs(" = ", out);
        dump_value_rest(out, p->value, level);
    }
}

/* ` 4` for `dense 4`; ` (2)` for a call, whose arguments follow on
 * their own lines (dump_call_args). */
static void dump_layer_args(FILE *out, const AstArg *args, size_t n, bool call)
{
    if (call) {
        fprintf(out, " (%zu)", n);
        return;
    }
    for (const AstArg *a = args; a; a = a->next)
        fprintf(out, " %.9g", a->value->number);
}

static void dump_call_args(FILE *out, const char *what, const AstArg *args, int level)
{
    for (const AstArg *a = args; a; a = a->next) {
        dump_indent(out, level);
        if (a->name) {
            fprintf(out, "%s arg %s", what, a->name);
            dump_at(out, a->loc);
            fputs(" = ", out);
        } else {
            fprintf(out, "%s arg = ", what);
        }
        dump_value_rest(out, a->value, level);
    }
}

static void dump_layer(FILE *out, const AstLayer *l, int level)
{
    dump_indent(out, level);
    if (l->is_input) {
        const AstValue *v = l->args->value;
        if (v->kind == AST_NUMBER) {
            fprintf(out, "input %.9g", v->number);
        } else {
            fputs("input [", out);
            for (const AstValue *it = v->items; it; it = it->next)
                fprintf(out, "%s%.9g", it == v->items ? "" : ", ", it->number);
            fputc(']', out);
        }
        dump_at(out, l->loc);
        fputc('\n', out);
        return;
    }
    fprintf(out, "layer %s", l->name ? l->name : "-");
    dump_at(out, l->loc);
    fprintf(out, " kind %s", l->kind);
    dump_layer_args(out, l->args, l->n_args, l->call);
    if (l->act) {
        fprintf(out, ", %s", l->act);
        dump_layer_args(out, l->act_args, l->n_act_args, l->act_call);
    }
    fputc('\n', out);
    if (l->call)
        dump_call_args(out, l->kind, l->args, level + 1);
    if (l->act_call)
        dump_call_args(out, l->act, l->act_args, level + 1);
    if (l->has_block) {
        dump_indent(out, level + 1);
        fputs("params", out);
        dump_at(out, l->block_loc);
        fputc('\n', out);
        dump_props(out, l->params, level + 2);
    }
}

static void dump_ref(FILE *out, const AstRef *r)
{
    fprintf(out, " on %s%s%s", r->name, r->part ? "." : "", r->part ? r->part : "");
}

static void dump_decl(FILE *out, const AstDecl *d)
{
    static const char *const kinds[] = {"dataset", "model", "train", "evaluate"};
    fprintf(out, "  %s %s", kinds[d->kind], d->name);
    if (d->kind == DECL_TRAIN || d->kind == DECL_EVALUATE)
        dump_ref(out, &d->on);
    dump_at(out, d->loc);
    fputc('\n', out);
    if (d->kind == DECL_MODEL) {
        for (const AstLayer *l = d->layers; l; l = l->next)
            dump_layer(out, l, 2);
        return;
    }
    dump_props(out, d->props, 2);
}

void ast_dump(FILE *out, const AstFile *file)
{
    fprintf(out, "file %s\n", file->src && file->src->path ? file->src->path : "-");
    for (const AstDecl *d = file->decls; d; d = d->next)
        dump_decl(out, d);
}

/* ---- equality ------------------------------------------------------------ */

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool value_equal(const AstValue *a, const AstValue *b);

static bool values_equal(const AstValue *a, const AstValue *b)
{
    for (; a && b; a = a->next, b = b->next)
        if (!value_equal(a, b))
            return false;
    return !a && !b;
}

static bool args_equal(const AstArg *a, const AstArg *b)
{
    for (; a && b; a = a->next, b = b->next)
        if (!same_text(a->name, b->name) || !value_equal(a->value, b->value))
            return false;
    return !a && !b;
}

/* Numbers compare bit for bit: -0 and 0 print differently. */
static bool value_equal(const AstValue *a, const AstValue *b)
{
    if (a->kind != b->kind || a->n != b->n)
        return false;
    switch (a->kind) {
    case AST_NUMBER:
        return a->is_integer == b->is_integer && memcmp(&a->number, &b->number, sizeof a->number) == 0;
    case AST_STRING:
    case AST_IDENT: return same_text(a->text, b->text);
    case AST_BOOL: return a->boolean == b->boolean;
    case AST_CALL: return same_text(a->text, b->text) && args_equal(a->args, b->args);
    case AST_LIST: return values_equal(a->items, b->items);
    }
    return false;
}

static bool props_equal(const AstProp *a, const AstProp *b)
{
    for (; a && b; a = a->next, b = b->next)
        if (!same_text(a->name, b->name) || a->sweep != b->sweep || !value_equal(a->value, b->value))
            return false;
    return !a && !b;
}

static bool layer_equal(const AstLayer *a, const AstLayer *b)
{
    return a->is_input == b->is_input && same_text(a->name, b->name) &&
           same_text(a->kind, b->kind) && a->call == b->call && args_equal(a->args, b->args) &&
           same_text(a->act, b->act) && a->act_call == b->act_call &&
           args_equal(a->act_args, b->act_args) && a->has_block == b->has_block &&
           props_equal(a->params, b->params);
}

static bool decl_equal(const AstDecl *a, const AstDecl *b)
{
    if (a->kind != b->kind || !same_text(a->name, b->name) || a->has_block != b->has_block ||
        !same_text(a->on.name, b->on.name) || !same_text(a->on.part, b->on.part) ||
        !props_equal(a->props, b->props))
        return false;
    const AstLayer *la = a->layers, *lb = b->layers;
    for (; la && lb; la = la->next, lb = lb->next)
        if (!layer_equal(la, lb))
            return false;
    return !la && !lb;
}

bool ast_equal(const AstFile *a, const AstFile *b)
{
    if (a->n_decls != b->n_decls)
        return false;
    const AstDecl *da = a->decls, *db = b->decls;
    for (; da && db; da = da->next, db = db->next)
        if (!decl_equal(da, db))
            return false;
    return !da && !db;
}

static size_t args_put(char *buf, size_t size, size_t len, const char *fmt, const char *text,
                       double number)
{
    if (len >= size)
        return len;
    int n = text ? snprintf(buf + len, size - len, fmt, text) : snprintf(buf + len, size - len, fmt, number);
    return n > 0 ? len + (size_t)n : len;
}

const char *ast_args_text(const AstArg *args, bool call, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    if (call)
        len = args_put(buf, size, len, "%s", "(", 0);
    for (const AstArg *a = args; a; a = a->next) {
        const AstValue *v = a->value;
        len = args_put(buf, size, len, "%s", call ? (a == args ? "" : ", ") : " ", 0);
        if (a->name) {
            len = args_put(buf, size, len, "%s", a->name, 0);
            len = args_put(buf, size, len, "%s", " = ", 0);
        }
        switch (v->kind) {
        case AST_NUMBER: len = args_put(buf, size, len, "%g", NULL, v->number); break;
        case AST_STRING: len = args_put(buf, size, len, "\"%s\"", v->text, 0); break;
        case AST_BOOL: len = args_put(buf, size, len, "%s", v->boolean ? "true" : "false", 0); break;
        case AST_IDENT: len = args_put(buf, size, len, "%s", v->text, 0); break;
        case AST_CALL: len = args_put(buf, size, len, "%s(...)", v->text, 0); break;
        case AST_LIST: len = args_put(buf, size, len, "%s", "[...]", 0); break;
        }
    }
    if (call)
        args_put(buf, size, len, "%s", ")", 0);
    return buf;
}
