/*
 * cmd-adapters-pack.h - `loco adapters pack` and `loco adapters verify`
 * (cli/cmd-adapters-pack.c), rows of cmd-adapters.c's subcommand table.
 */
#ifndef LOCO_CLI_CMD_ADAPTERS_PACK_H
#define LOCO_CLI_CMD_ADAPTERS_PACK_H

/* argv[0] is the subcommand's name; each returns the exit status. */
int cli_adapters_pack(int argc, char **argv);
int cli_adapters_verify(int argc, char **argv);

#endif
