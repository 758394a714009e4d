/*
 * info.c - the facts `loco models info` shows about a GGUF: what the model
 * is (architecture, name, license), how big (tensors, parameters, bytes per
 * quant type), its shape (context, embedding, layers, heads, vocab) and how
 * to talk to it (tokenizer kind and pre-tokenizer, chat template family).
 *
 * Everything comes from the GGUF reader (loco/gguf.h); the template family
 * from the tokenizer module's detector, so `info` says what `loco ask`
 * will use.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "loco/gguf.h"
#include "loco/tokenizer.h"
#include "models_internal.h"

/* <arch>.<suffix> as an unsigned count; 0 when absent. A per-layer array
 * (some architectures store head counts that way) gives its largest value. */
static uint64_t arch_u64(const struct loco_gguf *g, const char *arch, const char *suffix)
{
    char key[160];
    uint64_t v = 0;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = loco_gguf_get_u64(g, key, &v);
    if (rc == LOCO_OK)
        return v;
    if (rc != LOCO_ERR_NOT_FOUND)
        loco_error_clear();
    int64_t kv = loco_gguf_find_key(g, key);
    if (kv < 0 || loco_gguf_kv_type(g, kv) != LOCO_GGUF_ARRAY)
        return 0;
    uint64_t best = 0;
    for (uint64_t i = 0; i < loco_gguf_arr_len(g, kv); i++) {
        int64_t x = loco_gguf_arr_int(g, kv, i);
        if (x > 0 && (uint64_t)x > best)
            best = (uint64_t)x;
    }
    return best;
}

static void get_str(const struct loco_gguf *g, const char *key, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (loco_gguf_get_str_buf(g, key, buf, cap) != LOCO_OK)
        loco_error_clear();
}

/* Tensor count, parameters and bytes per type. */
static void tally_tensors(const struct loco_gguf *g, struct loco_models_info *out)
{
    int64_t count[LOCO_TYPE_COUNT] = {0};
    uint64_t bytes[LOCO_TYPE_COUNT] = {0};
    out->n_tensors = loco_gguf_n_tensors(g);
    for (int64_t i = 0; i < out->n_tensors; i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(g, i);
        uint64_t n = 1;
        for (uint32_t d = 0; d < LOCO_GGUF_MAX_DIMS; d++)
            n *= (uint64_t)t->ne[d];
        out->n_params += n;
        if ((int)t->type >= 0 && t->type < LOCO_TYPE_COUNT) {
            count[t->type]++;
            bytes[t->type] += t->size;
        }
    }
    for (int ty = 0; ty < LOCO_TYPE_COUNT; ty++) {
        if (!count[ty])
            continue;
        struct loco_models_type_use *u = &out->types[out->n_types++];
        u->type = (enum loco_type)ty;
        u->n_tensors = count[ty];
        u->n_bytes = bytes[ty];
    }
}

/* Tokenizer facts and the chat template family. */
static void tokenizer_facts(const struct loco_gguf *g, struct loco_models_info *out)
{
    get_str(g, "tokenizer.ggml.model", out->tokenizer_model, sizeof out->tokenizer_model);
    get_str(g, "tokenizer.ggml.pre", out->tokenizer_pre, sizeof out->tokenizer_pre);
    if (!out->vocab_size) {
        int64_t kv = loco_gguf_find_key(g, "tokenizer.ggml.tokens");
        out->vocab_size = kv >= 0 ? loco_gguf_arr_len(g, kv) : 0;
    }
    struct loco_str tmpl;
    snprintf(out->chat_template, sizeof out->chat_template, "none");
    if (loco_gguf_get_str(g, "tokenizer.chat_template", &tmpl) != LOCO_OK) {
        loco_error_clear();
        return;
    }
    out->has_chat_template = true;
    char *text = malloc(tmpl.len + 1);
    if (!text)
        return;
    memcpy(text, tmpl.ptr, tmpl.len);
    text[tmpl.len] = '\0';
    snprintf(out->chat_template, sizeof out->chat_template, "%s",
             loco_chat_name(loco_chat_detect(text)));
    free(text);
}

static void match_known(struct loco_models_info *out)
{
    char copy[LOCO_MODELS_PATH_MAX];
    memcpy(copy, out->path, sizeof copy);
    const char *file = basename(copy);
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        if (strcmp(file, k->gguf_file) == 0 && out->file_size == k->gguf_size)
            out->known = k;
    }
}

