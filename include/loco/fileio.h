/*
 * loco/fileio.h - writing a file so that a crash never leaves half of it.
 *
 * Every file LocoLLM writes for keeps (GGUF models and adapters, the
 * registry, checkpoints, evaluation records and reports) goes through here:
 * the data is written to a temporary file beside the target (same folder, so
 * the rename stays on one file system), flushed and fsync'd, renamed over
 * the target, and the folder is fsync'd. A reader sees the old file or the
 * new one, never a mix; a writer killed at any instant leaves the old file
 * (and at worst a stale "<name>.tmp-XXXXXX" beside it).
 *
 * The new file keeps the permission bits of the file it replaces, or gets
 * 0644 when there is none (mkstemp's 0600 is widened on purpose: a registry
 * or a model must stay readable by the other users of the machine).
 */
#ifndef LOCO_FILEIO_H
#define LOCO_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Suffix of temporary names: "<target>" LOCO_ATOMIC_TMP_SUFFIX "XXXXXX". */
#define LOCO_ATOMIC_TMP_SUFFIX ".tmp-"

/* A file being written; `f` is the temporary file, open for writing. */
struct loco_atomic_file {
    FILE *f;
    char *tmp;  /* the temporary file's path (malloc'd) */
    char *path; /* the target (malloc'd) */
};

/* Create the temporary file beside `path` and open it. LOCO_ERR_IO naming
 * the folder when it cannot be created. */
int loco_atomic_open(struct loco_atomic_file *af, const char *path);
/* Flush, fsync and close the temporary file, rename it over the target and
 * fsync the folder. On any failure the temporary file is removed, the
 * target is unchanged and the message says so. Always releases `af`. */
int loco_atomic_commit(struct loco_atomic_file *af);
/* Close and remove the temporary file; the target is unchanged. */
void loco_atomic_abort(struct loco_atomic_file *af);

/* The three steps for data already in memory. */
int loco_file_write_atomic(const char *path, const void *data, size_t len);

/* ---- reading a file someone named --------------------------------------- */

/* Open `path` for reading when it is a regular file, and refuse anything
 * else (a FIFO, socket, device or folder) at once: the open itself never
 * waits (O_NONBLOCK, cleared again after the check), so a FIFO named as a
 * registry, recipe or adapter cannot hang the reader. Symlinks are
 * followed. On success *fd_out is the descriptor (O_CLOEXEC; the caller
 * closes it). LOCO_ERR_NOT_FOUND when the path does not exist,
 * LOCO_ERR_INVALID when it is not a regular file, LOCO_ERR_IO otherwise;
 * the message names the path. */
int loco_open_regular(const char *path, int *fd_out);
/* The same as a stdio stream opened "rb" (the caller fcloses it). */
int loco_fopen_regular(const char *path, FILE **out);

/* fsync the folder that holds `path` (best effort; no error). */
void loco_fsync_parent_dir(const char *path);

/* Tests only: called with the temporary file's path after it is complete
 * and before the rename (a test kills the writer there). NULL normally. */
extern void (*loco_atomic_test_hook_before_rename)(const char *tmp_path);

#ifdef __cplusplus
}
#endif
#endif
