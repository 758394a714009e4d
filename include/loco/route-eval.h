/*
 * loco/route-eval.h - what the classifier router reads of a query, and how
 * routers are measured on sources they have never seen.
 *
 * Features. A query's features are (1) early-exit hidden states of the base
 * model: only the model's first n_layers run, on the query's first
 * head_tokens and last tail_tokens tokens (a request at the end of a pasted
 * text is still read), and for every layer l in `layers` the residual after
 * l layers, normalised, is pooled over the tokens (mean) and at the last
 * token; then (2) hashed lexical features: lower-cased words and word pairs,
 * and the words of the instruction (the first line, at most 60 words) once
 * more under their own hash, each present one counting 1, scaled to length
 * lex_scale, in hash_dim buckets (with lex_lead, only the words of the
 * instruction lines count: the first line, and the last when the query has
 * several lines and the last is short; the words of a pasted text between
 * them are not read); then (3) the keyword router's view (when
 * n_keyword > 0): its probability for each of the registry's domains and
 * "base", and its decision one-hot, times kw_scale (n_keyword = 2 x (domains
 * + 1)). Part (1) is standardised by the classifier; (2) and (3) are used as
 * they are.
 *
 * Measuring. Leave-one-source-out (LOSO): every source of a labelled pool
 * is held out in turn, a router is trained on the other sources and scored
 * on it; the held-out decisions of all sources together give the pooled
 * figure. Beside it, the in-pool figure: random k-fold over the same pool.
 * Accuracies come with Wilson 95% intervals.
 */
#ifndef LOCO_ROUTE_EVAL_H
#define LOCO_ROUTE_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- features ---------------------------------------------------------------- */

/* struct loco_route_features is declared in loco/router.h (the classifier keeps one). */

/* The shipped choice (docs/routers.md, "The classifier"). */
struct loco_route_features loco_route_features_default(void);
/* Dense (hidden-state) dimensions: n_pool * 2 * n_embd. */
int32_t loco_route_features_dense(const struct loco_route_features *f, int32_t n_embd);
/* All dimensions: dense + hash_dim + n_keyword. */
int32_t loco_route_features_dim(const struct loco_route_features *f, int32_t n_embd);
/* Parse "3,6" into layers (ascending, 1..n_layer, at most the max);
 * LOCO_ERR_INVALID with a message otherwise. n_layer 0: not checked. */
int loco_route_features_parse_layers(struct loco_route_features *f, const char *text,
                                     int32_t n_layer);

/* The lexical part of `query` as f says (hash_dim, lex_scale, lex_lead)
 * into out[f->hash_dim] (overwritten). */
void loco_route_lexical(const char *query, const struct loco_route_features *f, float *out);

/* Computes the hidden-state part: owns a context of the model. */
struct loco_route_featurizer;
/* `m` and `reg` are borrowed and must outlive it; reg is needed when
 * f->n_keyword > 0 (it must be 2 x (the registry's domains + 1)). NULL with a
 * message on failure. n_threads 0: the default. */
struct loco_route_featurizer *loco_route_featurizer_init(const struct loco_model *m,
                                                         const struct loco_registry *reg,
                                                         const struct loco_route_features *f,
                                                         int32_t n_threads);
/* n_keyword for a registry: 2 x (its domains + 1). */
int32_t loco_route_features_keyword_dims(const struct loco_registry *reg);
void loco_route_featurizer_free(struct loco_route_featurizer *z);
/* Every feature of `query` into out[loco_route_features_dim]. */
int loco_route_featurize(struct loco_route_featurizer *z, const char *query, float *out);

/* ---- scores with intervals ------------------------------------------------------- */

struct loco_interval {
    double lo, hi;
};
/* Wilson score interval for k successes in n at normal quantile z (1.96:
 * 95%). n 0: [0, 1]. */
struct loco_interval loco_wilson(size_t k, size_t n, double z);

/* Add one decision to a routing benchmark (labels are added as they come;
 * ms may be 0); LOCO_ERR_RANGE when a label does not fit. Call
 * loco_route_bench_finish once after the last one. */
int loco_route_bench_add(struct loco_route_bench *b, const char *truth, const char *chosen,
                         double confidence, double ms);
/* Accuracy and its Wilson interval, precision/recall/F1, macro F1 and ECE
 * from what was added (latency percentiles: loco_route_bench_run). */
void loco_route_bench_finish(struct loco_route_bench *b);

/* ---- leave-one-source-out ---------------------------------------------------------- */

#define LOCO_EVAL_MAX_SOURCES 64

struct loco_route_source_score {
    char name[96];
    size_t n, correct;
    double accuracy;
    struct loco_interval ci;
};

/* One protocol's result: each source's held-out accuracy, and every held-out
 * decision pooled. */
struct loco_route_eval {
    size_t n_sources;
    struct loco_route_source_score src[LOCO_EVAL_MAX_SOURCES];
    struct loco_route_bench all;
};

/* Add a held-out decision of an item from `source`. */
int loco_route_eval_add(struct loco_route_eval *e, const char *source, const char *truth,
                        const char *chosen, double confidence);
void loco_route_eval_finish(struct loco_route_eval *e);
/* As JSON: `protocol`, `router`, the pooled bench (accuracy, ci, macro_f1,
 * per_domain, confusion, ece) and `sources` [{name, n, correct, accuracy,
 * lo, hi}]. malloc'd. */
char *loco_route_eval_json(const struct loco_route_eval *e, const char *protocol,
                           const char *router);

/* Fold of every item for k-fold cross-validation: a seeded shuffle dealt
 * round robin, so fold sizes differ by at most one. k >= 2. */
void loco_route_folds(size_t n, int32_t k, uint64_t seed, int32_t *fold);

/* Group cross-validation of the classifier: for each group g in
 * [0, n_groups), fit on the rows whose group is not g and write the logits
 * (before any temperature) of the rows in g into logits[n][n_labels]. A
 * group with no rows is skipped; one holding every row is an error (nothing
 * to train on). X[n][dim]; the first n_dense columns are standardised. */
int loco_route_crossval(const float *X, const int32_t *y, const int32_t *group, size_t n,
                        int32_t dim, int32_t n_groups, int32_t n_labels,
                        const struct loco_classifier_params *p, double *logits);

/* The temperature for each group's rows fitted on the other groups'
 * held-out logits (no group's calibration sees its own rows) into t[n_groups];
 * and, in *t_all, the one fitted on every row (what a shipped classifier
 * keeps). Golden-section search over log T in [1/20, 20]. */
void loco_route_temperatures(const double *logits, const int32_t *y, const int32_t *group, size_t n,
                             int32_t n_labels, int32_t n_groups, double *t, double *t_all);

#ifdef __cplusplus
}
#endif
#endif
