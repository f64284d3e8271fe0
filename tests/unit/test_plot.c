/* SVG plots: well-formed files, the right elements for the data, log axes
 * only when the data span decades, gaps for diverged points, decision
 * regions that follow the classifier, and atomic writes.
 * With NNC_PLOT_DEMO_DIR set, the "demo" test also leaves one chart of each
 * kind there, to look at (rsvg-convert FILE.svg -o FILE.png). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc/plot.h"

static char dir[64];
static char *diag_text;
static size_t diag_len;
static FILE *diag_out;
static Diag diag;

static void setup(void)
{
    strcpy(dir, "/tmp/nnc-plot-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    diag_out = open_memstream(&diag_text, &diag_len);
    diag_init(&diag, diag_out);
}

/* Empties dir (files and empty folders) and removes it. */
static void teardown(void)
{
    DIR *dh = opendir(dir);
    if (dh) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(dh)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) != 0)
                rmdir(path);
        }
        closedir(dh);
    }
    rmdir(dir);
    fclose(diag_out);
    free(diag_text);
}

TestSuite(plot, .init = setup, .fini = teardown);

static const char *in_dir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, mem);
    fclose(f);
    fclose(mem);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static bool contains_nocase(const char *text, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

static void assert_well_formed(const char *path)
{
    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        cr_log_warn("xmllint is missing (apt-get install libxml2-utils): "
                    "not checking that %s is well-formed XML", path);
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
    cr_assert_eq(system(cmd), 0, "%s is not well-formed XML", path);
}

static const char *diag_str(void)
{
    fflush(diag_out);
    return diag_text ? diag_text : "";
}

/* ---- line charts ---- */

enum { EPOCHS = 50 };
static double epochs[EPOCHS];

/* loss[i] = start * ratio^i */
static void fill_loss(double *loss, double start, double end)
{
    for (int i = 0; i < EPOCHS; i++) {
        epochs[i] = i + 1;
        loss[i] = start * pow(end / start, i / (double)(EPOCHS - 1));
    }
}

static char *render_lines(const char *name, const PlotSeries *s, size_t n)
{
    const char *path = in_dir(name);
    cr_assert(plot_lines(&diag, path, "Training loss", "epoch", "loss", s, n), "%s",
              diag_str());
    assert_well_formed(path);
    return slurp(path);
}

Test(plot, lines_one_path_per_series_and_legend)
{
    double a[EPOCHS], b[EPOCHS], c[EPOCHS];
    fill_loss(a, 0.7, 0.3);
    fill_loss(b, 0.7, 0.5);
    fill_loss(c, 0.8, 0.6);
    PlotSeries s[] = {{"lr=0.1", epochs, a, EPOCHS},
                      {"lr=0.01", epochs, b, EPOCHS},
                      {"a<b & \"c\"", epochs, c, EPOCHS}};
    char *svg = render_lines("lines.svg", s, 3);
    cr_assert_eq(count(svg, "class=\"series\""), 3);
    cr_assert_eq(count(svg, "<path class=\"series\""), 3);
    cr_assert_not_null(strstr(svg, ">lr=0.1</text>"));
    cr_assert_not_null(strstr(svg, ">lr=0.01</text>"));
    cr_assert_not_null(strstr(svg, ">a&lt;b &amp; &quot;c&quot;</text>"), "labels are escaped");
    cr_assert_not_null(strstr(svg, ">Training loss</text>"));
    cr_assert_not_null(strstr(svg, ">epoch</text>"));
    cr_assert_not_null(strstr(svg, ">loss</text>"), "linear axis: the label as given");
    cr_assert_null(strstr(svg, "log scale"));
    /* Distinct colours for the three series. */
    const char *p0 = strstr(svg, "data-series=\"0\""), *p1 = strstr(svg, "data-series=\"1\"");
    cr_assert(p0 && p1);
    cr_assert_neq(strncmp(strstr(p0, "stroke="), strstr(p1, "stroke="), 16), 0);
    free(svg);
}

Test(plot, log_axis_when_losses_span_decades)
{
    double a[EPOCHS], b[EPOCHS];
    fill_loss(a, 2.0, 0.0005);
    fill_loss(b, 1.0, 0.2);
    PlotSeries s[] = {{"fast", epochs, a, EPOCHS}, {"slow", epochs, b, EPOCHS}};
    char *svg = render_lines("log.svg", s, 2);
    cr_assert_not_null(strstr(svg, ">loss (log scale)</text>"));
    /* Ticks at powers of ten. */
    cr_assert_not_null(strstr(svg, ">0.001</text>"));
    cr_assert_not_null(strstr(svg, ">0.01</text>"));
    cr_assert_not_null(strstr(svg, ">0.1</text>"));
    cr_assert_not_null(strstr(svg, ">1</text>"));
    free(svg);
}

Test(plot, linear_axis_up_to_two_decades)
{
    double a[EPOCHS];
    fill_loss(a, 1.0, 0.01); /* exactly two decades: still linear */
    PlotSeries s = {"loss", epochs, a, EPOCHS};
    char *svg = render_lines("lin.svg", &s, 1);
    cr_assert_null(strstr(svg, "log scale"));
    cr_assert_not_null(strstr(svg, ">0.2</text>"), "1-2-5 ticks on a linear axis");
    cr_assert_not_null(strstr(svg, ">1.0</text>"));
    free(svg);

    fill_loss(a, 1.0, 0.0099); /* a little more: log */
    svg = render_lines("log2.svg", &s, 1);
    cr_assert_not_null(strstr(svg, "(log scale)"));
    free(svg);

    a[EPOCHS / 2] = -0.5; /* a negative value keeps the axis linear */
    svg = render_lines("neg.svg", &s, 1);
    cr_assert_null(strstr(svg, "log scale"));
    cr_assert_not_null(strstr(svg, ">-0.5</text>"), "the negative half is shown");
    free(svg);
}

Test(plot, non_finite_points_break_the_line)
{
    double a[EPOCHS], b[EPOCHS];
    fill_loss(a, 0.7, 0.1);
    fill_loss(b, 0.7, 0.2);
    a[10] = NAN;
    a[20] = INFINITY;
    a[21] = -INFINITY;
    a[30] = NAN; /* a[29] and a[31] are then lone points: drawn as dots */
    a[32] = NAN;
    double all_nan[3] = {NAN, NAN, NAN};
    PlotSeries s[] = {{"diverges", epochs, a, EPOCHS},
                      {"fine", epochs, b, EPOCHS},
                      {"nothing", epochs, all_nan, 3}};
    char *svg = render_lines("nan.svg", s, 3);
    cr_assert_not(contains_nocase(svg, "nan"), "no NaN printed");
    cr_assert_not(contains_nocase(svg, "inf"), "no inf printed");
    cr_assert_eq(count(svg, "<path class=\"series\""), 3);
    /* The first series' path: one subpath per finite stretch. */
    char *d = strstr(strstr(svg, "data-series=\"0\""), " d=\"");
    char *end = strchr(d + 4, '"');
    *end = '\0';
    cr_assert_eq(count(d, "M"), 5, "runs 1-10, 12-20, 23-30, 31-31, 33-50: %s", d);
    cr_assert_eq(count(d, "h0"), 1, "a lone point is a dot");
    *end = '"';
    cr_assert_not_null(strstr(svg, ">diverges (diverged)</text>"));
    cr_assert_eq(count(svg, "class=\"diverged\""), 1, "an x where 'diverges' blew up");
    cr_assert_not_null(strstr(svg, ">fine</text>"));
    free(svg);
}

Test(plot, all_non_finite_still_draws_a_chart)
{
    double y[2] = {NAN, INFINITY};
    PlotSeries s = {"lost", epochs, y, 2};
    char *svg = render_lines("none.svg", &s, 1);
    cr_assert_not_null(strstr(svg, "no finite values to plot"));
    cr_assert_not(contains_nocase(svg, "nan"));
    free(svg);
}

Test(plot, output_is_reproducible)
{
    double a[EPOCHS];
    fill_loss(a, 3.0, 0.001);
    a[7] = NAN;
    PlotSeries s = {"run", epochs, a, EPOCHS};
    char *one = render_lines("one.svg", &s, 1);
    char *two = render_lines("two.svg", &s, 1);
    cr_assert_str_eq(one, two);
    cr_assert_null(strstr(one, "-0.00"), "no negative zero");
    free(one);
    free(two);
}

/* ---- decision regions ---- */

typedef struct Probe {
    int mode;         /* which classifier */
    size_t calls;
    double min[2], max[2]; /* range of the arguments seen */
} Probe;

static int probe_classify(void *ctx, double x1, double x2)
{
    Probe *p = ctx;
    p->calls++;
    double v[2] = {x1, x2};
    for (int a = 0; a < 2; a++) {
        p->min[a] = fmin(p->min[a], v[a]);
        p->max[a] = fmax(p->max[a], v[a]);
    }
    switch (p->mode) {
    case 0: return x1 < 0 ? 0 : 1;     /* left | right */
    case 1: return x2 > 0.5 ? 2 : 0;   /* top: class 2 */
    case 2: return 12;                 /* out of range */
    default: return x1 * x1 + x2 * x2 < 0.5 ? 0 : x1 > 0 ? 1 : 2;
    }
}

enum { N_POINTS = 8 };
static const double POINTS[N_POINTS][2] = {
    {-1, -1}, {-1, 1}, {1, -1}, {1, 1}, {-0.5, 0.2}, {0.5, -0.2}, {-0.8, 0.9}, {0.7, 0.6}};

typedef struct Rect {
    double x0, x1, y0, y1;
} Rect;

/* The rectangles "M x0 y0 H x1 V y1 H x0 Z" of the region path of class c. */
static size_t region_rects(const char *svg, int c, Rect *out, size_t max)
{
    char tag[64];
    snprintf(tag, sizeof tag, "<path class=\"region\" data-class=\"%d\"", c);
    const char *p = strstr(svg, tag);
    if (!p)
        return 0;
    p = strstr(p, " d=\"") + 4;
    size_t n = 0;
    Rect r;
    double back;
    int used;
    while (n < max && sscanf(p, "M%lf %lfH%lfV%lfH%lfZ%n", &r.x0, &r.y0, &r.x1, &r.y1, &back,
                             &used) == 5) {
        cr_assert_eq(back, r.x0);
        out[n++] = r;
        p += used;
    }
    cr_assert_eq(*p, '"', "region path parsed to its end");
    return n;
}

static char *render_regions(const char *name, Probe *probe)
{
    const char *path = in_dir(name);
    int labels[N_POINTS];
    for (int i = 0; i < N_POINTS; i++)
        labels[i] = POINTS[i][0] < 0 ? 0 : 1;
    probe->min[0] = probe->min[1] = INFINITY;
    probe->max[0] = probe->max[1] = -INFINITY;
    cr_assert(plot_decision_regions(&diag, path, "Decision regions", &POINTS[0][0], labels,
                                    N_POINTS, probe_classify, probe),
              "%s", diag_str());
    assert_well_formed(path);
    return slurp(path);
}

Test(plot, region_cells_take_the_classifier_classes)
{
    Probe probe = {.mode = 0};
    char *svg = render_regions("regions.svg", &probe);
    cr_assert_eq(probe.calls, (size_t)PLOT_REGION_GRID * PLOT_REGION_GRID);
    /* Cell centres cover the data's box plus a margin, inside a 10% margin. */
    for (int a = 0; a < 2; a++) {
        cr_assert(probe.min[a] < -1 && probe.min[a] > -1.2, "min %g", probe.min[a]);
        cr_assert(probe.max[a] > 1 && probe.max[a] < 1.2, "max %g", probe.max[a]);
    }
    static Rect left[PLOT_REGION_GRID * 2], right[PLOT_REGION_GRID * 2];
    size_t nl = region_rects(svg, 0, left, PLOT_REGION_GRID * 2);
    size_t nr = region_rects(svg, 1, right, PLOT_REGION_GRID * 2);
    cr_assert_eq(nl, PLOT_REGION_GRID, "one run of class 0 per row");
    cr_assert_eq(nr, PLOT_REGION_GRID, "one run of class 1 per row");
    cr_assert_null(strstr(svg, "data-class=\"2\" fill"), "no class the classifier never gave");
    for (size_t i = 0; i < nl; i++) {
        cr_assert_eq(left[i].x1, left[0].x1, "a straight boundary");
        cr_assert_eq(right[i].x0, left[0].x1, "class 1 begins where class 0 ends");
        cr_assert_lt(left[i].x0, left[i].x1);
        cr_assert_lt(right[i].x0, right[i].x1);
    }
    /* Half the columns each, since the box is symmetric around x1 = 0. */
    double wl = left[0].x1 - left[0].x0, wr = right[0].x1 - right[0].x0;
    cr_assert_lt(fabs(wl - wr), 0.01, "%g vs %g", wl, wr);
    cr_assert_not_null(strstr(svg, "<path class=\"boundary\""));
    cr_assert_eq(count(svg, "class=\"point\" data-class=\"0\""), 4 + 1, "4 points + legend");
    cr_assert_eq(count(svg, "class=\"point\" data-class=\"1\""), 4 + 1);
    cr_assert_not_null(strstr(svg, ">class 0</text>"));
    cr_assert_not_null(strstr(svg, ">class 1</text>"));
    free(svg);
}

Test(plot, regions_keep_x2_upwards)
{
    Probe probe = {.mode = 1};
    char *svg = render_regions("bands.svg", &probe);
    static Rect top[PLOT_REGION_GRID], bottom[PLOT_REGION_GRID];
    size_t nt = region_rects(svg, 2, top, PLOT_REGION_GRID);
    size_t nb = region_rects(svg, 0, bottom, PLOT_REGION_GRID);
    cr_assert(nt > 0 && nb > 0);
    cr_assert_eq(nt + nb, PLOT_REGION_GRID, "one run per row, full width");
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < nb; j++)
            cr_assert_leq(top[i].y1, bottom[j].y0, "x2 > 0.5 is drawn above the rest");
    /* Class 2 is in the legend from the regions; class 1 from the labels. */
    cr_assert_not_null(strstr(svg, ">class 2</text>"));
    cr_assert_not_null(strstr(svg, ">class 1</text>"));
    free(svg);
}

