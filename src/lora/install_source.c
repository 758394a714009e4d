/*
 * install_source.c - what SOURCE names in `loco adapters install SOURCE`:
 * a Hugging Face reference, a URL, a local file, folder or bundle, or else a
 * name in the adapter index; and, for a Hugging Face repo named without a
 * file, which file(s) of it to fetch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "lora/install_internal.h"
#include "models/models_internal.h"

const char *loco_install_kind_name(enum loco_install_kind k)
{
    switch (k) {
    case LOCO_INSTALL_INDEX:
        return "index";
    case LOCO_INSTALL_URL:
        return "url";
    case LOCO_INSTALL_HF:
        return "hf";
    case LOCO_INSTALL_FILE:
        return "file";
    case LOCO_INSTALL_BUNDLE:
        return "bundle";
    case LOCO_INSTALL_PEFT:
        return "peft";
    }
    return "?";
}

static bool hf_part_ok(const char *s, size_t n)
{
    if (n == 0 || n > 96 || (n == 2 && s[0] == '.' && s[1] == '.') || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static const char *hf_base(void)
{
    const char *b = getenv("LOCO_HF_URL");
    return b && b[0] ? b : "https://huggingface.co";
}

int loco_install_hf_url(const char *ref, char *buf, size_t cap, bool *has_file)
{
    if (strncmp(ref, "hf:", 3) != 0)
        return loco_error_set(LOCO_ERR_INVALID, "'%s' is not a hf:owner/repo[/file] reference",
                              ref);
    const char *owner = ref + 3, *slash = strchr(owner, '/');
    const char *repo = slash ? slash + 1 : "";
    const char *slash2 = strchr(repo, '/');
    size_t repo_len = slash2 ? (size_t)(slash2 - repo) : strlen(repo);
    const char *file = slash2 ? slash2 + 1 : "";
    if (!slash || !hf_part_ok(owner, (size_t)(slash - owner)) || !hf_part_ok(repo, repo_len) ||
        (slash2 && !install_relpath_safe(file)))
        return loco_error_set(LOCO_ERR_INVALID,
                              "'%s' is not a Hugging Face reference; write hf:OWNER/REPO or "
                              "hf:OWNER/REPO/FILE (letters, digits, '-', '_', '.'; no '..')",
                              ref);
    *has_file = file[0] != '\0';
    int n = *has_file ? snprintf(buf, cap, "%s/%.*s/%.*s/resolve/main/%s", hf_base(),
                                 (int)(slash - owner), owner, (int)repo_len, repo, file)
                      : snprintf(buf, cap, "%s/api/models/%.*s/%.*s", hf_base(),
                                 (int)(slash - owner), owner, (int)repo_len, repo);
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "reference too long: %s", ref);
    return LOCO_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

int install_classify(const char *source, enum loco_install_kind *kind)
{
    struct stat st;
    bool exists = stat(source, &st) == 0;
    bool tar = ends_with(source, ".tar.gz") || ends_with(source, ".tgz");
    if (strncmp(source, "hf:", 3) == 0)
        *kind = LOCO_INSTALL_HF;
    else if (strstr(source, "://"))
        *kind = LOCO_INSTALL_URL;
    else if (exists && tar)
        return loco_error_set(LOCO_ERR_INVALID,
                              "%s: .tar.gz bundles are not read by this loco (it reads .zip "
                              "bundles); unpack it and install the .gguf inside",
                              source);
    else if (exists)
        *kind = S_ISDIR(st.st_mode)         ? LOCO_INSTALL_PEFT
                : ends_with(source, ".zip") ? LOCO_INSTALL_BUNDLE
                                            : LOCO_INSTALL_FILE;
    else if (strchr(source, '/') || ends_with(source, ".gguf") || ends_with(source, ".zip") || tar)
        return loco_error_set(LOCO_ERR_NOT_FOUND, "no such file or folder: %s", source);
    else
        *kind = LOCO_INSTALL_INDEX;
    return LOCO_OK;
}

/* The file names of a Hugging Face repo (its API answer's "siblings"). */
static int hf_pick(const cJSON *root, const char *api, char *gguf, size_t cap, bool *peft)
{
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(root, "siblings"), *s;
    int n_gguf = 0;
    bool config = false, model = false;
    cJSON_ArrayForEach(s, sib)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(s, "rfilename");
        if (!cJSON_IsString(f))
            continue;
        size_t len = strlen(f->valuestring);
        if (len > 5 && strcmp(f->valuestring + len - 5, ".gguf") == 0 && n_gguf++ == 0)
            snprintf(gguf, cap, "%s", f->valuestring);
        config |= strcmp(f->valuestring, "adapter_config.json") == 0;
        model |= strcmp(f->valuestring, "adapter_model.safetensors") == 0;
    }
    *peft = n_gguf == 0 && config && model;
    if (n_gguf == 1 || *peft)
        return LOCO_OK;
    return loco_error_set(LOCO_ERR_NOT_FOUND,
                          "%s lists %d .gguf files and %s PEFT adapter; name the file: "
                          "hf:OWNER/REPO/FILE",
                          api, n_gguf, config && model ? "a" : "no");
}

int install_hf_resolve(const char *ref, bool allow_file, char *url, size_t cap, bool *peft)
{
    bool has_file;
    char api[LOCO_INSTALL_PATH_MAX];
    *peft = false;
    int rc = loco_install_hf_url(ref, url, cap, &has_file);
    if (rc || has_file)
        return rc;
    snprintf(api, sizeof api, "%s", url);
    char *text = NULL;
    size_t len = 0;
    if ((rc = models_fetch_mem(api, allow_file, 8u << 20, &text, &len)))
        return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    char file[1024] = "";
    rc = root ? hf_pick(root, api, file, sizeof file, peft)
              : loco_error_set(LOCO_ERR_FORMAT, "%s did not answer JSON", api);
    cJSON_Delete(root);
    if (rc)
        return rc;
    if (*peft) /* the folder: the caller adds each file's name */
        snprintf(file, sizeof file, "%s", "");
    else if (!install_relpath_safe(file))
        return loco_error_set(LOCO_ERR_FORMAT, "%s names a file '%s' outside the repo", api, file);
    char ref2[LOCO_INSTALL_PATH_MAX];
    int n = snprintf(ref2, sizeof ref2, "%s/%s", ref, *peft ? "x" : file);
    if (n < 0 || (size_t)n >= sizeof ref2)
        return loco_error_set(LOCO_ERR_RANGE, "reference too long: %s", ref);
    rc = loco_install_hf_url(ref2, url, cap, &has_file);
    if (!rc && *peft)
        url[strlen(url) - 1] = '\0'; /* ".../resolve/main/" + each PEFT file */
    return rc;
}
