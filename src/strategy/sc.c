/*
 * sc.c - K sampled answers to one prompt for self-consistency (Wang et al.
 * 2023, "Self-Consistency Improves Chain of Thought Reasoning in Language
 * Models", arXiv:2203.11171), see loco_generate_sc in loco/strategy.h.
 *
 * The prompt is prefilled once, on sequence 0; its keys and values are then
 * copied to sequences 1..K-1 (loco_context_seq_copy), and all K sequences
 * decode together, one token each per loco_decode call, until each ends
 * (multi.c). The first token of every answer is sampled from the same
 * logits (the prompt's last), each sequence with its own sampler seeded
 * seed + i.
 *
 * Rows of a decode step never mix numerically (up to
 * LOCO_GENERATE_MAX_SLOTS rows, see loco_generate_many), so answer i is
 * exactly what loco_generate gives on a fresh sequence with seed + i: the
 * sharing saves the K - 1 prefills and turns K single-token decodes into
 * one K-row decode, which reads the weights once instead of K times.
 */
#include <stdlib.h>
#include <string.h>

#include "multi_internal.h"

/* Prefill once on sequence 0, fork it to 1..k-1 and take every answer's
 * first token from the prompt's logits. */
static int sc_start(struct loco_context *ctx, const struct loco_tokenizer *tok,
                    const int32_t *prompt, size_t n_prompt, const struct loco_generate_params *p,
                    struct multi *mu)
{
    double t0 = loco_time_ms();
    int32_t n_cached = loco_gen_reuse_prefix(ctx, 0, prompt, n_prompt);
    int rc = loco_gen_prefill(ctx, 0, prompt, n_cached, (int32_t)n_prompt);
    double t1 = loco_time_ms();
    for (int32_t i = 1; rc == LOCO_OK && i < mu->k; i++)
        rc = loco_context_seq_copy(ctx, 0, i, (int32_t)n_prompt);
    const float *logits = loco_context_logits(ctx, 0); /* the prompt's last token */
    for (int32_t i = 0; rc == LOCO_OK && i < mu->k; i++) {
        /* sequence 0 reused n_cached positions; the others share the whole
         * prompt through the copy; all share the one prefill's time */
        mu->seqs[i].n_cached = i == 0 ? n_cached : (int32_t)n_prompt;
        mu->seqs[i].t_start = t0;
        mu->seqs[i].t_prefilled = t1;
        rc = multi_first(ctx, tok, p, mu, i, logits);
    }
    return rc;
}

static int sc_check(const struct loco_context *ctx, const struct loco_tokenizer *tok,
                    const int32_t *prompt, size_t n_prompt, int32_t k,
                    const struct loco_generate_params *p, const struct loco_generate_result *res)
{
    if (!ctx || !tok || !prompt || n_prompt == 0 || !p || !res)
        return loco_error_set(LOCO_ERR_INVALID, "self-consistency: context, tokenizer, a "
                              "non-empty prompt, params and results are required");
    struct loco_context_params cp = loco_context_params(ctx);
    if (k < 1 || k > cp.n_seq)
        return loco_error_set(LOCO_ERR_INVALID, "self-consistency: %d answers need as many "
                              "sequences, and the context has %d (ask for n_seq >= k)", k,
                              cp.n_seq);
    if (n_prompt >= (size_t)cp.n_ctx)
        return loco_error_set(LOCO_ERR_RANGE, "the prompt has %zu tokens but the context holds "
                              "%d; shorten it or raise --ctx", n_prompt, cp.n_ctx);
    return LOCO_OK;
}

int loco_generate_sc(struct loco_context *ctx, const struct loco_tokenizer *tok,
                     const int32_t *prompt, size_t n_prompt, int32_t k,
                     const struct loco_generate_params *p, struct loco_generate_result *res)
{
    int rc = sc_check(ctx, tok, prompt, n_prompt, k, p, res);
    if (rc)
        return rc;
    memset(res, 0, (size_t)k * sizeof *res);
    struct multi mu;
    rc = multi_init(&mu, k, tok, prompt, n_prompt, p, 1);
    if (rc == LOCO_OK)
        rc = sc_start(ctx, tok, prompt, n_prompt, p, &mu);
    if (rc == LOCO_OK)
        rc = multi_run(ctx, tok, p, &mu);
    if (rc == LOCO_OK)
        rc = multi_collect(&mu, n_prompt, res);
    multi_free(&mu);
    return rc;
}
