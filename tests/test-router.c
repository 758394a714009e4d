/*
 * test-router.c - routers: the table, the keyword router's scores,
 * probabilities, margin rule and reasons, which adapter serves a domain
 * (active, then best candidate, then none), the routing benchmark's
 * metrics on hand-counted cases, and malformed benchmark files; the
 * classifier router: fitting, calibration, its file, the hidden-state
 * features (against token-by-token decoding) and routing with it; the
 * learned router, which learns from the feedback in the exchange log: no
 * feedback decides as the keyword router, feedback turns a misrouted query
 * around, and a replayed stream of labelled queries raises its accuracy on
 * held-out queries above the keyword router's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/exchlog.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/registry.h"
#include "loco/route-eval.h"
#include "loco/router.h"
#include "loco/tokenizer.h"
#include "testutil.h"

#define SHA_A "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_B "2222222222222222222222222222222222222222222222222222222222222222"

static char dir[64];
static char reg_path[128], log_path[128];

static void adapter_yaml(char *buf, size_t cap, const char *name, const char *domain,
                         const char *status, const char *keywords, const char *scores)
{
    snprintf(buf, cap,
             "  - name: %s\n    domain: %s\n    version: 1.0.0\n    file: %s.gguf\n"
             "    sha256: " SHA_A "\n    base_sha256: " SHA_B "\n"
             "    lora: {rank: 2, alpha: 4, targets: [q]}\n"
             "    provenance: {recipe: r.yaml, data: d, seed: 1, semester: 2026-S2, "
             "authors: [A]}\n"
             "    router:\n      keywords: [%s]\n      examples: [\"x\"]\n"
             "    status: %s\n%s",
             name, domain, name, keywords, status, scores ? scores : "");
}

/* math: m-active (active) + m-cand; code: c-good (passed) + c-bad; writing: none */
static struct loco_registry *load_registry(const char *router_line)
{
    char a[1024], b[1024], c[1024], d[1024], all[8192];
    adapter_yaml(a, sizeof a, "m-active", "math", "active", "how many, total, sum", NULL);
    adapter_yaml(b, sizeof b, "m-cand", "math", "candidate", "percent, sum", NULL);
    adapter_yaml(c, sizeof c, "c-good", "code", "candidate", "python, function, write a function",
                 "    scores:\n      - {benchmark: mbpp, score: 0.4, ci_low: 0.3, ci_high: 0.5, "
                 "base_score: 0.2, p_value: 0.01, passed: true, n_items: 200, record: r.json}\n");
    adapter_yaml(d, sizeof d, "c-bad", "code", "candidate", "code",
                 "    scores:\n      - {benchmark: mbpp, score: 0.6, ci_low: 0.5, ci_high: 0.7, "
                 "base_score: 0.55, p_value: 0.4, passed: false, n_items: 200, record: r.json}\n");
    snprintf(all, sizeof all,
             "schema_version: 2\n%s"
             "base_model: {name: T, file: t.gguf, sha256: " SHA_B ", architecture: llama, "
             "academic_year: \"2026\"}\n"
             "domains:\n  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
             "  code: {primary_benchmark: mbpp, benchmarks: [mbpp]}\n"
             "  writing: {primary_benchmark: judge, benchmarks: [judge]}\n"
             "adapters:\n%s%s%s%s",
             router_line, a, b, c, d);
    test_write_file(reg_path, all);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = reg_path;
    p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r)
        fail_msg("%s", loco_error_message());
    return r;
}

static void test_table(void **state)
{
    (void)state;
    const struct loco_router_ops *const *list = loco_router_list();
    assert_non_null(list[0]);
    assert_ptr_equal(loco_router_find("keyword"), list[0]);
    assert_null(loco_router_find("telepathy"));
    assert_non_null(strstr(loco_error_message(), "keyword"));
    /* the registry names an unknown router: opening fails with the list */
    struct loco_registry *reg = load_registry("router: telepathy\n");
    assert_string_equal(loco_registry_router(reg), "telepathy");
    struct loco_router_env env = {.reg = reg};
    assert_null(loco_router_open(&env, NULL));
    assert_non_null(strstr(loco_error_message(), "telepathy"));
    struct loco_router *r = loco_router_open(&env, "keyword"); /* --router overrides */
    assert_non_null(r);
    assert_string_equal(loco_router_name(r), "keyword");
    loco_router_close(r);
    loco_registry_free(reg);
    reg = load_registry("");
    assert_string_equal(loco_registry_router(reg), "");
    env.reg = reg;
    r = loco_router_open(&env, NULL);
    assert_string_equal(loco_router_name(r), "keyword");
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_keyword_score(void **state)
{
    (void)state;
    const char *kw[] = {"how many", "sum", "tl;dr", "as if you were"};
    /* "how many" in the first line: (1 + 0.5) x 2 */
    assert_true(fabs(loco_keyword_score("How many apples?", kw, 4) - 3.0) < 1e-12);
    /* plural of a one-word keyword, counted once however often */
    assert_true(fabs(loco_keyword_score("sums and SUMS and sum", kw, 4) - 2.0) < 1e-12);
    /* punctuation inside a keyword is a word break: "tl;dr" = "tl dr" */
    assert_true(fabs(loco_keyword_score("TL;DR: it rained", kw, 4) - 3.0) < 1e-12);
    assert_true(fabs(loco_keyword_score("tl dr", kw, 4) - 3.0) < 1e-12);
    /* a phrase needs its words in order and adjacent */
    assert_true(fabs(loco_keyword_score("many how", kw, 4)) < 1e-12);
    assert_true(fabs(loco_keyword_score("how very many", kw, 4)) < 1e-12);
    /* no partial words: "summary" is not "sum", "summit" neither */
    assert_true(fabs(loco_keyword_score("a summary at the summit", kw, 4)) < 1e-12);
    /* between the first and a short last line a match counts once; in the
     * last line (an instruction after a pasted text) twice */
    assert_true(fabs(loco_keyword_score("Read this.\nHow many?\nThe end.", kw, 4) - 1.5) < 1e-12);
    assert_true(fabs(loco_keyword_score("Read this.\nHow many?", kw, 4) - 3.0) < 1e-12);
    assert_true(fabs(loco_keyword_score("Speak as if you were a cat", kw, 4) - 5.0) < 1e-12);
    assert_true(fabs(loco_keyword_score("", kw, 4)) < 1e-12);
    assert_true(fabs(loco_keyword_score(NULL, kw, 4)) < 1e-12);
}

/* An instruction on a line of its own beside a pasted text of at least
 * LOCO_KEYWORD_BODY_WORDS words: a keyword inside the text counts
 * LOCO_KEYWORD_BODY_FACTOR times; beside a short text, once. */
static void test_keyword_pasted_text(void **state)
{
    (void)state;
    const char *kw[] = {"sum"};
    char text[1024];
    size_t used = (size_t)snprintf(text, sizeof text, "Condense this:\n");
    for (int i = 0; i < LOCO_KEYWORD_BODY_WORDS - 1; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "word ");
    snprintf(text + used, sizeof text - used, "sum");
    assert_true(fabs(loco_keyword_score(text, kw, 1) - LOCO_KEYWORD_BODY_FACTOR) < 1e-12);
    /* a short text between the instruction and a last line is not a pasted text */
    assert_true(fabs(loco_keyword_score("Condense this:\nword word sum\nThe end.", kw, 1) - 1.0) <
                1e-12);
    /* one line of many words is a question, not an instruction beside a text */
    char one_line[1024];
    memcpy(one_line, text, strlen(text) + 1);
    one_line[strlen("Condense this:")] = ' ';
    assert_true(loco_keyword_score(one_line, kw, 1) >= 1.0);
    /* the instruction still counts twice */
    memcpy(text, "Sum this up:  ", 14);
    assert_true(loco_keyword_score(text, kw, 1) >= LOCO_KEYWORD_LEAD_FACTOR);
}

static double prob_of(const struct loco_route_decision *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], name))
            return d->prob[i];
    fail_msg("no %s in the decision", name);
    return -1;
}

