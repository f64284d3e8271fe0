/* Datasets: inline x/y lists or a CSV file (lower_csv.c) -> float matrices,
 * then scale, split and normalize. A `split` dataset lowers to three
 * IrDatasets: NAME (as written), NAME.train and NAME.test, or four with
 * NAME.valid (rows shuffled by a seeded generator of our own, so every
 * machine agrees). */
#include <math.h>
#include <string.h>

#include "lower.h"

enum { DP_X, DP_Y, DP_CSV, DP_HEADER, DP_TARGET, DP_CLASSES, DP_SCALE, DP_NORMALIZE,
       DP_SPLIT, DP_SEED, DP_COUNT };

static const char *const target_choices[] = {"last", "first", NULL};
static const char *const normalize_choices[] = {"minmax", "standard", NULL};

static const Range classes_range = {2, (double)LOWER_MAX_UNITS, false, false, true};
static const Range split_range = {0, 1, true, true, false};
static const Range seed_range = {0, LOWER_MAX_SEED, false, false, true};

static const PropSpec dataset_props[DP_COUNT] = {
    [DP_X] = {"x", PT_LIST, NULL, NULL},
    [DP_Y] = {"y", PT_LIST, NULL, NULL},
    [DP_CSV] = {"csv", PT_STRING, NULL, NULL},
    [DP_HEADER] = {"header", PT_BOOL, NULL, NULL},
    [DP_TARGET] = {"target", PT_COLUMN, target_choices, NULL},
    [DP_CLASSES] = {"classes", PT_INT, NULL, &classes_range},
    [DP_SCALE] = {"scale", PT_NUMBER, NULL, NULL},
    [DP_NORMALIZE] = {"normalize", PT_IDENT, normalize_choices, NULL},
    [DP_SPLIT] = {"split", PT_SPLIT, NULL, &split_range},
    [DP_SEED] = {"seed", PT_INT, NULL, &seed_range},
};

/* ---- the shuffle generator: xoroshiro128+ seeded through splitmix64 ---- */

typedef struct Rng {
    uint64_t s[2];
} Rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(Rng *r, uint64_t seed)
{
    r->s[0] = splitmix64(&seed);
    r->s[1] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(Rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    r->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    r->s[1] = rotl(s1, 37);
    return result;
}

/* Uniform in [0, bound) without modulo bias. */
static uint64_t rng_below(Rng *r, uint64_t bound)
{
    uint64_t threshold = -bound % bound;
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

/* ---- inline data ------------------------------------------------------- */

/* `classes` on an inline dataset: y is one integer label per row. */
static bool data_check_labels(Lower *c, const AstProp *y, const Matrix *ym, double classes)
{
    if (ym->cols != 1) {
        diag_error(c->diag, y->value->loc,
                   "classes = %.0f needs one integer label per row in y, but y has %zu columns",
                   classes, ym->cols);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < ym->rows; i++) {
        double v = ym->data[i];
        if (floor(v) == v && v >= 0 && v < classes)
            continue;
        diag_error(c->diag, matrix_elem_loc(y->value, i, 0),
                   "label %.9g in row %zu is not an integer in 0..%.0f (classes = %.0f)", v,
                   i + 1, classes - 1, classes);
        ok = false;
    }
    return ok;
}

/* normalize = minmax (each column to [0, 1]) or standard (mean 0, std 1),
 * as x' = (x - shift[j]) / div[j] with div[j] == 0 for a constant column
 * (which becomes 0). The statistics come from the given rows only: the
 * training split, so that nothing about the test rows leaks into training. */
typedef struct NormStats {
    double *shift, *div;
} NormStats;

static bool data_norm_stats(Lower *c, const float *x, size_t rows, size_t cols, bool standard,
                            NormStats *st)
{
    st->shift = arena_array(c->arena, cols, sizeof(double));
    st->div = arena_array(c->arena, cols, sizeof(double));
    if (!st->shift || !st->div)
        return false;
    for (size_t j = 0; j < cols; j++) {
        double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
        for (size_t i = 0; i < rows; i++) {
            double v = x[i * cols + j];
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            sum += v;
        }
        double mean = sum / (double)rows;
        for (size_t i = 0; i < rows; i++)
            sq += (x[i * cols + j] - mean) * (x[i * cols + j] - mean);
        double sd = sqrt(sq / (double)rows);
        st->shift[j] = standard ? mean : lo;
        st->div[j] = standard ? sd : hi - lo;
    }
    return true;
}

static void data_norm_apply(float *x, size_t rows, size_t cols, const NormStats *st)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double v = x[i * cols + j];
            x[i * cols + j] = (float)(st->div[j] > 0 ? (v - st->shift[j]) / st->div[j] : 0);
        }
}

