/*
 * judging.c - judged benchmarks: every answer rated n_judgments times by
 * a judge model (the base model in process, pre-filled and held to the
 * rating digits, or an OpenAI-compatible endpoint), each judgment a batch
 * through the cache (batch.c), the ratings read and averaged per item.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_internal.h"
#include "core/sbuf.h"
#include "loco/tokenizer.h"

/* The tokens that spell the ratings 1..max on their own ("10" only where
 * the vocabulary has it as one token; byte-level vocabularies split it, so
 * the local judge then rates 1-9 on the 1-10 scale). */
void eval_rating_digits(struct run *r)
{
    const struct loco_tokenizer *tok = loco_model_tokenizer(r->m);
    int32_t max = loco_judge_rubric_max(r->p->judge.rubric);
    r->n_digits = 0;
    for (int32_t k = 1; k <= max && k <= 10; k++) {
        char text[16];
        snprintf(text, sizeof text, "%d", (int)k);
        int32_t *t = NULL;
        size_t n = 0;
        if (loco_tokenizer_encode(tok, text, strlen(text), false, false, &t, &n) == LOCO_OK &&
            n == 1)
            r->digits[r->n_digits++] = t[0];
        free(t);
    }
}

/* How judgment j is made: the base model (no adapter) pre-filled with the
 * rating's opening, or the endpoint. *settings is malloc'd. */
static struct gen_how judge_how(const struct run *r, uint32_t j, char *remote_sha, size_t cap,
                                char **settings)
{
    const struct loco_judge_params *jp = &r->p->judge;
    struct gen_how how = {
        .model_sha = r->model_sha, .adapter_desc = "", .gp = loco_generate_default_params()};
    how.gp.sampling.temperature = jp->temperature;
    how.gp.sampling.top_k = 0;
    how.gp.sampling.top_p = 0.95f;
    how.gp.sampling.min_p = 0.0f;
    how.gp.sampling.repeat_penalty = 1.0f;
    how.gp.sampling.seed = eval_derive_seed(r->p->seed, 1, j);
    const char *rubric = loco_judge_rubric_name(jp->rubric);
    unsigned long long seed = (unsigned long long)how.gp.sampling.seed;
    if (jp->url) {
        snprintf(remote_sha, cap, "remote:%s@%s", jp->model ? jp->model : "", jp->url);
        how.model_sha = remote_sha;
        how.remote = jp;
        how.gp.max_tokens = jp->max_tokens;
        *settings = loco_str_printf("judge=remote;rubric=%s;judgment=%u;temperature=%.6g;seed=%llu;"
                                    "max_tokens=%d;v1",
                                    rubric, j, (double)jp->temperature, seed, jp->max_tokens);
    } else {
        /* pre-filled "Rating: [[", then one token drawn from the rating digits
         * only: every local judgment is a rating. A vocabulary without
         * single-token digits writes up to 8 free tokens instead. */
        how.prefill = LOCO_JUDGE_PREFILL;
        if (r->n_digits > 0) {
            how.gp.max_tokens = 1;
            how.gp.sampling.allowed = r->digits;
            how.gp.sampling.n_allowed = r->n_digits;
            *settings =
                loco_str_printf("judge=local;rubric=%s;judgment=%u;temperature=%.6g;"
                                "seed=%llu;prefill=%s;digits=%d;max_tokens=1;template=%s;v2",
                                rubric, j, (double)jp->temperature, seed, LOCO_JUDGE_PREFILL,
                                r->n_digits, eval_template_name(r->p));
        } else {
            how.gp.max_tokens = 8; /* "7]]" and a little room */
            *settings =
                loco_str_printf("judge=local;rubric=%s;judgment=%u;temperature=%.6g;"
                                "top_p=0.95;seed=%llu;prefill=%s;max_tokens=8;template=%s;v1",
                                rubric, j, (double)jp->temperature, seed, LOCO_JUDGE_PREFILL,
                                eval_template_name(r->p));
        }
    }
    return how;
}

