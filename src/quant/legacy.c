/*
 * legacy.c - the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1 (weights),
 * Q8_0 (weights and activations) and Q8_1 (activations).
 *
 * Layouts and formulas: docs/formats/quant.md. In every 32-element block, byte
 * j of qs holds element j in its low nibble and element j+16 in its high
 * nibble.
 *
 * Dot products run in the integer domain, as ggml's do (docs/formats/quant.md): per
 * block, sumi = sum(qx * qy) exactly in int32, then sum += dx*dy*sumi, plus
 * for the "+m" types m * s, where the Q8_1 activation block carries
 * s = dy * sum(qy).
 *
 * Activation quantizers (Q8_0, Q8_1) reproduce what llama.cpp's CPU backend
 * runs on x86 (AVX2 build, which produced the golden logits): per block
 * amax = max|x|, d = amax/127 stored as fp16, and q = round-half-even(x *
 * (127/amax)) using the unrounded scale; s = fp16(d * sum(q)). The generic
 * C fallback in llama.cpp instead computes roundf(x * (1/d)); the two agree
 * except when a product lands within an ulp of .5, which for real
 * activations essentially never happens.
 *
 * Weight quantizers are plain round-to-nearest references (used for tests
 * and fixtures); they need not match llama.cpp's bit for bit.
 */
#include "quant-impl.h"

#include <math.h>

#if LOCO_QUANT_X86
#include <immintrin.h>
#endif

/* ---- helpers ------------------------------------------------------------ */

/* 16 packed bytes -> 32 nibbles in element order (0..15 low, 16..31 high). */
static void unpack_nibbles(const uint8_t qs[16], uint8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 0x0f;
        q[j + 16] = qs[j] >> 4;
    }
}

/* Q5 blocks: nibbles plus the 5th bit from the 32-bit qh word. */
static void unpack_q5(const uint8_t qh4[4], const uint8_t qs[16], uint8_t q[32])
{
    uint32_t qh =
        (uint32_t)qh4[0] | (uint32_t)qh4[1] << 8 | (uint32_t)qh4[2] << 16 | (uint32_t)qh4[3] << 24;
    unpack_nibbles(qs, q);
    for (int j = 0; j < 32; j++)
        q[j] |= (uint8_t)(((qh >> j) & 1) << 4);
}

static void pack_nibbles(const uint8_t q[32], uint8_t qs[16])
{
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
}

static void pack_q5(const uint8_t q[32], uint8_t qh4[4], uint8_t qs[16])
{
    uint32_t qh = 0;
    for (int j = 0; j < 32; j++)
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++)
        qh4[k] = (uint8_t)(qh >> (8 * k));
    pack_nibbles(q, qs);
}

/* The value with the largest magnitude, sign kept (first one on ties). */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx)
{
    *mn = x[0];
    *mx = x[0];
    for (int j = 1; j < n; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

/* Symmetric reference quantizer for Q4_0 (nmax 8) and Q5_0 (nmax 16), as in
 * docs/formats/quant.md, Q4_0: d = max / -nmax so the extreme value maps to q = 0. */
static float quantize_sym(const float *x, int nmax, uint8_t q[32])
{
    const float d = signed_absmax(x, 32) / (float)-nmax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) {
        int v = (int)(x[j] * id + (float)nmax + 0.5f);
        q[j] = (uint8_t)(v < 2 * nmax - 1 ? v : 2 * nmax - 1);
    }
    return d;
}

/* Asymmetric reference quantizer for Q4_1 (levels 15) and Q5_1 (31):
 * y = d*q + m with m the block minimum. */
static void quantize_asym(const float *x, int levels, uint8_t q[32], float *d, float *m)
{
    float mn, mx;
    min_max(x, 32, &mn, &mx);
    *d = (mx - mn) / (float)levels;
    *m = mn;
    const float id = *d != 0.0f ? 1.0f / *d : 0.0f;
    for (int j = 0; j < 32; j++) {
        int v = (int)((x[j] - mn) * id + 0.5f);
        q[j] = (uint8_t)(v < levels ? v : levels);
    }
}

/* ---- AVX2 building blocks: legacy-x86.h (shared with legacy-vnni.c) ---- */

#if LOCO_QUANT_X86
#include "legacy-x86.h"
#endif

/* ---- Q4_0 --------------------------------------------------------------- */

void lq_to_float_q4_0(const void *src, float *dst, int64_t n)
{
    const struct block_q4_0 *b = src;
    uint8_t q[32];
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        const float d = lq_fp16_to_fp32(b[i].d);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)(q[j] - 8) * d;
    }
}

