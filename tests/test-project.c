/*
 * test-project.c - finding the project (loco/project.h): each of the four
 * rules on a temporary tree, their order, the error that lists where it
 * looked, and the callers that derive their folders from the project (the
 * registry path, adapter names, the results archive).
 *
 * The tree, under a fresh /tmp folder T:
 *   T/proj/adapters/registry.yaml        a checkout
 *   T/proj/a/adapters/registry.yaml      a nested project (nearest wins)
 *   T/prefix/share/locollm/adapters/...  an installed project
 *   T/xdg/locollm/adapters/...           the user data folder
 *   T/empty                              no project anywhere above it but /
 * The process's environment is cleared of the variables the rules read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loco/lora.h"
#include "loco/project.h"
#include "loco/registry.h"
#include "loco/report.h"
#include "testutil.h"

struct tree {
    char t[PATH_MAX]; /* the temporary folder, symlinks resolved */
    char old_cwd[PATH_MAX];
};

static void path_of(char *buf, size_t cap, const struct tree *tr, const char *rel)
{
    int n = snprintf(buf, cap, "%s/%s", tr->t, rel);
    assert_true(n > 0 && (size_t)n < cap);
}

static void make_dirs(const struct tree *tr, const char *rel)
{
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", tr->t, rel);
    assert_int_equal(system(cmd), 0);
}

