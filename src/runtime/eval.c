/* Evaluation: runs a model on a dataset (dropout off) and prints a table of
 * inputs, outputs, predictions and targets for the first rows, then the
 * accuracy (or the mean squared error for real-valued targets), the rows
 * that were wrong, and for a handful of classes a confusion matrix with each
 * class's precision and recall. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nnc/plot.h"
#include "loss.h"
#include "report.h"
#include "session.h"

enum {
    TABLE_ROWS = 20,    /* rows printed before "... (N more rows)" */
    TABLE_COLS = 32,
    CELL = 24,
    CAP_INPUTS = 6,     /* beyond this many columns: the first few and "..." */
    CAP_OUTPUTS = 4,
    CAP_SHOW = 6,
    WRONG_LISTED = 10,
    CONFUSION_MAX = 20, /* confusion matrices for at most this many classes */
    EVAL_CHUNK = 256,
};

/* ---- judging one row --------------------------------------------------- */

typedef struct RowVerdict {
    bool correct;
    size_t pred, target;  /* classes; for several binary outputs, bit masks */
    double sq_err;        /* summed over the row's outputs */
} RowVerdict;

typedef struct EvalCtx {
    const IrDataset *ds;
    const IrModel *ir;
    RtTargets targets;
    RtEvalKind kind;
} EvalCtx;

static bool value_is_bit(float v)
{
    return v == 0.0f || v == 1.0f;
}

/* Binary when every target is 0 or 1 (argmax when each row is one-hot and
 * there are several outputs), regression otherwise. */
static RtEvalKind eval_kind(const IrDataset *ds, const IrModel *m)
{
    if (ds->y_cols == 0)
        return RT_EVAL_OUTPUTS;
    if (ir_targets_are_labels(ds, m))
        return RT_EVAL_ARGMAX;
    bool one_hot = true;
    for (size_t r = 0; r < ds->rows; r++) {
        size_t ones = 0;
        for (size_t c = 0; c < ds->y_cols; c++) {
            float v = ds->y[r * ds->y_cols + c];
            if (!value_is_bit(v))
                return RT_EVAL_REGRESSION;
            ones += v == 1.0f;
        }
        one_hot = one_hot && ones == 1;
    }
    return m->out_units > 1 && one_hot ? RT_EVAL_ARGMAX : RT_EVAL_BINARY;
}

