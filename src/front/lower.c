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

/* Resolves `xor`, `digits.train`, `digits.valid`, `digits.test` (r, named
 * in user's block) to an IrDataset index; false (reported, unless the
 * dataset itself already failed) otherwise. */
static bool lower_resolve_ref(Lower *c, const AstDecl *user, const AstRef *r, size_t *out)
{
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
    static const char *const parts[] = {"train", "valid", "test", NULL};
    int k = 0;
    while (parts[k] && strcmp(r->part, parts[k]) != 0)
        k++;
    if (!parts[k]) {
        const char *near = suggest_nearest(r->part, parts, 3);
        diag_error(c->diag, r->part_loc, "unknown part '%s' of dataset '%s'%s%s%s", r->part, r->name,
                   near ? "; did you mean '" : " (a split dataset has 'train', 'valid' and 'test')",
                   near ? near : "", near ? "'?" : "");
        return false;
    }
    if (!sym->split || (k == 1 && !sym->has_valid)) {
        if (!sym->split)
            diag_error(c->diag, r->part_loc, "dataset '%s' is not split; '%s.%s' needs 'split = ...' in it",
                       r->name, r->name, r->part);
        else
            diag_error(c->diag, r->part_loc, "dataset '%s' has no validation part; '%s.valid' needs "
                       "'split = [train, valid, test]' in it", r->name, r->name);
        diag_note(c->diag, sym->decl->name_loc, "'%s' is declared here", r->name);
        return false;
    }
    *out = k == 0 ? sym->train : k == 1 ? sym->valid : sym->test;
    return true;
}

static bool lower_resolve_dataset(Lower *c, const AstDecl *user, size_t *out)
{
    return lower_resolve_ref(c, user, &user->on, out);
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

static const Range seed_range = {0, LOWER_MAX_SEED, false, false, true};
static const Range log_every_range = {1, LOWER_MAX_COUNT, false, false, true};

static const Range clip_range = {0, INFINITY, true, false, false};
static const Range early_stop_range = {1, LOWER_MAX_COUNT, false, false, true};

enum { TP_LOSS, TP_OPTIMIZER, TP_EPOCHS, TP_BATCH, TP_SEED, TP_LOG_EVERY, TP_SCHEDULE,
       TP_CLIP_GRAD, TP_VALIDATE, TP_EARLY_STOP, TP_COUNT };

/* TP_LOSS's and TP_SCHEDULE's choices are ir_losses' and ir_schedules'
 * names (train_spec fills them in). */
static const PropSpec train_props[TP_COUNT] = {
    [TP_LOSS] = {"loss", PT_CALL, NULL, NULL},
    [TP_OPTIMIZER] = {"optimizer", PT_CALL, NULL, NULL},
    [TP_EPOCHS] = {"epochs", PT_INT, NULL, &ir_hypers[HP_EPOCHS].range},
    [TP_BATCH] = {"batch", PT_INT, NULL, &ir_hypers[HP_BATCH].range},
    [TP_SEED] = {"seed", PT_INT, NULL, &seed_range},
    [TP_LOG_EVERY] = {"log_every", PT_INT, NULL, &log_every_range},
    [TP_SCHEDULE] = {"schedule", PT_CALL, NULL, NULL},
    [TP_CLIP_GRAD] = {"clip_grad", PT_NUMBER, NULL, &clip_range},
    [TP_VALIDATE] = {"validate", PT_DATASET, NULL, NULL},
    [TP_EARLY_STOP] = {"early_stop", PT_INT, NULL, &early_stop_range},
};

/* The optimizer called name; reports an unknown one at loc. */
static bool optim_lookup(Lower *c, const char *name, Loc loc, OptimKind *out)
{
    const char *names[OPTIM_COUNT + 1];
    for (int k = 0; k < OPTIM_COUNT; k++)
        names[k] = ir_optims[k].name;
    names[OPTIM_COUNT] = NULL;
    for (int k = 0; k < OPTIM_COUNT; k++) {
        if (strcmp(names[k], name) == 0) {
            *out = (OptimKind)k;
            return true;
        }
    }
    const char *near = suggest_nearest(name, names, OPTIM_COUNT);
    if (near)
        diag_error(c->diag, loc, "unknown optimizer '%s'; did you mean '%s'?", name, near);
    else
        diag_error(c->diag, loc, "unknown optimizer '%s' (expected %s)", name,
                   choices_text(c, names));
    return false;
}

/* A callee of a train block, an optimizer or a loss: its name and its
 * argument rows. Both are bound by the same code below. */
#define CALL_MAX_ARGS ((int)OPTIM_MAX_ARGS > (int)LOSS_MAX_ARGS ? (int)OPTIM_MAX_ARGS \
                                                                : (int)LOSS_MAX_ARGS)
