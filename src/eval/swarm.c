/*
 * swarm.c - the routed system against the generalist (loco/swarm.h).
 *
 * Read top to bottom: the common scale and the composite, its stratified
 * bootstrap, then the run: which adapter serves each domain (the serving
 * rule of loco/router.h), their contamination indexes, one evaluation per
 * (serving adapter, benchmark), each policy's pick per item, and the paired
 * statistics. The record and the report are in swarm_report.c.
 */
#include "loco/swarm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "eval/stats_internal.h"
#include "loco/contam.h"
#include "loco/models.h"

/* ---- the common scale and the composite ----------------------------------- */

double loco_swarm_scale(const double *base, size_t n, bool binary)
{
    double sum = 0, sumsq = 0;
    for (size_t i = 0; i < n; i++) {
        sum += base[i];
        sumsq += base[i] * base[i];
    }
    if (binary) {
        double p = (sum + 0.5) / ((double)n + 1.0); /* shrunk by half an item */
        return sqrt(p * (1.0 - p));
    }
    if (n < 2)
        return 0.0;
    double var = (sumsq - sum * sum / (double)n) / (double)(n - 1);
    return var > 0 ? sqrt(var) : 0.0;
}

/* Per-stratum sums of one sample: items and differences. */
struct stratum_sums {
    double n, diff;
};

static double composite_of(const struct stratum_sums *s, size_t n_strata, const double *scale)
{
    double total = 0;
    size_t used = 0;
    for (size_t k = 0; k < n_strata; k++) {
        if (s[k].n <= 0)
            continue;
        total += scale[k] > 0 ? s[k].diff / s[k].n / scale[k] : 0.0;
        used++;
    }
    return used ? total / (double)used : 0.0;
}

static int check_input(const double *base, const double *policy, const uint32_t *stratum, size_t n,
                       size_t n_strata, const double *scale)
{
    if (!base || !policy || !stratum || !scale || n == 0 || n_strata == 0)
        return loco_error_set(LOCO_ERR_INVALID, "swarm composite: no items or strata");
    for (size_t i = 0; i < n; i++) {
        if (stratum[i] >= n_strata)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "swarm composite: item %zu is in stratum %u of %zu", i,
                                  stratum[i], n_strata);
        if (!isfinite(base[i]) || !isfinite(policy[i]))
            return loco_error_set(LOCO_ERR_INVALID, "swarm composite: item %zu has no score", i);
    }
    for (size_t k = 0; k < n_strata; k++)
        if (!(scale[k] >= 0) || !isfinite(scale[k]))
            return loco_error_set(LOCO_ERR_INVALID, "swarm composite: stratum %zu has scale %g", k,
                                  scale[k]);
    return LOCO_OK;
}

