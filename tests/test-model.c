/*
 * test-model.c - the forward pass against independent references.
 *
 * 1. stories260K (a real trained llama): logits after each forced token and
 *    the 60-token greedy continuation from a float64 reference
 *    (shared/fixtures/models/stories260K.reference.json).
 * 2. Synthetic llama/qwen2/qwen3/gemma3 models in every quant type against
 *    llama.cpp's logits at every prompt position and its greedy ids
 *    (shared/fixtures/golden/). With activation quantization (the default
 *    engine) we compare to *.llamacpp.json; with f32 activations to
 *    *.deqf32.llamacpp.json (or the F32 file's own json).
 * 3. Engine properties: a batch mixing sequences gives the same logits as
 *    running them one by one; 1 and 2 threads agree; bad batches are
 *    refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loco/generate.h"
#include "loco/gguf.h"
#include "loco/model.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static struct loco_model *load(const char *rel, enum loco_matmul_mode mode)
{
    char path[1024];
    if (!test_shared_path(rel, path, sizeof path))
        return NULL;
    struct loco_model_params mp = loco_model_default_params();
    mp.matmul_mode = mode;
    mp.gelu_fp16 = true; /* match ggml's CPU GELU table */
    struct loco_model *m = loco_model_load(path, mp);
    if (!m)
        fail_msg("loading %s: %s", path, loco_error_message());
    return m;
}

static struct loco_context *context(const struct loco_model *m, int n_seq, int n_threads)
{
    struct loco_context_params cp = loco_context_default_params();
    cp.n_ctx = 128;
    cp.n_seq = n_seq;
    cp.n_batch = 64;
    cp.n_threads = n_threads;
    struct loco_context *c = loco_context_init(m, cp);
    assert_non_null(c);
    return c;
}

static int json_ints(const cJSON *arr, int32_t *out, int cap)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (n < cap)
            out[n] = (int32_t)e->valuedouble;
        n++;
    }
    return n;
}

/* decode `n` tokens of sequence 0 in one batch with logits everywhere */
static void decode_all(struct loco_context *c, const int32_t *toks, int n)
{
    int32_t pos[256], seq[256];
    bool want[256];
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        seq[i] = 0;
        want[i] = true;
    }
    struct loco_batch b = {.n = n, .tokens = toks, .pos = pos, .seq = seq, .want_logits = want};
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
}

/* max |ours - ref| over one logits row; *sum accumulates |ours - ref| */
static double row_diff_sum(const float *ours, const cJSON *ref, int n_vocab, int *argmax_ok,
                           double *sum)
{
    double max = 0.0;
    int i = 0, am_ours = 0, am_ref = 0;
    double best_ref = -1e30;
    const cJSON *e;
    cJSON_ArrayForEach(e, ref)
    {
        if (i >= n_vocab)
            break;
        double d = fabs((double)ours[i] - e->valuedouble);
        max = d > max ? d : max;
        *sum += d;
        if (ours[i] > ours[am_ours])
            am_ours = i;
        if (e->valuedouble > best_ref) {
            best_ref = e->valuedouble;
            am_ref = i;
        }
        i++;
    }
    assert_int_equal(i, n_vocab);
    *argmax_ok = am_ours == am_ref;
    return max;
}

static double row_diff(const float *ours, const cJSON *ref, int n_vocab, int *argmax_ok)
{
    double sum = 0.0;
    return row_diff_sum(ours, ref, n_vocab, argmax_ok, &sum);
}

/* ---- stories260K ------------------------------------------------------- */

static void test_stories_logits(void **state)
{
    (void)state;
    char ref_path[1024];
    if (!test_shared_path("fixtures/models/stories260K.reference.json", ref_path, sizeof ref_path))
        skip();
    struct loco_model *m = load("fixtures/models/stories260K.gguf", LOCO_MATMUL_QUANT_ACT);
    cJSON *ref = test_read_json(ref_path);
    assert_non_null(ref);
    int32_t toks[16];
    int n = json_ints(cJSON_GetObjectItem(ref, "forced_tokens"), toks, 16);
    assert_int_equal(n, 8);
    struct loco_context *c = context(m, 1, 2);
    decode_all(c, toks, n);
    const cJSON *rows = cJSON_GetObjectItem(ref, "logits_after_each_forced_token");
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        int am;
        double d = row_diff(loco_context_logits(c, i), cJSON_GetArrayItem(rows, i), 512, &am);
        assert_true(am);
        worst = d > worst ? d : worst;
    }
    printf("stories260K: max |logit diff| vs float64 reference = %.3g\n", worst);
    assert_true(worst < 1e-3); /* f32 vs float64 over 5 layers; llama.cpp gets 5e-5 */
    loco_context_free(c);
    loco_model_free(m);
    cJSON_Delete(ref);
}

