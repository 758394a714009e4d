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
    enum loco_serve_mode serve; /* which adapters may answer (loco/router.h, serving) */
};

/* Open the registry (project + overlay, or the file `registry` alone when
 * not NULL: --registry FILE) and the router `name` (NULL: the registry's),
 * serving adapters under `serve` (LOCO_SERVE_REGISTRY: the registry's
 * serve_candidates). On failure prints why and returns false: the caller
 * answers with the base model, unless a router or registry was named. */
bool cli_router_open(struct cli_router *cr, const struct cli_engine *e, const char *name,
                     enum loco_serve_mode serve, const char *registry);
/* loco_router_open, but when no router was asked for (name NULL) and the
 * registry's router cannot be used here (e.g. a classifier file made for
 * another model), says so on stderr and opens the keyword router instead. */
struct loco_router *cli_router_open_or_keyword(const struct loco_router_env *env, const char *name);
void cli_router_close(struct cli_router *cr);
/* Print a routing benchmark's per-domain precision/recall/F1 table and its
 * confusion matrix (Markdown) to stdout: loco route --bench, router loso. */
void cli_print_route_tables(const struct loco_route_bench *b);

/* Route `query` and apply the decision to e's sequence 0 (its adapter, or
 * none for the base model). An adapter that cannot be loaded for this model
 * is reported and the domain's next adapter in its serving order is tried
 * (loco_serving_order: proven adapters only, unless serve_candidates), then
 * the base model; d->adapter ends up naming the one in use ("" for the base
 * model), d->serving why, and d->reason tells the chain. */
bool cli_route_apply(struct cli_router *cr, struct cli_engine *e, const char *query,
                     struct loco_route_decision *d);
/* cli_route_apply's choice without an engine: use(user, path) is called
 * with the chosen adapter's file ("none" for the base model) and says
 * whether it could be used; on false the serving order is walked as above.
 * (loco serve loads the adapter for its request instead.) */
typedef bool (*cli_route_use_fn)(void *user, const char *path);
bool cli_route_choose(struct cli_router *cr, const char *query, struct loco_route_decision *d,
                      cli_route_use_fn use, void *user);

/* "[math · 0.93]", "[base model · 0.71]", or when the domain's adapters may
 * not or cannot answer "[math -> base model: no adapter has passed its
 * gate]"; an unproven candidate served: "[math (has not passed its gate) ·
 * 0.93]". Into buf. */
const char *cli_route_label(const struct loco_route_decision *d, char *buf, size_t cap);
/* The serving part of the decision as fields of a JSON object:
 * "serving" (loco_serve_reason_name) and "serving_text". */
struct cJSON;
void cli_route_serving_json(struct cJSON *obj, const struct loco_route_decision *d);
/* The decision as obj's "route" object (--json of ask): router, domain,
 * adapter (null for the base model), confidence, probabilities, the
 * serving fields, reason and ms. */
void cli_route_json(struct cJSON *obj, const struct loco_route_decision *d);
/* The --serve-candidates option row (cli/opt.h) for ask, chat, route and eval. */
#define CLI_SERVE_OPTION(dest)                                                                     \
    CLI_OPT_FLAG(0, "serve-candidates", dest,                                                      \
                 "let candidates that have not passed their gate answer\n"                         \
                 "(default: the registry's serve_candidates; otherwise a\n"                        \
                 "domain without a proven adapter gets the base model)")

/* ---- strategies (loco/strategy.h) for ask and chat ------------------------ */

#include "loco/strategy.h"

/* The --strategy option row for ask and chat. */
#define CLI_STRATEGY_OPTION(dest)                                                                  \
    CLI_OPT_STRING(0, "strategy", dest, "S",                                                       \
                   "answer with strategy S: plain, re2, calc, re2+calc,\n"                         \
                   "sc:K, usc:K (K sampled answers, one chosen), ensemble[:N]\n"                   \
                   "(the routed domain's adapters vote)\n"                                         \
                   "(default: the routed domain's strategy in the registry,\n"                     \
                   "else plain; docs/strategies.md)")

/* The strategy of a request: `given` (--strategy, /strategy) when not NULL,
 * else the routed domain's registry default (cr open and d not NULL), else
 * plain. On a bad name prints why and returns false. */
bool cli_strategy_choose(const char *given, const struct cli_router *cr,
                         const struct loco_route_decision *d, struct loco_strategy *st);
/* The user message under st: the re2 prompt for re2, else a copy of q.
 * malloc'd; NULL when out of memory. */
char *cli_strategy_message(const struct loco_strategy *st, const char *q);
/* Add " · calc" before the closing ']' of a label like "[math · 0.93]"
 * (nothing for plain); returns buf. */
const char *cli_strategy_label(const struct loco_strategy *st, char *buf, size_t cap);

#endif
