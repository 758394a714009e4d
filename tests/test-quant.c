/*
 * test-quant.c - the quant module, specified by tests.
 *
 *  1. the type table matches docs/formats/gguf.md (type ids) and quant.md
 *     (dot-product partners);
 *  2. fp16/bf16 conversions: edge cases, every half value, and (when the CPU
 *     has F16C) millions of random floats against the hardware converter;
 *  3. one hand-built block per type whose values were worked out by hand
 *     from docs/formats/quant.md (nibble order, Q4_K scale packing for j >= 4, the
 *     Q6_K interleave, Q2_K/Q3_K ordering, Q5 high bits);
 *  4. the activation quantizers' exact semantics (rounding, ties, sign of
 *     the Q8_K scale, bsums, all-zero blocks);
 *  5. quantize -> dequantize error bounds on random data;
 *  6. every AVX2 kernel against its scalar reference (skipped without AVX2):
 *     activation quantizers and the K-quant dequantizers bit for bit, dot
 *     products within the budget |fast - ref| <= 1e-5 * sum_i |terms_i|
 *     (terms: each element's scale part and min part times the activation,
 *     so cancellation inside the min-offset types does not hide float error);
 *  7. loco_matmul / loco_matmul_f32act for every type against a naive
 *     dequantize-then-double reference, n_tok 1, 3 (dot path), 17 (sgemm for
 *     float weights) and 70 (sgemm for quantized weights), n_threads 1 and 2
 *     (bit-identical across thread counts), and the error paths;
 *  8. the multi-token dot kernels (one weight row, several activation rows)
 *     against n_y calls of vec_dot, scalar and selected set: exactly the same
 *     bits, n_y 1..4, odd block counts; and loco_matmul for n_tok 1..9, 13,
 *     47 (the small-batch path) against single-token calls, bit for bit.
 *
 * Random data comes from splitmix64 with fixed seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loco/core.h"
#include "loco/quant.h"
#include "quant/quant-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include "testutil.h"
#include <immintrin.h>
#endif

/* ---- helpers ----------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [lo, hi) */
static float rng_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next(s) >> 11) * 0x1p-53);
}

static float rng_gauss(uint64_t *s)
{
    double u1 = ((double)(rng_next(s) >> 11) + 1.0) * 0x1p-53;
    double u2 = (double)(rng_next(s) >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void fill_gauss(uint64_t seed, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * rng_gauss(&seed);
}

static uint16_t h(float f)
{
    return loco_fp32_to_fp16(f);
}

static const struct loco_type_traits *ref(enum loco_type t)
{
    return loco_type_traits_ref(t);
}

/* The selected kernels are SIMD ones (AVX2, or AVX2 with the VNNI twins). */
static bool have_avx2(void)
{
    if (strcmp(loco_quant_kernel_set(), "scalar") == 0) {
        fprintf(stderr, "skipping: kernel set is scalar (no AVX2, or LOCO_NO_SIMD set)\n");
        return false;
    }
    return true;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* Dequantize n elements of type t (reference kernels). */
static float *dequant(enum loco_type t, const void *src, int64_t n)
{
    float *y = xmalloc((size_t)n * sizeof(float));
    ref(t)->to_float(src, y, n);
    return y;
}

/* Random but well-formed blocks: random bytes everywhere (every quant and
 * scale bit pattern), then the fp16 scales set to finite values. */
static void *random_blocks(enum loco_type t, int64_t n, uint64_t seed)
{
    const size_t bytes = loco_type_row_size(t, n);
    uint8_t *p = xmalloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)rng_next(&seed);
    const struct loco_type_traits *tr = ref(t);
    const int64_t nb = n / tr->block_size;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = p + (size_t)b * tr->type_size;
        uint16_t d = h(rng_uniform(&seed, 0.001f, 0.02f));
        uint16_t m = h(rng_uniform(&seed, -0.2f, 0.2f));
        uint16_t dmin = h(rng_uniform(&seed, 0.0f, 0.01f));
        switch (t) {
        case LOCO_TYPE_Q4_0:
        case LOCO_TYPE_Q5_0:
        case LOCO_TYPE_Q8_0:
            memcpy(blk, &d, 2);
            break;
        case LOCO_TYPE_Q4_1:
        case LOCO_TYPE_Q5_1:
            memcpy(blk, &d, 2);
            memcpy(blk + 2, &m, 2);
            break;
        case LOCO_TYPE_Q4_K:
        case LOCO_TYPE_Q5_K:
            memcpy(blk, &d, 2);
            memcpy(blk + 2, &dmin, 2);
            break;
        case LOCO_TYPE_Q6_K:
            memcpy(blk + 208, &d, 2);
            break;
        case LOCO_TYPE_Q2_K:
            memcpy(blk + 80, &d, 2);
            memcpy(blk + 82, &dmin, 2);
            break;
        case LOCO_TYPE_Q3_K:
            memcpy(blk + 108, &d, 2);
            break;
        case LOCO_TYPE_F16:
            memcpy(blk, (uint16_t[]){h(rng_gauss(&seed))}, 2);
            break;
        case LOCO_TYPE_BF16:
            memcpy(blk, (uint16_t[]){loco_fp32_to_bf16(rng_gauss(&seed))}, 2);
            break;
        case LOCO_TYPE_F32:
            memcpy(blk, (float[]){rng_gauss(&seed)}, 4);
            break;
        default:
            fail_msg("random_blocks: no recipe for %s", tr->name);
        }
    }
    return p;
}

/* Byte offset of the fp16 min scale (m or dmin) in one block, or -1. */
static int min_field(enum loco_type t)
{
    switch (t) {
    case LOCO_TYPE_Q4_1:
    case LOCO_TYPE_Q5_1:
    case LOCO_TYPE_Q4_K:
    case LOCO_TYPE_Q5_K:
        return 2;
    case LOCO_TYPE_Q2_K:
        return 82;
    default:
        return -1;
    }
}

/* Error scale for one dot product: sum_i (|A_i| + |M_i|) * |y_i|, where the
 * weight is x_i = A_i + M_i (A: scale part, M: min part). */
static double dot_scale(enum loco_type t, const void *x, const float *yf, int64_t n)
{
    float *a = NULL, *xf = dequant(t, x, n);
    const int off = min_field(t);
    if (off >= 0) {
        const struct loco_type_traits *tr = ref(t);
        size_t bytes = loco_type_row_size(t, n);
        uint8_t *x0 = xmalloc(bytes);
        memcpy(x0, x, bytes);
        for (int64_t b = 0; b < n / tr->block_size; b++)
            memset(x0 + (size_t)b * tr->type_size + off, 0, 2);
        a = dequant(t, x0, n);
        free(x0);
    }
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double ai = a ? a[i] : xf[i], mi = a ? (double)xf[i] - a[i] : 0.0;
        s += (fabs(ai) + fabs(mi)) * fabs((double)yf[i]);
    }
    free(a);
    free(xf);
    return s;
}

/* ---- 1. the type table --------------------------------------------------- */

