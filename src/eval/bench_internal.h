/*
 * bench_internal.h - what the files of one benchmark run share (private to
 * src/eval): the kinds of benchmark, an item and what scores it, the
 * built-in benchmarks' table entry, the state of a run, and the steps
 * each file provides:
 *
 *   benches.c   which benchmarks there are, their names, the parameters
 *   items.c     reading a benchmark's items (prompts.c formats them)
 *   scoring.c   scoring an answer by the benchmark's kind; rescoring
 *   judging.c   judged benchmarks: ratings by a judge model
 *   compare.c   pass@k, the judge's figures, contamination, statistics, gate
 *   run.c       loco_eval_bench_run: the steps in order, both sides
 */
#ifndef LOCO_EVAL_BENCH_INTERNAL_H
#define LOCO_EVAL_BENCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "loco/bench_items.h"
#include "loco/eval.h"
#include "loco/evalcache.h"
#include "loco/generate.h"
#include "loco/sandbox.h"
#include "loco/score.h"

enum kind {
    K_GSM8K,
    K_GSM8K_POT, /* GSM8K answered by a program the sandbox runs */
    K_MBPP,
    K_HUMANEVAL,
    K_ROUGE,
    K_ARC,
    K_EXACT,
    K_CODE_CUSTOM,
    K_JUDGE,
    K_NUMERIC,
    K_REGEX
};

/* One item and what scores it. */
struct item {
    char *id;
    char *prompt;
    char *gold;        /* gsm8k answer, reference summary, arc key, exact reference,
                          judge reference answer */
    char *code_prompt; /* humaneval: the function signature and docstring */
    char *test;        /* humaneval test code; mbpp setup code */
    char *entry_point; /* humaneval */
    char **tests;      /* mbpp / custom code asserts */
    size_t n_tests;
    struct loco_arc_item arc;
    uint32_t norm;  /* custom exact_match and regex normalisation */
    char *pattern;  /* custom regex items: the checked pattern */
    char *rubric;   /* custom llm_judge: what the judge grades */
    char *system;   /* custom items: a system message before the prompt, or NULL */
    char *key_text; /* with a system message: what the cache key names, else NULL */
};

struct bench_def {
    const char *name;
    enum kind kind;
    const char *file; /* under datasets/ */
    int32_t max_tokens;
    size_t from, to; /* 0-based line range [from, to) of the file; to = 0: to the end */
};

/* ---- benches.c -------------------------------------------------------------- */

/* The built-in benchmark called `name`, or NULL (name may be NULL). */
const struct bench_def *eval_find_builtin(const char *name);
/* Whether `bench` names a custom FILE.jsonl. */
bool eval_is_custom(const char *bench);

/* ---- items.c ---------------------------------------------------------------- */

/* A built-in benchmark's items (its split, the first p->limit), or a custom
 * file's (*kind from its evaluation_type; with domain, *domain the file's
 * declared domain, malloc'd, or NULL). *out is malloc'd: free with
 * eval_items_free. */
int eval_load_builtin(const struct bench_def *d, const struct loco_eval_params *p,
                      struct item **out, size_t *n_out);
int eval_load_custom(const char *path, const struct loco_eval_params *p, enum kind *kind,
                     struct item **out, size_t *n_out, char **domain);
void eval_item_free(struct item *it);
void eval_items_free(struct item *items, size_t n);
/* The item of items[n] with this id, or NULL. */
const struct item *eval_item_by_id(const struct item *items, size_t n, const char *id);

/* ---- scoring.c -------------------------------------------------------------- */

bool eval_is_code(enum kind k);
/* The sandbox's limits for an answer's code: 10 s of wall time, 5 s of CPU,
 * the rest loco_sandbox_default_params; the scorer and sc:K's vote on code
 * both run with them. */
struct loco_sandbox_params eval_code_sandbox(void);
/* The code in `answer` run against the item's tests in the sandbox: score
 * 1 or 0, the verdict in detail. An error only when the sandbox cannot run. */
int eval_score_code(const struct item *it, enum kind kind, const char *answer, double *score,
                    char *detail, size_t cap);
/* One answer scored by the benchmark's kind (judged kinds: left to the judge). */
int eval_score_item(const struct item *it, enum kind kind, const char *answer, double *score,
                    char *detail, size_t cap);
/* Every sample of `it` on `side` in the sandbox: score = passed / samples;
 * ph (may be NULL) counts each. */
int eval_score_samples(const struct item *src, enum kind kind, struct loco_eval_item *it, int side,
                       struct phase *ph);

/* ---- run.c and judging.c ------------------------------------------------------ */

/* What the steps of one benchmark share. */
struct run {
    const struct loco_model *m;
    const struct loco_eval_params *p;
    struct loco_evalcache *cache;
    char model_sha[65];
    enum kind kind;
    const struct item *items;
    size_t n;
    int32_t max_tokens;
    uint32_t samples;            /* answers per item and side */
    struct loco_chat_msg *shots; /* [2 * n_shots] turns before the question */
    size_t n_shots;
    bool judge_sees_reference; /* custom llm_judge items: the reference goes in the prompt */
    int32_t digits[10];        /* the local judge's allowed tokens: "1".."max" that are */
    int32_t n_digits;          /* single tokens of the model's vocabulary */
    loco_eval_progress_fn progress;
    void *user;
    struct loco_eval_bench *out;
    struct eval_engine engine; /* the answers' engine (p->engine); n = 0: here */
};

/* A seed of its own for draw `index` of stream `stream` (0: sampled answers,
 * 1: judgments). */
uint64_t eval_derive_seed(uint64_t seed, uint64_t stream, uint64_t index);
/* The chat template the cache key names: the override, else "model". */
const char *eval_template_name(const struct loco_eval_params *p);
/* Strategy ensemble's params (members, and what it does not take):
 * LOCO_OK for any other strategy. Part of loco_eval_params_check. */
int eval_ensemble_check(const struct loco_eval_params *p);

/* The local judge's rating tokens into r->digits. */
void eval_rating_digits(struct run *r);
/* Judge every generated answer of `side`: ratings, scores, the judge's replies. */
int eval_judge_side(struct run *r, int side);

/* ---- compare.c -------------------------------------------------------------- */

/* pass@k per side for k in {1, 5, 10, 20, 50, 100}, k <= samples. */
void eval_pass_k_summary(struct loco_eval_bench *b);
/* Mean valid rating, mean per-item sd and range, unparseable judgments. */
void eval_judge_summary(struct loco_eval_bench *b, int side);
/* Each item's prompt against the adapter's training data (p->contam). */
int eval_check_contamination(struct loco_eval_bench *b, const struct loco_eval_params *p);
/* The paired statistics of the two sides and the gate. */
int eval_compare(struct loco_eval_bench *b, const struct loco_eval_params *p);

#endif
