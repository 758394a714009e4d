/*
 * cli-strategy.c - sc:K, usc:K and ensemble for ask and chat: several
 * answers on a context of their own, one chosen, and the vote share's
 * threshold (see cli-strategy.h and docs/strategies.md).
 */
#include "cli-strategy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "loco/report.h"

#define ENSEMBLE_MAX CLI_MAX_LOADED /* members at most: each is a loaded adapter */

/* ---- the threshold -------------------------------------------------------- */

bool cli_vote_rule_choose(double min_share, const char *below, const struct cli_router *cr,
                          const struct loco_route_decision *d, struct cli_vote_rule *rule)
{
    *rule = (struct cli_vote_rule){0.0, LOCO_VOTE_ABSTAIN};
    const struct loco_registry_domain *dom =
        cr && cr->reg && d ? loco_registry_find_domain(cr->reg, d->domain) : NULL;
    if (dom) {
        rule->min_share = dom->min_vote_share;
        if (dom->below_threshold[0])
            loco_vote_below_parse(dom->below_threshold, &rule->below); /* validated on load */
    }
    if (min_share >= 0)
        rule->min_share = min_share;
    if (below && loco_vote_below_parse(below, &rule->below) != LOCO_OK) {
        cli_fail("--below");
        return false;
    }
    return true;
}

void cli_strategy_fit(struct loco_strategy *st, const struct loco_route_decision *d)
{
    if (st->kind != LOCO_STRATEGY_ENSEMBLE || (d && strcmp(d->domain, LOCO_ROUTE_BASE)))
        return;
    cli_errorf("ensemble: the adapters of the routed domain vote, and %s; answered plain",
               d ? "the router chose no domain" : "this question is not routed");
    *st = (struct loco_strategy){.kind = LOCO_STRATEGY_PLAIN, .k = 1};
}

/* ---- the ensemble's members ------------------------------------------------ */

/* rank a comes before rank b: ranked ones first (1, 2, ...), unranked (0) last */
static bool ranked_before(int32_t a, int32_t b)
{
    return a > 0 && (b == 0 || a < b);
}

size_t cli_ensemble_order(const struct loco_registry *reg, enum loco_serve_mode serve,
                          const char *domain, const struct loco_registry_adapter **out,
                          int32_t *ranks, size_t cap)
{
    size_t n = loco_serving_order(reg, domain, serve, out, cap);
    n = n < cap ? n : cap;
    struct loco_leaderboard lb = {0};
    struct loco_leaderboard_params lp = loco_leaderboard_default_params();
    lp.domain = domain;
    if (loco_leaderboard_build(reg, &lp, &lb) != LOCO_OK)
        lb = (struct loco_leaderboard){0}; /* no ranks: serving order */
    for (size_t i = 0; i < n; i++) {
        ranks[i] = 0;
        for (size_t r = 0; r < lb.n; r++)
            if (lb.rows[r].primary && !strcmp(lb.rows[r].name, out[i]->name))
                ranks[i] = lb.rows[r].rank;
    }
    loco_leaderboard_free(&lb);
    for (size_t i = 1; i < n; i++) /* insertion sort: stable, n is small */
        for (size_t j = i; j > 0 && ranked_before(ranks[j], ranks[j - 1]); j--) {
            const struct loco_registry_adapter *a = out[j];
            int32_t r = ranks[j];
            out[j] = out[j - 1], ranks[j] = ranks[j - 1];
            out[j - 1] = a, ranks[j - 1] = r;
        }
    return n;
}

/* Load the members of q's domain into refs (one adapter each, scale 1) and
 * mn's names and ranks; the base model joins a single adapter, or answers
 * alone when none loads. *n the members. */
