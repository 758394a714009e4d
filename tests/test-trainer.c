/*
 * test-trainer.c - the trainer's forward against the inference engine, and
 * its behaviour as an optimizer's client.
 *
 * 1. A fresh trainer (B = 0) computes the function the engine computes:
 *    its loss equals the cross-entropy of loco_decode's f32-activation
 *    logits on stories260K (a real llama) and on the golden tiny qwen2
 *    (q/k/v biases, NEOX rope), and its logits (read white-box from the
 *    trainer's buffer) match the engine's.
 * 2. Determinism: the same seed gives the same initial parameters and
 *    bit-identical gradients; dropout masks follow the dropout seed.
 * 3. Plain SGD on a repeated sequence lowers its loss.
 * 4. An adapter exported after some SGD steps (B != 0) gives at run time
 *    (loco_context_set_adapters) the logits of the trainer's forward.
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

#include "loco/lora.h"
#include "loco/train.h"
#include "testutil.h"
#include "train/core/trainer_internal.h"

#define STORIES "fixtures/models/stories260K.gguf"
#define TINY_QWEN2 "fixtures/golden/tiny-qwen2-F32.gguf"

enum { N = 40, NMAX = 120 };

static struct loco_model *load(const char *rel)
{
    char path[1024];
    if (!test_shared_path(rel, path, sizeof path))
        return NULL;
    struct loco_model_params mp = loco_model_default_params();
    mp.matmul_mode = LOCO_MATMUL_F32_ACT;
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(path, mp);
    if (!m)
        fail_msg("loading %s: %s", path, loco_error_message());
    return m;
}

/* a fixed pseudo-text of N ids below n_vocab */
static void make_tokens_n(int32_t *tok, int n, int32_t n_vocab)
{
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        tok[i] = (int32_t)((x >> 8) % (uint32_t)n_vocab);
    }
    tok[0] = 1;
}

static void make_tokens(int32_t *tok, int32_t n_vocab)
{
    make_tokens_n(tok, N, n_vocab);
}

static struct loco_trainer *trainer(const struct loco_model *m, float dropout, unsigned targets,
                                    uint64_t seed)
{
    struct loco_lora_config cfg = {
        .rank = 4, .alpha = 8.0f, .dropout = dropout, .targets = targets};
    struct loco_trainer *t = loco_trainer_create(m, &cfg, 64, 2, seed);
    if (!t)
        fail_msg("trainer: %s", loco_error_message());
    return t;
}

/* Engine logits at every position of tok[0..n) (optionally under an
 * adapter) into out [n][V]. */
static void engine_logits(const struct loco_model *m, const struct loco_adapter *a,
                          const int32_t *tok, int n, float *out)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = NMAX;
    cp.n_batch = NMAX;
    cp.n_threads = 2;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    if (a) {
        struct loco_adapter_ref ref = {.adapter = a, .scale = 1.0f};
        assert_int_equal(loco_context_set_adapters(c, 0, &ref, 1), LOCO_OK);
    }
    int32_t pos[NMAX], seq[NMAX];
    bool want[NMAX];
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        seq[i] = 0;
        want[i] = true;
    }
    struct loco_batch b = {.n = n, .tokens = tok, .pos = pos, .seq = seq, .want_logits = want};
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    int32_t V = loco_model_hparams(m)->n_vocab;
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * V, loco_context_logits(c, i), (size_t)V * sizeof(float));
    loco_context_free(c);
}

/* sum over targets i of -log softmax(logits[i-1])[tok[i]], in double */
static double engine_loss(const float *logits, int32_t V, const int32_t *tok, const uint8_t *target,
                          int n)
{
    double total = 0.0;
    for (int i = 1; i < n; i++) {
        if (!target[i])
            continue;
        const float *l = logits + (size_t)(i - 1) * V;
        double max = -INFINITY, sum = 0.0;
        for (int v = 0; v < V; v++)
            max = fmax(max, l[v]);
        for (int v = 0; v < V; v++)
            sum += exp(l[v] - max);
        total += max + log(sum) - l[tok[i]];
    }
    return total;
}

/* White-box: after loco_trainer_loss with targets at every position
 * (n <= 64 rows: one chunk) the trainer's logits buffer holds row i-1 for
 * target i. Returns max |trainer - engine|. */
static double logits_diff(const struct loco_trainer *t, const float *ref, int32_t V, int n)
{
    double worst = 0.0;
    for (int r = 0; r < n - 1; r++)
        for (int v = 0; v < V; v++)
            worst = fmax(worst, fabs((double)t->s.logits[(size_t)r * V + v] -
                                     (double)ref[(size_t)r * V + v]));
    return worst;
}

