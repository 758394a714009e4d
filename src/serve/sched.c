/*
 * sched.c - the serving loop: a queue of requests, the context's sequences
 * as slots, chunked prefill interleaved with one shared decode step per
 * turn (see loco/sched.h).
 *
 * Locking: `mu` guards the queue, the stats, the stop flags and which job
 * each slot holds. Everything else in a slot (its sampler, answer, KV
 * cache) belongs to the loop's thread alone. Callbacks run on that thread
 * without `mu` held, so they may call loco_sched_cancel or submit.
 */
#include "loco/sched.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/generate_internal.h"

struct job {
    uint64_t id;
    int32_t *prompt; /* owned copy */
    struct loco_sched_request r;
    bool cancel;
    struct job *next; /* queue order */
};

struct slot {
    struct job *job; /* NULL: free */
    bool decoding;   /* prefill done, one token per step */
    int32_t filled;  /* prompt positions in the cache */
    struct loco_sampler *smp;
    struct output out;
    int32_t next;  /* token to feed at the next step */
    int32_t *run;  /* calc: tokens to feed before `next`, alone */
    int32_t n_run;
    bool stopped;  /* on_token asked to stop */
    int32_t n_cached;
    double t0, t1; /* start, end of prefill */
    /* the adapter set the cache was computed under (kept when free) */
    struct loco_adapter_ref set[LOCO_MAX_SET_ADAPTERS];
    int32_t n_set;
};

struct loco_sched {
    struct loco_context *ctx;
    const struct loco_tokenizer *tok;
    int32_t n_slots, n_ctx, n_batch;
    struct slot *slots;
    int32_t *tok_ids, *pos, *seqs;
    bool *want;
    int32_t rr; /* the slot whose prompt the next prefill chunk serves */
    bool reuse; /* loco_sched_params.reuse_prefix */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    struct job *head, *tail;
    int32_t max_queue;
    uint64_t next_id;
    bool stopping, draining;
    double drain_until; /* loco_time_ms deadline; < 0: none */
    struct loco_sched_stats st;
};

const int32_t loco_sched_batch_bounds[LOCO_SCHED_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32,
                                                                   LOCO_GENERATE_MAX_SLOTS};

struct loco_sched_params loco_sched_default_params(void)
{
    return (struct loco_sched_params){.max_queue = 64, .prefill_chunk = 0, .reuse_prefix = false};
}

static void job_free(struct job *j)
{
    if (j) {
        free(j->prompt);
        free(j);
    }
}

/* ---- finishing ------------------------------------------------------------ */

/* Report job j (not in a slot) as failed with status rc and free it. */
static void job_fail(struct loco_sched *s, struct job *j, int rc)
{
    struct loco_generate_result res;
    memset(&res, 0, sizeof res);
    j->r.on_done(j->r.user, rc, &res);
    job_free(j);
    pthread_mutex_lock(&s->mu);
    s->st.finished++;
    pthread_mutex_unlock(&s->mu);
}

/* End slot i's job: stop reason `stop` when rc is LOCO_OK, else the error. */
static void slot_finish(struct loco_sched *s, int32_t i, enum loco_stop_reason stop, int rc)
{
    struct slot *sl = &s->slots[i];
    struct job *j = sl->job;
    struct loco_generate_result res;
    memset(&res, 0, sizeof res);
    if (rc == LOCO_OK) {
        res.n_prompt = (int32_t)j->r.n_prompt;
        res.n_cached = sl->n_cached;
        res.stop = stop;
        res.prompt_ms = sl->t1 - sl->t0;
        res.generate_ms = sl->decoding ? loco_time_ms() - sl->t1 : 0;
        rc = loco_gen_output_take(&sl->out, &res);
    }
    loco_gen_output_free(&sl->out);
    loco_sampler_free(sl->smp);
    sl->smp = NULL;
    free(sl->run);
    sl->run = NULL;
    sl->n_run = 0;
    if (rc != LOCO_OK) {
        /* a failed request leaves its cache in an unknown state */
        loco_context_seq_clear(s->ctx, i);
        memset(&res, 0, sizeof res);
    }
    pthread_mutex_lock(&s->mu);
    sl->job = NULL;
    s->st.running--;
    s->st.finished++;
    pthread_mutex_unlock(&s->mu);
    j->r.on_done(j->r.user, rc, &res);
    job_free(j);
}