int loco_swarm_composite(const double *base, const double *policy, const uint32_t *stratum,
                         size_t n, size_t n_strata, const double *scale, double *out)
{
    int rc = check_input(base, policy, stratum, n, n_strata, scale);
    if (rc)
        return rc;
    struct stratum_sums *s = calloc(n_strata, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm composite: out of memory");
    for (size_t i = 0; i < n; i++) {
        s[stratum[i]].n += 1;
        s[stratum[i]].diff += policy[i] - base[i];
    }
    *out = composite_of(s, n_strata, scale);
    free(s);
    return LOCO_OK;
}

/* The items grouped by stratum: order[start[k] .. start[k + 1]) are stratum k's. */
static int group_strata(const uint32_t *stratum, size_t n, size_t n_strata, size_t **order,
                        size_t **start)
{
    *order = malloc(n * sizeof **order);
    *start = calloc(n_strata + 1, sizeof **start);
    if (!*order || !*start)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm bootstrap: out of memory");
    for (size_t i = 0; i < n; i++)
        (*start)[stratum[i] + 1]++;
    for (size_t k = 0; k < n_strata; k++)
        (*start)[k + 1] += (*start)[k];
    size_t *fill = calloc(n_strata, sizeof *fill);
    if (!fill)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm bootstrap: out of memory");
    for (size_t i = 0; i < n; i++)
        (*order)[(*start)[stratum[i]] + fill[stratum[i]]++] = i;
    free(fill);
    return LOCO_OK;
}

int loco_swarm_bootstrap(const double *base, const double *policy, const uint32_t *stratum,
                         size_t n, size_t n_strata, const double *scale, uint32_t b, uint64_t seed,
                         double alpha, struct loco_bootstrap *out)
{
    int rc = check_input(base, policy, stratum, n, n_strata, scale);
    if (rc)
        return rc;
    if (b < 100 || !(alpha > 0 && alpha < 1) || !out)
        return loco_error_set(LOCO_ERR_INVALID,
                              "swarm bootstrap: B >= 100 and alpha in (0, 1) "
                              "(got B=%u, alpha=%g)",
                              b, alpha);
    size_t *order = NULL, *start = NULL;
    double *stat = malloc((size_t)b * sizeof *stat); /* [B] resampled composites */
    struct stratum_sums *s = calloc(n_strata, sizeof *s);
    rc = stat && s ? group_strata(stratum, n, n_strata, &order, &start)
                   : loco_error_set(LOCO_ERR_NOMEM, "swarm bootstrap: out of memory");
    if (!rc)
        rc = loco_swarm_composite(base, policy, stratum, n, n_strata, scale, &out->mean);
    uint64_t state = seed;
    size_t le = 0, ge = 0;
    for (uint32_t r = 0; r < b && !rc; r++) {
        memset(s, 0, n_strata * sizeof *s);
        for (size_t k = 0; k < n_strata; k++) {
            size_t nk = start[k + 1] - start[k];
            for (size_t j = 0; j < nk; j++) {
                size_t i = order[start[k] + loco_rng_below(&state, nk)];
                s[k].n += 1;
                s[k].diff += policy[i] - base[i];
            }
        }
        stat[r] = composite_of(s, n_strata, scale);
        le += stat[r] <= 0.0;
        ge += stat[r] >= 0.0;
    }
    if (!rc) {
        qsort(stat, b, sizeof *stat, loco_stats_cmp_double);
        out->ci.lo = loco_stats_quantile_sorted(stat, b, alpha / 2);
        out->ci.hi = loco_stats_quantile_sorted(stat, b, 1 - alpha / 2);
        double p = 2.0 * (double)(le < ge ? le : ge) / (double)b;
        out->p_value = p > 1 ? 1 : p;
    }
    free(stat);
    free(s);
    free(order);
    free(start);
    return rc;
}

/* ---- the run ------------------------------------------------------------- */

struct loco_swarm_params loco_swarm_default_params(void)
{
    static const char *const routers[] = {"keyword", "classifier"};
    struct loco_swarm_params p = {
        .eval = loco_eval_default_params(),
        .routers = routers,
        .n_routers = 2,
        .seed = 1,
        .serve = LOCO_SERVE_REGISTRY,
        .contam = true,
    };
    p.eval.decontaminate = true;
    return p;
}

/* What one run holds while it works. */
struct swarm_run {
    const struct loco_model *m;
    const struct loco_registry *reg;
    const struct loco_swarm_params *p;
    struct loco_swarm *s;
    struct loco_adapter *adapter[LOCO_SWARM_MAX_DOMAINS]; /* NULL: the base model serves */
    struct loco_contam_index *contam[LOCO_SWARM_MAX_DOMAINS];
    const char *bench_name[LOCO_SWARM_MAX_BENCH];
    struct loco_router *router[LOCO_SWARM_MAX_ROUTERS];
    size_t n_routers;
    uint64_t rng; /* the random policy */
};

/* The adapter's training recipe: the registry's provenance.recipe (relative
 * to the registry file that defines the adapter), else recipe.yaml beside
 * the adapter file (the same search as `loco eval`). */
static bool find_recipe(const struct loco_registry_adapter *ra, char *buf, size_t cap)
{
    const char *rec = ra->provenance.recipe, *src = ra->source ? ra->source : "";
    if (rec && rec[0]) {
        const char *slash = strrchr(src, '/');
        if (rec[0] == '/' || !slash)
            snprintf(buf, cap, "%s", rec);
        else
            snprintf(buf, cap, "%.*s/%s", (int)(slash - src), src, rec);
        if (access(buf, R_OK) == 0)
            return true;
    }
    const char *slash = strrchr(ra->path, '/');
    if (slash)
        snprintf(buf, cap, "%.*s/recipe.yaml", (int)(slash - ra->path), ra->path);
    else
        snprintf(buf, cap, "recipe.yaml");
    return access(buf, R_OK) == 0;
}

/* Index a serving adapter's training data; a failure is recorded, not fatal
 * (as `loco eval` does), and the record says the items were not checked. */
static void index_training(struct swarm_run *w, size_t d, const struct loco_registry_adapter *ra)
{
    struct loco_swarm_domain *sd = &w->s->domains[d];
    if (!find_recipe(ra, sd->recipe, sizeof sd->recipe)) {
        snprintf(sd->contam_why, sizeof sd->contam_why,
                 "no training recipe found for %s (registry provenance.recipe or recipe.yaml "
                 "beside the adapter)",
                 ra->name);
        return;
    }
    struct loco_contam_index *ix = loco_contam_index_init(0);
    if (!ix || loco_contam_index_add_recipe(ix, sd->recipe, w->m, &sd->n_train) != LOCO_OK) {
        snprintf(sd->contam_why, sizeof sd->contam_why, "%s", loco_error_message());
        loco_contam_index_free(ix);
        return;
    }
    sd->contam_checked = true;
    w->contam[d] = ix;
}

/* The adapter serving domain d: the first in its serving order that loads. */
static void serve_domain(struct swarm_run *w, size_t d)
{
    struct loco_swarm_domain *sd = &w->s->domains[d];
    const struct loco_registry_adapter *order[8];
    size_t n = loco_serving_order(w->reg, sd->name, w->p->serve, order, 8);
    struct loco_serving sv;
    loco_serving_choose(w->reg, sd->name, w->p->serve, &sv);
    sd->reason = sv.reason;
    for (size_t k = 0; k < n && k < 8; k++) {
        w->adapter[d] = loco_adapter_load(order[k]->path, w->m);
        if (!w->adapter[d]) {
            size_t len = strlen(sd->note);
            snprintf(sd->note + len, sizeof sd->note - len, "%s%s does not load: %s",
                     len ? "; " : "", order[k]->name, loco_error_message());
            continue;
        }
        snprintf(sd->adapter, sizeof sd->adapter, "%s", order[k]->name);
        snprintf(sd->path, sizeof sd->path, "%s", order[k]->path);
        snprintf(sd->status, sizeof sd->status, "%s", loco_registry_status_name(order[k]->status));
        if (loco_models_sha256_file(order[k]->path, sd->sha256) != LOCO_OK)
            sd->sha256[0] = '\0';
        if (k > 0) /* a fallback: say which rule it serves under */
            sd->reason = order[k]->status == LOCO_REGISTRY_ACTIVE ? LOCO_SERVE_ACTIVE
                         : loco_serving_passed(w->reg, order[k])  ? LOCO_SERVE_PASSED
                                                                  : LOCO_SERVE_UNPROVEN;
        if (w->p->contam)
            index_training(w, d, order[k]);
        return;
    }
    if (n > 0)
        sd->reason = LOCO_SERVE_BASE_NOT_LOADED;
}

static int setup_domains(struct swarm_run *w)
{
    size_t nd = loco_registry_n_domains(w->reg);
    if (nd == 0 || nd > LOCO_SWARM_MAX_DOMAINS)
        return loco_error_set(LOCO_ERR_RANGE, "swarm: the registry has %zu domains (1 to %d)", nd,
                              LOCO_SWARM_MAX_DOMAINS);
    w->s->n_domains = nd;
    for (size_t d = 0; d < nd; d++) {
        snprintf(w->s->domains[d].name, sizeof w->s->domains[d].name, "%s",
                 loco_registry_domain_at(w->reg, d)->name);
        serve_domain(w, d);
    }
    return LOCO_OK;
}

/* The domain whose benchmark list holds `bench`, or n_domains. */
static size_t domain_of_bench(const struct loco_registry *reg, const char *bench)
{
    size_t nd = loco_registry_n_domains(reg);
    for (size_t d = 0; d < nd; d++) {
        const struct loco_registry_domain *rd = loco_registry_domain_at(reg, d);
        if (!strcmp(rd->primary_benchmark, bench))
            return d;
        for (size_t j = 0; j < rd->benchmarks.n; j++)
            if (!strcmp(rd->benchmarks.v[j], bench))
                return d;
    }
    return nd;
}

static bool domain_has_adapter(const struct loco_registry *reg, const char *domain)
{
    for (size_t i = 0; i < loco_registry_n_adapters(reg); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(reg, i);
        if (!strcmp(a->domain, domain) && a->status != LOCO_REGISTRY_RETIRED)
            return true;
    }
    return false;
}

static int add_bench(struct swarm_run *w, const char *name, size_t domain)
{
    struct loco_swarm *s = w->s;
    if (s->n_bench == LOCO_SWARM_MAX_BENCH)
        return loco_error_set(LOCO_ERR_RANGE, "swarm: at most %d benchmarks", LOCO_SWARM_MAX_BENCH);
    w->bench_name[s->n_bench] = name;
    snprintf(s->bench[s->n_bench].name, sizeof s->bench[0].name, "%s", name);
    s->bench[s->n_bench++].domain = domain;
    return LOCO_OK;
}

/* Given, or each domain's primary benchmark that scores itself, for the
 * domains that have an adapter at all (served or not: a domain answered by
 * the base model still counts, with no gain). */
static int setup_benches(struct swarm_run *w)
{
    const struct loco_swarm_params *p = w->p;
    int rc = LOCO_OK;
    for (size_t b = 0; b < p->n_bench && !rc; b++) {
        size_t d = domain_of_bench(w->reg, p->benches[b]);
        if (d == w->s->n_domains)
            return loco_error_set(LOCO_ERR_NOT_FOUND,
                                  "swarm: %s is no domain's benchmark in "
                                  "the registry (domains[].benchmarks)",
                                  p->benches[b]);
        rc = add_bench(w, p->benches[b], d);
    }
    for (size_t d = 0; d < w->s->n_domains && p->n_bench == 0 && !rc; d++) {
        const char *pb = loco_registry_domain_at(w->reg, d)->primary_benchmark;
        if (pb[0] && strncmp(pb, "judge", 5) && domain_has_adapter(w->reg, w->s->domains[d].name))
            rc = add_bench(w, pb, d);
    }
    if (!rc && w->s->n_bench == 0)
        rc = loco_error_set(LOCO_ERR_NOT_FOUND, "swarm: no benchmark to run (give --bench)");
    return rc;
}

static int setup_policies(struct swarm_run *w)
{
    struct loco_swarm *s = w->s;
    const struct loco_swarm_params *p = w->p;
    struct loco_router_env env = {.reg = w->reg, .model = w->m, .serve = (int)p->serve};
    snprintf(s->policies[s->n_policies++], LOCO_ROUTE_NAME_MAX, "oracle");
    size_t used = 0;
    for (size_t k = 0; k < p->n_routers && w->n_routers < LOCO_SWARM_MAX_ROUTERS; k++) {
        struct loco_router *r = loco_router_open(&env, p->routers[k]);
        if (!r) { /* e.g. no trained classifier: say so in the record, go on */
            int n = snprintf(s->routers_left_out + used, sizeof s->routers_left_out - used,
                             "%s%s: %s", used ? "; " : "", p->routers[k], loco_error_message());
            if (n > 0 && (size_t)n < sizeof s->routers_left_out - used)
                used += (size_t)n;
            continue;
        }
        w->router[w->n_routers++] = r;
        snprintf(s->policies[s->n_policies++], LOCO_ROUTE_NAME_MAX, "%s", loco_router_name(r));
    }
    s->base_policy = s->n_policies;
    snprintf(s->policies[s->n_policies++], LOCO_ROUTE_NAME_MAX, "base");
    snprintf(s->policies[s->n_policies++], LOCO_ROUTE_NAME_MAX, "random");
    return LOCO_OK;
}

/* Which domain each policy picks for an item (n_domains: the base model). */
static size_t pick_of(struct swarm_run *w, size_t k, size_t own, const char *prompt)
{
    const struct loco_swarm *s = w->s;
    size_t nd = s->n_domains;
    if (k == 0)
        return own;
    if (k == s->base_policy)
        return nd;
    if (k == s->base_policy + 1)
        return loco_rng_below(&w->rng, nd + 1);
    struct loco_route_decision dec;
    if (loco_route(w->router[k - 1], prompt, &dec) != LOCO_OK)
        return nd;
    for (size_t d = 0; d < nd; d++)
        if (!strcmp(dec.domain, s->domains[d].name))
            return d;
    return nd;
}

/* Append the names of the serving adapters whose training data item i overlaps. */
static bool flag_item(const struct swarm_run *w, const struct loco_eval_bench *res, size_t i,
                      struct loco_swarm_item *it)
{
    size_t used = 0;
    for (size_t d = 0; d < w->s->n_domains; d++) {
        if (!w->adapter[d] || !res[d].items[i].contaminated)
            continue;
        it->contaminated = true;
        int n = snprintf(it->flagged_by + used, sizeof it->flagged_by - used, "%s%s",
                         used ? "," : "", w->s->domains[d].adapter);
        if (n > 0 && (size_t)n < sizeof it->flagged_by - used)
            used += (size_t)n;
    }
    return it->contaminated;
}

/* Item i of benchmark b under every policy. */
static int collect_item(struct swarm_run *w, size_t b, const struct loco_eval_bench *res,
                        size_t any, size_t i, struct loco_swarm_item *it)
{
    struct loco_swarm *s = w->s;
    size_t nd = s->n_domains;
    const struct loco_eval_item *src = &res[any].items[i];
    for (size_t d = 0; d < nd; d++)
        if (w->adapter[d] && strcmp(res[d].items[i].id, src->id))
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "swarm: %s item %zu is %s in one run and %s "
                                  "in another",
                                  w->bench_name[b], i, src->id, res[d].items[i].id);
    it->id = strdup(src->id ? src->id : "");
    if (!it->id)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm: out of memory");
    it->bench = b;
    bool scored = isfinite(src->score[0]) && !src->unrated;
    for (size_t k = 0; k < s->n_policies; k++) {
        size_t pick = pick_of(w, k, s->bench[b].domain, src->prompt);
        int from = pick < nd && w->adapter[pick] ? (int)pick : -1;
        const struct loco_eval_item *ans = from >= 0 ? &res[from].items[i] : src;
        it->pick[k] = pick;
        it->source[k] = from;
        it->score[k] = from >= 0 ? ans->score[1] : src->score[0];
        scored = scored && isfinite(it->score[k]) && !ans->unrated;
    }
    bool flagged = flag_item(w, res, i, it);
    it->used = scored && !flagged;
    s->bench[b].n_flagged += flagged;
    s->bench[b].n_unscored += !scored;
    s->bench[b].n_used += it->used;
    return LOCO_OK;
}

