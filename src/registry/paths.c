/*
 * paths.c - where a path written in a registry may lead.
 *
 * A registry is data that arrives from outside (a pull request, a copied
 * overlay), and `loco registry validate` hashes, opens and names the files
 * it points at. So a path field may not lead anywhere: `file:` and
 * `training_log:` stay inside the folder of the registry file that sets
 * them (for the user overlay also the user adapters folder), and the
 * evaluation `record:` and training `recipe:` stay inside the project (the
 * folder above the project registry's folder, where results/ and recipes/
 * are; for the overlay also the overlay's own folder).
 *
 * Two checks, both needed: the path as written, with "." and ".." taken
 * out textually, must lie inside (this catches ../../etc/passwd and
 * /etc/shadow even when the file is missing), and when the file exists its
 * realpath must lie inside too (this catches a symlink in the tree that
 * points out of it).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "loco/lora.h"
#include "registry/registry_internal.h"

#define MAX_ROOTS 3

struct roots {
    char dir[MAX_ROOTS][PATH_MAX];
    size_t n;
};

/* realpath of `dir` (or of its parent) appended to the roots; a folder that
 * does not exist adds nothing. */
static void add_root(struct roots *rs, const char *dir, bool parent)
{
    char real[PATH_MAX];
    if (rs->n >= MAX_ROOTS || !realpath(dir, real))
        return;
    if (parent) {
        char *slash = strrchr(real, '/');
        if (slash == real)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
    }
    snprintf(rs->dir[rs->n++], PATH_MAX, "%s", real);
}

static void roots_for(const struct loco_registry *r, const char *file, enum registry_root kind,
                      struct roots *rs)
{
    char dir[PATH_MAX];
    bool user = r->user_path[0] && file == r->user_path;
    rs->n = 0;
    loco_dir_of(file, dir, sizeof dir);
    add_root(rs, dir, kind == REGISTRY_ROOT_PROJECT && !user);
    if (user && kind == REGISTRY_ROOT_FOLDER && loco_adapters_dir(dir, sizeof dir) == LOCO_OK)
        add_root(rs, dir, false);
    if (user && kind == REGISTRY_ROOT_PROJECT) {
        loco_dir_of(r->project_path, dir, sizeof dir);
        add_root(rs, dir, true);
    }
    loco_error_clear();
}

/* `path` (absolute) with ".", ".." and repeated '/' taken out textually. */
static void normalize(const char *path, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[--len] != '/')
                ;
            out[len] = '\0';
        } else if (n > 0 && !(n == 1 && p[0] == '.') && len + n + 2 <= cap) {
            out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
        p += *p == '/';
    }
    if (len == 0)
        snprintf(out, cap, "/");
}

static bool inside_one(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (strcmp(root, "/") == 0)
        return true;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool inside(const char *path, const struct roots *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        if (inside_one(path, rs->dir[i]))
            return true;
    return false;
}

/* "the registry's folder (/a/adapters)" and the like, for messages. */
static void describe(const struct roots *rs, enum registry_root kind, bool user, char *buf,
                     size_t cap)
{
    static const char *const what[2][2] = {
        /* project registry, user overlay */
        [REGISTRY_ROOT_FOLDER] = {"the registry's folder",
                                  "the overlay's folder or your adapters folder"},
        [REGISTRY_ROOT_PROJECT] = {"the project folder",
                                   "the overlay's folder or the project folder"},
    };
    size_t len = (size_t)snprintf(buf, cap, "%s (", what[kind][user]);
    for (size_t i = 0; i < rs->n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", rs->dir[i]);
    if (len < cap)
        snprintf(buf + len, cap - len, ")");
}

bool registry_path_allowed(const struct loco_registry *r, const struct rnode *n,
                           enum registry_root kind, char *why, size_t cap)
{
    const char *file = n && n->file ? n->file : r->project_path;
    struct roots rs;
    char dir[PATH_MAX], joined[2 * PATH_MAX], norm[2 * PATH_MAX], real[PATH_MAX], where[1024];
    if (why && cap)
        why[0] = '\0';
    if (!rnode_has_text(n))
        return true;
    roots_for(r, file, kind, &rs);
    if (rs.n == 0)
        return true; /* the registry's own folder is gone: nothing can be read through it */
    bool user = r->user_path[0] && file == r->user_path;
    describe(&rs, kind, user, where, sizeof where);
    loco_dir_of(file, dir, sizeof dir);
    if (n->str[0] == '/')
        snprintf(joined, sizeof joined, "%s", n->str);
    else if (realpath(dir, real))
        snprintf(joined, sizeof joined, "%s/%s", real, n->str);
    else
        return true;
    normalize(joined, norm, sizeof norm);
    if (!inside(norm, &rs)) {
        if (why)
            snprintf(why, cap,
                     "leads to %s, outside %s; a registry path must stay inside it (write it "
                     "relative to the registry file, without leaving with '..')",
                     norm, where);
        return false;
    }
    if (realpath(joined, real) && !inside(real, &rs)) {
        if (why)
            snprintf(why, cap,
                     "is a symbolic link (or lies under one) that leads to %s, outside %s; "
                     "a registry path must stay inside it",
                     real, where);
        return false;
    }
    return true;
}
