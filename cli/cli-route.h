/*
 * cli-route.h - routing a question for ask and chat: pick the adapter with
 * the registry's router and put it on sequence 0.
 */
#ifndef LOCO_CLI_ROUTE_H
#define LOCO_CLI_ROUTE_H

#include <stdbool.h>

#include "cli-engine.h"
#include "loco/router.h"

struct cli_router {
    struct loco_registry *reg;
    struct loco_router *router;
};

/* Open the registry (project + overlay) and the router `name` (NULL: the
 * registry's). On failure prints why and returns false: the caller answers
 * with the base model. */
bool cli_router_open(struct cli_router *cr, const struct cli_engine *e, const char *name);
void cli_router_close(struct cli_router *cr);

/* Route `query` and apply the decision to e's sequence 0 (its adapter, or
 * none for the base model). An adapter that cannot be loaded for this model
 * is reported and the domain's next adapter is tried (active, then the
 * candidates by score), then the base model; d->adapter ends up naming the
 * one in use ("" for the base model) and d->reason tells the chain. */
bool cli_route_apply(struct cli_router *cr, struct cli_engine *e, const char *query,
                     struct loco_route_decision *d);

/* "[math · 0.93]" or "[base model · 0.71]" into buf. */
const char *cli_route_label(const struct loco_route_decision *d, char *buf, size_t cap);

#endif
