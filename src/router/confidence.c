/*
 * confidence.c - the confidence wrapper: any router's decision, sent to the
 * base model when its confidence or its margin over the runner-up is below
 * thresholds chosen on a development set (`loco router calibrate --router
 * confidence:NAME`), and the file that keeps those thresholds.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "loco/fileio.h"
#include "loco/route-eval.h"
#include "router/router_internal.h"

#define MAX_FILE (1u << 20)

struct loco_confidence loco_confidence_default(void)
{
    return (struct loco_confidence){.threshold = 0.5, .margin = 0.0};
}

int loco_confidence_path(const struct loco_registry *reg, char *buf, size_t cap)
{
    return router_file_path(reg, "LOCO_ROUTER_CONFIDENCE", LOCO_CONFIDENCE_FILE, buf, cap);
}

/* The file's JSON, or an empty object when there is no file. A FIFO or
 * folder in its place is refused (loco_read_file), never waited on. */
static cJSON *read_file(const char *path, int *rc)
{
    char *text;
    *rc = loco_read_file(path, MAX_FILE, &text, NULL);
    if (*rc == LOCO_ERR_NOT_FOUND) {
        *rc = LOCO_OK;
        loco_error_clear();
        return cJSON_CreateObject();
    }
    if (*rc != LOCO_OK)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsObject(j) || !cJSON_IsString(fmt) ||
        strcmp(fmt->valuestring, "locollm-router-confidence/1") != 0) {
        cJSON_Delete(j);
        *rc = loco_error_set(LOCO_ERR_FORMAT, "%s is not a locollm-router-confidence/1 file",
                             path);
        return NULL;
    }
    return j;
}

int loco_confidence_get(const struct loco_registry *reg, const char *inner,
                        struct loco_confidence *out, bool *from_file)
{
    *out = loco_confidence_default();
    if (from_file)
        *from_file = false;
    char path[4096];
    int rc = loco_confidence_path(reg, path, sizeof path);
    cJSON *j = rc ? NULL : read_file(path, &rc);
    if (!j)
        return rc;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "routers"), inner);
    if (r) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "threshold");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "margin");
        if (!cJSON_IsNumber(t) || !cJSON_IsNumber(m) || !(t->valuedouble >= 0) ||
            !(t->valuedouble <= 1) || !(m->valuedouble >= 0) || !(m->valuedouble <= 1))
            rc = loco_error_set(LOCO_ERR_FORMAT, "%s: routers.%s needs threshold and margin in "
                                "[0, 1]", path, inner);
        else {
            out->threshold = t->valuedouble;
            out->margin = m->valuedouble;
            if (from_file)
                *from_file = true;
        }
    }
    cJSON_Delete(j);
    return rc;
}

int loco_confidence_set(const struct loco_registry *reg, const char *inner,
                        const struct loco_confidence *c, size_t n_dev, double cost)
{
    char path[4096];
    int rc = loco_confidence_path(reg, path, sizeof path);
    cJSON *j = rc ? NULL : read_file(path, &rc);
    if (!j)
        return rc;
    if (!cJSON_GetObjectItemCaseSensitive(j, "format"))
        cJSON_AddStringToObject(j, "format", "locollm-router-confidence/1");
    cJSON *routers = cJSON_GetObjectItemCaseSensitive(j, "routers");
    if (!cJSON_IsObject(routers)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "routers");
        routers = cJSON_AddObjectToObject(j, "routers");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(routers, inner);
    cJSON *r = cJSON_AddObjectToObject(routers, inner);
    cJSON_AddNumberToObject(r, "threshold", c->threshold);
    cJSON_AddNumberToObject(r, "margin", c->margin);
    cJSON_AddNumberToObject(r, "dev_queries", (double)n_dev);
    cJSON_AddNumberToObject(r, "dev_cost", cost);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing %s", path);
    rc = loco_file_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

void loco_confidence_apply(const struct loco_confidence *c, struct loco_route_decision *d)
{
    if (!strcmp(d->domain, LOCO_ROUTE_BASE))
        return;
    double top = -1, second = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->prob[i] > top) {
            second = top < 0 ? 0 : top;
            top = d->prob[i];
        } else if (d->prob[i] > second)
            second = d->prob[i];
    }
    double margin = top - second;
    bool low = d->confidence < c->threshold, close = margin < c->margin;
    if (!low && !close)
        return;
    size_t len = strlen(d->reason);
    snprintf(d->reason + len, sizeof d->reason - len,
             "; %s %.2f below %.2f: base model instead of %s", low ? "confidence" : "margin",
             low ? d->confidence : margin, low ? c->threshold : c->margin, d->domain);
    snprintf(d->domain, sizeof d->domain, "%s", LOCO_ROUTE_BASE);
    d->adapter[0] = d->adapter_path[0] = '\0';
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], LOCO_ROUTE_BASE))
            d->confidence = d->prob[i];
}

