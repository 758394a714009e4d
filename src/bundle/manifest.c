/*
 * manifest.c - a bundle's manifest.json (loco/bundle.h): writing it, and
 * reading one that came from outside, where every field is checked before
 * it is used (lengths, hex digits, safe paths, no duplicates).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_get.h"
#include "loco/bundle.h"

bool loco_bundle_path_safe(const char *path)
{
    size_t len = path ? strlen(path) : 0, comp = 0, parts = 1;
    if (len == 0 || len >= LOCO_BUNDLE_PATH_MAX || path[0] == '/')
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = path[i];
        if (c == '/' || c == '\0') {
            const char *start = path + i - comp;
            if (comp == 0 || (comp == 1 && start[0] == '.') ||
                (comp == 2 && start[0] == '.' && start[1] == '.'))
                return false;
            comp = 0;
            if (c == '/' && ++parts > 8)
                return false;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
        comp++;
    }
    return true;
}

static bool is_sha256(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

char *loco_bundle_manifest_json(const struct loco_bundle_manifest *m)
{
    cJSON *entry = m->entry_json ? cJSON_Parse(m->entry_json) : NULL;
    if (!cJSON_IsObject(entry)) {
        cJSON_Delete(entry);
        loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: the registry entry is not a JSON object");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", m->format);
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "domain", m->domain);
    cJSON_AddStringToObject(o, "version", m->version);
    cJSON_AddStringToObject(o, "base_sha256", m->base_sha256);
    cJSON_AddStringToObject(o, "adapter_sha256", m->adapter_sha256);
    cJSON_AddStringToObject(o, "loco_version", m->loco_version);
    cJSON_AddStringToObject(o, "date", m->date);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    for (size_t i = 0; files && i < m->n_files; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", m->files[i].path);
        cJSON_AddStringToObject(f, "sha256", m->files[i].sha256);
        cJSON_AddNumberToObject(f, "size", (double)m->files[i].size);
        cJSON_AddStringToObject(f, "role", m->files[i].role);
        cJSON_AddItemToArray(files, f);
    }
    cJSON_AddItemToObject(o, "registry_entry", entry);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s)
        loco_error_set(LOCO_ERR_NOMEM, "bundle manifest: out of memory");
    return s;
}

/* o[key] copied into buf[cap]; false (with a message) when it is missing,
 * not a string or does not fit. */
static bool take_str(const cJSON *o, const char *key, char *buf, size_t cap)
{
    const char *v = loco_json_string(o, key);
    if (!v || !v[0] || strlen(v) >= cap) {
        loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: \"%s\" is %s", key,
                       v && v[0] ? "too long" : "missing or not a text");
        return false;
    }
    snprintf(buf, cap, "%s", v);
    return true;
}

static bool take_sha(const cJSON *o, const char *key, char *buf)
{
    if (!take_str(o, key, buf, 65))
        return false;
    if (!is_sha256(buf)) {
        loco_error_set(LOCO_ERR_FORMAT,
                       "bundle manifest: \"%s\" = '%s' is not 64 lowercase hex digits", key, buf);
        return false;
    }
    return true;
}

static bool take_file(const cJSON *f, struct loco_bundle_file *out, size_t i)
{
    double size = loco_json_number(f, "size");
    if (!take_str(f, "path", out->path, sizeof out->path) || !take_sha(f, "sha256", out->sha256) ||
        !take_str(f, "role", out->role, sizeof out->role))
        return false;
    if (!loco_bundle_path_safe(out->path)) {
        loco_error_set(LOCO_ERR_FORMAT,
                       "bundle manifest: files[%zu].path = '%s' is not a safe relative path", i,
                       out->path);
        return false;
    }
    if (!(size >= 0 && size <= 9007199254740992.0) || size != (double)(uint64_t)size) {
        loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: files[%zu].size is not a byte count", i);
        return false;
    }
    out->size = (uint64_t)size;
    return true;
}

static bool take_files(const cJSON *files, struct loco_bundle_manifest *out)
{
    if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) > LOCO_BUNDLE_MAX_FILES) {
        loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: \"files\" is not a list of at most %d",
                       LOCO_BUNDLE_MAX_FILES);
        return false;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, files)
    {
        struct loco_bundle_file *x = &out->files[out->n_files];
        if (!take_file(f, x, out->n_files))
            return false;
        for (size_t j = 0; j < out->n_files; j++)
            if (!strcmp(out->files[j].path, x->path)) {
                loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: '%s' is listed twice", x->path);
                return false;
            }
        out->n_files++;
    }
    return true;
}

int loco_bundle_manifest_parse(const char *json, struct loco_bundle_manifest *out)
{
    memset(out, 0, sizeof *out);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: not a JSON object");
    }
    bool ok = take_str(o, "format", out->format, sizeof out->format);
    if (ok && strcmp(out->format, LOCO_BUNDLE_FORMAT)) {
        loco_error_set(LOCO_ERR_FORMAT,
                       "bundle manifest: format '%s' is not " LOCO_BUNDLE_FORMAT
                       " (packed by another loco: pack it again with this one)",
                       out->format);
        ok = false;
    }
    ok = ok && take_str(o, "name", out->name, sizeof out->name) &&
         take_str(o, "domain", out->domain, sizeof out->domain) &&
         take_str(o, "version", out->version, sizeof out->version) &&
         take_sha(o, "base_sha256", out->base_sha256) &&
         take_sha(o, "adapter_sha256", out->adapter_sha256) &&
         take_str(o, "loco_version", out->loco_version, sizeof out->loco_version) &&
         take_str(o, "date", out->date, sizeof out->date) &&
         take_files(cJSON_GetObjectItemCaseSensitive(o, "files"), out);
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(o, "registry_entry");
    if (ok && !cJSON_IsObject(entry)) {
        loco_error_set(LOCO_ERR_FORMAT, "bundle manifest: \"registry_entry\" is not an object");
        ok = false;
    }
    int rc = ok ? LOCO_OK : LOCO_ERR_FORMAT;
    if (ok && !(out->entry_json = cJSON_PrintUnformatted(entry)))
        rc = loco_error_set(LOCO_ERR_NOMEM, "bundle manifest: out of memory");
    cJSON_Delete(o);
    if (rc != LOCO_OK)
        loco_bundle_manifest_free(out);
    return rc;
}

void loco_bundle_manifest_free(struct loco_bundle_manifest *m)
{
    if (!m)
        return;
    free(m->entry_json);
    m->entry_json = NULL;
}
