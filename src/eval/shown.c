/*
 * shown.c - which tests a code item's prompt shows (see shown.h): the
 * only tests sc:K's vote may run, so that choosing among samples uses
 * nothing the model was not given.
 */
#include <stdlib.h>
#include <string.h>

#include "shown.h"

/* The asserts of it->tests[] that the prompt holds, after it->test (the
 * setup code). */
static int shown_asserts(const struct item *it, struct shown_tests *out)
{
    out->list = calloc(it->n_tests ? it->n_tests : 1, sizeof *out->list);
    if (!out->list)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t t = 0; t < it->n_tests; t++)
        if (it->tests[t] && it->tests[t][0] && strstr(it->prompt, it->tests[t]))
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
