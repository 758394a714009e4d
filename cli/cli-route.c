/*
 * cli-route.c - routing a question for ask and chat: the router picks the
 * domain, the serving rule (loco/router.h) the adapter, and this file puts
 * it on the engine, walking the domain's serving order when one does not
 * load.
 */
#include "cli-route.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

bool cli_router_open(struct cli_router *cr, const struct cli_engine *e, const char *name,
                     enum loco_serve_mode serve, const char *registry)
{
    *cr = (struct cli_router){.serve = serve};
    struct loco_registry_params rp = cli_registry_params(registry);
    cr->reg = loco_registry_load(&rp);
    if (!cr->reg) {
        cli_fail(registry ? "cannot read the registry"
                          : "routing is off, the base model answers: cannot read the registry");
        return false;
    }
    struct loco_router_env env = {.reg = cr->reg,
                                  .model = e->model,
                                  .serve = (int)serve,
                                  .n_threads = loco_context_params(e->ctx).n_threads};
    cr->router = cli_router_open_or_keyword(&env, name);
    if (!cr->router) {
        cli_fail("cannot open the router");
        loco_registry_free(cr->reg);
        cr->reg = NULL;
        return false;
    }
    return true;
}

struct loco_router *cli_router_open_or_keyword(const struct loco_router_env *env, const char *name)
{
    struct loco_router *r = loco_router_open(env, name);
    if (r || name)
        return r;
    const char *chosen = loco_registry_router(env->reg);
    if (!chosen[0] || !strcmp(chosen, "keyword"))
        return NULL;
    cli_errorf("the registry's router '%s' cannot be used here (%s); routing with "
               "keyword instead",
               chosen, loco_error_message());
    return loco_router_open(env, "keyword");
}

void cli_print_route_tables(const struct loco_route_bench *b)
{
    printf("| domain | precision | recall | F1 | items |\n|---|---:|---:|---:|---:|\n");
    for (size_t l = 0; l < b->n_labels; l++)
        printf("| %s | %.3f | %.3f | %.3f | %zu |\n", b->labels[l], b->precision[l], b->recall[l],
               b->f1[l], b->support[l]);
    printf("\nconfusion (rows: true domain, columns: chosen)\n\n| |");
    for (size_t c = 0; c < b->n_labels; c++)
        printf(" %s |", b->labels[c]);
    printf("\n|---|");
    for (size_t c = 0; c < b->n_labels; c++)
        printf("---:|");
    printf("\n");
    for (size_t t = 0; t < b->n_labels; t++) {
        printf("| %s |", b->labels[t]);
        for (size_t c = 0; c < b->n_labels; c++)
            printf(" %zu |", b->confusion[t][c]);
        printf("\n");
    }
}

void cli_router_close(struct cli_router *cr)
{
    loco_router_close(cr->router);
    loco_registry_free(cr->reg);
    *cr = (struct cli_router){0};
}

static void append_reason(struct loco_route_decision *d, const char *what, const char *name)
{
    size_t len = strlen(d->reason);
    snprintf(d->reason + len, sizeof d->reason - len, "; %s failed to load: %s", what, name);
}

/* The chosen adapter did not load: the next ones in the domain's serving
 * order, then the base model. */
static bool fall_back(struct cli_router *cr, struct loco_route_decision *d, cli_route_use_fn use,
                      void *user)
{
    const struct loco_registry_adapter *order[8];
    size_t n = loco_serving_order(cr->reg, d->domain, cr->serve, order, 8);
    bool past = false; /* the ones before the chosen adapter were not chosen: skip them */
    for (size_t k = 0; k < n && k < 8; k++) {
        if (!past) {
            past = !strcmp(order[k]->name, d->adapter);
            continue;
        }
        append_reason(d, d->adapter, order[k]->name);
        snprintf(d->adapter, sizeof d->adapter, "%s", order[k]->name);
        snprintf(d->adapter_path, sizeof d->adapter_path, "%s", order[k]->path);
        d->serving = order[k]->status == LOCO_REGISTRY_ACTIVE ? LOCO_SERVE_ACTIVE
                     : loco_serving_passed(cr->reg, order[k]) ? LOCO_SERVE_PASSED
                                                              : LOCO_SERVE_UNPROVEN;
        if (use(user, order[k]->path))
            return true;
        cli_errorf("%s does not load here either", order[k]->name);
    }
    cli_errorf("the base model answers");
    append_reason(d, d->adapter, "base model");
    d->adapter[0] = d->adapter_path[0] = '\0';
    d->serving = LOCO_SERVE_BASE_NOT_LOADED;
    return use(user, "none");
}