/* ---- 1. the trainer's forward is the engine's ---------------------------------------- */

static void check_matches_engine(const char *rel)
{
    struct loco_model *m = load(rel);
    if (!m)
        skip();
    int32_t V = loco_model_hparams(m)->n_vocab, tok[N];
    make_tokens(tok, V);
    float *ref = malloc((size_t)N * V * sizeof(float));
    engine_logits(m, NULL, tok, N, ref);
    struct loco_trainer *t = trainer(m, 0.0f, LOCO_LORA_ALL_TARGETS, 7);
    uint8_t all[N], half[N];
    for (int i = 0; i < N; i++) {
        all[i] = i > 0;
        half[i] = i >= N / 2 && i != N - 3; /* second half, one gap */
    }
    double loss;
    int32_t n_targets;
    assert_int_equal(loco_trainer_loss(t, tok, all, N, &loss, &n_targets), LOCO_OK);
    assert_int_equal(n_targets, N - 1);
    double ref_loss = engine_loss(ref, V, tok, all, N), diff = logits_diff(t, ref, V, N);
    printf("%s: loss %.6f, engine %.6f; max |dlogit| %.2e\n", rel, loss, ref_loss, diff);
    assert_true(fabs(loss - ref_loss) < 1e-4 * fabs(ref_loss));
    assert_true(diff < 1e-3);
    assert_int_equal(loco_trainer_loss(t, tok, half, N, &loss, &n_targets), LOCO_OK);
    assert_int_equal(n_targets, N / 2 - 1);
    ref_loss = engine_loss(ref, V, tok, half, N);
    assert_true(fabs(loss - ref_loss) < 1e-4 * fabs(ref_loss));
    /* forward_backward reports the same loss */
    double loss_fb;
    assert_int_equal(loco_trainer_forward_backward(t, tok, half, N, 1.0f, 3, &loss_fb, &n_targets),
                     LOCO_OK);
    assert_true(loss_fb == loss);
    loco_trainer_free(t);
    free(ref);
    loco_model_free(m);
}

static void test_stories_matches_engine(void **state)
{
    check_matches_engine(STORIES);
}

static void test_qwen2_matches_engine(void **state)
{
    check_matches_engine(TINY_QWEN2);
}

/* Longer than one attention block (64 rows) and one logits chunk: the
 * loss still matches, with targets everywhere and on a tail. */
static void test_long_sequence_matches_engine(void **state)
{
    struct loco_model *m = load(STORIES);
    if (!m)
        skip();
    int32_t V = loco_model_hparams(m)->n_vocab, tok[NMAX];
    make_tokens_n(tok, NMAX, V);
    float *ref = malloc((size_t)NMAX * V * sizeof(float));
    engine_logits(m, NULL, tok, NMAX, ref);
    struct loco_lora_config cfg = {.rank = 4, .alpha = 8.0f, .targets = LOCO_LORA_ALL_TARGETS};
    struct loco_trainer *t = loco_trainer_create(m, &cfg, NMAX, 2, 1);
    assert_non_null(t);
    uint8_t tgt[NMAX];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < NMAX; i++)
            tgt[i] = k == 0 ? i > 0 : i >= 70 && i < 110;
        double loss, ref_loss = engine_loss(ref, V, tok, tgt, NMAX);
        int32_t nt;
        assert_int_equal(loco_trainer_loss(t, tok, tgt, NMAX, &loss, &nt), LOCO_OK);
        assert_int_equal(nt, k == 0 ? NMAX - 1 : 40);
        printf("%d tokens, %d targets: loss %.6f, engine %.6f\n", NMAX, nt, loss, ref_loss);
        assert_true(fabs(loss - ref_loss) < 1e-4 * fabs(ref_loss));
    }
    loco_trainer_free(t);
    free(ref);
    loco_model_free(m);
}

static void test_rejects_bad_sequences(void **state)
{
    struct loco_model *m = load(STORIES);
    if (!m)
        skip();
    struct loco_trainer *t = trainer(m, 0.0f, LOCO_LORA_ALL_TARGETS, 7);
    int32_t tok[N];
    uint8_t tgt[N] = {0};
    make_tokens(tok, 512);
    double loss = -1.0;
    int32_t nt = -1;
    /* no targets: nothing to learn, loss 0 */
    assert_int_equal(loco_trainer_forward_backward(t, tok, tgt, N, 1.0f, 0, &loss, &nt), LOCO_OK);
    assert_true(loss == 0.0 && nt == 0);
    assert_int_equal(loco_trainer_loss(t, tok, tgt, 65, &loss, &nt),
                     LOCO_ERR_INVALID); /* > max_seq */
    tok[3] = 512;
    assert_int_equal(loco_trainer_loss(t, tok, tgt, N, &loss, &nt), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "vocabulary"));
    loco_trainer_free(t);
    loco_model_free(m);
}

