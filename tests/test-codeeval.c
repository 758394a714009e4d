/*
 * test-codeeval.c - HumanEval and MBPP: extracting code from answers,
 * building the programs, running them to a verdict, and pass@k. Programs
 * that try to pass without passing (sys.exit(0), os._exit(0), atexit and
 * excepthook tricks, fake tokens) fail; honest ones pass or fail as before.
 *
 * The dataset tests run the canonical solutions of the first 20 items of
 * each benchmark from ../shared/datasets (they must pass) and wrong ones
 * (they must fail); they skip when ../shared or python3 is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/codeeval.h"
#include "testutil.h"

static struct loco_sandbox_params quick(void)
{
    struct loco_sandbox_params p = loco_sandbox_default_params();
    p.timeout_s = 5;
    p.cpu_s = 2;
    return p;
}

/* ---- extraction ----------------------------------------------------------- */

static void expect_extract(const char *answer, const char *entry, enum loco_code_pick pick,
                           const char *want)
{
    char *got = loco_codeeval_extract(answer, entry, pick);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_extract_raw_text(void **state)
{
    (void)state;
    expect_extract("def f():\n    return 1\n", NULL, LOCO_CODE_FIRST, "def f():\n    return 1\n");
    expect_extract("", NULL, LOCO_CODE_FIRST, "");
    expect_extract(NULL, NULL, LOCO_CODE_FIRST, "");
}

static void test_extract_python_fence(void **state)
{
    (void)state;
    const char *a = "Here you go:\n```python\ndef f(x):\n    return x\n```\nIt returns x.\n";
    expect_extract(a, NULL, LOCO_CODE_FIRST, "def f(x):\n    return x\n");
    expect_extract("```Python3  \nx = 1\n```", NULL, LOCO_CODE_FIRST, "x = 1\n");
    expect_extract("  ```py\nx = 2\n  ```\n", NULL, LOCO_CODE_FIRST, "x = 2\n"); /* indented */
}

static void test_extract_first_or_last(void **state)
{
    (void)state;
    const char *a = "```python\nA = 1\n```\ntext\n```python\nB = 2\n```\n";
    expect_extract(a, NULL, LOCO_CODE_FIRST, "A = 1\n");
    expect_extract(a, NULL, LOCO_CODE_LAST, "B = 2\n");
}

static void test_extract_python_beats_untagged_and_other(void **state)
{
    (void)state;
    const char *a = "```bash\npip install x\n```\n```\nplain = 1\n```\n```python\npy = 1\n```\n";
    expect_extract(a, NULL, LOCO_CODE_FIRST, "py = 1\n");
    expect_extract("```bash\nls\n```\n```\nplain = 1\n```\n", NULL, LOCO_CODE_FIRST, "plain = 1\n");
    expect_extract("```bash\nls\n```\n", NULL, LOCO_CODE_FIRST, "ls\n");
}

/* The block that defines the entry point wins over usage examples. */
static void test_extract_entry_point(void **state)
{
    (void)state;
    const char *a = "```python\nprint(add(1, 2))\n```\n"
                    "```python\ndef add(a, b):\n    return a + b\n```\n"
                    "```python\nassert add(2, 2) == 4\n```\n";
    expect_extract(a, "add", LOCO_CODE_FIRST, "def add(a, b):\n    return a + b\n");
    expect_extract(a, "add", LOCO_CODE_LAST, "def add(a, b):\n    return a + b\n");
    expect_extract(a, NULL, LOCO_CODE_FIRST, "print(add(1, 2))\n");
    /* a method or nested def counts too; `def adder(` does not */
    expect_extract("```\ndef adder(a):\n    pass\n```\n```\nclass S:\n    def add(self):\n"
                   "        pass\n```\n",
                   "add", LOCO_CODE_FIRST, "class S:\n    def add(self):\n        pass\n");
}

static void test_extract_unterminated_fence(void **state)
{
    (void)state;
    expect_extract("Sure:\n```python\ndef f():\n    return 1", NULL, LOCO_CODE_FIRST,
                   "def f():\n    return 1");
}

/* ---- programs ------------------------------------------------------------- */

static const char *k_prompt = "import math\n\n\ndef double(x: int) -> int:\n"
                              "    \"\"\"Twice x.\"\"\"\n";
static const char *k_test = "\n\ndef check(candidate):\n    assert candidate(2) == 4\n";

static void test_humaneval_program_body(void **state)
{
    (void)state;
    char *p = loco_codeeval_humaneval_program(k_prompt, "    return 2 * x\n", k_test, "double");
    assert_non_null(p);
    assert_string_equal(p, "import math\n\n\ndef double(x: int) -> int:\n"
                           "    \"\"\"Twice x.\"\"\"\n    return 2 * x\n\n"
                           "\n\ndef check(candidate):\n    assert candidate(2) == 4\n"
                           "\ncheck(double)\n");
    free(p);
}

static void test_humaneval_program_whole_function(void **state)
{
    (void)state;
    const char *c = "def double(x: int) -> int:\n    return x + x\n";
    char *p = loco_codeeval_humaneval_program(k_prompt, c, k_test, "double");
    assert_non_null(p);
    assert_string_equal(p, "import math\n\n\ndef double(x: int) -> int:\n"
                           "    \"\"\"Twice x.\"\"\"\n\ndef double(x: int) -> int:\n"
                           "    return x + x\n\n\n\ndef check(candidate):\n"
                           "    assert candidate(2) == 4\n\ncheck(double)\n");
    free(p);
    assert_null(loco_codeeval_humaneval_program(k_prompt, NULL, k_test, "double"));
    assert_non_null(strstr(loco_error_message(), "completion"));
}

static void test_mbpp_program(void **state)
{
    (void)state;
    const char *tests[] = {"assert f(1) == 2", "assert f(2) == 3"};
    char *p = loco_codeeval_mbpp_program("import math", "def f(x):\n    return x + 1", tests, 2);
    assert_non_null(p);
    assert_string_equal(p, "import math\ndef f(x):\n    return x + 1\n"
                           "assert f(1) == 2\nassert f(2) == 3\n");
    free(p);
    p = loco_codeeval_mbpp_program(NULL, "x = 1", NULL, 0);
    assert_string_equal(p, "\nx = 1\n");
    free(p);
    assert_null(loco_codeeval_mbpp_program("", NULL, tests, 2));
}

/* ---- pass@k --------------------------------------------------------------- */

static double pak(uint32_t n, uint32_t c, uint32_t k)
{
    double v = -1;
    assert_int_equal(loco_codeeval_pass_at_k(n, c, k, &v), LOCO_OK);
    return v;
}

static void test_pass_at_k_hand_values(void **state)
{
    (void)state;
    assert_float_equal(pak(1, 1, 1), 1.0, 0);
    assert_float_equal(pak(1, 0, 1), 0.0, 0);
    assert_float_equal(pak(10, 3, 1), 0.3, 1e-12);         /* pass@1 = c/n */
    assert_float_equal(pak(10, 3, 5), 11.0 / 12.0, 1e-12); /* 1 - C(7,5)/C(10,5) = 1 - 21/252 */
    assert_float_equal(pak(5, 2, 2), 0.7, 1e-12);          /* 1 - C(3,2)/C(5,2) = 1 - 3/10 */
    assert_float_equal(pak(10, 8, 3), 1.0, 0);             /* n - c < k */
    assert_float_equal(pak(200, 1, 1), 0.005, 1e-12);
    /* binomials of 10^58 never appear: python's math.comb gives these */
    assert_float_equal(pak(200, 10, 100), 0.9992289739372822, 1e-12);
    assert_float_equal(pak(1000, 5, 10), 0.04910629542831946, 1e-12);
}

static void test_pass_at_k_range(void **state)
{
    (void)state;
    double v;
    assert_int_equal(loco_codeeval_pass_at_k(0, 0, 1, &v), LOCO_ERR_RANGE);
    assert_int_equal(loco_codeeval_pass_at_k(5, 6, 1, &v), LOCO_ERR_RANGE);
    assert_int_equal(loco_codeeval_pass_at_k(5, 1, 0, &v), LOCO_ERR_RANGE);
    assert_int_equal(loco_codeeval_pass_at_k(5, 1, 6, &v), LOCO_ERR_RANGE);
    assert_non_null(strstr(loco_error_message(), "k=6"));
}

/* ---- verdicts ------------------------------------------------------------- */

static enum loco_code_verdict verdict_of(const char *program, char *detail, size_t cap)
{
    struct loco_sandbox_params p = quick();
    struct loco_code_outcome o;
    assert_int_equal(loco_codeeval_run(&p, program, &o), LOCO_OK);
    assert_true(o.passed == (o.verdict == LOCO_CODE_PASS));
    if (detail)
        snprintf(detail, cap, "%s", o.detail);
    return o.verdict;
}

static void test_run_verdicts(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    char d[256];
    assert_int_equal(verdict_of("assert 1 == 1\n", d, sizeof d), LOCO_CODE_PASS);
    assert_string_equal(d, "");
    assert_int_equal(verdict_of("assert 1 == 2, 'wrong'\n", d, sizeof d), LOCO_CODE_FAIL_ASSERT);
    assert_string_equal(d, "AssertionError: wrong");
    assert_int_equal(verdict_of("def f(:\n", NULL, 0), LOCO_CODE_FAIL_SYNTAX);
    assert_int_equal(verdict_of("if 1:\nx = 1\n", NULL, 0), LOCO_CODE_FAIL_SYNTAX);
    assert_int_equal(verdict_of("undefined_name\n", d, sizeof d), LOCO_CODE_FAIL_ERROR);
    assert_string_equal(d, "NameError: name 'undefined_name' is not defined");
    assert_int_equal(verdict_of("import os\nos._exit(3)\n", d, sizeof d), LOCO_CODE_FAIL_CRASH);
    assert_string_equal(d, "exit status 3");
    assert_int_equal(verdict_of("x = bytearray(8 << 30)\n", NULL, 0), LOCO_CODE_FAIL_LIMIT);
    struct loco_sandbox_params p = quick();
    struct loco_code_outcome o;
    p.cpu_s = 1;
    p.timeout_s = 30; /* generous: a busy machine gives the loop less than a core */
    assert_int_equal(loco_codeeval_run(&p, "while True:\n    pass\n", &o), LOCO_OK);
    assert_int_equal(o.verdict, LOCO_CODE_FAIL_LIMIT);
    assert_string_equal(o.detail, "cpu limit");
    p.timeout_s = 1;
    assert_int_equal(loco_codeeval_run(&p, "import time\ntime.sleep(9)\n", &o), LOCO_OK);
    assert_int_equal(o.verdict, LOCO_CODE_FAIL_TIMEOUT);
    assert_false(o.passed);
    assert_string_equal(loco_codeeval_verdict_name(LOCO_CODE_FAIL_TIMEOUT), "timeout");
    assert_string_equal(loco_codeeval_verdict_name(LOCO_CODE_PASS), "pass");
}

/* The sandbox's refusal comes back as an error, not as a failed item. */
static void test_run_error_is_not_a_verdict(void **state)
{
    (void)state;
    struct loco_sandbox_params p = quick();
    p.program = "/nonexistent/python3";
    struct loco_code_outcome o;
    assert_int_equal(loco_codeeval_run(&p, "pass\n", &o), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_codeeval_run(&p, NULL, &o), LOCO_ERR_INVALID);
}

/* ---- programs that try to pass without passing ---------------------------- */

/* A wrong solution (f(1) is 1, the test wants 2) with a trick before or
 * around the failing test. Before the token, each of these exited with
 * status 0 and was scored as passed. */
static const char *const forgeries[] = {
    /* exit before the tests run */
    "import sys\nsys.exit(0)\n",
    "exit()\n",
    "quit()\n",
    "raise SystemExit\n",
    "raise SystemExit(0)\n",
    "import os\nos._exit(0)\n",
    "import sys\ndef main():\n    return 0\nsys.exit(main())\n",
    /* hooks that turn the failing assert into status 0 */
    "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
    "import sys, os\ndef hook(*a):\n    sys.stdout.write('ok\\n')\n    os._exit(0)\n"
    "sys.excepthook = hook\nimport threading\nthreading.excepthook = hook\n",
    /* fake tokens: guessed, or read from stdin, the source or the environment */
    "import os\nprint('LOCO-TESTS-PASSED ' + '0' * 32)\nos._exit(0)\n",
    "import os, sys\nprint('LOCO-TESTS-PASSED ' + sys.stdin.read())\nos._exit(0)\n",
    "import os\nprint(open('main.py').read())\nprint(os.environ)\nos._exit(0)\n",
    "import os\nfor fd in range(3, 64):\n    try:\n        print(os.read(fd, 64))\n"
    "    except OSError:\n        pass\nos._exit(0)\n",
    /* patched print, stdout and builtins, then an early exit */
    "import builtins, sys, io\nbuiltins.print = lambda *a, **k: None\nsys.stdout = io.StringIO()\n"
    "raise SystemExit(0)\n",
    "import os\nos.write = lambda fd, b: len(b)\nos._exit = lambda c: None\n",
    "import os\nos.close(1)\nos.close(2)\nos._exit(0)\n",
};

static void test_forged_passes_fail(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    struct loco_sandbox_params p = quick();
    for (size_t i = 0; i < sizeof forgeries / sizeof forgeries[0]; i++) {
        char program[1024];
        snprintf(program, sizeof program, "def f(x):\n    return x\n%sassert f(1) == 2\n",
                 forgeries[i]);
        struct loco_code_outcome o;
        assert_int_equal(loco_codeeval_run(&p, program, &o), LOCO_OK);
        if (o.passed)
            fail_msg("forgery %zu passed:\n%s", i, program);
        assert_true(o.verdict == LOCO_CODE_FAIL_EXIT || o.verdict == LOCO_CODE_FAIL_ASSERT);
    }
    /* the early exits name what happened */
    char d[256];
    assert_int_equal(verdict_of("import sys\nsys.exit(0)\nassert False\n", d, sizeof d),
                     LOCO_CODE_FAIL_EXIT);
    assert_string_equal(d, "SystemExit: 0 (the program exited before its tests finished)");
    assert_int_equal(verdict_of("import os\nos._exit(0)\n", d, sizeof d), LOCO_CODE_FAIL_EXIT);
    assert_string_equal(d, "exit status 0 before the tests finished");
    assert_string_equal(loco_codeeval_verdict_name(LOCO_CODE_FAIL_EXIT), "exit");
}

/* Honest programs still pass or fail on their merits, whatever they do to
 * stdout, stdin, print or the exit machinery along the way. */
static void test_honest_programs(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    static const char *const passing[] = {
        "def f(x):\n    return x + 1\nassert f(1) == 2\n",
        "import os\nos.close(1)\ndef f(x):\n    return x + 1\nassert f(1) == 2\n",
        "import builtins, sys, io\nbuiltins.print = None\nsys.stdout = io.StringIO()\n"
        "assert 1 + 1 == 2\n",
        "import sys\ndef main():\n    return 0\nif __name__ == '__main__':\n    sys.exit(main())\n"
        "assert main() == 0\n",
        "import atexit, os\natexit.register(lambda: os._exit(3))\nassert True\n",
        "print('LOCO-TESTS-PASSED not-the-nonce')\nassert True\n",
        "import sys\nassert sys.stdin.read() == ''\n",
        "from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\nassert P(1).x == 1\n",
        "# -*- coding: utf-8 -*-\ns = 'caf\xc3\xa9'\nassert len(s) == 4\n",
    };
    for (size_t i = 0; i < sizeof passing / sizeof passing[0]; i++) {
        char d[256];
        if (verdict_of(passing[i], d, sizeof d) != LOCO_CODE_PASS)
            fail_msg("honest program %zu did not pass (%s):\n%s", i, d, passing[i]);
    }
    char d[256];
    assert_int_equal(verdict_of("import atexit, os\natexit.register(lambda: os._exit(0))\n"
                                "assert 1 == 2, 'no'\n",
                                d, sizeof d),
                     LOCO_CODE_FAIL_ASSERT);
    assert_string_equal(d, "AssertionError: no");
    assert_int_equal(verdict_of("def f(:\n", d, sizeof d), LOCO_CODE_FAIL_SYNTAX);
    assert_non_null(strstr(d, "SyntaxError"));
}

/* ---- the real datasets ---------------------------------------------------- */

#define N_ITEMS 20

/* The first n records of a JSONL file, or NULL (skip) when it is absent. */
static cJSON **read_jsonl(const char *rel, size_t n)
{
    char path[1024];
    if (!test_shared_path(rel, path, sizeof path))
        return NULL;
    char *text = test_read_file(path, NULL);
    assert_non_null(text);
    cJSON **items = calloc(n, sizeof *items);
    char *line = text;
    for (size_t i = 0; i < n && *line; i++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        items[i] = cJSON_Parse(line);
        assert_non_null(items[i]);
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    return items;
}

static void free_items(cJSON **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(items[i]);
    free(items);
}

static const char *field(const cJSON *item, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(item, name);
    assert_true(cJSON_IsString(f));
    return f->valuestring;
}

static bool humaneval_passes(const cJSON *it, const char *completion)
{
    char *prog = loco_codeeval_humaneval_program(field(it, "prompt"), completion, field(it, "test"),
                                                 field(it, "entry_point"));
    assert_non_null(prog);
    struct loco_sandbox_params p = quick();
    struct loco_code_outcome o;
    assert_int_equal(loco_codeeval_run(&p, prog, &o), LOCO_OK);
    if (!o.passed && strstr(completion, "return None") == NULL)
        fprintf(stderr, "%s: %s (%s)\n", field(it, "task_id"),
                loco_codeeval_verdict_name(o.verdict), o.detail);
    free(prog);
    return o.passed;
}

static void test_humaneval_canonical_pass(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    cJSON **items = read_jsonl("datasets/humaneval/humaneval.jsonl", N_ITEMS);
    if (!items)
        skip();
    for (size_t i = 0; i < N_ITEMS; i++)
        assert_true(humaneval_passes(items[i], field(items[i], "canonical_solution")));
    free_items(items, N_ITEMS);
}

/* A chat answer that repeats the whole function (signature, docstring)
 * inside a fence, with a usage example after it, also passes. */
static void test_humaneval_chat_answer_passes(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    cJSON **items = read_jsonl("datasets/humaneval/humaneval.jsonl", 5);
    if (!items)
        skip();
    for (size_t i = 0; i < 5; i++) {
        const char *entry = field(items[i], "entry_point");
        char *answer = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&answer, &len);
        fprintf(f,
                "Here is my solution.\n\n```python\n%s%s```\n\nUsage:\n```python\nprint(%s)\n```\n",
                field(items[i], "prompt"), field(items[i], "canonical_solution"), entry);
        fclose(f);
        char *code = loco_codeeval_extract(answer, entry, LOCO_CODE_FIRST);
        assert_non_null(strstr(code, "def "));
        assert_true(humaneval_passes(items[i], code));
        free(code);
        free(answer);
    }
    free_items(items, 5);
}

static void test_humaneval_wrong_fails(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    cJSON **items = read_jsonl("datasets/humaneval/humaneval.jsonl", 3);
    if (!items)
        skip();
    for (size_t i = 0; i < 3; i++)
        assert_false(humaneval_passes(items[i], "    return None\n"));
    free_items(items, 3);
}

static bool mbpp_passes(const cJSON *it, const char *code)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(it, "test_list");
    const char *tests[16];
    size_t n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, list)
    {
        if (n < 16 && cJSON_IsString(t))
            tests[n++] = t->valuestring;
    }
    assert_true(n > 0);
    char *prog = loco_codeeval_mbpp_program(field(it, "test_setup_code"), code, tests, n);
    assert_non_null(prog);
    struct loco_sandbox_params p = quick();
    struct loco_code_outcome o;
    assert_int_equal(loco_codeeval_run(&p, prog, &o), LOCO_OK);
    free(prog);
    return o.passed;
}

