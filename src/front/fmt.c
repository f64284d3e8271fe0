/* nnc fmt: prints a .nn file in its canonical layout (docs/fmt.md). The
 * parser checks the file and records every token and comment
 * (front_parse_tokens); the printer walks the tree and consumes those tokens
 * in order, so numbers and strings keep their source text and each comment
 * comes out exactly once, in order. Lines are collected first, then aligned
 * (rows of one-line blocks, end-of-line comments) and written. */
#include "nnc/fmt.h"

#include <string.h>

#include "nnc/front.h"
#include "nnc/parse.h"
#include "nn.tab.h"

/* FMT_COMMENT_COL: end-of-line comments start at column 37 at the least,
 * as in the language's examples (`csv     = "data/digits.csv"     # ...`). */
enum { FMT_INDENT = 4, FMT_COMMENT_COL = 36 };

/* Bytes [start, end) of a line's code: a one-line block's head or item. */
typedef struct FmtSpan {
    size_t start, end;
} FmtSpan;

typedef struct FmtLine {
    size_t indent;
    bool blank;                 /* one blank line before it */
    const char *code;           /* without the indent; "" for a comment line */
    size_t len;
    const ParseToken *comment;  /* at the end of the code, or the whole line */
    size_t comment_col;         /* where an end-of-line comment starts */
    FmtSpan *cells;             /* a one-line block: head, then each item */
    size_t n_cells;
    int row;                    /* what the row is (rows align with their kind) */
} FmtLine;

typedef struct FmtBuf {
    char *p;
    size_t len, cap;
} FmtBuf;

typedef struct Fmt {
    Arena *a;
    const Source *src;
    const ParseToken *tok;
    size_t n_tok;
    size_t *close;      /* close[i]: the bracket that closes bracket i */
    size_t *comments;   /* comments[i]: how many comments come before token i */
    size_t cur;         /* the next token to consume */
    size_t *pending;    /* comments consumed, not yet placed */
    size_t n_pending, cap_pending;
    FmtBuf line;        /* the line being built, without its indent */
    size_t cols;        /* code points in line */
    size_t indent;
    bool blank;
    bool no_blank;      /* the next line pushed follows an opening bracket */
    int nest;           /* inside expanded lists and calls: no blank lines */
    int line_nest;      /* nest when the line being built started */
    FmtSpan *cells;
    size_t n_cells, cap_cells;
    int row;
    bool flat;          /* an attempt to write a construct on one line */
    bool overflow;      /* the attempt went past limit */
    size_t limit;
    FmtLine *lines;
    size_t n_lines, cap_lines;
    bool failed;        /* the tokens are not what the tree says, or oom */
    bool oom;           /* out of memory */
} Fmt;

/* A block's items: props (dataset, train, evaluate, a layer's parameters)
 * or the layers of a model. row says what its one-line rows align with. */
typedef struct FmtBlock {
    const AstProp *props;
    const AstLayer *layers;
    int row;
} FmtBlock;

enum { ROW_LAYER = DECL_EVALUATE + 1 };

/* ---- memory and text ----------------------------------------------------- */

/* items grown to hold n + 1 of size bytes (doubling, in the arena); NULL
 * when memory runs out, items untouched. */
static void *fmt_grow(Fmt *f, void *items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return items;
    size_t more = *cap ? *cap * 2 : 64;
    void *p = arena_array(f->a, more, size);
    if (!p) {
        f->failed = f->oom = true;
        return NULL;
    }
    if (n)
        memcpy(p, items, n * size);
    *cap = more;
    return p;
}

static void buf_put(Fmt *f, FmtBuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = arena_alloc(f->a, cap);
        if (!p) {
            f->failed = f->oom = true;
            return;
        }
        if (b->len)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_spaces(Fmt *f, FmtBuf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_put(f, b, " ", 1);
}

/* Columns of UTF-8 text: code points (continuation bytes do not count). */
static size_t text_cols(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++)
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cols;
}

static const char *tok_text(const Fmt *f, const ParseToken *t)
{
    return f->src->text + t->offset;
}

