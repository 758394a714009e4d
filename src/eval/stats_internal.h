/*
 * stats_internal.h - the resampling helpers of stats.c, shared with the
 * other statistics of src/eval (the swarm's stratified bootstrap), so that
 * every interval the project reports draws and reads quantiles one way.
 */
#ifndef LOCO_EVAL_STATS_INTERNAL_H
#define LOCO_EVAL_STATS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64 (Steele, Lea & Flood 2014): the next value of *state. */
uint64_t loco_stats_splitmix64(uint64_t *state);
/* Uniform index in [0, n), n > 0, without modulo bias. */
size_t loco_stats_draw_index(uint64_t *state, size_t n);
/* qsort comparator for doubles, ascending. */
int loco_stats_cmp_double(const void *a, const void *b);
/* Type 7 quantile (numpy's default) of sorted v[n], n > 0. */
double loco_stats_quantile_sorted(const double *v, size_t n, double q);

#endif
