/* The checker and lowering: every diagnostic family at its exact location,
 * shape inference, naming, defaults, implicit evaluation and splits. */
#include <math.h>

#include "support.h"

#define XOR "dataset xor {\n  x = [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y = [0, 1, 1, 0]\n}\n"
#define NET "model net {\n  input 2\n  l1: dense 4, relu\n  l2: dense 1, sigmoid\n}\n"
/* Lines 1-9 are XOR and NET; a test's own text starts on line 10. */
#define BASE XOR NET
#define TRAIN_OK "loss = bce optimizer = adam(lr = 0.1) epochs = 10"

/* ---- names ------------------------------------------------------------- */

Test(names, duplicate_declarations)
{
    expect_diag(BASE "model net {\n  input 2\n  dense 1\n}\n",
                "t.nn:10:7: error: duplicate model 'net'");
    expect_diag(BASE "model net {\n  input 2\n  dense 1\n}\n",
                "t.nn:5:7: note: previous declaration is here");
    expect_diag(BASE "dataset xor { x = [1] y = [1] }\n", "t.nn:10:9: error: duplicate dataset 'xor'");
}

Test(names, unknown_with_suggestion)
{
    expect_diag(BASE "train nte on xor { " TRAIN_OK " }\n",
                "t.nn:10:7: error: unknown model 'nte'; did you mean 'net'?");
    expect_diag(BASE "evaluate net on xro\n",
                "t.nn:10:17: error: unknown dataset 'xro'; did you mean 'xor'?");
    expect_diag(BASE "evaluate zzzzz on xor\n", "t.nn:10:10: error: unknown model 'zzzzz'");
}

Test(names, declared_before_use)
{
    expect_diag("evaluate net on xor\n" BASE,
                "t.nn:1:10: error: model 'net' is used before its declaration");
    expect_diag("evaluate net on xor\n" BASE,
                "t.nn:1:17: error: dataset 'xor' is used before its declaration");
}

Test(names, wrong_kind)
{
    expect_diag(BASE "evaluate xor on net\n", "t.nn:10:10: error: 'xor' is a dataset, not a model");
}

Test(names, duplicate_layer_and_unknown_show)
{
    expect_diag("model m {\n  input 2\n  h: dense 2\n  h: dense 1\n}\n",
                "t.nn:4:3: error: duplicate layer 'h' in model 'm'");
    expect_diag(BASE "evaluate net on xor { show = l3 }\n",
                "t.nn:10:30: error: unknown layer 'l3' in model 'net'; did you mean 'l1'?");
}

/* ---- property tables ----------------------------------------------------- */

Test(props, unknown_repeated_mistyped)
{
    expect_diag(BASE "train net on xor { lsos = bce optimizer = sgd(lr = 0.1) epochs = 1 }\n",
                "t.nn:10:20: error: unknown property 'lsos' in train block; did you mean 'loss'?");
    expect_diag(BASE "train net on xor { " TRAIN_OK " epochs = 3 }\n",
                "t.nn:10:70: error: property 'epochs' is given twice");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(lr = 0.1) epochs = \"x\" }\n",
                "t.nn:10:66: error: epochs must be an integer, got string");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(lr = 0.1) epochs = 2.5 }\n",
                "t.nn:10:66: error: epochs must be an integer, got 2.5");
    expect_diag("dataset d { x = [1] y = [1] wieght = 2 }\n",
                "t.nn:1:29: error: unknown property 'wieght' in dataset block");
    expect_diag("model m { input 1 dense 1 { wieght = [[1]] } }\n",
                "t.nn:1:29: error: unknown property 'wieght' in parameter block; did you mean 'weight'?");
    expect_diag(BASE "evaluate net on xor { shw = l1 }\n",
                "t.nn:10:23: error: unknown property 'shw' in evaluate block; did you mean 'show'?");
}

Test(props, required)
{
    expect_diag(BASE "train net on xor { epochs = 1 }\n",
                "t.nn:10:1: error: train block needs loss (bce, mse, cross_entropy, bce_logits, l1 or huber)");
    expect_diag(BASE "train net on xor { epochs = 1 }\n",
                "t.nn:10:1: error: train block needs optimizer, e.g. optimizer = adam(lr = 0.01)");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(lr = 1) }\n",
                "t.nn:10:1: error: train block needs epochs, e.g. epochs = 100");
    expect_diag("dataset d { y = [1] }\n",
                "t.nn:1:9: error: dataset 'd' needs x (the inputs, one row per sample) or csv (a file)");
    /* y is optional (evaluate prints outputs only), but training needs it. */
    expect_diag("dataset d { x = [1] }\nmodel m { input 1 dense 1 }\n"
                "train m on d { loss = mse optimizer = sgd(lr = 1) epochs = 1 }\n",
                "t.nn:3:23: error: loss 'mse' needs targets, but dataset 'd' has no y");
}

