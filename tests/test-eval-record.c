/*
 * test-eval-record.c - what a run of `loco eval` asks of the library
 * besides generating: the parameters it refuses (the slots bound comes from
 * the kernels), the benchmarks a run covers when none are named (from the
 * registry's domains, else the built-in table), the record's schema
 * (locollm-eval/1), the verdicts a merged record decided and which of them
 * let an adapter through (the registry's `passed` and the exit status);
 * the prompt formats the benchmarks and the training recipes share. Needs
 * no model and no ../shared (the shipped recipes: $LOCO_SOURCE_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/eval.h"
#include "loco/registry.h"
#include "loco/trainrun.h"
#include "testutil.h"

static void test_params_check(void **state)
{
    (void)state;
    /* the bound is the kernels': one token fewer than the step at which
     * quantized products switch to sgemm */
    assert_int_equal(LOCO_EVAL_MAX_SLOTS, LOCO_MATMUL_QUANT_SGEMM_MIN_TOKENS - 1);
    assert_int_equal(LOCO_EVAL_MAX_SLOTS, 47);
    struct loco_eval_params p = loco_eval_default_params();
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
    p.slots = LOCO_EVAL_MAX_SLOTS;
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
    p.slots = LOCO_EVAL_MAX_SLOTS + 1;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "slots is 48, expected 1 to 47"));
    p.slots = 0;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    p = loco_eval_default_params();
    p.samples = 0;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    p = loco_eval_default_params();
    p.shots = LOCO_EVAL_MAX_SHOTS + 1;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    p = loco_eval_default_params();
    p.stats.alpha = 0;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    assert_int_equal(loco_eval_params_check(NULL), LOCO_ERR_INVALID);
}

/* Expect out[0..n) to be exactly the NULL-terminated list `want`. */
static void expect_list(const char *const *out, size_t n, const char *const *want)
{
    size_t k = 0;
    for (; want[k]; k++) {
        assert_true(k < n);
        assert_string_equal(out[k], want[k]);
    }
    assert_int_equal(n, k);
}

