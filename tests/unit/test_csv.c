/* CSV reader: every error at its exact line and column, header detection,
 * line ends, exact numbers, the digits data set, labels and targets. */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nnc/csv.h"
#include "file_fixture.h"

static void setup(void) { file_fixture_setup("/tmp/nnc-csv-XXXXXX"); }
static void teardown(void) { file_fixture_teardown(); }

TestSuite(csv, .init = setup, .fini = teardown);

static void write_file(const char *text)
{
    FILE *f = fopen(tmp_path, "wb");
    cr_assert_not_null(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static const char *diag_output(void)
{
    fflush(diag_out);
    return diag_text ? diag_text : "";
}

/* Copies expected into want with every "<path>" replaced by tmp_path. */
static void expand_path(char *want, size_t size, const char *expected)
{
    size_t n = 0;
    for (const char *p = expected; *p && n + 1 < size;) {
        if (strncmp(p, "<path>", 6) == 0) {
            n += (size_t)snprintf(want + n, size - n, "%s", tmp_path);
            p += 6;
        } else {
            want[n++] = *p++;
        }
    }
    cr_assert(n < size);
    want[n] = '\0';
}

/* Reads text and checks the whole diagnostic: "<path>" in expected stands
 * for the temporary file's name. */
static void expect_error(const char *text, CsvHeader header, const char *expected)
{
    write_file(text);
    CsvTable t;
    cr_assert_not(csv_read(&diag, tmp_path, header, &t), "accepted: %s", text);
    cr_assert_eq(t.data, NULL);
    cr_assert_eq(t.rows, 0);
    char want[1024];
    expand_path(want, sizeof want, expected);
    cr_assert_str_eq(diag_output(), want);
    cr_assert_eq(diag.errors, 1);
    csv_free(&t);
}

static void read_ok(const char *text, CsvHeader header, CsvTable *t)
{
    write_file(text);
    cr_assert(csv_read(&diag, tmp_path, header, t), "rejected: %s", diag_output());
    cr_assert_str_eq(diag_output(), "");
}

/* ---- Errors ------------------------------------------------------------- */

Test(csv, missing_file)
{
    CsvTable t;
    cr_assert_not(csv_read(&diag, "/nonexistent/x.csv", CSV_HEADER_AUTO, &t));
    cr_assert_str_eq(diag_output(),
                     "nnc: error: cannot open '/nonexistent/x.csv': No such file or directory\n");
    csv_free(&t);
}

Test(csv, empty_file)
{
    expect_error("", CSV_HEADER_AUTO,
                 "<path>: error: the file is empty; expected rows of comma-separated numbers\n");
}

Test(csv, only_blank_lines_is_empty)
{
    expect_error("\n  \n\r\n", CSV_HEADER_NO,
                 "<path>: error: the file is empty; expected rows of comma-separated numbers\n");
}

Test(csv, header_without_rows)
{
    expect_error("x,y,label\n\n", CSV_HEADER_AUTO,
                 "<path>:1:1: error: a header row but no data rows\n"
                 "    x,y,label\n"
                 "    ^\n"
                 "<path>:1:1: note: the first row is taken as a header because this field is not a number\n"
                 "    x,y,label\n"
                 "    ^\n");
}

Test(csv, header_without_rows_explicit)
{
    expect_error("1,2\n", CSV_HEADER_YES,
                 "<path>:1:1: error: a header row but no data rows\n"
                 "    1,2\n"
                 "    ^\n");
}

Test(csv, auto_header_note_points_at_the_word)
{
    expect_error("1, 2 ,x3\n", CSV_HEADER_AUTO,
                 "<path>:1:1: error: a header row but no data rows\n"
                 "    1, 2 ,x3\n"
                 "    ^\n"
                 "<path>:1:7: note: the first row is taken as a header because this field is not a number\n"
                 "    1, 2 ,x3\n"
                 "          ^~\n");
}

Test(csv, too_few_fields)
{
    expect_error("1,2,3\n4,5,6\n7,8\n", CSV_HEADER_AUTO,
                 "<path>:3:4: error: row 3 has 2 fields, expected 3\n"
                 "    7,8\n"
                 "       ^\n");
}

Test(csv, one_field_is_singular)
{
    expect_error("1,2\n7\n", CSV_HEADER_NO,
                 "<path>:2:2: error: row 2 has 1 field, expected 2\n"
                 "    7\n"
                 "     ^\n");
}

Test(csv, too_many_fields_points_at_the_extra_ones)
{
    expect_error("a,b\n1,2\n3,4,5,6\n", CSV_HEADER_AUTO,
                 "<path>:3:4: error: row 3 has 4 fields, expected 2\n"
                 "    3,4,5,6\n"
                 "       ^~~~\n");
}

Test(csv, trailing_comma_is_an_extra_field)
{
    expect_error("1,2\n3,4,\n", CSV_HEADER_AUTO,
                 "<path>:2:4: error: row 2 has 3 fields, expected 2\n"
                 "    3,4,\n"
                 "       ^\n");
}

Test(csv, wide_row_count_message)
{
    /* 65 columns expected, row 17 has 63 */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    for (int r = 1; r <= 20; r++)
        for (int c = 0; c < (r == 17 ? 63 : 65); c++)
            fprintf(f, "%d%s", c, c == (r == 17 ? 62 : 64) ? "\n" : ",");
    fclose(f);
    write_file(text);
    free(text);
    CsvTable t;
    cr_assert_not(csv_read(&diag, tmp_path, CSV_HEADER_AUTO, &t));
    char want[256];
    /* "0,1,...,62": 10 one-digit fields, 53 two-digit ones, 62 commas */
    snprintf(want, sizeof want, "%s:17:%d: error: row 17 has 63 fields, expected 65\n", tmp_path,
             10 + 53 * 2 + 62 + 1);
    cr_assert_eq(strncmp(diag_output(), want, strlen(want)), 0, "%s", diag_output());
    csv_free(&t);
}

Test(csv, not_a_number)
{
    expect_error("1,2,3\n4,abc,6\n", CSV_HEADER_AUTO,
                 "<path>:2:3: error: 'abc' is not a number\n"
                 "    4,abc,6\n"
                 "      ^~~\n");
}

Test(csv, not_a_number_with_blanks_around)
{
    expect_error("1,2\n3 ,\t 4x  \r\n", CSV_HEADER_AUTO,
                 "<path>:2:6: error: '4x' is not a number\n"
                 "    3 ,\t 4x  \n"
                 "       \t ^~\n");
}

Test(csv, header_no_rejects_words)
{
    expect_error("a,b\n1,2\n", CSV_HEADER_NO,
                 "<path>:1:1: error: 'a' is not a number\n"
                 "    a,b\n"
                 "    ^\n");
}

Test(csv, long_field_is_cut_in_the_message)
{
    expect_error("1,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", CSV_HEADER_NO,
                 "<path>:1:3: error: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not a number\n"
                 "    1,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
                 "      ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
}

Test(csv, nan_and_inf_are_not_numbers)
{
    const char *words[] = {"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "0x10", "1e",
                           "1e+", "+", "-", ".", "1.2.3", "1 2", "--1", "1,5e", "\"1\"",
                           "1d", "e5", "0x1p3", "1_000"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        char text[64], want[256];
        snprintf(text, sizeof text, "1,%s\n", words[i]);
        size_t field = strcspn(words[i], ", ");
        if (words[i][field] == ',') { /* "1,5e": the comma splits it; "5e" is bad */
            snprintf(want, sizeof want, "<path>:1:5: error: '5e' is not a number\n"
                                        "    %s\n"
                                        "        ^~\n", "1,1,5e");
            expect_error(text, CSV_HEADER_NO, want);
        } else {
            size_t len = strlen(words[i]);
            char caret[64];
            memset(caret, '~', len);
            caret[0] = '^';
            caret[len] = '\0';
            snprintf(want, sizeof want, "<path>:1:3: error: '%s' is not a number\n    1,%s\n      %s\n",
                     words[i], words[i], caret);
            expect_error(text, CSV_HEADER_NO, want);
        }
        fclose(diag_out);
        free(diag_text);
        diag_text = NULL;
        diag_out = open_memstream(&diag_text, &diag_len);
        diag_init(&diag, diag_out);
    }
}

Test(csv, overflow_is_an_error)
{
    expect_error("1,2\n3,1e999\n", CSV_HEADER_AUTO,
                 "<path>:2:3: error: '1e999' is out of the range of a 32-bit float\n"
                 "    3,1e999\n"
                 "      ^~~~~\n");
}

Test(csv, float_overflow_edges)
{
    float f;
    bool overflow;
    cr_assert(csv_parse_float("3.40282347e38", 13, &f, &overflow));
    cr_assert_eq(f, 3.40282347e38f);
    cr_assert_not(csv_parse_float("3.5e38", 6, &f, &overflow));
    cr_assert(overflow);
    cr_assert_not(csv_parse_float("-1e39", 5, &f, &overflow));
    cr_assert(overflow);
    cr_assert_not(csv_parse_float("1e100000000000", 14, &f, &overflow));
    cr_assert(overflow);
    /* Underflow reads as zero or a subnormal, like strtof. */
    cr_assert(csv_parse_float("1e-50", 5, &f, &overflow));
    cr_assert_eq(f, 0.0f);
    cr_assert(csv_parse_float("1e-40", 5, &f, &overflow));
    cr_assert_eq(f, 1e-40f);
    cr_assert(csv_parse_float("-0", 2, &f, &overflow));
    cr_assert(f == 0.0f && signbit(f));
}

Test(csv, empty_field)
{
    expect_error("1,2,3\n4,,6\n", CSV_HEADER_AUTO,
                 "<path>:2:3: error: empty field; expected a number\n"
                 "    4,,6\n"
                 "      ^\n");
}

Test(csv, empty_last_field)
{
    expect_error("1,2,3\n4,5,  \n", CSV_HEADER_AUTO,
                 "<path>:2:7: error: empty field; expected a number\n"
                 "    4,5,  \n"
                 "          ^\n");
}

Test(csv, blank_line_in_the_middle)
{
    expect_error("1,2\n\n3,4\n", CSV_HEADER_AUTO,
                 "<path>:2:1: error: blank line; blank lines are allowed only at the end of the file\n"
                 "    \n"
                 "    ^\n");
}

/* Reads text, which must fail with `errors` errors, and checks the whole
 * output ("<path>" as in expect_error). */
static void expect_errors(const char *text, CsvHeader header, int errors, const char *expected)
{
    write_file(text);
    CsvTable t;
    cr_assert_not(csv_read(&diag, tmp_path, header, &t), "accepted: %s", text);
    cr_assert_eq(t.data, NULL);
    cr_assert_eq(t.rows, 0);
    char want[4096];
    expand_path(want, sizeof want, expected);
    cr_assert_str_eq(diag_output(), want);
    cr_assert_eq(diag.errors, errors);
    csv_free(&t);
}

/* The file: a word in row 5 and a short row in row 9 are two
 * errors, not one; the good rows between them do not matter. */
Test(csv, every_bad_row_is_reported)
{
    expect_errors("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,x,1\n9,10,0\n11,12,1\n13,14,0\n15\n17,18,1\n",
                  CSV_HEADER_AUTO, 2,
                  "<path>:5:3: error: 'x' is not a number\n"
                  "    7,x,1\n"
                  "      ^\n"
                  "<path>:9:3: error: row 9 has 1 field, expected 3\n"
                  "    15\n"
                  "      ^\n");
}

/* One message per row, at its first mistake: 'a' and 'b' are one error. */
Test(csv, one_error_per_row)
{
    expect_errors("1,2\na,b\n3,4,5\n,\n", CSV_HEADER_NO, 3,
                  "<path>:2:1: error: 'a' is not a number\n"
                  "    a,b\n"
                  "    ^\n"
                  "<path>:3:4: error: row 3 has 3 fields, expected 2\n"
                  "    3,4,5\n"
                  "       ^~\n"
                  "<path>:4:1: error: empty field; expected a number\n"
                  "    ,\n"
                  "    ^\n");
}

/* A blank line in the middle is one error (a run of them too); the rows
 * after it are still checked. */
Test(csv, rows_after_a_blank_line_are_checked)
{
    expect_errors("1,2\n\n\n3,4\n5,1e999\n", CSV_HEADER_AUTO, 2,
                  "<path>:2:1: error: blank line; blank lines are allowed only at the end of the file\n"
                  "    \n"
                  "    ^\n"
                  "<path>:5:3: error: '1e999' is out of the range of a 32-bit float\n"
                  "    5,1e999\n"
                  "      ^~~~~\n");
}

/* Beyond CSV_MAX_ROW_ERRORS bad rows, one note counts the rest. */
Test(csv, row_errors_are_capped)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fputs("1,2\n", f);
    size_t bad = CSV_MAX_ROW_ERRORS + 5; /* the even lines 2, 4, ..., 2 * bad are short */
    for (size_t r = 2; r <= 2 * bad + 1; r++)
        fputs(r % 2 ? "3,4\n" : "5\n", f);
    fclose(f);
    write_file(text);
    free(text);
    CsvTable t;
    cr_assert_not(csv_read(&diag, tmp_path, CSV_HEADER_AUTO, &t));
    cr_assert_eq(diag.errors, CSV_MAX_ROW_ERRORS);
    char note[256];
    snprintf(note, sizeof note,
             "%s: note: ... and %zu more errors in this file (only the first %d are shown)\n",
             tmp_path, bad - CSV_MAX_ROW_ERRORS, CSV_MAX_ROW_ERRORS);
    const char *out = diag_output();
    size_t n = strlen(out), k = strlen(note);
    cr_assert(n > k && strcmp(out + n - k, note) == 0, "%s", out);
    /* The last error shown is on line 2 * CSV_MAX_ROW_ERRORS, the next is not. */
    char line[64];
    snprintf(line, sizeof line, ":%d:2: error: row %d has 1 field", 2 * CSV_MAX_ROW_ERRORS,
             2 * CSV_MAX_ROW_ERRORS);
    cr_assert_not_null(strstr(out, line), "%s", out);
    snprintf(line, sizeof line, ":%d:2: error:", 2 * CSV_MAX_ROW_ERRORS + 2);
    cr_assert_null(strstr(out, line), "%s", out);
    csv_free(&t);
}

/* The address space this process maps now, from /proc/self/statm. */
static size_t mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define NNC_UNDER_ASAN 1
#endif
#endif

/* getline fails with ENOMEM on a line larger than memory; that used to look
 * like the end of the file. Address space is capped for this test process
 * only (Criterion runs each test in its own), not possible under ASan. */
Test(csv, line_too_long_for_memory)
{
#ifdef NNC_UNDER_ASAN
    cr_skip_test("ASan reserves the address space this test limits");
#else
    size_t line_bytes = (size_t)64 << 20;
    FILE *f = fopen(tmp_path, "wb");
    cr_assert_not_null(f);
    static char chunk[1 << 20];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = i % 2 ? ',' : '1';
    for (size_t i = 0; i < line_bytes / sizeof chunk; i++)
        cr_assert_eq(fwrite(chunk, 1, sizeof chunk, f), sizeof chunk);
    fputs("1\n", f);
    fclose(f);
    rlim_t cap = (rlim_t)(mapped_bytes() + ((size_t)24 << 20));
    struct rlimit lim = {cap, cap};
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
    CsvTable t;
    cr_assert_not(csv_read(&diag, tmp_path, CSV_HEADER_AUTO, &t));
    cr_assert_not_null(strstr(diag_output(), ":1:1: error: line 1 is too long to fit in memory"),
                       "got: %s", diag_output());
    csv_free(&t);
#endif
}

Test(csv, directory_cannot_be_read)
{
    CsvTable t;
    cr_assert_not(csv_read(&diag, "/tmp", CSV_HEADER_AUTO, &t));
    cr_assert_str_eq(diag_output(), "nnc: error: cannot read '/tmp': not a regular file\n");
    csv_free(&t);
}

/* AUTO: only a field that is not a number makes a header; an empty field or
 * a number out of range is an error in the first data row. */
Test(csv, auto_header_ignores_empty_and_huge_fields)
{
    expect_error("1,,2\n3,4,5\n", CSV_HEADER_AUTO,
                 "<path>:1:3: error: empty field; expected a number\n"
                 "    1,,2\n"
                 "      ^\n");
}

Test(csv, auto_header_ignores_overflow)
{
    expect_error("1e999,2\n", CSV_HEADER_AUTO,
                 "<path>:1:1: error: '1e999' is out of the range of a 32-bit float\n"
                 "    1e999,2\n"
                 "    ^~~~~\n");
}

/* ---- Accepted input ----------------------------------------------------- */

Test(csv, header_auto_detected)
{
    CsvTable t;
    read_ok("x1, x2 ,label\n0.5,1,2\n-1.25,3e2,0\n", CSV_HEADER_AUTO, &t);
    cr_assert_eq(t.rows, 2);
    cr_assert_eq(t.cols, 3);
    cr_assert_not_null(t.names);
    cr_assert_str_eq(t.names[0], "x1");
    cr_assert_str_eq(t.names[1], "x2");
    cr_assert_str_eq(t.names[2], "label");
    float want[] = {0.5f, 1, 2, -1.25f, 300, 0};
    cr_assert_eq(memcmp(t.data, want, sizeof want), 0);
    csv_free(&t);
}

Test(csv, no_header_when_all_numbers)
{
    CsvTable t;
    read_ok("1,2\n3,4", CSV_HEADER_AUTO, &t);
    cr_assert_eq(t.rows, 2);
    cr_assert_null(t.names);
    cr_assert_eq(t.data[3], 4.0f);
    csv_free(&t);
}

Test(csv, header_yes_takes_numbers_as_names)
{
    CsvTable t;
    read_ok("1,2\n3,4\n", CSV_HEADER_YES, &t);
    cr_assert_eq(t.rows, 1);
    cr_assert_str_eq(t.names[0], "1");
    cr_assert_eq(t.data[0], 3.0f);
    csv_free(&t);
}

Test(csv, pandas_index_header_has_an_empty_name)
{
    CsvTable t;
    read_ok(",a,b\n0,1,2\n", CSV_HEADER_AUTO, &t);
    cr_assert_str_eq(t.names[0], "");
    cr_assert_str_eq(t.names[2], "b");
    csv_free(&t);
}

Test(csv, crlf_blanks_and_trailing_blank_lines)
{
    CsvTable t;
    read_ok(" 1 ,\t2\t\r\n3,4\r\n\r\n  \n\n", CSV_HEADER_AUTO, &t);
    cr_assert_eq(t.rows, 2);
    cr_assert_eq(t.cols, 2);
    float want[] = {1, 2, 3, 4};
    cr_assert_eq(memcmp(t.data, want, sizeof want), 0);
    csv_free(&t);
}

Test(csv, crlf_error_position)
{
    expect_error("1,2\r\n3,x\r\n", CSV_HEADER_NO,
                 "<path>:2:3: error: 'x' is not a number\n"
                 "    3,x\n"
                 "      ^\n");
}

Test(csv, byte_order_mark_is_skipped)
{
    CsvTable t;
    read_ok("\xEF\xBB\xBF" "1,2\n3,4\n", CSV_HEADER_AUTO, &t);
    cr_assert_eq(t.rows, 2);
    cr_assert_null(t.names);
    cr_assert_eq(t.data[0], 1.0f);
    csv_free(&t);
}

Test(csv, single_column)
{
    CsvTable t;
    read_ok("y\n1\n2\n", CSV_HEADER_AUTO, &t);
    cr_assert_eq(t.rows, 2);
    cr_assert_eq(t.cols, 1);
    csv_free(&t);
}

Test(csv, number_forms)
{
    CsvTable t;
    read_ok("+1,-2,.5,5.,1e3,1E-3,-0.0625,0000012,1.000000000000000000000001,"
            "123456789012345678901234567890\n",
            CSV_HEADER_NO, &t);
    float want[] = {1, -2, 0.5f, 5, 1000, 1e-3f, -0.0625f, 12, 1, 1.23456789e29f};
    cr_assert_eq(t.cols, 10);
    for (size_t i = 0; i < 10; i++)
        cr_assert_eq(t.data[i], want[i], "field %zu: %.9g", i, (double)t.data[i]);
    csv_free(&t);
}

/* splitmix64: the same draws everywhere. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static float random_float(uint64_t *s)
{
    for (;;) {
        uint32_t bits = (uint32_t)next_random(s);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (isfinite(f))
            return f;
    }
}

Test(csv, random_floats_round_trip_exactly)
{
    enum { ROWS = 2000, COLS = 7 };
    uint64_t seed = 42;
    float *want = malloc(sizeof(float) * ROWS * COLS);
    FILE *f = fopen(tmp_path, "wb");
    for (size_t i = 0; i < ROWS * COLS; i++) {
        /* half any finite bit pattern, half ordinary magnitudes */
        want[i] = i % 2 ? random_float(&seed)
                        : (float)((double)(next_random(&seed) >> 11) / 9007199254740992.0 * 200 - 100);
        fprintf(f, "%.9g%s", (double)want[i], i % COLS == COLS - 1 ? "\n" : ",");
    }
    fclose(f);
    CsvTable t;
    cr_assert(csv_read(&diag, tmp_path, CSV_HEADER_NO, &t), "%s", diag_output());
    cr_assert_eq(t.rows, ROWS);
    cr_assert_eq(t.cols, COLS);
    for (size_t i = 0; i < ROWS * COLS; i++)
        cr_assert_eq(memcmp(&t.data[i], &want[i], sizeof(float)), 0, "value %zu: %.9g != %.9g",
                     i, (double)t.data[i], (double)want[i]);
    csv_free(&t);
    free(want);
}

