/*
 * test-stats.c - the harness's statistics against scipy/statsmodels.
 *
 * Goldens come from tests/reference/make-stats-golden.py (scipy 1.17,
 * statsmodels 0.15); the data sets are stored in the JSON beside the
 * answers. Tolerances: 1e-12 absolute where both sides evaluate the same
 * closed form (Wilson, Newcombe, Cohen's h, normal power, exact p-values
 * that are sums of binomial or sign-pattern counts), 1e-9 relative for
 * values computed through lgamma, the incomplete beta function or a
 * root-finder (binomial tails, McNemar p, t quantiles and intervals, exact
 * McNemar power). The bootstrap cannot match numpy's generator, so it is
 * checked for determinism and against the large-sample normal interval.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/stats.h"
#include "testutil.h"

static cJSON *golden;

static int load_golden(void **state)
{
    char path[4096];
    test_source_path("tests/reference/stats-golden.json", path, sizeof path);
    golden = test_read_json(path);
    if (!golden)
        fprintf(stderr, "cannot read %s (set LOCO_SOURCE_DIR)\n", path);
    return golden ? 0 : -1;
}

static int free_golden(void **state)
{
    cJSON_Delete(golden);
    return 0;
}

static double num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        fail_msg("golden field '%s' missing", key);
    return v->valuedouble;
}

static double idx(const cJSON *obj, const char *key, int i)
{
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, key), i);
    if (!cJSON_IsNumber(v))
        fail_msg("golden field '%s[%d]' missing", key, i);
    return v->valuedouble;
}

/* Array field as malloc'd doubles; *n receives the length. */
static double *array(const cJSON *obj, const char *key, size_t *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    *n = (size_t)cJSON_GetArraySize(a);
    double *x = malloc(sizeof(double) * (*n ? *n : 1));
    assert_non_null(x);
    for (size_t i = 0; i < *n; i++)
        x[i] = cJSON_GetArrayItem(a, (int)i)->valuedouble;
    return x;
}

static void near_abs(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.17g, want %.17g (|diff| %.3g > %.1g)", what, got, want,
                 fabs(got - want), tol);
}

static void near_rel(double got, double want, double tol, const char *what)
{
    double scale = fabs(want) > 1e-300 ? fabs(want) : 1.0;
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("%s: got %.17g, want %.17g (rel diff %.3g > %.1g)", what, got, want,
                 fabs(got - want) / scale, tol);
}

static const cJSON *section(const char *a, const char *b)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(golden, a);
    return b ? cJSON_GetObjectItemCaseSensitive(s, b) : s;
}

/* ---- distributions ------------------------------------------------------ */

static void test_distributions(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("distributions", "norm_ppf"))
        near_abs(loco_stats_norm_ppf(num(c, "p")), num(c, "x"), 1e-12, "norm_ppf");
    cJSON_ArrayForEach(c, section("distributions", "norm_cdf"))
        near_rel(loco_stats_norm_cdf(num(c, "x")), num(c, "p"), 1e-12, "norm_cdf");
    cJSON_ArrayForEach(c, section("distributions", "t_cdf"))
        near_rel(loco_stats_t_cdf(num(c, "t"), num(c, "df")), num(c, "p"), 1e-9, "t_cdf");
    cJSON_ArrayForEach(c, section("distributions", "t_ppf"))
        near_rel(loco_stats_t_ppf(num(c, "p"), num(c, "df")), num(c, "t"), 1e-9, "t_ppf");
    cJSON_ArrayForEach(c, section("distributions", "binom_half_cdf"))
        near_rel(loco_stats_binom_half_cdf((uint32_t)num(c, "k"), (uint32_t)num(c, "n")),
                 num(c, "p"), 1e-9, "binom_half_cdf");
    assert_true(isnan(loco_stats_norm_ppf(0.0)));
    assert_true(isnan(loco_stats_t_ppf(0.5, 0.0)));
    assert_true(isnan(loco_stats_t_cdf(1.0, -1.0)));
}

