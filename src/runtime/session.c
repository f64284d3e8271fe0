/* The session API: parameters for every model, initialised like nn.Linear
 * or from parameter blocks, and the loop over the program's steps.
 *
 * Initialisation draw order (one generator per model, seeded with the
 * model's run seed on stream RT_STREAM_INIT, see rng.h): for each node in
 * model order, each parameter tensor its op declares, in order, row-major
 * (dense: every weight [units][in], then every bias); each value is
 * bound * (2u - 1) with u = rt_rng_uniform, bound = 1/sqrt(fan_in) (the
 * tensor's IrInit). Values given in a parameter block are copied and draw
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

/* A tensor's starting values: the given ones (which draw nothing), or by
 * its IrInit: U(-b, b) with b = 1/sqrt(fan_in) as bound * (2u - 1) per
 * value (u = rt_rng_uniform), or a constant, which draws nothing either. */
static void init_values(float *dst, const float *given, size_t n, const IrParam *p, RtRng *rng)
{
    if (given) {
        memcpy(dst, given, n * sizeof(float));
        return;
    }
    switch (p->init) {
    case INIT_UNIFORM_FAN_IN: {
        float bound = 1.0f / sqrtf((float)p->fan_in);
        for (size_t i = 0; i < n; i++)
            dst[i] = bound * (2.0f * rt_rng_uniform(rng) - 1.0f);
        return;
    }
    case INIT_ZEROS:
    case INIT_ONES:
        for (size_t i = 0; i < n; i++)
            dst[i] = p->init == INIT_ONES ? 1.0f : 0.0f;
        return;
    }
}

static void model_init_params(RtModel *m, uint64_t seed)
{
    RtRng rng;
    rt_rng_seed(&rng, seed, RT_STREAM_INIT);
    for (size_t t = 0; t < m->n_tensors; t++) {
        const RtParamTensor *pt = &m->tensors[t];
        const IrNode *n = &m->ir->nodes[pt->node];
        size_t k = t - m->node_params[pt->node].first;
        init_values(m->params + pt->offset, n->param_init[k], pt->size, &pt->decl, &rng);
    }
}

/* Places node i's declared tensors after *total. */
static bool model_layout_node(RtModel *m, size_t i, size_t *total)
{
    const IrNode *n = &m->ir->nodes[i];
    IrParam decl[IR_MAX_PARAMS];
    size_t count = ir_node_params(n, decl);
    RtNodeParams *np = &m->node_params[i];
    *np = (RtNodeParams){m->n_tensors, count, *total, 0, 0};
    size_t end;
    if (!ir_node_param_count(n, &np->size) || __builtin_add_overflow(*total, np->size, &end))
        return false;
    for (size_t k = 0; k < count; k++) {
        size_t size = ir_shape_size(&decl[k].shape);
        m->tensors[m->n_tensors++] = (RtParamTensor){i, decl[k], *total, size};
        *total += size;
        if (decl[k].role == PARAM_TRAINED)
            np->trained += size;
    }
    if (np->trained && !n->frozen) {
        m->n_trainable += np->trained;
        if (m->first_trainable == m->ir->n_nodes)
            m->first_trainable = i;
    }
    return true;
}

/* Lays out every node's parameter tensors; false when the sizes overflow
 * or memory runs out. */
static bool model_layout(RtModel *m)
{
    size_t n = m->ir->n_nodes;
    m->node_params = calloc(n ? n : 1, sizeof *m->node_params);
    m->tensors = calloc(n ? n * IR_MAX_PARAMS : 1, sizeof *m->tensors);
    if (!m->node_params || !m->tensors)
        return false;
    size_t total = 0;
    m->first_trainable = n;
    for (size_t i = 0; i < n; i++)
        if (!model_layout_node(m, i, &total))
            return false;
    m->n_params = total;
    return true;
}

static bool model_new(RtSession *s, size_t index, Diag *d)
{
    RtModel *m = &s->models[index];
    m->ir = &s->prog->models[index];
    if (!model_layout(m)) {
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
        free(s->models[i].tensors);
        free(s->models[i].node_params);
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
        if (ok && st->kind == STEP_EVAL && s->opt.quantize_int8)
            ok = rt_quant_eval_run(s, &p->evals[st->index], d);
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

const float *rt_node_params(const RtSession *s, size_t model, size_t node)
{
    if (!s || model >= s->prog->n_models)
        return NULL;
    const RtModel *m = &s->models[model];
    if (node >= m->ir->n_nodes || m->node_params[node].count == 0)
        return NULL;
    return m->params + m->node_params[node].offset;
}