int loco_models_info(const char *path, struct loco_models_info *out)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    if (stat(path, &st) != 0)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no such file: %s", path);
    int rc = models_copy(out->path, sizeof out->path, path);
    if (rc)
        return rc;
    struct loco_gguf *g = loco_gguf_open(path);
    if (!g)
        return LOCO_ERR_FORMAT; /* the reader's message names the field */
    out->file_size = (uint64_t)st.st_size;
    out->gguf_version = loco_gguf_version(g);
    get_str(g, "general.architecture", out->architecture, sizeof out->architecture);
    get_str(g, "general.name", out->name, sizeof out->name);
    get_str(g, "general.license", out->license, sizeof out->license);
    int64_t ftype = -1;
    if (loco_gguf_get_i64(g, "general.file_type", &ftype) != LOCO_OK)
        loco_error_clear();
    out->file_type = ftype;
    tally_tensors(g, out);
    const char *a = out->architecture;
    out->context_length = arch_u64(g, a, "context_length");
    out->embedding_length = arch_u64(g, a, "embedding_length");
    out->feed_forward_length = arch_u64(g, a, "feed_forward_length");
    out->block_count = arch_u64(g, a, "block_count");
    out->head_count = arch_u64(g, a, "attention.head_count");
    out->head_count_kv = arch_u64(g, a, "attention.head_count_kv");
    out->head_dim = arch_u64(g, a, "attention.key_length");
    if (out->head_dim == 0 && out->head_count)
        out->head_dim = out->embedding_length / out->head_count;
    out->vocab_size = arch_u64(g, a, "vocab_size");
    tokenizer_facts(g, out);
    match_known(out);
    loco_gguf_close(g);
    return LOCO_OK;
}

/* ---- JSON --------------------------------------------------------------- */

static void add_types(cJSON *o, const struct loco_models_info *info)
{
    cJSON *types = cJSON_AddArrayToObject(o, "types");
    for (size_t i = 0; types && i < info->n_types; i++) {
        const struct loco_models_type_use *u = &info->types[i];
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "type", loco_type_name(u->type));
        cJSON_AddNumberToObject(t, "tensors", (double)u->n_tensors);
        cJSON_AddNumberToObject(t, "bytes", (double)u->n_bytes);
        cJSON_AddItemToArray(types, t);
    }
}

char *loco_models_info_json(const struct loco_models_info *info)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "path", info->path);
    cJSON_AddNumberToObject(o, "file_size", (double)info->file_size);
    cJSON_AddNumberToObject(o, "gguf_version", info->gguf_version);
    cJSON_AddStringToObject(o, "architecture", info->architecture);
    cJSON_AddStringToObject(o, "name", info->name);
    cJSON_AddStringToObject(o, "license", info->license);
    cJSON_AddNumberToObject(o, "file_type", (double)info->file_type);
    cJSON_AddNumberToObject(o, "tensors", (double)info->n_tensors);
    cJSON_AddNumberToObject(o, "parameters", (double)info->n_params);
    add_types(o, info);
    cJSON_AddNumberToObject(o, "context_length", (double)info->context_length);
    cJSON_AddNumberToObject(o, "embedding_length", (double)info->embedding_length);
    cJSON_AddNumberToObject(o, "feed_forward_length", (double)info->feed_forward_length);
    cJSON_AddNumberToObject(o, "block_count", (double)info->block_count);
    cJSON_AddNumberToObject(o, "head_count", (double)info->head_count);
    cJSON_AddNumberToObject(o, "head_count_kv", (double)info->head_count_kv);
    cJSON_AddNumberToObject(o, "head_dim", (double)info->head_dim);
    cJSON_AddNumberToObject(o, "vocab_size", (double)info->vocab_size);
    cJSON_AddStringToObject(o, "tokenizer_model", info->tokenizer_model);
    cJSON_AddStringToObject(o, "tokenizer_pre", info->tokenizer_pre);
    cJSON_AddStringToObject(o, "chat_template", info->chat_template);
    if (info->known)
        cJSON_AddStringToObject(o, "known_as", info->known->name);
    else
        cJSON_AddNullToObject(o, "known_as");
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}