static void test_keyword_decisions(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "keyword");
    assert_non_null(r);
    struct loco_route_decision d;

    assert_int_equal(loco_route(r, "How many marbles in total?", &d), LOCO_OK);
    assert_string_equal(d.router, "keyword");
    assert_string_equal(d.domain, "math");
    assert_string_equal(d.adapter, "m-active"); /* the active one, not the candidate */
    assert_int_equal(d.n, 4);                   /* math, code, writing, base */
    assert_string_equal(d.names[3], "base");
    double sum = 0;
    for (size_t i = 0; i < d.n; i++)
        sum += d.prob[i];
    assert_true(fabs(sum - 1) < 1e-12);
    /* math scores 3 + 2 = 5, code and writing 0, base 1: softmax with 1.5 */
    double e5 = exp(1.5 * 5), e0 = 1, e1 = exp(1.5);
    assert_true(fabs(prob_of(&d, "math") - e5 / (e5 + 2 * e0 + e1)) < 1e-12);
    assert_true(fabs(d.confidence - prob_of(&d, "math")) < 1e-15);
    assert_non_null(strstr(d.reason, "'how many'"));
    assert_non_null(strstr(d.reason, "'total'"));
    assert_true(d.ms >= 0);

    /* no keyword: base model, all other domains equally likely */
    assert_int_equal(loco_route(r, "Hello there, how are you?", &d), LOCO_OK);
    assert_string_equal(d.domain, "base");
    assert_string_equal(d.adapter, "");
    assert_string_equal(d.reason, "no domain keyword found");
    assert_true(prob_of(&d, "base") > prob_of(&d, "math"));
    assert_true(fabs(prob_of(&d, "math") - prob_of(&d, "code")) < 1e-15);

    /* the base cues add half a keyword's weight to base's score: "capital of"
     * (1.5, x2 in the instruction) and "what is the capital" (2.5, x2), halved,
     * beat one math keyword */
    assert_int_equal(loco_route(r, "What is the capital of France? Sum it up.", &d), LOCO_OK);
    assert_string_equal(d.domain, "base");
    assert_non_null(strstr(d.reason, "general question"));
    assert_non_null(strstr(d.reason, "'capital of'"));
    double eb = exp(1.5 * (1 + 0.5 * (3 + 5))), em = exp(1.5 * 2);
    assert_true(fabs(prob_of(&d, "base") - eb / (eb + em + 2)) < 1e-12);

    /* one keyword in the body only (score 1) does not beat base (1) */
    assert_int_equal(loco_route(r, "Hello there.\nThe sum is large.\nThat is all.", &d), LOCO_OK);
    assert_string_equal(d.domain, "base");

    /* a tie between two domains is ambiguous: the base model, and the reason names both */
    assert_int_equal(loco_route(r, "sum in python", &d), LOCO_OK);
    assert_string_equal(d.domain, "base");
    assert_non_null(strstr(d.reason, "ambiguous"));
    assert_non_null(strstr(d.reason, "math"));
    assert_non_null(strstr(d.reason, "code"));

    /* code has no active adapter: the candidate that passed its gate serves it,
     * though the other candidate scores higher */
    assert_int_equal(loco_route(r, "Write a function in python", &d), LOCO_OK);
    assert_string_equal(d.domain, "code");
    assert_string_equal(d.adapter, "c-good");
    assert_non_null(strstr(d.adapter_path, "c-good.gguf"));
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_adapter_for(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    const char *why = NULL;
    const struct loco_registry_adapter *a = loco_route_adapter_for(reg, "math", &why);
    assert_string_equal(a->name, "m-active");
    assert_string_equal(why, "active");
    a = loco_route_adapter_for(reg, "code", &why);
    assert_string_equal(a->name, "c-good");
    assert_string_equal(why, "candidate (passed its gate)");
    assert_null(loco_route_adapter_for(reg, "writing", &why));
    assert_string_equal(why, "no adapter");
    assert_null(loco_route_adapter_for(reg, "astrology", NULL));
    loco_registry_free(reg);
}

static void test_bench_metrics(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "keyword");
    /* 3 math right, 1 code right, 1 code sent to math, 1 base right,
     * 1 labelled writing sent to base, 1 with a label the router lacks */
    struct loco_route_item items[] = {
        {"how many cats", "math", ""},          {"what is the total", "math", ""},
        {"how many in total", "math", ""},      {"write a function in python", "code", ""},
        {"the sum of a list", "code", ""},      {"hello", "base", ""},
        {"a poem about the sea", "writing", ""}, {"tell me a joke", "humour", ""},
    };
    struct loco_route_bench *b = malloc(sizeof *b);
    assert_int_equal(loco_route_bench_run(r, items, 8, b), LOCO_OK);
    assert_int_equal(b->n, 8);
    assert_int_equal(b->correct, 5);
    assert_true(fabs(b->accuracy - 5.0 / 8) < 1e-12);
    assert_int_equal(b->n_labels, 5); /* math code writing base + humour */
    assert_string_equal(b->labels[4], "humour");
    assert_int_equal(b->confusion[0][0], 3); /* math -> math */
    assert_int_equal(b->confusion[1][0], 1); /* code -> math */
    assert_int_equal(b->confusion[2][3], 1); /* writing -> base */
    assert_int_equal(b->confusion[4][3], 1); /* humour -> base */
    /* math: precision 3/4, recall 1; code: 1/1, 1/2; base: 1/3, 1 */
    assert_true(fabs(b->precision[0] - 0.75) < 1e-12 && fabs(b->recall[0] - 1) < 1e-12);
    assert_true(fabs(b->precision[1] - 1) < 1e-12 && fabs(b->recall[1] - 0.5) < 1e-12);
    assert_true(fabs(b->f1[1] - 2.0 / 3) < 1e-12);
    assert_true(fabs(b->precision[3] - 1.0 / 3) < 1e-12);
    assert_int_equal(b->support[2], 1);
    assert_true(fabs(b->f1[2]) < 1e-12);
    /* ECE from the bins equals the sum over items recomputed here */
    double ece = 0;
    size_t nb = 0;
    for (size_t i = 0; i < LOCO_ROUTE_ECE_BINS; i++) {
        nb += b->bin_n[i];
        ece += (double)b->bin_n[i] / 8 * fabs(b->bin_acc[i] - b->bin_conf[i]);
    }
    assert_int_equal(nb, 8);
    assert_true(fabs(ece - b->ece) < 1e-12);
    assert_true(b->ms_p50 <= b->ms_p95 && b->ms_p95 <= b->ms_max);
    char *j = loco_route_bench_json(b, "keyword");
    assert_non_null(strstr(j, "\"accuracy\":\t0.625"));
    assert_non_null(strstr(j, "\"confusion\""));
    free(j);
    free(b);
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_items_load(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/items.jsonl", dir);
    struct loco_route_item *items;
    size_t n;
    test_write_file(path, "{\"query\": \"q1\", \"domain\": \"math\", \"source\": \"x\"}\n\n"
                   "{\"query\": \"q2\", \"domain\": \"base\"}\n");
    assert_int_equal(loco_route_items_load(path, &items, &n), LOCO_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[1].query, "q2");
    assert_string_equal(items[1].domain, "base");
    loco_route_items_free(items, n);
    const char *bad[] = {
        "{\"query\": \"q1\", \"domain\": \"math\"}\n{\"query\": \"q2\"}\n",
        "{\"query\": \"q1\", \"domain\": \"math\"}\nnot json\n",
        "{\"query\": 3, \"domain\": \"math\"}\n",
        "[\"query\", \"domain\"]\n",
        "{\"query\": \"\", \"domain\": \"math\"}\n",
    };
    const char *where[] = {":2:", ":2:", ":1:", ":1:", ":1:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_write_file(path, bad[i]);
        assert_int_equal(loco_route_items_load(path, &items, &n), LOCO_ERR_FORMAT);
        assert_non_null(strstr(loco_error_message(), where[i]));
        assert_null(items);
    }
    test_write_file(path, "\n\n");
    assert_int_equal(loco_route_items_load(path, &items, &n), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "no queries"));
    unlink(path);
    assert_int_equal(loco_route_items_load(path, &items, &n), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), path));
    /* a FIFO named as the benchmark is refused at once, not waited on */
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(loco_route_items_load(path, &items, &n), LOCO_ERR_IO);
    alarm(0);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    unlink(path);
}

