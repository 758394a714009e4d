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
 * (exact_match, numeric, regex, rouge, code_execution, llm_judge); a
 * file's header may declare it one of a domain's benchmarks.
 *
 * Both sides run through loco_generate_many over several sequences, or on
 * another engine (struct loco_eval_engine, several requests in flight); every
 * answer goes through the generation cache (loco/evalcache.h) when one is
 * given, so a killed run resumes and a repeated one costs nothing.
 */
#ifndef LOCO_EVAL_H
#define LOCO_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/contam.h"
#include "loco/generate.h"
#include "loco/judge.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/remote.h"
#include "loco/stats.h"
#include "loco/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the answers are generated (docs/scale-out.md, "Evaluation on an
 * engine"): here with the model (url NULL, the default), or on an
 * OpenAI-compatible engine (loco/remote.h) that is asked for the base model
 * and the adapter (set) by name. Everything else stays here: items,
 * prompts, the cache, scoring, judging (the in-process judge or judge.url),
 * contamination, statistics and the record. Greedy answers are sent with
 * temperature 0; sampled ones (samples > 1, sc:K) with their seeds, seed +
 * i for the K answers of sc:K (as loco_generate_sc seeds them). Refused
 * with an engine: calc and re2+calc (the calculator writes into the answer
 * as it is decoded), usc:K (the model reads the K answers to pick one) and
 * a chat template override (the engine applies its own). The cache key
 * names the engine's kind, URL and model name, so engine and local answers
 * never mix. */
struct loco_eval_engine {
    const char *url;            /* "http://host:port" or ".../v1"; NULL: here */
    enum loco_remote_kind kind; /* LOCO_REMOTE_AUTO: found out when opened */
    const char *api_key;        /* sent as Bearer; NULL: none */
    int32_t parallel;           /* requests in flight, each on its own connection;
                                 * 0: LOCO_EVAL_ENGINE_PARALLEL */
};

#define LOCO_EVAL_ENGINE_PARALLEL 4
#define LOCO_EVAL_MAX_ENGINE_PARALLEL 64

/* A member of strategy ensemble (docs/strategies.md, "ensemble in loco
 * eval"): an adapter answering alone at scale 1, or the base model. */
struct loco_eval_member {
    const char *name;                   /* for the record ("math-b", "base model"); borrowed */
    const struct loco_adapter *adapter; /* borrowed; NULL: the base model */
    int32_t rank;                       /* the leaderboard's rank, for the record; 0: none */
};

/* The most members an ensemble evaluation takes (its vote's arrays). */
#define LOCO_EVAL_MAX_MEMBERS 16

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
    /* a strategy other than plain (loco/strategy.h; re2, calc, re2+calc,
     * sc:K, usc:K, ensemble: see members below) turns the run into plain
     * against the strategy on the same items: side 0 is the adapter (the
     * base model when a is NULL) answering plain, side 1 the same model
     * answering with the strategy; the paired tests and gates then judge
     * the strategy's gain (docs/strategies.md) */
    struct loco_strategy strategy;
    /* a run-time set (loco_context_set_adapters): the adapter side answers
     * with loco_eval_bench_run's adapter at its scale plus these n_also
     * (borrowed; at most LOCO_MAX_SET_ADAPTERS - 1); the cache key names
     * every member's file and scale. NULL, 0: the adapter alone */
    const struct loco_adapter_ref *also;
    int32_t n_also;
    /* the answers' engine: url NULL (zeroed, the default) generates here */
    struct loco_eval_engine engine;
    /* strategy ensemble: the members[n_members] (borrowed, 2 to
     * LOCO_EVAL_MAX_MEMBERS), best-ranked first. Side 1 is each member
     * answering plain with side 0's settings (one batched pass per member,
     * through the cache under the keys a plain evaluation of that member
     * uses), then per item the benchmark's vote on the members' answers, a
     * tie to the earliest member. Not with samples > 1, a run-time set
     * (also) or an engine. The caller chooses the members (loco eval: the
     * registry's adapters of the domain) */
    const struct loco_eval_member *members;
    int32_t n_members;
};