static size_t data_push(Lower *c, const IrDataset *ds)
{
    IrProgram *p = c->prog;
    p->datasets[p->n_datasets] = *ds;
    return p->n_datasets++;
}

/* The split's part sizes: split = F gives round(rows * F) rows to train
 * and the rest to test; split = [T, V, S] (fractions summing to 1) gives
 * round(rows * T) to train, round(rows * V) to valid, the rest to test.
 * Reports a part left empty or fractions that do not add up. */
enum { SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST, SPLIT_PARTS };
static const char *const split_part_names[SPLIT_PARTS] = {"train", "valid", "test"};

static bool split_fractions(Lower *c, const AstValue *v, double frac[SPLIT_PARTS], bool *valid)
{
    *valid = v->kind == AST_LIST;
    if (!*valid) {
        frac[SPLIT_TRAIN] = v->number, frac[SPLIT_VALID] = 0;
        frac[SPLIT_TEST] = 1.0 - v->number;
        return true;
    }
    if (v->n != SPLIT_PARTS) {
        diag_error(c->diag, v->loc, "split needs three fractions [train, valid, test], got %zu%s",
                   v->n, v->n == 2 ? "; for two parts write split = 0.8" : "");
        return false;
    }
    double sum = 0;
    size_t i = 0;
    for (const AstValue *f = v->items; f; f = f->next, i++) {
        if (!value_in_range(c, f, arena_printf(c->arena, "the %s fraction of split",
                                               split_part_names[i]), split_range, &frac[i]))
            return false;
        sum += frac[i];
    }
    if (fabs(sum - 1.0) > 1e-9) {
        diag_error(c->diag, v->loc, "the fractions of split add up to %.9g, not 1", sum);
        return false;
    }
    return true;
}

static bool split_sizes(Lower *c, const AstValue *v, size_t rows, size_t n[SPLIT_PARTS],
                        bool *valid)
{
    double frac[SPLIT_PARTS];
    if (!split_fractions(c, v, frac, valid))
        return false;
    n[SPLIT_TRAIN] = (size_t)floor((double)rows * frac[SPLIT_TRAIN] + 0.5);
    n[SPLIT_VALID] = *valid ? (size_t)floor((double)rows * frac[SPLIT_VALID] + 0.5) : 0;
    size_t used = n[SPLIT_TRAIN] + n[SPLIT_VALID];
    n[SPLIT_TEST] = used < rows ? rows - used : 0;
    for (int k = 0; k < SPLIT_PARTS; k++) {
        if (n[k] > 0 || (k == SPLIT_VALID && !*valid))
            continue;
        const char *written = *valid ? arena_printf(c->arena, "[%s, %s, %s]",
                                                    number_text(c, frac[SPLIT_TRAIN]),
                                                    number_text(c, frac[SPLIT_VALID]),
                                                    number_text(c, frac[SPLIT_TEST]))
                                     : number_text(c, frac[SPLIT_TRAIN]);
        diag_error(c->diag, v->loc, "split %s of %zu rows leaves the %s part empty", written,
                   rows, split_part_names[k]);
        return false;
    }
    return true;
}

/* Adds NAME.train, NAME.valid (with three fractions) and NAME.test: rows
 * shuffled with `seed`, then cut in that order (split_sizes). The parts
 * share one shuffled copy of x, returned in *shuffled (train rows first,
 * *n_train of them) for normalisation. */