/* An exchange log and its SQLite side files. */
static void remove_log(const char *path)
{
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    char side[256];
    for (int i = 0; i < 4; i++) {
        snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
        unlink(side);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/loco-router-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(reg_path, sizeof reg_path, "%s/registry.yaml", dir);
    snprintf(log_path, sizeof log_path, "%s/logs.sqlite", dir);
    setenv("LOCO_LOG_DB", log_path, 1); /* never the user's log */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_rf(dir);
    return 0;
}

/* ---- the classifier (v2) ---------------------------------------------------- */

/* Three labelled blobs in 4 dimensions; `noise` flips every k-th label. */
static void blobs(float *X, int32_t *y, size_t n, int flip_every)
{
    uint64_t st = 12345;
    for (size_t i = 0; i < n; i++) {
        int32_t l = (int32_t)(i % 3);
        for (int j = 0; j < 4; j++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(st >> 11) / 9007199254740992.0 - 0.5;
            X[i * 4 + j] = (float)((j == l ? 3.0 : 0.0) + 10.0 * (j == 3) + u);
        }
        y[i] = flip_every && i % (size_t)flip_every == 0 ? (l + 1) % 3 : l;
    }
}

static void test_classifier_fit(void **state)
{
    (void)state;
    float X[300 * 4];
    int32_t y[300];
    blobs(X, y, 300, 0);
    const char *labels[] = {"math", "code", "base"};
    struct loco_classifier c;
    assert_int_equal(loco_classifier_fit(X, y, 300, 4, labels, 3, NULL, &c), LOCO_OK);
    assert_true(c.train_accuracy == 1.0);
    assert_int_equal(c.n_train, 300);
    assert_string_equal(c.labels[2], "base");
    /* the constant-ish fourth feature is standardised around 10 */
    assert_true(fabs(c.mean[3] - 10.0) < 0.1);
    double p[3];
    float q[4] = {0.1f, 3.0f, 0.0f, 10.0f};
    loco_classifier_probs(&c, q, p);
    assert_true(fabs(p[0] + p[1] + p[2] - 1) < 1e-12);
    assert_true(p[1] > 0.9);
    /* bad input */
    struct loco_classifier bad;
    assert_int_equal(loco_classifier_fit(X, y, 0, 4, labels, 3, NULL, &bad), LOCO_ERR_INVALID);
    assert_int_equal(loco_classifier_fit(X, y, 300, 4, labels, 1, NULL, &bad), LOCO_ERR_INVALID);
    y[7] = 3;
    assert_int_equal(loco_classifier_fit(X, y, 300, 4, labels, 3, NULL, &bad), LOCO_ERR_INVALID);
    loco_classifier_free(&c);
}

static double nll(const struct loco_classifier *c, const float *X, const int32_t *y, size_t n)
{
    double s = 0, p[3];
    for (size_t i = 0; i < n; i++) {
        loco_classifier_probs(c, X + i * 4, p);
        s -= log(p[y[i]]);
    }
    return s / (double)n;
}

static void test_classifier_calibrate(void **state)
{
    (void)state;
    /* fitted on clean labels, calibrated on labels with 1 in 5 flipped: the
     * clean fit is over-confident there, so the temperature must rise and the
     * held-out NLL fall; no other temperature does better */
    float X[300 * 4], XD[300 * 4];
    int32_t y[300], yd[300];
    blobs(X, y, 300, 0);
    blobs(XD, yd, 300, 5);
    const char *labels[] = {"a", "b", "c"};
    struct loco_classifier c;
    assert_int_equal(loco_classifier_fit(X, y, 300, 4, labels, 3, NULL, &c), LOCO_OK);
    double before = nll(&c, XD, yd, 300);
    assert_int_equal(loco_classifier_calibrate(&c, XD, yd, 300), LOCO_OK);
    double after = nll(&c, XD, yd, 300), t = c.temperature;
    assert_true(t > 1.0);
    assert_true(after < before);
    for (double f = 0.8; f <= 1.25; f += 0.45) {
        c.temperature = t * f;
        assert_true(nll(&c, XD, yd, 300) >= after - 1e-9);
    }
    assert_int_equal(loco_classifier_calibrate(&c, XD, yd, 0), LOCO_ERR_INVALID);
    loco_classifier_free(&c);
}

/* Accuracy and ECE of the classifier's top label: on clean rows every
 * choice is right, so the ECE is 1 - the mean top probability; on rows with
 * every fifth label flipped the accuracy is 4/5. */
static void test_classifier_measure(void **state)
{
    (void)state;
    float X[300 * 4], XD[300 * 4];
    int32_t y[300], yd[300];
    blobs(X, y, 300, 0);
    blobs(XD, yd, 300, 5);
    const char *labels[] = {"math", "code", "base"};
    struct loco_classifier c;
    assert_int_equal(loco_classifier_fit(X, y, 300, 4, labels, 3, NULL, &c), LOCO_OK);
    double acc, ece, top = 0, p[3];
    assert_int_equal(loco_classifier_measure(&c, X, y, 300, &acc, &ece), LOCO_OK);
    for (size_t i = 0; i < 300; i++) {
        loco_classifier_probs(&c, X + i * 4, p);
        top += fmax(p[0], fmax(p[1], p[2])) / 300.0;
    }
    assert_true(acc == 1.0);
    assert_true(fabs(ece - (1.0 - top)) < 1e-12);
    assert_int_equal(loco_classifier_measure(&c, XD, yd, 300, &acc, &ece), LOCO_OK);
    assert_true(fabs(acc - 0.8) < 1e-12);
    assert_true(ece > 0.1); /* confident on the flipped fifth */
    assert_int_equal(loco_classifier_measure(&c, X, y, 0, &acc, &ece), LOCO_ERR_INVALID);
    yd[3] = 3;
    assert_int_equal(loco_classifier_measure(&c, XD, yd, 300, &acc, &ece), LOCO_ERR_INVALID);
    loco_classifier_free(&c);
}

static void test_classifier_file(void **state)
{
    (void)state;
    float X[60 * 4];
    int32_t y[60];
    blobs(X, y, 60, 0);
    const char *labels[] = {"math", "code", "base"};
    struct loco_classifier c, back;
    assert_int_equal(loco_classifier_fit(X, y, 60, 4, labels, 3, NULL, &c), LOCO_OK);
    c.temperature = 1.7;
    snprintf(c.model_sha256, sizeof c.model_sha256, "%064d", 7);
    char path[128];
    snprintf(path, sizeof path, "%s/c.json", dir);
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    assert_int_equal(loco_classifier_load(path, &back), LOCO_OK);
    assert_int_equal(back.dim, 4);
    assert_int_equal(back.n_labels, 3);
    assert_string_equal(back.labels[1], "code");
    assert_string_equal(back.model_sha256, c.model_sha256);
    assert_true(back.temperature == 1.7);
    double p[3], q[3];
    for (size_t i = 0; i < 60; i++) {
        loco_classifier_probs(&c, X + i * 4, p);
        loco_classifier_probs(&back, X + i * 4, q);
        for (int l = 0; l < 3; l++)
            assert_true(fabs(p[l] - q[l]) < 1e-6);
    }
    loco_classifier_free(&back);
    loco_classifier_free(&c);
    /* damaged files: each refused with a message naming the file */
    const char *bad[] = {
        "",
        "{\"format\": \"something-else\"}",
        "{\"format\": \"locollm-router-classifier/1\", \"dim\": 2, \"labels\": [\"a\"], "
        "\"temperature\": 1, \"model_sha256\": \"x\"}",
        "{\"format\": \"locollm-router-classifier/1\", \"dim\": 2, \"labels\": [\"a\", \"b\"], "
        "\"temperature\": 0, \"model_sha256\": \"x\"}",
        "{\"format\": \"locollm-router-classifier/1\", \"dim\": 2, \"labels\": [\"a\", \"b\"], "
        "\"temperature\": 1, \"model_sha256\": \"x\", \"mean\": [0, 0], \"std\": [1], "
        "\"bias\": [0, 0], \"weights\": [[0, 0], [0, 0]]}",
        "{\"format\": \"locollm-router-classifier/1\", \"dim\": 2, \"labels\": [\"a\", \"b\"], "
        "\"temperature\": 1, \"model_sha256\": \"x\", \"mean\": [0, 0], \"std\": [1, 0], "
        "\"bias\": [0, 0], \"weights\": [[0, 0], [0, 0]]}",
        "{\"format\": \"locollm-router-classifier/1\", \"dim\": 2, \"labels\": [\"a\", \"b\"], "
        "\"temperature\": 1, \"model_sha256\": \"x\", \"mean\": [0, 0], \"std\": [1, 1], "
        "\"bias\": [0, 0], \"weights\": [[0, 0]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_write_file(path, bad[i]);
        assert_int_equal(loco_classifier_load(path, &back), LOCO_ERR_FORMAT);
        assert_non_null(strstr(loco_error_message(), "c.json"));
    }
    unlink(path);
    assert_int_equal(loco_classifier_load(path, &back), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "loco router train"));
    /* a FIFO named as the classifier is refused at once, not waited on */
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(loco_classifier_load(path, &back), LOCO_ERR_INVALID);
    alarm(0);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    unlink(path);
}

static struct loco_context *embed_ctx(const struct loco_model *m, int32_t n_batch)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = LOCO_ROUTER_EMBED_TOKENS;
    cp.n_seq = 1;
    cp.n_batch = n_batch;
    cp.n_threads = 1;
    return loco_context_init(m, cp);
}

static void test_embed(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    const int32_t C = loco_model_hparams(m)->n_embd;
    struct loco_context *one = embed_ctx(m, LOCO_ROUTER_EMBED_TOKENS), *small = embed_ctx(m, 3);
    float *a = malloc((size_t)C * sizeof *a), *b = malloc((size_t)C * sizeof *b);
    float *ref = calloc((size_t)C, sizeof *ref), *row = malloc((size_t)C * sizeof *row);
    const char *q = "Once upon a time there was a little cat who liked to sing";
    assert_int_equal(loco_router_embed(one, m, q, a), LOCO_OK);
    /* the same in chunks of 3 tokens */
    assert_int_equal(loco_router_embed(small, m, q, b), LOCO_OK);
    for (int32_t j = 0; j < C; j++)
        assert_true(fabsf(a[j] - b[j]) < 1e-4f * (1 + fabsf(a[j])));
    /* reference: decode one token at a time and average the hidden states */
    int32_t *toks = NULL;
    size_t n = 0;
    assert_int_equal(loco_tokenizer_encode(loco_model_tokenizer(m), q, strlen(q), true, false,
                                           &toks, &n),
                     LOCO_OK);
    loco_context_seq_clear(small, 0);
    for (size_t i = 0; i < n; i++) {
        int32_t pos = (int32_t)i, seq = 0;
        struct loco_batch bt = {1, toks + i, &pos, &seq, NULL};
        assert_int_equal(loco_decode(small, &bt), LOCO_OK);
        assert_int_equal(loco_context_hidden(small, 0, row), LOCO_OK);
        for (int32_t j = 0; j < C; j++)
            ref[j] += row[j] / (float)n;
    }
    assert_int_equal(loco_context_hidden(small, 1, row), LOCO_ERR_RANGE);
    for (int32_t j = 0; j < C; j++)
        assert_true(fabsf(a[j] - ref[j]) < 1e-4f * (1 + fabsf(ref[j])));
    /* another query, other features; the sequence is left empty */
    assert_int_equal(loco_router_embed(one, m, "The dog ran to the park.", b), LOCO_OK);
    float diff = 0;
    for (int32_t j = 0; j < C; j++)
        diff += fabsf(a[j] - b[j]);
    assert_true(diff > 1e-3f);
    assert_int_equal(loco_context_seq_len(one, 0), 0);
    free(toks);
    free(a);
    free(b);
    free(ref);
    free(row);
    loco_context_free(one);
    loco_context_free(small);
    loco_model_free(m);
}

