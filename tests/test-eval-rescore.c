/*
 * test-eval-rescore.c - a stored record scored again by the current
 * scorers (loco_eval_record_rescore): records built here whose stored
 * scores are deliberately wrong, for custom numeric and code_execution
 * benchmarks written here, a judged benchmark (its judgments stand) and,
 * when ../shared has it, the built-in gsm8k. The code tests skip when
 * python3 is absent; the gsm8k test when ../shared is.
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
#include "loco/sandbox.h"
#include "testutil.h"

/* ---- building records --------------------------------------------------------- */

static cJSON *new_record(void)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "record", "locollm-eval/1");
    cJSON_AddStringToObject(r, "date", "2026-11-27T13:04:54Z");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "model"), "sha256", "m0");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "adapter"), "sha256", "a0");
    cJSON *s = cJSON_AddObjectToObject(r, "settings");
    cJSON_AddNumberToObject(s, "alpha", 0.05);
    cJSON_AddNumberToObject(s, "non_inferiority_margin", 0.05);
    cJSON_AddArrayToObject(r, "benchmarks");
    return r;
}

/* A benchmark whose summary claims what `base` and `adapter` (stored
 * figures) and `verdict` say; items are added with add_item. */
static cJSON *add_bench(cJSON *r, const char *name, bool in_domain, double base, double adapter,
                        const char *verdict)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "benchmark", name);
    cJSON_AddStringToObject(e, "metric", "accuracy");
    cJSON_AddNumberToObject(e, "base_score", base);
    cJSON_AddNumberToObject(e, "adapter_score", adapter);
    cJSON_AddNumberToObject(e, "diff", adapter - base);
    cJSON *ci = cJSON_AddArrayToObject(e, "diff_ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(adapter - base - 0.1));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(adapter - base + 0.1));
    cJSON_AddNumberToObject(e, "p_value", 0.01);
    cJSON_AddBoolToObject(e, "in_domain", in_domain);
    cJSON_AddStringToObject(e, "gate", in_domain ? "superiority" : "non-inferiority");
    cJSON_AddStringToObject(e, "verdict", verdict);
    cJSON_AddBoolToObject(e, "passed", !strcmp(verdict, "PASS"));
    cJSON_AddStringToObject(e, "why", "stored");
    cJSON_AddNumberToObject(e, "n_used", 0); /* add_item counts the items */
    cJSON_AddArrayToObject(e, "items");
    cJSON_AddItemToArray(cJSON_GetObjectItem(r, "benchmarks"), e);
    return e;
}

static void add_item(cJSON *bench, const char *id, const char *base_out, double base_score,
                     const char *adapter_out, double adapter_score)
{
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "id", id);
    cJSON *b = cJSON_AddObjectToObject(it, "base");
    cJSON_AddStringToObject(b, "output", base_out);
    cJSON_AddNumberToObject(b, "score", base_score);
    cJSON_AddStringToObject(b, "detail", "stored");
    cJSON *a = cJSON_AddObjectToObject(it, "adapter");
    cJSON_AddStringToObject(a, "output", adapter_out);
    cJSON_AddNumberToObject(a, "score", adapter_score);
    cJSON_AddStringToObject(a, "detail", "stored");
    cJSON_AddItemToArray(cJSON_GetObjectItem(bench, "items"), it);
    cJSON *n = cJSON_GetObjectItem(bench, "n_used");
    cJSON_SetNumberValue(n, n->valuedouble + 1);
}

static char *print_and_free(cJSON *r)
{
    char *s = cJSON_Print(r);
    cJSON_Delete(r);
    return s;
}

/* The stored item `id` of benchmark `bench`, side "base" or "adapter". */
static const cJSON *item_side(const cJSON *rec, size_t bench, const char *id, const char *side)
{
    const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "benchmarks"), (int)bench);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(b, "items"))
    {
        if (!strcmp(cJSON_GetObjectItem(it, "id")->valuestring, id))
            return cJSON_GetObjectItem(it, side);
    }
    return NULL;
}

static double item_score(const cJSON *rec, size_t bench, const char *id, const char *side)
{
    return cJSON_GetObjectItem(item_side(rec, bench, id, side), "score")->valuedouble;
}

/* A temporary folder with a benchmark file; removed by cleanup(). */
struct tmp {
    char dir[64];
    char file[128];
};

