/* Positions and URIs. nnc's diagnostics count lines from 1 and columns in
 * bytes from 1; the protocol counts both from 0 and columns in UTF-16 code
 * units, so "é" is one unit (two bytes) and "😀" two (four bytes). Every
 * conversion between the two lives here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

bool lsp_lines_init(LspLines *l, const char *text, size_t len)
{
    size_t n = 1;
    for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + len - p))); p++)
        n++;
    *l = (LspLines){text, len, malloc((n + 1) * sizeof(size_t)), n};
    if (!l->start)
        return false;
    size_t i = 0;
    l->start[i++] = 0;
    for (size_t k = 0; k < len; k++)
        if (text[k] == '\n')
            l->start[i++] = k + 1;
    l->start[n] = len + 1;
    return true;
}

void lsp_lines_free(LspLines *l)
{
    free(l->start);
    l->start = NULL;
}

const char *lsp_line(const LspLines *l, size_t i, size_t *n)
{
    if (i >= l->n) {
        *n = 0;
        return l->text + l->len;
    }
    size_t end = l->start[i + 1] - 1; /* the '\n', or the end of the text */
    size_t k = end - l->start[i];
    if (k > 0 && l->text[l->start[i] + k - 1] == '\r')
        k--;
    *n = k;
    return l->text + l->start[i];
}

/* The length of the UTF-8 character at s (n bytes left), 0 when the bytes
 * there are not one. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t lsp_utf16_col(const char *s, size_t n, size_t byte_col, bool round_up)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t units = 0, i = 0;
    if (byte_col > n)
        byte_col = n;
    while (i < byte_col) {
        size_t len = utf8_char_len(u + i, n - i);
        if (len == 0)
            len = 1; /* not UTF-8: one byte, one unit */
        size_t w = len == 4 ? 2 : 1; /* beyond U+FFFF: a surrogate pair */
        if (i + len > byte_col) /* byte_col cuts the character in two */
            return units + (round_up ? w : 0);
        units += w;
        i += len;
    }
    return units;
}

size_t lsp_utf16_to_byte(const char *s, size_t n, size_t units)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, seen = 0;
    while (i < n && seen < units) {
        size_t len = utf8_char_len(u + i, n - i);
        if (len == 0 || i + len > n)
            len = 1;
        size_t w = len == 4 ? 2 : 1;
        if (seen + w > units)
            break; /* inside a surrogate pair: the character's start */
        seen += w;
        i += len;
    }
    return i;
}

/* The range of bytes col-1 .. col-1+width of one line. */
static LspRange line_range(const char *line, size_t n, size_t lineno, Loc loc)
{
    size_t from = loc.col > 0 ? (size_t)loc.col - 1 : 0;
    size_t to = from + (loc.len > 0 ? (size_t)loc.len : 0);
    if (from > n)
        from = n;
    if (to > n)
        to = n;
    LspPos a = {lineno, lsp_utf16_col(line, n, from, false)};
    LspPos b = {lineno, lsp_utf16_col(line, n, to, true)};
    return (LspRange){a, b};
}

LspRange lsp_loc_range(const char *text, size_t len, Loc loc)
{
    if (!text || loc.line < 1)
        return (LspRange){{0, 0}, {0, 0}};
    const char *p = text, *end = text + len;
    for (int l = 1; l < loc.line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) { /* past the end: the last line's end */
            size_t n = (size_t)(end - p);
            size_t u = lsp_utf16_col(p, n, n, true);
            return (LspRange){{(size_t)l - 1, u}, {(size_t)l - 1, u}};
        }
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    return line_range(p, n, (size_t)loc.line - 1, loc);
}

LspRange lsp_lines_loc_range(const LspLines *l, Loc loc)
{
    if (loc.line < 1)
        return (LspRange){{0, 0}, {0, 0}};
    size_t i = (size_t)loc.line - 1;
    if (i >= l->n)
        i = l->n - 1;
    size_t n;
    const char *line = lsp_line(l, i, &n);
    return line_range(line, n, i, loc);
}

LspPos lsp_offset_pos(const LspLines *l, size_t offset)
{
    if (offset > l->len)
        offset = l->len;
    size_t lo = 0, hi = l->n - 1; /* the last line starting at or before offset */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (l->start[mid] <= offset)
            lo = mid;
        else
            hi = mid - 1;
    }
    size_t n;
    const char *line = lsp_line(l, lo, &n);
    return (LspPos){lo, lsp_utf16_col(line, n, offset - l->start[lo], false)};
}

bool lsp_pos_to_loc(const LspLines *l, LspPos p, int *line, int *col)
{
    if (p.line >= l->n || p.line >= INT32_MAX)
        return false;
    size_t n;
    const char *text = lsp_line(l, p.line, &n);
    size_t b = lsp_utf16_to_byte(text, n, p.character);
    if (b >= INT32_MAX)
        return false;
    *line = (int)p.line + 1;
    *col = (int)b + 1;
    return true;
}

size_t lsp_loc_offset(const LspLines *l, Loc loc)
{
    if (loc.line < 1 || (size_t)loc.line > l->n)
        return l->len;
    size_t off = l->start[loc.line - 1] + (loc.col > 0 ? (size_t)loc.col - 1 : 0);
    return off < l->len ? off : l->len;
}

/* ---- tokens ---------------------------------------------------------- */

/* A comment or a string at p (n bytes left): both end at the line's end,
 * so an unclosed one never swallows the file. *open when it reaches the
 * end of the n bytes unclosed. */
