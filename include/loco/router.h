/*
 * loco/router.h - choosing the specialist for a query.
 *
 * A router reads a query and the registry and returns a decision: the
 * domain (or "base" for none), the adapter that serves it, a probability
 * for every domain and for "base", the confidence in the choice, and a
 * one-line reason a user can read.
 *
 * Routers are a table of operations (struct loco_router_ops). Adding one is
 * one C file that defines its ops and one line in the table in
 * src/router/router.c; docs/routers.md walks through it. The registry names
 * the router in use (`router:` at its top level, default "keyword"); the
 * command line's --router overrides it.
 *
 * Which adapter serves a domain: only proven ones (see "serving" below):
 * the domain's active adapter, else its best candidate that has passed its
 * gate; a domain whose adapters have not passed is answered by the base
 * model, and the decision says so. `serve_candidates` (registry or flag)
 * serves unproven candidates anyway.
 */
#ifndef LOCO_ROUTER_H
#define LOCO_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "loco/core.h"
#include "loco/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_ROUTE_MAX_DOMAINS 32
#define LOCO_ROUTE_NAME_MAX 64
#define LOCO_ROUTE_BASE "base" /* the pseudo-domain "no specialist" */

struct loco_route_decision {
    char router[LOCO_ROUTE_NAME_MAX];  /* which router decided */
    char domain[LOCO_ROUTE_NAME_MAX];  /* chosen domain, or "base" */
    char adapter[128];                 /* the adapter that serves it; "" for the base model */
    char adapter_path[4096];           /* its file; "" for the base model */
    double confidence;                 /* probability of the chosen domain */
    size_t n;                          /* entries below: the registry's domains, then "base" */
    char names[LOCO_ROUTE_MAX_DOMAINS + 1][LOCO_ROUTE_NAME_MAX];
    double prob[LOCO_ROUTE_MAX_DOMAINS + 1]; /* sum to 1 */
    char reason[320];                  /* one line: what decided it */
    double ms;                         /* time the router took */
    int serving;                       /* enum loco_serve_reason: why adapter is (or is not) set */
};

struct loco_router;
struct loco_model;
struct loco_context;

/* What a router may use. The registry is required; routers that read the
 * base model's hidden states need the model and refuse without it. Both
 * are borrowed: keep them alive while the router is. */
struct loco_router_env {
    const struct loco_registry *reg;
    const struct loco_model *model; /* may be NULL */
    int serve;                      /* enum loco_serve_mode; 0: the registry's setting */
    int32_t n_threads;              /* threads of the routers' own model contexts; 0: default */
};

/* What a router implementation provides. `state` is its own. */
struct loco_router_ops {
    const char *name;    /* as --router and the registry name it */
    const char *summary; /* one line for `loco route --list` */
    bool needs_model;    /* reads the base model (the CLI loads it first) */
    /* Build the router's state (may read other files). */
    int (*init)(const struct loco_router_env *env, void **state);
    /* Fill d->prob for d->names (already filled: the domains, then "base"),
     * and d->reason. The caller picks the domain and adapter. */
    int (*score)(void *state, const char *query, struct loco_route_decision *d);
    void (*free)(void *state);
};

/* The routers built in, NULL-terminated. */
const struct loco_router_ops *const *loco_router_list(void);
/* By name; NULL and LOCO_ERR_NOT_FOUND (listing the names) when unknown. */
const struct loco_router_ops *loco_router_find(const char *name);

/* A router by name; name NULL: the registry's choice, else "keyword". NULL
 * with a message on failure (an unknown name lists the known ones). */
struct loco_router *loco_router_open(const struct loco_router_env *env, const char *name);
void loco_router_close(struct loco_router *r);
/* Its name as given ("keyword", "confidence:classifier", ...). */
const char *loco_router_name(const struct loco_router *r);
/* Whether the router `name` (wrapped or not) reads the base model. */
bool loco_router_needs_model(const char *name);

/* Route one query. */
int loco_route(struct loco_router *r, const char *query, struct loco_route_decision *out);

/* The adapter that serves `domain` under the registry's serving setting
 * (loco_serving_choose with LOCO_SERVE_REGISTRY), or NULL for the base
 * model; why_out (may be NULL) receives "active", "candidate (passed its
 * gate)", "candidate (has not passed its gate)", "no adapter has passed its
 * gate" or "no adapter". */