static void test_classifier_router(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    struct loco_registry *reg = load_registry("router: classifier\n");
    /* train on a few stories-like queries per label */
    const char *qs[] = {"the cat sat on the mat", "a cat and a kitten played",
                        "the big cat slept",      "Tom sold 3 apples and 4 pears",
                        "Lily had 5 coins and 2 more", "Ben counted 10 birds",
                        "Once upon a time",       "The sun was warm",
                        "They went home"};
    int32_t y[9] = {1, 1, 1, 0, 0, 0, 3, 3, 3}; /* math code writing base */
    const int32_t C = loco_model_hparams(m)->n_embd;
    struct loco_context *ctx = embed_ctx(m, 64);
    float *X = malloc(9 * (size_t)C * sizeof *X);
    for (int i = 0; i < 9; i++)
        assert_int_equal(loco_router_embed(ctx, m, qs[i], X + (size_t)i * C), LOCO_OK);
    const char *labels[] = {"math", "code", "writing", "base"};
    struct loco_classifier c;
    assert_int_equal(loco_classifier_fit(X, y, 9, C, labels, 4, NULL, &c), LOCO_OK);
    assert_true(c.train_accuracy == 1.0);
    char path[128];
    snprintf(path, sizeof path, "%s/rc.json", dir);
    setenv("LOCO_ROUTER_CLASSIFIER", path, 1);
    /* trained for another model: refused with the fix */
    snprintf(c.model_sha256, sizeof c.model_sha256, "%064d", 0);
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    struct loco_router_env env = {.reg = reg, .model = m};
    assert_null(loco_router_open(&env, NULL));
    assert_non_null(strstr(loco_error_message(), "loco router train"));
    /* no model: refused */
    struct loco_router_env no_model = {.reg = reg};
    assert_null(loco_router_open(&no_model, "classifier"));
    loco_model_sha256(m, c.model_sha256);
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    struct loco_router *r = loco_router_open(&env, NULL); /* the registry names it */
    assert_non_null(r);
    assert_string_equal(loco_router_name(r), "classifier");
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, "the cat sat on the mat", &d), LOCO_OK);
    assert_string_equal(d.domain, "code");
    assert_string_equal(d.adapter, "c-good");
    assert_non_null(strstr(d.reason, "classifier"));
    double sum = 0;
    for (size_t i = 0; i < d.n; i++)
        sum += d.prob[i];
    assert_true(fabs(sum - 1) < 1e-9);
    assert_int_equal(loco_route(r, "Lily had 5 coins and 2 more", &d), LOCO_OK);
    assert_string_equal(d.domain, "math");
    loco_router_close(r);
    unsetenv("LOCO_ROUTER_CLASSIFIER");
    unlink(path);
    loco_classifier_free(&c);
    free(X);
    loco_context_free(ctx);
    loco_registry_free(reg);
    loco_model_free(m);
}

/* ---- the confidence wrapper ---------------------------------------------- */

static void test_confidence(void **state)
{
    (void)state;
    struct loco_registry *reg = load_registry("");
    char path[128];
    snprintf(path, sizeof path, "%s/conf.json", dir);
    setenv("LOCO_ROUTER_CONFIDENCE", path, 1);
    unlink(path);
    struct loco_confidence c;
    bool from_file = true;
    assert_int_equal(loco_confidence_get(reg, "keyword", &c, &from_file), LOCO_OK);
    assert_false(from_file);
    assert_true(c.threshold == 0.5 && c.margin == 0.0);

    /* apply: a decision for math at 0.6 over code 0.3 */
    struct loco_route_decision d = {.n = 3, .confidence = 0.6};
    snprintf(d.domain, sizeof d.domain, "math");
    snprintf(d.adapter, sizeof d.adapter, "m-active");
    snprintf(d.names[0], sizeof d.names[0], "math");
    snprintf(d.names[1], sizeof d.names[1], "code");
    snprintf(d.names[2], sizeof d.names[2], "base");
    d.prob[0] = 0.6, d.prob[1] = 0.3, d.prob[2] = 0.1;
    struct loco_route_decision x = d;
    loco_confidence_apply(&(struct loco_confidence){0.5, 0.0}, &x);
    assert_string_equal(x.domain, "math"); /* above the threshold */
    x = d;
    loco_confidence_apply(&(struct loco_confidence){0.7, 0.0}, &x);
    assert_string_equal(x.domain, "base");
    assert_string_equal(x.adapter, "");
    assert_true(x.confidence == 0.1);
    assert_non_null(strstr(x.reason, "confidence 0.60 below 0.70: base model instead of math"));
    x = d;
    loco_confidence_apply(&(struct loco_confidence){0.0, 0.35}, &x); /* margin 0.3 < 0.35 */
    assert_string_equal(x.domain, "base");
    assert_non_null(strstr(x.reason, "margin 0.30"));

    assert_true(loco_confidence_cost("math", "math") == 0.0);
    assert_true(loco_confidence_cost("math", "base") == 0.5);
    assert_true(loco_confidence_cost("math", "code") == 1.0);
    assert_true(loco_confidence_cost("base", "code") == 1.0);

    /* the file: set two routers, read them back; the wrapper uses them */
    assert_int_equal(loco_confidence_set(reg, "keyword", &(struct loco_confidence){0.99, 0.1},
                                         10, 0.2),
                     LOCO_OK);
    assert_int_equal(loco_confidence_set(reg, "classifier",
                                         &(struct loco_confidence){0.3, 0.0}, 10, 0.2),
                     LOCO_OK);
    assert_int_equal(loco_confidence_get(reg, "keyword", &c, &from_file), LOCO_OK);
    assert_true(from_file && c.threshold == 0.99 && c.margin == 0.1);
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "confidence:keyword");
    assert_non_null(r);
    assert_string_equal(loco_router_name(r), "confidence:keyword");
    struct loco_route_decision out;
    assert_int_equal(loco_route(r, "what is the total", &out), LOCO_OK); /* math, but < 0.99 */
    assert_string_equal(out.router, "confidence:keyword");
    assert_string_equal(out.domain, "base");
    assert_non_null(strstr(out.reason, "base model instead of math"));
    loco_router_close(r);
    /* misuse and damaged files */
    assert_null(loco_router_open(&env, "confidence:"));
    assert_null(loco_router_open(&env, "confidence:confidence:keyword"));
    assert_null(loco_router_open(&env, "confidence:telepathy"));
    test_write_file(path, "{\"format\": \"locollm-router-confidence/1\", \"routers\": {\"keyword\": "
                   "{\"threshold\": 2, \"margin\": 0}}}");
    assert_int_equal(loco_confidence_get(reg, "keyword", &c, NULL), LOCO_ERR_FORMAT);
    assert_null(loco_router_open(&env, "confidence:keyword"));
    test_write_file(path, "[1, 2]");
    assert_int_equal(loco_confidence_get(reg, "keyword", &c, NULL), LOCO_ERR_FORMAT);
    unlink(path);
    /* a FIFO in the file's place is refused at once, not waited on */
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20); /* a hang fails the test instead of stalling the suite */
    assert_int_equal(loco_confidence_get(reg, "keyword", &c, NULL), LOCO_ERR_IO);
    assert_non_null(strstr(loco_error_message(), "FIFO"));
    assert_int_equal(
        loco_confidence_set(reg, "keyword", &(struct loco_confidence){0.5, 0.0}, 1, 0.0),
        LOCO_ERR_IO);
    alarm(0);
    unlink(path);
    unsetenv("LOCO_ROUTER_CONFIDENCE");
    loco_registry_free(reg);
}

/* A decision over math, code and base choosing `domain` with these
 * probabilities. */
static struct loco_route_decision decided(const char *domain, double pm, double pc, double pb)
{
    struct loco_route_decision d = {.n = 3, .prob = {pm, pc, pb}};
    snprintf(d.names[0], sizeof d.names[0], "math");
    snprintf(d.names[1], sizeof d.names[1], "code");
    snprintf(d.names[2], sizeof d.names[2], "base");
    snprintf(d.domain, sizeof d.domain, "%s", domain);
    d.confidence = !strcmp(domain, "math") ? pm : !strcmp(domain, "code") ? pc : pb;
    return d;
}

/* The threshold search on four hand-made decisions: two right and sure,
 * a code query routed to math at 0.42 (margin 0.09) and a base query routed
 * to code at 0.47 (margin 0.19). Sending both wrong ones to the base model
 * costs 0.5 of 4: the margin 0.2 does it at threshold 0, before any
 * threshold in (0.47, 0.7] does. */
static void test_confidence_search(void **state)
{
    (void)state;
    struct loco_route_decision d[4] = {
        decided("math", 0.9, 0.05, 0.05), decided("math", 0.42, 0.33, 0.25),
        decided("math", 0.7, 0.2, 0.1), decided("code", 0.28, 0.47, 0.25)};
    char *truth[4] = {"math", "code", "math", "base"};
    struct loco_route_item items[4];
    for (int i = 0; i < 4; i++)
        items[i] = (struct loco_route_item){.query = "q", .domain = truth[i], .source = ""};
    struct loco_confidence_search *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(loco_confidence_search(d, items, 4, s), LOCO_OK);
    assert_int_equal(s->n, 4);
    assert_true(s->base_cost == 0.5); /* two wrong specialists */
    assert_true(s->best.threshold == 0.0 && s->best.margin == 0.2);
    assert_true(s->best_cost == 0.125);
    /* threshold 0.5, margin 0: both wrong ones to base, 3 of 4 right */
    const struct loco_confidence_row *r = &s->rows[10 * LOCO_CONFIDENCE_N_MARGINS];
    assert_true(fabs(r->c.threshold - 0.5) < 1e-12 && r->c.margin == 0);
    assert_true(r->cost == 0.125 && r->accuracy == 0.75);
    assert_int_equal(r->to_base, 2);
    /* threshold 0.45: only the 0.42 one goes */
    r = &s->rows[9 * LOCO_CONFIDENCE_N_MARGINS];
    assert_true(r->cost == 1.5 / 4 && r->to_base == 1);
    /* ECE: bins 0.9 (right), 0.4-0.5 (0.42, 0.47: both wrong), 0.7 (right) */
    assert_true(fabs(s->base_ece - (0.25 * 0.1 + 0.5 * 0.445 + 0.25 * 0.3)) < 1e-12);
    /* after: the two sent to base at its probability 0.25, one of them right */
    assert_true(fabs(s->ece - (0.25 * 0.1 + 0.5 * 0.25 + 0.25 * 0.3)) < 1e-12);
    assert_int_equal(loco_confidence_search(d, items, 0, s), LOCO_ERR_INVALID);
    free(s);
}