Test(props, ranges)
{
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(lr = -0.1) epochs = 1 }\n",
                "t.nn:10:52: error: lr must be > 0, got -0.1");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(lr = 0.1) epochs = 0 }\n",
                "t.nn:10:66: error: epochs must be >= 1, got 0");
    expect_diag(BASE "train net on xor { " TRAIN_OK " batch = 0 }\n",
                "t.nn:10:78: error: batch must be >= 1, got 0");
    expect_diag(BASE "train net on xor { " TRAIN_OK " log_every = 0 }\n",
                "t.nn:10:82: error: log_every must be >= 1, got 0");
    expect_diag(BASE "train net on xor { " TRAIN_OK " seed = -3 }\n",
                "t.nn:10:77: error: seed must be >= 0, got -3");
    expect_diag("model m { input 2 dropout 1.5 }\n",
                "t.nn:1:27: error: dropout probability must be in [0, 1), got 1.5");
    expect_diag("dataset d { x = [1, 2] y = [0, 1] split = 1 }\n",
                "t.nn:1:43: error: split must be in (0, 1), got 1");
}

/* ---- optimizers and sweeps ---------------------------------------------- */

Test(optimizer, arguments)
{
    expect_diag(BASE "train net on xor { loss = bce optimizer = adma(lr = 0.1) epochs = 1 }\n",
                "t.nn:10:43: error: unknown optimizer 'adma'; did you mean 'adam'?");
    expect_diag(BASE "train net on xor { loss = bce optimizer = adam(lr = 0.1, betas = 0.9) epochs = 1 }\n",
                "t.nn:10:58: error: unknown argument 'betas' for adam; did you mean 'beta1'?");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(momentum = 0.5) epochs = 1 }\n",
                "t.nn:10:43: error: sgd needs a learning rate, e.g. sgd(lr = 0.01)");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(0.1, 0.5, 0, false, 0, 1) epochs = 1 }\n",
                "t.nn:10:70: error: sgd takes at most 5 arguments, got 6");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(lr = 0.1, 0.5) epochs = 1 }\n",
                "t.nn:10:57: error: positional argument after a named one");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(0.1, lr = 0.5) epochs = 1 }\n",
                "t.nn:10:52: error: argument 'lr' is given twice");
    expect_diag(BASE "train net on xor { loss = bce optimizer = sgd(0.1, 1) epochs = 1 }\n",
                "t.nn:10:52: error: momentum must be in [0, 1), got 1");
    expect_diag(BASE "train net on xor { loss = bce optimizer = adam(0.1, 0.9, 1) epochs = 1 }\n",
                "t.nn:10:58: error: beta2 must be in [0, 1), got 1");
    expect_diag(BASE "train net on xor { loss = bce optimizer = adam(0.1, eps = 0) epochs = 1 }\n",
                "t.nn:10:59: error: eps must be > 0, got 0");
    expect_diag(BASE "train net on xor { loss = bce optimizer = 3 epochs = 1 }\n",
                "t.nn:10:43: error: optimizer must be a call like adam(lr = 0.01), got 3");
}

Test(optimizer, defaults_and_positional)
{
    Run r;
    IrProgram *p = expect_clean(&r, BASE "train net on xor { loss = bce optimizer = adam(0.5) epochs = 1 }\n"
                                         "train net on xor { loss = bce optimizer = sgd(0.2, 0.7) epochs = 25 }\n");
    IrOptimizer o = p->trains[0].optimizer;
    cr_expect_eq(o.kind, OPTIM_ADAM);
    cr_expect_eq(o.hyper[HP_LR], 0.5);
    cr_expect_eq(o.hyper[HP_BETA1], 0.9);
    cr_expect_eq(o.hyper[HP_BETA2], 0.999);
    cr_expect_eq(o.hyper[HP_EPS], 1e-8);
    o = p->trains[1].optimizer;
    cr_expect_eq(o.kind, OPTIM_SGD);
    cr_expect_eq(o.hyper[HP_LR], 0.2);
    cr_expect_eq(o.hyper[HP_MOMENTUM], 0.7);
    run_end(&r);
}

/* "optimizer = NAME(a1 = v1, ...)" with every argument of k at its default
 * (lr = 0.1 where it has none), named or by position. */
