/* Charts for students (see nnc/plot.h): axes with "nice" ticks, legends laid
 * out beside the data so they never hide it, and a colour-blind-safe
 * palette. Drawing goes through nnc/svg.h; this file decides where. */
#include "nnc/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/fileio.h"
#include "nnc/svg.h"

/* Okabe & Ito's colour-blind-safe palette, then two of Paul Tol's "muted"
 * colours to reach PLOT_MAX_CLASSES. */
static const char *const PALETTE[PLOT_MAX_CLASSES] = {
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
    "#56B4E9", "#F0E442", "#000000", "#882255", "#999933",
};
/* Lines skip the yellow, which vanishes on white; after these nine colours
 * the series repeat them dashed, then dotted. */
static const int LINE_COLOURS[] = {0, 1, 2, 3, 4, 5, 7, 8, 9};
enum { N_LINE_COLOURS = sizeof LINE_COLOURS / sizeof LINE_COLOURS[0] };
static const char *const LINE_DASHES[] = {NULL, "7 4", "2 3"};

static const char *const INK = "#222222";   /* titles, labels */
static const char *const MUTED = "#444444"; /* axes, ticks, tick labels */
static const char *const GRID = "#e5e5e5";  /* grid lines */

/* Values beyond this are treated as diverged: their range would overflow. */
static const double PLOT_MAX_VALUE = 1e150;

/* Single charts: canvas, title and axis-label sizes. */
enum { CHART_W = 640, CHART_H = 420 };
static const double TITLE_SIZE = 16, LABEL_SIZE = 13, TICK_SIZE = 11, LEGEND_SIZE = 12;

static bool plottable(double v) { return isfinite(v) && fabs(v) <= PLOT_MAX_VALUE; }

/* ---- axes ---------------------------------------------------------------- */

enum { AXIS_MAX_TICKS = 16, AXIS_MAX_MINOR = 64, AXIS_LABEL_LEN = 32 };

typedef struct Axis {
    bool log;
    double lo, hi;       /* shown range, in axis units (log10 of the value on a log axis) */
    double px_lo, px_hi; /* canvas positions of lo and hi */
    double ticks[AXIS_MAX_TICKS]; /* axis units */
    char labels[AXIS_MAX_TICKS][AXIS_LABEL_LEN];
    size_t n_ticks;
    double minor[AXIS_MAX_MINOR]; /* unlabelled ticks between powers of ten */
    size_t n_minor;
} Axis;

/* The 1-2-5 step at or above raw. */
static double nice_step(double raw)
{
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nice * mag;
}

/* "2.5e6": compact scientific notation with `digits` decimals. */
static void format_sci(char *buf, size_t size, double v, int digits)
{
    if (v == 0) {
        snprintf(buf, size, "0");
        return;
    }
    int e = (int)floor(log10(fabs(v)));
    double m = v / pow(10, e);
    if (fabs(m) >= 10 - 0.5 * pow(10, -digits)) { /* would round to "10.0" */
        m /= 10;
        e++;
    }
    snprintf(buf, size, "%.*fe%d", digits, m, e);
}

static void axis_label_linear(Axis *a, double step)
{
    double maxabs = 0;
    for (size_t i = 0; i < a->n_ticks; i++)
        maxabs = fmax(maxabs, fabs(a->ticks[i]));
    int e_step = (int)floor(log10(step) + 1e-9);
    bool sci = maxabs >= 1e6 || (maxabs > 0 && maxabs < 1e-3);
    for (size_t i = 0; i < a->n_ticks; i++) {
        if (sci) {
            int digits = (int)floor(log10(maxabs)) - e_step;
            digits = digits < 0 ? 0 : digits > 6 ? 6 : digits;
            format_sci(a->labels[i], AXIS_LABEL_LEN, a->ticks[i], digits);
        } else {
            int decimals = e_step < 0 ? -e_step : 0;
            snprintf(a->labels[i], AXIS_LABEL_LEN, "%.*f", decimals, a->ticks[i]);
        }
    }
}

/* A linear axis over [lo, hi] widened by pad (a fraction of the span) on
 * each side, with about `target` ticks at multiples of a 1-2-5 step. */
