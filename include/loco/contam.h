/*
 * loco/contam.h - contamination check: did an adapter's training data
 * contain the evaluation items?
 *
 * An index holds the training texts of one adapter as two hash sets: the
 * normalised texts themselves (exact matches) and every word 13-gram of them
 * (partial copies, the convention of the GPT-3 paper, Brown et al. 2020,
 * appendix C). Each evaluation item is then looked up: an exact-match flag,
 * how many of its 13-grams occur in the training data and what fraction.
 * Items at or above a threshold are reported as contaminated, and any
 * contaminated item fails the evaluation's contamination gate.
 *
 * Normalisation (loco_contam_normalize): ASCII letters lower-cased; every
 * character that is not a letter or digit becomes a space (ASCII
 * punctuation, Latin-1 symbols, Unicode punctuation, arrows, maths symbols,
 * CJK punctuation, invalid UTF-8); runs of spaces collapse to one; no
 * leading or trailing space. Non-ASCII letters are kept as they are.
 *
 * Sets store 64-bit hashes, not strings: the chance of a false hit is about
 * (n-grams indexed) x (n-grams queried) / 2^64, ~1e-9 for 10^6 x 10^4.
 * Build and query are linear in the text length; no pairwise scan.
 */
#ifndef LOCO_CONTAM_H
#define LOCO_CONTAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_CONTAM_NGRAM 13 /* words per n-gram by default */

/* Default threshold: an item is contaminated when it matches exactly or
 * when any one of its n-grams occurs in the training data. */
#define LOCO_CONTAM_DEFAULT_THRESHOLD 0.0

/* ---- normalisation ------------------------------------------------------ */

/* The normalised form of text (see the top of this file), malloc'd; the
 * caller frees it. NULL with an error set when out of memory. */
char *loco_contam_normalize(const char *text);

/* ---- the index of training texts ---------------------------------------- */

struct loco_contam_index; /* opaque */

/* An empty index of word n-grams of `ngram` words (0: LOCO_CONTAM_NGRAM;
 * at most 64). Free it with loco_contam_index_free. NULL on error. */
struct loco_contam_index *loco_contam_index_init(uint32_t ngram);
void loco_contam_index_free(struct loco_contam_index *ix);

/* Add one training text (borrowed for the call only). */
int loco_contam_index_add(struct loco_contam_index *ix, const char *text);

struct loco_model;

/* Add every text an adapter was trained on, read through its training
 * recipe (loco/trainrun.h: the recipe's data file, filters, offset, limit
 * and templates, tokenised with the base model `m` exactly as `loco train`
 * does): each example's user message and its response, the validation split
 * included. n_examples (may be NULL) receives the number of examples. A
 * recipe or data file that cannot be read is an error naming it. */
int loco_contam_index_add_recipe(struct loco_contam_index *ix, const char *recipe_path,
                                 const struct loco_model *m, size_t *n_examples);

/* Texts added, and distinct n-grams held. */
size_t loco_contam_index_texts(const struct loco_contam_index *ix);
size_t loco_contam_index_ngrams(const struct loco_contam_index *ix);

/* ---- querying evaluation items ------------------------------------------ */

struct loco_contam_hit {
    bool exact;      /* the normalised item equals a normalised training text */
    uint32_t ngrams; /* n-grams in the item (0 when it has fewer words than n) */
    uint32_t found;  /* of those, how many occur in the training data */
    double fraction; /* found / ngrams; 0 when ngrams = 0 */
};

int loco_contam_query(const struct loco_contam_index *ix, const char *text,
                      struct loco_contam_hit *out);

/* Whether a hit counts as contamination: exact, or found > 0 and
 * fraction >= threshold. */
bool loco_contam_is_contaminated(const struct loco_contam_hit *hit, double threshold);

struct loco_contam_report {
    size_t n_items;
    size_t n_exact;   /* items with an exact match */
    size_t n_overlap; /* items sharing at least one n-gram */
    size_t n_flagged; /* items contaminated at the threshold */
    double threshold;
    struct loco_contam_hit *hits; /* [n_items], owned by the report */
    size_t *flagged;              /* [n_flagged] item indices, ascending, owned */
    const char **flagged_ids;     /* [n_flagged] the caller's ids (borrowed: valid while
                                   * the ids passed in are), or NULL when no ids were given */
};

/* Query n items (texts[i], with optional ids[i]; ids may be NULL) and fill
 * a report; free it with loco_contam_report_free. threshold in [0, 1]. */
int loco_contam_check(const struct loco_contam_index *ix, const char *const *texts,
                      const char *const *ids, size_t n, double threshold,
                      struct loco_contam_report *out);
void loco_contam_report_free(struct loco_contam_report *r);

/* The contamination gate: passes only when no item was flagged. */
bool loco_contam_gate(const struct loco_contam_report *r);

#ifdef __cplusplus
}
#endif
#endif
