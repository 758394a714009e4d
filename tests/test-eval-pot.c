/*
 * test-eval-pot.c - composition measured by the harness: the gsm8k-pot
 * benchmark (GSM8K answered by a Python program the sandbox runs, what it
 * prints scored as a number; src/eval/{benches,items,prompts,scoring}.c),
 * the program's printed output the scoring reads (loco_codeeval_run's
 * `printed`), and a run-time set on the adapter side (params.also): the
 * same answers as the exact linear merge of its members.
 *
 * Items come from ../shared/datasets/gsm8k; scoring needs python3 and the
 * sandbox; the set runs on stories260K with random adapters
 * (lora-fixture.h). Each part skips when its input is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/bench_internal.h"
#include "loco/codeeval.h"
#include "loco/eval.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "lora-fixture.h"
#include "testutil.h"

/* ---- the items ---------------------------------------------------------------- */

static struct loco_eval_params params_here(void)
{
    struct loco_eval_params p = loco_eval_default_params();
    const char *shared = getenv("LOCO_SHARED_DIR");
    p.shared_dir = shared && shared[0] ? shared : "../shared";
    return p;
}

/* gsm8k-pot is GSM8K's test split, item for item: the same ids and gold
 * numbers, the question followed by the instruction to write a program. */
static void test_items(void **state)
{
    (void)state;
    const struct bench_def *pot = eval_find_builtin("gsm8k-pot"),
                           *plain = eval_find_builtin("gsm8k");
    assert_non_null(pot);
    assert_int_equal(pot->kind, K_GSM8K_POT);
    assert_string_equal(pot->file, plain->file);
    bool listed = false;
    for (const char *const *b = loco_eval_bench_names(); *b; b++)
        listed = listed || !strcmp(*b, "gsm8k-pot");
    assert_true(listed);
    assert_false(loco_eval_bench_judged("gsm8k-pot"));
    assert_false(loco_eval_bench_takes_shots("gsm8k-pot"));
    assert_false(loco_eval_bench_takes_samples("gsm8k-pot"));
    char data[1024];
    if (!test_shared_path("datasets/gsm8k/test.jsonl", data, sizeof data))
        skip();
    struct loco_eval_params p = params_here();
    p.limit = 3;
    struct item *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(eval_load_builtin(plain, &p, &a, &na), LOCO_OK);
    assert_int_equal(eval_load_builtin(pot, &p, &b, &nb), LOCO_OK);
    assert_int_equal(nb, 3);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < nb; i++) {
        assert_string_equal(b[i].id, a[i].id);
        assert_string_equal(b[i].gold, a[i].gold);
        size_t q = strlen(a[i].prompt); /* gsm8k's prompt is the question alone */
        assert_memory_equal(b[i].prompt, a[i].prompt, q);
        assert_string_equal(b[i].prompt + q,
                            "\n\nWrite a Python program that solves this problem and prints the "
                            "final answer as a number. Answer with the program in a ```python "
                            "block.");
    }
    eval_items_free(a, na);
    eval_items_free(b, nb);
}

/* ---- scoring ---------------------------------------------------------------- */

/* The score of `answer` to an item whose answer is `gold`; its detail. */
static double pot_score(const char *gold, const char *answer, char *detail, size_t cap)
{
    struct item it = {.id = "t", .gold = (char *)gold};
    double score = -1;
    assert_int_equal(eval_score_item(&it, K_GSM8K_POT, answer, &score, detail, cap), LOCO_OK);
    return score;
}

static void expect(const char *gold, const char *answer, double want, const char *in_detail)
{
    char detail[160];
    double got = pot_score(gold, answer, detail, sizeof detail);
    if (got != want || !strstr(detail, in_detail))
        fail_msg("answer %s\nscored %g (want %g), detail '%s' (want '%s' in it)", answer, got, want,
                 detail, in_detail);
}

