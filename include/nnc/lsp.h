/* The language server (`nnc lsp`): the Language Server Protocol over a
 * pair of streams, JSON-RPC messages framed by Content-Length headers.
 * Capabilities and editor set-up: docs/lsp.md. */
#ifndef NNC_LSP_H
#define NNC_LSP_H

#include <stdio.h>

/* Serves requests from in, answering on out, until the client's `exit`
 * notification or the end of in. Returns the process's exit status: 0 when
 * a `shutdown` request came first, 1 otherwise (as the protocol asks). */
int lsp_serve(FILE *in, FILE *out);

#endif