/* ---- pass/fail items ---------------------------------------------------- */

static void test_wilson_golden(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("binary", NULL))
    {
        uint32_t n11 = (uint32_t)num(c, "n11"), b = (uint32_t)num(c, "b"),
                 cc = (uint32_t)num(c, "c"), n = n11 + b + cc + (uint32_t)num(c, "n00");
        struct loco_ci ci;
        assert_int_equal(loco_stats_wilson(n11 + b, n, 0.05, &ci), LOCO_OK);
        near_abs(ci.lo, idx(c, "base_ci", 0), 1e-12, "wilson base lo");
        near_abs(ci.hi, idx(c, "base_ci", 1), 1e-12, "wilson base hi");
        assert_int_equal(loco_stats_wilson(n11 + cc, n, 0.05, &ci), LOCO_OK);
        near_abs(ci.lo, idx(c, "adapter_ci", 0), 1e-12, "wilson adapter lo");
        near_abs(ci.hi, idx(c, "adapter_ci", 1), 1e-12, "wilson adapter hi");
    }
    struct loco_ci ci;
    assert_int_equal(loco_stats_wilson(0, 10, 0.05, &ci), LOCO_OK);
    assert_true(ci.lo == 0.0 && ci.hi > 0.2 && ci.hi < 0.35); /* 0/10 is not certainty */
    assert_int_equal(loco_stats_wilson(3, 2, 0.05, &ci), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "k=3"));
    assert_int_equal(loco_stats_wilson(1, 2, 1.5, &ci), LOCO_ERR_INVALID);
}

/* The convention: p = min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c, 1/2). */
static void test_mcnemar(void **state)
{
    near_abs(loco_stats_mcnemar_p(0, 5), 2.0 / 32.0, 1e-15, "0 vs 5");
    near_abs(loco_stats_mcnemar_p(6, 0), 2.0 / 64.0, 1e-15, "6 vs 0");
    assert_true(loco_stats_mcnemar_p(7, 7) == 1.0);
    assert_true(loco_stats_mcnemar_p(0, 0) == 1.0);
    assert_true(loco_stats_mcnemar_p(3, 9) == loco_stats_mcnemar_p(9, 3));
    const cJSON *c;
    cJSON_ArrayForEach(c, section("binary", NULL))
        near_rel(loco_stats_mcnemar_p((uint32_t)num(c, "b"), (uint32_t)num(c, "c")),
                 num(c, "mcnemar_p"), 1e-9, "mcnemar p");
    /* a large table: the tail sum must not underflow 2^-n */
    double p = loco_stats_mcnemar_p(4000, 4300);
    assert_true(p > 0.0 && p < 0.05);
}

static void test_newcombe(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("binary", NULL))
    {
        struct loco_ci ci;
        assert_int_equal(loco_stats_newcombe_paired((uint32_t)num(c, "n11"), (uint32_t)num(c, "b"),
                                                    (uint32_t)num(c, "c"), (uint32_t)num(c, "n00"),
                                                    0.05, &ci),
                         LOCO_OK);
        near_abs(ci.lo, idx(c, "newcombe_ci", 0), 1e-12, "newcombe lo");
        near_abs(ci.hi, idx(c, "newcombe_ci", 1), 1e-12, "newcombe hi");
        assert_true(ci.lo <= num(c, "diff") && num(c, "diff") <= ci.hi);
        assert_true(ci.lo >= -1.0 && ci.hi <= 1.0);
    }
    struct loco_ci ci;
    assert_int_equal(loco_stats_newcombe_paired(0, 0, 0, 0, 0.05, &ci), LOCO_ERR_INVALID);
}

