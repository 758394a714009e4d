/*
 * loco/quant.h - tensor element types, block formats and their kernels.
 *
 * Every type has a plain scalar reference (dequantize, quantize, dot
 * product) that stays in the code as the specification; faster AVX2/FMA
 * versions are chosen once at run time by loco_quant_init() when the CPU has
 * them, and the tests hold each fast kernel to its reference.
 *
 * Dot products follow llama.cpp's CPU scheme (docs/formats/quant.md): the
 * activation row is first quantized to the weight type's partner
 * ("vec_dot_type": Q8_0 for Q4_0/Q8_0, Q8_1 for Q4_1, Q8_K for K-quants, F16
 * for F16, BF16 for BF16, F32 for F32) and the dot product runs on integers.
 * loco_matmul() does that; loco_matmul_f32act() instead dequantizes weight
 * rows and multiplies with f32 activations (slower, slightly more exact).
 *
 * Block layouts: docs/formats/quant.md.
 */
#ifndef LOCO_QUANT_H
#define LOCO_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct loco_pool; /* loco/pool.h */

/* Element types, numbered as ggml numbers them in GGUF files. */
enum loco_type {
    LOCO_TYPE_F32 = 0,
    LOCO_TYPE_F16 = 1,
    LOCO_TYPE_Q4_0 = 2,
    LOCO_TYPE_Q4_1 = 3,
    LOCO_TYPE_Q5_0 = 6,
    LOCO_TYPE_Q5_1 = 7,
    LOCO_TYPE_Q8_0 = 8,
    LOCO_TYPE_Q8_1 = 9,
    LOCO_TYPE_Q2_K = 10,
    LOCO_TYPE_Q3_K = 11,
    LOCO_TYPE_Q4_K = 12,
    LOCO_TYPE_Q5_K = 13,
    LOCO_TYPE_Q6_K = 14,
    LOCO_TYPE_Q8_K = 15,
    LOCO_TYPE_I8 = 24,
    LOCO_TYPE_I16 = 25,
    LOCO_TYPE_I32 = 26,
    LOCO_TYPE_I64 = 27,
    LOCO_TYPE_F64 = 28,
    LOCO_TYPE_BF16 = 30,
    LOCO_TYPE_COUNT = 43 /* ids below this may appear in files */
};

#define LOCO_QK4_0 32
#define LOCO_QK4_1 32
#define LOCO_QK8_0 32
#define LOCO_QK8_1 32
#define LOCO_QK_K 256

/* n elements of src (in the type's format) -> f32. n is a multiple of the
 * block size. */
