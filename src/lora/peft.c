/*
 * peft.c - PEFT LoRA folder -> GGUF adapter (see loco/peft.h).
 *
 * The steps mirror llama.cpp's convert_lora_to_gguf.py (docs/formats/lora.md):
 * read adapter_config.json and refuse what a plain LoRA file cannot say;
 * map each safetensors tensor name to (layer, projection, A or B); check
 * that both halves are there with rank r and the base's shapes; apply the
 * llama q/k head permutation to B's rows; write with loco_adapter_write().
 *
 * Legend: C n_embd, H n_head, Hkv n_head_kv, D head_dim, F n_ff, R rank.
 */
#include "loco/peft.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/util.h"
#include "loco/gguf.h"
#include "loco/models.h"
#include "loco/safetensors.h"

#define PEFT_MAX_CONFIG (1u << 20) /* adapter_config.json is a few hundred bytes */
#define PEFT_MAX_RANK 65536

/* ---- adapter_config.json ------------------------------------------------- */

/* A field that must be absent, false, null, "none" or empty. */
static bool json_off(const cJSON *j)
{
    if (!j || cJSON_IsNull(j) || cJSON_IsFalse(j))
        return true;
    if (cJSON_IsString(j))
        return j->valuestring[0] == '\0' || strcmp(j->valuestring, "none") == 0;
    if (cJSON_IsArray(j) || cJSON_IsObject(j))
        return cJSON_GetArraySize(j) == 0;
    return false;
}

static int config_refusals(const cJSON *root, const char *label)
{
    static const struct {
        const char *key, *why;
    } refused[] = {
        {"rank_pattern", "per-module ranks cannot be stored in one adapter (a single alpha/r)"},
        {"alpha_pattern", "per-module alphas cannot be stored in one adapter (a single alpha)"},
        {"use_dora", "DoRA adds magnitude vectors that a LoRA file cannot hold"},
        {"lora_bias", "LoRA biases cannot be stored in a GGUF LoRA adapter"},
        {"bias", "trained biases cannot be stored in a GGUF LoRA adapter"},
        {"modules_to_save", "full copies of modules (often embed_tokens / lm_head) are not "
                            "LoRA pairs"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!json_off(cJSON_GetObjectItemCaseSensitive(root, refused[i].key)))
            return loco_error_set(LOCO_ERR_UNSUPPORTED,
                                  "%s: \"%s\" is set: %s; retrain without "
                                  "it",
                                  label, refused[i].key, refused[i].why);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "peft_type");
    if (t && (!cJSON_IsString(t) || strcmp(t->valuestring, "LORA") != 0))
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s: \"peft_type\" is %s%s%s; only LORA "
                              "adapters can be imported",
                              label, cJSON_IsString(t) ? "\"" : "",
                              cJSON_IsString(t) ? t->valuestring : "not a string",
                              cJSON_IsString(t) ? "\"" : "");
    return LOCO_OK;
}

static int config_numbers(const cJSON *root, const char *label, struct loco_peft_config *c)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "r");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "lora_alpha");
    if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) || r->valuedouble < 1 ||
        r->valuedouble > PEFT_MAX_RANK)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: \"r\" is %s; expected the LoRA rank, an "
                              "integer in [1, %d]",
                              label, r ? "malformed or out of range" : "missing", PEFT_MAX_RANK);
    if (!cJSON_IsNumber(a) || !isfinite(a->valuedouble) || a->valuedouble <= 0 ||
        a->valuedouble > 1e9)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: \"lora_alpha\" is %s; expected a positive "
                              "number",
                              label, a ? "malformed or out of range" : "missing");
    c->r = (int32_t)r->valuedouble;
    c->lora_alpha = (float)a->valuedouble;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "use_rslora");
    const cJSON *ff = cJSON_GetObjectItemCaseSensitive(root, "fan_in_fan_out");
    if ((rs && !cJSON_IsBool(rs)) || (ff && !cJSON_IsBool(ff)))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: \"%s\" is not true or false", label,
                              rs && !cJSON_IsBool(rs) ? "use_rslora" : "fan_in_fan_out");
    c->use_rslora = cJSON_IsTrue(rs);
    c->fan_in_fan_out = cJSON_IsTrue(ff);
    /* rsLoRA scales by alpha/sqrt(r); the file's scale is alpha'/r, so
     * alpha' = alpha*sqrt(r) (Kalajdzievski 2023, "A Rank Stabilization
     * Scaling Factor for Fine-Tuning with LoRA"). */
    c->alpha = c->use_rslora ? (float)(a->valuedouble * sqrt((double)c->r)) : c->lora_alpha;
    return LOCO_OK;
}

