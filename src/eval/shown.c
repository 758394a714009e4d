/*
 * shown.c - which tests a code item's prompt shows (see shown.h): the
 * only tests sc:K's vote may run, so that choosing among samples uses
 * nothing the model was not given.
 */
#include <stdlib.h>
#include <string.h>

#include "shown.h"

/* Whether line[0..len) is at p in text as a whole line (spaces around it
 * aside). */
static bool whole_line_at(const char *text, const char *p, size_t len)
{
    const char *q = p, *r = p + len;
    while (q > text && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    while (*r == ' ' || *r == '\t' || *r == '\r')
        r++;
    return (q == text || q[-1] == '\n') && (*r == '\0' || *r == '\n');
}

/* Whether the test `line` (spaces around it aside) is a whole line of
 * `text`: a hidden "assert f(1) == 1" is not shown by a shown
 * "assert f(1) == 10". */
static bool holds_line(const char *text, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r' ||
                   line[len - 1] == '\n'))
        len--;
    if (!len || memchr(line, '\n', len))
        return len && strstr(text, line) != NULL; /* a test of several lines: as written */
    for (const char *p = strchr(text, line[0]); p; p = strchr(p + 1, line[0]))
        if (strncmp(p, line, len) == 0 && whole_line_at(text, p, len))
            return true;
    return false;
}

/* The asserts of it->tests[] that the prompt holds as whole lines, after
 * it->test (the setup code). */
static int shown_asserts(const struct item *it, struct shown_tests *out)
{
    out->list = calloc(it->n_tests ? it->n_tests : 1, sizeof *out->list);
    if (!out->list)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t t = 0; t < it->n_tests; t++)
        if (it->tests[t] && holds_line(it->prompt, it->tests[t]))
            out->list[out->shown.n_tests++] = it->tests[t];
    out->shown.tests = out->list;
    out->shown.setup = it->test;
    return LOCO_OK;
}

/* HumanEval: the examples of the signature and docstring the prompt shows. */
static int shown_doctests(const struct item *it, struct shown_tests *out)
{
    int rc = loco_codeeval_doctests(it->code_prompt, &out->doctests, &out->n_doctests);
    out->list = rc ? NULL : calloc(out->n_doctests ? out->n_doctests : 1, sizeof *out->list);
    if (!rc && !out->list)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t t = 0; !rc && t < out->n_doctests; t++)
        out->list[t] = out->doctests[t];
    out->shown = (struct loco_code_shown){.setup = it->code_prompt,
                                          .entry_point = it->entry_point,
                                          .tests = out->list,
                                          .n_tests = rc ? 0 : out->n_doctests};
    return rc;
}

bool eval_votes_by_tests(enum kind kind)
{
    return kind == K_MBPP || kind == K_CODE_CUSTOM || kind == K_HUMANEVAL;
}

bool eval_shown_tests(const struct item *it, enum kind kind, struct shown_tests *out, int *rc)
{
    *out = (struct shown_tests){0};
    *rc = LOCO_OK;
    if (!eval_votes_by_tests(kind))
        return false;
    *rc = kind == K_HUMANEVAL ? shown_doctests(it, out) : shown_asserts(it, out);
    return true;
}

void eval_shown_free(struct shown_tests *s)
{
    free(s->list);
    loco_codeeval_tests_free(s->doctests, s->n_doctests);
    *s = (struct shown_tests){0};
}
