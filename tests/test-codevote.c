/*
 * test-codevote.c - sc:K's vote on code (src/eval/codevote.c, shown.c):
 * programs compared after normalising, doctest examples read as asserts,
 * the vote by the tests the prompt shows (most passes first, then the most
 * common program, a tie to the earliest), and what an evaluation lets the
 * vote run: MBPP's listed asserts, HumanEval's doctests, never HumanEval's
 * hidden `check`. The runs skip when python3 is absent, the dataset tests
 * when ../shared is.
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

#include "eval/batch.h"
#include "eval/shown.h"
#include "loco/codeeval.h"
#include "loco/strategy.h"
#include "testutil.h"

static void expect_normalised(const char *code, const char *want)
{
    char *got = loco_codeeval_normalise(code);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* ---- normalising ------------------------------------------------------------ */

static void test_normalise_layout_and_comments(void **state)
{
    (void)state;
    const char *want = "def f(x):\n\treturn x+1\n";
    expect_normalised("def f(x) :  # add one\n    return x+1\n", want);
    expect_normalised("# a comment\n\ndef f(x):\n  return x + 1   \n\n", want);
    expect_normalised("def f(x):\r\n\treturn x + \\\n 1\r\n", want);
    /* names keep one space between them; nesting is kept as levels */
    expect_normalised("if  not a :\n        for i in  b:\n                pass\n        c = 1\nd()",
                      "if not a:\n\tfor i in b:\n\t\tpass\n\tc=1\nd()\n");
    /* a newline inside brackets joins the line */
    expect_normalised("x = [1,\n     2]\n", "x=[1,2]\n");
    expect_normalised("", "");
    expect_normalised("   \n# only a comment\n", "");
}

static void test_normalise_keeps_strings(void **state)
{
    (void)state;
    expect_normalised("s = 'a  # b'  # c\n", "s='a  # b'\n");
    expect_normalised("s = \"x \\\" y\"\n", "s=\"x \\\" y\"\n");
    expect_normalised("def f():\n    \"\"\"Doc\n\n    # not a comment\n    \"\"\"\n    return 1\n",
                      "def f():\n\t\"\"\"Doc\n\n    # not a comment\n    \"\"\"\n\treturn 1\n");
    /* different programs stay different */
    char *a = loco_codeeval_normalise("if a:\n    x()\ny()\n");
    char *b = loco_codeeval_normalise("if a:\n    x()\n    y()\n");
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    assert_null(loco_codeeval_normalise(NULL));
}

/* ---- doctests --------------------------------------------------------------- */

static void test_doctests_from_prompt(void **state)
{
    (void)state;
    const char *prompt = "def twice(x):\n"
                         "    \"\"\" Twice x.\n"
                         "    >>> twice(2)\n"
                         "    4\n"
                         "    >>> twice('ab')  \n"
                         "    'abab'\n"
                         "    >>> y = twice(1)\n"
                         "    >>> print(twice(3))\n"
                         "    6\n"
                         "    >>> twice(\n"
                         "    ...   5)\n"
                         "    10\n"
                         "    >>> twice(0)\n"
                         "    \"\"\"\n";
    char **tests = NULL;
    size_t n = 0;
    assert_int_equal(loco_codeeval_doctests(prompt, &tests, &n), LOCO_OK);
    assert_int_equal(n, 2);
    assert_string_equal(tests[0], "assert (twice(2)\n) == (4\n)");
    assert_string_equal(tests[1], "assert (twice('ab')\n) == ('abab'\n)");
    loco_codeeval_tests_free(tests, n);
    /* an expected value that goes on past its line is left out: open
     * brackets, or a next line that is more of the value */
    const char *multi = "    >>> f(1)\n    ['a',\n     'b']\n    >>> f(2)\n    'x'\n    'y'\n"
                        "    >>> f(3)\n    'z'\"\"\"\n    >>> f(4)\n    [1, 2]\n\n";
    assert_int_equal(loco_codeeval_doctests(multi, &tests, &n), LOCO_OK);
    assert_int_equal(n, 1);
    assert_string_equal(tests[0], "assert (f(4)\n) == ([1, 2]\n)");
    loco_codeeval_tests_free(tests, n);
    assert_int_equal(loco_codeeval_doctests("def f():\n    pass\n", &tests, &n), LOCO_OK);
    assert_int_equal(n, 0);
    assert_null(tests);
    assert_int_equal(loco_codeeval_doctests(NULL, &tests, &n), LOCO_ERR_INVALID);
}

