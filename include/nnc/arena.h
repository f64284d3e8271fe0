/* Arena: bump allocation for compile-time data (AST, IR, diagnostics text).
 * Nothing allocated here is freed one by one; arena_free releases it all, so
 * error paths never leak. */
#ifndef NNC_ARENA_H
#define NNC_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;
typedef struct ArenaAdopted ArenaAdopted;

typedef struct Arena {
    ArenaBlock *head;
    ArenaAdopted *adopted; /* malloc'd blocks handed over by arena_adopt */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zeroed memory, aligned for any type. Returns NULL when size overflows or
 * memory runs out. */
void *arena_alloc(Arena *a, size_t size);
/* n * size bytes with an overflow check; NULL on overflow. */
void *arena_array(Arena *a, size_t n, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
/* Hands the malloc'd block p to the arena: arena_free frees it with the
 * rest. For big buffers built elsewhere (a CSV file's floats), so they need
 * not be copied. On failure (out of memory) p is freed at once and false is
 * returned; p == NULL is accepted and ignored. */
bool arena_adopt(Arena *a, void *p);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The memory nnc may plan to use, in bytes: the machine's physical memory,
 * lowered by a cgroup limit (containers) and by the environment variable
 * NNC_MEMORY_LIMIT (bytes; for tests and shared machines). Big buffers are
 * checked against it before they are allocated, so an impossible size is a
 * diagnostic rather than the kernel's OOM killer halfway through. */
size_t mem_limit_bytes(void);
/* "1.5 GiB", "12.0 MiB", "512 bytes": for messages. Returns buf. */
const char *mem_format(char buf[static 32], size_t bytes);

#endif
