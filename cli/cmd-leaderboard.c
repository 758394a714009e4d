/*
 * cmd-leaderboard.c - `loco leaderboard`: the adapters of each domain ranked
 * by their registry scores (rank, score with CI, gain over the base, p, the
 * gate and its verdict, status), as Markdown, HTML or JSON. See loco/report.h
 * for the order and where the gate and verdict come from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "loco/fileio.h"
#include "loco/registry.h"
#include "loco/report.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: loco leaderboard [options]\n\n"
                 "  --domain D            one domain only\n"
                 "  --format md|html|json Markdown table (default), a self-contained HTML page,\n"
                 "                        or a JSON list of rows\n"
                 "  --all                 a row per scored benchmark, not only the primary one\n"
                 "  --registry FILE       read this registry file alone (no user overlay)\n"
                 "  --out FILE            write there instead of printing\n\n"
                 "Rows come from the merged registry (project file + user overlay). Adapters\n"
                 "without a score are listed last with '-' (null in JSON). Every score names\n"
                 "its gate (superiority on the domain's own benchmarks, non-inferiority\n"
                 "elsewhere) and its verdict: PASS, FAIL, or uninformative (a non-inferiority\n"
                 "check whose base scores below the 5-point margin), read from the score's\n"
                 "record, else derived from the registry.\n");
}

static char *render(const struct loco_leaderboard *lb, const char *format)
{
    if (!strcmp(format, "json"))
        return loco_leaderboard_json(lb);
    if (!strcmp(format, "html"))
        return loco_leaderboard_html(lb);
    return loco_leaderboard_markdown(lb);
}

static int show(const struct loco_registry_params *rp, const struct loco_leaderboard_params *p,
                const char *format, const char *out)
{
    struct loco_registry *r = loco_registry_load(rp);
    if (!r)
        return cli_fail("leaderboard");
    struct loco_leaderboard lb;
    int rc = loco_leaderboard_build(r, p, &lb);
    char *text = rc == LOCO_OK ? render(&lb, format) : NULL;
    if (rc == LOCO_OK)
        loco_leaderboard_free(&lb);
    loco_registry_free(r);
    if (!text)
        return cli_fail("leaderboard");
    rc = 0;
    if (!out)
        fputs(text, stdout);
    else if (loco_file_write_atomic(out, text, strlen(text)) != LOCO_OK)
        rc = cli_fail("leaderboard");
    free(text);
    return rc;
}

int cmd_leaderboard(int argc, char **argv)
{
    struct loco_leaderboard_params p = loco_leaderboard_default_params();
    struct loco_registry_params rp = loco_registry_default_params();
    const char *format = "md", *out = NULL, *v;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--all"))
            p.all = true;
        else if (cli_opt(argc, argv, &i, "--domain", &v))
            p.domain = v;
        else if (cli_opt(argc, argv, &i, "--format", &v))
            format = v;
        else if (cli_opt(argc, argv, &i, "--out", &v))
            out = v;
        else if (cli_opt(argc, argv, &i, "--registry", &v)) {
            rp.project_path = v;
            rp.user_path = "";
        } else {
            fprintf(stderr, "loco leaderboard: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(format, "md") && strcmp(format, "html") && strcmp(format, "json")) {
        fprintf(stderr, "loco leaderboard: --format takes md, html or json, not '%s'\n", format);
        return 2;
    }
    return show(&rp, &p, format, out);
}
