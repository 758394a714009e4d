/*
 * peft_export.c - GGUF adapter -> PEFT folder (see loco/peft.h): the
 * inverse of peft.c.
 *
 * The steps undo the import's one by one: check the adapter (with the
 * loader, against the base when there is one); collect its pairs
 * "blk.N.<stem>.weight.lora_a/b" by layer and projection; copy each tensor's
 * rows as they are stored (or converted to the type asked for), since a
 * GGUF lora_a ([n_in, R] in ne) and lora_b ([R, n_out]) hold exactly PEFT's
 * lora_A [R][n_in] and lora_B [n_out][R] bytes; for llama put B's q/k rows
 * back in Hugging Face order; write adapter_model.safetensors and
 * adapter_config.json. Rows are moved as bytes, so an F16 adapter exported
 * as F16 and imported again as F16 comes back bit for bit.
 *
 * Legend: C n_embd, H n_head, Hkv n_head_kv, D head_dim, F n_ff, R rank.
 */
#include "loco/peft.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "loco/fileio.h"
#include "loco/gguf.h"
#include "loco/models.h"
#include "loco/safetensors.h"

#define EXPORT_MAX_LAYERS 65536
#define EXPORT_ALPHA_MAX 65536.0 /* the loader's limit on adapter.lora.alpha */

/* Hugging Face module paths inside a decoder layer, by target. */
static const char *const hf_module[LOCO_LORA_N_TARGETS] = {
    [LOCO_LORA_Q] = "self_attn.q_proj", [LOCO_LORA_K] = "self_attn.k_proj",
    [LOCO_LORA_V] = "self_attn.v_proj", [LOCO_LORA_O] = "self_attn.o_proj",
    [LOCO_LORA_GATE] = "mlp.gate_proj", [LOCO_LORA_UP] = "mlp.up_proj",
    [LOCO_LORA_DOWN] = "mlp.down_proj",
};

/* ---- the q/k rows back in Hugging Face order ------------------------------ */

/* rows [n_out][row_bytes]: within each head of D = n_out / n_head rows,
 * new j = old 2j and new j + D/2 = old 2j + 1 (the converter's
 * (D/2, 2) -> (2, D/2) reshape undone). */
static int unpermute_bytes(unsigned char *rows, int64_t n_out, size_t row_bytes, int32_t n_head)
{
    if (!rows || n_head <= 0 || row_bytes == 0 || n_out <= 0 || n_out % (2 * (int64_t)n_head))
        return loco_error_set(LOCO_ERR_INVALID,
                              "cannot un-permute %" PRId64 " rows for %d heads "
                              "(rows must split into heads of an even size)",
                              n_out, n_head);
    int64_t D = n_out / n_head, half = D / 2;
    unsigned char *head = malloc((size_t)D * row_bytes); /* [D][row_bytes] copy of one head */
    if (!head)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory un-permuting %" PRId64 " rows", n_out);
    for (int32_t h = 0; h < n_head; h++) {
        unsigned char *dst = rows + (size_t)h * (size_t)D * row_bytes;
        memcpy(head, dst, (size_t)D * row_bytes);
        for (int64_t j = 0; j < half; j++) {
            memcpy(dst + (size_t)j * row_bytes, head + (size_t)(2 * j) * row_bytes, row_bytes);
            memcpy(dst + (size_t)(j + half) * row_bytes, head + (size_t)(2 * j + 1) * row_bytes,
                   row_bytes);
        }
    }
    free(head);
    return LOCO_OK;
}

int loco_peft_unpermute_rows(float *rows, int64_t n_out, int64_t n_cols, int32_t n_head)
{
    if (n_cols <= 0)
        return loco_error_set(LOCO_ERR_INVALID, "cannot un-permute rows of %" PRId64 " columns",
                              n_cols);
    return unpermute_bytes((unsigned char *)rows, n_out, (size_t)n_cols * sizeof(float), n_head);
}

/* ---- adapter_config.json --------------------------------------------------- */

