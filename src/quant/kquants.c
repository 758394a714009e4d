/*
 * kquants.c - the 256-element super-block types: Q2_K, Q3_K, Q4_K, Q5_K,
 * Q6_K (weights) and Q8_K (their activation partner).
 *
 * Layouts and formulas: docs/formats/quant.md (K-quants). Each scalar routine first
 * unpacks a block into plain arrays in element order (q[256] and one scale
 * per sub-block); dequantization and the reference dot products then read
 * like the formulas:
 *
 *   Q4_K, Q5_K  y = d*sc[j]*q - dmin*m[j]      8 sub-blocks of 32
 *   Q6_K        y = d*sc[j]*(q - 32)           16 sub-blocks of 16
 *   Q2_K        y = d*sc[j]*q - dmin*m[j]      16 sub-blocks of 16
 *   Q3_K        y = d*(sc[j] - 32)*q3          16 sub-blocks of 16
 *
 * Dot products with a Q8_K activation block (float d, int8 q, bsums = sums
 * of 16 q) run on integers: sumi = sum_j sc[j] * sum(q*qy) over the
 * sub-blocks; the min term uses the bsums, dmin * sum_j m[j]*bsum_j, so it
 * needs no per-element work. Then sum += dx*dy*sumi - dminx*dy*summ.
 *
 * The Q8_K quantizer reproduces llama.cpp's exactly (docs/formats/quant.md, Q8_K), because
 * the golden logits come from it: max = the value with the largest |x|
 * (first one on ties), iscale = -127/max, q = min(127, nearest-even(iscale
 * * x)), d = 1/iscale; an all-zero block gets d = 0 and q = 0.
 *
 * The Q4_K/Q5_K/Q6_K quantizers are plain round-to-nearest references of
 * this project's own design (for tests and fixtures).
 */
#include "quant-impl.h"

#include <math.h>
#include <stdbool.h>

#if LOCO_QUANT_X86
#include <immintrin.h>
#endif

#define QK 256

/* ---- shared helpers ------------------------------------------------------- */

/* 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (docs/formats/quant.md, Q4_K). */
static void scale_min_k4(int j, const uint8_t s[12], uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

static void unpack_scales_k4(const uint8_t s[12], uint8_t sc[8], uint8_t m[8])
{
    for (int j = 0; j < 8; j++)
        scale_min_k4(j, s, &sc[j], &m[j]);
}

/* Inverse of scale_min_k4: sc, m < 64. */
static void pack_scales_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t s[12])
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4));
    }
}

/* Integer dot product of n int8/uint8 pairs. */
static int dot_u8_i8(const uint8_t *a, const int8_t *b, int n)
{
    int s = 0;
    for (int l = 0; l < n; l++)
        s += a[l] * b[l];
    return s;
}

static int dot_i8_i8(const int8_t *a, const int8_t *b, int n)
{
    int s = 0;
    for (int l = 0; l < n; l++)
        s += a[l] * b[l];
    return s;
}

static int nearest_even(float x)
{
    return (int)lrintf(x); /* default rounding mode: half to even */
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- AVX2 building blocks (twins below each reference) ---------------- */

#if LOCO_QUANT_X86
LOCO_AVX2 static float hsum_ps(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

LOCO_AVX2 static int hsum_epi32(__m256i v)
{
    __m128i r = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    r = _mm_add_epi32(r, _mm_unpackhi_epi64(r, r));
    r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 1));
    return _mm_cvtsi128_si32(r);
}
#endif

/* ---- Q2_K (dequantize and scalar dot only) -------------------------------- */

/* Element order (docs/formats/quant.md, Q2_K): each half of 128 uses 32 qs bytes; for shift
 * 0, 2, 4, 6 it yields 16 elements from bytes 0..15, then 16 from 16..31. */
static void unpack_q2_k(const struct block_q2_k *b, uint8_t q[QK])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *qs = b->qs + 32 * h;
        for (int j = 0; j < 4; j++) {
            uint8_t *out = q + 128 * h + 32 * j;
            for (int l = 0; l < 32; l++)
                out[l] = (qs[l] >> (2 * j)) & 3;
        }
    }
}

void lq_to_float_q2_k(const void *src, float *dst, int64_t n)
{
    const struct block_q2_k *b = src;
    uint8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        const float d = lq_fp16_to_fp32(b[i].d), dmin = lq_fp16_to_fp32(b[i].dmin);
        unpack_q2_k(&b[i], q);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)(b[i].scales[j] & 0x0f);
            const float ml = dmin * (float)(b[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                dst[16 * j + l] = dl * (float)q[16 * j + l] - ml;
        }
    }
}

void lq_dot_q2_k_q8_k_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q2_k *x = vx;
    const struct block_q8_k *y = vy;
    uint8_t q[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q2_k(&x[i], q);
        int sumi = 0, summ = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (x[i].scales[j] & 0x0f) * dot_u8_i8(q + 16 * j, y[i].qs + 16 * j, 16);
            summ += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        sum += y[i].d * lq_fp16_to_fp32(x[i].d) * (float)sumi -
               y[i].d * lq_fp16_to_fp32(x[i].dmin) * (float)summ;
    }
    *s = sum;
}

/* ---- Q3_K (dequantize and scalar dot only) -------------------------------- */

/* Signed 3-bit values q2 - (hbit ? 0 : 4), in Q2_K's element order; the
 * high bit of half h, step j sits at 1 << (4h + j) in hmask[l]. */
static void unpack_q3_k(const struct block_q3_k *b, int8_t q[QK])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *qs = b->qs + 32 * h;
        for (int j = 0; j < 4; j++) {
            const uint8_t bit = (uint8_t)(1u << (4 * h + j));
            int8_t *out = q + 128 * h + 32 * j;
            for (int l = 0; l < 32; l++)
                out[l] = (int8_t)(((qs[l] >> (2 * j)) & 3) - ((b->hmask[l] & bit) ? 0 : 4));
        }
    }
}

