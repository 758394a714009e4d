/*
 * stats.c - paired statistics for the evaluation harness.
 *
 * Read top to bottom: the distributions we need (normal, Student t, the
 * Binomial(n, 1/2) tail) written from their textbook definitions, then the
 * pass/fail analysis, then the continuous one, then the gates. Every method
 * is given with its formula and source in docs/statistics.md, and checked
 * against scipy/statsmodels by tests/test-stats.c with the goldens from
 * tests/reference/make-stats-golden.py.
 *
 * Notation: n paired items; d_i = adapter_i - base_i; alpha the two-sided
 * level; z = Phi^-1(1 - alpha/2).
 */
#include "loco/stats.h"
#include "core/rng.h"
#include "eval/stats_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct loco_stats_params loco_stats_default_params(void)
{
    struct loco_stats_params p = {
        .alpha = 0.05,
        .bootstrap_b = 10000,
        .seed = 20240601,
        .ni_margin = 0.05,
        .power_deltas = {0.10, 0.05},
        .wilcoxon_zeros = LOCO_WILCOXON_ZEROS_WILCOX,
    };
    return p;
}

static int check_alpha(double alpha)
{
    if (!(alpha > 0.0 && alpha < 1.0))
        return loco_error_set(LOCO_ERR_INVALID, "stats: alpha %g is not in (0, 1); use 0.05",
                              alpha);
    return LOCO_OK;
}

/* ---- distributions ------------------------------------------------------ */

double loco_stats_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Bisection on the CDF down to adjacent doubles: slow-ish (~120 erfc calls)
 * but exact to the last bit the CDF can resolve, and short to read. */
