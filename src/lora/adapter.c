/*
 * adapter.c - LoRA adapter files: target names, loading against a base
 * model (docs/formats/lora.md), writing, and the base model's digest.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lora/lora_internal.h"
#include "loco/gguf.h"
#include "loco/models.h"

/* ---- target names -------------------------------------------------------- */

struct target_names {
    const char *name;   /* short */
    const char *tensor; /* GGUF stem */
    const char *peft;   /* PEFT / Hugging Face module */
};

static const struct target_names targets[LOCO_LORA_N_TARGETS] = {
    [LOCO_LORA_Q] = {"q", "attn_q", "q_proj"},
    [LOCO_LORA_K] = {"k", "attn_k", "k_proj"},
    [LOCO_LORA_V] = {"v", "attn_v", "v_proj"},
    [LOCO_LORA_O] = {"o", "attn_output", "o_proj"},
    [LOCO_LORA_GATE] = {"gate", "ffn_gate", "gate_proj"},
    [LOCO_LORA_UP] = {"up", "ffn_up", "up_proj"},
    [LOCO_LORA_DOWN] = {"down", "ffn_down", "down_proj"},
};

const char *loco_lora_target_name(enum loco_lora_target t)
{
    return (unsigned)t < LOCO_LORA_N_TARGETS ? targets[t].name : "?";
}

const char *loco_lora_target_tensor(enum loco_lora_target t)
{
    return (unsigned)t < LOCO_LORA_N_TARGETS ? targets[t].tensor : "?";
}

int loco_lora_target_parse(const char *name, enum loco_lora_target *out)
{
    for (int t = 0; name && t < LOCO_LORA_N_TARGETS; t++) {
        if (strcmp(name, targets[t].name) == 0 || strcmp(name, targets[t].tensor) == 0 ||
            strcmp(name, targets[t].peft) == 0) {
            *out = (enum loco_lora_target)t;
            return LOCO_OK;
        }
    }
    return loco_error_set(LOCO_ERR_INVALID,
                          "unknown LoRA target '%s' (use q, k, v, o, gate, up or down)",
                          name ? name : "(null)");
}

int loco_lora_targets_parse(const char *list, unsigned *mask_out)
{
    unsigned mask = 0;
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (!n)
            break;
        char one[32];
        if (n >= sizeof one)
            return loco_error_set(LOCO_ERR_INVALID, "unknown LoRA target '%.*s'", (int)n, p);
        memcpy(one, p, n);
        one[n] = '\0';
        enum loco_lora_target t;
        int rc = loco_lora_target_parse(one, &t);
        if (rc)
            return rc;
        mask |= LOCO_LORA_TARGET_BIT(t);
        p += n;
    }
    if (!mask)
        return loco_error_set(LOCO_ERR_INVALID, "no LoRA targets given (use e.g. \"q,v\")");
    *mask_out = mask;
    return LOCO_OK;
}

/* ---- the base model's digest -------------------------------------------- */

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;

int loco_model_sha256(const struct loco_model *m, char hex_out[65])
{
    /* The digest is a cache inside an otherwise immutable model. */
    struct loco_model *mm = (struct loco_model *)m;
    int rc = LOCO_OK;
    pthread_mutex_lock(&sha_lock);
    if (!mm->sha256[0]) {
        const char *path = loco_gguf_path(m->gguf);
        if (!path[0])
            rc = loco_error_set(LOCO_ERR_UNSUPPORTED,
                                "the model was loaded from memory; it has no file to hash");
        else
            rc = loco_models_sha256_file(path, mm->sha256);
        if (rc)
            mm->sha256[0] = '\0';
    }
    if (!rc)
        memcpy(hex_out, mm->sha256, 65);
    pthread_mutex_unlock(&sha_lock);
    return rc;
}

/* ---- loading -------------------------------------------------------------- */

static atomic_uint_fast64_t next_id = 1;

static void release_pages(const void *p, size_t n);

static bool str_ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const struct loco_weight *base_weight(const struct loco_model *m, int il,
                                             enum loco_lora_target t)
{
    const struct loco_layer *L = &m->layers[il];
    const struct loco_weight *w[LOCO_LORA_N_TARGETS] = {&L->wq,   &L->wk, &L->wv,  &L->wo,
                                                       &L->gate, &L->up, &L->down};
    return w[t];
}