const struct loco_registry_adapter *loco_route_adapter_for(const struct loco_registry *reg,
                                                           const char *domain,
                                                           const char **why_out);

/* ---- serving: which adapter answers a domain (src/router/serving.c) -------- */

/* Only proven adapters serve by default. An adapter is proven when it is
 * its domain's active one (`loco promote --best` refuses adapters that
 * failed), or a candidate that has PASSED its gate, i.e. one that
 * `promote --best` would accept: its score on the domain's primary
 * benchmark passed, and none of its other recorded checks (the
 * out-of-domain non-inferiority ones) failed. A domain with
 * no proven adapter is answered by the base model. Retired adapters never
 * serve. With serve_candidates (the registry's top-level
 * `serve_candidates: true`, or --serve-candidates) unproven candidates
 * serve too, after the proven ones: the rule before 2026-S2. */
enum loco_serve_mode {
    LOCO_SERVE_REGISTRY = 0, /* the registry's serve_candidates (default false) */
    LOCO_SERVE_PROVEN,       /* proven adapters only, whatever the registry says */
    LOCO_SERVE_CANDIDATES,   /* unproven candidates too, whatever the registry says */
};

enum loco_serve_reason {
    LOCO_SERVE_ACTIVE = 0,      /* the domain's active adapter */
    LOCO_SERVE_PASSED,          /* a candidate that passed its gate */
    LOCO_SERVE_UNPROVEN,        /* a candidate that has not passed (serve_candidates) */
    LOCO_SERVE_BASE_NOT_PASSED, /* base model: the domain's adapters have not passed */
    LOCO_SERVE_BASE_NO_ADAPTER, /* base model: the domain has no adapter (or none loads) */
    LOCO_SERVE_BASE_ROUTED,     /* base model: the router chose no domain */
    LOCO_SERVE_BASE_NOT_LOADED, /* base model: the domain's adapters do not load here */
};

struct loco_serving {
    const struct loco_registry_adapter *adapter; /* borrowed from the registry; NULL: base */
    enum loco_serve_reason reason;
};

/* Whether unproven candidates serve under `mode` (the registry decides for
 * LOCO_SERVE_REGISTRY). */
bool loco_serving_candidates(const struct loco_registry *reg, enum loco_serve_mode mode);
/* Whether `a` has passed its gate (primary benchmark passed, no other
 * recorded score failed), whatever its status. */
bool loco_serving_passed(const struct loco_registry *reg, const struct loco_registry_adapter *a);
/* The adapters that may serve `domain`, best first, into out[cap]: the
 * active one, then candidates that passed by primary score (ties: more
 * items, then name), then (serve_candidates only) the other candidates the
 * same way. Returns how many there are (may exceed cap; out holds the
 * first cap). The fallback chain when an adapter does not load walks it. */
size_t loco_serving_order(const struct loco_registry *reg, const char *domain,
                          enum loco_serve_mode mode, const struct loco_registry_adapter **out,
                          size_t cap);
/* The adapter serving `domain` ("base": the base model, reason
 * LOCO_SERVE_BASE_ROUTED) and why. LOCO_ERR_INVALID for NULL arguments; an
 * unknown domain is answered by the base model (LOCO_SERVE_BASE_NO_ADAPTER). */
int loco_serving_choose(const struct loco_registry *reg, const char *domain,
                        enum loco_serve_mode mode, struct loco_serving *out);
/* A stable name for --json and records: "active", "passed-gate",
 * "candidate-not-passed", "no-adapter-passed", "no-adapter", "routed-to-base",
 * "not-loaded". */
const char *loco_serve_reason_name(enum loco_serve_reason r);
/* A phrase for people: "no adapter has passed its gate", ... */
const char *loco_serve_reason_text(enum loco_serve_reason r);

/* ---- measuring a router: the routing benchmark ----------------------------- */

/* One labelled query. */
struct loco_route_item {
    char *query;
    char *domain; /* a registry domain or "base" */
    char *source; /* the optional `source` field; "" when absent */
};

/* Read a routing benchmark: JSONL, one object per line with string fields
 * `query` and `domain` (others ignored, blank lines skipped). A malformed
 * line is an error naming the file and line. Free with
 * loco_route_items_free(). */
int loco_route_items_load(const char *path, struct loco_route_item **items, size_t *n);
void loco_route_items_free(struct loco_route_item *items, size_t n);

#define LOCO_ROUTE_ECE_BINS 10