/* A comment's length without trailing blanks (a CRLF file's '\r' too). */
static size_t comment_len(const Fmt *f, const ParseToken *t)
{
    const char *s = tok_text(f, t);
    size_t n = (size_t)t->loc.len;
    while (n > 1 && strchr(" \t\r\f\v", s[n - 1]))
        n--;
    return n;
}

/* ---- tokens -------------------------------------------------------------- */

static size_t fmt_next(const Fmt *f)
{
    size_t i = f->cur;
    while (i < f->n_tok && f->tok[i].kind == PARSE_COMMENT)
        i++;
    return i;
}

static bool fmt_next_is(const Fmt *f, int kind)
{
    size_t i = fmt_next(f);
    return i < f->n_tok && f->tok[i].kind == kind;
}

static void fmt_pend(Fmt *f, size_t i)
{
    size_t *p = fmt_grow(f, f->pending, &f->cap_pending, f->n_pending, sizeof *p);
    if (!p)
        return;
    f->pending = p;
    f->pending[f->n_pending++] = i;
}

/* Consumes the next token, which must be of kind; the comments before it
 * wait for the end of the line. */
static const ParseToken *fmt_take(Fmt *f, int kind)
{
    while (f->cur < f->n_tok && f->tok[f->cur].kind == PARSE_COMMENT)
        fmt_pend(f, f->cur++);
    if (f->cur >= f->n_tok || f->tok[f->cur].kind != kind) {
        f->failed = true;
        return NULL;
    }
    return &f->tok[f->cur++];
}

/* Appends to the line; in an attempt, stops at the limit. */
static void fmt_put(Fmt *f, const char *s, size_t n)
{
    f->cols += text_cols(s, n);
    if (f->flat && f->indent + f->cols > f->limit)
        f->overflow = true;
    if (!f->overflow)
        buf_put(f, &f->line, s, n);
}

static void fmt_str(Fmt *f, const char *s)
{
    fmt_put(f, s, strlen(s));
}

/* Consumes the next token (of kind) and writes it as the source has it. */
static void fmt_word(Fmt *f, int kind)
{
    const ParseToken *t = fmt_take(f, kind);
    if (t)
        fmt_put(f, tok_text(f, t), (size_t)t->loc.len);
}

/* Consumes an optional token (a list's commas are rewritten, not copied). */
static void fmt_skip(Fmt *f, int kind)
{
    if (fmt_next_is(f, kind))
        fmt_take(f, kind);
}

/* The opening bracket of kind at the next token, or n_tok (and failed). */
static size_t fmt_open(Fmt *f, int kind)
{
    size_t i = fmt_next(f);
    if (i >= f->n_tok || f->tok[i].kind != kind) {
        f->failed = true;
        return f->n_tok;
    }
    return i;
}

static bool fmt_has_comment(const Fmt *f, size_t open)
{
    return f->comments[f->close[open]] > f->comments[open];
}

static bool fmt_one_line(const Fmt *f, size_t open)
{
    return f->tok[open].loc.line == f->tok[f->close[open]].loc.line;
}

/* ---- lines --------------------------------------------------------------- */

/* The source has a blank line before token i. */
static bool blank_before(const Fmt *f, size_t i)
{
    return i > 0 && i < f->n_tok && f->tok[i].loc.line - f->tok[i - 1].loc.line > 1;
}

/* Comment i ends a line of code in the source (rather than having its own). */
static bool ends_code(const Fmt *f, size_t i)
{
    return i > 0 && f->tok[i - 1].loc.line == f->tok[i].loc.line;
}

static void fmt_push(Fmt *f, FmtLine line, int nest)
{
    if (f->no_blank || nest > 0)
        line.blank = false;
    f->no_blank = false;
    FmtLine *p = fmt_grow(f, f->lines, &f->cap_lines, f->n_lines, sizeof *p);
    if (!p)
        return;
    f->lines = p;
    f->lines[f->n_lines++] = line;
}

static FmtSpan *fmt_copy_cells(Fmt *f)
{
    if (!f->n_cells)
        return NULL;
    FmtSpan *c = arena_array(f->a, f->n_cells, sizeof *c);
    if (c)
        memcpy(c, f->cells, f->n_cells * sizeof *c);
    else
        f->failed = f->oom = true;
    return c;
}

