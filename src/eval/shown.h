/*
 * shown.h - the tests a code benchmark's prompt shows its model, which
 * sc:K's vote on code may run (loco_codeeval_vote). Private to src/eval.
 */
#ifndef LOCO_EVAL_SHOWN_H
#define LOCO_EVAL_SHOWN_H

#include "bench_internal.h"
#include "loco/codeeval.h"

/* One item's shown tests: `shown` points into the item and into `doctests`. */
struct shown_tests {
    struct loco_code_shown shown;
    const char **list; /* malloc'd [shown.n_tests], strings borrowed */
    char **doctests;   /* HumanEval: the examples as asserts, owned */
    size_t n_doctests;
};

/* The tests item `it` of this kind shows in its prompt, into *out:
 *   MBPP and custom code: the item's asserts whose text the prompt holds
 *     (MBPP's prompt lists all of test_list), joined after its setup code;
 *   HumanEval: the doctest examples of its prompt (loco_codeeval_doctests),
 *     joined to the prompt as the scorer joins the answer; never the hidden
 *     `check`, which is the scorer's;
 *   other kinds (gsm8k-pot included): none, and false.
 * Returns whether the kind is voted on by tests (true also with none shown:
 * then the vote is on normalised code alone); *rc an error (out of memory).
 * Free with eval_shown_free, also after an error. */
bool eval_shown_tests(const struct item *it, enum kind kind, struct shown_tests *out, int *rc);
/* Whether sc:K votes on this kind's answers by shown tests (as above). */
bool eval_votes_by_tests(enum kind kind);
void eval_shown_free(struct shown_tests *s);

#endif
