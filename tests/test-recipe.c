/*
 * test-recipe.c - training recipes: a full recipe reads into the right
 * fields with paths resolved against the recipe's folder; every kind of
 * mistake is refused with the file, the line and the key; the shipped
 * recipes in recipes/ parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/trainrun.h"
#include "testutil.h"

static const char full[] = "# a comment\n"
                           "name: math-v2\n"
                           "domain: math\n"
                           "base: default\n"
                           "chat_template: chatml\n"
                           "data:\n"
                           "  path: ${LOCO_TEST_DATA}/gsm8k.jsonl\n"
                           "  format: fields\n"
                           "  prompt: \"{question}\"\n"
                           "  response: \"{answer_text}\"\n"
                           "  system: Be exact.\n"
                           "  offset: 10\n"
                           "  limit: 500\n"
                           "  range: {field: task_id, min: 601, max: 974}\n"
                           "  include: {field: instruction, regex: \"(?i)write\"}\n"
                           "  exclude: {field: instruction, regex: code}\n"
                           "  max_tokens: 256\n"
                           "  validation: 0.1\n"
                           "lora:\n"
                           "  rank: 8\n"
                           "  alpha: 16\n"
                           "  dropout: 0.1\n"
                           "  targets: [q, v, down]\n"
                           "optimizer:\n"
                           "  lr: 3e-4\n"
                           "  min_lr: 3.0e-5\n"
                           "  betas: [0.85, 0.99]\n"
                           "  eps: 1e-6\n"
                           "  weight_decay: 0.01\n"
                           "  warmup_steps: 7\n"
                           "  clip: 0.5\n"
                           "training:\n"
                           "  epochs: 2\n"
                           "  max_steps: 99\n"
                           "  batch: 4\n"
                           "  seed: 12345678901\n"
                           "  threads: 2\n"
                           "  checkpoint_every: 5\n"
                           "  eval_every: 10\n"
                           "output:\n"
                           "  dir: out/math\n"
                           "  samples: 3\n"
                           "  sample_tokens: 50\n";

static void test_full_recipe(void **state)
{
    setenv("LOCO_TEST_DATA", "/data/sets", 1);
    struct loco_recipe *r = loco_recipe_parse(full, strlen(full), "/work/recipes/m.yaml");
    assert_non_null(r);
    assert_string_equal(r->name, "math-v2");
    assert_string_equal(r->domain, "math");
    assert_string_equal(r->base, "default");
    assert_string_equal(r->chat_template, "chatml");
    assert_string_equal(r->data_path, "${LOCO_TEST_DATA}/gsm8k.jsonl");
    assert_string_equal(r->data_file, "/data/sets/gsm8k.jsonl");
    assert_int_equal(r->format, LOCO_DATA_FIELDS);
    assert_string_equal(r->prompt, "{question}");
    assert_string_equal(r->response, "{answer_text}");
    assert_string_equal(r->system, "Be exact.");
    assert_int_equal(r->offset, 10);
    assert_int_equal(r->limit, 500);
    assert_string_equal(r->range_field, "task_id");
    assert_float_equal(r->range_min, 601, 0);
    assert_float_equal(r->range_max, 974, 0);
    assert_string_equal(r->include_regex, "(?i)write");
    assert_string_equal(r->exclude_field, "instruction");
    assert_int_equal(r->max_tokens, 256);
    assert_float_equal(r->validation, 0.1, 0);
    assert_int_equal(r->lora.rank, 8);
    assert_float_equal(r->lora.alpha, 16, 0);
    assert_float_equal(r->lora.dropout, 0.1f, 0);
    assert_int_equal(r->lora.targets, LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) |
                                          LOCO_LORA_TARGET_BIT(LOCO_LORA_V) |
                                          LOCO_LORA_TARGET_BIT(LOCO_LORA_DOWN));
    assert_float_equal(r->lr, 3e-4, 0);
    assert_float_equal(r->min_lr, 3e-5, 0);
    assert_float_equal(r->beta1, 0.85, 0);
    assert_float_equal(r->beta2, 0.99, 0);
    assert_float_equal(r->eps, 1e-6, 0);
    assert_float_equal(r->weight_decay, 0.01, 0);
    assert_int_equal(r->warmup_steps, 7);
    assert_float_equal(r->clip, 0.5, 0);
    assert_int_equal(r->epochs, 2);
    assert_int_equal(r->max_steps, 99);
    assert_int_equal(r->batch, 4);
    assert_true(r->seed == 12345678901ull);
    assert_int_equal(r->threads, 2);
    assert_int_equal(r->checkpoint_every, 5);
    assert_int_equal(r->eval_every, 10);
    assert_string_equal(r->out_dir, "/work/recipes/out/math");
    assert_int_equal(r->samples, 3);
    assert_int_equal(r->sample_tokens, 50);
    assert_memory_equal(r->text, full, sizeof full - 1);
    loco_recipe_free(r);
}

static void test_defaults_and_paths(void **state)
{
    const char *text = "name: tiny\n"
                       "data:\n  path: d.jsonl\n  format: instruction\n"
                       "lora:\n  targets: \"q,k\"\n";
    struct loco_recipe *r = loco_recipe_parse(text, strlen(text), "rec.yaml");
    assert_non_null(r);
    assert_string_equal(r->data_file, "./d.jsonl"); /* the recipe's folder is "." */
    assert_string_equal(r->out_dir, "./tiny");      /* default: <folder>/<name> */
    assert_string_equal(r->base, "default");
    assert_string_equal(r->domain, "");
    assert_null(r->system);
    assert_int_equal(r->lora.rank, 16);
    assert_int_equal(r->lora.targets, 3);
    assert_int_equal(r->batch, 8);
    assert_int_equal(r->max_tokens, 384);
    assert_int_equal(r->samples, 5);
    loco_recipe_free(r);
    /* ${VAR:-default} when VAR is unset; base given as a path resolves too */
    unsetenv("LOCO_TEST_UNSET");
    text = "name: t\nbase: ${LOCO_TEST_UNSET:-../models}/m.gguf\n"
           "data:\n  path: ${LOCO_TEST_UNSET:-/abs}/d.jsonl\n  format: messages\n";
    r = loco_recipe_parse(text, strlen(text), "a/b/rec.yaml");
    assert_non_null(r);
    assert_string_equal(r->base, "a/b/../models/m.gguf");
    assert_string_equal(r->data_file, "/abs/d.jsonl");
    loco_recipe_free(r);
}

