/* The ONNX emitter: the model's inference graph as one binary ModelProto
 * (IR version 7, opset 13, what onnxruntime and onnx.checker accept), the
 * weights as float initializers named like nnc's safetensors keys. The
 * message is built from protobuf-c's generated structs (ONNX's own
 * onnx.proto, third_party/onnx) in an Arena, so nothing is freed one by one
 * and an out-of-memory path cannot leak. */
#include <stdarg.h>
#include <string.h>

#include "nnc/emit.h"
#include "nnc/version.h"
#include "onnx/onnx.pb-c.h"

enum { ONNX_IR_VERSION = 7, ONNX_OPSET = 13 };

/* The graph under construction: nodes and initializers are appended to g,
 * whose arrays were sized for the worst case (graph_new). */
typedef struct OnnxWriter {
    Arena *a;
    const IrModel *m;
    const EmitWeights *w;
    Onnx__GraphProto *g;
} OnnxWriter;

/* A protobuf-c message in the arena, set to its INIT value (the descriptor
 * and the defaults): NEW_MSG(a, Onnx__NodeProto, ONNX__NODE_PROTO__INIT). */
#define NEW_MSG(a, type, init) ((type *)msg_copy((a), &(type)init, sizeof(type)))
static void *msg_copy(Arena *a, const void *init, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p)
        memcpy(p, init, size);
    return p;
}

/* ---- Values: names and types ----------------------------------------- */

/* The tensor node i of the model writes. The graph's ends are "input" and
 * "output"; in between, the node's own name, unless a layer is called
 * "input" or "output" (values must have unique names in ONNX). */
static const char *value_name(OnnxWriter *wr, size_t i)
{
    if (i == 0)
        return "input";
    if (i + 1 == wr->m->n_nodes)
        return "output";
    const char *name = wr->m->nodes[i].name;
    if (strcmp(name, "input") == 0 || strcmp(name, "output") == 0)
        return arena_printf(wr->a, "%s.value", name);
    return name;
}

static Onnx__TensorShapeProto__Dimension *dim_new(Arena *a, const char *param, int64_t value)
{
    Onnx__TensorShapeProto__Dimension *d =
        NEW_MSG(a, Onnx__TensorShapeProto__Dimension, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
    if (!d)
        return NULL;
    if (param) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = (char *)param;
    } else {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = value;
    }
    return d;
}

