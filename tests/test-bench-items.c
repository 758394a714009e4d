/*
 * test-bench-items.c - the JSONL format for custom benchmark items: what a
 * valid file gives, the message each mistake gets, and exact-match / ROUGE
 * scoring of items. The example in docs/benchmarks.md is parsed too, so the
 * guide cannot drift from the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/bench_items.h"
#include "testutil.h"

static const char VALID[] =
    "{\"id\": \"em-1\", \"evaluation_type\": \"exact_match\", \"prompt\": \"Capital of France?\","
    " \"reference\": \"Paris\", \"normalise\": [\"case\", \"punctuation\"]}\n"
    "\n"
    "{\"id\": \"code-1\", \"evaluation_type\": \"code_execution\", \"prompt\": \"Write add(a, "
    "b).\","
    " \"tests\": [\"assert add(1, 2) == 3\", \"assert add(0, 0) == 0\"],"
    " \"system\": \"You write Python.\"}\r\n"
    "{\"id\": \"sum-1\", \"evaluation_type\": \"rouge\", \"prompt\": \"Summarise: ...\","
    " \"reference\": \"A cat sat on a mat.\", \"metadata\": {\"source\": \"mine\"}}\n"
    "{\"id\": \"judge-1\", \"evaluation_type\": \"llm_judge\", \"prompt\": \"Write a haiku.\","
    " \"rubric\": \"5-7-5 syllables; about autumn.\", \"tests\": \"unused\"}";

/* |got - want| <= tol, in double precision (cmocka's float assert rounds). */
static void assert_near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("%.17g differs from %.17g by more than %g", got, want, tol);
}

/* Parse `text`; expect failure with `status` and a message containing each
 * of the NULL-terminated fragments. */
static void expect_error(const char *text, int status, ...)
{
    struct loco_bench_items *set = (struct loco_bench_items *)1;
    int rc = loco_bench_items_parse(text, strlen(text), "items.jsonl", &set);
    if (rc != status)
        fail_msg("status %d, want %d (message: %s)", rc, status, loco_error_message());
    assert_null(set);
    va_list ap;
    va_start(ap, status);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(loco_error_message(), frag))
            fail_msg("message \"%s\" lacks \"%s\"", loco_error_message(), frag);
    va_end(ap);
}

/* ---- types ----------------------------------------------------------------- */

static void test_eval_type_names(void **state)
{
    (void)state;
    enum loco_eval_type t;
    for (int i = 0; i < 4; i++) {
        const char *name = loco_eval_type_name((enum loco_eval_type)i);
        assert_int_equal(loco_eval_type_parse(name, &t), LOCO_OK);
        assert_int_equal(t, i);
    }
    assert_string_equal(loco_eval_type_name(LOCO_EVAL_LLM_JUDGE), "llm_judge");
    assert_string_equal(loco_eval_type_name((enum loco_eval_type)42), "unknown");
    assert_int_equal(loco_eval_type_parse("exactmatch", &t), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "exact_match"));
}

/* ---- parsing ----------------------------------------------------------------- */

static void test_parse_valid_file(void **state)
{
    (void)state;
    struct loco_bench_items *set = NULL;
    assert_int_equal(loco_bench_items_parse(VALID, strlen(VALID), "items.jsonl", &set), LOCO_OK);
    assert_int_equal(set->n, 4);

    const struct loco_bench_item *em = &set->items[0];
    assert_string_equal(em->id, "em-1");
    assert_int_equal(em->type, LOCO_EVAL_EXACT_MATCH);
    assert_string_equal(em->reference, "Paris");
    assert_int_equal(em->normalise, LOCO_NORM_CASE | LOCO_NORM_PUNCTUATION);
    assert_null(em->system);
    assert_int_equal(em->line, 1);

    const struct loco_bench_item *code = &set->items[1];
    assert_int_equal(code->type, LOCO_EVAL_CODE_EXECUTION);
    assert_int_equal(code->line, 3); /* the blank line counts */
    assert_int_equal(code->n_tests, 2);
    assert_string_equal(code->tests[1], "assert add(0, 0) == 0");
    assert_string_equal(code->system, "You write Python.");
    assert_null(code->reference);

    const struct loco_bench_item *sum = &set->items[2];
    assert_int_equal(sum->type, LOCO_EVAL_ROUGE);
    assert_string_equal(sum->metadata, "{\"source\":\"mine\"}");

    const struct loco_bench_item *judge = &set->items[3];
    assert_int_equal(judge->type, LOCO_EVAL_LLM_JUDGE);
    assert_string_equal(judge->rubric, "5-7-5 syllables; about autumn.");
    assert_int_equal(judge->n_tests, 1); /* a single string is one test */
    loco_bench_items_free(set);

    assert_int_equal(loco_bench_items_parse("\n  \n", 4, NULL, &set), LOCO_OK);
    assert_int_equal(set->n, 0);
    loco_bench_items_free(set);
}

