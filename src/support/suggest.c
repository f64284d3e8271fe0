/* "Did you mean" suggestions: the nearest candidate by edit distance. */
#include <stdlib.h>
#include <string.h>

#include "nnc/diag.h"

enum { MAX_COMPARED = 64 }; /* longer names are never typos of ours */

/* Optimal string alignment distance (Levenshtein plus adjacent swaps), so
 * "lsos" is one edit from "loss". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > MAX_COMPARED || m > MAX_COMPARED)
        return (size_t)-1;
    size_t d[MAX_COMPARED + 1][MAX_COMPARED + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *suggest_nearest(const char *name, const char *const *candidates, size_t n)
{
    /* Allow about one edit per three characters, at least one. */
    size_t limit = strlen(name) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    size_t best_dist = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(name, candidates[i]);
        if (dist < best_dist) {
            best = candidates[i];
            best_dist = dist;
        }
    }
    return best;
}