/* Each broken recipe must fail with all of the given words in its message. */
struct bad {
    const char *text;
    const char *words[3];
};

static const struct bad bad_recipes[] = {
    {"name: x\ndata: [1, 2\n", {"bad.yaml:", "malformed YAML"}},
    {"nmae: x\n", {"bad.yaml:1:", "unknown key 'nmae'", "name, domain"}},
    {"name: x\ndata:\n  path: d\n  formt: fields\n",
     {"bad.yaml:4:", "unknown key 'data.formt'", "path, format"}},
    {"name: x\ndata:\n  path: d\ntraining:\n  batch: eight\n",
     {"bad.yaml:5:", "training.batch", "expected an integer"}},
    {"name: x\ndata:\n  path: d\nlora:\n  rank: 0\n", {"bad.yaml:5:", "lora.rank", "out of range"}},
    {"name: x\ndata:\n  path: d\noptimizer:\n  lr: [1]\n",
     {"bad.yaml:5:", "optimizer.lr", "expected a number"}},
    {"name: x\ndata: d.jsonl\n", {"bad.yaml:2:", "data", "expected a mapping"}},
    {"name: x\ndata:\n  path: d\nlora:\n  targets: [q, x]\n",
     {"bad.yaml:5:", "lora.targets", "unknown LoRA target 'x'"}},
    {"data:\n  path: d\n", {"bad.yaml", "missing key 'name'"}},
    {"name: x\ndata:\n  format: fields\n", {"missing key 'data.path'"}},
    {"name: x\ndata:\n  path: d\n  format: fields\n  response: r\n", {"missing key 'data.prompt'"}},
    {"name: x\ndata:\n  path: d\n  format: csv\n", {"bad.yaml:4:", "data.format", "csv"}},
    {"name: x\ndata:\n  path: d\n  include: {field: a, regex: \"(\"}\n",
     {"bad.yaml:", "data.include.regex", "bad regular expression"}},
    {"name: x\ndata:\n  path: d\n  range: {field: a, min: 1}\n",
     {"bad.yaml:4:", "data.range needs field, min and max"}},
    {"name: x\nname: y\ndata:\n  path: d\n", {"bad.yaml:2:", "'name' given twice"}},
    {"name: x\ndata:\n  path: ${LOCO_TEST_UNSET}/d\n",
     {"bad.yaml:3:", "LOCO_TEST_UNSET", "not set"}},
    {"name: x\ndata:\n  path: d\noptimizer:\n  betas: [0.9]\n", {"bad.yaml:5:", "optimizer.betas"}},
    {"name: a/b\ndata:\n  path: d\n", {"bad.yaml:1:", "name"}},
    {"name: x\ndata:\n  path: d\n  validation: 2.5\n", {"bad.yaml:4:", "data.validation"}},
    {"name: x\ndata:\n  path: d\noptimizer:\n  lr: 1e-4\n  min_lr: 1e-3\n",
     {"bad.yaml:6:", "min_lr"}},
    {"- just\n- a list\n", {"bad.yaml:1:", "mapping"}},
    {"", {"bad.yaml", "empty"}},
};

