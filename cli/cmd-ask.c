/*
 * cmd-ask.c - `loco ask "question"`: one question, one streamed answer.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cli-log.h"
#include "cli-route.h"
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
    "registry) the label names it: [math \xc2\xb7 0.93 \xc2\xb7 calc]. Options go before\n"
    "the question.\n\noptions:\n";

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

/* sc:K and usc:K: the K answers and which one answered. */
struct many {
    struct loco_generate_result *res; /* [k]; res[winner] moved out to the caller */
    int32_t k, winner;
    double share; /* sc: the winner's vote share; usc: -1 */
};

static void many_free(struct many *mn)
{
    for (int32_t i = 0; mn->res && i < mn->k; i++)
        loco_generate_result_free(&mn->res[i]);
    free(mn->res);
    *mn = (struct many){0};
}

/* sc:K / usc:K: K sampled answers to the prompt on a context of its own
 * with K sequences (the engine's adapters on sequence 0, which
 * loco_generate_sc shares with the others), then one chosen: by the
 * domain's vote (sc) or by the model (usc). The chosen answer is moved to
 * r. */
static int answer_many(struct cli_engine *e, const struct loco_strategy *st, const char *domain,
                       const char *q, const int32_t *toks, size_t n,
                       struct loco_generate_params gen, struct loco_generate_result *r,
                       struct many *mn)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(e->model);
    struct loco_context_params cp = loco_context_params(e->ctx);
    cp.n_seq = st->k;
    if (st->kind == LOCO_STRATEGY_SC && (size_t)cp.n_ctx > n + (size_t)gen.max_tokens + 1)
        cp.n_ctx = (int32_t)n + gen.max_tokens + 1; /* each sequence holds one answer */
    cp.n_batch = cp.n_batch < cp.n_ctx ? cp.n_batch : cp.n_ctx;
    struct loco_context *ctx = loco_context_init(e->model, cp);
    *mn = (struct many){.k = st->k, .share = -1};
    mn->res = calloc((size_t)st->k, sizeof *mn->res);
    const char **answers = calloc((size_t)st->k, sizeof *answers);
    int rc = ctx && mn->res && answers ? LOCO_OK : LOCO_ERR_NOMEM;
    if (rc == LOCO_OK)
        rc = loco_context_set_adapters(ctx, 0, e->set, e->n_set);
    if (gen.sampling.seed == LOCO_SEED_RANDOM) /* seeds seed + i: one from the clock */
        gen.sampling.seed = (uint64_t)time(NULL) * 1000003u + (uint64_t)clock();
    if (rc == LOCO_OK)
        rc = loco_generate_sc(ctx, tok, toks, n, st->k, &gen, mn->res);
    for (int32_t i = 0; rc == LOCO_OK && i < st->k; i++)
        answers[i] = mn->res[i].text;
    if (rc == LOCO_OK && st->kind == LOCO_STRATEGY_SC)
        rc = loco_vote(domain, answers, st->k, &mn->winner, &mn->share);
    if (rc == LOCO_OK && st->kind == LOCO_STRATEGY_USC &&
        loco_usc_pick(ctx, tok, e->model, q, answers, st->k, &gen, &mn->winner) != LOCO_OK)
        cli_fail("usc: the model named no answer; the first one answers");
    if (rc == LOCO_OK) {
        *r = mn->res[mn->winner];
        mn->res[mn->winner] = (struct loco_generate_result){0};
    }
    free(answers);
    loco_context_free(ctx);
    return rc;
}

