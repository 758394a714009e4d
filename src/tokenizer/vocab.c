/*
 * vocab.c - building a tokenizer from a GGUF's tokenizer.* metadata.
 *
 * docs/tokenizer.md. Everything the tokenizer needs is copied out of the
 * file (token texts into one arena, merges into another), so the GGUF can
 * be closed as soon as loco_tokenizer_init returns. Besides the arrays,
 * loading settles the defaults that differ by vocabulary kind (BOS/EOS
 * ids, add_bos, add_space_prefix), finds the <0xHH> byte tokens, marks the
 * end-of-generation set, and lists the special tokens longest first for
 * the splitter in tokenizer.c.
 */
#include "tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB_MAX_TOKENS ((uint64_t)1 << 24)
#define VOCAB_MAX_TOKEN_LEN ((size_t)1 << 16)
#define VOCAB_MAX_ARENA ((size_t)1 << 31)

/* Texts llama.cpp takes for an end-of-turn token when eot_token_id is
 * absent, in order of preference (docs/tokenizer.md). */
static const char *const eot_texts[] = {
    "<|eot_id|>",    "<|im_end|>",      "<|end|>", "<end_of_turn>",
    "<|endoftext|>", "<|end_of_text|>", "<EOT>",   NULL,
};

/* Texts that end generation wherever they appear (docs/tokenizer.md). */
static const char *const eog_texts[] = {
    "<|eot_id|>",    "<|im_end|>",      "<|end|>", "<end_of_turn>",
    "<|endoftext|>", "<|end_of_text|>", "<EOT>",   "</s>",
    "<|eom_id|>",    "<eos>",           NULL,
};

/* Id keys whose tokens also end generation. */
static const char *const eog_id_keys[] = {
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
    NULL,
};

/* ---- reading arrays ------------------------------------------------------ */

/* Index of the array `key` with element type `type` and n elements (n = 0:
 * any length, returned in *n). -1 when absent (not an error unless
 * `required`). */
static int find_array(const struct loco_gguf *g, const char *key, enum loco_gguf_type type,
                      bool required, uint64_t *n, int64_t *kv_out)
{
    int64_t kv = loco_gguf_find_key(g, key);
    *kv_out = -1;
    if (kv < 0)
        return required ? loco_error_set(LOCO_ERR_FORMAT, "tokenizer: %s is missing", key)
                        : LOCO_OK;
    bool numeric = type != LOCO_GGUF_STRING;
    enum loco_gguf_type et = loco_gguf_arr_type(g, kv);
    bool ok = loco_gguf_kv_type(g, kv) == LOCO_GGUF_ARRAY &&
              (numeric ? et != LOCO_GGUF_STRING && et != LOCO_GGUF_ARRAY : et == type);
    if (!ok)
        return loco_error_set(LOCO_ERR_TYPE, "tokenizer: %s is not an array of %s", key,
                              loco_gguf_type_name(type));
    uint64_t len = loco_gguf_arr_len(g, kv);
    if (*n && len != *n)
        return loco_error_set(LOCO_ERR_FORMAT, "tokenizer: %s has %llu entries, expected %llu", key,
                              (unsigned long long)len, (unsigned long long)*n);
    *n = len;
    *kv_out = kv;
    return LOCO_OK;
}

/* Copy n strings of array kv into one NUL-separated arena; offsets and
 * lengths go to off/len when given. */
static int copy_strings(const struct loco_gguf *g, int64_t kv, uint64_t n, char **arena,
                        uint32_t *off, uint32_t *len)
{
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct loco_str s = loco_gguf_arr_str(g, kv, i);
        if (!s.ptr || s.len > VOCAB_MAX_TOKEN_LEN || total > VOCAB_MAX_ARENA)
            return loco_error_set(LOCO_ERR_FORMAT, "tokenizer: %s[%llu] is unreadable or too long",
                                  loco_gguf_kv_key(g, kv), (unsigned long long)i);
        total += s.len + 1;
    }
    *arena = malloc(total ? total : 1);
    if (!*arena)
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", total);
    size_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        struct loco_str s = loco_gguf_arr_str(g, kv, i);
        memcpy(*arena + at, s.ptr, s.len);
        (*arena)[at + s.len] = '\0';
        if (off) {
            off[i] = (uint32_t)at;
            len[i] = (uint32_t)s.len;
        }
        at += s.len + 1;
    }
    return LOCO_OK;
}

