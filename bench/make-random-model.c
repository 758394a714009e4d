/*
 * make-random-model.c - write a random-weight GGUF with the shapes of a real
 * model, so that speed and memory can be measured at production size
 * without downloading it (bench/production-size.sh).
 *
 * Speed and memory depend on the shapes and types of the tensors, not on
 * their values, so the file has Qwen3-4B's shapes (Qwen/Qwen3-4B's
 * config.json: hidden 2560, 36 layers, 32 query heads, 8 KV heads, head dim
 * 128, FFN 9728, vocab 151936, rope theta 1e6, RMS eps 1e-6, q/k norms, tied
 * embeddings) in llama.cpp's Q4_K_M mix, and random values.
 *
 * The Q4_K_M mix, as llama.cpp's llama_tensor_get_type picks it for a
 * qwen3 model (no experts, not Falcon):
 *   token_embd   Q6_K (the embeddings are tied, so they get the output's type)
 *   attn_v       Q6_K in the layers where use_more_bits(i, n), else Q4_K
 *   ffn_down     Q6_K in the layers where use_more_bits(i, n), else Q4_K
 *   every other matrix Q4_K; norm vectors F32
 * with use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 * (for 36 layers: 0-3, 6, 9, ..., 30, and 31-35: 18 of the 36).
 *
 * Weights: quantizing 4 billion values with the reference quantizers would
 * take minutes, so each matrix gets a pool of POOL_ROWS rows of random
 * values (about N(0, 0.02^2), seeded by the tensor's name) quantized with
 * loco's reference quantizer of its type, and every row of the matrix is a
 * copy of a pool row drawn at random. Norm weights are 1. The blocks are
 * therefore valid (finite scales, as the quantizer writes them).
 *
 * The tokenizer is a byte-level BPE (gpt2 model, qwen2 pre-tokenizer) that
 * loco and llama.cpp both load: the 256 GPT-2 byte characters, a few merged
 * tokens and their merges, unique filler tokens up to Qwen's specials
 * (<|endoftext|> 151643, <|im_start|> 151644, <|im_end|> 151645), then
 * [PADn] tokens up to the vocabulary size, with a ChatML template.
 *
 * Usage: make-random-model [--tiny] [--seed N] OUT.gguf
 *   --tiny   2 layers, hidden 256, 4 heads of 64, 2 KV heads, FFN 512,
 *            vocab 1024 (about 1 MB; for tests)
 * All tensor data is held in memory until the file is written (about the
 * file's size: 2.4 GB for the full shapes).
 */
#include "loco/core.h"
#include "loco/gguf.h"
#include "loco/quant.h"
#include "loco/tokenizer.h"

#include "../src/core/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_ROWS 16
#define TOKEN_MAX 48 /* bytes for a token's text */
#define QWEN_EOT_ID 151643 /* <|endoftext|> in Qwen's vocabulary */
#define FILE_TYPE_Q4_K_M 15 /* llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M */

/* Shapes: C channels, L layers, H query heads, Hkv KV heads, D head dim,
 * F FFN width, V vocab. */
struct shapes {
    const char *name;
    int64_t C, L, H, Hkv, D, F, V, ctx;
    float rope_base, rms_eps;
};

static const struct shapes qwen3_4b = {"Qwen3-4B", 2560, 36, 32, 8, 128, 9728,
                                       151936, 40960, 1e6f, 1e-6f};
static const struct shapes tiny = {"tiny qwen3", 256, 2, 4, 2, 64, 512, 1024, 4096, 1e6f, 1e-6f};

/* Everything allocated for the writer (tensor data and token texts),
 * freed after the file is written. */
struct keep {
    void **ptrs;
    size_t n, cap;
};

static void *keep_alloc(struct keep *k, size_t bytes)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 256;
        void **p = realloc(k->ptrs, cap * sizeof *p);
        if (!p)
            return NULL;
        k->ptrs = p;
        k->cap = cap;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (p)
        k->ptrs[k->n++] = p;
    return p;
}

static void keep_free(struct keep *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->ptrs[i]);
    free(k->ptrs);
}

/* ---- the Q4_K_M rule ----------------------------------------------------- */

