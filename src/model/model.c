/*
 * model.c - load a GGUF model: hyperparameters and tensor binding.
 *
 * Matrices stay in the mapping; norm and bias vectors (a few KB per layer)
 * are dequantized into one f32 block so the forward pass never has to care
 * about their storage type. Every shape is checked against the
 * hyperparameters here, so the forward pass can trust them.
 * Key names and per-architecture rules: docs/model.md.
 */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arch_info {
    const char *name;
    enum loco_arch arch;
    enum loco_rope_type rope;
};

/* Adding an architecture starts with one row here. */
static const struct arch_info arch_table[] = {
    {"llama", LOCO_ARCH_LLAMA, LOCO_ROPE_NORM},
    {"qwen2", LOCO_ARCH_QWEN2, LOCO_ROPE_NEOX},
    {"qwen3", LOCO_ARCH_QWEN3, LOCO_ROPE_NEOX},
    {"gemma3", LOCO_ARCH_GEMMA3, LOCO_ROPE_NEOX},
};

struct loco_model_params loco_model_default_params(void)
{
    struct loco_model_params p = {
        .matmul_mode = LOCO_MATMUL_QUANT_ACT,
        .gelu_fp16 = false,
        .load_tokenizer = true,
    };
    return p;
}

/* ---- hyperparameters --------------------------------------------------- */

static int key_u32(const struct loco_gguf *g, const char *arch, const char *suffix, bool required,
                   uint32_t dflt, int32_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v = dflt;
    int rc = loco_gguf_get_u32(g, key, &v);
    if (rc == LOCO_ERR_NOT_FOUND) {
        /* per-layer arrays: accept when every layer agrees */
        int64_t kv = loco_gguf_find_key(g, key);
        if (kv >= 0 && loco_gguf_kv_type(g, kv) == LOCO_GGUF_ARRAY && loco_gguf_arr_len(g, kv)) {
            int64_t first = loco_gguf_arr_int(g, kv, 0);
            for (uint64_t i = 1; i < loco_gguf_arr_len(g, kv); i++)
                if (loco_gguf_arr_int(g, kv, i) != first)
                    return loco_error_set(LOCO_ERR_UNSUPPORTED,
                                          "%s varies per layer, which is not supported", key);
            v = (uint32_t)first;
            rc = LOCO_OK;
        } else if (required) {
            return loco_error_set(LOCO_ERR_FORMAT, "required key %s is missing", key);
        } else {
            rc = LOCO_OK;
        }
    }
    if (rc != LOCO_OK)
        return rc;
    if (v > INT32_MAX)
        return loco_error_set(LOCO_ERR_RANGE, "%s = %u is out of range", key, v);
    *out = (int32_t)v;
    return LOCO_OK;
}

/* A float hyperparameter <arch>.<suffix> (dflt when absent) that must lie
 * in [lo, hi] (lo itself excluded when lo_open): a NaN rope base or a
 * negative epsilon would otherwise load and turn every logit into NaN. */
struct f32_key {
    const char *suffix;
    float dflt, lo, hi;
    bool lo_open;
};

/* The value of a float key as stored (an f64 is not narrowed first, so a
 * message shows 1e+300 as written, not as the inf it would become). */
static int key_double(const struct loco_gguf *g, const char *key, double dflt, double *out)
{
    *out = dflt;
    int rc = loco_gguf_get_f64(g, key, out);
    if (rc == LOCO_ERR_NOT_FOUND)
        return LOCO_OK;
    if (rc != LOCO_OK)
        loco_error_prefix("%s is not a float", key); /* the reader names its type */
    return rc == LOCO_OK ? LOCO_OK : LOCO_ERR_FORMAT;
}

static int key_f32(const struct loco_gguf *g, const char *arch, struct f32_key k, float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k.suffix);
    double v;
    int rc = key_double(g, key, k.dflt, &v);
    if (rc != LOCO_OK)
        return rc;
    if (!isfinite(v) || v < k.lo || (k.lo_open && v == k.lo) || v > k.hi)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s = %g is out of range; expected a finite number in %c%g, %g]",
                              key, v, k.lo_open ? '(' : '[', (double)k.lo, (double)k.hi);
    *out = (float)v;
    return LOCO_OK;
}

