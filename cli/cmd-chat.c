/*
 * cmd-chat.c - `loco chat`: multi-turn conversation on stdin/stdout.
 *
 * Each line is a user message; the whole conversation is re-rendered with
 * the chat template every turn and the engine reuses the KV cache for the
 * part it has already seen, so a turn costs only its new tokens. When the
 * conversation outgrows the context the oldest turns are dropped.
 * Works from a pipe too: then no prompt is printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cli-log.h"
#include "cli-remote.h"
#include "cli-route.h"
#include "cli-strategy.h"
#include "cli-history.h"
#include "commands.h"

/* Routing in the chat: every message is routed unless adapters are forced
 * (--adapter, /adapter NAME, /adapter none) or --no-route. */
struct chat_route {
    bool on;
    bool open; /* cr holds an open router */
    struct cli_router cr;
    struct cli_log log; /* every turn goes to the exchange log (loco logs) */
    /* the strategy set with /strategy S (or --strategy); NULL: each routed
     * domain's default in the registry, else plain */
    char strategy_buf[LOCO_STRATEGY_NAME_MAX];
    const char *strategy;
    /* sc, usc, ensemble: --min-share (-1: the domain's), --below (NULL:
     * the domain's), and whether --temperature was given */
    double min_share;
    const char *below;
    bool temperature_set;
};

static const char chat_usage[] =
    "usage: loco chat [options]\n\n"
    "Interactive chat. Type a message and press Enter. Every message is routed to\n"
    "the adapter of its domain (stderr shows [adapter \xc2\xb7 confidence]) unless\n"
    "adapters are forced.\n"
    "  /reset   forget the conversation\n"
    "  /adapter NAME[:S],...  answer with these adapters from now on (no routing)\n"
    "  /adapter none          the base model from now on (no routing)\n"
    "  /adapter auto          route every message again\n"
    "  /adapter               show the adapters in use\n"
    "  /strategy S            answer with strategy S from now on (plain, re2,\n"
    "                         calc, re2+calc, sc:K, usc:K, ensemble[:N];\n"
    "                         docs/strategies.md)\n"
    "  /strategy auto         each domain's default strategy again\n"
    "  /strategy              show the strategy in use\n"
    "  /quit    leave (also Ctrl-D)\n"
    "  /help    this list\n\n"
    "options:\n";

/* The option table (cli/opt.h): cmd_chat parses with it, /help prints it. */
#define CHAT_OPTIONS(o, no_route, router, no_log, serve, registry, strategy, min_share, below,    \
                     remote)                                                                       \
    {                                                                                              \
        CLI_OPT_FLAG(0, "no-route", no_route, "the base model (plus any --adapter), no routing"),  \
            CLI_STRATEGY_OPTION(strategy), CLI_VOTE_OPTIONS(min_share, below),                     \
            CLI_OPT_STRING(0, "router", router, "NAME",                                            \
                           "route with this router (see loco route --list)"),                      \
            CLI_OPT_FLAG(0, "no-log", no_log,                                                      \
                         "do not log the turns (loco logs; also LOCO_NO_LOG=1)"),                  \
            CLI_SERVE_OPTION(serve), CLI_REGISTRY_OPTION(registry), CLI_ENGINE_MODEL_OPTIONS(o),   \
            CLI_ENGINE_CHAT_OPTIONS(o), CLI_ENGINE_SAMPLING_OPTIONS(o),                            \
            CLI_REMOTE_OPTIONS(remote), CLI_OPT_END()                                              \
    }

static void chat_help(FILE *out)
{
    struct cli_engine_opts o = {0};
    bool flag = false;
    const char *str = NULL;
    double num = -1;
    struct cli_remote_opts ro = {0};
    struct cli_option opts[] =
        CHAT_OPTIONS(&o, &flag, &str, &flag, &flag, &str, &str, &num, &str, &ro);
    struct cli_command c = {"chat", chat_usage, NULL, opts, 0, 0};
    cli_opt_help(out, &c);
}

static bool stream_piece(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)user, (void)token, (void)lp;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

/* The answer to the conversation's tokens: streamed, or with sc, usc or
 * ensemble (mq->st) chosen among several, printed whole with the vote on
 * stderr. */
