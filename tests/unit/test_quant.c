/* The int8 arithmetic (src/runtime/quant_kernels.c) against exact integer
 * references and hand-computed values, the multiplier's decomposition,
 * the roundings of QuantizeLinear, softmax's table, and the quantizer over
 * every activation kind: the trained XORNet with each activation in turn
 * gives int8 outputs within a few output steps of the float network. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/runtime/rng.h"
#include "fixtures.h"
#include "nnc/quant.h"
#include "nnc/runtime.h"

/* x / 2^e rounded to nearest, ties away from zero, exactly in int64. */
static int64_t ref_shift(int64_t x, int e)
{
    int64_t d = INT64_C(1) << e, mag = (llabs(x) + d / 2) / d;
    return x < 0 ? -mag : mag;
}

Test(quant, rounding_shift_right_matches_exact_rounding)
{
    cr_assert_eq(q8_rounding_shift_right(5, 1), 3);
    cr_assert_eq(q8_rounding_shift_right(-5, 1), -3);
    cr_assert_eq(q8_rounding_shift_right(-3, 1), -2);
    cr_assert_eq(q8_rounding_shift_right(7, 2), 2);
    cr_assert_eq(q8_rounding_shift_right(-6, 2), -2);
    cr_assert_eq(q8_rounding_shift_right(INT32_MIN, 31), -1);
    cr_assert_eq(q8_rounding_shift_right(INT32_MAX, 31), 1);
    RtRng rng;
    rt_rng_seed(&rng, 7, 0);
    for (int i = 0; i < 200000; i++) {
        int32_t x = (int32_t)(uint32_t)rt_rng_next(&rng);
        int e = (int)(rt_rng_next(&rng) % 32);
        cr_assert_eq(q8_rounding_shift_right(x, e), ref_shift(x, e), "x %d e %d", x, e);
    }
}

