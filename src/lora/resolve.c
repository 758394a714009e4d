/*
 * resolve.c - finding adapters by name, and "NAME[:scale],..." specs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "loco/lora.h"
#include "loco/project.h"

int loco_adapters_dir(char *buf, size_t cap)
{
    const char *env = getenv("LOCO_ADAPTERS_DIR");
    int rc = LOCO_OK;
    if (env && env[0]) {
        int n = snprintf(buf, cap, "%s", env);
        rc = n < 0 || (size_t)n >= cap ? LOCO_ERR_RANGE : LOCO_OK;
    } else {
        rc = loco_user_path(LOCO_USER_DATA, "adapters", buf, cap);
    }
    if (rc == LOCO_ERR_NOT_FOUND)
        loco_error_set(rc, "no home directory to keep adapters in; set LOCO_ADAPTERS_DIR");
    else if (rc == LOCO_ERR_RANGE)
        loco_error_set(rc, "the adapters directory path is too long");
    return rc;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* DIR/NAME.gguf, then DIR/NAME/NAME.gguf (an adapter beside its training log). */
static bool try_dir(const char *dir, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s.gguf", dir, name);
    if (n > 0 && (size_t)n < cap && is_file(out))
        return true;
    n = snprintf(out, cap, "%s/%s/%s.gguf", dir, name, name);
    return n > 0 && (size_t)n < cap && is_file(out);
}

static bool plain_name(const char *s)
{
    return s[0] && s[0] != '.' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(s);
}

int loco_adapters_resolve(const char *name_or_path, char *path_out, size_t cap)
{
    if (!name_or_path || !name_or_path[0])
        return loco_error_set(LOCO_ERR_INVALID, "no adapter name given");
    size_t len = strlen(name_or_path);
    bool is_path = strchr(name_or_path, '/') || (len > 5 && !strcmp(name_or_path + len - 5, ".gguf"));
    struct stat st;
    if (is_path && stat(name_or_path, &st) == 0 && !S_ISREG(st.st_mode))
        return loco_error_set(LOCO_ERR_INVALID, "adapter %s is a %s, not a regular file",
                              name_or_path,
                              S_ISDIR(st.st_mode)    ? "folder"
                              : S_ISFIFO(st.st_mode) ? "FIFO (named pipe)"
                                                     : "device or socket");
    if (is_path || is_file(name_or_path)) {
        if (!is_file(name_or_path))
            return loco_error_set(LOCO_ERR_NOT_FOUND, "no such adapter file: %s", name_or_path);
        if (len >= cap)
            return loco_error_set(LOCO_ERR_RANGE, "adapter path too long: %s", name_or_path);
        memcpy(path_out, name_or_path, len + 1);
        return LOCO_OK;
    }
    if (!plain_name(name_or_path))
        return loco_error_set(LOCO_ERR_INVALID,
                              "'%s' is not an adapter name (letters, digits, '.', '_' and '-')",
                              name_or_path);
    char user[4096];
    bool have_user = loco_adapters_dir(user, sizeof user) == LOCO_OK;
    if (have_user && try_dir(user, name_or_path, path_out, cap))
        return LOCO_OK;
    struct loco_project_location *proj = malloc(sizeof *proj);
    if (!proj)
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory looking for adapter '%s'",
                              name_or_path);
    bool have_proj = loco_project_locate(NULL, proj) == LOCO_OK;
    bool hit = have_proj && try_dir(proj->adapters, name_or_path, path_out, cap);
    if (!hit)
        loco_error_set(LOCO_ERR_NOT_FOUND,
                       "no adapter named '%s' (looked for %s.gguf in %s and in %s); give a path "
                       "to a .gguf file, or import one with `loco adapters import`",
                       name_or_path, name_or_path, have_user ? user : "(no user folder)",
                       have_proj ? proj->adapters : "the project's adapters/ (no project found)");
    free(proj);
    return hit ? LOCO_OK : LOCO_ERR_NOT_FOUND;
}

int loco_adapter_spec_parse(const char *spec, struct loco_adapter_spec *out, int32_t cap)
{
    if (!spec)
        return loco_error_set(LOCO_ERR_INVALID, "no adapter given");
    int32_t n = 0;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            p++;
            continue;
        }
        if (n >= cap)
            return loco_error_set(LOCO_ERR_RANGE, "too many adapters in '%s' (at most %d)", spec,
                                  cap);
        struct loco_adapter_spec *s = &out[n];
        /* the scale is after the last ':' when that part is a number */
        const char *colon = NULL;
        for (const char *q = p; q < p + len; q++)
            if (*q == ':')
                colon = q;
        size_t name_len = len;
        s->scale = 1.0f;
        if (colon) {
            char num[64];
            size_t k = (size_t)(p + len - colon - 1);
            if (k == 0 || k >= sizeof num)
                return loco_error_set(LOCO_ERR_INVALID, "adapter '%.*s': bad scale after ':'",
                                      (int)len, p);
            memcpy(num, colon + 1, k);
            num[k] = '\0';
            char *end;
            errno = 0;
            double v = strtod(num, &end);
            if (*end || errno || !isfinite(v) || fabs(v) > 100)
                return loco_error_set(LOCO_ERR_INVALID, "adapter '%.*s': scale '%s' is not a "
                                      "number between -100 and 100", (int)len, p, num);
            s->scale = (float)v;
            name_len = (size_t)(colon - p);
        }
        while (name_len && p[name_len - 1] == ' ')
            name_len--;
        size_t lead = strspn(p, " ");
        if (lead >= name_len)
            return loco_error_set(LOCO_ERR_INVALID, "adapter entry '%.*s' has no name", (int)len,
                                  p);
        if (name_len - lead >= sizeof s->name)
            return loco_error_set(LOCO_ERR_RANGE, "adapter name too long in '%s'", spec);
        memcpy(s->name, p + lead, name_len - lead);
        s->name[name_len - lead] = '\0';
        n++;
        p += len;
    }
    if (n == 0)
        return loco_error_set(LOCO_ERR_INVALID,
                              "no adapter named in '%s' (name one, or 'none' for the base model)",
                              spec);
    return n;
}