static void print_json(const struct cli_engine *e, const struct loco_generate_result *r,
                       const struct loco_route_decision *d, int64_t id,
                       const struct loco_strategy *st, const struct many *mn)
{
    static const char *stops[] = {"eog", "max_tokens", "callback", "context"};
    char name[LOCO_STRATEGY_NAME_MAX];
    cJSON *j = cJSON_CreateObject();
    if (id > 0)
        cJSON_AddNumberToObject(j, "id", (double)id);
    cJSON_AddStringToObject(j, "answer", r->text);
    cJSON_AddStringToObject(j, "strategy", loco_strategy_name(st, name, sizeof name));
    if (mn->res) { /* sc / usc: every answer, the chosen one at its index */
        cJSON *v = cJSON_AddObjectToObject(j, "vote");
        cJSON_AddNumberToObject(v, "winner", mn->winner);
        if (mn->share >= 0)
            cJSON_AddNumberToObject(v, "share", mn->share);
        cJSON *all = cJSON_AddArrayToObject(v, "answers");
        for (int32_t i = 0; i < mn->k; i++)
            cJSON_AddItemToArray(all, cJSON_CreateString(i == mn->winner ? r->text
                                                                         : mn->res[i].text));
    }
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
    if (d) {
        cJSON *rt = cJSON_AddObjectToObject(j, "route");
        cJSON_AddStringToObject(rt, "router", d->router);
        cJSON_AddStringToObject(rt, "domain", d->domain);
        if (d->adapter[0])
            cJSON_AddStringToObject(rt, "adapter", d->adapter);
        else
            cJSON_AddNullToObject(rt, "adapter");
        cJSON_AddNumberToObject(rt, "confidence", d->confidence);
        cJSON *p = cJSON_AddObjectToObject(rt, "probabilities");
        for (size_t i = 0; i < d->n; i++)
            cJSON_AddNumberToObject(p, d->names[i], d->prob[i]);
        cli_route_serving_json(rt, d);
        cJSON_AddStringToObject(rt, "reason", d->reason);
        cJSON_AddNumberToObject(rt, "ms", d->ms);
    }
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

int cmd_ask(int argc, char **argv)
{
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    bool json = false, raw = false, no_route = false, no_log = false, serve_candidates = false;
    const char *router = NULL, *registry = NULL, *strategy = NULL;
    struct cli_option opts[] = {
        CLI_STRATEGY_OPTION(&strategy),
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
        CLI_OPT_END(),
    };
    struct cli_command c = {"ask", ask_usage, NULL, opts, CLI_ARGS_ANY, CLI_OPT_STOP_AT_ARG};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    bool route = !no_route;
    struct loco_strategy st = {.kind = LOCO_STRATEGY_PLAIN, .k = 1};
    if (strategy && !cli_strategy_choose(strategy, NULL, NULL, &st))
        return 2;
    bool temperature_set = cli_opt_seen(opts, "temperature") > 0;
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
    struct cli_engine e;
    if (!cli_engine_open(&e, &o)) {
        free(q);
        return 1;
    }
    /* route unless adapters are forced or routing is off */
    struct loco_route_decision d;
    bool routed = false;
    struct cli_router cr;
    struct cli_log lg;
    cli_log_open(&lg, no_log);
    enum loco_serve_mode serve = serve_candidates ? LOCO_SERVE_CANDIDATES : LOCO_SERVE_REGISTRY;
    if (route && !o.adapters) {
        if (cli_router_open(&cr, &e, router, serve, registry)) {
            routed = cli_route_apply(&cr, &e, q, &d);
            if (!cli_strategy_choose(strategy, &cr, routed ? &d : NULL, &st))
                cli_errorf("the question is answered plain");
            cli_router_close(&cr);
        } else if (router || registry) { /* one asked for by name is never silently dropped */
            cli_log_close(&lg);
            cli_engine_close(&e);
            free(q);
            return 1;
        }
    }
    cli_log_begin(&lg, "ask", q, routed ? &d : NULL, &e);
    int32_t *toks = NULL;
    size_t n = 0;
    char *msg = cli_strategy_message(&st, q);
    int rc = msg ? tokenize_question(&e, &o, msg, raw, &toks, &n) : LOCO_ERR_NOMEM;
    free(msg);
    o.gen.calc = loco_strategy_calculates(&st);
    bool many = st.kind == LOCO_STRATEGY_SC || st.kind == LOCO_STRATEGY_USC;
    if (many && !temperature_set) /* K answers need sampling: Wang et al. sample at T 0.5-0.7 */
        o.gen.sampling.temperature = 0.7f;
    struct loco_generate_result r = {0};
    struct many mn = {0};
    char label[512], set[480], tag[32];
    label[0] = '\0';
    if (routed)
        cli_route_label(&d, label, sizeof label);
    else if (e.n_set)
        snprintf(label, sizeof label, "[%s]", cli_engine_set_label(&e, set, sizeof set));
    else if (st.kind != LOCO_STRATEGY_PLAIN)
        snprintf(label, sizeof label, "[base model]");
    if (rc == LOCO_OK && !json && label[0])
        fprintf(stderr, "%s%s\n", cli_strategy_label(&st, label, sizeof label),
                cli_log_tag(&lg, tag, sizeof tag));
    if (rc == LOCO_OK && many)
        rc = answer_many(&e, &st, routed ? d.domain : NULL, q, toks, n, o.gen, &r, &mn);
    else if (rc == LOCO_OK)
        rc = loco_generate(e.ctx, 0, loco_model_tokenizer(e.model), toks, n, &o.gen,
                           json ? NULL : stream_piece, NULL, &r);
    if (rc == LOCO_OK && many && !json) {
        fputs(r.text, stdout);
        char share[48] = "";
        if (mn.share >= 0)
            snprintf(share, sizeof share, ", vote share %.2f", mn.share);
        fprintf(stderr, "(%s: answer %d of %d chosen%s)\n",
                loco_strategy_name(&st, set, sizeof set), mn.winner + 1, mn.k, share);
    }
    cli_log_end(&lg, &e, rc == LOCO_OK ? &r : NULL);
    if (rc == LOCO_OK) {
        if (json)
            print_json(&e, &r, routed ? &d : NULL, lg.id, &st, &mn);
        else
            putchar('\n');
    }
    int status = rc == LOCO_OK ? 0 : cli_fail("ask failed");
    loco_generate_result_free(&r);
    many_free(&mn);
    free(toks);
    free(q);
    cli_log_close(&lg);
    cli_engine_close(&e);
    return status;
}
