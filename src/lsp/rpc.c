/* JSON-RPC framing on a byte stream: "Content-Length: N\r\n\r\n" then N
 * bytes of JSON. Malformed headers are data, not a crash: the caller
 * answers them with a parse error and reads on. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The value of a Content-Length header anywhere in line (the last one), so
 * that after garbage without a newline the next real header still counts;
 * -1 when line has none, -2 when its value is not a byte count. */
static long long header_length(const char *line)
{
    static const char name[] = "content-length:";
    const char *found = NULL;
    for (const char *p = line; *p; p++) {
        size_t i = 0;
        while (name[i] && tolower((unsigned char)p[i]) == name[i])
            i++;
        if (!name[i])
            found = p + i;
    }
    if (!found)
        return -1;
    while (*found == ' ' || *found == '\t')
        found++;
    if (!isdigit((unsigned char)*found))
        return -2;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(found, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end || v > (unsigned long long)INT64_MAX)
        return -2;
    return (long long)v;
}

/* Reads the header block; *length is its Content-Length, -1 when missing
 * and -2 when unreadable. false at the end of the input. */
static bool read_headers(FILE *in, long long *length)
{
    char *line = NULL;
    size_t cap = 0;
    bool any = false;
    *length = -1;
    for (;;) {
        ssize_t n = getline(&line, &cap, in);
        if (n < 0) {
            free(line);
            return false;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 && any)
            break;
        if (n == 0)
            continue; /* blank lines between messages are harmless */
        any = true;
        long long v = header_length(line);
        if (v != -1)
            *length = v;
    }
    free(line);
    return true;
}

/* Skips n bytes of a body we refuse; false when the input ends first. */
static bool skip_bytes(FILE *in, unsigned long long n)
{
    char buf[4096];
    while (n > 0) {
        size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        if (got == 0)
            return false;
        n -= got;
    }
    return true;
}

RpcRead lsp_rpc_read(FILE *in, char **body, size_t *len, const char **why)
{
    *body = NULL;
    *len = 0;
    *why = NULL;
    long long length;
    if (!read_headers(in, &length))
        return RPC_READ_EOF;
    if (length < 0) {
        *why = length == -1 ? "missing Content-Length header" : "invalid Content-Length header";
        return RPC_READ_BAD_FRAME;
    }
    if ((unsigned long long)length > LSP_MAX_MESSAGE) {
        *why = "message too large";
        return skip_bytes(in, (unsigned long long)length) ? RPC_READ_BAD_FRAME : RPC_READ_EOF;
    }
    char *buf = malloc((size_t)length + 1);
    if (!buf) {
        *why = "out of memory";
        return skip_bytes(in, (unsigned long long)length) ? RPC_READ_BAD_FRAME : RPC_READ_EOF;
    }
    if (fread(buf, 1, (size_t)length, in) != (size_t)length) {
        free(buf);
        return RPC_READ_EOF;
    }
    buf[length] = '\0';
    *body = buf;
    *len = (size_t)length;
    return RPC_READ_OK;
}

bool lsp_rpc_write(FILE *out, const cJSON *msg)
{
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return false;
    size_t n = strlen(text);
    bool ok = fprintf(out, "Content-Length: %zu\r\n\r\n", n) > 0 && fwrite(text, 1, n, out) == n;
    free(text);
    return fflush(out) == 0 && ok;
}
