/*
 * test-eval-runs.c - planned n, reruns and verdicts in the evaluation
 * record (loco/eval.h): loco_eval_plan_bench, loco_eval_plan_json,
 * loco_eval_record_merge and loco_eval_record_regate, on records built
 * here (no model, no data set).
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

#include "loco/eval.h"
#include "testutil.h"

/* A one-benchmark record of a pass/fail run: n items, the base right on
 * `base_k`, b items the base alone right, c the adapter alone. */
static char *record(const char *adapter_sha, const char *bench, bool in_domain, int n, int base_k,
                    int b, int c, const char *date)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "record", "locollm-eval/1");
    cJSON_AddStringToObject(r, "date", date);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "model"), "sha256", "m0");
    cJSON *a = cJSON_AddObjectToObject(r, "adapter");
    cJSON_AddStringToObject(a, "name", "code");
    cJSON_AddStringToObject(a, "sha256", adapter_sha);
    cJSON *s = cJSON_AddObjectToObject(r, "settings");
    cJSON_AddNumberToObject(s, "limit", n);
    cJSON_AddNumberToObject(s, "alpha", 0.05);
    cJSON_AddNumberToObject(s, "non_inferiority_margin", 0.05);
    cJSON *arr = cJSON_AddArrayToObject(r, "benchmarks");
    if (bench) {
        cJSON *e = cJSON_CreateObject();
        double base = (double)base_k / n, ad = (double)(base_k - b + c) / n;
        cJSON_AddStringToObject(e, "benchmark", bench);
        cJSON_AddStringToObject(e, "metric", "accuracy");
        cJSON_AddNumberToObject(e, "n_items", n);
        cJSON_AddNumberToObject(e, "n_used", n);
        cJSON_AddNumberToObject(e, "base_score", base);
        cJSON_AddNumberToObject(e, "adapter_score", ad);
        cJSON_AddNumberToObject(e, "diff", ad - base);
        cJSON *ci = cJSON_AddArrayToObject(e, "diff_ci95");
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(ad - base - 0.04));
        cJSON_AddItemToArray(ci, cJSON_CreateNumber(ad - base + 0.04));
        cJSON_AddNumberToObject(e, "p_value", 0.5);
        cJSON *pairs = cJSON_AddObjectToObject(e, "pairs");
        cJSON_AddNumberToObject(pairs, "base_only", b);
        cJSON_AddNumberToObject(pairs, "adapter_only", c);
        cJSON_AddBoolToObject(e, "in_domain", in_domain);
        cJSON_AddStringToObject(e, "gate", in_domain ? "superiority" : "non-inferiority");
        cJSON_AddBoolToObject(e, "passed", !in_domain);
        cJSON_AddStringToObject(e, "why", "stored");
        cJSON_AddItemToArray(arr, e);
    }
    char *t = cJSON_Print(r);
    cJSON_Delete(r);
    return t;
}

static const cJSON *bench0(const cJSON *r)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(r, "benchmarks"), 0);
}

