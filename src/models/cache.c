/*
 * cache.c - where models live, and turning a user's model argument into a
 * path (`loco ask --model X`), and listing what the cache holds.
 *
 * The cache follows the XDG base directory spec: $XDG_CACHE_HOME (only when
 * absolute, as the spec says) or ~/.cache, under locollm/models, and
 * $LOCO_MODELS_DIR overrides both (tests, shared lab machines).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "models_internal.h"

int loco_models_dir(char *buf, size_t cap)
{
    const char *env = getenv("LOCO_MODELS_DIR");
    int rc;
    if (env && env[0]) {
        int n = snprintf(buf, cap, "%s", env);
        rc = n < 0 || (size_t)n >= cap ? LOCO_ERR_RANGE : LOCO_OK;
    } else {
        rc = loco_user_path(LOCO_USER_CACHE, "models", buf, cap);
    }
    if (rc == LOCO_ERR_NOT_FOUND)
        return loco_error_set(rc, "no home directory to keep models in; set LOCO_MODELS_DIR");
    if (rc != LOCO_OK)
        return loco_error_set(rc, "the models directory path is too long");
    return LOCO_OK;
}

/* mkdir one level; an existing directory is fine. */
static int mkdir_one(const char *path)
{
    struct stat st;
    if (mkdir(path, 0755) == 0)
        return LOCO_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return LOCO_OK;
    return loco_error_set(LOCO_ERR_IO, "cannot create directory %s: %s", path,
                          errno == EEXIST ? "a file is in the way" : strerror(errno));
}

int loco_models_mkdirs(const char *dir)
{
    char path[LOCO_MODELS_PATH_MAX];
    int rc = models_copy(path, sizeof path, dir);
    if (rc)
        return rc;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = mkdir_one(path);
        *p = '/';
        if (rc)
            return rc;
    }
    return mkdir_one(path);
}

/* ---- resolve ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int resolve_known(const struct loco_models_known *k, const char *dir, char *path_out,
                         size_t cap)
{
    char path[LOCO_MODELS_PATH_MAX];
    int rc = models_join(path, sizeof path, dir, k->gguf_file);
    if (rc)
        return rc;
    int64_t size = models_file_size(path);
    if (size < 0)
        return loco_error_set(LOCO_ERR_NOT_FOUND,
                              "model '%s' is not downloaded yet (looked for %s); run `loco "
                              "models pull %s`",
                              k->name, path, k->name);
    if ((uint64_t)size != k->gguf_size)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s has %lld bytes, but '%s' has %llu; run `loco models pull %s` "
                              "to replace it",
                              path, (long long)size, k->name, (unsigned long long)k->gguf_size,
                              k->name);
    return models_copy(path_out, cap, path);
}

/* <dir>/<name> or <dir>/<name>.gguf, for models pulled by URL. */
static int resolve_cached(const char *name, const char *dir, char *path_out, size_t cap)
{
    char path[LOCO_MODELS_PATH_MAX];
    if (strchr(name, '/'))
        return LOCO_ERR_NOT_FOUND;
    if (models_join(path, sizeof path, dir, name) == LOCO_OK && models_file_size(path) >= 0)
        return models_copy(path_out, cap, path);
    int n = snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
    if (n > 0 && (size_t)n < sizeof path && !ends_with(name, ".gguf") &&
        models_file_size(path) >= 0)
        return models_copy(path_out, cap, path);
    return LOCO_ERR_NOT_FOUND;
}

