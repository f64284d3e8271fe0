/* The C emitter: one standalone C99 file per model, the forward pass
 * written out for its fixed sizes, the weights as static const arrays
 * (shortest decimals that round-trip exactly), the activations in static
 * buffers planned by liveness (emit_c_plan.c), no heap, nothing but
 * <math.h>. The expressions mirror the runtime's (same order of summation,
 * same formulas: emit_c_ops.c), so a program built from this file
 * reproduces `nnc run` bit for bit when both are compiled without FMA
 * contraction, except where a batchnorm is folded into weights. This file:
 * the public entry points, the comment header, the API, preprocessing. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "c_emit.h"
#include "nnc/version.h"

void c_put(Emitter *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(e->out, fmt, ap);
    va_end(ap);
}

const char *emit_default_prefix(Arena *a, const IrModel *m)
{
    char *p = arena_strdup(a, m->name);
    if (!p)
        return "model";
    for (char *c = p; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return p;
}

bool emit_is_classifier(const IrModel *m)
{
    if (m->out_units > 1 || m->logit_output)
        return true;
    OpKind last = m->nodes[m->n_nodes - 1].op;
    return last == OP_SIGMOID || last == OP_STEP;
}

/* A float as the shortest decimal literal that reads back as exactly the
 * same float (at most 9 significant digits always do), so hand-set weights
 * stay readable (1.0f, -0.5f) and trained ones lose nothing. */
void c_put_float(Emitter *e, float v)
{
    /* Round-tripping is monotone in the digit count (more correctly rounded
     * digits are never farther away), so the shortest count is found by
     * bisection: about 4 conversions instead of up to 9 (large models). */
    char buf[32];
    int lo = 1, hi = 9;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(buf, sizeof buf, "%.*g", mid, (double)v);
        if (strtof(buf, NULL) == v)
            hi = mid;
        else
            lo = mid + 1;
    }
    snprintf(buf, sizeof buf, "%.*g", lo, (double)v);
    bool is_integer = !strpbrk(buf, ".e");
    c_put(e, "%s%sf", buf, is_integer ? ".0" : "");
}

const float *emit_param(const EmitWeights *w, const IrModel *m, size_t i, size_t k)
{
    IrParam ps[IR_MAX_PARAMS];
    ir_node_params(&m->nodes[i], ps);
    const float *p = w->params[i];
    for (size_t j = 0; j < k; j++)
        p += ir_shape_size(&ps[j].shape);
    return p;
}

bool emit_weights_finite(const IrModel *m, const EmitWeights *w, const char **bad_layer)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        size_t count;
        if (!ir_node_param_count(&m->nodes[i], &count))
            count = 0;
        for (size_t k = 0; k < count; k++) {
            if (!isfinite(w->params[i][k])) {
                *bad_layer = m->nodes[i].name;
                return false;
            }
        }
    }
    return true;
}

/* The identifier of a node in C: '.' in names like "layer1.relu" is not
 * allowed there. */
void c_node_ident(const IrNode *n, char *buf, size_t size)
{
    snprintf(buf, size, "%s", n->name);
    for (char *c = buf; *c; c++)
        if (!isalnum((unsigned char)*c))
            *c = '_';
}

/* The emitted loops count and index with int: every array (a value, a
 * weight tensor) must be indexable by a 32-bit int. */
#define C_MAX_ELEMENTS ((size_t)INT_MAX)

const IrNode *emit_c_refusal(const IrModel *m, char *why, size_t size)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const IrNode *n = &m->nodes[i];
        char shape[64];
        size_t params = 0;
        if (n->units > C_MAX_ELEMENTS) {
            snprintf(why, size, "its output %s has %zu values, more than the emitted C's int "
                     "indices reach (%zu)", ir_shape_text(&n->shape, shape, sizeof shape),
                     n->units, C_MAX_ELEMENTS);
            return n;
        }
        if (!ir_node_param_count(n, &params) || params > C_MAX_ELEMENTS) {
            snprintf(why, size, "its parameters (%zu values) are more than one C array "
                     "indexed by int holds (%zu)", params, C_MAX_ELEMENTS);
            return n;
        }
    }
    return NULL;
}