static bool data_split(Lower *c, DataSym *sym, const IrDataset *whole, const AstProp *split_prop,
                       uint64_t seed, float **shuffled, size_t *n_train_out)
{
    size_t rows = whole->rows, n[SPLIT_PARTS];
    bool valid;
    if (!split_sizes(c, split_prop->value, rows, n, &valid))
        return false;
    size_t *order = arena_array(c->arena, rows, sizeof *order);
    float *x = arena_array(c->arena, rows, whole->x_cols * sizeof(float));
    float *y = arena_array(c->arena, rows, whole->y_cols * sizeof(float));
    if (!order || !x || !y) {
        diag_error(c->diag, split_prop->loc, "out of memory splitting the dataset");
        return false;
    }
    for (size_t i = 0; i < rows; i++)
        order[i] = i;
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = rows - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)rng_below(&rng, (uint64_t)i + 1);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < rows; i++) {
        memcpy(x + i * whole->x_cols, whole->x + order[i] * whole->x_cols,
               whole->x_cols * sizeof(float));
        if (whole->y_cols)
            memcpy(y + i * whole->y_cols, whole->y + order[i] * whole->y_cols,
                   whole->y_cols * sizeof(float));
    }
    static const DataPart kinds[SPLIT_PARTS] = {DATA_TRAIN, DATA_VALID, DATA_TEST};
    size_t *slot[SPLIT_PARTS] = {&sym->train, &sym->valid, &sym->test};
    size_t first = 0;
    for (int k = 0; k < SPLIT_PARTS; k++) {
        if (k == SPLIT_VALID && !valid)
            continue;
        IrDataset part = *whole;
        part.name = arena_printf(c->arena, "%s.%s", whole->name, split_part_names[k]);
        part.part = kinds[k];
        part.rows = n[k];
        part.x = x + first * whole->x_cols;
        part.y = whole->y_cols ? y + first * whole->y_cols : NULL;
        *slot[k] = data_push(c, &part);
        first += n[k];
    }
    sym->split = true;
    sym->has_valid = valid;
    *shuffled = x;
    *n_train_out = n[SPLIT_TRAIN];
    return true;
}

/* Properties that only make sense for a CSV file, or only without one. */
static bool data_reject(Lower *c, const AstProp **slots, const int *which, size_t n,
                        const char *why)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const AstProp *p = slots[which[i]];
        if (p) {
            diag_error(c->diag, p->loc, "'%s' %s", p->name, why);
            ok = false;
        }
    }
    return ok;
}

/* Reads and cross-checks x and y; fills ds. */
static bool data_read_xy(Lower *c, const AstProp **slots, IrDataset *ds)
{
    const AstProp *xp = slots[DP_X], *yp = slots[DP_Y];
    if (!xp)
        return false;
    Matrix xm, ym = {0};
    bool ok = value_matrix(c, xp->value, "x", &xm);
    if (yp)
        ok &= value_matrix(c, yp->value, "y", &ym);
    else
        ym.rows = xm.rows; /* inputs only: evaluate prints outputs, no accuracy */
    if (!ok)
        return false;
    if (xm.rows == 0) {
        diag_error(c->diag, xp->value->loc, "x must not be empty");
        return false;
    }
    if (xm.rows != ym.rows) {
        diag_error(c->diag, yp->value->loc, "x has %zu rows but y has %zu", xm.rows, ym.rows);
        return false;
    }
    ds->rows = xm.rows;
    ds->x_cols = xm.cols;
    ds->y_cols = ym.cols;
    ds->x = xm.data;
    ds->y = ym.data;
    const AstProp *cp = slots[DP_CLASSES];
    double classes = 0;
    if (cp && !yp) {
        diag_error(c->diag, cp->loc, "classes needs y (one integer label per row)");
        return false;
    }
    if (cp) {
        classes = cp->value->number;
        if (!data_check_labels(c, yp, &ym, classes))
            return false;
        ds->classes = (int)classes;
    }
    return true;
}

/* The rows and columns, from inline lists or from a CSV file. */
static bool data_read(Lower *c, const AstDecl *d, const AstProp **slots, bool ok, IrDataset *ds)
{
    static const int csv_only[] = {DP_HEADER, DP_TARGET};
    static const int inline_only[] = {DP_X, DP_Y};
    if (props_find(d->props, "csv")) {
        ok &= data_reject(c, slots, inline_only, 2, "cannot be combined with csv: the data "
                                                    "comes from the file");
        if (!ok || !slots[DP_CSV])
            return false;
        CsvProps p = {slots[DP_CSV], slots[DP_HEADER], slots[DP_TARGET], slots[DP_CLASSES]};
        return lower_csv(c, &p, ds);
    }
    if (!props_find(d->props, "x")) {
        diag_error(c->diag, d->name_loc,
                   "dataset '%s' needs x (the inputs, one row per sample) or csv (a file)",
                   d->name);
        ok = false;
    }
    ok &= data_reject(c, slots, csv_only, 2, "applies only to csv datasets");
    return data_read_xy(c, slots, ds) && ok;
}

/* scale multiplies every feature (x only), before the split. */
static bool data_scale(Lower *c, const AstProp *scale, IrDataset *ds)
{
    if (!scale)
        return true;
    float *x = (float *)ds->x;
    size_t n = ds->rows * ds->x_cols;
    double s = scale->value->number;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(x[i] * s);
        if (!isfinite(x[i])) {
            diag_error(c->diag, scale->value->loc, "scale makes x overflow a float");
            return false;
        }
    }
    return true;
}

