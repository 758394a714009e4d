/*
 * svg.c - the charts of an evaluation report, drawn as inline SVG (no
 * scripts, no external resources), and the CSS of the HTML pages.
 *
 *   bars:   per benchmark, base (grey) and adapter (blue) scores, with a
 *           whisker for each 95% confidence interval;
 *   forest: per benchmark, the paired difference adapter - base as a dot
 *           with its 95% CI as a line, a solid line at 0 and a dashed line
 *           at -margin (the non-inferiority margin): an out-of-domain
 *           benchmark passes when its whole interval lies right of it, the
 *           in-domain one when its p-value is below alpha.
 *
 * Coordinates: x grows to the right, y downwards, in SVG user units (px).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

const char report_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;"
    "max-width:72em;padding:0 1em;color:#222;line-height:1.4}\n"
    "table{border-collapse:collapse;margin:1em 0;font-size:0.92em}\n"
    "th,td{border:1px solid #ccc;padding:0.3em 0.6em;vertical-align:top;text-align:left}\n"
    "th{background:#f2f2f2}\n"
    ".r{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td{white-space:pre-wrap;word-break:break-word}\n"
    ".pass{color:#176f2c;font-weight:bold}\n"
    ".fail{color:#b00020;font-weight:bold}\n"
    ".neutral{color:#8a6d00;font-weight:bold}\n"
    "figure{margin:1em 0}figcaption{font-size:0.9em;color:#555}\n"
    "code{font-size:0.9em;background:#f4f4f4;padding:0 0.2em}\n"
    "svg{max-width:100%;height:auto}\n";

/* ---- shared pieces -------------------------------------------------------- */

double svg_nice_step(double range, int max_ticks)
{
    static const double mant[] = {1, 2, 2.5, 5};
    if (!(range > 0) || !isfinite(range))
        return 1;
    double mag = pow(10, floor(log10(range / max_ticks)) - 1);
    for (int e = 0; e < 4; e++, mag *= 10)
        for (int i = 0; i < 4; i++)
            if (range / (mant[i] * mag) <= max_ticks)
                return mant[i] * mag;
    return range;
}

void svg_open(struct loco_sbuf *b, double w, double h, const char *title)
{
    loco_sbuf_printf(b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                     "viewBox=\"0 0 %.0f %.0f\" role=\"img\" font-family=\"sans-serif\" "
                     "font-size=\"12\">\n<title>",
                     w, h, w, h);
    report_html(b, title);
    loco_sbuf_adds(b, "</title>\n<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" "
                      "fill=\"#ffffff\"/>\n");
}

void svg_text(struct loco_sbuf *b, double x, double y, const char *anchor, const char *extra,
              const char *text, size_t max_chars)
{
    loco_sbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor,
                     extra ? " " : "", extra ? extra : "");
    report_html_cut(b, text, max_chars);
    loco_sbuf_adds(b, "</text>\n");
}

void svg_line(struct loco_sbuf *b, double x1, double y1, double x2, double y2, const char *stroke,
              double width, const char *extra)
{
    loco_sbuf_printf(b,
                     "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                     "stroke-width=\"%.1f\"%s%s/>\n",
                     x1, y1, x2, y2, stroke, width, extra ? " " : "", extra ? extra : "");
}

/* ---- bars: base vs adapter with CI whiskers -------------------------------------- */

#define BAR_H 280.0
#define BAR_TOP 36.0
#define BAR_BOTTOM 56.0
#define BAR_LEFT 52.0

static double bars_ymax(const struct report_record *r)
{
    double m = 1;
    for (size_t i = 0; i < r->n; i++) {
        const double v[] = {r->b[i].base, r->b[i].adapter, r->b[i].base_ci[1],
                            r->b[i].adapter_ci[1]};
        for (int k = 0; k < 4; k++)
            if (isfinite(v[k]) && v[k] > m)
                m = v[k];
    }
    if (m > 1) {
        double step = svg_nice_step(m, 5);
        m = ceil(m / step) * step;
    }
    return m;
}

/* The SVG fill attribute of a verdict's label. */
static const char *verdict_fill(const char *verdict)
{
    return !strcmp(verdict, "PASS")   ? "fill=\"#176f2c\""
           : !strcmp(verdict, "FAIL") ? "fill=\"#b00020\""
                                      : "fill=\"#8a6d00\"";
}

