/*
 * classifier.c - the classifier router (v2): the base model's mean final
 * hidden state of the query, standardised, into a multinomial logistic
 * regression with temperature scaling. Fitting, calibration, the file and
 * the router's operations.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/fileio.h"
#include "loco/lora.h" /* loco_model_sha256 */
#include "loco/model.h"
#include "loco/tokenizer.h"
#include "router/router_internal.h"

#define MAX_FILE (64u << 20)

/* ---- features ------------------------------------------------------------- */

int loco_router_embed(struct loco_context *ctx, const struct loco_model *m, const char *query,
                      float *out)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    int32_t *toks = NULL;
    size_t n = 0;
    int rc = loco_tokenizer_encode(loco_model_tokenizer(m), query, strlen(query), true, false,
                                   &toks, &n);
    if (rc != LOCO_OK)
        return rc;
    if (n > LOCO_ROUTER_EMBED_TOKENS)
        n = LOCO_ROUTER_EMBED_TOKENS;
    struct loco_context_params cp = loco_context_params(ctx);
    if (n == 0 || (int32_t)n > cp.n_ctx) {
        free(toks);
        return loco_error_set(LOCO_ERR_INVALID, "router features: %zu tokens for a context of %d",
                              n, cp.n_ctx);
    }
    float *row = malloc((size_t)hp->n_embd * sizeof *row);
    int32_t *pos = malloc(n * sizeof *pos), *seq = calloc(n, sizeof *seq);
    bool *want = calloc(n, sizeof *want); /* no logits: only the hidden states */
    if (!row || !pos || !seq || !want) {
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory for router features");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        pos[i] = (int32_t)i;
    memset(out, 0, (size_t)hp->n_embd * sizeof *out);
    loco_context_seq_clear(ctx, 0);
    for (size_t at = 0; at < n && rc == LOCO_OK; at += (size_t)cp.n_batch) {
        int32_t k = (int32_t)(n - at < (size_t)cp.n_batch ? n - at : (size_t)cp.n_batch);
        struct loco_batch b = {k, toks + at, pos + at, seq, want};
        rc = loco_decode(ctx, &b);
        for (int32_t i = 0; i < k && rc == LOCO_OK; i++) {
            rc = loco_context_hidden(ctx, i, row);
            for (int32_t j = 0; j < hp->n_embd && rc == LOCO_OK; j++)
                out[j] += row[j] / (float)n;
        }
    }
    loco_context_seq_clear(ctx, 0);
done:
    free(row);
    free(pos);
    free(seq);
    free(want);
    free(toks);
    return rc;
}

/* ---- the model ------------------------------------------------------------- */

struct loco_classifier_params loco_classifier_default_params(void)
{
    return (struct loco_classifier_params){.l2 = 1e-3, .iters = 400, .lr = 0.5};
}

void loco_classifier_free(struct loco_classifier *c)
{
    if (!c)
        return;
    free(c->mean);
    free(c->std);
    free(c->w);
    free(c->b);
    c->mean = c->std = c->w = c->b = NULL;
}

static int alloc_arrays(struct loco_classifier *c)
{
    size_t d = (size_t)c->dim, l = (size_t)c->n_labels;
    c->mean = calloc(d, sizeof *c->mean);
    c->std = calloc(d, sizeof *c->std);
    c->w = calloc(l * d, sizeof *c->w);
    c->b = calloc(l, sizeof *c->b);
    if (!c->mean || !c->std || !c->w || !c->b) {
        loco_classifier_free(c);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for a classifier");
    }
    return LOCO_OK;
}

/* Logits of standardised row z into lg[n_labels] (before the temperature). */
static void logits_of(const struct loco_classifier *c, const double *z, double *lg)
{
    for (int32_t l = 0; l < c->n_labels; l++) {
        const float *w = c->w + (size_t)l * (size_t)c->dim;
        double s = c->b[l];
        for (int32_t j = 0; j < c->dim; j++)
            s += w[j] * z[j];
        lg[l] = s;
    }
}

