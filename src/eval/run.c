/*
 * run.c - one benchmark on the base model and on an adapter (see
 * loco/eval.h): load the items (items.c), generate both sides (batched,
 * cached), score them (scoring.c), judge when the benchmark is judged
 * (judging.c), compare (compare.c).
 *
 * Every generation goes through one path, eval_run_batch() (batch.c): a
 * list of requests (a conversation and the text the cache key names)
 * answered under one setting (adapter, decoding, seed), read from the cache
 * when there, else generated with loco_generate_many (or asked of the HTTP
 * judge, or sent to the answers' engine: remote_batch.c) and stored. A
 * side's answers are one batch, or one batch per
 * sample when several are sampled; its judgments are one batch per
 * judgment. The record's JSON is written by record_json.c and record.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "core/rng.h"
#include "core/sbuf.h"
#include "loco/evalcache.h"
#include "loco/models.h"
#include "shown.h"

/* A seed of its own for draw `index` of stream `stream` (0: sampled answers,
 * 1: judgments), by splitmix64 (Steele, Lea and Flood 2014) of the user's seed. */
uint64_t eval_derive_seed(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t z = loco_mix64(seed + 0x9e3779b97f4a7c15ULL * ((stream << 32) + index + 1));
    return z == LOCO_SEED_RANDOM ? z - 1 : z;
}

const char *eval_template_name(const struct loco_eval_params *p)
{
    return p->chat_template ? p->chat_template : "model";
}

/* Decoding of answer sample s: greedy, or sampled with a seed of its own;
 * with the calculator when the side's strategy asks. */
static struct loco_generate_params answer_decoding(const struct run *r, uint32_t s,
                                                   const struct loco_strategy *st)
{
    struct loco_generate_params gp = loco_generate_default_params();
    gp.max_tokens = r->max_tokens;
    gp.calc = loco_strategy_calculates(st);
    if (st->kind == LOCO_STRATEGY_SC || st->kind == LOCO_STRATEGY_USC) {
        /* K sampled answers (seeds seed + i), one chosen */
        gp.sampling.temperature = r->p->temperature;
        gp.sampling.top_k = 0;
        gp.sampling.top_p = r->p->top_p;
        gp.sampling.min_p = 0.0f;
        gp.sampling.repeat_penalty = 1.0f;
        gp.sampling.seed = eval_derive_seed(r->p->seed, 2, 0);
        return gp;
    }
    gp.sampling.temperature = 0.0f;
    if (r->samples > 1) {
        gp.sampling.temperature = r->p->temperature;
        gp.sampling.top_k = 0;
        gp.sampling.top_p = r->p->top_p;
        gp.sampling.min_p = 0.0f;
        gp.sampling.repeat_penalty = 1.0f;
        gp.sampling.seed = eval_derive_seed(r->p->seed, 0, s);
    }
    return gp;
}

/* The settings of a plain answer. */
static char *plain_settings(const struct run *r, uint32_t s, uint64_t seed)
{
    const char *name = r->out->name, *tmpl = eval_template_name(r->p);
    if (r->samples > 1)
        return loco_str_printf("bench=%s;sample=%u;temperature=%.6g;top_p=%.6g;seed=%llu;"
                               "max_tokens=%d;template=%s;v1",
                               name, s, (double)r->p->temperature, (double)r->p->top_p,
                               (unsigned long long)seed, r->max_tokens, tmpl);
    if (r->n_shots)
        return loco_str_printf("bench=%s;greedy;shots=%zu;max_tokens=%d;template=%s;v1", name,
                               r->n_shots, r->max_tokens, tmpl);
    return loco_str_printf("bench=%s;greedy;max_tokens=%d;template=%s;v1", name, r->max_tokens,
                           tmpl);
}

/* The cache key's settings for answer sample s. The default (greedy,
 * zero-shot, plain) text is the one every earlier cache entry was stored
 * under; a strategy adds ";strategy=NAME", and sc:K on code ";vote=tests"
 * (its winners were chosen by the shown tests, not by text as before). */