static cJSON *target_list(unsigned targets)
{
    cJSON *list = cJSON_CreateArray();
    for (int t = 0; list && t < LOCO_LORA_N_TARGETS; t++) {
        if (!(targets & LOCO_LORA_TARGET_BIT(t)))
            continue;
        const char *module = strchr(hf_module[t], '.') + 1; /* "q_proj" */
        cJSON *s = cJSON_CreateString(module);
        if (!s || !cJSON_AddItemToArray(list, s)) {
            cJSON_Delete(s);
            cJSON_Delete(list);
            return NULL;
        }
    }
    return list;
}

/* The config as a JSON object, keys in sorted order (PEFT's json.dumps
 * sort_keys). NULL on out of memory. */
static cJSON *config_object(const struct loco_peft_config *c)
{
    cJSON *j = cJSON_CreateObject(), *targets = target_list(c->targets);
    bool ok =
        j && targets && cJSON_AddObjectToObject(j, "alpha_pattern") &&
        cJSON_AddNullToObject(j, "auto_mapping") &&
        cJSON_AddStringToObject(j, "base_model_name_or_path", c->base_model) &&
        cJSON_AddStringToObject(j, "bias", "none") && cJSON_AddFalseToObject(j, "fan_in_fan_out") &&
        cJSON_AddTrueToObject(j, "inference_mode") &&
        cJSON_AddTrueToObject(j, "init_lora_weights") &&
        cJSON_AddNullToObject(j, "layers_pattern") &&
        cJSON_AddNullToObject(j, "layers_to_transform") &&
        cJSON_AddNumberToObject(j, "lora_alpha", (double)c->lora_alpha) &&
        cJSON_AddNumberToObject(j, "lora_dropout", 0.0) &&
        cJSON_AddNullToObject(j, "modules_to_save") &&
        cJSON_AddStringToObject(j, "peft_type", "LORA") && cJSON_AddNumberToObject(j, "r", c->r) &&
        cJSON_AddObjectToObject(j, "rank_pattern") && cJSON_AddNullToObject(j, "revision");
    if (ok) {
        ok = cJSON_AddItemToObject(j, "target_modules", targets);
        targets = NULL; /* owned by j now, or freed below when the add failed */
    }
    ok = ok && cJSON_AddStringToObject(j, "task_type", "CAUSAL_LM") &&
         cJSON_AddFalseToObject(j, "use_dora") &&
         cJSON_AddBoolToObject(j, "use_rslora", c->use_rslora);
    cJSON_Delete(targets);
    if (!ok) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

int loco_peft_config_format(const struct loco_peft_config *c, char **out)
{
    if (!c || !out)
        return loco_error_set(LOCO_ERR_INVALID, "loco_peft_config_format: c and out required");
    *out = NULL;
    if (c->r < 1 || !isfinite(c->lora_alpha) || c->lora_alpha <= 0 || !c->targets ||
        (c->targets & ~LOCO_LORA_ALL_TARGETS))
        return loco_error_set(LOCO_ERR_INVALID,
                              "a PEFT config needs r >= 1 (have %d), lora_alpha > 0 (have %g) "
                              "and at least one of the seven projections as targets",
                              c->r, (double)c->lora_alpha);
    cJSON *j = config_object(c);
    *out = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory for a PEFT config");
}

/* ---- collecting the pairs --------------------------------------------------- */

struct export_pair {
    const struct loco_gguf_tensor *a, *b; /* ne [n_in, R] and [R, n_out] */
};

struct export_state {
    const char *path; /* the adapter file */
    const struct loco_model *base;
    struct loco_gguf *g;
    bool llama;
    int32_t n_layer;           /* 1 + the largest layer named */
    struct export_pair *slots; /* [n_layer][LOCO_LORA_N_TARGETS] */
    int32_t n_pairs, rank;
    unsigned targets;
    struct loco_peft_config cfg; /* what adapter_config.json says */
    void **bufs;                 /* [2 * n_slots] tensors as written, NULL where none */
};

/* "blk.N.<stem>.weight.lora_a" -> N, target, is_b. 1: a norm pair the
 * loader skips too; LOCO_ERR_UNSUPPORTED for anything else. */
static int parse_tensor_name(const struct export_state *s, const char *name, int32_t *layer,
                             enum loco_lora_target *tg, bool *is_b)
{
    int il = -1, used = 0;
    char stem[64], half = 0;
    if (sscanf(name, "blk.%d.%63[a-z_].weight.lora_%c%n", &il, stem, &half, &used) == 3 &&
        name[used] == '\0' && (half == 'a' || half == 'b') && il >= 0 && il < EXPORT_MAX_LAYERS) {
        size_t n = strlen(stem);
        if (n >= 5 && strcmp(stem + n - 5, "_norm") == 0)
            return 1;
        if (loco_lora_target_parse(stem, tg) == LOCO_OK) {
            *layer = il;
            *is_b = half == 'b';
            loco_error_clear();
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_UNSUPPORTED,
                          "%s: tensor %s is not the lora_a/lora_b of a q, k, v, o, gate, up or "
                          "down projection; only those can be exported",
                          s->path, name);
}

static int check_half(const struct export_state *s, const struct loco_gguf_tensor *t)
{
    if (t->type != LOCO_TYPE_F32 && t->type != LOCO_TYPE_F16 && t->type != LOCO_TYPE_BF16)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s: %s is stored as %s; LocoLLM reads adapters stored as F32, "
                              "F16 or BF16 only and does not dequantize them, so it cannot "
                              "export this one; convert the adapter from its source again with "
                              "an f16 or f32 output type",
                              s->path, t->name, loco_type_name(t->type));
    if (t->n_dims != 2 || t->ne[0] <= 0 || t->ne[1] <= 0)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: %s is not a 2-dimensional matrix", s->path,
                              t->name);
    return LOCO_OK;
}

