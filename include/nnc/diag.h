/* Diagnostics: every user-facing error goes through here, printed as
 *   file:line:col: error: message
 *     <source line>
 *     ^~~~
 * Deep code reports and returns a status; only main.c picks exit codes. */
#ifndef NNC_DIAG_H
#define NNC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A text the diagnostics can quote from: a .nn file, a CSV file, ... */
typedef struct Source {
    const char *path; /* as given on the command line */
    const char *text; /* whole contents, NUL-terminated */
    size_t len;
} Source;

/* A position in a Source. line and col are 1-based; len is the width of the
 * offending token (the caret is followed by len-1 '~'). src == NULL means
 * "no location" (e.g. a file that could not be opened). */
typedef struct Loc {
    const Source *src;
    int line;
    int col;
    int len;
} Loc;

typedef enum DiagSeverity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagSeverity;

/* Receives every diagnostic as data, besides (or, with out == NULL, instead
 * of) the text on out: the language server publishes them from here, so the
 * CLI and the server share one source of truth. msg is the message exactly
 * as printed after "error: "; it and loc.src (a CSV file's text, say) are
 * valid only during the call, so a sink copies what it keeps. */
typedef void (*DiagSink)(void *ctx, DiagSeverity severity, Loc loc, const char *msg);

typedef struct Diag {
    FILE *out;     /* stderr in the CLI, a memstream in tests */
    int errors;
    int warnings;
    bool color;    /* bold/red when writing to a terminal and NO_COLOR unset */
    DiagSink sink; /* NULL unless diag_set_sink */
    void *sink_ctx;
} Diag;

void diag_init(Diag *d, FILE *out);
void diag_set_sink(Diag *d, DiagSink sink, void *ctx);
/* "error", "warning", "note": the word after the location. */
const char *diag_severity_name(DiagSeverity s);
void diag_error(Diag *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A note attached to the previous error, e.g. "'x' declared here". */
void diag_note(Diag *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline Loc loc_none(void) { Loc l = {0}; return l; }

/* Reads a whole file into a Source allocated with malloc. Returns false and
 * reports (without location) when the file cannot be read. */
bool source_read(Diag *d, const char *path, Source *out);
/* The same from an open stream (standard input), the Source named name. */
bool source_read_stream(Diag *d, FILE *f, const char *name, Source *out);
void source_free(Source *s);

/* The candidate nearest to name by edit distance, or NULL when none is close
 * enough to be a plausible typo. For "did you mean" hints. */
const char *suggest_nearest(const char *name, const char *const *candidates,
                            size_t n);

#endif
