/*
 * cmd-router.c - `loco router train|calibrate`: fit the classifier router
 * on labelled queries (the registry's examples and JSONL files) and fit its
 * temperature on held-out queries.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-engine.h"
#include "cmd-router-loso.h"
#include "commands.h"
#include "loco/registry.h"
#include "loco/route-eval.h"
#include "loco/router.h"

#define MAX_DATA 16

static void router_help(FILE *out)
{
    fprintf(out,
            "usage: loco router train [--data FILE.jsonl ...] [--dev FILE.jsonl] [options]\n"
            "       loco router loso --data POOL.jsonl [--router NAME] [options]\n"
            "       loco router calibrate --data FILE.jsonl [options]\n"
            "       loco router calibrate --router confidence:NAME --data FILE.jsonl\n\n"
            "train fits the classifier router: each labelled query's features are early-exit\n"
            "hidden states of the base model and hashed words (loco/route-eval.h), and a\n"
            "multinomial logistic regression maps them to the registry's domains and \"base\".\n"
            "Queries come from the registry's example queries (label: the adapter's domain)\n"
            "and from JSONL files with \"query\" and \"domain\" (scripts/make-route-data.py\n"
            "writes the pool). loso measures a router source by source (loco router loso\n"
            "--help). With --dev, the\n"
            "temperature is fitted on those held-out queries. calibrate fits the temperature\n"
            "of an existing classifier. Both report accuracy and expected calibration error.\n"
            "With --router confidence:NAME, calibrate chooses the confidence and margin\n"
            "thresholds below which router NAME's choice gives way to the base model: the\n"
            "pair with the lowest cost on the queries (a wrong specialist 1, the base model\n"
            "instead of the right specialist 0.5), kept in %s beside the registry.\n\n"
            "  --data FILE       labelled queries (repeatable)\n"
            "  --no-examples     leave out the registry's example queries\n"
            "  --dev FILE        held-out queries for the temperature (train)\n"
            "  --out FILE        where to write (default: %s beside the registry,\n"
            "                    or $LOCO_ROUTER_CLASSIFIER)\n"
            "  --registry FILE   this registry file alone\n"
            "  --layers L1,L2    hidden states after these many layers (default none)\n"
            "  --tokens H,T      read the query's first H and last T tokens (default 24,8)\n"
            "  --hash-dim N      hashed lexical buckets (default 8192; 0: none)\n"
            "  --lex-scale X     length of the lexical part (default 8)\n"
            "  --keywords X      weight of the keyword router's view (default 2; 0: none)\n"
            "  --l2 X            weight penalty (default 1e-3)\n"
            "  --epochs N        passes over the data (default 20)\n"
            "  --lr X            Adam step size (default 0.01)\n"
            "  --router NAME     calibrate: confidence:NAME for the thresholds\n",
            LOCO_CONFIDENCE_FILE, LOCO_CLASSIFIER_FILE);
    cli_engine_help(out);
}

struct labelled {
    char **query;
    int32_t *y;
    size_t n, cap;
};

static int add_query(struct labelled *L, const char *q, int32_t y)
{
    if (L->n == L->cap) {
        size_t nc = L->cap ? 2 * L->cap : 256;
        char **nq = realloc(L->query, nc * sizeof *nq);
        if (!nq)
            return -1;
        L->query = nq;
        int32_t *ny = realloc(L->y, nc * sizeof *ny);
        if (!ny)
            return -1;
        L->y = ny;
        L->cap = nc;
    }
    L->query[L->n] = strdup(q);
    if (!L->query[L->n])
        return -1;
    L->y[L->n++] = y;
    return 0;
}

static void labelled_free(struct labelled *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->query[i]);
    free(L->query);
    free(L->y);
}

static int label_of(char labels[][LOCO_ROUTE_NAME_MAX], int32_t n, const char *name)
{
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(labels[i], name))
            return i;
    return -1;
}

/* Read a JSONL file of labelled queries into L; unknown labels are an error. */
static int read_data(const char *path, char labels[][LOCO_ROUTE_NAME_MAX], int32_t n_labels,
                     struct labelled *L)
{
    struct loco_route_item *items;
    size_t n;
    if (loco_route_items_load(path, &items, &n) != LOCO_OK)
        return cli_fail("cannot read labelled queries");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int y = label_of(labels, n_labels, items[i].domain);
        if (y < 0) {
            fprintf(stderr, "loco router: %s: query %zu is labelled '%s', which is neither a "
                            "registry domain nor \"base\"\n", path, i + 1, items[i].domain);
            rc = 1;
        } else if (add_query(L, items[i].query, y)) {
            rc = cli_fail("out of memory");
        }
    }
    loco_route_items_free(items, n);
    return rc;
}

