/* The session API: parameters for every model, initialised like nn.Linear
 * or from parameter blocks, and the loop over the program's steps.
 *
 * Initialisation draw order (one generator per model, seeded with the
 * model's run seed on stream RT_STREAM_INIT, see rng.h): for each dense node
 * in model order, every weight row-major ([units][in]), then every bias;
 * each value is bound * (2u - 1) with u = rt_rng_uniform, bound =
 * 1/sqrt(in). Values given in a parameter block are copied and draw
 * nothing. The run seed is --seed when given, else the seed of the model's
 * first train step, else 0 (a model that is only evaluated). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nnc/arena.h"
#include "session.h"

size_t rt_size_mul(size_t a, size_t b, bool *ok)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        *ok = false;
        return 0;
    }
    return r;
}

bool rt_targets_are_labels(const IrDataset *ds, const IrModel *m)
{
    /* classes on a one-output model means 0/1 targets, not labels to argmax. */
    return ds->y_cols == 1 && m->out_units > 1;
}

static uint64_t model_init_seed(const RtSession *s, size_t model)
{
    if (s->opt.override_seed)
        return s->opt.seed;
    const IrProgram *p = s->prog;
    for (size_t i = 0; i < p->n_steps; i++) {
        const IrStep *st = &p->steps[i];
        if (st->kind == STEP_TRAIN && p->trains[st->index].model == model)
            return p->trains[st->index].seed;
    }
    return 0;
}

