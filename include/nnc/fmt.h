/* nnc fmt: the one canonical layout of a .nn file (docs/fmt.md). Comments
 * stay where they were and every number and string is written as the user
 * wrote it; the result parses to the same tree (checked on every call) and
 * formatting it again changes nothing. For the CLI and the language server. */
#ifndef NNC_FMT_H
#define NNC_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nnc/arena.h"
#include "nnc/diag.h"

/* Lines are wrapped to fit in this many columns (code points); comments,
 * long strings and alignment padding may go past it. */
enum { FMT_WIDTH = 80 };

/* Formats src. Returns the text (NUL-terminated, in a; *len is its length)
 * or NULL when src does not parse: its syntax errors are then reported
 * through d exactly as `nnc check` reports them. Also NULL, with an error
 * reported, when memory runs out or the result would not parse to the same
 * tree (a bug: the check runs every time, so a file is never damaged). */
char *fmt_text(Arena *a, Diag *d, const Source *src, size_t *len);

/* fmt_text written to out; false when fmt_text fails or out cannot be
 * written (not reported: the caller names out). */
bool fmt_source(Arena *a, Diag *d, const Source *src, FILE *out);

#endif
