/* Checking and lowering, one pass over the declarations in file order:
 * names resolve only to earlier declarations, every block is validated
 * against its property table, shapes are checked across model, dataset and
 * loss, and the IrProgram is filled as we go. Errors never stop the walk;
 * a declaration that failed is remembered as "not ok" so that its users do
 * not pile up follow-on errors. */
#include <math.h>
#include <string.h>

#include "lower.h"

/* ---- names ------------------------------------------------------------- */

static const char *decl_kind_name(AstDeclKind k)
{
    return k == DECL_DATASET ? "dataset" : "model";
}

/* An earlier declaration of kind k named name, or NULL. */
static const AstDecl *lower_find_decl(const Lower *c, AstDeclKind k, const char *name,
                                      const AstDecl *before)
{
    for (const AstDecl *d = c->file->decls; d && d != before; d = d->next)
        if (d->kind == k && strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

/* "unknown model 'XORnet'; did you mean 'XORNet'?", or a more precise
 * message when the name exists but is the wrong kind or comes later. */
static void lower_unknown_name(Lower *c, AstDeclKind k, const char *name, Loc loc,
                               const AstDecl *user)
{
    const char *what = decl_kind_name(k);
    AstDeclKind other = k == DECL_DATASET ? DECL_MODEL : DECL_DATASET;
    const AstDecl *later = NULL;
    for (const AstDecl *d = user; d && !later; d = d->next)
        if (d->kind == k && strcmp(d->name, name) == 0)
            later = d;
    if (later) {
        diag_error(c->diag, loc, "%s '%s' is used before its declaration", what, name);
        diag_note(c->diag, later->name_loc, "declared here; move it above its first use");
        return;
    }
    if (lower_find_decl(c, other, name, user)) {
        diag_error(c->diag, loc, "'%s' is a %s, not a %s", name, decl_kind_name(other), what);
        return;
    }
    const char *cands[256];
    size_t n = 0;
    for (const AstDecl *d = c->file->decls; d != user && n < 256; d = d->next)
        if (d->kind == k)
            cands[n++] = d->name;
    const char *near = suggest_nearest(name, cands, n);
    if (near)
        diag_error(c->diag, loc, "unknown %s '%s'; did you mean '%s'?", what, name, near);
    else
        diag_error(c->diag, loc, "unknown %s '%s'", what, name);
}

static ModelSym *lower_resolve_model(Lower *c, const AstDecl *user)
{
    for (size_t i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i].decl->name, user->name) == 0)
            return &c->models[i];
    lower_unknown_name(c, DECL_MODEL, user->name, user->name_loc, user);
    return NULL;
}

/* Resolves `xor`, `digits.train`, `digits.test` to an IrDataset index;
 * false (reported, unless the dataset itself already failed) otherwise. */
static bool lower_resolve_dataset(Lower *c, const AstDecl *user, size_t *out)
{
    const AstRef *r = &user->on;
    DataSym *sym = NULL;
    for (size_t i = 0; i < c->n_datasets && !sym; i++)
        if (strcmp(c->datasets[i].decl->name, r->name) == 0)
            sym = &c->datasets[i];
    if (!sym) {
        lower_unknown_name(c, DECL_DATASET, r->name, r->loc, user);
        return false;
    }
    if (!sym->ok)
        return false;
    if (!r->part) {
        *out = sym->whole;
        return true;
    }
    static const char *const parts[] = {"train", "test"};
    bool train = strcmp(r->part, "train") == 0;
    if (!train && strcmp(r->part, "test") != 0) {
        const char *near = suggest_nearest(r->part, parts, 2);
        diag_error(c->diag, r->part_loc, "unknown part '%s' of dataset '%s'%s%s%s", r->part, r->name,
                   near ? "; did you mean '" : " (a split dataset has 'train' and 'test')",
                   near ? near : "", near ? "'?" : "");
        return false;
    }
    if (!sym->split) {
        diag_error(c->diag, r->part_loc, "dataset '%s' is not split; '%s.%s' needs 'split = ...' in it",
                   r->name, r->name, r->part);
        diag_note(c->diag, sym->decl->name_loc, "'%s' is declared here", r->name);
        return false;
    }
    *out = train ? sym->train : sym->test;
    return true;
}

