/*
 * report.c - what a run leaves for people to read: loss.svg (hand-written
 * SVG, no plotting library) and the TRAINING_LOG.md template filler, plus
 * the CPU's name for the log.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/run/run_internal.h"

/* ---- loss.svg ----------------------------------------------------------- */

#define SVG_W 720
#define SVG_H 400
#define PAD_L 64
#define PAD_R 24
#define PAD_T 36
#define PAD_B 52

struct plot {
    double x0, x1, y0, y1; /* data ranges */
};

static double px(const struct plot *p, double x)
{
    return PAD_L + (x - p->x0) / (p->x1 - p->x0) * (SVG_W - PAD_L - PAD_R);
}

static double py(const struct plot *p, double y)
{
    return SVG_H - PAD_B - (y - p->y0) / (p->y1 - p->y0) * (SVG_H - PAD_T - PAD_B);
}

/* A "nice" tick spacing (1, 2 or 5 x 10^k) for about 5 ticks over range. */
static double tick_step(double range)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void plot_ranges(struct plot *p, const float *loss, int64_t n,
                        const struct loco_val_point *val, int64_t n_val)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(loss[i]))
            lo = fmin(lo, loss[i]), hi = fmax(hi, loss[i]);
    for (int64_t i = 0; i < n_val; i++)
        if (isfinite(val[i].loss))
            lo = fmin(lo, val[i].loss), hi = fmax(hi, val[i].loss);
    if (!(lo <= hi))
        lo = 0, hi = 1;
    double pad = hi > lo ? 0.05 * (hi - lo) : 0.5;
    p->y0 = fmax(0, lo - pad);
    p->y1 = hi + pad;
    p->x0 = 0;
    p->x1 = n > 1 ? (double)n : 1;
    for (int64_t i = 0; i < n_val; i++)
        p->x1 = fmax(p->x1, (double)val[i].step);
}

static void svg_axes(FILE *f, const struct plot *p)
{
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#444\"/>\n",
            PAD_L, PAD_T, SVG_W - PAD_L - PAD_R, SVG_H - PAD_T - PAD_B);
    double ys = tick_step(p->y1 - p->y0);
    for (double y = ceil(p->y0 / ys) * ys; y <= p->y1 + 1e-9; y += ys)
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                PAD_L, py(p, y), SVG_W - PAD_R, py(p, y), PAD_L - 6, py(p, y) + 4, y);
    double xs = fmax(1, tick_step(p->x1 - p->x0));
    xs = ceil(xs);
    for (double x = p->x0; x <= p->x1 + 1e-9; x += xs)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                px(p, x), SVG_H - PAD_B, px(p, x), SVG_H - PAD_B + 5, px(p, x), SVG_H - PAD_B + 20,
                x);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">optimizer step</text>\n",
            (SVG_W + PAD_L - PAD_R) / 2, SVG_H - 12);
    fprintf(f,
            "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">"
            "loss (mean NLL per target token)</text>\n",
            (SVG_H + PAD_T - PAD_B) / 2, (SVG_H + PAD_T - PAD_B) / 2);
}

static void svg_series(FILE *f, const struct plot *p, const float *loss, int64_t n,
                       const struct loco_val_point *val, int64_t n_val)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
    for (int64_t i = 0; i < n; i++)
        if (isfinite(loss[i]))
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(p, (double)(i + 1)), py(p, loss[i]));
    fprintf(f, "\"/>\n");
    for (int64_t i = 0; i < n_val; i++)
        if (isfinite(val[i].loss))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#ff7f0e\"/>\n",
                    px(p, (double)val[i].step), py(p, val[i].loss));
    int lx = SVG_W - PAD_R - 170, ly = PAD_T + 16;
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" "
            "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">train (per step)</text>\n",
            lx, ly, lx + 20, ly, lx + 26, ly + 4);
    fprintf(f,
            "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"#ff7f0e\"/>"
            "<text x=\"%d\" y=\"%d\">validation</text>\n",
            lx + 10, ly + 18, lx + 26, ly + 22);
}

int loco_train_write_svg(const char *path, const float *train_loss, int64_t n_steps,
                         const struct loco_val_point *val, int64_t n_val)
{
    struct loco_atomic_file af;
    int rc = loco_atomic_open(&af, path);
    if (rc != LOCO_OK)
        return rc;
    FILE *f = af.f;
    struct plot p;
    plot_ranges(&p, train_loss, n_steps, val, n_val);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Training "
            "loss</text>\n",
            SVG_W, SVG_H, SVG_W, SVG_H, SVG_W / 2);
    svg_axes(f, &p);
    svg_series(f, &p, train_loss, n_steps, val, n_val);
    fprintf(f, "</svg>\n");
    return loco_atomic_commit(&af);
}

/* ---- the log template --------------------------------------------------- */

static const char *lookup(const char *key, size_t len, const char *const *keys,
                          const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(keys[i]) == len && memcmp(keys[i], key, len) == 0)
            return values[i] ? values[i] : "";
    return NULL;
}

char *loco_template_fill(const char *tmpl, const char *const *keys, const char *const *values,
                         size_t n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    if (!mem) {
        loco_error_set(LOCO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const char *p = tmpl;
    int rc = LOCO_OK;
    while (*p && !rc) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!close) {
            fputs(p, mem);
            break;
        }
        fwrite(p, 1, (size_t)(open - p), mem);
        const char *v = lookup(open + 2, (size_t)(close - open - 2), keys, values, n);
        if (!v)
            rc = loco_error_set(LOCO_ERR_NOT_FOUND, "template: no value for {{%.*s}}",
                                (int)(close - open - 2), open + 2);
        else
            fputs(v, mem);
        p = close + 2;
    }
    fclose(mem);
    if (rc) {
        free(out);
        return NULL;
    }
    return out;
}

void loco_cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            continue;
        v += 1 + strspn(v + 1, " \t");
        snprintf(buf, cap, "%.*s", (int)strcspn(v, "\n"), v);
        break;
    }
    fclose(f);
}
