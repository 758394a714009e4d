/*
 * install_bundle.c - a bundle (.zip, as `loco adapters pack` writes one) in
 * the staging folder: unpacked safely (install_archive.c), its one .gguf
 * found, and its manifest.json checked: every file it lists with its sha256
 * and size, the adapter's sha256, the base; its name, domain and registry
 * entry kept for the new overlay entry.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/util.h"
#include "lora/install_internal.h"
#include "models/models_internal.h"

/* ---- step 4: a bundle ------------------------------------------------------ */

/* The one .gguf under dir (depth-first); LOCO_ERR_FORMAT when none or more. */
static int find_gguf(const char *dir, char *found, size_t cap, int *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return loco_error_set(LOCO_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = LOCO_OK;
    while (rc == LOCO_OK && (e = readdir(d))) {
        char path[INSTALL_PATH];
        struct stat st;
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = find_gguf(path, found, cap, count);
        else if (S_ISREG(st.st_mode) && n > 5 && strcmp(e->d_name + n - 5, ".gguf") == 0 &&
                 (*count)++ == 0)
            snprintf(found, cap, "%s", path);
    }
    closedir(d);
    return rc;
}

/* One manifest file entry: path (relative to the manifest) and sha256. */
static int check_manifest_file(const char *mdir, const char *rel, const char *sha, int64_t size)
{
    char path[INSTALL_PATH], hex[LOCO_SHA256_HEX_LEN + 1];
    if (!install_relpath_safe(rel))
        return loco_error_set(LOCO_ERR_INVALID,
                              "refused: the bundle's manifest.json names '%s', outside the bundle",
                              rel);
    if (models_join(path, sizeof path, mdir, rel) || models_file_size(path) < 0)
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "refused: the bundle's manifest.json lists %s, which it lacks", rel);
    if (size >= 0 && models_file_size(path) != size)
        return loco_error_set(LOCO_ERR_CHECKSUM,
                              "refused: %s in the bundle has %lld bytes, its manifest says %lld",
                              rel, (long long)models_file_size(path), (long long)size);
    int rc = sha ? loco_models_sha256_file(path, hex) : LOCO_OK;
    if (!rc && sha && !models_sha256_equal(hex, sha))
        rc = loco_error_set(LOCO_ERR_CHECKSUM,
                            "refused: %s in the bundle hashes to %s, its manifest.json says %s",
                            rel, hex, sha);
    return rc;
}

/* manifest "files": {"path": "sha", ...}, {"path": {"sha256", "size"}}, or
 * [{"path", "sha256", "size"}, ...]. */
static int check_manifest_files(const char *mdir, const cJSON *files)
{
    const cJSON *f;
    int rc = LOCO_OK;
    cJSON_ArrayForEach(f, files)
    {
        const char *rel = cJSON_IsArray(files) ? NULL : f->string, *sha = NULL;
        double size = -1;
        if (cJSON_IsString(f))
            sha = f->valuestring;
        else if (cJSON_IsObject(f)) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "sha256");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(f, "size");
            const cJSON *pth = cJSON_GetObjectItemCaseSensitive(f, "path");
            sha = cJSON_IsString(v) ? v->valuestring : NULL;
            size = cJSON_IsNumber(s) ? s->valuedouble : -1;
            if (!rel && cJSON_IsString(pth))
                rel = pth->valuestring;
        }
        if (!rel)
            continue;
        rc = check_manifest_file(mdir, rel, sha, (int64_t)size);
        if (rc)
            break;
    }
    return rc;
}

static void copy_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v) && !buf[0])
        snprintf(buf, cap, "%s", v->valuestring);
}

/* The manifest's adapter_sha256 against the bundle's .gguf. */
static int check_manifest_adapter(const struct install_job *j, const char *sha)
{
    char hex[LOCO_SHA256_HEX_LEN + 1];
    int rc = loco_models_sha256_file(j->gguf, hex);
    if (!rc && !models_sha256_equal(hex, sha))
        rc = loco_error_set(LOCO_ERR_CHECKSUM,
                            "refused: the bundle's adapter hashes to %s, its manifest.json says "
                            "adapter_sha256 %s",
                            hex, sha);
    return rc;
}

/* manifest.json beside the adapter (or at the bundle's top): check what it
 * lists, and take name, domain and base from it (top level or "adapter"). */
static int read_manifest(struct install_job *j, const char *top)
{
    char mdir[INSTALL_PATH], path[INSTALL_PATH];
    loco_dir_of(j->gguf, mdir, sizeof mdir);
    if (models_join(path, sizeof path, mdir, "manifest.json") || models_file_size(path) < 0) {
        snprintf(mdir, sizeof mdir, "%s", top);
        if (models_join(path, sizeof path, top, "manifest.json") || models_file_size(path) < 0)
            return LOCO_OK;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = loco_read_regular_file(path, 1u << 20, &text, &len);
    if (rc)
        return rc;
    cJSON *m = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return loco_error_set(LOCO_ERR_FORMAT, "refused: the bundle's manifest.json is not a "
                                               "JSON object");
    }
    rc = check_manifest_files(mdir, cJSON_GetObjectItemCaseSensitive(m, "files"));
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(m, "adapter_sha256");
    if (!rc && cJSON_IsString(sum))
        rc = check_manifest_adapter(j, sum->valuestring);
    cJSON *entry = cJSON_GetObjectItemCaseSensitive(m, "registry_entry");
    if (cJSON_IsObject(entry))
        j->meta_entry = cJSON_DetachItemViaPointer(m, entry);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "adapter");
    for (int k = 0; k < 2; k++) {
        const cJSON *o = k == 0 ? m : a;
        copy_str(o, "name", j->meta_name, sizeof j->meta_name);
        copy_str(o, "domain", j->meta_domain, sizeof j->meta_domain);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "base_sha256");
        if (!rc && cJSON_IsString(b))
            rc = install_check_base(j, b->valuestring, "the bundle's adapter");
    }
    cJSON_Delete(m);
    return rc;
}

int install_unpack_bundle(struct install_job *j, const char *archive)
{
    char dir[INSTALL_PATH];
    int count = 0;
    int rc = install_stage_path(j, "bundle", dir, sizeof dir);
    if (!rc && mkdir(dir, 0755) != 0)
        rc = loco_error_set(LOCO_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    if (!rc)
        rc = install_unpack_zip_named(archive, j->res->fetch, dir, &j->p.limits);
    if (!rc)
        rc = find_gguf(dir, j->gguf, sizeof j->gguf, &count);
    if (!rc && count != 1)
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "refused: the bundle %s holds %d .gguf files; a bundle holds one "
                            "adapter (loco adapters pack makes one)",
                            j->res->fetch, count);
    if (!rc)
        rc = read_manifest(j, dir);
    return rc;
}