static void test_mcnemar_power(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("binary", NULL))
    {
        double n = num(c, "n11") + num(c, "b") + num(c, "c") + num(c, "n00");
        double pd = (num(c, "b") + num(c, "c")) / n;
        near_rel(loco_stats_mcnemar_power((uint32_t)n, pd, 0.10, 0.05), idx(c, "power", 0), 1e-9,
                 "power 0.10");
        near_rel(loco_stats_mcnemar_power((uint32_t)n, pd, 0.05, 0.05), idx(c, "power", 1), 1e-9,
                 "power 0.05");
    }
    /* more items, more power; no gain, power is the test's size (<= alpha) */
    double p50 = loco_stats_mcnemar_power(50, 0.3, 0.1, 0.05);
    double p500 = loco_stats_mcnemar_power(500, 0.3, 0.1, 0.05);
    assert_true(p50 < p500 && p500 > 0.9);
    double size = loco_stats_mcnemar_power(300, 0.3, 0.0, 0.05);
    assert_true(size > 0.0 && size <= 0.05);
    assert_true(loco_stats_mcnemar_power(100, 0.0, 0.0, 0.05) == 0.0);
    assert_true(isnan(loco_stats_mcnemar_power(100, 0.2, 0.1, 0.0)));
}

static void fill_binary(const cJSON *c, uint8_t **base, uint8_t **adapter, size_t *n)
{
    double *b = array(c, "base", n), *a = array(c, "adapter", n);
    *base = malloc(*n);
    *adapter = malloc(*n);
    assert_true(*base && *adapter);
    for (size_t i = 0; i < *n; i++) {
        (*base)[i] = (uint8_t)b[i];
        (*adapter)[i] = (uint8_t)a[i];
    }
    free(b);
    free(a);
}

static void test_binary_paired(void **state)
{
    struct loco_stats_params p = loco_stats_default_params();
    const cJSON *c;
    cJSON_ArrayForEach(c, section("binary", NULL))
    {
        uint8_t *base, *adapter;
        size_t n;
        fill_binary(c, &base, &adapter, &n);
        struct loco_binary_paired r;
        assert_int_equal(loco_stats_binary_paired(base, adapter, n, &p, &r), LOCO_OK);
        assert_int_equal(r.n, n);
        assert_int_equal(r.b, (uint32_t)num(c, "b"));
        assert_int_equal(r.c, (uint32_t)num(c, "c"));
        assert_int_equal(r.n11, (uint32_t)num(c, "n11"));
        near_abs(r.diff, num(c, "diff"), 1e-15, "diff");
        near_abs(r.diff, r.adapter_acc - r.base_acc, 1e-15, "diff = acc difference");
        near_abs(r.base_ci.lo, idx(c, "base_ci", 0), 1e-12, "base ci");
        near_abs(r.adapter_ci.hi, idx(c, "adapter_ci", 1), 1e-12, "adapter ci");
        near_abs(r.diff_ci.lo, idx(c, "newcombe_ci", 0), 1e-12, "diff ci");
        near_rel(r.p_value, num(c, "mcnemar_p"), 1e-9, "p");
        near_abs(r.cohens_h, num(c, "cohens_h"), 1e-12, "cohen's h");
        near_rel(r.power[0], idx(c, "power", 0), 1e-9, "power[0]");
        near_rel(r.power[1], idx(c, "power", 1), 1e-9, "power[1]");
        if (r.b > 0)
            near_abs(r.odds_ratio, (double)r.c / r.b, 1e-15, "odds ratio");
        else
            assert_true(isnan(r.odds_ratio));
        free(base);
        free(adapter);
    }
    uint8_t one = 1;
    struct loco_binary_paired r;
    assert_int_equal(loco_stats_binary_paired(&one, &one, 0, &p, &r), LOCO_ERR_INVALID);
    assert_int_equal(loco_stats_binary_paired(NULL, &one, 1, &p, &r), LOCO_ERR_INVALID);
}

/* ---- continuous items --------------------------------------------------- */

