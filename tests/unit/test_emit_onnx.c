/* --target onnx: small models are emitted into memory and decoded again
 * with protobuf-c, and the graph is checked field by field. Whether the
 * result runs in onnxruntime is tests/onnx/'s part. */
#include <math.h>
#include <stdint.h>

#include "nnc/emit.h"
#include "nnc/version.h"
#include "onnx/onnx.pb-c.h"
#include "support.h"

/* Every kind of node, all weights fixed, and a layer called "output" that is
 * not the last (its value must be renamed: "output" is the graph's). */
static const char *const EVERY_OP =
    "dataset d { x = [[1, 2]] }\n"
    "model Every {\n"
    "    input 2\n"
    "    output: dense 3, leaky_relu 0.2 {\n"
    "        weight = [[1, 2], [3, 4], [5, 6]]\n"
    "        bias = [0.5, -0.5, 0.25]\n"
    "    }\n"
    "    dropout 0.25\n"
    "    identity\n"
    "    tanh\n"
    "    gate: dense 2, step { weight = [[1, 0, -1], [0.5, 0.5, 0.5]]  bias = [0, -1] }\n"
    "    relu\n"
    "    sigmoid\n"
    "    probs: dense 2, softmax { weight = [[1, -1], [-1, 1]]  bias = [0, 0] }\n"
    "}\n"
    "evaluate Every on d\n";

typedef struct Emitted {
    Run run;
    Onnx__ModelProto *mp;
} Emitted;

/* Compiles text, emits its first model with the weights of its parameter
 * blocks, and decodes the bytes. */
static void emit_decode(Emitted *e, const char *text)
{
    IrProgram *p = run_compile(&e->run, text);
    cr_assert_not_null(p, "%s", run_output(&e->run));
    const IrModel *m = &p->models[0];
    /* Each node's tensors back to back, as EmitWeights wants them. */
    static float packed[16][1024];
    const float *params[16] = {0};
    cr_assert(m->n_nodes <= 16);
    for (size_t i = 0; i < m->n_nodes; i++) {
        IrParam ps[IR_MAX_PARAMS];
        size_t np = ir_node_params(&m->nodes[i], ps), used = 0;
        for (size_t k = 0; k < np; k++) {
            size_t size = ir_shape_size(&ps[k].shape);
            cr_assert(used + size <= 1024);
            /* Tensors without a parameter block get 1, 2, 3... (batchnorm's). */
            for (size_t v = 0; v < size; v++)
                packed[i][used + v] = m->nodes[i].param_init[k] ? m->nodes[i].param_init[k][v]
                                                                : (float)(v + 1);
            used += size;
        }
        params[i] = np ? packed[i] : NULL;
    }
    EmitWeights w = {params};
    EmitOptions o = {.source_name = "t.nn", .weights_origin = "fixed in the test"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert(emit_onnx(f, m, &w, &o));
    cr_assert_eq(fclose(f), 0);
    e->mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
    free(buf);
    cr_assert_not_null(e->mp, "the bytes do not decode as a ModelProto");
}

static void emitted_free(Emitted *e)
{
    onnx__model_proto__free_unpacked(e->mp, NULL);
    run_end(&e->run);
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t k = 0; k < n->n_attribute; k++)
        if (strcmp(n->attribute[k]->name, name) == 0)
            return n->attribute[k];
    return NULL;
}

static const Onnx__TensorProto *initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t k = 0; k < g->n_initializer; k++)
        if (strcmp(g->initializer[k]->name, name) == 0)
            return g->initializer[k];
    cr_assert_fail("no initializer '%s'", name);
    return NULL;
}

