/*
 * cmd-router-loso.c - `loco router loso`: how a router does on sources it
 * has never seen. Every source of a labelled pool is held out in turn; the
 * classifier is trained on the other sources and scored on it (keyword and
 * the other untrained routers are scored as they are). Beside it, the
 * in-pool figure: random k-fold over the same pool. With --out, the
 * classifier is then trained on the whole pool and written, its temperature
 * fitted on the leave-one-source-out predictions.
 *
 * A query's hidden-state features are computed once and can be kept in a
 * cache file (--cache) that later runs read, also for any subset of its
 * layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cli-route.h"
#include "cmd-router-loso.h"
#include "commands.h"
#include "loco/fileio.h"
#include "loco/lora.h" /* loco_model_sha256 */
#include "loco/registry.h"
#include "loco/route-eval.h"
#include "loco/router.h"

static const char loso_usage[] =
    "usage: loco router loso --data POOL.jsonl [--router NAME] [options]\n\n"
    "Leave-one-source-out: each source of the pool (the \"source\" field) is held out\n"
    "in turn; the classifier is trained on the other sources and scored on it.\n"
    "Untrained routers (keyword, ...) are scored per source as they are. Prints each\n"
    "source's accuracy with its Wilson 95% interval, the pooled held-out accuracy,\n"
    "per-domain precision/recall/F1, macro F1 and the expected calibration error (10\n"
    "bins), beside the in-pool figure (random k-fold over the pool).\n\n"
    "options:\n";

/* ---- the feature cache --------------------------------------------------------- */

#define CACHE_MAGIC "LOCOFEAT2"

struct cache_head {
    char magic[10];
    char sha[65];
    int32_t n_embd, head, tail, n_pool, layers[LOCO_FEATURES_MAX_LAYERS];
    int64_t count;
};

struct feature_cache {
    struct cache_head h;
    uint64_t *key; /* [count] */
    float *rows;   /* [count][n_pool*2*C] */
    size_t cap;
};

static uint64_t text_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static size_t cache_width(const struct cache_head *h)
{
    return (size_t)h->n_pool * 2 * (size_t)h->n_embd;
}

static void cache_free(struct feature_cache *c)
{
    free(c->key);
    free(c->rows);
}

/* Read `path` into c; a missing file is an empty cache. */
static bool cache_read(const char *path, struct feature_cache *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = NULL;
    int rc = loco_fopen_regular(path, &f); /* a FIFO is refused, not waited on */
    if (rc == LOCO_ERR_NOT_FOUND)
        return true;
    if (rc != LOCO_OK) {
        fprintf(stderr, "loco router loso: %s\n", loco_error_message());
        return false;
    }
    bool ok = fread(&c->h, sizeof c->h, 1, f) == 1 && !memcmp(c->h.magic, CACHE_MAGIC, 10) &&
              c->h.count >= 0 && c->h.count < (1 << 24) && c->h.n_pool >= 0 &&
              c->h.n_pool <= LOCO_FEATURES_MAX_LAYERS && c->h.n_embd > 0 && c->h.n_embd < 65536;
    size_t n = ok ? (size_t)c->h.count : 0, w = ok ? cache_width(&c->h) : 0;
    c->key = ok ? malloc((n + 1) * sizeof *c->key) : NULL;
    c->rows = ok ? malloc((n + 1) * w * sizeof *c->rows) : NULL;
    ok = ok && c->key && c->rows && fread(c->key, sizeof *c->key, n, f) == n &&
         fread(c->rows, sizeof *c->rows * w, n, f) == n;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "loco router loso: %s is not a feature cache of this version\n", path);
        cache_free(c);
        return false;
    }
    c->cap = n + 1;
    return true;
}

static bool cache_write(const char *path, const struct feature_cache *c)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    size_t n = (size_t)c->h.count, w = cache_width(&c->h);
    bool ok = f && fwrite(&c->h, sizeof c->h, 1, f) == 1 &&
              fwrite(c->key, sizeof *c->key, n, f) == n &&
              fwrite(c->rows, sizeof *c->rows * w, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "loco router loso: cannot write the feature cache %s\n", path);
        return false;
    }
    return true;
}