static const char *sget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double nget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_plan_bench_sources(void **state)
{
    (void)state;
    struct loco_eval_plan_bench pl;
    /* 1. a previous record: its discordance (12 of 200 pairs) and base score */
    char *prev = record("a1", "mbpp", true, 200, 10, 4, 8, "2026-11-27T13:00:00Z");
    assert_int_equal(loco_eval_plan_bench("mbpp", true, LOCO_GATE_SUPERIORITY, prev, NAN, NAN, 0.05,
                                          0.05, 0.8, &pl),
                     LOCO_OK);
    assert_true(fabs(pl.stats.spread - 0.06) < 1e-12);
    assert_true(fabs(pl.base_rate - 0.05) < 1e-12);
    assert_non_null(strstr(pl.basis, "12 of 200 pairs"));
    assert_false(pl.floor);
    /* 2. a base rate: independent errors */
    assert_int_equal(loco_eval_plan_bench("gsm8k", true, LOCO_GATE_SUPERIORITY, prev, 0.024, NAN,
                                          0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    assert_true(fabs(pl.stats.spread - loco_stats_disc_independent(0.024, 0.05)) < 1e-12);
    assert_non_null(strstr(pl.basis, "base rate 0.024"));
    /* non-inferiority at the floor: uninformative at any n */
    assert_int_equal(loco_eval_plan_bench("gsm8k", true, LOCO_GATE_NONINFERIORITY, NULL, 0.020, NAN,
                                          0.05, 0.05, 0.8, &pl),
                     LOCO_OK);
    assert_true(pl.floor);
    /* 3. an assumption, said so */
    assert_int_equal(loco_eval_plan_bench("x", true, LOCO_GATE_SUPERIORITY, NULL, NAN, NAN, 0.05,
                                          0.05, 0.8, &pl),
                     LOCO_OK);
    assert_non_null(strstr(pl.basis, "assumed 0.500"));
    assert_int_equal(loco_eval_plan_bench("s", false, LOCO_GATE_SUPERIORITY, NULL, NAN, NAN, 0.05,
                                          0.05, 0.8, &pl),
                     LOCO_OK);
    assert_true(fabs(pl.stats.spread - 0.5) < 1e-12);
    assert_non_null(strstr(pl.basis, "assumed"));
    assert_int_equal(loco_eval_plan_bench("s", false, LOCO_GATE_SUPERIORITY, NULL, NAN, 0.2, 0.05,
                                          0.05, 0.8, &pl),
                     LOCO_OK);
    assert_int_equal(pl.stats.n, 126);
    assert_non_null(strstr(pl.basis, "stated sd 0.200"));
    assert_int_equal(
        loco_eval_plan_bench("s", false, LOCO_GATE_SUPERIORITY, NULL, NAN, 0.2, 0, 0.05, 0.8, &pl),
        LOCO_ERR_INVALID);
    /* the plan's JSON */
    struct loco_eval_plan_bench two[2];
    loco_eval_plan_bench("mbpp", true, LOCO_GATE_SUPERIORITY, prev, NAN, NAN, 0.05, 0.05, 0.8,
                         &two[0]);
    loco_eval_plan_bench("gsm8k", true, LOCO_GATE_NONINFERIORITY, NULL, 0.02, NAN, 0.05, 0.05, 0.8,
                         &two[1]);
    char *pj = loco_eval_plan_json(two, 2, 0.05, 0.8, "2026-12-01T00:00:00Z");
    cJSON *p = cJSON_Parse(pj);
    assert_non_null(p);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "benchmarks"), 0);
    assert_string_equal(sget(e, "benchmark"), "mbpp");
    assert_true(nget(e, "planned_n") == two[0].stats.n);
    assert_true(nget(e, "effect") == 0.05);
    e = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "benchmarks"), 1);
    assert_true(nget(e, "margin") == 0.05);
    assert_non_null(strstr(sget(e, "floor"), "uninformative"));
    cJSON_Delete(p);
    free(pj);
    free(prev);
}

/* The optional-stopping case: run 1 fails on 100 items, run 2 on 200
 * passes; the record keeps both and the verdict stays run 1's. */
