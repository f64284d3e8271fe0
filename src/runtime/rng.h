/* The runtime's one random number generator, identical on every machine.
 *
 * Algorithm: xoshiro128+ 1.0 (Blackman & Vigna, 2018) with 4 x 32-bit state,
 *   result = s0 + s3;  t = s1 << 9;
 *   s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11).
 * Seeding: splitmix64 (Steele, Lea & Flood) started at
 *   seed ^ (stream * 0x9E3779B97F4A7C15), two outputs give the state:
 *   s0 = low 32 bits of the first, s1 = its high 32 bits, s2/s3 likewise
 *   from the second. A separate stream keeps weight initialisation and
 *   shuffling/dropout independent though they share the user's seed.
 * Floats: the top 24 bits of one output times 2^-24, uniform in [0, 1)
 *   (xoshiro128+'s low bits are weak; the top bits are not).
 * Integers below n: Lemire's multiply-shift with rejection (unbiased).
 * Shuffle: Fisher-Yates from the last element down, swapping element i
 *   with one drawn below i + 1. */
#ifndef NNC_RT_RNG_H
#define NNC_RT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct RtRng {
    uint32_t s[4];
} RtRng;

enum { RT_STREAM_INIT = 0, RT_STREAM_TRAIN = 1 };

void rt_rng_seed(RtRng *r, uint64_t seed, uint64_t stream);
uint32_t rt_rng_next(RtRng *r);
/* Uniform in [0, 1). */
float rt_rng_uniform(RtRng *r);
/* Uniform integer in [0, n); n must be in 1..2^32. */
uint32_t rt_rng_below(RtRng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n), n <= 2^32. */
void rt_rng_shuffle(RtRng *r, size_t *idx, size_t n);

#endif
