/*
 * metrics.c - counters and histograms for `loco serve`, written in
 * Prometheus' text exposition format (loco/metrics.h).
 */
#include "loco/metrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sbuf.h"

#define N_BUCKETS 11
static const double time_bounds[N_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

struct histogram {
    uint64_t counts[N_BUCKETS + 1]; /* the last: above every bound */
    uint64_t n;
    double sum;
};

struct adapter_stats {
    char name[256];
    uint64_t answers, prompt_tokens, gen_tokens;
    struct histogram ttft, latency;
};

#define MAX_ENDPOINTS 16
#define MAX_STATUSES 12
static const char *const endpoints[MAX_ENDPOINTS] = {
    "/v1/chat/completions", "/v1/completions", "/v1/models", "/api/chat", "/api/generate",
    "/api/tags", "/health", "/metrics", "/", "/loco/leaderboard", "other"};

struct request_count {
    int endpoint, status;
    uint64_t n;
};

struct loco_metrics {
    pthread_mutex_t mu;
    struct request_count requests[MAX_ENDPOINTS * MAX_STATUSES];
    size_t n_requests;
    struct adapter_stats adapters[LOCO_METRICS_MAX_ADAPTERS + 1]; /* + "other" */
    size_t n_adapters;
};

struct loco_metrics *loco_metrics_new(void)
{
    struct loco_metrics *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->mu, NULL)) {
        free(m);
        return NULL;
    }
    return m;
}

void loco_metrics_free(struct loco_metrics *m)
{
    if (m) {
        pthread_mutex_destroy(&m->mu);
        free(m);
    }
}

void loco_metrics_request(struct loco_metrics *m, const char *endpoint, int status)
{
    int e = 0;
    while (endpoints[e] && strcmp(endpoints[e], "other") &&
           !(endpoint && !strcmp(endpoints[e], endpoint)))
        e++;
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_requests && !(m->requests[i].endpoint == e && m->requests[i].status == status))
        i++;
    if (i == m->n_requests && i < sizeof m->requests / sizeof *m->requests)
        m->requests[m->n_requests++] = (struct request_count){e, status, 0};
    if (i < m->n_requests)
        m->requests[i].n++;
    pthread_mutex_unlock(&m->mu);
}

static void observe(struct histogram *h, double v)
{
    size_t b = 0;
    while (b < N_BUCKETS && v > time_bounds[b])
        b++;
    h->counts[b]++;
    h->n++;
    h->sum += v;
}

void loco_metrics_answer(struct loco_metrics *m, const char *adapter, int64_t prompt_tokens,
                         int64_t gen_tokens, double ttft_s, double latency_s)
{
    const char *name = adapter && adapter[0] ? adapter : "base";
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_adapters && strcmp(m->adapters[i].name, name))
        i++;
    if (i == m->n_adapters) {
        if (m->n_adapters >= LOCO_METRICS_MAX_ADAPTERS)
            name = "other";
        i = 0;
        while (i < m->n_adapters && strcmp(m->adapters[i].name, name))
            i++;
        if (i == m->n_adapters) { /* room: the array holds one past the limit */
            snprintf(m->adapters[i].name, sizeof m->adapters[i].name, "%s", name);
            m->n_adapters++;
        }
    }
    struct adapter_stats *a = &m->adapters[i];
    a->answers++;
    a->prompt_tokens += prompt_tokens > 0 ? (uint64_t)prompt_tokens : 0;
    a->gen_tokens += gen_tokens > 0 ? (uint64_t)gen_tokens : 0;
    if (ttft_s >= 0)
        observe(&a->ttft, ttft_s);
    observe(&a->latency, latency_s);
    pthread_mutex_unlock(&m->mu);
}

/* A label value with \, " and newlines escaped. */
static void put_label(struct loco_sbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            loco_sbuf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            loco_sbuf_add(b, "\\n", 2);
        else
            loco_sbuf_add(b, v, 1);
    }
}

