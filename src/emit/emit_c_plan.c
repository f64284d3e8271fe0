/* The emitted forward pass's memory, planned from the IR alone (the
 * runtime's plan.c does the same for evaluation, but the emitter never sees
 * the runtime). A value is written once, by the node that computes it, and
 * then read; elementwise ops and add overwrite their input when nothing
 * reads it afterwards, and flatten, dropout, identity and a folded
 * batchnorm are the same value under another name. Such values form one
 * storage group, live from its first write to its last read. Groups whose
 * lives do not overlap share a static buffer (best fit, largest value
 * first served), so RAM is the most the live values ever need at once up to
 * fragmentation: for a chain, the largest input plus output of one layer.
 * The model's input stays in the caller's `in` (read only), and the group
 * of the final value is written straight into the caller's `out`. */
#include <string.h>

#include "c_emit.h"

/* What an op does to memory. */
typedef enum COpClass {
    CLASS_ALIAS,       /* no code at inference: the input's value */
    CLASS_ELEMENTWISE, /* one input, same size: may overwrite it */
    CLASS_ADD,         /* several inputs, same size: may overwrite one */
    CLASS_WRITES,      /* a new value of its own */
} COpClass;

static COpClass op_class(OpKind k)
{
    switch (k) {
    case OP_DROPOUT:
    case OP_IDENTITY:
    case OP_FLATTEN: return CLASS_ALIAS;
    case OP_STEP:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_LEAKY_RELU:
    case OP_GELU:
    case OP_SILU:
    case OP_ELU:
    case OP_SOFTPLUS:
    case OP_HARDSWISH:
    case OP_HARDSIGMOID:
    case OP_SOFTMAX:
    case OP_BATCHNORM: return CLASS_ELEMENTWISE;
    case OP_ADD: return CLASS_ADD;
    case OP_INPUT:
    case OP_DENSE:
    case OP_CONV1D:
    case OP_CONV2D:
    case OP_MAXPOOL1D:
    case OP_MAXPOOL2D:
    case OP_AVGPOOL1D:
    case OP_AVGPOOL2D:
    case OP_GLOBAL_AVGPOOL:
    case OP_GLOBAL_MAXPOOL:
    case OP_CONCAT: return CLASS_WRITES;
    }
    return CLASS_WRITES;
}

static bool has_weights_to_fold_into(OpKind k)
{
    return k == OP_DENSE || k == OP_CONV1D || k == OP_CONV2D;
}

/* last[i]: the last node reading i's value (n: the caller reads it after
 * the pass); readers[i]: how many reads. */
static void plan_reads(const IrModel *m, size_t *last, size_t *readers)
{
    size_t n = m->n_nodes;
    for (size_t i = 0; i < n; i++)
        last[i] = i, readers[i] = 0;
    for (size_t i = 1; i < n; i++)
        for (size_t k = 0; k < m->nodes[i].n_inputs; k++) {
            size_t in = m->nodes[i].inputs[k];
            last[in] = i;
            readers[in]++;
        }
    last[n - 1] = n;
}

/* A batchnorm folds into the dense or conv it reads when nothing else reads
 * that layer's output (and it is not the model's output). */
static void plan_folds(const IrModel *m, const size_t *readers, CPlan *p)
{
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        if (n->op != OP_BATCHNORM)
            continue;
        size_t src = n->inputs[0];
        if (has_weights_to_fold_into(m->nodes[src].op) && readers[src] == 1 && !p->fold[src]) {
            p->fold[src] = i;
            p->kind[i] = NODE_ALIAS;
        }
    }
}

/* The group of an input node i may overwrite: its storage is not the
 * caller's input and nothing reads any of its values after node i. */
static bool may_overwrite(const size_t *glast, size_t group, size_t i)
{
    return group != 0 && glast[group] == i;
}

static void join(CPlan *p, size_t *glast, size_t i, size_t group, const size_t *last)
{
    p->group[i] = group;
    glast[group] = last[i] > glast[group] ? last[i] : glast[group];
}