static void test_merge_decides_once(void **state)
{
    (void)state;
    char *r1text = record("a1", "summarisation", true, 100, 10, 5, 6, "2026-11-27T10:00:00Z");
    cJSON *x1 = cJSON_Parse(r1text);
    free(r1text);
    cJSON *items = cJSON_CreateArray();
    cJSON_AddItemToArray(items, cJSON_Parse("{\"id\": \"xsum-601\"}"));
    cJSON_AddItemToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(x1, "benchmarks"), 0), "items",
                          items);
    char *r1 = cJSON_Print(x1);
    cJSON_Delete(x1);
    char *m1 = NULL, note[1024];
    assert_int_equal(loco_eval_record_merge(NULL, r1, NULL, &m1, note, sizeof note), LOCO_OK);
    cJSON *j = cJSON_Parse(m1);
    assert_true(nget(j, "run") == 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "runs")), 1);
    assert_true(nget(bench0(j), "decided_by_run") == 1);
    assert_string_equal(sget(bench0(j), "verdict"), "FAIL");
    cJSON_Delete(j);
    /* run 2: more items, and this time a significant gain */
    char *r2text = record("a1", "summarisation", true, 200, 20, 2, 20, "2026-11-28T10:00:00Z");
    cJSON *x = cJSON_Parse(r2text);
    free(r2text);
    cJSON *xb = cJSON_GetArrayItem(cJSON_GetObjectItem(x, "benchmarks"), 0);
    cJSON_ReplaceItemInObject(xb, "passed", cJSON_CreateTrue());
    cJSON_AddStringToObject(xb, "verdict", "PASS");
    char *r2 = cJSON_Print(x);
    cJSON_Delete(x);
    char *m2 = NULL;
    assert_int_equal(loco_eval_record_merge(m1, r2, NULL, &m2, note, sizeof note), LOCO_OK);
    j = cJSON_Parse(m2);
    const cJSON *b = bench0(j);
    assert_true(nget(j, "run") == 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "runs")), 2);
    assert_string_equal(sget(b, "verdict"), "FAIL"); /* decided by run 1 */
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(b, "passed")));
    assert_string_equal(sget(b, "run_verdict"), "PASS");
    assert_true(nget(b, "rerun") == 2);
    assert_true(nget(b, "decided_by_run") == 1);
    assert_non_null(strstr(sget(b, "why"), "decided by run 1 on n=100"));
    assert_non_null(strstr(note, "rerun 2 of summarisation"));
    assert_non_null(strstr(note, "no plan"));
    /* the runs list keeps each run's own figures */
    const cJSON *runs = cJSON_GetObjectItem(j, "runs");
    const cJSON *s1 = bench0(cJSON_GetArrayItem(runs, 0)),
                *s2 = bench0(cJSON_GetArrayItem(runs, 1));
    assert_true(nget(s1, "n_used") == 100 && nget(s2, "n_used") == 200);
    assert_string_equal(sget(s1, "verdict"), "FAIL");
    assert_string_equal(sget(s2, "verdict"), "PASS");
    /* run 1's items moved into its summary; run 2's are the benchmark's own */
    assert_string_equal(sget(cJSON_GetArrayItem(cJSON_GetObjectItem(s1, "items"), 0), "id"),
                        "xsum-601");
    assert_null(cJSON_GetObjectItem(s2, "items"));
    cJSON_Delete(j);
    /* another adapter file at the same path: a new series */
    char *r3 = record("a2", "summarisation", true, 100, 10, 0, 9, "2026-11-29T10:00:00Z");
    char *m3 = NULL;
    assert_int_equal(loco_eval_record_merge(m2, r3, NULL, &m3, note, sizeof note), LOCO_OK);
    j = cJSON_Parse(m3);
    assert_true(nget(j, "run") == 1);
    assert_non_null(strstr(note, "another adapter file"));
    assert_false(loco_eval_record_same_series(m2, r3));
    assert_true(loco_eval_record_same_series(m1, m2));
    assert_false(loco_eval_record_same_series(m1, "{}"));
    cJSON_Delete(j);
    char *bad = NULL;
    assert_int_equal(loco_eval_record_merge(NULL, "{\"x\": 1}", NULL, &bad, NULL, 0),
                     LOCO_ERR_FORMAT);
    assert_null(bad);
    free(r1);
    free(r2);
    free(r3);
    free(m1);
    free(m2);
    free(m3);
}

/* A plan recorded first (a record with no runs), then runs: the planned n
 * is set, and a decision on another n says so. */
