/* ONNX reader: protobuf-c decodes the bytes, then every message we need is
 * copied into Arena-owned plain structs and the protobuf tree is freed at
 * once. Every count and size from the file is checked before it is used,
 * because the file is untrusted input (tests/fuzz/fuzz_onnx.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/onnx.h"
#include "onnx/onnx.pb-c.h"

static bool fail(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return false;
}

const char *onnx_dtype_name(int dtype)
{
    static const char *const names[] = {
        "undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
        "int64", "string", "bool", "float16", "double", "uint32", "uint64",
        "complex64", "complex128", "bfloat16",
    };
    if (dtype >= 0 && (size_t)dtype < sizeof names / sizeof names[0])
        return names[dtype];
    return "unknown";
}

static const char *dup_or_empty(Arena *a, const char *s)
{
    return arena_strdup(a, s ? s : "");
}

/* raw_data is little-endian whatever the host; decode byte by byte. */
static uint64_t read_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool tensor_shape(const Onnx__TensorProto *t, OnnxTensor *out, char *err, size_t es)
{
    if (t->n_dims > ONNX_MAX_DIMS)
        return fail(err, es, "tensor '%s' has %zu dimensions (at most %d)",
                    t->name ? t->name : "", t->n_dims, ONNX_MAX_DIMS);
    out->ndim = t->n_dims;
    size_t count = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        int64_t v = t->dims[d];
        /* 2^32 elements is far beyond any tensor nnc handles; the cap keeps
         * the product and the byte sizes below from overflowing. */
        if (v < 0 || v > ((int64_t)1 << 32))
            return fail(err, es, "tensor dimension %zu is %lld", d, (long long)v);
        out->dims[d] = v;
        if (v != 0 && count > ((size_t)1 << 32) / (size_t)v)
            return fail(err, es, "tensor has too many elements");
        count *= (size_t)v;
    }
    out->count = count;
    return true;
}

static bool tensor_floats(Arena *a, const Onnx__TensorProto *t, OnnxTensor *out,
                          char *err, size_t es)
{
    size_t n = out->count;
    /* Sizes are checked before allocating: a few bytes of dims must not
     * make us allocate gigabytes (found by the fuzzer). */
    if (t->has_raw_data ? t->raw_data.len != n * 4 : t->n_float_data != n)
        return fail(err, es, "float tensor: %zu %s, shape needs %zu",
                    t->has_raw_data ? t->raw_data.len : t->n_float_data,
                    t->has_raw_data ? "bytes of raw_data" : "values", t->has_raw_data ? n * 4 : n);
    out->f = arena_array(a, n ? n : 1, sizeof(float));
    if (!out->f)
        return fail(err, es, "out of memory");
    if (t->has_raw_data) {
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)read_le(t->raw_data.data + 4 * i, 4);
            memcpy(&out->f[i], &bits, sizeof bits);
        }
        return true;
    }
    if (n) /* an empty tensor has float_data == NULL: memcpy must not see it */
        memcpy(out->f, t->float_data, n * sizeof(float));
    return true;
}

static bool tensor_ints(Arena *a, const Onnx__TensorProto *t, OnnxTensor *out,
                        char *err, size_t es)
{
    bool byte = out->dtype == ONNX_INT8 || out->dtype == ONNX_UINT8;
    size_t n = out->count, width = out->dtype == ONNX_INT64 ? 8 : byte ? 1 : 4;
    size_t have = out->dtype == ONNX_INT64 ? t->n_int64_data : t->n_int32_data;
    if (t->has_raw_data ? t->raw_data.len != n * width : have != n)
        return fail(err, es, "%s tensor: %zu %s, shape needs %zu", onnx_dtype_name(out->dtype),
                    t->has_raw_data ? t->raw_data.len : have,
                    t->has_raw_data ? "bytes of raw_data" : "values", t->has_raw_data ? n * width : n);
    out->i64 = arena_array(a, n ? n : 1, sizeof(int64_t));
    if (!out->i64)
        return fail(err, es, "out of memory");
    if (t->has_raw_data) {
        for (size_t i = 0; i < n; i++) {
            uint64_t v = read_le(t->raw_data.data + width * i, width);
            out->i64[i] = width == 8 ? (int64_t)v
                        : out->dtype == ONNX_INT8 ? (int64_t)(int8_t)(uint8_t)v
                        : out->dtype == ONNX_UINT8 ? (int64_t)v : (int64_t)(int32_t)(uint32_t)v;
        }
        return true;
    }
    for (size_t i = 0; i < n; i++)
        out->i64[i] = out->dtype == ONNX_INT64 ? t->int64_data[i] : t->int32_data[i];
    return true;
}

static bool convert_tensor(Arena *a, const Onnx__TensorProto *t, OnnxTensor *out,
                           char *err, size_t es)
{
    memset(out, 0, sizeof *out);
    out->name = dup_or_empty(a, t->name);
    out->dtype = t->has_data_type ? t->data_type : 0;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return fail(err, es, "tensor '%s' keeps its data in an external file", out->name);
    if (!tensor_shape(t, out, err, es))
        return false;
    switch (out->dtype) {
    case ONNX_FLOAT:
        return tensor_floats(a, t, out, err, es);
    case ONNX_INT8:  /* int8 and uint8 (the quantization tests): in int32_data or raw bytes */
    case ONNX_UINT8:
    case ONNX_INT32:
    case ONNX_INT64:
        return tensor_ints(a, t, out, err, es);
    default:
        return true; /* readable shape, data nnc does not use: f = i64 = NULL */
    }
}