static int ensemble_members(struct cli_engine *e, const struct cli_many_req *q,
                            struct loco_adapter_ref *refs, struct cli_many *mn, int32_t *n)
{
    const struct loco_registry_adapter *order[ENSEMBLE_MAX];
    int32_t ranks[ENSEMBLE_MAX];
    size_t avail =
        cli_ensemble_order(q->cr->reg, q->cr->serve, q->d->domain, order, ranks, ENSEMBLE_MAX);
    int32_t max = q->st.k > 0 && q->st.k < ENSEMBLE_MAX ? q->st.k : ENSEMBLE_MAX;
    *n = 0;
    for (size_t i = 0; i < avail && *n < max; i++) {
        struct loco_adapter *a = cli_engine_load_adapter(e, order[i]->path);
        if (!a) {
            cli_errorf("ensemble: %s does not load here and does not vote", order[i]->name);
            continue;
        }
        refs[*n] = (struct loco_adapter_ref){a, 1.0f};
        mn->ranks[*n] = ranks[i];
        if (!(mn->names[(*n)++] = strdup(order[i]->name)))
            return LOCO_ERR_NOMEM;
    }
    mn->n_adapters = *n;
    if (*n <= 1) { /* the base model votes too (or answers alone) */
        mn->with_base = *n == 1;
        mn->ranks[*n] = 0;
        if (!(mn->names[(*n)++] = strdup("base model")))
            return LOCO_ERR_NOMEM;
    }
    return LOCO_OK;
}

/* ---- answering -------------------------------------------------------------- */

/* A context of n_seq sequences like e's; `shrink`: each holds one answer to
 * the prompt of n tokens, no more. */
static struct loco_context *many_context(const struct cli_engine *e, int32_t n_seq, size_t n,
                                         int32_t max_tokens, bool shrink)
{
    struct loco_context_params cp = loco_context_params(e->ctx);
    cp.n_seq = n_seq;
    if (shrink && (size_t)cp.n_ctx > n + (size_t)max_tokens + 1)
        cp.n_ctx = (int32_t)n + max_tokens + 1;
    cp.n_batch = cp.n_batch < cp.n_ctx ? cp.n_batch : cp.n_ctx;
    return loco_context_init(e->model, cp);
}

/* The decoding of the answers: sc and usc sample (Wang et al. sample at T
 * 0.5-0.7), each with seed + i, one seed from the clock when none was
 * given; the ensemble's members answer greedily, each at its best. */
static struct loco_generate_params many_decoding(const struct cli_many_req *q)
{
    struct loco_generate_params gen = q->gen;
    gen.calc = loco_strategy_calculates(&q->st);
    bool ensemble = q->st.kind == LOCO_STRATEGY_ENSEMBLE;
    if (!q->temperature_set)
        gen.sampling.temperature = ensemble ? 0.0f : 0.7f;
    if (!ensemble && gen.sampling.seed == LOCO_SEED_RANDOM)
        gen.sampling.seed = (uint64_t)time(NULL) * 1000003u + (uint64_t)clock();
    return gen;
}

/* Make the k answers on a new context (*ctx, the caller frees). */
static int make_answers(struct cli_engine *e, const struct cli_many_req *q,
                        const struct loco_generate_params *gen, struct cli_many *mn,
                        struct loco_context **ctx)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(e->model);
    if (q->st.kind != LOCO_STRATEGY_ENSEMBLE) {
        *ctx = many_context(e, mn->k, q->n, gen->max_tokens, q->st.kind == LOCO_STRATEGY_SC);
        if (!*ctx)
            return LOCO_ERR_NOMEM;
        int rc = loco_context_set_adapters(*ctx, 0, e->set, e->n_set);
        return rc ? rc : loco_generate_sc(*ctx, tok, q->toks, q->n, mn->k, gen, mn->res);
    }
    struct loco_adapter_ref refs[ENSEMBLE_MAX];
    struct loco_ensemble_member members[ENSEMBLE_MAX];
    int rc = ensemble_members(e, q, refs, mn, &mn->k);
    for (int32_t i = 0; rc == LOCO_OK && i < mn->k; i++)
        members[i] = i < mn->n_adapters ? (struct loco_ensemble_member){&refs[i], 1}
                                        : (struct loco_ensemble_member){NULL, 0};
    if (rc == LOCO_OK && !(*ctx = many_context(e, mn->k, q->n, gen->max_tokens, true)))
        rc = LOCO_ERR_NOMEM;
    return rc ? rc : loco_generate_ensemble(*ctx, tok, q->toks, q->n, members, mn->k, gen, mn->res);
}

/* Choose: the vote (sc, ensemble: members best-ranked first, so a tie goes
 * to the best-ranked) or the model (usc); the share from the vote counts. */
