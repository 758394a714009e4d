/*
 * loco/bench.h - machine measurements that benchmarks and `loco bench` print.
 *
 * Token generation on a CPU is bound by memory bandwidth: every generated
 * token reads all the weights once. The STREAM-style triad below measures
 * that bandwidth, so a benchmark can print the roofline
 * (bandwidth / weight bytes = best possible tokens per second) next to what
 * the engine achieves.
 */
#ifndef LOCO_BENCH_H
#define LOCO_BENCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory bandwidth --------------------------------------------------- */

/* STREAM triad a[i] = b[i] + s*c[i] over three arrays of bytes_per_array
 * bytes each (use several times the last-level cache, e.g. 64 MiB), with
 * n_threads threads (a loco_pool); the best of `reps` runs, in GB/s (1e9 bytes per
 * second, counting 3 arrays moved per run as STREAM does). Allocates and
 * frees its arrays. Returns a negative loco_status (LOCO_ERR_NOMEM,
 * LOCO_ERR_INVALID) on failure, with the message set. */
double loco_bench_stream_triad_gbs(size_t bytes_per_array, int n_threads, int reps);

#ifdef __cplusplus
}
#endif
#endif