double loco_stats_norm_ppf(double p)
{
    if (!(p > 0.0 && p < 1.0))
        return NAN;
    double lo = -40.0, hi = 40.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (loco_stats_norm_cdf(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Continued fraction for the regularized incomplete beta I_x(a, b)
 * (DLMF 8.17.22), evaluated with the modified Lentz method. Converges fast
 * for x < (a + 1) / (a + b + 2); the caller uses symmetry otherwise. */
static double beta_cf(double x, double a, double b)
{
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 10000; m++) {
        for (int half = 0; half < 2; half++) {
            double num = half == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                   : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1.0 + num * d;
            c = 1.0 + num / c;
            if (fabs(d) < tiny)
                d = tiny;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1.0 / d;
            f *= c * d;
        }
        if (fabs(c * d - 1.0) < 1e-16)
            break;
    }
    return f;
}

static double inc_beta(double x, double a, double b)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * beta_cf(x, a, b) / a;
    return 1.0 - exp(lfront) * beta_cf(1.0 - x, b, a) / b;
}

/* P(T <= t) = 1 - I_{df/(df+t^2)}(df/2, 1/2) / 2 for t >= 0, mirrored below. */
double loco_stats_t_cdf(double t, double df)
{
    if (!(df > 0.0) || isnan(t))
        return NAN;
    double tail = 0.5 * inc_beta(df / (df + t * t), 0.5 * df, 0.5);
    return t >= 0.0 ? 1.0 - tail : tail;
}

double loco_stats_t_ppf(double p, double df)
{
    if (!(p > 0.0 && p < 1.0) || !(df > 0.0))
        return NAN;
    double lo = -1.0, hi = 1.0;
    while (loco_stats_t_cdf(lo, df) > p && lo > -1e300)
        lo *= 2.0;
    while (loco_stats_t_cdf(hi, df) < p && hi < 1e300)
        hi *= 2.0;
    for (int i = 0; i < 2200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (loco_stats_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* log of the Binomial(n, p) probability of k (p strictly inside (0, 1)). */
static double binom_log_pmf(uint32_t k, uint32_t n, double p)
{
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * log(p) +
           (n - k) * log1p(-p);
}

/* P(X <= k) for X ~ Binomial(n, p), by summing the pmf from k downwards
 * with the ratio pmf(i-1)/pmf(i) = i (1-p) / ((n-i+1) p): no 2^-n underflow. */
static double binom_cdf(uint32_t k, uint32_t n, double p)
{
    if (k >= n || p <= 0.0)
        return 1.0;
    if (p >= 1.0)
        return 0.0;
    double term = exp(binom_log_pmf(k, n, p)), sum = 0.0;
    for (uint32_t i = k;; i--) {
        sum += term;
        if (i == 0 || term < sum * 1e-18)
            break;
        term *= (double)i * (1.0 - p) / ((double)(n - i + 1) * p);
    }
    return sum > 1.0 ? 1.0 : sum;
}

/* P(X >= k) for X ~ Binomial(n, p), summing upwards from k. */
static double binom_sf(uint32_t k, uint32_t n, double p)
{
    if (k == 0 || p >= 1.0)
        return 1.0;
    if (k > n || p <= 0.0)
        return 0.0;
    double term = exp(binom_log_pmf(k, n, p)), sum = 0.0;
    for (uint32_t i = k; i <= n; i++) {
        sum += term;
        if (term < sum * 1e-18)
            break;
        term *= (double)(n - i) * p / ((double)(i + 1) * (1.0 - p));
    }
    return sum > 1.0 ? 1.0 : sum;
}

/* Above the middle use the symmetry P(X <= k) = 1 - P(X <= n - k - 1), so
 * the summed tail is always the small one. */
double loco_stats_binom_half_cdf(uint32_t k, uint32_t n)
{
    if (k >= n)
        return 1.0;
    if (2.0 * k > n)
        return 1.0 - binom_cdf(n - k - 1, n, 0.5);
    return binom_cdf(k, n, 0.5);
}

/* ---- pass/fail items ---------------------------------------------------- */

/* Wilson (1927): the p solving |p_hat - p| = z sqrt(p (1-p) / n). */
int loco_stats_wilson(uint32_t k, uint32_t n, double alpha, struct loco_ci *out)
{
    if (n == 0 || k > n)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: Wilson interval needs 0 <= k <= n, n >= 1 "
                              "(got k=%u, n=%u)",
                              k, n);
    if (check_alpha(alpha))
        return LOCO_ERR_INVALID;
    double z = loco_stats_norm_ppf(1.0 - alpha / 2.0), ph = (double)k / n, z2n = z * z / n;
    double centre = (ph + z2n / 2.0) / (1.0 + z2n);
    double half = z / (1.0 + z2n) * sqrt(ph * (1.0 - ph) / n + z2n / (4.0 * n));
    out->lo = k == 0 ? 0.0 : centre - half;
    out->hi = k == n ? 1.0 : centre + half;
    return LOCO_OK;
}

double loco_stats_mcnemar_p(uint32_t b, uint32_t c)
{
    uint32_t m = b + c, k = b < c ? b : c;
    if (m == 0)
        return 1.0;
    double p = 2.0 * loco_stats_binom_half_cdf(k, m);
    return p > 1.0 ? 1.0 : p;
}

/* Newcombe (1998, Stat Med 17:2637), method 10: Wilson limits of the two
 * marginal proportions combined with the phi correlation of the 2x2 table. */
int loco_stats_newcombe_paired(uint32_t n11, uint32_t b, uint32_t c, uint32_t n00, double alpha,
                               struct loco_ci *out)
{
    uint64_t n64 = (uint64_t)n11 + b + c + n00;
    if (n64 == 0 || n64 > UINT32_MAX)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: paired table must hold 1..2^32-1 items "
                              "(got %llu)",
                              (unsigned long long)n64);
    uint32_t n = (uint32_t)n64;
    struct loco_ci ad, bs; /* adapter and base Wilson limits */
    if (loco_stats_wilson(n11 + c, n, alpha, &ad) || loco_stats_wilson(n11 + b, n, alpha, &bs))
        return LOCO_ERR_INVALID;
    double pa = (double)(n11 + c) / n, pb = (double)(n11 + b) / n, diff = pa - pb;
    double marg = (double)(n11 + c) * (b + n00) * (n11 + b) * (c + n00);
    double phi = marg > 0.0 ? ((double)n11 * n00 - (double)b * c) / sqrt(marg) : 0.0;
    double dla = pa - ad.lo, dua = ad.hi - pa, dlb = pb - bs.lo, dub = bs.hi - pb;
    double lo2 = dla * dla - 2.0 * phi * dla * dub + dub * dub;
    double hi2 = dua * dua - 2.0 * phi * dua * dlb + dlb * dlb;
    out->lo = diff - sqrt(lo2 > 0.0 ? lo2 : 0.0);
    out->hi = diff + sqrt(hi2 > 0.0 ? hi2 : 0.0);
    return LOCO_OK;
}

/* Power = sum over m of P(M = m) P(reject | m), M ~ Binomial(n, p_disc) the
 * discordant count and, given m, C ~ Binomial(m, q) the adapter-only count
 * with q = (1 + delta / p_disc) / 2 (Connor 1987's conditional model). */
double loco_stats_mcnemar_power(uint32_t n, double p_disc, double delta, double alpha)
{
    double ad = fabs(delta);
    if (!(alpha > 0.0 && alpha < 1.0) || !(ad <= 1.0) || isnan(p_disc))
        return NAN;
    if (p_disc < ad)
        p_disc = ad;
    if (p_disc > 1.0)
        p_disc = 1.0;
    if (p_disc <= 0.0)
        return 0.0;
    double q = 0.5 * (1.0 + ad / p_disc), power = 0.0;
    int64_t crit = -1;
    for (uint32_t m = 1; m <= n; m++) {
        while (crit + 1 <= m / 2 &&
               loco_stats_mcnemar_p((uint32_t)(crit + 1), m - (uint32_t)(crit + 1)) < alpha)
            crit++; /* the critical value never falls as m grows */
        if (crit < 0)
            continue;
        double pm = p_disc >= 1.0 ? (m == n) : exp(binom_log_pmf(m, n, p_disc));
        double rej = binom_cdf((uint32_t)crit, m, q) + binom_sf(m - (uint32_t)crit, m, q);
        power += pm * (rej > 1.0 ? 1.0 : rej);
    }
    return power > 1.0 ? 1.0 : power;
}

int loco_stats_binary_paired(const uint8_t *base, const uint8_t *adapter, size_t n,
                             const struct loco_stats_params *params, struct loco_binary_paired *out)
{
    if (!base || !adapter || !params || !out)
        return loco_error_set(LOCO_ERR_INVALID, "stats: binary_paired got a NULL argument");
    if (n == 0 || n > UINT32_MAX)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: binary_paired needs 1..2^32-1 items "
                              "(got %zu)",
                              n);
    if (check_alpha(params->alpha))
        return LOCO_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->n = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        int bs = base[i] != 0, ad = adapter[i] != 0;
        out->n11 += bs && ad;
        out->b += bs && !ad;
        out->c += !bs && ad;
        out->n00 += !bs && !ad;
    }
    out->base_acc = (double)(out->n11 + out->b) / n;
    out->adapter_acc = (double)(out->n11 + out->c) / n;
    loco_stats_wilson(out->n11 + out->b, out->n, params->alpha, &out->base_ci);
    loco_stats_wilson(out->n11 + out->c, out->n, params->alpha, &out->adapter_ci);
    out->diff = ((double)out->c - (double)out->b) / n;
    loco_stats_newcombe_paired(out->n11, out->b, out->c, out->n00, params->alpha, &out->diff_ci);
    out->p_value = loco_stats_mcnemar_p(out->b, out->c);
    out->cohens_h = 2.0 * asin(sqrt(out->adapter_acc)) - 2.0 * asin(sqrt(out->base_acc));
    out->odds_ratio = out->b > 0 ? (double)out->c / out->b : (out->c > 0 ? INFINITY : NAN);
    out->p_disc = (double)(out->b + out->c) / n;
    for (int i = 0; i < 2; i++)
        out->power[i] =
            loco_stats_mcnemar_power(out->n, out->p_disc, params->power_deltas[i], params->alpha);
    return LOCO_OK;
}