static void append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < cap)
        snprintf(buf + n, cap - n, "%s%s", n ? "," : "", s);
}

static int config_targets(const cJSON *root, const char *label, struct loco_peft_config *c)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "target_modules");
    if (!t || cJSON_IsNull(t))
        return LOCO_OK;
    if (cJSON_IsString(t)) { /* a regex or "all-linear": the tensors decide */
        snprintf(c->target_modules, sizeof c->target_modules, "%s", t->valuestring);
        return LOCO_OK;
    }
    if (!cJSON_IsArray(t))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: \"target_modules\" is neither a list nor a "
                              "string",
                              label);
    const cJSON *e;
    cJSON_ArrayForEach(e, t)
    {
        enum loco_lora_target tg;
        if (!cJSON_IsString(e))
            return loco_error_set(LOCO_ERR_FORMAT, "%s: \"target_modules\" holds a non-string",
                                  label);
        /* a full module path ("model.layers.0.self_attn.q_proj") names its last part */
        const char *dot = strrchr(e->valuestring, '.');
        if (loco_lora_target_parse(dot ? dot + 1 : e->valuestring, &tg) != LOCO_OK)
            return loco_error_set(LOCO_ERR_UNSUPPORTED,
                                  "%s: target module \"%.60s\" cannot be "
                                  "imported; LocoLLM adapts q_proj, k_proj, v_proj, o_proj, "
                                  "gate_proj, up_proj and down_proj",
                                  label, e->valuestring);
        c->targets |= LOCO_LORA_TARGET_BIT(tg);
        append(c->target_modules, sizeof c->target_modules, e->valuestring);
    }
    return LOCO_OK;
}

int loco_peft_config_parse(const char *json, size_t len, const char *label,
                           struct loco_peft_config *out)
{
    if (!json || !out)
        return loco_error_set(LOCO_ERR_INVALID, "loco_peft_config_parse: json and out are "
                                                "required");
    label = label ? label : "adapter_config.json";
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return loco_error_set(LOCO_ERR_FORMAT, "%s is not a JSON object", label);
    }
    int rc = config_refusals(root, label);
    if (!rc)
        rc = config_numbers(root, label, out);
    if (!rc)
        rc = config_targets(root, label, out);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "base_model_name_or_path");
    if (!rc && cJSON_IsString(b))
        snprintf(out->base_model, sizeof out->base_model, "%s", b->valuestring);
    cJSON_Delete(root);
    return rc;
}

int loco_peft_config_read(const char *path, struct loco_peft_config *out)
{
    char *text;
    size_t n;
    /* a FIFO or folder is refused, not waited on; the message names the file */
    int rc = loco_read_regular_file(path, PEFT_MAX_CONFIG, &text, &n);
    if (rc == LOCO_ERR_RANGE)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is larger than %u bytes; not an adapter config",
                              path, PEFT_MAX_CONFIG);
    if (rc == LOCO_ERR_NOT_FOUND || rc == LOCO_ERR_INVALID)
        return LOCO_ERR_IO; /* as a file that cannot be opened */
    if (rc != LOCO_OK)
        return rc;
    rc = loco_peft_config_parse(text, n, path, out);
    free(text);
    return rc;
}

/* ---- tensor names ---------------------------------------------------------- */

static const char *skip(const char *p, const char *lit)
{
    size_t n = strlen(lit);
    return p && strncmp(p, lit, n) == 0 ? p + n : NULL;
}

/* Why a tensor that is not a LoRA half of a projection cannot come along. */
static int refuse_name(const char *name)
{
    const char *why = "it is not the lora_A/lora_B weight of a q/k/v/o/gate/up/down projection";
    if (strstr(name, "embed_tokens") || strstr(name, "lm_head") || strstr(name, "modules_to_save"))
        why = "it is a full tensor (embedding, output head or modules_to_save copy), not a LoRA "
              "pair; retrain without modules_to_save or vocabulary resizing";
    else if (strstr(name, "lora_magnitude_vector"))
        why = "it is a DoRA magnitude vector; DoRA adapters cannot be imported";
    else if (strstr(name, "lora_embedding_"))
        why = "LoRA on the embedding is not supported";
    else if (strstr(name, ".bias"))
        why = "LoRA biases cannot be stored in a GGUF LoRA adapter";
    return loco_error_set(LOCO_ERR_UNSUPPORTED, "tensor '%.200s' cannot be imported: %s", name,
                          why);
}

