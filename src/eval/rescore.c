/*
 * rescore.c - a stored evaluation record scored again by the current
 * scorers (`loco eval --rescore`, see loco/eval.h).
 *
 * A record keeps every answer of both sides. When a scorer changes (the
 * code harness hardened, the number extraction refactored), the figures a
 * record holds may no longer be what the code gives for the same answers.
 * Re-scoring reads each benchmark back into a struct loco_eval_bench,
 * scores its answers again and computes the statistics and gate with the
 * code a run uses (scoring.c, eval_bench_rescore), writes the new scores into
 * the record's items and figures into its summary, keeps what was there
 * before under "rescored", and decides the verdicts with the record's own
 * rules (loco_eval_record_regate). Nothing is generated and no judge is
 * asked again: judged benchmarks keep their stored judgments.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/eval.h"
#include "loco/stats.h"
#include "rescore_internal.h"
#include "core/json_get.h"

/* ---- small JSON helpers ------------------------------------------------------ */

static cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void set_item(cJSON *o, const char *key, cJSON *v)
{
    if (cJSON_HasObjectItem(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else
        cJSON_AddItemToObject(o, key, v);
}

static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static const char *verdict_of(const cJSON *b)
{
    const char *v = loco_json_string(b, "verdict");
    if (v)
        return v;
    return cJSON_IsTrue(get(b, "passed")) ? "PASS" : "FAIL";
}

/* Whether two scores differ (NaN equals NaN: an unrated item stays one). */
static bool differs(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) != isnan(b);
    return fabs(a - b) > 1e-12;
}

/* ---- a stored benchmark read back ---------------------------------------------- */

/* One side of one stored item: answer, score, detail, samples. */
static int side_from_json(const cJSON *s, struct loco_eval_item *it, int side)
{
    const char *out = loco_json_string(s, "output");
    it->output[side] = strdup(out ? out : "");
    it->score[side] = loco_json_number(s, "score");
    const char *detail = loco_json_string(s, "detail");
    snprintf(it->detail[side], sizeof it->detail[side], "%s", detail ? detail : "");
    it->cached[side] = cJSON_IsTrue(get(s, "cached"));
    if (!it->output[side])
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    const cJSON *samples = get(s, "samples");
    if (!cJSON_IsArray(samples) || cJSON_GetArraySize(samples) < 2)
        return LOCO_OK;
    uint32_t n = (uint32_t)cJSON_GetArraySize(samples);
    if (it->n_samples && it->n_samples != n)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "item %s: %u samples on one side, %u on the "
                              "other",
                              it->id, it->n_samples, n);
    it->n_samples = n;
    it->sample_output[side] = calloc(n, sizeof *it->sample_output[side]);
    it->sample_pass[side] = calloc(n, 1);
    if (!it->sample_output[side] || !it->sample_pass[side])
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (uint32_t k = 0; k < n; k++) {
        const cJSON *e = cJSON_GetArrayItem(samples, (int)k);
        const char *o = loco_json_string(e, "output");
        it->sample_pass[side][k] = cJSON_IsTrue(get(e, "passed"));
        if (!(it->sample_output[side][k] = strdup(o ? o : "")))
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    return LOCO_OK;
}

static int item_from_json(const cJSON *e, struct loco_eval_item *it)
{
    const char *id = loco_json_string(e, "id"), *prompt = loco_json_string(e, "prompt");
    it->id = strdup(id ? id : "");
    it->prompt = strdup(prompt ? prompt : "");
    if (!it->id || !it->prompt)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (int side = 0; side < 2; side++) {
        const cJSON *s = get(e, side ? "adapter" : "base");
        if (!cJSON_IsObject(s))
            return loco_error_set(LOCO_ERR_FORMAT, "item %s has no %s side", it->id,
                                  side ? "adapter" : "base");
        int rc = side_from_json(s, it, side);
        if (rc)
            return rc;
    }
    it->unrated = cJSON_IsTrue(get(e, "unrated"));
    it->contaminated = cJSON_IsTrue(get(get(e, "contamination"), "flagged"));
    return LOCO_OK;
}

/* The benchmark object `o` as a run left it, enough to score and compare again. */
static int bench_from_json(const cJSON *o, struct loco_eval_bench *b)
{
    memset(b, 0, sizeof *b);
    const char *name = loco_json_string(o, "benchmark"), *metric = loco_json_string(o, "metric"), *gate = loco_json_string(o, "gate");
    snprintf(b->name, sizeof b->name, "%s", name ? name : "");
    snprintf(b->metric, sizeof b->metric, "%s", metric ? metric : "");
    b->in_domain = gate ? !strcmp(gate, "superiority") : cJSON_IsTrue(get(o, "in_domain"));
    b->gate_kind = b->in_domain ? LOCO_GATE_SUPERIORITY : LOCO_GATE_NONINFERIORITY;
    double samples = loco_json_number(get(o, "settings"), "samples");
    b->samples = isfinite(samples) && samples > 1 ? (uint32_t)samples : 1;
    b->judged = cJSON_IsObject(get(o, "judge"));
    const cJSON *ct = get(o, "contamination");
    double flagged = loco_json_number(ct, "flagged");
    b->n_contaminated = isfinite(flagged) && flagged > 0 ? (size_t)flagged : 0;
    b->decontaminated = cJSON_IsTrue(get(ct, "decontaminated"));
    const cJSON *items = get(o, "items");
    b->n = (size_t)cJSON_GetArraySize(items);
    b->items = calloc(b->n ? b->n : 1, sizeof *b->items);
    if (!b->items)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    int rc = LOCO_OK;
    for (size_t i = 0; !rc && i < b->n; i++)
        rc = item_from_json(cJSON_GetArrayItem(items, (int)i), &b->items[i]);
    return rc;
}

/* ---- the new scores written back ------------------------------------------------ */

/* Item sides: the new score and detail (and, with samples, which passed). */
static void items_to_json(cJSON *o, const struct loco_eval_bench *b)
{
    const cJSON *items = get(o, "items");
    for (size_t i = 0; i < b->n; i++) {
        const struct loco_eval_item *it = &b->items[i];
        cJSON *e = cJSON_GetArrayItem(items, (int)i);
        for (int side = 0; side < 2; side++) {
            cJSON *s = get(e, side ? "adapter" : "base");
            set_item(s, "score", number_or_null(it->score[side]));
            set_item(s, "detail", cJSON_CreateString(it->detail[side]));
            if (it->n_samples < 2)
                continue;
            set_item(s, "c", cJSON_CreateNumber(it->n_correct[side]));
            cJSON *smp = get(s, "samples");
            for (uint32_t k = 0; k < it->n_samples; k++)
                set_item(cJSON_GetArrayItem(smp, (int)k), "passed",
                         cJSON_CreateBool(it->sample_pass[side][k]));
        }
    }
}

/* The summary's figures from the recomputed benchmark: every key the run's
 * JSON has, except what re-scoring does not touch (the settings, the
 * contamination check, generation and the judge's figures). */
static int summary_to_json(cJSON *o, const struct loco_eval_bench *b)
{
    static const char *const kept[] = {"settings", "contamination", "generation", "judge", NULL};
    char *text = loco_eval_bench_json(b, false);
    cJSON *fresh = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!fresh)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    const cJSON *v;
    cJSON_ArrayForEach(v, fresh)
    {
        bool keep = false;
        for (size_t k = 0; kept[k]; k++)
            keep = keep || !strcmp(v->string, kept[k]);
        if (!keep)
            set_item(o, v->string, cJSON_Duplicate(v, true));
    }
    if (!cJSON_HasObjectItem(fresh, "n_paired")) /* every item paired now */
        cJSON_DeleteItemFromObjectCaseSensitive(o, "n_paired");
    cJSON_Delete(fresh);
    return LOCO_OK;
}