static int chat_answer(struct cli_engine *e, struct cli_many_req *mq, const int32_t *toks,
                       size_t n, struct loco_generate_result *r)
{
    if (!loco_strategy_votes(&mq->st))
        return loco_generate(e->ctx, 0, loco_model_tokenizer(e->model), toks, n, &mq->gen,
                             stream_piece, NULL, r);
    struct cli_many mn = {0};
    mq->toks = toks;
    mq->n = n;
    int rc = cli_answer_many(e, mq, r, &mn);
    if (rc == LOCO_OK) {
        fputs(r->text, stdout);
        cli_many_report(&mn, r);
    }
    cli_many_free(&mn);
    return rc;
}

/* One turn: render, fit into the context, generate, remember the answer. */
static int chat_turn(struct cli_engine *e, const struct cli_engine_opts *o, struct cli_history *h,
                     struct cli_log *lg, struct cli_many_req *mq)
{
    mq->gen = o->gen;
    mq->gen.calc = loco_strategy_calculates(&mq->st);
    int32_t *toks = NULL;
    size_t n = 0;
    int rc;
    for (;;) {
        rc = loco_chat_tokenize(e->model, o->chat_template, h->msgs, h->n, &toks, &n);
        if (rc || n + (size_t)o->gen.max_tokens < (size_t)o->n_ctx || !cli_history_drop_oldest(h))
            break;
        free(toks);
        toks = NULL;
    }
    struct loco_generate_result r = {0};
    if (rc == LOCO_OK)
        rc = chat_answer(e, mq, toks, n, &r);
    cli_log_end(lg, e, rc == LOCO_OK ? &r : NULL);
    free(toks);
    if (rc == LOCO_OK && !cli_history_push(h, "assistant", r.text))
        rc = LOCO_ERR_NOMEM;
    putchar('\n');
    loco_generate_result_free(&r);
    return rc;
}

/* /strategy S, /strategy auto, /strategy: set or show the strategy. */
static void set_strategy(struct chat_route *route, const char *spec)
{
    struct loco_strategy st;
    if (!strcmp(spec, "auto")) {
        route->strategy = NULL;
        puts("(each domain's default strategy)");
        return;
    }
    if (*spec) {
        if (loco_strategy_parse(spec, &st) != LOCO_OK) {
            cli_fail("/strategy");
            return;
        }
        loco_strategy_name(&st, route->strategy_buf, sizeof route->strategy_buf);
        route->strategy = route->strategy_buf;
    }
    printf("(strategy: %s)\n", route->strategy ? route->strategy : "each domain's default");
}

static int chat_loop(struct cli_engine *e, const struct cli_engine_opts *o, struct cli_history *h,
                     size_t keep, struct chat_route *route)
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
        if (strcmp(line, "/quit") == 0 || strcmp(line, "/exit") == 0)
            break;
        if (strcmp(line, "/help") == 0) {
            chat_help(stdout);
            continue;
        }
        if (strcmp(line, "/adapter") == 0 || strncmp(line, "/adapter ", 9) == 0) {
            const char *spec = line + 8;
            spec += strspn(spec, " ");
            char label[512];
            if (!strcmp(spec, "auto")) {
                route->on = route->open;
                puts(route->on ? "(routing every message)" : "(no router: see the error above)");
                continue;
            }
            if (*spec && !cli_engine_use_adapters(e, spec))
                continue;
            if (*spec)
                route->on = false;
            printf("(answering with %s%s)\n", cli_engine_set_label(e, label, sizeof label),
                   route->on ? ", routed per message" : "");
            continue;
        }
        if (strcmp(line, "/strategy") == 0 || strncmp(line, "/strategy ", 10) == 0) {
            set_strategy(route, line + 9 + strspn(line + 9, " "));
            continue;
        }
        if (strcmp(line, "/reset") == 0) {
            cli_history_clear(h, keep);
            puts("(conversation cleared)");
            continue;
        }
        struct loco_route_decision d;
        cli_log_start(&route->log);
        bool routed = route->on && cli_route_apply(&route->cr, e, line, &d);
        struct cli_many_req mq = {.cr = route->open ? &route->cr : NULL,
                                  .d = routed ? &d : NULL,
                                  .question = line,
                                  .temperature_set = route->temperature_set};
        if (!cli_strategy_choose(route->strategy, mq.cr, mq.d, &mq.st)) {
            cli_errorf("this message is answered plain");
            mq.st = (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
        }
        cli_strategy_fit(&mq.st, mq.d);
        cli_vote_rule_choose(route->min_share, route->below, mq.cr, mq.d, &mq.rule);
        char *msg = cli_strategy_message(&mq.st, line);
        if (!msg || !cli_history_push(h, "user", msg)) {
            free(msg);
            status = cli_fail("out of memory");
            break;
        }
        free(msg);
        cli_log_begin(&route->log, "chat", line, routed ? &d : NULL, e);
        char label[512], set[480], tag[32];
        label[0] = '\0';
        if (routed)
            cli_route_label(&d, label, sizeof label);
        else if (mq.st.kind != LOCO_STRATEGY_PLAIN)
            snprintf(label, sizeof label, "[%s]",
                     e->n_set ? cli_engine_set_label(e, set, sizeof set) : "base model");
        if (label[0])
            fprintf(stderr, "%s%s\n", cli_strategy_label(&mq.st, label, sizeof label),
                    cli_log_tag(&route->log, tag, sizeof tag));
        if (chat_turn(e, o, h, &route->log, &mq) != LOCO_OK) {
            /* e.g. a message longer than the context: say so, forget it, go on */
            cli_fail("this turn failed");
            free((char *)h->msgs[--h->n].content);
        }
    }
    free(line);
    return status;
}