static int place_tensor(struct export_state *s, const struct loco_gguf_tensor *t)
{
    int32_t il = 0;
    enum loco_lora_target tg = LOCO_LORA_Q;
    bool is_b = false;
    int rc = parse_tensor_name(s, t->name, &il, &tg, &is_b);
    if (rc == 1)
        return LOCO_OK;
    if (!rc)
        rc = check_half(s, t);
    if (rc)
        return rc;
    struct export_pair *p = &s->slots[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg];
    const struct loco_gguf_tensor **half = is_b ? &p->b : &p->a;
    if (*half)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: %s appears twice", s->path, t->name);
    *half = t;
    return LOCO_OK;
}

/* Both halves, A's rank = B's rank, one rank for the whole adapter. */
static int check_pair(struct export_state *s, int32_t il, enum loco_lora_target tg)
{
    const struct export_pair *p = &s->slots[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg];
    const char *stem = loco_lora_target_tensor(tg);
    if (!p->a || !p->b)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: blk.%d.%s.weight has lora_%s but not lora_%s",
                              s->path, il, stem, p->a ? "a" : "b", p->a ? "b" : "a");
    int64_t r = p->a->ne[1];
    if (p->b->ne[0] != r || r > INT32_MAX)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: blk.%d.%s.weight: lora_a has rank %" PRId64
                              " but lora_b has rank %" PRId64,
                              s->path, il, stem, r, p->b->ne[0]);
    if (s->rank && r != s->rank)
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s: its pairs have ranks %d and %" PRId64 " (blk.%d.%s.weight); a "
                              "PEFT adapter_config.json holds one r, and per-module ranks "
                              "(rank_pattern) are not exported",
                              s->path, s->rank, r, il, stem);
    s->rank = (int32_t)r;
    s->targets |= LOCO_LORA_TARGET_BIT(tg);
    s->n_pairs++;
    return LOCO_OK;
}