/* "N." -> N; NULL unless 1-6 digits and a dot follow. */
static const char *parse_layer(const char *p, int32_t *layer)
{
    int32_t v = 0;
    int n = 0;
    while (p && p[n] >= '0' && p[n] <= '9' && n < 6)
        v = v * 10 + (p[n++] - '0');
    if (!p || n == 0 || p[n] != '.')
        return NULL;
    *layer = v;
    return p + n + 1;
}

int loco_peft_parse_name(const char *name, int32_t *layer, enum loco_lora_target *target,
                         bool *is_b)
{
    const char *p = skip(name, "base_model.model."), *q;
    if ((q = skip(p, "model.")))
        p = q;
    p = parse_layer(skip(p, "layers."), layer);
    bool attn = skip(p, "self_attn.") != NULL;
    p = attn ? skip(p, "self_attn.") : skip(p, "mlp.");
    const char *dot = p ? strchr(p, '.') : NULL;
    char module[16];
    if (!dot || (size_t)(dot - p) >= sizeof module)
        return refuse_name(name);
    memcpy(module, p, (size_t)(dot - p));
    module[dot - p] = '\0';
    if (loco_lora_target_parse(module, target) != LOCO_OK || attn != (*target <= LOCO_LORA_O))
        return refuse_name(name);
    p = skip(dot, ".lora_A.");
    *is_b = p == NULL;
    if (!p)
        p = skip(dot, ".lora_B.");
    if (p && strcmp(p, "weight") != 0) { /* ".lora_A.<adapter name>.weight" */
        const char *d = strchr(p, '.');
        p = d && d > p && strcmp(d, ".weight") == 0 ? d : NULL;
    }
    loco_error_clear();
    return p ? LOCO_OK : refuse_name(name);
}

/* ---- shapes and the q/k permutation ----------------------------------------- */

void loco_peft_target_shape(const struct loco_hparams *hp, enum loco_lora_target t, int64_t *n_in,
                            int64_t *n_out)
{
    int64_t C = hp->n_embd, F = hp->n_ff;
    int64_t HD = (int64_t)hp->n_head * hp->head_dim, HkvD = (int64_t)hp->n_head_kv * hp->head_dim;
    switch (t) {
    case LOCO_LORA_Q:
        *n_in = C, *n_out = HD;
        break;
    case LOCO_LORA_K:
    case LOCO_LORA_V:
        *n_in = C, *n_out = HkvD;
        break;
    case LOCO_LORA_O:
        *n_in = HD, *n_out = C;
        break;
    case LOCO_LORA_DOWN:
        *n_in = F, *n_out = C;
        break;
    default:
        *n_in = C, *n_out = F;
        break; /* gate, up */
    }
}

int loco_peft_permute_rows(float *rows, int64_t n_out, int64_t n_cols, int32_t n_head)
{
    if (!rows || n_head <= 0 || n_cols <= 0 || n_out <= 0 || n_out % (2 * (int64_t)n_head) != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "cannot permute %" PRId64 " rows for %d heads "
                              "(rows must split into heads of an even size)",
                              n_out, n_head);
    int64_t D = n_out / n_head, half = D / 2;
    size_t row_bytes = (size_t)n_cols * sizeof(float);
    float *head = malloc((size_t)D * row_bytes); /* [D][n_cols] copy of one head */
    if (!head)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory permuting %" PRId64 " rows", n_out);
    for (int32_t h = 0; h < n_head; h++) {
        float *dst = rows + (size_t)h * (size_t)D * (size_t)n_cols;
        memcpy(head, dst, (size_t)D * row_bytes);
        /* rows as (2, D/2) -> (D/2, 2): new 2j = old j, new 2j+1 = old j + D/2 */
        for (int64_t j = 0; j < half; j++) {
            memcpy(dst + (size_t)(2 * j) * (size_t)n_cols, head + (size_t)j * (size_t)n_cols,
                   row_bytes);
            memcpy(dst + (size_t)(2 * j + 1) * (size_t)n_cols,
                   head + (size_t)(j + half) * (size_t)n_cols, row_bytes);
        }
    }
    free(head);
    return LOCO_OK;
}

/* ---- collecting the pairs ---------------------------------------------------- */

struct peft_slot {
    const struct loco_st_tensor *a, *b; /* [R][n_in], [n_out][R] in the file */
};

