/*
 * loco/swarm.h - the routed system against the generalist: does answering
 * each request with the specialist its router picks beat the base model
 * alone? (`loco eval --swarm`; docs/swarm.md.)
 *
 * Over the domains' benchmarks every item is answered as each policy would
 * have it answered, with the serving rule of loco/router.h (a domain whose
 * adapters have not passed their gate is answered by the base model):
 *   oracle  the adapter serving the item's own domain (perfect routing),
 *   ROUTER  the adapter serving the domain each router picks,
 *   base    the base model alone,
 *   random  a domain (or the base model) drawn uniformly per item, seeded.
 * Each (serving adapter, benchmark) pair is one loco_eval_bench_run through
 * the generation cache, so the policies only choose among answers.
 *
 * Contamination: an item whose prompt shares a 13-gram with the training
 * data of an adapter that serves some domain is flagged and left out of
 * every policy's comparison (a random policy may send any item to any
 * serving adapter, so every serving adapter's data counts).
 *
 * Statistics, per benchmark and policy on the clean items: the mean with a
 * 95% interval (Wilson for pass/fail, t otherwise), the paired difference
 * from the base model with a paired bootstrap interval, and a paired p
 * (exact McNemar for pass/fail, Wilcoxon signed-rank otherwise).
 *
 * The composite puts every benchmark on one scale before averaging: a
 * benchmark's paired difference divided by the spread of the base model's
 * scores on it (Glass's delta with the base model as the control group),
 * averaged over benchmarks with equal weight. For a pass/fail benchmark the
 * spread is the Bernoulli sd at the base accuracy shrunk by half an item,
 * p~ = (k + 1/2) / (n + 1), so a base at 0/n still has a finite scale; for
 * a scored benchmark it is the sample sd of the base scores, or, when those
 * do not vary at all, the sd of every policy's scores on it pooled (a
 * benchmark with no spread at all contributes 0). The scale is computed
 * once and held fixed, like a unit. The interval is a stratified paired
 * bootstrap: each resample draws items with replacement within each
 * benchmark, keeping every benchmark's n.
 */
#ifndef LOCO_SWARM_H
#define LOCO_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/eval.h"
#include "loco/registry.h"
#include "loco/router.h"
#include "loco/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_SWARM_MAX_DOMAINS 16
#define LOCO_SWARM_MAX_BENCH 8
#define LOCO_SWARM_MAX_ROUTERS 6
#define LOCO_SWARM_MAX_POLICIES (LOCO_SWARM_MAX_ROUTERS + 3) /* oracle, routers, base, random */
#define LOCO_SWARM_RECORD "locollm-swarm/2"
#define LOCO_SWARM_SCALE "glass-delta"

/* ---- the composite on a common scale ------------------------------------- */

/* The spread a benchmark's differences are divided by: for pass/fail scores
 * (binary) sqrt(p~ (1 - p~)) with p~ = (k + 1/2) / (n + 1); otherwise the
 * sample sd (n - 1), 0 when n < 2. base[n] are the base model's item scores. */
double loco_swarm_scale(const double *base, size_t n, bool binary);

/* The composite gain of `policy` over `base` on n paired items, item i in
 * benchmark stratum[i] < n_strata: the mean over the strata that have items
 * of (mean(policy) - mean(base)) / scale[s], a stratum with scale 0 counting
 * 0. LOCO_ERR_INVALID for no items, a stratum out of range, a missing score
 * or a negative scale. */
int loco_swarm_composite(const double *base, const double *policy, const uint32_t *stratum,
                         size_t n, size_t n_strata, const double *scale, double *out);

/* Stratified paired bootstrap of loco_swarm_composite (scales fixed): B
 * resamples, each drawing every stratum's items with replacement within the
 * stratum (seeded splitmix64, so the same seed repeats); out->mean is the
 * estimate on the data, out->ci the percentile interval at 1 - alpha,
 * out->p_value min(1, 2 min(#{c* <= 0}, #{c* >= 0}) / B). B >= 100. */
int loco_swarm_bootstrap(const double *base, const double *policy, const uint32_t *stratum,
                         size_t n, size_t n_strata, const double *scale, uint32_t b, uint64_t seed,
                         double alpha, struct loco_bootstrap *out);

/* ---- running it ---------------------------------------------------------- */

