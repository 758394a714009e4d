/*
 * project.c - finding the project folder (the one holding
 * adapters/registry.yaml) by the four rules of loco/project.h, and saying
 * which rule found it.
 *
 * Every path is handled as text: folders are climbed by cutting at the last
 * '/', never by asking the file system for "..", so the answer names the
 * folders the way the user (or getcwd, or /proc/self/exe) wrote them.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "loco/project.h"

#define REGISTRY_IN_PROJECT "adapters/registry.yaml"
#define BINARY_LEVELS 2 /* folders above the binary's own that rule 3 tries */

enum { NOT_HERE = 1 }; /* a rule that did not match (errors are negative) */

/* ---- paths as text ------------------------------------------------------------ */

static int put(char *buf, size_t cap, int n)
{
    if (n < 0 || (size_t)n >= cap)
        return loco_error_set(LOCO_ERR_RANGE, "a project path is too long (over %zu bytes)",
                              cap - 1);
    return LOCO_OK;
}

/* dir + "/" + name, without doubling the '/' of the root folder. */
static int join(char *buf, size_t cap, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    bool slash = n > 0 && dir[n - 1] == '/';
    return put(buf, cap, snprintf(buf, cap, "%s%s%s", dir, slash ? "" : "/", name));
}

/* path made absolute against cwd, trailing '/'s dropped ("/" stays). */
static int absolute(char *buf, size_t cap, const char *path, const char *cwd)
{
    int rc = path[0] == '/' || !path[0] || !cwd[0] ? put(buf, cap, snprintf(buf, cap, "%s", path))
                                                   : join(buf, cap, cwd, path);
    for (size_t n = strlen(buf); rc == LOCO_OK && n > 1 && buf[n - 1] == '/'; n--)
        buf[n - 1] = '\0';
    return rc;
}

