/* Completion. What may come at the cursor depends on the block it is in
 * and the tokens just before it, and the text being typed rarely parses,
 * so a small scan of the text up to the cursor finds both (braces, lists,
 * comments and strings are all it needs to know). The candidates come from
 * the tables the checker uses: layer kinds and activations from ir_ops,
 * properties and their choices from front_block_props,
 * optimizers, their arguments and what a sweep can vary from the train
 * block's tables (ir_optims, ir_hypers), declared names from the tolerant
 * parse. */
#include <math.h>
#include <string.h>

#include "nnc/front.h"
#include "server.h"

typedef enum Frame { FRAME_TOP, FRAME_DATASET, FRAME_MODEL, FRAME_TRAIN, FRAME_EVALUATE,
                     FRAME_PARAMS, FRAME_OTHER } Frame;

typedef struct Tok {
    LspTokKind kind;
    const char *text;
    size_t len;
} Tok;

enum { NAME_MAX_LEN = 128, MAX_DEPTH = 8 };

/* One '{' block open at the cursor (or the top level). */
typedef struct Block {
    Frame frame;
    Tok last[3];            /* the last tokens inside it: last[0] is the latest */
    size_t n_tokens;
    int nest;               /* '[' and '(' open inside it */
    Tok keyword, name;      /* FRAME_TOP: the declaration being written */
    Tok layer_kind;         /* FRAME_MODEL: the kind of the line, for its '{' */
    char owner[NAME_MAX_LEN]; /* evaluate/train: the model; params: the layer kind */
    char callee[NAME_MAX_LEN]; /* the call open at nest 1: optimizer = adam( */
} Block;

typedef struct Scan {
    Block blocks[MAX_DEPTH];
    int depth;              /* blocks[depth] is the innermost */
    bool in_comment_or_string;
} Scan;

static bool tok_is(Tok t, const char *word)
{
    return t.kind == TOK_IDENT && t.len == strlen(word) && memcmp(t.text, word, t.len) == 0;
}

static bool tok_punct(Tok t, char c)
{
    return t.kind == TOK_PUNCT && t.text[0] == c;
}

static void tok_copy(char *out, Tok t)
{
    size_t n = t.len < NAME_MAX_LEN - 1 ? t.len : NAME_MAX_LEN - 1;
    memcpy(out, t.text, n);
    out[n] = '\0';
}

static Frame frame_of(Tok keyword)
{
    return tok_is(keyword, "dataset") ? FRAME_DATASET : tok_is(keyword, "model") ? FRAME_MODEL
           : tok_is(keyword, "train") ? FRAME_TRAIN : tok_is(keyword, "evaluate") ? FRAME_EVALUATE
                                                                                : FRAME_OTHER;
}

static void open_block(Scan *s)
{
    Block *outer = &s->blocks[s->depth];
    if (s->depth + 1 >= MAX_DEPTH)
        return;
    Block *b = &s->blocks[++s->depth];
    *b = (Block){.frame = FRAME_OTHER};
    if (outer->frame == FRAME_TOP) {
        b->frame = frame_of(outer->keyword);
        tok_copy(b->owner, outer->name);
        outer->keyword = outer->name = (Tok){0};
    } else if (outer->frame == FRAME_MODEL) {
        b->frame = FRAME_PARAMS;
        tok_copy(b->owner, outer->layer_kind);
    }
}

/* Updates the block the token belongs to. */
static void push_token(Scan *s, Tok t)
{
    Block *b = &s->blocks[s->depth];
    if (tok_punct(t, '{') && b->nest == 0) {
        open_block(s);
        return;
    }
    /* No list or call holds a '}': one left open before it is abandoned. */
    if (tok_punct(t, '}')) {
        b->nest = 0;
        if (s->depth > 0)
            s->depth--;
        b = &s->blocks[s->depth];
        t = (Tok){TOK_PUNCT, "}", 1};
    }
    if (tok_punct(t, '(') && b->nest == 0) {
        b->callee[0] = '\0';
        if (b->last[0].kind == TOK_IDENT)
            tok_copy(b->callee, b->last[0]);
    }
    b->nest += tok_punct(t, '[') || tok_punct(t, '(');
    if ((tok_punct(t, ']') || tok_punct(t, ')')) && b->nest > 0)
        b->nest--;
    if (b->frame == FRAME_TOP && frame_of(t) != FRAME_OTHER && !tok_punct(b->last[0], '.')) {
        b->keyword = t;
        b->name = (Tok){0};
    } else if (b->frame == FRAME_TOP && b->keyword.kind && !b->name.kind && t.kind == TOK_IDENT) {
        b->name = t;
    }
    /* A model line's kind: an identifier not after ',' (the activation)
     * and not before ':' (a name; the ':' undoes it). */
    if (b->frame == FRAME_MODEL && t.kind == TOK_IDENT && !tok_punct(b->last[0], ','))
        b->layer_kind = t;
    if (b->frame == FRAME_MODEL && tok_punct(t, ':'))
        b->layer_kind = (Tok){0};
    b->last[2] = b->last[1];
    b->last[1] = b->last[0];
    b->last[0] = t;
    b->n_tokens++;
}

