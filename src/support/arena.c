/* Arena allocator: big blocks, bump pointer, freed all at once. */
#include "nnc/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ArenaBlock {
    ArenaBlock *next;
    size_t used;
    size_t cap;
    max_align_t data[]; /* aligned for any type */
};

/* One adopted block; the record itself lives in the arena. */
struct ArenaAdopted {
    ArenaAdopted *next;
    void *block;
};

enum { ARENA_BLOCK_SIZE = 64 * 1024 };

/* Under AddressSanitizer every allocation gets its own exactly sized block,
 * so an overflow is caught instead of landing silently in a neighbour (a
 * stale node count once wrote past an array inside a shared block). */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_EXACT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_EXACT 1
#endif
#endif
#ifndef ARENA_EXACT
#define ARENA_EXACT 0
#endif

void arena_init(Arena *a)
{
    a->head = NULL;
    a->adopted = NULL;
}

void arena_free(Arena *a)
{
    /* The adopted list lives in the blocks: walk it before freeing them. */
    for (ArenaAdopted *r = a->adopted; r; r = r->next)
        free(r->block);
    a->adopted = NULL;
    ArenaBlock *b = a->head;
    while (b) {
        ArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

static ArenaBlock *arena_new_block(Arena *a, size_t need)
{
    size_t cap = need > ARENA_BLOCK_SIZE || ARENA_EXACT ? need : ARENA_BLOCK_SIZE;
    if (cap > SIZE_MAX - sizeof(ArenaBlock))
        return NULL;
    ArenaBlock *b = malloc(sizeof(ArenaBlock) + cap);
    if (!b)
        return NULL;
    b->cap = cap;
    b->used = 0;
    /* A big request gets its own block behind the head, so the head keeps
     * its free space for the small allocations that follow. */
    if (a->head && need > ARENA_BLOCK_SIZE / 4) {
        b->next = a->head->next;
        a->head->next = b;
    } else {
        b->next = a->head;
        a->head = b;
    }
    return b;
}

void *arena_alloc(Arena *a, size_t size)
{
    const size_t align = sizeof(max_align_t);
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - align)
        return NULL;
    if (!ARENA_EXACT)
        size = (size + align - 1) / align * align;
    ArenaBlock *b = a->head;
    if (ARENA_EXACT || !b || b->cap - b->used < size) {
        b = arena_new_block(a, size);
        if (!b)
            return NULL;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_array(Arena *a, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return NULL;
    return arena_alloc(a, total);
}

bool arena_adopt(Arena *a, void *p)
{
    if (!p)
        return true;
    ArenaAdopted *r = arena_alloc(a, sizeof *r);
    if (!r) {
        free(p);
        return false;
    }
    r->block = p;
    r->next = a->adopted;
    a->adopted = r;
    return true;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* A decimal byte count, or SIZE_MAX when text is not one ("max"). */
static size_t parse_bytes(const char *text)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    return end != text && *end == '\0' && v < SIZE_MAX ? (size_t)v : SIZE_MAX;
}

static size_t read_limit_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return SIZE_MAX;
    char buf[64];
    size_t v = fgets(buf, sizeof buf, f) ? parse_bytes(buf) : SIZE_MAX;
    fclose(f);
    return v;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

size_t mem_limit_bytes(void)
{
    size_t limit = SIZE_MAX;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t phys;
    if (pages > 0 && page > 0 && !__builtin_mul_overflow((size_t)pages, (size_t)page, &phys))
        limit = phys;
    limit = min_size(limit, read_limit_file("/sys/fs/cgroup/memory.max"));
    limit = min_size(limit, read_limit_file("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    const char *env = getenv("NNC_MEMORY_LIMIT");
    if (env && *env)
        limit = min_size(limit, parse_bytes(env));
    return limit;
}

const char *mem_format(char buf[static 32], size_t bytes)
{
    if (bytes >= (size_t)1 << 30)
        snprintf(buf, 32, "%.1f GiB", (double)bytes / 1073741824.0);
    else if (bytes >= (size_t)1 << 20)
        snprintf(buf, 32, "%.1f MiB", (double)bytes / 1048576.0);
    else
        snprintf(buf, 32, "%zu bytes", bytes);
    return buf;
}