static void optim_call(char *buf, size_t size, OptimKind k, bool named)
{
    const OptimInfo *info = &ir_optims[k];
    size_t len = (size_t)snprintf(buf, size, "optimizer = %s(", info->name);
    for (size_t i = 0; i < info->n_args && len < size; i++) {
        const HyperInfo *h = &ir_hypers[info->args[i].hp];
        double v = isnan(info->args[i].def) ? 0.1 : info->args[i].def;
        char value[32];
        if (h->type == HYPER_BOOL)
            snprintf(value, sizeof value, "%s", v != 0 ? "true" : "false");
        else
            snprintf(value, sizeof value, "%.17g", v);
        len += (size_t)snprintf(buf + len, size - len, "%s%s%s%s", i ? ", " : "",
                                named ? h->name : "", named ? " = " : "", value);
    }
    if (len < size)
        snprintf(buf + len, size - len, ")");
}

/* Every optimizer of the table takes all its arguments by name and by
 * position, knows its own argument names, and asks for lr when required. */
Test(optimizer, every_optimizer_takes_its_arguments)
{
    for (int k = 0; k < OPTIM_COUNT; k++) {
        const OptimInfo *info = &ir_optims[k];
        for (int named = 0; named <= 1; named++) {
            char call[512], src[1024];
            optim_call(call, sizeof call, (OptimKind)k, named);
            snprintf(src, sizeof src, BASE "train net on xor { loss = bce %s epochs = 1 }\n", call);
            Run r;
            IrProgram *p = expect_clean(&r, src);
            const IrOptimizer *o = &p->trains[0].optimizer;
            cr_expect_eq(o->kind, (OptimKind)k, "%s", call);
            for (size_t i = 0; i < info->n_args; i++) {
                double want = isnan(info->args[i].def) ? 0.1 : info->args[i].def;
                cr_expect_eq(o->hyper[info->args[i].hp], want, "%s", call);
            }
            run_end(&r);
        }
        char src[512], want[256];
        snprintf(src, sizeof src, BASE "train net on xor { loss = bce optimizer = %s(lrr = 1) epochs = 1 }\n",
                 info->name);
        /* the name starts at column 43, its arguments after the '(' */
        snprintf(want, sizeof want, "t.nn:10:%zu: error: unknown argument 'lrr' for %s; did you mean 'lr'?",
                 43 + strlen(info->name) + 1, info->name);
        expect_diag(src, want);
        if (!isnan(info->args[0].def))
            continue;
        snprintf(src, sizeof src, BASE "train net on xor { loss = bce optimizer = %s epochs = 1 }\n",
                 info->name);
        snprintf(want, sizeof want, "t.nn:10:43: error: %s needs a learning rate, e.g. %s(lr = 0.01)",
                 info->name, info->name);
        expect_diag(src, want);
    }
}

Test(sweep, checks)
{
    expect_diag(BASE "train net on xor { " TRAIN_OK " sweep lr = [0.1, -1] }\n",
                "t.nn:10:87: error: lr must be > 0, got -1");
    expect_diag(BASE "train net on xor { " TRAIN_OK " sweep lrr = [0.1] }\n",
                "t.nn:10:76: error: unknown sweep parameter 'lrr'; did you mean 'lr'?");
    expect_diag(BASE "train net on xor { " TRAIN_OK " sweep lr = [1] sweep eps = [1] }\n",
                "t.nn:10:91: error: only one sweep per train block");
    expect_diag(BASE "train net on xor { " TRAIN_OK " sweep momentum = [0.5] }\n",
                "t.nn:10:76: error: cannot sweep momentum: the optimizer is adam");
    expect_diag(BASE "train net on xor { " TRAIN_OK " sweep batch = [] }\n",
                "t.nn:10:84: error: sweep batch needs at least one value");
    expect_diag(BASE "train net on xor { " TRAIN_OK " sweep epochs = [1, 0] }\n",
                "t.nn:10:89: error: epochs must be >= 1, got 0");
}

Test(sweep, lowered)
{
    Run r;
    IrProgram *p = expect_clean(&r, BASE "train net on xor { " TRAIN_OK " sweep lr = [0.01, 0.1, 1.0] }\n");
    cr_expect_eq(p->trains[0].sweep, HP_LR);
    cr_assert_eq(p->trains[0].n_sweep, 3);
    cr_expect_eq(p->trains[0].sweep_values[2], 1.0);
    run_end(&r);
}

/* ---- datasets ----------------------------------------------------------- */

Test(dataset, rows_and_values)
{
    expect_diag("dataset d {\n  x = [[0, 0], [0, 1], [1, 0], [1, 1]]\n  y = [0, 1, 1]\n}\n",
                "t.nn:3:7: error: x has 4 rows but y has 3");
    expect_diag("dataset d {\n  x = [[0, 0], [0, 1], [1], [1, 1]]\n  y = [0, 1, 1, 0]\n}\n",
                "t.nn:2:24: error: row 3 has 1 value, expected 2");
    expect_diag("dataset d { x = [[0, a]] y = [0] }\n",
                "t.nn:1:22: error: x values must be numbers, got identifier");
    expect_diag("dataset d { x = [1e300] y = [0] }\n",
                "t.nn:1:18: error: x value 1e+300 does not fit in a float");
    expect_diag("dataset d { x = [] y = [] }\n", "t.nn:1:17: error: x must not be empty");
    expect_diag("dataset d { x = 3 y = [] }\n", "t.nn:1:17: error: x must be a list, got 3");
}

