/* libFuzzer harness for the language server: the input is a document's
 * text (as fuzz_nn.h names and filters it); one session opens it, asks for
 * hover, definition and completion at the start, middle and end of each of
 * its first lines and just past them, for its symbols and its formatting,
 * changes it to its first half and asks again, then shuts down. Whatever
 * the text, the server must answer every request and leave nothing behind
 * (ASan, UBSan). */
#include <cjson/cJSON.h>

#include "nnc/lsp.h"
#include "fuzz_nn.h"

static char uri[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char dir[] = "/tmp/nnc-fuzz-lsp-XXXXXX";
    fuzz_nn_init(dir);
    snprintf(uri, sizeof uri, "file://%s", nn_path);
    return 0;
}

static void put(FILE *f, cJSON *msg)
{
    cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
    char *text = cJSON_PrintUnformatted(msg);
    if (text)
        fprintf(f, "Content-Length: %zu\r\n\r\n%s", strlen(text), text);
    free(text);
    cJSON_Delete(msg);
}

static cJSON *request(int id, const char *method)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "id", id);
    cJSON_AddStringToObject(m, "method", method);
    return m;
}

static cJSON *doc_params(cJSON *msg)
{
    cJSON *p = cJSON_AddObjectToObject(msg, "params");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "textDocument"), "uri", uri);
    return p;
}

static void ask_at(FILE *f, int *id, size_t line, size_t character)
{
    static const char *const methods[] = {"textDocument/hover", "textDocument/definition",
                                          "textDocument/completion"};
    for (size_t i = 0; i < 3; i++) {
        cJSON *m = request((*id)++, methods[i]);
        cJSON *pos = cJSON_AddObjectToObject(doc_params(m), "position");
        cJSON_AddNumberToObject(pos, "line", (double)line);
        cJSON_AddNumberToObject(pos, "character", (double)character);
        put(f, m);
    }
}

/* Requests over the first lines of text, and its symbols. */
static void ask_all(FILE *f, int *id, const char *text)
{
    enum { MAX_LINES = 24 };
    size_t line = 0;
    for (const char *p = text; line < MAX_LINES; line++) {
        size_t n = strcspn(p, "\n");
        size_t at[] = {0, n / 2, n, n + 3};
        for (size_t k = 0; k < 4; k++)
            ask_at(f, id, line, at[k]);
        if (!p[n])
            break;
        p += n + 1;
    }
    static const char *const whole[] = {"textDocument/documentSymbol",
                                        "textDocument/formatting"};
    for (size_t i = 0; i < 2; i++) {
        cJSON *m = request((*id)++, whole[i]);
        doc_params(m);
        put(f, m);
    }
}

static void session(FILE *f, char *text, size_t size)
{
    int id = 1;
    cJSON *init = request(id++, "initialize");
    cJSON *caps = cJSON_AddObjectToObject(cJSON_AddObjectToObject(init, "params"), "capabilities");
    cJSON *td = cJSON_AddObjectToObject(caps, "textDocument");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(td, "publishDiagnostics"), "relatedInformation", 1);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(td, "documentSymbol"),
                          "hierarchicalDocumentSymbolSupport", size % 2);
    put(f, init);
    cJSON *open = cJSON_CreateObject();
    cJSON_AddStringToObject(open, "method", "textDocument/didOpen");
    cJSON *doc = cJSON_AddObjectToObject(doc_params(open), "textDocument");
    cJSON_AddStringToObject(doc, "text", text);
    put(f, open);
    ask_all(f, &id, text);
    text[size / 2] = '\0';
    cJSON *change = cJSON_CreateObject();
    cJSON_AddStringToObject(change, "method", "textDocument/didChange");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "text", text);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(doc_params(change), "contentChanges"), item);
    put(f, change);
    ask_all(f, &id, text);
    put(f, request(id++, "shutdown"));
    cJSON *exit_msg = cJSON_CreateObject();
    cJSON_AddStringToObject(exit_msg, "method", "exit");
    put(f, exit_msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Source src;
    char *text = fuzz_nn_source(data, size, &src);
    if (!text)
        return -1;
    char *in = NULL;
    size_t in_len = 0;
    FILE *f = open_memstream(&in, &in_len);
    if (f) {
        session(f, text, size);
        fclose(f);
    }
    FILE *r = in ? fmemopen(in, in_len, "rb") : NULL;
    if (r) {
        lsp_serve(r, sink);
        fclose(r);
    }
    free(in);
    free(text);
    return 0;
}
