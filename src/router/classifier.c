/*
 * classifier.c - the classifier router: a query's features (format 2:
 * hashed words and word pairs, the instruction's words, shape cues and the
 * keyword router's view, optionally early-exit hidden states; format 1: the
 * base model's mean final hidden state), standardised, into a multinomial
 * logistic regression with temperature scaling. Fitting, calibration, the
 * file and the router's operations.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/fileio.h"
#include "loco/lora.h" /* loco_model_sha256 */
#include "loco/model.h"
#include "loco/route-eval.h"
#include "loco/tokenizer.h"
#include "core/rng.h"
#include "core/util.h"
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
    return (struct loco_classifier_params){
        .l2 = 1e-3, .epochs = 20, .lr = 0.01, .batch = 32, .balanced = true, .n_dense = -1};
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

/* Mean and deviation of the first n_dense columns over the rows; the other
 * columns get mean 0 and deviation 1 (used as they are). */
static void fit_scale(struct loco_classifier *c, const float *X, const size_t *rows, size_t n)
{
    size_t d = (size_t)c->dim;
    for (size_t j = 0; j < d; j++) {
        c->mean[j] = 0;
        c->std[j] = 1;
    }
    for (size_t j = 0; j < (size_t)c->n_dense; j++) {
        double s = 0, s2 = 0;
        for (size_t r = 0; r < n; r++)
            s += X[(rows ? rows[r] : r) * d + j];
        double mu = s / (double)n;
        for (size_t r = 0; r < n; r++) {
            double v = X[(rows ? rows[r] : r) * d + j] - mu;
            s2 += v * v;
        }
        double sd = sqrt(s2 / (double)n);
        c->mean[j] = (float)mu;
        c->std[j] = (float)(sd > 1e-6 ? sd : 1.0);
    }
}

/* Adam (Kingma & Ba 2015) on one parameter: m, v its moments, t the step. */
#define ADAM_B1 0.9
#define ADAM_B2 0.999

/* Adam (Kingma & Ba 2015) on one parameter: m, v its moments; c1, c2 the
 * step's bias corrections 1 - b1^t, 1 - b2^t. */
static void adam_step(float *w, double g, double *m, double *v, double lr, double c1, double c2)
{
    *m = ADAM_B1 * *m + (1 - ADAM_B1) * g;
    *v = ADAM_B2 * *v + (1 - ADAM_B2) * g * g;
    *w -= (float)(lr * (*m / c1) / (sqrt(*v / c2) + 1e-8));
}

struct fit_work {
    double *z, *pr, *gw, *gb, *mw, *vw, *mb, *vb, *cw;
    size_t *order, *nz;
};

static void fit_work_free(struct fit_work *f)
{
    free(f->z);
    free(f->pr);
    free(f->gw);
    free(f->gb);
    free(f->mw);
    free(f->vw);
    free(f->mb);
    free(f->vb);
    free(f->cw);
    free(f->order);
    free(f->nz);
}

/* Mini-batch Adam on the (class-weighted) mean cross-entropy + l2/2 |W|^2
 * (convex), a fixed shuffle per epoch. Zero features are skipped, so the
 * sparse lexical columns cost little. */