typedef void (*loco_to_float_fn)(const void *src, float *dst, int64_t n);
/* f32 -> n elements in the type's format (reference quantizer). */
typedef void (*loco_from_float_fn)(const float *src, void *dst, int64_t n);
/* *s = dot(x, y) over n elements; x in this type, y in its vec_dot_type. */
typedef void (*loco_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

struct loco_type_traits {
    const char *name;          /* "Q4_K", ... */
    int64_t block_size;        /* elements per block; 0 when unknown/removed */
    size_t type_size;          /* bytes per block */
    bool is_quantized;
    enum loco_type vec_dot_type;
    loco_to_float_fn to_float;     /* NULL when the engine cannot compute with it */
    loco_from_float_fn from_float; /* NULL when not supported */
    loco_vec_dot_fn vec_dot;       /* NULL when not supported */
};

/* Pick the fastest kernels this CPU supports. Idempotent and thread-safe;
 * every entry point below calls it, so callers need not. Setting the
 * environment variable LOCO_NO_SIMD=1 before the first call keeps the scalar
 * references (used by tests and benchmarks); LOCO_KERNELS=scalar or avx2
 * stops at that set even when the CPU could do more. */
void loco_quant_init(void);

/* Name of the kernel set in use: "scalar", "avx2" or "avx512vnni" (AVX2
 * with AVX-512 VNNI twins of the Q4_0, Q4_1 and Q8_0 dot products, which
 * return the AVX2 kernels' bits). */
const char *loco_quant_kernel_set(void);

/* Traits of type t; for unknown ids a record with block_size 0 and name
 * "unknown". Never NULL. */
const struct loco_type_traits *loco_type_traits(enum loco_type t);
/* Same, but always the scalar reference kernels. */
const struct loco_type_traits *loco_type_traits_ref(enum loco_type t);

const char *loco_type_name(enum loco_type t);
/* True when t is a valid id with a non-zero block size. */
bool loco_type_valid(int t);
/* Bytes in a row of n elements (n must be a multiple of the block size). */
size_t loco_type_row_size(enum loco_type t, int64_t n);

/* ---- half floats ------------------------------------------------------ */

float loco_fp16_to_fp32(uint16_t h);
uint16_t loco_fp32_to_fp16(float f);      /* round to nearest even */
float loco_bf16_to_fp32(uint16_t h);
uint16_t loco_fp32_to_bf16(float f);      /* round to nearest even, NaN kept quiet */

/* ---- matrix products -------------------------------------------------- */

/* y[t][o] = sum_i W[o][i] * x[t][i] for t < n_tok, o < n_out.
 *   w: n_out rows of n_in elements of type wt (the GGUF layout ne=[n_in,n_out])
 *   x: [n_tok][n_in] f32, y: [n_tok][n_out] f32 (x and y must not overlap)
 * The activation rows are quantized to wt's vec_dot_type first, exactly as
 * llama.cpp's CPU backend does. Uses up to n_threads threads (below 1
 * counts as 1); the result is bit-identical for every n_threads. With
 * many tokens (n_tok >= 8 for F32/F16/BF16, >= 48 for quantized weights)
 * the products go through OpenBLAS sgemm after the same activation
 * rounding; OpenBLAS is set to one thread on first use (the work is split
 * here instead).
 * Returns LOCO_OK, or LOCO_ERR_UNSUPPORTED for a type without kernels. */
int loco_matmul(const void *w, enum loco_type wt, int64_t n_in, int64_t n_out, const float *x,
                int64_t n_tok, float *y, int n_threads);

/* The step size (tokens) from which products with quantized weights go
 * through sgemm. Below it a token's result does not depend on the other
 * tokens of its step, so batched generation keeps each answer independent
 * of its batch up to LOCO_MATMUL_QUANT_SGEMM_MIN_TOKENS - 1 sequences
 * (LOCO_GENERATE_MAX_SLOTS, loco/generate.h). */
#define LOCO_MATMUL_QUANT_SGEMM_MIN_TOKENS 48

/* As loco_matmul, but each weight row is dequantized and multiplied with
 * the f32 activations (no activation quantization). */
int loco_matmul_f32act(const void *w, enum loco_type wt, int64_t n_in, int64_t n_out,
                       const float *x, int64_t n_tok, float *y, int n_threads);

/* The same two products on the threads of `pool` (loco/pool.h; NULL: the
 * calling thread only), with the same bits as the n_threads forms. The
 * n_threads forms above use a pool kept per calling thread (started on first
 * use, stopped when that thread exits); a context keeps its own pool and
 * calls these. The pool is borrowed and must not be running another loop. */
int loco_matmul_pool(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                     int64_t n_out, const float *x, int64_t n_tok, float *y);
int loco_matmul_f32act_pool(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                            int64_t n_out, const float *x, int64_t n_tok, float *y);

/* Called with output rows [o0, o1) once y[t][o] holds the product for
 * every token t and o0 <= o < o1; each row is in exactly one call. */
typedef void (*loco_matmul_then_fn)(void *arg, int64_t o0, int64_t o1);

/* loco_matmul_pool, then `then` over all n_out rows, on the pool's threads.
 * On the per-token path (below the sgemm sizes) each work item calls it on
 * its own rows right after computing them, while they are in cache and
 * without a second fork and join: an epilogue such as a LoRA B product.
 * The ranges depend on the thread count and the batch; an epilogue whose
 * bits must not depend on them treats each row on its own. The product's
 * bits are those of loco_matmul_pool. LOCO_ERR_INVALID without `then`. */
int loco_matmul_pool_then(struct loco_pool *pool, const void *w, enum loco_type wt, int64_t n_in,
                          int64_t n_out, const float *x, int64_t n_tok, float *y,
                          loco_matmul_then_fn then, void *then_arg);

/* Dequantize row `row` of a matrix with rows of n_in elements into dst. */
int loco_get_row(const void *w, enum loco_type wt, int64_t n_in, int64_t row, float *dst);

#ifdef __cplusplus
}
#endif
#endif