static void axis_linear(Axis *a, double lo, double hi, double pad, int target)
{
    memset(a, 0, sizeof *a);
    if (!(hi - lo > 1e-9 * fmax(fabs(lo), fabs(hi)))) {
        double half = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= half;
        hi += half;
    }
    double margin = (hi - lo) * pad;
    a->lo = lo - margin;
    a->hi = hi + margin;
    double step = nice_step((a->hi - a->lo) / target);
    for (double i = ceil(a->lo / step - 1e-9); a->n_ticks < AXIS_MAX_TICKS; i++) {
        double v = i * step;
        if (v > a->hi + step * 1e-9)
            break;
        a->ticks[a->n_ticks++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    axis_label_linear(a, step);
}

static void format_power_of_ten(char *buf, size_t size, int e)
{
    if (e >= 0 && e <= 5)
        snprintf(buf, size, "%.0f", pow(10, e));
    else if (e < 0 && e >= -4)
        snprintf(buf, size, "%.*f", -e, pow(10, e));
    else
        snprintf(buf, size, "1e%d", e);
}

/* A log axis over the positive range [lo, hi]: labelled ticks at powers of
 * ten (every k-th when there are many decades), minor ticks at 2..9. */
static void axis_log(Axis *a, double lo, double hi)
{
    memset(a, 0, sizeof *a);
    a->log = true;
    double l = log10(lo), h = log10(hi);
    double margin = (h - l) * 0.05;
    a->lo = l - margin;
    a->hi = h + margin;
    int e0 = (int)ceil(a->lo), e1 = (int)floor(a->hi);
    int stride = (e1 - e0) / 8 + 1;
    for (int e = e0; e <= e1 && a->n_ticks < AXIS_MAX_TICKS; e++) {
        if (((e % stride) + stride) % stride != 0)
            continue;
        a->ticks[a->n_ticks] = e;
        format_power_of_ten(a->labels[a->n_ticks], AXIS_LABEL_LEN, e);
        a->n_ticks++;
    }
    if (a->hi - a->lo > 6)
        return; /* minor ticks would be a smear */
    for (int e = (int)floor(a->lo); e <= e1; e++)
        for (int k = 2; k <= 9 && a->n_minor < AXIS_MAX_MINOR; k++) {
            double u = e + log10(k);
            if (u > a->lo && u < a->hi)
                a->minor[a->n_minor++] = u;
        }
}

static double axis_px_units(const Axis *a, double u)
{
    return a->px_lo + (u - a->lo) / (a->hi - a->lo) * (a->px_hi - a->px_lo);
}

/* Canvas position of a data value, or NAN when it cannot be drawn. */
static double axis_px(const Axis *a, double v)
{
    if (!plottable(v) || (a->log && v <= 0))
        return NAN;
    return axis_px_units(a, a->log ? log10(v) : v);
}

static double axis_max_label_width(const Axis *a, double size)
{
    double w = 0;
    for (size_t i = 0; i < a->n_ticks; i++)
        w = fmax(w, svg_text_width(a->labels[i], size));
    return w;
}

/* Whether the tick labels of a horizontal axis of width px fit side by side. */
static bool axis_labels_fit(const Axis *a, double px, double size)
{
    if (a->n_ticks < 2)
        return true;
    double spacing = px * (a->ticks[1] - a->ticks[0]) / (a->hi - a->lo);
    return axis_max_label_width(a, size) + 10 <= spacing;
}

/* A horizontal linear axis with as many ticks as fit, at most `target`. */
static void axis_linear_fitted(Axis *a, double lo, double hi, double pad, int target,
                               double px, double size)
{
    for (int t = target; t >= 2; t--) {
        axis_linear(a, lo, hi, pad, t);
        if (axis_labels_fit(a, px, size))
            return;
    }
}

typedef struct Frame {
    double left, right, top, bottom;
} Frame;

/* Grid lines (optional), the left and bottom axis lines, ticks, tick labels. */
static void draw_axes(Svg *s, const Axis *xa, const Axis *ya, Frame fr, bool grid,
                      double tick_size)
{
    if (grid) {
        for (size_t i = 0; i < xa->n_ticks; i++) {
            double x = axis_px_units(xa, xa->ticks[i]);
            svg_line(s, x, fr.top, x, fr.bottom, GRID, 1);
        }
        for (size_t i = 0; i < ya->n_ticks; i++) {
            double y = axis_px_units(ya, ya->ticks[i]);
            svg_line(s, fr.left, y, fr.right, y, GRID, 1);
        }
    }
    SvgFont xf = {.size = tick_size, .anchor = SVG_MIDDLE, .fill = MUTED};
    for (size_t i = 0; i < xa->n_ticks; i++) {
        double x = axis_px_units(xa, xa->ticks[i]);
        svg_line(s, x, fr.bottom, x, fr.bottom + 5, MUTED, 1);
        svg_text(s, x, fr.bottom + 7 + tick_size, xf, xa->labels[i]);
    }
    SvgFont yf = {.size = tick_size, .anchor = SVG_END, .fill = MUTED};
    for (size_t i = 0; i < ya->n_ticks; i++) {
        double y = axis_px_units(ya, ya->ticks[i]);
        svg_line(s, fr.left - 5, y, fr.left, y, MUTED, 1);
        svg_text(s, fr.left - 8, y + tick_size * 0.35, yf, ya->labels[i]);
    }
    for (size_t i = 0; i < ya->n_minor; i++) {
        double y = axis_px_units(ya, ya->minor[i]);
        svg_line(s, fr.left - 3, y, fr.left, y, MUTED, 1);
    }
    svg_line(s, fr.left, fr.top, fr.left, fr.bottom, MUTED, 1);
    svg_line(s, fr.left, fr.bottom, fr.right, fr.bottom, MUTED, 1);
}

/* The title centred on the canvas, shrunk when it is too long to fit. */
static void draw_title(Svg *s, double canvas_w, const char *title)
{
    if (!title || !*title)
        return;
    double size = TITLE_SIZE, w = svg_text_width(title, size);
    if (w > canvas_w - 20)
        size = fmax(8, size * (canvas_w - 20) / w);
    SvgFont f = {.size = size, .anchor = SVG_MIDDLE, .bold = true, .fill = INK};
    svg_text(s, canvas_w / 2, 30, f, title);
}

static void draw_axis_labels(Svg *s, Frame fr, const char *x_label, const char *y_label)
{
    SvgFont f = {.size = LABEL_SIZE, .anchor = SVG_MIDDLE, .fill = INK};
    if (x_label && *x_label)
        svg_text(s, (fr.left + fr.right) / 2, CHART_H - 14, f, x_label);
    f.rotate = -90;
    if (y_label && *y_label)
        svg_text(s, 22, (fr.top + fr.bottom) / 2, f, y_label);
}

/* Left margin for y tick labels plus a rotated axis label. */
static double left_margin(const Axis *ya)
{
    return fmax(64, 40 + axis_max_label_width(ya, TICK_SIZE));
}

/* ---- legends -------------------------------------------------------------- */

/* Legend text cut to max_w with an ellipsis; long sweep labels must not
 * push the chart off the canvas. */
static void legend_text(char *buf, size_t size, const char *label, double max_w)
{
    snprintf(buf, size, "%s", label);
    if (svg_text_width(buf, LEGEND_SIZE) <= max_w)
        return;
    size_t len = strlen(buf);
    while (len > 0) {
        do
            len--; /* back to the start of a UTF-8 character */
        while (len > 0 && ((unsigned char)buf[len] & 0xc0) == 0x80);
        memcpy(buf + len, "\xe2\x80\xa6", 4); /* U+2026 ellipsis */
        if (svg_text_width(buf, LEGEND_SIZE) <= max_w)
            return;
    }
}

enum { LEGEND_TEXT_MAX = 160, LEGEND_LABEL_BYTES = 256 };
static const double LEGEND_SAMPLE_W = 26, LEGEND_GAP = 6, LEGEND_ROW = 18;

static double legend_width(double text_w) { return LEGEND_SAMPLE_W + LEGEND_GAP + text_w; }

/* How many legend rows fit beside a frame; the rest become "+N more". */
static size_t legend_rows_fit(Frame fr, size_t n)
{
    size_t fit = (size_t)((fr.bottom - fr.top) / LEGEND_ROW);
    return n <= fit ? n : fit > 0 ? fit - 1 : 0;
}

/* ---- line charts ---------------------------------------------------------- */

static void series_label(char *buf, size_t size, const PlotSeries *ps, size_t i,
                         bool diverged)
{
    char name[LEGEND_LABEL_BYTES - 16]; /* room for " (diverged)" */
    if (ps->label)
        snprintf(name, sizeof name, "%s", ps->label);
    else
        snprintf(name, sizeof name, "series %zu", i + 1);
    snprintf(buf, size, "%s%s", name, diverged ? " (diverged)" : "");
}

static bool series_diverged(const PlotSeries *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!plottable(ps->y[i]))
            return true;
    return false;
}

/* Data ranges of the plottable points: all of x, all of y, positive y. */
typedef struct Ranges {
    double x_lo, x_hi, y_lo, y_hi, pos_lo, pos_hi;
    size_t n, n_pos;
} Ranges;

static Ranges lines_ranges(const PlotSeries *series, size_t n_series)
{
    Ranges r = {INFINITY, -INFINITY, INFINITY, -INFINITY, INFINITY, -INFINITY, 0, 0};
    for (size_t k = 0; k < n_series; k++)
        for (size_t i = 0; i < series[k].n; i++) {
            double x = series[k].x[i], y = series[k].y[i];
            if (!plottable(x) || !plottable(y))
                continue;
            r.x_lo = fmin(r.x_lo, x);
            r.x_hi = fmax(r.x_hi, x);
            r.y_lo = fmin(r.y_lo, y);
            r.y_hi = fmax(r.y_hi, y);
            r.n++;
            if (y > 0) {
                r.pos_lo = fmin(r.pos_lo, y);
                r.pos_hi = fmax(r.pos_hi, y);
                r.n_pos++;
            }
        }
    return r;
}

static void line_style(Svg *s, size_t k)
{
    const char *colour = PALETTE[LINE_COLOURS[k % N_LINE_COLOURS]];
    const char *dash = LINE_DASHES[(k / N_LINE_COLOURS) % 3];
    svg_raw(s, " fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", colour);
    if (dash)
        svg_raw(s, " stroke-dasharray=\"%s\"", dash);
}

/* One <path> per series; a point that cannot be drawn ends the current
 * subpath, and a point alone between two gaps is drawn as a dot. Points
 * closer than a quarter pixel to the last one drawn are skipped, so ten
 * thousand epochs do not make ten thousand path commands. */
static void draw_series(Svg *s, const Axis *xa, const Axis *ya, const PlotSeries *ps,
                        size_t k)
{
    svg_raw(s, "<path class=\"series\" data-series=\"%zu\"", k);
    line_style(s, k);
    svg_raw(s, " stroke-linejoin=\"round\" stroke-linecap=\"round\" d=\"");
    size_t run = 0;
    double last_x = 0, last_y = 0;
    for (size_t i = 0; i < ps->n; i++) {
        double x = axis_px(xa, ps->x[i]), y = axis_px(ya, ps->y[i]);
        if (isnan(x) || isnan(y)) {
            if (run == 1)
                svg_raw(s, "h0");
            run = 0;
            continue;
        }
        bool run_ends = i + 1 == ps->n || isnan(axis_px(xa, ps->x[i + 1])) ||
                        isnan(axis_px(ya, ps->y[i + 1]));
        if (run == 0) {
            svg_path_move(s, x, y);
        } else if (run_ends || fabs(x - last_x) >= 0.25 || fabs(y - last_y) >= 0.25) {
            svg_path_line(s, x, y);
        } else {
            continue;
        }
        run++;
        last_x = x;
        last_y = y;
    }
    if (run == 1)
        svg_raw(s, "h0");
    svg_raw(s, "\"/>\n");
}

/* An x where a diverged run was last seen, before its first NaN or inf. */
static void draw_divergence(Svg *s, const Axis *xa, const Axis *ya, const PlotSeries *ps,
                            size_t k)
{
    size_t first_bad = 0;
    while (first_bad < ps->n && plottable(ps->y[first_bad]))
        first_bad++;
    for (size_t i = first_bad; i-- > 0;) {
        double x = axis_px(xa, ps->x[i]), y = axis_px(ya, ps->y[i]);
        if (isnan(x) || isnan(y))
            continue;
        const double r = 5;
        svg_raw(s, "<path class=\"diverged\" fill=\"none\" stroke=\"%s\" "
                   "stroke-width=\"2.2\" d=\"", PALETTE[LINE_COLOURS[k % N_LINE_COLOURS]]);
        svg_path_move(s, x - r, y - r);
        svg_path_line(s, x + r, y + r);
        svg_path_move(s, x - r, y + r);
        svg_path_line(s, x + r, y - r);
        svg_raw(s, "\"/>\n");
        return;
    }
}

static double series_legend_text_width(const PlotSeries *series, size_t n_series)
{
    double text_w = 0;
    for (size_t k = 0; k < n_series; k++) {
        char label[LEGEND_LABEL_BYTES];
        series_label(label, sizeof label, &series[k], k, series_diverged(&series[k]));
        text_w = fmax(text_w, svg_text_width(label, LEGEND_SIZE));
    }
    return fmin(text_w, LEGEND_TEXT_MAX);
}

/* Beside the frame, top-aligned: a line sample in the series' style, then
 * its label. */
static void draw_series_legend(Svg *s, Frame fr, const PlotSeries *series, size_t n_series)
{
    size_t shown = legend_rows_fit(fr, n_series);
    double lx = fr.right + 16;
    SvgFont lf = {.size = LEGEND_SIZE, .fill = INK};
    for (size_t k = 0; k < shown; k++) {
        double y = fr.top + 8 + (double)k * LEGEND_ROW;
        svg_raw(s, "<path class=\"legend\"");
        line_style(s, k);
        svg_raw(s, " d=\"");
        svg_path_move(s, lx, y - 4);
        svg_path_line(s, lx + LEGEND_SAMPLE_W, y - 4);
        svg_raw(s, "\"/>\n");
        char label[LEGEND_LABEL_BYTES], cut[LEGEND_LABEL_BYTES];
        series_label(label, sizeof label, &series[k], k, series_diverged(&series[k]));
        legend_text(cut, sizeof cut, label, LEGEND_TEXT_MAX);
        svg_text(s, lx + LEGEND_SAMPLE_W + LEGEND_GAP, y, lf, cut);
    }
    if (shown < n_series) {
        char more[64];
        snprintf(more, sizeof more, "+%zu more", n_series - shown);
        lf.fill = MUTED;
        svg_text(s, lx + LEGEND_SAMPLE_W + LEGEND_GAP, fr.top + 8 + (double)shown * LEGEND_ROW, lf,
                 more);
    }
}

static bool lines_check(Diag *d, const char *path, const PlotSeries *series,
                        size_t n_series)
{
    for (size_t k = 0; k < n_series; k++)
        if (series[k].n > 0 && (!series[k].x || !series[k].y)) {
            diag_error(d, loc_none(), "cannot plot '%s': series %zu has no data arrays",
                       path, k + 1);
            return false;
        }
    return true;
}

static bool plot_finish(Diag *d, AtomicFile *af, Svg *s)
{
    svg_end(s);
    if (s->bad_number) {
        diag_error(d, loc_none(), "cannot plot '%s': a coordinate is not finite", af->path);
        atomic_abort(af);
        return false;
    }
    return atomic_commit(d, af);
}

bool plot_lines(Diag *d, const char *path, const char *title, const char *x_label,
                const char *y_label, const PlotSeries *series, size_t n_series)
{
    if (!lines_check(d, path, series, n_series))
        return false;
    Ranges r = lines_ranges(series, n_series);
    /* Losses are never negative; a series that is (a margin, a score) keeps a
     * linear axis rather than lose its negative half. */
    bool log_y = r.n_pos >= 2 && r.pos_hi > 100 * r.pos_lo && r.y_lo >= 0;

    double text_w = series_legend_text_width(series, n_series);

    Axis xa, ya;
    if (log_y)
        axis_log(&ya, r.pos_lo, r.pos_hi);
    else if (r.n > 0)
        axis_linear(&ya, r.y_lo, r.y_hi, 0.05, 6);
    else
        axis_linear(&ya, 0, 1, 0, 6);
    Frame fr = {.left = left_margin(&ya),
                .right = CHART_W - 20 - (n_series ? legend_width(text_w) + 16 : 0),
                .top = 48,
                .bottom = CHART_H - 58};
    if (r.n > 0)
        axis_linear_fitted(&xa, r.x_lo, r.x_hi, 0.02, 7, fr.right - fr.left, TICK_SIZE);
    else
        axis_linear(&xa, 0, 1, 0, 5);
    xa.px_lo = fr.left;
    xa.px_hi = fr.right;
    ya.px_lo = fr.bottom;
    ya.px_hi = fr.top;

    AtomicFile af;
    if (!atomic_open(d, path, &af))
        return false;
    Svg s;
    svg_begin(&s, af.f, CHART_W, CHART_H);
    draw_title(&s, CHART_W, title);
    draw_axes(&s, &xa, &ya, fr, true, TICK_SIZE);
    char y_text[LEGEND_LABEL_BYTES];
    if (log_y)
        snprintf(y_text, sizeof y_text, "%s%s(log scale)", y_label ? y_label : "",
                 y_label && *y_label ? " " : "");
    else
        snprintf(y_text, sizeof y_text, "%s", y_label ? y_label : "");
    draw_axis_labels(&s, fr, x_label, y_text);
    if (r.n == 0) {
        SvgFont f = {.size = LABEL_SIZE, .anchor = SVG_MIDDLE, .fill = MUTED};
        svg_text(&s, (fr.left + fr.right) / 2, (fr.top + fr.bottom) / 2, f,
                 "no finite values to plot");
    }
    for (size_t k = 0; k < n_series; k++) {
        draw_series(&s, &xa, &ya, &series[k], k);
        if (series_diverged(&series[k]))
            draw_divergence(&s, &xa, &ya, &series[k], k);
    }

    draw_series_legend(&s, fr, series, n_series);
    return plot_finish(d, &af, &s);
}

/* ---- decision regions ----------------------------------------------------- */

/* Colour mixed with white: t = 0 is the colour, 1 is white. */
static void tint(char out[8], const char *hex, double t)
{
    unsigned rgb = (unsigned)strtoul(hex + 1, NULL, 16);
    unsigned c[3] = {rgb >> 16 & 0xff, rgb >> 8 & 0xff, rgb & 0xff};
    for (int i = 0; i < 3; i++)
        c[i] = (unsigned)lround(c[i] + (255 - c[i]) * t);
    snprintf(out, 8, "#%02x%02x%02x", c[0] & 0xff, c[1] & 0xff, c[2] & 0xff);
}

static const double REGION_TINT = 0.72, MARKER_R = 4.2;

/* A point in the colour of its class, with a shape per class (circle,
 * square, triangle, diamond, inverted triangle) so classes stay apart in
 * grey print and for readers who cannot tell the colours apart. */
static void draw_marker(Svg *s, int cls, double cx, double cy, double r)
{
    double k = 1.25 * r;
    switch (cls % 5) {
    case 0:
        svg_raw(s, "<circle cx=\"");
        svg_num(s, cx);
        svg_raw(s, "\" cy=\"");
        svg_num(s, cy);
        svg_raw(s, "\" r=\"");
        svg_num(s, r);
        svg_raw(s, "\"");
        break;
    case 1:
        svg_raw(s, "<path d=\"");
        svg_path_move(s, cx - 0.9 * r, cy - 0.9 * r);
        svg_path_line(s, cx + 0.9 * r, cy - 0.9 * r);
        svg_path_line(s, cx + 0.9 * r, cy + 0.9 * r);
        svg_path_line(s, cx - 0.9 * r, cy + 0.9 * r);
        svg_raw(s, "Z\"");
        break;
    case 2:
    case 4: {
        double dir = cls % 5 == 2 ? 1 : -1; /* apex up, or down */
        svg_raw(s, "<path d=\"");
        svg_path_move(s, cx, cy - dir * k);
        svg_path_line(s, cx + k, cy + dir * 0.7 * k);
        svg_path_line(s, cx - k, cy + dir * 0.7 * k);
        svg_raw(s, "Z\"");
        break;
    }
    default:
        svg_raw(s, "<path d=\"");
        svg_path_move(s, cx, cy - k);
        svg_path_line(s, cx + k, cy);
        svg_path_line(s, cx, cy + k);
        svg_path_line(s, cx - k, cy);
        svg_raw(s, "Z\"");
        break;
    }
    svg_raw(s, " class=\"point\" data-class=\"%d\" fill=\"%s\" stroke=\"%s\" "
               "stroke-width=\"0.8\"/>\n", cls, PALETTE[cls], INK);
}

typedef struct Regions {
    double lo[2], hi[2]; /* the gridded box in data units */
    int *cls;            /* [row][col], row 0 at the bottom (smallest x2) */
    bool present[PLOT_MAX_CLASSES];
} Regions;

static bool regions_box(Diag *d, const char *path, const double *x, size_t n, Regions *rg)
{
    for (int a = 0; a < 2; a++) {
        rg->lo[a] = INFINITY;
        rg->hi[a] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        if (!plottable(x[2 * i]) || !plottable(x[2 * i + 1]))
            continue;
        for (size_t a = 0; a < 2; a++) {
            rg->lo[a] = fmin(rg->lo[a], x[2 * i + a]);
            rg->hi[a] = fmax(rg->hi[a], x[2 * i + a]);
        }
    }
    if (rg->lo[0] > rg->hi[0]) {
        diag_error(d, loc_none(), "cannot plot '%s': no data point has finite coordinates",
                   path);
        return false;
    }
    for (int a = 0; a < 2; a++) {
        double span = rg->hi[a] - rg->lo[a];
        double margin = span > 0 ? 0.1 * span : fmax(1, 0.1 * fabs(rg->lo[a]));
        rg->lo[a] -= margin;
        rg->hi[a] += margin;
    }
    return true;
}

/* Asks the classifier about the centre of every cell. */
static bool regions_classify(Diag *d, const char *path, Regions *rg,
                             PlotClassifier classify, void *ctx)
{
    const size_t g = PLOT_REGION_GRID;
    rg->cls = malloc(g * g * sizeof *rg->cls);
    if (!rg->cls) {
        diag_error(d, loc_none(), "out of memory plotting '%s'", path);
        return false;
    }
    double cw[2];
    for (int a = 0; a < 2; a++)
        cw[a] = (rg->hi[a] - rg->lo[a]) / (double)g;
    for (size_t row = 0; row < g; row++)
        for (size_t col = 0; col < g; col++) {
            double x1 = rg->lo[0] + ((double)col + 0.5) * cw[0];
            double x2 = rg->lo[1] + ((double)row + 0.5) * cw[1];
            int c = classify(ctx, x1, x2);
            if (c < 0 || c >= PLOT_MAX_CLASSES) {
                diag_error(d, loc_none(),
                           "cannot plot '%s': the classifier returned class %d at (%g, %g); "
                           "plots show classes 0 to %d",
                           path, c, x1, x2, PLOT_MAX_CLASSES - 1);
                free(rg->cls);
                rg->cls = NULL;
                return false;
            }
            rg->cls[row * g + col] = c;
            rg->present[c] = true;
        }
    return true;
}

/* Cell edges on the canvas: column col spans [cell_x(col), cell_x(col+1)]. */
static double cell_x(const Axis *xa, const Regions *rg, size_t col)
{
    return axis_px(xa, rg->lo[0] + (rg->hi[0] - rg->lo[0]) * (double)col / PLOT_REGION_GRID);
}

static double cell_y(const Axis *ya, const Regions *rg, size_t row)
{
    return axis_px(ya, rg->lo[1] + (rg->hi[1] - rg->lo[1]) * (double)row / PLOT_REGION_GRID);
}

/* One <path> per class: a rectangle per run of equal cells in a row. One
 * fill per class leaves no anti-aliasing seams between neighbouring cells. */
static void draw_region_fills(Svg *s, const Axis *xa, const Axis *ya, const Regions *rg)
{
    const size_t g = PLOT_REGION_GRID;
    for (int c = 0; c < PLOT_MAX_CLASSES; c++) {
        if (!rg->present[c])
            continue;
        char fill[8];
        tint(fill, PALETTE[c], REGION_TINT);
        svg_raw(s, "<path class=\"region\" data-class=\"%d\" fill=\"%s\" d=\"", c, fill);
        for (size_t row = 0; row < g; row++) {
            const int *cells = rg->cls + row * g;
            for (size_t col = 0; col < g;) {
                size_t end = col + 1;
                while (end < g && cells[end] == cells[col])
                    end++;
                if (cells[col] == c) {
                    svg_path_move(s, cell_x(xa, rg, col), cell_y(ya, rg, row + 1));
                    svg_raw(s, "H");
                    svg_num(s, cell_x(xa, rg, end));
                    svg_raw(s, "V");
                    svg_num(s, cell_y(ya, rg, row));
                    svg_raw(s, "H");
                    svg_num(s, cell_x(xa, rg, col));
                    svg_raw(s, "Z");
                }
                col = end;
            }
        }
        svg_raw(s, "\"/>\n");
    }
}

/* Canvas centre of column col / row row. Index -1 and PLOT_REGION_GRID are
 * ghost cells on the frame's edges that repeat the border cells, so the
 * boundary runs all the way to the frame. */
static double centre_x(const Axis *xa, const Regions *rg, long col)
{
    if (col < 0)
        return cell_x(xa, rg, 0);
    if (col >= PLOT_REGION_GRID)
        return cell_x(xa, rg, PLOT_REGION_GRID);
    return (cell_x(xa, rg, (size_t)col) + cell_x(xa, rg, (size_t)col + 1)) / 2;
}

static double centre_y(const Axis *ya, const Regions *rg, long row)
{
    if (row < 0)
        return cell_y(ya, rg, 0);
    if (row >= PLOT_REGION_GRID)
        return cell_y(ya, rg, PLOT_REGION_GRID);
    return (cell_y(ya, rg, (size_t)row) + cell_y(ya, rg, (size_t)row + 1)) / 2;
}

static int class_at(const Regions *rg, long row, long col)
{
    const long g = PLOT_REGION_GRID;
    row = row < 0 ? 0 : row >= g ? g - 1 : row;
    col = col < 0 ? 0 : col >= g ? g - 1 : col;
    return rg->cls[row * g + col];
}

/* The boundary by marching squares over the cell centres: in each square of
 * four neighbouring centres, the edges whose ends differ in class are
 * crossed by the boundary at their midpoints. Two crossings are joined
 * directly (a smooth diagonal, not a staircase); three or four (three
 * classes meet, or a saddle) are joined through the square's centre. */
static void draw_boundary(Svg *s, const Axis *xa, const Axis *ya, const Regions *rg)
{
    const long g = PLOT_REGION_GRID;
    svg_raw(s, "<path class=\"boundary\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
               "stroke-linecap=\"round\" stroke-linejoin=\"round\" d=\"", INK);
    for (long row = -1; row < g; row++)
        for (long col = -1; col < g; col++) {
            /* Corners counter-clockwise from the bottom left. */
            int a = class_at(rg, row, col), b = class_at(rg, row, col + 1);
            int c = class_at(rg, row + 1, col + 1), e = class_at(rg, row + 1, col);
            if (a == b && b == c && c == e)
                continue;
            double x0 = centre_x(xa, rg, col), x1 = centre_x(xa, rg, col + 1);
            double y0 = centre_y(ya, rg, row), y1 = centre_y(ya, rg, row + 1);
            double xm = (x0 + x1) / 2, ym = (y0 + y1) / 2;
            double px[4], py[4];
            size_t n = 0;
            if (a != b) { px[n] = xm; py[n++] = y0; } /* bottom edge */
            if (b != c) { px[n] = x1; py[n++] = ym; } /* right */
            if (e != c) { px[n] = xm; py[n++] = y1; } /* top */
            if (a != e) { px[n] = x0; py[n++] = ym; } /* left */
            if (n == 2) {
                svg_path_move(s, px[0], py[0]);
                svg_path_line(s, px[1], py[1]);
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                svg_path_move(s, px[i], py[i]);
                svg_path_line(s, xm, ym);
            }
        }
    svg_raw(s, "\"/>\n");
}

/* Legend rows: a tinted swatch with the class's marker, "class k". */
static void draw_class_legend(Svg *s, Frame fr, const bool *shown)
{
    double lx = fr.right + 16, y = fr.top + 8;
    SvgFont lf = {.size = LEGEND_SIZE, .fill = INK};
    for (int c = 0; c < PLOT_MAX_CLASSES; c++) {
        if (!shown[c])
            continue;
        char fill[8];
        tint(fill, PALETTE[c], REGION_TINT);
        svg_rect(s, lx, y - 13, 18, 18, fill, "#999999", 0.8);
        draw_marker(s, c, lx + 9, y - 4, MARKER_R);
        char text[32];
        snprintf(text, sizeof text, "class %d", c);
        svg_text(s, lx + 18 + LEGEND_GAP + 2, y, lf, text);
        y += LEGEND_ROW + 4;
    }
}

bool plot_decision_regions(Diag *d, const char *path, const char *title, const double *x,
                           const int *labels, size_t n, PlotClassifier classify,
                           void *ctx)
{
    if (n == 0 || !x || !labels || !classify) {
        diag_error(d, loc_none(), "cannot plot '%s': no data points or no classifier", path);
        return false;
    }
    Regions rg = {0};
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= PLOT_MAX_CLASSES) {
            diag_error(d, loc_none(),
                       "cannot plot '%s': point %zu has class %d; plots show classes 0 to %d",
                       path, i + 1, labels[i], PLOT_MAX_CLASSES - 1);
            return false;
        }
    }
    if (!regions_box(d, path, x, n, &rg) || !regions_classify(d, path, &rg, classify, ctx))
        return false;
    bool shown[PLOT_MAX_CLASSES];
    memcpy(shown, rg.present, sizeof shown);
    for (size_t i = 0; i < n; i++)
        shown[labels[i]] = true;

    double text_w = svg_text_width("class 0", LEGEND_SIZE);
    Axis xa, ya;
    axis_linear(&ya, rg.lo[1], rg.hi[1], 0, 6);
    Frame fr = {.left = left_margin(&ya),
                .right = CHART_W - 20 - legend_width(text_w) - 16,
                .top = 48,
                .bottom = CHART_H - 58};
    axis_linear_fitted(&xa, rg.lo[0], rg.hi[0], 0, 7, fr.right - fr.left, TICK_SIZE);
    xa.px_lo = fr.left;
    xa.px_hi = fr.right;
    ya.px_lo = fr.bottom;
    ya.px_hi = fr.top;

    AtomicFile af;
    if (!atomic_open(d, path, &af)) {
        free(rg.cls);
        return false;
    }
    Svg s;
    svg_begin(&s, af.f, CHART_W, CHART_H);
    draw_title(&s, CHART_W, title);
    draw_region_fills(&s, &xa, &ya, &rg);
    draw_boundary(&s, &xa, &ya, &rg);
    draw_axes(&s, &xa, &ya, fr, false, TICK_SIZE);
    draw_axis_labels(&s, fr, "x1", "x2");
    for (size_t i = 0; i < n; i++) {
        double px = axis_px(&xa, x[2 * i]), py = axis_px(&ya, x[2 * i + 1]);
        if (!isnan(px) && !isnan(py))
            draw_marker(&s, labels[i], px, py, MARKER_R);
    }
    draw_class_legend(&s, fr, shown);
    free(rg.cls);
    return plot_finish(d, &af, &s);
}

