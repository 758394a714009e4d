/*
 * loco/bundle.h - submission bundles: one .zip that carries an adapter and
 * the evidence for it (recipe, training log, evaluation records and their
 * reports) with a manifest of checksums, so a reviewer (or CI) can check a
 * pull request without trusting the machine it came from.
 *
 * Why it exists: the roadmap's submission checklist (a significant gain on
 * the domain's benchmark with the planned n, no out-of-domain drop beyond 5
 * points, a reproducible recipe, a training log) is only worth something if
 * it is checked the same way for every student. `loco adapters pack` writes
 * the bundle from a registry entry; `loco adapters verify` (and
 * scripts/check-submission.sh, and the GitHub workflow that runs it) reads
 * one back and decides each point from the files themselves, reusing the
 * registry validator and the evaluation harness's re-gating.
 *
 * The layout mirrors a checkout, so unzipping a bundle at the project root
 * (manifest.json aside) puts every file where its registry entry points:
 *
 *   manifest.json                      format, name, checksums, the entry
 *   adapters/NAME/NAME.gguf            the adapter
 *   adapters/NAME/TRAINING_LOG.md      (and loss.svg when there is one)
 *   recipes/NAME.yaml                  the training recipe
 *   results/SEMESTER/RECORD.json       each evaluation record the entry's
 *   results/SEMESTER/RECORD.md|.html   scores cite, and its two reports
 *
 * A bundle arrives from outside, so reading one is careful: entries are
 * extracted into a fresh private temporary folder (mkdtemp, 0700) and
 * nowhere else; an entry name that is absolute, holds "..", an empty or "."
 * component or characters outside [A-Za-z0-9._/-], a link, device or FIFO,
 * an encrypted entry, a duplicate name, more than max_files entries or more
 * bytes than the limits is refused before or while it is read, and the
 * folder is removed again on every path.
 *
 * Every function returns LOCO_OK or a negative loco_status with a message
 * (loco_error_message()) naming the file and the fix; nothing prints.
 * docs/sharing.md describes the commands.
 */
#ifndef LOCO_BUNDLE_H
#define LOCO_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The manifest's "format". */
#define LOCO_BUNDLE_FORMAT "locollm-bundle/1"
#define LOCO_BUNDLE_MANIFEST "manifest.json"
/* Most entries a bundle may hold, and the longest entry name. */
#define LOCO_BUNDLE_MAX_FILES 64
#define LOCO_BUNDLE_PATH_MAX 256
/* The manifest is read whole: at most this many bytes. */
#define LOCO_BUNDLE_MAX_MANIFEST_BYTES (1u << 20)

/* ---- the manifest ---------------------------------------------------------- */

/* One file of a bundle. role: "adapter", "recipe", "training_log",
 * "figure", "record" or "report". */
struct loco_bundle_file {
    char path[LOCO_BUNDLE_PATH_MAX]; /* inside the bundle, e.g. "adapters/code/code.gguf" */
    char sha256[65];                 /* lowercase hex */
    uint64_t size;                   /* bytes */
    char role[16];
};

struct loco_bundle_manifest {
    char format[32]; /* LOCO_BUNDLE_FORMAT */
    char name[128];  /* the adapter's name */
    char domain[64];
    char version[64];        /* the adapter's version */
    char base_sha256[65];    /* the base model it was trained for */
    char adapter_sha256[65]; /* of the .gguf */
    char loco_version[32];   /* of the loco that packed it */
    char date[32];           /* ISO 8601 UTC */
    struct loco_bundle_file files[LOCO_BUNDLE_MAX_FILES];
    size_t n_files;
    char *entry_json; /* the registry entry as a JSON object (malloc'd; owned) */
};

/* The manifest as JSON (keys as the fields above, "files" an array of
 * {path, sha256, size, role}, "registry_entry" the entry object). malloc'd;
 * NULL with LOCO_ERR_NOMEM or LOCO_ERR_FORMAT (entry_json not an object). */
char *loco_bundle_manifest_json(const struct loco_bundle_manifest *m);

/* Parse a manifest text into *out (zeroed first; free with
 * loco_bundle_manifest_free). LOCO_ERR_FORMAT naming the field when it is
 * not JSON, another format, or a field is missing, too long or malformed
 * (a sha256 that is not 64 lowercase hex digits, a file path that
 * loco_bundle_path_safe refuses, a path listed twice, too many files). */
int loco_bundle_manifest_parse(const char *json, struct loco_bundle_manifest *out);
void loco_bundle_manifest_free(struct loco_bundle_manifest *m);

/* Whether `path` may name a file inside a bundle: relative, at most
 * LOCO_BUNDLE_PATH_MAX - 1 bytes and 8 components, each non-empty, not "."
 * or "..", of the characters A-Z a-z 0-9 . _ - only, separated by '/'. */
bool loco_bundle_path_safe(const char *path);

/* ---- packing ----------------------------------------------------------------- */

struct loco_bundle_pack_result {
    char path[4096];         /* the bundle written */
    size_t n_files;          /* manifest.json not counted */
    uint64_t bytes;          /* of the files, uncompressed */
    char entry_warning[512]; /* "" or what the entry lacks that verify will warn about */
};

