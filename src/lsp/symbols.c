/* Document symbols: the declarations, and each model's layers under it
 * (hierarchical when the client takes DocumentSymbol[], else a flat list
 * of SymbolInformation naming each layer's model). From the tolerant
 * parse, so an outline stays while the file is being edited. */
#include <string.h>

#include "server.h"

enum { SYMBOL_CLASS = 5, SYMBOL_FIELD = 8, SYMBOL_FUNCTION = 12, SYMBOL_VARIABLE = 13 };

static size_t loc_end(const LspLines *l, Loc loc)
{
    size_t off = lsp_loc_offset(l, loc) + (loc.len > 0 ? (size_t)loc.len : 0);
    return off < l->len ? off : l->len;
}

static size_t max_end(const LspLines *l, size_t end, Loc loc)
{
    size_t e = loc.src ? loc_end(l, loc) : 0;
    return e > end ? e : end;
}

/* Where a declaration ends: its block's '}', or its last token. */
static size_t decl_end(const LspDoc *d, const AstDecl *decl)
{
    const LspLines *l = &d->lines;
    size_t end = max_end(l, max_end(l, loc_end(l, decl->name_loc), decl->on.loc), decl->on.part_loc);
    return decl->has_block ? lsp_block_end(d->text, d->len, end) : end;
}

/* Where a layer line ends: its block's '}', or its last token. */
static size_t layer_end(const LspDoc *d, const AstLayer *layer)
{
    const LspLines *l = &d->lines;
    size_t end = max_end(l, loc_end(l, layer->kind_loc), layer->act_loc);
    for (const AstArg *a = layer->args; a; a = a->next)
        end = max_end(l, end, a->value->loc);
    for (const AstArg *a = layer->act_args; a; a = a->next)
        end = max_end(l, end, a->value->loc);
    return layer->has_block ? lsp_block_end(d->text, d->len, lsp_loc_offset(l, layer->block_loc))
                            : end;
}

static LspRange offsets_range(const LspLines *l, size_t from, size_t to)
{
    return (LspRange){lsp_offset_pos(l, from), lsp_offset_pos(l, to)};
}

static cJSON *symbol(const char *name, const char *detail, int kind, LspRange range,
                     LspRange selection)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", name);
    if (detail)
        cJSON_AddStringToObject(j, "detail", detail);
    cJSON_AddNumberToObject(j, "kind", kind);
    cJSON_AddItemToObject(j, "range", lsp_json_range(range));
    cJSON_AddItemToObject(j, "selectionRange", lsp_json_range(selection));
    return j;
}

