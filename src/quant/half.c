/*
 * half.c - the float element types: fp16/bf16 conversions (docs/formats/gguf.md) and
 * the F32, F16 and BF16 rows (convert, quantize = convert, dot product).
 *
 * Conversions are exact software routines: every fp16/bf16 value widens to
 * f32 exactly; narrowing rounds to nearest even, overflows to infinity,
 * handles subnormals and keeps NaN a (quiet) NaN. The F16C twins give
 * bit-identical results and are only used for whole rows.
 *
 * The scalar dot products accumulate in double, as ggml's scalar float dots
 * do, so they serve as a tight reference; the AVX2 twins use four
 * 8-lane f32 FMA accumulators.
 */
#include "quant-impl.h"

#if LOCO_QUANT_X86
#include <immintrin.h>
#endif

/* ---- scalar conversions -------------------------------------------------- */

float loco_fp16_to_fp32(uint16_t h)
{
    return lq_fp16_to_fp32(h);
}

/* Subnormal half result for 2^-25 < |f| < 2^-14: m * 2^(e-150) in units of
 * 2^-24 is m >> (126 - e), rounded to nearest even. */
static uint16_t fp16_subnormal(uint32_t a)
{
    uint32_t man = (a & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - (a >> 23); /* 14 .. 24 */
    uint32_t h = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1)))
        h++; /* may carry into the smallest normal, which is still right */
    return (uint16_t)h;
}

uint16_t loco_fp32_to_fp16(float f)
{
    uint32_t u = lq_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) /* NaN: quiet it, keep the top payload bits */
        return sign | 0x7e00 | (uint16_t)((a >> 13) & 0x3ff);
    if (a >= 0x477ff000) /* >= 65520 (halfway past 65504) or inf */
        return sign | 0x7c00;
    if (a >= 0x38800000) { /* normal half: round the low 13 bits to even */
        uint32_t r = (a + 0xfff + ((a >> 13) & 1)) >> 13;
        return sign | (uint16_t)(r - (112u << 10));
    }
    if (a <= 0x33000000) /* <= 2^-25: rounds to zero (2^-25 ties to even 0) */
        return sign;
    return sign | fp16_subnormal(a);
}

float loco_bf16_to_fp32(uint16_t h)
{
    return lq_bf16_to_fp32(h);
}

uint16_t loco_fp32_to_bf16(float f)
{
    uint32_t u = lq_f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) /* NaN: forced quiet */
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* ---- F32 ------------------------------------------------------------------- */

void lq_to_float_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void lq_from_float_f32(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void lq_dot_f32_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)y[i];
    *s = (float)sum;
}

#if LOCO_QUANT_X86
LOCO_AVX2 static float hsum_ps(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

LOCO_AVX2 void lq_dot_f32_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; k++) {
            __m256 a = _mm256_loadu_ps(x + i + 8 * k);
            acc[k] = _mm256_fmadd_ps(a, _mm256_loadu_ps(y + i + 8 * k), acc[k]);
        }
    }
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
    __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    float total = hsum_ps(sum);
    for (; i < n; i++)
        total += x[i] * y[i];
    *s = total;
}
#endif

/* ---- F16 ------------------------------------------------------------------- */

void lq_to_float_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = lq_fp16_to_fp32(h[i]);
}

void lq_from_float_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = loco_fp32_to_fp16(src[i]);
}

void lq_dot_f16_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)lq_fp16_to_fp32(x[i]) * (double)lq_fp16_to_fp32(y[i]);
    *s = (float)sum;
}

#if LOCO_QUANT_X86
LOCO_AVX2 void lq_to_float_f16_f16c(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++)
        dst[i] = lq_fp16_to_fp32(h[i]);
}

LOCO_AVX2 void lq_from_float_f16_f16c(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(h + i), v);
    }
    for (; i < n; i++)
        h[i] = loco_fp32_to_fp16(src[i]);
}

LOCO_AVX2 static __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

LOCO_AVX2 void lq_dot_f16_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; k++) {
            __m256 a = load_f16(x + i + 8 * k);
            acc[k] = _mm256_fmadd_ps(a, load_f16(y + i + 8 * k), acc[k]);
        }
    }
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(load_f16(x + i), load_f16(y + i), acc[0]);
    __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    float total = hsum_ps(sum);
    for (; i < n; i++)
        total += lq_fp16_to_fp32(x[i]) * lq_fp16_to_fp32(y[i]);
    *s = total;
}
#endif

/* ---- BF16 ------------------------------------------------------------------ */

void lq_to_float_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = lq_bf16_to_fp32(h[i]);
}

void lq_from_float_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = loco_fp32_to_bf16(src[i]);
}

void lq_dot_bf16_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)lq_bf16_to_fp32(x[i]) * (double)lq_bf16_to_fp32(y[i]);
    *s = (float)sum;
}

#if LOCO_QUANT_X86
/* 8 bf16 -> 8 f32: widen to 32 bits and shift into the top half. */
LOCO_AVX2 static __m256 load_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

LOCO_AVX2 void lq_dot_bf16_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < 4; k++) {
            __m256 a = load_bf16(x + i + 8 * k);
            acc[k] = _mm256_fmadd_ps(a, load_bf16(y + i + 8 * k), acc[k]);
        }
    }
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(load_bf16(x + i), load_bf16(y + i), acc[0]);
    __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    float total = hsum_ps(sum);
    for (; i < n; i++)
        total += lq_bf16_to_fp32(x[i]) * lq_bf16_to_fp32(y[i]);
    *s = total;
}
#endif
