/* The C emitter's own parts (emit_c*.c): the writer, the activation
 * buffer plan, and the code and weight writers of each op. Nothing outside
 * src/emit/emit_c*.c includes this. */
#ifndef NNC_C_EMIT_H
#define NNC_C_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nnc/emit.h"

/* Where a value lives while the forward pass runs: the caller's input or
 * output array, or one of the file's static activation buffers. */
typedef enum CStore { STORE_IN, STORE_OUT, STORE_BUF } CStore;

/* How node i's code is written. */
typedef enum CNodeKind {
    NODE_WRITES,   /* computes its output into its own storage */
    NODE_IN_PLACE, /* elementwise or add: overwrites an input's storage */
    NODE_ALIAS,    /* no code: its value is its input's (flatten, dropout,
                      identity, a batchnorm folded into its input) */
} CNodeKind;

/* The forward pass's memory, planned from the IR by liveness: values that
 * are never live at the same time share a buffer, each buffer as large as
 * its largest value. */
typedef struct CPlan {
    CNodeKind *kind;   /* per node */
    size_t *group;     /* per node: the node whose write started its storage */
    CStore *store;     /* per group root */
    size_t *buf;       /* per group root with STORE_BUF: its buffer */
    size_t *fold;      /* per node: the batchnorm folded into its weights, or 0 */
    size_t *buf_units; /* per buffer: its size in floats */
    size_t n_bufs;
} CPlan;

typedef struct Emitter {
    FILE *out;
    const IrModel *m;
    const EmitWeights *w;
    const EmitOptions *o;
    CPlan plan;
    char upper[128]; /* the prefix in upper case, for constants */
} Emitter;

void c_put(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The shortest decimal that reads back as exactly v, with an f suffix. */
void c_put_float(Emitter *e, float v);
/* Node n's name as a C identifier (layer1.relu -> layer1_relu). */
void c_node_ident(const IrNode *n, char *buf, size_t size);

/* Plans m's buffers (arrays from arena a); false when out of memory. fold:
 * batchnorms that directly follow a dense or conv read only by them go
 * into that layer's weights. */
bool c_plan(Arena *a, const IrModel *m, bool fold, CPlan *p);
size_t c_plan_ram_floats(const CPlan *p);
/* The C expression of the array node i's value lives in: "in", "out", or
 * "PREFIX_bufK". */
void c_value_array(const Emitter *e, size_t i, char *buf, size_t size);

/* The static const arrays of node i (with a batchnorm folded in where the
 * plan says so). */
void c_emit_node_arrays(Emitter *e, size_t i);
/* Node i's statements in the forward pass. */
void c_emit_node_code(Emitter *e, size_t i);
/* Whether node i (a wide dense layer) applies node i + 1, the activation
 * that overwrites its output, in its own last loop. */
bool c_fuses_next(const Emitter *e, size_t i);
/* The static functions the model's ops need (sigmoid, hardswish). */
void c_emit_helpers(Emitter *e);

/* NAME_preprocess: the training data's scale and normalize (emit_c.c),
 * shared by the int8 file (emit_c_int8.c). */
void emit_preprocess(Emitter *e);

/* A batchnorm's per-channel multiplier weight / sqrt(running_var + eps),
 * computed as the runtime computes it (so both round alike). */
float c_batchnorm_scale(const IrModel *m, const EmitWeights *w, size_t bn, size_t ch);

#endif
