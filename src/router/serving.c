/*
 * serving.c - which adapter answers a domain: only proven ones by default.
 *
 * A router picks a domain; this module picks the adapter that answers for
 * it. An adapter is proven when it is the domain's active one (promotion
 * with `loco promote --best` refuses adapters that failed their gate) or a
 * candidate that `promote --best` would accept: its primary-benchmark score
 * passed and none of its other recorded checks (the out-of-domain
 * non-inferiority ones) failed. A domain without a proven adapter is
 * answered by the base model, so an adapter that made things worse never
 * reaches users. `serve_candidates` (registry or flag) restores the old rule:
 * the best candidate serves even when it has not passed.
 */
#include <stdlib.h>
#include <string.h>

#include "loco/router.h"

bool loco_serving_candidates(const struct loco_registry *reg, enum loco_serve_mode mode)
{
    if (mode == LOCO_SERVE_CANDIDATES)
        return true;
    if (mode == LOCO_SERVE_PROVEN)
        return false;
    return reg && loco_registry_serve_candidates(reg);
}

bool loco_serving_passed(const struct loco_registry *reg, const struct loco_registry_adapter *a)
{
    const struct loco_registry_score *primary = loco_registry_primary_score(reg, a);
    if (!primary || !primary->passed)
        return false;
    for (size_t i = 0; i < a->n_scores; i++)
        if (!a->scores[i].passed)
            return false; /* e.g. an out-of-domain check: it harms another domain */
    return true;
}

/* Serving rank: 2 active, 1 passed candidate, 0 unproven candidate. */
static int rank_of(const struct loco_registry *reg, const struct loco_registry_adapter *a)
{
    if (a->status == LOCO_REGISTRY_ACTIVE)
        return 2;
    return loco_serving_passed(reg, a) ? 1 : 0;
}

/* Whether a comes before b: rank, primary score, items, name. */
static bool before(const struct loco_registry *reg, const struct loco_registry_adapter *a,
                   const struct loco_registry_adapter *b)
{
    int ra = rank_of(reg, a), rb = rank_of(reg, b);
    if (ra != rb)
        return ra > rb;
    const struct loco_registry_score *sa = loco_registry_primary_score(reg, a);
    const struct loco_registry_score *sb = loco_registry_primary_score(reg, b);
    double ka = sa ? sa->score : -1e300, kb = sb ? sb->score : -1e300;
    if (ka != kb)
        return ka > kb;
    int64_t na = sa ? sa->n_items : 0, nb = sb ? sb->n_items : 0;
    if (na != nb)
        return na > nb;
    return strcmp(a->name, b->name) < 0;
}

size_t loco_serving_order(const struct loco_registry *reg, const char *domain,
                          enum loco_serve_mode mode, const struct loco_registry_adapter **out,
                          size_t cap)
{
    if (!reg || !domain)
        return 0;
    bool candidates = loco_serving_candidates(reg, mode);
    size_t n = 0;
    for (size_t i = 0; i < loco_registry_n_adapters(reg); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(reg, i);
        if (strcmp(a->domain, domain) || a->status == LOCO_REGISTRY_RETIRED)
            continue;
        if (rank_of(reg, a) == 0 && !candidates)
            continue;
        /* insertion into the sorted prefix that fits in out */
        size_t at = n < cap ? n : cap;
        while (at > 0 && before(reg, a, out[at - 1]))
            at--;
        if (at < cap) {
            size_t last = n < cap ? n : cap - 1;
            memmove(out + at + 1, out + at, (last - at) * sizeof *out);
            out[at] = a;
        }
        n++;
    }
    return n;
}

/* Whether the domain has any adapter that is not retired. */
static bool has_adapter(const struct loco_registry *reg, const char *domain)
{
    for (size_t i = 0; i < loco_registry_n_adapters(reg); i++) {
        const struct loco_registry_adapter *a = loco_registry_adapter_at(reg, i);
        if (!strcmp(a->domain, domain) && a->status != LOCO_REGISTRY_RETIRED)
            return true;
    }
    return false;
}

int loco_serving_choose(const struct loco_registry *reg, const char *domain,
                        enum loco_serve_mode mode, struct loco_serving *out)
{
    if (!reg || !domain || !out)
        return loco_error_set(LOCO_ERR_INVALID, "serving: no registry, domain or result");
    *out = (struct loco_serving){.adapter = NULL, .reason = LOCO_SERVE_BASE_ROUTED};
    if (!strcmp(domain, LOCO_ROUTE_BASE))
        return LOCO_OK;
    const struct loco_registry_adapter *best = NULL;
    if (loco_serving_order(reg, domain, mode, &best, 1) == 0) {
        out->reason =
            has_adapter(reg, domain) ? LOCO_SERVE_BASE_NOT_PASSED : LOCO_SERVE_BASE_NO_ADAPTER;
        return LOCO_OK;
    }
    out->adapter = best;
    int rank = rank_of(reg, best);
    out->reason = rank == 2   ? LOCO_SERVE_ACTIVE
                  : rank == 1 ? LOCO_SERVE_PASSED
                              : LOCO_SERVE_UNPROVEN;
    return LOCO_OK;
}

static const char *const reason_names[] = {
    [LOCO_SERVE_ACTIVE] = "active",
    [LOCO_SERVE_PASSED] = "passed-gate",
    [LOCO_SERVE_UNPROVEN] = "candidate-not-passed",
    [LOCO_SERVE_BASE_NOT_PASSED] = "no-adapter-passed",
    [LOCO_SERVE_BASE_NO_ADAPTER] = "no-adapter",
    [LOCO_SERVE_BASE_ROUTED] = "routed-to-base",
    [LOCO_SERVE_BASE_NOT_LOADED] = "not-loaded",
};

static const char *const reason_texts[] = {
    [LOCO_SERVE_ACTIVE] = "active adapter",
    [LOCO_SERVE_PASSED] = "candidate that passed its gate",
    [LOCO_SERVE_UNPROVEN] = "candidate that has not passed its gate",
    [LOCO_SERVE_BASE_NOT_PASSED] = "no adapter has passed its gate",
    [LOCO_SERVE_BASE_NO_ADAPTER] = "no adapter",
    [LOCO_SERVE_BASE_ROUTED] = "no domain chosen",
    [LOCO_SERVE_BASE_NOT_LOADED] = "no adapter of the domain loads here",
};

const char *loco_serve_reason_name(enum loco_serve_reason r)
{
    return (unsigned)r <= LOCO_SERVE_BASE_NOT_LOADED ? reason_names[r] : "unknown";
}

const char *loco_serve_reason_text(enum loco_serve_reason r)
{
    return (unsigned)r <= LOCO_SERVE_BASE_NOT_LOADED ? reason_texts[r] : "unknown";
}
