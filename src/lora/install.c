/*
 * install.c - `loco adapters install SOURCE`: resolve, fetch, verify, and
 * register one shared adapter, or leave nothing behind (loco/install.h has
 * the steps; docs/sharing.md the user's view).
 *
 * Everything happens in a staging folder inside the adapters folder (so the
 * final rename stays on one file system) under an flock that serializes
 * installs; a staging folder met while holding the lock is a killed
 * install's and is removed. Downloads reuse the model cache's downloader
 * (src/models/fetch.c) and its sha256 (src/models/files.c). A bundle is
 * opened by install_bundle.c and the overlay entry written by
 * install_entry.c (install_internal.h lists the files).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/util.h"
#include "loco/gguf.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "loco/peft.h"
#include "loco/registry.h"
#include "lora/install_internal.h"
#include "lora/shape.h"
#include "models/models_internal.h"

struct loco_install_params loco_install_default_params(void)
{
    return (struct loco_install_params){.limits = loco_install_default_limits()};
}

/* ---- progress with a size cap ---------------------------------------------- */

struct capped {
    const struct install_job *j;
    uint64_t cap;
    bool over;
};

static int capped_progress(void *user, enum loco_models_stage stage, const char *what,
                           uint64_t done, uint64_t total)
{
    struct capped *c = user;
    if (stage == LOCO_MODELS_STAGE_DOWNLOAD && done > c->cap) {
        c->over = true;
        return 1;
    }
    return c->j->p.progress ? c->j->p.progress(c->j->p.progress_user, stage, what, done, total) : 0;
}

/* ---- step 1: where SOURCE leads ------------------------------------------- */

/* The index to read: --index, $LOCO_ADAPTER_INDEX, the registry's `index:`
 * (a relative path from the project registry's folder). */
static int index_location(const struct install_job *j, char *buf, size_t cap)
{
    const char *env = getenv("LOCO_ADAPTER_INDEX");
    const char *v = j->p.index && j->p.index[0] ? j->p.index
                    : env && env[0]             ? env
                                                : loco_registry_index(j->reg);
    if (!v[0])
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "'%s' is not a file, URL or hf: reference, and no adapter index is "
                              "set to look it up in: pass --index URL|PATH, set "
                              "LOCO_ADAPTER_INDEX, or add `index: URL` to the registry",
                              j->source);
    if (strstr(v, "://") || v[0] == '/' || v != loco_registry_index(j->reg)) {
        snprintf(buf, cap, "%s", v);
        return LOCO_OK;
    }
    char dir[INSTALL_PATH];
    loco_dir_of(loco_registry_file(j->reg), dir, sizeof dir);
    int n = snprintf(buf, cap, "%s/%s", dir, v);
    return n < 0 || (size_t)n >= cap ? loco_error_set(LOCO_ERR_RANGE, "path too long") : LOCO_OK;
}

int install_check_base(const struct install_job *j, const char *base, const char *what)
{
    const struct loco_registry_base *b = loco_registry_base(j->reg);
    if (models_sha256_equal(base, b->sha256))
        return LOCO_OK;
    return loco_error_set(
        LOCO_ERR_INVALID,
        "refused: %s was trained for the base model %.12s..., but this "
        "registry's base is %s (%.12s...); an adapter only works on its own "
        "base. Install one made for %s, or retrain it on that base with `loco train`",
        what, base, b->name, b->sha256, b->name);
}

static int resolve_index(struct install_job *j)
{
    char where[INSTALL_PATH];
    int rc = index_location(j, where, sizeof where);
    if (!rc)
        rc = loco_install_index_load(where, j->p.allow_file_url, &j->idx);
    if (!rc && !(j->entry = loco_install_index_find(j->idx, j->source)))
        rc = LOCO_ERR_NOT_FOUND;
    if (!rc)
        rc = loco_install_index_file_url(j->idx, j->entry, j->res->fetch, sizeof j->res->fetch);
    if (rc)
        return rc;
    struct loco_install_result *r = j->res;
    snprintf(r->expect_sha256, sizeof r->expect_sha256, "%s", j->entry->sha256);
    r->expect_size = j->entry->size;
    snprintf(r->license, sizeof r->license, "%s", j->entry->license);
    snprintf(r->record, sizeof r->record, "%s", j->entry->record);
    snprintf(r->base_sha256, sizeof r->base_sha256, "%s", j->entry->base_sha256);
    return install_check_base(j, j->entry->base_sha256, j->source);
}

