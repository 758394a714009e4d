/*
 * cli-remote.h - `loco ask --engine URL` and `loco chat --engine URL`:
 * routing, the strategy's prompt, the label and the exchange log stay
 * here; the answer is generated on another engine (loco/remote.h,
 * docs/scale-out.md).
 *
 * The local model is loaded only when the router reads it (the
 * classifier and arrow routers read the base model's hidden states); when
 * it cannot be loaded, routing falls back to the keyword router as it does
 * without --engine. Forced adapters (--adapter) need not exist locally:
 * the engine is asked for them by name. Strategies that decode here (calc,
 * sc:K, usc:K, ensemble) are refused when named, and a domain default
 * among them answers plain (or re2) with a note.
 */
#ifndef LOCO_CLI_REMOTE_H
#define LOCO_CLI_REMOTE_H

#include <stdbool.h>

#include "cli-engine.h"
#include "opt.h"

struct cli_remote_opts {
    const char *url;  /* --engine URL; NULL: generate locally */
    const char *kind; /* --engine-kind; NULL: auto */
    const char *key;  /* --engine-key; NULL: $LOCO_ENGINE_KEY */
};

#define CLI_REMOTE_OPTIONS(o)                                                                      \
    CLI_OPT_GROUP("remote engine (docs/scale-out.md):"),                                           \
        CLI_OPT_STRING(0, "engine", &(o)->url, "URL",                                              \
                       "generate on this OpenAI-compatible engine (vLLM,\n"                        \
                       "llama-server, loco serve); routing, the strategy's\n"                      \
                       "prompt, the label and the log stay here"),                                 \
        CLI_OPT_STRING(0, "engine-kind", &(o)->kind, "K",                                          \
                       "auto, openai, vllm, llama-server or loco (default: auto)"),                \
        CLI_OPT_STRING(0, "engine-key", &(o)->key, "KEY",                                          \
                       "API key sent as Bearer (default: $LOCO_ENGINE_KEY)")

/* What ask and chat hand over: their parsed flags. */
struct cli_remote_args {
    const struct cli_remote_opts *remote;
    const struct cli_engine_opts *engine; /* model (for the router), system, adapters, gen */
    const char *question;                 /* ask: the question; chat: NULL */
    bool route;                           /* not --no-route */
    bool json, raw, no_log, serve_candidates;
    const char *router, *registry, *strategy, *below;
    double min_share; /* -1: not given */
};

/* `loco ask --engine`: one question, the label on stderr, the answer
 * streamed (or --json). Returns the exit status. */
int cli_remote_ask(const struct cli_remote_args *a);
/* `loco chat --engine`: the conversation on stdin, each message routed
 * unless adapters are forced; /reset, /adapter, /strategy, /quit. Returns
 * the exit status. */
int cli_remote_chat(const struct cli_remote_args *a);

#endif