RtEvalKind rt_eval_kind(const IrDataset *ds, const IrModel *m)
{
    return eval_kind(ds, m);
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static RowVerdict eval_judge(const EvalCtx *e, const float *out, size_t r)
{
    RowVerdict v = {0};
    size_t units = e->ir->out_units;
    if (e->kind == RT_EVAL_OUTPUTS)
        return v;
    for (size_t c = 0; c < units; c++) {
        double diff = (double)out[c] - rt_target_at(e->targets, units, r, c);
        v.sq_err += diff * diff;
    }
    if (e->kind == RT_EVAL_ARGMAX) {
        v.pred = argmax(out, units);
        v.target = e->targets.labels ? (size_t)e->targets.y[r]
                                     : argmax(e->targets.y + r * units, units);
    } else if (e->kind == RT_EVAL_BINARY) {
        /* One output unit is class 1 when it is > 0.5, as in the lecture
         * (> 0 for a logit: ir_binary_threshold). */
        float threshold = ir_binary_threshold(e->ir);
        for (size_t c = 0; c < units && c < 64; c++) {
            v.pred |= (size_t)(out[c] > threshold) << c;
            v.target |= (size_t)(rt_target_at(e->targets, units, r, c) == 1.0f) << c;
        }
    }
    v.correct = e->kind != RT_EVAL_REGRESSION && v.pred == v.target;
    return v;
}

static EvalCtx eval_ctx(const IrDataset *ds, const IrModel *m)
{
    EvalCtx e = {ds, m, {ds->y, ir_targets_are_labels(ds, m)}, RT_EVAL_BINARY};
    e.kind = eval_kind(ds, m);
    return e;
}

void rt_eval_score(RtPlan *pl, const IrDataset *ds, RtScore *out)
{
    EvalCtx e = eval_ctx(ds, pl->model->ir);
    memset(out, 0, sizeof *out);
    out->kind = e.kind;
    out->rows = ds->rows;
    double sq = 0.0;
    size_t units = e.ir->out_units;
    for (size_t start = 0; start < ds->rows; start += pl->max_rows) {
        size_t n = ds->rows - start < pl->max_rows ? ds->rows - start : pl->max_rows;
        const float *y = rt_plan_forward(pl, ds->x + start * ds->x_cols, n, false, NULL);
        for (size_t i = 0; i < n; i++) {
            RowVerdict v = eval_judge(&e, y + i * units, start + i);
            out->correct += v.correct;
            sq += v.sq_err;
        }
    }
    out->mse = sq / ((double)ds->rows * (double)units);
}

void rt_eval_score_outputs(const IrDataset *ds, const IrModel *m, const float *outputs,
                           RtScore *out)
{
    EvalCtx e = eval_ctx(ds, m);
    memset(out, 0, sizeof *out);
    out->kind = e.kind;
    out->rows = ds->rows;
    double sq = 0.0;
    for (size_t r = 0; r < ds->rows; r++) {
        RowVerdict v = eval_judge(&e, outputs + r * m->out_units, r);
        out->correct += v.correct;
        sq += v.sq_err;
    }
    out->mse = sq / ((double)ds->rows * (double)m->out_units);
}

double rt_eval_loss(RtPlan *pl, const IrDataset *ds, const IrLoss *loss, float *scratch,
                    RtScore *out)
{
    EvalCtx e = eval_ctx(ds, pl->model->ir);
    memset(out, 0, sizeof *out);
    out->kind = e.kind;
    out->rows = ds->rows;
    double sq = 0.0, sum = 0.0;
    size_t units = e.ir->out_units;
    for (size_t start = 0; start < ds->rows; start += pl->max_rows) {
        size_t n = ds->rows - start < pl->max_rows ? ds->rows - start : pl->max_rows;
        const float *y = rt_plan_forward(pl, ds->x + start * ds->x_cols, n, false, NULL);
        RtTargets t = {ds->y + start * ds->y_cols, e.targets.labels};
        sum += rt_loss(loss, n, units, y, t, scratch) * (double)n;
        for (size_t i = 0; i < n; i++) {
            RowVerdict v = eval_judge(&e, y + i * units, start + i);
            out->correct += v.correct;
            sq += v.sq_err;
        }
    }
    out->mse = sq / ((double)ds->rows * (double)units);
    return sum / (double)ds->rows;
}

/* ---- the table --------------------------------------------------------- */

typedef struct Table {
    size_t n_cols, n_rows;
    char head[TABLE_COLS][CELL];
    bool bar[TABLE_COLS];       /* a " |" before this column */
    char cell[TABLE_ROWS][TABLE_COLS][CELL];
    const char *mark[TABLE_ROWS];
} Table;

static void table_add_col(Table *t, bool bar, const char *name)
{
    if (t->n_cols == TABLE_COLS)
        return;
    snprintf(t->head[t->n_cols], CELL, "%s", name);
    t->bar[t->n_cols++] = bar;
}

/* Adds columns (after a bar when bar) for n values: one column is called single, several
 * are base1, base2, ... (base[1], ... when bracket). Beyond cap columns, the
 * first cap-1 and a "..." column. Returns how many values are shown. */
static size_t table_add_group(Table *t, bool bar, const char *single, const char *base,
                              bool bracket, size_t n, size_t cap)
{
    size_t shown = n <= cap ? n : cap - 1;
    char name[CELL];
    for (size_t i = 0; i < shown; i++) {
        if (n == 1)
            snprintf(name, sizeof name, "%s", single);
        else
            snprintf(name, sizeof name, bracket ? "%.15s[%zu]" : "%.15s%zu", base, i + 1);
        table_add_col(t, bar && i == 0, name);
    }
    if (shown < n)
        table_add_col(t, false, "...");
    return shown;
}

/* Exact integers (a step's 0 and 1) print as such; others with 4 decimals. */
static void format_output(char *buf, float v)
{
    if (v == floorf(v) && fabsf(v) < 1e7f)
        snprintf(buf, CELL, "%.0f", v == 0.0f ? 0.0f : v);
    else
        snprintf(buf, CELL, "%.4f", v);
}

static void format_data(char *buf, float v)
{
    snprintf(buf, CELL, "%.4g", v == 0.0f ? 0.0f : v);
}

static void format_class(char *buf, const EvalCtx *e, size_t cls)
{
    size_t units = e->ir->out_units;
    if (e->kind == RT_EVAL_ARGMAX || units == 1) {
        snprintf(buf, CELL, "%zu", cls);
        return;
    }
    size_t n = units < CELL - 1 ? units : CELL - 1;
    for (size_t c = 0; c < n; c++)
        buf[c] = (cls >> c) & 1 ? '1' : '0';
    buf[n] = '\0';
}

/* Which columns the table has. */
typedef struct Layout {
    size_t in_shown, show_shown, out_shown, target_shown;
    bool in_more, show_more, out_more, target_more;
    long show_node;
} Layout;

static Layout table_layout(Table *t, const EvalCtx *e, long show_node)
{
    Layout l = {0};
    l.show_node = show_node;
    table_add_col(t, false, "#");
    l.in_shown = table_add_group(t, false, "x1", "x", false, e->ds->x_cols, CAP_INPUTS);
    l.in_more = l.in_shown < e->ds->x_cols;
    if (show_node >= 0) {
        const IrNode *n = &e->ir->nodes[show_node];
        l.show_shown = table_add_group(t, true, n->layer, n->layer, true, n->units, CAP_SHOW);
        l.show_more = l.show_shown < n->units;
    }
    size_t units = e->ir->out_units;
    l.out_shown = table_add_group(t, true, "output", "out", false, units, CAP_OUTPUTS);
    l.out_more = l.out_shown < units;
    if (e->kind == RT_EVAL_OUTPUTS)
        return l;
    if (e->kind != RT_EVAL_REGRESSION) {
        table_add_col(t, false, "pred");
        table_add_col(t, true, "target");
        return l;
    }
    l.target_shown = table_add_group(t, true, "target", "t", false, units, CAP_OUTPUTS);
    l.target_more = l.target_shown < units;
    return l;
}

/* Writes n formatted values, then "..." when more were left out. */
static size_t table_put(Table *t, size_t col, const float *v, size_t n, bool more,
                        void (*format)(char *, float))
{
    char (*row)[CELL] = t->cell[t->n_rows];
    for (size_t i = 0; i < n; i++)
        format(row[col++], v[i]);
    if (more)
        snprintf(row[col++], CELL, "...");
    return col;
}

static void table_add_row(Table *t, const Layout *l, const EvalCtx *e,
                          const RtPlan *pl, size_t i, size_t r, const RowVerdict *v)
{
    char (*row)[CELL] = t->cell[t->n_rows];
    size_t units = e->ir->out_units, col = 1;
    snprintf(row[0], CELL, "%zu", r + 1);
    col = table_put(t, col, e->ds->x + r * e->ds->x_cols, l->in_shown, l->in_more, format_data);
    if (l->show_node >= 0) {
        size_t su = e->ir->nodes[l->show_node].units;
        col = table_put(t, col, rt_plan_node_out(pl, (size_t)l->show_node) + i * su,
                        l->show_shown, l->show_more, format_output);
    }
    const float *out = rt_plan_node_out(pl, e->ir->n_nodes - 1) + i * units;
    col = table_put(t, col, out, l->out_shown, l->out_more, format_output);
    t->mark[t->n_rows] = "";
    if (e->kind == RT_EVAL_OUTPUTS) {
        /* no targets: nothing to judge */
    } else if (e->kind == RT_EVAL_REGRESSION) {
        table_put(t, col, e->ds->y + r * e->ds->y_cols, l->target_shown, l->target_more, format_data);
    } else {
        format_class(row[col++], e, v->pred);
        format_class(row[col], e, v->target);
        t->mark[t->n_rows] = v->correct ? "\xE2\x9C\x93" : "\xE2\x9C\x97"; /* ✓ ✗ */
    }
    t->n_rows++;
}

static void table_print(const Table *t, FILE *out)
{
    size_t width[TABLE_COLS];
    for (size_t c = 0; c < t->n_cols; c++) {
        width[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t w = strlen(t->cell[r][c]);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t r = 0; r <= t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cell[r - 1][c];
            fprintf(out, "%s%s%*s", c == 0 ? "" : " ", t->bar[c] ? "| " : "",
                    (int)width[c], s);
        }
        const char *mark = r == 0 ? "" : t->mark[r - 1];
        fprintf(out, "%s%s\n", *mark ? "  " : "", mark);
    }
}

/* ---- the whole evaluation ---------------------------------------------- */

typedef struct EvalTally {
    size_t correct;
    double sq_err;
    size_t wrong[WRONG_LISTED];
    size_t n_wrong;
    size_t *confusion;    /* [classes][classes] or NULL */
    size_t classes;
} EvalTally;

static void tally_row(EvalTally *tl, const RowVerdict *v, size_t r)
{
    tl->sq_err += v->sq_err;
    if (v->correct) {
        tl->correct++;
    } else {
        if (tl->n_wrong < WRONG_LISTED)
            tl->wrong[tl->n_wrong] = r;
        tl->n_wrong++;
    }
    if (tl->confusion && v->target < tl->classes && v->pred < tl->classes)
        tl->confusion[v->target * tl->classes + v->pred]++;
}

/* What --json and --plot collect per row; NULL members are not wanted. */
typedef struct EvalExtras {
    cJSON *rows;    /* --json: one object per row */
    int *labels;    /* --plot: each row's true class */
} EvalExtras;

static void eval_json_row(const EvalCtx *e, const float *out, const float *shown, size_t n_shown,
                          const RowVerdict *v, size_t r, cJSON *rows);

static void eval_rows(RtPlan *pl, const EvalCtx *e, Table *t, const Layout *l, EvalTally *tl,
                      const EvalExtras *x)
{
    const IrDataset *ds = e->ds;
    size_t units = e->ir->out_units;
    for (size_t start = 0; start < ds->rows; start += pl->max_rows) {
        size_t n = ds->rows - start < pl->max_rows ? ds->rows - start : pl->max_rows;
        const float *y = rt_plan_forward(pl, ds->x + start * ds->x_cols, n, false, NULL);
        for (size_t i = 0; i < n; i++) {
            RowVerdict v = eval_judge(e, y + i * units, start + i);
            tally_row(tl, &v, start + i);
            if (x->rows) {
                size_t su = l->show_node >= 0 ? e->ir->nodes[l->show_node].units : 0;
                const float *shown = l->show_node >= 0
                    ? rt_plan_node_out(pl, (size_t)l->show_node) + i * su : NULL;
                eval_json_row(e, y + i * units, shown, su, &v, start + i, x->rows);
            }
            if (x->labels)
                x->labels[start + i] = (int)v.target;
            if (start + i < TABLE_ROWS)
                table_add_row(t, l, e, pl, i, start + i, &v);
        }
    }
}

static void print_wrong_rows(FILE *out, const EvalTally *tl, size_t rows)
{
    if (tl->n_wrong == 0)
        return;
    fprintf(out, "%zu of %zu rows wrong: row%s ", tl->n_wrong, rows, tl->n_wrong > 1 ? "s" : "");
    size_t listed = tl->n_wrong < WRONG_LISTED ? tl->n_wrong : WRONG_LISTED;
    for (size_t i = 0; i < listed; i++)
        fprintf(out, "%s%zu", i ? ", " : "", tl->wrong[i] + 1);
    fputs(tl->n_wrong > listed ? ", ...\n" : "\n", out);
}

static void print_confusion(FILE *out, const EvalTally *tl)
{
    if (!tl->confusion)
        return;
    fputs("confusion matrix (rows: target, columns: predicted)\n      ", out);
    for (size_t p = 0; p < tl->classes; p++)
        fprintf(out, " %5zu", p);
    fputc('\n', out);
    for (size_t t = 0; t < tl->classes; t++) {
        fprintf(out, "%5zu ", t);
        for (size_t p = 0; p < tl->classes; p++)
            fprintf(out, " %5zu", tl->confusion[t * tl->classes + p]);
        fputc('\n', out);
    }
}

/* A ratio as three decimals, or "-" when nothing was counted. */
static void print_ratio(FILE *out, size_t num, size_t den)
{
    if (den == 0)
        fprintf(out, " %9s", "-");
    else
        fprintf(out, " %9.3f", (double)num / (double)den);
}

/* Per class, from the confusion matrix: precision (of the rows predicted as
 * the class, the share that are) and recall (of the rows of the class, the
 * share found). */
static void print_precision_recall(FILE *out, const EvalTally *tl)
{
    if (!tl->confusion)
        return;
    size_t k = tl->classes;
    fputs("class precision    recall\n", out);
    for (size_t c = 0; c < k; c++) {
        size_t hit = tl->confusion[c * k + c], predicted = 0, actual = 0;
        for (size_t o = 0; o < k; o++) {
            predicted += tl->confusion[o * k + c];
            actual += tl->confusion[c * k + o];
        }
        fprintf(out, "%5zu", c);
        print_ratio(out, hit, predicted);
        print_ratio(out, hit, actual);
        fputc('\n', out);
    }
}

static void eval_print_results(FILE *out, const EvalCtx *e, const EvalTally *tl)
{
    size_t rows = e->ds->rows;
    if (rows > TABLE_ROWS)
        fprintf(out, "... (%zu more rows)\n", rows - TABLE_ROWS);
    double mse = tl->sq_err / ((double)rows * (double)e->ir->out_units);
    if (e->kind == RT_EVAL_OUTPUTS) {
        fputc('\n', out);
        return;
    }
    if (e->kind == RT_EVAL_REGRESSION) {
        fprintf(out, "mean squared error: %.7g\n\n", mse);
        return;
    }
    fprintf(out, "accuracy: %zu/%zu (%.1f%%)\n", tl->correct, rows,
            100.0 * (double)tl->correct / (double)rows);
    print_wrong_rows(out, tl, rows);
    print_confusion(out, tl);
    print_precision_recall(out, tl);
    fputc('\n', out);
}

/* A confusion matrix helps only for a few classes, more than two. */
static size_t eval_classes(const EvalCtx *e)
{
    if (e->kind != RT_EVAL_ARGMAX)
        return 0;
    size_t k = e->ds->classes > 0 ? (size_t)e->ds->classes : e->ir->out_units;
    return k > 2 && k <= CONFUSION_MAX ? k : 0;
}

/* ---- --json and --plot ------------------------------------------------- */

static const char *eval_kind_name(RtEvalKind k)
{
    switch (k) {
    case RT_EVAL_BINARY: return "binary";
    case RT_EVAL_ARGMAX: return "argmax";
    case RT_EVAL_REGRESSION: return "regression";
    case RT_EVAL_OUTPUTS: return "outputs";
    }
    return "?";
}

/* A class as JSON: a number, or for several binary outputs one 0/1 per
 * output. */
static cJSON *eval_json_class(const EvalCtx *e, size_t cls)
{
    size_t units = e->ir->out_units;
    if (e->kind == RT_EVAL_ARGMAX || units == 1)
        return cJSON_CreateNumber((double)cls);
    cJSON *a = cJSON_CreateArray();
    for (size_t c = 0; a && c < units; c++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(c < 64 ? (double)((cls >> c) & 1) : 0.0));
    return a;
}

/* {"inputs": [...], "activations": [...], "outputs": [...], "prediction": p,
 * "target": t, "correct": b}: the inputs let scripts rerun a row elsewhere
 * (the emitted C, PyTorch) and compare; "activations" are the `show` layer's
 * values (every unit, not only the ones the table has room for), only with
 * `show`. A regression's target is the row of target values; no targets,
 * outputs only. */
static void eval_json_row(const EvalCtx *e, const float *out, const float *shown, size_t n_shown,
                          const RowVerdict *v, size_t r, cJSON *rows)
{
    cJSON *row = cJSON_CreateObject();
    if (!row || !cJSON_AddItemToArray(rows, row)) {
        cJSON_Delete(row);
        return;
    }
    cJSON_AddItemToObject(row, "inputs",
                          rt_json_float_array(e->ds->x + r * e->ds->x_cols, e->ds->x_cols));
    if (shown)
        cJSON_AddItemToObject(row, "activations", rt_json_float_array(shown, n_shown));
    cJSON_AddItemToObject(row, "outputs", rt_json_float_array(out, e->ir->out_units));
    if (e->kind == RT_EVAL_OUTPUTS)
        return;
    if (e->kind == RT_EVAL_REGRESSION) {
        const IrDataset *ds = e->ds;
        cJSON_AddItemToObject(row, "target", rt_json_float_array(ds->y + r * ds->y_cols, ds->y_cols));
        return;
    }
    cJSON_AddItemToObject(row, "prediction", eval_json_class(e, v->pred));
    cJSON_AddItemToObject(row, "target", eval_json_class(e, v->target));
    cJSON_AddBoolToObject(row, "correct", v->correct);
}

static void eval_json_summary(cJSON *j, const EvalCtx *e, const EvalTally *tl)
{
    size_t rows = e->ds->rows;
    if (e->kind == RT_EVAL_OUTPUTS)
        return;
    if (e->kind == RT_EVAL_REGRESSION) {
        cJSON_AddNumberToObject(j, "mse", tl->sq_err / ((double)rows * (double)e->ir->out_units));
        return;
    }
    cJSON_AddNumberToObject(j, "correct", (double)tl->correct);
    cJSON_AddNumberToObject(j, "total", (double)rows);
    cJSON_AddNumberToObject(j, "accuracy", (double)tl->correct / (double)rows);
}

/* The step's header, with "show": the layer whose values the rows'
 * "activations" hold; returns its "rows" array (NULL without --json). */
static cJSON *eval_json_begin(cJSON *j, const EvalCtx *e, long show)
{
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "model", e->ir->name);
    cJSON_AddStringToObject(j, "dataset", e->ds->name);
    cJSON_AddStringToObject(j, "kind", eval_kind_name(e->kind));
    if (show >= 0)
        cJSON_AddStringToObject(j, "show", e->ir->nodes[show].layer);
    return cJSON_AddArrayToObject(j, "rows");
}

