/* Losses: values and gradients against PyTorch (numbers printed by torch
 * 1.13 for the same inputs) and gradients against finite differences, for
 * every LossKind. Optimizers: every
 * row of the tables, and three steps of SGD, Adam and RMSprop against
 * torch.optim on the same gradients. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../../src/runtime/loss.h"
#include "../../src/runtime/optim.h"

#define ASSERT_REL(got, want, tol) \
    cr_assert(fabs((double)(got) - (double)(want)) <= (tol) * fmax(1e-30, fabs((double)(want))), \
              "%s = %.9g, want %.9g", #got, (double)(got), (double)(want))

/* Loss k with every argument at its default (the row's, torch's). */
static IrLoss loss_defaults(LossKind k)
{
    IrLoss l = {k, {0}};
    const LossInfo *info = &ir_losses[k];
    for (size_t i = 0; i < info->n_args; i++)
        l.hyper[info->args[i].hp] = info->args[i].def;
    return l;
}

static double loss_of(LossKind k, size_t rows, size_t cols, const float *out, RtTargets t,
                      float *grad)
{
    IrLoss l = loss_defaults(k);
    return rt_loss(&l, rows, cols, out, t, grad);
}

Test(loss, bce_matches_torch_and_stays_finite_at_0_and_1)
{
    /* torch: F.binary_cross_entropy([0.8, 0, 1, 0.3], [1, 1, 1, 0]) */
    const float p[4] = {0.8f, 0.0f, 1.0f, 0.3f}, y[4] = {1, 1, 1, 0};
    float g[4];
    double l = loss_of(LOSS_BCE, 4, 1, p, (RtTargets){y, false}, g);
    ASSERT_REL(l, 25.144954681396484, 1e-6);
    for (int i = 0; i < 4; i++)
        cr_assert(isfinite(g[i]));
}

Test(loss, mse_matches_torch)
{
    const float o[4] = {1, 2, 3, 4}, y[4] = {0, 2.5f, 3, 1};
    float g[4];
    ASSERT_REL(loss_of(LOSS_MSE, 2, 2, o, (RtTargets){y, false}, g), 2.5625, 1e-7);
    ASSERT_REL(g[3], 2.0 * 3.0 / 4.0, 1e-7);
}

Test(loss, cross_entropy_labels_and_probabilities_match_torch)
{
    const float z[6] = {1, 2, 3, 0.5f, -1, 0};
    const float labels[2] = {2, 0}, probs[6] = {0.1f, 0.2f, 0.7f, 1, 0, 0};
    float g[6];
    ASSERT_REL(loss_of(LOSS_CROSS_ENTROPY, 2, 3, z, (RtTargets){labels, true}, g),
               0.5058683156967163, 1e-6);
    ASSERT_REL(loss_of(LOSS_CROSS_ENTROPY, 2, 3, z, (RtTargets){probs, false}, g),
               0.7058682441711426, 1e-6);
    /* huge logits must not overflow */
    const float big[3] = {1000, 0, -1000};
    double l = loss_of(LOSS_CROSS_ENTROPY, 1, 3, big, (RtTargets){labels, true}, g);
    ASSERT_REL(l, 2000.0, 1e-6);
}

/* torch 1.13, for z and the targets above:
 *     nn.CrossEntropyLoss(label_smoothing=s)(z, t); loss.backward()
 * with class indices and with probabilities, s = 0.1 and s = 1. */
Test(loss, cross_entropy_label_smoothing_matches_torch)
{
    const float z[6] = {1, 2, 3, 0.5f, -1, 0};
    const float labels[2] = {2, 0}, probs[6] = {0.1f, 0.2f, 0.7f, 1, 0, 0};
    const float want_g[6] = {0.02834862284362316f, 0.10569757968187332f, -0.13404616713523865f,
                             -0.19339197874069214f, 0.04430914670228958f, 0.14908280968666077f};
    float g[6];
    IrLoss l = {LOSS_CROSS_ENTROPY, {[HP_LABEL_SMOOTHING] = 0.1}};
    ASSERT_REL(rt_loss(&l, 2, 3, z, (RtTargets){labels, true}, g), 0.5892016291618347, 1e-6);
    for (int i = 0; i < 6; i++)
        ASSERT_REL(g[i], want_g[i], 1e-5);
    ASSERT_REL(rt_loss(&l, 2, 3, z, (RtTargets){probs, false}, g), 0.7692016363143921, 1e-6);
    ASSERT_REL(g[0], -0.016651377081871033, 1e-5);
    l.hyper[HP_LABEL_SMOOTHING] = 1;
    ASSERT_REL(rt_loss(&l, 2, 3, z, (RtTargets){labels, true}, g), 1.3392016887664795, 1e-6);
    ASSERT_REL(rt_loss(&l, 2, 3, z, (RtTargets){probs, false}, g), 1.33920156955719, 1e-6);
    ASSERT_REL(g[5], -0.0009171962738037109, 1e-4);
}