#define CALL_MAX_ROWS (OPTIM_COUNT > LOSS_COUNT ? OPTIM_COUNT : LOSS_COUNT)
_Static_assert(SCHED_MAX_ARGS <= CALL_MAX_ARGS && SCHED_COUNT <= CALL_MAX_ROWS,
               "the schedules' rows fit a CallTable");

typedef struct CallSig {
    const char *name;
    const OptimArg *args;
    size_t n_args;
} CallSig;

/* Every row of the callee's table, to name the rows that take an argument
 * the callee does not. */
typedef struct CallTable {
    CallSig rows[CALL_MAX_ROWS];
    size_t n;
} CallTable;

static CallTable optim_table(void)
{
    CallTable t = {.n = OPTIM_COUNT};
    for (int k = 0; k < OPTIM_COUNT; k++)
        t.rows[k] = (CallSig){ir_optims[k].name, ir_optims[k].args, ir_optims[k].n_args};
    return t;
}

static CallTable schedule_table(void)
{
    CallTable t = {.n = SCHED_COUNT};
    for (int k = 0; k < SCHED_COUNT; k++)
        t.rows[k] = (CallSig){ir_schedules[k].name, ir_schedules[k].args, ir_schedules[k].n_args};
    return t;
}

static CallTable loss_table(void)
{
    CallTable t = {.n = LOSS_COUNT};
    for (int k = 0; k < LOSS_COUNT; k++)
        t.rows[k] = (CallSig){ir_losses[k].name, ir_losses[k].args, ir_losses[k].n_args};
    return t;
}

/* "mse has no argument 'label_smoothing' (only cross_entropy takes it)"
 * when other rows of the table take the name; false when none does. */
static bool call_arg_elsewhere(Lower *c, const CallSig *sig, const CallTable *table,
                               const AstArg *a)
{
    const char *takers[CALL_MAX_ROWS + 1];
    size_t n = 0;
    for (size_t k = 0; k < table->n; k++)
        for (size_t i = 0; i < table->rows[k].n_args; i++)
            if (strcmp(ir_hypers[table->rows[k].args[i].hp].name, a->name) == 0)
                takers[n++] = table->rows[k].name;
    takers[n] = NULL;
    if (n == 0)
        return false;
    diag_error(c->diag, a->loc, "%s has no argument '%s' (only %s takes it)", sig->name, a->name,
               choices_text(c, takers));
    return true;
}

/* Which of the callee's arguments `name` is; reports unknown names. */
static bool call_arg_index(Lower *c, const CallSig *sig, const CallTable *table, const AstArg *a,
                           size_t *out)
{
    const char *names[CALL_MAX_ARGS];
    for (size_t i = 0; i < sig->n_args; i++) {
        names[i] = ir_hypers[sig->args[i].hp].name;
        if (strcmp(names[i], a->name) == 0) {
            *out = i;
            return true;
        }
    }
    if (call_arg_elsewhere(c, sig, table, a))
        return false;
    if (sig->n_args == 0) {
        diag_error(c->diag, a->loc, "unknown argument '%s' for %s: it takes no arguments",
                   a->name, sig->name);
        return false;
    }
    const char *near = suggest_nearest(a->name, names, sig->n_args);
    if (near)
        diag_error(c->diag, a->loc, "unknown argument '%s' for %s; did you mean '%s'?", a->name,
                   sig->name, near);
    else
        diag_error(c->diag, a->loc, "unknown argument '%s' for %s", a->name, sig->name);
    return false;
}

/* Checks an argument's value against its hyperparameter's row. */
static bool call_arg_value(Lower *c, const AstValue *v, HyperParam h, double *out)
{
    const HyperInfo *hi = &ir_hypers[h];
    if (hi->type == HYPER_NUMBER)
        return value_in_range(c, v, hi->name, hi->range, out);
    if (v->kind != AST_BOOL) {
        value_type_error(c, v, hi->name, "true or false");
        return false;
    }
    *out = v->boolean ? 1.0 : 0.0;
    return true;
}