static char *answer_settings(const struct run *r, uint32_t s, uint64_t seed,
                             const struct loco_strategy *st)
{
    char *plain = plain_settings(r, s, seed);
    if (!plain || st->kind == LOCO_STRATEGY_PLAIN)
        return plain;
    char name[LOCO_STRATEGY_NAME_MAX];
    loco_strategy_name(st, name, sizeof name);
    bool sampled = st->kind == LOCO_STRATEGY_SC || st->kind == LOCO_STRATEGY_USC;
    bool by_tests = st->kind == LOCO_STRATEGY_SC && eval_votes_by_tests(r->kind);
    char *with = sampled
                     ? loco_str_printf("%s;strategy=%s;temperature=%.6g;top_p=%.6g;seed=%llu%s",
                                       plain, name, (double)r->p->temperature,
                                       (double)r->p->top_p, (unsigned long long)seed,
                                       by_tests ? ";vote=tests" : "")
                     : loco_str_printf("%s;strategy=%s", plain, name);
    free(plain);
    return with;
}

/* Each item's conversation: its system message (custom items), the shots
 * (gsm8k), then its question (re-read under re2: its text malloc'd into
 * asked[i], which the caller frees; else NULL). */
static int answer_requests(const struct run *r, struct gen_req *reqs,
                           const struct loco_strategy *st, char **asked)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct item *it = &r->items[i];
        size_t nm = 0;
        reqs[i].msgs = malloc((2 * r->n_shots + 2) * sizeof *reqs[i].msgs);
        if (!reqs[i].msgs)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        if (it->system)
            reqs[i].msgs[nm++] = (struct loco_chat_msg){.role = "system", .content = it->system};
        for (size_t k = 0; k < 2 * r->n_shots; k++)
            reqs[i].msgs[nm++] = r->shots[k];
        const char *q = it->prompt;
        if (loco_strategy_rereads(st) && !(q = asked[i] = loco_strategy_re2_prompt(it->prompt)))
            return LOCO_ERR_NOMEM;
        reqs[i].msgs[nm++] = (struct loco_chat_msg){.role = "user", .content = q};
        reqs[i].n_msgs = nm;
        reqs[i].key_text = it->key_text ? it->key_text : it->prompt;
    }
    return LOCO_OK;
}

/* Move answer sample s of request q into item i (with sc:K's vote). */
static void keep_answer(struct run *r, int side, uint32_t s, size_t i, struct gen_req *q)
{
    struct loco_eval_item *it = &r->out->items[i];
    it->vote[side] = q->vote;
    if (r->samples == 1) {
        it->output[side] = q->output;
        it->cached[side] = q->cached;
        if (q->status != LOCO_OK) /* not generated: scores 0 */
            snprintf(it->detail[side], sizeof it->detail[side], "not generated: %s",
                     loco_status_name(q->status));
    } else {
        it->sample_output[side][s] = q->output;
        it->cached[side] = (s == 0 || it->cached[side]) && q->cached;
        if (s == 0)
            it->output[side] = strdup(q->output);
    }
    q->output = NULL;
}

/* What loco_vote compares in an answer to a benchmark of this kind (code
 * under sc:K: the shown tests instead, vote_by_tests). */
static const char *vote_domain(enum kind kind)
{
    return kind == K_GSM8K || kind == K_NUMERIC ? "math" : kind == K_ARC ? "choice" : NULL;
}

/* sc:K and ensemble on code: each item's shown tests into shown[r->n]
 * (eval_shown_tests) and its request's vote on them; other strategies and
 * kinds: nothing. */
static int vote_by_tests(const struct run *r, const struct loco_strategy *st,
                         struct shown_tests *shown, struct gen_req *reqs)
{
    int rc = LOCO_OK;
    bool votes = st->kind == LOCO_STRATEGY_SC || st->kind == LOCO_STRATEGY_ENSEMBLE;
    for (size_t i = 0; votes && !rc && i < r->n; i++)
        if (eval_shown_tests(&r->items[i], r->kind, &shown[i], &rc) && !rc)
            reqs[i].shown = &shown[i].shown;
    return rc;
}

/* Answers from the engine (r->engine): how asks it for a's set (a NULL: the
 * base model), and *settings, the cache key's, names the engine, its kind
 * and the model it is asked for, so that its answers never mix with local
 * ones or another engine's. set[LOCO_MAX_SET_ADAPTERS] holds the set. */