int loco_models_resolve(const char *name_or_path, char *path_out, size_t cap)
{
    if (!name_or_path || !name_or_path[0])
        return loco_error_set(LOCO_ERR_INVALID, "no model given");
    struct stat st;
    if (stat(name_or_path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return loco_error_set(LOCO_ERR_INVALID, "%s is a directory, not a GGUF file",
                                  name_or_path);
        if (!S_ISREG(st.st_mode))
            return loco_error_set(LOCO_ERR_INVALID,
                                  "%s is not a regular file (a pipe or device cannot be a model)",
                                  name_or_path);
        return models_copy(path_out, cap, name_or_path);
    }
    char dir[LOCO_MODELS_PATH_MAX];
    int rc = loco_models_dir(dir, sizeof dir);
    if (rc)
        return rc;
    const struct loco_models_known *k = loco_models_find_known(name_or_path);
    if (k)
        return resolve_known(k, dir, path_out, cap);
    rc = resolve_cached(name_or_path, dir, path_out, cap);
    if (rc != LOCO_ERR_NOT_FOUND)
        return rc;
    if (strchr(name_or_path, '/') || ends_with(name_or_path, ".gguf"))
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no such file: %s", name_or_path);
    return loco_error_set(LOCO_ERR_NOT_FOUND,
                          "'%s' is neither a file, a known model (`loco models list --known`) "
                          "nor a model in %s; pull one with `loco models pull default` or "
                          "`loco models pull URL --name %s`",
                          name_or_path, dir, name_or_path);
}

/* ---- list --------------------------------------------------------------- */

/* The known model `e` satisfies: by name and size, or (verify) by sha256. */
static void match_known(struct loco_models_entry *e, bool verify)
{
    char hex[LOCO_SHA256_HEX_LEN + 1] = "";
    if (verify && models_sha256_file(e->path, hex, NULL) != LOCO_OK)
        loco_error_clear();
    for (size_t i = 0; i < loco_models_known_count(); i++) {
        const struct loco_models_known *k = loco_models_known_at(i);
        if (verify ? models_sha256_equal(hex, k->gguf_sha256)
                   : strcmp(e->file, k->gguf_file) == 0 && e->size == k->gguf_size) {
            e->known = k;
            e->verified = verify;
            return;
        }
    }
}

static int add_entry(struct loco_models_entry **v, size_t *n, size_t *alloc,
                     const struct loco_models_entry *e)
{
    if (*n == *alloc) {
        size_t want = *alloc ? *alloc * 2 : 16;
        struct loco_models_entry *p = realloc(*v, want * sizeof *p);
        if (!p)
            return loco_error_set(LOCO_ERR_NOMEM, "no memory to list the models");
        *v = p;
        *alloc = want;
    }
    (*v)[(*n)++] = *e;
    return LOCO_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct loco_models_entry *)a)->file,
                  ((const struct loco_models_entry *)b)->file);
}

/* One directory entry into an entry, if it is a *.gguf regular file. */
static bool read_entry(const char *dir, const char *file, struct loco_models_entry *e)
{
    struct stat st;
    if (file[0] == '.' || !ends_with(file, ".gguf") || strlen(file) >= sizeof e->file)
        return false;
    memset(e, 0, sizeof *e);
    if (models_join(e->path, sizeof e->path, dir, file) != LOCO_OK || stat(e->path, &st) != 0 ||
        !S_ISREG(st.st_mode)) {
        loco_error_clear();
        return false;
    }
    memcpy(e->file, file, strlen(file) + 1);
    e->size = (uint64_t)st.st_size;
    e->mtime = (int64_t)st.st_mtime;
    return true;
}

int loco_models_list(const char *dir, bool verify, struct loco_models_entry **out, size_t *n_out)
{
    char buf[LOCO_MODELS_PATH_MAX];
    *out = NULL;
    *n_out = 0;
    if (!dir) {
        int rc = loco_models_dir(buf, sizeof buf);
        if (rc)
            return rc;
        dir = buf;
    }
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? LOCO_OK
                   : loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    size_t n = 0, alloc = 0;
    int rc = LOCO_OK;
    struct dirent *de;
    struct loco_models_entry e;
    while (rc == LOCO_OK && (de = readdir(d)) != NULL) {
        if (!read_entry(dir, de->d_name, &e))
            continue;
        match_known(&e, verify);
        rc = add_entry(out, &n, &alloc, &e);
    }
    closedir(d);
    if (rc) {
        free(*out);
        *out = NULL;
        return rc;
    }
    if (n > 1)
        qsort(*out, n, sizeof **out, by_name);
    *n_out = n;
    return LOCO_OK;
}

const char *loco_models_stage_name(enum loco_models_stage stage)
{
    switch (stage) {
    case LOCO_MODELS_STAGE_INDEX:
        return "index";
    case LOCO_MODELS_STAGE_DOWNLOAD:
        return "download";
    case LOCO_MODELS_STAGE_VERIFY:
        return "verify";
    case LOCO_MODELS_STAGE_EXTRACT:
        return "extract";
    case LOCO_MODELS_STAGE_DONE:
        return "done";
    case LOCO_MODELS_STAGE_PRESENT:
        return "present";
    }
    return "unknown";
}