/* Binds positional and named arguments to the callee's parameters and
 * checks each value, in source order, into hyper (indexed by HyperParam);
 * bound[i] is the argument given for parameter i, or NULL. */
static bool call_bind_args(Lower *c, const CallSig *sig, const CallTable *table,
                           const AstValue *call, const AstArg **bound, double hyper[HP_COUNT])
{
    bool ok = true, named = false;
    size_t pos = 0;
    for (const AstArg *a = call->kind == AST_CALL ? call->args : NULL; a; a = a->next) {
        size_t i;
        if (a->name) {
            named = true;
            if (!call_arg_index(c, sig, table, a, &i)) {
                ok = false;
                continue;
            }
        } else if (named) {
            diag_error(c->diag, a->loc, "positional argument after a named one");
            ok = false;
            continue;
        } else if (sig->n_args == 0) {
            diag_error(c->diag, a->loc, "%s takes no arguments", sig->name);
            ok = false;
            break;
        } else if (pos >= sig->n_args) {
            diag_error(c->diag, a->loc, "%s takes at most %zu argument%s, got %zu", sig->name,
                       sig->n_args, sig->n_args == 1 ? "" : "s", call->n);
            ok = false;
            break;
        } else {
            i = pos++;
        }
        HyperParam h = sig->args[i].hp;
        if (bound[i]) {
            diag_error(c->diag, a->loc, "argument '%s' is given twice", ir_hypers[h].name);
            ok = false;
            continue;
        }
        bound[i] = a;
        ok &= call_arg_value(c, a->value, h, &hyper[h]);
    }
    return ok;
}

/* A required argument (default NAN) the call did not give: reported. */
static bool call_missing_args(Lower *c, const CallSig *sig, const AstValue *v,
                              const AstArg *const *bound)
{
    for (size_t i = 0; i < sig->n_args; i++) {
        HyperParam h = sig->args[i].hp;
        if (bound[i] || !isnan(sig->args[i].def))
            continue;
        if (h == HP_LR)
            diag_error(c->diag, v->loc, "%s needs a learning rate, e.g. %s(lr = 0.01)",
                       sig->name, sig->name);
        else
            diag_error(c->diag, v->loc, "%s needs argument '%s'", sig->name, ir_hypers[h].name);
        return true;
    }
    return false;
}

/* torch.optim.SGD raises "Nesterov momentum requires a momentum and zero
 * dampening"; so does the checker, at the argument. */
static bool optim_check_nesterov(Lower *c, const IrOptimizer *o, const AstValue *v,
                                 const AstArg *const *bound)
{
    if (o->kind != OPTIM_SGD || o->hyper[HP_NESTEROV] == 0)
        return true;
    const AstArg *at = bound[ir_optim_arg(OPTIM_SGD, HP_NESTEROV)];
    Loc loc = at ? at->loc : v->loc;
    if (o->hyper[HP_MOMENTUM] <= 0)
        diag_error(c->diag, loc, "nesterov needs a momentum, e.g. sgd(lr = 0.1, momentum = 0.9, "
                   "nesterov = true)");
    else if (o->hyper[HP_DAMPENING] != 0)
        diag_error(c->diag, loc, "nesterov needs dampening = 0 (got %s)",
                   number_text(c, o->hyper[HP_DAMPENING]));
    else
        return true;
    return false;
}

/* optimizer = NAME(args) with NAME a row of ir_optims; arguments by
 * position or by name, defaults from the row (NAN: required). */
static bool lower_optimizer(Lower *c, const AstValue *v, IrOptimizer *o)
{
    OptimKind k;
    if (!optim_lookup(c, v->text, v->loc, &k))
        return false;
    const OptimInfo *info = &ir_optims[k];
    *o = (IrOptimizer){k, {0}};
    for (size_t i = 0; i < info->n_args; i++)
        o->hyper[info->args[i].hp] = info->args[i].def;
    const AstArg *bound[OPTIM_MAX_ARGS] = {0};
    CallTable table = optim_table();
    if (!call_bind_args(c, &table.rows[k], &table, v, bound, o->hyper))
        return false;
    return !call_missing_args(c, &table.rows[k], v, bound) && optim_check_nesterov(c, o, v, bound);
}