/* ---- function panels ------------------------------------------------------ */

enum { PANEL_W = 210, PANEL_H = 180, PANEL_SAMPLES = 400 };
static const double PANEL_X_LO = -5, PANEL_X_HI = 5, PANEL_TICK_SIZE = 10;

static double panel_x(size_t i)
{
    return PANEL_X_LO + (PANEL_X_HI - PANEL_X_LO) * (double)i / PANEL_SAMPLES;
}

static void draw_panel(Svg *s, const PlotFunction *fn, double x0, double y0)
{
    double lo = 0, hi = 0; /* the range always holds 0: the axes go through it */
    size_t finite = 0;
    for (size_t i = 0; i <= PANEL_SAMPLES; i++) {
        double v = fn->f(panel_x(i));
        if (!plottable(v))
            continue;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        finite++;
    }
    Axis xa, ya;
    axis_linear(&ya, lo, hi, 0.08, 4);
    Frame fr = {.left = x0 + fmax(34, 16 + axis_max_label_width(&ya, PANEL_TICK_SIZE)),
                .right = x0 + PANEL_W - 14,
                .top = y0 + 30,
                .bottom = y0 + PANEL_H - 28};
    axis_linear_fitted(&xa, PANEL_X_LO, PANEL_X_HI, 0, 5, fr.right - fr.left,
                       PANEL_TICK_SIZE);
    xa.px_lo = fr.left;
    xa.px_hi = fr.right;
    ya.px_lo = fr.bottom;
    ya.px_hi = fr.top;

    SvgFont tf = {.size = 13, .anchor = SVG_MIDDLE, .bold = true, .fill = INK};
    svg_text(s, (fr.left + fr.right) / 2, y0 + 20, tf, fn->name ? fn->name : "?");
    draw_axes(s, &xa, &ya, fr, true, PANEL_TICK_SIZE);
    /* The axes through zero, darker than the grid. */
    svg_line(s, axis_px(&xa, 0), fr.top, axis_px(&xa, 0), fr.bottom, MUTED, 1);
    svg_line(s, fr.left, axis_px(&ya, 0), fr.right, axis_px(&ya, 0), MUTED, 1);
    if (finite == 0) {
        SvgFont f = {.size = PANEL_TICK_SIZE, .anchor = SVG_MIDDLE, .fill = MUTED};
        svg_text(s, (fr.left + fr.right) / 2, (fr.top + fr.bottom) / 2 - 6, f,
                 "no finite values");
        return;
    }
    svg_raw(s, "<path class=\"function\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
               "stroke-linejoin=\"round\" stroke-linecap=\"round\" d=\"", PALETTE[0]);
    bool pen_down = false;
    for (size_t i = 0; i <= PANEL_SAMPLES; i++) {
        double px = axis_px(&xa, panel_x(i)), py = axis_px(&ya, fn->f(panel_x(i)));
        if (isnan(px) || isnan(py)) {
            pen_down = false;
            continue;
        }
        if (pen_down)
            svg_path_line(s, px, py);
        else
            svg_path_move(s, px, py);
        pen_down = true;
    }
    svg_raw(s, "\"/>\n");
}

bool plot_functions(Diag *d, const char *path, const char *title, const PlotFunction *fns,
                    size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!fns[i].f) {
            diag_error(d, loc_none(), "cannot plot '%s': function %zu has no formula", path,
                       i + 1);
            return false;
        }
    if (n == 0) {
        diag_error(d, loc_none(), "cannot plot '%s': no functions to draw", path);
        return false;
    }
    size_t cols = n <= 3 ? n : n == 4 ? 2 : 3;
    size_t rows = (n + cols - 1) / cols;
    double top = title && *title ? 44 : 8;
    double w = 20 + (double)cols * PANEL_W, h = top + (double)rows * PANEL_H + 8;

    AtomicFile af;
    if (!atomic_open(d, path, &af))
        return false;
    Svg s;
    svg_begin(&s, af.f, w, h);
    draw_title(&s, w, title);
    for (size_t i = 0; i < n; i++)
        draw_panel(&s, &fns[i], 10 + (double)(i % cols) * PANEL_W,
                   top + (double)(i / cols) * PANEL_H);
    return plot_finish(d, &af, &s);
}
