/*
 * util.c - string copies, lines and the findall-style regex iterator used
 * by every scorer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/core.h"

char *score_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory copying %zu bytes", n);
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *score_strdup(const char *s)
{
    return score_strndup(s, strlen(s));
}

/* ---- regex iterator ------------------------------------------------- */

int score_regex_open(struct score_regex *r, const char *pattern, uint32_t flags,
                     const char *subject)
{
    memset(r, 0, sizeof *r);
    int err = 0;
    PCRE2_SIZE at = 0;
    r->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, flags, &err, &at, NULL);
    if (!r->code) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(err, why, sizeof why);
        return loco_error_set(LOCO_ERR_INVALID, "regex \"%s\" does not compile at offset %zu: %s",
                              pattern, (size_t)at, (const char *)why);
    }
    r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    if (!r->md) {
        pcre2_code_free(r->code);
        r->code = NULL;
        return loco_error_set(LOCO_ERR_NOMEM, "out of memory for regex match data");
    }
    r->subject = subject;
    r->len = strlen(subject);
    return LOCO_OK;
}

/* Python 3.7+ findall: after an empty match the next search may not return
 * another empty match at the same place; it tries a non-empty one there,
 * then moves one character on. */
int score_regex_next(struct score_regex *r, const size_t **ovector, uint32_t *n_pairs)
{
    while (r->offset <= r->len) {
        uint32_t opts = r->last_empty ? PCRE2_NOTEMPTY_ATSTART : 0;
        int rc = pcre2_match(r->code, (PCRE2_SPTR)r->subject, r->len, r->offset, opts, r->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!r->last_empty)
                return 0;
            r->last_empty = false; /* step past the empty match */
            r->offset++;
            continue;
        }
        if (rc < 0)
            return loco_error_set(LOCO_ERR_INVALID, "regex matching failed (PCRE2 error %d)", rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        r->last_empty = ov[0] == ov[1];
        r->offset = ov[1];
        *ovector = ov;
        *n_pairs = pcre2_get_ovector_count(r->md);
        return 1;
    }
    return 0;
}

void score_regex_close(struct score_regex *r)
{
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
    memset(r, 0, sizeof *r);
}

/* ---- files ------------------------------------------------------------ */

char *score_next_line(char **cursor)
{
    char *s = *cursor;
    if (!s || !*s)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = s + strlen(s);
    }
    return s;
}
