/* The training loop: epochs of shuffled mini-batches (forward, loss,
 * backward, optimizer step) in buffers planned once per training, the loss
 * log, divergence detection, and sweeps over one hyperparameter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nnc/arena.h"
#include "nnc/plot.h"
#include "optim.h"
#include "report.h"
#include "session.h"

/* Epochs whose loss is kept per run, for the sparkline, --plot and --json;
 * a longer run keeps every k-th epoch's loss (k = the run's stride). */
enum { HISTORY_CAP = 100000 };

/* The hyperparameters of one run: the train block's, with a sweep value or
 * the command line's --epochs applied. */
typedef struct RunConfig {
    IrOptimizer optim;
    long epochs;
    size_t batch;
    long log_every;
} RunConfig;

typedef struct RunResult {
    double loss;        /* last epoch's loss */
    long diverged_at;   /* epoch whose loss or a parameter was NaN or infinite; 0 = none */
    long diverged_step; /* ... and the step (counted from 1 over the run) */
    const char *bad_layer; /* the layer with a non-finite parameter, or NULL (the loss) */
    const double *loss_log, *epoch_log; /* the recorded epochs and losses */
    size_t n_log;       /* ends with the non-finite loss of a diverged run */
    long stride;        /* every stride-th epoch is recorded */
} RunResult;

typedef struct TrainCtx {
    RtSession *s;
    RtModel *m;
    const IrTrain *t;
    const IrDataset *ds;
    uint64_t seed;
    bool labels;
    RtPlan plan;
    RtRng rng;          /* shuffling and dropout */
    double *loss_log, *epoch_log; /* [runs][hist_cap + 1], planned once */
    size_t hist_cap;
    RtProgress progress;
    cJSON *json;        /* --json: this step's object, else NULL */
} TrainCtx;

/* "bce", "huber(delta=0.5)": the loss's name with the arguments that differ
 * from their defaults (ir_loss_arg_differs). */
static void print_loss(FILE *out, const IrLoss *l)
{
    const LossInfo *info = &ir_losses[l->kind];
    fputs(info->name, out);
    const char *sep = "(";
    for (size_t i = 0; i < info->n_args; i++) {
        if (!ir_loss_arg_differs(l, i))
            continue;
        HyperParam h = info->args[i].hp;
        fprintf(out, "%s%s=%g", sep, ir_hypers[h].name, l->hyper[h]);
        sep = ", ";
    }
    if (*sep == ',')
        fputc(')', out);
}

/* "adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08)": the optimizer's name with
 * its arguments written as torch.optim's keywords (a tuple where a row of
 * arguments shares one) and values (True, False). */
static void print_optim(FILE *out, const IrOptimizer *o)
{
    const OptimInfo *info = &ir_optims[o->kind];
    fprintf(out, "%s(", info->name);
    for (size_t i = 0; i < info->n_args; i++) {
        HyperParam h = info->args[i].hp;
        bool opens, closes;
        ir_optim_torch_group(info, i, &opens, &closes);
        if (opens)
            fprintf(out, "%s%s=%s", i ? ", " : "", ir_hypers[h].torch, closes ? "" : "(");
        else
            fputs(", ", out);
        if (ir_hypers[h].type == HYPER_BOOL)
            fputs(o->hyper[h] != 0 ? "True" : "False", out);
        else
            fprintf(out, "%g", o->hyper[h]);
        fputs(closes && !opens ? ")" : "", out);
    }
    fputc(')', out);
}

/* ---- one step, one epoch, one run -------------------------------------- */

/* Every node's tensors that train, one contiguous run per node. */
static void train_update(TrainCtx *c, const RunConfig *cfg, long step)
{
    const RtModel *m = c->m;
    RtPlan *pl = &c->plan;
    for (size_t i = 0; i < m->ir->n_nodes; i++) {
        const RtNodeParams *np = &m->node_params[i];
        if (np->trained == 0 || m->ir->nodes[i].frozen)
            continue;
        size_t off = np->offset, count = np->trained;
        float *p = c->m->params + off;
        const float *g = pl->grads + off;
        rt_optim_step(&cfg->optim, step, pl->state, off, count, p, g);
    }
}