static void fit_adam(struct loco_classifier *c, const float *X, const int32_t *y,
                     const size_t *rows, size_t n, const struct loco_classifier_params *p,
                     struct fit_work *f)
{
    size_t d = (size_t)c->dim, L = (size_t)c->n_labels;
    size_t batch = p->batch > 0 ? (size_t)p->batch : 32;
    uint64_t seed = 1;
    int64_t t = 0;
    for (size_t r = 0; r < n; r++)
        f->order[r] = rows ? rows[r] : r;
    for (int32_t ep = 0; ep < p->epochs; ep++) {
        for (size_t i = n; i > 1; i--) { /* Fisher-Yates with an LCG */
            size_t j = (size_t)((loco_lcg64(&seed) >> 33) % i), tmp = f->order[i - 1];
            f->order[i - 1] = f->order[j];
            f->order[j] = tmp;
        }
        for (size_t at = 0; at < n; at += batch) {
            size_t end = at + batch < n ? at + batch : n;
            double wsum = 0;
            memset(f->gw, 0, L * d * sizeof *f->gw);
            memset(f->gb, 0, L * sizeof *f->gb);
            for (size_t r = at; r < end; r++) {
                size_t i = f->order[r], nnz = 0;
                standardise(c, X + i * d, f->z);
                for (size_t j = 0; j < d; j++)
                    if (f->z[j] != 0)
                        f->nz[nnz++] = j;
                for (size_t l = 0; l < L; l++) { /* logits over the non-zero features */
                    const float *w = c->w + l * d;
                    double s = c->b[l];
                    for (size_t k = 0; k < nnz; k++)
                        s += w[f->nz[k]] * f->z[f->nz[k]];
                    f->pr[l] = s;
                }
                softmax(f->pr, (int32_t)L, 1.0);
                double wi = f->cw[i];
                wsum += wi;
                for (size_t l = 0; l < L; l++) {
                    double g = wi * (f->pr[l] - (y[i] == (int32_t)l));
                    f->gb[l] += g;
                    for (size_t k = 0; k < nnz; k++)
                        f->gw[l * d + f->nz[k]] += g * f->z[f->nz[k]];
                }
            }
            t++;
            double c1 = 1 - pow(ADAM_B1, (double)t), c2 = 1 - pow(ADAM_B2, (double)t);
            for (size_t l = 0; l < L; l++) {
                adam_step(&c->b[l], f->gb[l] / wsum, &f->mb[l], &f->vb[l], p->lr, c1, c2);
                for (size_t j = 0; j < d; j++) {
                    size_t k = l * d + j;
                    double g = f->gw[k] / wsum + p->l2 * c->w[k];
                    adam_step(&c->w[k], g, &f->mw[k], &f->vw[k], p->lr, c1, c2);
                }
            }
        }
    }
}

static size_t max_row(const size_t *rows, size_t n)
{
    size_t mx = n ? n - 1 : 0;
    for (size_t r = 0; rows && r < n; r++)
        mx = rows[r] > mx ? rows[r] : mx;
    return mx;
}

/* Weight of every row (w[X index]): 1; balanced, n / (labels present x
 * count of its label); with sources, n / (labels present x sources of its
 * label x count of its (label, source) cell). */
static int row_weights(const int32_t *y, const size_t *rows, size_t n, size_t L,
                       const struct loco_classifier_params *p, double *w)
{
    enum { MAX_SRC = 256 };
    size_t count[LOCO_CLASSIFIER_MAX_LABELS] = {0}, n_src[LOCO_CLASSIFIER_MAX_LABELS] = {0};
    size_t present = 0;
    size_t *cell = p->source ? calloc(L * MAX_SRC, sizeof *cell) : NULL;
    if (p->source && !cell)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory fitting the classifier");
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r;
        count[y[i]]++;
        if (cell) {
            if (p->source[i] < 0 || p->source[i] >= MAX_SRC) {
                free(cell);
                return loco_error_set(LOCO_ERR_RANGE, "classifier: source %d of row %zu "
                                      "(0..%d)", p->source[i], i, MAX_SRC - 1);
            }
            if (cell[(size_t)y[i] * MAX_SRC + (size_t)p->source[i]]++ == 0)
                n_src[y[i]]++;
        }
    }
    for (size_t l = 0; l < L; l++)
        present += count[l] > 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r, l = (size_t)y[i];
        if (!p->balanced)
            w[i] = 1;
        else if (cell)
            w[i] = (double)n / ((double)present * (double)n_src[l] *
                                (double)cell[l * MAX_SRC + (size_t)p->source[i]]);
        else
            w[i] = (double)n / ((double)present * (double)count[l]);
    }
    free(cell);
    return LOCO_OK;
}