/* ---- continuous items --------------------------------------------------- */

static int check_finite(const double *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return loco_error_set(LOCO_ERR_INVALID,
                                  "stats: %s[%zu] is %g; every score must be a "
                                  "finite number",
                                  what, i, x[i]);
    return LOCO_OK;
}

int loco_stats_mean_ci(const double *x, size_t n, double alpha, double *mean, double *sd,
                       struct loco_ci *out)
{
    if (!x || !mean || !out || n < 2)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: a mean interval needs at least 2 values "
                              "(got %zu)",
                              x ? n : 0);
    if (check_alpha(alpha) || check_finite(x, n, "x"))
        return LOCO_ERR_INVALID;
    double m = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    double s = sqrt(ss / (double)(n - 1));
    double half = loco_stats_t_ppf(1.0 - alpha / 2.0, (double)(n - 1)) * s / sqrt((double)n);
    *mean = m;
    if (sd)
        *sd = s;
    out->lo = m - half;
    out->hi = m + half;
    return LOCO_OK;
}

int loco_stats_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile of sorted v[n] with linear interpolation between order
 * statistics at position (n - 1) q (Hyndman & Fan type 7, numpy's default). */
double loco_stats_quantile_sorted(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

int loco_stats_bootstrap_mean(const double *d, size_t n, uint32_t b, uint64_t seed, double alpha,
                              struct loco_bootstrap *out)
{
    if (!d || !out || n == 0 || b < 100)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: bootstrap needs n >= 1 values and B >= 100 "
                              "resamples (got n=%zu, B=%u)",
                              n, b);
    if (check_alpha(alpha) || check_finite(d, n, "d"))
        return LOCO_ERR_INVALID;
    double *means = malloc(sizeof(double) * b); /* [B] resampled means */
    if (!means)
        return loco_error_set(LOCO_ERR_NOMEM, "stats: no memory for %u bootstrap means", b);
    uint64_t state = seed;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += d[i];
    size_t le = 0, ge = 0;
    for (uint32_t r = 0; r < b; r++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += d[loco_rng_below(&state, n)];
        means[r] = s / (double)n;
        le += means[r] <= 0.0;
        ge += means[r] >= 0.0;
    }
    qsort(means, b, sizeof(double), loco_stats_cmp_double);
    out->mean = sum / (double)n;
    out->ci.lo = loco_stats_quantile_sorted(means, b, alpha / 2.0);
    out->ci.hi = loco_stats_quantile_sorted(means, b, 1.0 - alpha / 2.0);
    double p = 2.0 * (double)(le < ge ? le : ge) / b;
    out->p_value = p > 1.0 ? 1.0 : p;
    free(means);
    return LOCO_OK;
}

/* One signed difference and its rank, for sorting by |d|. */
struct signed_rank {
    double abs;
    int sign; /* -1, 0, +1 */
    double rank;
};

static int cmp_abs(const void *a, const void *b)
{
    return loco_stats_cmp_double(&((const struct signed_rank *)a)->abs, &((const struct signed_rank *)b)->abs);
}

/* Mid-ranks 1..m over v sorted by |d|: a run of equal |d| shares the mean
 * of the ranks it spans. */
static void assign_midranks(struct signed_rank *v, size_t m)
{
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j + 1 < m && v[j + 1].abs == v[i].abs)
            j++;
        double r = 0.5 * ((double)(i + 1) + (double)(j + 1));
        for (size_t k = i; k <= j; k++)
            v[k].rank = r;
        i = j + 1;
    }
}

