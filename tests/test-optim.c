/*
 * test-optim.c - the numbers a training step is made of: one AdamW update
 * against values worked out by hand, the warm-up + cosine schedule, global
 * norm clipping, and the PRNG that seeds shuffles and dropout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "loco/trainrun.h"
#include "testutil.h"

/* Two steps on one parameter, p = 1, lr 0.1, weight decay 0.01, default
 * betas and eps. By hand:
 *   t=1, g=0.5:   m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25
 *                 p = 1 - 0.1*0.01*1 - 0.1 * 0.5/(0.5 + 1e-8) = 0.899
 *   t=2, g=-0.25: m = 0.02, v = 0.00031225,
 *                 m^ = 0.02/0.19 = 0.1052632, v^ = 0.00031225/0.001999 = 0.1562031
 *                 p = 0.899 - 0.1*0.01*0.899 - 0.1 * 0.1052632/0.3952254 = 0.8714673 */
static void test_adamw_by_hand(void **state)
{
    struct loco_adamw_params h = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
    float p = 1.0f, m = 0, v = 0, g = 0.5f;
    loco_adamw_update(&p, &g, &m, &v, 1, 0.1, &h, 1);
    assert_float_equal(m, 0.05f, 1e-7);
    assert_float_equal(v, 0.00025f, 1e-8); /* (1 - 0.999) rounds in f32 */
    assert_float_equal(p, 0.899f, 2e-6);
    g = -0.25f;
    loco_adamw_update(&p, &g, &m, &v, 1, 0.1, &h, 2);
    assert_float_equal(m, 0.02f, 1e-7);
    assert_float_equal(v, 0.00031225f, 1e-8);
    assert_float_equal(p, 0.8714673f, 2e-6);
}

/* Decoupled weight decay: with a zero gradient only the decay acts. */
static void test_adamw_decay_is_decoupled(void **state)
{
    struct loco_adamw_params h = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.5};
    float p[2] = {2.0f, -4.0f}, g[2] = {0, 0}, m[2] = {0}, v[2] = {0};
    loco_adamw_update(p, g, m, v, 2, 0.1, &h, 1);
    assert_float_equal(p[0], 2.0f - 0.1f * 0.5f * 2.0f, 1e-6);
    assert_float_equal(p[1], -4.0f + 0.1f * 0.5f * 4.0f, 1e-6);
}

static void test_schedule(void **state)
{
    const double lr = 1e-3, min_lr = 1e-4;
    /* warm-up: (s+1)/W of lr */
    assert_float_equal(loco_lr_at(0, 100, 10, lr, min_lr), 1e-4, 1e-12);
    assert_float_equal(loco_lr_at(4, 100, 10, lr, min_lr), 5e-4, 1e-12);
    assert_float_equal(loco_lr_at(9, 100, 10, lr, min_lr), 1e-3, 1e-12);
    /* cosine from lr at s = W to min_lr at s = total */
    assert_float_equal(loco_lr_at(10, 100, 10, lr, min_lr), lr, 1e-12);
    assert_float_equal(loco_lr_at(55, 100, 10, lr, min_lr), (lr + min_lr) / 2, 1e-12);
    double q = min_lr + 0.5 * (lr - min_lr) * (1 + cos(M_PI * 0.25));
    assert_float_equal(loco_lr_at(35, 110, 10, lr, min_lr), q, 1e-12); /* a quarter of the way */
    assert_float_equal(loco_lr_at(100, 100, 10, lr, min_lr), min_lr, 1e-12);
    double prev = 1;
    for (int64_t s = 10; s < 100; s++) {
        double now = loco_lr_at(s, 100, 10, lr, min_lr);
        assert_true(now <= prev && now >= min_lr);
        prev = now;
    }
    /* no warm-up */
    assert_float_equal(loco_lr_at(0, 10, 0, lr, 0), lr, 1e-12);
}