static int collect_pairs(struct export_state *s)
{
    int64_t n = loco_gguf_n_tensors(s->g);
    for (int64_t i = 0; i < n; i++) { /* the layer count first */
        int32_t il = 0;
        enum loco_lora_target tg;
        bool is_b;
        int rc = parse_tensor_name(s, loco_gguf_tensor(s->g, i)->name, &il, &tg, &is_b);
        if (rc < 0)
            return rc;
        if (rc == LOCO_OK && il + 1 > s->n_layer)
            s->n_layer = il + 1;
    }
    size_t n_slots = (size_t)s->n_layer * LOCO_LORA_N_TARGETS;
    s->slots = calloc(n_slots ? n_slots : 1, sizeof *s->slots);
    s->bufs = calloc(2 * (n_slots ? n_slots : 1), sizeof *s->bufs);
    if (!s->slots || !s->bufs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %zu LoRA pairs", n_slots);
    for (int64_t i = 0; i < n; i++) {
        int rc = place_tensor(s, loco_gguf_tensor(s->g, i));
        if (rc)
            return rc;
    }
    for (int32_t il = 0; il < s->n_layer; il++)
        for (int tg = 0; tg < LOCO_LORA_N_TARGETS; tg++) {
            const struct export_pair *p = &s->slots[(size_t)il * LOCO_LORA_N_TARGETS + tg];
            int rc = p->a || p->b ? check_pair(s, il, (enum loco_lora_target)tg) : LOCO_OK;
            if (rc)
                return rc;
        }
    if (!s->n_pairs)
        return loco_error_set(LOCO_ERR_FORMAT, "%s has no LoRA tensors", s->path);
    return LOCO_OK;
}

/* ---- the adapter's metadata -> the config ---------------------------------- */

static int check_header(struct export_state *s)
{
    char buf[64], arch[32];
    if (loco_gguf_get_str_buf(s->g, "general.type", buf, sizeof buf) != LOCO_OK ||
        strcmp(buf, "adapter") != 0 ||
        loco_gguf_get_str_buf(s->g, "adapter.type", buf, sizeof buf) != LOCO_OK ||
        strcmp(buf, "lora") != 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s is not a LoRA adapter (general.type \"adapter\" and "
                              "adapter.type \"lora\" expected)",
                              s->path);
    if (loco_gguf_get_str_buf(s->g, "general.architecture", arch, sizeof arch) != LOCO_OK)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: general.architecture is missing", s->path);
    s->llama =
        s->base ? loco_model_hparams(s->base)->arch == LOCO_ARCH_LLAMA : strcmp(arch, "llama") == 0;
    loco_error_clear();
    return LOCO_OK;
}

/* adapter.lora.alpha (0 when absent) -> lora_alpha and use_rslora. An
 * import of an rsLoRA adapter stored alpha * sqrt(r) and recorded the
 * original; that is given back when it reproduces the stored alpha exactly
 * (the way loco_peft_config_parse computes it). */
static int config_alpha(struct export_state *s)
{
    double alpha = 0;
    int rc = loco_gguf_get_f64(s->g, "adapter.lora.alpha", &alpha);
    if (rc != LOCO_OK && rc != LOCO_ERR_NOT_FOUND)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: adapter.lora.alpha is not a number", s->path);
    if (!isfinite(alpha) || alpha < 0 || alpha > EXPORT_ALPHA_MAX)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: adapter.lora.alpha = %g is not usable", s->path,
                              alpha);
    /* alpha 0 means a scale of 1 (loco/lora.h); PEFT's lora_alpha / r = 1 */
    s->cfg.lora_alpha = alpha > 0 ? (float)alpha : (float)s->rank;
    char rs[16], la[64];
    if (loco_gguf_get_str_buf(s->g, "locollm.peft.use_rslora", rs, sizeof rs) == LOCO_OK &&
        strcmp(rs, "true") == 0 &&
        loco_gguf_get_str_buf(s->g, "locollm.peft.lora_alpha", la, sizeof la) == LOCO_OK) {
        char *end;
        float orig = strtof(la, &end);
        if (*end == '\0' && isfinite(orig) && orig > 0 &&
            (float)((double)orig * sqrt((double)s->rank)) == (float)alpha) {
            s->cfg.lora_alpha = orig;
            s->cfg.use_rslora = true;
        }
    }
    loco_error_clear();
    return LOCO_OK;
}

/* Where base_model_name_or_path comes from when the caller gives none, in
 * order: what an import recorded; the Hugging Face repository the base GGUF
 * was converted from (llama.cpp's converter records it); LocoLLM's name of
 * the base; the base's own name. */
static const struct {
    bool of_base; /* a key of the base model's file, not the adapter's */
    const char *key;
} base_model_keys[] = {
    {false, "locollm.peft.base_model"}, {true, "general.source.huggingface.repository"},
    {true, "general.source.url"}, /* "https://huggingface.co/ORG/NAME" only */
    {false, "locollm.base.name"},       {true, "general.name"},
};

static void config_base_model(struct export_state *s, const char *given)
{
    static const char hf[] = "https://huggingface.co/";
    size_t hf_len = sizeof hf - 1, cap = sizeof s->cfg.base_model;
    char *out = s->cfg.base_model;
    snprintf(out, cap, "%s", given ? given : "");
    for (size_t i = 0; !out[0] && i < sizeof base_model_keys / sizeof base_model_keys[0]; i++) {
        const char *key = base_model_keys[i].key;
        const struct loco_gguf *g = !base_model_keys[i].of_base ? s->g
                                    : s->base                   ? loco_model_gguf(s->base)
                                                                : NULL;
        if (!g || loco_gguf_get_str_buf(g, key, out, cap) != LOCO_OK)
            out[0] = '\0';
        else if (strcmp(key, "general.source.url") == 0 && strncmp(out, hf, hf_len) != 0)
            out[0] = '\0';
        else if (strcmp(key, "general.source.url") == 0)
            memmove(out, out + hf_len, strlen(out + hf_len) + 1);
    }
    loco_error_clear();
}

/* ---- the tensors as written ------------------------------------------------- */

static enum loco_st_dtype st_dtype(enum loco_type t)
{
    return t == LOCO_TYPE_F32 ? LOCO_ST_F32 : t == LOCO_TYPE_F16 ? LOCO_ST_F16 : LOCO_ST_BF16;
}

/* One value of `row` stored as `to` at dst. */
static void store(float v, enum loco_type to, unsigned char *dst)
{
    if (to == LOCO_TYPE_F32) {
        memcpy(dst, &v, 4);
        return;
    }
    uint16_t h = to == LOCO_TYPE_F16 ? loco_fp32_to_fp16(v) : loco_fp32_to_bf16(v);
    memcpy(dst, &h, 2);
}

/* t's rows [ne1][ne0] as `to` into a new buffer; every value must be
 * finite. Rows stored in `to` already are copied byte for byte. */
static int convert_tensor(const struct export_state *s, const struct loco_gguf_tensor *t,
                          enum loco_type to, unsigned char **out)
{
    int64_t rows = t->ne[1], cols = t->ne[0];
    size_t in_row = loco_type_row_size(t->type, cols), out_row = loco_type_row_size(to, cols);
    unsigned char *buf = malloc((size_t)rows * out_row);
    float *row = malloc((size_t)cols * sizeof *row);
    int rc = buf && row ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory exporting");
    const struct loco_type_traits *tr = loco_type_traits(t->type);
    for (int64_t r = 0; !rc && r < rows; r++) {
        const unsigned char *src = (const unsigned char *)t->data + (size_t)r * in_row;
        unsigned char *dst = buf + (size_t)r * out_row;
        tr->to_float(src, row, cols);
        for (int64_t c = 0; !rc && c < cols; c++)
            if (!isfinite(row[c]))
                rc = loco_error_set(LOCO_ERR_FORMAT,
                                    "%s: %s holds %g at row %" PRId64 ", column %" PRId64
                                    "; an adapter's weights must be finite",
                                    s->path, t->name, (double)row[c], r, c);
        if (!rc && to == t->type)
            memcpy(dst, src, in_row);
        for (int64_t c = 0; !rc && to != t->type && c < cols; c++)
            store(row[c], to, dst + (size_t)c * loco_type_row_size(to, 1));
    }
    free(row);
    if (rc)
        free(buf);
    *out = rc ? NULL : buf;
    return rc;
}

/* Convert pair (il, tg) into bufs and add it to the writer. */
static int add_pair(struct export_state *s, struct loco_safetensors_writer *w, int32_t il,
                    enum loco_lora_target tg, enum loco_type type, unsigned *dtypes)
{
    size_t slot = (size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg;
    const struct loco_gguf_tensor *half[2] = {s->slots[slot].a, s->slots[slot].b};
    for (int h = 0; h < 2; h++) {
        const struct loco_gguf_tensor *t = half[h];
        enum loco_type to = type == LOCO_PEFT_EXPORT_AS_STORED ? t->type : type;
        unsigned char *buf = NULL;
        int rc = convert_tensor(s, t, to, &buf);
        s->bufs[2 * slot + (size_t)h] = buf;
        bool qk = h == 1 && s->llama && (tg == LOCO_LORA_Q || tg == LOCO_LORA_K);
        if (!rc && qk) {
            const struct loco_hparams *hp = loco_model_hparams(s->base);
            rc = unpermute_bytes(buf, t->ne[1], loco_type_row_size(to, t->ne[0]),
                                 tg == LOCO_LORA_Q ? hp->n_head : hp->n_head_kv);
        }
        char name[256];
        snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_%c.weight", il,
                 hf_module[tg], h ? 'B' : 'A');
        int64_t shape[2] = {t->ne[1], t->ne[0]}; /* A [R][n_in], B [n_out][R] */
        if (!rc)
            rc = loco_safetensors_writer_add(w, name, st_dtype(to), 2, shape, buf);
        if (rc)
            return rc;
        *dtypes |= 1u << st_dtype(to);
    }
    return LOCO_OK;
}

/* ---- the folder ------------------------------------------------------------- */

static int check_dir(const char *dir, bool overwrite)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return errno == ENOENT
                   ? LOCO_OK
                   : loco_error_set(LOCO_ERR_IO, "cannot use %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return loco_error_set(LOCO_ERR_INVALID, "%s exists and is not a folder", dir);
    DIR *d = opendir(dir);
    if (!d)
        return loco_error_set(LOCO_ERR_IO, "cannot read the folder %s: %s", dir, strerror(errno));
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty && !overwrite)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s is not empty; export into a new or empty folder, or allow "
                              "replacing adapter_config.json and adapter_model.safetensors "
                              "there (--force)",
                              dir);
    return LOCO_OK;
}

