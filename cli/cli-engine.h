/*
 * cli-engine.h - the flags that ask, chat and bench share (model, threads,
 * context, sampling) and loading a model + context from them.
 */
#ifndef LOCO_CLI_ENGINE_H
#define LOCO_CLI_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/model.h"

struct cli_engine_opts {
    const char *model;         /* path or known name; "default" when not given */
    const char *chat_template; /* override, or NULL */
    const char *system;        /* system prompt, or NULL */
    const char *adapters;      /* "NAME[:scale],..." or NULL for the base model */
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

#define CLI_MAX_LOADED 16

struct cli_engine {
    struct loco_model *model;
    struct loco_context *ctx;
    char path[4096];
    /* adapters loaded so far (kept, so switching back is a pointer change) */
    struct loco_adapter *loaded[CLI_MAX_LOADED];
    int n_loaded;
    /* the set sequence 0 uses now */
    struct loco_adapter_ref set[LOCO_MAX_SET_ADAPTERS];
    int n_set;
};

/* Resolve and load the model, make a one-sequence context. Prints the error
 * and returns false on failure. */
bool cli_engine_open(struct cli_engine *e, const struct cli_engine_opts *o);
void cli_engine_close(struct cli_engine *e);

/* Use the adapters of `spec` ("NAME[:scale],...", "" or "none" for the base
 * model) on sequence 0, loading those not loaded yet. Prints the error and
 * returns false on failure (the previous set stays). */
bool cli_engine_use_adapters(struct cli_engine *e, const char *spec);
/* "math, code x0.50" or "base model" into buf. */
const char *cli_engine_set_label(const struct cli_engine *e, char *buf, size_t cap);

/* Number of CPUs this process may use. */
int cli_default_threads(void);

#endif
