/*
 * bench.c - the routing benchmark: labelled queries in, accuracy,
 * per-domain precision/recall/F1, the confusion matrix, expected
 * calibration error and latency out; accuracy with its Wilson interval.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/fileio.h"
#include "loco/route-eval.h"
#include "loco/router.h"

#define MAX_LINE (1 << 20)

void loco_route_items_free(struct loco_route_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].query);
        free(items[i].domain);
        free(items[i].source);
    }
    free(items);
}

static const char *str_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int loco_route_items_load(const char *path, struct loco_route_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    FILE *f;
    if (loco_fopen_regular(path, &f) != LOCO_OK) /* a FIFO is refused, not waited on */
        return LOCO_ERR_IO;                      /* the message names the path */
    size_t cap = 0, len = 0;
    struct loco_route_item *v = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    int64_t lineno = 0;
    int rc = LOCO_OK;
    while (rc == LOCO_OK && (got = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        if (got > MAX_LINE) {
            rc = loco_error_set(LOCO_ERR_FORMAT, "%s:%lld: line longer than %d bytes", path,
                                (long long)lineno, MAX_LINE);
            break;
        }
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            continue;
        cJSON *o = cJSON_Parse(line);
        const char *q = o ? str_field(o, "query") : NULL;
        const char *d = o ? str_field(o, "domain") : NULL;
        if (!cJSON_IsObject(o) || !q || !d || !q[0] || !d[0]) {
            rc = loco_error_set(LOCO_ERR_FORMAT,
                                "%s:%lld: expected a JSON object with string fields \"query\" "
                                "and \"domain\"",
                                path, (long long)lineno);
            cJSON_Delete(o);
            break;
        }
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 64;
            struct loco_route_item *grown = realloc(v, nc * sizeof *grown);
            if (!grown) {
                rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", path);
                cJSON_Delete(o);
                break;
            }
            v = grown;
            cap = nc;
        }
        v[len].query = strdup(q);
        v[len].domain = strdup(d);
        const char *src = str_field(o, "source");
        v[len].source = strdup(src ? src : "");
        cJSON_Delete(o);
        if (!v[len].query || !v[len].domain || !v[len].source) {
            free(v[len].query);
            free(v[len].domain);
            free(v[len].source);
            rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
        len++;
    }
    free(line);
    fclose(f);
    if (rc == LOCO_OK && len == 0)
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s holds no queries", path);
    if (rc != LOCO_OK) {
        loco_route_items_free(v, len);
        return rc;
    }
    *items = v;
    *n = len;
    return LOCO_OK;
}

#define MAX_LABELS (LOCO_ROUTE_MAX_DOMAINS + 8)

static int label_index(struct loco_route_bench *b, const char *name)
{
    for (size_t i = 0; i < b->n_labels; i++)
        if (!strcmp(b->labels[i], name))
            return (int)i;
    if (b->n_labels == MAX_LABELS)
        return loco_error_set(LOCO_ERR_RANGE, "more than %d routing labels", MAX_LABELS);
    snprintf(b->labels[b->n_labels], sizeof b->labels[0], "%s", name);
    return (int)b->n_labels++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int loco_route_bench_add(struct loco_route_bench *b, const char *truth, const char *chosen,
                         double confidence, double ms)
{
    int t = label_index(b, truth);
    int c = t < 0 ? t : label_index(b, chosen);
    if (t < 0 || c < 0)
        return t < 0 ? t : c;
    b->confusion[t][c]++;
    b->support[t]++;
    bool ok = t == c;
    b->correct += ok;
    b->n++;
    size_t bin = (size_t)(confidence * LOCO_ROUTE_ECE_BINS);
    if (bin >= LOCO_ROUTE_ECE_BINS)
        bin = LOCO_ROUTE_ECE_BINS - 1;
    b->bin_n[bin]++;
    b->bin_conf[bin] += confidence;
    b->bin_acc[bin] += ok;
    b->ms_mean += ms;
    if (ms > b->ms_max)
        b->ms_max = ms;
    return LOCO_OK;
}

void loco_route_bench_finish(struct loco_route_bench *b)
{
    size_t n = b->n;
    b->accuracy = n ? (double)b->correct / (double)n : 0;
    struct loco_interval ci = loco_wilson(b->correct, n, 1.96);
    b->acc_lo = ci.lo;
    b->acc_hi = ci.hi;
    b->ms_mean = n ? b->ms_mean / (double)n : 0;
    b->ece = 0;
    for (size_t k = 0; k < LOCO_ROUTE_ECE_BINS; k++) {
        if (!b->bin_n[k])
            continue;
        b->bin_conf[k] /= (double)b->bin_n[k];
        b->bin_acc[k] /= (double)b->bin_n[k];
        double gap = b->bin_acc[k] - b->bin_conf[k];
        b->ece += (double)b->bin_n[k] / (double)n * (gap < 0 ? -gap : gap);
    }
    size_t n_f1 = 0;
    b->macro_f1 = 0;
    for (size_t l = 0; l < b->n_labels; l++) {
        size_t tp = b->confusion[l][l], chosen = 0;
        for (size_t t = 0; t < b->n_labels; t++)
            chosen += b->confusion[t][l];
        b->precision[l] = chosen ? (double)tp / (double)chosen : 0;
        b->recall[l] = b->support[l] ? (double)tp / (double)b->support[l] : 0;
        double pr = b->precision[l] + b->recall[l];
        b->f1[l] = pr > 0 ? 2 * b->precision[l] * b->recall[l] / pr : 0;
        if (b->support[l]) {
            b->macro_f1 += b->f1[l];
            n_f1++;
        }
    }
    b->macro_f1 = n_f1 ? b->macro_f1 / (double)n_f1 : 0;
}

int loco_route_bench_run(struct loco_router *r, const struct loco_route_item *items, size_t n,
                         struct loco_route_bench *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "no routing items");
    double *ms = malloc(n * sizeof *ms);
    struct loco_route_decision *d = malloc(sizeof *d);
    if (!ms || !d) {
        free(ms);
        free(d);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the routing benchmark");
    }
    int rc = LOCO_OK;
    for (size_t i = 0; i < n && rc == LOCO_OK; i++) {
        rc = loco_route(r, items[i].query, d);
        if (rc != LOCO_OK)
            break;
        if (i == 0) /* the router's own labels first, in its order */
            for (size_t k = 0; k < d->n; k++)
                label_index(out, d->names[k]);
        rc = loco_route_bench_add(out, items[i].domain, d->domain, d->confidence, d->ms);
        ms[i] = d->ms;
    }
    free(d);
    if (rc != LOCO_OK) {
        free(ms);
        return rc;
    }
    loco_route_bench_finish(out);
    qsort(ms, n, sizeof *ms, cmp_double);
    out->ms_p50 = ms[(n - 1) / 2];
    out->ms_p95 = ms[(size_t)((double)(n - 1) * 0.95)];
    free(ms);
    return LOCO_OK;
}