Test(dataset, csv_and_classes)
{
    /* t.nn names no folder: the path is read as written (relative to the
     * working folder, where there is no data/digits.csv). */
    expect_diag("dataset digits {\n  csv = \"data/digits.csv\"\n  target = last\n}\n",
                "t.nn:2:9: error: cannot open 'data/digits.csv': No such file or directory");
    expect_diag("dataset d { csv = \"a.csv\" x = [1] }\n",
                "t.nn:1:27: error: 'x' cannot be combined with csv: the data comes from the file");
    expect_diag("dataset d { x = [1, 2] y = [0, 1] target = last }\n",
                "t.nn:1:35: error: 'target' applies only to csv datasets");
    expect_diag("dataset d { x = [1, 2, 3] y = [0, 1, 3] classes = 3 }\n",
                "t.nn:1:38: error: label 3 in row 3 is not an integer in 0..2 (classes = 3)");
    expect_diag("dataset d { x = [1] y = [0] classes = 1 }\n",
                "t.nn:1:39: error: classes must be >= 2, got 1");
    expect_diag("dataset d { x = [1] y = [0] normalize = zscore }\n",
                "t.nn:1:41: error: unknown normalize 'zscore' (expected minmax or standard)");
}

Test(dataset, flat_lists_and_scale)
{
    Run r;
    IrProgram *p = expect_clean(&r, "dataset a { x = [1, 2, 3] y = [[1, 0], [0, 1], [1, 1]] scale = 0.5 }\n");
    cr_assert_eq(p->n_datasets, 1);
    IrDataset *d = &p->datasets[0];
    cr_expect_eq(d->rows, 3);
    cr_expect_eq(d->x_cols, 1);
    cr_expect_eq(d->y_cols, 2);
    cr_expect_eq(d->x[2], 1.5f);
    cr_expect_eq(d->y[3], 1.0f);
    cr_expect_eq(d->classes, 0);
    run_end(&r);
}

Test(dataset, split_lowering)
{
    Run r;
    const char *text = "dataset d {\n  x = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
                       "  y = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]\n  split = 0.75\n  seed = 3\n}\n";
    IrProgram *p = expect_clean(&r, text);
    cr_assert_eq(p->n_datasets, 3);
    cr_expect_str_eq(p->datasets[0].name, "d");
    cr_expect_str_eq(p->datasets[1].name, "d.train");
    cr_expect_str_eq(p->datasets[2].name, "d.test");
    cr_expect_eq(p->datasets[0].rows, 10);
    cr_expect_eq(p->datasets[1].rows, 8); /* round(10 * 0.75) */
    cr_expect_eq(p->datasets[2].rows, 2);
    /* The parts are a permutation of the rows, pairs kept together, and the
     * whole dataset keeps its order. */
    bool seen[10] = {false};
    bool moved = false;
    for (size_t part = 1; part <= 2; part++) {
        const IrDataset *ds = &p->datasets[part];
        for (size_t i = 0; i < ds->rows; i++) {
            int v = (int)ds->x[i];
            cr_expect_eq(ds->y[i], 10.0f * (float)v);
            cr_expect_not(seen[v]);
            seen[v] = true;
            moved |= (part == 1 ? i : 8 + i) != (size_t)v;
        }
    }
    cr_expect(moved, "the split should shuffle");
    for (int i = 0; i < 10; i++)
        cr_expect_eq(p->datasets[0].x[i], (float)i);
    /* Same seed, same shuffle; another seed, another shuffle. */
    Run r2;
    IrProgram *q = expect_clean(&r2, text);
    cr_expect_arr_eq(q->datasets[1].x, p->datasets[1].x, 8 * sizeof(float));
    run_end(&r2);
    Run r3;
    char other[512];
    strcpy(other, text);
    *strstr(other, "seed = 3") = '\0';
    strcat(other, "seed = 4\n}\n");
    IrProgram *o = expect_clean(&r3, other);
    cr_expect(memcmp(o->datasets[1].x, p->datasets[1].x, 8 * sizeof(float)) != 0);
    run_end(&r3);
    run_end(&r);
}