/* The fast path must agree with strtof (C locale) bit for bit, including
 * the decimals that land between two floats. */
Test(csv, parser_agrees_with_strtof)
{
    uint64_t seed = 7;
    for (int i = 0; i < 300000; i++) {
        char text[64];
        uint64_t r = next_random(&seed);
        int digits = 1 + (int)(r % 19);
        uint64_t mant = next_random(&seed) % 10000000000000000000u;
        char mbuf[32];
        snprintf(mbuf, sizeof mbuf, "%019llu", (unsigned long long)mant);
        mbuf[digits] = '\0';
        int exp = (int)((r >> 8) % 100) - 60;
        int point = (int)((r >> 16) % (unsigned)(digits + 1));
        snprintf(text, sizeof text, "%s%.*s.%se%d", (r >> 24) & 1 ? "-" : "", point, mbuf,
                 mbuf + point, exp);
        float got, want = strtof(text, NULL);
        bool overflow;
        bool ok = csv_parse_float(text, strlen(text), &got, &overflow);
        if (isinf(want)) {
            cr_assert(!ok && overflow, "%s", text);
            continue;
        }
        cr_assert(ok, "%s", text);
        cr_assert_eq(memcmp(&got, &want, sizeof got), 0, "%s: %a != %a", text, (double)got,
                     (double)want);
    }
}

