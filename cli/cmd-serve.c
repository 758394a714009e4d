/*
 * cmd-serve.c - `loco serve`: an OpenAI- and Ollama-compatible HTTP server
 * over one model, its routed adapters and one batching scheduler.
 *
 * Start-up: load the model, give it a context of --slots sequences, open
 * the registry and router, the exchange log and the scheduler, then
 * listen. SIGTERM or SIGINT: stop accepting, let running requests finish
 * for up to --drain seconds (a second signal cancels them at once), close
 * every connection, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "serve.h"

static const char serve_usage[] =
    "usage: loco serve [options]\n\n"
    "Answers OpenAI's /v1/chat/completions, /v1/completions and /v1/models,\n"
    "Ollama's /api/chat, /api/generate and /api/tags, and shows a chat page at /.\n"
    "Model 'loco' is routed (the registry's router picks the adapter, only proven\n"
    "adapters answer unless --serve-candidates); 'loco:base' is the base model;\n"
    "'loco:NAME' an adapter; 'loco:A+B:0.5' a set with scales. Every request is a\n"
    "sequence in one decode loop, whatever its adapter (docs/api.md).\n\noptions:\n";

static const char serve_epilog[] =
    "\nBinds 127.0.0.1 unless --host says otherwise; another address needs an API key\n"
    "(--api-key or LOCO_API_KEY), which every endpoint but / and /health then asks\n"
    "for as 'Authorization: Bearer KEY'. --ctx is per slot here, default 1024.\n"
    "Endpoints, fields and limits: docs/api.md.\n";

static void serve_defaults(struct serve_opts *o)
{
    *o = (struct serve_opts){.host = "127.0.0.1",
                             .port = 8080,
                             .slots = 8,
                             .max_queue = 64,
                             .max_connections = 64,
                             .idle_timeout_s = 30,
                             .request_timeout_s = 30,
                             .max_tokens_limit = 4096,
                             .max_n = 4,
                             .drain_s = 30,
                             .max_body = 1 << 20};
}

/* Load the model with a context of o.slots sequences, the router, the log,
 * the scheduler. Prints why and returns false on failure. */
/* --engine: check the engine answers and keep that first handle. */
static bool engine_open(struct server *srv)
{
    const struct cli_remote_opts *eo = &srv->o.engine;
    srv->engine_kind = LOCO_REMOTE_AUTO;
    if (eo->kind && loco_remote_kind_parse(eo->kind, &srv->engine_kind) != LOCO_OK) {
        cli_fail("--engine-kind");
        return false;
    }
    srv->engine_key = eo->key ? eo->key : getenv("LOCO_ENGINE_KEY");
    struct loco_remote *r = loco_remote_open(eo->url, srv->engine_kind, srv->engine_key);
    if (!r) {
        cli_fail("cannot use --engine");
        return false;
    }
    srv->engine_kind = loco_remote_kind(r);
    srv->idle[srv->n_idle++] = r;
    return true;
}

static bool server_open(struct server *srv)
{
    int n_ctx = srv->eo.n_ctx;
    if (srv->o.engine.url && !engine_open(srv))
        return false;
    if (!cli_engine_open(&srv->e, &srv->eo))
        return false;
    if (srv->o.engine.url) /* the model routes; the engine generates */
        srv->o.slots = 1;
    loco_context_free(srv->e.ctx);
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_seq = srv->o.slots;
    cp.n_threads = srv->eo.threads;
    cp.n_batch = n_ctx < 512 ? n_ctx : 512;
    srv->e.ctx = loco_context_init(srv->e.model, cp);
    if (!srv->e.ctx) {
        cli_fail("cannot create the context");
        return false;
    }
    const char *slash = strrchr(srv->e.path, '/');
    srv->model_name = slash ? slash + 1 : srv->e.path;
    enum loco_serve_mode mode =
        srv->o.serve_candidates ? LOCO_SERVE_CANDIDATES : LOCO_SERVE_REGISTRY;
    srv->routing = cli_router_open(&srv->cr, &srv->e, srv->o.router, mode, srv->o.registry);
    if (!srv->routing && (srv->o.router || srv->o.registry))
        return false; /* a named router or registry must work */
    if (!srv->o.no_log && !loco_exchlog_disabled() &&
        loco_exchlog_open(NULL, &srv->log) != LOCO_OK) {
        cli_fail("cannot open the exchange log; serving without it");
        srv->log = NULL;
    }
    srv->metrics = loco_metrics_new();
    srv->limits = loco_api_default_limits();
    srv->limits.max_tokens = srv->o.max_tokens_limit;
    srv->limits.max_n = srv->o.max_n;
    srv->limits.max_body = srv->o.max_body;
    if (srv->o.engine.url)
        return srv->metrics != NULL;
    struct loco_sched_params sp = loco_sched_default_params();
    sp.max_queue = srv->o.max_queue;
    sp.prefill_chunk = srv->o.prefill_chunk;
    sp.reuse_prefix = srv->o.prompt_cache;
    srv->sched = srv->metrics ? loco_sched_start(srv->e.ctx, loco_model_tokenizer(srv->e.model),
                                                 &sp)
                              : NULL;
    if (!srv->sched) {
        cli_fail("cannot start the scheduler");
        return false;
    }
    return true;
}

