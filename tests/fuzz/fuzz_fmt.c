/* libFuzzer harness for nnc fmt: for any input that parses, fmt must
 * succeed, fmt(fmt(x)) == fmt(x), and the formatted text must have the same
 * `nnc dump ast` once the @line:col locations are set aside; an input that
 * does not parse must be refused. A broken property aborts (that is the
 * finding). Parsing reads no file, so every input is fair game. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc/arena.h"
#include "nnc/diag.h"
#include "nnc/fmt.h"
#include "nnc/front.h"

static void fail(const char *what, const char *text, size_t len)
{
    fprintf(stderr, "fuzz_fmt: %s\n--- formatted ---\n%.*s\n", what, (int)len, text);
    abort();
}

/* ast_dump of text without its locations (" @12:3"), malloc'd. */
static char *dump_noloc(const char *text, size_t len)
{
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, NULL);
    Source src = {"fuzz.nn", text, len};
    AstFile *f = front_parse(&a, &d, &src);
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    if (!m)
        abort();
    if (f)
        ast_dump(m, f);
    fclose(m);
    arena_free(&a);
    if (!f) {
        free(out);
        return NULL;
    }
    char *w = out;
    for (const char *r = out; *r; r++) {
        size_t k = 2;
        if (r[0] == ' ' && r[1] == '@') {
            while (r[k] >= '0' && r[k] <= '9')
                k++;
            if (r[k] == ':' && k > 2) {
                k++;
                while (r[k] >= '0' && r[k] <= '9')
                    k++;
                r += k - 1;
                continue;
            }
        }
        *w++ = *r;
    }
    *w = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *before = dump_noloc(text, size);
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, NULL);
    Source src = {"fuzz.nn", text, size};
    size_t len;
    char *once = fmt_text(&a, &d, &src, &len);
    if (!before != !once)
        fail(before ? "fmt refused a file that parses" : "fmt accepted a file that does not parse",
             once ? once : text, once ? len : size);
    if (once) {
        Source again = {"fuzz.nn", once, len};
        size_t len2;
        char *twice = fmt_text(&a, &d, &again, &len2);
        if (!twice || len2 != len || memcmp(once, twice, len) != 0)
            fail("fmt(fmt(x)) != fmt(x)", once, len);
        char *after = dump_noloc(once, len);
        if (!after || strcmp(before, after) != 0)
            fail("dump ast differs after fmt", once, len);
        free(after);
    }
    arena_free(&a);
    free(before);
    free(text);
    return 0;
}
