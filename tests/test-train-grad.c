/*
 * test-train-grad.c - the training core's hand-written backward against
 * central finite differences.
 *
 * 1. Each op (RMSNorm, rope NORM and NEOX, causal attention with softmax,
 *    SwiGLU, cross-entropy): the backward's input gradient against
 *    (f(x + eps) - f(x - eps)) / 2 eps of f = <dy, op(x)>, sums in double.
 * 2. The whole network: tiny synthetic llama (untied head) and qwen2 (q/k/v
 *    biases, NEOX rope, tied head) models written with the GGUF writer
 *    (C=16, H=4, Hkv=2, D=4, F=24, V=32, L=2, random f32 weights). With B
 *    made non-zero (else dA = 0), a sample of every A and B of every target
 *    (q, k, v, o, gate, up, down) in every layer is perturbed and the
 *    loss's difference quotient compared with the analytic gradient, with
 *    and without dropout (a fixed dropout seed makes the loss a fixed
 *    function of the parameters).
 *
 * f32 finite differences: the loss (~20) carries ~5e-7 of rounding noise,
 * and these random networks are curved enough that a plain central
 * difference's eps^2 term shows at eps = 1e-2 (1.5% on some entries), so
 * the network checks use Richardson's extrapolation of steps 2e-2 and
 * 1e-2 (measured max relative error ~5e-3) and accept
 * |g - fd| <= GRAD_RTOL * max(|g|, |fd|) + GRAD_ATOL. A gradient that is
 * wrong by a term, a sign or a factor misses that by orders of magnitude;
 * even a 5% scaling of the analytic gradient is checked to fail.
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

#include "loco/gguf.h"
#include "loco/train.h"
#include "testutil.h"
#include "train/core/ops.h"

#define GRAD_RTOL 1e-2
#define GRAD_ATOL 1e-3

/* ---- a small deterministic generator ----------------------------------------- */

static uint64_t rng_state = 0x1234567887654321ull;

static float frand(float lo, float hi) /* uniform in [lo, hi) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)(rng_state >> 40) / 16777216.0f;
}

static void fill(float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = frand(lo, hi);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* When set, a disagreement is counted instead of failing the test. */
static bool count_only;
static int n_violations;

/* a finite difference and its analytic value agree within the tolerance;
 * returns the error relative to max(|g|, |fd|) (for |g| above 0.05) */
static double check_close(double g, double fd, const char *what, size_t idx)
{
    double err = fabs(g - fd), scale = fmax(fabs(g), fabs(fd));
    if (err > GRAD_RTOL * scale + GRAD_ATOL) {
        n_violations++;
        if (!count_only)
            fail_msg("%s[%zu]: analytic %.6g, finite difference %.6g", what, idx, g, fd);
    }
    return scale > 0.05 ? err / scale : 0.0;
}

/* ---- ops -------------------------------------------------------------------------- */

#define OP_EPS 1e-2f

static void test_rmsnorm_bwd(void **state)
{
    enum { N = 24 };
    float x[N], w[N], dy[N], y[N], dx[N] = {0};
    fill(x, N, -2.0f, 2.0f);
    fill(w, N, 0.5f, 1.5f);
    fill(dy, N, -1.0f, 1.0f);
    float rstd = train_op_rmsnorm_fwd(y, x, w, N, 1e-5f);
    train_op_rmsnorm_bwd(dx, dy, x, w, rstd, N);
    for (int i = 0; i < N; i++) {
        float x0 = x[i];
        x[i] = x0 + OP_EPS;
        train_op_rmsnorm_fwd(y, x, w, N, 1e-5f);
        double fp = dot(dy, y, N);
        x[i] = x0 - OP_EPS;
        train_op_rmsnorm_fwd(y, x, w, N, 1e-5f);
        double fm = dot(dy, y, N);
        x[i] = x0;
        check_close(dx[i], (fp - fm) / (2.0 * OP_EPS), "rmsnorm dx", (size_t)i);
    }
}

