/* What nnc shows besides the plain log lines: the loss sparkline, the
 * progress bar on a terminal, and the helpers behind --json and --plot.
 * Shared by train.c, eval.c and session.c. */
#ifndef NNC_RT_REPORT_H
#define NNC_RT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "nnc/diag.h"
#include "nnc/runtime.h"
#include "plan.h"

/* Cells of a sparkline and of the progress bar's bar. */
enum { RT_SPARK_WIDTH = 24, RT_BAR_WIDTH = 20 };

/* Writes "loss ▇▅▃▂▁▁ 0.7248 -> 0.0001623" (no newline) into buf: at most
 * RT_SPARK_WIDTH cells sampled evenly from the n losses, log-scaled when the
 * losses span more than two decades. Stops at the first non-finite loss (a
 * diverged run ends in "-> nan"). Deterministic: part of the plain log. */
void rt_sparkline_format(char *buf, size_t size, const double *loss, size_t n);

/* A progress bar on stderr, redrawn in place with '\r'. It appears only
 * when enabled (stdout is a terminal, not --quiet or --json) and only once
 * a training has run for RT_PROGRESS_DELAY seconds, so short runs never
 * flicker; it redraws at most every RT_PROGRESS_PERIOD seconds. */
#define RT_PROGRESS_DELAY 0.5
#define RT_PROGRESS_PERIOD 0.1
typedef struct RtProgress {
    bool enabled, color;
    bool shown;          /* a bar is on the screen now */
    double start, last;  /* monotonic seconds */
    FILE *err;
} RtProgress;

void rt_progress_start(RtProgress *p, bool enabled, bool color, FILE *err);
void rt_progress_tick(RtProgress *p, long epoch, long epochs, double loss);
/* Wipes the bar so a log line can be printed where it was. */
void rt_progress_clear(RtProgress *p);
/* The bar's text, e.g.
 * "epoch  340/1000 ███████░░░░░░░░░░░░░ loss 0.01234  2500 epochs/s  0:01 left"
 * (colour codes around the bar when color). */
void rt_progress_format(char *buf, size_t size, long epoch, long epochs, double loss,
                        double elapsed, bool color);

/* "DIR/NAME.svg", or "DIR/NAME-K.svg" for the K-th plot of that name
 * (K > 1); NULL when memory runs out. The caller frees it. */
char *rt_plot_path(const char *dir, const char *name, size_t k);

/* JSON arrays of numbers (NULL when memory runs out). Floats print with
 * enough digits to round-trip; NaN and infinities print as null. */
cJSON *rt_json_float_array(const float *v, size_t n);
cJSON *rt_json_double_array(const double *v, size_t n);

/* Prints the model like PyTorch's print(model), plus its parameter count,
 * unless it was printed already or the session is quiet. */
void rt_model_summarize(RtSession *s, RtModel *m);

/* --json: a new object {"step": kind} appended to the steps, or NULL
 * when not --json (or out of memory; the document then reports ok false). */
struct cJSON *rt_json_step(RtSession *s, const char *kind);

/* After a plot was written: "wrote PATH" unless --quiet (on stderr with
 * --json), and the path in the step's "plots" array when json_step. */
void rt_plot_written(RtSession *s, struct cJSON *json_step, const char *path);

#endif
