/* The grammar: every declaration form, values, syntax errors, recovery, and
 * the AST dump. */
#include "support.h"

static const char spec_text[] =
    "dataset xor {\n"
    "    x = [[0, 0], [0, 1], [1, 0], [1, 1]]\n"
    "    y = [0, 1, 1, 0]\n"
    "}\n"
    "model handpicked {\n"
    "    input 2\n"
    "    hidden: dense 2, relu    { weight = [[1, 1], [1, 1]]  bias = [-0.5, -1.5] }\n"
    "    dense 1, leaky_relu 0.2\n"
    "    dropout 0.5\n"
    "}\n"
    "train handpicked on xor {\n"
    "    loss = bce\n"
    "    optimizer = adam(lr = 0.1)\n"
    "    sweep lr = [0.01, 0.1, 1.0,]\n"
    "}\n"
    "evaluate handpicked on xor { show = hidden }\n"
    "evaluate handpicked on digits.test\n"
    "evaluate handpicked on digits.train\n";

Test(parser, declaration_forms)
{
    Run r;
    AstFile *f = run_parse(&r, spec_text);
    cr_assert_not_null(f, "%s", run_output(&r));
    cr_expect_eq(f->n_decls, 6);
    AstDecl *d = f->decls;
    cr_expect_eq(d->kind, DECL_DATASET);
    cr_expect_str_eq(d->name, "xor");
    cr_expect_eq(d->name_loc.col, 9);
    cr_expect_str_eq(d->props->name, "x");
    cr_expect_eq(d->props->value->kind, AST_LIST);
    cr_expect_eq(d->props->value->n, 4);
    cr_expect_eq(d->props->value->items->n, 2);
    cr_expect_eq(d->props->next->value->n, 4);

    d = d->next;
    cr_expect_eq(d->kind, DECL_MODEL);
    AstLayer *l = d->layers;
    cr_expect(l->is_input);
    cr_expect_eq(l->args->value->number, 2);
    l = l->next;
    cr_expect_str_eq(l->name, "hidden");
    cr_expect_str_eq(l->kind, "dense");
    cr_expect_eq(l->n_args, 1);
    cr_expect_str_eq(l->act, "relu");
    cr_expect(l->has_block);
    cr_expect_eq(l->block_loc.col, 30);
    cr_expect_str_eq(l->params->name, "weight");
    cr_expect_str_eq(l->params->next->name, "bias");
    cr_expect_eq(l->params->next->value->items->next->number, -1.5);
    l = l->next;
    cr_expect_null(l->name);
    cr_expect_str_eq(l->act, "leaky_relu");
    cr_expect_eq(l->n_act_args, 1);
    cr_expect_eq(l->act_args->value->number, 0.2);
    l = l->next;
    cr_expect_str_eq(l->kind, "dropout");
    cr_expect_eq(l->args->value->number, 0.5);
    cr_expect_null(l->next);

    d = d->next;
    cr_expect_eq(d->kind, DECL_TRAIN);
    cr_expect_str_eq(d->name, "handpicked");
    cr_expect_str_eq(d->on.name, "xor");
    cr_expect_null(d->on.part);
    AstProp *p = d->props->next;
    cr_expect_eq(p->value->kind, AST_CALL);
    cr_expect_str_eq(p->value->text, "adam");
    cr_expect_str_eq(p->value->args->name, "lr");
    p = p->next;
    cr_expect(p->sweep);
    cr_expect_str_eq(p->name, "lr");
    cr_expect_eq(p->value->n, 3); /* trailing comma allowed */

    d = d->next;
    cr_expect_eq(d->kind, DECL_EVALUATE);
    cr_expect(d->has_block);
    cr_expect_str_eq(d->props->value->text, "hidden");
    d = d->next;
    cr_expect_not(d->has_block);
    cr_expect_str_eq(d->on.name, "digits");
    cr_expect_str_eq(d->on.part, "test");
    cr_expect_eq(d->on.part_loc.col, 31);
    cr_expect_str_eq(d->next->on.part, "train"); /* a keyword after '.' */
    cr_expect_str_empty(run_output(&r));
    run_end(&r);
}

