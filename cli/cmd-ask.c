/*
 * cmd-ask.c - `loco ask "question"`: one question, one streamed answer.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cli-log.h"
#include "cli-remote.h"
#include "cli-route.h"
#include "cli-strategy.h"
#include "commands.h"

static const char ask_usage[] =
    "usage: loco ask [options] \"question\"\n"
    "       echo \"question\" | loco ask [options]\n\n"
    "Routes the question to the adapter of its domain (the registry's router),\n"
    "says on stderr which adapter answers and how sure the router is, e.g.\n"
    "[code \xc2\xb7 0.93] #42 (#42: the exchange in loco logs), and streams the\n"
    "answer. Only adapters that passed their gate answer: otherwise the base\n"
    "model does, and says so ([math -> base model: no adapter has passed its\n"
    "gate]). With a strategy (--strategy, or the domain's default in the\n"
    "registry) the label names it: [math \xc2\xb7 0.93 \xc2\xb7 calc]. sc:K, usc:K and\n"
    "ensemble name the chosen answer and its vote share on stderr; below the\n"
    "threshold (--min-share, the domain's min_vote_share) the answer abstains\n"
    "or falls back to the base model. Options go before the question.\n\noptions:\n";

static bool stream_piece(void *user, int32_t token, const char *piece, size_t len, float lp)
{
    (void)user, (void)token, (void)lp;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
}

/* Question from the arguments, or from stdin when there are none. */
/* The question from the arguments or, without any, all of stdin. *nul is set
 * when stdin holds a NUL byte: the question would end there silently. */
static char *read_question(int argc, char **argv, int first, bool *nul)
{
    size_t cap = 1, len = 0;
    *nul = false;
    for (int i = first; i < argc; i++)
        cap += strlen(argv[i]) + 1;
    if (first < argc) {
        char *q = malloc(cap);
        if (!q)
            return NULL;
        q[0] = '\0';
        for (int i = first; i < argc; i++) {
            size_t n = strlen(argv[i]);
            if (len)
                q[len++] = ' ';
            memcpy(q + len, argv[i], n + 1);
            len += n;
        }
        return q;
    }
    if (isatty(STDIN_FILENO))
        return NULL;
    char *q = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&q, &n);
    char buf[4096];
    size_t got;
    while (mem && (got = fread(buf, 1, sizeof buf, stdin)) > 0)
        fwrite(buf, 1, got, mem);
    if (mem)
        fclose(mem);
    *nul = q && memchr(q, '\0', n) != NULL;
    return q;
}

static void print_json(const struct cli_engine *e, const struct loco_generate_result *r,
                       const struct loco_route_decision *d, int64_t id,
                       const struct loco_strategy *st, const struct cli_many *mn)
{
    static const char *stops[] = {"eog", "max_tokens", "callback", "context"};
    char name[LOCO_STRATEGY_NAME_MAX];
    cJSON *j = cJSON_CreateObject();
    if (id > 0)
        cJSON_AddNumberToObject(j, "id", (double)id);
    cJSON_AddStringToObject(j, "answer", r->text);
    cJSON_AddStringToObject(j, "strategy", loco_strategy_name(st, name, sizeof name));
    if (mn->res) /* sc, usc, ensemble: every answer and the vote */
        cli_many_json(j, mn, r);
    cJSON_AddStringToObject(j, "model", e->path);
    cJSON *ad = cJSON_AddArrayToObject(j, "adapters");
    for (int i = 0; i < e->n_set; i++) {
        const struct loco_adapter_info *in = loco_adapter_info(e->set[i].adapter);
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "name", in->name);
        cJSON_AddStringToObject(one, "path", in->path);
        cJSON_AddNumberToObject(one, "scale", e->set[i].scale);
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
    cJSON_AddNumberToObject(tm, "prompt_tokens_per_s",
                            r->prompt_ms > 0 ? 1e3 * r->n_prompt / r->prompt_ms : 0);
    cJSON_AddNumberToObject(tm, "generate_tokens_per_s",
                            r->generate_ms > 0 ? 1e3 * r->n_generated / r->generate_ms : 0);
    cJSON_AddStringToObject(j, "stop", stops[r->stop]);
    char *s = cJSON_Print(j);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(j);
}

