/* State shared by the flex scanner (grammar/nn.l), the bison parser
 * (grammar/nn.y) and the driver (src/front/parse.c). Only the front end
 * includes this; everyone else sees front.h and ast.h. */
#ifndef NNC_PARSE_H
#define NNC_PARSE_H

#include <stdbool.h>

#include "nnc/arena.h"
#include "nnc/ast.h"
#include "nnc/diag.h"

/* Lists nested deeper than this are rejected at the '[' that crosses the
 * limit, so no later tree walk can overflow the C stack. */
enum { PARSE_MAX_DEPTH = 64 };

/* The kind of a recorded comment: no bison token is the character #. */
enum { PARSE_COMMENT = '#' };

/* One token as the scanner matched it, comments included: what a tool that
 * rewrites the text (nnc fmt) needs between the tree's nodes. Recording is
 * a side list; it never changes what the parser sees. */
typedef struct ParseToken {
    int kind;       /* a bison token (IDENT, NUMBER, '{', ...) or PARSE_COMMENT */
    Loc loc;        /* line, col and byte length */
    size_t offset;  /* of its first byte in src->text */
} ParseToken;

typedef struct ParseTokens {
    ParseToken *items;  /* source order; the arena's once front_parse_tokens returns */
    size_t n, cap;
    bool comments_only; /* record only the comments */
} ParseTokens;

typedef struct ParseState {
    Arena *arena;
    Diag *diag;
    const Source *src;
    int line, col;      /* position of the next unread byte, 1-based */
    size_t pos;         /* its offset in src->text */
    size_t token_pos;   /* offset of the token being matched */
    ParseTokens *tokens; /* when not NULL, every token and comment is appended */
    Loc last;           /* the last token returned: end of file points after it */
    int depth;          /* current '[' nesting, counted by the scanner */
    bool out_of_memory;
    AstFile *file;
    AstDecl **tail;     /* where the next declaration is linked */
} ParseState;

/* front_parse that also records every token and comment into tokens (its
 * items then live in a, also when the parse fails). */
AstFile *front_parse_tokens(Arena *a, Diag *d, const Source *src, ParseTokens *tokens);

/* Node constructors for the grammar actions; NULL when memory runs out. */
AstValue *ast_new_value(ParseState *ps, AstValueKind kind, Loc loc);
AstValue *ast_new_ref_value(ParseState *ps, AstRef r);
AstArg *ast_new_arg(ParseState *ps, const char *name, Loc loc, AstValue *value);
AstProp *ast_new_prop(ParseState *ps, const char *name, Loc loc, AstValue *value, bool sweep);
AstLayer *ast_new_layer(ParseState *ps);
AstDecl *ast_new_decl(ParseState *ps, AstDeclKind kind, Loc loc, const char *name, Loc name_loc);

#endif
