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
    for (int i = 0; i < 6; i++) {
        const char *name = loco_eval_type_name((enum loco_eval_type)i);
        assert_int_equal(loco_eval_type_parse(name, &t), LOCO_OK);
        assert_int_equal(t, i);
    }
    assert_string_equal(loco_eval_type_name(LOCO_EVAL_LLM_JUDGE), "llm_judge");
    assert_string_equal(loco_eval_type_name(LOCO_EVAL_NUMERIC), "numeric");
    assert_string_equal(loco_eval_type_name(LOCO_EVAL_REGEX), "regex");
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
    char *doc = test_source_text("docs/benchmarks.md");
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
    /* the second example: a header, a numeric and a regex item */
    start = strstr(end, "```jsonl\n");
    assert_non_null(start);
    start += strlen("```jsonl\n");
    end = strstr(start, "```");
    assert_non_null(end);
    if (loco_bench_items_parse(start, (size_t)(end - start), "docs/benchmarks.md", &set) != 0)
        fail_msg("%s", loco_error_message());
    assert_string_equal(set->domain, "math");
    assert_int_equal(set->n, 2);
    assert_int_equal(set->items[0].type, LOCO_EVAL_NUMERIC);
    assert_int_equal(set->items[1].type, LOCO_EVAL_REGEX);
    assert_int_equal(loco_bench_item_score_numeric(&set->items[0], "12 x $1.25 = $15.00", NULL, 0),
                     1);
    assert_int_equal(
        loco_bench_item_score_regex(&set->items[1], "It is Paris.\nAnswer: Paris", NULL, 0), 1);
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

/* ---- numeric and regex items, the header ------------------------------------- */

static void test_numeric_regex_header(void **state)
{
    (void)state;
    const char *text =
        "\n{\"benchmark\": {\"domain\": \"math\", \"pattern\": \"Answer: (\\\\w+)\", "
        "\"description\": \"mine\"}}\n"
        "{\"id\": \"n1\", \"evaluation_type\": \"numeric\", \"prompt\": \"2+2?\", "
        "\"reference\": \"4\"}\n"
        "{\"id\": \"n2\", \"evaluation_type\": \"numeric\", \"prompt\": \"p\", "
        "\"reference\": \"2 + 2 = 4\\n#### 4\"}\n"
        "{\"id\": \"r1\", \"evaluation_type\": \"regex\", \"prompt\": \"Capital?\", "
        "\"reference\": \"paris\"}\n"
        "{\"id\": \"r2\", \"evaluation_type\": \"regex\", \"prompt\": \"p\", \"reference\": \"b\","
        " \"pattern\": \"\\\\(([A-D])\\\\)\", \"normalise\": [\"case\"]}\n";
    struct loco_bench_items *set = NULL;
    if (loco_bench_items_parse(text, strlen(text), "m.jsonl", &set) != LOCO_OK)
        fail_msg("%s", loco_error_message());
    assert_int_equal(set->n, 4);
    assert_string_equal(set->domain, "math");
    assert_string_equal(set->description, "mine");
    assert_string_equal(set->pattern, "Answer: (\\w+)");
    assert_string_equal(set->items[2].pattern, "Answer: (\\w+)"); /* the header's */
    assert_int_equal(set->items[2].normalise, LOCO_NORM_CASE | LOCO_NORM_WHITESPACE);
    assert_string_equal(set->items[3].pattern, "\\(([A-D])\\)");
    assert_int_equal(set->items[3].normalise, LOCO_NORM_CASE);
    char d[160];
    assert_int_equal(loco_bench_item_score_numeric(&set->items[0], "So 2+2 is 4.", d, sizeof d), 1);
    assert_int_equal(loco_bench_item_score_numeric(&set->items[1], "#### 4.0", NULL, 0), 1);
    assert_int_equal(loco_bench_item_score_numeric(&set->items[1], "5", NULL, 0), 0);
    assert_int_equal(loco_bench_item_score_regex(&set->items[2], "Answer: PARIS", d, sizeof d), 1);
    assert_int_equal(loco_bench_item_score_regex(&set->items[3], "(A)? No: I pick (B).", NULL, 0),
                     1);
    assert_int_equal(loco_bench_item_score_regex(&set->items[0], "x", NULL, 0), LOCO_ERR_INVALID);
    assert_int_equal(loco_bench_item_score_numeric(&set->items[2], "x", NULL, 0), LOCO_ERR_INVALID);
    loco_bench_items_free(set);
}