static void test_stories_greedy(void **state)
{
    (void)state;
    char ref_path[1024];
    if (!test_shared_path("fixtures/models/stories260K.reference.json", ref_path, sizeof ref_path))
        skip();
    struct loco_model *m = load("fixtures/models/stories260K.gguf", LOCO_MATMUL_QUANT_ACT);
    cJSON *ref = test_read_json(ref_path);
    int32_t want[64];
    int n_want = json_ints(cJSON_GetObjectItem(ref, "greedy_from_bos_60_tokens"), want, 64);
    assert_int_equal(n_want, 60);
    struct loco_context *c = context(m, 1, 1);
    int32_t tok = 1; /* BOS */
    for (int i = 0; i < n_want; i++) {
        int32_t pos = i, seq = 0;
        struct loco_batch b = {.n = 1, .tokens = &tok, .pos = &pos, .seq = &seq};
        assert_int_equal(loco_decode(c, &b), LOCO_OK);
        tok = loco_argmax(loco_context_logits(c, 0), 512);
        if (tok != want[i])
            fail_msg("greedy token %d: got %d, reference %d", i, tok, want[i]);
    }
    /* the text, through the model's own tokenizer */
    char *text = loco_tokenizer_decode(loco_model_tokenizer(m), want, (size_t)n_want, false, true);
    assert_non_null(text);
    const char *ref_text = cJSON_GetObjectItem(ref, "greedy_from_bos_60_text")->valuestring;
    assert_non_null(strstr(ref_text, "Once upon a time, there was a little girl named Lily"));
    assert_non_null(strstr(text, "there was a little girl named Lily"));
    free(text);
    loco_context_free(c);
    loco_model_free(m);
    cJSON_Delete(ref);
}

/* ---- golden synthetic models ------------------------------------------ */

/*
 * Tolerances. With f32 activations every file must match llama.cpp run on
 * its exact dequantization to f32 level (2e-3; gemma3 1e-2 because of
 * ggml's fp16 GELU table, see docs/model.md, Block maths).
 *
 * With quantized activations (the engine's default, as llama.cpp's CPU
 * backend does) bit-level agreement is not reachable: a one-ulp difference
 * in a summation order moves an activation across a rounding boundary of the
 * next layer's Q8 quantization, and these random networks amplify such
 * flips (the MANIFEST measures 0.36-0.79 max and 0.06-0.13 mean |dlogit|
 * between a quantized file and its exact dequantization). Changing only our
 * own summation order (BLAS attention vs dot products) moves these files by
 * up to 0.39 max / 0.04 mean. There we require the mean |dlogit| to stay
 * below the smallest mean quantization noise, the max below the middle of
 * its range, and the argmax to agree at >= 14 of 16 positions; the f32
 * mode above is the exact check of the arithmetic.
 */
struct golden_case {
    const char *name; /* tiny-<arch>-<quant> */
    double tol_f32;   /* max |diff| in f32-activation mode */
};

static const struct golden_case golden_cases[] = {
    {"tiny-llama-F32", 2e-3},    {"tiny-llama-Q8_0", 2e-3},   {"tiny-llama-Q6_K", 2e-3},
    {"tiny-llama-Q5_K_M", 2e-3}, {"tiny-llama-Q4_K_M", 2e-3}, {"tiny-llama-Q4_1", 2e-3},
    {"tiny-llama-Q4_0", 2e-3},   {"tiny-qwen2-F32", 2e-3},    {"tiny-qwen2-Q4_K_M", 2e-3},
    {"tiny-qwen3-F32", 2e-3},    {"tiny-qwen3-Q4_K_M", 2e-3}, {"tiny-gemma3-F32", 1e-2},
    {"tiny-gemma3-Q8_0", 1e-2},  {"tiny-gemma3-Q4_K_M", 1e-2},
};

