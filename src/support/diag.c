/* Diagnostics: file:line:col: error: message, the source line, a caret. */
#include "nnc/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void diag_init(Diag *d, FILE *out)
{
    d->out = out;
    d->errors = 0;
    d->warnings = 0;
    const char *no_color = getenv("NO_COLOR");
    d->color = out && isatty(fileno(out)) && !(no_color && *no_color);
    d->sink = NULL;
    d->sink_ctx = NULL;
}

void diag_set_sink(Diag *d, DiagSink sink, void *ctx)
{
    d->sink = sink;
    d->sink_ctx = ctx;
}

const char *diag_severity_name(DiagSeverity s)
{
    switch (s) {
    case DIAG_ERROR: return "error";
    case DIAG_WARNING: return "warning";
    case DIAG_NOTE: break;
    }
    return "note";
}

static const char *sgr(const Diag *d, const char *code) { return d->color ? code : ""; }

/* Finds the start and length of line `line` (1-based) in src. */
static bool source_line(const Source *src, int line, const char **start, size_t *len)
{
    const char *p = src->text, *end = src->text + src->len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *start = p;
    *len = n;
    return true;
}

/* Prints the quoted source line and a caret under columns col..col+len-1.
 * Tabs in the prefix are copied so the caret lines up in a terminal. */
static void print_excerpt(Diag *d, Loc loc)
{
    const char *line;
    size_t n;
    if (!loc.src || loc.line < 1 || !source_line(loc.src, loc.line, &line, &n))
        return;
    /* Long lines are cut, not dumped whole: at most MAX_SHOWN bytes, in a
     * window that starts 80 bytes before the caret when it lies further. */
    enum { MAX_SHOWN = 200, BEFORE = 80 };
    size_t col = loc.col > 0 ? (size_t)loc.col - 1 : 0;
    if (col > n)
        col = n;
    size_t first = n > MAX_SHOWN && col + BEFORE > MAX_SHOWN ? col - BEFORE : 0;
    size_t shown = n - first < MAX_SHOWN ? n - first : MAX_SHOWN;
    const char *lead = first ? "... " : "";
    fprintf(d->out, "    %s%.*s%s\n", lead, (int)shown, line + first, first + shown < n ? " ..." : "");
    fputs(first ? "        " : "    ", d->out);
    for (size_t i = first; i < col; i++)
        fputc(line[i] == '\t' ? '\t' : ' ', d->out);
    fprintf(d->out, "%s^", sgr(d, "\033[1;32m"));
    for (int i = 1; i < loc.len && col + (size_t)i < first + shown; i++)
        fputc('~', d->out);
    fprintf(d->out, "%s\n", sgr(d, "\033[0m"));
}

/* The colour of each severity's word. */
static const char *severity_color(DiagSeverity s)
{
    switch (s) {
    case DIAG_ERROR: return "\033[1;31m";
    case DIAG_WARNING: return "\033[1;35m";
    case DIAG_NOTE: break;
    }
    return "\033[1;36m";
}

/* Formats the message once, so that the sink and the text on out carry the
 * same words. */
static void report(Diag *d, Loc loc, DiagSeverity sev, const char *fmt, va_list ap)
{
    if (!d->out && !d->sink)
        return;
    /* A message quoting a megabyte-long token is cut too. */
    char msg[1024 + 3];
    int len = vsnprintf(msg, 1024, fmt, ap);
    if (len >= 1024)
        memcpy(msg + 1023, "...", 4);
    if (d->sink)
        d->sink(d->sink_ctx, sev, loc, msg);
    if (!d->out)
        return;
    fputs(sgr(d, "\033[1m"), d->out);
    if (loc.src && loc.line > 0)
        fprintf(d->out, "%s:%d:%d: ", loc.src->path, loc.line, loc.col);
    else if (loc.src)
        fprintf(d->out, "%s: ", loc.src->path);
    else
        fputs("nnc: ", d->out);
    fprintf(d->out, "%s%s:%s%s ", sgr(d, severity_color(sev)), diag_severity_name(sev),
            sgr(d, "\033[0m"), sgr(d, "\033[1m"));
    fprintf(d->out, "%s%s\n", msg, sgr(d, "\033[0m"));
    print_excerpt(d, loc);
}

void diag_error(Diag *d, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, DIAG_ERROR, fmt, ap);
    va_end(ap);
    d->errors++;
}

void diag_warning(Diag *d, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, DIAG_WARNING, fmt, ap);
    va_end(ap);
    d->warnings++;
}

void diag_note(Diag *d, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, loc, DIAG_NOTE, fmt, ap);
    va_end(ap);
}

bool source_read(Diag *d, const char *path, Source *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, loc_none(), "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    bool ok = source_read_stream(d, f, path, out);
    fclose(f);
    return ok;
}

bool source_read_stream(Diag *d, FILE *f, const char *name, Source *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (ferror(f) || len < cap - 1)
            break;
        char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (!buf || ferror(f)) {
        free(buf);
        diag_error(d, loc_none(), "cannot read '%s'", name);
        return false;
    }
    buf[len] = '\0';
    out->path = name;
    out->text = buf;
    out->len = len;
    return true;
}

void source_free(Source *s)
{
    free((char *)s->text);
    s->text = NULL;
}
