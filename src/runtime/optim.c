/* SGD with momentum and Adam, written to round like PyTorch's CPU
 * single-tensor implementations: scalars derived from the step count are
 * computed in double (as Python does), element arithmetic in float32. */
#include <math.h>

#include "optim.h"

/* torch: buf = g (first step) else buf = momentum * buf + g; p -= lr * buf.
 * Without momentum PyTorch keeps no buffer: p -= lr * g. */
void rt_sgd_step(const IrOptimizer *o, long step, size_t n, float *p,
                 const float *g, float *buf)
{
    float lr = (float)o->lr;
    if (o->momentum == 0.0) {
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * g[i];
        return;
    }
    float mu = (float)o->momentum;
    for (size_t i = 0; i < n; i++) {
        buf[i] = step == 1 ? g[i] : mu * buf[i] + g[i];
        p[i] -= lr * buf[i];
    }
}

/* torch: m = lerp(m, g, 1 - b1)  (= b1 m + (1 - b1) g, computed as
 * m + (1 - b1)(g - m) because that is how torch.lerp rounds);
 * v = b2 v + (1 - b2) g^2; step_size = lr / (1 - b1^t);
 * denom = sqrt(v) / sqrt(1 - b2^t) + eps; p -= step_size * m / denom. */
/* The bias corrections 1 - beta^t of the last call. A training step calls
 * rt_adam_step once per dense layer with the same betas and step: pow is
 * the costliest part of a small network's step, so it runs once per step.
 * The memo returns exactly what pow returned (a pure function's result). */
typedef struct AdamCorrections {
    double beta1, beta2;
    long step;
    double bc1, bc2;
} AdamCorrections;

static _Thread_local AdamCorrections adam_memo = {0.0, 0.0, 0, 0.0, 0.0};

static void adam_corrections(const IrOptimizer *o, long step, double *bc1, double *bc2)
{
    AdamCorrections *c = &adam_memo;
    if (c->step != step || c->beta1 != o->beta1 || c->beta2 != o->beta2) {
        c->beta1 = o->beta1;
        c->beta2 = o->beta2;
        c->step = step;
        c->bc1 = 1.0 - pow(o->beta1, (double)step);
        c->bc2 = 1.0 - pow(o->beta2, (double)step);
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

OPTIM_CLONES
void rt_adam_step(const IrOptimizer *o, long step, size_t n, float *p,
                  const float *g, float *m, float *v)
{
    double bc1, bc2;
    adam_corrections(o, step, &bc1, &bc2);
    float step_size = (float)(o->lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float w1 = (float)(1.0 - o->beta1);
    float b2 = (float)o->beta2, w2 = (float)(1.0 - o->beta2);
    float eps = (float)o->eps;
    for (size_t i = 0; i < n; i++) {
        m[i] = m[i] + w1 * (g[i] - m[i]);
        v[i] = v[i] * b2 + w2 * g[i] * g[i];
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += (-step_size * m[i]) / denom; /* torch.addcdiv's order */
    }
}