double loco_confidence_cost(const char *truth, const char *chosen)
{
    if (!strcmp(truth, chosen))
        return 0.0;
    /* the base model for a specialist's query loses the specialist; a wrong
     * specialist is worse: it answers out of its domain */
    return !strcmp(chosen, LOCO_ROUTE_BASE) ? 0.5 : 1.0;
}

/* ---- choosing the thresholds ---------------------------------------------- */

static const double margins[LOCO_CONFIDENCE_N_MARGINS] = {0, 0.05, 0.1, 0.2, 0.3};

/* Expected calibration error of the decisions, after thresholds c when
 * given: the routing benchmark's (loco_route_bench_finish), so both report
 * the same figure. */
static int decisions_ece(const struct loco_route_decision *d, const struct loco_route_item *items,
                         size_t n, const struct loco_confidence *c, double *ece)
{
    struct loco_route_bench *b = calloc(1, sizeof *b);
    if (!b)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the calibration error");
    int rc = LOCO_OK;
    for (size_t i = 0; i < n && rc == LOCO_OK; i++) {
        struct loco_route_decision x = d[i];
        if (c)
            loco_confidence_apply(c, &x);
        rc = loco_route_bench_add(b, items[i].domain, x.domain, x.confidence, 0);
    }
    if (rc == LOCO_OK) {
        loco_route_bench_finish(b);
        *ece = b->ece;
    }
    free(b);
    return rc;
}

/* What thresholds c make of the decisions. */
static struct loco_confidence_row try_pair(const struct loco_route_decision *d,
                                           const struct loco_route_item *items, size_t n,
                                           struct loco_confidence c)
{
    struct loco_confidence_row row = {.c = c};
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        struct loco_route_decision x = d[i];
        loco_confidence_apply(&c, &x);
        row.cost += loco_confidence_cost(items[i].domain, x.domain);
        right += !strcmp(items[i].domain, x.domain);
        row.to_base += strcmp(d[i].domain, x.domain) != 0;
    }
    row.cost /= (double)n;
    row.accuracy = (double)right / (double)n;
    return row;
}

int loco_confidence_search(const struct loco_route_decision *d,
                           const struct loco_route_item *items, size_t n,
                           struct loco_confidence_search *out)
{
    if (!d || !items || !out || n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "confidence thresholds: no decisions to search");
    memset(out, 0, sizeof *out);
    out->n = n;
    for (size_t i = 0; i < n; i++)
        out->base_cost += loco_confidence_cost(items[i].domain, d[i].domain);
    out->base_cost /= (double)n;
    out->best_cost = INFINITY;
    for (int t = 0; t < LOCO_CONFIDENCE_N_THRESHOLDS; t++)
        for (int m = 0; m < LOCO_CONFIDENCE_N_MARGINS; m++) {
            struct loco_confidence c = {t * 0.05, margins[m]};
            struct loco_confidence_row *row = &out->rows[t * LOCO_CONFIDENCE_N_MARGINS + m];
            *row = try_pair(d, items, n, c);
            if (row->cost < out->best_cost - 1e-12) { /* ties: the lowest thresholds */
                out->best_cost = row->cost;
                out->best = c;
            }
        }
    int rc = decisions_ece(d, items, n, &out->best, &out->ece);
    return rc ? rc : decisions_ece(d, items, n, NULL, &out->base_ece);
}