struct import_state {
    const char *dir;
    char st_path[4096];
    struct loco_peft_config cfg;
    const struct loco_model *base;
    const struct loco_hparams *hp;
    struct loco_safetensors *st;
    struct peft_slot *slots;      /* [L][LOCO_LORA_N_TARGETS] */
    struct loco_lora_pair *pairs; /* the filled slots, in layer order */
    size_t n_pairs;
    unsigned targets;
};

static int place_tensor(struct import_state *s, const struct loco_st_tensor *t)
{
    int32_t layer = 0;
    enum loco_lora_target tg = LOCO_LORA_Q;
    bool is_b = false;
    int rc = loco_peft_parse_name(t->name, &layer, &tg, &is_b);
    if (rc)
        return rc;
    if (layer >= s->hp->n_layer)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s' names layer %d but the base model "
                              "has %d layers; is this adapter for another base model?",
                              t->name, layer, s->hp->n_layer);
    if (s->cfg.targets && !(s->cfg.targets & LOCO_LORA_TARGET_BIT(tg)))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensor '%.200s' adapts %s, which target_modules "
                              "(%s) does not list",
                              t->name, loco_lora_target_name(tg), s->cfg.target_modules);
    struct peft_slot *slot = &s->slots[(size_t)layer * LOCO_LORA_N_TARGETS + (size_t)tg];
    const struct loco_st_tensor **half = is_b ? &slot->b : &slot->a;
    if (*half)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "tensors '%.200s' and '%.200s' are both lora_%s of "
                              "layer %d %s",
                              (*half)->name, t->name, is_b ? "B" : "A", layer,
                              loco_lora_target_name(tg));
    *half = t;
    return LOCO_OK;
}

static int check_shape(const struct loco_st_tensor *t, int64_t rows, int64_t cols, const char *what)
{
    if (t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols)
        return LOCO_OK;
    char have[64] = "";
    for (uint32_t i = 0; i < t->n_dims && i < 4; i++) {
        size_t n = strlen(have);
        snprintf(have + n, sizeof have - n, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    }
    return loco_error_set(LOCO_ERR_FORMAT,
                          "tensor '%.200s' has shape [%s] but %s needs [%" PRId64 ", %" PRId64
                          "]; is this adapter for another base model?",
                          t->name, have, what, rows, cols);
}

/* Shapes against the base: A [R][n_in], B [n_out][R]; also the base GGUF
 * tensor must exist with ne = [n_in, n_out]. */
static int check_slot(const struct import_state *s, int32_t il, enum loco_lora_target tg,
                      int64_t n_in, int64_t n_out)
{
    const struct peft_slot *slot = &s->slots[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg];
    if (!slot->a || !slot->b)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "layer %d %s has lora_%s ('%.200s') but no "
                              "lora_%s",
                              il, loco_lora_target_name(tg), slot->a ? "A" : "B",
                              (slot->a ? slot->a : slot->b)->name, slot->a ? "B" : "A");
    char base_name[LOCO_GGUF_MAX_NAME];
    snprintf(base_name, sizeof base_name, "blk.%d.%s.weight", il, loco_lora_target_tensor(tg));
    const struct loco_gguf_tensor *w = loco_gguf_find_tensor(loco_model_gguf(s->base), base_name);
    if (!w || w->ne[0] != n_in || w->ne[1] != n_out)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "the base model has no %s mapping %" PRId64 " -> %" PRId64, base_name,
                              n_in, n_out);
    char what[160];
    snprintf(what, sizeof what, "lora_A of %s (rank %d x n_in)", base_name, s->cfg.r);
    int rc = check_shape(slot->a, s->cfg.r, n_in, what);
    snprintf(what, sizeof what, "lora_B of %s (n_out x rank %d)", base_name, s->cfg.r);
    return rc ? rc : check_shape(slot->b, n_out, s->cfg.r, what);
}

