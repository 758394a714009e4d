/*
 * cmd-adapters-pack.c - submission bundles (loco/bundle.h, docs/sharing.md):
 *
 *   loco adapters pack NAME [-o PATH] [--registry FILE]
 *   loco adapters verify BUNDLE [--registry FILE] [--json]
 *
 * pack writes NAME's adapter, recipe, training log, evaluation records and
 * reports with a manifest into one .zip; verify checks one against the
 * project (checksums, base, registry entry, gates, contamination, training
 * log), one line per check, and exits 0 only when no check FAILed. The
 * work is loco_bundle_pack / loco_bundle_verify; this file parses and prints.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd-adapters-pack.h"
#include "commands.h"
#include "loco/bundle.h"
#include "loco/registry.h"

int cli_adapters_pack(int argc, char **argv)
{
    const char *out = NULL, *registry = NULL;
    struct cli_option opts[] = {
        CLI_OPT_STRING('o', "output", &out, "PATH", "the bundle to write (default: NAME.zip)"),
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_END(),
    };
    struct cli_command c = {
        "adapters pack",
        "usage: loco adapters pack NAME [-o PATH] [options]\n\n"
        "Writes a submission bundle: the adapter, its recipe, its TRAINING_LOG.md, the\n"
        "evaluation records its scores cite with their reports, and manifest.json\n"
        "(sha256 and size of each file, the registry entry). Check it with\n"
        "`loco adapters verify`; docs/sharing.md has the pull-request path.\n\noptions:\n",
        NULL,
        opts,
        1,
        0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_errorf("which adapter? (see `loco adapters list`)");
        return 2;
    }
    struct loco_registry *r = cli_registry_load(registry);
    if (!r)
        return 1;
    struct loco_bundle_pack_result res;
    int rc = loco_bundle_pack(r, argv[0], out, &res);
    loco_registry_free(r);
    if (rc != LOCO_OK)
        return cli_fail("cannot pack");
    printf("packed: %s (%zu files, %.1f MB)\n", res.path, res.n_files, (double)res.bytes / 1e6);
    if (res.entry_warning[0])
        printf("note: %s\n", res.entry_warning);
    printf("check it: loco adapters verify %s\n", res.path);
    return 0;
}

static void print_result(const char *bundle, const struct loco_bundle_verify_result *res)
{
    printf("%s%s%s\n", bundle, res->name[0] ? ": " : "", res->name);
    for (size_t i = 0; i < res->n_checks; i++)
        printf("  %-4s %-14s %s\n", loco_bundle_check_status_name(res->checks[i].status),
               res->checks[i].name, res->checks[i].reason);
    printf("%s\n", res->ok ? "ok: every required check passed"
                           : "not ok: fix each FAIL above (docs/sharing.md lists the checks)");
}

int cli_adapters_verify(int argc, char **argv)
{
    const char *registry = NULL;
    bool json = false;
    struct cli_option opts[] = {
        CLI_REGISTRY_OPTION(&registry),
        CLI_OPT_FLAG(0, "json", &json, "the checks as JSON"),
        CLI_OPT_END(),
    };
    struct cli_command c = {
        "adapters verify",
        "usage: loco adapters verify BUNDLE [options]\n\n"
        "Checks a bundle written by `loco adapters pack`: every file against the\n"
        "manifest, the base model, the registry entry (as `loco registry validate`),\n"
        "the records' gates (re-decided as `loco eval --regate`), out-of-domain\n"
        "non-inferiority, the contamination check and the training log. One line per\n"
        "check: PASS, WARN or FAIL with the reason. Exit status 0 when nothing FAILed,\n"
        "1 otherwise. The bundle is unpacked into a private temporary folder only.\n\n"
        "options:\n",
        NULL,
        opts,
        1,
        0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_errorf("which bundle? give the .zip that `loco adapters pack` wrote");
        return 2;
    }
    struct loco_registry *r = cli_registry_load(registry);
    if (!r)
        return 1;
    struct loco_bundle_verify_result *res = malloc(sizeof *res);
    int rc = res ? loco_bundle_verify(argv[0], r, NULL, res) : LOCO_ERR_NOMEM;
    loco_registry_free(r);
    if (rc != LOCO_OK) {
        free(res);
        return cli_fail("cannot verify");
    }
    if (json) {
        char *s = loco_bundle_verify_json(argv[0], res);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        print_result(argv[0], res);
    }
    rc = res->ok ? 0 : 1;
    free(res);
    return rc;
}