/* 16 six-bit scales, minus 32 (docs/formats/quant.md, Q3_K). */
static void unpack_scales_q3_k(const uint8_t s[12], int sc[16])
{
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? (s[i] & 0x0f) : (s[i - 8] >> 4);
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (lo | hi << 4) - 32;
    }
}

void lq_to_float_q3_k(const void *src, float *dst, int64_t n)
{
    const struct block_q3_k *b = src;
    int8_t q[QK];
    int sc[16];
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        const float d = lq_fp16_to_fp32(b[i].d);
        unpack_q3_k(&b[i], q);
        unpack_scales_q3_k(b[i].scales, sc);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)sc[j];
            for (int l = 0; l < 16; l++)
                dst[16 * j + l] = dl * (float)q[16 * j + l];
        }
    }
}

void lq_dot_q3_k_q8_k_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q3_k *x = vx;
    const struct block_q8_k *y = vy;
    int8_t q[QK];
    int sc[16];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q3_k(&x[i], q);
        unpack_scales_q3_k(x[i].scales, sc);
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += sc[j] * dot_i8_i8(q + 16 * j, y[i].qs + 16 * j, 16);
        sum += y[i].d * lq_fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *s = sum;
}

/* ---- Q4_K ----------------------------------------------------------------- */

/* Chunk c of 64 elements uses qs[32c..32c+31]: low nibbles first (sub-block
 * 2c), then high nibbles (sub-block 2c+1). */
static void unpack_q4_k(const uint8_t qs[128], uint8_t q[QK])
{
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = qs[32 * c + l] & 0x0f;
            q[64 * c + 32 + l] = qs[32 * c + l] >> 4;
        }
    }
}

static void pack_q4_k(const uint8_t q[QK], uint8_t qs[128])
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 0x0f) | (q[64 * c + 32 + l] & 0x0f) << 4);
}

/* y = d*sc[j]*q - dmin*m[j] over 8 sub-blocks of 32 (Q4_K and Q5_K). */
static void dequant_k4(float d, float dmin, const uint8_t scales[12], const uint8_t q[QK],
                       float *dst)
{
    uint8_t sc[8], m[8];
    unpack_scales_k4(scales, sc, m);
    for (int j = 0; j < 8; j++) {
        const float d1 = d * (float)sc[j], m1 = dmin * (float)m[j];
        for (int l = 0; l < 32; l++)
            dst[32 * j + l] = d1 * (float)q[32 * j + l] - m1;
    }
}

/* sum(y*qx) in the integer domain for Q4_K and Q5_K blocks. */
static float dot_k4(float d, float dmin, const uint8_t scales[12], const uint8_t q[QK],
                    const struct block_q8_k *y)
{
    uint8_t sc[8], m[8];
    unpack_scales_k4(scales, sc, m);
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; j++) {
        sumi += sc[j] * dot_u8_i8(q + 32 * j, y->qs + 32 * j, 32);
        summ += m[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    return y->d * d * (float)sumi - y->d * dmin * (float)summ;
}

/* Reference quantizer for one Q4_K/Q5_K super-block (nmax 15 or 31): each
 * sub-block gets y = s*q - m with m = -min(0, min x), s = range/nmax; the 8
 * scales and 8 mins are then coded in 6 bits against d = max s / 63 and
 * dmin = max m / 63 (rounded up so the range stays covered), and q is
 * re-derived from the coded values. */
static void quantize_k4(const float *x, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                        uint8_t scales[12], uint8_t q[QK])
{
    float s[8], m[8], smax = 0.0f, mmax = 0.0f;
    for (int j = 0; j < 8; j++) {
        float lo = 0.0f, hi = x[32 * j];
        for (int l = 0; l < 32; l++) {
            lo = fminf(lo, x[32 * j + l]);
            hi = fmaxf(hi, x[32 * j + l]);
        }
        s[j] = (hi - lo) / (float)nmax;
        m[j] = -lo;
        smax = fmaxf(smax, s[j]);
        mmax = fmaxf(mmax, m[j]);
    }
    *d_out = loco_fp32_to_fp16(smax / 63.0f);
    *dmin_out = loco_fp32_to_fp16(mmax / 63.0f);
    const float d = lq_fp16_to_fp32(*d_out), dmin = lq_fp16_to_fp32(*dmin_out);
    uint8_t isc[8], im[8];
    for (int j = 0; j < 8; j++) {
        isc[j] = (uint8_t)(d > 0.0f ? clampi((int)ceilf(s[j] / d), 0, 63) : 0);
        im[j] = (uint8_t)(dmin > 0.0f ? clampi((int)ceilf(m[j] / dmin), 0, 63) : 0);
        const float ds = d * (float)isc[j], dm = dmin * (float)im[j];
        for (int l = 0; l < 32; l++) {
            int v = ds > 0.0f ? nearest_even((x[32 * j + l] + dm) / ds) : 0;
            q[32 * j + l] = (uint8_t)clampi(v, 0, nmax);
        }
    }
    pack_scales_k4(isc, im, scales);
}

void lq_to_float_q4_k(const void *src, float *dst, int64_t n)
{
    const struct block_q4_k *b = src;
    uint8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        unpack_q4_k(b[i].qs, q);
        dequant_k4(lq_fp16_to_fp32(b[i].d), lq_fp16_to_fp32(b[i].dmin), b[i].scales, q, dst);
    }
}

void lq_from_float_q4_k(const float *src, void *dst, int64_t n)
{
    struct block_q4_k *b = dst;
    uint8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        quantize_k4(src, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
        pack_q4_k(q, b[i].qs);
    }
}

void lq_dot_q4_k_q8_k_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q4_k *x = vx;
    const struct block_q8_k *y = vy;
    uint8_t q[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q4_k(x[i].qs, q);
        sum += dot_k4(lq_fp16_to_fp32(x[i].d), lq_fp16_to_fp32(x[i].dmin), x[i].scales, q, &y[i]);
    }
    *s = sum;
}

