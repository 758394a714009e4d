/*
 * pack.c - `loco adapters pack`: one registry entry and its evidence into
 * a submission bundle (loco/bundle.h has the layout).
 *
 * Every file is read into memory once: hashed for the manifest and handed
 * to libzip from the same bytes, so the manifest describes exactly what the
 * zip holds even if a file changes while we pack. The archive is built in
 * memory and written with loco_file_write_atomic's three steps (temporary
 * file, fsync, rename): a reader never sees half a bundle.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zip.h>

#include "core/json_get.h"
#include "core/util.h"
#include "loco/bundle.h"
#include "loco/fileio.h"
#include "loco/report.h"

#ifndef LOCO_VERSION
#define LOCO_VERSION "unknown"
#endif

/* Largest file packed (an adapter of a bigger base is still far below). */
#define PACK_MAX_FILE ((size_t)4 << 30)

/* A file on its way into the bundle: bytes in memory, its bundle path. */
struct pack_item {
    struct loco_bundle_file f;
    char *data; /* malloc'd */
    size_t len;
};

struct pack {
    struct pack_item items[LOCO_BUNDLE_MAX_FILES];
    size_t n;
    /* the records: source path -> bundle path, for the entry's scores */
    char record_src[LOCO_BUNDLE_MAX_FILES][PATH_MAX];
    char record_dst[LOCO_BUNDLE_MAX_FILES][LOCO_BUNDLE_PATH_MAX];
    size_t n_records;
};

static void pack_free(struct pack *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].data);
    p->n = 0;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Take `data` (ownership passes) as bundle file `path` with `role`. */
static int add_bytes(struct pack *p, const char *path, const char *role, char *data, size_t len)
{
    if (p->n >= LOCO_BUNDLE_MAX_FILES || !loco_bundle_path_safe(path)) {
        free(data);
        return loco_error_set(LOCO_ERR_RANGE,
                              "pack: cannot add '%s' (too many files or an odd name)", path);
    }
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].f.path, path)) {
            free(data);
            return loco_error_set(LOCO_ERR_INVALID,
                                  "pack: two files would both be '%s' in the bundle: give the "
                                  "records distinct names",
                                  path);
        }
    struct pack_item *it = &p->items[p->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->f.path, sizeof it->f.path, "%s", path);
    snprintf(it->f.role, sizeof it->f.role, "%s", role);
    it->data = data;
    it->len = len;
    it->f.size = len;
    sha256_hex(data, len, it->f.sha256);
    return LOCO_OK;
}

/* Read `src` (a path on disk) whole and add it as `path`. `what` and `fix`
 * make the refusal when it cannot be read. */
static int add_file(struct pack *p, const char *src, const char *path, const char *role,
                    const char *what, const char *fix)
{
    char *data = NULL;
    size_t len = 0;
    if (loco_read_regular_file(src, PACK_MAX_FILE, &data, &len) != LOCO_OK)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "pack: %s %s cannot be read (%s): %s", what, src,
                              loco_error_message(), fix);
    return add_bytes(p, path, role, data, len);
}

/* "dir/name" into buf; "" when it does not fit. */
static void join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        buf[0] = '\0';
}

/* `rel` (as a registry field writes it) resolved against the folder of
 * the registry file `source`; "" when rel is empty or a URL. */
static void resolve(const char *source, const char *rel, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!rel || !rel[0] || strstr(rel, "://"))
        return;
    if (rel[0] == '/') {
        snprintf(buf, cap, "%s", rel);
        return;
    }
    char dir[PATH_MAX];
    loco_dir_of(source, dir, sizeof dir);
    join(buf, cap, dir, rel);
}

