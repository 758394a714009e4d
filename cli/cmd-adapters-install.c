/*
 * cmd-adapters-install.c - `loco adapters install SOURCE`: parse the flags,
 * call loco_install() (loco/install.h), draw the progress line and print
 * what was done (docs/sharing.md).
 *
 *   loco adapters install NAME|URL|hf:OWNER/REPO[/FILE]|PATH
 *        [--name NAME] [--domain D] [--sha256 HEX] [--index URL|PATH]
 *        [--model BASE] [--dry-run] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli-progress.h"
#include "cmd-adapters-install.h"
#include "commands.h"
#include "loco/install.h"

/* ---- output ----------------------------------------------------------------- */

static void print_text(const struct loco_install_result *r)
{
    const char *kind = loco_install_kind_name(r->kind);
    if (r->dry_run) {
        printf("dry run: nothing fetched, nothing written\n");
        printf("  source     %s (%s)\n", r->fetch, kind);
        if (r->expect_size)
            printf("  verify     %llu bytes\n", (unsigned long long)r->expect_size);
        if (r->expect_sha256[0])
            printf("  verify     sha256 %s\n", r->expect_sha256);
        if (!r->expect_sha256[0] && !r->expect_size)
            printf("  verify     no sha256 pinned (give --sha256 HEX); the adapter's base is "
                   "checked\n");
        printf("  install    %s\n", r->path[0] ? r->path
                                               : "<adapters dir>/NAME.gguf (the name "
                                                 "comes from the file)");
        printf("  register   %s in %s\n", r->name[0] ? r->name : "(from the file)", r->overlay);
        if (r->domain[0])
            printf("  domain     %s\n", r->domain);
        return;
    }
    printf("installed: %s\n", r->name);
    printf("  domain     %s\n  file       %s\n", r->domain, r->path);
    printf("  sha256     %s (%llu bytes)\n", r->sha256, (unsigned long long)r->size);
    printf("  from       %s (%s)\n", r->fetch, kind);
    if (!r->expect_sha256[0] && r->kind != LOCO_INSTALL_FILE && r->kind != LOCO_INSTALL_PEFT &&
        r->kind != LOCO_INSTALL_BUNDLE)
        printf("  pinned     no: nothing said which sha256 to expect (give --sha256 HEX)\n");
    printf("  base       %s%s\n", r->base_sha256,
           r->base_recorded ? "" : " (not recorded in the file: the registry's is assumed)");
    printf("  lora       rank %d, alpha %g\n", r->rank, r->alpha);
    if (r->license[0])
        printf("  license    %s\n", r->license);
    if (r->record[0])
        printf("  record     %s\n", r->record);
    printf("  registry   %s (status candidate; `loco eval %s` scores it, `loco adapters remove "
           "%s --delete-file` undoes this)\n",
           r->overlay, r->name, r->name);
}

static int print_json(const struct loco_install_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "dry_run", r->dry_run);
    cJSON_AddStringToObject(o, "kind", loco_install_kind_name(r->kind));
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "domain", r->domain);
    cJSON_AddStringToObject(o, "source", r->fetch);
    cJSON_AddStringToObject(o, "path", r->path);
    cJSON_AddStringToObject(o, "overlay", r->overlay);
    cJSON_AddStringToObject(o, "sha256", r->sha256);
    cJSON_AddNumberToObject(o, "size", (double)r->size);
    cJSON_AddStringToObject(o, "expect_sha256", r->expect_sha256);
    cJSON_AddNumberToObject(o, "expect_size", (double)r->expect_size);
    cJSON_AddStringToObject(o, "base_sha256", r->base_sha256);
    cJSON_AddBoolToObject(o, "base_recorded", r->base_recorded);
    cJSON_AddStringToObject(o, "license", r->license);
    cJSON_AddStringToObject(o, "record", r->record);
    cJSON_AddNumberToObject(o, "rank", r->rank);
    cJSON_AddNumberToObject(o, "alpha", r->alpha);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return cli_fail("cannot write JSON");
    printf("%s\n", text);
    free(text);
    return 0;
}

/* ---- the command -------------------------------------------------------------- */

static const char install_help[] =
    "usage: loco adapters install SOURCE [options]\n\n"
    "Installs a shared adapter into your adapters folder and your user registry\n"
    "(docs/sharing.md). SOURCE is one of:\n"
    "  NAME                   an adapter of the adapter index (--index)\n"
    "  https://.../x.gguf     a URL of an adapter .gguf or bundle .zip\n"
    "  hf:OWNER/REPO[/FILE]   a Hugging Face repo (its one .gguf or PEFT adapter)\n"
    "  PATH                   a .gguf, a bundle .zip (loco adapters pack) or a PEFT folder\n"
    "A download is checked against the size and sha256 its index entry (or\n"
    "--sha256) gives before anything is registered, an adapter for another base\n"
    "model is refused, and a failed install leaves nothing behind.\n\noptions:\n";

int adapters_sub_install(int argc, char **argv)
{
    struct loco_install_params p = loco_install_default_params();
    bool json = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "name", &p.name, "NAME", "install under this name"),
        CLI_OPT_STRING(0, "domain", &p.domain, "D",
                       "the domain it serves, when SOURCE does not say"),
        CLI_OPT_STRING(0, "sha256", &p.sha256, "HEX",
                       "the file must hash to HEX (pin a URL or path)"),
        CLI_OPT_STRING(0, "index", &p.index, "URL|PATH",
                       "the adapter index (default: $LOCO_ADAPTER_INDEX, else the registry's "
                       "`index:`)"),
        CLI_OPT_STRING(0, "model", &p.model, "BASE",
                       "base model for a PEFT import (default: default)"),
        CLI_OPT_FLAG(0, "dry-run", &p.dry_run, "say what would be fetched, checked and registered"),
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {
        "adapters install",
        install_help,
        "\nAdapters go to $LOCO_ADAPTERS_DIR, else $XDG_DATA_HOME/locollm/adapters,\n"
        "else ~/.local/share/locollm/adapters; the entry to your user registry.\n",
        opts,
        1,
        0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args == 0) {
        cli_errorf("what to install? give an index name, a URL, hf:OWNER/REPO or a path");
        return 2;
    }
    struct cli_progress pr;
    cli_progress_init(&pr, isatty(STDERR_FILENO) == 1 && !json);
    p.progress = cli_progress_fn;
    p.progress_user = &pr;
    struct loco_install_result r;
    int rc = loco_install(argv[0], &p, &r);
    cli_progress_end(&pr);
    if (rc != LOCO_OK) {
        cli_errorf("%s", loco_error_message()); /* it says what was refused and the fix */
        return 1;
    }
    return json ? print_json(&r) : (print_text(&r), 0);
}