/* schedule = NAME or NAME(args): NAME was checked against ir_schedules'
 * names; the arguments bind like an optimizer's. */
static bool lower_schedule(Lower *c, const AstValue *v, IrSchedule *s)
{
    int k = 0;
    while (k < SCHED_COUNT - 1 && strcmp(ir_schedules[k].name, v->text) != 0)
        k++;
    const ScheduleInfo *info = &ir_schedules[k];
    *s = (IrSchedule){(ScheduleKind)k, {0}};
    for (size_t i = 0; i < info->n_args; i++)
        s->hyper[info->args[i].hp] = info->args[i].def;
    const AstArg *bound[SCHED_MAX_ARGS] = {0};
    CallTable table = schedule_table();
    return call_bind_args(c, &table.rows[k], &table, v, bound, s->hyper) &&
           !call_missing_args(c, &table.rows[k], v, bound);
}

/* The sweepable hyperparameter called p's name; reports any other name. */
static bool sweep_lookup(Lower *c, const AstProp *p, HyperParam *out)
{
    const char *names[HP_COUNT + 1];
    size_t n = 0;
    bool known = false;
    for (int h = 0; h < HP_COUNT; h++) {
        bool named = strcmp(ir_hypers[h].name, p->name) == 0;
        if (named && ir_hypers[h].sweepable) {
            *out = (HyperParam)h;
            return true;
        }
        known |= named;
        if (ir_hypers[h].sweepable)
            names[n++] = ir_hypers[h].name;
    }
    names[n] = NULL;
    /* a known name that cannot be swept gets no suggestion */
    const char *near = known ? NULL : suggest_nearest(p->name, names, n);
    if (near)
        diag_error(c->diag, p->loc, "unknown sweep parameter '%s'; did you mean '%s'?", p->name,
                   near);
    else
        diag_error(c->diag, p->loc, "cannot sweep '%s' (only %s)", p->name, choices_text(c, names));
    return false;
}

/* `sweep NAME = [values]`: at most one per block, values range-checked. */
static bool lower_sweep(Lower *c, const AstProp *p, const AstProp *first, IrTrain *t)
{
    if (first != p) {
        diag_error(c->diag, p->loc, "only one sweep per train block");
        diag_note(c->diag, first->loc, "the first sweep is here");
        return false;
    }
    HyperParam s;
    if (!sweep_lookup(c, p, &s))
        return false;
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
        ok &= value_in_range(c, e, p->name, ir_hypers[s].range, &vals[i++]);
    t->sweep = s;
    t->sweep_values = vals;
    t->n_sweep = v->n;
    return ok;
}

static bool schedule_takes(const IrSchedule *s, HyperParam h)
{
    const ScheduleInfo *info = &ir_schedules[s->kind];
    for (size_t i = 0; i < info->n_args; i++)
        if (info->args[i].hp == h)
            return true;
    return false;
}

/* A swept optimizer (or schedule) argument must be one of the chosen
 * optimizer's (or schedule's). */
static bool lower_sweep_fits(Lower *c, const IrTrain *t, const AstProp *sweep)
{
    HyperParam h = t->sweep;
    bool own = h == HP_EPOCHS || h == HP_BATCH; /* the train block's, not an optimizer's */
    if (own || ir_optim_arg(t->optimizer.kind, h) >= 0 || schedule_takes(&t->schedule, h))
        return true;
    for (int k = 0; k < SCHED_COUNT; k++) {
        if (!schedule_takes(&(IrSchedule){(ScheduleKind)k, {0}}, h))
            continue;
        diag_error(c->diag, sweep->loc, "cannot sweep %s: the schedule is %s", sweep->name,
                   ir_schedule_name(t->schedule.kind));
        return false;
    }
    diag_error(c->diag, sweep->loc, "cannot sweep %s: the optimizer is %s", sweep->name,
               ir_optim_name(t->optimizer.kind));
    return false;
}

/* What a loss's check looks at. */
typedef struct LossCheck {
    Lower *c;
    const IrModel *m;
    const IrDataset *ds;
    const char *loss;
    size_t out;         /* the model's output units */
    OpKind last;        /* the model's last op */
    Loc at;
} LossCheck;

