/*
 * ops.c - forward and backward of the training core's building blocks.
 *
 * Each forward repeats the inference engine's arithmetic (forward.c) so that
 * a trainer with B = 0 reproduces the engine's f32-activation logits; each
 * backward follows right after its forward. Shapes: see ops.h.
 */
#include "train/core/ops.h"

#include "loco/pool.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- RMSNorm ------------------------------------------------------------ */

float train_op_rmsnorm_fwd(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)x[i];
    float rstd = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * rstd * w[i];
    return rstd;
}

/* y_i = x_i r w_i with r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / n:
 *   dx_j = r w_j dy_j - (r^3 / n) x_j sum_i(dy_i w_i x_i) */
void train_op_rmsnorm_bwd(float *dx, const float *dy, const float *x, const float *w, float rstd,
                          int64_t n)
{
    double dot = 0.0;
    for (int64_t i = 0; i < n; i++)
        dot += (double)dy[i] * (double)w[i] * (double)x[i];
    float c = (float)(dot * (double)rstd * (double)rstd * (double)rstd / (double)n);
    for (int64_t i = 0; i < n; i++)
        dx[i] += rstd * w[i] * dy[i] - c * x[i];
}

/* ---- rope --------------------------------------------------------------- */

void train_op_rope_tables(float *cs, float *sn, int32_t n, int32_t n_rot, float base, float scale)
{
    int32_t half = n_rot / 2;
    float theta_scale = powf(base, -2.0f / (float)n_rot);
    for (int32_t t = 0; t < n; t++) {
        float theta = (float)t;
        for (int32_t i = 0; i < half; i++) {
            cs[t * half + i] = cosf(theta * scale);
            sn[t * half + i] = sinf(theta * scale);
            theta *= theta_scale;
        }
    }
}

/* the pair (a, b) rotated by angle i: adjacent elements or the two halves */
static void rope_pair(int32_t i, int32_t half, enum loco_rope_type type, int32_t *a, int32_t *b)
{
    *a = type == LOCO_ROPE_NORM ? 2 * i : i;
    *b = type == LOCO_ROPE_NORM ? 2 * i + 1 : i + half;
}

void train_op_rope_fwd(float *x, const float *cs, const float *sn, int32_t n_rot,
                       enum loco_rope_type type)
{
    int32_t half = n_rot / 2, a, b;
    for (int32_t i = 0; i < half; i++) {
        rope_pair(i, half, type, &a, &b);
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * cs[i] - x1 * sn[i];
        x[b] = x0 * sn[i] + x1 * cs[i];
    }
}

/* [y0; y1] = [c -s; s c] [x0; x1]  =>  [dx0; dx1] = [c s; -s c] [dy0; dy1] */
void train_op_rope_bwd(float *dx, const float *cs, const float *sn, int32_t n_rot,
                       enum loco_rope_type type)
{
    int32_t half = n_rot / 2, a, b;
    for (int32_t i = 0; i < half; i++) {
        rope_pair(i, half, type, &a, &b);
        float d0 = dx[a], d1 = dx[b];
        dx[a] = d0 * cs[i] + d1 * sn[i];
        dx[b] = -d0 * sn[i] + d1 * cs[i];
    }
}

/* ---- SwiGLU --------------------------------------------------------------- */

void train_op_swiglu_fwd(float *out, const float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* silu(g) = g s(g), silu'(g) = s(g) (1 + g (1 - s(g))) with s the sigmoid */
void train_op_swiglu_bwd(float *dg, float *du, const float *dout, const float *g, const float *u,
                         int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-g[i]));
        du[i] = dout[i] * g[i] * s;
        dg[i] = dout[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
}

/* ---- causal attention, one head ----------------------------------------- */

/* in place: row[0..last] = softmax, row(last..n) = 0 (forward.c's softmax_masked) */
static void softmax_causal(float *row, int32_t n, int32_t last)
{
    float max = -INFINITY;
    for (int32_t j = 0; j <= last; j++)
        max = row[j] > max ? row[j] : max;
    double sum = 0.0;
    for (int32_t j = 0; j <= last; j++) {
        row[j] = expf(row[j] - max);
        sum += row[j];
    }
    float inv = (float)(1.0 / sum);
    for (int32_t j = 0; j <= last; j++)
        row[j] *= inv;
    for (int32_t j = last + 1; j < n; j++)
        row[j] = 0.0f;
}

/* p[bn][r0 + bn] = softmax(scale q k^T + causal mask) for query rows
 * [r0, r0 + bn): row i sees keys 0..r0+i */
static void attn_probs(float *p, const float *q, int32_t ld_q, const float *k, int32_t ld_kv,
                       int32_t r0, int32_t bn, int32_t d, float scale)
{
    int32_t nk = r0 + bn;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, nk, d, scale, q + (size_t)r0 * ld_q,
                ld_q, k, ld_kv, 0.0f, p, nk);
    for (int32_t i = 0; i < bn; i++)
        softmax_causal(p + (size_t)i * nk, nk, r0 + i);
}

