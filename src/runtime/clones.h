/* RT_CLONES: on gcc for x86-64 Linux, an AVX2 clone of a kernel besides
 * the default (SSE2) one, the loader choosing by the CPU it runs on; the
 * default build does not assume -march. Only for loops whose every
 * operation rounds the same at any vector width (no FMA: -ffp-contract=off
 * holds in clones too; sums in explicit lanes, never reassociated), so
 * both clones give the same bits. */
#ifndef NNC_RT_CLONES_H
#define NNC_RT_CLONES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define RT_CLONES
#endif

#endif