Test(dataset, split_refs)
{
    expect_diag(BASE "evaluate net on xor.test\n",
                "t.nn:10:21: error: dataset 'xor' is not split; 'xor.test' needs 'split = ...' in it");
    expect_diag(BASE "dataset s { x = [[1, 1], [0, 0]] y = [1, 0] split = 0.5 }\nevaluate net on s.tst\n",
                "t.nn:11:19: error: unknown part 'tst' of dataset 's'; did you mean 'test'?");
    expect_diag("dataset s { x = [1, 2] y = [1, 0] split = 0.9 }\n",
                "t.nn:1:43: error: split 0.9 of 2 rows leaves the test part empty");
    Run r;
    IrProgram *p = expect_clean(&r, "dataset s { x = [[1, 1], [0, 0]] y = [1, 0] split = 0.5 }\n" NET
                                    "train net on s.train { " TRAIN_OK " }\nevaluate net on s.test\n");
    cr_expect_eq(p->trains[0].dataset, 1);
    cr_expect_eq(p->evals[0].dataset, 2);
    run_end(&r);
}

/* ---- models ------------------------------------------------------------- */

Test(model, layer_kinds)
{
    expect_diag("model m {\n  input 2\n  desne 4\n}\n",
                "t.nn:3:3: error: unknown layer kind 'desne'; did you mean 'dense'?");
    expect_diag("model m {\n  input 2\n  dense 4, rleu\n}\n",
                "t.nn:3:12: error: unknown activation 'rleu'; did you mean 'relu'?");
    expect_diag("model m {\n  input 2\n  dense 4, dropout 0.5\n}\n",
                "t.nn:3:12: error: 'dropout' is not an activation; only an activation can follow ','");
    expect_diag("model m {\n  input 2\n  relu { bias = [1] }\n}\n",
                "t.nn:3:8: error: only layers with parameters take a parameter block; 'relu' has none");
}

Test(model, layer_arguments)
{
    expect_diag("model m { input 2 dense }\n", "t.nn:1:19: error: 'dense' needs its 'units' argument (dense units), e.g. 'dense 4'");
    expect_diag("model m { input 2 dense 0 }\n", "t.nn:1:25: error: dense units must be a positive integer, got 0");
    expect_diag("model m { input 2 dense 1.5 }\n", "t.nn:1:25: error: dense units must be a positive integer, got 1.5");
    expect_diag("model m { input 2 dense 2 3 }\n", "t.nn:1:27: error: 'dense' takes one argument, got 2");
    expect_diag("model m { input 2 relu 3 }\n", "t.nn:1:24: error: 'relu' takes no argument");
    expect_diag("model m { input 2 dropout }\n", "t.nn:1:19: error: 'dropout' needs its 'p' argument (dropout probability), e.g. 'dropout 0.5'");
    expect_diag("model m { input 2 dense 99999999999 }\n",
                "t.nn:1:25: error: dense units 99999999999 is too large (at most 16777216 units)");
    expect_diag("model m { input 16777216 dense 16777216 }\n",
                "t.nn:1:32: error: model 'm' would have more than 268435456 parameters");
}

Test(model, input_line)
{
    expect_diag("model m {\n  dense 4\n}\n", "t.nn:2:3: error: model 'm' must start with 'input N'");
    expect_diag("model m {\n  input 2\n  dense 4\n  input 3\n}\n",
                "t.nn:4:3: error: 'input' may appear only once, as the first line");
    expect_diag("model m { input 0 dense 1 }\n", "t.nn:1:17: error: input size must be a positive integer, got 0");
    expect_diag("model m { }\n", "t.nn:1:7: error: model 'm' is empty; it needs 'input N' and layers");
    expect_diag("model m { input 3 }\n", "t.nn:1:7: error: model 'm' has no layers after 'input'");
}

Test(model, parameter_shapes)
{
    expect_diag("model m {\n  input 2\n  hidden: dense 2 { weight = [[1, 1, 1], [1, 1, 1]] }\n}\n",
                "t.nn:3:30: error: weight of 'hidden' has shape [2, 3], expected [2, 2] (out, in)");
    expect_diag("model m {\n  input 2\n  dense 1 { weight = [1, 1] }\n}\n",
                "t.nn:3:22: error: weight of 'dense1' has shape [2], expected [1, 2] (out, in)");
    expect_diag("model m {\n  input 2\n  h: dense 2 { bias = [0, 0, 0] }\n}\n",
                "t.nn:3:23: error: bias of 'h' has shape [3], expected [2]");
    expect_diag("model m {\n  input 2\n  h: dense 2 { frozen = 1 }\n}\n",
                "t.nn:3:25: error: frozen must be true or false, got 1");
}