/* "blk.N.<stem>.weight" -> layer and target. */
static int parse_base_name(const struct loco_adapter *a, const char *file, const char *base,
                           int *il, enum loco_lora_target *t)
{
    int layer = -1, used = 0;
    char stem[LOCO_GGUF_MAX_NAME];
    if (sscanf(base, "blk.%d.%63[a-z_].weight%n", &layer, stem, &used) != 2 ||
        base[used] != '\0' || loco_lora_target_parse(stem, t) != LOCO_OK) {
        return loco_error_set(LOCO_ERR_UNSUPPORTED,
                              "%s: tensor %s adapts %s, which LocoLLM does not adapt (only the "
                              "q, k, v, o, gate, up and down projections of a block)",
                              file, base, base);
    }
    if (layer < 0 || layer >= a->n_layer)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: %s names layer %d but the base has %d layers",
                              file, base, layer, a->n_layer);
    *il = layer;
    return LOCO_OK;
}

/* The largest adapter.lora.alpha accepted. Real adapters use alpha of a few
 * times the rank (16 to 512; rsLoRA's alpha * sqrt(r) stays far below);
 * 1e30 makes every activation inf and the logits NaN. */
#define ALPHA_MAX 65536.0f

static bool alpha_ok(float alpha)
{
    return isfinite(alpha) && alpha >= 0.0f && alpha <= ALPHA_MAX;
}

/* adapter.lora.alpha as stored (0 when absent): an f64 is not narrowed
 * first, so a message shows 1e+300 as written, not the inf it would become;
 * another type is named (by the reader's message). */
static int alpha_as_stored(const struct loco_gguf *g, const char *file, double *out)
{
    *out = 0;
    int rc = loco_gguf_get_f64(g, "adapter.lora.alpha", out);
    if (rc == LOCO_ERR_NOT_FOUND)
        return LOCO_OK;
    if (rc != LOCO_OK)
        loco_error_prefix("%s: adapter.lora.alpha is not a float", file);
    return rc == LOCO_OK ? LOCO_OK : LOCO_ERR_FORMAT;
}

static int check_meta(struct loco_adapter *a, const struct loco_model *base)
{
    const struct loco_gguf *g = a->gguf;
    const char *file = a->info.path;
    char buf[128];
    if (loco_gguf_get_str_buf(g, "general.type", buf, sizeof buf) != LOCO_OK)
        return loco_error_set(LOCO_ERR_FORMAT, "%s is not an adapter: general.type is missing",
                              file);
    if (strcmp(buf, "adapter") != 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s is not an adapter (general.type = \"%s\"); pass a model with "
                              "--model and an adapter with --adapter",
                              file, buf);
    if (loco_gguf_get_str_buf(g, "adapter.type", buf, sizeof buf) != LOCO_OK ||
        strcmp(buf, "lora") != 0)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "%s: adapter.type must be \"lora\"", file);
    if (loco_gguf_get_str_buf(g, "general.architecture", a->info.arch, sizeof a->info.arch))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: general.architecture is missing", file);
    const struct loco_hparams *hp = loco_model_hparams(base);
    if (strcmp(a->info.arch, hp->arch_name) != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s was made for a %s model, but the base model is %s", file,
                              a->info.arch, hp->arch_name);
    double alpha;
    int rc = alpha_as_stored(g, file, &alpha);
    if (rc != LOCO_OK)
        return rc;
    if (!(isfinite(alpha) && alpha <= ALPHA_MAX && alpha_ok((float)alpha)))
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: adapter.lora.alpha = %g is not usable; expected a finite "
                              "number in [0, %g] (the update is scaled by alpha / r)",
                              file, alpha, (double)ALPHA_MAX);
    a->info.alpha = (float)alpha;
    if (loco_gguf_get_str_buf(g, "locollm.adapter.name", a->info.name, sizeof a->info.name))
        lora_file_stem(file, a->info.name, sizeof a->info.name);
    if (loco_gguf_get_str_buf(g, "locollm.adapter.domain", a->info.domain,
                              sizeof a->info.domain) &&
        loco_gguf_get_str_buf(g, "adapter.lora.task_name", a->info.domain, sizeof a->info.domain))
        a->info.domain[0] = '\0';
    if (loco_gguf_get_str_buf(g, "locollm.base.sha256", a->info.base_sha256,
                              sizeof a->info.base_sha256))
        a->info.base_sha256[0] = '\0';
    loco_error_clear();
    if (a->info.base_sha256[0]) {
        char have[65];
        rc = loco_model_sha256(base, have);
        if (rc)
            return rc;
        if (strcmp(have, a->info.base_sha256) != 0)
            return loco_error_set(LOCO_ERR_CHECKSUM,
                                  "%s was trained for the base model with sha256 %s, but %s has "
                                  "sha256 %s; use an adapter made for this base, or load its base "
                                  "with --model",
                                  file, a->info.base_sha256, loco_gguf_path(base->gguf), have);
    }
    return LOCO_OK;
}