/* ---- one benchmark ---------------------------------------------------------------- */

/* Where a benchmark's items come from: a built-in's name, a custom file of
 * that name among `files`, or NULL. */
static const char *bench_source(const char *name, const char *const *files, size_t n_files)
{
    for (const char *const *b = loco_eval_bench_names(); *b; b++)
        if (!strcmp(*b, name))
            return *b;
    for (size_t i = 0; files && i < n_files; i++) {
        char fn[64];
        loco_eval_bench_name(files[i], fn, sizeof fn);
        if (!strcmp(fn, name))
            return files[i];
    }
    return NULL;
}

static int add_change(struct loco_eval_rescore *res, size_t bi, const struct loco_eval_item *it,
                      int side, double old_score, const char *old_detail, size_t *cap)
{
    if (res->n_changes == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        struct loco_eval_rescore_change *g = realloc(res->changes, nc * sizeof *g);
        if (!g)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        res->changes = g;
        *cap = nc;
    }
    struct loco_eval_rescore_change *c = &res->changes[res->n_changes++];
    memset(c, 0, sizeof *c);
    c->bench = bi;
    snprintf(c->id, sizeof c->id, "%s", it->id);
    c->side = side;
    c->old_score = old_score;
    c->new_score = it->score[side];
    snprintf(c->old_detail, sizeof c->old_detail, "%s", old_detail);
    snprintf(c->new_detail, sizeof c->new_detail, "%s", it->detail[side]);
    return LOCO_OK;
}

