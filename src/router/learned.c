/*
 * learned.c - the learned router: the keyword router's scores plus weights
 * of the query's words learned from users' judgements in the exchange log
 * (`loco feedback`; see loco/exchlog.h).
 *
 * Shapes: L labels (the registry's domains, then "base"), B hashed word
 * buckets (LOCO_LEARNED_BUCKETS).
 *
 * The model. A query's keyword logits are k_l = SHARPNESS * score_l, what
 * the keyword router's softmax reads. Its features are its distinct words
 * (lower-cased, at most LOCO_LEARNED_MAX_WORDS, function words such as "the"
 * left out), each hashed to a bucket j with the value
 * x_j = 1 / sqrt(number of distinct words), so that a long article weighs no
 * more than a short question. Then
 *
 *     z_l = k_l + sum_j x_j W[j][l],        p = softmax(z),
 *
 * a multinomial logistic regression with the keyword logits as a fixed
 * offset (Bishop, PRML 4.3.4). It is fitted at init by stochastic gradient
 * descent with an L2 penalty on the judged exchanges of the log: a label y
 * has the loss -log p_y (gradient p_l - [l = y]); "bad" without a right
 * domain says only "not r", the loss -log(1 - p_r) (gradient p_r for r,
 * -p_r p_l / (1 - p_r) for the others). W starts at zero, so the router
 * begins as the keyword router and moves where users said it was wrong (or
 * where it was right with little confidence). There is no bias term: users
 * correct mistakes more often than they confirm successes, and a bias
 * fitted to a few corrections towards one domain would send every query
 * there; words move only the queries that contain them.
 *
 * The decision reads z / SHARPNESS as keyword scores and applies the
 * keyword router's rules: the best domain must beat "base" and lead the
 * second by LOCO_KEYWORD_MARGIN, else the base model answers. With no
 * judgements the keyword router decides alone, exactly as it would.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "loco/exchlog.h"
#include "router/router_internal.h"

#define MAX_LABELS (LOCO_ROUTE_MAX_DOMAINS + 1)
#define MAX_WORD 48

struct learned_state {
    const struct loco_router_ops *kw; /* the keyword router, scoring first */
    void *kw_state;
    size_t n_labels;       /* L: the domains, then "base" */
    float *w;              /* [B][L] word weights */
    size_t n_feedback;     /* judged exchanges it learned from */
    struct loco_route_decision *scratch; /* keyword scores of training queries */
};

/* ---- features --------------------------------------------------------------- */

/* A query's distinct words: their buckets and (for the reason) their text. */
struct features {
    size_t n;
    uint32_t bucket[LOCO_LEARNED_MAX_WORDS];
    char word[LOCO_LEARNED_MAX_WORDS][MAX_WORD];
    double x; /* the value of each: 1 / sqrt(n) */
};

/* Letters, digits and any byte of a UTF-8 sequence make words. */
static bool word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* FNV-1a, 32 bits. */
static uint32_t hash_word(const char *w)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % LOCO_LEARNED_BUCKETS;
}

/* Articles, prepositions, conjunctions and forms of "be": in every domain's
 * queries, so they carry no domain, and a few corrections in one domain
 * would otherwise teach that "the" means it. Pronouns and question words
 * stay: "you" is a sign of role-play, "how" of arithmetic. */
static bool stop_word(const char *w)
{
    static const char *const stop[] = {
        "a",  "an", "and", "are", "as", "at",   "be",   "been", "but",  "by",   "for",
        "from", "in", "is", "it", "its", "of",  "on",   "or",   "that", "the",  "this",
        "to", "was", "were", "with",
    };
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (!strcmp(w, stop[i]))
            return true;
    return false;
}

static bool seen(const struct features *f, uint32_t bucket, const char *w)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->bucket[i] == bucket && !strcmp(f->word[i], w))
            return true;
    return false;
}

static void featurise(const char *query, struct features *f)
{
    f->n = 0;
    const unsigned char *p = (const unsigned char *)query;
    while (*p && f->n < LOCO_LEARNED_MAX_WORDS) {
        while (*p && !word_byte(*p))
            p++;
        char w[MAX_WORD];
        size_t len = 0;
        for (; *p && word_byte(*p); p++)
            if (len + 1 < sizeof w)
                w[len++] = (char)tolower(*p);
        w[len] = '\0';
        uint32_t bucket = hash_word(w);
        if (len && !stop_word(w) && !seen(f, bucket, w)) {
            f->bucket[f->n] = bucket;
            memcpy(f->word[f->n++], w, len + 1);
        }
    }
    f->x = f->n ? 1.0 / sqrt((double)f->n) : 0.0;
}

/* ---- the model -------------------------------------------------------------- */

/* A query as the model reads it: n word buckets, each of value x. */
struct bag {
    const uint32_t *bucket; /* [n] */
    size_t n;
    double x;
};

