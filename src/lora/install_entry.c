/*
 * install_entry.c - the user overlay entry of an installed adapter: name,
 * file, hashes and LoRA shape from the checks, provenance and router
 * keywords from the bundle's registry entry when there is one (else what
 * the file and the registry say), written with loco_registry_add_adapter
 * (one locked, validated, atomic change).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/util.h"
#include "loco/lora.h"
#include "loco/registry.h"
#include "lora/install_internal.h"

/* A string list of the bundle's registry entry (`obj.key`), pointing into
 * the JSON; false when absent or empty. */
#define META_MAX_STRS 256
static bool meta_strs(const cJSON *entry, const char *obj, const char *key, const char **v,
                      struct loco_registry_strs *out)
{
    const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(entry, obj) : entry, *it;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, key);
    size_t n = 0;
    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && it->valuestring[0] && n < META_MAX_STRS)
            v[n++] = it->valuestring;
    }
    *out = (struct loco_registry_strs){v, n};
    return n > 0;
}

static const char *meta_str(const cJSON *entry, const char *obj, const char *key,
                            const char *otherwise)
{
    const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(entry, obj) : entry;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : otherwise;
}

/* Router keywords and examples: the bundle's entry's, else another adapter
 * of the domain's, else the domain's name; the user edits the overlay to
 * improve them. */
static void router_of(const struct install_job *j, struct loco_registry_adapter *a, const char **kw,
                      const char **ex, const char *example)
{
    struct loco_registry_strs k, e;
    if (meta_strs(j->meta_entry, "router", "keywords", kw, &k) &&
        meta_strs(j->meta_entry, "router", "examples", ex, &e)) {
        a->keywords = k;
        a->examples = e;
        return;
    }
    for (size_t i = 0; i < loco_registry_n_adapters(j->reg); i++) {
        const struct loco_registry_adapter *o = loco_registry_adapter_at(j->reg, i);
        if (strcmp(o->domain, a->domain) == 0 && o->keywords.n && o->examples.n) {
            a->keywords = o->keywords;
            a->examples = o->examples;
            return;
        }
    }
    kw[0] = a->domain;
    ex[0] = example;
    a->keywords = (struct loco_registry_strs){kw, 1};
    a->examples = (struct loco_registry_strs){ex, 1};
}

/* Provenance from the bundle's entry, else what the file says. */
static void provenance_of(const struct install_job *j, const struct install_meta *m,
                          struct loco_registry_adapter *a, const char **authors)
{
    const cJSON *e = j->meta_entry;
    const cJSON *seed =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "provenance"), "seed");
    a->version = meta_str(e, NULL, "version",
                          j->entry && j->entry->version[0] ? j->entry->version : "1.0.0");
    a->provenance.data =
        meta_str(e, "provenance", "data", m->data[0] ? m->data : "unknown (installed)");
    a->provenance.semester = meta_str(e, "provenance", "semester", "unknown");
    a->provenance.seed =
        cJSON_IsNumber(seed) && seed->valuedouble >= 0 ? (int64_t)seed->valuedouble : -1;
    if (!meta_strs(e, "provenance", "authors", authors, &a->provenance.authors)) {
        authors[0] = "unknown (installed)";
        a->provenance.authors = (struct loco_registry_strs){authors, 1};
    }
}

int install_add_entry(const struct install_job *j, const struct install_meta *m,
                      const struct loco_registry_params *rp)
{
    const struct loco_install_result *r = j->res;
    char odir[INSTALL_PATH], recipe[INSTALL_PATH + 16], example[256];
    const char *targets[LOCO_LORA_N_TARGETS];
    const char **strs = calloc(3 * META_MAX_STRS, sizeof *strs);
    if (!strs)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory");
    size_t nt = 0;
    for (int t = 0; t < LOCO_LORA_N_TARGETS; t++)
        if (m->targets & LOCO_LORA_TARGET_BIT(t))
            targets[nt++] = loco_lora_target_name((enum loco_lora_target)t);
    snprintf(example, sizeof example, "a question about %s", r->domain);
    loco_dir_of(r->overlay, odir, sizeof odir);
    size_t od = strlen(odir);
    const char *file =
        strncmp(r->path, odir, od) == 0 && r->path[od] == '/' ? r->path + od + 1 : r->path;
    char *real = strstr(r->fetch, "://") ? NULL : realpath(r->fetch, NULL);
    snprintf(recipe, sizeof recipe, "%s%s", real ? "file://" : "", real ? real : r->fetch);
    free(real);
    struct loco_registry_adapter a = {.name = r->name,
                                      .domain = r->domain,
                                      .file = file,
                                      .sha256 = r->sha256,
                                      .base_sha256 = r->base_sha256,
                                      .rank = r->rank,
                                      .alpha = r->alpha,
                                      .targets = {targets, nt},
                                      .status = LOCO_REGISTRY_CANDIDATE,
                                      .provenance = {.recipe = recipe, .training_log = ""}};
    provenance_of(j, m, &a, strs);
    router_of(j, &a, strs + META_MAX_STRS, strs + 2 * META_MAX_STRS, example);
    int rc = loco_registry_add_adapter(rp, LOCO_REGISTRY_USER, &a);
    free(strs);
    return rc;
}

/* Rename the staged file to its final name, then one overlay write; the
 * file goes again when the write fails. */