static int resolve(struct install_job *j)
{
    struct loco_install_result *r = j->res;
    int rc = install_classify(j->source, &r->kind);
    if (rc)
        return rc;
    if (j->p.sha256 && !loco_models_sha256_valid(j->p.sha256))
        return loco_error_set(LOCO_ERR_INVALID, "--sha256 '%s' is not 64 hex digits", j->p.sha256);
    if (j->p.sha256)
        for (size_t i = 0; i < LOCO_SHA256_HEX_LEN; i++)
            r->expect_sha256[i] = (char)(j->p.sha256[i] | 0x20); /* lowercase */
    switch (r->kind) {
    case LOCO_INSTALL_INDEX:
        rc = resolve_index(j);
        break;
    case LOCO_INSTALL_HF:
        rc = install_hf_resolve(j->source, j->p.allow_file_url, r->fetch, sizeof r->fetch,
                                &j->hf_peft);
        break;
    case LOCO_INSTALL_URL:
        rc = models_check_url(j->source, j->p.allow_file_url);
        snprintf(r->fetch, sizeof r->fetch, "%s", j->source);
        break;
    default:
        snprintf(r->fetch, sizeof r->fetch, "%s", j->source);
    }
    if (!rc && j->p.sha256 && j->entry && !models_sha256_equal(j->entry->sha256, j->p.sha256))
        rc = loco_error_set(LOCO_ERR_CHECKSUM, "--sha256 %s differs from the index's %s for '%s'",
                            j->p.sha256, j->entry->sha256, j->source);
    return rc;
}

/* ---- step 2: the staging folder ------------------------------------------ */

static void remove_stale(const char *adir)
{
    DIR *d = opendir(adir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[INSTALL_PATH];
        if (strncmp(e->d_name, ".install-", 9) != 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", adir, e->d_name) < (int)sizeof path)
            install_rm_tree(path);
    }
    if (d)
        closedir(d);
}

static int open_stage(struct install_job *j)
{
    int rc = loco_models_mkdirs(j->adir);
    if (rc)
        return rc;
    /* the lock is on the folder itself, so no lock file is left in it */
    j->lock = open(j->adir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->lock < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot open %s: %s", j->adir, strerror(errno));
    if (flock(j->lock, LOCK_EX | LOCK_NB) != 0)
        return loco_error_set(
            LOCO_ERR_IO, "another `loco adapters install` is running on %s; wait for it", j->adir);
    remove_stale(j->adir);
    if ((rc = models_join(j->stage, sizeof j->stage, j->adir, ".install-XXXXXX")))
        j->stage[0] = '\0';
    else if (!mkdtemp(j->stage)) {
        rc = loco_error_set(LOCO_ERR_IO, "cannot create a folder in %s: %s", j->adir,
                            strerror(errno));
        j->stage[0] = '\0';
    }
    return rc;
}

int install_stage_path(const struct install_job *j, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", j->stage, name);
    return n < 0 || (size_t)n >= cap ? loco_error_set(LOCO_ERR_RANGE, "path too long") : LOCO_OK;
}

/* ---- step 3: fetch and verify -------------------------------------------- */

static int download(const struct install_job *j, const char *url, const char *dst, uint64_t cap)
{
    struct capped c = {.j = j, .cap = cap};
    struct models_progress pr = {capped_progress, &c};
    int rc = models_fetch_file(url, dst, j->p.allow_file_url, j->res->expect_size, &pr);
    if (rc && c.over)
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "refused: %s sends more than %llu bytes%s; nothing was installed",
                              url, (unsigned long long)cap,
                              j->res->expect_size ? " (the index's size)" : " (the limit)");
    if (rc)
        loco_error_prefix("nothing was installed");
    return rc;
}

/* Size and sha256 of the fetched file against what was promised. */
static int verify_fetched(const struct install_job *j, const char *path)
{
    const struct loco_install_result *r = j->res;
    int64_t size = models_file_size(path);
    if (r->expect_size && (size < 0 || (uint64_t)size != r->expect_size))
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "refused: %s has %lld bytes, the index says %llu; nothing was "
                              "installed",
                              r->fetch, (long long)size, (unsigned long long)r->expect_size);
    if (!r->expect_sha256[0])
        return LOCO_OK;
    char hex[LOCO_SHA256_HEX_LEN + 1];
    struct models_progress pr = {j->p.progress, j->p.progress_user};
    int rc = models_sha256_file(path, hex, &pr);
    if (rc)
        return rc;
    if (!models_sha256_equal(hex, r->expect_sha256))
        return loco_error_set(
            LOCO_ERR_CHECKSUM, "refused: %s hashes to %s, expected %s (%s); nothing was installed",
            r->fetch, hex, r->expect_sha256, j->entry ? "the index's sha256" : "--sha256");
    return LOCO_OK;
}

