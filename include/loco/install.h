/*
 * loco/install.h - installing a shared adapter: `loco adapters install SOURCE`.
 *
 * Why it exists: students share adapters (docs/sharing.md). A user names one
 * from an adapter index, or gives a URL, a Hugging Face reference or a local
 * file, folder or bundle, and gets a verified adapter in their adapters
 * folder with one entry in their user overlay, or nothing at all.
 *
 * The steps, in order, all inside a staging folder
 * "<adapters dir>/.install-XXXXXX" that is removed on every way out:
 *   1. resolve SOURCE (index name -> its entry; hf:owner/repo[/file] -> a
 *      URL; a URL; a path);
 *   2. fetch or copy it into the staging folder (downloads go through the
 *      model cache's downloader, src/models/fetch.c);
 *   3. check its size and sha256 against the index entry or --sha256;
 *   4. unpack a bundle (.zip) safely, or import a PEFT folder;
 *   5. check the adapter: a GGUF LoRA adapter for the registry's base (its
 *      locollm.base.sha256 and architecture);
 *   6. rename it to "<adapters dir>/NAME.gguf" and add one entry to the user
 *      overlay (loco_registry_add_adapter, one locked atomic write); if that
 *      write fails the file is removed again.
 * Installs take an flock on the adapters folder itself, so a staging
 * folder found while holding it is a killed install's leftover and is
 * removed.
 *
 * The index is a JSON file (docs/sharing.md):
 *   {"version": 1, "adapters": [{"name", "domain", "base_sha256", "url",
 *    "sha256", "size", "license", "record"}, ...]}
 *
 * Every function returns LOCO_OK or a negative loco_status with a message
 * (loco_error_message()) that names what was refused and the fix; nothing
 * here prints.
 */
#ifndef LOCO_INSTALL_H
#define LOCO_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/models.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_INSTALL_PATH_MAX 4096
#define LOCO_INSTALL_INDEX_MAX_BYTES (4u << 20) /* an index larger than 4 MiB is refused */

/* ---- the adapter index (src/lora/install_index.c) ------------------------ */

struct loco_install_entry {
    char *name;        /* unique in the index; a registry adapter name */
    char *domain;      /* the registry domain it serves */
    char *base_sha256; /* the base model it was trained on (64 lowercase hex) */
    char *url;         /* the file: an http(s) URL, or relative to the index's location */
    char *sha256;      /* of that file (64 lowercase hex) */
    uint64_t size;     /* of that file, in bytes (> 0) */
    char *license;     /* e.g. "Apache-2.0" */
    char *record;      /* the evaluation record: a URL, or an inline summary as JSON text */
    char *version;     /* optional: "" when absent */
    char *description; /* optional: "" when absent */
};

struct loco_install_index {
    char origin[LOCO_INSTALL_PATH_MAX]; /* where it was read from (URL or path) */
    struct loco_install_entry *entries;
    size_t n_entries;
};

/* Parse index JSON text (len bytes). `origin` (URL or path) is kept for
 * messages and relative URLs. Every entry is checked: the fields above
 * present with the right types, names unique and registry-valid, hex digests
 * of 64 digits; a problem names the entry and field. *out is freed with
 * loco_install_index_free(). */
int loco_install_index_parse(const char *json, size_t len, const char *origin,
                             struct loco_install_index **out);
/* Read an index from an http(s) URL or a path (at most
 * LOCO_INSTALL_INDEX_MAX_BYTES) and parse it. allow_file: accept file://. */
int loco_install_index_load(const char *url_or_path, bool allow_file,
                            struct loco_install_index **out);
void loco_install_index_free(struct loco_install_index *idx);
/* NULL (and LOCO_ERR_NOT_FOUND listing the names) when absent. Borrowed. */
const struct loco_install_entry *loco_install_index_find(const struct loco_install_index *idx,
                                                         const char *name);
/* The entry's file as a URL or path: an absolute URL as is, else taken
 * relative to the index's own location. LOCO_ERR_RANGE when it does not fit. */
int loco_install_index_file_url(const struct loco_install_index *idx,
                                const struct loco_install_entry *e, char *buf, size_t cap);

/* ---- sources --------------------------------------------------------------- */

enum loco_install_kind {
    LOCO_INSTALL_INDEX = 1, /* a name from the adapter index */
    LOCO_INSTALL_URL,       /* an http(s) URL of a .gguf or .zip */
    LOCO_INSTALL_HF,        /* hf:owner/repo[/file] */
    LOCO_INSTALL_FILE,      /* a local .gguf */
    LOCO_INSTALL_BUNDLE,    /* a local .zip bundle (loco adapters pack) */
    LOCO_INSTALL_PEFT,      /* a local PEFT folder */
};