/* "dense 4, relu -> [4]" from the IR, or the line as written. */
static void layer_detail(char *buf, size_t size, const IrModel *m, const AstLayer *l,
                         const char *name)
{
    size_t first = 0, count = 0, len = 0;
    lsp_layer_nodes(m, name, &first, &count);
    len += (size_t)snprintf(buf, size, "%s", l->kind);
    char args[256];
    len += (size_t)snprintf(buf + len, size - len, "%s", ast_args_text(l->args, l->call, args,
                                                                       sizeof args));
    if (l->act && len < size)
        len += (size_t)snprintf(buf + len, size - len, ", %s", l->act);
    if (count == 0 || len >= size)
        return;
    const IrShape *sh = &m->nodes[first + count - 1].shape;
    len += (size_t)snprintf(buf + len, size - len, " -> [");
    for (size_t i = 0; i < sh->rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%zu", i ? ", " : "", sh->dim[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

static cJSON *layer_symbols(const LspDoc *d, const AstDecl *model, Arena *scratch)
{
    const IrModel *m = lsp_model_ir(d, model, scratch);
    cJSON *children = cJSON_CreateArray();
    for (const AstLayer *l = model->layers; l; l = l->next) {
        const char *name = lsp_layer_name(m, l);
        char detail[256];
        layer_detail(detail, sizeof detail, m, l, name);
        size_t from = lsp_loc_offset(&d->lines, l->loc);
        LspRange range = offsets_range(&d->lines, from, layer_end(d, l));
        LspRange sel = lsp_lines_loc_range(&d->lines, l->name ? l->name_loc : l->kind_loc);
        cJSON_AddItemToArray(children, symbol(name ? name : l->kind, detail, SYMBOL_FIELD, range,
                                              sel));
    }
    return children;
}

/* "train XORNet on xor.train" */
static void step_name(char *buf, size_t size, const AstDecl *decl)
{
    snprintf(buf, size, "%s %s on %s%s%s", decl->kind == DECL_TRAIN ? "train" : "evaluate",
             decl->name, decl->on.name, decl->on.part ? "." : "", decl->on.part ? decl->on.part : "");
}

static cJSON *decl_symbol(const LspDoc *d, const AstDecl *decl, Arena *scratch)
{
    char name[512];
    int kind = decl->kind == DECL_MODEL ? SYMBOL_CLASS : decl->kind == DECL_DATASET
               ? SYMBOL_VARIABLE : SYMBOL_FUNCTION;
    if (decl->kind == DECL_TRAIN || decl->kind == DECL_EVALUATE)
        step_name(name, sizeof name, decl);
    else
        snprintf(name, sizeof name, "%s", decl->name);
    size_t from = lsp_loc_offset(&d->lines, decl->loc);
    LspRange range = offsets_range(&d->lines, from, decl_end(d, decl));
    LspRange sel = lsp_lines_loc_range(&d->lines, decl->name_loc);
    static const char *const what[] = {[DECL_DATASET] = "dataset", [DECL_MODEL] = "model",
                                       [DECL_TRAIN] = "train", [DECL_EVALUATE] = "evaluate"};
    _Static_assert(sizeof what / sizeof *what == DECL_EVALUATE + 1, "one word per AstDeclKind");
    cJSON *j = symbol(name, what[decl->kind], kind, range, sel);
    if (decl->kind == DECL_MODEL)
        cJSON_AddItemToObject(j, "children", layer_symbols(d, decl, scratch));
    return j;
}

/* DocumentSymbol -> SymbolInformation: a location and the container's name. */
static void flatten(cJSON *out, const LspDoc *d, cJSON *sym, const char *container)
{
    cJSON *info = cJSON_CreateObject();
    const char *name = cJSON_GetObjectItemCaseSensitive(sym, "name")->valuestring;
    cJSON_AddStringToObject(info, "name", name);
    cJSON_AddItemToObject(info, "kind", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sym, "kind"), true));
    cJSON *where = cJSON_AddObjectToObject(info, "location");
    cJSON_AddStringToObject(where, "uri", d->uri);
    cJSON_AddItemToObject(where, "range", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sym, "range"), true));
    if (container)
        cJSON_AddStringToObject(info, "containerName", container);
    cJSON_AddItemToArray(out, info);
    const cJSON *children = cJSON_GetObjectItemCaseSensitive(sym, "children");
    for (cJSON *c = children ? children->child : NULL; c; c = c->next)
        flatten(out, d, c, name);
}

cJSON *lsp_document_symbol(LspServer *s, const cJSON *params, int *code, const char **why)
{
    LspDoc *d;
    if (!lsp_params_doc(s, params, &d, why)) {
        *code = RPC_INVALID_PARAMS;
        return NULL;
    }
    if (!d)
        return cJSON_CreateNull();
    cJSON *symbols = cJSON_CreateArray();
    Arena scratch;
    arena_init(&scratch);
    for (const AstDecl *decl = d->ast ? d->ast->decls : NULL; decl; decl = decl->next)
        cJSON_AddItemToArray(symbols, decl_symbol(d, decl, &scratch));
    arena_free(&scratch);
    if (s->hierarchical_symbols)
        return symbols;
    cJSON *flat = cJSON_CreateArray();
    for (cJSON *sym = symbols->child; sym; sym = sym->next)
        flatten(flat, d, sym, NULL);
    cJSON_Delete(symbols);
    return flat;
}
