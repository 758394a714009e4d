/*
 * cmd-eval-swarm.c - `loco eval --swarm`: the whole system against the
 * generalist. Over the union of the domains' benchmarks, every item is
 * answered as each policy would have it answered:
 *   oracle  the adapter of the item's own domain (perfect routing),
 *   ROUTER  the adapter each router picks from the item's prompt,
 *   base    the base model alone,
 *   random  a domain (or the base model) drawn uniformly per item, seeded;
 * and scored with the benchmark's own scorer. Every (adapter, benchmark)
 * pair is one `loco eval` run through the generation cache, so the
 * policies only choose among answers, never generate twice.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cmd-eval-swarm.h"
#include "commands.h"
#include "loco/eval.h"
#include "loco/fileio.h"
#include "loco/registry.h"
#include "loco/router.h"

#define MAX_DOMAINS 8
#define MAX_ROUTERS 6
#define MAX_BENCH 8

struct policy_scores {
    char name[LOCO_ROUTE_NAME_MAX];
    double mean[MAX_BENCH];
    double routing_acc[MAX_BENCH]; /* NaN for fixed policies */
    struct loco_continuous_paired vs_base[MAX_BENCH];
    double composite;
};

static void swarm_progress(void *user, const char *bench, const char *phase, int side,
                           size_t done, size_t total)
{
    (void)user;
    if (done == total && side == 1)
        fprintf(stderr, "  %s %s: %zu items\n", bench, phase, total);
}

/* A uniform draw in [0, n) from a splitmix64 stream. */
static size_t draw(uint64_t *s, size_t n)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (size_t)(z % n);
}