struct loco_route_bench {
    size_t n, correct;
    double accuracy;
    /* labels: the router's domains, "base", then any other label the file uses */
    size_t n_labels;
    char labels[LOCO_ROUTE_MAX_DOMAINS + 8][LOCO_ROUTE_NAME_MAX];
    size_t confusion[LOCO_ROUTE_MAX_DOMAINS + 8][LOCO_ROUTE_MAX_DOMAINS + 8]; /* [true][chosen] */
    size_t support[LOCO_ROUTE_MAX_DOMAINS + 8];
    double precision[LOCO_ROUTE_MAX_DOMAINS + 8], recall[LOCO_ROUTE_MAX_DOMAINS + 8],
        f1[LOCO_ROUTE_MAX_DOMAINS + 8];
    double macro_f1;
    /* calibration of the confidence: expected calibration error over equal-width
     * bins, and each bin's count, mean confidence and accuracy */
    double ece;
    size_t bin_n[LOCO_ROUTE_ECE_BINS];
    double bin_conf[LOCO_ROUTE_ECE_BINS], bin_acc[LOCO_ROUTE_ECE_BINS];
    /* latency per query, milliseconds */
    double ms_mean, ms_p50, ms_p95, ms_max;
    double acc_lo, acc_hi; /* Wilson 95% interval of the accuracy */
};

/* Route every item and score the decisions. A label beyond the table's
 * room is LOCO_ERR_RANGE. */
int loco_route_bench_run(struct loco_router *r, const struct loco_route_item *items, size_t n,
                         struct loco_route_bench *out);
/* The result as JSON (top-level `accuracy` in [0, 1], per-label precision,
 * recall, f1 and support, the confusion matrix, `ece`, latency). malloc'd. */
char *loco_route_bench_json(const struct loco_route_bench *b, const char *router);

/* ---- the confidence wrapper ------------------------------------------------ */

/* "confidence:NAME" wraps router NAME: when its decision's confidence is
 * below `threshold`, or its top probability leads the next by less than
 * `margin`, the base model answers instead and the reason says so.
 * Thresholds per wrapped router live in LOCO_CONFIDENCE_FILE beside the
 * registry ($LOCO_ROUTER_CONFIDENCE overrides), written by `loco router
 * calibrate --router confidence:NAME`, which picks them on a development set
 * to minimise loco_confidence_cost; without the file: threshold 0.5,
 * margin 0. */
#define LOCO_CONFIDENCE_PREFIX "confidence:"
#define LOCO_CONFIDENCE_FILE "router-confidence.json"

struct loco_confidence {
    double threshold, margin;
};
struct loco_confidence loco_confidence_default(void);
int loco_confidence_path(const struct loco_registry *reg, char *buf, size_t cap);
/* The thresholds for wrapped router `inner` (defaults when the file has
 * none; from_file may be NULL). A malformed file is an error. */
int loco_confidence_get(const struct loco_registry *reg, const char *inner,
                        struct loco_confidence *out, bool *from_file);
/* Keep thresholds for `inner` (other routers' entries stay), atomically. */
int loco_confidence_set(const struct loco_registry *reg, const char *inner,
                        const struct loco_confidence *c, size_t n_dev, double cost);
/* Apply thresholds to a decision (a no-op for "base" decisions). */
void loco_confidence_apply(const struct loco_confidence *c, struct loco_route_decision *d);
/* Cost of choosing `chosen` for a query of domain `truth`: 0 when right,
 * 0.5 for the base model instead of a specialist, 1 for a wrong specialist. */
double loco_confidence_cost(const char *truth, const char *chosen);

/* Choosing the thresholds (what `loco router calibrate --router
 * confidence:NAME` runs): every pair of a threshold in {0, 0.05, ..., 0.95}
 * and a margin in {0, 0.05, 0.1, 0.2, 0.3} is applied to the wrapped
 * router's decisions; the pair with the lowest total loco_confidence_cost
 * wins (ties: the first, i.e. the lowest threshold, then margin). */
#define LOCO_CONFIDENCE_N_THRESHOLDS 20
#define LOCO_CONFIDENCE_N_MARGINS 5
#define LOCO_CONFIDENCE_N_PAIRS (LOCO_CONFIDENCE_N_THRESHOLDS * LOCO_CONFIDENCE_N_MARGINS)

