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
#include "testutil.h"

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

/* 200 draws at temperature 1.5 over 100 tokens with the given seed. */
static void draws(uint64_t seed, int32_t *out)
{
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    float l[100];
    for (int i = 0; i < 100; i++)
        l[i] = sinf((float)i);
    struct loco_sampler *s = loco_sampler_init(p, 100);
    assert_non_null(s);
    for (int i = 0; i < 200; i++)
        out[i] = loco_sampler_sample(s, l, NULL);
    loco_sampler_free(s);
}

/* A seed fixes the whole sequence of draws and nothing else does: the same
 * seed again, even after another seed ran and with two samplers alive at
 * once, repeats it draw for draw; the next seed gives another sequence.
 * Under these logits (sin(i) / 1.5) two independent draws agree with
 * probability sum p_i^2 = 0.012, so two sequences agree on 2.4 of 200
 * draws on average and on more than 20 with probability 9e-14 (binomial
 * tail); 200 draws show 81 distinct tokens on average, and fewer than 50
 * only if the draws do not vary. A sampler that ignored its seed, or shared
 * one generator between samplers, fails here. */
static void test_seed_repeatable(void **state)
{
    (void)state;
    int32_t a[200], b[200], c[200], distinct = 0, same = 0;
    bool seen[100] = {false};
    draws(12345, a);
    draws(12346, c);
    draws(12345, b);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(a[i], b[i]);
        same += a[i] == c[i];
        distinct += !seen[a[i]];
        seen[a[i]] = true;
    }
    assert_true(same <= 20);
    assert_true(distinct >= 50); /* the draws really vary */
    /* two samplers alive at once, interleaved: each its own generator */
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.5f, p.top_k = 0, p.top_p = 1.0f, p.min_p = 0.0f, p.seed = 12345;
    float l[100];
    for (int i = 0; i < 100; i++)
        l[i] = sinf((float)i);
    struct loco_sampler *x = loco_sampler_init(p, 100), *y = loco_sampler_init(p, 100);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(loco_sampler_sample(x, l, NULL), a[i]);
        assert_int_equal(loco_sampler_sample(y, l, NULL), a[i]);
    }
    loco_sampler_free(x);
    loco_sampler_free(y);
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

/* ---- non-finite logits (a broken model or adapter) ------------------------ */

/* Every sampling mode the sampler has, as params to loop over. */
static int sampling_modes(struct loco_sampler_params *modes, const int32_t *allowed,
                          int32_t n_allowed)
{
    struct loco_sampler_params d = loco_sampler_default_params();
    d.seed = 11;
    int n = 0;
    modes[n] = d; /* top-k, top-p, min-p */
    modes[n++].top_k = 4;
    modes[n] = d, modes[n++].temperature = 0.0f; /* greedy */
    modes[n] = modes[1], modes[n++].repeat_penalty = 1.3f; /* greedy with a penalty */
    modes[n] = d, modes[n].top_k = 0, modes[n].top_p = 1.0f, modes[n].min_p = 0.0f;
    n++; /* plain temperature */
    modes[n] = d, modes[n].top_k = 0, modes[n++].top_p = 0.5f;
    modes[n] = d, modes[n].top_k = 0, modes[n].top_p = 1.0f, modes[n++].min_p = 0.5f;
    modes[n] = d, modes[n].repeat_penalty = 1.3f, modes[n++].temperature = 1.0f;
    modes[n] = d, modes[n].allowed = allowed, modes[n].n_allowed = n_allowed;
    modes[n++].temperature = 0.0f; /* allowed, greedy */
    modes[n] = d, modes[n].allowed = allowed, modes[n++].n_allowed = n_allowed;
    return n;
}

/* NaN everywhere but two tokens: every mode picks one of those two (greedy
 * the larger), never reads outside the vocabulary, and reports a finite
 * log-probability. Before NaN counted as -inf, the top-k partition ran off
 * the candidate array (ASan: heap-buffer-overflow). */
static void test_nan_logits_every_mode(void **state)
{
    (void)state;
    enum { V = 97 };
    float l[V];
    for (int i = 0; i < V; i++)
        l[i] = NAN;
    l[5] = 1.0f, l[60] = 2.0f;
    const int32_t allowed[] = {2, 5, 60, 48};
    struct loco_sampler_params modes[16];
    int n_modes = sampling_modes(modes, allowed, 4);
    for (int m = 0; m < n_modes; m++) {
        struct loco_sampler *s = loco_sampler_init(modes[m], V);
        assert_non_null(s);
        loco_sampler_accept(s, 60);
        loco_sampler_accept(s, 7);
        for (int i = 0; i < 200; i++) {
            float lp = 0.0f;
            int32_t id = loco_sampler_sample(s, l, &lp);
            assert_true(id == 5 || id == 60);
            assert_true(isfinite(lp) && lp <= 0.0f);
            if (modes[m].temperature <= 0.0f && modes[m].repeat_penalty == 1.0f)
                assert_int_equal(id, 60);
        }
        loco_sampler_free(s);
    }
}