static size_t count_op(const IrModel *m, OpKind op)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_nodes; i++)
        n += m->nodes[i].op == op;
    return n;
}

static size_t ram_bytes(const Emitter *e)
{
    return c_plan_ram_floats(&e->plan) * sizeof(float);
}

/* What the model's outputs mean, for the comment header. */
static const char *output_meaning(const IrModel *m)
{
    OpKind last = m->nodes[m->n_nodes - 1].op;
    if (last == OP_SOFTMAX)
        return "class probabilities (softmax)";
    if (m->logit_output)
        return "a logit: class 1 when > 0";
    if (m->out_units > 1)
        return "class scores (logits: the largest is the class; softmax gives probabilities)";
    if (last == OP_SIGMOID)
        return "a probability: class 1 when > 0.5";
    if (last == OP_STEP)
        return "0 or 1, the class";
    return "the predicted value";
}

/* How the input vector is laid out when the model reads a tensor. */
static void describe_layout(Emitter *e)
{
    const IrShape *s = &e->m->nodes[0].shape;
    char text[64];
    if (s->rank == 2)
        c_put(e, " *   The input %s is flattened channel by channel: in[c * %zu + l].\n",
             ir_shape_text(s, text, sizeof text), s->dim[1]);
    if (s->rank == 3)
        c_put(e, " *   The input %s is flattened channel by channel, row by row: "
                "in[c * %zu + h * %zu + w].\n", ir_shape_text(s, text, sizeof text),
             s->dim[1] * s->dim[2], s->dim[2]);
}

/* Exactly what NAME_preprocess takes and gives. */
static void describe_preprocess(Emitter *e)
{
    const IrDataSource *d = e->o->preprocess;
    const char *p = e->o->prefix;
    if (!d) {
        c_put(e, " * %s_preprocess(raw, in): copies raw to in. No train block trains this "
                "model, so no dataset says how its inputs were scaled: in is used as given.\n", p);
        return;
    }
    c_put(e, " * %s_preprocess(raw, in): raw = one row of dataset %s's features as written ",
         p, d->name);
    if (d->csv)
        c_put(e, "in %s (its %zu feature columns in file order, the target column left out)",
             d->csv, d->x_cols);
    else
        c_put(e, "in its x (%zu values)", d->x_cols);
    c_put(e, ";\n *   in = what %s_forward takes, as nnc trained and evaluated it: ", p);
    if (!d->has_scale && d->normalize == NORM_NONE)
        c_put(e, "raw itself (the dataset has no scale or normalize).\n");
    if (d->has_scale)
        c_put(e, "raw * %.17g (scale)%s", d->scale, d->normalize == NORM_NONE ? ".\n" : ", then ");
    if (d->normalize != NORM_NONE)
        c_put(e, "(x - shift[j]) / div[j] per column (normalize = %s, statistics of the "
                "training rows; a constant column becomes 0).\n",
             d->normalize == NORM_STANDARD ? "standard: mean and standard deviation"
                                           : "minmax: minimum and range");
    c_put(e, " *   raw and in may be the same array.\n");
}