/* The k-th float of a raw_data tensor, read as little-endian. */
static float raw_float(const Onnx__TensorProto *t, size_t k)
{
    cr_assert(t->has_raw_data && t->raw_data.len >= 4 * (k + 1));
    const uint8_t *b = t->raw_data.data + 4 * k;
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void expect_value_info(const Onnx__ValueInfoProto *v, const char *name, int64_t units)
{
    cr_assert_str_eq(v->name, name);
    cr_assert_eq(v->type->value_case, ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE);
    const Onnx__TypeProto__Tensor *t = v->type->tensor_type;
    cr_assert_eq(t->elem_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    cr_assert_eq(t->shape->n_dim, 2);
    Onnx__TensorShapeProto__Dimension *const *dim = t->shape->dim;
    cr_assert_eq(dim[0]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
    cr_assert_str_eq(dim[0]->dim_param, "N");
    cr_assert_eq(dim[1]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE);
    cr_assert_eq(dim[1]->dim_value, units);
}

Test(emit_onnx, model_header)
{
    Emitted e;
    emit_decode(&e, EVERY_OP);
    cr_assert_eq(e.mp->ir_version, 7);
    cr_assert_eq(e.mp->n_opset_import, 1);
    cr_assert_str_eq(e.mp->opset_import[0]->domain, "");
    cr_assert_eq(e.mp->opset_import[0]->version, 13);
    cr_assert_str_eq(e.mp->producer_name, "nnc");
    cr_assert_str_eq(e.mp->producer_version, NNC_VERSION);
    cr_assert_str_eq(e.mp->graph->name, "Every");
    cr_assert_not_null(strstr(e.mp->doc_string, "t.nn"));
    cr_assert_not_null(strstr(e.mp->doc_string, "fixed in the test"));
    cr_assert_eq(e.mp->graph->n_input, 1);
    cr_assert_eq(e.mp->graph->n_output, 1);
    expect_value_info(e.mp->graph->input[0], "input", 2);
    expect_value_info(e.mp->graph->output[0], "output", 2);
    emitted_free(&e);
}

Test(emit_onnx, nodes_in_order)
{
    static const char *const want[][5] = {
        /* op, name, first input, second input, output */
        {"Gemm", "output", "input", "output.weight", "output.value"},
        {"LeakyRelu", "output.leaky_relu", "output.value", NULL, "output.leaky_relu"},
        {"Dropout", "dropout1", "output.leaky_relu", "dropout1.ratio", "dropout1"},
        {"Identity", "identity1", "dropout1", NULL, "identity1"},
        {"Tanh", "tanh1", "identity1", NULL, "tanh1"},
        {"Gemm", "gate", "tanh1", "gate.weight", "gate"},
        {"Greater", "gate.step.greater", "gate", "gate.step.zero", "gate.step.greater"},
        {"Cast", "gate.step", "gate.step.greater", NULL, "gate.step"},
        {"Relu", "relu1", "gate.step", NULL, "relu1"},
        {"Sigmoid", "sigmoid1", "relu1", NULL, "sigmoid1"},
        {"Gemm", "probs", "sigmoid1", "probs.weight", "probs"},
        {"Softmax", "probs.softmax", "probs", NULL, "output"},
    };
    Emitted e;
    emit_decode(&e, EVERY_OP);
    const Onnx__GraphProto *g = e.mp->graph;
    cr_assert_eq(g->n_node, sizeof want / sizeof want[0]);
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *n = g->node[k];
        cr_assert_str_eq(n->op_type, want[k][0], "node %zu", k);
        cr_assert_str_eq(n->name, want[k][1]);
        cr_assert_str_eq(n->input[0], want[k][2], "node %zu", k);
        cr_assert_eq(n->n_input > 1, want[k][3] != NULL, "node %zu", k);
        if (want[k][3])
            cr_assert_str_eq(n->input[1], want[k][3]);
        cr_assert_eq(n->n_output, 1);
        cr_assert_str_eq(n->output[0], want[k][4], "node %zu", k);
        cr_assert(n->domain == NULL || *n->domain == '\0');
    }
    emitted_free(&e);
}

Test(emit_onnx, attributes)
{
    Emitted e;
    emit_decode(&e, EVERY_OP);
    Onnx__NodeProto **n = e.mp->graph->node;
    const Onnx__AttributeProto *a = attr(n[0], "transB");
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->i == 1);
    cr_assert_eq(n[0]->n_attribute, 1, "Gemm: alpha, beta and transA keep their defaults");
    a = attr(n[1], "alpha");
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->f == 0.2f);
    cr_assert_eq(n[2]->n_attribute, 0, "Dropout: no training_mode, so inference");
    a = attr(n[7], "to");
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT &&
              a->i == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    a = attr(n[11], "axis");
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->i == -1);
    emitted_free(&e);
}