/* Forward, loss, backward and update on one batch; returns the batch's
 * mean loss (computed before the update, as loss.item() in PyTorch). */
static double train_step(TrainCtx *c, const RunConfig *cfg, const float *x,
                         const float *y, size_t rows, long step)
{
    RtPlan *pl = &c->plan;
    const IrModel *ir = c->m->ir;
    const float *out = rt_plan_forward(pl, x, rows, true, &c->rng);
    RtTargets t = {y, c->labels};
    double loss = rt_loss(&c->t->loss, rows, ir->out_units, out, t,
                          pl->dy[ir->n_nodes - 1]);
    memset(pl->grads, 0, c->m->n_params * sizeof(float));
    rt_plan_backward(pl, rows);
    train_update(c, cfg, step);
    return loss;
}

/* Copies rows order[start..start+n) of the dataset into the batch buffers. */
static void train_gather(TrainCtx *c, size_t start, size_t n)
{
    const IrDataset *ds = c->ds;
    RtPlan *pl = &c->plan;
    for (size_t i = 0; i < n; i++) {
        size_t r = pl->order[start + i];
        memcpy(pl->bx + i * ds->x_cols, ds->x + r * ds->x_cols, ds->x_cols * sizeof(float));
        memcpy(pl->by + i * ds->y_cols, ds->y + r * ds->y_cols, ds->y_cols * sizeof(float));
    }
}

/* One pass over the data; returns the sample-weighted mean batch loss, or
 * the first non-finite batch loss. Full-batch training keeps the dataset's
 * order (shuffling would change nothing but the summation order). */
static double train_epoch(TrainCtx *c, const RunConfig *cfg, long *step)
{
    const IrDataset *ds = c->ds;
    if (cfg->batch >= ds->rows)
        return train_step(c, cfg, ds->x, ds->y, ds->rows, ++*step);
    rt_rng_shuffle(&c->rng, c->plan.order, ds->rows);
    double sum = 0.0;
    for (size_t start = 0; start < ds->rows; start += cfg->batch) {
        size_t n = ds->rows - start < cfg->batch ? ds->rows - start : cfg->batch;
        train_gather(c, start, n);
        double loss = train_step(c, cfg, c->plan.bx, c->plan.by, n, ++*step);
        if (!isfinite(loss))
            return loss;
        sum += loss * (double)n;
    }
    return sum / (double)ds->rows;
}

/* The first trainable layer holding a NaN or infinite parameter, or NULL.
 * Checked once per epoch: a parameter that blew up without making the loss
 * non-finite (a dead unit, a frozen path) must not pass as a trained model. */
static const char *train_bad_layer(const TrainCtx *c)
{
    const RtModel *m = c->m;
    for (size_t i = 0; i < m->ir->n_nodes; i++) {
        const RtNodeParams *np = &m->node_params[i];
        if (np->size == 0 || m->ir->nodes[i].frozen)
            continue;
        const float *p = m->params + np->offset;
        for (size_t k = 0; k < np->size; k++)
            if (!isfinite(p[k]))
                return m->ir->nodes[i].name;
    }
    return NULL;
}

static bool train_should_log(const RunConfig *cfg, long epoch)
{
    return epoch == 1 || epoch == cfg->epochs || epoch % cfg->log_every == 0;
}

