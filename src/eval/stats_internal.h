/*
 * stats_internal.h - the resampling helpers of stats.c, shared with the
 * other statistics of src/eval (the swarm's stratified bootstrap), so that
 * every interval the project reports reads quantiles one way (draws come
 * from core/rng.h's loco_rng_below).
 */
#ifndef LOCO_EVAL_STATS_INTERNAL_H
#define LOCO_EVAL_STATS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* qsort comparator for doubles, ascending. */
int loco_stats_cmp_double(const void *a, const void *b);
/* Type 7 quantile (numpy's default) of sorted v[n], n > 0. */
double loco_stats_quantile_sorted(const double *v, size_t n, double q);

#endif