static int choose(struct cli_engine *e, struct loco_context *ctx, const struct cli_many_req *q,
                  const struct loco_generate_params *gen, struct cli_many *mn)
{
    const char *domain = q->d && strcmp(q->d->domain, LOCO_ROUTE_BASE) ? q->d->domain : NULL;
    const char **answers = calloc((size_t)mn->k, sizeof *answers);
    if (!answers)
        return LOCO_ERR_NOMEM;
    for (int32_t i = 0; i < mn->k; i++)
        answers[i] = mn->res[i].text;
    int rc = loco_vote_counts(domain, answers, mn->k, mn->votes);
    if (rc == LOCO_OK && q->st.kind != LOCO_STRATEGY_USC)
        rc = loco_vote(domain, answers, mn->k, &mn->winner, &mn->share);
    if (rc == LOCO_OK && q->st.kind == LOCO_STRATEGY_USC)
        mn->usc_unnamed = loco_usc_pick(ctx, loco_model_tokenizer(e->model), e->model, q->question,
                                        answers, mn->k, gen, &mn->winner) != LOCO_OK;
    mn->share = (double)mn->votes[mn->winner] / (double)mn->k;
    free(answers);
    return rc;
}

/* The final answer into r: the chosen one, "I am not sure.", or the base
 * model's plain answer on sequence 0 of ctx. */
static int final_answer(struct cli_engine *e, struct loco_context *ctx,
                        const struct cli_many_req *q, struct cli_many *mn,
                        struct loco_generate_result *r)
{
    mn->below = !loco_vote_confident(mn->share, mn->rule.min_share);
    if (!mn->below) {
        *r = mn->res[mn->winner];
        mn->res[mn->winner] = (struct loco_generate_result){.text = NULL};
        return LOCO_OK;
    }
    if (mn->rule.below == LOCO_VOTE_ABSTAIN) {
        *r = (struct loco_generate_result){.n_prompt = (int32_t)q->n,
                                           .text = strdup(LOCO_VOTE_ABSTAIN_TEXT)};
        return r->text ? LOCO_OK : LOCO_ERR_NOMEM;
    }
    struct loco_generate_params plain = q->gen;
    plain.calc = false;
    loco_context_seq_clear(ctx, 0); /* from an empty cache: the answer ask --no-route gives */
    int rc = loco_context_set_adapters(ctx, 0, NULL, 0);
    return rc ? rc
              : loco_generate(ctx, 0, loco_model_tokenizer(e->model), q->toks, q->n, &plain, NULL,
                              NULL, r);
}

int cli_answer_many(struct cli_engine *e, const struct cli_many_req *q,
                    struct loco_generate_result *r, struct cli_many *mn)
{
    int32_t cap = q->st.kind == LOCO_STRATEGY_ENSEMBLE ? ENSEMBLE_MAX : q->st.k;
    *mn = (struct cli_many){.st = q->st, .k = q->st.k, .rule = q->rule};
    mn->res = calloc((size_t)cap, sizeof *mn->res);
    mn->votes = calloc((size_t)cap, sizeof *mn->votes);
    mn->names = calloc((size_t)cap, sizeof *mn->names);
    mn->ranks = calloc((size_t)cap, sizeof *mn->ranks);
    if (!mn->res || !mn->votes || !mn->names || !mn->ranks)
        return LOCO_ERR_NOMEM;
    struct loco_generate_params gen = many_decoding(q);
    struct loco_context *ctx = NULL;
    int rc = make_answers(e, q, &gen, mn, &ctx);
    if (rc == LOCO_OK)
        rc = choose(e, ctx, q, &gen, mn);
    if (rc == LOCO_OK)
        rc = final_answer(e, ctx, q, mn, r);
    loco_context_free(ctx);
    return rc;
}

/* ---- reporting -------------------------------------------------------------- */

/* Answer i's text: the chosen one may have moved to r. */
static const char *answer_text(const struct cli_many *mn, const struct loco_generate_result *r,
                               int32_t i)
{
    return mn->res[i].text ? mn->res[i].text : r->text ? r->text : "";
}

static void report_members(const struct cli_many *mn)
{
    if (mn->with_base)
        fprintf(stderr, "(ensemble: %s is the only adapter of the domain that may serve; the "
                        "base model votes too)\n", mn->names[0]);
    if (mn->k == 1)
        fprintf(stderr, "(ensemble: no adapter of the domain may serve; the base model answers "
                        "alone)\n");
    fprintf(stderr, "(ensemble of %d:", mn->k);
    for (int32_t i = 0; i < mn->k; i++) {
        char rank[16] = "";
        if (mn->ranks[i])
            snprintf(rank, sizeof rank, " #%d", mn->ranks[i]);
        fprintf(stderr, "%s %s%s %.2f", i ? "," : "", mn->names[i], rank,
                (double)mn->votes[i] / mn->k);
    }
    fprintf(stderr, "; %s's answer chosen, vote share %.2f)\n", mn->names[mn->winner], mn->share);
}