#define QUANT_ACT_MAX 0.6   /* middle of the quantized-vs-dequantized spread */
#define QUANT_ACT_MEAN 0.05 /* below the lower end of its mean (0.06) */

/* Compare prompt logits and greedy ids of one model/mode with one json. */
static bool check_golden(const struct golden_case *gc, enum loco_matmul_mode mode)
{
    bool f32file = strstr(gc->name, "F32") != NULL;
    char rel[256], jrel[256], jpath[1024];
    snprintf(rel, sizeof rel, "fixtures/golden/%s.gguf", gc->name);
    snprintf(jrel, sizeof jrel, "fixtures/golden/%s.%sllamacpp.json", gc->name,
             mode == LOCO_MATMUL_F32_ACT && !f32file ? "deqf32." : "");
    if (!test_shared_path(jrel, jpath, sizeof jpath))
        skip();
    struct loco_model *m = load(rel, mode);
    cJSON *ref = test_read_json(jpath);
    assert_non_null(ref);
    bool ok = true;
    int32_t prompt[32], greedy[32];
    int n = json_ints(cJSON_GetObjectItem(ref, "prompt_ids"), prompt, 32);
    int n_greedy = json_ints(cJSON_GetObjectItem(ref, "greedy_ids"), greedy, 32);
    const cJSON *margins = cJSON_GetObjectItem(ref, "greedy_top2_margin");
    struct loco_context *c = context(m, 1, 2);
    decode_all(c, prompt, n);
    bool f32act = mode == LOCO_MATMUL_F32_ACT || f32file;
    double worst = 0.0, sum = 0.0, tol = f32act ? gc->tol_f32 : QUANT_ACT_MAX;
    int argmax_agree = 0;
    for (int i = 0; i < n; i++) {
        int am;
        double d = row_diff_sum(loco_context_logits(c, i),
                                cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "logits"), i), 512,
                                &am, &sum);
        argmax_agree += am;
        worst = d > worst ? d : worst;
    }
    /* greedy continuation: exact while the reference margin exceeds our error */
    int32_t tok = loco_argmax(loco_context_logits(c, n - 1), 512);
    int matched = 0;
    for (int i = 0; i < n_greedy; i++) {
        double margin = cJSON_GetArrayItem(margins, i)->valuedouble;
        if (tok != greedy[i]) {
            if (margin > 4 * tol) {
                printf("%s: greedy step %d: got %d, llama.cpp %d (margin %.3g)\n", gc->name, i,
                       tok, greedy[i], margin);
                ok = false;
            }
            break; /* a legitimately fragile step: the rest is not comparable */
        }
        matched++;
        int32_t pos = n + i, seq = 0;
        struct loco_batch b = {.n = 1, .tokens = &tok, .pos = &pos, .seq = &seq};
        assert_int_equal(loco_decode(c, &b), LOCO_OK);
        tok = loco_argmax(loco_context_logits(c, 0), 512);
    }
    double mean = sum / (512.0 * n);
    printf("%-20s %-6s max|dlogit| %.3g (tol %.3g), mean %.3g, argmax %d/%d, greedy %d/%d\n",
           gc->name, mode == LOCO_MATMUL_F32_ACT ? "f32act" : "q-act", worst, tol, mean,
           argmax_agree, n, matched, n_greedy);
    if (worst > tol || (!f32act && (mean > QUANT_ACT_MEAN || argmax_agree < 14))) {
        printf("%s: outside tolerance\n", gc->name);
        ok = false;
    }
    loco_context_free(c);
    loco_model_free(m);
    cJSON_Delete(ref);
    return ok;
}

static void test_golden_quant_act(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
        failed += !check_golden(&golden_cases[i], LOCO_MATMUL_QUANT_ACT);
    assert_int_equal(failed, 0);
}

static void test_golden_f32_act(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++)
        failed += !check_golden(&golden_cases[i], LOCO_MATMUL_F32_ACT);
    assert_int_equal(failed, 0);
}

/* gemma3's sliding window: our logits must match the window-8 reference
 * and differ from the window-256 one past position 8 */