/* The stored scores and details of b's items, to compare with the new ones. */
struct stored {
    double (*score)[2];
    char (*detail)[2][160];
};

static int keep_stored(const struct loco_eval_bench *b, struct stored *st)
{
    st->score = malloc((b->n ? b->n : 1) * sizeof *st->score);
    st->detail = malloc((b->n ? b->n : 1) * sizeof *st->detail);
    if (!st->score || !st->detail)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < b->n; i++) {
        memcpy(st->score[i], b->items[i].score, sizeof st->score[i]);
        memcpy(st->detail[i], b->items[i].detail, sizeof st->detail[i]);
    }
    return LOCO_OK;
}

/* Count (and list, when res is given) the item sides whose score changed. */
static int count_changes(const struct loco_eval_bench *b, const struct stored *st, size_t bi,
                         struct loco_eval_rescore_bench *rb, struct loco_eval_rescore *res,
                         size_t *cap)
{
    int rc = LOCO_OK;
    for (size_t i = 0; !rc && i < b->n; i++)
        for (int side = 0; !rc && side < 2; side++) {
            rb->n_detail_changed[side] +=
                strcmp(st->detail[i][side], b->items[i].detail[side]) != 0;
            if (!differs(st->score[i][side], b->items[i].score[side]))
                continue;
            rb->n_changed[side]++;
            if (res)
                rc = add_change(res, bi, &b->items[i], side, st->score[i][side],
                                st->detail[i][side], cap);
        }
    return rc;
}

/* Score one benchmark object of the record again, in place. */
static int rescore_bench(cJSON *o, const struct loco_eval_params *p, const char *const *files,
                         size_t n_files, size_t bi, struct loco_eval_rescore_bench *rb,
                         struct loco_eval_rescore *res, size_t *cap)
{
    const char *name = loco_json_string(o, "benchmark");
    snprintf(rb->name, sizeof rb->name, "%s", name ? name : "");
    rb->n_items = (size_t)cJSON_GetArraySize(get(o, "items"));
    const char *src = name ? bench_source(name, files, n_files) : NULL;
    if (!src) {
        snprintf(rb->how, sizeof rb->how,
                 "not re-scored: a custom benchmark whose file was "
                 "not given (--bench FILE.jsonl); its stored scores stand");
        return LOCO_OK;
    }
    if (!cJSON_IsArray(get(o, "items")) || rb->n_items == 0) {
        snprintf(rb->how, sizeof rb->how, "not re-scored: the record keeps no items");
        return LOCO_OK;
    }
    struct loco_eval_bench b;
    struct stored st = {0};
    int rc = bench_from_json(o, &b);
    if (!rc)
        rc = keep_stored(&b, &st);
    if (!rc)
        rc = eval_bench_rescore(src, p, &b);
    if (!rc)
        rc = count_changes(&b, &st, bi, rb, res, cap);
    if (!rc) {
        items_to_json(o, &b);
        rc = summary_to_json(o, &b);
    }
    rb->rescored = !rc && !b.judged;
    snprintf(rb->how, sizeof rb->how, "%s",
             b.judged ? "judged: the stored judgments stand (not judged again); statistics "
                        "recomputed"
                      : "re-scored");
    free(st.score);
    free(st.detail);
    loco_eval_bench_free(&b);
    if (rc)
        loco_error_prefix("rescore %s", rb->name);
    return rc;
}