static bool convert_attr(Arena *a, const Onnx__AttributeProto *p, OnnxAttr *out)
{
    out->name = dup_or_empty(a, p->name);
    out->kind = ONNX_ATTR_OTHER;
    /* ONNX's own enum, most of whose kinds nnc ignores: an int switch, so
     * -Wswitch-enum (meant for nnc's kinds) lets default: take the rest. */
    switch ((int)(p->has_type ? p->type : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        out->kind = ONNX_ATTR_FLOAT;
        out->f = p->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        out->kind = ONNX_ATTR_INT;
        out->i = p->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        out->kind = ONNX_ATTR_STRING;
        out->s = arena_strndup(a, p->s.data ? (const char *)p->s.data : "", p->s.len);
        return out->s != NULL;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        out->kind = ONNX_ATTR_INTS;
        out->n_ints = p->n_ints;
        out->ints = p->n_ints ? arena_array(a, p->n_ints, sizeof(int64_t)) : NULL;
        if (p->n_ints && !out->ints)
            return false;
        if (p->n_ints)
            memcpy((int64_t *)out->ints, p->ints, p->n_ints * sizeof(int64_t));
        break;
    default:
        break;
    }
    return out->name != NULL;
}

static const char **copy_names(Arena *a, char **names, size_t n)
{
    const char **out = arena_array(a, n ? n : 1, sizeof(char *));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = dup_or_empty(a, names[i])))
            return NULL;
    return out;
}

static bool convert_node(Arena *a, const Onnx__NodeProto *p, OnnxNode *out)
{
    out->op_type = dup_or_empty(a, p->op_type);
    out->domain = dup_or_empty(a, p->domain);
    out->inputs = copy_names(a, p->input, p->n_input);
    out->n_inputs = p->n_input;
    out->outputs = copy_names(a, p->output, p->n_output);
    out->n_outputs = p->n_output;
    out->attrs = arena_array(a, p->n_attribute ? p->n_attribute : 1, sizeof(OnnxAttr));
    out->n_attrs = p->n_attribute;
    if (!out->op_type || !out->domain || !out->inputs || !out->outputs || !out->attrs)
        return false;
    for (size_t i = 0; i < p->n_attribute; i++)
        if (!convert_attr(a, p->attribute[i], &out->attrs[i]))
            return false;
    return true;
}

static const char **value_names(Arena *a, Onnx__ValueInfoProto **v, size_t n)
{
    const char **out = arena_array(a, n ? n : 1, sizeof(char *));
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = dup_or_empty(a, v[i]->name)))
            return NULL;
    return out;
}

static bool convert_graph(Arena *a, const Onnx__GraphProto *g, OnnxModel *out,
                          char *err, size_t es)
{
    out->nodes = arena_array(a, g->n_node ? g->n_node : 1, sizeof(OnnxNode));
    out->initializers = arena_array(a, g->n_initializer ? g->n_initializer : 1,
                                    sizeof(OnnxTensor));
    out->inputs = value_names(a, g->input, g->n_input);
    out->outputs = value_names(a, g->output, g->n_output);
    if (!out->nodes || !out->initializers || !out->inputs || !out->outputs)
        return fail(err, es, "out of memory");
    out->n_inputs = g->n_input;
    out->n_outputs = g->n_output;
    for (size_t i = 0; i < g->n_node; i++, out->n_nodes++)
        if (!convert_node(a, g->node[i], &out->nodes[i]))
            return fail(err, es, "out of memory");
    for (size_t i = 0; i < g->n_initializer; i++, out->n_initializers++) {
        if (!convert_tensor(a, g->initializer[i], &out->initializers[i], err, es))
            return false;
    }
    return true;
}

bool onnx_read_model(Arena *a, const void *buf, size_t len, OnnxModel *out,
                     char *err, size_t es)
{
    memset(out, 0, sizeof *out);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m)
        return fail(err, es, "not a valid ONNX ModelProto");
    bool ok = true;
    out->ir_version = m->has_ir_version ? m->ir_version : 0;
    out->opset = 1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        bool default_domain = !o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx");
        if (default_domain && o->has_version)
            out->opset = o->version;
    }
    if (!m->graph)
        ok = fail(err, es, "the model has no graph");
    else
        ok = convert_graph(a, m->graph, out, err, es);
    onnx__model_proto__free_unpacked(m, NULL);
    return ok;
}

bool onnx_read_tensor(Arena *a, const void *buf, size_t len, OnnxTensor *out,
                      char *err, size_t es)
{
    memset(out, 0, sizeof *out);
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!t)
        return fail(err, es, "not a valid ONNX TensorProto");
    bool ok = convert_tensor(a, t, out, err, es);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return ok;
}

bool onnx_read_file(Arena *a, const char *path, void **buf, size_t *len,
                    char *err, size_t es)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, es, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap);
    while (data) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(data, cap * 2);
        if (!bigger) {
            free(data);
            data = NULL;
            break;
        }
        data = bigger;
        cap *= 2;
    }
    bool read_error = ferror(f);
    fclose(f);
    if (!data)
        return fail(err, es, "out of memory reading %s", path);
    if (read_error) {
        free(data);
        return fail(err, es, "cannot read %s", path);
    }
    if (!arena_adopt(a, data))
        return fail(err, es, "out of memory reading %s", path);
    *buf = data;
    *len = n;
    return true;
}

const OnnxAttr *onnx_attr(const OnnxNode *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

const OnnxTensor *onnx_initializer(const OnnxModel *m, const char *name)
{
    for (size_t i = 0; i < m->n_initializers; i++)
        if (!strcmp(m->initializers[i].name, name))
            return &m->initializers[i];
    return NULL;
}
