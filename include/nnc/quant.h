/* int8 post-training quantization (docs/quantization.md): the quantized
 * network as plain arrays, and the integer arithmetic that runs it. The
 * runtime calibrates and builds a QModel (src/runtime/quant.c) and runs it
 * with these kernels (src/runtime/quant_kernels.c); the C emitter
 * (src/emit/emit_c_int8.c) writes the same operations as C text from the
 * same QModel, so `nnc run --quantize int8` and the emitted file agree on
 * every int8 output. Follows TensorFlow Lite's int8 specification: weights
 * symmetric per output channel, activations asymmetric per tensor, int32
 * biases, requantization by a 32-bit fixed-point multiplier and shift. */
#ifndef NNC_QUANT_H
#define NNC_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nnc/ir.h"

/* ---- The arithmetic (TFLite's reference kernels' rounding) ------------ */

/* gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2ab,
 * rounded to nearest with ties upwards (its nudge: 1.5 -> 2, -1.5 -> -1);
 * INT32_MIN * INT32_MIN saturates to INT32_MAX. */
int32_t q8_doubling_high_mul(int32_t a, int32_t b);
/* gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties
 * away from zero (0 <= exponent <= 31). */
int32_t q8_rounding_shift_right(int32_t x, int exponent);
/* TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31)
 * with the two roundings above; a positive shift is applied first as a
 * left shift, saturated to int32 (TFLite leaves that overflow undefined). */
int32_t q8_multiply(int32_t x, int32_t multiplier, int shift);
/* TFLite's QuantizeMultiplier: real = multiplier * 2^(shift - 31) with
 * multiplier in [2^30, 2^31) (multiplier 0, shift 0 for real == 0 or
 * below 2^-32, whose products round to 0); false when real is negative,
 * not finite or >= 2^30. */
bool q8_quantize_multiplier(double real, int32_t *multiplier, int *shift);

/* round(x / scale) + zero clamped to [-128, 127], rounding half away from
 * zero as std::round in TFLite's Quantize (x / scale limited to [-256,
 * 256] first, NaN to -256). Float: the input helper only, never inside
 * q8_forward. */
int8_t q8_quantize(float x, float scale, int32_t zero);
/* ONNX QuantizeLinear: the same with ties to even, into [lo, hi]. */
int32_t q8_quantize_even(float x, float scale, int32_t zero, int32_t lo, int32_t hi);
/* (q - zero) * scale. */
float q8_dequantize(int32_t q, float scale, int32_t zero);

/* ---- The quantized network -------------------------------------------- */

typedef struct QParams {
    float scale;       /* > 0 */
    int32_t zero;      /* in [-128, 127] */
} QParams;

typedef enum QKind {
    Q_INPUT,   /* the float input, quantized by the caller (q8_quantize) */
    Q_DENSE,   /* int8 x int8 -> int32, requantized per output channel */
    Q_LUT,     /* an elementwise activation: a 256-entry int8 table */
    Q_SOFTMAX, /* exp table, integer division; output scale 1/256, zero -128 */
    Q_CONV,    /* conv1d/conv2d (groups, depthwise): as Q_DENSE per position */
    Q_MAXPOOL, /* max of int8 values: the input's scale and zero point */
    Q_AVGPOOL, /* rounded mean of (q - zero): the input's scale and zero point */
    Q_ADD,     /* every input rescaled to a common scale, summed, requantized */
    Q_CONCAT,  /* every input requantized to the output's scale */
    Q_ALIAS,   /* no code: its value is node src's (dropout, identity,
                  flatten, a relu folded into the dense or conv before
                  it, a batchnorm folded into its weights) */
} QKind;

/* A dense or conv layer. A conv's weights per output channel are its
 * [Cin/groups][kernel...] block, in PyTorch's order. */
typedef struct QDense {
    size_t in, units;       /* weights per output channel, output channels */
    const int8_t *weight;   /* [units][in], symmetric: zero point 0, [-127, 127] */
    const float *w_scale;   /* [units] per output channel */
    const int32_t *bias;    /* [units], scale in.scale * w_scale[c], zero 0 */
    /* [units] bias - in.zero * sum_j weight[c][j]: the input's zero point
     * folded in, so the inner loop is a plain sum of products. */
    const int32_t *acc_init;
    const int32_t *mult;    /* [units] q8_quantize_multiplier(in * w / out) */
    const int32_t *shift;   /* [units] */
    int32_t act_min, act_max; /* the clamp: [-128, 127], or [out.zero, 127]
                                 with a relu folded in */
} QDense;

