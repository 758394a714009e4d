/*
 * router.c - the table of routers, opening one by name, and turning a
 * router's probabilities into a decision: the domain, the adapter that
 * serves it, the confidence and the reason.
 */
#include "loco/router.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/generate.h" /* loco_time_ms */
#include "router/router_internal.h"

/* One line per router; docs/routers.md shows how to add one. */
static const struct loco_router_ops *const routers[] = {
    &router_keyword_ops,
    &router_classifier_ops,
    &router_arrow_ops,
    &router_learned_ops,
    NULL,
};

struct loco_router {
    const struct loco_router_ops *ops;
    void *state;
    const struct loco_registry *reg;
    /* a confidence wrapper: the wrapped router and its thresholds */
    struct loco_router *inner;
    struct loco_confidence conf;
    char name[LOCO_ROUTE_NAME_MAX];
    enum loco_serve_mode serve; /* which adapters may answer (serving.c) */
};

int router_file_path(const struct loco_registry *reg, const char *env, const char *name,
                     char *buf, size_t cap)
{
    const char *value = getenv(env);
    int n;
    if (value && value[0])
        n = snprintf(buf, cap, "%s", value);
    else {
        const char *file = loco_registry_file(reg);
        const char *slash = strrchr(file, '/');
        n = slash ? snprintf(buf, cap, "%.*s/%s", (int)(slash - file), file, name)
                  : snprintf(buf, cap, "%s", name);
    }
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the path of %s is too long", name);
    return LOCO_OK;
}

const struct loco_router_ops *const *loco_router_list(void)
{
    return routers;
}

const struct loco_router_ops *loco_router_find(const char *name)
{
    char known[256] = "";
    size_t used = 0;
    for (size_t i = 0; routers[i]; i++) {
        if (name && !strcmp(routers[i]->name, name))
            return routers[i];
        int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         routers[i]->name);
        if (n > 0 && (size_t)n < sizeof known - used)
            used += (size_t)n;
    }
    loco_error_set(LOCO_ERR_NOT_FOUND, "no router named '%s' (known: %s)", name ? name : "",
                   known);
    return NULL;
}

static struct loco_router *open_confidence(const struct loco_router_env *env, const char *name,
                                           const char *inner_name)
{
    if (!inner_name[0] || !strncmp(inner_name, LOCO_CONFIDENCE_PREFIX,
                                   strlen(LOCO_CONFIDENCE_PREFIX))) {
        loco_error_set(LOCO_ERR_INVALID, "'%s': wrap one router, e.g. confidence:keyword", name);
        return NULL;
    }
    struct loco_router *r = calloc(1, sizeof *r);
    if (!r) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory opening router %s", name);
        return NULL;
    }
    r->reg = env->reg;
    r->serve = (enum loco_serve_mode)env->serve;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->inner = loco_router_open(env, inner_name);
    if (!r->inner || loco_confidence_get(env->reg, loco_router_name(r->inner), &r->conf, NULL)) {
        loco_router_close(r->inner);
        free(r);
        return NULL;
    }
    return r;
}

struct loco_router *loco_router_open(const struct loco_router_env *env, const char *name)
{
    if (!env || !env->reg) {
        loco_error_set(LOCO_ERR_INVALID, "a router needs the registry");
        return NULL;
    }
    if (!name || !name[0])
        name = loco_registry_router(env->reg);
    if (!name[0])
        name = "keyword";
    size_t plen = strlen(LOCO_CONFIDENCE_PREFIX);
    if (!strncmp(name, LOCO_CONFIDENCE_PREFIX, plen))
        return open_confidence(env, name, name + plen);
    const struct loco_router_ops *ops = loco_router_find(name);
    if (!ops)
        return NULL;
    if (loco_registry_n_domains(env->reg) > LOCO_ROUTE_MAX_DOMAINS) {
        loco_error_set(LOCO_ERR_RANGE, "the registry has %zu domains; routers take at most %d",
                       loco_registry_n_domains(env->reg), LOCO_ROUTE_MAX_DOMAINS);
        return NULL;
    }
    struct loco_router *r = calloc(1, sizeof *r);
    if (!r) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory opening router %s", name);
        return NULL;
    }
    r->ops = ops;
    r->reg = env->reg;
    r->serve = (enum loco_serve_mode)env->serve;
    snprintf(r->name, sizeof r->name, "%s", ops->name);
    if (ops->init(env, &r->state) != LOCO_OK) {
        loco_error_prefix("router %s", name);
        free(r);
        return NULL;
    }
    return r;
}

void loco_router_close(struct loco_router *r)
{
    if (!r)
        return;
    if (r->inner)
        loco_router_close(r->inner);
    else if (r->ops->free)
        r->ops->free(r->state);
    free(r);
}

const char *loco_router_name(const struct loco_router *r)
{
    return r->name;
}

