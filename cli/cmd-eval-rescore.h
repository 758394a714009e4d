/*
 * cmd-eval-rescore.h - `loco eval --rescore RECORD` (cmd-eval-rescore.c).
 */
#ifndef LOCO_CMD_EVAL_RESCORE_H
#define LOCO_CMD_EVAL_RESCORE_H

#include <stdbool.h>
#include <stddef.h>

#include "loco/eval.h"

/* Score the record at `path` again (loco_eval_record_rescore), print what
 * changed per benchmark (with `verbose` every changed item) and, unless
 * `dry_run`, rewrite the record and its .md/.html reports. `files`: custom
 * FILE.jsonl benchmarks the record names. Returns the exit status. */
int eval_rescore(const char *path, const struct loco_eval_params *p, const char *const *files,
                 size_t n_files, bool dry_run, bool verbose);

#endif