/* Exact two-sided p, conditional on the observed ranks: under H0 each
 * non-zero rank is positive with probability 1/2 independently, so the
 * null distribution of 2 W+ (an integer, since mid-ranks are multiples of
 * 1/2) is built by a subset-sum count over the 2^k sign patterns. */
static int wilcoxon_exact_p(const struct signed_rank *v, size_t m, double w_plus, double *p)
{
    size_t total = 0;
    for (size_t i = 0; i < m; i++)
        if (v[i].sign != 0)
            total += (size_t)llround(2.0 * v[i].rank);
    double *count = calloc(total + 1, sizeof(double)); /* [total+1] patterns per 2 W+ */
    if (!count)
        return loco_error_set(LOCO_ERR_NOMEM, "stats: no memory for the Wilcoxon distribution");
    count[0] = 1.0;
    size_t reach = 0, k = 0;
    for (size_t i = 0; i < m; i++) {
        if (v[i].sign == 0)
            continue;
        size_t r2 = (size_t)llround(2.0 * v[i].rank);
        for (size_t s = reach + 1; s-- > 0;)
            count[s + r2] += count[s];
        reach += r2;
        k++;
    }
    size_t obs = (size_t)llround(2.0 * w_plus);
    double le = 0.0, ge = 0.0, all = ldexp(1.0, (int)k);
    for (size_t s = 0; s <= total; s++) {
        if (s <= obs)
            le += count[s];
        if (s >= obs)
            ge += count[s];
    }
    free(count);
    double two = 2.0 * (le < ge ? le : ge) / all;
    *p = two > 1.0 ? 1.0 : two;
    return LOCO_OK;
}