static void put_histogram(struct loco_sbuf *b, const char *metric, const char *adapter,
                          const struct histogram *h)
{
    uint64_t cum = 0;
    for (size_t k = 0; k <= N_BUCKETS; k++) {
        cum += h->counts[k];
        loco_sbuf_printf(b, "%s_bucket{adapter=\"", metric);
        put_label(b, adapter);
        if (k < N_BUCKETS)
            loco_sbuf_printf(b, "\",le=\"%g\"} %llu\n", time_bounds[k], (unsigned long long)cum);
        else
            loco_sbuf_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    loco_sbuf_printf(b, "%s_sum{adapter=\"", metric);
    put_label(b, adapter);
    loco_sbuf_printf(b, "\"} %.6f\n%s_count{adapter=\"", h->sum, metric);
    put_label(b, adapter);
    loco_sbuf_printf(b, "\"} %llu\n", (unsigned long long)h->n);
}

static void put_adapter_counter(struct loco_sbuf *b, const struct loco_metrics *m,
                                const char *metric, const char *help, size_t field)
{
    loco_sbuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", metric, help, metric);
    for (size_t i = 0; i < m->n_adapters; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&m->adapters[i] + field, sizeof v);
        loco_sbuf_printf(b, "%s{adapter=\"", metric);
        put_label(b, m->adapters[i].name);
        loco_sbuf_printf(b, "\"} %llu\n", (unsigned long long)v);
    }
}

char *loco_metrics_text(struct loco_metrics *m, const struct loco_sched_stats *st,
                        uint64_t rss_bytes)
{
    struct loco_sbuf b = {0};
    pthread_mutex_lock(&m->mu);
    loco_sbuf_printf(&b, "# HELP loco_http_requests_total HTTP requests answered, by endpoint "
                         "and status.\n# TYPE loco_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_requests; i++)
        loco_sbuf_printf(&b, "loco_http_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                         endpoints[m->requests[i].endpoint], m->requests[i].status,
                         (unsigned long long)m->requests[i].n);
    put_adapter_counter(&b, m, "loco_answers_total", "Answers finished, by adapter.",
                        offsetof(struct adapter_stats, answers));
    put_adapter_counter(&b, m, "loco_prompt_tokens_total", "Prompt tokens, by adapter.",
                        offsetof(struct adapter_stats, prompt_tokens));
    put_adapter_counter(&b, m, "loco_generated_tokens_total", "Generated tokens, by adapter.",
                        offsetof(struct adapter_stats, gen_tokens));
    loco_sbuf_printf(&b, "# HELP loco_time_to_first_token_seconds From the request to its "
                         "first token.\n# TYPE loco_time_to_first_token_seconds histogram\n");
    for (size_t i = 0; i < m->n_adapters; i++)
        put_histogram(&b, "loco_time_to_first_token_seconds", m->adapters[i].name,
                      &m->adapters[i].ttft);
    loco_sbuf_printf(&b, "# HELP loco_request_duration_seconds From the request to its last "
                         "token.\n# TYPE loco_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n_adapters; i++)
        put_histogram(&b, "loco_request_duration_seconds", m->adapters[i].name,
                      &m->adapters[i].latency);
    pthread_mutex_unlock(&m->mu);
    if (st) {
        loco_sbuf_printf(&b,
                         "# HELP loco_queue_depth Requests waiting for a slot.\n"
                         "# TYPE loco_queue_depth gauge\nloco_queue_depth %d\n"
                         "# HELP loco_running Requests in a slot.\n"
                         "# TYPE loco_running gauge\nloco_running %d\n"
                         "# HELP loco_slots Sequences the engine decodes together.\n"
                         "# TYPE loco_slots gauge\nloco_slots %d\n"
                         "# HELP loco_cached_prompt_tokens_total Prompt tokens reused from a "
                         "slot's cache.\n# TYPE loco_cached_prompt_tokens_total counter\n"
                         "loco_cached_prompt_tokens_total %llu\n",
                         st->queued, st->running, st->slots,
                         (unsigned long long)st->cached_tokens);
        loco_sbuf_printf(&b, "# HELP loco_batch_size Rows of each decode step.\n"
                             "# TYPE loco_batch_size histogram\n");
        uint64_t cum = 0;
        for (int k = 0; k < LOCO_SCHED_BATCH_BUCKETS; k++) {
            cum += st->batch_hist[k];
            loco_sbuf_printf(&b, "loco_batch_size_bucket{le=\"%d\"} %llu\n",
                             loco_sched_batch_bounds[k], (unsigned long long)cum);
        }
        loco_sbuf_printf(&b, "loco_batch_size_bucket{le=\"+Inf\"} %llu\n"
                             "loco_batch_size_sum %llu\nloco_batch_size_count %llu\n",
                         (unsigned long long)cum, (unsigned long long)st->step_rows,
                         (unsigned long long)st->steps);
    }
    if (rss_bytes)
        loco_sbuf_printf(&b, "# HELP process_resident_memory_bytes Resident memory size in "
                             "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
                             "process_resident_memory_bytes %llu\n",
                         (unsigned long long)rss_bytes);
    return loco_sbuf_finish(&b);
}

uint64_t loco_metrics_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? resident * (uint64_t)page : 0;
}