/* ---- the vote --------------------------------------------------------------- */

static const char *const add_tests[] = {
    "assert add(1, 2) == 3",
    "assert add(2, 2) == 4",
    "assert add(0, 5) == 5",
};

/* One answer passes every shown test, two fail, and two more pass with the
 * same program written differently: those two win. */
static void test_vote_most_passes_then_most_common(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    const char *answers[] = {
        "```python\ndef add(a, b):\n    return a * b\n```\n",                 /* passes 1 */
        "Here:\n```python\ndef add(a, b):\n    return a + b\n```\n",          /* passes 3 */
        "```python\ndef add(a, b):\n    return sum([a, b])\n```\n",           /* passes 3 */
        "```python\ndef add(a,b):\n  # the sum\n  return sum( [a, b] )\n```", /* as 2 */
        "```python\ndef add(a, b)\n    return a + b\n```\n",                  /* syntax: 0 */
    };
    struct loco_code_shown shown = {.tests = add_tests, .n_tests = 3};
    int32_t winner = -1, passed[5];
    double share = 0;
    assert_int_equal(loco_codeeval_vote(&shown, NULL, answers, 5, &winner, &share, passed),
                     LOCO_OK);
    assert_int_equal(winner, 2);
    assert_true(fabs(share - 2.0 / 5.0) < 1e-12);
    const int32_t want[] = {1, 3, 3, 3, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(passed[i], want[i]);
}

/* A broken program whose normalised form equals a working one's (a stray
 * dedent reads as a block level) does not lend it its failures: only
 * byte-identical code shares runs. */
static void test_vote_broken_twin_runs_alone(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    const char *answers[] = {
        "```python\ndef add(a, b):\n        s = a + b\n    return s\n```\n", /* IndentationError */
        "```python\ndef add(a, b):\n    s = a + b\n    return s\n```\n",     /* passes 3 */
        "```python\ndef add(a, b):\n    s = a + b\n    return s\n```\n",     /* the same bytes */
    };
    struct loco_code_shown shown = {.tests = add_tests, .n_tests = 3};
    int32_t winner = -1, passed[3];
    double share = 0;
    assert_int_equal(loco_codeeval_vote(&shown, NULL, answers, 3, &winner, &share, passed),
                     LOCO_OK);
    assert_int_equal(passed[0], 0);
    assert_int_equal(passed[1], 3);
    assert_int_equal(passed[2], 3);
    assert_int_equal(winner, 1);
    assert_true(fabs(share - 2.0 / 3.0) < 1e-12);
}

/* Passing more tests beats a majority, and a tie goes to the earliest. */
static void test_vote_tests_beat_majority_tie_to_earliest(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    const char *wrong = "def add(a, b):\n    return a * b\n";
    const char *majority[] = {wrong, wrong, "def add(a, b):\n    return b + a\n", wrong};
    struct loco_code_shown shown = {.setup = "import math", .tests = add_tests, .n_tests = 3};
    int32_t winner = -1, passed[4];
    double share = 0;
    assert_int_equal(loco_codeeval_vote(&shown, NULL, majority, 4, &winner, &share, passed),
                     LOCO_OK);
    assert_int_equal(winner, 2);
    assert_true(fabs(share - 0.25) < 1e-12);
    assert_int_equal(passed[0], 1);
    assert_int_equal(passed[2], 3);
    const char *tie[] = {"", "def add(a, b):\n    return a + b\n", NULL,
                         "def add(a, b):\n    return b + a\n"};
    assert_int_equal(loco_codeeval_vote(&shown, NULL, tie, 4, &winner, &share, passed), LOCO_OK);
    assert_int_equal(winner, 1);
    assert_true(fabs(share - 0.25) < 1e-12);
    assert_int_equal(passed[0], 0); /* no code: no vote, no run */
    assert_int_equal(passed[2], 0);
}

/* With no test shown the vote is on normalised code alone; bad arguments. */
static void test_vote_without_tests(void **state)
{
    (void)state;
    const char *answers[] = {"def f():\n    return 1\n", "def f():\n  return 2\n",
                             "def f( ):\n\treturn 2  # two\n"};
    struct loco_code_shown shown = {0};
    int32_t winner = -1, passed[3];
    double share = 0;
    assert_int_equal(loco_codeeval_vote(&shown, NULL, answers, 3, &winner, &share, passed),
                     LOCO_OK);
    assert_int_equal(winner, 1);
    assert_true(fabs(share - 2.0 / 3.0) < 1e-12);
    assert_int_equal(passed[1], 0);
    const char *none[] = {NULL, ""};
    assert_int_equal(loco_codeeval_vote(&shown, NULL, none, 2, &winner, &share, passed), LOCO_OK);
    assert_int_equal(winner, 0);
    assert_true(share == 0.0);
    assert_int_equal(loco_codeeval_vote(NULL, NULL, answers, 3, &winner, &share, passed),
                     LOCO_ERR_INVALID);
    assert_int_equal(loco_codeeval_vote(&shown, NULL, answers, 0, &winner, &share, passed),
                     LOCO_ERR_INVALID);
    shown.n_tests = 1; /* tests counted but not given */
    assert_int_equal(loco_codeeval_vote(&shown, NULL, answers, 3, &winner, &share, passed),
                     LOCO_ERR_INVALID);
}

/* ---- what an evaluation shows the vote ------------------------------------- */

/* A HumanEval item whose hidden check contradicts its doctest: the vote
 * sees only the doctest, so the answer the check would pass loses. */
static void test_humaneval_hidden_check_not_used(void **state)
{
    (void)state;
    char prompt[] = "def inc(x):\n    \"\"\"One more.\n    >>> inc(1)\n    2\n    \"\"\"\n";
    char hidden[] = "def check(candidate):\n    assert candidate(1) == 3\n";
    char entry[] = "inc";
    struct item it = {
        .code_prompt = prompt, .test = hidden, .entry_point = entry, .prompt = prompt};
    struct shown_tests st;
    int rc = -1;
    assert_true(eval_shown_tests(&it, K_HUMANEVAL, &st, &rc));
    assert_int_equal(rc, LOCO_OK);
    assert_int_equal(st.shown.n_tests, 1);
    assert_string_equal(st.shown.tests[0], "assert (inc(1)\n) == (2\n)");
    assert_ptr_equal(st.shown.setup, prompt);
    assert_string_equal(st.shown.entry_point, "inc");
    struct shown_tests none;
    char bare[] = "def inc(x):\n    \"\"\"One more.\"\"\"\n";
    struct item plain = {.code_prompt = bare, .test = hidden, .entry_point = entry, .prompt = bare};
    assert_true(eval_shown_tests(&plain, K_HUMANEVAL, &none, &rc));
    assert_int_equal(none.shown.n_tests, 0); /* no example: the vote is on code alone */
    eval_shown_free(&none);
    if (!test_have_python()) {
        eval_shown_free(&st);
        skip();
    }
    const char *answers[] = {"```python\ndef inc(x):\n    return x + 2\n```\n",
                             "```python\ndef inc(x):\n    return x + 1\n```\n"};
    int32_t winner = -1, passed[2];
    double share = 0;
    assert_int_equal(loco_codeeval_vote(&st.shown, NULL, answers, 2, &winner, &share, passed),
                     LOCO_OK);
    assert_int_equal(winner, 1);
    assert_int_equal(passed[0], 0);
    assert_int_equal(passed[1], 1);
    eval_shown_free(&st);
}

/* MBPP: only the asserts the prompt lists; gsm8k-pot votes as text. */
static void test_mbpp_shown_asserts_only(void **state)
{
    (void)state;
    char prompt[] = "Add two numbers.\nYour code should pass these tests:\n"
                    "assert add(1, 2) == 3\n  assert add(2, 2) == 4  \nassert add(5, 5) == 10";
    /* t3 is inside a shown line but is not one: a hidden test */
    char t0[] = "assert add(1, 2) == 3", t1[] = "assert add(2, 2) == 4",
         t2[] = "assert add(9, 9) == 18", t3[] = "assert add(5, 5) == 1", setup[] = "";
    char *tests[] = {t0, t1, t2, t3};
    struct item it = {.prompt = prompt, .test = setup, .tests = tests, .n_tests = 4};
    struct shown_tests st;
    int rc = -1;
    assert_true(eval_shown_tests(&it, K_MBPP, &st, &rc));
    assert_int_equal(rc, LOCO_OK);
    assert_int_equal(st.shown.n_tests, 2);
    assert_string_equal(st.shown.tests[0], t0);
    assert_string_equal(st.shown.tests[1], t1);
    assert_null(st.shown.entry_point);
    eval_shown_free(&st);
    assert_false(eval_shown_tests(&it, K_GSM8K_POT, &st, &rc));
    assert_false(eval_votes_by_tests(K_GSM8K_POT));
    assert_true(eval_votes_by_tests(K_HUMANEVAL));
}

/* The evaluation's vote: by shown tests into the record's fields, else the
 * domain's vote. */
static void test_eval_sc_vote_record(void **state)
{
    (void)state;
    struct gen_how how = {.vote_domain = "math"};
    struct gen_req q = {0};
    const char *nums[] = {"#### 3", "#### 4", "3.0"};
    struct loco_eval_vote v;
    assert_int_equal(eval_sc_vote(&how, &q, nums, 3, &v), LOCO_OK);
    assert_string_equal(v.by, "number");
    assert_int_equal(v.k, 3);
    assert_int_equal(v.winner, 0);
    assert_int_equal(v.n_tests, 0);
    assert_string_equal(loco_vote_rule("arc"), "choice");
    assert_string_equal(loco_vote_rule(NULL), "text");
    if (!test_have_python())
        skip();
    struct loco_code_shown shown = {.tests = add_tests, .n_tests = 3};
    q.shown = &shown;
    const char *code[] = {"def add(a, b):\n    return a * b\n", "def add(a, b):\n    return a+b\n"};
    assert_int_equal(eval_sc_vote(&how, &q, code, 2, &v), LOCO_OK);
    assert_string_equal(v.by, "tests");
    assert_int_equal(v.n_tests, 3);
    assert_int_equal(v.winner, 1);
    assert_int_equal(v.passed[0], 1);
    assert_int_equal(v.passed[1], 3);
}

/* ---- the real datasets ----------------------------------------------------- */

#define N_ITEMS 20

static struct loco_eval_params params_here(void)
{
    struct loco_eval_params p = loco_eval_default_params();
    const char *shared = getenv("LOCO_SHARED_DIR");
    p.shared_dir = shared && shared[0] ? shared : "../shared";
    p.limit = N_ITEMS;
    return p;
}

/* Every MBPP item's prompt lists all its asserts: the vote sees them all. */
static void test_mbpp_items_show_every_assert(void **state)
{
    (void)state;
    char data[1024];
    if (!test_shared_path("datasets/mbpp/mbpp.jsonl", data, sizeof data))
        skip();
    struct loco_eval_params p = params_here();
    struct item *items = NULL;
    size_t n = 0;
    assert_int_equal(eval_load_builtin(eval_find_builtin("mbpp"), &p, &items, &n), LOCO_OK);
    assert_int_equal(n, N_ITEMS);
    for (size_t i = 0; i < n; i++) {
        struct shown_tests st;
        int rc = -1;
        assert_true(eval_shown_tests(&items[i], K_MBPP, &st, &rc));
        assert_int_equal(rc, LOCO_OK);
        assert_true(items[i].n_tests > 0);
        assert_int_equal(st.shown.n_tests, items[i].n_tests);
        assert_ptr_equal(st.shown.setup, items[i].test);
        eval_shown_free(&st);
    }
    eval_items_free(items, n);
}

/* The canonical solution of i-th line of the HumanEval file (malloc'd). */
static char *canonical(const char *text, size_t i)
{
    for (; i > 0 && text; i--)
        text = strchr(text, '\n') ? strchr(text, '\n') + 1 : NULL;
    assert_non_null(text);
    cJSON *j = cJSON_ParseWithOpts(text, NULL, false);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "canonical_solution");
    assert_true(cJSON_IsString(c));
    char *s = strdup(c->valuestring);
    cJSON_Delete(j);
    return s;
}

