/* SGD with momentum, Adam and RMSprop, written to round like PyTorch's CPU
 * single-tensor implementations: scalars derived from the step count are
 * computed in double (as Python does), element arithmetic in float32.
 * Adding an optimizer: its row in ir_optims (src/ir/optim.c), its step
 * function here and its row in rt_optims. */
#include <math.h>

#include "optim.h"

/* torch.optim.SGD's single-tensor step, in its order:
 *   weight_decay: d = g + wd * p
 *   momentum:     buf = d (first step) else buf = momentum * buf + (1 - dampening) * d
 *                 nesterov: d = d + momentum * buf, else d = buf
 *   p = p - lr * d
 * Without momentum PyTorch keeps no buffer. */
static void sgd_step(const IrOptimizer *o, long step, size_t n, float *p, const float *g,
                     float *const *state)
{
    float lr = (float)o->hyper[HP_LR], wd = (float)o->hyper[HP_WEIGHT_DECAY];
    float mu = (float)o->hyper[HP_MOMENTUM], keep = (float)(1.0 - o->hyper[HP_DAMPENING]);
    bool decay = wd != 0.0f, nesterov = o->hyper[HP_NESTEROV] != 0;
    float *buf = state[0];
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * (decay ? g[i] + wd * p[i] : g[i]);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float d = decay ? g[i] + wd * p[i] : g[i];
        buf[i] = step == 1 ? d : mu * buf[i] + keep * d;
        p[i] -= lr * (nesterov ? d + mu * buf[i] : buf[i]);
    }
}

/* torch: m = lerp(m, g, 1 - b1)  (= b1 m + (1 - b1) g, computed as
 * m + (1 - b1)(g - m) because that is how torch.lerp rounds);
 * v = b2 v + (1 - b2) g^2; step_size = lr / (1 - b1^t);
 * denom = sqrt(v) / sqrt(1 - b2^t) + eps; p -= step_size * m / denom. */
/* The bias corrections 1 - beta^t of the last call. A training step calls
 * the step once per dense layer with the same betas and step: pow is
 * the costliest part of a small network's step, so it runs once per step.
 * The memo returns exactly what pow returned (a pure function's result). */
typedef struct AdamCorrections {
    double beta1, beta2;
    long step;
    double bc1, bc2;
} AdamCorrections;

static _Thread_local AdamCorrections adam_memo = {0.0, 0.0, 0, 0.0, 0.0};

static void adam_corrections(double beta1, double beta2, long step, double *bc1, double *bc2)
{
    AdamCorrections *c = &adam_memo;
    if (c->step != step || c->beta1 != beta1 || c->beta2 != beta2) {
        c->beta1 = beta1;
        c->beta2 = beta2;
        c->step = step;
        c->bc1 = 1.0 - pow(beta1, (double)step);
        c->bc2 = 1.0 - pow(beta2, (double)step);
    }
    *bc1 = c->bc1;
    *bc2 = c->bc2;
}

/* Adam's loop is the largest item of a small network's step after the
 * products. gcc on x86-64 also compiles an AVX2 clone of it, chosen when
 * the program loads by the CPU it runs on; sqrt, division, multiplication
 * and addition round the same in every vector width: the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define OPTIM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define OPTIM_CLONES
#endif

/* Adam and AdamW: Adam's weight decay is L2 regularisation (g + wd * p
 * enters the moments), AdamW's is decoupled (p *= 1 - lr * wd, the factor
 * in double as Python computes it, before the moments); amsgrad keeps the
 * running maximum of v (state[2]) for the denominator. */
