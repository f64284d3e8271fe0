/* Training checkpoints (--checkpoint DIR, --resume DIR): after every epoch,
 * DIR/train-K.safetensors (K: the train block's ordinal in the file) holds
 * everything the next epoch depends on, so that a resumed run prints the
 * same losses, bit for bit, as one never interrupted:
 *   tensors  the model's parameters and buffers, keyed as --save writes
 *            them; "optimizer.N" the optimizer's state buffers (flat, like
 *            the parameters); "train.order" the row order the next shuffle
 *            starts from; "train.best" early stopping's best parameters;
 *   metadata (strings) "nnc.*": model, optimizer, rows, epoch, step, the
 *            generator's state, the best epoch and validation loss, the
 *            logs so far (%.17g: exact), and a checksum of all of it.
 * Written atomically (a temporary file renamed over the last one), so a run
 * killed at any moment leaves the previous epoch's checkpoint intact. */
#ifndef NNC_RT_CHECKPOINT_H
#define NNC_RT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/diag.h"
#include "nnc/safetensors.h"
#include "rng.h"
#include "session.h"

/* The per-epoch logs a training keeps (train.c), in this order. */
enum { LOG_EPOCH, LOG_LOSS, LOG_LR, LOG_VALID, LOG_ACC, LOG_KINDS };

/* What a training carries from one epoch to the next. The pointers are the
 * training's own buffers: saving reads them, restoring writes them. */
typedef struct RtTrainState {
    long epoch;         /* epochs done */
    long step;          /* optimizer steps done */
    bool finished;      /* the last epoch ran, or early stopping ended the run */
    double loss;        /* the last epoch's training loss */
    RtRng rng;
    size_t *order;      /* [rows] */
    size_t rows;
    float *const *opt_state; /* n_state buffers of n_params floats */
    size_t n_state;
    float *best;        /* early stopping's best parameters, or NULL */
    long best_epoch;    /* 0: none yet */
    double best_valid;
    double *logs[LOG_KINDS]; /* each [cap] or NULL when not kept */
    size_t n_log, log_cap;
} RtTrainState;

/* DIR/train-K.safetensors, malloc'd (NULL when out of memory). */
char *rt_checkpoint_path(const char *dir, size_t ordinal);

/* Writes st (with the model's parameters) to path atomically. */
bool rt_checkpoint_save(const RtModel *m, const IrTrain *t, const char *path,
                        const RtTrainState *st, Diag *d);

/* Reads path into the model's parameters and st's buffers (whose sizes st
 * gives). Checks before it writes anything: the checksum, the model's
 * tensors and shapes, the optimizer, the rows; every problem is reported
 * naming the file. Returns false then, with the model untouched. */
bool rt_checkpoint_load(RtModel *m, const IrTrain *t, const char *path, RtTrainState *st,
                        Diag *d);

#endif