/* Reports a second declaration of a name; true when d is the first. */
static bool lower_check_duplicate(Lower *c, const AstDecl *d)
{
    const AstDecl *prev = lower_find_decl(c, d->kind, d->name, d);
    if (!prev)
        return true;
    diag_error(c->diag, d->name_loc, "duplicate %s '%s'", decl_kind_name(d->kind), d->name);
    diag_note(c->diag, prev->name_loc, "previous declaration is here");
    return false;
}

/* ---- train ------------------------------------------------------------- */

/* The valid range of each sweepable hyperparameter, used for the property,
 * the optimizer argument and every sweep value alike. */
static const Range hyper_range[] = {
    [SWEEP_LR] = {0, INFINITY, true, false, false},
    [SWEEP_MOMENTUM] = {0, 1, false, true, false},
    [SWEEP_BETA1] = {0, 1, false, true, false},
    [SWEEP_BETA2] = {0, 1, false, true, false},
    [SWEEP_EPS] = {0, INFINITY, true, false, false},
    [SWEEP_EPOCHS] = {1, LOWER_MAX_COUNT, false, false, true},
    [SWEEP_BATCH] = {1, LOWER_MAX_COUNT, false, false, true},
};
static const Range seed_range = {0, LOWER_MAX_SEED, false, false, true};
static const Range log_every_range = {1, LOWER_MAX_COUNT, false, false, true};

enum { TP_LOSS, TP_OPTIMIZER, TP_EPOCHS, TP_BATCH, TP_SEED, TP_LOG_EVERY, TP_COUNT };

static const char *const loss_choices[] = {"bce", "mse", "cross_entropy", NULL};

static const PropSpec train_props[TP_COUNT] = {
    [TP_LOSS] = {"loss", PT_IDENT, loss_choices, NULL},
    [TP_OPTIMIZER] = {"optimizer", PT_CALL, NULL, NULL},
    [TP_EPOCHS] = {"epochs", PT_INT, NULL, &hyper_range[SWEEP_EPOCHS]},
    [TP_BATCH] = {"batch", PT_INT, NULL, &hyper_range[SWEEP_BATCH]},
    [TP_SEED] = {"seed", PT_INT, NULL, &seed_range},
    [TP_LOG_EVERY] = {"log_every", PT_INT, NULL, &log_every_range},
};

static const char *const sweep_names[] = {"lr", "momentum", "beta1", "beta2", "eps", "epochs",
                                          "batch"};

typedef struct OptimSpec {
    const char *name;
    OptimKind kind;
    size_t n_args;
    SweepParam args[4]; /* in positional order */
} OptimSpec;

static const OptimSpec optimizers[] = {
    {"sgd", OPTIM_SGD, 2, {SWEEP_LR, SWEEP_MOMENTUM}},
    {"adam", OPTIM_ADAM, 4, {SWEEP_LR, SWEEP_BETA1, SWEEP_BETA2, SWEEP_EPS}},
};

static double *optim_slot(IrOptimizer *o, SweepParam p)
{
    switch (p) {
    case SWEEP_LR: return &o->lr;
    case SWEEP_MOMENTUM: return &o->momentum;
    case SWEEP_BETA1: return &o->beta1;
    case SWEEP_BETA2: return &o->beta2;
    case SWEEP_EPS: return &o->eps;
    case SWEEP_NONE:
    case SWEEP_EPOCHS:
    case SWEEP_BATCH: break; /* not optimizer arguments */
    }
    return NULL;
}

