/*
 * test-serving.c - which adapter answers a domain (src/router/serving.c):
 * only proven adapters by default (active, or a candidate that passed its
 * primary gate with no other recorded check failed, as `promote --best`
 * requires), the base model with a
 * reason otherwise, retired adapters never; serve_candidates (registry
 * setting or the caller's mode) brings back the old rule, and the caller's
 * mode overrides the registry. Routing applies the same rule.
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

#include "loco/registry.h"
#include "loco/router.h"
#include "testutil.h"

#define SHA_A "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_B "2222222222222222222222222222222222222222222222222222222222222222"

static char dir[64];
static char reg_path[128];

/* One score entry for the YAML. */
#define SCORE(bench, score, passed)                                                                \
    "      - {benchmark: " bench ", score: " score ", ci_low: 0, ci_high: 1, base_score: 0.1, "    \
    "p_value: 0.01, passed: " passed ", n_items: 200, record: r.json}\n"

static void adapter_yaml(FILE *f, const char *name, const char *domain, const char *status,
                         const char *keywords, const char *scores)
{
    fprintf(f,
            "  - name: %s\n    domain: %s\n    version: 1.0.0\n    file: %s.gguf\n"
            "    sha256: " SHA_A "\n    base_sha256: " SHA_B "\n"
            "    lora: {rank: 2, alpha: 4, targets: [q]}\n"
            "    provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, "
            "authors: [A]}\n"
            "    router:\n      keywords: [%s]\n      examples: [\"x\"]\n"
            "    status: %s\n%s%s",
            name, domain, name, keywords, status, scores ? "    scores:\n" : "",
            scores ? scores : "");
}

/*
 * math: m-fail (candidate, failed gsm8k)
 * code: c-pass (passed mbpp, 0.3), c-ood (passed mbpp 0.5 but failed gsm8k, out of
 *       domain), c-indomain (passed mbpp 0.2, failed humaneval, in its domain),
 *       c-retired (retired, passed 0.9)
 * writing: w-active (active, its judge score failed)
 * summarisation: s-retired only
 */
static struct loco_registry *load_registry(const char *top_line)
{
    FILE *f = fopen(reg_path, "wb");
    assert_non_null(f);
    fprintf(f,
            "schema_version: 2\n%s"
            "base_model: {name: T, file: t.gguf, sha256: " SHA_B ", architecture: llama, "
            "academic_year: \"2026\"}\n"
            "domains:\n  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
            "  code: {primary_benchmark: mbpp, benchmarks: [mbpp, humaneval]}\n"
            "  writing: {primary_benchmark: judge, benchmarks: [judge]}\n"
            "  summarisation: {primary_benchmark: summarisation}\n"
            "adapters:\n",
            top_line);
    adapter_yaml(f, "m-fail", "math", "candidate", "how many", SCORE("gsm8k", "0.017", "false"));
    adapter_yaml(f, "c-pass", "code", "candidate", "python", SCORE("mbpp", "0.3", "true"));
    adapter_yaml(f, "c-ood", "code", "candidate", "python",
                 SCORE("mbpp", "0.5", "true") SCORE("gsm8k", "0.01", "false"));
    adapter_yaml(f, "c-indomain", "code", "candidate", "python",
                 SCORE("mbpp", "0.2", "true") SCORE("humaneval", "0.1", "false"));
    adapter_yaml(f, "c-retired", "code", "retired", "python", SCORE("mbpp", "0.9", "true"));
    adapter_yaml(f, "w-active", "writing", "active", "poem", SCORE("judge", "0.1", "false"));
    adapter_yaml(f, "s-retired", "summarisation", "retired", "summarise",
                 SCORE("summarisation", "0.3", "true"));
    fclose(f);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = reg_path;
    p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r)
        fail_msg("%s", loco_error_message());
    return r;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/loco-serving-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(reg_path, sizeof reg_path, "%s/registry.yaml", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(reg_path);
    rmdir(dir);
    return 0;
}

