/*
 * ops.h - the training core's building blocks, each forward beside its
 * backward with the arguments in the same order (private to src/train/core).
 *
 * Every op computes exactly the function the inference engine computes
 * (src/model/forward.c; docs/model.md); the backward of an op adds
 * (+=) into the gradient of its input unless it says "writes". The tests
 * check each backward against central finite differences.
 *
 * Shapes: T tokens, C channels, D head dim, V vocab, R LoRA rank.
 */
#ifndef LOCO_TRAIN_OPS_H
#define LOCO_TRAIN_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "loco/model.h"

/* ---- RMSNorm: y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) ------- */

/* One row of n; returns rstd (saved for the backward). y may alias x. */
float train_op_rmsnorm_fwd(float *y, const float *x, const float *w, int64_t n, float eps);
/* dx[n] += d(y . dy)/dx, given the forward's x, w and rstd. */
void train_op_rmsnorm_bwd(float *dx, const float *dy, const float *x, const float *w, float rstd,
                          int64_t n);

/* ---- rotary position embedding (docs/model.md, RoPE) -------------------- */

/* cos/sin [n][n_rot/2] for positions 0..n-1, computed as ggml does:
 * theta_i = pos * scale * base^(-2i/n_rot) by repeated product. */
void train_op_rope_tables(float *cs, float *sn, int32_t n, int32_t n_rot, float base, float scale);
/* Rotate one head vector in place (NORM: adjacent pairs, NEOX: halves). */
void train_op_rope_fwd(float *x, const float *cs, const float *sn, int32_t n_rot,
                       enum loco_rope_type type);
/* In place: dx <- R^T dx (the rotation's transpose undoes it). */
void train_op_rope_bwd(float *dx, const float *cs, const float *sn, int32_t n_rot,
                       enum loco_rope_type type);

/* ---- SwiGLU: out = silu(g) * u ----------------------------------------- */

void train_op_swiglu_fwd(float *out, const float *g, const float *u, int64_t n);
/* writes dg, du [n] from dout */
void train_op_swiglu_bwd(float *dg, float *du, const float *dout, const float *g, const float *u,
                         int64_t n);

/* ---- causal attention for one head -------------------------------------- */

/* Rows are tokens; q, k, v, out are strided (ld_q, ld_kv, ld_o floats).
 *   S = scale q k^T with keys j > i masked, P = softmax(S), out = P v
 * for the query rows [r0, r0 + bn) (keys 0..r0+bn-1), so that blocks of
 * rows can go to different threads and masked blocks are never computed.
 * p: scratch [bn][r0 + bn] that holds P on return. */
void train_op_attn_fwd(float *out, int32_t ld_o, const float *q, int32_t ld_q, const float *k,
                       const float *v, int32_t ld_kv, int32_t r0, int32_t bn, int32_t d,
                       float scale, float *p);
/* Given dout for all n rows, writes dq (stride ld_q) and dk, dv ([n][d],
 * contiguous), recomputing P in blocks of `block` query rows; p and ds are
 * scratch of [block][n] each. */
void train_op_attn_bwd(float *dq, float *dk, float *dv, const float *dout, int32_t ld_o,
                       const float *q, int32_t ld_q, const float *k, const float *v, int32_t ld_kv,
                       int32_t n, int32_t d, float scale, int32_t block, float *p, float *ds);

/* ---- cross-entropy ------------------------------------------------------ */

/* Negative log-likelihood of `target` under softmax(logits[V]). When grad is
 * true, the row is overwritten with scale * (softmax - onehot(target)). */
double train_op_xent(float *logits, int32_t V, int32_t target, float scale, bool grad);

/* ---- matrix products over the sequence (OpenBLAS, the trainer's pool) ---- */

struct loco_pool;

/* C[M][N] = alpha op(A) op(B) + beta C with op(A) = A [M][K] or, when
 * a_trans, A^T (A is [K][M]); op(B) = B [K][N] or, when b_trans, B^T (B is
 * [N][K]). The columns (or, for narrow products such as a LoRA rank, the
 * rows) are split into as many contiguous parts as the pool has threads,
 * one single-threaded sgemm each, run on the pool (NULL: one part, on the
 * caller). The parts depend only on the thread count, so a result does too:
 * OpenBLAS may round a product split in two differently from the whole. */
void train_gemm(struct loco_pool *pool, bool a_trans, bool b_trans, int32_t M, int32_t N, int32_t K,
                float alpha, const float *A, int32_t lda, const float *B, int32_t ldb, float beta,
                float *C, int32_t ldc);

#endif
