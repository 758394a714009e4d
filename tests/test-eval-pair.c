/*
 * test-eval-pair.c - loco_eval_pair: one side of a stored record against one
 * side of another, item by item. Records are built here as loco eval writes
 * them (benchmarks[].items[] with id, base.score, adapter.score and an
 * optional contamination.flagged; the benchmark's test and contamination
 * summary); the statistics must be the harness's own on the same pairs, in
 * the first record's order (loco_stats_binary_paired / _continuous_paired).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loco/eval.h"
#include "testutil.h"

/* A record with benchmark `bench`, scored by McNemar when `binary`, else
 * Wilcoxon; its run decontaminated when `decon`: item i has id "q<ids[i]>",
 * base score base[i], adapter score adapter[i] (NAN: no score on that side)
 * and is flagged when flagged[i]. Returns the JSON text (malloc'd). */
static char *record(const char *bench, bool binary, bool decon, const int *ids, const double *base,
                    const double *adapter, const int *flagged, size_t n)
{
    cJSON *r = cJSON_CreateObject(), *benches = cJSON_AddArrayToObject(r, "benchmarks");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToArray(benches, b);
    cJSON_AddStringToObject(b, "benchmark", bench);
    cJSON_AddStringToObject(b, "test", binary ? "exact McNemar" : "Wilcoxon signed-rank");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(b, "contamination"), "decontaminated", decon);
    cJSON *items = cJSON_AddArrayToObject(b, "items");
    for (size_t i = 0; i < n; i++) {
        cJSON *it = cJSON_CreateObject();
        char id[32];
        snprintf(id, sizeof id, "q%d", ids[i]);
        cJSON_AddStringToObject(it, "id", id);
        cJSON *bs = cJSON_AddObjectToObject(it, "base"),
              *as = cJSON_AddObjectToObject(it, "adapter");
        cJSON_AddStringToObject(bs, "output", "answer");
        if (!isnan(base[i]))
            cJSON_AddNumberToObject(bs, "score", base[i]);
        if (!isnan(adapter[i]))
            cJSON_AddNumberToObject(as, "score", adapter[i]);
        if (flagged && flagged[i])
            cJSON_AddBoolToObject(cJSON_AddObjectToObject(it, "contamination"), "flagged", 1);
        cJSON_AddItemToArray(items, it);
    }
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

/* Pass/fail items in two records listed in different orders, some ids in
 * one only, one flagged in a decontaminated run: the pairs are matched by
 * id, and the statistics are loco_stats_binary_paired's on the matched pairs
 * the runs kept. */