static void test_scoring(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    /* the right number printed: fenced with prose around it, or bare */
    expect("42", "Here it is:\n```python\nx = 6 * 7\nprint(x)\n```\nIt prints 42.", 1, "number=42");
    expect("42", "a = 40\nb = 2\nprint(a + b)\n", 1, "number=42");
    /* decimals and money within the numeric scorer's tolerance; the last number counts */
    expect("42", "```python\nprint(84 / 2)\n```", 1, "number=42.0");
    expect("42", "```python\nprint('cost: $', 'per day 3, in all $42.00')\n```", 1, "number=");
    expect("0.5", "```python\nprint(1 / 2)\n```", 1, "number=0.5");
    /* a main() behind the __main__ guard runs */
    expect("42",
           "```python\ndef main():\n    print(6 * 7)\n\nif __name__ == \"__main__\":\n"
           "    main()\n```",
           1, "number=42");
    /* a wrong number, and nothing printed */
    expect("42", "```python\nprint(41)\n```", 0, "number=41");
    expect("42", "```python\nx = 42\n```", 0, "number=none");
    /* a program that fails scores 0 even when it printed the number first */
    expect("42", "```python\nprint(42)\nraise ValueError('late')\n```", 0,
           "error: ValueError: late");
    expect("42", "The answer is 42.", 0, "syntax");
    expect("42", "```python\nimport sys\nprint(42)\nsys.exit(0)\n```", 0, "exit");
    /* one that never ends is stopped by the sandbox's CPU limit or clock */
    char detail[160];
    assert_true(pot_score("42", "```python\nwhile True:\n    pass\n```", detail, sizeof detail) ==
                0);
    assert_true(!strncmp(detail, "limit", 5) || !strncmp(detail, "timeout", 7));
}

/* loco_codeeval_run keeps the end of what the program printed, without the
 * runner's token. */
static void test_printed(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    struct loco_code_outcome o;
    assert_int_equal(loco_codeeval_run(NULL, "print('a')\nprint('b')\n", &o), LOCO_OK);
    assert_true(o.passed);
    assert_string_equal(o.printed, "a\nb\n");
    assert_int_equal(loco_codeeval_run(NULL, "print('x' * 1000 + 'END')\n", &o), LOCO_OK);
    assert_int_equal(strlen(o.printed), sizeof o.printed - 1);
    assert_string_equal(o.printed + strlen(o.printed) - 4, "END\n");
    /* a failing program's output is there when it was flushed (the runner
     * ends it without flushing its buffers) */
    assert_int_equal(loco_codeeval_run(NULL, "print(7, flush=True)\nassert False\n", &o),
                     LOCO_OK);
    assert_false(o.passed);
    assert_string_equal(o.printed, "7\n");
    /* a cut never starts inside a UTF-8 character: 300 two-byte letters */
    assert_int_equal(loco_codeeval_run(NULL, "print('\\u00e9' * 300, end='')\n", &o), LOCO_OK);
    assert_int_equal(strlen(o.printed), 254);
    assert_int_equal((unsigned char)o.printed[0], 0xc3);
}

/* ---- a run-time set on the adapter side ------------------------------------- */

/* An exact_match benchmark of two prompts in dir. */
static void write_bench(const char *dir, char *path, size_t cap)
{
    snprintf(path, cap, "%s/two.jsonl", dir);
    test_write_file(path, "{\"id\":\"a\",\"evaluation_type\":\"exact_match\",\"prompt\":\"Once "
                          "upon a time\",\"reference\":\"x\"}\n"
                          "{\"id\":\"b\",\"evaluation_type\":\"exact_match\",\"prompt\":\"The "
                          "little dog\",\"reference\":\"x\"}\n");
}

static struct loco_eval_params quick(const char *cache)
{
    struct loco_eval_params p = params_here();
    p.chat_template = "chatml";
    p.max_tokens = 8;
    p.slots = 2;
    p.threads = 1;
    p.n_ctx = 256;
    p.cache_path = cache;
    return p;
}

/* The adapter side's answers of bench with a at scale (and p->also). */
static char **answers(const struct loco_model *m, const struct loco_adapter *a, float scale,
                      const char *bench, const struct loco_eval_params *p, size_t *n_cached)
{
    struct loco_eval_bench b;
    assert_int_equal(loco_eval_bench_run(m, a, scale, bench, false, p, NULL, NULL, &b), LOCO_OK);
    assert_int_equal(b.n, 2);
    char **out = calloc(2, sizeof *out);
    for (size_t i = 0; i < 2; i++)
        out[i] = strdup(b.items[i].output[1]);
    *n_cached = b.n_cached[1];
    loco_eval_bench_free(&b);
    return out;
}