/* Ends the line being built. Every comment up to the next token is placed
 * now: the first one, when it ended a line of code in the source too, at
 * the end of this line; the others on lines of their own at comment_indent.
 * opens: the line ends with an opening bracket (no blank line after it). */
static void fmt_line_end(Fmt *f, size_t comment_indent, bool opens)
{
    while (f->cur < f->n_tok && f->tok[f->cur].kind == PARSE_COMMENT)
        fmt_pend(f, f->cur++);
    size_t k = 0;
    if (f->line.len > 0) {
        FmtLine line = {.indent = f->indent, .blank = f->blank, .len = f->line.len,
                        .code = arena_strndup(f->a, f->line.p, f->line.len),
                        .cells = fmt_copy_cells(f), .n_cells = f->n_cells, .row = f->row};
        if (!line.code)
            f->failed = f->oom = true;
        if (f->n_pending > 0 && ends_code(f, f->pending[0]))
            line.comment = &f->tok[f->pending[k++]];
        fmt_push(f, line, f->line_nest);
        f->no_blank = opens;
    }
    for (; k < f->n_pending; k++) {
        size_t i = f->pending[k];
        fmt_push(f, (FmtLine){.indent = comment_indent, .blank = blank_before(f, i), .code = "",
                              .comment = &f->tok[i]}, f->nest);
    }
    f->n_pending = 0;
    f->line.len = 0;
    f->cols = 0;
    f->n_cells = 0;
    f->blank = false;
}

static void fmt_line_start(Fmt *f, size_t indent, bool blank)
{
    f->indent = indent;
    f->blank = blank;
    f->line_nest = f->nest;
}

/* Marks line i (or the line being built) as following a blank line. */
static void fmt_mark_blank(Fmt *f, size_t i)
{
    if (i < f->n_lines)
        f->lines[i].blank = true;
    else
        f->blank = true;
}

/* Records cell [start, line.len) of a one-line block. */
static void fmt_cell(Fmt *f, size_t start)
{
    FmtSpan *c = fmt_grow(f, f->cells, &f->cap_cells, f->n_cells, sizeof *c);
    if (!c)
        return;
    f->cells = c;
    f->cells[f->n_cells++] = (FmtSpan){start, f->line.len};
}

/* Renders arg with render on the rest of the line, keeping it when it fits
 * in the width less trail columns (a ',' that must follow); otherwise puts
 * everything back as it was and returns false. */
static bool fmt_try(Fmt *f, void (*render)(Fmt *, const void *), const void *arg, size_t trail)
{
    size_t cur = f->cur, len = f->line.len, cols = f->cols, n_pending = f->n_pending;
    size_t n_cells = f->n_cells;
    f->flat = true;
    f->overflow = false;
    f->limit = FMT_WIDTH > trail ? FMT_WIDTH - trail : 0;
    render(f, arg);
    f->flat = false;
    if (!f->overflow)
        return true;
    f->overflow = false;
    f->cur = cur;
    f->line.len = len;
    f->cols = cols;
    f->n_pending = n_pending;
    f->n_cells = n_cells;
    return false;
}

/* ---- values -------------------------------------------------------------- */

static void fmt_value(Fmt *f, const AstValue *v, size_t indent, size_t trail);

static bool list_is_table(const AstValue *v)
{
    for (const AstValue *it = v->items; it; it = it->next)
        if (it->kind == AST_LIST || it->kind == AST_CALL)
            return true;
    return false;
}

static void fmt_list_flat(Fmt *f, const void *arg)
{
    const AstValue *v = arg;
    fmt_word(f, '[');
    for (const AstValue *it = v->items; it; it = it->next) {
        if (it != v->items)
            fmt_str(f, ", ");
        fmt_value(f, it, 0, 0);
        fmt_skip(f, ',');
    }
    fmt_word(f, ']');
}

/* Ends an item line inside an expanded list or call and starts the next. */
static void fmt_break(Fmt *f, size_t indent)
{
    fmt_line_end(f, indent, false);
    fmt_line_start(f, indent, false);
}