/* +inf logits take all the probability, shared equally; -inf never wins. */
static void test_inf_logits(void **state)
{
    (void)state;
    enum { V = 50 };
    float l[V];
    for (int i = 0; i < V; i++)
        l[i] = i % 3 ? -INFINITY : (float)i;
    l[7] = INFINITY, l[31] = INFINITY, l[12] = NAN;
    assert_int_equal(loco_argmax(l, V), 7);
    assert_float_equal(loco_logprob(l, V, 31), -logf(2.0f), 1e-6);
    assert_true(loco_logprob(l, V, 12) == -INFINITY);
    assert_true(loco_logprob(l, V, 3) == -INFINITY);
    const int32_t allowed[] = {7, 31, 3};
    struct loco_sampler_params modes[16];
    int n_modes = sampling_modes(modes, allowed, 3);
    for (int m = 0; m < n_modes; m++) {
        struct loco_sampler *s = loco_sampler_init(modes[m], V);
        int seen7 = 0, seen31 = 0;
        for (int i = 0; i < 400; i++) {
            int32_t id = loco_sampler_sample(s, l, NULL);
            assert_true(id == 7 || id == 31);
            seen7 += id == 7, seen31 += id == 31;
        }
        if (modes[m].temperature <= 0.0f)
            assert_int_equal(seen31, 0); /* greedy: the lower id of a tie */
        else if (modes[m].top_p >= 1.0f && modes[m].min_p <= 0.0f)
            assert_true(seen7 > 0 && seen31 > 0); /* untruncated: both drawn */
        loco_sampler_free(s);
    }
}

/* Nothing usable (all NaN, or NaN and -inf): an error, in every mode. */
static void test_no_usable_logit_is_an_error(void **state)
{
    (void)state;
    enum { V = 41 };
    float l[V];
    for (int i = 0; i < V; i++)
        l[i] = i % 2 ? NAN : -INFINITY;
    const int32_t allowed[] = {1, 2, 3};
    struct loco_sampler_params modes[16];
    int n_modes = sampling_modes(modes, allowed, 3);
    for (int m = 0; m < n_modes; m++) {
        struct loco_sampler *s = loco_sampler_init(modes[m], V);
        loco_error_clear();
        float lp = 123.0f;
        assert_int_equal(loco_sampler_sample(s, l, &lp), LOCO_ERR_INVALID);
        assert_non_null(strstr(loco_error_message(), "NaN"));
        assert_float_equal(lp, 123.0f, 0); /* untouched on error */
        loco_sampler_free(s);
    }
    /* a finite logit among the allowed ones is enough, even if others are NaN */
    l[2] = 0.5f;
    struct loco_sampler_params p = modes[n_modes - 1];
    struct loco_sampler *s = loco_sampler_init(p, V);
    assert_int_equal(loco_sampler_sample(s, l, NULL), 2);
    loco_sampler_free(s);
}

/* Non-finite parameters are refused up front. */
static void test_non_finite_params(void **state)
{
    (void)state;
    float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        struct loco_sampler_params p = loco_sampler_default_params();
        p.temperature = bad[i];
        assert_null(loco_sampler_init(p, 8));
        p = loco_sampler_default_params();
        p.top_p = bad[i];
        assert_null(loco_sampler_init(p, 8));
        p = loco_sampler_default_params();
        p.min_p = bad[i];
        assert_null(loco_sampler_init(p, 8));
        p = loco_sampler_default_params();
        p.repeat_penalty = bad[i];
        assert_null(loco_sampler_init(p, 8));
        assert_non_null(strstr(loco_error_message(), "repeat_penalty"));
    }
    struct loco_sampler_params p = loco_sampler_default_params();
    p.repeat_penalty = 0.0f;
    assert_null(loco_sampler_init(p, 8));
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
        cmocka_unit_test(test_nan_logits_every_mode),
        cmocka_unit_test(test_inf_logits),
        cmocka_unit_test(test_no_usable_logit_is_an_error),
        cmocka_unit_test(test_non_finite_params),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
