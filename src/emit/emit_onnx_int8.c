/* `nnc emit --target onnx --quantize int8`: the quantized network as a QDQ
 * ONNX model (opset 13), the form onnxruntime's quantization tools write.
 * Every int8 value of nnc's QModel is a QuantizeLinear with nnc's scale and
 * zero point; every layer reads DequantizeLinear of its inputs and computes
 * in float the op --target onnx writes for it (emit_onnx.c's, shared
 * through onnx_emit.h):
 *   dense, conv1d/conv2d  Gemm / Conv (groups, stride, padding, dilation)
 *                         of DequantizeLinear of the int8 weights (per
 *                         output channel, axis 0; a batchnorm that nnc
 *                         folded into them is in them) and of the int32
 *                         bias (scale input x weight[c]); a Relu after it
 *                         where nnc folds the relu into the clamp
 *   activations (nnc's 256-entry tables), softmax, max/average/global
 *   pools, add (then the folded relu), concat
 *                         their float ops between the DQ and the Q
 *   flatten               Flatten of the int8 tensor itself
 *   dropout, identity     nothing: the value is the one they read
 * The graph: float "input" [N, sample shape] -> int8 "output" [N, output
 * shape]. onnxruntime computes between the Q and DQ nodes in float (or
 * fuses them into its own integer kernels), so its int8 outputs may be one
 * step from nnc's fixed-point ones where the roundings differ
 * (tests/onnx/check_int8.py counts them, docs/quantization.md). Every kind
 * the int8 path quantizes has a form here; emit_onnx_int8_refusal's switch
 * makes a new kind decide. */
#include <string.h>

#include "nnc/emit.h"
#include "onnx/onnx.pb-c.h"
#include "onnx_emit.h"

typedef struct QdqWriter {
    Arena *a;
    const QModel *q;
    Onnx__GraphProto *g;
} QdqWriter;

/* Whether the QDQ writer has a form for the kind: every kind the int8 path
 * quantizes (q8_refusal refuses the rest before this is asked, e.g. a
 * batchnorm that does not fold). Every kind is listed, so a new one does
 * not build until it is placed here; one placed as false is refused by
 * name (main.c), nothing written. */
static bool qdq_has_form(OpKind k)
{
    switch (k) {
    case OP_INPUT:
    case OP_DENSE:
    case OP_DROPOUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_SOFTMAX:
    case OP_IDENTITY:
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_BATCHNORM:
    case OP_ADD:
    case OP_CONCAT: return true;
    }
    return false;
}

const IrNode *emit_onnx_int8_refusal(const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++)
        if (!qdq_has_form(m->nodes[i].op))
            return &m->nodes[i];
    return NULL;
}

/* ---- values ------------------------------------------------------------- */

/* The node whose int8 tensor node i's value is: an alias that only renames
 * (dropout, identity, a relu or batchnorm folded into the layer before)
 * is the value it reads; a flatten has a tensor of its own. */
static size_t tensor_of(const QModel *q, size_t i)
{
    while (q->nodes[i].kind == Q_ALIAS && q->ir->nodes[i].op != OP_FLATTEN)
        i = q->ir->nodes[i].inputs[0];
    return i;
}

static const char *q_name(QdqWriter *wr, size_t i)
{
    const IrModel *m = wr->q->ir;
    i = tensor_of(wr->q, i);
    return i == tensor_of(wr->q, m->n_nodes - 1) ? "output"
                                                 : arena_printf(wr->a, "%s.q", m->nodes[i].name);
}

static const char *add_scalar(QdqWriter *wr, const char *name, int dt, const void *v)
{
    return onnx_add_tensor(wr->a, wr->g, name, dt, NULL, 0, v);
}

/* NAME.scale and NAME.zero: the scalar quantization parameters of p. */
static bool add_params(QdqWriter *wr, const char *name, QParams p, const char *out[2])
{
    int8_t zero = (int8_t)p.zero;
    out[0] = add_scalar(wr, arena_printf(wr->a, "%s.scale", name),
                        ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &p.scale);
    out[1] = add_scalar(wr, arena_printf(wr->a, "%s.zero", name),
                        ONNX__TENSOR_PROTO__DATA_TYPE__INT8, &zero);
    return out[0] && out[1];
}

/* The float form of node j's int8 value, as layer `reader` reads it:
 * READER.X.dq. */
static const char *dq(QdqWriter *wr, size_t j, const char *reader)
{
    const char *x = q_name(wr, j);
    const char *label = arena_printf(wr->a, "%s.%s", reader, x);
    const char *out = arena_printf(wr->a, "%s.dq", label);
    const char *in[3] = {x};
    if (!label || !add_params(wr, label, wr->q->nodes[j].out, in + 1))
        return NULL;
    return onnx_add_node(wr->a, wr->g, "DequantizeLinear", out, in, 3, out, NULL, 0) ? out : NULL;
}

