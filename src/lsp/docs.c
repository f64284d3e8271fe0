/* Open documents: each text is checked as `nnc check` checks a file (the
 * same front end, the same messages, taken from the Diag sink), and the
 * diagnostics are published per file: the document's own, and those in the
 * CSV files its datasets read. */
#include <stdlib.h>
#include <string.h>

#include "nnc/front.h"
#include "server.h"

/* ---- diagnostics, as the sink receives them --------------------------- */

/* The diagnostics of one check, grouped by the file they point into. */
typedef struct DiagFile {
    char *uri;
    cJSON *list;        /* Diagnostic[] */
} DiagFile;

typedef struct DiagBatch {
    LspServer *server;
    LspDoc *doc;
    DiagFile *files;
    size_t n, cap;
    cJSON *last;        /* the last error or warning: where notes attach */
} DiagBatch;

static cJSON *batch_list(DiagBatch *b, const char *uri)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->files[i].uri, uri) == 0)
            return b->files[i].list;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4;
        DiagFile *bigger = realloc(b->files, cap * sizeof *bigger);
        if (!bigger)
            return NULL;
        b->files = bigger;
        b->cap = cap;
    }
    char *copy = strdup(uri);
    cJSON *list = cJSON_CreateArray();
    if (!copy || !list) {
        free(copy);
        cJSON_Delete(list);
        return NULL;
    }
    b->files[b->n++] = (DiagFile){copy, list};
    return list;
}

/* Where loc points: the document (also for diagnostics without a file, at
 * its start), or another file by its path. The range is computed now: the
 * text of a CSV file may be gone once the check is over. */
static char *loc_uri(DiagBatch *b, Loc loc, LspRange *range)
{
    if (!loc.src || loc.src == &b->doc->src) {
        *range = loc.src ? lsp_lines_loc_range(&b->doc->lines, loc) : (LspRange){{0, 0}, {0, 0}};
        return strdup(b->doc->uri);
    }
    *range = lsp_loc_range(loc.src->text, loc.src->len, loc);
    return lsp_path_to_uri(loc.src->path, b->server->cwd);
}

enum { SEVERITY_ERROR = 1, SEVERITY_WARNING = 2, SEVERITY_INFORMATION = 3 };

/* A note becomes relatedInformation of the diagnostic before it when the
 * client shows those; otherwise a diagnostic of its own. */
static bool attach_note(DiagBatch *b, const char *uri, LspRange range, const char *msg)
{
    if (!b->server->related_info || !b->last)
        return false;
    cJSON *related = cJSON_GetObjectItemCaseSensitive(b->last, "relatedInformation");
    if (!related)
        related = cJSON_AddArrayToObject(b->last, "relatedInformation");
    cJSON *info = cJSON_CreateObject();
    cJSON *where = cJSON_AddObjectToObject(info, "location");
    cJSON_AddStringToObject(where, "uri", uri);
    cJSON_AddItemToObject(where, "range", lsp_json_range(range));
    cJSON_AddStringToObject(info, "message", msg);
    cJSON_AddItemToArray(related, info);
    return true;
}

static void batch_sink(void *ctx, DiagSeverity sev, Loc loc, const char *msg)
{
    DiagBatch *b = ctx;
    LspRange range;
    char *uri = loc_uri(b, loc, &range);
    if (!uri)
        return;
    if (sev == DIAG_NOTE && attach_note(b, uri, range, msg)) {
        free(uri);
        return;
    }
    cJSON *list = batch_list(b, uri);
    cJSON *diag = cJSON_CreateObject();
    cJSON_AddItemToObject(diag, "range", lsp_json_range(range));
    cJSON_AddNumberToObject(diag, "severity", sev == DIAG_ERROR     ? SEVERITY_ERROR
                                              : sev == DIAG_WARNING ? SEVERITY_WARNING
                                                                    : SEVERITY_INFORMATION);
    cJSON_AddStringToObject(diag, "source", "nnc");
    cJSON_AddStringToObject(diag, "message", msg);
    if (list)
        cJSON_AddItemToArray(list, diag);
    else
        cJSON_Delete(diag);
    b->last = sev == DIAG_NOTE || !list ? b->last : diag;
    free(uri);
}

static void publish(LspServer *s, const char *uri, cJSON *list)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "uri", uri);
    cJSON_AddItemToObject(params, "diagnostics", list ? list : cJSON_CreateArray());
    lsp_notify(s, "textDocument/publishDiagnostics", params);
}

static void forget_published(LspDoc *d)
{
    for (size_t i = 0; i < d->n_published; i++)
        free(d->published[i]);
    free(d->published);
    d->published = NULL;
    d->n_published = 0;
}

