/* The scanner alone: token kinds, values and locations, and its errors. */
#include <math.h>

#include "support.h"
#include "nnc/parse.h"
#include "nn.tab.h"
#include "lex.yy.h"

typedef struct Tok {
    int kind;
    YYSTYPE val;
    Loc loc;
} Tok;

typedef struct Lexed {
    Run run;
    ParseState ps;
    Tok toks[128];
    int n;
} Lexed;

/* Scans all of text (at most 128 tokens); the EOF token is not stored. */
static void lex(Lexed *l, const char *text)
{
    run_start(&l->run, text);
    l->ps = (ParseState){.arena = &l->run.arena, .diag = &l->run.diag, .src = &l->run.src,
                         .line = 1, .col = 1};
    yyscan_t scanner;
    cr_assert_eq(nnc_yylex_init_extra(&l->ps, &scanner), 0);
    YY_BUFFER_STATE buf = nnc_yy_scan_bytes(text, (int)strlen(text), scanner);
    l->n = 0;
    for (;;) {
        Tok t;
        t.kind = nnc_yylex(&t.val, &t.loc, scanner);
        if (t.kind == NNC_YYEOF || l->n == 128)
            break;
        l->toks[l->n++] = t;
    }
    nnc_yy_delete_buffer(buf, scanner);
    nnc_yylex_destroy(scanner);
}

static void expect_tok(const Tok *t, int kind, int line, int col, int len)
{
    cr_expect_eq(t->kind, kind, "kind %d, expected %d", t->kind, kind);
    cr_expect_eq(t->loc.line, line, "line %d, expected %d", t->loc.line, line);
    cr_expect_eq(t->loc.col, col, "col %d, expected %d", t->loc.col, col);
    cr_expect_eq(t->loc.len, len, "len %d, expected %d", t->loc.len, len);
}

Test(lexer, keywords_identifiers_punctuation)
{
    Lexed l;
    lex(&l, "dataset model train evaluate on input sweep true false\n"
            "x_1 _y Dense2 { } [ ] ( ) , : = .");
    int kinds[] = {DATASET, MODEL, TRAIN, EVALUATE, ON, INPUT, SWEEP, TRUE, FALSE,
                   IDENT, IDENT, IDENT, '{', '}', '[', ']', '(', ')', ',', ':', '=', '.'};
    cr_assert_eq(l.n, 22);
    for (int i = 0; i < l.n; i++)
        cr_expect_eq(l.toks[i].kind, kinds[i], "token %d", i);
    expect_tok(&l.toks[0], DATASET, 1, 1, 7);
    expect_tok(&l.toks[8], FALSE, 1, 50, 5);
    expect_tok(&l.toks[9], IDENT, 2, 1, 3);
    cr_expect_str_eq(l.toks[9].val.text, "x_1");
    cr_expect_str_eq(l.toks[11].val.text, "Dense2");
    expect_tok(&l.toks[21], '.', 2, 33, 1);
    cr_expect_str_empty(run_output(&l.run));
    run_end(&l.run);
}

Test(lexer, numbers)
{
    Lexed l;
    lex(&l, "0 -1.5 1e-3 .5 -2 3. 2E+2 -.25");
    double want[] = {0, -1.5, 1e-3, 0.5, -2, 3, 200, -0.25};
    bool integer[] = {true, false, false, false, true, false, false, false};
    cr_assert_eq(l.n, 8);
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(l.toks[i].kind, NUMBER);
        cr_expect_eq(l.toks[i].val.value->number, want[i], "number %d", i);
        cr_expect_eq(l.toks[i].val.value->is_integer, integer[i], "is_integer %d", i);
    }
    expect_tok(&l.toks[1], NUMBER, 1, 3, 4);
    expect_tok(&l.toks[7], NUMBER, 1, 27, 4);
    cr_expect_str_empty(run_output(&l.run));
    run_end(&l.run);
}

