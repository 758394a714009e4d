/*
 * generate_internal.h - what the single-sequence loop (generate.c) and the
 * many-prompt loop (generate_many.c) share: the growing answer, token
 * pieces, and the batched prefill of a prompt.
 */
#ifndef LOCO_GENERATE_INTERNAL_H
#define LOCO_GENERATE_INTERNAL_H

#include "core/sbuf.h"
#include "loco/generate.h"

/* A growing answer: text, tokens and their log-probabilities. Start with
 * {0}; end with loco_gen_output_take or loco_gen_output_free. */
struct output {
    struct loco_sbuf text;
    int32_t *tokens;
    float *logprobs;
    int32_t n, token_cap;
};

int loco_gen_output_push(struct output *o, int32_t tok, float lp, const char *piece, size_t len);
/* Move the answer into res (text, tokens, logprobs, n_generated; text ""
 * when nothing was generated), leaving o empty; LOCO_ERR_NOMEM when the
 * text could not be finished (o is then freed). */
int loco_gen_output_take(struct output *o, struct loco_generate_result *res);
void loco_gen_output_free(struct output *o);

/* The bytes of token id (at most cap) and their count. */
int loco_gen_piece_of(const struct loco_tokenizer *tok, int32_t id, char *buf, size_t cap,
                      size_t *len);

/* Decode tokens[from, n) of sequence seq at positions from..n-1, in
 * n_batch chunks; the context holds logits for the last. */
int loco_gen_prefill(struct loco_context *ctx, int32_t seq, const int32_t *tokens, int32_t from,
                     int32_t n);

/* Decode tokens[0, n) of sequence seq at the positions after its cached
 * ones, in n_batch chunks; the context holds logits for the last. */
int loco_gen_feed(struct loco_context *ctx, int32_t seq, const int32_t *tokens, int32_t n);

/* calc (loco_generate_params.calc), for every decoder: token id (sampled,
 * not yet fed to sequence seq) may have opened "<<EXPR=" in o. Then the calculator's result tokens join the answer as if
 * sampled: accepted by smp, pushed to o with log-probability 0 and passed
 * to on_token when it is given (*stopped when it asks to stop). On return
 * *run (malloc'd, caller frees) holds what must be decoded before the next
 * step, id then every forced token but the last, *n_run their count, and
 * *last the last forced token, which takes id's place in the next step;
 * *n_run is 0 (and *run NULL) when nothing was forced. room: how many
 * tokens the answer may still take under max_tokens (the room left in
 * seq's context is taken into account here). */
int loco_gen_calc_force(const struct loco_context *ctx, int32_t seq,
                        const struct loco_tokenizer *tok, struct loco_sampler *smp,
                        struct output *o, int32_t room, int32_t id, loco_token_fn on_token,
                        void *user, bool *stopped, int32_t **run, int32_t *n_run, int32_t *last);

/* calc: decode a pending run (loco_gen_calc_force) on seq when `feed`,
 * then free it; *run and *n_run are cleared either way. */
int loco_gen_feed_pending(struct loco_context *ctx, int32_t seq, bool feed, int32_t **run,
                          int32_t *n_run);

/* Keep the longest cached prefix of the prompt on sequence seq (the rest
 * is forgotten); at least one prompt token is left to decode so that its
 * logits exist. Returns the number of positions kept. */
int32_t loco_gen_reuse_prefix(struct loco_context *ctx, int32_t seq, const int32_t *prompt,
                              size_t n_prompt);

#endif
