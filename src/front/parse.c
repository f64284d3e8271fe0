/* The parse driver: runs the flex scanner and bison parser over a Source and
 * owns their malloc'd state, so it is released on every path. AST nodes go
 * to the caller's Arena. Both carry the nnc_yy prefix (grammar/nn.y, nn.l). */
#include <limits.h>

#include "nnc/front.h"
#include "nnc/parse.h"
#include "nn.tab.h"
#include "lex.yy.h"

/* Runs the scanner and parser; *rc is yyparse's result (-1 when they did
 * not run). The file holds every declaration that was complete. */
static AstFile *parse_run(Arena *a, Diag *d, const Source *src, ParseTokens *tokens, int *rc)
{
    *rc = -1;
    if (src->len > INT_MAX) {
        diag_error(d, (Loc){src, 0, 0, 0}, "file too large (more than %d bytes)", INT_MAX);
        return NULL;
    }
    AstFile *file = arena_alloc(a, sizeof *file);
    if (!file) {
        diag_error(d, loc_none(), "out of memory");
        return NULL;
    }
    file->src = src;
    ParseState ps = {.arena = a, .diag = d, .src = src, .line = 1, .col = 1,
                     .file = file, .tail = &file->decls, .tokens = tokens};
    yyscan_t scanner;
    if (nnc_yylex_init_extra(&ps, &scanner) != 0) {
        diag_error(d, loc_none(), "out of memory");
        return NULL;
    }
    YY_BUFFER_STATE buf = nnc_yy_scan_bytes(src->text, (int)src->len, scanner);
    /* flex never sets the line of a scanned buffer (flex #60); ours is ps. */
    nnc_yyset_lineno(1, scanner);
    *rc = nnc_yyparse(scanner);
    nnc_yy_delete_buffer(buf, scanner);
    nnc_yylex_destroy(scanner);
    return file;
}

AstFile *front_parse(Arena *a, Diag *d, const Source *src)
{
    return front_parse_tokens(a, d, src, NULL);
}

AstFile *front_parse_tokens(Arena *a, Diag *d, const Source *src, ParseTokens *tokens)
{
    int errors_before = d->errors, rc;
    AstFile *file = parse_run(a, d, src, tokens, &rc);
    if (tokens && !arena_adopt(a, tokens->items)) {
        *tokens = (ParseTokens){0};
        diag_error(d, loc_none(), "out of memory");
        return NULL;
    }
    /* rc == 2 (memory exhausted) was already reported through yyerror. */
    if (!file || rc != 0 || d->errors > errors_before)
        return NULL;
    return file;
}

AstFile *front_parse_tolerant(Arena *a, Diag *d, const Source *src)
{
    int rc;
    return parse_run(a, d, src, NULL, &rc);
}

IrProgram *front_compile(Arena *a, Diag *d, const Source *src)
{
    AstFile *file = front_parse(a, d, src);
    return file ? front_lower(a, d, file) : NULL;
}
