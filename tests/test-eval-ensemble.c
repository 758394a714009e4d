/*
 * test-eval-ensemble.c - strategy ensemble in an evaluation
 * (docs/strategies.md, "ensemble in loco eval"): the parameters the
 * library refuses (members, ensemble:N, what it does not combine with)
 * and what the record says of the members (each benchmark's "ensemble",
 * the settings' "members"). Needs no model: the run itself, on the tiny
 * model with trained adapters, is tests/cli/t0725-eval-ensemble.sh.
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

static const struct loco_eval_member two[2] = {{"math", NULL, 1}, {"base model", NULL, 0}};

static struct loco_eval_params ensemble_params(int32_t n_max)
{
    struct loco_eval_params p = loco_eval_default_params();
    p.strategy = (struct loco_strategy){.kind = LOCO_STRATEGY_ENSEMBLE, .k = n_max};
    p.members = two;
    p.n_members = 2;
    return p;
}

static void test_params(void **state)
{
    (void)state;
    struct loco_eval_params p = ensemble_params(0);
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
    p.n_members = 1; /* one voter is no vote: the caller adds the base model */
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "2 to 16 members"));
    p.n_members = LOCO_EVAL_MAX_MEMBERS + 1;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    p = ensemble_params(0);
    p.members = NULL;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    /* ensemble:2 takes two members at most */
    struct loco_eval_member three[3] = {two[0], two[1], {"math-b", NULL, 2}};
    p = ensemble_params(2);
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
    p.members = three;
    p.n_members = 3;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "at most N under ensemble:N"));
    /* one greedy answer per member, generated here */
    p = ensemble_params(0);
    p.samples = 2;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_UNSUPPORTED);
    p = ensemble_params(0);
    p.engine.url = "http://127.0.0.1:9";
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_UNSUPPORTED);
    p = ensemble_params(0);
    struct loco_adapter_ref also = {NULL, 1.0f};
    p.also = &also;
    p.n_also = 1;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_UNSUPPORTED);
    /* members mean nothing to another strategy */
    p = ensemble_params(0);
    p.strategy = (struct loco_strategy){.kind = LOCO_STRATEGY_RE2, .k = 1};
    p.n_members = 0;
    assert_int_equal(loco_eval_params_check(&p), LOCO_OK);
}

/* A benchmark of two items that an ensemble of math (#1) and the base
 * model answered: item a won by math with a tie, item b by the base model. */
static void two_item_bench(struct loco_eval_bench *b, struct loco_eval_item *items)
{
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "gsm8k");
    snprintf(b->metric, sizeof b->metric, "accuracy");
    b->binary = true;
    b->n = b->n_used = 2;
    b->items = items;
    b->n_members = 2;
    b->members[0] = (struct loco_eval_member_result){
        .name = "math", .rank = 1, .score = 0.5, .n_won = 1, .gen_ms = 12.5, .n_tokens = 40};
    memset(b->members[0].sha256, 'a', 64);
    b->members[1] = (struct loco_eval_member_result){
        .name = "base model", .score = 1.0, .n_won = 1, .n_cached = 2, .n_tokens = 30};
    char *texts[4] = {"A: 4", "B: 4", "A: 7", "B: 8"};
    for (int i = 0; i < 2; i++) {
        items[i] = (struct loco_eval_item){.id = i ? "b" : "a", .prompt = "q"};
        items[i].output[0] = texts[2 * i];
        items[i].output[1] = texts[2 * i + 1];
        items[i].vote[1] = (struct loco_eval_vote){.k = 2, .winner = i, .share = 0.5};
        snprintf(items[i].vote[1].by, sizeof items[i].vote[1].by, "number");
    }
}

static void test_bench_json(void **state)
{
    (void)state;
    struct loco_eval_bench b;
    struct loco_eval_item items[2];
    two_item_bench(&b, items);
    char *text = loco_eval_bench_json(&b, true);
    assert_non_null(text);
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "ensemble");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "vote")->valuestring, "number");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "members");
    assert_int_equal(cJSON_GetArraySize(m), 2);
    const cJSON *m0 = cJSON_GetArrayItem(m, 0), *m1 = cJSON_GetArrayItem(m, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m0, "name")->valuestring, "math");
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(m0, "sha256")->valuestring), 64);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m0, "rank")->valueint, 1);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(m0, "score")->valuedouble, 0.5, 1e-12);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m0, "won")->valueint, 1);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(m0, "ms")->valuedouble, 12.5, 1e-12);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m1, "name")->valuestring, "base model");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m1, "sha256")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m1, "rank")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(m1, "cached")->valueint, 2);
    /* each item's vote names the member's index */
    const cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "items"), 1);
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "adapter"), "vote");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(v, "winner")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(v, "k")->valueint, 2);
    assert_null(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "base"), "vote"));
    cJSON_Delete(o);
    /* a benchmark without members has no "ensemble" (older records read the same) */
    b.n_members = 0;
    text = loco_eval_bench_json(&b, false);
    o = cJSON_Parse(text);
    free(text);
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "ensemble"));
    cJSON_Delete(o);
}

static void test_record_settings(void **state)
{
    (void)state;
    struct loco_eval_record_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.adapter_name, sizeof info.adapter_name, "math");
    struct loco_eval_params p = ensemble_params(2);
    struct loco_eval_bench b;
    struct loco_eval_item items[2];
    two_item_bench(&b, items);
    char *text = loco_eval_record_json(&info, &p, &b, 1);
    assert_non_null(text);
    cJSON *r = cJSON_Parse(text);
    free(text);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "settings");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(s, "strategy")->valuestring, "ensemble:2");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(s, "compares")->valuestring,
                           "vs ensemble (adapter)"));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "members");
    assert_int_equal(cJSON_GetArraySize(m), 2);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(m, 0), "name")->valuestring, "math");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(m, 0), "rank")->valueint,
                     1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(m, 1), "path")));
    cJSON_Delete(r);
    /* another strategy's settings have no members */
    p.strategy = (struct loco_strategy){.kind = LOCO_STRATEGY_RE2, .k = 1};
    text = loco_eval_record_json(&info, &p, &b, 0);
    r = cJSON_Parse(text);
    free(text);
    s = cJSON_GetObjectItemCaseSensitive(r, "settings");
    assert_null(cJSON_GetObjectItemCaseSensitive(s, "members"));
    cJSON_Delete(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_bench_json),
        cmocka_unit_test(test_record_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