static int engine_how(struct run *r, const struct loco_adapter *a, float scale, struct gen_how *how,
                      struct loco_remote_adapter *set, char **settings)
{
    how->engine = &r->engine;
    how->set = set;
    how->n_set = eval_engine_set(a, scale, r->p, set, LOCO_MAX_SET_ADAPTERS);
    char key[2048];
    int rc = eval_engine_key(&r->engine, set, how->n_set, key, sizeof key);
    char *with = rc ? NULL : loco_str_printf("%s%s", *settings, key);
    if (!rc && !with)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    free(*settings);
    *settings = with;
    return rc;
}

static int answer_side(struct run *r, const struct loco_adapter *a, float scale,
                       const char *adapter_desc, int side, const struct loco_strategy *st)
{
    struct loco_eval_bench *out = r->out;
    struct gen_req *reqs = calloc(r->n ? r->n : 1, sizeof *reqs);
    char **asked = calloc(r->n ? r->n : 1, sizeof *asked);
    struct shown_tests *shown = calloc(r->n ? r->n : 1, sizeof *shown);
    int rc = reqs && asked && shown ? answer_requests(r, reqs, st, asked)
                                    : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = vote_by_tests(r, st, shown, reqs);
    struct phase ph = {r->progress, r->user, out->name, "answers", side, 0, r->n * r->samples};
    struct gen_totals tot = {0};
    struct loco_remote_adapter set[LOCO_MAX_SET_ADAPTERS];
    for (uint32_t s = 0; !rc && s < r->samples; s++) {
        struct gen_how how = {.model_sha = r->model_sha,
                              .adapter_desc = adapter_desc,
                              .adapter = a,
                              .scale = scale,
                              .also = a ? r->p->also : NULL,
                              .n_also = a ? r->p->n_also : 0,
                              .gp = answer_decoding(r, s, st),
                              .sc_k = st->kind == LOCO_STRATEGY_SC || st->kind == LOCO_STRATEGY_USC
                                          ? st->k
                                          : 0,
                              .vote_domain = vote_domain(r->kind),
                              .usc = st->kind == LOCO_STRATEGY_USC};
        char *settings = answer_settings(r, s, how.gp.sampling.seed, st);
        if (settings && r->engine.n) /* the engine's answers are keyed by the engine */
            rc = engine_how(r, a, scale, &how, set, &settings);
        how.settings = settings;
        if (!rc)
            rc = settings ? eval_run_batch(r->m, r->p, r->cache, &how, reqs, r->n, &ph, &tot)
                          : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        for (size_t i = 0; !rc && i < r->n; i++)
            keep_answer(r, side, s, i, &reqs[i]);
        for (size_t i = 0; !rc && out->items && i < r->n; i++)
            if (!out->items[i].output[side])
                rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        eval_reqs_clear(reqs, r->n);
        free(settings);
    }
    out->gen_ms[side] = tot.ms;
    out->n_cached[side] = tot.cached;
    out->n_tokens[side] = tot.tokens;
    eval_reqs_free(reqs, r->n);
    for (size_t i = 0; asked && i < r->n; i++)
        free(asked[i]);
    free(asked);
    for (size_t i = 0; shown && i < r->n; i++)
        eval_shown_free(&shown[i]);
    free(shown);
    return rc;
}

static int score_side(struct run *r, int side)
{
    struct loco_eval_bench *out = r->out;
    struct phase ph = {r->progress, r->user, out->name, "scoring", side, 0, r->n * r->samples};
    int rc = LOCO_OK;
    for (size_t i = 0; !rc && i < r->n; i++) {
        struct loco_eval_item *it = &out->items[i];
        if (r->kind == K_JUDGE)
            break; /* the judge scores */
        if (r->samples > 1) {
            rc = eval_score_samples(&r->items[i], r->kind, it, side, &ph);
        } else if (!it->detail[side][0]) { /* not generated: scores 0 */
            rc = eval_score_item(&r->items[i], r->kind, it->output[side], &it->score[side],
                                 it->detail[side], sizeof it->detail[side]);
            if (eval_is_code(r->kind))
                eval_phase_step(&ph, 1);
        }
        if (rc)
            loco_error_prefix("%s item %s", out->name, it->id);
    }
    return rc;
}

