/* nnc fmt (src/front/fmt.c): the layout rules of docs/fmt.md on small
 * inputs, the tricky places of comments, and the recorded tokens it is
 * built on. Every formatted text is also formatted again: it must not
 * change (fmt(fmt(x)) == fmt(x)). */
#include "support.h"

#include "nnc/fmt.h"
#include "nnc/parse.h"

/* fmt of text (malloc'd), after checking that formatting it again is a
 * no-op; NULL when fmt refuses, with the diagnostics in *diags if asked. */
static char *fmt_of_diag(const char *text, char **diags)
{
    Run r;
    run_start(&r, text);
    size_t len;
    char *out = fmt_text(&r.arena, &r.diag, &r.src, &len);
    char *copy = out ? strdup(out) : NULL;
    if (diags)
        *diags = strdup(run_output(&r));
    run_end(&r);
    if (copy) {
        run_start(&r, copy);
        char *again = fmt_text(&r.arena, &r.diag, &r.src, &len);
        cr_assert_not_null(again, "%s", run_output(&r));
        cr_assert_str_eq(again, copy, "fmt(fmt(x)) != fmt(x)");
        run_end(&r);
    }
    return copy;
}

static char *fmt_of(const char *text)
{
    char *out = fmt_of_diag(text, NULL);
    cr_assert_not_null(out, "fmt refused:\n%s", text);
    return out;
}

static void expect_fmt(const char *text, const char *want)
{
    char *got = fmt_of(text);
    cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
    free(got);
}

Test(fmt, keys_align_per_block_and_sweeps_count_whole)
{
    expect_fmt("train m on d {\nloss = bce\n  optimizer=adam(lr=0.1)\nsweep lr = [0.01, 0.1]\n}\n"
               "dataset d { x = [1]  y = [0] }\n",
               "train m on d {\n"
               "    loss      = bce\n"
               "    optimizer = adam(lr = 0.1)\n"
               "    sweep lr  = [0.01, 0.1]\n"
               "}\n"
               "\n"
               "dataset d { x = [1]  y = [0] }\n");
}

Test(fmt, numbers_and_strings_keep_their_source_text)
{
    expect_fmt("dataset d { x = [0.1000000015, 1e-3, .5, 3., -0.0, 1E5, 007]  "
               "csv = \"a \\\"b\\\" \\\\ c\" }\n",
               "dataset d {\n"
               "    x   = [0.1000000015, 1e-3, .5, 3., -0.0, 1E5, 007]\n"
               "    csv = \"a \\\"b\\\" \\\\ c\"\n"
               "}\n");
}

Test(fmt, end_of_line_comments_align_at_column_37_or_after_the_longest_line)
{
    expect_fmt("dataset d {\n  x = [1] # a\n  target = last   # b\n\n  y = [0] #c\n}\n",
               "dataset d {\n"
               "    x      = [1]                    # a\n"
               "    target = last                   # b\n"
               "\n"
               "    y      = [0]                    #c\n"
               "}\n");
    expect_fmt("model m {\n input 2 # in\n"
               " a_rather_long_layer_name: dense 1000, leaky_relu 0.125 # long\n}\n",
               "model m {\n"
               "    input 2                                                 # in\n"
               "    a_rather_long_layer_name: dense 1000, leaky_relu 0.125  # long\n"
               "}\n");
}

Test(fmt, comments_between_layers_keep_their_lines)
{
    expect_fmt("model m {\n    input 2\n\n\n    # the hidden layer\n    h: dense 4, relu\n"
               "    # the output\n\n    dense 1\n    # after the last\n}\n",
               "model m {\n"
               "    input 2\n"
               "\n"
               "    # the hidden layer\n"
               "    h: dense 4, relu\n"
               "    # the output\n"
               "\n"
               "    dense 1\n"
               "    # after the last\n"
               "}\n");
}

Test(fmt, a_comment_inside_a_line_goes_to_its_end)
{
    expect_fmt("model m {\n    h: # hidden\n        dense 4, relu\n}\n",
               "model m {\n"
               "    h: dense 4, relu                # hidden\n"
               "}\n");
}

