/*
 * cmd-registry.c - `loco registry`: check and locate the adapter registry.
 *
 *   loco registry validate [FILE] [--merged] [--no-files]
 *   loco registry path
 *
 * validate checks FILE (default: the project registry) as a complete
 * registry: the schema, then the files it names (hashes, the adapters' base
 * model, rank/alpha/targets, score records). --merged checks the project
 * registry with the user overlay merged over it instead. Each problem is
 * printed as FILE:LINE: FIELD = 'VALUE': what is wrong and the fix. The
 * exit status is 1 when there are problems.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "loco/registry.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loco registry <subcommand>\n\n"
            "  validate [FILE]   check a registry (default: the project's adapters/registry.yaml)\n"
            "      --merged      check the project registry with the user overlay merged in\n"
            "      --no-files    check the schema only (skip hashing the adapter files)\n"
            "  path              print where the project registry and the user overlay are\n\n"
            "The schema is described in docs/registry.md. LOCO_REGISTRY names another project\n"
            "registry; the overlay is $XDG_DATA_HOME/locollm/registry.yaml.\n");
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

static int path(void)
{
    char buf[LOCO_REGISTRY_PATH_MAX];
    if (loco_registry_project_path(buf, sizeof buf) != LOCO_OK)
        return cli_fail("registry path");
    printf("project  %s\n", buf);
    if (loco_registry_user_path(buf, sizeof buf) != LOCO_OK)
        return cli_fail("registry path");
    printf("user     %s\n", buf);
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
        return path();
    fprintf(stderr, "loco registry: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