static void test_type_table(void **state)
{
    (void)state;
    static const struct {
        int id;
        const char *name;
        int64_t block;
        size_t size;
        int partner;
    } want[] = {
        {0, "F32", 1, 4, 0},          {1, "F16", 1, 2, 1},        {2, "Q4_0", 32, 18, 8},
        {3, "Q4_1", 32, 20, 9},       {6, "Q5_0", 32, 22, 8},     {7, "Q5_1", 32, 24, 9},
        {8, "Q8_0", 32, 34, 8},       {9, "Q8_1", 32, 36, 9},     {10, "Q2_K", 256, 84, 15},
        {11, "Q3_K", 256, 110, 15},   {12, "Q4_K", 256, 144, 15}, {13, "Q5_K", 256, 176, 15},
        {14, "Q6_K", 256, 210, 15},   {15, "Q8_K", 256, 292, 15}, {20, "IQ4_NL", 32, 18, 8},
        {23, "IQ4_XS", 256, 136, 15}, {24, "I8", 1, 1, 24},       {28, "F64", 1, 8, 28},
        {30, "BF16", 1, 2, 30},       {34, "TQ1_0", 256, 54, 15}, {35, "TQ2_0", 256, 66, 15},
        {39, "MXFP4", 32, 17, 8},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct loco_type_traits *t = loco_type_traits((enum loco_type)want[i].id);
        assert_string_equal(t->name, want[i].name);
        assert_int_equal(t->block_size, want[i].block);
        assert_int_equal(t->type_size, want[i].size);
        assert_int_equal(t->vec_dot_type, want[i].partner);
        assert_true(loco_type_valid(want[i].id));
    }
    const int removed[] = {4, 5, 31, 32, 33, 36, 37, 38, -1, 43, 1000};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        assert_false(loco_type_valid(removed[i]));
        assert_int_equal(loco_type_traits((enum loco_type)removed[i])->block_size, 0);
    }
    assert_string_equal(loco_type_name((enum loco_type)4), "unknown");
    assert_int_equal(loco_type_row_size(LOCO_TYPE_Q4_K, 512), 288);
    assert_int_equal(loco_type_row_size(LOCO_TYPE_Q4_1, 576), 360);
    assert_int_equal(loco_type_row_size(LOCO_TYPE_F16, 3), 6);
    /* every type the engine computes with has all three kernels */
    const enum loco_type full[] = {LOCO_TYPE_F32,  LOCO_TYPE_F16,  LOCO_TYPE_BF16, LOCO_TYPE_Q4_0,
                                   LOCO_TYPE_Q4_1, LOCO_TYPE_Q5_0, LOCO_TYPE_Q5_1, LOCO_TYPE_Q8_0,
                                   LOCO_TYPE_Q4_K, LOCO_TYPE_Q5_K, LOCO_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        const struct loco_type_traits *t = loco_type_traits(full[i]);
        assert_non_null(t->to_float);
        assert_non_null(t->from_float);
        assert_non_null(t->vec_dot);
    }
    const char *ks = loco_quant_kernel_set();
    assert_true(strcmp(ks, "scalar") == 0 || strcmp(ks, "avx2") == 0 ||
                strcmp(ks, "avx512vnni") == 0);
#if LOCO_QUANT_X86
    /* the VNNI twins are chosen exactly when the CPU runs them (unless the
     * environment asks for less) */
    const char *asked = getenv("LOCO_KERNELS"), *no_simd = getenv("LOCO_NO_SIMD");
    bool limited = (asked && asked[0]) || (no_simd && no_simd[0] && strcmp(no_simd, "0") != 0);
    if (!limited && strcmp(ks, "scalar") != 0)
        assert_int_equal(strcmp(ks, "avx512vnni") == 0, lq_cpu_has_avx512vnni());
#endif
}

/* ---- 2. half floats ------------------------------------------------------ */

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_fp16_edges(void **state)
{
    (void)state;
    const struct {
        float f;
        uint16_t h;
    } exact[] = {
        {0.0f, 0x0000},     {1.0f, 0x3c00},      {-2.0f, 0xc000},      {65504.0f, 0x7bff},
        {0x1p-14f, 0x0400}, {0x1p-24f, 0x0001},  {0x3ffp-24f, 0x03ff}, {0.333251953125f, 0x3555},
        {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        assert_int_equal(loco_fp32_to_fp16(exact[i].f), exact[i].h);
        assert_true(loco_fp16_to_fp32(exact[i].h) == exact[i].f);
    }
    assert_int_equal(loco_fp32_to_fp16(-0.0f), 0x8000);
    assert_true(signbit(loco_fp16_to_fp32(0x8000)));
    /* rounding: ties to even, overflow, underflow */
    assert_int_equal(loco_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);     /* tie -> even */
    assert_int_equal(loco_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie -> even */
    assert_int_equal(loco_fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(loco_fp32_to_fp16(65519.0f), 0x7bff);
    assert_int_equal(loco_fp32_to_fp16(65520.0f), 0x7c00); /* halfway to 2^16 -> inf */
    assert_int_equal(loco_fp32_to_fp16(1e10f), 0x7c00);
    assert_int_equal(loco_fp32_to_fp16(0x1p-25f), 0x0000);        /* tie -> even 0 */
    assert_int_equal(loco_fp32_to_fp16(0x1.000002p-25f), 0x0001); /* just above */
    assert_int_equal(loco_fp32_to_fp16(0x3p-25f), 0x0002);        /* 1.5 units -> 2 */
    assert_int_equal(loco_fp32_to_fp16(0x5p-25f), 0x0002);        /* 2.5 units -> 2 */
    assert_int_equal(loco_fp32_to_fp16(0x7ffp-25f), 0x0400); /* 1023.5 units: carries to normal */
    assert_int_equal(loco_fp32_to_fp16(1e-30f), 0x0000);
    assert_int_equal(loco_fp32_to_fp16(-1e-30f), 0x8000);
    /* NaN stays NaN, quiet, payload top bits kept */
    assert_int_equal(loco_fp32_to_fp16(bits_f32(0x7fc00000)), 0x7e00);
    assert_int_equal(loco_fp32_to_fp16(bits_f32(0x7f802000)), 0x7e01);
    assert_int_equal(loco_fp32_to_fp16(bits_f32(0xff800001)), 0xfe00);
    assert_true(isnan(loco_fp16_to_fp32(0x7c01)));
    assert_int_equal(lq_f32_bits(loco_fp16_to_fp32(0x7c01)), 0x7fc02000); /* quieted */
    assert_true(isnan(loco_fp16_to_fp32(0xfe00)));
    /* every half widens exactly and narrows back to itself */
    for (uint32_t u = 0; u < 0x10000; u++) {
        float f = loco_fp16_to_fp32((uint16_t)u);
        if ((u & 0x7c00) == 0x7c00 && (u & 0x3ff))
            assert_true(isnan(f));
        else
            assert_int_equal(loco_fp32_to_fp16(f), u);
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("f16c"))) static uint16_t hw_fp16(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("f16c"))) static float hw_fp32(uint16_t x)
{
    return _cvtsh_ss(x);
}
#endif

static void test_fp16_vs_hardware(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("f16c")) {
        skip();
        return;
    }
    uint64_t seed = 42;
    for (int i = 0; i < (1 << 22); i++) {
        uint32_t u = (uint32_t)rng_next(&seed);
        if (i & 1) /* half the draws near the fp16 range, where it matters */
            u = (u & 0x807fffff) | (uint32_t)(100 + (u >> 23) % 50) << 23;
        float f = bits_f32(u);
        if (loco_fp32_to_fp16(f) != hw_fp16(f))
            fail_msg("fp32 0x%08x: got 0x%04x want 0x%04x", u, loco_fp32_to_fp16(f), hw_fp16(f));
    }
    for (uint32_t x = 0; x < 0x10000; x++) {
        float a = loco_fp16_to_fp32((uint16_t)x), b = hw_fp32((uint16_t)x);
        assert_memory_equal(&a, &b, 4);
    }
#else
    skip();
#endif
}

static void test_bf16(void **state)
{
    (void)state;
    assert_int_equal(loco_fp32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0x3f808000)), 0x3f80); /* tie, even stays */
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0x3f818000)), 0x3f82); /* tie, odd rounds up */
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0x3f808001)), 0x3f81);
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0x7f7fffff)), 0x7f80); /* max -> inf */
    assert_int_equal(loco_fp32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(loco_fp32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0x7f800001)), 0x7fc0); /* NaN forced quiet */
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0xff810000)), 0xffc1);
    assert_int_equal(loco_fp32_to_bf16(bits_f32(0x00008000)), 0x0000); /* subnormal tie */
    assert_true(loco_bf16_to_fp32(0x4049) == 3.140625f);
    assert_true(isnan(loco_bf16_to_fp32(0x7fc0)));
    for (uint32_t u = 0; u < 0x10000; u++) {
        float f = loco_bf16_to_fp32((uint16_t)u);
        if (!isnan(f))
            assert_int_equal(loco_fp32_to_bf16(f), u);
    }
}

