/*
 * batch.c - answering a list of prompts through the generation cache (see
 * batch.h): look every request up by its key, generate the misses all at
 * once over the context's slots with loco_generate_many (or one by one from
 * the judge's endpoint, or several at a time on the answers' engine:
 * remote_batch.c), store each answer as it finishes, so that a killed
 * evaluation keeps what it made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "bench_internal.h"

/* A copy of s with every byte that does not start a well-formed UTF-8
 * sequence replaced by U+FFFD, so that answers cut inside a character (or
 * byte-fallback tokens) still make valid JSON. */
static char *utf8_clean(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n && !(len == 2 && c < 0xc2);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (ok && len == 3) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
        }
        if (ok && len == 4) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = c <= 0xf4 && !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
        }
        if (ok) {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    return out;
}

void eval_phase_step(struct phase *ph, size_t k)
{
    ph->done += k;
    if (ph->fn)
        ph->fn(ph->user, ph->bench, ph->name, ph->side, ph->done, ph->total);
}

void eval_batch_keep(struct batch_run *b, size_t i, const char *text, int32_t n_tokens, double ms)
{
    struct gen_req *q = &b->reqs[i];
    q->status = LOCO_OK;
    q->output = utf8_clean(text);
    q->n_tokens = n_tokens;
    b->tot->tokens += n_tokens;
    if (b->cache)
        loco_evalcache_put(b->cache, b->keys[i], b->how->model_sha, b->how->adapter_desc,
                           b->how->settings, q->key_text, text, n_tokens, ms);
}

static bool job_done(void *user, size_t j, struct loco_gen_job *job)
{
    struct batch_run *b = user;
    if (job->status == LOCO_OK)
        eval_batch_keep(b, b->job_req[j], job->res.text, job->res.n_generated,
                        job->res.prompt_ms + job->res.generate_ms);
    eval_phase_step(b->ph, 1);
    return true;
}

/* The conversation's tokens (up to the assistant header), then `pre`. */
static int request_tokens(const struct loco_model *m, const char *tmpl, const struct gen_req *q,
                          const int32_t *pre, size_t n_pre, int32_t **toks, size_t *n)
{
    int rc = loco_chat_tokenize(m, tmpl, q->msgs, q->n_msgs, toks, n);
    if (rc || !n_pre)
        return rc;
    int32_t *g = realloc(*toks, (*n + n_pre) * sizeof *g);
    if (!g)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    memcpy(g + *n, pre, n_pre * sizeof *g);
    *toks = g;
    *n += n_pre;
    return LOCO_OK;
}

static struct loco_context *context_for(const struct loco_model *m,
                                        const struct loco_eval_params *p, const struct gen_how *how,
                                        int *rc)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = p->n_ctx;
    cp.n_seq = p->slots > 0 ? p->slots : 1;
    cp.n_batch = p->n_ctx < 512 ? p->n_ctx : 512;
    cp.n_threads = p->threads > 0 ? p->threads : 1;
    struct loco_context *ctx = loco_context_init(m, cp);
    if (!ctx)
        *rc = LOCO_ERR_NOMEM;
    struct loco_adapter_ref set[LOCO_MAX_SET_ADAPTERS] = {{how->adapter, how->scale}};
    for (int32_t i = 0; i < how->n_also && i + 1 < LOCO_MAX_SET_ADAPTERS; i++)
        set[i + 1] = how->also[i];
    for (int32_t s = 0; ctx && !*rc && how->adapter && s < cp.n_seq; s++)
        *rc = loco_context_set_adapters(ctx, s, set, 1 + how->n_also);
    return ctx;
}

