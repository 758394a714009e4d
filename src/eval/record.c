/*
 * record.c - the evaluation record of a run (locollm-eval/1,
 * docs/evaluation.md): its head (model, adapter, settings, the
 * contamination check) around the benchmarks' objects (record_json.c), the
 * verdicts a merged record decided, and which verdicts let an adapter
 * through. One schema for `loco eval` and anything else that runs an
 * evaluation (a server).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loco/eval.h"
#include "loco/models.h"

int loco_eval_record_info_fill(struct loco_eval_record_info *info, const struct loco_model *m,
                               const char *model_path, const struct loco_adapter *a, float scale)
{
    if (!info || !m || !a)
        return loco_error_set(LOCO_ERR_INVALID, "record info: needs the model and the adapter");
    memset(info, 0, sizeof *info);
    snprintf(info->model_path, sizeof info->model_path, "%s", model_path ? model_path : "");
    int rc = loco_model_sha256(m, info->model_sha256);
    const struct loco_adapter_info *in = loco_adapter_info(a);
    snprintf(info->adapter_name, sizeof info->adapter_name, "%s", in->name);
    snprintf(info->adapter_domain, sizeof info->adapter_domain, "%s", in->domain);
    snprintf(info->adapter_path, sizeof info->adapter_path, "%s", in->path);
    if (rc == LOCO_OK)
        rc = loco_models_sha256_file(in->path, info->adapter_sha256);
    info->scale = scale;
    return rc;
}

static void add_settings(cJSON *r, const struct loco_eval_params *p)
{
    cJSON *s = cJSON_AddObjectToObject(r, "settings");
    cJSON_AddStringToObject(s, "decoding",
                            p->samples > 1 ? "greedy; sampled for code benchmarks" : "greedy");
    cJSON_AddNumberToObject(s, "shots", p->shots);
    cJSON_AddNumberToObject(s, "samples", p->samples);
    char name[LOCO_STRATEGY_NAME_MAX];
    cJSON_AddStringToObject(s, "strategy", loco_strategy_name(&p->strategy, name, sizeof name));
    cJSON_AddStringToObject(s, "compares", p->strategy.kind == LOCO_STRATEGY_PLAIN
                                               ? "base model (base) vs adapter (adapter)"
                                               : "plain (base) vs strategy (adapter), both "
                                                 "answered by the adapter");
    if (p->samples > 1) {
        cJSON_AddNumberToObject(s, "temperature", p->temperature);
        cJSON_AddNumberToObject(s, "top_p", p->top_p);
    }
    cJSON_AddNumberToObject(s, "seed", (double)p->seed);
    cJSON *j = cJSON_AddObjectToObject(s, "judge");
    cJSON_AddStringToObject(j, "rubric", loco_judge_rubric_name(p->judge.rubric));
    cJSON_AddNumberToObject(j, "judgments", p->judge.n_judgments);
    cJSON_AddNumberToObject(j, "temperature", p->judge.temperature);
    cJSON_AddStringToObject(j, "url", p->judge.url ? p->judge.url : "");
    cJSON_AddStringToObject(j, "model",
                            p->judge.url && p->judge.model ? p->judge.model : "base model");
    cJSON_AddNumberToObject(s, "limit", (double)p->limit);
    cJSON_AddNumberToObject(s, "slots", p->slots);
    cJSON_AddNumberToObject(s, "n_ctx", p->n_ctx);
    cJSON_AddNumberToObject(s, "alpha", p->stats.alpha);
    cJSON_AddNumberToObject(s, "non_inferiority_margin", p->stats.ni_margin);
    cJSON_AddNumberToObject(s, "bootstrap_resamples", p->stats.bootstrap_b);
}

static void add_contamination(cJSON *r, const struct loco_eval_record_info *info,
                              const struct loco_eval_params *p)
{
    cJSON *ct = cJSON_AddObjectToObject(r, "contamination");
    cJSON_AddBoolToObject(ct, "checked", info->contam_checked);
    if (info->contam_checked) {
        cJSON_AddStringToObject(ct, "recipe", info->contam_recipe);
        cJSON_AddNumberToObject(ct, "training_examples", (double)info->contam_examples);
        cJSON_AddNumberToObject(ct, "threshold", p->contam_threshold);
        cJSON_AddBoolToObject(ct, "decontaminate", p->decontaminate);
    } else
        cJSON_AddStringToObject(ct, "why", info->contam_why);
}

/* The benchmarks' objects, their items' prompts left out when asked. */
static void add_benchmarks(cJSON *r, const struct loco_eval_bench *b, size_t n, bool omit_prompts)
{
    cJSON *arr = cJSON_AddArrayToObject(r, "benchmarks");
    for (size_t i = 0; i < n; i++) {
        char *bj = loco_eval_bench_json(&b[i], true);
        cJSON *parsed = bj ? cJSON_Parse(bj) : NULL;
        free(bj);
        cJSON *it;
        if (parsed && omit_prompts)
            cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(parsed, "items"))
                cJSON_DeleteItemFromObjectCaseSensitive(it, "prompt");
        if (parsed)
            cJSON_AddItemToArray(arr, parsed);
    }
}

char *loco_eval_record_json(const struct loco_eval_record_info *info,
                            const struct loco_eval_params *p, const struct loco_eval_bench *b,
                            size_t n)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "record", "locollm-eval/1");
    cJSON_AddStringToObject(r, "loco_version", LOCO_VERSION);
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cJSON_AddStringToObject(r, "date", info->date[0] ? info->date : date);
    cJSON *m = cJSON_AddObjectToObject(r, "model");
    cJSON_AddStringToObject(m, "path", info->model_path);
    cJSON_AddStringToObject(m, "sha256", info->model_sha256);
    cJSON *ad = cJSON_AddObjectToObject(r, "adapter");
    cJSON_AddStringToObject(ad, "name", info->adapter_name);
    cJSON_AddStringToObject(ad, "domain", info->adapter_domain);
    cJSON_AddStringToObject(ad, "path", info->adapter_path);
    cJSON_AddStringToObject(ad, "sha256", info->adapter_sha256);
    cJSON_AddNumberToObject(ad, "scale", info->scale);
    add_settings(r, p);
    if (info->omit_prompts)
        cJSON_AddStringToObject(r, "prompts",
                                "omitted (--omit-prompts): each item's id names "
                                "its dataset record; the prompt format is the "
                                "benchmark's (docs/evaluation.md)");
    add_contamination(r, info, p);
    add_benchmarks(r, b, n, info->omit_prompts);
    char *text = cJSON_Print(r);
    cJSON_Delete(r);
    return text;
}

void loco_eval_record_verdicts(const char *record, const struct loco_eval_bench *b, size_t n,
                               enum loco_gate_verdict *out)
{
    cJSON *r = record ? cJSON_Parse(record) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "benchmarks");
    for (size_t i = 0; i < n; i++) {
        out[i] = b[i].verdict;
        const cJSON *e;
        cJSON_ArrayForEach(e, list)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "benchmark");
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "verdict");
            if (cJSON_IsString(name) && !strcmp(name->valuestring, b[i].name) && cJSON_IsString(v))
                loco_gate_verdict_parse(v->valuestring, &out[i]);
        }
    }
    cJSON_Delete(r);
}

bool loco_eval_verdict_passes(enum loco_gate_verdict v, enum loco_gate_kind kind)
{
    return v == LOCO_VERDICT_PASS ||
           (v == LOCO_VERDICT_UNINFORMATIVE && kind == LOCO_GATE_NONINFERIORITY);
}
