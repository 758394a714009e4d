/*
 * cli-remote.c - ask and chat on another engine (see cli-remote.h).
 */
#include "cli-remote.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-history.h"
#include "cli-log.h"
#include "cli-route.h"
#include "cli-strategy.h"
#include "commands.h"
#include "loco/remote.h"

/* An adapter set as the engine is asked for it. */
struct remote_set {
    struct loco_remote_adapter a[LOCO_MAX_SET_ADAPTERS];
    char names[LOCO_MAX_SET_ADAPTERS][256];
    char paths[LOCO_MAX_SET_ADAPTERS][4096]; /* the local file when there is one, else "" */
    size_t n;
};

/* One ask or chat session on an engine. */
struct session {
    const struct cli_remote_args *a;
    struct loco_remote *r;
    struct cli_engine e; /* the local model, only for a router that reads it */
    bool model_open;
    struct cli_router cr;
    bool router_open;
    struct cli_log log;
    char model_label[600]; /* what the log names as the model: "vllm http://..." */
};

/* ---- adapter sets ------------------------------------------------------- */

static void set_one(struct remote_set *s, const char *name, const char *path, float scale)
{
    size_t i = s->n++;
    snprintf(s->names[i], sizeof s->names[i], "%s", name);
    snprintf(s->paths[i], sizeof s->paths[i], "%s", path ? path : "");
    s->a[i] = (struct loco_remote_adapter){s->names[i], s->paths[i][0] ? s->paths[i] : NULL, scale};
}

/* "NAME[:S],..." (a name, or a file: its name is the file's stem), "none"
 * or "base" for the base model. The adapters need not exist here. */
static bool set_from_spec(struct remote_set *set, const char *spec)
{
    set->n = 0;
    if (!strcmp(spec, "none") || !strcmp(spec, "base"))
        return true;
    struct loco_adapter_spec specs[LOCO_MAX_SET_ADAPTERS];
    int n = loco_adapter_spec_parse(spec, specs, LOCO_MAX_SET_ADAPTERS);
    if (n < 0) {
        cli_fail("bad --adapter value");
        return false;
    }
    for (int i = 0; i < n; i++) {
        char path[4096] = "", name[256];
        const char *slash = strrchr(specs[i].name, '/');
        snprintf(name, sizeof name, "%.255s", slash ? slash + 1 : specs[i].name);
        size_t len = strlen(name);
        if (len > 5 && !strcmp(name + len - 5, ".gguf"))
            name[len - 5] = '\0';
        if (loco_adapters_resolve(specs[i].name, path, sizeof path) != LOCO_OK)
            path[0] = '\0'; /* served by the engine alone: fine */
        set_one(set, name, path, specs[i].scale);
    }
    return true;
}

/* *dst = *src, with dst's adapters pointing at dst's own names and paths. */
static void set_copy(struct remote_set *dst, const struct remote_set *src)
{
    *dst = (struct remote_set){0};
    for (size_t i = 0; i < src->n; i++)
        set_one(dst, src->names[i], src->paths[i], src->a[i].scale);
}

static void set_from_route(struct remote_set *set, const struct loco_route_decision *d)
{
    set->n = 0;
    if (d->adapter[0])
        set_one(set, d->adapter, d->adapter_path, 1.0f);
}

/* "math, code x0.50", or "base model". */
static const char *set_label(const struct remote_set *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n && len < cap; i++) {
        int k = s->a[i].scale == 1.0f
                    ? snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", s->names[i])
                    : snprintf(buf + len, cap - len, "%s%s x%.2f", i ? ", " : "", s->names[i],
                               (double)s->a[i].scale);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (!s->n)
        snprintf(buf, cap, "base model");
    return buf;
}

/* "math,code:0.5" as the exchange log keeps it; "" for the base model. */
static const char *set_spec(const struct remote_set *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n && len < cap; i++) {
        int k = s->a[i].scale == 1.0f
                    ? snprintf(buf + len, cap - len, "%s%s", i ? "," : "", s->names[i])
                    : snprintf(buf + len, cap - len, "%s%s:%g", i ? "," : "", s->names[i],
                               (double)s->a[i].scale);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    return buf;
}

