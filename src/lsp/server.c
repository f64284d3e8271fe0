/* The server loop: one message at a time, in order. JSON-RPC's rules (a
 * malformed message gets an error response with id null, a notification
 * never gets one) and the protocol's lifecycle (nothing before
 * `initialize` but `exit`, nothing after `shutdown` but `exit`) are
 * checked here, before any feature sees a message. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnc/lsp.h"
#include "nnc/version.h"
#include "server.h"

/* ---- messages out ------------------------------------------------------ */

static cJSON *new_message(void)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
    return msg;
}

static void send(LspServer *s, cJSON *msg)
{
    lsp_rpc_write(s->out, msg);
    cJSON_Delete(msg);
}

/* id is the request's (copied), or NULL for a message whose id is unknown. */
static void reply(LspServer *s, const cJSON *id, cJSON *result)
{
    cJSON *msg = new_message();
    cJSON_AddItemToObject(msg, "id", id ? cJSON_Duplicate(id, false) : cJSON_CreateNull());
    cJSON_AddItemToObject(msg, "result", result ? result : cJSON_CreateNull());
    send(s, msg);
}

static void reply_error(LspServer *s, const cJSON *id, int code, const char *why)
{
    cJSON *msg = new_message();
    cJSON_AddItemToObject(msg, "id", id ? cJSON_Duplicate(id, false) : cJSON_CreateNull());
    cJSON *err = cJSON_AddObjectToObject(msg, "error");
    cJSON_AddNumberToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", why);
    send(s, msg);
}

void lsp_notify(LspServer *s, const char *method, cJSON *params)
{
    cJSON *msg = new_message();
    cJSON_AddStringToObject(msg, "method", method);
    cJSON_AddItemToObject(msg, "params", params);
    send(s, msg);
}

/* ---- parameters -------------------------------------------------------- */

static const cJSON *get(const cJSON *j, const char *key)
{
    return cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
}

/* j.a.b.c..., NULL-terminated path of keys; NULL when any is missing. */
static const cJSON *get_path(const cJSON *j, const char *const *keys)
{
    for (; j && *keys; keys++)
        j = get(j, *keys);
    return j;
}

bool lsp_params_doc(LspServer *s, const cJSON *params, LspDoc **doc, const char **why)
{
    const cJSON *uri = get(get(params, "textDocument"), "uri");
    if (!cJSON_IsString(uri)) {
        *why = "params.textDocument.uri must be a string";
        return false;
    }
    *doc = lsp_doc_find(s, uri->valuestring);
    if (*doc && !(*doc)->lines.start)
        *doc = NULL; /* its last check ran out of memory */
    return true;
}

bool lsp_params_doc_pos(LspServer *s, const cJSON *params, LspDoc **doc, LspPos *pos,
                        const char **why)
{
    if (!lsp_params_doc(s, params, doc, why))
        return false;
    if (!lsp_json_get_pos(get(params, "position"), pos)) {
        *why = "params.position must be {line, character} with non-negative integers";
        return false;
    }
    return true;
}

/* ---- lifecycle --------------------------------------------------------- */

static bool client_has(const cJSON *caps, const char *const *keys)
{
    return cJSON_IsTrue(get_path(caps, keys));
}

static void read_client_caps(LspServer *s, const cJSON *caps)
{
    static const char *const related[] = {"textDocument", "publishDiagnostics",
                                          "relatedInformation", NULL};
    static const char *const symbols[] = {"textDocument", "documentSymbol",
                                          "hierarchicalDocumentSymbolSupport", NULL};
    static const char *const hover[] = {"textDocument", "hover", "contentFormat", NULL};
    s->related_info = client_has(caps, related);
    s->hierarchical_symbols = client_has(caps, symbols);
    const cJSON *formats = get_path(caps, hover);
    for (const cJSON *f = cJSON_IsArray(formats) ? formats->child : NULL; f; f = f->next)
        if (cJSON_IsString(f) && strcmp(f->valuestring, "markdown") == 0)
            s->markdown = true;
}