int classifier_fit_rows(const float *X, const int32_t *y, const size_t *rows, size_t n,
                        int32_t dim, const char *const *labels, int32_t n_labels,
                        const struct loco_classifier_params *p, struct loco_classifier *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || dim <= 0 || n_labels < 2 || n_labels > LOCO_CLASSIFIER_MAX_LABELS)
        return loco_error_set(LOCO_ERR_INVALID,
                              "classifier: %zu examples, %d features, %d labels (need >= 1, "
                              ">= 1 and 2..%d)",
                              n, dim, n_labels, LOCO_CLASSIFIER_MAX_LABELS);
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r;
        if (y[i] < 0 || y[i] >= n_labels)
            return loco_error_set(LOCO_ERR_INVALID, "classifier: label %d of example %zu",
                                  y[i], i);
    }
    struct loco_classifier_params def = loco_classifier_default_params();
    if (!p)
        p = &def;
    out->dim = dim;
    out->n_labels = n_labels;
    out->n_dense = p->n_dense < 0 || p->n_dense > dim ? dim : p->n_dense;
    out->temperature = 1.0;
    out->n_train = (int64_t)n;
    for (int32_t l = 0; l < n_labels; l++)
        snprintf(out->labels[l], sizeof out->labels[l], "%s", labels[l]);
    int rc = alloc_arrays(out);
    if (rc != LOCO_OK)
        return rc;
    size_t d = (size_t)dim, L = (size_t)n_labels;
    fit_scale(out, X, rows, n);
    struct fit_work f = {
        .z = malloc(d * sizeof *f.z), .pr = malloc(L * sizeof *f.pr),
        .gw = malloc(L * d * sizeof *f.gw), .gb = malloc(L * sizeof *f.gb),
        .mw = calloc(L * d, sizeof *f.mw), .vw = calloc(L * d, sizeof *f.vw),
        .mb = calloc(L, sizeof *f.mb), .vb = calloc(L, sizeof *f.vb),
        .cw = malloc((max_row(rows, n) + 1) * sizeof *f.cw), .order = malloc(n * sizeof *f.order),
        .nz = malloc(d * sizeof *f.nz),
    };
    if (!f.z || !f.pr || !f.gw || !f.gb || !f.mw || !f.vw || !f.mb || !f.vb || !f.cw ||
        !f.order || !f.nz) {
        rc = loco_error_set(LOCO_ERR_NOMEM, "out of memory fitting the classifier");
        goto done;
    }
    if ((rc = row_weights(y, rows, n, L, p, f.cw)) != LOCO_OK)
        goto done;
    fit_adam(out, X, y, rows, n, p, &f);
    size_t right = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = rows ? rows[r] : r, best = 0;
        standardise(out, X + i * d, f.z);
        logits_of(out, f.z, f.pr);
        for (size_t l = 1; l < L; l++)
            if (f.pr[l] > f.pr[best])
                best = l;
        right += (int32_t)best == y[i];
    }
    out->train_accuracy = (double)right / (double)n;
done:
    fit_work_free(&f);
    if (rc != LOCO_OK)
        loco_classifier_free(out);
    return rc;
}