/* Generate requests miss[n_miss] with the model, all at once over the slots. */
static int generate_local(const struct loco_model *m, const struct loco_eval_params *p,
                          struct batch_run *b, const size_t *miss, size_t n_miss)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(m);
    struct loco_gen_job *jobs = calloc(n_miss, sizeof *jobs);
    int32_t **toks = calloc(n_miss, sizeof *toks), *pre = NULL;
    size_t n_pre = 0;
    int rc = jobs && toks ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (!rc && b->how->prefill)
        rc = loco_tokenizer_encode(tok, b->how->prefill, strlen(b->how->prefill), false, false,
                                   &pre, &n_pre);
    for (size_t j = 0; !rc && j < n_miss; j++) {
        size_t nt = 0;
        rc = request_tokens(m, p->chat_template, &b->reqs[miss[j]], pre, n_pre, &toks[j], &nt);
        jobs[j] = (struct loco_gen_job){.prompt = toks[j], .n_prompt = nt};
    }
    struct loco_context *ctx = rc ? NULL : context_for(m, p, b->how, &rc);
    double t0 = loco_time_ms();
    if (!rc)
        rc = loco_generate_many(ctx, tok, jobs, n_miss, &b->how->gp, job_done, b);
    b->tot->ms += loco_time_ms() - t0;
    for (size_t j = 0; jobs && toks && j < n_miss; j++) {
        struct gen_req *q = &b->reqs[miss[j]];
        if (!rc && jobs[j].status != LOCO_OK) {
            /* a prompt that does not fit is answered with nothing */
            q->status = jobs[j].status;
            q->output = strdup("");
        }
        loco_generate_result_free(&jobs[j].res);
        free(toks[j]);
    }
    loco_context_free(ctx);
    free(pre);
    free(jobs);
    free(toks);
    return rc;
}

int eval_sc_vote(const struct gen_how *how, const struct gen_req *q, const char *const *answers,
                 int32_t k, struct loco_eval_vote *v)
{
    *v = (struct loco_eval_vote){.k = k};
    if (!q->shown) {
        snprintf(v->by, sizeof v->by, "%s", loco_vote_rule(how->vote_domain));
        return loco_vote(how->vote_domain, answers, k, &v->winner, &v->share);
    }
    const struct loco_code_shown *sh = q->shown;
    const char *by = !sh->n_tests ? "code" : sh->entry_point ? "doctests" : "tests";
    snprintf(v->by, sizeof v->by, "%s", by);
    v->n_tests = (int32_t)sh->n_tests;
    struct loco_sandbox_params sp = eval_code_sandbox(); /* the scorer's limits */
    return loco_codeeval_vote(sh, &sp, answers, k, &v->winner, &v->share, v->passed);
}

/* The chosen one of the K answers to request q: the vote's winner (the
 * vote kept in q), or under usc the model's pick (a reply naming none: the
 * first answer). */
static int pick(const struct loco_model *m, struct loco_context *ctx, const struct gen_how *how,
                struct gen_req *q, const char **answers, int32_t k, int32_t *winner)
{
    if (!how->usc) {
        int rc = eval_sc_vote(how, q, answers, k, &q->vote);
        *winner = q->vote.winner;
        return rc;
    }
    int rc = loco_usc_pick(ctx, loco_model_tokenizer(m), m, q->msgs[q->n_msgs - 1].content,
                           answers, k, &how->gp, winner);
    return rc == LOCO_ERR_NOT_FOUND ? LOCO_OK : rc;
}

/* sc:K and usc:K: each request's K answers from one shared prefill, one
 * request after another on a context of K sequences; the vote's winner (or
 * the model's pick) is the answer. */
static int generate_sc(const struct loco_model *m, const struct loco_eval_params *p,
                       struct batch_run *b, const size_t *miss, size_t n_miss)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(m);
    struct loco_eval_params one = *p;
    one.slots = b->how->sc_k;
    int rc = LOCO_OK;
    struct loco_context *ctx = context_for(m, &one, b->how, &rc);
    int32_t k = b->how->sc_k;
    struct loco_generate_result *res = calloc((size_t)k, sizeof *res);
    const char **answers = calloc((size_t)k, sizeof *answers);
    if (!rc && (!res || !answers))
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t j = 0; !rc && j < n_miss; j++) {
        struct gen_req *q = &b->reqs[miss[j]];
        int32_t *toks = NULL, winner = 0, n_tokens = 0;
        size_t nt = 0;
        double t0 = loco_time_ms();
        rc = request_tokens(m, p->chat_template, q, NULL, 0, &toks, &nt);
        int st = rc ? rc : loco_generate_sc(ctx, tok, toks, nt, k, &b->how->gp, res);
        free(toks);
        if (!rc && st != LOCO_OK && st != LOCO_ERR_RANGE)
            rc = st; /* a decode failed: the batch stops */
        if (!rc && st != LOCO_OK) { /* a prompt longer than the context: no answer */
            q->status = st;
            q->output = strdup("");
            eval_phase_step(b->ph, 1);
            continue;
        }
        for (int32_t i = 0; !rc && i < k; i++) {
            answers[i] = res[i].text;
            n_tokens += res[i].n_generated;
        }
        if (!rc)
            rc = pick(m, ctx, b->how, q, answers, k, &winner);
        double ms = loco_time_ms() - t0;
        b->tot->ms += ms;
        if (!rc)
            eval_batch_keep(b, miss[j], res[winner].text, n_tokens, ms);
        for (int32_t i = 0; i < k; i++)
            loco_generate_result_free(&res[i]);
        eval_phase_step(b->ph, 1);
    }
    loco_context_free(ctx);
    free(res);
    free(answers);
    return rc;
}

