/*
 * check.c - what `loco registry validate` checks beyond the schema: the
 * files the registry points at. Each adapter file must exist, hash to its
 * recorded sha256, be a LoRA adapter GGUF for the base's architecture that
 * records (when it records one) the same base sha256, and carry the rank,
 * alpha and targets the registry claims. Score records must exist. The base
 * model file is hashed when it is in the model cache (it often is not, on
 * CI; its pinned sha256 is compared with the known-models table instead).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loco/gguf.h"
#include "loco/lora.h"
#include "loco/models.h"
#include "lora/shape.h"
#include "registry/registry_internal.h"

static const struct rnode *adapter_node(const struct loco_registry *r, size_t i)
{
    const struct rnode *seq = rnode_get(r->tree, "adapters");
    return seq && i < seq->n ? seq->kids[i] : NULL;
}

static void field(char *buf, size_t cap, const struct loco_registry_adapter *a, const char *key)
{
    snprintf(buf, cap, "adapters[%s].%s", a->name, key);
}

/* The targets the entry claims; false when one of them is not a projection
 * (the schema check reported it; comparing would only repeat it). */
static bool claimed_targets(const struct loco_registry_adapter *a, unsigned *mask)
{
    bool ok = true;
    *mask = 0;
    for (size_t i = 0; i < a->targets.n; i++) {
        enum loco_lora_target t;
        if (loco_lora_target_parse(a->targets.v[i], &t) == LOCO_OK)
            *mask |= LOCO_LORA_TARGET_BIT(t);
        else
            ok = false;
    }
    loco_error_clear();
    return ok;
}

static void check_gguf_meta(struct loco_registry *r, const struct loco_registry_adapter *a,
                            const struct loco_gguf *g, const struct rnode *m)
{
    char f[160], v[128];
    if (loco_gguf_get_str_buf(g, "general.type", v, sizeof v) != LOCO_OK ||
        strcmp(v, "adapter") != 0)
        registry_problem(r, NULL, a->path, "general.type", v,
                         "not a LoRA adapter GGUF (adapters[%s].file)", a->name);
    if (loco_gguf_get_str_buf(g, "general.architecture", v, sizeof v) == LOCO_OK &&
        r->base.architecture[0] && strcmp(v, r->base.architecture) != 0)
        registry_problem(r, NULL, a->path, "general.architecture", v,
                         "adapter is for another architecture; the registry's base is %s",
                         r->base.architecture);
    if (loco_gguf_get_str_buf(g, "locollm.base.sha256", v, sizeof v) == LOCO_OK) {
        if (strcmp(v, a->base_sha256) != 0) {
            field(f, sizeof f, a, "base_sha256");
            registry_problem(r, rnode_get(m, "base_sha256"), NULL, f, a->base_sha256,
                             "the adapter file %s records base %s (locollm.base.sha256); the "
                             "entry must say what the file says",
                             a->path, v);
        } else if (r->base.sha256[0] && strcmp(v, r->base.sha256) != 0) {
            registry_problem(r, NULL, a->path, "locollm.base.sha256", v,
                             "trained for another base than this registry's (%s)",
                             r->base.sha256);
        }
    }
    /* rank and alpha are 0 when the entry's value was refused by the schema
     * check: that problem is already listed with the value as written, so
     * the file is not compared with a value nobody wrote */
    float alpha;
    if (a->alpha > 0 && loco_gguf_get_f32(g, "adapter.lora.alpha", &alpha) == LOCO_OK &&
        fabs((double)alpha - a->alpha) > 1e-4 * fmax(1.0, a->alpha)) {
        field(f, sizeof f, a, "lora.alpha");
        snprintf(v, sizeof v, "%g", a->alpha);
        registry_problem(r, rnode_get(rnode_get(m, "lora"), "alpha"), NULL, f, v,
                         "the file says adapter.lora.alpha = %g",
                         (double)alpha);
    }
    int32_t rank;
    unsigned targets, claimed;
    lora_gguf_shape(g, &rank, &targets);
    if (a->rank > 0 && rank != a->rank) {
        field(f, sizeof f, a, "lora.rank");
        snprintf(v, sizeof v, "%d", a->rank);
        registry_problem(r, rnode_get(rnode_get(m, "lora"), "rank"), NULL, f, v,
                         "the file's LoRA tensors have rank %d", rank);
    }
    if (claimed_targets(a, &claimed) && a->targets.n > 0 && targets != claimed) {
        char list[64] = "";
        for (int t = 0; t < LOCO_LORA_N_TARGETS; t++)
            if (targets & LOCO_LORA_TARGET_BIT(t))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         list[0] ? ", " : "", loco_lora_target_name((enum loco_lora_target)t));
        field(f, sizeof f, a, "lora.targets");
        registry_problem(r, rnode_get(rnode_get(m, "lora"), "targets"), NULL, f, "",
                         "the file adapts [%s]; list exactly those", list);
    }
    loco_error_clear();
}