/* A list of lists or calls, one item per line, each with its ','. */
static void fmt_list_lines(Fmt *f, const AstValue *v, size_t indent)
{
    size_t inner = indent + FMT_INDENT;
    fmt_word(f, '[');
    f->nest++;
    fmt_line_end(f, inner, true);
    for (const AstValue *it = v->items; it; it = it->next) {
        fmt_line_start(f, inner, false);
        fmt_value(f, it, inner, 1);
        fmt_skip(f, ',');
        fmt_str(f, ",");
        fmt_line_end(f, inner, false);
    }
    f->nest--;
    fmt_line_start(f, indent, false);
    fmt_word(f, ']');
}

/* A list of scalars, as many per line as fit; a comment ends its line. */
static void fmt_list_fill(Fmt *f, const AstValue *v, size_t indent)
{
    size_t inner = indent + FMT_INDENT;
    fmt_word(f, '[');
    f->nest++;
    fmt_line_end(f, inner, true);
    fmt_line_start(f, inner, false);
    for (const AstValue *it = v->items; it; it = it->next) {
        size_t next = fmt_next(f);
        size_t w = next < f->n_tok ? text_cols(tok_text(f, &f->tok[next]), (size_t)f->tok[next].loc.len) : 0;
        if (f->line.len > 0 && inner + f->cols + 1 + w + 1 > FMT_WIDTH)
            fmt_break(f, inner);
        else if (f->line.len > 0)
            fmt_str(f, " ");
        fmt_value(f, it, inner, 1);
        fmt_skip(f, ',');
        fmt_str(f, ",");
        if (f->n_pending > 0 || (f->cur < f->n_tok && f->tok[f->cur].kind == PARSE_COMMENT))
            fmt_break(f, inner);
    }
    fmt_line_end(f, inner, false);
    f->nest--;
    fmt_line_start(f, indent, false);
    fmt_word(f, ']');
}

/* On one line when it fits, has no comment inside, and is not a table the
 * user wrote over several lines; else wrapped. */
static void fmt_list(Fmt *f, const AstValue *v, size_t indent, size_t trail)
{
    size_t open = fmt_open(f, '[');
    if (open >= f->n_tok)
        return;
    if (f->flat) {
        fmt_list_flat(f, v);
        return;
    }
    bool table = list_is_table(v);
    bool kept = table && !fmt_one_line(f, open);
    if (!fmt_has_comment(f, open) && !kept && fmt_try(f, fmt_list_flat, v, trail))
        return;
    if (table)
        fmt_list_lines(f, v, indent);
    else
        fmt_list_fill(f, v, indent);
}

static void fmt_arg(Fmt *f, const AstArg *a, size_t indent, size_t trail)
{
    if (a->name) {
        fmt_word(f, IDENT);
        fmt_str(f, " ");
        fmt_word(f, '=');
        fmt_str(f, " ");
    }
    fmt_value(f, a->value, indent, trail);
}

static void fmt_args_flat(Fmt *f, const void *arg)
{
    const AstValue *v = arg;
    fmt_word(f, '(');
    for (const AstArg *a = v->args; a; a = a->next) {
        if (a != v->args) {
            fmt_word(f, ',');
            fmt_str(f, " ");
        }
        fmt_arg(f, a, 0, 0);
    }
    fmt_word(f, ')');
}

/* One argument per line; a call takes no trailing ','. */
static void fmt_args_lines(Fmt *f, const AstValue *v, size_t indent)
{
    size_t inner = indent + FMT_INDENT;
    fmt_word(f, '(');
    f->nest++;
    fmt_line_end(f, inner, true);
    for (const AstArg *a = v->args; a; a = a->next) {
        fmt_line_start(f, inner, false);
        fmt_arg(f, a, inner, a->next ? 1 : 0);
        if (a->next)
            fmt_word(f, ',');
        fmt_line_end(f, inner, false);
    }
    f->nest--;
    fmt_line_start(f, indent, false);
    fmt_word(f, ')');
}