/* torch 1.13: nn.BCEWithLogitsLoss()(z, y), loss.backward(). Logits of
 * +-200 and 50 would overflow a naive log(sigmoid(z)). */
Test(loss, bce_logits_matches_torch_and_stays_finite)
{
    const float z[8] = {-200, -3, -0.5f, 0, 0.5f, 3, 50, 200}, y[8] = {1, 0, 1, 1, 0, 1, 0, 1};
    const double want_g[8] = {-0.125, 0.005928234197199345, -0.07780741155147552, -0.0625,
                              0.07780741900205612, -0.00592823326587677, 0.125, 0.0};
    float g[8];
    ASSERT_REL(loss_of(LOSS_BCE_LOGITS, 8, 1, z, (RtTargets){y, false}, g), 31.592308044433594,
               1e-6);
    for (int i = 0; i < 8; i++)
        cr_expect(fabs(g[i] - want_g[i]) <= 1e-8, "grad[%d] = %.9g, want %.9g", i, (double)g[i],
                  want_g[i]);
    const float z2[4] = {0.3f, -1.2f, 2.5f, 0}, y2[4] = {1, 0, 0, 1};
    ASSERT_REL(loss_of(LOSS_BCE_LOGITS, 4, 1, z2, (RtTargets){y2, false}, g), 1.022418737411499,
               1e-6);
    ASSERT_REL(g[2], 0.23103545606136322, 1e-6);
}

/* torch 1.13: nn.L1Loss() and nn.HuberLoss(delta=d) on out and y below,
 * loss.backward(). The differences 1, 0, -0.5, 3, 0.25, 1.5 put one at 0
 * (l1's gradient is sign(0) = 0) and one on each delta's boundary (1 and
 * 3: torch's gradient takes the linear side, delta / n). */
static const float reg_out[6] = {1, 2, 3, 4, 0.25f, -1}, reg_y[6] = {0, 2, 3.5f, 1, 0, -2.5f};

static void expect_loss(IrLoss l, double want, const double want_g[6])
{
    float g[6];
    ASSERT_REL(rt_loss(&l, 2, 3, reg_out, (RtTargets){reg_y, false}, g), want, 1e-6);
    for (int i = 0; i < 6; i++)
        cr_expect(fabs(g[i] - want_g[i]) <= 1e-7, "%s: grad[%d] = %.9g, want %.9g",
                  ir_loss_name(l.kind), i, (double)g[i], want_g[i]);
}

Test(loss, l1_matches_torch_with_sign_0_at_0)
{
    const double sixth = 0.1666666716337204;
    expect_loss(loss_defaults(LOSS_L1), 1.0416666269302368,
                (const double[6]){sixth, 0, -sixth, sixth, sixth, sixth});
}

Test(loss, huber_matches_torch_on_both_sides_of_delta)
{
    const double sixth = 0.1666666716337204, twelfth = 0.0833333358168602,
                 quarter_n = 0.0416666679084301;
    IrLoss l = loss_defaults(LOSS_HUBER);
    cr_assert_eq(l.hyper[HP_DELTA], 1.0, "torch's default delta");
    expect_loss(l, 0.6927083134651184,
                (const double[6]){sixth, 0, -twelfth, sixth, quarter_n, sixth});
    l.hyper[HP_DELTA] = 0.5;
    expect_loss(l, 0.421875, (const double[6]){twelfth, 0, -twelfth, twelfth, quarter_n, twelfth});
    l.hyper[HP_DELTA] = 3;
    expect_loss(l, 1.046875, (const double[6]){sixth, 0, -twelfth, 0.5, quarter_n, 0.25});
}