/* Scans text[0..end): the blocks open at end. An identifier that reaches
 * end is the word being typed; the client filters the candidates by it, so
 * the context is what comes before it. */
static void scan_to(Scan *s, const char *text, size_t end)
{
    *s = (Scan){0};
    size_t i = 0;
    while (i < end) {
        LspTokKind kind;
        bool open;
        size_t n = lsp_token_len(text + i, end - i, &kind, &open);
        Tok t = {kind, text + i, n};
        if (open)
            s->in_comment_or_string = true;
        else if (kind != TOK_NONE && !(i + n >= end && kind == TOK_IDENT))
            push_token(s, t);
        i += n;
    }
}

/* ---- candidates -------------------------------------------------------- */

enum { KIND_FUNCTION = 3, KIND_FIELD = 5, KIND_VARIABLE = 6, KIND_MODULE = 9,
       KIND_PROPERTY = 10, KIND_VALUE = 12, KIND_KEYWORD = 14, KIND_ENUM_MEMBER = 20 };

static void add_item(cJSON *items, const char *label, int kind, const char *detail)
{
    for (const cJSON *it = items->child; it; it = it->next) /* once each */
        if (strcmp(cJSON_GetObjectItemCaseSensitive(it, "label")->valuestring, label) == 0)
            return;
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "label", label);
    cJSON_AddNumberToObject(item, "kind", kind);
    if (detail)
        cJSON_AddStringToObject(item, "detail", detail);
    cJSON_AddItemToArray(items, item);
}

/* Layer kinds (every op but input), or only the activations. */
static void add_ops(cJSON *items, bool activations_only)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = &ir_ops[k];
        if (op->kind == OP_INPUT || (activations_only && !op->activation))
            continue;
        char detail[64];
        snprintf(detail, sizeof detail, "%s (nn.%s)", op->activation ? "activation" : "layer",
                 op->torch_name);
        add_item(items, op->name, KIND_FUNCTION, detail);
    }
}

static bool block_props(const Block *b, FrontProp props[FRONT_MAX_PROPS], size_t *n)
{
    OpKind op = OP_INPUT;
    FrontBlock fb;
    switch (b->frame) {
    case FRAME_DATASET: fb = FRONT_DATASET; break;
    case FRAME_TRAIN: fb = FRONT_TRAIN; break;
    case FRAME_EVALUATE: fb = FRONT_EVALUATE; break;
    case FRAME_PARAMS:
        if (!ir_op_lookup(b->owner, &op))
            return false;
        fb = FRONT_PARAMS;
        break;
    case FRAME_TOP:
    case FRAME_MODEL:
    case FRAME_OTHER: return false;
    }
    *n = front_block_props(fb, op, props);
    return true;
}

static void add_props(cJSON *items, const Block *b)
{
    FrontProp props[FRONT_MAX_PROPS];
    size_t n = 0;
    if (!block_props(b, props, &n))
        return;
    for (size_t i = 0; i < n; i++)
        add_item(items, props[i].name, KIND_PROPERTY, props[i].takes);
    if (b->frame == FRAME_TRAIN)
        add_item(items, "sweep", KIND_KEYWORD, "sweep NAME = [values]: one run per value");
}

static void add_sweeps(cJSON *items)
{
    for (int h = 0; h < HP_COUNT; h++)
        if (ir_hypers[h].sweepable)
            add_item(items, ir_hypers[h].name, KIND_PROPERTY, "swept hyperparameter");
}

static void add_args(cJSON *items, const OptimArg *args, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_item(items, ir_hypers[args[i].hp].name, KIND_PROPERTY,
                 isnan(args[i].def) ? "required" : "optional");
}

