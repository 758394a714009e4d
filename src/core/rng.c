/*
 * rng.c - splitmix64, xoshiro256**, xorshift64 and an LCG (see core/rng.h).
 */
#include "core/rng.h"

uint64_t loco_rng_next(uint64_t *state)
{
    return loco_splitmix64(state);
}

uint64_t loco_rng_mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t s = a;
    uint64_t x = loco_splitmix64(&s);
    s = x ^ b;
    x = loco_splitmix64(&s);
    s = x ^ c;
    return loco_splitmix64(&s);
}

void loco_xoshiro_seed(struct loco_xoshiro *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = loco_splitmix64(&seed);
}

uint64_t loco_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

uint64_t loco_lcg64(uint64_t *state)
{
    return *state = *state * 6364136223846793005ull + 1442695040888963407ull;
}