static void rope_case(enum loco_rope_type type, int n_rot)
{
    enum { D = 8, T = 5 };
    float cs[T * D / 2], sn[T * D / 2], x[D], y[D], dy[D], dx[D];
    train_op_rope_tables(cs, sn, T, n_rot, 10000.0f, 1.0f);
    const float *c = cs + 3 * (n_rot / 2), *s = sn + 3 * (n_rot / 2); /* position 3 */
    fill(x, D, -1.0f, 1.0f);
    fill(dy, D, -1.0f, 1.0f);
    memcpy(dx, dy, sizeof dx);
    train_op_rope_bwd(dx, c, s, n_rot, type);
    for (int i = 0; i < D; i++) {
        float x0 = x[i];
        memcpy(y, x, sizeof y);
        y[i] = x0 + OP_EPS;
        train_op_rope_fwd(y, c, s, n_rot, type);
        double fp = dot(dy, y, D);
        memcpy(y, x, sizeof y);
        y[i] = x0 - OP_EPS;
        train_op_rope_fwd(y, c, s, n_rot, type);
        double fm = dot(dy, y, D);
        check_close(dx[i], (fp - fm) / (2.0 * OP_EPS), "rope dx", (size_t)i);
    }
}

static void test_rope_bwd(void **state)
{
    rope_case(LOCO_ROPE_NORM, 8);
    rope_case(LOCO_ROPE_NEOX, 8);
    rope_case(LOCO_ROPE_NORM, 4); /* partial rotation: the rest passes through */
    rope_case(LOCO_ROPE_NEOX, 6);
}

static void test_swiglu_bwd(void **state)
{
    enum { N = 16 };
    float g[N], u[N], dout[N], out[N], dg[N], du[N];
    fill(g, N, -4.0f, 4.0f);
    fill(u, N, -2.0f, 2.0f);
    fill(dout, N, -1.0f, 1.0f);
    train_op_swiglu_bwd(dg, du, dout, g, u, N);
    for (int i = 0; i < N; i++) {
        float g0 = g[i], u0 = u[i];
        g[i] = g0 + OP_EPS;
        train_op_swiglu_fwd(out, g, u, N);
        double fp = dot(dout, out, N);
        g[i] = g0 - OP_EPS;
        train_op_swiglu_fwd(out, g, u, N);
        double fm = dot(dout, out, N);
        g[i] = g0;
        check_close(dg[i], (fp - fm) / (2.0 * OP_EPS), "swiglu dg", (size_t)i);
        u[i] = u0 + OP_EPS;
        train_op_swiglu_fwd(out, g, u, N);
        fp = dot(dout, out, N);
        u[i] = u0 - OP_EPS;
        train_op_swiglu_fwd(out, g, u, N);
        fm = dot(dout, out, N);
        u[i] = u0;
        check_close(du[i], (fp - fm) / (2.0 * OP_EPS), "swiglu du", (size_t)i);
    }
}

/* attention with strided q (ld 2D: two heads' worth) and kv (ld D) */
enum { AT = 6, AD = 4, ALDQ = 8, ALDKV = 4 };

static double attn_f(const float *q, const float *k, const float *v, const float *dout, float *p)
{
    float out[AT * ALDQ] = {0};
    /* two blocks of query rows: 0..3 and 4..5 */
    train_op_attn_fwd(out, ALDQ, q, ALDQ, k, v, ALDKV, 0, 4, AD, 0.5f, p);
    train_op_attn_fwd(out, ALDQ, q, ALDQ, k, v, ALDKV, 4, AT - 4, AD, 0.5f, p);
    return dot(dout, out, AT * ALDQ);
}

static void perturb_check(float *x, size_t n, size_t ld, const float *grad, size_t gld,
                          const char *what, float *q, float *k, float *v, const float *dout,
                          float *p)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = i / AD * ld + i % AD;
        float x0 = x[at];
        x[at] = x0 + OP_EPS;
        double fp = attn_f(q, k, v, dout, p);
        x[at] = x0 - OP_EPS;
        double fm = attn_f(q, k, v, dout, p);
        x[at] = x0;
        check_close(grad[i / AD * gld + i % AD], (fp - fm) / (2.0 * OP_EPS), what, i);
    }
}