/* Which of spec's arguments `name` is; reports unknown names. */
static bool optim_arg_index(Lower *c, const OptimSpec *spec, const AstArg *a, size_t *out)
{
    const char *names[4];
    for (size_t i = 0; i < spec->n_args; i++) {
        names[i] = ir_sweep_name(spec->args[i]);
        if (strcmp(names[i], a->name) == 0) {
            *out = i;
            return true;
        }
    }
    const char *near = suggest_nearest(a->name, names, spec->n_args);
    if (near)
        diag_error(c->diag, a->loc, "unknown argument '%s' for %s; did you mean '%s'?", a->name,
                   spec->name, near);
    else
        diag_error(c->diag, a->loc, "unknown argument '%s' for %s", a->name, spec->name);
    return false;
}

/* Binds positional and named arguments to spec's parameters and checks
 * each value's range, in source order. */
static bool optim_bind_args(Lower *c, const OptimSpec *spec, const AstValue *call,
                            const AstArg *bound[4], IrOptimizer *o)
{
    bool ok = true, named = false;
    size_t pos = 0;
    for (const AstArg *a = call->kind == AST_CALL ? call->args : NULL; a; a = a->next) {
        size_t i;
        if (a->name) {
            named = true;
            if (!optim_arg_index(c, spec, a, &i)) {
                ok = false;
                continue;
            }
        } else if (named) {
            diag_error(c->diag, a->loc, "positional argument after a named one");
            ok = false;
            continue;
        } else if (pos >= spec->n_args) {
            diag_error(c->diag, a->loc, "%s takes at most %zu arguments, got %zu", spec->name,
                       spec->n_args, call->n);
            ok = false;
            break;
        } else {
            i = pos++;
        }
        if (bound[i]) {
            diag_error(c->diag, a->loc, "argument '%s' is given twice",
                       ir_sweep_name(spec->args[i]));
            ok = false;
            continue;
        }
        bound[i] = a;
        SweepParam p = spec->args[i];
        ok &= value_in_range(c, a->value, ir_sweep_name(p), hyper_range[p], optim_slot(o, p));
    }
    return ok;
}

/* optimizer = sgd(lr, momentum) | adam(lr, beta1, beta2, eps); positional
 * or named, defaults as torch.optim. */
static bool lower_optimizer(Lower *c, const AstValue *v, IrOptimizer *o)
{
    const OptimSpec *spec = NULL;
    static const char *const names[] = {"sgd", "adam"};
    for (size_t i = 0; i < 2; i++)
        if (strcmp(optimizers[i].name, v->text) == 0)
            spec = &optimizers[i];
    if (!spec) {
        const char *near = suggest_nearest(v->text, names, 2);
        if (near)
            diag_error(c->diag, v->loc, "unknown optimizer '%s'; did you mean '%s'?", v->text, near);
        else
            diag_error(c->diag, v->loc, "unknown optimizer '%s' (expected sgd or adam)", v->text);
        return false;
    }
    *o = (IrOptimizer){spec->kind, 0, 0, 0.9, 0.999, 1e-8};
    const AstArg *bound[4] = {0};
    bool ok = optim_bind_args(c, spec, v, bound, o);
    if (!bound[0] && ok) {
        diag_error(c->diag, v->loc, "%s needs a learning rate, e.g. %s(lr = 0.01)", spec->name,
                   spec->name);
        return false;
    }
    return ok;
}