/* The float hyperparameters and their sane ranges. */
static int read_floats(const struct loco_gguf *g, struct loco_hparams *hp)
{
    const char *a = hp->arch_name;
    const float big = 1e12f;
    float factor = 0.0f, linear = 1.0f;
    int rc;
    if ((rc = key_f32(g, a, (struct f32_key){"attention.layer_norm_rms_epsilon", 1e-5f, 0, 1, true},
                      &hp->rms_eps)) ||
        (rc = key_f32(g, a, (struct f32_key){"rope.freq_base", 10000.0f, 0, big, true},
                      &hp->rope_base)) ||
        (rc = key_f32(g, a, (struct f32_key){"rope.freq_base_swa", 10000.0f, 0, big, true},
                      &hp->rope_base_swa)) ||
        (rc = key_f32(g, a, (struct f32_key){"rope.scaling.factor", 0.0f, 0, big, false},
                      &factor)) ||
        (rc = key_f32(g, a, (struct f32_key){"rope.scale_linear", 1.0f, 0, big, false},
                      &linear)) ||
        (rc = key_f32(g, a, (struct f32_key){"final_logit_softcapping", 0.0f, 0, big, false},
                      &hp->final_softcap)) ||
        (rc = key_f32(g, a, (struct f32_key){"attention.scale", 0.0f, 0, big, false},
                      &hp->attn_scale)))
        return rc;
    if (factor == 0.0f)
        factor = linear;
    hp->rope_freq_scale = factor > 0.0f ? 1.0f / factor : 1.0f;
    if (hp->attn_scale == 0.0f)
        hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    return LOCO_OK;
}

static int read_arch(const struct loco_gguf *g, struct loco_hparams *hp, enum loco_rope_type *rope)
{
    if (loco_gguf_get_str_buf(g, "general.architecture", hp->arch_name, sizeof hp->arch_name))
        return loco_error_set(LOCO_ERR_FORMAT, "general.architecture is missing");
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++) {
        if (strcmp(hp->arch_name, arch_table[i].name) == 0) {
            hp->arch = arch_table[i].arch;
            *rope = arch_table[i].rope;
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_UNSUPPORTED,
                          "architecture '%s' is not supported (supported: llama, qwen2, qwen3, "
                          "gemma3)",
                          hp->arch_name);
}

static int read_hparams(const struct loco_gguf *g, struct loco_hparams *hp)
{
    enum loco_rope_type rope = LOCO_ROPE_NORM;
    int rc = read_arch(g, hp, &rope);
    if (rc)
        return rc;
    const char *a = hp->arch_name;
    hp->rope_type = rope;
    if ((rc = key_u32(g, a, "context_length", true, 0, &hp->n_ctx_train)) ||
        (rc = key_u32(g, a, "embedding_length", true, 0, &hp->n_embd)) ||
        (rc = key_u32(g, a, "block_count", true, 0, &hp->n_layer)) ||
        (rc = key_u32(g, a, "feed_forward_length", true, 0, &hp->n_ff)) ||
        (rc = key_u32(g, a, "attention.head_count", true, 0, &hp->n_head)))
        return rc;
    if ((rc = key_u32(g, a, "attention.head_count_kv", false, (uint32_t)hp->n_head,
                      &hp->n_head_kv)))
        return rc;
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 || hp->n_head_kv <= 0 ||
        hp->n_ff <= 0 || hp->n_head % hp->n_head_kv != 0 || hp->n_layer > 4096)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "implausible hyperparameters: n_embd %d, n_layer %d, n_head %d, "
                              "n_head_kv %d, n_ff %d",
                              hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff);
    int32_t dflt_dim = hp->n_embd / hp->n_head, dim_v = 0;
    if ((rc = key_u32(g, a, "attention.key_length", false, (uint32_t)dflt_dim, &hp->head_dim)) ||
        (rc = key_u32(g, a, "attention.value_length", false, (uint32_t)hp->head_dim, &dim_v)) ||
        (rc = key_u32(g, a, "rope.dimension_count", false, (uint32_t)hp->head_dim, &hp->n_rot)))
        return rc;
    if (dim_v != hp->head_dim || hp->head_dim <= 0 || hp->n_rot <= 0 || hp->n_rot > hp->head_dim ||
        hp->n_rot % 2)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "head dims key %d / value %d / rope %d are not supported",
                              hp->head_dim, dim_v, hp->n_rot);
    if ((rc = read_floats(g, hp)))
        return rc;
    hp->embd_scale = 1.0f;
    hp->n_swa = 0;
    hp->swa_pattern = 1;
    if (hp->arch == LOCO_ARCH_GEMMA3) {
        /* llama.cpp hard-codes these for gemma3 (docs/model.md, gemma3) */
        hp->embd_scale = sqrtf((float)hp->n_embd);
        if (hp->n_layer == 62)
            hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
        if ((rc = key_u32(g, a, "attention.sliding_window", false, 0, &hp->n_swa)) ||
            (rc = key_u32(g, a, "attention.sliding_window_pattern", false, 6, &hp->swa_pattern)))
            return rc;
        if (hp->swa_pattern <= 0)
            hp->swa_pattern = 1;
    }
    return LOCO_OK;
}

/* ---- tensors ----------------------------------------------------------- */

