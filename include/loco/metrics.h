/*
 * loco/metrics.h - what `loco serve` counts, in Prometheus' text format
 * (GET /metrics): requests by endpoint and status, tokens, time to first
 * token and latency histograms per adapter, and the scheduler's queue
 * depth, running requests and batch sizes.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef LOCO_METRICS_H
#define LOCO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "loco/sched.h"

#ifdef __cplusplus
extern "C" {
#endif

struct loco_metrics; /* opaque */

struct loco_metrics *loco_metrics_new(void);
void loco_metrics_free(struct loco_metrics *m);

/* One HTTP exchange finished with `status` on `endpoint` (e.g.
 * "/v1/chat/completions"; paths the server does not know count as
 * "other"). */
void loco_metrics_request(struct loco_metrics *m, const char *endpoint, int status);

/* One answer finished, by `adapter` ("base" for the base model, "a+b" for a
 * set): its tokens, time to first token and whole latency in seconds
 * (ttft < 0: no token came). At most LOCO_METRICS_MAX_ADAPTERS names are
 * kept apart; the rest count as "other". */
#define LOCO_METRICS_MAX_ADAPTERS 64
void loco_metrics_answer(struct loco_metrics *m, const char *adapter, int64_t prompt_tokens,
                         int64_t gen_tokens, double ttft_s, double latency_s);

/* The exposition text (malloc'd; NULL when out of memory), with the
 * scheduler's figures from st (NULL: left out) and the process' resident
 * memory in bytes (0: left out). */
char *loco_metrics_text(struct loco_metrics *m, const struct loco_sched_stats *st,
                        uint64_t rss_bytes);

/* The resident set size of this process in bytes (from /proc), 0 when
 * unknown. */
uint64_t loco_metrics_rss(void);

#ifdef __cplusplus
}
#endif
#endif
