/*
 * loco/generate.h - prompt in, streamed answer out.
 *
 * loco_generate() is the loop every front end shares (ask, chat, bench,
 * later the server and the evaluator): reuse the longest cached prefix of
 * the prompt in the sequence's KV cache, prefill the rest in batches,
 * then sample token by token, streaming each piece to a callback, until an
 * end-of-generation token, max_tokens, or the callback says stop.
 */
#ifndef LOCO_GENERATE_H
#define LOCO_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/model.h"
#include "loco/quant.h"
#include "loco/sample.h"
#include "loco/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

enum loco_stop_reason {
    LOCO_STOP_EOG = 0,        /* the model ended its turn */
    LOCO_STOP_MAX_TOKENS = 1, /* max_tokens reached */
    LOCO_STOP_CALLBACK = 2,   /* the callback asked to stop */
    LOCO_STOP_CONTEXT = 3,    /* the context is full */
};

struct loco_generate_params {
    int32_t max_tokens;
    struct loco_sampler_params sampling;
    /* Calculator-annotated decoding (strategy "calc", loco/strategy.h): when
     * the answer opens a GSM8K annotation "<<48/2=", the engine writes the
     * result "24>>" itself, as forced tokens (log-probability 0, streamed
     * to the callback and counted like generated ones), and the model goes
     * on. An expression the calculator refuses forces nothing. */
    bool calc;
};

struct loco_generate_params loco_generate_default_params(void);

/* Called once per generated token with its text piece (raw bytes, possibly
 * an incomplete UTF-8 sequence) and log-probability. Return false to stop. */
typedef bool (*loco_token_fn)(void *user, int32_t token, const char *piece, size_t len,
                              float logprob);

struct loco_generate_result {
    int32_t n_prompt;      /* prompt tokens */
    int32_t n_cached;      /* of which reused from the KV cache */
    int32_t n_generated;   /* generated tokens (the end-of-generation token excluded) */
    double prompt_ms;      /* prefill wall time */
    double generate_ms;    /* decode wall time (first sampled token to last) */
    enum loco_stop_reason stop;
    char *text;            /* malloc'd answer text; caller frees */
    int32_t *tokens;       /* malloc'd [n_generated]; caller frees */
    float *logprobs;       /* malloc'd [n_generated]; caller frees */
};

/* Generate on sequence `seq` of `ctx`. The prompt is the whole token
 * sequence the model should see (history included); cached positions that
 * match it are kept, the rest are recomputed. On success *res is filled;
 * free it with loco_generate_result_free(). */
int loco_generate(struct loco_context *ctx, int32_t seq, const struct loco_tokenizer *tok,
                  const int32_t *prompt, size_t n_prompt, const struct loco_generate_params *p,
                  loco_token_fn on_token, void *user, struct loco_generate_result *res);

void loco_generate_result_free(struct loco_generate_result *res);

/* ---- many prompts at once ------------------------------------------------ */

/* One prompt of loco_generate_many(): the caller fills prompt/n_prompt; the
 * function fills status and, when it is LOCO_OK, res. */
struct loco_gen_job {
    const int32_t *prompt;
    size_t n_prompt;
    int status;
    struct loco_generate_result res;
};

/* Called when job i is finished (in completion order); return false to stop
 * the whole run. */
typedef bool (*loco_job_fn)(void *user, size_t i, struct loco_gen_job *job);

/* Generate an answer for every job, using the context's n_seq sequences as
 * slots: a free slot takes the next job and prefills its prompt; every step
 * decodes one token of every running job in a single loco_decode call. Each
 * job gets its own sampler seeded with p->sampling.seed, and the numerics of
 * a job do not depend on which jobs share its batch (up to
 * LOCO_GENERATE_MAX_SLOTS slots; larger steps switch the products to
 * sgemm), so a job's answer is the one
 * loco_generate() gives on a fresh sequence. Each slot keeps the adapter
 * set it was given with loco_context_set_adapters() (set the same on all for
 * one adapter). A job that fails (e.g. a prompt longer than the context) gets
 * its error in status and the others go on. Jobs never started because
 * on_done stopped the run keep status LOCO_ERR_NOT_FOUND. Returns LOCO_OK, or
 * the error of a failed decode call (then unfinished jobs keep an error
 * status). Free each job's res with loco_generate_result_free(). */
#define LOCO_GENERATE_MAX_SLOTS (LOCO_MATMUL_QUANT_SGEMM_MIN_TOKENS - 1) /* 47 */
int loco_generate_many(struct loco_context *ctx, const struct loco_tokenizer *tok,
                       struct loco_gen_job *jobs, size_t n_jobs,
                       const struct loco_generate_params *p, loco_job_fn on_done, void *user);

/* Render a conversation with the model's chat template (detected from its
 * metadata, or `template_override` when not NULL: a family name such as
 * "chatml"), adding the template's default system prompt when the
 * conversation has none, and tokenize it (BOS added when the vocab asks).
 * On success *tokens is malloc'd. LOCO_ERR_UNSUPPORTED with a message naming
 * --chat-template when the template is unknown. */
int loco_chat_tokenize(const struct loco_model *m, const char *template_override,
                       const struct loco_chat_msg *msgs, size_t n_msgs, int32_t **tokens,
                       size_t *n_tokens);

/* Milliseconds from a monotonic clock. */
double loco_time_ms(void);

#ifdef __cplusplus
}
#endif
#endif