/* Exactly what the server implements. */
static cJSON *server_capabilities(void)
{
    cJSON *caps = cJSON_CreateObject();
    cJSON *sync = cJSON_AddObjectToObject(caps, "textDocumentSync");
    cJSON_AddBoolToObject(sync, "openClose", true);
    cJSON_AddNumberToObject(sync, "change", 1); /* Full: every change sends the whole text */
    cJSON_AddBoolToObject(caps, "hoverProvider", true);
    cJSON_AddBoolToObject(caps, "definitionProvider", true);
    cJSON_AddBoolToObject(caps, "documentSymbolProvider", true);
    cJSON_AddBoolToObject(caps, "documentFormattingProvider", true);
    cJSON *completion = cJSON_AddObjectToObject(caps, "completionProvider");
    /* After ',' an activation, after '=' a value, after ':' a layer kind,
     * after '.' a dataset's part. */
    cJSON *triggers = cJSON_AddArrayToObject(completion, "triggerCharacters");
    static const char *const chars[] = {",", "=", ":", "."};
    for (size_t i = 0; i < 4; i++)
        cJSON_AddItemToArray(triggers, cJSON_CreateString(chars[i]));
    return caps;
}

static cJSON *handle_initialize(LspServer *s, const cJSON *params, int *code, const char **why)
{
    if (!cJSON_IsObject(params)) {
        *code = RPC_INVALID_PARAMS;
        *why = "initialize needs params with the client's capabilities";
        return NULL;
    }
    read_client_caps(s, get(params, "capabilities"));
    s->initialized = true;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "capabilities", server_capabilities());
    cJSON *info = cJSON_AddObjectToObject(r, "serverInfo");
    cJSON_AddStringToObject(info, "name", "nnc");
    cJSON_AddStringToObject(info, "version", NNC_VERSION);
    return r;
}

static cJSON *handle_shutdown(LspServer *s, const cJSON *params, int *code, const char **why)
{
    (void)params, (void)code, (void)why;
    s->shutdown = true;
    return cJSON_CreateNull();
}

/* ---- text synchronisation ---------------------------------------------- */

static void did_open(LspServer *s, const cJSON *params)
{
    const cJSON *doc = get(params, "textDocument");
    const cJSON *uri = get(doc, "uri"), *text = get(doc, "text");
    if (cJSON_IsString(uri) && cJSON_IsString(text))
        lsp_doc_open(s, uri->valuestring, text->valuestring, strlen(text->valuestring));
}

/* Full synchronisation: the last change carries the whole text. */
static void did_change(LspServer *s, const cJSON *params)
{
    LspDoc *d;
    const char *why;
    const cJSON *changes = get(params, "contentChanges");
    const cJSON *text = get(cJSON_IsArray(changes) ? cJSON_GetArrayItem(changes,
                                  cJSON_GetArraySize(changes) - 1) : NULL, "text");
    if (lsp_params_doc(s, params, &d, &why) && d && cJSON_IsString(text))
        lsp_doc_update(s, d, text->valuestring, strlen(text->valuestring));
}

static void did_close(LspServer *s, const cJSON *params)
{
    LspDoc *d;
    const char *why;
    if (lsp_params_doc(s, params, &d, &why) && d)
        lsp_doc_close(s, d);
}

static void ignore(LspServer *s, const cJSON *params)
{
    (void)s, (void)params;
}

/* ---- dispatch ---------------------------------------------------------- */

typedef void LspNotifyFn(LspServer *s, const cJSON *params);

typedef struct Method {
    const char *name;
    LspRequestFn *request;  /* exactly one of the two */
    LspNotifyFn *notify;
} Method;

static const Method methods[] = {
    {"initialize", handle_initialize, NULL},
    {"shutdown", handle_shutdown, NULL},
    {"textDocument/hover", lsp_hover, NULL},
    {"textDocument/definition", lsp_definition, NULL},
    {"textDocument/completion", lsp_completion, NULL},
    {"textDocument/documentSymbol", lsp_document_symbol, NULL},
    {"textDocument/formatting", lsp_formatting, NULL},
    {"initialized", NULL, ignore},
    {"textDocument/didOpen", NULL, did_open},
    {"textDocument/didChange", NULL, did_change},
    {"textDocument/didClose", NULL, did_close},
    {"$/cancelRequest", NULL, ignore}, /* every request is answered before the next is read */
};

static const Method *find_method(const char *name)
{
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    return NULL;
}