static void softmax(double *v, int32_t n, double temperature)
{
    double mx = -INFINITY, sum = 0;
    for (int32_t i = 0; i < n; i++)
        if (v[i] / temperature > mx)
            mx = v[i] / temperature;
    for (int32_t i = 0; i < n; i++)
        sum += v[i] = exp(v[i] / temperature - mx);
    for (int32_t i = 0; i < n; i++)
        v[i] /= sum;
}

static void standardise(const struct loco_classifier *c, const float *x, double *z)
{
    for (int32_t j = 0; j < c->dim; j++)
        z[j] = (x[j] - c->mean[j]) / c->std[j];
}

void loco_classifier_probs(const struct loco_classifier *c, const float *x, double *probs)
{
    double *z = malloc((size_t)c->dim * sizeof *z);
    if (!z) { /* out of memory: a uniform answer rather than a crash */
        for (int32_t l = 0; l < c->n_labels; l++)
            probs[l] = 1.0 / c->n_labels;
        return;
    }
    standardise(c, x, z);
    logits_of(c, z, probs);
    softmax(probs, c->n_labels, c->temperature);
    free(z);
}

int loco_classifier_fit(const float *X, const int32_t *y, size_t n, int32_t dim,
                        const char *const *labels, int32_t n_labels,
                        const struct loco_classifier_params *p, struct loco_classifier *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || dim <= 0 || n_labels < 2 || n_labels > LOCO_CLASSIFIER_MAX_LABELS)
        return loco_error_set(LOCO_ERR_INVALID,
                              "classifier: %zu examples, %d features, %d labels (need >= 1, "
                              ">= 1 and 2..%d)",
                              n, dim, n_labels, LOCO_CLASSIFIER_MAX_LABELS);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= n_labels)
            return loco_error_set(LOCO_ERR_INVALID, "classifier: label %d of example %zu",
                                  y[i], i);
    struct loco_classifier_params def = loco_classifier_default_params();
    if (!p)
        p = &def;
    out->dim = dim;
    out->n_labels = n_labels;
    out->temperature = 1.0;
    out->n_train = (int64_t)n;
    for (int32_t l = 0; l < n_labels; l++)
        snprintf(out->labels[l], sizeof out->labels[l], "%s", labels[l]);
    int rc = alloc_arrays(out);
    if (rc != LOCO_OK)
        return rc;
    size_t d = (size_t)dim, L = (size_t)n_labels;
    for (size_t j = 0; j < d; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += X[i * d + j];
        double mu = s / (double)n;
        for (size_t i = 0; i < n; i++)
            s2 += (X[i * d + j] - mu) * (X[i * d + j] - mu);
        double sd = sqrt(s2 / (double)n);
        out->mean[j] = (float)mu;
        out->std[j] = (float)(sd > 1e-6 ? sd : 1.0);
    }
    double *Z = malloc(n * d * sizeof *Z);
    double *gw = malloc(L * d * sizeof *gw), *gb = malloc(L * sizeof *gb);
    double *pr = malloc(L * sizeof *pr);
    double *W = calloc(L * d, sizeof *W), *B = calloc(L, sizeof *B);
    if (!Z || !gw || !gb || !pr || !W || !B) {
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory fitting the classifier");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        standardise(out, X + i * d, Z + i * d);
    /* full-batch gradient descent on the mean cross-entropy + l2/2 |W|^2
     * (convex; features standardised, so one step size fits all) */
    for (int32_t it = 0; it < p->iters; it++) {
        memset(gw, 0, L * d * sizeof *gw);
        memset(gb, 0, L * sizeof *gb);
        for (size_t i = 0; i < n; i++) {
            const double *z = Z + i * d;
            for (size_t l = 0; l < L; l++) {
                double s = B[l];
                for (size_t j = 0; j < d; j++)
                    s += W[l * d + j] * z[j];
                pr[l] = s;
            }
            softmax(pr, (int32_t)L, 1.0);
            for (size_t l = 0; l < L; l++) {
                double g = (pr[l] - (y[i] == (int32_t)l)) / (double)n;
                gb[l] += g;
                for (size_t j = 0; j < d; j++)
                    gw[l * d + j] += g * z[j];
            }
        }
        for (size_t l = 0; l < L; l++) {
            B[l] -= p->lr * gb[l];
            for (size_t j = 0; j < d; j++)
                W[l * d + j] -= p->lr * (gw[l * d + j] + p->l2 * W[l * d + j]);
        }
    }
    for (size_t k = 0; k < L * d; k++)
        out->w[k] = (float)W[k];
    for (size_t l = 0; l < L; l++)
        out->b[l] = (float)B[l];
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        logits_of(out, Z + i * d, pr);
        size_t best = 0;
        for (size_t l = 1; l < L; l++)
            if (pr[l] > pr[best])
                best = l;
        right += (int32_t)best == y[i];
    }
    out->train_accuracy = (double)right / (double)n;