/* ---- starting ------------------------------------------------------------- */

static bool same_set(const struct slot *sl, const struct loco_sched_request *r)
{
    if (sl->n_set != r->n_adapters)
        return false;
    for (int32_t i = 0; i < sl->n_set; i++)
        if (sl->set[i].adapter != r->adapters[i].adapter || sl->set[i].scale != r->adapters[i].scale)
            return false;
    return true;
}

/* The free slot for job j: with reuse, the one whose cache shares the
 * longest prefix with its prompt under the same adapters, else the one
 * holding the least; without, the first free one. -1 when none is free.
 * Called with mu held. */
static int32_t pick_slot(struct loco_sched *s, const struct job *j)
{
    int32_t best = -1, best_lcp = -1, best_len = 0;
    for (int32_t i = 0; i < s->n_slots; i++) {
        const struct slot *sl = &s->slots[i];
        if (sl->job)
            continue;
        if (!s->reuse)
            return i;
        int32_t n = loco_context_seq_len(s->ctx, i), lcp = 0;
        if (same_set(sl, &j->r)) {
            const int32_t *cached = loco_context_seq_tokens(s->ctx, i);
            while (lcp < n && (size_t)lcp + 1 < j->r.n_prompt && cached[lcp] == j->prompt[lcp])
                lcp++;
        }
        if (lcp > best_lcp || (lcp == best_lcp && n < best_len)) {
            best = i;
            best_lcp = lcp;
            best_len = n;
        }
    }
    return best;
}

/* Put job j on free slot i: its adapters, its sampler, the cached prefix. */
static int slot_start(struct loco_sched *s, int32_t i, struct job *j)
{
    struct slot *sl = &s->slots[i];
    int rc = loco_context_set_adapters(s->ctx, i, j->r.adapters, j->r.n_adapters);
    if (rc)
        return rc;
    memcpy(sl->set, j->r.adapters, sizeof sl->set);
    sl->n_set = j->r.n_adapters;
    sl->smp = loco_sampler_init(j->r.gen.sampling, loco_tokenizer_n_vocab(s->tok));
    if (!sl->smp)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < j->r.n_prompt; k++)
        loco_sampler_accept(sl->smp, j->prompt[k]);
    memset(&sl->out, 0, sizeof sl->out);
    sl->decoding = false;
    sl->stopped = false;
    sl->t0 = loco_time_ms();
    sl->t1 = sl->t0;
    if (s->reuse) {
        sl->n_cached = loco_gen_reuse_prefix(s->ctx, i, j->prompt, j->r.n_prompt);
    } else {
        loco_context_seq_clear(s->ctx, i);
        sl->n_cached = 0;
    }
    sl->filled = sl->n_cached;
    return LOCO_OK;
}

/* Move waiting jobs into free slots (mu held). Jobs that cannot start are
 * collected in *failed with their status in `cancel`'s place. */
static void admit(struct loco_sched *s, struct job **failed, int *fail_rc, int32_t *n_failed,
                  int32_t cap)
{
    /* cancelled waiting jobs leave the queue at once, slot or no slot */
    for (struct job **at = &s->head; *at && *n_failed < cap;) {
        struct job *j = *at;
        if (!j->cancel) {
            at = &j->next;
            continue;
        }
        *at = j->next;
        s->st.queued--;
        failed[*n_failed] = j;
        fail_rc[(*n_failed)++] = LOCO_ERR_CANCELLED;
    }
    s->tail = NULL;
    for (struct job *j = s->head; j; j = j->next)
        s->tail = j;
    while (s->head) {
        int32_t i = pick_slot(s, s->head);
        if (i < 0)
            return;
        struct job *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        s->st.queued--;
        j->next = NULL;
        int rc = j->cancel ? LOCO_ERR_CANCELLED : slot_start(s, i, j);
        if (rc) {
            struct slot *sl = &s->slots[i];
            loco_sampler_free(sl->smp);
            sl->smp = NULL;
            if (*n_failed < cap) {
                failed[*n_failed] = j;
                fail_rc[(*n_failed)++] = rc;
                continue;
            }
            /* no room to report it now: put it back at the head */
            j->next = s->head;
            s->head = j;
            if (!s->tail)
                s->tail = j;
            s->st.queued++;
            return;
        }
        s->slots[i].job = j;
        s->st.running++;
        s->st.cached_tokens += (uint64_t)s->slots[i].n_cached;
    }
}

