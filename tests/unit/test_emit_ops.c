/* Every op kind through every emitter: a one-layer model of each kind is
 * written as C, as ONNX and as a PyTorch package. The loop runs over the
 * kinds, so a new op cannot skip it; the build already refuses an emitter
 * whose switch misses a kind, this checks that what it writes is the op:
 * no "identity" stand-in, ONNX nodes that decode, a forward that uses it. */
#include <limits.h>
#include <unistd.h>

#include "nnc/emit.h"
#include "nnc/runtime.h"
#include "onnx/onnx.pb-c.h"
#include "support.h"

/* "l: EXAMPLE", the kind's own example call (add and concat read two
 * layers a and b above); NULL for OP_INPUT. */
static const char *layer_line(OpKind k, char *buf, size_t size)
{
    const OpInfo *op = &ir_ops[k];
    if (op->named_inputs)
        snprintf(buf, size, "a: relu\n  b: tanh\n  l: %s", op->example);
    else
        snprintf(buf, size, "l: %s", op->example);
    return k == OP_INPUT ? NULL : buf;
}

/* The first input shape (a vector, a sequence, an image) the kind's line
 * accepts, with a flatten after it so the model ends in a vector: the
 * program, compiled, or NULL. */
static IrProgram *compile_kind(Run *r, OpKind k, const char *line)
{
    static const char *const inputs[] = {"3", "[2, 6]", "[2, 6, 6]"};
    for (size_t i = 0; i < 3; i++) {
        char text[1024], row[512] = "[";
        size_t n = i == 0 ? 3 : i == 1 ? 12 : 72;
        for (size_t v = 0; v < n; v++)
            snprintf(row + strlen(row), sizeof row - strlen(row), "%s%g", v ? ", " : "",
                     (double)v * 0.25 - 1);
        strcat(row, "]");
        snprintf(text, sizeof text, "dataset d { x = [%s] }\nmodel M {\n  input %s\n  %s%s\n}\n"
                 "evaluate M on d\n", row, inputs[i], line,
                 k == OP_FLATTEN || ir_ops[k].named_inputs ? "" : i ? "\n  flatten" : "");
        IrProgram *p = run_compile(r, text);
        if (p)
            return p;
        run_end(r);
    }
    return NULL;
}
static char *emit_to_string(const IrModel *m, const EmitWeights *w, bool onnx, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_not_null(f);
    EmitOptions o = {.prefix = "m", .source_name = "t.nn", .weights_origin = "test"};
    cr_assert(onnx ? emit_onnx(f, m, w, &o) : emit_c(f, m, w, &o));
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* The C text applies node 1 (or, for ops that are the identity at
 * inference, says so). */
static void check_c(OpKind k, const IrModel *m, const EmitWeights *w)
{
    size_t len;
    char *c = emit_to_string(m, w, false, &len);
    bool passthrough = k == OP_DROPOUT || k == OP_IDENTITY || k == OP_FLATTEN;
    cr_expect(strstr(c, "/* l: ") || strstr(c, "/* l."), "%s: no code for the node:\n%s",
              ir_ops[k].name, c);
    const char *forward = strstr(c, "_forward(const float in");
    forward = forward ? strstr(forward + 1, "_forward(const float in") : NULL;
    cr_assert_not_null(forward, "%s: no forward function:\n%s", ir_ops[k].name, c);
    const char *line = strstr(forward, "/* l: ");
    cr_assert_not_null(line, "%s: the node has no comment in forward:\n%s", ir_ops[k].name, forward);
    const char *no_code = strstr(line, "(no code at inference)");
    cr_expect(passthrough == (no_code && no_code < strchr(line, '\n')),
              "%s: pass-through or its absence is wrong:\n%s", ir_ops[k].name, forward);
    free(c);
}

/* The ONNX bytes decode, and the last node writes the graph's output. */
static void check_onnx(OpKind k, const IrModel *m, const EmitWeights *w)
{
    size_t len;
    char *bytes = emit_to_string(m, w, true, &len);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)bytes);
    free(bytes);
    cr_assert_not_null(mp, "%s: the ONNX bytes do not decode", ir_ops[k].name);
    Onnx__GraphProto *g = mp->graph;
    cr_assert(g && g->n_node >= 1, "%s: no ONNX node", ir_ops[k].name);
    cr_expect_str_eq(g->node[g->n_node - 1]->output[0], "output", "%s", ir_ops[k].name);
    bool named = false; /* the kind's node is written, under the layer's name */
    for (size_t i = 0; i < g->n_node; i++)
        named |= strcmp(g->node[i]->name, "l") == 0 || strncmp(g->node[i]->name, "l.", 2) == 0;
    cr_expect(named, "%s: no ONNX node named l", ir_ops[k].name);
    onnx__model_proto__free_unpacked(mp, NULL);
}

/* Where the int8 path quantizes the model: --target onnx --quantize int8
 * does not refuse it, its QDQ bytes decode, end in the int8 "output", and
 * write the layer under its name unless it is an alias (dropout, identity:
 * no node). */