/* ---- zero-shot routing from adapter weights ---------------------------------- */

/* An adapter for m whose update to q in every layer is 3 w1 u1^T + w2 u2^T
 * (u, w orthonormal): the top direction is u1 (first axis `axis`), the top
 * singular value 3 alpha / r. */
static void write_direction_adapter(const struct loco_model *m, const char *path, int axis)
{
    const struct loco_hparams *hp = loco_model_hparams(m);
    int64_t C = hp->n_embd, out = (int64_t)hp->n_head * hp->head_dim;
    float *a = calloc((size_t)(2 * C), sizeof *a), *b = calloc((size_t)(2 * out), sizeof *b);
    a[axis] = 1;               /* u1 = e_axis */
    a[C + (axis + 1) % C] = 1; /* u2 = e_axis+1 */
    b[0 * 2 + 0] = 3;          /* w1 = e_0 scaled by 3 */
    b[1 * 2 + 1] = 1;          /* w2 = e_1 */
    struct loco_lora_pair *pairs = calloc((size_t)hp->n_layer, sizeof *pairs);
    for (int32_t l = 0; l < hp->n_layer; l++)
        pairs[l] = (struct loco_lora_pair){l, LOCO_LORA_Q, C, out, 2, a, b};
    char sha[65];
    loco_model_sha256(m, sha);
    struct loco_adapter_meta meta = {.arch = "llama", .base_sha256 = sha, .name = "dir",
                                     .domain = "math", .alpha = 4};
    assert_int_equal(loco_adapter_write(path, &meta, pairs, (size_t)hp->n_layer, LOCO_TYPE_F32),
                     LOCO_OK);
    free(pairs);
    free(a);
    free(b);
}

static void test_adapter_direction(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    char path[128];
    snprintf(path, sizeof path, "%s/dir.gguf", dir);
    write_direction_adapter(m, path, 5);
    struct loco_adapter *a = loco_adapter_load(path, m);
    assert_non_null(a);
    const int32_t C = loco_model_hparams(m)->n_embd;
    float *v = malloc((size_t)C * sizeof *v), sigma = 0;
    for (int32_t l = 0; l < loco_model_hparams(m)->n_layer; l++) {
        assert_int_equal(loco_adapter_direction(a, l, LOCO_LORA_Q, v, &sigma), LOCO_OK);
        assert_true(fabsf(fabsf(v[5]) - 1.0f) < 1e-5f); /* +-u1 */
        for (int32_t j = 0; j < C; j++)
            if (j != 5)
                assert_true(fabsf(v[j]) < 1e-5f);
        assert_true(fabsf(sigma - 3.0f * 4.0f / 2.0f) < 1e-4f); /* 3 alpha / r */
    }
    assert_int_equal(loco_adapter_direction(a, 0, LOCO_LORA_V, v, NULL), LOCO_ERR_NOT_FOUND);
    assert_int_equal(loco_adapter_direction(a, 999, LOCO_LORA_Q, v, NULL), LOCO_ERR_INVALID);
    free(v);
    loco_adapter_free(a);
    unlink(path);
    loco_model_free(m);
}

static void test_arrow_router(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    /* math and code adapters with different directions, writing none */
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/m-active.gguf", dir);
    snprintf(p2, sizeof p2, "%s/c-good.gguf", dir);
    write_direction_adapter(m, p1, 3);
    write_direction_adapter(m, p2, 40);
    struct loco_registry *reg = load_registry("");
    struct loco_router_env env = {.reg = reg, .model = m};
    struct loco_router *r = loco_router_open(&env, "arrow");
    assert_non_null(r);
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, "Once upon a time there was a cat", &d), LOCO_OK);
    assert_true(!strcmp(d.domain, "math") || !strcmp(d.domain, "code"));
    double sum = 0;
    for (size_t i = 0; i < d.n; i++)
        sum += d.prob[i];
    assert_true(fabs(sum - 1) < 1e-9);
    assert_true(prob_of(&d, "writing") == 0.0 && prob_of(&d, "base") == 0.0);
    assert_true(prob_of(&d, "math") > 0 && prob_of(&d, "code") > 0);
    assert_non_null(strstr(d.reason, "zero-shot"));
    assert_non_null(strstr(d.reason, "2 adapters"));
    loco_router_close(r);
    /* no model: refused; no adapter loads: refused */
    env.model = NULL;
    assert_null(loco_router_open(&env, "arrow"));
    unlink(p1);
    unlink(p2);
    env.model = m;
    assert_null(loco_router_open(&env, "arrow"));
    assert_non_null(strstr(loco_error_message(), "nothing to route to"));
    loco_registry_free(reg);
    loco_model_free(m);
}

/* ---- measuring on unseen sources (route-eval.h) ---------------------------- */

static void test_wilson(void **state)
{
    (void)state;
    /* 8 of 10 at 95%: [0.4902, 0.9433] (Wilson 1927; as statsmodels'
     * proportion_confint(method="wilson")) */
    struct loco_interval ci = loco_wilson(8, 10, 1.96);
    assert_true(fabs(ci.lo - 0.4902) < 5e-4 && fabs(ci.hi - 0.9433) < 5e-4);
    ci = loco_wilson(0, 10, 1.96); /* no successes: the interval still has width */
    assert_true(fabs(ci.lo) < 1e-12 && fabs(ci.hi - 0.2775) < 5e-4);
    ci = loco_wilson(100, 100, 1.96);
    assert_true(fabs(ci.hi - 1) < 1e-12 && fabs(ci.lo - 0.9630) < 5e-4);
    ci = loco_wilson(0, 0, 1.96); /* nothing known */
    assert_true(ci.lo == 0 && ci.hi == 1);
    ci = loco_wilson(50, 100, 1.96); /* symmetric around one half */
    assert_true(fabs(ci.lo + ci.hi - 1) < 1e-12 && ci.lo < 0.5);
}

static double f1_of(const struct loco_route_bench *b, const char *label, double *p, double *r)
{
    for (size_t l = 0; l < b->n_labels; l++)
        if (!strcmp(b->labels[l], label)) {
            *p = b->precision[l];
            *r = b->recall[l];
            return b->f1[l];
        }
    fail_msg("no label %s", label);
    return -1;
}

static void test_bench_add_f1(void **state)
{
    (void)state;
    struct loco_route_bench *b = calloc(1, sizeof *b);
    /* math: 3 true, 2 found, 1 base chosen as math; base: 2 true, 1 found */
    const char *truth[] = {"math", "math", "math", "base", "base", "code"};
    const char *chosen[] = {"math", "math", "base", "math", "base", "code"};
    const double conf[] = {0.95, 0.85, 0.55, 0.65, 0.92, 0.99};
    for (int i = 0; i < 6; i++)
        assert_int_equal(loco_route_bench_add(b, truth[i], chosen[i], conf[i], 1.0), LOCO_OK);
    loco_route_bench_finish(b);
    assert_int_equal(b->n, 6);
    assert_int_equal(b->correct, 4);
    double p, r;
    /* math: precision 2/3, recall 2/3, F1 2/3; base: 1/2, 1/2; code: 1, 1 */
    assert_true(fabs(f1_of(b, "math", &p, &r) - 2.0 / 3) < 1e-12);
    assert_true(fabs(p - 2.0 / 3) < 1e-12 && fabs(r - 2.0 / 3) < 1e-12);
    assert_true(fabs(f1_of(b, "base", &p, &r) - 0.5) < 1e-12);
    assert_true(fabs(f1_of(b, "code", &p, &r) - 1) < 1e-12);
    assert_true(fabs(b->macro_f1 - (2.0 / 3 + 0.5 + 1) / 3) < 1e-12);
    struct loco_interval ci = loco_wilson(4, 6, 1.96);
    assert_true(b->acc_lo == ci.lo && b->acc_hi == ci.hi);
    /* ECE: bins 0.5 (0.55 wrong), 0.6 (0.65 wrong), 0.8 (0.85 right),
     * 0.9 (0.95, 0.92, 0.99 right) */
    double ece = (0.55 + 0.65 + 0.15 + (0.05 + 0.08 + 0.01)) / 6;
    assert_true(fabs(b->ece - ece) < 1e-12);
    assert_true(fabs(b->ms_mean - 1) < 1e-12);
    free(b);
}

static void test_folds(void **state)
{
    (void)state;
    int32_t a[10], b[10], c[10];
    loco_route_folds(10, 3, 7, a);
    loco_route_folds(10, 3, 7, b);
    loco_route_folds(10, 3, 8, c);
    int sizes[3] = {0}, same = 0;
    for (int i = 0; i < 10; i++) {
        assert_true(a[i] >= 0 && a[i] < 3);
        assert_int_equal(a[i], b[i]); /* the same seed, the same folds */
        sizes[a[i]]++;
        same += a[i] == c[i];
    }
    assert_int_equal(sizes[0], 4); /* dealt round robin: 4, 3, 3 */
    assert_int_equal(sizes[1], 3);
    assert_int_equal(sizes[2], 3);
    assert_true(same < 10); /* another seed, another assignment */
    /* the shuffle's stream (splitmix64) is pinned: LOSO figures depend on it */
    static const int32_t seed7[10] = {1, 1, 1, 0, 2, 2, 2, 0, 0, 0};
    static const int32_t seed8[10] = {2, 1, 0, 0, 2, 0, 1, 1, 0, 2};
    assert_memory_equal(a, seed7, sizeof a);
    assert_memory_equal(c, seed8, sizeof c);
}