static void assert_serves(const struct loco_registry *reg, const char *domain,
                          enum loco_serve_mode mode, const char *adapter,
                          enum loco_serve_reason reason)
{
    struct loco_serving s;
    assert_int_equal(loco_serving_choose(reg, domain, mode, &s), LOCO_OK);
    if (adapter) {
        assert_non_null(s.adapter);
        assert_string_equal(s.adapter->name, adapter);
    } else
        assert_null(s.adapter);
    assert_int_equal(s.reason, reason);
}

static void test_passed_candidate_served(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    /* c-ood scores higher but failed an out-of-domain check; c-retired is retired */
    assert_serves(reg, "code", LOCO_SERVE_REGISTRY, "c-pass", LOCO_SERVE_PASSED);
    assert_true(loco_serving_passed(reg, loco_registry_find(reg, "c-pass")));
    assert_false(loco_serving_passed(reg, loco_registry_find(reg, "c-ood")));
    /* any failed check counts, as for promote --best (humaneval here) */
    assert_false(loco_serving_passed(reg, loco_registry_find(reg, "c-indomain")));
    assert_false(loco_serving_passed(reg, loco_registry_find(reg, "m-fail")));
    const struct loco_registry_adapter *order[4];
    assert_int_equal(loco_serving_order(reg, "code", LOCO_SERVE_PROVEN, order, 4), 1);
    assert_string_equal(order[0]->name, "c-pass");
    loco_registry_free(reg);
}