Test(parser, values)
{
    Run r;
    AstFile *f = run_parse(&r, "dataset d { a = sgd(0.1, momentum = 0.9) b = \"s\" c = true "
                               "e = false g = last h = [] i = [[1], [2, 3]] j = f() }");
    cr_assert_not_null(f, "%s", run_output(&r));
    AstProp *p = f->decls->props;
    cr_expect_eq(p->value->n, 2);
    cr_expect_null(p->value->args->name);
    cr_expect_eq(p->value->args->value->number, 0.1);
    cr_expect_str_eq(p->value->args->next->name, "momentum");
    p = p->next;
    cr_expect_eq(p->value->kind, AST_STRING);
    p = p->next;
    cr_expect(p->value->kind == AST_BOOL && p->value->boolean);
    p = p->next;
    cr_expect(p->value->kind == AST_BOOL && !p->value->boolean);
    p = p->next;
    cr_expect_eq(p->value->kind, AST_IDENT);
    cr_expect_str_eq(p->value->text, "last");
    p = p->next;
    cr_expect_eq(p->value->n, 0);
    p = p->next;
    cr_expect_eq(p->value->items->next->n, 2); /* ragged is the checker's business */
    p = p->next;
    cr_expect_eq(p->value->kind, AST_CALL);
    cr_expect_eq(p->value->n, 0);
    run_end(&r);
}

Test(parser, empty_file)
{
    Run r;
    AstFile *f = run_parse(&r, "# nothing but a comment\n");
    cr_assert_not_null(f);
    cr_expect_eq(f->n_decls, 0);
    run_end(&r);
}

static void expect_parse_error(const char *text, const char *first_line)
{
    Run r;
    cr_expect_null(run_parse(&r, text));
    const char *out = run_output(&r);
    cr_expect(strncmp(out, first_line, strlen(first_line)) == 0 && out[strlen(first_line)] == '\n',
              "expected:\n%s\ngot:\n%s", first_line, out);
    run_end(&r);
}

Test(parser, syntax_errors_say_what_was_expected)
{
    expect_parse_error("model m {\n  input 2\n  3: dense 4\n}\n",
                       "t.nn:3:3: error: syntax error, unexpected number, expecting identifier, "
                       "'input' or '}'");
    expect_parse_error("dataset 3 {}", "t.nn:1:9: error: syntax error, unexpected number, "
                                       "expecting identifier");
    expect_parse_error("dataset d { x = = 1 }",
                       "t.nn:1:17: error: syntax error, unexpected '=', expecting a value");
    expect_parse_error("dataset d { x = [1 2] }",
                       "t.nn:1:20: error: syntax error, unexpected number, expecting ',' or ']'");
    expect_parse_error("train m d {}",
                       "t.nn:1:9: error: syntax error, unexpected identifier, expecting 'on'");
    expect_parse_error("model m { input 2, relu }",
                       "t.nn:1:18: error: syntax error, unexpected ',', expecting identifier, "
                       "'input' or '}'");
    expect_parse_error("x", "t.nn:1:1: error: syntax error, unexpected identifier, expecting "
                            "'dataset', 'model', 'train' or 'evaluate'");
}

Test(parser, end_of_file_points_after_the_last_token)
{
    Run r;
    cr_expect_null(run_parse(&r, "model m {\n  input 2\n  dense 1\n\n"));
    cr_expect_str_eq(run_output(&r),
                     "t.nn:3:10: error: syntax error, unexpected end of file, expecting '}'\n"
                     "      dense 1\n"
                     "             ^\n");
    run_end(&r);
}

