/* End-to-end runtime tests on hand-built programs: XORNet learns XOR,
 * runs are reproducible, logistic regression cannot learn XOR. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

Test(train, xornet_learns_xor)
{
    Fixture f;
    fixture_xornet(&f);
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok, "run failed:\n%s", out);
    cr_assert(strstr(out, "accuracy: 4/4 (100.0%)"), "%s", out);
    cr_assert(strstr(out, "Total params: 17 (17 trainable)"), "%s", out);
    free(out);
}

Test(train, run_output_is_identical_on_two_runs)
{
    Fixture f;
    fixture_xornet(&f);
    f.trains[0].batch = 2; /* shuffling must be reproducible too */
    RtOptions opt = {0};
    bool ok1, ok2;
    char *a = fixture_run(&f.prog, &opt, &ok1);
    char *b = fixture_run(&f.prog, &opt, &ok2);
    cr_assert(ok1 && ok2);
    cr_assert_str_eq(a, b);
    free(a), free(b);
}

Test(train, logistic_regression_cannot_learn_xor)
{
    Fixture f;
    fixture_logreg(&f);
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok);
    cr_assert(!strstr(out, "accuracy: 4/4"), "%s", out);
    cr_assert(strstr(out, "rows wrong"), "%s", out);
    free(out);
}

Test(train, seed_and_epochs_overrides)
{
    Fixture f;
    fixture_xornet(&f);
    RtOptions opt = {0};
    opt.override_seed = true;
    opt.seed = 5;
    opt.epochs = 30;
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok);
    cr_assert(strstr(out, "30 epochs, batch 4, seed 5"), "%s", out);
    cr_assert(strstr(out, "epoch  1/30"), "%s", out);
    cr_assert(strstr(out, "epoch  3/30"), "log_every falls back to epochs/10:\n%s", out);
    cr_assert(strstr(out, "epoch 30/30"), "%s", out);
    free(out);
}

Test(train, quiet_keeps_final_loss_and_table)
{
    Fixture f;
    fixture_xornet(&f);
    RtOptions opt = {0};
    opt.quiet = true;
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok);
    cr_assert(!strstr(out, "Total params"), "%s", out);
    cr_assert(!strstr(out, "epoch 200/"), "%s", out);
    cr_assert(strstr(out, "final loss"), "%s", out);
    cr_assert(strstr(out, "accuracy: 4/4"), "%s", out);
    free(out);
}

/* The lecture's hand-set perceptron: a step output must print exact 0/1. */
Test(train, perceptron_with_fixed_weights_prints_exact_bits)
{
    static const float w[2] = {1, 1}, b[1] = {-1.5f}, and_y[4] = {0, 0, 0, 1};
    Fixture f;
    fixture_logreg(&f);
    f.nodes[0][1].param_init[0] = w;
    f.nodes[0][1].param_init[1] = b;
    f.nodes[0][1].frozen = true;
    f.nodes[0][2].op = OP_STEP;
    f.datasets[0].y = and_y;
    f.datasets[0].name = "and_data";
    f.steps[0] = (IrStep){STEP_EVAL, 0};
    f.prog.n_steps = 1;
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok);
    cr_assert(strstr(out, "Total params: 3 (0 trainable)"), "%s", out);
    cr_assert(strstr(out, "4  1  1 |      1    1 |      1  \xE2\x9C\x93"), "%s", out);
    cr_assert(strstr(out, "1  0  0 |      0    0 |      0"), "%s", out);
    cr_assert(strstr(out, "accuracy: 4/4 (100.0%)"), "%s", out);
    free(out);
}

Test(train, frozen_layer_keeps_its_weights_and_params_are_exposed)
{
    static const float w1[8] = {1, 1, 1, 1, -1, -1, 0.5f, 0.5f}, b1[4] = {0, -1, 0.5f, 0};
    Fixture f;
    fixture_xornet(&f);
    f.nodes[0][1].param_init[0] = w1;
    f.nodes[0][1].param_init[1] = b1;
    f.nodes[0][1].frozen = true;
    f.trains[0].epochs = 50;
    RtOptions opt = {0};
    Diag d;
    diag_init(&d, stderr);
    opt.out = fopen("/dev/null", "w");
    RtSession *s = rt_session_new(&f.prog, &opt, &d);
    cr_assert(s);
    float w2_before[4];
    memcpy(w2_before, rt_node_params(s, 0, 3), sizeof w2_before);
    cr_assert(rt_session_run(s, &d));
    /* layer1's tensors back to back: weight [4][2], then bias [4] */
    cr_assert(memcmp(rt_node_params(s, 0, 1), w1, sizeof w1) == 0);
    cr_assert(memcmp(rt_node_params(s, 0, 1) + 8, b1, sizeof b1) == 0);
    cr_assert(memcmp(rt_node_params(s, 0, 3), w2_before, sizeof w2_before) != 0);
    cr_assert_null(rt_node_params(s, 0, 2));
    cr_assert_null(rt_node_params(s, 0, 99));
    rt_session_free(s);
    fclose(opt.out);
}

