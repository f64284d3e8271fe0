/* A strict reader for numeric CSV files (data sets): comma-separated 32-bit
 * floats, an optional header row, every mistake reported at its row and
 * column. It streams the file line by line, so memory stays near the size of
 * the float data; the text is read again only when a diagnostic quotes it.
 * It knows nothing of the AST or the IR. */
#ifndef NNC_CSV_H
#define NNC_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/diag.h"

typedef enum CsvHeader {
    CSV_HEADER_AUTO, /* a header when any field of the first row is not a number */
    CSV_HEADER_YES,
    CSV_HEADER_NO,
} CsvHeader;

/* Rows with errors reported per file (and per label check); more are
 * counted in one note, "... and N more errors in this file". */
enum { CSV_MAX_ROW_ERRORS = 20 };

typedef struct CsvTable {
    size_t rows, cols;
    float *data;  /* rows x cols, row-major, malloc'd (NULL after csv_split_target) */
    char **names; /* cols header names, or NULL when the file has no header */
    Source src;   /* the file's text, loaded by csv_loc when a diagnostic needs it */

    /* Private: where each row came from, so that any field's line and
     * column can be recomputed for a diagnostic. */
    char *path;
    size_t first_line; /* line number of row 0 (1, or 2 after a header) */
    size_t *row_off;   /* byte offset in the file of each row's line */
    size_t bytes;      /* bytes read */
    int src_state;
} CsvTable;

/* Reads the CSV file at path into out. Rules: fields separated by ','; spaces
 * and tabs around a field ignored; "\n" or "\r\n" line ends, the last one
 * optional; blank lines only at the end; every row as many fields as the
 * first. Numbers are decimal ("12", "-0.5", "1e-3", ".5"), parsed exactly
 * (correctly rounded) whatever the C locale; "nan", "inf", hex and values
 * beyond the float range are errors. Each bad row (its first mistake) is
 * reported as path:line:col with the source line and a caret, for up to
 * CSV_MAX_ROW_ERRORS rows, then one note counts the rest; then out is left
 * empty (safe to csv_free) and false is returned. A "row" in messages is a
 * line number of the file, as an editor or a spreadsheet shows it. */
bool csv_read(Diag *d, const char *path, CsvHeader header, CsvTable *out);
void csv_free(CsvTable *t);

/* The location of field col (0-based) of row row (0-based) for a diagnostic,
 * e.g. diag_error(d, csv_loc(t, r, c), "..."). The first call reads the file
 * again; the Loc points into t, which must stay where it is while in use. */
Loc csv_loc(CsvTable *t, size_t row, size_t col);

/* The 0-based column of a target given as -1 (the last column) or a 0-based
 * index. Reports (without a location: the caller knows where the target was
 * written and should check first) and returns false when out of range. */
bool csv_target_col(Diag *d, const CsvTable *t, long target, size_t *col);

/* Checks that column col holds integer class labels 0..classes-1; reports
 * each offender at its field ("label 10 on row 5 is outside 0..9",
 * "label 2.5 on row 5 is not an integer"), up to CSV_MAX_ROW_ERRORS of
 * them as csv_read does. Call before csv_split_target. */
bool csv_check_labels(Diag *d, CsvTable *t, size_t col, long classes);

/* Separates the target column from the features, in place: *x receives the
 * table's data as rows x (cols-1) features (the buffer is moved out of t,
 * t->data becomes NULL), *y the rows target values. Both are malloc'd and
 * the caller frees them. t keeps what csv_loc needs. Needs cols >= 2. */
bool csv_split_target(Diag *d, CsvTable *t, size_t col, float **x, float **y,
                      size_t *x_cols);

/* Parses one decimal number text[0..len) exactly as csv_read does. False
 * when it is not a number (bad syntax, NaN, infinity) or out of the float
 * range (*overflow set). Exposed for the tests and for other readers. */
bool csv_parse_float(const char *text, size_t len, float *out, bool *overflow);

#endif