/* ---- the vocabulary ------------------------------------------------------ */

static int load_kind(struct loco_tokenizer *t, const struct loco_gguf *g)
{
    char model[64];
    int rc = loco_gguf_get_str_buf(g, "tokenizer.ggml.model", model, sizeof model);
    if (rc == LOCO_ERR_NOT_FOUND)
        return loco_error_set(LOCO_ERR_FORMAT, "tokenizer: tokenizer.ggml.model is missing");
    if (rc != LOCO_OK)
        return rc;
    if (strcmp(model, "llama") == 0)
        t->kind = LOCO_VOCAB_SPM;
    else if (strcmp(model, "gpt2") == 0)
        t->kind = LOCO_VOCAB_BPE;
    else
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "tokenizer: tokenizer.ggml.model \"%s\" is not supported "
                              "(known: llama, gpt2)",
                              model);
    return LOCO_OK;
}

static int load_tokens(struct loco_tokenizer *t, const struct loco_gguf *g)
{
    uint64_t n = 0;
    int64_t kv;
    int rc = find_array(g, "tokenizer.ggml.tokens", LOCO_GGUF_STRING, true, &n, &kv);
    if (rc != LOCO_OK)
        return rc;
    if (n == 0 || n > VOCAB_MAX_TOKENS)
        return loco_error_set(LOCO_ERR_FORMAT, "tokenizer: %llu tokens is out of range",
                              (unsigned long long)n);
    t->n_vocab = (int32_t)n;
    t->text_off = malloc(n * sizeof *t->text_off);
    t->text_len = malloc(n * sizeof *t->text_len);
    t->scores = calloc(n, sizeof *t->scores);
    t->attr = malloc(n);
    t->eog = calloc(n, 1);
    if (!t->text_off || !t->text_len || !t->scores || !t->attr || !t->eog)
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for %llu tokens",
                              (unsigned long long)n);
    return copy_strings(g, kv, n, &t->arena, t->text_off, t->text_len);
}

/* Scores (SPM) and token types; both optional, defaulting to 0 / NORMAL. */
static int load_scores_types(struct loco_tokenizer *t, const struct loco_gguf *g)
{
    uint64_t n = (uint64_t)t->n_vocab;
    int64_t kv;
    int rc = find_array(g, "tokenizer.ggml.scores", LOCO_GGUF_FLOAT32, false, &n, &kv);
    for (int32_t i = 0; rc == LOCO_OK && kv >= 0 && i < t->n_vocab; i++)
        t->scores[i] = (float)loco_gguf_arr_float(g, kv, (uint64_t)i);
    if (rc == LOCO_OK)
        rc = find_array(g, "tokenizer.ggml.token_type", LOCO_GGUF_INT32, false, &n, &kv);
    for (int32_t i = 0; rc == LOCO_OK && i < t->n_vocab; i++) {
        int64_t a = kv >= 0 ? loco_gguf_arr_int(g, kv, (uint64_t)i) : LOCO_TOKEN_NORMAL;
        t->attr[i] = (uint8_t)(a >= LOCO_TOKEN_UNDEFINED && a <= LOCO_TOKEN_BYTE ? a : 0);
    }
    return rc;
}

static int build_token_map(struct loco_tokenizer *t)
{
    int rc = loco_tok_map_init(&t->token_map, (size_t)t->n_vocab);
    for (int32_t i = 0; rc == LOCO_OK && i < t->n_vocab; i++) /* a repeated text: last wins */
        rc = loco_tok_map_put(&t->token_map, loco_tok_text(t, i), t->text_len[i], i, true);
    return rc;
}

/* An id from `key`, or `fallback` when absent; ids outside the vocabulary
 * (such as 0xFFFFFFFF for "none") count as absent. */