struct loco_eval_params loco_eval_default_params(void);

/* The most sequences generated at once: beyond it the products switch to
 * sgemm and an answer would depend on its batch (loco/generate.h). */
#define LOCO_EVAL_MAX_SLOTS LOCO_GENERATE_MAX_SLOTS

/* LOCO_OK when the params can run; LOCO_ERR_RANGE naming the field and its
 * range otherwise (slots in [1, LOCO_EVAL_MAX_SLOTS], samples in
 * [1, LOCO_EVAL_MAX_SAMPLES], shots <= LOCO_EVAL_MAX_SHOTS, alpha in (0,
 * 0.5], engine.parallel in [0, LOCO_EVAL_MAX_ENGINE_PARALLEL], under
 * strategy ensemble 2 to LOCO_EVAL_MAX_MEMBERS members and at most N under
 * ensemble:N); LOCO_ERR_UNSUPPORTED for what an engine cannot answer (see
 * struct loco_eval_engine) and what an ensemble does not combine with
 * (samples > 1, also, an engine). loco_eval_bench_run checks them first. */
int loco_eval_params_check(const struct loco_eval_params *p);

#define LOCO_EVAL_MAX_SAMPLES 200 /* samples per item and side */
#define LOCO_EVAL_MAX_SHOTS 32
#define LOCO_EVAL_MAX_PASS_K 6      /* k in {1, 5, 10, 20, 50, 100} */

/* How sc:K chose an item's answer (docs/strategies.md), when it voted in
 * this run: an answer read from the cache keeps only the winner (k 0).
 * Under ensemble the k answers are the members' (winner: the member's
 * index), voted on in every run. */
struct loco_eval_vote {
    int32_t k;      /* answers voted on; 0: no vote recorded */
    int32_t winner; /* the chosen answer's index, 0..k-1 */
    double share;   /* its vote share */
    char by[16];    /* what was compared: "tests" (the asserts the prompt
                       shows), "doctests" (its examples), "code" (normalised
                       code, no test shown), "number", "choice", "text" */
    int32_t n_tests;                         /* tests, doctests: how many were shown */
    int32_t passed[LOCO_GENERATE_MAX_SLOTS]; /* tests, doctests: each answer's passes */
};

/* Side 0 is the base model, side 1 the adapter; under a strategy, side 0
 * answers plain and side 1 with the strategy. */
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
    struct loco_eval_vote vote[2]; /* strategy sc:K: how the answer was chosen */
};