/* add and concat: per input k its value (aliases resolved) and a
 * multiplier. add: (q_k - z_k) 2^Q8_ADD_SHIFT times mult[k] 2^(shift[k]-31)
 * (real s_k / (n max s)), summed, times out_mult 2^(out_shift - 31) (real
 * n max s / (2^Q8_ADD_SHIFT s_out)). concat: q_k - z_k times mult[k]
 * (real s_k / s_out), plus z_out. */
typedef struct QMix {
    size_t n;
    const size_t *src;
    const int32_t *mult, *shift;
    int32_t out_mult, out_shift;
    int32_t act_min;         /* add: out.zero with a relu folded in, else -128 */
} QMix;

enum { Q8_ADD_SHIFT = 20 };

typedef struct QNode {
    QKind kind;
    size_t src;        /* the node whose int8 value it reads (aliases resolved) */
    QParams out;       /* its value's scale and zero point (an alias: its src's) */
    float lo, hi;      /* the calibrated range, 0 included */
    bool degenerate;   /* lo == hi == 0: the documented [0, 1] range was used */
    const char *folded; /* Q_DENSE, Q_CONV: the name of the relu folded in, or NULL */
    const char *folded_bn; /* ... the batchnorm folded into the weights, or NULL */
    QDense dense;
    QMix mix;          /* Q_ADD, Q_CONCAT */
    int8_t lut[256];   /* Q_LUT: lut[q + 128] */
    int32_t exp_q16[256]; /* Q_SOFTMAX: round(exp(-d * in.scale) * 2^16) for d = max - q */
} QNode;

typedef struct QModel {
    const IrModel *ir;
    QNode *nodes;      /* per IR node */
    const char *calibration; /* the dataset the ranges came from */
    size_t calib_rows;
} QModel;

/* The first node of m the int8 path cannot run (an op without an integer
 * kernel, a dense layer too wide for its int32 accumulator), with the
 * reason in why; NULL when it can run the whole model. IR only. */
const IrNode *q8_refusal(const IrModel *m, char *why, size_t size);

/* Q16 one: exp_q16[0]. */
enum { Q8_EXP_ONE = 1 << 16 };

/* Runs the network on one quantized row: in [ir->in_units], out
 * [ir->out_units]; work holds at least q8_work_size(q) int8 values. */
void q8_forward(const QModel *q, const int8_t *in, int8_t *out, int8_t *work);
size_t q8_work_size(const QModel *q);
/* Node i's int8 value in work after q8_forward (an alias: its source's),
 * ir->nodes[i].units values. */
const int8_t *q8_node_value(const QModel *q, const int8_t *work, size_t i);
/* The node that holds the output (the last node, aliases resolved). */
const QNode *q8_output(const QModel *q);

/* The two halves of every int8 layer: acc + sum_j w[j] x[j] in int32
 * (the zero points folded into acc beforehand), and the requantization
 * clamp(q8_multiply(acc, multiplier, shift) + zero, lo, hi). */
int32_t q8_dot(int32_t acc, const int8_t *w, const int8_t *x, size_t n);
int8_t q8_requantize(int32_t acc, int32_t multiplier, int shift, int32_t zero, int32_t lo,
                     int32_t hi);

/* The kernels q8_forward runs, one per QKind with code, for the
 * conformance harness and the unit tests. */
void q8_dense(const QDense *d, const int8_t *x, int8_t *y, int32_t out_zero);
void q8_lut(const int8_t lut[256], const int8_t *x, int8_t *y, size_t n);
void q8_softmax(const int32_t exp_q16[256], const int8_t *x, int8_t *y, size_t n);
/* n's geometry (cfg.conv or cfg.pool, in_shape, shape); padding reads
 * in_zero (the real 0) for conv and average pooling, nothing for max. */
void q8_conv(const QDense *d, const IrNode *n, const int8_t *x, int8_t *y, int32_t out_zero,
             int32_t in_zero);
void q8_pool(const IrNode *n, bool max, const int8_t *x, int8_t *y, int32_t zero);
/* xs[k] is input k's value, zeros[k] its zero point; sizes[k] its units
 * (concat's blocks, back to back: channels first). */
void q8_add(const QMix *m, const int8_t *const *xs, const int32_t *zeros, int8_t *y, size_t n,
            int32_t out_zero);
void q8_concat(const QMix *m, const int8_t *const *xs, const int32_t *zeros, const size_t *sizes,
               int8_t *y, int32_t out_zero);

/* A conv or pooling node's geometry with 1-D ops as height 1: input
 * [c][h][w], output [oc][oh][ow], the window ([0] height, [1] width). */
typedef struct QGeom {
    size_t c, h, w, oc, oh, ow;
    IrWindow win;
} QGeom;
QGeom q8_geometry(const IrNode *n);

#endif