/* Decision regions need a plane (2 inputs) and at most 10 classes. */
static bool eval_can_plot_regions(const EvalCtx *e)
{
    if (e->ds->x_cols != 2)
        return false;
    if (e->kind == RT_EVAL_BINARY)
        return e->ir->out_units == 1;
    if (e->kind != RT_EVAL_ARGMAX)
        return false;
    size_t k = e->ds->classes > 0 ? (size_t)e->ds->classes : e->ir->out_units;
    return k <= PLOT_MAX_CLASSES && e->ir->out_units <= PLOT_MAX_CLASSES;
}

typedef struct RegionCtx {
    RtPlan *pl;
    size_t units;
    float threshold;    /* of one output unit (ir_binary_threshold) */
} RegionCtx;

/* The model's class at one point of the plane, by the evaluation's rule,
 * in the evaluation's plan: the grid allocates nothing. */
static int eval_classify_point(void *ctx, double x1, double x2)
{
    RegionCtx *rc = ctx;
    float x[2] = {(float)x1, (float)x2};
    const float *y = rt_plan_forward(rc->pl, x, 1, false, NULL);
    return rc->units == 1 ? y[0] > rc->threshold : (int)argmax(y, rc->units);
}

/* regions-MODEL-DATASET.svg, numbered from the second evaluation of the
 * same pair. */