/* A callee's arguments, inside its call: optimizer = adam(|), loss =
 * huber(|), schedule = step(|). Names are unique across the three tables. */
static void add_call_args(cJSON *items, const char *callee)
{
    for (int k = 0; k < OPTIM_COUNT; k++)
        if (strcmp(ir_optims[k].name, callee) == 0)
            add_args(items, ir_optims[k].args, ir_optims[k].n_args);
    for (int k = 0; k < LOSS_COUNT; k++)
        if (strcmp(ir_losses[k].name, callee) == 0)
            add_args(items, ir_losses[k].args, ir_losses[k].n_args);
    for (int k = 0; k < SCHED_COUNT; k++)
        if (strcmp(ir_schedules[k].name, callee) == 0)
            add_args(items, ir_schedules[k].args, ir_schedules[k].n_args);
}

/* The layers `show =` may name: those of the evaluated model. */
static void add_layers(cJSON *items, LspDoc *d, const char *model_name)
{
    const AstDecl *model = lsp_find_decl(d->ast, DECL_MODEL, model_name);
    if (!model)
        return;
    Arena scratch;
    arena_init(&scratch);
    const IrModel *m = lsp_model_ir(d, model, &scratch);
    for (const AstLayer *l = model->layers; l; l = l->next) {
        const char *name = l->is_input ? NULL : m ? lsp_layer_name(m, l) : l->name;
        if (name)
            add_item(items, name, KIND_FIELD, l->kind);
    }
    arena_free(&scratch);
}

static void add_values(cJSON *items, LspDoc *d, const Block *b, Tok prop)
{
    FrontProp props[FRONT_MAX_PROPS];
    size_t n = 0;
    char name[NAME_MAX_LEN];
    tok_copy(name, prop);
    if (!block_props(b, props, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(props[i].name, name) != 0)
            continue;
        for (size_t k = 0; props[i].choices && props[i].choices[k]; k++)
            add_item(items, props[i].choices[k], KIND_ENUM_MEMBER, props[i].name);
        if (props[i].boolean) {
            add_item(items, "true", KIND_VALUE, NULL);
            add_item(items, "false", KIND_VALUE, NULL);
        }
    }
    if (b->frame == FRAME_EVALUATE && strcmp(name, "show") == 0)
        add_layers(items, d, b->owner);
}

static bool is_split(const AstDecl *data)
{
    for (const AstProp *p = data->props; p; p = p->next)
        if (strcmp(p->name, "split") == 0)
            return true;
    return false;
}

static void add_decls(cJSON *items, const LspDoc *d, AstDeclKind k)
{
    for (const AstDecl *decl = d->ast ? d->ast->decls : NULL; decl; decl = decl->next) {
        if (decl->kind != k)
            continue;
        add_item(items, decl->name, k == DECL_MODEL ? KIND_MODULE : KIND_VARIABLE,
                 k == DECL_MODEL ? "model" : "dataset");
        if (k != DECL_DATASET || !is_split(decl))
            continue;
        char part[2 * NAME_MAX_LEN];
        snprintf(part, sizeof part, "%s.train", decl->name);
        add_item(items, part, KIND_VARIABLE, "the training split");
        snprintf(part, sizeof part, "%s.test", decl->name);
        add_item(items, part, KIND_VARIABLE, "the test split");
    }
}

static void add_keywords(cJSON *items)
{
    static const char *const keywords[] = {"dataset", "model", "train", "evaluate"};
    for (size_t i = 0; i < 4; i++)
        add_item(items, keywords[i], KIND_KEYWORD, NULL);
}

static void complete_top(cJSON *items, const LspDoc *d, const Block *b)
{
    Tok last = b->last[0], prev = b->last[1];
    if (tok_is(last, "train") || tok_is(last, "evaluate")) {
        add_decls(items, d, DECL_MODEL);
    } else if (tok_is(last, "on")) {
        add_decls(items, d, DECL_DATASET);
    } else if (tok_punct(last, '.') && prev.kind == TOK_IDENT) {
        add_item(items, "train", KIND_KEYWORD, "the training split");
        add_item(items, "test", KIND_KEYWORD, "the test split");
    } else if (last.kind == TOK_IDENT && (tok_is(prev, "train") || tok_is(prev, "evaluate"))) {
        add_item(items, "on", KIND_KEYWORD, NULL);
    } else if (!tok_is(last, "dataset") && !tok_is(last, "model") && !tok_is(last, "on") &&
               !tok_punct(last, '.') && !(last.kind == TOK_IDENT && tok_is(prev, "on"))) {
        add_keywords(items); /* not where a new name or a dataset is being written */
    }
}