int loco_classifier_fit(const float *X, const int32_t *y, size_t n, int32_t dim,
                        const char *const *labels, int32_t n_labels,
                        const struct loco_classifier_params *p, struct loco_classifier *out)
{
    return classifier_fit_rows(X, y, NULL, n, dim, labels, n_labels, p, out);
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
    /* format 1: the mean final hidden state (no features); 2: early-exit,
     * lexical and keyword features as c->features says */
    const struct loco_route_features *fe = &c->features;
    bool v2 = fe->n_pool > 0 || fe->hash_dim > 0 || fe->n_keyword > 0;
    cJSON_AddStringToObject(j, "format", v2 ? "locollm-router-classifier/2"
                                            : "locollm-router-classifier/1");
    cJSON_AddStringToObject(j, "model_sha256", c->model_sha256);
    cJSON_AddNumberToObject(j, "dim", c->dim);
    cJSON_AddNumberToObject(j, "n_dense", c->n_dense);
    cJSON *fo = v2 ? cJSON_AddObjectToObject(j, "features") : NULL;
    if (fo) {
        cJSON *ls = cJSON_AddArrayToObject(fo, "layers");
        for (int32_t k = 0; k < fe->n_pool; k++)
            cJSON_AddItemToArray(ls, cJSON_CreateNumber(fe->layers[k]));
        cJSON_AddNumberToObject(fo, "head_tokens", fe->head_tokens);
        cJSON_AddNumberToObject(fo, "tail_tokens", fe->tail_tokens);
        cJSON_AddNumberToObject(fo, "hash_dim", fe->hash_dim);
        cJSON_AddNumberToObject(fo, "lex_scale", fe->lex_scale);
        if (fe->lex_lead)
            cJSON_AddBoolToObject(fo, "lex_lead", true);
        cJSON_AddNumberToObject(fo, "n_keyword", fe->n_keyword);
        cJSON_AddNumberToObject(fo, "kw_scale", fe->kw_scale);
    }
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

/* Format 2's "features" and "n_dense", checked against dim. */
static int read_features(const cJSON *j, struct loco_classifier *c, const char *path)
{
    const cJSON *fo = cJSON_GetObjectItemCaseSensitive(j, "features");
    const cJSON *nd = cJSON_GetObjectItemCaseSensitive(j, "n_dense");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(fo, "layers");
    const cJSON *ht = cJSON_GetObjectItemCaseSensitive(fo, "head_tokens");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(fo, "tail_tokens");
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(fo, "hash_dim");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(fo, "lex_scale");
    struct loco_route_features *f = &c->features;
    if (!cJSON_IsObject(fo) || !cJSON_IsArray(ls) ||
        cJSON_GetArraySize(ls) > LOCO_FEATURES_MAX_LAYERS || !cJSON_IsNumber(ht) ||
        !cJSON_IsNumber(tt) || !cJSON_IsNumber(hd) || !cJSON_IsNumber(sc) || !cJSON_IsNumber(nd) ||
        ht->valuedouble < 1 || ht->valuedouble > 4096 || tt->valuedouble < 0 ||
        tt->valuedouble > 4096 || hd->valuedouble < 0 || hd->valuedouble > (1 << 20) ||
        !(sc->valuedouble >= 0) || nd->valuedouble < 0 || nd->valuedouble > c->dim)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: \"features\" (layers, head_tokens, "
                              "tail_tokens, hash_dim, lex_scale) or n_dense missing or out of "
                              "range", path);
    f->n_pool = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, ls)
    {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 4096 ||
            (f->n_pool && v->valuedouble <= f->layers[f->n_pool - 1]))
            return loco_error_set(LOCO_ERR_FORMAT, "%s: features.layers must be ascending "
                                  "layer counts", path);
        f->layers[f->n_pool++] = (int32_t)v->valuedouble;
    }
    f->head_tokens = (int32_t)ht->valuedouble;
    f->tail_tokens = (int32_t)tt->valuedouble;
    f->hash_dim = (int32_t)hd->valuedouble;
    f->lex_scale = sc->valuedouble;
    const cJSON *ll = cJSON_GetObjectItemCaseSensitive(fo, "lex_lead");
    if (ll && !cJSON_IsBool(ll))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: features.lex_lead must be true or false",
                              path);
    f->lex_lead = cJSON_IsTrue(ll);
    const cJSON *nk = cJSON_GetObjectItemCaseSensitive(fo, "n_keyword");
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(fo, "kw_scale");
    f->n_keyword = cJSON_IsNumber(nk) && nk->valuedouble >= 0 && nk->valuedouble <= 4096
                       ? (int32_t)nk->valuedouble
                       : 0;
    f->kw_scale = cJSON_IsNumber(ks) ? ks->valuedouble : 0;
    c->n_dense = (int32_t)nd->valuedouble;
    if (c->n_dense + f->hash_dim + f->n_keyword != c->dim ||
        (c->n_dense == 0) != (f->n_pool == 0))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: %d dense + %d hashed + %d keyword features "
                              "do not make dim %d", path, c->n_dense, f->hash_dim, f->n_keyword,
                              c->dim);
    return LOCO_OK;
}

