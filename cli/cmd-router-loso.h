/*
 * cmd-router-loso.h - `loco router loso` and the feature flags `loco router
 * train` shares with it (cmd-router-loso.c).
 */
#ifndef LOCO_CMD_ROUTER_LOSO_H
#define LOCO_CMD_ROUTER_LOSO_H

#include "loco/router.h"

/* `loco router loso ...` (argv[1] is "loso"). */
int cmd_router_loso(int argc, char **argv);
/* --layers, --tokens, --hash-dim, --lex-scale, --keywords, --l2, --epochs, --lr at
 * argv[*i]:
 * 1 taken (i advanced past its value), 0 not one of them, -1 a bad value
 * (said on stderr). */
int cmd_router_features_flag(struct loco_route_features *f, struct loco_classifier_params *cp,
                             int argc, char **argv, int *i);

#endif