static void server_close(struct server *srv)
{
    if (srv->sched)
        loco_sched_stop(srv->sched, false, 0);
    srv->sched = NULL;
    /* --engine: wait for the requests still being forwarded (they hold
     * the adapters and the metrics) */
    while (atomic_load(&srv->remote_running) > 0) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&tick, NULL);
    }
    for (int i = 0; i < srv->n_idle; i++)
        loco_remote_close(srv->idle[i]);
    srv->n_idle = 0;
    loco_metrics_free(srv->metrics);
    loco_exchlog_close(srv->log);
    cli_router_close(&srv->cr);
    cli_engine_close(&srv->e);
    pthread_mutex_destroy(&srv->many_mu);
    pthread_mutex_destroy(&srv->remote_mu);
    pthread_mutex_destroy(&srv->mu);
}

/* Wait for SIGTERM/SIGINT (blocked in every thread), then drain: no new
 * connections, the requests received get --drain seconds to be answered in
 * full (a second signal ends them now); then whatever still runs is
 * cancelled, so that closing the connections waits for nothing long. */
static void wait_and_drain(struct server *srv, const sigset_t *sigs)
{
    int sig = 0;
    while (sigwait(sigs, &sig) != 0)
        ;
    fprintf(stderr, "loco serve: %s: finishing %s requests (up to %d s; again to stop now)\n",
            sig == SIGINT ? "interrupted" : "terminated", "running", srv->o.drain_s);
    atomic_store(&srv->stopping, true);
    serve_http_quiesce(srv);
    double until = loco_time_ms() + 1e3 * srv->o.drain_s;
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
    while (atomic_load(&srv->in_flight) > 0 && loco_time_ms() < until)
        if (sigtimedwait(sigs, NULL, &tick) >= 0)
            break; /* a second signal: stop now */
    atomic_store(&srv->abort, true); /* answers still being made end at their next token */
    loco_sched_cancel_all(srv->sched);
}

