/*
 * buf.c - the escaping that keeps text from a record (model answers may
 * hold anything: "</svg><script>", "|", "&") from turning into markup, and
 * number formatting. The text buffer itself is core/sbuf.h's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

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
static void html_char(struct loco_sbuf *b, const char *s, size_t len)
{
    switch (*s) {
    case '&':
        loco_sbuf_adds(b, "&amp;");
        break;
    case '<':
        loco_sbuf_adds(b, "&lt;");
        break;
    case '>':
        loco_sbuf_adds(b, "&gt;");
        break;
    case '"':
        loco_sbuf_adds(b, "&quot;");
        break;
    case '\'':
        loco_sbuf_adds(b, "&#39;");
        break;
    default:
        if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t' || len > 1)
            loco_sbuf_add(b, s, len);
    }
}

/* One character for Markdown inline text (see report_md). */
static void md_char(struct loco_sbuf *b, const char *s, size_t len)
{
    unsigned char c = (unsigned char)*s;
    if (c == '\n' || c == '\r' || c == '\t')
        loco_sbuf_add(b, " ", 1);
    else if (c == '&')
        loco_sbuf_adds(b, "&amp;");
    else if (c == '<')
        loco_sbuf_adds(b, "&lt;");
    else if (c == '>')
        loco_sbuf_adds(b, "&gt;");
    else if (strchr("\\`*_[]|#~", (char)c)) {
        loco_sbuf_add(b, "\\", 1);
        loco_sbuf_add(b, s, 1);
    } else if (c >= 0x20 || len > 1)
        loco_sbuf_add(b, s, len);
}

/* s character by character through `put`, cut after max_chars (0: all). */
static void escape_cut(struct loco_sbuf *b, const char *s, size_t max_chars,
                       void (*put)(struct loco_sbuf *, const char *, size_t))
{
    for (size_t chars = 0; s && *s; chars++) {
        if (max_chars && chars == max_chars) {
            loco_sbuf_adds(b, "\xE2\x80\xA6"); /* an ellipsis */
            return;
        }
        size_t len = utf8_len((unsigned char)*s);
        if (strnlen(s, len) < len)
            len = 1;
        put(b, s, len);
        s += len;
    }
}

void report_md(struct loco_sbuf *b, const char *s, size_t max_chars)
{
    escape_cut(b, s, max_chars, md_char);
}

void report_html(struct loco_sbuf *b, const char *s)
{
    escape_cut(b, s, 0, html_char);
}

void report_html_cut(struct loco_sbuf *b, const char *s, size_t max_chars)
{
    escape_cut(b, s, max_chars, html_char);
}

char *report_buf_finish(struct loco_sbuf *b)
{
    char *p = loco_sbuf_finish(b);
    if (!p)
        loco_error_set(LOCO_ERR_NOMEM, "report: out of memory or over %u MiB of output",
                       REPORT_MAX_OUTPUT >> 20);
    return p;
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
