/*
 * cmd-router.c - `loco router train|calibrate`: fit the classifier router
 * on labelled queries (the registry's examples and JSONL files) and fit its
 * temperature on held-out queries.
 */
#include <cjson/cJSON.h>
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

static const char router_usage[] =
    "usage: loco router train [--data FILE.jsonl ...] [--dev FILE.jsonl] [options]\n"
    "       loco router loso --data POOL.jsonl [--router NAME] [options]\n"
    "       loco router calibrate --data FILE.jsonl [options]\n"
    "       loco router calibrate --router confidence:NAME --data FILE.jsonl\n\n";

static const char train_usage[] =
    "usage: loco router train [--data FILE.jsonl ...] [--dev FILE.jsonl] [options]\n\n"
    "Fits the classifier router: each labelled query's features are early-exit\n"
    "hidden states of the base model and hashed words (loco/route-eval.h), and a\n"
    "multinomial logistic regression maps them to the registry's domains and \"base\".\n"
    "Queries come from the registry's example queries (label: the adapter's domain)\n"
    "and from JSONL files with \"query\" and \"domain\" (scripts/make-route-data.py\n"
    "writes the pool). With --dev, the temperature is fitted on those held-out\n"
    "queries. Reports accuracy and expected calibration error.\n\n"
    "options:\n";

static const char calibrate_usage[] =
    "usage: loco router calibrate --data FILE.jsonl [options]\n"
    "       loco router calibrate --router confidence:NAME --data FILE.jsonl\n\n"
    "Fits the temperature of an existing classifier on held-out queries and reports\n"
    "accuracy and expected calibration error. With --router confidence:NAME, chooses\n"
    "the confidence and margin thresholds below which router NAME's choice gives way\n"
    "to the base model: the pair with the lowest cost on the queries (a wrong\n"
    "specialist 1, the base model instead of the right specialist 0.5), kept "
    "in\n" LOCO_CONFIDENCE_FILE " beside the registry.\n\n"
    "options:\n";

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
            fprintf(stderr,
                    "loco router: %s: query %zu is labelled '%s', which is neither a "
                    "registry domain nor \"base\"\n",
                    path, i + 1, items[i].domain);
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