static bool quantize(QdqWriter *wr, size_t i, const char *y)
{
    const char *name = wr->q->ir->nodes[i].name;
    const char *in[3] = {y};
    return add_params(wr, arena_printf(wr->a, "%s.out", name), wr->q->nodes[i].out, in + 1) &&
           onnx_add_node(wr->a, wr->g, "QuantizeLinear", arena_printf(wr->a, "%s.quantize", name),
                         in, 3, q_name(wr, i), NULL, 0);
}

/* ---- layers ------------------------------------------------------------ */

/* NAME (float) = DequantizeLinear of the integer initializer NAME.q of type
 * dt and shape dims (the output channels first), per channel on axis 0
 * with scales[c] and zero point 0. */
static const char *dq_channels(QdqWriter *wr, const char *name, int dt, const IrShape *shape,
                               const void *values, const float *scales)
{
    size_t units = shape->dim[0];
    void *zeros = arena_array(wr->a, units, 4); /* zero bytes: int8 or int32 zeros */
    if (!zeros || !name)
        return NULL;
    memset(zeros, 0, units * 4);
    const char *in[] = {
        onnx_add_tensor(wr->a, wr->g, arena_printf(wr->a, "%s.q", name), dt, shape->dim,
                        shape->rank, values),
        onnx_add_tensor(wr->a, wr->g, arena_printf(wr->a, "%s.scale", name),
                        ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &units, 1, scales),
        onnx_add_tensor(wr->a, wr->g, arena_printf(wr->a, "%s.zero", name), dt, &units, 1, zeros),
    };
    return onnx_add_node(wr->a, wr->g, "DequantizeLinear", name, in, 3, name,
                         &ATTR_I("axis", 0), 1) ? name : NULL;
}

/* dense: Gemm(x, W, b) with transB (W is [units][in]); conv: Conv(x, W, b),
 * W [out][in / groups][kernel...]. The weights are nnc's int8 ones, the
 * bias its int32 one in scale input x weight[c], as it was quantized. */
static bool write_weighted(QdqWriter *wr, size_t i, const char *x, const char *y)
{
    const QNode *qn = &wr->q->nodes[i];
    const IrNode *n = &wr->q->ir->nodes[i];
    const QDense *d = &qn->dense;
    IrParam ps[IR_MAX_PARAMS];
    float *bias_scale = arena_array(wr->a, d->units, sizeof *bias_scale);
    if (ir_node_params(n, ps) == 0 || !bias_scale)
        return false;
    float in_scale = wr->q->nodes[qn->src].out.scale;
    for (size_t c = 0; c < d->units; c++)
        bias_scale[c] = in_scale * d->w_scale[c];
    IrShape bias_shape = {1, {d->units}};
    const char *in[] = {
        x,
        dq_channels(wr, arena_printf(wr->a, "%s.weight", n->name),
                    ONNX__TENSOR_PROTO__DATA_TYPE__INT8, &ps[0].shape, d->weight, d->w_scale),
        dq_channels(wr, arena_printf(wr->a, "%s.bias", n->name),
                    ONNX__TENSOR_PROTO__DATA_TYPE__INT32, &bias_shape, d->bias, bias_scale),
    };
    if (qn->kind == Q_DENSE)
        return onnx_add_node(wr->a, wr->g, "Gemm", n->name, in, 3, y, &ATTR_I("transB", 1), 1);
    NodeAttr attrs[ONNX_CONV_ATTRS];
    size_t na = onnx_conv_attrs(n, attrs);
    return onnx_add_node(wr->a, wr->g, "Conv", n->name, in, 3, y, attrs, na);
}

/* A layer that computes: DequantizeLinear of each input, its float op (a
 * relu nnc folded into its clamp after it), QuantizeLinear. */
static bool write_layer(QdqWriter *wr, size_t i)
{
    const QNode *qn = &wr->q->nodes[i];
    const IrNode *n = &wr->q->ir->nodes[i];
    const char *ins[IR_MAX_INPUTS];
    for (size_t k = 0; k < n->n_inputs; k++) {
        size_t same = 0; /* add(a, a): one DequantizeLinear serves both */
        while (same < k && tensor_of(wr->q, n->inputs[same]) != tensor_of(wr->q, n->inputs[k]))
            same++;
        ins[k] = same < k ? ins[same] : dq(wr, n->inputs[k], n->name);
        if (!ins[k])
            return false;
    }
    const char *y = arena_printf(wr->a, "%s.float", n->name);
    const char *pre = qn->folded ? arena_printf(wr->a, "%s.preact", n->name) : y;
    bool weighted = qn->kind == Q_DENSE || qn->kind == Q_CONV;
    bool ok = weighted ? write_weighted(wr, i, ins[0], pre)
                       : onnx_write_float_op(wr->a, wr->g, wr->q->ir, i, ins, pre);
    if (ok && qn->folded)
        ok = onnx_add_node(wr->a, wr->g, "Relu", qn->folded, &pre, 1, y, NULL, 0);
    return ok && quantize(wr, i, y);
}