/* Without an adapter the adapter side is the base side. */
static int copy_side(struct loco_eval_bench *out)
{
    for (size_t i = 0; i < out->n; i++) {
        struct loco_eval_item *it = &out->items[i];
        it->output[1] = strdup(it->output[0]);
        it->cached[1] = it->cached[0];
        it->score[1] = it->score[0];
        memcpy(it->detail[1], it->detail[0], sizeof it->detail[1]);
        memcpy(it->rating[1], it->rating[0], sizeof it->rating[1]);
        for (uint32_t j = 0; j < it->n_ratings; j++)
            if (it->judge_reply[0][j] && !(it->judge_reply[1][j] = strdup(it->judge_reply[0][j])))
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        it->n_correct[1] = it->n_correct[0];
        for (uint32_t s = 0; s < it->n_samples; s++) {
            it->sample_output[1][s] = strdup(it->sample_output[0][s]);
            it->sample_pass[1][s] = it->sample_pass[0][s];
            if (!it->sample_output[1][s])
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        }
        if (!it->output[1])
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    out->n_cached[1] = out->n_cached[0];
    out->n_tokens[1] = out->n_tokens[0];
    out->n_judgments[1] = out->n_judgments[0];
    out->n_judge_cached[1] = out->n_judge_cached[0];
    return LOCO_OK;
}

/* The shots: the first k GSM8K train problems, each a user turn and the
 * worked answer (ending "#### N") as the assistant's turn. */
static int load_shots(struct run *r, const struct loco_eval_params *p,
                      struct loco_gsm8k_example **ex, size_t *n_ex)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/gsm8k/train.jsonl",
             p->shared_dir ? p->shared_dir : "../shared");
    int rc = loco_gsm8k_load(path, p->shots, ex, n_ex);
    if (!rc && *n_ex < p->shots)
        rc = loco_error_set(LOCO_ERR_RANGE, "%s has %zu problems, fewer than --shots %u", path,
                            *n_ex, p->shots);
    r->shots = rc ? NULL : calloc(2 * *n_ex, sizeof *r->shots);
    if (!rc && !r->shots)
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !rc && k < *n_ex; k++) {
        r->shots[2 * k] = (struct loco_chat_msg){.role = "user", .content = (*ex)[k].question};
        r->shots[2 * k + 1] =
            (struct loco_chat_msg){.role = "assistant", .content = (*ex)[k].answer_text};
    }
    r->n_shots = rc ? 0 : *n_ex;
    return rc;
}

/* The result's shape: metric, test, settings, per-item storage. */
static int setup_result(struct run *r, bool in_domain)
{
    struct loco_eval_bench *out = r->out;
    const struct loco_eval_params *p = r->p;
    out->binary = r->kind != K_ROUGE && r->kind != K_JUDGE && r->samples == 1;
    snprintf(out->metric, sizeof out->metric, "%s",
             r->kind == K_ROUGE      ? "rouge-l-f1"
             : eval_is_code(r->kind) ? "pass@1"
             : r->kind == K_EXACT    ? "exact_match"
             : r->kind == K_NUMERIC  ? "numeric"
             : r->kind == K_REGEX    ? "regex_match"
             : r->kind == K_JUDGE
                 ? (p->judge.rubric == LOCO_JUDGE_PROMETHEUS ? "judge-prometheus" : "judge-mtbench")
                 : "accuracy");
    out->in_domain = in_domain;
    out->gate_kind = in_domain ? LOCO_GATE_SUPERIORITY : LOCO_GATE_NONINFERIORITY;
    out->samples = r->samples;
    out->temperature = r->samples > 1 ? p->temperature : 0.0f;
    out->seed = p->seed;
    out->judged = r->kind == K_JUDGE;
    out->rubric = p->judge.rubric;
    out->rating_max = loco_judge_rubric_max(p->judge.rubric);
    if (out->judged && p->judge.url)
        snprintf(out->judge, sizeof out->judge, "%.60s at %.120s",
                 p->judge.model ? p->judge.model : "", p->judge.url);
    else if (out->judged)
        snprintf(out->judge, sizeof out->judge, "base model (in process)");
    out->n = r->n;
    out->items = calloc(r->n ? r->n : 1, sizeof *out->items);
    if (!out->items)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        struct loco_eval_item *it = &out->items[i];
        it->id = strdup(r->items[i].id);
        it->prompt = strdup(r->items[i].prompt);
        if (!it->id || !it->prompt)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        if (r->samples == 1)
            continue;
        it->n_samples = r->samples;
        for (int side = 0; side < 2; side++) {
            it->sample_output[side] = calloc(r->samples, sizeof *it->sample_output[side]);
            it->sample_pass[side] = calloc(r->samples, 1);
            if (!it->sample_output[side] || !it->sample_pass[side])
                return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        }
    }
    return LOCO_OK;
}

