/*
 * sbuf.h - the one growable string buffer of the library, and printf into
 * a fresh string.
 *
 * Appends never fail on the spot: the first failure (out of memory, or the
 * text would pass `max`) sticks in `failed`, later appends do nothing, and
 * loco_sbuf_finish() reports it once. So a writer can append a whole
 * document and check one result at the end.
 *
 *     struct loco_sbuf b = {.max = 1 << 20};
 *     loco_sbuf_adds(&b, "total: ");
 *     loco_sbuf_printf(&b, "%d\n", n);
 *     char *text = loco_sbuf_finish(&b); // NULL (message set) on failure
 */
#ifndef LOCO_CORE_SBUF_H
#define LOCO_CORE_SBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Start with {0} (no limit) or {.max = N}. p is NUL-terminated whenever it
 * is not NULL, so it may hold bytes (p[0..len)) as well as text. */
struct loco_sbuf {
    char *p;       /* the text, owned; NULL until the first append */
    size_t len;    /* bytes in p, not counting the terminating NUL */
    size_t cap;    /* bytes allocated for p */
    size_t max;    /* most bytes the text may hold; 0: no limit of its own */
    bool failed;   /* an append failed; p keeps what came before it */
    bool too_long; /* ... because the text would have passed max */
};

/* ---- appending ------------------------------------------------------------ */

/* n bytes of s (which may hold NULs). */
void loco_sbuf_add(struct loco_sbuf *b, const void *s, size_t n);
/* The string s; s NULL appends nothing. */
void loco_sbuf_adds(struct loco_sbuf *b, const char *s);
void loco_sbuf_printf(struct loco_sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Room for n more bytes without another allocation (when the size is known
 * ahead); false, and failed, as an append of n bytes would fail. */
bool loco_sbuf_reserve(struct loco_sbuf *b, size_t n);

/* ---- finishing ------------------------------------------------------------ */

/* The text ("" when nothing was appended), malloc'd and now the caller's;
 * the buffer is left empty. NULL when an append failed: the text is freed
 * and the message set (LOCO_ERR_RANGE past max, else LOCO_ERR_NOMEM; see
 * loco_sbuf_status). */
char *loco_sbuf_finish(struct loco_sbuf *b);
/* LOCO_OK, or the status loco_sbuf_finish would report. */
int loco_sbuf_status(const struct loco_sbuf *b);
/* Free the text and empty the buffer (max is kept). */
void loco_sbuf_free(struct loco_sbuf *b);

/* ---- formatted strings ---------------------------------------------------- */

/* A malloc'd string printed from fmt, or NULL (LOCO_ERR_NOMEM set). */
char *loco_str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
