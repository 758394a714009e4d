/*
 * record.c - an evaluation record ("locollm-eval/1", written by `loco eval`)
 * read into struct report_record.
 *
 * Tolerant on purpose: the record grows (contamination checks, judge
 * ratings, pass@k are being added), so a missing optional field reads as
 * NAN or NULL and an unknown one is kept for the "Other fields" section.
 * Strict where it matters: a text that is not JSON, or JSON that is not an
 * evaluation record, is refused with a message saying which.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/report.h"
#include "report/report_internal.h"
#include "core/json_get.h"

static void ci_of(const cJSON *o, const char *key, double ci[2])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    for (int i = 0; i < 2; i++) {
        const cJSON *e = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, i) : NULL;
        ci[i] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    }
}

static void read_bench(const cJSON *o, struct report_bench *b)
{
    b->json = o;
    b->name = loco_json_string(o, "benchmark");
    if (!b->name)
        b->name = "?";
    b->metric = loco_json_string(o, "metric");
    b->test = loco_json_string(o, "test");
    b->gate = loco_json_string(o, "gate");
    b->why = loco_json_string(o, "why");
    b->n_items = loco_json_number(o, "n_items");
    b->base = loco_json_number(o, "base_score");
    b->adapter = loco_json_number(o, "adapter_score");
    b->diff = loco_json_number(o, "diff");
    b->p = loco_json_number(o, "p_value");
    ci_of(o, "base_ci95", b->base_ci);
    ci_of(o, "adapter_ci95", b->adapter_ci);
    ci_of(o, "diff_ci95", b->diff_ci);
    b->effect_name = "h";
    b->effect = loco_json_number(o, "cohens_h");
    if (isnan(b->effect)) {
        b->effect_name = "d_z";
        b->effect = loco_json_number(o, "cohens_dz");
    }
    if (isnan(b->effect))
        b->effect_name = NULL;
    b->power10 = loco_json_number(o, "power_10pt");
    b->power5 = loco_json_number(o, "power_5pt");
    b->bootstrap_p = loco_json_number(o, "bootstrap_p");
    b->rank_biserial = loco_json_number(o, "rank_biserial");
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(o, "pairs");
    static const char *const pair_keys[4] = {"both_right", "base_only", "adapter_only",
                                             "both_wrong"};
    for (int i = 0; i < 4; i++)
        b->pairs[i] = loco_json_number(pairs, pair_keys[i]);
    const cJSON *passed = cJSON_GetObjectItemCaseSensitive(o, "passed");
    b->has_passed = cJSON_IsBool(passed);
    b->passed = cJSON_IsTrue(passed);
    b->verdict = loco_json_string(o, "verdict");
    if (!b->verdict && b->has_passed)
        b->verdict = b->passed ? "PASS" : "FAIL";
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "in_domain");
    b->in_domain =
        cJSON_IsBool(in) ? cJSON_IsTrue(in) : (b->gate && !strcmp(b->gate, "superiority"));
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "generation");
    b->gen_ms[0] = loco_json_number(g, "base_ms");
    b->gen_ms[1] = loco_json_number(g, "adapter_ms");
    b->cached[0] = loco_json_number(g, "base_cached");
    b->cached[1] = loco_json_number(g, "adapter_cached");
    b->tokens[0] = loco_json_number(g, "base_tokens");
    b->tokens[1] = loco_json_number(g, "adapter_tokens");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
    b->items = cJSON_IsArray(items) ? items : NULL;
}

/* Nesting depth left open at the end of text (strings skipped): > 0 for a
 * file cut short. */
static int open_depth(const char *s)
{
    int depth = 0;
    bool in_str = false;
    for (; *s; s++) {
        if (in_str) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                in_str = false;
        } else if (*s == '"')
            in_str = true;
        else if (*s == '{' || *s == '[')
            depth++;
        else if (*s == '}' || *s == ']')
            depth--;
    }
    return depth + in_str;
}

/* The message for a text cJSON refused: where, and whether it was cut short. */
static int not_json(const char *json, const char *end)
{
    size_t len = strlen(json);
    size_t at = end && end >= json && (size_t)(end - json) <= len ? (size_t)(end - json) : 0;
    if (len > 0 && open_depth(json) > 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "the evaluation record is not complete JSON: its %zu bytes end "
                              "inside an unclosed object, list or string (a truncated file?)",
                              len);
    return loco_error_set(LOCO_ERR_FORMAT,
                          "the evaluation record is not JSON: error at byte %zu near '%.20s'", at,
                          json + at);
}