static bool is_zip(const char *path)
{
    unsigned char m[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(m, 1, 4, f) : 0;
    if (f)
        fclose(f);
    return n == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}

/* ---- step 4: a PEFT folder ------------------------------------------------- */

static int import_peft(struct install_job *j, const char *dir)
{
    char model[INSTALL_PATH];
    int rc = loco_models_resolve(j->p.model ? j->p.model : "default", model, sizeof model);
    if (rc)
        return rc;
    struct loco_model_params mp = loco_model_default_params();
    mp.load_tokenizer = false;
    struct loco_model *base = loco_model_load(model, mp);
    if (!base)
        return LOCO_ERR_FORMAT;
    struct loco_peft_import_params ip = loco_peft_import_default_params();
    ip.name = j->p.name;
    ip.domain = j->p.domain;
    rc = install_stage_path(j, "imported.gguf", j->gguf, sizeof j->gguf);
    if (!rc)
        rc = loco_peft_import(dir, base, j->gguf, &ip, NULL);
    loco_model_free(base);
    return rc;
}

/* A hf: repo's PEFT pair into stage/peft/, then imported. */
static int fetch_hf_peft(struct install_job *j)
{
    static const char *const files[] = {"adapter_config.json", "adapter_model.safetensors"};
    char dir[INSTALL_PATH], url[INSTALL_PATH], dst[INSTALL_PATH];
    int rc = install_stage_path(j, "peft", dir, sizeof dir);
    if (!rc && mkdir(dir, 0755) != 0)
        rc = loco_error_set(LOCO_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    for (int k = 0; k < 2 && !rc; k++) {
        int n = snprintf(url, sizeof url, "%s%s", j->res->fetch, files[k]);
        rc = n < 0 || (size_t)n >= sizeof url ? loco_error_set(LOCO_ERR_RANGE, "URL too long")
                                              : models_join(dst, sizeof dst, dir, files[k]);
        if (!rc)
            rc = download(j, url, dst, j->p.limits.max_bytes);
    }
    return rc ? rc : import_peft(j, dir);
}

/* Steps 2 to 4: j->gguf names the adapter file inside the staging folder. */
static int fetch(struct install_job *j)
{
    struct loco_install_result *r = j->res;
    char got[INSTALL_PATH];
    uint64_t cap = r->expect_size ? r->expect_size : j->p.limits.max_bytes;
    if (r->kind == LOCO_INSTALL_PEFT)
        return import_peft(j, j->source);
    if (j->hf_peft)
        return fetch_hf_peft(j);
    int rc = install_stage_path(j, "download", got, sizeof got);
    if (!rc && !strstr(r->fetch, "://")) /* a path: given, or an index's file beside it */
        rc = install_copy_file(r->fetch, got, cap);
    else if (!rc)
        rc = download(j, r->fetch, got, cap);
    if (!rc)
        rc = verify_fetched(j, got);
    if (rc)
        return rc;
    if (is_zip(got)) {
        r->kind = r->kind == LOCO_INSTALL_FILE ? LOCO_INSTALL_BUNDLE : r->kind;
        return install_unpack_bundle(j, got);
    }
    snprintf(j->gguf, sizeof j->gguf, "%s", got);
    return LOCO_OK;
}

/* ---- step 5: is it an adapter for our base? ------------------------------- */

static int read_adapter(const char *path, const char *what, struct install_meta *m)
{
    struct loco_gguf *g = loco_gguf_open(path);
    char type[32] = "";
    if (!g)
        return loco_error_set(LOCO_ERR_FORMAT, "refused: %s is not a GGUF file (%s)", what,
                              loco_error_message());
    memset(m, 0, sizeof *m);
    loco_gguf_get_str_buf(g, "general.type", type, sizeof type);
    loco_gguf_get_str_buf(g, "general.architecture", m->arch, sizeof m->arch);
    loco_gguf_get_str_buf(g, "locollm.base.sha256", m->base, sizeof m->base);
    if (loco_gguf_get_str_buf(g, "locollm.adapter.name", m->name, sizeof m->name) != LOCO_OK)
        loco_gguf_get_str_buf(g, "general.name", m->name, sizeof m->name);
    loco_gguf_get_str_buf(g, "locollm.adapter.domain", m->domain, sizeof m->domain);
    loco_gguf_get_str_buf(g, "locollm.train.data", m->data, sizeof m->data);
    if (loco_gguf_get_f32(g, "adapter.lora.alpha", &m->alpha) != LOCO_OK)
        m->alpha = 0;
    lora_gguf_shape(g, &m->rank, &m->targets);
    loco_gguf_close(g);
    loco_error_clear();
    if (strcmp(type, "adapter") != 0 || m->rank <= 0)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "refused: %s is a GGUF but not a LoRA adapter (general.type '%s', "
                              "no lora_a tensors); install adapters, not models",
                              what, type);
    return LOCO_OK;
}

static int check_adapter(struct install_job *j, struct install_meta *m)
{
    const struct loco_registry_base *b = loco_registry_base(j->reg);
    int rc = read_adapter(j->gguf, j->res->fetch, m);
    if (rc)
        return rc;
    if (strcmp(m->arch, b->architecture) != 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "refused: %s adapts a '%s' model, this registry's base %s is '%s'; "
                              "install an adapter made for %s",
                              j->res->fetch, m->arch, b->name, b->architecture, b->name);
    j->res->base_recorded = m->base[0] != '\0';
    if (m->base[0] && (rc = install_check_base(j, m->base, j->res->fetch)))
        return rc;
    snprintf(j->res->base_sha256, sizeof j->res->base_sha256, "%s", b->sha256);
    j->res->rank = m->rank;
    j->res->alpha = m->alpha > 0 ? m->alpha : m->rank;
    return LOCO_OK;
}

/* ---- step 6: name, domain, register ---------------------------------------- */

static const char *first_of(const char *a, const char *b, const char *c, const char *d)
{
    return a && a[0] ? a : b && b[0] ? b : c && c[0] ? c : d ? d : "";
}

/* The file's name without folder and extension. */
static void stem_of(const char *path, char *buf, size_t cap)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    size_t n = strcspn(s, "?#");
    const char *dot = memchr(s, '.', n);
    snprintf(buf, cap, "%.*s", (int)(dot ? (size_t)(dot - s) : n), s);
}