/* ---- 3. hand-built blocks ---------------------------------------------- */

static void test_block_q4_0(void **state)
{
    (void)state;
    struct block_q4_0 b = {.d = h(0.5f)};
    for (int j = 0; j < 16; j++)
        b.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    ref(LOCO_TYPE_Q4_0)->to_float(&b, y, 32);
    /* low nibbles j -> elements 0..15, high nibbles 15-j -> elements 16..31 */
    /* clang-format off */
    const float want[32] = {-4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5,
                            3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1, -1.5, -2, -2.5, -3, -3.5, -4};
    /* clang-format on */
    assert_memory_equal(y, want, sizeof want);
}

static void test_block_q4_1(void **state)
{
    (void)state;
    struct block_q4_1 b = {.d = h(0.25f), .m = h(-1.0f)};
    for (int j = 0; j < 16; j++)
        b.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    ref(LOCO_TYPE_Q4_1)->to_float(&b, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == 0.25f * (float)j - 1.0f);
        assert_true(y[j + 16] == 0.25f * (float)(15 - j) - 1.0f);
    }
    assert_true(y[0] == -1.0f && y[15] == 2.75f && y[16] == 2.75f && y[31] == -1.0f);
}

static void test_block_q5(void **state)
{
    (void)state;
    /* qh as a little-endian u32: bit 0 (element 0), bit 9, bit 16 (element
     * 16 = high nibble of byte 0) and bit 31 (element 31) */
    struct block_q5_0 b0 = {.d = h(1.0f), .qh = {0x01, 0x02, 0x01, 0x80}};
    memset(b0.qs, 0x37, 16); /* low nibble 7, high nibble 3 */
    float y[32];
    ref(LOCO_TYPE_Q5_0)->to_float(&b0, y, 32);
    assert_true(y[0] == 7.0f);  /* 7 + 16 - 16 */
    assert_true(y[1] == -9.0f); /* 7 - 16 */
    assert_true(y[9] == 7.0f);
    assert_true(y[16] == 3.0f); /* 3 + 16 - 16 */
    assert_true(y[17] == -13.0f);
    assert_true(y[31] == 3.0f);
    struct block_q5_1 b1 = {.d = h(0.5f), .m = h(2.0f), .qh = {0x00, 0x00, 0x00, 0x80}};
    memset(b1.qs, 0xf1, 16);
    ref(LOCO_TYPE_Q5_1)->to_float(&b1, y, 32);
    assert_true(y[0] == 2.5f);   /* 0.5 * 1 + 2 */
    assert_true(y[30] == 9.5f);  /* 0.5 * 15 + 2 */
    assert_true(y[31] == 17.5f); /* 0.5 * 31 + 2 */
}

static void test_block_q8(void **state)
{
    (void)state;
    struct block_q8_0 b0 = {.d = h(2.0f)};
    struct block_q8_1 b1 = {.d = h(2.0f), .s = h(123.0f)};
    for (int j = 0; j < 32; j++)
        b0.qs[j] = b1.qs[j] = (int8_t)(j - 16);
    float y0[32], y1[32];
    ref(LOCO_TYPE_Q8_0)->to_float(&b0, y0, 32);
    ref(LOCO_TYPE_Q8_1)->to_float(&b1, y1, 32);
    for (int j = 0; j < 32; j++) {
        assert_true(y0[j] == 2.0f * (float)(j - 16));
        assert_true(y1[j] == y0[j]);
    }
    struct block_q8_k bk = {.d = 0.25f};
    for (int j = 0; j < 256; j++)
        bk.qs[j] = (int8_t)(j - 128);
    float yk[256];
    ref(LOCO_TYPE_Q8_K)->to_float(&bk, yk, 256);
    for (int j = 0; j < 256; j++)
        assert_true(yk[j] == 0.25f * (float)(j - 128));
}

/* Q4_K/Q5_K shared block: d = 1, dmin = 0.5, scales sc = {1,2,3,4,33,45,50,63}
 * and mins m = {0,1,2,3,20,37,40,63}, packed by hand per docs/formats/quant.md (Q4_K):
 *   bytes 0-3  sc0..3 | (sc4..7 >> 4) << 6 = 1|2<<6, 2|2<<6, 3|3<<6, 4|3<<6
 *   bytes 4-7  m0..3  | (m4..7 >> 4) << 6  = 0|1<<6, 1|2<<6, 2|2<<6, 3|3<<6
 *   bytes 8-11 (sc4..7 & 15) | (m4..7 & 15) << 4 = 0x41, 0x5d, 0x82, 0xff
 * Every qs byte is 0x53 (low 3, high 5), except qs[37] = 0xa7. */
static const uint8_t k4_scales[12] = {0x81, 0x82, 0xc3, 0xc4, 0x40, 0x81,
                                      0x82, 0xc3, 0x41, 0x5d, 0x82, 0xff};
/* d*sc*q - dmin*m per sub-block for q = 3 (even j) or 5 (odd j) */
static const float k4_want[8] = {3, 9.5f, 8, 18.5f, 89, 206.5f, 130, 283.5f};

static void test_block_q4_k(void **state)
{
    (void)state;
    struct block_q4_k b = {.d = h(1.0f), .dmin = h(0.5f)};
    memcpy(b.scales, k4_scales, 12);
    memset(b.qs, 0x53, 128);
    b.qs[37] = 0xa7; /* chunk 1, l = 5: element 69 (sub-block 2), element 101 (3) */
    float y[256];
    ref(LOCO_TYPE_Q4_K)->to_float(&b, y, 256);
    for (int i = 0; i < 256; i++) {
        if (i == 69)
            assert_true(y[i] == 20.0f); /* 3*7 - 0.5*2 */
        else if (i == 101)
            assert_true(y[i] == 38.5f); /* 4*10 - 0.5*3 */
        else
            assert_true(y[i] == k4_want[i / 32]);
    }
}

static void test_block_q5_k(void **state)
{
    (void)state;
    struct block_q5_k b = {.d = h(1.0f), .dmin = h(0.5f)};
    memcpy(b.scales, k4_scales, 12);
    memset(b.qs, 0x53, 128);
    b.qh[0] = 0x04;  /* bit 2: chunk 1 low nibbles -> element 64 gets +16 */
    b.qh[31] = 0x80; /* bit 7: chunk 3 high nibbles -> element 255 gets +16 */
    b.qh[7] = 0x01;  /* bit 0: chunk 0 low -> element 7 */
    float y[256];
    ref(LOCO_TYPE_Q5_K)->to_float(&b, y, 256);
    for (int i = 0; i < 256; i++) {
        if (i == 64)
            assert_true(y[i] == 56.0f); /* 3*(3+16) - 1 */
        else if (i == 255)
            assert_true(y[i] == 1291.5f); /* 63*(5+16) - 31.5 */
        else if (i == 7)
            assert_true(y[i] == 19.0f); /* 1*(3+16) - 0 */
        else
            assert_true(y[i] == k4_want[i / 32]);
    }
}