/* Decimals of at most 16 digits whose nearest double is exactly halfway
 * between two floats (found with Python's fractions): rounding to double
 * and then to float would break the tie the wrong way for some of them. */
Test(csv, double_rounding_is_avoided)
{
    const char *texts[] = {"8340712987038313e8", "5331508485478385e5", "5223202460911125e-19",
                           "7227785383670356e7", "4728260487318039e-16", "8565067462271808e15",
                           "1.00000005960464477539930"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        float f;
        bool overflow;
        cr_assert(csv_parse_float(texts[i], strlen(texts[i]), &f, &overflow));
        float want = strtof(texts[i], NULL);
        cr_assert_eq(memcmp(&f, &want, sizeof f), 0, "%s: %a != %a", texts[i], (double)f,
                     (double)want);
    }
}

/* Under a locale with a decimal comma, plain strtof("0.1") reads 0. Values
 * that need the slow path (long mantissas, subnormals) must still be exact.
 * Debian has no de_DE locale by default; to run this test:
 *   localedef -i de_DE -f UTF-8 /tmp/loc/de_DE.UTF-8
 *   LOCPATH=/tmp/loc build/unit-tests --filter 'csv/locale*' */
Test(csv, locale_with_decimal_comma_does_not_matter)
{
    locale_t de = newlocale(LC_NUMERIC_MASK, "de_DE.UTF-8", (locale_t)0);
    if (!de) {
        teardown(); /* a skipped test does not run .fini */
        cr_skip_test("no de_DE.UTF-8 locale on this machine");
    }
    locale_t old = uselocale(de);
    CsvTable t;
    read_ok("0.1,2.5e-3,0.1000000000000000000000001,1.5e-40\n", CSV_HEADER_NO, &t);
    float want[] = {0.1f, 2.5e-3f, 0.1f, 1.5e-40f};
    cr_assert_eq(memcmp(t.data, want, sizeof want), 0, "%a %a %a %a", (double)t.data[0],
                 (double)t.data[1], (double)t.data[2], (double)t.data[3]);
    csv_free(&t);
    uselocale(old);
    freelocale(de);
}

