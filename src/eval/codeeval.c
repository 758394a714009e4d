/*
 * codeeval.c - HumanEval and MBPP: from a model's answer to pass/fail.
 *
 * The program layouts follow the benchmarks' reference harnesses:
 * HumanEval (openai/human-eval, execution.py) runs
 *     prompt + completion + "\n" + test + "\n" + "check(entry_point)"
 * and MBPP (google-research mbpp, Austin et al. 2021) runs the setup code,
 * the solution and the asserts of test_list.
 *
 * Passing needs positive evidence, not exit status 0: the program could
 * call sys.exit(0), os._exit(0) or install an atexit hook before a failing
 * assert. So the sandbox runs a fixed wrapper (runner_head below) that
 *   1. reads a fresh 128-bit nonce from stdin (from getrandom; it is in no
 *      file, and stdin is emptied before the program starts),
 *   2. keeps its own references to os.write, os._exit and a duplicate of
 *      stdout, so patched builtins, print or sys.stdout change nothing,
 *   3. runs the program with exec() in a fresh namespace, as the HumanEval
 *      reference harness does (so `if __name__ == "__main__":` is skipped),
 *   4. only when exec() returns, i.e. every statement and so every test
 *      ran, writes "LOCO-TESTS-PASSED <nonce>" and ends with os._exit(0)
 *      (no atexit hook runs). Any exception, SystemExit included, ends it
 *      with status 1 and no token.
 * The run passes only when stdout holds that exact line. What this does not
 * stop: a program that digs the nonce out of the wrapper's own frames or
 * memory, or subverts the asserts themselves (an object equal to
 * everything); that needs the tests in a separate process.
 */
#include "loco/codeeval.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/sbuf.h"

/* ---- programs are built in a core/sbuf.h buffer --------------------------- */

/* The finished string, or NULL (with a message) when memory ran out. */
static char *sb_done(struct loco_sbuf *b, const char *what)
{
    char *text = loco_sbuf_finish(b);
    if (!text)
        loco_error_set(LOCO_ERR_NOMEM, "codeeval: out of memory building %s", what);
    return text;
}

/* ---- extraction ----------------------------------------------------------- */

enum fence_lang { LANG_OTHER = 0, LANG_NONE = 1, LANG_PYTHON = 2 };

struct block {
    const char *text;
    size_t len;
    int score;
};

/* Whether `code` (n bytes) has `def <name>(` at the start of a line, after
 * indentation when `indented` (else at column 0 only). */
static bool defines(const char *code, size_t n, const char *name, bool indented)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && code[i - 1] != '\n')
            continue;
        size_t j = i;
        while (indented && j < n && (code[j] == ' ' || code[j] == '\t'))
            j++;
        if (n - j > 4 + nl && !strncmp(code + j, "def ", 4) && !strncmp(code + j + 4, name, nl) &&
            code[j + 4 + nl] == '(')
            return true;
    }
    return false;
}

static enum fence_lang fence_lang(const char *tag, size_t n)
{
    while (n && isspace((unsigned char)tag[n - 1]))
        n--;
    while (n && isspace((unsigned char)*tag))
        tag++, n--;
    if (n == 0)
        return LANG_NONE;
    static const char *const py[] = {"python", "python3", "py"};
    for (size_t i = 0; i < sizeof py / sizeof py[0]; i++)
        if (strlen(py[i]) == n && !strncasecmp(tag, py[i], n))
            return LANG_PYTHON;
    return LANG_OTHER;
}

/* If a fence (``` after optional indentation) starts at line `p`, the
 * position just after the backticks; else NULL. */
static const char *fence_at(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return strncmp(p, "```", 3) == 0 ? p + 3 : NULL;
}

static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? nl + 1 : p + strlen(p);
}

/* The next fenced block at or after line start `p`; returns where to go on
 * from, or NULL when there are no more. */
