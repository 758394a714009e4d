/*
 * cmd-router-loso.h - `loco router loso` and the feature flags `loco router
 * train` shares with it (cmd-router-loso.c).
 */
#ifndef LOCO_CMD_ROUTER_LOSO_H
#define LOCO_CMD_ROUTER_LOSO_H

#include <stdbool.h>

#include "loco/router.h"
#include "opt.h"

/* `loco router loso ...` (argv[0] is "loso"). */
int cmd_router_loso(int argc, char **argv);

/* The feature and fit options `train` and `loso` share, as option rows
 * (cli/opt.h) for features f and fit cp; --layers and --tokens arrive as
 * text in *layers and *tokens, applied by cmd_router_features_finish. */
#define ROUTER_FEATURE_OPTIONS(f, cp, layers, tokens)                                              \
    CLI_OPT_STRING(0, "layers", layers, "L1,L2",                                                   \
                   "hidden states after these many layers (default none)"),                        \
        CLI_OPT_STRING(0, "tokens", tokens, "H,T",                                                 \
                       "read the query's first H and last T tokens (default 24,8)"),               \
        CLI_OPT_INT(0, "hash-dim", &(f)->hash_dim, "N", 0, 1 << 20,                                \
                    "hashed lexical buckets (default 16384; 0: none)"),                            \
        CLI_OPT_DOUBLE(0, "lex-scale", &(f)->lex_scale, "X", 0, 1e3,                               \
                       "length of the lexical part (default 6)"),                                  \
        CLI_OPT_FLAG(0, "lex-lead", &(f)->lex_lead,                                                \
                     "lexical features from the instruction lines only, not a pasted text"),     \
        CLI_OPT_DOUBLE(0, "keywords", &(f)->kw_scale, "X", 0, 1e3,                                 \
                       "weight of the keyword router's view (default 2; 0: none)"),                \
        CLI_OPT_DOUBLE(0, "l2", &(cp)->l2, "X", 0, 1e6, "weight penalty (default 1e-3)"),          \
        CLI_OPT_INT(0, "epochs", &(cp)->epochs, "N", 1, 100000,                                    \
                    "passes over the data (default 20)"),                                          \
        CLI_OPT_DOUBLE(0, "lr", &(cp)->lr, "X", 1e-6, 10, "Adam step size (default 0.01)")
/* Apply --layers and --tokens (NULL: not given) to f; false after saying
 * why on stderr. */
bool cmd_router_features_finish(struct loco_route_features *f, const char *layers,
                                const char *tokens);

#endif