/* "/a/b" -> "/a", "/a" -> "/"; false (path unchanged) at "/" or without a '/'. */
static bool climb(char *path)
{
    char *slash = strrchr(path, '/');
    if (!slash || strcmp(path, "/") == 0)
        return false;
    slash[slash == path ? 1 : 0] = '\0';
    return true;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- the result --------------------------------------------------------------- */

/* Fill `out` from the registry file: its folder is the adapters folder, the
 * folder above that the root. */
static int found(struct loco_project_location *out, const char *registry,
                 enum loco_project_rule rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int found(struct loco_project_location *out, const char *registry,
                 enum loco_project_rule rule, const char *fmt, ...)
{
    int rc = put(out->registry, sizeof out->registry,
                 snprintf(out->registry, sizeof out->registry, "%s", registry));
    if (rc != LOCO_OK)
        return rc;
    memcpy(out->adapters, out->registry, sizeof out->adapters);
    climb(out->adapters);
    memcpy(out->root, out->adapters, sizeof out->root);
    climb(out->root);
    out->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->why, sizeof out->why, fmt, ap);
    va_end(ap);
    return LOCO_OK;
}

/* dir/adapters/registry.yaml into reg when that file exists. */
static bool project_at(const char *dir, char *reg, size_t cap)
{
    return join(reg, cap, dir, REGISTRY_IN_PROJECT) == LOCO_OK && is_file(reg);
}

/* ---- the four rules ----------------------------------------------------------- */

/* 1. $LOCO_REGISTRY (a file), else $LOCO_PROJECT_DIR (a project folder). */
static int from_env(const char *cwd, struct loco_project_location *out)
{
    char path[LOCO_PROJECT_PATH_MAX], reg[LOCO_PROJECT_PATH_MAX];
    const char *env = getenv("LOCO_REGISTRY");
    int rc;
    if (env && env[0]) {
        if ((rc = absolute(path, sizeof path, env, cwd)) != LOCO_OK)
            return rc;
        return found(out, path, LOCO_PROJECT_ENV_REGISTRY, "named by $LOCO_REGISTRY");
    }
    env = getenv("LOCO_PROJECT_DIR");
    if (!env || !env[0])
        return NOT_HERE;
    if ((rc = absolute(path, sizeof path, env, cwd)) != LOCO_OK ||
        (rc = join(reg, sizeof reg, path, REGISTRY_IN_PROJECT)) != LOCO_OK)
        return rc;
    return found(out, reg, LOCO_PROJECT_ENV_DIR, "in $LOCO_PROJECT_DIR (%s)", path);
}

/* 2. The current directory or its nearest parent holding the registry. */
static int from_working_tree(const char *cwd, struct loco_project_location *out)
{
    char dir[LOCO_PROJECT_PATH_MAX], reg[LOCO_PROJECT_PATH_MAX];
    if (!cwd[0])
        return NOT_HERE;
    snprintf(dir, sizeof dir, "%s", cwd);
    do {
        if (project_at(dir, reg, sizeof reg))
            return strcmp(dir, cwd) == 0 ? found(out, reg, LOCO_PROJECT_WORKING_TREE,
                                                 "found in the current directory %s", cwd)
                                         : found(out, reg, LOCO_PROJECT_WORKING_TREE,
                                                 "found in the working tree above %s", cwd);
    } while (climb(dir));
    return NOT_HERE;
}

/* True for <prefix>/bin/<binary>. */
static bool in_bin_folder(const char *exe)
{
    char dir[LOCO_PROJECT_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", exe);
    const char *last = climb(dir) ? strrchr(dir, '/') : NULL;
    return last && strcmp(last, "/bin") == 0;
}

/* 3. The binary's folder and the two above it (build/loco in a checkout),
 * then <prefix>/share/locollm when the binary is <prefix>/bin/loco. */
static int from_binary(const char *exe, struct loco_project_location *out)
{
    char dir[LOCO_PROJECT_PATH_MAX], reg[LOCO_PROJECT_PATH_MAX], share[LOCO_PROJECT_PATH_MAX];
    if (!exe[0])
        return NOT_HERE;
    snprintf(dir, sizeof dir, "%s", exe);
    if (!climb(dir))
        return NOT_HERE;
    bool in_bin = in_bin_folder(exe);
    for (int level = 0; level <= BINARY_LEVELS; level++) {
        if (project_at(dir, reg, sizeof reg))
            return found(out, reg, LOCO_PROJECT_BESIDE_BINARY, "found beside the binary %s", exe);
        if (!climb(dir))
            break;
    }
    if (!in_bin)
        return NOT_HERE;
    snprintf(dir, sizeof dir, "%s", exe);
    climb(dir);
    climb(dir); /* <prefix> */
    if (join(share, sizeof share, dir, "share/locollm") == LOCO_OK &&
        project_at(share, reg, sizeof reg))
        return found(out, reg, LOCO_PROJECT_INSTALLED, "installed with the binary %s (%s)", exe,
                     share);
    return NOT_HERE;
}

/* $XDG_DATA_HOME/locollm when XDG_DATA_HOME is absolute, else
 * ~/.local/share/locollm; "" when there is no home folder. */
static void user_data_dir(char *buf, size_t cap)
{
    if (loco_user_path(LOCO_USER_DATA, NULL, buf, cap) != LOCO_OK)
        buf[0] = '\0';
}

/* 4. The user data folder holding adapters/registry.yaml. */
static int from_user_data(const char *data, struct loco_project_location *out)
{
    char reg[LOCO_PROJECT_PATH_MAX];
    if (data[0] && project_at(data, reg, sizeof reg))
        return found(out, reg, LOCO_PROJECT_USER_DATA, "found in the user data folder %s", data);
    return NOT_HERE;
}

/* ---- the search ------------------------------------------------------------------ */

static const char *const rule_names[] = {"env-registry",  "env-dir",   "working-tree",
                                         "beside-binary", "installed", "user-data"};

const char *loco_project_rule_name(enum loco_project_rule rule)
{
    return (unsigned)rule < sizeof rule_names / sizeof rule_names[0] ? rule_names[rule] : "?";
}

struct loco_project_params loco_project_default_params(void)
{
    struct loco_project_params p = {NULL, NULL};
    return p;
}

/* The process's own binary, "" when /proc is not there. */
static void own_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    buf[n > 0 ? (size_t)n : 0] = '\0';
}

/* LOCO_ERR_NOT_FOUND naming every place looked in, and the fix. */
static int nothing_found(const char *cwd, const char *exe, const char *data)
{
    char bin[LOCO_PROJECT_PATH_MAX], share[LOCO_PROJECT_PATH_MAX + 32] = "";
    snprintf(bin, sizeof bin, "%s", exe);
    climb(bin);
    if (in_bin_folder(exe)) {
        char prefix[LOCO_PROJECT_PATH_MAX];
        memcpy(prefix, bin, sizeof prefix);
        climb(prefix);
        snprintf(share, sizeof share, ", and %s%sshare/locollm", prefix,
                 strcmp(prefix, "/") ? "/" : "");
    }
    return loco_error_set(
        LOCO_ERR_NOT_FOUND,
        "no project registry (" REGISTRY_IN_PROJECT ") found. Looked at: $LOCO_REGISTRY and "
        "$LOCO_PROJECT_DIR (not set); the working tree %s%s; beside the binary %s%s%s; the user "
        "data folder %s. Fix: run loco inside a LocoLLM checkout, set LOCO_PROJECT_DIR to one "
        "(or LOCO_REGISTRY to a registry file), or copy a checkout's adapters/ folder into %s",
        cwd[0] ? cwd : "(no current directory)", cwd[0] ? " and its parents" : "",
        exe[0] ? bin : "(unknown)", exe[0] ? " and the two folders above it" : "", share,
        data[0] ? data : "(no home folder)", data[0] ? data : "$XDG_DATA_HOME/locollm");
}

int loco_project_locate(const struct loco_project_params *p, struct loco_project_location *out)
{
    char cwd[LOCO_PROJECT_PATH_MAX], exe[LOCO_PROJECT_PATH_MAX], data[LOCO_PROJECT_PATH_MAX];
    int rc = LOCO_OK;
    if (p && p->cwd)
        rc = absolute(cwd, sizeof cwd, p->cwd, "");
    else if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    if (p && p->exe)
        rc = rc != LOCO_OK ? rc : absolute(exe, sizeof exe, p->exe, cwd);
    else
        own_exe(exe, sizeof exe);
    if (rc != LOCO_OK)
        return rc;
    user_data_dir(data, sizeof data);

    rc = from_env(cwd, out);
    if (rc == NOT_HERE)
        rc = from_working_tree(cwd, out);
    if (rc == NOT_HERE)
        rc = from_binary(exe, out);
    if (rc == NOT_HERE)
        rc = from_user_data(data, out);
    return rc == NOT_HERE ? nothing_found(cwd, exe, data) : rc;
}