/* One member of an ensemble evaluation, as it answered this benchmark. */
struct loco_eval_member_result {
    char name[128];
    char sha256[65];    /* its adapter file's; "" for the base model */
    int32_t rank;       /* the leaderboard's rank; 0: none */
    double score;       /* its answers alone, scored (NaN: judged benchmarks) */
    size_t n_won;       /* items whose answer was this member's (the vote's winner) */
    double gen_ms;      /* generation wall time of its answers in this run */
    size_t n_cached;    /* its answers read from the cache */
    int64_t n_tokens;
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
    enum loco_gate_kind gate_kind;   /* superiority (in domain) or non-inferiority (not) */
    enum loco_gate_verdict verdict;  /* PASS, FAIL, or uninformative (a non-inferiority
                                        check at the floor: loco_stats_ni_informative) */
    bool gate_passed;   /* verdict == PASS */
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
    /* strategy ensemble: the members in order (side 1's vote) */
    int32_t n_members;
    struct loco_eval_member_result members[LOCO_EVAL_MAX_MEMBERS];
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
/* Whether `bench` is a built-in benchmark scored by a judge model (judge,
 * judge-roleplay): it needs a judge and does not score itself. */
bool loco_eval_bench_judged(const char *bench);

struct loco_registry;

/* The benchmarks a run of an adapter of `domain` covers when none are
 * named, into out[cap] (static strings or the registry's, borrowed);
 * returns how many. The domains come from the registry (reg NULL: from the
 * built-in table of loco_eval_domain_bench): first the adapter's own
 * domain's benchmark (the registry's primary benchmark for it when that is
 * built in, else loco_eval_domain_bench), then every other domain's primary
 * benchmark that is built in and scores itself (no judge), each once. For
 * the shipped registry and a math adapter: gsm8k, mbpp, summarisation. */
size_t loco_eval_default_benches(const struct loco_registry *reg, const char *domain,
                                 const char **out, size_t cap);
/* Whether `bench` is one of the own-domain benchmarks of an adapter of
 * `domain` (held to the superiority gate; the others to non-inferiority):
 * for a custom file, whether its declared domain (`custom_domain`: the
 * file's header or --in-domain; NULL for a built-in) is `domain`; else
 * whether the registry lists it for the domain (domains[].benchmarks),
 * else (reg NULL, or a domain it lacks) whether it is the domain's
 * built-in benchmark (loco_eval_domain_bench). */
bool loco_eval_bench_in_domain(const struct loco_registry *reg, const char *domain,
                               const char *bench, const char *custom_domain);

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

/* ---- prompt formats: one table for evaluation and training ------------------ */

/* How a dataset record becomes the user message (and, to train on, the
 * response): templates over the record's fields, {field} as in a recipe's
 * data.prompt (loco_train_template_expand renders both; a list field is
 * one element per line). The built-in benchmarks format their items with
 * these, and a training recipe names one with `data.prompt_format: NAME`,
 * so an adapter is evaluated on exactly the prompt it was trained on.
 * Formats: gsm8k, mbpp, summarisation (train and evaluate); humaneval, arc
 * (evaluate only: response NULL). */
struct loco_prompt_format {
    const char *name;
    const char *prompt;   /* the user message */
    const char *response; /* the answer trained on; NULL: evaluation only */
    const char *about;    /* one line for people */
};

/* The table (static; *n entries). */
const struct loco_prompt_format *loco_prompt_formats(size_t *n);
/* The format called `name`; NULL and LOCO_ERR_NOT_FOUND (listing the names)
 * when there is none. */
const struct loco_prompt_format *loco_prompt_format_find(const char *name);

/* ---- the evaluation record (locollm-eval/1, docs/evaluation.md) ---------- */

/* What a record says about the run beyond its benchmarks. */
struct loco_eval_record_info {
    char model_path[4096], model_sha256[65];
    char adapter_name[128], adapter_domain[64], adapter_path[1024], adapter_sha256[65];
    float scale;
    /* the contamination check: the recipe and examples it read, or why it
     * did not run */
    bool contam_checked;
    char contam_recipe[4096];
    size_t contam_examples;
    char contam_why[512];
    bool omit_prompts; /* leave the items' prompts out (their ids name them) */
    /* answers generated on an engine (loco_eval_engine_probe): its kind
     * ("" : here, and the record has no "engine"), URL, and the model names
     * each side was asked for */
    char engine_kind[16], engine_url[1024], engine_base_model[256], engine_adapter_model[256];
    char date[32];     /* ISO 8601 UTC; "" when the record is written: now */
};

/* The model's and adapter's part of info (the files' sha256s are computed:
 * the model's once per model, the adapter file's read whole); the rest is
 * zeroed. `m`, `a` borrowed for the call. */
int loco_eval_record_info_fill(struct loco_eval_record_info *info, const struct loco_model *m,
                               const char *model_path, const struct loco_adapter *a, float scale);

/* Connect to p->engine and name the models each side will be asked for:
 * side 0 the base model (the adapter set too under a strategy, which
 * compares the adapter with itself), side 1 adapter `a` at `scale` with
 * p->also (a NULL: the base model). Fills info's engine part and *kind
 * (the engine's kind, found out when p->engine.kind is AUTO: pass it back
 * in p->engine.kind so that each benchmark's connections skip the
 * discovery). Nothing is generated: a run that cannot be answered fails
 * here, before any work. Errors: LOCO_ERR_INVALID without p->engine.url,
 * loco_eval_params_check's, loco_remote_open's (no connection, an HTTP
 * error), loco_remote_model_for's (an adapter the engine does not serve, a
 * set or scale it cannot take). */
int loco_eval_engine_probe(const struct loco_eval_params *p, const struct loco_adapter *a,
                           float scale, struct loco_eval_record_info *info,
                           enum loco_remote_kind *kind);

/* The record of a run: "record": "locollm-eval/1", loco_version, date,
 * model, adapter, settings (from p), contamination, "engine" (kind, url,
 * base_model, adapter_model, answers: what was generated there) when
 * info->engine_kind is set, and the benchmarks b[n] (loco_eval_bench_json
 * with items). malloc'd; NULL when out of memory. */
char *loco_eval_record_json(const struct loco_eval_record_info *info,
                            const struct loco_eval_params *p, const struct loco_eval_bench *b,
                            size_t n);

/* Per benchmark b[i], the verdict `record` (a record text, e.g. the one
 * loco_eval_record_merge wrote) decided for it: a rerun keeps the verdict
 * of the run that decided; b[i].verdict when the record lacks it. */
void loco_eval_record_verdicts(const char *record, const struct loco_eval_bench *b, size_t n,
                               enum loco_gate_verdict *out);

/* Whether a decided verdict lets the adapter through (the registry's
 * `passed`, and `loco eval`'s exit status): PASS, or an uninformative
 * non-inferiority check (it cannot see a drop: docs/statistics.md). */
bool loco_eval_verdict_passes(enum loco_gate_verdict v, enum loco_gate_kind kind);

/* ---- planned n, reruns and verdicts (docs/evaluation.md, "Planned n") ---- */

/* Whether a benchmark's items are pass/fail (binary) and how many it has:
 * the built-in ones by name, a custom file by its first item's type (the
 * file is read), with `samples` > 1 code benchmarks score c/n (continuous).
 * *domain (may be NULL) receives a custom file's header domain (malloc'd;
 * NULL when none). Reads the items (built-ins from p->shared_dir). */
int loco_eval_bench_info(const char *bench, const struct loco_eval_params *p, bool *binary,
                         size_t *n_items, char **domain);

/* The name a benchmark has in records and the registry: a built-in's own,
 * a custom file's stem lower-cased with other characters than letters,
 * digits, '.' and '_' turned into '-' ("data/My Maths.jsonl" -> "my-maths"). */
void loco_eval_bench_name(const char *bench, char *name, size_t cap);

/* The planned n of one benchmark. */
struct loco_eval_plan_bench {
    char benchmark[64];
    enum loco_gate_kind gate;
    bool binary;
    double effect;       /* the gain (superiority) or the margin (non-inferiority) planned for */
    double base_rate;    /* the base score the plan used, NaN when unknown */
    struct loco_stats_plan stats;
    size_t available;    /* items the benchmark has (0: unknown) */
    bool floor;          /* non-inferiority with base_rate < margin: uninformative at any n */
    char basis[320];     /* what the spread rests on, in words */
};

/* Plan benchmark `benchmark` for `gate` at significance alpha and `power`
 * for `effect` (superiority: the smallest gain worth finding; non-
 * inferiority: the margin). What the spread rests on, first found:
 *   1. `previous`, the text of an earlier record of the adapter (may be
 *      NULL) holding the benchmark: binary, its discordance rate
 *      (base_only + adapter_only) / n (one pair when none); continuous, the
 *      sd of its per-item differences; its base score as base_rate;
 *   2. `sd` (continuous, when finite) or `base_rate` (binary, when finite):
 *      the discordance of independent errors (loco_stats_disc_independent);
 *   3. an assumption, stated in basis: binary, base rate 0.5 (the largest
 *      discordance); continuous, sd 0.5.
 * LOCO_ERR_INVALID for effect, alpha or power outside (0, 1). */
int loco_eval_plan_bench(const char *benchmark, bool binary, enum loco_gate_kind gate,
                         const char *previous, double base_rate, double sd, double effect,
                         double alpha, double power, struct loco_eval_plan_bench *out);

/* The plan as the JSON object a record keeps under "plan". malloc'd. */
char *loco_eval_plan_json(const struct loco_eval_plan_bench *b, size_t n, double alpha,
                          double power, const char *date);

/* The record to write at a path that may already hold one. `previous` (may
 * be NULL): the record there; `current`: the record of this run (its
 * "benchmarks" may be empty: then no run is added, e.g. a plan alone);
 * `plan` (may be NULL): a plan object (loco_eval_plan_json) to record,
 * else the previous record's plan is kept. When `previous` is of the same
 * adapter file and model (loco_eval_record_same_series), its runs are kept
 * and this run is appended (else it is not used: the caller keeps it): the result has "run" (this run's number) and "runs" (a summary
 * of every run: date, and per benchmark n, scores, interval, p, gate and
 * that run's own verdict; an earlier run's summary also keeps its items,
 * this run's items are the benchmarks' own, so each run's items are kept
 * once). Each benchmark's gate is decided ONCE: by the
 * first run that measured it; a later run (a rerun) keeps its statistics
 * and its own verdict as "run_verdict", while "verdict", "passed" and "why"
 * stay the deciding run's ("decided_by_run"), and "rerun" says which run of
 * the benchmark it is. With a plan, "planned_n" is set and a decision on
 * another n says so in "plan_note" and "why". `note` (may be NULL) receives
 * a sentence for the user (e.g. "rerun 2 of gsm8k, planned n=311: ...").
 * *out is malloc'd. LOCO_ERR_FORMAT when `current` is not a record. */
int loco_eval_record_merge(const char *previous, const char *current, const char *plan,
                           char **out, char *note, size_t cap);

/* Whether two record texts are of the same adapter file and model (both
 * sha256s equal), strategy, and source of answers (loco itself, or the same
 * engine: "engine"'s kind, url, base_model and adapter_model): runs of one
 * series, which loco_eval_record_merge chains. False when either is not a
 * record. */
bool loco_eval_record_same_series(const char *a, const char *b);

/* Recompute every benchmark's verdict in a record from its stored
 * statistics (no answer is regenerated): the gate kind ("gate", else
 * "in_domain"), n_used, base_score, diff, diff_ci95, p_value, the
 * contamination counts and the settings' alpha and margin, by the current
 * rules (the floor rule included), then decide once over the runs as
 * loco_eval_record_merge does. `changes` (may be NULL) receives one line per
 * changed verdict ("gsm8k: PASS -> uninformative"), "" when none. */
int loco_eval_record_regate(const char *record, char **out, char *changes, size_t cap);

/* ---- re-scoring a stored record (`loco eval --rescore`) ------------------ */

/* One item side whose score changed. */
struct loco_eval_rescore_change {
    size_t bench;             /* index into loco_eval_rescore.bench */
    char id[64];
    int side;                 /* 0 base, 1 adapter */
    double old_score, new_score;
    char old_detail[160], new_detail[160];
};

/* One benchmark of the record, before and after. */
struct loco_eval_rescore_bench {
    char name[64];
    bool rescored;            /* false: judged (stored judgments stand) or not found */
    char how[160];            /* "re-scored", or why the stored scores stand */
    size_t n_items;
    size_t n_changed[2];      /* item scores that changed, per side */
    size_t n_detail_changed[2]; /* item details (what was extracted, why code failed) */
    double old_base, old_adapter, old_diff, old_p;
    double new_base, new_adapter, new_diff, new_p;
    char old_verdict[24], new_verdict[24]; /* the decided verdicts */
};

#define LOCO_EVAL_RESCORE_MAX_BENCH 32

struct loco_eval_rescore {
    size_t n_bench;
    struct loco_eval_rescore_bench bench[LOCO_EVAL_RESCORE_MAX_BENCH];
    size_t n_changes;
    struct loco_eval_rescore_change *changes; /* [n_changes], malloc'd */
};

/* Score every stored answer of `record` again with the current scorers
 * (nothing is generated), recompute each benchmark's statistics and gate
 * as a run does (loco_eval_bench_run's code), then decide the verdicts as
 * loco_eval_record_regate does. Built-in benchmarks read their items from
 * p->shared_dir; a custom benchmark is scored again when one of `files`
 * (n_files custom FILE.jsonl paths, may be NULL) has its name, else its
 * scores stand. Judged benchmarks are not judged again: their stored
 * judgments and scores stand, their statistics are recomputed. Only the
 * record's benchmarks (its last run) are scored again; the summaries of
 * earlier runs in "runs" stay as stored, the last run's is updated.
 * p->stats takes the record's settings (alpha, margin, bootstrap
 * resamples) where it has them.
 *
 * Each benchmark whose item scores or details, figures or verdict changed
 * gets an entry appended to its "rescored" array: `date`, loco_version,
 * items_changed and details_changed per side, and the previous
 * base_score, adapter_score, diff, p_value and verdict. *out (malloc'd) is the new record text; `res` (may be NULL)
 * receives the summary (free with loco_eval_rescore_free). LOCO_ERR_FORMAT
 * when `record` is not a locollm-eval/1 record. */
int loco_eval_record_rescore(const char *record, const struct loco_eval_params *p,
                             const char *const *files, size_t n_files, const char *date,
                             char **out, struct loco_eval_rescore *res);
void loco_eval_rescore_free(struct loco_eval_rescore *res);

/* ---- two records' answers, item by item ---------------------------------- */

/* One side of a stored record: its base side (the base model; a strategy
 * record's plain answers) or its adapter side (the adapter; a strategy
 * record's strategy answers). */
enum loco_eval_side { LOCO_EVAL_SIDE_BASE, LOCO_EVAL_SIDE_ADAPTER };

struct loco_eval_pair {
    char bench[64];
    size_t n_first, n_second; /* items with a score on that side */
    size_t n_dropped;         /* ids in both, left out: unrated, or flagged for
                                 contamination in a record whose run was decontaminated */
    bool binary;              /* the runs' test was exact McNemar (a pass: score > 0.5) */
    struct loco_binary_paired bin;      /* binary: base = first, adapter = second */
    struct loco_continuous_paired cont; /* otherwise, the same roles */
};

/* Pair one side of record `first` with one side of record `second` (JSON
 * texts, as loco eval writes them) item by item on benchmark `bench` (NULL:
 * the first record's only one), and analyse the pairs as a run does
 * (compare.c): in the first record's item order, by the test the runs used
 * (exact McNemar with Newcombe's interval, or Wilcoxon and the paired
 * bootstrap; two records whose runs used different tests are refused),
 * leaving out unrated items and items flagged for contamination in a record
 * whose run was decontaminated. `params` NULL: the first record's alpha and
 * bootstrap resamples. `first` plays the base. This compares answers that no
 * single run put side by side: an adapter's strategy against the base model
 * of its gate's record, say. At least 2 items must pair. */
int loco_eval_pair(const char *first, enum loco_eval_side first_side, const char *second,
                   enum loco_eval_side second_side, const char *bench,
                   const struct loco_stats_params *params, struct loco_eval_pair *out);

#ifdef __cplusplus
}
#endif
#endif