static void write_bench(struct tmp *t, const char *name, const char *text)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/loco-rescore-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->file, sizeof t->file, "%s/%s", t->dir, name);
    FILE *f = fopen(t->file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void cleanup(struct tmp *t)
{
    unlink(t->file);
    rmdir(t->dir);
}

/* ---- numeric: the stored scores were wrong both ways ---------------------------- */

#define N_NUMERIC 60 /* above the gates' floor of 50 paired items */

static void test_numeric_rescored(void **state)
{
    (void)state;
    char text[16384] = "";
    for (int i = 1; i <= N_NUMERIC; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"id\":\"n%d\",\"evaluation_type\":\"numeric\",\"prompt\":\"What is %d times "
                 "7?\",\"reference\":\"%d\"}\n",
                 i, i, 7 * i);
        strncat(text, line, sizeof text - strlen(text) - 1);
    }
    struct tmp t;
    write_bench(&t, "Times Seven.jsonl", text);
    cJSON *r = new_record();
    /* stored: the base never right, the adapter always, a PASS */
    cJSON *b = add_bench(r, "times-seven", true, 0.0, 1.0, "PASS");
    for (int i = 1; i <= N_NUMERIC; i++) {
        char id[16], base[64], adapter[64];
        snprintf(id, sizeof id, "n%d", i);
        snprintf(base, sizeof base, "%d times 7 is %d.", i, 7 * i);
        snprintf(adapter, sizeof adapter, "Working it out.\n#### %d",
                 i == N_NUMERIC ? 7 * i + 1 : 7 * i);
        add_item(b, id, base, 0, adapter, 1);
    }
    char *rec = print_and_free(r), *out = NULL;
    struct loco_eval_params p = loco_eval_default_params();
    const char *files[] = {t.file};
    struct loco_eval_rescore res;
    assert_int_equal(
        loco_eval_record_rescore(rec, &p, files, 1, "2026-12-07T00:00:00Z", &out, &res), LOCO_OK);
    assert_int_equal(res.n_bench, 1);
    const struct loco_eval_rescore_bench *rb = &res.bench[0];
    assert_true(rb->rescored);
    assert_int_equal(rb->n_changed[0], N_NUMERIC); /* every base answer was right */
    assert_int_equal(rb->n_changed[1], 1);         /* the last adapter answer is 1 off */
    assert_float_equal(rb->old_base, 0.0, 1e-12);
    assert_float_equal(rb->new_base, 1.0, 1e-12);
    assert_float_equal(rb->new_adapter, (N_NUMERIC - 1.0) / N_NUMERIC, 1e-12);
    assert_string_equal(rb->old_verdict, "PASS");
    assert_string_equal(rb->new_verdict, "FAIL"); /* no gain: superiority fails */
    assert_int_equal(res.n_changes, N_NUMERIC + 1);
    assert_string_equal(res.changes[N_NUMERIC].id, "n60");
    assert_int_equal(res.changes[N_NUMERIC].side, 1);
    assert_float_equal(res.changes[N_NUMERIC].new_score, 0.0, 0);

    cJSON *o = cJSON_Parse(out);
    assert_float_equal(item_score(o, 0, "n3", "base"), 1.0, 0);
    assert_float_equal(item_score(o, 0, "n60", "adapter"), 0.0, 0);
    assert_float_equal(item_score(o, 0, "n5", "adapter"), 1.0, 0);
    const cJSON *ob = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "benchmarks"), 0);
    assert_float_equal(cJSON_GetObjectItem(ob, "base_score")->valuedouble, 1.0, 1e-12);
    assert_string_equal(cJSON_GetObjectItem(ob, "verdict")->valuestring, "FAIL");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(ob, "passed")));
    const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(ob, "rescored"), 0);
    assert_non_null(h);
    assert_string_equal(cJSON_GetObjectItem(h, "date")->valuestring, "2026-12-07T00:00:00Z");
    const cJSON *prev = cJSON_GetObjectItem(h, "previous");
    assert_string_equal(cJSON_GetObjectItem(prev, "verdict")->valuestring, "PASS");
    assert_float_equal(cJSON_GetObjectItem(prev, "adapter_score")->valuedouble, 1.0, 0);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "items_changed"), "base")->valueint,
                     N_NUMERIC);

    /* scored again: nothing changes and no second entry is added */
    char *again = NULL;
    struct loco_eval_rescore res2;
    assert_int_equal(
        loco_eval_record_rescore(out, &p, files, 1, "2026-12-08T00:00:00Z", &again, &res2),
        LOCO_OK);
    assert_int_equal(res2.bench[0].n_changed[0] + res2.bench[0].n_changed[1], 0);
    assert_string_equal(res2.bench[0].new_verdict, "FAIL");
    cJSON *o2 = cJSON_Parse(again);
    const cJSON *ob2 = cJSON_GetArrayItem(cJSON_GetObjectItem(o2, "benchmarks"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ob2, "rescored")), 1);
    cJSON_Delete(o2);
    cJSON_Delete(o);
    free(again);
    loco_eval_rescore_free(&res2);
    loco_eval_rescore_free(&res);
    free(out);

    /* without the file the custom benchmark's stored scores stand */
    assert_int_equal(loco_eval_record_rescore(rec, &p, NULL, 0, "d", &out, &res), LOCO_OK);
    assert_false(res.bench[0].rescored);
    assert_int_equal(res.bench[0].n_changed[0], 0);
    assert_string_equal(res.bench[0].new_verdict, "PASS");
    o = cJSON_Parse(out);
    assert_float_equal(item_score(o, 0, "n1", "base"), 0.0, 0);
    cJSON_Delete(o);
    loco_eval_rescore_free(&res);
    free(out);
    free(rec);
    cleanup(&t);
}