/* z[L] = k + sum_j x_j W[j] */
static void logits(const struct learned_state *s, const double *k, struct bag b, double *z)
{
    for (size_t l = 0; l < s->n_labels; l++)
        z[l] = k[l];
    for (size_t i = 0; i < b.n; i++) {
        const float *wj = s->w + (size_t)b.bucket[i] * s->n_labels;
        for (size_t l = 0; l < s->n_labels; l++)
            z[l] += b.x * wj[l];
    }
}

static void softmax(double *v, size_t n)
{
    double max = v[0], sum = 0;
    for (size_t i = 1; i < n; i++)
        max = v[i] > max ? v[i] : max;
    for (size_t i = 0; i < n; i++)
        sum += v[i] = exp(v[i] - max);
    for (size_t i = 0; i < n; i++)
        v[i] /= sum;
}

/* The keyword router's logits of `query` into k[L]; its reason and domain
 * are left in d. */
static int keyword_logits(const struct learned_state *s, const char *query,
                          struct loco_route_decision *d, double *k)
{
    memset(d->prob, 0, sizeof d->prob);
    d->domain[0] = d->reason[0] = '\0';
    int rc = s->kw->score(s->kw_state, query, d);
    for (size_t l = 0; !rc && l < s->n_labels; l++)
        k[l] = log(d->prob[l] > 1e-300 ? d->prob[l] : 1e-300);
    return rc;
}

/* One training example: its words (buckets [at, at + n) of the training
 * set's pool), the keyword logits and the label. */
struct example {
    size_t at, n;
    double x;
    double k[MAX_LABELS];
    size_t label;
    bool negative; /* "not label" */
};

struct training {
    struct example *ex; /* [n] */
    size_t n;
    uint32_t *pool; /* every example's buckets, one after the other */
    size_t pool_n, pool_cap;
};

/* One step of stochastic gradient descent on example e. */
static void sgd_step(struct learned_state *s, const struct training *t, const struct example *e,
                     double lr)
{
    double p[MAX_LABELS], g[MAX_LABELS];
    struct bag b = {t->pool + e->at, e->n, e->x};
    logits(s, e->k, b, p);
    softmax(p, s->n_labels);
    size_t r = e->label;
    for (size_t l = 0; l < s->n_labels; l++) {
        if (!e->negative)
            g[l] = p[l] - (l == r ? 1.0 : 0.0);
        else /* d/dz_l of -log(1 - p_r) */
            g[l] = l == r ? p[r] : -p[r] * p[l] / fmax(1.0 - p[r], 1e-12);
    }
    for (size_t i = 0; i < b.n; i++) {
        float *wj = s->w + (size_t)b.bucket[i] * s->n_labels;
        for (size_t l = 0; l < s->n_labels; l++)
            wj[l] -= (float)(lr * (g[l] * b.x + LOCO_LEARNED_L2 * wj[l]));
    }
}

static void fit(struct learned_state *s, const struct training *t)
{
    size_t n = t->n;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return; /* the router stays the keyword router */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* xorshift64 from a fixed seed: the same log gives the same router */
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int epoch = 0; epoch < LOCO_LEARNED_EPOCHS; epoch++) {
        for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(loco_xorshift64(&rng) % i), tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        double lr = LOCO_LEARNED_LR / sqrt(1.0 + epoch);
        for (size_t i = 0; i < n; i++)
            sgd_step(s, t, &t->ex[order[i]], lr);
    }
    free(order);
}

/* ---- reading the log -------------------------------------------------------- */

static size_t label_index(const struct loco_route_decision *d, const char *name)
{
    for (size_t l = 0; name[0] && l < d->n; l++)
        if (!strcmp(d->names[l], name))
            return l;
    return SIZE_MAX;
}

/* What judgement j teaches: false when nothing (no domain it can place). */
static bool example_of(const struct loco_judged *j, const struct loco_route_decision *d,
                       struct example *e)
{
    e->negative = false;
    e->label = label_index(d, j->corrected);
    if (!j->corrected[0]) {
        e->label = label_index(d, j->routed);
        e->negative = !j->good;
    }
    return e->label != SIZE_MAX;
}

/* Append the words of `query` to the pool as example e's. */
static int add_words(struct training *t, const struct features *f, struct example *e)
{
    if (t->pool_n + f->n > t->pool_cap) {
        size_t cap = 2 * t->pool_cap + f->n;
        uint32_t *grown = realloc(t->pool, cap * sizeof *grown);
        if (!grown)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the learned router");
        t->pool = grown;
        t->pool_cap = cap;
    }
    memcpy(t->pool + t->pool_n, f->bucket, f->n * sizeof *f->bucket);
    e->at = t->pool_n;
    e->n = f->n;
    e->x = f->x;
    t->pool_n += f->n;
    return LOCO_OK;
}

