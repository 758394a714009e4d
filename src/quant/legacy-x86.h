/*
 * legacy-x86.h - private to src/quant: the AVX2 building blocks of the
 * 32-element block kernels, shared by legacy.c (the AVX2 twins) and
 * legacy-vnni.c (the AVX-512 VNNI twins); legacy-dots.inc holds the
 * kernels both compile. Include only where
 * LOCO_QUANT_X86 is set, after quant-impl.h.
 */
#ifndef LOCO_QUANT_LEGACY_X86_H
#define LOCO_QUANT_LEGACY_X86_H

#include <immintrin.h>
#include <stdbool.h>

#include "quant-impl.h"

LOCO_AVX2 static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

LOCO_AVX2 static inline float hsum_ps(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* 16 packed bytes -> 32 bytes 0..15 in element order. */
LOCO_AVX2 static inline __m256i load_nibbles(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* sum over pairs of u8 * s8 (|products| small enough for int16), as 8 f32. */
LOCO_AVX2 static inline __m256 dot_u8_s8(__m256i u, __m256i s)
{
    __m256i p16 = _mm256_maddubs_epi16(u, s);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/* Same for s8 * s8: move x's sign onto y so x becomes unsigned. */
LOCO_AVX2 static inline __m256 dot_s8_s8(__m256i x, __m256i y)
{
    return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* x * y for the 32 bytes of one block pair, scaled by d, added to acc. */
LOCO_AVX2 static inline __m256 fma_block_s8(__m256i qx, const int8_t *yq, float d, __m256 acc)
{
    __m256i qy = _mm256_loadu_si256((const __m256i *)yq);
    return _mm256_fmadd_ps(_mm256_set1_ps(d), dot_s8_s8(qx, qy), acc);
}

/* 32 bits -> 32 bytes, byte j = 16 if bit j is set, else 0. */
LOCO_AVX2 static inline __m256i expand_high_bits(const uint8_t qh4[4])
{
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /**/
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), pick);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(16));
}

/* (d, m) of a Q4_1 block times (d, s) of its Q8_1 partner, both pairs of
 * fp16 at the start of the block: lane 0 = dx*dy, lane 1 = mx*sy. */
LOCO_AVX2 static inline __m128 q4_1_scales(const void *x, const void *y)
{
    uint32_t a, b;
    memcpy(&a, x, 4);
    memcpy(&b, y, 4);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)a)),
                      _mm_cvtph_ps(_mm_cvtsi32_si128((int)b)));
}

/* ---- several activation rows (the lq_dotm_* kernels) ------------------ */

/* The multi-token twins keep every token's accumulators exactly as the
 * single-token kernel keeps its own (same chains, same order), so only the
 * work that does not depend on the token - unpacking the weight block and
 * converting its scale - is shared. */

/* Lane k of v in all 8 lanes (k < 8). */
LOCO_AVX2 static LQ_INLINE __m256 lane_ps(__m256 v, int k)
{
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(k));
}

/* The first 4 bytes of block i of activation row k as an int; head16: the
 * first 2 (Q8_0's d). The scale gathers below insert these one by one, so
 * the values go from memory straight into a register. */
static LQ_INLINE int head32(const char *y, size_t ys, size_t bsize, int64_t i, int k)
{
    uint32_t v;
    memcpy(&v, y + (size_t)k * ys + (size_t)i * bsize, 4);
    return (int)v;
}

static LQ_INLINE short head16(const char *y, size_t ys, size_t bsize, int64_t i, int k)
{
    uint16_t v;
    memcpy(&v, y + (size_t)k * ys + (size_t)i * bsize, 2);
    return (short)v;
}

/* Lane k = dx * dy_k for block i of ny (<= 8) Q8_0 rows: the products the
 * single kernel forms one at a time, as the lanes of one multiply. */
LOCO_AVX2 static LQ_INLINE __m256 q8_0_scales(uint16_t dx, const char *y, size_t ys, int64_t i,
                                              int ny)
{
    const size_t bs = sizeof(struct block_q8_0);
    __m128i d = _mm_cvtsi32_si128((uint16_t)head16(y, ys, bs, i, 0));
    if (ny > 1)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 1), 1);
    if (ny > 2)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 2), 2);
    if (ny > 3)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 3), 3);
    if (ny > 4)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 4), 4);
    if (ny > 5)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 5), 5);
    if (ny > 6)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 6), 6);
    if (ny > 7)
        d = _mm_insert_epi16(d, head16(y, ys, bs, i, 7), 7);
    return _mm256_mul_ps(_mm256_set1_ps(h2f(dx)), _mm256_cvtph_ps(d));
}

/* Lanes 2j, 2j+1 = (dx*dy_k, mx*sy_k) for k = k0 + j, j < 4, k < ny, block i
 * of Q8_1 rows: q4_1_scales for four rows, all in one multiply. */
LOCO_AVX2 static LQ_INLINE __m256 q4_1_scales4(const void *xb, const char *y, size_t ys, int64_t i,
                                               int k0, int ny)
{
    const size_t bs = sizeof(struct block_q8_1);
    uint32_t a;
    memcpy(&a, xb, 4);
    __m128i b = _mm_cvtsi32_si128(head32(y, ys, bs, i, k0));
    if (ny > k0 + 1)
        b = _mm_insert_epi32(b, head32(y, ys, bs, i, k0 + 1), 1);
    if (ny > k0 + 2)
        b = _mm_insert_epi32(b, head32(y, ys, bs, i, k0 + 2), 2);
    if (ny > k0 + 3)
        b = _mm_insert_epi32(b, head32(y, ys, bs, i, k0 + 3), 3);
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi32((int)a)), _mm256_cvtph_ps(b));
}

#endif
