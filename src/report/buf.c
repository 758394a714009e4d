/*
 * buf.c - the growable text buffer the reports are written into, and the
 * escaping that keeps text from a record (model answers may hold anything:
 * "</svg><script>", "|", "&") from turning into markup.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

static bool grow(struct report_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > REPORT_MAX_OUTPUT || b->n + extra + 1 > REPORT_MAX_OUTPUT) {
        b->failed = true;
        return false;
    }
    if (b->n + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void report_putn(struct report_buf *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void report_puts(struct report_buf *b, const char *s)
{
    if (s)
        report_putn(b, s, strlen(s));
}

void report_printf(struct report_buf *b, const char *fmt, ...)
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
        report_putn(b, small, (size_t)n);
        return;
    }
    if (!grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* Bytes of the UTF-8 character that starts with byte c (1 for stray bytes). */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xF0 && c < 0xF8)
        return 4;
    if (c >= 0xE0)
        return c < 0xF0 ? 3 : 1;
    if (c >= 0xC0)
        return 2;
    return 1;
}

/* One character for HTML: & < > " ' as entities, other control characters
 * than newline and tab dropped. */
static void html_char(struct report_buf *b, const char *s, size_t len)
{
    switch (*s) {
    case '&':
        report_puts(b, "&amp;");
        break;
    case '<':
        report_puts(b, "&lt;");
        break;
    case '>':
        report_puts(b, "&gt;");
        break;
    case '"':
        report_puts(b, "&quot;");
        break;
    case '\'':
        report_puts(b, "&#39;");
        break;
    default:
        if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t' || len > 1)
            report_putn(b, s, len);
    }
}

/* One character for Markdown inline text (see report_md). */
static void md_char(struct report_buf *b, const char *s, size_t len)
{
    unsigned char c = (unsigned char)*s;
    if (c == '\n' || c == '\r' || c == '\t')
        report_putn(b, " ", 1);
    else if (c == '&')
        report_puts(b, "&amp;");
    else if (c == '<')
        report_puts(b, "&lt;");
    else if (c == '>')
        report_puts(b, "&gt;");
    else if (strchr("\\`*_[]|#~", (char)c)) {
        report_putn(b, "\\", 1);
        report_putn(b, s, 1);
    } else if (c >= 0x20 || len > 1)
        report_putn(b, s, len);
}

/* s character by character through `put`, cut after max_chars (0: all). */
static void escape_cut(struct report_buf *b, const char *s, size_t max_chars,
                       void (*put)(struct report_buf *, const char *, size_t))
{
    for (size_t chars = 0; s && *s; chars++) {
        if (max_chars && chars == max_chars) {
            report_puts(b, "\xE2\x80\xA6"); /* an ellipsis */
            return;
        }
        size_t len = utf8_len((unsigned char)*s);
        if (strnlen(s, len) < len)
            len = 1;
        put(b, s, len);
        s += len;
    }
}

void report_md(struct report_buf *b, const char *s, size_t max_chars)
{
    escape_cut(b, s, max_chars, md_char);
}

void report_html(struct report_buf *b, const char *s)
{
    escape_cut(b, s, 0, html_char);
}

void report_html_cut(struct report_buf *b, const char *s, size_t max_chars)
{
    escape_cut(b, s, max_chars, html_char);
}

char *report_buf_finish(struct report_buf *b)
{
    if (!b->failed && !b->p)
        report_putn(b, "", 0);
    if (b->failed) {
        report_buf_free(b);
        loco_error_set(LOCO_ERR_NOMEM, "report: out of memory or over %u MiB of output",
                       REPORT_MAX_OUTPUT >> 20);
        return NULL;
    }
    char *p = b->p;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

void report_buf_free(struct report_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

const char *report_num(char *buf, size_t cap, double v, int prec)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f", prec, v);
    return buf;
}

const char *report_signed(char *buf, size_t cap, double v, int prec)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%+.*f", prec, v);
    return buf;
}

const char *report_p(char *buf, size_t cap, double p)
{
    if (isnan(p))
        snprintf(buf, cap, "-");
    else if (p < 0.001)
        snprintf(buf, cap, "%.1e", p);
    else
        snprintf(buf, cap, "%.3f", p);
    return buf;
}
