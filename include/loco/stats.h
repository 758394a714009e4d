/*
 * loco/stats.h - the statistics of the evaluation harness: does an adapter
 * beat the base model on the same items, by how much, how sure are we, and
 * could the item count have seen a real gain at all?
 *
 * Every comparison is PAIRED: item i was answered by the base and by the
 * adapter, and the analysis works on the per-item pairs. Scores are on a
 * 0..1 scale (accuracy, ROUGE; judge scores normalised by the caller), so a
 * "10-point gain" is a shift of 0.10. Differences are always adapter - base;
 * a positive difference means the adapter is better.
 *
 * Two kinds of items:
 *   - pass/fail items: Wilson intervals, exact McNemar test, Newcombe's
 *     paired interval for the difference, Cohen's h and the conditional odds
 *     ratio, exact power of the McNemar test;
 *   - continuous items: t intervals, paired bootstrap (seeded), Wilcoxon
 *     signed-rank test, Cohen's d_z and the matched-pairs rank-biserial,
 *     normal-approximation power.
 * Then two gates: the domain gate (a significant gain) and the
 * out-of-domain non-inferiority gate (the upper 95% bound of the drop is
 * within a margin). docs/statistics.md gives every formula and its source.
 *
 * Confidence levels are 1 - alpha, two-sided. Nothing here allocates memory
 * that outlives a call, prints, or keeps global state.
 */
#ifndef LOCO_STATS_H
#define LOCO_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The design's floor: a claim about an adapter needs at least this many
 * paired items (docs/architecture.md, "Rules of the design"). The gates fail below it. */
#define LOCO_STATS_MIN_ITEMS 50

/* The Wilcoxon test uses its exact null distribution up to this many
 * non-zero differences and the normal approximation above. */
#define LOCO_STATS_WILCOXON_EXACT_MAX 25

/* A two-sided interval [lo, hi]. */
struct loco_ci {
    double lo;
    double hi;
};

enum loco_wilcoxon_zeros {
    LOCO_WILCOXON_ZEROS_WILCOX = 0, /* drop zero differences, then rank (Wilcoxon) */
    LOCO_WILCOXON_ZEROS_PRATT = 1,  /* rank with the zeros, then drop their ranks (Pratt) */
};

struct loco_stats_params {
    double alpha;                            /* significance level and 1 - confidence: 0.05 */
    uint32_t bootstrap_b;                    /* bootstrap resamples: 10000 */
    uint64_t seed;                           /* bootstrap seed: a fixed default, so runs repeat */
    double ni_margin;                        /* non-inferiority margin on the 0..1 scale: 0.05 */
    double power_deltas[2];                  /* gains whose power is reported: 0.10 and 0.05 */
    enum loco_wilcoxon_zeros wilcoxon_zeros; /* LOCO_WILCOXON_ZEROS_WILCOX */
};

struct loco_stats_params loco_stats_default_params(void);

/* ---- distributions ------------------------------------------------------ */

/* Standard normal CDF and its inverse (p in (0, 1); else NaN). */
double loco_stats_norm_cdf(double x);
double loco_stats_norm_ppf(double p);
/* Student t CDF and inverse with df > 0 degrees of freedom. */
double loco_stats_t_cdf(double t, double df);
double loco_stats_t_ppf(double p, double df);
/* Binomial(n, 0.5) lower tail P(X <= k); 1 when k >= n. */
double loco_stats_binom_half_cdf(uint32_t k, uint32_t n);

/* ---- pass/fail items ---------------------------------------------------- */

/* Wilson score interval for k successes out of n (n >= 1, k <= n). */
int loco_stats_wilson(uint32_t k, uint32_t n, double alpha, struct loco_ci *out);

/* Exact two-sided McNemar p from the discordant counts b (base right,
 * adapter wrong) and c (base wrong, adapter right): X ~ Binomial(b + c, 1/2),
 * p = min(1, 2 P(X <= min(b, c))); 1 when b + c = 0. */
double loco_stats_mcnemar_p(uint32_t b, uint32_t c);

/* Newcombe's (1998, method 10) interval for the paired difference of
 * proportions (adapter - base) = (c - b) / n, from the 2x2 table:
 * n11 both right, b, c, n00 both wrong. */
int loco_stats_newcombe_paired(uint32_t n11, uint32_t b, uint32_t c, uint32_t n00, double alpha,
                               struct loco_ci *out);

/* Power of the exact two-sided McNemar test at level alpha over n pairs when
 * the adapter's true gain is delta and a pair is discordant with probability
 * p_disc (p_disc >= |delta|; it is raised to |delta| when smaller). Exact
 * enumeration over the number of discordant pairs; rejection is p < alpha. */
double loco_stats_mcnemar_power(uint32_t n, double p_disc, double delta, double alpha);

