/*
 * trend_render.c - the trend over semesters as an SVG line chart, a
 * Markdown table and an HTML page holding both.
 *
 * Chart: x = the semesters in order, evenly spaced; y = score from 0 to 1
 * (further when a score exceeds 1); one thin line per domain, the
 * composite as a thick black line, a dot at every value. A semester where
 * a domain has no record breaks that domain's line; with one semester the
 * chart shows dots only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/report.h"
#include "report/report_internal.h"

#define TR_W 760.0
#define TR_H 380.0
#define TR_LEFT 60.0
#define TR_RIGHT 560.0 /* the legend is to the right of this */
#define TR_TOP 30.0
#define TR_BOTTOM 320.0

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

struct frame {
    size_t n_sem;
    double ymax;
};

static double tx(const struct frame *f, size_t s)
{
    if (f->n_sem <= 1)
        return (TR_LEFT + TR_RIGHT) / 2;
    return TR_LEFT + 20 + (TR_RIGHT - TR_LEFT - 40) * (double)s / (double)(f->n_sem - 1);
}

static double ty(const struct frame *f, double v)
{
    return TR_BOTTOM - (TR_BOTTOM - TR_TOP) * (v < 0 ? 0 : v) / f->ymax;
}

static double trend_ymax(const struct loco_trend *t)
{
    double m = 1;
    for (size_t d = 0; d < loco_trend_n_domains(t); d++)
        for (size_t s = 0; s < loco_trend_n_semesters(t); s++) {
            double v = loco_trend_best(t, d, s);
            if (isfinite(v) && v > m)
                m = v;
        }
    if (m > 1) {
        double step = svg_nice_step(m, 5);
        m = ceil(m / step) * step;
    }
    return m;
}

static void axes(struct loco_sbuf *b, const struct frame *f, const struct loco_trend *t)
{
    double step = svg_nice_step(f->ymax, 5);
    char label[32];
    for (double v = 0; v <= f->ymax + 1e-9; v += step) {
        svg_line(b, TR_LEFT, ty(f, v), TR_RIGHT, ty(f, v), "#e6e6e6", 1, NULL);
        snprintf(label, sizeof label, "%g", v);
        svg_text(b, TR_LEFT - 6, ty(f, v) + 4, "end", NULL, label, 0);
    }
    svg_line(b, TR_LEFT, TR_BOTTOM, TR_RIGHT, TR_BOTTOM, "#444444", 1, NULL);
    svg_line(b, TR_LEFT, TR_TOP, TR_LEFT, TR_BOTTOM, "#444444", 1, NULL);
    for (size_t s = 0; s < f->n_sem; s++) {
        svg_line(b, tx(f, s), TR_BOTTOM, tx(f, s), TR_BOTTOM + 5, "#444444", 1, NULL);
        svg_text(b, tx(f, s), TR_BOTTOM + 20, "middle", NULL, loco_trend_semester(t, s), 0);
    }
    svg_text(b, (TR_LEFT + TR_RIGHT) / 2, TR_BOTTOM + 44, "middle", NULL, "semester", 0);
    char rotate[64];
    double mid = (TR_TOP + TR_BOTTOM) / 2;
    snprintf(rotate, sizeof rotate, "transform=\"rotate(-90 16 %.1f)\"", mid);
    svg_text(b, 16, mid, "middle", rotate, "best in-domain score", 0);
}

/* One series: a path broken where a value is missing, and a dot per value. */
static void series(struct loco_sbuf *b, const struct frame *f, const double *v, const char *color,
                   double width)
{
    bool pen = false, any = false;
    for (size_t s = 0; s < f->n_sem; s++) {
        if (isnan(v[s])) {
            pen = false;
            continue;
        }
        if (!any)
            loco_sbuf_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" d=\"",
                             color, width);
        loco_sbuf_printf(b, "%s%.1f %.1f ", pen ? "L" : "M", tx(f, s), ty(f, v[s]));
        pen = any = true;
    }
    if (any)
        loco_sbuf_adds(b, "\"/>\n");
    for (size_t s = 0; s < f->n_sem; s++)
        if (!isnan(v[s]))
            loco_sbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>\n",
                             tx(f, s), ty(f, v[s]), width + 2.5, color);
}

static void legend_entry(struct loco_sbuf *b, size_t i, const char *color, double width,
                         const char *label)
{
    double y = TR_TOP + 10 + 20 * (double)i;
    svg_line(b, TR_RIGHT + 20, y, TR_RIGHT + 44, y, color, width, NULL);
    svg_text(b, TR_RIGHT + 50, y + 4, "start", NULL, label, 24);
}