Test(fmt, comments_in_parameter_blocks)
{
    /* A comment expands the block it is in; one after '{' stays there. */
    expect_fmt("model m {\n    n: dense 1, step { # fixed\n        weight = [[1, 1]] # w\n"
               "        # the bias\n        bias = [-1.5] }\n}\n",
               "model m {\n"
               "    n: dense 1, step {              # fixed\n"
               "        weight = [[1, 1]]           # w\n"
               "        # the bias\n"
               "        bias   = [-1.5]\n"
               "    }\n"
               "}\n");
}

Test(fmt, one_line_blocks_stay_and_align_as_a_table)
{
    expect_fmt("model h {\n    input 2\n"
               "    hidden: dense 2, relu { weight = [[1, 1], [1, 1]] bias = [-0.5, -1.5] }\n"
               "    output: dense 1, sigmoid { weight = [[1, -2]] bias = [-0.5] }\n}\n"
               "model a { input 1 sigmoid }\nmodel bb { input 10 relu }\n",
               "model h {\n"
               "    input 2\n"
               "    hidden: dense 2, relu    { weight = [[1, 1], [1, 1]]  bias = [-0.5, -1.5] }\n"
               "    output: dense 1, sigmoid { weight = [[1, -2]]         bias = [-0.5] }\n"
               "}\n"
               "\n"
               "model a  { input 1   sigmoid }\n"
               "model bb { input 10  relu }\n");
}

Test(fmt, a_block_that_does_not_fit_is_expanded)
{
    expect_fmt("model m { input 2  d: dense 3 { weight = [[1, 0], [0, 1], [1, 1]]  "
               "bias = [0, 0, 0]  frozen = true } }\n",
               "model m {\n"
               "    input 2\n"
               "    d: dense 3 {\n"
               "        weight = [[1, 0], [0, 1], [1, 1]]\n"
               "        bias   = [0, 0, 0]\n"
               "        frozen = true\n"
               "    }\n"
               "}\n");
}

Test(fmt, nested_lists)
{
    /* A table written on one line that fits stays; one written over
     * several lines keeps a row per line; a comment expands its list. */
    expect_fmt("dataset d {\n x = [[0, 0], [0, 1]]\n y = [[0],\n [1]]\n"
               " z = [[1, 2], # first\n [3, 4]]\n}\n",
               "dataset d {\n"
               "    x = [[0, 0], [0, 1]]\n"
               "    y = [\n"
               "        [0],\n"
               "        [1],\n"
               "    ]\n"
               "    z = [\n"
               "        [1, 2],                     # first\n"
               "        [3, 4],\n"
               "    ]\n"
               "}\n");
}

Test(fmt, long_lists_wrap_at_the_width)
{
    char text[2048] = "dataset d {\n    y = [";
    for (int i = 0; i < 100; i++)
        sprintf(text + strlen(text), "%s%d", i ? ", " : "", i * 7);
    strcat(text, "]\n}\n");
    char *got = fmt_of(text);
    cr_assert(strstr(got, "    y = [\n        0, 7, 14,"), "%s", got);
    cr_assert(strstr(got, " 693,\n    ]\n}\n"), "%s", got);
    for (char *line = got; *line; line = strchr(line, '\n') + 1)
        cr_expect_leq((size_t)(strchr(line, '\n') - line), (size_t)FMT_WIDTH, "%s", line);
    free(got);
    /* A list of lists that does not fit: one row per line. */
    expect_fmt("dataset d { x = [[0.125, 0.25, 0.375, 0.5], [0.625, 0.75, 0.875, 1], "
               "[1.125, 1.25, 1.375, 1.5]] }\n",
               "dataset d {\n"
               "    x = [\n"
               "        [0.125, 0.25, 0.375, 0.5],\n"
               "        [0.625, 0.75, 0.875, 1],\n"
               "        [1.125, 1.25, 1.375, 1.5],\n"
               "    ]\n"
               "}\n");
}