static int folder_file(char *buf, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(buf, cap, "%s/%s", dir, file);
    return n > 0 && (size_t)n < cap
               ? LOCO_OK
               : loco_error_set(LOCO_ERR_RANGE, "the folder path %.100s... is too long", dir);
}

/* adapter_model.safetensors, then adapter_config.json, each atomically. */
static int write_folder(struct export_state *s, const char *dir, enum loco_type type,
                        unsigned *dtypes, size_t *bytes)
{
    char st_path[4096], cfg_path[4096];
    int rc = folder_file(st_path, sizeof st_path, dir, "adapter_model.safetensors");
    if (!rc)
        rc = folder_file(cfg_path, sizeof cfg_path, dir, "adapter_config.json");
    struct loco_safetensors_writer *w = NULL;
    if (!rc) {
        w = loco_safetensors_writer_init(); /* NULL: out of memory, message set */
        rc = w ? loco_safetensors_writer_set_metadata(w, "format", "pt") : LOCO_ERR_NOMEM;
    }
    for (int32_t il = 0; !rc && il < s->n_layer; il++)
        for (int tg = 0; !rc && tg < LOCO_LORA_N_TARGETS; tg++)
            if (s->slots[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg].a)
                rc = add_pair(s, w, il, (enum loco_lora_target)tg, type, dtypes);
    char *json = NULL;
    if (!rc)
        rc = loco_peft_config_format(&s->cfg, &json);
    if (!rc)
        rc = loco_models_mkdirs(dir);
    if (!rc)
        rc = loco_safetensors_writer_write(w, st_path);
    if (!rc)
        rc = loco_file_write_atomic(cfg_path, json, strlen(json));
    struct stat sb;
    *bytes = !rc && stat(st_path, &sb) == 0 ? (size_t)sb.st_size : 0;
    free(json);
    loco_safetensors_writer_free(w);
    return rc;
}