/* ---- code: passes the old harness let through ----------------------------------- */

static void test_code_rescored(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    struct tmp t;
    write_bench(&t, "adders.jsonl",
                "{\"id\":\"c1\",\"evaluation_type\":\"code_execution\",\"prompt\":\"Write "
                "add(a, b).\",\"tests\":[\"assert add(1, 2) == 3\",\"assert add(-1, 1) == 0\"]}\n"
                "{\"id\":\"c2\",\"evaluation_type\":\"code_execution\",\"prompt\":\"Write "
                "add(a, b).\",\"tests\":[\"assert add(2, 3) == 5\"]}\n");
    cJSON *r = new_record();
    cJSON *b = add_bench(r, "adders", false, 1.0, 1.0, "PASS");
    const char *right = "```python\ndef add(a, b):\n    return a + b\n```\n";
    /* a wrong answer whose own failing assert ends in sys.exit(0), before the tests */
    const char *exits_inline = "```python\nimport sys\ndef add(a, b):\n    return a - b\n"
                               "try:\n    assert add(1, 2) == 3\nexcept AssertionError:\n"
                               "    sys.exit(0)\n```\n";
    /* a wrong answer whose __main__ block would have exited first */
    const char *main_block = "```python\nimport sys\ndef add(a, b):\n    return a * b\n"
                             "if __name__ == \"__main__\":\n    sys.exit(0)\n```\n";
    add_item(b, "c1", exits_inline, 1, right, 1);
    add_item(b, "c2", right, 0, main_block, 1);
    char *rec = print_and_free(r), *out = NULL;
    struct loco_eval_params p = loco_eval_default_params();
    const char *files[] = {t.file};
    struct loco_eval_rescore res;
    assert_int_equal(
        loco_eval_record_rescore(rec, &p, files, 1, "2026-12-07T00:00:00Z", &out, &res), LOCO_OK);
    assert_true(res.bench[0].rescored);
    cJSON *o = cJSON_Parse(out);
    assert_float_equal(item_score(o, 0, "c1", "base"), 0.0, 0); /* sys.exit(0): no pass */
    assert_float_equal(item_score(o, 0, "c1", "adapter"), 1.0, 0);
    assert_float_equal(item_score(o, 0, "c2", "base"), 1.0, 0);
    assert_float_equal(item_score(o, 0, "c2", "adapter"), 0.0, 0); /* main skipped, assert */
    const char *d = cJSON_GetObjectItem(item_side(o, 0, "c1", "base"), "detail")->valuestring;
    assert_non_null(strstr(d, "exit"));
    d = cJSON_GetObjectItem(item_side(o, 0, "c2", "adapter"), "detail")->valuestring;
    assert_non_null(strstr(d, "assert"));
    assert_int_equal(res.bench[0].n_changed[0], 2);
    assert_int_equal(res.bench[0].n_changed[1], 1);
    assert_float_equal(res.bench[0].new_base, 0.5, 1e-12);
    assert_float_equal(res.bench[0].new_adapter, 0.5, 1e-12);
    cJSON_Delete(o);
    loco_eval_rescore_free(&res);
    free(out);
    free(rec);
    cleanup(&t);
}

/* ---- judged: the judgments stand, the statistics are recomputed ------------------ */

