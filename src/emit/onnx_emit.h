/* What the two ONNX writers share (emit_onnx.c, the float model, and
 * emit_onnx_int8.c, the QDQ model): protobuf-c messages in an arena, the
 * ModelProto's header, and writing the encoding to a file. */
#ifndef NNC_EMIT_ONNX_EMIT_H
#define NNC_EMIT_ONNX_EMIT_H

#include <stdbool.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "onnx/onnx.pb-c.h"

/* A protobuf-c message in the arena, set to its INIT value (the descriptor
 * and the defaults): NEW_MSG(a, Onnx__NodeProto, ONNX__NODE_PROTO__INIT). */
#define NEW_MSG(a, type, init) ((type *)onnx_msg_copy((a), &(type)init, sizeof(type)))
void *onnx_msg_copy(Arena *a, const void *init, size_t size);

/* An empty ModelProto of nnc's IR version and opset (13, the default
 * domain), nnc as producer; NULL when out of memory. */
Onnx__ModelProto *onnx_model_new(Arena *a);

/* mp's encoding to out, piece by piece as protobuf-c hands it over (a
 * model is never held twice in memory); false for a NULL mp or a failed
 * write. */
bool onnx_model_write(FILE *out, const Onnx__ModelProto *mp);

#endif
