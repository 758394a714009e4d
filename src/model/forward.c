/*
 * forward.c - contexts (KV cache + activations) and the forward pass.
 *
 * One decode call runs every token of the batch through the network layer by
 * layer, so each weight matrix is streamed from memory once per call however
 * many sequences the batch mixes. Per layer (docs/model.md):
 *
 *   h = rmsnorm(x) * attn_norm
 *   q, k, v = Wq h (+bq), Wk h (+bk), Wv h (+bv)
 *   [qwen3, gemma3] q, k = rmsnorm per head * q_norm, k_norm
 *   q, k = rope(q, k, pos)          NORM (llama) or NEOX (others)
 *   K/V cache[seq][pos] = k, v
 *   a = softmax(scale * q K^T + causal/window mask) V     per head, GQA
 *   o = Wo a        [gemma3] o = rmsnorm(o) * post_attention_norm
 *   x = x + o
 *   h = rmsnorm(x) * ffn_norm
 *   f = down(act(gate h) * up h)    act = silu, or tanh-gelu for gemma3
 *   [gemma3] f = rmsnorm(f) * post_ffw_norm
 *   x = x + f
 * then logits = output (rmsnorm(x) * output_norm) for the tokens that ask.
 *
 * Shapes: B tokens, C n_embd, H heads, Hkv kv heads, D head dim, F n_ff,
 * V vocab, T n_ctx, L layers, S sequences.
 */
#include "context_internal.h"

#include <math.h>
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define ATT_BLOCK 64

struct loco_context_params loco_context_default_params(void)
{
    struct loco_context_params p = {.n_ctx = 2048, .n_seq = 1, .n_batch = 512, .n_threads = 2};
    return p;
}

/* ---- allocation -------------------------------------------------------- */

static size_t activation_floats(const struct loco_hparams *hp, const struct loco_context_params *p)
{
    size_t B = (size_t)p->n_batch, C = (size_t)hp->n_embd, D = (size_t)hp->head_dim;
    size_t qd = (size_t)hp->n_head * D, kvd = (size_t)hp->n_head_kv * D;
    return B * (3 * C + 2 * qd + 2 * kvd + 2 * (size_t)hp->n_ff + (size_t)hp->n_rot) +
           (size_t)p->n_threads * ATT_BLOCK * (size_t)p->n_ctx;
}

static void carve_activations(struct loco_context *c)
{
    const struct loco_hparams *hp = &c->m->hp;
    size_t B = (size_t)c->p.n_batch, D = (size_t)hp->head_dim;
    float *p = c->block;
#define CARVE(field, n) (c->field = p, p += (n))
    CARVE(x, B * (size_t)hp->n_embd);
    CARVE(h, B * (size_t)hp->n_embd);
    CARVE(o, B * (size_t)hp->n_embd);
    CARVE(q, B * (size_t)hp->n_head * D);
    CARVE(att, B * (size_t)hp->n_head * D);
    CARVE(k, B * (size_t)hp->n_head_kv * D);
    CARVE(v, B * (size_t)hp->n_head_kv * D);
    CARVE(ff_gate, B * (size_t)hp->n_ff);
    CARVE(ff_up, B * (size_t)hp->n_ff);
    CARVE(rope_cos, B * (size_t)hp->n_rot / 2);
    CARVE(rope_sin, B * (size_t)hp->n_rot / 2);
    CARVE(scores, (size_t)c->p.n_threads * ATT_BLOCK * (size_t)c->p.n_ctx);
#undef CARVE
}

