/*
 * cmd-eval-swarm.h - `loco eval --swarm` (cmd-eval-swarm.c).
 */
#ifndef LOCO_CMD_EVAL_SWARM_H
#define LOCO_CMD_EVAL_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli-engine.h"
#include "loco/eval.h"
#include "loco/router.h"

struct eval_swarm_opts {
    const char *const *benches; /* none: each domain's primary benchmark that scores itself */
    size_t n_bench;
    const char *const *routers; /* none: keyword and classifier */
    size_t n_routers;
    uint64_t seed;              /* the random policy */
    enum loco_serve_mode serve; /* --serve-candidates: LOCO_SERVE_CANDIDATES */
    bool contam;                /* false with --no-contam */
    const char *out_path;       /* the JSON record, with the Markdown report beside it */
    const char *registry;       /* --registry FILE (that file alone), or NULL */
};

/* Score the routed system (loco/swarm.h) with the serving rule, print the
 * Markdown table and, with out_path, write the record and its report.
 * Returns the command's exit status. */
int eval_swarm(struct cli_engine *e, const struct loco_eval_params *p,
               const struct eval_swarm_opts *o);

#endif