#if LOCO_QUANT_X86
/* The 12 packed scale bytes of Q4_K/Q5_K as 8 scales and 8 mins (bytes,
 * in sub-block order), four at a time on 32-bit words. With A, B, C the
 * words at bytes 0, 4, 8 (docs/formats/quant.md, Q4_K):
 *   sc0..3 = A & 63            sc4..7 = (C & 15) | (A >> 6) << 4
 *   m0..3  = B & 63            m4..7  = (C >> 4) | (B >> 6) << 4   */
static void unpack_scales_k4_swar(const uint8_t s[12], uint64_t *sc, uint64_t *m)
{
    uint32_t a, b, c;
    memcpy(&a, s, 4);
    memcpy(&b, s + 4, 4);
    memcpy(&c, s + 8, 4);
    const uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, bits45 = 0x30303030;
    *sc = (uint64_t)(a & lo6) | (uint64_t)((c & lo4) | ((a >> 2) & bits45)) << 32;
    *m = (uint64_t)(b & lo6) | (uint64_t)(((c >> 4) & lo4) | ((b >> 2) & bits45)) << 32;
}

/* int16 element k of v8 (which holds the same 8 int16 in both 128-bit
 * lanes) copied to all 16 slots: a byte shuffle picking bytes 2k, 2k+1. */
LOCO_AVX2 static __m256i spread_i16(__m256i v8, int k)
{
    const __m256i idx = _mm256_set1_epi16((short)(0x0100 * (2 * k + 1) + 2 * k));
    return _mm256_shuffle_epi8(v8, idx);
}

/* A Q4_K/Q5_K block's 8 mins (the bytes of m8) as 16 int16, each twice:
 * m0 m0 m1 m1 ... m7 m7, to pair with the activation block's 16 bsums. */
LOCO_AVX2 static LQ_INLINE __m256i k4_mins_x2(uint64_t m8)
{
    const __m128i m = _mm_cvtsi64_si128((long long)m8);
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
}

/* The end of a Q4_K/Q5_K block against one activation block: the scaled
 * sums sumi (8 int32 lanes) and the min term into the float accumulators;
 * m2 is k4_mins_x2 of the block's mins. */
LOCO_AVX2 static LQ_INLINE void k4_tail(__m256i sumi, __m256i m2, const struct block_q8_k *y,
                                        float d, float dmin, __m256 *acc, __m256 *acc_m)
{
    /* min term: lane j is m[j] * (bsum[2j] + bsum[2j+1]), one madd */
    __m256i summ = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), m2);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), *acc);
    *acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(summ), *acc_m);
}

/* The body of a multi-row entry point over KERNEL(n, s, ss, vx, y, ys, ny):
 * at most 4 rows per pass (the integer sums of more rows do not fit the
 * registers, and a second pass over the cached block is cheaper), the row
 * count a constant in each pass, so the accumulators stay in registers. */
#define DOTM_BY_4(KERNEL)                                                                          \
    do {                                                                                           \
        if (ny > 4) {                                                                              \
            KERNEL(n, s, ss, vx, vy, ys, 4);                                                       \
            s += 4 * ss;                                                                           \
            vy = (const char *)vy + 4 * ys;                                                        \
            ny -= 4;                                                                               \
        }                                                                                          \
        switch (ny) {                                                                              \
        case 1:                                                                                    \
            KERNEL(n, s, ss, vx, vy, ys, 1);                                                       \
            break;                                                                                 \
        case 2:                                                                                    \
            KERNEL(n, s, ss, vx, vy, ys, 2);                                                       \
            break;                                                                                 \
        case 3:                                                                                    \
            KERNEL(n, s, ss, vx, vy, ys, 3);                                                       \
            break;                                                                                 \
        default:                                                                                   \
            KERNEL(n, s, ss, vx, vy, ys, 4);                                                       \
        }                                                                                          \
    } while (0)

/* Common body of the Q4_K and Q5_K kernels after the quants of one block are
 * unpacked into 8 vectors q[2c] (low, sub-block 2c) and q[2c+1] (high). */
LOCO_AVX2 static LQ_INLINE void k4_block(const __m256i q[8], const uint8_t scales[12],
                                         const struct block_q8_k *y, float d, float dmin,
                                         __m256 *acc, __m256 *acc_m)
{
    uint64_t sc8, m8;
    unpack_scales_k4_swar(scales, &sc8, &m8);
    /* scales as int16, the same 8 in both 128-bit lanes (for the shuffles) */
    const __m128i sc8x16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc8));
    const __m256i sc16 = _mm256_broadcastsi128_si256(sc8x16);
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        __m256i yv = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * j));
        __m256i p = _mm256_maddubs_epi16(q[j], yv);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, spread_i16(sc16, j)));
    }
    k4_tail(sumi, k4_mins_x2(m8), y, d, dmin, acc, acc_m);
}

/* 32 bytes as 32 floats, f[k] holding bytes 8k..8k+7: unsigned (0..255) or
 * signed (-128..127). */
LOCO_AVX2 static LQ_INLINE void bytes_to_ps(__m256i v, bool is_signed, __m256 f[4])
{
    const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        f[k] = _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(part[k])
                                            : _mm256_cvtepu8_epi32(part[k]));
}

/* 32 unsigned byte quants of one sub-block to floats with the reference's
 * steps, dst[l] = d1 * q[l] - m1: a product, then a difference (no fused
 * multiply-add), so the values are the scalar dequantizer's bits. */
LOCO_AVX2 static LQ_INLINE void k4_store32(__m256i q, float d1, float m1, float *dst)
{
    const __m256 dv = _mm256_set1_ps(d1), mv = _mm256_set1_ps(m1);
    __m256 f[4];
    bytes_to_ps(q, false, f);
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(dst + 8 * k, _mm256_sub_ps(_mm256_mul_ps(dv, f[k]), mv));
}