/* ---- The digits data set, labels and targets ---------------------------- */

Test(csv, digits_data_set)
{
    CsvTable t;
    cr_assert(csv_read(&diag, "examples/data/digits.csv", CSV_HEADER_AUTO, &t), "%s",
              diag_output());
    cr_assert_eq(t.rows, 1797);
    cr_assert_eq(t.cols, 65);
    cr_assert_null(t.names);
    size_t col;
    cr_assert(csv_target_col(&diag, &t, -1, &col));
    cr_assert_eq(col, 64);
    cr_assert(csv_check_labels(&diag, &t, col, 10), "%s", diag_output());
    int count[10] = {0};
    for (size_t r = 0; r < t.rows; r++)
        count[(int)t.data[r * 65 + 64]]++;
    cr_assert_eq(count[0], 178);
    cr_assert_eq(count[9], 180);
    float *x, *y;
    size_t x_cols;
    cr_assert(csv_split_target(&diag, &t, col, &x, &y, &x_cols));
    cr_assert_eq(x_cols, 64);
    for (size_t i = 0; i < 1797 * 64; i++)
        cr_assert(x[i] >= 0 && x[i] <= 16 && x[i] == floorf(x[i]));
    /* first row: 0,0,5,13,9,1,... label 0; last row: ...,0,8 */
    cr_assert_eq(x[2], 5.0f);
    cr_assert_eq(x[3], 13.0f);
    cr_assert_eq(y[0], 0.0f);
    cr_assert_eq(y[1796], 8.0f);
    free(x);
    free(y);
    csv_free(&t);
}