static int collect_items(struct swarm_run *w, size_t b, const struct loco_eval_bench *res,
                         size_t any)
{
    struct loco_swarm *s = w->s;
    size_t n = res[any].n;
    struct loco_swarm_item *grown = realloc(s->items, (s->n_items + n + 1) * sizeof *grown);
    if (!grown)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm: out of memory for %zu items", n);
    s->items = grown;
    snprintf(s->bench[b].metric, sizeof s->bench[b].metric, "%s", res[any].metric);
    s->bench[b].binary = res[any].binary;
    s->bench[b].n_items = n;
    int rc = LOCO_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        memset(&s->items[s->n_items], 0, sizeof s->items[0]);
        rc = collect_item(w, b, res, any, i, &s->items[s->n_items]);
        if (s->items[s->n_items].id)
            s->n_items++;
    }
    return rc;
}

/* One benchmark: every serving adapter's run (or the base model alone), the
 * union of their contamination flags, each policy's pick and score. */
static int run_bench(struct swarm_run *w, size_t b)
{
    struct loco_swarm *s = w->s;
    size_t nd = s->n_domains;
    struct loco_eval_bench *res = calloc(nd + 1, sizeof *res);
    if (!res)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm: out of memory");
    bool ran[LOCO_SWARM_MAX_DOMAINS + 1] = {0};
    size_t any = nd; /* a run whose base side gives the base scores */
    int rc = LOCO_OK;
    for (size_t d = 0; d <= nd && !rc; d++) {
        if (d < nd ? !w->adapter[d] : any != nd)
            continue; /* the base-only run is needed only when no adapter serves */
        struct loco_eval_params ep = w->p->eval;
        ep.contam = d < nd ? w->contam[d] : NULL;
        ep.decontaminate = true;
        rc = loco_eval_bench_run(w->m, d < nd ? w->adapter[d] : NULL, 1.0f, w->bench_name[b],
                                 d == s->bench[b].domain, &ep, w->p->progress, w->p->user, &res[d]);
        ran[d] = rc == LOCO_OK;
        if (!rc && any == nd)
            any = d;
    }
    for (size_t d = 0; d < nd && !rc; d++)
        if (ran[d] && res[d].n != res[any].n)
            rc = loco_error_set(LOCO_ERR_FORMAT,
                                "swarm: %s gave %zu items with one adapter and "
                                "%zu with another",
                                w->bench_name[b], res[d].n, res[any].n);
    if (!rc)
        rc = collect_items(w, b, res, any);
    for (size_t d = 0; d <= nd; d++)
        if (ran[d])
            loco_eval_bench_free(&res[d]);
    free(res);
    return rc;
}

