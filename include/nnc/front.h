/* The front end: .nn text -> AST -> checked IR. */
#ifndef NNC_FRONT_H
#define NNC_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/ir.h"

typedef struct AstFile AstFile; /* see nnc/ast.h */

/* Lexes and parses src. Syntax errors are reported through d (all of them
 * that error recovery can find); returns NULL when there was any. */
AstFile *front_parse(Arena *a, Diag *d, const Source *src);

/* Like front_parse, but keeps what it could build when there are syntax
 * errors: every declaration that parsed completely (error recovery drops
 * the ones it skipped). NULL only when nothing could be built (out of
 * memory, a file too large). For tools that must work on a file being
 * edited, such as the language server. */
AstFile *front_parse_tolerant(Arena *a, Diag *d, const Source *src);

/* Checks the AST and lowers it to IR. Every independent error is reported;
 * returns NULL when there was any. */
IrProgram *front_lower(Arena *a, Diag *d, const AstFile *file);

/* front_parse + front_lower. */
IrProgram *front_compile(Arena *a, Diag *d, const Source *src);

/* Stable text form for golden tests (`nnc dump ast`). */
void ast_dump(FILE *out, const AstFile *file);

/* The same tree, locations aside: everything ast_dump prints, and whether
 * an evaluate has a (maybe empty) block. */
bool ast_equal(const AstFile *a, const AstFile *b);

/* ---- What each block accepts, for tools (completion) ------------------- */

typedef enum FrontBlock { FRONT_DATASET, FRONT_TRAIN, FRONT_EVALUATE, FRONT_PARAMS } FrontBlock;

enum { FRONT_MAX_PROPS = 16 };

typedef struct FrontProp {
    const char *name;
    const char *takes;          /* "an integer", "a list", ...: for a tooltip */
    const char *const *choices; /* the identifiers it accepts, NULL-terminated, or NULL */
    bool boolean;               /* takes true or false */
} FrontProp;

/* The properties the checker accepts in block b, read from the very tables
 * it checks them with (src/front/lower*.c), in their order; op is the
 * layer's kind for FRONT_PARAMS (a parameter block), ignored otherwise.
 * Returns how many were written to out. */
size_t front_block_props(FrontBlock b, OpKind op, FrontProp out[FRONT_MAX_PROPS]);

#endif
