/*
 * install_index.c - the adapter index: a small JSON file listing adapters
 * others have shared, read by `loco adapters install NAME`.
 *
 *   {"version": 1,
 *    "adapters": [{"name": "math-plus", "domain": "math",
 *                  "base_sha256": "b179...", "url": "math-plus.gguf",
 *                  "sha256": "9c1e...", "size": 9800000,
 *                  "license": "Apache-2.0",
 *                  "record": "https://.../math-plus-gsm8k.json"}]}
 *
 * The index comes from outside, so everything in it is checked before an
 * entry is used: types, 64-digit digests, a positive size, names a registry
 * accepts, no name twice. A relative `url` is taken from the index's own
 * location, so an index and its files can be mirrored as one folder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/util.h"
#include "lora/install_internal.h"
#include "models/models_internal.h"

#define INDEX_MAX_ENTRIES 10000

void loco_install_index_free(struct loco_install_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->n_entries; i++) {
        struct loco_install_entry *e = &idx->entries[i];
        free(e->name);
        free(e->domain);
        free(e->base_sha256);
        free(e->url);
        free(e->sha256);
        free(e->license);
        free(e->record);
        free(e->version);
        free(e->description);
    }
    free(idx->entries);
    free(idx);
}

/* A copy of o[key] (a non-empty string; optional ones may be absent: "")
 * into *out, or LOCO_ERR_FORMAT naming the entry and field. */
static int take_str(const cJSON *o, const char *key, bool required, const char *origin, size_t i,
                    char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && !required) {
        *out = strdup("");
        return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 4000)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: adapters[%zu].%s must be a non-empty string (at most 4000 "
                              "bytes); docs/sharing.md lists the fields",
                              origin, i, key);
    *out = strdup(v->valuestring);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

/* `record`: a URL (string) or an inline summary (object), kept as text. */
static int take_record(const cJSON *o, const char *origin, size_t i, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "record");
    if (cJSON_IsObject(v)) {
        *out = cJSON_PrintUnformatted(v);
        return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    }
    if (cJSON_IsString(v))
        return take_str(o, "record", true, origin, i, out);
    return loco_error_set(LOCO_ERR_FORMAT,
                          "%s: adapters[%zu].record must be the evaluation record's URL or an "
                          "object summarising it",
                          origin, i);
}

static int take_size(const cJSON *o, const char *origin, size_t i, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "size");
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 1 && d <= 9.0e15) || d != (double)(uint64_t)d)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: adapters[%zu].size must be the file's size in bytes (a whole "
                              "number >= 1)",
                              origin, i);
    *out = (uint64_t)d;
    return LOCO_OK;
}

static int check_digest(const char *hex, const char *origin, size_t i, const char *key)
{
    for (size_t k = 0; hex[k]; k++)
        if (!((hex[k] >= '0' && hex[k] <= '9') || (hex[k] >= 'a' && hex[k] <= 'f')))
            return loco_error_set(LOCO_ERR_FORMAT,
                                  "%s: adapters[%zu].%s = '%s' is not 64 lowercase hex digits",
                                  origin, i, key, hex);
    if (strlen(hex) != LOCO_SHA256_HEX_LEN)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: adapters[%zu].%s = '%s' is not 64 lowercase hex digits", origin,
                              i, key, hex);
    return LOCO_OK;
}

static int parse_entry(const cJSON *o, const char *origin, size_t i, struct loco_install_entry *e)
{
    if (!cJSON_IsObject(o))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: adapters[%zu] must be an object", origin, i);
    int rc = take_str(o, "name", true, origin, i, &e->name);
    if (!rc)
        rc = take_str(o, "domain", true, origin, i, &e->domain);
    if (!rc)
        rc = take_str(o, "base_sha256", true, origin, i, &e->base_sha256);
    if (!rc)
        rc = take_str(o, "url", true, origin, i, &e->url);
    if (!rc)
        rc = take_str(o, "sha256", true, origin, i, &e->sha256);
    if (!rc)
        rc = take_str(o, "license", true, origin, i, &e->license);
    if (!rc)
        rc = take_record(o, origin, i, &e->record);
    if (!rc)
        rc = take_str(o, "version", false, origin, i, &e->version);
    if (!rc)
        rc = take_str(o, "description", false, origin, i, &e->description);
    if (!rc)
        rc = take_size(o, origin, i, &e->size);
    if (!rc)
        rc = check_digest(e->sha256, origin, i, "sha256");
    if (!rc)
        rc = check_digest(e->base_sha256, origin, i, "base_sha256");
    if (!rc && !install_name_valid(e->name))
        rc = loco_error_set(LOCO_ERR_FORMAT,
                            "%s: adapters[%zu].name = '%s' must be lowercase letters, digits, "
                            "'.', '_' or '-' (at most 63)",
                            origin, i, e->name);
    return rc;
}

