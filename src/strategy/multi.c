/*
 * multi.c - several answers decoded together, one per sequence (see
 * multi_internal.h): the decoding loop of self-consistency (sc.c) and of
 * the ensemble (ensemble.c).
 *
 * Every step feeds the next token of every running answer in one
 * loco_decode call, which reads the weights once for all of them. With
 * p->calc an answer gets the calculator as in loco_generate: a result
 * forced into answer i is fed on sequence i in a decode call of its own
 * before the next shared step, so the answers stay loco_generate's.
 */
#include <stdlib.h>
#include <string.h>

#include "multi_internal.h"

int multi_init(struct multi *mu, int32_t k, const struct loco_tokenizer *tok,
               const int32_t *prompt, size_t n_prompt, const struct loco_generate_params *p,
               uint64_t seed_step)
{
    *mu = (struct multi){.k = k};
    mu->seqs = calloc((size_t)k, sizeof *mu->seqs);
    mu->ids = malloc((size_t)k * sizeof *mu->ids);
    mu->pos = malloc((size_t)k * sizeof *mu->pos);
    mu->seq_of = malloc((size_t)k * sizeof *mu->seq_of);
    mu->want = malloc((size_t)k * sizeof *mu->want);
    if (!mu->seqs || !mu->ids || !mu->pos || !mu->seq_of || !mu->want)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < k; i++) {
        struct loco_sampler_params sp = p->sampling;
        sp.seed = p->sampling.seed + (uint64_t)i * seed_step;
        mu->seqs[i].smp = loco_sampler_init(sp, loco_tokenizer_n_vocab(tok));
        if (!mu->seqs[i].smp)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        for (size_t t = 0; t < n_prompt; t++)
            loco_sampler_accept(mu->seqs[i].smp, prompt[t]);
    }
    return LOCO_OK;
}

void multi_free(struct multi *mu)
{
    for (int32_t i = 0; mu->seqs && i < mu->k; i++) {
        loco_sampler_free(mu->seqs[i].smp);
        loco_gen_output_free(&mu->seqs[i].out);
        free(mu->seqs[i].run);
    }
    free(mu->seqs);
    free(mu->ids);
    free(mu->pos);
    free(mu->seq_of);
    free(mu->want);
    *mu = (struct multi){0};
}

/* calc (p->calc): the answer may have opened "<<EXPR=" with token id, not
 * yet fed. The forced run waits in s->run to be fed alone before the next
 * shared step, as loco_generate feeds it; the last forced token becomes
 * s->next. */
static int force_calc(struct loco_context *ctx, const struct loco_tokenizer *tok,
                      const struct loco_generate_params *p, struct multi_seq *s, int32_t seq,
                      int32_t id)
{
    bool stopped = false;
    return loco_gen_calc_force(ctx, seq, tok, s->smp, &s->out, p->max_tokens - s->out.n, id, NULL,
                               NULL, &stopped, &s->run, &s->n_run, &s->next);
}

static void seq_finish(struct multi_seq *s, enum loco_stop_reason stop)
{
    s->running = false;
    s->stop = stop;
    s->t_end = loco_time_ms();
}

/* Sample the next token of sequence `seq` from `logits` and apply
 * loco_generate's rules in its order: end of generation, the calculator,
 * max_tokens, a full context. A negative status is fatal for the whole
 * call. */
static int step(struct loco_context *ctx, const struct loco_tokenizer *tok,
                const struct loco_generate_params *p, struct multi_seq *s, int32_t seq,
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

int multi_first(struct loco_context *ctx, const struct loco_tokenizer *tok,
                const struct loco_generate_params *p, struct multi *mu, int32_t i,
                const float *logits)
{
    struct multi_seq *s = &mu->seqs[i];
    s->running = true;
    if (p->max_tokens <= 0) {
        seq_finish(s, LOCO_STOP_MAX_TOKENS);
        return LOCO_OK;
    }
    return step(ctx, tok, p, s, i, logits);
}

/* calc: feed the pending run of every running answer, each in decode
 * calls of its own (an answer that has finished drops its run). */
static int feed_runs(struct loco_context *ctx, struct multi *mu)
{
    int rc = LOCO_OK;
    for (int32_t i = 0; i < mu->k && rc == LOCO_OK; i++)
        rc = loco_gen_feed_pending(ctx, i, mu->seqs[i].running, &mu->seqs[i].run,
                                   &mu->seqs[i].n_run);
    return rc;
}

/* One shared decode step: the next token of every running sequence; *n
 * the number of rows (0: none was running). */
static int decode_step(struct loco_context *ctx, const struct loco_tokenizer *tok,
                       const struct loco_generate_params *p, struct multi *mu, int32_t *n)
{
    int rc = feed_runs(ctx, mu);
    *n = 0;
    for (int32_t i = 0; rc == LOCO_OK && i < mu->k; i++) {
        if (!mu->seqs[i].running)
            continue;
        mu->ids[*n] = mu->seqs[i].next;
        mu->pos[*n] = loco_context_seq_len(ctx, i);
        mu->seq_of[*n] = i;
        mu->want[*n] = true;
        (*n)++;
    }
    if (rc || *n == 0)
        return rc;
    struct loco_batch b = {
        .n = *n, .tokens = mu->ids, .pos = mu->pos, .seq = mu->seq_of, .want_logits = mu->want};
    rc = loco_decode(ctx, &b);
    for (int32_t r = 0; rc == LOCO_OK && r < *n; r++) {
        int32_t i = mu->seq_of[r];
        rc = step(ctx, tok, p, &mu->seqs[i], i, loco_context_logits(ctx, r));
    }
    return rc;
}

int multi_run(struct loco_context *ctx, const struct loco_tokenizer *tok,
              const struct loco_generate_params *p, struct multi *mu)
{
    int32_t n = 1;
    int rc = LOCO_OK;
    while (rc == LOCO_OK && n > 0)
        rc = decode_step(ctx, tok, p, mu, &n);
    return rc;
}

int multi_collect(struct multi *mu, size_t n_prompt, struct loco_generate_result *res)
{
    int rc = LOCO_OK;
    for (int32_t i = 0; i < mu->k; i++) {
        const struct multi_seq *s = &mu->seqs[i];
        res[i].n_prompt = (int32_t)n_prompt;
        res[i].n_cached = s->n_cached;
        res[i].prompt_ms = s->t_prefilled - s->t_start;
        res[i].generate_ms = s->t_end - s->t_prefilled;
        res[i].stop = s->stop;
        if (rc == LOCO_OK)
            rc = loco_gen_output_take(&mu->seqs[i].out, &res[i]);
    }
    if (rc)
        for (int32_t i = 0; i < mu->k; i++)
            loco_generate_result_free(&res[i]);
    return rc;
}
