/* The front end: .nn text -> AST -> checked IR. */
#ifndef NNC_FRONT_H
#define NNC_FRONT_H

#include <stdbool.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/ir.h"

typedef struct AstFile AstFile; /* see nnc/ast.h */

/* Lexes and parses src. Syntax errors are reported through d (all of them
 * that error recovery can find); returns NULL when there was any. */
AstFile *front_parse(Arena *a, Diag *d, const Source *src);

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

#endif