/* One Q4_K/Q5_K block from its quants q[2c] (sub-block 2c) and q[2c+1],
 * as dequant_k4. */
LOCO_AVX2 static LQ_INLINE void k4_dequant_block(const __m256i q[8], float d, float dmin,
                                                 const uint8_t scales[12], float *dst)
{
    uint8_t sc[8], m[8];
    unpack_scales_k4(scales, sc, m);
    for (int j = 0; j < 8; j++)
        k4_store32(q[j], d * (float)sc[j], dmin * (float)m[j], dst + 32 * j);
}

/* The 256 quants of a Q4_K block (0..15) as q[2c] (low nibbles, sub-block
 * 2c) and q[2c+1] (high nibbles). */
LOCO_AVX2 static LQ_INLINE void q4_k_quants(const struct block_q4_k *x, __m256i q[8])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++) {
        const __m256i qv = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
        q[2 * c] = _mm256_and_si256(qv, low4);
        q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(qv, 4), low4);
    }
}

LOCO_AVX2 void lq_to_float_q4_k_avx2(const void *src, float *dst, int64_t n)
{
    const struct block_q4_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        __m256i q[8];
        q4_k_quants(&b[i], q);
        k4_dequant_block(q, lq_fp16_to_fp32(b[i].d), lq_fp16_to_fp32(b[i].dmin), b[i].scales, dst);
    }
}

#endif

/* Several activation rows (quant-impl.h, lq_vec_dot_multi_fn): the block is
 * unpacked once, then dot_k4 / k4_block's sums for each row. */
void lq_dotm_q4_k_q8_k_ref(int64_t n, float *s, size_t ss, const void *vx, const void *vy,
                           size_t ys, int ny)
{
    const struct block_q4_k *x = vx;
    const char *y = vy;
    uint8_t q[QK];
    float sum[LQ_MULTI_MAX] = {0};
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q4_k(x[i].qs, q);
        const float d = lq_fp16_to_fp32(x[i].d), dmin = lq_fp16_to_fp32(x[i].dmin);
        for (int k = 0; k < ny; k++)
            sum[k] += dot_k4(d, dmin, x[i].scales, q, LQ_Y_BLOCK(block_q8_k, y, ys, k, i));
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = sum[k];
}

#if LOCO_QUANT_X86
/* Per row exactly k4_block's integer sums and float steps; the nibbles and
 * the spread scales of each 64-element chunk are shared. */
LOCO_AVX2 static LQ_INLINE void dotm_q4_k(int64_t n, float *s, size_t ss, const void *vx,
                                          const char *y, size_t ys, const int ny)
{
    const struct block_q4_k *x = vx;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc[LQ_MULTI_MAX], acc_m[LQ_MULTI_MAX];
    for (int k = 0; k < ny; k++)
        acc[k] = acc_m[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        uint64_t sc8, m8;
        unpack_scales_k4_swar(x[i].scales, &sc8, &m8);
        const __m256i sc16 =
            _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc8)));
        __m256i sumi[LQ_MULTI_MAX];
        for (int k = 0; k < ny; k++)
            sumi[k] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m256i qv = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c));
            const __m256i lo = _mm256_and_si256(qv, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qv, 4), low4);
            const __m256i s_lo = spread_i16(sc16, 2 * c), s_hi = spread_i16(sc16, 2 * c + 1);
#pragma GCC unroll 4
            for (int k = 0; k < ny; k++) {
                const int8_t *yq = LQ_Y_BLOCK(block_q8_k, y, ys, k, i)->qs + 64 * c;
                __m256i p = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)yq));
                sumi[k] = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(p, s_lo));
                p = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(yq + 32)));
                sumi[k] = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(p, s_hi));
            }
        }
        const float dx = _cvtsh_ss(x[i].d), dmx = _cvtsh_ss(x[i].dmin);
        const __m256i m2 = k4_mins_x2(m8);
#pragma GCC unroll 4
        for (int k = 0; k < ny; k++) {
            const struct block_q8_k *yb = LQ_Y_BLOCK(block_q8_k, y, ys, k, i);
            k4_tail(sumi[k], m2, yb, yb->d * dx, yb->d * dmx, &acc[k], &acc_m[k]);
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = hsum_ps(acc[k]) - hsum_ps(acc_m[k]);
}

/* One activation row: the multi-row body with ny = 1 (the same bits) */
LOCO_AVX2 void lq_dot_q4_k_q8_k_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    dotm_q4_k(n, s, 1, vx, vy, 0, 1);
}

LOCO_AVX2 void lq_dotm_q4_k_q8_k_avx2(int64_t n, float *s, size_t ss, const void *vx,
                                      const void *vy, size_t ys, int ny)
{
    DOTM_BY_4(dotm_q4_k);
}
#endif

/* ---- Q5_K ----------------------------------------------------------------- */

/* As Q4_K, plus 16 when bit 2c (low nibbles) or 2c+1 (high) of qh[l] is set. */
static void unpack_q5_k(const struct block_q5_k *b, uint8_t q[QK])
{
    unpack_q4_k(b->qs, q);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] |= (uint8_t)(((b->qh[l] >> (2 * c)) & 1) << 4);
            q[64 * c + 32 + l] |= (uint8_t)(((b->qh[l] >> (2 * c + 1)) & 1) << 4);
        }
    }
}

static void pack_q5_k(const uint8_t q[QK], struct block_q5_k *b)
{
    pack_q4_k(q, b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            b->qh[l] |= (uint8_t)(((q[64 * c + l] >> 4) & 1) << (2 * c));
            b->qh[l] |= (uint8_t)(((q[64 * c + 32 + l] >> 4) & 1) << (2 * c + 1));
        }
    }
}

