/* Strict numeric CSV reader for data sets. One pass over the file, a line
 * at a time, straight into a geometrically grown float array: no per-field
 * allocation, no copy of the text. Positions are kept as one byte offset per
 * row; the text is read again only when a diagnostic has to quote it. */
#include "nnc/csv.h"
#include "nnc/arena.h"

#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { SRC_UNLOADED, SRC_LOADED, SRC_MISSING };

/* ---- Numbers ------------------------------------------------------------ */

/* The decimal syntax the reader accepts, split into an exact integer
 * mantissa and a power of ten when that fits in 19 digits. */
typedef struct Decimal {
    bool neg;
    bool long_mantissa; /* more than 19 significant digits */
    uint64_t mant;
    long exp10;
} Decimal;

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?, nothing else:
 * no "nan", "inf", hex, spaces or locale decimal commas. */
static bool scan_decimal(const char *s, size_t n, Decimal *dec)
{
    memset(dec, 0, sizeof *dec);
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        dec->neg = s[i++] == '-';
    int sig = 0, digits = 0;
    bool point = false;
    for (; i < n; i++) {
        if (s[i] == '.' && !point) {
            point = true;
            continue;
        }
        if (!is_digit(s[i]))
            break;
        digits++;
        unsigned dig = (unsigned)(s[i] - '0');
        if (dec->mant == 0 && dig == 0) { /* leading zero: not significant */
            dec->exp10 -= point;
            continue;
        }
        if (sig == 19) {
            dec->long_mantissa = true;
            continue;
        }
        dec->mant = dec->mant * 10 + dig;
        sig++;
        dec->exp10 -= point;
    }
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i == n || !is_digit(s[i]))
            return false;
        long e = 0;
        for (; i < n && is_digit(s[i]); i++)
            if (e < 100000) /* far beyond any float; stops overflow */
                e = e * 10 + (s[i] - '0');
        dec->exp10 += eneg ? -e : e;
    }
    return i == n;
}

/* The exact float for dec when arithmetic can give it: one correctly
 * rounded IEEE operation on exact operands (Clinger's fast path). False when
 * the slow path must decide. */