/* Initialisation like nn.Linear: every value within 1/sqrt(fan_in). */
Test(train, init_within_nn_linear_bounds)
{
    Fixture f;
    fixture_xornet(&f);
    RtOptions opt = {0};
    Diag d;
    diag_init(&d, stderr);
    RtSession *s = rt_session_new(&f.prog, &opt, &d);
    const float *w1 = rt_node_params(s, 0, 1), *w2 = rt_node_params(s, 0, 3);
    for (int i = 0; i < 8; i++)
        cr_assert(fabsf(w1[i]) <= 1.0f / sqrtf(2.0f));
    for (int i = 0; i < 4; i++)
        cr_assert(fabsf(w2[i]) <= 0.5f);
    cr_assert(w1[0] != w1[1]);
    rt_session_free(s);
}

Test(train, sweep_reports_table_and_keeps_best_run)
{
    static const double lrs[3] = {0.001, 0.1, 1e6};
    Fixture f;
    fixture_xornet(&f);
    f.trains[0].sweep = HP_LR;
    f.trains[0].sweep_values = lrs;
    f.trains[0].n_sweep = 3;
    f.trains[0].loss = LOSS_MSE;
    f.nodes[0][4].op = OP_IDENTITY; /* an unbounded output can diverge */
    f.trains[0].optimizer.kind = OPTIM_SGD;
    f.trains[0].optimizer.hyper[HP_MOMENTUM] = 0.9;
    f.trains[0].epochs = 200;
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok, "%s", out);
    cr_assert(strstr(out, "sweep lr: 3 runs from the same initial weights"), "%s", out);
    cr_assert(strstr(out, "diverged"), "%s", out);
    cr_assert(strstr(out, "keeps the weights of the run with lr = 0.1"), "%s", out);
    free(out);
}

/* Every optimizer of the table trains XORNet: the loss goes down, and the
 * header names it with its arguments as torch.optim's keywords. */
Test(train, every_optimizer_trains_and_names_itself)
{
    for (int k = 0; k < OPTIM_COUNT; k++) {
        const OptimInfo *info = &ir_optims[k];
        Fixture f;
        fixture_xornet(&f);
        IrOptimizer *o = &f.trains[0].optimizer;
        *o = (IrOptimizer){(OptimKind)k, {0}};
        for (size_t i = 0; i < info->n_args; i++)
            o->hyper[info->args[i].hp] = isnan(info->args[i].def) ? 0.05 : info->args[i].def;
        o->hyper[HP_LR] = 0.05;
        f.trains[0].epochs = 200;
        f.trains[0].log_every = 199;
        RtOptions opt = {0};
        bool ok;
        char *out = fixture_run(&f.prog, &opt, &ok);
        cr_assert(ok, "%s: %s", info->name, out);
        char head[64];
        snprintf(head, sizeof head, "loss bce, %s(lr=0.05", info->name);
        cr_expect(strstr(out, head), "%s", out);
        const char *first = strstr(out, "epoch   1/200  loss ");
        const char *last = strstr(out, "epoch 200/200  loss ");
        cr_assert(first && last, "%s", out);
        double l1 = strtod(first + 20, NULL), l200 = strtod(last + 20, NULL);
        cr_expect(l200 < l1, "%s: loss %g -> %g", info->name, l1, l200);
        free(out);
    }
}

/* A parameter that becomes infinite stops training even while the loss
 * printed for the epoch is still finite; the message names epoch and step
 * and suggests a smaller learning rate. */
Test(train, divergence_is_reported_with_epoch_step_and_advice)
{
    Fixture f;
    fixture_xornet(&f);
    f.trains[0].loss = LOSS_MSE;
    f.nodes[0][4].op = OP_IDENTITY;
    f.trains[0].optimizer = (IrOptimizer){OPTIM_SGD, {[HP_LR] = 1e6, [HP_MOMENTUM] = 0.9}};
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(!ok);
    cr_assert(strstr(out, "diverged at epoch"), "%s", out);
    cr_assert(strstr(out, ", step "), "%s", out);
    cr_assert(strstr(out, "smaller learning rate"), "%s", out);
    free(out);
}

/* Mini-batches of 3 over 4 rows: the last batch is smaller. */
Test(train, minibatch_with_uneven_last_batch_learns)
{
    Fixture f;
    fixture_xornet(&f);
    f.trains[0].batch = 3;
    f.trains[0].epochs = 1500;
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok);
    cr_assert(strstr(out, "accuracy: 4/4"), "%s", out);
    free(out);
}

