/*
 * cmd-adapters-install.h - `loco adapters install SOURCE`, a subcommand of
 * `loco adapters` (cli/cmd-adapters.c holds its row in the table).
 */
#ifndef LOCO_CLI_CMD_ADAPTERS_INSTALL_H
#define LOCO_CLI_CMD_ADAPTERS_INSTALL_H

/* argv[0] is "install" (the subcommand table passes it so); returns the
 * exit status. */
int adapters_sub_install(int argc, char **argv);

#endif