static void bar(struct loco_sbuf *b, double x, double w, double v, const double ci[2],
                double (*y)(double, double), double ymax, const char *fill)
{
    if (!isfinite(v))
        return;
    double top = y(v < 0 ? 0 : v, ymax), base = y(0, ymax);
    loco_sbuf_printf(b,
                     "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                     x, top, w, base - top, fill);
    if (!isfinite(ci[0]) || !isfinite(ci[1]))
        return;
    double cx = x + w / 2, lo = y(ci[0], ymax), hi = y(ci[1], ymax);
    svg_line(b, cx, lo, cx, hi, "#222222", 1.5, NULL);
    svg_line(b, cx - 5, lo, cx + 5, lo, "#222222", 1.5, NULL);
    svg_line(b, cx - 5, hi, cx + 5, hi, "#222222", 1.5, NULL);
}

static double bars_y(double v, double ymax)
{
    double plot = BAR_H - BAR_TOP - BAR_BOTTOM;
    if (v < 0)
        v = 0;
    if (v > ymax)
        v = ymax;
    return BAR_TOP + plot * (1 - v / ymax);
}

static void bars_axis(struct loco_sbuf *b, double width, double ymax)
{
    double step = svg_nice_step(ymax, 5);
    char label[32];
    for (double t = 0; t <= ymax + 1e-9; t += step) {
        double y = bars_y(t, ymax);
        svg_line(b, BAR_LEFT, y, width - 10, y, "#e0e0e0", 1, NULL);
        snprintf(label, sizeof label, "%g", t);
        svg_text(b, BAR_LEFT - 6, y + 4, "end", NULL, label, 0);
    }
    svg_line(b, BAR_LEFT, bars_y(0, ymax), width - 10, bars_y(0, ymax), "#444444", 1, NULL);
    double mid = BAR_TOP + (BAR_H - BAR_TOP - BAR_BOTTOM) / 2;
    char rotate[64];
    snprintf(rotate, sizeof rotate, "transform=\"rotate(-90 14 %.1f)\"", mid);
    svg_text(b, 14, mid, "middle", rotate, "score", 0);
}

static void bars_legend(struct loco_sbuf *b, const struct report_record *r)
{
    char second[96];
    snprintf(second, sizeof second, "%s (95%% CI whiskers)", r->side[1]);
    loco_sbuf_adds(b, "<rect x=\"52\" y=\"10\" width=\"12\" height=\"12\" fill=\"#9e9e9e\"/>\n");
    svg_text(b, 68, 20, "start", NULL, r->side[0], 0);
    loco_sbuf_adds(b, "<rect x=\"110\" y=\"10\" width=\"12\" height=\"12\" fill=\"#1f77b4\"/>\n");
    svg_text(b, 126, 20, "start", NULL, second, 0);
}

void report_svg_bars(struct loco_sbuf *b, const struct report_record *r)
{
    double group = 110, width = BAR_LEFT + group * (double)(r->n ? r->n : 1) + 20;
    if (width < 380)
        width = 380;
    group = (width - BAR_LEFT - 20) / (double)(r->n ? r->n : 1);
    double ymax = bars_ymax(r), bw = group * 0.3;
    char title[160];
    if (!strcmp(r->side[0], "base"))
        snprintf(title, sizeof title, "Base and adapter scores per benchmark");
    else
        snprintf(title, sizeof title, "Plain and %s scores per benchmark", r->side[1]);
    svg_open(b, width, BAR_H, title);
    bars_axis(b, width, ymax);
    bars_legend(b, r);
    for (size_t i = 0; i < r->n; i++) {
        const struct report_bench *k = &r->b[i];
        double cx = BAR_LEFT + group * ((double)i + 0.5);
        bar(b, cx - bw - 2, bw, k->base, k->base_ci, bars_y, ymax, "#9e9e9e");
        bar(b, cx + 2, bw, k->adapter, k->adapter_ci, bars_y, ymax, "#1f77b4");
        svg_text(b, cx, BAR_H - BAR_BOTTOM + 18, "middle", NULL, k->name, 16);
        if (k->verdict)
            svg_text(b, cx, BAR_H - BAR_BOTTOM + 34, "middle", verdict_fill(k->verdict), k->verdict,
                     0);
    }
    loco_sbuf_adds(b, "</svg>\n");
}

/* ---- forest plot of the paired differences ------------------------------------- */

#define FOREST_W 760.0
#define FOREST_LEFT 150.0
#define FOREST_RIGHT 500.0
#define FOREST_TOP 40.0
#define FOREST_ROW 30.0

struct xscale {
    double lo, hi;
};

static double fx(const struct xscale *s, double v)
{
    return FOREST_LEFT + (FOREST_RIGHT - FOREST_LEFT) * (v - s->lo) / (s->hi - s->lo);
}

static struct xscale forest_scale(const struct report_record *r)
{
    double lo = -r->ni_margin - 0.05, hi = 0.05;
    for (size_t i = 0; i < r->n; i++) {
        const double v[] = {r->b[i].diff, r->b[i].diff_ci[0], r->b[i].diff_ci[1]};
        for (int k = 0; k < 3; k++)
            if (isfinite(v[k])) {
                lo = v[k] < lo ? v[k] : lo;
                hi = v[k] > hi ? v[k] : hi;
            }
    }
    double step = svg_nice_step(hi - lo, 6);
    struct xscale s = {floor(lo / step) * step, ceil(hi / step) * step};
    return s;
}

static void forest_axis(struct loco_sbuf *b, const struct xscale *s, double bottom, double margin)
{
    double step = svg_nice_step(s->hi - s->lo, 6);
    char label[32];
    for (double t = s->lo; t <= s->hi + step * 1e-6; t += step) {
        double x = fx(s, t);
        svg_line(b, x, FOREST_TOP - 10, x, bottom, "#eeeeee", 1, NULL);
        if (fabs(t) < step * 1e-6)
            snprintf(label, sizeof label, "0");
        else
            snprintf(label, sizeof label, "%+g", t);
        svg_text(b, x, bottom + 16, "middle", NULL, label, 0);
    }
    svg_line(b, fx(s, 0), FOREST_TOP - 10, fx(s, 0), bottom, "#444444", 1.2, NULL);
    svg_line(b, fx(s, -margin), FOREST_TOP - 10, fx(s, -margin), bottom, "#b00020", 1.2,
             "stroke-dasharray=\"5 4\"");
    snprintf(label, sizeof label, "margin -%g", margin);
    svg_text(b, fx(s, -margin), FOREST_TOP - 16, "middle", "fill=\"#b00020\"", label, 0);
    svg_text(b, fx(s, 0), bottom + 32, "middle", NULL, "adapter - base", 0);
}

static void forest_row(struct loco_sbuf *b, const struct xscale *s, double y,
                       const struct report_bench *k)
{
    const char *color = !k->verdict                   ? "#555555"
                        : !strcmp(k->verdict, "PASS") ? "#176f2c"
                        : !strcmp(k->verdict, "FAIL") ? "#b00020"
                                                      : "#8a6d00";
    char fill[48], lo[32], hi[32], d[32], text[128];
    snprintf(fill, sizeof fill, "fill=\"%s\"", color);
    svg_text(b, FOREST_LEFT - 10, y + 4, "end", NULL, k->name, 20);
    if (isfinite(k->diff_ci[0]) && isfinite(k->diff_ci[1]))
        svg_line(b, fx(s, k->diff_ci[0]), y, fx(s, k->diff_ci[1]), y, color, 2, NULL);
    if (isfinite(k->diff))
        loco_sbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" %s/>\n", fx(s, k->diff), y,
                         fill);
    snprintf(text, sizeof text, "%s [%s, %s]%s%s", report_signed(d, sizeof d, k->diff, 3),
             report_signed(lo, sizeof lo, k->diff_ci[0], 3),
             report_signed(hi, sizeof hi, k->diff_ci[1], 3), k->verdict ? " " : "",
             k->verdict ? k->verdict : "");
    svg_text(b, FOREST_RIGHT + 12, y + 4, "start", fill, text, 0);
}

void report_svg_forest(struct loco_sbuf *b, const struct report_record *r)
{
    double bottom = FOREST_TOP + FOREST_ROW * (double)(r->n ? r->n : 1);
    struct xscale s = forest_scale(r);
    svg_open(b, FOREST_W, bottom + 44, "Paired differences with 95% confidence intervals");
    forest_axis(b, &s, bottom, r->ni_margin);
    for (size_t i = 0; i < r->n; i++)
        forest_row(b, &s, FOREST_TOP + FOREST_ROW * ((double)i + 0.5), &r->b[i]);
    loco_sbuf_adds(b, "</svg>\n");
}
