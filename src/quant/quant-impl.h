/*
 * quant-impl.h - private to src/quant: block structs, inline half-float
 * helpers, and the kernels each family file defines for the type table in
 * traits.c.
 *
 * Files:
 *   half.c     fp16/bf16 conversion; F32, F16, BF16 rows and dot products
 *   legacy.c   32-element blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1
 *   legacy-dots.inc, legacy-vnni.c, legacy-x86.h
 *              the x86 Q4_0/Q4_1/Q8_0 dot products, compiled for AVX2 (in
 *              legacy.c) and again for AVX-512 VNNI
 *   kquants.c  256-element super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K
 *   traits.c   the type table, run-time kernel selection
 *   matmul.c   loco_matmul, loco_matmul_f32act, loco_get_row
 *   stream.c   memory-bandwidth probe (loco/bench.h)
 *
 * Every kernel has a scalar version (the specification); an AVX2 twin, when
 * there is one, sits right after it in the same file, is compiled for
 * "avx2,fma,f16c" through a function attribute (the rest of the build stays
 * generic) and is only installed by traits.c when the CPU has AVX2.
 *
 * Block pointers follow ggml's alignment: 2 bytes for the fp16-scaled blocks
 * (GGUF tensor data is 32-byte aligned and every block size is even), 4 for
 * Q8_K. Byte offsets below are those of docs/formats/quant.md.
 */
#ifndef LOCO_QUANT_IMPL_H
#define LOCO_QUANT_IMPL_H

#include "loco/quant.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define LOCO_QUANT_X86 1
/* Every AVX2 CPU also has FMA and F16C; traits.c checks all three. */
#define LOCO_AVX2 __attribute__((target("avx2,fma,f16c")))
/* The AVX-512 VNNI twins (legacy-vnni.c) need F, BW, VL, DQ and VNNI; traits.c
 * checks them all (and AVX2, FMA, F16C, which such CPUs have). */
#define LOCO_AVX512                                                                                \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#else
#define LOCO_QUANT_X86 0
#endif

/* ---- block layouts (docs/formats/quant.md) ----------------------------- */

struct block_q4_0 { /* 18 B: y = d * (q - 8) */
    uint16_t d;
    uint8_t qs[16]; /* byte j: element j (low nibble), j+16 (high nibble) */
};
struct block_q4_1 { /* 20 B: y = d * q + m */
    uint16_t d, m;
    uint8_t qs[16];
};
struct block_q5_0 { /* 22 B: y = d * (q5 - 16) */
    uint16_t d;
    uint8_t qh[4]; /* little-endian u32: bit j = 5th bit of element j */
    uint8_t qs[16];
};
struct block_q5_1 { /* 24 B: y = d * q5 + m */
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
};
struct block_q8_0 { /* 34 B: y = d * q */
    uint16_t d;
    int8_t qs[32];
};
struct block_q8_1 { /* 36 B: y = d * q, s = d * sum(q) */
    uint16_t d, s;
    int8_t qs[32];
};
struct block_q2_k {     /* 84 B */
    uint8_t scales[16]; /* low nibble scale, high nibble min */
    uint8_t qs[64];
    uint16_t d, dmin;
};
struct block_q3_k { /* 110 B */
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12]; /* 16 packed 6-bit scales, offset by 32 */
    uint16_t d;
};
struct block_q4_k { /* 144 B: y = d*sc*q - dmin*m over 8 sub-blocks of 32 */
    uint16_t d, dmin;
    uint8_t scales[12]; /* 8 six-bit scales and 8 six-bit mins, packed */
    uint8_t qs[128];
};
struct block_q5_k { /* 176 B */
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
struct block_q6_k { /* 210 B: y = d*sc*(q - 32) over 16 sub-blocks of 16 */
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};
struct block_q8_k { /* 292 B, activations only: y = d * q */
    float d;
    int8_t qs[256];
    int16_t bsums[16]; /* sum of each group of 16 qs */
};

_Static_assert(sizeof(struct block_q4_0) == 18, "Q4_0 block");
_Static_assert(sizeof(struct block_q4_1) == 20, "Q4_1 block");
_Static_assert(sizeof(struct block_q5_0) == 22, "Q5_0 block");
_Static_assert(sizeof(struct block_q5_1) == 24, "Q5_1 block");
_Static_assert(sizeof(struct block_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(struct block_q8_1) == 36, "Q8_1 block");
_Static_assert(sizeof(struct block_q2_k) == 84, "Q2_K block");
_Static_assert(sizeof(struct block_q3_k) == 110, "Q3_K block");
_Static_assert(sizeof(struct block_q4_k) == 144, "Q4_K block");
_Static_assert(sizeof(struct block_q5_k) == 176, "Q5_K block");
_Static_assert(sizeof(struct block_q6_k) == 210, "Q6_K block");
_Static_assert(sizeof(struct block_q8_k) == 292, "Q8_K block");

/* ---- half floats (docs/formats/gguf.md), inline for the kernels --------- */

static inline float lq_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t lq_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* IEEE binary16 -> binary32; exact for every non-NaN input. */
static inline float lq_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) /* inf, or NaN: quieted (as F16C does), payload kept */
        return lq_bits_f32(sign | 0x7f800000u | (man ? 0x400000u : 0) | man << 13);
    if (exp != 0) /* normal: rebias the exponent from 15 to 127 */
        return lq_bits_f32(sign | (exp + 112) << 23 | man << 13);
    float v = (float)man * 0x1p-24f; /* zero or subnormal: man * 2^-24, exact */
    return sign ? -v : v;
}

