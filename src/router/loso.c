/*
 * loso.c - measuring routers on sources they have never seen: Wilson
 * intervals, per-source scores, k-fold assignment, group cross-validation of
 * the classifier (leave-one-source-out when the groups are the sources) and
 * temperatures fitted without the group they are used on.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "loco/route-eval.h"
#include "router/router_internal.h"

struct loco_interval loco_wilson(size_t k, size_t n, double z)
{
    if (n == 0)
        return (struct loco_interval){0, 1};
    /* Wilson (1927): centre (p + z^2/2n) / (1 + z^2/n), half-width
     * z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) */
    double p = (double)k / (double)n, nn = (double)n, z2 = z * z;
    double den = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / den;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
    double lo = centre - half, hi = centre + half;
    return (struct loco_interval){lo < 0 ? 0 : lo, hi > 1 ? 1 : hi};
}

/* ---- per-source scores ------------------------------------------------------- */

int loco_route_eval_add(struct loco_route_eval *e, const char *source, const char *truth,
                        const char *chosen, double confidence)
{
    size_t s = 0;
    while (s < e->n_sources && strcmp(e->src[s].name, source))
        s++;
    if (s == e->n_sources) {
        if (s == LOCO_EVAL_MAX_SOURCES)
            return loco_error_set(LOCO_ERR_RANGE, "more than %d sources", LOCO_EVAL_MAX_SOURCES);
        snprintf(e->src[s].name, sizeof e->src[s].name, "%s", source);
        e->n_sources++;
    }
    e->src[s].n++;
    e->src[s].correct += !strcmp(truth, chosen);
    return loco_route_bench_add(&e->all, truth, chosen, confidence, 0);
}

void loco_route_eval_finish(struct loco_route_eval *e)
{
    for (size_t s = 0; s < e->n_sources; s++) {
        struct loco_route_source_score *x = &e->src[s];
        x->accuracy = x->n ? (double)x->correct / (double)x->n : 0;
        x->ci = loco_wilson(x->correct, x->n, 1.96);
    }
    loco_route_bench_finish(&e->all);
}

char *loco_route_eval_json(const struct loco_route_eval *e, const char *protocol,
                           const char *router)
{
    char *bench = loco_route_bench_json(&e->all, router);
    cJSON *j = bench ? cJSON_Parse(bench) : NULL;
    free(bench);
    if (!j)
        return NULL;
    cJSON_DeleteItemFromObject(j, "latency_ms");
    cJSON_AddStringToObject(j, "protocol", protocol);
    cJSON *src = cJSON_AddArrayToObject(j, "sources");
    for (size_t s = 0; s < e->n_sources; s++) {
        const struct loco_route_source_score *x = &e->src[s];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", x->name);
        cJSON_AddNumberToObject(o, "n", (double)x->n);
        cJSON_AddNumberToObject(o, "correct", (double)x->correct);
        cJSON_AddNumberToObject(o, "accuracy", x->accuracy);
        cJSON_AddNumberToObject(o, "lo", x->ci.lo);
        cJSON_AddNumberToObject(o, "hi", x->ci.hi);
        cJSON_AddItemToArray(src, o);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

/* ---- folds and cross-validation ---------------------------------------------------- */

void loco_route_folds(size_t n, int32_t k, uint64_t seed, int32_t *fold)
{
    size_t *order = malloc(n * sizeof *order);
    if (!order) { /* out of memory: plain round robin, still k balanced folds */
        for (size_t i = 0; i < n; i++)
            fold[i] = (int32_t)(i % (size_t)k);
        return;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)(loco_splitmix64(&seed) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        fold[order[i]] = (int32_t)(i % (size_t)k);
    free(order);
}

int loco_route_crossval(const float *X, const int32_t *y, const int32_t *group, size_t n,
                        int32_t dim, int32_t n_groups, int32_t n_labels,
                        const struct loco_classifier_params *p, double *logits)
{
    size_t *rows = malloc(n * sizeof *rows);
    double *pr = malloc((size_t)n_labels * sizeof *pr);
    const char *names[LOCO_CLASSIFIER_MAX_LABELS];
    static const char *const anon = "label";
    int rc = rows && pr ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    for (int32_t l = 0; l < n_labels && l < LOCO_CLASSIFIER_MAX_LABELS; l++)
        names[l] = anon;
    for (int32_t g = 0; g < n_groups && rc == LOCO_OK; g++) {
        size_t n_train = 0, n_held = 0;
        for (size_t i = 0; i < n; i++) {
            if (group[i] == g)
                n_held++;
            else
                rows[n_train++] = i;
        }
        if (n_held == 0)
            continue;
        if (n_train == 0) {
            rc = loco_error_set(LOCO_ERR_INVALID, "cross-validation: group %d holds every row", g);
            break;
        }
        struct loco_classifier c;
        rc = classifier_fit_rows(X, y, rows, n_train, dim, names, n_labels, p, &c);
        for (size_t i = 0; i < n && rc == LOCO_OK; i++) {
            if (group[i] != g)
                continue;
            loco_classifier_probs(&c, X + i * (size_t)dim, pr);
            for (int32_t l = 0; l < n_labels; l++)
                logits[i * (size_t)n_labels + (size_t)l] = log(pr[l] > 1e-300 ? pr[l] : 1e-300);
        }
        loco_classifier_free(&c);
    }
    free(rows);
    free(pr);
    return rc;
}

/* ---- temperatures ------------------------------------------------------------------ */

/* Mean negative log-likelihood at temperature t of the rows whose group is
 * not `skip` (skip -1: every row). */
static double nll(const double *lg, const int32_t *y, const int32_t *group, size_t n, int32_t L,
                  int32_t skip, double t)
{
    double total = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip >= 0 && group[i] == skip)
            continue;
        const double *z = lg + i * (size_t)L;
        double mx = -INFINITY, sum = 0;
        for (int32_t l = 0; l < L; l++)
            mx = z[l] / t > mx ? z[l] / t : mx;
        for (int32_t l = 0; l < L; l++)
            sum += exp(z[l] / t - mx);
        total += log(sum) + mx - z[y[i]] / t;
        used++;
    }
    return used ? total / (double)used : 0;
}

static double fit_temperature(const double *lg, const int32_t *y, const int32_t *group, size_t n,
                              int32_t L, int32_t skip)
{
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(1.0 / 20), b = log(20.0);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll(lg, y, group, n, L, skip, exp(x1)), f2 = nll(lg, y, group, n, L, skip, exp(x2));
    for (int it = 0; it < 60; it++) {
        if (f1 < f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = nll(lg, y, group, n, L, skip, exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = nll(lg, y, group, n, L, skip, exp(x2));
        }
    }
    return exp((a + b) / 2);
}

void loco_route_temperatures(const double *logits, const int32_t *y, const int32_t *group, size_t n,
                             int32_t n_labels, int32_t n_groups, double *t, double *t_all)
{
    for (int32_t g = 0; g < n_groups; g++)
        t[g] = fit_temperature(logits, y, group, n, n_labels, g);
    if (t_all)
        *t_all = fit_temperature(logits, y, group, n, n_labels, -1);
}
