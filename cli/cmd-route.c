/*
 * cmd-route.c - `loco route "query"`: the router's decision with every
 * domain's probability; `loco route --bench FILE`: accuracy, per-domain
 * precision/recall/F1, confusion matrix, calibration and latency.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-engine.h"
#include "cli-route.h"
#include "commands.h"
#include "loco/registry.h"
#include "loco/router.h"

static const char route_usage[] =
    "usage: loco route \"QUERY\" [options]\n"
    "       loco route --bench FILE.jsonl [options]\n"
    "       loco route --list\n\n"
    "Shows which domain and adapter the router picks for a query, with every\n"
    "domain's probability, the confidence and the reason. --bench scores the router\n"
    "on labelled queries (JSONL: {\"query\": ..., \"domain\": ...}; domain \"base\" for\n"
    "none): accuracy with its Wilson 95% interval, per-domain precision/recall/F1,\n"
    "the confusion matrix, expected calibration error and latency per query. To\n"
    "measure on sources a router has never seen: loco router loso.\n\n"
    "options:\n";

static void print_decision(const struct loco_route_decision *d)
{
    enum loco_serve_reason sr = (enum loco_serve_reason)d->serving;
    if (d->adapter[0])
        printf("%s: adapter %s (%s), confidence %.2f (router %s)\n", d->domain, d->adapter,
               loco_serve_reason_text(sr), d->confidence, d->router);
    else if (sr != LOCO_SERVE_BASE_ROUTED)
        printf("%s: base model (%s), confidence %.2f (router %s)\n", d->domain,
               loco_serve_reason_text(sr), d->confidence, d->router);
    else
        printf("%s: base model, confidence %.2f (router %s)\n", d->domain, d->confidence,
               d->router);
    printf("reason: %s\n", d->reason);
    for (size_t i = 0; i < d->n; i++)
        printf("  %-16s %.3f%s\n", d->names[i], d->prob[i],
               strcmp(d->names[i], d->domain) ? "" : "  <-");
}

static void print_decision_json(const struct loco_route_decision *d, const char *query)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "query", query);
    cJSON_AddStringToObject(j, "router", d->router);
    cJSON_AddStringToObject(j, "domain", d->domain);
    if (d->adapter[0])
        cJSON_AddStringToObject(j, "adapter", d->adapter);
    else
        cJSON_AddNullToObject(j, "adapter");
    cJSON_AddNumberToObject(j, "confidence", d->confidence);
    cJSON *p = cJSON_AddObjectToObject(j, "probabilities");
    for (size_t i = 0; i < d->n; i++)
        cJSON_AddNumberToObject(p, d->names[i], d->prob[i]);
    cli_route_serving_json(j, d);
    cJSON_AddStringToObject(j, "reason", d->reason);
    cJSON_AddNumberToObject(j, "ms", d->ms);
    char *text = cJSON_Print(j);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(j);
}

static void print_bench(const struct loco_route_bench *b, const char *router)
{
    printf("router %s: accuracy %.3f [%.3f, %.3f] (%zu/%zu), macro F1 %.3f, ECE %.3f, latency "
           "mean %.3f ms (p50 %.3f, p95 %.3f, max %.3f)\n\n",
           router, b->accuracy, b->acc_lo, b->acc_hi, b->correct, b->n, b->macro_f1, b->ece,
           b->ms_mean, b->ms_p50, b->ms_p95, b->ms_max);
    cli_print_route_tables(b);
}

/* Every item's decision as JSONL (for paired comparisons and error reading):
 * {"i", "source", "domain", "chosen", "confidence"}. 0 on success. */
static int write_decisions(struct loco_router *r, const struct loco_route_item *items, size_t n,
                           const char *path)
{
    FILE *f = fopen(path, "w");
    struct loco_route_decision *d = malloc(sizeof *d);
    int status = f && d ? 0 : cli_fail("cannot write the decisions");
    for (size_t i = 0; i < n && !status; i++) {
        if (loco_route(r, items[i].query, d) != LOCO_OK) {
            status = cli_fail("routing failed");
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "i", (double)i);
        cJSON_AddStringToObject(o, "source", items[i].source);
        cJSON_AddStringToObject(o, "domain", items[i].domain);
        cJSON_AddStringToObject(o, "chosen", d->domain);
        cJSON_AddNumberToObject(o, "confidence", d->confidence);
        char *line = cJSON_PrintUnformatted(o);
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
        cJSON_Delete(o);
    }
    free(d);
    if (f && fclose(f) != 0 && !status)
        status = cli_fail("cannot write the decisions");
    return status;
}