static void test_attention_bwd(void **state)
{
    float q[AT * ALDQ], k[AT * ALDKV], v[AT * ALDKV], dout[AT * ALDQ], p[AT * AT], ds[AT * AT];
    float dq[AT * ALDQ] = {0}, dk[AT * AD], dv[AT * AD];
    fill(q, AT * ALDQ, -1.5f, 1.5f);
    fill(k, AT * ALDKV, -1.5f, 1.5f);
    fill(v, AT * ALDKV, -1.0f, 1.0f);
    fill(dout, AT * ALDQ, -1.0f, 1.0f);
    for (int t = 0; t < AT; t++) /* only the first head's columns feed the output */
        for (int d = AD; d < ALDQ; d++)
            dout[t * ALDQ + d] = 0.0f;
    train_op_attn_bwd(dq, dk, dv, dout, ALDQ, q, ALDQ, k, v, ALDKV, AT, AD, 0.5f, 4, p, ds);
    /* row 0 attends to itself only: P = 1 */
    train_op_attn_fwd(dout + AD, ALDQ, q, ALDQ, k, v, ALDKV, 0, 1, AD, 0.5f, p);
    assert_float_equal(p[0], 1.0f, 1e-6);
    for (int t = 0; t < AT; t++) /* (the second head's columns are scratch) */
        for (int d = AD; d < ALDQ; d++)
            dout[t * ALDQ + d] = 0.0f;
    perturb_check(q, AT * AD, ALDQ, dq, ALDQ, "attention dq", q, k, v, dout, p);
    perturb_check(k, AT * AD, ALDKV, dk, AD, "attention dk", q, k, v, dout, p);
    perturb_check(v, AT * AD, ALDKV, dv, AD, "attention dv", q, k, v, dout, p);
}

static void test_xent_bwd(void **state)
{
    enum { V = 40 };
    float l[V], g[V], tmp[V];
    fill(l, V, -3.0f, 3.0f);
    memcpy(g, l, sizeof g);
    double nll = train_op_xent(g, V, 7, 1.0f, true);
    memcpy(tmp, l, sizeof tmp);
    assert_float_equal(nll, train_op_xent(tmp, V, 7, 1.0f, false), 1e-9);
    double sum = 0.0;
    for (int i = 0; i < V; i++)
        sum += g[i];
    assert_float_equal(sum, 0.0, 1e-5); /* softmax sums to 1, minus the one-hot */
    for (int i = 0; i < V; i++) {
        memcpy(tmp, l, sizeof tmp);
        tmp[i] += OP_EPS;
        double fp = train_op_xent(tmp, V, 7, 1.0f, false);
        memcpy(tmp, l, sizeof tmp);
        tmp[i] -= OP_EPS;
        double fm = train_op_xent(tmp, V, 7, 1.0f, false);
        check_close(g[i], (fp - fm) / (2.0 * OP_EPS), "xent dlogits", (size_t)i);
    }
}

/* ---- a tiny synthetic model --------------------------------------------------------- */

enum {
    TC = 16,
    TH = 4,
    THKV = 2,
    TD = 4,
    TF = 24,
    TV = 32,
    TL = 2,
    TQD = TH * TD,
    TKVD = THKV * TD
};

struct tiny_model {
    char path[512];
    float *data; /* every tensor's values, one block */
};

static float *add_tensor(struct loco_gguf_writer *w, const char *name, int64_t n_in, int64_t n_out,
                         float **pool, float lo, float hi)
{
    int64_t ne[2] = {n_in, n_out};
    float *x = *pool;
    *pool += n_in * n_out;
    fill(x, (size_t)(n_in * n_out), lo, hi);
    assert_int_equal(loco_gguf_writer_add_tensor(w, name, LOCO_TYPE_F32, n_out > 1 ? 2 : 1, ne, x),
                     LOCO_OK);
    return x;
}