static void test_default_benches(void **state)
{
    (void)state;
    const char *out[8];
    /* no registry: the built-in domains */
    expect_list(out, loco_eval_default_benches(NULL, "math", out, 8),
                (const char *[]){"gsm8k", "mbpp", "summarisation", NULL});
    expect_list(out, loco_eval_default_benches(NULL, "code", out, 8),
                (const char *[]){"mbpp", "gsm8k", "summarisation", NULL});
    /* writing's own benchmark is judged: it runs, the others' judged ones do not */
    expect_list(out, loco_eval_default_benches(NULL, "writing", out, 8),
                (const char *[]){"judge", "gsm8k", "mbpp", "summarisation", NULL});
    expect_list(out, loco_eval_default_benches(NULL, "poetry", out, 8),
                (const char *[]){"gsm8k", "mbpp", "summarisation", NULL});
    assert_int_equal(loco_eval_default_benches(NULL, "math", out, 2), 2);
    assert_string_equal(out[1], "mbpp");
    /* a registry: its domains and primary benchmarks, in its order; a
     * primary benchmark that is not built in (law's) is left out */
    char dir[64], path[128];
    test_make_tmpdir(dir, sizeof dir, "eval-record");
    snprintf(path, sizeof path, "%s/registry.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("schema_version: 2\n"
          "base_model: {name: m, file: m.gguf, sha256: "
          "1111111111111111111111111111111111111111111111111111111111111111, architecture: "
          "llama, academic_year: \"2026\"}\n"
          "domains:\n"
          "  writing: {description: w, primary_benchmark: judge-roleplay, benchmarks: [judge, "
          "judge-roleplay]}\n"
          "  law: {description: l, primary_benchmark: lawbench, benchmarks: [lawbench]}\n"
          "  code: {description: c, primary_benchmark: humaneval, benchmarks: [mbpp, humaneval]}\n"
          "  math: {description: m, primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
          "adapters: []\n",
          f);
    fclose(f);
    struct loco_registry *reg = loco_registry_load_file(path, true);
    assert_non_null(reg);
    expect_list(out, loco_eval_default_benches(reg, "writing", out, 8),
                (const char *[]){"judge-roleplay", "humaneval", "gsm8k", NULL});
    expect_list(out, loco_eval_default_benches(reg, "code", out, 8),
                (const char *[]){"humaneval", "gsm8k", NULL});
    expect_list(out, loco_eval_default_benches(reg, "law", out, 8),
                (const char *[]){"humaneval", "gsm8k", NULL});
    /* a domain the registry lacks falls back to the built-in table */
    expect_list(out, loco_eval_default_benches(reg, "summarisation", out, 8),
                (const char *[]){"summarisation", "humaneval", "gsm8k", NULL});
    /* own-domain benchmarks: the registry's list for the domain */
    assert_true(loco_eval_bench_in_domain(reg, "writing", "judge", NULL));
    assert_true(loco_eval_bench_in_domain(reg, "code", "mbpp", NULL));
    assert_false(loco_eval_bench_in_domain(reg, "code", "gsm8k", NULL));
    /* a domain the registry lacks: its built-in benchmark */
    assert_true(loco_eval_bench_in_domain(reg, "summarisation", "summarisation", NULL));
    /* a custom file: its declared domain decides */
    assert_true(loco_eval_bench_in_domain(reg, "law", "cases.jsonl", "law"));
    assert_false(loco_eval_bench_in_domain(reg, "code", "mbpp.jsonl", "math"));
    loco_registry_free(reg);
    unlink(path);
    rmdir(dir);
    assert_true(loco_eval_bench_in_domain(NULL, "writing", "judge", NULL));
    assert_false(loco_eval_bench_in_domain(NULL, "writing", "judge-roleplay", NULL));
    assert_false(loco_eval_bench_in_domain(NULL, "poetry", "gsm8k", NULL));
    assert_true(loco_eval_bench_judged("judge") && loco_eval_bench_judged("judge-roleplay"));
    assert_false(loco_eval_bench_judged("gsm8k") || loco_eval_bench_judged("x.jsonl"));
}