int loco_stats_wilcoxon(const double *d, size_t n, enum loco_wilcoxon_zeros zeros,
                        struct loco_wilcoxon *out)
{
    if (!d || !out || n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "stats: Wilcoxon test needs at least 1 difference");
    if (check_finite(d, n, "d"))
        return LOCO_ERR_INVALID;
    memset(out, 0, sizeof *out);
    struct signed_rank *v = malloc(sizeof *v * n); /* [n] differences being ranked */
    if (!v)
        return loco_error_set(LOCO_ERR_NOMEM, "stats: no memory to rank %zu differences", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int sign = (d[i] > 0.0) - (d[i] < 0.0);
        out->n_zero += sign == 0;
        if (sign == 0 && zeros == LOCO_WILCOXON_ZEROS_WILCOX)
            continue;
        v[m++] = (struct signed_rank){.abs = fabs(d[i]), .sign = sign};
    }
    out->n_used = n - out->n_zero;
    qsort(v, m, sizeof *v, cmp_abs);
    assign_midranks(v, m);
    double mean = 0.0, var = 0.0; /* E and Var of W+ under H0 given the ranks */
    for (size_t i = 0; i < m; i++) {
        if (v[i].sign == 0)
            continue;
        out->w_plus += v[i].sign > 0 ? v[i].rank : 0.0;
        out->w_minus += v[i].sign < 0 ? v[i].rank : 0.0;
        mean += v[i].rank / 2.0;
        var += v[i].rank * v[i].rank / 4.0;
    }
    out->statistic = out->w_plus < out->w_minus ? out->w_plus : out->w_minus;
    out->p_value = 1.0;
    int rc = LOCO_OK;
    if (out->n_used > 0) {
        double sd = sqrt(var), dev = out->w_plus - mean;
        out->z = dev / sd;
        out->rank_biserial = (out->w_plus - out->w_minus) / (out->w_plus + out->w_minus);
        out->exact = out->n_used <= LOCO_STATS_WILCOXON_EXACT_MAX;
        if (out->exact) {
            rc = wilcoxon_exact_p(v, m, out->w_plus, &out->p_value);
        } else {
            double zc = fabs(dev) - 0.5; /* continuity correction toward the mean */
            double p = 2.0 * loco_stats_norm_cdf(-(zc > 0.0 ? zc : 0.0) / sd);
            out->p_value = p > 1.0 ? 1.0 : p;
        }
    }
    free(v);
    return rc;
}

double loco_stats_paired_power(size_t n, double sd, double delta, double alpha)
{
    if (!(sd > 0.0) || n == 0 || !(alpha > 0.0 && alpha < 1.0))
        return NAN;
    double z = loco_stats_norm_ppf(1.0 - alpha / 2.0), shift = fabs(delta) * sqrt((double)n) / sd;
    return loco_stats_norm_cdf(shift - z) + loco_stats_norm_cdf(-shift - z);
}