int cmd_serve(int argc, char **argv)
{
    struct server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        cli_errorf("out of memory");
        return 1;
    }
    serve_defaults(&srv->o);
    cli_engine_defaults(&srv->eo);
    srv->eo.n_ctx = 1024; /* per slot: 8 x 1024 tokens of cache, about 380 MiB */
    int max_body_kib = (int)(srv->o.max_body / 1024);
    struct serve_opts *o = &srv->o;
    struct cli_option opts[] = {
        CLI_OPT_GROUP("server:"),
        CLI_OPT_STRING(0, "host", &o->host, "ADDR",
                       "address to listen on (default: 127.0.0.1; another one\n"
                       "needs an API key)"),
        CLI_OPT_INT(0, "port", &o->port, "N", 0, 65535, "port (default: 8080; 0: any free one)"),
        CLI_OPT_STRING(0, "api-key", &o->api_key, "KEY",
                       "require 'Authorization: Bearer KEY' (also LOCO_API_KEY)"),
        CLI_OPT_INT(0, "slots", &o->slots, "N", 1, LOCO_GENERATE_MAX_SLOTS,
                    "requests decoded together (default: 8)"),
        CLI_OPT_INT(0, "max-queue", &o->max_queue, "N", 1, 100000,
                    "requests waiting for a slot before 429 (default: 64)"),
        CLI_OPT_INT(0, "max-connections", &o->max_connections, "N", 1, 10000,
                    "open connections (default: 64)"),
        CLI_OPT_INT(0, "idle-timeout", &o->idle_timeout_s, "S", 1, 86400,
                    "close a connection silent for S seconds (default: 30)"),
        CLI_OPT_INT(0, "request-timeout", &o->request_timeout_s, "S", 1, 86400,
                    "a request's headers and body must arrive within S\n"
                    "seconds, however slowly they trickle in (default: 30)"),
        CLI_OPT_INT(0, "max-tokens-limit", &o->max_tokens_limit, "N", 1, 1 << 20,
                    "the largest max_tokens a request may ask (default: 4096)"),
        CLI_OPT_INT(0, "max-n", &o->max_n, "N", 1, 8, "the most choices (n) (default: 4)"),
        CLI_OPT_INT(0, "max-body-kib", &max_body_kib, "N", 1, 1 << 20,
                    "request body limit in KiB (default: 1024)"),
        CLI_OPT_INT(0, "prefill-chunk", &o->prefill_chunk, "N", 0, 1 << 20,
                    "prompt tokens per prefill step, between decode steps\n"
                    "(default: 512, as loco ask; smaller interleaves long\n"
                    "prompts more finely, and answers may then differ from ask)"),
        CLI_OPT_FLAG(0, "prompt-cache", &o->prompt_cache,
                     "reuse a slot's cached prompt prefix (a chat's next turn):\n"
                     "faster, but an answer may then differ slightly from the\n"
                     "one the same request gets on a fresh slot"),
        CLI_OPT_INT(0, "drain", &o->drain_s, "S", 0, 86400,
                    "on SIGTERM, answer the requests received for up to S\n"
                    "seconds, then cancel the rest (default: 30)"),
        CLI_OPT_FLAG(0, "no-log", &o->no_log,
                     "do not log exchanges (loco logs; also LOCO_NO_LOG=1)"),
        CLI_OPT_GROUP("routing:"),
        CLI_OPT_STRING(0, "router", &o->router, "NAME",
                       "route with this router (default: the registry's)"),
        CLI_SERVE_OPTION(&o->serve_candidates),
        CLI_REGISTRY_OPTION(&o->registry),
        CLI_REMOTE_OPTIONS(&o->engine),
        CLI_ENGINE_MODEL_OPTIONS(&srv->eo),
        CLI_OPT_STRING(0, "chat-template", &srv->eo.chat_template, "NAME",
                       "chatml, gemma, llama3 or phi3 (default: from the model)"),
        CLI_ENGINE_SAMPLING_OPTIONS(&srv->eo),
        CLI_OPT_END(),
    };
    struct cli_command c = {"serve", serve_usage, serve_epilog, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0) {
        free(srv);
        return cli_opt_exit(n_args);
    }
    o->max_body = (size_t)max_body_kib * 1024;
    if (!o->api_key && getenv("LOCO_API_KEY") && getenv("LOCO_API_KEY")[0])
        o->api_key = getenv("LOCO_API_KEY");
    if (o->api_key && !o->api_key[0]) {
        cli_errorf("--api-key is empty");
        free(srv);
        return 2;
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->many_mu, NULL);
    pthread_mutex_init(&srv->remote_mu, NULL);
    srv->listen_fd = -1;
    /* signals go to sigwait in this thread only: block them before any
     * thread starts (threads inherit the mask) */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    if (server_open(srv) && serve_http_start(srv)) {
        bool v6 = strchr(o->host, ':') != NULL;
        if (o->engine.url)
            fprintf(stderr, "loco serve: routing with %s %s; generating on %s (%s)\n",
                    srv->model_name, srv->routing ? "on" : "off", o->engine.url,
                    loco_remote_kind_name(srv->engine_kind));
        else
            fprintf(stderr,
                    "loco serve: %s, %d slots x %d tokens (%.0f MiB of cache), %d threads, "
                    "routing %s\n",
                    srv->model_name, o->slots, srv->eo.n_ctx,
                    (double)loco_context_bytes(srv->e.ctx) / (1 << 20), srv->eo.threads,
                    srv->routing ? "on" : "off (the base model answers 'loco')");
        fprintf(stderr, "loco serve: listening on http://%s%s%s:%d%s\n", v6 ? "[" : "", o->host,
                v6 ? "]" : "", srv->port, o->api_key ? " (API key required)" : "");
        wait_and_drain(srv, &sigs);
        serve_http_stop(srv);
        fprintf(stderr, "loco serve: stopped\n");
        rc = 0;
    }
    server_close(srv);
    free(srv);
    return rc;
}