static void fmt_call(Fmt *f, const AstValue *v, size_t indent, size_t trail)
{
    fmt_word(f, IDENT);
    size_t open = fmt_open(f, '(');
    if (open >= f->n_tok)
        return;
    if (f->flat) {
        fmt_args_flat(f, v);
        return;
    }
    if (!fmt_has_comment(f, open) && fmt_try(f, fmt_args_flat, v, trail))
        return;
    fmt_args_lines(f, v, indent);
}

static void fmt_value(Fmt *f, const AstValue *v, size_t indent, size_t trail)
{
    switch (v->kind) {
    case AST_NUMBER: fmt_word(f, NUMBER); return;
    case AST_STRING: fmt_word(f, STRING); return;
    case AST_BOOL: fmt_word(f, v->boolean ? TRUE : FALSE); return;
    case AST_IDENT:
        fmt_word(f, fmt_next_is(f, INPUT) ? INPUT : IDENT); /* `from = input` */
        if (v->ref.part) { /* `validate = digits.valid` */
            fmt_word(f, '.');
            fmt_word(f, strcmp(v->ref.part, "train") == 0 ? TRAIN : IDENT);
        }
        return;
    case AST_CALL: fmt_call(f, v, indent, trail); return;
    case AST_LIST: fmt_list(f, v, indent, trail); return;
    }
}

/* ---- blocks -------------------------------------------------------------- */

static void fmt_block(Fmt *f, const FmtBlock *b, size_t indent);

/* `key = value`, the key padded to width (0 on one line). */
static void fmt_prop(Fmt *f, const AstProp *p, size_t width, size_t indent)
{
    size_t w = strlen(p->name);
    if (p->sweep) {
        fmt_word(f, SWEEP);
        fmt_str(f, " ");
        w += strlen("sweep ");
    }
    fmt_word(f, IDENT);
    for (; w < width; w++)
        fmt_str(f, " ");
    fmt_str(f, " ");
    fmt_word(f, '=');
    fmt_str(f, " ");
    fmt_value(f, p->value, indent, 0);
}

static void fmt_numbers(Fmt *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fmt_str(f, " ");
        fmt_word(f, NUMBER);
    }
}

/* A kind and its arguments: `dense 4`, or a call laid out like an
 * optimizer's (fmt_call reads only the arguments of the value). */
static void fmt_callee(Fmt *f, const AstArg *args, size_t n, bool call, size_t indent)
{
    if (!call) {
        fmt_word(f, IDENT);
        fmt_numbers(f, n);
        return;
    }
    AstValue v = {.kind = AST_CALL, .args = (AstArg *)args, .n = n};
    fmt_call(f, &v, indent, 0);
}

/* `input N` / `input [C, H, W]`, or `[name: ]kind args[, act args][ {...}]`
 * on one line. */
static void fmt_layer(Fmt *f, const AstLayer *l, size_t indent)
{
    if (l->is_input) {
        fmt_word(f, INPUT);
        fmt_str(f, " ");
        fmt_value(f, l->args->value, indent, 0);
        return;
    }
    if (l->name) {
        fmt_word(f, IDENT);
        fmt_word(f, ':');
        fmt_str(f, " ");
    }
    fmt_callee(f, l->args, l->n_args, l->call, indent);
    if (l->act) {
        fmt_word(f, ',');
        fmt_str(f, " ");
        fmt_callee(f, l->act_args, l->n_act_args, l->act_call, indent);
    }
    if (l->has_block)
        fmt_block(f, &(FmtBlock){.props = l->params, .row = ROW_LAYER}, indent);
}

/* The width keys are padded to in an expanded block: `sweep lr` counts whole. */
static size_t key_width(const AstProp *p)
{
    size_t w = 0;
    for (; p; p = p->next) {
        size_t n = strlen(p->name) + (p->sweep ? strlen("sweep ") : 0);
        w = n > w ? n : w;
    }
    return w;
}

/* `{ item  item }`. At the start of a row (cells) each item is a cell, so
 * that consecutive rows can be aligned as a table. */