/* ---- the session ---------------------------------------------------------- */

static bool open_engine(struct session *s)
{
    enum loco_remote_kind kind = LOCO_REMOTE_AUTO;
    const struct cli_remote_opts *o = s->a->remote;
    if (o->kind && loco_remote_kind_parse(o->kind, &kind) != LOCO_OK) {
        cli_fail("--engine-kind");
        return false;
    }
    const char *key = o->key ? o->key : getenv("LOCO_ENGINE_KEY");
    s->r = loco_remote_open(o->url, kind, key);
    if (!s->r) {
        cli_fail("cannot use the engine");
        return false;
    }
    snprintf(s->model_label, sizeof s->model_label, "%s %s",
             loco_remote_kind_name(loco_remote_kind(s->r)), loco_remote_url(s->r));
    return true;
}

/* The router, and the local model when the router reads it. Without a
 * router named, a registry router that cannot be used here (no local
 * model) gives way to keyword (cli_router_open_or_keyword). */
static bool open_router(struct session *s)
{
    const struct cli_remote_args *a = s->a;
    struct loco_registry_params rp = cli_registry_params(a->registry);
    s->cr = (struct cli_router){.serve = a->serve_candidates ? LOCO_SERVE_CANDIDATES
                                                             : LOCO_SERVE_REGISTRY};
    s->cr.reg = loco_registry_load(&rp);
    if (!s->cr.reg) {
        cli_fail(a->registry ? "cannot read the registry"
                             : "routing is off, the base model answers: cannot read the registry");
        return !a->registry;
    }
    const char *name = a->router ? a->router : loco_registry_router(s->cr.reg);
    if (loco_router_needs_model(name && name[0] ? name : "keyword")) {
        struct cli_engine_opts o = *a->engine;
        o.adapters = NULL; /* the adapters answer on the engine, not here */
        s->model_open = cli_engine_open(&s->e, &o);
    }
    struct loco_router_env env = {.reg = s->cr.reg,
                                  .model = s->model_open ? s->e.model : NULL,
                                  .serve = (int)s->cr.serve,
                                  .n_threads =
                                      s->model_open ? loco_context_params(s->e.ctx).n_threads : 0};
    s->cr.router = cli_router_open_or_keyword(&env, a->router);
    if (!s->cr.router) {
        cli_fail("cannot open the router");
        loco_registry_free(s->cr.reg);
        s->cr.reg = NULL;
        return !a->router && !a->registry; /* one asked for by name is never dropped */
    }
    s->router_open = true;
    return true;
}

static void session_close(struct session *s)
{
    cli_log_close(&s->log);
    if (s->router_open)
        cli_router_close(&s->cr);
    else
        loco_registry_free(s->cr.reg);
    if (s->model_open)
        cli_engine_close(&s->e);
    loco_remote_close(s->r);
    free(s);
}

/* The engine, then the router (when routing may happen), then the log. */
static struct session *session_open(const struct cli_remote_args *a, bool routing)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        cli_errorf("out of memory");
        return NULL;
    }
    s->a = a;
    cli_log_open(&s->log, a->no_log);
    if (!open_engine(s) || (routing && !open_router(s))) {
        session_close(s);
        return NULL;
    }
    return s;
}

/* ---- strategies ------------------------------------------------------------- */

/* Strategies that decode here cannot run on an engine. */
static bool runs_remotely(const struct loco_strategy *st)
{
    return !loco_strategy_votes(st) && !loco_strategy_calculates(st);
}

/* A named strategy (--strategy, /strategy) the engine can answer with;
 * says why not and returns false otherwise. */
static bool check_given(const char *given)
{
    struct loco_strategy st;
    if (!cli_strategy_choose(given, NULL, NULL, &st))
        return false;
    if (runs_remotely(&st))
        return true;
    cli_errorf("strategy %s decodes here (the calculator writes into the answer, sc, usc and "
               "ensemble sample several answers on the local engine); with --engine use plain "
               "or re2",
               given);
    return false;
}

