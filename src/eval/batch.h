/*
 * batch.h - answering a list of prompts through the generation cache, the
 * one path every generation of an evaluation takes (answers, samples and
 * judgments alike). Private to src/eval.
 */
#ifndef LOCO_EVAL_BATCH_H
#define LOCO_EVAL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/codeeval.h"
#include "loco/eval.h"
#include "loco/evalcache.h"
#include "loco/generate.h"
#include "loco/judge.h"
#include "loco/remote.h"

/* One generation the evaluation needs. */
struct gen_req {
    const char *key_text;       /* the prompt text the cache key names (borrowed) */
    struct loco_chat_msg *msgs; /* the conversation: array owned, texts borrowed */
    size_t n_msgs;
    char *output; /* the answer, valid UTF-8, malloc'd; "" when not generated */
    int32_t n_tokens;
    bool cached;
    int status; /* LOCO_OK, or why it was not generated */
    /* sc:K on code: the tests the prompt shows (borrowed), which the vote
     * runs (loco_codeeval_vote); NULL: loco_vote on the batch's domain */
    const struct loco_code_shown *shown;
    struct loco_eval_vote vote; /* sc:K: the vote that chose output (k 0: none) */
};

/* The connections to the answers' engine (p->engine), one per request in
 * flight: a loco_remote handle serves one thread at a time. */
struct eval_engine {
    struct loco_remote *conn[LOCO_EVAL_MAX_ENGINE_PARALLEL];
    size_t n;
};

/* How one batch of requests is answered: the same model, adapter and
 * decoding for all of them. */
struct gen_how {
    const char *model_sha, *adapter_desc, *settings; /* the cache key's other parts */
    const struct loco_adapter *adapter;              /* NULL: the base model */
    float scale;
    const struct loco_adapter_ref *also; /* more of a run-time set with adapter: n_also */
    int32_t n_also;
    struct loco_generate_params gp;
    const char *prefill;                    /* appended after the assistant header, or NULL */
    const struct loco_judge_params *remote; /* not NULL: ask this endpoint, not the model */
    /* self-consistency (strategy sc:K): sc_k > 1 answers each request with
     * sc_k sampled answers (loco_generate_sc, one prompt prefill shared) and
     * keeps the one eval_sc_vote picks: by the request's shown tests when it
     * has them, else loco_vote(vote_domain, ...); n_tokens counts all */
    int32_t sc_k;
    const char *vote_domain;
    /* usc:K (with sc_k = K): the model picks the most consistent of the K
     * answers (loco_usc_pick on the question, the request's last message)
     * instead of the vote; a reply naming none keeps the first answer */
    bool usc;
    /* not NULL: the answers come from this engine, asked for the adapter set
     * set[n_set] (0: the base model); gp's temperature, top_p, seed and
     * max_tokens are sent (sc_k: K requests, seeds gp's + i, one vote) */
    const struct eval_engine *engine;
    const struct loco_remote_adapter *set;
    size_t n_set;
};

/* Progress of one phase ("answers", "scoring", "judging") of one side. */
struct phase {
    loco_eval_progress_fn fn;
    void *user;
    const char *bench, *name;
    int side;
    size_t done, total;
};

/* What the batches of a phase cost. */
struct gen_totals {
    double ms;
    int64_t tokens;
    size_t cached;
};

/* Report k more steps of the phase to its callback. */
void eval_phase_step(struct phase *ph, size_t k);

/* Answer reqs[n] as `how` says: read from `cache` (may be NULL) what it
 * holds, generate the rest (with m over p's slots, or from the endpoint)
 * and store them. Every request then has an output (malloc'd, valid
 * UTF-8): a request that could not be generated (a prompt longer than the
 * context) gets "" and its status. An error that stops the batch (decode,
 * HTTP, allocation) is returned; the judgments and answers made before it
 * stay in the cache. ph counts each request answered; tot adds time,
 * tokens and cache hits. */
int eval_run_batch(const struct loco_model *m, const struct loco_eval_params *p,
                   struct loco_evalcache *cache, const struct gen_how *how, struct gen_req *reqs,
                   size_t n, struct phase *ph, struct gen_totals *tot);

/* ---- the answers' engine (remote_batch.c) -------------------------------- */

/* What an engine cannot answer (see struct loco_eval_engine):
 * LOCO_ERR_UNSUPPORTED naming it, LOCO_ERR_RANGE for parallel; LOCO_OK
 * without an engine. Part of loco_eval_params_check. */
int eval_engine_check(const struct loco_eval_params *p);
/* Open p->engine.parallel connections to p->engine (the first finds out
 * the kind when it is AUTO, the others take it). On failure none stay open. */
int eval_engine_open(const struct loco_eval_params *p, struct eval_engine *e);
void eval_engine_close(struct eval_engine *e);
/* A side's adapter set as the engine is asked for it, into out[cap] (cap >=
 * LOCO_MAX_SET_ADAPTERS): a at scale with p->also, by the adapters' names
 * and files (borrowed from the adapters); 0 when a is NULL (the base). */
size_t eval_engine_set(const struct loco_adapter *a, float scale, const struct loco_eval_params *p,
                       struct loco_remote_adapter *out, size_t cap);
/* What the cache key adds for answers from e asked for set[n]:
 * ";engine=KIND URL MODEL", into buf. Errors of loco_remote_model_for. */
int eval_engine_key(const struct eval_engine *e, const struct loco_remote_adapter *set, size_t n,
                    char *buf, size_t cap);

/* One batch being answered (batch.c): the requests, their cache keys, the
 * cache, the progress and the totals. */
struct batch_run {
    const struct gen_how *how;
    struct gen_req *reqs;
    char (*keys)[65];
    const size_t *job_req; /* job -> request */
    struct loco_evalcache *cache;
    struct phase *ph;
    struct gen_totals *tot;
};

/* Request i's answer is `text` (n_tokens generated in ms): kept as its
 * output (cleaned to valid UTF-8), counted, stored in the cache. */
void eval_batch_keep(struct batch_run *b, size_t i, const char *text, int32_t n_tokens, double ms);

/* Answer requests miss[n_miss] of b's batch on how->engine (batch.c's
 * generate path for an engine): at most e->n in flight, each answer kept
 * (and cached) as it arrives; the first error stops the batch. */
int eval_engine_generate(struct batch_run *b, const size_t *miss, size_t n_miss);

/* sc:K's vote on the k answers to q, into *v (v->winner the chosen one):
 * with q->shown the tests it shows (loco_codeeval_vote in the sandbox, with
 * the scorer's limits: loco_sandbox_default_params), else loco_vote on
 * how->vote_domain. Thread-compatible (the engine's workers vote at once). */
int eval_sc_vote(const struct gen_how *how, const struct gen_req *q, const char *const *answers,
                 int32_t k, struct loco_eval_vote *v);

/* Free the outputs of reqs[n] and reset them (the conversations and shown
 * tests stay) for the next batch. */
void eval_reqs_clear(struct gen_req *reqs, size_t n);
/* Free outputs, conversation arrays and reqs itself. */
void eval_reqs_free(struct gen_req *reqs, size_t n);

#endif