static int check_kind(const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return loco_error_set(LOCO_ERR_FORMAT, "not an evaluation record: the JSON is not an "
                                               "object (a locollm-eval/1 record is)");
    const char *kind = loco_json_string(root, "record");
    if (!kind)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "not an evaluation record: no \"record\" field (expected \"%s\", "
                              "as `loco eval --out FILE` writes)",
                              LOCO_REPORT_RECORD_KIND);
    if (strcmp(kind, LOCO_REPORT_RECORD_KIND))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "unsupported record kind \"%.80s\" (this loco reads \"%s\")", kind,
                              LOCO_REPORT_RECORD_KIND);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "benchmarks")))
        return loco_error_set(LOCO_ERR_FORMAT, "evaluation record without a \"benchmarks\" list");
    return LOCO_OK;
}

int report_record_parse(const char *json, struct report_record *out)
{
    memset(out, 0, sizeof *out);
    if (!json)
        return loco_error_set(LOCO_ERR_INVALID, "no evaluation record text");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root)
        return not_json(json, end);
    int rc = check_kind(root);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    out->root = root;
    out->version = loco_json_string(root, "loco_version");
    out->date = loco_json_string(root, "date");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    out->model_path = loco_json_string(m, "path");
    out->model_sha = loco_json_string(m, "sha256");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "adapter");
    out->adapter_name = loco_json_string(a, "name");
    out->adapter_domain = loco_json_string(a, "domain");
    out->adapter_path = loco_json_string(a, "path");
    out->adapter_sha = loco_json_string(a, "sha256");
    out->scale = loco_json_number(a, "scale");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "settings");
    out->settings = cJSON_IsObject(s) ? s : NULL;
    const cJSON *strategy = out->settings
                                ? cJSON_GetObjectItemCaseSensitive(out->settings, "strategy")
                                : NULL;
    bool plain = !cJSON_IsString(strategy) || !strcmp(strategy->valuestring, "plain");
    out->side[0] = plain ? "base" : "plain";
    out->side[1] = plain ? "adapter" : strategy->valuestring;
    out->ni_margin = loco_json_number(s, "non_inferiority_margin");
    if (isnan(out->ni_margin))
        out->ni_margin = 0.05;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "benchmarks");
    size_t n = (size_t)cJSON_GetArraySize(arr);
    out->b = calloc(n ? n : 1, sizeof *out->b);
    if (!out->b) {
        report_record_free(out);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading the record");
    }
    const cJSON *o;
    for (o = arr->child; o; o = o->next) {
        if (cJSON_IsObject(o))
            read_bench(o, &out->b[out->n++]);
    }
    return LOCO_OK;
}

void report_record_free(struct report_record *r)
{
    cJSON_Delete(r->root);
    free(r->b);
    memset(r, 0, sizeof *r);
}

size_t report_record_n_items(const struct report_bench *b)
{
    return b->items ? (size_t)cJSON_GetArraySize(b->items) : 0;
}

bool report_record_item(const struct report_bench *b, size_t i, struct report_item *out)
{
    const cJSON *o = b->items ? cJSON_GetArrayItem(b->items, (int)i) : NULL;
    if (!cJSON_IsObject(o))
        return false;
    out->id = loco_json_string(o, "id");
    out->prompt = loco_json_string(o, "prompt");
    for (int s = 0; s < 2; s++) {
        const cJSON *side = cJSON_GetObjectItemCaseSensitive(o, s ? "adapter" : "base");
        const char *text = loco_json_string(side, "output");
        out->output[s] = text ? text : "";
        out->score[s] = loco_json_number(side, "score");
        out->detail[s] = loco_json_string(side, "detail");
    }
    if (!out->id)
        out->id = "?";
    return true;
}

static bool in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(key, *list))
            return true;
    return false;
}

bool report_known_record_key(const char *key)
{
    static const char *const keys[] = {
        "record",        "loco_version", "date", "model", "adapter", "settings", "benchmarks",
        "contamination", "prompts",      "run",  "runs",  "plan",    "engine",   NULL};
    return in_list(key, keys);
}

bool report_known_bench_key(const char *key)
{
    static const char *const keys[] = {
        "benchmark",     "metric",    "n_items",     "test",          "base_score",
        "adapter_score", "diff",      "diff_ci95",   "p_value",       "base_ci95",
        "adapter_ci95",  "pairs",     "cohens_h",    "cohens_dz",     "power_10pt",
        "power_5pt",     "gate",      "passed",      "why",           "generation",
        "items",         "in_domain", "bootstrap_p", "rank_biserial", "contamination",
        "judge",         "pass_at_k", "n_used",      "verdict",       "run_verdict",
        "decided_by_run", "rerun",    "planned_n",   "plan_note",     NULL};
    return in_list(key, keys);
}

char *report_json_brief(const cJSON *v, size_t max)
{
    char *text = cJSON_PrintUnformatted(v);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    if (max >= 4 && len > max) {
        size_t cut = max - 3;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--; /* not inside a UTF-8 character */
        memcpy(text + cut, "...", 4);
    }
    return text;
}
