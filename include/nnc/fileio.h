/* Files that appear whole or not at all: written to a temporary file in the
 * same folder, then renamed over the target. An error, a full disk or Ctrl-C
 * never leaves a truncated file behind. */
#ifndef NNC_FILEIO_H
#define NNC_FILEIO_H

#include <stdbool.h>
#include <stdio.h>

#include "nnc/diag.h"

typedef struct AtomicFile {
    FILE *f;
    char *path;     /* the target */
    char *tmp_path; /* where the data goes until commit */
    unsigned mode;  /* permission bits of the committed file; 0: 0666 less the umask */
} AtomicFile;

/* Opens a temporary file beside path. Reports and returns false when the
 * folder is not writable, before any work is done. */
bool atomic_open(Diag *d, const char *path, AtomicFile *af);
/* Flushes, syncs and renames over the target; on failure reports, removes
 * the temporary file and returns false. */
bool atomic_commit(Diag *d, AtomicFile *af);
/* Removes the temporary file; the target is untouched. */
void atomic_abort(AtomicFile *af);
/* Checks that path can be written (by creating and removing a temporary
 * file beside it), so a long run fails at once on an unwritable path. */
bool atomic_probe(Diag *d, const char *path);
/* Creates the folder path and its missing parents, and checks that files
 * can be written in it. */
bool dir_prepare(Diag *d, const char *path);

#endif