Test(fmt, long_calls_take_one_argument_per_line)
{
    expect_fmt("train m on d { optimizer = adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, "
               "eps = 0.00000001, weight_decay = 0.01) }\n",
               "train m on d {\n"
               "    optimizer = adam(\n"
               "        lr = 0.001,\n"
               "        beta1 = 0.9,\n"
               "        beta2 = 0.999,\n"
               "        eps = 0.00000001,\n"
               "        weight_decay = 0.01\n"
               "    )\n"
               "}\n");
}

Test(fmt, blank_lines_between_declarations)
{
    /* Around a declaration of several lines, one; one-line ones written
     * together stay together; never more than one. */
    expect_fmt("\n\n# top\ndataset d {\n x = [1]\n}\nevaluate m on d\nevaluate m on d.test\n\n\n\n"
               "evaluate m on d.train { show = h }\n# about n\nmodel n {\n input 1\n}\n# end\n",
               "# top\n"
               "dataset d {\n"
               "    x = [1]\n"
               "}\n"
               "\n"
               "evaluate m on d\n"
               "evaluate m on d.test\n"
               "\n"
               "evaluate m on d.train { show = h }\n"
               "\n"
               "# about n\n"
               "model n {\n"
               "    input 1\n"
               "}\n"
               "# end\n");
}

Test(fmt, empty_blocks_files_and_comments_only)
{
    expect_fmt("", "");
    expect_fmt("  \n\n", "");
    expect_fmt("# a   \r\n\n\n# b", "# a\n\n# b\n");
    expect_fmt("model m {\n}\nevaluate m on d {   }\n", "model m {}\nevaluate m on d {}\n");
    expect_fmt("model m { # none yet\n}\n", "model m {                           # none yet\n}\n");
}

Test(fmt, syntax_errors_are_refused_with_the_parsers_messages)
{
    const char *text = "model m {\n    input 2\n    dense 1,\n}\n";
    char *diags;
    cr_assert_null(fmt_of_diag(text, &diags));
    Run r;
    cr_assert_null(run_parse(&r, text));
    cr_expect_str_eq(diags, run_output(&r));
    cr_expect(strstr(diags, "t.nn:4:1: error: syntax error"), "%s", diags);
    run_end(&r);
    free(diags);
}

Test(fmt, recorded_tokens_include_comments_and_change_no_parse)
{
    const char *text = "model m { # c\n  input 2 }\n";
    Run r;
    run_start(&r, text);
    ParseTokens t = {0};
    AstFile *f = front_parse_tokens(&r.arena, &r.diag, &r.src, &t);
    cr_assert_not_null(f);
    cr_assert_eq(t.n, 7);
    cr_expect_eq(t.items[3].kind, PARSE_COMMENT);
    cr_expect_eq(t.items[3].loc.line, 1);
    cr_expect_eq(t.items[3].loc.col, 11);
    cr_expect_eq(t.items[3].offset, 10);
    cr_expect_eq(t.items[3].loc.len, 3);
    cr_expect_eq(t.items[6].kind, '}');
    Run plain;
    AstFile *g = run_parse(&plain, text);
    cr_assert_not_null(g);
    cr_expect(ast_equal(f, g));
    run_end(&plain);
    run_end(&r);
}

Test(fmt, ast_equal_sees_every_difference_but_locations)
{
    const char *pairs[][2] = {
        {"dataset d { x = [1, 2] }", "dataset d {\n  x = [1,\n 2,]\n}"},
        {"dataset d { x = [1, 2] }", "dataset d { x = [1, 3] }"},
        {"dataset d { x = [1] }", "dataset d { x = [1.0] }"},
        {"dataset d { x = [0] }", "dataset d { x = [-0] }"},
        {"evaluate m on d", "evaluate m on d {}"},
        {"train m on d { sweep lr = [1] }", "train m on d { lr = [1] }"},
        {"model m { a: dense 1, relu }", "model m { a: dense 1, relu {} }"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        Run a, b;
        AstFile *fa = run_parse(&a, pairs[i][0]), *fb = run_parse(&b, pairs[i][1]);
        cr_assert(fa && fb, "%s%s", run_output(&a), run_output(&b));
        cr_expect_eq(ast_equal(fa, fb), i == 0, "pair %zu", i);
        run_end(&a);
        run_end(&b);
    }
}
