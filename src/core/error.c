/*
 * error.c - per-thread error messages (see loco/core.h).
 *
 * One fixed buffer per thread: no allocation on the error path, so an
 * out-of-memory failure can still say what it was doing.
 */
#include "loco/core.h"

#include <stdio.h>
#include <string.h>

#define LOCO_ERROR_CAP 1024

static _Thread_local char error_buf[LOCO_ERROR_CAP];

const char *loco_error_message(void)
{
    return error_buf;
}

const char *loco_status_name(int status)
{
    switch (status) {
    case LOCO_OK: return "ok";
    case LOCO_ERR_IO: return "io";
    case LOCO_ERR_FORMAT: return "format";
    case LOCO_ERR_NOMEM: return "nomem";
    case LOCO_ERR_INVALID: return "invalid";
    case LOCO_ERR_NOT_FOUND: return "not-found";
    case LOCO_ERR_UNSUPPORTED: return "unsupported";
    case LOCO_ERR_TYPE: return "type";
    case LOCO_ERR_NETWORK: return "network";
    case LOCO_ERR_CHECKSUM: return "checksum";
    case LOCO_ERR_RANGE: return "range";
    case LOCO_ERR_BUSY: return "busy";
    case LOCO_ERR_CANCELLED: return "cancelled";
    default: return "unknown";
    }
}

int loco_error_setv(int status, const char *fmt, va_list ap)
{
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    return status;
}

int loco_error_set(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    loco_error_setv(status, fmt, ap);
    va_end(ap);
    return status;
}

void loco_error_prefix(const char *fmt, ...)
{
    char prefix[LOCO_ERROR_CAP];
    char old[LOCO_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    /* truncation is acceptable here: the buffer bounds the message */
    size_t n = strnlen(prefix, sizeof prefix - 1);
    memcpy(error_buf, prefix, n);
    size_t at = n;
    if (at + 2 < sizeof error_buf) {
        error_buf[at++] = ':';
        error_buf[at++] = ' ';
    }
    size_t rest = strnlen(old, sizeof old);
    if (rest > sizeof error_buf - 1 - at)
        rest = sizeof error_buf - 1 - at;
    memcpy(error_buf + at, old, rest);
    error_buf[at + rest] = '\0';
}

void loco_error_clear(void)
{
    error_buf[0] = '\0';
}
