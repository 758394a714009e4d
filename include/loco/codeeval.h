/*
 * loco/codeeval.h - code-execution benchmarks: HumanEval and MBPP.
 *
 * A model's answer becomes a program that runs the benchmark's tests:
 *
 *   1. loco_codeeval_extract() takes the code out of a chat answer
 *      (```python fences, or the raw text);
 *   2. loco_codeeval_humaneval_program() / loco_codeeval_mbpp_program()
 *      join it with the item's prompt, setup and tests;
 *   3. loco_codeeval_run() runs that program in the sandbox
 *      (loco/sandbox.h) and says pass or fail, and why;
 *   4. loco_codeeval_pass_at_k() turns c passes out of n samples into
 *      pass@k with the unbiased estimator of Chen et al. 2021 (HumanEval
 *      paper, "Evaluating Large Language Models Trained on Code", eq. 1).
 *
 * Items come from ../shared/datasets/{humaneval,mbpp}; the harness reads
 * the JSON and passes the fields in.
 */
#ifndef LOCO_CODEEVAL_H
#define LOCO_CODEEVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- extracting code from an answer -------------------------------------- */

enum loco_code_pick {
    LOCO_CODE_FIRST = 0, /* the first candidate block (default) */
    LOCO_CODE_LAST,      /* the last one */
};

/* The code in a model's answer, as a malloc'd NUL-terminated string the
 * caller frees (NULL only when out of memory, with a message):
 *   - fenced blocks (``` with an optional language tag) are the candidates;
 *   - with entry_point (may be NULL), blocks that define
 *     `def <entry_point>(` win over those that do not;
 *   - next, blocks tagged python/py/python3 win over untagged ones, and
 *     blocks in other languages come last;
 *   - of the best, `pick` chooses the first or the last;
 *   - a fence left open (a truncated generation) runs to the end;
 *   - without fences the whole answer is the code. */
char *loco_codeeval_extract(const char *answer, const char *entry_point, enum loco_code_pick pick);

/* ---- building programs --------------------------------------------------- */

/* The HumanEval program: prompt + completion + "\n" + test +
 * "\ncheck(entry_point)\n". A completion that repeats the signature (it has
 * a line `def <entry_point>(` at column 0) is a whole function: it goes
 * after prompt + "\n", where it replaces the prompt's definition (whose
 * docstring is a valid body) and keeps the prompt's imports and helpers. Returns a malloc'd
 * string the caller frees, or NULL (message set) for NULL arguments. */
char *loco_codeeval_humaneval_program(const char *prompt, const char *completion, const char *test,
                                      const char *entry_point);

/* The MBPP program: test_setup_code + "\n" + completion + "\n" + each of
 * the n_tests asserts on its own line. Returns a malloc'd string the caller
 * frees, or NULL (message set) for NULL arguments. */
char *loco_codeeval_mbpp_program(const char *test_setup_code, const char *completion,
                                 const char *const *tests, size_t n_tests);

/* ---- running and scoring ------------------------------------------------- */

/* Why a program passed or failed. */
enum loco_code_verdict {
    LOCO_CODE_PASS = 0,
    LOCO_CODE_FAIL_ASSERT,  /* a test's assert failed: a wrong answer */
    LOCO_CODE_FAIL_SYNTAX,  /* SyntaxError / IndentationError / TabError */
    LOCO_CODE_FAIL_ERROR,   /* another exception (NameError, TypeError, ...) */
    LOCO_CODE_FAIL_TIMEOUT, /* the wall-clock timeout */
    LOCO_CODE_FAIL_LIMIT,   /* a resource limit (CPU, memory, ...) */
    LOCO_CODE_FAIL_CRASH,   /* killed by a signal, or a non-zero exit */
    LOCO_CODE_FAIL_EXIT,    /* ended before its tests finished: sys.exit(),
                               exit(), SystemExit, os._exit(0), ... */
};

struct loco_code_outcome {
    bool passed;
    enum loco_code_verdict verdict;
    char detail[256];  /* the last line of stderr ("NameError: name 'x' ...")
                          or the limit's name; "" when passed */
    char printed[256]; /* the end of what the program printed on stdout (the
                          runner's token left out): its last 255 bytes; a
                          failed program's only as far as it was flushed */
    double wall_s, cpu_s;
};

/* Run `program` in the sandbox with `params` (NULL = defaults) and fill
 * *out. The program passes only when every statement ran to the end (the
 * tests are its last statements): a test runner wraps it and writes a
 * per-run secret token after exec() returns, so an exit with status 0
 * before that (sys.exit, os._exit, an atexit or excepthook trick) fails
 * with LOCO_CODE_FAIL_EXIT. As in the HumanEval reference harness the
 * program runs in a fresh namespace without __name__ == "__main__".
 * params->stdin_data is replaced by the token's nonce. Returns LOCO_OK
 * when it ran (passed or not) and the sandbox's error when it could not
 * run (no python3, no network isolation, ...); a failure of the code is a
 * verdict, never an error. */