int cmd_chat(int argc, char **argv)
{
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    bool no_route = false, no_log = false, serve_candidates = false;
    const char *router = NULL, *registry = NULL, *strategy = NULL;
    struct chat_route route = {.min_share = -1};
    struct cli_remote_opts ro = {0};
    struct cli_option opts[] =
        CHAT_OPTIONS(&o, &no_route, &router, &no_log, &serve_candidates, &registry, &strategy,
                     &route.min_share, &route.below, &ro);
    struct cli_command c = {"chat", chat_usage, NULL, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    route.temperature_set = cli_opt_seen(opts, "temperature") > 0;
    struct loco_strategy st0;
    struct cli_vote_rule rule;
    if (!cli_vote_rule_choose(route.min_share, route.below, NULL, NULL, &rule))
        return 2;
    if (strategy) {
        if (!cli_strategy_choose(strategy, NULL, NULL, &st0))
            return 2;
        route.strategy = loco_strategy_name(&st0, route.strategy_buf, sizeof route.strategy_buf);
    }
    if (ro.url) { /* generation on another engine: cli-remote.c */
        struct cli_remote_args ra = {.remote = &ro, .engine = &o, .route = !no_route,
                                     .no_log = no_log, .serve_candidates = serve_candidates,
                                     .router = router, .registry = registry,
                                     .strategy = strategy, .below = route.below,
                                     .min_share = route.min_share};
        return cli_remote_chat(&ra);
    }
    struct cli_engine e;
    if (!cli_engine_open(&e, &o))
        return 1;
    struct cli_history h = {0};
    size_t keep = 0;
    if (o.system && cli_history_push(&h, "system", o.system))
        keep = 1;
    if (isatty(STDIN_FILENO)) {
        char label[512];
        fprintf(stderr, "loco chat: %s with %s (type /help for commands, /quit to leave)\n", e.path,
                !no_route && !o.adapters ? "routing per message"
                                         : cli_engine_set_label(&e, label, sizeof label));
    }
    enum loco_serve_mode serve = serve_candidates ? LOCO_SERVE_CANDIDATES : LOCO_SERVE_REGISTRY;
    if (!no_route && (route.open = cli_router_open(&route.cr, &e, router, serve, registry)))
        route.on = !o.adapters;
    if (!no_route && !route.open && (router || registry)) { /* named: never dropped */
        cli_history_clear(&h, 0);
        free(h.msgs);
        cli_engine_close(&e);
        return 1;
    }
    cli_log_open(&route.log, no_log);
    int status = chat_loop(&e, &o, &h, keep, &route);
    cli_log_close(&route.log);
    if (route.open)
        cli_router_close(&route.cr);
    cli_history_clear(&h, 0);
    free(h.msgs);
    cli_engine_close(&e);
    return status;
}