static void test_block_q6_k(void **state)
{
    (void)state;
    /* scales: +(s+1) for even s, -(s+1) for odd; all ql/qh zero (q = -32),
     * except half 1, l = 5: ql[69] = 0x9c, ql[101] = 0x6b, qh[37] = 0xe4 */
    struct block_q6_k b = {.d = h(0.5f)};
    for (int s = 0; s < 16; s++)
        b.scales[s] = (int8_t)(s % 2 ? -(s + 1) : s + 1);
    b.ql[64 + 5] = 0x9c;
    b.ql[64 + 37] = 0x6b;
    b.qh[32 + 5] = 0xe4; /* top bits 0, 1, 2, 3 at shifts 0, 2, 4, 6 */
    float y[256];
    ref(LOCO_TYPE_Q6_K)->to_float(&b, y, 256);
    for (int i = 0; i < 256; i++) {
        float sc = (float)b.scales[i / 16];
        if (i == 133)
            assert_true(y[i] == -90.0f); /* (12 | 0<<4) - 32 = -20, sc 9 */
        else if (i == 165)
            assert_true(y[i] == -27.5f); /* (11 | 1<<4) - 32 = -5, sc 11 */
        else if (i == 197)
            assert_true(y[i] == 58.5f); /* (9 | 2<<4) - 32 = 9, sc 13 */
        else if (i == 229)
            assert_true(y[i] == 165.0f); /* (6 | 3<<4) - 32 = 22, sc 15 */
        else
            assert_true(y[i] == 0.5f * sc * -32.0f);
    }
}

static void test_block_q2_k(void **state)
{
    (void)state;
    /* d = 1, dmin = 0.5, scale byte j: sc = j, m = 15 - j; qs zero except
     * qs[0] = 0xe4 (2-bit fields 0,1,2,3) and qs[49] = 0x03 */
    struct block_q2_k b = {.d = h(1.0f), .dmin = h(0.5f)};
    for (int j = 0; j < 16; j++)
        b.scales[j] = (uint8_t)(j | (15 - j) << 4);
    b.qs[0] = 0xe4;
    b.qs[32 + 17] = 0x03;
    float y[256];
    ref(LOCO_TYPE_Q2_K)->to_float(&b, y, 256);
    for (int i = 0; i < 256; i++) {
        if (i == 32)
            assert_true(y[i] == -4.5f); /* shift 2: q 1, sub-block 2: 2*1 - 0.5*13 */
        else if (i == 64)
            assert_true(y[i] == 2.5f); /* shift 4: q 2, sub-block 4: 4*2 - 0.5*11 */
        else if (i == 96)
            assert_true(y[i] == 13.5f); /* shift 6: q 3, sub-block 6: 6*3 - 0.5*9 */
        else if (i == 145)
            assert_true(y[i] == 24.0f); /* half 1, qs[32+17] shift 0: q 3, sub-block 9 */
        else
            assert_true(y[i] == -0.5f * (float)(15 - i / 16));
    }
}

static void test_block_q3_k(void **state)
{
    (void)state;
    /* d = 0.5; scale bytes zero except [0] = 0x5a and [8] = 0xe4, giving
     * 6-bit scales s0 = 10, s4 = 16, s8 = 37, s12 = 48, others 0 (all -32
     * after the offset); hmask all set except two bits; a few qs bits. */
    struct block_q3_k b = {.d = h(0.5f)};
    b.scales[0] = 0x5a;
    b.scales[8] = 0xe4;
    memset(b.hmask, 0xff, 32);
    b.hmask[0] &= (uint8_t) ~(1u << 2);  /* half 0, step 2, l = 0: element 64 */
    b.hmask[16] &= (uint8_t) ~(1u << 6); /* half 1, step 2, l = 16: element 208 */
    b.qs[0] = 0x02;                      /* element 0: q2 = 2 */
    b.qs[32] = 0x03;                     /* element 128: q2 = 3 */
    b.qs[48] = 0x30;                     /* element 208: q2 = 3 at shift 4 */
    float y[256];
    ref(LOCO_TYPE_Q3_K)->to_float(&b, y, 256);
    for (int i = 0; i < 256; i++) {
        if (i == 0)
            assert_true(y[i] == -22.0f); /* 0.5 * (10-32) * 2 */
        else if (i == 64)
            assert_true(y[i] == 32.0f); /* 0.5 * (16-32) * (0-4) */
        else if (i == 128)
            assert_true(y[i] == 7.5f); /* 0.5 * (37-32) * 3 */
        else if (i == 208)
            assert_true(y[i] == 16.0f); /* 0.5 * (0-32) * (3-4) */
        else
            assert_true(y[i] == 0.0f);
    }
}

static void test_block_float(void **state)
{
    (void)state;
    const uint16_t hf[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
    const uint16_t bf[4] = {0x3f80, 0xc000, 0x4049, 0x0000};
    float y[4];
    ref(LOCO_TYPE_F16)->to_float(hf, y, 4);
    assert_true(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0x1p-24f && y[3] == 65504.0f);
    loco_type_traits(LOCO_TYPE_F16)->to_float(hf, y, 4);
    assert_true(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0x1p-24f && y[3] == 65504.0f);
    ref(LOCO_TYPE_BF16)->to_float(bf, y, 4);
    assert_true(y[0] == 1.0f && y[1] == -2.0f && y[2] == 3.140625f && y[3] == 0.0f);
}

/* ---- 4. activation quantizers -------------------------------------------- */

static void test_q8_0_activation(void **state)
{
    (void)state;
    /* amax 127 makes the multiplier exactly 1: ties go to even */
    float x[32] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -3.5f, 100.49f, -126.6f};
    struct block_q8_0 b;
    ref(LOCO_TYPE_Q8_0)->from_float(x, &b, 32);
    assert_int_equal(b.d, 0x3c00);
    const int8_t want[9] = {127, 0, 2, 2, 0, -2, -4, 100, -127};
    assert_memory_equal(b.qs, want, 9);
    for (int j = 9; j < 32; j++)
        assert_int_equal(b.qs[j], 0);
    /* general case: d = amax/127 in fp16, q = round(x * 127/amax) */
    for (int j = 0; j < 32; j++)
        x[j] = 0.5f * (float)(j - 16);
    ref(LOCO_TYPE_Q8_0)->from_float(x, &b, 32);
    assert_int_equal(b.d, h(8.0f / 127.0f));
    assert_int_equal(b.qs[0], -127);
    assert_int_equal(b.qs[17], 8);   /* 0.5 * 15.875 = 7.9375 */
    assert_int_equal(b.qs[31], 119); /* 7.5 * 15.875 = 119.06 */
    /* all-zero block */
    memset(x, 0, sizeof x);
    ref(LOCO_TYPE_Q8_0)->from_float(x, &b, 32);
    assert_int_equal(b.d, 0);
    for (int j = 0; j < 32; j++)
        assert_int_equal(b.qs[j], 0);
}

static void test_q8_1_activation(void **state)
{
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j % 7) - 2.0f; /* -2..4, amax 4 */
    struct block_q8_1 b;
    ref(LOCO_TYPE_Q8_1)->from_float(x, &b, 32);
    assert_int_equal(b.d, h(4.0f / 127.0f));
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        int want = (int)rintf(x[j] * (127.0f / 4.0f));
        assert_int_equal(b.qs[j], want);
        sum += want;
    }
    assert_int_equal(b.s, h(4.0f / 127.0f * (float)sum));
}

