/* xoshiro128+ seeded by splitmix64; see rng.h for the exact algorithm. The
 * code is written for bit-exact results, not speed: every operation is on
 * fixed-width unsigned integers, so no platform can disagree. */
#include "rng.h"

static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint32_t rotl32(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

void rt_rng_seed(RtRng *r, uint64_t seed, uint64_t stream)
{
    uint64_t sm = seed ^ (stream * UINT64_C(0x9E3779B97F4A7C15));
    uint64_t a = splitmix64_next(&sm);
    uint64_t b = splitmix64_next(&sm);
    r->s[0] = (uint32_t)a;
    r->s[1] = (uint32_t)(a >> 32);
    r->s[2] = (uint32_t)b;
    r->s[3] = (uint32_t)(b >> 32);
    /* An all-zero state would stay zero forever. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

uint32_t rt_rng_next(RtRng *r)
{
    uint32_t *s = r->s;
    uint32_t result = s[0] + s[3];
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl32(s[3], 11);
    return result;
}

float rt_rng_uniform(RtRng *r)
{
    return (float)(rt_rng_next(r) >> 8) * (1.0f / 16777216.0f);
}

uint32_t rt_rng_below(RtRng *r, uint64_t n)
{
    uint64_t m = (uint64_t)rt_rng_next(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        /* Reject the few products that would bias small results. */
        uint32_t threshold = (uint32_t)((UINT64_C(0x100000000) - n) % n);
        while (low < threshold) {
            m = (uint64_t)rt_rng_next(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void rt_rng_shuffle(RtRng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rt_rng_below(r, i);
        size_t tmp = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = tmp;
    }
}