/* Convert one slot to f32 and permute B for llama q/k. */
static int convert_slot(struct import_state *s, int32_t il, enum loco_lora_target tg,
                        bool *permuted)
{
    const struct peft_slot *slot = &s->slots[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg];
    struct loco_lora_pair *p = &s->pairs[s->n_pairs];
    int64_t n_in, n_out;
    loco_peft_target_shape(s->hp, tg, &n_in, &n_out);
    int rc = check_slot(s, il, tg, n_in, n_out);
    if (rc)
        return rc;
    size_t na = (size_t)s->cfg.r * (size_t)n_in, nb = (size_t)n_out * (size_t)s->cfg.r;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    *p = (struct loco_lora_pair){
        .layer = il, .target = tg, .n_in = n_in, .n_out = n_out, .rank = s->cfg.r, .a = a, .b = b};
    s->n_pairs++; /* counted now so that cleanup frees a and b */
    if (!a || !b)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory converting layer %d %s", il,
                              loco_lora_target_name(tg));
    rc = loco_safetensors_to_f32(s->st, slot->a, a, na);
    if (!rc)
        rc = loco_safetensors_to_f32(s->st, slot->b, b, nb);
    bool qk = tg == LOCO_LORA_Q || tg == LOCO_LORA_K;
    if (!rc && qk && s->hp->arch == LOCO_ARCH_LLAMA) {
        rc = loco_peft_permute_rows(b, n_out, s->cfg.r,
                                    tg == LOCO_LORA_Q ? s->hp->n_head : s->hp->n_head_kv);
        *permuted = true;
    }
    s->targets |= LOCO_LORA_TARGET_BIT(tg);
    return rc;
}

static int collect_pairs(struct import_state *s, bool *permuted)
{
    size_t n_slots = (size_t)s->hp->n_layer * LOCO_LORA_N_TARGETS;
    s->slots = calloc(n_slots, sizeof *s->slots);
    s->pairs = calloc(n_slots, sizeof *s->pairs);
    if (!s->slots || !s->pairs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for %zu LoRA pairs", n_slots);
    for (int64_t i = 0; i < loco_safetensors_n_tensors(s->st); i++) {
        int rc = place_tensor(s, loco_safetensors_tensor(s->st, i));
        if (rc)
            return rc;
    }
    for (int32_t il = 0; il < s->hp->n_layer; il++)
        for (int tg = 0; tg < LOCO_LORA_N_TARGETS; tg++) {
            const struct peft_slot *slot = &s->slots[(size_t)il * LOCO_LORA_N_TARGETS + tg];
            if (!slot->a && !slot->b)
                continue;
            int rc = convert_slot(s, il, (enum loco_lora_target)tg, permuted);
            if (rc)
                return rc;
        }
    if (!s->n_pairs)
        return loco_error_set(LOCO_ERR_FORMAT, "it holds no LoRA tensors");
    return LOCO_OK;
}

/* ---- names and the output path ----------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* The last path component of dir, trailing slashes ignored. */
static void dir_basename(const char *dir, char *out, size_t cap)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    size_t n = end - start < cap - 1 ? end - start : cap - 1;
    memcpy(out, dir + start, n);
    out[n] = '\0';
}

static int output_path(const char *out_path, const char *name, bool overwrite, char *buf,
                       size_t cap)
{
    int n;
    if (out_path) {
        n = snprintf(buf, cap, "%s", out_path);
    } else {
        char dir[4096];
        int rc = loco_adapters_dir(dir, sizeof dir);
        if (!rc)
            rc = loco_models_mkdirs(dir);
        if (rc)
            return rc;
        n = snprintf(buf, cap, "%s/%s.gguf", dir, name);
    }
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the output path is too long");
    struct stat sb;
    if (!overwrite && stat(buf, &sb) == 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s already exists; choose another name or "
                              "output, or allow replacing it (--force)",
                              buf);
    return LOCO_OK;
}

/* ---- the import ------------------------------------------------------------------ */

struct loco_peft_import_params loco_peft_import_default_params(void)
{
    return (struct loco_peft_import_params){.type = LOCO_TYPE_F16};
}

