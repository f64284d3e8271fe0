/* The language server's building blocks (src/lsp/): UTF-16 columns, ranges
 * from diagnostic Locs, URIs, the Content-Length framing, and completion's
 * token scan. Whole sessions: the transcripts in tests/lsp. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lsp/server.h"

static size_t col16(const char *line, size_t byte, bool up)
{
    return lsp_utf16_col(line, strlen(line), byte, up);
}

Test(lsp_text, utf16_columns)
{
    const char *s = "aé😀b"; /* bytes: a | C3 A9 | F0 9F 98 80 | b */
    cr_expect_eq(col16(s, 0, false), 0);
    cr_expect_eq(col16(s, 1, false), 1);
    cr_expect_eq(col16(s, 3, false), 2);        /* after é: one unit */
    cr_expect_eq(col16(s, 7, false), 4);        /* after 😀: a surrogate pair */
    cr_expect_eq(col16(s, 8, false), 5);
    cr_expect_eq(col16(s, 2, false), 1);        /* inside é: its start */
    cr_expect_eq(col16(s, 2, true), 2);         /* or its end */
    cr_expect_eq(col16(s, 5, true), 4);
    cr_expect_eq(col16(s, 99, false), 5);       /* past the end: the end */
}

Test(lsp_text, bytes_that_are_not_utf8_count_one_each)
{
    const char s[] = "a\xC3" "b\xFF\x80";
    cr_expect_eq(lsp_utf16_col(s, 5, 2, false), 2); /* a lone lead byte is one unit */
    cr_expect_eq(lsp_utf16_col(s, 5, 5, false), 5);
}

Test(lsp_text, utf16_to_byte)
{
    const char *s = "aé😀b";
    size_t n = strlen(s);
    cr_expect_eq(lsp_utf16_to_byte(s, n, 0), 0);
    cr_expect_eq(lsp_utf16_to_byte(s, n, 2), 3);
    cr_expect_eq(lsp_utf16_to_byte(s, n, 3), 3); /* inside the pair: its start */
    cr_expect_eq(lsp_utf16_to_byte(s, n, 4), 7);
    cr_expect_eq(lsp_utf16_to_byte(s, n, 40), n);
}

Test(lsp_text, loc_ranges)
{
    const char *text = "x\r\n\xC3\xA9 bad\nlast";
    Source src = {"t.nn", text, strlen(text)};
    LspRange r = lsp_loc_range(text, strlen(text), (Loc){&src, 2, 4, 3});
    cr_expect(r.start.line == 1 && r.start.character == 2 && r.end.character == 5);
    r = lsp_loc_range(text, strlen(text), (Loc){&src, 1, 1, 5}); /* clipped at "\r\n" */
    cr_expect(r.start.character == 0 && r.end.character == 1);
    r = lsp_loc_range(text, strlen(text), (Loc){&src, 0, 0, 0}); /* the whole file */
    cr_expect(r.start.line == 0 && r.end.line == 0 && r.end.character == 0);
    r = lsp_loc_range(text, strlen(text), (Loc){&src, 9, 1, 1}); /* past the end */
    cr_expect(r.start.line == 2 && r.start.character == 4);
    LspLines lines;
    cr_assert(lsp_lines_init(&lines, text, strlen(text)));
    LspRange same = lsp_lines_loc_range(&lines, (Loc){&src, 2, 4, 3});
    cr_expect(same.start.line == 1 && same.start.character == 2 && same.end.character == 5);
    LspPos p = lsp_offset_pos(&lines, strlen(text));
    cr_expect(p.line == 2 && p.character == 4);
    int line, col;
    cr_expect(lsp_pos_to_loc(&lines, (LspPos){1, 2}, &line, &col));
    cr_expect(line == 2 && col == 4);
    cr_expect_not(lsp_pos_to_loc(&lines, (LspPos){3, 0}, &line, &col));
    lsp_lines_free(&lines);
}