/* Finite differences of the mean loss w.r.t. each output. */
static void gradcheck(const IrLoss *l, size_t rows, size_t cols, float *out, RtTargets t)
{
    LossKind k = l->kind;
    float g[32], scratch[32];
    rt_loss(l, rows, cols, out, t, g);
    const float eps = 1e-3f;
    for (size_t i = 0; i < rows * cols; i++) {
        float keep = out[i];
        out[i] = keep + eps;
        double up = rt_loss(l, rows, cols, out, t, scratch);
        out[i] = keep - eps;
        double down = rt_loss(l, rows, cols, out, t, scratch);
        out[i] = keep;
        double num = (up - down) / (2.0 * eps);
        double err = fabs(num - g[i]) / fmax(1e-2, fmax(fabs(num), fabs(g[i])));
        cr_assert(err <= 1e-2, "loss %s d/dout[%zu]: finite difference %g, analytic %g",
                  ir_loss_name(k), i, num, g[i]);
    }
}

static void gradcheck_loss(LossKind k, size_t rows, size_t cols, float *out, RtTargets t)
{
    IrLoss l = loss_defaults(k);
    gradcheck(&l, rows, cols, out, t);
}

Test(loss, gradcheck_bce)
{
    float p[6] = {0.1f, 0.9f, 0.35f, 0.6f, 0.5f, 0.97f};
    const float y[6] = {0, 1, 1, 0, 1, 0};
    gradcheck_loss(LOSS_BCE, 3, 2, p, (RtTargets){y, false});
}

Test(loss, gradcheck_bce_logits)
{
    float z[6] = {-2.5f, 0.1f, 1.5f, -0.3f, 4, 0};
    const float y[6] = {0, 1, 1, 0, 0, 1};
    gradcheck_loss(LOSS_BCE_LOGITS, 3, 2, z, (RtTargets){y, false});
}

Test(loss, gradcheck_mse)
{
    float o[6] = {0.1f, -2, 3.5f, 0.6f, 0, 1};
    const float y[6] = {0, 1, 2, 0.5f, -1, 1};
    gradcheck_loss(LOSS_MSE, 2, 3, o, (RtTargets){y, false});
}

Test(loss, gradcheck_cross_entropy_labels)
{
    float z[8] = {0.2f, -1, 2, 0.5f, 1.5f, 0.1f, -0.3f, 0.7f};
    const float labels[2] = {2, 0};
    gradcheck_loss(LOSS_CROSS_ENTROPY, 2, 4, z, (RtTargets){labels, true});
}

Test(loss, gradcheck_cross_entropy_label_smoothing)
{
    float z[8] = {0.2f, -1, 2, 0.5f, 1.5f, 0.1f, -0.3f, 0.7f};
    const float labels[2] = {2, 0};
    IrLoss l = {LOSS_CROSS_ENTROPY, {[HP_LABEL_SMOOTHING] = 0.25}};
    gradcheck(&l, 2, 4, z, (RtTargets){labels, true});
}

Test(loss, gradcheck_cross_entropy_one_hot)
{
    float z[6] = {0.2f, -1, 2, 0.5f, 1.5f, 0.1f};
    const float y[6] = {0, 0, 1, 0, 1, 0};
    gradcheck_loss(LOSS_CROSS_ENTROPY, 2, 3, z, (RtTargets){y, false});
}

/* A value of argument a inside its range but away from the default: the
 * middle of a bounded range, a quarter of the default of an open one. */
static double moved_arg(const OptimArg *a)
{
    IrRange r = ir_hypers[a->hp].range;
    return isinf(r.hi) ? a->def / 4 : (r.lo + r.hi) / 2;
}

/* A loss's arguments are hyperparameters with a torch.nn keyword, no
 * repeats, defaults in range, and nothing past n_args. */