char *loco_route_bench_json(const struct loco_route_bench *b, const char *router)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "router", router ? router : "");
    cJSON_AddNumberToObject(j, "n", (double)b->n);
    cJSON_AddNumberToObject(j, "correct", (double)b->correct);
    cJSON_AddNumberToObject(j, "accuracy", b->accuracy);
    cJSON *ci = cJSON_AddArrayToObject(j, "accuracy_ci95");
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(b->acc_lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(b->acc_hi));
    cJSON_AddNumberToObject(j, "macro_f1", b->macro_f1);
    cJSON_AddNumberToObject(j, "ece", b->ece);
    cJSON *per = cJSON_AddObjectToObject(j, "per_domain");
    cJSON *labels = cJSON_AddArrayToObject(j, "labels");
    cJSON *conf = cJSON_AddArrayToObject(j, "confusion");
    for (size_t l = 0; l < b->n_labels; l++) {
        cJSON *o = cJSON_AddObjectToObject(per, b->labels[l]);
        cJSON_AddNumberToObject(o, "precision", b->precision[l]);
        cJSON_AddNumberToObject(o, "recall", b->recall[l]);
        cJSON_AddNumberToObject(o, "f1", b->f1[l]);
        cJSON_AddNumberToObject(o, "support", (double)b->support[l]);
        cJSON_AddItemToArray(labels, cJSON_CreateString(b->labels[l]));
        cJSON *row = cJSON_CreateArray();
        for (size_t c = 0; c < b->n_labels; c++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)b->confusion[l][c]));
        cJSON_AddItemToArray(conf, row);
    }
    cJSON *bins = cJSON_AddArrayToObject(j, "calibration_bins");
    for (size_t i = 0; i < LOCO_ROUTE_ECE_BINS; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "lo", (double)i / LOCO_ROUTE_ECE_BINS);
        cJSON_AddNumberToObject(o, "n", (double)b->bin_n[i]);
        cJSON_AddNumberToObject(o, "confidence", b->bin_conf[i]);
        cJSON_AddNumberToObject(o, "accuracy", b->bin_acc[i]);
        cJSON_AddItemToArray(bins, o);
    }
    cJSON *lat = cJSON_AddObjectToObject(j, "latency_ms");
    cJSON_AddNumberToObject(lat, "mean", b->ms_mean);
    cJSON_AddNumberToObject(lat, "p50", b->ms_p50);
    cJSON_AddNumberToObject(lat, "p95", b->ms_p95);
    cJSON_AddNumberToObject(lat, "max", b->ms_max);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

int loco_classifier_measure(const struct loco_classifier *c, const float *X, const int32_t *y,
                            size_t n, double *accuracy, double *ece)
{
    if (!c || !X || !y || n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "classifier: no rows to measure");
    struct loco_route_bench *b = calloc(1, sizeof *b);
    double p[LOCO_CLASSIFIER_MAX_LABELS];
    int rc = b ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory measuring");
    for (size_t i = 0; i < n && rc == LOCO_OK; i++) {
        if (y[i] < 0 || y[i] >= c->n_labels) {
            rc = loco_error_set(LOCO_ERR_INVALID, "classifier: row %zu has label %d, not in "
                                "[0, %d)", i, (int)y[i], (int)c->n_labels);
            break;
        }
        loco_classifier_probs(c, X + i * (size_t)c->dim, p);
        int32_t best = 0;
        for (int32_t l = 1; l < c->n_labels; l++)
            if (p[l] > p[best])
                best = l;
        rc = loco_route_bench_add(b, c->labels[y[i]], c->labels[best], p[best], 0);
    }
    if (rc == LOCO_OK) {
        loco_route_bench_finish(b);
        *accuracy = b->accuracy;
        *ece = b->ece;
    }
    free(b);
    return rc;
}
