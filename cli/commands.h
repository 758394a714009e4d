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

/* ---- helpers shared by commands (cli/cli-util.c) ---------------------- */

/* Print "loco: <msg>" plus the library's last error to stderr; returns 1. */
int cli_fail(const char *what);

struct loco_registry;
/* The registry: `file` alone when given (--registry FILE: no user overlay),
 * else the project registry with the user overlay. Prints why and returns
 * NULL on failure. */
struct loco_registry *cli_registry_load(const char *file);
/* True when argv[*i] is `name` and a value follows; advances *i and stores it. */
bool cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* Parse integer/float option values; print an error naming the flag on failure. */
bool cli_parse_int(const char *flag, const char *s, long min, long max, long *out);
bool cli_parse_float(const char *flag, const char *s, double min, double max, double *out);
bool cli_parse_u64(const char *flag, const char *s, uint64_t *out);
/* True for -h / --help. */
bool cli_is_help(const char *arg);

#endif