/* ---- 2. determinism ------------------------------------------------------------------- */

static float *grads_of(struct loco_trainer *t, const int32_t *tok, const uint8_t *tgt,
                       uint64_t dseed, double *loss)
{
    int32_t nt;
    loco_trainer_zero_grads(t);
    assert_int_equal(loco_trainer_forward_backward(t, tok, tgt, N, 0.5f, dseed, loss, &nt),
                     LOCO_OK);
    size_t n = loco_trainer_n_params(t);
    float *g = malloc(n * sizeof(float));
    memcpy(g, loco_trainer_grads(t), n * sizeof(float));
    return g;
}

/* SGD steps so that B (and thereby dA) is non-zero */
static void sgd(struct loco_trainer *t, const int32_t *tok, const uint8_t *tgt, int steps, float lr,
                double *first, double *last)
{
    size_t n = loco_trainer_n_params(t);
    for (int s = 0; s < steps; s++) {
        double loss;
        int32_t nt;
        loco_trainer_zero_grads(t);
        assert_int_equal(
            loco_trainer_forward_backward(t, tok, tgt, N, 1.0f, (uint64_t)s, &loss, &nt), LOCO_OK);
        float *p = loco_trainer_params(t);
        const float *g = loco_trainer_grads(t);
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * g[i] / (float)nt; /* mean loss per target */
        if (s == 0 && first)
            *first = loss / nt;
        if (last)
            *last = loss / nt;
    }
}

static void test_deterministic(void **state)
{
    struct loco_model *m = load(STORIES);
    if (!m)
        skip();
    struct loco_trainer *a = trainer(m, 0.0f, LOCO_LORA_ALL_TARGETS, 11);
    struct loco_trainer *b = trainer(m, 0.0f, LOCO_LORA_ALL_TARGETS, 11);
    struct loco_trainer *c = trainer(m, 0.0f, LOCO_LORA_ALL_TARGETS, 12);
    size_t n = loco_trainer_n_params(a);
    assert_int_equal(memcmp(loco_trainer_params(a), loco_trainer_params(b), n * sizeof(float)), 0);
    assert_int_not_equal(memcmp(loco_trainer_params(a), loco_trainer_params(c), n * sizeof(float)),
                         0);
    int32_t tok[N];
    uint8_t tgt[N];
    make_tokens(tok, 512);
    for (int i = 0; i < N; i++)
        tgt[i] = i > 4;
    sgd(a, tok, tgt, 2, 0.5f, NULL, NULL);
    sgd(b, tok, tgt, 2, 0.5f, NULL, NULL);
    double la, lb, la2;
    float *ga = grads_of(a, tok, tgt, 0, &la), *gb = grads_of(b, tok, tgt, 0, &lb);
    float *ga2 = grads_of(a, tok, tgt, 0, &la2);
    assert_true(la == lb && la == la2);
    assert_int_equal(memcmp(ga, gb, n * sizeof(float)), 0);
    assert_int_equal(memcmp(ga, ga2, n * sizeof(float)), 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++)
        nonzero += ga[i] != 0.0f;
    assert_true(nonzero > n * 9 / 10); /* B != 0 after SGD: A gets gradients too */
    free(ga);
    free(gb);
    free(ga2);
    loco_trainer_free(a);
    loco_trainer_free(b);
    loco_trainer_free(c);
    loco_model_free(m);
}