/* bce and bce_logits: one output unit, one target per row. */
static bool check_one_unit(const LossCheck *k)
{
    if (k->out != 1) {
        diag_error(k->c->diag, k->at, "loss '%s' needs 1 output unit, but model '%s' outputs %zu",
                   k->loss, k->m->name, k->out);
        return false;
    }
    if (k->ds->y_cols != 1) {
        diag_error(k->c->diag, k->at, "loss '%s' needs 1 target per row, but dataset '%s' has %zu",
                   k->loss, k->ds->name, k->ds->y_cols);
        return false;
    }
    return true;
}

static bool check_bce(const LossCheck *k)
{
    if (!check_one_unit(k))
        return false;
    if (k->last != OP_SIGMOID)
        diag_warning(k->c->diag, k->at, "loss 'bce' expects probabilities, but model '%s' does not end in sigmoid",
                     k->m->name);
    return true;
}

/* bce_logits takes the raw score of class 1 and 0/1 targets (its
 * predictions are output > 0, so other targets could never be scored). */
static bool check_bce_logits(const LossCheck *k)
{
    if (!check_one_unit(k))
        return false;
    const IrDataset *ds = k->ds;
    for (size_t i = 0; i < ds->rows; i++) {
        float y = ds->y[i];
        if (y != 0.0f && y != 1.0f) {
            diag_error(k->c->diag, k->at, "loss '%s' needs 0/1 targets, but row %zu of dataset '%s' has %.9g",
                       k->loss, i + 1, ds->name, (double)y);
            return false;
        }
    }
    if (k->last == OP_SIGMOID)
        diag_warning(k->c->diag, k->at, "loss 'bce_logits' applies sigmoid itself; the final sigmoid of model '%s' applies it twice (use bce, or drop the sigmoid)",
                     k->m->name);
    return true;
}

static bool check_mse(const LossCheck *k)
{
    if (k->ds->y_cols == k->out)
        return true;
    diag_error(k->c->diag, k->at, "loss '%s' needs %zu target%s per row (model '%s' outputs %zu), but dataset '%s' has %zu",
               k->loss, k->out, k->out == 1 ? "" : "s", k->m->name, k->out, k->ds->name,
               k->ds->y_cols);
    return false;
}

static bool check_cross_entropy(const LossCheck *k)
{
    const IrDataset *ds = k->ds;
    size_t out = k->out;
    if (out < 2) {
        diag_error(k->c->diag, k->at, "loss '%s' needs at least 2 output units, but model '%s' outputs %zu",
                   k->loss, k->m->name, out);
        return false;
    }
    if (ds->classes > 0 && (size_t)ds->classes != out) {
        diag_error(k->c->diag, k->at, "loss '%s' needs one output unit per class, but dataset '%s' has %d classes and model '%s' outputs %zu",
                   k->loss, ds->name, ds->classes, k->m->name, out);
        return false;
    }
    if (ds->y_cols != 1 && ds->y_cols != out) {
        diag_error(k->c->diag, k->at, "loss '%s' needs 1 label or %zu one-hot values per row, but dataset '%s' has %zu",
                   k->loss, out, ds->name, ds->y_cols);
        return false;
    }
    for (size_t i = 0; ds->y_cols == 1 && i < ds->rows; i++) {
        double y = ds->y[i];
        if (floor(y) != y || y < 0 || y >= (double)out) {
            diag_error(k->c->diag, k->at, "loss '%s' needs labels in 0..%zu, but row %zu of dataset '%s' has %.9g",
                       k->loss, out - 1, i + 1, ds->name, y);
            return false;
        }
    }
    if (k->last == OP_SOFTMAX)
        diag_warning(k->c->diag, k->at, "loss 'cross_entropy' applies softmax itself; the final softmax of model '%s' applies it twice",
                     k->m->name);
    return true;
}

/* What each loss needs of the model's outputs and the dataset's targets. */
static bool (*const loss_checks[LOSS_COUNT])(const LossCheck *) = {
    [LOSS_BCE] = check_bce,
    [LOSS_MSE] = check_mse,
    [LOSS_CROSS_ENTROPY] = check_cross_entropy,
    [LOSS_BCE_LOGITS] = check_bce_logits,
    [LOSS_L1] = check_mse,    /* one target per output, any numbers */
    [LOSS_HUBER] = check_mse,
};
_Static_assert(sizeof loss_checks / sizeof *loss_checks == LOSS_COUNT, "one check per LossKind");