Test(model, shapes_names_and_params)
{
    Run r;
    IrProgram *p = expect_clean(&r, "model m {\n  input 3\n  dense 8\n  relu\n  first: dense 6, leaky_relu 0.2\n"
                                    "  dropout 0.5\n  dense 5, tanh\n  leaky_relu\n  dense2: dense 3, softmax\n"
                                    "  dense 2\n  relu\n}\n");
    IrModel *m = &p->models[0];
    const char *names[] = {"input", "dense1", "relu1", "first", "first.leaky_relu", "dropout1",
                           "dense3", "dense3.tanh", "leaky_relu1", "dense2", "dense2.softmax",
                           "dense4", "relu2"};
    const char *layers[] = {"input", "dense1", "relu1", "first", "first", "dropout1",
                            "dense3", "dense3", "leaky_relu1", "dense2", "dense2", "dense4", "relu2"};
    OpKind ops[] = {OP_INPUT, OP_DENSE, OP_RELU, OP_DENSE, OP_LEAKY_RELU, OP_DROPOUT, OP_DENSE,
                    OP_TANH, OP_LEAKY_RELU, OP_DENSE, OP_SOFTMAX, OP_DENSE, OP_RELU};
    size_t units[] = {3, 8, 8, 6, 6, 6, 5, 5, 5, 3, 3, 2, 2};
    size_t in[] = {0, 3, 8, 8, 6, 6, 6, 5, 5, 5, 3, 3, 2}; /* input reads nothing */
    cr_assert_eq(m->n_nodes, 13);
    for (size_t i = 0; i < 13; i++) {
        cr_expect_str_eq(m->nodes[i].name, names[i], "node %zu", i);
        cr_expect_str_eq(m->nodes[i].layer, layers[i], "node %zu", i);
        cr_expect_eq(m->nodes[i].op, ops[i], "node %zu", i);
        cr_expect_eq(m->nodes[i].units, units[i], "node %zu", i);
        cr_expect_eq(m->nodes[i].in_units, in[i], "node %zu", i);
    }
    cr_expect_eq(m->nodes[4].cfg.dropout.p, 0.2);
    cr_expect_eq(m->nodes[5].cfg.dropout.p, 0.5);
    cr_expect_eq(m->nodes[8].cfg.leaky_relu.slope, 0.01); /* leaky_relu's default slope */
    cr_expect_eq(m->in_units, 3);
    cr_expect_eq(m->out_units, 2);
    cr_expect_eq(m->n_params, 3 * 8 + 8 + 8 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3 + 3 * 2 + 2);
    run_end(&r);
}

Test(model, xor_has_17_params_and_fixed_values)
{
    Run r;
    IrProgram *p = expect_clean(&r, NET "model hp {\n  input 2\n"
                                    "  hidden: dense 2, relu { weight = [[1, 2], [3, 4]] bias = [-0.5, -1.5] frozen = true }\n"
                                    "  dense 1\n}\n");
    cr_expect_eq(p->models[0].n_params, 17);
    const IrNode *h = &p->models[1].nodes[1];
    cr_assert_not_null(h->param_init[0]);
    cr_expect_eq(h->param_init[0][1], 2.0f); /* [out][in]: row 0, column 1 */
    cr_expect_eq(h->param_init[0][2], 3.0f);
    cr_expect_eq(h->param_init[1][1], -1.5f);
    cr_expect(h->frozen);
    cr_expect_null(p->models[1].nodes[3].param_init[0]);
    cr_expect_not(p->models[1].nodes[3].frozen);
    run_end(&r);
}

/* ---- shapes across model, data and loss --------------------------------- */

Test(shapes, inputs)
{
    expect_diag(XOR "model three {\n  input 3\n  dense 1, sigmoid\n}\ntrain three on xor { " TRAIN_OK " }\n",
                "t.nn:9:16: error: dataset 'xor' has 2 features per row but model 'three' takes input 3");
    expect_diag(XOR "model three {\n  input 3\n  dense 1, sigmoid\n}\nevaluate three on xor\n",
                "t.nn:9:19: error: dataset 'xor' has 2 features per row but model 'three' takes input 3");
}

#define LABELS "dataset d { x = [[0], [1], [2]] y = [0, 1, 2] }\n"
#define PAIRS "dataset p { x = [[0], [1], [2]] y = [[0, 1], [1, 0], [1, 1]] }\n"
#define M10 "model M { input 1 dense 10 }\n"
#define OPT "optimizer = sgd(lr = 0.1) epochs = 1"