static void test_gemma3_window(void **state)
{
    (void)state;
    char jpath[1024];
    if (!test_shared_path("fixtures/golden/tiny-gemma3-F32.window256.llamacpp.json", jpath,
                          sizeof jpath))
        skip();
    struct loco_model *m = load("fixtures/golden/tiny-gemma3-F32.gguf", LOCO_MATMUL_QUANT_ACT);
    cJSON *ref = test_read_json(jpath);
    int32_t prompt[32];
    int n = json_ints(cJSON_GetObjectItem(ref, "prompt_ids"), prompt, 32);
    struct loco_context *c = context(m, 1, 1);
    decode_all(c, prompt, n);
    int am;
    double d0 = row_diff(loco_context_logits(c, 0),
                         cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "logits"), 0), 512, &am);
    double d15 = row_diff(loco_context_logits(c, 15),
                          cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "logits"), 15), 512, &am);
    assert_true(d0 < 1e-2);  /* inside the window both agree */
    assert_true(d15 > 1.0);  /* past it the window changes the answer */
    loco_context_free(c);
    loco_model_free(m);
    cJSON_Delete(ref);
}

/* ---- engine properties ------------------------------------------------- */

/* Two sequences interleaved in one batch == each alone. */
static void test_batch_mixed_sequences(void **state)
{
    (void)state;
    struct loco_model *m = load("fixtures/golden/tiny-qwen3-Q4_K_M.gguf", LOCO_MATMUL_QUANT_ACT);
    if (!m)
        skip();
    const int32_t a[5] = {1, 403, 407, 261, 378}, b2[3] = {1, 300, 301};
    struct loco_context *solo = context(m, 1, 2);
    float ref_a[512], ref_b[512];
    decode_all(solo, a, 5);
    memcpy(ref_a, loco_context_logits(solo, 4), sizeof ref_a);
    loco_context_seq_clear(solo, 0);
    decode_all(solo, b2, 3);
    memcpy(ref_b, loco_context_logits(solo, 2), sizeof ref_b);

    struct loco_context *mix = context(m, 2, 2);
    int32_t toks[8] = {a[0], b2[0], a[1], b2[1], a[2], b2[2], a[3], a[4]};
    int32_t pos[8] = {0, 0, 1, 1, 2, 2, 3, 4}, seq[8] = {0, 1, 0, 1, 0, 1, 0, 0};
    bool want[8] = {0, 0, 0, 0, 0, 1, 0, 1};
    struct loco_batch b = {.n = 8, .tokens = toks, .pos = pos, .seq = seq, .want_logits = want};
    assert_int_equal(loco_decode(mix, &b), LOCO_OK);
    assert_int_equal(loco_context_n_logits(mix), 2);
    assert_memory_equal(loco_context_logits(mix, 0), ref_b, sizeof ref_b);
    assert_memory_equal(loco_context_logits(mix, 1), ref_a, sizeof ref_a);
    loco_context_free(solo);
    loco_context_free(mix);
    loco_model_free(m);
}

static void test_threads_agree(void **state)
{
    (void)state;
    struct loco_model *m = load("fixtures/golden/tiny-llama-Q4_1.gguf", LOCO_MATMUL_QUANT_ACT);
    if (!m)
        skip();
    const int32_t toks[6] = {1, 403, 407, 261, 378, 432};
    struct loco_context *c1 = context(m, 1, 1), *c2 = context(m, 1, 2);
    decode_all(c1, toks, 6);
    decode_all(c2, toks, 6);
    for (int i = 0; i < 6; i++)
        assert_memory_equal(loco_context_logits(c1, i), loco_context_logits(c2, i),
                            512 * sizeof(float));
    loco_context_free(c1);
    loco_context_free(c2);
    loco_model_free(m);
}

static void test_bad_batches(void **state)
{
    (void)state;
    struct loco_model *m = load("fixtures/models/stories260K.gguf", LOCO_MATMUL_QUANT_ACT);
    if (!m)
        skip();
    struct loco_context *c = context(m, 2, 1);
    int32_t tok = 1, pos = 1, seq = 0; /* position 1 without 0 */
    struct loco_batch b = {.n = 1, .tokens = &tok, .pos = &pos, .seq = &seq};
    assert_int_equal(loco_decode(c, &b), LOCO_ERR_INVALID);
    assert_non_null(strstr(loco_error_message(), "does not continue"));
    pos = 0;
    seq = 2;
    assert_int_equal(loco_decode(c, &b), LOCO_ERR_INVALID);
    seq = 0;
    tok = 512;
    assert_int_equal(loco_decode(c, &b), LOCO_ERR_INVALID);
    tok = 1;
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    assert_int_equal(loco_context_seq_len(c, 0), 1);
    assert_int_equal(loco_context_seq_len(c, 1), 0);
    loco_context_free(c);
    loco_model_free(m);
}