/* The examples of the judgements j[0..n) into t. */
static int build_examples(struct learned_state *s, const struct loco_judged *j, size_t n,
                          struct training *t)
{
    struct features *f = malloc(sizeof *f);
    t->ex = malloc((n ? n : 1) * sizeof *t->ex);
    int rc = f && t->ex ? LOCO_OK
                        : loco_error_set(LOCO_ERR_NOMEM, "out of memory for %zu judgements", n);
    for (size_t i = 0; i < n && !rc; i++) {
        struct example *e = &t->ex[t->n];
        if (!example_of(&j[i], s->scratch, e))
            continue;
        rc = keyword_logits(s, j[i].query, s->scratch, e->k);
        featurise(j[i].query, f);
        if (!rc)
            rc = add_words(t, f, e);
        if (!rc)
            t->n++;
    }
    free(f);
    return rc;
}

/* Read the judgements of the log (none when it does not exist yet) and fit. */
static int learn_from_log(struct learned_state *s)
{
    char path[4096];
    int rc = loco_exchlog_path(path, sizeof path);
    if (rc || access(path, F_OK) != 0)
        return rc;
    struct loco_exchlog *log;
    rc = loco_exchlog_open(path, &log);
    if (rc)
        return rc;
    struct loco_judged *j = NULL;
    size_t n = 0;
    rc = loco_exchlog_judged(log, LOCO_LEARNED_MAX_EXAMPLES, &j, &n);
    loco_exchlog_close(log);
    struct training t = {0};
    if (!rc)
        rc = build_examples(s, j, n, &t);
    if (!rc) {
        fit(s, &t);
        s->n_feedback = t.n;
    }
    free(t.ex);
    free(t.pool);
    loco_judged_free(j, n);
    return rc;
}

/* ---- the router ------------------------------------------------------------- */

static void learned_free(void *state)
{
    struct learned_state *s = state;
    if (!s)
        return;
    if (s->kw && s->kw_state)
        s->kw->free(s->kw_state);
    free(s->w);
    free(s->scratch);
    free(s);
}

/* The scratch decision's names: the registry's domains, then "base", as
 * loco_route() fills them. */
static void fill_names(const struct loco_registry *reg, struct loco_route_decision *d)
{
    size_t nd = loco_registry_n_domains(reg);
    for (size_t i = 0; i < nd; i++)
        snprintf(d->names[i], sizeof d->names[i], "%s", loco_registry_domain_at(reg, i)->name);
    snprintf(d->names[nd], sizeof d->names[nd], "%s", LOCO_ROUTE_BASE);
    d->n = nd + 1;
}

static int learned_init(const struct loco_router_env *env, void **state)
{
    struct learned_state *s = calloc(1, sizeof *s);
    if (!s)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for the learned router");
    s->n_labels = loco_registry_n_domains(env->reg) + 1;
    s->w = calloc((size_t)LOCO_LEARNED_BUCKETS * s->n_labels, sizeof *s->w);
    s->scratch = calloc(1, sizeof *s->scratch);
    s->kw = loco_router_find("keyword");
    int rc = !s->w || !s->scratch ? loco_error_set(LOCO_ERR_NOMEM, "out of memory for the "
                                                   "learned router")
             : !s->kw             ? LOCO_ERR_NOT_FOUND
                                  : s->kw->init(env, &s->kw_state);
    if (!rc) {
        fill_names(env->reg, s->scratch);
        rc = learn_from_log(s);
    }
    if (rc) {
        learned_free(s);
        return rc;
    }
    *state = s;
    return LOCO_OK;
}

/* "'pirate' +0.9, 'crew' +0.4": the words that pushed the most towards
 * label c. */
static void top_words(const struct learned_state *s, const struct features *f, size_t c,
                      char *buf, size_t cap)
{
    size_t used = 0, shown[2] = {SIZE_MAX, SIZE_MAX};
    buf[0] = '\0';
    for (int k = 0; k < 2; k++) {
        double best = 0.05; /* too small to name below this */
        for (size_t i = 0; i < f->n; i++) {
            double v = f->x * s->w[(size_t)f->bucket[i] * s->n_labels + c];
            if (v > best && i != shown[0]) {
                best = v;
                shown[k] = i;
            }
        }
        if (shown[k] == SIZE_MAX)
            break;
        double v = f->x * s->w[(size_t)f->bucket[shown[k]] * s->n_labels + c];
        int n = snprintf(buf + used, cap - used, "%s'%s' %+.1f", k ? ", " : "",
                         f->word[shown[k]], v / LOCO_KEYWORD_SHARPNESS);
        if (n > 0 && (size_t)n < cap - used)
            used += (size_t)n;
    }
}

/* The decision under the keyword router's rules, over learned scores. */
struct choice {
    size_t chosen;       /* the label that answers */
    size_t best, second; /* the two highest domains */
    bool ambiguous;      /* best did not lead second by the margin */
};

