/*
 * util.h - the small file and path helpers every module needs: reading a
 * whole file, writing all of a buffer, the folder part of a path, the
 * user's data and cache folders (XDG base directories), and libcurl's
 * one-time global setup.
 *
 * Atomic writes are core/fileio.c's (loco/fileio.h); the string buffer is
 * core/sbuf.h; random numbers are core/rng.h.
 */
#ifndef LOCO_CORE_UTIL_H
#define LOCO_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* ---- files ---------------------------------------------------------------- */

/* The whole file at path as a malloc'd, NUL-terminated text in *text (the
 * caller's), its length in *len (len may be NULL). A pipe is read as well
 * as a file when path names a descriptor the process holds (/dev/stdin,
 * /dev/fd/N, /proc/self/fd/N: opening those never waits); any other path
 * that is not a regular file (a named FIFO, device, socket or folder) is
 * refused at once, never waited on. LOCO_ERR_NOT_FOUND when there is no
 * such file, LOCO_ERR_IO when it cannot be opened or read or is not a
 * regular file, LOCO_ERR_RANGE when it holds more than max_bytes,
 * LOCO_ERR_NOMEM; *text is NULL then and the message names the path. */
int loco_read_file(const char *path, size_t max_bytes, char **text, size_t *len);
/* The same for a file someone named (a registry, recipe, adapter config):
 * anything but a regular file (a FIFO, device, folder) is refused at once
 * with LOCO_ERR_INVALID instead of being waited on (loco_fopen_regular). */
int loco_read_regular_file(const char *path, size_t max_bytes, char **text, size_t *len);

/* Write all n bytes of p to fd, again after EINTR and short writes; false
 * (errno set, or EIO for a write of 0 bytes) when a write fails. */
bool loco_write_all(int fd, const void *p, size_t n);

/* ---- paths ---------------------------------------------------------------- */

/* The folder part of path into buf: "a/b/c" -> "a/b", "/c" -> "/",
 * "c" -> "." (cut to cap - 1 bytes). */
void loco_dir_of(const char *path, char *buf, size_t cap);

/* The user's home folder: $HOME, else the password database; NULL when
 * there is none. Borrowed; valid until the environment changes. */
const char *loco_home_dir(void);

enum loco_user_base {
    LOCO_USER_DATA,  /* $XDG_DATA_HOME, else ~/.local/share */
    LOCO_USER_CACHE, /* $XDG_CACHE_HOME, else ~/.cache */
};

/* BASE/locollm/SUB into buf (BASE/locollm when sub is NULL or ""), with
 * BASE as above: the XDG variable only when it is an absolute path, as the
 * XDG base directory spec says; trailing '/'s of BASE are dropped. LOCO_ERR_NOT_FOUND when there is
 * no home folder, LOCO_ERR_RANGE when the path does not fit cap; callers name the variable that
 * overrides it in their own message. */
int loco_user_path(enum loco_user_base base, const char *sub, char *buf, size_t cap);

/* ---- network -------------------------------------------------------------- */

/* curl_global_init, once per process whoever calls first (thread-safe);
 * LOCO_ERR_NETWORK with curl's message when it failed. */
int loco_curl_init(void);

#endif
