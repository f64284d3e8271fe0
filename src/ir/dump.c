/* `nnc dump ir`: the checked program as stable text for golden tests and for
 * humans asking "what did nnc understand?". Numbers print with %.9g, so the
 * output is byte-for-byte reproducible. Large datasets show their first rows
 * only; parameter blocks are shown in full (they are typed by hand). */
#include "nnc/ir.h"

enum { DUMP_ROWS = 8 };

static void dump_floats(FILE *out, const float *v, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%.9g", i ? ", " : "", (double)v[i]);
    fputc(']', out);
}

static void dump_dataset(FILE *out, size_t i, const IrDataset *ds)
{
    fprintf(out, "dataset %zu %s @%d:%d\n", i, ds->name, ds->loc.line, ds->loc.col);
    fprintf(out, "  rows %zu, x [%zu, %zu], y [%zu, %zu]", ds->rows, ds->rows, ds->x_cols,
            ds->rows, ds->y_cols);
    if (ds->classes > 0)
        fprintf(out, ", classes %d", ds->classes);
    fputc('\n', out);
    size_t shown = ds->rows < DUMP_ROWS ? ds->rows : DUMP_ROWS;
    for (size_t r = 0; r < shown; r++) {
        fprintf(out, "  row %zu: x ", r);
        dump_floats(out, ds->x + r * ds->x_cols, ds->x_cols);
        if (ds->y_cols) {
            fputs(" y ", out);
            dump_floats(out, ds->y + r * ds->y_cols, ds->y_cols);
        }
        fputc('\n', out);
    }
    if (shown < ds->rows)
        fprintf(out, "  ... %zu more rows\n", ds->rows - shown);
}

static void dump_shape(FILE *out, const IrShape *sh)
{
    fputc('[', out);
    for (size_t d = 0; d < sh->rank; d++)
        fprintf(out, "%s%zu", d ? ", " : "", sh->dim[d]);
    fputc(']', out);
}

/* Given values row by row for a matrix, flat otherwise. */
static void dump_param_values(FILE *out, const IrParam *p, const float *v)
{
    if (p->shape.rank != 2) {
        dump_floats(out, v, ir_shape_size(&p->shape));
        return;
    }
    size_t rows = p->shape.dim[0], cols = p->shape.dim[1];
    fputc('[', out);
    for (size_t r = 0; r < rows; r++) {
        fputs(r ? ", " : "", out);
        dump_floats(out, v + r * cols, cols);
    }
    fputc(']', out);
}

static void dump_params(FILE *out, const IrNode *n)
{
    IrParam ps[IR_MAX_PARAMS];
    size_t np = ir_node_params(n, ps);
    for (size_t k = 0; k < np; k++) {
        fprintf(out, "    %s ", ps[k].suffix);
        dump_shape(out, &ps[k].shape);
        if (n->param_init[k]) {
            fputs(" fixed = ", out);
            dump_param_values(out, &ps[k], n->param_init[k]);
        }
        fputc('\n', out);
    }
    if (n->frozen)
        fputs("    frozen\n", out);
}

/* "<- layer1 [4]": the nodes read, each with its shape. */
static void dump_inputs(FILE *out, const IrModel *m, const IrNode *n)
{
    fputs(" <-", out);
    for (size_t k = 0; k < n->n_inputs; k++) {
        const IrNode *in = &m->nodes[n->inputs[k]];
        fprintf(out, "%s %s ", k ? "," : "", in->name);
        dump_shape(out, &in->shape);
    }
}

/* " kernel 3" (1-D) or " kernel [3, 3]" (2-D) for one window field. */
static void dump_window_field(FILE *out, const char *name, const size_t v[2], bool two_d)
{
    if (two_d)
        fprintf(out, " %s [%zu, %zu]", name, v[0], v[1]);
    else
        fprintf(out, " %s %zu", name, v[1]);
}

static void dump_window(FILE *out, const IrWindow *w, bool two_d, bool dilation)
{
    dump_window_field(out, "kernel", w->kernel, two_d);
    dump_window_field(out, "stride", w->stride, two_d);
    dump_window_field(out, "padding", w->padding, two_d);
    if (dilation)
        dump_window_field(out, "dilation", w->dilation, two_d);
}

/* The op's own configuration, as written in the .nn file. */
static void dump_config(FILE *out, const IrNode *n)
{
    switch (n->op) {
    case OP_DROPOUT: fprintf(out, " p %.9g", n->cfg.dropout.p); break;
    case OP_LEAKY_RELU: fprintf(out, " slope %.9g", n->cfg.leaky_relu.slope); break;
    case OP_ELU: fprintf(out, " alpha %.9g", n->cfg.elu.alpha); break;
    case OP_CONV1D:
    case OP_CONV2D:
        fprintf(out, " channels %zu", n->cfg.conv.channels);
        dump_window(out, &n->cfg.conv.win, n->op == OP_CONV2D, true);
        fprintf(out, " groups %zu bias %s", n->cfg.conv.groups, n->cfg.conv.bias ? "true" : "false");
        break;
    case OP_MAXPOOL1D:
    case OP_AVGPOOL1D: dump_window(out, &n->cfg.pool.win, false, false); break;
    case OP_MAXPOOL2D:
    case OP_AVGPOOL2D: dump_window(out, &n->cfg.pool.win, true, false); break;
    case OP_BATCHNORM:
        fprintf(out, " momentum %.9g eps %.9g", n->cfg.batchnorm.momentum, n->cfg.batchnorm.eps);
        break;
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_FLATTEN:
    case OP_ADD:
    case OP_CONCAT:
    case OP_DENSE: /* its units are its shape */
    case OP_INPUT:
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_GELU:
    case OP_SILU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_RELU:
    case OP_SOFTMAX:
    case OP_IDENTITY: break;
    }
}