/* What the cache key names of the adapter side: "SHA:SCALE" of a, then
 * ",SHA:SCALE" of each member of a run-time set (p->also). */
static int adapter_set_desc(const struct loco_adapter *a, float scale,
                            const struct loco_eval_params *p, char *buf, size_t cap)
{
    char asha[65];
    int rc = loco_models_sha256_file(loco_adapter_info(a)->path, asha);
    if (rc)
        return rc;
    size_t k = (size_t)snprintf(buf, cap, "%s:%.6g", asha, (double)scale);
    for (int32_t i = 0; i < p->n_also && k < cap; i++) {
        rc = loco_models_sha256_file(loco_adapter_info(p->also[i].adapter)->path, asha);
        if (rc)
            return rc;
        k += (size_t)snprintf(buf + k, cap - k, ",%s:%.6g", asha, (double)p->also[i].scale);
    }
    return rc;
}

/* ---- strategy ensemble: each member answers plain, then the vote ---------- */

int eval_ensemble_check(const struct loco_eval_params *p)
{
    if (p->strategy.kind != LOCO_STRATEGY_ENSEMBLE)
        return LOCO_OK;
    if (!p->members || p->n_members < 2 || p->n_members > LOCO_EVAL_MAX_MEMBERS ||
        (p->strategy.k > 0 && p->n_members > p->strategy.k))
        return loco_error_set(LOCO_ERR_RANGE,
                              "evaluation: an ensemble has 2 to %d members (at most N under "
                              "ensemble:N); %d given",
                              p->strategy.k > 0 ? (int)p->strategy.k : LOCO_EVAL_MAX_MEMBERS,
                              (int)p->n_members);
    if (p->samples > 1 || p->n_also || p->engine.url)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "evaluation: an ensemble votes on one greedy answer per member, "
                              "generated here: no samples, run-time set or engine");
    return LOCO_OK;
}

/* What an ensemble side holds while its members answer: answer[i * k + m]
 * is member m's to item i (malloc'd), status[] whether it was generated,
 * score[] and detail[] its score alone (so the winner is not scored
 * again). Whether every member's answer came from the cache goes straight
 * into the item's cached[1]. */
struct ensemble_answers {
    size_t k;
    char **answer;
    int *status;
    double *score;
    char (*detail)[160];
};

/* The plain strategy: one answer, as asked. */
static const struct loco_strategy plain_strategy = {.kind = LOCO_STRATEGY_PLAIN, .k = 1};

/* Member m's answers to every item (reqs, conversations made) through the
 * cache under the keys a plain evaluation of the member uses: the
 * member's file and scale 1 (adapter_set_desc) or "" for the base model,
 * and the plain settings. Its name, file hash, timing and cache hits into
 * r->out->members[m]. */