/* ---- one turn ------------------------------------------------------------- */

struct stream_ctx {
    const struct job *job;
    struct slot *sl;
};

/* on_token for tokens the calculator forces: the request's callback. */
static bool forced_token(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    struct stream_ctx *c = user;
    if (c->job->r.on_token && !c->job->r.on_token(c->job->r.user, token, piece, len, lp))
        c->sl->stopped = true;
    return !c->sl->stopped;
}

/* Sample slot i's next token from logits row `row`. Returns true when the
 * job is finished (and reported). */
static bool sample_step(struct loco_sched *s, int32_t i, int32_t row)
{
    struct slot *sl = &s->slots[i];
    const struct job *j = sl->job;
    const struct loco_generate_params *p = &j->r.gen;
    char piece[256];
    float lp = 0.0f;
    int32_t id = loco_sampler_sample(sl->smp, loco_context_logits(s->ctx, row), &lp);
    if (id < 0) { /* no usable logit (all NaN) */
        slot_finish(s, i, LOCO_STOP_MAX_TOKENS, id);
        return true;
    }
    if (loco_tokenizer_is_eog(s->tok, id)) {
        slot_finish(s, i, LOCO_STOP_EOG, LOCO_OK);
        return true;
    }
    loco_sampler_accept(sl->smp, id);
    size_t len = 0;
    int rc = loco_gen_piece_of(s->tok, id, piece, sizeof piece, &len);
    if (rc || (rc = loco_gen_output_push(&sl->out, id, lp, piece, len))) {
        slot_finish(s, i, LOCO_STOP_MAX_TOKENS, rc);
        return true;
    }
    pthread_mutex_lock(&s->mu);
    s->st.gen_tokens++;
    pthread_mutex_unlock(&s->mu);
    if (j->r.on_token && !j->r.on_token(j->r.user, id, piece, len, lp)) {
        slot_finish(s, i, LOCO_STOP_CALLBACK, LOCO_OK);
        return true;
    }
    sl->next = id;
    if (p->calc) {
        struct stream_ctx c = {j, sl};
        bool stopped = false;
        int32_t room = p->max_tokens - sl->out.n;
        rc = loco_gen_calc_force(s->ctx, i, s->tok, sl->smp, &sl->out, room, id, forced_token, &c,
                                 &stopped, &sl->run, &sl->n_run, &sl->next);
        if (rc || stopped || sl->stopped) {
            slot_finish(s, i, LOCO_STOP_CALLBACK, rc);
            return true;
        }
    }
    if (sl->out.n >= p->max_tokens) {
        slot_finish(s, i, LOCO_STOP_MAX_TOKENS, LOCO_OK);
        return true;
    }
    if (loco_context_seq_len(s->ctx, i) + sl->n_run >= s->n_ctx) {
        slot_finish(s, i, LOCO_STOP_CONTEXT, LOCO_OK);
        return true;
    }
    return false;
}

/* Prefill one chunk of one prompt (round robin over the slots still
 * prefilling). A prompt whose last chunk is in samples its first token. */
static void prefill_turn(struct loco_sched *s)
{
    for (int32_t k = 0; k < s->n_slots; k++) {
        int32_t i = (s->rr + k) % s->n_slots;
        struct slot *sl = &s->slots[i];
        if (!sl->job || sl->decoding)
            continue;
        s->rr = (i + 1) % s->n_slots;
        const struct job *j = sl->job;
        int32_t n = (int32_t)j->r.n_prompt;
        int32_t len = n - sl->filled < s->n_batch ? n - sl->filled : s->n_batch;
        int rc = loco_gen_prefill(s->ctx, i, j->prompt, sl->filled, sl->filled + len);
        if (rc) {
            slot_finish(s, i, LOCO_STOP_MAX_TOKENS, rc);
            return;
        }
        pthread_mutex_lock(&s->mu);
        s->st.prompt_tokens += (uint64_t)len;
        pthread_mutex_unlock(&s->mu);
        sl->filled += len;
        if (sl->filled < n)
            return;
        sl->t1 = loco_time_ms();
        sl->decoding = true;
        if (j->r.gen.max_tokens <= 0) {
            slot_finish(s, i, LOCO_STOP_MAX_TOKENS, LOCO_OK);
            return;
        }
        sample_step(s, i, 0);
        return;
    }
}

