/*
 * arrow.c - the zero-shot router: no examples, no training, only the
 * adapters' own weights (Arrow routing, Ostapenko et al. 2024, "Towards
 * Modular LLMs by Building and Reusing a Library of LoRAs").
 *
 * Each domain's serving adapter contributes, per layer, the input direction
 * its update to the query projection stretches most (the top right
 * singular vector of B A, loco_adapter_direction). A query is run through
 * the base model once; at every layer and token, the attention input h is
 * compared with each adapter's direction of that layer, |cos(h, v)| (the
 * sign of a singular vector is arbitrary), a softmax over the adapters at
 * temperature LOCO_ARROW_TEMPERATURE turns those into weights, and a
 * domain's probability is its mean weight over layers and tokens. An
 * adapter installed a minute ago is routable at once. Arrow has no "none of
 * them": the base model's probability is 0; wrap it (confidence:arrow) to
 * send unsure queries to the base model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/lora.h"
#include "loco/model.h"
#include "loco/tokenizer.h"
#include "router/router_internal.h"

struct arrow_state {
    const struct loco_model *m;
    struct loco_context *ctx;
    int32_t n_layer, n_embd;
    size_t nd;                       /* the registry's domains */
    bool has[LOCO_ROUTE_MAX_DOMAINS]; /* the domain has a usable adapter */
    float *dir;                      /* [nd][n_layer][n_embd], unit vectors */
    float *capture;                  /* [n_layer][LOCO_ROUTER_EMBED_TOKENS][n_embd] */
    size_t n_adapters;
    char skipped[160];               /* adapters that did not load, for the reason */
};

static void arrow_free(void *state)
{
    struct arrow_state *s = state;
    if (!s)
        return;
    loco_context_free(s->ctx);
    free(s->dir);
    free(s->capture);
    free(s);
}

/* Fill dir[n_layer][n_embd] from the adapter's update to q, or to the first
 * projection it adapts in every layer. */
static int adapter_dirs(const struct loco_adapter *a, int32_t n_layer, int32_t n_embd, float *dir)
{
    static const enum loco_lora_target order[] = {LOCO_LORA_Q, LOCO_LORA_K, LOCO_LORA_V,
                                                  LOCO_LORA_GATE, LOCO_LORA_UP};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        int rc = LOCO_OK;
        for (int32_t l = 0; l < n_layer && rc == LOCO_OK; l++)
            rc = loco_adapter_direction(a, l, order[k], dir + (size_t)l * (size_t)n_embd, NULL);
        if (rc == LOCO_OK)
            return LOCO_OK;
    }
    return LOCO_ERR_NOT_FOUND;
}

static int arrow_init(const struct loco_router_env *env, void **state)
{
    if (!env->model)
        return loco_error_set(LOCO_ERR_INVALID, "the arrow router reads the base model's hidden "
                              "states and the adapters' weights: load the model first");
    const struct loco_hparams *hp = loco_model_hparams(env->model);
    struct arrow_state *s = calloc(1, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the arrow router");
    s->m = env->model;
    s->n_layer = hp->n_layer;
    s->n_embd = hp->n_embd;
    s->nd = loco_registry_n_domains(env->reg);
    size_t per = (size_t)s->n_layer * (size_t)s->n_embd;
    s->dir = calloc(s->nd * per, sizeof *s->dir);
    s->capture = malloc(per * LOCO_ROUTER_EMBED_TOKENS * sizeof *s->capture);
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = LOCO_ROUTER_EMBED_TOKENS;
    cp.n_seq = 1;
    cp.n_batch = LOCO_ROUTER_EMBED_TOKENS;
    if (env->n_threads > 0)
        cp.n_threads = env->n_threads;
    s->ctx = loco_context_init(env->model, cp);
    if (!s->dir || !s->capture || !s->ctx) {
        arrow_free(s);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the arrow router");
    }
    size_t used = 0;
    for (size_t d = 0; d < s->nd; d++) {
        const char *dom = loco_registry_domain_at(env->reg, d)->name;
        const struct loco_registry_adapter *ra = loco_route_adapter_for(env->reg, dom, NULL);
        struct loco_adapter *a = ra ? loco_adapter_load(ra->path, env->model) : NULL;
        if (a && adapter_dirs(a, s->n_layer, s->n_embd, s->dir + d * per) == LOCO_OK) {
            s->has[d] = true;
            s->n_adapters++;
        } else if (ra) {
            int n = snprintf(s->skipped + used, sizeof s->skipped - used, "%s%s",
                             used ? ", " : "", ra->name);
            if (n > 0 && (size_t)n < sizeof s->skipped - used)
                used += (size_t)n;
        }
        loco_adapter_free(a);
    }
    if (s->n_adapters == 0) {
        arrow_free(s);
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no domain has an adapter that loads for this "
                              "model: the arrow router has nothing to route to");
    }
    *state = s;
    return LOCO_OK;
}