static void test_dropout_follows_seed(void **state)
{
    struct loco_model *m = load(STORIES);
    if (!m)
        skip();
    struct loco_trainer *t = trainer(m, 0.2f, LOCO_LORA_ALL_TARGETS, 5);
    int32_t tok[N];
    uint8_t tgt[N];
    make_tokens(tok, 512);
    for (int i = 0; i < N; i++)
        tgt[i] = i > 0;
    sgd(t, tok, tgt, 1, 0.5f, NULL, NULL); /* B != 0: dropout reaches the loss */
    size_t n = loco_trainer_n_params(t);
    double l1, l1b, l2, l0;
    float *g1 = grads_of(t, tok, tgt, 1, &l1), *g1b = grads_of(t, tok, tgt, 1, &l1b);
    float *g2 = grads_of(t, tok, tgt, 2, &l2);
    assert_true(l1 == l1b);
    assert_int_equal(memcmp(g1, g1b, n * sizeof(float)), 0);
    assert_true(l1 != l2);
    assert_int_not_equal(memcmp(g1, g2, n * sizeof(float)), 0);
    /* loco_trainer_loss runs without dropout */
    int32_t nt;
    assert_int_equal(loco_trainer_loss(t, tok, tgt, N, &l0, &nt), LOCO_OK);
    assert_true(l0 != l1 && l0 != l2);
    free(g1);
    free(g1b);
    free(g2);
    loco_trainer_free(t);
    loco_model_free(m);
}

/* ---- 3. SGD learns --------------------------------------------------------------------- */

static void test_sgd_lowers_loss(void **state)
{
    struct loco_model *m = load(STORIES);
    if (!m)
        skip();
    unsigned qv = LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_V);
    unsigned masks[2] = {LOCO_LORA_ALL_TARGETS, qv};
    for (int k = 0; k < 2; k++) {
        struct loco_trainer *t = trainer(m, 0.0f, masks[k], 3);
        int32_t tok[N];
        uint8_t tgt[N];
        make_tokens(tok, 512);
        for (int i = 0; i < N; i++)
            tgt[i] = i > 0;
        double first = 0.0, last = 0.0;
        sgd(t, tok, tgt, 12, 1.0f, &first, &last);
        printf("SGD, targets 0x%x: mean loss %.4f -> %.4f in 12 steps\n", masks[k], first, last);
        assert_true(last < 0.8 * first);
        loco_trainer_free(t);
    }
    loco_model_free(m);
}

/* ---- 4. an exported adapter reproduces the trainer ----------------------------------- */

static void test_exported_adapter_matches(void **state)
{
    struct loco_model *m = load(STORIES);
    if (!m)
        skip();
    int32_t V = loco_model_hparams(m)->n_vocab, tok[N];
    make_tokens(tok, V);
    uint8_t all[N];
    for (int i = 0; i < N; i++)
        all[i] = i > 0;
    struct loco_trainer *t = trainer(m, 0.1f, LOCO_LORA_ALL_TARGETS, 9);
    sgd(t, tok, all, 4, 1.0f, NULL, NULL);
    char path[512];
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/loco-test-trainer-%d.gguf", dir, (int)getpid());
    struct loco_adapter_meta meta = {.name = "test"};
    assert_int_equal(loco_trainer_save_adapter(t, path, &meta, LOCO_TYPE_F32), LOCO_OK);
    struct loco_adapter *a = loco_adapter_load(path, m);
    if (!a)
        fail_msg("loading the exported adapter: %s", loco_error_message());
    const struct loco_adapter_info *info = loco_adapter_info(a);
    assert_string_equal(info->arch, "llama");
    assert_float_equal(info->alpha, 8.0f, 0.0);
    assert_int_equal(info->rank, 4);
    assert_int_equal(info->targets, LOCO_LORA_ALL_TARGETS);
    float *base = malloc((size_t)N * V * sizeof(float)),
          *ref = malloc((size_t)N * V * sizeof(float));
    engine_logits(m, NULL, tok, N, base);
    engine_logits(m, a, tok, N, ref);
    double loss;
    int32_t nt;
    assert_int_equal(loco_trainer_loss(t, tok, all, N, &loss, &nt), LOCO_OK);
    double moved = logits_diff(t, base, V, N), diff = logits_diff(t, ref, V, N);
    printf("adapter: trainer vs run time max |dlogit| %.2e (vs base model %.2f)\n", diff, moved);
    assert_true(moved > 0.1); /* the adapter matters ... */
    assert_true(diff < 1e-3); /* ... and the run time applies it as the trainer does */
    assert_true(fabs(loss - engine_loss(ref, V, tok, all, N)) < 1e-4 * loss);
    free(base);
    free(ref);
    loco_adapter_free(a);
    unlink(path);
    loco_trainer_free(t);
    loco_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_matches_engine),
        cmocka_unit_test(test_qwen2_matches_engine),
        cmocka_unit_test(test_long_sequence_matches_engine),
        cmocka_unit_test(test_rejects_bad_sequences),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_dropout_follows_seed),
        cmocka_unit_test(test_sgd_lowers_loss),
        cmocka_unit_test(test_exported_adapter_matches),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