static void test_mean_ci(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("continuous", NULL))
    {
        size_t n;
        double *b = array(c, "base", &n), mean, sd;
        struct loco_ci ci;
        assert_int_equal(loco_stats_mean_ci(b, n, 0.05, &mean, &sd, &ci), LOCO_OK);
        near_abs(mean, num(c, "mean_base"), 1e-12, "mean");
        near_rel(ci.lo, idx(c, "base_ci", 0), 1e-9, "t ci lo");
        near_rel(ci.hi, idx(c, "base_ci", 1), 1e-9, "t ci hi");
        free(b);
    }
    double x[2] = {1.0, NAN}, mean;
    struct loco_ci ci;
    assert_int_equal(loco_stats_mean_ci(x, 1, 0.05, &mean, NULL, &ci), LOCO_ERR_INVALID);
    assert_int_equal(loco_stats_mean_ci(x, 2, 0.05, &mean, NULL, &ci), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "x[1]"));
}

static void test_wilcoxon_golden(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("continuous", NULL))
    {
        size_t n;
        double *b = array(c, "base", &n), *a = array(c, "adapter", &n);
        double *d = malloc(sizeof(double) * n);
        for (size_t i = 0; i < n; i++)
            d[i] = a[i] - b[i];
        const char *zm = cJSON_GetObjectItemCaseSensitive(c, "zero_method")->valuestring;
        enum loco_wilcoxon_zeros z =
            strcmp(zm, "pratt") == 0 ? LOCO_WILCOXON_ZEROS_PRATT : LOCO_WILCOXON_ZEROS_WILCOX;
        struct loco_wilcoxon w;
        assert_int_equal(loco_stats_wilcoxon(d, n, z, &w), LOCO_OK);
        assert_int_equal(w.n_used, (size_t)num(c, "n_used"));
        assert_int_equal(w.exact, w.n_used <= LOCO_STATS_WILCOXON_EXACT_MAX);
        near_abs(w.w_plus, num(c, "w_plus"), 1e-9, "W+");
        near_abs(w.w_minus, num(c, "w_minus"), 1e-9, "W-");
        near_abs(w.rank_biserial, num(c, "rank_biserial"), 1e-12, "rank-biserial");
        if (cJSON_GetObjectItemCaseSensitive(c, "wilcoxon_statistic"))
            near_abs(w.statistic, num(c, "wilcoxon_statistic"), 1e-9, "statistic");
        /* exact: counts of sign patterns, 1e-12; approx: same formula as scipy */
        near_abs(w.p_value, num(c, "wilcoxon_p"), w.exact ? 1e-12 : 1e-9,
                 cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring);
        free(b);
        free(a);
        free(d);
    }
}

static void test_wilcoxon_edges(void **state)
{
    double zeros[5] = {0}, one[1] = {0.5};
    struct loco_wilcoxon w;
    assert_int_equal(loco_stats_wilcoxon(zeros, 5, LOCO_WILCOXON_ZEROS_WILCOX, &w), LOCO_OK);
    assert_true(w.p_value == 1.0 && w.n_used == 0 && w.n_zero == 5 && w.rank_biserial == 0.0);
    assert_int_equal(loco_stats_wilcoxon(one, 1, LOCO_WILCOXON_ZEROS_WILCOX, &w), LOCO_OK);
    assert_true(w.exact && w.p_value == 1.0 && w.rank_biserial == 1.0);
    /* all 25 positive: the exact p is 2 / 2^25 */
    double d[26];
    for (int i = 0; i < 26; i++)
        d[i] = 0.01 * (i + 1);
    assert_int_equal(loco_stats_wilcoxon(d, 25, LOCO_WILCOXON_ZEROS_WILCOX, &w), LOCO_OK);
    near_rel(w.p_value, ldexp(1.0, -24), 1e-12, "all positive exact");
    assert_int_equal(loco_stats_wilcoxon(d, 26, LOCO_WILCOXON_ZEROS_WILCOX, &w), LOCO_OK);
    assert_false(w.exact);
    assert_true(w.p_value < 1e-4);
    d[3] = INFINITY;
    assert_int_equal(loco_stats_wilcoxon(d, 26, LOCO_WILCOXON_ZEROS_WILCOX, &w), LOCO_ERR_INVALID);
}