int loco_classifier_load(const char *path, struct loco_classifier *out)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    int read = loco_read_regular_file(path, MAX_FILE, &text, &len);
    if (read == LOCO_ERR_NOT_FOUND)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no classifier at %s (train one with `loco "
                              "router train`)", path);
    if (read != LOCO_OK)
        return read;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    int rc = LOCO_OK;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(j, "dim");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(j, "temperature");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(j, "model_sha256");
    bool v1 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "locollm-router-classifier/1");
    if (!cJSON_IsObject(j) || !cJSON_IsString(fmt) ||
        (!v1 && strcmp(fmt->valuestring, "locollm-router-classifier/2") != 0)) {
        rc = loco_error_set(LOCO_ERR_FORMAT, "%s is not a locollm-router-classifier/1 or /2 file",
                            path);
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
    out->n_dense = out->dim; /* format 1: the mean final hidden state, all standardised */
    if (!v1 && (rc = read_features(j, out, path)) != LOCO_OK)
        goto done;
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
    struct loco_context *ctx;              /* format 1: the whole model, mean final state */
    struct loco_route_featurizer *featurizer; /* format 2 */
    float *features;
};

static void cls_free(void *state)
{
    struct cls_state *s = state;
    if (!s)
        return;
    loco_classifier_free(&s->c);
    loco_context_free(s->ctx);
    loco_route_featurizer_free(s->featurizer);
    free(s->features);
    free(s);
}

/* Whether the classifier reads early-exit and lexical features (format 2). */
static bool reads_features(const struct loco_classifier *c)
{
    return c->features.n_pool > 0 || c->features.hash_dim > 0 || c->features.n_keyword > 0;
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
    int32_t want = reads_features(&s->c) ? loco_route_features_dim(&s->c.features, hp->n_embd)
                                         : hp->n_embd;
    if (s->c.dim != want || strcmp(sha, s->c.model_sha256) != 0) {
        rc = loco_error_set(LOCO_ERR_INVALID, "%s was trained on another model (sha256 %.12s..., "
                            "%d features; this one is %.12s..., %d): run `loco router train`",
                            path, s->c.model_sha256, s->c.dim, sha, want);
        cls_free(s);
        return rc;
    }
    s->m = env->model;
    if (reads_features(&s->c)) {
        s->featurizer = loco_route_featurizer_init(env->model, env->reg, &s->c.features,
                                                   env->n_threads);
        if (!s->featurizer) {
            rc = loco_error_set(LOCO_ERR_INVALID, "%s: %s", path, loco_error_message());
            cls_free(s);
            return rc;
        }
    } else {
        struct loco_context_params cp = loco_context_default_params();
        cp.n_ctx = LOCO_ROUTER_EMBED_TOKENS;
        cp.n_seq = 1;
        cp.n_batch = LOCO_ROUTER_EMBED_TOKENS;
        if (env->n_threads > 0)
            cp.n_threads = env->n_threads;
        s->ctx = loco_context_init(env->model, cp);
    }
    s->features = malloc((size_t)s->c.dim * sizeof *s->features);
    if ((!s->ctx && !s->featurizer) || !s->features) {
        cls_free(s);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the classifier router");
    }
    *state = s;
    return LOCO_OK;
}

static int cls_score(void *state, const char *query, struct loco_route_decision *d)
{
    struct cls_state *s = state;
    int rc = s->featurizer ? loco_route_featurize(s->featurizer, query, s->features)
                           : loco_router_embed(s->ctx, s->m, query, s->features);
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
             "classifier: %s %.2f (T %.2f, %lld training queries%s)", d->names[best],
             kept > 0 ? d->prob[best] / kept : 0, s->c.temperature, (long long)s->c.n_train,
             kept < 0.999 ? "; some labels are not in the registry" : "");
    return LOCO_OK;
}

const struct loco_router_ops router_classifier_ops = {
    .name = "classifier",
    .summary = "logistic regression on words, the keyword view and optional hidden states",
    .needs_model = true,
    .init = cls_init,
    .score = cls_score,
    .free = cls_free,
};
