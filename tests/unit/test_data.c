/* Datasets in the front end: the seeded split is reproducible, normalisation
 * takes its statistics from the training split only, and CSV paths are read
 * relative to the .nn file. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

/* Ten rows x = 0..8 and an outlier 100, y = the row index, so that every
 * row of a part can be traced back to its raw x. */
static const float raw_x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 100};

static const char *ten_rows(const char *extra)
{
    static char text[512];
    snprintf(text, sizeof text,
             "dataset d {\n"
             "    x = [[0], [1], [2], [3], [4], [5], [6], [7], [8], [100]]\n"
             "    y = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
             "    %s\n"
             "}\n",
             extra);
    return text;
}

/* The dataset named name in p. */
static const IrDataset *find_ds(const IrProgram *p, const char *name)
{
    for (size_t i = 0; i < p->n_datasets; i++)
        if (strcmp(p->datasets[i].name, name) == 0)
            return &p->datasets[i];
    cr_assert_fail("no dataset %s", name);
    return NULL;
}

/* The row indices (y) of d.train, in order. */
static void train_rows(Run *r, const char *extra, size_t *rows, size_t *n)
{
    IrProgram *p = expect_clean(r, ten_rows(extra));
    const IrDataset *train = find_ds(p, "d.train");
    *n = train->rows;
    for (size_t i = 0; i < train->rows; i++)
        rows[i] = (size_t)train->y[i];
}

Test(data, split_same_seed_same_rows)
{
    Run a, b;
    size_t ra[10], rb[10], na, nb;
    train_rows(&a, "split = 0.5  seed = 7", ra, &na);
    train_rows(&b, "split = 0.5  seed = 7", rb, &nb);
    cr_assert_eq(na, 5);
    cr_assert_eq(nb, 5);
    cr_assert_arr_eq(ra, rb, sizeof ra[0] * na);
    run_end(&a);
    run_end(&b);
}

Test(data, split_other_seed_other_rows)
{
    Run a, b;
    size_t ra[10], rb[10], na, nb;
    train_rows(&a, "split = 0.5  seed = 7", ra, &na);
    train_rows(&b, "split = 0.5  seed = 8", rb, &nb);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(ra, rb, sizeof ra[0] * na) != 0, "seeds 7 and 8 gave the same split");
    run_end(&a);
    run_end(&b);
}

Test(data, split_parts_partition_the_rows)
{
    Run r;
    IrProgram *p = expect_clean(&r, ten_rows("split = 0.7  seed = 3"));
    const IrDataset *train = find_ds(p, "d.train"), *test = find_ds(p, "d.test");
    cr_assert_eq(train->rows, 7);
    cr_assert_eq(test->rows, 3);
    int seen[10] = {0};
    for (size_t i = 0; i < train->rows; i++)
        seen[(size_t)train->y[i]]++;
    for (size_t i = 0; i < test->rows; i++)
        seen[(size_t)test->y[i]]++;
    for (size_t i = 0; i < 10; i++)
        cr_expect_eq(seen[i], 1, "row %zu appears %d times", i, seen[i]);
    run_end(&r);
}

/* Every row of ds is (raw - shift) / div, traced through y. */
static void expect_normalized(const IrDataset *ds, double shift, double div)
{
    for (size_t i = 0; i < ds->rows; i++) {
        double want = (raw_x[(size_t)ds->y[i]] - shift) / div;
        cr_expect_float_eq(ds->x[i], (float)want, 1e-6, "%s row %zu: %g, want %g", ds->name,
                           i, (double)ds->x[i], want);
    }
}

/* The dataset's recipe keeps the statistics normalize used (for emitters
 * that preprocess raw rows: --target pytorch's preprocess()). */
static void expect_recipe_stats(const IrDataSource *s, double shift, double div)
{
    cr_assert(s->norm_shift && s->norm_div, "the recipe has no statistics");
    cr_expect_float_eq(s->norm_shift[0], shift, 1e-12, "shift %g, want %g", s->norm_shift[0], shift);
    cr_expect_float_eq(s->norm_div[0], div, 1e-12, "div %g, want %g", s->norm_div[0], div);
}

/* Whether the train part of seed 0 holds row `row`. */
static bool train_has(const IrDataset *train, size_t row)
{
    for (size_t i = 0; i < train->rows; i++)
        if ((size_t)train->y[i] == row)
            return true;
    return false;
}

Test(data, minmax_uses_training_rows_only)
{
    Run r;
    IrProgram *p = expect_clean(&r, ten_rows("split = 0.5  seed = 0  normalize = minmax"));
    const IrDataset *train = find_ds(p, "d.train");
    /* The case only tells the two apart when the outlier is held out. */
    cr_assert(!train_has(train, 9), "seed 0 put the outlier in train; pick another seed");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < train->rows; i++) {
        lo = fmin(lo, raw_x[(size_t)train->y[i]]);
        hi = fmax(hi, raw_x[(size_t)train->y[i]]);
    }
    cr_assert(hi < 100);
    expect_normalized(train, lo, hi - lo);
    expect_normalized(find_ds(p, "d.test"), lo, hi - lo);
    expect_normalized(find_ds(p, "d"), lo, hi - lo);
    expect_recipe_stats(find_ds(p, "d")->source, lo, hi - lo);
    /* The held-out outlier lies far beyond 1: statistics over all rows
     * would have put it at exactly 1. */
    const IrDataset *whole = find_ds(p, "d");
    cr_expect_gt(whole->x[9], 10.0f);
    run_end(&r);
}

