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

#endif
