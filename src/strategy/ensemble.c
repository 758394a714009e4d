/*
 * ensemble.c - a domain's adapters each answer the same prompt, decoded as
 * one batch with mixed adapters, for a vote (see loco_generate_ensemble in
 * loco/strategy.h and docs/strategies.md).
 *
 * Member i answers on sequence i of the context, under its own adapter set
 * (loco_context_set_adapters). A LoRA delta changes the keys and values of
 * every layer, so the prompt's cache cannot be shared between members as
 * self-consistency shares it: each member prefills on its own sequence,
 * keeping whatever prefix that sequence already holds under the same set.
 * Then the members decode together (multi.c): one loco_decode call per
 * step, each row through its own sequence's adapters, so the weights of
 * the base model are read once per step for all members instead of once
 * per member. Rows never mix numerically, so each member's answer is the
 * one it gives alone.
 */
#include <stdlib.h>
#include <string.h>

#include "multi_internal.h"

static int ensemble_check(const struct loco_context *ctx, const struct loco_tokenizer *tok,
                          const int32_t *prompt, size_t n_prompt,
                          const struct loco_ensemble_member *members, int32_t n,
                          const struct loco_generate_params *p,
                          const struct loco_generate_result *res)
{
    if (!ctx || !tok || !prompt || n_prompt == 0 || !members || !p || !res)
        return loco_error_set(LOCO_ERR_INVALID, "ensemble: context, tokenizer, a non-empty "
                              "prompt, members, params and results are required");
    struct loco_context_params cp = loco_context_params(ctx);
    if (n < 1 || n > cp.n_seq || n > LOCO_GENERATE_MAX_SLOTS)
        return loco_error_set(LOCO_ERR_INVALID, "ensemble: %d members need as many sequences "
                              "(the context has %d; at most %d members)", n, cp.n_seq,
                              LOCO_GENERATE_MAX_SLOTS);
    for (int32_t i = 0; i < n; i++)
        if (members[i].n_set < 0 || (members[i].n_set > 0 && !members[i].set))
            return loco_error_set(LOCO_ERR_INVALID, "ensemble: member %d has no adapter set "
                                  "(n_set 0 for the base model)", i);
    if (n_prompt >= (size_t)cp.n_ctx)
        return loco_error_set(LOCO_ERR_RANGE, "the prompt has %zu tokens but the context holds "
                              "%d; shorten it or raise --ctx", n_prompt, cp.n_ctx);
    return LOCO_OK;
}

/* Member i: its adapters on sequence i, its prefill (after the cached
 * prefix), its first token from the logits the prefill left. */
static int member_start(struct loco_context *ctx, const struct loco_tokenizer *tok,
                        const int32_t *prompt, size_t n_prompt,
                        const struct loco_ensemble_member *m, const struct loco_generate_params *p,
                        struct multi *mu, int32_t i)
{
    struct multi_seq *s = &mu->seqs[i];
    s->t_start = loco_time_ms();
    int rc = loco_context_set_adapters(ctx, i, m->set, m->n_set);
    if (rc)
        return rc;
    s->n_cached = loco_gen_reuse_prefix(ctx, i, prompt, n_prompt);
    rc = loco_gen_prefill(ctx, i, prompt, s->n_cached, (int32_t)n_prompt);
    s->t_prefilled = loco_time_ms();
    return rc ? rc : multi_first(ctx, tok, p, mu, i, loco_context_logits(ctx, 0));
}

int loco_generate_ensemble(struct loco_context *ctx, const struct loco_tokenizer *tok,
                           const int32_t *prompt, size_t n_prompt,
                           const struct loco_ensemble_member *members, int32_t n,
                           const struct loco_generate_params *p, struct loco_generate_result *res)
{
    int rc = ensemble_check(ctx, tok, prompt, n_prompt, members, n, p, res);
    if (rc)
        return rc;
    memset(res, 0, (size_t)n * sizeof *res);
    struct multi mu;
    rc = multi_init(&mu, n, tok, prompt, n_prompt, p, 0); /* each member's seed as alone */
    for (int32_t i = 0; rc == LOCO_OK && i < n; i++)
        rc = member_start(ctx, tok, prompt, n_prompt, &members[i], p, &mu, i);
    if (rc == LOCO_OK)
        rc = multi_run(ctx, tok, p, &mu);
    if (rc == LOCO_OK)
        rc = multi_collect(&mu, n_prompt, res);
    multi_free(&mu);
    return rc;
}