int cmd_route(int argc, char **argv)
{
    const char *router = NULL, *registry = NULL, *bench = NULL, *query = NULL;
    const char *decisions = NULL;
    bool json = false, list = false, serve_candidates = false;
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "router", &router, "NAME",
                       "which router (default: the registry's, else keyword)"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_STRING(0, "bench", &bench, "FILE.jsonl", "score the router on labelled queries"),
        CLI_OPT_STRING(0, "decisions", &decisions, "FILE",
                       "with --bench: every query's decision as JSONL"),
        CLI_OPT_FLAG(0, "list", &list, "the routers built in"),
        CLI_SERVE_OPTION(&serve_candidates),
        CLI_ENGINE_MODEL_OPTIONS(&o),
        CLI_OPT_END(),
    };
    struct cli_command c = {"route",
                            route_usage,
                            "(the model options matter to routers that read the base model's\n"
                            "hidden states: they load it)\n",
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 1)
        query = argv[0];
    if (list) {
        for (const struct loco_router_ops *const *r = loco_router_list(); *r; r++)
            printf("%-12s %s\n", (*r)->name, (*r)->summary);
        printf("%-12s %s\n", LOCO_CONFIDENCE_PREFIX "NAME",
               "wraps NAME: below its calibrated confidence or margin, the base model");
        return 0;
    }
    if (!query == !bench) {
        fprintf(stderr, "loco route: give a query or --bench FILE (see loco route --help)\n");
        return 2;
    }
    struct loco_registry *reg = cli_registry_load(registry);
    if (!reg)
        return 1;
    struct loco_router_env env = {
        .reg = reg, .serve = serve_candidates ? LOCO_SERVE_CANDIDATES : LOCO_SERVE_REGISTRY};
    const char *name = router                         ? router
                       : loco_registry_router(reg)[0] ? loco_registry_router(reg)
                                                      : "keyword";
    struct cli_engine e;
    bool engine = loco_router_needs_model(name);
    if (engine && !cli_engine_open(&e, &o)) {
        loco_registry_free(reg);
        return 1;
    }
    env.model = engine ? e.model : NULL;
    env.n_threads = engine ? loco_context_params(e.ctx).n_threads : 0; /* --threads */
    struct loco_router *r = cli_router_open_or_keyword(&env, router);
    if (!r) {
        if (engine)
            cli_engine_close(&e);
        loco_registry_free(reg);
        return cli_fail("cannot open the router");
    }
    int status = 0;
    if (query) {
        struct loco_route_decision *d = malloc(sizeof *d);
        char label[512];
        if (!d || loco_route(r, query, d) != LOCO_OK)
            status = cli_fail("routing failed");
        else if (d->serving != LOCO_SERVE_ACTIVE && d->serving != LOCO_SERVE_PASSED &&
                 d->serving != LOCO_SERVE_BASE_ROUTED) /* the serving rule changed the answer */
            fprintf(stderr, "%s\n", cli_route_label(d, label, sizeof label));
        if (status == 0 && json)
            print_decision_json(d, query);
        else if (status == 0)
            print_decision(d);
        free(d);
    } else {
        struct loco_route_item *items = NULL;
        size_t n = 0;
        struct loco_route_bench *b = malloc(sizeof *b);
        if (!b || loco_route_items_load(bench, &items, &n) != LOCO_OK ||
            loco_route_bench_run(r, items, n, b) != LOCO_OK)
            status = cli_fail("routing benchmark failed");
        else if (json) {
            char *text = loco_route_bench_json(b, loco_router_name(r));
            if (text)
                puts(text);
            free(text);
        } else
            print_bench(b, loco_router_name(r));
        if (!status && decisions && write_decisions(r, items, n, decisions))
            status = 1;
        free(b);
        loco_route_items_free(items, n);
    }
    loco_router_close(r);
    if (engine)
        cli_engine_close(&e);
    loco_registry_free(reg);
    return status;
}