struct loco_context *loco_context_init(const struct loco_model *m,
                                       struct loco_context_params params)
{
    const struct loco_hparams *hp = &m->hp;
    if (params.n_ctx <= 0 || params.n_seq <= 0 || params.n_batch <= 0 || params.n_threads <= 0 ||
        params.n_seq > 4096 || params.n_threads > 1024) {
        loco_error_set(LOCO_ERR_INVALID, "context: n_ctx %d, n_seq %d, n_batch %d, n_threads %d "
                       "must all be positive (n_seq <= 4096)", params.n_ctx, params.n_seq,
                       params.n_batch, params.n_threads);
        return NULL;
    }
    struct loco_context *c = calloc(1, sizeof *c);
    if (!c) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for a context");
        return NULL;
    }
    c->m = m;
    c->p = params;
    c->pool = loco_pool_init(params.n_threads);
    c->simd = strcmp(loco_quant_kernel_set(), "scalar") != 0;
    if (!c->pool) {
        free(c);
        return NULL;
    }
    size_t kv = (size_t)params.n_seq * (size_t)hp->n_layer * (size_t)params.n_ctx *
                (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    size_t act = activation_floats(hp, &params);
    c->seq_len = calloc((size_t)params.n_seq, sizeof *c->seq_len);
    c->seq_tokens = malloc((size_t)params.n_seq * (size_t)params.n_ctx * sizeof *c->seq_tokens);
    c->k_cache = malloc(kv * sizeof(float));
    c->v_cache = malloc(kv * sizeof(float));
    /* cache-line aligned: threads write neighbouring column blocks of these
     * rows, and a line shared by two threads would bounce between cores */
    c->block = aligned_alloc(64, (act * sizeof(float) + 63) / 64 * 64);
    c->runs = malloc((size_t)params.n_batch * sizeof *c->runs);
    c->jobs = malloc((size_t)params.n_batch * (size_t)hp->n_head * sizeof *c->jobs);
    if (!c->runs || !c->jobs || !c->seq_len || !c->seq_tokens || !c->k_cache || !c->v_cache || !c->block) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory for a KV cache of %zu MB (n_ctx %d x n_seq "
                       "%d); ask for a smaller context", 2 * kv * sizeof(float) >> 20,
                       params.n_ctx, params.n_seq);
        loco_context_free(c);
        return NULL;
    }
    c->bytes = (2 * kv + act) * sizeof(float);
    carve_activations(c);
    if (lora_init(c) != LOCO_OK) {
        loco_context_free(c);
        return NULL;
    }
    return c;
}

void loco_context_free(struct loco_context *c)
{
    if (!c)
        return;
    free(c->seq_len);
    free(c->seq_tokens);
    free(c->k_cache);
    free(c->v_cache);
    free(c->block);
    free(c->runs);
    free(c->jobs);
    free(c->logits);
    lora_free(c);
    loco_pool_free(c->pool);
    free(c);
}

struct loco_context_params loco_context_params(const struct loco_context *c)
{
    return c->p;
}

size_t loco_context_bytes(const struct loco_context *c)
{
    return c->bytes + (size_t)c->logits_cap * (size_t)c->m->hp.n_vocab * sizeof(float);
}

void loco_context_seq_clear(struct loco_context *c, int32_t s)
{
    if (s >= 0 && s < c->p.n_seq)
        c->seq_len[s] = 0;
}

int32_t loco_context_seq_len(const struct loco_context *c, int32_t s)
{
    return s >= 0 && s < c->p.n_seq ? c->seq_len[s] : 0;
}

const int32_t *loco_context_seq_tokens(const struct loco_context *c, int32_t s)
{
    return s >= 0 && s < c->p.n_seq ? c->seq_tokens + (size_t)s * (size_t)c->p.n_ctx : NULL;
}

int loco_context_seq_truncate(struct loco_context *c, int32_t s, int32_t n)
{
    if (s < 0 || s >= c->p.n_seq || n < 0 || n > c->seq_len[s])
        return loco_error_set(LOCO_ERR_INVALID, "cannot truncate sequence %d to %d positions", s,
                              n);
    c->seq_len[s] = n;
    return LOCO_OK;
}

static size_t cache_index(const struct loco_context *c, int32_t seq, int il, int32_t pos);

/* Fork: dst's cache becomes src's positions [0, n), and dst takes src's
 * adapter set, since the copied keys and values were computed under it. */