static ssize_t cache_find(const struct feature_cache *c, uint64_t key)
{
    for (int64_t i = 0; i < c->h.count; i++)
        if (c->key[i] == key)
            return (ssize_t)i;
    return -1;
}

static bool cache_add(struct feature_cache *c, uint64_t key, const float *row)
{
    size_t n = (size_t)c->h.count, w = cache_width(&c->h);
    if (n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 256;
        uint64_t *k = realloc(c->key, nc * sizeof *k);
        if (!k)
            return false;
        c->key = k;
        float *r = realloc(c->rows, nc * w * sizeof *r);
        if (!r)
            return false;
        c->rows = r;
        c->cap = nc;
    }
    c->key[n] = key;
    memcpy(c->rows + n * w, row, w * sizeof *row);
    c->h.count++;
    return true;
}

/* Column of each requested layer in the cache's layers; false when one is missing. */
static bool layer_map(const struct cache_head *h, const struct loco_route_features *f, int32_t *at)
{
    if (h->head != f->head_tokens || h->tail != f->tail_tokens)
        return false;
    for (int32_t k = 0; k < f->n_pool; k++) {
        at[k] = -1;
        for (int32_t j = 0; j < h->n_pool; j++)
            if (h->layers[j] == f->layers[k])
                at[k] = j;
        if (at[k] < 0)
            return false;
    }
    return true;
}

/* ---- features of the pool -------------------------------------------------------- */

/* Every item's features X[n][dim]: hidden states from the cache or the model
 * (the cache's layers when it has a compatible set, else the requested ones,
 * then kept), lexical ones computed here. */
static float *pool_features(struct cli_engine *e, const struct loco_registry *reg,
                            const struct loco_route_features *f, const struct loco_route_item *it,
                            size_t n, const char *cache_path)
{
    int32_t C = loco_model_hparams(e->model)->n_embd;
    size_t dim = (size_t)loco_route_features_dim(f, C), dense = (size_t)f->n_pool * 2 * C;
    float *X = calloc(n * dim, sizeof *X);
    struct feature_cache c = {0};
    if (!X || (cache_path && !cache_read(cache_path, &c))) {
        free(X);
        return NULL;
    }
    char sha[65] = "";
    loco_model_sha256(e->model, sha);
    int32_t at[LOCO_FEATURES_MAX_LAYERS];
    bool usable =
        c.h.count > 0 && !strcmp(c.h.sha, sha) && c.h.n_embd == C && layer_map(&c.h, f, at);
    if (!usable) { /* start a cache of the requested layers */
        cache_free(&c);
        memset(&c, 0, sizeof c);
        memcpy(c.h.magic, CACHE_MAGIC, 10);
        snprintf(c.h.sha, sizeof c.h.sha, "%s", sha);
        c.h.n_embd = C;
        c.h.head = f->head_tokens;
        c.h.tail = f->tail_tokens;
        c.h.n_pool = f->n_pool;
        memcpy(c.h.layers, f->layers, sizeof c.h.layers);
        layer_map(&c.h, f, at);
    }
    struct loco_route_features cf = *f;
    cf.n_pool = c.h.n_pool;
    memcpy(cf.layers, c.h.layers, sizeof cf.layers);
    cf.hash_dim = 0;
    cf.n_keyword = 0;
    struct loco_route_features kf = {
        .head_tokens = 1, .n_keyword = f->n_keyword, .kw_scale = f->kw_scale};
    struct loco_route_featurizer *z = NULL,
                                 *kz = f->n_keyword
                                           ? loco_route_featurizer_init(e->model, reg, &kf, 1)
                                           : NULL;
    float *row = malloc((cache_width(&c.h) + 1) * sizeof *row);
    size_t computed = 0;
    double t0 = loco_time_ms();
    bool ok = row != NULL && (kz || !f->n_keyword), tty = isatty(STDERR_FILENO);
    for (size_t i = 0; i < n && ok; i++) {
        float *x = X + i * dim;
        loco_route_lexical(it[i].query, f, x + dense);
        if (kz && loco_route_featurize(kz, it[i].query, x + dense + f->hash_dim) != LOCO_OK)
            ok = false;
        if (f->n_pool == 0)
            continue;
        uint64_t key = text_key(it[i].query);
        ssize_t k = cache_find(&c, key);
        if (k < 0) {
            if (!z && !(z = loco_route_featurizer_init(e->model, NULL, &cf,
                                                       loco_context_params(e->ctx).n_threads))) {
                ok = false;
                break;
            }
            ok = loco_route_featurize(z, it[i].query, row) == LOCO_OK && cache_add(&c, key, row);
            k = c.h.count - 1;
            if (++computed % 250 == 0 && cache_path) /* keep what is done so far */
                cache_write(cache_path, &c);
            if (tty || computed % 200 == 0)
                fprintf(stderr, "%sfeatures: %zu computed (%zu/%zu)  %.1f s%s", tty ? "\r" : "",
                        computed, i + 1, n, (loco_time_ms() - t0) / 1e3, tty ? "" : "\n");
        }
        const float *src = c.rows + (size_t)k * cache_width(&c.h);
        for (int32_t p = 0; p < f->n_pool && ok; p++)
            memcpy(x + (size_t)p * 2 * C, src + (size_t)at[p] * 2 * C, 2 * (size_t)C * sizeof *x);
    }
    if (computed)
        fprintf(stderr, "\nfeatures: %zu computed in %.1f s (%.1f ms each)\n", computed,
                (loco_time_ms() - t0) / 1e3, (loco_time_ms() - t0) / (double)computed);
    if (!ok)
        cli_fail("cannot compute features");
    if (ok && computed && cache_path)
        cache_write(cache_path, &c);
    loco_route_featurizer_free(z);
    loco_route_featurizer_free(kz);
    free(row);
    cache_free(&c);
    if (!ok) {
        free(X);
        return NULL;
    }
    return X;
}

