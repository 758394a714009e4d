/*
 * cli-util.c - what the commands share besides their options (those are
 * cli/opt.c): the "loco <command>: ..." error prefix and reading the
 * registry as --registry FILE says.
 */
#include "commands.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "loco/core.h"
#include "loco/registry.h"

void cli_errorf(const char *fmt, ...)
{
    const char *name = cli_opt_command();
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loco%s%s: ", name ? " " : "", name ? name : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_fail(const char *what)
{
    const char *msg = loco_error_message();
    if (msg[0])
        cli_errorf("%s: %s", what, msg);
    else
        cli_errorf("%s", what);
    return 1;
}

struct loco_registry_params cli_registry_params(const char *file)
{
    struct loco_registry_params rp = loco_registry_default_params();
    if (file) {
        rp.project_path = file;
        rp.user_path = "";
    }
    return rp;
}

struct loco_registry *cli_registry_load(const char *file)
{
    struct loco_registry_params rp = cli_registry_params(file);
    struct loco_registry *reg = loco_registry_load(&rp);
    if (!reg)
        cli_fail("cannot read the registry");
    return reg;
}

int cli_chat_read(char **line, size_t *cap, bool tty)
{
    if (tty) {
        fputs("> ", stdout);
        fflush(stdout);
    }
    ssize_t got = getline(line, cap, stdin);
    if (got < 0)
        return -1;
    if (memchr(*line, '\0', (size_t)got)) {
        /* the message would end at the NUL without a word: refuse it, go on */
        fprintf(stderr, "loco chat: this message holds a NUL byte; send text only\n");
        return -2;
    }
    size_t n = (size_t)got;
    while (n && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
        (*line)[--n] = '\0';
    return (*line)[strspn(*line, " \t")] ? 1 : 0;
}
