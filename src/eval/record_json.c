/*
 * record_json.c - one benchmark's result as the JSON object of the
 * evaluation record (locollm-eval/1, docs/evaluation.md): the summary, the
 * statistics, the settings, pass@k and the judge's figures when there are
 * any, and every item.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loco/eval.h"
#include "loco/judge.h"

static void add_ci(cJSON *o, const char *key, struct loco_ci ci)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(ci.lo));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(ci.hi));
}

static void add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* The settings that made this benchmark's answers (beyond the defaults). */
static void add_settings(cJSON *o, const struct loco_eval_bench *b)
{
    cJSON *s = cJSON_AddObjectToObject(o, "settings");
    cJSON_AddStringToObject(s, "decoding", b->samples > 1 ? "sampled" : "greedy");
    cJSON_AddNumberToObject(s, "shots", b->shots);
    cJSON_AddNumberToObject(s, "samples", b->samples);
    if (b->samples > 1) {
        add_num(s, "temperature", b->temperature);
        cJSON_AddNumberToObject(s, "top_p", 0.95);
    }
    if (b->samples > 1 || b->judged)
        cJSON_AddNumberToObject(s, "seed", (double)b->seed);
}

static void add_pass_at_k(cJSON *o, const struct loco_eval_bench *b)
{
    cJSON *pk = cJSON_AddObjectToObject(o, "pass_at_k");
    cJSON_AddStringToObject(pk, "estimator", "unbiased, 1 - C(n-c,k)/C(n,k) (Chen et al. 2021)");
    cJSON_AddNumberToObject(pk, "n", b->samples);
    for (int side = 0; side < 2; side++) {
        cJSON *sd = cJSON_AddObjectToObject(pk, side ? "adapter" : "base");
        for (size_t k = 0; k < b->n_pass_k; k++) {
            char key[16];
            snprintf(key, sizeof key, "pass@%u", b->pass_k[k]);
            add_num(sd, key, b->pass_at_k[side][k]);
        }
    }
}

static void add_judge(cJSON *o, const struct loco_eval_bench *b)
{
    cJSON *j = cJSON_AddObjectToObject(o, "judge");
    cJSON_AddStringToObject(j, "judge", b->judge);
    cJSON_AddStringToObject(j, "rubric", loco_judge_rubric_name(b->rubric));
    cJSON *scale = cJSON_AddArrayToObject(j, "scale");
    cJSON_AddItemToArray(scale, cJSON_CreateNumber(1));
    cJSON_AddItemToArray(scale, cJSON_CreateNumber(b->rating_max));
    cJSON_AddStringToObject(j, "score", "mean valid rating r mapped to (r - 1) / (max - 1)");
    cJSON_AddNumberToObject(j, "judgments_per_answer", b->n ? b->items[0].n_ratings : 0);
    cJSON_AddNumberToObject(j, "unrated_items", (double)(b->n - b->n_used));
    for (int side = 0; side < 2; side++) {
        cJSON *sd = cJSON_AddObjectToObject(j, side ? "adapter" : "base");
        add_num(sd, "mean_rating", b->mean_rating[side]);
        add_num(sd, "mean_item_sd", b->rating_sd[side]);
        add_num(sd, "mean_item_range", b->rating_range[side]);
        cJSON_AddNumberToObject(sd, "judgments", (double)b->n_judgments[side]);
        cJSON_AddNumberToObject(sd, "unparseable", (double)b->n_unparsed[side]);
        cJSON_AddNumberToObject(sd, "cached", (double)b->n_judge_cached[side]);
        add_num(sd, "ms", b->judge_ms[side]);
    }
}

/* Strategy ensemble: the members in order (the vote's answer indices),
 * each with its adapter file's hash, rank, its answers' score alone, the
 * items it won, and what its answers cost in this run. */