static void test_q8_k_activation(void **state)
{
    (void)state;
    float x[256] = {0};
    struct block_q8_k b;
    /* max = -127 (largest magnitude, negative): iscale = 1, d = 1 */
    x[10] = -127.0f;
    x[0] = 0.5f;
    x[1] = 1.5f;
    x[2] = 2.5f; /* ties to even: 0, 2, 2 */
    x[3] = -3.5f;
    x[255] = 100.25f;
    ref(LOCO_TYPE_Q8_K)->from_float(x, &b, 256);
    assert_true(b.d == 1.0f);
    assert_int_equal(b.qs[10], -127);
    assert_int_equal(b.qs[0], 0);
    assert_int_equal(b.qs[1], 2);
    assert_int_equal(b.qs[2], 2);
    assert_int_equal(b.qs[3], -4);
    assert_int_equal(b.qs[255], 100);
    assert_int_equal(b.bsums[0], 0 + 2 + 2 - 4 - 127);
    assert_int_equal(b.bsums[15], 100);
    for (int j = 1; j < 15; j++)
        assert_int_equal(b.bsums[j], 0);
    /* ties in magnitude: the first one sets the sign; a positive max flips
     * every sign (iscale = -127/max < 0, d = 1/iscale < 0) */
    memset(x, 0, sizeof x);
    x[3] = 2.0f;
    x[7] = -2.0f;
    x[8] = 1.0f;
    ref(LOCO_TYPE_Q8_K)->from_float(x, &b, 256);
    assert_true(b.d == 1.0f / (-127.0f / 2.0f));
    assert_int_equal(b.qs[3], -127);
    assert_int_equal(b.qs[7], 127);
    assert_int_equal(b.qs[8], -64); /* -63.5 -> even */
    /* all zero: d = 0, q = 0, bsums = 0 */
    memset(x, 0, sizeof x);
    memset(&b, 0x55, sizeof b);
    ref(LOCO_TYPE_Q8_K)->from_float(x, &b, 256);
    assert_true(b.d == 0.0f);
    for (int j = 0; j < 256; j++)
        assert_int_equal(b.qs[j], 0);
    for (int j = 0; j < 16; j++)
        assert_int_equal(b.bsums[j], 0);
}

/* ---- 5. round trips ----------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    /* relative RMS error bound for unit-Gaussian data, max error in units of
     * the data's max |x| per block */
    static const struct {
        enum loco_type t;
        double rms;
    } cases[] = {
        {LOCO_TYPE_F32, 0.0},   {LOCO_TYPE_F16, 5e-4},  {LOCO_TYPE_BF16, 4e-3},
        {LOCO_TYPE_Q8_0, 0.01}, {LOCO_TYPE_Q4_0, 0.12}, {LOCO_TYPE_Q4_1, 0.10},
        {LOCO_TYPE_Q5_0, 0.06}, {LOCO_TYPE_Q5_1, 0.05}, {LOCO_TYPE_Q4_K, 0.10},
        {LOCO_TYPE_Q5_K, 0.05}, {LOCO_TYPE_Q6_K, 0.03}, {LOCO_TYPE_Q8_1, 0.01},
        {LOCO_TYPE_Q8_K, 0.01},
    };
    const int64_t n = 4096;
    float *x = xmalloc(n * sizeof(float));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const enum loco_type t = cases[c].t;
        for (uint64_t seed = 1; seed <= 3; seed++) {
            fill_gauss(seed, x, n, seed == 2 ? 30.0f : 1.0f);
            if (seed == 3) /* an offset distribution exercises the mins */
                for (int64_t i = 0; i < n; i++)
                    x[i] = fabsf(x[i]) + 0.5f;
            void *q = xmalloc(loco_type_row_size(t, n));
            ref(t)->from_float(x, q, n);
            float *y = dequant(t, q, n);
            double err = 0.0, norm = 0.0;
            for (int64_t i = 0; i < n; i++) {
                err += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
                norm += (double)x[i] * x[i];
            }
            double rel = sqrt(err / norm);
            if (rel > cases[c].rms)
                fail_msg("%s seed %llu: relative RMS error %.4g > %.4g", ref(t)->name,
                         (unsigned long long)seed, rel, cases[c].rms);
            free(q);
            free(y);
        }
    }
    free(x);
}

/* Q8_0 bound: |x - y| <= d/2 per element, plus the fp16 rounding of d. */
static void test_round_trip_q8_0_bound(void **state)
{
    (void)state;
    float x[256], y[256];
    struct block_q8_0 b[8];
    fill_gauss(9, x, 256, 3.0f);
    ref(LOCO_TYPE_Q8_0)->from_float(x, b, 256);
    ref(LOCO_TYPE_Q8_0)->to_float(b, y, 256);
    for (int i = 0; i < 256; i++) {
        float amax = 0.0f;
        for (int j = i / 32 * 32; j < i / 32 * 32 + 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        assert_true(fabsf(x[i] - y[i]) <= amax / 127.0f * (0.5f + 127.0f / 2048.0f));
    }
}

/* ---- 6. fast kernels vs reference ----------------------------------------- */

static const enum loco_type dot_types[] = {
    LOCO_TYPE_F32,  LOCO_TYPE_F16,  LOCO_TYPE_BF16, LOCO_TYPE_Q4_0, LOCO_TYPE_Q4_1,
    LOCO_TYPE_Q5_0, LOCO_TYPE_Q5_1, LOCO_TYPE_Q8_0, LOCO_TYPE_Q2_K, LOCO_TYPE_Q3_K,
    LOCO_TYPE_Q4_K, LOCO_TYPE_Q5_K, LOCO_TYPE_Q6_K,
};

static void check_quantizer_bits(enum loco_type t, const float *x, int64_t n)
{
    size_t bytes = loco_type_row_size(t, n);
    uint8_t *a = xmalloc(bytes), *b = xmalloc(bytes);
    memset(a, 0xaa, bytes);
    memset(b, 0x55, bytes);
    ref(t)->from_float(x, a, n);
    loco_type_traits(t)->from_float(x, b, n);
    if (memcmp(a, b, bytes) != 0)
        fail_msg("%s quantizer: fast and reference differ (n = %lld)", ref(t)->name, (long long)n);
    free(a);
    free(b);
}

static void test_fast_quantizers(void **state)
{
    (void)state;
    if (!have_avx2()) {
        skip();
        return;
    }
    const enum loco_type types[] = {LOCO_TYPE_Q8_0, LOCO_TYPE_Q8_1, LOCO_TYPE_Q8_K,
                                    LOCO_TYPE_F16,  LOCO_TYPE_BF16, LOCO_TYPE_F32};
    const int64_t n = 2048;
    float *x = xmalloc(n * sizeof(float));
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        for (uint64_t seed = 1; seed <= 5; seed++) {
            fill_gauss(seed, x, n, (float)seed);
            if (seed == 4) { /* halves with amax 127 (multiplier 1): exact ties */
                for (int64_t i = 0; i < n; i++)
                    x[i] = i < 256 ? 0.0f : (float)((int)(x[i] * 4.0f)) * 0.5f;
                for (int64_t i = 256; i < n; i += 32)
                    x[i + 5] = (i / 32) % 2 ? 127.0f : -127.0f;
            }
            if (seed == 5) /* repeated extreme magnitudes with both signs */
                for (int64_t i = 0; i < n; i++)
                    x[i] = (i % 3 == 0) ? ((i % 2) ? -8.0f : 8.0f) : x[i];
            check_quantizer_bits(types[k], x, n);
            check_quantizer_bits(types[k], x, 256);
        }
    }
    free(x);
}

/* The fast K-quant dequantizers (Q4_K, Q5_K, Q6_K) give the reference's bits
 * on random blocks, one block and several */
static void test_fast_dequantizers(void **state)
{
    (void)state;
    if (!have_avx2()) {
        skip();
        return;
    }
    const enum loco_type types[] = {LOCO_TYPE_Q4_K, LOCO_TYPE_Q5_K, LOCO_TYPE_Q6_K};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const struct loco_type_traits *fast = loco_type_traits(types[k]);
        assert_true(fast->to_float != ref(types[k])->to_float);
        for (uint64_t seed = 1; seed <= 4; seed++) {
            const int64_t n = seed == 1 ? 256 : 256 * (int64_t)(seed * 3);
            void *x = random_blocks(types[k], n, seed * 31);
            float *a = xmalloc(n * sizeof(float)), *b = xmalloc(n * sizeof(float));
            ref(types[k])->to_float(x, a, n);
            fast->to_float(x, b, n);
            if (memcmp(a, b, (size_t)n * sizeof(float)) != 0)
                fail_msg("%s to_float n=%lld seed=%llu: fast and reference differ", fast->name,
                         (long long)n, (unsigned long long)seed);
            free(x);
            free(a);
            free(b);
        }
    }
}

