/* Internal to the language server (src/lsp/): the framing (rpc.c), text
 * positions and URIs (text.c), the open documents and their diagnostics
 * (docs.c), what lies under the cursor (query.c), and one file per feature
 * (hover.c, definition.c, complete.c, symbols.c, format.c); server.c
 * dispatches. */
#ifndef NNC_LSP_SERVER_H
#define NNC_LSP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "nnc/arena.h"
#include "nnc/ast.h"
#include "nnc/diag.h"
#include "nnc/ir.h"

/* ---- JSON-RPC framing (rpc.c) ----------------------------------------- */

/* JSON-RPC's and the protocol's error codes. */
enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL_ERROR = -32603,
    RPC_SERVER_NOT_INITIALIZED = -32002,
    RPC_REQUEST_FAILED = -32803, /* the protocol's: a valid request that could not be done */
};

/* Bodies above this are refused (and skipped): no .nn file comes near. */
#define LSP_MAX_MESSAGE ((size_t)256 << 20)

typedef enum RpcRead {
    RPC_READ_OK,
    RPC_READ_EOF,       /* the input ended, possibly inside a message */
    RPC_READ_BAD_FRAME, /* headers without a usable Content-Length */
} RpcRead;

/* Reads one message: headers up to an empty line, then Content-Length
 * bytes into *body (malloc'd, NUL-terminated). On RPC_READ_BAD_FRAME, *why
 * says what was wrong and reading may go on with the next message. */
RpcRead lsp_rpc_read(FILE *in, char **body, size_t *len, const char **why);
/* Writes msg framed, and flushes; false when out failed. */
bool lsp_rpc_write(FILE *out, const cJSON *msg);

/* ---- positions and URIs (text.c) -------------------------------------- */

/* An LSP position: 0-based line, and column in UTF-16 code units. */
typedef struct LspPos {
    size_t line, character;
} LspPos;

typedef struct LspRange {
    LspPos start, end;
} LspRange;

/* A text's lines: where each starts, so that converting a position costs
 * one line's length. Lines end at '\n' only, as the scanner counts them. */
typedef struct LspLines {
    const char *text;
    size_t len;
    size_t *start;      /* n + 1 offsets: start[n] == len + 1 */
    size_t n;
} LspLines;

bool lsp_lines_init(LspLines *l, const char *text, size_t len);
void lsp_lines_free(LspLines *l);
/* The bytes of line i (0-based) without its '\n' (and a '\r' before it). */
const char *lsp_line(const LspLines *l, size_t i, size_t *n);

/* The UTF-16 column of byte byte_col of a line s of n bytes: the code
 * units before it. A character that byte_col cuts in two counts whole when
 * round_up, not at all otherwise; bytes that are not UTF-8 count one unit
 * each. */
size_t lsp_utf16_col(const char *s, size_t n, size_t byte_col, bool round_up);
/* The byte offset in s (n bytes) of UTF-16 column units; the start of a
 * character a column falls inside, n past the end. */
size_t lsp_utf16_to_byte(const char *s, size_t n, size_t units);

/* A diagnostic's Loc (1-based line and byte column, a byte width) as a
 * range in the text it points into; line 0 (the whole file) is 0:0-0:0. */
LspRange lsp_loc_range(const char *text, size_t len, Loc loc);
/* The same through a line index. */
LspRange lsp_lines_loc_range(const LspLines *l, Loc loc);
/* A byte offset of the text as a position. */
LspPos lsp_offset_pos(const LspLines *l, size_t offset);
/* A position as a 1-based line and byte column; false past the end. */
bool lsp_pos_to_loc(const LspLines *l, LspPos p, int *line, int *col);
/* A Loc's start as a byte offset of the text (len when past the end). */
size_t lsp_loc_offset(const LspLines *l, Loc loc);

/* A rough token of .nn text, for scans of text that need not parse
 * (completion, the ends of blocks): enough to tell comments, strings,
 * names, numbers and punctuation apart. */
typedef enum LspTokKind { TOK_NONE, TOK_IDENT, TOK_NUMBER, TOK_STRING, TOK_PUNCT } LspTokKind;
/* The token at p (n bytes left): its length and kind (TOK_NONE for space
 * and comments); *open when the n bytes end inside a comment or a string. */
size_t lsp_token_len(const char *p, size_t n, LspTokKind *kind, bool *open);
/* The offset just after the '}' that closes the '{' at or after from (the
 * first one outside comments and strings), or len when none does. */
size_t lsp_block_end(const char *text, size_t len, size_t from);

/* "file:///a%20b/x.nn" -> "/a b/x.nn" (malloc'd); NULL for other schemes. */
char *lsp_uri_to_path(const char *uri);
/* path (relative to cwd when not absolute) as a file:// URI, with "." and
 * ".." segments resolved (malloc'd). */
char *lsp_path_to_uri(const char *path, const char *cwd);

cJSON *lsp_json_pos(LspPos p);
cJSON *lsp_json_range(LspRange r);
/* A position from {"line": L, "character": C}; false when malformed. */
bool lsp_json_get_pos(const cJSON *j, LspPos *p);