static int open_inputs(struct import_state *s)
{
    char cfg_path[4096];
    if (snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", s->dir) >=
            (int)sizeof cfg_path ||
        snprintf(s->st_path, sizeof s->st_path, "%s/adapter_model.safetensors", s->dir) >=
            (int)sizeof s->st_path)
        return loco_error_set(LOCO_ERR_RANGE, "the folder path %.100s... is too long", s->dir);
    struct stat sb;
    if (stat(s->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "%s is not a folder; give the folder that holds "
                              "adapter_config.json and adapter_model.safetensors",
                              s->dir);
    int rc = loco_peft_config_read(cfg_path, &s->cfg);
    if (rc)
        return rc;
    if (stat(s->st_path, &sb) != 0) {
        char bin[4096];
        snprintf(bin, sizeof bin, "%s/adapter_model.bin", s->dir);
        bool has_bin = stat(bin, &sb) == 0;
        return loco_error_set(LOCO_ERR_NOT_FOUND, "%s is missing%s", s->st_path,
                              has_bin ? " (only the pickle adapter_model.bin is there; save the "
                                        "adapter with safe_serialization=True)"
                                      : "");
    }
    return loco_safetensors_open(s->st_path, &s->st);
}

static void base_name_of(const struct loco_model *base, char *out, size_t cap)
{
    if (loco_gguf_get_str_buf(loco_model_gguf(base), "general.name", out, cap) == LOCO_OK && out[0])
        return;
    const char *path = loco_gguf_path(loco_model_gguf(base));
    const char *slash = strrchr(path, '/');
    snprintf(out, cap, "%s", slash ? slash + 1 : path);
    loco_error_clear();
}

static int write_adapter(struct import_state *s, const char *path, const char *name,
                         const struct loco_peft_import_params *p)
{
    char sha[65], base_name[256], r[16], alpha[32];
    int rc = loco_model_sha256(s->base, sha);
    if (rc)
        return rc;
    base_name_of(s->base, base_name, sizeof base_name);
    snprintf(r, sizeof r, "%d", s->cfg.r);
    snprintf(alpha, sizeof alpha, "%g", (double)s->cfg.lora_alpha);
    const char *keys[] = {"locollm.source",          "locollm.peft.base_model",
                          "locollm.peft.r",          "locollm.peft.lora_alpha",
                          "locollm.peft.use_rslora", "locollm.peft.target_modules"};
    const char *values[] = {"peft",
                            s->cfg.base_model,
                            r,
                            alpha,
                            s->cfg.use_rslora ? "true" : "false",
                            s->cfg.target_modules};
    struct loco_adapter_meta meta = {.arch = s->hp->arch_name,
                                     .base_sha256 = sha,
                                     .base_name = base_name,
                                     .name = name,
                                     .domain = p->domain,
                                     .alpha = s->cfg.alpha,
                                     .extra_keys = keys,
                                     .extra_values = values,
                                     .n_extra = sizeof keys / sizeof keys[0]};
    return loco_adapter_write(path, &meta, s->pairs, s->n_pairs, p->type);
}

static void free_state(struct import_state *s)
{
    for (size_t i = 0; s->pairs && i < s->n_pairs; i++) {
        free((float *)s->pairs[i].a);
        free((float *)s->pairs[i].b);
    }
    free(s->pairs);
    free(s->slots);
    loco_safetensors_close(s->st);
}

static int check_args(const char *dir, const struct loco_model *base,
                      const struct loco_peft_import_params *p, char *name, size_t cap)
{
    if (!dir || !base || !p)
        return loco_error_set(LOCO_ERR_INVALID, "loco_peft_import: dir, base and params are "
                                                "required");
    if (p->type != LOCO_TYPE_F32 && p->type != LOCO_TYPE_F16 && p->type != LOCO_TYPE_BF16)
        return loco_error_set(LOCO_ERR_INVALID, "adapters are stored as f32, f16 or bf16, not %s",
                              loco_type_name(p->type));
    if (p->name)
        snprintf(name, cap, "%s", p->name);
    else
        dir_basename(dir, name, cap);
    if (!valid_name(name))
        return loco_error_set(LOCO_ERR_INVALID,
                              "adapter name \"%s\" is not usable: use letters, "
                              "digits, '-', '_' and '.' (give one with --name)",
                              name);
    return LOCO_OK;
}

int loco_peft_import(const char *dir, const struct loco_model *base, const char *out_path,
                     const struct loco_peft_import_params *params,
                     struct loco_peft_import_result *result)
{
    char name[128], path[4096];
    struct import_state s = {.dir = dir, .base = base};
    bool permuted = false;
    int rc = check_args(dir, base, params, name, sizeof name);
    if (!rc) {
        s.hp = loco_model_hparams(base);
        rc = output_path(out_path, name, params->overwrite, path, sizeof path);
    }
    if (!rc)
        rc = open_inputs(&s);
    if (!rc) {
        rc = collect_pairs(&s, &permuted);
        if (rc)
            loco_error_prefix("%s", s.st_path);
    }
    if (!rc)
        rc = write_adapter(&s, path, name, params);
    if (!rc && result) {
        memset(result, 0, sizeof *result);
        snprintf(result->path, sizeof result->path, "%s", path);
        snprintf(result->name, sizeof result->name, "%s", name);
        result->n_pairs = (int32_t)s.n_pairs;
        result->rank = s.cfg.r;
        result->alpha = s.cfg.alpha;
        result->targets = s.targets;
        result->permuted_qk = permuted;
    }
    free_state(&s);
    return rc;
}
