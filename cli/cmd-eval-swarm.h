/*
 * cmd-eval-swarm.h - `loco eval --swarm` (cmd-eval-swarm.c).
 */
#ifndef LOCO_CMD_EVAL_SWARM_H
#define LOCO_CMD_EVAL_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "cli-engine.h"
#include "loco/eval.h"

/* Score the routed system over the benchmarks (none given: each domain's
 * primary benchmark that scores itself) under oracle routing, each router,
 * the base model alone and random routing; print the table and, with
 * out_path, write the record. Returns the command's exit status. */
int eval_swarm(struct cli_engine *e, struct loco_eval_params *p, const char *const *benches,
               size_t n_bench, const char *const *routers, size_t n_routers, uint64_t seed,
               const char *out_path);

#endif