static void test_bad_recipes(void **state)
{
    unsetenv("LOCO_TEST_UNSET");
    for (size_t i = 0; i < sizeof bad_recipes / sizeof bad_recipes[0]; i++) {
        const struct bad *b = &bad_recipes[i];
        struct loco_recipe *r = loco_recipe_parse(b->text, strlen(b->text), "bad.yaml");
        if (r)
            fail_msg("recipe %zu was accepted:\n%s", i, b->text);
        for (int w = 0; w < 3 && b->words[w]; w++)
            if (!strstr(loco_error_message(), b->words[w]))
                fail_msg("recipe %zu: '%s' not in: %s", i, b->words[w], loco_error_message());
    }
}

static void test_hash(void **state)
{
    const char *a = "name: x\ndata:\n  path: d\n", *b = "name: y\ndata:\n  path: d\n";
    struct loco_recipe *ra = loco_recipe_parse(a, strlen(a), "r.yaml");
    struct loco_recipe *rb = loco_recipe_parse(b, strlen(b), "r.yaml");
    assert_non_null(ra);
    assert_non_null(rb);
    char ha[65], hb[65], hc[65];
    loco_recipe_hash(ra, ha);
    loco_recipe_hash(rb, hb);
    assert_int_equal(strlen(ha), 64);
    assert_string_not_equal(ha, hb);
    ra->max_steps = 10; /* --max-steps changes the schedule, so the hash */
    loco_recipe_hash(ra, hc);
    assert_string_not_equal(ha, hc);
    loco_recipe_free(ra);
    loco_recipe_free(rb);
}

static void test_shipped_recipes(void **state)
{
    static const char *names[] = {"math", "code", "writing", "summarisation"};
    char path[4096], rel[64];
    for (int i = 0; i < 4; i++) {
        snprintf(rel, sizeof rel, "recipes/%s.yaml", names[i]);
        test_source_path(rel, path, sizeof path);
        struct loco_recipe *r = loco_recipe_load(path);
        if (!r)
            fail_msg("%s: %s", path, loco_error_message());
        assert_string_equal(r->name, names[i]);
        assert_string_equal(r->domain, names[i]);
        assert_int_equal(r->lora.rank, 16);
        assert_int_equal(r->lora.targets, LOCO_LORA_ALL_TARGETS);
        assert_non_null(strstr(r->data_file, "datasets/"));
        assert_null(strstr(r->data_file, "alpacaeval"));
        assert_null(strstr(r->data_file, "selfinstruct"));
        loco_recipe_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_recipe),     cmocka_unit_test(test_defaults_and_paths),
        cmocka_unit_test(test_bad_recipes),     cmocka_unit_test(test_hash),
        cmocka_unit_test(test_shipped_recipes),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