static void expect_loss_args_complete(const LossInfo *l)
{
    cr_assert_leq(l->n_args, LOSS_MAX_ARGS, "%s", l->name);
    for (size_t i = 0; i < l->n_args; i++) {
        const OptimArg *a = &l->args[i];
        const HyperInfo *h = &ir_hypers[a->hp];
        cr_assert(h->torch, "%s: %s has no torch keyword", l->name, h->name);
        cr_assert(h->type == HYPER_NUMBER, "%s: %s", l->name, h->name);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(l->args[j].hp, a->hp, "%s: %s twice", l->name, h->name);
        cr_assert(a->def >= h->range.lo && a->def <= h->range.hi, "%s: %s's default", l->name,
                  h->name);
    }
    for (size_t i = l->n_args; i < LOSS_MAX_ARGS; i++)
        cr_assert(l->args[i].hp == 0 && l->args[i].def == 0, "%s: n_args misses an argument",
                  l->name);
}

/* Every loss: a distinct name, a torch.nn module, complete argument rows,
 * and a gradient that agrees with finite differences on probabilities
 * with one-hot targets (inputs every loss accepts), at the defaults and
 * with each argument moved. */
Test(loss, every_kind_has_a_name_a_torch_module_and_a_gradient)
{
    for (int k = 0; k < LOSS_COUNT; k++) {
        const LossInfo *l = &ir_losses[k];
        cr_assert(l->name && l->torch, "loss %d has no name or torch module", k);
        cr_assert_str_eq(ir_loss_name((LossKind)k), l->name);
        for (int j = 0; j < k; j++)
            cr_assert_str_neq(ir_losses[j].name, l->name);
        expect_loss_args_complete(l);
        const float y[4] = {0, 1, 1, 0};
        float p[4] = {0.3f, 0.7f, 0.6f, 0.4f};
        IrLoss at = loss_defaults((LossKind)k);
        gradcheck(&at, 2, 2, p, (RtTargets){y, false});
        for (size_t i = 0; i < l->n_args; i++) {
            IrLoss moved = at;
            moved.hyper[l->args[i].hp] = moved_arg(&l->args[i]);
            gradcheck(&moved, 2, 2, p, (RtTargets){y, false});
        }
    }
}

/* ---- optimizers: three steps on the same gradients as torch.optim -------- */

static const float grads[3][3] = {{0.5f, -1e-9f, 2.0f}, {-0.2f, -1e-9f, 1.0f}, {0.3f, 1e-9f, -3.0f}};

/* Three steps of o through its rt_optims row, from fresh (zero) state. */
static void run_steps(const IrOptimizer *o, float p[3])
{
    float bufs[RT_OPTIM_MAX_STATE][3] = {{0}};
    float *state[RT_OPTIM_MAX_STATE];
    for (size_t i = 0; i < RT_OPTIM_MAX_STATE; i++)
        state[i] = bufs[i];
    p[0] = 1.0f, p[1] = 0.25f, p[2] = -0.5f;
    for (long t = 1; t <= 3; t++)
        rt_optims[o->kind].step(o, t, 3, p, grads[t - 1], state);
}

/* An optimizer with every argument at its default, lr where required. */
static IrOptimizer optim_defaults(OptimKind k, double lr)
{
    IrOptimizer o = {k, {0}};
    const OptimInfo *info = &ir_optims[k];
    for (size_t i = 0; i < info->n_args; i++)
        o.hyper[info->args[i].hp] = isnan(info->args[i].def) ? lr : info->args[i].def;
    return o;
}

/* The two tables agree and every row is complete: a name, a torch class,
 * arguments that are optimizer hyperparameters (a torch keyword, no
 * repeats, defaults in range), lr first, and state that fits the buffers. */