Test(lsp_text, uris)
{
    char *p = lsp_uri_to_path("file:///home/a%20b/x%C3%A9.nn");
    cr_expect_str_eq(p, "/home/a b/x\xC3\xA9.nn");
    free(p);
    p = lsp_uri_to_path("file://localhost/tmp/x.nn");
    cr_expect_str_eq(p, "/tmp/x.nn");
    free(p);
    cr_expect_null(lsp_uri_to_path("untitled:Untitled-1"));
    cr_expect_null(lsp_uri_to_path("file://server/share/x.nn"));
    char *u = lsp_path_to_uri("data/../data/./a b.csv", "/work/x");
    cr_expect_str_eq(u, "file:///work/x/data/a%20b.csv");
    free(u);
    u = lsp_path_to_uri("/abs/\xC3\xA9.csv", "/ignored");
    cr_expect_str_eq(u, "file:///abs/%C3%A9.csv");
    free(u);
}

static RpcRead read_from(const char *bytes, size_t n, char **body, const char **why, FILE **f)
{
    *f = fmemopen((void *)bytes, n, "rb");
    cr_assert_not_null(*f);
    size_t len;
    return lsp_rpc_read(*f, body, &len, why);
}

Test(lsp_rpc, framing)
{
    static const char in[] = "content-length: 2\r\nX-Other: 1\r\n\r\n{}"
                             "Content-Type: x\r\n\r\n"
                             "junk Content-Length: 4\r\n\r\nnull"
                             "Content-Length: 10\r\n\r\n{\"a\"";
    FILE *f = fmemopen((void *)in, sizeof in - 1, "rb");
    char *body;
    size_t len;
    const char *why;
    cr_assert_eq(lsp_rpc_read(f, &body, &len, &why), RPC_READ_OK);
    cr_expect(len == 2 && strcmp(body, "{}") == 0);
    free(body);
    cr_expect_eq(lsp_rpc_read(f, &body, &len, &why), RPC_READ_BAD_FRAME);
    cr_expect_str_eq(why, "missing Content-Length header");
    cr_expect_eq(lsp_rpc_read(f, &body, &len, &why), RPC_READ_OK);
    cr_expect_str_eq(body, "null");
    free(body);
    cr_expect_eq(lsp_rpc_read(f, &body, &len, &why), RPC_READ_EOF); /* the body is cut */
    fclose(f);
}

Test(lsp_rpc, too_large_is_skipped)
{
    char *body;
    const char *why;
    FILE *f;
    static const char in[] = "Content-Length: 999999999999\r\n\r\n";
    cr_expect_eq(read_from(in, sizeof in - 1, &body, &why, &f), RPC_READ_EOF);
    fclose(f);
    static const char bad[] = "Content-Length: -3\r\n\r\n";
    cr_expect_eq(read_from(bad, sizeof bad - 1, &body, &why, &f), RPC_READ_BAD_FRAME);
    cr_expect_str_eq(why, "invalid Content-Length header");
    fclose(f);
}

Test(lsp_rpc, write_frames)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "k", "é");
    cr_assert(lsp_rpc_write(f, msg));
    cJSON_Delete(msg);
    fclose(f);
    cr_expect_str_eq(out, "Content-Length: 10\r\n\r\n{\"k\":\"\xC3\xA9\"}"); /* bytes, not characters */
    free(out);
}

Test(lsp_text, tokens_and_blocks)
{
    const char *text = "model m { # { in a comment\n  a: dense 1 { w = \"}\" } }\nx";
    size_t n = strlen(text);
    LspTokKind kind;
    bool open;
    cr_expect_eq(lsp_token_len(text, n, &kind, &open), 5);
    cr_expect_eq(kind, TOK_IDENT);
    cr_expect_eq(lsp_token_len("-1.5e-3,", 8, &kind, &open), 7);
    cr_expect_eq(kind, TOK_NUMBER);
    cr_expect_eq(lsp_token_len("\"abc", 4, &kind, &open), 4);
    cr_expect(open);
    cr_expect_eq(lsp_block_end(text, n, 0), strlen(text) - 2);
}