static int bind_half(struct loco_adapter *a, const struct loco_gguf_tensor *t, bool is_a,
                     int il, enum loco_lora_target tg)
{
    const char *file = a->info.path;
    if (t->type != LOCO_TYPE_F32 && t->type != LOCO_TYPE_F16 && t->type != LOCO_TYPE_BF16)
        return loco_error_set(LOCO_ERR_UNSUPPORTED, "%s: %s has type %s; adapters use F32, F16 "
                              "or BF16", file, t->name, loco_type_name(t->type));
    if (t->n_dims != 2)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: %s has %u dimensions, expected 2", file,
                              t->name, t->n_dims);
    struct lora_pair *p = &a->pairs[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg];
    struct loco_weight *w = is_a ? &p->a : &p->b;
    if (w->data)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: %s appears twice", file, t->name);
    /* lora_a: ne = [n_in, r] (r rows of n_in); lora_b: ne = [r, n_out] */
    *w = (struct loco_weight){.data = t->data, .type = t->type, .n_in = t->ne[0],
                              .n_out = t->ne[1]};
    a->info.type = t->type; /* mixed storage works; info reports the last seen */
    return LOCO_OK;
}

/* B [n_out][r] in the file's type -> fp16 [r][n_out], so that the run-time
 * hook adds B t as r long axpy rows instead of n_out dots of length r. The
 * mapped B pages are not needed afterwards and are given back. */
static int transpose_b(struct lora_pair *p)
{
    int64_t r = p->b.n_in, n_out = p->b.n_out;
    p->bt_type = p->b.type == LOCO_TYPE_F16 ? LOCO_TYPE_F16 : LOCO_TYPE_F32;
    size_t es = p->bt_type == LOCO_TYPE_F16 ? sizeof(uint16_t) : sizeof(float);
    p->bt = malloc((size_t)(r * n_out) * es);
    float *row = malloc((size_t)r * sizeof *row);
    if (!p->bt || !row) {
        free(row);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for an adapter");
    }
    const struct loco_type_traits *tr = loco_type_traits(p->b.type);
    size_t row_bytes = loco_type_row_size(p->b.type, r);
    uint16_t *h = p->bt;
    float *f = p->bt;
    for (int64_t o = 0; o < n_out; o++) {
        tr->to_float((const char *)p->b.data + (size_t)o * row_bytes, row, r);
        for (int64_t k = 0; k < r; k++) {
            if (p->bt_type == LOCO_TYPE_F16)
                h[k * n_out + o] = loco_fp32_to_fp16(row[k]);
            else
                f[k * n_out + o] = row[k];
        }
    }
    free(row);
    release_pages(p->b.data, (size_t)n_out * row_bytes);
    return LOCO_OK;
}

/* Drop the whole pages inside [p, p + n) of a read-only file mapping from
 * this process's resident set (they are read again on demand). */