bool loco_router_needs_model(const char *name)
{
    size_t plen = strlen(LOCO_CONFIDENCE_PREFIX);
    if (name && !strncmp(name, LOCO_CONFIDENCE_PREFIX, plen))
        name += plen;
    for (size_t i = 0; routers[i]; i++)
        if (name && !strcmp(routers[i]->name, name))
            return routers[i]->needs_model;
    return false;
}

const struct loco_registry_adapter *loco_route_adapter_for(const struct loco_registry *reg,
                                                           const char *domain,
                                                           const char **why_out)
{
    static const char *const why[] = {
        [LOCO_SERVE_ACTIVE] = "active",
        [LOCO_SERVE_PASSED] = "candidate (passed its gate)",
        [LOCO_SERVE_UNPROVEN] = "candidate (has not passed its gate)",
        [LOCO_SERVE_BASE_NOT_PASSED] = "no adapter has passed its gate",
        [LOCO_SERVE_BASE_NO_ADAPTER] = "no adapter",
        [LOCO_SERVE_BASE_ROUTED] = "no adapter",
        [LOCO_SERVE_BASE_NOT_LOADED] = "no adapter",
    };
    struct loco_serving s;
    if (loco_serving_choose(reg, domain, LOCO_SERVE_REGISTRY, &s) != LOCO_OK)
        return NULL;
    if (why_out)
        *why_out = why[s.reason];
    return s.adapter;
}

/* Put the serving adapter of d->domain (or the base model) into d. */
static void route_serve(const struct loco_router *r, struct loco_route_decision *d)
{
    struct loco_serving s = {NULL, LOCO_SERVE_BASE_ROUTED};
    loco_serving_choose(r->reg, d->domain, r->serve, &s);
    d->serving = (int)s.reason;
    d->adapter[0] = d->adapter_path[0] = '\0';
    if (s.adapter) {
        snprintf(d->adapter, sizeof d->adapter, "%s", s.adapter->name);
        snprintf(d->adapter_path, sizeof d->adapter_path, "%s", s.adapter->path);
    }
    size_t len = strlen(d->reason);
    const char *sep = len ? "; " : "";
    if (s.reason == LOCO_SERVE_BASE_NOT_PASSED || s.reason == LOCO_SERVE_BASE_NO_ADAPTER)
        snprintf(d->reason + len, sizeof d->reason - len, "%sdomain %s: %s: base model", sep,
                 d->domain, loco_serve_reason_text(s.reason));
    else if (s.reason == LOCO_SERVE_UNPROVEN)
        snprintf(d->reason + len, sizeof d->reason - len,
                 "%s%s has not passed its gate (served: serve_candidates)", sep, d->adapter);
}

int loco_route(struct loco_router *r, const char *query, struct loco_route_decision *d)
{
    if (!r || !query || !d)
        return loco_error_set(LOCO_ERR_INVALID, "route: no router, query or decision");
    double t0 = loco_time_ms();
    if (r->inner) {
        int rc = loco_route(r->inner, query, d);
        if (rc != LOCO_OK)
            return rc;
        loco_confidence_apply(&r->conf, d);
        if (!strcmp(d->domain, LOCO_ROUTE_BASE))
            d->serving = LOCO_SERVE_BASE_ROUTED;
        snprintf(d->router, sizeof d->router, "%s", r->name);
        d->ms = loco_time_ms() - t0;
        return LOCO_OK;
    }
    memset(d, 0, sizeof *d);
    snprintf(d->router, sizeof d->router, "%s", r->ops->name);
    size_t nd = loco_registry_n_domains(r->reg);
    for (size_t i = 0; i < nd; i++)
        snprintf(d->names[i], sizeof d->names[i], "%s", loco_registry_domain_at(r->reg, i)->name);
    snprintf(d->names[nd], sizeof d->names[nd], "%s", LOCO_ROUTE_BASE);
    d->n = nd + 1;
    int rc = r->ops->score(r->state, query, d);
    if (rc != LOCO_OK)
        return rc;
    /* normalise (a router may hand back unnormalised non-negative weights) */
    double sum = 0;
    for (size_t i = 0; i < d->n; i++)
        sum += d->prob[i] > 0 && isfinite(d->prob[i]) ? d->prob[i] : 0;
    size_t top = nd; /* base unless something wins */
    for (size_t i = 0; i < d->n; i++) {
        d->prob[i] = sum > 0 ? (d->prob[i] > 0 && isfinite(d->prob[i]) ? d->prob[i] / sum : 0)
                             : (i == nd ? 1.0 : 0.0);
        if (d->prob[i] > d->prob[top])
            top = i;
    }
    if (!d->domain[0]) /* the router may have decided itself (margin rules) */
        snprintf(d->domain, sizeof d->domain, "%s", d->names[top]);
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], d->domain))
            d->confidence = d->prob[i];
    route_serve(r, d);
    d->ms = loco_time_ms() - t0;
    return LOCO_OK;
}
