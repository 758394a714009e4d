/*
 * commands.h - the `loco` command table.
 *
 * Each command is one file cli/cmd-<name>.c exporting `int cmd_<name>(int
 * argc, char **argv)` (argv[0] is the command name) and returning the process
 * exit status. Adding a command = one file + one row in cli/main.c.
 */
#ifndef LOCO_CLI_COMMANDS_H
#define LOCO_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "opt.h"

int cmd_ask(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_adapters(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_leaderboard(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_router(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_feedback(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

/* ---- helpers shared by commands (cli/cli-util.c) ---------------------- */

/* Print "loco <command>: <message>" to stderr (the one prefix style; the
 * command is cli_opt_command()). */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "loco <command>: <what>: <the library's last error>" to stderr;
 * returns 1. */
int cli_fail(const char *what);

/* One chat message from stdin (a "> " prompt first when tty) into *line
 * (getline's buffer), line ending removed: 1 a message, 0 a blank line, -1
 * the end of input, -2 a line holding a NUL byte (refused on stderr). */
int cli_chat_read(char **line, size_t *cap, bool tty);

struct loco_registry;
/* The registry: `file` alone when given (--registry FILE: no user overlay),
 * else the project registry with the user overlay. Prints why and returns
 * NULL on failure. */
struct loco_registry *cli_registry_load(const char *file);
/* The registry parameters for --registry FILE (that file alone, no user
 * overlay), or the defaults when file is NULL. */
struct loco_registry_params cli_registry_params(const char *file);
/* The --registry option row (cli/opt.h): one meaning in every command that
 * reads the registry, as cli_registry_load takes it. */
#define CLI_REGISTRY_OPTION(dest)                                                                  \
    CLI_OPT_STRING(0, "registry", dest, "FILE",                                                    \
                   "read this registry file alone, without the user overlay\n"                     \
                   "(default: the project's adapters/registry.yaml + your overlay)")

#endif