static void free_answers(char **a)
{
    free(a[0]);
    free(a[1]);
    free(a);
}

/* x at 0.7 with y at -0.5 as a set answers as their linear merge does, under
 * its own cache key (not x's alone), and differently from x alone. */
static void test_set_is_merge(void **state)
{
    (void)state;
    struct lora_fixture f = {0};
    if (!test_shared_path(STORIES, f.base_path, sizeof f.base_path))
        skip();
    f.base = loco_model_load(f.base_path, loco_model_default_params()); /* with its tokenizer */
    assert_non_null(f.base);
    assert_int_equal(loco_model_sha256(f.base, f.sha), LOCO_OK);
    test_make_tmpdir(f.dir, sizeof f.dir, "eval-pot");
    struct rand_adapter rx, ry;
    make_adapter(&rx, f.base, LOCO_LORA_ALL_TARGETS, 2, 0.3f);
    make_adapter(&ry, f.base,
                 LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_UP), 3, 0.3f);
    char px[512], py[512], pm[512], bench[512], cache[512];
    write_adapter(&f, &rx, 4.0f, "x", f.sha, LOCO_TYPE_F32, px, sizeof px);
    write_adapter(&f, &ry, 3.0f, "y", f.sha, LOCO_TYPE_F32, py, sizeof py);
    struct loco_adapter *ax = loco_adapter_load(px, f.base), *ay = loco_adapter_load(py, f.base);
    assert_non_null(ax);
    assert_non_null(ay);
    struct loco_merge_input in[2] = {{ax, 0.7f}, {ay, -0.5f}};
    struct loco_merge_params mp = loco_merge_default_params();
    mp.type = LOCO_TYPE_F32;
    snprintf(pm, sizeof pm, "%s/xy.gguf", f.dir);
    assert_int_equal(loco_adapter_merge(in, 2, &mp, pm, NULL), LOCO_OK);
    struct loco_adapter *am = loco_adapter_load(pm, f.base);
    assert_non_null(am);
    write_bench(f.dir, bench, sizeof bench);
    snprintf(cache, sizeof cache, "%s/cache.sqlite", f.dir);

    struct loco_eval_params p = quick(cache);
    size_t cached = 0;
    char **alone = answers(f.base, ax, 0.7f, bench, &p, &cached);
    char **merged = answers(f.base, am, 1.0f, bench, &p, &cached);
    struct loco_adapter_ref also = {ay, -0.5f};
    p.also = &also;
    p.n_also = 1;
    char **set = answers(f.base, ax, 0.7f, bench, &p, &cached);
    assert_int_equal(cached, 0); /* not x's answers from the cache */
    for (int i = 0; i < 2; i++) {
        print_message("x alone: '%s'; set: '%s'; merged: '%s'\n", alone[i], set[i], merged[i]);
        assert_string_equal(set[i], merged[i]);
    }
    assert_true(strcmp(alone[0], set[0]) || strcmp(alone[1], set[1]));
    free_answers(answers(f.base, ax, 0.7f, bench, &p, &cached));
    assert_int_equal(cached, 2); /* the set's own entries */
    /* a set holds at most LOCO_MAX_SET_ADAPTERS */
    p.n_also = LOCO_MAX_SET_ADAPTERS;
    assert_int_equal(loco_eval_params_check(&p), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "run-time set"));

    free_answers(alone);
    free_answers(merged);
    free_answers(set);
    loco_adapter_free(am);
    loco_adapter_free(ax);
    loco_adapter_free(ay);
    free_adapter(&rx);
    free_adapter(&ry);
    loco_model_free(f.base);
    test_rm_rf(f.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_scoring),
        cmocka_unit_test(test_printed),
        cmocka_unit_test(test_set_is_merge),
    };
    rng_seed(0xc0de);
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