static void add_ensemble(cJSON *o, const struct loco_eval_bench *b)
{
    cJSON *e = cJSON_AddObjectToObject(o, "ensemble");
    cJSON_AddStringToObject(e, "vote", b->n && b->items[0].vote[1].k ? b->items[0].vote[1].by : "");
    cJSON_AddStringToObject(e, "ties", "to the earliest member (the best-ranked)");
    cJSON *arr = cJSON_AddArrayToObject(e, "members");
    for (int32_t m = 0; m < b->n_members; m++) {
        const struct loco_eval_member_result *r = &b->members[m];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", r->name);
        if (r->sha256[0])
            cJSON_AddStringToObject(x, "sha256", r->sha256);
        else
            cJSON_AddNullToObject(x, "sha256"); /* the base model */
        add_num(x, "rank", r->rank > 0 ? r->rank : NAN); /* null: not ranked */
        add_num(x, "score", r->score);
        cJSON_AddNumberToObject(x, "won", (double)r->n_won);
        add_num(x, "ms", r->gen_ms);
        cJSON_AddNumberToObject(x, "cached", (double)r->n_cached);
        cJSON_AddNumberToObject(x, "tokens", (double)r->n_tokens);
        cJSON_AddItemToArray(arr, x);
    }
}

/* sc:K's vote, when this run voted: what it compared, the winner and its
 * share, and by tests how many each answer passed of those shown. */
static void add_vote(cJSON *side, const struct loco_eval_vote *v)
{
    cJSON *o = cJSON_AddObjectToObject(side, "vote");
    cJSON_AddStringToObject(o, "by", v->by);
    cJSON_AddNumberToObject(o, "k", v->k);
    cJSON_AddNumberToObject(o, "winner", v->winner);
    add_num(o, "share", v->share);
    if (strcmp(v->by, "tests") != 0 && strcmp(v->by, "doctests") != 0)
        return;
    cJSON_AddNumberToObject(o, "tests_shown", v->n_tests);
    cJSON *arr = cJSON_AddArrayToObject(o, "tests_passed");
    for (int32_t i = 0; i < v->k && i < LOCO_GENERATE_MAX_SLOTS; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(v->passed[i]));
}

/* Per item and side: every sample (n > 1), every rating (judged) and sc:K's
 * vote. */
static void add_item_extras(cJSON *side, const struct loco_eval_item *it, int s)
{
    if (it->vote[s].k > 0)
        add_vote(side, &it->vote[s]);
    if (it->n_samples > 1) {
        cJSON_AddNumberToObject(side, "n", it->n_samples);
        cJSON_AddNumberToObject(side, "c", it->n_correct[s]);
        cJSON *arr = cJSON_AddArrayToObject(side, "samples");
        for (uint32_t k = 0; k < it->n_samples; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddBoolToObject(e, "passed", it->sample_pass[s][k]);
            cJSON_AddStringToObject(e, "output",
                                    it->sample_output[s][k] ? it->sample_output[s][k] : "");
            cJSON_AddItemToArray(arr, e);
        }
    }
    if (it->n_ratings) {
        cJSON *arr = cJSON_AddArrayToObject(side, "ratings");
        for (uint32_t j = 0; j < it->n_ratings; j++)
            cJSON_AddItemToArray(arr, isnan(it->rating[s][j])
                                          ? cJSON_CreateNull()
                                          : cJSON_CreateNumber(it->rating[s][j]));
        arr = cJSON_AddArrayToObject(side, "judge_replies");
        for (uint32_t j = 0; j < it->n_ratings; j++)
            cJSON_AddItemToArray(
                arr, cJSON_CreateString(it->judge_reply[s][j] ? it->judge_reply[s][j] : ""));
    }
}