static void test_clip(void **state)
{
    float g[2] = {3, 4};
    assert_float_equal(loco_grad_clip(g, 2, 1.0), 5.0, 1e-9);
    assert_float_equal(g[0], 0.6f, 1e-6);
    assert_float_equal(g[1], 0.8f, 1e-6);
    float h[2] = {0.3f, 0.4f};
    assert_float_equal(loco_grad_clip(h, 2, 1.0), 0.5, 1e-6);
    assert_float_equal(h[0], 0.3f, 0); /* under the limit: untouched */
    float k[2] = {30, 40};
    loco_grad_clip(k, 2, 0); /* 0 = off */
    assert_float_equal(k[1], 40.0f, 0);
}

/* splitmix64 against the published reference (Vigna's splitmix64.c, seed 0;
 * the values recomputed independently in Python) and its state step: each
 * call adds the golden gamma 0x9e3779b97f4a7c15. */
static void test_rng_next(void **state)
{
    static const uint64_t seed0[5] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull,
                                      0x06c45d188009454full, 0xf88bb8a8724c81ecull,
                                      0x1b39896a51a8749bull};
    uint64_t z = 0;
    for (int i = 0; i < 5; i++)
        assert_true(loco_rng_next(&z) == seed0[i]);
    assert_true(z == 5 * 0x9e3779b97f4a7c15ull);
    uint64_t s = 42;
    assert_true(loco_rng_next(&s) == 0xbdd732262feb6e95ull);
    assert_true(s == 42 + 0x9e3779b97f4a7c15ull);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int popcount64(uint64_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* loco_rng_mix derives the seeds of shuffles and dropout masks from (run
 * seed, purpose, epoch): each argument and their order must matter, and the
 * seeds of neighbouring epochs must look unrelated. Avalanche: flipping any
 * one input bit flips each output bit with probability 1/2, so over 100
 * triples x 192 single-bit flips the mean Hamming distance is 32 with a
 * standard deviation of 4 / sqrt(19200) = 0.03; it must lie within 32 +- 0.5
 * (a mix that XORs or adds its inputs scores near 1). */
static void test_rng_mix(void **state)
{
    assert_true(loco_rng_mix(1, 2, 3) != loco_rng_mix(1, 2, 4));
    assert_true(loco_rng_mix(1, 2, 3) != loco_rng_mix(1, 3, 2));
    assert_true(loco_rng_mix(1, 2, 3) != loco_rng_mix(2, 1, 3));
    double flips = 0;
    int trials = 0;
    uint64_t st = 7;
    for (int t = 0; t < 100; t++) {
        uint64_t in[3] = {loco_rng_next(&st), loco_rng_next(&st), (uint64_t)t};
        uint64_t base = loco_rng_mix(in[0], in[1], in[2]);
        for (int arg = 0; arg < 3; arg++)
            for (int bit = 0; bit < 64; bit++) {
                uint64_t x[3] = {in[0], in[1], in[2]};
                x[arg] ^= 1ull << bit;
                flips += popcount64(base ^ loco_rng_mix(x[0], x[1], x[2]));
                trials++;
            }
    }
    double mean = flips / trials;
    assert_true(fabs(mean - 32.0) < 0.5);
    /* the seeds of 10,000 epochs of one run are all different */
    enum { EPOCHS = 10000 };
    uint64_t *seeds = malloc(EPOCHS * sizeof *seeds);
    assert_non_null(seeds);
    for (uint64_t e = 0; e < EPOCHS; e++)
        seeds[e] = loco_rng_mix(42, 0x6f72646572, e);
    qsort(seeds, EPOCHS, sizeof *seeds, cmp_u64);
    for (int i = 1; i < EPOCHS; i++)
        assert_true(seeds[i] != seeds[i - 1]);
    free(seeds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_by_hand), cmocka_unit_test(test_adamw_decay_is_decoupled),
        cmocka_unit_test(test_schedule),      cmocka_unit_test(test_clip),
        cmocka_unit_test(test_rng_next),      cmocka_unit_test(test_rng_mix),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
