/*
 * sc.c - K sampled answers to one prompt for self-consistency (Wang et al.
 * 2023, "Self-Consistency Improves Chain of Thought Reasoning in Language
 * Models", arXiv:2203.11171), see loco_generate_sc in loco/strategy.h.
 *
 * The prompt is prefilled once, on sequence 0; its keys and values are then
 * copied to sequences 1..K-1 (loco_context_seq_copy), and all K sequences
 * decode together, one token each per loco_decode call, until each ends.
 * The first token of every answer is sampled from the same logits (the
 * prompt's last), each sequence with its own sampler seeded seed + i.
 *
 * Rows of a decode step never mix numerically (up to
 * LOCO_GENERATE_MAX_SLOTS rows, see loco_generate_many), so answer i is
 * exactly what loco_generate gives on a fresh sequence with seed + i: the
 * sharing saves the K - 1 prefills and turns K single-token decodes into
 * one K-row decode, which reads the weights once instead of K times.
 *
 * With p->calc each answer gets the calculator as in loco_generate: a result
 * forced into answer i is fed on sequence i in a decode call of its own
 * before the next shared step, so the answers stay loco_generate's.
 */
#include <stdlib.h>
#include <string.h>

#include "loco/strategy.h"
#include "model/generate_internal.h"

/* One of the K answers being decoded. */
struct sc_seq {
    struct loco_sampler *smp;
    struct output out;
    int32_t next; /* token to feed at the next step */
    int32_t *run; /* calc: tokens to feed before `next`, alone (malloc'd) */
    int32_t n_run;
    bool running;
    enum loco_stop_reason stop;
    double t_end; /* when it finished */
};

/* calc (p->calc): the answer may have opened "<<EXPR=" with token id, not
 * yet fed. The forced run waits in s->run to be fed alone before the next
 * shared step, as loco_generate feeds it; the last forced token becomes
 * s->next. */
static int force_calc(struct loco_context *ctx, const struct loco_tokenizer *tok,
                      const struct loco_generate_params *p, struct sc_seq *s, int32_t seq,
                      int32_t id)
{
    bool stopped = false;
    return loco_gen_calc_force(ctx, seq, tok, s->smp, &s->out, p->max_tokens - s->out.n, id, NULL,
                               NULL, &stopped, &s->run, &s->n_run, &s->next);
}

/* calc: feed the pending run of every running answer, each in decode
 * calls of its own (an answer that has finished drops its run). */
static int feed_runs(struct loco_context *ctx, struct sc_seq *seqs, int32_t k)
{
    int rc = LOCO_OK;
    for (int32_t i = 0; i < k && rc == LOCO_OK; i++)
        rc = loco_gen_feed_pending(ctx, i, seqs[i].running, &seqs[i].run, &seqs[i].n_run);
    return rc;
}

static void seq_finish(struct sc_seq *s, enum loco_stop_reason stop)
{
    s->running = false;
    s->stop = stop;
    s->t_end = loco_time_ms();
}

/* Sample the next token of sequence `seq` from `logits` and apply
 * loco_generate's rules in its order: end of generation, the calculator,
 * max_tokens, a full context. A negative status is fatal for the whole
 * call. */
static int sc_step(struct loco_context *ctx, const struct loco_tokenizer *tok,
                   const struct loco_generate_params *p, struct sc_seq *s, int32_t seq,
                   const float *logits)
{
    char piece[256];
    float lp = 0.0f;
    int32_t id = loco_sampler_sample(s->smp, logits, &lp);
    if (id < 0)
        return id; /* no usable logit (all NaN) */
    if (loco_tokenizer_is_eog(tok, id)) {
        seq_finish(s, LOCO_STOP_EOG);
        return LOCO_OK;
    }
    loco_sampler_accept(s->smp, id);
    size_t len = 0;
    int rc = loco_gen_piece_of(tok, id, piece, sizeof piece, &len);
    if (rc || (rc = loco_gen_output_push(&s->out, id, lp, piece, len)))
        return rc;
    s->next = id;
    if (p->calc && (rc = force_calc(ctx, tok, p, s, seq, id)))
        return rc;
    if (s->out.n >= p->max_tokens)
        seq_finish(s, LOCO_STOP_MAX_TOKENS);
    else if (loco_context_seq_len(ctx, seq) >= loco_context_params(ctx).n_ctx)
        seq_finish(s, LOCO_STOP_CONTEXT);
    return LOCO_OK;
}

/* One shared decode step: the next token of every running sequence. The
 * step buffers hold k entries each. */
static int sc_decode_step(struct loco_context *ctx, const struct loco_tokenizer *tok,
                          const struct loco_generate_params *p, struct sc_seq *seqs, int32_t k,
                          int32_t *ids, int32_t *pos, int32_t *seq_of, bool *want)
{
    int rc = feed_runs(ctx, seqs, k);
    int32_t n = 0;
    for (int32_t i = 0; rc == LOCO_OK && i < k; i++) {
        if (!seqs[i].running)
            continue;
        ids[n] = seqs[i].next;
        pos[n] = loco_context_seq_len(ctx, i);
        seq_of[n] = i;
        want[n] = true;
        n++;
    }
    struct loco_batch b = {.n = n, .tokens = ids, .pos = pos, .seq = seq_of, .want_logits = want};
    if (rc == LOCO_OK)
        rc = loco_decode(ctx, &b);
    for (int32_t r = 0; rc == LOCO_OK && r < n; r++)
        rc = sc_step(ctx, tok, p, &seqs[seq_of[r]], seq_of[r], loco_context_logits(ctx, r));
    return rc;
}

