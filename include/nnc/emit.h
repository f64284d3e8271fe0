/* Emitters: from a checked model and its weights to a deployable artefact.
 * Emitters read the IR and plain float arrays; they never see the runtime. */
#ifndef NNC_EMIT_H
#define NNC_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/ir.h"
#include "nnc/quant.h"

typedef struct EmitOptions {
    const char *prefix;         /* C identifier prefix: NAME_forward */
    const char *source_name;    /* the .nn file, for the comment header */
    const char *weights_origin; /* how the weights were obtained, one line */
    const char *header_name;    /* when set, the .c includes this header */
    bool with_main;             /* add a main() that reads CSV rows on stdin */
    /* The dataset the model's input comes from (its train block's, else its
     * evaluate's), whose scale and normalize turn raw features into the
     * model's input; NULL when there is none. */
    const IrDataSource *preprocess;
    /* --target onnx --raw-input: the graph takes raw features and starts
     * with preprocess's steps (Mul, Sub, Div). */
    bool raw_input;
    /* --target c: write a batchnorm as its own op even where it could be
     * folded into the dense or conv before it (bit for bit with `nnc run`) */
    bool keep_batchnorm;
} EmitOptions;

/* Per node of the model: params[i] holds node i's parameter tensors in
 * ir_node_params' order, back to back (dense: weight [units][in_units],
 * then bias [units]); NULL for nodes without parameters. */
typedef struct EmitWeights {
    const float *const *params;
} EmitWeights;

/* Where tensor k of node i starts in w->params[i]. */
const float *emit_param(const EmitWeights *w, const IrModel *m, size_t i, size_t k);

/* Dense layers with at most this many weights are written out as straight-
 * line sums; wider ones as constant-bound loops the compiler can vectorise. */
enum { EMIT_UNROLL_MAX_WEIGHTS = 256 };

/* The default prefix for a model: its name in lower case, made a valid C
 * identifier. Allocated in arena a. */
const char *emit_default_prefix(Arena *a, const IrModel *m);
/* true when the model's output is a class decision (predict() is emitted):
 * one sigmoid/step unit or logit (IrModel.logit_output), or several outputs
 * compared by argmax. */
bool emit_is_classifier(const IrModel *m);

/* false (with the layer's name) when a weight is NaN or infinite: such a
 * network cannot be written as C constants. */
bool emit_weights_finite(const IrModel *m, const EmitWeights *w, const char **bad_layer);

/* The first node --target c cannot write (an array too large for the
 * emitted code's int indices), with the reason in why; NULL when the whole
 * model can be written. Checked on the IR, before any weights exist. */
const IrNode *emit_c_refusal(const IrModel *m, char *why, size_t size);

/* One standalone C99 file; returns false when writing failed. */
bool emit_c(FILE *out, const IrModel *m, const EmitWeights *w, const EmitOptions *o);
/* The matching header with the API and the size constants. */
bool emit_c_header(FILE *out, const IrModel *m, const EmitOptions *o);

/* The first node of m that --target onnx cannot write, with why (a
 * sentence naming the limit) in why[0..size), or NULL when every node can
 * be written. Checked before any training, so nothing is written then. */
const IrNode *emit_onnx_unsupported(const IrModel *m, char *why, size_t size);

/* --quantize int8: one standalone C99 file running the quantized network q
 * in integers only (<stdint.h>, no float in NAME_forward), and its header;
 * o->preprocess gives NAME_preprocess as for emit_c. false when writing failed. */
bool emit_c_int8(FILE *out, const QModel *q, const EmitOptions *o);
bool emit_c_int8_header(FILE *out, const QModel *q, const EmitOptions *o);

/* --target onnx --quantize int8: q as a QDQ model (opset 13): float input,
 * int8 output, nnc's scales and zero points on every value, int8 weights
 * per output channel and int32 biases. The first node it cannot write
 * (dense, relu, sigmoid, tanh, identity, dropout and softmax only), or
 * NULL. */
const IrNode *emit_onnx_int8_refusal(const IrModel *m);
bool emit_onnx_int8(FILE *out, const QModel *q, const EmitOptions *o);

/* --target onnx: the inference graph (opset 13) with the weights as
 * initializers, one binary ModelProto. Returns false when writing failed. */
bool emit_onnx(FILE *out, const IrModel *m, const EmitWeights *w, const EmitOptions *o);

/* --target pytorch: a Python package in the folder dir (created when
 * missing) holding the model as an nn.Module, the datasets, and the train
 * block as a script that also runs under torchrun (docs/interop.md). */
typedef struct EmitPytorchOptions {
    const char *dir;          /* the package folder (-o) */
    const char *source_name;  /* the .nn file as given on the command line */
    bool override_seed;       /* --seed N */
    uint64_t seed;
    long epochs;              /* --epochs N; 0 = as in the file */
    /* nnc's initial weights for the train block's seed, written as
     * init.safetensors so the package starts where `nnc run` starts; NULL
     * leaves the file out (torch's own initialisation then). */
    const EmitWeights *init;
} EmitPytorchOptions;

/* Why name cannot be used in the package (a Python keyword; for an
 * attribute, a name nn.Module already has; for the model's class, a name the
 * generated code uses), or NULL when it can. */
const char *emit_pytorch_name_clash(const char *name, bool attribute);

/* Reports through d and returns false on failure; writes nothing then. */
bool emit_pytorch(const IrProgram *p, size_t model, const EmitPytorchOptions *o, Diag *d);

#endif