/* Three sources of a two-label problem in 2 dimensions: the label is the sign
 * of x0; each source shifts x1 (its "style"), which says nothing about the label. */
static void styled(float *X, int32_t *y, int32_t *src, size_t n)
{
    uint64_t st = 99;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(st >> 11) / 9007199254740992.0;
        y[i] = (int32_t)(i % 2);
        src[i] = (int32_t)(i % 3);
        X[2 * i] = (float)((y[i] ? 1 : -1) * (0.5 + u));
        X[2 * i + 1] = (float)(3.0 * src[i] + u);
    }
}

static void test_loso_loop(void **state)
{
    (void)state;
    enum { N = 90 };
    float X[2 * N];
    int32_t y[N], src[N];
    styled(X, y, src, N);
    double lg[N * 2];
    for (size_t i = 0; i < N * 2; i++)
        lg[i] = NAN;
    /* every source held out in turn: every row gets held-out logits, all right */
    assert_int_equal(loco_route_crossval(X, y, src, N, 2, 3, 2, NULL, lg), LOCO_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(isfinite(lg[2 * i]) && isfinite(lg[2 * i + 1]));
        assert_int_equal(lg[2 * i + 1] > lg[2 * i], y[i]);
    }
    /* the held-out rows of a fold come from a model that never saw them:
     * refitting on all rows gives other logits for source 0 */
    struct loco_classifier c;
    const char *labels[] = {"a", "b"};
    assert_int_equal(loco_classifier_fit(X, y, N, 2, labels, 2, NULL, &c), LOCO_OK);
    double p[2];
    loco_classifier_probs(&c, X, p);
    assert_true(fabs(log(p[1]) - log(p[0]) - (lg[1] - lg[0])) > 1e-6);
    loco_classifier_free(&c);
    /* temperatures: one per source, none fitted on its own rows, all positive */
    double t[3], t_all = 0;
    loco_route_temperatures(lg, y, src, N, 2, 3, t, &t_all);
    for (int g = 0; g < 3; g++)
        assert_true(t[g] > 0.05 && t[g] < 20);
    assert_true(t_all > 0.05 && t_all < 20);
    /* a group that holds every row leaves nothing to train on */
    int32_t one[N] = {0};
    assert_int_equal(loco_route_crossval(X, y, one, N, 2, 1, 2, NULL, lg), LOCO_ERR_INVALID);
    /* per-source scores: Wilson interval per source, the pooled bench */
    struct loco_route_eval *e = calloc(1, sizeof *e);
    assert_int_equal(loco_route_eval_add(e, "s1", "math", "math", 0.9), LOCO_OK);
    assert_int_equal(loco_route_eval_add(e, "s1", "math", "base", 0.6), LOCO_OK);
    assert_int_equal(loco_route_eval_add(e, "s2", "code", "code", 0.8), LOCO_OK);
    loco_route_eval_finish(e);
    assert_int_equal(e->n_sources, 2);
    assert_string_equal(e->src[0].name, "s1");
    assert_true(e->src[0].accuracy == 0.5 && e->src[1].accuracy == 1);
    assert_true(e->src[0].ci.lo == loco_wilson(1, 2, 1.96).lo);
    assert_int_equal(e->all.n, 3);
    char *json = loco_route_eval_json(e, "leave-one-source-out", "keyword");
    assert_non_null(strstr(json, "\"sources\""));
    assert_non_null(strstr(json, "\"protocol\":\t\"leave-one-source-out\""));
    free(json);
    free(e);
}

static void test_source_weights(void **state)
{
    (void)state;
    /* label 0 from a big source (x0 = +1 with noise) and a small one that
     * sits near label 1; with each source weighing the same, the small
     * source's rows are learned, without it they are outvoted */
    enum { N = 130 };
    float X[N];
    int32_t y[N], src[N];
    for (int i = 0; i < N; i++) {
        bool big = i < 100, small = i >= 100 && i < 110;
        y[i] = big || small ? 0 : 1;
        src[i] = big ? 0 : small ? 1 : 2;
        X[i] = big ? 1.0f + 0.01f * (float)(i % 7) : small ? -0.2f : -1.0f + 0.01f * (float)(i % 5);
    }
    const char *labels[] = {"a", "b"};
    struct loco_classifier_params p = loco_classifier_default_params();
    struct loco_classifier plain, even;
    assert_int_equal(loco_classifier_fit(X, y, N, 1, labels, 2, &p, &plain), LOCO_OK);
    p.source = src;
    assert_int_equal(loco_classifier_fit(X, y, N, 1, labels, 2, &p, &even), LOCO_OK);
    double pp[2], pe[2];
    float x = -0.2f;
    loco_classifier_probs(&plain, &x, pp);
    loco_classifier_probs(&even, &x, pe);
    assert_true(pe[0] > pp[0]); /* the small source counts for more */
    loco_classifier_free(&even);
    int32_t bad[N];
    memcpy(bad, src, sizeof bad);
    bad[3] = -1;
    p.source = bad;
    assert_int_equal(loco_classifier_fit(X, y, N, 1, labels, 2, &p, &even), LOCO_ERR_RANGE);
    loco_classifier_free(&plain);
}

static void test_lexical(void **state)
{
    (void)state;
    enum { V = 4096 };
    float a[V], b[V], c[V];
    struct loco_route_features lx = {.hash_dim = V, .lex_scale = 8.0};
    loco_route_lexical("Write a poem about the sea", &lx, a);
    loco_route_lexical("write a POEM about the sea", &lx, b); /* case does not matter */
    loco_route_lexical("The sea.\nWrite a poem about it", &lx, c);
    double na = 0, diff = 0, diff_c = 0;
    for (int j = 0; j < V; j++) {
        na += (double)a[j] * a[j];
        diff += fabs(a[j] - b[j]);
        diff_c += fabs(a[j] - c[j]);
        assert_true(a[j] >= 0);
    }
    assert_true(fabs(sqrt(na) - 8.0) < 1e-4); /* scaled to lex_scale */
    assert_true(diff < 1e-6);
    assert_true(diff_c > 1e-3); /* word pairs and the instruction's words differ */

    /* lex_lead: a pasted text between the instruction lines is not read; a
     * one-line query reads the same either way */
    static const char q1[] = "Summarise this article.\nPrices rose and the bank cut its rates.\n"
                             "In one line please.",
                      q2[] = "Summarise this article.\nA python wrote code in the garden shed.\n"
                             "In one line please.";
    struct loco_route_features lead = lx;
    lead.lex_lead = true;
    float d[V], e[V];
    loco_route_lexical(q1, &lead, d);
    loco_route_lexical(q2, &lead, e);
    assert_memory_equal(d, e, sizeof d);
    loco_route_lexical(q1, &lx, d);
    loco_route_lexical(q2, &lx, e);
    double diff_body = 0;
    for (int j = 0; j < V; j++)
        diff_body += fabs(d[j] - e[j]);
    assert_true(diff_body > 1e-3);
    loco_route_lexical("Write a poem about the sea", &lead, d);
    assert_memory_equal(a, d, sizeof d);
    /* the last line is read only when it is short: a long last line is text */
    loco_route_lexical("Summarise this.\nOne two three four five six seven eight nine ten eleven "
                       "twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
                       "a b c d e f g h i j k",
                       &lead, d);
    loco_route_lexical("Summarise this.\nUno dos tres cuatro cinco seis siete ocho nueve diez once "
                       "doce trece catorce quince dieciseis diecisiete dieciocho diecinueve veinte "
                       "a b c d e f g h i j k",
                       &lead, e);
    assert_memory_equal(d, e, sizeof d);
    struct loco_route_features f = loco_route_features_default();
    assert_int_equal(loco_route_features_parse_layers(&f, "2,5", 30), LOCO_OK);
    assert_int_equal(f.n_pool, 2);
    assert_int_equal(f.layers[1], 5);
    assert_int_equal(loco_route_features_dense(&f, 10), 40);
    f.n_keyword = 6;
    assert_int_equal(loco_route_features_dim(&f, 10), 40 + f.hash_dim + 6);
    assert_int_equal(loco_route_features_parse_layers(&f, "5,2", 30), LOCO_ERR_INVALID);
    assert_int_equal(loco_route_features_parse_layers(&f, "31", 30), LOCO_ERR_INVALID);
    assert_int_equal(loco_route_features_parse_layers(&f, "none", 30), LOCO_OK);
    assert_int_equal(f.n_pool, 0);
}

static void test_keyword_needs_number(void **state)
{
    (void)state;
    char a[1024], all[4096];
    adapter_yaml(a, sizeof a, "m", "math", "active", "\"+how many\", solve", NULL);
    snprintf(all, sizeof all,
             "schema_version: 2\nbase_model: {name: T, file: t.gguf, sha256: " SHA_B
             ", architecture: llama, academic_year: \"2026\"}\n"
             "domains:\n  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
             "adapters:\n%s",
             a);
    test_write_file(reg_path, all);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = reg_path;
    p.user_path = "";
    struct loco_registry *reg = loco_registry_load(&p);
    assert_non_null(reg);
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, "keyword");
    struct loco_route_decision d;
    /* "+how many" counts only when the query holds a number */
    assert_int_equal(loco_route(r, "How many bones are in the human body?", &d), LOCO_OK);
    assert_string_equal(d.domain, "base");
    assert_int_equal(loco_route(r, "How many apples are left if I eat 3 of 10?", &d), LOCO_OK);
    assert_string_equal(d.domain, "math");
    assert_int_equal(loco_route(r, "How many eggs in a dozen boxes of twelve?", &d), LOCO_OK);
    assert_string_equal(d.domain, "math");
    assert_non_null(strstr(d.reason, "'how many'")); /* named without its '+' */
    /* a short last line is an instruction too: "solve" there counts twice */
    const char *kw[] = {"solve"};
    assert_true(loco_keyword_score("A long text.\nMore text.\nPlease solve it.", kw, 1) == 2);
    assert_true(loco_keyword_score("Solve it.\nMore text.\nThe end.", kw, 1) == 2);
    assert_true(loco_keyword_score("A text.\nWe solve it.\nThe end.", kw, 1) == 1);
    loco_router_close(r);
    loco_registry_free(reg);
}