static int choose_names(struct install_job *j, const struct install_meta *m)
{
    struct loco_install_result *r = j->res;
    char stem[128];
    stem_of(r->kind == LOCO_INSTALL_PEFT ? j->source : r->fetch, stem, sizeof stem);
    snprintf(r->name, sizeof r->name, "%s",
             first_of(j->p.name, j->entry ? j->entry->name : NULL, j->meta_name,
                      m && m->name[0] ? m->name : stem));
    snprintf(r->domain, sizeof r->domain, "%s",
             first_of(j->p.domain, j->entry ? j->entry->domain : NULL, j->meta_domain,
                      m ? m->domain : NULL));
    bool from_file = !(j->p.name && j->p.name[0]) && !j->entry && !j->meta_name[0] && !m;
    if (from_file) { /* before fetching: the file's own metadata may name it */
        r->name[0] = '\0';
        return LOCO_OK;
    }
    if (!install_name_valid(r->name))
        return loco_error_set(LOCO_ERR_INVALID,
                              "'%s' is not an adapter name (lowercase letters, digits, '.', '_', "
                              "'-'; at most 63); give one with --name NAME",
                              r->name);
    if (loco_registry_find(j->reg, r->name))
        return loco_error_set(LOCO_ERR_INVALID,
                              "an adapter named '%s' is already in the registry; install under "
                              "another name with --name NAME, or `loco adapters remove %s "
                              "--delete-file` first",
                              r->name, r->name);
    loco_error_clear();
    if (m && !r->domain[0])
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s does not say which domain it serves; give --domain D", r->fetch);
    if (r->domain[0] && !loco_registry_find_domain(j->reg, r->domain))
        return loco_error_set(LOCO_ERR_INVALID,
                              "the registry has no domain '%s'; give --domain with one of its "
                              "domains (loco registry validate lists them)",
                              r->domain);
    int n = snprintf(r->path, sizeof r->path, "%s/%s.gguf", j->adir, r->name);
    if (n < 0 || (size_t)n >= sizeof r->path)
        return loco_error_set(LOCO_ERR_RANGE, "path too long: %s", j->adir);
    if (models_file_size(r->path) >= 0 || access(r->path, F_OK) == 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s already exists (an adapter not in your registry); install under "
                              "another name with --name NAME, or move it away",
                              r->path);
    return LOCO_OK;
}
static int commit(struct install_job *j, const struct install_meta *m,
                  const struct loco_registry_params *rp)
{
    struct loco_install_result *r = j->res;
    int rc = loco_models_sha256_file(j->gguf, r->sha256);
    if (rc)
        return rc;
    r->size = (uint64_t)models_file_size(j->gguf);
    if (link(j->gguf, r->path) != 0)
        return loco_error_set(LOCO_ERR_IO, "cannot create %s: %s", r->path, strerror(errno));
    rc = install_add_entry(j, m, rp);
    if (rc) {
        unlink(r->path);
        loco_error_prefix("nothing was installed");
    }
    return rc;
}