/* normalize, with statistics from the training rows when there is a split
 * (shuffled holds train then test rows), else from every row; applied to
 * the whole dataset and to both parts alike. */
static bool data_normalize(Lower *c, const AstProp *normalize, IrDataset *ds, float *shuffled,
                           size_t n_train, IrDataSource *src)
{
    if (!normalize)
        return true;
    bool standard = strcmp(normalize->value->text, "standard") == 0;
    NormStats st;
    bool ok = shuffled ? data_norm_stats(c, shuffled, n_train, ds->x_cols, standard, &st)
                       : data_norm_stats(c, ds->x, ds->rows, ds->x_cols, standard, &st);
    if (!ok) {
        diag_error(c->diag, normalize->loc, "out of memory normalising the dataset");
        return false;
    }
    src->norm_shift = st.shift; /* for emitters that preprocess raw rows */
    src->norm_div = st.div;
    data_norm_apply((float *)ds->x, ds->rows, ds->x_cols, &st);
    if (shuffled)
        data_norm_apply(shuffled, ds->rows, ds->x_cols, &st);
    return true;
}

/* The recipe of the dataset for emitters (IrDataSource): the properties,
 * and for inline data a copy of x before scale and normalize change it. */
static IrDataSource *data_source(Lower *c, const AstDecl *d, const AstProp **slots,
                                 const IrDataset *ds)
{
    IrDataSource *src = arena_alloc(c->arena, sizeof *src);
    if (!src)
        return NULL;
    *src = (IrDataSource){.name = d->name, .header = -1, .target = -1, .rows = ds->rows,
                          .x_cols = ds->x_cols, .y_cols = ds->y_cols, .classes = ds->classes};
    const AstProp *p;
    if ((p = slots[DP_CSV]) != NULL)
        src->csv = p->value->text;
    if ((p = slots[DP_HEADER]) != NULL)
        src->header = p->value->boolean;
    if ((p = slots[DP_TARGET]) != NULL)
        src->target = p->value->kind == AST_IDENT ? (strcmp(p->value->text, "first") ? -1 : 0)
                                                  : (long)p->value->number;
    if ((p = slots[DP_SCALE]) != NULL)
        src->has_scale = true, src->scale = p->value->number;
    if ((p = slots[DP_NORMALIZE]) != NULL)
        src->normalize = strcmp(p->value->text, "standard") ? NORM_MINMAX : NORM_STANDARD;
    if ((p = slots[DP_SPLIT]) != NULL && p->value->kind == AST_LIST && p->value->n == 3) {
        src->has_split = true;
        src->split = p->value->items->number;
        src->split_valid = p->value->items->next->number;
    } else if (p) {
        src->has_split = true, src->split = p->value->number;
    }
    if ((p = slots[DP_SEED]) != NULL)
        src->seed = (uint64_t)p->value->number;
    if (src->csv)
        return src;
    float *x = arena_array(c->arena, ds->rows, ds->x_cols * sizeof(float));
    if (!x)
        return NULL;
    memcpy(x, ds->x, ds->rows * ds->x_cols * sizeof(float));
    src->raw_x = x;
    src->raw_y = ds->y_cols ? ds->y : NULL; /* y is never scaled or normalised */
    return src;
}

void lower_dataset(Lower *c, const AstDecl *d, DataSym *sym)
{
    const AstProp *slots[DP_COUNT];
    bool ok = props_collect(c, d->props, dataset_props, DP_COUNT, "dataset block", slots);
    IrDataset ds = {.name = d->name, .loc = d->name_loc};
    if (!data_read(c, d, slots, ok, &ds))
        return;
    IrDataSource *src = data_source(c, d, slots, &ds);
    ds.source = src;
    if (!src) {
        diag_error(c->diag, d->name_loc, "out of memory");
        return;
    }
    if (!data_scale(c, slots[DP_SCALE], &ds))
        return;
    sym->whole = data_push(c, &ds);
    const AstProp *split = slots[DP_SPLIT], *seed = slots[DP_SEED];
    float *shuffled = NULL;
    size_t n_train = 0;
    if (split && !data_split(c, sym, &ds, split, seed ? (uint64_t)seed->value->number : 0,
                             &shuffled, &n_train))
        return;
    if (!data_normalize(c, slots[DP_NORMALIZE], &ds, shuffled, n_train, src))
        return;
    sym->ok = true;
}

const PropSpec *lower_dataset_spec(size_t *n)
{
    *n = DP_COUNT;
    return dataset_props;
}