int loco_stats_continuous_paired(const double *base, const double *adapter, size_t n,
                                 const struct loco_stats_params *params,
                                 struct loco_continuous_paired *out)
{
    if (!base || !adapter || !params || !out || n < 2)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: continuous_paired needs two score arrays "
                              "of at least 2 items (got n=%zu)",
                              n);
    if (check_finite(base, n, "base") || check_finite(adapter, n, "adapter") ||
        check_alpha(params->alpha))
        return LOCO_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->n = n;
    double *d = malloc(sizeof(double) * n); /* [n] adapter - base */
    if (!d)
        return loco_error_set(LOCO_ERR_NOMEM, "stats: no memory for %zu differences", n);
    for (size_t i = 0; i < n; i++)
        d[i] = adapter[i] - base[i];
    struct loco_bootstrap boot;
    int rc = loco_stats_mean_ci(base, n, params->alpha, &out->base_mean, NULL, &out->base_ci);
    if (!rc)
        rc = loco_stats_mean_ci(adapter, n, params->alpha, &out->adapter_mean, NULL,
                                &out->adapter_ci);
    if (!rc)
        rc = loco_stats_mean_ci(d, n, params->alpha, &out->diff, &out->diff_sd, &out->diff_t_ci);
    if (!rc)
        rc = loco_stats_bootstrap_mean(d, n, params->bootstrap_b, params->seed, params->alpha,
                                       &boot);
    if (!rc)
        rc = loco_stats_wilcoxon(d, n, params->wilcoxon_zeros, &out->wilcoxon);
    free(d);
    if (rc)
        return rc;
    out->diff_ci = boot.ci;
    out->bootstrap_p = boot.p_value;
    out->p_value = out->wilcoxon.p_value;
    out->cohens_dz = out->diff_sd > 0.0 ? out->diff / out->diff_sd : NAN;
    for (int i = 0; i < 2; i++)
        out->power[i] =
            loco_stats_paired_power(n, out->diff_sd, params->power_deltas[i], params->alpha);
    return LOCO_OK;
}

/* ---- gates -------------------------------------------------------------- */

static bool gate(bool pass, const char *reason, const char **why)
{
    if (why)
        *why = reason;
    return pass;
}

bool loco_stats_gate_domain(size_t n, double p_value, double diff, double alpha, const char **why)
{
    if (n < LOCO_STATS_MIN_ITEMS)
        return gate(false, "fewer paired items than the floor of 50", why);
    if (!(diff > 0.0))
        return gate(false, "the adapter does not score above the base", why);
    if (!(p_value < alpha))
        return gate(false, "the gain is not significant (p >= alpha)", why);
    return gate(true, "significant gain over the base", why);
}

bool loco_stats_gate_noninferior(size_t n, struct loco_ci diff_ci, double margin, const char **why)
{
    if (n < LOCO_STATS_MIN_ITEMS)
        return gate(false, "fewer paired items than the floor of 50", why);
    if (!(-diff_ci.lo <= margin))
        return gate(false, "the upper bound of the drop's interval exceeds the margin", why);
    return gate(true, "the upper bound of the drop's interval is within the margin", why);
}

/* ---- verdicts ------------------------------------------------------------ */

const char *loco_gate_kind_name(enum loco_gate_kind k)
{
    return k == LOCO_GATE_NONINFERIORITY ? "non-inferiority" : "superiority";
}

const char *loco_gate_verdict_name(enum loco_gate_verdict v)
{
    return v == LOCO_VERDICT_PASS            ? "PASS"
           : v == LOCO_VERDICT_UNINFORMATIVE ? "uninformative"
                                             : "FAIL";
}

int loco_gate_verdict_parse(const char *name, enum loco_gate_verdict *out)
{
    static const enum loco_gate_verdict all[] = {LOCO_VERDICT_FAIL, LOCO_VERDICT_PASS,
                                                 LOCO_VERDICT_UNINFORMATIVE};
    for (size_t i = 0; name && i < 3; i++)
        if (!strcasecmp(name, loco_gate_verdict_name(all[i]))) {
            *out = all[i];
            return LOCO_OK;
        }
    return loco_error_set(LOCO_ERR_NOT_FOUND, "no verdict \"%s\" (PASS, FAIL, uninformative)",
                          name ? name : "(null)");
}

bool loco_stats_ni_informative(double base_score, double margin, const char **why)
{
    if (!(base_score >= margin))
        return gate(false,
                    "the base scores below the margin: even an adapter scoring 0 could "
                    "not drop by the margin, so no drop can be seen (the floor rule)",
                    why);
    return gate(true, "the base leaves room for a margin-sized drop", why);
}

