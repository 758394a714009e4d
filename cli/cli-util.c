/*
 * cli-util.c - flag parsing and error printing shared by the commands.
 *
 * Number parsing goes through strtol/strtod with full checks (the whole
 * string consumed, range enforced) so a typo like `--threads 2x` is an error
 * that names the flag, never a silent 2.
 */
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loco/core.h"
#include "loco/registry.h"

int cli_fail(const char *what)
{
    const char *msg = loco_error_message();
    if (msg[0])
        fprintf(stderr, "loco: %s: %s\n", what, msg);
    else
        fprintf(stderr, "loco: %s\n", what);
    return 1;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '=') { /* --flag=value */
        *value = arg + n + 1;
        return true;
    }
    if (arg[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "loco: %s needs a value\n", name);
        exit(2);
    }
    *i += 1;
    *value = argv[*i];
    return true;
}

bool cli_parse_int(const char *flag, const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "loco: %s expects an integer in [%ld, %ld], got '%s'\n", flag, min, max,
                s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_float(const char *flag, const char *s, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v >= min && v <= max)) {
        fprintf(stderr, "loco: %s expects a number in [%g, %g], got '%s'\n", flag, min, max, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-') {
        fprintf(stderr, "loco: %s expects a non-negative integer, got '%s'\n", flag, s);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

struct loco_registry *cli_registry_load(const char *file)
{
    struct loco_registry_params rp = loco_registry_default_params();
    if (file) {
        rp.project_path = file;
        rp.user_path = "";
    }
    struct loco_registry *reg = loco_registry_load(&rp);
    if (!reg)
        cli_fail("cannot read the registry");
    return reg;
}
