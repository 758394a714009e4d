/*
 * cli-route.c - routing a question for ask and chat.
 */
#include "cli-route.h"

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

bool cli_route_apply(struct cli_router *cr, struct cli_engine *e, const char *query,
                     struct loco_route_decision *d)
{
    if (loco_route(cr->router, query, d) != LOCO_OK) {
        cli_fail("routing failed");
        return false;
    }
    if (d->adapter[0] && cli_engine_use_adapters(e, d->adapter_path))
        return true;
    if (d->adapter[0]) { /* cli_engine_use_adapters said why */
        fprintf(stderr, "loco: the router chose %s, which does not load here; the base model "
                        "answers\n", d->adapter);
        size_t len = strlen(d->reason);
        snprintf(d->reason + len, sizeof d->reason - len, "; adapter %s failed to load: base "
                 "model", d->adapter);
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
