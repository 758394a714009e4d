/*
 * score_internal.h - helpers shared by the scorers: string copies, lines,
 * ASCII character classes, and a PCRE2 match iterator that walks matches
 * the way Python's re.findall does. The string buffer is core/sbuf.h's and
 * whole files are read with core/util.h's loco_read_file.
 */
#ifndef LOCO_SCORE_INTERNAL_H
#define LOCO_SCORE_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/sbuf.h"
#include "core/util.h"

/* ---- strings and files ---------------------------------------------- */

char *score_strdup(const char *s);
char *score_strndup(const char *s, size_t n);

#define SCORE_MAX_FILE ((size_t)1 << 30) /* 1 GiB: a cap on files read whole */

/* Split a mutable text into lines in place: returns the next line with its
 * '\n' replaced by NUL, or NULL at the end. */
char *score_next_line(char **cursor);

/* ---- ASCII classes (locale-independent) ----------------------------- */

static inline bool score_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static inline bool score_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
static inline bool score_is_punct(unsigned char c) /* Python's string.punctuation */
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}
static inline char score_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- regex matches as re.findall walks them ------------------------- */

struct score_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    const char *subject;
    size_t len, offset;
    bool last_empty; /* the previous match was empty at `offset` */
};

/* Compile `pattern` (flags: PCRE2_* options) for matching `subject`.
 * LOCO_ERR_INVALID with PCRE2's reason when it does not compile. */
int score_regex_open(struct score_regex *r, const char *pattern, uint32_t flags,
                     const char *subject);
/* Next match: 1 and the ovector (pairs of offsets, group 0 first), 0 when
 * there are no more, negative on a matching error. */
int score_regex_next(struct score_regex *r, const size_t **ovector, uint32_t *n_pairs);
void score_regex_close(struct score_regex *r);

/* ---- Porter stemmer (porter.c) ---------------------------------------- */

/* Stem the lower-case word w[0..n) in place; returns the stem length (<= n). */
size_t score_porter_stem_inplace(char *w, size_t n);

#endif