static void emit_comment_header(Emitter *e)
{
    const IrModel *m = e->m;
    const char *p = e->o->prefix;
    c_put(e, "/* %s: model %s, generated by nnc %s from %s.\n", p, m->name, NNC_VERSION,
         e->o->source_name ? e->o->source_name : "(unknown)");
    size_t weighted = count_op(m, OP_DENSE) + count_op(m, OP_CONV1D) + count_op(m, OP_CONV2D);
    c_put(e, " * %zu input%s -> %zu output%s, %zu parameters in %zu layer%s with weights.\n",
         m->in_units, m->in_units == 1 ? "" : "s", m->out_units, m->out_units == 1 ? "" : "s",
         m->n_params, weighted, weighted == 1 ? "" : "s");
    c_put(e, " * Weights: %s.\n", e->o->weights_origin ? e->o->weights_origin : "given");
    c_put(e, " * Layers:");
    for (size_t i = 1; i < m->n_nodes; i++)
        c_put(e, "%s %s(%s)", i > 1 ? "," : "", m->nodes[i].name, ir_ops[m->nodes[i].op].name);
    c_put(e, ".\n");
    describe_preprocess(e);
    c_put(e, " * %s_forward(in, out): in = %zu preprocessed features (%s_preprocess's "
            "output); out = %s.\n", p, m->in_units, p, output_meaning(m));
    describe_layout(e);
    c_put(e, " *   in and out must not overlap.%s\n", e->plan.n_bufs ? " Not reentrant: the "
         "activations live in static buffers." : "");
    c_put(e, " * RAM: %zu bytes of static activation buffers (%s_RAM_BYTES), planned by "
            "liveness,\n *   plus %s_forward's stack (a few scalars); in and out are the "
            "caller's.\n", ram_bytes(e), e->upper, p);
    c_put(e, " * Standalone C99: needs only <math.h> (link with -lm), no heap, int of 32 bits.\n");
    c_put(e, " * Build: cc -std=c99 -O2 -c %s.c */\n", p);
}

static void emit_constants(Emitter *e)
{
    c_put(e, "#define %s_IN %zu\n", e->upper, e->m->in_units);
    c_put(e, "#define %s_OUT %zu\n", e->upper, e->m->out_units);
    c_put(e, "#define %s_PARAMS %zu\n", e->upper, e->m->n_params);
    c_put(e, "#define %s_RAM_BYTES %zu\n", e->upper, ram_bytes(e));
}

static void emit_prototypes(Emitter *e)
{
    const char *p = e->o->prefix;
    c_put(e, "/* The training data's scale and normalize, applied to a raw row. */\n");
    c_put(e, "void %s_preprocess(const float raw[%s_IN], float in[%s_IN]);\n", p, e->upper,
         e->upper);
    c_put(e, "/* Runs the network on one preprocessed input row. */\n");
    c_put(e, "void %s_forward(const float in[%s_IN], float out[%s_OUT]);\n", p, e->upper,
         e->upper);
    if (emit_is_classifier(e->m)) {
        c_put(e, "/* The predicted class of a preprocessed row: %s. */\n",
             e->m->out_units > 1 ? "the index of the largest output"
             : e->m->logit_output ? "1 when the output (a logit) is > 0, else 0"
                                  : "1 when the output is > 0.5, else 0");
        c_put(e, "int %s_predict(const float in[%s_IN]);\n", p, e->upper);
    }
}

static void put_doubles(Emitter *e, const char *name, const double *v, size_t n)
{
    c_put(e, "static const double %s_%s[%zu] = {\n    ", e->o->prefix, name, n);
    for (size_t j = 0; j < n; j++)
        c_put(e, "%s%.17g", j ? (j % 4 ? ", " : ",\n    ") : "", v[j]);
    c_put(e, "\n};\n");
}

/* nnc's own steps (lower_data.c), in double as nnc computes them (or in
 * float where that rounds the same) and rounded to float where nnc stores
 * a float, so in[] is bit for bit what training and evaluation saw. */