int loco_context_seq_copy(struct loco_context *c, int32_t src, int32_t dst, int32_t n)
{
    if (src < 0 || src >= c->p.n_seq || dst < 0 || dst >= c->p.n_seq || n < 0 ||
        n > c->seq_len[src])
        return loco_error_set(LOCO_ERR_INVALID, "cannot copy %d positions of sequence %d to "
                              "sequence %d (%d sequences; the source holds %d positions)", n,
                              src, dst, c->p.n_seq, src >= 0 && src < c->p.n_seq ?
                              c->seq_len[src] : 0);
    if (src == dst)
        return loco_context_seq_truncate(c, src, n);
    size_t row = (size_t)c->m->hp.n_head_kv * (size_t)c->m->hp.head_dim; /* Hkv*D */
    for (int il = 0; il < c->m->hp.n_layer; il++) {
        size_t from = cache_index(c, src, il, 0), to = cache_index(c, dst, il, 0);
        memcpy(c->k_cache + to, c->k_cache + from, (size_t)n * row * sizeof(float));
        memcpy(c->v_cache + to, c->v_cache + from, (size_t)n * row * sizeof(float));
    }
    memcpy(c->seq_tokens + (size_t)dst * (size_t)c->p.n_ctx,
           c->seq_tokens + (size_t)src * (size_t)c->p.n_ctx, (size_t)n * sizeof *c->seq_tokens);
    const struct seq_adapters *set_src = &c->lora.sets[src];
    struct seq_adapters *set_dst = &c->lora.sets[dst];
    c->lora.n_active += (set_src->n > 0) - (set_dst->n > 0);
    *set_dst = *set_src;
    c->seq_len[dst] = n;
    return LOCO_OK;
}

const float *loco_context_logits(const struct loco_context *c, int32_t k)
{
    if (k < 0 || k >= c->n_logits)
        return NULL;
    return c->logits + (size_t)k * (size_t)c->m->hp.n_vocab;
}

int32_t loco_context_n_logits(const struct loco_context *c)
{
    return c->n_logits;
}

/* ---- elementwise building blocks --------------------------------------- */

/* y = x / sqrt(mean(x^2) + eps) * w over n elements (ggml rms_norm) */
static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * scale * w[i];
}

static float silu(float x)
{
    return x / (1.0f + expf(-x));
}

/* tanh-approximated GELU; with fp16 set, input and output are rounded
 * through binary16 exactly as ggml's CPU lookup table does (docs/model.md, Block maths). */
static float gelu(float x, bool fp16)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    if (!fp16)
        return 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x)));
    if (x <= -10.0f)
        return 0.0f;
    if (x >= 10.0f)
        return x;
    float xr = loco_fp16_to_fp32(loco_fp32_to_fp16(x));
    float g = 0.5f * xr * (1.0f + tanhf(k * xr * (1.0f + 0.044715f * xr * xr)));
    return loco_fp16_to_fp32(loco_fp32_to_fp16(g));
}

/* cos/sin of each rotation angle for every token of the batch, computed as
 * ggml does: theta_i = pos * scale * base^(-2i/n_rot), by repeated product. */
static void rope_tables(struct loco_context *c, const int32_t *pos, int32_t n, float base,
                        float scale)
{
    int32_t half = c->m->hp.n_rot / 2;
    float theta_scale = powf(base, -2.0f / (float)c->m->hp.n_rot);
    for (int32_t t = 0; t < n; t++) {
        float theta = (float)pos[t];
        for (int32_t i = 0; i < half; i++) {
            c->rope_cos[t * half + i] = cosf(theta * scale);
            c->rope_sin[t * half + i] = sinf(theta * scale);
            theta *= theta_scale;
        }
    }
}

/* rotate one head vector x[D] in place */
static void rope_apply(float *x, const float *cs, const float *sn, int32_t n_rot,
                       enum loco_rope_type type)
{
    int32_t half = n_rot / 2;
    for (int32_t i = 0; i < half; i++) {
        int32_t a = type == LOCO_ROPE_NORM ? 2 * i : i;
        int32_t b = type == LOCO_ROPE_NORM ? 2 * i + 1 : i + half;
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * cs[i] - x1 * sn[i];
        x[b] = x0 * sn[i] + x1 * cs[i];
    }
}

/* ---- sublayers --------------------------------------------------------- */

static int matmul(const struct loco_context *c, const struct loco_weight *w, const float *x,
                  int32_t n, float *y)
{
    if (c->m->params.matmul_mode == LOCO_MATMUL_F32_ACT)
        return loco_matmul_f32act_pool(c->pool, w->data, w->type, w->n_in, w->n_out, x, n, y);
    return loco_matmul_pool(c->pool, w->data, w->type, w->n_in, w->n_out, x, n, y);
}