static bool use_more_bits(int64_t i, int64_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* ---- tensors ------------------------------------------------------------- */

/* About N(0, sigma^2): the sum of four uniforms, rescaled. */
static float gauss_ish(uint64_t *s, float sigma)
{
    float sum = 0.0f;
    for (int k = 0; k < 4; k++)
        sum += (float)(loco_splitmix64(s) >> 40) * 0x1p-24f - 0.5f;
    return sum * sigma * 1.7320508f; /* the sum has variance 4/12 */
}

static uint64_t name_seed(const char *name, uint64_t seed)
{
    uint64_t h = seed;
    for (const char *p = name; *p; p++)
        h = loco_mix64(h ^ (uint8_t)*p);
    return h;
}

/* A [n_in, n_out] matrix of type t: pool rows, then copies of them. */
static int add_matrix(struct loco_gguf_writer *w, struct keep *k, const char *name,
                      enum loco_type t, int64_t n_in, int64_t n_out, uint64_t seed)
{
    size_t row = loco_type_row_size(t, n_in);
    int64_t n_pool = n_out < POOL_ROWS ? n_out : POOL_ROWS;
    char *data = keep_alloc(k, row * (size_t)n_out);
    float *x = malloc((size_t)n_in * sizeof *x);
    const struct loco_type_traits *tr = loco_type_traits_ref(t);
    if (!data || !x || !tr->from_float) {
        free(x);
        return loco_error_set(LOCO_ERR_NOMEM, "%s: out of memory or no quantizer", name);
    }
    uint64_t s = name_seed(name, seed);
    for (int64_t r = 0; r < n_pool; r++) { /* rows 0..n_pool-1 are the pool */
        for (int64_t i = 0; i < n_in; i++)
            x[i] = gauss_ish(&s, 0.02f);
        tr->from_float(x, data + (size_t)r * row, n_in);
    }
    free(x);
    for (int64_t r = n_pool; r < n_out; r++)
        memcpy(data + (size_t)r * row, data + loco_rng_below(&s, (size_t)n_pool) * row, row);
    return loco_gguf_writer_add_tensor(w, name, t, 2, (const int64_t[]){n_in, n_out}, data);
}

/* A norm vector of n ones (F32). */
static int add_ones(struct loco_gguf_writer *w, struct keep *k, const char *name, int64_t n)
{
    float *v = keep_alloc(k, (size_t)n * sizeof *v);
    if (!v)
        return loco_error_set(LOCO_ERR_NOMEM, "%s: out of memory", name);
    for (int64_t i = 0; i < n; i++)
        v[i] = 1.0f;
    return loco_gguf_writer_add_tensor(w, name, LOCO_TYPE_F32, 1, (const int64_t[]){n}, v);
}

static int add_layer(struct loco_gguf_writer *w, struct keep *k, const struct shapes *s,
                     int64_t il, uint64_t seed)
{
    int64_t q_dim = s->H * s->D, kv_dim = s->Hkv * s->D;
    enum loco_type more = use_more_bits(il, s->L) ? LOCO_TYPE_Q6_K : LOCO_TYPE_Q4_K;
    char n[LOCO_GGUF_MAX_NAME];
#define NAME(x) (snprintf(n, sizeof n, "blk.%lld.%s", (long long)il, x), n)
    int rc;
    if ((rc = add_ones(w, k, NAME("attn_norm.weight"), s->C)) ||
        (rc = add_matrix(w, k, NAME("attn_q.weight"), LOCO_TYPE_Q4_K, s->C, q_dim, seed)) ||
        (rc = add_matrix(w, k, NAME("attn_k.weight"), LOCO_TYPE_Q4_K, s->C, kv_dim, seed)) ||
        (rc = add_matrix(w, k, NAME("attn_v.weight"), more, s->C, kv_dim, seed)) ||
        (rc = add_matrix(w, k, NAME("attn_output.weight"), LOCO_TYPE_Q4_K, q_dim, s->C, seed)) ||
        (rc = add_ones(w, k, NAME("attn_q_norm.weight"), s->D)) ||
        (rc = add_ones(w, k, NAME("attn_k_norm.weight"), s->D)) ||
        (rc = add_ones(w, k, NAME("ffn_norm.weight"), s->C)) ||
        (rc = add_matrix(w, k, NAME("ffn_gate.weight"), LOCO_TYPE_Q4_K, s->C, s->F, seed)) ||
        (rc = add_matrix(w, k, NAME("ffn_up.weight"), LOCO_TYPE_Q4_K, s->C, s->F, seed)) ||
        (rc = add_matrix(w, k, NAME("ffn_down.weight"), more, s->F, s->C, seed)))
        return rc;
#undef NAME
    return LOCO_OK;
}

static int add_tensors(struct loco_gguf_writer *w, struct keep *k, const struct shapes *s,
                       uint64_t seed)
{
    int rc = add_matrix(w, k, "token_embd.weight", LOCO_TYPE_Q6_K, s->C, s->V, seed);
    for (int64_t il = 0; rc == LOCO_OK && il < s->L; il++)
        rc = add_layer(w, k, s, il, seed);
    return rc ? rc : add_ones(w, k, "output_norm.weight", s->C);
}

/* ---- metadata ------------------------------------------------------------ */

static int set_hparams(struct loco_gguf_writer *w, const struct shapes *s)
{
    char name[96];
    snprintf(name, sizeof name, "random %s-shaped (Q4_K_M)", s->name);
    int rc;
    if ((rc = loco_gguf_writer_set_str(w, "general.architecture", "qwen3")) ||
        (rc = loco_gguf_writer_set_str(w, "general.name", name)) ||
        (rc = loco_gguf_writer_set_u32(w, "general.file_type", FILE_TYPE_Q4_K_M)) ||
        (rc = loco_gguf_writer_set_u32(w, "general.quantization_version", 2)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.context_length", (uint32_t)s->ctx)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.embedding_length", (uint32_t)s->C)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.block_count", (uint32_t)s->L)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.feed_forward_length", (uint32_t)s->F)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.attention.head_count", (uint32_t)s->H)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.attention.head_count_kv", (uint32_t)s->Hkv)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.attention.key_length", (uint32_t)s->D)) ||
        (rc = loco_gguf_writer_set_u32(w, "qwen3.attention.value_length", (uint32_t)s->D)) ||
        (rc = loco_gguf_writer_set_f32(w, "qwen3.rope.freq_base", s->rope_base)) ||
        (rc = loco_gguf_writer_set_f32(w, "qwen3.attention.layer_norm_rms_epsilon", s->rms_eps)))
        return rc;
    return LOCO_OK;
}