/* ---- the whole install ------------------------------------------------------ */

/* What a dry run can tell without fetching: a local .gguf is read in place. */
static int dry_run(struct install_job *j)
{
    struct install_meta m;
    j->res->dry_run = true;
    if (j->res->kind != LOCO_INSTALL_FILE)
        return choose_names(j, NULL);
    snprintf(j->gguf, sizeof j->gguf, "%s", j->source);
    int rc = check_adapter(j, &m);
    return rc ? rc : choose_names(j, &m);
}

static int run(struct install_job *j, const struct loco_registry_params *rp)
{
    int rc = resolve(j);
    if (!rc && j->p.dry_run)
        return dry_run(j);
    if (!rc)
        rc = choose_names(j, NULL); /* refuse a taken name before fetching anything */
    if (!rc)
        rc = open_stage(j);
    if (!rc)
        rc = fetch(j);
    struct install_meta m;
    if (!rc)
        rc = check_adapter(j, &m);
    if (!rc)
        rc = choose_names(j, &m);
    if (!rc)
        rc = commit(j, &m, rp);
    return rc;
}

int loco_install(const char *source, const struct loco_install_params *p,
                 struct loco_install_result *out)
{
    struct loco_install_result res_local;
    struct install_job j = {
        .source = source, .p = p ? *p : loco_install_default_params(), .lock = -1};
    j.res = out ? out : &res_local;
    memset(j.res, 0, sizeof *j.res);
    const char *env = getenv("LOCO_ALLOW_FILE_URL");
    j.p.allow_file_url |= env && strcmp(env, "1") == 0;
    if (!source || !source[0])
        return loco_error_set(LOCO_ERR_INVALID, "what to install? give a name, URL, hf: "
                                                "reference or path");
    struct loco_registry_params rp = loco_registry_default_params();
    rp.project_path = j.p.registry;
    int rc = loco_adapters_dir(j.adir, sizeof j.adir);
    if (!rc)
        rc = loco_registry_user_path(j.res->overlay, sizeof j.res->overlay);
    if (!rc && !(j.reg = loco_registry_load(&rp)))
        rc = LOCO_ERR_FORMAT;
    if (!rc)
        rc = run(&j, &rp);
    if (j.stage[0])
        install_rm_tree(j.stage);
    if (j.lock >= 0)
        close(j.lock);
    loco_install_index_free(j.idx);
    cJSON_Delete(j.meta_entry);
    loco_registry_free(j.reg);
    return rc;
}