static void draw(struct loco_sbuf *b, const struct loco_trend *t)
{
    struct frame f = {loco_trend_n_semesters(t), trend_ymax(t)};
    size_t n_dom = loco_trend_n_domains(t);
    double *v = calloc(f.n_sem ? f.n_sem : 1, sizeof *v);
    if (!v) {
        b->failed = true;
        return;
    }
    svg_open(b, TR_W, TR_H, "Best in-domain score per domain and the composite, by semester");
    axes(b, &f, t);
    for (size_t d = 0; d < n_dom; d++) {
        for (size_t s = 0; s < f.n_sem; s++)
            v[s] = loco_trend_best(t, d, s);
        series(b, &f, v, palette[d % N_PALETTE], 2);
        legend_entry(b, d, palette[d % N_PALETTE], 2, loco_trend_domain(t, d));
    }
    for (size_t s = 0; s < f.n_sem; s++)
        v[s] = loco_trend_composite(t, s, NULL);
    series(b, &f, v, "#000000", 4);
    legend_entry(b, n_dom, "#000000", 4, "composite");
    loco_sbuf_adds(b, "</svg>\n");
    free(v);
}

char *loco_trend_svg(const struct loco_trend *t)
{
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    loco_sbuf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    draw(&b, t);
    return report_buf_finish(&b);
}

/* ---- the table ------------------------------------------------------------------------- */

static void table(struct report_doc *d, const struct loco_trend *t)
{
    size_t n_dom = loco_trend_n_domains(t);
    const char **heads = calloc(n_dom + 3, sizeof *heads);
    char *align = calloc(n_dom + 4, 1);
    if (!heads || !align) {
        free(heads);
        free(align);
        d->b->failed = true;
        return;
    }
    heads[0] = "semester";
    align[0] = 'l';
    for (size_t i = 0; i < n_dom; i++) {
        heads[i + 1] = loco_trend_domain(t, i);
        align[i + 1] = 'r';
    }
    heads[n_dom + 1] = "composite";
    heads[n_dom + 2] = "domains";
    align[n_dom + 1] = align[n_dom + 2] = 'r';
    doc_table_begin(d, heads, align);
    char num[32];
    for (size_t s = 0; s < loco_trend_n_semesters(t); s++) {
        doc_cell(d);
        doc_text(d, loco_trend_semester(t, s));
        for (size_t i = 0; i < n_dom; i++) {
            doc_cell(d);
            doc_raw(d, "%s", report_num(num, sizeof num, loco_trend_best(t, i, s), 3));
            const char *who = loco_trend_best_adapter(t, i, s);
            if (who) {
                doc_text(d, " (");
                doc_text(d, who);
                doc_text(d, ")");
            }
        }
        size_t n = 0;
        double c = loco_trend_composite(t, s, &n);
        doc_cell(d);
        doc_raw(d, "%s", report_num(num, sizeof num, c, 3));
        doc_cell(d);
        doc_raw(d, "%zu of %zu", n, n_dom);
        doc_row_end(d);
    }
    doc_table_end(d);
    free(heads);
    free(align);
}

static void explain(struct report_doc *d, const struct loco_trend *t)
{
    doc_para_begin(d);
    doc_fmt(d,
            "%zu records. Each cell is the best adapter score of the domain on its "
            "in-domain benchmark among the records archived in that semester. The composite "
            "is the mean of a semester's cells over the domains that have one (a domain "
            "without a record that semester is left out, not counted as zero).",
            loco_trend_n_records(t));
    doc_para_end(d);
    if (loco_trend_n_skipped(t) == 0)
        return;
    doc_para_begin(d);
    doc_text(d, "Skipped files:");
    doc_para_end(d);
    doc_list_begin(d);
    for (size_t i = 0; i < loco_trend_n_skipped(t); i++) {
        doc_item_begin(d);
        doc_text(d, loco_trend_skipped(t, i));
        doc_item_end(d);
    }
    doc_list_end(d);
}

char *loco_trend_markdown(const struct loco_trend *t)
{
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    struct report_doc d = {.b = &b, .html = false};
    doc_heading(&d, 1, "Results over semesters");
    table(&d, t);
    explain(&d, t);
    return report_buf_finish(&b);
}

char *loco_trend_html(const struct loco_trend *t)
{
    struct loco_sbuf b = {.max = REPORT_MAX_OUTPUT};
    struct report_doc d = {.b = &b, .html = true};
    loco_sbuf_adds(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>LocoLLM results over semesters</title>\n<style>\n");
    loco_sbuf_adds(&b, report_css);
    loco_sbuf_adds(&b, "</style>\n</head>\n<body>\n");
    doc_heading(&d, 1, "Results over semesters");
    loco_sbuf_adds(&b, "<figure>\n");
    draw(&b, t);
    loco_sbuf_adds(&b, "</figure>\n");
    table(&d, t);
    explain(&d, t);
    loco_sbuf_adds(&b, "</body>\n</html>\n");
    return report_buf_finish(&b);
}