static inline float lq_bf16_to_fp32(uint16_t h)
{
    return lq_bits_f32((uint32_t)h << 16);
}

/* ---- several activation rows at once ------------------------------------ */

/* Most activation rows one multi-token kernel call takes: 8, so that a
 * decode step of up to 8 sequences (self-consistency's K answers, a batch
 * of slots) unpacks each weight block once. */
#define LQ_MULTI_MAX 8

/* s[k * s_stride] = dot(x, y_k) for k < n_y (1 <= n_y <= LQ_MULTI_MAX), where
 * y_k = (const char *)y + k * y_stride is an activation row in the weight
 * type's vec_dot_type. Each weight block is unpacked once and multiplied with
 * all n_y rows, which is what makes small batches cheaper than n_y single
 * dot products. Every result is bit-identical to the same kernel set's
 * vec_dot(n, &s, x, y_k): the same per-block arithmetic, the same
 * accumulators, the same summation order. */
typedef void (*lq_vec_dot_multi_fn)(int64_t n, float *s, size_t s_stride, const void *x,
                                    const void *y, size_t y_stride, int n_y);

/* Block i of activation row k in a multi-token kernel (y: const char *). */
#define LQ_Y_BLOCK(type, y, ys, k, i) (&((const struct type *)((y) + (size_t)(k) * (ys)))[i])

/* The multi-token kernels are written once for any row count ny and
 * inlined with ny = 1..LQ_MULTI_MAX as a constant, so that per-row arrays
 * of accumulators live in registers (as many as fit). */
#define LQ_INLINE inline __attribute__((always_inline))

/* Call KERNEL(c) with c the constant equal to ny (1 <= ny <= LQ_MULTI_MAX);
 * KERNEL is a function-like macro naming the inlined kernel's call. */
#define LQ_MULTI_SWITCH(ny, KERNEL)                                                                \
    switch (ny) {                                                                                  \
    case 1:                                                                                        \
        KERNEL(1);                                                                                 \
        break;                                                                                     \
    case 2:                                                                                        \
        KERNEL(2);                                                                                 \
        break;                                                                                     \
    case 3:                                                                                        \
        KERNEL(3);                                                                                 \
        break;                                                                                     \
    case 4:                                                                                        \
        KERNEL(4);                                                                                 \
        break;                                                                                     \
    case 5:                                                                                        \
        KERNEL(5);                                                                                 \
        break;                                                                                     \
    case 6:                                                                                        \
        KERNEL(6);                                                                                 \
        break;                                                                                     \
    case 7:                                                                                        \
        KERNEL(7);                                                                                 \
        break;                                                                                     \
    default:                                                                                       \
        KERNEL(8);                                                                                 \
        break;                                                                                     \
    }

/* traits.c: the multi-token kernel that matches loco_type_traits(t)->vec_dot
 * (the selected kernel set), or NULL when type t has none; _ref: the one
 * that matches the scalar reference vec_dot. */
lq_vec_dot_multi_fn lq_vec_dot_multi(enum loco_type t);
lq_vec_dot_multi_fn lq_vec_dot_multi_ref(enum loco_type t);

/* ---- kernels, by file (names: <what>_<type>[_<partner>]_<ref|avx2>; dotm:
 * one weight row with several activation rows, see lq_vec_dot_multi_fn) ---- */

/* half.c */
void lq_to_float_f32(const void *src, float *dst, int64_t n);
void lq_from_float_f32(const float *src, void *dst, int64_t n);
void lq_dot_f32_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_f16(const void *src, float *dst, int64_t n);
void lq_from_float_f16(const float *src, void *dst, int64_t n);
void lq_dot_f16_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_bf16(const void *src, float *dst, int64_t n);
void lq_from_float_bf16(const float *src, void *dst, int64_t n);
void lq_dot_bf16_ref(int64_t n, float *s, const void *x, const void *y);