void lq_to_float_q5_k(const void *src, float *dst, int64_t n)
{
    const struct block_q5_k *b = src;
    uint8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        unpack_q5_k(&b[i], q);
        dequant_k4(lq_fp16_to_fp32(b[i].d), lq_fp16_to_fp32(b[i].dmin), b[i].scales, q, dst);
    }
}

void lq_from_float_q5_k(const float *src, void *dst, int64_t n)
{
    struct block_q5_k *b = dst;
    uint8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        quantize_k4(src, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
        pack_q5_k(q, &b[i]);
    }
}

void lq_dot_q5_k_q8_k_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_k *x = vx;
    const struct block_q8_k *y = vy;
    uint8_t q[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q5_k(&x[i], q);
        sum += dot_k4(lq_fp16_to_fp32(x[i].d), lq_fp16_to_fp32(x[i].dmin), x[i].scales, q, &y[i]);
    }
    *s = sum;
}

#if LOCO_QUANT_X86
/* The 256 quants of a Q5_K block (0..31) as q[2c] (low nibbles, sub-block
 * 2c) and q[2c+1] (high nibbles): 16 more where bit 2c (low) or 2c+1 (high)
 * of qh[l] is set. */
LOCO_AVX2 static LQ_INLINE void q5_k_quants(const struct block_q5_k *x, __m256i q[8])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256i hb = _mm256_loadu_si256((const __m256i *)x->qh);
    for (int c = 0; c < 4; c++) {
        const __m256i qv = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
        hb = _mm256_srli_epi16(hb, 2);
        q[2 * c] = _mm256_or_si256(_mm256_and_si256(qv, low4), h0);
        q[2 * c + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qv, 4), low4), h1);
    }
}

LOCO_AVX2 void lq_to_float_q5_k_avx2(const void *src, float *dst, int64_t n)
{
    const struct block_q5_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        __m256i q[8];
        q5_k_quants(&b[i], q);
        k4_dequant_block(q, lq_fp16_to_fp32(b[i].d), lq_fp16_to_fp32(b[i].dmin), b[i].scales, dst);
    }
}

LOCO_AVX2 void lq_dot_q5_k_q8_k_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_k *x = vx;
    const struct block_q8_k *y = vy;
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i q[8];
        q5_k_quants(&x[i], q);
        k4_block(q, x[i].scales, &y[i], y[i].d * _cvtsh_ss(x[i].d), y[i].d * _cvtsh_ss(x[i].dmin),
                 &acc, &acc_m);
    }
    *s = hsum_ps(acc) - hsum_ps(acc_m);
}
#endif

/* ---- Q6_K ----------------------------------------------------------------- */

/* docs/formats/quant.md, Q6_K: two halves of 128; in half h, for l < 32, ql[l] and ql[l+32]
 * give the low 4 bits of elements l, l+32 (low nibbles) and l+64, l+96 (high
 * nibbles); qh[l] gives their top 2 bits at shifts 0, 2, 4, 6. */
static void unpack_q6_k(const struct block_q6_k *b, int8_t q[QK])
{
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int8_t *out = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            out[l] = (int8_t)(((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32);
            out[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32);
            out[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            out[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

/* Inverse of unpack_q6_k; u holds q + 32 (0..63). */
static void pack_q6_k(const uint8_t u[QK], struct block_q6_k *b)
{
    for (int h = 0; h < 2; h++) {
        uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        const uint8_t *in = u + 128 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((in[l] & 0x0f) | (in[l + 64] & 0x0f) << 4);
            ql[l + 32] = (uint8_t)((in[l + 32] & 0x0f) | (in[l + 96] & 0x0f) << 4);
            qh[l] = (uint8_t)((in[l] >> 4) | (in[l + 32] >> 4) << 2 | (in[l + 64] >> 4) << 4 |
                              (in[l + 96] >> 4) << 6);
        }
    }
}

void lq_to_float_q6_k(const void *src, float *dst, int64_t n)
{
    const struct block_q6_k *b = src;
    int8_t q[QK];
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        const float d = lq_fp16_to_fp32(b[i].d);
        unpack_q6_k(&b[i], q);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)b[i].scales[j];
            for (int l = 0; l < 16; l++)
                dst[16 * j + l] = dl * (float)q[16 * j + l];
        }
    }
}

/* Symmetric reference for one Q6_K block: per sub-block of 16, s = (value
 * of largest |x|) / -32 so that value maps to q = -32; the 16 scales are
 * coded as int8 against d = max|s| / 127 and q is re-derived from the coded
 * scale. u receives q + 32 (0..63). */
static void quantize_q6_k(const float *x, struct block_q6_k *b, uint8_t u[QK])
{
    float s[16], amax = 0.0f;
    for (int j = 0; j < 16; j++) {
        float mx = 0.0f;
        for (int l = 0; l < 16; l++)
            mx = fabsf(x[16 * j + l]) > fabsf(mx) ? x[16 * j + l] : mx;
        s[j] = mx / -32.0f;
        amax = fmaxf(amax, fabsf(s[j]));
    }
    b->d = loco_fp32_to_fp16(amax / 127.0f);
    const float d = lq_fp16_to_fp32(b->d);
    for (int j = 0; j < 16; j++) {
        const int sc = d > 0.0f ? clampi(nearest_even(s[j] / d), -127, 127) : 0;
        const float ds = d * (float)sc;
        b->scales[j] = (int8_t)sc;
        for (int l = 0; l < 16; l++) {
            int v = ds != 0.0f ? nearest_even(x[16 * j + l] / ds) : 0;
            u[16 * j + l] = (uint8_t)(clampi(v, -32, 31) + 32);
        }
    }
}

void lq_from_float_q6_k(const float *src, void *dst, int64_t n)
{
    struct block_q6_k *b = dst;
    uint8_t u[QK];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        quantize_q6_k(src, &b[i], u);
        pack_q6_k(u, &b[i]);
    }
}

