/*
 * loco/eval.h - running a benchmark on the base model and on an adapter,
 * item by item, and comparing them with paired statistics.
 *
 * A benchmark is a list of items (a user message and what scores it), a
 * fixed prompt format and fixed decoding settings (greedy). Built in, read
 * from ../shared/datasets:
 *   gsm8k          test split (1319); score: the last number (lm-eval's
 *                  flexible-extract) equals the answer; strict (#### N) is
 *                  recorded too
 *   mbpp           test split (task_id 11-510); the code passes the asserts
 *                  in the sandbox
 *   humaneval      164 problems; the completed function passes check()
 *   summarisation  XSum records 601-1000 (1-600 train the adapter);
 *                  ROUGE-L F1 with stemming against the reference
 *   arc-easy, arc-challenge   test splits; the chosen label is the key
 * and custom benchmarks: FILE.jsonl in the item format of docs/benchmarks.md
 * (exact_match, rouge, code_execution).
 *
 * Both sides run through loco_generate_many over several sequences; every
 * answer goes through the generation cache (loco/evalcache.h) when one is
 * given, so a killed run resumes and a repeated one costs nothing.
 */
#ifndef LOCO_EVAL_H
#define LOCO_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/lora.h"
#include "loco/model.h"
#include "loco/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

struct loco_eval_params {
    const char *shared_dir;    /* where datasets/ is (built-in benchmarks) */
    size_t limit;              /* first N items only; 0 = all */
    int32_t slots;             /* sequences generated at once */
    int32_t n_ctx;             /* KV cache per sequence */
    int32_t threads;
    const char *cache_path;    /* generation cache file, or NULL for none */
    const char *chat_template; /* override, or NULL for the model's */
    int32_t max_tokens;        /* answer length; 0 = the benchmark's own */
    struct loco_stats_params stats;
};

struct loco_eval_params loco_eval_default_params(void);

/* Side 0 is the base model, side 1 the adapter. */
struct loco_eval_item {
    char *id;
    char *prompt;       /* the user message */
    char *output[2];    /* answers */
    double score[2];    /* 0/1 for pass/fail benchmarks, else the metric */
    char detail[2][160]; /* what was extracted or why the code failed */
    bool cached[2];     /* answer read from the cache */
};

struct loco_eval_bench {
    char name[64];
    char metric[32];    /* "accuracy", "pass@1", "rouge-l-f1", "exact_match" */
    bool binary;        /* pass/fail items (McNemar) vs continuous (Wilcoxon) */
    size_t n;
    struct loco_eval_item *items;
    struct loco_binary_paired bin;      /* when binary */
    struct loco_continuous_paired cont; /* when continuous */
    double base_score, adapter_score, diff, p_value;
    struct loco_ci diff_ci;
    bool in_domain;     /* the adapter's own benchmark: superiority gate */
    bool gate_passed;   /* superiority (in domain) or non-inferiority (not) */
    const char *gate_why;
    double gen_ms[2];   /* generation wall time per side */
    size_t n_cached[2]; /* answers read from the cache per side */
    int64_t n_tokens[2];
};

/* side, items done, items in all, per side */
typedef void (*loco_eval_progress_fn)(void *user, const char *bench, int side, size_t done,
                                      size_t total);

/* The benchmark built in for a domain ("math" -> "gsm8k", "code" -> "mbpp",
 * "summarisation" -> "summarisation"), or NULL. */
const char *loco_eval_domain_bench(const char *domain);
/* Names of the built-in benchmarks, NULL-terminated. */
const char *const *loco_eval_bench_names(void);

/* Run benchmark `bench` (a built-in name or a path to a custom .jsonl) on the
 * base model and with adapter `a` at `scale` (a may be NULL: only the base
 * side runs and both sides report it). */
int loco_eval_bench_run(const struct loco_model *m, const struct loco_adapter *a, float scale,
                        const char *bench, bool in_domain, const struct loco_eval_params *p,
                        loco_eval_progress_fn progress, void *user, struct loco_eval_bench *out);
void loco_eval_bench_free(struct loco_eval_bench *b);

/* The benchmark's result as a JSON object text (summary and every item), for
 * the evaluation record. malloc'd. */
char *loco_eval_bench_json(const struct loco_eval_bench *b, bool with_items);

#ifdef __cplusplus
}
#endif
#endif
