/*
 * loco/project.h - finding the project: the folder that holds
 * adapters/registry.yaml (the project registry), the shipped adapters beside
 * it and results/ (the evaluation archive).
 *
 * Why it exists: a `loco` binary must not carry the path of the checkout it
 * was built in. A copied checkout, a build folder moved elsewhere or an
 * installed binary each find their own project, the way git finds .git, and
 * can say which rule found it (`loco registry path`). The rules, first match
 * wins:
 *
 *   1. the environment: $LOCO_REGISTRY names the registry file, else
 *      $LOCO_PROJECT_DIR names the project folder (obeyed as given, even
 *      when the file is missing: loading then says so);
 *   2. the working tree: the current directory, or its nearest parent, that
 *      holds adapters/registry.yaml;
 *   3. beside the binary (/proc/self/exe): its folder or one of the two
 *      above it holding adapters/registry.yaml (build/loco in a checkout),
 *      then <prefix>/share/locollm for an installed <prefix>/bin/loco;
 *   4. the user data folder, $XDG_DATA_HOME/locollm (when absolute) or
 *      ~/.local/share/locollm, holding adapters/registry.yaml.
 *
 * Whatever rule matched, the registry file's folder is the adapters folder
 * and the folder above it the project root; for $LOCO_REGISTRY that holds
 * too, whatever the folder is called.
 *
 * Nothing here prints; a failure is LOCO_ERR_NOT_FOUND with a message that
 * lists where it looked and the fix.
 */
#ifndef LOCO_PROJECT_H
#define LOCO_PROJECT_H

#include <stddef.h>

#include "loco/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_PROJECT_PATH_MAX 4096

/* ---- the rules ------------------------------------------------------------ */

/* Which rule found the project, in the order they are tried. */
enum loco_project_rule {
    LOCO_PROJECT_ENV_REGISTRY = 0, /* $LOCO_REGISTRY */
    LOCO_PROJECT_ENV_DIR,          /* $LOCO_PROJECT_DIR */
    LOCO_PROJECT_WORKING_TREE,     /* the current directory or a parent */
    LOCO_PROJECT_BESIDE_BINARY,    /* the binary's folder or one of the two above it */
    LOCO_PROJECT_INSTALLED,        /* <prefix>/share/locollm for <prefix>/bin/loco */
    LOCO_PROJECT_USER_DATA,        /* $XDG_DATA_HOME/locollm or ~/.local/share/locollm */
};

/* A short stable name for scripts and --json: "env-registry", "env-dir",
 * "working-tree", "beside-binary", "installed", "user-data" ("?" otherwise). */
const char *loco_project_rule_name(enum loco_project_rule rule);

/* ---- locating ------------------------------------------------------------- */

/* What the search starts from. The defaults (NULL) are the process's own;
 * tests set them to search a temporary tree. The environment variables are
 * always read from the environment. */
struct loco_project_params {
    const char *cwd; /* NULL: getcwd() */
    const char *exe; /* the binary's path; NULL: /proc/self/exe; "": skip rule 3 */
};

struct loco_project_params loco_project_default_params(void);

/* Where the project is, and why. All paths are absolute. */
struct loco_project_location {
    char root[LOCO_PROJECT_PATH_MAX];     /* the project folder: results/ is in it */
    char adapters[LOCO_PROJECT_PATH_MAX]; /* the registry file's folder */
    char registry[LOCO_PROJECT_PATH_MAX]; /* the registry file */
    enum loco_project_rule rule;
    char why[LOCO_PROJECT_PATH_MAX + 128]; /* e.g. "found in the working tree above /home/a/x" */
};

/* Find the project by the rules above. `p` may be NULL for the defaults.
 * LOCO_ERR_NOT_FOUND (message: every place looked and the fix) when no rule
 * matches; LOCO_ERR_RANGE when a path is too long. */
int loco_project_locate(const struct loco_project_params *p, struct loco_project_location *out);

#ifdef __cplusplus
}
#endif
#endif