OPTIM_CLONES
static void adam_update(const IrOptimizer *o, long step, size_t n, float *p, const float *g,
                        float *const *state, bool decoupled)
{
    double beta1 = o->hyper[HP_BETA1], beta2 = o->hyper[HP_BETA2];
    double bc1, bc2;
    adam_corrections(beta1, beta2, step, &bc1, &bc2);
    float step_size = (float)(o->hyper[HP_LR] / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float w1 = (float)(1.0 - beta1);
    float b2 = (float)beta2, w2 = (float)(1.0 - beta2);
    float eps = (float)o->hyper[HP_EPS];
    float l2 = decoupled ? 0.0f : (float)o->hyper[HP_WEIGHT_DECAY];
    float shrink = decoupled ? (float)(1.0 - o->hyper[HP_LR] * o->hyper[HP_WEIGHT_DECAY]) : 1.0f;
    float *m = state[0], *v = state[1], *vmax = state[2];
    bool amsgrad = o->hyper[HP_AMSGRAD] != 0;
    for (size_t i = 0; i < n; i++) {
        float gi = l2 != 0.0f ? g[i] + l2 * p[i] : g[i];
        if (shrink != 1.0f)
            p[i] *= shrink;
        m[i] = m[i] + w1 * (gi - m[i]);
        v[i] = v[i] * b2 + w2 * gi * gi;
        float second = v[i];
        if (amsgrad)
            second = vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
        float denom = sqrtf(second) / bc2_sqrt + eps;
        p[i] += (-step_size * m[i]) / denom; /* torch.addcdiv's order */
    }
}

static void adam_step(const IrOptimizer *o, long step, size_t n, float *p, const float *g,
                      float *const *state)
{
    adam_update(o, step, n, p, g, state, false);
}

static void adamw_step(const IrOptimizer *o, long step, size_t n, float *p, const float *g,
                       float *const *state)
{
    adam_update(o, step, n, p, g, state, true);
}

/* torch.lerp(a, b, w) as its CPU kernel rounds: from the nearer end. */
static inline float lerp_torch(float a, float b, float w)
{
    return fabsf(w) < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

/* torch.optim.RMSprop's single-tensor step, in its order:
 *   square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
 *   centered: grad_avg.lerp_(g, 1 - alpha);
 *             avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
 *   else:     avg = square_avg.sqrt()
 *   avg.add_(eps)
 *   momentum > 0: buf.mul_(momentum).addcdiv_(g, avg); p.add_(buf, alpha=-lr)
 *   else:         p.addcdiv_(g, avg, value=-lr)
 * addcmul and addcdiv compute self + value * t1 op t2 from the left. All
 * three buffers start at zero (torch zero-initialises the momentum buffer
 * here, unlike SGD's). There are no step-dependent corrections. Weight
 * decay first replaces g by g + wd * p, as SGD's. */
static void rmsprop_step(const IrOptimizer *o, long step, size_t n, float *p, const float *g,
                         float *const *state)
{
    (void)step;
    float alpha = (float)o->hyper[HP_ALPHA], w = (float)(1.0 - o->hyper[HP_ALPHA]);
    float eps = (float)o->hyper[HP_EPS], neg_lr = (float)-o->hyper[HP_LR];
    float mu = (float)o->hyper[HP_MOMENTUM];
    bool centered = o->hyper[HP_CENTERED] != 0, momentum = o->hyper[HP_MOMENTUM] > 0;
    float *sq = state[0], *avg_g = state[1], *buf = state[2];
    float wd = (float)o->hyper[HP_WEIGHT_DECAY];
    for (size_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        sq[i] = sq[i] * alpha + w * gi * gi;
        float avg;
        if (centered) {
            avg_g[i] = lerp_torch(avg_g[i], gi, w);
            avg = sqrtf(sq[i] + -1.0f * avg_g[i] * avg_g[i]);
        } else {
            avg = sqrtf(sq[i]);
        }
        avg = avg + eps;
        if (momentum) {
            buf[i] = buf[i] * mu + 1.0f * gi / avg;
            p[i] = p[i] + neg_lr * buf[i];
        } else {
            p[i] = p[i] + neg_lr * gi / avg;
        }
    }
}

const RtOptim rt_optims[OPTIM_COUNT] = {
    [OPTIM_SGD] = {1, sgd_step},         /* momentum buffer */
    [OPTIM_ADAM] = {3, adam_step},       /* exp_avg, exp_avg_sq, max_exp_avg_sq */
    [OPTIM_ADAMW] = {3, adamw_step},     /* the same */
    [OPTIM_RMSPROP] = {3, rmsprop_step}, /* square_avg, grad_avg, momentum buffer */
};
_Static_assert(sizeof rt_optims / sizeof *rt_optims == OPTIM_COUNT, "one row per OptimKind");

size_t rt_optim_n_state(const IrOptimizer *o)
{
    bool adam = o->kind == OPTIM_ADAM || o->kind == OPTIM_ADAMW;
    if (adam && o->hyper[HP_AMSGRAD] == 0)
        return 2; /* no max_exp_avg_sq */
    return rt_optims[o->kind].n_state;
}

void rt_optim_step(const IrOptimizer *o, long step, float *const *state, size_t off, size_t n,
                   float *p, const float *g)
{
    const RtOptim *r = &rt_optims[o->kind];
    float *run[RT_OPTIM_MAX_STATE] = {0};
    for (size_t i = 0; i < rt_optim_n_state(o); i++)
        run[i] = state[i] + off;
    r->step(o, step, n, p, g, run);
}