static void fmt_block_flat(Fmt *f, const FmtBlock *b, bool cells)
{
    if (cells) {
        fmt_cell(f, 0);
        f->row = b->row;
    }
    fmt_str(f, " ");
    fmt_word(f, '{');
    fmt_str(f, " ");
    for (const AstProp *p = b->props; p; p = p->next) {
        size_t start = f->line.len;
        fmt_prop(f, p, 0, 0);
        if (cells)
            fmt_cell(f, start);
        if (p->next)
            fmt_str(f, "  ");
    }
    for (const AstLayer *l = b->layers; l; l = l->next) {
        size_t start = f->line.len;
        fmt_layer(f, l, 0);
        if (cells)
            fmt_cell(f, start);
        if (l->next)
            fmt_str(f, "  ");
    }
    fmt_str(f, " ");
    fmt_word(f, '}');
}

static void fmt_block_row(Fmt *f, const void *arg)
{
    fmt_block_flat(f, arg, true);
}

/* One item per line, keys aligned; blank lines between items kept (one at
 * most), none after '{' or before '}'. */
static void fmt_block_lines(Fmt *f, const FmtBlock *b, size_t indent)
{
    size_t inner = indent + FMT_INDENT, width = key_width(b->props);
    fmt_str(f, " ");
    fmt_word(f, '{');
    fmt_line_end(f, inner, true);
    for (const AstProp *p = b->props; p; p = p->next) {
        fmt_line_start(f, inner, blank_before(f, fmt_next(f)));
        fmt_prop(f, p, width, inner);
        fmt_line_end(f, inner, false);
    }
    for (const AstLayer *l = b->layers; l; l = l->next) {
        fmt_line_start(f, inner, blank_before(f, fmt_next(f)));
        fmt_layer(f, l, inner);
        fmt_line_end(f, inner, false);
    }
    fmt_line_start(f, indent, false);
    fmt_word(f, '}');
}

/* `{}` when empty; on one line when the user wrote it on one line and it
 * fits; else one item per line. */
static void fmt_block(Fmt *f, const FmtBlock *b, size_t indent)
{
    size_t open = fmt_open(f, '{');
    if (open >= f->n_tok)
        return;
    if (!b->props && !b->layers && !fmt_has_comment(f, open)) {
        fmt_str(f, " ");
        fmt_word(f, '{');
        fmt_word(f, '}');
        return;
    }
    if (f->flat) {
        fmt_block_flat(f, b, false);
        return;
    }
    if (fmt_one_line(f, open) && fmt_try(f, fmt_block_row, b, 0))
        return;
    fmt_block_lines(f, b, indent);
}

/* ---- declarations -------------------------------------------------------- */

static void fmt_ref(Fmt *f, const AstRef *r)
{
    fmt_str(f, " ");
    fmt_word(f, ON);
    fmt_str(f, " ");
    fmt_word(f, IDENT);
    if (r->part) {
        fmt_word(f, '.');
        fmt_word(f, strcmp(r->part, "train") == 0 ? TRAIN : IDENT);
    }
}

static void fmt_decl(Fmt *f, const AstDecl *d)
{
    static const int keyword[] = {
        [DECL_DATASET] = DATASET, [DECL_MODEL] = MODEL, [DECL_TRAIN] = TRAIN,
        [DECL_EVALUATE] = EVALUATE,
    };
    _Static_assert(sizeof keyword / sizeof *keyword == DECL_EVALUATE + 1, "one keyword per kind");
    fmt_word(f, keyword[d->kind]);
    fmt_str(f, " ");
    fmt_word(f, IDENT);
    if (d->kind == DECL_TRAIN || d->kind == DECL_EVALUATE)
        fmt_ref(f, &d->on);
    FmtBlock b = {.props = d->props, .layers = d->layers, .row = (int)d->kind};
    if (d->has_block)
        fmt_block(f, &b, 0);
}

/* Declarations one after the other. One blank line around any that takes
 * several lines; one-line declarations written on consecutive lines stay
 * together; otherwise one blank line at most. Comments between two
 * declarations go with the second, the blank line before them. */
static void fmt_file(Fmt *f, const AstFile *file)
{
    fmt_line_end(f, 0, false); /* comments before the first declaration */
    bool prev_multi = false;
    size_t gap = 0;
    for (const AstDecl *d = file->decls; d; d = d->next) {
        fmt_line_start(f, 0, blank_before(f, fmt_next(f)));
        size_t first = f->n_lines;
        fmt_decl(f, d);
        bool multi = f->n_lines > first;
        if (d != file->decls && (multi || prev_multi))
            fmt_mark_blank(f, gap);
        gap = f->n_lines + 1;
        fmt_line_end(f, 0, false);
        prev_multi = multi;
    }
}