/* ---- printing -------------------------------------------------------------------- */

static void print_eval(const struct loco_route_eval *v, const char *title)
{
    const struct loco_route_bench *b = &v->all;
    printf("%s: accuracy %.3f [%.3f, %.3f] (%zu/%zu), macro F1 %.3f, ECE %.3f\n\n", title,
           b->accuracy, b->acc_lo, b->acc_hi, b->correct, b->n, b->macro_f1, b->ece);
    printf("| source | n | accuracy | 95%% CI |\n|---|---:|---:|---|\n");
    for (size_t s = 0; s < v->n_sources; s++)
        printf("| %s | %zu | %.3f | [%.3f, %.3f] |\n", v->src[s].name, v->src[s].n,
               v->src[s].accuracy, v->src[s].ci.lo, v->src[s].ci.hi);
    printf("\n");
    cli_print_route_tables(b);
    printf("\n");
}

static void emit(const struct loco_route_eval *v, const char *protocol, const char *router,
                 bool json, bool *first)
{
    if (!json) {
        char title[160];
        snprintf(title, sizeof title, "%s, %s", router, protocol);
        print_eval(v, title);
        return;
    }
    char *text = loco_route_eval_json(v, protocol, router);
    printf("%s%s", *first ? "[\n" : ",\n", text ? text : "null");
    *first = false;
    free(text);
}

/* ---- the protocols --------------------------------------------------------------- */

struct pool {
    struct loco_route_item *it;
    size_t n;
    int32_t *y, *source, *fold;
    int32_t n_sources, n_labels;
    char sources[LOCO_EVAL_MAX_SOURCES][96];
    char labels[LOCO_CLASSIFIER_MAX_LABELS][LOCO_ROUTE_NAME_MAX];
};

static void pool_free(struct pool *p)
{
    loco_route_items_free(p->it, p->n);
    free(p->y);
    free(p->source);
    free(p->fold);
}