/* Features of every query as classifier `c` reads them (its features; none:
 * the format-1 mean final hidden state), with progress on stderr. */
static float *embed_all(struct cli_engine *e, const struct labelled *L,
                        const struct loco_classifier *c, const struct loco_registry *reg)
{
    int32_t threads = loco_context_params(e->ctx).n_threads, dim = c->dim;
    bool v2 = c->features.n_pool > 0 || c->features.hash_dim > 0 || c->features.n_keyword > 0;
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = LOCO_ROUTER_EMBED_TOKENS;
    cp.n_seq = 1;
    cp.n_batch = LOCO_ROUTER_EMBED_TOKENS;
    cp.n_threads = threads;
    struct loco_context *ctx = v2 ? NULL : loco_context_init(e->model, cp);
    struct loco_route_featurizer *z =
        v2 ? loco_route_featurizer_init(e->model, reg, &c->features, threads) : NULL;
    float *X = malloc(L->n * (size_t)dim * sizeof *X);
    if ((!ctx && !z) || !X) {
        loco_context_free(ctx);
        loco_route_featurizer_free(z);
        free(X);
        cli_fail("cannot compute features");
        return NULL;
    }
    double t0 = loco_time_ms();
    bool tty = isatty(STDERR_FILENO);
    for (size_t i = 0; i < L->n; i++) {
        float *x = X + i * (size_t)dim;
        int rc = z ? loco_route_featurize(z, L->query[i], x)
                   : loco_router_embed(ctx, e->model, L->query[i], x);
        if (rc != LOCO_OK) {
            cli_fail("cannot compute features");
            free(X);
            X = NULL;
            break;
        }
        if (tty || i + 1 == L->n)
            fprintf(stderr, "%sfeatures %zu/%zu  %.1f s", tty ? "\r" : "", i + 1, L->n,
                    (loco_time_ms() - t0) / 1e3);
    }
    fprintf(stderr, "\n");
    loco_context_free(ctx);
    loco_route_featurizer_free(z);
    return X;
}

/* Expected calibration error over 10 equal-width confidence bins, filled
 * one decision at a time (the classifier's and the wrapper's calibration
 * both report it). */
struct ece_bins {
    double conf[10], hit[10];
    size_t cnt[10], n;
};

static void ece_add(struct ece_bins *e, double confidence, bool correct)
{
    size_t bin = (size_t)(confidence * 10);
    bin = bin > 9 ? 9 : bin;
    e->cnt[bin]++;
    e->conf[bin] += confidence;
    e->hit[bin] += correct;
    e->n++;
}

static double ece_value(const struct ece_bins *e)
{
    double ece = 0;
    for (int b = 0; b < 10; b++)
        if (e->cnt[b]) {
            double gap = (e->hit[b] - e->conf[b]) / (double)e->cnt[b];
            ece += (double)e->cnt[b] / (double)e->n * (gap < 0 ? -gap : gap);
        }
    return ece;
}

/* Accuracy and ECE of c on X, y. */
static void measure(const struct loco_classifier *c, const float *X, const int32_t *y, size_t n,
                    double *acc, double *ece)
{
    double p[LOCO_CLASSIFIER_MAX_LABELS];
    struct ece_bins e = {0};
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        loco_classifier_probs(c, X + i * (size_t)c->dim, p);
        int32_t best = 0;
        for (int32_t l = 1; l < c->n_labels; l++)
            if (p[l] > p[best])
                best = l;
        ece_add(&e, p[best], best == y[i]);
        right += best == y[i];
    }
    *acc = n ? (double)right / (double)n : 0;
    *ece = ece_value(&e);
}