/* Merged tokens and the merges that make them ("Ġ" is the space). */
static const char *const merged[] = {"Ġt", "he", "in", "Ġthe", "er", "on"};
static const char *const merges[] = {"Ġ t", "h e", "i n", "Ġt he", "e r", "o n"};
#define N_MERGED (sizeof merged / sizeof merged[0])

static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

static const char chatml[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

enum { TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_UNUSED = 5 }; /* llama.cpp's numbers */

/* Fill texts[] and types[] for V tokens; specials start at `sp`. */
static int make_tokens(struct keep *k, int64_t V, int64_t sp, char **texts, int32_t *types)
{
    for (int64_t id = 0; id < V; id++) {
        char *t = keep_alloc(k, TOKEN_MAX);
        if (!t)
            return loco_error_set(LOCO_ERR_NOMEM, "out of memory for token texts");
        types[id] = TOKEN_NORMAL;
        if (id < 256)
            loco_tokenizer_byte_text((uint8_t)id, t);
        else if (id < 256 + (int64_t)N_MERGED)
            snprintf(t, TOKEN_MAX, "%s", merged[id - 256]);
        else if (id < sp)
            snprintf(t, TOKEN_MAX, "<filler%lld>", (long long)id);
        else if (id < sp + 3)
            snprintf(t, TOKEN_MAX, "%s", specials[id - sp]);
        else
            snprintf(t, TOKEN_MAX, "[PAD%lld]", (long long)id);
        if (id >= sp)
            types[id] = id < sp + 3 ? TOKEN_CONTROL : TOKEN_UNUSED;
        texts[id] = t;
    }
    return LOCO_OK;
}

static int set_tokenizer(struct loco_gguf_writer *w, struct keep *k, int64_t V)
{
    int64_t sp = V - 3 < QWEN_EOT_ID ? V - 3 : QWEN_EOT_ID;
    char **texts = keep_alloc(k, (size_t)V * sizeof *texts);
    int32_t *types = keep_alloc(k, (size_t)V * sizeof *types);
    if (!texts || !types)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %lld tokens", (long long)V);
    int rc = make_tokens(k, V, sp, texts, types);
    if (rc ||
        (rc = loco_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2")) ||
        (rc = loco_gguf_writer_set_str(w, "tokenizer.ggml.pre", "qwen2")) ||
        (rc = loco_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)texts,
                                           (uint64_t)V)) ||
        (rc = loco_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", LOCO_GGUF_INT32, types,
                                       (uint64_t)V)) ||
        (rc = loco_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, N_MERGED)) ||
        (rc = loco_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)sp)) ||
        (rc = loco_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)sp + 2)) ||
        (rc = loco_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)sp)) ||
        (rc = loco_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false)) ||
        (rc = loco_gguf_writer_set_str(w, "tokenizer.chat_template", chatml)))
        return rc;
    return LOCO_OK;
}

/* ---- main ---------------------------------------------------------------- */

static int write_model(const struct shapes *s, uint64_t seed, const char *path)
{
    struct keep k = {0};
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    int rc = w ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    if (rc == LOCO_OK && !(rc = set_hparams(w, s)) && !(rc = set_tokenizer(w, &k, s->V)) &&
        !(rc = add_tensors(w, &k, s, seed)))
        rc = loco_gguf_writer_write(w, path);
    loco_gguf_writer_free(w);
    keep_free(&k);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: make-random-model [--tiny] [--seed N] OUT.gguf\n");
    return 2;
}

int main(int argc, char **argv)
{
    const struct shapes *s = &qwen3_4b;
    uint64_t seed = 1;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--tiny") == 0) {
            s = &tiny;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            i++;
            seed = strtoull(argv[i], &end, 10);
            if (end == argv[i] || *end || argv[i][0] == '-')
                return usage();
        } else if (argv[i][0] == '-' || out) {
            return usage();
        } else {
            out = argv[i];
        }
    }
    if (!out)
        return usage();
    if (write_model(s, seed, out) != LOCO_OK) {
        fprintf(stderr, "make-random-model: %s\n", loco_error_message());
        return 1;
    }
    printf("%s: %s shapes, %lld layers, Q4_K_M mix, seed %llu\n", out, s->name, (long long)s->L,
           (unsigned long long)seed);
    return 0;
}