static bool decimal_fast(const Decimal *dec, float *out)
{
#if FLT_EVAL_METHOD == 0
    static const float p10f[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
    static const double p10d[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                  1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (dec->long_mantissa)
        return false;
    long e = dec->exp10;
    float f;
    if (dec->mant == 0) {
        f = 0.0f;
    } else if (dec->mant <= (1u << 24) && e >= -10 && e <= 10) {
        f = e < 0 ? (float)dec->mant / p10f[-e] : (float)dec->mant * p10f[e];
    } else if (dec->mant <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        double x = e < 0 ? (double)dec->mant / p10d[-e] : (double)dec->mant * p10d[e];
        f = (float)x;
        if (isinf(f) || f == 0.0f)
            return false; /* overflow or underflow: let strtof decide */
        /* Rounding twice (to double, then to float) goes wrong only when
         * the double lands exactly halfway between two floats. */
        if ((double)f != x) {
            float g = nextafterf(f, x > f ? INFINITY : -INFINITY);
            if (((double)f + (double)g) / 2 == x)
                return false;
        }
    } else {
        return false;
    }
    *out = dec->neg ? -f : f;
    return true;
#else
    (void)dec;
    (void)out;
    return false;
#endif
}

/* strtof under the C locale (the thread's locale is restored), for what the
 * fast path cannot do. c may be (locale_t)0 when newlocale failed; then the
 * end-pointer check still refuses a misread number. */
static bool decimal_slow(const char *s, size_t n, locale_t c, float *out, bool *overflow)
{
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    locale_t old = c ? uselocale(c) : (locale_t)0;
    char *end;
    float f = strtof(buf, &end);
    if (c)
        uselocale(old);
    bool ok = end == buf + n;
    if (buf != small)
        free(buf);
    if (!ok)
        return false;
    if (isinf(f)) { /* ERANGE towards zero is fine: it reads as 0 or a subnormal */
        *overflow = true;
        return false;
    }
    *out = f;
    return true;
}

static bool parse_float(const char *s, size_t n, locale_t *c, float *out, bool *overflow)
{
    *overflow = false;
    Decimal dec;
    if (!scan_decimal(s, n, &dec))
        return false;
    if (decimal_fast(&dec, out))
        return true;
    if (!*c)
        *c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    return decimal_slow(s, n, *c, out, overflow);
}

bool csv_parse_float(const char *text, size_t len, float *out, bool *overflow)
{
    locale_t c = (locale_t)0;
    bool ok = parse_float(text, len, &c, out, overflow);
    if (c)
        freelocale(c);
    return ok;
}

/* ---- Locations ---------------------------------------------------------- */

static int clamp_int(size_t v) { return v > INT32_MAX ? INT32_MAX : (int)v; }

static bool starts_with_bom(const char *s, size_t n)
{
    return n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0;
}

/* The file's text for quoting, read on first use. If it cannot be read
 * again, or shrank since, diagnostics go without the excerpt. */
static const Source *table_source(CsvTable *t)
{
    if (t->src_state != SRC_UNLOADED)
        return &t->src;
    Diag quiet;
    diag_init(&quiet, NULL);
    Source s;
    if (source_read(&quiet, t->path, &s) && s.len >= t->bytes) {
        t->src = s;
        t->src_state = SRC_LOADED;
    } else {
        if (s.text)
            source_free(&s);
        t->src.text = "";
        t->src.len = 0;
        t->src_state = SRC_MISSING;
    }
    t->src.path = t->path;
    return &t->src;
}

static Loc loc_at(CsvTable *t, size_t line, size_t col, size_t len)
{
    Loc loc = {table_source(t), clamp_int(line), clamp_int(col), clamp_int(len ? len : 1)};
    return loc;
}

/* A location with the file name only, for problems of the whole file. */
static Loc loc_file(CsvTable *t)
{
    t->src.path = t->path;
    Loc loc = {&t->src, 0, 0, 0};
    return loc;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

Loc csv_loc(CsvTable *t, size_t row, size_t col)
{
    const Source *src = table_source(t);
    size_t line = t->first_line + row;
    if (row >= t->rows || !t->row_off || t->row_off[row] >= src->len)
        return loc_at(t, line, 1, 1);
    const char *text = src->text, *start = text + t->row_off[row];
    const char *end = memchr(start, '\n', src->len - t->row_off[row]);
    if (!end)
        end = text + src->len;
    const char *p = start;
    if (p == text && starts_with_bom(p, (size_t)(end - p)))
        p += 3;
    for (size_t c = 0; c < col && p < end; p++)
        if (*p == ',')
            c++;
    while (p < end && is_blank(*p))
        p++;
    const char *q = p;
    while (q < end && *q != ',' && *q != '\r')
        q++;
    while (q > p && is_blank(q[-1]))
        q--;
    return loc_at(t, line, (size_t)(p - start) + 1, (size_t)(q - p));
}

/* ---- Reading ------------------------------------------------------------ */

typedef struct Reader {
    Diag *d;
    CsvTable *t;
    CsvHeader header;
    locale_t c;          /* C locale for strtof, created on first need */
    size_t line;         /* number of the current line */
    size_t off;          /* byte offset of the current line */
    size_t rows_cap;
    size_t blank_line;   /* first blank line not yet followed by data, or 0 */
    size_t why_col;      /* AUTO: the header field that is not a number */
    size_t why_len;
    size_t row_errors;   /* rows rejected so far, shown or not */
    bool too_big;        /* growth stopped at mem_limit_bytes() */
} Reader;

/* Field text for messages, cut so that a long field stays readable. */
#define FIELD_FMT "'%.*s%s'"
#define FIELD_ARGS(s, n) (int)((n) > 40 ? 40 : (n)), (s), ((n) > 40 ? "..." : "")

/* One comma-separated field of a line: [b, e) without the blanks around
 * it; next is the index after its comma, or n at the end of the line. */
typedef struct Field {
    size_t start, b, e, next;
    bool last;
} Field;

static Field field_next(const char *s, size_t n, size_t i)
{
    Field f = {.start = i};
    while (i < n && is_blank(s[i]))
        i++;
    f.b = i;
    const char *comma = memchr(s + i, ',', n - i);
    i = comma ? (size_t)(comma - s) : n;
    f.e = i;
    while (f.e > f.b && is_blank(s[f.e - 1]))
        f.e--;
    f.last = i == n;
    f.next = f.last ? n : i + 1;
    return f;
}

static size_t count_fields(const char *s, size_t n)
{
    size_t k = 1;
    for (const char *p = s; (p = memchr(p, ',', n - (size_t)(p - s))); p++)
        k++;
    return k;
}

/* The first row decides whether it is a header (AUTO) and the column count.
 * Sets *is_header; for AUTO, *why is the field that made it a header. */
static void classify_first_row(Reader *r, const char *s, size_t n, bool *is_header, Field *why)
{
    *is_header = r->header == CSV_HEADER_YES;
    if (r->header != CSV_HEADER_AUTO)
        return;
    for (size_t i = 0;;) {
        Field f = field_next(s, n, i);
        Decimal dec;
        if (f.e > f.b && !scan_decimal(s + f.b, f.e - f.b, &dec)) {
            *is_header = true;
            *why = f;
            return;
        }
        if (f.last)
            return;
        i = f.next;
    }
}

/* Copies the header fields into one block: the name pointers, then the
 * strings. */
static bool store_names(Reader *r, const char *s, size_t n)
{
    CsvTable *t = r->t;
    size_t bytes = t->cols * sizeof(char *) + n + t->cols;
    t->names = malloc(bytes);
    if (!t->names)
        return false;
    char *dst = (char *)(t->names + t->cols);
    size_t i = 0;
    for (size_t c = 0; c < t->cols; c++) {
        Field f = field_next(s, n, i);
        t->names[c] = dst;
        memcpy(dst, s + f.b, f.e - f.b);
        dst += f.e - f.b;
        *dst++ = '\0';
        i = f.next;
    }
    return true;
}

static bool grow_rows(Reader *r)
{
    CsvTable *t = r->t;
    if (t->rows < r->rows_cap)
        return true;
    size_t cap = r->rows_cap ? r->rows_cap * 2 : 1024, floats, bytes, off_bytes;
    /* A row costs its floats and its offset; growth stops at the memory
     * limit (then the next row is refused) rather than meeting the OOM
     * killer while the rows are filled in. */
    size_t row_bytes = t->cols * sizeof(float) + sizeof(size_t);
    size_t max_rows = mem_limit_bytes() / row_bytes;
    if (t->rows >= max_rows) {
        r->too_big = true;
        return false;
    }
    if (cap > max_rows)
        cap = max_rows;
    if (__builtin_mul_overflow(cap, t->cols, &floats) ||
        __builtin_mul_overflow(floats, sizeof(float), &bytes) ||
        __builtin_mul_overflow(cap, sizeof(size_t), &off_bytes))
        return false;
    float *data = realloc(t->data, bytes);
    if (!data)
        return false;
    t->data = data;
    size_t *off = realloc(t->row_off, off_bytes);
    if (!off)
        return false;
    t->row_off = off;
    r->rows_cap = cap;
    return true;
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

/* Counts one more row error; true when it is among the first
 * CSV_MAX_ROW_ERRORS, which are reported (the rest only counted). */
static bool row_error_shown(size_t *errors) { return (*errors)++ < CSV_MAX_ROW_ERRORS; }

/* The line that sums up the row errors left unreported. */
static void report_hidden_errors(Diag *d, CsvTable *t, size_t errors)
{
    if (errors > CSV_MAX_ROW_ERRORS)
        diag_note(d, loc_file(t), "... and %zu more error%s in this file (only the first %d are shown)",
                  errors - CSV_MAX_ROW_ERRORS, plural(errors - CSV_MAX_ROW_ERRORS),
                  CSV_MAX_ROW_ERRORS);
}

/* Parses one data line s[0..n) into row. col0 is the column of s[0] minus
 * one (3 after a byte-order mark). A row's first mistake is its error: the
 * fields after it are not looked at, so one bad row is one message. */
static bool parse_row(Reader *r, const char *s, size_t n, size_t col0, float *row)
{
    CsvTable *t = r->t;
    size_t c = 0;
    for (size_t i = 0;; c++) {
        Field f = field_next(s, n, i);
        if (c == t->cols) {
            size_t comma = f.start - 1;
            if (row_error_shown(&r->row_errors))
                diag_error(r->d, loc_at(t, r->line, col0 + comma + 1, n - comma),
                           "row %zu has %zu fields, expected %zu", r->line,
                           c + count_fields(s + f.start, n - f.start), t->cols);
            return false;
        }
        if (f.b == f.e) {
            if (row_error_shown(&r->row_errors))
                diag_error(r->d, loc_at(t, r->line, col0 + f.b + 1, 1),
                           "empty field; expected a number");
            return false;
        }
        bool overflow;
        if (!parse_float(s + f.b, f.e - f.b, &r->c, &row[c], &overflow)) {
            if (row_error_shown(&r->row_errors))
                diag_error(r->d, loc_at(t, r->line, col0 + f.b + 1, f.e - f.b),
                           overflow ? FIELD_FMT " is out of the range of a 32-bit float"
                                    : FIELD_FMT " is not a number",
                           FIELD_ARGS(s + f.b, f.e - f.b));
            return false;
        }
        if (f.last)
            break;
        i = f.next;
    }
    if (++c < t->cols) {
        if (row_error_shown(&r->row_errors))
            diag_error(r->d, loc_at(t, r->line, col0 + n + 1, 1),
                       "row %zu has %zu field%s, expected %zu", r->line, c, plural(c), t->cols);
        return false;
    }
    return true;
}

/* Reads one data line into the next row; a row with a mistake is reported
 * and left out, and reading goes on so that every bad row is found. False
 * only when reading cannot go on (memory). */
static bool read_row(Reader *r, const char *s, size_t n, size_t col0)
{
    CsvTable *t = r->t;
    if (!grow_rows(r)) {
        char have[32];
        if (r->too_big)
            diag_error(r->d, loc_at(t, r->line, 1, 1),
                       "the data does not fit in memory: row %zu of %zu columns would need more "
                       "than the %s available", t->rows + 1, t->cols,
                       mem_format(have, mem_limit_bytes()));
        else
            diag_error(r->d, loc_file(t), "out of memory after %zu rows", t->rows);
        return false;
    }
    if (parse_row(r, s, n, col0, t->data + t->rows * t->cols))
        t->row_off[t->rows++] = r->off;
    return true;
}

/* Handles one line (without its line end). */
static bool read_line(Reader *r, char *s, size_t n)
{
    CsvTable *t = r->t;
    size_t col0 = 0;
    if (r->line == 1 && starts_with_bom(s, n)) {
        s += 3;
        n -= 3;
        col0 = 3;
    }
    size_t k = 0;
    while (k < n && is_blank(s[k]))
        k++;
    if (k == n) { /* blank: fine if only blank lines follow */
        if (!r->blank_line)
            r->blank_line = r->line;
        return true;
    }
    if (r->blank_line) { /* a row error like any other: the line after it is read */
        if (row_error_shown(&r->row_errors))
            diag_error(r->d, loc_at(t, r->blank_line, 1, 1),
                       "blank line; blank lines are allowed only at the end of the file");
        r->blank_line = 0;
    }
    if (t->cols > 0)
        return read_row(r, s, n, col0);

    t->cols = count_fields(s, n);
    bool is_header;
    Field why = {0};
    classify_first_row(r, s, n, &is_header, &why);
    if (!is_header) {
        t->first_line = r->line;
        return read_row(r, s, n, col0);
    }
    t->first_line = r->line + 1;
    if (!store_names(r, s, n)) {
        diag_error(r->d, loc_file(t), "out of memory");
        return false;
    }
    if (r->header == CSV_HEADER_AUTO) { /* for the "no data rows" note */
        r->why_col = col0 + why.b + 1;
        r->why_len = why.e - why.b;
    }
    return true;
}

void csv_free(CsvTable *t)
{
    free(t->data);
    free(t->names);
    free(t->row_off);
    if (t->src_state == SRC_LOADED)
        source_free(&t->src);
    free(t->path);
    memset(t, 0, sizeof *t);
}

static bool read_lines(Reader *r, FILE *f)
{
    CsvTable *t = r->t;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    bool ok = true;
    /* getline returns -1 both at the end and when a line does not fit in
     * memory; errno tells them apart, so a huge line is never read as EOF. */
    while (ok && (errno = 0, got = getline(&line, &cap, f)) >= 0) {
        size_t n = (size_t)got;
        r->line++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        ok = read_line(r, line, n);
        r->off += (size_t)got;
        t->bytes = r->off;
    }
    int read_errno = errno;
    free(line);
    if (!ok)
        return false;
    if (read_errno == ENOMEM || read_errno == EOVERFLOW) {
        diag_error(r->d, loc_at(t, r->line + 1, 1, 1), "line %zu is too long to fit in memory",
                   r->line + 1);
        return false;
    }
    if (ferror(f)) {
        diag_error(r->d, loc_none(), "cannot read '%s': %s", t->path, strerror(errno));
        return false;
    }
    if (r->row_errors) {
        report_hidden_errors(r->d, t, r->row_errors);
        return false;
    }
    if (t->cols == 0) {
        diag_error(r->d, loc_file(t), "the file is empty; expected rows of comma-separated numbers");
        return false;
    }
    if (t->rows == 0) {
        diag_error(r->d, loc_at(t, t->first_line - 1, 1, 1), "a header row but no data rows");
        if (r->why_len)
            diag_note(r->d, loc_at(t, t->first_line - 1, r->why_col, r->why_len),
                      "the first row is taken as a header because this field is not a number");
        return false;
    }
    return true;
}

bool csv_read(Diag *d, const char *path, CsvHeader header, CsvTable *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, loc_none(), "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        diag_error(d, loc_none(), "cannot read '%s': not a regular file", path);
        return false;
    }
    out->path = strdup(path);
    char *iobuf = malloc(1 << 18);
    if (!out->path || !iobuf) {
        free(iobuf);
        fclose(f);
        csv_free(out);
        diag_error(d, loc_none(), "out of memory reading '%s'", path);
        return false;
    }
    setvbuf(f, iobuf, _IOFBF, 1 << 18);
    Reader r = {.d = d, .t = out, .header = header};
    bool ok = read_lines(&r, f);
    fclose(f);
    free(iobuf);
    if (r.c)
        freelocale(r.c);
    if (!ok) {
        csv_free(out);
        return false;
    }
    /* Give back the unused tail of the geometric growth. */
    float *data = realloc(out->data, out->rows * out->cols * sizeof(float));
    if (data)
        out->data = data;
    size_t *off = realloc(out->row_off, out->rows * sizeof(size_t));
    if (off)
        out->row_off = off;
    return true;
}

/* ---- Targets ------------------------------------------------------------ */

bool csv_target_col(Diag *d, const CsvTable *t, long target, size_t *col)
{
    if (target == -1 && t->cols > 0) {
        *col = t->cols - 1;
        return true;
    }
    if (target < 0 || (unsigned long)target >= t->cols) {
        diag_error(d, loc_none(), "target column %ld is out of range: '%s' has %zu column%s",
                   target, t->path, t->cols, plural(t->cols));
        return false;
    }
    *col = (size_t)target;
    return true;
}

bool csv_check_labels(Diag *d, CsvTable *t, size_t col, long classes)
{
    if (!t->data || col >= t->cols || classes < 1) {
        diag_error(d, loc_none(), "internal error: bad label check on '%s'", t->path);
        return false;
    }
    size_t errors = 0;
    for (size_t r = 0; r < t->rows; r++) {
        float v = t->data[r * t->cols + col];
        bool integer = v == floorf(v);
        if ((integer && v >= 0 && v < (float)classes) || !row_error_shown(&errors))
            continue;
        size_t line = t->first_line + r;
        if (!integer)
            diag_error(d, csv_loc(t, r, col), "label %g on row %zu is not an integer",
                       (double)v, line);
        else
            diag_error(d, csv_loc(t, r, col), "label %g on row %zu is outside 0..%ld",
                       (double)v, line, classes - 1);
    }
    report_hidden_errors(d, t, errors);
    return errors == 0;
}

bool csv_split_target(Diag *d, CsvTable *t, size_t col, float **x, float **y,
                      size_t *x_cols)
{
    *x = *y = NULL;
    if (!t->data || col >= t->cols || t->cols < 2) {
        diag_error(d, loc_file(t), "a target column needs at least one feature column beside it");
        return false;
    }
    float *target = malloc(t->rows * sizeof(float));
    if (!target) {
        diag_error(d, loc_none(), "out of memory");
        return false;
    }
    size_t in = t->cols, xc = in - 1;
    float *data = t->data;
    /* Row by row, front to back: each destination lies at or before its
     * source, so the moves never overwrite unread values. */
    for (size_t r = 0; r < t->rows; r++) {
        target[r] = data[r * in + col];
        memmove(data + r * xc, data + r * in, col * sizeof(float));
        memmove(data + r * xc + col, data + r * in + col + 1, (xc - col) * sizeof(float));
    }
    float *shrunk = realloc(data, t->rows * xc * sizeof(float));
    *x = shrunk ? shrunk : data;
    *y = target;
    *x_cols = xc;
    t->data = NULL;
    return true;
}
