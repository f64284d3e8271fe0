/* The interpreter: trains and evaluates an IrProgram, printing what a student
 * wants to see. float32 throughout; batches are matrices (rows = samples). */
#ifndef NNC_RUNTIME_H
#define NNC_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/ir.h"
#include "nnc/quant.h"

typedef struct RtOptions {
    FILE *out;            /* where the report goes (stdout) */
    bool quiet;           /* only the final results, no summary or loss log */
    bool override_seed;   /* --seed N */
    uint64_t seed;
    long epochs;          /* --epochs N; 0 = as in the file */
    bool no_training;     /* --epochs 0: skip every train step, evaluate as is */
    const char *plot_dir; /* --plot DIR: write SVG plots there, or NULL */
    bool json;            /* --json: one JSON document instead of the report */
    const char *file;     /* the program's file name, for --json */
    const char *checkpoint_dir; /* --checkpoint DIR (or --resume's): train-K.safetensors each epoch */
    const char *resume_dir;     /* --resume DIR: continue each train step from its checkpoint */
    bool quantize_int8;   /* --quantize int8: each evaluate step also runs the int8 network */
    const char *calibrate; /* --calibrate DATASET: its rows choose the int8 ranges, or NULL */
    bool trace_int8;      /* --trace-int8: --json rows carry every layer's int8 values */
} RtOptions;

typedef struct RtSession RtSession;

/* Allocates parameters for every model (initialised from each model's
 * parameter blocks or like nn.Linear). NULL only when memory runs out. */
RtSession *rt_session_new(const IrProgram *p, const RtOptions *opt, Diag *d);
void rt_session_free(RtSession *s);

/* Executes the program's steps in order. Returns false when a step failed
 * (reported through d). */
bool rt_session_run(RtSession *s, Diag *d);
/* Executes only the train steps (what `nnc emit` needs before it writes
 * trained weights). */
bool rt_session_train(RtSession *s, Diag *d);
/* After rt_session_run or rt_session_train returned false: true when the
 * failure was a training that diverged (NaN or infinite loss or parameter;
 * or every run of a sweep), which the CLI reports with its own exit code. */
bool rt_session_diverged(const RtSession *s);
/* true when some train step trains this model. */
bool rt_model_is_trained(const IrProgram *p, size_t model);

/* The lecture's activation panel (sigmoid, tanh, relu, leaky_relu with
 * its default slope, step, identity), drawn with the runtime's own
 * functions, as an SVG file at path. */
bool rt_plot_activations(const char *path, Diag *d);

/* Weights files (safetensors, keys LAYER.weight [out, in] and LAYER.bias
 * [out], as a PyTorch state_dict of the same module). Loading checks that
 * the file has exactly the model's tensors in the model's shapes and reports
 * every problem naming the file and the tensor. Saving is atomic. */
bool rt_weights_load(RtSession *s, size_t model, const char *path, Diag *d);
bool rt_weights_save(const RtSession *s, size_t model, const char *path, Diag *d);

/* The current parameters of a node (after training, if any ran): its
 * tensors as ir_node_params declares them, back to back. NULL for nodes
 * without parameters. */
const float *rt_node_params(const RtSession *s, size_t model, size_t node);

/* Large matrix products (m*n*k >= 32768) run on cblas_sgemm of OpenBLAS
 * (libopenblas.so.0), loaded when the first one comes; without it, or with
 * NNC_BLAS=off in the environment, on the portable loops (NNC_BLAS=LIB
 * loads another library that has cblas_sgemm). rt_blas_load loads it now
 * (a benchmark that times the training loop alone) and says whether large
 * products will use it; rt_blas_describe names the path they took, for
 * --verbose, without loading anything. */
bool rt_blas_load(void);
const char *rt_blas_describe(void);

/* Post-training int8 quantization of a model with its current weights
 * (docs/quantization.md): ranges from the float network on the rows of
 * dataset `calibrate` (NULL: the model's training rows, else its first
 * evaluated dataset), the QModel's arrays in arena a. Reports through d
 * and returns false for a model the int8 path cannot run (q8_refusal),
 * a dataset that does not fit, or a non-finite value. */
bool rt_quantize(RtSession *s, size_t model, const char *calibrate, Arena *a, QModel *out,
                 Diag *d);

/* What rt_quantize checks before it runs anything (the model's ops, the
 * calibration rows' existence and width), for the CLI to say before any
 * training. */
bool rt_quant_check(const IrProgram *p, size_t model, const char *calibrate, Diag *d);

/* Inference outside a program's steps (benchmarks, embedding nnc): a
 * predictor plans its buffers once for up to max_rows rows per call. */
typedef struct RtPredictor RtPredictor;
RtPredictor *rt_predictor_new(RtSession *s, size_t model, size_t max_rows, Diag *d);
/* Runs rows (<= max_rows) input rows; returns the outputs [rows][out_units],
 * valid until the next call. */
const float *rt_predictor_run(RtPredictor *p, const float *x, size_t rows);
void rt_predictor_free(RtPredictor *p);

#endif