static void dump_model(FILE *out, size_t i, const IrModel *m)
{
    fprintf(out, "model %zu %s @%d:%d\n", i, m->name, m->loc.line, m->loc.col);
    fprintf(out, "  input %zu, output %zu, params %zu\n", m->in_units, m->out_units, m->n_params);
    for (size_t k = 0; k < m->n_nodes; k++) {
        const IrNode *n = &m->nodes[k];
        fprintf(out, "  node %zu %s %s", k, ir_ops[n->op].name, n->name);
        if (n->n_inputs)
            dump_inputs(out, m, n);
        fputs(" -> ", out);
        dump_shape(out, &n->shape);
        dump_config(out, n);
        fputc('\n', out);
        dump_params(out, n);
    }
}

static void dump_train(FILE *out, size_t i, const IrProgram *p, const IrTrain *t)
{
    fprintf(out, "train %zu %s on %s @%d:%d\n", i, p->models[t->model].name,
            p->datasets[t->dataset].name, t->loc.line, t->loc.col);
    const LossInfo *loss = &ir_losses[t->loss.kind];
    fprintf(out, "  loss %s", loss->name);
    for (size_t k = 0; k < loss->n_args; k++) {
        HyperParam h = loss->args[k].hp;
        if (ir_loss_arg_differs(&t->loss, k))
            fprintf(out, " %s %.9g", ir_hypers[h].name, t->loss.hyper[h]);
    }
    fputc('\n', out);
    const IrOptimizer *o = &t->optimizer;
    const OptimInfo *info = &ir_optims[o->kind];
    fprintf(out, "  optimizer %s", info->name);
    for (size_t k = 0; k < info->n_args; k++) {
        HyperParam h = info->args[k].hp;
        if (ir_hypers[h].type == HYPER_BOOL)
            fprintf(out, " %s %s", ir_hypers[h].name, o->hyper[h] != 0 ? "true" : "false");
        else
            fprintf(out, " %s %.9g", ir_hypers[h].name, o->hyper[h]);
    }
    fprintf(out, "\n  epochs %ld, batch %zu, seed %llu, log_every %ld\n", t->epochs, t->batch,
            (unsigned long long)t->seed, t->log_every);
    if (t->has_schedule) {
        const ScheduleInfo *si = &ir_schedules[t->schedule.kind];
        fprintf(out, "  schedule %s", si->name);
        for (size_t k = 0; k < si->n_args; k++)
            fprintf(out, " %s %.9g", ir_hypers[si->args[k].hp].name,
                    t->schedule.hyper[si->args[k].hp]);
        fputc('\n', out);
    }
    if (t->clip_grad > 0)
        fprintf(out, "  clip_grad %.9g\n", t->clip_grad);
    if (t->has_validate)
        fprintf(out, "  validate d%zu (%s), early_stop %ld\n", t->validate,
                p->datasets[t->validate].name, t->early_stop);
    if (t->n_sweep == 0)
        return;
    fprintf(out, "  sweep %s [", ir_hyper_name(t->sweep));
    for (size_t k = 0; k < t->n_sweep; k++)
        fprintf(out, "%s%.9g", k ? ", " : "", t->sweep_values[k]);
    fputs("]\n", out);
}

static void dump_eval(FILE *out, size_t i, const IrProgram *p, const IrEval *e)
{
    const IrModel *m = &p->models[e->model];
    fprintf(out, "eval %zu %s on %s @%d:%d", i, m->name, p->datasets[e->dataset].name,
            e->loc.line, e->loc.col);
    if (e->show_node >= 0)
        fprintf(out, " show %ld (%s)", e->show_node, m->nodes[e->show_node].name);
    if (e->implicit)
        fputs(" implicit", out);
    fputc('\n', out);
}

void ir_dump(FILE *out, const IrProgram *p)
{
    fprintf(out, "program %s\n", p->src && p->src->path ? p->src->path : "-");
    for (size_t i = 0; i < p->n_datasets; i++)
        dump_dataset(out, i, &p->datasets[i]);
    for (size_t i = 0; i < p->n_models; i++)
        dump_model(out, i, &p->models[i]);
    for (size_t i = 0; i < p->n_trains; i++)
        dump_train(out, i, p, &p->trains[i]);
    for (size_t i = 0; i < p->n_evals; i++)
        dump_eval(out, i, p, &p->evals[i]);
    fputs("steps:", out);
    for (size_t i = 0; i < p->n_steps; i++)
        fprintf(out, " %s %zu", p->steps[i].kind == STEP_TRAIN ? "train" : "eval",
                p->steps[i].index);
    fputc('\n', out);
}
