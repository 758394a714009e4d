/*
 * cli-engine.h - the options that ask, chat, route, eval and router share
 * (model, threads, context, conversation, sampling: option-table rows for
 * cli/opt.h) and loading a model + context from them.
 */
#ifndef LOCO_CLI_ENGINE_H
#define LOCO_CLI_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "loco/generate.h"
#include "loco/lora.h"
#include "loco/model.h"
#include "opt.h"

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
/* Option table rows (cli/opt.h) for the shared flags of `struct
 * cli_engine_opts *o`, in three groups, so a command lists only what it
 * uses: the model and its context (route, eval load a model too), the
 * conversation (ask, chat), and sampling (only commands that sample). */
#define CLI_ENGINE_MODEL_OPTIONS(o)                                                                \
    CLI_OPT_GROUP("model and engine:"),                                                            \
        CLI_OPT_STRING(0, "model", &(o)->model, "NAME|PATH",                                       \
                       "a GGUF file, or a name from `loco models list` (default: default)"),       \
        CLI_OPT_INT(0, "threads", &(o)->threads, "N", 1, 512,                                      \
                    "CPU threads (default: all available)"),                                       \
        CLI_OPT_INT(0, "ctx", &(o)->n_ctx, "N", 16, 1 << 20,                                       \
                    "context length in tokens (default: 2048)")
#define CLI_ENGINE_CHAT_OPTIONS(o)                                                                 \
    CLI_OPT_STRING(0, "chat-template", &(o)->chat_template, "NAME",                                \
                   "chatml, gemma, llama3 or phi3 (default: from the model)"),                     \
        CLI_OPT_STRING(0, "system", &(o)->system, "TEXT",                                          \
                       "system prompt (default: the model's own, if any)"),                        \
        CLI_OPT_STRING(0, "adapter", &(o)->adapters, "NAME[:S],...",                               \
                       "LoRA adapters to apply, each with a scale S (default 1);\n"                \
                       "NAME is a file or a name in `loco adapters` folders")
#define CLI_ENGINE_SAMPLING_OPTIONS(o)                                                             \
    CLI_OPT_GROUP("sampling:"),                                                                    \
        CLI_OPT_INT(0, "max-tokens", &(o)->gen.max_tokens, "N", 1, 1 << 20,                        \
                    "stop after N tokens (default: 256)"),                                         \
        CLI_OPT_FLOAT(0, "temperature", &(o)->gen.sampling.temperature, "T", 0, 100,               \
                      "0 = greedy (default: 0.2)"),                                                \
        CLI_OPT_INT(0, "top-k", &(o)->gen.sampling.top_k, "N", 0, 1 << 24,                         \
                    "keep the N most likely tokens (default: 40, 0 = off)"),                       \
        CLI_OPT_FLOAT(0, "top-p", &(o)->gen.sampling.top_p, "P", 0, 1,                             \
                      "nucleus sampling (default: 0.9, 1 = off)"),                                 \
        CLI_OPT_FLOAT(0, "min-p", &(o)->gen.sampling.min_p, "P", 0, 1,                             \
                      "drop tokens below P x the top probability (default: 0.05)"),                \
        CLI_OPT_FLOAT(0, "repeat-penalty", &(o)->gen.sampling.repeat_penalty, "R", 0.01, 100,      \
                      "penalize recent tokens (default: 1.1, 1 = off)"),                           \
        CLI_OPT_U64(0, "seed", &(o)->gen.sampling.seed, "S", "make sampling repeatable")

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
/* The adapter NAME (a name or a path), loaded once per session and kept
 * in e->loaded (freed by cli_engine_close); no sequence's set changes.
 * Prints the error and returns NULL on failure. */
struct loco_adapter *cli_engine_load_adapter(struct cli_engine *e, const char *name);
/* "math, code x0.50" or "base model" into buf. */
const char *cli_engine_set_label(const struct cli_engine *e, char *buf, size_t cap);

/* A set as "NAME[:scale]" joined by sep ("," for the log, "+" for loco
 * serve's model names); "" for none. Into buf, returned. */
const char *cli_adapter_spec(const struct loco_adapter_ref *set, int n, const char *sep, char *buf,
                             size_t cap);

/* Number of CPUs this process may use. */
int cli_default_threads(void);

#endif