static void test_featurizer(void **state)
{
    (void)state;
    struct loco_model *m = test_stories();
    if (!m)
        skip();
    const int32_t C = loco_model_hparams(m)->n_embd, L = loco_model_hparams(m)->n_layer;
    struct loco_route_features f = loco_route_features_default();
    f.n_pool = 2;
    f.layers[0] = 1;
    f.layers[1] = L; /* the last one read from the final state */
    f.head_tokens = 6;
    f.tail_tokens = 2;
    f.hash_dim = 64;
    struct loco_route_featurizer *z = loco_route_featurizer_init(m, NULL, &f, 1);
    assert_non_null(z);
    int32_t dim = loco_route_features_dim(&f, C);
    float *a = malloc((size_t)dim * sizeof *a), *b = malloc((size_t)dim * sizeof *b);
    float *h = malloc((size_t)C * sizeof *h);
    const char *q = "Once upon a time there was a little cat who liked to sing all day";
    assert_int_equal(loco_route_featurize(z, q, a), LOCO_OK);
    assert_int_equal(loco_route_featurize(z, q, b), LOCO_OK); /* the same twice */
    for (int32_t j = 0; j < dim; j++)
        assert_true(a[j] == b[j]);
    /* the last layer's last-token vector is the full model's final hidden
     * state of the 8 tokens read: the first 6 and the last 2 */
    int32_t *toks = NULL;
    size_t n = 0;
    assert_int_equal(loco_tokenizer_encode(loco_model_tokenizer(m), q, strlen(q), true, false,
                                           &toks, &n),
                     LOCO_OK);
    assert_true(n > 8);
    int32_t read[8], pos[8], seq[8] = {0};
    for (int i = 0; i < 8; i++) {
        read[i] = i < 6 ? toks[i] : toks[n - 8 + (size_t)i];
        pos[i] = i;
    }
    struct loco_context *ctx = embed_ctx(m, 8);
    struct loco_batch bt = {8, read, pos, seq, NULL};
    assert_int_equal(loco_decode(ctx, &bt), LOCO_OK);
    assert_int_equal(loco_context_hidden(ctx, 7, h), LOCO_OK);
    const float *last = a + 2 * (size_t)C + (size_t)C; /* pooled layer 2, last token */
    for (int32_t j = 0; j < C; j++)
        assert_true(fabsf(last[j] - h[j]) < 1e-4f * (1 + fabsf(h[j])));
    /* a keyword block needs a registry that fits it */
    f.n_keyword = 4;
    assert_null(loco_route_featurizer_init(m, NULL, &f, 1));
    free(toks);
    free(a);
    free(b);
    free(h);
    loco_context_free(ctx);
    loco_route_featurizer_free(z);
    loco_model_free(m);
}

static void test_classifier_file_v2(void **state)
{
    (void)state;
    float X[60 * 4];
    int32_t y[60];
    blobs(X, y, 60, 0);
    const char *labels[] = {"math", "code", "base"};
    struct loco_classifier_params p = loco_classifier_default_params();
    p.n_dense = 1; /* column 0 standardised, 1-3 lexical-like */
    struct loco_classifier c, back;
    assert_int_equal(loco_classifier_fit(X, y, 60, 4, labels, 3, &p, &c), LOCO_OK);
    assert_int_equal(c.n_dense, 1);
    assert_true(c.mean[2] == 0 && c.std[2] == 1); /* used as they are */
    c.features = loco_route_features_default();
    c.features.n_pool = 1;
    c.features.layers[0] = 3;
    c.features.hash_dim = 1;
    c.features.n_keyword = 2;
    c.features.lex_lead = true;
    /* 1 dense + 1 hashed + 2 keyword columns: not 2 x n_embd, but the file
     * checks only that the parts add up to dim */
    char path[128];
    snprintf(path, sizeof path, "%s/c2.json", dir);
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    assert_int_equal(loco_classifier_load(path, &back), LOCO_OK);
    assert_int_equal(back.n_dense, 1);
    assert_int_equal(back.features.n_pool, 1);
    assert_int_equal(back.features.layers[0], 3);
    assert_int_equal(back.features.hash_dim, 1);
    assert_int_equal(back.features.n_keyword, 2);
    assert_true(fabs(back.features.kw_scale - c.features.kw_scale) < 1e-12);
    assert_true(back.features.lex_lead);
    double a[3], b[3];
    loco_classifier_probs(&c, X, a);
    loco_classifier_probs(&back, X, b);
    for (int l = 0; l < 3; l++)
        assert_true(fabs(a[l] - b[l]) < 1e-5);
    loco_classifier_free(&back);
    c.features.hash_dim = 5; /* parts no longer add up to dim */
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    assert_int_equal(loco_classifier_load(path, &back), LOCO_ERR_FORMAT);
    assert_non_null(strstr(loco_error_message(), "do not make dim"));
    /* a file without lex_lead (written before it existed) reads all words */
    c.features.hash_dim = 1;
    c.features.lex_lead = false;
    assert_int_equal(loco_classifier_save(&c, path), LOCO_OK);
    assert_int_equal(loco_classifier_load(path, &back), LOCO_OK);
    assert_false(back.features.lex_lead);
    loco_classifier_free(&back);
    unlink(path);
    loco_classifier_free(&c);
}

/* ---- the learned router ---------------------------------------------------------- */

/* math, code and writing, each with an active adapter and a few keywords */
static struct loco_registry *learned_registry(void)
{
    char a[1024], b[1024], c[1024], all[8192];
    adapter_yaml(a, sizeof a, "math", "math", "active", "how many, total, sum", NULL);
    adapter_yaml(b, sizeof b, "code", "code", "active", "python, function, write a function", NULL);
    adapter_yaml(c, sizeof c, "writing", "writing", "active", "you are a, poem", NULL);
    snprintf(all, sizeof all,
             "schema_version: 2\n"
             "base_model: {name: T, file: t.gguf, sha256: " SHA_B ", architecture: llama, "
             "academic_year: \"2026\"}\n"
             "domains:\n  math: {primary_benchmark: gsm8k, benchmarks: [gsm8k]}\n"
             "  code: {primary_benchmark: mbpp, benchmarks: [mbpp]}\n"
             "  writing: {primary_benchmark: judge, benchmarks: [judge]}\n"
             "adapters:\n%s%s%s",
             a, b, c);
    test_write_file(reg_path, all);
    struct loco_registry_params p = loco_registry_default_params();
    p.project_path = reg_path;
    p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r)
        fail_msg("%s", loco_error_message());
    return r;
}

/* An empty exchange log for the learned router to read, at log_path
 * (LOCO_LOG_DB, in the test's folder: never the user's log). */
static struct loco_exchlog *fresh_log(void)
{
    remove_log(log_path);
    struct loco_exchlog *log = NULL;
    if (loco_exchlog_open(log_path, &log) != LOCO_OK)
        fail_msg("%s", loco_error_message());
    return log;
}


static struct loco_router *open_router(struct loco_registry *reg, const char *name)
{
    struct loco_router_env env = {.reg = reg};
    struct loco_router *r = loco_router_open(&env, name);
    if (!r)
        fail_msg("%s", loco_error_message());
    return r;
}

static const char *const probe[] = {
    "How many marbles in total?", "Write a function in python", "sum in python",
    "You are a pirate. Greet the crew.", "What is the capital of France?", "",
    "Hello there.\nThe sum is large.",
};

static void same_decisions(struct loco_router *kw, struct loco_router *learned)
{
    struct loco_route_decision a, b;
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        assert_int_equal(loco_route(kw, probe[i], &a), LOCO_OK);
        assert_int_equal(loco_route(learned, probe[i], &b), LOCO_OK);
        assert_string_equal(b.router, "learned");
        assert_string_equal(a.domain, b.domain);
        assert_string_equal(a.adapter, b.adapter);
        for (size_t l = 0; l < a.n; l++)
            assert_true(fabs(a.prob[l] - b.prob[l]) < 1e-12);
        assert_non_null(strstr(b.reason, "learned from 0 feedback records"));
        assert_non_null(strstr(b.reason, a.reason));
    }
}

static void test_learned_without_feedback(void **state)
{
    (void)state;
    remove_log(log_path);
    struct loco_registry *reg = learned_registry();
    struct loco_router *kw = open_router(reg, "keyword");
    assert_non_null(loco_router_find("learned"));
    struct loco_router *learned = open_router(reg, "learned"); /* no log file */
    same_decisions(kw, learned);
    assert_int_equal(access(log_path, F_OK), -1); /* reading does not create the log */
    loco_router_close(learned);

    /* exchanges without feedback teach nothing */
    struct loco_exchlog *log = fresh_log();
    struct loco_route_decision d;
    assert_int_equal(loco_route(kw, "How many marbles?", &d), LOCO_OK);
    test_log_one(log, "How many marbles?", &d, "math");
    loco_exchlog_close(log);
    learned = open_router(reg, "learned");
    same_decisions(kw, learned);
    loco_router_close(learned);

    /* a log that is not a log: the router refuses with the reason */
    remove_log(log_path);
    test_write_file(log_path, "not a database, only some text that is long enough to be checked\n");
    struct loco_router_env env = {.reg = reg};
    assert_null(loco_router_open(&env, "learned"));
    assert_non_null(strstr(loco_error_message(), "not an SQLite database"));
    remove_log(log_path);
    loco_router_close(kw);
    loco_registry_free(reg);
}

