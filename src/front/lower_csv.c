/* CSV datasets: resolves the file's path against the .nn file's folder, reads
 * it with the strict reader (src/support/csv.c), checks the target column and
 * the class labels, and hands the float buffers to the arena without a copy.
 * Errors in the data are reported at their row and column in the CSV file;
 * errors in the properties at the property in the .nn file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nnc/csv.h"

#include "lower.h"

/* path as written in the .nn file, relative to that file's folder: the
 * folder of nn_path ("examples/digits.nn" -> "examples/"), or as written
 * when it is absolute or the .nn file names no folder. */
static const char *csv_resolve_path(Lower *c, const char *nn_path, const char *path)
{
    const char *slash = nn_path ? strrchr(nn_path, '/') : NULL;
    if (path[0] == '/' || !slash)
        return path;
    return arena_printf(c->arena, "%.*s%s", (int)(slash - nn_path + 1), nn_path, path);
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

/* The target column: last, first or a 0-based index checked against the
 * file's column count, reported at the `target =` value. */
static bool csv_target(Lower *c, const AstProp *target, const CsvTable *t, size_t *col)
{
    *col = t->cols - 1;
    if (!target)
        return true; /* the label is the last column unless told otherwise */
    const AstValue *v = target->value;
    if (v->kind == AST_IDENT) {
        *col = strcmp(v->text, "first") == 0 ? 0 : t->cols - 1;
        return true;
    }
    if (v->number < 0 || v->number >= (double)t->cols) {
        diag_error(c->diag, v->loc,
                   "target column %s is out of range: '%s' has %zu column%s (0..%zu)",
                   number_text(c, v->number), t->path, t->cols, plural(t->cols), t->cols - 1);
        return false;
    }
    *col = (size_t)v->number;
    return true;
}

/* Moves the table's floats into ds: x without the target column, y the
 * target. Both become the arena's, so they live as long as the IrProgram. */
static bool csv_take_data(Lower *c, CsvTable *t, size_t col, IrDataset *ds)
{
    float *x, *y;
    size_t x_cols;
    if (!csv_split_target(c->diag, t, col, &x, &y, &x_cols))
        return false;
    bool adopted = arena_adopt(c->arena, x);
    adopted &= arena_adopt(c->arena, y);
    if (!adopted) {
        diag_error(c->diag, ds->loc, "out of memory loading '%s'", t->path);
        return false;
    }
    ds->rows = t->rows;
    ds->x_cols = x_cols;
    ds->y_cols = 1;
    ds->x = x;
    ds->y = y;
    return true;
}

/* Reads the table; a file that cannot be opened is reported at the
 * `csv = "..."` value, where the user can fix it. */
static bool csv_open(Lower *c, const AstProp *csv, const AstProp *header, const char *path,
                     CsvTable *t)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        diag_error(c->diag, csv->value->loc, "cannot open '%s': %s", path, strerror(err));
        if (strcmp(path, csv->value->text) != 0)
            diag_note(c->diag, csv->value->loc,
                      "a relative csv path is read from the folder of the .nn file");
        return false;
    }
    /* A device or a pipe would never end (/dev/zero is one endless line),
     * and diagnostics read the file a second time. */
    struct stat st;
    bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    fclose(f);
    if (!regular) {
        diag_error(c->diag, csv->value->loc, "'%s' is not a regular file", path);
        return false;
    }
    CsvHeader mode = !header ? CSV_HEADER_AUTO
                     : header->value->boolean ? CSV_HEADER_YES : CSV_HEADER_NO;
    return csv_read(c->diag, path, mode, t);
}

bool lower_csv(Lower *c, const CsvProps *p, IrDataset *ds)
{
    const char *path = csv_resolve_path(c, c->file->src ? c->file->src->path : NULL,
                                        p->csv->value->text);
    if (!path) {
        diag_error(c->diag, p->csv->value->loc, "out of memory");
        return false;
    }
    CsvTable t;
    if (!csv_open(c, p->csv, p->header, path, &t))
        return false;
    size_t col;
    bool ok = csv_target(c, p->target, &t, &col);
    if (ok && t.cols < 2) {
        diag_error(c->diag, p->csv->value->loc,
                   "'%s' has one column; a csv dataset needs the target and at least one "
                   "feature column", path);
        ok = false;
    }
    if (ok && p->classes) {
        double classes = p->classes->value->number;
        ok = csv_check_labels(c->diag, &t, col, (long)classes);
        if (ok)
            ds->classes = (int)classes;
    }
    ok = ok && csv_take_data(c, &t, col, ds);
    csv_free(&t);
    return ok;
}