Test(optim, every_row_is_complete)
{
    for (int k = 0; k < OPTIM_COUNT; k++) {
        const OptimInfo *info = &ir_optims[k];
        cr_assert(info->name && info->torch, "optimizer %d", k);
        cr_assert_str_eq(ir_optim_name((OptimKind)k), info->name);
        cr_assert(info->n_args >= 1 && info->n_args <= OPTIM_MAX_ARGS, "%s", info->name);
        cr_assert_eq(info->args[0].hp, HP_LR, "%s: lr comes first", info->name);
        for (size_t i = 0; i < info->n_args; i++) {
            const OptimArg *a = &info->args[i];
            const HyperInfo *h = &ir_hypers[a->hp];
            cr_assert(h->torch, "%s: %s is not an optimizer's", info->name, h->name);
            cr_assert_eq(ir_optim_arg((OptimKind)k, a->hp), (int)i, "%s: %s twice", info->name,
                         h->name);
            IrRange r = h->range;
            cr_assert(isnan(a->def) || (a->def >= r.lo && a->def <= r.hi), "%s: %s default",
                      info->name, h->name);
        }
        for (size_t i = info->n_args; i < OPTIM_MAX_ARGS; i++)
            cr_assert(info->args[i].hp == 0 && info->args[i].def == 0,
                      "%s: n_args misses an argument", info->name);
        cr_assert(rt_optims[k].step, "%s", info->name);
        cr_assert_leq(rt_optims[k].n_state, RT_OPTIM_MAX_STATE, "%s", info->name);
    }
}

/* Every optimizer at its defaults moves each parameter against its
 * gradient on the first step, and without weight decay (AdamW's default
 * is 0.01) leaves a zero-gradient one alone. */
Test(optim, every_first_step_goes_downhill)
{
    for (int k = 0; k < OPTIM_COUNT; k++) {
        IrOptimizer o = optim_defaults((OptimKind)k, 0.01);
        o.hyper[HP_WEIGHT_DECAY] = 0;
        float bufs[RT_OPTIM_MAX_STATE][3] = {{0}};
        float *state[RT_OPTIM_MAX_STATE];
        for (size_t i = 0; i < RT_OPTIM_MAX_STATE; i++)
            state[i] = bufs[i];
        float p[3] = {1, 1, 1};
        const float g[3] = {0.5f, -2.0f, 0.0f};
        rt_optims[k].step(&o, 1, 3, p, g, state);
        cr_expect(p[0] < 1 && p[1] > 1 && p[2] == 1, "%s: %g %g %g", ir_optim_name((OptimKind)k),
                  p[0], p[1], p[2]);
    }
}

/* The 1e-9 gradient checks where eps sits: PyTorch adds it after dividing
 * sqrt(v) by sqrt(1 - beta2^t); elsewhere the middle value would differ. */
Test(optim, adam_matches_torch)
{
    float p[3];
    IrOptimizer o = {OPTIM_ADAM, {[HP_LR] = 0.1, [HP_BETA1] = 0.9, [HP_BETA2] = 0.999, [HP_EPS] = 1e-8}};
    run_steps(&o, p);
    ASSERT_REL(p[0], 0.8109954595565796, 1e-6);
    ASSERT_REL(p[1], 0.270563542842865, 1e-6);
    ASSERT_REL(p[2], -0.6850202679634094, 1e-6);
    IrOptimizer o2 = {OPTIM_ADAM, {[HP_LR] = 0.01, [HP_BETA1] = 0.8, [HP_BETA2] = 0.99, [HP_EPS] = 1e-6}};
    run_steps(&o2, p);
    ASSERT_REL(p[0], 0.9817684888839722, 1e-6);
    ASSERT_REL(p[1], 0.250021755695343, 1e-6);
    ASSERT_REL(p[2], -0.5174070000648499, 1e-6);
}

Test(optim, sgd_momentum_matches_torch)
{
    float p[3];
    IrOptimizer o = {OPTIM_SGD, {[HP_LR] = 0.1, [HP_MOMENTUM] = 0.9}};
    run_steps(&o, p);
    ASSERT_REL(p[0], 0.8725000023841858, 1e-6);
    ASSERT_REL(p[1], 0.25, 1e-6);
    ASSERT_REL(p[2], -0.9319999814033508, 1e-6);
    IrOptimizer plain = {OPTIM_SGD, {[HP_LR] = 0.1}};
    run_steps(&plain, p);
    ASSERT_REL(p[0], 0.9399999380111694, 1e-6);
    ASSERT_REL(p[2], -0.5, 1e-6);
}