int eval_swarm(struct cli_engine *e, struct loco_eval_params *p, const char *const *benches,
               size_t n_bench, const char *const *routers, size_t n_routers, uint64_t seed,
               const char *out_path)
{
    struct loco_registry_params rp = loco_registry_default_params();
    struct loco_registry *reg = loco_registry_load(&rp);
    if (!reg)
        return cli_fail("cannot read the registry");
    int status = 0;
    /* domains and the adapter serving each */
    size_t nd = loco_registry_n_domains(reg);
    if (nd > MAX_DOMAINS)
        nd = MAX_DOMAINS;
    const char *dom[MAX_DOMAINS];
    struct loco_adapter *ad[MAX_DOMAINS] = {0};
    for (size_t d = 0; d < nd && !status; d++) {
        dom[d] = loco_registry_domain_at(reg, d)->name;
        const struct loco_registry_adapter *ra = loco_route_adapter_for(reg, dom[d], NULL);
        if (ra && !(ad[d] = loco_adapter_load(ra->path, e->model)))
            status = cli_fail("cannot load a domain's adapter");
    }
    /* the benchmarks: given, or each domain's primary one that scores itself */
    const char *bench[MAX_BENCH];
    size_t bench_dom[MAX_BENCH], nb = 0;
    for (size_t d = 0; d < nd && !status && n_bench == 0 && nb < MAX_BENCH; d++) {
        const char *pb = loco_registry_domain_at(reg, d)->primary_benchmark;
        if (pb && pb[0] && strncmp(pb, "judge", 5) && ad[d]) {
            bench[nb] = pb;
            bench_dom[nb++] = d;
        }
    }
    for (size_t b = 0; b < n_bench && !status && nb < MAX_BENCH; b++) {
        size_t d = nd;
        for (size_t k = 0; k < nd; k++) {
            const struct loco_registry_domain *rd = loco_registry_domain_at(reg, k);
            for (size_t j = 0; j < rd->benchmarks.n; j++)
                if (!strcmp(rd->benchmarks.v[j], benches[b]))
                    d = k;
        }
        if (d == nd) {
            fprintf(stderr, "loco eval --swarm: %s is no domain's benchmark in the registry\n",
                    benches[b]);
            status = 2;
        }
        bench[nb] = benches[b];
        bench_dom[nb++] = d;
    }
    /* routers */
    struct loco_router_env env = {.reg = reg, .model = e->model};
    struct loco_router *rt[MAX_ROUTERS] = {0};
    size_t nr = 0;
    for (size_t k = 0; k < n_routers && k < MAX_ROUTERS && !status; k++) {
        rt[nr] = loco_router_open(&env, routers[k]);
        if (rt[nr])
            nr++;
        else
            fprintf(stderr, "loco eval --swarm: router %s left out: %s\n", routers[k],
                    loco_error_message());
    }
    size_t np = 3 + nr; /* oracle, routers..., base, random */
    struct policy_scores *ps = calloc(np, sizeof *ps);
    if (!ps && !status)
        status = cli_fail("out of memory");
    if (!status) {
        snprintf(ps[0].name, sizeof ps[0].name, "oracle");
        for (size_t k = 0; k < nr; k++)
            snprintf(ps[1 + k].name, sizeof ps[0].name, "%s", loco_router_name(rt[k]));
        snprintf(ps[1 + nr].name, sizeof ps[0].name, "base");
        snprintf(ps[2 + nr].name, sizeof ps[0].name, "random");
    }
    uint64_t rng = seed;
    for (size_t b = 0; b < nb && !status; b++) {
        /* every domain adapter on this benchmark (base answers are shared) */
        struct loco_eval_bench res[MAX_DOMAINS];
        size_t done = 0;
        fprintf(stderr, "loco eval --swarm: %s\n", bench[b]);
        for (size_t d = 0; d < nd && !status; d++, done++) {
            if (!ad[d]) {
                memset(&res[d], 0, sizeof res[d]);
                continue;
            }
            if (loco_eval_bench_run(e->model, ad[d], 1.0f, bench[b], d == bench_dom[b], p,
                                    swarm_progress, NULL, &res[d]) != LOCO_OK)
                status = cli_fail("evaluation failed");
        }
        size_t n = 0, any = nd;
        for (size_t d = 0; d < nd; d++)
            if (ad[d] && any == nd) {
                any = d;
                n = res[d].n;
            }
        double *base = calloc(n ? n : 1, sizeof *base), *pol = calloc(n ? n : 1, sizeof *pol);
        for (size_t i = 0; i < n && !status; i++)
            base[i] = res[any].items[i].score[0];
        for (size_t k = 0; k < np && !status; k++) {
            size_t right = 0;
            for (size_t i = 0; i < n; i++) {
                size_t choice; /* a domain index, or nd for the base model */
                if (k == 0)
                    choice = bench_dom[b];
                else if (k == 1 + nr)
                    choice = nd;
                else if (k == 2 + nr)
                    choice = draw(&rng, nd + 1);
                else {
                    struct loco_route_decision dec;
                    choice = nd;
                    if (loco_route(rt[k - 1], res[any].items[i].prompt, &dec) == LOCO_OK)
                        for (size_t d = 0; d < nd; d++)
                            if (!strcmp(dec.domain, dom[d]))
                                choice = d;
                    right += choice == bench_dom[b];
                }
                pol[i] = choice < nd && ad[choice] ? res[choice].items[i].score[1] : base[i];
            }
            double sum = 0;
            for (size_t i = 0; i < n; i++)
                sum += pol[i];
            ps[k].mean[b] = n ? sum / (double)n : NAN;
            ps[k].routing_acc[b] = k >= 1 && k <= nr && n ? (double)right / (double)n : NAN;
            if (n >= 2 && loco_stats_continuous_paired(base, pol, n, &p->stats,
                                                       &ps[k].vs_base[b]) != LOCO_OK)
                status = cli_fail("statistics failed");
        }
        printf("%s: %zu items (domain %s)\n", bench[b], n, bench_dom[b] < nd ? dom[bench_dom[b]]
                                                                              : "?");
        free(base);
        free(pol);
        for (size_t d = 0; d < done; d++)
            if (ad[d])
                loco_eval_bench_free(&res[d]);
    }
    if (!status && nb) {
        for (size_t k = 0; k < np; k++) {
            double s = 0;
            for (size_t b = 0; b < nb; b++)
                s += ps[k].mean[b];
            ps[k].composite = s / (double)nb;
        }
        printf("\n| policy |");
        for (size_t b = 0; b < nb; b++)
            printf(" %s (%s) |", bench[b], dom[bench_dom[b]]);
        printf(" composite |\n|---|");
        for (size_t b = 0; b <= nb; b++)
            printf("---:|");
        printf("\n");
        for (size_t k = 0; k < np; k++) {
            printf("| %s |", ps[k].name);
            for (size_t b = 0; b < nb; b++) {
                printf(" %.3f", ps[k].mean[b]);
                if (k != 1 + nr)
                    printf(" (%+.3f [%+.3f, %+.3f])", ps[k].vs_base[b].diff,
                           ps[k].vs_base[b].diff_ci.lo, ps[k].vs_base[b].diff_ci.hi);
                if (!isnan(ps[k].routing_acc[b]))
                    printf(", routed right %.0f%%", 100 * ps[k].routing_acc[b]);
                printf(" |");
            }
            printf(" **%.3f** |\n", ps[k].composite);
        }
        printf("\nEach cell: the mean score, then the paired difference from the base model "
               "with its 95%% bootstrap interval.\n");
        if (out_path) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "record", "locollm-swarm/1");
            cJSON *bj = cJSON_AddArrayToObject(j, "benchmarks");
            for (size_t b = 0; b < nb; b++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", bench[b]);
                cJSON_AddStringToObject(o, "domain", dom[bench_dom[b]]);
                cJSON_AddItemToArray(bj, o);
            }
            cJSON *pj = cJSON_AddArrayToObject(j, "policies");
            for (size_t k = 0; k < np; k++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", ps[k].name);
                cJSON_AddNumberToObject(o, "composite", ps[k].composite);
                cJSON *m = cJSON_AddArrayToObject(o, "mean");
                cJSON *dd = cJSON_AddArrayToObject(o, "diff_vs_base");
                cJSON *ra = cJSON_AddArrayToObject(o, "routing_accuracy");
                for (size_t b = 0; b < nb; b++) {
                    cJSON_AddItemToArray(m, cJSON_CreateNumber(ps[k].mean[b]));
                    cJSON_AddItemToArray(dd, cJSON_CreateNumber(ps[k].vs_base[b].diff));
                    cJSON_AddItemToArray(ra, isnan(ps[k].routing_acc[b])
                                                 ? cJSON_CreateNull()
                                                 : cJSON_CreateNumber(ps[k].routing_acc[b]));
                }
                cJSON_AddItemToArray(pj, o);
            }
            char *text = cJSON_Print(j);
            cJSON_Delete(j);
            if (!text || loco_file_write_atomic(out_path, text, strlen(text)) != LOCO_OK)
                status = cli_fail("cannot write the swarm record");
            else
                printf("record: %s\n", out_path);
            free(text);
        }
    }
    free(ps);
    for (size_t k = 0; k < nr; k++)
        loco_router_close(rt[k]);
    for (size_t d = 0; d < nd; d++)
        loco_adapter_free(ad[d]);
    loco_registry_free(reg);
    return status;
}