void lq_dot_q6_k_q8_k_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q6_k *x = vx;
    const struct block_q8_k *y = vy;
    int8_t q[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q6_k(&x[i], q);
        int sumi = 0;
        for (int j = 0; j < 16; j++)
            sumi += x[i].scales[j] * dot_i8_i8(q + 16 * j, y[i].qs + 16 * j, 16);
        sum += y[i].d * lq_fp16_to_fp32(x[i].d) * (float)sumi;
    }
    *s = sum;
}

#if LOCO_QUANT_X86
/* The 128 quants of one half of a Q6_K block, unsigned (0..63: the -32
 * offset not yet taken): q[g] holds elements 32g..32g+31 of the half, low 4
 * bits from ql[64], top 2 bits from qh[32] (docs/formats/quant.md). */
LOCO_AVX2 static LQ_INLINE void q6_k_half_quants(const uint8_t *ql, const uint8_t *qh,
                                                 __m256i q[4])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f), top2 = _mm256_set1_epi8(0x30);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                           _mm256_and_si256(_mm256_slli_epi16(h, 4), top2));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                           _mm256_and_si256(_mm256_slli_epi16(h, 2), top2));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                           _mm256_and_si256(h, top2));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                           _mm256_and_si256(_mm256_srli_epi16(h, 2), top2));
}

/* As lq_to_float_q6_k: dst = (d * scale) * (q - 32) per 16 elements. */
LOCO_AVX2 void lq_to_float_q6_k_avx2(const void *src, float *dst, int64_t n)
{
    const struct block_q6_k *b = src;
    const __m256i off = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = lq_fp16_to_fp32(b[i].d);
        for (int half = 0; half < 2; half++) {
            __m256i q[4];
            q6_k_half_quants(b[i].ql + 64 * half, b[i].qh + 32 * half, q);
            for (int g = 0; g < 4; g++, dst += 32) {
                /* elements 32g.. of the half: scale 2g for 16, then 2g+1 */
                const int8_t *sc = b[i].scales + 8 * half + 2 * g;
                const __m256 dl[2] = {_mm256_set1_ps(d * (float)sc[0]),
                                      _mm256_set1_ps(d * (float)sc[1])};
                __m256 f[4];
                bytes_to_ps(_mm256_sub_epi8(q[g], off), true, f);
                for (int k = 0; k < 4; k++)
                    _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(dl[k / 2], f[k]));
            }
        }
    }
}

/* For _mm256_shuffle_epi8 over 8 int16 repeated in both 128-bit lanes:
 * element 2g to every slot of the low lane, element 2g+1 to the high lane. */
LOCO_AVX2 static LQ_INLINE __m256i q6_scale_pick(int g)
{
    const __m128i lo = _mm_set1_epi16((short)(0x0100 * (4 * g + 1) + 4 * g));
    const __m128i hi = _mm_set1_epi16((short)(0x0100 * (4 * g + 3) + 4 * g + 2));
    return _mm256_set_m128i(hi, lo);
}

/* A Q6_K block's 16 scales as int16 (for q6_tail). */
LOCO_AVX2 static LQ_INLINE __m256i q6_scales16(const int8_t scales[16])
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
}

/* The end of a Q6_K block against one activation block: the -32 offset,
 * 32 * sum_j sc[j] * bsum[j], taken out of the scaled sums sumi (8 int32
 * lanes), and d * sumi into the float accumulator; sc16 is q6_scales16 of
 * the block's scales. */
LOCO_AVX2 static LQ_INLINE void q6_tail(__m256i sumi, __m256i sc16, const struct block_q8_k *y,
                                        float d, __m256 *acc)
{
    __m256i bs = _mm256_loadu_si256((const __m256i *)y->bsums);
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5));
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), *acc);
}

#endif

void lq_dotm_q6_k_q8_k_ref(int64_t n, float *s, size_t ss, const void *vx, const void *vy,
                           size_t ys, int ny)
{
    const struct block_q6_k *x = vx;
    const char *y = vy;
    int8_t q[QK];
    float sum[LQ_MULTI_MAX] = {0};
    for (int64_t i = 0; i < n / QK; i++) {
        unpack_q6_k(&x[i], q);
        for (int k = 0; k < ny; k++) {
            const struct block_q8_k *yb = LQ_Y_BLOCK(block_q8_k, y, ys, k, i);
            int sumi = 0;
            for (int j = 0; j < 16; j++)
                sumi += x[i].scales[j] * dot_i8_i8(q + 16 * j, yb->qs + 16 * j, 16);
            sum[k] += yb->d * lq_fp16_to_fp32(x[i].d) * (float)sumi;
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = sum[k];
}

#if LOCO_QUANT_X86
/* Per row the integer sums of each 32-quant group and q6_tail's offset and
 * float steps; the 6-bit quants and the group scales of each half are
 * shared among the rows. */
LOCO_AVX2 static LQ_INLINE void dotm_q6_k(int64_t n, float *s, size_t ss, const void *vx,
                                          const char *y, size_t ys, const int ny)
{
    const struct block_q6_k *x = vx;
    __m256 acc[LQ_MULTI_MAX];
    for (int k = 0; k < ny; k++)
        acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        __m256i sumi[LQ_MULTI_MAX];
        for (int k = 0; k < ny; k++)
            sumi[k] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            const int8_t *sc = x[i].scales + 8 * half;
            __m256i q[4];
            q6_k_half_quants(x[i].ql + 64 * half, x[i].qh + 32 * half, q);
            /* the half's 8 scales as int16 in both 128-bit lanes */
            const __m256i sc8 =
                _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                /* sc[2g] in the low lane, sc[2g+1] in the high one */
                const __m256i scv = _mm256_shuffle_epi8(sc8, q6_scale_pick(g));
#pragma GCC unroll 4
                for (int k = 0; k < ny; k++) {
                    const int8_t *yq =
                        LQ_Y_BLOCK(block_q8_k, y, ys, k, i)->qs + 128 * half + 32 * g;
                    __m256i p = _mm256_maddubs_epi16(q[g], _mm256_loadu_si256((const __m256i *)yq));
                    sumi[k] = _mm256_add_epi32(sumi[k], _mm256_madd_epi16(p, scv));
                }
            }
        }
        const float dx = _cvtsh_ss(x[i].d);
        const __m256i sc16 = q6_scales16(x[i].scales);
#pragma GCC unroll 4
        for (int k = 0; k < ny; k++) {
            const struct block_q8_k *yb = LQ_Y_BLOCK(block_q8_k, y, ys, k, i);
            q6_tail(sumi[k], sc16, yb, yb->d * dx, &acc[k]);
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = hsum_ps(acc[k]);
}

/* One activation row: the multi-row body with ny = 1 (the same bits) */
LOCO_AVX2 void lq_dot_q6_k_q8_k_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    dotm_q6_k(n, s, 1, vx, vy, 0, 1);
}

