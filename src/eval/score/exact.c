/*
 * exact.c - exact match with optional normalisation, and lm-eval's regex
 * filter (findall, pick a match, reduce groups, strip).
 */
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/score.h"

/* ---- normalisation -------------------------------------------------- */

char *loco_score_normalise(const char *s, uint32_t flags)
{
    if (!s) {
        loco_error_set(LOCO_ERR_INVALID, "normalise: NULL string");
        return NULL;
    }
    char *out = malloc(strlen(s) + 1);
    if (!out) {
        loco_error_set(LOCO_ERR_NOMEM, "normalise: out of memory");
        return NULL;
    }
    size_t n = 0;
    bool pending_space = false; /* a whitespace run waiting to be written */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((flags & LOCO_NORM_PUNCTUATION) && score_is_punct(c))
            continue;
        if (score_is_space(c)) {
            if (flags & LOCO_NORM_WHITESPACE) {
                pending_space = n > 0;
                continue;
            }
        } else if (pending_space) {
            out[n++] = ' ';
            pending_space = false;
        }
        out[n++] = (flags & LOCO_NORM_CASE) ? score_lower((char)c) : (char)c;
    }
    /* trim: leading (skip) and trailing whitespace */
    while (n > 0 && score_is_space((unsigned char)out[n - 1]))
        n--;
    size_t start = 0;
    while (start < n && score_is_space((unsigned char)out[start]))
        start++;
    memmove(out, out + start, n - start);
    out[n - start] = '\0';
    return out;
}

int loco_score_exact_match(const char *answer, const char *reference, uint32_t flags)
{
    if (!answer || !reference)
        return loco_error_set(LOCO_ERR_INVALID,
                              "exact match: answer and reference must not be NULL");
    char *a = loco_score_normalise(answer, flags);
    char *r = loco_score_normalise(reference, flags);
    int rc = (a && r) ? (strcmp(a, r) == 0) : LOCO_ERR_NOMEM;
    free(a);
    free(r);
    return rc;
}

/* ---- lm-eval's RegexFilter ------------------------------------------ */

/* The span findall reports for one match: whole match without groups,
 * group 1 with one group, otherwise the first non-empty group. */
static void findall_span(const size_t *ov, uint32_t n_pairs, size_t *start, size_t *end)
{
    if (n_pairs <= 2) {
        uint32_t g = n_pairs - 1;
        *start = ov[2 * g];
        *end = ov[2 * g + 1];
        if (*start == PCRE2_UNSET)
            *start = *end = 0;
        return;
    }
    *start = *end = 0;
    for (uint32_t g = 1; g < n_pairs; g++) {
        if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
            *start = ov[2 * g];
            *end = ov[2 * g + 1];
            return;
        }
    }
}

struct span {
    size_t start, end;
};

/* All matches' spans; *spans is malloc'd. */
static int findall(const char *text, const char *pattern, struct span **spans, size_t *n)
{
    struct score_regex r;
    int rc = score_regex_open(&r, pattern, 0, text);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    *spans = NULL;
    *n = 0;
    const size_t *ov;
    uint32_t pairs;
    while ((rc = score_regex_next(&r, &ov, &pairs)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct span *s = realloc(*spans, cap * sizeof *s);
            if (!s) {
                rc = loco_error_set(LOCO_ERR_NOMEM, "regex: out of memory listing matches");
                break;
            }
            *spans = s;
        }
        findall_span(ov, pairs, &(*spans)[*n].start, &(*spans)[*n].end);
        (*n)++;
    }
    score_regex_close(&r);
    if (rc < 0) {
        free(*spans);
        *spans = NULL;
        return rc;
    }
    return LOCO_OK;
}

int loco_score_regex_extract(const char *response, const char *pattern, int32_t group_select,
                             const char *fallback, char **out)
{
    if (!response || !pattern || !fallback || !out)
        return loco_error_set(LOCO_ERR_INVALID, "regex extract: NULL argument");
    *out = NULL;
    struct span *spans;
    size_t n;
    int rc = findall(response, pattern, &spans, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        *out = score_strdup(fallback);
        return *out ? LOCO_OK : LOCO_ERR_NOMEM;
    }
    int64_t i = group_select < 0 ? (int64_t)n + group_select : group_select;
    if (i < 0 || i >= (int64_t)n) {
        free(spans);
        return loco_error_set(LOCO_ERR_RANGE, "regex extract: match %d asked for, only %zu found",
                              (int)group_select, n);
    }
    size_t s = spans[i].start, e = spans[i].end;
    free(spans);
    while (s < e && score_is_space((unsigned char)response[s]))
        s++;
    while (e > s && score_is_space((unsigned char)response[e - 1]))
        e--;
    *out = score_strndup(response + s, e - s);
    return *out ? LOCO_OK : LOCO_ERR_NOMEM;
}
