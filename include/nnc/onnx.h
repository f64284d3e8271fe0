/* Reading ONNX files (ModelProto and TensorProto) into plain structs that
 * live in an Arena. The protobuf decoding is protobuf-c's, generated from
 * the vendored third_party/onnx/onnx.proto (ONNX 1.12); nothing outside
 * src/onnx/ and the ONNX writer (src/emit/emit_onnx.c) sees a protobuf
 * type. Linked into build/nnc; used by the conformance runner and its
 * fuzzer. */
#ifndef NNC_ONNX_H
#define NNC_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nnc/arena.h"

/* TensorProto.DataType values used by nnc; others keep their number. */
enum {
    ONNX_FLOAT = 1,
    ONNX_UINT8 = 2,
    ONNX_INT8 = 3,
    ONNX_INT32 = 6,
    ONNX_INT64 = 7,
    ONNX_DOUBLE = 11,
};

enum { ONNX_MAX_DIMS = 8 };

typedef struct OnnxTensor {
    const char *name;      /* "" when the file gives none */
    int dtype;             /* ONNX_FLOAT, ONNX_INT64, ... */
    size_t ndim;
    int64_t dims[ONNX_MAX_DIMS];
    size_t count;          /* product of dims; 1 for a scalar */
    /* ONNX_FLOAT: f holds count values. ONNX_INT8/UINT8/INT32/INT64: i64 does. Both
     * are NULL for other types (the dtype says what nnc cannot read). */
    float *f;
    int64_t *i64;
} OnnxTensor;

typedef enum OnnxAttrKind {
    ONNX_ATTR_OTHER,       /* graphs, tensors, lists of floats... */
    ONNX_ATTR_FLOAT,
    ONNX_ATTR_INT,
    ONNX_ATTR_STRING,
    ONNX_ATTR_INTS,
} OnnxAttrKind;

typedef struct OnnxAttr {
    const char *name;
    OnnxAttrKind kind;
    float f;
    int64_t i;
    const char *s;         /* NUL-terminated copy */
    const int64_t *ints;
    size_t n_ints;
} OnnxAttr;

typedef struct OnnxNode {
    const char *op_type;
    const char *domain;    /* "" for the default (ai.onnx) domain */
    const char **inputs;   /* "" marks an omitted optional input */
    size_t n_inputs;
    const char **outputs;
    size_t n_outputs;
    OnnxAttr *attrs;
    size_t n_attrs;
} OnnxNode;

typedef struct OnnxModel {
    int64_t ir_version;
    int64_t opset;         /* version of the default domain; 1 when absent */
    OnnxNode *nodes;       /* in file order (ONNX requires topological) */
    size_t n_nodes;
    OnnxTensor *initializers;
    size_t n_initializers;
    const char **inputs;   /* graph inputs, initializers included (IR < 4) */
    size_t n_inputs;
    const char **outputs;
    size_t n_outputs;
} OnnxModel;

/* Decode a serialized ModelProto / TensorProto. On failure return false
 * with a one-line reason in err (never exits; any bytes are safe). */
bool onnx_read_model(Arena *a, const void *buf, size_t len, OnnxModel *out,
                     char *err, size_t err_size);
bool onnx_read_tensor(Arena *a, const void *buf, size_t len, OnnxTensor *out,
                      char *err, size_t err_size);

/* Reads a whole file into the arena; false (reason in err) when it cannot. */
bool onnx_read_file(Arena *a, const char *path, void **buf, size_t *len,
                    char *err, size_t err_size);

/* Lookups; NULL when absent. */
const OnnxAttr *onnx_attr(const OnnxNode *n, const char *name);
const OnnxTensor *onnx_initializer(const OnnxModel *m, const char *name);
/* A dtype's name for messages: "float", "int64", "uint8", ... */
const char *onnx_dtype_name(int dtype);

#endif