/* Print a JSON document and free it; 0, or 1 when it could not be built. */
static int print_json(cJSON *o)
{
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return cli_fail("out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

/* `router calibrate --router confidence:NAME --json`: every threshold x
 * margin pair tried, and the chosen one. */
static int print_confidence_json(const char *inner, size_t n,
                                 const struct loco_confidence_search *cs, const char *path)
{
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(o, "pairs");
    cJSON_AddStringToObject(o, "router", inner);
    cJSON_AddNumberToObject(o, "n", (double)n);
    cJSON_AddNumberToObject(o, "cost_without", cs->base_cost);
    cJSON_AddNumberToObject(o, "ece_without", cs->base_ece);
    for (int i = 0; i < LOCO_CONFIDENCE_N_THRESHOLDS * LOCO_CONFIDENCE_N_MARGINS; i++) {
        const struct loco_confidence_row *row = &cs->rows[i];
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "threshold", row->c.threshold);
        cJSON_AddNumberToObject(r, "margin", row->c.margin);
        cJSON_AddNumberToObject(r, "cost", row->cost);
        cJSON_AddNumberToObject(r, "accuracy", row->accuracy);
        cJSON_AddNumberToObject(r, "sent_to_base", (double)row->to_base);
        cJSON_AddItemToArray(rows, r);
    }
    cJSON *best = cJSON_AddObjectToObject(o, "chosen");
    cJSON_AddNumberToObject(best, "threshold", cs->best.threshold);
    cJSON_AddNumberToObject(best, "margin", cs->best.margin);
    cJSON_AddNumberToObject(best, "cost", cs->best_cost);
    cJSON_AddNumberToObject(best, "ece", cs->ece);
    cJSON_AddStringToObject(o, "thresholds_file", path);
    return print_json(o);
}

/* Choose the confidence wrapper's thresholds for `wrapper` (confidence:NAME)
 * on the labelled queries: route each once with NAME, then try every
 * threshold x margin pair on the decisions. */
static int calibrate_confidence(const struct cli_engine_opts *o, const char *wrapper,
                                const char *registry, const char *const *data, size_t n_data,
                                bool json)
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
    struct loco_router_env env = {.reg = reg,
                                  .model = engine ? e.model : NULL,
                                  .n_threads = engine ? loco_context_params(e.ctx).n_threads : 0};
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
    struct loco_confidence_search *cs = status ? NULL : malloc(sizeof *cs);
    if (!status && (!cs || loco_confidence_search(d, all, n_all, cs) != LOCO_OK))
        status = cli_fail("cannot choose the thresholds");
    if (!status && !json) {
        printf("router %s on %zu queries: cost %.3f per query without the wrapper\n", inner, n_all,
               cs->base_cost);
        printf("| threshold | margin | cost/query | accuracy | sent to base |\n"
               "|---:|---:|---:|---:|---:|\n");
        for (int t = 0; t < LOCO_CONFIDENCE_N_THRESHOLDS; t += 2) { /* margin 0, every 0.1 */
            const struct loco_confidence_row *row = &cs->rows[t * LOCO_CONFIDENCE_N_MARGINS];
            printf("| %.2f | %.2f | %.3f | %.3f | %zu |\n", row->c.threshold, row->c.margin,
                   row->cost, row->accuracy, row->to_base);
        }
        printf("chosen: threshold %.2f, margin %.2f: cost %.3f per query (%.3f without); "
               "expected calibration error %.3f (%.3f without)\n",
               cs->best.threshold, cs->best.margin, cs->best_cost, cs->base_cost, cs->ece,
               cs->base_ece);
    }
    if (!status) {
        char path[4096];
        if (loco_confidence_set(reg, inner, &cs->best, n_all, cs->best_cost) != LOCO_OK ||
            loco_confidence_path(reg, path, sizeof path) != LOCO_OK)
            status = cli_fail("cannot write the thresholds");
        else if (!json)
            printf("thresholds: %s (router %s)\n", path, wrapper);
        else
            status = print_confidence_json(inner, n_all, cs, path);
    }
    free(cs);
    free(d);
    loco_route_items_free(all, n_all);
    loco_router_close(r);
    if (engine)
        cli_engine_close(&e);
    loco_registry_free(reg);
    return status;
}