static int member_answers(struct run *r, int32_t m, struct gen_req *reqs,
                          struct ensemble_answers *ea, struct phase *ph)
{
    const struct loco_eval_member *mb = &r->p->members[m];
    struct loco_eval_member_result *res = &r->out->members[m];
    char desc[LOCO_MAX_SET_ADAPTERS * 80] = "";
    int rc = mb->adapter ? adapter_set_desc(mb->adapter, 1.0f, r->p, desc, sizeof desc) : LOCO_OK;
    snprintf(res->name, sizeof res->name, "%s",
             mb->name       ? mb->name
             : mb->adapter ? loco_adapter_info(mb->adapter)->name
                           : "base model");
    snprintf(res->sha256, sizeof res->sha256, "%.64s", desc); /* "SHA:1" -> SHA */
    res->rank = mb->rank;
    struct gen_how how = {.model_sha = r->model_sha,
                          .adapter_desc = desc,
                          .adapter = mb->adapter,
                          .scale = 1.0f,
                          .gp = answer_decoding(r, 0, &plain_strategy)};
    char *settings = rc ? NULL : answer_settings(r, 0, how.gp.sampling.seed, &plain_strategy);
    how.settings = settings;
    struct gen_totals tot = {0};
    if (!rc)
        rc = settings ? eval_run_batch(r->m, r->p, r->cache, &how, reqs, r->n, ph, &tot)
                      : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < r->n; i++) {
        ea->answer[i * ea->k + (size_t)m] = reqs[i].output;
        ea->status[i * ea->k + (size_t)m] = reqs[i].status;
        bool *cached = &r->out->items[i].cached[1];
        *cached = (m == 0 || *cached) && reqs[i].cached;
        reqs[i].output = NULL;
    }
    eval_reqs_clear(reqs, r->n);
    free(settings);
    res->gen_ms = tot.ms;
    res->n_cached = tot.cached;
    res->n_tokens = tot.tokens;
    return rc;
}

/* Each member's answers scored alone (judged benchmarks: NaN, the judge
 * rates the chosen answers only); code runs in the sandbox. */
static int member_scores(struct run *r, struct ensemble_answers *ea)
{
    struct loco_eval_bench *out = r->out;
    size_t k = ea->k;
    if (r->kind == K_JUDGE) {
        for (size_t m = 0; m < k; m++)
            out->members[m].score = NAN;
        return LOCO_OK;
    }
    struct phase ph = {r->progress, r->user, out->name, "members", 1, 0, r->n * k};
    int rc = LOCO_OK;
    for (size_t m = 0; m < k; m++) {
        double sum = 0.0;
        for (size_t i = 0; !rc && i < r->n; i++) {
            size_t at = i * k + m;
            if (ea->status[at] == LOCO_OK)
                rc = eval_score_item(&r->items[i], r->kind, ea->answer[at], &ea->score[at],
                                     ea->detail[at], sizeof ea->detail[at]);
            sum += ea->score[at];
            if (eval_is_code(r->kind))
                eval_phase_step(&ph, 1);
        }
        out->members[m].score = !r->n ? NAN : sum / (double)r->n;
    }
    return rc;
}

/* Per item the benchmark's vote on the members' answers (eval_sc_vote: by
 * the shown tests for code, else loco_vote on the benchmark's answers; a
 * tie goes to the earliest, the best-ranked member): the winner's answer is
 * side 1's, moved out of ea, with its score (score_side then skips it). */
static int ensemble_vote(struct run *r, const struct gen_req *reqs, struct ensemble_answers *ea)
{
    struct gen_how how = {.vote_domain = vote_domain(r->kind)};
    size_t k = ea->k;
    int rc = LOCO_OK;
    for (size_t i = 0; !rc && i < r->n; i++) {
        struct loco_eval_item *it = &r->out->items[i];
        char **answers = &ea->answer[i * k];
        rc = eval_sc_vote(&how, &reqs[i], (const char *const *)answers, (int32_t)k, &it->vote[1]);
        if (rc)
            break;
        size_t w = (size_t)it->vote[1].winner, at = i * k + w;
        it->output[1] = answers[w];
        answers[w] = NULL;
        r->out->members[w].n_won++;
        if (ea->status[at] != LOCO_OK) { /* not generated: scores 0 */
            snprintf(it->detail[1], sizeof it->detail[1], "not generated: %s",
                     loco_status_name(ea->status[at]));
        } else if (r->kind != K_JUDGE) {
            it->score[1] = ea->score[at];
            memcpy(it->detail[1], ea->detail[at], sizeof it->detail[1]);
        }
    }
    return rc;
}