struct loco_swarm_params {
    struct loco_eval_params eval; /* limit, slots, cache, stats, contam_threshold, ... */
    const char *const *benches;   /* NULL/0: each domain's primary benchmark that scores */
    size_t n_bench;               /* itself (not judged) and whose domain has an adapter */
    const char *const *routers;   /* routers to compare (e.g. keyword, classifier) */
    size_t n_routers;
    uint64_t seed;                  /* the random policy's draws */
    enum loco_serve_mode serve;     /* LOCO_SERVE_REGISTRY: the registry's serve_candidates */
    bool contam;                    /* check contamination (default true) */
    loco_eval_progress_fn progress; /* may be NULL */
    void *user;
};

struct loco_swarm_params loco_swarm_default_params(void);

/* The adapter that answers a domain in this run. */
struct loco_swarm_domain {
    char name[LOCO_ROUTE_NAME_MAX];
    char adapter[128]; /* "" for the base model */
    char path[4096];
    char sha256[65];               /* of the adapter file */
    char status[16];               /* registry status of the adapter */
    enum loco_serve_reason reason; /* why it serves (or why the base model does) */
    char note[256];                /* e.g. an adapter that did not load */
    bool contam_checked;
    char recipe[4096];    /* its training recipe (contamination) */
    size_t n_train;       /* training examples indexed */
    char contam_why[512]; /* when not checked */
};

/* One policy on one benchmark (clean items). */
struct loco_swarm_cell {
    size_t n;
    double mean;
    struct loco_ci ci;          /* Wilson (pass/fail) or t */
    double diff;                /* mean of policy - base */
    struct loco_ci diff_ci;     /* paired bootstrap percentile interval */
    double diff_boot_p;         /* the bootstrap's two-sided p */
    struct loco_ci diff_ci_alt; /* Newcombe (pass/fail) or t interval of the differences */
    double p_value;             /* exact McNemar (pass/fail) or Wilcoxon signed-rank */
    double routing_acc;         /* routers: items routed to their own domain; NaN otherwise */
};

struct loco_swarm_bench {
    char name[64];
    char metric[32];
    bool binary;
    size_t domain;     /* index into domains (its own domain) */
    size_t n_items;    /* items run */
    size_t n_flagged;  /* contaminated: left out */
    size_t n_unscored; /* a score missing (e.g. unrated by the judge): left out */
    size_t n_used;
    double scale;           /* what its differences are divided by in the composite */
    const char *scale_from; /* "base-bernoulli", "base-sd", "pooled-sd" or "none" */
};

struct loco_swarm_item {
    char *id;
    size_t bench;
    bool contaminated;
    char flagged_by[256];                 /* serving adapters whose training data it overlaps */
    bool used;                            /* in the statistics */
    size_t pick[LOCO_SWARM_MAX_POLICIES]; /* domain index, or n_domains for "base" */
    int source[LOCO_SWARM_MAX_POLICIES];  /* domain whose adapter answered; -1: base model */
    double score[LOCO_SWARM_MAX_POLICIES];
};

struct loco_swarm {
    char date[32];
    char model_path[4096];
    char model_sha256[65];
    bool serve_candidates;
    bool contam;
    double contam_threshold;
    size_t limit;
    uint64_t seed;
    struct loco_stats_params stats;
    size_t n_domains;
    struct loco_swarm_domain domains[LOCO_SWARM_MAX_DOMAINS];
    size_t n_bench;
    struct loco_swarm_bench bench[LOCO_SWARM_MAX_BENCH];
    size_t n_policies, base_policy;
    char policies[LOCO_SWARM_MAX_POLICIES][LOCO_ROUTE_NAME_MAX];
    char routers_left_out[512];
    struct loco_swarm_cell cell[LOCO_SWARM_MAX_POLICIES][LOCO_SWARM_MAX_BENCH];
    struct loco_bootstrap composite[LOCO_SWARM_MAX_POLICIES];
    size_t n_items;
    struct loco_swarm_item *items;
};

/* Run the comparison with model m (loaded from model_path) and the registry
 * reg (both borrowed for the call). *out is allocated; free it with
 * loco_swarm_free. A serving adapter that does not load is skipped for the
 * next in its domain's serving order (then the base model), as ask does. */
int loco_swarm_run(const struct loco_model *m, const char *model_path,
                   const struct loco_registry *reg, const struct loco_swarm_params *p,
                   struct loco_swarm **out);
void loco_swarm_free(struct loco_swarm *s);

/* The record (LOCO_SWARM_RECORD) as JSON text, and the Markdown report;
 * malloc'd, the caller frees; NULL when out of memory. */
char *loco_swarm_json(const struct loco_swarm *s);
char *loco_swarm_markdown(const struct loco_swarm *s);

#ifdef __cplusplus
}
#endif
#endif