static void expect_label_error(const char *text, long classes, const char *expected)
{
    CsvTable t;
    read_ok(text, CSV_HEADER_AUTO, &t);
    size_t col;
    cr_assert(csv_target_col(&diag, &t, -1, &col));
    cr_assert_not(csv_check_labels(&diag, &t, col, classes));
    char want[1024];
    expand_path(want, sizeof want, expected);
    cr_assert_str_eq(diag_output(), want);
    csv_free(&t);
}

Test(csv, label_outside_classes)
{
    expect_label_error("a,b,y\n1,2,0\n1,2,9\n1,2,3\n1,2, 10 \n", 10,
                       "<path>:5:6: error: label 10 on row 5 is outside 0..9\n"
                       "    1,2, 10 \n"
                       "         ^~\n");
}

Test(csv, negative_label)
{
    expect_label_error("1,-1\n", 3,
                       "<path>:1:3: error: label -1 on row 1 is outside 0..2\n"
                       "    1,-1\n"
                       "      ^~\n");
}

Test(csv, label_not_an_integer)
{
    expect_label_error("1,2,0\r\n1,2,1\r\n\t1 , 2 ,2.5\r\n", 10,
                       "<path>:3:9: error: label 2.5 on row 3 is not an integer\n"
                       "    \t1 , 2 ,2.5\n"
                       "    \t       ^~~\n");
}