Test(quant, doubling_high_mul)
{
    cr_assert_eq(q8_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);
    cr_assert_eq(q8_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
    /* gemmlowp's nudge rounds ties upwards: 1.5 -> 2, -1.5 -> -1 */
    cr_assert_eq(q8_doubling_high_mul(3, 1 << 30), 2);
    cr_assert_eq(q8_doubling_high_mul(-3, 1 << 30), -1);
    cr_assert_eq(q8_doubling_high_mul(1, 1 << 30), 1);  /* 0.5 */
    cr_assert_eq(q8_doubling_high_mul(-1, 1 << 30), 0);
    cr_assert_eq(q8_doubling_high_mul(-5, 1 << 29), -1); /* -1.25 */
    RtRng rng;
    rt_rng_seed(&rng, 11, 0);
    for (int i = 0; i < 100000; i++) {
        int32_t a = (int32_t)(uint32_t)rt_rng_next(&rng), b = (int32_t)(uint32_t)rt_rng_next(&rng);
        if (a == INT32_MIN && b == INT32_MIN)
            continue;
        /* floor(2ab / 2^32 + 1/2), with ab exact in int64 */
        int64_t v = (int64_t)a * b + (INT64_C(1) << 30), d = INT64_C(1) << 31;
        int64_t want = v >= 0 ? v / d : -((-v + d - 1) / d);
        cr_assert_eq(q8_doubling_high_mul(a, b), want, "a %d b %d", a, b);
    }
}

Test(quant, quantize_multiplier_round_trips)
{
    int32_t m;
    int s;
    cr_assert(q8_quantize_multiplier(0.5, &m, &s));
    cr_assert(m == 1 << 30 && s == 0);
    cr_assert(q8_quantize_multiplier(1.0, &m, &s));
    cr_assert(m == 1 << 30 && s == 1);
    cr_assert(q8_quantize_multiplier(0.75, &m, &s));
    cr_assert(m == 1610612736 && s == 0);
    cr_assert(q8_quantize_multiplier(0.0, &m, &s) && m == 0 && s == 0);
    cr_assert(q8_quantize_multiplier(1e-30, &m, &s) && m == 0 && s == 0);
    cr_assert_not(q8_quantize_multiplier(-1.0, &m, &s));
    cr_assert_not(q8_quantize_multiplier(NAN, &m, &s));
    cr_assert_not(q8_quantize_multiplier(INFINITY, &m, &s));
    for (double r = 1e-7; r < 1000; r *= 1.37) {
        cr_assert(q8_quantize_multiplier(r, &m, &s));
        cr_assert(m >= 1 << 30);
        cr_assert_lt(fabs(ldexp(m, s - 31) - r), r * 1e-9);
        /* applied to an integer: within one of the exact product */
        double want = 12345.0 * r;
        if (want < 1e9)
            cr_assert_leq(fabs(q8_multiply(12345, m, s) - want), 1.0, "r %g", r);
    }
}

Test(quant, quantize_rounds_and_saturates)
{
    cr_assert_eq(q8_quantize(0.5f, 1.0f, 0), 1);
    cr_assert_eq(q8_quantize(-0.5f, 1.0f, 0), -1);
    cr_assert_eq(q8_quantize(1.0f, 0.5f, 10), 12);
    cr_assert_eq(q8_quantize(1e30f, 0.5f, 0), 127);
    cr_assert_eq(q8_quantize(-1e30f, 0.5f, 0), -128);
    cr_assert_eq(q8_quantize(NAN, 1.0f, 0), -128);
    cr_assert_eq(q8_quantize_even(2.5f, 1.0f, 0, -128, 127), 2);
    cr_assert_eq(q8_quantize_even(3.5f, 1.0f, 0, -128, 127), 4);
    cr_assert_eq(q8_quantize_even(-2.5f, 1.0f, 0, -128, 127), -2);
    cr_assert_eq(q8_quantize_even(-3.5f, 1.0f, 0, -128, 127), -4);
    cr_assert_eq(q8_quantize_even(300.0f, 1.0f, 0, 0, 255), 255);
    cr_assert_float_eq(q8_dequantize(12, 0.5f, 10), 1.0f, 0.0f);
}

Test(quant, dense_by_hand)
{
    /* x real = (q + 128) / 255 * 2 ... just integers: acc = bias - zin*sum w + sum x w */
    const int8_t w[6] = {1, 2, 3, -1, -2, -3};
    const int32_t bias[2] = {10, -10}, zin = -3;
    int32_t acc[2] = {bias[0] - zin * 6, bias[1] - zin * -6};
    int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {0, -1}; /* x 0.5, x 0.25 */
    QDense d = {3, 2, w, NULL, bias, acc, mult, shift, -128, 127};
    const int8_t x[3] = {4, 5, 6};
    int8_t y[2];
    q8_dense(&d, x, y, 7);
    /* channel 0: 10 + (7 + 16 + 27) = 60 -> 30 + 7; channel 1: -10 - 50 = -60 -> -15 + 7 */
    cr_assert_eq(y[0], 37);
    cr_assert_eq(y[1], -8);
    d.act_min = 7; /* a folded relu: the zero point is the floor */
    q8_dense(&d, x, y, 7);
    cr_assert_eq(y[1], 7);
}

Test(quant, softmax_table)
{
    int32_t table[256];
    for (int k = 0; k < 256; k++)
        table[k] = (int32_t)round(exp(-(double)k * 0.1) * Q8_EXP_ONE);
    const int8_t even[4] = {5, 5, 5, 5};
    int8_t y[4];
    q8_softmax(table, even, y, 4);
    for (int j = 0; j < 4; j++)
        cr_assert_eq(y[j], -64); /* 1/4 = 64/256 */
    const int8_t peaked[2] = {127, -128};
    q8_softmax(table, peaked, y, 2);
    cr_assert_eq(y[0], 127); /* 1.0 saturates */
    cr_assert_eq(y[1], -128);
    const int8_t pair[2] = {10, 0};
    q8_softmax(table, pair, y, 2); /* 1 / (1 + e^-1) = 0.731 -> 187 - 128 */
    cr_assert_eq(y[0], 59);
    cr_assert_eq(y[1], -59);
}

/* The XORNet with activation k after its hidden layer, trained, quantized
 * on its training rows: each int8 output within 3 steps of the float one. */
static void check_activation(OpKind k)
{
    Fixture f;
    fixture_xornet(&f);
    f.nodes[0][2].op = k;
    f.nodes[0][2].cfg.leaky_relu.slope = 0.01;
    if (k == OP_ELU)
        f.nodes[0][2].cfg.elu.alpha = 1.0;
    f.trains[0].epochs = 200;
    FILE *null = fopen("/dev/null", "w");
    RtOptions opt = {.out = null, .quiet = true};
    Diag d;
    diag_init(&d, stderr);
    RtSession *s = rt_session_new(&f.prog, &opt, &d);
    cr_assert(s && rt_session_train(s, &d));
    Arena a;
    arena_init(&a);
    QModel q;
    cr_assert(rt_quantize(s, 0, NULL, &a, &q, &d), "%s", ir_ops[k].name);
    RtPredictor *p = rt_predictor_new(s, 0, 4, &d);
    const IrDataset *ds = &f.datasets[0];
    const float *fy = rt_predictor_run(p, ds->x, 4);
    int8_t work[64], qx[2], qy[1];
    QParams in = q.nodes[0].out, out = q8_output(&q)->out;
    for (size_t r = 0; r < 4; r++) {
        for (size_t j = 0; j < 2; j++)
            qx[j] = q8_quantize(ds->x[r * 2 + j], in.scale, in.zero);
        q8_forward(&q, qx, qy, work);
        /* --trace-int8's values: the input first, the output last, and
         * the activation (an alias where it folds) the value it holds. */
        size_t last = q.ir->n_nodes - 1;
        cr_assert(memcmp(q8_node_value(&q, work, 0), qx, sizeof qx) == 0);
        cr_assert_eq(q8_node_value(&q, work, last)[0], qy[0]);
        const int8_t *act = q8_node_value(&q, work, 2);
        cr_assert(k != OP_RELU || q.nodes[2].kind == Q_ALIAS, "a relu after a dense folds");
        if (q.nodes[2].kind == Q_ALIAS)
            cr_assert_eq(act, q8_node_value(&q, work, q.nodes[2].src), "%s", ir_ops[k].name);
        float got = q8_dequantize(qy[0], out.scale, out.zero);
        cr_assert_leq(fabsf(got - fy[r]), 3 * out.scale, "%s row %zu: int8 %g float %g",
                      ir_ops[k].name, r, (double)got, (double)fy[r]);
    }
    rt_predictor_free(p);
    arena_free(&a);
    rt_session_free(s);
    fclose(null);
}

Test(quant, every_activation_kind_quantizes)
{
    size_t tested = 0;
    char why[256];
    for (int k = 0; k < OP_COUNT; k++) {
        if (!ir_ops[k].activation || k == OP_SOFTMAX)
            continue;
        Fixture f;
        fixture_xornet(&f);
        f.nodes[0][2].op = (OpKind)k;
        cr_assert_null(q8_refusal(&f.models[0], why, sizeof why), "%s: %s", ir_ops[k].name, why);
        check_activation((OpKind)k);
        tested++;
    }
    cr_assert_geq(tested, 11);
}

Test(quant, refuses_what_it_cannot_run)
{
    Fixture f;
    fixture_xornet(&f);
    char why[256];
    f.nodes[0][2].op = OP_BATCHNORM; /* reads the dense: folds */
    cr_assert_null(q8_refusal(&f.models[0], why, sizeof why), "%s", why);
    f.nodes[0][4].op = OP_BATCHNORM; /* reads the first batchnorm: cannot fold */
    f.nodes[0][4].inputs = (const size_t[]){2};
    const IrNode *bad = q8_refusal(&f.models[0], why, sizeof why);
    cr_assert(bad == &f.nodes[0][4] && strstr(why, "has no weights"), "%s", why);
    fixture_xornet(&f);
    f.nodes[0][1].in_units = 40000; /* wider than the int32 accumulator allows */
    bad = q8_refusal(&f.models[0], why, sizeof why);
    cr_assert(bad && strstr(why, "accumulator"), "%s", why);
}