static void test_merge_with_plan(void **state)
{
    (void)state;
    struct loco_eval_plan_bench pl;
    loco_eval_plan_bench("gsm8k", true, LOCO_GATE_NONINFERIORITY, NULL, 0.3, NAN, 0.05, 0.05, 0.8,
                         &pl);
    char *pj = loco_eval_plan_json(&pl, 1, 0.05, 0.8, "2026-12-01T00:00:00Z");
    char *head = record("a1", NULL, false, 0, 0, 0, 0, "2026-12-01T00:00:00Z");
    char *m0 = NULL, *m1 = NULL, note[1024];
    assert_int_equal(loco_eval_record_merge(NULL, head, pj, &m0, note, sizeof note), LOCO_OK);
    cJSON *j = cJSON_Parse(m0);
    assert_true(nget(j, "run") == 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "runs")), 0);
    assert_non_null(cJSON_GetObjectItem(j, "plan"));
    cJSON_Delete(j);
    char *r1 = record("a1", "gsm8k", false, 100, 30, 2, 2, "2026-12-02T00:00:00Z");
    assert_int_equal(loco_eval_record_merge(m0, r1, NULL, &m1, note, sizeof note), LOCO_OK);
    j = cJSON_Parse(m1);
    const cJSON *b = bench0(j);
    assert_true(nget(b, "planned_n") == pl.stats.n);
    char want[96];
    snprintf(want, sizeof want, "decided on n=100, planned n=%u", pl.stats.n);
    assert_string_equal(sget(b, "plan_note"), want);
    assert_non_null(strstr(sget(b, "why"), want));
    assert_non_null(strstr(note, want));
    assert_true(nget(j, "run") == 1);
    cJSON_Delete(j);
    free(pj);
    free(head);
    free(m0);
    free(m1);
    free(r1);
}

/* Re-gating a stored record: code's out-of-domain GSM8K check (base 0.020,
 * stored PASS) becomes uninformative; an informative one is unchanged. */
static void test_regate(void **state)
{
    (void)state;
    char *r = record("a1", "gsm8k", false, 100, 2, 1, 2, "2026-11-27T13:04:54Z");
    char *out = NULL, changes[512];
    assert_int_equal(loco_eval_record_regate(r, &out, changes, sizeof changes), LOCO_OK);
    cJSON *j = cJSON_Parse(out);
    const cJSON *b = bench0(j);
    assert_string_equal(sget(b, "verdict"), "uninformative");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(b, "passed")));
    assert_non_null(strstr(sget(b, "why"), "the floor rule"));
    assert_string_equal(changes, "gsm8k (non-inferiority): PASS -> uninformative\n");
    cJSON_Delete(j);
    free(out);
    free(r);
    r = record("a1", "summarisation", false, 100, 30, 1, 1, "2026-11-27T13:04:54Z");
    assert_int_equal(loco_eval_record_regate(r, &out, changes, sizeof changes), LOCO_OK);
    j = cJSON_Parse(out);
    assert_string_equal(sget(bench0(j), "verdict"), "PASS");
    assert_string_equal(changes, "");
    cJSON_Delete(j);
    /* re-gating twice changes nothing more */
    char *again = NULL;
    assert_int_equal(loco_eval_record_regate(out, &again, changes, sizeof changes), LOCO_OK);
    assert_string_equal(changes, "");
    free(again);
    free(out);
    free(r);
    assert_int_equal(loco_eval_record_regate("[]", &out, NULL, 0), LOCO_ERR_FORMAT);
}

static void test_bench_name(void **state)
{
    (void)state;
    char name[64];
    loco_eval_bench_name("gsm8k", name, sizeof name);
    assert_string_equal(name, "gsm8k");
    loco_eval_bench_name("data/My Maths.jsonl", name, sizeof name);
    assert_string_equal(name, "my-maths");
    loco_eval_bench_name("/tmp/x/held_out.v2.jsonl", name, sizeof name);
    assert_string_equal(name, "held_out.v2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_bench_sources),
        cmocka_unit_test(test_merge_decides_once),
        cmocka_unit_test(test_merge_with_plan),
        cmocka_unit_test(test_regate),
        cmocka_unit_test(test_bench_name),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