Test(plot, bad_classes_are_reported)
{
    Probe probe = {.mode = 2};
    int labels[N_POINTS] = {0};
    const char *path = in_dir("bad.svg");
    cr_assert_not(plot_decision_regions(&diag, path, NULL, &POINTS[0][0], labels, N_POINTS,
                                        probe_classify, &probe));
    cr_assert_not_null(strstr(diag_str(), "class 12"), "%s", diag_str());
    cr_assert_neq(access(path, F_OK), 0, "nothing written");

    probe.mode = 0;
    labels[3] = -1;
    cr_assert_not(plot_decision_regions(&diag, path, NULL, &POINTS[0][0], labels, N_POINTS,
                                        probe_classify, &probe));
    cr_assert_not_null(strstr(diag_str(), "point 4 has class -1"), "%s", diag_str());
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_eq(diag.errors, 2);
}

/* ---- functions ---- */

static double f_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double f_relu(double x) { return x > 0 ? x : 0; }
static double f_leaky(double x) { return x > 0 ? x : 0.1 * x; }
static double f_step(double x) { return x > 0 ? 1 : 0; }
static double f_identity(double x) { return x; }
static double f_nan(double x) { return x * NAN; }

static const PlotFunction ACTIVATIONS[] = {
    {"sigmoid", f_sigmoid}, {"tanh", tanh},         {"relu", f_relu},
    {"leaky_relu 0.1", f_leaky}, {"step", f_step}, {"identity", f_identity},
};