/* ---- the export --------------------------------------------------------------- */

struct loco_peft_export_params loco_peft_export_default_params(void)
{
    return (struct loco_peft_export_params){.type = LOCO_PEFT_EXPORT_AS_STORED};
}

static int check_args(const char *gguf_path, const char *dir,
                      const struct loco_peft_export_params *p)
{
    if (!gguf_path || !dir || !dir[0] || !p)
        return loco_error_set(LOCO_ERR_INVALID,
                              "loco_peft_export: gguf_path, dir and params are required");
    if (p->type != LOCO_TYPE_F32 && p->type != LOCO_TYPE_F16 && p->type != LOCO_TYPE_BF16 &&
        p->type != LOCO_PEFT_EXPORT_AS_STORED)
        return loco_error_set(LOCO_ERR_INVALID,
                              "PEFT tensors are exported as f32, f16 or bf16, not %s",
                              loco_type_name(p->type));
    return check_dir(dir, p->overwrite);
}

/* The loader's checks against the base (architecture, sha256, shapes,
 * finite values); its message is kept. */
static int check_with_loader(const char *path, const struct loco_model *base)
{
    struct loco_adapter *a = loco_adapter_load(path, base);
    if (!a)
        return LOCO_ERR_FORMAT;
    loco_adapter_free(a);
    return LOCO_OK;
}