/* ECE of decisions d (after thresholds c, when given) against the labels. */
static double decisions_ece(const struct loco_route_decision *d, const struct loco_route_item *it,
                            size_t n, const struct loco_confidence *c)
{
    struct ece_bins e = {0};
    for (size_t i = 0; i < n; i++) {
        struct loco_route_decision x = d[i];
        if (c)
            loco_confidence_apply(c, &x);
        ece_add(&e, x.confidence, !strcmp(x.domain, it[i].domain));
    }
    return ece_value(&e);
}

/* Choose the confidence wrapper's thresholds for `wrapper` (confidence:NAME)
 * on the labelled queries: route each once with NAME, then try every
 * threshold x margin pair on the decisions. */
static int calibrate_confidence(const struct cli_engine_opts *o, const char *wrapper,
                                const char *registry, const char *const *data, size_t n_data)
{
    const char *inner = wrapper + strlen(LOCO_CONFIDENCE_PREFIX);
    struct loco_registry *reg = cli_registry_load(registry);
    if (!reg)
        return 1;
    struct cli_engine e;
    bool engine = loco_router_needs_model(inner);
    if (engine && !cli_engine_open(&e, o)) {
        loco_registry_free(reg);
        return 1;
    }
    struct loco_router_env env = {.reg = reg, .model = engine ? e.model : NULL};
    struct loco_router *r = loco_router_open(&env, inner);
    struct loco_route_item *all = NULL;
    size_t n_all = 0;
    int status = r ? 0 : cli_fail("cannot open the router");
    for (size_t f = 0; f < n_data && !status; f++) {
        struct loco_route_item *items;
        size_t n;
        if (loco_route_items_load(data[f], &items, &n) != LOCO_OK) {
            status = cli_fail("cannot read labelled queries");
            break;
        }
        struct loco_route_item *grown = realloc(all, (n_all + n) * sizeof *grown);
        if (!grown) {
            loco_route_items_free(items, n);
            status = cli_fail("out of memory");
            break;
        }
        all = grown;
        memcpy(all + n_all, items, n * sizeof *items);
        n_all += n;
        free(items); /* the strings now belong to `all` */
    }
    struct loco_route_decision *d = status ? NULL : calloc(n_all, sizeof *d);
    if (!status && !d)
        status = cli_fail("out of memory");
    for (size_t i = 0; i < n_all && !status; i++)
        if (loco_route(r, all[i].query, &d[i]) != LOCO_OK)
            status = cli_fail("routing failed");
    struct loco_confidence best = loco_confidence_default();
    double best_cost = INFINITY, base_cost = 0;
    if (!status) {
        for (size_t i = 0; i < n_all; i++)
            base_cost += loco_confidence_cost(all[i].domain, d[i].domain);
        printf("router %s on %zu queries: cost %.3f per query without the wrapper\n", inner,
               n_all, base_cost / (double)n_all);
        printf("| threshold | margin | cost/query | accuracy | sent to base |\n"
               "|---:|---:|---:|---:|---:|\n");
        static const double margins[] = {0, 0.05, 0.1, 0.2, 0.3};
        for (int t = 0; t <= 19; t++)
            for (size_t m = 0; m < sizeof margins / sizeof margins[0]; m++) {
                struct loco_confidence c = {t * 0.05, margins[m]};
                double cost = 0;
                size_t right = 0, to_base = 0;
                for (size_t i = 0; i < n_all; i++) {
                    struct loco_route_decision x = d[i];
                    loco_confidence_apply(&c, &x);
                    cost += loco_confidence_cost(all[i].domain, x.domain);
                    right += !strcmp(all[i].domain, x.domain);
                    to_base += strcmp(d[i].domain, x.domain) != 0;
                }
                if (m == 0 && t % 2 == 0)
                    printf("| %.2f | %.2f | %.3f | %.3f | %zu |\n", c.threshold, c.margin,
                           cost / (double)n_all, (double)right / (double)n_all, to_base);
                if (cost < best_cost - 1e-12) { /* ties: the lowest thresholds */
                    best_cost = cost;
                    best = c;
                }
            }
        printf("chosen: threshold %.2f, margin %.2f: cost %.3f per query (%.3f without); "
               "expected calibration error %.3f (%.3f without)\n",
               best.threshold, best.margin, best_cost / (double)n_all, base_cost / (double)n_all,
               decisions_ece(d, all, n_all, &best), decisions_ece(d, all, n_all, NULL));
        char path[4096];
        if (loco_confidence_set(reg, inner, &best, n_all, best_cost / (double)n_all) != LOCO_OK ||
            loco_confidence_path(reg, path, sizeof path) != LOCO_OK)
            status = cli_fail("cannot write the thresholds");
        else
            printf("thresholds: %s (router %s)\n", path, wrapper);
    }
    free(d);
    loco_route_items_free(all, n_all);
    loco_router_close(r);
    if (engine)
        cli_engine_close(&e);
    loco_registry_free(reg);
    return status;
}