static void test_mbpp_canonical_pass(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    cJSON **items = read_jsonl("datasets/mbpp/mbpp.jsonl", N_ITEMS);
    if (!items)
        skip();
    for (size_t i = 0; i < N_ITEMS; i++) {
        bool ok = mbpp_passes(items[i], field(items[i], "code"));
        if (!ok)
            fprintf(stderr, "mbpp item %zu failed\n", i + 1);
        assert_true(ok);
    }
    free_items(items, N_ITEMS);
}

static void test_mbpp_wrong_fails(void **state)
{
    (void)state;
    if (!test_have_python())
        skip();
    cJSON **items = read_jsonl("datasets/mbpp/mbpp.jsonl", 3);
    if (!items)
        skip();
    /* the right function name with a wrong body; and no function at all */
    assert_false(mbpp_passes(items[0], "def min_cost(cost, m, n):\n    return 0\n"));
    assert_false(mbpp_passes(items[1], "pass\n"));
    free_items(items, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_raw_text),
        cmocka_unit_test(test_extract_python_fence),
        cmocka_unit_test(test_extract_first_or_last),
        cmocka_unit_test(test_extract_python_beats_untagged_and_other),
        cmocka_unit_test(test_extract_entry_point),
        cmocka_unit_test(test_extract_unterminated_fence),
        cmocka_unit_test(test_humaneval_program_body),
        cmocka_unit_test(test_humaneval_program_whole_function),
        cmocka_unit_test(test_mbpp_program),
        cmocka_unit_test(test_pass_at_k_hand_values),
        cmocka_unit_test(test_pass_at_k_range),
        cmocka_unit_test(test_run_verdicts),
        cmocka_unit_test(test_run_error_is_not_a_verdict),
        cmocka_unit_test(test_forged_passes_fail),
        cmocka_unit_test(test_honest_programs),
        cmocka_unit_test(test_humaneval_canonical_pass),
        cmocka_unit_test(test_humaneval_chat_answer_passes),
        cmocka_unit_test(test_humaneval_wrong_fails),
        cmocka_unit_test(test_mbpp_canonical_pass),
        cmocka_unit_test(test_mbpp_wrong_fails),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