void emit_preprocess(Emitter *e)
{
    const IrDataSource *d = e->o->preprocess;
    const char *p = e->o->prefix;
    bool norm = d && d->normalize != NORM_NONE && d->norm_shift && d->x_cols == e->m->in_units;
    if (norm) {
        c_put(e, "\n/* normalize's statistics, from the training rows: x' = (x - shift) / div "
                "(div 0: a constant column) */\n");
        put_doubles(e, "norm_shift", d->norm_shift, d->x_cols);
        put_doubles(e, "norm_div", d->norm_div, d->x_cols);
    }
    c_put(e, "\nvoid %s_preprocess(const float raw[%s_IN], float in[%s_IN])\n{\n", p, e->upper,
         e->upper);
    if (!norm && !(d && d->has_scale)) {
        c_put(e, "    for (int j = 0; j < %s_IN; j++)\n        in[j] = raw[j];\n}\n", e->upper);
        return;
    }
    c_put(e, "    for (int j = 0; j < %s_IN; j++) {\n", e->upper);
    if (d && d->has_scale && (double)(float)d->scale == d->scale) {
        /* a float scale: the product of two floats is exact in double, so
         * one float multiply rounds it the same (and needs no double) */
        c_put(e, "        float x = raw[j] * ");
        c_put_float(e, (float)d->scale);
        c_put(e, ";\n");
    } else if (d && d->has_scale) {
        c_put(e, "        float x = (float)((double)raw[j] * %.17g);\n", d->scale);
    } else
        c_put(e, "        float x = raw[j];\n");
    if (norm) {
        c_put(e, "        double v = (double)x;\n");
        c_put(e, "        in[j] = %s_norm_div[j] > 0.0 ? (float)((v - %s_norm_shift[j]) / "
                "%s_norm_div[j]) : 0.0f;\n", p, p, p);
    } else {
        c_put(e, "        in[j] = x;\n");
    }
    c_put(e, "    }\n}\n");
}

static void emit_buffers(Emitter *e)
{
    const CPlan *pl = &e->plan;
    if (!pl->n_bufs)
        return;
    c_put(e, "\n/* Activations: %zu static buffer%s, %zu bytes in all (%s_RAM_BYTES); values "
            "whose lives do not overlap share one. */\n", pl->n_bufs, pl->n_bufs == 1 ? "" : "s",
         ram_bytes(e), e->upper);
    for (size_t b = 0; b < pl->n_bufs; b++) {
        c_put(e, "static float %s_buf%zu[%zu]; /*", e->o->prefix, b, pl->buf_units[b]);
        for (size_t i = 1; i < e->m->n_nodes; i++)
            if (pl->group[i] == i && pl->store[i] == STORE_BUF && pl->buf[i] == b)
                c_put(e, " %s", e->m->nodes[i].name);
        c_put(e, " */\n");
    }
}

static void emit_forward(Emitter *e)
{
    const IrModel *m = e->m;
    c_put(e, "\nvoid %s_forward(const float in[%s_IN], float out[%s_OUT])\n{\n", e->o->prefix,
         e->upper, e->upper);
    for (size_t i = 1; i < m->n_nodes; i++)
        c_emit_node_code(e, i);
    if (e->plan.group[m->n_nodes - 1] == 0) /* the output is the input */
        c_put(e, "    for (int j = 0; j < %s_OUT; j++)\n        out[j] = in[j];\n", e->upper);
    c_put(e, "}\n");
}

static void emit_predict(Emitter *e)
{
    if (!emit_is_classifier(e->m))
        return;
    c_put(e, "\nint %s_predict(const float in[%s_IN])\n{\n", e->o->prefix, e->upper);
    c_put(e, "    float out[%s_OUT];\n    %s_forward(in, out);\n", e->upper, e->o->prefix);
    if (e->m->out_units == 1) {
        c_put(e, "    return out[0] > ");
        c_put_float(e, ir_binary_threshold(e->m));
        c_put(e, ";\n}\n");
        return;
    }
    c_put(e, "    int best = 0;\n    for (int j = 1; j < %s_OUT; j++)\n", e->upper);
    c_put(e, "        if (out[j] > out[best])\n            best = j;\n    return best;\n}\n");
}

/* A main() for trying the network from a shell: one comma-separated row of
 * preprocessed inputs per line on stdin, the outputs on stdout. Numbers are
 * read one at a time, so a row may be as long as the input is wide. */