void lq_from_float_q4_0(const float *src, void *dst, int64_t n)
{
    struct block_q4_0 *b = dst;
    uint8_t q[32];
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        b[i].d = loco_fp32_to_fp16(quantize_sym(src, 8, q));
        pack_nibbles(q, b[i].qs);
    }
}

void lq_dot_q4_0_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q4_0 *x = vx;
    const struct block_q8_0 *y = vy;
    uint8_t q[32];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        unpack_nibbles(x[i].qs, q);
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += (q[j] - 8) * y[i].qs[j];
        sum += (float)sumi * (lq_fp16_to_fp32(x[i].d) * lq_fp16_to_fp32(y[i].d));
    }
    *s = sum;
}

/* The AVX2 twins of the Q4_0, Q4_1 and Q8_0 dot products (one token and
 * several) are in legacy-dots.inc, included at the end of this file. */

void lq_dotm_q4_0_q8_0_ref(int64_t n, float *s, size_t ss, const void *vx, const void *vy,
                           size_t ys, int ny)
{
    const struct block_q4_0 *x = vx;
    const char *y = vy;
    uint8_t q[32];
    float sum[LQ_MULTI_MAX] = {0};
    for (int64_t i = 0; i < n / 32; i++) {
        unpack_nibbles(x[i].qs, q);
        const float dx = lq_fp16_to_fp32(x[i].d);
        for (int k = 0; k < ny; k++) {
            const struct block_q8_0 *yb = LQ_Y_BLOCK(block_q8_0, y, ys, k, i);
            int sumi = 0;
            for (int j = 0; j < 32; j++)
                sumi += (q[j] - 8) * yb->qs[j];
            sum[k] += (float)sumi * (dx * lq_fp16_to_fp32(yb->d));
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = sum[k];
}

/* ---- Q4_1 --------------------------------------------------------------- */

void lq_to_float_q4_1(const void *src, float *dst, int64_t n)
{
    const struct block_q4_1 *b = src;
    uint8_t q[32];
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        const float d = lq_fp16_to_fp32(b[i].d), m = lq_fp16_to_fp32(b[i].m);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)q[j] * d + m;
    }
}

void lq_from_float_q4_1(const float *src, void *dst, int64_t n)
{
    struct block_q4_1 *b = dst;
    uint8_t q[32];
    float d, m;
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        quantize_asym(src, 15, q, &d, &m);
        b[i].d = loco_fp32_to_fp16(d);
        b[i].m = loco_fp32_to_fp16(m);
        pack_nibbles(q, b[i].qs);
    }
}

void lq_dot_q4_1_q8_1_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q4_1 *x = vx;
    const struct block_q8_1 *y = vy;
    uint8_t q[32];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        unpack_nibbles(x[i].qs, q);
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += q[j] * y[i].qs[j];
        sum += (float)sumi * (lq_fp16_to_fp32(x[i].d) * lq_fp16_to_fp32(y[i].d)) +
               lq_fp16_to_fp32(x[i].m) * lq_fp16_to_fp32(y[i].s);
    }
    *s = sum;
}

void lq_dotm_q4_1_q8_1_ref(int64_t n, float *s, size_t ss, const void *vx, const void *vy,
                           size_t ys, int ny)
{
    const struct block_q4_1 *x = vx;
    const char *y = vy;
    uint8_t q[32];
    float sum[LQ_MULTI_MAX] = {0};
    for (int64_t i = 0; i < n / 32; i++) {
        unpack_nibbles(x[i].qs, q);
        const float dx = lq_fp16_to_fp32(x[i].d), mx = lq_fp16_to_fp32(x[i].m);
        for (int k = 0; k < ny; k++) {
            const struct block_q8_1 *yb = LQ_Y_BLOCK(block_q8_1, y, ys, k, i);
            int sumi = 0;
            for (int j = 0; j < 32; j++)
                sumi += q[j] * yb->qs[j];
            sum[k] += (float)sumi * (dx * lq_fp16_to_fp32(yb->d)) + mx * lq_fp16_to_fp32(yb->s);
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = sum[k];
}

/* ---- Q5_0 --------------------------------------------------------------- */

void lq_to_float_q5_0(const void *src, float *dst, int64_t n)
{
    const struct block_q5_0 *b = src;
    uint8_t q[32];
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        const float d = lq_fp16_to_fp32(b[i].d);
        unpack_q5(b[i].qh, b[i].qs, q);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)(q[j] - 16) * d;
    }
}

void lq_from_float_q5_0(const float *src, void *dst, int64_t n)
{
    struct block_q5_0 *b = dst;
    uint8_t q[32];
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        b[i].d = loco_fp32_to_fp16(quantize_sym(src, 16, q));
        pack_q5(q, b[i].qh, b[i].qs);
    }
}