static int tokenize_question(const struct cli_engine *e, const struct cli_engine_opts *o,
                             const char *q, bool raw, int32_t **toks, size_t *n)
{
    if (raw)
        return loco_tokenizer_encode(loco_model_tokenizer(e->model), q, strlen(q), true, false,
                                     toks, n);
    struct loco_chat_msg msgs[2];
    size_t n_msgs = 0;
    if (o->system)
        msgs[n_msgs++] = (struct loco_chat_msg){.role = "system", .content = o->system};
    msgs[n_msgs++] = (struct loco_chat_msg){.role = "user", .content = q};
    return loco_chat_tokenize(e->model, o->chat_template, msgs, n_msgs, toks, n);
}

/* The answer to the tokenized question: streamed (plain, re2, calc), or
 * chosen among several (sc, usc, ensemble: mq->st) and printed whole with
 * the vote on stderr. */
static int answer(struct cli_engine *e, const struct cli_many_req *mq, bool json,
                  struct loco_generate_result *r, struct cli_many *mn)
{
    if (!loco_strategy_votes(&mq->st))
        return loco_generate(e->ctx, 0, loco_model_tokenizer(e->model), mq->toks, mq->n,
                             &mq->gen, json ? NULL : stream_piece, NULL, r);
    int rc = cli_answer_many(e, mq, r, mn);
    if (rc == LOCO_OK && !json) {
        fputs(r->text, stdout);
        cli_many_report(mn, r);
    }
    return rc;
}

/* The label on stderr: the route, the forced adapters, or the base model
 * when a strategy is named. */
static void print_label(const struct cli_engine *e, const struct loco_route_decision *d,
                        const struct loco_strategy *st, const struct cli_log *lg)
{
    char label[512], set[480], tag[32];
    label[0] = '\0';
    if (d)
        cli_route_label(d, label, sizeof label);
    else if (e->n_set)
        snprintf(label, sizeof label, "[%s]", cli_engine_set_label(e, set, sizeof set));
    else if (st->kind != LOCO_STRATEGY_PLAIN)
        snprintf(label, sizeof label, "[base model]");
    if (label[0])
        fprintf(stderr, "%s%s\n", cli_strategy_label(st, label, sizeof label),
                cli_log_tag(lg, tag, sizeof tag));
}