static struct choice decide(const double *score, size_t nd)
{
    struct choice c = {.chosen = nd};
    for (size_t i = 1; i < nd; i++)
        if (score[i] > score[c.best])
            c.best = i;
    c.second = c.best == 0 && nd > 1 ? 1 : 0;
    for (size_t i = 0; i < nd; i++)
        if (i != c.best && score[i] > score[c.second])
            c.second = i;
    if (nd == 0 || score[c.best] <= score[nd])
        return c; /* nothing beats base */
    c.ambiguous = nd > 1 && score[c.best] - score[c.second] < LOCO_KEYWORD_MARGIN;
    if (!c.ambiguous)
        c.chosen = c.best;
    return c;
}

/* Append "; keywords: <what the keyword router said>" to d->reason. */
static void append_keywords(struct loco_route_decision *d, const char *kw_reason)
{
    size_t len = strlen(d->reason);
    snprintf(d->reason + len, sizeof d->reason - len, "; keywords: %s", kw_reason);
}

static void explain(const struct learned_state *s, const struct features *f, const double *k,
                    const double *score, struct choice c, const char *kw_reason,
                    struct loco_route_decision *d)
{
    if (c.ambiguous) {
        snprintf(d->reason, sizeof d->reason, "ambiguous after learning from %zu feedback "
                 "records: %s %.1f vs %s %.1f", s->n_feedback, d->names[c.best],
                 score[c.best], d->names[c.second], score[c.second]);
    } else {
        char words[128];
        top_words(s, f, c.chosen, words, sizeof words);
        double shift = score[c.chosen] - k[c.chosen] / LOCO_KEYWORD_SHARPNESS;
        snprintf(d->reason, sizeof d->reason, "learned from %zu feedback records: %s %+.1f%s%s%s",
                 s->n_feedback, d->names[c.chosen], shift, words[0] ? " (" : "", words,
                 words[0] ? ")" : "");
    }
    append_keywords(d, kw_reason);
}

static int learned_score(void *state, const char *query, struct loco_route_decision *d)
{
    struct learned_state *s = state;
    char kw_reason[sizeof d->reason];
    if (s->n_feedback == 0) { /* the keyword router alone */
        int rc = s->kw->score(s->kw_state, query, d);
        snprintf(kw_reason, sizeof kw_reason, "%s", d->reason);
        snprintf(d->reason, sizeof d->reason, "learned from 0 feedback records");
        append_keywords(d, kw_reason);
        return rc;
    }
    double k[MAX_LABELS], z[MAX_LABELS], score[MAX_LABELS];
    int rc = keyword_logits(s, query, d, k);
    if (rc)
        return rc;
    snprintf(kw_reason, sizeof kw_reason, "%s", d->reason);
    struct features *f = malloc(sizeof *f);
    if (!f)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory routing a query");
    featurise(query, f);
    logits(s, k, (struct bag){f->bucket, f->n, f->x}, z);
    double max = z[0];
    for (size_t l = 0; l < s->n_labels; l++) {
        score[l] = z[l] / LOCO_KEYWORD_SHARPNESS;
        max = z[l] > max ? z[l] : max;
    }
    for (size_t l = 0; l < s->n_labels; l++)
        d->prob[l] = exp(z[l] - max);
    struct choice c = decide(score, s->n_labels - 1);
    snprintf(d->domain, sizeof d->domain, "%s", d->names[c.chosen]);
    explain(s, f, k, score, c, kw_reason, d);
    free(f);
    return LOCO_OK;
}

const struct loco_router_ops router_learned_ops = {
    .name = "learned",
    .summary = "keyword scores plus word weights learned from loco feedback in the log",
    .init = learned_init,
    .score = learned_score,
    .free = learned_free,
};

/* ---- replaying labelled queries as feedback ---------------------------------- */

int loco_learned_replay(struct loco_exchlog *log, struct loco_router *r,
                        const struct loco_route_item *items, size_t n, size_t *n_good)
{
    if (n_good)
        *n_good = 0;
    struct loco_route_decision *d = malloc(sizeof *d);
    if (!d)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory replaying feedback");
    int rc = LOCO_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = loco_route(r, items[i].query, d);
        struct loco_exchange e = {.command = "replay", .query = items[i].query, .route = d,
                                  .adapter = d->adapter, .first_token_ms = -1, .total_ms = -1};
        int64_t id = 0;
        if (!rc)
            rc = loco_exchlog_add(log, &e, &id);
        bool good = !strcmp(d->domain, items[i].domain);
        if (!rc)
            rc = loco_exchlog_feedback(log, id, good, good ? NULL : items[i].domain);
        if (!rc && good && n_good)
            *n_good += 1;
    }
    free(d);
    return rc;
}