static void put_file(const struct tree *tr, const char *rel)
{
    char path[PATH_MAX];
    path_of(path, sizeof path, tr, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    make_dirs(tr, path + strlen(tr->t) + 1);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("schema_version: 2\n", f);
    fclose(f);
}

static void clear_env(void)
{
    unsetenv("LOCO_REGISTRY");
    unsetenv("LOCO_PROJECT_DIR");
    unsetenv("LOCO_RESULTS_DIR");
    unsetenv("XDG_DATA_HOME");
}

static int setup(void **state)
{
    struct tree *tr = calloc(1, sizeof *tr);
    char tmpl[] = "/tmp/loco-test-project-XXXXXX";
    if (!tr || !mkdtemp(tmpl) || !realpath(tmpl, tr->t) || !getcwd(tr->old_cwd, PATH_MAX))
        return -1;
    put_file(tr, "proj/adapters/registry.yaml");
    put_file(tr, "proj/a/adapters/registry.yaml");
    put_file(tr, "prefix/share/locollm/adapters/registry.yaml");
    put_file(tr, "xdg/locollm/adapters/registry.yaml");
    make_dirs(tr, "empty");
    make_dirs(tr, "home");
    clear_env();
    char home[PATH_MAX];
    path_of(home, sizeof home, tr, "home"); /* no ~/.local/share/locollm there */
    setenv("HOME", home, 1);
    *state = tr;
    return 0;
}

static int teardown(void **state)
{
    struct tree *tr = *state;
    if (chdir(tr->old_cwd) != 0)
        return -1;
    test_rm_rf(tr->t);
    clear_env();
    free(tr);
    return 0;
}

/* Locate from cwd T/<cwd_rel> with the binary at T/<exe_rel> ("" : none). */
static int locate(const struct tree *tr, const char *cwd_rel, const char *exe_rel,
                  struct loco_project_location *out)
{
    char cwd[PATH_MAX], exe[PATH_MAX];
    path_of(cwd, sizeof cwd, tr, cwd_rel);
    if (exe_rel[0])
        path_of(exe, sizeof exe, tr, exe_rel);
    else
        exe[0] = '\0';
    struct loco_project_params p = loco_project_default_params();
    p.cwd = cwd;
    p.exe = exe;
    return loco_project_locate(&p, out);
}

static void assert_under(const struct tree *tr, const char *path, const char *rel)
{
    char want[PATH_MAX];
    path_of(want, sizeof want, tr, rel);
    assert_string_equal(path, want);
}

/* ---- rule 1: the environment ----------------------------------------------- */

static void test_env(void **state)
{
    struct tree *tr = *state;
    struct loco_project_location loc;
    char dir[PATH_MAX];

    setenv("LOCO_REGISTRY", "/x/shelf/reg.yaml", 1);
    assert_int_equal(locate(tr, "proj", "", &loc), LOCO_OK); /* beats the working tree */
    assert_int_equal(loc.rule, LOCO_PROJECT_ENV_REGISTRY);
    assert_string_equal(loc.registry, "/x/shelf/reg.yaml");
    assert_string_equal(loc.adapters, "/x/shelf"); /* the file's folder, whatever its name */
    assert_string_equal(loc.root, "/x");
    assert_non_null(strstr(loc.why, "$LOCO_REGISTRY"));

    setenv("LOCO_REGISTRY", "mine/registry.yaml", 1); /* relative: to the current directory */
    assert_int_equal(locate(tr, "empty", "", &loc), LOCO_OK);
    assert_under(tr, loc.registry, "empty/mine/registry.yaml");

    path_of(dir, sizeof dir, tr, "prefix/");
    setenv("LOCO_PROJECT_DIR", dir, 1);
    assert_int_equal(locate(tr, "proj", "", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_ENV_REGISTRY); /* LOCO_REGISTRY comes first */
    unsetenv("LOCO_REGISTRY");
    assert_int_equal(locate(tr, "proj", "", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_ENV_DIR);
    assert_under(tr, loc.root, "prefix"); /* obeyed as given, trailing '/' dropped */
    assert_under(tr, loc.adapters, "prefix/adapters");
    assert_under(tr, loc.registry, "prefix/adapters/registry.yaml"); /* even though missing */
    path_of(dir, sizeof dir, tr, "prefix");
    assert_non_null(strstr(loc.why, dir));
    unsetenv("LOCO_PROJECT_DIR");
}

/* ---- rule 2: the working tree ---------------------------------------------- */

static void test_working_tree(void **state)
{
    struct tree *tr = *state;
    struct loco_project_location loc;
    char cwd[PATH_MAX];

    make_dirs(tr, "proj/src/deep");
    assert_int_equal(locate(tr, "proj/src/deep", "", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_WORKING_TREE);
    assert_under(tr, loc.registry, "proj/adapters/registry.yaml");
    assert_under(tr, loc.adapters, "proj/adapters");
    assert_under(tr, loc.root, "proj");
    path_of(cwd, sizeof cwd, tr, "proj/src/deep");
    assert_non_null(strstr(loc.why, "working tree above"));
    assert_non_null(strstr(loc.why, cwd));

    assert_int_equal(locate(tr, "proj", "", &loc), LOCO_OK);
    assert_non_null(strstr(loc.why, "current directory"));

    make_dirs(tr, "proj/a/b");
    assert_int_equal(locate(tr, "proj/a/b", "", &loc), LOCO_OK); /* the nearest one */
    assert_under(tr, loc.root, "proj/a");

    /* the working tree comes before the binary's folder */
    assert_int_equal(locate(tr, "proj", "prefix/bin/loco", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_WORKING_TREE);
}

/* ---- rule 3: beside the binary ---------------------------------------------- */

static void test_beside_binary(void **state)
{
    struct tree *tr = *state;
    struct loco_project_location loc;

    assert_int_equal(locate(tr, "empty", "proj/build/loco", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_BESIDE_BINARY);
    assert_under(tr, loc.root, "proj");
    assert_non_null(strstr(loc.why, "proj/build/loco"));
    assert_int_equal(locate(tr, "empty", "proj/loco", &loc), LOCO_OK); /* its own folder */
    assert_under(tr, loc.root, "proj");
    assert_int_equal(locate(tr, "empty", "proj/x/y/loco", &loc), LOCO_OK); /* two up */
    assert_under(tr, loc.root, "proj");

    /* three folders up is too far: the user data folder answers instead */
    char xdg[PATH_MAX];
    path_of(xdg, sizeof xdg, tr, "xdg");
    setenv("XDG_DATA_HOME", xdg, 1);
    assert_int_equal(locate(tr, "empty", "proj/x/y/z/loco", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_USER_DATA);
    unsetenv("XDG_DATA_HOME");

    /* an installed binary: <prefix>/bin/loco -> <prefix>/share/locollm */
    assert_int_equal(locate(tr, "empty", "prefix/bin/loco", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_INSTALLED);
    assert_under(tr, loc.registry, "prefix/share/locollm/adapters/registry.yaml");
    assert_under(tr, loc.root, "prefix/share/locollm");
    assert_non_null(strstr(loc.why, "prefix/bin/loco"));
}

/* ---- rule 4: the user data folder ------------------------------------------ */

static void test_user_data(void **state)
{
    struct tree *tr = *state;
    struct loco_project_location loc;
    char dir[PATH_MAX];

    path_of(dir, sizeof dir, tr, "xdg");
    setenv("XDG_DATA_HOME", dir, 1);
    assert_int_equal(locate(tr, "empty", "", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_USER_DATA);
    assert_under(tr, loc.registry, "xdg/locollm/adapters/registry.yaml");
    assert_under(tr, loc.root, "xdg/locollm");
    assert_non_null(strstr(loc.why, "user data folder"));

    /* XDG_DATA_HOME must be absolute; else ~/.local/share/locollm */
    setenv("XDG_DATA_HOME", "relative", 1);
    put_file(tr, "home/.local/share/locollm/adapters/registry.yaml");
    assert_int_equal(locate(tr, "empty", "", &loc), LOCO_OK);
    assert_int_equal(loc.rule, LOCO_PROJECT_USER_DATA);
    assert_under(tr, loc.root, "home/.local/share/locollm");
    path_of(dir, sizeof dir, tr, "home/.local");
    test_rm_rf(dir);
    unsetenv("XDG_DATA_HOME");
}

/* ---- nothing found ---------------------------------------------------------- */

static void test_none(void **state)
{
    struct tree *tr = *state;
    struct loco_project_location loc;
    char want[PATH_MAX];

    struct stat st;
    if (stat("/tmp/adapters/registry.yaml", &st) == 0 ||
        stat("/adapters/registry.yaml", &st) == 0) {
        fprintf(stderr, "skipping: a project registry above /tmp\n");
        skip();
    }
    assert_int_equal(locate(tr, "empty", "lonely/bin/loco", &loc), LOCO_ERR_NOT_FOUND);
    const char *msg = loco_error_message();
    assert_non_null(strstr(msg, "LOCO_PROJECT_DIR"));
    path_of(want, sizeof want, tr, "empty");
    assert_non_null(strstr(msg, want)); /* the working tree it climbed */
    path_of(want, sizeof want, tr, "lonely/bin");
    assert_non_null(strstr(msg, want)); /* the binary's folder */
    path_of(want, sizeof want, tr, "lonely/share/locollm");
    assert_non_null(strstr(msg, want)); /* the install layout */
    path_of(want, sizeof want, tr, "home/.local/share/locollm");
    assert_non_null(strstr(msg, want)); /* the user data folder, and the fix */
    assert_non_null(strstr(msg, "Fix:"));

    assert_int_equal(locate(tr, "empty", "", &loc), LOCO_ERR_NOT_FOUND);
    assert_non_null(strstr(loco_error_message(), "(unknown)"));
}

static void test_rule_names(void **state)
{
    (void)state;
    assert_string_equal(loco_project_rule_name(LOCO_PROJECT_ENV_REGISTRY), "env-registry");
    assert_string_equal(loco_project_rule_name(LOCO_PROJECT_ENV_DIR), "env-dir");
    assert_string_equal(loco_project_rule_name(LOCO_PROJECT_WORKING_TREE), "working-tree");
    assert_string_equal(loco_project_rule_name(LOCO_PROJECT_BESIDE_BINARY), "beside-binary");
    assert_string_equal(loco_project_rule_name(LOCO_PROJECT_INSTALLED), "installed");
    assert_string_equal(loco_project_rule_name(LOCO_PROJECT_USER_DATA), "user-data");
    assert_string_equal(loco_project_rule_name((enum loco_project_rule)99), "?");
    struct loco_project_params p = loco_project_default_params();
    assert_null(p.cwd);
    assert_null(p.exe);
}

/* ---- the callers follow the project ------------------------------------------ */

static void test_callers(void **state)
{
    struct tree *tr = *state;
    char buf[PATH_MAX], empty[PATH_MAX], cwd[PATH_MAX];

    path_of(empty, sizeof empty, tr, "empty");
    setenv("LOCO_ADAPTERS_DIR", empty, 1); /* no user adapters */
    put_file(tr, "proj/adapters/mine/mine.gguf");
    path_of(cwd, sizeof cwd, tr, "proj/src");
    make_dirs(tr, "proj/src");
    assert_int_equal(chdir(cwd), 0); /* the process's own cwd: rule 2 */

    assert_int_equal(loco_registry_project_path(buf, sizeof buf), LOCO_OK);
    assert_under(tr, buf, "proj/adapters/registry.yaml");
    assert_int_equal(loco_adapters_resolve("mine", buf, sizeof buf), LOCO_OK);
    assert_under(tr, buf, "proj/adapters/mine/mine.gguf");
    assert_int_equal(loco_results_default_dir(buf, sizeof buf), LOCO_OK);
    assert_under(tr, buf, "proj/results");
    assert_int_equal(loco_adapters_resolve("other", buf, sizeof buf), LOCO_ERR_NOT_FOUND);
    path_of(buf, sizeof buf, tr, "proj/adapters");
    assert_non_null(strstr(loco_error_message(), buf)); /* names where it looked */

    char dir[PATH_MAX];
    path_of(dir, sizeof dir, tr, "prefix/share/locollm");
    setenv("LOCO_PROJECT_DIR", dir, 1); /* the environment beats the working tree */
    assert_int_equal(loco_results_default_dir(buf, sizeof buf), LOCO_OK);
    assert_under(tr, buf, "prefix/share/locollm/results");
    assert_int_equal(loco_adapters_resolve("mine", buf, sizeof buf), LOCO_ERR_NOT_FOUND);
    unsetenv("LOCO_PROJECT_DIR");
    unsetenv("LOCO_ADAPTERS_DIR");
    assert_int_equal(chdir(tr->old_cwd), 0);
}

/* Run by ctest from a build folder inside the checkout, the real defaults
 * find the checkout's registry (rule 2, or rule 3 from the test binary). */
static void test_defaults_find_the_checkout(void **state)
{
    (void)state;
    const char *src = getenv("LOCO_SOURCE_DIR");
    char want[PATH_MAX], got[PATH_MAX], reg[PATH_MAX + 32];
    snprintf(reg, sizeof reg, "%s/adapters/registry.yaml", src ? src : ".");
    struct loco_project_location *loc = malloc(sizeof *loc);
    assert_non_null(loc);
    if (!src || !realpath(reg, want) || loco_project_locate(NULL, loc) != LOCO_OK ||
        loc->rule == LOCO_PROJECT_USER_DATA) {
        fprintf(stderr, "skipping: not run from a build folder inside a checkout\n");
        free(loc);
        skip();
    }
    assert_non_null(realpath(loc->registry, got));
    assert_string_equal(got, want);
    free(loc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_working_tree),
        cmocka_unit_test(test_beside_binary),
        cmocka_unit_test(test_user_data),
        cmocka_unit_test(test_none),
        cmocka_unit_test(test_rule_names),
        cmocka_unit_test(test_callers),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    const struct CMUnitTest real[] = {cmocka_unit_test(test_defaults_find_the_checkout)};
    return test_exit_status(failed + cmocka_run_group_tests(real, NULL, NULL));
}