/* ---- alignment and output ------------------------------------------------ */

static size_t cell_cols(const FmtLine *l, size_t c)
{
    return text_cols(l->code + l->cells[c].start, l->cells[c].end - l->cells[c].start);
}

/* Pads every cell but a row's last to the widest of its column. */
static void align_rows(Fmt *f, FmtLine *rows, size_t n)
{
    size_t n_cols = 0;
    for (size_t r = 0; r < n; r++)
        n_cols = rows[r].n_cells > n_cols ? rows[r].n_cells : n_cols;
    size_t *width = arena_array(f->a, n_cols, sizeof *width);
    if (!width) {
        f->failed = f->oom = true;
        return;
    }
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c + 1 < rows[r].n_cells; c++)
            width[c] = cell_cols(&rows[r], c) > width[c] ? cell_cols(&rows[r], c) : width[c];
    for (size_t r = 0; r < n; r++) {
        FmtLine *l = &rows[r];
        FmtBuf b = {0};
        size_t at = 0;
        for (size_t c = 0; c < l->n_cells; c++) {
            buf_put(f, &b, l->code + at, l->cells[c].end - at);
            at = l->cells[c].end;
            if (c + 1 < l->n_cells)
                buf_spaces(f, &b, width[c] - cell_cols(l, c));
        }
        buf_put(f, &b, l->code + at, l->len - at);
        if (b.p) {
            l->code = b.p;
            l->len = b.len;
        }
    }
}

/* Consecutive one-line blocks of one kind (layers, or declarations of one
 * kind), at one indent, with no blank line between them, form a table. */
static void fmt_align_rows(Fmt *f)
{
    for (size_t i = 0; i < f->n_lines;) {
        size_t j = i + 1;
        if (f->lines[i].n_cells > 0) {
            while (j < f->n_lines && f->lines[j].n_cells > 0 && !f->lines[j].blank &&
                   f->lines[j].indent == f->lines[i].indent && f->lines[j].row == f->lines[i].row)
                j++;
            if (j - i > 1)
                align_rows(f, &f->lines[i], j - i);
        }
        i = j;
    }
}

/* End-of-line comments of consecutive lines at one indent, with no blank
 * line between them, start in one column: two spaces after the longest of
 * their lines, or FMT_COMMENT_COL + 1 when that is further. */
static void fmt_align_comments(Fmt *f)
{
    for (size_t i = 0; i < f->n_lines;) {
        size_t j = i + 1;
        while (j < f->n_lines && !f->lines[j].blank && f->lines[j].indent == f->lines[i].indent)
            j++;
        size_t col = FMT_COMMENT_COL;
        for (size_t k = i; k < j; k++) {
            const FmtLine *l = &f->lines[k];
            size_t end = l->indent + text_cols(l->code, l->len) + 2;
            if (l->comment && l->len > 0 && end > col)
                col = end;
        }
        for (size_t k = i; k < j; k++)
            f->lines[k].comment_col = col;
        i = j;
    }
}

static void fmt_write(Fmt *f, FmtBuf *out)
{
    for (size_t k = 0; k < f->n_lines; k++) {
        const FmtLine *l = &f->lines[k];
        if (l->blank && k > 0)
            buf_put(f, out, "\n", 1);
        buf_spaces(f, out, l->indent);
        buf_put(f, out, l->code, l->len);
        if (l->comment) {
            if (l->len > 0)
                buf_spaces(f, out, l->comment_col - l->indent - text_cols(l->code, l->len));
            buf_put(f, out, tok_text(f, l->comment), comment_len(f, l->comment));
        }
        buf_put(f, out, "\n", 1);
    }
    if (!out->p)
        buf_put(f, out, "", 0); /* an empty file formats to "" */
}

/* ---- the checks and the entry points ------------------------------------- */

