/*
 * pair.c - one side of a stored record against one side of another, item
 * by item (loco_eval_pair in loco/eval.h). The pairs are formed and
 * analysed as compare.c does for a run: in the first record's item order,
 * an item without a rating left out, a flagged item left out where its
 * record was decontaminated, a pass being a score above 0.5.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/core.h"
#include "loco/eval.h"
#include "rescore_internal.h"

struct scored {
    const char *id;
    double score;
    bool dropped; /* unrated, or flagged in a decontaminated run */
};

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct scored *)a)->id, ((const struct scored *)b)->id);
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* *out = the benchmark named `name` in record r (NULL: its only one). */
static int find_bench(const cJSON *r, const char *name, const char *which, const cJSON **out)
{
    const cJSON *benches = get(r, "benchmarks");
    if (!cJSON_IsArray(benches))
        return loco_error_set(LOCO_ERR_FORMAT, "the %s record has no benchmarks", which);
    if (!name) {
        if (cJSON_GetArraySize(benches) != 1)
            return loco_error_set(LOCO_ERR_INVALID, "the %s record holds %d benchmarks: name one",
                                  which, cJSON_GetArraySize(benches));
        *out = cJSON_GetArrayItem(benches, 0);
        return LOCO_OK;
    }
    const cJSON *b;
    cJSON_ArrayForEach(b, benches)
    {
        const cJSON *n = get(b, "benchmark");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
            *out = b;
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_NOT_FOUND, "the %s record has no benchmark '%s'", which, name);
}

/* *binary = the run's test was McNemar (its stored "test"). */
static int bench_test(const cJSON *bench, const char *which, bool *binary)
{
    const cJSON *t = get(bench, "test");
    if (!cJSON_IsString(t))
        return loco_error_set(LOCO_ERR_FORMAT, "the %s record's benchmark names no test", which);
    *binary = strcmp(t->valuestring, "exact McNemar") == 0;
    return LOCO_OK;
}

/* *out (malloc'd) = the items of bench with a numeric score on `side`, in
 * the record's order, *n of them; an error when none has one. */
static int side_scores(const cJSON *bench, enum loco_eval_side side, const char *which,
                       struct scored **out, size_t *n)
{
    const cJSON *items = get(bench, "items");
    const char *key = side == LOCO_EVAL_SIDE_ADAPTER ? "adapter" : "base";
    if (!cJSON_IsArray(items))
        return loco_error_set(LOCO_ERR_FORMAT, "the %s record's benchmark has no item list", which);
    bool decontaminated = cJSON_IsTrue(get(get(bench, "contamination"), "decontaminated"));
    int cap = cJSON_GetArraySize(items);
    struct scored *s = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *s);
    *n = 0;
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *id = get(it, "id"), *score = get(get(it, key), "score");
        if (!cJSON_IsString(id) || !cJSON_IsNumber(score))
            continue;
        bool flagged = cJSON_IsTrue(get(get(it, "contamination"), "flagged"));
        s[(*n)++] =
            (struct scored){id->valuestring, score->valuedouble,
                            cJSON_IsTrue(get(it, "unrated")) || (decontaminated && flagged)};
    }
    if (*n == 0) {
        free(s);
        return loco_error_set(LOCO_ERR_INVALID, "the %s record's %s side has no scored items",
                              which, key);
    }
    *out = s;
    return LOCO_OK;
}

/* Pairs in a's order, b sorted by id for the look-up. */
static int analyse(const struct scored *a, size_t na, struct scored *b, size_t nb,
                   const struct loco_stats_params *params, struct loco_eval_pair *out)
{
    qsort(b, nb, sizeof *b, by_id);
    double *x = malloc(na * sizeof *x), *y = malloc(na * sizeof *y);
    uint8_t *xb = malloc(na), *yb = malloc(na);
    int rc = x && y && xb && yb ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; rc == LOCO_OK && i < na; i++) {
        const struct scored *m = bsearch(&a[i], b, nb, sizeof *b, by_id);
        if (!m)
            continue;
        if (a[i].dropped || m->dropped) {
            out->n_dropped++;
            continue;
        }
        x[n] = a[i].score;
        y[n] = m->score;
        xb[n] = x[n] > 0.5;
        yb[n] = y[n] > 0.5;
        n++;
    }
    if (rc == LOCO_OK && n < 2)
        rc = loco_error_set(LOCO_ERR_INVALID,
                            "%zu item(s) pair (ids in both records, rated and not left out "
                            "for contamination): at least 2 are needed",
                            n);
    if (rc == LOCO_OK)
        rc = out->binary ? loco_stats_binary_paired(xb, yb, n, params, &out->bin)
                         : loco_stats_continuous_paired(x, y, n, params, &out->cont);
    free(x);
    free(y);
    free(xb);
    free(yb);
    return rc;
}

int loco_eval_pair(const char *first, enum loco_eval_side first_side, const char *second,
                   enum loco_eval_side second_side, const char *bench,
                   const struct loco_stats_params *params, struct loco_eval_pair *out)
{
    if (!first || !second || !out)
        return loco_error_set(LOCO_ERR_INVALID, "eval pair: two records and out are required");
    memset(out, 0, sizeof *out);
    cJSON *ra = cJSON_Parse(first), *rb = cJSON_Parse(second);
    int rc = LOCO_OK;
    if (!ra || !rb)
        rc = loco_error_set(LOCO_ERR_FORMAT, "the %s record is not JSON", ra ? "second" : "first");
    const cJSON *ba = NULL, *bb = NULL;
    if (!rc)
        rc = find_bench(ra, bench, "first", &ba);
    if (!rc) {
        const cJSON *name = get(ba, "benchmark");
        if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof out->bench)
            rc = loco_error_set(LOCO_ERR_FORMAT, "the first record's benchmark has no usable name");
        else
            snprintf(out->bench, sizeof out->bench, "%s", name->valuestring);
    }
    if (!rc)
        rc = find_bench(rb, out->bench, "second", &bb);
    bool binary_b = false;
    if (!rc)
        rc = bench_test(ba, "first", &out->binary);
    if (!rc)
        rc = bench_test(bb, "second", &binary_b);
    if (!rc && binary_b != out->binary)
        rc = loco_error_set(LOCO_ERR_INVALID,
                            "the records' runs used different tests on %s "
                            "(pass/fail against scores): their answers were scored apart",
                            out->bench);
    struct scored *sa = NULL, *sb = NULL;
    if (!rc)
        rc = side_scores(ba, first_side, "first", &sa, &out->n_first);
    if (!rc)
        rc = side_scores(bb, second_side, "second", &sb, &out->n_second);
    if (!rc) {
        struct loco_stats_params own = loco_stats_default_params();
        eval_record_stats(ra, &own); /* the first record's alpha and resamples */
        rc = analyse(sa, out->n_first, sb, out->n_second, params ? params : &own, out);
    }
    free(sa);
    free(sb);
    cJSON_Delete(ra);
    cJSON_Delete(rb);
    return rc;
}