bool cli_route_choose(struct cli_router *cr, const char *query, struct loco_route_decision *d,
                      cli_route_use_fn use, void *user)
{
    if (loco_route(cr->router, query, d) != LOCO_OK) {
        cli_fail("routing failed");
        return false;
    }
    if (!d->adapter[0])
        return use(user, "none");
    if (use(user, d->adapter_path))
        return true;
    /* use said why; try the domain's others */
    cli_errorf("the router chose %s, which does not load here", d->adapter);
    return fall_back(cr, d, use, user);
}

static bool use_on_engine(void *user, const char *path)
{
    return cli_engine_use_adapters(user, path);
}

bool cli_route_apply(struct cli_router *cr, struct cli_engine *e, const char *query,
                     struct loco_route_decision *d)
{
    return cli_route_choose(cr, query, d, use_on_engine, e);
}

const char *cli_route_label(const struct loco_route_decision *d, char *buf, size_t cap)
{
    bool to_base = !d->adapter[0] && strcmp(d->domain, LOCO_ROUTE_BASE) &&
                   d->serving != LOCO_SERVE_BASE_ROUTED;
    if (to_base)
        snprintf(buf, cap, "[%s -> base model: %s]", d->domain,
                 loco_serve_reason_text((enum loco_serve_reason)d->serving));
    else if (d->serving == LOCO_SERVE_UNPROVEN)
        snprintf(buf, cap, "[%s (has not passed its gate) \xc2\xb7 %.2f]", d->adapter,
                 d->confidence);
    else
        snprintf(buf, cap, "[%s \xc2\xb7 %.2f]", d->adapter[0] ? d->adapter : "base model",
                 d->confidence);
    return buf;
}

void cli_route_json(struct cJSON *obj, const struct loco_route_decision *d)
{
    cJSON *rt = cJSON_AddObjectToObject(obj, "route");
    cJSON_AddStringToObject(rt, "router", d->router);
    cJSON_AddStringToObject(rt, "domain", d->domain);
    if (d->adapter[0])
        cJSON_AddStringToObject(rt, "adapter", d->adapter);
    else
        cJSON_AddNullToObject(rt, "adapter");
    cJSON_AddNumberToObject(rt, "confidence", d->confidence);
    cJSON *p = cJSON_AddObjectToObject(rt, "probabilities");
    for (size_t i = 0; i < d->n; i++)
        cJSON_AddNumberToObject(p, d->names[i], d->prob[i]);
    cli_route_serving_json(rt, d);
    cJSON_AddStringToObject(rt, "reason", d->reason);
    cJSON_AddNumberToObject(rt, "ms", d->ms);
}

void cli_route_serving_json(struct cJSON *obj, const struct loco_route_decision *d)
{
    enum loco_serve_reason r = (enum loco_serve_reason)d->serving;
    cJSON_AddStringToObject(obj, "serving", loco_serve_reason_name(r));
    cJSON_AddStringToObject(obj, "serving_text", loco_serve_reason_text(r));
}

bool cli_strategy_choose(const char *given, const struct cli_router *cr,
                         const struct loco_route_decision *d, struct loco_strategy *st)
{
    const char *from = given;
    if (!from && cr && cr->reg && d) {
        const struct loco_registry_domain *dom = loco_registry_find_domain(cr->reg, d->domain);
        from = dom && dom->strategy[0] ? dom->strategy : NULL;
    }
    if (!from) {
        *st = (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
        return true;
    }
    if (loco_strategy_parse(from, st) == LOCO_OK)
        return true;
    cli_fail(given ? "--strategy" : "the domain's strategy in the registry");
    return false;
}

char *cli_strategy_message(const struct loco_strategy *st, const char *q)
{
    return loco_strategy_rereads(st) ? loco_strategy_re2_prompt(q) : strdup(q);
}

const char *cli_strategy_label(const struct loco_strategy *st, char *buf, size_t cap)
{
    size_t len = strlen(buf);
    if (st->kind == LOCO_STRATEGY_PLAIN || len == 0 || buf[len - 1] != ']')
        return buf;
    char name[LOCO_STRATEGY_NAME_MAX];
    snprintf(buf + len - 1, cap - (len - 1), " \xc2\xb7 %s]", loco_strategy_name(st, name, sizeof name));
    return buf;
}
