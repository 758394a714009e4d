/*
 * doc.c - one document, two formats: headings, paragraphs, lists and tables
 * written once by the report code and coming out as Markdown or HTML.
 *
 * Everything a caller passes as text is escaped for the format here, so the
 * report code never writes a record's text raw.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

void doc_text(struct report_doc *d, const char *s)
{
    doc_text_cut(d, s, 0);
}

void doc_text_cut(struct report_doc *d, const char *s, size_t max_chars)
{
    if (d->html)
        report_html_cut(d->b, s, max_chars);
    else
        report_md(d->b, s, max_chars);
}

void doc_fmt(struct report_doc *d, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    doc_text(d, text);
}

void doc_raw(struct report_doc *d, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    loco_sbuf_adds(d->b, text);
}

void doc_heading(struct report_doc *d, int level, const char *text)
{
    if (d->html) {
        loco_sbuf_printf(d->b, "<h%d>", level);
        report_html(d->b, text);
        loco_sbuf_printf(d->b, "</h%d>\n", level);
        return;
    }
    loco_sbuf_printf(d->b, "%.*s ", level, "######");
    report_md(d->b, text, 0);
    loco_sbuf_adds(d->b, "\n\n");
}

void doc_code(struct report_doc *d, const char *s, size_t max_chars)
{
    loco_sbuf_adds(d->b, d->html ? "<code>" : "`");
    if (d->html) {
        report_html_cut(d->b, s, max_chars);
    } else { /* inside backticks only a backtick is special: drop it */
        for (size_t i = 0; s && s[i] && (!max_chars || i < max_chars); i++)
            if (s[i] != '`' && (unsigned char)s[i] >= 0x20)
                loco_sbuf_add(d->b, s + i, 1);
    }
    loco_sbuf_adds(d->b, d->html ? "</code>" : "`");
}

void doc_strong(struct report_doc *d, const char *s)
{
    loco_sbuf_adds(d->b, d->html ? "<strong>" : "**");
    doc_text(d, s);
    loco_sbuf_adds(d->b, d->html ? "</strong>" : "**");
}

void doc_badge(struct report_doc *d, bool ok, const char *s)
{
    if (!d->html) {
        doc_strong(d, s);
        return;
    }
    loco_sbuf_printf(d->b, "<span class=\"%s\">", ok ? "pass" : "fail");
    report_html(d->b, s);
    loco_sbuf_adds(d->b, "</span>");
}

void doc_verdict(struct report_doc *d, const char *verdict)
{
    bool pass = !strcmp(verdict, "PASS"), fail = !strcmp(verdict, "FAIL");
    if (!d->html || pass || fail) {
        doc_badge(d, pass, verdict);
        return;
    }
    loco_sbuf_adds(d->b, "<span class=\"neutral\">");
    report_html(d->b, verdict);
    loco_sbuf_adds(d->b, "</span>");
}

void doc_para_begin(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "<p>" : "");
}

void doc_para_end(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "</p>\n" : "\n\n");
}

void doc_list_begin(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "<ul>\n" : "");
}

void doc_list_end(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "</ul>\n" : "\n");
}

void doc_item_begin(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "<li>" : "- ");
}

void doc_item_end(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "</li>\n" : "\n");
}

void doc_table_begin(struct report_doc *d, const char *const *heads, const char *align)
{
    size_t n = strlen(align);
    d->col = 0;
    d->align = align;
    if (d->html) {
        loco_sbuf_adds(d->b, "<table>\n<thead><tr>");
        for (size_t i = 0; i < n; i++) {
            loco_sbuf_adds(d->b, align[i] == 'r' ? "<th class=\"r\">" : "<th>");
            report_html(d->b, heads[i]);
            loco_sbuf_adds(d->b, "</th>");
        }
        loco_sbuf_adds(d->b, "</tr></thead>\n<tbody>\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        loco_sbuf_adds(d->b, "| ");
        report_md(d->b, heads[i], 0);
        loco_sbuf_adds(d->b, " ");
    }
    loco_sbuf_adds(d->b, "|\n");
    for (size_t i = 0; i < n; i++)
        loco_sbuf_adds(d->b, align[i] == 'r' ? "|---:" : "|---");
    loco_sbuf_adds(d->b, "|\n");
}

/* HTML cells close when the next one opens or the row ends. */
void doc_cell(struct report_doc *d)
{
    if (d->html) {
        bool right = d->align && d->col < strlen(d->align) && d->align[d->col] == 'r';
        loco_sbuf_adds(d->b, d->col == 0 ? "<tr>" : "</td>");
        loco_sbuf_adds(d->b, right ? "<td class=\"r\">" : "<td>");
    } else
        loco_sbuf_adds(d->b, d->col == 0 ? "| " : " | ");
    d->col++;
}

void doc_row_end(struct report_doc *d)
{
    if (d->html)
        loco_sbuf_adds(d->b, d->col ? "</td></tr>\n" : "");
    else
        loco_sbuf_adds(d->b, d->col ? " |\n" : "");
    d->col = 0;
}

void doc_table_end(struct report_doc *d)
{
    loco_sbuf_adds(d->b, d->html ? "</tbody>\n</table>\n" : "\n");
}