static void add_layer(struct loco_gguf_writer *w, int il, bool qwen2, float **pool)
{
    char n[64];
#define T(s, a, b, lo, hi)                                                                         \
    (snprintf(n, sizeof n, "blk.%d.%s", il, s), add_tensor(w, n, a, b, pool, lo, hi))
    T("attn_norm.weight", TC, 1, 0.7f, 1.3f);
    T("ffn_norm.weight", TC, 1, 0.7f, 1.3f);
    T("attn_q.weight", TC, TQD, -0.5f, 0.5f);
    T("attn_k.weight", TC, TKVD, -0.5f, 0.5f);
    T("attn_v.weight", TC, TKVD, -0.5f, 0.5f);
    T("attn_output.weight", TQD, TC, -0.4f, 0.4f);
    T("ffn_gate.weight", TC, TF, -0.5f, 0.5f);
    T("ffn_up.weight", TC, TF, -0.5f, 0.5f);
    T("ffn_down.weight", TF, TC, -0.4f, 0.4f);
    if (qwen2) {
        T("attn_q.bias", TQD, 1, -0.3f, 0.3f);
        T("attn_k.bias", TKVD, 1, -0.3f, 0.3f);
        T("attn_v.bias", TKVD, 1, -0.3f, 0.3f);
    }
#undef T
}

static void set_hparams(struct loco_gguf_writer *w, const char *arch)
{
    char key[96];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
    assert_int_equal(loco_gguf_writer_set_str(w, "general.architecture", arch), LOCO_OK);
    loco_gguf_writer_set_u32(w, KEY("context_length"), 64);
    loco_gguf_writer_set_u32(w, KEY("embedding_length"), TC);
    loco_gguf_writer_set_u32(w, KEY("block_count"), TL);
    loco_gguf_writer_set_u32(w, KEY("feed_forward_length"), TF);
    loco_gguf_writer_set_u32(w, KEY("attention.head_count"), TH);
    loco_gguf_writer_set_u32(w, KEY("attention.head_count_kv"), THKV);
    loco_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    loco_gguf_writer_set_f32(w, KEY("rope.freq_base"), 10000.0f);
#undef KEY
}

/* llama: untied output head; qwen2: q/k/v biases and the head tied to the
 * token embedding. */
static struct loco_model *tiny_model(const char *arch, struct tiny_model *tm)
{
    bool qwen2 = strcmp(arch, "qwen2") == 0;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tm->path, sizeof tm->path, "%s/loco-train-grad-%s-%d.gguf", dir, arch, (int)getpid());
    tm->data = malloc(200000 * sizeof(float));
    float *pool = tm->data;
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    set_hparams(w, arch);
    add_tensor(w, "token_embd.weight", TC, TV, &pool, -1.0f, 1.0f);
    add_tensor(w, "output_norm.weight", TC, 1, &pool, 0.7f, 1.3f);
    if (!qwen2)
        add_tensor(w, "output.weight", TC, TV, &pool, -0.6f, 0.6f);
    for (int il = 0; il < TL; il++)
        add_layer(w, il, qwen2, &pool);
    assert_int_equal(loco_gguf_writer_write(w, tm->path), LOCO_OK);
    loco_gguf_writer_free(w);
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    mp.matmul_mode = LOCO_MATMUL_F32_ACT;
    struct loco_model *m = loco_model_load(tm->path, mp);
    if (!m)
        fail_msg("loading %s: %s", tm->path, loco_error_message());
    return m;
}

static void tiny_free(struct loco_model *m, struct tiny_model *tm)
{
    loco_model_free(m);
    unlink(tm->path);
    free(tm->data);
}

/* ---- whole-network gradient checks -------------------------------------------------- */

static const int64_t target_in[LOCO_LORA_N_TARGETS] = {TC, TC, TC, TQD, TC, TC, TF};
static const int64_t target_out[LOCO_LORA_N_TARGETS] = {TQD, TKVD, TKVD, TC, TF, TF, TC};