static int open_adapter(struct export_state *s)
{
    s->g = loco_gguf_open(s->path);
    if (!s->g)
        return LOCO_ERR_FORMAT;
    int rc = check_header(s);
    if (!rc)
        rc = collect_pairs(s);
    if (!rc && s->llama && !s->base &&
        (s->targets & (LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_K))))
        rc = loco_error_set(LOCO_ERR_INVALID,
                            "%s is a llama adapter of q or k: un-permuting lora_B's rows needs "
                            "the head counts of its base model; give the base model",
                            s->path);
    return rc;
}

static void fill_result(const struct export_state *s, const char *dir, unsigned dtypes,
                        size_t bytes, struct loco_peft_export_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->n_pairs = s->n_pairs;
    r->rank = s->rank;
    r->lora_alpha = s->cfg.lora_alpha;
    r->use_rslora = s->cfg.use_rslora;
    r->targets = s->targets;
    r->unpermuted_qk =
        s->llama &&
        (s->targets & (LOCO_LORA_TARGET_BIT(LOCO_LORA_Q) | LOCO_LORA_TARGET_BIT(LOCO_LORA_K)));
    snprintf(r->base_model, sizeof r->base_model, "%s", s->cfg.base_model);
    for (int d = 0; d < LOCO_ST_DTYPE_COUNT; d++) {
        size_t n = strlen(r->dtypes);
        if (dtypes & (1u << d))
            snprintf(r->dtypes + n, sizeof r->dtypes - n, "%s%s", n ? "," : "",
                     loco_st_dtype_name((enum loco_st_dtype)d));
    }
    r->bytes = bytes;
}

int loco_peft_export(const char *gguf_path, const struct loco_model *base, const char *dir,
                     const struct loco_peft_export_params *p,
                     struct loco_peft_export_result *result)
{
    struct export_state s = {.path = gguf_path, .base = base};
    unsigned dtypes = 0;
    size_t bytes = 0;
    int rc = check_args(gguf_path, dir, p);
    if (!rc && base)
        rc = check_with_loader(gguf_path, base);
    if (!rc)
        rc = open_adapter(&s);
    if (!rc) {
        s.cfg.r = s.rank;
        s.cfg.targets = s.targets;
        rc = config_alpha(&s);
    }
    if (!rc) {
        config_base_model(&s, p->base_model);
        rc = write_folder(&s, dir, p->type, &dtypes, &bytes);
    }
    if (!rc && result)
        fill_result(&s, dir, dtypes, bytes, result);
    for (size_t i = 0; s.bufs && i < 2 * (size_t)s.n_layer * LOCO_LORA_N_TARGETS; i++)
        free(s.bufs[i]);
    free(s.bufs);
    free(s.slots);
    loco_gguf_close(s.g);
    return rc;
}
