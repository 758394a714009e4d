/*
 * codevote.c - self-consistency for code: K sampled programs, one vote by
 * the tests the prompt showed (see loco_codeeval_vote in loco/codeeval.h).
 *
 * Whole answers almost never agree as text, so a text vote over programs
 * means little. Programs can be run instead: MBPP's prompt shows the
 * model the item's asserts, so each sample may be tried on them, as
 * AlphaCode (Li et al. 2022, "Competition-Level Code Generation with
 * AlphaCode") filters its samples on the problem's example tests and CodeT
 * (Chen et al. 2022, "CodeT: Code Generation with Generated Tests") ranks
 * them by the tests they pass. The vote:
 *   1. each answer's code runs once per shown test, in the sandbox, and
 *      passed[i] counts the tests answer i passes;
 *   2. the answers passing the most are the candidates;
 *   3. among them the most common normalised program wins (comments,
 *      blank lines and layout do not count), a tie going to the earliest.
 * HumanEval's prompt shows no asserts, only doctest examples (">>> f(1)"
 * and the expected value), which loco_codeeval_doctests turns into
 * asserts; its hidden `check` is the scorer's and never used here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "loco/codeeval.h"

/* ---- normalising a program ------------------------------------------------ */

#define NORM_MAX_LEVELS 64

/* The scanner's state: the text written so far, the indentation widths of
 * the open blocks (widths[0] = 0, as Python's tokenizer keeps them), the
 * open brackets, and whether whitespace was skipped since the last byte. */
struct norm {
    struct loco_sbuf out;
    int widths[NORM_MAX_LEVELS];
    int level;
    int brackets;
    bool space;
};

static bool is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

static char last_byte(const struct norm *n)
{
    return n->out.len ? n->out.p[n->out.len - 1] : '\n';
}

static void put(struct norm *n, char c)
{
    if (n->space && is_word(last_byte(n)) && is_word(c))
        loco_sbuf_add(&n->out, " ", 1);
    loco_sbuf_add(&n->out, &c, 1);
    n->space = false;
}

/* The block level of a line indented `width` columns: deeper than the open
 * block opens one, shallower closes blocks down to it. */
static int indent_level(struct norm *n, int width)
{
    while (n->level > 0 && width < n->widths[n->level])
        n->level--;
    if (width > n->widths[n->level] && n->level + 1 < NORM_MAX_LEVELS)
        n->widths[++n->level] = width;
    return n->level;
}

/* At the start of a logical line: skip its indentation and write its level
 * as tabs; a blank or comment-only line is skipped whole (*content false).
 * Returns the position after what was read. */
static size_t line_start(struct norm *n, const char *s, size_t i, bool *content)
{
    *content = false;
    int width = 0;
    for (; s[i] == ' ' || s[i] == '\t' || s[i] == '\f'; i++)
        width = s[i] == '\t' ? (width / 8 + 1) * 8 : width + 1;
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '#') {
        while (s[i] && s[i] != '\n')
            i++;
        return s[i] ? i + 1 : i;
    }
    if (!s[i])
        return i;
    *content = true;
    for (int l = indent_level(n, width); l > 0; l--)
        loco_sbuf_add(&n->out, "\t", 1);
    n->space = false;
    return i;
}

/* A string literal starting at s[i] (a quote), copied as written up to its
 * closing quote(s); a one-line string left open ends at the line's end. */
static size_t copy_string(struct norm *n, const char *s, size_t i)
{
    char q = s[i];
    bool triple = s[i + 1] == q && s[i + 2] == q;
    size_t open = triple ? 3 : 1, j = i + open;
    put(n, q);
    loco_sbuf_add(&n->out, s + i + 1, open - 1);
    while (s[j]) {
        if (s[j] == '\\' && s[j + 1]) {
            loco_sbuf_add(&n->out, s + j, 2);
            j += 2;
        } else if (triple ? strncmp(s + j, s + i, 3) == 0 : s[j] == q) {
            loco_sbuf_add(&n->out, s + j, open);
            return j + open;
        } else if (!triple && s[j] == '\n') {
            return j;
        } else {
            loco_sbuf_add(&n->out, s + j++, 1);
        }
    }
    return j;
}

/* One byte (or a comment, a string, a line continuation) outside strings
 * at s[i]; returns the position after it and sets *at_start when a new
 * logical line begins. */
static size_t scan(struct norm *n, const char *s, size_t i, bool *at_start)
{
    char c = s[i];
    if (c == '#') {
        while (s[i] && s[i] != '\n')
            i++;
        return i;
    }
    if (c == '"' || c == '\'')
        return copy_string(n, s, i);
    if (c == '\\' && (s[i + 1] == '\n' || (s[i + 1] == '\r' && s[i + 2] == '\n'))) {
        n->space = true; /* a continued line: the same logical line */
        return i + (s[i + 1] == '\n' ? 2 : 3);
    }
    if (c == '\n' && n->brackets == 0) {
        loco_sbuf_add(&n->out, "\n", 1);
        n->space = false;
        *at_start = true;
        return i + 1;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\n') {
        n->space = true; /* a newline inside brackets is whitespace too */
        return i + 1;
    }
    if (c == '(' || c == '[' || c == '{')
        n->brackets++;
    else if ((c == ')' || c == ']' || c == '}') && n->brackets > 0)
        n->brackets--;
    put(n, c);
    return i + 1;
}

