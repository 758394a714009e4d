/*
 * cmd-promote.c - `loco promote`: make an adapter the active one of its
 * domain (the previous active one becomes a candidate).
 *
 *   loco promote ADAPTER [--project | --user]
 *   loco promote --best DOMAIN [--project | --user]
 *
 * --best picks the adapter with the highest score on the domain's primary
 * benchmark among those whose recorded gate passed. The change is written
 * to the registry file that defines the adapter (the project's
 * adapters/registry.yaml, or the user overlay for installed adapters)
 * unless --project or --user says otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "loco/registry.h"

static const char promote_usage[] = "usage: loco promote ADAPTER [--project | --user]\n"
                                    "       loco promote --best DOMAIN [--project | --user]\n\n"
                                    "options:\n";

/* Tell the user when the merged view still shows another active adapter
 * (an overlay choice outranks the project file's). */
static void report(const char *name)
{
    struct loco_registry *r = loco_registry_load(NULL);
    const struct loco_registry_adapter *a = r ? loco_registry_find(r, name) : NULL;
    const struct loco_registry_adapter *act = a ? loco_registry_active(r, a->domain) : NULL;
    if (act && strcmp(act->name, name) != 0)
        printf("note: the user overlay makes '%s' active for %s; run `loco promote %s --user` "
               "to change that\n",
               act->name, a->domain, name);
    loco_registry_free(r);
}

int cmd_promote(int argc, char **argv)
{
    const char *adapter = NULL, *domain = NULL;
    int layer = LOCO_REGISTRY_AUTO;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "best", &domain, "DOMAIN",
                       "promote the best adapter of DOMAIN by its primary benchmark\n"
                       "(only adapters whose evaluation gate passed qualify)"),
        CLI_OPT_SET(0, "project", &layer, LOCO_REGISTRY_PROJECT,
                    "write the project registry (adapters/registry.yaml)"),
        CLI_OPT_SET(0, "user", &layer, LOCO_REGISTRY_USER,
                    "write the user overlay ($XDG_DATA_HOME/locollm/registry.yaml)"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"promote", promote_usage, NULL, opts, 1, 0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    adapter = n_args ? argv[0] : NULL;
    if (!adapter == !domain) {
        cli_opt_errorf("promote", "name one adapter, or --best DOMAIN (see loco promote --help)");
        return 2;
    }
    char chosen[128] = "", demoted[128] = "";
    int rc = domain ? loco_registry_promote_best(NULL, (enum loco_registry_layer)layer, domain,
                                                 chosen, sizeof chosen, demoted, sizeof demoted)
                    : loco_registry_promote(NULL, (enum loco_registry_layer)layer, adapter, demoted,
                                            sizeof demoted);
    if (rc != LOCO_OK)
        return cli_fail("promote");
    const char *name = domain ? chosen : adapter;
    printf("promoted: %s is now active", name);
    if (demoted[0])
        printf(" (%s is now a candidate)", demoted);
    printf("\n");
    report(name);
    return 0;
}
