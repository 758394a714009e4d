/*
 * cli-route.c - routing a question for ask and chat.
 */
#include "cli-route.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

bool cli_router_open(struct cli_router *cr, const struct cli_engine *e, const char *name)
{
    *cr = (struct cli_router){0};
    struct loco_registry_params rp = loco_registry_default_params();
    cr->reg = loco_registry_load(&rp);
    if (!cr->reg) {
        cli_fail("routing is off, the base model answers: cannot read the registry");
        return false;
    }
    struct loco_router_env env = {.reg = cr->reg, .model = e->model};
    cr->router = loco_router_open(&env, name);
    if (!cr->router) {
        cli_fail("cannot open the router");
        loco_registry_free(cr->reg);
        cr->reg = NULL;
        return false;
    }
    return true;
}

void cli_router_close(struct cli_router *cr)
{
    loco_router_close(cr->router);
    loco_registry_free(cr->reg);
    *cr = (struct cli_router){0};
}

/* The domain's next adapter after d->adapter in the serving order (active,
 * then candidates that passed their gate, then the others, each by primary
 * score), or NULL. */
static const struct loco_registry_adapter *next_adapter(const struct loco_registry *reg,
                                                        const struct loco_route_decision *d)
{
    double cur_key = INFINITY, best_key = -INFINITY;
    const struct loco_registry_adapter *best = NULL;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < loco_registry_n_adapters(reg); i++) {
            const struct loco_registry_adapter *a = loco_registry_adapter_at(reg, i);
            if (strcmp(a->domain, d->domain) || a->status == LOCO_REGISTRY_RETIRED)
                continue;
            const struct loco_registry_score *s = loco_registry_primary_score(reg, a);
            double key = (a->status == LOCO_REGISTRY_ACTIVE ? 100.0 : 0.0) +
                         (s && s->passed ? 10.0 : 0.0) + (s ? s->score : -1.0);
            if (pass == 0 && !strcmp(a->name, d->adapter))
                cur_key = key;
            else if (pass == 1 && strcmp(a->name, d->adapter) && key < cur_key && key > best_key) {
                best = a;
                best_key = key;
            }
        }
    return best;
}

bool cli_route_apply(struct cli_router *cr, struct cli_engine *e, const char *query,
                     struct loco_route_decision *d)
{
    if (loco_route(cr->router, query, d) != LOCO_OK) {
        cli_fail("routing failed");
        return false;
    }
    if (d->adapter[0] && cli_engine_use_adapters(e, d->adapter_path))
        return true;
    if (d->adapter[0]) { /* cli_engine_use_adapters said why; try the domain's others */
        fprintf(stderr, "loco: the router chose %s, which does not load here\n", d->adapter);
        const struct loco_registry_adapter *next = NULL;
        for (int tries = 0; tries < 8 && (next = next_adapter(cr->reg, d)) != NULL; tries++) {
            size_t len = strlen(d->reason);
            snprintf(d->reason + len, sizeof d->reason - len, "; %s failed to load: %s",
                     d->adapter, next->name);
            snprintf(d->adapter, sizeof d->adapter, "%s", next->name);
            snprintf(d->adapter_path, sizeof d->adapter_path, "%s", next->path);
            if (cli_engine_use_adapters(e, next->path))
                return true;
            fprintf(stderr, "loco: %s does not load here either\n", next->name);
        }
        fprintf(stderr, "loco: the base model answers\n");
        size_t len = strlen(d->reason);
        snprintf(d->reason + len, sizeof d->reason - len, "; %s failed to load: base model",
                 d->adapter);
        d->adapter[0] = d->adapter_path[0] = '\0';
    }
    return cli_engine_use_adapters(e, "");
}

const char *cli_route_label(const struct loco_route_decision *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "[%s \xc2\xb7 %.2f]", d->adapter[0] ? d->adapter : "base model",
             d->confidence);
    return buf;
}