static int32_t read_id(const struct loco_tokenizer *t, const struct loco_gguf *g, const char *key,
                       int32_t fallback)
{
    int64_t v = -1;
    int rc = loco_gguf_get_i64(g, key, &v);
    if (rc == LOCO_ERR_NOT_FOUND)
        v = fallback;
    else if (rc != LOCO_OK)
        loco_error_clear();
    return v >= 0 && v < t->n_vocab ? (int32_t)v : -1;
}

static bool read_flag(const struct loco_gguf *g, const char *key, bool fallback)
{
    bool v = fallback;
    if (loco_gguf_get_bool(g, key, &v) != LOCO_OK) {
        loco_error_clear();
        return fallback;
    }
    return v;
}

/* Special ids and flags, with the defaults in docs/tokenizer.md. */
static void load_settings(struct loco_tokenizer *t, const struct loco_gguf *g, bool pre_add_bos)
{
    bool spm = t->kind == LOCO_VOCAB_SPM;
    t->bos = read_id(t, g, "tokenizer.ggml.bos_token_id", spm ? 1 : -1);
    t->eos = read_id(t, g, "tokenizer.ggml.eos_token_id", spm ? 2 : -1);
    t->unk = read_id(t, g, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1);
    t->eot = read_id(t, g, "tokenizer.ggml.eot_token_id", -1);
    t->eom = read_id(t, g, "tokenizer.ggml.eom_token_id", -1);
    t->add_bos = read_flag(g, "tokenizer.ggml.add_bos_token", spm || pre_add_bos);
    t->add_eos = read_flag(g, "tokenizer.ggml.add_eos_token", false);
    t->add_space_prefix = read_flag(g, "tokenizer.ggml.add_space_prefix", spm);
}

/* BPE merges: "left right" -> rank, the rank being the line number. */
static int load_merges(struct loco_tokenizer *t, const struct loco_gguf *g)
{
    uint64_t n = 0;
    int64_t kv;
    int rc = find_array(g, "tokenizer.ggml.merges", LOCO_GGUF_STRING, true, &n, &kv);
    if (rc == LOCO_OK && n > VOCAB_MAX_TOKENS)
        return loco_error_set(LOCO_ERR_FORMAT, "tokenizer: too many merges");
    uint32_t *off = malloc((n ? n : 1) * sizeof *off), *len = malloc((n ? n : 1) * sizeof *len);
    if (rc == LOCO_OK && (!off || !len))
        rc = loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory for merges");
    if (rc == LOCO_OK)
        rc = copy_strings(g, kv, n, &t->merge_arena, off, len);
    if (rc == LOCO_OK)
        rc = loco_tok_map_init(&t->merge_map, (size_t)n);
    for (uint64_t i = 0; rc == LOCO_OK && i < n; i++) /* a repeated merge: first wins */
        rc = loco_tok_map_put(&t->merge_map, t->merge_arena + off[i], len[i], (int32_t)i, false);
    free(off);
    free(len);
    return rc;
}

/* The pre-tokenizer named by tokenizer.ggml.pre; missing means "default"
 * (docs/tokenizer.md), unknown is an error. */
static int load_pretok(struct loco_tokenizer *t, const struct loco_gguf *g, bool *pre_add_bos)
{
    char pre[128];
    int rc = loco_gguf_get_str_buf(g, "tokenizer.ggml.pre", pre, sizeof pre);
    if (rc != LOCO_OK && rc != LOCO_ERR_NOT_FOUND)
        return rc;
    loco_tok_bpe_byte_map(t);
    return loco_tok_pretok_init(rc == LOCO_OK ? pre : NULL, &t->pretok, &t->ignore_merges,
                                pre_add_bos);
}

/* ---- derived tables ------------------------------------------------------ */

/* <0xHH> tokens, or for SPM the one-byte text when that is missing. */
static void find_byte_tokens(struct loco_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id = loco_tok_map_get(&t->token_map, name, 6);
        char c = (char)b;
        if (id < 0 && t->kind == LOCO_VOCAB_SPM)
            id = loco_tok_map_get(&t->token_map, &c, 1);
        t->byte_token[b] = id;
    }
}

