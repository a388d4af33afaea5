/* runtime/rng.c — xoshiro256** (Blackman & Vigna), seeded by splitmix64. */
#include "runtime/rng.h"

#include <assert.h>
#include <sodium.h>

static uint64_t s_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void roost_rng_seed(roost_rng_t *self, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        self->s[i] = s_splitmix(&seed);
}

void roost_rng_seed_random(roost_rng_t *self)
{
    uint64_t seed;
    randombytes_buf(&seed, sizeof seed);
    roost_rng_seed(self, seed);
}

static inline uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t roost_rng_next(roost_rng_t *self)
{
    uint64_t *s = self->s;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

uint64_t roost_rng_below(roost_rng_t *self, uint64_t bound)
{
    assert(bound > 0);
    /* Lemire's nearly-divisionless method with rejection: unbiased. */
    uint64_t threshold = -bound % bound;
    for (;;) {
        __uint128_t m = (__uint128_t)roost_rng_next(self) * bound;
        if ((uint64_t)m >= threshold)
            return (uint64_t)(m >> 64);
    }
}

double roost_rng_unit(roost_rng_t *self)
{
    return (double)(roost_rng_next(self) >> 11) * 0x1.0p-53;
}
