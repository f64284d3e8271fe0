/* Weights files: a model's parameter tensors to and from safetensors, keyed
 * NODE.suffix with the shapes the ops declare, which are PyTorch's
 * (nn.Linear: LAYER.weight [out, in], LAYER.bias [out]), so a state_dict of
 * the same module loads them. */
#include <stdlib.h>
#include <string.h>

#include "nnc/safetensors.h"
#include "session.h"

enum { KEY_MAX = 512 };

static void tensor_shape_text(const StTensor *t, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", i ? ", " : "", t->shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static void decl_shape_text(const IrShape *sh, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < sh->rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", i ? ", " : "", sh->dim[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static void tensor_key(const RtModel *m, const RtParamTensor *pt, char *key)
{
    snprintf(key, KEY_MAX, "%s.%s", m->ir->nodes[pt->node].name, pt->decl.suffix);
}

char *rt_weights_key(const RtModel *m, const RtParamTensor *pt)
{
    char *key = malloc(KEY_MAX);
    if (key)
        tensor_key(m, pt, key);
    return key;
}

/* Checks one expected tensor: present, with its declared shape. Copies it
 * into dst when it fits. */
static bool load_tensor(const StFile *f, const char *path, const char *key, const IrShape *sh,
                        float *dst, Diag *d)
{
    const StTensor *t = st_find(f, key);
    if (!t) {
        diag_error(d, loc_none(), "%s: missing tensor '%s'", path, key);
        return false;
    }
    bool fits = t->ndim == sh->rank;
    for (size_t i = 0; fits && i < sh->rank; i++)
        fits = t->shape[i] == sh->dim[i];
    if (!fits) {
        char got[128], want[128];
        tensor_shape_text(t, got, sizeof got);
        decl_shape_text(sh, want, sizeof want);
        diag_error(d, loc_none(), "%s: tensor '%s' has shape %s, expected %s", path, key, got,
                   want);
        return false;
    }
    memcpy(dst, t->data, t->count * sizeof(float));
    return true;
}

/* A tensor the model has no place for is an error, as in PyTorch's strict
 * load_state_dict: it usually means the wrong file or a renamed layer. */
static bool check_unexpected(const StFile *f, const RtModel *m, const char *path, Diag *d)
{
    bool ok = true;
    char key[KEY_MAX];
    for (size_t t = 0; t < f->n; t++) {
        bool known = false;
        for (size_t k = 0; k < m->n_tensors && !known; k++) {
            tensor_key(m, &m->tensors[k], key);
            known = strcmp(key, f->tensors[t].name) == 0;
        }
        if (!known) {
            diag_error(d, loc_none(), "%s: unexpected tensor '%s': model '%s' has no such parameter",
                       path, f->tensors[t].name, m->ir->name);
            ok = false;
        }
    }
    return ok;
}

bool rt_weights_load(RtSession *s, size_t model, const char *path, Diag *d)
{
    StFile f;
    if (!st_read(d, path, &f))
        return false;
    RtModel *m = &s->models[model];
    bool ok = check_unexpected(&f, m, path, d);
    char key[KEY_MAX];
    for (size_t k = 0; k < m->n_tensors; k++) {
        const RtParamTensor *pt = &m->tensors[k];
        tensor_key(m, pt, key);
        ok &= load_tensor(&f, path, key, &pt->decl.shape, m->params + pt->offset, d);
    }
    st_free(&f);
    return ok;
}

bool rt_weights_save(const RtSession *s, size_t model, const char *path, Diag *d)
{
    const RtModel *m = &s->models[model];
    StTensor *t = calloc(m->n_tensors + 1, sizeof *t);
    char *keys = calloc(m->n_tensors + 1, KEY_MAX);
    if (!t || !keys) {
        free(t);
        free(keys);
        diag_error(d, loc_none(), "out of memory writing '%s'", path);
        return false;
    }
    for (size_t k = 0; k < m->n_tensors; k++) {
        const RtParamTensor *pt = &m->tensors[k];
        t[k] = (StTensor){keys + k * KEY_MAX, pt->decl.shape.rank, {0}, pt->size,
                          m->params + pt->offset};
        for (size_t i = 0; i < pt->decl.shape.rank; i++)
            t[k].shape[i] = pt->decl.shape.dim[i];
        tensor_key(m, pt, t[k].name);
    }
    bool ok = st_write(d, path, t, m->n_tensors);
    free(t);
    free(keys);
    return ok;
}
