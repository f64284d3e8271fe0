/* The syntax tree of a .nn file, exactly as written: nothing is resolved or
 * validated yet (front_lower does that). Every node carries the Loc of the
 * token a diagnostic about it should point at. All nodes live in the Arena
 * given to front_parse; lists are singly linked in source order. */
#ifndef NNC_AST_H
#define NNC_AST_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/arena.h"
#include "nnc/diag.h"

typedef enum AstValueKind {
    AST_NUMBER, /* 0, -1.5, 1e-3 */
    AST_STRING, /* "data.csv" */
    AST_BOOL,   /* true, false */
    AST_IDENT,  /* bce, last */
    AST_CALL,   /* adam(lr = 0.1) */
    AST_LIST,   /* [1, 2, 3]; nested lists are matrices */
} AstValueKind;

typedef struct AstValue AstValue;
typedef struct AstArg AstArg;

typedef struct AstRef {
    const char *name;
    Loc loc;
    const char *part;   /* "train", "test", ... or NULL */
    Loc part_loc;
} AstRef;

struct AstValue {
    AstValueKind kind;
    Loc loc;            /* the token; '[' for a list; the callee for a call */
    double number;      /* AST_NUMBER */
    bool is_integer;    /* AST_NUMBER written without '.' or exponent */
    bool boolean;       /* AST_BOOL */
    const char *text;   /* string contents, identifier, or callee name */
    AstRef ref;         /* AST_IDENT written NAME.PART (validate = digits.valid):
                         * text is "NAME.PART", ref.part is non-NULL */
    AstValue *items;    /* AST_LIST elements */
    AstArg *args;       /* AST_CALL arguments */
    size_t n;           /* number of items or args */
    AstValue *next;     /* next element of the enclosing list */
};

/* One argument of a call: `lr = 0.1` (named) or `0.1` (name == NULL). */
struct AstArg {
    const char *name;
    Loc loc;            /* the name, or the value when positional */
    AstValue *value;
    AstArg *next;
};

/* `key = value`, or `sweep key = [values]` in a train block. */
typedef struct AstProp {
    const char *name;
    Loc loc;            /* the key */
    AstValue *value;
    bool sweep;
    struct AstProp *next;
} AstProp;

/* One line of a model: `input 2` / `input [1, 8, 8]`, or
 * `[name:] kind args [, act args] [{...}]`, where kind and act are written
 * `dense 4` (numbers after the kind) or as a call, `conv2d(16, kernel = 3)`.
 * Both forms give the same argument list; what the arguments mean is the
 * op table's business (lower_model.c). */
typedef struct AstLayer {
    bool is_input;
    const char *name;   /* NULL when the line has no `name:` */
    Loc name_loc;
    const char *kind;   /* "dense", "relu", ...; "input" for the input line */
    Loc kind_loc;
    AstArg *args;       /* input: one positional number or list */
    size_t n_args;
    bool call;          /* the kind was written as a call: `dense(4)` */
    const char *act;    /* activation after ',' or NULL */
    Loc act_loc;
    AstArg *act_args;
    size_t n_act_args;
    bool act_call;
    bool has_block;     /* a `{ ... }` parameter block was written */
    Loc block_loc;      /* its '{' */
    AstProp *params;
    Loc loc;            /* start of the line */
    struct AstLayer *next;
} AstLayer;

typedef enum AstDeclKind { DECL_DATASET, DECL_MODEL, DECL_TRAIN, DECL_EVALUATE } AstDeclKind;

/* `xor` or `digits.test`: a dataset, or one part of a split dataset. */

typedef struct AstDecl {
    AstDeclKind kind;
    Loc loc;            /* the keyword */
    const char *name;   /* the declared name; the model for train/evaluate */
    Loc name_loc;
    AstRef on;          /* train/evaluate: the dataset */
    bool has_block;     /* evaluate may omit its block */
    AstProp *props;     /* dataset, train (incl. sweeps), evaluate */
    AstLayer *layers;   /* model */
    struct AstDecl *next;
} AstDecl;

struct AstFile {
    const Source *src;
    AstDecl *decls;
    size_t n_decls;
};
typedef struct AstFile AstFile;

/* A layer's arguments as written, for short displays: " 4" for `dense 4`,
 * "(16, kernel = 3)" for a call; nested values are summed up as "[...]"
 * or "f(...)". Returns buf. */
const char *ast_args_text(const AstArg *args, bool call, char *buf, size_t size);

/* Name of a value kind for messages: "number", "string", "list", ... */
const char *ast_value_kind_name(AstValueKind k);

#endif