/* A block projection: the base product, then the LoRA deltas of the
 * sequences' adapter sets. */
static int project(struct loco_context *c, int il, enum loco_lora_target t,
                   const struct loco_weight *w, const float *x, int32_t n, float *y)
{
    if (!c->lora.n_groups)
        return matmul(c, w, x, n, y);
    if (lora_fusable(c, il, t))
        return lora_project(c, il, t, w, x, n, y);
    lora_prefetch(c, il, t);
    int rc = matmul(c, w, x, n, y);
    return rc == LOCO_OK ? lora_add(c, il, t, x, w->n_in, n, y, w->n_out) : rc;
}

static void add_bias(float *y, const float *b, int32_t n, int64_t dim)
{
    if (!b)
        return;
    for (int32_t t = 0; t < n; t++)
        for (int64_t i = 0; i < dim; i++)
            y[t * dim + i] += b[i];
}

static size_t cache_index(const struct loco_context *c, int32_t seq, int il, int32_t pos)
{
    const struct loco_hparams *hp = &c->m->hp;
    size_t row = ((size_t)seq * (size_t)hp->n_layer + (size_t)il) * (size_t)c->p.n_ctx + (size_t)pos;
    return row * (size_t)hp->n_head_kv * (size_t)hp->head_dim;
}

/* per-head norms, rope, and the K/V cache store for the batch */
static void qk_prepare(struct loco_context *c, const struct loco_layer *L, int il,
                       const struct loco_batch *b)
{
    const struct loco_hparams *hp = &c->m->hp;
    int32_t D = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv, half = hp->n_rot / 2;
    rope_tables(c, b->pos, b->n, L->rope_base, L->rope_scale);
    for (int32_t t = 0; t < b->n; t++) {
        const float *cs = c->rope_cos + t * half, *sn = c->rope_sin + t * half;
        for (int32_t h = 0; h < H + Hkv; h++) {
            bool is_q = h < H;
            float *x = is_q ? c->q + ((size_t)t * H + h) * D : c->k + ((size_t)t * Hkv + h - H) * D;
            const float *norm = is_q ? L->q_norm : L->k_norm;
            if (norm)
                rmsnorm(x, x, norm, D, hp->rms_eps);
            rope_apply(x, cs, sn, hp->n_rot, hp->rope_type);
        }
        size_t at = cache_index(c, b->seq[t], il, b->pos[t]);
        memcpy(c->k_cache + at, c->k + (size_t)t * Hkv * D, (size_t)Hkv * D * sizeof(float));
        memcpy(c->v_cache + at, c->v + (size_t)t * Hkv * D, (size_t)Hkv * D * sizeof(float));
    }
}

/* Attention, two ways to the same result:
 *  - a token on its own (decode) attends with vector dot products;
 *  - a run of consecutive positions of one sequence (prefill) attends as two
 *    matrix products per head, S = scale * Q K^T and A = softmax(S) V, done
 *    by OpenBLAS in blocks of ATT_BLOCK query rows.
 * Both mask keys after the query's position and, on sliding-window layers,
 * keys n_swa or more positions back. */
/* first key index a query at position p may see */
static int32_t key_lo(const struct loco_context *c, const struct loco_layer *L, int32_t p)
{
    int32_t w = c->m->hp.n_swa;
    return L->local && p - w + 1 > 0 ? p - w + 1 : 0;
}

/* in place: row[j] = softmax over j in [lo, hi], 0 elsewhere in [0, n) */
static void softmax_masked(float *row, int32_t n, int32_t lo, int32_t hi)
{
    float max = -INFINITY;
    for (int32_t j = lo; j <= hi; j++)
        max = row[j] > max ? row[j] : max;
    double sum = 0.0;
    for (int32_t j = 0; j < n; j++) {
        float e = j >= lo && j <= hi ? expf(row[j] - max) : 0.0f;
        row[j] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int32_t j = lo; j <= hi; j++)
        row[j] *= inv;
}

/* out[d] = sum over keys j of p[j] * v_j[d], j in order, each product
 * rounded before it is added (the plain loop's arithmetic, so both forms
 * give the same bits). */