/* `sweep NAME = [values]`: at most one per block, values range-checked. */
static bool lower_sweep(Lower *c, const AstProp *p, const AstProp *first, IrTrain *t)
{
    if (first != p) {
        diag_error(c->diag, p->loc, "only one sweep per train block");
        diag_note(c->diag, first->loc, "the first sweep is here");
        return false;
    }
    SweepParam s = SWEEP_NONE;
    for (int i = SWEEP_LR; i <= SWEEP_BATCH; i++)
        if (strcmp(ir_sweep_name((SweepParam)i), p->name) == 0)
            s = (SweepParam)i;
    if (s == SWEEP_NONE) {
        const char *near = suggest_nearest(p->name, sweep_names, 7);
        if (near)
            diag_error(c->diag, p->loc, "unknown sweep parameter '%s'; did you mean '%s'?",
                       p->name, near);
        else
            diag_error(c->diag, p->loc, "cannot sweep '%s' (only lr, momentum, beta1, beta2, eps, epochs or batch)",
                       p->name);
        return false;
    }
    const AstValue *v = p->value;
    if (v->kind != AST_LIST) {
        value_type_error(c, v, "sweep values", "a list of numbers");
        return false;
    }
    if (v->n == 0) {
        diag_error(c->diag, v->loc, "sweep %s needs at least one value", p->name);
        return false;
    }
    if (v->n > LOWER_MAX_SWEEP) {
        diag_error(c->diag, v->loc, "sweep %s has %zu values (at most %d runs)", p->name, v->n,
                   LOWER_MAX_SWEEP);
        return false;
    }
    double *vals = arena_array(c->arena, v->n, sizeof *vals);
    if (!vals)
        return false;
    bool ok = true;
    size_t i = 0;
    for (const AstValue *e = v->items; e; e = e->next)
        ok &= value_in_range(c, e, p->name, hyper_range[s], &vals[i++]);
    t->sweep = s;
    t->sweep_values = vals;
    t->n_sweep = v->n;
    return ok;
}

/* A swept optimizer parameter must belong to the chosen optimizer. */
static bool lower_sweep_fits(Lower *c, const IrTrain *t, const AstProp *sweep)
{
    bool sgd_only = t->sweep == SWEEP_MOMENTUM;
    bool adam_only = t->sweep == SWEEP_BETA1 || t->sweep == SWEEP_BETA2 || t->sweep == SWEEP_EPS;
    OptimKind k = t->optimizer.kind;
    if ((sgd_only && k != OPTIM_SGD) || (adam_only && k != OPTIM_ADAM)) {
        diag_error(c->diag, sweep->loc, "cannot sweep %s: the optimizer is %s", sweep->name,
                   ir_optim_name(k));
        return false;
    }
    return true;
}

/* Output units and targets must suit the loss; warnings for the classic
 * slips (double softmax, bce on raw scores). */
static bool lower_check_loss(Lower *c, const IrTrain *t, const AstValue *loss_v)
{
    const IrModel *m = &c->prog->models[t->model];
    const IrDataset *ds = &c->prog->datasets[t->dataset];
    const char *loss = ir_loss_name(t->loss);
    const IrNode *last = &m->nodes[m->n_nodes - 1];
    size_t out = m->out_units;
    Loc at = loss_v->loc;
    if (ds->y_cols == 0) {
        diag_error(c->diag, at, "loss '%s' needs targets, but dataset '%s' has no y", loss,
                   ds->name);
        return false;
    }
    switch (t->loss) {
    case LOSS_BCE:
        if (out != 1) {
            diag_error(c->diag, at, "loss '%s' needs 1 output unit, but model '%s' outputs %zu",
                       loss, m->name, out);
            return false;
        }
        if (ds->y_cols != 1) {
            diag_error(c->diag, at, "loss '%s' needs 1 target per row, but dataset '%s' has %zu",
                       loss, ds->name, ds->y_cols);
            return false;
        }
        if (last->op != OP_SIGMOID)
            diag_warning(c->diag, at, "loss 'bce' expects probabilities, but model '%s' does not end in sigmoid",
                         m->name);
        return true;
    case LOSS_MSE:
        if (ds->y_cols != out) {
            diag_error(c->diag, at, "loss '%s' needs %zu target%s per row (model '%s' outputs %zu), but dataset '%s' has %zu",
                       loss, out, out == 1 ? "" : "s", m->name, out, ds->name, ds->y_cols);
            return false;
        }
        return true;
    case LOSS_CROSS_ENTROPY:
        break;
    }
    if (out < 2) {
        diag_error(c->diag, at, "loss '%s' needs at least 2 output units, but model '%s' outputs %zu",
                   loss, m->name, out);
        return false;
    }
    if (ds->classes > 0 && (size_t)ds->classes != out) {
        diag_error(c->diag, at, "loss '%s' needs one output unit per class, but dataset '%s' has %d classes and model '%s' outputs %zu",
                   loss, ds->name, ds->classes, m->name, out);
        return false;
    }
    if (ds->y_cols != 1 && ds->y_cols != out) {
        diag_error(c->diag, at, "loss '%s' needs 1 label or %zu one-hot values per row, but dataset '%s' has %zu",
                   loss, out, ds->name, ds->y_cols);
        return false;
    }
    for (size_t i = 0; ds->y_cols == 1 && i < ds->rows; i++) {
        double y = ds->y[i];
        if (floor(y) != y || y < 0 || y >= (double)out) {
            diag_error(c->diag, at, "loss '%s' needs labels in 0..%zu, but row %zu of dataset '%s' has %.9g",
                       loss, out - 1, i + 1, ds->name, y);
            return false;
        }
    }
    if (last->op == OP_SOFTMAX)
        diag_warning(c->diag, at, "loss 'cross_entropy' applies softmax itself; the final softmax of model '%s' applies it twice",
                     m->name);
    return true;
}