static void check_dot(enum loco_type t, int64_t n, uint64_t seed)
{
    const enum loco_type vt = ref(t)->vec_dot_type;
    void *x = random_blocks(t, n, seed);
    float *yf = xmalloc(n * sizeof(float));
    fill_gauss(seed * 7 + 1, yf, n, 1.0f);
    void *y = xmalloc(loco_type_row_size(vt, n));
    ref(vt)->from_float(yf, y, n);
    float *yd = dequant(vt, y, n);
    float s_ref, s_fast;
    ref(t)->vec_dot(n, &s_ref, x, y);
    loco_type_traits(t)->vec_dot(n, &s_fast, x, y);
    double scale = dot_scale(t, x, yd, n);
    if (!(fabs((double)s_fast - s_ref) <= 1e-5 * scale + 1e-30))
        fail_msg("%s dot n=%lld seed=%llu: fast %.9g ref %.9g (scale %.4g)", ref(t)->name,
                 (long long)n, (unsigned long long)seed, s_fast, s_ref, scale);
    free(x);
    free(yf);
    free(y);
    free(yd);
}

static void test_fast_dots(void **state)
{
    (void)state;
    if (!have_avx2()) {
        skip();
        return;
    }
    for (size_t k = 0; k < sizeof dot_types / sizeof dot_types[0]; k++) {
        const enum loco_type t = dot_types[k];
        const int64_t bs = ref(t)->block_size;
        const int64_t counts[] = {1, 2, 3, 7, 16};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            for (uint64_t seed = 1; seed <= 4; seed++)
                check_dot(t, bs == 1 ? 256 * counts[c] : bs * counts[c], seed);
        if (bs == 1) /* tails of the float kernels */
            for (int64_t n = 1; n <= 70; n += 3)
                check_dot(t, n, (uint64_t)n);
    }
}

/* The reference dot products agree with dequantize-then-double on both
 * sides: the integer scheme is exact except for float summation (and, for
 * Q8_1, the fp16 rounding of s, which is not what this checks). */
static void test_ref_dots_vs_dequant(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof dot_types / sizeof dot_types[0]; k++) {
        const enum loco_type t = dot_types[k], vt = ref(t)->vec_dot_type;
        const int64_t n = ref(t)->block_size == 1 ? 300 : 1024;
        void *x = random_blocks(t, n, 5 + k);
        float *yf = xmalloc(n * sizeof(float));
        fill_gauss(11 + k, yf, n, 1.0f);
        void *y = xmalloc(loco_type_row_size(vt, n));
        ref(vt)->from_float(yf, y, n);
        float *xd = dequant(t, x, n), *yd = dequant(vt, y, n);
        double want = 0.0;
        for (int64_t i = 0; i < n; i++)
            want += (double)xd[i] * yd[i];
        float got;
        ref(t)->vec_dot(n, &got, x, y);
        double scale = dot_scale(t, x, yd, n);
        /* Q8_1's s = fp16(d*sum q) carries a relative error up to 2^-11 */
        double tol = (vt == LOCO_TYPE_Q8_1 ? 1e-3 : 1e-5) * scale;
        if (!(fabs(got - want) <= tol))
            fail_msg("%s ref dot %.9g vs dequantized %.9g", ref(t)->name, got, want);
        free(x);
        free(yf);
        free(y);
        free(xd);
        free(yd);
    }
}

/* ---- 7. matmul ----------------------------------------------------------- */

static void *make_weights(enum loco_type t, int64_t n_in, int64_t n_out, uint64_t seed)
{
    if (!ref(t)->from_float) /* Q2_K, Q3_K: random well-formed blocks */
        return random_blocks(t, n_in * n_out, seed);
    float *wf = xmalloc((size_t)(n_in * n_out) * sizeof(float));
    fill_gauss(seed, wf, n_in * n_out, 0.1f);
    void *w = xmalloc(loco_type_row_size(t, n_in) * (size_t)n_out);
    for (int64_t o = 0; o < n_out; o++)
        ref(t)->from_float(wf + o * n_in, (char *)w + (size_t)o * loco_type_row_size(t, n_in),
                           n_in);
    free(wf);
    return w;
}

/* y[t][o] in double from dequantized W and the given activations xa. */
static void naive_matmul(const float *wd, const float *xa, int64_t n_in, int64_t n_out,
                         int64_t n_tok, double *y, double *mag)
{
    for (int64_t t = 0; t < n_tok; t++) {
        for (int64_t o = 0; o < n_out; o++) {
            double s = 0.0, m = 0.0;
            for (int64_t i = 0; i < n_in; i++) {
                s += (double)wd[o * n_in + i] * xa[t * n_in + i];
                m += fabs((double)wd[o * n_in + i] * xa[t * n_in + i]);
            }
            y[t * n_out + o] = s;
            mag[t * n_out + o] = m;
        }
    }
}

/* The activations as loco_matmul sees them: quantized to the partner type
 * and dequantized again (reference kernels). */
static float *partner_round_trip(enum loco_type t, const float *x, int64_t n_in, int64_t n_tok)
{
    const enum loco_type vt = ref(t)->vec_dot_type;
    float *xa = xmalloc((size_t)(n_in * n_tok) * sizeof(float));
    void *q = xmalloc(loco_type_row_size(vt, n_in));
    for (int64_t r = 0; r < n_tok; r++) {
        ref(vt)->from_float(x + r * n_in, q, n_in);
        ref(vt)->to_float(q, xa + r * n_in, n_in);
    }
    free(q);
    return xa;
}

typedef int (*matmul_fn)(const void *, enum loco_type, int64_t, int64_t, const float *, int64_t,
                         float *, int);

static void check_matmul(matmul_fn mm, bool quantize_act, enum loco_type t, int64_t n_tok)
{
    const int64_t n_in = 512, n_out = 37;
    void *w = make_weights(t, n_in, n_out, 100 + (uint64_t)t);
    float *wd = xmalloc((size_t)(n_in * n_out) * sizeof(float));
    for (int64_t o = 0; o < n_out; o++)
        assert_int_equal(loco_get_row(w, t, n_in, o, wd + o * n_in), LOCO_OK);
    float *x = xmalloc((size_t)(n_in * n_tok) * sizeof(float));
    fill_gauss(200 + (uint64_t)n_tok, x, n_in * n_tok, 1.0f);
    float *xa = quantize_act ? partner_round_trip(t, x, n_in, n_tok) : x;
    double *want = xmalloc((size_t)(n_out * n_tok) * sizeof(double));
    double *mag = xmalloc((size_t)(n_out * n_tok) * sizeof(double));
    naive_matmul(wd, xa, n_in, n_out, n_tok, want, mag);
    float *y1 = xmalloc((size_t)(n_out * n_tok) * sizeof(float));
    float *y2 = xmalloc((size_t)(n_out * n_tok) * sizeof(float));
    assert_int_equal(mm(w, t, n_in, n_out, x, n_tok, y1, 1), LOCO_OK);
    assert_int_equal(mm(w, t, n_in, n_out, x, n_tok, y2, 2), LOCO_OK);
    if (memcmp(y1, y2, (size_t)(n_out * n_tok) * sizeof(float)) != 0)
        fail_msg("%s n_tok=%lld: 1 and 2 threads differ", ref(t)->name, (long long)n_tok);
    /* Q8_1's s term is rounded to fp16 (relative 2^-11) */
    const double rel = quantize_act && ref(t)->vec_dot_type == LOCO_TYPE_Q8_1 ? 1e-3 : 1e-5;
    for (int64_t i = 0; i < n_out * n_tok; i++)
        if (!(fabs(y1[i] - want[i]) <= rel * mag[i] + 1e-30))
            fail_msg("%s n_tok=%lld [%lld]: got %.9g want %.9g (|terms| %.4g)", ref(t)->name,
                     (long long)n_tok, (long long)i, y1[i], want[i], mag[i]);
    if (quantize_act) { /* and loosely against the unquantized activations */
        naive_matmul(wd, x, n_in, n_out, n_tok, want, mag);
        for (int64_t i = 0; i < n_out * n_tok; i++)
            if (!(fabs(y1[i] - want[i]) <= 0.02 * mag[i]))
                fail_msg("%s n_tok=%lld: %.6g far from f32 result %.6g", ref(t)->name,
                         (long long)n_tok, y1[i], want[i]);
    }
    if (xa != x)
        free(xa);
    free(w);
    free(wd);
    free(x);
    free(want);
    free(mag);
    free(y1);
    free(y2);
}