/* Publishes every file of the batch, the document always (an empty list
 * clears it), and empty lists for files that had diagnostics last time and
 * have none now. The batch's lists are consumed. */
static void batch_publish(DiagBatch *b)
{
    LspDoc *d = b->doc;
    batch_list(b, d->uri); /* the document always: an empty list clears it */
    for (size_t i = 0; i < d->n_published; i++) {
        bool still = false;
        for (size_t k = 0; k < b->n && !still; k++)
            still = strcmp(b->files[k].uri, d->published[i]) == 0;
        if (!still)
            publish(b->server, d->published[i], NULL);
    }
    forget_published(d);
    d->published = malloc(b->n * sizeof *d->published);
    for (size_t i = 0; i < b->n; i++) {
        publish(b->server, b->files[i].uri, b->files[i].list);
        b->files[i].list = NULL;
        if (d->published)
            d->published[d->n_published++] = b->files[i].uri;
        else
            free(b->files[i].uri);
    }
    free(b->files);
}

/* ---- analysis ---------------------------------------------------------- */

/* Checks the text as `nnc check` does: parse, and only when that found no
 * error, check and lower. The tolerant parse keeps what did parse, for
 * hover and the rest. */
static void doc_analyze(LspServer *s, LspDoc *d)
{
    arena_free(&d->arena);
    arena_init(&d->arena);
    lsp_lines_free(&d->lines);
    d->ast = NULL;
    d->prog = NULL;
    if (!lsp_lines_init(&d->lines, d->text, d->len))
        return; /* out of memory: no diagnostics, and requests answer null */
    d->src = (Source){d->path, d->text, d->len};
    DiagBatch batch = {.server = s, .doc = d};
    Diag diag;
    diag_init(&diag, NULL);
    diag_set_sink(&diag, batch_sink, &batch);
    d->ast = front_parse_tolerant(&d->arena, &diag, &d->src);
    d->prog = d->ast && diag.errors == 0 ? front_lower(&d->arena, &diag, d->ast) : NULL;
    batch_publish(&batch);
}

LspDoc *lsp_doc_find(LspServer *s, const char *uri)
{
    for (LspDoc *d = s->docs; d; d = d->next)
        if (strcmp(d->uri, uri) == 0)
            return d;
    return NULL;
}

/* Diagnostics name a file as `nnc check` run from the server's folder
 * would: relative to it when the file is inside, else absolute. A URI that
 * is not a file's stays as it is. */
static char *display_path(const LspServer *s, const char *uri)
{
    char *path = lsp_uri_to_path(uri);
    if (!path)
        return strdup(uri);
    size_t n = s->cwd ? strlen(s->cwd) : 0;
    if (n > 1 && strncmp(path, s->cwd, n) == 0 && path[n] == '/')
        memmove(path, path + n + 1, strlen(path + n + 1) + 1);
    return path;
}

static bool doc_set_text(LspDoc *d, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return false;
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(d->text);
    d->text = copy;
    d->len = len;
    return true;
}

bool lsp_doc_open(LspServer *s, const char *uri, const char *text, size_t len)
{
    LspDoc *d = lsp_doc_find(s, uri);
    if (d)
        return lsp_doc_update(s, d, text, len);
    d = calloc(1, sizeof *d);
    if (!d)
        return false;
    d->uri = strdup(uri);
    d->path = display_path(s, uri);
    arena_init(&d->arena);
    if (!d->uri || !d->path || !doc_set_text(d, text, len)) {
        free(d->uri);
        free(d->path);
        free(d);
        return false;
    }
    d->next = s->docs;
    s->docs = d;
    doc_analyze(s, d);
    return true;
}

bool lsp_doc_update(LspServer *s, LspDoc *d, const char *text, size_t len)
{
    if (!doc_set_text(d, text, len))
        return false;
    doc_analyze(s, d);
    return true;
}

static void doc_free(LspDoc *d)
{
    forget_published(d);
    arena_free(&d->arena);
    lsp_lines_free(&d->lines);
    free(d->text);
    free(d->path);
    free(d->uri);
    free(d);
}

void lsp_doc_close(LspServer *s, LspDoc *d)
{
    for (size_t i = 0; i < d->n_published; i++)
        publish(s, d->published[i], NULL);
    for (LspDoc **p = &s->docs; *p; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    doc_free(d);
}

void lsp_docs_free(LspServer *s)
{
    while (s->docs) {
        LspDoc *d = s->docs;
        s->docs = d->next;
        doc_free(d);
    }
}