Test(emit_onnx, initializers)
{
    Emitted e;
    emit_decode(&e, EVERY_OP);
    const Onnx__GraphProto *g = e.mp->graph;
    /* three dense layers (weight, bias), the step's zero, the dropout's p */
    cr_assert_eq(g->n_initializer, 8);
    const Onnx__TensorProto *w = initializer(g, "output.weight");
    cr_assert_eq(w->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    cr_assert_eq(w->n_dims, 2);
    cr_assert(w->dims[0] == 3 && w->dims[1] == 2, "[units, in] as stored");
    cr_assert_eq(w->raw_data.len, 6 * 4);
    for (size_t k = 0; k < 6; k++)
        cr_assert_eq(raw_float(w, k), (float)(k + 1));
    const Onnx__TensorProto *b = initializer(g, "output.bias");
    cr_assert(b->n_dims == 1 && b->dims[0] == 3 && b->raw_data.len == 12);
    cr_assert(raw_float(b, 0) == 0.5f && raw_float(b, 1) == -0.5f && raw_float(b, 2) == 0.25f);
    const Onnx__TensorProto *gw = initializer(g, "gate.weight");
    cr_assert(gw->dims[0] == 2 && gw->dims[1] == 3 && raw_float(gw, 2) == -1.0f);
    const Onnx__TensorProto *zero = initializer(g, "gate.step.zero");
    cr_assert(zero->n_dims == 0 && raw_float(zero, 0) == 0.0f, "a scalar 0");
    const Onnx__TensorProto *ratio = initializer(g, "dropout1.ratio");
    cr_assert(ratio->n_dims == 0 && raw_float(ratio, 0) == 0.25f);
    cr_assert_eq(initializer(g, "probs.bias")->dims[0], 2);
    emitted_free(&e);
}

/* A write error is reported, not swallowed: the stream is read-only. */
Test(emit_onnx, write_failure)
{
    Run r;
    IrProgram *p = run_compile(&r, "dataset d { x = [[1]] }\nmodel M { input 1  sigmoid }\n"
                                   "evaluate M on d\n");
    cr_assert_not_null(p);
    const float *none[2] = {NULL, NULL};
    EmitWeights w = {none};
    EmitOptions o = {0};
    FILE *f = fopen("/dev/null", "r");
    cr_assert_not_null(f);
    cr_assert_not(emit_onnx(f, &p->models[0], &w, &o));
    fclose(f);
    run_end(&r);
}

/* The tensor layers and graph ops: a conv2d with every window argument
 * uneven, pooling with padding, batchnorm's arguments, add of three, concat,
 * a global pool; and a conv1d (one spatial axis). */
static const char *const GRAPH =
    "dataset d { x = [[0]] }\n"
    "model G {\n"
    "    input [2, 5, 5]\n"
    "    c: conv2d(4, kernel = [3, 2], stride = [2, 1], padding = [1, 0], dilation = [1, 2],\n"
    "              groups = 2, bias = false)\n"            /* [4, 3, 3] */
    "    p: avgpool2d(2, stride = 1, padding = 1)\n"       /* [4, 4, 4] */
    "    m: maxpool2d([2, 1], padding = [1, 0])\n"         /* [4, 3, 4] */
    "    bn: batchnorm(momentum = 0.25, eps = 0.001)\n"
    "    s: add(m, bn, bn)\n"
    "    k: concat(s, m)\n"                                 /* [8, 3, 4] */
    "    g: global_maxpool\n"                               /* [8] */
    "}\n"
    "model L {\n"
    "    input [1, 9]\n"
    "    c: conv1d(2, kernel = 3, stride = 2, padding = 1, dilation = 2)\n" /* [2, 4] */
    "    flatten\n"
    "}\n";

static void expect_ints(const Onnx__NodeProto *n, const char *name, size_t count,
                        const int64_t *want)
{
    const Onnx__AttributeProto *a = attr(n, name);
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "%s: no %s",
              n->name, name);
    cr_assert_eq(a->n_ints, count, "%s.%s", n->name, name);
    for (size_t k = 0; k < count; k++)
        cr_assert_eq(a->ints[k], want[k], "%s.%s[%zu]", n->name, name, k);
}

static void expect_int(const Onnx__NodeProto *n, const char *name, int64_t want)
{
    const Onnx__AttributeProto *a = attr(n, name);
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->i == want,
              "%s.%s", n->name, name);
}

