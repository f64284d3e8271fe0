/* What the two ONNX writers share (emit_onnx.c, the float model, and
 * emit_onnx_int8.c, the QDQ model): protobuf-c messages in an arena,
 * initializers, nodes and their attributes, value types, the float form of
 * every layer without weights (which the QDQ model puts between its
 * DequantizeLinear and QuantizeLinear nodes), the ModelProto's header, and
 * writing the encoding to a file. All of it lives in emit_onnx.c. */
#ifndef NNC_EMIT_ONNX_EMIT_H
#define NNC_EMIT_ONNX_EMIT_H

#include <stdbool.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "nnc/ir.h"
#include "onnx/onnx.pb-c.h"

/* A protobuf-c message in the arena, set to its INIT value (the descriptor
 * and the defaults): NEW_MSG(a, Onnx__NodeProto, ONNX__NODE_PROTO__INIT). */
#define NEW_MSG(a, type, init) ((type *)onnx_msg_copy((a), &(type)init, sizeof(type)))
void *onnx_msg_copy(Arena *a, const void *init, size_t size);

/* One attribute of a node: a float, an int, or a list of ints (a window's
 * kernel_shape, strides, pads, dilations). */
typedef enum AttrKind { ATTR_INT, ATTR_FLOAT, ATTR_INTS } AttrKind;

enum { ATTR_MAX_INTS = 4 }; /* pads of a 2-D window: h, w begin, then h, w end */

typedef struct NodeAttr {
    const char *name;
    AttrKind kind;
    double value;           /* ATTR_INT, ATTR_FLOAT */
    size_t n_ints;          /* ATTR_INTS */
    int64_t ints[ATTR_MAX_INTS];
} NodeAttr;

#define ATTR_I(name, v) ((NodeAttr){(name), ATTR_INT, (double)(v), 0, {0}})
#define ATTR_F(name, v) ((NodeAttr){(name), ATTR_FLOAT, (double)(v), 0, {0}})
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Appends node `name` = op(inputs[0..n_in)) -> output with n_attrs
 * attributes to g, whose node array has room. The count is explicit
 * because a name may be NULL (an allocation that failed), and that must
 * fail rather than end the list. */
bool onnx_add_node(Arena *a, Onnx__GraphProto *g, const char *op, const char *name,
                   const char *const *inputs, size_t n_in, const char *output,
                   const NodeAttr *attrs, size_t n_attrs);

/* Appends initializer `name` of ONNX type dt (FLOAT, INT32 or INT8) and
 * shape dims[0..ndim) (ndim 0: a scalar) from v, the values in that C
 * type; returns name, or NULL (out of memory, a NULL name). */
const char *onnx_add_tensor(Arena *a, Onnx__GraphProto *g, const char *name, int dt,
                            const size_t *dims, size_t ndim, const void *v);

/* A tensor of elem_type [N, shape...]: N is symbolic, any batch size
 * runs; the rest is one sample's shape (a vector [N, F], a sequence [N, C,
 * L], an image [N, C, H, W]), as the IR has it. */
Onnx__ValueInfoProto *onnx_value_info(Arena *a, const char *name, const IrShape *shape,
                                      int elem_type);

/* A conv node's kernel_shape, strides, pads, dilations and group. */
enum { ONNX_CONV_ATTRS = 5 };
size_t onnx_conv_attrs(const IrNode *n, NodeAttr attrs[ONNX_CONV_ATTRS]);

/* Node i of m in float, as --target onnx writes it, from the values named
 * inputs[0..n_inputs) to out: any kind without parameters (activations,
 * softmax, pools, flatten, add, concat...); false for one with weights or
 * when out of memory. Its nodes are named after the layer (NAME,
 * NAME.gate...), its constants NAME.SUFFIX. */
bool onnx_write_float_op(Arena *a, Onnx__GraphProto *g, const IrModel *m, size_t i,
                         const char *const *inputs, const char *out);

/* An empty ModelProto of nnc's IR version and opset (13, the default
 * domain), nnc as producer; NULL when out of memory. */
Onnx__ModelProto *onnx_model_new(Arena *a);

/* mp's encoding to out, piece by piece as protobuf-c hands it over (a
 * model is never held twice in memory); false for a NULL mp or a failed
 * write. */
bool onnx_model_write(FILE *out, const Onnx__ModelProto *mp);

#endif