LOCO_AVX2 void lq_dotm_q6_k_q8_k_avx2(int64_t n, float *s, size_t ss, const void *vx,
                                      const void *vy, size_t ys, int ny)
{
    DOTM_BY_4(dotm_q6_k);
}
#endif

/* ---- AVX-512 VNNI twins of the Q4_K and Q6_K kernels ---------------------- */

#if LOCO_QUANT_X86
/* The same integer sums as the AVX2 kernels, two sub-blocks (64 elements)
 * per 512-bit step: vpdpbusd adds the four u8 * s8 products of each int32
 * lane (maddubs + madd in the AVX2 kernels), vpdpwssd multiplies the lane by
 * its sub-block's scale and accumulates (the scale sits in the low int16 of
 * its lane, 0 in the high one, and a four-product sum fits an int16: at most
 * 4 * 63 * 128). Lanes 0-7 hold the first 32 elements of a step, lanes 8-15
 * the next 32; added together at the end of a block they give each of the
 * AVX2 kernels' 8 lanes the very same integer, so the float steps after it,
 * shared with those kernels (k4_tail, q6_tail), return the same bits. */

/* 32 bytes of Q4_K nibbles as 64 quants: low nibbles in the low 256 bits
 * (sub-block 2c), high nibbles in the high 256 bits (sub-block 2c + 1). */
LOCO_AVX512 static LQ_INLINE __m512i k4_nibbles(const uint8_t *qs)
{
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qs));
    return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0)),
                            _mm512_set1_epi8(0x0f));
}

/* 16 int32 lanes to 8: lane i plus lane i + 8 */
LOCO_AVX512 static LQ_INLINE __m256i fold_epi32(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/* Scale lanes for step c of a Q4_K block: sc[2c] in lanes 0-7, sc[2c+1] in
 * lanes 8-15, from sc32 (the 8 scales as int32 in lanes 0-7). */
LOCO_AVX512 static LQ_INLINE __m512i k4_step_scales(__m512i sc32, int c)
{
    const __m512i idx = _mm512_set_epi32(2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1,
                                         2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c, 2 * c, 2 * c,
                                         2 * c, 2 * c, 2 * c, 2 * c, 2 * c);
    return _mm512_permutexvar_epi32(idx, sc32);
}

/* Q4_K against ny activation rows (1 <= ny <= 4), as dotm_q4_k. */
LOCO_AVX512 static LQ_INLINE void dotm_q4_k_vnni(int64_t n, float *s, size_t ss, const void *vx,
                                                 const char *y, size_t ys, const int ny)
{
    const struct block_q4_k *x = vx;
    __m256 acc[4], acc_m[4];
    for (int k = 0; k < ny; k++)
        acc[k] = acc_m[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        uint64_t sc8, m8;
        unpack_scales_k4_swar(x[i].scales, &sc8, &m8);
        const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc8));
        __m512i sumi[4];
        for (int k = 0; k < ny; k++)
            sumi[k] = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i q = k4_nibbles(x[i].qs + 32 * c);
            const __m512i scl = k4_step_scales(sc32, c);
#pragma GCC unroll 4
            for (int k = 0; k < ny; k++) {
                const int8_t *yq = LQ_Y_BLOCK(block_q8_k, y, ys, k, i)->qs + 64 * c;
                const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q,
                                                      _mm512_loadu_si512((const void *)yq));
                sumi[k] = _mm512_dpwssd_epi32(sumi[k], p, scl);
            }
        }
        const float dx = _cvtsh_ss(x[i].d), dmx = _cvtsh_ss(x[i].dmin);
        const __m256i m2 = k4_mins_x2(m8);
        for (int k = 0; k < ny; k++) {
            const struct block_q8_k *yb = LQ_Y_BLOCK(block_q8_k, y, ys, k, i);
            k4_tail(fold_epi32(sumi[k]), m2, yb, yb->d * dx, yb->d * dmx, &acc[k], &acc_m[k]);
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = hsum_ps(acc[k]) - hsum_ps(acc_m[k]);
}

LOCO_AVX512 void lq_dot_q4_k_q8_k_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    dotm_q4_k_vnni(n, s, 1, vx, vy, 0, 1);
}

LOCO_AVX512 void lq_dotm_q4_k_q8_k_avx512(int64_t n, float *s, size_t ss, const void *vx,
                                          const void *vy, size_t ys, int ny)
{
    DOTM_BY_4(dotm_q4_k_vnni);
}

/* Q6_K against ny activation rows (1 <= ny <= 4), as dotm_q6_k. One step is
 * two of the AVX2 kernel's 32-element groups: [q0 | q1] and [q2 | q3] of
 * each half, with the same bit picking (64-bit lane shifts: the bits they
 * carry across bytes are masked off as the 16-bit shifts' are). */