/* ---- documents (docs.c) ----------------------------------------------- */

/* One open document and what the front end made of its last text. */
typedef struct LspDoc {
    char *uri;          /* as the client names it */
    char *path;         /* as diagnostics name it: relative to the cwd when under it */
    char *text;
    size_t len;
    LspLines lines;
    Arena arena;        /* the AST and IR of the text */
    Source src;
    AstFile *ast;       /* what parsed (tolerant), or NULL */
    IrProgram *prog;    /* the checked program, when the text has no error */
    char **published;   /* URIs given diagnostics last time, to clear */
    size_t n_published;
    struct LspDoc *next;
} LspDoc;

typedef struct LspServer {
    FILE *out;
    bool initialized, shutdown, exit;
    /* What the client said it supports (initialize). */
    bool related_info, hierarchical_symbols, markdown;
    char *cwd;          /* relative paths in messages are relative to it */
    LspDoc *docs;
} LspServer;

LspDoc *lsp_doc_find(LspServer *s, const char *uri);
/* Opens (or replaces) a document with text and publishes its diagnostics. */
bool lsp_doc_open(LspServer *s, const char *uri, const char *text, size_t len);
/* New text for an open document; re-checks it and publishes. */
bool lsp_doc_update(LspServer *s, LspDoc *d, const char *text, size_t len);
/* Clears its diagnostics and forgets it. */
void lsp_doc_close(LspServer *s, LspDoc *d);
void lsp_docs_free(LspServer *s);

/* Sends a notification (takes params). */
void lsp_notify(LspServer *s, const char *method, cJSON *params);

/* ---- what is under the cursor (query.c) ------------------------------- */

typedef enum LspHitKind {
    HIT_NONE,
    HIT_DECL,       /* the name a dataset or model declares */
    HIT_MODEL_USE,  /* the model of a train or evaluate */
    HIT_DATA_USE,   /* its dataset (or a part: digits.test) */
    HIT_LAYER,      /* a layer line's name, kind or activation */
    HIT_SHOW,       /* the layer named by `show = LAYER` */
} LspHitKind;

typedef struct LspHit {
    LspHitKind kind;
    const AstDecl *decl;    /* the declaration the cursor is in */
    const AstLayer *layer;  /* HIT_LAYER */
    const AstValue *value;  /* HIT_SHOW: the layer's name */
    Loc loc;                /* the token under the cursor */
} LspHit;

/* What the cursor (1-based line and byte column) touches; the end of a
 * token still counts, as an editor puts the cursor after a word. */
LspHit lsp_hit_at(const AstFile *f, int line, int col);
/* The first declaration of kind k named name, or NULL. */
const AstDecl *lsp_find_decl(const AstFile *f, AstDeclKind k, const char *name);

/* A model's checked IR: from the document's program, or, when the file has
 * errors, from lowering the declaration alone into scratch (NULL when the
 * model itself has errors). */
const IrModel *lsp_model_ir(const LspDoc *d, const AstDecl *model, Arena *scratch);
/* A model with errors checked only up to the line last (a model is a
 * chain: what comes after cannot change the shapes up to there); NULL when
 * those lines have errors too. */
const IrModel *lsp_model_ir_upto(const LspDoc *d, const AstDecl *model, const AstLayer *last,
                                 Arena *scratch);
/* A dataset's IrDatasets: whole, and its train and test parts when split
 * (NULL otherwise); false when the dataset has errors. */
bool lsp_dataset_ir(const LspDoc *d, const AstDecl *data, Arena *scratch,
                    const IrDataset **whole, const IrDataset **train, const IrDataset **test);
/* The nodes of layer `layer` (they are consecutive): *count of them from
 * *first, 0 when the model has none. */
void lsp_layer_nodes(const IrModel *m, const char *layer, size_t *first, size_t *count);
/* The nodes of an AST line, found by the Loc the lowering gives a line's
 * first node. */
void lsp_line_nodes(const IrModel *m, const AstLayer *l, size_t *first, size_t *count);
/* The layer name of a line: its own, or the one the lowering gave it. */
const char *lsp_layer_name(const IrModel *m, const AstLayer *l);

/* ---- features --------------------------------------------------------- */

/* Each returns the result (JSON null when there is nothing to say) or
 * NULL with *code and *why set for an error response. */
typedef cJSON *LspRequestFn(LspServer *s, const cJSON *params, int *code, const char **why);

LspRequestFn lsp_hover, lsp_definition, lsp_completion, lsp_document_symbol, lsp_formatting;

/* The document and position a request names (textDocument, position);
 * false with *why when params are malformed. *doc is NULL for a document
 * that is not open (the request then answers null). */
bool lsp_params_doc_pos(LspServer *s, const cJSON *params, LspDoc **doc, LspPos *pos,
                        const char **why);
bool lsp_params_doc(LspServer *s, const cJSON *params, LspDoc **doc, const char **why);

#endif