/* The request's strategy: the given one (already checked), else the
 * domain's default; a default that cannot run remotely answers plain, or
 * re2 when it rereads, and says so. */
static struct loco_strategy choose_strategy(const struct session *s, const char *given,
                                            const struct loco_route_decision *d)
{
    struct loco_strategy st;
    if (!cli_strategy_choose(given, s->router_open ? &s->cr : NULL, d, &st)) {
        cli_errorf("the question is answered plain");
        return (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
    }
    if (runs_remotely(&st))
        return st;
    char name[LOCO_STRATEGY_NAME_MAX];
    bool re2 = loco_strategy_rereads(&st);
    cli_errorf("the domain's strategy %s cannot run on a remote engine; answering %s",
               loco_strategy_name(&st, name, sizeof name), re2 ? "re2" : "plain");
    return (struct loco_strategy){.kind = re2 ? LOCO_STRATEGY_RE2 : LOCO_STRATEGY_PLAIN, .k = 1};
}

/* ---- the exchange log ------------------------------------------------------- */

static void log_give_up(struct cli_log *l, const char *what)
{
    cli_errorf("not logging this exchange: %s: %s", what, loco_error_message());
    loco_exchlog_close(l->log);
    l->log = NULL;
    l->id = 0;
}

static void log_begin(struct session *s, const char *command, const char *q,
                      const struct loco_route_decision *d, const struct remote_set *set)
{
    if (!s->log.log)
        return;
    char spec[1024];
    struct loco_exchange x = {.command = command,
                              .query = q,
                              .route = d,
                              .adapter = set_spec(set, spec, sizeof spec),
                              .model = s->model_label,
                              .model_sha256 = "",
                              .first_token_ms = -1,
                              .total_ms = -1};
    if (loco_exchlog_add(s->log.log, &x, &s->log.id) != LOCO_OK)
        log_give_up(&s->log, "cannot write the exchange log");
}

static void log_end(struct session *s, const struct remote_set *set,
                    const struct loco_generate_result *r)
{
    if (!s->log.log || s->log.id <= 0)
        return;
    char spec[1024];
    struct loco_exchange x = {.adapter = set_spec(set, spec, sizeof spec),
                              .model = s->model_label,
                              .model_sha256 = "",
                              .first_token_ms = -1,
                              .total_ms = loco_time_ms() - s->log.t0};
    if (r) {
        x.answer = r->text ? r->text : "";
        x.n_prompt = r->n_prompt;
        x.n_generated = r->n_generated;
        x.first_token_ms = r->n_generated > 0 ? x.total_ms - r->generate_ms : -1;
    }
    if (loco_exchlog_finish(s->log.log, s->log.id, &x) != LOCO_OK)
        log_give_up(&s->log, "cannot write the exchange log");
}

/* ---- one answer ------------------------------------------------------------- */

static bool stream_piece(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)user, (void)token, (void)lp;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

/* Route q (when the router is open and adapters are not forced) into *d
 * and the set; false when not routed. */
static bool route(struct session *s, const char *q, struct loco_route_decision *d,
                  struct remote_set *set)
{
    if (!s->router_open)
        return false;
    if (loco_route(s->cr.router, q, d) != LOCO_OK) {
        cli_fail("routing failed, the base model answers");
        return false;
    }
    set_from_route(set, d);
    return true;
}

/* The label line on stderr, as without --engine. */
static void print_label(struct session *s, const struct loco_route_decision *d, bool forced,
                        const struct remote_set *set, const struct loco_strategy *st)
{
    char label[512], names[480], tag[32];
    label[0] = '\0';
    if (d)
        cli_route_label(d, label, sizeof label);
    else if (forced && set->n)
        snprintf(label, sizeof label, "[%s]", set_label(set, names, sizeof names));
    else if (st->kind != LOCO_STRATEGY_PLAIN)
        snprintf(label, sizeof label, "[base model]");
    if (label[0])
        fprintf(stderr, "%s%s\n", cli_strategy_label(st, label, sizeof label),
                cli_log_tag(&s->log, tag, sizeof tag));
}

static struct loco_remote_request request_of(const struct session *s,
                                             const struct loco_chat_msg *msgs, size_t n,
                                             const struct remote_set *set)
{
    struct loco_remote_request q = {.msgs = msgs,
                                    .n_msgs = n,
                                    .adapters = set->a,
                                    .n_adapters = set->n,
                                    .gen = s->a->engine->gen};
    q.gen.calc = false;
    return q;
}

/* Whether the engine can take this set at all (vLLM: one adapter at scale
 * 1, and one it serves): asked before the label and the log, so a refused
 * request leaves no trace. Prints why not. */
static bool engine_takes(struct session *s, const struct remote_set *set)
{
    struct loco_chat_msg m = {"user", "?"};
    struct loco_remote_request q = request_of(s, &m, 1, set);
    char *body = loco_remote_request_json(s->r, &q);
    free(body);
    if (!body)
        cli_fail("the engine cannot answer with these adapters");
    return body != NULL;
}

/* The conversation msgs answered on the engine with the set; streamed to
 * stdout unless quiet. On failure prints nothing: the caller reports. */
static int generate(struct session *s, const struct loco_chat_msg *msgs, size_t n,
                    const struct remote_set *set, bool quiet, struct loco_generate_result *res)
{
    struct loco_remote_request q = request_of(s, msgs, n, set);
    return loco_remote_chat(s->r, &q, quiet ? NULL : stream_piece, NULL, res);
}

/* ---- ask ---------------------------------------------------------------------- */

static void print_json(const struct session *s, const struct loco_generate_result *r,
                       const struct loco_route_decision *d, const struct remote_set *set,
                       const struct loco_strategy *st)
{
    static const char *stops[] = {"eog", "max_tokens", "callback", "context"};
    char name[LOCO_STRATEGY_NAME_MAX], model[1024];
    cJSON *j = cJSON_CreateObject();
    if (s->log.id > 0)
        cJSON_AddNumberToObject(j, "id", (double)s->log.id);
    cJSON_AddStringToObject(j, "answer", r->text);
    cJSON_AddStringToObject(j, "strategy", loco_strategy_name(st, name, sizeof name));
    cJSON *en = cJSON_AddObjectToObject(j, "engine");
    cJSON_AddStringToObject(en, "url", loco_remote_url(s->r));
    cJSON_AddStringToObject(en, "kind", loco_remote_kind_name(loco_remote_kind(s->r)));
    if (loco_remote_model_for(s->r, set->a, set->n, model, sizeof model) == LOCO_OK)
        cJSON_AddStringToObject(en, "model", model);
    cJSON *ad = cJSON_AddArrayToObject(j, "adapters");
    for (size_t i = 0; i < set->n; i++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "name", set->names[i]);
        cJSON_AddNumberToObject(one, "scale", set->a[i].scale);
        cJSON_AddItemToArray(ad, one);
    }
    if (d)
        cli_route_json(j, d);
    cJSON *t = cJSON_AddObjectToObject(j, "tokens");
    cJSON_AddNumberToObject(t, "prompt", r->n_prompt);
    cJSON_AddNumberToObject(t, "generated", r->n_generated);
    cJSON *tm = cJSON_AddObjectToObject(j, "timings");
    cJSON_AddNumberToObject(tm, "prompt_ms", r->prompt_ms);
    cJSON_AddNumberToObject(tm, "generate_ms", r->generate_ms);
    cJSON_AddStringToObject(j, "stop", stops[r->stop]);
    char *text = cJSON_Print(j);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(j);
}