/* ---- the statistics ------------------------------------------------------ */

static void cell_nan(struct loco_swarm_cell *c)
{
    c->mean = c->diff = c->diff_boot_p = c->p_value = NAN;
    c->ci = c->diff_ci = c->diff_ci_alt = (struct loco_ci){NAN, NAN};
}

/* One policy on one benchmark: base[n] and pol[n] are the clean items. */
static int cell_stats(const struct loco_swarm *s, bool binary, const double *base,
                      const double *pol, size_t n, struct loco_swarm_cell *c)
{
    cell_nan(c);
    c->n = n;
    if (n == 0)
        return LOCO_OK;
    double *d = malloc(n * sizeof *d);
    uint8_t *bb = malloc(n), *pp = malloc(n);
    int rc = d && bb && pp ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "swarm: out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        d[i] = pol[i] - base[i];
        bb[i] = base[i] > 0.5;
        pp[i] = pol[i] > 0.5;
    }
    if (!rc && binary) {
        struct loco_binary_paired bp;
        rc = loco_stats_binary_paired(bb, pp, n, &s->stats, &bp);
        if (!rc) {
            c->mean = bp.adapter_acc, c->ci = bp.adapter_ci, c->diff = bp.diff;
            c->diff_ci_alt = bp.diff_ci, c->p_value = bp.p_value;
        }
    } else if (!rc && n >= 2) {
        struct loco_continuous_paired cp;
        rc = loco_stats_continuous_paired(base, pol, n, &s->stats, &cp);
        if (!rc) {
            c->mean = cp.adapter_mean, c->ci = cp.adapter_ci, c->diff = cp.diff;
            c->diff_ci_alt = cp.diff_t_ci, c->p_value = cp.p_value;
        }
    } else if (!rc) {
        c->mean = pol[0], c->diff = d[0];
    }
    struct loco_bootstrap bs;
    if (!rc && loco_stats_bootstrap_mean(d, n, s->stats.bootstrap_b, s->stats.seed, s->stats.alpha,
                                         &bs) == LOCO_OK) {
        c->diff_ci = bs.ci;
        c->diff_boot_p = bs.p_value;
    }
    free(d);
    free(bb);
    free(pp);
    return rc;
}

