/*
 * generate_many.c - answers for many prompts with continuous batching
 * (see loco_generate_many in loco/generate.h).
 *
 * Slots are the context's sequences. A slot's prompt is prefilled in its own
 * decode calls (exactly as loco_generate does), then every running slot
 * contributes one token to each shared decode step. Rows of a decode step
 * never mix numerically: matrix products run per (row, token) for small
 * batches and attention is per sequence, so batching changes speed, not
 * answers.
 */
#include <stdlib.h>
#include <string.h>

#include "generate_internal.h"

struct slot {
    bool busy;
    size_t job;
    struct loco_sampler *smp;
    struct output out;
    int32_t next;   /* token to feed at the next step */
    int32_t *run;   /* calc: tokens to feed before `next`, alone (malloc'd) */
    int32_t n_run;
    double t0, t1;  /* start, end of prefill */
};

static void slot_reset(struct slot *s)
{
    loco_sampler_free(s->smp);
    s->smp = NULL;
    s->busy = false;
    free(s->run);
    s->run = NULL;
    s->n_run = 0;
}

/* calc: the answer may have opened "<<EXPR=" with token id (not yet fed).
 * The forced run waits in s->run for feed_run (a decode of its own, as
 * loco_generate does); the last forced token becomes s->next. */
static int force_calc(struct loco_context *ctx, const struct loco_tokenizer *tok,
                      const struct loco_generate_params *p, struct slot *s, int32_t seq,
                      int32_t id)
{
    bool stopped = false;
    return loco_gen_calc_force(ctx, seq, tok, s->smp, &s->out, p->max_tokens - s->out.n, id, NULL,
                               NULL, &stopped, &s->run, &s->n_run, &s->next);
}


static void finish(struct slot *s, struct loco_gen_job *job, enum loco_stop_reason stop, int rc)
{
    job->status = rc;
    if (rc == LOCO_OK) {
        job->res.stop = stop;
        job->res.prompt_ms = s->t1 - s->t0;
        job->res.generate_ms = loco_time_ms() - s->t1;
        job->status = loco_gen_output_take(&s->out, &job->res);
    }
    loco_gen_output_free(&s->out);
    slot_reset(s);
}

/* Sample from the logits row `row` of the last decode for slot s. Returns
 * true when the job is finished (its status set). */
static bool sample_step(struct loco_context *ctx, const struct loco_tokenizer *tok,
                        const struct loco_generate_params *p, struct slot *s, int32_t seq,
                        struct loco_gen_job *job, int32_t row)
{
    char piece[256];
    float lp = 0.0f;
    int32_t id = loco_sampler_sample(s->smp, loco_context_logits(ctx, row), &lp);
    if (id < 0) { /* no usable logit (all NaN) */
        finish(s, job, LOCO_STOP_MAX_TOKENS, id);
        return true;
    }
    if (loco_tokenizer_is_eog(tok, id)) {
        finish(s, job, LOCO_STOP_EOG, LOCO_OK);
        return true;
    }
    loco_sampler_accept(s->smp, id);
    size_t len = 0;
    int rc = loco_gen_piece_of(tok, id, piece, sizeof piece, &len);
    if (rc || (rc = loco_gen_output_push(&s->out, id, lp, piece, len))) {
        finish(s, job, LOCO_STOP_MAX_TOKENS, rc);
        return true;
    }
    s->next = id;
    if (p->calc && (rc = force_calc(ctx, tok, p, s, seq, id))) {
        finish(s, job, LOCO_STOP_MAX_TOKENS, rc);
        return true;
    }
    if (s->out.n >= p->max_tokens) {
        finish(s, job, LOCO_STOP_MAX_TOKENS, LOCO_OK);
        return true;
    }
    if (loco_context_seq_len(ctx, seq) >= loco_context_params(ctx).n_ctx) {
        finish(s, job, LOCO_STOP_CONTEXT, LOCO_OK);
        return true;
    }
    return false;
}

/* Give slot `seq` job j: prefill and take its first token. Returns a
 * decode error (fatal), else LOCO_OK (the job may already be finished). */
