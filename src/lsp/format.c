/* Formatting: the text `nnc fmt` writes (fmt_text, the same code), as one
 * edit that replaces only what changed, so the editor keeps its cursor and
 * folds outside it. A file that does not parse is not formatted: the
 * request fails with the first syntax error, which the diagnostics show
 * already. The client's options (tab size, spaces) do not apply: there is
 * one layout. */
#include <stdlib.h>
#include <string.h>

#include "nnc/fmt.h"
#include "server.h"

/* Keeps the first syntax error's message, for the failed request. */
typedef struct FirstError {
    char msg[256];
    int line, col;
} FirstError;

static void first_error(void *ctx, DiagSeverity sev, Loc loc, const char *msg)
{
    FirstError *e = ctx;
    if (sev != DIAG_ERROR || e->msg[0])
        return;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    e->line = loc.line;
    e->col = loc.col;
}

/* Whether an edit may start or end at offset off of s (n bytes): not
 * inside a UTF-8 character, and not between '\r' and '\n' (a position
 * cannot name that place: a line ends before its "\r\n"). */
static bool edit_boundary(const char *s, size_t n, size_t off)
{
    if (off == 0 || off >= n)
        return true;
    return ((unsigned char)s[off] & 0xC0) != 0x80 && !(s[off - 1] == '\r' && s[off] == '\n');
}

/* The edit that turns the document into text: the bytes between the
 * longest common prefix and suffix, widened to edit boundaries. */
static cJSON *minimal_edit(const LspDoc *d, const char *text, size_t len)
{
    size_t pre = 0, max = d->len < len ? d->len : len;
    while (pre < max && d->text[pre] == text[pre])
        pre++;
    while (!edit_boundary(d->text, d->len, pre))
        pre--; /* the prefix is common: shortening it keeps both texts in step */
    size_t suf = 0;
    while (suf < max - pre && d->text[d->len - 1 - suf] == text[len - 1 - suf])
        suf++;
    size_t old_end = d->len - suf, new_end = len - suf;
    while (!edit_boundary(d->text, d->len, old_end))
        old_end++, new_end++; /* so is the suffix */
    cJSON *edit = cJSON_CreateObject();
    LspRange r = {lsp_offset_pos(&d->lines, pre), lsp_offset_pos(&d->lines, old_end)};
    cJSON_AddItemToObject(edit, "range", lsp_json_range(r));
    char *replacement = strndup(text + pre, new_end - pre);
    cJSON_AddStringToObject(edit, "newText", replacement ? replacement : "");
    free(replacement);
    return edit;
}

cJSON *lsp_formatting(LspServer *s, const cJSON *params, int *code, const char **why)
{
    static char failure[320];
    LspDoc *d;
    if (!lsp_params_doc(s, params, &d, why)) {
        *code = RPC_INVALID_PARAMS;
        return NULL;
    }
    if (!d)
        return cJSON_CreateNull();
    FirstError err = {0};
    Diag diag;
    diag_init(&diag, NULL);
    diag_set_sink(&diag, first_error, &err);
    Arena a;
    arena_init(&a);
    size_t len = 0;
    char *text = fmt_text(&a, &diag, &d->src, &len);
    cJSON *edits = text ? cJSON_CreateArray() : NULL;
    if (text && (len != d->len || memcmp(text, d->text, len) != 0))
        cJSON_AddItemToArray(edits, minimal_edit(d, text, len));
    arena_free(&a);
    if (!edits) {
        snprintf(failure, sizeof failure, "not formatted: %d:%d: %s", err.line, err.col,
                 err.msg[0] ? err.msg : "the formatter failed");
        *code = RPC_REQUEST_FAILED;
        *why = failure;
    }
    return edits;
}