void lq_dot_q5_0_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_0 *x = vx;
    const struct block_q8_0 *y = vy;
    uint8_t q[32];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        unpack_q5(x[i].qh, x[i].qs, q);
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += (q[j] - 16) * y[i].qs[j];
        sum += (float)sumi * (lq_fp16_to_fp32(x[i].d) * lq_fp16_to_fp32(y[i].d));
    }
    *s = sum;
}

#if LOCO_QUANT_X86
LOCO_AVX2 void lq_dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_0 *x = vx;
    const struct block_q8_0 *y = vy;
    const __m256i sixteen = _mm256_set1_epi8(16);
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m256i q0 = _mm256_or_si256(load_nibbles(x[i].qs), expand_high_bits(x[i].qh));
        __m256i q1 = _mm256_or_si256(load_nibbles(x[i + 1].qs), expand_high_bits(x[i + 1].qh));
        acc0 = fma_block_s8(_mm256_sub_epi8(q0, sixteen), y[i].qs, h2f(x[i].d) * h2f(y[i].d), acc0);
        acc1 = fma_block_s8(_mm256_sub_epi8(q1, sixteen), y[i + 1].qs,
                            h2f(x[i + 1].d) * h2f(y[i + 1].d), acc1);
    }
    for (; i < nb; i++) {
        __m256i q0 = _mm256_or_si256(load_nibbles(x[i].qs), expand_high_bits(x[i].qh));
        acc0 = fma_block_s8(_mm256_sub_epi8(q0, sixteen), y[i].qs, h2f(x[i].d) * h2f(y[i].d), acc0);
    }
    *s = hsum_ps(_mm256_add_ps(acc0, acc1));
}
#endif

/* ---- Q5_1 --------------------------------------------------------------- */

void lq_to_float_q5_1(const void *src, float *dst, int64_t n)
{
    const struct block_q5_1 *b = src;
    uint8_t q[32];
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        const float d = lq_fp16_to_fp32(b[i].d), m = lq_fp16_to_fp32(b[i].m);
        unpack_q5(b[i].qh, b[i].qs, q);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)q[j] * d + m;
    }
}

void lq_from_float_q5_1(const float *src, void *dst, int64_t n)
{
    struct block_q5_1 *b = dst;
    uint8_t q[32];
    float d, m;
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        quantize_asym(src, 31, q, &d, &m);
        b[i].d = loco_fp32_to_fp16(d);
        b[i].m = loco_fp32_to_fp16(m);
        pack_q5(q, b[i].qh, b[i].qs);
    }
}

void lq_dot_q5_1_q8_1_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_1 *x = vx;
    const struct block_q8_1 *y = vy;
    uint8_t q[32];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        unpack_q5(x[i].qh, x[i].qs, q);
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += q[j] * y[i].qs[j];
        sum += (float)sumi * (lq_fp16_to_fp32(x[i].d) * lq_fp16_to_fp32(y[i].d)) +
               lq_fp16_to_fp32(x[i].m) * lq_fp16_to_fp32(y[i].s);
    }
    *s = sum;
}

#if LOCO_QUANT_X86
LOCO_AVX2 void lq_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q5_1 *x = vx;
    const struct block_q8_1 *y = vy;
    __m256 acc = _mm256_setzero_ps();
    __m128 ms = _mm_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++) {
        __m128 p = q4_1_scales(&x[i], &y[i]); /* same (d, m) x (d, s) layout */
        __m256i q = _mm256_or_si256(load_nibbles(x[i].qs), expand_high_bits(x[i].qh));
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), dot_u8_s8(q, qy), acc);
        ms = _mm_add_ps(ms, p);
    }
    float m_terms;
    _MM_EXTRACT_FLOAT(m_terms, ms, 1);
    *s = hsum_ps(acc) + m_terms;
}
#endif

/* ---- Q8_0 --------------------------------------------------------------- */

void lq_to_float_q8_0(const void *src, float *dst, int64_t n)
{
    const struct block_q8_0 *b = src;
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        const float d = lq_fp16_to_fp32(b[i].d);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)b[i].qs[j] * d;
    }
}

/* One activation block (see the header comment): returns the f32 scale d
 * (before fp16 rounding) and writes q; the caller stores d and s. */
static float quantize_q8_block(const float *x, int8_t q[32])
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)rintf(x[j] * id); /* default rounding mode: half to even */
    return amax / 127.0f;
}

void lq_from_float_q8_0_ref(const float *src, void *dst, int64_t n)
{
    struct block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, src += 32)
        b[i].d = loco_fp32_to_fp16(quantize_q8_block(src, b[i].qs));
}