/* Write the bundle of adapter `name` of registry `r` (borrowed) to
 * `out_path` (NULL: "NAME.zip" in the current folder), atomically
 * (loco/fileio.h): the adapter file, the recipe (provenance.recipe, else
 * recipe.yaml beside the adapter), the training log (provenance.training_log,
 * else TRAINING_LOG.md beside the adapter; loss.svg beside it when there is
 * one), every record the entry's scores cite with its .md and .html reports
 * (rendered from the record when they are not beside it), and the
 * manifest, whose registry entry is rewritten to the bundle's layout with
 * `status: candidate`. Refused (nothing written) with the fix when the
 * adapter is unknown, a file is missing, it has no training log, no
 * scores, or no record of its domain's primary benchmark. A record whose
 * gate failed is packed all the same (verify says so). */
int loco_bundle_pack(const struct loco_registry *r, const char *name, const char *out_path,
                     struct loco_bundle_pack_result *res);

/* ---- reading a bundle safely --------------------------------------------------- */

struct loco_bundle_limits {
    size_t max_files;        /* entries, at most LOCO_BUNDLE_MAX_FILES */
    uint64_t max_file_bytes; /* one entry, uncompressed */
    uint64_t max_total_bytes;
};

/* 64 files, 4 GiB per file, 8 GiB in all. */
struct loco_bundle_limits loco_bundle_default_limits(void);

/* A bundle extracted into a private temporary folder. */
struct loco_bundle_contents {
    char dir[4096]; /* the folder (mkdtemp, 0700); "" once removed */
    struct loco_bundle_file files[LOCO_BUNDLE_MAX_FILES]; /* as found: path, sha256, size */
    size_t n_files;
};

/* Extract `zip_path` into a new folder "loco-bundle-XXXXXX" under tmp_dir
 * (NULL: $TMPDIR, else /tmp), hashing each entry as it is written. The zip
 * is opened only when it is a regular file. Any hostile entry (see the top
 * of this file) or a limit passed refuses the whole bundle with
 * LOCO_ERR_INVALID (LOCO_ERR_RANGE for a limit) naming the entry, after
 * removing everything written; out->dir is then "". On success the caller
 * owns the folder: loco_bundle_contents_remove deletes it. */
int loco_bundle_extract(const char *zip_path, const char *tmp_dir,
                        const struct loco_bundle_limits *lim, struct loco_bundle_contents *out);
/* Delete every file and folder loco_bundle_extract made (and a registry
 * file loco_bundle_verify wrote there), then the folder; "" after. */
void loco_bundle_contents_remove(struct loco_bundle_contents *c);
/* The extracted entry named `path`, or NULL. Borrowed from c. */
const struct loco_bundle_file *loco_bundle_contents_find(const struct loco_bundle_contents *c,
                                                         const char *path);

/* ---- verifying ------------------------------------------------------------------- */

enum loco_bundle_check_status {
    LOCO_BUNDLE_PASS = 0,
    LOCO_BUNDLE_WARN, /* worth a reviewer's look; does not fail the bundle */
    LOCO_BUNDLE_FAIL,
};

/* "PASS", "WARN", "FAIL". */
const char *loco_bundle_check_status_name(enum loco_bundle_check_status s);

/* One check: its name ("archive", "files", "base", "registry", "gate",
 * "out-of-domain", "contamination", "training-log", "reports"), its
 * outcome and why, in words a student can act on. */
struct loco_bundle_check {
    const char *name; /* static */
    enum loco_bundle_check_status status;
    char reason[1536];
};

#define LOCO_BUNDLE_MAX_CHECKS 12

struct loco_bundle_verify_result {
    char name[128]; /* the adapter's name from the manifest ("" when unreadable) */
    struct loco_bundle_check checks[LOCO_BUNDLE_MAX_CHECKS];
    size_t n_checks;
    bool ok; /* no check FAILed */
};

struct loco_bundle_verify_params {
    const char *tmp_dir; /* where the private folder goes; NULL: $TMPDIR, else /tmp */
    struct loco_bundle_limits limits;
};

struct loco_bundle_verify_params loco_bundle_verify_default_params(void);

/* Check the bundle at `bundle_path` against `project` (the project
 * registry, borrowed: its base model and the bundle's domain):
 *   archive        the zip opens and every entry is safe (else nothing more
 *                  is checked);
 *   files          manifest.json parses; every file it lists is there with
 *                  its sha256 and size, and nothing else is;
 *   base           the manifest's and the entry's base sha256 are the
 *                  project's base model's;
 *   registry       the entry, placed in a registry with the project's base
 *                  model and domain, passes the registry validator with its
 *                  files (loco_registry_check_files: adapter hash, GGUF
 *                  base, rank, alpha, targets, records present);
 *   gate           the records (re-gated by loco_eval_record_regate) are of
 *                  this adapter file and passed superiority on the domain's
 *                  primary benchmark, with at least the planned n when the
 *                  record has a plan (WARN when it has none); the entry's
 *                  `passed` agrees;
 *   out-of-domain  every non-inferiority benchmark passed or was
 *                  uninformative (each named); WARN when there is none;
 *   contamination  every record's contamination check ran;
 *   training-log   present, not empty, not the unfilled template (WARN
 *                  when its "to fill in" sections are still the template's);
 *   reports        each record's .md and .html are in the bundle (WARN).
 * Returns LOCO_OK when the checks ran (res->ok says whether all required
 * ones passed); an error only for bad arguments or no memory. */
int loco_bundle_verify(const char *bundle_path, const struct loco_registry *project,
                       const struct loco_bundle_verify_params *p,
                       struct loco_bundle_verify_result *res);

/* The result as JSON: {"bundle", "name", "ok", "checks": [{"name",
 * "status", "reason"}]}. malloc'd; NULL when out of memory. */
char *loco_bundle_verify_json(const char *bundle_path, const struct loco_bundle_verify_result *res);

#ifdef __cplusplus
}
#endif
#endif