static void weigh_values_plain(float *out, const float *p, const float *v, size_t stride,
                               int32_t n, int32_t D)
{
    memset(out, 0, (size_t)D * sizeof(float));
    for (int32_t j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * stride;
        for (int32_t d = 0; d < D; d++)
            out[d] += p[j] * vj[d];
    }
}

#if defined(__x86_64__)
/* The same with AVX2: 32 outputs in four registers across all keys, so out
 * is written once; multiply then add, no FMA. */
__attribute__((target("avx2"))) static void weigh_values_avx2(float *out, const float *p,
                                                               const float *v, size_t stride,
                                                               int32_t n, int32_t D)
{
    int32_t d = 0;
    for (; d + 32 <= D; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int32_t j = 0; j < n; j++) {
            const float *vj = v + (size_t)j * stride + d;
            const __m256 pj = _mm256_set1_ps(p[j]);
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(pj, _mm256_loadu_ps(vj)));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(pj, _mm256_loadu_ps(vj + 8)));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(pj, _mm256_loadu_ps(vj + 16)));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(pj, _mm256_loadu_ps(vj + 24)));
        }
        _mm256_storeu_ps(out + d, a0);
        _mm256_storeu_ps(out + d + 8, a1);
        _mm256_storeu_ps(out + d + 16, a2);
        _mm256_storeu_ps(out + d + 24, a3);
    }
    if (d < D)
        weigh_values_plain(out + d, p, v + d, stride, n, D - d);
}
#endif

static void weigh_values(bool simd, float *out, const float *p, const float *v, size_t stride,
                         int32_t n, int32_t D)
{
#if defined(__x86_64__)
    if (simd) { /* the CPU has AVX2 (c->simd) */
        weigh_values_avx2(out, p, v, stride, n, D);
        return;
    }
#endif
    weigh_values_plain(out, p, v, stride, n, D);
}

/* one token, one head: keys [lo, hi] of its sequence */
static void attend_token(const struct loco_context *c, int il, int32_t seq, int32_t lo,
                         int32_t hi, int32_t kv_head, const float *q, float *out, float *scores)
{
    const struct loco_hparams *hp = &c->m->hp;
    int32_t D = hp->head_dim;
    size_t stride = (size_t)hp->n_head_kv * D;
    const float *kbase = c->k_cache + cache_index(c, seq, il, 0) + (size_t)kv_head * D;
    const float *vbase = c->v_cache + cache_index(c, seq, il, 0) + (size_t)kv_head * D;
    loco_vec_dot_fn dot = loco_type_traits(LOCO_TYPE_F32)->vec_dot;
    for (int32_t j = lo; j <= hi; j++) {
        dot(D, &scores[j], q, kbase + (size_t)j * stride);
        scores[j] *= hp->attn_scale;
    }
    softmax_masked(scores + lo, hi - lo + 1, 0, hi - lo);
    weigh_values(c->simd, out, scores + lo, vbase + (size_t)lo * stride, stride, hi - lo + 1, D);
}

