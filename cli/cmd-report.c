/*
 * cmd-report.c - `loco report`: reports from evaluation records.
 *
 *   loco report eval RECORD.json [--format md|html] [--out FILE]
 *   loco report archive RECORD.json [--results DIR]
 *   loco report trend [--results DIR] [--out FILE.svg|FILE.html]
 *
 * The rendering, the archive layout and the trend's definition are in the
 * library (loco/report.h, docs/reports.md); this file parses flags, calls
 * it, and prints or writes (atomically) what it returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loco/fileio.h"
#include "loco/report.h"

static const char report_usage[] = "usage: loco report <subcommand> [options]\n\n";

static const char report_epilog[] =
    "\nSemesters: January-June = YYYY-S1, July-December = YYYY-S2 (from the record's\n"
    "date). See docs/reports.md.\n";

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Write text to path atomically (or print it when path is NULL); frees text. */
static int emit(char *text, const char *path, const char *what)
{
    if (!text)
        return cli_fail(what);
    int rc = 0;
    if (!path)
        fputs(text, stdout);
    else if (loco_file_write_atomic(path, text, strlen(text)) != LOCO_OK)
        rc = cli_fail("cannot write the report");
    else
        fprintf(stderr, "wrote %s\n", path);
    free(text);
    return rc;
}

static int report_eval(int argc, char **argv)
{
    const char *record = NULL, *format = NULL, *out = NULL;
    struct cli_option opts[] = {
        CLI_OPT_CHOICE(0, "format", &format, "md|html", "print that format (or write it to --out)"),
        CLI_OPT_STRING(0, "out", &out, "FILE",
                       "write there (format from .md / .html unless --format);\n"
                       "neither: write RECORD.md and RECORD.html beside it"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"report eval",
                            "usage: loco report eval RECORD.json [options]\n\n"
                            "The report of an evaluation record (loco eval --out).\n\noptions:\n",
                            NULL,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    record = n_args ? argv[0] : NULL;
    if (!record) {
        cli_opt_errorf("report eval", "name a record (see loco report eval --help)");
        return 2;
    }
    if (!format && !out) {
        if (loco_report_write(record) != LOCO_OK)
            return cli_fail("report eval");
        printf("wrote the .md and .html reports beside %s\n", record);
        return 0;
    }
    if (!format)
        format = ends_with(out, ".html") || ends_with(out, ".htm") ? "html" : "md";
    char *json = NULL;
    if (loco_report_read_file(record, &json, NULL) != LOCO_OK)
        return cli_fail("report eval");
    char *text = !strcmp(format, "md") ? loco_report_markdown(json) : loco_report_html(json);
    free(json);
    return emit(text, out, record);
}

static int report_archive(int argc, char **argv)
{
    const char *record = NULL, *results = NULL;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "results", &results, "DIR",
                       "the archive (default $LOCO_RESULTS_DIR or <project>/results)"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"report archive",
                            "usage: loco report archive RECORD.json [options]\n\n"
                            "Copies the record into RESULTS/<semester>/ with its reports.\n\n"
                            "options:\n",
                            NULL,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    record = n_args ? argv[0] : NULL;
    if (!record) {
        cli_opt_errorf("report archive", "name a record (see loco report archive --help)");
        return 2;
    }
    char path[4600];
    if (loco_results_archive(record, results, path, sizeof path) != LOCO_OK)
        return cli_fail("report archive");
    printf("%s\n", path);
    return 0;
}

/* Default output: RESULTS/trend.svg and RESULTS/trend.html. */
static int trend_default(const struct loco_trend *t, const char *results)
{
    char dir[4096], svg[4200], html[4200];
    if (!results) {
        if (loco_results_default_dir(dir, sizeof dir) != LOCO_OK)
            return cli_fail("report trend");
        results = dir;
    }
    snprintf(svg, sizeof svg, "%s/trend.svg", results);
    snprintf(html, sizeof html, "%s/trend.html", results);
    int rc = emit(loco_trend_svg(t), svg, "report trend");
    if (!rc)
        rc = emit(loco_trend_html(t), html, "report trend");
    if (!rc)
        rc = emit(loco_trend_markdown(t), NULL, "report trend");
    return rc;
}

static int report_trend(int argc, char **argv)
{
    const char *results = NULL, *out = NULL;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "results", &results, "DIR",
                       "where the archive is (default $LOCO_RESULTS_DIR or <project>/results)"),
        CLI_OPT_STRING(0, "out", &out, "FILE",
                       "FILE.svg (the chart) or FILE.html (chart and table);\n"
                       "default: RESULTS/trend.svg and RESULTS/trend.html"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"report trend",
                            "usage: loco report trend [options]\n\n"
                            "Each domain's best score and the composite by semester.\n\n"
                            "options:\n",
                            NULL,
                            opts,
                            0,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (out && !ends_with(out, ".svg") && !ends_with(out, ".html")) {
        fprintf(stderr, "loco report trend: --out must end in .svg or .html, not '%s'\n", out);
        return 2;
    }
    struct loco_trend *t = NULL;
    if (loco_trend_load(results, &t) != LOCO_OK)
        return cli_fail("report trend");
    for (size_t i = 0; i < loco_trend_n_skipped(t); i++)
        fprintf(stderr, "loco report trend: skipped %s\n", loco_trend_skipped(t, i));
    int rc;
    if (!out)
        rc = trend_default(t, results);
    else
        rc = emit(ends_with(out, ".svg") ? loco_trend_svg(t) : loco_trend_html(t), out,
                  "report trend");
    loco_trend_free(t);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"eval", report_eval, "the report of an evaluation record (loco eval --out)"},
        {"archive", report_archive, "copy a record and its reports into RESULTS/<semester>/"},
        {"trend", report_trend, "each domain's best score and the composite by semester"},
        {NULL, NULL, NULL},
    };
    return cli_opt_dispatch("report", report_usage, report_epilog, subs, argc, argv);
}
