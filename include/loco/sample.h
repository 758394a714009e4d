/*
 * loco/sample.h - choosing the next token from logits.
 *
 * The chain follows llama.cpp's default order (docs/generation.md):
 * repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw.
 * A temperature <= 0 is greedy (ties go to the lowest id). Draws use a
 * seeded xoshiro256** generator, so a seed makes a run repeatable.
 */
#ifndef LOCO_SAMPLE_H
#define LOCO_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_SEED_RANDOM UINT64_MAX

struct loco_sampler_params {
    float temperature;    /* <= 0: greedy */
    int32_t top_k;        /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int32_t repeat_last_n;
    uint64_t seed;        /* LOCO_SEED_RANDOM: from the clock */
    /* when n_allowed > 0, only these tokens can be chosen (the others' logits
     * count as -infinity): a rating judge answers with a digit this way.
     * Borrowed: must outlive the sampler. */
    const int32_t *allowed;
    int32_t n_allowed;
};

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat 1.0 over 64, random seed */
struct loco_sampler_params loco_sampler_default_params(void);

struct loco_sampler; /* opaque */

/* NULL (message set) for n_vocab <= 0, a non-finite temperature, top_p,
 * min_p or repeat_penalty, a penalty <= 0, or an allowed count without a list. */
struct loco_sampler *loco_sampler_init(struct loco_sampler_params p, int32_t n_vocab);
void loco_sampler_free(struct loco_sampler *s);

/* Pick a token from logits[n_vocab]. When logprob is not NULL it receives
 * the token's log-probability under the model's own distribution
 * (log-softmax of the raw logits, before any sampling transform). The token
 * is NOT added to the penalty history; call loco_sampler_accept.
 * Non-finite logits are safe in every mode: NaN counts as -inf, and when
 * some logits are +inf only those tokens can be chosen (equally likely).
 * Returns LOCO_ERR_INVALID (negative, message set) when no candidate has a
 * logit above -inf, e.g. all NaN: a broken model or adapter. */
int32_t loco_sampler_sample(struct loco_sampler *s, const float *logits, float *logprob);

/* Record a token (prompt or generated) in the repetition-penalty history. */
void loco_sampler_accept(struct loco_sampler *s, int32_t token);
void loco_sampler_reset(struct loco_sampler *s);

/* log-softmax of logits[n] at index `id` (numerically stable). NaN counts
 * as -inf; +inf logits share the probability; -inf when nothing is usable. */
float loco_logprob(const float *logits, int32_t n, int32_t id);
/* Index of the largest logit, lowest id on ties; NaN never wins unless all
 * are NaN (then 0). */
int32_t loco_argmax(const float *logits, int32_t n);

#ifdef __cplusplus
}
#endif
#endif