/* The judge's conversation about item i's answer on `side`. */
static int judge_request(const struct run *r, size_t i, int side, struct gen_req *q, char **prompt)
{
    const struct item *src = &r->items[i];
    *prompt = loco_judge_prompt(r->p->judge.rubric, src->prompt, r->out->items[i].output[side],
                                r->judge_sees_reference ? src->gold : NULL, src->rubric);
    q->msgs = malloc(2 * sizeof *q->msgs);
    if (!*prompt || !q->msgs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    q->msgs[0] = (struct loco_chat_msg){.role = "system", .content = loco_judge_system_prompt()};
    q->msgs[1] = (struct loco_chat_msg){.role = "user", .content = *prompt};
    q->n_msgs = 2;
    q->key_text = *prompt;
    return LOCO_OK;
}

/* Keep judgment j of item it on `side`: the judge's whole reply (the local
 * judge's pre-filled opening, then what it wrote) and the rating read from
 * it (NaN when none can be read). */
static int keep_judgment(const struct run *r, struct loco_eval_item *it, int side, uint32_t j,
                         const struct gen_req *q)
{
    char *text = r->p->judge.url ? strdup(q->output)
                                 : loco_str_printf("%s%s%s", LOCO_JUDGE_PREFILL, q->output,
                                                   r->n_digits ? "]]" : "");
    if (!text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    double v = NAN;
    if (q->status != LOCO_OK ||
        loco_judge_parse_rating(text, loco_judge_rubric_max(r->p->judge.rubric), &v) != LOCO_OK)
        v = NAN;
    it->judge_reply[side][j] = text;
    it->rating[side][j] = v;
    return LOCO_OK;
}

/* Item i's score on `side` from its ratings: the mean valid rating on 0..1. */
static void score_ratings(struct loco_eval_item *it, int side, int32_t max)
{
    double sum = 0;
    uint32_t valid = 0;
    size_t at = (size_t)snprintf(it->detail[side], sizeof it->detail[side], "ratings");
    for (uint32_t j = 0; j < it->n_ratings; j++) {
        double v = it->rating[side][j];
        if (!isnan(v)) {
            sum += loco_judge_normalise(v, max);
            valid++;
        }
        if (at < sizeof it->detail[side])
            at += (size_t)snprintf(it->detail[side] + at, sizeof it->detail[side] - at,
                                   isnan(v) ? " ?" : " %g", v);
    }
    it->score[side] = valid ? sum / valid : NAN;
    if (!valid)
        it->unrated = true;
}

int eval_judge_side(struct run *r, int side)
{
    struct loco_eval_bench *out = r->out;
    const struct loco_judge_params *jp = &r->p->judge;
    uint32_t n_j = jp->n_judgments < 1                          ? 1
                   : jp->n_judgments > LOCO_JUDGE_MAX_JUDGMENTS ? LOCO_JUDGE_MAX_JUDGMENTS
                                                                : jp->n_judgments;
    struct gen_req *reqs = calloc(r->n ? r->n : 1, sizeof *reqs);
    char **prompts = calloc(r->n ? r->n : 1, sizeof *prompts), remote_sha[2048];
    size_t *idx = calloc(r->n ? r->n : 1, sizeof *idx), k = 0;
    int rc = reqs && prompts && idx ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < r->n; i++) {
        out->items[i].n_ratings = n_j;
        for (uint32_t j = 0; j < n_j; j++)
            out->items[i].rating[side][j] = NAN;
        if (out->items[i].detail[side][0]) /* not generated: scores 0, unjudged */
            continue;
        idx[k] = i;
        rc = judge_request(r, i, side, &reqs[k], &prompts[k]);
        k++;
    }
    struct phase ph = {r->progress, r->user, out->name, "judging", side, 0, k * n_j};
    struct gen_totals tot = {0};
    for (uint32_t j = 0; !rc && j < n_j; j++) {
        char *settings = NULL;
        struct gen_how how = judge_how(r, j, remote_sha, sizeof remote_sha, &settings);
        how.settings = settings;
        rc = settings ? eval_run_batch(r->m, r->p, r->cache, &how, reqs, k, &ph, &tot)
                      : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        for (size_t q = 0; !rc && q < k; q++)
            rc = keep_judgment(r, &out->items[idx[q]], side, j, &reqs[q]);
        eval_reqs_clear(reqs, k);
        free(settings);
    }
    for (size_t q = 0; !rc && q < k; q++)
        score_ratings(&out->items[idx[q]], side, loco_judge_rubric_max(jp->rubric));
    if (rc)
        loco_error_prefix("%s: judging the %s answers", out->name, side ? "adapter" : "base");
    out->judge_ms[side] = tot.ms;
    out->n_judge_cached[side] = tot.cached;
    out->n_judgments[side] = k * n_j;
    for (size_t q = 0; prompts && q < k; q++)
        free(prompts[q]);
    free(prompts);
    free(idx);
    eval_reqs_free(reqs, k);
    return rc;
}