/* The fallback scale of a scored benchmark whose base scores do not vary:
 * the sd of every policy's scores on its clean items, pooled. */
static void pooled_scale(const struct loco_swarm *s, size_t b, struct loco_swarm_bench *sb)
{
    double sum = 0, sumsq = 0, n = 0;
    for (size_t i = 0; i < s->n_items; i++)
        for (size_t k = 0; k < s->n_policies && s->items[i].bench == b && s->items[i].used; k++) {
            sum += s->items[i].score[k];
            sumsq += s->items[i].score[k] * s->items[i].score[k];
            n += 1;
        }
    double var = n > 1 ? (sumsq - sum * sum / n) / (n - 1) : 0;
    sb->scale = var > 1e-300 ? sqrt(var) : 0;
    sb->scale_from = sb->scale > 0 ? "pooled-sd" : "none";
}

/* Per benchmark and policy: the cells and routing accuracy; then the
 * composite of every policy with its stratified bootstrap. */
static int analyse(struct loco_swarm *s)
{
    size_t n = s->n_items ? s->n_items : 1;
    double *base = malloc(n * sizeof *base), *pol = malloc(n * sizeof *pol);
    uint32_t *stratum = malloc(n * sizeof *stratum);
    bool binary[LOCO_SWARM_MAX_BENCH] = {0};
    double scale[LOCO_SWARM_MAX_BENCH] = {0};
    int rc =
        base && pol && stratum ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "swarm: out of memory");
    size_t bp = s->base_policy;
    for (size_t b = 0; b < s->n_bench && !rc; b++) {
        binary[b] = s->bench[b].binary;
        size_t m = 0;
        for (size_t i = 0; i < s->n_items; i++)
            if (s->items[i].bench == b && s->items[i].used)
                base[m++] = s->items[i].score[bp];
        s->bench[b].scale = loco_swarm_scale(base, m, binary[b]);
        s->bench[b].scale_from = binary[b] ? "base-bernoulli" : "base-sd";
        if (!binary[b] && s->bench[b].scale == 0 && m >= 2)
            pooled_scale(s, b, &s->bench[b]);
        scale[b] = s->bench[b].scale;
        for (size_t k = 0; k < s->n_policies && !rc; k++) {
            size_t right = 0;
            m = 0;
            for (size_t i = 0; i < s->n_items; i++) {
                const struct loco_swarm_item *it = &s->items[i];
                if (it->bench != b || !it->used)
                    continue;
                base[m] = it->score[bp];
                pol[m++] = it->score[k];
                right += it->pick[k] == s->bench[b].domain;
            }
            rc = cell_stats(s, binary[b], base, pol, m, &s->cell[k][b]);
            bool routed = k > 0 && k < bp;
            s->cell[k][b].routing_acc = routed && m ? (double)right / (double)m : NAN;
        }
    }
    for (size_t k = 0; k < s->n_policies && !rc; k++) {
        size_t m = 0;
        for (size_t i = 0; i < s->n_items; i++)
            if (s->items[i].used) {
                base[m] = s->items[i].score[bp];
                pol[m] = s->items[i].score[k];
                stratum[m++] = (uint32_t)s->items[i].bench;
            }
        s->composite[k] = (struct loco_bootstrap){NAN, {NAN, NAN}, NAN};
        if (m)
            rc =
                loco_swarm_bootstrap(base, pol, stratum, m, s->n_bench, scale, s->stats.bootstrap_b,
                                     s->stats.seed, s->stats.alpha, &s->composite[k]);
    }
    free(base);
    free(pol);
    free(stratum);
    return rc;
}