LOCO_AVX512 static LQ_INLINE void dotm_q6_k_vnni(int64_t n, float *s, size_t ss, const void *vx,
                                                 const char *y, size_t ys, const int ny)
{
    const struct block_q6_k *x = vx;
    const __m512i low4 = _mm512_set1_epi8(0x0f), top2 = _mm512_set1_epi8(0x30);
    const __m512i lo16 = _mm512_set1_epi32(0xffff);
    const __m512i shl01 = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4); /* q0: h << 4, q1: h << 2 */
    const __m512i shr23 = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0); /* q2: h, q3: h >> 2 */
    __m256 acc[4];
    for (int k = 0; k < ny; k++)
        acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; i++) {
        /* the 16 signed scales, one per int32 lane, high int16 cleared */
        const __m512i sc32 = _mm512_and_si512(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)x[i].scales)), lo16);
        __m512i sumi[4];
        for (int k = 0; k < ny; k++)
            sumi[k] = _mm512_setzero_si512();
        for (int half = 0; half < 2; half++) {
            const __m512i l = _mm512_loadu_si512((const void *)(x[i].ql + 64 * half));
            const __m512i h =
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * half)));
            __m512i q[2];
            q[0] = _mm512_or_si512(_mm512_and_si512(l, low4),
                                   _mm512_and_si512(_mm512_sllv_epi64(h, shl01), top2));
            q[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                   _mm512_and_si512(_mm512_srlv_epi64(h, shr23), top2));
            for (int st = 0; st < 2; st++) {
                /* sub-blocks 8*half + 4*st + 0..3, four lanes each */
                const int j = 8 * half + 4 * st;
                const __m512i idx =
                    _mm512_set_epi32(j + 3, j + 3, j + 3, j + 3, j + 2, j + 2, j + 2, j + 2, j + 1,
                                     j + 1, j + 1, j + 1, j, j, j, j);
                const __m512i scl = _mm512_permutexvar_epi32(idx, sc32);
#pragma GCC unroll 4
                for (int k = 0; k < ny; k++) {
                    const int8_t *yq =
                        LQ_Y_BLOCK(block_q8_k, y, ys, k, i)->qs + 128 * half + 64 * st;
                    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[st],
                                                          _mm512_loadu_si512((const void *)yq));
                    sumi[k] = _mm512_dpwssd_epi32(sumi[k], p, scl);
                }
            }
        }
        const float dx = _cvtsh_ss(x[i].d);
        const __m256i sc16 = q6_scales16(x[i].scales);
        for (int k = 0; k < ny; k++) {
            const struct block_q8_k *yb = LQ_Y_BLOCK(block_q8_k, y, ys, k, i);
            q6_tail(fold_epi32(sumi[k]), sc16, yb, yb->d * dx, &acc[k]);
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = hsum_ps(acc[k]);
}

LOCO_AVX512 void lq_dot_q6_k_q8_k_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    dotm_q6_k_vnni(n, s, 1, vx, vy, 0, 1);
}

LOCO_AVX512 void lq_dotm_q6_k_q8_k_avx512(int64_t n, float *s, size_t ss, const void *vx,
                                          const void *vy, size_t ys, int ny)
{
    DOTM_BY_4(dotm_q6_k_vnni);
}
#endif

/* ---- Q8_K ----------------------------------------------------------------- */

void lq_to_float_q8_k(const void *src, float *dst, int64_t n)
{
    const struct block_q8_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK)
        for (int j = 0; j < QK; j++)
            dst[j] = b[i].d * (float)b[i].qs[j];
}

static void q8_k_bsums(struct block_q8_k *b)
{
    for (int j = 0; j < 16; j++) {
        int sum = 0;
        for (int l = 0; l < 16; l++)
            sum += b->qs[16 * j + l];
        b->bsums[j] = (int16_t)sum;
    }
}

void lq_from_float_q8_k_ref(const float *src, void *dst, int64_t n)
{
    struct block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++) {
            if (fabsf(src[j]) > amax) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        }
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK; j++) {
            int v = nearest_even(iscale * src[j]);
            b[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        q8_k_bsums(&b[i]);
        b[i].d = 1.0f / iscale;
    }
}

#if LOCO_QUANT_X86
/* The first value whose |x| equals the largest |x| of the 256 (the scalar
 * loop's strict ">" keeps the first); 0 for an all-zero block. */
LOCO_AVX2 static float signed_absmax_avx2(const float *x)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < QK; k += 8)
        m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const __m256 amax = _mm256_set1_ps(_mm_cvtss_f32(m4));
    for (int k = 0; k < QK; k += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask);
        int hit = _mm256_movemask_ps(_mm256_cmp_ps(a, amax, _CMP_EQ_OQ));
        if (hit)
            return x[k + __builtin_ctz((unsigned)hit)];
    }
    return 0.0f;
}

/* 32 values: q = min(127, nearest-even(iscale * x)), and their two bsums. */
LOCO_AVX2 static void quantize32_q8_k(const float *x, __m256 iscale, int8_t *q, int16_t *bsums)
{
    __m256i iv[4];
    for (int u = 0; u < 4; u++) {
        __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * u), iscale),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        iv[u] = _mm256_min_epi32(_mm256_cvtps_epi32(r), _mm256_set1_epi32(127));
    }
    bsums[0] = (int16_t)hsum_epi32(_mm256_add_epi32(iv[0], iv[1]));
    bsums[1] = (int16_t)hsum_epi32(_mm256_add_epi32(iv[2], iv[3]));
    /* int32 -> int8; the packs work per 128-bit lane, the permute restores order */
    __m256i p =
        _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
}

/* Bit-identical to lq_from_float_q8_k_ref. */
LOCO_AVX2 void lq_from_float_q8_k_avx2(const float *src, void *dst, int64_t n)
{
    struct block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        const float max = signed_absmax_avx2(src);
        if (max == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int k = 0; k < QK; k += 32)
            quantize32_q8_k(src + k, _mm256_set1_ps(iscale), b[i].qs + k, b[i].bsums + k / 16);
        b[i].d = 1.0f / iscale;
    }
}
#endif