static void test_binary_by_id(void **state)
{
    (void)state;
    const int ida[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const double ba[] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1};
    const double aa[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const int fa[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    const int idb[] = {9, 3, 7, 1, 5, 12, 2, 10, 4, 6, 8};
    const double bb[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    const double ab[] = {1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0};
    char *a = record("gsm8k", true, true, ida, ba, aa, fa, 11);
    char *b = record("gsm8k", true, false, idb, bb, ab, NULL, 11);
    struct loco_stats_params sp = loco_stats_default_params();
    struct loco_eval_pair p;
    assert_int_equal(
        loco_eval_pair(a, LOCO_EVAL_SIDE_BASE, b, LOCO_EVAL_SIDE_ADAPTER, NULL, &sp, &p), LOCO_OK);
    assert_string_equal(p.bench, "gsm8k");
    assert_true(p.binary);
    assert_int_equal(p.n_first, 11);
    assert_int_equal(p.n_second, 11);
    assert_int_equal(p.n_dropped, 1); /* q10 */
    /* ids 1-9 pair (11 is in the first only, 12 in the second only), in the
     * first record's order: first (base of a) and second (adapter of b) */
    const uint8_t x[] = {1, 0, 0, 1, 0, 0, 1, 0, 0};
    const uint8_t y[] = {0, 0, 1, 1, 1, 1, 1, 0, 1};
    struct loco_binary_paired want;
    assert_int_equal(loco_stats_binary_paired(x, y, 9, &sp, &want), LOCO_OK);
    assert_int_equal(p.bin.n, 9);
    assert_int_equal(p.bin.b, want.b);
    assert_int_equal(p.bin.c, want.c);
    assert_int_equal(p.bin.n11, 2);
    assert_true(p.bin.diff == want.diff && p.bin.p_value == want.p_value);
    assert_true(p.bin.diff_ci.lo == want.diff_ci.lo && p.bin.diff_ci.hi == want.diff_ci.hi);
    /* the same flag in a run that was not decontaminated: the item counts */
    char *c = record("gsm8k", true, false, ida, ba, aa, fa, 11);
    assert_int_equal(
        loco_eval_pair(c, LOCO_EVAL_SIDE_BASE, b, LOCO_EVAL_SIDE_ADAPTER, NULL, NULL, &p), LOCO_OK);
    assert_int_equal(p.n_dropped, 0);
    assert_int_equal(p.bin.n, 10);
    free(a);
    free(b);
    free(c);
}

/* Scores between 0 and 1 (ROUGE): the continuous analysis; an item without
 * a score on the chosen side is not paired; the benchmark is found by name
 * among several. */
static void test_continuous_and_named_bench(void **state)
{
    (void)state;
    /* not in id order: the bootstrap resamples by position, as in the run */
    const int id[] = {3, 10, 6, 2, 5, 4, 1};
    const double base[] = {0.2, 0.1, 0.4, 0.3, 0.25, 0.5, 0.15};
    const double adapter[] = {0.3, NAN, 0.35, 0.45, 0.3, 0.55, 0.1};
    char *one = record("summarisation", false, false, id, base, adapter, NULL, 7);
    /* the same benchmark second in a two-benchmark record */
    cJSON *r = cJSON_Parse(one), *other = cJSON_CreateObject();
    cJSON_AddStringToObject(other, "benchmark", "mbpp");
    cJSON_InsertItemInArray(cJSON_GetObjectItem(r, "benchmarks"), 0, other);
    char *two = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    struct loco_stats_params sp = loco_stats_default_params();
    struct loco_eval_pair p;
    assert_int_equal(loco_eval_pair(one, LOCO_EVAL_SIDE_BASE, two, LOCO_EVAL_SIDE_ADAPTER,
                                    "summarisation", &sp, &p),
                     LOCO_OK);
    assert_false(p.binary);
    assert_int_equal(p.n_second, 6);
    const double x[] = {0.2, 0.4, 0.3, 0.25, 0.5, 0.15}, y[] = {0.3, 0.35, 0.45, 0.3, 0.55, 0.1};
    struct loco_continuous_paired want;
    assert_int_equal(loco_stats_continuous_paired(x, y, 6, &sp, &want), LOCO_OK);
    assert_int_equal(p.cont.n, 6);
    assert_true(p.cont.diff == want.diff && p.cont.p_value == want.p_value);
    assert_true(p.cont.diff_ci.lo == want.diff_ci.lo && p.cont.diff_ci.hi == want.diff_ci.hi);
    /* with two benchmarks the first record must name one */
    assert_int_not_equal(
        loco_eval_pair(two, LOCO_EVAL_SIDE_BASE, one, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p), LOCO_OK);
    assert_non_null(strstr(loco_error_message(), "name one"));
    free(one);
    free(two);
}

/* Clear errors: not JSON, a benchmark one record lacks, a side without a
 * score, fewer than 2 pairs, missing arguments. */
static void test_errors(void **state)
{
    (void)state;
    const int id[] = {1, 2, 3};
    const double s[] = {1, 0, 1}, none[] = {NAN, NAN, NAN};
    const int other_ids[] = {3, 4, 5};
    char *a = record("gsm8k", true, false, id, s, none, NULL, 3);
    char *b = record("mbpp", true, false, id, s, s, NULL, 3);
    char *c = record("gsm8k", true, false, other_ids, s, s, NULL, 3);
    char *d = record("gsm8k", false, false, id, s, s, NULL, 3);
    struct loco_stats_params sp = loco_stats_default_params();
    struct loco_eval_pair p;
    assert_int_equal(
        loco_eval_pair("{", LOCO_EVAL_SIDE_BASE, a, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
        LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "first record is not JSON"));
    assert_int_equal(loco_eval_pair(a, LOCO_EVAL_SIDE_BASE, b, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "second record has no benchmark 'gsm8k'"));
    assert_int_equal(
        loco_eval_pair(a, LOCO_EVAL_SIDE_ADAPTER, a, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
        LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "adapter side has no scored items"));
    assert_int_equal(loco_eval_pair(a, LOCO_EVAL_SIDE_BASE, c, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "1 item(s) pair"));
    /* pass/fail in one run, scores in the other */
    assert_int_equal(loco_eval_pair(a, LOCO_EVAL_SIDE_BASE, d, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
                     LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "different tests"));
    /* items as an object, not a list: refused, not walked */
    cJSON *r = cJSON_Parse(a);
    cJSON *bench = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "benchmarks"), 0);
    cJSON_ReplaceItemInObject(bench, "items",
                              cJSON_Parse("{\"a\":{\"id\":\"q1\",\"base\":{\"score\":1}}}"));
    char *e = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    assert_int_equal(loco_eval_pair(e, LOCO_EVAL_SIDE_BASE, a, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
                     LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "no item list"));
    assert_int_equal(
        loco_eval_pair(NULL, LOCO_EVAL_SIDE_BASE, a, LOCO_EVAL_SIDE_BASE, NULL, &sp, &p),
        LOCO_ERR_INVALID);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* An item the run could not rate (judged benchmarks) pairs with nothing. */
static void test_unrated(void **state)
{
    (void)state;
    const int id[] = {1, 2, 3, 4};
    const double s[] = {0.2, 0.4, 0.6, 0.8}, t[] = {0.3, 0.3, 0.7, 0.9};
    char *a = record("judge", false, false, id, s, t, NULL, 4);
    cJSON *r = cJSON_Parse(a);
    cJSON *items =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "benchmarks"), 0), "items");
    cJSON_AddBoolToObject(cJSON_GetArrayItem(items, 1), "unrated", 1);
    char *b = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    struct loco_eval_pair p;
    assert_int_equal(
        loco_eval_pair(b, LOCO_EVAL_SIDE_BASE, b, LOCO_EVAL_SIDE_ADAPTER, NULL, NULL, &p), LOCO_OK);
    assert_int_equal(p.cont.n, 3);
    assert_int_equal(p.n_dropped, 1);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_by_id),
        cmocka_unit_test(test_continuous_and_named_bench),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unrated),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