/* Output units and targets must suit the loss; warnings for the classic
 * slips (double softmax or sigmoid, bce on raw scores). */
static bool lower_check_loss(Lower *c, const IrTrain *t, const AstValue *loss_v)
{
    const IrModel *m = &c->prog->models[t->model];
    const IrDataset *ds = &c->prog->datasets[t->dataset];
    LossCheck k = {c, m, ds, ir_loss_name(t->loss.kind), m->out_units,
                   m->nodes[m->n_nodes - 1].op, loss_v->loc};
    if (ds->y_cols == 0) {
        diag_error(c->diag, k.at, "loss '%s' needs targets, but dataset '%s' has no y", k.loss,
                   ds->name);
        return false;
    }
    return loss_checks[t->loss.kind](&k);
}

static bool lower_check_inputs(Lower *c, size_t model, size_t dataset, Loc at)
{
    const IrModel *m = &c->prog->models[model];
    const IrDataset *ds = &c->prog->datasets[dataset];
    if (ds->x_cols == m->in_units)
        return true;
    const IrShape *in = &m->nodes[0].shape;
    if (in->rank == 1) {
        diag_error(c->diag, at, "dataset '%s' has %zu feature%s per row but model '%s' takes "
                   "input %zu", ds->name, ds->x_cols, ds->x_cols == 1 ? "" : "s", m->name,
                   m->in_units);
    } else {
        char buf[96];
        diag_error(c->diag, at, "dataset '%s' has %zu feature%s per row but model '%s' takes "
                   "%s = %zu", ds->name, ds->x_cols, ds->x_cols == 1 ? "" : "s", m->name,
                   ir_shape_text(in, buf, sizeof buf), m->in_units);
    }
    return false;
}

/* Losses and scores compare a vector of outputs with the targets: a model
 * that is trained or evaluated must end in one ([N], not [C, H, W]). */
static bool lower_check_output(Lower *c, size_t model, Loc at)
{
    const IrModel *m = &c->prog->models[model];
    const IrNode *last = &m->nodes[m->n_nodes - 1];
    if (last->shape.rank == 1)
        return true;
    char buf[96];
    diag_error(c->diag, at, "model '%s' ends in '%s' of shape %s, but training and evaluation "
               "need a vector of outputs; end it with 'flatten' or 'global_avgpool' and a "
               "'dense' layer", m->name, last->layer, ir_shape_text(&last->shape, buf, sizeof buf));
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

/* Batch statistics need two values per channel at least (PyTorch raises
 * "Expected more than 1 value per channel when training"): a batchnorm
 * over features [C] cannot train on a batch, or a last batch, of 1 row. */
static bool lower_batch_fits_norm(Lower *c, const IrTrain *t, size_t batch, Loc at)
{
    const IrModel *m = &c->prog->models[t->model];
    size_t rows = c->prog->datasets[t->dataset].rows;
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        if (n->op != OP_BATCHNORM || n->units / n->shape.dim[0] > 1)
            continue;
        size_t last = rows % batch ? rows % batch : batch;
        if (batch > 1 && last > 1)
            continue;
        if (batch == 1)
            diag_error(c->diag, at, "batchnorm '%s' needs more than one value per channel, but "
                       "a batch of 1 row gives one; use batch >= 2", n->layer);
        else
            diag_error(c->diag, at, "batchnorm '%s' needs more than one value per channel, but "
                       "the last batch of each epoch has 1 row (%zu rows in batches of %zu); "
                       "choose another batch size", n->layer, rows, batch);
        return false;
    }
    return true;
}

