/* Shared by the --target pytorch writers (emit_pytorch*.c): what goes into
 * the package, and how numbers and lists are spelled in Python. */
#ifndef NNC_EMIT_PYTORCH_H
#define NNC_EMIT_PYTORCH_H

#include <stdbool.h>
#include <stdio.h>

#include "nnc/emit.h"

/* Everything the files of one package are written from. */
typedef struct PyPackage {
    const IrProgram *prog;
    const IrModel *m;
    size_t model;
    const IrTrain *train;       /* the model's last train block, or NULL */
    const IrEval **evals;       /* the model's evaluate steps, in file order */
    size_t n_evals;
    const IrDataSource **sources; /* the declared datasets those steps use */
    size_t n_sources;
    const EmitPytorchOptions *o;
    const char *source_base;    /* "xor.nn" */
    const char *data_root;      /* absolute folder of the .nn file */
    const char *class_name;     /* the model's Python class */
    /* Per node: the output depends on it. A layer nothing live reads gets
     * no gradient, which DistributedDataParallel refuses in a trained
     * parameter, so model.py does not train it (nnc gives it gradient 0). */
    const bool *live;
    Arena *arena;               /* for names built while writing */
} PyPackage;

/* A float32 as the shortest decimal that Python reads back (through a
 * double) as exactly that float; integers without a fraction ("1", "-2"). */
void py_put_float32(FILE *f, float v);
/* A hyperparameter as Python's repr would write it ("0.1", "1e-08", "1.0"),
 * written to f or into buf (returned). */
void py_put_double(FILE *f, double v);
enum { PY_DOUBLE_TEXT = 40 };
const char *py_double_text(char buf[PY_DOUBLE_TEXT], double v);
/* A Python list: [a, b] for one column, [[a, b], [c, d]] for several, one
 * row per line after the first when there are many. */
void py_put_matrix(FILE *f, const float *v, size_t rows, size_t cols, bool flat,
                   const char *indent);
/* A Python string literal (double quotes, backslash escapes). */
void py_put_string(FILE *f, const char *s);

/* true for the keywords of Python 3 (class, from, ...). */
bool py_is_keyword(const char *name);

void py_write_model(FILE *f, const PyPackage *k);
/* true when a node of kind k is an nn.Module attribute of the model (named
 * like the node, so state_dict keys are the .nn names). */
bool py_op_is_module(OpKind k);
void py_write_data(FILE *f, const PyPackage *k);
void py_write_train(FILE *f, const PyPackage *k);
void py_write_readme(FILE *f, const PyPackage *k);
void py_write_init(FILE *f, const PyPackage *k);
void py_write_safetensors_io(FILE *f);

#endif