struct loco_binary_paired {
    uint32_t n;              /* paired items */
    uint32_t n11, b, c, n00; /* both right, base only, adapter only, both wrong */
    double base_acc, adapter_acc;
    struct loco_ci base_ci, adapter_ci; /* Wilson */
    double diff;                        /* (c - b) / n = adapter_acc - base_acc */
    struct loco_ci diff_ci;             /* Newcombe method 10 */
    double p_value;                     /* exact McNemar, two-sided */
    double cohens_h;                    /* 2 asin sqrt(adapter_acc) - 2 asin sqrt(base_acc) */
    double odds_ratio;                  /* c / b: +inf when b = 0 < c, NaN when b = c = 0 */
    double p_disc;                      /* discordance rate the power assumes */
    double power[2];                    /* McNemar power for params.power_deltas[0], [1] */
};

/* Analyse n paired pass/fail outcomes (non-zero = pass); n >= 1. */
int loco_stats_binary_paired(const uint8_t *base, const uint8_t *adapter, size_t n,
                             const struct loco_stats_params *params,
                             struct loco_binary_paired *out);

/* ---- continuous items --------------------------------------------------- */

/* Mean and t interval (n >= 2; sd 0 gives a zero-width interval). sd (may be
 * NULL) receives the sample standard deviation (n - 1 denominator). */
int loco_stats_mean_ci(const double *x, size_t n, double alpha, double *mean, double *sd,
                       struct loco_ci *out);

struct loco_bootstrap {
    double mean;       /* mean of the differences d */
    struct loco_ci ci; /* percentile interval of the resampled means */
    double p_value;    /* min(1, 2 min(#{d* <= 0}, #{d* >= 0}) / B) */
};

/* Paired bootstrap of the mean of d[n] (adapter - base per item): B
 * resamples of n items drawn with replacement by a seeded generator, so the
 * same seed gives the same answer. n >= 1, B >= 100. */
int loco_stats_bootstrap_mean(const double *d, size_t n, uint32_t b, uint64_t seed, double alpha,
                              struct loco_bootstrap *out);

struct loco_wilcoxon {
    size_t n_used;        /* differences that carry a rank sign (non-zero) */
    size_t n_zero;        /* zero differences (dropped, or ranked then dropped) */
    double w_plus;        /* sum of ranks of positive differences */
    double w_minus;       /* sum of ranks of negative differences */
    double statistic;     /* min(w_plus, w_minus), as scipy reports it */
    double z;             /* (w_plus - E) / sd, signed, no continuity correction */
    double p_value;       /* two-sided */
    bool exact;           /* true: exact null distribution; false: normal approx. */
    double rank_biserial; /* (w_plus - w_minus) / (w_plus + w_minus), in [-1, 1] */
};

/* Wilcoxon signed-rank test of d[n] against a zero location. Exact
 * (conditional on the tie pattern) when n_used <= LOCO_STATS_WILCOXON_EXACT_MAX,
 * else normal with the tie and continuity corrections. When every d is zero
 * the p is 1 and the effect 0. */
int loco_stats_wilcoxon(const double *d, size_t n, enum loco_wilcoxon_zeros zeros,
                        struct loco_wilcoxon *out);

/* Normal-approximation power of a two-sided paired test at level alpha to
 * detect a mean shift `delta` when the differences have standard deviation
 * sd over n items: Phi(delta sqrt(n)/sd - z) + Phi(-delta sqrt(n)/sd - z),
 * z = Phi^-1(1 - alpha/2). NaN when sd <= 0 (not estimable). */
double loco_stats_paired_power(size_t n, double sd, double delta, double alpha);

struct loco_continuous_paired {
    size_t n;
    double base_mean, adapter_mean;
    struct loco_ci base_ci, adapter_ci; /* t intervals */
    double diff;                        /* mean of adapter - base */
    double diff_sd;                     /* sd of the differences (n - 1) */
    struct loco_ci diff_ci;             /* paired bootstrap percentile interval */
    struct loco_ci diff_t_ci;           /* t interval of the differences, for comparison */
    double bootstrap_p;                 /* paired bootstrap two-sided p */
    struct loco_wilcoxon wilcoxon;
    double p_value;   /* the primary test: the Wilcoxon p */
    double cohens_dz; /* diff / diff_sd; NaN when diff_sd = 0 */
    double power[2];  /* for params.power_deltas[0], [1] */
};

/* Analyse n >= 2 paired continuous scores. */
int loco_stats_continuous_paired(const double *base, const double *adapter, size_t n,
                                 const struct loco_stats_params *params,
                                 struct loco_continuous_paired *out);

/* ---- gates -------------------------------------------------------------- */

/* Domain gate: passes when n >= LOCO_STATS_MIN_ITEMS, diff > 0 and
 * p_value < alpha. `why` (may be NULL) receives a fixed sentence saying why. */
bool loco_stats_gate_domain(size_t n, double p_value, double diff, double alpha, const char **why);

/* Out-of-domain non-inferiority gate: the drop is base - adapter, so the
 * upper bound of its interval is -diff_ci.lo; passes when
 * n >= LOCO_STATS_MIN_ITEMS and -diff_ci.lo <= margin. A small mean drop
 * with a wide interval fails. */
