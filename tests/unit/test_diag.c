/* The diagnostics sink (src/support/diag.c): every diagnostic reaches it as
 * data, with the words and the location the text on out shows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

typedef struct Seen {
    char text[4096]; /* "SEVERITY LINE:COL+LEN message" per diagnostic */
    size_t len;
    int calls;
} Seen;

static void collect(void *ctx, DiagSeverity sev, Loc loc, const char *msg)
{
    Seen *s = ctx;
    s->calls++;
    s->len += (size_t)snprintf(s->text + s->len, sizeof s->text - s->len, "%s %d:%d+%d %s\n",
                               diag_severity_name(sev), loc.line, loc.col, loc.len, msg);
}

Test(diag, sink_sees_what_is_printed)
{
    Run r;
    Seen seen = {0};
    run_start(&r, "model m {\n    input 2\n    dense 4, rleu\n}\n"
                  "model m {\n    input 1\n    dense 1\n}\n");
    diag_set_sink(&r.diag, collect, &seen);
    cr_assert_null(front_compile(&r.arena, &r.diag, &r.src));
    cr_expect_str_eq(seen.text,
                     "error 3:14+4 unknown activation 'rleu'; did you mean 'relu'?\n"
                     "error 5:7+1 duplicate model 'm'\n"
                     "note 1:7+1 previous declaration is here\n");
    cr_expect_eq(seen.calls, 3);
    cr_expect(strstr(run_output(&r), "t.nn:3:14: error: unknown activation 'rleu'; did you mean 'relu'?\n"));
    cr_expect(strstr(run_output(&r), "t.nn:1:7: note: previous declaration is here\n"));
    run_end(&r);
}

Test(diag, sink_without_output)
{
    Diag d;
    Seen seen = {0};
    diag_init(&d, NULL);
    diag_set_sink(&d, collect, &seen);
    diag_warning(&d, loc_none(), "batch %d is larger", 8);
    diag_error(&d, loc_none(), "%s", "bad");
    cr_expect_str_eq(seen.text, "warning 0:0+0 batch 8 is larger\nerror 0:0+0 bad\n");
    cr_expect_eq(d.errors, 1);
    cr_expect_eq(d.warnings, 1);
}

/* A cut message ends in "..." on out and in the sink alike. */
Test(diag, long_message_cut_the_same)
{
    Diag d;
    Seen seen = {0};
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    diag_init(&d, f);
    diag_set_sink(&d, collect, &seen);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    diag_error(&d, loc_none(), "%s", big);
    fclose(f);
    cr_expect_eq(strlen(seen.text), strlen("error 0:0+0 ") + 1023 + 3 + 1);
    cr_expect_str_eq(out + strlen("nnc: error: "), seen.text + strlen("error 0:0+0 "));
    free(out);
}
