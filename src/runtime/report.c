/* The sparkline, the progress bar, the model summary, and small helpers for
 * --plot and --json (see report.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnc/plot.h"
#include "nnc/runtime.h"
#include "ops.h"
#include "report.h"
#include "session.h"

static const char *const spark_cells[8] = {
    "\xE2\x96\x81", "\xE2\x96\x82", "\xE2\x96\x83", "\xE2\x96\x84",
    "\xE2\x96\x85", "\xE2\x96\x86", "\xE2\x96\x87", "\xE2\x96\x88",
}; /* ▁▂▃▄▅▆▇█ */

/* Appends to buf like snprintf, never past size. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

void rt_sparkline_format(char *buf, size_t size, const double *loss, size_t n)
{
    size_t len = 0, finite = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    while (finite < n && isfinite(loss[finite]))
        finite++;
    append(buf, size, &len, "loss ");
    if (finite == 0) {
        append(buf, size, &len, "%s", n ? "nan" : "-");
        return;
    }
    /* Each cell is the mean of its share of the epochs, so a spike between
     * two samples still shows. */
    size_t cells = finite < RT_SPARK_WIDTH ? finite : RT_SPARK_WIDTH;
    double cell[RT_SPARK_WIDTH], lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < cells; i++) {
        size_t from = i * finite / cells, to = (i + 1) * finite / cells;
        double sum = 0.0;
        for (size_t j = from; j < to; j++)
            sum += loss[j];
        cell[i] = sum / (double)(to - from);
        lo = cell[i] < lo ? cell[i] : lo;
        hi = cell[i] > hi ? cell[i] : hi;
    }
    /* The same rule as the loss plot's axis: log when the positive
     * values span more than two decades. */
    bool logy = lo > 0.0 && hi / lo > 100.0;
    double a = logy ? log10(lo) : lo, b = logy ? log10(hi) : hi;
    for (size_t i = 0; i < cells; i++) {
        double v = logy ? log10(cell[i]) : cell[i];
        int level = b > a ? (int)lround((v - a) / (b - a) * 7.0) : 0;
        level = level < 0 ? 0 : level > 7 ? 7 : level;
        append(buf, size, &len, "%s", spark_cells[level]);
    }
    append(buf, size, &len, " %.4g -> ", loss[0]);
    if (finite < n)
        append(buf, size, &len, "%s", isnan(loss[finite]) ? "nan" : "inf");
    else
        append(buf, size, &len, "%.4g", loss[finite - 1]);
}

/* ---- the progress bar -------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void append_duration(char *buf, size_t size, size_t *len, double s)
{
    long t = s < 0.0 ? 0 : s > 359999.0 ? 359999 : (long)(s + 0.5);
    if (t >= 3600)
        append(buf, size, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        append(buf, size, len, "%ld:%02ld", t / 60, t % 60);
}

void rt_progress_format(char *buf, size_t size, long epoch, long epochs, double loss,
                        double elapsed, bool color)
{
    size_t len = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    int width = 1;
    for (long v = epochs; v >= 10; v /= 10)
        width++;
    append(buf, size, &len, "epoch %*ld/%ld ", width, epoch, epochs);
    long filled = epochs > 0 ? (long)((double)epoch / (double)epochs * RT_BAR_WIDTH) : 0;
    filled = filled < 0 ? 0 : filled > RT_BAR_WIDTH ? RT_BAR_WIDTH : filled;
    if (color)
        append(buf, size, &len, "\033[32m");
    for (long i = 0; i < RT_BAR_WIDTH; i++) {
        if (color && i == filled)
            append(buf, size, &len, "\033[2m");
        append(buf, size, &len, "%s", i < filled ? "\xE2\x96\x88" : "\xE2\x96\x91"); /* █ ░ */
    }
    if (color)
        append(buf, size, &len, "\033[0m");
    append(buf, size, &len, " loss %.4g", loss);
    double rate = elapsed > 0.0 ? (double)epoch / elapsed : 0.0;
    append(buf, size, &len, "  %.0f epochs/s  ", rate);
    if (rate > 0.0)
        append_duration(buf, size, &len, (double)(epochs - epoch) / rate);
    else
        append(buf, size, &len, "-:--");
    append(buf, size, &len, " left");
}

void rt_progress_start(RtProgress *p, bool enabled, bool color, FILE *err)
{
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->color = color;
    p->err = err;
    if (enabled)
        p->start = p->last = now_seconds();
}

void rt_progress_tick(RtProgress *p, long epoch, long epochs, double loss)
{
    if (!p->enabled)
        return;
    double t = now_seconds();
    if (t - p->start < RT_PROGRESS_DELAY || (p->shown && t - p->last < RT_PROGRESS_PERIOD))
        return;
    char line[512];
    rt_progress_format(line, sizeof line, epoch, epochs, loss, t - p->start, p->color);
    /* Trailing spaces wipe what a longer previous bar left behind. */
    fprintf(p->err, "\r%s   ", line);
    fflush(p->err);
    p->shown = true;
    p->last = t;
}

void rt_progress_clear(RtProgress *p)
{
    if (!p->shown)
        return;
    fprintf(p->err, "\r%*s\r", 100, "");
    fflush(p->err);
    p->shown = false;
}