/* A token found by its text to be an end token becomes CONTROL if it was a
 * plain one, so that it is matched as special and not printed. */
static void make_control(struct loco_tokenizer *t, int32_t id)
{
    if (t->attr[id] == LOCO_TOKEN_NORMAL || t->attr[id] == LOCO_TOKEN_UNDEFINED)
        t->attr[id] = LOCO_TOKEN_CONTROL;
}

static void mark_eog(struct loco_tokenizer *t, const struct loco_gguf *g)
{
    for (int i = 0; t->eot < 0 && eot_texts[i]; i++) {
        t->eot = loco_tokenizer_find(t, eot_texts[i]);
        if (t->eot >= 0)
            make_control(t, t->eot);
    }
    for (int i = 0; eog_texts[i]; i++) {
        int32_t id = loco_tokenizer_find(t, eog_texts[i]);
        if (id >= 0) {
            t->eog[id] = 1;
            make_control(t, id);
        }
    }
    int32_t ids[3] = {t->eos, t->eot, t->eom};
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0)
            t->eog[ids[i]] = 1;
    for (int i = 0; eog_id_keys[i]; i++) {
        int32_t id = read_id(t, g, eog_id_keys[i], -1);
        if (id >= 0)
            t->eog[id] = 1;
    }
}

struct len_id {
    uint32_t len;
    int32_t id;
};

static int by_length_desc(const void *a, const void *b)
{
    const struct len_id *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first (ties by
 * id), for the special-token splitter (docs/tokenizer.md). */
static int collect_specials(struct loco_tokenizer *t)
{
    struct len_id *tmp = malloc((size_t)t->n_vocab * sizeof *tmp);
    t->specials = malloc((size_t)t->n_vocab * sizeof *t->specials);
    if (!tmp || !t->specials) {
        free(tmp);
        return loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory");
    }
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t a = t->attr[i];
        bool special =
            a == LOCO_TOKEN_CONTROL || a == LOCO_TOKEN_USER_DEFINED || a == LOCO_TOKEN_UNKNOWN;
        if (special && t->text_len[i] > 0)
            tmp[n++] = (struct len_id){t->text_len[i], i};
    }
    qsort(tmp, (size_t)n, sizeof *tmp, by_length_desc);
    for (int32_t i = 0; i < n; i++)
        t->specials[i] = tmp[i].id;
    t->n_specials = n;
    free(tmp);
    return LOCO_OK;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int load_all(struct loco_tokenizer *t, const struct loco_gguf *g)
{
    bool pre_add_bos = false;
    int rc = load_kind(t, g);
    if (rc == LOCO_OK)
        rc = load_tokens(t, g);
    if (rc == LOCO_OK)
        rc = load_scores_types(t, g);
    if (rc == LOCO_OK)
        rc = build_token_map(t);
    if (rc == LOCO_OK && t->kind == LOCO_VOCAB_BPE)
        rc = load_merges(t, g);
    if (rc == LOCO_OK && t->kind == LOCO_VOCAB_BPE)
        rc = load_pretok(t, g, &pre_add_bos);
    if (rc != LOCO_OK)
        return rc;
    load_settings(t, g, pre_add_bos);
    find_byte_tokens(t);
    mark_eog(t, g);
    return collect_specials(t);
}

struct loco_tokenizer *loco_tokenizer_init(const struct loco_gguf *g)
{
    if (!g) {
        loco_error_set(LOCO_ERR_INVALID, "tokenizer: no GGUF given");
        return NULL;
    }
    struct loco_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        loco_error_set(LOCO_ERR_NOMEM, "tokenizer: out of memory");
        return NULL;
    }
    if (load_all(t, g) != LOCO_OK) {
        loco_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void loco_tokenizer_free(struct loco_tokenizer *t)
{
    if (!t)
        return;
    free(t->arena);
    free(t->text_off);
    free(t->text_len);
    free(t->scores);
    free(t->attr);
    free(t->eog);
    loco_tok_map_free(&t->token_map);
    free(t->specials);
    free(t->merge_arena);
    loco_tok_map_free(&t->merge_map);
    loco_tok_pretok_free(t->pretok);
    free(t);
}