static void release_pages(const void *p, size_t n)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* A (r rows of n_in) -> Q8_0 in heap memory. */
static int quantize_a(struct lora_pair *p)
{
    int64_t r = p->a.n_out, n_in = p->a.n_in;
    if (n_in % LOCO_QK8_0 != 0)
        return LOCO_OK;
    const struct loco_type_traits *src = loco_type_traits(p->a.type);
    const struct loco_type_traits *q8 = loco_type_traits(LOCO_TYPE_Q8_0);
    size_t in_row = loco_type_row_size(p->a.type, n_in);
    size_t out_row = loco_type_row_size(LOCO_TYPE_Q8_0, n_in);
    char *dst = malloc((size_t)r * out_row);
    float *row = malloc((size_t)n_in * sizeof *row);
    if (!dst || !row) {
        free(dst);
        free(row);
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for an adapter");
    }
    for (int64_t k = 0; k < r; k++) {
        src->to_float((const char *)p->a.data + (size_t)k * in_row, row, n_in);
        q8->from_float(row, dst + (size_t)k * out_row, n_in);
    }
    free(row);
    p->aq = (struct loco_weight){.data = dst, .type = LOCO_TYPE_Q8_0, .n_in = n_in, .n_out = r};
    release_pages(p->a.data, (size_t)r * in_row); /* read again only in f32 mode */
    return LOCO_OK;
}

/* Every value of a LoRA half (n_out rows of n_in) is finite: one NaN or inf
 * in A or B would make every logit NaN. */
static int check_finite(const char *file, int il, const char *stem, const char *half,
                        const struct loco_weight *w)
{
    const struct loco_type_traits *tr = loco_type_traits(w->type);
    size_t row_bytes = loco_type_row_size(w->type, w->n_in);
    float *row = malloc((size_t)w->n_in * sizeof *row);
    if (!row)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for an adapter");
    int rc = LOCO_OK;
    for (int64_t o = 0; o < w->n_out && rc == LOCO_OK; o++) {
        tr->to_float((const char *)w->data + (size_t)o * row_bytes, row, w->n_in);
        for (int64_t k = 0; k < w->n_in; k++) {
            if (!isfinite(row[k])) {
                rc = loco_error_set(LOCO_ERR_FORMAT,
                                    "%s: blk.%d.%s.weight.lora_%s holds %g at row %lld, column "
                                    "%lld; an adapter's weights must be finite",
                                    file, il, stem, half, (double)row[k], (long long)o,
                                    (long long)k);
                break;
            }
        }
    }
    free(row);
    return rc;
}

static int check_pairs(struct loco_adapter *a, const struct loco_model *base)
{
    const char *file = a->info.path;
    for (int il = 0; il < a->n_layer; il++) {
        for (int tg = 0; tg < LOCO_LORA_N_TARGETS; tg++) {
            struct lora_pair *p = &a->pairs[(size_t)il * LOCO_LORA_N_TARGETS + (size_t)tg];
            if (!p->a.data && !p->b.data)
                continue;
            const char *stem = targets[tg].tensor;
            if (!p->a.data || !p->b.data)
                return loco_error_set(LOCO_ERR_FORMAT, "%s: blk.%d.%s.weight has lora_%s but "
                                      "not lora_%s", file, il, stem, p->a.data ? "a" : "b",
                                      p->a.data ? "b" : "a");
            const struct loco_weight *w = base_weight(base, il, (enum loco_lora_target)tg);
            if (p->a.n_in != w->n_in || p->b.n_out != w->n_out)
                return loco_error_set(LOCO_ERR_FORMAT,
                                      "%s: blk.%d.%s.weight: lora_a is [%lld, %lld] and lora_b "
                                      "[%lld, %lld], but the base projection maps %lld -> %lld",
                                      file, il, stem, (long long)p->a.n_in, (long long)p->a.n_out,
                                      (long long)p->b.n_in, (long long)p->b.n_out,
                                      (long long)w->n_in, (long long)w->n_out);
            if (p->a.n_out != p->b.n_in || p->a.n_out <= 0)
                return loco_error_set(LOCO_ERR_FORMAT,
                                      "%s: blk.%d.%s.weight: lora_a has rank %lld but lora_b has "
                                      "rank %lld (is lora_a transposed?)",
                                      file, il, stem, (long long)p->a.n_out, (long long)p->b.n_in);
            int32_t r = (int32_t)p->a.n_out;
            int rc = check_finite(file, il, stem, "a", &p->a);
            if (!rc)
                rc = check_finite(file, il, stem, "b", &p->b);
            if (!rc)
                rc = transpose_b(p);
            if (!rc)
                rc = quantize_a(p);
            if (rc)
                return rc;
            p->factor = a->info.alpha > 0 ? a->info.alpha / (float)r : 1.0f;
            if (r > a->info.rank)
                a->info.rank = r;
            a->info.targets |= LOCO_LORA_TARGET_BIT(tg);
            a->info.n_pairs++;
        }
    }
    if (!a->info.n_pairs)
        return loco_error_set(LOCO_ERR_FORMAT, "%s has no LoRA tensors", file);
    return LOCO_OK;
}