done:
    free(Z);
    free(gw);
    free(gb);
    free(pr);
    free(W);
    free(B);
    if (rc != LOCO_OK)
        loco_classifier_free(out);
    return rc;
}

static double nll_at(const struct loco_classifier *c, const double *lg, const int32_t *y,
                     size_t n, double t)
{
    double total = 0, p[LOCO_CLASSIFIER_MAX_LABELS];
    for (size_t i = 0; i < n; i++) {
        memcpy(p, lg + i * (size_t)c->n_labels, (size_t)c->n_labels * sizeof *p);
        softmax(p, c->n_labels, t);
        total -= log(p[y[i]] > 1e-300 ? p[y[i]] : 1e-300);
    }
    return total / (double)n;
}

int loco_classifier_calibrate(struct loco_classifier *c, const float *X, const int32_t *y,
                              size_t n)
{
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID, "calibration needs examples");
    double *lg = malloc(n * (size_t)c->n_labels * sizeof *lg);
    double *z = malloc((size_t)c->dim * sizeof *z);
    if (!lg || !z) {
        free(lg);
        free(z);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory calibrating");
    }
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= c->n_labels) {
            free(lg);
            free(z);
            return loco_error_set(LOCO_ERR_INVALID, "calibration: label %d of example %zu",
                                  y[i], i);
        }
        standardise(c, X + i * (size_t)c->dim, z);
        logits_of(c, z, lg + i * (size_t)c->n_labels);
    }
    /* golden-section search over u = log T (the NLL is unimodal in T) */
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(1.0 / 20), b = log(20.0);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll_at(c, lg, y, n, exp(x1)), f2 = nll_at(c, lg, y, n, exp(x2));
    for (int it = 0; it < 80; it++) {
        if (f1 < f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = nll_at(c, lg, y, n, exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = nll_at(c, lg, y, n, exp(x2));
        }
    }
    c->temperature = exp((a + b) / 2);
    free(lg);
    free(z);
    return LOCO_OK;
}

/* ---- the file (JSON) ------------------------------------------------------ */

static cJSON *float_array(const float *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

int loco_classifier_save(const struct loco_classifier *c, const char *path)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "locollm-router-classifier/1");
    cJSON_AddStringToObject(j, "model_sha256", c->model_sha256);
    cJSON_AddNumberToObject(j, "dim", c->dim);
    cJSON *labels = cJSON_AddArrayToObject(j, "labels");
    for (int32_t l = 0; l < c->n_labels; l++)
        cJSON_AddItemToArray(labels, cJSON_CreateString(c->labels[l]));
    cJSON_AddNumberToObject(j, "temperature", c->temperature);
    cJSON_AddNumberToObject(j, "n_train", (double)c->n_train);
    cJSON_AddNumberToObject(j, "train_accuracy", c->train_accuracy);
    cJSON_AddItemToObject(j, "mean", float_array(c->mean, (size_t)c->dim));
    cJSON_AddItemToObject(j, "std", float_array(c->std, (size_t)c->dim));
    cJSON_AddItemToObject(j, "bias", float_array(c->b, (size_t)c->n_labels));
    cJSON *w = cJSON_AddArrayToObject(j, "weights");
    for (int32_t l = 0; l < c->n_labels; l++)
        cJSON_AddItemToArray(w, float_array(c->w + (size_t)l * (size_t)c->dim, (size_t)c->dim));
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing %s", path);
    int rc = loco_file_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