static void test_numeric_regex_errors(void **state)
{
    (void)state;
    /* a bad pattern fails the load once, naming the line */
    expect_error("{\"id\": \"r\", \"evaluation_type\": \"regex\", \"prompt\": \"p\", "
                 "\"reference\": \"x\", \"pattern\": \"(oops\"}",
                 LOCO_ERR_FORMAT, "items.jsonl:1:", "field \"pattern\"", "does not compile", NULL);
    expect_error("{\"id\": \"r\", \"evaluation_type\": \"regex\", \"prompt\": \"p\", "
                 "\"reference\": \"x\", \"pattern\": \"no group\"}",
                 LOCO_ERR_FORMAT, "0 capture groups", NULL);
    expect_error("{\"benchmark\": {\"pattern\": \"(a)(b)\"}}\n", LOCO_ERR_FORMAT,
                 "items.jsonl:1:", "header", "2 capture groups", NULL);
    expect_error("{\"id\": \"r\", \"evaluation_type\": \"regex\", \"prompt\": \"p\", "
                 "\"reference\": \"x\"}",
                 LOCO_ERR_FORMAT, "field \"pattern\": missing", NULL);
    expect_error("{\"id\": \"r\", \"evaluation_type\": \"regex\", \"prompt\": \"p\", "
                 "\"pattern\": \"(x)\"}",
                 LOCO_ERR_FORMAT, "field \"reference\": missing", NULL);
    expect_error("{\"id\": \"e\", \"evaluation_type\": \"exact_match\", \"prompt\": \"p\", "
                 "\"reference\": \"x\", \"pattern\": \"(x)\"}",
                 LOCO_ERR_FORMAT, "only regex items take it", NULL);
    expect_error("{\"id\": \"n\", \"evaluation_type\": \"numeric\", \"prompt\": \"p\", "
                 "\"reference\": \"many\"}",
                 LOCO_ERR_FORMAT, "holds no number", NULL);
    expect_error("{\"id\": \"n\", \"evaluation_type\": \"numeric\", \"prompt\": \"p\"}",
                 LOCO_ERR_FORMAT, "numeric items need the expected number", NULL);
    /* the header: first line only, known fields only */
    expect_error("{\"benchmark\": {\"domain\": \"math\", \"level\": 2}}\n", LOCO_ERR_FORMAT,
                 "unknown field \"level\"", NULL);
    expect_error("{\"benchmark\": \"math\"}\n", LOCO_ERR_FORMAT, "must be an object", NULL);
    expect_error("{\"id\": \"n\", \"evaluation_type\": \"numeric\", \"prompt\": \"p\", "
                 "\"reference\": \"1\"}\n{\"benchmark\": {\"domain\": \"math\"}}\n",
                 LOCO_ERR_FORMAT, "items.jsonl:2:", "unknown field \"benchmark\"", NULL);
}

/* 50 held-out maths word problems as a custom file (the GSM8K train split's
 * first 50, built at run time; nothing copied into the repository), answered
 * with their worked solutions: exact_match items score 0/50, numeric items
 * 50/50. */
static void test_numeric_file_worked_answers(void **state)
{
    (void)state;
    char path[4096];
    if (!test_shared_path("datasets/gsm8k/train.jsonl", path, sizeof path))
        skip();
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    char *text[2] = {NULL, NULL}, *answers[50] = {0};
    size_t len[2] = {0, 0};
    FILE *out[2] = {open_memstream(&text[0], &len[0]), open_memstream(&text[1], &len[1])};
    fprintf(out[1], "{\"benchmark\": {\"domain\": \"math\"}}\n");
    for (int i = 0; i < 50 && getline(&line, &cap, f) > 0; i++) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        const char *q = cJSON_GetObjectItem(j, "question")->valuestring;
        const char *a = cJSON_GetObjectItem(j, "answer")->valuestring;
        answers[i] = strdup(cJSON_GetObjectItem(j, "answer_text")->valuestring);
        for (int t = 0; t < 2; t++) {
            cJSON *it = cJSON_CreateObject();
            char id[16];
            snprintf(id, sizeof id, "w%d", i);
            cJSON_AddStringToObject(it, "id", id);
            cJSON_AddStringToObject(it, "evaluation_type", t ? "numeric" : "exact_match");
            cJSON_AddStringToObject(it, "prompt", q);
            cJSON_AddStringToObject(it, "reference", a);
            char *s = cJSON_PrintUnformatted(it);
            fprintf(out[t], "%s\n", s);
            free(s);
            cJSON_Delete(it);
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    fclose(out[0]);
    fclose(out[1]);
    struct loco_bench_items *set[2] = {NULL, NULL};
    assert_int_equal(loco_bench_items_parse(text[0], len[0], "exact.jsonl", &set[0]), LOCO_OK);
    assert_int_equal(loco_bench_items_parse(text[1], len[1], "numeric.jsonl", &set[1]), LOCO_OK);
    assert_int_equal(set[0]->n, 50);
    assert_int_equal(set[1]->n, 50);
    assert_null(set[0]->domain);
    assert_string_equal(set[1]->domain, "math");
    size_t exact = 0, numeric = 0;
    for (size_t i = 0; i < 50; i++) {
        exact += loco_bench_item_score_exact(&set[0]->items[i], answers[i]) == 1;
        numeric += loco_bench_item_score_numeric(&set[1]->items[i], answers[i], NULL, 0) == 1;
        free(answers[i]);
    }
    print_message("50 worked answers: exact_match %zu/50, numeric %zu/50\n", exact, numeric);
    assert_int_equal(exact, 0);
    assert_int_equal(numeric, 50);
    loco_bench_items_free(set[0]);
    loco_bench_items_free(set[1]);
    free(text[0]);
    free(text[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_type_names),
        cmocka_unit_test(test_parse_valid_file),
        cmocka_unit_test(test_parse_required_fields),
        cmocka_unit_test(test_parse_bad_values),
        cmocka_unit_test(test_parse_duplicate_ids),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_parse_length_bounded),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_docs_example_parses),
        cmocka_unit_test(test_score_items),
        cmocka_unit_test(test_numeric_regex_header),
        cmocka_unit_test(test_numeric_regex_errors),
        cmocka_unit_test(test_numeric_file_worked_answers),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