/* What --engine cannot do with ask's flags: said before anything starts. */
static bool check_flags(const struct cli_remote_args *a)
{
    if (a->raw) {
        cli_errorf("--raw sends text without the chat template, but an engine takes a "
                   "conversation (its own template): leave out --raw with --engine");
        return false;
    }
    if (a->min_share >= 0 || a->below) {
        cli_errorf("--min-share and --below apply to sc, usc and ensemble, which answer on the "
                   "local engine only");
        return false;
    }
    return !a->strategy || check_given(a->strategy);
}

int cli_remote_ask(const struct cli_remote_args *a)
{
    if (!check_flags(a))
        return 2;
    struct remote_set *set = calloc(1, sizeof *set);
    if (!set || (a->engine->adapters && !set_from_spec(set, a->engine->adapters))) {
        free(set);
        return set ? 2 : cli_fail("out of memory");
    }
    bool forced = a->engine->adapters != NULL;
    struct session *s = session_open(a, a->route && !forced);
    if (!s) {
        free(set);
        return 1;
    }
    struct loco_route_decision d;
    bool routed = !forced && route(s, a->question, &d, set);
    struct loco_strategy st = choose_strategy(s, a->strategy, routed ? &d : NULL);
    if (!engine_takes(s, set)) {
        free(set);
        session_close(s);
        return 1;
    }
    char *msg = cli_strategy_message(&st, a->question);
    struct loco_chat_msg msgs[2];
    size_t n = 0;
    if (a->engine->system)
        msgs[n++] = (struct loco_chat_msg){"system", a->engine->system};
    msgs[n++] = (struct loco_chat_msg){"user", msg ? msg : ""};
    log_begin(s, "ask", a->question, routed ? &d : NULL, set);
    if (!a->json)
        print_label(s, routed ? &d : NULL, forced, set, &st);
    struct loco_generate_result r = {0};
    int rc = msg ? generate(s, msgs, n, set, a->json, &r) : LOCO_ERR_NOMEM;
    log_end(s, set, rc == LOCO_OK ? &r : NULL);
    if (rc == LOCO_OK && a->json)
        print_json(s, &r, routed ? &d : NULL, set, &st);
    else if (rc == LOCO_OK)
        putchar('\n');
    int status = rc == LOCO_OK ? 0 : cli_fail("ask failed");
    loco_generate_result_free(&r);
    free(msg);
    free(set);
    session_close(s);
    return status;
}