static int bind_tensors(struct loco_adapter *a, const struct loco_model *base)
{
    const char *file = a->info.path;
    int64_t n = loco_gguf_n_tensors(a->gguf);
    for (int64_t i = 0; i < n; i++) {
        const struct loco_gguf_tensor *t = loco_gguf_tensor(a->gguf, i);
        bool is_a = str_ends(t->name, ".lora_a");
        if (!is_a && !str_ends(t->name, ".lora_b"))
            return loco_error_set(LOCO_ERR_FORMAT, "%s: tensor %s is neither .lora_a nor .lora_b",
                                  file, t->name);
        char base_name[LOCO_GGUF_MAX_NAME];
        size_t len = strlen(t->name) - strlen(".lora_a");
        memcpy(base_name, t->name, len);
        base_name[len] = '\0';
        if (str_ends(base_name, "_norm.weight"))
            continue; /* llama.cpp ignores these too */
        int il = 0;
        enum loco_lora_target tg = LOCO_LORA_Q;
        int rc = parse_base_name(a, file, base_name, &il, &tg);
        if (!rc)
            rc = bind_half(a, t, is_a, il, tg);
        if (rc)
            return rc;
    }
    return check_pairs(a, base);
}

struct loco_adapter *loco_adapter_load(const char *path, const struct loco_model *base)
{
    if (!path || !base) {
        loco_error_set(LOCO_ERR_INVALID, "loco_adapter_load: path and base are required");
        return NULL;
    }
    struct loco_adapter *a = calloc(1, sizeof *a);
    if (!a) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory loading %s", path);
        return NULL;
    }
    snprintf(a->info.path, sizeof a->info.path, "%s", path);
    a->base = base;
    a->n_layer = loco_model_hparams(base)->n_layer;
    a->id = atomic_fetch_add(&next_id, 1);
    a->gguf = loco_gguf_open(path);
    a->pairs = calloc((size_t)a->n_layer * LOCO_LORA_N_TARGETS, sizeof *a->pairs);
    int rc = !a->gguf ? LOCO_ERR_FORMAT
             : !a->pairs ? loco_error_set(LOCO_ERR_NOMEM, "out of memory loading %s", path)
                         : LOCO_OK;
    if (!rc)
        rc = check_meta(a, base);
    if (!rc)
        rc = bind_tensors(a, base);
    if (rc) {
        loco_adapter_free(a);
        return NULL;
    }
    a->info.file_bytes = loco_gguf_file_size(a->gguf);
    return a;
}

void loco_adapter_free(struct loco_adapter *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->pairs && i < (size_t)a->n_layer * LOCO_LORA_N_TARGETS; i++) {
        free(a->pairs[i].bt);
        free((void *)a->pairs[i].aq.data);
    }
    free(a->pairs);
    loco_gguf_close(a->gguf);
    free(a);
}

const struct loco_adapter_info *loco_adapter_info(const struct loco_adapter *a)
{
    return &a->info;
}

uint64_t loco_adapter_id(const struct loco_adapter *a)
{
    return a->id;
}

/* ---- writing -------------------------------------------------------------- */

