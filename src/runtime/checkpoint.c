/* Training checkpoints: see checkpoint.h for what a file holds. Every value
 * is checked against the training it is loaded into before any of it is
 * copied, so a checkpoint of another model, a truncated file or a tampered
 * one is reported and changes nothing. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

/* The format's version: a file of another is refused by name. */
#define CKPT_FORMAT "1"

static const char *const log_names[LOG_KINDS] = {"epoch", "loss", "lr", "valid_loss",
                                                  "valid_score"};

char *rt_checkpoint_path(const char *dir, size_t ordinal)
{
    size_t n = strlen(dir) + 48;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/train-%zu.safetensors", dir, ordinal);
    return path;
}

/* ---- the checksum: FNV-1a 64 over every tensor and metadata entry ------ */

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* Bytes in the file's order (little-endian), whatever the host's. */
static uint64_t fnv_floats(uint64_t h, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                              (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
        h = fnv_bytes(h, b, 4);
    }
    return h;
}

static uint64_t checksum(const StTensor *t, size_t n, const StMeta *meta, size_t n_meta)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h = fnv_bytes(h, t[i].name, strlen(t[i].name) + 1);
        h = fnv_floats(h, t[i].data, t[i].count);
    }
    for (size_t i = 0; i < n_meta; i++) {
        if (strncmp(meta[i].key, "nnc.", 4) != 0 || strcmp(meta[i].key, "nnc.checksum") == 0)
            continue;
        h = fnv_bytes(h, meta[i].key, strlen(meta[i].key) + 1);
        h = fnv_bytes(h, meta[i].value, strlen(meta[i].value) + 1);
    }
    return h;
}

/* ---- writing ------------------------------------------------------------ */

/* Every tensor and metadata entry of a checkpoint, with the strings they
 * own: built, written, freed. */
typedef struct Ckpt {
    StTensor *t;
    size_t n_t;
    StMeta meta[24 + LOG_KINDS];
    size_t n_meta;
    char **owned;       /* keys and values to free */
    size_t n_owned, cap_owned;
    float *scratch;     /* train.order as floats */
    bool ok;
} Ckpt;

static char *ckpt_own(Ckpt *c, char *s)
{
    if (s && c->n_owned < c->cap_owned)
        return c->owned[c->n_owned++] = s;
    free(s);
    c->ok = false;
    return NULL;
}