Test(csv, every_bad_label_is_reported)
{
    expect_label_error("1,0\n1,3\n1,1\n1,1.5\n", 2,
                       "<path>:2:3: error: label 3 on row 2 is outside 0..1\n"
                       "    1,3\n"
                       "      ^\n"
                       "<path>:4:3: error: label 1.5 on row 4 is not an integer\n"
                       "    1,1.5\n"
                       "      ^~~\n");
}

Test(csv, label_errors_are_capped)
{
    char text[1024];
    size_t n = 0;
    for (int r = 0; r < CSV_MAX_ROW_ERRORS + 3; r++)
        n += (size_t)snprintf(text + n, sizeof text - n, "1,7\n");
    CsvTable t;
    read_ok(text, CSV_HEADER_NO, &t);
    cr_assert_not(csv_check_labels(&diag, &t, 1, 2));
    cr_assert_eq(diag.errors, CSV_MAX_ROW_ERRORS);
    cr_assert_not_null(strstr(diag_output(), ": note: ... and 3 more errors in this file"),
                       "%s", diag_output());
    csv_free(&t);
}

Test(csv, label_first_column_with_header)
{
    CsvTable t;
    read_ok("y,x\n1,7\n4,8\n", CSV_HEADER_AUTO, &t);
    size_t col;
    cr_assert(csv_target_col(&diag, &t, 0, &col));
    cr_assert_not(csv_check_labels(&diag, &t, col, 4));
    char want[256];
    snprintf(want, sizeof want, "%s:3:1: error: label 4 on row 3 is outside 0..3\n    4,8\n    ^\n",
             tmp_path);
    cr_assert_str_eq(diag_output(), want);
    csv_free(&t);
}