static void emit_main(Emitter *e)
{
    const char *u = e->upper;
    c_put(e, "\n#include <stdio.h>\n\n");
    c_put(e, "static float main_in[%s_IN], main_out[%s_OUT];\n\n", u, u);
    c_put(e, "/* One row's outputs; false when the row has too few numbers. */\n");
    c_put(e, "static int main_row(int n)\n{\n");
    c_put(e, "    if (n < %s_IN) {\n", u);
    c_put(e, "        fprintf(stderr, \"expected %%d comma-separated numbers per line\\n\", "
             "%s_IN);\n        return 0;\n    }\n", u);
    c_put(e, "    %s_forward(main_in, main_out);\n", e->o->prefix);
    c_put(e, "    for (int j = 0; j < %s_OUT; j++)\n", u);
    c_put(e, "        printf(j ? \",%%.9g\" : \"%%.9g\", (double)main_out[j]);\n");
    c_put(e, "    putchar('\\n');\n    return 1;\n}\n\n");
    c_put(e, "int main(void)\n{\n    int n = 0, c;\n");
    c_put(e, "    while ((c = getchar()) != EOF) {\n");
    c_put(e, "        if (c == '\\n') {\n");
    c_put(e, "            if (n > 0 && !main_row(n))\n                return 1;\n");
    c_put(e, "            n = 0; /* a blank line is skipped */\n            continue;\n        }\n");
    c_put(e, "        if (c == ',' || c == ' ' || c == '\\t' || c == '\\r')\n            continue;\n");
    c_put(e, "        ungetc(c, stdin);\n");
    c_put(e, "        if (n == %s_IN || scanf(\"%%f\", &main_in[n]) != 1) {\n", u);
    c_put(e, "            fprintf(stderr, \"expected %%d comma-separated numbers per line\\n\", "
             "%s_IN);\n            return 1;\n        }\n        n++;\n    }\n", u);
    c_put(e, "    return n > 0 && !main_row(n);\n}\n");
}

static bool emitter_init(Emitter *e, Arena *a, FILE *out, const IrModel *m, const EmitWeights *w,
                         const EmitOptions *o)
{
    e->out = out;
    e->m = m;
    e->w = w;
    e->o = o;
    snprintf(e->upper, sizeof e->upper, "%s", o->prefix);
    for (char *c = e->upper; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return c_plan(a, m, !o->keep_batchnorm, &e->plan);
}

bool emit_c_header(FILE *out, const IrModel *m, const EmitOptions *o)
{
    Emitter e;
    Arena a;
    arena_init(&a);
    bool ok = emitter_init(&e, &a, out, m, NULL, o);
    if (ok) {
        emit_comment_header(&e);
        c_put(&e, "#ifndef %s_H\n#define %s_H\n\n", e.upper, e.upper);
        emit_constants(&e);
        c_put(&e, "\n");
        emit_prototypes(&e);
        c_put(&e, "\n#endif\n");
    }
    arena_free(&a);
    return ok && !ferror(out);
}

bool emit_c(FILE *out, const IrModel *m, const EmitWeights *w, const EmitOptions *o)
{
    Emitter e;
    Arena a;
    arena_init(&a);
    bool ok = emitter_init(&e, &a, out, m, w, o);
    if (ok) {
        emit_comment_header(&e);
        c_put(&e, "#include <math.h>\n");
        if (o->header_name) {
            c_put(&e, "#include \"%s\"\n", o->header_name);
        } else {
            c_put(&e, "\n");
            emit_constants(&e);
            c_put(&e, "\n");
            emit_prototypes(&e);
        }
        c_emit_helpers(&e);
        for (size_t i = 0; i < m->n_nodes; i++)
            c_emit_node_arrays(&e, i);
        emit_buffers(&e);
        emit_preprocess(&e);
        emit_forward(&e);
        emit_predict(&e);
        if (o->with_main)
            emit_main(&e);
    }
    arena_free(&a);
    return ok && !ferror(out);
}