/* One decode step over every decoding slot. Returns a decode error. */
static int decode_turn(struct loco_sched *s)
{
    int rc = LOCO_OK;
    /* calc: forced results are fed first, each alone */
    for (int32_t i = 0; i < s->n_slots; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->job && sl->decoding && sl->n_run > 0 &&
            (rc = loco_gen_feed_pending(s->ctx, i, true, &sl->run, &sl->n_run)))
            slot_finish(s, i, LOCO_STOP_MAX_TOKENS, rc);
    }
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_slots; i++) {
        const struct slot *sl = &s->slots[i];
        if (!sl->job || !sl->decoding)
            continue;
        s->tok_ids[n] = sl->next;
        s->pos[n] = loco_context_seq_len(s->ctx, i);
        s->seqs[n] = i;
        s->want[n] = true;
        n++;
    }
    if (n == 0)
        return LOCO_OK;
    struct loco_batch b = {.n = n, .tokens = s->tok_ids, .pos = s->pos, .seq = s->seqs,
                           .want_logits = s->want};
    rc = loco_decode(s->ctx, &b);
    pthread_mutex_lock(&s->mu);
    s->st.steps++;
    s->st.step_rows += (uint64_t)n;
    s->st.last_batch = n;
    for (int32_t k = 0; k < LOCO_SCHED_BATCH_BUCKETS; k++)
        if (n <= loco_sched_batch_bounds[k]) {
            s->st.batch_hist[k]++;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    if (rc) { /* every row of the failed step fails */
        for (int32_t k = 0; k < n; k++)
            slot_finish(s, s->seqs[k], LOCO_STOP_MAX_TOKENS, rc);
        return rc;
    }
    for (int32_t k = 0; k < n; k++)
        sample_step(s, s->seqs[k], k);
    return LOCO_OK;
}

static bool has_work(const struct loco_sched *s)
{
    if (s->head)
        return true;
    for (int32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job)
            return true;
    return false;
}

#define SCHED_FAIL_BATCH 16

static void *loop(void *arg)
{
    struct loco_sched *s = arg;
    struct job *failed[SCHED_FAIL_BATCH];
    int fail_rc[SCHED_FAIL_BATCH];
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && !has_work(s))
            pthread_cond_wait(&s->wake, &s->mu);
        bool out_of_time = s->stopping && (!s->draining ||
                                           (s->drain_until >= 0 && loco_time_ms() > s->drain_until));
        if (out_of_time) /* cancel what is left, waiting or running */
            for (struct job *j = s->head; j; j = j->next)
                j->cancel = true;
        if (s->stopping && !has_work(s)) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int32_t n_failed = 0;
        admit(s, failed, fail_rc, &n_failed, SCHED_FAIL_BATCH);
        bool cancel[LOCO_GENERATE_MAX_SLOTS + 1];
        int32_t n_check = s->n_slots <= LOCO_GENERATE_MAX_SLOTS ? s->n_slots
                                                                : LOCO_GENERATE_MAX_SLOTS;
        for (int32_t i = 0; i < n_check; i++)
            cancel[i] = s->slots[i].job && (s->slots[i].job->cancel || out_of_time);
        pthread_mutex_unlock(&s->mu);

        for (int32_t k = 0; k < n_failed; k++)
            job_fail(s, failed[k], fail_rc[k]);
        for (int32_t i = 0; i < n_check; i++)
            if (cancel[i])
                slot_finish(s, i, LOCO_STOP_CALLBACK, LOCO_OK);
        prefill_turn(s);
        decode_turn(s);
    }
    return NULL;
}

/* ---- the public side ------------------------------------------------------ */

static void sched_free(struct loco_sched *s)
{
    free(s->slots);
    free(s->tok_ids);
    free(s->pos);
    free(s->seqs);
    free(s->want);
    free(s);
}