static int read_floats(const cJSON *a, float *out, int32_t n, const char *path, const char *what)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: \"%s\" must be an array of %d numbers",
                              path, what, n);
    int32_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return loco_error_set(LOCO_ERR_FORMAT, "%s: \"%s\"[%d] is not a finite number",
                                  path, what, i);
        out[i++] = (float)v->valuedouble;
    }
    return LOCO_OK;
}

int loco_classifier_load(const char *path, struct loco_classifier *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no classifier at %s (train one with `loco "
                              "router train`)", path);
    char *text = malloc(MAX_FILE + 1);
    size_t len = text ? fread(text, 1, MAX_FILE + 1, f) : 0;
    fclose(f);
    if (!text)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory reading %s", path);
    if (len > MAX_FILE) {
        free(text);
        return loco_error_set(LOCO_ERR_RANGE, "%s is larger than %u bytes", path, MAX_FILE);
    }
    text[len] = '\0';
    cJSON *j = cJSON_Parse(text);
    free(text);
    int rc = LOCO_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(j, "dim");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(j, "temperature");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(j, "model_sha256");
    if (!cJSON_IsObject(j) || !cJSON_IsString(fmt) ||
        strcmp(fmt->valuestring, "locollm-router-classifier/1") != 0) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s is not a locollm-router-classifier/1 file", path);
        goto done;
    }
    if (!cJSON_IsNumber(dim) || dim->valuedouble < 1 || dim->valuedouble > 65536 ||
        !cJSON_IsArray(labels) || cJSON_GetArraySize(labels) < 2 ||
        cJSON_GetArraySize(labels) > LOCO_CLASSIFIER_MAX_LABELS || !cJSON_IsNumber(temp) ||
        !(temp->valuedouble > 0) || !isfinite(temp->valuedouble) || !cJSON_IsString(sha)) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s: dim, labels (2..%d), temperature (> 0) or "
                            "model_sha256 missing or out of range", path,
                            LOCO_CLASSIFIER_MAX_LABELS);
        goto done;
    }
    out->dim = (int32_t)dim->valuedouble;
    out->n_labels = cJSON_GetArraySize(labels);
    out->temperature = temp->valuedouble;
    snprintf(out->model_sha256, sizeof out->model_sha256, "%s", sha->valuestring);
    int32_t l = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, labels)
    {
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
            rc = loco_error_set(LOCO_ERR_FORMAT, "%s: labels[%d] is not a name", path, l);
            goto done;
        }
        snprintf(out->labels[l++], sizeof out->labels[0], "%s", v->valuestring);
    }
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(j, "n_train");
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(j, "train_accuracy");
    out->n_train = cJSON_IsNumber(nt) ? (int64_t)nt->valuedouble : 0;
    out->train_accuracy = cJSON_IsNumber(ta) ? ta->valuedouble : 0;
    if ((rc = alloc_arrays(out)) != LOCO_OK)
        goto done;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "weights");
    if ((rc = read_floats(cJSON_GetObjectItemCaseSensitive(j, "mean"), out->mean, out->dim, path,
                          "mean")) ||
        (rc = read_floats(cJSON_GetObjectItemCaseSensitive(j, "std"), out->std, out->dim, path,
                          "std")) ||
        (rc = read_floats(cJSON_GetObjectItemCaseSensitive(j, "bias"), out->b, out->n_labels,
                          path, "bias")))
        goto done;
    if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != out->n_labels) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s: \"weights\" must hold %d rows", path,
                            out->n_labels);
        goto done;
    }
    l = 0;
    cJSON_ArrayForEach(v, w)
    {
        rc = read_floats(v, out->w + (size_t)l++ * (size_t)out->dim, out->dim, path, "weights");
        if (rc)
            goto done;
    }
    for (int32_t k = 0; k < out->dim; k++)
        if (!(out->std[k] > 0)) {
            rc = loco_error_set(LOCO_ERR_FORMAT, "%s: std[%d] must be positive", path, k);
            goto done;
        }