#define NET_EPS 2e-2f
#define SAMPLES 6 /* entries of each A and each B */

enum { SEQ = 9 };
static const int32_t seq_tokens[SEQ] = {1, 5, 9, 30, 2, 17, 17, 8, 23};
/* targets at 2..7: the last token is not a target, so its position is cut */
static const uint8_t seq_target[SEQ] = {0, 0, 1, 1, 1, 1, 1, 1, 0};

static double loss_at(struct loco_trainer *t, uint64_t dseed)
{
    double loss;
    int32_t nt;
    assert_int_equal(
        loco_trainer_forward_backward(t, seq_tokens, seq_target, SEQ, 1.0f, dseed, &loss, &nt),
        LOCO_OK);
    assert_int_equal(nt, 6);
    return loss;
}

/* central difference of the loss in parameter i with step h */
static double diff_quotient(struct loco_trainer *t, size_t i, float h, uint64_t dseed)
{
    float *p = loco_trainer_params(t), p0 = p[i];
    p[i] = p0 + h;
    double lp = loss_at(t, dseed);
    p[i] = p0 - h;
    double lm = loss_at(t, dseed);
    p[i] = p0;
    return (lp - lm) / (2.0 * (double)h);
}

/* Compare SAMPLES entries of params[off, off + n) with finite differences;
 * returns the largest relative error. The random network's attention is
 * sharp enough that the eps^2 term of a central difference shows, so we
 * use Richardson's extrapolation (4 D(eps/2) - D(eps)) / 3, which cancels
 * it. */
static double check_block(struct loco_trainer *t, const float *g, size_t off, size_t n,
                          uint64_t dseed, const char *what, double scale_g)
{
    double worst = 0.0;
    for (int s = 0; s < SAMPLES; s++) {
        size_t i = off + (size_t)((double)n * (s + 0.5) / SAMPLES);
        double fd =
            (4.0 * diff_quotient(t, i, NET_EPS / 2, dseed) - diff_quotient(t, i, NET_EPS, dseed)) /
            3.0;
        double e = check_close(scale_g * g[i], fd, what, i - off);
        worst = e > worst ? e : worst;
    }
    return worst;
}

/* every A and B of every target, in the layout train.h documents */
static double check_network(const char *arch, float dropout, double scale_g)
{
    struct tiny_model tm;
    struct loco_model *m = tiny_model(arch, &tm);
    struct loco_lora_config cfg = {
        .rank = 3, .alpha = 6.0f, .dropout = dropout, .targets = LOCO_LORA_ALL_TARGETS};
    struct loco_trainer *t = loco_trainer_create(m, &cfg, 16, 2, 42);
    assert_non_null(t);
    size_t n = loco_trainer_n_params(t), expect = 0;
    for (int j = 0; j < LOCO_LORA_N_TARGETS; j++)
        expect += (size_t)(3 * (target_in[j] + target_out[j]));
    assert_int_equal(n, expect * TL);
    float *p = loco_trainer_params(t), *g = malloc(n * sizeof(float));
    size_t off = 0;
    for (int il = 0; il < TL; il++)
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            size_t na = (size_t)(3 * target_in[j]), nb = (size_t)(3 * target_out[j]);
            float bound = 1.0f / sqrtf((float)target_in[j]);
            for (size_t i = 0; i < na; i++) /* A starts uniform in +-1/sqrt(n_in) */
                assert_true(fabsf(p[off + i]) <= bound && p[off + i] != 0.0f);
            for (size_t i = 0; i < nb; i++) /* B starts at zero: make it matter */
                assert_true(p[off + na + i] == 0.0f);
            fill(p + off + na, nb, -0.4f, 0.4f);
            off += na + nb;
        }
    loco_trainer_zero_grads(t);
    loss_at(t, 77);
    memcpy(g, loco_trainer_grads(t), n * sizeof(float));
    double worst = 0.0;
    off = 0;
    for (int il = 0; il < TL; il++)
        for (int j = 0; j < LOCO_LORA_N_TARGETS; j++) {
            size_t na = (size_t)(3 * target_in[j]), nb = (size_t)(3 * target_out[j]);
            char what[64];
            snprintf(what, sizeof what, "%s L%d %s.A", arch, il,
                     loco_lora_target_name((enum loco_lora_target)j));
            worst = fmax(worst, check_block(t, g, off, na, 77, what, scale_g));
            what[strlen(what) - 1] = 'B';
            worst = fmax(worst, check_block(t, g, off + na, nb, 77, what, scale_g));
            off += na + nb;
        }
    printf("%s dropout %.2f: max relative gradient error %.2e\n", arch, (double)dropout, worst);
    free(g);
    loco_trainer_free(t);
    tiny_free(m, &tm);
    return worst;
}

