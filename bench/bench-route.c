/*
 * bench-route.c - what routing costs: latency per query of each router, and
 * the whole `loco ask` path end to end (route, put the adapter on, first
 * token, full answer) with peak memory.
 *
 * Queries: a routing benchmark file (JSONL with "query"; default: the test
 * split made by scripts/make-route-bench.py into /tmp/route-test.jsonl if it
 * is there), else twelve built-in queries. Routers: keyword, classifier
 * (when the registry's router-classifier.json fits the default model) and
 * confidence:keyword. End to end: the first N queries (default 8) answered
 * greedily with at most 64 new tokens by the default model, through the
 * registry's router and its adapters, one at a time as `loco ask` does.
 * The seed's bar: under 5 s per answer and under 8 GB.
 *
 * Usage: bench-route [FILE.jsonl] [--n N] [--threads T]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/models.h"
#include "loco/registry.h"
#include "loco/router.h"

static const char *const builtin_queries[] = {
    "A baker sells 12 cakes a day. How many cakes does she sell in a week?",
    "Write a Python function that returns the nth Fibonacci number.",
    "Summarise this article in one sentence: The council voted on Tuesday to close the library.",
    "You are a pirate captain. Give a rousing speech to your crew before the storm.",
    "Which planet is closest to the sun?",
    "If 3 pencils cost $1.20, how much do 10 pencils cost?",
    "Write a function to check whether a string is a palindrome.",
    "TL;DR: Scientists found water ice in a crater near the moon's south pole.",
    "Imagine you are a lighthouse keeper. Describe the night a ship came too close.",
    "What gas do plants take in from the air?",
    "Tom has 5 apples and buys 7 more. How many apples does he have?",
    "Complete this Python function: def add(a, b):",
};

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct first_token {
    double t0, first_ms;
};

static bool on_token(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)token, (void)piece, (void)len, (void)lp;
    struct first_token *ft = user;
    if (ft->first_ms < 0)
        ft->first_ms = loco_time_ms() - ft->t0;
    return true;
}

/* Route every query n times; print mean/p50/p95 per query. */
static void time_router(struct loco_router *r, char **q, size_t nq)
{
    size_t reps = strcmp(loco_router_name(r), "classifier") ? 20 : 1;
    double *ms = malloc(nq * reps * sizeof *ms), total = 0;
    struct loco_route_decision d;
    for (size_t k = 0; k < reps; k++)
        for (size_t i = 0; i < nq; i++) {
            if (loco_route(r, q[i], &d) != LOCO_OK) {
                fprintf(stderr, "bench-route: %s\n", loco_error_message());
                exit(1);
            }
            ms[k * nq + i] = d.ms;
            total += d.ms;
        }
    size_t n = nq * reps;
    qsort(ms, n, sizeof *ms, cmp_double);
    printf("| %s | %zu | %.3f | %.3f | %.3f |\n", loco_router_name(r), n, total / (double)n,
           ms[(n - 1) / 2], ms[(size_t)((double)(n - 1) * 0.95)]);
    free(ms);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int threads = 2;
    size_t n_e2e = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n_e2e = (size_t)strtol(argv[++i], NULL, 10);
        else
            file = argv[i];
    }
    if (!file) {
        FILE *f = fopen("/tmp/route-test.jsonl", "r");
        if (f) {
            fclose(f);
            file = "/tmp/route-test.jsonl";
        }
    }
    char **q = NULL;
    size_t nq = 0;
    struct loco_route_item *items = NULL;
    if (file && loco_route_items_load(file, &items, &nq) == LOCO_OK) {
        q = malloc(nq * sizeof *q);
        for (size_t i = 0; i < nq; i++)
            q[i] = items[i].query;
    } else {
        nq = sizeof builtin_queries / sizeof builtin_queries[0];
        q = malloc(nq * sizeof *q);
        for (size_t i = 0; i < nq; i++)
            q[i] = (char *)builtin_queries[i];
        file = "built-in queries";
    }
    char path[4096];
    if (loco_models_resolve("default", path, sizeof path) != LOCO_OK) {
        fprintf(stderr, "bench-route: the default model is not in the cache (loco models pull "
                        "default)\n");
        return 1;
    }
    double rss0 = peak_rss_mb();
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    struct loco_registry *reg = loco_registry_load(NULL);
    if (!m || !reg) {
        fprintf(stderr, "bench-route: %s\n", loco_error_message());
        return 1;
    }
    printf("routing latency, %zu queries from %s, %d threads\n\n", nq, file, threads);
    printf("| router | routed | mean ms | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|\n");
    struct loco_router_env env = {.reg = reg, .model = m};
    const char *names[] = {"keyword", "confidence:keyword", "classifier"};
    for (size_t k = 0; k < 3; k++) {
        struct loco_router *r = loco_router_open(&env, names[k]);
        if (!r) {
            printf("| %s | - | not available: %s | | |\n", names[k], loco_error_message());
            continue;
        }
        time_router(r, q, k == 2 && nq > 100 ? 100 : nq);
        loco_router_close(r);
    }

    /* end to end: as `loco ask` does it */
    struct loco_router *r = loco_router_open(&env, NULL);
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 1024;
    cp.n_seq = 1;
    cp.n_threads = threads;
    struct loco_context *ctx = loco_context_init(m, cp);
    struct loco_adapter *loaded[16] = {0};
    char loaded_name[16][128] = {{0}};
    size_t n_loaded = 0;
    if (!r || !ctx) {
        fprintf(stderr, "bench-route: %s\n", loco_error_message());
        return 1;
    }
    if (n_e2e > nq)
        n_e2e = nq;
    printf("\nend to end (router %s, greedy, at most 64 new tokens, %d threads)\n\n",
           loco_router_name(r), threads);
    printf("| # | adapter | route ms | first token ms | answer ms | tokens |\n"
           "|---:|---|---:|---:|---:|---:|\n");
    double worst = 0, sum = 0;
    for (size_t i = 0; i < n_e2e; i++) {
        double t0 = loco_time_ms();
        struct loco_route_decision d;
        if (loco_route(r, q[i], &d) != LOCO_OK)
            return 1;
        struct loco_adapter *a = NULL;
        for (size_t k = 0; k < n_loaded && d.adapter[0]; k++)
            if (!strcmp(loaded_name[k], d.adapter))
                a = loaded[k];
        if (d.adapter[0] && !a && n_loaded < 16) {
            a = loco_adapter_load(d.adapter_path, m);
            loaded[n_loaded] = a;
            snprintf(loaded_name[n_loaded++], sizeof loaded_name[0], "%s", d.adapter);
        }
        struct loco_adapter_ref ref = {a, 1.0f};
        loco_context_set_adapters(ctx, 0, a ? &ref : NULL, a ? 1 : 0);
        loco_context_seq_clear(ctx, 0);
        struct loco_chat_msg msg = {.role = "user", .content = q[i]};
        int32_t *toks = NULL;
        size_t nt = 0;
        if (loco_chat_tokenize(m, NULL, &msg, 1, &toks, &nt) != LOCO_OK)
            return 1;
        struct loco_generate_params gp = loco_generate_default_params();
        gp.max_tokens = 64;
        gp.sampling.temperature = 0;
        struct first_token ft = {t0, -1};
        struct loco_generate_result res = {0};
        if (loco_generate(ctx, 0, loco_model_tokenizer(m), toks, nt, &gp, on_token, &ft, &res))
            return 1;
        double total = loco_time_ms() - t0;
        printf("| %zu | %s | %.2f | %.0f | %.0f | %d |\n", i + 1,
               d.adapter[0] ? d.adapter : "base", d.ms, ft.first_ms, total, res.n_generated);
        worst = total > worst ? total : worst;
        sum += total;
        loco_generate_result_free(&res);
        free(toks);
    }
    printf("\nmean %.0f ms, worst %.0f ms per answer (bar: 5000 ms); peak RSS %.0f MB (%.0f MB "
           "before the model; bar: 8192 MB)\n",
           n_e2e ? sum / (double)n_e2e : 0, worst, peak_rss_mb(), rss0);
    for (size_t k = 0; k < n_loaded; k++)
        loco_adapter_free(loaded[k]);
    loco_context_free(ctx);
    loco_router_close(r);
    loco_registry_free(reg);
    loco_model_free(m);
    if (items)
        loco_route_items_free(items, nq);
    free(q);
    return 0;
}
