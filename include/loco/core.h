/*
 * loco/core.h - status codes and error messages shared by every module.
 *
 * Library functions return a status (LOCO_OK = 0, a negative enum loco_status
 * on failure) or NULL. On failure they record a message naming the file,
 * field or value at fault and, where there is one, the fix; the caller reads
 * it with loco_error_message(). Messages are kept per thread, so two threads
 * using the library never overwrite each other's message. The library never
 * prints and never exits.
 */
#ifndef LOCO_CORE_H
#define LOCO_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum loco_status {
    LOCO_OK = 0,
    LOCO_ERR_IO = -1,          /* a file could not be opened, read or written */
    LOCO_ERR_FORMAT = -2,      /* input is malformed (corrupt GGUF, bad JSON, ...) */
    LOCO_ERR_NOMEM = -3,       /* an allocation failed or a size limit was hit */
    LOCO_ERR_INVALID = -4,     /* a caller passed an invalid argument */
    LOCO_ERR_NOT_FOUND = -5,   /* a key, tensor, file or name does not exist */
    LOCO_ERR_UNSUPPORTED = -6, /* valid input that this build cannot handle */
    LOCO_ERR_TYPE = -7,        /* a value exists but has another type */
    LOCO_ERR_NETWORK = -8,     /* a download failed */
    LOCO_ERR_CHECKSUM = -9,    /* a sha256 did not match */
    LOCO_ERR_RANGE = -10,      /* a value is out of the allowed range */
    LOCO_ERR_BUSY = -11,       /* a queue is full: try again later */
    LOCO_ERR_CANCELLED = -12,  /* the work was cancelled before it ran */
};

/* The message recorded by the last failing call on this thread, or "" if
 * none. Valid until the next library call on the same thread. */
const char *loco_error_message(void);

/* Short fixed name of a status code ("io", "format", ...). */
const char *loco_status_name(int status);

/* Record a message for this thread and return `status` (a negative code), so
 * that a failing function can `return loco_error_set(LOCO_ERR_IO, "...")`.
 * For use inside the library and by its tests. */
int loco_error_set(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int loco_error_setv(int status, const char *fmt, va_list ap);

/* Prepend context to this thread's message: "<context>: <old message>". */
void loco_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clear this thread's message. */
void loco_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
