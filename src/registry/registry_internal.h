/*
 * registry_internal.h - what the registry's files share: a small YAML tree
 * that remembers where each value came from (file and line), the atomic
 * locked file writes, and the merged registry's layout.
 *
 * Why a tree of our own: the registry is read, merged (overlay over project)
 * and edited as data, and written back with the fields it did not touch
 * preserved. libyaml parses and emits; this tree is what sits in between.
 */
#ifndef LOCO_REGISTRY_INTERNAL_H
#define LOCO_REGISTRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/registry.h"

#define REGISTRY_MAX_BYTES (16u << 20) /* a registry file larger than this is refused */
#define REGISTRY_MAX_DEPTH 32          /* nesting limit while reading */

enum rkind { RNODE_SCALAR, RNODE_MAP, RNODE_SEQ };

struct rnode {
    enum rkind kind;
    char *str;           /* scalar text */
    bool quoted;         /* scalar: write it quoted */
    bool flow;           /* seq: write it as [a, b] */
    char **keys;         /* map: keys[i] names kids[i] */
    struct rnode **kids; /* map values or sequence items */
    size_t n, cap;
    const char *file; /* borrowed: the path of the file it was read from (NULL: made here) */
    int32_t line;     /* 1-based; 0 when made here */
};

/* ---- tree (tree.c) ------------------------------------------------------ */

struct rnode *rnode_new(enum rkind kind);
struct rnode *rnode_str(const char *s);      /* a string scalar (quoted when it looks like
                                                a number, bool or null) */
struct rnode *rnode_num(double v);           /* a plain number */
struct rnode *rnode_int(int64_t v);          /* a plain integer */
struct rnode *rnode_bool(bool v);
void rnode_free(struct rnode *n);
struct rnode *rnode_copy(const struct rnode *n); /* NULL when out of memory */
struct rnode *rnode_get(const struct rnode *map, const char *key); /* NULL: absent or not a map */
int rnode_index(const struct rnode *map, const char *key);         /* -1 when absent */
/* Set map[key] = val (val is taken over, also on failure). */
int rnode_set(struct rnode *map, const char *key, struct rnode *val);
void rnode_remove(struct rnode *n, size_t i);
int rnode_append(struct rnode *seq, struct rnode *item); /* item taken over */
/* True for a scalar with text (an empty plain scalar or ~/null counts as absent). */
bool rnode_has_text(const struct rnode *n);
/* Entry of seq whose map has key == value, or -1. */
int rnode_find_by(const struct rnode *seq, const char *key, const char *value);

/* Read `path` into a tree whose nodes point at `file_label` (kept alive by
 * the caller). LOCO_ERR_NOT_FOUND when the file does not exist,
 * LOCO_ERR_FORMAT with file:line for YAML errors and duplicate keys. An
 * empty file is an empty map. */
int rnode_parse_file(const char *path, const char *file_label, struct rnode **out);
int rnode_parse_text(const char *text, size_t len, const char *file_label, struct rnode **out);
/* YAML text for a tree (malloc'd, NUL-terminated). */
int rnode_emit(const struct rnode *root, char **out, size_t *len);

/* ---- files (file.c) ----------------------------------------------------- */

/* Take an exclusive flock on "<path>.lock" (created with its folder if
 * needed); returns the fd (>= 0) to pass to registry_unlock, or a status. */
int registry_lock(const char *path);
void registry_unlock(int fd);
/* Under the lock: delete "<path>.tmp-*" files left by a killed writer. */
void registry_remove_stale_temps(const char *path);

/* ---- merge (merge.c) ---------------------------------------------------- */

/* Merge overlay into base (base is changed; overlay is only read). */
int registry_merge(struct rnode *base, const struct rnode *overlay);

/* ---- where paths may lead (paths.c) ------------------------------------- */

enum registry_root {
    REGISTRY_ROOT_FOLDER,  /* file, training_log: the registry file's folder (the overlay:
                              also the user adapters folder) */
    REGISTRY_ROOT_PROJECT, /* record, recipe: the project folder, above the project
                              registry's folder (the overlay: also its own folder) */
};

struct loco_registry;

/* May the path scalar n (a field read from the registry file n->file) be
 * followed? False when, taken relative to that file's folder (or as an
 * absolute path), it leads outside the roots of `kind`, textually or
 * through a symbolic link; `why` (may be NULL) then receives the reason
 * with the path it leads to. An empty value is allowed (the schema check
 * decides whether it may be empty). */
bool registry_path_allowed(const struct loco_registry *r, const struct rnode *n,
                           enum registry_root kind, char *why, size_t cap);

/* ---- the typed view (view.c) -------------------------------------------- */

struct loco_registry {
    char project_path[LOCO_REGISTRY_PATH_MAX];
    char user_path[LOCO_REGISTRY_PATH_MAX]; /* "" when there is no overlay */
    struct rnode *tree;                     /* merged */
    struct rnode *user_tree;                /* the overlay alone (NULL when none) */
    struct loco_registry_base base;
    const char *router; /* top-level `router:`, "" when absent */
    bool serve_candidates; /* top-level `serve_candidates:`, false when absent */
    const char *index;  /* top-level `index:` (adapter index URL or path), "" when absent */
    struct loco_registry_domain *domains;
    size_t n_domains;
    struct loco_registry_adapter *adapters;
    size_t n_adapters;
    struct loco_registry_problem *problems;
    size_t n_problems, cap_problems;
    /* storage the view points into */
    void **owned;
    size_t n_owned, cap_owned;
};

/* Fill r's paths from p (defaults where NULL). */
int registry_set_paths(struct loco_registry *r, const struct loco_registry_params *p);
/* Build r->base, domains and adapters from r->tree, recording problems. */
int registry_build_view(struct loco_registry *r);
/* Append a problem (file/line from node when non-NULL). */
void registry_problem(struct loco_registry *r, const struct rnode *node, const char *file,
                      const char *field, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* loco_error_set from the first problem, with a count of the others. */
int registry_fail_with_problems(const struct loco_registry *r);

#endif
