/*
 * cmd-eval-pair.h - `loco eval --pair A.json:SIDE B.json:SIDE`
 * (cmd-eval-pair.c).
 */
#ifndef LOCO_CMD_EVAL_PAIR_H
#define LOCO_CMD_EVAL_PAIR_H

#include <stdbool.h>

#include "loco/stats.h"

/* Pair side SIDE (base or adapter) of the record in `first` with that of
 * `second` ("PATH:SIDE" each) on `bench` (NULL: the first record's only
 * benchmark) by loco_eval_pair, and print the comparison (`json`: as one
 * object). Returns the exit status: 0, 1 an error, 2 a bad argument. */
int eval_pair(const char *first, const char *second, const char *bench,
              const struct loco_stats_params *stats, bool json);

#endif