/* Labels (the registry's domains, then "base"), label and source of every item. */
static int pool_open(struct pool *p, const struct loco_registry *reg, const char *path)
{
    memset(p, 0, sizeof *p);
    if (loco_route_items_load(path, &p->it, &p->n) != LOCO_OK)
        return cli_fail("cannot read the pool");
    for (size_t d = 0; d < loco_registry_n_domains(reg) && p->n_labels < LOCO_ROUTE_MAX_DOMAINS;
         d++)
        snprintf(p->labels[p->n_labels++], LOCO_ROUTE_NAME_MAX, "%s",
                 loco_registry_domain_at(reg, d)->name);
    snprintf(p->labels[p->n_labels++], LOCO_ROUTE_NAME_MAX, "%s", LOCO_ROUTE_BASE);
    p->y = malloc(p->n * sizeof *p->y);
    p->source = malloc(p->n * sizeof *p->source);
    p->fold = malloc(p->n * sizeof *p->fold);
    if (!p->y || !p->source || !p->fold)
        return cli_fail("out of memory");
    for (size_t i = 0; i < p->n; i++) {
        const char *src = p->it[i].source[0] ? p->it[i].source : "(no source)";
        int32_t s = 0, l = 0;
        while (s < p->n_sources && strcmp(p->sources[s], src))
            s++;
        if (s == p->n_sources) {
            if (s == LOCO_EVAL_MAX_SOURCES) {
                fprintf(stderr, "loco router loso: more than %d sources\n", LOCO_EVAL_MAX_SOURCES);
                return 1;
            }
            snprintf(p->sources[p->n_sources++], sizeof p->sources[0], "%s", src);
        }
        while (l < p->n_labels && strcmp(p->labels[l], p->it[i].domain))
            l++;
        if (l == p->n_labels) {
            fprintf(stderr,
                    "loco router loso: %s: query %zu is labelled '%s', which is neither a "
                    "registry domain nor \"base\"\n",
                    path, i + 1, p->it[i].domain);
            return 1;
        }
        p->y[i] = l;
        p->source[i] = s;
    }
    return 0;
}

/* The pool's labels first, in the registry's order, so every table lists
 * the domains the same way. */
static void seed_labels(struct loco_route_eval *v, const struct pool *p)
{
    for (int32_t l = 0; l < p->n_labels; l++)
        snprintf(v->all.labels[l], sizeof v->all.labels[l], "%s", p->labels[l]);
    v->all.n_labels = (size_t)p->n_labels;
}

/* Scores of held-out logits, each group's rows at the temperature fitted
 * without them. */
static int score_logits(const struct pool *p, const double *lg, const int32_t *group,
                        int32_t n_groups, struct loco_route_eval *v, double *t_all)
{
    double *t = malloc((size_t)n_groups * sizeof *t);
    if (!t)
        return cli_fail("out of memory");
    loco_route_temperatures(lg, p->y, group, p->n, p->n_labels, n_groups, t, t_all);
    memset(v, 0, sizeof *v);
    seed_labels(v, p);
    int rc = 0;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const double *z = lg + i * (size_t)p->n_labels;
        double tg = t[group[i]], mx = -INFINITY, sum = 0;
        int32_t best = 0;
        for (int32_t l = 0; l < p->n_labels; l++) {
            mx = z[l] / tg > mx ? z[l] / tg : mx;
            if (z[l] > z[best])
                best = l;
        }
        for (int32_t l = 0; l < p->n_labels; l++)
            sum += exp(z[l] / tg - mx);
        double conf = exp(z[best] / tg - mx) / sum;
        if (loco_route_eval_add(v, p->sources[p->source[i]], p->labels[p->y[i]], p->labels[best],
                                conf) != LOCO_OK)
            rc = cli_fail("cannot score");
    }
    loco_route_eval_finish(v);
    free(t);
    return rc;
}

struct loso_opts {
    struct loco_route_features f;
    struct loco_classifier_params cp;
    int32_t folds;
    const char *cache, *out;
    bool json, by_source;
};

