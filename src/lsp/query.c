/* What lies under the cursor, and the checked IR behind it. The AST comes
 * from the tolerant parse, so a file with a syntax error elsewhere still
 * answers; the IR of one model or dataset comes from the whole program, or,
 * when another declaration has an error, from checking that declaration on
 * its own (models and datasets depend on nothing else). */
#include <string.h>

#include "nnc/front.h"
#include "server.h"

static bool loc_has(Loc l, int line, int col)
{
    return l.src && l.line == line && col >= l.col && col <= l.col + l.len;
}

static LspHit hit(LspHitKind kind, const AstDecl *d, Loc loc)
{
    return (LspHit){kind, d, NULL, NULL, loc};
}

static LspHit hit_in_model(const AstDecl *d, int line, int col)
{
    for (const AstLayer *l = d->layers; l; l = l->next) {
        Loc locs[] = {l->name_loc, l->kind_loc, l->act_loc};
        for (size_t i = 0; i < 3; i++) {
            if (loc_has(locs[i], line, col)) {
                LspHit h = hit(HIT_LAYER, d, locs[i]);
                h.layer = l;
                return h;
            }
        }
    }
    return hit(HIT_NONE, d, loc_none());
}

static LspHit hit_in_step(const AstDecl *d, int line, int col)
{
    if (loc_has(d->name_loc, line, col))
        return hit(HIT_MODEL_USE, d, d->name_loc);
    if (loc_has(d->on.loc, line, col))
        return hit(HIT_DATA_USE, d, d->on.loc);
    if (loc_has(d->on.part_loc, line, col))
        return hit(HIT_DATA_USE, d, d->on.part_loc);
    for (const AstProp *p = d->props; d->kind == DECL_EVALUATE && p; p = p->next) {
        const AstValue *v = p->value;
        if (strcmp(p->name, "show") == 0 && v->kind == AST_IDENT && loc_has(v->loc, line, col)) {
            LspHit h = hit(HIT_SHOW, d, v->loc);
            h.value = v;
            return h;
        }
    }
    return hit(HIT_NONE, d, loc_none());
}

LspHit lsp_hit_at(const AstFile *f, int line, int col)
{
    for (const AstDecl *d = f ? f->decls : NULL; d; d = d->next) {
        LspHit h = hit(HIT_NONE, NULL, loc_none());
        switch (d->kind) {
        case DECL_DATASET:
        case DECL_MODEL:
            if (loc_has(d->name_loc, line, col))
                return hit(HIT_DECL, d, d->name_loc);
            if (d->kind == DECL_MODEL)
                h = hit_in_model(d, line, col);
            break;
        case DECL_TRAIN:
        case DECL_EVALUATE: h = hit_in_step(d, line, col); break;
        }
        if (h.kind != HIT_NONE)
            return h;
    }
    return hit(HIT_NONE, NULL, loc_none());
}

const AstDecl *lsp_find_decl(const AstFile *f, AstDeclKind k, const char *name)
{
    for (const AstDecl *d = f ? f->decls : NULL; d; d = d->next)
        if (d->kind == k && strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

/* Checks a declaration (a copy in scratch) as if it were the whole file,
 * silently. */
static const IrProgram *lower_alone(const LspDoc *d, AstDecl *copy, Arena *scratch)
{
    AstFile *file = arena_alloc(scratch, sizeof *file);
    if (!file)
        return NULL;
    copy->next = NULL;
    *file = (AstFile){&d->src, copy, 1};
    Diag quiet;
    diag_init(&quiet, NULL);
    return front_lower(scratch, &quiet, file);
}

static AstDecl *copy_decl(const AstDecl *decl, Arena *scratch)
{
    AstDecl *copy = arena_alloc(scratch, sizeof *copy);
    if (copy)
        *copy = *decl;
    return copy;
}

const IrModel *lsp_model_ir(const LspDoc *d, const AstDecl *model, Arena *scratch)
{
    /* A clean program has no duplicate names: the name finds the model. */
    for (size_t i = 0; d->prog && i < d->prog->n_models; i++)
        if (strcmp(d->prog->models[i].name, model->name) == 0)
            return &d->prog->models[i];
    AstDecl *copy = copy_decl(model, scratch);
    const IrProgram *p = copy ? lower_alone(d, copy, scratch) : NULL;
    return p && p->n_models == 1 ? &p->models[0] : NULL;
}

const IrModel *lsp_model_ir_upto(const LspDoc *d, const AstDecl *model, const AstLayer *last,
                                 Arena *scratch)
{
    AstDecl *copy = copy_decl(model, scratch);
    if (!copy)
        return NULL;
    AstLayer **tail = &copy->layers;
    for (const AstLayer *l = model->layers; l; l = l->next) {
        AstLayer *line = arena_alloc(scratch, sizeof *line);
        if (!line)
            return NULL;
        *line = *l;
        line->next = NULL;
        *tail = line;
        tail = &line->next;
        if (l == last)
            break;
    }
    const IrProgram *p = lower_alone(d, copy, scratch);
    return p && p->n_models == 1 ? &p->models[0] : NULL;
}

bool lsp_dataset_ir(const LspDoc *d, const AstDecl *data, Arena *scratch,
                    const IrDataset **whole, const IrDataset **train, const IrDataset **test)
{
    AstDecl *copy = d->prog ? NULL : copy_decl(data, scratch);
    const IrProgram *p = d->prog ? d->prog : copy ? lower_alone(d, copy, scratch) : NULL;
    *whole = *train = *test = NULL;
    for (size_t i = 0; p && i < p->n_datasets; i++) {
        const IrDataset *ds = &p->datasets[i];
        if (!ds->source || strcmp(ds->source->name, data->name) != 0 || ds->part == DATA_VALID)
            continue;
        const IrDataset **slot = ds->part == DATA_TRAIN ? train : ds->part == DATA_TEST ? test
                                                                                         : whole;
        if (!*slot)
            *slot = ds;
    }
    return *whole != NULL;
}

void lsp_layer_nodes(const IrModel *m, const char *layer, size_t *first, size_t *count)
{
    *count = 0;
    for (size_t i = 0; m && layer && i < m->n_nodes; i++) {
        if (strcmp(m->nodes[i].layer, layer) != 0)
            continue;
        if (*count == 0)
            *first = i;
        ++*count;
    }
}

void lsp_line_nodes(const IrModel *m, const AstLayer *l, size_t *first, size_t *count)
{
    *count = 0;
    for (size_t i = 0; m && i < m->n_nodes && *count == 0; i++)
        if (m->nodes[i].loc.line == l->loc.line && m->nodes[i].loc.col == l->loc.col)
            lsp_layer_nodes(m, m->nodes[i].layer, first, count);
}

const char *lsp_layer_name(const IrModel *m, const AstLayer *l)
{
    if (l->is_input)
        return "input";
    if (l->name)
        return l->name;
    /* The lowering gives the line's first node the line's Loc. */
    for (size_t i = 0; m && i < m->n_nodes; i++)
        if (m->nodes[i].loc.line == l->loc.line && m->nodes[i].loc.col == l->loc.col)
            return m->nodes[i].layer;
    return NULL;
}
