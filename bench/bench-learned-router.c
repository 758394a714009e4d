/*
 * bench-learned-router.c - does the learned router improve with feedback?
 *
 *   bench-learned-router --feedback DEV.jsonl --test TEST.jsonl [--chunks N] [--registry FILE]
 *
 * Replays the labelled queries of DEV as users' feedback, in N chunks
 * (default 5), into a temporary exchange log: each query is routed by the
 * learned router as it is at that point, logged, and judged against its
 * label ("good", or "bad --domain LABEL"). After each chunk the learned
 * router is opened again (it learns at init) and scored on TEST, which it
 * never gets feedback on. The keyword router's score on TEST is the
 * baseline. Build the files with scripts/make-route-bench.py --split dev
 * and --split test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/exchlog.h"
#include "loco/generate.h" /* loco_time_ms */
#include "loco/registry.h"
#include "loco/router.h"

static int fail(const char *what)
{
    fprintf(stderr, "bench-learned-router: %s: %s\n", what, loco_error_message());
    return 1;
}

/* Score router `name` on the test items; *open_ms: the time opening it took
 * (the learned router learns then). */
static int score(const struct loco_router_env *env, const char *name,
                 const struct loco_route_item *items, size_t n, struct loco_route_bench *b,
                 double *open_ms)
{
    double t0 = loco_time_ms();
    struct loco_router *r = loco_router_open(env, name);
    *open_ms = loco_time_ms() - t0;
    if (!r)
        return fail("cannot open the router");
    int rc = loco_route_bench_run(r, items, n, b);
    loco_router_close(r);
    return rc ? fail("scoring") : 0;
}

/* Replay items[0..n) as feedback, routed by a fresh learned router. */
static int replay(const struct loco_router_env *env, const char *log_path,
                  const struct loco_route_item *items, size_t n, size_t *n_good)
{
    struct loco_router *r = loco_router_open(env, "learned");
    struct loco_exchlog *log = NULL;
    int rc = !r ? fail("cannot open the learned router")
             : loco_exchlog_open(log_path, &log) ? fail("cannot open the log")
             : loco_learned_replay(log, r, items, n, n_good) ? fail("replaying feedback")
                                                              : 0;
    loco_exchlog_close(log);
    loco_router_close(r);
    return rc;
}

static int run(const struct loco_router_env *env, const char *log_path,
               const struct loco_route_item *fb, size_t n_fb,
               const struct loco_route_item *test, size_t n_test, size_t chunks)
{
    struct loco_route_bench *b = malloc(sizeof *b);
    if (!b)
        return 1;
    double ms;
    int rc = score(env, "keyword", test, n_test, b, &ms);
    if (!rc)
        printf("| keyword (baseline) | - | %.3f | %.3f | %.1f | %.3f |\n", b->accuracy,
               b->macro_f1, ms, b->ms_mean);
    size_t given = 0;
    for (size_t c = 0; c <= chunks && !rc; c++) {
        rc = score(env, "learned", test, n_test, b, &ms);
        if (!rc)
            printf("| learned | %zu | %.3f | %.3f | %.1f | %.3f |\n", given, b->accuracy,
                   b->macro_f1, ms, b->ms_mean);
        size_t end = c == chunks ? given : n_fb * (c + 1) / chunks, good = 0;
        if (!rc && end > given) {
            rc = replay(env, log_path, fb + given, end - given, &good);
            fprintf(stderr, "replayed %zu queries as feedback; the router was right on %zu\n",
                    end - given, good);
        }
        given = end;
    }
    free(b);
    return rc;
}

int main(int argc, char **argv)
{
    const char *fb_path = NULL, *test_path = NULL, *registry = NULL;
    long chunks = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--feedback"))
            fb_path = argv[i + 1];
        else if (!strcmp(argv[i], "--test"))
            test_path = argv[i + 1];
        else if (!strcmp(argv[i], "--registry"))
            registry = argv[i + 1];
        else if (!strcmp(argv[i], "--chunks"))
            chunks = strtol(argv[i + 1], NULL, 10);
    }
    if (!fb_path || !test_path || chunks < 1 || chunks > 1000) {
        fprintf(stderr, "usage: bench-learned-router --feedback DEV.jsonl --test TEST.jsonl "
                        "[--chunks N] [--registry FILE]\n");
        return 2;
    }
    char dir[] = "/tmp/loco-learned-XXXXXX", log_path[128], side[160];
    if (!mkdtemp(dir))
        return 1;
    snprintf(log_path, sizeof log_path, "%s/logs.sqlite", dir);
    setenv("LOCO_LOG_DB", log_path, 1); /* the learned router reads this log */

    struct loco_registry_params rp = loco_registry_default_params();
    if (registry) {
        rp.project_path = registry;
        rp.user_path = "";
    }
    struct loco_registry *reg = loco_registry_load(&rp);
    struct loco_route_item *fb = NULL, *test = NULL;
    size_t n_fb = 0, n_test = 0;
    int rc = !reg ? fail("cannot read the registry")
             : loco_route_items_load(fb_path, &fb, &n_fb) ? fail("cannot read the feedback")
             : loco_route_items_load(test_path, &test, &n_test) ? fail("cannot read the test")
                                                                 : 0;
    if (!rc) {
        printf("feedback stream %s (%zu queries) in %ld chunks; held-out %s (%zu queries)\n\n"
               "| router | feedback records | accuracy | macro F1 | open ms | ms per query |\n"
               "|---|---:|---:|---:|---:|---:|\n",
               fb_path, n_fb, chunks, test_path, n_test);
        struct loco_router_env env = {.reg = reg};
        rc = run(&env, log_path, fb, n_fb, test, n_test, (size_t)chunks);
    }
    loco_route_items_free(fb, n_fb);
    loco_route_items_free(test, n_test);
    loco_registry_free(reg);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", log_path, suffixes[i]);
        unlink(side);
    }
    rmdir(dir);
    return rc;
}