static void test_parse_required_fields(void **state)
{
    (void)state;
    expect_error("{\"evaluation_type\": \"rouge\", \"prompt\": \"p\", \"reference\": \"r\"}",
                 LOCO_ERR_FORMAT, "items.jsonl:1:", "field \"id\": missing", NULL);
    expect_error("{\"id\": \"\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "field \"id\": empty", NULL);
    expect_error("{\"id\": \"x\", \"prompt\": \"p\"}", LOCO_ERR_FORMAT,
                 "field \"evaluation_type\": missing", "exact_match, code_execution", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"bleu\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "unknown value \"bleu\"", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"rouge\", \"reference\": \"r\"}",
                 LOCO_ERR_FORMAT, "field \"prompt\": missing", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"exact_match\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "field \"reference\": missing",
                 "exact_match items need the expected answer", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "field \"reference\": missing", "rouge items", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"code_execution\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "field \"tests\": missing", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"llm_judge\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "field \"rubric\": missing", NULL);
}

static void test_parse_bad_values(void **state)
{
    (void)state;
    const char *ok_line = "{\"id\": \"a\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", "
                          "\"reference\": \"r\"}\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", ok_line, "{\"id\": \"b\", \"prompt\": 3}");
    expect_error(buf, LOCO_ERR_FORMAT, "items.jsonl:2:", NULL);
    snprintf(buf, sizeof buf, "%s%s", ok_line,
             "{\"id\": \"b\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", "
             "\"refrence\": \"r\"}");
    expect_error(buf, LOCO_ERR_FORMAT, "items.jsonl:2:", "unknown field \"refrence\"", NULL);
    snprintf(buf, sizeof buf, "%s%s", ok_line, "{\"id\": \"b\", \"prompt\": ");
    expect_error(buf, LOCO_ERR_FORMAT, "items.jsonl:2:", "not valid JSON", NULL);
    expect_error("[1, 2]", LOCO_ERR_FORMAT, "items.jsonl:1:", "JSON object", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", "
                 "\"reference\": \"r\", \"normalise\": [\"case\"]}",
                 LOCO_ERR_FORMAT, "field \"normalise\": only exact_match", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"exact_match\", \"prompt\": \"p\", "
                 "\"reference\": \"r\", \"normalise\": [\"spaces\"]}",
                 LOCO_ERR_FORMAT, "unknown option \"spaces\"", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"exact_match\", \"prompt\": \"p\", "
                 "\"reference\": \"r\", \"normalise\": \"case\"}",
                 LOCO_ERR_FORMAT, "must be an array", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"code_execution\", \"prompt\": \"p\", "
                 "\"tests\": [\"assert f()\", 7]}",
                 LOCO_ERR_FORMAT, "element 1 is not a string", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"code_execution\", \"prompt\": \"p\", "
                 "\"tests\": []}",
                 LOCO_ERR_FORMAT, "non-empty array", NULL);
    expect_error("{\"id\": \"x\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", "
                 "\"reference\": \"r\", \"system\": 1}",
                 LOCO_ERR_FORMAT, "field \"system\": must be a string", NULL);
}

static void test_parse_duplicate_ids(void **state)
{
    (void)state;
    const char *text =
        "{\"id\": \"a\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", \"reference\": \"r\"}\n"
        "{\"id\": \"b\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", \"reference\": \"r\"}\n"
        "{\"id\": \"a\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", \"reference\": "
        "\"r\"}\n";
    expect_error(text, LOCO_ERR_FORMAT, "items.jsonl:3:", "\"a\" is already used on line 1", NULL);
}