/* torch.optim.RMSprop(foreach=False) on run_steps' parameters and
 * gradients, printed by /usr/bin/python3 with torch 1.13:
 *     p = torch.tensor([1.0, 0.25, -0.5], requires_grad=True)
 *     opt = torch.optim.RMSprop([p], foreach=False, **kw)
 *     for g in grads: p.grad = torch.tensor(g); opt.step()
 * The 1e-9 gradient checks where eps sits (after the square root); alpha
 * 0.3 takes torch.lerp's other branch (weight >= 0.5). torch 1.13 updates
 * grad_avg as mul_(alpha).add_(g, alpha=1-alpha), later versions with
 * lerp_ (as here); the two differ in the last bit at most. */
static void expect_rmsprop(IrOptimizer o, const double want[3])
{
    float p[3];
    run_steps(&o, p);
    for (int i = 0; i < 3; i++)
        ASSERT_REL(p[i], want[i], 1e-6);
}

Test(optim, rmsprop_matches_torch)
{
    const IrOptimizer defaults = optim_defaults(OPTIM_RMSPROP, NAN);
    cr_assert_eq(defaults.hyper[HP_LR], 0.01, "torch's default lr");
    expect_rmsprop(defaults, (const double[3]){0.8882859349250793, 0.25099313259124756,
                                               -0.5644651055335999});
    IrOptimizer o = defaults;
    o.hyper[HP_MOMENTUM] = 0.9;
    expect_rmsprop(o, (const double[3]){0.7508561015129089, 0.2535736858844757,
                                        -0.7758762240409851});
    o = defaults;
    o.hyper[HP_CENTERED] = 1;
    expect_rmsprop(o, (const double[3]){0.8876078128814697, 0.2509932816028595,
                                        -0.565376341342926});
    o = (IrOptimizer){OPTIM_RMSPROP, {[HP_LR] = 0.1, [HP_ALPHA] = 0.9, [HP_EPS] = 1e-6,
                                      [HP_MOMENTUM] = 0.5, [HP_CENTERED] = 1}};
    expect_rmsprop(o, (const double[3]){0.430236279964447, 0.25022491812705994,
                                        -1.0642119646072388});
    o = (IrOptimizer){OPTIM_RMSPROP, {[HP_LR] = 0.05, [HP_ALPHA] = 0.3, [HP_EPS] = 1e-8,
                                      [HP_CENTERED] = 1}};
    expect_rmsprop(o, (const double[3]){0.8574738502502441, 0.25505009293556213,
                                        -0.6241587400436401});
}

/* ---- schedules ---------------------------------------------------------- */

Test(schedule, every_row_is_complete)
{
    for (int k = 0; k < SCHED_COUNT; k++) {
        const ScheduleInfo *info = &ir_schedules[k];
        cr_assert(info->name && info->torch, "schedule %d", k);
        cr_assert_str_eq(ir_schedule_name((ScheduleKind)k), info->name);
        cr_assert_leq(info->n_args, SCHED_MAX_ARGS, "%s", info->name);
        for (size_t i = 0; i < info->n_args; i++) {
            const OptimArg *a = &info->args[i];
            IrRange r = ir_hypers[a->hp].range;
            cr_assert(isnan(a->def) || (a->def >= r.lo && a->def <= r.hi), "%s: %s default",
                      info->name, ir_hypers[a->hp].name);
        }
        IrSchedule s = {(ScheduleKind)k, {[HP_EVERY] = 2, [HP_GAMMA] = 0.5}};
        double lr = ir_schedule_lr(&s, 0.1, 0, 10);
        cr_assert(lr > 0 && lr <= 0.1, "%s: epoch 0's lr %g", info->name, lr);
    }
}

/* The closed forms of language.md, which torch's StepLR, ExponentialLR and
 * LinearLR + CosineAnnealingLR follow (tests/torch/compare_optim.py checks
 * them against torch itself). */