/* flatten: [N, C, ...] -> [N, C x ...] of the int8 values, no rounding. */
static bool write_flatten(QdqWriter *wr, size_t i)
{
    const IrNode *n = &wr->q->ir->nodes[i];
    const char *in[] = {q_name(wr, n->inputs[0])};
    return onnx_add_node(wr->a, wr->g, "Flatten", n->name, in, 1, q_name(wr, i),
                         &ATTR_I("axis", 1), 1);
}

static bool write_node(QdqWriter *wr, size_t i)
{
    switch (wr->q->nodes[i].kind) {
    case Q_INPUT: return true; /* graph_build quantizes the input */
    case Q_ALIAS: return wr->q->ir->nodes[i].op != OP_FLATTEN || write_flatten(wr, i);
    case Q_DENSE:
    case Q_CONV:
    case Q_LUT:
    case Q_SOFTMAX:
    case Q_MAXPOOL:
    case Q_AVGPOOL:
    case Q_ADD:
    case Q_CONCAT: return write_layer(wr, i);
    }
    return false;
}

/* ---- the graph ------------------------------------------------------------ */

/* Room for the worst case per IR node: per input a DQ and (add) an Add,
 * five nodes of a float op (gelu), the weights' two DQs, a relu and the
 * Q; two scalars per DQ and Q, six weight tensors, three constants of a
 * float op. */
enum { NODES_PER_OP = 9, INITS_PER_OP = 13 };

static Onnx__GraphProto *graph_new(Arena *a, const IrModel *m)
{
    Onnx__GraphProto *g = NEW_MSG(a, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    if (!g)
        return NULL;
    size_t nodes = 1, inits = 2; /* the input's QuantizeLinear */
    for (size_t i = 0; i < m->n_nodes; i++) {
        nodes += NODES_PER_OP + 2 * m->nodes[i].n_inputs;
        inits += INITS_PER_OP + 2 * m->nodes[i].n_inputs;
    }
    g->node = arena_array(a, nodes, sizeof *g->node);
    g->initializer = arena_array(a, inits, sizeof *g->initializer);
    g->input = arena_array(a, 1, sizeof *g->input);
    g->output = arena_array(a, 1, sizeof *g->output);
    if (!g->node || !g->initializer || !g->input || !g->output)
        return NULL;
    g->name = (char *)m->name;
    g->input[0] = onnx_value_info(a, "input", &m->nodes[0].shape,
                                  ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    g->output[0] = onnx_value_info(a, "output", &m->nodes[m->n_nodes - 1].shape,
                                   ONNX__TENSOR_PROTO__DATA_TYPE__INT8);
    g->n_input = g->n_output = 1;
    return g->input[0] && g->output[0] ? g : NULL;
}

static Onnx__GraphProto *graph_build(Arena *a, const QModel *q)
{
    QdqWriter wr = {a, q, graph_new(a, q->ir)};
    const char *in[3] = {"input"};
    if (!wr.g || !add_params(&wr, "input", q->nodes[0].out, in + 1) ||
        !onnx_add_node(a, wr.g, "QuantizeLinear", "input.quantize", in, 3, q_name(&wr, 0), NULL,
                       0))
        return NULL;
    for (size_t i = 1; i < q->ir->n_nodes; i++)
        if (!write_node(&wr, i))
            return NULL;
    return wr.g;
}

bool emit_onnx_int8(FILE *out, const QModel *q, const EmitOptions *o)
{
    Arena a;
    arena_init(&a);
    Onnx__ModelProto *mp = onnx_model_new(&a);
    bool ok = mp != NULL;
    if (ok) {
        mp->doc_string = arena_printf(&a, "model %s from %s quantized to int8 (QDQ), ranges from "
                                      "%s; weights %s", q->ir->name,
                                      o->source_name ? o->source_name : "(unknown)",
                                      q->calibration, o->weights_origin ? o->weights_origin : "given");
        mp->graph = graph_build(&a, q);
        ok = mp->doc_string && mp->graph;
    }
    ok = onnx_model_write(out, ok ? mp : NULL);
    arena_free(&a);
    return ok;
}
