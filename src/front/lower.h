/* Internal to the checker/lowering (src/front/lower*.c): the context that
 * walks the AST once, reports every independent error and fills the
 * IrProgram, plus the property-table and value helpers every block uses. */
#ifndef NNC_FRONT_LOWER_H
#define NNC_FRONT_LOWER_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/ast.h"
#include "nnc/front.h"
#include "nnc/ir.h"

/* Size caps: big enough for any course exercise, small enough that every
 * product below fits in size_t and every float buffer in memory. */
#define LOWER_MAX_UNITS ((size_t)1 << 24)
#define LOWER_MAX_PARAMS ((size_t)1 << 28)
#define LOWER_MAX_COUNT IR_MAX_COUNT /* epochs, log_every */
#define LOWER_MAX_SEED 9007199254740992.0 /* 2^53: exact in a double */
/* Runs of one sweep: each keeps a loss history of up to 1.6 MB and a row of
 * the table; a thousand is already more than a table can show. */
#define LOWER_MAX_SWEEP 1000

/* A declared dataset. A split one owns three IrDatasets (whole, train,
 * test), or four with a validation part (split = [train, valid, test]). */
typedef struct DataSym {
    const AstDecl *decl;
    bool ok;            /* lowered without error: safe to check against */
    bool split;
    bool has_valid;
    size_t whole, train, valid, test;
} DataSym;

typedef struct ModelSym {
    const AstDecl *decl;
    bool ok;
    size_t index;       /* into prog->models */
    bool trained, evaluated;
    size_t last_train;  /* index into prog->trains */
} ModelSym;

typedef struct Lower {
    Arena *arena;
    Diag *diag;
    const AstFile *file;
    IrProgram *prog;
    DataSym *datasets;  /* declared so far, in order */
    size_t n_datasets;
    ModelSym *models;
    size_t n_models;
} Lower;

/* ---- property tables (props.c) ---------------------------------------- */

typedef enum PropType {
    PT_NUMBER,
    PT_INT,
    PT_BOOL,
    PT_STRING,
    PT_IDENT,       /* one of spec->choices */
    PT_NAME,        /* any identifier: a layer name */
    PT_LIST,
    PT_CALL,        /* optimizer = adam(...) (a bare name is a call with no args);
                     * with choices, the callee is one of them: loss = huber(...) */
    PT_COLUMN,      /* target = last | first | integer index */
    PT_SPLIT,       /* split = 0.8 (in the range) or [train, valid, test] fractions */
    PT_DATASET,     /* validate = digits.valid: a dataset or a part of one */
} PropType;

/* A numeric range with the message form it implies (nnc/ir.h). */
typedef IrRange Range;

enum { PROPS_MAX = 16 }; /* properties in one block's table */

typedef struct PropSpec {
    const char *name;
    PropType type;
    const char *const *choices; /* PT_IDENT, PT_COLUMN, PT_CALL: NULL-terminated */
    const Range *range;         /* PT_NUMBER, PT_INT: checked with the type */
} PropSpec;

/* Matches props (sweeps skipped) to spec: slots[i] is the prop named
 * spec[i].name or NULL. Reports, in source order, unknown names (with a
 * suggestion), repeats, wrong types and values out of range; a bad prop
 * leaves its slot NULL. False on any error. */
bool props_collect(Lower *c, const AstProp *props, const PropSpec *spec, size_t n,
                   const char *block, const AstProp **slots);
/* One step of props_collect, for blocks that act on each prop in order:
 * the prop's index in spec, or -1 (reported). seen[] starts all NULL. */
int props_take(Lower *c, const AstProp *p, const PropSpec *spec, size_t n, const char *block,
               const AstProp **slots, const AstProp **seen);
/* The first prop named name (sweeps skipped), valid or not, or NULL. */
const AstProp *props_find(const AstProp *props, const char *name);
/* A number as a student wrote it: 100000000000, not 1e+11. */
const char *number_text(Lower *c, double v);
/* Checks a number against r, reporting "WHAT must be ..., got V" at v. */
bool value_in_range(Lower *c, const AstValue *v, const char *what, Range r, double *out);
/* "must be an integer, got string" style type error for any value. */
void value_type_error(Lower *c, const AstValue *v, const char *what, const char *expected);
/* Writes the choices as "a, b or c" into an arena string. */
const char *choices_text(Lower *c, const char *const *choices);

/* A list value read as floats: flat ([1, 2]) or a matrix ([[1], [2]]). */
typedef struct Matrix {
    size_t rows, cols;
    bool flat;          /* written as a flat list: rows values, cols == 1 */
    float *data;        /* rows * cols */
} Matrix;

/* Reads a list of numbers or a rectangular list of lists of numbers.
 * Reports ragged rows, non-numbers and values outside float range. */
bool value_matrix(Lower *c, const AstValue *v, const char *what, Matrix *out);
/* "[4]" or "[4, 2]", in the arena. */
const char *matrix_shape(Lower *c, const Matrix *m);
/* The Loc of element (row, col) of a list value read by value_matrix. */
Loc matrix_elem_loc(const AstValue *v, size_t row, size_t col);

/* The property tables of the blocks, for front_block_props (blocks.c):
 * the dataset's (lower_data.c), train's and evaluate's (lower.c). */
const PropSpec *lower_dataset_spec(size_t *n);
const PropSpec *lower_train_spec(size_t *n);
const PropSpec *lower_eval_spec(size_t *n);
/* A parameter block's table for node n: one list per tensor its op
 * declares (into ps, as ir_node_params), then `frozen`. Returns the number
 * of tensors; the table has one more row. */
size_t lower_param_spec(const IrNode *n, IrParam ps[IR_MAX_PARAMS],
                        PropSpec spec[IR_MAX_PARAMS + 1]);

/* ---- stages ------------------------------------------------------------ */

void lower_dataset(Lower *c, const AstDecl *d, DataSym *sym);

/* The properties of a CSV dataset that lower_csv reads (already checked for
 * type and range by the dataset table); csv is required, the rest optional. */
typedef struct CsvProps {
    const AstProp *csv, *header, *target, *classes;
} CsvProps;

/* Loads a CSV dataset into ds (rows, x, y, classes; the floats belong to the
 * arena). Reports and returns false on any problem (lower_csv.c). */
bool lower_csv(Lower *c, const CsvProps *p, IrDataset *ds);
void lower_model(Lower *c, const AstDecl *d, ModelSym *sym);
/* Index of the last node of layer `name` (an identifier) in model m, or -1
 * (reported). */
long lower_find_layer(Lower *c, const IrModel *m, const AstValue *name);
void lower_train(Lower *c, const AstDecl *d);
void lower_evaluate(Lower *c, const AstDecl *d);

#endif