/* close[] and comments[] over the tokens. */
static bool fmt_index(Fmt *f)
{
    f->close = arena_array(f->a, f->n_tok + 1, sizeof *f->close);
    f->comments = arena_array(f->a, f->n_tok + 1, sizeof *f->comments);
    /* Lists and calls nest PARSE_MAX_DEPTH deep at most, inside two blocks. */
    enum { MAX_OPEN = PARSE_MAX_DEPTH + 2 };
    size_t stack[MAX_OPEN], depth = 0;
    if (!f->close || !f->comments) {
        f->failed = f->oom = true;
        return false;
    }
    size_t seen = 0;
    for (size_t i = 0; i < f->n_tok; i++) {
        int k = f->tok[i].kind;
        f->comments[i] = seen;
        seen += k == PARSE_COMMENT;
        if ((k == '[' || k == '(' || k == '{') && depth == MAX_OPEN)
            return !(f->failed = true);
        if (k == '[' || k == '(' || k == '{')
            stack[depth++] = i;
        else if ((k == ']' || k == ')' || k == '}') && depth > 0)
            f->close[stack[--depth]] = i;
    }
    f->comments[f->n_tok] = seen;
    f->failed = depth != 0;
    return !f->failed;
}

/* The comments of two token lists are the same texts in the same order. */
static bool same_comments(const Fmt *f, const ParseTokens *after, const char *text)
{
    size_t j = 0;
    for (size_t i = 0; i < f->n_tok; i++) {
        if (f->tok[i].kind != PARSE_COMMENT)
            continue;
        while (j < after->n && after->items[j].kind != PARSE_COMMENT)
            j++;
        if (j == after->n)
            return false;
        const ParseToken *t = &after->items[j++];
        size_t n = comment_len(f, &f->tok[i]);
        if ((size_t)t->loc.len != n || memcmp(text + t->offset, tok_text(f, &f->tok[i]), n) != 0)
            return false;
    }
    for (; j < after->n; j++)
        if (after->items[j].kind == PARSE_COMMENT)
            return false;
    return true;
}

/* The formatted text parses to the same tree with the same comments. Its
 * tree goes to an arena of its own, freed here: only the text is kept. */
static bool fmt_verify(Fmt *f, const AstFile *before, const char *text, size_t len)
{
    Diag quiet;
    diag_init(&quiet, NULL);
    Arena scratch;
    arena_init(&scratch);
    Source out = {f->src->path, text, len};
    ParseTokens tokens = {.comments_only = true};
    AstFile *after = front_parse_tokens(&scratch, &quiet, &out, &tokens);
    bool same = after && ast_equal(before, after) && same_comments(f, &tokens, text);
    arena_free(&scratch);
    return same;
}

static char *fmt_run(Fmt *f, const AstFile *file, size_t *len)
{
    if (!fmt_index(f))
        return NULL;
    fmt_file(f, file);
    if (f->failed)
        return NULL;
    fmt_align_rows(f);
    fmt_align_comments(f);
    FmtBuf out = {0};
    fmt_write(f, &out);
    if (f->failed)
        return NULL;
    *len = out.len;
    return out.p;
}

char *fmt_text(Arena *a, Diag *d, const Source *src, size_t *len)
{
    ParseTokens tokens = {0};
    AstFile *file = front_parse_tokens(a, d, src, &tokens);
    if (!file)
        return NULL;
    Fmt f = {.a = a, .src = src, .tok = tokens.items, .n_tok = tokens.n};
    size_t n = 0;
    char *text = fmt_run(&f, file, &n);
    bool same = text && fmt_verify(&f, file, text, n);
    if (f.oom) {
        diag_error(d, loc_none(), "out of memory formatting '%s'", src->path);
        return NULL;
    }
    if (!same) {
        diag_error(d, loc_none(), "internal error: the formatted '%s' would not mean the same; "
                   "the file is left as it is (please report this)", src->path);
        return NULL;
    }
    *len = n;
    return text;
}

bool fmt_source(Arena *a, Diag *d, const Source *src, FILE *out)
{
    size_t len;
    char *text = fmt_text(a, d, src, &len);
    return text && fwrite(text, 1, len, out) == len;
}