Test(parser, recovery_reports_independent_errors)
{
    Run r;
    cr_expect_null(run_parse(&r, "dataset d {\n"
                                 "  x = [[0, 0], [0, 1]\n"
                                 "  y = [0, 1]\n"
                                 "}\n"
                                 "model m {\n"
                                 "  input 2\n"
                                 "  dense 4,\n"
                                 "}\n"
                                 "train m on d {\n"
                                 "  loss bce\n"
                                 "  epochs = 10\n"
                                 "}\n"));
    const char *out = run_output(&r);
    cr_expect(strstr(out, "t.nn:3:3: error: syntax error, unexpected identifier, expecting ',' or ']'\n"), "%s", out);
    cr_expect(strstr(out, "t.nn:8:1: error: syntax error, unexpected '}', expecting identifier\n"), "%s", out);
    cr_expect(strstr(out, "t.nn:10:8: error: syntax error, unexpected identifier, expecting '='\n"), "%s", out);
    cr_expect_eq(r.diag.errors, 3);
    run_end(&r);
}

Test(parser, activation_and_block_order)
{
    expect_parse_error("model m { input 2 dense 2 { bias = [0, 0] }, relu }",
                       "t.nn:1:44: error: the activation must come before the parameter block");
    expect_parse_error("model m { input 2 dense 2, relu, tanh }",
                       "t.nn:1:32: error: a layer line takes at most one activation after ','");
}

Test(parser, deep_nesting_is_rejected_without_overflow)
{
    enum { DEPTH = 100000 };
    char *text = malloc(2 * DEPTH + 64);
    char *p = text + sprintf(text, "dataset d { x = ");
    memset(p, '[', DEPTH);
    memset(p + DEPTH, ']', DEPTH);
    strcpy(p + 2 * DEPTH, " }\nmodel m {");
    Run r;
    cr_expect_null(run_parse(&r, text));
    const char *out = run_output(&r);
    const char *first = "t.nn:1:81: error: lists nested too deeply (at most 64 levels)\n";
    cr_expect(strncmp(out, first, strlen(first)) == 0, "%s", out);
    cr_expect(strstr(out, "t.nn:2:10: error: syntax error, unexpected end of file, expecting '}'\n"),
              "%s", out);
    cr_expect_eq(r.diag.errors, 2);
    run_end(&r);
    free(text);
}

Test(parser, ast_dump)
{
    Run r;
    AstFile *f = run_parse(&r, "dataset d { x = [[1, 2]] y = [0.5] csv = \"a\\\"b\" }\n"
                               "model m {\n  input 2\n  h: dense 1, leaky_relu 0.1 { frozen = true }\n  relu\n}\n"
                               "train m on d.train { optimizer = sgd(0.1, momentum = 0.9) sweep epochs = [1, 2] }\n"
                               "evaluate m on d\n");
    cr_assert_not_null(f, "%s", run_output(&r));
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ast_dump(out, f);
    fclose(out);
    cr_expect_str_eq(buf,
                     "file t.nn\n"
                     "  dataset d @1:1\n"
                     "    prop x @1:13 = list[1] @1:17\n"
                     "      list[2] @1:18 = [1, 2]\n"
                     "    prop y @1:26 = list[1] @1:30 = [0.5]\n"
                     "    prop csv @1:36 = string \"a\\\"b\" @1:42\n"
                     "  model m @2:1\n"
                     "    input 2 @3:3\n"
                     "    layer h @4:3 kind dense 1, leaky_relu 0.1\n"
                     "      params @4:30\n"
                     "        prop frozen @4:32 = bool true @4:41\n"
                     "    layer - @5:3 kind relu\n"
                     "  train m on d.train @7:1\n"
                     "    prop optimizer @7:22 = call sgd(2) @7:34\n"
                     "      arg = number 0.1 @7:38\n"
                     "      arg momentum @7:43 = number 0.9 @7:54\n"
                     "    sweep epochs @7:65 = list[2] @7:74 = [1, 2]\n"
                     "  evaluate m on d @8:1\n");
    free(buf);
    run_end(&r);
}