/* Early exit: the first K layers run as in a full pass (the captured
 * attention inputs agree), no logits come out, the hidden state differs
 * from the full pass's, and all layers again give the full pass back. */
static void test_early_exit(void **state)
{
    (void)state;
    struct loco_model *m = load("fixtures/models/stories260K.gguf", LOCO_MATMUL_QUANT_ACT);
    if (!m)
        skip();
    const struct loco_hparams *hp = loco_model_hparams(m);
    int32_t L = hp->n_layer, C = hp->n_embd, K = L / 2, T = 4;
    assert_true(K >= 1 && K < L);
    struct loco_context *c = context(m, 1, 1);
    int32_t toks[4] = {1, 20, 30, 40}, pos[4] = {0, 1, 2, 3}, seq[4] = {0};
    struct loco_batch b = {T, toks, pos, seq, NULL};
    float *full = malloc((size_t)L * T * C * sizeof *full);
    float *early = calloc((size_t)L * T * C, sizeof *early);
    float *h_full = malloc((size_t)C * sizeof *h_full), *h = malloc((size_t)C * sizeof *h);
    assert_non_null(full && early && h_full && h);
    loco_context_capture(c, full, T);
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    assert_int_equal(loco_context_n_logits(c), 1);
    assert_int_equal(loco_context_hidden(c, T - 1, h_full), LOCO_OK);

    assert_int_equal(loco_context_set_layers(c, L + 1), LOCO_ERR_INVALID);
    assert_int_equal(loco_context_set_layers(c, -1), LOCO_ERR_INVALID);
    assert_int_equal(loco_context_set_layers(c, K), LOCO_OK);
    loco_context_seq_clear(c, 0);
    loco_context_capture(c, early, T);
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    assert_int_equal(loco_context_n_logits(c), 0);
    assert_null(loco_context_logits(c, 0));
    for (size_t k = 0; k < (size_t)K * T * C; k++)
        assert_float_equal(early[k], full[k], 1e-5);
    for (size_t k = (size_t)K * T * C; k < (size_t)L * T * C; k++)
        assert_true(early[k] == 0); /* later layers never ran */
    assert_int_equal(loco_context_hidden(c, T - 1, h), LOCO_OK);
    float diff = 0;
    for (int32_t j = 0; j < C; j++)
        diff += fabsf(h[j] - h_full[j]);
    assert_true(diff > 1e-3f);

    assert_int_equal(loco_context_set_layers(c, 0), LOCO_OK); /* all layers */
    loco_context_capture(c, NULL, 0);
    loco_context_seq_clear(c, 0);
    assert_int_equal(loco_decode(c, &b), LOCO_OK);
    assert_int_equal(loco_context_n_logits(c), 1);
    assert_int_equal(loco_context_hidden(c, T - 1, h), LOCO_OK);
    for (int32_t j = 0; j < C; j++)
        assert_float_equal(h[j], h_full[j], 1e-6);
    free(full);
    free(early);
    free(h_full);
    free(h);
    loco_context_free(c);
    loco_model_free(m);
}

/* A copy of stories260K with one float key set to v (NaN, inf, out of
 * range), or to the string `str` when it is not NULL: loading refuses it,
 * naming the file, the key and the value as stored. */
static void expect_bad_key(const char *key, double v, const char *str, const char *want)
{
    char src[1024], path[] = "/tmp/loco-test-hparam-XXXXXX";
    if (!test_shared_path("fixtures/models/stories260K.gguf", src, sizeof src))
        skip();
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct loco_gguf *g = loco_gguf_open(src);
    assert_non_null(g);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    for (int64_t i = 0; i < loco_gguf_n_kv(g); i++)
        assert_int_equal(loco_gguf_writer_copy_kv(w, g, i), LOCO_OK);
    if (str)
        assert_int_equal(loco_gguf_writer_set_str(w, key, str), LOCO_OK);
    else
        assert_int_equal(loco_gguf_writer_set_f64(w, key, v), LOCO_OK);
    for (int64_t i = 0; i < loco_gguf_n_tensors(g); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        assert_int_equal(
            loco_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), LOCO_OK);
    }
    assert_int_equal(loco_gguf_writer_write(w, path), LOCO_OK);
    loco_gguf_writer_free(w);
    loco_gguf_close(g);
    loco_error_clear();
    struct loco_model *m = loco_model_load(path, loco_model_default_params());
    const char *msg = loco_error_message();
    int refused = m == NULL && strstr(msg, path) && strstr(msg, key) && strstr(msg, want);
    if (!refused)
        print_error("%s = %g: %s\n", key, v, m ? "loaded" : msg);
    loco_model_free(m);
    unlink(path);
    assert_true(refused);
}

