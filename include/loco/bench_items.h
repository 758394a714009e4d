/*
 * loco/bench_items.h - custom benchmark items for adapter authors.
 *
 * An adapter author who has no public benchmark for a domain writes one as
 * JSONL: one JSON object per line, each an item the harness asks the model
 * and scores. docs/benchmarks.md is the guide; in short:
 *
 *   {"id": "tax-001", "evaluation_type": "exact_match",
 *    "prompt": "What is the VAT rate in ...?", "reference": "20%",
 *    "normalise": ["case", "whitespace"]}
 *
 *   field            type               needed for
 *   id               string, unique     every item
 *   evaluation_type  string             every item: exact_match,
 *                                       code_execution, rouge, llm_judge,
 *                                       numeric, regex
 *   prompt           string             every item
 *   reference        string             exact_match, rouge, numeric (a
 *                                       number, or a worked answer ending
 *                                       "#### N") and regex (optional
 *                                       otherwise: a model solution/answer)
 *   pattern          string             regex: a PCRE2 pattern with one
 *                                       capture group (else the header's)
 *   system           string             optional system message
 *   tests            string or array    code_execution: test code run
 *                    of strings         after the answer
 *   rubric           string             llm_judge: what the judge grades
 *   normalise        array of strings   exact_match and regex, optional:
 *                                       "case", "whitespace", "punctuation"
 *                                       (regex default: case, whitespace)
 *   metadata         any JSON           optional, kept out of scoring
 *
 * The first non-blank line may instead be a header describing the file:
 *
 *   {"benchmark": {"domain": "math", "pattern": "Answer: (\\S+)",
 *                  "description": "..."}}
 *
 * "domain" declares the file one of that domain's benchmarks: `loco eval`
 * gates it for superiority for an adapter of that domain (non-inferiority
 * for the others); "pattern" is the regex items' default pattern. Every
 * header field is optional; no other field is allowed.
 *
 * Any other field is an error (a misspelt "refrence" would otherwise be
 * silently ignored). Blank lines are skipped. Errors name the source, the
 * line, the field and the fix: "tax.jsonl:12: field \"reference\": missing;
 * exact_match items need the expected answer".
 */
#ifndef LOCO_BENCH_ITEMS_H
#define LOCO_BENCH_ITEMS_H

#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/score.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- item types -------------------------------------------------------- */

enum loco_eval_type {
    LOCO_EVAL_EXACT_MATCH = 0,
    LOCO_EVAL_CODE_EXECUTION = 1,
    LOCO_EVAL_ROUGE = 2,
    LOCO_EVAL_LLM_JUDGE = 3,
    LOCO_EVAL_NUMERIC = 4, /* loco_score_numeric against the reference */
    LOCO_EVAL_REGEX = 5,   /* loco_score_regex_match of the pattern against the reference */
};

/* "exact_match", "code_execution", "rouge", "llm_judge", "numeric",
 * "regex"; "unknown" else. */
const char *loco_eval_type_name(enum loco_eval_type t);
/* The type named `name`; LOCO_ERR_NOT_FOUND (message lists the names). */
int loco_eval_type_parse(const char *name, enum loco_eval_type *out);

/* ---- items --------------------------------------------------------------- */

/* One item. Optional strings are NULL when absent. All memory belongs to
 * the loco_bench_items set the item sits in. */
struct loco_bench_item {
    char *id;
    enum loco_eval_type type;
    char *prompt;
    char *reference; /* required for exact_match and rouge */
    char *system;
    char **tests; /* code_execution: n_tests >= 1 strings */
    size_t n_tests;
    char *rubric;       /* llm_judge */
    char *pattern;      /* regex: the item's pattern, else the header's (checked at load) */
    uint32_t normalise; /* enum loco_norm_flags, exact_match and regex */
    char *metadata;     /* the "metadata" value as compact JSON text, or NULL */
    size_t line;        /* 1-based line in the source, for messages */
};

struct loco_bench_items {
    struct loco_bench_item *items;
    size_t n;
    /* the header line's fields, NULL when absent */
    char *domain;  /* the domain whose benchmark the file is */
    char *pattern; /* default pattern of regex items */
    char *description;
};

/* Limits on what is read from outside. */
#define LOCO_BENCH_ITEMS_MAX_LINE ((size_t)1 << 20)  /* bytes per line */
#define LOCO_BENCH_ITEMS_MAX_ITEMS ((size_t)1 << 20) /* items per file */

/* Parse JSONL text[len] (need not be NUL-terminated); `source` names it in
 * messages (a path, or "<memory>"). On success *out is a new set (possibly
 * with n = 0) to free with loco_bench_items_free; on failure *out is NULL,
 * the status is LOCO_ERR_FORMAT (or LOCO_ERR_RANGE for a limit,
 * LOCO_ERR_NOMEM) and the message names source:line, the field and the fix.
 * Duplicate ids are an error naming both lines. A regex item's pattern is
 * checked here (loco_score_regex_check), so a bad pattern fails the load,
 * not every item. */
int loco_bench_items_parse(const char *text, size_t len, const char *source,
                           struct loco_bench_items **out);

/* Read and parse the file at `path` (LOCO_ERR_IO when unreadable). */
int loco_bench_items_load(const char *path, struct loco_bench_items **out);

void loco_bench_items_free(struct loco_bench_items *set);

/* ---- scoring ------------------------------------------------------------- */

/* Exact match of `answer` against an exact_match item's reference under its
 * normalise flags: 1 or 0; LOCO_ERR_INVALID for an item of another type. */
int loco_bench_item_score_exact(const struct loco_bench_item *item, const char *answer);

/* ROUGE-L (stemmed, as loco_rouge_l) of `answer` against a rouge item's
 * reference; LOCO_ERR_INVALID for an item of another type. */
int loco_bench_item_score_rouge(const struct loco_bench_item *item, const char *answer,
                                struct loco_rouge_score *out);

/* The numeric scorer (loco_score_numeric) for a numeric item, the regex
 * scorer (loco_score_regex_match) for a regex item: 1 or 0; `detail` (may
 * be NULL) receives what was extracted. LOCO_ERR_INVALID for an item of
 * another type. */
int loco_bench_item_score_numeric(const struct loco_bench_item *item, const char *answer,
                                  char *detail, size_t cap);
int loco_bench_item_score_regex(const struct loco_bench_item *item, const char *answer,
                                char *detail, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