static const cJSON *at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static void test_record_schema(void **state)
{
    (void)state;
    struct loco_eval_record_info info = {.scale = 0.5f, .contam_checked = false};
    snprintf(info.model_path, sizeof info.model_path, "m.gguf");
    snprintf(info.model_sha256, sizeof info.model_sha256, "%064d", 7);
    snprintf(info.adapter_name, sizeof info.adapter_name, "maths");
    snprintf(info.adapter_domain, sizeof info.adapter_domain, "math");
    snprintf(info.adapter_path, sizeof info.adapter_path, "a.gguf");
    snprintf(info.adapter_sha256, sizeof info.adapter_sha256, "%064d", 8);
    snprintf(info.contam_why, sizeof info.contam_why, "--no-contam");
    snprintf(info.date, sizeof info.date, "2026-12-07T03:00:00Z");
    struct loco_eval_params p = loco_eval_default_params();
    p.slots = 6;
    struct loco_eval_item item = {.id = "q1", .prompt = "What is 2 + 2?", .score = {0, 1}};
    struct loco_eval_bench b = {.name = "gsm8k",
                                .metric = "accuracy",
                                .binary = true,
                                .n = 1,
                                .items = &item,
                                .n_used = 1,
                                .verdict = LOCO_VERDICT_PASS,
                                .gate_passed = true,
                                .in_domain = true};
    char *text = loco_eval_record_json(&info, &p, &b, 1);
    assert_non_null(text);
    cJSON *r = cJSON_Parse(text);
    assert_non_null(r);
    assert_string_equal(at(r, "record", NULL)->valuestring, "locollm-eval/1");
    assert_string_equal(at(r, "date", NULL)->valuestring, "2026-12-07T03:00:00Z");
    assert_string_equal(at(r, "model", "path")->valuestring, "m.gguf");
    assert_int_equal(strlen(at(r, "model", "sha256")->valuestring), 64);
    assert_string_equal(at(r, "adapter", "name")->valuestring, "maths");
    assert_string_equal(at(r, "adapter", "domain")->valuestring, "math");
    assert_true(at(r, "adapter", "scale")->valuedouble == 0.5);
    assert_true(at(r, "settings", "slots")->valuedouble == 6);
    assert_string_equal(at(r, "settings", "decoding")->valuestring, "greedy");
    assert_true(cJSON_IsFalse(at(r, "contamination", "checked")));
    assert_string_equal(at(r, "contamination", "why")->valuestring, "--no-contam");
    assert_null(at(r, "prompts", NULL));
    const cJSON *bench = cJSON_GetArrayItem(at(r, "benchmarks", NULL), 0);
    assert_string_equal(at(bench, "benchmark", NULL)->valuestring, "gsm8k");
    const cJSON *it = cJSON_GetArrayItem(at(bench, "items", NULL), 0);
    assert_string_equal(at(it, "prompt", NULL)->valuestring, "What is 2 + 2?");
    cJSON_Delete(r);
    /* the verdicts: the record's decided ones, else the run's own */
    enum loco_gate_verdict v[2];
    struct loco_eval_bench two[2] = {b, b};
    snprintf(two[1].name, sizeof two[1].name, "mbpp");
    two[1].verdict = LOCO_VERDICT_UNINFORMATIVE;
    const char *merged = "{\"record\": \"locollm-eval/1\", \"benchmarks\": [{\"benchmark\": "
                         "\"gsm8k\", \"verdict\": \"FAIL\"}]}";
    loco_eval_record_verdicts(merged, two, 2, v);
    assert_int_equal(v[0], LOCO_VERDICT_FAIL);
    assert_int_equal(v[1], LOCO_VERDICT_UNINFORMATIVE);
    loco_eval_record_verdicts(text, two, 2, v);
    assert_int_equal(v[0], LOCO_VERDICT_PASS);
    free(text);
    /* prompts left out: said at the top, gone from the items */
    info.omit_prompts = true;
    info.contam_checked = true;
    snprintf(info.contam_recipe, sizeof info.contam_recipe, "recipes/math.yaml");
    info.contam_examples = 957;
    text = loco_eval_record_json(&info, &p, &b, 1);
    r = cJSON_Parse(text);
    assert_non_null(at(r, "prompts", NULL));
    it = cJSON_GetArrayItem(at(cJSON_GetArrayItem(at(r, "benchmarks", NULL), 0), "items", NULL), 0);
    assert_null(at(it, "prompt", NULL));
    assert_string_equal(at(it, "id", NULL)->valuestring, "q1");
    assert_true(at(r, "contamination", "training_examples")->valuedouble == 957);
    assert_null(at(r, "contamination", "why"));
    cJSON_Delete(r);
    free(text);
}

static void test_verdict_passes(void **state)
{
    (void)state;
    assert_true(loco_eval_verdict_passes(LOCO_VERDICT_PASS, LOCO_GATE_SUPERIORITY));
    assert_true(loco_eval_verdict_passes(LOCO_VERDICT_PASS, LOCO_GATE_NONINFERIORITY));
    assert_true(loco_eval_verdict_passes(LOCO_VERDICT_UNINFORMATIVE, LOCO_GATE_NONINFERIORITY));
    assert_false(loco_eval_verdict_passes(LOCO_VERDICT_UNINFORMATIVE, LOCO_GATE_SUPERIORITY));
    assert_false(loco_eval_verdict_passes(LOCO_VERDICT_FAIL, LOCO_GATE_SUPERIORITY));
    assert_false(loco_eval_verdict_passes(LOCO_VERDICT_FAIL, LOCO_GATE_NONINFERIORITY));
}