static void test_matmul(void **state)
{
    (void)state;
    const int64_t toks[] = {1, 3, 17, 70};
    for (size_t k = 0; k < sizeof dot_types / sizeof dot_types[0]; k++)
        for (size_t j = 0; j < 4; j++)
            check_matmul(loco_matmul, true, dot_types[k], toks[j]);
}

static void test_matmul_f32act(void **state)
{
    (void)state;
    const int64_t toks[] = {1, 3, 17, 70};
    for (size_t k = 0; k < sizeof dot_types / sizeof dot_types[0]; k++)
        for (size_t j = 0; j < 4; j++)
            check_matmul(loco_matmul_f32act, false, dot_types[k], toks[j]);
}

static void test_matmul_errors(void **state)
{
    (void)state;
    float x[512] = {0}, y[8];
    uint8_t w[4096] = {0};
    assert_int_equal(loco_matmul(w, LOCO_TYPE_Q8_K, 256, 1, x, 1, y, 1), LOCO_ERR_UNSUPPORTED);
    assert_true(strstr(loco_error_message(), "Q8_K") != NULL);
    assert_int_equal(loco_matmul(w, LOCO_TYPE_I32, 4, 1, x, 1, y, 1), LOCO_ERR_UNSUPPORTED);
    assert_int_equal(loco_matmul(w, (enum loco_type)4, 32, 1, x, 1, y, 1), LOCO_ERR_UNSUPPORTED);
    assert_int_equal(loco_matmul(w, LOCO_TYPE_Q4_0, 100, 1, x, 1, y, 1), LOCO_ERR_INVALID);
    assert_true(strstr(loco_error_message(), "100") != NULL);
    assert_int_equal(loco_matmul(NULL, LOCO_TYPE_F32, 4, 1, x, 1, y, 1), LOCO_ERR_INVALID);
    assert_int_equal(loco_matmul_f32act(w, (enum loco_type)16, 256, 1, x, 1, y, 1),
                     LOCO_ERR_UNSUPPORTED);
    assert_int_equal(loco_get_row(w, LOCO_TYPE_Q4_K, 100, 0, y), LOCO_ERR_INVALID);
    assert_int_equal(loco_get_row(w, LOCO_TYPE_F32, 4, -1, y), LOCO_ERR_INVALID);
    /* empty products are fine; thread counts below 1 mean 1 */
    assert_int_equal(loco_matmul(w, LOCO_TYPE_F32, 4, 0, x, 1, y, 1), LOCO_OK);
    assert_int_equal(loco_matmul(w, LOCO_TYPE_F32, 4, 1, x, 0, y, 1), LOCO_OK);
    assert_int_equal(loco_matmul(w, LOCO_TYPE_F32, 4, 1, x, 1, y, 0), LOCO_OK);
}

static void test_get_row(void **state)
{
    (void)state;
    const int64_t n_in = 256;
    void *w = make_weights(LOCO_TYPE_Q6_K, n_in, 3, 77);
    float a[256], b[256];
    assert_int_equal(loco_get_row(w, LOCO_TYPE_Q6_K, n_in, 2, a), LOCO_OK);
    ref(LOCO_TYPE_Q6_K)
        ->to_float((char *)w + 2 * loco_type_row_size(LOCO_TYPE_Q6_K, n_in), b, n_in);
    assert_memory_equal(a, b, sizeof a);
    free(w);
}

/* ---- 8. multi-token dot kernels: bit-identical to vec_dot ----------------- */

static const enum loco_type multi_types[] = {LOCO_TYPE_Q4_0, LOCO_TYPE_Q4_1, LOCO_TYPE_Q8_0,
                                             LOCO_TYPE_Q4_K, LOCO_TYPE_Q6_K};

/* One weight row of nb blocks against n_y activation rows: the multi kernel
 * writes s[k * stride] and nothing between, each with the exact bits of
 * dot(x, y_k). */
static void check_multi(loco_vec_dot_fn dot, lq_vec_dot_multi_fn multi, enum loco_type t,
                        int64_t nb, int n_y, uint64_t seed)
{
    const enum loco_type vt = ref(t)->vec_dot_type;
    const int64_t n = nb * ref(t)->block_size;
    const size_t arow = loco_type_row_size(vt, n), stride = 3;
    void *x = random_blocks(t, n, seed);
    float *yf = xmalloc((size_t)n * sizeof(float));
    char *y = xmalloc(arow * LQ_MULTI_MAX);
    for (int k = 0; k < n_y; k++) {
        fill_gauss(seed * 31 + (uint64_t)k, yf, n, k == 2 ? 100.0f : 1.0f);
        ref(vt)->from_float(yf, y + (size_t)k * arow, n);
    }
    float got[3 * LQ_MULTI_MAX], want;
    for (size_t j = 0; j < 3 * LQ_MULTI_MAX; j++)
        got[j] = -12345.0f;
    multi(n, got, stride, x, y, arow, n_y);
    for (int k = 0; k < n_y; k++) {
        dot(n, &want, x, y + (size_t)k * arow);
        if (memcmp(&want, &got[(size_t)k * stride], sizeof want) != 0)
            fail_msg("%s multi nb=%lld n_y=%d row %d: %.9g, vec_dot %.9g", ref(t)->name,
                     (long long)nb, n_y, k, got[(size_t)k * stride], want);
    }
    for (size_t j = 0; j < 3 * LQ_MULTI_MAX; j++)
        if (j % stride != 0 || j / stride >= (size_t)n_y)
            assert_true(got[j] == -12345.0f);
    free(x);
    free(yf);
    free(y);
}

static void check_multi_set(enum loco_type t, loco_vec_dot_fn dot, lq_vec_dot_multi_fn multi)
{
    assert_non_null(multi);
    const int64_t blocks[] = {1, 2, 3, 5, 7, 16, 33};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
        for (int n_y = 1; n_y <= LQ_MULTI_MAX; n_y++)
            for (uint64_t seed = 1; seed <= 3; seed++)
                check_multi(dot, multi, t, blocks[b], n_y, seed * 100 + (uint64_t)b);
}

/* The scalar multi kernels against the scalar vec_dot, and the selected
 * ones (AVX2 on most machines) against the selected vec_dot. */
static void test_multi_dots_exact(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof multi_types / sizeof multi_types[0]; i++) {
        const enum loco_type t = multi_types[i];
        check_multi_set(t, ref(t)->vec_dot, lq_vec_dot_multi_ref(t));
        check_multi_set(t, loco_type_traits(t)->vec_dot, lq_vec_dot_multi(t));
    }
    /* types without one fall back to vec_dot per token */
    assert_null(lq_vec_dot_multi(LOCO_TYPE_F32));
    assert_null(lq_vec_dot_multi_ref((enum loco_type)4));
}

/* loco_matmul on T tokens (the multi-token path for 2 <= T < 48) gives the
 * bits of T separate single-token calls, for odd shapes and 1 or 2 threads. */