/* ---- the record ------------------------------------------------------------------- */

void eval_record_stats(const cJSON *r, struct loco_stats_params *stats)
{
    const cJSON *s = get(r, "settings");
    double alpha = loco_json_number(s, "alpha"), margin = loco_json_number(s, "non_inferiority_margin");
    double boot = loco_json_number(s, "bootstrap_resamples");
    if (isfinite(alpha) && alpha > 0 && alpha < 1)
        stats->alpha = alpha;
    if (isfinite(margin) && margin > 0 && margin < 1)
        stats->ni_margin = margin;
    if (isfinite(boot) && boot >= 1 && boot <= 1e7)
        stats->bootstrap_b = (uint32_t)boot;
}

static void before(const cJSON *o, struct loco_eval_rescore_bench *rb)
{
    rb->old_base = loco_json_number(o, "base_score");
    rb->old_adapter = loco_json_number(o, "adapter_score");
    rb->old_diff = loco_json_number(o, "diff");
    rb->old_p = loco_json_number(o, "p_value");
    snprintf(rb->old_verdict, sizeof rb->old_verdict, "%s", verdict_of(o));
}

static void after(const cJSON *o, struct loco_eval_rescore_bench *rb)
{
    rb->new_base = loco_json_number(o, "base_score");
    rb->new_adapter = loco_json_number(o, "adapter_score");
    rb->new_diff = loco_json_number(o, "diff");
    rb->new_p = loco_json_number(o, "p_value");
    snprintf(rb->new_verdict, sizeof rb->new_verdict, "%s", verdict_of(o));
}

static bool anything_changed(const struct loco_eval_rescore_bench *rb)
{
    return rb->n_changed[0] || rb->n_changed[1] || rb->n_detail_changed[0] ||
           rb->n_detail_changed[1] || strcmp(rb->old_verdict, rb->new_verdict) ||
           differs(rb->old_base, rb->new_base) || differs(rb->old_adapter, rb->new_adapter) ||
           differs(rb->old_diff, rb->new_diff) || differs(rb->old_p, rb->new_p);
}

/* What was there before, appended to the benchmark's "rescored" history. */
static void add_history(cJSON *o, const struct loco_eval_rescore_bench *rb, const char *date)
{
    cJSON *hist = get(o, "rescored");
    if (!cJSON_IsArray(hist)) {
        hist = cJSON_CreateArray();
        set_item(o, "rescored", hist);
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "date", date ? date : "");
    cJSON_AddStringToObject(e, "loco_version", LOCO_VERSION);
    cJSON_AddStringToObject(e, "how", rb->how);
    cJSON *ch = cJSON_AddObjectToObject(e, "items_changed");
    cJSON_AddNumberToObject(ch, "base", (double)rb->n_changed[0]);
    cJSON_AddNumberToObject(ch, "adapter", (double)rb->n_changed[1]);
    ch = cJSON_AddObjectToObject(e, "details_changed");
    cJSON_AddNumberToObject(ch, "base", (double)rb->n_detail_changed[0]);
    cJSON_AddNumberToObject(ch, "adapter", (double)rb->n_detail_changed[1]);
    cJSON *pr = cJSON_AddObjectToObject(e, "previous");
    cJSON_AddItemToObject(pr, "base_score", number_or_null(rb->old_base));
    cJSON_AddItemToObject(pr, "adapter_score", number_or_null(rb->old_adapter));
    cJSON_AddItemToObject(pr, "diff", number_or_null(rb->old_diff));
    cJSON_AddItemToObject(pr, "p_value", number_or_null(rb->old_p));
    cJSON_AddStringToObject(pr, "verdict", rb->old_verdict);
    cJSON_AddItemToArray(hist, e);
}

