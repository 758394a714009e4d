/*
 * test-train-data.c - recipe data -> training examples, with a real
 * tokenizer: stories260K (chat template forced to chatml) always, and the
 * default SmolLM2 model (its own chatml template and <|im_end|>) when it is
 * in the cache.
 *
 * The central check: an example is exactly loco_chat_tokenize(prompt turns)
 * followed by the response's tokens and the end-of-turn token, and the
 * target mask is 1 on precisely those response tokens + end of turn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/models.h"
#include "loco/trainrun.h"
#include "testutil.h"

static char dir[256];

static void write_text(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A recipe in `dir` over `data` with the given extra lines. */
static struct loco_recipe *recipe(const char *data, const char *format, const char *extra)
{
    char text[4096], path[512];
    snprintf(text, sizeof text,
             "name: t\nchat_template: chatml\ndata:\n  path: %s\n  format: %s\n%s", data, format,
             extra);
    snprintf(path, sizeof path, "%s/r.yaml", dir);
    struct loco_recipe *r = loco_recipe_parse(text, strlen(text), path);
    if (!r)
        fail_msg("%s", loco_error_message());
    return r;
}

/* Example e must be chat(msgs) + encode(response) + eot, masked on the
 * response and the end of turn only. */
static void expect_example(const struct loco_model *m, const char *tmpl,
                           const struct loco_train_example *e, const struct loco_chat_msg *msgs,
                           size_t n_msgs, const char *response, int32_t eot)
{
    int32_t *p = NULL, *r = NULL;
    size_t np = 0, nr = 0;
    assert_int_equal(loco_chat_tokenize(m, tmpl, msgs, n_msgs, &p, &np), LOCO_OK);
    assert_int_equal(loco_tokenizer_encode(loco_model_tokenizer(m), response, strlen(response),
                                           false, false, &r, &nr),
                     LOCO_OK);
    assert_int_equal(e->n, (int32_t)(np + nr + 1));
    assert_int_equal(e->n_prompt, (int32_t)np);
    assert_memory_equal(e->tokens, p, np * sizeof *p);
    assert_memory_equal(e->tokens + np, r, nr * sizeof *r);
    assert_int_equal(e->tokens[e->n - 1], eot);
    for (int32_t i = 0; i < e->n; i++)
        assert_int_equal(e->target[i], i >= (int32_t)np);
    assert_string_equal(e->reference, response);
    free(p);
    free(r);
}

/* ---- templates ---------------------------------------------------------- */

static void test_template_expand(void **state)
{
    cJSON *rec = cJSON_Parse("{\"question\":\"2+2?\",\"n\":42,\"x\":1.5,\"ok\":true,"
                             "\"tests\":[\"assert f(1)\",\"assert f(2)\"],\"nil\":null}");
    assert_non_null(rec);
    char *s = loco_train_template_expand("Q: {question} n={n} x={x} {ok}{nil}|{{lit}}", rec);
    assert_non_null(s);
    assert_string_equal(s, "Q: 2+2? n=42 x=1.5 true|{lit}");
    free(s);
    s = loco_train_template_expand("{tests}", rec);
    assert_string_equal(s, "assert f(1)\nassert f(2)");
    free(s);
    assert_null(loco_train_template_expand("{questoin}", rec));
    assert_non_null(strstr(loco_error_message(), "'{questoin}'"));
    assert_non_null(strstr(loco_error_message(), "question, n, x"));
    assert_null(loco_train_template_expand("a { b", rec));
    cJSON_Delete(rec);
}

/* ---- formats and masks -------------------------------------------------- */

