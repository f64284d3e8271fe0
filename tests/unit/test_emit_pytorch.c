/* --target pytorch: which .nn names can be Python names, the dataset recipe
 * the front end keeps for data.py, and the package written all or nothing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/emit/pytorch.h"
#include "nnc/emit.h"
#include "support.h"

/* What py_put_double writes for v, in buf. */
static const char *python_double(double v, char *buf, size_t size)
{
    FILE *f = fmemopen(buf, size, "w");
    cr_assert(f);
    py_put_double(f, v);
    fclose(f);
    return buf;
}

/* Each value as Python 3's repr() writes it (checked with python3 -c 'print(repr(v))'). */
Test(emit_pytorch, doubles_are_spelled_as_repr_does)
{
    static const struct {
        double v;
        const char *repr;
    } cases[] = {
        {0.1, "0.1"},       {60.0, "60.0"},       {-60.0, "-60.0"},    {1.0, "1.0"},
        {0.0, "0.0"},       {-0.0, "-0.0"},       {1e-05, "1e-05"},    {0.0001, "0.0001"},
        {1.5e-07, "1.5e-07"}, {1e16, "1e+16"},    {1234567890123456.0, "1234567890123456.0"},
        {0.001, "0.001"},   {123.456, "123.456"}, {1.0 / 3, "0.3333333333333333"},
        {2.5e-4, "0.00025"}, {1e22, "1e+22"},     {0.08333333333333333, "0.08333333333333333"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_str_eq(python_double(cases[i].v, buf, sizeof buf), cases[i].repr,
                         "py_put_double(%.17g)", cases[i].v);
}

Test(emit_pytorch, python_keywords_are_refused_everywhere)
{
    cr_expect_str_eq(emit_pytorch_name_clash("class", true), "is a Python keyword");
    cr_expect_str_eq(emit_pytorch_name_clash("lambda", false), "is a Python keyword");
    cr_expect_not_null(emit_pytorch_name_clash("None", true));
}

Test(emit_pytorch, module_attributes_are_refused_as_layers_only)
{
    cr_expect_str_eq(emit_pytorch_name_clash("eval", true), "is already an attribute of nn.Module");
    cr_expect_not_null(emit_pytorch_name_clash("forward", true));
    cr_expect_not_null(emit_pytorch_name_clash("_hidden", true));
    cr_expect_null(emit_pytorch_name_clash("eval", false));
}

Test(emit_pytorch, generated_globals_are_refused_as_class_names)
{
    cr_expect_not_null(emit_pytorch_name_clash("torch", false));
    cr_expect_not_null(emit_pytorch_name_clash("print", false));
    cr_expect_not_null(emit_pytorch_name_clash("make_scheduler", false));
    cr_expect_not_null(emit_pytorch_name_clash("VALIDATE", false));
    cr_expect_not_null(emit_pytorch_name_clash("__doc__", false));
    cr_expect_null(emit_pytorch_name_clash("torch", true));
}

Test(emit_pytorch, ordinary_names_pass)
{
    const char *names[] = {"layer1", "hidden", "output", "XORNet", "digitnet", "dense2"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        cr_expect_null(emit_pytorch_name_clash(names[i], true), "%s", names[i]);
        cr_expect_null(emit_pytorch_name_clash(names[i], false), "%s", names[i]);
    }
}

static const char split_program[] =
    "dataset d {\n"
    "    x = [[1, 2], [3, 4], [5, 6], [7, 8]]\n"
    "    y = [0, 1, 0, 1]\n"
    "    scale = 0.5\n"
    "    split = 0.5\n"
    "    seed = 9\n"
    "    normalize = standard\n"
    "}\n"
    "model m { input 2\n out: dense 1, sigmoid }\n"
    "evaluate m on d.test\n";

Test(emit_pytorch, lowering_keeps_the_dataset_recipe)
{
    Run r;
    IrProgram *p = expect_clean(&r, split_program);
    cr_assert_eq(p->n_datasets, 3);
    const IrDataSource *s = p->datasets[0].source;
    cr_assert_not_null(s);
    cr_expect_str_eq(s->name, "d");
    cr_expect_null(s->csv);
    cr_expect(s->has_scale && s->scale == 0.5);
    cr_expect(s->has_split && s->split == 0.5 && s->seed == 9);
    cr_expect_eq(s->normalize, NORM_STANDARD);
    /* x as written, before scale and normalize changed the dataset's copy */
    cr_expect_eq(s->raw_x[0], 1.0f);
    cr_expect_eq(s->raw_x[7], 8.0f);
    cr_expect_neq(p->datasets[0].x[0], 1.0f);
    cr_expect_eq(p->datasets[1].source, s);
    cr_expect_eq(p->datasets[1].part, DATA_TRAIN);
    cr_expect_eq(p->datasets[2].part, DATA_TEST);
    cr_expect_eq(p->datasets[0].part, DATA_WHOLE);
    run_end(&r);
}

static bool exists(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

Test(emit_pytorch, writes_the_package_or_nothing)
{
    char tmp[] = "/tmp/nnc-pytorch-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    char pkg[64], bad[64];
    snprintf(pkg, sizeof pkg, "%s/pkg", tmp);
    snprintf(bad, sizeof bad, "%s/bad", tmp);

    Run r;
    IrProgram *p = expect_clean(&r, split_program);
    EmitPytorchOptions o = {.dir = pkg, .source_name = "t.nn"};
    cr_expect(emit_pytorch(p, 0, &o, &r.diag));
    const char *files[] = {"__init__.py", "model.py", "data.py", "train.py",
                           "safetensors_io.py", "README.md"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        cr_expect(exists(pkg, files[i]), "%s", files[i]);
    run_end(&r);

    p = expect_clean(&r, "model m { input 2\n class: dense 1 }\n");
    o.dir = bad;
    cr_expect_not(emit_pytorch(p, 0, &o, &r.diag));
    cr_expect(strstr(run_output(&r), "layer 'class' cannot be an attribute") != NULL, "%s",
              run_output(&r));
    cr_expect_not(exists(tmp, "bad"));
    run_end(&r);

    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_expect_eq(system(cmd), 0);
}
