/* Hover: a layer's kind, shapes and parameters; a dataset's rows, features
 * and classes; a model's print(model) summary (ir_model_summary, the one
 * `nnc run` prints). When the declaration has errors the hover says so
 * instead of guessing. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

static void put_shape(FILE *f, const IrShape *s)
{
    fputc('[', f);
    for (size_t d = 0; d < s->rank; d++)
        fprintf(f, "%s%zu", d ? ", " : "", s->dim[d]);
    fputc(']', f);
}

/* The line as the lowering understood it: "dense 4, relu". */
static void put_layer_kind(FILE *f, const IrNode *nodes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const IrNode *n = &nodes[i];
        fprintf(f, "%s%s", i ? ", " : "", ir_ops[n->op].name);
        switch (n->op) {
        case OP_INPUT: {
            char buf[96];
            if (n->shape.rank == 1)
                fprintf(f, " %zu", n->units);
            else
                fprintf(f, " %s", ir_shape_text(&n->shape, buf, sizeof buf));
            break;
        }
        case OP_DENSE: fprintf(f, " %zu", n->cfg.dense.units); break;
        case OP_DROPOUT: fprintf(f, " %g", n->cfg.dropout.p); break;
        case OP_LEAKY_RELU: fprintf(f, " %g", n->cfg.leaky_relu.slope); break;
        case OP_ELU: fprintf(f, " %g", n->cfg.elu.alpha); break;
        case OP_SILU:
        case OP_SOFTPLUS:
        case OP_HARDSWISH:
        case OP_HARDSIGMOID:
        case OP_STEP:
        case OP_SIGMOID:
        case OP_TANH:
        case OP_RELU:
        case OP_GELU:
        case OP_SOFTMAX:
        case OP_IDENTITY: break;
        case OP_CONV1D:
        case OP_CONV2D: fprintf(f, "(%zu)", n->cfg.conv.channels); break;
        case OP_MAXPOOL1D:
        case OP_MAXPOOL2D:
        case OP_AVGPOOL1D:
        case OP_AVGPOOL2D:
        case OP_GLOBAL_AVGPOOL:
        case OP_GLOBAL_MAXPOOL:
        case OP_FLATTEN:
        case OP_BATCHNORM:
        case OP_ADD:
        case OP_CONCAT: break;
        }
    }
}

/* "parameters: 12 (weight [4, 2], bias [4])", frozen or not. */
static void put_layer_params(FILE *f, const IrNode *nodes, size_t count)
{
    size_t total = 0, tensors = 0;
    bool frozen = false;
    for (size_t i = 0; i < count; i++) {
        size_t c;
        if (ir_node_param_count(&nodes[i], &c))
            total += c;
        frozen |= nodes[i].frozen && ir_ops[nodes[i].op].params;
    }
    if (total == 0) {
        fputs("parameters: none\n", f);
        return;
    }
    fprintf(f, "parameters: %zu", total);
    for (size_t i = 0; i < count; i++) {
        IrParam ps[IR_MAX_PARAMS];
        size_t np = ir_node_params(&nodes[i], ps);
        for (size_t k = 0; k < np; k++, tensors++) {
            fprintf(f, "%s%s ", tensors ? ", " : " (", ps[k].suffix);
            put_shape(f, &ps[k].shape);
        }
    }
    fprintf(f, "%s%s\n", tensors ? ")" : "", frozen ? ", frozen" : "");
}

/* title: the layer's name, or NULL for the node's (the lowering's). */
static void hover_layer_nodes(FILE *f, const IrModel *m, size_t first, size_t count,
                              const char *title, const char *note)
{
    const IrNode *nodes = &m->nodes[first];
    if (nodes[0].op == OP_INPUT) {
        fprintf(f, "input %zu  (the input of model %s)\nshape: ", nodes[0].units, m->name);
        put_shape(f, &nodes[0].shape);
        fputc('\n', f);
        return;
    }
    fprintf(f, "%s%s", title ? title : nodes[0].layer, title && !*title ? "" : ": ");
    put_layer_kind(f, nodes, count);
    fprintf(f, "  (layer of model %s)\ninput ", m->name);
    put_shape(f, &m->nodes[nodes[0].inputs[0]].shape);
    fputs(" -> output ", f);
    put_shape(f, &nodes[count - 1].shape);
    fputc('\n', f);
    put_layer_params(f, nodes, count);
    if (note)
        fputs(note, f);
}

/* A line of a model with errors: what was written, and why no shape. */
static void hover_layer_unchecked(FILE *f, const AstDecl *model, const AstLayer *l)
{
    fprintf(f, "%s%s%s", l->name ? l->name : "", l->name ? ": " : "", l->kind);
    char args[256];
    fputs(ast_args_text(l->args, l->call, args, sizeof args), f);
    if (l->act)
        fprintf(f, ", %s", l->act);
    fprintf(f, "\nno shape: model '%s' has errors up to this line\n", model->name);
}

/* A line of a model with errors elsewhere: its shapes from the lines up to
 * it. An unnamed line goes without the name the lowering would give it,
 * which a later line's explicit name can change. */
static void hover_line_upto(FILE *f, LspDoc *d, const AstDecl *model, const AstLayer *l,
                            Arena *scratch)
{
    const IrModel *m = lsp_model_ir_upto(d, model, l, scratch);
    size_t first = 0, count = 0;
    lsp_line_nodes(m, l, &first, &count);
    if (count == 0) {
        hover_layer_unchecked(f, model, l);
        return;
    }
    char note[256];
    snprintf(note, sizeof note, "(model %s has errors after this line)\n", model->name);
    hover_layer_nodes(f, m, first, count, l->name ? l->name : "", note);
}