static const char *next_block(const char *p, const char *entry, struct block *b)
{
    const char *tag = NULL;
    while (*p && !(tag = fence_at(p)))
        p = next_line(p);
    if (!*p)
        return NULL;
    const char *body = next_line(tag);
    const char *end = body;
    while (*end && !fence_at(end))
        end = next_line(end);
    b->text = body;
    b->len = (size_t)(end - body);
    b->score = (int)fence_lang(tag, (size_t)(body - tag));
    if (entry && defines(b->text, b->len, entry, true))
        b->score += 4;
    return *end ? next_line(end) : end;
}

char *loco_codeeval_extract(const char *answer, const char *entry_point, enum loco_code_pick pick)
{
    if (!answer)
        answer = "";
    struct block best = {answer, strlen(answer), -1}, b;
    const char *p = answer;
    while ((p = next_block(p, entry_point, &b)))
        if (b.score > best.score || (b.score == best.score && pick == LOCO_CODE_LAST))
            best = b;
    struct loco_sbuf s = {0};
    loco_sbuf_add(&s, best.text, best.len);
    return sb_done(&s, "the extracted code");
}

/* ---- programs ------------------------------------------------------------- */

char *loco_codeeval_humaneval_program(const char *prompt, const char *completion, const char *test,
                                      const char *entry_point)
{
    if (!prompt || !completion || !test || !entry_point || !*entry_point) {
        loco_error_set(LOCO_ERR_INVALID,
                       "codeeval: a HumanEval program needs prompt, completion, test and "
                       "entry_point");
        return NULL;
    }
    struct loco_sbuf s = {0};
    loco_sbuf_adds(&s, prompt);
    if (defines(completion, strlen(completion), entry_point, false)) {
        /* a whole function: it replaces the prompt's definition, whose
         * docstring alone is a valid body */
        loco_sbuf_adds(&s, "\n");
    }
    loco_sbuf_adds(&s, completion);
    loco_sbuf_adds(&s, "\n");
    loco_sbuf_adds(&s, test);
    loco_sbuf_adds(&s, "\ncheck(");
    loco_sbuf_adds(&s, entry_point);
    loco_sbuf_adds(&s, ")\n");
    return sb_done(&s, "a HumanEval program");
}

char *loco_codeeval_mbpp_program(const char *test_setup_code, const char *completion,
                                 const char *const *tests, size_t n_tests)
{
    if (!completion || (n_tests && !tests)) {
        loco_error_set(LOCO_ERR_INVALID, "codeeval: an MBPP program needs the completion and "
                                         "its test_list");
        return NULL;
    }
    struct loco_sbuf s = {0};
    loco_sbuf_adds(&s, test_setup_code ? test_setup_code : "");
    loco_sbuf_adds(&s, "\n");
    loco_sbuf_adds(&s, completion);
    loco_sbuf_adds(&s, "\n");
    for (size_t i = 0; i < n_tests; i++) {
        if (!tests[i])
            continue;
        loco_sbuf_adds(&s, tests[i]);
        loco_sbuf_adds(&s, "\n");
    }
    return sb_done(&s, "an MBPP program");
}

/* ---- running -------------------------------------------------------------- */

#define NONCE_HEX 32
#define PASS_TAG "LOCO-TESTS-PASSED "

/* The wrapper; the program follows as a hex string, then runner_tail. */
static const char runner_head[] =
    "import os, sys, traceback\n"
    "def _loco_run(src):\n"
    "    write, exit_now, show = os.write, os._exit, traceback.print_exception\n"
    "    nonce = b''\n"
    "    while len(nonce) < 32:\n"
    "        part = os.read(0, 32 - len(nonce))\n"
    "        if not part:\n"
    "            break\n"
    "        nonce += part\n"
    "    empty, w = os.pipe()\n"
    "    os.close(w)\n"
    "    os.dup2(empty, 0)\n"
    "    os.close(empty)\n"
    "    done = b'\\n" PASS_TAG "' + nonce + b'\\n'\n"
    "    del nonce\n"
    "    out = os.dup(1)\n"
    "    err = os.fdopen(os.dup(2), 'w')\n"
    "    try:\n"
    "        exec(compile(src, 'main.py', 'exec'), {'__builtins__': __builtins__})\n"
    "    except SystemExit as e:\n"
    "        err.write('SystemExit: %r (the program exited before its tests finished)\\n'"
    " % (e.code,))\n"
    "        err.flush()\n"
    "        exit_now(1)\n"
    "    except BaseException as e:\n"
    "        show(type(e), e, e.__traceback__.tb_next, file=err)\n"
    "        err.flush()\n"
    "        exit_now(1)\n"
    "    for f in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            f.flush()\n"
    "        except BaseException:\n"
    "            pass\n"
    "    write(out, done)\n"
    "    exit_now(0)\n"
    "_loco_run(bytes.fromhex('";