static int arrow_score(void *state, const char *query, struct loco_route_decision *d)
{
    struct arrow_state *s = state;
    int32_t *toks = NULL;
    size_t n = 0;
    int rc = loco_tokenizer_encode(loco_model_tokenizer(s->m), query, strlen(query), true, false,
                                   &toks, &n);
    if (rc)
        return rc;
    if (n > LOCO_ROUTER_EMBED_TOKENS)
        n = LOCO_ROUTER_EMBED_TOKENS;
    int32_t *pos = malloc((n ? n : 1) * sizeof *pos), *seq = calloc(n ? n : 1, sizeof *seq);
    bool *want = calloc(n ? n : 1, sizeof *want);
    if (!pos || !seq || !want)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory routing a query");
    for (size_t i = 0; i < n && !rc; i++)
        pos[i] = (int32_t)i;
    loco_context_seq_clear(s->ctx, 0);
    loco_context_capture(s->ctx, s->capture, LOCO_ROUTER_EMBED_TOKENS);
    if (!rc && n) {
        struct loco_batch b = {(int32_t)n, toks, pos, seq, want};
        rc = loco_decode(s->ctx, &b);
    }
    loco_context_capture(s->ctx, NULL, 0);
    loco_context_seq_clear(s->ctx, 0);
    double acc[LOCO_ROUTE_MAX_DOMAINS] = {0};
    size_t per = (size_t)s->n_layer * (size_t)s->n_embd;
    for (int32_t l = 0; l < s->n_layer && !rc; l++)
        for (size_t t = 0; t < n; t++) {
            const float *h = s->capture + ((size_t)l * LOCO_ROUTER_EMBED_TOKENS + t) *
                                              (size_t)s->n_embd;
            double hn = 0, cs[LOCO_ROUTE_MAX_DOMAINS], mx = -INFINITY, sum = 0;
            for (int32_t j = 0; j < s->n_embd; j++)
                hn += (double)h[j] * h[j];
            hn = sqrt(hn) + 1e-12;
            for (size_t k = 0; k < s->nd; k++) {
                if (!s->has[k])
                    continue;
                const float *v = s->dir + k * per + (size_t)l * (size_t)s->n_embd;
                double dot = 0;
                for (int32_t j = 0; j < s->n_embd; j++)
                    dot += (double)h[j] * v[j];
                cs[k] = fabs(dot) / hn / LOCO_ARROW_TEMPERATURE;
                mx = cs[k] > mx ? cs[k] : mx;
            }
            for (size_t k = 0; k < s->nd; k++)
                if (s->has[k])
                    sum += cs[k] = exp(cs[k] - mx);
            for (size_t k = 0; k < s->nd; k++)
                if (s->has[k])
                    acc[k] += cs[k] / sum;
        }
    free(toks);
    free(pos);
    free(seq);
    free(want);
    if (rc)
        return rc;
    double total = (double)s->n_layer * (double)(n ? n : 1);
    size_t best = 0;
    for (size_t k = 0; k < d->n; k++) {
        d->prob[k] = k < s->nd && s->has[k] ? acc[k] / total : 0.0; /* base: 0 */
        if (d->prob[k] > d->prob[best])
            best = k;
    }
    if (n == 0) { /* nothing to read: the base model */
        for (size_t k = 0; k < d->n; k++)
            d->prob[k] = strcmp(d->names[k], LOCO_ROUTE_BASE) ? 0.0 : 1.0;
        snprintf(d->reason, sizeof d->reason, "zero-shot (adapter weights): an empty query");
        return LOCO_OK;
    }
    snprintf(d->reason, sizeof d->reason,
             "zero-shot from the adapters' weights over %d layers x %zu tokens: %s %.2f "
             "(%zu adapters%s%s)",
             s->n_layer, n, d->names[best], d->prob[best], s->n_adapters,
             s->skipped[0] ? "; not loaded: " : "", s->skipped);
    return LOCO_OK;
}

const struct loco_router_ops router_arrow_ops = {
    .name = "arrow",
    .summary = "zero-shot from the adapters' weights (Arrow): no examples, no training",
    .needs_model = true,
    .init = arrow_init,
    .score = arrow_score,
    .free = arrow_free,
};