Test(schedule, closed_forms)
{
    IrSchedule step = {SCHED_STEP, {[HP_EVERY] = 3, [HP_GAMMA] = 0.5}};
    cr_expect_float_eq(ir_schedule_lr(&step, 0.8, 2, 10), 0.8, 1e-15);
    cr_expect_float_eq(ir_schedule_lr(&step, 0.8, 3, 10), 0.4, 1e-15);
    cr_expect_float_eq(ir_schedule_lr(&step, 0.8, 7, 10), 0.2, 1e-15);
    IrSchedule expo = {SCHED_EXPONENTIAL, {[HP_GAMMA] = 0.9}};
    cr_expect_float_eq(ir_schedule_lr(&expo, 1.0, 2, 10), 0.81, 1e-15);
    IrSchedule cos = {SCHED_COSINE, {[HP_WARMUP] = 2, [HP_MIN_LR] = 0.1}};
    cr_expect_float_eq(ir_schedule_lr(&cos, 1.0, 0, 10), 0.5, 1e-15);
    cr_expect_float_eq(ir_schedule_lr(&cos, 1.0, 1, 10), 1.0, 1e-15);
    cr_expect_float_eq(ir_schedule_lr(&cos, 1.0, 2, 10), 1.0, 1e-15);   /* cos(0) */
    cr_expect_float_eq(ir_schedule_lr(&cos, 1.0, 6, 10), 0.55, 1e-15);  /* halfway */
    IrSchedule flat = {SCHED_CONSTANT, {0}};
    cr_expect_eq(ir_schedule_lr(&flat, 0.3, 99, 100), 0.3);
}

/* A call names an optimizer, a loss or a schedule: one name cannot be two
 * of them (the editor's argument completion looks the name up in all). */
Test(schedule, callee_names_are_unique)
{
    const char *names[OPTIM_COUNT + LOSS_COUNT + SCHED_COUNT];
    size_t n = 0;
    for (int k = 0; k < OPTIM_COUNT; k++)
        names[n++] = ir_optims[k].name;
    for (int k = 0; k < LOSS_COUNT; k++)
        names[n++] = ir_losses[k].name;
    for (int k = 0; k < SCHED_COUNT; k++)
        names[n++] = ir_schedules[k].name;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            cr_expect(strcmp(names[i], names[j]) != 0, "'%s' twice", names[i]);
}

/* The newer arguments against torch.optim (foreach=False) on run_steps'
 * parameters and gradients, printed by /usr/bin/python3 with torch 1.13
 * as in expect_rmsprop's comment. Weight decay turns the 1e-9 gradient of
 * p[1] into one dominated by the parameter itself. */
static void expect_steps(IrOptimizer o, const double want[3])
{
    float p[3];
    run_steps(&o, p);
    for (int i = 0; i < 3; i++)
        ASSERT_REL(p[i], want[i], 1e-6);
}

Test(optim, new_arguments_match_torch)
{
    IrOptimizer o = optim_defaults(OPTIM_SGD, 0.1);
    o.hyper[HP_MOMENTUM] = 0.9, o.hyper[HP_NESTEROV] = 1, o.hyper[HP_WEIGHT_DECAY] = 0.1;
    expect_steps(o, (const double[3]){0.7505366206169128, 0.23022349178791046, -0.8251781463623047});
    o.hyper[HP_NESTEROV] = 0, o.hyper[HP_DAMPENING] = 0.5, o.hyper[HP_WEIGHT_DECAY] = 0.01;
    expect_steps(o, (const double[3]){0.864432156085968, 0.24896053969860077, -0.9845161437988281});
    IrOptimizer a = optim_defaults(OPTIM_ADAM, 0.1);
    a.hyper[HP_WEIGHT_DECAY] = 0.1, a.hyper[HP_AMSGRAD] = 1;
    expect_steps(a, (const double[3]){0.7791122198104858, -0.030208230018615723, -0.6817263960838318});
    IrOptimizer w = optim_defaults(OPTIM_ADAMW, 0.1);
    w.hyper[HP_WEIGHT_DECAY] = 0.5;
    expect_steps(w, (const double[3]){0.6798484325408936, 0.23356641829013824, -0.5992968678474426});
    w.hyper[HP_WEIGHT_DECAY] = 0.01, w.hyper[HP_AMSGRAD] = 1;
    expect_steps(w, (const double[3]){0.8082329034805298, 0.269787073135376, -0.6832286715507507});
    IrOptimizer r = optim_defaults(OPTIM_RMSPROP, 0.01);
    r.hyper[HP_WEIGHT_DECAY] = 0.1, r.hyper[HP_MOMENTUM] = 0.5, r.hyper[HP_CENTERED] = 1;
    expect_steps(r, (const double[3]){0.797078013420105, -0.020214835181832314, -0.6598981022834778});
}
