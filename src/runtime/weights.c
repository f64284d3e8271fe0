/* Weights files: a model's dense parameters to and from safetensors, with
 * the keys and shapes of PyTorch's nn.Linear (LAYER.weight [out, in],
 * LAYER.bias [out]) so a state_dict of the same module loads them. */
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

/* Checks one expected tensor: present, with the given shape (rows = 0 for a
 * vector of cols). Copies it into dst when it fits. */
static bool load_tensor(const StFile *f, const char *path, const char *key, size_t rows,
                        size_t cols, float *dst, Diag *d)
{
    const StTensor *t = st_find(f, key);
    if (!t) {
        diag_error(d, loc_none(), "%s: missing tensor '%s'", path, key);
        return false;
    }
    bool fits = rows ? t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols
                     : t->ndim == 1 && t->shape[0] == cols;
    if (!fits) {
        char got[128];
        tensor_shape_text(t, got, sizeof got);
        if (rows)
            diag_error(d, loc_none(), "%s: tensor '%s' has shape %s, expected [%zu, %zu]", path,
                       key, got, rows, cols);
        else
            diag_error(d, loc_none(), "%s: tensor '%s' has shape %s, expected [%zu]", path, key,
                       got, cols);
        return false;
    }
    memcpy(dst, t->data, t->count * sizeof(float));
    return true;
}

/* A tensor the model has no place for is an error, as in PyTorch's strict
 * load_state_dict: it usually means the wrong file or a renamed layer. */
static bool check_unexpected(const StFile *f, const IrModel *m, const char *path, Diag *d)
{
    bool ok = true;
    char key[KEY_MAX];
    for (size_t t = 0; t < f->n; t++) {
        bool known = false;
        for (size_t i = 0; i < m->n_nodes && !known; i++) {
            if (m->nodes[i].op != OP_DENSE)
                continue;
            snprintf(key, sizeof key, "%s.weight", m->nodes[i].name);
            known = strcmp(key, f->tensors[t].name) == 0;
            snprintf(key, sizeof key, "%s.bias", m->nodes[i].name);
            known = known || strcmp(key, f->tensors[t].name) == 0;
        }
        if (!known) {
            diag_error(d, loc_none(), "%s: unexpected tensor '%s': model '%s' has no such parameter",
                       path, f->tensors[t].name, m->name);
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
    const IrModel *ir = m->ir;
    bool ok = check_unexpected(&f, ir, path, d);
    char key[KEY_MAX];
    for (size_t i = 0; i < ir->n_nodes; i++) {
        const IrNode *n = &ir->nodes[i];
        if (n->op != OP_DENSE)
            continue;
        float *w = m->params + m->offset[i];
        snprintf(key, sizeof key, "%s.weight", n->name);
        ok &= load_tensor(&f, path, key, n->units, n->in_units, w, d);
        snprintf(key, sizeof key, "%s.bias", n->name);
        ok &= load_tensor(&f, path, key, 0, n->units, w + n->units * n->in_units, d);
    }
    st_free(&f);
    return ok;
}

bool rt_weights_save(const RtSession *s, size_t model, const char *path, Diag *d)
{
    const RtModel *m = &s->models[model];
    const IrModel *ir = m->ir;
    StTensor *t = calloc(2 * ir->n_nodes + 1, sizeof *t);
    char *keys = calloc(2 * ir->n_nodes + 1, KEY_MAX);
    if (!t || !keys) {
        free(t);
        free(keys);
        diag_error(d, loc_none(), "out of memory writing '%s'", path);
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < ir->n_nodes; i++) {
        const IrNode *node = &ir->nodes[i];
        if (node->op != OP_DENSE)
            continue;
        float *w = m->params + m->offset[i];
        t[n] = (StTensor){keys + n * KEY_MAX, 2, {node->units, node->in_units},
                          node->units * node->in_units, w};
        snprintf(t[n].name, KEY_MAX, "%s.weight", node->name);
        n++;
        t[n] = (StTensor){keys + n * KEY_MAX, 1, {node->units}, node->units,
                          w + node->units * node->in_units};
        snprintf(t[n].name, KEY_MAX, "%s.bias", node->name);
        n++;
    }
    bool ok = st_write(d, path, t, n);
    free(t);
    free(keys);
    return ok;
}
