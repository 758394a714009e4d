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

#include "loco/trainrun.h"

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

static void test_rng(void **state)
{
    uint64_t a = 42, b = 42;
    for (int i = 0; i < 5; i++)
        assert_true(loco_rng_next(&a) == loco_rng_next(&b));
    assert_true(loco_rng_mix(1, 2, 3) == loco_rng_mix(1, 2, 3));
    assert_true(loco_rng_mix(1, 2, 3) != loco_rng_mix(1, 2, 4));
    assert_true(loco_rng_mix(1, 2, 3) != loco_rng_mix(1, 3, 2));
    /* splitmix64's published first output for seed 0 */
    uint64_t z = 0;
    assert_true(loco_rng_next(&z) == 0xe220a8397b1dcdafull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_by_hand), cmocka_unit_test(test_adamw_decay_is_decoupled),
        cmocka_unit_test(test_schedule),      cmocka_unit_test(test_clip),
        cmocka_unit_test(test_rng),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
