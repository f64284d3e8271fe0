/* The ONNX emitter: the model's inference graph as one binary ModelProto
 * (IR version 7, opset 13, what onnxruntime and onnx.checker accept), the
 * weights as float initializers named like nnc's safetensors keys. The
 * message is built from protobuf-c's generated structs (ONNX's own
 * onnx.proto, third_party/onnx) in an Arena, so nothing is freed one by one
 * and an out-of-memory path cannot leak. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nnc/emit.h"
#include "nnc/version.h"
#include "onnx/onnx.pb-c.h"
#include "onnx_emit.h"

enum { ONNX_IR_VERSION = 7, ONNX_OPSET = 13 };

/* The graph under construction: nodes and initializers are appended to g,
 * whose arrays were sized for the worst case (graph_new). */
typedef struct OnnxWriter {
    Arena *a;
    const IrModel *m;
    const EmitWeights *w;
    const EmitOptions *o;
    Onnx__GraphProto *g;
    const char *input;  /* the value node 0 stands for: "input", or the preprocessed one */
} OnnxWriter;

void *onnx_msg_copy(Arena *a, const void *init, size_t size)
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
        return wr->input;
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

Onnx__ValueInfoProto *onnx_value_info(Arena *a, const char *name, const IrShape *shape,
                                      int elem_type)
{
    Onnx__ValueInfoProto *v = NEW_MSG(a, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    Onnx__TypeProto *t = NEW_MSG(a, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt =
        NEW_MSG(a, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    Onnx__TensorShapeProto *s = NEW_MSG(a, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    Onnx__TensorShapeProto__Dimension **dims = arena_array(a, shape->rank + 1, sizeof *dims);
    if (!v || !t || !tt || !s || !dims)
        return NULL;
    dims[0] = dim_new(a, "N", 0);
    for (size_t d = 0; d < shape->rank; d++)
        if (!(dims[d + 1] = dim_new(a, NULL, (int64_t)shape->dim[d])))
            return NULL;
    if (!dims[0])
        return NULL;
    s->n_dim = shape->rank + 1;
    s->dim = dims;
    tt->has_elem_type = true;
    tt->elem_type = elem_type;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

/* ---- Initializers ------------------------------------------------------ */

/* The bytes of one element of a float, int32 or int8 tensor. */
static size_t elem_width(int dt)
{
    return dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT8 ? 1 : 4;
}

/* count values as raw_data: little-endian whatever the host, as the
 * format requires, so bytes are written one by one. */
static bool raw_values(Arena *a, ProtobufCBinaryData *out, int dt, const void *v, size_t count)
{
    size_t width = elem_width(dt);
    uint8_t *bytes = arena_array(a, count ? count : 1, width);
    if (!bytes)
        return false;
    for (size_t k = 0; k < count; k++) {
        uint32_t u;
        if (width == 1)
            u = (uint8_t)((const int8_t *)v)[k];
        else
            memcpy(&u, (const char *)v + 4 * k, sizeof u); /* float or int32 */
        for (size_t b = 0; b < width; b++)
            bytes[width * k + b] = (uint8_t)(u >> (8 * b));
    }
    out->data = bytes;
    out->len = count * width;
    return true;
}

const char *onnx_add_tensor(Arena *a, Onnx__GraphProto *g, const char *name, int dt,
                            const size_t *dims, size_t ndim, const void *v)
{
    Onnx__TensorProto *t = NEW_MSG(a, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    int64_t *d = arena_array(a, ndim ? ndim : 1, sizeof *d);
    if (!t || !d || !name)
        return NULL;
    size_t count = 1;
    for (size_t k = 0; k < ndim; k++) {
        d[k] = (int64_t)dims[k];
        if (dims[k] && count > SIZE_MAX / 4 / dims[k])
            return NULL;
        count *= dims[k];
    }
    t->name = (char *)name;
    t->n_dims = ndim;
    t->dims = d;
    t->has_data_type = true;
    t->data_type = dt;
    t->has_raw_data = raw_values(a, &t->raw_data, dt, v, count);
    if (!t->has_raw_data)
        return NULL;
    g->initializer[g->n_initializer++] = t;
    return name;
}

/* A float initializer of shape dims[0..ndim) (ndim 0: a scalar). */
static bool add_initializer(OnnxWriter *wr, const char *name, const size_t *dims, size_t ndim,
                            const float *v)
{
    return onnx_add_tensor(wr->a, wr->g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, ndim,
                           v) != NULL;
}

/* ---- Nodes ------------------------------------------------------------- */

static Onnx__AttributeProto *attr_new(Arena *a, const NodeAttr *na)
{
    Onnx__AttributeProto *at = NEW_MSG(a, Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    if (!at)
        return NULL;
    at->name = (char *)na->name;
    at->has_type = true;
    switch (na->kind) {
    case ATTR_FLOAT:
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        at->has_f = true;
        at->f = (float)na->value;
        break;
    case ATTR_INT:
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        at->has_i = true;
        at->i = (int64_t)na->value;
        break;
    case ATTR_INTS:
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        at->ints = arena_array(a, na->n_ints, sizeof *at->ints);
        if (!at->ints)
            return NULL;
        memcpy(at->ints, na->ints, na->n_ints * sizeof *at->ints);
        at->n_ints = na->n_ints;
        break;
    }
    return at;
}

bool onnx_add_node(Arena *a, Onnx__GraphProto *g, const char *op, const char *name,
                   const char *const *inputs, size_t n_in, const char *output,
                   const NodeAttr *attrs, size_t n_attrs)
{
    Onnx__NodeProto *n = NEW_MSG(a, Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    char **in = arena_array(a, n_in ? n_in : 1, sizeof *in);
    char **out = arena_array(a, 1, sizeof *out);
    Onnx__AttributeProto **at = arena_array(a, n_attrs ? n_attrs : 1, sizeof *at);
    if (!n || !in || !out || !at || !name || !output)
        return false;
    for (size_t k = 0; k < n_attrs; k++)
        if (!(at[k] = attr_new(a, &attrs[k])))
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
    n->n_attribute = n_attrs;
    n->attribute = at;
    g->node[g->n_node++] = n;
    return true;
}

static bool add_node_attrs(OnnxWriter *wr, const char *op, const char *name,
                           const char *const *inputs, size_t n_in, const char *output,
                           const NodeAttr *attrs, size_t n_attrs)
{
    return onnx_add_node(wr->a, wr->g, op, name, inputs, n_in, output, attrs, n_attrs);
}

/* A node with one attribute, or none (attr NULL). */
static bool add_node(OnnxWriter *wr, const char *op, const char *name, const char *const *inputs,
                     size_t n_in, const char *output, const NodeAttr *attr)
{
    return add_node_attrs(wr, op, name, inputs, n_in, output, attr, attr ? 1 : 0);
}

/* The node's parameter tensors with a shape (not batchnorm's scalar
 * num_batches_tracked, which inference never reads) as initializers named
 * NODE.SUFFIX, the safetensors keys of `nnc run --save`, in the layout the
 * runtime stores (nn.Linear's [out, in], nn.Conv2d's [out, in/groups, kh,
 * kw], which are also the layouts Gemm with transB and Conv read). Their
 * names go to names[0..) in declaration order; returns how many, or -1. */
static int add_param_initializers(OnnxWriter *wr, size_t i, const char *names[IR_MAX_PARAMS])
{
    const IrNode *n = &wr->m->nodes[i];
    IrParam ps[IR_MAX_PARAMS];
    size_t np = ir_node_params(n, ps);
    int count = 0;
    for (size_t k = 0; k < np; k++) {
        if (ps[k].shape.rank == 0)
            continue;
        const char *name = arena_printf(wr->a, "%s.%s", n->name, ps[k].suffix);
        if (!add_initializer(wr, name, ps[k].shape.dim, ps[k].shape.rank,
                             emit_param(wr->w, wr->m, i, k)))
            return -1;
        names[count++] = name;
    }
    return count;
}

/* dense: Gemm(x, W, b) with transB = 1, because nnc stores W as [units][in]
 * (nn.Linear's layout) and the initializer keeps that layout unchanged. */
static bool write_dense(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const char *p[IR_MAX_PARAMS];
    if (add_param_initializers(wr, i, p) != 2)
        return false;
    const char *inputs[] = {in, p[0], p[1]};
    return add_node(wr, "Gemm", wr->m->nodes[i].name, inputs, COUNT(inputs), out,
                    &ATTR_I("transB", 1));
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
                    &ATTR_I("to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT));
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
static const NodeAttr hardsigmoid_alpha = {"alpha", ATTR_FLOAT, 1.0 / 6.0, 0, {0}};

/* An activation that is one ONNX op: Relu, Sigmoid... */
static bool write_unary(OnnxWriter *wr, size_t i, const char *op, const char *in,
                        const char *out, const NodeAttr *attr)
{
    const char *inputs[] = {in};
    return add_node(wr, op, wr->m->nodes[i].name, inputs, COUNT(inputs), out, attr);
}

/* ---- Tensor layers and graph ops ---------------------------------------- */

/* A window's attributes over `axes` spatial axes (1: [C, L], 2: [C, H, W]),
 * in ONNX's order: kernel_shape, strides, pads (every axis's begin, then
 * every axis's end: nnc pads both sides alike), then dilations when asked.
 * A 1-D op keeps its window in [1] (IrWindow). Returns how many. */
static size_t window_attrs(const IrWindow *w, size_t axes, bool dilations, NodeAttr out[4])
{
    NodeAttr kernel = {"kernel_shape", ATTR_INTS, 0, axes, {0}};
    NodeAttr strides = {"strides", ATTR_INTS, 0, axes, {0}};
    NodeAttr pads = {"pads", ATTR_INTS, 0, 2 * axes, {0}};
    NodeAttr dil = {"dilations", ATTR_INTS, 0, axes, {0}};
    for (size_t a = 0, i = 2 - axes; a < axes; a++, i++) {
        kernel.ints[a] = (int64_t)w->kernel[i];
        strides.ints[a] = (int64_t)w->stride[i];
        pads.ints[a] = pads.ints[axes + a] = (int64_t)w->padding[i];
        dil.ints[a] = (int64_t)w->dilation[i];
    }
    out[0] = kernel, out[1] = strides, out[2] = pads, out[3] = dil;
    return dilations ? 4 : 3;
}

/* The spatial axes of the node's input: 1 for a sequence, 2 for an image. */
static size_t spatial_axes(const IrNode *n)
{
    return n->in_shape.rank - 1;
}

size_t onnx_conv_attrs(const IrNode *n, NodeAttr attrs[ONNX_CONV_ATTRS])
{
    size_t na = window_attrs(&n->cfg.conv.win, spatial_axes(n), true, attrs);
    attrs[na++] = ATTR_I("group", n->cfg.conv.groups);
    return na;
}

/* conv1d/conv2d: Conv(x, W[, B]) with nnc's window and groups; W is
 * [out, in/groups, k...] in both. */
static bool write_conv(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *p[IR_MAX_PARAMS];
    int np = add_param_initializers(wr, i, p);
    if (np != (n->cfg.conv.bias ? 2 : 1))
        return false;
    NodeAttr attrs[ONNX_CONV_ATTRS];
    size_t na = onnx_conv_attrs(n, attrs);
    const char *inputs[] = {in, p[0], np > 1 ? p[1] : NULL};
    return add_node_attrs(wr, "Conv", n->name, inputs, (size_t)np + 1, out, attrs, na);
}

/* Pooling as nn.MaxPool/AvgPool with ceil_mode false (ONNX's default too).
 * nnc's average counts the zero padding in the divisor (PyTorch's default
 * count_include_pad = True; ONNX's default is 0, so it is written). */
static bool write_pool(OnnxWriter *wr, size_t i, bool average, const char *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    NodeAttr attrs[4];
    size_t na = window_attrs(&n->cfg.pool.win, spatial_axes(n), false, attrs);
    if (average)
        attrs[na++] = ATTR_I("count_include_pad", 1);
    const char *inputs[] = {in};
    return add_node_attrs(wr, average ? "AveragePool" : "MaxPool", n->name, inputs, 1, out,
                          attrs, na);
}

/* Global pools keep ONNX's trailing 1s ([N, C, 1, 1]); nnc's output is the
 * vector [C], so a Flatten follows, carrying the node's name. */
static bool write_global_pool(OnnxWriter *wr, size_t i, const char *op, const char *in,
                              const char *out)
{
    const char *name = wr->m->nodes[i].name;
    const char *pooled = arena_printf(wr->a, "%s.pooled", name);
    const char *pool_in[] = {in}, *flat_in[] = {pooled};
    return add_node(wr, op, pooled, pool_in, 1, pooled, NULL) &&
           add_node(wr, "Flatten", name, flat_in, 1, out, &ATTR_I("axis", 1));
}

/* batchnorm in its inference form: the running statistics of the buffers.
 * ONNX's momentum weighs the old running value (PyTorch's the new batch),
 * so it is 1 - nnc's; inference never reads it, a converter might. */
static bool write_batchnorm(OnnxWriter *wr, size_t i, const char *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *p[IR_MAX_PARAMS];
    if (add_param_initializers(wr, i, p) != 4)
        return false;
    const char *inputs[] = {in, p[0], p[1], p[2], p[3]};
    NodeAttr attrs[] = {ATTR_F("epsilon", n->cfg.batchnorm.eps),
                        ATTR_F("momentum", 1.0 - n->cfg.batchnorm.momentum)};
    return add_node_attrs(wr, "BatchNormalization", n->name, inputs, COUNT(inputs), out, attrs,
                          COUNT(attrs));
}

/* add of k inputs: k - 1 binary Adds, left to right as the runtime sums
 * them (so the rounding is the same); the last carries the node's name,
 * the others NAME.add1, NAME.add2... */
static bool write_add(OnnxWriter *wr, size_t i, const char *const *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *acc = in[0];
    for (size_t k = 1; k < n->n_inputs; k++) {
        bool last = k + 1 == n->n_inputs;
        const char *step = last ? n->name : arena_printf(wr->a, "%s.add%zu", n->name, k);
        const char *inputs[] = {acc, in[k]};
        if (!add_node(wr, "Add", step, inputs, 2, last ? out : step, NULL))
            return false;
        acc = step;
    }
    return true;
}

/* concat joins the channels, axis 1 of [N, C, ...] (a vector's features). */
static bool write_concat(OnnxWriter *wr, size_t i, const char *const *in, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    return add_node(wr, "Concat", n->name, in, n->n_inputs, out, &ATTR_I("axis", 1));
}

/* Every kind's ONNX form, attributes as the runtime's, reading the values
 * named ins[0..n_inputs) (in: the first) and writing out. */
static bool write_op(OnnxWriter *wr, size_t i, const char *const *ins, const char *out)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *in = n->n_inputs ? ins[0] : NULL;
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
        return write_unary(wr, i, "Elu", in, out, &ATTR_F("alpha", n->cfg.elu.alpha));
    case OP_SOFTPLUS: /* log(e^z + 1); nnc's threshold at 20 differs by < 1 ulp */
        return write_unary(wr, i, "Softplus", in, out, NULL);
    case OP_IDENTITY: return write_unary(wr, i, "Identity", in, out, NULL);
    case OP_LEAKY_RELU:
        return write_unary(wr, i, "LeakyRelu", in, out,
                           &ATTR_F("alpha", n->cfg.leaky_relu.slope));
    case OP_SOFTMAX:
        /* opset 13's Softmax normalises along one axis: the units. */
        return write_unary(wr, i, "Softmax", in, out, &ATTR_I("axis", -1));
    case OP_CONV1D:
    case OP_CONV2D: return write_conv(wr, i, in, out);
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D: return write_pool(wr, i, false, in, out);
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D: return write_pool(wr, i, true, in, out);
    case OP_GLOBAL_AVGPOOL: return write_global_pool(wr, i, "GlobalAveragePool", in, out);
    case OP_GLOBAL_MAXPOOL: return write_global_pool(wr, i, "GlobalMaxPool", in, out);
    case OP_FLATTEN: return write_unary(wr, i, "Flatten", in, out, &ATTR_I("axis", 1));
    case OP_BATCHNORM: return write_batchnorm(wr, i, in, out);
    case OP_ADD: return write_add(wr, i, ins, out);
    case OP_CONCAT: return write_concat(wr, i, ins, out);
    case OP_INPUT: return true; /* the graph's input */
    }
    return false;
}

static bool write_node(OnnxWriter *wr, size_t i)
{
    const IrNode *n = &wr->m->nodes[i];
    const char *ins[IR_MAX_INPUTS];
    for (size_t k = 0; k < n->n_inputs; k++)
        ins[k] = value_name(wr, n->inputs[k]);
    return write_op(wr, i, ins, value_name(wr, i));
}

bool onnx_write_float_op(Arena *a, Onnx__GraphProto *g, const IrModel *m, size_t i,
                         const char *const *inputs, const char *out)
{
    IrParam ps[IR_MAX_PARAMS];
    if (ir_node_params(&m->nodes[i], ps) > 0)
        return false; /* its weights are the caller's to write */
    OnnxWriter wr = {a, m, NULL, NULL, g, "input"};
    return write_op(&wr, i, inputs, out);
}

/* ---- The input's preprocessing -------------------------------------------- */

/* The dataset's steps from raw features to the model's input, in
 * lower_data.c's order: x * scale, then (x - shift[j]) / div[j] with
 * normalize (0 for a constant column, div[j] == 0). */
static bool has_scale(const IrDataSource *d)
{
    return d && d->has_scale;
}

static bool has_norm(const IrDataSource *d)
{
    return d && d->normalize != NORM_NONE && d->norm_shift && d->norm_div;
}

static const char *norm_text(DataNorm n)
{
    switch (n) {
    case NORM_NONE: return "none";
    case NORM_MINMAX: return "minmax";
    case NORM_STANDARD: return "standard";
    }
    return "none";
}

/* --raw-input: Mul by the scale, Sub the shifts, Div by the divisors, in
 * front of the model; a constant column's divisor is +inf, so that its
 * value becomes 0 as in nnc (any finite x / inf is 0). The values are
 * per sample ([C, H, W] like the input) and broadcast over the batch. */
static bool write_preprocess(OnnxWriter *wr)
{
    const IrDataSource *d = wr->o->preprocess;
    const IrShape *shape = &wr->m->nodes[0].shape;
    size_t n = wr->m->in_units;
    const char *x = "input";
    if (has_scale(d)) {
        const float scale = (float)d->scale;
        const char *in[] = {x, "preprocess/scale"};
        if (!add_initializer(wr, in[1], NULL, 0, &scale) ||
            !add_node(wr, "Mul", "preprocess/scaled", in, 2, "preprocess/scaled", NULL))
            return false;
        x = "preprocess/scaled";
    }
    if (has_norm(d)) {
        float *shift = arena_array(wr->a, n, sizeof *shift);
        float *div = arena_array(wr->a, n, sizeof *div);
        if (!shift || !div)
            return false;
        for (size_t j = 0; j < n; j++) {
            shift[j] = (float)d->norm_shift[j];
            div[j] = d->norm_div[j] > 0 ? (float)d->norm_div[j] : INFINITY;
        }
        const char *sub_in[] = {x, "preprocess/shift"};
        const char *div_in[] = {"preprocess/shifted", "preprocess/divisor"};
        if (!add_initializer(wr, sub_in[1], shape->dim, shape->rank, shift) ||
            !add_initializer(wr, div_in[1], shape->dim, shape->rank, div) ||
            !add_node(wr, "Sub", "preprocess/shifted", sub_in, 2, div_in[0], NULL) ||
            !add_node(wr, "Div", "preprocess/normalized", div_in, 2, "preprocess/normalized",
                      NULL))
            return false;
        x = "preprocess/normalized";
    }
    wr->input = x;
    return true;
}

/* "[v0, v1, ...]" of n doubles, %.9g (float32 round-trips). */
static const char *json_numbers(Arena *a, const double *v, size_t n)
{
    size_t cap = 24 * n + 3, len = 0;
    char *buf = arena_alloc(a, cap);
    if (!buf)
        return NULL;
    buf[len++] = '[';
    for (size_t j = 0; j < n; j++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%.9g", j ? ", " : "", v[j]);
    snprintf(buf + len, cap - len, "]");
    return buf;
}

/* What the graph's input is, in one sentence for people. */
static const char *input_text(Arena *a, const IrModel *m, const EmitOptions *o)
{
    const IrDataSource *d = o->preprocess;
    char shape[96];
    ir_shape_text(&m->nodes[0].shape, shape, sizeof shape);
    const char *layout = arena_printf(a, "float32 [N, %s, one sample's %zu features%s", shape + 1,
                                      m->in_units,
                                      m->nodes[0].shape.rank > 1
                                          ? " channels first (feature k of a CSV row is element "
                                            "k of the sample flattened row-major)"
                                          : "");
    if (!d)
        return arena_printf(a, "%s, as given (no dataset in the file)", layout);
    if (o->raw_input || (!has_scale(d) && !has_norm(d)))
        return arena_printf(a, "%s: raw, as dataset '%s' has them before scale and normalize%s",
                            layout, d->name,
                            has_scale(d) || has_norm(d) ? "; the graph's preprocess/* nodes "
                                                          "apply them" : "");
    return arena_printf(a, "%s: preprocessed as dataset '%s' (raw x%s%s), as `nnc run` "
                        "evaluates them; nnc.preprocess.* gives the steps, and "
                        "`nnc emit --target onnx --raw-input` writes them into the graph",
                        layout, d->name, has_scale(d) ? " * nnc.preprocess.scale" : "",
                        has_norm(d) ? ", then (x - shift) / divisor per feature, 0 where the "
                                      "divisor is 0" : "");
}

/* metadata_props: what the input is (nnc.input) and the preprocessing's
 * numbers, so that a user of the model can prepare raw features. */
static bool add_metadata(Arena *a, Onnx__ModelProto *mp, const IrModel *m, const EmitOptions *o)
{
    const IrDataSource *d = o->preprocess;
    const char *kv[12];
    size_t n = 0;
    kv[n++] = "nnc.input", kv[n++] = input_text(a, m, o);
    if (d) {
        kv[n++] = "nnc.preprocess.dataset", kv[n++] = d->name;
        kv[n++] = "nnc.preprocess.scale";
        kv[n++] = arena_printf(a, "%.17g", has_scale(d) ? d->scale : 1.0);
        kv[n++] = "nnc.preprocess.normalize", kv[n++] = norm_text(has_norm(d) ? d->normalize
                                                                              : NORM_NONE);
        if (has_norm(d)) {
            kv[n++] = "nnc.preprocess.shift";
            kv[n++] = json_numbers(a, d->norm_shift, d->x_cols);
            kv[n++] = "nnc.preprocess.divisor";
            kv[n++] = json_numbers(a, d->norm_div, d->x_cols);
        }
    }
    mp->metadata_props = arena_array(a, n / 2, sizeof *mp->metadata_props);
    if (!mp->metadata_props)
        return false;
    for (size_t k = 0; k < n; k += 2) {
        Onnx__StringStringEntryProto *e =
            NEW_MSG(a, Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
        if (!e || !kv[k + 1])
            return false;
        e->key = (char *)kv[k];
        e->value = (char *)kv[k + 1];
        mp->metadata_props[mp->n_metadata_props++] = e;
    }
    return true;
}

/* ---- What ONNX can express -------------------------------------------- */

/* Whether opset 13 has a form for the kind (write_node's): every kind nnc
 * has today, so --target onnx refuses no model. The switch lists every
 * kind, so a new one does not build until it is placed here, and one
 * without an ONNX form is then refused by name (main.c), before any
 * training and with nothing written. */
static bool onnx_has_form(OpKind k)
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

/* Size is no limit: protobuf refuses messages of 2 GiB, and the front end
 * caps a model at 2^28 parameters (1 GiB of float32). */
const IrNode *emit_onnx_unsupported(const IrModel *m, char *why, size_t size)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (!onnx_has_form(m->nodes[i].op)) {
            snprintf(why, size, "ONNX opset %d has no operator for it", ONNX_OPSET);
            return &m->nodes[i];
        }
    }
    return NULL;
}

/* ---- The model --------------------------------------------------------- */

/* An empty graph with room for the worst case per IR node: five nodes
 * (gelu) or one per input (add), and three initializers (gelu) or one per
 * parameter tensor (batchnorm). */
enum { NODES_PER_OP = 5, INITIALIZERS_PER_OP = 3 };
static Onnx__GraphProto *graph_new(Arena *a, const IrModel *m)
{
    Onnx__GraphProto *g = NEW_MSG(a, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    if (!g)
        return NULL;
    size_t nodes = 3, inits = 3; /* --raw-input's Mul, Sub, Div */
    for (size_t i = 0; i < m->n_nodes; i++) {
        nodes += NODES_PER_OP + m->nodes[i].n_inputs;
        inits += INITIALIZERS_PER_OP + IR_MAX_PARAMS;
    }
    g->node = arena_array(a, nodes, sizeof *g->node);
    g->initializer = arena_array(a, inits, sizeof *g->initializer);
    g->input = arena_array(a, 1, sizeof *g->input);
    g->output = arena_array(a, 1, sizeof *g->output);
    if (!g->node || !g->initializer || !g->input || !g->output)
        return NULL;
    g->name = (char *)m->name;
    g->input[0] = onnx_value_info(a, "input", &m->nodes[0].shape, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    g->output[0] = onnx_value_info(a, "output", &m->nodes[m->n_nodes - 1].shape,
                                  ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    g->n_input = g->n_output = 1;
    return g->input[0] && g->output[0] ? g : NULL;
}

static Onnx__GraphProto *graph_build(Arena *a, const IrModel *m, const EmitWeights *w,
                                     const EmitOptions *o)
{
    OnnxWriter wr = {a, m, w, o, graph_new(a, m), "input"};
    if (!wr.g || (o->raw_input && !write_preprocess(&wr)))
        return NULL;
    for (size_t i = 1; i < m->n_nodes; i++)
        if (!write_node(&wr, i))
            return NULL;
    return wr.g;
}

Onnx__ModelProto *onnx_model_new(Arena *a)
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
    return mp;
}

static Onnx__ModelProto *model_build(Arena *a, const IrModel *m, const EmitWeights *w,
                                     const EmitOptions *o)
{
    Onnx__ModelProto *mp = onnx_model_new(a);
    if (!mp)
        return NULL;
    mp->doc_string = arena_printf(a, "model %s from %s; weights %s", m->name,
                                  o->source_name ? o->source_name : "(unknown)",
                                  o->weights_origin ? o->weights_origin : "as given");
    mp->graph = graph_build(a, m, w, o);
    return mp->doc_string && mp->graph && add_metadata(a, mp, m, o) ? mp : NULL;
}

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

bool onnx_model_write(FILE *out, const Onnx__ModelProto *mp)
{
    FileBuffer fb = {{file_buffer_append}, out, mp == NULL};
    if (mp)
        onnx__model_proto__pack_to_buffer(mp, &fb.base);
    return !fb.failed && !ferror(out);
}

bool emit_onnx(FILE *out, const IrModel *m, const EmitWeights *w, const EmitOptions *o)
{
    Arena a;
    arena_init(&a);
    bool ok = onnx_model_write(out, model_build(&a, m, w, o));
    arena_free(&a);
    return ok;
}