done:
    cJSON_Delete(j);
    if (rc != LOCO_OK)
        loco_classifier_free(out);
    return rc;
}

int loco_classifier_path(const struct loco_registry *reg, char *buf, size_t cap)
{
    return router_file_path(reg, "LOCO_ROUTER_CLASSIFIER", LOCO_CLASSIFIER_FILE, buf, cap);
}

/* ---- the router ------------------------------------------------------------ */

struct cls_state {
    struct loco_classifier c;
    const struct loco_model *m;
    struct loco_context *ctx;
    float *features;
};

static void cls_free(void *state)
{
    struct cls_state *s = state;
    if (!s)
        return;
    loco_classifier_free(&s->c);
    loco_context_free(s->ctx);
    free(s->features);
    free(s);
}

static int cls_init(const struct loco_router_env *env, void **state)
{
    if (!env->model)
        return loco_error_set(LOCO_ERR_INVALID, "the classifier router reads the base model's "
                              "hidden states: load the model first");
    char path[4096];
    int rc = loco_classifier_path(env->reg, path, sizeof path);
    struct cls_state *s = calloc(1, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the classifier router");
    if (rc == LOCO_OK)
        rc = loco_classifier_load(path, &s->c);
    if (rc != LOCO_OK) {
        free(s);
        return rc;
    }
    const struct loco_hparams *hp = loco_model_hparams(env->model);
    char sha[65] = "";
    loco_model_sha256(env->model, sha);
    if (s->c.dim != hp->n_embd || strcmp(sha, s->c.model_sha256) != 0) {
        rc = loco_error_set(LOCO_ERR_INVALID, "%s was trained on another model (sha256 %.12s..., "
                            "%d features; this one is %.12s..., %d): run `loco router train`",
                            path, s->c.model_sha256, s->c.dim, sha, hp->n_embd);
        cls_free(s);
        return rc;
    }
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = LOCO_ROUTER_EMBED_TOKENS;
    cp.n_seq = 1;
    cp.n_batch = LOCO_ROUTER_EMBED_TOKENS;
    s->m = env->model;
    s->ctx = loco_context_init(env->model, cp);
    s->features = malloc((size_t)hp->n_embd * sizeof *s->features);
    if (!s->ctx || !s->features) {
        cls_free(s);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the classifier router");
    }
    *state = s;
    return LOCO_OK;
}

static int cls_score(void *state, const char *query, struct loco_route_decision *d)
{
    struct cls_state *s = state;
    int rc = loco_router_embed(s->ctx, s->m, query, s->features);
    if (rc != LOCO_OK)
        return rc;
    double p[LOCO_CLASSIFIER_MAX_LABELS];
    loco_classifier_probs(&s->c, s->features, p);
    /* map the classifier's labels onto the decision's names; a domain the
     * classifier never saw gets 0, a label the registry lacks is dropped */
    double kept = 0;
    for (size_t i = 0; i < d->n; i++) {
        d->prob[i] = 0;
        for (int32_t l = 0; l < s->c.n_labels; l++)
            if (!strcmp(s->c.labels[l], d->names[i]))
                d->prob[i] = p[l];
        kept += d->prob[i];
    }
    size_t best = 0;
    for (size_t i = 1; i < d->n; i++)
        if (d->prob[i] > d->prob[best])
            best = i;
    snprintf(d->reason, sizeof d->reason,
             "hidden-state classifier: %s %.2f (T %.2f, %lld training queries%s)", d->names[best],
             kept > 0 ? d->prob[best] / kept : 0, s->c.temperature, (long long)s->c.n_train,
             kept < 0.999 ? "; some labels are not in the registry" : "");
    return LOCO_OK;
}

const struct loco_router_ops router_classifier_ops = {
    .name = "classifier",
    .summary = "logistic regression on the base model's hidden states (v2; loco router train)",
    .needs_model = true,
    .init = cls_init,
    .score = cls_score,
    .free = cls_free,
};