static bool any_running(const struct sc_seq *seqs, int32_t k)
{
    for (int32_t i = 0; i < k; i++)
        if (seqs[i].running)
            return true;
    return false;
}

/* Samplers seeded seed + i, each having seen the prompt (for the
 * repetition penalty), as loco_generate's would. */
static int sc_samplers(struct sc_seq *seqs, int32_t k, const struct loco_tokenizer *tok,
                       const int32_t *prompt, size_t n_prompt,
                       const struct loco_generate_params *p)
{
    for (int32_t i = 0; i < k; i++) {
        struct loco_sampler_params sp = p->sampling;
        sp.seed = p->sampling.seed + (uint64_t)i;
        seqs[i].smp = loco_sampler_init(sp, loco_tokenizer_n_vocab(tok));
        if (!seqs[i].smp)
            return LOCO_ERR_NOMEM;
        for (size_t t = 0; t < n_prompt; t++)
            loco_sampler_accept(seqs[i].smp, prompt[t]);
    }
    return LOCO_OK;
}

/* Prefill once on sequence 0, fork it to 1..k-1 and take every answer's
 * first token from the prompt's logits; *n_cached gets the prefix reused on
 * sequence 0, *t_prefilled when the prefill ended. */
static int sc_start(struct loco_context *ctx, const struct loco_tokenizer *tok,
                    const int32_t *prompt, size_t n_prompt, const struct loco_generate_params *p,
                    struct sc_seq *seqs, int32_t k, int32_t *n_cached, double *t_prefilled)
{
    *n_cached = loco_gen_reuse_prefix(ctx, 0, prompt, n_prompt);
    int rc = loco_gen_prefill(ctx, 0, prompt, *n_cached, (int32_t)n_prompt);
    *t_prefilled = loco_time_ms();
    for (int32_t i = 1; rc == LOCO_OK && i < k; i++)
        rc = loco_context_seq_copy(ctx, 0, i, (int32_t)n_prompt);
    const float *logits = loco_context_logits(ctx, 0); /* the prompt's last token */
    for (int32_t i = 0; rc == LOCO_OK && i < k; i++) {
        seqs[i].running = true;
        if (p->max_tokens <= 0)
            seq_finish(&seqs[i], LOCO_STOP_MAX_TOKENS);
        else
            rc = sc_step(ctx, tok, p, &seqs[i], i, logits);
    }
    return rc;
}

/* Move each answer into res[i]; on failure every res is freed. */
static int sc_collect(struct sc_seq *seqs, int32_t k, size_t n_prompt, int32_t n_cached,
                      double t0, double t1, struct loco_generate_result *res)
{
    int rc = LOCO_OK;
    for (int32_t i = 0; i < k; i++) {
        res[i].n_prompt = (int32_t)n_prompt;
        /* sequence 0 reused n_cached positions; the others share the whole
         * prompt through the copy */
        res[i].n_cached = i == 0 ? n_cached : (int32_t)n_prompt;
        res[i].prompt_ms = t1 - t0;
        res[i].generate_ms = seqs[i].t_end - t1;
        res[i].stop = seqs[i].stop;
        if (rc == LOCO_OK)
            rc = loco_gen_output_take(&seqs[i].out, &res[i]);
    }
    if (rc)
        for (int32_t i = 0; i < k; i++)
            loco_generate_result_free(&res[i]);
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
    struct sc_seq *seqs = calloc((size_t)k, sizeof *seqs);
    int32_t *ids = malloc((size_t)k * sizeof *ids), *pos = malloc((size_t)k * sizeof *pos);
    int32_t *seq_of = malloc((size_t)k * sizeof *seq_of);
    bool *want = malloc((size_t)k * sizeof *want);
    rc = seqs && ids && pos && seq_of && want ? LOCO_OK
                                              : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (rc == LOCO_OK)
        rc = sc_samplers(seqs, k, tok, prompt, n_prompt, p);
    double t0 = loco_time_ms(), t1 = t0;
    int32_t n_cached = 0;
    if (rc == LOCO_OK)
        rc = sc_start(ctx, tok, prompt, n_prompt, p, seqs, k, &n_cached, &t1);
    while (rc == LOCO_OK && any_running(seqs, k))
        rc = sc_decode_step(ctx, tok, p, seqs, k, ids, pos, seq_of, want);
    if (rc == LOCO_OK)
        rc = sc_collect(seqs, k, n_prompt, n_cached, t0, t1, res);
    for (int32_t i = 0; seqs && i < k; i++) {
        loco_sampler_free(seqs[i].smp);
        loco_gen_output_free(&seqs[i].out);
        free(seqs[i].run);
    }
    free(seqs);
    free(ids);
    free(pos);
    free(seq_of);
    free(want);
    return rc;
}
