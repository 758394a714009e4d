/*
 * loco/sched.h - one decode loop serving many requests (continuous
 * batching across adapters), for `loco serve`.
 *
 * The scheduler owns a context of n_seq sequences ("slots") and a thread.
 * Requests arrive from any thread with loco_sched_submit() and wait in a
 * bounded queue; a free slot takes the oldest one. Every step of the loop
 * prefills one chunk of one waiting prompt (round robin, n_batch tokens, as
 * loco_generate chunks it), then decodes one token of every running
 * request in a single loco_decode call, whatever adapter set each has. So
 * a long prompt never stalls the answers being streamed, and a request's
 * answer is the one loco_generate gives it alone (numerics do not depend on
 * the batch, loco/generate.h).
 *
 * A finished or cancelled request frees its slot at once. With
 * reuse_prefix a slot keeps its KV cache for the next request that starts
 * with the same tokens under the same adapters.
 *
 * Callbacks run on the scheduler's thread and must not block: copy what
 * you need and signal your own thread.
 */
#ifndef LOCO_SCHED_H
#define LOCO_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/generate.h"
#include "loco/lora.h"

#ifdef __cplusplus
extern "C" {
#endif

struct loco_sched; /* opaque */

struct loco_sched_params {
    int32_t max_queue; /* requests waiting for a slot before submit refuses (LOCO_ERR_BUSY) */
    /* tokens per prefill chunk (0: the context's n_batch, as loco_generate
     * chunks a prompt). Smaller chunks interleave a long prompt more finely
     * with the answers being decoded. */
    int32_t prefill_chunk;
    /* keep a finished request's KV cache in its slot and let the next
     * request with the same adapters and the same first tokens (a chat's
     * next turn) start after them. Faster, but the reused and the newly
     * computed positions then come from decode calls of other sizes, whose
     * float rounding differs: the same request may get another answer than
     * on a fresh slot. Off, every prompt is prefilled from its start, so a
     * request's answer is the one loco_generate gives it on a fresh
     * sequence, whatever ran before. */
    bool reuse_prefix;
};

struct loco_sched_params loco_sched_default_params(void);

/* Called exactly once per accepted request, when it ends: status LOCO_OK
 * with res filled (ownership passes to the callee: free it with
 * loco_generate_result_free), or an error (res zeroed) when the prompt did
 * not fit, decoding failed, or the scheduler stopped before it ran. */
typedef void (*loco_sched_done_fn)(void *user, int status, struct loco_generate_result *res);

struct loco_sched_request {
    const int32_t *prompt; /* copied by submit */
    size_t n_prompt;
    struct loco_adapter_ref adapters[LOCO_MAX_SET_ADAPTERS]; /* borrowed: must outlive the request */
    int32_t n_adapters;
    struct loco_generate_params gen;
    /* every token of the answer (forced calc tokens too) with its text
     * piece, or NULL; returning false ends the request with
     * LOCO_STOP_CALLBACK and the text so far */
    loco_token_fn on_token;
    loco_sched_done_fn on_done;   /* required */
    void *user;
};

/* Start the loop on ctx (borrowed; nothing else may use it until
 * loco_sched_stop returns). NULL on failure (loco_error_message says why). */
struct loco_sched *loco_sched_start(struct loco_context *ctx, const struct loco_tokenizer *tok,
                                    const struct loco_sched_params *p);

/* Queue a request. *id (when not NULL) gets its id for loco_sched_cancel.
 * LOCO_ERR_BUSY when the queue is full, LOCO_ERR_INVALID for an empty
 * prompt, no on_done or too many adapters, LOCO_ERR_RANGE for a prompt the
 * context cannot hold, LOCO_ERR_IO once stopping; on_done is then never
 * called. */
int loco_sched_submit(struct loco_sched *s, const struct loco_sched_request *r, uint64_t *id);

/* End request id early (waiting or running): it finishes with
 * LOCO_STOP_CALLBACK (running) or LOCO_ERR_CANCELLED (still waiting), through
 * on_done as usual. Unknown or finished ids are ignored. */
void loco_sched_cancel(struct loco_sched *s, uint64_t id);

#define LOCO_SCHED_BATCH_BUCKETS 7
extern const int32_t loco_sched_batch_bounds[LOCO_SCHED_BATCH_BUCKETS]; /* 1 2 4 8 16 32 47 */

/* End every request now, waiting and running, as loco_sched_cancel does
 * for one (shutting down past a drain); the loop goes on for new ones. */
void loco_sched_cancel_all(struct loco_sched *s);

struct loco_sched_stats {
    int32_t slots;          /* n_seq */
    int32_t running;        /* requests in a slot (prefilling or decoding) */
    int32_t queued;         /* requests waiting for a slot */
    uint64_t submitted;     /* accepted by submit */
    uint64_t finished;      /* on_done called */
    uint64_t steps;         /* decode steps run */
    uint64_t step_rows;     /* sum of the rows of every decode step */
    uint64_t prompt_tokens; /* prefilled (cached positions excluded) */
    uint64_t cached_tokens; /* prompt positions reused from a slot's cache */
    uint64_t gen_tokens;    /* answer tokens */
    int32_t last_batch;     /* rows of the last decode step */
    /* decode steps by rows: [k] counts steps with at most
     * loco_sched_batch_bounds[k] rows (and more than the bound before) */
    uint64_t batch_hist[LOCO_SCHED_BATCH_BUCKETS];
};

void loco_sched_stats(struct loco_sched *s, struct loco_sched_stats *out);

/* Stop the loop. drain: stop taking requests, let waiting and running ones
 * finish, at most `drain_ms` milliseconds (< 0: no limit); what is left then
 * (or everything, without drain) is cancelled and reported through on_done.
 * Frees s; the context is the caller's again. */
void loco_sched_stop(struct loco_sched *s, bool drain, double drain_ms);

#ifdef __cplusplus
}
#endif
#endif