int cmd_ask(int argc, char **argv)
{
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    bool json = false, raw = false, no_route = false, no_log = false, serve_candidates = false;
    const char *router = NULL, *registry = NULL, *strategy = NULL, *below = NULL;
    double min_share = -1;
    struct cli_remote_opts ro = {0};
    struct cli_option opts[] = {
        CLI_STRATEGY_OPTION(&strategy),
        CLI_VOTE_OPTIONS(&min_share, &below),
        CLI_OPT_FLAG(0, "no-route", &no_route, "answer with the base model (plus any --adapter)"),
        CLI_OPT_STRING(0, "router", &router, "NAME",
                       "route with this router (see loco route --list)\n"
                       "(--adapter forces adapters and turns routing off)"),
        CLI_SERVE_OPTION(&serve_candidates),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "print answer, route, token counts and timings as JSON"),
        CLI_OPT_FLAG(0, "no-log", &no_log,
                     "do not log the exchange (loco logs; also LOCO_NO_LOG=1)"),
        CLI_OPT_FLAG(0, "raw", &raw, "send the text as is, without the chat template"),
        CLI_ENGINE_MODEL_OPTIONS(&o),
        CLI_ENGINE_CHAT_OPTIONS(&o),
        CLI_ENGINE_SAMPLING_OPTIONS(&o),
        CLI_REMOTE_OPTIONS(&ro),
        CLI_OPT_END(),
    };
    struct cli_command c = {"ask", ask_usage, NULL, opts, CLI_ARGS_ANY, CLI_OPT_STOP_AT_ARG};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    bool route = !no_route;
    struct cli_many_req mq = {.st = {.kind = LOCO_STRATEGY_PLAIN, .k = 1}};
    if (strategy && !cli_strategy_choose(strategy, NULL, NULL, &mq.st))
        return 2;
    if (!cli_vote_rule_choose(min_share, below, NULL, NULL, &mq.rule))
        return 2;
    bool nul;
    char *q = read_question(n_args, argv, 0, &nul);
    if (nul) {
        fprintf(stderr, "loco ask: the question on stdin holds a NUL byte; send text only\n");
        free(q);
        return 2;
    }
    if (!q || !q[strspn(q, " \t\r\n")]) {
        fprintf(stderr, "loco ask: no question given (see loco ask --help)\n");
        free(q);
        return 2;
    }
    if (ro.url) { /* generation on another engine: cli-remote.c */
        struct cli_remote_args ra = {.remote = &ro, .engine = &o, .question = q, .route = route,
                                     .json = json, .raw = raw, .no_log = no_log,
                                     .serve_candidates = serve_candidates, .router = router,
                                     .registry = registry, .strategy = strategy, .below = below,
                                     .min_share = min_share};
        int status = cli_remote_ask(&ra);
        free(q);
        return status;
    }
    struct cli_engine e;
    if (!cli_engine_open(&e, &o)) {
        free(q);
        return 1;
    }
    /* route unless adapters are forced or routing is off; the router stays
     * open until the answer (an ensemble's members come from its registry) */
    struct loco_route_decision d;
    bool routed = false, router_open = false;
    struct cli_router cr = {0};
    struct cli_log lg;
    cli_log_open(&lg, no_log);
    enum loco_serve_mode serve = serve_candidates ? LOCO_SERVE_CANDIDATES : LOCO_SERVE_REGISTRY;
    if (route && !o.adapters) {
        if ((router_open = cli_router_open(&cr, &e, router, serve, registry))) {
            routed = cli_route_apply(&cr, &e, q, &d);
            if (!cli_strategy_choose(strategy, &cr, routed ? &d : NULL, &mq.st))
                cli_errorf("the question is answered plain");
            cli_vote_rule_choose(min_share, below, &cr, routed ? &d : NULL, &mq.rule);
        } else if (router || registry) { /* one asked for by name is never silently dropped */
            cli_log_close(&lg);
            cli_engine_close(&e);
            free(q);
            return 1;
        }
    }
    cli_strategy_fit(&mq.st, routed ? &d : NULL);
    if ((min_share >= 0 || below) && !loco_strategy_votes(&mq.st))
        cli_errorf("--min-share and --below apply to sc:K, usc:K and ensemble; this answer has "
                   "no vote");
    cli_log_begin(&lg, "ask", q, routed ? &d : NULL, &e);
    int32_t *toks = NULL;
    char *msg = cli_strategy_message(&mq.st, q);
    int rc = msg ? tokenize_question(&e, &o, msg, raw, &toks, &mq.n) : LOCO_ERR_NOMEM;
    free(msg);
    o.gen.calc = loco_strategy_calculates(&mq.st);
    mq = (struct cli_many_req){.st = mq.st, .cr = router_open ? &cr : NULL,
                               .d = routed ? &d : NULL, .question = q, .toks = toks, .n = mq.n,
                               .gen = o.gen, .rule = mq.rule,
                               .temperature_set = cli_opt_seen(opts, "temperature") > 0};
    struct loco_generate_result r = {0};
    struct cli_many mn = {0};
    if (rc == LOCO_OK && !json)
        print_label(&e, routed ? &d : NULL, &mq.st, &lg);
    if (rc == LOCO_OK)
        rc = answer(&e, &mq, json, &r, &mn);
    cli_log_end(&lg, &e, rc == LOCO_OK ? &r : NULL);
    if (rc == LOCO_OK) {
        if (json)
            print_json(&e, &r, routed ? &d : NULL, lg.id, &mq.st, &mn);
        else
            putchar('\n');
    }
    int status = rc == LOCO_OK ? 0 : cli_fail("ask failed");
    loco_generate_result_free(&r);
    cli_many_free(&mn);
    free(toks);
    free(q);
    if (router_open)
        cli_router_close(&cr);
    cli_log_close(&lg);
    cli_engine_close(&e);
    return status;
}
