/*
 * stream.c - STREAM-style memory bandwidth probe (see loco/bench.h).
 *
 * It lives in the quant module because the kernels here are what that
 * bandwidth limits: a matmul over n_tok = 1 streams every weight byte once,
 * so bandwidth / weight bytes bounds tokens per second.
 *
 * The arrays are split in one chunk per thread of a loco_pool (the engine's
 * threads, as the matmuls use them); the first touch uses the same split,
 * so pages tend to land near the thread that later streams them.
 */
#include "loco/bench.h"

#include "loco/core.h"
#include "loco/pool.h"

#include <stdlib.h>
#include <time.h>

static volatile double stream_sink; /* keeps the compiler from dropping the triad */

struct triad {
    double *a, *b, *c;
};

static void fill_part(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct triad *t = arg;
    for (int64_t i = i0; i < i1; i++) {
        t->a[i] = 0.0;
        t->b[i] = 1.0;
        t->c[i] = 2.0;
    }
}

static void triad_part(void *arg, int64_t i0, int64_t i1, int32_t thread)
{
    const struct triad *t = arg;
    const double s = 3.0;
    for (int64_t i = i0; i < i1; i++)
        t->a[i] = t->b[i] + s * t->c[i];
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double triad_once(struct loco_pool *pool, struct triad *t, size_t n)
{
    double t0 = seconds();
    loco_pool_for(pool, (int64_t)n, 0, triad_part, t);
    return seconds() - t0;
}

double loco_bench_stream_triad_gbs(size_t bytes_per_array, int n_threads, int reps)
{
    const size_t n = bytes_per_array / sizeof(double);
    if (n == 0 || n_threads < 1 || n_threads > LOCO_POOL_MAX_THREADS || reps < 1)
        return loco_error_set(LOCO_ERR_INVALID,
                              "stream: need bytes_per_array >= 8, n_threads 1..1024, reps >= 1");
    const size_t bytes = (n * sizeof(double) + 63) / 64 * 64;
    double *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes);
    double *c = aligned_alloc(64, bytes);
    struct loco_pool *pool = loco_pool_init(n_threads);
    if (!a || !b || !c || !pool) {
        free(a);
        free(b);
        free(c);
        loco_pool_free(pool);
        return loco_error_set(LOCO_ERR_NOMEM,
                              "stream: cannot allocate 3 x %zu bytes and %d "
                              "threads",
                              bytes, n_threads);
    }
    struct triad t = {a, b, c};
    loco_pool_for(pool, (int64_t)n, 0, fill_part, &t);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double s = triad_once(pool, &t, n);
        best = s < best ? s : best;
    }
    stream_sink = a[0] + a[n / 2] + a[n - 1];
    loco_pool_free(pool);
    free(a);
    free(b);
    free(c);
    return 3.0 * (double)(n * sizeof(double)) / best / 1e9;
}