/* A float tensor [N, units]: N is symbolic, any batch size runs. */
static Onnx__ValueInfoProto *value_info_new(Arena *a, const char *name, size_t units)
{
    Onnx__ValueInfoProto *v = NEW_MSG(a, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    Onnx__TypeProto *t = NEW_MSG(a, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt =
        NEW_MSG(a, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    Onnx__TensorShapeProto *s = NEW_MSG(a, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    Onnx__TensorShapeProto__Dimension **dims = arena_array(a, 2, sizeof *dims);
    if (!v || !t || !tt || !s || !dims)
        return NULL;
    dims[0] = dim_new(a, "N", 0);
    dims[1] = dim_new(a, NULL, (int64_t)units);
    if (!dims[0] || !dims[1])
        return NULL;
    s->n_dim = 2;
    s->dim = dims;
    tt->has_elem_type = true;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

/* ---- Initializers ------------------------------------------------------ */

/* count floats as raw_data: little-endian IEEE 754 whatever the host, as
 * the format requires, so bytes are written one by one. */
static bool raw_floats(Arena *a, ProtobufCBinaryData *out, const float *v, size_t count)
{
    uint8_t *bytes = arena_array(a, count, 4);
    if (!bytes)
        return false;
    for (size_t k = 0; k < count; k++) {
        uint32_t u;
        memcpy(&u, &v[k], sizeof u);
        for (int b = 0; b < 4; b++)
            bytes[4 * k + (size_t)b] = (uint8_t)(u >> (8 * b));
    }
    out->data = bytes;
    out->len = count * 4;
    return true;
}

/* Appends a float initializer of shape dims[0..ndim) (ndim 0: a scalar). */
static bool add_initializer(OnnxWriter *wr, const char *name, const size_t *dims, size_t ndim,
                            const float *v)
{
    Onnx__TensorProto *t = NEW_MSG(wr->a, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    int64_t *d = arena_array(wr->a, ndim ? ndim : 1, sizeof *d);
    if (!t || !d || !name)
        return false;
    size_t count = 1;
    for (size_t k = 0; k < ndim; k++) {
        d[k] = (int64_t)dims[k];
        if (dims[k] && count > SIZE_MAX / 4 / dims[k])
            return false;
        count *= dims[k];
    }
    t->name = (char *)name;
    t->n_dims = ndim;
    t->dims = d;
    t->has_data_type = true;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_raw_data = raw_floats(wr->a, &t->raw_data, v, count);
    if (!t->has_raw_data)
        return false;
    wr->g->initializer[wr->g->n_initializer++] = t;
    return true;
}

/* ---- Nodes ------------------------------------------------------------- */

/* The one attribute a node may carry: no op nnc writes needs more. */
typedef struct NodeAttr {
    const char *name;
    bool is_float; /* FLOAT, else INT */
    double value;
} NodeAttr;

static Onnx__AttributeProto *attr_new(Arena *a, const NodeAttr *na)
{
    Onnx__AttributeProto *at = NEW_MSG(a, Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    if (!at)
        return NULL;
    at->name = (char *)na->name;
    at->has_type = true;
    if (na->is_float) {
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        at->has_f = true;
        at->f = (float)na->value;
    } else {
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        at->has_i = true;
        at->i = (int64_t)na->value;
    }
    return at;
}

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Appends node `name` = op(inputs[0..n_in)) -> output; attr is NULL when
 * the node has none. The count is explicit because a name may be NULL (an
 * allocation that failed), and that must fail rather than end the list. */
static bool add_node(OnnxWriter *wr, const char *op, const char *name, const char *const *inputs,
                     size_t n_in, const char *output, const NodeAttr *attr)
{
    Onnx__NodeProto *n = NEW_MSG(wr->a, Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    char **in = arena_array(wr->a, n_in, sizeof *in);
    char **out = arena_array(wr->a, 1, sizeof *out);
    Onnx__AttributeProto **attrs = arena_array(wr->a, 1, sizeof *attrs);
    if (!n || !in || !out || !attrs || !name || !output)
        return false;
    if (attr && !(attrs[0] = attr_new(wr->a, attr)))
        return false;
    for (size_t k = 0; k < n_in; k++)
        if (!(in[k] = (char *)inputs[k]))
            return false;
    out[0] = (char *)output;
    n->op_type = (char *)op;
    n->name = (char *)name;
    n->n_input = n_in;
    n->input = in;
    n->n_output = 1;
    n->output = out;
    n->n_attribute = attr ? 1 : 0;
    n->attribute = attrs;
    wr->g->node[wr->g->n_node++] = n;
    return true;
}

/* dense: Gemm(x, W, b) with transB = 1, because nnc stores W as [units][in]
 * (nn.Linear's layout) and the initializer keeps that layout unchanged. */
static bool write_dense(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *weight = arena_printf(wr->a, "%s.weight", n->name);
    const char *bias = arena_printf(wr->a, "%s.bias", n->name);
    size_t wdims[2] = {n->units, n->in_units};
    if (!add_initializer(wr, weight, wdims, 2, emit_param(wr->w, wr->m, i, 0)) ||
        !add_initializer(wr, bias, &n->units, 1, emit_param(wr->w, wr->m, i, 1)))
        return false;
    const char *inputs[] = {in, weight, bias};
    return add_node(wr, "Gemm", n->name, inputs, COUNT(inputs), out,
                    &(NodeAttr){"transB", false, 1});
}

/* step (1 if z > 0 else 0, the runtime's rule; NaN gives 0 in both):
 * Greater(z, 0) is a bool tensor, Cast makes it float again. */
static bool write_step(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const char *name = wr->m->nodes[i].name;
    const char *zero = arena_printf(wr->a, "%s.zero", name);
    const char *greater = arena_printf(wr->a, "%s.greater", name);
    static const float zero_value = 0.0f;
    if (!add_initializer(wr, zero, NULL, 0, &zero_value))
        return false;
    const char *gt_in[] = {in, zero};
    const char *cast_in[] = {greater};
    return add_node(wr, "Greater", greater, gt_in, COUNT(gt_in), greater, NULL) &&
           add_node(wr, "Cast", name, cast_in, COUNT(cast_in), out,
                    &(NodeAttr){"to", false, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT});
}

/* dropout: an ONNX Dropout node with its ratio rather than an Identity, so
 * the exported graph still shows the layer and its p. Without the
 * training_mode input it is the inference form, the identity, in
 * onnxruntime (which removes it when optimising) and to onnx.checker. The
 * ratio is an input since opset 12, hence the scalar initializer. */
static bool write_dropout(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *ratio = arena_printf(wr->a, "%s.ratio", n->name);
    const float p = (float)n->cfg.dropout.p;
    if (!add_initializer(wr, ratio, NULL, 0, &p))
        return false;
    const char *inputs[] = {in, ratio};
    return add_node(wr, "Dropout", n->name, inputs, COUNT(inputs), out, NULL);
}

/* gelu: opset 13 has no Gelu (opset 20 brings one), so the runtime's
 * formula in its order, five nodes: (x * 0.5) * (1 + Erf(x * (1/sqrt 2))). */
static bool write_gelu(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const char *name = wr->m->nodes[i].name;
    static const float half = 0.5f, one = 1.0f, inv_sqrt2 = (float)0.70710678118654752440;
    const char *k_half = arena_printf(wr->a, "%s.half", name);
    const char *k_one = arena_printf(wr->a, "%s.one", name);
    const char *k_alpha = arena_printf(wr->a, "%s.inv_sqrt2", name);
    const char *scaled = arena_printf(wr->a, "%s.scaled", name);
    const char *erf = arena_printf(wr->a, "%s.erf", name);
    const char *cdf2 = arena_printf(wr->a, "%s.one_plus_erf", name);
    const char *halfx = arena_printf(wr->a, "%s.half_x", name);
    if (!add_initializer(wr, k_half, NULL, 0, &half) || !add_initializer(wr, k_one, NULL, 0, &one) ||
        !add_initializer(wr, k_alpha, NULL, 0, &inv_sqrt2))
        return false;
    const char *mul_in[] = {in, k_alpha}, *erf_in[] = {scaled}, *add_in[] = {erf, k_one};
    const char *half_in[] = {in, k_half}, *out_in[] = {halfx, cdf2};
    return add_node(wr, "Mul", scaled, mul_in, 2, scaled, NULL) &&
           add_node(wr, "Erf", erf, erf_in, 1, erf, NULL) &&
           add_node(wr, "Add", cdf2, add_in, 2, cdf2, NULL) &&
           add_node(wr, "Mul", halfx, half_in, 2, halfx, NULL) &&
           add_node(wr, "Mul", name, out_in, 2, out, NULL);
}

/* z * f(z) as two nodes, f one ONNX op: silu (Sigmoid), hardswish
 * (HardSigmoid; HardSwish itself arrives in opset 14). */
static bool write_gated(OnnxWriter *wr, size_t i, const char *op, const NodeAttr *attr,
                        const char *in, const char *out)
{
    const char *name = wr->m->nodes[i].name;
    const char *gate = arena_printf(wr->a, "%s.gate", name);
    const char *gate_in[] = {in}, *mul_in[] = {in, gate};
    return gate && add_node(wr, op, gate, gate_in, 1, gate, attr) &&
           add_node(wr, "Mul", name, mul_in, 2, out, NULL);
}

/* relu6(z + 3) / 6 = HardSigmoid with alpha 1/6 (beta is its default 0.5). */
static const NodeAttr hardsigmoid_alpha = {"alpha", true, 1.0 / 6.0};

/* An activation that is one ONNX op: Relu, Sigmoid... */
static bool write_unary(OnnxWriter *wr, size_t i, const char *op, const char *in,
                        const char *out, const NodeAttr *attr)
{
    const char *inputs[] = {in};
    return add_node(wr, op, wr->m->nodes[i].name, inputs, COUNT(inputs), out, attr);
}

/* Every kind's ONNX form, attributes as the runtime's. */
static bool write_node(OnnxWriter *wr, size_t i)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *in = n->n_inputs ? value_name(wr, n->inputs[0]) : NULL;
    const char *out = value_name(wr, i);
    switch (n->op) {
    case OP_DENSE: return write_dense(wr, i, in, out);
    case OP_STEP: return write_step(wr, i, in, out);
    case OP_DROPOUT: return write_dropout(wr, i, in, out);
    case OP_RELU: return write_unary(wr, i, "Relu", in, out, NULL);
    case OP_SIGMOID: return write_unary(wr, i, "Sigmoid", in, out, NULL);
    case OP_TANH: return write_unary(wr, i, "Tanh", in, out, NULL);
    case OP_GELU: return write_gelu(wr, i, in, out);
    case OP_SILU: return write_gated(wr, i, "Sigmoid", NULL, in, out);
    case OP_HARDSWISH: return write_gated(wr, i, "HardSigmoid", &hardsigmoid_alpha, in, out);
    case OP_HARDSIGMOID: return write_unary(wr, i, "HardSigmoid", in, out, &hardsigmoid_alpha);
    case OP_ELU:
        return write_unary(wr, i, "Elu", in, out, &(NodeAttr){"alpha", true, n->cfg.elu.alpha});
    case OP_SOFTPLUS: /* log(e^z + 1); nnc's threshold at 20 differs by < 1 ulp */
        return write_unary(wr, i, "Softplus", in, out, NULL);
    case OP_IDENTITY: return write_unary(wr, i, "Identity", in, out, NULL);
    case OP_LEAKY_RELU:
        return write_unary(wr, i, "LeakyRelu", in, out,
                           &(NodeAttr){"alpha", true, n->cfg.leaky_relu.slope});
    case OP_SOFTMAX:
        /* opset 13's Softmax normalises along one axis: the units. */
        return write_unary(wr, i, "Softmax", in, out, &(NodeAttr){"axis", false, -1});
    case OP_INPUT: return true; /* the graph's input */
    EMIT_NOT_YET_CASES: return false; /* refused before (emit_first_unsupported) */
    }
    return false;
}

/* ---- The model --------------------------------------------------------- */

/* An empty graph with room for the worst case per IR node: five nodes and
 * three initializers (gelu). */
enum { NODES_PER_OP = 5, INITIALIZERS_PER_OP = 3 };
static Onnx__GraphProto *graph_new(Arena *a, const IrModel *m)
{
    Onnx__GraphProto *g = NEW_MSG(a, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    if (!g)
        return NULL;
    g->node = arena_array(a, NODES_PER_OP * m->n_nodes, sizeof *g->node);
    g->initializer = arena_array(a, INITIALIZERS_PER_OP * m->n_nodes, sizeof *g->initializer);
    g->input = arena_array(a, 1, sizeof *g->input);
    g->output = arena_array(a, 1, sizeof *g->output);
    if (!g->node || !g->initializer || !g->input || !g->output)
        return NULL;
    g->name = (char *)m->name;
    g->input[0] = value_info_new(a, "input", m->in_units);
    g->output[0] = value_info_new(a, "output", m->out_units);
    g->n_input = g->n_output = 1;
    return g->input[0] && g->output[0] ? g : NULL;
}

static Onnx__GraphProto *graph_build(Arena *a, const IrModel *m, const EmitWeights *w)
{
    OnnxWriter wr = {a, m, w, graph_new(a, m)};
    if (!wr.g)
        return NULL;
    for (size_t i = 1; i < m->n_nodes; i++)
        if (!write_node(&wr, i))
            return NULL;
    return wr.g;
}

static Onnx__ModelProto *model_build(Arena *a, const IrModel *m, const EmitWeights *w,
                                     const EmitOptions *o)
{
    Onnx__ModelProto *mp = NEW_MSG(a, Onnx__ModelProto, ONNX__MODEL_PROTO__INIT);
    Onnx__OperatorSetIdProto *opset =
        NEW_MSG(a, Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
    Onnx__OperatorSetIdProto **opsets = arena_array(a, 1, sizeof *opsets);
    if (!mp || !opset || !opsets)
        return NULL;
    opset->domain = (char *)""; /* the default domain, ai.onnx */
    opset->has_version = true;
    opset->version = ONNX_OPSET;
    opsets[0] = opset;
    mp->has_ir_version = true;
    mp->ir_version = ONNX_IR_VERSION;
    mp->n_opset_import = 1;
    mp->opset_import = opsets;
    mp->producer_name = (char *)"nnc";
    mp->producer_version = (char *)NNC_VERSION;
    mp->doc_string = arena_printf(a, "model %s from %s; weights %s", m->name,
                                  o->source_name ? o->source_name : "(unknown)",
                                  o->weights_origin ? o->weights_origin : "as given");
    mp->graph = graph_build(a, m, w);
    return mp->doc_string && mp->graph ? mp : NULL;
}

/* protobuf-c hands the encoding over in pieces; they go straight to the
 * file, so a model is never held twice in memory. */
typedef struct FileBuffer {
    ProtobufCBuffer base;
    FILE *out;
    bool failed;
} FileBuffer;

static void file_buffer_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    FileBuffer *fb = (FileBuffer *)b;
    if (!fb->failed && fwrite(data, 1, len, fb->out) != len)
        fb->failed = true;
}

bool emit_onnx(FILE *out, const IrModel *m, const EmitWeights *w, const EmitOptions *o)
{
    Arena a;
    arena_init(&a);
    Onnx__ModelProto *mp = model_build(&a, m, w, o);
    FileBuffer fb = {{file_buffer_append}, out, mp == NULL};
    if (mp)
        onnx__model_proto__pack_to_buffer(mp, &fb.base);
    arena_free(&a);
    return !fb.failed && !ferror(out);
}