static int digits_of(long v)
{
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

/* Trains from the model's current weights with fresh optimizer state and a
 * generator reseeded from the run seed, so sweep runs differ only in the
 * swept value. */
static RunResult train_one(TrainCtx *c, const RunConfig *cfg, bool log, size_t run)
{
    RtPlan *pl = &c->plan;
    double *loss_log = c->loss_log + run * (c->hist_cap + 1);
    double *epoch_log = c->epoch_log + run * (c->hist_cap + 1);
    for (size_t k = 0; k < pl->n_state; k++)
        memset(pl->state[k], 0, c->m->n_params * sizeof(float));
    for (size_t i = 0; i < c->ds->rows; i++)
        pl->order[i] = i;
    rt_rng_seed(&c->rng, c->seed, RT_STREAM_TRAIN);
    long cap = (long)c->hist_cap;
    RunResult res = {NAN, 0, 0, NULL, loss_log, epoch_log, 0, (cfg->epochs + cap - 1) / cap};
    int width = digits_of(cfg->epochs);
    long step = 0;
    rt_progress_start(&c->progress, c->s->progress, c->s->color, stderr);
    for (long epoch = 1; epoch <= cfg->epochs; epoch++) {
        res.loss = train_epoch(c, cfg, &step);
        bool finite = isfinite(res.loss);
        if (finite && (res.bad_layer = train_bad_layer(c)) != NULL) {
            res.loss = NAN;
            finite = false;
        }
        /* At most epochs/stride <= cap entries, plus a final non-finite one. */
        if (epoch % res.stride == 0 || !finite) {
            loss_log[res.n_log] = res.loss;
            epoch_log[res.n_log++] = (double)epoch;
        }
        if (!finite) {
            res.diverged_at = epoch;
            res.diverged_step = step;
            break;
        }
        if (log && train_should_log(cfg, epoch)) {
            rt_progress_clear(&c->progress);
            fprintf(c->s->opt.out, "epoch %*ld/%ld  loss %.7g\n", width, epoch,
                    cfg->epochs, res.loss);
        }
        rt_progress_tick(&c->progress, epoch, cfg->epochs, res.loss);
    }
    rt_progress_clear(&c->progress);
    return res;
}

static void train_print_sparkline(const TrainCtx *c, const RunResult *r)
{
    char line[256];
    rt_sparkline_format(line, sizeof line, r->loss_log, r->n_log);
    fprintf(c->s->opt.out, "%s\n", line);
}

/* ---- configuration and reports ----------------------------------------- */

static RunConfig train_config(const TrainCtx *c)
{
    const IrTrain *t = c->t;
    RunConfig cfg = {t->optimizer, t->epochs, t->batch, t->log_every};
    if (c->s->opt.epochs > 0) {
        cfg.epochs = c->s->opt.epochs;
        /* A log interval meant for the file's epoch count would hide the
         * whole curve of a shorter run. */
        if (cfg.log_every > cfg.epochs)
            cfg.log_every = cfg.epochs / 10;
    }
    if (cfg.log_every <= 0)
        cfg.log_every = cfg.epochs / 10 > 0 ? cfg.epochs / 10 : 1;
    if (cfg.batch == 0 || cfg.batch > c->ds->rows)
        cfg.batch = c->ds->rows;
    return cfg;
}

/* The configuration of sweep run k. The sweep's epoch values win over
 * --epochs: they are the point of the sweep. */
static RunConfig sweep_config(const TrainCtx *c, const RunConfig *base, size_t k)
{
    RunConfig cfg = *base;
    double v = c->t->sweep_values[k];
    if (c->t->sweep == HP_EPOCHS) {
        cfg.epochs = (long)v;
        if (cfg.log_every > cfg.epochs)
            cfg.log_every = cfg.epochs / 10 > 0 ? cfg.epochs / 10 : 1;
    } else if (c->t->sweep == HP_BATCH) {
        cfg.batch = v < 1.0 || (size_t)v > c->ds->rows ? c->ds->rows : (size_t)v;
    } else {
        cfg.optim.hyper[c->t->sweep] = v;
    }
    return cfg;
}

static void train_print_header(const TrainCtx *c, const RunConfig *cfg)
{
    FILE *out = c->s->opt.out;
    fprintf(out, "train %s on %s: loss ", c->m->ir->name, c->ds->name);
    print_loss(out, &c->t->loss);
    fputs(", ", out);
    print_optim(out, &cfg->optim);
    fprintf(out, ", %ld epochs, batch %zu, seed %llu", cfg->epochs, cfg->batch,
            (unsigned long long)c->seed);
    if (c->t->n_sweep > 0) {
        fprintf(out, ", sweep %s = [", ir_hyper_name(c->t->sweep));
        for (size_t k = 0; k < c->t->n_sweep; k++)
            fprintf(out, "%s%g", k ? ", " : "", c->t->sweep_values[k]);
        fputc(']', out);
    }
    fputc('\n', out);
}

/* "the loss became nan", or "a parameter of layer1 became infinite". */
static const char *divergence_what(const RunResult *r, char *buf, size_t size)
{
    if (r->bad_layer)
        snprintf(buf, size, "a parameter of layer %s became NaN or infinite", r->bad_layer);
    else
        snprintf(buf, size, "the loss became %s", isnan(r->loss) ? "nan" : "infinite");
    return buf;
}

static void train_report_divergence(const TrainCtx *c, const RunConfig *cfg,
                                    const RunResult *r, Diag *d)
{
    char what[160];
    c->s->diverged = true;
    diag_error(d, c->t->loc,
               "training %s diverged at epoch %ld, step %ld: %s; "
               "try a smaller learning rate than lr = %g",
               c->m->ir->name, r->diverged_at, r->diverged_step,
               divergence_what(r, what, sizeof what), cfg->optim.hyper[HP_LR]);
}

/* ---- --json and --plot -------------------------------------------------- */

typedef struct SweepRow {
    RunResult result;
    RtScore score;
} SweepRow;

/* {"kind": "adam", "lr": 0.1, "beta1": 0.9, ...}: the arguments by their
 * nnc names, in the optimizer's order. */
static void train_json_optim(cJSON *step, const IrOptimizer *o)
{
    cJSON *opt = cJSON_AddObjectToObject(step, "optimizer");
    if (!opt)
        return;
    const OptimInfo *info = &ir_optims[o->kind];
    cJSON_AddStringToObject(opt, "kind", info->name);
    for (size_t i = 0; i < info->n_args; i++) {
        HyperParam h = info->args[i].hp;
        if (ir_hypers[h].type == HYPER_BOOL)
            cJSON_AddBoolToObject(opt, ir_hypers[h].name, o->hyper[h] != 0);
        else
            cJSON_AddNumberToObject(opt, ir_hypers[h].name, o->hyper[h]);
    }
}

/* {"delta": 1} for huber: every argument of the loss by its nnc name
 * ({} for a loss without any). */
static void train_json_loss_args(cJSON *step, const IrLoss *l)
{
    cJSON *args = cJSON_AddObjectToObject(step, "loss_args");
    if (!args)
        return;
    const LossInfo *info = &ir_losses[l->kind];
    for (size_t i = 0; i < info->n_args; i++) {
        HyperParam h = info->args[i].hp;
        cJSON_AddNumberToObject(args, ir_hypers[h].name, l->hyper[h]);
    }
}

/* The step's settings; its runs are added as they finish. */
static void train_json_begin(TrainCtx *c, const RunConfig *cfg)
{
    cJSON *j = c->json;
    if (!j)
        return;
    cJSON_AddStringToObject(j, "model", c->m->ir->name);
    cJSON_AddStringToObject(j, "dataset", c->ds->name);
    cJSON_AddStringToObject(j, "loss", ir_loss_name(c->t->loss.kind));
    train_json_loss_args(j, &c->t->loss);
    train_json_optim(j, &cfg->optim);
    cJSON_AddNumberToObject(j, "epochs", (double)cfg->epochs);
    cJSON_AddNumberToObject(j, "batch", (double)cfg->batch);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    if (c->t->n_sweep > 0) {
        cJSON *sw = cJSON_AddObjectToObject(j, "sweep");
        if (sw) {
            cJSON_AddStringToObject(sw, "param", ir_hyper_name(c->t->sweep));
            cJSON_AddItemToObject(sw, "values",
                                  rt_json_double_array(c->t->sweep_values, c->t->n_sweep));
        }
    }
    cJSON_AddArrayToObject(j, "runs");
}

static void train_json_run(TrainCtx *c, const RunConfig *cfg, size_t k, const SweepRow *row)
{
    cJSON *runs = c->json ? cJSON_GetObjectItemCaseSensitive(c->json, "runs") : NULL;
    cJSON *run = runs ? cJSON_CreateObject() : NULL;
    if (!run || !cJSON_AddItemToArray(runs, run)) {
        cJSON_Delete(run);
        return;
    }
    const RunResult *r = &row->result;
    if (c->t->n_sweep > 0)
        cJSON_AddNumberToObject(run, "sweep_value", c->t->sweep_values[k]);
    cJSON_AddNumberToObject(run, "epochs", (double)cfg->epochs);
    cJSON_AddNumberToObject(run, "loss_stride", (double)r->stride);
    cJSON_AddItemToObject(run, "loss_per_epoch", rt_json_double_array(r->loss_log, r->n_log));
    cJSON_AddNumberToObject(run, "final_loss", r->loss); /* NaN prints as null */
    cJSON_AddBoolToObject(run, "diverged", r->diverged_at != 0);
    if (r->diverged_at) {
        cJSON_AddNumberToObject(run, "diverged_epoch", (double)r->diverged_at);
        cJSON_AddNumberToObject(run, "diverged_step", (double)r->diverged_step);
    } else {
        cJSON_AddNullToObject(run, "diverged_epoch");
        cJSON_AddNullToObject(run, "diverged_step");
    }
    if (c->t->n_sweep == 0 || r->diverged_at)
        return;
    if (row->score.kind == RT_EVAL_REGRESSION)
        cJSON_AddNumberToObject(run, "train_mse", row->score.mse);
    else
        cJSON_AddNumberToObject(run, "train_accuracy",
                                (double)row->score.correct / (double)row->score.rows);
}

/* The how-many-th training of this model this step is (1 = the first). */
static size_t train_ordinal(const TrainCtx *c)
{
    size_t k = 1;
    for (const IrTrain *t = c->s->prog->trains; t < c->t; t++)
        k += t->model == c->t->model;
    return k;
}

/* loss-MODEL.svg: one curve per run, labelled with its sweep value (or the
 * learning rate of a single run). */
static bool train_plot(TrainCtx *c, const RunConfig *cfg, const SweepRow *rows, size_t n,
                       Diag *d)
{
    const char *dir = c->s->opt.plot_dir;
    if (!dir)
        return true;
    enum { LABEL = 48 };
    PlotSeries *series = calloc(n, sizeof *series);
    char *labels = calloc(n, LABEL);
    char *name = malloc(strlen(c->m->ir->name) + 8);
    char *path = NULL, title[256], y_label[64];
    bool ok = series && labels && name;
    if (ok) {
        sprintf(name, "loss-%s", c->m->ir->name);
        path = rt_plot_path(dir, name, train_ordinal(c));
        ok = path != NULL;
    }
    if (!ok) {
        diag_error(d, c->t->loc, "out of memory for the loss plot");
    } else {
        for (size_t k = 0; k < n; k++) {
            char *label = labels + k * LABEL;
            if (c->t->n_sweep > 0)
                snprintf(label, LABEL, "%s = %g", ir_hyper_name(c->t->sweep), c->t->sweep_values[k]);
            else
                snprintf(label, LABEL, "lr = %g", cfg->optim.hyper[HP_LR]);
            const RunResult *r = &rows[k].result;
            series[k] = (PlotSeries){label, r->epoch_log, r->loss_log, r->n_log};
        }
        snprintf(title, sizeof title, "%s on %s: training loss", c->m->ir->name, c->ds->name);
        snprintf(y_label, sizeof y_label, "%s loss", ir_loss_name(c->t->loss.kind));
        ok = plot_lines(d, path, title, "epoch", y_label, series, n);
        if (ok)
            rt_plot_written(c->s, c->json, path);
    }
    free(path);
    free(name);
    free(labels);
    free(series);
    return ok;
}

/* ---- a single training and a sweep ------------------------------------- */

static bool train_single(TrainCtx *c, const RunConfig *cfg, Diag *d)
{
    FILE *out = c->s->opt.out;
    bool quiet = c->s->opt.quiet;
    if (!quiet)
        train_print_header(c, cfg);
    SweepRow row = {0};
    row.result = train_one(c, cfg, !quiet, 0);
    const RunResult r = row.result;
    if (!quiet)
        train_print_sparkline(c, &r);
    train_json_run(c, cfg, 0, &row);
    if (!train_plot(c, cfg, &row, 1, d))
        return false;
    if (r.diverged_at) {
        train_report_divergence(c, cfg, &r, d);
        return false;
    }
    if (quiet)
        fprintf(out, "train %s on %s: final loss %.7g after %ld epochs\n",
                c->m->ir->name, c->ds->name, r.loss, cfg->epochs);
    fputc('\n', out);
    return true;
}

static void sweep_print_row(const TrainCtx *c, size_t k, const SweepRow *row)
{
    FILE *out = c->s->opt.out;
    fprintf(out, "%10g  ", c->t->sweep_values[k]);
    if (row->result.diverged_at) {
        fprintf(out, "%12s  at epoch %ld, step %ld\n", "diverged", row->result.diverged_at,
                row->result.diverged_step);
        return;
    }
    fprintf(out, "%12.7g  ", row->result.loss);
    const RtScore *sc = &row->score;
    if (sc->kind == RT_EVAL_REGRESSION)
        fprintf(out, "mse %.7g\n", sc->mse);
    else
        fprintf(out, "%zu/%zu (%.1f%%)\n", sc->correct, sc->rows,
                100.0 * (double)sc->correct / (double)sc->rows);
}

static void sweep_print_table(const TrainCtx *c, const SweepRow *rows)
{
    FILE *out = c->s->opt.out;
    const char *name = ir_hyper_name(c->t->sweep);
    if (!c->s->opt.quiet)
        fputc('\n', out);
    fprintf(out, "sweep %s: %zu runs from the same initial weights\n", name, c->t->n_sweep);
    /* The score kind is known only from a run that did not diverge. */
    const char *scored = "on training data";
    for (size_t k = 0; k < c->t->n_sweep; k++) {
        if (!rows[k].result.diverged_at) {
            if (rows[k].score.kind != RT_EVAL_REGRESSION)
                scored = "accuracy on training data";
            break;
        }
    }
    fprintf(out, "%10s  %12s  %s\n", name, "final loss", scored);
    for (size_t k = 0; k < c->t->n_sweep; k++)
        sweep_print_row(c, k, &rows[k]);
}

/* Runs sweep value k from the initial weights and records its result. */
static void sweep_run(TrainCtx *c, const RunConfig *base, const float *initial,
                      size_t k, SweepRow *row)
{
    FILE *out = c->s->opt.out;
    bool quiet = c->s->opt.quiet;
    RunConfig cfg = sweep_config(c, base, k);
    memcpy(c->m->params, initial, c->m->n_params * sizeof(float));
    if (!quiet)
        fprintf(out, "run %zu/%zu: %s = %g\n", k + 1, c->t->n_sweep,
                ir_hyper_name(c->t->sweep), c->t->sweep_values[k]);
    row->result = train_one(c, &cfg, !quiet, k);
    if (!quiet)
        train_print_sparkline(c, &row->result);
    char what[160];
    if (row->result.diverged_at && !quiet)
        fprintf(out, "diverged at epoch %ld, step %ld: %s\n", row->result.diverged_at,
                row->result.diverged_step, divergence_what(&row->result, what, sizeof what));
    if (!row->result.diverged_at)
        rt_eval_score(&c->plan, c->ds, &row->score);
    train_json_run(c, &cfg, k, row);
}

/* Runs every sweep value from the same initial weights; the model keeps
 * the weights of the run with the lowest final loss. initial, best and rows
 * are scratch buffers the caller planned. */
static bool train_sweep(TrainCtx *c, const RunConfig *base, float *initial,
                        float *best, SweepRow *rows, Diag *d)
{
    FILE *out = c->s->opt.out;
    size_t np = c->m->n_params, n = c->t->n_sweep, best_k = n;
    memcpy(initial, c->m->params, np * sizeof(float));
    if (!c->s->opt.quiet)
        train_print_header(c, base);
    for (size_t k = 0; k < n; k++) {
        sweep_run(c, base, initial, k, &rows[k]);
        const RunResult *r = &rows[k].result;
        if (!r->diverged_at && (best_k == n || r->loss < rows[best_k].result.loss)) {
            best_k = k;
            memcpy(best, c->m->params, np * sizeof(float));
        }
    }
    sweep_print_table(c, rows);
    if (c->json) {
        if (best_k < n)
            cJSON_AddNumberToObject(c->json, "kept_run", (double)best_k);
        else
            cJSON_AddNullToObject(c->json, "kept_run");
    }
    if (!train_plot(c, base, rows, n, d))
        return false;
    if (best_k == n) {
        memcpy(c->m->params, initial, np * sizeof(float));
        c->s->diverged = true;
        diag_error(d, c->t->loc, "every run of the sweep over %s diverged; "
                   "try smaller learning rates", ir_hyper_name(c->t->sweep));
        return false;
    }
    memcpy(c->m->params, best, np * sizeof(float));
    fprintf(out, "%s keeps the weights of the run with %s = %g (lowest final loss)\n\n",
            c->m->ir->name, ir_hyper_name(c->t->sweep), c->t->sweep_values[best_k]);
    return true;
}

/* The largest batch any run of this training uses. */
static size_t train_max_batch(const TrainCtx *c, const RunConfig *base)
{
    size_t max = base->batch;
    if (c->t->n_sweep == 0 || c->t->sweep != HP_BATCH)
        return max;
    for (size_t k = 0; k < c->t->n_sweep; k++) {
        RunConfig cfg = sweep_config(c, base, k);
        max = cfg.batch > max ? cfg.batch : max;
    }
    return max;
}

static size_t train_n_runs(const TrainCtx *c)
{
    return c->t->n_sweep > 0 ? c->t->n_sweep : 1;
}

/* The loss log of every run, allocated before the first epoch: the
 * training loop itself never allocates. */
static bool train_plan_history(TrainCtx *c, const RunConfig *base, Diag *d)
{
    long max = base->epochs;
    for (size_t k = 0; c->t->sweep == HP_EPOCHS && k < c->t->n_sweep; k++) {
        RunConfig cfg = sweep_config(c, base, k);
        max = cfg.epochs > max ? cfg.epochs : max;
    }
    c->hist_cap = max < HISTORY_CAP ? (size_t)(max > 0 ? max : 1) : HISTORY_CAP;
    size_t n = train_n_runs(c) * (c->hist_cap + 1);
    char need[32], have[32];
    if (n > mem_limit_bytes() / (2 * sizeof(double))) {
        diag_error(d, c->t->loc, "the loss history of %zu run%s needs %s, more than the %s available",
                   train_n_runs(c), train_n_runs(c) == 1 ? "" : "s", mem_format(need, n * 2 * sizeof(double)),
                   mem_format(have, mem_limit_bytes()));
        return false;
    }
    c->loss_log = calloc(n, sizeof *c->loss_log);
    c->epoch_log = calloc(n, sizeof *c->epoch_log);
    if (c->loss_log && c->epoch_log)
        return true;
    diag_error(d, c->t->loc, "out of memory for the loss history");
    return false;
}

static bool train_sweep_planned(TrainCtx *c, const RunConfig *base, Diag *d)
{
    size_t np = c->m->n_params ? c->m->n_params : 1;
    float *initial = calloc(np, sizeof(float));
    float *best = calloc(np, sizeof(float));
    SweepRow *rows = calloc(c->t->n_sweep, sizeof *rows);
    bool ok = false;
    if (!initial || !best || !rows)
        diag_error(d, c->t->loc, "out of memory for the sweep");
    else
        ok = train_sweep(c, base, initial, best, rows, d);
    free(initial);
    free(best);
    free(rows);
    return ok;
}

bool rt_train_run(RtSession *s, const IrTrain *t, Diag *d)
{
    TrainCtx c = {0};
    c.s = s;
    c.t = t;
    c.m = &s->models[t->model];
    c.ds = &s->prog->datasets[t->dataset];
    c.seed = s->opt.override_seed ? s->opt.seed : t->seed;
    c.labels = ir_targets_are_labels(c.ds, c.m->ir);
    if (c.ds->rows == 0 || c.m->ir->n_nodes < 2) {
        diag_error(d, t->loc, "nothing to train: %s", c.ds->rows == 0
                   ? "the dataset has no rows" : "the model has no layers");
        return false;
    }
    rt_model_summarize(s, c.m);
    RunConfig base = train_config(&c);
    c.json = rt_json_step(s, "train");
    train_json_begin(&c, &base);
    bool ok = train_plan_history(&c, &base, d) &&
              rt_plan_fits(c.m, train_max_batch(&c, &base), c.ds, &t->optimizer, -1, t->loc, d) &&
              rt_plan_init(&c.plan, c.m, train_max_batch(&c, &base), c.ds, &t->optimizer, -1, d);
    if (ok)
        ok = t->n_sweep > 0 ? train_sweep_planned(&c, &base, d) : train_single(&c, &base, d);
    if (c.plan.model)
        rt_plan_free(&c.plan);
    free(c.loss_log);
    free(c.epoch_log);
    return ok;
}
