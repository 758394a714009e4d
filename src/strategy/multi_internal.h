/*
 * multi_internal.h - several answers decoded together, one per sequence of
 * a context: what self-consistency (sc.c: one prompt forked K times) and
 * the ensemble (ensemble.c: the prompt under each member's adapters) share.
 * Private to src/strategy.
 *
 * Each answer lives on sequence i of the context (i = 0..k-1). The caller
 * prefills every sequence and gives each its first token with multi_first
 * (from the logits its prefill left); multi_run then decodes every running
 * sequence one token per loco_decode call until all have ended, and
 * multi_collect moves the answers out. Rows of a decode step never mix
 * numerically (up to LOCO_GENERATE_MAX_SLOTS rows, loco_generate_many), so
 * answer i is exactly the one loco_generate gives alone on sequence i's
 * prompt, adapters and seed.
 */
#ifndef LOCO_STRATEGY_MULTI_INTERNAL_H
#define LOCO_STRATEGY_MULTI_INTERNAL_H

#include "loco/strategy.h"
#include "model/generate_internal.h"

/* One of the answers being decoded. */
struct multi_seq {
    struct loco_sampler *smp;
    struct output out;
    int32_t next; /* token to feed at the next step */
    int32_t *run; /* calc: tokens to feed before `next`, alone (malloc'd) */
    int32_t n_run;
    bool running;
    enum loco_stop_reason stop;
    int32_t n_cached;               /* prompt positions reused from the cache */
    double t_start, t_prefilled, t_end; /* its prefill began, ended; it finished */
};

/* The answers and the step buffers (k entries each). */
struct multi {
    struct multi_seq *seqs;
    int32_t k;
    int32_t *ids, *pos, *seq_of;
    bool *want;
};

/* Allocate for k answers, each with a sampler of p->sampling seeded
 * seed + i * seed_step (sc: 1, every answer its own; ensemble: 0, each
 * member's as alone) that has seen the prompt (the repetition penalty).
 * Free with multi_free, also after a failure. */
int multi_init(struct multi *mu, int32_t k, const struct loco_tokenizer *tok,
               const int32_t *prompt, size_t n_prompt, const struct loco_generate_params *p,
               uint64_t seed_step);
void multi_free(struct multi *mu);

/* Start answer i: its first token sampled from `logits` (its prompt's
 * last), under loco_generate's rules. */
int multi_first(struct loco_context *ctx, const struct loco_tokenizer *tok,
                const struct loco_generate_params *p, struct multi *mu, int32_t i,
                const float *logits);

/* Decode every running answer together until all have ended. */
int multi_run(struct loco_context *ctx, const struct loco_tokenizer *tok,
              const struct loco_generate_params *p, struct multi *mu);

/* Move answer i into res[i] (n_prompt, the seq's n_cached and times); on
 * failure every res is freed. */
int multi_collect(struct multi *mu, size_t n_prompt, struct loco_generate_result *res);

#endif
