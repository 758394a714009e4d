/*
 * loco/perplexity.h - perplexity of a model on a text, chunked the way
 * llama.cpp's llama-perplexity does it, so the two tools' figures for the
 * same GGUF and text can be compared (docs/perplexity.md).
 *
 * The text's tokens (BOS first when the vocabulary asks for one) are cut
 * into chunks of n_ctx tokens; a remainder shorter than n_ctx is dropped.
 * Each chunk is evaluated from an empty cache, its first token replaced by
 * BOS when the vocabulary adds one. Only the second half is scored: with
 * first = n_ctx / 2, the logits at positions first .. n_ctx - 2 predict the
 * tokens at first + 1 .. n_ctx - 1, so a chunk contributes n_ctx - 1 - first
 * negative log-likelihoods. PPL = exp(mean NLL); its uncertainty is
 * PPL * sqrt(var(NLL) / (count - 1)), var the population variance.
 */
#ifndef LOCO_PERPLEXITY_H
#define LOCO_PERPLEXITY_H

#include <stddef.h>
#include <stdint.h>

#include "loco/model.h"
#include "loco/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct loco_perplexity_params {
    int32_t n_ctx;    /* tokens per chunk, even, >= 4 (default 512) */
    int32_t n_chunks; /* at most this many chunks; 0 = every whole chunk */
};

struct loco_perplexity_params loco_perplexity_default_params(void);

struct loco_perplexity_result {
    int32_t n_tokens; /* tokens of the text */
    int32_t n_chunks; /* chunks evaluated */
    int64_t n_scored; /* negative log-likelihoods averaged */
    double nll;       /* their mean */
    double ppl;       /* exp(nll) */
    double ppl_error; /* PPL * standard error of the mean NLL (0 for one score) */
    double ms;        /* wall time of the evaluation (tokenizing excluded) */
};

/* Called after each chunk with the running estimate (chunk counts from 1,
 * of n_chunks); return nonzero to stop early (the result then covers the
 * chunks done). May be NULL. */
typedef int (*loco_perplexity_progress)(void *user, int32_t chunk, int32_t n_chunks,
                                        double ppl_so_far);

/* The perplexity of model m (ctx a context of m) on tokens[n] (already
 * tokenized, BOS included as the vocabulary asks: loco_perplexity_text does
 * that). ctx needs n_ctx >= p.n_ctx; its sequence 0 is cleared and used,
 * with the adapters set on it. LOCO_ERR_INVALID for bad params or a token
 * id outside the model's vocabulary, LOCO_ERR_RANGE when the text has fewer
 * than 2 * p.n_ctx tokens (llama-perplexity's rule) or the chunk does not
 * fit the context. */
int loco_perplexity_tokens(struct loco_context *ctx, const struct loco_model *m,
                           const int32_t *tokens, size_t n, struct loco_perplexity_params p,
                           loco_perplexity_progress progress, void *user,
                           struct loco_perplexity_result *out);

/* The same from text, tokenized with m's vocabulary and its BOS rule,
 * special tokens written in the text not parsed (plain text, as
 * llama-perplexity). LOCO_ERR_INVALID when m has no tokenizer. */
int loco_perplexity_text(struct loco_context *ctx, const struct loco_model *m,
                         const char *text, size_t len, struct loco_perplexity_params p,
                         loco_perplexity_progress progress, void *user,
                         struct loco_perplexity_result *out);

/* The same from the text file at path ("/dev/stdin" for standard input;
 * any other path that is not a regular file is refused, never waited on),
 * read whole, 1 GiB at most. */
int loco_perplexity_file(struct loco_context *ctx, const struct loco_model *m, const char *path,
                         struct loco_perplexity_params p, loco_perplexity_progress progress,
                         void *user, struct loco_perplexity_result *out);

#ifdef __cplusplus
}
#endif
#endif
