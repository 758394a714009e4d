/*
 * generate_internal.h - what the single-sequence loop (generate.c) and the
 * many-prompt loop (generate_many.c) share.
 */
#ifndef LOCO_GENERATE_INTERNAL_H
#define LOCO_GENERATE_INTERNAL_H

#include "loco/generate.h"

/* A growing answer: text, tokens and their log-probabilities. */
struct output {
    char *text;
    size_t len, cap;
    int32_t *tokens;
    float *logprobs;
    int32_t n, token_cap;
};

int output_push(struct output *o, int32_t tok, float lp, const char *piece, size_t len);
/* The bytes of token id (at most cap) and their count. */
int piece_of(const struct loco_tokenizer *tok, int32_t id, char *buf, size_t cap, size_t *len);

#endif