/* Why the lifecycle refuses a request now, or NULL; *code is its error. */
static const char *refused(const LspServer *s, const char *method, int *code)
{
    bool initialize = strcmp(method, "initialize") == 0;
    *code = RPC_INVALID_REQUEST;
    if (!s->initialized && !initialize) {
        *code = RPC_SERVER_NOT_INITIALIZED;
        return "the server is not initialized";
    }
    if (s->initialized && initialize)
        return "initialize may be sent only once";
    if (s->shutdown)
        return "the server is shutting down";
    return NULL;
}

/* A request (id given) through the lifecycle rules to its handler. */
static void dispatch_request(LspServer *s, const cJSON *id, const char *method,
                             const cJSON *params)
{
    const Method *m = find_method(method);
    int code = RPC_INTERNAL_ERROR;
    const char *why = refused(s, method, &code);
    if (!why && (!m || !m->request)) {
        code = RPC_METHOD_NOT_FOUND;
        why = "method not found";
    }
    cJSON *result = NULL;
    if (!why) {
        code = RPC_INTERNAL_ERROR;
        why = "internal error";
        result = m->request(s, params, &code, &why);
    }
    if (result)
        reply(s, id, result);
    else
        reply_error(s, id, code, why);
}

static void dispatch_notification(LspServer *s, const char *method, const cJSON *params)
{
    if (strcmp(method, "exit") == 0) {
        s->exit = true;
        return;
    }
    const Method *m = find_method(method);
    /* Before initialize every notification but exit is dropped; unknown
     * ones ($/setTrace, ...) always are. */
    if (s->initialized && m && m->notify)
        m->notify(s, params);
}

/* What is wrong with the message's envelope, or NULL. */
static const char *malformed(const cJSON *msg)
{
    if (!cJSON_IsObject(msg))
        return "a message must be a JSON object";
    const cJSON *id = get(msg, "id"), *version = get(msg, "jsonrpc");
    if (id && !cJSON_IsNumber(id) && !cJSON_IsString(id))
        return "id must be a number or a string";
    if (!cJSON_IsString(version) || strcmp(version->valuestring, "2.0") != 0)
        return "jsonrpc must be \"2.0\"";
    if (!cJSON_IsString(get(msg, "method")))
        return "method must be a string";
    return NULL;
}

static void dispatch(LspServer *s, const cJSON *msg)
{
    const cJSON *id = get(msg, "id"), *method = get(msg, "method");
    const cJSON *params = get(msg, "params");
    if (!method && id && (get(msg, "result") || get(msg, "error")))
        return; /* a response: the server sends no requests, so nothing waits for it */
    const char *why = malformed(msg);
    if (why) {
        /* The id is echoed only when it is a valid one. */
        bool good_id = id && (cJSON_IsNumber(id) || cJSON_IsString(id));
        reply_error(s, good_id ? id : NULL, RPC_INVALID_REQUEST, why);
        return;
    }
    if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params)) {
        if (id)
            reply_error(s, id, RPC_INVALID_PARAMS, "params must be an object or an array");
        return;
    }
    if (id)
        dispatch_request(s, id, method->valuestring, params);
    else
        dispatch_notification(s, method->valuestring, params);
}

/* Only white space may follow the JSON value. */
static bool only_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p >= end;
}

static void handle(LspServer *s, const char *body, size_t len)
{
    const char *end = NULL;
    cJSON *msg = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (msg && (!end || !only_space(end, body + len))) {
        cJSON_Delete(msg);
        msg = NULL;
    }
    if (!msg) {
        reply_error(s, NULL, RPC_PARSE_ERROR, "invalid JSON");
        return;
    }
    dispatch(s, msg);
    cJSON_Delete(msg);
}

int lsp_serve(FILE *in, FILE *out)
{
    LspServer s = {.out = out};
    s.cwd = getcwd(NULL, 0);
    while (!s.exit) {
        char *body;
        size_t len;
        const char *why;
        RpcRead r = lsp_rpc_read(in, &body, &len, &why);
        if (r == RPC_READ_EOF)
            break;
        if (r == RPC_READ_BAD_FRAME)
            reply_error(&s, NULL, RPC_PARSE_ERROR, why);
        else
            handle(&s, body, len);
        free(body);
    }
    lsp_docs_free(&s);
    free(s.cwd);
    return s.shutdown ? 0 : 1;
}