static int loso_classifier(struct cli_engine *e, const struct loco_registry *reg,
                           const struct pool *p, const struct loso_opts *o)
{
    int32_t C = loco_model_hparams(e->model)->n_embd;
    int32_t dim = loco_route_features_dim(&o->f, C);
    struct loco_classifier_params cp = o->cp;
    cp.n_dense = loco_route_features_dense(&o->f, C);
    if (o->by_source)
        cp.source = p->source;
    float *X = pool_features(e, reg, &o->f, p->it, p->n, o->cache);
    double *lg = malloc(p->n * (size_t)p->n_labels * sizeof *lg);
    struct loco_route_eval *v = malloc(2 * sizeof *v);
    int rc = X && lg && v ? 0 : cli_fail("out of memory");
    double t_loso = 1, t_pool = 1, t0 = loco_time_ms();
    bool first = true;
    if (!rc && loco_route_crossval(X, p->y, p->source, p->n, dim, p->n_sources, p->n_labels, &cp,
                                   lg) != LOCO_OK)
        rc = cli_fail("leave-one-source-out failed");
    if (!rc)
        rc = score_logits(p, lg, p->source, p->n_sources, &v[0], &t_loso);
    double t1 = loco_time_ms();
    loco_route_folds(p->n, o->folds, 1, p->fold);
    if (!rc &&
        loco_route_crossval(X, p->y, p->fold, p->n, dim, o->folds, p->n_labels, &cp, lg) != LOCO_OK)
        rc = cli_fail("k-fold failed");
    if (!rc)
        rc = score_logits(p, lg, p->fold, o->folds, &v[1], &t_pool);
    if (!rc) {
        fprintf(stderr,
                "loso: %d sources in %.1f s; in-pool: %d folds in %.1f s; "
                "%d features (%d hidden-state)\n",
                p->n_sources, (t1 - t0) / 1e3, o->folds, (loco_time_ms() - t1) / 1e3, dim,
                cp.n_dense);
        emit(&v[0], "leave-one-source-out", "classifier", o->json, &first);
        char title[64];
        snprintf(title, sizeof title, "in-pool %d-fold", o->folds);
        emit(&v[1], title, "classifier", o->json, &first);
        if (o->json)
            printf("\n]\n");
    }
    if (!rc && o->out) {
        struct loco_classifier c;
        const char *names[LOCO_CLASSIFIER_MAX_LABELS];
        for (int32_t l = 0; l < p->n_labels; l++)
            names[l] = p->labels[l];
        if (loco_classifier_fit(X, p->y, p->n, dim, names, p->n_labels, &cp, &c) != LOCO_OK)
            rc = cli_fail("cannot fit the classifier");
        else {
            c.features = o->f;
            c.temperature = t_loso;
            loco_model_sha256(e->model, c.model_sha256);
            if (loco_classifier_save(&c, o->out) != LOCO_OK)
                rc = cli_fail("cannot write the classifier");
            else
                fprintf(stderr,
                        "classifier: %s (%zu queries, training accuracy %.3f, "
                        "temperature %.3f from the held-out sources)\n",
                        o->out, p->n, c.train_accuracy, t_loso);
            loco_classifier_free(&c);
        }
    }
    free(X);
    free(lg);
    free(v);
    return rc;
}

/* An untrained router: each item routed once, scored per source. */
static int loso_router(struct cli_engine *e, bool engine, const struct loco_registry *reg,
                       const char *name, const struct pool *p, bool json)
{
    struct loco_router_env env = {.reg = reg,
                                  .model = engine ? e->model : NULL,
                                  .n_threads = engine ? loco_context_params(e->ctx).n_threads : 0};
    struct loco_router *r = loco_router_open(&env, name);
    struct loco_route_eval *v = calloc(1, sizeof *v);
    struct loco_route_decision *d = malloc(sizeof *d);
    int rc = r && v && d ? 0 : cli_fail("cannot open the router");
    if (v)
        seed_labels(v, p);
    for (size_t i = 0; i < p->n && !rc; i++)
        if (loco_route(r, p->it[i].query, d) != LOCO_OK ||
            loco_route_eval_add(v, p->sources[p->source[i]], p->it[i].domain, d->domain,
                                d->confidence) != LOCO_OK)
            rc = cli_fail("routing failed");
    if (!rc) {
        loco_route_eval_finish(v);
        bool first = true;
        if (!json)
            printf("(%s is not trained: every source is unseen by a fit, but its rules were "
                   "written with the pool in view)\n\n",
                   name);
        emit(v, "per source (untrained)", name, json, &first);
        if (json)
            printf("\n]\n");
    }
    free(v);
    free(d);
    loco_router_close(r);
    return rc;
}

