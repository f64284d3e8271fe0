/* SVG plots of what training produced: loss curves, decision regions of a
 * 2-input classifier, and the lecture's activation panel. The module takes
 * plain arrays and callbacks and knows nothing of the runtime or the IR.
 * Every function validates its input, writes the file atomically (whole or
 * not at all), reports problems through diag without a location and returns
 * false. Output is deterministic: the same input gives the same bytes. */
#ifndef NNC_PLOT_H
#define NNC_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "nnc/diag.h"

/* The decision-region background is PLOT_REGION_GRID x PLOT_REGION_GRID
 * cells; at most PLOT_MAX_CLASSES classes (0 .. 9) can be drawn. */
enum { PLOT_REGION_GRID = 120, PLOT_MAX_CLASSES = 10 };

/* One curve: n points (x[i], y[i]). A point with a non-finite x or y (a
 * diverged run), or y == 0 on a log axis, breaks the line there. When a y is
 * NaN or infinite the legend says "(diverged)" and an x marks the last
 * point drawn before it. label NULL reads "series N". */
typedef struct PlotSeries {
    const char *label;
    const double *x;
    const double *y;
    size_t n;
} PlotSeries;

/* A line chart of several labelled series (a sweep's loss curves), 640x420,
 * legend to the right of the data. The y axis turns logarithmic when the
 * positive finite y values span more than two decades and none is negative;
 * its label then says "(log scale)". Title and labels may be NULL. */
bool plot_lines(Diag *d, const char *path, const char *title, const char *x_label,
                const char *y_label, const PlotSeries *series, size_t n_series);

/* Returns the class (0 .. PLOT_MAX_CLASSES-1) a model predicts at (x1, x2). */
typedef int (*PlotClassifier)(void *ctx, double x1, double x2);

/* Decision regions: the data's bounding box plus a 10% margin is cut into
 * PLOT_REGION_GRID^2 cells, each tinted with the class classify() returns at
 * its centre; the boundary is drawn where the class changes, and the points
 * (x is n rows of 2) on top in the colour and marker of their true class.
 * Labels and classifier answers outside 0 .. 9 are errors. */
bool plot_decision_regions(Diag *d, const char *path, const char *title, const double *x,
                           const int *labels, size_t n, PlotClassifier classify,
                           void *ctx);

/* One small chart per function on [-5, 5], in a grid, axes through zero. */
typedef struct PlotFunction {
    const char *name;
    double (*f)(double);
} PlotFunction;
bool plot_functions(Diag *d, const char *path, const char *title, const PlotFunction *fns,
                    size_t n);

#endif
