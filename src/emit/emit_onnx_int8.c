/* `nnc emit --target onnx --quantize int8`: the quantized network as a QDQ
 * ONNX model (opset 13), the form onnxruntime's quantization tools write:
 * every int8 value of nnc's QModel is a QuantizeLinear with nnc's scale and
 * zero point, every layer reads DequantizeLinear of its inputs, the weights
 * are int8 initializers (per output channel, axis 0) and the biases int32
 * ones, dequantized in the graph. onnxruntime computes between the Q and
 * DQ nodes in float (or fuses them into its own integer kernels), so its
 * int8 outputs may be one step from nnc's where the roundings differ
 * (tests/onnx/check_int8.py counts them). The graph: float "input" [N, in]
 * -> int8 "output" [N, out]. Dense layers, relu/sigmoid/tanh/identity/
 * dropout and softmax; other kinds are refused (onnx_int8_refusal). */
#include <string.h>

#include "nnc/emit.h"
#include "onnx/onnx.pb-c.h"
#include "onnx_emit.h"


typedef struct QdqWriter {
    Arena *a;
    const QModel *q;
    Onnx__GraphProto *g;
} QdqWriter;


const IrNode *emit_onnx_int8_refusal(const IrModel *m)
{
    for (size_t i = 1; i < m->n_nodes; i++) {
        OpKind k = m->nodes[i].op;
        bool ok = k == OP_DENSE || k == OP_RELU || k == OP_SIGMOID || k == OP_TANH ||
                  k == OP_IDENTITY || k == OP_DROPOUT || k == OP_SOFTMAX;
        if (!ok)
            return &m->nodes[i];
    }
    return NULL;
}

/* ---- tensors ------------------------------------------------------------ */

/* An initializer of type dt from n values (little-endian raw bytes of width
 * bytes each), shape dims[0..ndim). */
