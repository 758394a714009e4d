/*
 * cli-engine.h - the flags that ask, chat and bench share (model, threads,
 * context, sampling) and loading a model + context from them.
 */
#ifndef LOCO_CLI_ENGINE_H
#define LOCO_CLI_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "loco/generate.h"
#include "loco/model.h"

struct cli_engine_opts {
    const char *model;         /* path or known name; "default" when not given */
    const char *chat_template; /* override, or NULL */
    const char *system;        /* system prompt, or NULL */
    int threads;
    int n_ctx;
    struct loco_generate_params gen;
};

void cli_engine_defaults(struct cli_engine_opts *o);
/* If argv[*i] is one of the shared flags, consume it (and its value) and
 * return 1; return 0 if it is not; -1 on a bad value (message printed). */
int cli_engine_flag(struct cli_engine_opts *o, int argc, char **argv, int *i);
/* Help text for the shared flags. */
void cli_engine_help(FILE *out);

struct cli_engine {
    struct loco_model *model;
    struct loco_context *ctx;
    char path[4096];
};

/* Resolve and load the model, make a one-sequence context. Prints the error
 * and returns false on failure. */
bool cli_engine_open(struct cli_engine *e, const struct cli_engine_opts *o);
void cli_engine_close(struct cli_engine *e);

/* Number of CPUs this process may use. */
int cli_default_threads(void);

#endif