/* tests/torch/xor_fixed.nn's numbers from PyTorch 1.13 (compare_xor.py
 * --torch-only), so the agreement is checked before the front end exists. */
static double loss_at(const char *out, const char *model, const char *epoch)
{
    char head[64];
    snprintf(head, sizeof head, "train %s on xor", model);
    const char *p = strstr(out, head);
    cr_assert(p, "no '%s' in:\n%s", head, out);
    p = strstr(p, epoch);
    cr_assert(p, "no '%s' after '%s'", epoch, head);
    return strtod(strstr(p, "loss ") + 5, NULL);
}

Test(train, xor_fixed_losses_match_pytorch)
{
    static const struct { const char *model, *epoch; double torch; } want[] = {
        {"adam_net", "epoch   1/100", 0.713998318}, {"adam_net", "epoch   2/100", 0.673042357},
        {"adam_net", "epoch   3/100", 0.656262219}, {"adam_net", "epoch  50/100", 0.0310675539},
        {"adam_net", "epoch 100/100", 0.00432583317}, {"sgd_net", "epoch   1/100", 0.713998318},
        {"sgd_net", "epoch   2/100", 0.710375547}, {"sgd_net", "epoch   3/100", 0.70399785},
        {"sgd_net", "epoch  50/100", 0.378987163}, {"sgd_net", "epoch 100/100", 0.0667256713},
    };
    Fixture f;
    fixture_xor_fixed(&f);
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok, "%s", out);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double got = loss_at(out, want[i].model, want[i].epoch);
        cr_assert(fabs(got - want[i].torch) <= 1e-4 * want[i].torch,
                  "%s %s: nnc %.9g, torch %.9g", want[i].model, want[i].epoch, got, want[i].torch);
    }
    free(out);
}

/* Three classes from integer labels with cross_entropy: argmax predictions,
 * accuracy and a confusion matrix. */
Test(train, classes_with_cross_entropy_print_confusion_matrix)
{
    static const float x[12] = {0, 0, 0.1f, 0, 1, 0, 1, 0.1f, 0, 1, 0.1f, 1};
    static const float y[6] = {0, 0, 1, 1, 2, 2};
    Fixture f;
    fixture_logreg(&f);
    f.datasets[0] = (IrDataset){.name = "three", .rows = 6, .x_cols = 2, .y_cols = 1, .x = x, .y = y, .classes = 3};
    f.nodes[0][1].units = 3;
    f.nodes[0][2].op = OP_IDENTITY;
    f.nodes[0][2].in_units = f.nodes[0][2].units = 3;
    fixture_link(f.nodes[0], 3);
    f.models[0].out_units = 3;
    f.trains[0].loss = LOSS_CROSS_ENTROPY;
    f.trains[0].batch = 6;
    f.trains[0].epochs = 300;
    f.evals[0].show_node = 1;
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok, "%s", out);
    cr_assert(strstr(out, "out1"), "%s", out);
    cr_assert(strstr(out, "out[1]"), "the show column is named after the layer:\n%s", out);
    cr_assert(strstr(out, "accuracy: 6/6 (100.0%)"), "%s", out);
    cr_assert(strstr(out, "confusion matrix"), "%s", out);
    free(out);
}

Test(train, regression_reports_mean_squared_error)
{
    static const float y[4] = {0.5f, 1.5f, 2.5f, 3.25f};
    Fixture f;
    fixture_logreg(&f);
    f.datasets[0].y = y;
    f.nodes[0][2].op = OP_IDENTITY;
    f.trains[0].loss = LOSS_MSE;
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok, "%s", out);
    cr_assert(strstr(out, "mean squared error: "), "%s", out);
    cr_assert(!strstr(out, "accuracy"), "%s", out);
    free(out);
}

/* A plan larger than physical memory is refused before anything is
 * allocated, at the train block, instead of meeting the OOM killer. */
Test(train, plan_larger_than_memory_is_reported)
{
    Fixture f;
    fixture_xornet(&f);
    f.nodes[0][2].in_units = f.nodes[0][2].units = (size_t)1 << 40; /* a 2^40-wide relu */
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(!ok);
    cr_assert(strstr(out, "training model 'XORNet' on batches of 4 rows needs about"), "%s", out);
    cr_assert(strstr(out, "use a smaller batch or smaller layers"), "%s", out);
    free(out);
}

/* NNC_MEMORY_LIMIT lowers the limit: the loss history (16 kB for 1000
 * epochs) is refused first, naming both sizes. */
Test(train, memory_limit_names_both_sizes)
{
    setenv("NNC_MEMORY_LIMIT", "500", 1);
    Fixture f;
    fixture_xornet(&f);
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(!ok);
    cr_assert(strstr(out, "the loss history of 1 run needs 16016 bytes, more than the 500 bytes "
                          "available"),
              "%s", out);
    free(out);
}