/* One pair tried, and what it gives on the queries. */
struct loco_confidence_row {
    struct loco_confidence c;
    double cost;     /* per query */
    double accuracy; /* of the decisions after the thresholds */
    size_t to_base;  /* decisions the thresholds sent to the base model */
};

struct loco_confidence_search {
    size_t n;                      /* queries */
    struct loco_confidence best;   /* the chosen pair */
    double best_cost, base_cost;   /* per query: with it, and without the wrapper */
    double ece, base_ece;          /* expected calibration error: with it, without */
    /* every pair, threshold-major: rows[t * LOCO_CONFIDENCE_N_MARGINS + m] */
    struct loco_confidence_row rows[LOCO_CONFIDENCE_N_PAIRS];
};

/* Search the thresholds for decisions d[n] of the wrapped router on queries
 * whose true domains are items[i].domain. LOCO_ERR_INVALID when n is 0 or
 * an argument is NULL; LOCO_ERR_RANGE when the labels do not fit a
 * loco_route_bench (the ECE is computed as the routing benchmark does). */
int loco_confidence_search(const struct loco_route_decision *d,
                           const struct loco_route_item *items, size_t n,
                           struct loco_confidence_search *out);

/* ---- the classifier router (v3) ------------------------------------------------ */

/* A multinomial logistic regression over the labels (domains and "base")
 * with an L2 penalty, its probabilities divided by a temperature fitted on
 * held-out queries. What it reads of a query is in its file
 * (struct loco_route_features, loco/route-eval.h): hashed words, the keyword
 * router's view and, optionally, early-layer hidden states (format 2); a
 * format-1 file reads the mean over the query's tokens (the first
 * LOCO_ROUTER_EMBED_TOKENS) of the final hidden state (loco_router_embed).
 * Hidden-state columns are standardised with the training set's mean and
 * deviation. `loco router train` or `loco router loso --out` fits it and
 * writes LOCO_CLASSIFIER_FILE beside the registry (or
 * $LOCO_ROUTER_CLASSIFIER). */
#define LOCO_ROUTER_EMBED_TOKENS 256
#define LOCO_CLASSIFIER_FILE "router-classifier.json"
#define LOCO_CLASSIFIER_MAX_LABELS (LOCO_ROUTE_MAX_DOMAINS + 1)

/* The features of `query` into out[n_embd]. ctx: a context of the model
 * with n_ctx >= LOCO_ROUTER_EMBED_TOKENS; its sequence 0 is used and
 * cleared. */
int loco_router_embed(struct loco_context *ctx, const struct loco_model *m, const char *query,
                      float *out);

/* What the classifier reads of a query (include/loco/route-eval.h explains
 * each field and computes them). */
#define LOCO_FEATURES_MAX_LAYERS 8
struct loco_route_features {
    int32_t n_pool;                           /* layers pooled (0: no hidden states) */
    int32_t layers[LOCO_FEATURES_MAX_LAYERS]; /* residual after this many layers, ascending */
    int32_t head_tokens, tail_tokens;         /* tokens read: first and last */
    int32_t hash_dim;                         /* lexical buckets (0: none) */
    double lex_scale;                         /* length of the lexical part */
    bool lex_lead;                            /* words of the instruction lines only */
    int32_t n_keyword;                        /* keyword-router block (0: none) */
    double kw_scale;                          /* its weight */
};

struct loco_classifier {
    int32_t dim, n_labels;
    struct loco_route_features features; /* how a query becomes a row (file format 2) */
    int32_t n_dense; /* the first n_dense columns are standardised, the rest used as they are */
    char labels[LOCO_CLASSIFIER_MAX_LABELS][LOCO_ROUTE_NAME_MAX];
    float *mean, *std; /* [dim] standardisation */
    float *w;          /* [n_labels][dim] */
    float *b;          /* [n_labels] */
    double temperature; /* logits are divided by it (1 until calibrated) */
    char model_sha256[65]; /* the base model whose hidden states it reads */
    int64_t n_train;
    double train_accuracy;
};

struct loco_classifier_params {
    double l2;      /* penalty on the weights (features are standardised) */
    int32_t epochs; /* passes over the data (mini-batch Adam, a fixed shuffle) */
    double lr;      /* Adam step size */
    int32_t batch;  /* rows per step */
    bool balanced;  /* weigh each label's rows by n / (labels * its count) */
    int32_t n_dense; /* columns to standardise; -1: all */
    /* optional, per row of X: its source (>= 0). With balanced, each source
     * of a label weighs the same within it (a large dataset does not drown
     * the small hand-written ones). Borrowed for the call. */
    const int32_t *source;
};
struct loco_classifier_params loco_classifier_default_params(void);