#if LOCO_QUANT_X86
/* One activation block, bit-identical to quantize_q8_block: returns d,
 * stores q, and sets *sum to sum(q). */
LOCO_AVX2 static float quantize_q8_block_avx2(const float *x, int8_t *q, int *sum)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = _mm256_max_ps(m, _mm256_and_ps(v[k], abs_mask));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i iv[4];
    for (int k = 0; k < 4; k++) {
        __m256 r =
            _mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        iv[k] = _mm256_cvtps_epi32(r);
    }
    __m256i s4 = _mm256_add_epi32(_mm256_add_epi32(iv[0], iv[1]), _mm256_add_epi32(iv[2], iv[3]));
    __m128i s2 = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
    s2 = _mm_add_epi32(s2, _mm_unpackhi_epi64(s2, s2));
    s2 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 1));
    *sum = _mm_cvtsi128_si32(s2);
    /* int32 -> int8; the packs work per 128-bit lane, the permute restores order */
    __m256i p =
        _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    return amax / 127.0f;
}

LOCO_AVX2 void lq_from_float_q8_0_avx2(const float *src, void *dst, int64_t n)
{
    struct block_q8_0 *b = dst;
    int sum;
    for (int64_t i = 0; i < n / 32; i++, src += 32)
        b[i].d = loco_fp32_to_fp16(quantize_q8_block_avx2(src, b[i].qs, &sum));
}
#endif

void lq_dot_q8_0_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const struct block_q8_0 *x = vx, *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0;
        for (int j = 0; j < 32; j++)
            sumi += x[i].qs[j] * y[i].qs[j];
        sum += (float)sumi * (lq_fp16_to_fp32(x[i].d) * lq_fp16_to_fp32(y[i].d));
    }
    *s = sum;
}

void lq_dotm_q8_0_q8_0_ref(int64_t n, float *s, size_t ss, const void *vx, const void *vy,
                           size_t ys, int ny)
{
    const struct block_q8_0 *x = vx;
    const char *y = vy;
    float sum[LQ_MULTI_MAX] = {0};
    for (int64_t i = 0; i < n / 32; i++) {
        const float dx = lq_fp16_to_fp32(x[i].d);
        for (int k = 0; k < ny; k++) {
            const struct block_q8_0 *yb = LQ_Y_BLOCK(block_q8_0, y, ys, k, i);
            int sumi = 0;
            for (int j = 0; j < 32; j++)
                sumi += x[i].qs[j] * yb->qs[j];
            sum[k] += (float)sumi * (dx * lq_fp16_to_fp32(yb->d));
        }
    }
    for (int k = 0; k < ny; k++)
        s[(size_t)k * ss] = sum[k];
}

/* ---- Q8_1 --------------------------------------------------------------- */

void lq_to_float_q8_1(const void *src, float *dst, int64_t n)
{
    const struct block_q8_1 *b = src;
    for (int64_t i = 0; i < n / 32; i++, dst += 32) {
        const float d = lq_fp16_to_fp32(b[i].d);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)b[i].qs[j] * d;
    }
}

void lq_from_float_q8_1_ref(const float *src, void *dst, int64_t n)
{
    struct block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        const float d = quantize_q8_block(src, b[i].qs);
        int sum = 0;
        for (int j = 0; j < 32; j++)
            sum += b[i].qs[j];
        b[i].d = loco_fp32_to_fp16(d);
        b[i].s = loco_fp32_to_fp16(d * (float)sum);
    }
}

#if LOCO_QUANT_X86
LOCO_AVX2 void lq_from_float_q8_1_avx2(const float *src, void *dst, int64_t n)
{
    struct block_q8_1 *b = dst;
    int sum;
    for (int64_t i = 0; i < n / 32; i++, src += 32) {
        const float d = quantize_q8_block_avx2(src, b[i].qs, &sum);
        b[i].d = loco_fp32_to_fp16(d);
        b[i].s = loco_fp32_to_fp16(d * (float)sum);
    }
}
#endif

/* ---- the AVX2 twins of the Q4_0, Q4_1 and Q8_0 dot products -------------- */

#if LOCO_QUANT_X86
/* sum over 4 adjacent bytes of u8 * s8, 8 lanes, as f32 (maddubs's int16
 * pair sums cannot saturate for these types: see legacy-dots.inc) */
LOCO_AVX2 static LQ_INLINE __m256 lqx_dot4(__m256i u, __m256i s)
{
    return dot_u8_s8(u, s);
}
#define LQX_TARGET LOCO_AVX2
#define LQX_NAME(base) base##_avx2
#include "legacy-dots.inc"
#endif
