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

static const char leaderboard_usage[] = "usage: loco leaderboard [options]\n\noptions:\n";

static const char leaderboard_epilog[] =
    "\nRows come from the merged registry (project file + user overlay). Adapters\n"
    "without a score are listed last with '-' (null in JSON). Every score names\n"
    "its gate (superiority on the domain's own benchmarks, non-inferiority\n"
    "elsewhere) and its verdict: PASS, FAIL, or uninformative (a non-inferiority\n"
    "check whose base scores below the 5-point margin), read from the score's\n"
    "record, else derived from the registry.\n";

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
    const char *format = "md", *out = NULL, *registry = NULL;
    bool json = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "domain", &p.domain, "D", "one domain only"),
        CLI_OPT_CHOICE(0, "format", &format, "md|html|json",
                       "Markdown table (default), a self-contained HTML page,\n"
                       "or a JSON list of rows"),
        CLI_OPT_FLAG(0, "json", &json, "the same as --format json"),
        CLI_OPT_FLAG(0, "all", &p.all, "a row per scored benchmark, not only the primary one"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_STRING(0, "out", &out, "FILE", "write there instead of printing"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"leaderboard", leaderboard_usage, leaderboard_epilog, opts, 0, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (json)
        format = "json";
    struct loco_registry_params rp = cli_registry_params(registry);
    return show(&rp, &p, format, out);
}