/* The last run's summary in "runs" takes the benchmarks' new figures. */
static void update_last_run(cJSON *r)
{
    static const char *const keys[] = {"n_used",    "base_score", "adapter_score", "diff",
                                       "diff_ci95", "p_value",    "verdict",       "passed",
                                       "why",       NULL};
    double k = loco_json_number(r, "run");
    cJSON *run, *last = NULL;
    cJSON_ArrayForEach(run, get(r, "runs"))
    {
        if (!isfinite(k) || loco_json_number(run, "run") == k)
            last = run;
    }
    cJSON *b;
    cJSON_ArrayForEach(b, get(r, "benchmarks"))
    {
        const char *name = loco_json_string(b, "benchmark");
        cJSON *s;
        cJSON_ArrayForEach(s, get(last, "benchmarks"))
        {
            const char *sn = loco_json_string(s, "benchmark");
            if (!name || !sn || strcmp(sn, name))
                continue;
            for (size_t i = 0; keys[i]; i++)
                if (get(b, keys[i]))
                    set_item(s, keys[i], cJSON_Duplicate(get(b, keys[i]), true));
        }
    }
}

/* Score every benchmark of r again; then the verdicts by the record's rules. */
static int rescore_all(cJSON *r, const struct loco_eval_params *p, const char *const *files,
                       size_t n_files, struct loco_eval_rescore *res, char **text)
{
    size_t cap = 0, bi = 0;
    int rc = LOCO_OK;
    cJSON *b;
    cJSON_ArrayForEach(b, get(r, "benchmarks"))
    {
        if (rc || bi == LOCO_EVAL_RESCORE_MAX_BENCH)
            break;
        before(b, &res->bench[bi]);
        rc = rescore_bench(b, p, files, n_files, bi, &res->bench[bi], res, &cap);
        bi++;
    }
    res->n_bench = bi;
    if (!rc && b)
        rc = loco_error_set(LOCO_ERR_RANGE, "rescore: more than %d benchmarks in the record",
                            LOCO_EVAL_RESCORE_MAX_BENCH);
    if (rc)
        return rc;
    update_last_run(r);
    char *mid = cJSON_Print(r);
    if (!mid)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    rc = loco_eval_record_regate(mid, text, NULL, 0);
    free(mid);
    return rc;
}

/* The final verdicts and figures, and the history of what changed. */
static int finish(const char *text, struct loco_eval_rescore *res, const char *date, char **out)
{
    cJSON *r = cJSON_Parse(text);
    if (!r)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    size_t bi = 0;
    cJSON *b;
    cJSON_ArrayForEach(b, get(r, "benchmarks"))
    {
        if (bi == res->n_bench)
            break;
        struct loco_eval_rescore_bench *rb = &res->bench[bi++];
        after(b, rb);
        if (anything_changed(rb))
            add_history(b, rb, date);
    }
    *out = cJSON_Print(r);
    cJSON_Delete(r);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

int loco_eval_record_rescore(const char *record, const struct loco_eval_params *p,
                             const char *const *files, size_t n_files, const char *date, char **out,
                             struct loco_eval_rescore *res)
{
    if (!record || !p || !out)
        return loco_error_set(LOCO_ERR_INVALID, "rescore: NULL record, params or output");
    *out = NULL;
    struct loco_eval_rescore local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    cJSON *r = cJSON_Parse(record);
    const char *kind = loco_json_string(r, "record");
    if (!cJSON_IsObject(r) || !kind || strcmp(kind, "locollm-eval/1")) {
        cJSON_Delete(r);
        return loco_error_set(LOCO_ERR_FORMAT, "rescore: not a locollm-eval/1 record");
    }
    struct loco_eval_params q = *p; /* the record's statistics settings over p's */
    eval_record_stats(r, &q.stats);
    char *mid = NULL;
    int rc = rescore_all(r, &q, files, n_files, res, &mid);
    cJSON_Delete(r);
    if (!rc)
        rc = finish(mid, res, date, out);
    free(mid);
    if (rc || res == &local)
        loco_eval_rescore_free(res);
    return rc;
}

void loco_eval_rescore_free(struct loco_eval_rescore *res)
{
    if (!res)
        return;
    free(res->changes);
    res->changes = NULL;
    res->n_changes = 0;
}