Test(data, standard_uses_training_rows_only)
{
    Run r;
    IrProgram *p = expect_clean(&r, ten_rows("split = 0.5  seed = 0  normalize = standard"));
    const IrDataset *train = find_ds(p, "d.train");
    cr_assert(!train_has(train, 9));
    double mean = 0, sq = 0;
    for (size_t i = 0; i < train->rows; i++)
        mean += raw_x[(size_t)train->y[i]];
    mean /= (double)train->rows;
    for (size_t i = 0; i < train->rows; i++)
        sq += pow(raw_x[(size_t)train->y[i]] - mean, 2);
    double sd = sqrt(sq / (double)train->rows);
    expect_normalized(train, mean, sd);
    expect_normalized(find_ds(p, "d.test"), mean, sd);
    expect_normalized(find_ds(p, "d"), mean, sd);
    expect_recipe_stats(find_ds(p, "d")->source, mean, sd);
    /* Train itself has mean 0 and standard deviation 1; the whole set not. */
    double tm = 0, wm = 0;
    for (size_t i = 0; i < train->rows; i++)
        tm += train->x[i];
    const IrDataset *whole = find_ds(p, "d");
    for (size_t i = 0; i < whole->rows; i++)
        wm += whole->x[i];
    cr_expect_float_eq(tm / (double)train->rows, 0.0, 1e-6);
    cr_expect_gt(wm / (double)whole->rows, 0.5);
    run_end(&r);
}

Test(data, normalize_without_split_uses_every_row)
{
    Run r;
    IrProgram *p = expect_clean(&r, ten_rows("normalize = minmax"));
    expect_normalized(find_ds(p, "d"), 0, 100);
    expect_recipe_stats(find_ds(p, "d")->source, 0, 100);
    run_end(&r);
}

/* ---- CSV paths ----------------------------------------------------------- */

static char dir[64];
static char nn_path[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/nnc-data-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char sub[128], csv[160];
    snprintf(sub, sizeof sub, "%s/data", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(csv, sizeof csv, "%s/small.csv", sub);
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fputs("f1,f2,label\n0.5,2,1\n1.5,4,0\n2.5,8,1\n", f);
    fclose(f);
    snprintf(nn_path, sizeof nn_path, "%s/model.nn", dir);
}

static void remove_dir(void)
{
    char path[160];
    snprintf(path, sizeof path, "%s/data/small.csv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/data", dir);
    rmdir(path);
    rmdir(dir);
}

/* Compiles text as if read from nn_path (in the temporary folder). */
static IrProgram *compile_at(Run *r, const char *text)
{
    run_start(r, text);
    r->src.path = nn_path;
    r->ir = front_compile(&r->arena, &r->diag, &r->src);
    fflush(r->f);
    return r->ir;
}

Test(data, csv_path_relative_to_nn_file, .init = make_dir, .fini = remove_dir)
{
    Run r;
    /* The working folder has no data/small.csv: only the .nn file's has. */
    cr_assert_neq(access("data/small.csv", F_OK), 0);
    IrProgram *p = compile_at(&r, "dataset d { csv = \"data/small.csv\"  classes = 2 }\n");
    cr_assert_not_null(p, "%s", run_output(&r));
    const IrDataset *d = find_ds(p, "d");
    cr_assert_eq(d->rows, 3);
    cr_assert_eq(d->x_cols, 2);
    cr_assert_eq(d->y_cols, 1);
    cr_assert_eq(d->classes, 2);
    const float want_x[] = {0.5f, 2, 1.5f, 4, 2.5f, 8}, want_y[] = {1, 0, 1};
    cr_assert_arr_eq(d->x, want_x, sizeof want_x);
    cr_assert_arr_eq(d->y, want_y, sizeof want_y);
    run_end(&r);
}

Test(data, csv_absolute_path_as_written, .init = make_dir, .fini = remove_dir)
{
    Run r;
    char text[256];
    snprintf(text, sizeof text, "dataset d { csv = \"%s/data/small.csv\"  target = 0 }\n", dir);
    run_start(&r, text); /* t.nn: no folder, the path is absolute anyway */
    r.ir = front_compile(&r.arena, &r.diag, &r.src);
    cr_assert_not_null(r.ir, "%s", run_output(&r));
    const IrDataset *d = find_ds(r.ir, "d");
    const float want_x[] = {2, 1, 4, 0, 8, 1}, want_y[] = {0.5f, 1.5f, 2.5f};
    cr_assert_arr_eq(d->x, want_x, sizeof want_x);
    cr_assert_arr_eq(d->y, want_y, sizeof want_y);
    run_end(&r);
}

Test(data, csv_missing_relative_path_names_resolved_path, .init = make_dir, .fini = remove_dir)
{
    Run r;
    cr_assert_null(compile_at(&r, "dataset d {\n    csv = \"data/nope.csv\"\n}\n"));
    char want[256];
    snprintf(want, sizeof want, "%s:2:11: error: cannot open '%s/data/nope.csv': ", nn_path,
             dir);
    cr_expect(strstr(run_output(&r), want), "want %s\ngot:\n%s", want, run_output(&r));
    cr_expect(strstr(run_output(&r), "note: a relative csv path is read from the folder of "
                                     "the .nn file"),
              "%s", run_output(&r));
    run_end(&r);
}