static void test_parse_limits(void **state)
{
    (void)state;
    size_t n = LOCO_BENCH_ITEMS_MAX_LINE + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    expect_error(big, LOCO_ERR_RANGE, "items.jsonl:1:", "longer than", NULL);
    free(big);
    struct loco_bench_items *set;
    assert_int_equal(loco_bench_items_parse(NULL, 0, "x", &set), LOCO_ERR_INVALID);
}

/* Not NUL-terminated: only `len` bytes are read. */
static void test_parse_length_bounded(void **state)
{
    (void)state;
    const char *text =
        "{\"id\": \"a\", \"evaluation_type\": \"rouge\", \"prompt\": \"p\", \"reference\": \"r\"}"
        "\nGARBAGE";
    struct loco_bench_items *set = NULL;
    assert_int_equal(loco_bench_items_parse(text, strlen(text) - 7, "m", &set), LOCO_OK);
    assert_int_equal(set->n, 1);
    loco_bench_items_free(set);
}

static void test_load_file(void **state)
{
    (void)state;
    char tmp[] = "/tmp/loco-items-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, VALID, strlen(VALID)), (ssize_t)strlen(VALID));
    close(fd);
    struct loco_bench_items *set = NULL;
    assert_int_equal(loco_bench_items_load(tmp, &set), LOCO_OK);
    assert_int_equal(set->n, 4);
    loco_bench_items_free(set);
    remove(tmp);
    assert_int_equal(loco_bench_items_load(tmp, &set), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), tmp));
    assert_null(set);
}

/* The ```jsonl block of docs/benchmarks.md parses and holds all four types. */
static void test_docs_example_parses(void **state)
{
    (void)state;
    const char *src = getenv("LOCO_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/benchmarks.md", src ? src : ".");
    char *doc = test_read_file(path, NULL);
    if (!doc)
        fail_msg("cannot read %s (set LOCO_SOURCE_DIR)", path);
    char *start = strstr(doc, "```jsonl\n");
    assert_non_null(start);
    start += strlen("```jsonl\n");
    char *end = strstr(start, "```");
    assert_non_null(end);
    struct loco_bench_items *set = NULL;
    if (loco_bench_items_parse(start, (size_t)(end - start), "docs/benchmarks.md", &set) != 0)
        fail_msg("%s", loco_error_message());
    int seen[4] = {0};
    for (size_t i = 0; i < set->n; i++)
        seen[set->items[i].type] = 1;
    assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
    loco_bench_items_free(set);
    free(doc);
}

/* ---- scoring ----------------------------------------------------------------- */

static void test_score_items(void **state)
{
    (void)state;
    struct loco_bench_items *set = NULL;
    assert_int_equal(loco_bench_items_parse(VALID, strlen(VALID), "items.jsonl", &set), LOCO_OK);
    const struct loco_bench_item *em = &set->items[0], *sum = &set->items[2];
    assert_int_equal(loco_bench_item_score_exact(em, "  paris!\n"), 1); /* case + punctuation */
    assert_int_equal(loco_bench_item_score_exact(em, "Paris, France"), 0);
    assert_int_equal(loco_bench_item_score_exact(sum, "x"), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "sum-1"));

    struct loco_rouge_score s;
    assert_int_equal(loco_bench_item_score_rouge(sum, "a cat sat on the mat", &s), LOCO_OK);
    assert_near(s.f1, 5.0 / 6.0, 1e-12); /* LCS a cat sat on mat: 5 of 6 */
    assert_int_equal(loco_bench_item_score_rouge(em, "Paris", &s), LOCO_ERR_INVALID);
    assert_int_equal(loco_bench_item_score_exact(NULL, "x"), LOCO_ERR_INVALID);
    loco_bench_items_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_type_names),       cmocka_unit_test(test_parse_valid_file),
        cmocka_unit_test(test_parse_required_fields), cmocka_unit_test(test_parse_bad_values),
        cmocka_unit_test(test_parse_duplicate_ids),   cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_parse_length_bounded),  cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_docs_example_parses),   cmocka_unit_test(test_score_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