static void test_formats_and_masks(void **state)
{
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    write_text(
        "ins.jsonl",
        "{\"instruction\":\"Tell a story.\",\"input\":\"\",\"output\":\"Once upon a time.\"}\n"
        "\n"
        "{\"instruction\":\"Name the cat.\",\"input\":\"It is big.\",\"output\":\"Tom.\"}\n");
    write_text(
        "msg.jsonl",
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be kind.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"},"
        "{\"role\":\"user\",\"content\":\"Story?\"},"
        "{\"role\":\"assistant\",\"content\":\"A dog ran.\"}]}\n");
    write_text("fld.jsonl", "{\"question\":\"Where is Lily?\",\"answer_text\":\"In the park.\"}\n");
    const int32_t eos = loco_tokenizer_eos(loco_model_tokenizer(m)); /* no <|im_end|> here */

    struct loco_recipe *r = recipe("ins.jsonl", "instruction", "  validation: 0\n");
    struct loco_train_data *d = loco_train_data_load(r, m);
    assert_non_null(d);
    assert_int_equal(d->n_examples, 2);
    assert_int_equal(d->stats.n_records, 2); /* the blank line is not a record */
    assert_int_equal(d->eot, eos);
    struct loco_chat_msg one[] = {{"user", "Tell a story."}};
    expect_example(m, "chatml", &d->examples[0], one, 1, "Once upon a time.", eos);
    struct loco_chat_msg two[] = {{"user", "Name the cat.\n\nIt is big."}};
    expect_example(m, "chatml", &d->examples[1], two, 1, "Tom.", eos);
    assert_int_equal(d->examples[1].line, 3);
    loco_train_data_free(d);
    loco_recipe_free(r);

    r = recipe("msg.jsonl", "messages", "  validation: 0\n");
    d = loco_train_data_load(r, m);
    assert_non_null(d);
    struct loco_chat_msg conv[] = {
        {"system", "Be kind."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Story?"}};
    expect_example(m, "chatml", &d->examples[0], conv, 4, "A dog ran.", eos);
    loco_train_data_free(d);
    loco_recipe_free(r);

    r = recipe("fld.jsonl", "fields",
               "  prompt: \"Q: {question}\"\n  response: \"{answer_text}\"\n"
               "  system: Answer briefly.\n  validation: 0\n");
    d = loco_train_data_load(r, m);
    assert_non_null(d);
    struct loco_chat_msg sys[] = {{"system", "Answer briefly."}, {"user", "Q: Where is Lily?"}};
    expect_example(m, "chatml", &d->examples[0], sys, 2, "In the park.", eos);
    assert_string_equal(d->examples[0].prompt, "Q: Where is Lily?");
    loco_train_data_free(d);
    loco_recipe_free(r);
    loco_model_free(m);
}

static void test_default_model_masks(void **state)
{
    char path[4096];
    if (loco_models_resolve("default", path, sizeof path) != LOCO_OK) {
        fprintf(stderr, "skipping: the default model is not in the cache\n");
        skip();
    }
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    assert_non_null(m);
    write_text("gsm.jsonl", "{\"question\":\"Tom has 3 apples and eats 1. How many are left?\","
                            "\"answer_text\":\"3 - 1 = <<3-1=2>>2\\n#### 2\",\"answer\":\"2\"}\n");
    char text[1024], rpath[512];
    snprintf(text, sizeof text,
             "name: t\ndata:\n  path: gsm.jsonl\n  format: fields\n"
             "  prompt: \"{question}\"\n  response: \"{answer_text}\"\n"
             "  validation: 0\n");
    snprintf(rpath, sizeof rpath, "%s/r.yaml", dir);
    struct loco_recipe *r = loco_recipe_parse(text, strlen(text), rpath);
    assert_non_null(r);
    struct loco_train_data *d = loco_train_data_load(r, m);
    assert_non_null(d);
    int32_t im_end = loco_tokenizer_find(loco_model_tokenizer(m), "<|im_end|>");
    assert_true(im_end >= 0);
    assert_int_equal(d->eot, im_end);
    struct loco_chat_msg q[] = {{"user", "Tom has 3 apples and eats 1. How many are left?"}};
    expect_example(m, NULL, &d->examples[0], q, 1, "3 - 1 = <<3-1=2>>2\n#### 2", im_end);
    loco_train_data_free(d);
    loco_recipe_free(r);
    loco_model_free(m);
}

/* ---- selection, truncation, split, order -------------------------------- */

static void write_numbered(const char *name, int n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 1; i <= n; i++)
        fprintf(f, "{\"task_id\":%d,\"instruction\":\"%s number %d\",\"output\":\"It is %d.\"}\n",
                i, i % 3 == 0 ? "Write about" : "Code", i, i);
    fclose(f);
}

static size_t load_count(struct loco_model *m, const char *extra)
{
    struct loco_recipe *r = recipe("num.jsonl", "instruction", extra);
    struct loco_train_data *d = loco_train_data_load(r, m);
    size_t n = d ? d->n_examples : 0;
    loco_train_data_free(d);
    loco_recipe_free(r);
    return n;
}

static void test_selection(void **state)
{
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    write_numbered("num.jsonl", 30);
    assert_int_equal(load_count(m, "  validation: 0\n"), 30);
    assert_int_equal(load_count(m, "  range: {field: task_id, min: 11, max: 20}\n"), 10);
    assert_int_equal(load_count(m, "  include: {field: instruction, regex: \"^Write\"}\n"), 10);
    assert_int_equal(load_count(m, "  exclude: {field: instruction, regex: \"^Write\"}\n"), 20);
    assert_int_equal(load_count(m, "  offset: 25\n"), 5);
    assert_int_equal(load_count(m, "  offset: 2\n  limit: 4\n"), 4);
    /* filters first, then offset/limit over what they kept */
    struct loco_recipe *r = recipe("num.jsonl", "instruction",
                                   "  include: {field: instruction, regex: \"^Write\"}\n"
                                   "  offset: 1\n  limit: 2\n  validation: 0\n");
    struct loco_train_data *d = loco_train_data_load(r, m);
    assert_non_null(d);
    assert_int_equal(d->n_examples, 2);
    assert_int_equal(d->examples[0].line, 6);
    assert_int_equal(d->examples[1].line, 9);
    loco_train_data_free(d);
    loco_recipe_free(r);
    /* nothing left: a message with the counts */
    r = recipe("num.jsonl", "instruction", "  range: {field: task_id, min: 100, max: 200}\n");
    assert_null(loco_train_data_load(r, m));
    assert_non_null(strstr(loco_error_message(), "no examples left"));
    loco_recipe_free(r);
    loco_model_free(m);
}

/* data.path names a FIFO or nothing when the data is read: refused at once
 * (a FIFO is never waited on), each with a message that says which. The
 * recipe refuses a FIFO already there when it is parsed; this one appears
 * after. */
static void test_data_path_not_a_file(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    char path[512];
    snprintf(path, sizeof path, "%s/pipe.jsonl", dir);
    struct loco_recipe *r = recipe("pipe.jsonl", "instruction", "");
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_null(loco_train_data_load(r, m));
    alarm(0);
    assert_non_null(strstr(loco_error_message(), "data.path"));
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    loco_recipe_free(r);
    unlink(path);
    r = recipe("missing.jsonl", "instruction", "");
    assert_null(loco_train_data_load(r, m));
    assert_non_null(strstr(loco_error_message(), "data.path: cannot open"));
    assert_non_null(strstr(loco_error_message(), "relative to the recipe's folder"));
    loco_recipe_free(r);
    loco_model_free(m);
}

static void test_truncation(void **state)
{
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    char line[4096], story[2048];
    size_t len = 0;
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(story + len, sizeof story - len, "The cat sat on the mat. ");
    snprintf(line, sizeof line, "{\"instruction\":\"%s\",\"output\":\"The end.\"}\n", story);
    write_text("long.jsonl", line);
    snprintf(line, sizeof line,
             "{\"instruction\":\"Hi\",\"output\":\"%.600s\"}\n"
             "{\"instruction\":\"Hi\",\"output\":\"Ok.\"}\n",
             story);
    write_text("longout.jsonl", line);
    struct loco_recipe *r = recipe("long.jsonl", "instruction", "  max_tokens: 64\n");
    struct loco_train_data *d = loco_train_data_load(r, m);
    assert_non_null(d);
    assert_int_equal(d->stats.n_truncated, 1);
    const struct loco_train_example *e = &d->examples[0];
    assert_true(e->n <= 64);
    int32_t *resp = NULL;
    size_t nr = 0;
    loco_tokenizer_encode(loco_model_tokenizer(m), "The end.", 8, false, false, &resp, &nr);
    assert_int_equal(e->n - e->n_prompt, (int32_t)nr + 1); /* the response is whole */
    assert_memory_equal(e->tokens + e->n_prompt, resp, nr * sizeof *resp);
    free(resp);
    loco_train_data_free(d);
    loco_recipe_free(r);
    /* a response that cannot fit is dropped and counted, never cut */
    r = recipe("longout.jsonl", "instruction", "  max_tokens: 64\n");
    d = loco_train_data_load(r, m);
    assert_non_null(d);
    assert_int_equal(d->stats.n_dropped, 1);
    assert_int_equal(d->n_examples, 1);
    assert_string_equal(d->examples[0].reference, "Ok.");
    loco_train_data_free(d);
    loco_recipe_free(r);
    loco_model_free(m);
}

static void test_split_and_order(void **state)
{
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    write_numbered("num.jsonl", 30);
    struct loco_recipe *r = recipe("num.jsonl", "instruction", "  validation: 0.2\n");
    struct loco_train_data *a = loco_train_data_load(r, m);
    struct loco_train_data *b = loco_train_data_load(r, m);
    r->seed = 43;
    struct loco_train_data *c = loco_train_data_load(r, m);
    assert_non_null(a);
    assert_non_null(c);
    assert_int_equal(a->n_val, 6);
    assert_int_equal(a->n_train, 24);
    assert_memory_equal(a->val, b->val, 6 * sizeof *a->val); /* same seed, same split */
    assert_memory_not_equal(a->val, c->val, 6 * sizeof *a->val);
    int seen[30] = {0};
    for (size_t i = 0; i < a->n_val; i++)
        seen[a->val[i]]++;
    for (size_t i = 0; i < a->n_train; i++)
        seen[a->train[i]]++;
    for (int i = 0; i < 30; i++)
        assert_int_equal(seen[i], 1); /* disjoint, and together everything */
    /* each epoch visits every training example once, in a seed-given order */
    size_t perm[24], perm2[24];
    int64_t pe = -1, pe2 = -1;
    size_t first[24];
    for (int epoch = 0; epoch < 2; epoch++) {
        int hits[30] = {0};
        for (int64_t i = 0; i < 24; i++) {
            size_t ex = loco_train_data_order(a, 42, epoch * 24 + i, perm, &pe);
            hits[ex]++;
            if (epoch == 0)
                first[i] = ex;
            else
                assert_int_equal(ex, loco_train_data_order(a, 42, 24 + i, perm2, &pe2));
        }
        for (size_t i = 0; i < a->n_train; i++)
            assert_int_equal(hits[a->train[i]], 1);
    }
    int same = 0;
    for (int64_t i = 0; i < 24; i++)
        same += first[i] == loco_train_data_order(a, 42, 24 + i, perm, &pe);
    assert_true(same < 24); /* epochs are shuffled differently */
    loco_train_data_free(a);
    loco_train_data_free(b);
    loco_train_data_free(c);
    loco_recipe_free(r);
    loco_model_free(m);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/loco-test-data-%d", (int)getpid());
    mkdir(dir, 0755);
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
        cmocka_unit_test(test_template_expand),     cmocka_unit_test(test_formats_and_masks),
        cmocka_unit_test(test_default_model_masks), cmocka_unit_test(test_selection),
        cmocka_unit_test(test_truncation),          cmocka_unit_test(test_split_and_order),
        cmocka_unit_test(test_data_path_not_a_file),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