/* ---- chat --------------------------------------------------------------------- */

/* The state of a remote chat beside the session. */
struct chat {
    struct session *s;
    struct cli_history h;
    size_t keep;           /* the system message, kept by /reset */
    struct remote_set set; /* forced adapters (/adapter, --adapter) */
    bool routing;          /* route every message */
    char strategy[LOCO_STRATEGY_NAME_MAX];
    bool strategy_set; /* /strategy S or --strategy; else each domain's default */
};

static const char chat_commands[] =
    "  /reset                 forget the conversation\n"
    "  /adapter NAME[:S],...  answer with these adapters on the engine (no routing)\n"
    "  /adapter none          the engine's base model (no routing)\n"
    "  /adapter auto          route every message again\n"
    "  /adapter               show the adapters in use\n"
    "  /strategy plain|re2    the prompt strategy from now on; auto: each domain's\n"
    "  /strategy              show the strategy in use\n"
    "  /quit                  leave (also Ctrl-D)\n";

/* /adapter ...: set or show the adapters. */
static void chat_adapter(struct chat *c, const char *spec)
{
    char label[512];
    if (!strcmp(spec, "auto")) {
        c->routing = c->s->router_open;
        puts(c->routing ? "(routing every message)" : "(no router: see the error above)");
        return;
    }
    if (*spec) {
        struct remote_set *next = calloc(1, sizeof *next);
        bool ok = next && set_from_spec(next, spec) && engine_takes(c->s, next);
        if (ok) {
            set_copy(&c->set, next);
            c->routing = false;
        }
        free(next);
        if (!ok)
            return;
    }
    printf("(answering with %s on %s%s)\n",
           c->routing ? "the routed adapter" : set_label(&c->set, label, sizeof label),
           loco_remote_url(c->s->r), c->routing ? ", routed per message" : "");
}

/* /strategy ...: set or show the strategy. */
static void chat_strategy(struct chat *c, const char *spec)
{
    if (!strcmp(spec, "auto")) {
        c->strategy_set = false;
        puts("(each domain's default strategy)");
        return;
    }
    if (*spec && check_given(spec)) {
        struct loco_strategy st;
        loco_strategy_parse(spec, &st);
        loco_strategy_name(&st, c->strategy, sizeof c->strategy);
        c->strategy_set = true;
    }
    printf("(strategy: %s)\n", c->strategy_set ? c->strategy : "each domain's default");
}