static bool lower_check_batchnorm(Lower *c, const IrTrain *t, Loc at)
{
    if (t->n_sweep > 0 && t->sweep == HP_BATCH) {
        for (size_t i = 0; i < t->n_sweep; i++)
            if (!lower_batch_fits_norm(c, t, (size_t)t->sweep_values[i], at))
                return false;
        return true;
    }
    return lower_batch_fits_norm(c, t, t->batch, at);
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
    if (t->n_sweep == 0 || t->sweep != HP_BATCH)
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

/* train_props with the names of ir_losses and ir_schedules
 * (NULL-terminated in names: the losses', then the schedules'). */
enum { TRAIN_SPEC_NAMES = LOSS_COUNT + 1 + SCHED_COUNT + 1 };

static void train_spec(PropSpec spec[TP_COUNT], const char *names[TRAIN_SPEC_NAMES])
{
    const char **losses = names, **schedules = names + LOSS_COUNT + 1;
    for (int k = 0; k < LOSS_COUNT; k++)
        losses[k] = ir_losses[k].name;
    losses[LOSS_COUNT] = NULL;
    for (int k = 0; k < SCHED_COUNT; k++)
        schedules[k] = ir_schedules[k].name;
    schedules[SCHED_COUNT] = NULL;
    memcpy(spec, train_props, sizeof train_props);
    spec[TP_LOSS].choices = losses;
    spec[TP_SCHEDULE].choices = schedules;
}

static LossKind loss_kind(const char *name)
{
    int k = 0;
    while (k < LOSS_COUNT - 1 && strcmp(ir_losses[k].name, name) != 0)
        k++;
    return (LossKind)k; /* the name was checked against the choices */
}

/* loss = NAME or NAME(args): NAME was checked against ir_losses' names;
 * the arguments bind like an optimizer's, defaults from the row. */
static bool lower_loss(Lower *c, const AstValue *v, IrLoss *l)
{
    LossKind k = loss_kind(v->text);
    const LossInfo *info = &ir_losses[k];
    *l = (IrLoss){k, {0}};
    for (size_t i = 0; i < info->n_args; i++)
        l->hyper[info->args[i].hp] = info->args[i].def;
    const AstArg *bound[LOSS_MAX_ARGS] = {0};
    CallTable table = loss_table();
    return call_bind_args(c, &table.rows[k], &table, v, bound, l->hyper);
}

/* Everything in a train block that does not depend on model or data. */
static bool lower_train_props(Lower *c, const AstDecl *d, IrTrain *t, const AstProp **slots,
                              const AstProp **sweep)
{
    PropSpec spec[TP_COUNT];
    const char *names[TRAIN_SPEC_NAMES];
    train_spec(spec, names);
    const char *const *losses = names;
    static const char *const required[] = {
        [TP_LOSS] = NULL, /* "loss (bce, mse or cross_entropy)": from ir_losses */
        [TP_OPTIMIZER] = "optimizer, e.g. optimizer = adam(lr = 0.01)",
        [TP_EPOCHS] = "epochs, e.g. epochs = 100",
    };
    bool ok = true;
    for (int i = TP_LOSS; i <= TP_EPOCHS; i++) {
        if (props_find(d->props, spec[i].name))
            continue;
        const char *what = required[i] ? required[i]
                                       : arena_printf(c->arena, "loss (%s)", choices_text(c, losses));
        diag_error(c->diag, d->loc, "train block needs %s", what ? what : "loss");
        ok = false;
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
        int i = props_take(c, p, spec, TP_COUNT, "train block", slots, seen);
        ok &= i >= 0;
        if (i == TP_LOSS && !lower_loss(c, p->value, &t->loss)) {
            slots[TP_LOSS] = NULL; /* no shape checks for a loss that failed */
            ok = false;
        }
        if (i == TP_OPTIMIZER)
            ok &= lower_optimizer(c, p->value, &t->optimizer);
        if (i == TP_SCHEDULE) {
            t->has_schedule = true;
            ok &= lower_schedule(c, p->value, &t->schedule);
        }
    }
    if (slots[TP_CLIP_GRAD])
        t->clip_grad = slots[TP_CLIP_GRAD]->value->number;
    if (slots[TP_EARLY_STOP])
        t->early_stop = (long)slots[TP_EARLY_STOP]->value->number;
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

/* "labels of 10 classes", "no targets", "2 targets per row". */
static const char *data_targets_text(Lower *c, const IrDataset *ds)
{
    const char *s = ds->y_cols == 0 ? "no targets"
                    : ds->classes > 0 ? arena_printf(c->arena, "labels of %d classes", ds->classes)
                    : arena_printf(c->arena, "%zu target%s per row", ds->y_cols,
                                   ds->y_cols == 1 ? "" : "s");
    return s ? s : "?";
}

/* validate = DATASET: rows the model can read and score like the training
 * data; early_stop needs it. */
static bool lower_train_validate(Lower *c, const AstDecl *d, IrTrain *t, const AstProp **slots)
{
    const AstProp *v = slots[TP_VALIDATE], *stop = slots[TP_EARLY_STOP];
    if (stop && !v) {
        const IrDataSource *src = c->prog->datasets[t->dataset].source;
        diag_error(c->diag, stop->loc, "early_stop needs a validation dataset to watch: "
                   "validate = %s.valid, with split = [0.7, 0.15, 0.15] in dataset '%s'",
                   src ? src->name : "data", src ? src->name : "data");
        return false;
    }
    if (!v)
        return true;
    const AstValue *val = v->value;
    AstRef ref = val->ref.part ? val->ref : (AstRef){val->text, val->loc, NULL, loc_none()};
    size_t ds;
    if (!lower_resolve_ref(c, d, &ref, &ds))
        return false;
    if (!lower_check_inputs(c, t->model, ds, val->loc) ||
        !lower_check_targets(c, t->model, ds, val->loc))
        return false;
    const IrDataset *train = &c->prog->datasets[t->dataset], *valid = &c->prog->datasets[ds];
    if ((train->y_cols == 0) != (valid->y_cols == 0) || train->classes != valid->classes) {
        diag_error(c->diag, val->loc, "validation dataset '%s' has %s, but training dataset '%s' "
                   "has %s", valid->name, data_targets_text(c, valid), train->name,
                   data_targets_text(c, train));
        return false;
    }
    t->has_validate = true;
    t->validate = ds;
    return true;
}

/* Arguments that depend on the epochs or the learning rate. */
static bool lower_check_schedule(Lower *c, const IrTrain *t, const AstProp **slots,
                                 const AstProp *sweep)
{
    if (!t->has_schedule || t->schedule.kind != SCHED_COSINE)
        return true;
    const AstValue *v = slots[TP_SCHEDULE]->value;
    double warmup = t->schedule.hyper[HP_WARMUP];
    bool swept_epochs = sweep && t->sweep == HP_EPOCHS;
    if (!swept_epochs && warmup >= (double)t->epochs) {
        diag_error(c->diag, v->loc, "cosine warm-up of %s epochs leaves nothing to anneal in %ld "
                   "epochs; use warmup < epochs", number_text(c, warmup), t->epochs);
        return false;
    }
    double min_lr = t->schedule.hyper[HP_MIN_LR], lr = t->optimizer.hyper[HP_LR];
    if (min_lr > lr && !(sweep && t->sweep == HP_LR)) {
        diag_error(c->diag, v->loc, "cosine anneals down to min_lr = %s, above the optimizer's "
                   "lr = %s", number_text(c, min_lr), number_text(c, lr));
        return false;
    }
    return true;
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
    ok = ok && lower_check_output(c, t->model, d->name_loc);
    if (ok && slots[TP_LOSS])
        ok &= lower_check_loss(c, t, slots[TP_LOSS]->value);
    ok = ok && lower_train_validate(c, d, t, slots) && lower_check_schedule(c, t, slots, sweep);
    if (!ok)
        return;
    if (!slots[TP_BATCH])
        t->batch = p->datasets[dataset].rows;
    if (!slots[TP_LOG_EVERY])
        t->log_every = t->epochs / 10 > 1 ? t->epochs / 10 : 1;
    lower_clamp_batch(c, t, slots[TP_BATCH], sweep);
    if (!lower_check_batchnorm(c, t, slots[TP_BATCH] ? slots[TP_BATCH]->loc : d->loc))
        return;
    if (ir_losses[t->loss.kind].binary_logits)
        p->models[t->model].logit_output = true;
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
        !lower_check_output(c, ms->index, d->name_loc) ||
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
    p->datasets = arena_array(c->arena, 4 * n + 1, sizeof *p->datasets);
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
    /* train_spec's table, loss choices included, kept for the caller: the
     * same values on every call (nnc runs on one thread). */
    static PropSpec spec[TP_COUNT];
    static const char *names[TRAIN_SPEC_NAMES];
    train_spec(spec, names);
    *n = TP_COUNT;
    return spec;
}

const PropSpec *lower_eval_spec(size_t *n)
{
    *n = sizeof eval_props / sizeof *eval_props;
    return eval_props;
}
