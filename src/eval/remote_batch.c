/*
 * remote_batch.c - an evaluation's answers from another engine
 * (struct loco_eval_engine in loco/eval.h, docs/scale-out.md): the batch's
 * requests go to an OpenAI-compatible engine (loco/remote.h), a bounded
 * number in flight, each worker thread on its own connection; every answer
 * is kept and cached as it arrives, under one lock, exactly as the local
 * path keeps them (batch.c). Everything around the generation (items,
 * prompts, the cache, scoring, judging, statistics, the record) stays in
 * loco and does not know where an answer came from, except through the
 * cache key, which names the engine.
 *
 * sc:K runs as K requests with seeds seed + i, which is what
 * loco_generate_sc samples locally (one shared prefill there; K prefills
 * here, the engine's prefix cache sharing what it can), then the same vote
 * (eval_sc_vote: by the shown tests for code, else loco_vote).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

/* ---- what an engine can answer ----------------------------------------- */

int eval_engine_check(const struct loco_eval_params *p)
{
    if (!p->engine.url)
        return LOCO_OK;
    if (p->engine.parallel < 0 || p->engine.parallel > LOCO_EVAL_MAX_ENGINE_PARALLEL)
        return loco_error_set(LOCO_ERR_RANGE, "evaluation: engine parallel is %d, expected 1 to %d",
                              (int)p->engine.parallel, LOCO_EVAL_MAX_ENGINE_PARALLEL);
    const struct loco_strategy *st = &p->strategy;
    if (loco_strategy_calculates(st) || st->kind == LOCO_STRATEGY_USC) {
        char name[LOCO_STRATEGY_NAME_MAX];
        loco_strategy_name(st, name, sizeof name);
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "evaluation: strategy %s cannot run on an engine (%s); with "
                              "--engine the strategy can be plain, re2 or sc:K",
                              name,
                              st->kind == LOCO_STRATEGY_USC
                                  ? "the model reads its K answers to pick one, in loco"
                                  : "the calculator writes into the answer as it is decoded");
    }
    if (p->chat_template)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "evaluation: chat template '%s' cannot be sent to an engine (it "
                              "applies its own to the conversation); drop it",
                              p->chat_template);
    return LOCO_OK;
}

/* ---- connections ----------------------------------------------------------- */

void eval_engine_close(struct eval_engine *e)
{
    for (size_t i = 0; i < e->n; i++)
        loco_remote_close(e->conn[i]);
    e->n = 0;
}

int eval_engine_open(const struct loco_eval_params *p, struct eval_engine *e)
{
    memset(e, 0, sizeof *e);
    size_t want = p->engine.parallel > 0 ? (size_t)p->engine.parallel : LOCO_EVAL_ENGINE_PARALLEL;
    enum loco_remote_kind kind = p->engine.kind;
    for (size_t i = 0; i < want; i++) {
        struct loco_remote *r = loco_remote_open(p->engine.url, kind, p->engine.api_key);
        if (!r) { /* the message says why (an HTTP status, no connection) */
            eval_engine_close(e);
            return LOCO_ERR_NETWORK;
        }
        kind = loco_remote_kind(r); /* found out once */
        e->conn[e->n++] = r;
    }
    return LOCO_OK;
}

size_t eval_engine_set(const struct loco_adapter *a, float scale, const struct loco_eval_params *p,
                       struct loco_remote_adapter *out, size_t cap)
{
    if (!a)
        return 0;
    const struct loco_adapter_info *in = loco_adapter_info(a);
    out[0] = (struct loco_remote_adapter){in->name, in->path, scale};
    size_t n = 1;
    for (int32_t i = 0; i < p->n_also && n < cap; i++) {
        in = loco_adapter_info(p->also[i].adapter);
        out[n++] = (struct loco_remote_adapter){in->name, in->path, p->also[i].scale};
    }
    return n;
}

int eval_engine_key(const struct eval_engine *e, const struct loco_remote_adapter *set, size_t n,
                    char *buf, size_t cap)
{
    char model[512];
    int rc = loco_remote_model_for(e->conn[0], set, n, model, sizeof model);
    if (rc)
        return rc;
    int k =
        snprintf(buf, cap, ";engine=%s %s %s", loco_remote_kind_name(loco_remote_kind(e->conn[0])),
                 loco_remote_url(e->conn[0]), model);
    return k >= 0 && (size_t)k < cap
               ? LOCO_OK
               : loco_error_set(LOCO_ERR_RANGE, "engine: the URL is too long for the cache key");
}

int loco_eval_engine_probe(const struct loco_eval_params *p, const struct loco_adapter *a,
                           float scale, struct loco_eval_record_info *info,
                           enum loco_remote_kind *kind)
{
    if (!p || !info || !kind || !p->engine.url)
        return loco_error_set(LOCO_ERR_INVALID,
                              "engine probe: needs the params with an engine URL");
    int rc = loco_eval_params_check(p);
    if (rc)
        return rc;
    struct loco_eval_params one = *p;
    one.engine.parallel = 1;
    struct eval_engine e;
    rc = eval_engine_open(&one, &e);
    if (rc)
        return rc;
    struct loco_remote_adapter set[LOCO_MAX_SET_ADAPTERS];
    size_t n = eval_engine_set(a, scale, p, set, LOCO_MAX_SET_ADAPTERS);
    /* under a strategy both sides are the adapter */
    size_t n_base = p->strategy.kind == LOCO_STRATEGY_PLAIN ? 0 : n;
    rc = loco_remote_model_for(e.conn[0], set, n_base, info->engine_base_model,
                               sizeof info->engine_base_model);
    if (!rc)
        rc = loco_remote_model_for(e.conn[0], set, n, info->engine_adapter_model,
                                   sizeof info->engine_adapter_model);
    if (!rc) {
        *kind = loco_remote_kind(e.conn[0]);
        snprintf(info->engine_kind, sizeof info->engine_kind, "%s", loco_remote_kind_name(*kind));
        snprintf(info->engine_url, sizeof info->engine_url, "%s", loco_remote_url(e.conn[0]));
    }
    eval_engine_close(&e);
    return rc;
}