char *loco_codeeval_normalise(const char *code)
{
    if (!code) {
        loco_error_set(LOCO_ERR_INVALID, "normalise: no code");
        return NULL;
    }
    struct norm n = {.out = {0}};
    bool at_start = true;
    for (size_t i = 0; code[i];) {
        bool content = true;
        if (at_start)
            i = line_start(&n, code, i, &content);
        at_start = !content;
        if (content && code[i])
            i = scan(&n, code, i, &at_start);
    }
    if (n.out.len && last_byte(&n) != '\n')
        loco_sbuf_add(&n.out, "\n", 1);
    return loco_sbuf_finish(&n.out); /* NULL: out of memory, message set */
}

/* ---- the doctest examples of a prompt ------------------------------------- */

/* The line at s trimmed of spaces at both ends: *start and its length. */
static size_t trimmed_line(const char *s, const char **start)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strcspn(s, "\n");
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    *start = s;
    return len;
}

/* Whether the line after an example holds its expected value. */
static bool is_expected(const char *e, size_t len)
{
    return len > 0 && strncmp(e, ">>>", 3) != 0 && strncmp(e, "...", 3) != 0 &&
           strncmp(e, "\"\"\"", 3) != 0 && strncmp(e, "'''", 3) != 0;
}

/* Whether brackets outside string literals balance in e[0..len): an
 * expected value that goes on over the next lines does not. */
static bool balanced(const char *e, size_t len)
{
    int depth = 0;
    char quote = 0;
    for (size_t i = 0; i < len && depth >= 0; i++) {
        if (quote) {
            if (e[i] == '\\')
                i++;
            else if (e[i] == quote)
                quote = 0;
        } else if (e[i] == '"' || e[i] == '\'') {
            quote = e[i];
        } else {
            depth += (e[i] == '(' || e[i] == '[' || e[i] == '{') -
                     (e[i] == ')' || e[i] == ']' || e[i] == '}');
        }
    }
    return depth == 0 && !quote;
}

/* Whether the expected value on the line at e ends there: its brackets
 * balance and the next line is blank, another example, the docstring's
 * closing quotes or the end of the prompt. */
static bool expected_ends(const char *e, size_t elen)
{
    if (!balanced(e, elen))
        return false;
    const char *nl = strchr(e, '\n'), *after;
    if (!nl)
        return true;
    size_t alen = trimmed_line(nl + 1, &after);
    return alen == 0 || strncmp(after, ">>>", 3) == 0 || strncmp(after, "\"\"\"", 3) == 0 ||
           strncmp(after, "\'\'\'", 3) == 0;
}

/* The assert for the example on the line at s, or NULL when it is none
 * (*nomem set when memory ran out). */
static char *example_assert(const char *s, bool *nomem)
{
    const char *x, *e;
    size_t xlen = trimmed_line(s, &x);
    if (xlen < 4 || strncmp(x, ">>>", 3) != 0 || (x[3] != ' ' && x[3] != '\t'))
        return NULL;
    const char *next = strchr(x, '\n');
    if (!next)
        return NULL;
    size_t elen = trimmed_line(next + 1, &e);
    const char *expr;
    size_t exlen = trimmed_line(x + 3, &expr);
    if (!exlen || !is_expected(e, elen) || !expected_ends(e, elen) ||
        strncmp(expr, "print(", 6) == 0)
        return NULL;
    /* each side ends its line inside the brackets: a trailing comment
     * ("f(x)  # f(x) = 1 + 2x") ends there */
    char *a = loco_str_printf("assert (%.*s\n) == (%.*s\n)", (int)exlen, expr, (int)elen, e);
    *nomem = a == NULL;
    return a;
}

static const char *next_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl ? nl + 1 : NULL;
}

int loco_codeeval_doctests(const char *prompt, char ***tests, size_t *n)
{
    if (!prompt || !tests || !n)
        return loco_error_set(LOCO_ERR_INVALID, "doctests: prompt, tests and n are required");
    *tests = NULL;
    *n = 0;
    size_t cap = 0;
    for (const char *s = prompt; s; s = next_line(s)) {
        bool nomem = false;
        char *a = example_assert(s, &nomem);
        if (a && *n == cap) {
            char **g = realloc(*tests, (cap = cap ? 2 * cap : 4) * sizeof *g);
            nomem = !g;
            *tests = g ? g : *tests;
        }
        if (nomem) {
            free(a);
            loco_codeeval_tests_free(*tests, *n);
            *tests = NULL;
            *n = 0;
            return loco_error_set(LOCO_ERR_NOMEM, "doctests: out of memory");
        }
        if (a)
            (*tests)[(*n)++] = a;
    }
    return LOCO_OK;
}