static const char *add_tensor(QdqWriter *wr, const char *name, int dt, const int64_t *dims,
                              size_t ndim, const void *v, size_t n, size_t width)
{
    Onnx__TensorProto *t = NEW_MSG(wr->a, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    int64_t *d = arena_array(wr->a, ndim ? ndim : 1, sizeof *d);
    uint8_t *bytes = arena_array(wr->a, n ? n * width : 1, 1);
    if (!t || !d || !bytes || !name)
        return NULL;
    if (ndim)
        memcpy(d, dims, ndim * sizeof *d); /* a scalar has no dims (NULL) */
    for (size_t k = 0; k < n; k++) {
        uint32_t u = 0;
        if (width == 1)
            u = (uint8_t)((const int8_t *)v)[k];
        else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            memcpy(&u, (const float *)v + k, 4);
        else
            u = (uint32_t)((const int32_t *)v)[k];
        for (size_t b = 0; b < width; b++)
            bytes[k * width + b] = (uint8_t)(u >> (8 * b));
    }
    t->name = (char *)name;
    t->n_dims = ndim;
    t->dims = d;
    t->has_data_type = true;
    t->data_type = dt;
    t->has_raw_data = true;
    t->raw_data = (ProtobufCBinaryData){n * width, bytes};
    wr->g->initializer[wr->g->n_initializer++] = t;
    return name;
}

static const char *add_scale(QdqWriter *wr, const char *name, float s)
{
    return add_tensor(wr, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0, &s, 1, 4);
}

static const char *add_zero(QdqWriter *wr, const char *name, int32_t z)
{
    int8_t v = (int8_t)z;
    return add_tensor(wr, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT8, NULL, 0, &v, 1, 1);
}

/* ---- nodes ------------------------------------------------------------ */

typedef struct Attr {
    const char *name;
    int64_t value;
    bool set;
} Attr;

static bool add_node(QdqWriter *wr, const char *op, const char *name, const char *const *in,
                     size_t n_in, const char *out, Attr attr)
{
    Onnx__NodeProto *n = NEW_MSG(wr->a, Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    char **ins = arena_array(wr->a, n_in, sizeof *ins), **outs = arena_array(wr->a, 1, sizeof *outs);
    Onnx__AttributeProto **attrs = arena_array(wr->a, 1, sizeof *attrs);
    if (!n || !ins || !outs || !attrs || !name || !out)
        return false;
    for (size_t k = 0; k < n_in; k++)
        if (!(ins[k] = (char *)in[k]))
            return false;
    if (attr.set) {
        Onnx__AttributeProto *at = NEW_MSG(wr->a, Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
        if (!at)
            return false;
        at->name = (char *)attr.name;
        at->has_type = at->has_i = true;
        at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        at->i = attr.value;
        attrs[0] = at;
    }
    outs[0] = (char *)out;
    n->op_type = (char *)op;
    n->name = (char *)name;
    n->n_input = n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->n_attribute = attr.set ? 1 : 0;
    n->attribute = attrs;
    wr->g->node[wr->g->n_node++] = n;
    return true;
}

static const Attr no_attr = {NULL, 0, false};

/* The int8 value node i writes (aliases: their source's), and its float
 * form through DequantizeLinear. */
static const char *q_name(QdqWriter *wr, size_t i)
{
    if (wr->q->nodes[i].kind == Q_ALIAS)
        i = wr->q->nodes[i].src;
    return i + 1 == wr->q->ir->n_nodes || &wr->q->nodes[i] == q8_output(wr->q)
        ? "output" : arena_printf(wr->a, "%s.q", wr->q->ir->nodes[i].name);
}

static const char *dq(QdqWriter *wr, size_t i, const char *label)
{
    const QNode *n = &wr->q->nodes[wr->q->nodes[i].kind == Q_ALIAS ? wr->q->nodes[i].src : i];
    const char *x = q_name(wr, i);
    const char *s = add_scale(wr, arena_printf(wr->a, "%s.%s.scale", label, x), n->out.scale);
    const char *z = add_zero(wr, arena_printf(wr->a, "%s.%s.zero", label, x), n->out.zero);
    const char *out = arena_printf(wr->a, "%s.%s.dq", label, x);
    const char *in[] = {x, s, z};
    return add_node(wr, "DequantizeLinear", out, in, 3, out, no_attr) ? out : NULL;
}

static bool quantize(QdqWriter *wr, size_t i, const char *y)
{
    const QNode *n = &wr->q->nodes[i];
    const char *name = wr->q->ir->nodes[i].name;
    const char *s = add_scale(wr, arena_printf(wr->a, "%s.out.scale", name), n->out.scale);
    const char *z = add_zero(wr, arena_printf(wr->a, "%s.out.zero", name), n->out.zero);
    const char *in[] = {y, s, z};
    return add_node(wr, "QuantizeLinear", arena_printf(wr->a, "%s.quantize", name), in, 3,
                    q_name(wr, i), no_attr);
}

/* W and b as int8 and int32 initializers, dequantized per output channel. */
static bool write_dense(QdqWriter *wr, size_t i, const char *x, const char *y)
{
    const QNode *qn = &wr->q->nodes[i];
    const QDense *d = &qn->dense;
    const char *name = wr->q->ir->nodes[i].name;
    int64_t wdims[2] = {(int64_t)d->units, (int64_t)d->in}, bdims[1] = {(int64_t)d->units};
    float *bs = arena_array(wr->a, d->units, sizeof *bs);
    int8_t *wz = arena_array(wr->a, d->units, 1);
    int32_t *bz = arena_array(wr->a, d->units, sizeof *bz);
    if (!bs || !wz || !bz)
        return false;
    float in_scale = wr->q->nodes[qn->src].out.scale;
    for (size_t c = 0; c < d->units; c++) {
        bs[c] = in_scale * d->w_scale[c]; /* as nnc quantized the bias */
        wz[c] = 0;
        bz[c] = 0;
    }
    const char *wq = add_tensor(wr, arena_printf(wr->a, "%s.weight.q", name),
                                ONNX__TENSOR_PROTO__DATA_TYPE__INT8, wdims, 2, d->weight,
                                d->units * d->in, 1);
    const char *ws = add_tensor(wr, arena_printf(wr->a, "%s.weight.scale", name),
                                ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, bdims, 1, d->w_scale,
                                d->units, 4);
    const char *wzn = add_tensor(wr, arena_printf(wr->a, "%s.weight.zero", name),
                                 ONNX__TENSOR_PROTO__DATA_TYPE__INT8, bdims, 1, wz, d->units, 1);
    const char *bq = add_tensor(wr, arena_printf(wr->a, "%s.bias.q", name),
                                ONNX__TENSOR_PROTO__DATA_TYPE__INT32, bdims, 1, d->bias,
                                d->units, 4);
    const char *bsn = add_tensor(wr, arena_printf(wr->a, "%s.bias.scale", name),
                                 ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, bdims, 1, bs, d->units, 4);
    const char *bzn = add_tensor(wr, arena_printf(wr->a, "%s.bias.zero", name),
                                 ONNX__TENSOR_PROTO__DATA_TYPE__INT32, bdims, 1, bz, d->units, 4);
    const char *wf = arena_printf(wr->a, "%s.weight", name), *bf = arena_printf(wr->a, "%s.bias", name);
    const char *win[] = {wq, ws, wzn}, *bin[] = {bq, bsn, bzn}, *gin[] = {x, wf, bf};
    Attr axis0 = {"axis", 0, true};
    return add_node(wr, "DequantizeLinear", wf, win, 3, wf, axis0) &&
           add_node(wr, "DequantizeLinear", bf, bin, 3, bf, axis0) &&
           add_node(wr, "Gemm", name, gin, 3, y, (Attr){"transB", 1, true});
}

static bool write_node(QdqWriter *wr, size_t i)
{
    const QNode *qn = &wr->q->nodes[i];
    const IrNode *n = &wr->q->ir->nodes[i];
    if (qn->kind == Q_ALIAS || qn->kind == Q_INPUT)
        return true;
    const char *x = dq(wr, qn->src, n->name);
    const char *y = arena_printf(wr->a, "%s.float", n->name);
    bool ok = x && y;
    if (qn->kind == Q_DENSE)
        ok = ok && write_dense(wr, i, x, y);
    else {
        const char *op = n->op == OP_SIGMOID ? "Sigmoid" : n->op == OP_TANH ? "Tanh"
                       : n->op == OP_SOFTMAX ? "Softmax" : "Relu";
        const char *in[] = {x};
        ok = ok && add_node(wr, op, n->name, in, 1, y,
                            n->op == OP_SOFTMAX ? (Attr){"axis", -1, true} : no_attr);
    }
    return ok && quantize(wr, i, y);
}

static Onnx__ValueInfoProto *value_info(Arena *a, const char *name, size_t units, int dt)
{
    Onnx__ValueInfoProto *v = NEW_MSG(a, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    Onnx__TypeProto *t = NEW_MSG(a, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt = NEW_MSG(a, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    Onnx__TensorShapeProto *sh = NEW_MSG(a, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    Onnx__TensorShapeProto__Dimension **dims = arena_array(a, 2, sizeof *dims);
    if (!v || !t || !tt || !sh || !dims)
        return NULL;
    for (int k = 0; k < 2; k++) {
        dims[k] = NEW_MSG(a, Onnx__TensorShapeProto__Dimension,
                          ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
        if (!dims[k])
            return NULL;
    }
    dims[0]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    dims[0]->dim_param = (char *)"N";
    dims[1]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dims[1]->dim_value = (int64_t)units;
    sh->n_dim = 2;
    sh->dim = dims;
    tt->has_elem_type = true;
    tt->elem_type = dt;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

enum { NODES_PER_OP = 8, INITS_PER_OP = 12 };

static Onnx__GraphProto *graph_build(Arena *a, const QModel *q)
{
    const IrModel *m = q->ir;
    Onnx__GraphProto *g = NEW_MSG(a, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    if (!g)
        return NULL;
    g->node = arena_array(a, NODES_PER_OP * m->n_nodes, sizeof *g->node);
    g->initializer = arena_array(a, INITS_PER_OP * m->n_nodes, sizeof *g->initializer);
    g->input = arena_array(a, 1, sizeof *g->input);
    g->output = arena_array(a, 1, sizeof *g->output);
    if (!g->node || !g->initializer || !g->input || !g->output)
        return NULL;
    g->name = (char *)m->name;
    g->input[0] = value_info(a, "input", m->in_units, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    g->output[0] = value_info(a, "output", m->out_units, ONNX__TENSOR_PROTO__DATA_TYPE__INT8);
    g->n_input = g->n_output = 1;
    QdqWriter wr = {a, q, g};
    const QNode *in = &q->nodes[0];
    const char *s = add_scale(&wr, "input.scale", in->out.scale);
    const char *z = add_zero(&wr, "input.zero", in->out.zero);
    const char *qin[] = {"input", s, z};
    if (!g->input[0] || !g->output[0] ||
        !add_node(&wr, "QuantizeLinear", "input.quantize", qin, 3, q_name(&wr, 0), no_attr))
        return NULL;
    for (size_t i = 1; i < m->n_nodes; i++)
        if (!write_node(&wr, i))
            return NULL;
    return g;
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
