/*
 * loco/eval.h - running a benchmark on the base model and on an adapter,
 * item by item, and comparing them with paired statistics.
 *
 * A benchmark is a list of items (a user message and what scores it), a
 * fixed prompt format and fixed decoding settings (greedy). Built in, read
 * from ../shared/datasets:
 *   gsm8k          test split (1319); score: the last number (lm-eval's
 *                  flexible-extract) equals the answer; strict (#### N) is
 *                  recorded too. Zero-shot chat, or k-shot with `shots`
 *                  worked train examples as earlier chat turns
 *   mbpp           test split (task_id 11-510); the code passes the asserts
 *                  in the sandbox
 *   humaneval      164 problems; the completed function passes check()
 *                  (both: pass@1 greedy, or with `samples` n > 1 sampled
 *                  answers the unbiased pass@k of Chen et al. 2021)
 *   summarisation  XSum records 601-1000 (1-600 train the adapter);
 *                  ROUGE-L F1 with stemming against the reference
 *   arc-easy, arc-challenge   test splits; the chosen label is the key
 *   judge          AlpacaEval's writing subset (161); each answer rated
 *                  by a judge model (loco/judge.h), n_judgments times
 *   judge-roleplay GPTeacher roleplay records 1001-1200 (the writing
 *                  adapter trains on 1-800), judged the same way
 * and custom benchmarks: FILE.jsonl in the item format of docs/benchmarks.md
 * (exact_match, rouge, code_execution, llm_judge).
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

#include "loco/contam.h"
#include "loco/judge.h"
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
    /* gsm8k only: the first `shots` train problems with their worked answers
     * as earlier user/assistant turns; 0 = zero-shot (the default) */
    uint32_t shots;
    /* code benchmarks only: answers sampled per item and side; 1 = one greedy
     * answer (the default). With n > 1 an item scores c/n and pass@k is
     * reported for k in {1, 5, 10, 20, 50, 100}, k <= n */
    uint32_t samples;
    float temperature;         /* sampling temperature when samples > 1: 0.8 */
    float top_p;               /* nucleus when samples > 1: 0.95 */
    uint64_t seed;             /* seeds sampled answers and judgments: 1 */
    struct loco_judge_params judge; /* judge benchmarks */
    /* contamination check: the adapter's training data (loco/contam.h), or
     * NULL for none. Items at or above the threshold are flagged; any
     * flagged item fails the benchmark's gate, unless `decontaminate`
     * leaves the flagged items out of the statistics (both sides) */
    const struct loco_contam_index *contam;
    double contam_threshold;
    bool decontaminate;
};

struct loco_eval_params loco_eval_default_params(void);

#define LOCO_EVAL_MAX_SAMPLES 200 /* samples per item and side */
#define LOCO_EVAL_MAX_SHOTS 32
#define LOCO_EVAL_MAX_PASS_K 6      /* k in {1, 5, 10, 20, 50, 100} */

/* Side 0 is the base model, side 1 the adapter. */
struct loco_eval_item {
    char *id;
    char *prompt;       /* the user message */
    char *output[2];    /* answers (with samples: sample 0) */
    double score[2];    /* 0/1 for pass/fail benchmarks, else the metric */
    char detail[2][160]; /* what was extracted or why the code failed */
    bool cached[2];     /* answer read from the cache (with samples: all of them) */
    /* samples > 1: every answer and whether it passed; score = n_correct / n */
    uint32_t n_samples;
    uint32_t n_correct[2];
    char **sample_output[2]; /* [n_samples] */
    uint8_t *sample_pass[2]; /* [n_samples] */
    /* judge benchmarks: the ratings (NaN: unparseable) on the 1..rating_max
     * scale; score = mean valid rating normalised to 0..1 */
    uint32_t n_ratings;
    double rating[2][LOCO_JUDGE_MAX_JUDGMENTS];
    char *judge_reply[2][LOCO_JUDGE_MAX_JUDGMENTS]; /* what the judge wrote (the local
                                                       judge's pre-filled opening included) */
    bool unrated;       /* a side has no valid rating: left out of the statistics */
    /* contamination: the prompt against the adapter's training data */
    bool contaminated;  /* exact match, or 13-gram overlap at or above the threshold */
    bool contam_exact;
    double contam_fraction; /* of the prompt's 13-grams found in the training data */
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
    size_t n_used;      /* items in the paired statistics (all but unrated ones and,
                           when decontaminating, flagged ones) */
    /* contamination check (when the params carry an index) */
    bool contam_checked;
    bool decontaminated;   /* flagged items left out of the statistics */
    double contam_threshold;
    size_t n_contam_exact, n_contam_overlap, n_contaminated;
    /* settings this benchmark ran with */
    uint32_t shots;     /* gsm8k: worked examples in the chat */
    uint32_t samples;   /* answers per item and side */
    float temperature;  /* when samples > 1 */
    uint64_t seed;
    /* samples > 1: pass@k per side, unbiased estimator averaged over items */
    size_t n_pass_k;
    uint32_t pass_k[LOCO_EVAL_MAX_PASS_K];
    double pass_at_k[2][LOCO_EVAL_MAX_PASS_K];
    /* judge benchmarks */
    bool judged;
    char judge[192];         /* "base model (in process)" or "MODEL at URL" */
    enum loco_judge_rubric rubric;
    int32_t rating_max;
    double mean_rating[2];   /* of all valid ratings, raw scale */
    double rating_sd[2];     /* mean per-item sd of the valid ratings (items with >= 2) */
    double rating_range[2];  /* mean per-item max - min of the valid ratings */
    size_t n_judgments[2];   /* judgments made (or read from the cache) */
    size_t n_unparsed[2];    /* of which no valid rating could be read */
    size_t n_judge_cached[2];
    double judge_ms[2];
};

/* Progress of one phase of one side: `phase` is "answers" (generation,
 * every sample counted) or "judging" (every judgment counted); done of
 * total so far. */
typedef void (*loco_eval_progress_fn)(void *user, const char *bench, const char *phase, int side,
                                      size_t done, size_t total);

/* The benchmark built in for a domain ("math" -> "gsm8k", "code" -> "mbpp",
 * "summarisation" -> "summarisation", "writing" -> "judge"), or NULL. */
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

/* Whether `shots` / `samples` can apply to a benchmark: shots to gsm8k
 * only; samples to mbpp, humaneval and custom files (whose items may be
 * code_execution; the file is not opened). Elsewhere they are ignored. */
bool loco_eval_bench_takes_shots(const char *bench);
bool loco_eval_bench_takes_samples(const char *bench);

/* Unbiased pass@k from n samples of which c passed (Chen et al. 2021,
 * "Evaluating Large Language Models Trained on Code", eq. 1):
 * 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i) so
 * that no binomial coefficient overflows. NaN when k == 0, k > n or c > n. */
double loco_eval_pass_at_k(uint32_t n, uint32_t c, uint32_t k);

/* The benchmark's result as a JSON object text (summary and every item), for
 * the evaluation record. malloc'd. */
char *loco_eval_bench_json(const struct loco_eval_bench *b, bool with_items);

#ifdef __cplusplus
}
#endif
#endif