static size_t skip_len(const char *p, size_t n, LspTokKind *kind, bool *open)
{
    size_t i = 1;
    if (p[0] == '#') {
        while (i < n && p[i] != '\n')
            i++;
        *kind = TOK_NONE;
        *open = i == n;
        return i;
    }
    while (i < n && p[i] != '\n' && p[i] != '"')
        i += p[i] == '\\' && i + 1 < n && p[i + 1] != '\n' ? 2 : 1;
    *kind = TOK_STRING;
    *open = i >= n;
    return i < n && p[i] == '"' ? i + 1 : i;
}

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t lsp_token_len(const char *p, size_t n, LspTokKind *kind, bool *open)
{
    size_t i = 1;
    *open = false;
    if (p[0] == '#' || p[0] == '"')
        return skip_len(p, n, kind, open);
    if (is_letter(p[0])) {
        while (i < n && (is_letter(p[i]) || is_digit(p[i])))
            i++;
        *kind = TOK_IDENT;
        return i;
    }
    bool number = is_digit(p[0]) || (p[0] == '-' && n > 1) || (p[0] == '.' && n > 1 && is_digit(p[1]));
    if (number) { /* -1.5e-3: the exponent's sign follows an 'e' */
        while (i < n && (is_digit(p[i]) || p[i] == '.' || p[i] == 'e' || p[i] == 'E' ||
                         ((p[i] == '-' || p[i] == '+') && (p[i - 1] == 'e' || p[i - 1] == 'E'))))
            i++;
        *kind = TOK_NUMBER;
        return i;
    }
    bool space = p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r';
    *kind = space ? TOK_NONE : TOK_PUNCT;
    return 1;
}

size_t lsp_block_end(const char *text, size_t len, size_t from)
{
    int depth = 0;
    for (size_t i = from; i < len;) {
        LspTokKind kind;
        bool open;
        size_t n = lsp_token_len(text + i, len - i, &kind, &open);
        if (kind == TOK_PUNCT && text[i] == '{')
            depth++;
        if (kind == TOK_PUNCT && text[i] == '}' && depth > 0 && --depth == 0)
            return i + 1;
        i += n;
    }
    return len;
}

/* ---- URIs -------------------------------------------------------------- */

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

char *lsp_uri_to_path(const char *uri)
{
    if (strncmp(uri, "file://", 7) != 0)
        return NULL;
    const char *p = uri + 7;
    if (strncmp(p, "localhost/", 10) == 0)
        p += 9;
    if (*p != '/')
        return NULL; /* another host: not a file of ours */
    char *out = malloc(strlen(p) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *p; p++) {
        int hi = p[0] == '%' ? hex_value(p[1]) : -1, lo = hi >= 0 ? hex_value(p[2]) : -1;
        if (lo >= 0) {
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* Appends segment (n bytes) to the absolute path being built in out,
 * resolving "." and "..". */
static void push_segment(char *out, size_t *len, const char *seg, size_t n)
{
    if (n == 0 || (n == 1 && seg[0] == '.'))
        return;
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
        while (*len > 0 && out[*len - 1] != '/')
            (*len)--;
        if (*len > 0)
            (*len)--;
        return;
    }
    out[(*len)++] = '/';
    memcpy(out + *len, seg, n);
    *len += n;
}

static void push_path(char *out, size_t *len, const char *path)
{
    while (*path) {
        while (*path == '/')
            path++;
        size_t n = strcspn(path, "/");
        push_segment(out, len, path, n);
        path += n;
    }
}

char *lsp_path_to_uri(const char *path, const char *cwd)
{
    size_t cap = strlen(path) + (cwd ? strlen(cwd) : 0) + 2;
    char *abs = malloc(cap);
    char *uri = malloc(cap * 3 + 8);
    if (!abs || !uri) {
        free(abs);
        free(uri);
        return NULL;
    }
    size_t len = 0;
    if (path[0] != '/' && cwd)
        push_path(abs, &len, cwd);
    push_path(abs, &len, path);
    if (len == 0)
        abs[len++] = '/';
    abs[len] = '\0';
    static const char keep[] = "-._~/";
    size_t u = (size_t)sprintf(uri, "file://");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)abs[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     (c && strchr(keep, c));
        u += plain ? (size_t)sprintf(uri + u, "%c", c) : (size_t)sprintf(uri + u, "%%%02X", c);
    }
    free(abs);
    return uri;
}

/* ---- JSON -------------------------------------------------------------- */

cJSON *lsp_json_pos(LspPos p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "line", (double)p.line);
    cJSON_AddNumberToObject(j, "character", (double)p.character);
    return j;
}

cJSON *lsp_json_range(LspRange r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "start", lsp_json_pos(r.start));
    cJSON_AddItemToObject(j, "end", lsp_json_pos(r.end));
    return j;
}

/* A non-negative integer that fits a size_t, as JSON gives it. */
static bool json_index(const cJSON *j, size_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double v = j->valuedouble;
    if (!(v >= 0) || v > 4294967295.0 || v != (double)(size_t)v)
        return false;
    *out = (size_t)v;
    return true;
}

bool lsp_json_get_pos(const cJSON *j, LspPos *p)
{
    return cJSON_IsObject(j) && json_index(cJSON_GetObjectItemCaseSensitive(j, "line"), &p->line) &&
           json_index(cJSON_GetObjectItemCaseSensitive(j, "character"), &p->character);
}