static void check_matmul_vs_single(enum loco_type t, int64_t n_in, int64_t n_tok)
{
    const int64_t n_out = 37;
    void *w = make_weights(t, n_in, n_out, 300 + (uint64_t)t);
    float *x = xmalloc((size_t)(n_in * n_tok) * sizeof(float));
    fill_gauss(400 + (uint64_t)n_tok, x, n_in * n_tok, 1.0f);
    float *want = xmalloc((size_t)(n_out * n_tok) * sizeof(float));
    float *got = xmalloc((size_t)(n_out * n_tok) * sizeof(float));
    for (int64_t r = 0; r < n_tok; r++)
        assert_int_equal(loco_matmul(w, t, n_in, n_out, x + r * n_in, 1, want + r * n_out, 1),
                         LOCO_OK);
    for (int nt = 1; nt <= 2; nt++) {
        assert_int_equal(loco_matmul(w, t, n_in, n_out, x, n_tok, got, nt), LOCO_OK);
        if (memcmp(got, want, (size_t)(n_out * n_tok) * sizeof(float)) != 0)
            fail_msg("%s n_in=%lld n_tok=%lld threads=%d: batch differs from single tokens",
                     ref(t)->name, (long long)n_in, (long long)n_tok, nt);
    }
    free(w);
    free(x);
    free(want);
    free(got);
}

static void test_matmul_multi_exact(void **state)
{
    (void)state;
    const int64_t toks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 47};
    for (size_t i = 0; i < sizeof multi_types / sizeof multi_types[0]; i++) {
        const enum loco_type t = multi_types[i];
        const int64_t bs = ref(t)->block_size;
        for (size_t j = 0; j < sizeof toks / sizeof toks[0]; j++) {
            check_matmul_vs_single(t, bs * 7, toks[j]);
            check_matmul_vs_single(t, bs * (bs == 32 ? 48 : 6), toks[j]);
        }
    }
}

#if LOCO_QUANT_X86
/* One weight row against LQ_MULTI_MAX activation rows: the VNNI twin of a
 * one-token and of a multi-token kernel return the AVX2 twin's bits. The
 * activation rows are random blocks too, so that Q8_0 bytes of -128 meet
 * on both sides (the extreme case of the int16 pair sums). */
static void check_vnni_twin(enum loco_type t, loco_vec_dot_fn dot2, loco_vec_dot_fn dot5,
                            lq_vec_dot_multi_fn multi2, lq_vec_dot_multi_fn multi5, int64_t nb,
                            uint64_t seed)
{
    const enum loco_type vt = ref(t)->vec_dot_type;
    const int64_t n = nb * ref(t)->block_size;
    const size_t arow = loco_type_row_size(vt, n);
    void *x = random_blocks(t, n, seed);
    char *y = xmalloc(arow * LQ_MULTI_MAX);
    float *yf = xmalloc((size_t)n * sizeof(float));
    for (int k = 0; k < LQ_MULTI_MAX; k++) {
        if (vt == LOCO_TYPE_Q8_0 && k % 2 == 1) {
            void *r = random_blocks(vt, n, seed * 7 + (uint64_t)k);
            memcpy(y + (size_t)k * arow, r, arow);
            free(r);
        } else {
            fill_gauss(seed * 13 + (uint64_t)k, yf, n, k == 2 ? 100.0f : 1.0f);
            ref(vt)->from_float(yf, y + (size_t)k * arow, n);
        }
    }
    for (int k = 0; k < LQ_MULTI_MAX; k++) {
        float a, b;
        dot2(n, &a, x, y + (size_t)k * arow);
        dot5(n, &b, x, y + (size_t)k * arow);
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("%s nb=%lld row %d: avx512vnni %.9g, avx2 %.9g", ref(t)->name, (long long)nb,
                     k, b, a);
    }
    for (int n_y = 1; n_y <= LQ_MULTI_MAX; n_y++) {
        float a[LQ_MULTI_MAX], b[LQ_MULTI_MAX];
        multi2(n, a, 1, x, y, arow, n_y);
        multi5(n, b, 1, x, y, arow, n_y);
        if (memcmp(a, b, (size_t)n_y * sizeof a[0]) != 0)
            fail_msg("%s multi nb=%lld n_y=%d: avx512vnni and avx2 differ", ref(t)->name,
                     (long long)nb, n_y);
    }
    free(x);
    free(y);
    free(yf);
}

static void test_vnni_twins(void **state)
{
    (void)state;
    if (!lq_cpu_has_avx512vnni()) {
        /* what holds on such a CPU: the twins are not installed (a missing
         * instruction set is not a missing fixture, so this is no skip) */
        assert_true(strcmp(loco_quant_kernel_set(), "avx512vnni") != 0);
        fprintf(stderr, "note: this CPU has no AVX-512 VNNI: the twins were not run, and the "
                        "kernel set is %s\n", loco_quant_kernel_set());
        return;
    }
    const int64_t blocks[] = {1, 2, 3, 5, 7, 16, 33};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            uint64_t sd = seed * 100 + (uint64_t)b;
            check_vnni_twin(LOCO_TYPE_Q4_0, lq_dot_q4_0_q8_0_avx2, lq_dot_q4_0_q8_0_avx512,
                            lq_dotm_q4_0_q8_0_avx2, lq_dotm_q4_0_q8_0_avx512, blocks[b], sd);
            check_vnni_twin(LOCO_TYPE_Q4_1, lq_dot_q4_1_q8_1_avx2, lq_dot_q4_1_q8_1_avx512,
                            lq_dotm_q4_1_q8_1_avx2, lq_dotm_q4_1_q8_1_avx512, blocks[b], sd);
            check_vnni_twin(LOCO_TYPE_Q8_0, lq_dot_q8_0_q8_0_avx2, lq_dot_q8_0_q8_0_avx512,
                            lq_dotm_q8_0_q8_0_avx2, lq_dotm_q8_0_q8_0_avx512, blocks[b], sd);
            check_vnni_twin(LOCO_TYPE_Q4_K, lq_dot_q4_k_q8_k_avx2, lq_dot_q4_k_q8_k_avx512,
                            lq_dotm_q4_k_q8_k_avx2, lq_dotm_q4_k_q8_k_avx512, blocks[b], sd);
            check_vnni_twin(LOCO_TYPE_Q6_K, lq_dot_q6_k_q8_k_avx2, lq_dot_q6_k_q8_k_avx512,
                            lq_dotm_q6_k_q8_k_avx2, lq_dotm_q6_k_q8_k_avx512, blocks[b], sd);
        }
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_fp16_edges),
        cmocka_unit_test(test_fp16_vs_hardware),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_block_q4_0),
        cmocka_unit_test(test_block_q4_1),
        cmocka_unit_test(test_block_q5),
        cmocka_unit_test(test_block_q8),
        cmocka_unit_test(test_block_q4_k),
        cmocka_unit_test(test_block_q5_k),
        cmocka_unit_test(test_block_q6_k),
        cmocka_unit_test(test_block_q2_k),
        cmocka_unit_test(test_block_q3_k),
        cmocka_unit_test(test_block_float),
        cmocka_unit_test(test_q8_0_activation),
        cmocka_unit_test(test_q8_1_activation),
        cmocka_unit_test(test_q8_k_activation),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_q8_0_bound),
        cmocka_unit_test(test_fast_quantizers),
        cmocka_unit_test(test_fast_dequantizers),
        cmocka_unit_test(test_fast_dots),
        cmocka_unit_test(test_ref_dots_vs_dequant),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_matmul_f32act),
        cmocka_unit_test(test_matmul_errors),
        cmocka_unit_test(test_get_row),
        cmocka_unit_test(test_multi_dots_exact),
        cmocka_unit_test(test_matmul_multi_exact),
#if LOCO_QUANT_X86
        cmocka_unit_test(test_vnni_twins),
#endif
    };
    return LOCO_RUN_TESTS(tests, NULL, NULL);
}
