/*
 * traits.c - the type table and run-time kernel selection.
 *
 * ref_traits[] is the specification: one row per ggml type id (docs/formats/gguf.md),
 * with block size, bytes per block, dot-product partner (docs/formats/quant.md) and the
 * scalar kernels. The first call to loco_quant_init() copies it to
 * fast_traits[] and, when the CPU has AVX2, FMA and F16C (and LOCO_NO_SIMD
 * is not set), overwrites the kernels listed in avx2_rows[], then, when it
 * also has AVX-512 F/BW/VL/DQ and VNNI, those in avx512_rows[] (twins that
 * return the AVX2 kernels' bits, only faster). LOCO_KERNELS=scalar|avx2
 * stops at that set. Swapping a kernel in is one row of a list. The
 * multi-token dot kernels (ref_multi[], fast_multi[]) are private to
 * src/quant and follow the same path.
 */
#include "quant-impl.h"

#include <pthread.h>
#if LOCO_QUANT_X86
#include <cpuid.h>
#endif
#include <stdlib.h>

#define T(id) [LOCO_TYPE_##id]

/* name, block, bytes, quantized, vec_dot_type, to_float, from_float, vec_dot */
static const struct loco_type_traits ref_traits[LOCO_TYPE_COUNT] = {
    T(F32) = {"F32", 1, 4, false, LOCO_TYPE_F32, lq_to_float_f32, lq_from_float_f32,
              lq_dot_f32_ref},
    T(F16) = {"F16", 1, 2, false, LOCO_TYPE_F16, lq_to_float_f16, lq_from_float_f16,
              lq_dot_f16_ref},
    T(BF16) = {"BF16", 1, 2, false, LOCO_TYPE_BF16, lq_to_float_bf16, lq_from_float_bf16,
               lq_dot_bf16_ref},
    T(Q4_0) = {"Q4_0", 32, 18, true, LOCO_TYPE_Q8_0, lq_to_float_q4_0, lq_from_float_q4_0,
               lq_dot_q4_0_q8_0_ref},
    T(Q4_1) = {"Q4_1", 32, 20, true, LOCO_TYPE_Q8_1, lq_to_float_q4_1, lq_from_float_q4_1,
               lq_dot_q4_1_q8_1_ref},
    T(Q5_0) = {"Q5_0", 32, 22, true, LOCO_TYPE_Q8_0, lq_to_float_q5_0, lq_from_float_q5_0,
               lq_dot_q5_0_q8_0_ref},
    T(Q5_1) = {"Q5_1", 32, 24, true, LOCO_TYPE_Q8_1, lq_to_float_q5_1, lq_from_float_q5_1,
               lq_dot_q5_1_q8_1_ref},
    T(Q8_0) = {"Q8_0", 32, 34, true, LOCO_TYPE_Q8_0, lq_to_float_q8_0, lq_from_float_q8_0_ref,
               lq_dot_q8_0_q8_0_ref},
    T(Q8_1) = {"Q8_1", 32, 36, true, LOCO_TYPE_Q8_1, lq_to_float_q8_1, lq_from_float_q8_1_ref,
               NULL},
    T(Q2_K) = {"Q2_K", 256, 84, true, LOCO_TYPE_Q8_K, lq_to_float_q2_k, NULL, lq_dot_q2_k_q8_k_ref},
    T(Q3_K) = {"Q3_K", 256, 110, true, LOCO_TYPE_Q8_K, lq_to_float_q3_k, NULL,
               lq_dot_q3_k_q8_k_ref},
    T(Q4_K) = {"Q4_K", 256, 144, true, LOCO_TYPE_Q8_K, lq_to_float_q4_k, lq_from_float_q4_k,
               lq_dot_q4_k_q8_k_ref},
    T(Q5_K) = {"Q5_K", 256, 176, true, LOCO_TYPE_Q8_K, lq_to_float_q5_k, lq_from_float_q5_k,
               lq_dot_q5_k_q8_k_ref},
    T(Q6_K) = {"Q6_K", 256, 210, true, LOCO_TYPE_Q8_K, lq_to_float_q6_k, lq_from_float_q6_k,
               lq_dot_q6_k_q8_k_ref},
    T(Q8_K) = {"Q8_K", 256, 292, true, LOCO_TYPE_Q8_K, lq_to_float_q8_k, lq_from_float_q8_k_ref,
               NULL},
    /* Known to the container, no kernels here (sizes: ggml-common.h). */
    [16] = {"IQ2_XXS", 256, 66, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [17] = {"IQ2_XS", 256, 74, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [18] = {"IQ3_XXS", 256, 98, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [19] = {"IQ1_S", 256, 50, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [20] = {"IQ4_NL", 32, 18, true, LOCO_TYPE_Q8_0, NULL, NULL, NULL},
    [21] = {"IQ3_S", 256, 110, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [22] = {"IQ2_S", 256, 82, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [23] = {"IQ4_XS", 256, 136, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    T(I8) = {"I8", 1, 1, false, LOCO_TYPE_I8, NULL, NULL, NULL},
    T(I16) = {"I16", 1, 2, false, LOCO_TYPE_I16, NULL, NULL, NULL},
    T(I32) = {"I32", 1, 4, false, LOCO_TYPE_I32, NULL, NULL, NULL},
    T(I64) = {"I64", 1, 8, false, LOCO_TYPE_I64, NULL, NULL, NULL},
    T(F64) = {"F64", 1, 8, false, LOCO_TYPE_F64, NULL, NULL, NULL},
    [29] = {"IQ1_M", 256, 56, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [34] = {"TQ1_0", 256, 54, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [35] = {"TQ2_0", 256, 66, true, LOCO_TYPE_Q8_K, NULL, NULL, NULL},
    [39] = {"MXFP4", 32, 17, true, LOCO_TYPE_Q8_0, NULL, NULL, NULL},
    /* Recent ids whose layout this engine does not know: block size 0. */
    [40] = {"NVFP4", 0, 0, true, LOCO_TYPE_Q8_0, NULL, NULL, NULL},
    [41] = {"Q1_0", 0, 0, true, LOCO_TYPE_Q8_0, NULL, NULL, NULL},
    [42] = {"Q2_0", 0, 0, true, LOCO_TYPE_Q8_0, NULL, NULL, NULL},
};

/* Multi-token twins of the scalar vec_dot kernels (quant-impl.h); types
 * without one are NULL and matmul calls vec_dot once per token. */
static const lq_vec_dot_multi_fn ref_multi[LOCO_TYPE_COUNT] = {
    T(Q4_0) = lq_dotm_q4_0_q8_0_ref, T(Q4_1) = lq_dotm_q4_1_q8_1_ref,
    T(Q8_0) = lq_dotm_q8_0_q8_0_ref, T(Q4_K) = lq_dotm_q4_k_q8_k_ref,
    T(Q6_K) = lq_dotm_q6_k_q8_k_ref,
};

static const struct loco_type_traits unknown_traits = {.name = "unknown"};

static struct loco_type_traits fast_traits[LOCO_TYPE_COUNT];
static lq_vec_dot_multi_fn fast_multi[LOCO_TYPE_COUNT];
static const char *kernel_set = "scalar";
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

#if LOCO_QUANT_X86
/* Kernels that replace the scalar ones on AVX2 CPUs; NULL keeps the scalar.
 * A row that replaces vec_dot also sets the multi-token kernel, NULL
 * included: a multi kernel must match the vec_dot in use bit for bit. */
static const struct {
    enum loco_type type;
    loco_to_float_fn to_float;
    loco_from_float_fn from_float;
    loco_vec_dot_fn vec_dot;
    lq_vec_dot_multi_fn vec_dot_multi;
} avx2_rows[] = {
    {LOCO_TYPE_F32, NULL, NULL, lq_dot_f32_avx2, NULL},
    {LOCO_TYPE_F16, lq_to_float_f16_f16c, lq_from_float_f16_f16c, lq_dot_f16_avx2, NULL},
    {LOCO_TYPE_BF16, NULL, NULL, lq_dot_bf16_avx2, NULL},
    {LOCO_TYPE_Q4_0, NULL, NULL, lq_dot_q4_0_q8_0_avx2, lq_dotm_q4_0_q8_0_avx2},
    {LOCO_TYPE_Q4_1, NULL, NULL, lq_dot_q4_1_q8_1_avx2, lq_dotm_q4_1_q8_1_avx2},
    {LOCO_TYPE_Q5_0, NULL, NULL, lq_dot_q5_0_q8_0_avx2, NULL},
    {LOCO_TYPE_Q5_1, NULL, NULL, lq_dot_q5_1_q8_1_avx2, NULL},
    {LOCO_TYPE_Q8_0, NULL, lq_from_float_q8_0_avx2, lq_dot_q8_0_q8_0_avx2, lq_dotm_q8_0_q8_0_avx2},
    {LOCO_TYPE_Q8_1, NULL, lq_from_float_q8_1_avx2, NULL, NULL},
    {LOCO_TYPE_Q4_K, lq_to_float_q4_k_avx2, NULL, lq_dot_q4_k_q8_k_avx2, lq_dotm_q4_k_q8_k_avx2},
    {LOCO_TYPE_Q5_K, lq_to_float_q5_k_avx2, NULL, lq_dot_q5_k_q8_k_avx2, NULL},
    {LOCO_TYPE_Q6_K, lq_to_float_q6_k_avx2, NULL, lq_dot_q6_k_q8_k_avx2, lq_dotm_q6_k_q8_k_avx2},
    {LOCO_TYPE_Q8_K, NULL, lq_from_float_q8_k_avx2, NULL, NULL},
};

/* F16C through cpuid: clang's __builtin_cpu_supports does not know it. */
static bool cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

static bool cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}

/* AVX-512 VNNI twins of AVX2 kernels (same bits); each replaces both the
 * one-token and the multi-token kernel of its type. */
static const struct {
    enum loco_type type;
    loco_vec_dot_fn vec_dot;
    lq_vec_dot_multi_fn vec_dot_multi;
} avx512_rows[] = {
    {LOCO_TYPE_Q4_0, lq_dot_q4_0_q8_0_avx512, lq_dotm_q4_0_q8_0_avx512},
    {LOCO_TYPE_Q4_1, lq_dot_q4_1_q8_1_avx512, lq_dotm_q4_1_q8_1_avx512},
    {LOCO_TYPE_Q8_0, lq_dot_q8_0_q8_0_avx512, lq_dotm_q8_0_q8_0_avx512},
    {LOCO_TYPE_Q4_K, lq_dot_q4_k_q8_k_avx512, lq_dotm_q4_k_q8_k_avx512},
    {LOCO_TYPE_Q6_K, lq_dot_q6_k_q8_k_avx512, lq_dotm_q6_k_q8_k_avx512},
};

bool lq_cpu_has_avx512vnni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return false;
    /* leaf 7: EBX F(16) DQ(17) BW(30) VL(31), ECX VNNI(11); and the OS
     * saves the opmask and zmm state (XCR0 bits 5-7, with 1-2) */
    const bool cpu = (b & bit_AVX512F) && (b & bit_AVX512DQ) && (b & bit_AVX512BW) &&
                     (b & bit_AVX512VL) && (c & bit_AVX512VNNI);
    if (!cpu || !__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return false;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6) == 0xe6;
}

static void install_avx512(void)
{
    for (size_t i = 0; i < sizeof avx512_rows / sizeof avx512_rows[0]; i++) {
        fast_traits[avx512_rows[i].type].vec_dot = avx512_rows[i].vec_dot;
        fast_multi[avx512_rows[i].type] = avx512_rows[i].vec_dot_multi;
    }
    kernel_set = "avx512vnni";
}

static void install_avx2(void)
{
    for (size_t i = 0; i < sizeof avx2_rows / sizeof avx2_rows[0]; i++) {
        struct loco_type_traits *t = &fast_traits[avx2_rows[i].type];
        if (avx2_rows[i].to_float)
            t->to_float = avx2_rows[i].to_float;
        if (avx2_rows[i].from_float)
            t->from_float = avx2_rows[i].from_float;
        if (avx2_rows[i].vec_dot) {
            t->vec_dot = avx2_rows[i].vec_dot;
            fast_multi[avx2_rows[i].type] = avx2_rows[i].vec_dot_multi;
        }
    }
    kernel_set = "avx2";
}
#endif

static void init_kernels(void)
{
    memcpy(fast_traits, ref_traits, sizeof fast_traits);
    memcpy(fast_multi, ref_multi, sizeof fast_multi);
    const char *no_simd = getenv("LOCO_NO_SIMD");
    if (no_simd && no_simd[0] && strcmp(no_simd, "0") != 0)
        return;
    const char *want = getenv("LOCO_KERNELS");
    if (want && strcmp(want, "scalar") == 0)
        return;
#if LOCO_QUANT_X86
    if (!cpu_has_avx2())
        return;
    install_avx2();
    if (want && strcmp(want, "avx2") == 0)
        return;
    if (lq_cpu_has_avx512vnni())
        install_avx512();
#endif
}

void loco_quant_init(void)
{
    pthread_once(&init_once, init_kernels);
}

const char *loco_quant_kernel_set(void)
{
    loco_quant_init();
    return kernel_set;
}

static bool known(enum loco_type t)
{
    return (int)t >= 0 && (int)t < LOCO_TYPE_COUNT && ref_traits[t].name != NULL;
}

const struct loco_type_traits *loco_type_traits(enum loco_type t)
{
    loco_quant_init();
    return known(t) ? &fast_traits[t] : &unknown_traits;
}

const struct loco_type_traits *loco_type_traits_ref(enum loco_type t)
{
    return known(t) ? &ref_traits[t] : &unknown_traits;
}

lq_vec_dot_multi_fn lq_vec_dot_multi(enum loco_type t)
{
    loco_quant_init();
    return known(t) ? fast_multi[t] : NULL;
}

lq_vec_dot_multi_fn lq_vec_dot_multi_ref(enum loco_type t)
{
    return known(t) ? ref_multi[t] : NULL;
}

const char *loco_type_name(enum loco_type t)
{
    return loco_type_traits_ref(t)->name;
}

bool loco_type_valid(int t)
{
    return t >= 0 && t < LOCO_TYPE_COUNT && loco_type_traits_ref((enum loco_type)t)->block_size > 0;
}

size_t loco_type_row_size(enum loco_type t, int64_t n)
{
    const struct loco_type_traits *tr = loco_type_traits_ref(t);
    if (tr->block_size == 0 || n < 0)
        return 0;
    return (size_t)(n / tr->block_size) * tr->type_size;
}