bool loco_stats_gate_noninferior(size_t n, struct loco_ci diff_ci, double margin, const char **why);

/* ---- verdicts ------------------------------------------------------------ */

/* Which gate a benchmark is held to: superiority on the adapter's own
 * domain, non-inferiority elsewhere. */
enum loco_gate_kind {
    LOCO_GATE_SUPERIORITY = 0,
    LOCO_GATE_NONINFERIORITY = 1,
};

/* What the gate concluded. UNINFORMATIVE: a non-inferiority check whose base
 * score leaves no room for a margin-sized drop (loco_stats_ni_informative):
 * it neither passes nor fails, and does not stop a promotion. */
enum loco_gate_verdict {
    LOCO_VERDICT_FAIL = 0,
    LOCO_VERDICT_PASS = 1,
    LOCO_VERDICT_UNINFORMATIVE = 2,
};

/* "superiority", "non-inferiority"; "PASS", "FAIL", "uninformative". */
const char *loco_gate_kind_name(enum loco_gate_kind k);
const char *loco_gate_verdict_name(enum loco_gate_verdict v);
/* The verdict named by `name` (any case); LOCO_ERR_NOT_FOUND else. */
int loco_gate_verdict_parse(const char *name, enum loco_gate_verdict *out);

/* The floor rule. Scores are on 0..1 with higher better, so on these items
 * the adapter can drop by at most the base score (it cannot score below 0:
 * for pass/fail items, lose more than the k items the base got right). A
 * non-inferiority check is informative only when that largest possible drop
 * reaches the margin: base_score >= margin. Below it, the check cannot see
 * a margin-sized drop however the adapter behaves, and PASS or FAIL would
 * only reflect n. (A drop is never limited by the ceiling; a base near 1 is
 * the superiority gate's problem, where any significant gain still passes.)
 * `why` (may be NULL) receives a fixed sentence. NaN base: not informative. */
bool loco_stats_ni_informative(double base_score, double margin, const char **why);

/* The non-inferiority gate with the floor rule: UNINFORMATIVE when
 * loco_stats_ni_informative says so (whatever n and the interval), else
 * PASS or FAIL as loco_stats_gate_noninferior. */
enum loco_gate_verdict loco_stats_gate_noninferior_verdict(size_t n, double base_score,
                                                           struct loco_ci diff_ci, double margin,
                                                           const char **why);

/* ---- planning the sample size ------------------------------------------------ */

/* What a planned n rests on and gives. */
struct loco_stats_plan {
    uint32_t n;        /* items needed: ceil(n_raw) (binary superiority: raised to the
                          exact power), at least LOCO_STATS_MIN_ITEMS */
    double n_raw;      /* the formula's value before rounding and the floor */
    double spread;     /* binary: the discordance rate psi assumed; continuous: the sd */
    double power_at_n; /* the power the formula's test has at n (see below) */
};

/* The discordance rate of paired pass/fail items when base and adapter err
 * independently, the base scores p and the adapter p + delta:
 * p (1 - p - delta) + (p + delta)(1 - p). Real pairs are positively
 * correlated (fewer discordant pairs), so n planned from it is conservative. */
double loco_stats_disc_independent(double base_rate, double delta);

/* Items needed for pass/fail items with discordance rate p_disc:
 *   superiority, a gain `effect` found by the two-sided McNemar test at
 *   alpha with probability `power` (Connor 1987):
 *     n = (z_{1-a/2} sqrt(psi) + z_power sqrt(psi - effect^2))^2 / effect^2,
 *     psi = max(p_disc, effect), then n raised one at a time (at most 2000
 *     steps) until the exact McNemar power at n reaches `power` (the normal
 *     approximation can fall short of the exact test); power_at_n: that
 *     exact power;
 *   non-inferiority, the drop's upper 95% bound below the margin `effect`
 *   when there is no true drop:
 *     n = (z_{1-a/2} + z_power)^2 psi / effect^2, psi = p_disc
 *     (per-item differences of mean 0 have variance psi); power_at_n: its
 *     normal approximation Phi(effect sqrt(n / psi) - z_{1-a/2}).
 * LOCO_ERR_INVALID for effect, alpha or power outside (0, 1) or p_disc
 * outside (0, 1]. */
int loco_stats_plan_binary(enum loco_gate_kind kind, double p_disc, double effect, double alpha,
                           double power, struct loco_stats_plan *out);

/* The same for scores whose paired differences have standard deviation sd:
 * n = ((z_{1-a/2} + z_power) sd / effect)^2 for both gates (the paired
 * z-test of loco_stats_paired_power; for non-inferiority against the
 * margin); power_at_n by loco_stats_paired_power (superiority) or
 * Phi(effect sqrt(n) / sd - z_{1-a/2}). */
int loco_stats_plan_continuous(enum loco_gate_kind kind, double sd, double effect, double alpha,
                               double power, struct loco_stats_plan *out);

#ifdef __cplusplus
}
#endif
#endif