int cmd_router(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        router_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "loso"))
        return cmd_router_loso(argc, argv);
    bool train = !strcmp(verb, "train");
    if (!train && strcmp(verb, "calibrate")) {
        fprintf(stderr, "loco router: unknown subcommand '%s' (train, calibrate or loso)\n", verb);
        return 2;
    }
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    const char *data[MAX_DATA], *dev = NULL, *out = NULL, *registry = NULL, *router = NULL, *v;
    size_t n_data = 0;
    bool examples = train;
    struct loco_classifier_params cp = loco_classifier_default_params();
    struct loco_route_features feat = loco_route_features_default();
    for (int i = 2; i < argc; i++) {
        int taken;
        if (cli_is_help(argv[i])) {
            router_help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--no-examples"))
            examples = false;
        else if (cli_opt(argc, argv, &i, "--data", &v)) {
            if (n_data == MAX_DATA) {
                fprintf(stderr, "loco router: at most %d --data\n", MAX_DATA);
                return 2;
            }
            data[n_data++] = v;
        } else if (cli_opt(argc, argv, &i, "--dev", &v))
            dev = v;
        else if (cli_opt(argc, argv, &i, "--out", &v))
            out = v;
        else if (cli_opt(argc, argv, &i, "--registry", &v))
            registry = v;
        else if (cli_opt(argc, argv, &i, "--router", &v))
            router = v;
        else if ((taken = cmd_router_features_flag(&feat, &cp, argc, argv, &i)) != 0) {
            if (taken < 0)
                return 2;
        } else {
            int r = cli_engine_flag(&o, argc, argv, &i);
            if (r < 0)
                return 2;
            if (r == 0) {
                fprintf(stderr, "loco router: unknown option '%s' (see loco router --help)\n",
                        argv[i]);
                return 2;
            }
        }
    }
    if (!train && (n_data == 0 || dev)) {
        fprintf(stderr, "loco router calibrate: give the held-out queries with --data FILE\n");
        return 2;
    }
    if (router && (train || strncmp(router, LOCO_CONFIDENCE_PREFIX,
                                    strlen(LOCO_CONFIDENCE_PREFIX)))) {
        fprintf(stderr, "loco router: --router takes confidence:NAME, with calibrate\n");
        return 2;
    }
    if (router)
        return calibrate_confidence(&o, router, registry, data, n_data);
    struct loco_registry *reg = cli_registry_load(registry);
    if (!reg)
        return 1;
    char path[4096];
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else if (loco_classifier_path(reg, path, sizeof path) != LOCO_OK) {
        loco_registry_free(reg);
        return cli_fail("no place for the classifier");
    }
    /* labels: the registry's domains, then "base" */
    char labels[LOCO_CLASSIFIER_MAX_LABELS][LOCO_ROUTE_NAME_MAX];
    const char *label_ptr[LOCO_CLASSIFIER_MAX_LABELS];
    int32_t n_labels = 0;
    for (size_t d = 0; d < loco_registry_n_domains(reg) && n_labels < LOCO_ROUTE_MAX_DOMAINS; d++)
        snprintf(labels[n_labels++], sizeof labels[0], "%s", loco_registry_domain_at(reg, d)->name);
    snprintf(labels[n_labels++], sizeof labels[0], "%s", LOCO_ROUTE_BASE);
    for (int32_t l = 0; l < n_labels; l++)
        label_ptr[l] = labels[l];

    struct labelled L = {0}, D = {0};
    int status = 0;
    if (examples)
        for (size_t a = 0; a < loco_registry_n_adapters(reg) && !status; a++) {
            const struct loco_registry_adapter *ad = loco_registry_adapter_at(reg, a);
            int y = label_of(labels, n_labels, ad->domain);
            for (size_t k = 0; k < ad->examples.n && y >= 0 && !status; k++)
                if (add_query(&L, ad->examples.v[k], y))
                    status = cli_fail("out of memory");
        }
    for (size_t f = 0; f < n_data && !status; f++)
        status = read_data(data[f], labels, n_labels, train ? &L : &D);
    if (!status && dev)
        status = read_data(dev, labels, n_labels, &D);
    if (!status && train && L.n == 0) {
        fprintf(stderr, "loco router train: no labelled queries (the registry has no examples; "
                        "give --data FILE)\n");
        status = 2;
    }
    struct cli_engine e;
    bool open = !status && cli_engine_open(&e, &o);
    if (!status && !open)
        status = 1;
    struct loco_classifier c = {0};
    float *X = NULL, *XD = NULL;
    int32_t n_embd = open ? loco_model_hparams(e.model)->n_embd : 0;
    if (!status && train) {
        feat.n_keyword = feat.kw_scale > 0 ? loco_route_features_keyword_dims(reg) : 0;
        struct loco_classifier spec = {.features = feat,
                                       .dim = loco_route_features_dim(&feat, n_embd)};
        cp.n_dense = loco_route_features_dense(&feat, n_embd);
        fprintf(stderr, "loco router train: %zu labelled queries, %d labels, %d features\n", L.n,
                n_labels, spec.dim);
        X = embed_all(&e, &L, &spec, reg);
        if (!X)
            status = 1;
        else if (loco_classifier_fit(X, L.y, L.n, spec.dim, label_ptr, n_labels, &cp, &c) !=
                 LOCO_OK)
            status = cli_fail("cannot fit the classifier");
        else {
            c.features = feat;
            loco_model_sha256(e.model, c.model_sha256);
        }
        if (!status)
            printf("trained on %zu queries: training accuracy %.3f\n", L.n, c.train_accuracy);
    } else if (!status) {
        if (loco_classifier_load(path, &c) != LOCO_OK)
            status = cli_fail("cannot read the classifier");
        else if (c.dim != (c.features.n_pool > 0 || c.features.hash_dim > 0 ||
                                   c.features.n_keyword > 0
                               ? loco_route_features_dim(&c.features, n_embd)
                               : n_embd))
            status = cli_fail("the classifier was made for another model: retrain it");
    }
    if (!status && D.n) {
        XD = embed_all(&e, &D, &c, reg);
        double acc0, ece0, acc1, ece1;
        if (!XD)
            status = 1;
        else {
            measure(&c, XD, D.y, D.n, &acc0, &ece0);
            if (loco_classifier_calibrate(&c, XD, D.y, D.n) != LOCO_OK)
                status = cli_fail("calibration failed");
            measure(&c, XD, D.y, D.n, &acc1, &ece1);
            printf("held-out %zu queries: accuracy %.3f; temperature %.3f: ECE %.3f -> %.3f\n",
                   D.n, acc1, c.temperature, ece0, ece1);
        }
    }
    if (!status) {
        if (loco_classifier_save(&c, path) != LOCO_OK)
            status = cli_fail("cannot write the classifier");
        else
            printf("classifier: %s\n", path);
    }
    free(X);
    free(XD);
    loco_classifier_free(&c);
    if (open)
        cli_engine_close(&e);
    labelled_free(&L);
    labelled_free(&D);
    loco_registry_free(reg);
    return status;
}