void train_op_attn_fwd(float *out, int32_t ld_o, const float *q, int32_t ld_q, const float *k,
                       const float *v, int32_t ld_kv, int32_t r0, int32_t bn, int32_t d,
                       float scale, float *p)
{
    int32_t nk = r0 + bn;
    attn_probs(p, q, ld_q, k, ld_kv, r0, bn, d, scale);
    /* out[bn][d] = P[bn][nk] v[nk][d] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bn, d, nk, 1.0f, p, nk, v, ld_kv, 0.0f,
                out + (size_t)r0 * ld_o, ld_o);
}

/* With dP = dout v^T: dv = P^T dout, dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik),
 * dq = scale dS k, dk = scale dS^T q; block by block of query rows, each
 * touching only the keys it sees. */
void train_op_attn_bwd(float *dq, float *dk, float *dv, const float *dout, int32_t ld_o,
                       const float *q, int32_t ld_q, const float *k, const float *v, int32_t ld_kv,
                       int32_t n, int32_t d, float scale, int32_t block, float *p, float *ds)
{
    for (int32_t r0 = 0; r0 < n; r0 += block) {
        int32_t bn = n - r0 < block ? n - r0 : block, nk = r0 + bn;
        float beta = r0 == 0 ? 0.0f : 1.0f;
        const float *dob = dout + (size_t)r0 * ld_o, *qb = q + (size_t)r0 * ld_q;
        attn_probs(p, q, ld_q, k, ld_kv, r0, bn, d, scale);
        /* dv[0:nk] (+)= P^T dout_b (rows of dv past the first block's keys start at 0) */
        if (r0 > 0)
            memset(dv + (size_t)(nk - bn) * d, 0, (size_t)bn * d * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, d, bn, 1.0f, p, nk, dob, ld_o,
                    beta, dv, d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, nk, d, 1.0f, dob, ld_o, v, ld_kv,
                    0.0f, ds, nk);
        for (int32_t i = 0; i < bn; i++) {
            const float *pi = p + (size_t)i * nk;
            float *di = ds + (size_t)i * nk;
            double dot = 0.0;
            for (int32_t j = 0; j <= r0 + i; j++)
                dot += (double)pi[j] * (double)di[j];
            for (int32_t j = 0; j <= r0 + i; j++)
                di[j] = scale * pi[j] * (di[j] - (float)dot);
            for (int32_t j = r0 + i + 1; j < nk; j++)
                di[j] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bn, d, nk, 1.0f, ds, nk, k, ld_kv,
                    0.0f, dq + (size_t)r0 * ld_q, ld_q);
        if (r0 > 0)
            memset(dk + (size_t)(nk - bn) * d, 0, (size_t)bn * d * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, d, bn, 1.0f, ds, nk, qb, ld_q,
                    beta, dk, d);
    }
}

/* ---- cross-entropy -------------------------------------------------------- */

double train_op_xent(float *logits, int32_t V, int32_t target, float scale, bool grad)
{
    float max = -INFINITY;
    for (int32_t i = 0; i < V; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int32_t i = 0; i < V; i++)
        sum += (double)expf(logits[i] - max);
    double lse = (double)max + log(sum);
    double nll = lse - (double)logits[target];
    if (grad) {
        float inv = (float)(1.0 / sum);
        for (int32_t i = 0; i < V; i++)
            logits[i] = scale * expf(logits[i] - max) * inv;
        logits[target] -= scale;
    }
    return nll;
}

/* ---- matrix products -------------------------------------------------------- */

/* One product's arguments and how it is split, for the pool's threads. */
struct gemm_job {
    bool a_trans, b_trans, by_rows; /* by_rows: parts are rows of C, else columns */
    int32_t M, N, K, lda, ldb, ldc;
    int32_t extent, chunk; /* rows (or columns) in all, and per part */
    float alpha, beta;
    const float *A, *B;
    float *C;
};

/* parts [p0, p1): rows (or columns) [part * chunk, ...) of C, one sgemm each */
static void gemm_parts(void *arg, int64_t p0, int64_t p1, int32_t thread)
{
    const struct gemm_job *g = arg;
    for (int64_t part = p0; part < p1; part++) {
        int32_t e0 = (int32_t)part * g->chunk;
        if (e0 >= g->extent)
            continue;
        int32_t en = g->extent - e0 < g->chunk ? g->extent - e0 : g->chunk;
        int32_t m0 = g->by_rows ? e0 : 0, mn = g->by_rows ? en : g->M;
        int32_t c0 = g->by_rows ? 0 : e0, cn = g->by_rows ? g->N : en;
        const float *a = g->a_trans ? g->A + m0 : g->A + (size_t)m0 * (size_t)g->lda;
        const float *b = g->b_trans ? g->B + (size_t)c0 * (size_t)g->ldb : g->B + c0;
        cblas_sgemm(CblasRowMajor, g->a_trans ? CblasTrans : CblasNoTrans,
                    g->b_trans ? CblasTrans : CblasNoTrans, mn, cn, g->K, g->alpha, a, g->lda, b,
                    g->ldb, g->beta, g->C + (size_t)m0 * (size_t)g->ldc + c0, g->ldc);
    }
}

void train_gemm(struct loco_pool *pool, bool a_trans, bool b_trans, int32_t M, int32_t N, int32_t K,
                float alpha, const float *A, int32_t lda, const float *B, int32_t ldb, float beta,
                float *C, int32_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    int32_t parts = loco_pool_n_threads(pool);
    bool by_rows = N < 64 * parts; /* narrow products (LoRA rank): split the rows instead */
    int32_t extent = by_rows ? M : N;
    if (extent < 16 * parts)
        parts = extent / 16 > 1 ? extent / 16 : 1;
    struct gemm_job g = {.a_trans = a_trans,
                         .b_trans = b_trans,
                         .by_rows = by_rows,
                         .M = M,
                         .N = N,
                         .K = K,
                         .lda = lda,
                         .ldb = ldb,
                         .ldc = ldc,
                         .extent = extent,
                         .chunk = ((extent + parts - 1) / parts + 15) / 16 * 16,
                         .alpha = alpha,
                         .beta = beta,
                         .A = A,
                         .B = B,
                         .C = C};
    loco_pool_for(pool, parts, 1, gemm_parts, &g);
}
