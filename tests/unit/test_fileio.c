/* Atomic files: the usual permissions, nothing left behind, unwritable
 * paths reported before any work. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc/fileio.h"

static char dir[64], *diag_text;
static size_t diag_len;
static FILE *diag_out;
static Diag diag;

static void setup(void)
{
    strcpy(dir, "/tmp/nnc-fileio-XXXXXX");
    cr_assert(mkdtemp(dir));
    diag_out = open_memstream(&diag_text, &diag_len);
    diag_init(&diag, diag_out);
}

static void teardown(void)
{
    fclose(diag_out);
    free(diag_text);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0);
}

TestSuite(fileio, .init = setup, .fini = teardown);

/* mkstemp creates 0600; a committed file gets 0666 & ~umask like fopen. */
Test(fileio, commit_gives_the_usual_mode)
{
    char path[96];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    mode_t old = umask(022);
    AtomicFile af;
    cr_assert(atomic_open(&diag, path, &af));
    fputs("hello\n", af.f);
    cr_assert(atomic_commit(&diag, &af));
    struct stat st;
    cr_assert(stat(path, &st) == 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "mode %o", (unsigned)(st.st_mode & 0777));
    umask(027);
    cr_assert(atomic_open(&diag, path, &af));
    cr_assert(atomic_commit(&diag, &af));
    cr_assert(stat(path, &st) == 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", (unsigned)(st.st_mode & 0777));
    umask(old);
}

Test(fileio, abort_leaves_nothing)
{
    char path[96];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    AtomicFile af;
    cr_assert(atomic_open(&diag, path, &af));
    atomic_abort(&af);
    cr_assert(access(path, F_OK) != 0);
    cr_assert(rmdir(dir) == 0, "the temporary file was left behind");
    cr_assert(mkdir(dir, 0700) == 0);
}

Test(fileio, probe_reports_missing_folder_and_folder_target)
{
    char path[96];
    snprintf(path, sizeof path, "%s/no/such/out.c", dir);
    cr_assert(!atomic_probe(&diag, path));
    cr_assert(!atomic_probe(&diag, dir));
    fflush(diag_out);
    cr_assert(strstr(diag_text, "cannot write") && strstr(diag_text, "No such file"), "%s", diag_text);
    cr_assert(strstr(diag_text, "it is a folder"), "%s", diag_text);
}