enum loco_gate_verdict loco_stats_gate_noninferior_verdict(size_t n, double base_score,
                                                           struct loco_ci diff_ci, double margin,
                                                           const char **why)
{
    if (!loco_stats_ni_informative(base_score, margin, why))
        return LOCO_VERDICT_UNINFORMATIVE;
    return loco_stats_gate_noninferior(n, diff_ci, margin, why) ? LOCO_VERDICT_PASS
                                                                : LOCO_VERDICT_FAIL;
}

/* ---- planning the sample size ------------------------------------------------ */

double loco_stats_disc_independent(double base_rate, double delta)
{
    double pa = base_rate + delta;
    return base_rate * (1.0 - pa) + pa * (1.0 - base_rate);
}

static int check_plan_args(double effect, double alpha, double power)
{
    if (!(effect > 0.0 && effect < 1.0) || !(alpha > 0.0 && alpha < 1.0) ||
        !(power > 0.0 && power < 1.0))
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: a plan needs effect, alpha and power "
                              "in (0, 1) (got %g, %g, %g)",
                              effect, alpha, power);
    return LOCO_OK;
}

static void plan_round(struct loco_stats_plan *out, double n_raw)
{
    out->n_raw = n_raw;
    double n = ceil(n_raw - 1e-9);
    if (n < LOCO_STATS_MIN_ITEMS)
        n = LOCO_STATS_MIN_ITEMS;
    out->n = n > 4e9 ? 4000000000u : (uint32_t)n;
}

int loco_stats_plan_binary(enum loco_gate_kind kind, double p_disc, double effect, double alpha,
                           double power, struct loco_stats_plan *out)
{
    if (!out)
        return loco_error_set(LOCO_ERR_INVALID, "stats: plan_binary got a NULL output");
    int rc = check_plan_args(effect, alpha, power);
    if (rc)
        return rc;
    if (!(p_disc > 0.0 && p_disc <= 1.0))
        return loco_error_set(LOCO_ERR_INVALID,
                              "stats: a discordance rate in (0, 1] is needed "
                              "(got %g)",
                              p_disc);
    memset(out, 0, sizeof *out);
    double za = loco_stats_norm_ppf(1.0 - alpha / 2.0), zb = loco_stats_norm_ppf(power);
    if (kind == LOCO_GATE_SUPERIORITY) {
        double psi = p_disc < effect ? effect : p_disc;
        double t = za * sqrt(psi) + zb * sqrt(psi - effect * effect);
        plan_round(out, t * t / (effect * effect));
        out->spread = psi;
        /* the normal approximation can fall a little short of the exact
         * test's power: step n up until the exact power is reached */
        out->power_at_n = loco_stats_mcnemar_power(out->n, psi, effect, alpha);
        for (uint32_t k = 0; k < 2000 && out->power_at_n < power && out->n < 200000; k++)
            out->power_at_n = loco_stats_mcnemar_power(++out->n, psi, effect, alpha);
    } else {
        plan_round(out, (za + zb) * (za + zb) * p_disc / (effect * effect));
        out->spread = p_disc;
        out->power_at_n = loco_stats_norm_cdf(effect * sqrt((double)out->n / p_disc) - za);
    }
    return LOCO_OK;
}

int loco_stats_plan_continuous(enum loco_gate_kind kind, double sd, double effect, double alpha,
                               double power, struct loco_stats_plan *out)
{
    if (!out)
        return loco_error_set(LOCO_ERR_INVALID, "stats: plan_continuous got a NULL output");
    int rc = check_plan_args(effect, alpha, power);
    if (rc)
        return rc;
    if (!(sd > 0.0) || !isfinite(sd))
        return loco_error_set(LOCO_ERR_INVALID, "stats: a plan needs sd > 0 (got %g)", sd);
    memset(out, 0, sizeof *out);
    double za = loco_stats_norm_ppf(1.0 - alpha / 2.0), zb = loco_stats_norm_ppf(power);
    double t = (za + zb) * sd / effect;
    plan_round(out, t * t);
    out->spread = sd;
    out->power_at_n = kind == LOCO_GATE_SUPERIORITY
                          ? loco_stats_paired_power(out->n, sd, effect, alpha)
                          : loco_stats_norm_cdf(effect * sqrt((double)out->n) / sd - za);
    return LOCO_OK;
}