void loco_codeeval_tests_free(char **tests, size_t n)
{
    for (size_t i = 0; tests && i < n; i++)
        free(tests[i]);
    free(tests);
}

/* ---- the vote ------------------------------------------------------------- */

/* The program that runs `code` against one shown test. */
static char *test_program(const struct loco_code_shown *shown, const char *code, const char *test)
{
    if (!shown->entry_point)
        return loco_codeeval_mbpp_program(shown->setup ? shown->setup : "", code, &test, 1);
    char *check = loco_str_printf("def check(candidate):\n    %s\n", test);
    char *program = check ? loco_codeeval_humaneval_program(shown->setup ? shown->setup : "", code,
                                                            check, shown->entry_point)
                          : NULL;
    free(check);
    return program;
}

/* How many shown tests `code` passes, each run alone, into *passed; once a
 * run hits the wall-clock timeout or a resource limit (a loop runs out of
 * CPU time), the remaining tests count as failed without running. */
static int count_passes(const struct loco_code_shown *shown,
                        const struct loco_sandbox_params *params, const char *code, int32_t *passed)
{
    *passed = 0;
    for (size_t t = 0; t < shown->n_tests; t++) {
        char *program = test_program(shown, code, shown->tests[t]);
        if (!program)
            return loco_error_set(LOCO_ERR_NOMEM, "code vote: out of memory building a program");
        struct loco_code_outcome o;
        int rc = loco_codeeval_run(params, program, &o);
        free(program);
        if (rc)
            return rc;
        *passed += o.passed;
        if (o.verdict == LOCO_CODE_FAIL_TIMEOUT || o.verdict == LOCO_CODE_FAIL_LIMIT)
            break;
    }
    return LOCO_OK;
}

/* Each answer's code into code[k] and its normalised form into norm[k]
 * (NULL: no code; "" counts as none), and its passes into passed[k]. An
 * answer whose code is byte for byte an earlier one's takes that count
 * without running (normalised equality is not enough: the normaliser maps
 * some broken programs, a stray dedent, onto valid ones). */
static int run_answers(const struct loco_code_shown *shown,
                       const struct loco_sandbox_params *params, const char *const *answers,
                       int32_t k, char **code, char **norm, int32_t *passed)
{
    for (int32_t i = 0; i < k; i++) {
        passed[i] = 0;
        if (!answers[i])
            continue;
        code[i] = loco_codeeval_extract(answers[i], shown->entry_point, LOCO_CODE_FIRST);
        if (!code[i])
            return LOCO_ERR_NOMEM; /* message set */
        norm[i] = loco_codeeval_normalise(code[i]);
        if (!norm[i])
            return LOCO_ERR_NOMEM;
        if (!norm[i][0])
            continue; /* no code: no vote */
        int32_t same = 0;
        while (same < i && !(code[same] && strcmp(code[same], code[i]) == 0))
            same++;
        if (same < i) {
            passed[i] = passed[same];
            continue;
        }
        int rc = count_passes(shown, params, code[i], &passed[i]);
        if (rc)
            return rc;
    }
    return LOCO_OK;
}

/* Among the answers passing the most tests, the earliest of the most common
 * normalised code, and how many answers share it (0: no answer votes). */
static int32_t count_votes(char *const *norm, const int32_t *passed, int32_t k, int32_t *votes)
{
    int32_t best = -1, winner = 0;
    for (int32_t i = 0; i < k; i++)
        if (norm[i] && norm[i][0] && passed[i] > best)
            best = passed[i];
    *votes = 0;
    for (int32_t i = 0; i < k; i++) {
        if (!norm[i] || !norm[i][0] || passed[i] != best)
            continue;
        int32_t n = 0;
        for (int32_t j = 0; j < k; j++)
            n += norm[j] && passed[j] == best && strcmp(norm[i], norm[j]) == 0;
        if (n > *votes) {
            *votes = n;
            winner = i;
        }
    }
    return winner;
}

int loco_codeeval_vote(const struct loco_code_shown *shown,
                       const struct loco_sandbox_params *params, const char *const *answers,
                       int32_t k, int32_t *winner, double *share, int32_t *passed)
{
    if (!shown || (shown->n_tests && !shown->tests) || !answers || k < 1 || !winner || !share ||
        !passed)
        return loco_error_set(LOCO_ERR_INVALID, "code vote: the shown tests, answers (k >= 1), "
                                                "winner, share and passed are required");
    *winner = 0;
    *share = 0.0;
    char **code = calloc((size_t)k, sizeof *code), **norm = calloc((size_t)k, sizeof *norm);
    int rc = code && norm ? run_answers(shown, params, answers, k, code, norm, passed)
                          : loco_error_set(LOCO_ERR_NOMEM, "code vote: out of memory");
    if (rc == LOCO_OK) {
        int32_t votes = 0;
        *winner = count_votes(norm, passed, k, &votes);
        *share = (double)votes / (double)k;
    }
    for (int32_t i = 0; code && norm && i < k; i++) {
        free(code[i]);
        free(norm[i]);
    }
    free(code);
    free(norm);
    return rc;
}
