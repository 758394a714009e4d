/*
 * test-router-threads.c - the routers that run the base model themselves
 * (arrow, classifier) build their context with the thread count of
 * loco_router_env.n_threads (what `--threads` sets), not a default:
 *  1. opening one with n_threads 4 starts exactly 3 pool workers, which stop
 *     when the router closes; with n_threads 1 none;
 *  2. the decision has the same bits whatever the thread count.
 * Threads are counted in /proc/self/status. Runs on the tiny stories260K
 * model of ../shared and skips without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/lora.h"
#include "loco/model.h"
#include "loco/registry.h"
#include "loco/router.h"
#include "testutil.h"

static char dir[64];

static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* A registry in dir with domains math and writing; math is served by the
 * adapter m-active (file m-active.gguf in dir). */
static struct loco_registry *load_registry(void)
{
    char path[128], text[2048];
    snprintf(path, sizeof path, "%s/registry.yaml", dir);
    snprintf(text, sizeof text,
             "schema_version: 2\n"
             "base_model: {name: T, file: t.gguf, sha256: %064d, architecture: llama, "
             "academic_year: \"2026\"}\n"
             "domains:\n  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
             "  writing: {primary_benchmark: judge, benchmarks: [judge]}\n"
             "adapters:\n"
             "  - name: m-active\n    domain: math\n    version: 1.0.0\n    file: m-active.gguf\n"
             "    sha256: %064d\n    base_sha256: %064d\n"
             "    lora: {rank: 2, alpha: 4, targets: [q]}\n"
             "    provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, "
             "authors: [A]}\n"
             "    router:\n      keywords: [sum]\n      examples: [\"x\"]\n"
             "    status: active\n",
             2, 1, 2);
    test_write_file(path, text);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = path;
    p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r)
        fail_msg("%s", loco_error_message());
    return r;
}

/* A rank-2 adapter on q in every layer, so arrow has a direction to read. */
static void write_adapter(const struct loco_model *m, const char *path)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    int64_t C = hp->n_embd, out = (int64_t)hp->n_head * hp->head_dim;
    float *a = calloc((size_t)(2 * C), sizeof *a), *b = calloc((size_t)(2 * out), sizeof *b);
    struct loco_lora_pair *pairs = calloc((size_t)hp->n_layer, sizeof *pairs);
    assert_true(a && b && pairs);
    a[3] = 1;
    a[C + 4] = 1;
    b[0] = 3;
    b[3] = 1;
    for (int32_t l = 0; l < hp->n_layer; l++)
        pairs[l] = (struct loco_lora_pair){l, LOCO_LORA_Q, C, out, 2, a, b};
    char sha[65];
    loco_model_sha256(m, sha);
    struct loco_adapter_meta meta = {
        .arch = "llama", .base_sha256 = sha, .name = "m-active", .domain = "math", .alpha = 4};
    assert_int_equal(loco_adapter_write(path, &meta, pairs, (size_t)hp->n_layer, LOCO_TYPE_F32),
                     LOCO_OK);
    free(pairs);
    free(a);
    free(b);
}

/* Open `name` with n_threads; check the workers it starts and stops; route
 * one query into d. */
static void route_with(const struct loco_registry *reg, const struct loco_model *m,
                       const char *name, int32_t n_threads, struct loco_route_decision *d)
{
    int before = threads_now();
    struct loco_router_env env = {.reg = reg, .model = m, .n_threads = n_threads};
    struct loco_router *r = loco_router_open(&env, name);
    if (!r)
        fail_msg("%s: %s", name, loco_error_message());
    assert_int_equal(threads_now(), before + n_threads - 1);
    assert_int_equal(loco_route(r, "Once upon a time there was a sum", d), LOCO_OK);
    loco_router_close(r);
    assert_int_equal(threads_now(), before);
}

static void check_router(const struct loco_registry *reg, const struct loco_model *m,
                         const char *name)
{
    struct loco_route_decision *d1 = calloc(1, sizeof *d1), *d4 = calloc(1, sizeof *d4);
    assert_true(d1 && d4);
    route_with(reg, m, name, 1, d1);
    route_with(reg, m, name, 4, d4);
    assert_string_equal(d1->domain, d4->domain);
    assert_int_equal(d1->n, d4->n);
    assert_memory_equal(d1->prob, d4->prob, d1->n * sizeof *d1->prob);
    free(d1);
    free(d4);
}

static void test_arrow_threads(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    char path[128];
    snprintf(path, sizeof path, "%s/m-active.gguf", dir);
    write_adapter(m, path);
    struct loco_registry *reg = load_registry();
    check_router(reg, m, "arrow");
    loco_registry_free(reg);
    loco_model_free(m);
}

static void test_classifier_threads(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    struct loco_registry *reg = load_registry();
    /* a classifier over the model's hidden states, trained on 6 queries */
    const char *qs[] = {"Tom had 3 apples and 4 more",
                        "the sum of 5 and 2",
                        "count 10 birds",
                        "Once upon a time",
                        "The sun was warm",
                        "They went home"};
    int32_t y[6] = {0, 0, 0, 1, 1, 1};
    const int32_t C = loco_model_hparams(m)->n_embd;
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = cp.n_batch = LOCO_ROUTER_EMBED_TOKENS;
    struct loco_context *ctx = loco_context_init(m, cp);
    float *X = malloc(6 * (size_t)C * sizeof *X);
    assert_true(ctx && X);
    for (int i = 0; i < 6; i++)
        assert_int_equal(loco_router_embed(ctx, m, qs[i], X + (size_t)i * C), LOCO_OK);
    const char *labels[] = {"math", "writing", "base"};
    struct loco_classifier c;
    assert_int_equal(loco_classifier_fit(X, y, 6, C, labels, 3, NULL, &c), LOCO_OK);
    loco_model_sha256(m, c.model_sha256);
    char path[128];
    snprintf(path, sizeof path, "%s/classifier.json", dir);
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    setenv("LOCO_ROUTER_CLASSIFIER", path, 1);
    check_router(reg, m, "classifier");
    unsetenv("LOCO_ROUTER_CLASSIFIER");
    loco_classifier_free(&c);
    free(X);
    loco_context_free(ctx);
    loco_registry_free(reg);
    loco_model_free(m);
}

static int setup(void **state)
{
    (void)state;
    test_make_tmpdir(dir, sizeof dir, "router-threads");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_rf(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrow_threads),
        cmocka_unit_test(test_classifier_threads),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