static bool parse_tokens(const char *v, struct loco_route_features *f)
{
    char *end;
    long h = strtol(v, &end, 10), t = *end == ',' ? strtol(end + 1, &end, 10) : -1;
    if (*end || h < 1 || h > 1024 || t < 0 || t > 1024) {
        cli_errorf("--tokens: '%s' is not H,T (first and last tokens, 1..1024 and 0..1024)", v);
        return false;
    }
    f->head_tokens = (int32_t)h;
    f->tail_tokens = (int32_t)t;
    return true;
}

bool cmd_router_features_finish(struct loco_route_features *f, const char *layers,
                                const char *tokens)
{
    if (layers && loco_route_features_parse_layers(f, layers, 0) != LOCO_OK) {
        cli_errorf("--layers: %s", loco_error_message());
        return false;
    }
    return !tokens || parse_tokens(tokens, f);
}

int cmd_router_loso(int argc, char **argv)
{
    struct cli_engine_opts eo;
    cli_engine_defaults(&eo);
    struct loso_opts o = {.f = loco_route_features_default(),
                          .cp = loco_classifier_default_params(),
                          .folds = 5,
                          .by_source = true};
    const char *data = NULL, *registry = NULL, *router = "classifier", *layers = NULL,
               *tokens = NULL;
    bool by_label = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "data", &data, "FILE", "the labelled pool (scripts/make-route-data.py)"),
        CLI_OPT_STRING(0, "router", &router, "NAME",
                       "classifier (default) or any router of `loco route --list`"),
        ROUTER_FEATURE_OPTIONS(&o.f, &o.cp, &layers, &tokens),
        CLI_OPT_FLAG(0, "by-label", &by_label,
                     "weigh labels the same in the fit, not every source of a\n"
                     "label the same (the default)"),
        CLI_OPT_INT(0, "folds", &o.folds, "K", 2, 100, "in-pool folds (default 5)"),
        CLI_OPT_STRING(0, "cache", &o.cache, "FILE",
                       "keep hidden-state features here and reuse them"),
        CLI_OPT_STRING(0, "out", &o.out, "FILE",
                       "then train on the whole pool and write the classifier"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &o.json, "the results as JSON"),
        CLI_ENGINE_MODEL_OPTIONS(&eo),
        CLI_OPT_END(),
    };
    struct cli_command c = {"router loso", loso_usage, NULL, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    o.by_source = !by_label;
    if (!cmd_router_features_finish(&o.f, layers, tokens))
        return 2;
    if (!data) {
        fprintf(stderr, "loco router loso: give the labelled pool with --data FILE\n");
        return 2;
    }
    struct loco_registry *reg = cli_registry_load(registry);
    if (!reg)
        return 1;
    o.f.n_keyword = o.f.kw_scale > 0 ? loco_route_features_keyword_dims(reg) : 0;
    struct pool p;
    int rc = pool_open(&p, reg, data);
    bool classifier = !strcmp(router, "classifier");
    bool engine = !rc && (classifier || loco_router_needs_model(router));
    struct cli_engine e;
    bool opened = engine && cli_engine_open(&e, &eo);
    if (engine && !opened)
        rc = 1;
    if (!rc && classifier)
        rc = loso_classifier(&e, reg, &p, &o);
    else if (!rc)
        rc = loso_router(&e, engine, reg, router, &p, o.json);
    if (opened)
        cli_engine_close(&e);
    pool_free(&p);
    loco_registry_free(reg);
    return rc;
}