/* ---- prompt formats ---------------------------------------------------------- */

static void test_prompt_formats(void **state)
{
    (void)state;
    size_t n = 0;
    const struct loco_prompt_format *all = loco_prompt_formats(&n);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(loco_prompt_format_find(all[i].name), &all[i]);
        assert_true(all[i].prompt[0] && all[i].about[0]);
    }
    assert_null(loco_prompt_format_find("nosuch"));
    assert_non_null(strstr(loco_error_message(), "no prompt format 'nosuch'"));
    assert_null(loco_prompt_format_find("humaneval")->response); /* evaluation only */
    /* rendered as a recipe renders it: a list one element per line */
    cJSON *rec = cJSON_Parse("{\"text\": \"Add one.\", \"test_list\": [\"assert f(1) == 2\", "
                             "\"assert f(2) == 3\"], \"code\": \"def f(x): return x + 1\"}");
    const struct loco_prompt_format *f = loco_prompt_format_find("mbpp");
    char *prompt = loco_train_template_expand(f->prompt, rec);
    char *response = loco_train_template_expand(f->response, rec);
    assert_string_equal(prompt, "Add one.\nYour code should pass these tests:\nassert f(1) == 2\n"
                                "assert f(2) == 3");
    assert_string_equal(response, "def f(x): return x + 1");
    free(prompt);
    free(response);
    cJSON_Delete(rec);
}

/* The shipped recipes train on the prompts the benchmarks evaluate with. */
static void test_recipes_share_formats(void **state)
{
    (void)state;
    const char *src = getenv("LOCO_SOURCE_DIR");
    static const char *const pairs[][2] = {
        {"math", "gsm8k"}, {"code", "mbpp"}, {"summarisation", "summarisation"}};
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/recipes/%s.yaml", src ? src : ".", pairs[i][0]);
        struct loco_recipe *r = loco_recipe_load(path);
        if (!r)
            fail_msg("cannot read %s (set LOCO_SOURCE_DIR): %s", path, loco_error_message());
        const struct loco_prompt_format *f = loco_prompt_format_find(pairs[i][1]);
        assert_int_equal(r->format, LOCO_DATA_FIELDS);
        assert_string_equal(r->prompt, f->prompt);
        assert_string_equal(r->response, f->response);
        loco_recipe_free(r);
    }
}

/* A recipe may name the format instead of writing its templates. */
static void test_recipe_names_format(void **state)
{
    (void)state;
    const char *head = "name: c\ndomain: code\nbase: default\ndata:\n  path: none.jsonl\n";
    char text[1024];
    snprintf(text, sizeof text, "%s  prompt_format: mbpp\n", head);
    struct loco_recipe *r = loco_recipe_parse(text, strlen(text), "/tmp/r.yaml");
    assert_non_null(r);
    assert_int_equal(r->format, LOCO_DATA_FIELDS);
    assert_string_equal(r->prompt, loco_prompt_format_find("mbpp")->prompt);
    assert_string_equal(r->response, "{code}");
    loco_recipe_free(r);
    snprintf(text, sizeof text, "%s  prompt_format: mbpp\n  prompt: \"{text}\"\n", head);
    assert_null(loco_recipe_parse(text, strlen(text), "/tmp/r.yaml"));
    assert_non_null(strstr(loco_error_message(), "data.prompt_format gives the format"));
    snprintf(text, sizeof text, "%s  prompt_format: humaneval\n", head); /* evaluation only */
    assert_null(loco_recipe_parse(text, strlen(text), "/tmp/r.yaml"));
    assert_non_null(strstr(loco_error_message(), "expected gsm8k, mbpp or summarisation"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_check),        cmocka_unit_test(test_default_benches),
        cmocka_unit_test(test_record_schema),       cmocka_unit_test(test_verdict_passes),
        cmocka_unit_test(test_prompt_formats),      cmocka_unit_test(test_recipes_share_formats),
        cmocka_unit_test(test_recipe_names_format),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