void cli_many_report(const struct cli_many *mn, const struct loco_generate_result *r)
{
    char name[LOCO_STRATEGY_NAME_MAX];
    if (mn->usc_unnamed)
        cli_errorf("usc: the model named no answer; the first one answers");
    if (mn->st.kind == LOCO_STRATEGY_ENSEMBLE)
        report_members(mn);
    else
        fprintf(stderr, "(%s: answer %d of %d chosen, vote share %.2f)\n",
                loco_strategy_name(&mn->st, name, sizeof name), mn->winner + 1, mn->k, mn->share);
    if (!mn->below)
        return;
    if (mn->rule.below == LOCO_VOTE_ABSTAIN)
        fprintf(stderr, "(vote share %.2f is below %.2f: not sure; the best answer was: %s)\n",
                mn->share, mn->rule.min_share, answer_text(mn, r, mn->winner));
    else
        fprintf(stderr, "(vote share %.2f is below %.2f: the base model answers, plain)\n",
                mn->share, mn->rule.min_share);
}

static void json_members(cJSON *v, const struct cli_many *mn, const struct loco_generate_result *r)
{
    cJSON_AddStringToObject(v, "winner_member", mn->names[mn->winner]);
    cJSON_AddBoolToObject(v, "base_model_added", mn->with_base);
    cJSON *all = cJSON_AddArrayToObject(v, "members");
    for (int32_t i = 0; all && i < mn->k; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", mn->names[i]);
        if (mn->ranks[i])
            cJSON_AddNumberToObject(m, "rank", mn->ranks[i]);
        else
            cJSON_AddNullToObject(m, "rank");
        cJSON_AddNumberToObject(m, "share", (double)mn->votes[i] / mn->k);
        cJSON_AddStringToObject(m, "answer", answer_text(mn, r, i));
        cJSON_AddItemToArray(all, m);
    }
}

void cli_many_json(cJSON *obj, const struct cli_many *mn, const struct loco_generate_result *r)
{
    cJSON *v = cJSON_AddObjectToObject(obj, "vote");
    if (!v)
        return;
    cJSON_AddNumberToObject(v, "winner", mn->winner);
    cJSON_AddNumberToObject(v, "share", mn->share);
    cJSON *votes = cJSON_AddArrayToObject(v, "votes");
    cJSON *all = cJSON_AddArrayToObject(v, "answers");
    for (int32_t i = 0; votes && all && i < mn->k; i++) {
        cJSON_AddItemToArray(votes, cJSON_CreateNumber(mn->votes[i]));
        cJSON_AddItemToArray(all, cJSON_CreateString(answer_text(mn, r, i)));
    }
    if (mn->st.kind == LOCO_STRATEGY_ENSEMBLE)
        json_members(v, mn, r);
    cJSON_AddNumberToObject(v, "min_share", mn->rule.min_share);
    cJSON_AddStringToObject(v, "below_threshold", loco_vote_below_name(mn->rule.below));
    cJSON_AddBoolToObject(v, "confident", !mn->below);
    if (mn->below && mn->rule.below == LOCO_VOTE_ABSTAIN) {
        cJSON_AddBoolToObject(v, "abstained", true);
        cJSON_AddStringToObject(v, "hint", answer_text(mn, r, mn->winner));
    } else if (mn->below) {
        cJSON_AddBoolToObject(v, "fallback", true);
    }
}

void cli_many_free(struct cli_many *mn)
{
    int32_t cap = mn->st.kind == LOCO_STRATEGY_ENSEMBLE ? ENSEMBLE_MAX : mn->k;
    for (int32_t i = 0; mn->res && i < cap; i++)
        loco_generate_result_free(&mn->res[i]);
    for (int32_t i = 0; mn->names && i < cap; i++)
        free(mn->names[i]);
    free(mn->res);
    free(mn->votes);
    free(mn->names);
    free(mn->ranks);
    *mn = (struct cli_many){.k = 0};
}