/* train (train true) or calibrate: the options, then the fit. */
static int router_fit(bool train, int argc, char **argv)
{
    struct cli_engine_opts o;
    cli_engine_defaults(&o);
    const char *data[MAX_DATA], *dev = NULL, *out = NULL, *registry = NULL, *router = NULL;
    const char *layers = NULL, *tokens = NULL;
    struct cli_strs data_list = {data, 0, MAX_DATA};
    bool no_examples = false, json = false;
    struct loco_classifier_params cp = loco_classifier_default_params();
    struct loco_route_features feat = loco_route_features_default();
    struct cli_option train_opts[] = {
        CLI_OPT_LIST(0, "data", &data_list, "FILE", "labelled queries (repeatable)"),
        CLI_OPT_FLAG(0, "no-examples", &no_examples, "leave out the registry's example queries"),
        CLI_OPT_STRING(0, "dev", &dev, "FILE", "held-out queries for the temperature"),
        CLI_OPT_STRING(0, "out", &out, "FILE",
                       "where to write (default: " LOCO_CLASSIFIER_FILE " beside the\n"
                       "registry, or $LOCO_ROUTER_CLASSIFIER)"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable summary on stdout"),
        ROUTER_FEATURE_OPTIONS(&feat, &cp, &layers, &tokens),
        CLI_ENGINE_MODEL_OPTIONS(&o),
        CLI_OPT_END(),
    };
    struct cli_option calibrate_opts[] = {
        CLI_OPT_LIST(0, "data", &data_list, "FILE", "held-out labelled queries (repeatable)"),
        CLI_OPT_STRING(0, "router", &router, "confidence:NAME",
                       "choose the thresholds of this confidence router"),
        CLI_OPT_STRING(0, "out", &out, "FILE",
                       "the classifier to calibrate (default: " LOCO_CLASSIFIER_FILE "\n"
                       "beside the registry, or $LOCO_ROUTER_CLASSIFIER)"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable summary on stdout"),
        CLI_ENGINE_MODEL_OPTIONS(&o),
        CLI_OPT_END(),
    };
    struct cli_command cmd = {train ? "router train" : "router calibrate",
                              train ? train_usage : calibrate_usage,
                              NULL,
                              train ? train_opts : calibrate_opts,
                              0,
                              0};
    int n_args = cli_opt_parse(&cmd, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    size_t n_data = data_list.n;
    bool examples = train && !no_examples;
    if (!cmd_router_features_finish(&feat, layers, tokens))
        return 2;
    if (!train && (n_data == 0 || dev)) {
        fprintf(stderr, "loco router calibrate: give the held-out queries with --data FILE\n");
        return 2;
    }
    if (router && strncmp(router, LOCO_CONFIDENCE_PREFIX, strlen(LOCO_CONFIDENCE_PREFIX))) {
        fprintf(stderr, "loco router calibrate: --router takes confidence:NAME\n");
        return 2;
    }
    if (router)
        return calibrate_confidence(&o, router, registry, data, n_data, json);
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
    cJSON *summary = json ? cJSON_CreateObject() : NULL; /* --json: printed at the end */
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
        if (!status && json) {
            cJSON_AddNumberToObject(summary, "n_train", (double)L.n);
            cJSON_AddNumberToObject(summary, "train_accuracy", c.train_accuracy);
        } else if (!status)
            printf("trained on %zu queries: training accuracy %.3f\n", L.n, c.train_accuracy);
    } else if (!status) {
        if (loco_classifier_load(path, &c) != LOCO_OK)
            status = cli_fail("cannot read the classifier");
        else if (c.dim !=
                 (c.features.n_pool > 0 || c.features.hash_dim > 0 || c.features.n_keyword > 0
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
            if (loco_classifier_measure(&c, XD, D.y, D.n, &acc0, &ece0) != LOCO_OK ||
                loco_classifier_calibrate(&c, XD, D.y, D.n) != LOCO_OK ||
                loco_classifier_measure(&c, XD, D.y, D.n, &acc1, &ece1) != LOCO_OK)
                status = cli_fail("calibration failed");
            else if (json) {
                cJSON *h = cJSON_AddObjectToObject(summary, "held_out");
                cJSON_AddNumberToObject(h, "n", (double)D.n);
                cJSON_AddNumberToObject(h, "accuracy", acc1);
                cJSON_AddNumberToObject(h, "temperature", c.temperature);
                cJSON_AddNumberToObject(h, "ece_before", ece0);
                cJSON_AddNumberToObject(h, "ece_after", ece1);
            } else
                printf("held-out %zu queries: accuracy %.3f; temperature %.3f: ECE %.3f -> "
                       "%.3f\n",
                       D.n, acc1, c.temperature, ece0, ece1);
        }
    }
    if (!status) {
        if (loco_classifier_save(&c, path) != LOCO_OK)
            status = cli_fail("cannot write the classifier");
        else if (!json)
            printf("classifier: %s\n", path);
        else {
            cJSON_AddStringToObject(summary, "classifier", path);
            status = print_json(summary);
            summary = NULL;
        }
    }
    cJSON_Delete(summary);
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

static int router_train(int argc, char **argv)
{
    return router_fit(true, argc, argv);
}

static int router_calibrate(int argc, char **argv)
{
    return router_fit(false, argc, argv);
}

int cmd_router(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"train", router_train, "fit the classifier router on labelled queries"},
        {"calibrate", router_calibrate,
         "fit a classifier's temperature, or a confidence router's thresholds"},
        {"loso", cmd_router_loso, "score a router on sources it has never seen"},
        {NULL, NULL, NULL},
    };
    return cli_opt_dispatch("router", router_usage, NULL, subs, argc, argv);
}
