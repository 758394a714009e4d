/*
 * numeric.c - the number an answer gives, shared by the GSM8K scorer and
 * the custom `numeric` scorer, and the custom `regex` scorer.
 *
 * One extraction (loco_number_extract) with three rules: "#### N" (GSM8K's
 * strict-match pattern, first match), \boxed{N} (the last one holding a
 * number), the last number in the text (flexible-extract's pattern, last
 * match). GSM8K asks it for one rule at a time, so its scores stay
 * lm-eval's; the numeric scorer asks for all three in that order and then
 * compares values, not strings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/score/score_internal.h"
#include "loco/score.h"

#define HASHES_PATTERN "#### (\\-?[0-9\\.\\,]+)"
#define LAST_PATTERN "(-?[$0-9.,]{2,})|(-?[0-9]+)"

/* ---- reading one number ------------------------------------------------- */

static const char *skip_space(const char *s)
{
    while (score_is_space((unsigned char)*s))
        s++;
    return s;
}

/* A prefix of s that is a currency sign: its length, else 0. */
static size_t currency(const char *s)
{
    if (s[0] == '\\' && s[1] == '$')
        return 2;
    if (s[0] == '$')
        return 1;
    if (!strncmp(s, "\xc2\xa3", 2)) /* £ */
        return 2;
    if (!strncmp(s, "\xe2\x82\xac", 3)) /* € */
        return 3;
    return 0;
}

/* A plain decimal s[0..n): digits with commas only between digits, one
 * optional point. */
static int plain_decimal(const char *s, size_t n, double *v)
{
    char buf[128];
    size_t k = 0, digits = 0;
    bool point = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            digits++;
        } else if (c == ',') {
            if (i == 0 || i + 1 >= n || !(s[i - 1] >= '0' && s[i - 1] <= '9') ||
                !(s[i + 1] >= '0' && s[i + 1] <= '9') || point)
                return LOCO_ERR_FORMAT;
            continue;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            return LOCO_ERR_FORMAT;
        }
        if (k + 1 >= sizeof buf)
            return LOCO_ERR_FORMAT;
        buf[k++] = c;
    }
    if (digits == 0)
        return LOCO_ERR_FORMAT;
    buf[k] = '\0';
    char *end = NULL;
    *v = strtod(buf, &end);
    return end && *end == '\0' ? LOCO_OK : LOCO_ERR_FORMAT;
}

/* "\frac{a}{b}" (also \dfrac, \tfrac) filling all of s[0..n). */
static int latex_frac(const char *s, size_t n, double *v)
{
    static const char *const heads[] = {"\\frac{", "\\dfrac{", "\\tfrac{"};
    for (size_t h = 0; h < 3; h++) {
        size_t hl = strlen(heads[h]);
        if (n <= hl || strncmp(s, heads[h], hl))
            continue;
        const char *a = s + hl, *end = s + n;
        const char *close = memchr(a, '}', (size_t)(end - a));
        if (!close || close + 1 >= end || close[1] != '{' || end[-1] != '}')
            return LOCO_ERR_FORMAT;
        double x, y;
        if (plain_decimal(a, (size_t)(close - a), &x) ||
            plain_decimal(close + 2, (size_t)(end - 1 - (close + 2)), &y) || y == 0)
            return LOCO_ERR_FORMAT;
        *v = x / y;
        return LOCO_OK;
    }
    return LOCO_ERR_FORMAT;
}