struct loco_sched *loco_sched_start(struct loco_context *ctx, const struct loco_tokenizer *tok,
                                    const struct loco_sched_params *p)
{
    if (!ctx || !tok) {
        loco_error_set(LOCO_ERR_INVALID, "sched: a context and a tokenizer are required");
        return NULL;
    }
    struct loco_context_params cp = loco_context_params(ctx);
    if (cp.n_seq > LOCO_GENERATE_MAX_SLOTS) {
        loco_error_set(LOCO_ERR_RANGE, "sched: %d sequences; at most %d slots", cp.n_seq,
                       LOCO_GENERATE_MAX_SLOTS);
        return NULL;
    }
    struct loco_sched *s = calloc(1, sizeof *s);
    if (!s) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->ctx = ctx;
    s->tok = tok;
    s->n_slots = cp.n_seq;
    s->n_ctx = cp.n_ctx;
    s->n_batch = p && p->prefill_chunk > 0 ? p->prefill_chunk : cp.n_batch;
    s->reuse = p && p->reuse_prefix;
    if (s->n_batch > cp.n_batch)
        s->n_batch = cp.n_batch;
    s->max_queue = p && p->max_queue > 0 ? p->max_queue : loco_sched_default_params().max_queue;
    s->next_id = 1;
    s->st.slots = cp.n_seq;
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    s->tok_ids = malloc((size_t)s->n_slots * sizeof *s->tok_ids);
    s->pos = malloc((size_t)s->n_slots * sizeof *s->pos);
    s->seqs = malloc((size_t)s->n_slots * sizeof *s->seqs);
    s->want = malloc((size_t)s->n_slots * sizeof *s->want);
    bool ok = s->slots && s->tok_ids && s->pos && s->seqs && s->want;
    bool mu = ok && pthread_mutex_init(&s->mu, NULL) == 0;
    bool cv = mu && pthread_cond_init(&s->wake, NULL) == 0;
    if (cv && pthread_create(&s->thread, NULL, loop, s) == 0) {
        for (int32_t i = 0; i < s->n_slots; i++) /* every slot starts on the base model */
            loco_context_seq_clear(ctx, i);
        return s;
    }
    if (cv)
        pthread_cond_destroy(&s->wake);
    if (mu)
        pthread_mutex_destroy(&s->mu);
    sched_free(s);
    loco_error_set(ok ? LOCO_ERR_IO : LOCO_ERR_NOMEM, "sched: cannot start the loop");
    return NULL;
}

int loco_sched_submit(struct loco_sched *s, const struct loco_sched_request *r, uint64_t *id)
{
    if (!s || !r || !r->on_done || !r->prompt || r->n_prompt == 0 || r->n_adapters < 0 ||
        r->n_adapters > LOCO_MAX_SET_ADAPTERS)
        return loco_error_set(LOCO_ERR_INVALID, "sched: a prompt, on_done and at most %d "
                              "adapters are required", LOCO_MAX_SET_ADAPTERS);
    if (r->n_prompt >= (size_t)s->n_ctx)
        return loco_error_set(LOCO_ERR_RANGE, "the prompt has %zu tokens but the context holds "
                              "%d", r->n_prompt, s->n_ctx);
    struct job *j = calloc(1, sizeof *j);
    int32_t *copy = malloc(r->n_prompt * sizeof *copy);
    if (!j || !copy) {
        free(j);
        free(copy);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, r->prompt, r->n_prompt * sizeof *copy);
    j->r = *r;
    j->prompt = copy;
    j->r.prompt = copy;
    pthread_mutex_lock(&s->mu);
    int rc = LOCO_OK;
    if (s->stopping)
        rc = loco_error_set(LOCO_ERR_IO, "the server is shutting down");
    else if (s->st.queued >= s->max_queue)
        rc = loco_error_set(LOCO_ERR_BUSY, "%d requests are waiting already", s->st.queued);
    if (rc == LOCO_OK) {
        j->id = s->next_id++;
        if (s->tail)
            s->tail->next = j;
        else
            s->head = j;
        s->tail = j;
        s->st.queued++;
        s->st.submitted++;
        if (id)
            *id = j->id;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc)
        job_free(j);
    return rc;
}

void loco_sched_cancel(struct loco_sched *s, uint64_t id)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (struct job *j = s->head; j; j = j->next)
        if (j->id == id)
            j->cancel = true;
    for (int32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job && s->slots[i].job->id == id)
            s->slots[i].job->cancel = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

void loco_sched_cancel_all(struct loco_sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (struct job *j = s->head; j; j = j->next)
        j->cancel = true;
    for (int32_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].job)
            s->slots[i].job->cancel = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

void loco_sched_stats(struct loco_sched *s, struct loco_sched_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

void loco_sched_stop(struct loco_sched *s, bool drain, double drain_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    s->draining = drain;
    s->drain_until = drain && drain_ms >= 0 ? loco_time_ms() + drain_ms : -1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    sched_free(s);
}