static bool is_file(const char *path)
{
    struct stat st;
    return path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* `name` beside `path` (a file) into buf. */
static void beside(const char *path, const char *name, char *buf, size_t cap)
{
    char dir[PATH_MAX];
    loco_dir_of(path, dir, sizeof dir);
    join(buf, cap, dir, name);
}

/* ---- the pieces ------------------------------------------------------------------ */

static int add_adapter_files(struct pack *p, const struct loco_registry_adapter *a)
{
    char path[LOCO_BUNDLE_PATH_MAX], src[PATH_MAX];
    snprintf(path, sizeof path, "adapters/%s/%s.gguf", a->name, a->name);
    int rc = add_file(p, a->path, path, "adapter", "the adapter file",
                      "check the entry's `file` (loco registry validate)");
    if (rc != LOCO_OK)
        return rc;
    resolve(a->source, a->provenance.recipe, src, sizeof src);
    if (!is_file(src))
        beside(a->path, "recipe.yaml", src, sizeof src);
    snprintf(path, sizeof path, "recipes/%s.yaml", a->name);
    rc = add_file(p, src, path, "recipe", "the recipe",
                  "set provenance.recipe to the recipe the adapter was trained with (a bundle "
                  "must be reproducible)");
    if (rc != LOCO_OK)
        return rc;
    resolve(a->source, a->provenance.training_log, src, sizeof src);
    if (!is_file(src))
        beside(a->path, "TRAINING_LOG.md", src, sizeof src);
    snprintf(path, sizeof path, "adapters/%s/TRAINING_LOG.md", a->name);
    rc = add_file(p, src, path, "training_log", "the training log",
                  "`loco train` writes TRAINING_LOG.md beside the adapter; write one from "
                  "docs/templates/TRAINING_LOG_TEMPLATE.md and set provenance.training_log");
    char svg[PATH_MAX];
    beside(src, "loss.svg", svg, sizeof svg);
    snprintf(path, sizeof path, "adapters/%s/loss.svg", a->name);
    if (rc == LOCO_OK && is_file(svg))
        rc = add_file(p, svg, path, "figure", "the loss curve", "");
    return rc;
}

/* The semester folder of a record: of its date, else the adapter's. */
static void record_semester(const char *text, const struct loco_registry_adapter *a, char *buf,
                            size_t cap)
{
    cJSON *o = cJSON_Parse(text);
    const char *date = loco_json_string(o, "date");
    if (!date || loco_results_semester(date, buf, cap) != LOCO_OK)
        snprintf(buf, cap, "%s", a->provenance.semester[0] ? a->provenance.semester : "unknown");
    cJSON_Delete(o);
    if (!loco_bundle_path_safe(buf))
        snprintf(buf, cap, "unknown");
}

/* The two reports of a record: from beside it, else rendered from it. */
static int add_reports(struct pack *p, const char *src, const char *text, const char *dst_stem)
{
    static const char *const ext[] = {".md", ".html"};
    for (int k = 0; k < 2; k++) {
        char path[LOCO_BUNDLE_PATH_MAX], disk[PATH_MAX];
        snprintf(path, sizeof path, "%s%s", dst_stem, ext[k]);
        int n = snprintf(disk, sizeof disk, "%.*s%s", (int)(strlen(src) - 5), src, ext[k]);
        int rc;
        if (n > 0 && (size_t)n < sizeof disk && is_file(disk))
            rc = add_file(p, disk, path, "report", "the report", "");
        else {
            char *r = k == 0 ? loco_report_markdown(text) : loco_report_html(text);
            rc = r ? add_bytes(p, path, "report", r, strlen(r)) : LOCO_ERR_FORMAT;
        }
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

static int add_record(struct pack *p, const struct loco_registry_adapter *a, const char *rel)
{
    char src[PATH_MAX], real[PATH_MAX];
    resolve(a->source, rel, src, sizeof src);
    if (!realpath(src, real) || !is_file(real))
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "pack: the evaluation record %s (scores of %s) is missing: run "
                              "`loco eval %s --out results/<semester>/%s-<bench>.json` again",
                              src[0] ? src : rel, a->name, a->name, a->name);
    for (size_t i = 0; i < p->n_records; i++)
        if (!strcmp(p->record_src[i], real))
            return LOCO_OK; /* cited by two scores: packed once */
    const char *base = strrchr(real, '/') + 1;
    size_t blen = strlen(base);
    if (blen < 6 || strcmp(base + blen - 5, ".json"))
        return loco_error_set(LOCO_ERR_FORMAT, "pack: the record %s is not a .json file", real);
    char *text = NULL;
    size_t len = 0;
    if (loco_report_read_file(real, &text, &len) != LOCO_OK)
        return LOCO_ERR_IO;
    char sem[32], dst[LOCO_BUNDLE_PATH_MAX], stem[LOCO_BUNDLE_PATH_MAX];
    record_semester(text, a, sem, sizeof sem);
    snprintf(dst, sizeof dst, "results/%s/%s", sem, base);
    snprintf(stem, sizeof stem, "results/%s/%.*s", sem, (int)(blen - 5), base);
    int rc = add_reports(p, real, text, stem);
    if (rc == LOCO_OK) {
        snprintf(p->record_src[p->n_records], PATH_MAX, "%s", real);
        snprintf(p->record_dst[p->n_records++], LOCO_BUNDLE_PATH_MAX, "%s", dst);
        return add_bytes(p, dst, "record", text, len);
    }
    free(text);
    return rc;
}

static int add_records(struct pack *p, const struct loco_registry *r,
                       const struct loco_registry_adapter *a)
{
    const struct loco_registry_domain *d = loco_registry_find_domain(r, a->domain);
    if (a->n_scores == 0)
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "pack: %s has no evaluation record (no scores in the registry): "
                              "run `loco eval %s --out results/<semester>/%s-<bench>.json` first",
                              a->name, a->name, a->name);
    if (d && !loco_registry_score(a, d->primary_benchmark))
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "pack: %s has no score on its domain's primary benchmark %s: run "
                              "`loco eval %s --bench %s --out results/<semester>/%s-%s.json`",
                              a->name, d->primary_benchmark, a->name, d->primary_benchmark, a->name,
                              d->primary_benchmark);
    for (size_t i = 0; i < a->n_scores; i++) {
        int rc = add_record(p, a, a->scores[i].record);
        if (rc != LOCO_OK)
            return rc;
    }
    return LOCO_OK;
}