int loco_number_parse(const char *text, double *value)
{
    if (!text || !value)
        return loco_error_set(LOCO_ERR_INVALID, "number parse: NULL argument");
    const char *s = skip_space(text);
    size_t n = strlen(s);
    while (n && score_is_space((unsigned char)s[n - 1]))
        n--;
    /* trailing: one ".", then "%" (or "\%"), then spaces */
    if (n && s[n - 1] == '.')
        n--;
    if (n && s[n - 1] == '%')
        n -= n >= 2 && s[n - 2] == '\\' ? 2 : 1;
    while (n && score_is_space((unsigned char)s[n - 1]))
        n--;
    double sign = 1;
    size_t c = currency(s);
    s += c;
    n -= c;
    if (n && (s[0] == '-' || s[0] == '+')) {
        sign = s[0] == '-' ? -1 : 1;
        s++;
        n--;
    }
    if (!c && (c = currency(s)) != 0) { /* "-$5" */
        s += c;
        n -= c;
    }
    double v;
    const char *slash = memchr(s, '/', n);
    int rc;
    if (slash) {
        double a, b;
        rc = plain_decimal(s, (size_t)(slash - s), &a);
        if (!rc)
            rc = plain_decimal(slash + 1, n - (size_t)(slash + 1 - s), &b);
        if (!rc && b == 0)
            rc = LOCO_ERR_FORMAT;
        v = rc ? 0 : a / b;
    } else if (n && s[0] == '\\') {
        rc = latex_frac(s, n, &v);
    } else {
        rc = plain_decimal(s, n, &v);
    }
    if (rc)
        return loco_error_set(LOCO_ERR_FORMAT, "\"%.60s\" is not a number", text);
    *value = sign * v;
    return LOCO_OK;
}

bool loco_number_equal(double a, double b, double rel_tol)
{
    if (!isfinite(a) || !isfinite(b))
        return false;
    if (a == b)
        return true;
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= rel_tol * scale;
}

/* ---- finding it in an answer ------------------------------------------- */

/* The contents of the last \boxed{...} that holds a number: the contents
 * when they are one number, else their last number. NULL when none does
 * (no message: not an error). */
static char *last_boxed(const char *response)
{
    const char *hits[64];
    size_t n = 0;
    for (const char *p = strstr(response, "\\boxed{"); p && n < 64; p = strstr(p + 1, "\\boxed{"))
        hits[n++] = p + 7;
    while (n--) {
        const char *a = hits[n], *e = a;
        int depth = 1;
        for (; *e && depth; e++)
            depth += *e == '{' ? 1 : *e == '}' ? -1 : 0;
        if (depth)
            continue; /* unclosed */
        char *inside = score_strndup(a, (size_t)(e - 1 - a));
        if (!inside)
            return NULL;
        double v;
        if (loco_number_parse(inside, &v) == LOCO_OK)
            return inside;
        char *last = NULL;
        int rc = loco_score_regex_extract(inside, LAST_PATTERN, -1, LOCO_GSM8K_INVALID, &last);
        free(inside);
        if (rc == LOCO_OK && strcmp(last, LOCO_GSM8K_INVALID))
            return last;
        free(last);
    }
    return NULL;
}

int loco_number_extract(const char *response, uint32_t rules, char **out, uint32_t *rule)
{
    if (!response || !out)
        return loco_error_set(LOCO_ERR_INVALID, "number extract: NULL argument");
    *out = NULL;
    if (rule)
        *rule = 0;
    if (rules & LOCO_NUMBER_HASHES) {
        int rc = loco_score_regex_extract(response, HASHES_PATTERN, 0, LOCO_GSM8K_INVALID, out);
        if (rc < 0)
            return rc;
        if (strcmp(*out, LOCO_GSM8K_INVALID) || rules == LOCO_NUMBER_HASHES) {
            if (rule && strcmp(*out, LOCO_GSM8K_INVALID))
                *rule = LOCO_NUMBER_HASHES;
            return LOCO_OK;
        }
        free(*out);
        *out = NULL;
    }
    if (rules & LOCO_NUMBER_BOXED) {
        *out = last_boxed(response);
        if (*out) {
            if (rule)
                *rule = LOCO_NUMBER_BOXED;
            return LOCO_OK;
        }
    }
    if (rules & LOCO_NUMBER_LAST) {
        int rc = loco_score_regex_extract(response, LAST_PATTERN, -1, LOCO_GSM8K_INVALID, out);
        if (rc < 0)
            return rc;
        if (rule && strcmp(*out, LOCO_GSM8K_INVALID))
            *rule = LOCO_NUMBER_LAST;
        return LOCO_OK;
    }
    *out = score_strdup(LOCO_GSM8K_INVALID);
    return *out ? LOCO_OK : loco_error_set(LOCO_ERR_NOMEM, "out of memory");
}