Test(shapes, losses)
{
    expect_diag(LABELS M10 "train M on d { loss = bce " OPT " }\n",
                "t.nn:3:23: error: loss 'bce' needs 1 output unit, but model 'M' outputs 10");
    expect_diag(PAIRS "model o { input 1 dense 1, sigmoid }\ntrain o on p { loss = bce " OPT " }\n",
                "t.nn:3:23: error: loss 'bce' needs 1 target per row, but dataset 'p' has 2");
    expect_diag(PAIRS M10 "train M on p { loss = mse " OPT " }\n",
                "t.nn:3:23: error: loss 'mse' needs 10 targets per row (model 'M' outputs 10), but dataset 'p' has 2");
    expect_diag(LABELS "model o { input 1 dense 1 }\ntrain o on d { loss = cross_entropy " OPT " }\n",
                "t.nn:3:23: error: loss 'cross_entropy' needs at least 2 output units, but model 'o' outputs 1");
    expect_diag(LABELS "model t { input 1 dense 2 }\ntrain t on d { loss = cross_entropy " OPT " }\n",
                "t.nn:3:23: error: loss 'cross_entropy' needs labels in 0..1, but row 3 of dataset 'd' has 2");
    expect_diag(PAIRS M10 "train M on p { loss = cross_entropy " OPT " }\n",
                "t.nn:3:23: error: loss 'cross_entropy' needs 1 label or 10 one-hot values per row, but dataset 'p' has 2");
    expect_diag("dataset c { x = [0, 1] y = [0, 1] classes = 3 }\n" M10 "train M on c { loss = cross_entropy " OPT " }\n",
                "t.nn:3:23: error: loss 'cross_entropy' needs one output unit per class, but dataset 'c' has 3 classes and model 'M' outputs 10");
    expect_diag(LABELS "train M on d { loss = hinge " OPT " }\n",
                "t.nn:2:23: error: unknown loss 'hinge' (expected bce, mse, cross_entropy, bce_logits, l1 or huber)");
}

/* A loss's arguments land in its IrLoss (defaults from its row), and a
 * bce_logits training marks the model's output as a logit. */
Test(lower, loss_arguments_and_logit_outputs)
{
    Run r;
    IrProgram *p = expect_clean(&r, BASE "model raw { input 2 dense 1 }\n"
                                         "train net on xor { loss = huber(delta = 0.5) " OPT " }\n"
                                         "train net on xor { loss = huber " OPT " }\n"
                                         "train raw on xor { loss = bce_logits " OPT " }\n");
    cr_expect_eq(p->trains[0].loss.kind, LOSS_HUBER);
    cr_expect_eq(p->trains[0].loss.hyper[HP_DELTA], 0.5);
    cr_expect_eq(p->trains[1].loss.hyper[HP_DELTA], 1.0);
    cr_expect_eq(p->trains[2].loss.kind, LOSS_BCE_LOGITS);
    cr_expect(!p->models[0].logit_output && p->models[1].logit_output);
    cr_expect_eq(ir_binary_threshold(&p->models[0]), 0.5f);
    cr_expect_eq(ir_binary_threshold(&p->models[1]), 0.0f);
    run_end(&r);
    p = expect_clean(&r, "dataset d { x = [[0], [1]] y = [0, 1] }\n"
                         "model m { input 1 dense 3 }\n"
                         "dataset l { x = [[0], [1]] y = [2, 0] }\n"
                         "train m on l { loss = cross_entropy(0.25) " OPT " }\n");
    cr_expect_eq(p->trains[0].loss.hyper[HP_LABEL_SMOOTHING], 0.25);
    run_end(&r);
}

/* tests/torch/losses_fixed.nn is where every loss is trained step by step
 * against PyTorch (tests/torch/run.sh): it must train with every LossKind,
 * and with every argument of each set away from its default somewhere. */
Test(lower, every_loss_is_compared_with_torch)
{
    FILE *f = fopen("tests/torch/losses_fixed.nn", "rb");
    cr_assert_not_null(f, "run from the repository root");
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    Run r;
    IrProgram *p = run_compile(&r, text);
    cr_assert_not_null(p, "%s", run_output(&r));
    for (int k = 0; k < LOSS_COUNT; k++) {
        const LossInfo *info = &ir_losses[k];
        bool trained = false;
        bool moved[LOSS_MAX_ARGS] = {false};
        for (size_t t = 0; t < p->n_trains; t++) {
            const IrLoss *l = &p->trains[t].loss;
            if (l->kind != (LossKind)k)
                continue;
            trained = true;
            for (size_t i = 0; i < info->n_args; i++)
                moved[i] |= ir_loss_arg_differs(l, i);
        }
        cr_expect(trained, "losses_fixed.nn trains nothing with %s", info->name);
        for (size_t i = 0; i < info->n_args; i++)
            cr_expect(moved[i], "losses_fixed.nn never sets %s's %s", info->name,
                      ir_hyper_name(info->args[i].hp));
    }
    run_end(&r);
}