/* After a '{' or a complete `key = value`: a property may start. */
static bool value_ended(const Block *b)
{
    Tok last = b->last[0];
    if (last.kind == TOK_NONE || tok_punct(last, '{') || tok_punct(last, '}') ||
        tok_punct(last, ']') || tok_punct(last, ')'))
        return true;
    return (last.kind == TOK_NUMBER || last.kind == TOK_STRING || last.kind == TOK_IDENT) &&
           tok_punct(b->last[1], '=');
}

static void complete_props(cJSON *items, LspDoc *d, const Block *b)
{
    Tok last = b->last[0], prev = b->last[1];
    if (tok_punct(last, '=') && prev.kind == TOK_IDENT && !tok_is(b->last[2], "sweep"))
        add_values(items, d, b, prev);
    else if (b->frame == FRAME_TRAIN && tok_is(last, "sweep"))
        add_sweeps(items);
    else if (value_ended(b))
        add_props(items, b);
}

static void complete_model(cJSON *items, const Block *b)
{
    Tok last = b->last[0];
    OpKind k;
    if (tok_punct(last, ',')) {
        add_ops(items, true);
        return;
    }
    /* `dense` or `input` wait for their number, not for a new line. */
    bool needs_number = last.kind == TOK_IDENT && !tok_punct(b->last[1], ',');
    if (needs_number && last.len < NAME_MAX_LEN) {
        char word[NAME_MAX_LEN];
        tok_copy(word, last);
        needs_number = tok_is(last, "input") || (ir_op_lookup(word, &k) &&
                       ir_ops[k].n_args > 0 && ir_ops[k].args[0].required);
    }
    if (needs_number)
        return;
    if (b->n_tokens == 0)
        add_item(items, "input", KIND_KEYWORD, "input N: the model's first line");
    add_ops(items, false);
}

/* Inside optimizer = NAME(...) (or a loss's, a schedule's call): its
 * arguments, or a boolean's values. */
static void complete_call(cJSON *items, const Block *b)
{
    Tok last = b->last[0], prev = b->last[1];
    if (tok_punct(last, '(') || tok_punct(last, ',')) {
        add_call_args(items, b->callee);
        return;
    }
    for (int h = 0; h < HP_COUNT && tok_punct(last, '='); h++) {
        if (tok_is(prev, ir_hypers[h].name) && ir_hypers[h].type == HYPER_BOOL) {
            add_item(items, "true", KIND_VALUE, NULL);
            add_item(items, "false", KIND_VALUE, NULL);
        }
    }
}

static cJSON *complete_at(LspDoc *d, size_t offset)
{
    Scan s;
    cJSON *items = cJSON_CreateArray();
    scan_to(&s, d->text, offset);
    const Block *b = &s.blocks[s.depth];
    if (s.in_comment_or_string)
        return items;
    if (b->nest == 1 && b->callee[0] && b->frame == FRAME_TRAIN) {
        complete_call(items, b);
        return items;
    }
    if (b->nest > 0)
        return items;
    switch (b->frame) {
    case FRAME_TOP: complete_top(items, d, b); break;
    case FRAME_MODEL: complete_model(items, b); break;
    case FRAME_DATASET:
    case FRAME_TRAIN:
    case FRAME_EVALUATE:
    case FRAME_PARAMS: complete_props(items, d, b); break;
    case FRAME_OTHER: break;
    }
    return items;
}

cJSON *lsp_completion(LspServer *s, const cJSON *params, int *code, const char **why)
{
    LspDoc *d;
    LspPos pos;
    int line, col;
    if (!lsp_params_doc_pos(s, params, &d, &pos, why)) {
        *code = RPC_INVALID_PARAMS;
        return NULL;
    }
    if (!d || !lsp_pos_to_loc(&d->lines, pos, &line, &col))
        return cJSON_CreateNull();
    size_t offset = lsp_loc_offset(&d->lines, (Loc){&d->src, line, col, 0});
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "isIncomplete", false);
    cJSON_AddItemToObject(r, "items", complete_at(d, offset));
    return r;
}
