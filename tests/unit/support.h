/* Shared by the front-end unit tests: run a stage on a string literal and
 * capture its diagnostics in memory, so tests assert on exact messages. */
#ifndef NNC_TEST_SUPPORT_H
#define NNC_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/arena.h"
#include "nnc/ast.h"
#include "nnc/diag.h"
#include "nnc/front.h"
#include "nnc/ir.h"

typedef struct Run {
    Arena arena;
    Source src;
    Diag diag;
    FILE *f;
    char *out;
    size_t out_len;
    AstFile *ast;
    IrProgram *ir;
} Run;

static inline void run_start(Run *r, const char *text)
{
    memset(r, 0, sizeof *r);
    arena_init(&r->arena);
    r->src = (Source){"t.nn", text, strlen(text)};
    r->f = open_memstream(&r->out, &r->out_len);
    cr_assert_not_null(r->f);
    diag_init(&r->diag, r->f);
}

/* Parses only. */
static inline AstFile *run_parse(Run *r, const char *text)
{
    run_start(r, text);
    r->ast = front_parse(&r->arena, &r->diag, &r->src);
    fflush(r->f);
    return r->ast;
}

/* Parses, checks and lowers. */
static inline IrProgram *run_compile(Run *r, const char *text)
{
    run_start(r, text);
    r->ir = front_compile(&r->arena, &r->diag, &r->src);
    fflush(r->f);
    return r->ir;
}

/* Everything the diagnostics printed so far. */
static inline const char *run_output(Run *r)
{
    fflush(r->f);
    return r->out ? r->out : "";
}

static inline void run_end(Run *r)
{
    fclose(r->f);
    free(r->out);
    arena_free(&r->arena);
}

/* Asserts that compiling text fails and that the output has `line`
 * (e.g. "t.nn:3:5: error: ...") as one whole line. */
static inline void expect_diag(const char *text, const char *line)
{
    Run r;
    IrProgram *p = run_compile(&r, text);
    const char *out = run_output(&r);
    char *want = malloc(strlen(line) + 3);
    sprintf(want, "%s\n", line);
    bool found = strncmp(out, want, strlen(want)) == 0;
    sprintf(want, "\n%s\n", line);
    found = found || strstr(out, want) != NULL;
    free(want);
    cr_expect(found, "expected line:\n%s\ngot:\n%s", line, out);
    if (strstr(line, ": error: "))
        cr_expect_null(p, "compile should fail for:\n%s", text);
    run_end(&r);
}

/* Asserts that text compiles without any diagnostic at all. */
static inline IrProgram *expect_clean(Run *r, const char *text)
{
    IrProgram *p = run_compile(r, text);
    cr_assert_not_null(p, "unexpected failure:\n%s", run_output(r));
    cr_assert_str_empty(run_output(r));
    return p;
}

#endif