char *loco_eval_bench_json(const struct loco_eval_bench *b, bool with_items)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "benchmark", b->name);
    cJSON_AddStringToObject(o, "metric", b->metric);
    cJSON_AddNumberToObject(o, "n_items", (double)b->n);
    if (b->n_used != b->n)
        cJSON_AddNumberToObject(o, "n_paired", (double)b->n_used);
    cJSON_AddStringToObject(o, "test", b->binary ? "exact McNemar" : "Wilcoxon signed-rank");
    add_settings(o, b);
    add_num(o, "base_score", b->base_score);
    add_num(o, "adapter_score", b->adapter_score);
    add_num(o, "diff", b->diff);
    add_ci(o, "diff_ci95", b->diff_ci);
    add_num(o, "p_value", b->p_value);
    if (b->binary) {
        add_ci(o, "base_ci95", b->bin.base_ci);
        add_ci(o, "adapter_ci95", b->bin.adapter_ci);
        cJSON *c = cJSON_AddObjectToObject(o, "pairs");
        cJSON_AddNumberToObject(c, "both_right", b->bin.n11);
        cJSON_AddNumberToObject(c, "base_only", b->bin.b);
        cJSON_AddNumberToObject(c, "adapter_only", b->bin.c);
        cJSON_AddNumberToObject(c, "both_wrong", b->bin.n00);
        add_num(o, "cohens_h", b->bin.cohens_h);
        add_num(o, "power_10pt", b->bin.power[0]);
        add_num(o, "power_5pt", b->bin.power[1]);
    } else {
        add_ci(o, "base_ci95", b->cont.base_ci);
        add_ci(o, "adapter_ci95", b->cont.adapter_ci);
        add_num(o, "bootstrap_p", b->cont.bootstrap_p);
        add_num(o, "cohens_dz", b->cont.cohens_dz);
        add_num(o, "rank_biserial", b->cont.wilcoxon.rank_biserial);
        add_num(o, "power_10pt", b->cont.power[0]);
        add_num(o, "power_5pt", b->cont.power[1]);
    }
    cJSON_AddBoolToObject(o, "in_domain", b->in_domain);
    cJSON_AddNumberToObject(o, "n_used", (double)b->n_used);
    cJSON *ct = cJSON_AddObjectToObject(o, "contamination");
    cJSON_AddBoolToObject(ct, "checked", b->contam_checked);
    if (b->contam_checked) {
        cJSON_AddStringToObject(ct, "method", "exact match and word 13-grams of the prompt "
                                              "against the adapter's training data");
        cJSON_AddNumberToObject(ct, "threshold", b->contam_threshold);
        cJSON_AddNumberToObject(ct, "exact", (double)b->n_contam_exact);
        cJSON_AddNumberToObject(ct, "overlap", (double)b->n_contam_overlap);
        cJSON_AddNumberToObject(ct, "flagged", (double)b->n_contaminated);
        cJSON_AddBoolToObject(ct, "decontaminated", b->decontaminated);
        cJSON *ids = cJSON_AddArrayToObject(ct, "flagged_ids");
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].contaminated)
                cJSON_AddItemToArray(ids, cJSON_CreateString(b->items[i].id));
    }
    cJSON_AddStringToObject(o, "gate", loco_gate_kind_name(b->gate_kind));
    cJSON_AddStringToObject(o, "verdict", loco_gate_verdict_name(b->verdict));
    cJSON_AddBoolToObject(o, "passed", b->gate_passed);
    cJSON_AddStringToObject(o, "why", b->gate_why ? b->gate_why : "");
    cJSON *t = cJSON_AddObjectToObject(o, "generation");
    add_num(t, "base_ms", b->gen_ms[0]);
    add_num(t, "adapter_ms", b->gen_ms[1]);
    cJSON_AddNumberToObject(t, "base_cached", (double)b->n_cached[0]);
    cJSON_AddNumberToObject(t, "adapter_cached", (double)b->n_cached[1]);
    cJSON_AddNumberToObject(t, "base_tokens", (double)b->n_tokens[0]);
    cJSON_AddNumberToObject(t, "adapter_tokens", (double)b->n_tokens[1]);
    if (b->n_members)
        add_ensemble(o, b);
    if (b->n_pass_k)
        add_pass_at_k(o, b);
    if (b->judged)
        add_judge(o, b);
    if (with_items) {
        cJSON *arr = cJSON_AddArrayToObject(o, "items");
        for (size_t i = 0; i < b->n; i++) {
            const struct loco_eval_item *it = &b->items[i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "id", it->id);
            cJSON_AddStringToObject(e, "prompt", it->prompt);
            for (int s = 0; s < 2; s++) {
                cJSON *side = cJSON_AddObjectToObject(e, s ? "adapter" : "base");
                cJSON_AddStringToObject(side, "output", it->output[s] ? it->output[s] : "");
                add_num(side, "score", it->score[s]);
                cJSON_AddStringToObject(side, "detail", it->detail[s]);
                cJSON_AddBoolToObject(side, "cached", it->cached[s]);
                add_item_extras(side, it, s);
            }
            if (b->judged)
                cJSON_AddBoolToObject(e, "unrated", it->unrated);
            if (it->contaminated || (b->contam_checked && it->contam_fraction > 0)) {
                cJSON *c = cJSON_AddObjectToObject(e, "contamination");
                cJSON_AddBoolToObject(c, "flagged", it->contaminated);
                cJSON_AddBoolToObject(c, "exact", it->contam_exact);
                add_num(c, "fraction", it->contam_fraction);
            }
            cJSON_AddItemToArray(arr, e);
        }
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}