/* ---- --plot and --json helpers ----------------------------------------- */

char *rt_plot_path(const char *dir, const char *name, size_t k)
{
    size_t n = strlen(dir) + strlen(name) + 32;
    char *path = malloc(n);
    if (!path)
        return NULL;
    const char *sep = *dir && dir[strlen(dir) - 1] == '/' ? "" : "/";
    if (k > 1)
        snprintf(path, n, "%s%s%s-%zu.svg", dir, sep, name, k);
    else
        snprintf(path, n, "%s%s%s.svg", dir, sep, name);
    return path;
}

cJSON *rt_json_step(RtSession *s, const char *kind)
{
    if (!s->json_steps)
        return NULL;
    cJSON *step = cJSON_CreateObject();
    if (!step || !cJSON_AddItemToArray(s->json_steps, step)) {
        cJSON_Delete(step);
        return NULL;
    }
    cJSON_AddStringToObject(step, "step", kind);
    return step;
}

void rt_plot_written(RtSession *s, cJSON *json_step, const char *path)
{
    /* With --json, stdout carries the document and nothing else. */
    if (!s->opt.quiet)
        fprintf(s->json ? stderr : s->opt.out, "wrote %s\n", path);
    cJSON *plots = json_step ? cJSON_GetObjectItemCaseSensitive(json_step, "plots") : NULL;
    if (json_step && !plots)
        plots = cJSON_AddArrayToObject(json_step, "plots");
    if (plots)
        cJSON_AddItemToArray(plots, cJSON_CreateString(path));
}

cJSON *rt_json_float_array(const float *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

cJSON *rt_json_double_array(const double *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* ---- nnc plot activations ----------------------------------------------- */

/* Adapters from the plot's double to the runtime's float32 functions. */
static double act_sigmoid(double z) { return rt_act_sigmoid((float)z); }
static double act_tanh(double z) { return rt_act_tanh((float)z); }
static double act_relu(double z) { return rt_act_relu((float)z); }
static double act_step(double z) { return rt_act_step((float)z); }
static double act_identity(double z) { return rt_act_identity((float)z); }
static double act_leaky_relu(double z)
{
    return rt_act_leaky_relu((float)z, (float)ir_ops[OP_LEAKY_RELU].args[0].def);
}
static double act_gelu(double z) { return rt_act_gelu((float)z); }
static double act_silu(double z) { return rt_act_silu((float)z); }
static double act_elu(double z) { return rt_act_elu((float)z, (float)ir_ops[OP_ELU].args[0].def); }
static double act_softplus(double z) { return rt_act_softplus((float)z); }
static double act_hardswish(double z) { return rt_act_hardswish((float)z); }
static double act_hardsigmoid(double z) { return rt_act_hardsigmoid((float)z); }

/* The scalar function of an elementwise activation, NULL for the kinds that
 * are not one (a new activation must say which it is). */
static double (*act_function(OpKind k))(double)
{
    switch (k) {
    case OP_SIGMOID: return act_sigmoid;
    case OP_TANH: return act_tanh;
    case OP_RELU: return act_relu;
    case OP_LEAKY_RELU: return act_leaky_relu;
    case OP_STEP: return act_step;
    case OP_IDENTITY: return act_identity;
    case OP_GELU: return act_gelu;
    case OP_SILU: return act_silu;
    case OP_ELU: return act_elu;
    case OP_SOFTPLUS: return act_softplus;
    case OP_HARDSWISH: return act_hardswish;
    case OP_HARDSIGMOID: return act_hardsigmoid;
    case OP_INPUT:
    case OP_DENSE:
    case OP_DROPOUT:
    case OP_SOFTMAX:
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_BATCHNORM:
    case OP_ADD:
    case OP_CONCAT: return NULL; /* not a function of one value */
    }
    return NULL;
}

/* Every elementwise activation, in the lecture's order first. */
bool rt_plot_activations(const char *path, Diag *d)
{
    static const OpKind lecture[] = {OP_SIGMOID, OP_TANH, OP_RELU, OP_LEAKY_RELU, OP_STEP,
                                     OP_IDENTITY};
    PlotFunction fns[OP_COUNT];
    size_t n = 0;
    for (size_t i = 0; i < sizeof lecture / sizeof *lecture; i++)
        fns[n++] = (PlotFunction){ir_ops[lecture[i]].name, act_function(lecture[i])};
    for (int k = 0; k < OP_COUNT; k++) {
        bool listed = false;
        for (size_t i = 0; i < sizeof lecture / sizeof *lecture; i++)
            listed = listed || (int)lecture[i] == k;
        if (!listed && act_function((OpKind)k))
            fns[n++] = (PlotFunction){ir_ops[k].name, act_function((OpKind)k)};
    }
    return plot_functions(d, path, "Activation functions", fns, n);
}

/* ---- print(model) ------------------------------------------------------ */

void rt_model_summarize(RtSession *s, RtModel *m)
{
    if (m->summarized || s->opt.quiet)
        return;
    m->summarized = true;
    ir_model_summary(s->opt.out, m->ir);
    fputc('\n', s->opt.out);
}
