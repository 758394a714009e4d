/*
 * legacy-vnni.c - the AVX-512 VNNI twins of the Q4_0, Q4_1 and Q8_0 dot
 * products: legacy-dots.inc compiled with vpdpbusd (256 bits, AVX-512 VL
 * encoding) for the four-byte sums that the AVX2 twins form with maddubs
 * and madd. They return the AVX2 twins' bits; traits.c installs them on
 * CPUs with AVX-512 F, BW, VL, DQ and VNNI (Intel since Cascade Lake, AMD
 * since Zen 4).
 */
#include "quant-impl.h"

#if LOCO_QUANT_X86
#include "legacy-x86.h"

/* sum over 4 adjacent bytes of u8 * s8, 8 lanes, as f32 */
LOCO_AVX512 static LQ_INLINE __m256 lqx_dot4(__m256i u, __m256i s)
{
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s));
}
#define LQX_TARGET LOCO_AVX512
#define LQX_NAME(base) base##_avx512
#include "legacy-dots.inc"
#endif