/* A layer line under the cursor. */
static void hover_line(FILE *f, LspDoc *d, const AstDecl *model, const AstLayer *l,
                       Arena *scratch)
{
    const IrModel *m = lsp_model_ir(d, model, scratch);
    size_t first = 0, count = 0;
    lsp_line_nodes(m, l, &first, &count);
    if (count > 0)
        hover_layer_nodes(f, m, first, count, NULL, NULL);
    else
        hover_line_upto(f, d, model, l, scratch);
}

/* A layer by its name (show = LAYER). */
static void hover_named_layer(FILE *f, LspDoc *d, const AstDecl *model, const char *name,
                              Arena *scratch)
{
    const IrModel *m = lsp_model_ir(d, model, scratch);
    size_t first = 0, count = 0;
    lsp_layer_nodes(m, name, &first, &count);
    if (count > 0)
        hover_layer_nodes(f, m, first, count, NULL, NULL);
    else if (m)
        fprintf(f, "model '%s' has no layer '%s'\n", model->name, name);
    else
        fprintf(f, "layer '%s': model '%s' has errors\n", name, model->name);
}

static void hover_model(FILE *f, LspDoc *d, const AstDecl *model, Arena *scratch)
{
    const IrModel *m = lsp_model_ir(d, model, scratch);
    if (!m) {
        fprintf(f, "model %s: has errors, no summary until they are fixed\n", model->name);
        return;
    }
    ir_model_summary(f, m);
    fprintf(f, "input %zu -> output %zu\n", m->in_units, m->out_units);
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

static void hover_dataset(FILE *f, LspDoc *d, const AstDecl *data, Arena *scratch)
{
    const IrDataset *whole, *train, *test;
    if (!lsp_dataset_ir(d, data, scratch, &whole, &train, &test)) {
        fprintf(f, "dataset %s: has errors, no rows until they are fixed\n", data->name);
        return;
    }
    fprintf(f, "dataset %s: %zu row%s, %zu feature%s, %zu target%s per row\n", whole->name,
            whole->rows, plural(whole->rows), whole->x_cols, plural(whole->x_cols), whole->y_cols,
            plural(whole->y_cols));
    if (whole->classes > 0)
        fprintf(f, "classes: %d (integer labels 0..%d)\n", whole->classes, whole->classes - 1);
    else
        fputs("classes: none declared\n", f);
    if (train && test)
        fprintf(f, "split: %s %zu row%s, %s %zu row%s\n", train->name, train->rows,
                plural(train->rows), test->name, test->rows, plural(test->rows));
    if (whole->source && whole->source->csv)
        fprintf(f, "read from %s\n", whole->source->csv);
}

/* Writes the hover's text for what h touches; false when there is none. */
static bool hover_text(FILE *f, LspDoc *d, const LspHit *h, Arena *scratch)
{
    const AstFile *ast = d->ast;
    const AstDecl *target = NULL;
    switch (h->kind) {
    case HIT_NONE: return false;
    case HIT_DECL:
        if (h->decl->kind == DECL_MODEL)
            hover_model(f, d, h->decl, scratch);
        else
            hover_dataset(f, d, h->decl, scratch);
        return true;
    case HIT_MODEL_USE:
        target = lsp_find_decl(ast, DECL_MODEL, h->decl->name);
        if (target)
            hover_model(f, d, target, scratch);
        return target != NULL;
    case HIT_DATA_USE:
        target = lsp_find_decl(ast, DECL_DATASET, h->decl->on.name);
        if (target)
            hover_dataset(f, d, target, scratch);
        return target != NULL;
    case HIT_LAYER:
        hover_line(f, d, h->decl, h->layer, scratch);
        return true;
    case HIT_SHOW:
        target = lsp_find_decl(ast, DECL_MODEL, h->decl->name);
        if (target)
            hover_named_layer(f, d, target, h->value->text, scratch);
        return target != NULL;
    }
    return false;
}

/* {contents: MarkupContent, range}: markdown as a fenced block when the
 * client renders markdown (the summary is aligned text), else plain. */
static cJSON *hover_result(const LspServer *s, const LspDoc *d, const char *text, Loc at)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(r, "contents");
    cJSON_AddStringToObject(c, "kind", s->markdown ? "markdown" : "plaintext");
    if (s->markdown) {
        size_t n = strlen(text) + 16;
        char *md = malloc(n);
        if (md) {
            snprintf(md, n, "```text\n%s```", text);
            cJSON_AddStringToObject(c, "value", md);
        }
        free(md);
    } else {
        cJSON_AddStringToObject(c, "value", text);
    }
    cJSON_AddItemToObject(r, "range", lsp_json_range(lsp_lines_loc_range(&d->lines, at)));
    return r;
}

cJSON *lsp_hover(LspServer *s, const cJSON *params, int *code, const char **why)
{
    LspDoc *d;
    LspPos pos;
    int line, col;
    if (!lsp_params_doc_pos(s, params, &d, &pos, why)) {
        *code = RPC_INVALID_PARAMS;
        return NULL;
    }
    if (!d || !d->ast || !lsp_pos_to_loc(&d->lines, pos, &line, &col))
        return cJSON_CreateNull();
    LspHit h = lsp_hit_at(d->ast, line, col);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return cJSON_CreateNull();
    Arena scratch;
    arena_init(&scratch);
    bool any = hover_text(f, d, &h, &scratch);
    fclose(f);
    arena_free(&scratch);
    cJSON *r = any && text ? hover_result(s, d, text, h.loc) : cJSON_CreateNull();
    free(text);
    return r;
}
