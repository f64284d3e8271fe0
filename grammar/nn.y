/* The .nn grammar: tokens -> AST (nnc/ast.h), nothing more. Properties are
 * generic `key = value` pairs and layer kinds plain identifiers; what they
 * mean is checked later against tables (src/front/lower*.c). The `error`
 * rules resynchronise at property, layer and declaration boundaries so one
 * run reports several independent syntax errors. */
%define api.pure full
/* Every external name is nnc_yy* (nnc_yyparse, NNC_YYSTYPE), like the
 * scanner's (nn.l): the library exports no bare yyparse to clash with
 * another bison parser linked beside it. */
%define api.prefix {nnc_yy}
%define api.location.type {Loc}
%define parse.error custom
/* Exact "expecting ..." lists: without LAC, default reductions hide tokens. */
%define parse.lac full
%locations
%param {yyscan_t scanner}

%code requires {
#include "nnc/parse.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif
/* A rule's location is its first token's: carets point at where it starts. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                 \
    do {                                            \
        if (N) {                                    \
            (Cur) = YYRHSLOC(Rhs, 1);               \
        } else {                                    \
            (Cur) = YYRHSLOC(Rhs, 0);               \
            (Cur).len = 0;                          \
        }                                           \
    } while (0)
}

/* flex's bison-bridge (lex.yy.h, the scanner) names the value and location
 * types without the prefix. */
%code provides {
#define YYSTYPE NNC_YYSTYPE
#define YYLTYPE NNC_YYLTYPE
}

%union {
    const char *text;
    AstValue *value;
    AstArg *arg;
    AstProp *prop;
    AstLayer *layer;
    AstRef ref;
    struct { AstValue *head, *tail; size_t n; } values;
    struct { AstArg *head, *tail; size_t n; } args;
    struct { AstProp *head, *tail; } props;
    struct { AstLayer *head, *tail; } layers;
    struct { const char *name; Loc loc; AstArg *args; size_t n; bool call; } callee;
}

%code {
#include <string.h>

#include "lex.yy.h"

#define PS() (nnc_yyget_extra(scanner))
/* Grammar actions bail out cleanly when the arena cannot grow. */
#define NEED(p)                                     \
    do {                                            \
        if (!(p)) {                                 \
            PS()->out_of_memory = true;             \
            YYNOMEM;                                \
        }                                           \
    } while (0)

static void yyerror(const Loc *loc, yyscan_t scanner, const char *msg)
{
    diag_error(nnc_yyget_extra(scanner)->diag, *loc, "%s", msg);
}

static void parse_link_decl(ParseState *ps, AstDecl *d)
{
    *ps->tail = d;
    ps->tail = &d->next;
    ps->file->n_decls++;
}
}

%token <text> IDENT "identifier"
%token <value> NUMBER "number"
%token <value> STRING "string"
%token DATASET "dataset" MODEL "model" TRAIN "train" EVALUATE "evaluate"
%token ON "on" INPUT "input" SWEEP "sweep" TRUE "true" FALSE "false"
/* Declared before ']' and ')' so "expecting ',' or ']'" lists it first. */
%token ','


%type <value> value input_shape
%type <values> list items
%type <args> args arglist numbers
%type <arg> arg
%type <prop> prop item
%type <props> props train_items
%type <layer> layer kind
%type <layers> layers
%type <ref> ref
%type <callee> callee

%%

file
    : %empty
    | file decl
    | file error
    ;

decl
    : DATASET IDENT '{' props '}'
        {
            AstDecl *d = ast_new_decl(PS(), DECL_DATASET, @1, $2, @2);
            NEED(d);
            d->props = $4.head;
            d->has_block = true;
            parse_link_decl(PS(), d);
        }
    | MODEL IDENT '{' layers '}'
        {
            AstDecl *d = ast_new_decl(PS(), DECL_MODEL, @1, $2, @2);
            NEED(d);
            d->layers = $4.head;
            d->has_block = true;
            parse_link_decl(PS(), d);
        }
    | TRAIN IDENT ON ref '{' train_items '}'
        {
            AstDecl *d = ast_new_decl(PS(), DECL_TRAIN, @1, $2, @2);
            NEED(d);
            d->on = $4;
            d->props = $6.head;
            d->has_block = true;
            parse_link_decl(PS(), d);
        }
    | EVALUATE IDENT ON ref
        {
            AstDecl *d = ast_new_decl(PS(), DECL_EVALUATE, @1, $2, @2);
            NEED(d);
            d->on = $4;
            parse_link_decl(PS(), d);
        }
    | EVALUATE IDENT ON ref '{' props '}'
        {
            AstDecl *d = ast_new_decl(PS(), DECL_EVALUATE, @1, $2, @2);
            NEED(d);
            d->on = $4;
            d->props = $6.head;
            d->has_block = true;
            parse_link_decl(PS(), d);
        }
    ;

ref
    : IDENT                 { $$ = (AstRef){$1, @1, NULL, loc_none()}; }
    | IDENT '.' IDENT       { $$ = (AstRef){$1, @1, $3, @3}; }
    | IDENT '.' TRAIN       { $$ = (AstRef){$1, @1, "train", @3}; }
    ;

props
    : %empty                { $$.head = $$.tail = NULL; }
    | props prop
        {
            $$ = $1;
            if ($$.tail) $$.tail->next = $2; else $$.head = $2;
            $$.tail = $2;
        }
    | props error           { $$ = $1; }
    ;

prop
    : IDENT '=' value
        { $$ = ast_new_prop(PS(), $1, @1, $3, false); NEED($$); }
    ;

train_items
    : %empty                { $$.head = $$.tail = NULL; }
    | train_items item
        {
            $$ = $1;
            if ($$.tail) $$.tail->next = $2; else $$.head = $2;
            $$.tail = $2;
        }
    | train_items error     { $$ = $1; }
    ;

item
    : prop
    | SWEEP IDENT '=' value
        { $$ = ast_new_prop(PS(), $2, @2, $4, true); NEED($$); }
    ;

layers
    : %empty                { $$.head = $$.tail = NULL; }
    | layers layer
        {
            $$ = $1;
            if ($$.tail) $$.tail->next = $2; else $$.head = $2;
            $$.tail = $2;
        }
    | layers error          { $$ = $1; }
    ;

layer
    : INPUT input_shape
        {
            $$ = ast_new_layer(PS());
            NEED($$);
            $$->is_input = true;
            $$->kind = "input";
            $$->kind_loc = @1;
            $$->args = ast_new_arg(PS(), NULL, @2, $2);
            NEED($$->args);
            $$->n_args = 1;
            $$->loc = @1;
        }
    | IDENT ':' kind
        {
            $$ = $3;
            $$->name = $1;
            $$->name_loc = @1;
            $$->loc = @1;
        }
    | kind
    ;

/* `input 64` or `input [1, 8, 8]`. */
input_shape
    : NUMBER
    | '[' list ']'
        {
            $$ = ast_new_value(PS(), AST_LIST, @1);
            NEED($$);
            $$->items = $2.head;
            $$->n = $2.n;
        }
    ;

/* `dense 4` or `conv2d(16, kernel = 3)`: a kind and its arguments. */
callee
    : IDENT numbers
        { $$.name = $1; $$.loc = @1; $$.args = $2.head; $$.n = $2.n; $$.call = false; }
    | IDENT '(' args ')'
        { $$.name = $1; $$.loc = @1; $$.args = $3.head; $$.n = $3.n; $$.call = true; }
    ;

kind
    : callee
        {
            $$ = ast_new_layer(PS());
            NEED($$);
            $$->kind = $1.name;
            $$->kind_loc = $1.loc;
            $$->args = $1.args;
            $$->n_args = $1.n;
            $$->call = $1.call;
            $$->loc = $1.loc;
        }
    | kind ',' callee
        {
            $$ = $1;
            if ($$->act) {
                diag_error(PS()->diag, @2, "a layer line takes at most one activation after ','");
            } else if ($$->has_block) {
                diag_error(PS()->diag, @2, "the activation must come before the parameter block");
            } else {
                $$->act = $3.name;
                $$->act_loc = $3.loc;
                $$->act_args = $3.args;
                $$->n_act_args = $3.n;
                $$->act_call = $3.call;
            }
        }
    | kind '{' props '}'
        {
            $$ = $1;
            if ($$->has_block) {
                diag_error(PS()->diag, @2, "a layer line takes at most one parameter block");
            } else {
                $$->has_block = true;
                $$->block_loc = @2;
                $$->params = $3.head;
            }
        }
    ;

numbers
    : %empty                { $$.head = $$.tail = NULL; $$.n = 0; }
    | numbers NUMBER
        {
            AstArg *a = ast_new_arg(PS(), NULL, @2, $2);
            NEED(a);
            $$ = $1;
            if ($$.tail) $$.tail->next = a; else $$.head = a;
            $$.tail = a;
            $$.n++;
        }
    ;

value
    : NUMBER
    | STRING
    | TRUE                  { $$ = ast_new_value(PS(), AST_BOOL, @1); NEED($$); $$->boolean = true; }
    | FALSE                 { $$ = ast_new_value(PS(), AST_BOOL, @1); NEED($$); }
    | IDENT                 { $$ = ast_new_value(PS(), AST_IDENT, @1); NEED($$); $$->text = $1; }
    /* `validate = digits.valid`: a part of a split dataset. */
    | IDENT '.' IDENT       { $$ = ast_new_ref_value(PS(), (AstRef){$1, @1, $3, @3}); NEED($$); }
    | IDENT '.' TRAIN       { $$ = ast_new_ref_value(PS(), (AstRef){$1, @1, "train", @3}); NEED($$); }
    /* `from = input`: the keyword names the input layer as a value. */
    | INPUT                 { $$ = ast_new_value(PS(), AST_IDENT, @1); NEED($$); $$->text = "input"; }
    | IDENT '(' args ')'
        {
            $$ = ast_new_value(PS(), AST_CALL, @1);
            NEED($$);
            $$->text = $1;
            $$->args = $3.head;
            $$->n = $3.n;
        }
    | '[' list ']'
        {
            $$ = ast_new_value(PS(), AST_LIST, @1);
            NEED($$);
            $$->items = $2.head;
            $$->n = $2.n;
        }
    ;

args
    : %empty                { $$.head = $$.tail = NULL; $$.n = 0; }
    | arglist
    ;

arglist
    : arg                   { $$.head = $$.tail = $1; $$.n = 1; }
    | arglist ',' arg       { $$ = $1; $$.tail->next = $3; $$.tail = $3; $$.n++; }
    ;

arg
    : IDENT '=' value       { $$ = ast_new_arg(PS(), $1, @1, $3); NEED($$); }
    | value                 { $$ = ast_new_arg(PS(), NULL, @1, $1); NEED($$); }
    ;

list
    : %empty                { $$.head = $$.tail = NULL; $$.n = 0; }
    | items
    | items ','
    ;

items
    : value                 { $$.head = $$.tail = $1; $$.n = 1; }
    | items ',' value       { $$ = $1; $$.tail->next = $3; $$.tail = $3; $$.n++; }
    ;

%%

/* How a token is named in "unexpected X, expecting Y": keywords quoted as
 * they are written, so a student sees what to type. */
static const char *parse_symbol_name(yysymbol_kind_t sym)
{
    switch (sym) {
    case YYSYMBOL_DATASET: return "'dataset'";
    case YYSYMBOL_MODEL: return "'model'";
    case YYSYMBOL_TRAIN: return "'train'";
    case YYSYMBOL_EVALUATE: return "'evaluate'";
    case YYSYMBOL_ON: return "'on'";
    case YYSYMBOL_INPUT: return "'input'";
    case YYSYMBOL_SWEEP: return "'sweep'";
    case YYSYMBOL_TRUE: return "'true'";
    case YYSYMBOL_FALSE: return "'false'";
    default: return yysymbol_name(sym);
    }
}

/* Character tokens have no YYSYMBOL_ name of their own; compare by name. */
static bool parse_is_open_bracket(yysymbol_kind_t sym)
{
    return strcmp(yysymbol_name(sym), "'['") == 0;
}

static bool parse_expects(const yysymbol_kind_t *syms, int n, yysymbol_kind_t sym)
{
    for (int i = 0; i < n; i++)
        if (syms[i] == sym)
            return true;
    return false;
}

/* A value can start with seven different tokens; listing them all would bury
 * the point, so they are summed up as "a value". */
static bool parse_starts_value(yysymbol_kind_t sym)
{
    return sym == YYSYMBOL_NUMBER || sym == YYSYMBOL_STRING || sym == YYSYMBOL_TRUE ||
           sym == YYSYMBOL_FALSE || sym == YYSYMBOL_IDENT || sym == YYSYMBOL_INPUT ||
           parse_is_open_bracket(sym);
}

/* "syntax error, unexpected number, expecting identifier" at the token.
 * Long expectation lists help nobody, so more than four are not listed. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner)
{
    enum { MAX_SHOWN = 4 };
    yysymbol_kind_t all[YYNTOKENS];
    int n_all = yypcontext_expected_tokens(ctx, all, YYNTOKENS);
    if (n_all < 0)
        return n_all;
    const char *names[YYNTOKENS + 1];
    int n = 0;
    /* At the end of the file the one useful hint is the unclosed block. */
    yysymbol_kind_t token = yypcontext_token(ctx);
    for (int i = 0; i < n_all && token == YYSYMBOL_YYEOF; i++)
        if (strcmp(yysymbol_name(all[i]), "'}'") == 0)
            all[0] = all[i], n_all = 1;
    bool value = parse_expects(all, n_all, YYSYMBOL_NUMBER) &&
                 parse_expects(all, n_all, YYSYMBOL_STRING);
    if (value)
        names[n++] = "a value";
    for (int i = 0; i < n_all; i++)
        if (!(value && parse_starts_value(all[i])) && all[i] != YYSYMBOL_YYEOF)
            names[n++] = parse_symbol_name(all[i]);
    char buf[512];
    size_t used = (size_t)snprintf(buf, sizeof buf, "syntax error, unexpected %s",
                                   parse_symbol_name(token));
    for (int i = 0; i < n && n <= MAX_SHOWN && used < sizeof buf; i++) {
        const char *sep = i == 0 ? ", expecting " : i == n - 1 ? " or " : ", ";
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", sep, names[i]);
    }
    diag_error(PS()->diag, *yypcontext_location(ctx), "%s", buf);
    return 0;
}
