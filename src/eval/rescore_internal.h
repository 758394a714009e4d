/*
 * rescore_internal.h - what rescore.c needs from scoring.c: the stored answers
 * of one benchmark scored again by the scorers a run uses, and the
 * statistics and gate a run computes. Private to src/eval.
 */
#ifndef LOCO_EVAL_RESCORE_INTERNAL_H
#define LOCO_EVAL_RESCORE_INTERNAL_H

#include <cjson/cJSON.h>

#include "loco/eval.h"

/* Score the answers `b` holds again with the current scorers, then compute
 * its statistics and gate exactly as loco_eval_bench_run does.
 *
 * `bench` names the benchmark as loco_eval_bench_run takes it (a built-in
 * name or a custom FILE.jsonl); its items are read (every one, from
 * p->shared_dir for the built-ins) and matched to b's by id: an id the
 * benchmark lacks is LOCO_ERR_NOT_FOUND. `b` comes filled from a record:
 * name, in_domain, n and items (id, outputs, with samples > 1 every
 * sample's output, scores, details, contamination and unrated flags),
 * samples and decontaminated. Scored again: every answer that was generated
 * (an item whose detail starts "not generated" keeps its 0). Judged
 * benchmarks are not judged again: their stored scores stand and only the
 * statistics are recomputed (b->judged set: the items are not read).
 * Sets b->binary from the benchmark's kind. */
int eval_bench_rescore(const char *bench, const struct loco_eval_params *p,
                       struct loco_eval_bench *b);

/* A stored record's statistics settings (alpha, the non-inferiority margin,
 * bootstrap resamples; `r` its parsed JSON) over those in *stats, so that
 * the record's own figures come back (rescore.c, pair.c). */
void eval_record_stats(const cJSON *r, struct loco_stats_params *stats);

#endif