/* Fit on n feature rows X[n][dim] with labels y[n] in [0, n_labels). The
 * result owns its arrays; free with loco_classifier_free(). */
int loco_classifier_fit(const float *X, const int32_t *y, size_t n, int32_t dim,
                        const char *const *labels, int32_t n_labels,
                        const struct loco_classifier_params *p, struct loco_classifier *out);
/* Probabilities over the labels for one feature row, into probs[n_labels]. */
void loco_classifier_probs(const struct loco_classifier *c, const float *x, double *probs);
/* The temperature that minimises the negative log-likelihood of labels y on
 * rows X (golden-section search over log T in [1/20, 20]); sets it in c. */
int loco_classifier_calibrate(struct loco_classifier *c, const float *X, const int32_t *y,
                              size_t n);
int loco_classifier_save(const struct loco_classifier *c, const char *path);
int loco_classifier_load(const char *path, struct loco_classifier *out);
void loco_classifier_free(struct loco_classifier *c);
/* Accuracy and expected calibration error (the routing benchmark's, over
 * LOCO_ROUTE_ECE_BINS bins) of c's top label on rows X[n][c->dim] with
 * labels y[n] in [0, c->n_labels). LOCO_ERR_INVALID for n 0 or a label out
 * of range. */
int loco_classifier_measure(const struct loco_classifier *c, const float *X, const int32_t *y,
                            size_t n, double *accuracy, double *ece);
/* The classifier file for a registry: $LOCO_ROUTER_CLASSIFIER, else
 * LOCO_CLASSIFIER_FILE in the registry file's folder. */
int loco_classifier_path(const struct loco_registry *reg, char *buf, size_t cap);

/* ---- the zero-shot router (Arrow) ------------------------------------------- */

/* Softmax temperature over |cos(hidden state, adapter direction)| in the
 * arrow router (src/router/arrow.c). */
#define LOCO_ARROW_TEMPERATURE 0.05

/* ---- the keyword router (v1) --------------------------------------------- */

/* The keyword router scores each domain by the keywords of its adapters
 * (registry: adapters[].router.keywords) found in the query (a match in the
 * query's instruction, its first line or a short last line, counts
 * LOCO_KEYWORD_LEAD_FACTOR times; a keyword written "+word" counts only when
 * the query holds a number), turns the scores and the score for "base" (a
 * fixed score plus its built-in cues: questions of fact, translation,
 * extraction) into probabilities with a softmax,
 * and applies the margin rule: the best domain must lead the second by
 * LOCO_KEYWORD_MARGIN score points, else the query is ambiguous and goes to
 * the base model. */
#define LOCO_KEYWORD_BASE_SCORE 1.0 /* what a domain must beat */
#define LOCO_KEYWORD_LEAD_FACTOR 2.0 /* weight of a match in the instruction */
#define LOCO_KEYWORD_LEAD_WORDS 60   /* the instruction: first line, at most this many words */
#define LOCO_KEYWORD_TAIL_WORDS 30   /* ... and a last line of at most this many words */
#define LOCO_KEYWORD_CUE_WEIGHT 0.5  /* a base cue weighs half a keyword */
/* A query whose instruction is a line of its own beside a text of at least
 * LOCO_KEYWORD_BODY_WORDS words (a pasted article, email, code): a match in
 * that text counts LOCO_KEYWORD_BODY_FACTOR times, so an article about
 * prices does not turn "Summarise this:" into a maths question. */
#define LOCO_KEYWORD_BODY_WORDS 40
#define LOCO_KEYWORD_BODY_FACTOR 0.25
#define LOCO_KEYWORD_SHARPNESS 1.5  /* softmax inverse temperature over scores */
#define LOCO_KEYWORD_MARGIN 0.5     /* half a keyword */

/* The keyword score of `query` for a list of keywords/phrases: each one
 * found (whole words, case-insensitive; a phrase as consecutive words)
 * adds 1 + 0.5 per extra word, times LOCO_KEYWORD_LEAD_FACTOR when it lies
 * in the first line. Exposed for tests and docs. */
double loco_keyword_score(const char *query, const char *const *keywords, size_t n);

#ifdef __cplusplus
}
#endif
#endif