static int start_job(struct loco_context *ctx, const struct loco_tokenizer *tok,
                     const struct loco_generate_params *p, struct slot *s, int32_t seq,
                     struct loco_gen_job *job, size_t j, bool *finished)
{
    int32_t n_ctx = loco_context_params(ctx).n_ctx;
    memset(&job->res, 0, sizeof job->res);
    *finished = false;
    if (job->n_prompt == 0 || !job->prompt) {
        job->status = loco_error_set(LOCO_ERR_INVALID, "job %zu: empty prompt", j);
        *finished = true;
        return LOCO_OK;
    }
    if (job->n_prompt >= (size_t)n_ctx) {
        job->status = loco_error_set(LOCO_ERR_RANGE, "job %zu: the prompt has %zu tokens but the "
                                     "context holds %d", j, job->n_prompt, n_ctx);
        *finished = true;
        return LOCO_OK;
    }
    s->smp = loco_sampler_init(p->sampling, loco_tokenizer_n_vocab(tok));
    if (!s->smp)
        return LOCO_ERR_NOMEM;
    for (size_t i = 0; i < job->n_prompt; i++)
        loco_sampler_accept(s->smp, job->prompt[i]);
    s->busy = true;
    s->job = j;
    s->t0 = loco_time_ms();
    job->res.n_prompt = (int32_t)job->n_prompt;
    loco_context_seq_clear(ctx, seq);
    int rc = loco_gen_prefill(ctx, seq, job->prompt, 0, (int32_t)job->n_prompt);
    s->t1 = loco_time_ms();
    if (rc) {
        finish(s, job, LOCO_STOP_MAX_TOKENS, rc);
        return rc;
    }
    if (p->max_tokens <= 0) {
        finish(s, job, LOCO_STOP_MAX_TOKENS, LOCO_OK);
        *finished = true;
        return LOCO_OK;
    }
    *finished = sample_step(ctx, tok, p, s, seq, job, 0);
    return LOCO_OK;
}

int loco_generate_many(struct loco_context *ctx, const struct loco_tokenizer *tok,
                       struct loco_gen_job *jobs, size_t n_jobs,
                       const struct loco_generate_params *p, loco_job_fn on_done, void *user)
{
    if (!ctx || !tok || !p || (!jobs && n_jobs))
        return loco_error_set(LOCO_ERR_INVALID, "generate_many: context, tokenizer and params "
                              "are required");
    int32_t n_slots = loco_context_params(ctx).n_seq;
    struct slot *slots = calloc((size_t)n_slots, sizeof *slots);
    int32_t *tok_ids = malloc((size_t)n_slots * sizeof *tok_ids);
    int32_t *pos = malloc((size_t)n_slots * sizeof *pos);
    int32_t *seqs = malloc((size_t)n_slots * sizeof *seqs);
    bool *want = malloc((size_t)n_slots * sizeof *want);
    int rc = slots && tok_ids && pos && seqs && want
                 ? LOCO_OK
                 : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_jobs; i++) {
        jobs[i].status = LOCO_ERR_NOT_FOUND;
        memset(&jobs[i].res, 0, sizeof jobs[i].res);
    }
    size_t next_job = 0;
    bool stop = false;
    while (rc == LOCO_OK) {
        /* fill free slots */
        for (int32_t s = 0; s < n_slots && rc == LOCO_OK && !stop; s++) {
            while (!slots[s].busy && next_job < n_jobs && !stop) {
                size_t j = next_job++;
                bool done = false;
                rc = start_job(ctx, tok, p, &slots[s], s, &jobs[j], j, &done);
                if (rc)
                    break;
                if (done && on_done && !on_done(user, j, &jobs[j]))
                    stop = true;
            }
        }
        if (stop)
            break;
        /* calc: results forced into answers are fed first, each alone */
        for (int32_t s = 0; s < n_slots && rc == LOCO_OK; s++)
            if (slots[s].busy)
                rc = loco_gen_feed_pending(ctx, s, true, &slots[s].run, &slots[s].n_run);
        /* one shared decode step over every running slot */
        int32_t n = 0;
        for (int32_t s = 0; s < n_slots; s++) {
            if (!slots[s].busy)
                continue;
            tok_ids[n] = slots[s].next;
            pos[n] = loco_context_seq_len(ctx, s);
            seqs[n] = s;
            want[n] = true;
            n++;
        }
        if (rc || n == 0)
            break;
        struct loco_batch b = {.n = n, .tokens = tok_ids, .pos = pos, .seq = seqs,
                               .want_logits = want};
        if ((rc = loco_decode(ctx, &b)))
            break;
        for (int32_t k = 0; k < n; k++) {
            int32_t s = seqs[k];
            struct loco_gen_job *job = &jobs[slots[s].job];
            size_t j = slots[s].job;
            if (sample_step(ctx, tok, p, &slots[s], s, job, k) && on_done &&
                !on_done(user, j, job))
                stop = true;
        }
        if (stop)
            break;
    }
    /* jobs still running were stopped (or hit a decode error): no answer */
    for (int32_t s = 0; slots && s < n_slots; s++)
        if (slots[s].busy)
            finish(&slots[s], &jobs[slots[s].job], LOCO_STOP_CALLBACK,
                   rc ? rc : loco_error_set(LOCO_ERR_INVALID, "stopped before it finished"));
    free(slots);
    free(tok_ids);
    free(pos);
    free(seqs);
    free(want);
    return rc;
}