Test(emit_onnx, graph_nodes)
{
    static const char *const want[][4] = {
        /* op, name, inputs (comma-separated), output */
        {"Conv", "c", "input,c.weight", "c"},
        {"AveragePool", "p", "c", "p"},
        {"MaxPool", "m", "p", "m"},
        {"BatchNormalization", "bn", "m,bn.weight,bn.bias,bn.running_mean,bn.running_var", "bn"},
        {"Add", "s.add1", "m,bn", "s.add1"},
        {"Add", "s", "s.add1,bn", "s"},
        {"Concat", "k", "s,m", "k"},
        {"GlobalMaxPool", "g.pooled", "k", "g.pooled"},
        {"Flatten", "g", "g.pooled", "output"},
    };
    Emitted e;
    emit_decode(&e, GRAPH);
    const Onnx__GraphProto *g = e.mp->graph;
    cr_assert_eq(g->n_node, sizeof want / sizeof want[0]);
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *n = g->node[k];
        char inputs[256] = "";
        for (size_t j = 0; j < n->n_input; j++)
            snprintf(inputs + strlen(inputs), sizeof inputs - strlen(inputs), "%s%s",
                     j ? "," : "", n->input[j]);
        cr_assert_str_eq(n->op_type, want[k][0], "node %zu", k);
        cr_assert_str_eq(n->name, want[k][1], "node %zu", k);
        cr_assert_str_eq(inputs, want[k][2], "node %zu", k);
        cr_assert_str_eq(n->output[0], want[k][3], "node %zu", k);
    }
    /* [N, 2, 5, 5] in, [N, 8] out */
    const Onnx__TensorShapeProto *in = g->input[0]->type->tensor_type->shape;
    cr_assert_eq(in->n_dim, 4);
    cr_assert_str_eq(in->dim[0]->dim_param, "N");
    cr_assert(in->dim[1]->dim_value == 2 && in->dim[2]->dim_value == 5 &&
              in->dim[3]->dim_value == 5);
    expect_value_info(g->output[0], "output", 8);
    /* no initializer for num_batches_tracked; conv weight [out, in/groups, kh, kw] */
    cr_assert_eq(g->n_initializer, 5);
    const Onnx__TensorProto *w = initializer(g, "c.weight");
    cr_assert(w->n_dims == 4 && w->dims[0] == 4 && w->dims[1] == 1 && w->dims[2] == 3 &&
              w->dims[3] == 2);
    cr_assert_eq(raw_float(initializer(g, "bn.running_var"), 3), 4.0f);
    emitted_free(&e);
}

Test(emit_onnx, graph_attributes)
{
    Emitted e;
    emit_decode(&e, GRAPH);
    Onnx__NodeProto **n = e.mp->graph->node;
    expect_ints(n[0], "kernel_shape", 2, (int64_t[]){3, 2});
    expect_ints(n[0], "strides", 2, (int64_t[]){2, 1});
    expect_ints(n[0], "pads", 4, (int64_t[]){1, 0, 1, 0});
    expect_ints(n[0], "dilations", 2, (int64_t[]){1, 2});
    expect_int(n[0], "group", 2);
    expect_ints(n[1], "kernel_shape", 2, (int64_t[]){2, 2});
    expect_ints(n[1], "strides", 2, (int64_t[]){1, 1});
    expect_ints(n[1], "pads", 4, (int64_t[]){1, 1, 1, 1});
    expect_int(n[1], "count_include_pad", 1);
    cr_assert_eq(n[1]->n_attribute, 4, "AveragePool: ceil_mode keeps its default 0");
    expect_ints(n[2], "kernel_shape", 2, (int64_t[]){2, 1});
    expect_ints(n[2], "strides", 2, (int64_t[]){2, 1});
    expect_ints(n[2], "pads", 4, (int64_t[]){1, 0, 1, 0});
    cr_assert_eq(n[2]->n_attribute, 3, "MaxPool: no dilations, no ceil_mode");
    const Onnx__AttributeProto *a = attr(n[3], "epsilon");
    cr_assert(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->f == 0.001f);
    a = attr(n[3], "momentum");
    cr_assert(a && a->f == 0.75f, "ONNX's momentum is 1 - PyTorch's");
    expect_int(n[6], "axis", 1);
    expect_int(n[8], "axis", 1);
    emitted_free(&e);
}

