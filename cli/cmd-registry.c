/*
 * cmd-registry.c - `loco registry`: check and locate the adapter registry.
 *
 *   loco registry validate [FILE] [--merged] [--no-files]
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loco registry <subcommand>\n\n"
            "  validate [FILE]   check a registry (default: the project's adapters/registry.yaml)\n"
            "      --merged      check the project registry with the user overlay merged in\n"
            "      --no-files    check the schema only (skip hashing the adapter files)\n"
            "  path [--json]     print the project registry in use and why, and the overlay\n\n"
            "The schema is described in docs/registry.md. The project registry is, first match:\n"
            "$LOCO_REGISTRY (a file) or $LOCO_PROJECT_DIR/adapters/registry.yaml; the current\n"
            "directory or its nearest parent holding adapters/registry.yaml; the same beside the\n"
            "binary (its folder and the two above; <prefix>/share/locollm for <prefix>/bin/loco);\n"
            "$XDG_DATA_HOME/locollm/adapters/registry.yaml. The overlay is\n"
            "$XDG_DATA_HOME/locollm/registry.yaml (default ~/.local/share/locollm).\n");
}

static void print_problem(const struct loco_registry_problem *p)
{
    printf("%s:%d: %s", p->file, p->line, p->field[0] ? p->field : "(file)");
    if (p->value[0])
        printf(" = '%s'", p->value);
    printf(": %s\n", p->message);
}

static int validate(int argc, char **argv)
{
    const char *file = NULL;
    bool merged = false, files = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--merged") == 0)
            merged = true;
        else if (strcmp(argv[i], "--no-files") == 0)
            files = false;
        else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "loco registry validate: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            file = argv[i];
    }
    struct loco_registry_params p = loco_registry_default_params();
    p.lenient = true;
    p.project_path = file;
    if (!merged)
        p.user_path = "";
    struct loco_registry *r = loco_registry_load(&p);
    if (!r)
        return cli_fail("registry validate");
    size_t n = files ? loco_registry_check_files(r) : loco_registry_n_problems(r);
    for (size_t i = 0; i < n; i++)
        print_problem(loco_registry_problem_at(r, i));
    const struct loco_registry_base *b = loco_registry_base(r);
    if (n == 0)
        printf("ok: %zu adapters in %zu domains, base %s (%s)%s\n", loco_registry_n_adapters(r),
               loco_registry_n_domains(r), b->name, b->academic_year,
               files ? "; files and hashes checked" : "");
    else
        printf("%zu problem%s\n", n, n == 1 ? "" : "s");
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
    bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !json)) {
        fprintf(stderr, "loco registry path: unexpected argument '%s'\n", argv[argc - 1]);
        return 2;
    }
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
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "validate") == 0)
        return validate(argc - 1, argv + 1);
    if (strcmp(argv[1], "path") == 0)
        return path(argc - 1, argv + 1);
    fprintf(stderr, "loco registry: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