static void test_failed_candidate_base(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    assert_serves(reg, "math", LOCO_SERVE_REGISTRY, NULL, LOCO_SERVE_BASE_NOT_PASSED);
    assert_string_equal(loco_serve_reason_text(LOCO_SERVE_BASE_NOT_PASSED),
                        "no adapter has passed its gate");
    assert_string_equal(loco_serve_reason_name(LOCO_SERVE_BASE_NOT_PASSED), "no-adapter-passed");
    const char *why = NULL;
    assert_null(loco_route_adapter_for(reg, "math", &why));
    assert_string_equal(why, "no adapter has passed its gate");

    /* routing applies the rule: math is chosen, the base model answers, and says why */
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "keyword");
    assert_non_null(r);
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, "How many apples are left?", &d), LOCO_OK);
    assert_string_equal(d.domain, "math");
    assert_string_equal(d.adapter, "");
    assert_string_equal(d.adapter_path, "");
    assert_int_equal(d.serving, LOCO_SERVE_BASE_NOT_PASSED);
    assert_non_null(strstr(d.reason, "domain math: no adapter has passed its gate: base model"));
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_active_served(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    /* the active adapter serves even though its recorded score did not pass:
     * promotion is where the gate is enforced */
    assert_serves(reg, "writing", LOCO_SERVE_PROVEN, "w-active", LOCO_SERVE_ACTIVE);
    const char *why = NULL;
    assert_string_equal(loco_route_adapter_for(reg, "writing", &why)->name, "w-active");
    assert_string_equal(why, "active");
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "keyword");
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, "Write a poem about the sea", &d), LOCO_OK);
    assert_string_equal(d.adapter, "w-active");
    assert_int_equal(d.serving, LOCO_SERVE_ACTIVE);
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_retired_ignored(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    /* retired adapters never serve, not even with serve_candidates */
    assert_serves(reg, "summarisation", LOCO_SERVE_CANDIDATES, NULL, LOCO_SERVE_BASE_NO_ADAPTER);
    const struct loco_registry_adapter *order[8];
    size_t n = loco_serving_order(reg, "code", LOCO_SERVE_CANDIDATES, order, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(order[i]->name, "c-retired");
    /* the base pseudo-domain and unknown domains get the base model */
    assert_serves(reg, LOCO_ROUTE_BASE, LOCO_SERVE_REGISTRY, NULL, LOCO_SERVE_BASE_ROUTED);
    assert_serves(reg, "astrology", LOCO_SERVE_CANDIDATES, NULL, LOCO_SERVE_BASE_NO_ADAPTER);
    struct loco_serving s;
    assert_int_equal(loco_serving_choose(NULL, "math", LOCO_SERVE_REGISTRY, &s), LOCO_ERR_INVALID);
    loco_registry_free(reg);
}

static void test_serve_candidates_old_rule(void **state)
{
    (void)state;
    /* the registry setting: the failed math candidate serves again, flagged */
    struct loco_registry *reg = load_registry("serve_candidates: true\n");
    assert_true(loco_registry_serve_candidates(reg));
    assert_serves(reg, "math", LOCO_SERVE_REGISTRY, "m-fail", LOCO_SERVE_UNPROVEN);
    /* proven candidates still come first; the unproven one after them */
    const struct loco_registry_adapter *order[8];
    assert_int_equal(loco_serving_order(reg, "code", LOCO_SERVE_REGISTRY, order, 8), 3);
    assert_string_equal(order[0]->name, "c-pass");
    assert_string_equal(order[1]->name, "c-ood");      /* 0.5 */
    assert_string_equal(order[2]->name, "c-indomain"); /* 0.2 */
    /* a short buffer holds the best ones, the count is all of them */
    assert_int_equal(loco_serving_order(reg, "code", LOCO_SERVE_REGISTRY, order, 1), 3);
    assert_string_equal(order[0]->name, "c-pass");
    const char *why = NULL;
    assert_string_equal(loco_route_adapter_for(reg, "math", &why)->name, "m-fail");
    assert_string_equal(why, "candidate (has not passed its gate)");
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "keyword");
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, "How many apples are left?", &d), LOCO_OK);
    assert_string_equal(d.adapter, "m-fail");
    assert_int_equal(d.serving, LOCO_SERVE_UNPROVEN);
    assert_non_null(strstr(d.reason, "m-fail has not passed its gate"));
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_mode_overrides_registry(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("serve_candidates: false\n");
    assert_false(loco_registry_serve_candidates(reg));
    assert_false(loco_serving_candidates(reg, LOCO_SERVE_REGISTRY));
    assert_true(loco_serving_candidates(reg, LOCO_SERVE_CANDIDATES)); /* --serve-candidates */
    assert_serves(reg, "math", LOCO_SERVE_CANDIDATES, "m-fail", LOCO_SERVE_UNPROVEN);
    struct loco_router_env env = {.reg = reg, .serve = LOCO_SERVE_CANDIDATES};
    struct loco_router *r = loco_router_open(&env, "keyword");
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, "How many apples are left?", &d), LOCO_OK);
    assert_string_equal(d.adapter, "m-fail");
    loco_router_close(r);
    loco_registry_free(reg);
    /* and the other way: the registry serves candidates, the caller wants proven only */
    reg = load_registry("serve_candidates: true\n");
    assert_false(loco_serving_candidates(reg, LOCO_SERVE_PROVEN));
    assert_serves(reg, "math", LOCO_SERVE_PROVEN, NULL, LOCO_SERVE_BASE_NOT_PASSED);
    loco_registry_free(reg);
}

static void test_registry_setting_checked(void **state)
{
    (void)state;
    FILE *f = fopen(reg_path, "wb");
    assert_non_null(f);
    fputs("schema_version: 2\nserve_candidates: maybe\n"
          "base_model: {name: T, file: t.gguf, sha256: " SHA_B ", architecture: llama, "
          "academic_year: \"2026\"}\n"
          "domains:\n  math: {primary_benchmark: gsm8k}\nadapters: []\n",
          f);
    fclose(f);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = reg_path;
    p.user_path = "";
    assert_null(loco_registry_load(&p));
    assert_non_null(strstr(loco_error_message(), "serve_candidates"));
    assert_non_null(strstr(loco_error_message(), "true or false"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passed_candidate_served),
        cmocka_unit_test(test_failed_candidate_base),
        cmocka_unit_test(test_active_served),
        cmocka_unit_test(test_retired_ignored),
        cmocka_unit_test(test_serve_candidates_old_rule),
        cmocka_unit_test(test_mode_overrides_registry),
        cmocka_unit_test(test_registry_setting_checked),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
