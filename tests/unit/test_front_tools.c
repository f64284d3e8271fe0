/* The front end's entry points for tools (the language server): a parse
 * that keeps what it could build, and the property tables of each block. */
#include <criterion/criterion.h>
#include <string.h>

#include "nnc/ast.h"
#include "support.h"

static const char *names(const FrontProp *p, size_t n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", p[i].name);
    return buf;
}

Test(front_tools, tolerant_parse_keeps_complete_declarations)
{
    Run r;
    run_start(&r, "dataset d { x = [1] y = [0] }\n"
                  "model m {\n    input 2\n    dense 4,\n    dense 1\n}\n"
                  "train m on {\n");
    AstFile *f = front_parse_tolerant(&r.arena, &r.diag, &r.src);
    cr_assert_not_null(f);
    cr_expect_gt(r.diag.errors, 0);
    cr_assert_eq(f->n_decls, 2);
    cr_expect_str_eq(f->decls->name, "d");
    cr_expect_str_eq(f->decls->next->name, "m");
    /* The same text through front_parse: the same errors, no tree. */
    Run strict;
    cr_expect_null(run_parse(&strict, r.src.text));
    cr_expect_str_eq(run_output(&strict), run_output(&r));
    run_end(&strict);
    run_end(&r);
}

Test(front_tools, block_props_are_the_checker_tables)
{
    FrontProp p[FRONT_MAX_PROPS];
    char buf[512];
    size_t n = front_block_props(FRONT_DATASET, OP_INPUT, p);
    cr_expect_str_eq(names(p, n, buf, sizeof buf),
                     "x y csv header target classes scale normalize split seed");
    cr_expect(p[3].boolean);
    cr_expect_str_eq(p[7].choices[0], "minmax");
    n = front_block_props(FRONT_TRAIN, OP_INPUT, p);
    cr_expect_str_eq(names(p, n, buf, sizeof buf), "loss optimizer epochs batch seed log_every schedule clip_grad validate early_stop");
    cr_expect_str_eq(p[0].choices[2], "cross_entropy");
    n = front_block_props(FRONT_EVALUATE, OP_INPUT, p);
    cr_expect_str_eq(names(p, n, buf, sizeof buf), "show");
    n = front_block_props(FRONT_PARAMS, OP_DENSE, p);
    cr_expect_str_eq(names(p, n, buf, sizeof buf), "weight bias frozen");
    cr_expect_eq(front_block_props(FRONT_PARAMS, OP_RELU, p), 0);
}

/* A property the table lists is one the checker accepts: no "unknown
 * property" for any of them. */
Test(front_tools, every_listed_property_is_known)
{
    FrontProp p[FRONT_MAX_PROPS];
    size_t n = front_block_props(FRONT_TRAIN, OP_INPUT, p);
    for (size_t i = 0; i < n; i++) {
        char text[512];
        snprintf(text, sizeof text, "dataset d { x = [1] y = [0] }\n"
                                    "model m { input 1 dense 1 }\n"
                                    "train m on d { %s = 1 }\n", p[i].name);
        Run r;
        run_compile(&r, text);
        cr_expect_null(strstr(run_output(&r), "unknown property"), "%s", run_output(&r));
        run_end(&r);
    }
}