/* ---- the whole run ------------------------------------------------------- */

static void describe(struct loco_swarm *s, const struct loco_model *m, const char *model_path,
                     const struct loco_registry *reg, const struct loco_swarm_params *p)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(s->date, sizeof s->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(s->model_path, sizeof s->model_path, "%s", model_path ? model_path : "");
    if (loco_model_sha256(m, s->model_sha256) != LOCO_OK)
        s->model_sha256[0] = '\0';
    s->serve_candidates = loco_serving_candidates(reg, p->serve);
    s->contam = p->contam;
    s->contam_threshold = p->eval.contam_threshold;
    s->limit = p->eval.limit;
    s->seed = p->seed;
    s->stats = p->eval.stats;
}

int loco_swarm_run(const struct loco_model *m, const char *model_path,
                   const struct loco_registry *reg, const struct loco_swarm_params *p,
                   struct loco_swarm **out)
{
    if (!m || !reg || !p || !out)
        return loco_error_set(LOCO_ERR_INVALID, "swarm: model, registry and params are needed");
    *out = NULL;
    struct loco_swarm *s = calloc(1, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "swarm: out of memory");
    struct swarm_run w = {.m = m, .reg = reg, .p = p, .s = s, .rng = p->seed};
    describe(s, m, model_path, reg, p);
    int rc = setup_domains(&w);
    if (!rc)
        rc = setup_benches(&w);
    if (!rc)
        rc = setup_policies(&w);
    for (size_t b = 0; b < s->n_bench && !rc; b++)
        rc = run_bench(&w, b);
    if (!rc)
        rc = analyse(s);
    for (size_t d = 0; d < LOCO_SWARM_MAX_DOMAINS; d++) {
        loco_adapter_free(w.adapter[d]);
        loco_contam_index_free(w.contam[d]);
    }
    for (size_t k = 0; k < w.n_routers; k++)
        loco_router_close(w.router[k]);
    if (rc)
        loco_swarm_free(s);
    else
        *out = s;
    return rc;
}

void loco_swarm_free(struct loco_swarm *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_items; i++)
        free(s->items[i].id);
    free(s->items);
    free(s);
}