static void test_judged_stands(void **state)
{
    (void)state;
    cJSON *r = new_record();
    /* stored summary figures that the items do not give */
    cJSON *b = add_bench(r, "judge-roleplay", true, 0.9, 0.1, "PASS");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "judge"), "rubric", "prometheus");
    for (int i = 0; i < 8; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        add_item(b, id, "an answer", 0.25, "a better answer", 0.75);
    }
    char *rec = print_and_free(r), *out = NULL;
    struct loco_eval_params p = loco_eval_default_params();
    p.shared_dir = "/nonexistent"; /* the items are not read */
    struct loco_eval_rescore res;
    assert_int_equal(loco_eval_record_rescore(rec, &p, NULL, 0, "d", &out, &res), LOCO_OK);
    assert_false(res.bench[0].rescored);
    assert_non_null(strstr(res.bench[0].how, "judgments stand"));
    assert_int_equal(res.bench[0].n_changed[0] + res.bench[0].n_changed[1], 0);
    assert_float_equal(res.bench[0].new_base, 0.25, 1e-12);
    assert_float_equal(res.bench[0].new_adapter, 0.75, 1e-12);
    cJSON *o = cJSON_Parse(out);
    assert_float_equal(item_score(o, 0, "r3", "adapter"), 0.75, 0);
    cJSON_Delete(o);
    loco_eval_rescore_free(&res);
    free(out);
    free(rec);
}

/* ---- the built-in gsm8k, against the shared data set ---------------------------- */

/* The first test problem's id and final answer ("answer"), read from ../shared. */
static bool first_gsm8k(char *id, size_t id_cap, char *answer, size_t cap)
{
    char path[512];
    if (!test_shared_path("datasets/gsm8k/test.jsonl", path, sizeof path))
        return false;
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t lcap = 0;
    bool ok = f && getline(&line, &lcap, f) > 0;
    cJSON *j = ok ? cJSON_Parse(line) : NULL;
    const cJSON *jid = cJSON_GetObjectItem(j, "id"), *ans = cJSON_GetObjectItem(j, "answer");
    ok = cJSON_IsString(jid) && cJSON_IsString(ans);
    if (ok) {
        snprintf(id, id_cap, "%s", jid->valuestring);
        snprintf(answer, cap, "%s", ans->valuestring);
    }
    cJSON_Delete(j);
    free(line);
    if (f)
        fclose(f);
    return ok;
}

static void test_gsm8k_rescored(void **state)
{
    (void)state;
    char id[64], answer[64];
    if (!first_gsm8k(id, sizeof id, answer, sizeof answer))
        skip();
    cJSON *r = new_record();
    cJSON *b = add_bench(r, "gsm8k", false, 0.0, 1.0, "PASS");
    char right[128];
    snprintf(right, sizeof right, "So the answer is %s.", answer);
    add_item(b, id, right, 0, "The answer is 123456789.", 1);
    char *rec = print_and_free(r), *out = NULL;
    struct loco_eval_params p = loco_eval_default_params();
    const char *env = getenv("LOCO_SHARED_DIR");
    if (env)
        p.shared_dir = env;
    struct loco_eval_rescore res;
    assert_int_equal(loco_eval_record_rescore(rec, &p, NULL, 0, "d", &out, &res), LOCO_OK);
    assert_true(res.bench[0].rescored);
    assert_float_equal(res.bench[0].new_base, 1.0, 0);
    assert_float_equal(res.bench[0].new_adapter, 0.0, 0);
    assert_int_equal(res.n_changes, 2);
    assert_non_null(strstr(res.changes[0].new_detail, "flexible="));
    loco_eval_rescore_free(&res);
    free(out);
    free(rec);
}

/* ---- refused inputs ---------------------------------------------------------------- */

static void test_refused(void **state)
{
    (void)state;
    struct loco_eval_params p = loco_eval_default_params();
    char *out = NULL;
    assert_int_equal(
        loco_eval_record_rescore("{\"record\":\"other\"}", &p, NULL, 0, "d", &out, NULL),
        LOCO_ERR_FORMAT);
    assert_null(out);
    assert_int_equal(loco_eval_record_rescore(NULL, &p, NULL, 0, "d", &out, NULL),
                     LOCO_ERR_INVALID);
    /* an item the benchmark lacks */
    struct tmp t;
    write_bench(&t, "one.jsonl",
                "{\"id\":\"x1\",\"evaluation_type\":\"numeric\",\"prompt\":"
                "\"1+1?\",\"reference\":\"2\"}\n");
    cJSON *r = new_record();
    add_item(add_bench(r, "one", true, 0, 0, "FAIL"), "x2", "2", 0, "2", 0);
    char *rec = print_and_free(r);
    const char *files[] = {t.file};
    assert_int_equal(loco_eval_record_rescore(rec, &p, files, 1, "d", &out, NULL),
                     LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "x2"));
    free(rec);
    cleanup(&t);
    loco_eval_rescore_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_rescored), cmocka_unit_test(test_code_rescored),
        cmocka_unit_test(test_judged_stands),    cmocka_unit_test(test_gsm8k_rescored),
        cmocka_unit_test(test_refused),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