static int bind_matrix(const struct loco_gguf *g, const char *name, int64_t n_in, int64_t n_out,
                       bool required, struct loco_weight *w)
{
    const struct loco_gguf_tensor *t = loco_gguf_find_tensor(g, name);
    memset(w, 0, sizeof *w);
    if (!t)
        return required ? loco_error_set(LOCO_ERR_FORMAT, "tensor %s is missing", name) : LOCO_OK;
    if (t->n_dims > 2 || t->ne[0] != n_in || t->ne[1] != n_out)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor %s has shape [%lld, %lld], expected [%lld, %lld]", name,
                              (long long)t->ne[0], (long long)t->ne[1], (long long)n_in,
                              (long long)n_out);
    if (!loco_type_traits(t->type)->to_float || !loco_type_traits(t->type)->vec_dot)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "tensor %s has type %s, which has no kernels",
                              name, loco_type_name(t->type));
    w->data = t->data;
    w->type = t->type;
    w->n_in = n_in;
    w->n_out = n_out;
    return LOCO_OK;
}

/* Dequantize a vector tensor of n elements into *dst (carved from `pool`). */
static int bind_vector(const struct loco_gguf *g, const char *name, int64_t n, bool required,
                       float **pool, float **dst)
{
    const struct loco_gguf_tensor *t = loco_gguf_find_tensor(g, name);
    *dst = NULL;
    if (!t)
        return required ? loco_error_set(LOCO_ERR_FORMAT, "tensor %s is missing", name) : LOCO_OK;
    if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
        return loco_error_set(LOCO_ERR_FORMAT, "tensor %s has %lld elements, expected %lld", name,
                              (long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]),
                              (long long)n);
    if (loco_get_row(t->data, t->type, n, 0, *pool))
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "tensor %s has unsupported type %s", name,
                              loco_type_name(t->type));
    for (int64_t i = 0; i < n; i++)
        if (!isfinite((*pool)[i]))
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "tensor %s holds %g at element %lld; norm weights and biases "
                                  "must be finite",
                                  name, (double)(*pool)[i], (long long)i);
    *dst = *pool;
    *pool += n;
    return LOCO_OK;
}

static size_t f32_pool_size(const struct loco_hparams *hp)
{
    size_t per_layer = 4 * (size_t)hp->n_embd + 2 * (size_t)hp->head_dim +
                       (size_t)(hp->n_head + 2 * hp->n_head_kv) * (size_t)hp->head_dim;
    return (size_t)hp->n_embd + per_layer * (size_t)hp->n_layer;
}

static int bind_layer(struct loco_model *m, int il, float **pool)
{
    const struct loco_gguf *g = m->gguf;
    const struct loco_hparams *hp = &m->hp;
    struct loco_layer *L = &m->layers[il];
    int64_t C = hp->n_embd, D = hp->head_dim, q_dim = (int64_t)hp->n_head * D;
    int64_t kv_dim = (int64_t)hp->n_head_kv * D;
    bool gemma = hp->arch == LOCO_ARCH_GEMMA3, qk_norm = gemma || hp->arch == LOCO_ARCH_QWEN3;
    char n[LOCO_GGUF_MAX_NAME + 32];
    int rc = 0;
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", il, s), n)
    if ((rc = bind_vector(g, NAME("attn_norm.weight"), C, true, pool, &L->attn_norm)) ||
        (rc = bind_vector(g, NAME("ffn_norm.weight"), C, true, pool, &L->ffn_norm)) ||
        (rc = bind_vector(g, NAME("attn_q_norm.weight"), D, qk_norm, pool, &L->q_norm)) ||
        (rc = bind_vector(g, NAME("attn_k_norm.weight"), D, qk_norm, pool, &L->k_norm)) ||
        (rc = bind_vector(g, NAME("post_attention_norm.weight"), C, gemma, pool,
                          &L->post_attn_norm)) ||
        (rc = bind_vector(g, NAME("post_ffw_norm.weight"), C, gemma, pool, &L->post_ffw_norm)) ||
        (rc = bind_vector(g, NAME("attn_q.bias"), q_dim, false, pool, &L->bq)) ||
        (rc = bind_vector(g, NAME("attn_k.bias"), kv_dim, false, pool, &L->bk)) ||
        (rc = bind_vector(g, NAME("attn_v.bias"), kv_dim, false, pool, &L->bv)) ||
        (rc = bind_matrix(g, NAME("attn_q.weight"), C, q_dim, true, &L->wq)) ||
        (rc = bind_matrix(g, NAME("attn_k.weight"), C, kv_dim, true, &L->wk)) ||
        (rc = bind_matrix(g, NAME("attn_v.weight"), C, kv_dim, true, &L->wv)) ||
        (rc = bind_matrix(g, NAME("attn_output.weight"), q_dim, C, true, &L->wo)) ||
        (rc = bind_matrix(g, NAME("ffn_gate.weight"), C, hp->n_ff, true, &L->gate)) ||
        (rc = bind_matrix(g, NAME("ffn_up.weight"), C, hp->n_ff, true, &L->up)) ||
        (rc = bind_matrix(g, NAME("ffn_down.weight"), hp->n_ff, C, true, &L->down)))
        return rc;
#undef NAME
    L->local = hp->n_swa > 0 && (il % hp->swa_pattern) < hp->swa_pattern - 1;
    L->rope_base = L->local ? hp->rope_base_swa : hp->rope_base;
    L->rope_scale = L->local ? 1.0f : hp->rope_freq_scale;
    return LOCO_OK;
}