static void test_paired_power(void **state)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, section("continuous", NULL))
    {
        size_t n;
        double *b = array(c, "base", &n);
        near_abs(loco_stats_paired_power(n, num(c, "sd"), 0.10, 0.05), idx(c, "power", 0), 1e-12,
                 "normal power 0.10");
        near_abs(loco_stats_paired_power(n, num(c, "sd"), 0.05, 0.05), idx(c, "power", 1), 1e-12,
                 "normal power 0.05");
        free(b);
    }
    assert_true(isnan(loco_stats_paired_power(50, 0.0, 0.1, 0.05)));
    near_abs(loco_stats_paired_power(50, 0.2, 0.0, 0.05), 0.05, 1e-12, "size at no shift");
}

/* A deterministic sample: a sum of 4 uniforms from a small LCG, scaled. */
static void make_sample(double *x, size_t n, double mean, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int k = 0; k < 4; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            s += (double)(seed >> 11) / 9007199254740992.0;
        }
        x[i] = mean + 0.3 * (s - 2.0);
    }
}

static void test_bootstrap(void **state)
{
    enum { N = 2000 };
    double *d = malloc(sizeof(double) * N);
    make_sample(d, N, 0.02, 42);
    struct loco_bootstrap a, b, c;
    assert_int_equal(loco_stats_bootstrap_mean(d, N, 10000, 7, 0.05, &a), LOCO_OK);
    assert_int_equal(loco_stats_bootstrap_mean(d, N, 10000, 7, 0.05, &b), LOCO_OK);
    assert_int_equal(loco_stats_bootstrap_mean(d, N, 10000, 8, 0.05, &c), LOCO_OK);
    assert_true(a.ci.lo == b.ci.lo && a.ci.hi == b.ci.hi && a.p_value == b.p_value);
    assert_true(a.ci.lo != c.ci.lo || a.ci.hi != c.ci.hi);
    /* against mean +- 1.96 sd / sqrt(n): within 0.1 standard errors (the
     * Monte Carlo error of a 2.5% quantile from 10000 resamples is ~0.03) */
    double mean, sd;
    struct loco_ci t;
    assert_int_equal(loco_stats_mean_ci(d, N, 0.05, &mean, &sd, &t), LOCO_OK);
    double se = sd / sqrt((double)N), z = loco_stats_norm_ppf(0.975);
    near_abs(a.mean, mean, 1e-15, "bootstrap mean");
    near_abs(a.ci.lo, mean - z * se, 0.1 * se, "bootstrap lo vs normal");
    near_abs(a.ci.hi, mean + z * se, 0.1 * se, "bootstrap hi vs normal");
    /* the p agrees with the normal test's two-sided p within Monte Carlo error */
    double p_norm = 2.0 * loco_stats_norm_cdf(-fabs(mean) / se);
    near_abs(a.p_value, p_norm, 0.01, "bootstrap p vs normal p");
    /* all-zero differences: nothing to see, p = 1 */
    double zeros[100] = {0};
    assert_int_equal(loco_stats_bootstrap_mean(zeros, 100, 1000, 1, 0.05, &a), LOCO_OK);
    assert_true(a.p_value == 1.0 && a.ci.lo == 0.0 && a.ci.hi == 0.0);
    assert_int_equal(loco_stats_bootstrap_mean(d, N, 10, 1, 0.05, &a), LOCO_ERR_INVALID);
    free(d);
}

