/*
 * install_internal.h - what the files of `loco adapters install` share
 * (private to src/lora/):
 *
 *   install_index.c    the adapter index (JSON)
 *   install_archive.c  unpacking a bundle (.zip) safely
 *   install_fs.c       names, relative paths, removing a tree, copying
 *   install_source.c   what SOURCE is; hf: references
 *   install_bundle.c   a bundle in the staging folder: unpack, manifest
 *   install_entry.c    the overlay entry of the installed adapter
 *   install.c          the install itself: resolve, fetch, verify, register
 */
#ifndef LOCO_INSTALL_INTERNAL_H
#define LOCO_INSTALL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "loco/install.h"
#include "loco/registry.h"

#define INSTALL_PATH LOCO_INSTALL_PATH_MAX

/* One install's state (install.c); the paths are in `stage` unless noted. */
struct install_job {
    const char *source;
    struct loco_install_params p;
    struct loco_install_result *res;
    struct loco_registry *reg;
    struct loco_install_index *idx;
    const struct loco_install_entry *entry; /* index sources */
    char adir[INSTALL_PATH];                /* the adapters folder */
    char stage[INSTALL_PATH];               /* "" until made */
    char gguf[INSTALL_PATH];                /* the adapter file to install */
    char meta_name[128], meta_domain[128];  /* from a bundle's manifest */
    cJSON *meta_entry;                      /* its registry_entry (loco adapters pack), or NULL */
    bool hf_peft;                           /* a hf: repo holding a PEFT pair */
    int lock;
};

/* What the adapter file says about itself (install.c reads it). */
struct install_meta {
    char name[128], domain[128], arch[64], base[128], data[512];
    float alpha;
    int32_t rank;
    unsigned targets;
};

/* LOCO_OK when `base` (64 hex) is the registry's base model, else
 * LOCO_ERR_INVALID naming `what`, both bases and the fix. */
int install_check_base(const struct install_job *j, const char *base, const char *what);
/* buf = stage + "/" + name. */
int install_stage_path(const struct install_job *j, const char *name, char *buf, size_t cap);

/* install_bundle.c: unpack `archive` into stage/bundle, set j->gguf to its
 * one .gguf and check its manifest.json (when it has one). */
int install_unpack_bundle(struct install_job *j, const char *archive);

/* install_entry.c: add the overlay entry for j->res (name, domain, path,
 * sha256, base, rank, alpha filled) with m's targets and data. */
int install_add_entry(const struct install_job *j, const struct install_meta *m,
                      const struct loco_registry_params *rp);

/* A registry adapter name: lowercase letters, digits, '.', '_', '-', at
 * most 63, not starting with '.'. */
bool install_name_valid(const char *name);

/* A relative path that stays where it is taken from: not empty, no leading
 * '/', no '..' or empty component, no backslash or control character. */
bool install_relpath_safe(const char *path);

/* Remove `path` and everything under it, never following symbolic links
 * (a link is removed, not its target). Missing is fine. */
void install_rm_tree(const char *path);

/* Copy the regular file src to a new file dst (O_EXCL); the bytes are
 * counted and refused past max_bytes. */
int install_copy_file(const char *src, const char *dst, uint64_t max_bytes);

/* loco_install_unpack_zip with messages naming `what` (the URL or path the
 * archive came from) instead of the staged copy. */
int install_unpack_zip_named(const char *archive, const char *what, const char *dir,
                             const struct loco_install_limits *lim);

/* ---- install_source.c ------------------------------------------------- */

/* What SOURCE is: hf:..., a URL, an existing folder (PEFT), .zip (bundle) or
 * other file, else an index name; LOCO_ERR_NOT_FOUND for a path that does
 * not exist, LOCO_ERR_INVALID for a .tar.gz. */
int install_classify(const char *source, enum loco_install_kind *kind);

/* A hf: reference -> the URL to fetch. A repo without a file is asked
 * (its API) for its one .gguf, else its PEFT pair: then *peft is true and
 * url ends in ".../resolve/main/", to which each PEFT file name is added. */
int install_hf_resolve(const char *ref, bool allow_file, char *url, size_t cap, bool *peft);

#endif