static const char runner_tail[] = "'))\n";

/* The wrapper around `program` (see the top of this file). */
static char *runner_source(const char *program)
{
    static const char hex[] = "0123456789abcdef";
    struct loco_sbuf s = {0};
    loco_sbuf_adds(&s, runner_head);
    for (const unsigned char *p = (const unsigned char *)program; *p; p++) {
        char two[2] = {hex[*p >> 4], hex[*p & 15]};
        loco_sbuf_add(&s, two, 2);
    }
    loco_sbuf_adds(&s, runner_tail);
    return sb_done(&s, "the test runner");
}

/* A fresh nonce as NONCE_HEX hex digits (not NUL-terminated). */
static int make_nonce(char out[NONCE_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[NONCE_HEX / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno != EINTR)
            return loco_error_set(LOCO_ERR_IO, "codeeval: no random bytes for the run's nonce: "
                                  "%s", strerror(errno));
        got += n > 0 ? (size_t)n : 0;
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    return LOCO_OK;
}

/* Where stdout holds the line "LOCO-TESTS-PASSED <nonce>" (its leading
 * newline), or NULL. */
static const char *pass_token(const char *out, const char nonce[NONCE_HEX])
{
    char line[sizeof PASS_TAG + NONCE_HEX + 2];
    snprintf(line, sizeof line, "\n%s%.*s\n", PASS_TAG, NONCE_HEX, nonce);
    return out ? strstr(out, line) : NULL;
}

/* The last cap - 1 bytes of what the program printed (stdout up to the
 * runner's token) into buf, starting on a whole UTF-8 character. */
static void printed_tail(const char *out, const char nonce[NONCE_HEX], char *buf, size_t cap)
{
    const char *end = pass_token(out, nonce);
    size_t n = !out ? 0 : end ? (size_t)(end - out) : strlen(out);
    size_t start = n >= cap ? n - (cap - 1) : 0;
    while (start < n && ((unsigned char)out[start] & 0xC0) == 0x80)
        start++;
    snprintf(buf, cap, "%.*s", (int)(n - start), out ? out + start : "");
}

/* The last non-empty line of `text` into buf. */
static void last_line(const char *text, char *buf, size_t cap)
{
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    size_t start = n;
    while (start && text[start - 1] != '\n')
        start--;
    snprintf(buf, cap, "%.*s", (int)(n - start), text + start);
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "SomethingError: ..." or "SomethingException" at the start of a line. */
static bool looks_like_exception(const char *line)
{
    size_t i = 0;
    while (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == '.')
        i++;
    return i >= 5 && (line[i] == ':' || line[i] == '\0') &&
           (!strncmp(line + i - 5, "Error", 5) ||
            (i >= 9 && !strncmp(line + i - 9, "Exception", 9)));
}

static void judge(const struct loco_sandbox_result *r, const char nonce[NONCE_HEX],
                  struct loco_code_outcome *o)
{
    char line[sizeof o->detail];
    last_line(r->err ? r->err : "", line, sizeof line);
    if (r->timed_out) {
        o->verdict = LOCO_CODE_FAIL_TIMEOUT;
        snprintf(o->detail, sizeof o->detail, "timed out after %.1f s", r->wall_s);
    } else if (r->limit != LOCO_SANDBOX_LIMIT_NONE) {
        o->verdict = LOCO_CODE_FAIL_LIMIT;
        snprintf(o->detail, sizeof o->detail, "%s limit", loco_sandbox_limit_name(r->limit));
    } else if (r->exit_code == 0 && pass_token(r->out, nonce)) {
        o->passed = true;
        o->verdict = LOCO_CODE_PASS;
    } else if (r->exit_code == 0 || starts(line, "SystemExit")) {
        o->verdict = LOCO_CODE_FAIL_EXIT;
        if (r->exit_code == 0)
            snprintf(line, sizeof line, "exit status 0 before the tests finished");
    } else if (starts(line, "AssertionError")) {
        o->verdict = LOCO_CODE_FAIL_ASSERT;
    } else if (starts(line, "SyntaxError") || starts(line, "IndentationError") ||
               starts(line, "TabError")) {
        o->verdict = LOCO_CODE_FAIL_SYNTAX;
    } else if (looks_like_exception(line)) {
        o->verdict = LOCO_CODE_FAIL_ERROR;
    } else {
        o->verdict = LOCO_CODE_FAIL_CRASH;
        if (!*line)
            snprintf(line, sizeof line, r->term_signal ? "killed by signal %d" : "exit status %d",
                     r->term_signal ? r->term_signal : r->exit_code);
    }
    if (!o->passed && !*o->detail)
        snprintf(o->detail, sizeof o->detail, "%s", line);
}

int loco_codeeval_run(const struct loco_sandbox_params *params, const char *program,
                      struct loco_code_outcome *out)
{
    if (!program || !out)
        return loco_error_set(LOCO_ERR_INVALID, "codeeval: program and outcome needed");
    memset(out, 0, sizeof *out);
    struct loco_sandbox_params p = params ? *params : loco_sandbox_default_params();
    struct loco_sandbox_result r = {0};
    char nonce[NONCE_HEX];
    int rc = make_nonce(nonce);
    if (rc != LOCO_OK)
        return rc;
    char *runner = runner_source(program);
    if (!runner)
        return LOCO_ERR_NOMEM;
    p.stdin_data = nonce;
    p.stdin_len = sizeof nonce;
    rc = loco_sandbox_run(&p, runner, strlen(runner), &r);
    free(runner);
    if (rc == LOCO_OK) {
        judge(&r, nonce, out);
        printed_tail(r.out, nonce, out->printed, sizeof out->printed);
        out->wall_s = r.wall_s;
        out->cpu_s = r.cpu_s;
    }
    loco_sandbox_result_free(&r);
    return rc;
}

const char *loco_codeeval_verdict_name(enum loco_code_verdict v)
{
    switch (v) {
    case LOCO_CODE_PASS:
        return "pass";
    case LOCO_CODE_FAIL_ASSERT:
        return "assert";
    case LOCO_CODE_FAIL_SYNTAX:
        return "syntax";
    case LOCO_CODE_FAIL_ERROR:
        return "error";
    case LOCO_CODE_FAIL_TIMEOUT:
        return "timeout";
    case LOCO_CODE_FAIL_LIMIT:
        return "limit";
    case LOCO_CODE_FAIL_CRASH:
        return "crash";
    case LOCO_CODE_FAIL_EXIT:
        return "exit";
    }
    return "unknown";
}

/* ---- pass@k --------------------------------------------------------------- */

/* Chen et al. 2021, eq. 1: pass@k = E[1 - C(n-c, k) / C(n, k)]. The ratio
 * C(n-c, k) / C(n, k) = prod_{i=n-c+1..n} (1 - k/i), which never forms the
 * huge binomials (their codex numpy snippet computes the same product). */
int loco_codeeval_pass_at_k(uint32_t n, uint32_t c, uint32_t k, double *out)
{
    if (!out || n == 0 || c > n || k == 0 || k > n)
        return loco_error_set(LOCO_ERR_RANGE,
                              "codeeval: pass@k needs 0 <= c <= n and 1 <= k <= n "
                              "(got n=%u c=%u k=%u)",
                              n, c, k);
    if (n - c < k) {
        *out = 1.0; /* every k-subset holds a correct sample */
        return LOCO_OK;
    }
    double fail = 1.0;
    for (uint32_t i = n - c + 1; i <= n; i++)
        fail *= 1.0 - (double)k / (double)i;
    *out = 1.0 - fail;
    return LOCO_OK;
}