static void test_continuous_paired(void **state)
{
    struct loco_stats_params p = loco_stats_default_params();
    const cJSON *c;
    cJSON_ArrayForEach(c, section("continuous", NULL))
    {
        const char *zm = cJSON_GetObjectItemCaseSensitive(c, "zero_method")->valuestring;
        p.wilcoxon_zeros =
            strcmp(zm, "pratt") == 0 ? LOCO_WILCOXON_ZEROS_PRATT : LOCO_WILCOXON_ZEROS_WILCOX;
        size_t n;
        double *b = array(c, "base", &n), *a = array(c, "adapter", &n);
        struct loco_continuous_paired r;
        assert_int_equal(loco_stats_continuous_paired(b, a, n, &p, &r), LOCO_OK);
        near_abs(r.diff, num(c, "diff"), 1e-12, "diff");
        near_rel(r.diff_sd, num(c, "sd"), 1e-12, "sd");
        near_rel(r.adapter_ci.hi, idx(c, "adapter_ci", 1), 1e-9, "adapter ci");
        near_rel(r.diff_t_ci.lo, idx(c, "diff_t_ci", 0), 1e-9, "diff t ci");
        near_abs(r.cohens_dz, num(c, "cohens_dz"), 1e-12, "d_z");
        near_abs(r.p_value, num(c, "wilcoxon_p"), 1e-9, "primary p is Wilcoxon");
        near_abs(r.power[0], idx(c, "power", 0), 1e-12, "power");
        assert_true(r.diff_ci.lo <= r.diff && r.diff <= r.diff_ci.hi);
        assert_true(r.bootstrap_p >= 0.0 && r.bootstrap_p <= 1.0);
        free(b);
        free(a);
    }
    double x[3] = {0.1, 0.2, 0.3};
    struct loco_continuous_paired r;
    assert_int_equal(loco_stats_continuous_paired(x, x, 1, &p, &r), LOCO_ERR_INVALID);
    p.alpha = 0.0;
    assert_int_equal(loco_stats_continuous_paired(x, x, 3, &p, &r), LOCO_ERR_INVALID);
}

/* ---- gates -------------------------------------------------------------- */

static void test_gate_domain(void **state)
{
    const char *why;
    assert_true(loco_stats_gate_domain(100, 0.01, 0.08, 0.05, &why));
    assert_false(loco_stats_gate_domain(100, 0.06, 0.08, 0.05, &why));
    assert_non_null(strstr(why, "not significant"));
    assert_false(loco_stats_gate_domain(100, 0.001, -0.08, 0.05, &why)); /* significant loss */
    assert_false(loco_stats_gate_domain(49, 0.001, 0.2, 0.05, &why));
    assert_non_null(strstr(why, "50"));
    assert_false(loco_stats_gate_domain(100, 0.05, 0.08, 0.05, NULL)); /* p < alpha, strictly */
}

static void test_gate_noninferior(void **state)
{
    const char *why;
    /* a small mean drop (1 point) with a wide interval fails... */
    struct loco_ci wide = {-0.09, 0.07};
    assert_false(loco_stats_gate_noninferior(60, wide, 0.05, &why));
    assert_non_null(strstr(why, "exceeds"));
    /* ...a larger drop measured tightly passes */
    struct loco_ci tight = {-0.045, -0.005};
    assert_true(loco_stats_gate_noninferior(1000, tight, 0.05, &why));
    struct loco_ci edge = {-0.05, 0.01};
    assert_true(loco_stats_gate_noninferior(100, edge, 0.05, NULL));
    assert_false(loco_stats_gate_noninferior(10, tight, 0.05, NULL));
    /* end to end on pass/fail items: 400 items, adapter loses 6, wins 2 */
    uint8_t base[400], adapter[400];
    for (int i = 0; i < 400; i++)
        base[i] = adapter[i] = (uint8_t)(i % 3 != 0);
    for (int i = 0; i < 6; i++)
        adapter[3 * i + 1] = 0;
    adapter[0] = adapter[3] = 1;
    struct loco_stats_params p = loco_stats_default_params();
    struct loco_binary_paired r;
    assert_int_equal(loco_stats_binary_paired(base, adapter, 400, &p, &r), LOCO_OK);
    assert_int_equal(r.b, 6);
    assert_int_equal(r.c, 2);
    assert_true(loco_stats_gate_noninferior(r.n, r.diff_ci, p.ni_margin, NULL));
    assert_false(loco_stats_gate_domain(r.n, r.p_value, r.diff, p.alpha, NULL));
}