Test(csv, target_out_of_range)
{
    CsvTable t;
    read_ok("1,2\n", CSV_HEADER_AUTO, &t);
    size_t col;
    cr_assert_not(csv_target_col(&diag, &t, 2, &col));
    char want[256];
    snprintf(want, sizeof want, "nnc: error: target column 2 is out of range: '%s' has 2 columns\n",
             tmp_path);
    cr_assert_str_eq(diag_output(), want);
    csv_free(&t);
}

Test(csv, split_middle_column)
{
    CsvTable t;
    read_ok("1,2,3,4\n5,6,7,8\n9,10,11,12\n", CSV_HEADER_AUTO, &t);
    float *x, *y;
    size_t x_cols;
    cr_assert(csv_split_target(&diag, &t, 1, &x, &y, &x_cols));
    cr_assert_eq(x_cols, 3);
    cr_assert_null(t.data);
    float wx[] = {1, 3, 4, 5, 7, 8, 9, 11, 12}, wy[] = {2, 6, 10};
    cr_assert_eq(memcmp(x, wx, sizeof wx), 0);
    cr_assert_eq(memcmp(y, wy, sizeof wy), 0);
    /* locations still work after the split */
    Loc loc = csv_loc(&t, 2, 1);
    cr_assert_eq(loc.line, 3);
    cr_assert_eq(loc.col, 3);
    cr_assert_eq(loc.len, 2);
    free(x);
    free(y);
    csv_free(&t);
}