int loco_codeeval_run(const struct loco_sandbox_params *params, const char *program,
                      struct loco_code_outcome *out);

/* Short fixed names: "pass", "assert", "syntax", "error", "timeout",
 * "limit", "crash", "exit". */
const char *loco_codeeval_verdict_name(enum loco_code_verdict v);

/* pass@k = 1 - C(n-c, k) / C(n, k) for c correct samples out of n, as the
 * stable product 1 - prod_{i=n-c+1..n} (1 - k/i). Needs 0 <= c <= n and
 * 1 <= k <= n; LOCO_ERR_RANGE otherwise. */
int loco_codeeval_pass_at_k(uint32_t n, uint32_t c, uint32_t k, double *out);

/* ---- choosing among K sampled programs: the tests the prompt shows ------ */

/* Self-consistency for code (sc:K in loco eval, docs/strategies.md) votes by
 * running each answer's code against the tests the model was shown, as
 * AlphaCode filters samples on the problem's example tests (Li et al. 2022)
 * and CodeT ranks them by tests (Chen et al. 2022); src/eval/codevote.c.
 * A benchmark's hidden tests (HumanEval's `check`) are never shown. */

/* The tests a prompt showed and how an answer's code is joined to them.
 * Borrowed: the strings stay the caller's. */
struct loco_code_shown {
    const char *setup;        /* without entry_point: code run before the answer
                                 (MBPP's test_setup_code; NULL or "" for none);
                                 with it: the HumanEval prompt (signature and
                                 docstring) the answer completes */
    const char *entry_point;  /* NULL: each test runs as loco_codeeval_mbpp_program
                                 (setup, code, test); else as
                                 loco_codeeval_humaneval_program(setup, code,
                                 "def check(candidate):\n    " test, entry_point) */
    const char *const *tests; /* [n_tests] assert statements (newlines only
                                 inside brackets) */
    size_t n_tests;
};

/* Vote on k answers to one prompt: each answer's code (loco_codeeval_extract
 * with shown->entry_point, LOCO_CODE_FIRST, as the scorers read it) runs
 * once per shown test, alone, in the sandbox with `params` (NULL =
 * defaults), one run after another, and passed[i] counts the tests answer i
 * passes. Answers whose code is byte for byte the same share one answer's
 * runs (normalised code, loco_codeeval_normalise, decides the vote below);
 * after a run hits the timeout or a resource limit (CPU time, memory) an
 * answer's remaining tests count as failed without running, so one answer
 * costs at most one such run.
 * The answers passing the most tests are the candidates; among them the most
 * common normalised code wins, a tie going to the earliest answer; *winner
 * is the earliest answer of the winning code and *share = its answers / k.
 * Answers with no code (NULL, empty) do not vote; none at all gives *winner
 * 0 and *share 0. With no tests every answer is a candidate: a vote on the
 * normalised code alone. Returns LOCO_OK, or the sandbox's error when it
 * cannot run (no python3, ...); a failing program is a count, not an error.
 * passed[k] is filled. */
int loco_codeeval_vote(const struct loco_code_shown *shown,
                       const struct loco_sandbox_params *params, const char *const *answers,
                       int32_t k, int32_t *winner, double *share, int32_t *passed);

/* Python code as the vote compares it: comments and blank lines dropped,
 * indentation written as one tab per block level, other whitespace outside
 * strings dropped except one space between two names or numbers, string
 * literals kept as written. "def f(x) :  # add\n    return x+1\n" and
 * "def f(x):\n  return x + 1" both give "def f(x):\n\treturn x+1\n".
 * A malloc'd string the caller frees, or NULL (message set). */
char *loco_codeeval_normalise(const char *code);

/* The doctest examples of a HumanEval-style prompt as asserts: each line
 * ">>> EXPR" whose next line is an expected value (not empty, not another
 * ">>>" or "..." line) gives "assert (EXPR\n) == (EXPECTED\n)" (the
 * newlines end a trailing comment inside the brackets); examples that
 * print, continue over lines ("...") or whose expected value goes on past
 * its line (unbalanced brackets or quotes, or a next line that is not
 * blank, another example or the docstring's end) are left out. *tests is a
 * malloc'd array of *n malloc'd strings (NULL and 0 when there is none): free
 * with loco_codeeval_tests_free. LOCO_ERR_NOMEM, LOCO_ERR_INVALID (NULL
 * arguments). */
int loco_codeeval_doctests(const char *prompt, char ***tests, size_t *n);
void loco_codeeval_tests_free(char **tests, size_t n);

#ifdef __cplusplus
}
#endif
#endif