Test(lexer, number_out_of_range_is_an_error)
{
    Lexed l;
    lex(&l, "x = 1e999");
    cr_assert_eq(l.n, 3);
    cr_expect_eq(l.toks[2].kind, NUMBER);
    cr_expect(isfinite(l.toks[2].val.value->number));
    cr_expect_str_eq(run_output(&l.run), "t.nn:1:5: error: number '1e999' is too large\n"
                                         "    x = 1e999\n"
                                         "        ^~~~~\n");
    run_end(&l.run);
}

Test(lexer, tiny_number_underflows_to_zero)
{
    Lexed l;
    lex(&l, "1e-999");
    cr_assert_eq(l.n, 1);
    cr_expect_eq(l.toks[0].val.value->number, 0);
    cr_expect_str_empty(run_output(&l.run));
    run_end(&l.run);
}

Test(lexer, string_escapes)
{
    Lexed l;
    lex(&l, "\"a\\\"b\\\\c\" \"\"");
    cr_assert_eq(l.n, 2);
    expect_tok(&l.toks[0], STRING, 1, 1, 9);
    cr_expect_str_eq(l.toks[0].val.value->text, "a\"b\\c");
    cr_expect_str_eq(l.toks[1].val.value->text, "");
    cr_expect_str_empty(run_output(&l.run));
    run_end(&l.run);
}

Test(lexer, unknown_escape)
{
    Lexed l;
    lex(&l, "s = \"a\\tb\"");
    cr_expect_str_eq(run_output(&l.run),
                     "t.nn:1:7: error: unknown escape '\\t' in string (only \\\" and \\\\ are allowed)\n"
                     "    s = \"a\\tb\"\n"
                     "          ^~\n");
    run_end(&l.run);
}

Test(lexer, unterminated_string)
{
    Lexed l;
    lex(&l, "csv = \"data.csv\ny = 1");
    cr_expect_str_eq(run_output(&l.run), "t.nn:1:7: error: unterminated string\n"
                                         "    csv = \"data.csv\n"
                                         "          ^\n");
    /* The scan goes on after the error: csv = "" y = 1 */
    cr_assert_eq(l.n, 6);
    expect_tok(&l.toks[3], IDENT, 2, 1, 1);
    run_end(&l.run);
}

Test(lexer, unexpected_character)
{
    Lexed l;
    lex(&l, "x = [1] @ 2\n\x01");
    cr_expect_str_eq(run_output(&l.run), "t.nn:1:9: error: unexpected character '@'\n"
                                         "    x = [1] @ 2\n"
                                         "            ^\n"
                                         "t.nn:2:1: error: unexpected byte 0x01\n"
                                         "    \x01\n"
                                         "    ^\n");
    cr_expect_eq(l.n, 6); /* x = [ 1 ] 2: the bad bytes are skipped */
    run_end(&l.run);
}

Test(lexer, comments_and_locations)
{
    Lexed l;
    lex(&l, "# a comment\n  model # another\n\tm");
    cr_assert_eq(l.n, 2);
    expect_tok(&l.toks[0], MODEL, 2, 3, 5);
    expect_tok(&l.toks[1], IDENT, 3, 2, 1);
    run_end(&l.run);
}

Test(lexer, very_long_identifier)
{
    enum { N = 100000 };
    char *text = malloc(N + 1);
    memset(text, 'a', N);
    text[N] = '\0';
    Lexed l;
    lex(&l, text);
    cr_assert_eq(l.n, 1);
    cr_expect_eq(strlen(l.toks[0].val.text), (size_t)N);
    cr_expect_eq(l.toks[0].loc.len, N);
    run_end(&l.run);
    free(text);
}

Test(lexer, nesting_limit)
{
    char text[200] = "";
    for (int i = 0; i < 70; i++)
        strcat(text, "[");
    Lexed l;
    lex(&l, text);
    cr_expect_eq(l.n, 70);
    cr_expect_eq(l.toks[63].kind, '[');
    cr_expect_eq(l.toks[64].kind, NNC_YYerror);
    const char *first = "t.nn:1:65: error: lists nested too deeply (at most 64 levels)\n";
    cr_expect(strncmp(run_output(&l.run), first, strlen(first)) == 0, "%s", run_output(&l.run));
    run_end(&l.run);
}