static void init_values(float *dst, const float *given, size_t n,
                        float bound, RtRng *rng)
{
    if (given) {
        memcpy(dst, given, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = bound * (2.0f * rt_rng_uniform(rng) - 1.0f);
}

static void model_init_params(RtModel *m, uint64_t seed)
{
    RtRng rng;
    rt_rng_seed(&rng, seed, RT_STREAM_INIT);
    for (size_t i = 0; i < m->ir->n_nodes; i++) {
        const IrNode *n = &m->ir->nodes[i];
        if (n->op != OP_DENSE)
            continue;
        /* nn.Linear: kaiming_uniform(a=sqrt(5)) reduces to 1/sqrt(fan_in),
         * the same bound as its bias. */
        float bound = 1.0f / sqrtf((float)n->in_units);
        float *w = m->params + m->offset[i];
        size_t nw = n->units * n->in_units;
        init_values(w, n->weight_init, nw, bound, &rng);
        init_values(w + nw, n->bias_init, n->units, bound, &rng);
    }
}

/* Lays out the parameters; false when the sizes overflow. */
static bool model_layout(RtModel *m)
{
    bool ok = true;
    size_t total = 0;
    m->first_trainable = m->ir->n_nodes;
    for (size_t i = 0; i < m->ir->n_nodes; i++) {
        const IrNode *n = &m->ir->nodes[i];
        m->offset[i] = total;
        if (n->op != OP_DENSE)
            continue;
        size_t count = rt_size_mul(n->units, n->in_units + 1, &ok);
        if (__builtin_add_overflow(total, count, &total))
            ok = false;
        if (!n->frozen) {
            m->n_trainable += count;
            if (m->first_trainable == m->ir->n_nodes)
                m->first_trainable = i;
        }
    }
    m->n_params = total;
    return ok;
}

static bool model_new(RtSession *s, size_t index, Diag *d)
{
    RtModel *m = &s->models[index];
    m->ir = &s->prog->models[index];
    m->offset = calloc(m->ir->n_nodes ? m->ir->n_nodes : 1, sizeof *m->offset);
    if (!m->offset || !model_layout(m)) {
        diag_error(d, m->ir->loc, "model '%s' is too large for memory", m->ir->name);
        return false;
    }
    m->params = calloc(m->n_params ? m->n_params : 1, sizeof(float));
    if (!m->params) {
        diag_error(d, m->ir->loc, "out of memory allocating the %zu parameters of model '%s'",
                   m->n_params, m->ir->name);
        return false;
    }
    model_init_params(m, model_init_seed(s, index));
    return true;
}

/* --json swaps the report for the document; a terminal gets a progress
 * bar, coloured unless NO_COLOR is set (https://no-color.org). */
static bool session_outputs(RtSession *s, Diag *d)
{
    const char *no_color = getenv("NO_COLOR");
    s->progress = !s->opt.quiet && !s->opt.json && isatty(fileno(s->opt.out));
    s->color = s->progress && !(no_color && *no_color) && isatty(fileno(stderr));
    if (!s->opt.json)
        return true;
    s->json = cJSON_CreateObject();
    if (s->json) {
        cJSON_AddStringToObject(s->json, "file", s->opt.file ? s->opt.file : "");
        s->json_steps = cJSON_AddArrayToObject(s->json, "steps");
    }
    s->json_out = s->opt.out;
    s->opt.out = fopen("/dev/null", "w");
    if (!s->json || !s->json_steps || !s->opt.out) {
        diag_error(d, loc_none(), "cannot set up the --json document");
        return false;
    }
    return true;
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

/* Prints the --json document, whatever happened: a failed step (a
 * diverged training) is data too. */
static void session_print_json(RtSession *s, bool ok)
{
    if (!s->json)
        return;
    cJSON_AddBoolToObject(s->json, "ok", ok);
    char *text = cJSON_Print(s->json);
    if (text) {
        fputs(text, s->json_out);
        fputc('\n', s->json_out);
    }
    free(text);
}

RtSession *rt_session_new(const IrProgram *p, const RtOptions *opt, Diag *d)
{
    RtSession *s = calloc(1, sizeof *s);
    if (!s) {
        diag_error(d, loc_none(), "out of memory");
        return NULL;
    }
    s->prog = p;
    s->opt = *opt;
    if (!s->opt.out)
        s->opt.out = stdout;
    if (!session_outputs(s, d)) {
        rt_session_free(s);
        return NULL;
    }
    s->models = calloc(p->n_models ? p->n_models : 1, sizeof *s->models);
    if (!s->models) {
        diag_error(d, loc_none(), "out of memory");
        rt_session_free(s);
        return NULL;
    }
    for (size_t i = 0; i < p->n_models; i++) {
        if (!model_new(s, i, d)) {
            rt_session_free(s);
            return NULL;
        }
    }
    return s;
}

void rt_session_free(RtSession *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->models && i < s->prog->n_models; i++) {
        free(s->models[i].params);
        free(s->models[i].offset);
    }
    free(s->models);
    if (s->json_out && s->opt.out)
        fclose(s->opt.out);
    cJSON_Delete(s->json);
    free(s);
}

/* A train step under --epochs 0: one line saying so, nothing trained. */
static bool train_skipped(RtSession *s, const IrTrain *t)
{
    const IrProgram *p = s->prog;
    if (!s->opt.quiet && !s->opt.json)
        fprintf(s->opt.out, "train %s on %s: skipped (--epochs 0)\n\n", p->models[t->model].name,
                p->datasets[t->dataset].name);
    return true;
}

static bool train_step(RtSession *s, const IrTrain *t, Diag *d)
{
    return s->opt.no_training ? train_skipped(s, t) : rt_train_run(s, t, d);
}

bool rt_session_run(RtSession *s, Diag *d)
{
    const IrProgram *p = s->prog;
    for (size_t i = 0; i < p->n_steps; i++) {
        const IrStep *st = &p->steps[i];
        bool ok = st->kind == STEP_TRAIN ? train_step(s, &p->trains[st->index], d)
                                         : rt_eval_run(s, &p->evals[st->index], d);
        if (!ok) {
            session_print_json(s, false);
            return false;
        }
        fflush(s->opt.out);
    }
    session_print_json(s, true);
    return true;
}

bool rt_session_train(RtSession *s, Diag *d)
{
    const IrProgram *p = s->prog;
    for (size_t i = 0; i < p->n_steps; i++) {
        const IrStep *st = &p->steps[i];
        if (st->kind == STEP_TRAIN && !train_step(s, &p->trains[st->index], d))
            return false;
    }
    fflush(s->opt.out);
    return true;
}

bool rt_plan_fits(const RtModel *m, size_t max_rows, const IrDataset *ds, bool training,
                  Loc loc, Diag *d)
{
    /* What rt_plan_init allocates, roughly: outputs (and gradients) of
     * every node per row, the optimizer's three copies of the parameters,
     * the gathered batch; plus the parameters themselves. */
    bool ok = true;
    size_t widths = 0;
    for (size_t i = 0; i < m->ir->n_nodes; i++)
        ok = ok && !__builtin_add_overflow(widths, m->ir->nodes[i].units, &widths);
    size_t per_row = rt_size_mul(widths, training ? 3 : 1, &ok);
    if (ds && training)
        ok = ok && !__builtin_add_overflow(per_row, ds->x_cols + ds->y_cols + 1, &per_row);
    size_t floats = rt_size_mul(per_row, max_rows, &ok);
    size_t copies = rt_size_mul(m->n_params, training ? 4 : 1, &ok);
    ok = ok && !__builtin_add_overflow(floats, copies, &floats);
    size_t bytes = rt_size_mul(floats, sizeof(float), &ok);
    size_t have = mem_limit_bytes();
    if (ok && bytes <= have)
        return true;
    char need_text[32], have_text[32];
    if (ok)
        diag_error(d, loc, "%s model '%s' on batches of %zu rows needs about %s of memory, "
                   "more than the %s available; use a smaller batch or smaller layers",
                   training ? "training" : "running", m->ir->name, max_rows,
                   mem_format(need_text, bytes), mem_format(have_text, have));
    else
        diag_error(d, loc, "%s model '%s' on batches of %zu rows needs more memory than "
                   "can be addressed; use a smaller batch or smaller layers",
                   training ? "training" : "running", m->ir->name, max_rows);
    return false;
}

bool rt_session_diverged(const RtSession *s)
{
    return s->diverged;
}

bool rt_model_is_trained(const IrProgram *p, size_t model)
{
    for (size_t i = 0; i < p->n_trains; i++)
        if (p->trains[i].model == model)
            return true;
    return false;
}

static const RtModel *session_dense(const RtSession *s, size_t model, size_t node)
{
    if (!s || model >= s->prog->n_models)
        return NULL;
    const RtModel *m = &s->models[model];
    if (node >= m->ir->n_nodes || m->ir->nodes[node].op != OP_DENSE)
        return NULL;
    return m;
}

const float *rt_node_weight(const RtSession *s, size_t model, size_t node)
{
    const RtModel *m = session_dense(s, model, node);
    return m ? m->params + m->offset[node] : NULL;
}

const float *rt_node_bias(const RtSession *s, size_t model, size_t node)
{
    const RtModel *m = session_dense(s, model, node);
    if (!m)
        return NULL;
    const IrNode *n = &m->ir->nodes[node];
    return m->params + m->offset[node] + n->units * n->in_units;
}

/* ---- print(model) ------------------------------------------------------ */

static void summarize_node(FILE *out, const IrNode *n)
{
    fprintf(out, "  (%s): %s(", n->name, ir_ops[n->op].torch_name);
    switch (n->op) {
    case OP_DENSE:
        fprintf(out, "in_features=%zu, out_features=%zu, bias=True", n->in_units, n->units);
        break;
    case OP_DROPOUT:
        fprintf(out, "p=%g, inplace=False", n->arg);
        break;
    case OP_LEAKY_RELU:
        fprintf(out, "negative_slope=%g", n->arg);
        break;
    case OP_SOFTMAX:
        fputs("dim=1", out);
        break;
    default:
        break;
    }
    fputs(n->op == OP_DENSE && n->frozen ? ")  # frozen\n" : ")\n", out);
}

void rt_model_summarize(RtSession *s, RtModel *m)
{
    if (m->summarized || s->opt.quiet)
        return;
    m->summarized = true;
    FILE *out = s->opt.out;
    fprintf(out, "%s(\n", m->ir->name);
    for (size_t i = 1; i < m->ir->n_nodes; i++)
        summarize_node(out, &m->ir->nodes[i]);
    fprintf(out, ")\nTotal params: %zu (%zu trainable)\n\n", m->n_params, m->n_trainable);
}
