/*
 * test-sample.c - the sampling chain: greedy, temperature, top-k, top-p,
 * min-p, repetition penalty, seeds and log-probabilities.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "loco/sample.h"

static struct loco_sampler_params greedy(void)
{
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 0.0f;
    p.seed = 1;
    return p;
}

static void test_argmax_ties_lowest(void **state)
{
    (void)state;
    const float l[5] = {1, 3, 3, 2, -1};
    assert_int_equal(loco_argmax(l, 5), 1);
}

static void test_logprob(void **state)
{
    (void)state;
    const float l[3] = {0.0f, logf(2.0f), logf(5.0f)}; /* p = 1/8, 2/8, 5/8 */
    assert_float_equal(loco_logprob(l, 3, 0), logf(1.0f / 8), 1e-6);
    assert_float_equal(loco_logprob(l, 3, 2), logf(5.0f / 8), 1e-6);
    const float big[2] = {1000.0f, 1000.0f}; /* no overflow */
    assert_float_equal(loco_logprob(big, 2, 1), logf(0.5f), 1e-6);
}

static void test_greedy(void **state)
{
    (void)state;
    struct loco_sampler *s = loco_sampler_init(greedy(), 4);
    const float l[4] = {0.1f, 2.0f, 1.9f, -3.0f};
    float lp;
    assert_int_equal(loco_sampler_sample(s, l, &lp), 1);
    assert_float_equal(lp, loco_logprob(l, 4, 1), 1e-7);
    loco_sampler_free(s);
}

static void test_repeat_penalty_changes_greedy(void **state)
{
    (void)state;
    struct loco_sampler_params p = greedy();
    p.repeat_penalty = 1.5f;
    struct loco_sampler *s = loco_sampler_init(p, 3);
    const float l[3] = {2.0f, 1.6f, -1.0f};
    assert_int_equal(loco_sampler_sample(s, l, NULL), 0);
    loco_sampler_accept(s, 0); /* 2.0 / 1.5 = 1.33 < 1.6 */
    assert_int_equal(loco_sampler_sample(s, l, NULL), 1);
    loco_sampler_accept(s, 1); /* both penalized: 1.33 vs 1.07 */
    assert_int_equal(loco_sampler_sample(s, l, NULL), 0);
    loco_sampler_reset(s);
    assert_int_equal(loco_sampler_sample(s, l, NULL), 0);
    loco_sampler_free(s);
}

static void test_negative_logit_penalty_multiplies(void **state)
{
    (void)state;
    struct loco_sampler_params p = greedy();
    p.repeat_penalty = 2.0f;
    struct loco_sampler *s = loco_sampler_init(p, 2);
    const float l[2] = {-1.0f, -1.5f};
    loco_sampler_accept(s, 0); /* -1 * 2 = -2 < -1.5 */
    assert_int_equal(loco_sampler_sample(s, l, NULL), 1);
    loco_sampler_free(s);
}

/* Counts of draws over many samples follow the softmax. */
static void test_temperature_distribution(void **state)
{
    (void)state;
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 7;
    struct loco_sampler *s = loco_sampler_init(p, 3);
    const float l[3] = {0.0f, logf(2.0f), logf(5.0f)};
    int counts[3] = {0};
    for (int i = 0; i < 40000; i++)
        counts[loco_sampler_sample(s, l, NULL)]++;
    assert_true(fabs(counts[0] / 40000.0 - 0.125) < 0.01);
    assert_true(fabs(counts[2] / 40000.0 - 0.625) < 0.01);
    loco_sampler_free(s);
}

static void draw_set(struct loco_sampler_params p, const float *l, int n, int *seen)
{
    struct loco_sampler *s = loco_sampler_init(p, n);
    memset(seen, 0, (size_t)n * sizeof *seen);
    for (int i = 0; i < 5000; i++)
        seen[loco_sampler_sample(s, l, NULL)] = 1;
    loco_sampler_free(s);
}

static void test_top_k_top_p_min_p(void **state)
{
    (void)state;
    /* p ~ 0.5, 0.25, 0.125, 0.0625, 0.0625 */
    const float l[5] = {logf(8), logf(4), logf(2), logf(1), logf(1)};
    int seen[5];
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.0f;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 3;
    p.top_k = 2;
    draw_set(p, l, 5, seen);
    assert_true(seen[0] && seen[1] && !seen[2] && !seen[3] && !seen[4]);
    p.top_k = 0;
    p.top_p = 0.8f; /* 0.5 + 0.25 = 0.75 < 0.8 -> three kept */
    draw_set(p, l, 5, seen);
    assert_true(seen[0] && seen[1] && seen[2] && !seen[3] && !seen[4]);
    p.top_p = 1.0f;
    p.min_p = 0.3f; /* keep p >= 0.15 */
    draw_set(p, l, 5, seen);
    assert_true(seen[0] && seen[1] && !seen[2]);
}

static void test_seed_repeatable(void **state)
{
    (void)state;
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.5f;
    p.seed = 12345;
    float l[100];
    for (int i = 0; i < 100; i++)
        l[i] = sinf((float)i);
    struct loco_sampler *a = loco_sampler_init(p, 100), *b = loco_sampler_init(p, 100);
    for (int i = 0; i < 200; i++)
        assert_int_equal(loco_sampler_sample(a, l, NULL), loco_sampler_sample(b, l, NULL));
    loco_sampler_free(a);
    loco_sampler_free(b);
}

static void test_invalid_params(void **state)
{
    (void)state;
    assert_null(loco_sampler_init(loco_sampler_default_params(), 0));
    assert_true(strlen(loco_error_message()) > 0);
}

/* Only allowed tokens come out: greedy takes the best of them, sampling
 * follows their own softmax (here 1 : e : e^2 at temperature 1). */
static void test_allowed_tokens(void **state)
{
    (void)state;
    float logits[8] = {9, 0, 1, 2, 5, -1, 7, 3};
    int32_t allowed[] = {1, 2, 3, 99, -4}; /* invalid ids are ignored */
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 0;
    p.allowed = allowed;
    p.n_allowed = 5;
    struct loco_sampler *s = loco_sampler_init(p, 8);
    assert_int_equal(loco_sampler_sample(s, logits, NULL), 3);
    loco_sampler_free(s);
    p.temperature = 1;
    p.top_k = 1; /* the allowed set is the whole choice: no other truncation */
    p.seed = 7;
    s = loco_sampler_init(p, 8);
    int count[8] = {0};
    for (int i = 0; i < 30000; i++)
        count[loco_sampler_sample(s, logits, NULL)]++;
    loco_sampler_free(s);
    assert_int_equal(count[0] + count[4] + count[5] + count[6] + count[7], 0);
    double z = 1 + exp(1) + exp(2);
    assert_true(fabs(count[1] / 30000.0 - 1 / z) < 0.01);
    assert_true(fabs(count[3] / 30000.0 - exp(2) / z) < 0.01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax_ties_lowest),
        cmocka_unit_test(test_logprob),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_repeat_penalty_changes_greedy),
        cmocka_unit_test(test_negative_logit_penalty_multiplies),
        cmocka_unit_test(test_temperature_distribution),
        cmocka_unit_test(test_top_k_top_p_min_p),
        cmocka_unit_test(test_seed_repeatable),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_allowed_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
