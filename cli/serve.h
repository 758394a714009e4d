/*
 * serve.h - what the parts of `loco serve` share: the server's state
 * (cmd-serve.c sets it up), the HTTP layer (serve-http.c: libmicrohttpd,
 * limits, auth, streaming) and the API handlers (serve-api.c: OpenAI and
 * Ollama requests turned into scheduler jobs, answers into JSON).
 */
#ifndef LOCO_CLI_SERVE_H
#define LOCO_CLI_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli-engine.h"
#include "cli-remote.h"
#include "cli-route.h"
#include "loco/api.h"
#include "loco/exchlog.h"
#include "loco/metrics.h"
#include "loco/remote.h"
#include "loco/sched.h"

struct serve_opts {
    const char *host;
    int port;
    const char *api_key;  /* NULL: none (loopback only) */
    int slots;            /* sequences decoded together */
    int max_queue;        /* waiting requests before 429 */
    int max_connections;  /* open connections */
    int idle_timeout_s;   /* a connection silent this long is closed */
    int request_timeout_s; /* a request's headers and body must arrive within this */
    int max_tokens_limit; /* the largest max_tokens a request may ask for */
    int max_n;            /* the most choices per request */
    int prefill_chunk;    /* tokens per prefill chunk (loco/sched.h) */
    bool prompt_cache;    /* reuse a slot's cached prefix (loco/sched.h reuse_prefix) */
    int drain_s;          /* SIGTERM: how long running requests may finish */
    size_t max_body;      /* request body bytes */
    const char *router;   /* NULL: the registry's */
    const char *registry; /* --registry FILE, or NULL */
    bool serve_candidates;
    bool no_log;
    struct cli_remote_opts engine; /* --engine URL: generation elsewhere */
};

struct server {
    struct serve_opts o;
    struct cli_engine_opts eo;
    struct cli_engine e;   /* the model, loaded adapters; e.ctx is the scheduler's */
    struct cli_router cr;  /* registry + router; reg NULL when routing is off */
    bool routing;
    const char *model_name; /* the model file's name (in e.path), for /health */
    pthread_mutex_t mu;    /* guards cr, e.loaded, log (not e.ctx: the scheduler's) */
    pthread_mutex_t many_mu; /* one voted answer (sc, usc, ensemble) at a time */
    struct loco_sched *sched;
    struct loco_metrics *metrics;
    struct loco_exchlog *log;
    struct loco_api_limits limits;
    atomic_bool stopping;
    atomic_bool abort;     /* shutting down past the drain: every answer ends now */
    atomic_int in_flight;  /* HTTP requests received and not yet answered in full */
    int port;              /* the bound port */
    void *http;            /* the libmicrohttpd daemon (serve-http.c) */
    void *watch;           /* its watchdog for slow clients (serve-http.c) */
    int listen_fd;         /* its listening socket once quiesced, else -1 */
    /* --engine: generation on another engine (loco/remote.h); sched is NULL
     * then. A handle serves one request at a time: idle ones wait here. */
    enum loco_remote_kind engine_kind;
    const char *engine_key;
    pthread_mutex_t remote_mu;
    struct loco_remote *idle[16];
    int n_idle;
    atomic_int remote_running;
};

/* ---- serve-http.c ----------------------------------------------------------- */

/* Start listening on o.host:o.port (the bound port into srv->port). Prints
 * why and returns false on failure. */
bool serve_http_start(struct server *srv);
/* Stop accepting new connections (SIGTERM's first step). */
void serve_http_quiesce(struct server *srv);
/* Close every connection and stop. */
void serve_http_stop(struct server *srv);
/* Connections shut down for sending their request too slowly. */
unsigned long serve_http_slow_closed(const struct server *srv);

/* What a handler answers: a status, a content type and a body, or a
 * stream (chunked) that the HTTP layer pulls from. */
struct serve_stream;
struct serve_reply {
    int status;
    const char *content_type;
    char *body; /* malloc'd; NULL with a stream */
    size_t len;
    struct serve_stream *stream;
    /* extra headers (X-Loco-*, Retry-After): "Name: value" pairs */
    char headers[8][2][160];
    int n_headers;
};

void serve_reply_header(struct serve_reply *r, const char *name, const char *value);
/* r becomes the OpenAI error for err. */
void serve_reply_error(struct serve_reply *r, const struct loco_api_error *err);

/* ---- serve-api.c ------------------------------------------------------------ */

/* The request a connection carries, for the handlers. */
struct serve_conn {
    int fd;           /* the client's socket, to notice a disconnect */
    double t0;        /* arrival (loco_time_ms) */
};

/* POST /v1/chat/completions, /v1/completions, /api/chat, /api/generate. */
void serve_generate(struct server *srv, const struct serve_conn *c, enum loco_api_kind kind,
                    const char *body, size_t len, struct serve_reply *r);
/* GET /v1/models, /api/tags, /loco/leaderboard, /health, /metrics. */
void serve_models(struct server *srv, bool ollama, struct serve_reply *r);
void serve_leaderboard(struct server *srv, struct serve_reply *r);
void serve_health(struct server *srv, struct serve_reply *r);
void serve_metrics(struct server *srv, struct serve_reply *r);

/* A stream's next bytes into buf (at most cap), waiting for them; 0 at its
 * end. Returns -1 when the client has gone (the stream is then cancelled). */
long serve_stream_read(struct serve_stream *st, char *buf, size_t cap);
/* The HTTP layer is done with st (sent or the client left): cancel what
 * still runs, wait for the scheduler to let go, free it. */
void serve_stream_free(struct serve_stream *st);

/* Whether the client on fd has closed its side (a read would give EOF). */
bool serve_client_gone(int fd);

#endif