Test(plot, one_panel_per_function)
{
    const char *path = in_dir("act.svg");
    cr_assert(plot_functions(&diag, path, "Activation functions", ACTIVATIONS, 6), "%s",
              diag_str());
    assert_well_formed(path);
    char *svg = slurp(path);
    cr_assert_eq(count(svg, "<path class=\"function\""), 6);
    for (size_t i = 0; i < 6; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, ">%s</text>", ACTIVATIONS[i].name);
        cr_assert_not_null(strstr(svg, needle), "%s", needle);
    }
    cr_assert_not_null(strstr(svg, ">-4</text>"), "x ticks over [-5, 5]");
    free(svg);

    PlotFunction broken = {"broken", f_nan};
    cr_assert(plot_functions(&diag, path, NULL, &broken, 1));
    svg = slurp(path);
    cr_assert_not_null(strstr(svg, "no finite values"));
    cr_assert_not(contains_nocase(svg, "nan"));
    free(svg);
}

/* ---- files ---- */

Test(plot, unwritable_path_reports_and_leaves_nothing)
{
    double y[3] = {1, 2, 3}, x[3] = {1, 2, 3};
    PlotSeries s = {"a", x, y, 3};
    const char *missing = "/nonexistent-nnc-plot-dir/loss.svg";
    cr_assert_not(plot_lines(&diag, missing, NULL, NULL, NULL, &s, 1));
    cr_assert_not_null(strstr(diag_str(), missing), "%s", diag_str());
    cr_assert_neq(access(missing, F_OK), 0);

    /* A folder where the file should go: the rename fails at the end. */
    const char *folder = in_dir("taken");
    cr_assert_eq(mkdir(folder, 0700), 0);
    cr_assert_not(plot_lines(&diag, folder, NULL, NULL, NULL, &s, 1));
    cr_assert_eq(diag.errors, 2);
    struct stat st;
    cr_assert(stat(folder, &st) == 0 && S_ISDIR(st.st_mode), "the folder is untouched");
    DIR *dh = opendir(dir);
    struct dirent *e;
    size_t entries = 0;
    while ((e = readdir(dh)) != NULL)
        if (e->d_name[0] != '.')
            entries++;
    closedir(dh);
    cr_assert_eq(entries, 1, "no temporary file left beside it");
}

