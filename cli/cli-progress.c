/*
 * cli-progress.c - the progress line of downloads and checks on stderr
 * (`loco models pull`, `loco adapters install`): stage, file, bytes, rate
 * and ETA, redrawn at most ten times a second, only on a terminal.
 */
#include "cli-progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void cli_human_size(uint64_t bytes, char *buf, size_t cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *short_name(const char *what)
{
    const char *end = what + strcspn(what, "?#");
    const char *s = what;
    for (const char *p = what; p < end; p++)
        if (*p == '/' && p + 1 < end)
            s = p + 1;
    return s;
}

static void draw(struct cli_progress *pr, uint64_t done, uint64_t total)
{
    char d[32], t[32], rate_s[48] = "", eta_s[32] = "";
    double dt = now_s() - pr->t0;
    cli_human_size(done, d, sizeof d);
    cli_human_size(total, t, sizeof t);
    if (dt > 0.5 && done > pr->first_done) {
        double rate = (double)(done - pr->first_done) / dt;
        char r[32];
        cli_human_size((uint64_t)rate, r, sizeof r);
        snprintf(rate_s, sizeof rate_s, "  %s/s", r);
        if (total > done)
            snprintf(eta_s, sizeof eta_s, "  ETA %.0fs", (double)(total - done) / rate);
    }
    if (total)
        fprintf(stderr, "\r\033[K%-9s %.40s  %s / %s (%.0f%%)%s%s",
                loco_models_stage_name(pr->stage), pr->what, d, t,
                100.0 * (double)done / (double)total, rate_s, eta_s);
    else
        fprintf(stderr, "\r\033[K%-9s %.40s  %s%s", loco_models_stage_name(pr->stage), pr->what, d,
                rate_s);
    pr->drawn = true;
}

int cli_progress_fn(void *user, enum loco_models_stage stage, const char *what, uint64_t done,
                       uint64_t total)
{
    struct cli_progress *pr = user;
    if (!pr->tty || stage == LOCO_MODELS_STAGE_DONE || stage == LOCO_MODELS_STAGE_PRESENT)
        return 0;
    double t = now_s();
    if (stage == LOCO_MODELS_STAGE_INDEX) { /* a quick question: one line, no bytes */
        if (pr->drawn)
            fputc('\n', stderr);
        fprintf(stderr, "\r\033[Kasking    %.100s", what);
        pr->drawn = true;
        pr->stage = stage;
        pr->what[0] = '\0';
        return 0;
    }
    const char *name = short_name(what);
    if (stage != pr->stage || strcmp(name, pr->what) != 0) {
        if (pr->drawn)
            fputc('\n', stderr);
        pr->stage = stage;
        snprintf(pr->what, sizeof pr->what, "%s", name);
        pr->t0 = t;
        pr->first_done = done;
        pr->last_draw = 0;
        pr->drawn = false;
    }
    if (t - pr->last_draw >= 0.1 || (total && done == total)) {
        pr->last_draw = t;
        draw(pr, done, total);
    }
    return 0;
}

void cli_progress_init(struct cli_progress *pr, bool on)
{
    memset(pr, 0, sizeof *pr);
    pr->tty = on;
}

void cli_progress_end(struct cli_progress *pr)
{
    if (pr->drawn)
        fputc('\n', stderr);
    pr->drawn = false;
}