/* ---- one answer ------------------------------------------------------------ */

/* The answer to q from connection r: one request, or under sc:K (how->sc_k
 * > 1) K requests seeded gp's seed + i and the vote's winner (eval_sc_vote,
 * the vote into *vote). *text is malloc'd; *n_tokens counts every request's
 * generated tokens. */
static int engine_answer(struct loco_remote *r, const struct gen_how *how, const struct gen_req *q,
                         char **text, int32_t *n_tokens, struct loco_eval_vote *vote)
{
    int32_t k = how->sc_k > 1 ? how->sc_k : 1;
    char **answers = calloc((size_t)k, sizeof *answers);
    if (!answers)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    struct loco_remote_request req = {.msgs = q->msgs,
                                      .n_msgs = q->n_msgs,
                                      .adapters = how->set,
                                      .n_adapters = how->n_set,
                                      .gen = how->gp};
    int rc = LOCO_OK;
    *n_tokens = 0;
    for (int32_t i = 0; !rc && i < k; i++) {
        struct loco_generate_result res = {0};
        if (k > 1)
            req.gen.sampling.seed = how->gp.sampling.seed + (uint64_t)i;
        rc = loco_remote_chat(r, &req, NULL, NULL, &res);
        if (!rc) {
            answers[i] = res.text; /* taken over */
            res.text = NULL;
            *n_tokens += res.n_generated;
        }
        loco_generate_result_free(&res);
    }
    *vote = (struct loco_eval_vote){0};
    if (!rc && k > 1)
        rc = eval_sc_vote(how, q, (const char *const *)answers, k, vote);
    if (!rc) {
        *text = answers[vote->winner];
        answers[vote->winner] = NULL;
    }
    for (int32_t i = 0; i < k; i++)
        free(answers[i]);
    free(answers);
    return rc;
}

/* ---- the workers ------------------------------------------------------------ */

/* The batch's requests shared by the workers; `lock` guards everything in
 * it that changes and everything the batch run keeps (outputs, the cache,
 * progress, totals). */
struct engine_jobs {
    struct batch_run *b;
    const size_t *miss;
    size_t n_miss;
    size_t next; /* the next job to take */
    pthread_mutex_t lock;
    int rc;           /* the first error: no new job is taken after it */
    char error[1024]; /* its message: messages are kept per thread */
};

struct worker {
    struct engine_jobs *jobs;
    struct loco_remote *conn;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct engine_jobs *js = w->jobs;
    for (;;) {
        pthread_mutex_lock(&js->lock);
        bool stop = js->rc || js->next >= js->n_miss;
        size_t j = stop ? 0 : js->next++;
        pthread_mutex_unlock(&js->lock);
        if (stop)
            break;
        size_t i = js->miss[j];
        char *text = NULL;
        int32_t n_tokens = 0;
        struct loco_eval_vote vote;
        double t0 = loco_time_ms();
        int rc = engine_answer(w->conn, js->b->how, &js->b->reqs[i], &text, &n_tokens, &vote);
        double ms = loco_time_ms() - t0;
        pthread_mutex_lock(&js->lock);
        if (rc && !js->rc) {
            js->rc = rc;
            snprintf(js->error, sizeof js->error, "%s", loco_error_message());
        } else if (!rc) {
            js->b->reqs[i].vote = vote;
            eval_batch_keep(js->b, i, text, n_tokens, ms);
            eval_phase_step(js->b->ph, 1);
        }
        pthread_mutex_unlock(&js->lock);
        free(text);
    }
    return NULL;
}

int eval_engine_generate(struct batch_run *b, const size_t *miss, size_t n_miss)
{
    const struct eval_engine *e = b->how->engine;
    if (b->how->prefill || !e->n) /* a programmer's error: the judge's batches stay here */
        return loco_error_set(LOCO_ERR_INVALID, "engine: no connection, or a pre-filled answer");
    struct engine_jobs js = {.b = b, .miss = miss, .n_miss = n_miss};
    pthread_mutex_init(&js.lock, NULL);
    struct worker w[LOCO_EVAL_MAX_ENGINE_PARALLEL];
    pthread_t th[LOCO_EVAL_MAX_ENGINE_PARALLEL];
    size_t n_threads = e->n < n_miss ? e->n : n_miss, started = 0;
    double t0 = loco_time_ms();
    for (size_t t = 0; t < n_threads; t++) {
        w[t] = (struct worker){&js, e->conn[t]};
        if (pthread_create(&th[t], NULL, worker_run, &w[t]) != 0)
            break;
        started++;
    }
    if (!started) /* no thread: answer on this one */
        worker_run(&w[0]);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    b->tot->ms += loco_time_ms() - t0;
    pthread_mutex_destroy(&js.lock);
    if (js.rc)
        return loco_error_set(js.rc, "%s", js.error);
    return LOCO_OK;
}
