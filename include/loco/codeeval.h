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

#ifdef __cplusplus
}
#endif
#endif