static const char *rule_name(uint32_t rule)
{
    return rule == LOCO_NUMBER_HASHES  ? "####"
           : rule == LOCO_NUMBER_BOXED ? "boxed"
           : rule == LOCO_NUMBER_LAST  ? "last"
                                       : "none";
}

int loco_score_numeric(const char *response, const char *reference, char *detail, size_t cap)
{
    if (!response || !reference)
        return loco_error_set(LOCO_ERR_INVALID, "numeric score: NULL response or reference");
    if (detail && cap)
        detail[0] = '\0';
    double want;
    if (loco_number_parse(reference, &want) != LOCO_OK) {
        char *ref = NULL;
        int rc = loco_number_extract(reference, LOCO_NUMBER_ALL, &ref, NULL);
        if (rc < 0)
            return rc;
        rc = loco_number_parse(ref, &want);
        free(ref);
        if (rc)
            return loco_error_set(LOCO_ERR_INVALID,
                                  "numeric score: the reference \"%.60s\" "
                                  "holds no number",
                                  reference);
    }
    char *got = NULL;
    uint32_t rule = 0;
    int rc = loco_number_extract(response, LOCO_NUMBER_ALL, &got, &rule);
    if (rc < 0)
        return rc;
    double v = NAN;
    bool read = rule && loco_number_parse(got, &v) == LOCO_OK;
    if (detail && cap)
        snprintf(detail, cap, "number=%.60s rule=%s", rule ? got : "none", rule_name(rule));
    free(got);
    return read && loco_number_equal(v, want, LOCO_NUMBER_REL_TOL);
}

/* ---- the regex scorer ---------------------------------------------------- */

int loco_score_regex_check(const char *pattern)
{
    if (!pattern)
        return loco_error_set(LOCO_ERR_INVALID, "regex: NULL pattern");
    int err = 0;
    PCRE2_SIZE at = 0;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &err, &at, NULL);
    if (!code) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(err, why, sizeof why);
        return loco_error_set(LOCO_ERR_INVALID, "regex \"%s\" does not compile at offset %zu: %s",
                              pattern, (size_t)at, (const char *)why);
    }
    uint32_t groups = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
    pcre2_code_free(code);
    if (groups != 1)
        return loco_error_set(LOCO_ERR_INVALID,
                              "regex \"%s\" has %u capture groups; it needs "
                              "exactly one, around the answer (use (?:...) for other groups)",
                              pattern, groups);
    return LOCO_OK;
}

int loco_score_regex_match(const char *response, const char *pattern, const char *reference,
                           uint32_t flags, char *detail, size_t cap)
{
    if (!response || !pattern || !reference)
        return loco_error_set(LOCO_ERR_INVALID, "regex score: NULL argument");
    if (detail && cap)
        detail[0] = '\0';
    int rc = loco_score_regex_check(pattern);
    if (rc)
        return rc;
    /* a sentinel no text contains tells "no match" from an empty capture */
    static const char none[] = "\x01no match\x01";
    char *got = NULL;
    rc = loco_score_regex_extract(response, pattern, -1, none, &got);
    if (rc < 0)
        return rc;
    bool matched = strcmp(got, none) != 0;
    if (detail && cap)
        snprintf(detail, cap, matched ? "captured=%.120s" : "no match", got);
    rc = matched ? loco_score_exact_match(got, reference, flags) : 0;
    free(got);
    return rc;
}