/* legacy.c */
void lq_to_float_q4_0(const void *src, float *dst, int64_t n);
void lq_from_float_q4_0(const float *src, void *dst, int64_t n);
void lq_dot_q4_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_0_q8_0_ref(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                           int ny);
void lq_to_float_q4_1(const void *src, float *dst, int64_t n);
void lq_from_float_q4_1(const float *src, void *dst, int64_t n);
void lq_dot_q4_1_q8_1_ref(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_1_q8_1_ref(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                           int ny);
void lq_to_float_q5_0(const void *src, float *dst, int64_t n);
void lq_from_float_q5_0(const float *src, void *dst, int64_t n);
void lq_dot_q5_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_q5_1(const void *src, float *dst, int64_t n);
void lq_from_float_q5_1(const float *src, void *dst, int64_t n);
void lq_dot_q5_1_q8_1_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_q8_0(const void *src, float *dst, int64_t n);
void lq_from_float_q8_0_ref(const float *src, void *dst, int64_t n);
void lq_dot_q8_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q8_0_q8_0_ref(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                           int ny);
void lq_to_float_q8_1(const void *src, float *dst, int64_t n);
void lq_from_float_q8_1_ref(const float *src, void *dst, int64_t n);

/* kquants.c */
void lq_to_float_q2_k(const void *src, float *dst, int64_t n);
void lq_dot_q2_k_q8_k_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_q3_k(const void *src, float *dst, int64_t n);
void lq_dot_q3_k_q8_k_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_q4_k(const void *src, float *dst, int64_t n);
void lq_from_float_q4_k(const float *src, void *dst, int64_t n);
void lq_dot_q4_k_q8_k_ref(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_k_q8_k_ref(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                           int ny);
void lq_to_float_q5_k(const void *src, float *dst, int64_t n);
void lq_from_float_q5_k(const float *src, void *dst, int64_t n);
void lq_dot_q5_k_q8_k_ref(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_q6_k(const void *src, float *dst, int64_t n);
void lq_from_float_q6_k(const float *src, void *dst, int64_t n);
void lq_dot_q6_k_q8_k_ref(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q6_k_q8_k_ref(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                           int ny);
void lq_to_float_q8_k(const void *src, float *dst, int64_t n);
void lq_from_float_q8_k_ref(const float *src, void *dst, int64_t n);

#if LOCO_QUANT_X86
void lq_to_float_f16_f16c(const void *src, float *dst, int64_t n);
void lq_from_float_f16_f16c(const float *src, void *dst, int64_t n);
void lq_dot_f32_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_f16_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_bf16_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q4_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q8_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_0_q8_0_avx2(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                            int ny);
void lq_dotm_q4_1_q8_1_avx2(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                            int ny);
void lq_dotm_q8_0_q8_0_avx2(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                            int ny);
void lq_from_float_q8_0_avx2(const float *src, void *dst, int64_t n);
void lq_from_float_q8_1_avx2(const float *src, void *dst, int64_t n);
void lq_dot_q4_k_q8_k_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_to_float_q4_k_avx2(const void *src, float *dst, int64_t n);
void lq_to_float_q5_k_avx2(const void *src, float *dst, int64_t n);
void lq_to_float_q6_k_avx2(const void *src, float *dst, int64_t n);
void lq_dot_q5_k_q8_k_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q6_k_q8_k_avx2(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_k_q8_k_avx2(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                            int ny);
void lq_dotm_q6_k_q8_k_avx2(int64_t n, float *s, size_t ss, const void *x, const void *y, size_t ys,
                            int ny);
void lq_from_float_q8_k_avx2(const float *src, void *dst, int64_t n);

/* traits.c: whether the CPU (and the OS) run the AVX-512 VNNI kernels */
bool lq_cpu_has_avx512vnni(void);

/* legacy-vnni.c: bit-identical twins of the AVX2 kernels above */
void lq_dot_q4_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q4_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q8_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_0_q8_0_avx512(int64_t n, float *s, size_t ss, const void *x, const void *y,
                              size_t ys, int ny);
void lq_dotm_q4_1_q8_1_avx512(int64_t n, float *s, size_t ss, const void *x, const void *y,
                              size_t ys, int ny);
void lq_dotm_q8_0_q8_0_avx512(int64_t n, float *s, size_t ss, const void *x, const void *y,
                              size_t ys, int ny);
/* kquants.c: the same for Q4_K and Q6_K */
void lq_dot_q4_k_q8_k_avx512(int64_t n, float *s, const void *x, const void *y);
void lq_dot_q6_k_q8_k_avx512(int64_t n, float *s, const void *x, const void *y);
void lq_dotm_q4_k_q8_k_avx512(int64_t n, float *s, size_t ss, const void *x, const void *y,
                              size_t ys, int ny);
void lq_dotm_q6_k_q8_k_avx512(int64_t n, float *s, size_t ss, const void *x, const void *y,
                              size_t ys, int ny);
#endif

#endif
