/*
 * rng.h - the library's random numbers: seeded, reproducible streams.
 *
 * Two generators cover every new use:
 *   splitmix64 (Steele, Lea & Flood 2014): one 64-bit word of state. For
 *     shuffles, resampling and deriving seeds (training order, folds,
 *     bootstrap intervals).
 *   xoshiro256** (Blackman & Vigna 2018): four words, seeded by splitmix64.
 *     For long streams (sampling, dropout masks).
 * Two older one-word generators stay because models were trained with
 * their streams (the learned router's and the classifier's shuffles):
 *   xorshift64 (Marsaglia 2003, shifts 13, 7, 17) and the 64-bit LCG of
 *   Knuth's MMIX; use the two above for anything new.
 * Streams are stored in results (sampling seeds, training shuffles,
 * bootstrap resamples, eval records): a change to any function here
 * changes published figures, so tests/test-core.c pins their outputs.
 */
#ifndef LOCO_CORE_RNG_H
#define LOCO_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

/* ---- splitmix64 ----------------------------------------------------------- */

/* The splitmix64 finaliser: every input bit spreads over the output (a
 * hash of one word; loco_splitmix64 is this of a stepped state). */
static inline uint64_t loco_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The next value of the stream in *state. */
static inline uint64_t loco_splitmix64(uint64_t *state)
{
    return loco_mix64(*state += 0x9e3779b97f4a7c15ull);
}

/* loco_splitmix64 as an exported function: the training API's name for it
 * (declared in loco/trainrun.h too). */
uint64_t loco_rng_next(uint64_t *state);
/* A seed derived from three words (a seed, a purpose tag, an index). */
uint64_t loco_rng_mix(uint64_t a, uint64_t b, uint64_t c);

/* A uniform index in [0, n), n > 0, from *state without modulo bias: the
 * short last block of the 64-bit range is drawn again. Inline, as the
 * bootstrap draws millions. */
static inline size_t loco_rng_below(uint64_t *state, size_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = loco_splitmix64(state);
    while (r >= limit);
    return (size_t)(r % n);
}

/* ---- xoshiro256** --------------------------------------------------------- */

struct loco_xoshiro {
    uint64_t s[4];
};

/* The state from four splitmix64 draws of seed. */
void loco_xoshiro_seed(struct loco_xoshiro *r, uint64_t seed);

/* The draws are inline: dropout masks take one per two inputs. */
static inline uint64_t loco_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t loco_xoshiro_next(struct loco_xoshiro *r)
{
    uint64_t *s = r->s;
    uint64_t result = loco_rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = loco_rotl64(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double loco_xoshiro_double(struct loco_xoshiro *r)
{
    return (double)(loco_xoshiro_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [0, 1) with 24 random bits. */
static inline float loco_xoshiro_float(struct loco_xoshiro *r)
{
    return (float)(loco_xoshiro_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* ---- older one-word generators ------------------------------------------- */

/* xorshift64 with shifts 13, 7, 17: the next state, also returned. */
uint64_t loco_xorshift64(uint64_t *state);
/* Knuth's MMIX LCG (6364136223846793005, 1442695040888963407): the next
 * state, also returned; its low bits are weak, so use the high ones. */
uint64_t loco_lcg64(uint64_t *state);

#endif
