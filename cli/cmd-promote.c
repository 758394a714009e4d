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

static void usage(FILE *out)
{
    fprintf(out, "usage: loco promote ADAPTER [--project | --user]\n"
                 "       loco promote --best DOMAIN [--project | --user]\n\n"
                 "  --best DOMAIN  promote the best adapter of DOMAIN by its primary benchmark\n"
                 "                 (only adapters whose evaluation gate passed qualify)\n"
                 "  --project      write the project registry (adapters/registry.yaml)\n"
                 "  --user         write the user overlay ($XDG_DATA_HOME/locollm/registry.yaml)\n");
}

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
    const char *adapter = NULL, *domain = NULL, *v;
    enum loco_registry_layer layer = LOCO_REGISTRY_AUTO;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (cli_opt(argc, argv, &i, "--best", &v))
            domain = v;
        else if (strcmp(argv[i], "--project") == 0)
            layer = LOCO_REGISTRY_PROJECT;
        else if (strcmp(argv[i], "--user") == 0)
            layer = LOCO_REGISTRY_USER;
        else if (argv[i][0] == '-' || adapter) {
            fprintf(stderr, "loco promote: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            adapter = argv[i];
    }
    if (!adapter == !domain) {
        usage(stderr);
        return 2;
    }
    char chosen[128] = "", demoted[128] = "";
    int rc = domain ? loco_registry_promote_best(NULL, layer, domain, chosen, sizeof chosen,
                                                 demoted, sizeof demoted)
                    : loco_registry_promote(NULL, layer, adapter, demoted, sizeof demoted);
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