static void test_llama_grads(void **state)
{
    check_network("llama", 0.0f, 1.0);
}

static void test_qwen2_grads(void **state)
{
    check_network("qwen2", 0.0f, 1.0);
}

static void test_dropout_grads(void **state)
{
    check_network("llama", 0.25f, 1.0);
    check_network("qwen2", 0.25f, 1.0);
}

/* The check has teeth: the analytic gradient scaled by 1.05 fails it at
 * most of the sampled entries. */
static void test_broken_gradient_fails(void **state)
{
    count_only = true;
    n_violations = 0;
    check_network("llama", 0.0f, 1.05);
    count_only = false;
    printf("gradient x 1.05: %d of %d sampled entries fail\n", n_violations,
           2 * SAMPLES * LOCO_LORA_N_TARGETS * TL);
    assert_true(n_violations > SAMPLES * LOCO_LORA_N_TARGETS * TL);
}

static void test_refuses_bad_configs(void **state)
{
    struct tiny_model tm;
    struct loco_model *m = tiny_model("llama", &tm);
    struct loco_lora_config bad = {.rank = 0, .alpha = 8.0f, .targets = LOCO_LORA_ALL_TARGETS};
    assert_null(loco_trainer_create(m, &bad, 16, 1, 1));
    assert_non_null(strstr(loco_error_message(), "rank"));
    bad.rank = 2;
    bad.dropout = 1.0f;
    assert_null(loco_trainer_create(m, &bad, 16, 1, 1));
    assert_non_null(strstr(loco_error_message(), "dropout"));
    bad.dropout = 0.0f;
    bad.targets = 1u << 9;
    assert_null(loco_trainer_create(m, &bad, 16, 1, 1));
    assert_non_null(strstr(loco_error_message(), "target"));
    tiny_free(m, &tm);
}

/* qwen3 (per-head q/k norms) has no backward here: refused by name. */
static void test_refuses_other_archs(void **state)
{
    char path[1024];
    if (!test_shared_path("fixtures/golden/tiny-qwen3-F32.gguf", path, sizeof path))
        skip();
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *m = loco_model_load(path, mp);
    assert_non_null(m);
    struct loco_lora_config cfg = {.rank = 2, .alpha = 4.0f, .targets = LOCO_LORA_ALL_TARGETS};
    assert_null(loco_trainer_create(m, &cfg, 16, 1, 1));
    assert_non_null(strstr(loco_error_message(), "qwen3"));
    assert_non_null(strstr(loco_error_message(), "llama and qwen2"));
    loco_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_bwd),
        cmocka_unit_test(test_rope_bwd),
        cmocka_unit_test(test_swiglu_bwd),
        cmocka_unit_test(test_attention_bwd),
        cmocka_unit_test(test_xent_bwd),
        cmocka_unit_test(test_llama_grads),
        cmocka_unit_test(test_qwen2_grads),
        cmocka_unit_test(test_dropout_grads),
        cmocka_unit_test(test_broken_gradient_fails),
        cmocka_unit_test(test_refuses_bad_configs),
        cmocka_unit_test(test_refuses_other_archs),
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