static void test_default_params(void **state)
{
    struct loco_stats_params p = loco_stats_default_params();
    assert_true(p.alpha == 0.05 && p.bootstrap_b == 10000 && p.ni_margin == 0.05);
    assert_true(p.power_deltas[0] == 0.10 && p.power_deltas[1] == 0.05);
    assert_int_equal(p.wilcoxon_zeros, LOCO_WILCOXON_ZEROS_WILCOX);
}

/* The floor rule and the three verdicts. */
static void test_gate_verdicts_floor(void **state)
{
    (void)state;
    const char *why;
    assert_string_equal(loco_gate_kind_name(LOCO_GATE_SUPERIORITY), "superiority");
    assert_string_equal(loco_gate_kind_name(LOCO_GATE_NONINFERIORITY), "non-inferiority");
    enum loco_gate_verdict v;
    const enum loco_gate_verdict all[] = {LOCO_VERDICT_PASS, LOCO_VERDICT_FAIL,
                                          LOCO_VERDICT_UNINFORMATIVE};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(loco_gate_verdict_parse(loco_gate_verdict_name(all[i]), &v), LOCO_OK);
        assert_int_equal(v, all[i]);
    }
    assert_int_equal(loco_gate_verdict_parse("pass", &v), LOCO_OK);
    assert_int_equal(v, LOCO_VERDICT_PASS);
    assert_int_equal(loco_gate_verdict_parse("maybe", &v), LOCO_ERR_NOT_FOUND);
    /* GSM8K with the base at 2.0%: the adapter cannot drop 5 points */
    assert_false(loco_stats_ni_informative(0.020, 0.05, &why));
    assert_non_null(strstr(why, "floor rule"));
    assert_true(loco_stats_ni_informative(0.05, 0.05, NULL)); /* exactly the margin: possible */
    assert_true(loco_stats_ni_informative(0.15, 0.05, NULL));
    assert_false(loco_stats_ni_informative(NAN, 0.05, NULL));
    /* at the floor a tight interval is not a PASS, and a wide one not a FAIL */
    struct loco_ci tight = {-0.033, 0.033}, wide = {-0.052, 0.052};
    assert_int_equal(loco_stats_gate_noninferior_verdict(200, 0.020, tight, 0.05, &why),
                     LOCO_VERDICT_UNINFORMATIVE);
    assert_int_equal(loco_stats_gate_noninferior_verdict(100, 0.020, wide, 0.05, &why),
                     LOCO_VERDICT_UNINFORMATIVE);
    /* away from it, the old gate */
    assert_int_equal(loco_stats_gate_noninferior_verdict(100, 0.150, tight, 0.05, &why),
                     LOCO_VERDICT_PASS);
    assert_int_equal(loco_stats_gate_noninferior_verdict(100, 0.150, wide, 0.05, &why),
                     LOCO_VERDICT_FAIL);
    assert_int_equal(loco_stats_gate_noninferior_verdict(10, 0.150, tight, 0.05, &why),
                     LOCO_VERDICT_FAIL);
}

/* Planned n against the formulas, evaluated independently in Python
 * (statistics.NormalDist): Connor's 311.587 for psi 0.1 and a 5-point gain,
 * 125.582 for non-inferiority with psi 0.04 or sd 0.2 at a 5-point margin. */