static void check_adapter_file(struct loco_registry *r, const struct loco_registry_adapter *a,
                               const struct rnode *m)
{
    char f[160];
    char hex[LOCO_SHA256_HEX_LEN + 1];
    struct stat st;
    field(f, sizeof f, a, "file");
    if (!a->path[0])
        return; /* the schema check reported it */
    if (stat(a->path, &st) != 0) {
        registry_problem(r, rnode_get(m, "file"), NULL, f, a->file,
                         "no such file (%s); paths are relative to the registry file's folder",
                         a->path);
        return;
    }
    if (!S_ISREG(st.st_mode)) { /* a FIFO would hang the hash; a folder is a mistake */
        registry_problem(r, rnode_get(m, "file"), NULL, f, a->file,
                         "%s is not a regular file (a folder, FIFO or device)", a->path);
        return;
    }
    if (loco_models_sha256_file(a->path, hex) != LOCO_OK) {
        registry_problem(r, rnode_get(m, "file"), NULL, f, a->file, "cannot read it: %s",
                         loco_error_message());
        return;
    }
    if (a->sha256[0] && strcmp(hex, a->sha256) != 0) {
        field(f, sizeof f, a, "sha256");
        registry_problem(r, rnode_get(m, "sha256"), NULL, f, a->sha256,
                         "%s hashes to %s; if the file is the right one, record that", a->path,
                         hex);
    }
    struct loco_gguf *g = loco_gguf_open(a->path);
    if (!g) {
        registry_problem(r, NULL, a->path, "", "", "not a readable GGUF: %s",
                         loco_error_message());
        return;
    }
    check_gguf_meta(r, a, g, m);
    loco_gguf_close(g);
}

static void check_records(struct loco_registry *r, const struct loco_registry_adapter *a,
                          const struct rnode *m)
{
    const struct rnode *seq = rnode_get(m, "scores");
    for (size_t i = 0; seq && seq->kind == RNODE_SEQ && i < seq->n; i++) {
        const struct rnode *rec = rnode_get(seq->kids[i], "record");
        if (!rnode_has_text(rec) || !registry_path_allowed(r, rec, REGISTRY_ROOT_PROJECT, NULL, 0))
            continue; /* a path that leaves the project was reported by the schema check */
        char path[2 * LOCO_REGISTRY_PATH_MAX];
        const char *slash = rec->file ? strrchr(rec->file, '/') : NULL;
        if (rec->str[0] == '/' || !slash)
            snprintf(path, sizeof path, "%s", rec->str);
        else
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - rec->file), rec->file, rec->str);
        struct stat st;
        if (stat(path, &st) != 0) {
            char f[200];
            snprintf(f, sizeof f, "adapters[%s].scores[%zu].record", a->name, i);
            registry_problem(r, rec, NULL, f, rec->str,
                             "no such evaluation record (%s); scores come from records: "
                             "re-run `loco eval` or remove the entry",
                             path);
        }
    }
}