/* Ask the judge endpoint for requests miss[n_miss], one after another. */
static int generate_remote(struct batch_run *b, const size_t *miss, size_t n_miss)
{
    for (size_t j = 0; j < n_miss; j++) {
        struct gen_req *q = &b->reqs[miss[j]];
        char *text = NULL;
        double t0 = loco_time_ms();
        int rc = loco_judge_http_chat(b->how->remote, q->msgs, q->n_msgs, b->how->gp.sampling.seed,
                                      &text);
        double ms = loco_time_ms() - t0;
        b->tot->ms += ms;
        if (rc)
            return rc;
        eval_batch_keep(b, miss[j], text, 0, ms);
        free(text);
        eval_phase_step(b->ph, 1);
    }
    return LOCO_OK;
}

int eval_run_batch(const struct loco_model *m, const struct loco_eval_params *p,
                   struct loco_evalcache *cache, const struct gen_how *how, struct gen_req *reqs,
                   size_t n, struct phase *ph, struct gen_totals *tot)
{
    char(*keys)[65] = calloc(n ? n : 1, sizeof *keys);
    size_t *miss = calloc(n ? n : 1, sizeof *miss), n_miss = 0, hits = 0;
    int rc = keys && miss ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = loco_evalcache_key(how->model_sha, how->adapter_desc, how->settings, reqs[i].key_text,
                                keys[i]);
        struct loco_evalcache_entry e;
        if (!rc && cache && loco_evalcache_get(cache, keys[i], &e) == LOCO_OK) {
            reqs[i] = (struct gen_req){.key_text = reqs[i].key_text,
                                       .msgs = reqs[i].msgs,
                                       .n_msgs = reqs[i].n_msgs,
                                       .shown = reqs[i].shown,
                                       .output = utf8_clean(e.output),
                                       .n_tokens = e.n_tokens,
                                       .cached = true};
            free(e.output);
            tot->cached++;
            tot->tokens += e.n_tokens;
            hits++;
        } else if (!rc) {
            miss[n_miss++] = i;
        }
    }
    if (!rc)
        eval_phase_step(ph, hits);
    struct batch_run b = {how, reqs, keys, miss, cache, ph, tot};
    if (!rc && n_miss)
        rc = how->remote     ? generate_remote(&b, miss, n_miss)
             : how->engine   ? eval_engine_generate(&b, miss, n_miss)
             : how->sc_k > 1 ? generate_sc(m, p, &b, miss, n_miss)
                             : generate_local(m, p, &b, miss, n_miss);
    for (size_t i = 0; !rc && i < n; i++)
        if (!reqs[i].output)
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    free(keys);
    free(miss);
    return rc;
}

void eval_reqs_clear(struct gen_req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(reqs[i].output);
        reqs[i] = (struct gen_req){.key_text = reqs[i].key_text,
                                   .msgs = reqs[i].msgs,
                                   .n_msgs = reqs[i].n_msgs,
                                   .shown = reqs[i].shown};
    }
}

void eval_reqs_free(struct gen_req *reqs, size_t n)
{
    for (size_t i = 0; reqs && i < n; i++) {
        free(reqs[i].output);
        free(reqs[i].msgs);
    }
    free(reqs);
}