/* rows [r0, r0 + n) of a run, one head, through two sgemm calls */
static void attend_block(const struct loco_context *c, const struct loco_layer *L, int il,
                         const struct att_run *run, int32_t r0, int32_t n, int32_t h,
                         float *scores)
{
    const struct loco_hparams *hp = &c->m->hp;
    int32_t D = hp->head_dim, H = hp->n_head, kvh = h / (hp->n_head / hp->n_head_kv);
    int32_t ld_kv = hp->n_head_kv * D, p_first = run->p0 + r0, p_last = p_first + n - 1;
    int32_t lo = key_lo(c, L, p_first), n_keys = p_last - lo + 1;
    const float *k = c->k_cache + cache_index(c, run->seq, il, lo) + (size_t)kvh * D;
    const float *v = c->v_cache + cache_index(c, run->seq, il, lo) + (size_t)kvh * D;
    const float *q = c->q + ((size_t)(run->t0 + r0) * H + h) * D;
    float *out = c->att + ((size_t)(run->t0 + r0) * H + h) * D;
    /* S[n][n_keys] = scale * Q[n][D] K[n_keys][D]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n_keys, D, hp->attn_scale, q, H * D,
                k, ld_kv, 0.0f, scores, n_keys);
    for (int32_t i = 0; i < n; i++) {
        int32_t p = p_first + i;
        softmax_masked(scores + (size_t)i * n_keys, n_keys, key_lo(c, L, p) - lo, p - lo);
    }
    /* A[n][D] = P[n][n_keys] V[n_keys][D] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, D, n_keys, 1.0f, scores, n_keys, v,
                ld_kv, 0.0f, out, H * D);
}

/* Split the batch into runs of consecutive positions of one sequence. */
static int32_t find_runs(const struct loco_batch *b, struct att_run *runs)
{
    int32_t n = 0;
    for (int32_t t = 0; t < b->n; t++) {
        struct att_run *r = n ? &runs[n - 1] : NULL;
        if (r && b->seq[t] == r->seq && b->pos[t] == r->p0 + r->n)
            r->n++;
        else
            runs[n++] = (struct att_run){.t0 = t, .n = 1, .seq = b->seq[t], .p0 = b->pos[t]};
    }
    return n;
}

/* One attention loop's arguments, for the pool's workers. */
struct att_loop {
    const struct loco_context *c;
    const struct loco_layer *L;
    int il;
};

/* jobs [j0, j1) of the current layer; `thread` picks the scores buffer */
static void attend_jobs(void *arg, int64_t j0, int64_t j1, int32_t thread)
{
    const struct att_loop *a = arg;
    const struct loco_context *c = a->c;
    const struct loco_hparams *hp = &c->m->hp;
    int32_t H = hp->n_head, D = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    float *scores = c->scores + (size_t)thread * ATT_BLOCK * (size_t)c->p.n_ctx;
    for (int64_t j = j0; j < j1; j++) {
        const struct att_job *job = &c->jobs[j];
        const struct att_run *run = &c->runs[job->run];
        if (job->n == 1) {
            int32_t t = run->t0 + job->r0, p = run->p0 + job->r0;
            attend_token(c, a->il, run->seq, key_lo(c, a->L, p), p, job->h / group,
                         c->q + ((size_t)t * H + job->h) * D, c->att + ((size_t)t * H + job->h) * D,
                         scores);
        } else {
            attend_block(c, a->L, a->il, run, job->r0, job->n, job->h, scores);
        }
    }
}

static void attention(struct loco_context *c, const struct loco_layer *L, int il,
                      const struct loco_batch *b)
{
    int32_t H = c->m->hp.n_head;
    int32_t n_runs = find_runs(b, c->runs), n_jobs = 0;
    /* one job per (block of up to ATT_BLOCK rows of a run, head) */
    for (int32_t r = 0; r < n_runs; r++)
        for (int32_t r0 = 0; r0 < c->runs[r].n; r0 += ATT_BLOCK)
            for (int32_t h = 0; h < H; h++)
                c->jobs[n_jobs++] = (struct att_job){
                    .run = r, .r0 = r0, .h = h,
                    .n = c->runs[r].n - r0 < ATT_BLOCK ? c->runs[r].n - r0 : ATT_BLOCK};
    struct att_loop a = {c, L, il};
    loco_pool_for(c->pool, n_jobs, 1, attend_jobs, &a);
}

static void residual_add(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

static void norm_rows(float *y, const float *x, const float *w, int32_t n, int64_t dim, float eps)
{
    for (int32_t t = 0; t < n; t++)
        rmsnorm(y + t * dim, x + t * dim, w, dim, eps);
}

static int attention_block(struct loco_context *c, int il, const struct loco_batch *b)
{
    const struct loco_hparams *hp = &c->m->hp;
    const struct loco_layer *L = &c->m->layers[il];
    int32_t n = b->n;
    int64_t C = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim;
    int64_t kvd = (int64_t)hp->n_head_kv * hp->head_dim;
    int rc;
    norm_rows(c->h, c->x, L->attn_norm, n, C, hp->rms_eps);
    if (c->capture)
        for (int32_t i = 0; i < n; i++)
            if (b->pos[i] < c->capture_tokens)
                memcpy(c->capture + ((size_t)il * (size_t)c->capture_tokens + (size_t)b->pos[i]) *
                                        (size_t)C,
                       c->h + (size_t)i * (size_t)C, (size_t)C * sizeof(float));
    if ((rc = project(c, il, LOCO_LORA_Q, &L->wq, c->h, n, c->q)) ||
        (rc = project(c, il, LOCO_LORA_K, &L->wk, c->h, n, c->k)) ||
        (rc = project(c, il, LOCO_LORA_V, &L->wv, c->h, n, c->v)))
        return rc;
    add_bias(c->q, L->bq, n, qd);
    add_bias(c->k, L->bk, n, kvd);
    add_bias(c->v, L->bv, n, kvd);
    qk_prepare(c, L, il, b);
    attention(c, L, il, b);
    if ((rc = project(c, il, LOCO_LORA_O, &L->wo, c->att, n, c->o)))
        return rc;
    if (L->post_attn_norm)
        norm_rows(c->o, c->o, L->post_attn_norm, n, C, hp->rms_eps);
    residual_add(c->x, c->o, (size_t)n * (size_t)C);
    return LOCO_OK;
}

static int ffn_block(struct loco_context *c, int il, int32_t n)
{
    const struct loco_hparams *hp = &c->m->hp;
    const struct loco_layer *L = &c->m->layers[il];
    int64_t C = hp->n_embd;
    size_t nf = (size_t)n * (size_t)hp->n_ff;
    bool gemma = hp->arch == LOCO_ARCH_GEMMA3, fp16 = c->m->params.gelu_fp16;
    int rc;
    norm_rows(c->h, c->x, L->ffn_norm, n, C, hp->rms_eps);
    if ((rc = project(c, il, LOCO_LORA_GATE, &L->gate, c->h, n, c->ff_gate)) ||
        (rc = project(c, il, LOCO_LORA_UP, &L->up, c->h, n, c->ff_up)))
        return rc;
    for (size_t i = 0; i < nf; i++) {
        float g = c->ff_gate[i];
        c->ff_gate[i] = (gemma ? gelu(g, fp16) : silu(g)) * c->ff_up[i];
    }
    if ((rc = project(c, il, LOCO_LORA_DOWN, &L->down, c->ff_gate, n, c->o)))
        return rc;
    if (L->post_ffw_norm)
        norm_rows(c->o, c->o, L->post_ffw_norm, n, C, hp->rms_eps);
    residual_add(c->x, c->o, (size_t)n * (size_t)C);
    return LOCO_OK;
}

/* ---- decode ------------------------------------------------------------ */

static int check_batch(const struct loco_context *c, const struct loco_batch *b, int32_t *next)
{
    if (b->n <= 0 || b->n > c->p.n_batch)
        return loco_error_set(LOCO_ERR_INVALID, "batch of %d tokens (allowed 1..%d)", b->n,
                              c->p.n_batch);
    memcpy(next, c->seq_len, (size_t)c->p.n_seq * sizeof *next);
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = b->seq[i], p = b->pos[i], tok = b->tokens[i];
        if (s < 0 || s >= c->p.n_seq)
            return loco_error_set(LOCO_ERR_INVALID, "token %d: sequence %d out of range", i, s);
        if (tok < 0 || tok >= c->m->hp.n_vocab)
            return loco_error_set(LOCO_ERR_INVALID, "token %d: id %d out of vocabulary", i, tok);
        if (p != next[s])
            return loco_error_set(LOCO_ERR_INVALID, "token %d: position %d does not continue "
                                  "sequence %d (expected %d)", i, p, s, next[s]);
        if (p >= c->p.n_ctx)
            return loco_error_set(LOCO_ERR_RANGE, "sequence %d is full: context holds %d tokens; "
                                  "start a new conversation or raise --ctx", s, c->p.n_ctx);
        next[s] = p + 1;
    }
    return LOCO_OK;
}

static int ensure_logits(struct loco_context *c, int32_t n)
{
    if (n <= c->logits_cap)
        return LOCO_OK;
    float *p = realloc(c->logits, (size_t)n * (size_t)c->m->hp.n_vocab * sizeof(float));
    if (!p)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %d logits rows", n);
    c->logits = p;
    c->logits_cap = n;
    return LOCO_OK;
}

static int compute_logits(struct loco_context *c, const struct loco_batch *b)
{
    const struct loco_hparams *hp = &c->m->hp;
    int64_t C = hp->n_embd;
    int32_t n_out = 0;
    for (int32_t i = 0; i < b->n; i++) {
        bool want = b->want_logits ? b->want_logits[i] : i == b->n - 1;
        if (want)
            rmsnorm(c->h + (size_t)n_out++ * C, c->x + (size_t)i * C, c->m->output_norm, C,
                    hp->rms_eps);
    }
    c->n_logits = 0;
    if (n_out == 0)
        return LOCO_OK;
    int rc = ensure_logits(c, n_out);
    if (rc || (rc = matmul(c, &c->m->output, c->h, n_out, c->logits)))
        return rc;
    c->n_logits = n_out;
    if (hp->final_softcap > 0.0f) {
        size_t total = (size_t)n_out * (size_t)hp->n_vocab;
        for (size_t i = 0; i < total; i++)
            c->logits[i] = hp->final_softcap * tanhf(c->logits[i] / hp->final_softcap);
    }
    return LOCO_OK;
}

static void embed(struct loco_context *c, const struct loco_batch *b)
{
    const struct loco_hparams *hp = &c->m->hp;
    const struct loco_weight *e = &c->m->tok_embd;
    for (int32_t i = 0; i < b->n; i++) {
        float *row = c->x + (size_t)i * hp->n_embd;
        loco_get_row(e->data, e->type, e->n_in, b->tokens[i], row);
        if (hp->embd_scale != 1.0f)
            for (int32_t j = 0; j < hp->n_embd; j++)
                row[j] *= hp->embd_scale;
    }
}

int loco_decode(struct loco_context *c, const struct loco_batch *b)
{
    int32_t *next = malloc((size_t)c->p.n_seq * sizeof *next);
    if (!next)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    int rc = check_batch(c, b, next);
    if (rc == LOCO_OK)
        rc = lora_prepare(c, b);
    if (rc == LOCO_OK) {
        embed(c, b);
        int32_t n_run = c->n_layers_run ? c->n_layers_run : c->m->hp.n_layer;
        for (int il = 0; il < n_run && rc == LOCO_OK; il++) {
            rc = attention_block(c, il, b);
            if (rc == LOCO_OK)
                rc = ffn_block(c, il, b->n);
        }
    }
    c->n_logits = 0; /* an early exit has no logits */
    if (rc == LOCO_OK && !c->n_layers_run)
        rc = compute_logits(c, b);
    c->lora.n_groups = 0;
    if (rc == LOCO_OK) {
        for (int32_t i = 0; i < b->n; i++)
            c->seq_tokens[(size_t)b->seq[i] * (size_t)c->p.n_ctx + (size_t)b->pos[i]] =
                b->tokens[i];
        memcpy(c->seq_len, next, (size_t)c->p.n_seq * sizeof *next);
    }
    c->last_n = rc == LOCO_OK ? b->n : 0;
    free(next);
    return rc;
}

void loco_context_capture(struct loco_context *c, float *buf, int32_t max_tokens)
{
    c->capture = max_tokens > 0 ? buf : NULL;
    c->capture_tokens = buf ? max_tokens : 0;
}

int loco_context_set_layers(struct loco_context *c, int32_t n_layers)
{
    if (n_layers < 0 || n_layers > c->m->hp.n_layer)
        return loco_error_set(LOCO_ERR_INVALID, "early exit after %d layers: the model has %d",
                              n_layers, c->m->hp.n_layer);
    c->n_layers_run = n_layers == c->m->hp.n_layer ? 0 : n_layers;
    return LOCO_OK;
}

int loco_context_hidden(const struct loco_context *c, int32_t i, float *out)
{
    if (i < 0 || i >= c->last_n)
        return loco_error_set(LOCO_ERR_RANGE, "hidden state %d: the last decode call had %d tokens",
                              i, c->last_n);
    const struct loco_hparams *hp = &c->m->hp;
    rmsnorm(out, c->x + (size_t)i * (size_t)hp->n_embd, c->m->output_norm, hp->n_embd,
            hp->rms_eps);
    return LOCO_OK;
}