Test(shapes, warnings)
{
    expect_diag(LABELS "model s { input 1 dense 3, softmax }\ntrain s on d { loss = cross_entropy " OPT " }\n",
                "t.nn:3:23: warning: loss 'cross_entropy' applies softmax itself; the final softmax of model 's' applies it twice");
    expect_diag(BASE "model raw { input 2 dense 1 }\ntrain raw on xor { loss = bce " OPT " }\n",
                "t.nn:11:27: warning: loss 'bce' expects probabilities, but model 'raw' does not end in sigmoid");
    Run r;
    IrProgram *p = run_compile(&r, BASE "train net on xor { " TRAIN_OK " batch = 8 }\n");
    cr_assert_not_null(p);
    cr_expect_eq(p->trains[0].batch, 4);
    cr_expect(strstr(run_output(&r), "t.nn:10:78: warning: batch 8 is larger than dataset 'xor' (4 rows); using 4\n"));
    run_end(&r);
}

/* ---- lowering of train / evaluate --------------------------------------- */

Test(lower, train_defaults)
{
    Run r;
    IrProgram *p = expect_clean(&r, BASE "train net on xor { loss = bce optimizer = adam(lr = 0.1) epochs = 1000 }\n"
                                         "train net on xor { loss = mse optimizer = sgd(lr = 0.1) epochs = 5 batch = 2 seed = 9 log_every = 3 }\n");
    IrTrain *t = &p->trains[0];
    cr_expect_eq(t->loss.kind, LOSS_BCE);
    cr_expect_eq(t->epochs, 1000);
    cr_expect_eq(t->batch, 4);
    cr_expect_eq(t->seed, 0);
    cr_expect_eq(t->log_every, 100);
    cr_expect_eq(t->n_sweep, 0);
    t = &p->trains[1];
    cr_expect_eq(t->loss.kind, LOSS_MSE);
    cr_expect_eq(t->batch, 2);
    cr_expect_eq(t->seed, 9);
    cr_expect_eq(t->log_every, 3);
    run_end(&r);
    p = expect_clean(&r, BASE "train net on xor { loss = bce optimizer = adam(lr = 0.1) epochs = 5 }\n");
    cr_expect_eq(p->trains[0].log_every, 1); /* max(1, epochs / 10) */
    run_end(&r);
}

Test(lower, steps_and_implicit_eval)
{
    Run r;
    IrProgram *p = expect_clean(&r, BASE "model other { input 2 dense 1, sigmoid }\n"
                                         "dataset and { x = [[0, 0], [1, 1]] y = [0, 1] }\n"
                                         "train net on xor { " TRAIN_OK " }\n"
                                         "evaluate other on xor { show = dense1 }\n"
                                         "train net on and { " TRAIN_OK " }\n"
                                         "train other on and { " TRAIN_OK " }\n");
    cr_assert_eq(p->n_steps, 5);
    StepKind kinds[] = {STEP_TRAIN, STEP_EVAL, STEP_TRAIN, STEP_TRAIN, STEP_EVAL};
    size_t index[] = {0, 0, 1, 2, 1};
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(p->steps[i].kind, kinds[i], "step %d", i);
        cr_expect_eq(p->steps[i].index, index[i], "step %d", i);
    }
    cr_expect_eq(p->evals[0].show_node, 2); /* dense1.sigmoid: the layer's last node */
    cr_expect_not(p->evals[0].implicit);
    /* net was trained and never evaluated: evaluated on its last dataset. */
    cr_expect(p->evals[1].implicit);
    cr_expect_eq(p->evals[1].model, 0);
    cr_expect_str_eq(p->datasets[p->evals[1].dataset].name, "and");
    cr_expect_eq(p->evals[1].show_node, -1);
    run_end(&r);
}

Test(lower, show_is_last_node_of_layer)
{
    Run r;
    IrProgram *p = expect_clean(&r, BASE "evaluate net on xor { show = l1 }\n");
    cr_expect_eq(p->evals[0].show_node, 2);
    cr_expect_str_eq(p->models[0].nodes[2].name, "l1.relu");
    cr_expect_eq(p->n_evals, 1);
    run_end(&r);
}

Test(lower, every_error_in_source_order)
{
    Run r;
    cr_expect_null(run_compile(&r, "dataset d {\n  x = [[0, 0], [0, 1]]\n  y = [0, 1, 1]\n}\n"
                                   "model m {\n  input 2\n  dense 4, rleu\n}\n"
                                   "train m on d {\n  loss = bce\n  optimizer = adam(lr = 0)\n  epochs = 0\n}\n"
                                   "evaluate n on d\n"));
    const char *out = run_output(&r);
    const char *want[] = {"t.nn:3:7: error:", "t.nn:7:12: error:", "t.nn:11:25: error:",
                          "t.nn:12:12: error:", "t.nn:14:10: error:"};
    const char *at = out;
    for (int i = 0; i < 5; i++) {
        const char *hit = strstr(at, want[i]);
        cr_expect_not_null(hit, "missing or out of order: %s\n%s", want[i], out);
        if (hit)
            at = hit;
    }
    cr_expect_eq(r.diag.errors, 5);
    run_end(&r);
}