static bool lower_check_inputs(Lower *c, size_t model, size_t dataset, Loc at)
{
    const IrModel *m = &c->prog->models[model];
    const IrDataset *ds = &c->prog->datasets[dataset];
    if (ds->x_cols == m->in_units)
        return true;
    diag_error(c->diag, at, "dataset '%s' has %zu feature%s per row but model '%s' takes input %zu",
               ds->name, ds->x_cols, ds->x_cols == 1 ? "" : "s", m->name, m->in_units);
    return false;
}

/* Evaluation compares outputs with targets: y needs one column (a target,
 * or a label per row for several outputs) or one column per output. */
static bool lower_check_targets(Lower *c, size_t model, size_t dataset, Loc at)
{
    const IrModel *m = &c->prog->models[model];
    const IrDataset *ds = &c->prog->datasets[dataset];
    size_t out = m->out_units;
    if (ds->y_cols == 0 || ds->y_cols == out)
        return true;
    if (ds->y_cols == 1) {
        for (size_t r = 0; r < ds->rows; r++) {
            float v = ds->y[r];
            if (v != floorf(v) || v < 0 || v >= (float)out) {
                diag_error(c->diag, at,
                           "model '%s' has %zu outputs, so a single target per row must be a "
                           "label in 0..%zu, but row %zu of dataset '%s' has %.9g",
                           m->name, out, out - 1, r + 1, ds->name, (double)v);
                return false;
            }
        }
        return true;
    }
    diag_error(c->diag, at, "dataset '%s' has %zu targets per row but model '%s' outputs %zu",
               ds->name, ds->y_cols, m->name, out);
    return false;
}

/* batch (and swept batches) larger than the dataset shrink to it. */
static void lower_clamp_batch(Lower *c, IrTrain *t, const AstProp *batch, const AstProp *sweep)
{
    size_t rows = c->prog->datasets[t->dataset].rows;
    const char *name = c->prog->datasets[t->dataset].name;
    if (batch && t->batch > rows) {
        diag_warning(c->diag, batch->value->loc,
                     "batch %zu is larger than dataset '%s' (%zu rows); using %zu", t->batch, name,
                     rows, rows);
        t->batch = rows;
    }
    if (t->sweep != SWEEP_BATCH)
        return;
    double *vals = (double *)t->sweep_values;
    for (size_t i = 0; i < t->n_sweep; i++) {
        if (vals[i] > (double)rows) {
            diag_warning(c->diag, sweep->loc, "batch %.9g is larger than dataset '%s' (%zu rows); using %zu",
                         vals[i], name, rows, rows);
            vals[i] = (double)rows;
        }
    }
}