Test(emit_onnx, conv1d_attributes)
{
    Emitted e;
    emit_decode(&e, strstr(GRAPH, "model L")); /* the second model, alone */
    Onnx__NodeProto **n = e.mp->graph->node;
    cr_assert_eq(e.mp->graph->n_node, 2);
    cr_assert_str_eq(n[0]->op_type, "Conv");
    expect_ints(n[0], "kernel_shape", 1, (int64_t[]){3});
    expect_ints(n[0], "strides", 1, (int64_t[]){2});
    expect_ints(n[0], "pads", 2, (int64_t[]){1, 1});
    expect_ints(n[0], "dilations", 1, (int64_t[]){2});
    expect_int(n[0], "group", 1);
    cr_assert_eq(n[0]->n_input, 3, "x, weight, bias");
    cr_assert_str_eq(n[0]->input[2], "c.bias");
    cr_assert_str_eq(n[1]->op_type, "Flatten");
    expect_int(n[1], "axis", 1);
    const Onnx__TensorShapeProto *in = e.mp->graph->input[0]->type->tensor_type->shape;
    cr_assert(in->n_dim == 3 && in->dim[1]->dim_value == 1 && in->dim[2]->dim_value == 9);
    emitted_free(&e);
}

/* The dataset's preprocessing: metadata always; with raw_input, Mul by the
 * scale, Sub the shifts, Div by the divisors (+inf for a constant column)
 * in front of the first layer. */
Test(emit_onnx, preprocessing)
{
    Run r;
    IrProgram *p = run_compile(&r, "dataset d {\n    x = [[1, 5, 2], [3, 5, 6]]\n"
                                   "    scale = 0.5\n    normalize = minmax\n}\n"
                                   "model M {\n    input 3\n"
                                   "    out: dense 1 { weight = [[1, 2, 3]]  bias = [0] }\n}\n"
                                   "evaluate M on d\n");
    cr_assert_not_null(p, "%s", run_output(&r));
    const IrModel *m = &p->models[0];
    const float packed[4] = {1, 2, 3, 0}; /* out's weight, then its bias */
    const float *params[2] = {NULL, packed};
    EmitWeights w = {params};
    for (int raw = 0; raw < 2; raw++) {
        EmitOptions o = {.source_name = "t.nn", .preprocess = p->datasets[0].source,
                         .raw_input = raw};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        cr_assert_not_null(f);
        cr_assert(emit_onnx(f, m, &w, &o));
        cr_assert_eq(fclose(f), 0);
        Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
        free(buf);
        cr_assert_not_null(mp);
        const char *want[][2] = {
            {"nnc.preprocess.dataset", "d"}, {"nnc.preprocess.scale", "0.5"},
            {"nnc.preprocess.normalize", "minmax"},
            {"nnc.preprocess.shift", "[0.5, 2.5, 1]"}, /* min of the scaled columns */
            {"nnc.preprocess.divisor", "[1, 0, 2]"},   /* max - min */
        };
        cr_assert_eq(mp->n_metadata_props, 6);
        cr_assert_str_eq(mp->metadata_props[0]->key, "nnc.input");
        cr_assert_not_null(strstr(mp->metadata_props[0]->value, raw ? "raw" : "preprocessed"));
        for (size_t k = 0; k < 5; k++) {
            cr_assert_str_eq(mp->metadata_props[k + 1]->key, want[k][0]);
            cr_assert_str_eq(mp->metadata_props[k + 1]->value, want[k][1]);
        }
        const Onnx__GraphProto *g = mp->graph;
        cr_assert_eq(g->n_node, raw ? 4 : 1);
        cr_assert_str_eq(g->node[g->n_node - 1]->op_type, "Gemm");
        if (raw) {
            cr_assert_str_eq(g->node[0]->op_type, "Mul");
            cr_assert_str_eq(g->node[0]->input[0], "input");
            cr_assert_str_eq(g->node[1]->op_type, "Sub");
            cr_assert_str_eq(g->node[2]->op_type, "Div");
            cr_assert_str_eq(g->node[3]->input[0], "preprocess/normalized");
            cr_assert_eq(raw_float(initializer(g, "preprocess/scale"), 0), 0.5f);
            const Onnx__TensorProto *div = initializer(g, "preprocess/divisor");
            cr_assert(div->n_dims == 1 && div->dims[0] == 3);
            cr_assert(raw_float(div, 0) == 1.0f && isinf(raw_float(div, 1)) &&
                      raw_float(div, 2) == 2.0f, "a constant column divides by +inf");
        } else {
            cr_assert_str_eq(g->node[0]->input[0], "input");
        }
        onnx__model_proto__free_unpacked(mp, NULL);
    }
    run_end(&r);
}