static int bind_tensors(struct loco_model *m)
{
    struct loco_hparams *hp = &m->hp;
    const struct loco_gguf_tensor *emb = loco_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!emb)
        return loco_error_set(LOCO_ERR_FORMAT, "tensor token_embd.weight is missing");
    hp->n_vocab = (int32_t)emb->ne[1];
    int rc = bind_matrix(m->gguf, "token_embd.weight", hp->n_embd, hp->n_vocab, true,
                         &m->tok_embd);
    if (rc)
        return rc;
    if ((rc = bind_matrix(m->gguf, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output)))
        return rc;
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output)
        m->output = m->tok_embd;
    m->f32_block = malloc(f32_pool_size(hp) * sizeof(float));
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->f32_block || !m->layers)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory binding %d layers", hp->n_layer);
    float *pool = m->f32_block;
    if ((rc = bind_vector(m->gguf, "output_norm.weight", hp->n_embd, true, &pool,
                          &m->output_norm)))
        return rc;
    for (int il = 0; il < hp->n_layer; il++)
        if ((rc = bind_layer(m, il, &pool)))
            return rc;
    return LOCO_OK;
}

/* ---- public ------------------------------------------------------------ */

struct loco_model *loco_model_load(const char *path, struct loco_model_params params)
{
    loco_quant_init();
    struct loco_model *m = calloc(1, sizeof *m);
    if (!m) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory loading %s", path);
        return NULL;
    }
    m->params = params;
    m->gguf = loco_gguf_open(path);
    int rc = m->gguf ? LOCO_OK : LOCO_ERR_FORMAT;
    if (!rc)
        rc = read_hparams(m->gguf, &m->hp);
    if (!rc)
        rc = bind_tensors(m);
    if (!rc && params.load_tokenizer && loco_gguf_find_key(m->gguf, "tokenizer.ggml.model") >= 0) {
        m->tokenizer = loco_tokenizer_init(m->gguf);
        if (!m->tokenizer)
            rc = LOCO_ERR_FORMAT;
    }
    if (rc) {
        if (m->gguf)
            loco_error_prefix("%s", path);
        loco_model_free(m);
        return NULL;
    }
    return m;
}

void loco_model_free(struct loco_model *m)
{
    if (!m)
        return;
    loco_tokenizer_free(m->tokenizer);
    free(m->layers);
    free(m->f32_block);
    loco_gguf_close(m->gguf);
    free(m);
}

const struct loco_hparams *loco_model_hparams(const struct loco_model *m)
{
    return &m->hp;
}

const struct loco_gguf *loco_model_gguf(const struct loco_model *m)
{
    return m->gguf;
}

const struct loco_tokenizer *loco_model_tokenizer(const struct loco_model *m)
{
    return m->tokenizer;
}

static size_t weight_bytes(const struct loco_weight *w)
{
    return w->data ? loco_type_row_size(w->type, w->n_in) * (size_t)w->n_out : 0;
}

size_t loco_model_weight_bytes_per_token(const struct loco_model *m)
{
    size_t total = weight_bytes(&m->output) + loco_type_row_size(m->tok_embd.type, m->hp.n_embd);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const struct loco_layer *L = &m->layers[il];
        total += weight_bytes(&L->wq) + weight_bytes(&L->wk) + weight_bytes(&L->wv) +
                 weight_bytes(&L->wo) + weight_bytes(&L->gate) + weight_bytes(&L->up) +
                 weight_bytes(&L->down);
    }
    return total;
}

size_t loco_model_weight_bytes(const struct loco_model *m)
{
    size_t total = 0;
    for (int64_t i = 0; i < loco_gguf_n_tensors(m->gguf); i++)
        total += loco_gguf_tensor(m->gguf, i)->size;
    return total;
}

uint64_t loco_model_n_params(const struct loco_model *m)
{
    uint64_t total = 0;
    for (int64_t i = 0; i < loco_gguf_n_tensors(m->gguf); i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(m->gguf, i);
        total += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return total;
}
