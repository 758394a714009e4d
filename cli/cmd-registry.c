/*
 * cmd-registry.c - `loco registry`: check and locate the adapter registry.
 *
 *   loco registry validate [FILE] [--merged] [--no-files] [--json]
 *   loco registry path [--json]
 *
 * validate checks FILE (default: the project registry) as a complete
 * registry: the schema, then the files it names (hashes, the adapters' base
 * model, rank/alpha/targets, score records). --merged checks the project
 * registry with the user overlay merged over it instead. Each problem is
 * printed as FILE:LINE: FIELD = 'VALUE': what is wrong and the fix. The
 * exit status is 1 when there are problems.
 *
 * path prints the project registry in use and which rule of loco/project.h
 * found it, the project root and results folder, and the user overlay; when
 * no project is found it prints where it looked and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "loco/project.h"
#include "loco/registry.h"
#include "loco/report.h"

static const char registry_usage[] =
    "usage: loco registry validate [FILE] [--merged] [--no-files] [--json]\n"
    "       loco registry path [--json]\n\n";

static const char registry_epilog[] =
    "\nThe schema is described in docs/registry.md. The project registry is, first match:\n"
    "$LOCO_REGISTRY (a file) or $LOCO_PROJECT_DIR/adapters/registry.yaml; the current\n"
    "directory or its nearest parent holding adapters/registry.yaml; the same beside the\n"
    "binary (its folder and the two above; <prefix>/share/locollm for <prefix>/bin/loco);\n"
    "$XDG_DATA_HOME/locollm/adapters/registry.yaml. The overlay is\n"
    "$XDG_DATA_HOME/locollm/registry.yaml (default ~/.local/share/locollm).\n";

static void print_problem(const struct loco_registry_problem *p)
{
    printf("%s:%d: %s", p->file, p->line, p->field[0] ? p->field : "(file)");
    if (p->value[0])
        printf(" = '%s'", p->value);
    printf(": %s\n", p->message);
}

/* The problems and the verdict as one JSON object. */
static void validate_json(const struct loco_registry *r, size_t n, bool merged, bool files)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "ok", n == 0);
    cJSON_AddBoolToObject(j, "merged", merged);
    cJSON_AddBoolToObject(j, "files_checked", files);
    cJSON_AddNumberToObject(j, "adapters", (double)loco_registry_n_adapters(r));
    cJSON_AddNumberToObject(j, "domains", (double)loco_registry_n_domains(r));
    const struct loco_registry_base *b = loco_registry_base(r);
    cJSON *base = cJSON_AddObjectToObject(j, "base_model");
    cJSON_AddStringToObject(base, "name", b->name ? b->name : "");
    cJSON_AddStringToObject(base, "academic_year", b->academic_year ? b->academic_year : "");
    cJSON *list = cJSON_AddArrayToObject(j, "problems");
    for (size_t i = 0; i < n; i++) {
        const struct loco_registry_problem *p = loco_registry_problem_at(r, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", p->file);
        cJSON_AddNumberToObject(o, "line", p->line);
        cJSON_AddStringToObject(o, "field", p->field);
        cJSON_AddStringToObject(o, "value", p->value);
        cJSON_AddStringToObject(o, "message", p->message);
        cJSON_AddItemToArray(list, o);
    }
    char *s = cJSON_Print(j);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

static int validate(int argc, char **argv)
{
    const char *file = NULL;
    bool merged = false, no_files = false, json = false;
    struct cli_option opts[] = {
        CLI_OPT_STRING(0, "registry", &file, "FILE",
                       "the registry to check (the same as FILE; default: the\n"
                       "project's adapters/registry.yaml)"),
        CLI_OPT_FLAG(0, "merged", &merged,
                     "check the project registry with the user overlay merged in"),
        CLI_OPT_FLAG(0, "no-files", &no_files,
                     "check the schema only (skip hashing the adapter files)"),
        CLI_OPT_FLAG(0, "json", &json, "the problems and the verdict as JSON"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"registry validate",
                            "usage: loco registry validate [FILE] [options]\n\n"
                            "Checks a registry: the schema, then the files it names (hashes, "
                            "the\nadapters' base model, rank/alpha/targets, score records). "
                            "Each problem is\nprinted as FILE:LINE: FIELD = 'VALUE': what is "
                            "wrong and the fix. The exit\nstatus is 1 when there are "
                            "problems.\n\noptions:\n",
                            registry_epilog,
                            opts,
                            1,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    if (n_args && file) {
        cli_errorf("give the registry once: FILE or --registry FILE");
        return 2;
    }
    if (n_args)
        file = argv[0];
    bool files = !no_files;
    struct loco_registry_params p = loco_registry_default_params();
    p.lenient = true;
    p.project_path = file;
    if (!merged)
        p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r && json) { /* it does not even load: say so in the JSON too */
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", false);
        cJSON_AddStringToObject(j, "error", loco_error_message());
        char *text = cJSON_Print(j);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    }
    if (!r)
        return cli_fail("cannot read the registry");
    size_t n = files ? loco_registry_check_files(r) : loco_registry_n_problems(r);
    const struct loco_registry_base *b = loco_registry_base(r);
    if (json)
        validate_json(r, n, merged, files);
    else {
        for (size_t i = 0; i < n; i++)
            print_problem(loco_registry_problem_at(r, i));
        if (n == 0)
            printf("ok: %zu adapters in %zu domains, base %s (%s)%s\n", loco_registry_n_adapters(r),
                   loco_registry_n_domains(r), b->name, b->academic_year,
                   files ? "; files and hashes checked" : "");
        else
            printf("%zu problem%s\n", n, n == 1 ? "" : "s");
    }
    loco_registry_free(r);
    return n == 0 ? 0 : 1;
}

static bool exists(const char *file)
{
    struct stat st;
    return stat(file, &st) == 0;
}

static void print_json(const struct loco_project_location *loc, const char *results,
                       const char *user)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "registry", loc->registry);
    cJSON_AddBoolToObject(j, "exists", exists(loc->registry));
    cJSON_AddStringToObject(j, "rule", loco_project_rule_name(loc->rule));
    cJSON_AddStringToObject(j, "why", loc->why);
    cJSON_AddStringToObject(j, "root", loc->root);
    cJSON_AddStringToObject(j, "adapters", loc->adapters);
    cJSON_AddStringToObject(j, "results", results);
    cJSON_AddStringToObject(j, "user", user);
    cJSON_AddBoolToObject(j, "user_exists", user[0] && exists(user));
    char *s = cJSON_Print(j);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

static int path(int argc, char **argv)
{
    bool json = false;
    struct cli_option opts[] = {
        CLI_OPT_FLAG(0, "json", &json, "machine-readable output"),
        CLI_OPT_END(),
    };
    struct cli_command c = {"registry path",
                            "usage: loco registry path [--json]\n\n"
                            "Prints the project registry in use and which rule found it, the\n"
                            "project root and results folder, and the user overlay; when no\n"
                            "project is found, where it looked (exit status 1).\n\noptions:\n",
                            registry_epilog,
                            opts,
                            0,
                            0};
    int n_args = cli_opt_parse(&c, argc, argv);
    if (n_args < 0)
        return cli_opt_exit(n_args);
    static struct loco_project_location loc; /* 16 KiB: not on the stack */
    if (loco_project_locate(NULL, &loc) != LOCO_OK)
        return cli_fail("registry path");
    char results[LOCO_PROJECT_PATH_MAX], user[LOCO_REGISTRY_PATH_MAX];
    if (loco_results_default_dir(results, sizeof results) != LOCO_OK)
        return cli_fail("registry path");
    if (loco_registry_user_path(user, sizeof user) != LOCO_OK)
        user[0] = '\0'; /* no home folder: no overlay */
    if (json) {
        print_json(&loc, results, user);
        return 0;
    }
    printf("project  %s%s\n", loc.registry, exists(loc.registry) ? "" : " (missing)");
    printf("why      %s [%s]\n", loc.why, loco_project_rule_name(loc.rule));
    printf("root     %s\n", loc.root);
    printf("results  %s\n", results);
    printf("user     %s%s\n", user[0] ? user : "(no home folder: no overlay)",
           !user[0] || exists(user) ? "" : " (absent: nothing overlaid)");
    return 0;
}

int cmd_registry(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"validate", validate, "check a registry (default: the project's adapters/registry.yaml)"},
        {"path", path, "print the project registry in use and why, and the overlay"},
        {NULL, NULL, NULL},
    };
    return cli_opt_dispatch("registry", registry_usage, registry_epilog, subs, argc, argv);
}
