/*
 * sbuf.c - the growable string buffer (see core/sbuf.h).
 */
#include "core/sbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/core.h"

/* Room for n more bytes and a NUL; false (and failed) when there is none.
 * Capacity doubles, or is exactly enough when `exact`. */
static bool grow(struct loco_sbuf *b, size_t n, bool exact)
{
    if (b->failed)
        return false;
    size_t limit = b->max ? b->max : SIZE_MAX / 2;
    if (n > limit || b->len > limit - n) {
        b->failed = b->too_long = true;
        return false;
    }
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = exact ? b->len + n + 1 : b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap = cap <= SIZE_MAX / 4 ? cap * 2 : b->len + n + 1;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

bool loco_sbuf_reserve(struct loco_sbuf *b, size_t n)
{
    return grow(b, n, true);
}

void loco_sbuf_add(struct loco_sbuf *b, const void *s, size_t n)
{
    if (!grow(b, n, false))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void loco_sbuf_adds(struct loco_sbuf *b, const char *s)
{
    if (s)
        loco_sbuf_add(b, s, strlen(s));
}

void loco_sbuf_printf(struct loco_sbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        loco_sbuf_add(b, small, (size_t)n);
        return;
    }
    if (!grow(b, (size_t)n, false))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int loco_sbuf_status(const struct loco_sbuf *b)
{
    if (!b->failed)
        return LOCO_OK;
    return b->too_long ? LOCO_ERR_RANGE : LOCO_ERR_NOMEM;
}

char *loco_sbuf_finish(struct loco_sbuf *b)
{
    if (!b->p)
        loco_sbuf_add(b, "", 0);
    if (b->failed) {
        if (b->too_long)
            loco_error_set(LOCO_ERR_RANGE, "text longer than the %zu-byte limit", b->max);
        else
            loco_error_set(LOCO_ERR_NOMEM, "out of memory building a %zu-byte text", b->len);
        loco_sbuf_free(b);
        return NULL;
    }
    char *p = b->p;
    *b = (struct loco_sbuf){.max = b->max};
    return p;
}

void loco_sbuf_free(struct loco_sbuf *b)
{
    free(b->p);
    *b = (struct loco_sbuf){.max = b->max};
}

char *loco_str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        loco_error_set(LOCO_ERR_NOMEM, "out of memory formatting a string");
    return s;
}