/* Side 1 under ensemble: every member answers every item plain (one
 * batched pass each, cached), each member is scored alone, then the vote.
 * The side's time, tokens and cache hits are the members' together. */
static int ensemble_side(struct run *r)
{
    struct loco_eval_bench *out = r->out;
    size_t n = r->n ? r->n : 1, k = (size_t)r->p->n_members;
    struct ensemble_answers ea = {.k = k,
                                  .answer = calloc(n * k, sizeof *ea.answer),
                                  .status = calloc(n * k, sizeof *ea.status),
                                  .score = calloc(n * k, sizeof *ea.score),
                                  .detail = calloc(n * k, sizeof *ea.detail)};
    struct gen_req *reqs = calloc(n, sizeof *reqs);
    struct shown_tests *shown = calloc(n, sizeof *shown);
    int rc = reqs && shown && ea.answer && ea.status && ea.score && ea.detail
                 ? answer_requests(r, reqs, &plain_strategy, NULL)
                 : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = vote_by_tests(r, &r->p->strategy, shown, reqs);
    struct phase ph = {r->progress, r->user, out->name, "answers", 1, 0, r->n * k};
    out->n_members = (int32_t)k;
    for (int32_t m = 0; !rc && m < (int32_t)k; m++) {
        rc = member_answers(r, m, reqs, &ea, &ph);
        out->gen_ms[1] += out->members[m].gen_ms;
        out->n_cached[1] += out->members[m].n_cached;
        out->n_tokens[1] += out->members[m].n_tokens;
    }
    if (!rc)
        rc = member_scores(r, &ea);
    if (!rc)
        rc = ensemble_vote(r, reqs, &ea);
    for (size_t j = 0; ea.answer && j < n * k; j++)
        free(ea.answer[j]);
    free(ea.answer);
    free(ea.status);
    free(ea.score);
    free(ea.detail);
    eval_reqs_free(reqs, r->n);
    for (size_t i = 0; shown && i < r->n; i++)
        eval_shown_free(&shown[i]);
    free(shown);
    return rc;
}

/* Answer, score and judge each side. */
static int run_sides(struct run *r, const struct loco_adapter *a, float scale)
{
    int rc = loco_model_sha256(r->m, r->model_sha);
    char adapter_desc[LOCO_MAX_SET_ADAPTERS * 80] = "";
    if (!rc && a)
        rc = adapter_set_desc(a, scale, r->p, adapter_desc, sizeof adapter_desc);
    /* plain against a strategy: both sides are the adapter (or the base) */
    bool vs_plain = r->p->strategy.kind != LOCO_STRATEGY_PLAIN;
    for (int side = 0; side < 2 && !rc; side++) {
        if (side == 1 && !a && !vs_plain) {
            rc = copy_side(r->out);
            break;
        }
        bool adapted = side == 1 || vs_plain;
        if (side == 1 && r->p->strategy.kind == LOCO_STRATEGY_ENSEMBLE)
            rc = ensemble_side(r);
        else
            rc = answer_side(r, adapted ? a : NULL, scale, adapted ? adapter_desc : "", side,
                             side == 1 ? &r->p->strategy : &plain_strategy);
        if (!rc)
            rc = score_side(r, side);
        if (!rc && r->kind == K_JUDGE)
            rc = eval_judge_side(r, side);
    }
    return rc;
}