/* Storage groups: each node starts one or joins an input's. */
static void plan_groups(const IrModel *m, const size_t *last, size_t *glast, CPlan *p)
{
    p->group[0] = 0;
    glast[0] = last[0];
    for (size_t i = 1; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        COpClass cls = p->kind[i] == NODE_ALIAS ? CLASS_ALIAS : op_class(n->op);
        if (cls == CLASS_ALIAS) {
            join(p, glast, i, p->group[n->inputs[0]], last);
            continue;
        }
        if (cls == CLASS_ELEMENTWISE || cls == CLASS_ADD) {
            size_t k = 0;
            for (; k < n->n_inputs; k++)
                if (may_overwrite(glast, p->group[n->inputs[k]], i))
                    break;
            if (k < n->n_inputs && (cls == CLASS_ADD || k == 0)) {
                p->kind[i] = NODE_IN_PLACE;
                join(p, glast, i, p->group[n->inputs[k]], last);
                continue;
            }
        }
        p->kind[i] = NODE_WRITES;
        p->group[i] = i;
        glast[i] = last[i];
    }
}

/* The free buffer that fits units best: the smallest that holds it, else
 * the largest (which grows); n_bufs when none is free at node i. */
static size_t best_buffer(const CPlan *p, const size_t *busy_until, size_t i, size_t units)
{
    size_t best = p->n_bufs;
    for (size_t b = 0; b < p->n_bufs; b++) {
        if (busy_until[b] >= i)
            continue;
        if (best == p->n_bufs) {
            best = b;
            continue;
        }
        bool fits = p->buf_units[b] >= units, best_fits = p->buf_units[best] >= units;
        if (fits ? !best_fits || p->buf_units[b] < p->buf_units[best]
                 : !best_fits && p->buf_units[b] > p->buf_units[best])
            best = b;
    }
    return best;
}

/* Buffers for the groups, in the order they start. */
static void plan_buffers(const IrModel *m, const size_t *glast, size_t *busy_until, CPlan *p)
{
    p->n_bufs = 0;
    for (size_t i = 1; i < m->n_nodes; i++) {
        if (p->group[i] != i || p->store[i] == STORE_OUT)
            continue;
        size_t units = m->nodes[i].units;
        size_t b = best_buffer(p, busy_until, i, units);
        if (b == p->n_bufs)
            p->buf_units[p->n_bufs++] = 0;
        if (p->buf_units[b] < units)
            p->buf_units[b] = units;
        busy_until[b] = glast[i];
        p->store[i] = STORE_BUF;
        p->buf[i] = b;
    }
}

bool c_plan(Arena *a, const IrModel *m, bool fold, CPlan *p)
{
    size_t n = m->n_nodes;
    size_t *work = arena_array(a, 4 * n, sizeof(size_t));
    p->kind = arena_array(a, n, sizeof *p->kind);
    p->group = arena_array(a, n, sizeof *p->group);
    p->store = arena_array(a, n, sizeof *p->store);
    p->buf = arena_array(a, n, sizeof *p->buf);
    p->fold = arena_array(a, n, sizeof *p->fold);
    p->buf_units = arena_array(a, n, sizeof *p->buf_units);
    if (!work || !p->kind || !p->group || !p->store || !p->buf || !p->fold || !p->buf_units)
        return false;
    size_t *last = work, *readers = work + n, *glast = work + 2 * n, *busy = work + 3 * n;
    for (size_t i = 0; i < n; i++) {
        p->kind[i] = NODE_WRITES;
        p->fold[i] = 0;
        p->store[i] = STORE_BUF;
        p->buf[i] = 0;
    }
    plan_reads(m, last, readers);
    if (fold)
        plan_folds(m, readers, p);
    plan_groups(m, last, glast, p);
    p->store[0] = STORE_IN;
    if (p->group[n - 1] != 0)
        p->store[p->group[n - 1]] = STORE_OUT;
    plan_buffers(m, glast, busy, p);
    return true;
}

size_t c_plan_ram_floats(const CPlan *p)
{
    size_t sum = 0;
    for (size_t b = 0; b < p->n_bufs; b++)
        sum += p->buf_units[b];
    return sum;
}

void c_value_array(const Emitter *e, size_t i, char *buf, size_t size)
{
    size_t g = e->plan.group[i];
    switch (e->plan.store[g]) {
    case STORE_IN: snprintf(buf, size, "in"); break;
    case STORE_OUT: snprintf(buf, size, "out"); break;
    case STORE_BUF: snprintf(buf, size, "%s_buf%zu", e->o->prefix, e->plan.buf[g]); break;
    }
}