static int parse_entries(const cJSON *list, struct loco_install_index *idx)
{
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (n > INDEX_MAX_ENTRIES)
        return loco_error_set(LOCO_ERR_FORMAT, "%s: more than %d adapters", idx->origin,
                              INDEX_MAX_ENTRIES);
    idx->entries = calloc(n ? n : 1, sizeof *idx->entries);
    if (!idx->entries)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    const cJSON *o;
    cJSON_ArrayForEach(o, list)
    {
        size_t i = idx->n_entries++;
        int rc = parse_entry(o, idx->origin, i, &idx->entries[i]);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(idx->entries[j].name, idx->entries[i].name) == 0)
                return loco_error_set(LOCO_ERR_FORMAT,
                                      "%s: adapters[%zu].name '%s' is listed twice; names "
                                      "must be unique",
                                      idx->origin, i, idx->entries[i].name);
    }
    return LOCO_OK;
}

static int parse_root(const cJSON *root, struct loco_install_index *idx)
{
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsObject(root))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: an adapter index is a JSON object",
                              idx->origin);
    if (!cJSON_IsNumber(ver) || ver->valuedouble != 1)
        return loco_error_set(LOCO_ERR_FORMAT,
                              "%s: \"version\" must be 1 (this loco reads index version 1)",
                              idx->origin);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "adapters");
    if (!cJSON_IsArray(list))
        return loco_error_set(LOCO_ERR_FORMAT, "%s: \"adapters\" must be a list", idx->origin);
    return parse_entries(list, idx);
}

int loco_install_index_parse(const char *json, size_t len, const char *origin,
                             struct loco_install_index **out)
{
    *out = NULL;
    struct loco_install_index *idx = calloc(1, sizeof *idx);
    if (!idx)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    snprintf(idx->origin, sizeof idx->origin, "%s", origin ? origin : "(index)");
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = root ? parse_root(root, idx)
                  : loco_error_set(LOCO_ERR_FORMAT, "%s: not valid JSON", idx->origin);
    cJSON_Delete(root);
    if (rc) {
        loco_install_index_free(idx);
        return rc;
    }
    *out = idx;
    return LOCO_OK;
}

int loco_install_index_load(const char *url_or_path, bool allow_file,
                            struct loco_install_index **out)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    if (strstr(url_or_path, "://"))
        rc = models_fetch_mem(url_or_path, allow_file, LOCO_INSTALL_INDEX_MAX_BYTES, &text, &len);
    else
        rc = loco_read_regular_file(url_or_path, LOCO_INSTALL_INDEX_MAX_BYTES, &text, &len);
    if (rc) {
        loco_error_prefix("cannot read the adapter index");
        return rc;
    }
    rc = loco_install_index_parse(text, len, url_or_path, out);
    free(text);
    return rc;
}

const struct loco_install_entry *loco_install_index_find(const struct loco_install_index *idx,
                                                         const char *name)
{
    char names[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < idx->n_entries; i++) {
        if (strcmp(idx->entries[i].name, name) == 0)
            return &idx->entries[i];
        int n = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                         idx->entries[i].name);
        if (n > 0 && (size_t)n < sizeof names - used)
            used += (size_t)n;
    }
    loco_error_set(LOCO_ERR_NOT_FOUND, "no adapter '%s' in the index %s (it lists: %s)", name,
                   idx->origin, idx->n_entries ? names : "nothing");
    return NULL;
}

int loco_install_index_file_url(const struct loco_install_index *idx,
                                const struct loco_install_entry *e, char *buf, size_t cap)
{
    int n;
    if (!strstr(e->url, "://") && !install_relpath_safe(e->url))
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: the url of '%s' (%s) is neither a URL nor a path inside the "
                              "index's folder (no leading '/', no '..')",
                              idx->origin, e->name, e->url);
    if (strstr(e->url, "://"))
        n = snprintf(buf, cap, "%s", e->url);
    else {
        /* relative: beside the index (its folder, or its URL's last '/') */
        const char *slash = strrchr(idx->origin, '/');
        const char *scheme = strstr(idx->origin, "://");
        if (scheme && slash < scheme + 3)
            slash = NULL; /* "https://host" with no path */
        if (slash)
            n = snprintf(buf, cap, "%.*s/%s", (int)(slash - idx->origin), idx->origin, e->url);
        else
            n = snprintf(buf, cap, "%s%s%s", scheme ? idx->origin : "", scheme ? "/" : "", e->url);
    }
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "the URL of '%s' is too long", e->name);
    return LOCO_OK;
}