int loco_eval_bench_run(const struct loco_model *m, const struct loco_adapter *a, float scale,
                        const char *bench, bool in_domain, const struct loco_eval_params *p,
                        loco_eval_progress_fn progress, void *user, struct loco_eval_bench *out)
{
    memset(out, 0, sizeof *out);
    if (!m || !bench || !p)
        return loco_error_set(LOCO_ERR_INVALID, "eval: model, benchmark and params are required");
    const struct bench_def *def = eval_find_builtin(bench);
    if (!def && !eval_is_custom(bench))
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "no benchmark '%s' (built in: gsm8k, gsm8k-pot, mbpp, "
                              "humaneval, summarisation, arc-easy, arc-challenge, judge, "
                              "judge-roleplay; or a custom FILE.jsonl)",
                              bench);
    int rc = loco_eval_params_check(p);
    if (rc)
        return rc;
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = def ? def->kind : K_EXACT;
    rc =
        def ? eval_load_builtin(def, p, &items, &n) : eval_load_custom(bench, p, &kind, &items, &n, NULL);
    if (rc)
        return rc;
    loco_eval_bench_name(bench, out->name, sizeof out->name);
    struct run r = {.m = m,
                    .p = p,
                    .kind = kind,
                    .items = items,
                    .n = n,
                    .max_tokens = p->max_tokens > 0   ? p->max_tokens
                                  : def               ? def->max_tokens
                                  : kind == K_NUMERIC ? 320 /* worked answers, as gsm8k */
                                                      : 256,
                    .samples = eval_is_code(kind) && p->samples > 1 ? p->samples : 1,
                    .judge_sees_reference = !def,
                    .progress = progress,
                    .user = user,
                    .out = out};
    struct loco_gsm8k_example *shot_ex = NULL;
    size_t n_shot_ex = 0;
    if (kind == K_GSM8K && p->shots)
        rc = load_shots(&r, p, &shot_ex, &n_shot_ex);
    out->shots = (uint32_t)r.n_shots;
    if (!rc && !p->judge.url)
        eval_rating_digits(&r);
    if (!rc)
        rc = setup_result(&r, in_domain);
    if (!rc && p->cache_path)
        rc = loco_evalcache_open(p->cache_path, &r.cache);
    if (!rc && p->engine.url)
        rc = eval_engine_open(p, &r.engine);
    if (!rc)
        rc = run_sides(&r, a, scale);
    eval_engine_close(&r.engine);
    loco_evalcache_close(r.cache);
    eval_items_free(items, n);
    free(r.shots);
    loco_gsm8k_examples_free(shot_ex, n_shot_ex);
    if (!rc && r.samples > 1)
        eval_pass_k_summary(out);
    for (int side = 0; !rc && out->judged && side < 2; side++)
        eval_judge_summary(out, side);
    if (!rc && p->contam)
        rc = eval_check_contamination(out, p);
    if (!rc)
        rc = eval_compare(out, p);
    if (rc)
        loco_eval_bench_free(out);
    return rc;
}

int loco_eval_bench_info(const char *bench, const struct loco_eval_params *p, bool *binary,
                         size_t *n_items, char **domain)
{
    if (!bench || !p || !binary || !n_items)
        return loco_error_set(LOCO_ERR_INVALID, "eval: bench_info needs a benchmark and outputs");
    if (domain)
        *domain = NULL;
    const struct bench_def *def = eval_find_builtin(bench);
    if (!def && !eval_is_custom(bench))
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no benchmark '%s'", bench);
    struct loco_eval_params all = *p;
    all.limit = 0; /* every item: the plan compares n with what there is */
    struct item *items = NULL;
    size_t n = 0;
    enum kind kind = def ? def->kind : K_EXACT;
    int rc = def ? eval_load_builtin(def, &all, &items, &n)
                 : eval_load_custom(bench, &all, &kind, &items, &n, domain);
    if (rc)
        return rc;
    eval_items_free(items, n);
    uint32_t samples = eval_is_code(kind) && p->samples > 1 ? p->samples : 1;
    *binary = kind != K_ROUGE && kind != K_JUDGE && samples == 1;
    *n_items = n;
    return LOCO_OK;
}

void loco_eval_bench_free(struct loco_eval_bench *b)
{
    for (size_t i = 0; b->items && i < b->n; i++) {
        struct loco_eval_item *it = &b->items[i];
        free(it->id);
        free(it->prompt);
        for (int side = 0; side < 2; side++) {
            free(it->output[side]);
            for (uint32_t s = 0; it->sample_output[side] && s < it->n_samples; s++)
                free(it->sample_output[side][s]);
            free(it->sample_output[side]);
            free(it->sample_pass[side]);
            for (uint32_t j = 0; j < LOCO_JUDGE_MAX_JUDGMENTS; j++)
                free(it->judge_reply[side][j]);
        }
    }
    free(b->items);
    memset(b, 0, sizeof *b);
}
