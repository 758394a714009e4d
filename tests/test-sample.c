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
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
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

/* ---- top-p over a whole vocabulary, against a full sort ---------------- */

struct ref_cand {
    int32_t id;
    float logit, p;
};

static int ref_desc(const void *a, const void *b)
{
    const struct ref_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void ref_softmax(struct ref_cand *c, int32_t n, float temp)
{
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - c[0].logit) / temp);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
}

/* The sampling chain written the plain way: sort the whole vocabulary,
 * softmax, keep the top-p prefix, then min-p, then a draw at the
 * temperature with the sampler's generator. */
static int32_t ref_sample(const float *l, int32_t n, int32_t top_k, float temp, float top_p,
                          float min_p, struct loco_xoshiro *rng, struct ref_cand *c)
{
    for (int32_t i = 0; i < n; i++)
        c[i] = (struct ref_cand){i, l[i], 0.0f};
    qsort(c, (size_t)n, sizeof *c, ref_desc);
    if (top_k > 0 && top_k < n)
        n = top_k;
    ref_softmax(c, n, 1.0f);
    double cum = 0.0;
    int32_t keep = n;
    for (int32_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (cum >= top_p) {
            keep = i + 1;
            break;
        }
    }
    if (min_p > 0.0f) {
        int32_t k = 1;
        while (k < keep && c[k].p >= c[0].p * min_p)
            k++;
        keep = k;
    }
    ref_softmax(c, keep, temp);
    double total = 0.0; /* r spans the rounded probabilities' own sum */
    for (int32_t i = 0; i < keep; i++)
        total += c[i].p;
    double r = loco_xoshiro_double(rng) * total;
    cum = 0.0;
    for (int32_t i = 0; i < keep; i++) {
        cum += c[i].p;
        if (r < cum)
            return c[i].id;
    }
    return c[keep - 1].id;
}

/* With top-k off, top-p over 49,152 candidates (the default model's
 * vocabulary) sorts only the candidates it keeps. The tokens it draws are
 * the full sort's, draw for draw, whether top-p keeps 1 or thousands of
 * candidates (flat and peaked logits, ties included, min-p on and off). */
static void test_top_p_whole_vocabulary(void **state)
{
    (void)state;
    enum { N = 49152, DRAWS = 15 };
    float *l = malloc(N * sizeof *l);
    struct ref_cand *c = malloc(N * sizeof *c);
    assert_non_null(l);
    assert_non_null(c);
    const float top_ps[] = {0.3f, 0.9f, 0.95f, 0.999f};
    const float min_ps[] = {0.0f, 0.05f};
    const float sharp[] = {0.5f, 4.0f, 12.0f}; /* flat to peaked */
    int kept_many = 0;
    for (size_t a = 0; a < sizeof top_ps / sizeof top_ps[0]; a++)
        for (size_t b = 0; b < sizeof min_ps / sizeof min_ps[0]; b++)
            for (size_t d = 0; d < sizeof sharp / sizeof sharp[0]; d++) {
                struct loco_sampler_params p = loco_sampler_default_params();
                p.temperature = 0.8f;
                p.top_k = 0;
                p.top_p = top_ps[a];
                p.min_p = min_ps[b];
                p.seed = 100 + a * 10 + b * 3 + d;
                struct loco_sampler *s = loco_sampler_init(p, N);
                assert_non_null(s);
                struct loco_xoshiro rng;
                loco_xoshiro_seed(&rng, p.seed);
                for (int t = 0; t < DRAWS; t++) {
                    for (int32_t i = 0; i < N; i++) /* ties: every 7th pair equal */
                        l[i] = sharp[d] * sinf(0.37f * (float)(i - i % 7 / 6) + (float)t);
                    l[(t * 7919) % N] += 3.0f;
                    int32_t want = ref_sample(l, N, 0, p.temperature, p.top_p, p.min_p, &rng, c);
                    assert_int_equal(loco_sampler_sample(s, l, NULL), want);
                    kept_many += c[0].p < 0.01f; /* the kept set was large */
                }
                loco_sampler_free(s);
            }
    assert_true(kept_many > 0);
    /* top-k 1000 under top-p (runs inside the top-k set), flat logits with
     * a block of -inf (usable candidates fewer than the vocabulary), and a
     * top-p that no prefix reaches before the top-k set ends */
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 1000;
    p.top_p = 0.9999f;
    p.min_p = 0.0f;
    p.seed = 77;
    struct loco_sampler *s = loco_sampler_init(p, N);
    assert_non_null(s);
    struct loco_xoshiro rng;
    loco_xoshiro_seed(&rng, p.seed);
    for (int t = 0; t < DRAWS; t++) {
        for (int32_t i = 0; i < N; i++)
            l[i] = i % 3 == 0 ? -INFINITY : 0.01f * sinf((float)(i + t));
        int32_t want = ref_sample(l, N, p.top_k, p.temperature, p.top_p, p.min_p, &rng, c);
        assert_int_equal(loco_sampler_sample(s, l, NULL), want);
    }
    loco_sampler_free(s);
    free(l);
    free(c);
}

/* A token at -inf inside the candidate set is never drawn: 64 candidates
 * kept by top-k, 61 of them at -inf and last in order, drawn 20,000 times
 * under 20 seeds. (The draw scales its random number to the rounded
 * probabilities' sum; before, a number past that sum fell through to the
 * last candidate, which can be one at -inf. That needs a number within
 * about 1e-7 of 1, too rare to meet here; the property is what is held.) */
static void test_never_draws_minus_inf(void **state)
{
    (void)state;
    enum { V = 64 };
    float l[V];
    for (int32_t i = 0; i < V; i++)
        l[i] = i < 3 ? (float)i : -INFINITY;
    struct loco_sampler_params p = loco_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = V;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    int32_t seen[3] = {0};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        p.seed = seed;
        struct loco_sampler *s = loco_sampler_init(p, V);
        assert_non_null(s);
        for (int d = 0; d < 1000; d++) {
            int32_t id = loco_sampler_sample(s, l, NULL);
            assert_true(id >= 0 && id < 3);
            seen[id]++;
        }
        loco_sampler_free(s);
    }
    /* 1 : e : e^2 */
    assert_true(seen[2] > seen[1] && seen[1] > seen[0] && seen[0] > 0);
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
        cmocka_unit_test(test_top_p_whole_vocabulary),
        cmocka_unit_test(test_seed_repeatable),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_allowed_tokens),
        cmocka_unit_test(test_nan_logits_every_mode),
        cmocka_unit_test(test_inf_logits),
        cmocka_unit_test(test_never_draws_minus_inf),
        cmocka_unit_test(test_no_usable_logit_is_an_error),
        cmocka_unit_test(test_non_finite_params),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