/* Everything in a train block that does not depend on model or data. */
static bool lower_train_props(Lower *c, const AstDecl *d, IrTrain *t, const AstProp **slots,
                              const AstProp **sweep)
{
    static const char *const required[] = {
        [TP_LOSS] = "loss (bce, mse or cross_entropy)",
        [TP_OPTIMIZER] = "optimizer, e.g. optimizer = adam(lr = 0.01)",
        [TP_EPOCHS] = "epochs, e.g. epochs = 100",
    };
    bool ok = true;
    for (int i = TP_LOSS; i <= TP_EPOCHS; i++) {
        if (!props_find(d->props, train_props[i].name)) {
            diag_error(c->diag, d->loc, "train block needs %s", required[i]);
            ok = false;
        }
    }
    /* One pass in source order, so the diagnostics come out in that order. */
    const AstProp *seen[PROPS_MAX] = {0};
    *sweep = NULL;
    for (int i = 0; i < TP_COUNT; i++)
        slots[i] = NULL;
    for (const AstProp *p = d->props; p; p = p->next) {
        if (p->sweep) {
            if (!*sweep)
                *sweep = p;
            ok &= lower_sweep(c, p, *sweep, t);
            continue;
        }
        int i = props_take(c, p, train_props, TP_COUNT, "train block", slots, seen);
        ok &= i >= 0;
        if (i == TP_OPTIMIZER)
            ok &= lower_optimizer(c, p->value, &t->optimizer);
    }
    if (slots[TP_LOSS]) {
        const char *l = slots[TP_LOSS]->value->text;
        t->loss = strcmp(l, "bce") == 0 ? LOSS_BCE : strcmp(l, "mse") == 0 ? LOSS_MSE
                                                                            : LOSS_CROSS_ENTROPY;
    }
    if (slots[TP_EPOCHS])
        t->epochs = (long)slots[TP_EPOCHS]->value->number;
    if (slots[TP_BATCH])
        t->batch = (size_t)slots[TP_BATCH]->value->number;
    if (slots[TP_SEED])
        t->seed = (uint64_t)slots[TP_SEED]->value->number;
    if (slots[TP_LOG_EVERY])
        t->log_every = (long)slots[TP_LOG_EVERY]->value->number;
    if (ok && *sweep && slots[TP_OPTIMIZER])
        ok &= lower_sweep_fits(c, t, *sweep);
    return ok;
}

void lower_train(Lower *c, const AstDecl *d)
{
    IrProgram *p = c->prog;
    /* The slot may hold a failed earlier train block's half-filled values
     * (a stale sweep kind once crashed here): start from a clean one. */
    IrTrain *t = &p->trains[p->n_trains];
    *t = (IrTrain){0};
    t->loc = d->loc;
    ModelSym *ms = lower_resolve_model(c, d);
    size_t dataset = 0;
    bool have_data = lower_resolve_dataset(c, d, &dataset);
    const AstProp *slots[TP_COUNT], *sweep;
    bool ok = lower_train_props(c, d, t, slots, &sweep);
    if (!ms || !ms->ok || !have_data)
        return;
    t->model = ms->index;
    t->dataset = dataset;
    ok &= lower_check_inputs(c, t->model, t->dataset, d->on.loc);
    if (slots[TP_LOSS])
        ok &= lower_check_loss(c, t, slots[TP_LOSS]->value);
    if (!ok)
        return;
    if (!slots[TP_BATCH])
        t->batch = p->datasets[dataset].rows;
    if (!slots[TP_LOG_EVERY])
        t->log_every = t->epochs / 10 > 1 ? t->epochs / 10 : 1;
    lower_clamp_batch(c, t, slots[TP_BATCH], sweep);
    ms->trained = true;
    ms->last_train = p->n_trains;
    p->steps[p->n_steps++] = (IrStep){STEP_TRAIN, p->n_trains++};
}

/* ---- evaluate ---------------------------------------------------------- */

static const PropSpec eval_props[] = {{"show", PT_NAME, NULL, NULL}};