static int convert_into(const float *src, size_t n, enum loco_type type, void **out)
{
    size_t es = type == LOCO_TYPE_F32 ? 4 : 2;
    unsigned char *dst = malloc(n * es + 1);
    if (!dst)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory writing an adapter");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(src[i])) {
            free(dst);
            return loco_error_set(LOCO_ERR_INVALID, "adapter value %zu is not finite", i);
        }
        if (type == LOCO_TYPE_F32) {
            memcpy(dst + 4 * i, &src[i], 4);
        } else {
            uint16_t h = type == LOCO_TYPE_F16 ? loco_fp32_to_fp16(src[i])
                                               : loco_fp32_to_bf16(src[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
    }
    *out = dst;
    return LOCO_OK;
}

static int write_meta(struct loco_gguf_writer *w, const struct loco_adapter_meta *meta)
{
    int rc = loco_gguf_writer_set_str(w, "general.architecture", meta->arch);
    if (!rc)
        rc = loco_gguf_writer_set_str(w, "general.type", "adapter");
    if (!rc)
        rc = loco_gguf_writer_set_str(w, "adapter.type", "lora");
    if (!rc)
        rc = loco_gguf_writer_set_f32(w, "adapter.lora.alpha", meta->alpha);
    if (!rc && meta->name && meta->name[0]) {
        rc = loco_gguf_writer_set_str(w, "general.name", meta->name);
        if (!rc)
            rc = loco_gguf_writer_set_str(w, "locollm.adapter.name", meta->name);
    }
    if (!rc && meta->domain && meta->domain[0]) {
        rc = loco_gguf_writer_set_str(w, "locollm.adapter.domain", meta->domain);
        if (!rc)
            rc = loco_gguf_writer_set_str(w, "adapter.lora.task_name", meta->domain);
    }
    if (!rc && meta->base_sha256 && meta->base_sha256[0])
        rc = loco_gguf_writer_set_str(w, "locollm.base.sha256", meta->base_sha256);
    if (!rc && meta->base_name && meta->base_name[0])
        rc = loco_gguf_writer_set_str(w, "locollm.base.name", meta->base_name);
    for (size_t i = 0; !rc && i < meta->n_extra; i++)
        rc = loco_gguf_writer_set_str(w, meta->extra_keys[i], meta->extra_values[i]);
    return rc;
}

int loco_adapter_write(const char *path, const struct loco_adapter_meta *meta,
                       const struct loco_lora_pair *pairs, size_t n_pairs, enum loco_type type)
{
    if (!path || !meta || !meta->arch || !meta->arch[0] || (!pairs && n_pairs))
        return loco_error_set(LOCO_ERR_INVALID, "adapter write: path, meta and meta->arch are "
                              "required");
    if (type != LOCO_TYPE_F32 && type != LOCO_TYPE_F16 && type != LOCO_TYPE_BF16)
        return loco_error_set(LOCO_ERR_INVALID, "adapters are stored as F32, F16 or BF16, not %s",
                              loco_type_name(type));
    if (!n_pairs)
        return loco_error_set(LOCO_ERR_INVALID, "an adapter needs at least one LoRA pair");
    if (!alpha_ok(meta->alpha))
        return loco_error_set(LOCO_ERR_INVALID,
                              "adapter alpha %g is not usable; expected a finite number in "
                              "[0, %g]",
                              (double)meta->alpha, (double)ALPHA_MAX);
    struct loco_gguf_writer *w = loco_gguf_writer_init();
    void **bufs = calloc(2 * n_pairs, sizeof *bufs);
    int rc = w && bufs ? write_meta(w, meta)
                       : loco_error_set(LOCO_ERR_NOMEM, "out of memory writing %s", path);
    for (size_t i = 0; !rc && i < n_pairs; i++) {
        const struct loco_lora_pair *p = &pairs[i];
        if ((unsigned)p->target >= LOCO_LORA_N_TARGETS || p->layer < 0 || p->rank <= 0 ||
            p->n_in <= 0 || p->n_out <= 0 || !p->a || !p->b) {
            rc = loco_error_set(LOCO_ERR_INVALID, "adapter write: pair %zu is malformed", i);
            break;
        }
        char name[LOCO_GGUF_MAX_NAME];
        int64_t ne_a[2] = {p->n_in, p->rank}, ne_b[2] = {p->rank, p->n_out};
        rc = convert_into(p->a, (size_t)(p->n_in * p->rank), type, &bufs[2 * i]);
        if (!rc)
            rc = convert_into(p->b, (size_t)(p->n_out * p->rank), type, &bufs[2 * i + 1]);
        snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", p->layer,
                 targets[p->target].tensor);
        if (!rc)
            rc = loco_gguf_writer_add_tensor(w, name, type, 2, ne_a, bufs[2 * i]);
        snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", p->layer,
                 targets[p->target].tensor);
        if (!rc)
            rc = loco_gguf_writer_add_tensor(w, name, type, 2, ne_b, bufs[2 * i + 1]);
    }
    if (!rc)
        rc = loco_gguf_writer_write(w, path);
    for (size_t i = 0; bufs && i < 2 * n_pairs; i++)
        free(bufs[i]);
    free(bufs);
    loco_gguf_writer_free(w);
    return rc;
}