/* ---- demo ---- */

static int demo_classify(void *ctx, double x1, double x2)
{
    (void)ctx;
    /* XOR-like: the class of the quadrant, with a curved boundary. */
    return (x1 - 0.5) * (x2 - 0.5) + 0.03 * sin(6 * x1) > 0 ? 0 : 1;
}

static int demo_classify3(void *ctx, double x1, double x2)
{
    (void)ctx;
    double a = atan2(x2, x1);
    return a < -1.0 ? 0 : a < 1.2 ? 1 : 2;
}

Test(plot, demo)
{
    const char *out = getenv("NNC_PLOT_DEMO_DIR");
    char path[512];
    const char *base = out && *out ? out : dir;

    /* A learning-rate sweep: one run diverges, the others fall over decades. */
    enum { N = 200 };
    static double ep[N], l1[N], l2[N], l3[N], l4[N];
    for (int i = 0; i < N; i++) {
        ep[i] = i + 1;
        l1[i] = 0.69 * exp(-i / 25.0) + 0.0008;
        l2[i] = 0.69 * exp(-i / 80.0) + 0.01;
        l3[i] = 0.25 + 0.45 * exp(-i / 150.0) + 0.01 * sin(i / 3.0);
        l4[i] = i < 60 ? 0.69 * exp(i / 40.0) : NAN;
    }
    PlotSeries sweep[] = {{"lr=0.5", ep, l1, N},
                          {"lr=0.1", ep, l2, N},
                          {"lr=0.01", ep, l3, N},
                          {"lr=5", ep, l4, N}};
    snprintf(path, sizeof path, "%s/loss-sweep.svg", base);
    cr_assert(plot_lines(&diag, path, "Loss per epoch, learning-rate sweep", "epoch", "loss",
                         sweep, 4),
              "%s", diag_str());
    assert_well_formed(path);
    snprintf(path, sizeof path, "%s/loss-linear.svg", base);
    cr_assert(plot_lines(&diag, path, "XORNet loss", "epoch", "loss", &sweep[2], 1));
    assert_well_formed(path);

    static double pts[200][2];
    static int lab[200];
    unsigned seed = 7;
    for (int i = 0; i < 200; i++) {
        seed = seed * 1103515245u + 12345u;
        pts[i][0] = (seed >> 8) % 1000 / 1000.0;
        seed = seed * 1103515245u + 12345u;
        pts[i][1] = (seed >> 8) % 1000 / 1000.0;
        lab[i] = demo_classify(NULL, pts[i][0], pts[i][1]);
        if (i % 23 == 0)
            lab[i] = 1 - lab[i]; /* a few misclassified points */
    }
    snprintf(path, sizeof path, "%s/regions.svg", base);
    cr_assert(plot_decision_regions(&diag, path, "XORNet decision regions", &pts[0][0], lab,
                                    200, demo_classify, NULL),
              "%s", diag_str());
    assert_well_formed(path);
    for (int i = 0; i < 200; i++) {
        pts[i][0] = pts[i][0] * 4 - 2;
        pts[i][1] = pts[i][1] * 4 - 2;
        lab[i] = demo_classify3(NULL, pts[i][0], pts[i][1]);
    }
    snprintf(path, sizeof path, "%s/regions3.svg", base);
    cr_assert(plot_decision_regions(&diag, path, "Three classes", &pts[0][0], lab, 200,
                                    demo_classify3, NULL));
    assert_well_formed(path);

    /* Crowded: more series than legend rows, long labels, huge x, tiny y. */
    enum { MANY = 24 };
    static double ys[MANY][N], big_x[N];
    static char names[MANY][80];
    PlotSeries many[MANY];
    for (int i = 0; i < N; i++)
        big_x[i] = 10000.0 * i;
    for (int k = 0; k < MANY; k++) {
        for (int i = 0; i < N; i++)
            ys[k][i] = 1e-5 * (3 + k * 0.1 + exp(-i / (10.0 + k)));
        snprintf(names[k], sizeof names[k], "hidden=%d, lr=0.0%d, a rather long run name",
                 k * 4, k + 1);
        many[k] = (PlotSeries){names[k], big_x, ys[k], N};
    }
    snprintf(path, sizeof path, "%s/crowded.svg", base);
    cr_assert(plot_lines(&diag, path, "A sweep with far too many runs for one chart", "sample",
                         "loss", many, MANY));
    assert_well_formed(path);
    char *svg = slurp(path);
    cr_assert_not_null(strstr(svg, " more</text>"), "legend rows that do not fit are counted");
    free(svg);

    snprintf(path, sizeof path, "%s/activations.svg", base);
    cr_assert(plot_functions(&diag, path, "Activation functions", ACTIVATIONS, 6));
    assert_well_formed(path);
}
