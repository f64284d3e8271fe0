/* Go to definition: from a use of a model, dataset or layer name to where
 * it is declared (a declaration's own name answers itself). Names resolve
 * to the first declaration, as the checker keeps the first of duplicates. */
#include <string.h>

#include "server.h"

/* The line that declares layer `name` in model: its `name:`, else (an
 * unnamed line, named by the lowering) the start of its line. */
static bool layer_decl_loc(LspDoc *d, const AstDecl *model, const char *name, Loc *out)
{
    for (const AstLayer *l = model->layers; l; l = l->next) {
        if (l->name && strcmp(l->name, name) == 0) {
            *out = l->name_loc;
            return true;
        }
    }
    Arena scratch;
    arena_init(&scratch);
    const IrModel *m = lsp_model_ir(d, model, &scratch);
    bool found = false;
    for (const AstLayer *l = model->layers; m && l && !found; l = l->next) {
        const char *n = lsp_layer_name(m, l);
        if (n && strcmp(n, name) == 0) {
            *out = l->kind_loc;
            found = true;
        }
    }
    arena_free(&scratch);
    return found;
}

/* Where the thing under the cursor is declared; false when nowhere. */
static bool definition_loc(LspDoc *d, const LspHit *h, Loc *out)
{
    const AstDecl *target = NULL;
    switch (h->kind) {
    case HIT_NONE: return false;
    case HIT_DECL:
    case HIT_LAYER: *out = h->loc; return true;
    case HIT_MODEL_USE:
        target = lsp_find_decl(d->ast, DECL_MODEL, h->decl->name);
        break;
    case HIT_DATA_USE:
        target = lsp_find_decl(d->ast, DECL_DATASET, h->decl->on.name);
        break;
    case HIT_SHOW:
        target = lsp_find_decl(d->ast, DECL_MODEL, h->decl->name);
        return target && layer_decl_loc(d, target, h->value->text, out);
    }
    if (target)
        *out = target->name_loc;
    return target != NULL;
}

cJSON *lsp_definition(LspServer *s, const cJSON *params, int *code, const char **why)
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
    Loc at;
    if (!definition_loc(d, &h, &at))
        return cJSON_CreateNull();
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "uri", d->uri);
    cJSON_AddItemToObject(r, "range", lsp_json_range(lsp_lines_loc_range(&d->lines, at)));
    return r;
}