Test(csv, split_needs_a_feature)
{
    CsvTable t;
    read_ok("1\n2\n", CSV_HEADER_AUTO, &t);
    float *x, *y;
    size_t x_cols;
    cr_assert_not(csv_split_target(&diag, &t, 0, &x, &y, &x_cols));
    cr_assert_null(x);
    csv_free(&t);
}

Test(csv, loc_without_the_file_has_no_excerpt)
{
    CsvTable t;
    read_ok("1,2\n3,4\n", CSV_HEADER_AUTO, &t);
    unlink(tmp_path);
    diag_error(&diag, csv_loc(&t, 1, 1), "gone");
    char want[256];
    snprintf(want, sizeof want, "%s:2:1: error: gone\n", tmp_path);
    cr_assert_str_eq(diag_output(), want);
    csv_free(&t);
}

/* A data set larger than the memory limit is refused at the first row that
 * does not fit, before the OOM killer would see it (NNC_MEMORY_LIMIT stands
 * for a small machine; Criterion runs each test in its own process). */
Test(csv, data_beyond_the_memory_limit)
{
    setenv("NNC_MEMORY_LIMIT", "40", 1); /* 2 rows of 3 floats + offsets */
    write_file("1,2,3\n4,5,6\n7,8,9\n");
    CsvTable t;
    cr_assert(!csv_read(&diag, tmp_path, CSV_HEADER_NO, &t));
    cr_assert(strstr(diag_output(), ":3:1: error: the data does not fit in memory: row 3 of 3 "
                                    "columns would need more than the 40 bytes available"),
              "%s", diag_output());
    csv_free(&t);
    unsetenv("NNC_MEMORY_LIMIT");
    cr_assert(csv_read(&diag, tmp_path, CSV_HEADER_NO, &t));
    cr_assert_eq(t.rows, 3);
    csv_free(&t);
}

/* A device never ends (/dev/zero is one endless line): refused at once. */
Test(csv, device_is_not_read)
{
    CsvTable t;
    cr_assert(!csv_read(&diag, "/dev/zero", CSV_HEADER_AUTO, &t));
    cr_assert_str_eq(diag_output(), "nnc: error: cannot read '/dev/zero': not a regular file\n");
    csv_free(&t);
}