/* ---- the registry entry, in the bundle's layout ---------------------------------------- */

static cJSON *strs(struct loco_registry_strs s)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < s.n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s.v[i]));
    return a;
}

static const char *record_dst(const struct pack *p, const struct loco_registry_adapter *a,
                              const char *rel)
{
    char src[PATH_MAX], real[PATH_MAX];
    resolve(a->source, rel, src, sizeof src);
    if (realpath(src, real))
        for (size_t i = 0; i < p->n_records; i++)
            if (!strcmp(p->record_src[i], real))
                return p->record_dst[i];
    return "";
}

static cJSON *entry_scores(const struct pack *p, const struct loco_registry_adapter *a)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < a->n_scores; i++) {
        const struct loco_registry_score *s = &a->scores[i];
        cJSON *o = cJSON_CreateObject();
        char rec[LOCO_BUNDLE_PATH_MAX + 4];
        snprintf(rec, sizeof rec, "../%s", record_dst(p, a, s->record));
        cJSON_AddStringToObject(o, "benchmark", s->benchmark);
        cJSON_AddNumberToObject(o, "score", s->score);
        cJSON_AddNumberToObject(o, "ci_low", s->ci_low);
        cJSON_AddNumberToObject(o, "ci_high", s->ci_high);
        cJSON_AddNumberToObject(o, "base_score", s->base_score);
        cJSON_AddNumberToObject(o, "p_value", s->p_value);
        cJSON_AddBoolToObject(o, "passed", s->passed);
        cJSON_AddNumberToObject(o, "n_items", (double)s->n_items);
        cJSON_AddStringToObject(o, "record", rec);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static char *entry_json(const struct pack *p, const struct loco_registry_adapter *a)
{
    char buf[LOCO_BUNDLE_PATH_MAX * 2];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "domain", a->domain);
    cJSON_AddStringToObject(o, "version", a->version);
    snprintf(buf, sizeof buf, "%s/%s.gguf", a->name, a->name);
    cJSON_AddStringToObject(o, "file", buf);
    cJSON_AddStringToObject(o, "sha256", p->items[0].f.sha256);
    cJSON_AddStringToObject(o, "base_sha256", a->base_sha256);
    cJSON *l = cJSON_AddObjectToObject(o, "lora");
    cJSON_AddNumberToObject(l, "rank", a->rank);
    cJSON_AddNumberToObject(l, "alpha", a->alpha);
    cJSON_AddItemToObject(l, "targets", strs(a->targets));
    cJSON *pv = cJSON_AddObjectToObject(o, "provenance");
    snprintf(buf, sizeof buf, "../recipes/%s.yaml", a->name);
    cJSON_AddStringToObject(pv, "recipe", buf);
    cJSON_AddStringToObject(pv, "data", a->provenance.data);
    if (a->provenance.seed >= 0)
        cJSON_AddNumberToObject(pv, "seed", (double)a->provenance.seed);
    cJSON_AddStringToObject(pv, "semester", a->provenance.semester);
    cJSON_AddItemToObject(pv, "authors", strs(a->provenance.authors));
    snprintf(buf, sizeof buf, "%s/TRAINING_LOG.md", a->name);
    cJSON_AddStringToObject(pv, "training_log", buf);
    cJSON *ro = cJSON_AddObjectToObject(o, "router");
    cJSON_AddItemToObject(ro, "keywords", strs(a->keywords));
    cJSON_AddItemToObject(ro, "examples", strs(a->examples));
    cJSON_AddStringToObject(o, "status", "candidate");
    cJSON_AddItemToObject(o, "scores", entry_scores(p, a));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- the archive ------------------------------------------------------------------------ */

static void now_iso(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int add_to_zip(zip_t *z, const char *path, const void *data, size_t len, bool store)
{
    zip_source_t *s = zip_source_buffer(z, data, len, 0);
    zip_int64_t idx = s ? zip_file_add(z, path, s, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
        zip_source_free(s);
        return loco_error_set(LOCO_ERR_IO, "pack: cannot add %s to the zip: %s", path,
                              zip_strerror(z));
    }
    zip_file_set_external_attributes(z, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                     (zip_uint32_t)(S_IFREG | 0644) << 16);
    if (store)
        zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    return LOCO_OK;
}

/* Copy the finished in-memory archive `src` into out_path atomically. */
static int write_source(zip_source_t *src, const char *out_path)
{
    struct loco_atomic_file af;
    int rc = loco_atomic_open(&af, out_path);
    if (rc != LOCO_OK)
        return rc;
    char buf[1 << 14];
    zip_int64_t n = 0;
    if (zip_source_open(src) != 0) {
        loco_atomic_abort(&af);
        return loco_error_set(LOCO_ERR_IO, "pack: cannot read the archive back");
    }
    while ((n = zip_source_read(src, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, af.f) != (size_t)n)
            n = -1;
    zip_source_close(src);
    if (n < 0) {
        loco_atomic_abort(&af);
        return loco_error_set(LOCO_ERR_IO, "pack: cannot write %s", out_path);
    }
    return loco_atomic_commit(&af);
}

static int write_zip(const struct pack *p, const char *manifest, const char *out_path)
{
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &err);
    zip_t *z = src ? zip_open_from_source(src, ZIP_TRUNCATE, &err) : NULL;
    if (!z) {
        zip_source_free(src);
        int rc = loco_error_set(LOCO_ERR_NOMEM, "pack: %s", zip_error_strerror(&err));
        zip_error_fini(&err);
        return rc;
    }
    zip_source_keep(src);
    int rc = add_to_zip(z, LOCO_BUNDLE_MANIFEST, manifest, strlen(manifest), false);
    for (size_t i = 0; rc == LOCO_OK && i < p->n; i++)
        rc = add_to_zip(z, p->items[i].f.path, p->items[i].data, p->items[i].len,
                        !strcmp(p->items[i].f.role, "adapter"));
    if (rc != LOCO_OK || zip_close(z) != 0) {
        if (rc == LOCO_OK)
            rc = loco_error_set(LOCO_ERR_IO, "pack: cannot finish the zip: %s", zip_strerror(z));
        zip_discard(z);
    } else {
        rc = write_source(src, out_path);
    }
    zip_source_free(src);
    zip_error_fini(&err);
    return rc;
}

static int make_manifest(const struct pack *p, const struct loco_registry_adapter *a, char **out)
{
    struct loco_bundle_manifest m;
    memset(&m, 0, sizeof m);
    snprintf(m.format, sizeof m.format, "%s", LOCO_BUNDLE_FORMAT);
    snprintf(m.name, sizeof m.name, "%s", a->name);
    snprintf(m.domain, sizeof m.domain, "%s", a->domain);
    snprintf(m.version, sizeof m.version, "%s", a->version);
    snprintf(m.base_sha256, sizeof m.base_sha256, "%s", a->base_sha256);
    snprintf(m.adapter_sha256, sizeof m.adapter_sha256, "%s", p->items[0].f.sha256);
    snprintf(m.loco_version, sizeof m.loco_version, "%s", LOCO_VERSION);
    now_iso(m.date, sizeof m.date);
    for (size_t i = 0; i < p->n; i++)
        m.files[m.n_files++] = p->items[i].f;
    m.entry_json = entry_json(p, a);
    *out = m.entry_json ? loco_bundle_manifest_json(&m) : NULL;
    free(m.entry_json);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "pack: out of memory");
}

int loco_bundle_pack(const struct loco_registry *r, const char *name, const char *out_path,
                     struct loco_bundle_pack_result *res)
{
    if (!r || !name || !res)
        return loco_error_set(LOCO_ERR_INVALID, "pack: NULL argument");
    memset(res, 0, sizeof *res);
    const struct loco_registry_adapter *a = loco_registry_find(r, name);
    if (!a)
        return LOCO_ERR_NOT_FOUND;
    char def[LOCO_BUNDLE_PATH_MAX];
    snprintf(def, sizeof def, "%s.zip", a->name);
    if (!out_path)
        out_path = def;
    struct pack *p = calloc(1, sizeof *p);
    if (!p)
        return loco_error_set(LOCO_ERR_NOMEM, "pack: out of memory");
    int rc = add_adapter_files(p, a);
    if (rc == LOCO_OK)
        rc = add_records(p, r, a);
    char *manifest = NULL;
    if (rc == LOCO_OK)
        rc = make_manifest(p, a, &manifest);
    if (rc == LOCO_OK)
        rc = write_zip(p, manifest, out_path);
    if (rc == LOCO_OK) {
        snprintf(res->path, sizeof res->path, "%s", out_path);
        res->n_files = p->n;
        for (size_t i = 0; i < p->n; i++)
            res->bytes += p->items[i].len;
        if (!loco_registry_find_domain(r, a->domain))
            snprintf(res->entry_warning, sizeof res->entry_warning,
                     "domain %s is not in the registry: the pull request must add it", a->domain);
    }
    free(manifest);
    pack_free(p);
    free(p);
    return rc;
}