/* "index", "url", "hf", "file", "bundle", "peft". */
const char *loco_install_kind_name(enum loco_install_kind k);

/* hf:owner/repo/file -> https://huggingface.co/owner/repo/resolve/main/file
 * (base: $LOCO_HF_URL, else https://huggingface.co). A reference without a
 * file writes the repo's API URL <base>/api/models/owner/repo to buf and
 * sets *has_file false. LOCO_ERR_INVALID for a malformed reference (owner
 * and repo are letters, digits, '-', '_', '.'; no '..'). */
int loco_install_hf_url(const char *ref, char *buf, size_t cap, bool *has_file);

/* ---- unpacking a bundle (src/lora/install_archive.c) --------------------- */

struct loco_install_limits {
    uint32_t max_files; /* entries in the archive (default 64) */
    uint64_t max_bytes; /* all unpacked bytes together (default 4 GiB) */
    uint32_t max_depth; /* folders deep (default 4) */
};

struct loco_install_limits loco_install_default_limits(void);

/* Unpack the zip `archive` into the existing empty folder `dir`. Refused
 * (LOCO_ERR_INVALID naming the entry, nothing kept in dir is trusted; the
 * caller removes dir): absolute names, a '..' component, symbolic links,
 * devices, FIFOs, encrypted entries, duplicates, more entries, bytes or
 * depth than the limits (bytes are counted as they are written, not taken
 * from the header). */
int loco_install_unpack_zip(const char *archive, const char *dir,
                            const struct loco_install_limits *lim);

/* ---- installing -------------------------------------------------------- */

struct loco_install_params {
    const char *name;     /* register under this name; NULL: index name, else the file's */
    const char *domain;   /* NULL: the index's, the bundle's, else the file's metadata */
    const char *sha256;   /* pin: the fetched file (or bundle) must hash to this */
    const char *index;    /* index URL or path; NULL: $LOCO_ADAPTER_INDEX, else the
                             registry's `index:` */
    const char *model;    /* base model for a PEFT import (NULL: "default") */
    const char *registry; /* project registry file; NULL: the usual search */
    bool dry_run;         /* resolve and say what would happen; write nothing */
    bool allow_file_url;  /* accept file:// URLs (tests); also LOCO_ALLOW_FILE_URL=1 */
    struct loco_install_limits limits;
    loco_models_progress_fn progress; /* may be NULL; download and hashing progress */
    void *progress_user;
};

struct loco_install_params loco_install_default_params(void);

struct loco_install_result {
    enum loco_install_kind kind;
    char name[128];
    char domain[128];
    char fetch[LOCO_INSTALL_PATH_MAX];    /* the URL or path fetched */
    char path[LOCO_INSTALL_PATH_MAX];     /* the installed file (where it would go, dry run) */
    char overlay[LOCO_INSTALL_PATH_MAX];  /* the user overlay written */
    char sha256[LOCO_SHA256_HEX_LEN + 1]; /* of the adapter file ("" in a dry run before fetch) */
    char expect_sha256[LOCO_SHA256_HEX_LEN + 1]; /* what the fetched file must hash to ("" none) */
    uint64_t expect_size;                        /* what it must weigh (0: not known) */
    uint64_t size;                               /* the adapter file's bytes */
    char base_sha256[LOCO_SHA256_HEX_LEN + 1];   /* the base it is for */
    char license[128];                           /* from the index ("" when not known) */
    char record[1024];                           /* the index's evaluation record ("" none) */
    int32_t rank;
    double alpha;
    bool base_recorded; /* the adapter file records its base (else the registry's is assumed) */
    bool dry_run;
};

/* Install SOURCE as described at the top. `p` may be NULL for the defaults;
 * `out` may be NULL. Errors: LOCO_ERR_CHECKSUM (size or sha256 mismatch),
 * LOCO_ERR_NETWORK, LOCO_ERR_INVALID (hostile archive, wrong base, bad
 * name, already installed), LOCO_ERR_NOT_FOUND (no such name, file or
 * index), LOCO_ERR_FORMAT (not an adapter). On any error nothing new is
 * left in the adapters folder or the overlay. */
int loco_install(const char *source, const struct loco_install_params *p,
                 struct loco_install_result *out);

#ifdef __cplusplus
}
#endif
#endif