/* Route `query`, log it and judge it: right domain `label`. */
static void judge(struct loco_exchlog *log, struct loco_router *r, const char *query,
                  const char *label)
{
    struct loco_route_decision d;
    assert_int_equal(loco_route(r, query, &d), LOCO_OK);
    int64_t id = test_log_one(log, query, &d, d.adapter);
    bool good = !strcmp(d.domain, label);
    assert_int_equal(loco_exchlog_feedback(log, id, good, good ? NULL : label), LOCO_OK);
}

static void test_learned_feedback_fixes_a_route(void **state)
{
    (void)state;
    struct loco_registry *reg = learned_registry();
    struct loco_router *kw = open_router(reg, "keyword");
    const char *query = "Pretend to be a pirate captain and give a speech to the crew";
    struct loco_route_decision d;
    assert_int_equal(loco_route(kw, query, &d), LOCO_OK);
    assert_string_equal(d.domain, "base"); /* no writing keyword: misrouted */

    /* users correct a few role-play requests (not this one) */
    struct loco_exchlog *log = fresh_log();
    const char *roleplay[] = {
        "Pretend to be a knight and describe your castle",
        "Act as a pirate and tell me about your ship",
        "Pretend you are a dragon guarding gold",
        "Give a speech as the captain of a starship crew",
    };
    for (int rep = 0; rep < 2; rep++)
        for (size_t i = 0; i < 4; i++)
            judge(log, kw, roleplay[i], "writing");
    /* and confirm some routes that were right */
    judge(log, kw, "How many marbles in total?", "math");
    judge(log, kw, "Write a function in python", "code");
    judge(log, kw, "What is the capital of France?", "base");
    /* "bad" alone: the sum here is not arithmetic, but nobody said what it is */
    struct loco_route_decision dm;
    assert_int_equal(loco_route(kw, "The sum of human knowledge, in an essay", &dm), LOCO_OK);
    assert_string_equal(dm.domain, "math");
    int64_t id = test_log_one(log, "The sum of human knowledge, in an essay", &dm, "math");
    assert_int_equal(loco_exchlog_feedback(log, id, false, NULL), LOCO_OK);
    loco_exchlog_close(log);

    struct loco_router *learned = open_router(reg, "learned");
    assert_int_equal(loco_route(learned, query, &d), LOCO_OK);
    assert_string_equal(d.domain, "writing");
    assert_string_equal(d.adapter, "writing");
    assert_non_null(strstr(d.reason, "learned from 12 feedback records"));
    assert_true(d.confidence > 0.5);
    /* the training order is a pinned xorshift64 stream (core/rng.h): another
     * order gives 0.893006..., so this catches a changed shuffle */
    assert_near(d.confidence, 0.89305599308242034, 1e-6);
    /* what was right stays right */
    assert_int_equal(loco_route(learned, "How many marbles in total?", &d), LOCO_OK);
    assert_string_equal(d.domain, "math");
    assert_int_equal(loco_route(learned, "Write a function in python", &d), LOCO_OK);
    assert_string_equal(d.domain, "code");
    assert_int_equal(loco_route(learned, "What is the capital of France?", &d), LOCO_OK);
    assert_string_equal(d.domain, "base");
    /* the negative example lowered math for its query */
    struct loco_route_decision after;
    assert_int_equal(loco_route(learned, "The sum of human knowledge, in an essay", &after),
                     LOCO_OK);
    assert_true(after.prob[0] < dm.prob[0]);
    loco_router_close(learned);
    loco_router_close(kw);
    loco_registry_free(reg);
    remove_log(log_path);
}

/* ---- a replayed feedback stream --------------------------------------------------- */

/* Words of each label's queries; none of them is a registry keyword. */
static const char *const stream_vocab[4][8] = {
    {"apples", "coins", "dollars", "price", "minutes", "cost", "each", "remaining"},    /* math */
    {"array", "string", "reverse", "sort", "integer", "loop", "dictionary", "return"}, /* code */
    {"pirate", "knight", "dragon", "villain", "captain", "speech", "wizard", "crew"},  /* writing */
    {"capital", "planet", "river", "volcano", "ocean", "invented", "animal", "history"}, /* base */
};
static const char *const stream_labels[4] = {"math", "code", "writing", "base"};
/* keywords of another domain that mislead the keyword router */
static const char *const decoys[3] = {"sum", "function", "poem"};

static uint32_t next_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* n labelled queries: two or three words of their label, and in one of
 * three a keyword of another domain. */
static struct loco_route_item *stream(size_t n, uint64_t seed)
{
    struct loco_route_item *items = calloc(n, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < n; i++) {
        size_t l = i % 4;
        char q[256];
        int len = snprintf(q, sizeof q, "Tell me about the %s and the %s",
                           stream_vocab[l][next_rand(&seed) % 8],
                           stream_vocab[l][next_rand(&seed) % 8]);
        if (next_rand(&seed) % 2)
            len += snprintf(q + len, sizeof q - (size_t)len, " with a %s",
                            stream_vocab[l][next_rand(&seed) % 8]);
        size_t decoy = next_rand(&seed) % 3;
        if (next_rand(&seed) % 3 == 0 && strcmp(stream_labels[decoy], stream_labels[l]))
            snprintf(q + len, sizeof q - (size_t)len, " and its %s", decoys[decoy]);
        items[i].query = strdup(q);
        items[i].domain = strdup(stream_labels[l]);
    }
    return items;
}

static double accuracy(struct loco_registry *reg, const char *router,
                       const struct loco_route_item *items, size_t n)
{
    struct loco_router *r = open_router(reg, router);
    struct loco_route_bench *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_int_equal(loco_route_bench_run(r, items, n, b), LOCO_OK);
    double acc = b->accuracy;
    free(b);
    loco_router_close(r);
    return acc;
}

static void test_learned_replay_raises_accuracy(void **state)
{
    (void)state;
    struct loco_registry *reg = learned_registry();
    const size_t n_fb = 200, n_test = 100, chunks = 4;
    struct loco_route_item *fb = stream(n_fb, 1), *test = stream(n_test, 2);
    remove_log(log_path);
    double keyword = accuracy(reg, "keyword", test, n_test);
    double acc[5];
    acc[0] = accuracy(reg, "learned", test, n_test);
    assert_true(fabs(acc[0] - keyword) < 1e-12); /* no feedback yet */
    for (size_t c = 0; c < chunks; c++) {
        struct loco_exchlog *log;
        assert_int_equal(loco_exchlog_open(log_path, &log), LOCO_OK);
        struct loco_router *r = open_router(reg, "learned");
        size_t good = 0, from = n_fb * c / chunks, to = n_fb * (c + 1) / chunks;
        assert_int_equal(loco_learned_replay(log, r, fb + from, to - from, &good), LOCO_OK);
        assert_true(good <= to - from);
        loco_router_close(r);
        assert_int_equal(loco_exchlog_count(log, true), (int64_t)to);
        loco_exchlog_close(log);
        acc[c + 1] = accuracy(reg, "learned", test, n_test);
    }
    printf("keyword %.2f; learned after 0/50/100/150/200 feedback records: %.2f %.2f %.2f %.2f "
           "%.2f\n", keyword, acc[0], acc[1], acc[2], acc[3], acc[4]);
    assert_true(keyword < 0.5);          /* the stream defeats the keywords */
    assert_true(acc[1] > keyword + 0.2); /* a first chunk already helps */
    assert_true(acc[4] >= 0.9);
    assert_true(acc[4] >= acc[1]);
    loco_route_items_free(fb, n_fb);
    loco_route_items_free(test, n_test);
    loco_registry_free(reg);
    remove_log(log_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),         cmocka_unit_test(test_keyword_score), cmocka_unit_test(test_keyword_pasted_text),
        cmocka_unit_test(test_keyword_decisions), cmocka_unit_test(test_adapter_for),
        cmocka_unit_test(test_bench_metrics), cmocka_unit_test(test_items_load),
        cmocka_unit_test(test_classifier_fit), cmocka_unit_test(test_classifier_calibrate),
        cmocka_unit_test(test_classifier_file), cmocka_unit_test(test_embed),
        cmocka_unit_test(test_classifier_router), cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_confidence_search), cmocka_unit_test(test_classifier_measure),
        cmocka_unit_test(test_adapter_direction), cmocka_unit_test(test_arrow_router),
        cmocka_unit_test(test_wilson),        cmocka_unit_test(test_bench_add_f1),
        cmocka_unit_test(test_folds),         cmocka_unit_test(test_loso_loop),
        cmocka_unit_test(test_source_weights), cmocka_unit_test(test_lexical),
        cmocka_unit_test(test_keyword_needs_number), cmocka_unit_test(test_featurizer),
        cmocka_unit_test(test_classifier_file_v2),
        cmocka_unit_test(test_learned_without_feedback),
        cmocka_unit_test(test_learned_feedback_fixes_a_route),
        cmocka_unit_test(test_learned_replay_raises_accuracy),
    };
    return LOCO_RUN_TESTS(tests, setup, teardown);
}