static void test_plan_sample_size(void **state)
{
    (void)state;
    struct loco_stats_plan pl;
    assert_int_equal(loco_stats_plan_binary(LOCO_GATE_SUPERIORITY, 0.1, 0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    near_abs(pl.n_raw, 311.58687517566733, 1e-6, "plan");
    near_abs(pl.spread, 0.1, 0, "plan");
    /* then raised to the first n whose exact McNemar power reaches 0.8 */
    assert_true(pl.n >= 312);
    assert_true(pl.power_at_n >= 0.8);
    assert_true(loco_stats_mcnemar_power(pl.n, 0.1, 0.05, 0.05) == pl.power_at_n);
    assert_true(loco_stats_mcnemar_power(pl.n - 1, 0.1, 0.05, 0.05) < 0.8);
    print_message("McNemar plan, psi 0.1, gain 0.05: Connor n %.1f, exact n %u (power %.3f)\n",
                  pl.n_raw, pl.n, pl.power_at_n);
    assert_int_equal(loco_stats_plan_binary(LOCO_GATE_NONINFERIORITY, 0.04, 0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    near_abs(pl.n_raw, 125.58207574958536, 1e-6, "plan");
    assert_int_equal(pl.n, 126);
    near_abs(pl.power_at_n, 0.8013014554737192, 1e-9, "plan");
    assert_int_equal(
        loco_stats_plan_continuous(LOCO_GATE_NONINFERIORITY, 0.2, 0.05, 0.05, 0.8, &pl), LOCO_OK);
    near_abs(pl.n_raw, 125.58207574958537, 1e-6, "plan");
    assert_int_equal(pl.n, 126);
    near_abs(pl.power_at_n, 0.801301455473719, 1e-9, "plan");
    assert_int_equal(loco_stats_plan_continuous(LOCO_GATE_SUPERIORITY, 0.2, 0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    assert_int_equal(pl.n, 126);
    near_abs(pl.power_at_n, loco_stats_paired_power(126, 0.2, 0.05, 0.05), 0, "plan");
    /* a superiority gain needs psi >= effect: raised to it */
    assert_int_equal(loco_stats_plan_binary(LOCO_GATE_SUPERIORITY, 0.01, 0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    near_abs(pl.spread, 0.05, 0, "plan");
    /* the floor of 50 items */
    assert_int_equal(loco_stats_plan_continuous(LOCO_GATE_SUPERIORITY, 0.01, 0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    assert_int_equal(pl.n, LOCO_STATS_MIN_ITEMS);
    assert_true(pl.n_raw < 1);
    /* independent errors: GSM8K's base rate 0.024 and a 5-point gain */
    near_abs(loco_stats_disc_independent(0.024, 0.05), 0.094448, 1e-12, "plan");
    near_abs(loco_stats_disc_independent(0.5, 0), 0.5, 1e-15, "plan");
    /* bad arguments */
    assert_int_equal(loco_stats_plan_binary(LOCO_GATE_SUPERIORITY, 0, 0.05, 0.05, 0.8, &pl),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_stats_plan_binary(LOCO_GATE_SUPERIORITY, 0.1, 0, 0.05, 0.8, &pl),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_stats_plan_continuous(LOCO_GATE_SUPERIORITY, 0.1, 0.05, 0.05, 1, &pl),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_stats_plan_continuous(LOCO_GATE_SUPERIORITY, -1, 0.05, 0.05, 0.8, &pl),
                     LOCO_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_params),    cmocka_unit_test(test_distributions),
        cmocka_unit_test(test_wilson_golden),     cmocka_unit_test(test_mcnemar),
        cmocka_unit_test(test_newcombe),          cmocka_unit_test(test_mcnemar_power),
        cmocka_unit_test(test_binary_paired),     cmocka_unit_test(test_mean_ci),
        cmocka_unit_test(test_wilcoxon_golden),   cmocka_unit_test(test_wilcoxon_edges),
        cmocka_unit_test(test_paired_power),      cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_continuous_paired), cmocka_unit_test(test_gate_domain),
        cmocka_unit_test(test_gate_noninferior),  cmocka_unit_test(test_gate_verdicts_floor),
        cmocka_unit_test(test_plan_sample_size),
    };
    return LOCO_RUN_TESTS(tests, load_golden, free_golden);
}