static void expect_bad_float_key(const char *key, double v, const char *want)
{
    expect_bad_key(key, v, NULL, want);
}

/* NaN rope base, negative or NaN RMS epsilon, infinite scales: refused on
 * load. Before, they loaded and every logit came out NaN. */
static void test_bad_float_hparams(void **state)
{
    (void)state;
    expect_bad_float_key("llama.rope.freq_base", NAN, "nan");
    expect_bad_float_key("llama.rope.freq_base", 0.0, "= 0 ");
    expect_bad_float_key("llama.rope.freq_base", 1e300, "= 1e+300 "); /* as stored, not inf */
    expect_bad_key("llama.rope.freq_base", 0, "ten thousand", "type STRING");
    expect_bad_float_key("llama.attention.layer_norm_rms_epsilon", -1e-5, "-1e-05");
    expect_bad_float_key("llama.attention.layer_norm_rms_epsilon", NAN, "nan");
    expect_bad_float_key("llama.attention.layer_norm_rms_epsilon", 0.0, "= 0 ");
    expect_bad_float_key("llama.rope.scaling.factor", -2.0, "-2");
    expect_bad_float_key("llama.rope.scale_linear", INFINITY, "inf");
    expect_bad_float_key("llama.final_logit_softcapping", NAN, "nan");
    expect_bad_float_key("llama.attention.scale", -1.0, "-1");
}

static void test_missing_file(void **state)
{
    (void)state;
    struct loco_model *m = loco_model_load("/nonexistent/model.gguf", loco_model_default_params());
    assert_null(m);
    assert_non_null(strstr(loco_error_message(), "/nonexistent/model.gguf"));
}

/* The generation loop reuses a cached prefix and stops at max_tokens. */
static void test_generate_prefix_reuse(void **state)
{
    (void)state;
    struct loco_model *m = load("fixtures/models/stories260K.gguf", LOCO_MATMUL_QUANT_ACT);
    if (!m)
        skip();
    struct loco_context *c = context(m, 1, 1);
    const int32_t prompt[4] = {1, 403, 407, 261};
    struct loco_generate_params gp = loco_generate_default_params();
    gp.max_tokens = 10;
    gp.sampling.temperature = 0.0f;
    struct loco_generate_result r1, r2;
    assert_int_equal(loco_generate(c, 0, loco_model_tokenizer(m), prompt, 4, &gp, NULL, NULL, &r1),
                     LOCO_OK);
    assert_int_equal(r1.n_generated, 10);
    assert_int_equal(r1.stop, LOCO_STOP_MAX_TOKENS);
    assert_int_equal(r1.n_cached, 0);
    assert_int_equal(loco_generate(c, 0, loco_model_tokenizer(m), prompt, 4, &gp, NULL, NULL, &r2),
                     LOCO_OK);
    assert_int_equal(r2.n_cached, 3);
    assert_memory_equal(r1.tokens, r2.tokens, 10 * sizeof(int32_t));
    assert_string_equal(r1.text, r2.text);
    loco_generate_result_free(&r1);
    loco_generate_result_free(&r2);
    loco_context_free(c);
    loco_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_logits),
        cmocka_unit_test(test_stories_greedy),
        cmocka_unit_test(test_golden_quant_act),
        cmocka_unit_test(test_golden_f32_act),
        cmocka_unit_test(test_gemma3_window),
        cmocka_unit_test(test_batch_mixed_sequences),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_bad_batches),
        cmocka_unit_test(test_early_exit),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_bad_float_hparams),
        cmocka_unit_test(test_generate_prefix_reuse),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