/* HumanEval items as the evaluation loads them: the vote sees their doctest
 * examples, which each canonical solution passes and a wrong body does not,
 * so the canonical one wins. */
static void test_humaneval_items_doctests(void **state)
{
    (void)state;
    char data[1024];
    if (!test_shared_path("datasets/humaneval/humaneval.jsonl", data, sizeof data))
        skip();
    if (!test_have_python())
        skip();
    char *text = test_read_file(data, NULL);
    struct loco_eval_params p = params_here();
    struct item *items = NULL;
    size_t n = 0, with_examples = 0;
    assert_int_equal(eval_load_builtin(eval_find_builtin("humaneval"), &p, &items, &n), LOCO_OK);
    assert_int_equal(n, N_ITEMS);
    for (size_t i = 0; i < n; i++) {
        struct shown_tests st;
        int rc = -1;
        assert_true(eval_shown_tests(&items[i], K_HUMANEVAL, &st, &rc));
        assert_int_equal(rc, LOCO_OK);
        for (size_t t = 0; t < st.shown.n_tests; t++)
            assert_null(strstr(st.shown.tests[t], "candidate"));
        char *right = canonical(text, i);
        const char *answers[] = {"    return None\n", right};
        int32_t winner = -1, passed[2];
        double share = 0;
        assert_int_equal(loco_codeeval_vote(&st.shown, NULL, answers, 2, &winner, &share, passed),
                         LOCO_OK);
        if (st.shown.n_tests) {
            with_examples++;
            assert_int_equal(passed[1], (int32_t)st.shown.n_tests);
            assert_true(passed[0] < passed[1]);
            assert_int_equal(winner, 1);
            assert_true(fabs(share - 0.5) < 1e-12);
        }
        free(right);
        eval_shown_free(&st);
    }
    assert_true(with_examples > 0);
    eval_items_free(items, n);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise_layout_and_comments),
        cmocka_unit_test(test_normalise_keeps_strings),
        cmocka_unit_test(test_doctests_from_prompt),
        cmocka_unit_test(test_vote_most_passes_then_most_common),
        cmocka_unit_test(test_vote_broken_twin_runs_alone),
        cmocka_unit_test(test_vote_tests_beat_majority_tie_to_earliest),
        cmocka_unit_test(test_vote_without_tests),
        cmocka_unit_test(test_humaneval_hidden_check_not_used),
        cmocka_unit_test(test_mbpp_shown_asserts_only),
        cmocka_unit_test(test_eval_sc_vote_record),
        cmocka_unit_test(test_mbpp_items_show_every_assert),
        cmocka_unit_test(test_humaneval_items_doctests),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