static bool eval_plot_regions(RtSession *s, const IrEval *ev, RtPlan *pl, const EvalCtx *e,
                              const EvalTally *tl, const int *labels, cJSON *json, Diag *d)
{
    const IrDataset *ds = e->ds;
    size_t k = 1;
    for (const IrEval *o = s->prog->evals; o < ev; o++)
        k += o->model == ev->model && o->dataset == ev->dataset;
    size_t n_name = strlen(e->ir->name) + strlen(ds->name) + 16;
    char *name = malloc(n_name), *path = NULL, title[256];
    double *x = calloc(ds->rows * 2, sizeof *x);
    if (name) {
        snprintf(name, n_name, "regions-%s-%s", e->ir->name, ds->name);
        path = rt_plot_path(s->opt.plot_dir, name, k);
    }
    bool ok = path && x;
    if (!ok)
        diag_error(d, ev->loc, "out of memory for the decision-region plot");
    for (size_t i = 0; ok && i < ds->rows * 2; i++)
        x[i] = ds->x[i];
    snprintf(title, sizeof title, "%s on %s: decision regions (%zu/%zu right)", e->ir->name,
             ds->name, tl->correct, ds->rows);
    RegionCtx rc = {pl, e->ir->out_units, ir_binary_threshold(e->ir)};
    ok = ok && plot_decision_regions(d, path, title, x, labels, ds->rows, eval_classify_point, &rc);
    if (ok)
        rt_plot_written(s, json, path);
    free(x);
    free(path);
    free(name);
    return ok;
}