void lower_evaluate(Lower *c, const AstDecl *d)
{
    IrProgram *p = c->prog;
    ModelSym *ms = lower_resolve_model(c, d);
    size_t dataset = 0;
    bool have_data = lower_resolve_dataset(c, d, &dataset);
    const AstProp *show = NULL;
    bool ok = props_collect(c, d->props, eval_props, 1, "evaluate block", &show);
    if (ms)
        ms->evaluated = true;
    if (!ms || !ms->ok)
        return;
    long show_node = show ? lower_find_layer(c, &p->models[ms->index], show->value) : -1;
    if (!ok || !have_data || (show && show_node < 0) ||
        !lower_check_inputs(c, ms->index, dataset, d->on.loc) ||
        !lower_check_targets(c, ms->index, dataset, d->on.loc))
        return;
    p->evals[p->n_evals] = (IrEval){ms->index, dataset, show_node, false, d->loc};
    p->steps[p->n_steps++] = (IrStep){STEP_EVAL, p->n_evals++};
}

/* ---- driver ------------------------------------------------------------ */

static bool lower_alloc(Lower *c, const AstFile *file)
{
    size_t n = file->n_decls;
    IrProgram *p = arena_alloc(c->arena, sizeof *p);
    if (!p)
        return false;
    p->src = file->src;
    p->datasets = arena_array(c->arena, 3 * n + 1, sizeof *p->datasets);
    p->models = arena_array(c->arena, n + 1, sizeof *p->models);
    p->trains = arena_array(c->arena, n + 1, sizeof *p->trains);
    p->evals = arena_array(c->arena, 2 * n + 1, sizeof *p->evals);
    p->steps = arena_array(c->arena, 3 * n + 1, sizeof *p->steps);
    c->datasets = arena_array(c->arena, n + 1, sizeof *c->datasets);
    c->models = arena_array(c->arena, n + 1, sizeof *c->models);
    c->prog = p;
    return p->datasets && p->models && p->trains && p->evals && p->steps && c->datasets &&
           c->models;
}

/* A model trained and never evaluated anywhere in the file is evaluated on
 * its last training dataset after everything else. */
static void lower_implicit_evals(Lower *c)
{
    IrProgram *p = c->prog;
    for (size_t i = 0; i < c->n_models; i++) {
        const ModelSym *ms = &c->models[i];
        if (!ms->trained || ms->evaluated)
            continue;
        const IrTrain *t = &p->trains[ms->last_train];
        p->evals[p->n_evals] = (IrEval){ms->index, t->dataset, -1, true, t->loc};
        p->steps[p->n_steps++] = (IrStep){STEP_EVAL, p->n_evals++};
    }
}

static void lower_decl(Lower *c, const AstDecl *d)
{
    /* A duplicate's body is still checked, but its name stays the first's. */
    bool first = d->kind == DECL_TRAIN || d->kind == DECL_EVALUATE || lower_check_duplicate(c, d);
    switch (d->kind) {
    case DECL_DATASET: {
        DataSym sym = {.decl = d};
        lower_dataset(c, d, &sym);
        if (first)
            c->datasets[c->n_datasets++] = sym;
        return;
    }
    case DECL_MODEL: {
        ModelSym sym = {.decl = d, .index = c->prog->n_models};
        lower_model(c, d, &sym);
        if (first) {
            c->models[c->n_models++] = sym;
            c->prog->n_models++;
        }
        return;
    }
    case DECL_TRAIN:
        lower_train(c, d);
        return;
    case DECL_EVALUATE:
        lower_evaluate(c, d);
        return;
    }
}

IrProgram *front_lower(Arena *a, Diag *d, const AstFile *file)
{
    int errors_before = d->errors;
    Lower c = {.arena = a, .diag = d, .file = file};
    if (!lower_alloc(&c, file)) {
        diag_error(d, loc_none(), "out of memory");
        return NULL;
    }
    for (const AstDecl *decl = file->decls; decl; decl = decl->next)
        lower_decl(&c, decl);
    lower_implicit_evals(&c);
    return d->errors > errors_before ? NULL : c.prog;
}

const PropSpec *lower_train_spec(size_t *n)
{
    *n = TP_COUNT;
    return train_props;
}

const PropSpec *lower_eval_spec(size_t *n)
{
    *n = sizeof eval_props / sizeof *eval_props;
    return eval_props;
}