/* One message: route, label, log, answer, remember. */
static void chat_turn(struct chat *c, const char *line)
{
    struct session *s = c->s;
    struct loco_route_decision d;
    struct remote_set routed_set = {0};
    cli_log_start(&s->log);
    bool routed = c->routing && route(s, line, &d, &routed_set);
    /* routing on: the routed set (the base model when routing failed) */
    const struct remote_set *set = c->routing ? &routed_set : &c->set;
    if (!engine_takes(s, set))
        return;
    struct loco_strategy st =
        choose_strategy(s, c->strategy_set ? c->strategy : NULL, routed ? &d : NULL);
    char *msg = cli_strategy_message(&st, line);
    if (!msg || !cli_history_push(&c->h, "user", msg)) {
        free(msg);
        cli_errorf("out of memory");
        return;
    }
    free(msg);
    log_begin(s, "chat", line, routed ? &d : NULL, set);
    print_label(s, routed ? &d : NULL, !c->routing, set, &st);
    struct loco_generate_result r = {0};
    int rc = generate(s, c->h.msgs, c->h.n, set, false, &r);
    log_end(s, set, rc == LOCO_OK ? &r : NULL);
    putchar('\n');
    if (rc != LOCO_OK || !cli_history_push(&c->h, "assistant", r.text)) {
        cli_fail("this turn failed"); /* forget the message, go on */
        free((char *)c->h.msgs[--c->h.n].content);
    }
    loco_generate_result_free(&r);
}

static int chat_loop(struct chat *c)
{
    bool tty = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t cap = 0;
    int status = 0;
    for (;;) {
        int got = cli_chat_read(&line, &cap, tty);
        if (got == -1)
            break;
        if (got == -2)
            status = 1;
        if (got <= 0)
            continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit"))
            break;
        if (!strcmp(line, "/help"))
            fputs(chat_commands, stdout);
        else if (!strcmp(line, "/reset")) {
            cli_history_clear(&c->h, c->keep);
            puts("(conversation cleared)");
        } else if (!strcmp(line, "/adapter") || !strncmp(line, "/adapter ", 9))
            chat_adapter(c, line + 8 + strspn(line + 8, " "));
        else if (!strcmp(line, "/strategy") || !strncmp(line, "/strategy ", 10))
            chat_strategy(c, line + 9 + strspn(line + 9, " "));
        else
            chat_turn(c, line);
    }
    free(line);
    return status;
}

int cli_remote_chat(const struct cli_remote_args *a)
{
    if (a->min_share >= 0 || a->below) {
        cli_errorf("--min-share and --below apply to sc, usc and ensemble, which answer on the "
                   "local engine only");
        return 2;
    }
    if (a->strategy && !check_given(a->strategy))
        return 2;
    struct chat *c = calloc(1, sizeof *c);
    if (!c)
        return cli_fail("out of memory");
    if (a->engine->adapters && !set_from_spec(&c->set, a->engine->adapters)) {
        free(c);
        return 2;
    }
    if (!(c->s = session_open(a, a->route))) {
        free(c);
        return 1;
    }
    c->routing = c->s->router_open && !a->engine->adapters;
    if (a->strategy) {
        struct loco_strategy st;
        loco_strategy_parse(a->strategy, &st);
        loco_strategy_name(&st, c->strategy, sizeof c->strategy);
        c->strategy_set = true;
    }
    if (a->engine->system && cli_history_push(&c->h, "system", a->engine->system))
        c->keep = 1;
    if (isatty(STDIN_FILENO)) {
        char label[512];
        fprintf(stderr, "loco chat: %s with %s (type /help for commands, /quit to leave)\n",
                c->s->model_label,
                c->routing ? "routing per message" : set_label(&c->set, label, sizeof label));
    }
    int status = chat_loop(c);
    cli_history_clear(&c->h, 0);
    free(c->h.msgs);
    session_close(c->s);
    free(c);
    return status;
}