static void check_onnx_int8(OpKind k, RtSession *s, const IrModel *m, Diag *d)
{
    char why[256];
    if (q8_refusal(m, why, sizeof why))
        return;
    cr_expect_null(emit_onnx_int8_refusal(m), "%s: --target onnx --quantize int8 refuses it",
                   ir_ops[k].name);
    Arena a;
    arena_init(&a);
    QModel q;
    cr_assert(rt_quantize(s, 0, NULL, &a, &q, d), "%s", ir_ops[k].name);
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    EmitOptions o = {.prefix = "m", .source_name = "t.nn", .weights_origin = "test"};
    cr_assert(emit_onnx_int8(f, &q, &o), "%s", ir_ops[k].name);
    cr_assert_eq(fclose(f), 0);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
    free(buf);
    cr_assert(mp && mp->graph && mp->graph->n_node >= 1, "%s: the int8 ONNX bytes do not decode",
              ir_ops[k].name);
    const Onnx__GraphProto *g = mp->graph;
    bool writes_output = false, named = false;
    for (size_t i = 0; i < g->n_node; i++) {
        writes_output |= strcmp(g->node[i]->output[0], "output") == 0;
        named |= strcmp(g->node[i]->name, "l") == 0 || strncmp(g->node[i]->name, "l.", 2) == 0;
    }
    size_t l = 0;
    while (strcmp(m->nodes[l].name, "l") != 0)
        l++;
    bool alias = q.nodes[l].kind == Q_ALIAS && k != OP_FLATTEN;
    cr_expect(writes_output, "%s: no int8 node writes the output", ir_ops[k].name);
    cr_expect(named != alias, "%s: int8 ONNX node named l %s", ir_ops[k].name,
              alias ? "for an alias" : "missing");
    onnx__model_proto__free_unpacked(mp, NULL);
    arena_free(&a);
}

/* model.py's forward mentions the node (a module or a function call) unless
 * the op is the identity. */
static void check_pytorch(OpKind k, const IrProgram *p, Diag *d)
{
    char tmp[] = "/tmp/nnc-emit-ops-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    char dir[64], path[96], cmd[96];
    snprintf(dir, sizeof dir, "%s/pkg", tmp);
    EmitPytorchOptions o = {.dir = dir, .source_name = "t.nn"};
    cr_assert(emit_pytorch(p, 0, &o, d), "%s", ir_ops[k].name);
    snprintf(path, sizeof path, "%s/model.py", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    const char *forward = strstr(text, "def forward");
    cr_assert_not_null(forward);
    bool applied = strstr(forward, "self.l(") || strstr(forward, "(x") != NULL;
    cr_expect(k == OP_IDENTITY || (applied && strstr(forward, "x = ")),
              "%s: forward does not apply the op:\n%s", ir_ops[k].name, forward);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_expect_eq(system(cmd), 0);
}

Test(emit_ops, every_kind_through_every_emitter)
{
    for (int k = 0; k < OP_COUNT; k++) {
        char line[128];
        if (!layer_line((OpKind)k, line, sizeof line))
            continue;
        Run r;
        IrProgram *p = compile_kind(&r, (OpKind)k, line);
        cr_assert_not_null(p, "%s: no input shape fits '%s'", ir_ops[k].name, line);
        const IrModel *m = &p->models[0];
        RtOptions opt = {.quiet = true};
        RtSession *s = rt_session_new(p, &opt, &r.diag);
        cr_assert_not_null(s);
        const float *params[8] = {0};
        cr_assert(m->n_nodes <= 8);
        for (size_t i = 0; i < m->n_nodes; i++)
            params[i] = rt_node_params(s, 0, i);
        EmitWeights w = {params};
        char why[256];
        cr_expect_null(emit_c_refusal(m, why, sizeof why), "%s: --target c refuses it", ir_ops[k].name);
        cr_expect_null(emit_onnx_unsupported(m, why, sizeof why), "%s: --target onnx refuses it",
                       ir_ops[k].name);
        check_c((OpKind)k, m, &w);
        check_onnx((OpKind)k, m, &w);
        check_pytorch((OpKind)k, p, &r.diag);
        check_onnx_int8((OpKind)k, s, m, &r.diag);
        rt_session_free(s);
        run_end(&r);
    }
}

/* --target c refuses, by node, an array its int indices cannot reach: a
 * model built by hand, past what the front end lets through today. */
Test(emit_ops, c_refuses_arrays_beyond_int)
{
    IrNode nodes[2] = {
        {.op = OP_INPUT, .name = "input", .layer = "input", .shape = {1, {4}}, .units = 4},
        {.op = OP_FLATTEN, .name = "wide", .layer = "wide", .n_inputs = 1,
         .shape = {1, {(size_t)INT_MAX + 1}}, .units = (size_t)INT_MAX + 1, .in_units = 4},
    };
    size_t in0 = 0;
    nodes[1].inputs = &in0;
    IrModel m = {.name = "m", .nodes = nodes, .n_nodes = 2, .in_units = 4,
                 .out_units = (size_t)INT_MAX + 1};
    char why[256];
    const IrNode *bad = emit_c_refusal(&m, why, sizeof why);
    cr_assert_eq(bad, &nodes[1]);
    cr_expect(strstr(why, "2147483648 values") != NULL, "%s", why);
    nodes[1].units = nodes[1].shape.dim[0] = 4;
    cr_expect_null(emit_c_refusal(&m, why, sizeof why));
}