bool rt_eval_run(RtSession *s, const IrEval *ev, Diag *d)
{
    RtModel *m = &s->models[ev->model];
    const IrDataset *ds = &s->prog->datasets[ev->dataset];
    if (ds->rows == 0 || m->ir->n_nodes < 2) {
        diag_error(d, ev->loc, "nothing to evaluate: %s", ds->rows == 0
                   ? "the dataset has no rows" : "the model has no layers");
        return false;
    }
    rt_model_summarize(s, m);
    EvalCtx e = eval_ctx(ds, m->ir);
    EvalTally tl = {0};
    tl.classes = eval_classes(&e);
    Table *t = calloc(1, sizeof *t);
    if (tl.classes)
        tl.confusion = calloc(tl.classes * tl.classes, sizeof *tl.confusion);
    cJSON *json = rt_json_step(s, "evaluate");
    bool plot = s->opt.plot_dir && eval_can_plot_regions(&e);
    long show = ev->show_node < (long)m->ir->n_nodes ? ev->show_node : -1;
    EvalExtras extras = {eval_json_begin(json, &e, show), plot ? calloc(ds->rows, sizeof(int)) : NULL};
    RtPlan pl;
    size_t chunk = ds->rows < EVAL_CHUNK ? ds->rows : EVAL_CHUNK;
    bool ok = t && (!tl.classes || tl.confusion) && (!plot || extras.labels);
    if (!ok)
        diag_error(d, ev->loc, "out of memory");
    if (ok && rt_plan_fits(m, chunk, NULL, NULL, show, ev->loc, d) &&
        rt_plan_init(&pl, m, chunk, NULL, NULL, show, d)) {
        FILE *out = s->opt.out;
        fprintf(out, "evaluate %s on %s\n", m->ir->name, ds->name);
        Layout l = table_layout(t, &e, show);
        eval_rows(&pl, &e, t, &l, &tl, &extras);
        table_print(t, out);
        eval_print_results(out, &e, &tl);
        if (json)
            eval_json_summary(json, &e, &tl);
        if (plot)
            ok = eval_plot_regions(s, ev, &pl, &e, &tl, extras.labels, json, d);
        rt_plan_free(&pl);
    } else {
        ok = false;
    }
    free(extras.labels);
    free(tl.confusion);
    free(t);
    return ok;
}