/* provenance.recipe and training_log, when they are paths that exist
 * nowhere, are reported (a recipe may also be a description, e.g. a URL). */
static void check_provenance(struct loco_registry *r, const struct loco_registry_adapter *a,
                             const struct rnode *m)
{
    static const char *const keys[] = {"training_log"};
    const struct rnode *pv = rnode_get(m, "provenance");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const struct rnode *n = rnode_get(pv, keys[k]);
        if (!rnode_has_text(n) || strstr(n->str, "://") ||
            !registry_path_allowed(r, n, REGISTRY_ROOT_FOLDER, NULL, 0))
            continue; /* a path that leaves the folder was reported by the schema check */
        char path[2 * LOCO_REGISTRY_PATH_MAX];
        const char *slash = n->file ? strrchr(n->file, '/') : NULL;
        if (n->str[0] == '/' || !slash)
            snprintf(path, sizeof path, "%s", n->str);
        else
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - n->file), n->file, n->str);
        struct stat st;
        if (stat(path, &st) != 0) {
            char f[200];
            snprintf(f, sizeof f, "adapters[%s].provenance.%s", a->name, keys[k]);
            registry_problem(r, n, NULL, f, n->str,
                             "no such file (%s); paths are relative to the registry's folder",
                             path);
        }
    }
}

/* The base model's file in the model cache, and only there: a name with a
 * folder in it, or a cache entry that is a symlink leading out of the cache,
 * is not hashed (the schema check reported a path). */
static bool cached_base(const char *file, char *path, size_t cap)
{
    char dir[LOCO_MODELS_PATH_MAX], real_dir[PATH_MAX], real[PATH_MAX];
    if (!file[0] || strchr(file, '/') || strcmp(file, "..") == 0 || strcmp(file, ".") == 0 ||
        loco_models_dir(dir, sizeof dir) != LOCO_OK || !realpath(dir, real_dir))
        return false;
    int n = snprintf(path, cap, "%s/%s", dir, file);
    size_t len = strlen(real_dir);
    struct stat st;
    return n > 0 && (size_t)n < cap && realpath(path, real) && strncmp(real, real_dir, len) == 0 &&
           real[len] == '/' && stat(real, &st) == 0 && S_ISREG(st.st_mode);
}

static void check_base(struct loco_registry *r)
{
    const struct loco_registry_base *b = &r->base;
    const struct rnode *bn = rnode_get(r->tree, "base_model");
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        if (b->file[0] && strcmp(k->gguf_file, b->file) == 0 && b->sha256[0] &&
            strcmp(k->gguf_sha256, b->sha256) != 0)
            registry_problem(r, rnode_get(bn, "sha256"), NULL, "base_model.sha256", b->sha256,
                             "the known model '%s' (%s) is pinned to %s", k->name, k->gguf_file,
                             k->gguf_sha256);
    }
    char path[LOCO_MODELS_PATH_MAX], hex[LOCO_SHA256_HEX_LEN + 1];
    if (!cached_base(b->file, path, sizeof path)) {
        loco_error_clear(); /* not pulled here: nothing to hash */
        return;
    }
    if (loco_models_sha256_file(path, hex) == LOCO_OK && b->sha256[0] &&
        strcmp(hex, b->sha256) != 0)
        registry_problem(r, rnode_get(bn, "sha256"), NULL, "base_model.sha256", b->sha256,
                         "the base model file %s hashes to %s", path, hex);
    loco_error_clear();
}

size_t loco_registry_check_files(struct loco_registry *r)
{
    check_base(r);
    for (size_t i = 0; i < r->n_adapters; i++) {
        const struct rnode *m = adapter_node(r, i);
        check_adapter_file(r, &r->adapters[i], m);
        check_records(r, &r->adapters[i], m);
        check_provenance(r, &r->adapters[i], m);
    }
    return r->n_problems;
}
