/* The training loop: epochs of shuffled mini-batches (forward, loss,
 * backward, optimizer step) in buffers planned once per training, the loss
 * log, divergence detection, and sweeps over one hyperparameter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nnc/arena.h"
#include "nnc/plot.h"
#include "checkpoint.h"
#include "optim.h"
#include "report.h"
#include "session.h"

/* Epochs whose loss is kept per run, for the sparkline, --plot and --json;
 * a longer run keeps every k-th epoch's loss (k = the run's stride). */
enum { HISTORY_CAP = 100000 };

/* The hyperparameters of one run: the train block's, with a sweep value or
 * the command line's --epochs applied. */
typedef struct RunConfig {
    IrOptimizer optim;  /* lr: the base rate the schedule starts from */
    IrSchedule sched;
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
    const double *lr_log;          /* the epochs' learning rates, or NULL */
    const double *valid_log, *acc_log; /* validation loss and accuracy (or mse), or NULL */
    size_t n_log;       /* ends with the non-finite loss of a diverged run */
    long stride;        /* every stride-th epoch is recorded */
    long epochs_run;    /* < the configured epochs when early stopping ended the run */
    double valid_loss;  /* with validation: the best epoch's validation loss */
    double kept_valid;  /* ... and that of the weights the run ends with */
    long best_epoch;    /* ... and their epoch */
    bool stopped_early;
    RtEvalKind valid_kind; /* what acc_log holds: accuracy, or mse for RT_EVAL_REGRESSION */
    bool failed;        /* a checkpoint could not be written (reported) */
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
    double *logs[LOG_KINDS]; /* each [runs][hist_cap + 1], planned once; NULL when unused */
    size_t hist_cap;
    const IrDataset *valid; /* validate = ..., or NULL */
    float *best;        /* with validation: the parameters of the best epoch so far */
    float *valid_grad;  /* the validation loss's gradient (unused) */
    RtTrainState st;    /* the current run's progress, as a checkpoint keeps it */
    char *ckpt_path;    /* --checkpoint: where every epoch's state goes, or NULL */
    bool resumed;       /* st was read from --resume's checkpoint */
    Diag *d;
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

/* ", schedule cosine(warmup=2, min_lr=0)": every argument of the schedule. */
static void print_schedule(FILE *out, const IrSchedule *sc)
{
    const ScheduleInfo *info = &ir_schedules[sc->kind];
    fprintf(out, ", schedule %s", info->name);
    for (size_t i = 0; i < info->n_args; i++)
        fprintf(out, "%s%s=%g", i ? ", " : "(", ir_hypers[info->args[i].hp].name,
                sc->hyper[info->args[i].hp]);
    if (info->n_args)
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

/* torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm): the L2 norm
 * of every gradient together (summed in double here; torch takes float32
 * norms of norms), coefficient max_norm / (norm + 1e-6) in float32,
 * clamped to 1 and applied to every gradient (a multiplication by 1 when
 * the norm is below max_norm changes nothing). */
static void train_clip(TrainCtx *c, float max_norm)
{
    const RtModel *m = c->m;
    float *grads = c->plan.grads;
    double sq = 0.0;
    for (size_t i = 0; i < m->ir->n_nodes; i++) {
        const RtNodeParams *np = &m->node_params[i];
        if (np->trained == 0 || m->ir->nodes[i].frozen)
            continue;
        for (size_t k = 0; k < np->trained; k++)
            sq += (double)grads[np->offset + k] * grads[np->offset + k];
    }
    float coef = max_norm / ((float)sqrt(sq) + 1e-6f);
    if (coef >= 1.0f)
        return;
    for (size_t i = 0; i < m->ir->n_nodes; i++) {
        const RtNodeParams *np = &m->node_params[i];
        if (np->trained == 0 || m->ir->nodes[i].frozen)
            continue;
        for (size_t k = 0; k < np->trained; k++)
            grads[np->offset + k] *= coef;
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
    if (c->t->clip_grad > 0)
        train_clip(c, (float)c->t->clip_grad);
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

/* The validation of one epoch: loss and score on c->valid. */
typedef struct EpochValid {
    double loss;
    RtScore score;
} EpochValid;

static double valid_metric(const RtScore *sc)
{
    return sc->kind == RT_EVAL_REGRESSION ? sc->mse : (double)sc->correct / (double)sc->rows;
}

/* "epoch  3/40  loss 0.2345678  lr 0.003  valid loss 0.25  acc 91.2%". */
static void train_print_epoch(const TrainCtx *c, const RunConfig *cfg, long epoch, double loss,
                              double lr, const EpochValid *v)
{
    FILE *out = c->s->opt.out;
    fprintf(out, "epoch %*ld/%ld  loss %.7g", digits_of(cfg->epochs), epoch, cfg->epochs, loss);
    if (c->t->has_schedule)
        fprintf(out, "  lr %.6g", lr);
    if (v && v->score.kind == RT_EVAL_REGRESSION)
        fprintf(out, "  valid loss %.7g  mse %.6g", v->loss, v->score.mse);
    else if (v)
        fprintf(out, "  valid loss %.7g  acc %.1f%%", v->loss, 100.0 * valid_metric(&v->score));
    fputc('\n', out);
}

/* Appends epoch's values to the run's logs (at most hist_cap + 1 each). */
static void train_record(TrainCtx *c, long epoch, double loss, double lr, const EpochValid *v)
{
    double vals[LOG_KINDS] = {(double)epoch, loss, lr, v ? v->loss : NAN,
                              v ? valid_metric(&v->score) : NAN};
    for (int k = 0; k < LOG_KINDS; k++)
        if (c->st.logs[k])
            c->st.logs[k][c->st.n_log] = vals[k];
    c->st.n_log++;
}

/* Early stopping's bookkeeping after an epoch's validation: true when the
 * run should stop (early_stop epochs without a lower validation loss). */
static bool train_watch(TrainCtx *c, long epoch, const EpochValid *v)
{
    RtTrainState *st = &c->st;
    if (st->best_epoch == 0 || v->loss < st->best_valid) {
        st->best_epoch = epoch;
        st->best_valid = v->loss;
        if (c->t->early_stop > 0)
            memcpy(c->best, c->m->params, c->m->n_params * sizeof(float));
        return false;
    }
    return c->t->early_stop > 0 && epoch - st->best_epoch >= c->t->early_stop;
}

/* A fresh run k: zero optimizer state, rows in order, the generator
 * reseeded from the run seed, empty logs. */
static void train_reset(TrainCtx *c, size_t run)
{
    RtPlan *pl = &c->plan;
    for (size_t k = 0; k < pl->n_state; k++)
        memset(pl->state[k], 0, c->m->n_params * sizeof(float));
    for (size_t i = 0; i < c->ds->rows; i++)
        pl->order[i] = i;
    rt_rng_seed(&c->rng, c->seed, RT_STREAM_TRAIN);
    RtTrainState *st = &c->st;
    *st = (RtTrainState){.loss = NAN, .order = pl->order, .rows = c->ds->rows,
                         .opt_state = pl->state, .n_state = pl->n_state, .best = c->best,
                         .log_cap = c->hist_cap + 1};
    for (int k = 0; k < LOG_KINDS; k++)
        st->logs[k] = c->logs[k] ? c->logs[k] + run * (c->hist_cap + 1) : NULL;
}

/* After each finished epoch with --checkpoint. */
static bool train_checkpoint(TrainCtx *c)
{
    if (!c->ckpt_path)
        return true;
    c->st.rng = c->rng;
    return rt_checkpoint_save(c->m, c->t, c->ckpt_path, &c->st, c->d);
}

static RunResult train_result(const TrainCtx *c, const RunConfig *cfg)
{
    const RtTrainState *st = &c->st;
    long cap = (long)c->hist_cap;
    RunResult res = {.loss = st->loss, .stride = (cfg->epochs + cap - 1) / cap};
    res.epoch_log = st->logs[LOG_EPOCH], res.loss_log = st->logs[LOG_LOSS];
    res.lr_log = st->logs[LOG_LR], res.valid_log = st->logs[LOG_VALID];
    res.acc_log = st->logs[LOG_ACC];
    res.n_log = st->n_log, res.epochs_run = st->epoch;
    res.best_epoch = st->best_epoch, res.valid_loss = st->best_valid;
    bool last = c->t->early_stop == 0 && st->n_log > 0 && st->logs[LOG_VALID];
    res.kept_valid = last ? st->logs[LOG_VALID][st->n_log - 1] : st->best_valid;
    res.stopped_early = st->finished && st->epoch < cfg->epochs;
    res.valid_kind = c->valid ? rt_eval_kind(c->valid, c->m->ir) : RT_EVAL_BINARY;
    return res;
}

/* Trains from the model's current weights with fresh optimizer state and a
 * generator reseeded from the run seed, so sweep runs differ only in the
 * swept value; or, resumed, from where the checkpoint left off. With
 * early stopping the run ends on the weights of its best epoch. */
static RunResult train_one(TrainCtx *c, const RunConfig *cfg, bool log, size_t run)
{
    RtPlan *pl = &c->plan;
    if (!c->resumed)
        train_reset(c, run);
    RtTrainState *st = &c->st;
    RunResult res = train_result(c, cfg);
    long step = st->step;
    RunConfig ecfg = *cfg; /* with the epoch's learning rate */
    rt_progress_start(&c->progress, c->s->progress, c->s->color, stderr);
    for (long epoch = st->epoch + 1; !st->finished && epoch <= cfg->epochs; epoch++) {
        double lr = ir_schedule_lr(&cfg->sched, cfg->optim.hyper[HP_LR], epoch - 1, cfg->epochs);
        ecfg.optim.hyper[HP_LR] = lr;
        double loss = train_epoch(c, &ecfg, &step);
        bool finite = isfinite(loss);
        const char *bad_layer = finite ? train_bad_layer(c) : NULL;
        if (bad_layer) {
            loss = NAN;
            finite = false;
        }
        EpochValid v, *vp = NULL;
        if (finite && c->valid) {
            v.loss = rt_eval_loss(pl, c->valid, &c->t->loss, c->valid_grad, &v.score);
            vp = &v;
        }
        /* At most epochs/stride <= cap entries, plus a final non-finite one. */
        if (epoch % res.stride == 0 || !finite)
            train_record(c, epoch, loss, lr, vp);
        if (!finite) {
            res = train_result(c, cfg);
            res.loss = loss, res.epochs_run = epoch;
            res.diverged_at = epoch;
            res.diverged_step = step;
            res.bad_layer = bad_layer;
            rt_progress_clear(&c->progress);
            return res;
        }
        bool stop = vp && train_watch(c, epoch, vp);
        st->epoch = epoch, st->step = step, st->loss = loss;
        st->finished = stop || epoch == cfg->epochs;
        if (log && (train_should_log(cfg, epoch) || stop)) {
            rt_progress_clear(&c->progress);
            train_print_epoch(c, cfg, epoch, loss, lr, vp);
        }
        rt_progress_tick(&c->progress, epoch, cfg->epochs, loss);
        if (!train_checkpoint(c)) {
            res.failed = true;
            break;
        }
    }
    rt_progress_clear(&c->progress);
    bool failed = res.failed;
    res = train_result(c, cfg);
    res.failed = failed;
    if (c->t->early_stop > 0 && st->best_epoch > 0)
        memcpy(c->m->params, c->best, c->m->n_params * sizeof(float));
    return res;
}

/* "stopped at epoch 17: no lower validation loss for 5 epochs; keeping the
 * weights of epoch 12 (validation loss 0.1234567)". */
static void train_print_kept(const TrainCtx *c, const RunResult *r)
{
    if (!c->valid || r->diverged_at || r->best_epoch == 0)
        return;
    FILE *out = c->s->opt.out;
    if (r->stopped_early)
        fprintf(out, "early stop at epoch %ld: no lower validation loss for %ld epochs\n",
                r->epochs_run, c->t->early_stop);
    if (c->t->early_stop > 0)
        fprintf(out, "best epoch %ld (validation loss %.7g): %s keeps its weights\n",
                r->best_epoch, r->valid_loss, c->m->ir->name);
    else
        fprintf(out, "lowest validation loss %.7g at epoch %ld; %s keeps the last epoch's "
                "weights (early_stop keeps the best)\n", r->valid_loss, r->best_epoch,
                c->m->ir->name);
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
    RunConfig cfg = {t->optimizer, t->schedule, t->epochs, t->batch, t->log_every};
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
    } else if (ir_optim_arg(cfg.optim.kind, c->t->sweep) >= 0) {
        cfg.optim.hyper[c->t->sweep] = v;
    } else {
        cfg.sched.hyper[c->t->sweep] = v; /* the checker allowed only these */
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
    if (c->t->has_schedule)
        print_schedule(out, &cfg->sched);
    fprintf(out, ", %ld epochs, batch %zu, seed %llu", cfg->epochs, cfg->batch,
            (unsigned long long)c->seed);
    if (c->t->clip_grad > 0)
        fprintf(out, ", clip_grad %g", c->t->clip_grad);
    if (c->valid)
        fprintf(out, ", validate on %s", c->valid->name);
    if (c->t->early_stop > 0)
        fprintf(out, ", early_stop %ld", c->t->early_stop);
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
    if (r->lr_log)
        cJSON_AddItemToObject(run, "lr_per_epoch", rt_json_double_array(r->lr_log, r->n_log));
    if (r->valid_log) {
        bool mse = r->valid_kind == RT_EVAL_REGRESSION;
        cJSON_AddItemToObject(run, "valid_loss_per_epoch", rt_json_double_array(r->valid_log, r->n_log));
        cJSON_AddItemToObject(run, mse ? "valid_mse_per_epoch" : "valid_accuracy_per_epoch",
                              rt_json_double_array(r->acc_log, r->n_log));
        cJSON_AddNumberToObject(run, "epochs_run", (double)r->epochs_run);
        cJSON_AddBoolToObject(run, "stopped_early", r->stopped_early);
        cJSON_AddNumberToObject(run, "best_epoch", (double)r->best_epoch);
        cJSON_AddNumberToObject(run, "best_valid_loss", r->valid_loss);
    }
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

/* PREFIX-MODEL.svg in the plot directory: one chart of n series. */
static bool train_plot_chart(TrainCtx *c, const char *prefix, const char *what,
                             const char *y_label, const PlotSeries *series, size_t n, Diag *d)
{
    char *name = malloc(strlen(prefix) + strlen(c->m->ir->name) + 2);
    char *path = NULL, title[256];
    if (name) {
        sprintf(name, "%s-%s", prefix, c->m->ir->name);
        path = rt_plot_path(c->s->opt.plot_dir, name, train_ordinal(c));
    }
    bool ok = path != NULL;
    if (!ok)
        diag_error(d, c->t->loc, "out of memory for the %s plot", prefix);
    snprintf(title, sizeof title, "%s on %s: %s", c->m->ir->name, c->ds->name, what);
    ok = ok && plot_lines(d, path, title, "epoch", y_label, series, n);
    if (ok)
        rt_plot_written(c->s, c->json, path);
    free(path);
    free(name);
    return ok;
}

enum { PLOT_LABEL = 64 };

/* Run k's label: its sweep value, or the learning rate of a single run;
 * with validation, "training" or "validation" after it. */
static void train_plot_label(const TrainCtx *c, const RunConfig *cfg, size_t k, const char *part,
                             char *label)
{
    char run[PLOT_LABEL / 2];
    if (c->t->n_sweep > 0)
        snprintf(run, sizeof run, "%s = %g", ir_hyper_name(c->t->sweep), c->t->sweep_values[k]);
    else
        snprintf(run, sizeof run, "lr = %g", cfg->optim.hyper[HP_LR]);
    if (!part || c->t->n_sweep == 0)
        snprintf(label, PLOT_LABEL, "%s", part ? part : run);
    else
        snprintf(label, PLOT_LABEL, "%s, %s", run, part);
}

/* loss-MODEL.svg: each run's training loss (with validation, its
 * validation loss next to it: the picture of overfitting); with
 * validation, accuracy-MODEL.svg (or mse-); with a schedule, lr-MODEL.svg. */
static bool train_plot(TrainCtx *c, const RunConfig *cfg, const SweepRow *rows, size_t n,
                       Diag *d)
{
    if (!c->s->opt.plot_dir)
        return true;
    size_t per_run = c->valid ? 2 : 1;
    PlotSeries *series = calloc(n * per_run, sizeof *series);
    char *labels = calloc(n * per_run, PLOT_LABEL);
    if (!series || !labels) {
        free(series);
        free(labels);
        diag_error(d, c->t->loc, "out of memory for the loss plot");
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        const RunResult *r = &rows[k].result;
        char *l = labels + k * per_run * PLOT_LABEL;
        train_plot_label(c, cfg, k, c->valid ? "training" : NULL, l);
        series[k * per_run] = (PlotSeries){l, r->epoch_log, r->loss_log, r->n_log};
        if (c->valid) {
            train_plot_label(c, cfg, k, "validation", l + PLOT_LABEL);
            series[k * per_run + 1] = (PlotSeries){l + PLOT_LABEL, r->epoch_log, r->valid_log, r->n_log};
        }
    }
    char y_label[64];
    snprintf(y_label, sizeof y_label, "%s loss", ir_loss_name(c->t->loss.kind));
    bool ok = train_plot_chart(c, "loss", c->valid ? "training and validation loss"
                               : "training loss", y_label, series, n * per_run, d);
    bool regression = false;
    for (size_t k = 0; ok && c->valid && k < n; k++) {
        train_plot_label(c, cfg, k, NULL, labels + k * PLOT_LABEL);
        series[k] = (PlotSeries){labels + k * PLOT_LABEL, rows[k].result.epoch_log,
                                 rows[k].result.acc_log, rows[k].result.n_log};
        regression |= rows[k].result.valid_kind == RT_EVAL_REGRESSION;
    }
    if (ok && c->valid)
        ok = train_plot_chart(c, regression ? "mse" : "accuracy", regression ? "validation mse"
                              : "validation accuracy", regression ? "mse" : "accuracy",
                              series, n, d);
    for (size_t k = 0; ok && c->t->has_schedule && k < n; k++) {
        train_plot_label(c, cfg, k, NULL, labels + k * PLOT_LABEL);
        series[k] = (PlotSeries){labels + k * PLOT_LABEL, rows[k].result.epoch_log,
                                 rows[k].result.lr_log, rows[k].result.n_log};
    }
    if (ok && c->t->has_schedule)
        ok = train_plot_chart(c, "lr", "learning rate per epoch", "lr", series, n, d);
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
    if (c->resumed && !quiet)
        fprintf(out, "resumed from %s: %ld of %ld epochs done%s\n", c->s->opt.resume_dir,
                c->st.epoch, cfg->epochs, c->st.finished ? ", training finished" : "");
    row.result = train_one(c, cfg, !quiet, 0);
    const RunResult r = row.result;
    if (r.failed)
        return false;
    if (!quiet) {
        train_print_sparkline(c, &r);
        train_print_kept(c, &r);
    }
    train_json_run(c, cfg, 0, &row);
    if (!train_plot(c, cfg, &row, 1, d))
        return false;
    if (r.diverged_at) {
        train_report_divergence(c, cfg, &r, d);
        return false;
    }
    if (quiet)
        fprintf(out, "train %s on %s: final loss %.7g after %ld epochs\n",
                c->m->ir->name, c->ds->name, r.loss, r.epochs_run);
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
    if (c->valid)
        fprintf(out, "%12.7g  %12.7g  ", row->result.valid_loss, row->result.kept_valid);
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
    if (c->valid)
        fprintf(out, "%10s  %12s  %12s  %12s  %s\n", name, "final loss", "best valid",
                "kept valid", scored);
    else
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
    if (!quiet) {
        train_print_sparkline(c, &row->result);
        train_print_kept(c, &row->result);
    }
    char what[160];
    if (row->result.diverged_at && !quiet)
        fprintf(out, "diverged at epoch %ld, step %ld: %s\n", row->result.diverged_at,
                row->result.diverged_step, divergence_what(&row->result, what, sizeof what));
    if (!row->result.diverged_at)
        rt_eval_score(&c->plan, c->ds, &row->score);
    train_json_run(c, &cfg, k, row);
}

/* Whether run r is better than run best: the lower validation loss of the
 * weights each run ends with, with validation (the training loss rewards
 * overfitting), else the lower final training loss. */
static bool sweep_better(const TrainCtx *c, const RunResult *r, const RunResult *best)
{
    return c->valid ? r->kept_valid < best->kept_valid : r->loss < best->loss;
}

/* Runs every sweep value from the same initial weights; the model keeps
 * the weights of the best run (sweep_better). initial, best and rows are
 * scratch buffers the caller planned. */
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
        if (!r->diverged_at && (best_k == n || sweep_better(c, r, &rows[best_k].result))) {
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
    fprintf(out, "%s keeps the weights of the run with %s = %g (lowest %s)\n\n",
            c->m->ir->name, ir_hyper_name(c->t->sweep), c->t->sweep_values[best_k],
            c->valid ? "validation loss" : "final loss");
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

/* Which logs this training keeps: the epochs and losses always, the
 * learning rates with a schedule, validation loss and score with one. */
static bool train_keeps_log(const TrainCtx *c, int kind)
{
    switch (kind) {
    case LOG_EPOCH:
    case LOG_LOSS: return true;
    case LOG_LR: return c->t->has_schedule;
    case LOG_VALID:
    case LOG_ACC: return c->valid != NULL;
    }
    return false;
}

/* The logs of every run, allocated before the first epoch: the training
 * loop itself never allocates. */
static bool train_plan_history(TrainCtx *c, const RunConfig *base, Diag *d)
{
    long max = base->epochs;
    for (size_t k = 0; c->t->sweep == HP_EPOCHS && k < c->t->n_sweep; k++) {
        RunConfig cfg = sweep_config(c, base, k);
        max = cfg.epochs > max ? cfg.epochs : max;
    }
    c->hist_cap = max < HISTORY_CAP ? (size_t)(max > 0 ? max : 1) : HISTORY_CAP;
    size_t n = train_n_runs(c) * (c->hist_cap + 1), kinds = 0;
    for (int k = 0; k < LOG_KINDS; k++)
        kinds += train_keeps_log(c, k);
    char need[32], have[32];
    if (n > mem_limit_bytes() / (kinds * sizeof(double))) {
        diag_error(d, c->t->loc, "the loss history of %zu run%s needs %s, more than the %s available",
                   train_n_runs(c), train_n_runs(c) == 1 ? "" : "s",
                   mem_format(need, n * kinds * sizeof(double)), mem_format(have, mem_limit_bytes()));
        return false;
    }
    bool ok = true;
    for (int k = 0; k < LOG_KINDS; k++) {
        if (!train_keeps_log(c, k))
            continue;
        c->logs[k] = calloc(n, sizeof(double));
        ok &= c->logs[k] != NULL;
    }
    if (!ok)
        diag_error(d, c->t->loc, "out of memory for the loss history");
    return ok;
}

/* Validation's buffers: the loss gradient it does not use, and early
 * stopping's copy of the best parameters. */
static bool train_plan_validation(TrainCtx *c, Diag *d)
{
    if (!c->valid)
        return true;
    c->valid_grad = calloc(c->plan.max_rows * c->m->ir->out_units, sizeof(float));
    c->best = c->t->early_stop > 0 ? calloc(c->m->n_params ? c->m->n_params : 1, sizeof(float))
                                   : NULL;
    if (c->valid_grad && (c->best || c->t->early_stop == 0))
        return true;
    diag_error(d, c->t->loc, "out of memory for validation");
    return false;
}

/* --checkpoint: this training's file; --resume: its state read back (a
 * missing file means the run was stopped before its first epoch ended:
 * it starts from the beginning). Checked before the first epoch, so a bad
 * checkpoint costs no training and overwrites nothing. */
static bool train_plan_checkpoints(TrainCtx *c, Diag *d)
{
    const RtOptions *o = &c->s->opt;
    if (!o->checkpoint_dir && !o->resume_dir)
        return true;
    if (c->t->n_sweep > 0) {
        diag_error(d, c->t->loc, "--checkpoint and --resume follow one training run, but this "
                   "train block sweeps %s; remove the sweep to checkpoint it",
                   ir_hyper_name(c->t->sweep));
        return false;
    }
    if (c->ds->rows > (1u << 24)) {
        diag_error(d, c->t->loc, "checkpoints keep the row order of at most %u rows; dataset '%s' "
                   "has %zu", 1u << 24, c->ds->name, c->ds->rows);
        return false;
    }
    size_t ordinal = (size_t)(c->t - c->s->prog->trains) + 1;
    if (o->checkpoint_dir && !(c->ckpt_path = rt_checkpoint_path(o->checkpoint_dir, ordinal))) {
        diag_error(d, c->t->loc, "out of memory");
        return false;
    }
    if (!o->resume_dir)
        return true;
    char *path = rt_checkpoint_path(o->resume_dir, ordinal);
    if (!path) {
        diag_error(d, c->t->loc, "out of memory");
        return false;
    }
    bool ok = true;
    if (access(path, F_OK) == 0) {
        train_reset(c, 0);
        ok = rt_checkpoint_load(c->m, c->t, path, &c->st, d);
        c->rng = c->st.rng;
        c->resumed = ok;
    }
    free(path);
    return ok;
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
    c.d = d;
    c.m = &s->models[t->model];
    c.ds = &s->prog->datasets[t->dataset];
    c.seed = s->opt.override_seed ? s->opt.seed : t->seed;
    c.labels = ir_targets_are_labels(c.ds, c.m->ir);
    c.valid = t->has_validate ? &s->prog->datasets[t->validate] : NULL;
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
    ok = ok && train_plan_validation(&c, d) && train_plan_checkpoints(&c, d);
    if (ok)
        ok = t->n_sweep > 0 ? train_sweep_planned(&c, &base, d) : train_single(&c, &base, d);
    if (c.plan.model)
        rt_plan_free(&c.plan);
    for (int k = 0; k < LOG_KINDS; k++)
        free(c.logs[k]);
    free(c.best);
    free(c.valid_grad);
    free(c.ckpt_path);
    return ok;
}