static void ckpt_meta(Ckpt *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ckpt_meta(Ckpt *c, const char *key, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *v = ckpt_own(c, strdup(buf));
    if (v)
        c->meta[c->n_meta++] = (StMeta){(char *)key, v};
}

/* "0.5,0.25,...": the log's values with %.17g, which reads back exactly. */
static char *log_text(const double *v, size_t n)
{
    char *s = malloc(n * 26 + 1);
    if (!s)
        return NULL;
    size_t used = 0;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(s + used, "%s%.17g", i ? "," : "", v[i]);
    return s;
}

static void ckpt_add_tensor(Ckpt *c, char *name, float *data, size_t count, const size_t *shape,
                            size_t ndim)
{
    StTensor *t = &c->t[c->n_t++];
    *t = (StTensor){name, ndim, {0}, count, data};
    for (size_t i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    if (!name)
        c->ok = false;
}

static void ckpt_tensors(Ckpt *c, const RtModel *m, const RtTrainState *st)
{
    for (size_t k = 0; k < m->n_tensors; k++) {
        const RtParamTensor *pt = &m->tensors[k];
        size_t shape[ST_MAX_DIMS];
        for (size_t i = 0; i < pt->decl.shape.rank; i++)
            shape[i] = pt->decl.shape.dim[i];
        ckpt_add_tensor(c, ckpt_own(c, rt_weights_key(m, pt)), m->params + pt->offset, pt->size,
                        shape, pt->decl.shape.rank);
    }
    size_t np = m->n_params;
    for (size_t k = 0; k < st->n_state; k++) {
        char name[32];
        snprintf(name, sizeof name, "optimizer.%zu", k);
        ckpt_add_tensor(c, ckpt_own(c, strdup(name)), st->opt_state[k], np, &np, 1);
    }
    for (size_t i = 0; c->scratch && i < st->rows; i++)
        c->scratch[i] = (float)st->order[i]; /* exact: rows <= 2^24 (checked) */
    ckpt_add_tensor(c, "train.order", c->scratch, st->rows, &st->rows, 1);
    if (st->best)
        ckpt_add_tensor(c, "train.best", st->best, np, &np, 1);
}

static void ckpt_metadata(Ckpt *c, const RtModel *m, const IrTrain *t, const RtTrainState *st)
{
    ckpt_meta(c, "nnc.checkpoint", CKPT_FORMAT);
    ckpt_meta(c, "nnc.model", "%s", m->ir->name);
    ckpt_meta(c, "nnc.optimizer", "%s", ir_optim_name(t->optimizer.kind));
    ckpt_meta(c, "nnc.params", "%zu", m->n_params);
    ckpt_meta(c, "nnc.rows", "%zu", st->rows);
    ckpt_meta(c, "nnc.epoch", "%ld", st->epoch);
    ckpt_meta(c, "nnc.step", "%ld", st->step);
    ckpt_meta(c, "nnc.finished", "%d", st->finished ? 1 : 0);
    ckpt_meta(c, "nnc.loss", "%.17g", st->loss);
    ckpt_meta(c, "nnc.rng", "%08" PRIx32 "%08" PRIx32 "%08" PRIx32 "%08" PRIx32, st->rng.s[0],
              st->rng.s[1], st->rng.s[2], st->rng.s[3]);
    ckpt_meta(c, "nnc.best_epoch", "%ld", st->best_epoch);
    ckpt_meta(c, "nnc.best_valid", "%.17g", st->best_valid);
    ckpt_meta(c, "nnc.n_log", "%zu", st->n_log);
    for (int k = 0; k < LOG_KINDS; k++) {
        if (!st->logs[k])
            continue;
        char *key = ckpt_own(c, malloc(32));
        char *v = ckpt_own(c, log_text(st->logs[k], st->n_log));
        if (!key || !v)
            return;
        snprintf(key, 32, "nnc.log.%s", log_names[k]);
        c->meta[c->n_meta++] = (StMeta){key, v};
    }
}

static void ckpt_free(Ckpt *c)
{
    for (size_t i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->t);
    free(c->scratch);
}

bool rt_checkpoint_save(const RtModel *m, const IrTrain *t, const char *path,
                        const RtTrainState *st, Diag *d)
{
    Ckpt c = {.ok = true};
    c.t = calloc(m->n_tensors + st->n_state + 2, sizeof *c.t);
    c.scratch = calloc(st->rows ? st->rows : 1, sizeof(float));
    /* every tensor's name, then the metadata's values */
    c.cap_owned = m->n_tensors + st->n_state + sizeof c.meta / sizeof *c.meta;
    c.owned = calloc(c.cap_owned, sizeof *c.owned);
    c.ok = c.t && c.scratch && c.owned;
    if (c.ok) {
        ckpt_tensors(&c, m, st);
        ckpt_metadata(&c, m, t, st);
        ckpt_meta(&c, "nnc.checksum", "%016" PRIx64, checksum(c.t, c.n_t, c.meta, c.n_meta));
    }
    bool ok = c.ok;
    if (!ok)
        diag_error(d, t->loc, "out of memory writing checkpoint '%s'", path);
    ok = ok && st_write_meta(d, path, c.t, c.n_t, c.meta, c.n_meta);
    ckpt_free(&c);
    return ok;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct Reader {
    const StFile *f;
    const char *path;
    Diag *d;
    Loc at;
} Reader;

static bool bad(const Reader *r, const char *what)
{
    diag_error(r->d, r->at, "checkpoint '%s' %s", r->path, what);
    return false;
}

static const char *need(const Reader *r, const char *key)
{
    const char *v = st_meta(r->f, key);
    if (!v) {
        char msg[96];
        snprintf(msg, sizeof msg, "has no '%s': not a checkpoint nnc wrote", key);
        bad(r, msg);
    }
    return v;
}

static bool read_long(const Reader *r, const char *key, long *out)
{
    const char *v = need(r, key);
    char *end;
    if (!v)
        return false;
    *out = strtol(v, &end, 10);
    return *end == '\0' && end != v ? true : bad(r, "has a malformed number");
}

static bool read_double(const Reader *r, const char *key, double *out)
{
    const char *v = need(r, key);
    char *end;
    if (!v)
        return false;
    *out = strtod(v, &end);
    return *end == '\0' && end != v ? true : bad(r, "has a malformed number");
}

/* A checkpoint of another training is refused, naming what differs. */
static bool check_identity(const Reader *r, const IrTrain *t, const RtTrainState *st)
{
    char msg[256];
    const char *fmt = need(r, "nnc.checkpoint"), *model = need(r, "nnc.model");
    const char *optim = need(r, "nnc.optimizer");
    long rows;
    if (!fmt || !model || !optim || !read_long(r, "nnc.rows", &rows))
        return false;
    if (strcmp(fmt, CKPT_FORMAT) != 0)
        snprintf(msg, sizeof msg, "is of format %s; this nnc reads format " CKPT_FORMAT, fmt);
    else if (strcmp(optim, ir_optim_name(t->optimizer.kind)) != 0)
        snprintf(msg, sizeof msg, "was written for optimizer %s; this train block uses %s", optim,
                 ir_optim_name(t->optimizer.kind));
    else if ((size_t)rows != st->rows)
        snprintf(msg, sizeof msg, "was written for a training on %ld rows; this one has %zu",
                 rows, st->rows);
    else
        return true;
    return bad(r, msg);
}

/* After the tensors matched by name and shape (which names what differs):
 * the same total, or the file lists tensors this model does not have. */
static bool check_size(const Reader *r, const RtModel *m)
{
    long params;
    if (!read_long(r, "nnc.params", &params))
        return false;
    if ((size_t)params == m->n_params)
        return true;
    char msg[160];
    snprintf(msg, sizeof msg, "was written for a model of %ld parameters; '%s' has %zu", params,
             m->ir->name, m->n_params);
    return bad(r, msg);
}

/* Every tensor present with the shape and size this training needs. */
static const StTensor *tensor(const Reader *r, const char *key, size_t count, const IrShape *sh)
{
    const StTensor *t = st_find(r->f, key);
    char msg[320];
    if (!t) {
        snprintf(msg, sizeof msg, "has no tensor '%s': it was written for another model", key);
        bad(r, msg);
        return NULL;
    }
    bool fits = t->count == count;
    for (size_t i = 0; fits && sh && i < sh->rank; i++)
        fits = t->ndim == sh->rank && t->shape[i] == sh->dim[i];
    if (fits)
        return t;
    char want[96] = "", got[96] = "";
    size_t u = 0, v = 0;
    for (size_t i = 0; sh && i < sh->rank; i++)
        u += (size_t)snprintf(want + u, sizeof want - u, "%s%zu", i ? ", " : "", sh->dim[i]);
    for (size_t i = 0; i < t->ndim && v < sizeof got; i++)
        v += (size_t)snprintf(got + v, sizeof got - v, "%s%zu", i ? ", " : "", t->shape[i]);
    if (sh)
        snprintf(msg, sizeof msg, "has tensor '%s' of shape [%s], but this model's is [%s]: it "
                 "was written for another model", key, got, want);
    else
        snprintf(msg, sizeof msg, "has tensor '%s' of %zu values, expected %zu", key, t->count,
                 count);
    bad(r, msg);
    return NULL;
}

/* "0.5,0.25" into v[0..n). */
static bool parse_log(const Reader *r, const char *text, double *v, size_t n)
{
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\0') || (*end == '\0' && i + 1 < n))
            return bad(r, "has a malformed log");
        p = *end ? end + 1 : end;
    }
    return *p == '\0' ? true : bad(r, "has a malformed log");
}

static bool read_rng(const Reader *r, RtRng *rng)
{
    const char *v = need(r, "nnc.rng");
    if (!v)
        return false;
    if (strlen(v) != 32)
        return bad(r, "has a malformed generator state");
    for (int i = 0; i < 4; i++) {
        char word[9];
        memcpy(word, v + 8 * i, 8);
        word[8] = '\0';
        char *end;
        rng->s[i] = (uint32_t)strtoul(word, &end, 16);
        if (*end)
            return bad(r, "has a malformed generator state");
    }
    return true;
}

/* The scalars and logs, into a copy of st (nothing of the training's is
 * written until everything has been read). */
static bool read_progress(const Reader *r, RtTrainState *st)
{
    long finished, n_log;
    if (!read_long(r, "nnc.epoch", &st->epoch) || !read_long(r, "nnc.step", &st->step) ||
        !read_long(r, "nnc.finished", &finished) || !read_double(r, "nnc.loss", &st->loss) ||
        !read_long(r, "nnc.best_epoch", &st->best_epoch) ||
        !read_double(r, "nnc.best_valid", &st->best_valid) ||
        !read_long(r, "nnc.n_log", &n_log) || !read_rng(r, &st->rng))
        return false;
    if (st->epoch < 0 || st->step < 0 || n_log < 0 || (size_t)n_log > st->log_cap ||
        st->best_epoch < 0 || st->best_epoch > st->epoch)
        return bad(r, "has values out of range");
    st->finished = finished != 0;
    st->n_log = (size_t)n_log;
    return true;
}

static bool read_logs(const Reader *r, const RtTrainState *st, double **tmp)
{
    for (int k = 0; k < LOG_KINDS; k++) {
        if (!st->logs[k])
            continue;
        char key[32];
        snprintf(key, sizeof key, "nnc.log.%s", log_names[k]);
        const char *text = need(r, key);
        tmp[k] = malloc((st->n_log ? st->n_log : 1) * sizeof(double));
        if (!text || !tmp[k])
            return text ? bad(r, "is too large for memory") : false;
        if (!parse_log(r, text, tmp[k], st->n_log))
            return false;
    }
    return true;
}

static bool check_checksum(const Reader *r)
{
    const char *want = need(r, "nnc.checksum");
    if (!want)
        return false;
    char got[20];
    snprintf(got, sizeof got, "%016" PRIx64,
             checksum(r->f->tensors, r->f->n, r->f->meta, r->f->n_meta));
    return strcmp(got, want) == 0 ? true
                                  : bad(r, "is damaged: its checksum does not match its contents");
}

/* Finds every tensor the training needs (NULL entries: not found). */
static bool find_tensors(const Reader *r, const RtModel *m, const RtTrainState *st,
                         const StTensor **model, const StTensor **state, const StTensor **order,
                         const StTensor **best)
{
    bool ok = true;
    for (size_t k = 0; k < m->n_tensors; k++) {
        char *key = rt_weights_key(m, &m->tensors[k]);
        model[k] = key ? tensor(r, key, m->tensors[k].size, &m->tensors[k].decl.shape) : NULL;
        ok &= model[k] != NULL;
        free(key);
        if (!ok)
            return false;
    }
    for (size_t k = 0; k < st->n_state; k++) {
        char name[32];
        snprintf(name, sizeof name, "optimizer.%zu", k);
        if (!(state[k] = tensor(r, name, m->n_params, NULL)))
            return false;
    }
    if (!(*order = tensor(r, "train.order", st->rows, NULL)))
        return false;
    for (size_t i = 0; i < st->rows; i++) {
        float v = (*order)->data[i];
        if (!(v >= 0 && v < (float)st->rows && v == floorf(v)))
            return bad(r, "has a row order out of range");
    }
    *best = NULL;
    if (st->best && !(*best = tensor(r, "train.best", m->n_params, NULL)))
        return false;
    return true;
}

/* Everything checked: copies it into the model and the training. */
static void apply(RtModel *m, RtTrainState *st, const RtTrainState *got, const StTensor **model,
                  const StTensor **state, const StTensor *order, const StTensor *best,
                  double **logs)
{
    for (size_t k = 0; k < m->n_tensors; k++)
        memcpy(m->params + m->tensors[k].offset, model[k]->data, model[k]->count * sizeof(float));
    for (size_t k = 0; k < st->n_state; k++)
        memcpy(st->opt_state[k], state[k]->data, m->n_params * sizeof(float));
    for (size_t i = 0; i < st->rows; i++)
        st->order[i] = (size_t)order->data[i];
    if (best)
        memcpy(st->best, best->data, m->n_params * sizeof(float));
    for (int k = 0; k < LOG_KINDS; k++)
        if (st->logs[k])
            memcpy(st->logs[k], logs[k], got->n_log * sizeof(double));
    st->epoch = got->epoch, st->step = got->step, st->finished = got->finished;
    st->loss = got->loss, st->rng = got->rng, st->n_log = got->n_log;
    st->best_epoch = got->best_epoch, st->best_valid = got->best_valid;
}

static bool load_checked(const Reader *r, RtModel *m, const IrTrain *t, RtTrainState *st,
                         const StTensor **found, double **logs)
{
    RtTrainState got = *st;
    const StTensor **state = found + m->n_tensors, *order, *best;
    if (!check_checksum(r) || !check_identity(r, t, st) ||
        !find_tensors(r, m, st, found, state, &order, &best) || !check_size(r, m) ||
        !read_progress(r, &got) || !read_logs(r, &got, logs))
        return false;
    apply(m, st, &got, found, state, order, best, logs);
    return true;
}

bool rt_checkpoint_load(RtModel *m, const IrTrain *t, const char *path, RtTrainState *st,
                        Diag *d)
{
    StFile f;
    if (!st_read(d, path, &f))
        return false;
    Reader r = {&f, path, d, t->loc};
    const StTensor **found = calloc(m->n_tensors + st->n_state + 1, sizeof *found);
    double *logs[LOG_KINDS] = {0};
    bool ok = found ? load_checked(&r, m, t, st, found, logs) : bad(&r, "is too large for memory");
    for (int k = 0; k < LOG_KINDS; k++)
        free(logs[k]);
    free(found);
    st_free(&f);
    return ok;
}
